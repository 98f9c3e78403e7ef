//! `GET /api/traces/{id}` (v1) and `GET /api/v2/traces/{id}` (v2), per tempo-api.md §2.
//!
//! | | found | not found |
//! |---|---|---|
//! | v1 | `{"batches":[…]}` / `tempopb.Trace` | 404, empty body |
//! | v2 | `{"trace":{"resourceSpans":[…]},"metrics":{…}}` / `TraceByIDResponse` | 200, empty trace (protobuf field 1 present) |
//!
//! `Accept` containing `application/protobuf` selects protobuf. `start`/`end` (Unix seconds)
//! restrict the search to data overlapping that window.

use actix_web::http::header::ACCEPT;
use actix_web::{HttpRequest, HttpResponse, web};
use prost::Message;
use serde::Deserialize;

use crate::actors::query::{FoundTrace, QueryError, TimeRange, TraceByIdQuerier};
use crate::api::error_code::{ApiError, ErrorCode};
use crate::api::query::trace_json::{render_trace_v1, render_trace_v2};
use crate::api::tenant::{ORG_ID_HEADER, query_tenants};
use crate::model::ids::TraceId;
use crate::proto::tempopb;

/// What the trace-by-id routes need.
pub(crate) struct TraceByIdState {
    pub querier: TraceByIdQuerier,
    pub multitenancy: bool,
}

/// The `start`/`end` query parameters, as sent.
#[derive(Debug, Deserialize)]
struct TimeParams {
    start: Option<String>,
    end: Option<String>,
}

/// Registers both versions.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/traces/{trace_id}", web::get().to(trace_v1))
        .route("/api/v2/traces/{trace_id}", web::get().to(trace_v2));
}

async fn trace_v1(
    request: HttpRequest,
    path: web::Path<String>,
    params: web::Query<TimeParams>,
    state: web::Data<TraceByIdState>,
) -> Result<HttpResponse, ApiError> {
    let found = lookup(&request, &path, &params, &state).await?;
    if found.resource_spans.is_empty() {
        return Ok(HttpResponse::NotFound().finish());
    }
    if found.truncated {
        // v1 cannot say "partial": Tempo answers 422; v2 returns the cut trace.
        return Err(ApiError::new(
            ErrorCode::UnprocessableEntity,
            found.partial.unwrap_or_else(|| "trace exceeds the maximum size".to_string()),
        ));
    }
    if wants_protobuf(&request) {
        let trace = tempopb::Trace { resource_spans: found.resource_spans };
        return Ok(protobuf_response(trace.encode_to_vec()));
    }
    Ok(json_response(render_trace_v1(&found.resource_spans)))
}

async fn trace_v2(
    request: HttpRequest,
    path: web::Path<String>,
    params: web::Query<TimeParams>,
    state: web::Data<TraceByIdState>,
) -> Result<HttpResponse, ApiError> {
    let found = lookup(&request, &path, &params, &state).await?;
    if wants_protobuf(&request) {
        let response = tempopb::TraceByIdResponse {
            // Always present, even when empty: Grafana dereferences it unguarded.
            trace: Some(tempopb::Trace { resource_spans: found.resource_spans }),
            metrics: Some(tempopb::TraceByIdMetrics { inspected_bytes: found.inspected_bytes }),
            status: if found.partial.is_some() {
                tempopb::PartialStatus::Partial as i32
            } else {
                tempopb::PartialStatus::Complete as i32
            },
            message: found.partial.clone().unwrap_or_default(),
        };
        return Ok(protobuf_response(response.encode_to_vec()));
    }
    Ok(json_response(render_trace_v2(
        &found.resource_spans,
        found.inspected_bytes,
        found.partial.as_deref(),
    )))
}

async fn lookup(
    request: &HttpRequest,
    trace_id_text: &str,
    params: &TimeParams,
    state: &TraceByIdState,
) -> Result<FoundTrace, ApiError> {
    let header = request.headers().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
    let tenants = query_tenants(state.multitenancy, header)?;
    let trace_id = TraceId::parse_hex(trace_id_text)
        .map_err(|error| ApiError::bad_request(error.to_string()))?;
    let range = parse_time_range(params)?;
    state
        .querier
        .find_trace(&tenants, trace_id, range)
        .await
        .map_err(|error: QueryError| ApiError::new(error.error_code(), error.to_string()))
}

/// Parses `start`/`end` (int64 seconds; both or neither; start before end).
fn parse_time_range(params: &TimeParams) -> Result<Option<TimeRange>, ApiError> {
    let parse = |name: &str, value: &Option<String>| -> Result<Option<i64>, ApiError> {
        match value.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid {name}: {text:?} is not a number of seconds"
                ))
            }),
        }
    };
    let start = parse("start", &params.start)?;
    let end = parse("end", &params.end)?;
    match (start, end) {
        (None, None) => Ok(None),
        (Some(start), Some(end)) if end <= start => Err(ApiError::bad_request(format!(
            "http parameter start must be before end. received start={start} end={end}"
        ))),
        (start, end) => Ok(Some(TimeRange {
            start_seconds: start.unwrap_or(0),
            end_seconds: end.unwrap_or(i64::MAX),
        })),
    }
}

fn wants_protobuf(request: &HttpRequest) -> bool {
    request
        .headers()
        .get_all(ACCEPT)
        .filter_map(|value| value.to_str().ok())
        .any(|accept| accept.contains("application/protobuf"))
}

fn protobuf_response(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/protobuf").body(body)
}

fn json_response(body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(start: Option<&str>, end: Option<&str>) -> TimeParams {
        TimeParams { start: start.map(String::from), end: end.map(String::from) }
    }

    #[test]
    fn time_ranges_follow_tempo_rules() {
        assert_eq!(parse_time_range(&params(None, None)).unwrap(), None);
        let range = parse_time_range(&params(Some("10"), Some("20"))).unwrap().unwrap();
        assert_eq!((range.start_seconds, range.end_seconds), (10, 20));
        let reversed = parse_time_range(&params(Some("20"), Some("10"))).unwrap_err();
        assert_eq!(
            reversed.message,
            "http parameter start must be before end. received start=20 end=10"
        );
        assert!(parse_time_range(&params(Some("x"), None)).is_err());
    }
}
