//! Merges the fragments of one trace found in several places (partitions, tenants, later
//! blocks) into one list of `ResourceSpans`, keeping each distinct span once.
//!
//! A span stored twice (a client retry after an unacknowledged write, a replayed record)
//! is byte-identical, so identity is the span's own encoding within its resource and scope.

use std::collections::HashSet;

use bytes::Bytes;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, TracesData};
use prost::Message;

/// Collects fragments and yields the merged trace.
#[derive(Debug, Default)]
pub(crate) struct TraceMerger {
    resource_spans: Vec<ResourceSpans>,
    seen: HashSet<u64>,
    inspected_bytes: u64,
}

impl TraceMerger {
    /// Starts an empty merge.
    pub fn new() -> TraceMerger {
        TraceMerger::default()
    }

    /// Adds one encoded `TracesData`; fails only if it does not decode (a corrupt store).
    pub fn add_encoded(&mut self, traces_data: Bytes) -> Result<(), prost::DecodeError> {
        self.inspected_bytes += traces_data.len() as u64;
        let decoded = TracesData::decode(traces_data)?;
        self.add(decoded.resource_spans);
        Ok(())
    }

    /// Adds decoded spans (from a block), keeping each distinct span once.
    pub fn add(&mut self, resource_spans: Vec<ResourceSpans>) {
        for mut resource_spans in resource_spans {
            let resource_key = resource_spans.resource.as_ref().map(Message::encode_to_vec);
            for scope_spans in &mut resource_spans.scope_spans {
                let scope_key = scope_spans.scope.as_ref().map(Message::encode_to_vec);
                scope_spans.spans.retain(|span| {
                    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
                    hasher.update(resource_key.as_deref().unwrap_or_default());
                    hasher.update(&[0xff]);
                    hasher.update(scope_key.as_deref().unwrap_or_default());
                    hasher.update(&[0xfe]);
                    hasher.update(&span.encode_to_vec());
                    self.seen.insert(hasher.digest())
                });
            }
            resource_spans.scope_spans.retain(|scope_spans| !scope_spans.spans.is_empty());
            if !resource_spans.scope_spans.is_empty() {
                self.resource_spans.push(resource_spans);
            }
        }
    }

    /// Counts bytes read from blocks.
    pub fn inspected(&mut self, bytes: u64) {
        self.inspected_bytes += bytes;
    }

    /// Bytes of encoded spans looked at.
    pub fn inspected_bytes(&self) -> u64 {
        self.inspected_bytes
    }

    /// The merged trace.
    pub fn finish(self) -> Vec<ResourceSpans> {
        self.resource_spans
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};

    use super::*;

    fn encoded(names: &[&str]) -> Bytes {
        let spans = names
            .iter()
            .map(|name| Span { name: name.to_string(), span_id: vec![1; 8], ..Default::default() })
            .collect();
        let data = TracesData {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        };
        Bytes::from(data.encode_to_vec())
    }

    #[test]
    fn identical_spans_are_kept_once_and_distinct_ones_all() {
        let mut merger = TraceMerger::new();
        merger.add_encoded(encoded(&["a", "b"])).unwrap();
        merger.add_encoded(encoded(&["b", "c"])).unwrap();
        let merged = merger.finish();
        let names: Vec<_> = merged
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|span| span.name.clone())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn a_fragment_made_only_of_duplicates_adds_nothing() {
        let mut merger = TraceMerger::new();
        merger.add_encoded(encoded(&["a"])).unwrap();
        merger.add_encoded(encoded(&["a"])).unwrap();
        assert_eq!(merger.finish().len(), 1);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(TraceMerger::new().add_encoded(Bytes::from_static(&[0xff, 0xff])).is_err());
    }
}
