//! Live-store actor: the recent traces of one partition, applied from its committed log and
//! queryable by trace id. Logic lives in [`LiveTraces`]; `handle()` dispatches.
//!
//! It starts empty and without a base: the partition log sets the base (the first record it
//! still holds) and replays every committed record into it (on node start and after either
//! actor restarts). A gap in the records it receives (records sent while it was down) makes
//! it ask the log to resend from the gap. Traces that registered blocks hold are evicted
//! once the recent window has passed, so memory follows the unflushed log, not all history.
//!
//! Applied fragments are summarized for tag queries (`live_tags`) on a blocking thread, one
//! batch at a time: the actor hands out the work after applying records and stores the
//! summaries when the batch reports back (`StoreTagSummaries`), then hands out what arrived
//! meanwhile. Until then a query decodes the traces concerned, so nothing waits for it.
//! Summaries are built only while tags are in use (see `LiveTraces::tag_summary_work`): the
//! first tag query after a quiet spell starts on the backlog and decodes what is not
//! summarized yet.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tracing::{debug, error, warn};

use crate::actors::call::{ActorSlot, CallError};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::{NodeMetrics, PartitionLabels};
use crate::actors::partition::live_tags::{SummaryDone, SummaryWork};
use crate::actors::partition::live_traces::{
    ApplyOutcome, CommittedRecord, LiveTraceRef, LiveTraceSnapshot, LiveTraces,
};
use crate::actors::partition::log::PartitionLogMsg;
use crate::actors::partition::usage::LiveUsageBoard;
use crate::model::ids::{LogIndex, PartitionId, TenantId, TraceId};

/// How long a trace lookup may take before the reader gives up on this partition.
const FIND_TRACE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long asking for the applied index may take.
const APPLIED_TIMEOUT: Duration = Duration::from_secs(10);
/// How often flushed traces past the recent window are evicted.
const EVICT_PERIOD: Duration = Duration::from_secs(1);

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
    /// Shared views of the tenant's traces overlapping a window (Unix ns), for a search or a
    /// tag query.
    SearchSnapshot {
        tenant: TenantId,
        window: Option<(u64, u64)>,
        purpose: SnapshotUse,
        reply: RpcReplyPort<Vec<LiveTraceRef>>,
    },
    /// The last log index applied, `None` before the base is set (the log resends the rest).
    GetApplied { reply: RpcReplyPort<Option<LogIndex>> },
    /// The log holds nothing at or below `base`: the next record is `base + 1`.
    SetBase { base: LogIndex },
    /// Every record up to `up_to` is in a registered block.
    Flushed { up_to: LogIndex },
    /// Forgets flushed traces older than the recent window (sent by a timer).
    EvictExpired,
    /// Tag summaries built off the actor (see the module doc).
    StoreTagSummaries(Vec<SummaryDone>),
}

/// What a live-store starts from.
pub(crate) struct LiveStoreArgs {
    pub partition: PartitionId,
    pub log: ActorSlot<PartitionLogMsg>,
    pub usage: LiveUsageBoard,
    pub faults: FaultPoints,
    pub metrics: Arc<NodeMetrics>,
    /// How long flushed traces stay queryable from memory.
    pub recent_window: Duration,
}

/// A live-store's state: the pure core plus its collaborators.
pub(crate) struct LiveStoreState {
    traces: LiveTraces,
    args: LiveStoreArgs,
    labels: PartitionLabels,
}

/// What a snapshot of live traces is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotUse {
    /// A search.
    Search,
    /// A tag query: keeps tag summaries being built.
    Tags,
}

impl LiveStoreState {
    /// Hands the tag-summary work that is due to a blocking thread (`LiveTraces` decides
    /// what is due: nothing while a batch is out).
    fn summarize_new_fragments(&mut self, myself: &ActorRef<LiveStoreMsg>) {
        let work = self.traces.tag_summary_work(Instant::now());
        if work.is_empty() {
            return;
        }
        let myself = myself.clone();
        let partition = self.args.partition;
        tokio::spawn(async move {
            let summarized = tokio::task::spawn_blocking(move || {
                work.into_iter().map(SummaryWork::run).collect::<Vec<_>>()
            })
            .await;
            // After a failure the traces are answered by decoding until they grow again.
            let done = summarized.unwrap_or_else(|failure| {
                error!(partition = %partition, error = %failure, "tag summaries failed");
                Vec::new()
            });
            // A stopped store has nothing to store them in.
            let _ = myself.cast(LiveStoreMsg::StoreTagSummaries(done));
        });
    }

