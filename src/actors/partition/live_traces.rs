//! The pure core of a live-store: committed log records applied in order, traces kept as
//! compact byte buffers, usage accounted per tenant.
//!
//! ```text
//!  committed records (index n, n+1, …) ──► apply ──► tenant ─► trace id ─► LiveTrace
//!                                                                            data: concatenated
//!                                                                            TracesData fragments
//! ```
//!
//! Records apply exactly once and in order: an index at or below `applied` is a replay and
//! is skipped; an index past `applied + 1` means records were lost in transit (the actor was
//! restarting) and is refused with [`ApplyOutcome::Gap`] so the log can resend from the gap.

use std::collections::HashMap;

use bytes::Bytes;
use prost::Message;

use crate::model::batch::TraceBatch;
use crate::model::ids::{LogIndex, TenantId, TraceId};

/// Fixed bookkeeping cost of one live trace (map entry and header), for usage accounting.
const TRACE_OVERHEAD_BYTES: u64 = 96;

/// One record of the partition log as the live-store sees it.
#[derive(Debug, Clone)]
pub(crate) struct CommittedRecord {
    /// Position in the log.
    pub index: LogIndex,
    /// An encoded [`TraceBatch`].
    pub payload: Bytes,
}

/// One trace held in memory.
#[derive(Debug, Clone, Default)]
struct LiveTrace {
    /// Concatenated encoded `TracesData` fragments.
    data: Vec<u8>,
    start_unix_nano: u64,
    end_unix_nano: u64,
    span_count: u64,
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

/// Memory held for one tenant in one live-store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantUsage {
    /// Live traces.
    pub traces: u64,
    /// Bytes of span data plus per-trace overhead.
    pub bytes: u64,
}

/// What applying a run of records did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApplyOutcome {
    /// Every new record applied; `applied` is the new high-water mark.
    Applied { applied: LogIndex },
    /// A record past `applied + 1` arrived: records are missing and must be resent from `from`.
    Gap { from: LogIndex },
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
    applied: LogIndex,
}

impl LiveTraces {
    /// Creates an empty store that expects log index 1 next.
    pub fn new() -> LiveTraces {
        LiveTraces::default()
    }

    /// The last log index applied.
    pub fn applied(&self) -> LogIndex {
        self.applied
    }

    /// Applies committed records in log order (see the module doc for replays and gaps).
    pub fn apply(&mut self, records: &[CommittedRecord]) -> Result<ApplyOutcome, LiveTracesError> {
        for record in records {
            if record.index <= self.applied {
                continue;
            }
            if record.index != self.applied.next() {
                return Ok(ApplyOutcome::Gap { from: self.applied.next() });
            }
            let batch = TraceBatch::decode(record.payload.clone()).map_err(|error| {
                LiveTracesError::UndecodableRecord {
                    index: record.index,
                    reason: error.to_string(),
                }
            })?;
            self.apply_batch(batch);
            self.applied = record.index;
        }
        Ok(ApplyOutcome::Applied { applied: self.applied })
    }

    fn apply_batch(&mut self, batch: TraceBatch) {
        let tenant = batch.tenant_id();
        let traces = self.tenants.entry(tenant.clone()).or_default();
        let usage = self.usage.entry(tenant).or_default();
        for fragment in batch.traces {
            let Some(trace_id) = fragment.trace_id() else {
                // The distributor only writes 16-byte ids; skip rather than poison the store.
                debug_assert!(false, "trace fragment with a malformed id in the log");
                continue;
            };
            let trace = traces.entry(trace_id).or_insert_with(|| {
                usage.traces += 1;
                usage.bytes += TRACE_OVERHEAD_BYTES;
                LiveTrace { start_unix_nano: u64::MAX, ..LiveTrace::default() }
            });
            trace.data.extend_from_slice(&fragment.traces_data);
            trace.start_unix_nano = trace.start_unix_nano.min(fragment.start_unix_nano);
            trace.end_unix_nano = trace.end_unix_nano.max(fragment.end_unix_nano);
            trace.span_count += u64::from(fragment.span_count);
            usage.bytes += fragment.traces_data.len() as u64;
        }
    }

