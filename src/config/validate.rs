//! [`Config::validate`]: the checks serde's types cannot express.

use std::net::SocketAddr;
use std::time::Duration;

use super::query::check_query;
use super::{Config, ConfigError, HumanDuration, StorageBackend, TraceStorageConfig};

/// Most partitions a node may have.
pub const MAX_PARTITIONS: u32 = 1024;

/// Longest `storage.trace.wal.group_commit_max_wait`.
pub const MAX_GROUP_COMMIT_WAIT: Duration = Duration::from_millis(100);

impl Config {
    /// Checks ranges and relations between keys; the error names the key and
    /// the bad value. [`Config::load`] calls it; call it yourself on a config
    /// built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let count = self.partitions.count;
        if !(1..=MAX_PARTITIONS).contains(&count) {
            return Err(ConfigError::invalid(
                "partitions.count",
                format!("must be between 1 and {MAX_PARTITIONS}, got {count}"),
            ));
        }

        self.validate_cluster()?;

        let wal = &self.storage.trace.wal;
        for (key, value) in [
            ("distributor.max_request_bytes", self.distributor.max_request_bytes),
            ("storage.trace.wal.segment_bytes", wal.segment_bytes),
            ("storage.trace.wal.group_commit_max_bytes", wal.group_commit_max_bytes),
            ("live_store.max_bytes_per_tenant", self.live_store.max_bytes_per_tenant),
            (
                "overrides.defaults.ingestion.max_traces_per_user",
                self.overrides.defaults.ingestion.max_traces_per_user,
            ),
            (
                "overrides.defaults.global.max_bytes_per_trace",
                self.overrides.defaults.global.max_bytes_per_trace,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be greater than 0, got 0"));
            }
        }

        if wal.path.as_os_str().is_empty() {
            return Err(ConfigError::invalid("storage.trace.wal.path", "must not be empty"));
        }
        if wal.group_commit_max_wait.get() > MAX_GROUP_COMMIT_WAIT {
            return Err(ConfigError::invalid(
                "storage.trace.wal.group_commit_max_wait",
                format!(
                    "must be at most {}, got {}",
                    HumanDuration(MAX_GROUP_COMMIT_WAIT),
                    wal.group_commit_max_wait
                ),
            ));
        }

        let supervision = &self.supervision;
        for (key, value) in [
            ("distributor.push_timeout", self.distributor.push_timeout),
            ("supervision.restart_window", supervision.restart_window),
            ("supervision.backoff_max", supervision.backoff_max),
        ] {
            if value.is_zero() {
                return Err(ConfigError::invalid(key, "must be greater than 0s, got 0s"));
            }
        }
        if supervision.backoff_initial > supervision.backoff_max {
            return Err(ConfigError::invalid(
                "supervision.backoff_initial",
                format!(
                    "must be at most supervision.backoff_max ({}), got {}",
                    supervision.backoff_max, supervision.backoff_initial
                ),
            ));
        }

