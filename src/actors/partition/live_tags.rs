//! Tag summaries of live traces: per trace, the attribute names per scope and the distinct
//! typed values per name (plus the string intrinsics) that a block's tag dictionary records
//! for it, kept up to date as fragments arrive, so a tag query without `q` reads a summary
//! instead of decoding the trace.
//!
//! ```text
//!  LiveTraces::apply ──► trace has fragments newer than its summary
//!  live-store ── tag_summary_work ──► SummaryWork { summary so far, newer fragments (shared) }
//!     spawn_blocking: SummaryWork::run ── decode, visit_tags (the block dictionary's walk)
//!  live-store ◄── StoreTagSummaries(SummaryDone) ── replaces the summary if the trace is the
//!                                                    same and nothing else replaced it
//!  search_snapshot ──► LiveTraceRef { fragments, tags } ──► query shard: the summary when it
//!                                                           covers every fragment, else decode
//! ```
//!
//! The summary of a trace covers a prefix of its fragments; work runs one batch at a time per
//! live-store, so summaries grow fragment by fragment in order. The root intrinsics
//! (`rootName`, `rootServiceName`) come from the root span as the block writer picks it: the
//! first span without a parent id in (start time, span id) order, over every fragment.
//!
//! Memory is bounded and answers stay exact: a name keeps at most [`MAX_VALUES_PER_NAME`]
//! values of at most [`MAX_VALUE_BYTES`] each; past either the name is marked partial, and a
//! query for its values decodes the trace. A summary that would outgrow
//! [`MAX_SUMMARY_BYTES`] is dropped, as is one whose fragments do not decode: the trace is
//! then answered by decoding (which reports a corrupt fragment). What the summaries of a
//! live-store hold is published (`live_store_tag_summary_bytes`).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

use crate::model::ids::{LogIndex, TenantId, TraceId};
use crate::storage::block::TagScope;
use crate::storage::block::tag_dictionary::{MAX_VALUE_BYTES, ScalarRef, TagSink, visit_tags};
use crate::storage::block::writer::service_name;

/// Distinct values kept per name and trace; more marks the name partial.
pub(crate) const MAX_VALUES_PER_NAME: usize = 64;
/// Most (estimated) bytes one trace's summary may hold; a larger one is dropped.
pub(crate) const MAX_SUMMARY_BYTES: usize = 64 * 1024;
/// What a name costs besides its text (map entry and node slack, heap headers of the name
/// and of its value list), for the budget and the published estimate.
const NAME_OVERHEAD: usize = 96;
/// What a value costs besides its text (list slot, heap header of a string).
const VALUE_OVERHEAD: usize = 32;

/// One recorded value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TagScalar {
    /// A string.
    Str(Box<str>),
    /// An int.
    Int(i64),
    /// A finite double.
    Float(f64),
    /// A bool.
    Bool(bool),
}

impl TagScalar {
    /// Whether this is `value`; doubles by their bits, as the block dictionary keeps them
    /// (so `0` and `-0` are two values).
    fn is(&self, value: ScalarRef<'_>) -> bool {
        match (self, value) {
            (TagScalar::Str(mine), ScalarRef::Str(other)) => **mine == *other,
            (TagScalar::Int(mine), ScalarRef::Int(other)) => *mine == other,
            (TagScalar::Float(mine), ScalarRef::Float(other)) => mine.to_bits() == other.to_bits(),
            (TagScalar::Bool(mine), ScalarRef::Bool(other)) => *mine == other,
            _ => false,
        }
    }

    fn owned(value: ScalarRef<'_>) -> TagScalar {
        match value {
            ScalarRef::Str(text) => TagScalar::Str(text.into()),
            ScalarRef::Int(number) => TagScalar::Int(number),
            ScalarRef::Float(number) => TagScalar::Float(number),
            ScalarRef::Bool(flag) => TagScalar::Bool(flag),
        }
    }
}

/// The values of one name in one trace, in the order first seen.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct NameValues {
    values: Vec<TagScalar>,
    partial: bool,
    /// Some values came from arrays or were not finite: a filter compares those otherwise.
    not_plain: bool,
}

impl NameValues {
    /// The recorded values.
    pub(crate) fn values(&self) -> &[TagScalar] {
        &self.values
    }

    /// Whether some values were left out (too many, or too long): ask the spans instead.
    pub(crate) fn is_partial(&self) -> bool {
        self.partial
    }

    /// Whether the values are exactly the scalars the spans hold under this name, as a
    /// filter reads them: none left out, none from an array, no infinite or NaN double.
    pub(crate) fn is_plain(&self) -> bool {
        !self.partial && !self.not_plain
    }
}

/// The root span as the block writer picks it.
#[derive(Debug, Clone, PartialEq)]
struct RootSpan {
    start_unix_nano: u64,
    span_id: Vec<u8>,
    name: String,
    /// `""` when its resource has no string `service.name`.
    service: String,
}

/// The tag summary of the first [`TraceTags::covered`] fragments of one live trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TraceTags {
    covered: usize,
    /// Attribute scopes, and `intrinsic` keyed by the block dictionary's intrinsic names.
    scopes: BTreeMap<TagScope, BTreeMap<Box<str>, NameValues>>,
    root: Option<RootSpan>,
    bytes: usize,
    /// Over budget or undecodable: nothing is kept, the trace is answered by decoding.
    dropped: bool,
}

impl TraceTags {
    /// Whether the summary answers for a trace of `fragments` fragments: it covers all of
    /// them and was not dropped.
    pub(crate) fn covers(&self, fragments: usize) -> bool {
        !self.dropped && self.covered == fragments
    }

