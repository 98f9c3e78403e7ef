//! Search parameters as either protocol carries them, validated in one place.
//!
//! ```text
//!  GET /api/search?q=…&limit=…   ─► search.rs: text → SearchParams ─┐
//!  gRPC StreamingQuerier.Search  ─► SearchParams::from_grpc ────────┴─► validate ─► SearchRequest
//!                                                                        or Tempo's 400 text
//! ```
//!
//! Tempo's frontend turns a gRPC `SearchRequest` into the query string of `/api/search` and
//! parses that, so a zero in a gRPC field means "absent" (default limit, recent data, no
//! duration bound), except `SpansPerSpanSet`, which it always passes on: 0 = every span.
//!
//! As in Tempo, a search without `q` is a legacy tag search (`legacy_tags`): its tags and
//! duration bounds become the query, and its results carry no spansets.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::actors::query::SearchRequest;
use crate::api::error_code::ApiError;
use crate::api::query::legacy_tags::{parse_tags, tags_to_query};
use crate::config::{HumanDuration, SearchLimitsConfig};
use crate::model::ids::TenantId;
use crate::proto::tempopb;
use crate::traceql::ast::Body;
use crate::traceql::{Query, parse_and_validate};

/// Longest query text.
const MAX_QUERY_BYTES: usize = 128 * 1024;

/// A search as the client asked for it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SearchParams {
    /// TraceQL text; absent = a legacy tag search.
    pub query: Option<String>,
    /// The tags of a legacy tag search, if given.
    pub tags: Option<TagsParam>,
    /// Traces to return; 0 is refused.
    pub limit: Option<u32>,
    /// Spans per spanset; 0 = all.
    pub spans_per_spanset: Option<u32>,
    /// Window start, Unix seconds.
    pub start_seconds: Option<u32>,
    /// Window end, Unix seconds.
    pub end_seconds: Option<u32>,
    /// Shortest trace, nanoseconds.
    pub min_duration_nanos: Option<u64>,
    /// Longest trace, nanoseconds.
    pub max_duration_nanos: Option<u64>,
}

/// The tags of a legacy search, as the client sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TagsParam {
    /// `tags=` text, logfmt, not yet read.
    Logfmt(String),
    /// Tags already apart: gRPC `Tags`, or the loose query parameters old Grafana sends.
    Map(BTreeMap<String, String>),
}

impl SearchParams {
    /// The parameters of a gRPC search, read as Tempo reads them (zero = absent).
    pub(crate) fn from_grpc(request: &tempopb::SearchRequest) -> SearchParams {
        let non_zero = |value: u32| (value != 0).then_some(value);
        let millis = |value: u32| non_zero(value).map(|ms| u64::from(ms) * 1_000_000);
        SearchParams {
            query: Some(request.query.clone()).filter(|query| !query.is_empty()),
            tags: (!request.tags.is_empty())
                .then(|| TagsParam::Map(request.tags.clone().into_iter().collect())),
            limit: non_zero(request.limit),
            spans_per_spanset: Some(request.spans_per_span_set),
            start_seconds: non_zero(request.start),
            end_seconds: non_zero(request.end),
            min_duration_nanos: millis(request.min_duration_ms),
            max_duration_nanos: millis(request.max_duration_ms),
        }
    }

    /// Checks every parameter against the configured `limits`; the search to run (given
    /// `timeout`), or the 400 Tempo would answer.
    pub(crate) fn validate(
        self,
        tenants: Vec<TenantId>,
        timeout: Duration,
        limits: &SearchLimitsConfig,
    ) -> Result<SearchRequest, ApiError> {
        if self.query.is_some() && self.tags.is_some() {
            return Err(bad("invalid request: can't specify tags and q in the same query"));
        }
        let (min, max) = (self.min_duration_nanos, self.max_duration_nanos);
        let (query, spansets) = match &self.query {
            Some(text) => (traceql_search(text)?, true),
            None => (legacy_search(self.tags, min, max)?, false),
        };
        let limit = match (self.limit, limits.max_result_limit()) {
            (None, _) => limits.default_result_limit,
            (Some(0), _) => return Err(bad("invalid limit: must be a positive number")),
            (Some(n), Some(max)) if n > max => {
                return Err(bad(format!("limit {n} exceeds max limit {max}")));
            }
            (Some(n), _) => n,
        };
        let spans_per_spanset = match (self.spans_per_spanset, limits.max_spans_per_span_set()) {
            (None, _) => limits.default_spans_per_span_set,
            (Some(n), Some(max)) if n > max => {
                return Err(bad(format!("spans per span set exceeds {max}. received {n}")));
            }
            (Some(n), _) => n,
        };
        let window = window(self.start_seconds, self.end_seconds, limits.max_duration())?;
        if let (Some(min), Some(max)) = (min, max)
            && min > max
        {
            return Err(bad("invalid maxDuration: must be greater than minDuration"));
        }
        Ok(SearchRequest {
            tenants,
            query,
            limit: limit as usize,
            spans_per_spanset: spans_per_spanset as usize,
            window,
            min_duration_nanos: min,
            max_duration_nanos: max,
            spansets,
            timeout,
        })
    }
}

/// A TraceQL search query, checked.
fn traceql_search(text: &str) -> Result<Query, ApiError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(bad(format!(
            "invalid TraceQL query: the query is {} bytes, more than the {MAX_QUERY_BYTES} allowed",
            text.len()
        )));
    }
    let query =
        parse_and_validate(text).map_err(|error| bad(format!("invalid TraceQL query: {error}")))?;
    if !matches!(query.body, Body::Search(_)) {
        return Err(bad(
            "invalid TraceQL query: this is a metrics query; use /api/metrics/query_range",
        ));
    }
    Ok(query)
}

