//! Interim messages of a streaming tag query (tempo-api.md §6), as Tempo's gRPC collector
//! sends them: after a job completes, at most every [`INTERIM_PERIOD`], the names or values
//! found since the last message, with the metrics so far. The final message (sent by the
//! caller) is the complete answer, so the messages together always hold the whole answer.
//!
//! ```text
//!  job absorbed ─► found_more(collector, metrics) ─ period passed, listener has room?
//!                     yes ─► render(collector.changes_since(sent), metrics) ─► interims
//!                     no  ─► nothing marked sent: the changes go with a later message
//! ```

use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use crate::actors::query::INTERIM_PERIOD;
use crate::actors::query::tag_collect::{SentItems, TagCollector};
use crate::proto::tempopb;

/// What a tag query tells about its progress after each job.
pub(crate) trait TagProgress: Send {
    /// `found` is everything collected so far, `metrics` the metrics so far.
    fn found_more(&mut self, found: &TagCollector, metrics: &tempopb::MetadataMetrics);
}

/// Turns the changes since the last message into one message.
type Render<T> = fn(&TagCollector, tempopb::MetadataMetrics) -> T;

/// Sends interims of one streaming tag query; sends nothing without a listener (HTTP).
pub(crate) struct TagInterims<T> {
    listener: Option<mpsc::Sender<T>>,
    render: Render<T>,
    sent: SentItems,
    last_message: Instant,
}

impl<T: Send> TagInterims<T> {
    /// Interims for `listener` (none: no interims), each rendered by `render`.
    pub(crate) fn new(listener: Option<mpsc::Sender<T>>, render: Render<T>) -> TagInterims<T> {
        TagInterims { listener, render, sent: SentItems::default(), last_message: Instant::now() }
    }
}

impl<T: Send> TagProgress for TagInterims<T> {
    fn found_more(&mut self, found: &TagCollector, metrics: &tempopb::MetadataMetrics) {
        let Some(listener) = &self.listener else { return };
        if self.last_message.elapsed() < INTERIM_PERIOD {
            return;
        }
        // Never wait for the listener: one that is behind skips this interim, and the
        // changes go out with the next one or the final answer.
        let listener_gone = match listener.try_reserve() {
            Ok(slot) => {
                self.last_message = Instant::now();
                slot.send((self.render)(&found.changes_since(&mut self.sent), *metrics));
                false
            }
            Err(TrySendError::Full(())) => false,
            Err(TrySendError::Closed(())) => true,
        };
        if listener_gone {
            // Nobody listens any more; the answer may still be wanted.
            self.listener = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::query::tag_collect::{CollectLimits, TypedValue};

    fn values_message(found: &TagCollector, metrics: tempopb::MetadataMetrics) -> Vec<String> {
        let mut texts: Vec<String> =
            found.sorted_values().into_iter().map(|value| value.text).collect();
        texts.push(format!("jobs:{}", metrics.completed_jobs));
        texts
    }

    /// Time is paused: the period passes only when the test advances it.
    #[tokio::test(start_paused = true)]
    async fn interims_carry_what_is_new_at_most_every_period_and_skip_a_busy_listener() {
        let limits = CollectLimits { limit: 0, max_stale: 0, max_bytes: 0 };
        let mut found = TagCollector::for_values(limits);
        let (sender, mut listener) = mpsc::channel(1);
        let mut interims = TagInterims::new(Some(sender), values_message);
        let metrics =
            |completed_jobs| tempopb::MetadataMetrics { completed_jobs, ..Default::default() };

        found.add_value(TypedValue::int(1));
        interims.found_more(&found, &metrics(1));
        assert!(listener.try_recv().is_err(), "not before the period");
        tokio::time::advance(INTERIM_PERIOD).await;
        found.add_value(TypedValue::int(2));
        interims.found_more(&found, &metrics(2));
        assert_eq!(listener.try_recv().ok(), Some(vec!["1".into(), "2".into(), "jobs:2".into()]));

        tokio::time::advance(INTERIM_PERIOD).await;
        found.add_value(TypedValue::int(3));
        interims.found_more(&found, &metrics(3));
        tokio::time::advance(INTERIM_PERIOD).await;
        found.add_value(TypedValue::int(4));
        interims.found_more(&found, &metrics(4));
        assert_eq!(
            listener.try_recv().ok(),
            Some(vec!["3".into(), "jobs:3".into()]),
            "the listener was full for the second: 4 waits"
        );
        tokio::time::advance(INTERIM_PERIOD).await;
        interims.found_more(&found, &metrics(5));
        assert_eq!(listener.try_recv().ok(), Some(vec!["4".into(), "jobs:5".into()]));

        drop(listener);
        tokio::time::advance(INTERIM_PERIOD).await;
        interims.found_more(&found, &metrics(6));
        assert!(interims.listener.is_none(), "a gone listener is forgotten");
    }
}
