//! The query keys: search result and window limits under `query_frontend.search`, and the
//! search deadline under `querier.search`, at Tempo's paths with Tempo's defaults, so a
//! Tempo config's values apply unchanged. The other keys of these two Tempo sections are
//! accepted and ignored (see `IGNORED_TEMPO_KEYS`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, HumanDuration};

/// `query_frontend`: of Tempo's query-frontend keys, spanlake reads only the search limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryFrontendConfig {
    /// Limits of `GET /api/search` and gRPC `StreamingQuerier.Search` (the window cap also
    /// of the tag routes and methods).
    pub search: SearchLimitsConfig,
}

/// `query_frontend.search`: what a search may ask for, and what it gets when it does not say.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchLimitsConfig {
    /// Traces returned when the request has no `limit`. Default `20`; must be greater than 0
    /// and at most `max_result_limit` (when that is set).
    pub default_result_limit: u32,
    /// Largest `limit` a request may ask for; more is a 400 `limit N exceeds max limit M`.
    /// Default `262144`; `0` means no limit.
    pub max_result_limit: u32,
    /// Widest `start`–`end` window of a search or tag request; wider is a 400 `range
    /// specified by start and end exceeds …`. Default `168h`; `0s` means no limit, otherwise
    /// at least `1s` (windows are whole seconds).
    pub max_duration: HumanDuration,
    /// Spans shown per spanset when the request has no `spss`. Default `3`; `0` shows every
    /// span, and is only allowed when `max_spans_per_span_set` is `0`.
    pub default_spans_per_span_set: u32,
    /// Largest `spss`; more is a 400 `spans per span set exceeds M. received N`. Default
    /// `100`; `0` means no limit (including `spss=0`, every span).
    pub max_spans_per_span_set: u32,
}

impl Default for SearchLimitsConfig {
    fn default() -> Self {
        Self {
            default_result_limit: 20,
            max_result_limit: 256 * 1024,
            max_duration: HumanDuration::from_secs(168 * 3600),
            default_spans_per_span_set: 3,
            max_spans_per_span_set: 100,
        }
    }
}

impl SearchLimitsConfig {
    /// The largest `limit`, if there is one.
    pub fn max_result_limit(&self) -> Option<u32> {
        (self.max_result_limit != 0).then_some(self.max_result_limit)
    }

    /// The largest `spss`, if there is one.
    pub fn max_spans_per_span_set(&self) -> Option<u32> {
        (self.max_spans_per_span_set != 0).then_some(self.max_spans_per_span_set)
    }

    /// The widest window, if there is one.
    pub fn max_duration(&self) -> Option<Duration> {
        (!self.max_duration.is_zero()).then_some(self.max_duration.get())
    }
}

/// `querier`: of Tempo's querier keys, spanlake reads only the search deadline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuerierConfig {
    /// Search and tag queries.
    pub search: QuerierSearchConfig,
}

/// `querier.search`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuerierSearchConfig {
    /// How long a search or tag query may run before it is answered 504 (gRPC
    /// `DeadlineExceeded`). Default `30s`; must be greater than 0s.
    pub query_timeout: HumanDuration,
}

impl Default for QuerierSearchConfig {
    fn default() -> Self {
        Self { query_timeout: HumanDuration::from_secs(30) }
    }
}

/// Checks the query keys; the error names the key and the bad value.
pub(super) fn check_query(
    frontend: &QueryFrontendConfig,
    querier: &QuerierConfig,
) -> Result<(), ConfigError> {
    let search = &frontend.search;
    if search.default_result_limit == 0 {
        return Err(ConfigError::invalid(
            "query_frontend.search.default_result_limit",
            "must be greater than 0, got 0",
        ));
    }
    if let Some(max) = search.max_result_limit()
        && search.default_result_limit > max
    {
        return Err(ConfigError::invalid(
            "query_frontend.search.default_result_limit",
            format!(
                "must be at most query_frontend.search.max_result_limit ({max}), got {}",
                search.default_result_limit
            ),
        ));
    }
    if let Some(max) = search.max_spans_per_span_set() {
        let default = search.default_spans_per_span_set;
        if default == 0 || default > max {
            return Err(ConfigError::invalid(
                "query_frontend.search.default_spans_per_span_set",
                format!(
                    "must be between 1 and query_frontend.search.max_spans_per_span_set ({max}), \
                     got {default} (0, every span, needs max_spans_per_span_set 0)"
                ),
            ));
        }
    }
    if let Some(max) = search.max_duration()
        && max < Duration::from_secs(1)
    {
        return Err(ConfigError::invalid(
            "query_frontend.search.max_duration",
            format!(
                "must be 0s (no limit) or at least 1s (windows are whole seconds), got {}",
                search.max_duration
            ),
        ));
    }
    if querier.search.query_timeout.is_zero() {
        return Err(ConfigError::invalid(
            "querier.search.query_timeout",
            "must be greater than 0s, got 0s",
        ));
    }
    Ok(())
}
