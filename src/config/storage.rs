//! `storage`: the write-ahead log, the object-storage backend that holds
//! blocks, how storage operations are retried, and the block format's knobs.
//! Keys follow Tempo's `storage.trace` section where Tempo has one.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::HumanDuration;
use super::sections::string_enum;

/// What [`Config::to_yaml_redacted`](super::Config::to_yaml_redacted) prints
/// in place of a secret that is set.
pub const REDACTED: &str = "<redacted>";

/// `storage` (Tempo's section).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Trace storage.
    pub trace: TraceStorageConfig,
}

string_enum! {
    /// Where blocks are kept (Tempo's `storage.trace.backend`).
    #[derive(Default)]
    pub enum StorageBackend ("storage backend") {
        /// A directory of the local file system (the default).
        #[default]
        Local = "local",
        /// Amazon S3 or an S3-compatible server (MinIO, Ceph, moto, …).
        S3 = "s3",
        /// Google Cloud Storage.
        Gcs = "gcs",
        /// Azure Blob Storage.
        Azure = "azure",
        /// Process memory, lost on exit: for tests.
        Memory = "memory",
    }
}

/// `storage.trace` (Tempo's section).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceStorageConfig {
    /// Where blocks are kept: `local`, `s3`, `gcs`, `azure` or `memory`
    /// (Tempo's key). Default `local`. Only the chosen backend's section is used.
    pub backend: StorageBackend,
    /// The write-ahead log.
    pub wal: WalConfig,
    /// The `local` backend.
    pub local: LocalStorageConfig,
    /// The `s3` backend.
    pub s3: S3StorageConfig,
    /// The `gcs` backend.
    pub gcs: GcsStorageConfig,
    /// The `azure` backend.
    pub azure: AzureStorageConfig,
    /// Retries of failed storage operations (spanlake's section).
    pub retry: StorageRetryConfig,
    /// The block format.
    pub block: BlockConfig,
}

/// `storage.trace.wal`: the write-ahead log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WalConfig {
    /// Directory of the log (Tempo's key). Default `./data/wal`.
    pub path: PathBuf,
    /// Size at which a segment file is rolled. Default `67108864` (64 MiB).
    pub segment_bytes: u64,
    /// Extra time to wait gathering more requests into one fsync; at most
    /// `100ms`. Default `0s` (sync as soon as the previous sync is done).
    pub group_commit_max_wait: HumanDuration,
    /// Bytes after which a group commit syncs without waiting longer.
    /// Default `16777216` (16 MiB).
    pub group_commit_max_bytes: u64,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("./data/wal"),
            segment_bytes: 64 * 1024 * 1024,
            group_commit_max_wait: HumanDuration::ZERO,
            group_commit_max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// `storage.trace.local`: blocks in a local directory (Tempo's keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalStorageConfig {
    /// Directory of the blocks, created if missing. Default `./data/blocks`.
    pub path: PathBuf,
}

impl Default for LocalStorageConfig {
    fn default() -> Self {
        Self { path: PathBuf::from("./data/blocks") }
    }
}

/// `storage.trace.s3`: blocks in an S3 bucket (Tempo's keys). Empty
/// credentials fall back to the usual AWS sources (`AWS_*` variables, web
/// identity, instance metadata).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3StorageConfig {
    /// The bucket; required with `backend: s3`. It must exist.
    pub bucket: String,
    /// `host[:port]` of the S3 API (Tempo writes no scheme: `https://`, or
    /// `http://` when `insecure`), or a full URL. Default `""`: AWS's endpoint
    /// for `region`.
    pub endpoint: String,
    /// The bucket's region. Default `""`, meaning `us-east-1`.
    pub region: String,
    /// Access key id. Default `""` (see the section's note on credentials).
    pub access_key: String,
    /// Secret access key; printed as `<redacted>`. Default `""`.
    pub secret_key: String,
    /// Session token of temporary credentials; printed as `<redacted>`. Default `""`.
    pub session_token: String,
    /// Speak plain HTTP rather than HTTPS. Default `false`.
    pub insecure: bool,
    /// Always send path-style requests (`endpoint/bucket/key`). Without it,
    /// requests to AWS's own endpoints are virtual-hosted (`bucket.endpoint/key`)
    /// and other endpoints (MinIO, an IP address, …) still get path-style
    /// ones, as with Tempo's client. Default `false`.
    pub forcepathstyle: bool,
    /// Key prefix under which everything is stored. Default `""`.
    pub prefix: String,
}

