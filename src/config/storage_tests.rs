//! Tests of the storage, block-builder and live-store keys: defaults, backend
//! validation, environment overrides and redaction of secrets.

use std::collections::HashMap;
use std::path::PathBuf;

use super::*;

fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn load(yaml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(Some(yaml), &env(vars))
}

/// Asserts an `Invalid` error for `key` whose message contains each of `parts`.
fn assert_invalid(result: Result<Config, ConfigError>, key: &str, parts: &[&str]) {
    let err = result.expect_err("config must be rejected");
    assert_eq!(err.key(), Some(key), "{err}");
    assert!(matches!(err, ConfigError::Invalid { .. }), "{err:?}");
    let message = err.to_string();
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn storage_defaults_are_documented_values() {
    let config = Config::load(None, &HashMap::new()).unwrap();
    let trace = &config.storage.trace;
    assert_eq!(trace.backend, StorageBackend::Local);
    assert_eq!(trace.local.path, PathBuf::from("./data/blocks"));
    assert_eq!(trace.s3, S3StorageConfig::default());
    assert!(trace.s3.bucket.is_empty() && !trace.s3.insecure && !trace.s3.forcepathstyle);
    assert!(trace.gcs.bucket_name.is_empty() && !trace.gcs.insecure);
    assert!(trace.azure.container_name.is_empty() && !trace.azure.use_emulator);
    assert_eq!(trace.retry.max_retries, 5);
    assert_eq!(trace.retry.backoff_initial, HumanDuration::from_millis(100));
    assert_eq!(trace.retry.backoff_max, HumanDuration::from_secs(5));
    assert_eq!(trace.retry.timeout, HumanDuration::from_secs(30));
    assert_eq!(trace.block.bloom_filter_false_positive, 0.01);
    assert_eq!(trace.block.bloom_filter_shard_size_bytes, 102_400);
    assert_eq!(trace.block.row_group_spans, 65_536);
    assert_eq!(trace.block.page_rows, 1024);
    let builder = &config.block_builder;
    assert_eq!(builder.max_block_duration, HumanDuration::from_secs(300));
    assert_eq!(builder.max_block_bytes, 67_108_864);
    assert_eq!(builder.trace_idle_period, HumanDuration::from_secs(10));
    assert_eq!(builder.flush_check_period, HumanDuration::from_secs(1));
    assert_eq!(config.live_store.recent_window, HumanDuration::from_secs(30));

    let yaml = Config::default().to_yaml();
    for line in ["backend: local", "path: ./data/blocks", "max_block_duration: 5m", "timeout: 30s"]
    {
        assert!(yaml.contains(line), "{line:?} missing from:\n{yaml}");
    }
}

#[test]
fn tempo_s3_section_loads_and_env_overrides_it() {
    let yaml = r#"
storage:
  trace:
    backend: s3
    s3:
      bucket: tempo-traces
      endpoint: minio:9000
      access_key: tempo
      secret_key: supersecret
      insecure: true
      forcepathstyle: true
      prefix: cluster-a
block_builder:
  max_block_duration: 1m
live_store:
  recent_window: 0s
"#;
    let vars = [
        ("SPANLAKE_STORAGE__TRACE__S3__BUCKET", "from-env"),
        ("SPANLAKE_STORAGE__TRACE__S3__REGION", "eu-west-1"),
        ("SPANLAKE_STORAGE__TRACE__RETRY__MAX_RETRIES", "0"),
        ("SPANLAKE_STORAGE__TRACE__BLOCK__BLOOM_FILTER_FALSE_POSITIVE", "0.05"),
        ("SPANLAKE_BLOCK_BUILDER__TRACE_IDLE_PERIOD", "2s"),
    ];
    let config = load(yaml, &vars).unwrap();
    let s3 = &config.storage.trace.s3;
    assert_eq!(config.storage.trace.backend, StorageBackend::S3);
    assert_eq!(s3.bucket, "from-env");
    assert_eq!(s3.region, "eu-west-1");
    assert_eq!(s3.endpoint, "minio:9000");
    assert_eq!((s3.access_key.as_str(), s3.secret_key.as_str()), ("tempo", "supersecret"));
    assert!(s3.insecure && s3.forcepathstyle);
    assert_eq!(s3.prefix, "cluster-a");
    assert_eq!(config.storage.trace.retry.max_retries, 0);
    assert_eq!(config.storage.trace.block.bloom_filter_false_positive, 0.05);
    assert_eq!(config.block_builder.max_block_duration, HumanDuration::from_secs(60));
    assert_eq!(config.block_builder.trace_idle_period, HumanDuration::from_secs(2));
    assert!(config.live_store.recent_window.is_zero());
    // The full YAML round-trips, secrets included.
    assert_eq!(load(&config.to_yaml(), &[]).unwrap(), config);
}

#[test]
fn backend_names_are_case_insensitive_and_unknown_ones_listed() {
    let config = load("storage: {trace: {backend: MEMORY}}", &[]).unwrap();
    assert_eq!(config.storage.trace.backend, StorageBackend::Memory);
    assert_invalid(
        load("storage: {trace: {backend: swift}}", &[]),
        "storage.trace.backend",
        &["\"swift\"", "local, s3, gcs, azure, memory"],
    );
}

#[test]
fn the_chosen_backend_needs_its_required_keys() {
    assert_invalid(
        load("storage: {trace: {backend: s3}}", &[]),
        "storage.trace.s3.bucket",
        &["must be set with storage.trace.backend: s3"],
    );
    assert_invalid(
        load("storage: {trace: {backend: gcs}}", &[]),
        "storage.trace.gcs.bucket_name",
        &["must be set with storage.trace.backend: gcs"],
    );
    assert_invalid(
        load("storage: {trace: {backend: azure, azure: {storage_account_name: acct}}}", &[]),
        "storage.trace.azure.container_name",
        &["must be set"],
    );
    assert_invalid(
        load("storage: {trace: {backend: azure, azure: {container_name: traces}}}", &[]),
        "storage.trace.azure.storage_account_name",
        &["must be set with storage.trace.backend: azure"],
    );
    assert_invalid(
        load("storage: {trace: {local: {path: ''}}}", &[]),
        "storage.trace.local.path",
        &["must not be empty"],
    );
    // Credentials go into HTTP headers; the error does not show them.
    let err = load("storage: {trace: {backend: s3, s3: {bucket: b, secret_key: \"abc\\n\"}}}", &[])
        .unwrap_err();
    assert_eq!(err.key(), Some("storage.trace.s3.secret_key"), "{err}");
    assert!(err.to_string().contains("printable ASCII") && !err.to_string().contains("abc"));
    // The emulator has a well-known account; an unused backend's keys are not checked.
    load("storage: {trace: {backend: azure, azure: {container_name: c, use_emulator: true}}}", &[])
        .unwrap();
    load("storage: {trace: {backend: memory, local: {path: ''}}}", &[]).unwrap();
    load("storage: {trace: {backend: gcs, gcs: {bucket_name: b}}}", &[]).unwrap();
    // The error says which variable set a bad value.
    assert_invalid(
        load("", &[("SPANLAKE_STORAGE__TRACE__BACKEND", "s3")]),
        "storage.trace.s3.bucket",
        &["must be set"],
    );
}

#[test]
fn block_and_retry_ranges_name_key_and_value() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "storage: {trace: {block: {bloom_filter_false_positive: 0}}}",
            "storage.trace.block.bloom_filter_false_positive",
            &["greater than 0 and at most 0.5, got 0"],
        ),
        (
            "storage: {trace: {block: {bloom_filter_false_positive: 0.6}}}",
            "storage.trace.block.bloom_filter_false_positive",
            &["got 0.6"],
        ),
        (
            "storage: {trace: {block: {bloom_filter_false_positive: often}}}",
            "storage.trace.block.bloom_filter_false_positive",
            &["expected a number, got \"often\""],
        ),
        (
            "storage: {trace: {block: {bloom_filter_shard_size_bytes: 0}}}",
            "storage.trace.block.bloom_filter_shard_size_bytes",
            &["greater than 0, got 0"],
        ),
        (
            "storage: {trace: {block: {row_group_spans: 0}}}",
            "storage.trace.block.row_group_spans",
            &["got 0"],
        ),
        ("storage: {trace: {block: {page_rows: 0}}}", "storage.trace.block.page_rows", &["got 0"]),
        (
            "storage: {trace: {block: {page_rows: 2048, row_group_spans: 1024}}}",
            "storage.trace.block.page_rows",
            &["at most storage.trace.block.row_group_spans (1024), got 2048"],
        ),
        (
            "storage: {trace: {retry: {backoff_initial: 10s}}}",
            "storage.trace.retry.backoff_initial",
            &["at most storage.trace.retry.backoff_max (5s), got 10s"],
        ),
        ("storage: {trace: {retry: {timeout: 0s}}}", "storage.trace.retry.timeout", &["got 0s"]),
        (
            "storage: {trace: {retry: {max_retries: -1}}}",
            "storage.trace.retry.max_retries",
            &["must not be negative"],
        ),
        (
            "block_builder: {max_block_bytes: 0}",
            "block_builder.max_block_bytes",
            &["greater than 0, got 0"],
        ),
        (
            "block_builder: {max_block_duration: 0s}",
            "block_builder.max_block_duration",
            &["got 0s"],
        ),
        ("block_builder: {trace_idle_period: 0s}", "block_builder.trace_idle_period", &["got 0s"]),
        (
            "block_builder: {flush_check_period: 10}",
            "block_builder.flush_check_period",
            &["bare number 10"],
        ),
        ("live_store: {recent_window: soon}", "live_store.recent_window", &["\"soon\""]),
        (
            "storage: {trace: {s3: {insecure: yes}}}",
            "storage.trace.s3.insecure",
            &["expected true or false"],
        ),
    ];
    for (yaml, key, parts) in cases {
        assert_invalid(load(yaml, &[]), key, parts);
    }
    assert_invalid(
        load("", &[("SPANLAKE_STORAGE__TRACE__BLOCK__BLOOM_FILTER_FALSE_POSITIVE", "NaN")]),
        "storage.trace.block.bloom_filter_false_positive",
        &["got NaN", "SPANLAKE_STORAGE__TRACE__BLOCK__BLOOM_FILTER_FALSE_POSITIVE"],
    );
}

