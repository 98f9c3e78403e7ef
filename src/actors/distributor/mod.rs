//! Distributor: admits ingest requests, shards their traces over the partitions and
//! acknowledges once every involved partition has made its share durable.
//!
//! ```text
//!  receiver ──► DistributorHandle::push
//!                 │ prepare_push (pure, in the caller's task: validate, truncate, group)
//!                 ▼
//!               Distributor actor: live-store limits per tenant ──full──► 429 / ResourceExhausted
//!                 │ route each trace to an active partition of the meta group (router.rs)
//!                 ▼
//!               fan-out task: PartitionRouter::append per partition (at its Raft leader,
//!               here or forwarded), joined ──► ack once every share is committed
//! ```
//!
//! The actor owns admission; routing follows the meta group's partition table; the CPU-heavy
//! preparation runs in the receivers' tasks and the waits for commits in spawned tasks, so
//! the actor itself never becomes the ingest bottleneck.

mod prepare;
mod router;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use thiserror::Error;

use crate::actors::call::{ActorSlot, CallError};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::{NodeMetrics, ReasonLabels, TenantLabels};
use crate::actors::partition::log::AppendError;
use crate::actors::partition::usage::LiveUsageBoard;
use crate::api::error_code::ErrorCode;
use crate::model::batch::{TraceBatch, TraceFragment};
use crate::model::ids::{PartitionId, TenantId};

pub(crate) use prepare::PrepareLimits;
use prepare::{PreparedPush, PreparedTrace, prepare_push};
pub(crate) use router::PartitionRouter;

/// How long a client is told to wait before retrying a refused write.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why an ingest request was refused or not acknowledged.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum IngestError {
    /// The body could not be decoded.
    #[error("{message}")]
    Malformed {
        /// What was wrong, for the client.
        message: String,
    },
    /// The body is larger than `distributor.max_request_bytes`.
    #[error(
        "request of {size} bytes exceeds the limit of {limit} bytes (distributor.max_request_bytes)"
    )]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Every span of the request was invalid; the first reason is given.
    #[error("{message}")]
    InvalidSpans {
        /// The first span's problem, in Tempo's words.
        message: String,
    },
    /// The tenant holds the maximum number of live traces on this node.
    #[error(
        "LIVE_TRACES_EXCEEDED: tenant {tenant} holds {live} live traces, the limit is {limit} (overrides.defaults.ingestion.max_traces_per_user); retry later"
    )]
    LiveTracesExceeded {
        /// The tenant.
        tenant: TenantId,
        /// Traces held.
        live: u64,
        /// The limit.
        limit: u64,
    },
    /// The tenant holds the maximum number of live bytes on this node.
    #[error(
        "LIVE_BYTES_EXCEEDED: tenant {tenant} holds {live} bytes of live traces, the limit is {limit} (live_store.max_bytes_per_tenant); retry later"
    )]
    LiveBytesExceeded {
        /// The tenant.
        tenant: TenantId,
        /// Bytes held.
        live: u64,
        /// The limit.
        limit: u64,
    },
    /// A partition did not make its share durable; the write is unknown, not lost or kept.
    #[error(transparent)]
    NotDurable(#[from] AppendError),
    /// The cluster has no active partition to write to (nothing was written).
    #[error("the cluster has no active partition; activate one through the admin API")]
    NoActivePartition,
    /// The distributor itself did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
}

impl IngestError {
    /// The API status for this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            IngestError::Malformed { .. } | IngestError::InvalidSpans { .. } => {
                ErrorCode::BadRequest
            }
            IngestError::TooLarge { .. } => ErrorCode::PayloadTooLarge,
            IngestError::LiveTracesExceeded { .. } | IngestError::LiveBytesExceeded { .. } => {
                ErrorCode::RateLimited { retry_after: RETRY_AFTER }
            }
            IngestError::NotDurable(error) => error.error_code(),
            IngestError::NoActivePartition => ErrorCode::Unavailable,
            IngestError::Call(error) => error.error_code(),
        }
    }

    /// The `spanlake_discarded_spans_total` reason label.
    fn reason_label(&self) -> &'static str {
        match self {
            IngestError::Malformed { .. } => "malformed",
            IngestError::TooLarge { .. } => "request_too_large",
            IngestError::InvalidSpans { .. } => "invalid_span",
            IngestError::LiveTracesExceeded { .. } => "live_traces_exceeded",
            IngestError::LiveBytesExceeded { .. } => "live_bytes_exceeded",
            IngestError::NotDurable(_) | IngestError::Call(_) | IngestError::NoActivePartition => {
                "internal_error"
            }
        }
    }
}

