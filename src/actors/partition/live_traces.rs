//! The pure core of a live-store: committed log records applied in order, traces kept as
//! compact byte buffers, usage accounted per tenant.
//!
//! ```text
//!  committed records (index n, n+1, …) ──► apply ──► tenant ─► trace id ─► LiveTrace
//!                                                                            fragments: encoded
//!                                                                            TracesData, shared
//! ```
//!
//! Each fragment is its own reference-counted buffer, so a search takes a snapshot of every
//! live trace by bumping reference counts, and evaluates it elsewhere while ingest goes on.
//!
//! Records apply exactly once and in order: an index at or below `applied` is a replay and
//! is skipped; an index past `applied + 1` means records were lost in transit (the actor was
//! restarting) and is refused with [`ApplyOutcome::Gap`] so the log can resend from the gap.
//! A fresh store has no base: the log purges what blocks hold, so the first record it will
//! see is not known until the log says so ([`LiveTraces::set_base`]); records arriving
//! before that are dropped, and the replay that follows covers them.
//!
//! Each trace also has a tag summary (`live_tags`), built off the actor from the fragments it
//! lacks ([`LiveTraces::tag_summary_work`]) and stored back when done
//! ([`LiveTraces::store_tag_summaries`]); snapshots carry it to tag queries.
//!
//! Eviction: once a block holding every record up to `n` is registered, traces whose last
//! record is at or below `n` are forgotten after a recent window (queries then find them in
//! the block). A trace written again after the flush stays until a later flush covers it.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;

use crate::actors::partition::live_tags::{SummaryDone, SummaryWork, TraceTags};
use crate::model::batch::TraceBatch;
use crate::model::ids::{LogIndex, TenantId, TraceId};

/// Fixed bookkeeping cost of one live trace (map entry and header), for usage accounting.
const TRACE_OVERHEAD_BYTES: u64 = 96;

/// How long after a tag query new fragments keep being summarized. Grafana asks for tags
/// whenever a query editor opens, so a user at work keeps them on.
pub const TAGS_IN_USE_FOR: Duration = Duration::from_secs(15 * 60);

/// One record of the partition log as the live-store sees it.
#[derive(Debug, Clone)]
pub(crate) struct CommittedRecord {
    /// Position in the log.
    pub index: LogIndex,
    /// An encoded [`TraceBatch`], or empty for a Raft control entry (which only advances
    /// the applied index).
    pub payload: Bytes,
}

/// One trace held in memory.
#[derive(Debug, Clone, Default)]
struct LiveTrace {
    /// Encoded `TracesData` fragments, one per record that carried spans of the trace.
    fragments: Vec<Bytes>,
    /// Their total size.
    bytes: u64,
    start_unix_nano: u64,
    end_unix_nano: u64,
    span_count: u64,
    /// The last log record that added spans to it.
    last_index: LogIndex,
    /// The record that created it: an evicted and re-created trace is another trace.
    first_index: LogIndex,
    /// Tag summary of a prefix of `fragments`; `None` until the first one is stored.
    tags: Option<Arc<TraceTags>>,
}

/// A copy of one live trace, handed to readers.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTraceSnapshot {
    /// Encoded `TracesData`: every fragment received for the trace.
    pub traces_data: Bytes,
    /// Earliest span start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// Latest span end, Unix nanoseconds.
    pub end_unix_nano: u64,
    /// Spans held.
    pub span_count: u64,
}

/// A shared view of one live trace, for search: cheap to take, evaluated off the actor.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveTraceRef {
    /// The trace.
    pub trace_id: TraceId,
    /// Encoded `TracesData` fragments; their concatenation decodes as one `TracesData`.
    pub fragments: Vec<Bytes>,
    /// Earliest span start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// Latest span end, Unix nanoseconds.
    pub end_unix_nano: u64,
    /// Spans held.
    pub span_count: u64,
    /// Tag summary of a prefix of `fragments`, if one was built yet.
    pub(crate) tags: Option<Arc<TraceTags>>,
}

impl LiveTraceRef {
    /// Bytes of span data.
    pub fn size(&self) -> u64 {
        self.fragments.iter().map(|f| f.len() as u64).sum()
    }
}

