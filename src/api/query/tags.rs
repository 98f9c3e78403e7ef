//! Tag autocomplete routes (tempo-api.md §4):
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/search/tags` | `SearchTagsResponse`: names, unscoped |
//! | `GET /api/v2/search/tags` | `SearchTagsV2Response`: names per scope, intrinsics |
//! | `GET /api/search/tag/<tag>/values` | `SearchTagValuesResponse`: strings |
//! | `GET /api/v2/search/tag/<tag>/values` | `SearchTagValuesV2Response`: typed values |
//!
//! Parameters become Tempo's request messages (`SearchTagsRequest`,
//! `SearchTagValuesRequest`), which the core validates (`actors::query::tag_request`):
//! `scope`, `q`, `start`/`end` (int32 seconds), `limit`, `maxStaleValues`. As in Tempo, the
//! names routes ignore a `limit` or `maxStaleValues` that is not a number, the values routes
//! answer 400.
//!
//! The tag is everything between `/tag/` and the **last** `/values` of the raw path,
//! percent-decoded once: names may contain `/` (raw or `%2F`), spaces, `#`, `%`, `&`, emoji.
//! The routes match any tail (`{tail:.*}`) and cut the raw path themselves, since actix's
//! matcher does not decode `%2F`.
//!
//! `Accept: application/protobuf` selects the protobuf message.

use std::collections::HashMap;

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse, web};
use prost::Message;

use crate::actors::query::QueryError;
use crate::actors::query::tag_request::{
    TagRequestBounds, TagRequestError, TagValuesQuery, TagsQuery,
};
use crate::actors::query::tags::TagSearcher;
use crate::api::error_code::{ApiError, ErrorCode};
use crate::api::query::tags_json::{
    render_tag_values_v1, render_tag_values_v2, render_tags_v1, render_tags_v2,
};
use crate::api::tenant::{ORG_ID_HEADER, query_tenants};
use crate::model::ids::TenantId;
use crate::proto::tempopb;

/// The v1 values route's path before the tag.
const V1_VALUES_PREFIX: &str = "/api/search/tag/";
/// The v2 values route's path before the tag.
const V2_VALUES_PREFIX: &str = "/api/v2/search/tag/";
/// What follows the tag.
const VALUES_SUFFIX: &str = "/values";

/// What the tag routes need.
pub(crate) struct TagsState {
    pub searcher: TagSearcher,
    pub multitenancy: bool,
    /// Query timeout and widest window, from the config.
    pub bounds: TagRequestBounds,
}

/// Registers the four routes.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/search/tags", web::get().to(tags_v1))
        .route("/api/v2/search/tags", web::get().to(tags_v2))
        .route("/api/search/tag/{tail:.*}", web::get().to(tag_values_v1))
        .route("/api/v2/search/tag/{tail:.*}", web::get().to(tag_values_v2));
}

type Params = web::Query<HashMap<String, String>>;

async fn tags_v1(
    request: HttpRequest,
    params: Params,
    state: web::Data<TagsState>,
) -> Result<HttpResponse, ApiError> {
    let tenants = tenants(&request, &state)?;
    let query = TagsQuery::from_request(&tags_request(&params)?, false, tenants, state.bounds)
        .map_err(rejected)?;
    let response = state.searcher.search_tags_v1(&query, None).await.map_err(failed)?;
    Ok(respond(&request, || response.encode_to_vec(), || render_tags_v1(&response)))
}

async fn tags_v2(
    request: HttpRequest,
    params: Params,
    state: web::Data<TagsState>,
) -> Result<HttpResponse, ApiError> {
    let tenants = tenants(&request, &state)?;
    let query = TagsQuery::from_request(&tags_request(&params)?, true, tenants, state.bounds)
        .map_err(rejected)?;
    let response = state.searcher.search_tags_v2(&query, None).await.map_err(failed)?;
    Ok(respond(&request, || response.encode_to_vec(), || render_tags_v2(&response)))
}

async fn tag_values_v1(
    request: HttpRequest,
    params: Params,
    state: web::Data<TagsState>,
) -> Result<HttpResponse, ApiError> {
    let tag = tag_from_path(request.uri().path(), V1_VALUES_PREFIX)?;
    let tenants = tenants(&request, &state)?;
    let values = values_request(tag, &params)?;
    let query =
        TagValuesQuery::from_request(&values, false, tenants, state.bounds).map_err(rejected)?;
    let response = state.searcher.search_tag_values_v1(&query, None).await.map_err(failed)?;
    Ok(respond(&request, || response.encode_to_vec(), || render_tag_values_v1(&response)))
}

async fn tag_values_v2(
    request: HttpRequest,
    params: Params,
    state: web::Data<TagsState>,
) -> Result<HttpResponse, ApiError> {
    let tag = tag_from_path(request.uri().path(), V2_VALUES_PREFIX)?;
    let tenants = tenants(&request, &state)?;
    let values = values_request(tag, &params)?;
    let query =
        TagValuesQuery::from_request(&values, true, tenants, state.bounds).map_err(rejected)?;
    let response = state.searcher.search_tag_values_v2(&query, None).await.map_err(failed)?;
    Ok(respond(&request, || response.encode_to_vec(), || render_tag_values_v2(&response)))
}

