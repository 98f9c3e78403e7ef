//! Live-store actor: the recent traces of one partition, applied from its committed log and
//! queryable by trace id. Logic lives in [`LiveTraces`]; `handle()` dispatches.
//!
//! It starts empty: the partition log replays every committed record into it (on node start
//! and after either actor restarts). A gap in the records it receives (records sent while it
//! was down) makes it ask the log to resend from the gap.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::{debug, warn};

use crate::actors::call::{ActorSlot, CallError};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::{NodeMetrics, PartitionLabels};
use crate::actors::partition::live_traces::{
    ApplyOutcome, CommittedRecord, LiveTraceSnapshot, LiveTraces,
};
use crate::actors::partition::log::PartitionLogMsg;
use crate::actors::partition::usage::LiveUsageBoard;
use crate::model::ids::{LogIndex, PartitionId, TenantId, TraceId};

/// How long a trace lookup may take before the reader gives up on this partition.
const FIND_TRACE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long asking for the applied index may take.
const APPLIED_TIMEOUT: Duration = Duration::from_secs(10);

/// The live-store actor (behaviour only; state lives in [`LiveStoreState`]).
pub(crate) struct LiveStore;

/// Everything a live-store can be asked to do.
pub(crate) enum LiveStoreMsg {
    /// Committed log records, in log order.
    Apply(Vec<CommittedRecord>),
    /// Spans of one trace held by this replica.
    FindTrace {
        tenant: TenantId,
        trace_id: TraceId,
        reply: RpcReplyPort<Option<LiveTraceSnapshot>>,
    },
    /// The last log index applied (the log resends everything after it).
    GetApplied { reply: RpcReplyPort<LogIndex> },
}

/// What a live-store starts from.
pub(crate) struct LiveStoreArgs {
    pub partition: PartitionId,
    pub log: ActorSlot<PartitionLogMsg>,
    pub usage: LiveUsageBoard,
    pub faults: FaultPoints,
    pub metrics: Arc<NodeMetrics>,
}

/// A live-store's state: the pure core plus its collaborators.
pub(crate) struct LiveStoreState {
    traces: LiveTraces,
    args: LiveStoreArgs,
    labels: PartitionLabels,
}

impl LiveStoreState {
    fn publish_usage(&self) {
        self.args.usage.publish(self.args.partition, self.traces.usage());
        let bytes: u64 = self.traces.usage().values().map(|usage| usage.bytes).sum();
        self.args
            .metrics
            .live_traces
            .get_or_create(&self.labels)
            .set(gauge(self.traces.trace_count()));
        self.args.metrics.live_bytes.get_or_create(&self.labels).set(gauge(bytes));
    }
}

fn gauge(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Actor for LiveStore {
    type Msg = LiveStoreMsg;
    type State = LiveStoreState;
    type Arguments = LiveStoreArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<LiveStoreMsg>,
        args: LiveStoreArgs,
    ) -> Result<LiveStoreState, ActorProcessingErr> {
        let labels = PartitionLabels { partition: args.partition.to_string() };
        let state = LiveStoreState { traces: LiveTraces::new(), args, labels };
        state.publish_usage();
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<LiveStoreMsg>,
        message: LiveStoreMsg,
        state: &mut LiveStoreState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            LiveStoreMsg::Apply(records) => {
                state
                    .args
                    .faults
                    .check_in(&state.labels.partition, "live_store.before_apply")
                    .await?;
                match state.traces.apply(&records)? {
                    ApplyOutcome::Applied { applied } => {
                        debug!(partition = %state.args.partition, %applied, "applied records");
                    }
                    ApplyOutcome::Gap { from } => {
                        warn!(partition = %state.args.partition, %from, "records missing, asking the log to resend");
                        // If the log is restarting it replays into us on start anyway.
                        let _ = state.args.log.cast(PartitionLogMsg::ReplayToLiveStore);
                    }
                }
                state.publish_usage();
            }
            LiveStoreMsg::FindTrace { tenant, trace_id, reply } => {
                state
                    .args
                    .faults
                    .check_in(&state.labels.partition, "live_store.before_find")
                    .await?;
                // The caller may have timed out; a closed port is not our failure.
                let _ = reply.send(state.traces.find(&tenant, &trace_id));
            }
            LiveStoreMsg::GetApplied { reply } => {
                let _ = reply.send(state.traces.applied());
            }
        }
        Ok(())
    }
}

/// How the rest of spanlake talks to a live-store; survives its restarts.
#[derive(Clone)]
pub(crate) struct LiveStoreHandle {
    slot: ActorSlot<LiveStoreMsg>,
}

impl LiveStoreHandle {
    /// Wraps the slot the partition supervisor fills.
    pub fn new(slot: ActorSlot<LiveStoreMsg>) -> LiveStoreHandle {
        LiveStoreHandle { slot }
    }

    /// Spans of one trace held by this live-store.
    pub async fn find_trace(
        &self,
        tenant: TenantId,
        trace_id: TraceId,
    ) -> Result<Option<LiveTraceSnapshot>, CallError> {
        self.slot
            .call(|reply| LiveStoreMsg::FindTrace { tenant, trace_id, reply }, FIND_TRACE_TIMEOUT)
            .await
    }

    /// The last log index the live-store applied.
    pub async fn applied(&self) -> Result<LogIndex, CallError> {
        self.slot.call(|reply| LiveStoreMsg::GetApplied { reply }, APPLIED_TIMEOUT).await
    }

    /// Hands committed records over; a store that is down catches up when it restarts.
    pub fn apply(&self, records: Vec<CommittedRecord>) {
        let _ = self.slot.cast(LiveStoreMsg::Apply(records));
    }
}
