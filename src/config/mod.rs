//! spanlake's configuration: a YAML file laid out like Grafana Tempo's (same
//! keys where Tempo has one), overridden by `SPANLAKE_*` environment variables.
//!
//! [`Config::load`] starts from the defaults, applies the YAML, then the
//! environment, then [`Config::validate`]. Environment variables name a key by
//! its path, uppercase, with `__` between levels:
//! `SPANLAKE_SERVER__HTTP_LISTEN_PORT=3300` sets `server.http_listen_port`,
//! `SPANLAKE_STORAGE__TRACE__WAL__PATH=/x` sets `storage.trace.wal.path`.
//! Only variables starting with exactly `SPANLAKE_` are read; empty ones count
//! as unset; values are taken verbatim (a path `007` stays `"007"`).
//!
//! Unknown keys are errors naming the full dotted key (and the variable, when
//! it came from the environment). A few Tempo keys that have no meaning here
//! ([`IGNORED_TEMPO_KEYS`]) are accepted and reported in
//! [`LoadedConfig::ignored_keys`] for the caller to log as warnings.
//!
//! Each component is handed only its own section ([`ServerConfig`],
//! [`DistributorConfig`], [`WalConfig`], ...). Durations are written the Go
//! way (`"100ms"`, `"1h30m"`, see [`HumanDuration`]). Secrets (object-store
//! keys) are shown as `<redacted>` by [`Config::to_yaml_redacted`], which is
//! what `--print-config` and `/status/config` print.

mod cluster;
mod duration;
mod error;
mod load;
mod query;
mod sections;
mod storage;
mod validate;

#[cfg(test)]
mod query_tests;
#[cfg(test)]
mod storage_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use cluster::{ClusterConfig, ClusterTlsConfig};
pub use duration::{DurationParseError, HumanDuration};
pub use error::ConfigError;
pub use query::{QuerierConfig, QuerierSearchConfig, QueryFrontendConfig, SearchLimitsConfig};
pub use sections::{
    BlockBuilderConfig, DistributorConfig, GlobalLimitsConfig, IngestionLimitsConfig,
    JaegerGrpcConfig, JaegerProtocolsConfig, JaegerReceiverConfig, JaegerThriftBinaryConfig,
    JaegerThriftCompactConfig, JaegerThriftHttpConfig, LiveStoreConfig, LogFormat, LogLevel,
    OtlpGrpcConfig, OtlpHttpConfig, OtlpProtocolsConfig, OtlpReceiverConfig, OverridesConfig,
    PartitionsConfig, ReceiversConfig, ServerConfig, SupervisionConfig, Target, TenantLimitsConfig,
    ZipkinConfig,
};
pub use storage::{
    AzureStorageConfig, BlockConfig, GcsStorageConfig, LocalStorageConfig, REDACTED,
    S3StorageConfig, StorageBackend, StorageConfig, StorageRetryConfig, TraceStorageConfig,
    WalConfig,
};
pub use validate::{MAX_GROUP_COMMIT_WAIT, MAX_PARTITIONS};

/// Prefix of the environment variables that override config keys.
pub const ENV_PREFIX: &str = "SPANLAKE_";

/// Tempo keys accepted so that Tempo config files load, but ignored: each is a
/// dotted key (with everything under it) and why it is ignored. Loading
/// reports the ones present in [`LoadedConfig::ignored_keys`]. Where spanlake
/// reads some keys of such a section (`query_frontend.search.max_duration`),
/// those are used and only the others are ignored, each reported by its own
/// path; an unknown key close to a used one is still an error (a typo).
pub const IGNORED_TEMPO_KEYS: &[(&str, &str)] = &[
    ("stream_over_http_enabled", "has no effect in spanlake"),
    ("usage_report", "spanlake sends no usage reports"),
    (
        "server.grpc_server_max_recv_msg_size",
        "the OTLP request limit is distributor.max_request_bytes",
    ),
    ("server.grpc_server_max_send_msg_size", "has no effect in spanlake"),
    ("storage.trace.block.version", "spanlake has a single block format"),
    ("ingester", "spanlake has no separate ingester"),
    ("compactor", "spanlake has no compactor"),
    ("querier", "of the querier keys spanlake reads only querier.search.query_timeout"),
    (
        "query_frontend",
        "of the query-frontend keys spanlake reads only query_frontend.search limits",
    ),
    ("metrics_generator", "spanlake has no metrics generator"),
    ("overrides.defaults.metrics_generator", "spanlake has no metrics generator"),
];