fn tenants(request: &HttpRequest, state: &TagsState) -> Result<Vec<TenantId>, ApiError> {
    let header = request.headers().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
    Ok(query_tenants(state.multitenancy, header)?)
}

/// A refused tag request as the API answers it (400 / `InvalidArgument`).
pub(crate) fn rejected(error: TagRequestError) -> ApiError {
    ApiError::new(error.error_code(), error.to_string())
}

/// A failed query as the API answers it (its error code, its text).
pub(crate) fn failed(error: QueryError) -> ApiError {
    ApiError::new(error.error_code(), error.to_string())
}

/// The protobuf body when the client accepts it, else the JSON one.
fn respond(
    request: &HttpRequest,
    protobuf: impl FnOnce() -> Vec<u8>,
    json: impl FnOnce() -> Vec<u8>,
) -> HttpResponse {
    let accepts_protobuf = request
        .headers()
        .get_all(ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/protobuf"));
    if accepts_protobuf {
        return HttpResponse::Ok().content_type("application/protobuf").body(protobuf());
    }
    HttpResponse::Ok().content_type("application/json").body(json())
}

/// A parameter; an empty one counts as absent (Tempo's `extractQueryParam`).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str).filter(|value| !value.is_empty())
}

/// The names routes' parameters. `limit` and `maxStaleValues` that are not numbers are
/// ignored, as Tempo's frontend does for these routes.
pub(crate) fn tags_request(
    params: &HashMap<String, String>,
) -> Result<tempopb::SearchTagsRequest, ApiError> {
    let lenient = |name: &str| param(params, name).and_then(|text| parse_u32(text).ok());
    Ok(tempopb::SearchTagsRequest {
        scope: param(params, "scope").unwrap_or_default().to_string(),
        query: param(params, "q").unwrap_or_default().to_string(),
        start: seconds(params, "start")?,
        end: seconds(params, "end")?,
        max_tags_per_scope: lenient("limit").unwrap_or(0),
        stale_values_threshold: lenient("maxStaleValues").unwrap_or(0),
    })
}

/// The values routes' parameters, for the tag cut from the path.
pub(crate) fn values_request(
    tag_name: String,
    params: &HashMap<String, String>,
) -> Result<tempopb::SearchTagValuesRequest, ApiError> {
    let strict = |name: &str| -> Result<u32, ApiError> {
        param(params, name)
            .map(|text| parse_u32(text).map_err(|reason| bad(format!("invalid {name}: {reason}"))))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(tempopb::SearchTagValuesRequest {
        tag_name,
        query: param(params, "q").unwrap_or_default().to_string(),
        start: seconds(params, "start")?,
        end: seconds(params, "end")?,
        max_tag_values: strict("limit")?,
        stale_value_threshold: strict("maxStaleValues")?,
    })
}

/// `start`/`end`: Go's `strconv.ParseInt(s, 10, 32)`, then `uint32(…)` as Tempo does.
fn seconds(params: &HashMap<String, String>, name: &str) -> Result<u32, ApiError> {
    let Some(text) = param(params, name) else { return Ok(0) };
    match text.parse::<i32>() {
        // Tempo converts with uint32(): a negative second count wraps.
        Ok(value) => Ok(value as u32),
        Err(error) => Err(bad(format!(
            "invalid {name}: strconv.ParseInt: parsing {text:?}: {}",
            go_int_reason(&error)
        ))),
    }
}

/// Go's `strconv.ParseUint(s, 10, 32)`, with its error text.
fn parse_u32(text: &str) -> Result<u32, String> {
    let parsed = if text.starts_with('+') {
        Err("invalid syntax")
    } else {
        text.parse::<u32>().map_err(|error| go_int_reason(&error))
    };
    parsed.map_err(|reason| format!("strconv.ParseUint: parsing {text:?}: {reason}"))
}

fn go_int_reason(error: &std::num::ParseIntError) -> &'static str {
    use std::num::IntErrorKind;
    match error.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
        _ => "invalid syntax",
    }
}

/// The tag of a values path: between `prefix` and the last `/values`, which must end the
/// path; percent-decoded once.
pub(crate) fn tag_from_path(raw_path: &str, prefix: &str) -> Result<String, ApiError> {
    let not_found = || {
        ApiError::new(
            ErrorCode::NotFound,
            format!("404 page not found: no route for GET {raw_path}"),
        )
    };
    let tail = raw_path.strip_prefix(prefix).ok_or_else(not_found)?;
    let tag = tail.strip_suffix(VALUES_SUFFIX).ok_or_else(not_found)?;
    let decoded = percent_decode(tag)
        .ok_or_else(|| bad(format!("invalid URL escape in the tag name {tag:?}")))?;
    if decoded.is_empty() {
        return Err(bad("please provide a non-empty tagName"));
    }
    Ok(decoded)
}

/// Decodes `%XX` escapes once; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut position = 0;
    while let Some(&byte) = bytes.get(position) {
        if byte == b'%' {
            let hex = bytes.get(position + 1..position + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            position += 3;
        } else {
            decoded.push(byte);
            position += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, message.into())
}

#[cfg(test)]
#[path = "tags_tests.rs"]
mod tests;
