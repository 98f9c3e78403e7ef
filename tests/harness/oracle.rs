//! The acknowledged-span oracle: every span whose request was acknowledged must read back
//! exactly once. A failed or timed-out request is *unknown*: its spans may or may not exist,
//! but they must never appear twice.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::clients::{TempoClient, spans_in};
use super::spans::{hex, spans_of};

/// What the client knows about the spans it sent.
#[derive(Debug, Default)]
pub struct AckOracle {
    /// trace id (hex) → span ids (hex) acknowledged.
    acknowledged: BTreeMap<String, Vec<String>>,
    /// trace id (hex) → span ids (hex) whose request failed or timed out.
    unknown: BTreeMap<String, Vec<String>>,
}

impl AckOracle {
    /// Records an acknowledged request.
    pub fn acknowledged(&mut self, request: &ExportTraceServiceRequest) {
        for span in spans_of(request) {
            self.acknowledged.entry(hex(&span.trace_id)).or_default().push(hex(&span.span_id));
        }
    }

    /// Records a request whose outcome is unknown.
    pub fn unknown(&mut self, request: &ExportTraceServiceRequest) {
        for span in spans_of(request) {
            self.unknown.entry(hex(&span.trace_id)).or_default().push(hex(&span.span_id));
        }
    }

    /// Acknowledged spans.
    pub fn acknowledged_spans(&self) -> usize {
        self.acknowledged.values().map(Vec::len).sum()
    }

    /// Reads every trace back and asserts: each acknowledged span exactly once, each unknown
    /// span at most once, nothing else.
    pub async fn verify_exactly_once(&self, tempo: &TempoClient) {
        let mut traces: Vec<&String> =
            self.acknowledged.keys().chain(self.unknown.keys()).collect();
        traces.sort();
        traces.dedup();
        for trace in traces {
            let found = tempo.trace_v2_protobuf(trace).await;
            let mut counts: HashMap<String, usize> = HashMap::new();
            for span in spans_in(&found) {
                *counts.entry(hex(&span.span_id)).or_default() += 1;
            }
            for span in self.acknowledged.get(trace).into_iter().flatten() {
                let seen = counts.remove(span).unwrap_or(0);
                assert_eq!(
                    seen, 1,
                    "acknowledged span {span} of trace {trace} read back {seen} times"
                );
            }
            for span in self.unknown.get(trace).into_iter().flatten() {
                let seen = counts.remove(span).unwrap_or(0);
                assert!(seen <= 1, "unknown span {span} of trace {trace} read back {seen} times");
            }
            assert!(counts.is_empty(), "trace {trace} holds spans nobody sent: {counts:?}");
        }
    }
}