/// What an acknowledged push kept and refused (refusals go into OTLP partial success).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// Spans made durable.
    pub accepted_spans: u64,
    /// Spans refused.
    pub rejected_spans: u64,
    /// Why the first refused span was refused.
    pub rejection_message: Option<String>,
}

/// Limits the distributor enforces, from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DistributorLimits {
    /// Per-span preparation limits.
    pub prepare: PrepareLimits,
    /// Live traces per tenant on this node.
    pub max_live_traces_per_tenant: u64,
    /// Live bytes per tenant on this node.
    pub max_live_bytes_per_tenant: u64,
    /// How long a push may wait for durability.
    pub push_timeout: Duration,
}

/// The distributor actor (behaviour only).
pub(crate) struct Distributor;

/// Everything the distributor can be asked to do.
pub(crate) enum DistributorMsg {
    /// Admits, routes and makes durable the traces of one prepared request.
    Distribute {
        tenant: TenantId,
        traces: Vec<PreparedTrace>,
        reply: RpcReplyPort<Result<(), IngestError>>,
    },
}

/// What the distributor starts from.
pub(crate) struct DistributorArgs {
    pub router: PartitionRouter,
    pub faults: FaultPoints,
    pub usage: LiveUsageBoard,
    pub limits: DistributorLimits,
}

impl Actor for Distributor {
    type Msg = DistributorMsg;
    type State = DistributorArgs;
    type Arguments = DistributorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<DistributorMsg>,
        args: DistributorArgs,
    ) -> Result<DistributorArgs, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<DistributorMsg>,
        message: DistributorMsg,
        state: &mut DistributorArgs,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            DistributorMsg::Distribute { tenant, traces, reply } => {
                state.faults.check("distributor.before_route").await?;
                if let Err(refusal) = admit(&state.usage, &state.limits, &tenant) {
                    let _ = reply.send(Err(refusal));
                    return Ok(());
                }
                let router = state.router.clone();
                let timeout = state.limits.push_timeout;
                // Encoding the batches copies every span: done in the task, not the actor.
                tokio::spawn(async move {
                    let active = router.active();
                    if active.is_empty() {
                        let _ = reply.send(Err(IngestError::NoActivePartition));
                        return;
                    }
                    let batches = route(&tenant, traces, &active);
                    let appends = batches
                        .into_iter()
                        .map(|(partition, payload)| router.append(partition, payload, timeout));
                    let results = futures::future::join_all(appends).await;
                    let outcome = results
                        .into_iter()
                        .find_map(Result::err)
                        .map_or(Ok(()), |error| Err(IngestError::NotDurable(error)));
                    let _ = reply.send(outcome);
                });
            }
        }
        Ok(())
    }
}

/// Refuses a write when the tenant's live data on this node is at its limit.
fn admit(
    usage: &LiveUsageBoard,
    limits: &DistributorLimits,
    tenant: &TenantId,
) -> Result<(), IngestError> {
    let held = usage.tenant_total(tenant);
    if held.traces >= limits.max_live_traces_per_tenant {
        return Err(IngestError::LiveTracesExceeded {
            tenant: tenant.clone(),
            live: held.traces,
            limit: limits.max_live_traces_per_tenant,
        });
    }
    if held.bytes >= limits.max_live_bytes_per_tenant {
        return Err(IngestError::LiveBytesExceeded {
            tenant: tenant.clone(),
            live: held.bytes,
            limit: limits.max_live_bytes_per_tenant,
        });
    }
    Ok(())
}

