//! `GET /api/search` (tempo-api.md §3): TraceQL search.
//!
//! Parameters as Tempo takes them: `q`, `limit` (default 20), `spss` (default 3, at most 100,
//! 0 = all), `start`/`end` (Unix seconds as uint32; absent = recent data), `minDuration` /
//! `maxDuration` (Go durations, trace duration). Every bad parameter is a 400 with Tempo's
//! text. `Accept: application/protobuf` selects a `tempopb.SearchResponse` body.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse, web};
use prost::Message;

use crate::actors::query::{QueryError, SearchRequest, Searcher};
use crate::api::error_code::{ApiError, ErrorCode};
use crate::api::query::search_json::render_search;
use crate::api::tenant::{ORG_ID_HEADER, query_tenants};
use crate::config::HumanDuration;
use crate::traceql::ast::Body;
use crate::traceql::parse_and_validate;

/// Traces returned when `limit` is absent.
const DEFAULT_LIMIT: usize = 20;
/// Largest `limit` honoured (larger values are cut to it).
const MAX_LIMIT: usize = 262_144;
/// Spans per spanset when `spss` is absent.
const DEFAULT_SPSS: usize = 3;
/// Largest `spss`.
const MAX_SPSS: usize = 100;
/// Longest query text.
const MAX_QUERY_BYTES: usize = 128 * 1024;
/// Widest `start`–`end` window.
const MAX_RANGE: Duration = Duration::from_secs(168 * 3600);

/// What the search route needs.
pub(crate) struct SearchState {
    pub searcher: Searcher,
    pub multitenancy: bool,
    pub timeout: Duration,
}

/// Registers the route.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.route("/api/search", web::get().to(search));
}

async fn search(
    request: HttpRequest,
    params: web::Query<HashMap<String, String>>,
    state: web::Data<SearchState>,
) -> Result<HttpResponse, ApiError> {
    let header = request.headers().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
    let tenants = query_tenants(state.multitenancy, header)?;
    let search = parse_search(&params, tenants, state.timeout)?;
    let response = state
        .searcher
        .search(&search)
        .await
        .map_err(|error: QueryError| ApiError::new(error.error_code(), error.to_string()))?;
    let accepts_protobuf = request
        .headers()
        .get_all(ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/protobuf"));
    if accepts_protobuf {
        return Ok(HttpResponse::Ok()
            .content_type("application/protobuf")
            .body(response.encode_to_vec()));
    }
    Ok(HttpResponse::Ok().content_type("application/json").body(render_search(&response)))
}

/// Turns the query parameters into a search, or the 400 Tempo would answer.
pub(crate) fn parse_search(
    params: &HashMap<String, String>,
    tenants: Vec<crate::model::ids::TenantId>,
    timeout: Duration,
) -> Result<SearchRequest, ApiError> {
    let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if get("q").is_some() && get("tags").is_some() {
        return Err(bad("invalid request: can't specify tags and q in the same query"));
    }
    if get("tags").is_some() {
        return Err(bad(
            "invalid request: tag search (tags=) is not supported yet; use q with TraceQL",
        ));
    }
    let text = get("q").unwrap_or("{}");
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
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(0) | Err(_) => return Err(bad("invalid limit: must be a positive number")),
            Ok(n) => (n as usize).min(MAX_LIMIT),
        },
    };
    let spans_per_spanset = match get("spss") {
        None => DEFAULT_SPSS,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n as usize > MAX_SPSS => {
                return Err(bad(format!("spans per span set exceeds {MAX_SPSS}. received {n}")));
            }
            Ok(n) => n as usize,
            Err(_) => return Err(bad(format!("invalid spss: {text:?} is not a number"))),
        },
    };
    let window = parse_window(get("start"), get("end"))?;
    let min = parse_duration("minDuration", get("minDuration"))?;
    let max = parse_duration("maxDuration", get("maxDuration"))?;
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        return Err(bad("invalid maxDuration: must be greater than minDuration"));
    }
    Ok(SearchRequest {
        tenants,
        query,
        limit,
        spans_per_spanset,
        window,
        min_duration_nanos: min,
        max_duration_nanos: max,
        timeout,
    })
}

