//! The object store that holds blocks: the backend chosen by
//! `storage.trace.backend`, how its failures are classified ([`StorageError`]),
//! and how operations are retried ([`with_retries`]). The keys of a block are
//! laid out by `storage::block`.
//!
//! ```text
//! TraceStorageConfig ─► open_object_store ─► Arc<dyn ObjectStore>
//!                                             local:  LocalFileSystem (fsync on) under local.path
//!                                             s3/gcs/azure: HTTP client, retries + timeout from retry
//!                                             memory: InMemory (tests)
//!                                             (a non-empty `prefix` wraps it in a PrefixStore)
//! callers ─► with_retries(policy, metrics, "put", path, || store.put(..)) ─► Result<_, StorageError>
//! ```
//!
//! # Guarantees the callers rely on
//! - **Puts are atomic on every backend.** S3, GCS and Azure publish an object whole
//!   or not at all. The local backend writes to a staging file next to the target
//!   (`<name>#<n>`), fsyncs it, renames it over the target and fsyncs the
//!   directory (`with_fsync(true)`): a reader sees the old or the new object,
//!   never a part, and a successful put survives a power cut. A crash mid-put
//!   leaves a staging file that listings skip.
//! - **Listings are consistent with writes**: a listing started after a put (or
//!   delete) returned sees it, on S3 (strongly consistent since 2020), GCS, Azure
//!   and the local file system. A listing is not a snapshot: objects put while it
//!   runs may or may not appear.
//! - **Deleting a missing object** succeeds on S3, GCS, Azure and memory but is
//!   [`StorageErrorKind::NotFound`] on the local backend.
//! - **A missing bucket** is a [`StorageErrorKind::Permanent`] error naming it, for
//!   every operation whose response has a body (put, get, list). A `head` has no
//!   body, so there it looks like a missing object: call [`verify_access`] at start.

mod error;
mod retry;

use std::path::Path as FsPath;
use std::sync::Arc;

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ClientOptions, ObjectStore};

pub use error::{StorageError, StorageErrorKind};
pub use retry::{RetryPolicy, with_retries};

use crate::actors::metrics::NodeMetrics;
use crate::config::{
    AzureStorageConfig, GcsStorageConfig, S3StorageConfig, StorageBackend, TraceStorageConfig,
};

/// Builds the configured backend. `local` creates its directory; `memory` is
/// empty and private to the returned handle (for tests). Nothing is sent over
/// the network: use [`verify_access`] to check the bucket.
pub fn open_object_store(
    config: &TraceStorageConfig,
) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let policy = RetryPolicy::from(&config.retry);
    match config.backend {
        StorageBackend::Local => open_local(&config.local.path),
        StorageBackend::Memory => Ok(Arc::new(InMemory::new())),
        StorageBackend::S3 => {
            let store = build_s3(&config.s3, &policy)
                .build()
                .map_err(|e| invalid_backend("s3", &config.s3.bucket, e))?;
            Ok(with_prefix(store, &config.s3.prefix))
        }
        StorageBackend::Gcs => {
            let store = build_gcs(&config.gcs, &policy)
                .build()
                .map_err(|e| invalid_backend("gcs", &config.gcs.bucket_name, e))?;
            Ok(with_prefix(store, &config.gcs.prefix))
        }
        StorageBackend::Azure => {
            let store = build_azure(&config.azure, &policy)
                .build()
                .map_err(|e| invalid_backend("azure", &config.azure.container_name, e))?;
            Ok(with_prefix(store, &config.azure.prefix))
        }
    }
}

/// Checks that the store answers and the bucket exists by listing (at most a
/// page of) its root, with retries. A missing bucket or bad credentials give a
/// [`StorageErrorKind::Permanent`] error that says so.
pub async fn verify_access(
    store: &dyn ObjectStore,
    policy: &RetryPolicy,
    metrics: Option<&NodeMetrics>,
) -> Result<(), StorageError> {
    let root = Path::default();
    with_retries(policy, metrics, "list", &root, || async {
        match store.list(None).next().await {
            Some(Err(error)) => Err(error),
            Some(Ok(_)) | None => Ok(()),
        }
    })
    .await
}

fn open_local(path: &FsPath) -> Result<Arc<dyn ObjectStore>, StorageError> {
    let shown = path.display().to_string();
    std::fs::create_dir_all(path).map_err(|source| {
        let kind = error::classify_io(source.kind());
        StorageError::other(
            kind,
            "open",
            shown.clone(),
            "cannot create storage.trace.local.path",
            source,
        )
    })?;
    let store = LocalFileSystem::new_with_prefix(path)
        .map_err(|source| {
            StorageError::other(
                StorageErrorKind::Permanent,
                "open",
                shown,
                "cannot use storage.trace.local.path",
                source,
            )
        })?
        // Durable puts: a block must survive a power cut once its log records are purged.
        .with_fsync(true);
    Ok(Arc::new(store))
}