/// Memory held for one tenant in one live-store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantUsage {
    /// Live traces.
    pub traces: u64,
    /// Bytes of span data plus per-trace overhead and tag summaries.
    pub bytes: u64,
}

/// What applying a run of records did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApplyOutcome {
    /// Every new record applied; `applied` is the new high-water mark.
    Applied { applied: LogIndex },
    /// A record past `applied + 1` arrived: records are missing and must be resent from `from`.
    Gap { from: LogIndex },
    /// No base yet: the records were dropped (the log's replay brings them).
    NoBase,
}

/// Why a record could not be applied.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum LiveTracesError {
    /// The record is not a valid [`TraceBatch`]: a bug or a corrupt log, never user input.
    #[error("log record {index} does not decode as a trace batch: {reason}")]
    UndecodableRecord { index: LogIndex, reason: String },
}

/// The traces of one partition replica, by tenant.
#[derive(Debug, Default)]
pub(crate) struct LiveTraces {
    tenants: HashMap<TenantId, HashMap<TraceId, LiveTrace>>,
    usage: HashMap<TenantId, TenantUsage>,
    /// The last record applied; `None` until the log set the base.
    applied: Option<LogIndex>,
    /// Traces by the last record that touched them, for eviction. Lazy: an entry is stale
    /// when its trace was touched again later, and eviction re-checks.
    by_last_index: BTreeMap<LogIndex, Vec<(TenantId, TraceId)>>,
    /// Flushes not yet acted on: (every record up to here is in a block, since when).
    flushes: VecDeque<(LogIndex, Instant)>,
    /// Traces with fragments newer than their tag summary, not yet handed out as work.
    unsummarized: HashSet<(TenantId, TraceId)>,
    /// Traces handed out as summary work and not yet stored back.
    summarizing: usize,
    /// Estimated bytes of every tag summary held.
    summary_bytes: u64,
    /// Until when tags count as in use (the last tag query plus [`TAGS_IN_USE_FOR`]).
    tags_in_use_until: Option<Instant>,
}

impl LiveTraces {
    /// Creates an empty store without a base.
    pub fn new() -> LiveTraces {
        LiveTraces::default()
    }

    /// The last log index applied; `None` before the base is set.
    pub fn applied(&self) -> Option<LogIndex> {
        self.applied
    }

    /// Declares that the next record to apply is `base + 1` (the log holds nothing older).
    /// Moves the mark forward only: applied records are kept.
    pub fn set_base(&mut self, base: LogIndex) {
        self.applied = Some(self.applied.map_or(base, |applied| applied.max(base)));
    }

    /// Applies committed records in log order (see the module doc for replays and gaps).
    pub fn apply(&mut self, records: &[CommittedRecord]) -> Result<ApplyOutcome, LiveTracesError> {
        let Some(mut applied) = self.applied else {
            return Ok(ApplyOutcome::NoBase);
        };
        let mut outcome = None;
        for record in records {
            if record.index <= applied {
                continue;
            }
            if record.index != applied.next() {
                outcome = Some(ApplyOutcome::Gap { from: applied.next() });
                break;
            }
            if record.payload.is_empty() {
                // A Raft control entry (blank, membership): it only takes up an index.
                applied = record.index;
                continue;
            }
            let batch = match TraceBatch::decode(record.payload.clone()) {
                Ok(batch) => batch,
                Err(error) => {
                    self.applied = Some(applied);
                    return Err(LiveTracesError::UndecodableRecord {
                        index: record.index,
                        reason: error.to_string(),
                    });
                }
            };
            self.apply_batch(batch, record.index);
            applied = record.index;
        }
        self.applied = Some(applied);
        Ok(outcome.unwrap_or(ApplyOutcome::Applied { applied }))
    }

