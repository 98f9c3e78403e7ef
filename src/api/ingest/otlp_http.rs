//! OTLP/HTTP receiver (`POST :4318/v1/traces`): protobuf or JSON, optionally gzip, deflate
//! or zstd compressed; the answer uses the request's encoding.
//!
//! The body is read and decompressed (`body`) with one byte limit on both the wire and the
//! decompressed size (`distributor.max_request_bytes`), so a small compressed bomb is refused
//! with 413 like a large plain body. Errors follow the OTLP/HTTP specification: the status code
//! plus a `google.rpc.Status` in the request's encoding whose message says what was wrong.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use crate::actors::distributor::IngestError;
use crate::api::error_code::{ApiError, ErrorCode};
use crate::api::ingest::HttpIngestState;
use crate::api::ingest::body::read_body;
use crate::api::tenant::{ORG_ID_HEADER, ingest_tenant};
use crate::model::convert::otlp_json;
use crate::model::ids::TenantId;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// Registers the receiver's routes.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.route("/v1/traces", web::post().to(export));
}

async fn export(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<HttpIngestState>,
) -> HttpResponse {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let encoding = if content_type.starts_with("application/x-protobuf")
        || content_type.starts_with("application/protobuf")
    {
        Encoding::Protobuf
    } else if content_type.starts_with("application/json") {
        Encoding::Json
    } else {
        let message = format!(
            "unsupported content type {content_type:?}: use application/x-protobuf or application/json"
        );
        return error_response(
            Encoding::Json,
            &ApiError::new(ErrorCode::UnsupportedMediaType, message),
        );
    };
    let header = request.headers().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
    let tenant = match ingest_tenant(state.multitenancy, header) {
        Ok(tenant) => tenant,
        Err(error) => return error_response(encoding, &ApiError::from(error)),
    };
    match receive(&request, payload, &state, encoding, tenant.clone()).await {
        Ok(response) => response,
        Err(error) => {
            // Refusals after decoding were counted by the distributor itself.
            if matches!(error, IngestError::Malformed { .. } | IngestError::TooLarge { .. }) {
                state.distributor.count_refused_request(&tenant, &error);
            }
            error_response(encoding, &ApiError::new(error.error_code(), error.to_string()))
        }
    }
}

async fn receive(
    request: &HttpRequest,
    payload: web::Payload,
    state: &HttpIngestState,
    encoding: Encoding,
    tenant: TenantId,
) -> Result<HttpResponse, IngestError> {
    let (body, wire_bytes) = read_body(request, payload, state.max_request_bytes).await?;
    let export_request = match encoding {
        Encoding::Protobuf => {
            ExportTraceServiceRequest::decode(body.as_slice()).map_err(|error| {
                IngestError::Malformed { message: format!("invalid OTLP protobuf body: {error}") }
            })?
        }
        Encoding::Json => otlp_json::decode_export_request(&body)
            .map_err(|error| IngestError::Malformed { message: error.to_string() })?,
    };
    let outcome = state.distributor.push(tenant, export_request, wire_bytes).await?;
    let rejected = i64::try_from(outcome.rejected_spans).unwrap_or(i64::MAX);
    let body = match encoding {
        Encoding::Protobuf => {
            let partial_success =
                outcome.rejection_message.as_ref().map(|message| ExportTracePartialSuccess {
                    rejected_spans: rejected,
                    error_message: message.clone(),
                });
            ExportTraceServiceResponse { partial_success }.encode_to_vec()
        }
        Encoding::Json => otlp_json::encode_export_response_json(
            rejected,
            outcome.rejection_message.as_deref().unwrap_or(""),
        ),
    };
    Ok(HttpResponse::Ok().content_type(encoding.content_type()).body(body))
}

/// An OTLP/HTTP error: the status code and a `google.rpc.Status` in the request's encoding.
fn error_response(encoding: Encoding, error: &ApiError) -> HttpResponse {
    let mut response = HttpResponse::build(error.code.http_status());
    if let ErrorCode::RateLimited { retry_after } = error.code {
        response.insert_header(("Retry-After", retry_after.as_secs().max(1).to_string()));
    }
    let grpc_code = error.code.grpc_code() as i32;
    match encoding {
        Encoding::Protobuf => response
            .content_type(encoding.content_type())
            .body(crate::api::error_code::encode_rpc_status(grpc_code, &error.message)),
        Encoding::Json => response
            .content_type(encoding.content_type())
            .body(serde_json::json!({ "code": grpc_code, "message": error.message }).to_string()),
    }
}