/// Tempo's endpoints have no scheme: `https://`, or `http://` when `insecure`.
/// Returns the URL and whether it is plain HTTP.
fn endpoint_url(endpoint: &str, insecure: bool) -> (String, bool) {
    let endpoint = endpoint.trim().trim_end_matches('/');
    match endpoint.split_once("://") {
        Some((scheme, _)) => (endpoint.to_owned(), scheme.eq_ignore_ascii_case("http")),
        None if insecure => (format!("http://{endpoint}"), true),
        None => (format!("https://{endpoint}"), false),
    }
}

/// The HTTP client options of the cloud backends.
fn client_options(policy: &RetryPolicy, allow_http: bool) -> ClientOptions {
    ClientOptions::new().with_timeout(policy.timeout).with_allow_http(allow_http)
}

/// Where S3 requests go.
#[derive(Debug, PartialEq, Eq)]
struct S3Addressing {
    /// The endpoint URL; `None` for AWS's endpoint of the region.
    endpoint: Option<String>,
    /// `bucket.host/key` rather than `host/bucket/key`.
    virtual_hosted: bool,
    /// Plain HTTP is allowed.
    plain_http: bool,
}

/// As Tempo's client (minio-go) does: requests are virtual-hosted only on AWS's own endpoints
/// and for bucket names without dots (which would not match AWS's TLS certificate); MinIO,
/// Ceph, moto or an IP address get path-style requests, and so does everything with
/// `forcepathstyle`.
fn s3_addressing(s3: &S3StorageConfig) -> S3Addressing {
    let plain_path_style = |endpoint: Option<String>, plain_http: bool| S3Addressing {
        endpoint,
        virtual_hosted: false,
        plain_http,
    };
    let bucket_allows_virtual_hosting = !s3.bucket.contains('.');
    if s3.endpoint.trim().is_empty() {
        return S3Addressing {
            endpoint: None,
            virtual_hosted: !s3.forcepathstyle && bucket_allows_virtual_hosting,
            plain_http: s3.insecure,
        };
    }
    let (url, plain_http) = endpoint_url(&s3.endpoint, s3.insecure);
    let Some((scheme, host)) = url.split_once("://") else {
        return plain_path_style(Some(url), plain_http);
    };
    let host_name = host.split([':', '/']).next().unwrap_or_default().to_ascii_lowercase();
    let is_aws = host_name.ends_with(".amazonaws.com") || host_name.ends_with(".amazonaws.com.cn");
    if s3.forcepathstyle || !is_aws || !bucket_allows_virtual_hosting {
        return plain_path_style(Some(url), plain_http);
    }
    // object_store expects a virtual-hosted endpoint to name the bucket already.
    S3Addressing {
        endpoint: Some(format!("{scheme}://{}.{host}", s3.bucket)),
        virtual_hosted: true,
        plain_http,
    }
}

/// Starts from the `AWS_*` environment (credential chain, web identity), then
/// applies every key that is set.
fn build_s3(s3: &S3StorageConfig, policy: &RetryPolicy) -> AmazonS3Builder {
    let addressing = s3_addressing(s3);
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(&s3.bucket)
        .with_virtual_hosted_style_request(addressing.virtual_hosted)
        .with_retry(policy.http_retry_config());
    if let Some(endpoint) = addressing.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    // Empty: `AWS_DEFAULT_REGION` / `AWS_REGION` if set, else object_store's `us-east-1`.
    if !s3.region.trim().is_empty() {
        builder = builder.with_region(s3.region.trim());
    }
    if !s3.access_key.is_empty() {
        builder = builder.with_access_key_id(&s3.access_key);
    }
    if !s3.secret_key.is_empty() {
        builder = builder.with_secret_access_key(&s3.secret_key);
    }
    if !s3.session_token.is_empty() {
        builder = builder.with_token(&s3.session_token);
    }
    builder.with_client_options(client_options(policy, addressing.plain_http))
}

/// Starts from the `GOOGLE_*` environment, then applies every key that is set.
fn build_gcs(gcs: &GcsStorageConfig, policy: &RetryPolicy) -> GoogleCloudStorageBuilder {
    let mut builder = GoogleCloudStorageBuilder::from_env()
        .with_bucket_name(&gcs.bucket_name)
        .with_retry(policy.http_retry_config());
    let mut allow_http = gcs.insecure;
    if !gcs.endpoint.trim().is_empty() {
        let (url, is_http) = endpoint_url(&gcs.endpoint, gcs.insecure);
        allow_http |= is_http;
        builder = builder.with_base_url(&url);
    }
    if !gcs.service_account_path.is_empty() {
        builder = builder.with_service_account_path(&gcs.service_account_path);
    }
    builder.with_client_options(client_options(policy, allow_http))
}