    fn apply_batch(&mut self, batch: TraceBatch, index: LogIndex) {
        let tenant = batch.tenant_id();
        let traces = self.tenants.entry(tenant.clone()).or_default();
        let usage = self.usage.entry(tenant.clone()).or_default();
        let touched = self.by_last_index.entry(index).or_default();
        let unsummarized = &mut self.unsummarized;
        for fragment in batch.traces {
            let Some(trace_id) = fragment.trace_id() else {
                // The distributor only writes 16-byte ids; skip rather than poison the store.
                debug_assert!(false, "trace fragment with a malformed id in the log");
                continue;
            };
            let trace = traces.entry(trace_id).or_insert_with(|| {
                usage.traces += 1;
                usage.bytes += TRACE_OVERHEAD_BYTES;
                LiveTrace { start_unix_nano: u64::MAX, first_index: index, ..LiveTrace::default() }
            });
            // A copy: a slice of the record would keep the whole record alive as long as any
            // of its traces, and usage would undercount.
            trace.bytes += fragment.traces_data.len() as u64;
            trace.fragments.push(Bytes::copy_from_slice(&fragment.traces_data));
            trace.start_unix_nano = trace.start_unix_nano.min(fragment.start_unix_nano);
            trace.end_unix_nano = trace.end_unix_nano.max(fragment.end_unix_nano);
            trace.span_count += u64::from(fragment.span_count);
            trace.last_index = index;
            usage.bytes += fragment.traces_data.len() as u64;
            touched.push((tenant.clone(), trace_id));
            if trace.tags.as_ref().is_none_or(|tags| !tags.is_dropped()) {
                unsummarized.insert((tenant.clone(), trace_id));
            }
        }
    }

    /// Records a tag query at `now`: summaries are built for [`TAGS_IN_USE_FOR`] after it.
    pub fn tags_queried(&mut self, now: Instant) {
        self.tags_in_use_until = Some(now + TAGS_IN_USE_FOR);
    }

    /// Hands out the tag-summary work of every trace with fragments newer than its summary;
    /// none while a batch is out (one at a time, so summaries grow in fragment order) and
    /// none unless tags are in use at `now` (summarizing costs ingest ~17% of its
    /// throughput, which a node nobody asks for tags should not pay).
    pub fn tag_summary_work(&mut self, now: Instant) -> Vec<SummaryWork> {
        let in_use = self.tags_in_use_until.is_some_and(|until| now < until);
        if self.summarizing > 0 || !in_use {
            return Vec::new();
        }
        let mut work = Vec::new();
        for (tenant, trace_id) in self.unsummarized.drain() {
            let Some(trace) = self.tenants.get(&tenant).and_then(|t| t.get(&trace_id)) else {
                continue;
            };
            let covered = trace.tags.as_ref().map_or(0, |tags| tags.covered());
            let Some(newer) = trace.fragments.get(covered..).filter(|newer| !newer.is_empty())
            else {
                continue;
            };
            work.push(SummaryWork {
                tenant,
                trace_id,
                first_index: trace.first_index,
                base: trace.tags.clone(),
                fragments: newer.to_vec(),
            });
        }
        self.summarizing += work.len();
        work
    }

    /// Stores the finished summaries of the batch that was out (all of it: a failed batch
    /// reports none); one whose trace was evicted (or re-created), or whose base is no longer
    /// the trace's summary, is discarded.
    pub fn store_tag_summaries(&mut self, done: Vec<SummaryDone>) {
        self.summarizing = 0;
        for summary in done {
            let Some(trace) =
                self.tenants.get_mut(&summary.tenant).and_then(|t| t.get_mut(&summary.trace_id))
            else {
                continue;
            };
            let current = trace.tags.as_ref().map_or(0, |tags| tags.covered());
            if trace.first_index != summary.first_index || current != summary.base_covered {
                continue;
            }
            let old_bytes = trace.tags.as_ref().map_or(0, |tags| tags.bytes() as u64);
            let new_bytes = summary.tags.bytes() as u64;
            self.summary_bytes = self.summary_bytes.saturating_sub(old_bytes) + new_bytes;
            // Summaries count against the tenant's live bytes: memory stays bounded by
            // `live_store.max_bytes_per_tenant` whatever the spans' shape.
            if let Some(usage) = self.usage.get_mut(&summary.tenant) {
                usage.bytes = usage.bytes.saturating_sub(old_bytes) + new_bytes;
            }
            trace.tags = Some(summary.tags);
        }
    }