/// The whole configuration: one section per component.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which components run (Tempo's key). Default and only accepted value: `all`.
    pub target: Target,
    /// Whether requests must name their tenant (Tempo's key, with the
    /// `X-Scope-OrgID` header); when off everything goes to one tenant.
    /// Default `false`.
    pub multitenancy_enabled: bool,
    /// Listeners and logging.
    pub server: ServerConfig,
    /// Span ingest.
    pub distributor: DistributorConfig,
    /// Partitioning of the data: how many partitions a new cluster starts with.
    pub partitions: PartitionsConfig,
    /// Joining a cluster, replication, the cluster secret and the admin token.
    pub cluster: ClusterConfig,
    /// Durable storage.
    pub storage: StorageConfig,
    /// Recent traces in memory.
    pub live_store: LiveStoreConfig,
    /// Cutting blocks out of the partition logs.
    pub block_builder: BlockBuilderConfig,
    /// Per-tenant limits.
    pub overrides: OverridesConfig,
    /// Actor restart policy.
    pub supervision: SupervisionConfig,
    /// Search limits (Tempo's section; its other keys are ignored).
    pub query_frontend: QueryFrontendConfig,
    /// Search deadline (Tempo's section; its other keys are ignored).
    pub querier: QuerierConfig,
}

/// A loaded configuration with the ignored Tempo keys it contained.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedConfig {
    /// The configuration, validated.
    pub config: Config,
    /// One warning per [`IGNORED_TEMPO_KEYS`] entry present, naming the key,
    /// e.g. `ignoring Tempo config key "usage_report": spanlake sends no usage reports`.
    pub ignored_keys: Vec<String>,
}

impl LoadedConfig {
    /// Like [`Config::load`], keeping the ignored-key warnings.
    pub fn load(yaml: Option<&str>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        load::load(yaml, env)
    }

    /// Like [`Config::load_file`], keeping the ignored-key warnings.
    pub fn load_file(path: &Path, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        load::load(Some(&text), env).map_err(|err| match err {
            ConfigError::Parse { message } => {
                ConfigError::Parse { message: format!("{}: {message}", path.display()) }
            }
            other => other,
        })
    }
}

impl Config {
    /// Loads a configuration: the defaults, overridden by `yaml` (if any),
    /// overridden by the `SPANLAKE_*` variables of `env` (which may hold the
    /// whole process environment), then validated.
    pub fn load(yaml: Option<&str>, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        LoadedConfig::load(yaml, env).map(|loaded| loaded.config)
    }

    /// [`Config::load`] with the YAML read from `path`; read and parse errors
    /// name the path.
    pub fn load_file(path: &Path, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        LoadedConfig::load_file(path, env).map(|loaded| loaded.config)
    }

    /// The configuration as YAML with every key, secrets included; loading it
    /// gives back an equal `Config`. What is shown to people is
    /// [`Config::to_yaml_redacted`].
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self)
            .unwrap_or_else(|err| format!("# cannot render the configuration: {err}\n"))
    }

    /// [`Config::to_yaml`] with every secret that is set (`storage.trace.s3.secret_key`,
    /// `storage.trace.s3.session_token`, `storage.trace.azure.storage_account_key`,
    /// `cluster.secret`, `cluster.admin_token`) shown as
    /// [`REDACTED`]: what `--print-config` and `/status/config` show.
    pub fn to_yaml_redacted(&self) -> String {
        self.redacted().to_yaml()
    }

    /// A copy with every secret that is set replaced by [`REDACTED`].
    pub fn redacted(&self) -> Config {
        let mut copy = self.clone();
        copy.storage.trace.redact_secrets();
        copy.cluster.redact_secrets();
        copy
    }

    /// Where the query API listens (`server.http_listen_address:http_listen_port`).
    pub fn http_listen_addr(&self) -> SocketAddr {
        self.server.http_addr()
    }

    /// Where the internal cluster gRPC service listens
    /// (`server.grpc_listen_address:grpc_listen_port`).
    pub fn grpc_listen_addr(&self) -> SocketAddr {
        self.server.grpc_addr()
    }

    /// Where the OTLP/gRPC receiver listens (whether or not it is enabled).
    pub fn otlp_grpc_addr(&self) -> SocketAddr {
        self.distributor.receivers.otlp.protocols.grpc.endpoint
    }

    /// Where the OTLP/HTTP receiver listens (whether or not it is enabled).
    pub fn otlp_http_addr(&self) -> SocketAddr {
        self.distributor.receivers.otlp.protocols.http.endpoint
    }
}
