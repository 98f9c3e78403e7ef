//! The combining half of a search: shard answers in, Tempo's `SearchResponse` out.
//!
//! ```text
//!  add(job answer) ──► hits by trace id (fragments merged) + cumulative metrics
//!  take_changes()  ──► traces new or changed since the last call that are among the best
//!                      `limit`, with the metrics so far          (a streaming interim)
//!  finish()        ──► the best `limit` traces, newest start first, with the metrics
//! ```
//!
//! "Best" is the newest start first, as in the final answer. A changed trace is handed out
//! only while it is among the best `limit`, so interims never show a trace the final answer
//! drops (Grafana keeps every trace it was sent); one that drops out stays pending and is
//! never sent. Pure: no I/O, no clock.

use std::collections::{HashMap, HashSet};

use crate::actors::query::search_hits::{SearchAnswer, merge_hit};
use crate::proto::tempopb;

/// Hits and metrics of one search so far.
#[derive(Debug)]
pub(crate) struct SearchCombiner {
    limit: usize,
    hits: HashMap<String, tempopb::TraceSearchMetadata>,
    /// Trace ids added or merged since the last `take_changes`.
    changed: HashSet<String>,
    metrics: tempopb::SearchMetrics,
}

impl SearchCombiner {
    /// A combiner keeping at most `limit` traces of a search cut into `total_jobs` jobs.
    pub(crate) fn new(limit: usize, total_jobs: usize) -> SearchCombiner {
        let metrics = tempopb::SearchMetrics {
            total_jobs: u32::try_from(total_jobs).unwrap_or(u32::MAX),
            ..Default::default()
        };
        SearchCombiner { limit, hits: HashMap::new(), changed: HashSet::new(), metrics }
    }

    /// Records the blocks the search covers (`totalBlocks`, `totalBlockBytes`).
    pub(crate) fn set_blocks(&mut self, count: usize, bytes: u64) {
        self.metrics.total_blocks = u32::try_from(count).unwrap_or(u32::MAX);
        self.metrics.total_block_bytes = bytes;
    }

    /// Adds the answer of one job: its hits and what it inspected.
    pub(crate) fn add(&mut self, answer: SearchAnswer) {
        self.metrics.completed_jobs += 1;
        self.metrics.inspected_traces += answer.inspected_traces;
        self.metrics.inspected_bytes += answer.inspected_bytes;
        self.metrics.inspected_spans += answer.inspected_spans;
        for hit in answer.hits {
            self.changed.insert(hit.trace_id.clone());
            merge_hit(&mut self.hits, hit);
        }
    }

    /// True once `limit` traces matched: jobs come newest first, so later jobs cannot add a
    /// trace that belongs in the answer.
    pub(crate) fn has_enough(&self) -> bool {
        self.hits.len() >= self.limit
    }

    /// The traces added or changed since the last call that are among the best `limit`, and
    /// the cumulative metrics.
    pub(crate) fn take_changes(&mut self) -> tempopb::SearchResponse {
        let mut best = self.best();
        best.retain(|trace| self.changed.contains(&trace.trace_id));
        let traces: Vec<tempopb::TraceSearchMetadata> = best.into_iter().cloned().collect();
        for trace in &traces {
            self.changed.remove(&trace.trace_id);
        }
        tempopb::SearchResponse { traces, metrics: Some(self.metrics) }
    }

    /// The answer: the best `limit` traces, newest start first, and the metrics.
    pub(crate) fn finish(self) -> tempopb::SearchResponse {
        let mut traces: Vec<_> = self.hits.into_values().collect();
        traces.sort_by(newest_first);
        traces.truncate(self.limit);
        tempopb::SearchResponse { traces, metrics: Some(self.metrics) }
    }

    fn best(&self) -> Vec<&tempopb::TraceSearchMetadata> {
        let mut traces: Vec<_> = self.hits.values().collect();
        traces.sort_by(|a, b| newest_first(a, b));
        traces.truncate(self.limit);
        traces
    }
}

/// Newest start first; ties by trace id, so answers are deterministic.
fn newest_first(
    a: &tempopb::TraceSearchMetadata,
    b: &tempopb::TraceSearchMetadata,
) -> std::cmp::Ordering {
    b.start_time_unix_nano.cmp(&a.start_time_unix_nano).then(a.trace_id.cmp(&b.trace_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, start: u64) -> tempopb::TraceSearchMetadata {
        tempopb::TraceSearchMetadata {
            trace_id: id.to_string(),
            start_time_unix_nano: start,
            ..Default::default()
        }
    }

    fn answer(hits: Vec<tempopb::TraceSearchMetadata>) -> SearchAnswer {
        SearchAnswer { inspected_traces: 10, inspected_bytes: 100, inspected_spans: 20, hits }
    }

    fn ids(response: &tempopb::SearchResponse) -> Vec<&str> {
        response.traces.iter().map(|t| t.trace_id.as_str()).collect()
    }

    #[test]
    fn changes_are_handed_out_once_with_cumulative_metrics() {
        let mut combiner = SearchCombiner::new(10, 3);
        let empty = combiner.take_changes();
        assert!(empty.traces.is_empty());
        assert_eq!(empty.metrics.as_ref().map(|m| (m.total_jobs, m.completed_jobs)), Some((3, 0)));

        combiner.add(answer(vec![hit("b", 20), hit("a", 10)]));
        let first = combiner.take_changes();
        assert_eq!(ids(&first), ["b", "a"]);
        assert_eq!(first.metrics.as_ref().map(|m| m.inspected_traces), Some(10));
        assert!(combiner.take_changes().traces.is_empty(), "nothing new since");

        combiner.add(answer(vec![hit("c", 5)]));
        let second = combiner.take_changes();
        assert_eq!(ids(&second), ["c"]);
        let metrics = second.metrics.unwrap_or_default();
        assert_eq!(
            (metrics.completed_jobs, metrics.inspected_traces, metrics.inspected_spans),
            (2, 20, 40)
        );

        let last = combiner.finish();
        assert_eq!(ids(&last), ["b", "a", "c"], "the final answer has every trace again");
    }

    #[test]
    fn a_merged_trace_is_a_change_and_only_the_best_are_handed_out() {
        let mut combiner = SearchCombiner::new(2, 2);
        combiner.add(answer(vec![hit("a", 10), hit("b", 20), hit("c", 30)]));
        assert!(combiner.has_enough());
        assert_eq!(ids(&combiner.take_changes()), ["c", "b"], "a is not among the best two");

        // Another fragment of b (another tenant of a federated query) starts earlier.
        combiner.add(answer(vec![hit("b", 1)]));
        let changes = combiner.take_changes();
        assert_eq!(ids(&changes), ["a"], "b fell out of the best two; a moved in");
        assert_eq!(ids(&combiner.finish()), ["c", "a"]);
    }
}