    /// A copy of one trace, if this store holds spans of it.
    pub fn find(&self, tenant: &TenantId, trace_id: &TraceId) -> Option<LiveTraceSnapshot> {
        let trace = self.tenants.get(tenant)?.get(trace_id)?;
        Some(LiveTraceSnapshot {
            traces_data: Bytes::copy_from_slice(&trace.data),
            start_unix_nano: trace.start_unix_nano,
            end_unix_nano: trace.end_unix_nano,
            span_count: trace.span_count,
        })
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
mod tests {
    use super::*;
    use crate::model::batch::TraceFragment;

    fn record(index: u64, tenant: &str, trace: u8, payload_len: usize) -> CommittedRecord {
        let batch = TraceBatch {
            tenant: tenant.into(),
            traces: vec![TraceFragment {
                trace_id: vec![trace; 16],
                start_unix_nano: 100 + index,
                end_unix_nano: 200 + index,
                span_count: 2,
                traces_data: Bytes::from(vec![0u8; payload_len]),
            }],
        };
        CommittedRecord { index: LogIndex(index), payload: Bytes::from(batch.encode_to_vec()) }
    }

    #[test]
    fn fragments_of_a_trace_accumulate() {
        let mut store = LiveTraces::new();
        let outcome = store.apply(&[record(1, "a", 1, 10), record(2, "a", 1, 5)]).unwrap();
        assert_eq!(outcome, ApplyOutcome::Applied { applied: LogIndex(2) });
        let trace = store.find(&TenantId::new("a"), &TraceId([1; 16])).unwrap();
        assert_eq!(trace.traces_data.len(), 15);
        assert_eq!(trace.span_count, 4);
        assert_eq!((trace.start_unix_nano, trace.end_unix_nano), (101, 202));
        assert_eq!(store.usage()[&TenantId::new("a")], TenantUsage { traces: 1, bytes: 96 + 15 });
    }

    #[test]
    fn tenants_are_isolated() {
        let mut store = LiveTraces::new();
        store.apply(&[record(1, "a", 1, 1), record(2, "b", 2, 1)]).unwrap();
        assert!(store.find(&TenantId::new("a"), &TraceId([2; 16])).is_none());
        assert!(store.find(&TenantId::new("b"), &TraceId([2; 16])).is_some());
        assert_eq!(store.trace_count(), 2);
    }

    #[test]
    fn replayed_records_apply_once() {
        let mut store = LiveTraces::new();
        store.apply(&[record(1, "a", 1, 10)]).unwrap();
        store.apply(&[record(1, "a", 1, 10), record(2, "a", 1, 10)]).unwrap();
        let trace = store.find(&TenantId::new("a"), &TraceId([1; 16])).unwrap();
        assert_eq!(trace.span_count, 4);
        assert_eq!(store.applied(), LogIndex(2));
    }

    #[test]
    fn a_gap_is_reported_and_nothing_past_it_applies() {
        let mut store = LiveTraces::new();
        store.apply(&[record(1, "a", 1, 1)]).unwrap();
        let outcome = store.apply(&[record(3, "a", 3, 1)]).unwrap();
        assert_eq!(outcome, ApplyOutcome::Gap { from: LogIndex(2) });
        assert!(store.find(&TenantId::new("a"), &TraceId([3; 16])).is_none());
        assert_eq!(store.applied(), LogIndex(1));
    }

    #[test]
    fn an_undecodable_record_is_an_error() {
        let mut store = LiveTraces::new();
        let bad = CommittedRecord { index: LogIndex(1), payload: Bytes::from_static(&[0xff; 4]) };
        assert!(store.apply(&[bad]).is_err());
    }
}
