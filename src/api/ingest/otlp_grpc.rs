//! OTLP/gRPC receiver (`:4317`, `opentelemetry.proto.collector.trace.v1.TraceService/Export`).
//!
//! Accepts gzip and zstd; the tenant comes from `x-scope-orgid` metadata when multi-tenancy
//! is on. Refused spans are reported through `partial_success`; a request whose spans are all
//! invalid is `InvalidArgument`; a full live-store is `ResourceExhausted` with `RetryInfo`.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tonic::{Request, Response, Status};
use tracing::debug;

use crate::actors::DistributorHandle;
use crate::api::error_code::ApiError;
use crate::api::tenant::{ORG_ID_HEADER, ingest_tenant};

/// The gRPC trace service, calling the distributor.
pub(crate) struct OtlpGrpcReceiver {
    pub distributor: DistributorHandle,
    pub multitenancy: bool,
}

#[tonic::async_trait]
impl TraceService for OtlpGrpcReceiver {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let header = request.metadata().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
        let tenant = ingest_tenant(self.multitenancy, header).map_err(ApiError::from)?;
        let request = request.into_inner();
        let wire_bytes = request.encoded_len();
        let outcome = self
            .distributor
            .push(tenant.clone(), request, wire_bytes)
            .await
            .map_err(|error| ApiError::new(error.error_code(), error.to_string()))?;
        debug!(%tenant, accepted = outcome.accepted_spans, rejected = outcome.rejected_spans, "otlp grpc export");
        let partial_success = outcome.rejection_message.map(|message| ExportTracePartialSuccess {
            rejected_spans: i64::try_from(outcome.rejected_spans).unwrap_or(i64::MAX),
            error_message: message,
        });
        Ok(Response::new(ExportTraceServiceResponse { partial_success }))
    }
}
