//! `GET /api/search` (tempo-api.md §3): TraceQL search, or legacy tag search.
//!
//! Parameters as Tempo takes them: `q`, `tags` (logfmt; not with `q`), `limit`, `spss` (0 =
//! all), `start`/`end` (Unix seconds as uint32; absent = recent data), `minDuration` /
//! `maxDuration` (Go durations, trace duration). The defaults and bounds of `limit`, `spss`
//! and the window are the `query_frontend.search` config keys (Tempo's: 20, at most 262144;
//! 3, at most 100; 168h). Without `q`,
//! `tags`, `start` and `end`, the other parameters are the tags (what the first Grafana
//! releases sent). Every bad parameter is a 400 with Tempo's text; the checks shared with
//! gRPC `StreamingQuerier.Search` live in `search_params`.
//! `Accept: application/protobuf` selects a `tempopb.SearchResponse` body.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::time::Duration;

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse, web};
use prost::Message;

use crate::actors::query::{QueryError, SearchRequest, Searcher};
use crate::api::error_code::ApiError;
use crate::api::query::search_json::render_search;
use crate::api::query::search_params::{SearchParams, TagsParam, bad};
use crate::api::tenant::{ORG_ID_HEADER, query_tenants};
use crate::config::{HumanDuration, SearchLimitsConfig};
use crate::model::ids::TenantId;

/// The parameters that are never loose tags (Tempo's list).
const SEARCH_PARAMETERS: [&str; 8] =
    ["q", "tags", "minDuration", "maxDuration", "limit", "spss", "start", "end"];