/// `storage.trace.gcs`: blocks in a Google Cloud Storage bucket (Tempo's keys,
/// plus `service_account_path`). Without a service account file the usual
/// Google credentials are used (`GOOGLE_APPLICATION_CREDENTIALS`, metadata server).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GcsStorageConfig {
    /// The bucket; required with `backend: gcs`. It must exist.
    pub bucket_name: String,
    /// Key prefix under which everything is stored. Default `""`.
    pub prefix: String,
    /// Base URL of the GCS API (an emulator, say). Default `""`: Google's.
    pub endpoint: String,
    /// Service-account JSON key file (spanlake's key). Default `""`.
    pub service_account_path: String,
    /// Allow plain HTTP to `endpoint`. Default `false`.
    pub insecure: bool,
}

/// `storage.trace.azure`: blocks in an Azure Blob Storage container (Tempo's
/// names for the container and account; `endpoint` and `use_emulator` are
/// spanlake's). Without an account key the usual Azure credentials are used
/// (`AZURE_*` variables, managed identity).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureStorageConfig {
    /// The container; required with `backend: azure`. It must exist.
    pub container_name: String,
    /// The storage account; required with `backend: azure` unless `use_emulator`.
    pub storage_account_name: String,
    /// The account's shared key; printed as `<redacted>`. Default `""`.
    pub storage_account_key: String,
    /// Blob endpoint URL. Default `""`: `https://<account>.blob.core.windows.net`.
    pub endpoint: String,
    /// Key prefix under which everything is stored. Default `""`.
    pub prefix: String,
    /// Talk to a local Azurite emulator with its well-known account. Default `false`.
    pub use_emulator: bool,
}

/// `storage.trace.retry`: how failed storage operations are retried
/// (spanlake's section). Transient failures (5xx, throttling, timeouts, lost
/// connections, local I/O errors) are retried with exponential backoff and
/// jitter; permanent ones (missing bucket, bad credentials, refused
/// preconditions) are reported at once. The HTTP client of `s3`, `gcs` and
/// `azure` retries each request by the same rules before spanlake retries the
/// whole operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageRetryConfig {
    /// Retries after the first attempt; `0` disables retrying. Default `5`.
    pub max_retries: u32,
    /// Delay before the first retry; each later one doubles, up to
    /// `backoff_max`, minus up to half as jitter. Default `100ms`.
    pub backoff_initial: HumanDuration,
    /// Longest delay between retries; at least `backoff_initial`. Default `5s`.
    pub backoff_max: HumanDuration,
    /// Time budget of one operation: each HTTP request must finish within it,
    /// and no retry starts once it has passed. Default `30s`.
    pub timeout: HumanDuration,
}

impl Default for StorageRetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 5,
            backoff_initial: HumanDuration::from_millis(100),
            backoff_max: HumanDuration::from_secs(5),
            timeout: HumanDuration::from_secs(30),
        }
    }
}

/// `storage.trace.block`: the block format (Tempo's bloom keys, spanlake's
/// Parquet layout keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockConfig {
    /// False-positive rate of each block's trace-id bloom filter, in
    /// `(0, 0.5]` (Tempo's key). Default `0.01`.
    pub bloom_filter_false_positive: f64,
    /// Size of one bloom-filter shard (Tempo's key). Default `102400` (100 KiB).
    pub bloom_filter_shard_size_bytes: u64,
    /// Spans per Parquet row group. Default `65536`.
    pub row_group_spans: u64,
    /// Spans per Parquet data page, the granularity of the trace-id index; at
    /// most `row_group_spans`. Default `1024`.
    pub page_rows: u64,
}

impl Default for BlockConfig {
    fn default() -> Self {
        Self {
            bloom_filter_false_positive: 0.01,
            bloom_filter_shard_size_bytes: 100 * 1024,
            row_group_spans: 65_536,
            page_rows: 1024,
        }
    }
}

impl TraceStorageConfig {
    /// Replaces every secret that is set with [`REDACTED`].
    pub(super) fn redact_secrets(&mut self) {
        for secret in [
            &mut self.s3.secret_key,
            &mut self.s3.session_token,
            &mut self.azure.storage_account_key,
        ] {
            if !secret.is_empty() {
                REDACTED.clone_into(secret);
            }
        }
    }
}
