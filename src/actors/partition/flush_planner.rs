//! The pure core of a block-builder: when to cut a block, and which log range it covers.
//!
//! ```text
//!  committed records ──► pending (index, bytes, when) ──► cut? ──► FlushRange [first, last]
//!                                                         ├─ pending bytes ≥ max_block_bytes
//!                                                         ├─ oldest pending ≥ max_block_duration
//!                                                         └─ no new record for trace_idle_period
//! ```
//!
//! A block covers a contiguous range of the partition log, for every tenant at once, so the
//! log can be purged up to its end once every tenant's block is registered. Ranges are
//! bounded by `max_block_bytes` (always at least one record). After a crash the builder
//! resumes with the range of a block already registered for the first unflushed index, so
//! the same block is rebuilt and overwritten, never a second one overlapping it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::model::ids::LogIndex;

/// When blocks are cut, from the `block_builder` config section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlushPolicy {
    /// Cut once the oldest unflushed record is this old.
    pub max_block_duration: Duration,
    /// Cut once this many bytes of log records are unflushed; also a block's size bound.
    pub max_block_bytes: u64,
    /// Cut once no record arrived for this long.
    pub trace_idle_period: Duration,
}

/// A contiguous range of the log that one flush turns into blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlushRange {
    /// First record.
    pub first: LogIndex,
    /// Last record.
    pub last: LogIndex,
}

/// Pending records and the flush decision for one partition.
#[derive(Debug)]
pub(crate) struct FlushPlanner {
    policy: FlushPolicy,
    /// Every record up to here is in registered blocks (and may be purged).
    flushed_through: LogIndex,
    /// Committed, not yet flushed: (index, bytes, when it was committed or first seen).
    pending: VecDeque<(LogIndex, u64, Instant)>,
    pending_bytes: u64,
    last_commit_at: Option<Instant>,
    /// A range to redo first: a block of it was registered before a crash.
    resume_to: Option<LogIndex>,
    in_progress: Option<FlushRange>,
}

impl FlushPlanner {
    /// Starts after `flushed_through`, with the records already in the log (seen `now`).
    /// `resume_to` is the last index of a block registered for `flushed_through + 1`, if any.
    pub fn new(
        policy: FlushPolicy,
        flushed_through: LogIndex,
        pending: &[(LogIndex, u64)],
        resume_to: Option<LogIndex>,
        now: Instant,
    ) -> FlushPlanner {
        let mut planner = FlushPlanner {
            policy,
            flushed_through,
            pending: VecDeque::new(),
            pending_bytes: 0,
            last_commit_at: None,
            resume_to,
            in_progress: None,
        };
        for (index, bytes) in pending {
            planner.committed(*index, *bytes, now);
        }
        planner
    }

    /// Every record up to here is flushed.
    #[cfg(test)]
    pub fn flushed_through(&self) -> LogIndex {
        self.flushed_through
    }

    /// Bytes of committed records not yet in blocks.
    #[cfg(test)]
    pub fn pending_bytes(&self) -> u64 {
        self.pending_bytes
    }

    /// Records that `index` (of `bytes` bytes) is committed.
    pub fn committed(&mut self, index: LogIndex, bytes: u64, now: Instant) {
        let is_new = index > self.flushed_through
            && self.pending.back().is_none_or(|(last, _, _)| index > *last);
        if is_new {
            self.pending.push_back((index, bytes, now));
            self.pending_bytes += bytes;
            self.last_commit_at = Some(now);
        }
    }

    /// The next range to flush, if one is due and none is in progress.
    pub fn next_flush(&mut self, now: Instant) -> Option<FlushRange> {
        if self.in_progress.is_some() {
            return None;
        }
        let (_, _, oldest_at) = *self.pending.front()?;
        // Always right after the flushed point, never at the first *known* pending record: a
        // record whose notice was lost (the builder was restarting) must not fall in a hole
        // that the purge after this flush would drop.
        let first = self.flushed_through.next();
        let range = match self.resume_to.take() {
            Some(resume_to) => FlushRange { first, last: resume_to },
            None => {
                let full = self.pending_bytes >= self.policy.max_block_bytes;
                let old =
                    now.saturating_duration_since(oldest_at) >= self.policy.max_block_duration;
                let idle = self.last_commit_at.is_some_and(|at| {
                    now.saturating_duration_since(at) >= self.policy.trace_idle_period
                });
                if !(full || old || idle) {
                    return None;
                }
                FlushRange { first, last: self.bounded_last().max(first) }
            }
        };
        self.in_progress = Some(range);
        Some(range)
    }

    /// The last index of a range starting at the first pending record and holding at most
    /// `max_block_bytes` (at least one record).
    fn bounded_last(&self) -> LogIndex {
        let mut bytes = 0u64;
        let mut last = self.pending.front().map_or(self.flushed_through, |(index, _, _)| *index);
        for (index, size, _) in &self.pending {
            if bytes > 0 && bytes + size > self.policy.max_block_bytes {
                break;
            }
            bytes += size;
            last = *index;
        }
        last
    }

    /// The range in progress is in registered blocks.
    pub fn flush_done(&mut self, range: FlushRange) {
        debug_assert_eq!(self.in_progress, Some(range), "completed a flush that was not started");
        self.in_progress = None;
        self.flushed_through = self.flushed_through.max(range.last);
        while let Some((index, bytes, _)) = self.pending.front().copied() {
            if index > range.last {
                break;
            }
            self.pending.pop_front();
            self.pending_bytes -= bytes;
        }
    }