/// The query of a legacy tag search: its tags (none = every trace) and trace duration bounds.
fn legacy_search(
    tags: Option<TagsParam>,
    min_duration_nanos: Option<u64>,
    max_duration_nanos: Option<u64>,
) -> Result<Query, ApiError> {
    let invalid_tags = |error| bad(format!("invalid tags: {error}"));
    let tags = match tags {
        None => BTreeMap::new(),
        Some(TagsParam::Map(tags)) => tags,
        Some(TagsParam::Logfmt(text)) if text.len() > MAX_QUERY_BYTES => {
            return Err(bad(format!(
                "invalid tags: the tags are {} bytes, more than the {MAX_QUERY_BYTES} allowed",
                text.len()
            )));
        }
        Some(TagsParam::Logfmt(text)) => parse_tags(&text).map_err(invalid_tags)?,
    };
    tags_to_query(&tags, min_duration_nanos, max_duration_nanos).map_err(invalid_tags)
}

/// `start`/`end` seconds → an inclusive nanosecond window no wider than `max_duration`
/// (when set); `None` = recent data.
fn window(
    start: Option<u32>,
    end: Option<u32>,
    max_duration: Option<Duration>,
) -> Result<Option<(u64, u64)>, ApiError> {
    let (start, end) = match (start, end) {
        (None, None) => return Ok(None),
        (start, end) => (start.unwrap_or(0), end.unwrap_or(u32::MAX)),
    };
    if end <= start {
        return Err(bad(format!(
            "http parameter start must be before end. received start={start} end={end}"
        )));
    }
    if let Some(max) = max_duration
        && Duration::from_secs(u64::from(end - start)) > max
    {
        // The limit as Go prints it, as Tempo's text has it.
        let max = HumanDuration(max).to_go_string();
        return Err(bad(format!(
            "range specified by start and end exceeds {max}. received start={start} end={end}"
        )));
    }
    let nanos = |seconds: u32| u64::from(seconds) * 1_000_000_000;
    Ok(Some((nanos(start), nanos(end) + 999_999_999)))
}

/// A 400 with `message`.
pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grpc(request: tempopb::SearchRequest) -> Result<SearchRequest, String> {
        SearchParams::from_grpc(&request)
            .validate(
                vec![TenantId::single_tenant()],
                Duration::from_secs(30),
                &SearchLimitsConfig::default(),
            )
            .map_err(|error| error.message)
    }

    #[test]
    fn grpc_zeros_are_absent_except_spans_per_spanset() {
        let search = grpc(tempopb::SearchRequest::default()).unwrap();
        assert_eq!((search.limit, search.spans_per_spanset, search.window), (20, 0, None));
        assert_eq!((search.min_duration_nanos, search.max_duration_nanos), (None, None));
        let search = grpc(tempopb::SearchRequest {
            query: "{ .a = 1 }".into(),
            limit: 5,
            spans_per_span_set: 3,
            start: 100,
            end: 200,
            min_duration_ms: 100,
            max_duration_ms: 2000,
            ..Default::default()
        })
        .unwrap();
        assert_eq!((search.limit, search.spans_per_spanset), (5, 3));
        assert_eq!(search.window, Some((100_000_000_000, 200_999_999_999)));
        assert_eq!(search.min_duration_nanos, Some(100_000_000));
        assert_eq!(search.max_duration_nanos, Some(2_000_000_000));
    }

    #[test]
    fn grpc_tags_are_a_tag_search_like_http_tags() {
        let search = grpc(tempopb::SearchRequest {
            tags: [("service.name", "cart"), ("team", "a b")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            min_duration_ms: 100,
            ..Default::default()
        })
        .unwrap();
        assert!(!search.spansets, "tag search results carry no spansets");
        let expected = parse_and_validate(
            r#"{ resource.service.name =~ ".*cart.*" }
               && { span.team = "a b" || resource.team = "a b" } && { traceDuration >= 100ms }"#,
        )
        .unwrap();
        assert_eq!(search.query, expected);
        let traceql = grpc(tempopb::SearchRequest { query: "{}".into(), ..Default::default() });
        assert!(traceql.unwrap().spansets);
    }

    #[test]
    fn grpc_requests_get_the_http_texts() {
        let cases = [
            (
                tempopb::SearchRequest { query: "{ .a = }".into(), ..Default::default() },
                "invalid TraceQL query: parse error at line 1, col 8",
            ),
            (
                tempopb::SearchRequest { spans_per_span_set: 101, ..Default::default() },
                "spans per span set exceeds 100. received 101",
            ),
            (
                tempopb::SearchRequest { start: 200, end: 100, ..Default::default() },
                "http parameter start must be before end. received start=200 end=100",
            ),
            (
                tempopb::SearchRequest {
                    min_duration_ms: 2,
                    max_duration_ms: 1,
                    ..Default::default()
                },
                "invalid maxDuration: must be greater than minDuration",
            ),
            (
                tempopb::SearchRequest {
                    query: "{}".into(),
                    tags: [("a".to_string(), "b".to_string())].into(),
                    ..Default::default()
                },
                "invalid request: can't specify tags and q in the same query",
            ),
            (
                tempopb::SearchRequest {
                    tags: [("status.code".to_string(), "nope".to_string())].into(),
                    ..Default::default()
                },
                "invalid tags: status.code must be unset, ok or error, got \"nope\"",
            ),
        ];
        for (request, expected) in cases {
            let error = grpc(request.clone()).err().unwrap_or_else(|| panic!("{request:?}"));
            assert!(error.starts_with(expected), "{request:?}: {error}");
        }
    }
}