/// Groups traces by owning partition and encodes one `TraceBatch` per partition.
fn route(
    tenant: &TenantId,
    traces: Vec<PreparedTrace>,
    active: &[PartitionId],
) -> BTreeMap<PartitionId, Bytes> {
    let mut by_partition: BTreeMap<PartitionId, Vec<TraceFragment>> = BTreeMap::new();
    for trace in traces {
        let Some(partition) = PartitionRouter::owner(active, &trace.trace_id) else { continue };
        by_partition.entry(partition).or_default().push(trace.fragment);
    }
    by_partition
        .into_iter()
        .map(|(partition, fragments)| {
            let batch = TraceBatch { tenant: tenant.as_str().to_string(), traces: fragments };
            (partition, Bytes::from(batch.encode_to_vec()))
        })
        .collect()
}

/// How receivers hand requests to the distributor; survives its restarts.
#[derive(Clone)]
pub struct DistributorHandle {
    slot: ActorSlot<DistributorMsg>,
    limits: DistributorLimits,
    metrics: Arc<NodeMetrics>,
}

impl DistributorHandle {
    pub(crate) fn new(
        slot: ActorSlot<DistributorMsg>,
        limits: DistributorLimits,
        metrics: Arc<NodeMetrics>,
    ) -> DistributorHandle {
        DistributorHandle { slot, limits, metrics }
    }

    /// Validates, routes and durably stores one request; `Ok` only once every partition that
    /// received spans has fsynced them. Invalid spans are refused individually (reported in
    /// the outcome) unless every span is invalid, which refuses the request.
    #[tracing::instrument(name = "push", skip_all, fields(tenant = %tenant, wire_bytes))]
    pub async fn push(
        &self,
        tenant: TenantId,
        request: ExportTraceServiceRequest,
        wire_bytes: usize,
    ) -> Result<PushOutcome, IngestError> {
        let tenant_labels = TenantLabels { tenant: tenant.as_str().to_string() };
        self.metrics.bytes_received.get_or_create(&tenant_labels).inc_by(wire_bytes as u64);
        let prepared: PreparedPush = prepare_push(request, self.limits.prepare);
        self.count_rejections(&tenant, &prepared);
        if prepared.truncated_attributes > 0 {
            self.metrics
                .attributes_truncated
                .get_or_create(&tenant_labels)
                .inc_by(prepared.truncated_attributes);
        }
        let outcome = PushOutcome {
            accepted_spans: prepared.accepted_spans,
            rejected_spans: prepared.rejected_total(),
            rejection_message: prepared.first_rejection.as_ref().map(|r| r.message.clone()),
        };
        if prepared.accepted_spans == 0 {
            return match prepared.first_rejection {
                Some(rejection) => Err(IngestError::InvalidSpans { message: rejection.message }),
                None => Ok(outcome),
            };
        }
        let traces = prepared.traces;
        let timeout = self.limits.push_timeout;
        let result = self
            .slot
            .call(
                |reply| DistributorMsg::Distribute { tenant: tenant.clone(), traces, reply },
                timeout,
            )
            .await
            .map_err(IngestError::from)
            .and_then(|result| result);
        match result {
            Ok(()) => {
                self.metrics
                    .spans_received
                    .get_or_create(&tenant_labels)
                    .inc_by(outcome.accepted_spans);
                Ok(outcome)
            }
            Err(error) => {
                self.count_refusal(&tenant, &error, outcome.accepted_spans);
                Err(error)
            }
        }
    }

    /// Counts a request refused before it reached the distributor (decode errors, size).
    pub fn count_refused_request(&self, tenant: &TenantId, error: &IngestError) {
        self.count_refusal(tenant, error, 0);
    }

    fn count_rejections(&self, tenant: &TenantId, prepared: &PreparedPush) {
        for (reason, count) in &prepared.rejected_spans {
            let labels =
                ReasonLabels { tenant: tenant.as_str().to_string(), reason: reason.to_string() };
            self.metrics.discarded_spans.get_or_create(&labels).inc_by(*count);
        }
    }

    fn count_refusal(&self, tenant: &TenantId, error: &IngestError, spans: u64) {
        let labels = ReasonLabels {
            tenant: tenant.as_str().to_string(),
            reason: error.reason_label().to_string(),
        };
        self.metrics.requests_refused.get_or_create(&labels).inc();
        if spans > 0 {
            self.metrics.discarded_spans.get_or_create(&labels).inc_by(spans);
        }
    }
}
