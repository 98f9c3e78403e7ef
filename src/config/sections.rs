//! The section structs of [`Config`](super::Config), one per component, with
//! their defaults. Each component is handed only its own section.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::HumanDuration;

/// An IP address; `""` means all interfaces, as in Tempo.
fn ip_addr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<IpAddr, D::Error> {
    let s = String::deserialize(deserializer)?;
    if s.is_empty() {
        return Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    }
    s.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "expected an IP address such as 0.0.0.0 or 127.0.0.1, got {s:?}"
        ))
    })
}

/// An `ip:port` listen address; host names are not resolved.
fn socket_addr<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(deserializer)?;
    s.parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "expected ip:port such as 0.0.0.0:4317 or [::1]:4317 (host names are not resolved), got {s:?}"
        ))
    })
}

/// Defines a string-valued enum: lowercase names, case-insensitive parsing,
/// and an error that lists the accepted names.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "&'static str")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The name as written in the config file.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $( if s.eq_ignore_ascii_case($text) { return Ok(Self::$variant); } )+
                Err(format!(
                    concat!("unknown ", $what, " {:?} (expected one of: {})"),
                    s,
                    [$($text),+].join(", ")
                ))
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(s: String) -> Result<Self, String> {
                s.parse()
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> Self {
                value.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(super) use string_enum;

string_enum! {
    /// Which components this process runs (Tempo's `target`). Only `all` (one
    /// process runs everything) is supported for now.
    #[derive(Default)]
    pub enum Target ("target") {
        /// Every component in one process.
        #[default]
        All = "all",
    }
}

string_enum! {
    /// The most verbose log level written.
    #[derive(Default)]
    pub enum LogLevel ("log level") {
        /// Errors only.
        Error = "error",
        /// Warnings and errors.
        Warn = "warn",
        /// Informational messages and above (the default).
        #[default]
        Info = "info",
        /// Debugging detail and above.
        Debug = "debug",
        /// Everything.
        Trace = "trace",
    }
}

string_enum! {
    /// How log lines are written.
    #[derive(Default)]
    pub enum LogFormat ("log format") {
        /// `key=value` pairs (the default, as in Tempo).
        #[default]
        Logfmt = "logfmt",
        /// One JSON object per line.
        Json = "json",
    }
}

/// `server`: the listeners and logging (Tempo's keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address of the query API (Tempo's HTTP API). Default `0.0.0.0`; `""`
    /// also means all interfaces, as in Tempo.
    #[serde(deserialize_with = "ip_addr")]
    pub http_listen_address: IpAddr,
    /// Port of the query API. Default `3200`; `0` picks an ephemeral port (tests).
    pub http_listen_port: u16,
    /// Address of the internal cluster gRPC listener. Default `0.0.0.0`.
    #[serde(deserialize_with = "ip_addr")]
    pub grpc_listen_address: IpAddr,
    /// Port of the internal cluster gRPC listener. Default `9095`; `0` picks an
    /// ephemeral port.
    pub grpc_listen_port: u16,
    /// Most verbose level logged: `error`, `warn`, `info`, `debug` or `trace`.
    /// Default `info`.
    pub log_level: LogLevel,
    /// Log line format: `logfmt` or `json`. Default `logfmt`.
    pub log_format: LogFormat,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http_listen_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            http_listen_port: 3200,
            grpc_listen_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            grpc_listen_port: 9095,
            log_level: LogLevel::Info,
            log_format: LogFormat::Logfmt,
        }
    }
}

impl ServerConfig {
    /// Where the query API listens.
    pub fn http_addr(&self) -> SocketAddr {
        SocketAddr::new(self.http_listen_address, self.http_listen_port)
    }

    /// Where the internal cluster gRPC service listens.
    pub fn grpc_addr(&self) -> SocketAddr {
        SocketAddr::new(self.grpc_listen_address, self.grpc_listen_port)
    }
}

/// `distributor`: span ingest (Tempo's section).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistributorConfig {
    /// The protocols spans are received on.
    pub receivers: ReceiversConfig,
    /// Largest accepted request body, after decompression; a larger one is
    /// refused (HTTP 413 / gRPC `RESOURCE_EXHAUSTED`). Default `16777216` (16 MiB).
    pub max_request_bytes: u64,
    /// Longest attribute key or value kept; longer ones are truncated (Tempo's
    /// key). Default `2048`; `0` means no limit.
    pub max_attribute_bytes: u64,
    /// How long an ingest request may wait for its spans to become durable
    /// before it fails. Default `10s`.
    pub push_timeout: HumanDuration,
}