    fn publish_usage(&self) {
        self.args.usage.publish(self.args.partition, self.traces.usage());
        let bytes: u64 = self.traces.usage().values().map(|usage| usage.bytes).sum();
        self.args
            .metrics
            .live_traces
            .get_or_create(&self.labels)
            .set(gauge(self.traces.trace_count()));
        self.args.metrics.live_bytes.get_or_create(&self.labels).set(gauge(bytes));
        let awaiting = self.traces.traces_awaiting_tag_summary();
        self.args
            .metrics
            .live_traces_awaiting_tag_summary
            .get_or_create(&self.labels)
            .set(gauge(awaiting));
        let summary_bytes = self.traces.tag_summary_bytes();
        self.args
            .metrics
            .live_tag_summary_bytes
            .get_or_create(&self.labels)
            .set(gauge(summary_bytes));
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

    async fn post_start(
        &self,
        myself: ActorRef<LiveStoreMsg>,
        _state: &mut LiveStoreState,
    ) -> Result<(), ActorProcessingErr> {
        // The timer stops with the actor.
        myself.send_interval(EVICT_PERIOD, || LiveStoreMsg::EvictExpired);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<LiveStoreMsg>,
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
                    ApplyOutcome::NoBase => {
                        debug!(partition = %state.args.partition, "records before the base, dropped");
                    }
                    ApplyOutcome::Gap { from } => {
                        warn!(partition = %state.args.partition, %from, "records missing, asking the log to resend");
                        // If the log is restarting it replays into us on start anyway.
                        let _ = state.args.log.cast(PartitionLogMsg::ReplayToLiveStore);
                    }
                }
                state.summarize_new_fragments(&myself);
                state.publish_usage();
            }
            LiveStoreMsg::StoreTagSummaries(done) => {
                state.traces.store_tag_summaries(done);
                state.summarize_new_fragments(&myself);
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
            LiveStoreMsg::SearchSnapshot { tenant, window, purpose, reply } => {
                state
                    .args
                    .faults
                    .check_in(&state.labels.partition, "live_store.before_search")
                    .await?;
                let _ = reply.send(state.traces.search_snapshot(&tenant, window));
                if purpose == SnapshotUse::Tags {
                    state.traces.tags_queried(Instant::now());
                    state.summarize_new_fragments(&myself);
                }
            }
            LiveStoreMsg::GetApplied { reply } => {
                let _ = reply.send(state.traces.applied());
            }
            LiveStoreMsg::SetBase { base } => state.traces.set_base(base),
            LiveStoreMsg::Flushed { up_to } => state.traces.flushed(up_to, Instant::now()),
            LiveStoreMsg::EvictExpired => {
                // Armed to fail, the point postpones eviction (tests hold flushed traces
                // in memory with it); the store itself has not failed.
                let partition = &state.labels.partition;
                if state.args.faults.check_in(partition, "live_store.before_evict").await.is_err() {
                    return Ok(());
                }
                let evicted = state.traces.evict(Instant::now(), state.args.recent_window);
                if evicted > 0 {
                    debug!(partition = %state.args.partition, evicted, "evicted flushed traces");
                    state.publish_usage();
                }
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

    /// Shared views of the tenant's live traces overlapping `window` (Unix ns); a tag query's
    /// snapshot keeps tag summaries being built.
    pub async fn search_snapshot(
        &self,
        tenant: TenantId,
        window: Option<(u64, u64)>,
        purpose: SnapshotUse,
    ) -> Result<Vec<LiveTraceRef>, CallError> {
        self.slot
            .call(
                |reply| LiveStoreMsg::SearchSnapshot { tenant, window, purpose, reply },
                FIND_TRACE_TIMEOUT,
            )
            .await
    }

    /// The last log index the live-store applied; `None` before its base is set.
    pub async fn applied(&self) -> Result<Option<LogIndex>, CallError> {
        self.slot.call(|reply| LiveStoreMsg::GetApplied { reply }, APPLIED_TIMEOUT).await
    }

    /// Tells the store the log holds nothing at or below `base`.
    pub fn set_base(&self, base: LogIndex) {
        let _ = self.slot.cast(LiveStoreMsg::SetBase { base });
    }

    /// Tells the store every record up to `up_to` is in a registered block.
    pub fn flushed(&self, up_to: LogIndex) {
        let _ = self.slot.cast(LiveStoreMsg::Flushed { up_to });
    }

    /// Hands committed records over; a store that is down catches up when it restarts.
    pub fn apply(&self, records: Vec<CommittedRecord>) {
        let _ = self.slot.cast(LiveStoreMsg::Apply(records));
    }
}