    /// Fragments summarized (a prefix of the trace's).
    pub(crate) fn covered(&self) -> usize {
        self.covered
    }

    /// Whether the summary was dropped (module doc).
    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped
    }

    /// Estimated bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The names recorded in `scope`, sorted.
    pub(crate) fn names(&self, scope: TagScope) -> impl Iterator<Item = &str> {
        self.scopes.get(&scope).into_iter().flat_map(|names| names.keys().map(|name| &**name))
    }

    /// The values of `name` in `scope` (for `intrinsic`, a block dictionary intrinsic name).
    pub(crate) fn values(&self, scope: TagScope, name: &str) -> Option<&NameValues> {
        self.scopes.get(&scope)?.get(name)
    }

    /// The root span's name, when a root span has arrived.
    pub(crate) fn root_name(&self) -> Option<&str> {
        self.root.as_ref().map(|root| root.name.as_str())
    }

    /// The root span's service, when a root span has arrived and its resource names one.
    pub(crate) fn root_service(&self) -> Option<&str> {
        self.root.as_ref().map(|root| root.service.as_str()).filter(|service| !service.is_empty())
    }

    /// Adds one more fragment (an encoded `TracesData`).
    pub(crate) fn add_fragment(&mut self, fragment: &[u8]) {
        self.covered += 1;
        if self.dropped {
            return;
        }
        let Ok(data) = TracesData::decode(fragment) else {
            self.drop_contents();
            return;
        };
        visit_tags(&data.resource_spans, self);
        for resource_spans in &data.resource_spans {
            let spans = resource_spans.scope_spans.iter().flat_map(|scope| &scope.spans);
            for span in spans.filter(|span| span.parent_span_id.is_empty()) {
                let earlier = self.root.as_ref().is_none_or(|root| {
                    (span.start_time_unix_nano, &span.span_id)
                        < (root.start_unix_nano, &root.span_id)
                });
                if earlier {
                    let service = service_name(resource_spans.resource.as_ref());
                    self.root = Some(RootSpan {
                        start_unix_nano: span.start_time_unix_nano,
                        span_id: span.span_id.clone(),
                        name: span.name.clone(),
                        service: service.unwrap_or_default(),
                    });
                }
            }
        }
        if self.bytes > MAX_SUMMARY_BYTES {
            self.drop_contents();
        }
    }

    /// Gives back the spare capacity of the value lists (kept for as long as the trace).
    fn shrink(&mut self) {
        let lists = self.scopes.values_mut().flat_map(|names| names.values_mut());
        lists.for_each(|list| list.values.shrink_to_fit());
    }

    fn drop_contents(&mut self) {
        self.dropped = true;
        self.scopes = BTreeMap::new();
        self.root = None;
        self.bytes = 0;
    }
}

impl TagSink for TraceTags {
    fn add(&mut self, scope: TagScope, name: &str, value: ScalarRef<'_>) {
        let names = self.scopes.entry(scope).or_default();
        let entry = match names.get_mut(name) {
            Some(entry) => entry,
            None => {
                self.bytes += name.len() + NAME_OVERHEAD;
                names.entry(name.into()).or_default()
            }
        };
        let text_bytes = match value {
            ScalarRef::Float(number) if !number.is_finite() => {
                entry.not_plain = true;
                return;
            }
            ScalarRef::Str(text) => text.len(),
            _ => 0,
        };
        if entry.values.iter().any(|known| known.is(value)) {
            return;
        }
        if text_bytes > MAX_VALUE_BYTES || entry.values.len() >= MAX_VALUES_PER_NAME {
            entry.partial = true;
            return;
        }
        self.bytes += text_bytes + VALUE_OVERHEAD;
        entry.values.push(TagScalar::owned(value));
    }

    fn add_array(&mut self, scope: TagScope, name: &str, elements: &[ScalarRef<'_>]) {
        for element in elements {
            self.add(scope, name, *element);
        }
        if let Some(entry) = self.scopes.get_mut(&scope).and_then(|names| names.get_mut(name)) {
            entry.not_plain = true;
        }
    }
}

/// Summarizing to do for one trace: its summary so far and the fragments it lacks.
#[derive(Debug)]
pub(crate) struct SummaryWork {
    /// The trace's tenant.
    pub tenant: TenantId,
    /// The trace.
    pub trace_id: TraceId,
    /// The record that created the trace (tells an evicted and re-created trace apart).
    pub first_index: LogIndex,
    /// The summary so far, if any.
    pub base: Option<Arc<TraceTags>>,
    /// The fragments after those the base covers, in order.
    pub fragments: Vec<Bytes>,
}

/// A trace's new summary.
#[derive(Debug)]
pub(crate) struct SummaryDone {
    /// The trace's tenant.
    pub tenant: TenantId,
    /// The trace.
    pub trace_id: TraceId,
    /// As in the work.
    pub first_index: LogIndex,
    /// Fragments the base covered: the summary replaces only that one.
    pub base_covered: usize,
    /// The summary of the base's fragments and the work's.
    pub tags: Arc<TraceTags>,
}

impl SummaryWork {
    /// Summarizes the newer fragments on top of the base (CPU work: off the async workers).
    pub(crate) fn run(self) -> SummaryDone {
        let mut tags = self.base.map(Arc::unwrap_or_clone).unwrap_or_default();
        let base_covered = tags.covered;
        for fragment in &self.fragments {
            tags.add_fragment(fragment);
        }
        tags.shrink();
        SummaryDone {
            tenant: self.tenant,
            trace_id: self.trace_id,
            first_index: self.first_index,
            base_covered,
            tags: Arc::new(tags),
        }
    }
}

#[cfg(test)]
#[path = "live_tags_tests.rs"]
mod tests;