impl Default for DistributorConfig {
    fn default() -> Self {
        Self {
            receivers: ReceiversConfig::default(),
            max_request_bytes: 16 * 1024 * 1024,
            max_attribute_bytes: 2048,
            push_timeout: HumanDuration::from_secs(10),
        }
    }
}

/// `distributor.receivers`: the receivers, keyed by protocol family (as in Tempo). Every
/// receiver listens by default on Tempo's port; each can be switched off (`enabled: false`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReceiversConfig {
    /// The OpenTelemetry protocol receiver. Default: gRPC and HTTP both on.
    pub otlp: OtlpReceiverConfig,
    /// The Jaeger receiver. Default: Thrift over HTTP and gRPC both on.
    pub jaeger: JaegerReceiverConfig,
    /// The Zipkin receiver (`/api/v2/spans`, `/api/v1/spans`). Default: on `0.0.0.0:9411`.
    pub zipkin: ZipkinConfig,
}

/// `distributor.receivers.otlp`: the OTLP receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// Its transports.
    pub protocols: OtlpProtocolsConfig,
}

/// `distributor.receivers.otlp.protocols`. A protocol written with no value
/// (`grpc:`), as Tempo configs often do, means "enabled, with defaults".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpProtocolsConfig {
    /// OTLP over gRPC. Default: enabled on `0.0.0.0:4317`.
    pub grpc: OtlpGrpcConfig,
    /// OTLP over HTTP (`/v1/traces`). Default: enabled on `0.0.0.0:4318`.
    pub http: OtlpHttpConfig,
}

/// `distributor.receivers.jaeger`: the Jaeger receiver.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerReceiverConfig {
    /// Its transports.
    pub protocols: JaegerProtocolsConfig,
}

/// `distributor.receivers.jaeger.protocols`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerProtocolsConfig {
    /// `jaeger.Batch` in Thrift over HTTP (`POST /api/traces`). Default: `0.0.0.0:14268`.
    pub thrift_http: JaegerThriftHttpConfig,
    /// `jaeger.api_v2.CollectorService` over gRPC. Default: `0.0.0.0:14250`.
    pub grpc: JaegerGrpcConfig,
    /// Agent `emitBatch` datagrams in Thrift compact over UDP. Default: `0.0.0.0:6831`.
    pub thrift_compact: JaegerThriftCompactConfig,
    /// Agent `emitBatch` datagrams in Thrift binary over UDP. Default: `0.0.0.0:6832`.
    pub thrift_binary: JaegerThriftBinaryConfig,
}

/// Defines a receiver listener section: whether it listens, and where (Tempo's default port).
macro_rules! listener_config {
    ($(#[$meta:meta])* $name:ident, $port:literal) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// Whether to listen at all. Default `true`.
            pub enabled: bool,
            #[doc = concat!("`ip:port` to listen on. Default `0.0.0.0:", $port, "`; port `0` is ephemeral.")]
            #[serde(deserialize_with = "socket_addr")]
            pub endpoint: SocketAddr,
        }

        impl Default for $name {
            fn default() -> Self {
                Self { enabled: true, endpoint: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), $port) }
            }
        }
    };
}

listener_config!(
    /// `distributor.receivers.otlp.protocols.grpc`: OTLP over gRPC.
    OtlpGrpcConfig, 4317
);
listener_config!(
    /// `distributor.receivers.otlp.protocols.http`: OTLP over HTTP.
    OtlpHttpConfig, 4318
);
listener_config!(
    /// `distributor.receivers.jaeger.protocols.thrift_http`: Jaeger Thrift over HTTP.
    JaegerThriftHttpConfig, 14268
);
listener_config!(
    /// `distributor.receivers.jaeger.protocols.grpc`: Jaeger over gRPC.
    JaegerGrpcConfig, 14250
);
listener_config!(
    /// `distributor.receivers.jaeger.protocols.thrift_compact`: Jaeger agent datagrams (UDP).
    JaegerThriftCompactConfig, 6831
);
listener_config!(
    /// `distributor.receivers.jaeger.protocols.thrift_binary`: Jaeger agent datagrams (UDP).
    JaegerThriftBinaryConfig, 6832
);
listener_config!(
    /// `distributor.receivers.zipkin`: Zipkin JSON and protobuf over HTTP.
    ZipkinConfig, 9411
);

