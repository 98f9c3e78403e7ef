//! Receivers: servers that decode a wire format and call the distributor.
//!
//! ```text
//!  OTLP gRPC / HTTP, Jaeger Thrift HTTP / gRPC, Zipkin HTTP   (servers: ports, switches)
//!     ── decode (model::convert, one file per wire format) ──► ExportTraceServiceRequest
//!     ── DistributorHandle::push (validation, limits, tenant)  ──► acknowledged when durable
//! ```

pub(crate) mod body;
pub(crate) mod grpc_status;
pub(crate) mod jaeger_grpc;
pub(crate) mod jaeger_http;
pub(crate) mod jaeger_udp;
pub(crate) mod otlp_grpc;
pub(crate) mod otlp_http;
pub mod servers;
pub(crate) mod zipkin_http;

use actix_web::{HttpRequest, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::actors::DistributorHandle;
use crate::actors::distributor::IngestError;
use crate::api::error_code::ApiError;
use crate::api::tenant::{ORG_ID_HEADER, ingest_tenant};
use body::read_body;

/// What the HTTP receivers share, one per server.
pub(crate) struct HttpIngestState {
    /// Where spans go.
    pub distributor: DistributorHandle,
    /// Whether the tenant header is required.
    pub multitenancy: bool,
    /// `distributor.max_request_bytes`, on the wire and decompressed.
    pub max_request_bytes: usize,
}

/// The path of the Jaeger and Zipkin HTTP receivers: tenant, body (limited, decompressed),
/// `decode`, then the distributor. `Ok` once the spans are durable; an `Err` is the client's
/// answer (400 for a body that does not decode, 413, 429 with `Retry-After`, …).
pub(crate) async fn push_http(
    request: &HttpRequest,
    payload: web::Payload,
    state: &HttpIngestState,
    decode: impl FnOnce(&[u8]) -> Result<ExportTraceServiceRequest, String>,
) -> Result<(), ApiError> {
    let header = request.headers().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
    let tenant = ingest_tenant(state.multitenancy, header).map_err(ApiError::from)?;
    let decoded = async {
        let (body, wire_bytes) = read_body(request, payload, state.max_request_bytes).await?;
        let spans = decode(&body).map_err(|message| IngestError::Malformed { message })?;
        Ok::<_, IngestError>((spans, wire_bytes))
    }
    .await;
    let (spans, wire_bytes) = match decoded {
        Ok(decoded) => decoded,
        Err(error) => {
            state.distributor.count_refused_request(&tenant, &error);
            return Err(ApiError::new(error.error_code(), error.to_string()));
        }
    };
    state
        .distributor
        .push(tenant, spans, wire_bytes)
        .await
        .map(|_| ())
        .map_err(|error| ApiError::new(error.error_code(), error.to_string()))
}