/// What the search route needs.
pub(crate) struct SearchState {
    pub searcher: Searcher,
    pub multitenancy: bool,
    pub timeout: Duration,
    /// `query_frontend.search`: defaults and bounds of the parameters.
    pub limits: SearchLimitsConfig,
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
    let search = parse_search(&params, tenants, state.timeout, &state.limits)?;
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

/// Turns the query parameters into a search within `limits`, or the 400 Tempo would answer.
pub(crate) fn parse_search(
    params: &HashMap<String, String>,
    tenants: Vec<TenantId>,
    timeout: Duration,
    limits: &SearchLimitsConfig,
) -> Result<SearchRequest, ApiError> {
    let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let seconds = |name: &str| -> Result<Option<u32>, ApiError> {
        get(name)
            .map(|text| {
                text.parse::<u32>().map_err(|error| bad(format!("invalid {name}: {error}")))
            })
            .transpose()
    };
    let limit = get("limit")
        .map(|text| {
            text.parse::<u32>().map_err(|_| bad("invalid limit: must be a positive number"))
        })
        .transpose()?;
    let spans_per_spanset = get("spss")
        .map(|text| {
            text.parse::<u32>().map_err(|_| bad(format!("invalid spss: {text:?} is not a number")))
        })
        .transpose()?;
    let start_seconds = seconds("start")?;
    let end_seconds = seconds("end")?;
    let no_window = start_seconds.unwrap_or(0) == 0 && end_seconds.unwrap_or(0) == 0;
    let tags = match get("tags") {
        Some(text) => Some(TagsParam::Logfmt(text.to_string())),
        None if get("q").is_none() && no_window => {
            let loose: BTreeMap<String, String> = params
                .iter()
                .filter(|(name, value)| {
                    !SEARCH_PARAMETERS.contains(&name.as_str()) && !value.is_empty()
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            (!loose.is_empty()).then_some(TagsParam::Map(loose))
        }
        None => None,
    };
    SearchParams {
        query: get("q").map(str::to_string),
        tags,
        limit,
        spans_per_spanset,
        start_seconds,
        end_seconds,
        min_duration_nanos: parse_duration("minDuration", get("minDuration"))?,
        max_duration_nanos: parse_duration("maxDuration", get("maxDuration"))?,
    }
    .validate(tenants, timeout, limits)
}

fn parse_duration(name: &str, text: Option<&str>) -> Result<Option<u64>, ApiError> {
    text.map(|t| {
        HumanDuration::from_str(t)
            .map(|d| u64::try_from(d.0.as_nanos()).unwrap_or(u64::MAX))
            .map_err(|error| bad(format!("invalid {name}: {error}")))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traceql::parse_and_validate;

    fn parse(pairs: &[(&str, &str)]) -> Result<SearchRequest, String> {
        parse_within(pairs, &SearchLimitsConfig::default())
    }

    fn parse_within(
        pairs: &[(&str, &str)],
        limits: &SearchLimitsConfig,
    ) -> Result<SearchRequest, String> {
        let params = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        parse_search(&params, vec![TenantId::single_tenant()], Duration::from_secs(30), limits)
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
        assert_eq!(parse(&[("limit", "262144")]).unwrap().limit, 262_144);
    }

    #[test]
    fn a_search_without_q_is_a_tag_search_without_spansets() {
        let text = |pairs: &[(&str, &str)]| {
            let search = parse(pairs).unwrap();
            assert!(!search.spansets, "{pairs:?}");
            search.query.to_string()
        };
        assert_eq!(
            text(&[("tags", "service.name=cart team=\"a b\""), ("minDuration", "1s")]),
            parse_and_validate(
                "{ resource.service.name =~ \".*cart.*\" } \
                 && { span.team = \"a b\" || resource.team = \"a b\" } \
                 && { traceDuration >= 1s }"
            )
            .unwrap()
            .to_string()
        );
        assert_eq!(text(&[]), "{ true }");
        assert_eq!(text(&[("limit", "5"), ("spss", "2")]), "{ true }", "no loose tags");
        // Loose parameters are tags only without q, tags, start and end.
        assert_eq!(
            text(&[("team", "a"), ("limit", "5")]),
            "{ span.team = \"a\" || resource.team = \"a\" }"
        );
        assert_eq!(text(&[("team", "a"), ("start", "10"), ("end", "20")]), "{ true }");
        assert_eq!(
            text(&[("team", "a"), ("tags", "x=1")]),
            "{ span.x = \"1\" || resource.x = \"1\" }"
        );
        let traceql = parse(&[("q", "{}"), ("team", "a")]).unwrap();
        assert!(traceql.spansets);
        assert_eq!(traceql.query.to_string(), "{ true }");
    }

    #[test]
    fn configured_limits_set_defaults_and_bounds() {
        let limits = SearchLimitsConfig {
            default_result_limit: 7,
            max_result_limit: 10,
            max_duration: HumanDuration::from_secs(3600),
            default_spans_per_span_set: 2,
            max_spans_per_span_set: 5,
        };
        let search = parse_within(&[], &limits).unwrap();
        assert_eq!((search.limit, search.spans_per_spanset), (7, 2));
        let search = parse_within(
            &[("limit", "10"), ("spss", "5"), ("start", "0"), ("end", "3600")],
            &limits,
        )
        .unwrap();
        assert_eq!((search.limit, search.spans_per_spanset), (10, 5));
        let refusals = [
            (("limit", "11"), "limit 11 exceeds max limit 10"),
            (("spss", "6"), "spans per span set exceeds 5. received 6"),
            (
                ("end", "3601"),
                "range specified by start and end exceeds 1h0m0s. received start=0 end=3601",
            ),
        ];
        for ((name, value), expected) in refusals {
            let params = [("start", "0"), (name, value)];
            assert_eq!(parse_within(&params, &limits).err().as_deref(), Some(expected));
        }
        // Zero bounds are no bounds: any limit, any spss (0 = every span), any window.
        let unbounded = SearchLimitsConfig {
            max_result_limit: 0,
            max_duration: HumanDuration::ZERO,
            default_spans_per_span_set: 0,
            max_spans_per_span_set: 0,
            ..limits
        };
        let search = parse_within(
            &[("limit", "4294967295"), ("spss", "1000"), ("start", "1"), ("end", "4294967295")],
            &unbounded,
        )
        .unwrap();
        assert_eq!((search.limit, search.spans_per_spanset), (4_294_967_295, 1000));
        assert_eq!(parse_within(&[], &unbounded).unwrap().spans_per_spanset, 0);
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
            (vec![("limit", "262145")], "limit 262145 exceeds max limit 262144"),
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
            (vec![("tags", "a=1 a=2")], "invalid tags: tag a has been set twice"),
            (vec![("tags", "service.name=foo =error")], "invalid tags: unexpected '=' at pos 18"),
            (vec![("tags", "a=\"b")], "invalid tags: unterminated quoted value at pos 5"),
            (vec![("tags", "status.code=bad")], "invalid tags: status.code must be unset"),
        ];
        for (params, expected) in cases {
            let error = parse(&params).err().unwrap_or_else(|| panic!("{params:?} should fail"));
            assert!(error.starts_with(expected) || error.contains(expected), "{params:?}: {error}");
        }
    }
}