/// `partitions`: how this node's data is split.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PartitionsConfig {
    /// Number of partitions on this node, `1..=1024`. Default `4`.
    pub count: u32,
}

impl Default for PartitionsConfig {
    fn default() -> Self {
        Self { count: 4 }
    }
}

/// `live_store`: recent traces kept in memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveStoreConfig {
    /// Memory one tenant's live traces may use on this node, across all its
    /// partitions. Default `1073741824` (1 GiB).
    pub max_bytes_per_tenant: u64,
    /// How long traces stay queryable from memory after the block holding
    /// them is registered, so a query never misses a trace while readers
    /// learn of the new block. Default `30s`; `0s` forgets them at once.
    pub recent_window: HumanDuration,
}

impl Default for LiveStoreConfig {
    fn default() -> Self {
        Self {
            max_bytes_per_tenant: 1024 * 1024 * 1024,
            recent_window: HumanDuration::from_secs(30),
        }
    }
}

/// `block_builder`: when a partition cuts its recent log records into a
/// block in object storage (spanlake's section; Tempo's ingester has similar
/// keys). A block is cut at whichever limit is reached first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlockBuilderConfig {
    /// Longest time records wait in the log before being cut into a block.
    /// Default `5m`.
    pub max_block_duration: HumanDuration,
    /// Log-record bytes after which a block is cut. Default `67108864` (64 MiB): a flush
    /// decodes its whole range before encoding it, so this bounds the builder's memory
    /// (about 6x the log bytes while a block is built; one build at a time per node).
    pub max_block_bytes: u64,
    /// A trace is complete, and may be cut, once no new record arrived for it
    /// for this long. Default `10s`.
    pub trace_idle_period: HumanDuration,
    /// How often the limits above are checked. Default `1s`.
    pub flush_check_period: HumanDuration,
}

impl Default for BlockBuilderConfig {
    fn default() -> Self {
        Self {
            max_block_duration: HumanDuration::from_secs(5 * 60),
            max_block_bytes: 64 * 1024 * 1024,
            trace_idle_period: HumanDuration::from_secs(10),
            flush_check_period: HumanDuration::from_secs(1),
        }
    }
}

/// `overrides`: per-tenant limits (Tempo's section).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverridesConfig {
    /// The limits every tenant gets.
    pub defaults: TenantLimitsConfig,
}

/// `overrides.defaults`: one tenant's limits (Tempo's layout).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantLimitsConfig {
    /// Ingest limits.
    pub ingestion: IngestionLimitsConfig,
    /// Limits that apply across the cluster.
    pub global: GlobalLimitsConfig,
}

/// `overrides.defaults.ingestion`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestionLimitsConfig {
    /// Live traces one tenant may have on this node (Tempo's key). Default
    /// `500000`; must be greater than 0 (unlike Tempo, `0` is not "no limit").
    pub max_traces_per_user: u64,
}

impl Default for IngestionLimitsConfig {
    fn default() -> Self {
        Self { max_traces_per_user: 500_000 }
    }
}

/// `overrides.defaults.global`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalLimitsConfig {
    /// Largest size of one trace, in bytes (Tempo's key). Default `5000000`;
    /// must be greater than 0 (unlike Tempo, `0` is not "no limit").
    pub max_bytes_per_trace: u64,
}

impl Default for GlobalLimitsConfig {
    fn default() -> Self {
        Self { max_bytes_per_trace: 5_000_000 }
    }
}

/// `supervision`: how supervisors restart failed actors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SupervisionConfig {
    /// Restarts allowed within `restart_window` before a supervisor gives up
    /// and escalates to its own supervisor. Default `5`; `0` escalates on the
    /// first failure.
    pub max_restarts: u32,
    /// The window `max_restarts` is counted over. Default `60s`; must not be zero.
    pub restart_window: HumanDuration,
    /// Delay before the first restart; later delays grow up to `backoff_max`.
    /// Default `100ms`.
    pub backoff_initial: HumanDuration,
    /// Largest delay between restarts; at least `backoff_initial`. Default `5s`.
    pub backoff_max: HumanDuration,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            restart_window: HumanDuration::from_secs(60),
            backoff_initial: HumanDuration::from_millis(100),
            backoff_max: HumanDuration::from_secs(5),
        }
    }
}
