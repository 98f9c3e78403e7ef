//! Loading tests: YAML, environment, unknown and ignored keys, validation.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn no_env() -> HashMap<String, String> {
    HashMap::new()
}

fn load_err(yaml: &str, vars: &[(&str, &str)]) -> ConfigError {
    Config::load(Some(yaml), &env(vars)).unwrap_err()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Asserts an `Invalid` error for `key` whose message contains each of `parts`.
fn assert_invalid(err: &ConfigError, key: &str, parts: &[&str]) {
    assert!(
        matches!(err, ConfigError::Invalid { key: k, .. } if k == key),
        "want invalid {key}, got {err:?}"
    );
    let msg = err.to_string();
    assert!(msg.starts_with(&format!("invalid value for config key {key:?}: ")), "{msg}");
    for part in parts {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
}

#[test]
fn defaults_are_documented_values_and_valid() {
    let config = Config::load(None, &no_env()).unwrap();
    assert_eq!(config, Config::default());
    assert_eq!(config.target, Target::All);
    assert!(!config.multitenancy_enabled);
    assert_eq!(config.http_listen_addr(), addr("0.0.0.0:3200"));
    assert_eq!(config.grpc_listen_addr(), addr("0.0.0.0:9095"));
    assert_eq!(config.otlp_grpc_addr(), addr("0.0.0.0:4317"));
    assert_eq!(config.otlp_http_addr(), addr("0.0.0.0:4318"));
    assert_eq!(config.server.log_level, LogLevel::Info);
    assert_eq!(config.server.log_format, LogFormat::Logfmt);
    assert_eq!(config.distributor.max_request_bytes, 16_777_216);
    assert_eq!(config.distributor.max_attribute_bytes, 2048);
    assert_eq!(config.distributor.push_timeout, HumanDuration::from_secs(10));
    assert_eq!(config.partitions.count, 4);
    let wal = &config.storage.trace.wal;
    assert_eq!(wal.path, PathBuf::from("./data/wal"));
    assert_eq!(wal.segment_bytes, 67_108_864);
    assert_eq!(wal.group_commit_max_wait, HumanDuration::ZERO);
    assert_eq!(wal.group_commit_max_bytes, 16_777_216);
    assert_eq!(config.live_store.max_bytes_per_tenant, 1_073_741_824);
    let limits = &config.overrides.defaults;
    assert_eq!(limits.ingestion.max_traces_per_user, 500_000);
    assert_eq!(limits.global.max_bytes_per_trace, 5_000_000);
    let sup = &config.supervision;
    assert_eq!(sup.max_restarts, 5);
    assert_eq!(sup.restart_window, HumanDuration::from_secs(60));
    assert_eq!(sup.backoff_initial, HumanDuration::from_millis(100));
    assert_eq!(sup.backoff_max, HumanDuration::from_secs(5));
    // Empty YAML and a YAML of comments are the defaults too.
    assert_eq!(Config::load(Some(""), &no_env()).unwrap(), config);
    assert_eq!(Config::load(Some("# nothing\n"), &no_env()).unwrap(), config);
}

#[test]
fn defaults_round_trip_through_yaml() {
    let yaml = Config::default().to_yaml();
    for line in [
        "target: all",
        "http_listen_port: 3200",
        "push_timeout: 10s",
        "group_commit_max_wait: 0s",
        "backoff_initial: 100ms",
        "restart_window: 1m",
    ] {
        assert!(yaml.contains(line), "{line:?} missing from:\n{yaml}");
    }
    assert_eq!(Config::load(Some(&yaml), &no_env()).unwrap(), Config::default());
}

#[test]
fn changed_config_round_trips_through_yaml() {
    let mut config = Config { multitenancy_enabled: true, ..Config::default() };
    config.server.http_listen_address = "::1".parse().unwrap();
    config.server.http_listen_port = 0;
    config.server.log_level = LogLevel::Trace;
    config.server.log_format = LogFormat::Json;
    config.distributor.receivers.otlp.protocols.grpc.endpoint = addr("[::1]:0");
    config.distributor.receivers.otlp.protocols.http.enabled = false;
    config.distributor.push_timeout = HumanDuration(Duration::from_millis(1500));
    config.storage.trace.wal.path = PathBuf::from("007");
    config.storage.trace.wal.group_commit_max_wait = HumanDuration(Duration::from_micros(250));
    config.supervision.restart_window = HumanDuration::from_secs(5400);
    let yaml = config.to_yaml();
    assert!(yaml.contains("restart_window: 1h30m"), "{yaml}");
    assert_eq!(Config::load(Some(&yaml), &no_env()).unwrap(), config);
}

#[test]
fn yaml_overrides_nested_keys_and_keeps_other_defaults() {
    let yaml = r#"
multitenancy_enabled: true
server:
  http_listen_port: 3300
  log_level: debug
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "127.0.0.1:14317"
        http:
          enabled: false
  push_timeout: 2s
partitions:
  count: 16
storage:
  trace:
    wal:
      path: /var/lib/spanlake/wal
      group_commit_max_wait: 2ms
overrides:
  defaults:
    ingestion:
      max_traces_per_user: 100
supervision:
  backoff_initial: 1s
"#;
    let config = Config::load(Some(yaml), &no_env()).unwrap();
    let mut want = Config { multitenancy_enabled: true, ..Config::default() };
    want.server.http_listen_port = 3300;
    want.server.log_level = LogLevel::Debug;
    want.distributor.receivers.otlp.protocols.grpc.endpoint = addr("127.0.0.1:14317");
    want.distributor.receivers.otlp.protocols.http.enabled = false;
    want.distributor.push_timeout = HumanDuration::from_secs(2);
    want.partitions.count = 16;
    want.storage.trace.wal.path = PathBuf::from("/var/lib/spanlake/wal");
    want.storage.trace.wal.group_commit_max_wait = HumanDuration::from_millis(2);
    want.overrides.defaults.ingestion.max_traces_per_user = 100;
    want.supervision.backoff_initial = HumanDuration::from_secs(1);
    assert_eq!(config, want);
}

#[test]
fn env_overrides_win_over_yaml_and_keep_strings_verbatim() {
    let yaml = r#"
multitenancy_enabled: false
server:
  http_listen_port: 3201
  log_level: warn
storage:
  trace:
    wal:
      path: /from/yaml
      segment_bytes: 1048576
"#;
    let vars = env(&[
        ("SPANLAKE_SERVER__HTTP_LISTEN_PORT", "3300"),
        ("SPANLAKE_MULTITENANCY_ENABLED", "true"),
        ("SPANLAKE_STORAGE__TRACE__WAL__PATH", "007"),
        ("SPANLAKE_DISTRIBUTOR__RECEIVERS__OTLP__PROTOCOLS__GRPC__ENDPOINT", "127.0.0.1:0"),
        ("SPANLAKE_DISTRIBUTOR__PUSH_TIMEOUT", "1m30s"),
        ("SPANLAKE_SERVER__LOG_FORMAT", "JSON"),
        ("SPANLAKE_PARTITIONS__COUNT", "8"),
        // Empty means unset: the YAML's level stays.
        ("SPANLAKE_SERVER__LOG_LEVEL", ""),
        // Not ours: wrong case of the prefix, other programs.
        ("spanlake_server__grpc_listen_port", "1"),
        ("Spanlake_Partitions__Count", "999"),
        ("PATH", "/usr/bin"),
        ("HOME", "/root"),
        ("SPANLAKE", "x"),
        ("SPANLAKE_", "x"),
    ]);
    let config = Config::load(Some(yaml), &vars).unwrap();
    assert_eq!(config.server.http_listen_port, 3300);
    assert!(config.multitenancy_enabled);
    assert_eq!(config.storage.trace.wal.path, PathBuf::from("007"));
    assert_eq!(config.storage.trace.wal.segment_bytes, 1_048_576);
    assert_eq!(config.otlp_grpc_addr(), addr("127.0.0.1:0"));
    assert_eq!(config.distributor.push_timeout, HumanDuration::from_secs(90));
    assert_eq!(config.server.log_format, LogFormat::Json);
    assert_eq!(config.server.log_level, LogLevel::Warn);
    assert_eq!(config.partitions.count, 8);
    assert_eq!(config.server.grpc_listen_port, 9095);
}

#[test]
fn env_strings_that_look_like_numbers_stay_strings() {
    for path in ["007", "1.50", "1e3", "true", "-0", "inf"] {
        let vars = env(&[("SPANLAKE_STORAGE__TRACE__WAL__PATH", path)]);
        let config = Config::load(None, &vars).unwrap();
        assert_eq!(config.storage.trace.wal.path, PathBuf::from(path));
    }
}

#[test]
fn env_sets_keys_inside_a_null_yaml_section() {
    let yaml = "distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n";
    let vars =
        env(&[("SPANLAKE_DISTRIBUTOR__RECEIVERS__OTLP__PROTOCOLS__GRPC__ENDPOINT", "127.0.0.1:0")]);
    let config = Config::load(Some(yaml), &vars).unwrap();
    assert!(config.distributor.receivers.otlp.protocols.grpc.enabled);
    assert_eq!(config.otlp_grpc_addr(), addr("127.0.0.1:0"));
}

#[test]
fn unknown_yaml_key_names_its_dotted_path() {
    let err = load_err("server:\n  http_listen_prot: 3200\n", &[]);
    assert!(
        matches!(&err, ConfigError::UnknownKey { key, env_var: None, .. } if key == "server.http_listen_prot"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "unknown config key \"server.http_listen_prot\": did you mean \"server.http_listen_port\"?"
    );

    let deep = "storage:\n  trace:\n    wal:\n      segment_size: 1\n";
    let err = load_err(deep, &[]);
    assert_eq!(err.key(), Some("storage.trace.wal.segment_size"));

    let top = load_err("frobnicate: true\n", &[]);
    assert_eq!(top.to_string(), "unknown config key \"frobnicate\"");

    // Keys are case-sensitive in YAML, as in Tempo.
    let upper = load_err("Server:\n  http_listen_port: 1\n", &[]);
    assert_eq!(upper.key(), Some("Server"));
}

#[test]
fn every_unknown_key_is_reported_at_once() {
    let yaml =
        "zeta: 1\nserver:\n  bogus: 1\n  log_level: info\ndistributor:\n  receivers:\n    kafka:\n";
    let err = load_err(yaml, &[("SPANLAKE_PARTITIONS__NUMBER", "3")]);
    match &err {
        ConfigError::UnknownKey { key, others, .. } => {
            assert_eq!(key, "distributor.receivers.kafka");
            assert_eq!(others, &["partitions.number", "server.bogus", "zeta"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .ends_with("; also unknown: \"partitions.number\", \"server.bogus\", \"zeta\""),
        "{err}"
    );
}

#[test]
fn unknown_env_key_names_its_dotted_path_and_variable() {
    let err = load_err("", &[("SPANLAKE_SERVER__HTTP_LISTEN_PROT", "3300")]);
    assert!(
        matches!(&err, ConfigError::UnknownKey { key, env_var: Some(var), .. }
            if key == "server.http_listen_prot" && var == "SPANLAKE_SERVER__HTTP_LISTEN_PROT"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "unknown config key \"server.http_listen_prot\" (set by environment variable \
         SPANLAKE_SERVER__HTTP_LISTEN_PROT): did you mean SPANLAKE_SERVER__HTTP_LISTEN_PORT?"
    );

    // A single `_` between levels is the usual mistake.
    let err = load_err("", &[("SPANLAKE_SERVER_HTTP_LISTEN_PORT", "3300")]);
    assert_eq!(
        err.to_string(),
        "unknown config key \"server_http_listen_port\" (set by environment variable \
         SPANLAKE_SERVER_HTTP_LISTEN_PORT): did you mean SPANLAKE_SERVER__HTTP_LISTEN_PORT?"
    );
    let err = load_err("", &[("SPANLAKE_STORAGE__TRACE_WAL__PATH", "/x")]);
    assert_eq!(err.key(), Some("storage.trace_wal"));
    assert!(err.to_string().ends_with("did you mean SPANLAKE_STORAGE__TRACE__WAL__PATH?"), "{err}");

    // A typo in an upper level: the suggestion keeps the rest of the variable.
    // Keys below a plain value are unknown too.
    let err = load_err("", &[("SPANLAKE_SERVER__HTTP_LISTEN_PORT__X", "1")]);
    assert_eq!(err.key(), Some("server.http_listen_port.x"));

    let err = load_err("", &[("SPANLAKE_SERVR__LOG_LEVEL", "debug")]);
    assert_eq!(err.key(), Some("servr"));
    assert!(err.to_string().ends_with("did you mean SPANLAKE_SERVER__LOG_LEVEL?"), "{err}");
}

#[test]
fn bad_duration_names_key_and_value() {
    let err = load_err("distributor:\n  push_timeout: 10 seconds\n", &[]);
    assert_invalid(&err, "distributor.push_timeout", &["\"10 seconds\""]);

    let err = load_err("supervision:\n  restart_window: 60\n", &[]);
    assert_invalid(
        &err,
        "supervision.restart_window",
        &["bare number 60 is not a duration", "\"60s\""],
    );

    let err = load_err("", &[("SPANLAKE_SUPERVISION__BACKOFF_MAX", "5")]);
    assert_invalid(
        &err,
        "supervision.backoff_max",
        &[
            "duration \"5\" has no unit",
            "(set by environment variable SPANLAKE_SUPERVISION__BACKOFF_MAX)",
        ],
    );

    // Zero needs no unit.
    let config = Config::load(
        Some("storage:\n  trace:\n    wal:\n      group_commit_max_wait: 0\n"),
        &no_env(),
    )
    .unwrap();
    assert!(config.storage.trace.wal.group_commit_max_wait.is_zero());
}

#[test]
fn bad_endpoint_names_key_and_value() {
    let yaml = "distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n          endpoint: tempo:4317\n";
    let err = load_err(yaml, &[]);
    assert_invalid(
        &err,
        "distributor.receivers.otlp.protocols.grpc.endpoint",
        &["expected ip:port", "\"tempo:4317\""],
    );

    let err = load_err(
        "",
        &[("SPANLAKE_DISTRIBUTOR__RECEIVERS__OTLP__PROTOCOLS__HTTP__ENDPOINT", "4318")],
    );
    assert_invalid(
        &err,
        "distributor.receivers.otlp.protocols.http.endpoint",
        &["\"4318\"", "SPANLAKE_DISTRIBUTOR__RECEIVERS__OTLP__PROTOCOLS__HTTP__ENDPOINT"],
    );

    let err = load_err("server:\n  grpc_listen_address: localhost\n", &[]);
    assert_invalid(&err, "server.grpc_listen_address", &["\"localhost\""]);

    // Tempo's "" means all interfaces.
    let config = Config::load(Some("server:\n  http_listen_address: \"\"\n"), &no_env()).unwrap();
    assert_eq!(config.http_listen_addr(), addr("0.0.0.0:3200"));
}

#[test]
fn partitions_out_of_range_names_key_and_value() {
    let err = load_err("partitions:\n  count: 0\n", &[]);
    assert_invalid(&err, "partitions.count", &["between 1 and 1024", "got 0"]);
    let err = load_err("", &[("SPANLAKE_PARTITIONS__COUNT", "1025")]);
    assert_invalid(&err, "partitions.count", &["got 1025", "SPANLAKE_PARTITIONS__COUNT"]);
    assert_eq!(
        Config::load(Some("partitions: {count: 1024}"), &no_env()).unwrap().partitions.count,
        1024
    );
}

#[test]
fn other_range_checks_name_key_and_value() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "storage: {trace: {wal: {group_commit_max_wait: 150ms}}}",
            "storage.trace.wal.group_commit_max_wait",
            &["at most 100ms", "got 150ms"],
        ),
        (
            "storage: {trace: {wal: {segment_bytes: 0}}}",
            "storage.trace.wal.segment_bytes",
            &["greater than 0, got 0"],
        ),
        ("storage: {trace: {wal: {path: ''}}}", "storage.trace.wal.path", &["must not be empty"]),
        ("distributor: {max_request_bytes: 0}", "distributor.max_request_bytes", &["got 0"]),
        ("live_store: {max_bytes_per_tenant: 0}", "live_store.max_bytes_per_tenant", &["got 0"]),
        (
            "overrides: {defaults: {ingestion: {max_traces_per_user: 0}}}",
            "overrides.defaults.ingestion.max_traces_per_user",
            &["greater than 0, got 0"],
        ),
        (
            "overrides: {defaults: {global: {max_bytes_per_trace: 0}}}",
            "overrides.defaults.global.max_bytes_per_trace",
            &["greater than 0, got 0"],
        ),
        ("distributor: {push_timeout: 0s}", "distributor.push_timeout", &["got 0s"]),
        (
            "supervision: {backoff_initial: 10s, backoff_max: 5s}",
            "supervision.backoff_initial",
            &["got 10s", "(5s)"],
        ),
        (
            "server: {log_level: verbose}",
            "server.log_level",
            &["\"verbose\"", "error, warn, info, debug, trace"],
        ),
        ("server: {log_format: text}", "server.log_format", &["\"text\"", "logfmt, json"]),
        (
            "target: distributor",
            "target",
            &["unknown target \"distributor\"", "expected one of: all"],
        ),
        ("server: {http_listen_port: 70000}", "server.http_listen_port", &["70000"]),
        (
            "server: {http_listen_port: 3.5}",
            "server.http_listen_port",
            &["expected a whole number, got 3.5"],
        ),
        (
            "server: {http_listen_port: -1}",
            "server.http_listen_port",
            &["must not be negative, got -1"],
        ),
        (
            "server: {http_listen_port: abc}",
            "server.http_listen_port",
            &["expected a whole number, got \"abc\""],
        ),
        ("multitenancy_enabled: 1", "multitenancy_enabled", &["expected true or false, got 1"]),
        (
            "multitenancy_enabled: yes",
            "multitenancy_enabled",
            &["expected true or false, got \"yes\""],
        ),
        ("server: 5", "server", &["expected a section of keys, got 5"]),
        ("server: [1]", "server", &["expected a section of keys, got a list"]),
        (
            "distributor: {max_attribute_bytes: true}",
            "distributor.max_attribute_bytes",
            &["expected a whole number, got true"],
        ),
    ];
    for (yaml, key, parts) in cases {
        let err = load_err(yaml, &[]);
        assert_invalid(&err, key, parts);
    }
}

#[test]
fn clashing_listeners_are_rejected() {
    let err = load_err("server: {http_listen_port: 4318}", &[]);
    assert_invalid(
        &err,
        "distributor.receivers.otlp.protocols.http.endpoint",
        &["0.0.0.0:4318 clashes with server.http_listen_port (0.0.0.0:4318)"],
    );
    // Ephemeral ports, distinct IPs and disabled receivers do not clash.
    let ok = r#"
server: {http_listen_port: 0, grpc_listen_port: 0, http_listen_address: 127.0.0.1}
distributor:
  receivers:
    otlp:
      protocols:
        grpc: {endpoint: "127.0.0.1:0"}
        http: {enabled: false, endpoint: "127.0.0.1:0"}
"#;
    Config::load(Some(ok), &no_env()).unwrap();
    let distinct = "server: {http_listen_address: 127.0.0.1, grpc_listen_address: 127.0.0.2, grpc_listen_port: 3200}\ndistributor: {receivers: {otlp: {protocols: {grpc: {endpoint: '127.0.0.3:4317'}, http: {endpoint: '127.0.0.3:4318'}}}}}";
    Config::load(Some(distinct), &no_env()).unwrap();
}

#[test]
fn tempo_minimal_config_enables_null_protocols_with_defaults() {
    let yaml = r#"
server:
  http_listen_port: 3200

distributor:
  receivers:
    otlp:
      protocols:
        grpc:
        http:
"#;
    let loaded = LoadedConfig::load(Some(yaml), &no_env()).unwrap();
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.ignored_keys.is_empty());
    let protocols = &loaded.config.distributor.receivers.otlp.protocols;
    assert!(protocols.grpc.enabled && protocols.http.enabled);
    assert_eq!(loaded.config.otlp_grpc_addr(), addr("0.0.0.0:4317"));
    assert_eq!(loaded.config.otlp_http_addr(), addr("0.0.0.0:4318"));

    // A null section, or a null leaf, means its defaults too.
    let nulls = "server:\nstorage:\n  trace:\n    wal:\n      path: ~\n";
    assert_eq!(Config::load(Some(nulls), &no_env()).unwrap(), Config::default());
}

#[test]
fn tempo_example_config_loads_and_reports_ignored_keys() {
    let yaml = r#"
stream_over_http_enabled: true
server:
  http_listen_port: 3200
  log_level: info
  grpc_server_max_recv_msg_size: 4194304
query_frontend:
  search:
    duration_slo: 5s
distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: "0.0.0.0:4317"
        http:
ingester:
  max_block_duration: 5m
compactor:
  compaction:
    block_retention: 1h
metrics_generator:
  registry:
    external_labels:
      source: tempo
storage:
  trace:
    backend: local
    wal:
      path: /var/tempo/wal
    local:
      path: /var/tempo/blocks
    block:
      version: vParquet4
      bloom_filter_false_positive: .05
overrides:
  defaults:
    metrics_generator:
      processors: [service-graphs, span-metrics]
    global:
      max_bytes_per_trace: 1000000
usage_report:
  reporting_enabled: false
"#;
    let loaded = LoadedConfig::load(Some(yaml), &no_env()).unwrap();
    assert_eq!(loaded.config.storage.trace.wal.path, PathBuf::from("/var/tempo/wal"));
    assert_eq!(loaded.config.storage.trace.backend, StorageBackend::Local);
    assert_eq!(loaded.config.storage.trace.local.path, PathBuf::from("/var/tempo/blocks"));
    assert_eq!(loaded.config.storage.trace.block.bloom_filter_false_positive, 0.05);
    assert_eq!(loaded.config.overrides.defaults.global.max_bytes_per_trace, 1_000_000);
    let keys: Vec<&str> =
        loaded.ignored_keys.iter().map(|note| note.split('"').nth(1).unwrap()).collect();
    assert_eq!(
        keys,
        [
            "compactor",
            "ingester",
            "metrics_generator",
            "overrides.defaults.metrics_generator",
            "query_frontend.search.duration_slo",
            "server.grpc_server_max_recv_msg_size",
            "storage.trace.block.version",
            "stream_over_http_enabled",
            "usage_report",
        ]
    );
    assert!(loaded.ignored_keys.contains(
        &"ignoring Tempo config key \"usage_report\": spanlake sends no usage reports".to_owned()
    ));
    // Ignored keys are ignored from the environment too.
    let from_env =
        LoadedConfig::load(None, &env(&[("SPANLAKE_STREAM_OVER_HTTP_ENABLED", "true")])).unwrap();
    assert_eq!(from_env.ignored_keys.len(), 1);
}

#[test]
fn load_file_reads_and_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spanlake.yaml");
    std::fs::write(&path, "partitions:\n  count: 2\n").unwrap();
    let vars = env(&[("SPANLAKE_SERVER__HTTP_LISTEN_PORT", "0")]);
    let config = Config::load_file(&path, &vars).unwrap();
    assert_eq!(config.partitions.count, 2);
    assert_eq!(config.server.http_listen_port, 0);

    let missing = dir.path().join("missing.yaml");
    let err = Config::load_file(&missing, &no_env()).unwrap_err();
    assert!(matches!(&err, ConfigError::Read { path, .. } if *path == missing));
    assert_eq!(err.to_string(), format!("cannot read config file {}", missing.display()));
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert!(cause.contains("No such file"), "{cause}");

    std::fs::write(&path, "server:\n  http_listen_port: [\n").unwrap();
    let err = Config::load_file(&path, &no_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!("cannot parse config: {}: ", path.display())),
        "{err}"
    );
}

#[test]
fn non_map_yaml_is_a_parse_error() {
    for yaml in ["- a\n- b\n", "just a string", "a: b\n---\nc: d\n"] {
        let err = load_err(yaml, &[]);
        assert!(matches!(err, ConfigError::Parse { .. }), "{yaml:?}: {err:?}");
        assert!(err.to_string().starts_with("cannot parse config: "));
    }
}

#[test]
fn log_names_are_case_insensitive_and_print_lowercase() {
    let config =
        Config::load(Some("server: {log_level: DEBUG, log_format: Json}"), &no_env()).unwrap();
    assert_eq!(config.server.log_level, LogLevel::Debug);
    assert_eq!(config.server.log_level.as_str(), "debug");
    assert!(config.to_yaml().contains("log_level: debug"));
    assert!(config.to_yaml().contains("log_format: json"));
}

#[test]
fn error_messages_are_lowercase_without_trailing_period() {
    let errors = [
        load_err("server: {http_listen_prot: 1}", &[]),
        load_err("partitions: {count: 0}", &[]),
        load_err("distributor: {push_timeout: 5}", &[]),
        load_err("- a", &[]),
        Config::load_file(std::path::Path::new("/nonexistent/spanlake.yaml"), &no_env())
            .unwrap_err(),
    ];
    for err in errors {
        let msg = err.to_string();
        assert!(msg.starts_with(|c: char| c.is_ascii_lowercase()), "{msg}");
        assert!(!msg.ends_with('.'), "{msg}");
    }
}

#[test]
fn loopback_ephemeral_test_layout_loads() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "server:\n  http_listen_address: 127.0.0.1\n  http_listen_port: 0\n  grpc_listen_address: 127.0.0.1\n  grpc_listen_port: 0\n\
         distributor:\n  receivers:\n    otlp:\n      protocols:\n        grpc:\n          endpoint: 127.0.0.1:0\n        http:\n          endpoint: 127.0.0.1:0\n\
         storage:\n  trace:\n    wal:\n      path: {}\n\
         supervision:\n  backoff_initial: 10ms\n  backoff_max: 100ms\n",
        dir.path().join("wal").display()
    );
    let config = Config::load(Some(&yaml), &no_env()).unwrap();
    for listener in [
        config.http_listen_addr(),
        config.grpc_listen_addr(),
        config.otlp_grpc_addr(),
        config.otlp_http_addr(),
    ] {
        assert_eq!(listener, addr("127.0.0.1:0"));
    }
    assert_eq!(config.storage.trace.wal.path, dir.path().join("wal"));
    assert_eq!(config.supervision.backoff_max, HumanDuration::from_millis(100));
}

