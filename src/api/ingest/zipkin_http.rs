//! Zipkin over HTTP (`:9411`): `POST /api/v2/spans` with a JSON array of spans
//! (`application/json`, also when no content type is given) or a protobuf `ListOfSpans`
//! (`application/x-protobuf`), and `POST /api/v1/spans` with v1 JSON. Answers `202 Accepted`
//! with no body once the spans are durable, as Zipkin's server does.
//!
//! ```text
//!  body ─► read_body (limit, Content-Encoding) ─► zipkin::decode_* ─► distributor
//! ```

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::api::error_code::{ApiError, ErrorCode};
use crate::api::ingest::{HttpIngestState, push_http};
use crate::model::convert::zipkin;

/// Registers the receiver's routes.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/api/v2/spans", web::post().to(post_v2))
        .route("/api/v1/spans", web::post().to(post_v1));
}

fn media_type(request: &HttpRequest) -> String {
    let content_type =
        request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn unsupported(media: &str, accepted: &str) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedMediaType,
        format!("unsupported content type {media:?}: use {accepted}"),
    )
}

async fn post_v2(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<HttpIngestState>,
) -> Result<HttpResponse, ApiError> {
    match media_type(&request).as_str() {
        "" | "application/json" => {
            push_http(&request, payload, &state, |body| {
                zipkin::decode_v2_json(body).map_err(|error| error.to_string())
            })
            .await?
        }
        "application/x-protobuf" | "application/protobuf" => {
            push_http(&request, payload, &state, |body| {
                zipkin::decode_v2_proto(body).map_err(|error| error.to_string())
            })
            .await?
        }
        other => return Err(unsupported(other, "application/json or application/x-protobuf")),
    }
    Ok(HttpResponse::Accepted().finish())
}

async fn post_v1(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<HttpIngestState>,
) -> Result<HttpResponse, ApiError> {
    match media_type(&request).as_str() {
        "" | "application/json" => {
            // The Collector stamps a v1 span without a start time with its arrival.
            let received = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX));
            push_http(&request, payload, &state, |body| {
                zipkin::decode_v1_json(body, received).map_err(|error| error.to_string())
            })
            .await?
        }
        other => {
            return Err(unsupported(other, "application/json (Zipkin v1 Thrift is not accepted)"));
        }
    }
    Ok(HttpResponse::Accepted().finish())
}