/// Starts from the `AZURE_*` environment, then applies every key that is set.
fn build_azure(azure: &AzureStorageConfig, policy: &RetryPolicy) -> MicrosoftAzureBuilder {
    let mut builder = MicrosoftAzureBuilder::from_env()
        .with_container_name(&azure.container_name)
        .with_use_emulator(azure.use_emulator)
        .with_retry(policy.http_retry_config());
    let mut allow_http = azure.use_emulator;
    if !azure.endpoint.trim().is_empty() {
        let (url, is_http) = endpoint_url(&azure.endpoint, false);
        allow_http |= is_http;
        builder = builder.with_endpoint(url);
    }
    if !azure.storage_account_name.is_empty() {
        builder = builder.with_account(&azure.storage_account_name);
    }
    if !azure.storage_account_key.is_empty() {
        builder = builder.with_access_key(&azure.storage_account_key);
    }
    builder.with_client_options(client_options(policy, allow_http))
}

/// Wraps `store` so that every key lives under `prefix` (slashes at either end ignored).
fn with_prefix<S: ObjectStore>(store: S, prefix: &str) -> Arc<dyn ObjectStore> {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, Path::from(prefix)))
    }
}

fn invalid_backend(
    backend: &'static str,
    bucket: &str,
    source: object_store::Error,
) -> StorageError {
    StorageError::other(
        StorageErrorKind::Permanent,
        "open",
        bucket,
        format!("invalid storage.trace.{backend} configuration"),
        source,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tempo_endpoints_get_a_scheme() {
        assert_eq!(endpoint_url("minio:9000", true), ("http://minio:9000".into(), true));
        assert_eq!(
            endpoint_url("s3.amazonaws.com", false),
            ("https://s3.amazonaws.com".into(), false)
        );
        assert_eq!(
            endpoint_url("http://127.0.0.1:9000/", false),
            ("http://127.0.0.1:9000".into(), true)
        );
        assert_eq!(endpoint_url(" https://x ", true), ("https://x".into(), false));
    }

    #[test]
    fn s3_requests_are_virtual_hosted_only_on_aws_as_in_tempo() {
        let s3 = |endpoint: &str, bucket: &str, forcepathstyle: bool, insecure: bool| {
            s3_addressing(&S3StorageConfig {
                endpoint: endpoint.into(),
                bucket: bucket.into(),
                forcepathstyle,
                insecure,
                ..Default::default()
            })
        };
        let addressing = |endpoint: Option<&str>, virtual_hosted, plain_http| S3Addressing {
            endpoint: endpoint.map(str::to_owned),
            virtual_hosted,
            plain_http,
        };
        assert_eq!(s3("", "traces", false, false), addressing(None, true, false));
        assert_eq!(s3("", "traces", true, false), addressing(None, false, false));
        assert_eq!(s3("", "my.traces", false, false), addressing(None, false, false));
        assert_eq!(
            s3("s3.dualstack.us-east-2.amazonaws.com", "traces", false, false),
            addressing(Some("https://traces.s3.dualstack.us-east-2.amazonaws.com"), true, false)
        );
        assert_eq!(
            s3("s3.us-east-2.amazonaws.com", "traces", true, false),
            addressing(Some("https://s3.us-east-2.amazonaws.com"), false, false)
        );
        // Other servers, IP addresses above all, get path-style requests.
        assert_eq!(
            s3("127.0.0.1:9000", "traces", false, true),
            addressing(Some("http://127.0.0.1:9000"), false, true)
        );
        assert_eq!(
            s3("https://minio.internal:9000", "traces", false, false),
            addressing(Some("https://minio.internal:9000"), false, false)
        );
    }

    #[test]
    fn cloud_backends_build_without_network() {
        let mut config = TraceStorageConfig { backend: StorageBackend::Gcs, ..Default::default() };
        config.gcs.bucket_name = "traces".into();
        config.gcs.endpoint = "127.0.0.1:4443".into();
        config.gcs.insecure = true;
        open_object_store(&config).unwrap();

        config.backend = StorageBackend::Azure;
        config.azure.container_name = "traces".into();
        config.azure.use_emulator = true;
        config.azure.prefix = "/cluster-a/".into();
        open_object_store(&config).unwrap();

        config.backend = StorageBackend::S3;
        config.s3.bucket = "traces".into();
        config.s3.endpoint = "127.0.0.1:9000".into();
        config.s3.insecure = true;
        open_object_store(&config).unwrap();
    }

    #[test]
    fn a_bad_azure_key_is_a_permanent_open_error() {
        let mut config =
            TraceStorageConfig { backend: StorageBackend::Azure, ..Default::default() };
        config.azure.container_name = "traces".into();
        config.azure.storage_account_name = "account".into();
        config.azure.storage_account_key = "not base64!".into();
        let error = open_object_store(&config).map(|_| ()).unwrap_err();
        assert_eq!(error.kind(), StorageErrorKind::Permanent);
        let message = error.to_string();
        assert!(message.contains("invalid storage.trace.azure configuration"), "{message}");
        assert!(!message.contains("not base64!"), "the key leaks into: {message}");
    }
}