#[test]
fn unknown_backend_keys_are_named() {
    let err = load("storage: {trace: {s3: {buckt: x}}}", &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown config key \"storage.trace.s3.buckt\": did you mean \"storage.trace.s3.bucket\"?"
    );
    let err = load("", &[("SPANLAKE_STORAGE__TRACE__GCS__BUCKET", "x")]).unwrap_err();
    assert_eq!(err.key(), Some("storage.trace.gcs.bucket"));
}

#[test]
fn printed_config_redacts_secrets_that_are_set() {
    let mut config = Config::default();
    config.storage.trace.s3.access_key = "AKIAVISIBLE".into();
    config.storage.trace.s3.secret_key = "s3-secret-value".into();
    config.storage.trace.azure.storage_account_key = "azure-key-value".into();
    let printed = config.to_yaml_redacted();
    assert!(!printed.contains("s3-secret-value") && !printed.contains("azure-key-value"));
    assert!(printed.contains("secret_key: <redacted>"), "{printed}");
    assert!(printed.contains("storage_account_key: <redacted>"), "{printed}");
    // An unset secret prints as unset; the access key id is not a secret.
    assert!(printed.contains("session_token: ''"), "{printed}");
    assert!(printed.contains("access_key: AKIAVISIBLE"), "{printed}");
    // The redacted copy differs only in the secrets; the original keeps them.
    let redacted = config.redacted();
    assert_eq!(redacted.storage.trace.s3.secret_key, REDACTED);
    assert_eq!(config.storage.trace.s3.secret_key, "s3-secret-value");
    assert_eq!(Config::default().to_yaml_redacted(), Config::default().to_yaml());
    // Secrets from the environment are redacted too.
    let from_env = load("", &[("SPANLAKE_STORAGE__TRACE__S3__SESSION_TOKEN", "tok-123")]).unwrap();
    assert!(!from_env.to_yaml_redacted().contains("tok-123"));
    assert!(from_env.to_yaml().contains("tok-123"));
}