    /// Traces whose newest fragments are not in their tag summary yet (queued or in work).
    pub fn traces_awaiting_tag_summary(&self) -> u64 {
        (self.unsummarized.len() + self.summarizing) as u64
    }

    /// Estimated bytes of every tag summary held.
    pub fn tag_summary_bytes(&self) -> u64 {
        self.summary_bytes
    }

    /// Records that every log record up to `up_to` is in a registered block, as of `now`.
    pub fn flushed(&mut self, up_to: LogIndex, now: Instant) {
        self.flushes.push_back((up_to, now));
    }

    /// Forgets traces whose every record is in a block flushed at least `window` ago;
    /// returns how many.
    pub fn evict(&mut self, now: Instant, window: Duration) -> u64 {
        let mut evictable = None;
        while let Some((up_to, at)) = self.flushes.front().copied() {
            if now.saturating_duration_since(at) < window {
                break;
            }
            evictable = Some(up_to);
            self.flushes.pop_front();
        }
        let Some(up_to) = evictable else { return 0 };
        let later = self.by_last_index.split_off(&up_to.next());
        let candidates = std::mem::replace(&mut self.by_last_index, later);
        let mut evicted = 0;
        for (tenant, trace_id) in candidates.into_values().flatten() {
            let Some(traces) = self.tenants.get_mut(&tenant) else { continue };
            // A stale entry: the trace got spans after this point and a later entry covers it.
            if traces.get(&trace_id).is_none_or(|trace| trace.last_index > up_to) {
                continue;
            }
            let Some(trace) = traces.remove(&trace_id) else { continue };
            evicted += 1;
            let summary_bytes = trace.tags.as_ref().map_or(0, |tags| tags.bytes() as u64);
            self.summary_bytes = self.summary_bytes.saturating_sub(summary_bytes);
            self.unsummarized.remove(&(tenant.clone(), trace_id));
            if let Some(usage) = self.usage.get_mut(&tenant) {
                usage.traces = usage.traces.saturating_sub(1);
                usage.bytes =
                    usage.bytes.saturating_sub(trace.bytes + TRACE_OVERHEAD_BYTES + summary_bytes);
            }
        }
        evicted
    }

    /// A copy of one trace, if this store holds spans of it.
    pub fn find(&self, tenant: &TenantId, trace_id: &TraceId) -> Option<LiveTraceSnapshot> {
        let trace = self.tenants.get(tenant)?.get(trace_id)?;
        Some(LiveTraceSnapshot {
            traces_data: Bytes::from(trace.fragments.concat()),
            start_unix_nano: trace.start_unix_nano,
            end_unix_nano: trace.end_unix_nano,
            span_count: trace.span_count,
        })
    }

    /// Shared views of the tenant's traces that overlap `[start, end]` (Unix nanoseconds;
    /// every trace when `None`).
    pub fn search_snapshot(
        &self,
        tenant: &TenantId,
        window: Option<(u64, u64)>,
    ) -> Vec<LiveTraceRef> {
        let Some(traces) = self.tenants.get(tenant) else { return Vec::new() };
        traces
            .iter()
            .filter(|(_, t)| {
                window
                    .is_none_or(|(start, end)| t.start_unix_nano <= end && t.end_unix_nano >= start)
            })
            .map(|(trace_id, t)| LiveTraceRef {
                trace_id: *trace_id,
                fragments: t.fragments.clone(),
                start_unix_nano: t.start_unix_nano,
                end_unix_nano: t.end_unix_nano,
                span_count: t.span_count,
                tags: t.tags.clone(),
            })
            .collect()
    }

    /// Memory held per tenant.
    pub fn usage(&self) -> &HashMap<TenantId, TenantUsage> {
        &self.usage
    }

    /// Live traces across tenants.
    pub fn trace_count(&self) -> u64 {
        self.usage.values().map(|usage| usage.traces).sum()
    }
}

#[cfg(test)]
#[path = "live_traces_tests.rs"]
mod tests;