#[test]
fn cluster_defaults_form_a_one_node_cluster() {
    let config = Config::load(None, &HashMap::new()).unwrap();
    assert!(config.cluster.seeds.is_empty());
    assert_eq!(config.cluster.voters, 3);
    assert_eq!(config.cluster.replication_factor, 3);
    assert!(config.cluster.secret.is_empty());
}

#[test]
fn cluster_seeds_come_as_a_list_or_comma_separated_text() {
    let yaml = "cluster:\n  seeds: [a:9095, 'b:9095']\n  secret: s\n";
    let config = Config::load(Some(yaml), &HashMap::new()).unwrap();
    assert_eq!(config.cluster.seeds, vec!["a:9095", "b:9095"]);
    let env = HashMap::from([
        ("SPANLAKE_CLUSTER__SEEDS".to_string(), "x:1, y:2,".to_string()),
        ("SPANLAKE_CLUSTER__SECRET".to_string(), "s".to_string()),
    ]);
    let config = Config::load(None, &env).unwrap();
    assert_eq!(config.cluster.seeds, vec!["x:1", "y:2"]);
}

#[test]
fn cluster_settings_are_validated() {
    let cases = [
        ("cluster:\n  seeds: [a:9095]\n", "cluster.secret"),
        ("cluster:\n  voters: 2\n", "cluster.voters"),
        ("cluster:\n  replication_factor: 0\n", "cluster.replication_factor"),
        ("cluster:\n  seeds: [nohost]\n  secret: s\n", "cluster.seeds"),
        ("cluster:\n  advertise_address: 'h:0'\n", "cluster.advertise_address"),
        (
            "cluster:\n  heartbeat_interval: 1s\n  election_timeout: 2s\n",
            "cluster.election_timeout",
        ),
        ("cluster:\n  tls:\n    cert_file: a.pem\n    key_file: a.key\n", "cluster.tls.ca_file"),
    ];
    for (yaml, key) in cases {
        let error = Config::load(Some(yaml), &HashMap::new()).unwrap_err();
        assert!(error.to_string().contains(key), "{yaml}: {error}");
    }
}

