//! The pure core of a partition log: group commit.
//!
//! ```text
//!  Append ──► queue ──(no flush in flight)──► FlushBatch: indices assigned, records built
//!                                               │ append + fsync off the runtime
//!  Append ──► queue (waits: one fsync later) ◄──┘ flush_succeeded: acks every request in it,
//!                                                 then the queued ones form the next batch
//! ```
//!
//! One fsync serves every request that arrived while the previous one ran, so the fsync rate
//! stays constant while throughput scales with load; a request waits at most for the flush in
//! flight plus its own (bounded further by `max_batch_bytes`). Generic over the reply type so
//! it is tested without actors.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::model::ids::{LogIndex, Term};
use crate::storage::wal::Record;

/// Requests made durable together, with the index each one received.
#[derive(Debug)]
pub(crate) struct FlushBatch<R> {
    /// Records to append, in index order.
    pub records: Vec<Record>,
    /// Who to acknowledge, with their record's index.
    pub replies: Vec<(LogIndex, R)>,
}

impl<R> FlushBatch<R> {
    /// Index of the batch's last record.
    pub fn last_index(&self) -> Option<LogIndex> {
        self.records.last().map(|record| record.index)
    }
}

/// Group-commit bookkeeping of one partition log.
#[derive(Debug)]
pub(crate) struct GroupCommit<R> {
    term: Term,
    next_index: LogIndex,
    committed: LogIndex,
    queue: VecDeque<(Bytes, R)>,
    in_flight: bool,
    max_batch_bytes: usize,
}

impl<R> GroupCommit<R> {
    /// Starts after a log whose last durable record is `committed`.
    pub fn new(term: Term, committed: LogIndex, max_batch_bytes: usize) -> GroupCommit<R> {
        GroupCommit {
            term,
            next_index: committed.next(),
            committed,
            queue: VecDeque::new(),
            in_flight: false,
            max_batch_bytes: max_batch_bytes.max(1),
        }
    }

    /// The last durable index.
    pub fn committed(&self) -> LogIndex {
        self.committed
    }

    /// Queues one request.
    pub fn enqueue(&mut self, payload: Bytes, reply: R) {
        self.queue.push_back((payload, reply));
    }

    /// The next batch to flush, unless one is in flight or nothing waits. Takes requests in
    /// arrival order up to `max_batch_bytes` (always at least one).
    pub fn next_flush(&mut self) -> Option<FlushBatch<R>> {
        if self.in_flight || self.queue.is_empty() {
            return None;
        }
        let mut batch = FlushBatch { records: Vec::new(), replies: Vec::new() };
        let mut batch_bytes = 0usize;
        while let Some((payload, _)) = self.queue.front() {
            if !batch.records.is_empty() && batch_bytes + payload.len() > self.max_batch_bytes {
                break;
            }
            let Some((payload, reply)) = self.queue.pop_front() else { break };
            batch_bytes += payload.len();
            let index = self.next_index;
            self.next_index = index.next();
            batch.records.push(Record { term: self.term, index, payload });
            batch.replies.push((index, reply));
        }
        self.in_flight = true;
        Some(batch)
    }

    /// Records that the batch ending at `last` is durable.
    pub fn flush_succeeded(&mut self, last: LogIndex) {
        debug_assert!(self.in_flight, "flush completed with none in flight");
        debug_assert!(last >= self.committed, "commit index moved backwards");
        self.committed = last;
        self.in_flight = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(len: usize) -> Bytes {
        Bytes::from(vec![1u8; len])
    }

    #[test]
    fn requests_arriving_during_a_flush_share_the_next_one() {
        let mut core = GroupCommit::new(Term(1), LogIndex(0), 1 << 20);
        core.enqueue(payload(10), "a");
        let first = core.next_flush().unwrap();
        assert_eq!(first.replies, vec![(LogIndex(1), "a")]);
        core.enqueue(payload(10), "b");
        core.enqueue(payload(10), "c");
        assert!(core.next_flush().is_none(), "one flush at a time");
        core.flush_succeeded(LogIndex(1));
        let second = core.next_flush().unwrap();
        assert_eq!(second.replies, vec![(LogIndex(2), "b"), (LogIndex(3), "c")]);
        assert_eq!(second.last_index(), Some(LogIndex(3)));
        core.flush_succeeded(LogIndex(3));
        assert_eq!(core.committed(), LogIndex(3));
        assert!(core.next_flush().is_none());
    }

    #[test]
    fn batches_are_bounded_by_bytes_but_never_empty() {
        let mut core = GroupCommit::new(Term(1), LogIndex(5), 25);
        for name in ["a", "b", "c"] {
            core.enqueue(payload(10), name);
        }
        core.enqueue(payload(100), "big");
        let batch = core.next_flush().unwrap();
        assert_eq!(batch.records.len(), 2);
        assert_eq!(batch.records[0].index, LogIndex(6));
        core.flush_succeeded(LogIndex(7));
        assert_eq!(core.next_flush().unwrap().records.len(), 1);
        core.flush_succeeded(LogIndex(8));
        let oversized = core.next_flush().unwrap();
        assert_eq!(oversized.replies, vec![(LogIndex(9), "big")]);
    }

    #[test]
    fn records_carry_the_term() {
        let mut core = GroupCommit::new(Term(7), LogIndex(0), 100);
        core.enqueue(payload(1), ());
        assert_eq!(core.next_flush().unwrap().records[0].term, Term(7));
    }
}