    /// The range in progress failed; it is planned again (same first record) later.
    pub fn flush_failed(&mut self, range: FlushRange) {
        debug_assert_eq!(self.in_progress, Some(range), "failed a flush that was not started");
        self.in_progress = None;
        // Redo the very same range: some of its blocks may already be registered.
        self.resume_to = Some(range.last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> FlushPolicy {
        FlushPolicy {
            max_block_duration: Duration::from_secs(300),
            max_block_bytes: 100,
            trace_idle_period: Duration::from_secs(10),
        }
    }

    fn at(start: Instant, seconds: u64) -> Instant {
        start + Duration::from_secs(seconds)
    }

    #[test]
    fn nothing_is_cut_while_records_keep_coming_and_stay_small() {
        let start = Instant::now();
        let mut planner = FlushPlanner::new(policy(), LogIndex(0), &[], None, start);
        assert_eq!(planner.next_flush(start), None);
        for second in 0..5 {
            planner.committed(LogIndex(second + 1), 10, at(start, second));
            assert_eq!(planner.next_flush(at(start, second)), None);
        }
        assert_eq!(planner.pending_bytes(), 50);
    }

    #[test]
    fn an_idle_log_is_cut_and_the_range_is_bounded_by_bytes() {
        let start = Instant::now();
        let mut planner = FlushPlanner::new(policy(), LogIndex(0), &[], None, start);
        for index in 1..=5 {
            planner.committed(LogIndex(index), 40, start);
        }
        // Bytes (200) over the limit: cut at once, two records (80 bytes) per block.
        let range = planner.next_flush(start).unwrap();
        assert_eq!(range, FlushRange { first: LogIndex(1), last: LogIndex(2) });
        assert_eq!(planner.next_flush(start), None, "one flush at a time");
        planner.flush_done(range);
        assert_eq!(planner.flushed_through(), LogIndex(2));
        assert_eq!(planner.pending_bytes(), 120);
        let second = planner.next_flush(start).unwrap();
        assert_eq!(second, FlushRange { first: LogIndex(3), last: LogIndex(4) });
        planner.flush_done(second);
        assert_eq!(planner.next_flush(at(start, 5)), None, "40 bytes, not idle yet");
        assert_eq!(
            planner.next_flush(at(start, 10)),
            Some(FlushRange { first: LogIndex(5), last: LogIndex(5) }),
            "idle"
        );
    }

    #[test]
    fn an_old_record_forces_a_cut_even_under_steady_traffic() {
        let start = Instant::now();
        let mut planner = FlushPlanner::new(policy(), LogIndex(0), &[], None, start);
        for second in 0..=300 {
            planner.committed(LogIndex(second + 1), 0, at(start, second));
        }
        let range = planner.next_flush(at(start, 300)).unwrap();
        assert_eq!(range.first, LogIndex(1));
    }

    #[test]
    fn a_single_record_larger_than_the_limit_is_its_own_block() {
        let start = Instant::now();
        let mut planner = FlushPlanner::new(
            policy(),
            LogIndex(0),
            &[(LogIndex(1), 500), (LogIndex(2), 1)],
            None,
            start,
        );
        assert_eq!(
            planner.next_flush(start),
            Some(FlushRange { first: LogIndex(1), last: LogIndex(1) })
        );
    }

    #[test]
    fn after_a_crash_the_registered_range_is_redone_first() {
        let start = Instant::now();
        let pending: Vec<_> = (11..=20).map(|index| (LogIndex(index), 1)).collect();
        let mut planner =
            FlushPlanner::new(policy(), LogIndex(10), &pending, Some(LogIndex(17)), start);
        let range = planner.next_flush(start).unwrap();
        assert_eq!(range, FlushRange { first: LogIndex(11), last: LogIndex(17) });
        planner.flush_done(range);
        assert_eq!(planner.pending_bytes(), 3);
    }

    #[test]
    fn a_failed_flush_is_retried_with_the_same_range() {
        let start = Instant::now();
        let pending: Vec<_> = (1..=3).map(|index| (LogIndex(index), 60)).collect();
        let mut planner = FlushPlanner::new(policy(), LogIndex(0), &pending, None, start);
        let range = planner.next_flush(start).unwrap();
        planner.committed(LogIndex(4), 1, start);
        planner.flush_failed(range);
        assert_eq!(planner.next_flush(start), Some(range));
    }

    #[test]
    fn records_at_or_below_the_flushed_point_are_ignored() {
        let start = Instant::now();
        let mut planner = FlushPlanner::new(policy(), LogIndex(5), &[], None, start);
        planner.committed(LogIndex(5), 50, start);
        planner.committed(LogIndex(6), 1, start);
        planner.committed(LogIndex(6), 1, start);
        assert_eq!(planner.pending_bytes(), 1);
    }

    #[test]
    fn ranges_start_right_after_the_flushed_point_even_if_notices_were_lost() {
        let start = Instant::now();
        // Records 1 and 2 were committed while the builder was down: only 3 is known.
        let mut planner =
            FlushPlanner::new(policy(), LogIndex(0), &[(LogIndex(3), 200)], None, start);
        assert_eq!(
            planner.next_flush(start),
            Some(FlushRange { first: LogIndex(1), last: LogIndex(3) })
        );
    }
}