#[test]
fn cluster_secrets_are_redacted() {
    let yaml = "cluster:\n  secret: hunter2\n  admin_token: t0ken\n";
    let config = Config::load(Some(yaml), &HashMap::new()).unwrap();
    let printed = config.to_yaml_redacted();
    assert!(!printed.contains("hunter2") && !printed.contains("t0ken"), "{printed}");
    assert_eq!(printed.matches("<redacted>").count(), 2, "{printed}");
}

#[test]
fn tempos_receiver_example_loads_with_every_protocol_on_its_default_port() {
    let yaml = "distributor:\n  receivers:\n    jaeger:\n      protocols:\n        thrift_http:\n        grpc:\n        thrift_binary:\n        thrift_compact:\n    zipkin:\n    otlp:\n      protocols:\n        http:\n        grpc:\n";
    let config = Config::load(Some(yaml), &Default::default()).expect("Tempo's example loads");
    let receivers = &config.distributor.receivers;
    let jaeger = &receivers.jaeger.protocols;
    let ports = [
        (jaeger.thrift_http.enabled, jaeger.thrift_http.endpoint.port()),
        (jaeger.grpc.enabled, jaeger.grpc.endpoint.port()),
        (jaeger.thrift_compact.enabled, jaeger.thrift_compact.endpoint.port()),
        (jaeger.thrift_binary.enabled, jaeger.thrift_binary.endpoint.port()),
        (receivers.zipkin.enabled, receivers.zipkin.endpoint.port()),
    ];
    assert_eq!(ports, [(true, 14268), (true, 14250), (true, 6831), (true, 6832), (true, 9411)]);
}
