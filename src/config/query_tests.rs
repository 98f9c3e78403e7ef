//! Tests of the query keys (`query_frontend.search.*`, `querier.search.query_timeout`):
//! defaults, one test per validation rule, Tempo sections read in part, environment.

use std::collections::HashMap;
use std::time::Duration;

use super::*;

fn env(vars: &[(&str, &str)]) -> HashMap<String, String> {
    vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn load(yaml: &str) -> Result<Config, ConfigError> {
    Config::load(Some(yaml), &HashMap::new())
}

/// Asserts that `yaml` is refused for `key`, with a message containing each of `parts`.
fn assert_invalid(yaml: &str, key: &str, parts: &[&str]) {
    let err = load(yaml).expect_err(yaml);
    assert!(matches!(&err, ConfigError::Invalid { key: k, .. } if k == key), "{yaml}: {err:?}");
    let message = err.to_string();
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn query_defaults_are_tempos() {
    let config = Config::load(None, &HashMap::new()).unwrap();
    let search = &config.query_frontend.search;
    assert_eq!(search.default_result_limit, 20);
    assert_eq!(search.max_result_limit(), Some(262_144));
    assert_eq!(search.max_duration(), Some(Duration::from_secs(168 * 3600)));
    assert_eq!(search.default_spans_per_span_set, 3);
    assert_eq!(search.max_spans_per_span_set(), Some(100));
    assert_eq!(config.querier.search.query_timeout, HumanDuration::from_secs(30));
    let printed = config.to_yaml();
    assert!(printed.contains("max_duration: 168h"), "{printed}");
    assert!(printed.contains("query_timeout: 30s"), "{printed}");
}

#[test]
fn zero_maxima_mean_no_limit() {
    let config = load(
        "query_frontend:\n  search:\n    max_result_limit: 0\n    max_duration: 0s\n    \
         max_spans_per_span_set: 0\n    default_spans_per_span_set: 0\n",
    )
    .unwrap();
    let search = &config.query_frontend.search;
    assert_eq!(
        (search.max_result_limit(), search.max_duration(), search.max_spans_per_span_set()),
        (None, None, None)
    );
    assert_eq!(search.default_spans_per_span_set, 0, "every span, allowed without a maximum");
}

#[test]
fn default_result_limit_must_be_positive() {
    assert_invalid(
        "query_frontend: {search: {default_result_limit: 0}}",
        "query_frontend.search.default_result_limit",
        &["must be greater than 0, got 0"],
    );
}

#[test]
fn default_result_limit_must_fit_under_the_maximum() {
    assert_invalid(
        "query_frontend: {search: {default_result_limit: 50, max_result_limit: 10}}",
        "query_frontend.search.default_result_limit",
        &["must be at most query_frontend.search.max_result_limit (10), got 50"],
    );
    let unbounded = "query_frontend: {search: {default_result_limit: 5000, max_result_limit: 0}}";
    assert_eq!(load(unbounded).unwrap().query_frontend.search.default_result_limit, 5000);
}

#[test]
fn default_spans_per_span_set_must_fit_under_the_maximum() {
    for default in ["0", "101"] {
        assert_invalid(
            &format!("query_frontend: {{search: {{default_spans_per_span_set: {default}}}}}"),
            "query_frontend.search.default_spans_per_span_set",
            &["between 1 and query_frontend.search.max_spans_per_span_set (100)", "got"],
        );
    }
}

#[test]
fn max_duration_is_zero_or_at_least_a_second() {
    assert_invalid(
        "query_frontend: {search: {max_duration: 500ms}}",
        "query_frontend.search.max_duration",
        &["must be 0s (no limit) or at least 1s", "got 500ms"],
    );
    assert_invalid(
        "query_frontend: {search: {max_duration: 24}}",
        "query_frontend.search.max_duration",
        &["add a unit"],
    );
}

#[test]
fn query_timeout_must_be_positive() {
    assert_invalid(
        "querier: {search: {query_timeout: 0s}}",
        "querier.search.query_timeout",
        &["must be greater than 0s, got 0s"],
    );
}

#[test]
fn negative_and_oversized_numbers_are_refused() {
    assert_invalid(
        "query_frontend: {search: {max_result_limit: -1}}",
        "query_frontend.search.max_result_limit",
        &["must not be negative"],
    );
    assert!(load("query_frontend: {search: {max_result_limit: 4294967296}}").is_err());
}

#[test]
fn a_tempo_config_is_read_in_part_and_the_rest_ignored_by_name() {
    let yaml = r#"
query_frontend:
  max_outstanding_per_tenant: 2000
  search:
    concurrent_jobs: 1000
    default_result_limit: 40
    max_duration: 24h
  trace_by_id:
    query_shards: 50
querier:
  search:
    query_timeout: 1m
  frontend_worker:
    frontend_address: localhost:9095
"#;
    let loaded = LoadedConfig::load(Some(yaml), &HashMap::new()).unwrap();
    assert_eq!(loaded.config.query_frontend.search.default_result_limit, 40);
    assert_eq!(
        loaded.config.query_frontend.search.max_duration(),
        Some(Duration::from_secs(86_400))
    );
    assert_eq!(loaded.config.querier.search.query_timeout, HumanDuration::from_secs(60));
    let keys: Vec<&str> =
        loaded.ignored_keys.iter().map(|note| note.split('"').nth(1).unwrap_or_default()).collect();
    assert_eq!(
        keys,
        [
            "querier.frontend_worker",
            "query_frontend.max_outstanding_per_tenant",
            "query_frontend.search.concurrent_jobs",
            "query_frontend.trace_by_id",
        ]
    );
}

#[test]
fn a_typo_of_a_query_key_is_an_error_not_a_warning() {
    let err = load("query_frontend: {search: {max_duratoin: 1h}}").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("query_frontend.search.max_duratoin"), "{message}");
    assert!(message.contains("query_frontend.search.max_duration"), "{message}");
}

#[test]
fn environment_sets_query_keys() {
    let vars = env(&[
        ("SPANLAKE_QUERY_FRONTEND__SEARCH__MAX_DURATION", "2h"),
        ("SPANLAKE_QUERIER__SEARCH__QUERY_TIMEOUT", "5s"),
    ]);
    let config = Config::load(None, &vars).unwrap();
    assert_eq!(config.query_frontend.search.max_duration(), Some(Duration::from_secs(7200)));
    assert_eq!(config.querier.search.query_timeout, HumanDuration::from_secs(5));
    let bad = env(&[("SPANLAKE_QUERIER__SEARCH__QUERY_TIMEOUT", "0s")]);
    let message = Config::load(None, &bad).unwrap_err().to_string();
    assert!(message.contains("SPANLAKE_QUERIER__SEARCH__QUERY_TIMEOUT"), "{message}");
}
