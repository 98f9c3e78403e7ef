//! Jaeger over gRPC (`:14250`, `jaeger.api_v2.CollectorService/PostSpans`), as Jaeger agents
//! and clients send to a collector. The tenant comes from `x-scope-orgid` metadata when
//! multi-tenancy is on; a batch that does not map is `InvalidArgument`, a full live-store
//! `ResourceExhausted` with `RetryInfo`, as for OTLP.

use prost::Message;
use tonic::{Request, Response, Status};
use tracing::debug;

use crate::actors::DistributorHandle;
use crate::actors::distributor::IngestError;
use crate::api::error_code::ApiError;
use crate::api::tenant::{ORG_ID_HEADER, ingest_tenant};
use crate::model::convert::jaeger_proto::decode_post_spans;
use crate::proto::jaeger::api_v2::collector_service_server::CollectorService;
use crate::proto::jaeger::api_v2::{PostSpansRequest, PostSpansResponse};

/// The Jaeger collector service, calling the distributor.
pub(crate) struct JaegerGrpcReceiver {
    pub distributor: DistributorHandle,
    pub multitenancy: bool,
}

#[tonic::async_trait]
impl CollectorService for JaegerGrpcReceiver {
    async fn post_spans(
        &self,
        request: Request<PostSpansRequest>,
    ) -> Result<Response<PostSpansResponse>, Status> {
        let header = request.metadata().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
        let tenant = ingest_tenant(self.multitenancy, header).map_err(ApiError::from)?;
        let request = request.into_inner();
        let wire_bytes = request.encoded_len();
        let spans = decode_post_spans(request).map_err(|error| {
            let error = IngestError::Malformed { message: error.to_string() };
            self.distributor.count_refused_request(&tenant, &error);
            ApiError::new(error.error_code(), error.to_string())
        })?;
        let outcome = self
            .distributor
            .push(tenant.clone(), spans, wire_bytes)
            .await
            .map_err(|error| ApiError::new(error.error_code(), error.to_string()))?;
        debug!(%tenant, accepted = outcome.accepted_spans, rejected = outcome.rejected_spans, "jaeger grpc post spans");
        Ok(Response::new(PostSpansResponse {}))
    }
}
