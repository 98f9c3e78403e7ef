//! The unit of durable ingest: one tenant's spans for one partition, grouped by trace.
//!
//! A `TraceBatch` is the payload of one partition-log record. Each `TraceFragment` holds the
//! spans of one trace as an encoded OTLP `TracesData`. Protobuf concatenation is a merge for
//! repeated fields, so the live-store keeps a trace as the plain concatenation of its fragments,
//! which still decodes as one `TracesData`: compact, and no tree of small allocations.

use bytes::Bytes;
use prost::Message;

use crate::model::ids::{TenantId, TraceId};

/// Spans of one tenant bound for one partition, in one log record.
#[derive(Clone, PartialEq, Message)]
pub struct TraceBatch {
    /// The tenant every fragment belongs to.
    #[prost(string, tag = "1")]
    pub tenant: String,
    /// One entry per trace.
    #[prost(message, repeated, tag = "2")]
    pub traces: Vec<TraceFragment>,
}

/// The spans of one trace carried by one request.
#[derive(Clone, PartialEq, Message)]
pub struct TraceFragment {
    /// The 16-byte trace id.
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    /// Earliest span start, Unix nanoseconds.
    #[prost(fixed64, tag = "2")]
    pub start_unix_nano: u64,
    /// Latest span end, Unix nanoseconds.
    #[prost(fixed64, tag = "3")]
    pub end_unix_nano: u64,
    /// How many spans the fragment holds.
    #[prost(uint32, tag = "4")]
    pub span_count: u32,
    /// The spans: an encoded OTLP `TracesData` (`resource_spans`, field 1).
    #[prost(bytes = "bytes", tag = "5")]
    pub traces_data: Bytes,
}

impl TraceFragment {
    /// The trace id as a newtype; `None` if the record is malformed.
    pub fn trace_id(&self) -> Option<TraceId> {
        TraceId::from_slice(&self.trace_id)
    }
}

impl TraceBatch {
    /// The batch's tenant.
    pub fn tenant_id(&self) -> TenantId {
        TenantId::new(&self.tenant)
    }

    /// Spans in the batch.
    pub fn span_count(&self) -> u64 {
        self.traces.iter().map(|fragment| u64::from(fragment.span_count)).sum()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};

    use super::*;

    fn traces_data(span_name: &str) -> TracesData {
        TracesData {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span { name: span_name.to_string(), ..Default::default() }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn concatenated_fragments_decode_as_one_trace() {
        let mut buffer = traces_data("a").encode_to_vec();
        buffer.extend_from_slice(&traces_data("b").encode_to_vec());
        let merged = TracesData::decode(buffer.as_slice()).unwrap();
        let names: Vec<_> = merged
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .map(|span| span.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn batches_round_trip() {
        let batch = TraceBatch {
            tenant: "t1".into(),
            traces: vec![TraceFragment {
                trace_id: vec![7; 16],
                start_unix_nano: 1,
                end_unix_nano: 2,
                span_count: 3,
                traces_data: Bytes::from(traces_data("x").encode_to_vec()),
            }],
        };
        let decoded = TraceBatch::decode(batch.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded, batch);
        assert_eq!(decoded.span_count(), 3);
        assert_eq!(decoded.traces[0].trace_id(), Some(TraceId([7; 16])));
    }
}