/// `start`/`end` as uint32 seconds → a nanosecond window.
fn parse_window(start: Option<&str>, end: Option<&str>) -> Result<Option<(u64, u64)>, ApiError> {
    let seconds = |name: &str, text: Option<&str>| -> Result<Option<u64>, ApiError> {
        text.map(|t| {
            t.parse::<u32>().map(u64::from).map_err(|error| bad(format!("invalid {name}: {error}")))
        })
        .transpose()
    };
    let (start, end) = (seconds("start", start)?, seconds("end", end)?);
    let (start, end) = match (start, end) {
        (None, None) => return Ok(None),
        (start, end) => (start.unwrap_or(0), end.unwrap_or(u64::from(u32::MAX))),
    };
    if end <= start {
        return Err(bad(format!(
            "http parameter start must be before end. received start={start} end={end}"
        )));
    }
    if end - start > MAX_RANGE.as_secs() {
        // Go's text for MAX_RANGE, as Tempo prints it.
        return Err(bad(format!(
            "range specified by start and end exceeds 168h0m0s. received start={start} end={end}"
        )));
    }
    let nanos = |s: u64| s.saturating_mul(1_000_000_000);
    Ok(Some((nanos(start), nanos(end).saturating_add(999_999_999))))
}

fn parse_duration(name: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    text.map(|t| {
        HumanDuration::from_str(t)
            .map(|d| u64::try_from(d.0.as_nanos()).unwrap_or(u64::MAX))
            .map_err(|error| bad(format!("invalid {name}: {error}")))
    })
    .transpose()
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::TenantId;

    fn parse(pairs: &[(&str, &str)]) -> Result<SearchRequest, String> {
        let params = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse_search(&params, vec![TenantId::single_tenant()], Duration::from_secs(30))
            .map_err(|e| e.message)
    }

    #[test]
    fn defaults_and_values() {
        let s = parse(&[("q", "{ .a = 1 }")]).unwrap();
        assert_eq!((s.limit, s.spans_per_spanset, s.window), (20, 3, None));
        let s = parse(&[
            ("q", "{}"),
            ("limit", "5"),
            ("spss", "0"),
            ("start", "100"),
            ("end", "200"),
            ("minDuration", "100ms"),
            ("maxDuration", "1h2m"),
        ])
        .unwrap();
        assert_eq!((s.limit, s.spans_per_spanset), (5, 0));
        assert_eq!(s.window, Some((100_000_000_000, 200_999_999_999)));
        assert_eq!(s.min_duration_nanos, Some(100_000_000));
        assert_eq!(s.max_duration_nanos, Some(3_720_000_000_000));
        assert_eq!(parse(&[("limit", "999999999")]).unwrap().limit, MAX_LIMIT);
    }

    #[test]
    fn bad_parameters_get_tempos_messages() {
        let cases = [
            (
                vec![("q", "{}"), ("tags", "a=b")],
                "invalid request: can't specify tags and q in the same query",
            ),
            (vec![("q", "{ .a = }")], "invalid TraceQL query: parse error at line 1, col 8"),
            (vec![("q", "{ 1 = \"a\" }")], "invalid TraceQL query: invalid query: cannot compare"),
            (vec![("q", "{} | rate()")], "this is a metrics query"),
            (vec![("limit", "0")], "invalid limit: must be a positive number"),
            (vec![("spss", "101")], "spans per span set exceeds 100. received 101"),
            (vec![("start", "1700000000000000000")], "invalid start"),
            (vec![("start", "200"), ("end", "100")], "http parameter start must be before end"),
            (
                vec![("start", "0"), ("end", "1000000")],
                "range specified by start and end exceeds 168h0m0s",
            ),
            (
                vec![("minDuration", "2s"), ("maxDuration", "1s")],
                "invalid maxDuration: must be greater than minDuration",
            ),
            (vec![("minDuration", "fast")], "invalid minDuration"),
        ];
        for (params, expected) in cases {
            let error = parse(&params).err().unwrap_or_else(|| panic!("{params:?} should fail"));
            assert!(error.starts_with(expected) || error.contains(expected), "{params:?}: {error}");
        }
    }
}
