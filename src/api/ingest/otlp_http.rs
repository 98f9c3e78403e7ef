//! OTLP/HTTP receiver (`POST :4318/v1/traces`): protobuf or JSON, optionally gzip, deflate
//! or zstd compressed; the answer uses the request's encoding.
//!
//! The body is read and decompressed here with one byte limit on both the wire and the
//! decompressed size (`distributor.max_request_bytes`), so a small compressed bomb is refused
//! with 413 like a large plain body. Errors follow the OTLP/HTTP specification: the status code
//! plus a `google.rpc.Status` in the request's encoding whose message says what was wrong.

use std::io::Read;

use actix_web::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use crate::actors::DistributorHandle;
use crate::actors::distributor::IngestError;
use crate::api::error_code::{ApiError, ErrorCode};
use crate::api::tenant::{ORG_ID_HEADER, ingest_tenant};
use crate::model::convert::otlp_json;
use crate::model::ids::TenantId;

/// What the receiver needs, shared by actix workers.
pub(crate) struct OtlpHttpState {
    pub distributor: DistributorHandle,
    pub multitenancy: bool,
    pub max_request_bytes: usize,
}

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
    state: web::Data<OtlpHttpState>,
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
    state: &OtlpHttpState,
    encoding: Encoding,
    tenant: TenantId,
) -> Result<HttpResponse, IngestError> {
    let content_encoding = request
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let wire = read_limited(payload, state.max_request_bytes).await?;
    let wire_bytes = wire.len();
    let body = decompress(&content_encoding, wire, state.max_request_bytes)?;
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

/// Reads the body, refusing it as soon as it passes `limit` bytes.
async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| IngestError::Malformed {
            message: format!("could not read the request body: {error}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::TooLarge { size: body.len() + chunk.len(), limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Undoes `Content-Encoding`, refusing output past `limit` bytes.
fn decompress(content_encoding: &str, wire: Vec<u8>, limit: usize) -> Result<Vec<u8>, IngestError> {
    let reader: Box<dyn Read + '_> = match content_encoding {
        "" | "identity" => return Ok(wire),
        "gzip" | "x-gzip" => Box::new(flate2::read::GzDecoder::new(wire.as_slice())),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(wire.as_slice())),
        "zstd" => Box::new(zstd::stream::read::Decoder::new(wire.as_slice()).map_err(|error| {
            IngestError::Malformed { message: format!("invalid zstd body: {error}") }
        })?),
        other => {
            return Err(IngestError::Malformed {
                message: format!(
                    "unsupported content encoding {other:?}: use gzip, deflate, zstd or none"
                ),
            });
        }
    };
    let mut body = Vec::new();
    // One byte past the limit tells "too large" apart from "exactly at the limit".
    let read = reader.take(limit as u64 + 1).read_to_end(&mut body).map_err(|error| {
        IngestError::Malformed { message: format!("invalid {content_encoding} body: {error}") }
    })?;
    if read > limit {
        return Err(IngestError::TooLarge { size: read, limit });
    }
    Ok(body)
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_bodies_are_decompressed_within_the_limit() {
        let body = decompress("gzip", gzip(b"hello"), 5).unwrap();
        assert_eq!(body, b"hello");
    }

    #[test]
    fn a_compressed_bomb_is_refused_as_too_large() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 10_000);
        let error = decompress("gzip", bomb, 1000).unwrap_err();
        assert!(matches!(error, IngestError::TooLarge { limit: 1000, .. }));
    }

    #[test]
    fn unknown_encodings_and_corrupt_gzip_are_malformed() {
        assert!(matches!(decompress("br", vec![1], 10), Err(IngestError::Malformed { .. })));
        assert!(matches!(
            decompress("gzip", vec![1, 2, 3], 10),
            Err(IngestError::Malformed { .. })
        ));
    }
}
