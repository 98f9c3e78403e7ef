//! Jaeger Thrift over HTTP (`POST :14268/api/traces`): a `jaeger.Batch` in the Thrift binary
//! protocol (`application/x-thrift`, `application/vnd.apache.thrift.binary`) or, beyond what
//! Jaeger's own collector takes, the compact protocol (`application/vnd.apache.thrift.compact`).
//! Answers `202 Accepted` with no body once the spans are durable, as Jaeger's collector does.
//!
//! ```text
//!  body ─► read_body (limit, Content-Encoding) ─► jaeger_thrift::decode_batch ─► distributor
//! ```

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::api::error_code::{ApiError, ErrorCode};
use crate::api::ingest::{HttpIngestState, push_http};
use crate::model::convert::jaeger_thrift::{ThriftProtocol, decode_batch};

/// Registers the receiver's route.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.route("/api/traces", web::post().to(post_traces));
}

async fn post_traces(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<HttpIngestState>,
) -> Result<HttpResponse, ApiError> {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let media = content_type.split(';').next().unwrap_or("").trim();
    let protocol = match media {
        "application/x-thrift" | "application/vnd.apache.thrift.binary" => ThriftProtocol::Binary,
        "application/vnd.apache.thrift.compact" => ThriftProtocol::Compact,
        _ => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "unsupported content type {content_type:?}: send a Thrift jaeger.Batch as application/x-thrift, application/vnd.apache.thrift.binary or application/vnd.apache.thrift.compact"
                ),
            ));
        }
    };
    push_http(&request, payload, &state, |body| {
        decode_batch(body, protocol).map_err(|error| error.to_string())
    })
    .await?;
    Ok(HttpResponse::Accepted().finish())
}