        self.check_block_builder()?;
        check_query(&self.query_frontend, &self.querier)?;
        check_trace_storage(&self.storage.trace)?;
        self.check_listeners()
    }

    fn check_block_builder(&self) -> Result<(), ConfigError> {
        let builder = &self.block_builder;
        if builder.max_block_bytes == 0 {
            return Err(ConfigError::invalid(
                "block_builder.max_block_bytes",
                "must be greater than 0, got 0",
            ));
        }
        for (key, value) in [
            ("block_builder.max_block_duration", builder.max_block_duration),
            ("block_builder.trace_idle_period", builder.trace_idle_period),
            ("block_builder.flush_check_period", builder.flush_check_period),
        ] {
            check_positive_duration(key, value)?;
        }
        Ok(())
    }

    /// Two listeners on one port clash when their IPs are equal or either is
    /// a wildcard; port 0 (ephemeral) never clashes.
    fn check_listeners(&self) -> Result<(), ConfigError> {
        let otlp = &self.distributor.receivers.otlp.protocols;
        let mut listeners: Vec<(&str, SocketAddr)> = vec![
            ("server.http_listen_port", self.http_listen_addr()),
            ("server.grpc_listen_port", self.grpc_listen_addr()),
        ];
        if otlp.grpc.enabled {
            listeners
                .push(("distributor.receivers.otlp.protocols.grpc.endpoint", otlp.grpc.endpoint));
        }
        if otlp.http.enabled {
            listeners
                .push(("distributor.receivers.otlp.protocols.http.endpoint", otlp.http.endpoint));
        }
        for (i, (key, addr)) in listeners.iter().enumerate() {
            for (earlier_key, earlier) in &listeners[..i] {
                let clash = addr.port() != 0
                    && addr.port() == earlier.port()
                    && (addr.ip() == earlier.ip()
                        || addr.ip().is_unspecified()
                        || earlier.ip().is_unspecified());
                if clash {
                    return Err(ConfigError::invalid(
                        *key,
                        format!("{addr} clashes with {earlier_key} ({earlier})"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `cluster`: sane sizes and timings, and a secret whenever the node talks to others.
    fn validate_cluster(&self) -> Result<(), ConfigError> {
        let cluster = &self.cluster;
        if !matches!(cluster.voters, 1 | 3 | 5 | 7) {
            return Err(ConfigError::invalid(
                "cluster.voters",
                format!("must be 1, 3, 5 or 7 (an odd quorum), got {}", cluster.voters),
            ));
        }
        if !(1..=7).contains(&cluster.replication_factor) {
            return Err(ConfigError::invalid(
                "cluster.replication_factor",
                format!("must be between 1 and 7, got {}", cluster.replication_factor),
            ));
        }
        if !cluster.seeds.is_empty() && cluster.secret.is_empty() {
            return Err(ConfigError::invalid(
                "cluster.secret",
                "must be set when cluster.seeds is: every cluster request carries it",
            ));
        }
        for (key, address) in [
            ("cluster.advertise_address", &cluster.advertise_address),
            ("cluster.advertise_http_address", &cluster.advertise_http_address),
        ]
        .into_iter()
        .chain(cluster.seeds.iter().map(|seed| ("cluster.seeds", seed)))
        {
            if !address.is_empty() && !is_host_port(address) {
                return Err(ConfigError::invalid(key, format!("{address:?} is not host:port")));
            }
        }
        let tls = &cluster.tls;
        if tls.enabled() {
            for (key, file) in [
                ("cluster.tls.cert_file", &tls.cert_file),
                ("cluster.tls.key_file", &tls.key_file),
                ("cluster.tls.ca_file", &tls.ca_file),
            ] {
                if file.is_empty() {
                    return Err(ConfigError::invalid(
                        key,
                        "must be set with the other cluster.tls files (cert, key and CA)",
                    ));
                }
            }
        }
        check_positive_duration("cluster.heartbeat_interval", cluster.heartbeat_interval)?;
        check_positive_duration("cluster.rpc_timeout", cluster.rpc_timeout)?;
        if cluster.election_timeout.get() < cluster.heartbeat_interval.get() * 3 {
            return Err(ConfigError::invalid(
                "cluster.election_timeout",
                format!(
                    "must be at least three heartbeats ({}), got {}",
                    HumanDuration(cluster.heartbeat_interval.get() * 3),
                    cluster.election_timeout
                ),
            ));
        }
        Ok(())
    }
}

/// `host:port` with a non-empty host and a port number.
fn is_host_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|port| port > 0),
        None => false,
    }
}

fn check_positive_duration(key: &str, value: HumanDuration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::invalid(key, "must be greater than 0s, got 0s"));
    }
    Ok(())
}

/// Most `storage.trace.block.bloom_filter_false_positive` may be.
const MAX_BLOOM_FALSE_POSITIVE: f64 = 0.5;

/// The chosen backend's required keys, the retry policy and the block format.
fn check_trace_storage(trace: &TraceStorageConfig) -> Result<(), ConfigError> {
    let required: &[(&str, &str)] = match trace.backend {
        StorageBackend::Local => {
            if trace.local.path.as_os_str().is_empty() {
                return Err(ConfigError::invalid(
                    "storage.trace.local.path",
                    "must not be empty with storage.trace.backend: local",
                ));
            }
            &[]
        }
        StorageBackend::Memory => &[],
        StorageBackend::S3 => &[("storage.trace.s3.bucket", &trace.s3.bucket)],
        StorageBackend::Gcs => &[("storage.trace.gcs.bucket_name", &trace.gcs.bucket_name)],
        StorageBackend::Azure if trace.azure.use_emulator => {
            &[("storage.trace.azure.container_name", &trace.azure.container_name)]
        }
        StorageBackend::Azure => &[
            ("storage.trace.azure.container_name", &trace.azure.container_name),
            ("storage.trace.azure.storage_account_name", &trace.azure.storage_account_name),
        ],
    };
    for (key, value) in required {
        if value.trim().is_empty() {
            return Err(ConfigError::invalid(
                *key,
                format!("must be set with storage.trace.backend: {}", trace.backend),
            ));
        }
    }
    if trace.backend == StorageBackend::S3 {
        // They go into HTTP headers; the message does not quote them (secrets).
        for (key, value) in [
            ("storage.trace.s3.access_key", &trace.s3.access_key),
            ("storage.trace.s3.secret_key", &trace.s3.secret_key),
            ("storage.trace.s3.session_token", &trace.s3.session_token),
        ] {
            if !value.bytes().all(|byte| byte.is_ascii_graphic()) {
                return Err(ConfigError::invalid(
                    key,
                    "must be printable ASCII without spaces (check for a stray newline)",
                ));
            }
        }
    }

    let retry = &trace.retry;
    check_positive_duration("storage.trace.retry.backoff_max", retry.backoff_max)?;
    check_positive_duration("storage.trace.retry.timeout", retry.timeout)?;
    if retry.backoff_initial > retry.backoff_max {
        return Err(ConfigError::invalid(
            "storage.trace.retry.backoff_initial",
            format!(
                "must be at most storage.trace.retry.backoff_max ({}), got {}",
                retry.backoff_max, retry.backoff_initial
            ),
        ));
    }

    let block = &trace.block;
    let rate = block.bloom_filter_false_positive;
    // Written so that NaN fails too.
    if !(rate > 0.0 && rate <= MAX_BLOOM_FALSE_POSITIVE) {
        return Err(ConfigError::invalid(
            "storage.trace.block.bloom_filter_false_positive",
            format!("must be greater than 0 and at most {MAX_BLOOM_FALSE_POSITIVE}, got {rate}"),
        ));
    }
    for (key, value) in [
        ("storage.trace.block.bloom_filter_shard_size_bytes", block.bloom_filter_shard_size_bytes),
        ("storage.trace.block.row_group_spans", block.row_group_spans),
        ("storage.trace.block.page_rows", block.page_rows),
    ] {
        if value == 0 {
            return Err(ConfigError::invalid(key, "must be greater than 0, got 0"));
        }
    }
    if block.page_rows > block.row_group_spans {
        return Err(ConfigError::invalid(
            "storage.trace.block.page_rows",
            format!(
                "must be at most storage.trace.block.row_group_spans ({}), got {}",
                block.row_group_spans, block.page_rows
            ),
        ));
    }
    Ok(())
}
