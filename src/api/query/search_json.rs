//! `SearchResponse` as Tempo's jsonpb writes it (tempo-api.md §0.2, §3.2): 64-bit numbers as
//! strings, zero values omitted — except that every spanset has a `spans` array and the
//! response always has `traces` and `metrics`, which Grafana dereferences.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::api::query::trace_json::{KeyValueList, str_field, to_json, u32_field, u64_field};
use crate::proto::tempopb;

/// Renders a search answer.
pub(crate) fn render_search(response: &tempopb::SearchResponse) -> Vec<u8> {
    to_json(&Response(response))
}

struct Response<'a>(&'a tempopb::SearchResponse);

impl Serialize for Response<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("traces", &Seq(&self.0.traces, Trace))?;
        let metrics = self.0.metrics.unwrap_or_default();
        map.serialize_entry("metrics", &Metrics(&metrics))?;
        map.end()
    }
}

/// A list rendered item by item with `wrap`.
struct Seq<'a, T, W>(&'a [T], fn(&'a T) -> W);

impl<'a, T, W: Serialize> Serialize for Seq<'a, T, W> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(self.1))
    }
}

struct Trace<'a>(&'a tempopb::TraceSearchMetadata);

impl Serialize for Trace<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let t = self.0;
        let mut map = serializer.serialize_map(None)?;
        str_field(&mut map, "traceID", &t.trace_id)?;
        str_field(&mut map, "rootServiceName", &t.root_service_name)?;
        str_field(&mut map, "rootTraceName", &t.root_trace_name)?;
        u64_field(&mut map, "startTimeUnixNano", t.start_time_unix_nano)?;
        u32_field(&mut map, "durationMs", t.duration_ms)?;
        if let Some(first) = &t.span_set {
            map.serialize_entry("spanSet", &SpanSet(first))?;
        }
        if !t.span_sets.is_empty() {
            map.serialize_entry("spanSets", &Seq(&t.span_sets, SpanSet))?;
        }
        if !t.service_stats.is_empty() {
            let mut services: Vec<_> = t.service_stats.iter().collect();
            services.sort_by(|a, b| a.0.cmp(b.0));
            map.serialize_entry("serviceStats", &ServiceStats(services))?;
        }
        map.end()
    }
}

struct ServiceStats<'a>(Vec<(&'a String, &'a tempopb::ServiceStats)>);

impl Serialize for ServiceStats<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (service, stats) in &self.0 {
            map.serialize_entry(service.as_str(), &Stats(stats))?;
        }
        map.end()
    }
}

struct Stats<'a>(&'a tempopb::ServiceStats);

impl Serialize for Stats<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        u32_field(&mut map, "spanCount", self.0.span_count)?;
        u32_field(&mut map, "errorCount", self.0.error_count)?;
        map.end()
    }
}

struct SpanSet<'a>(&'a tempopb::SpanSet);

impl Serialize for SpanSet<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("spans", &Seq(&self.0.spans, Span))?;
        u32_field(&mut map, "matched", self.0.matched)?;
        if !self.0.attributes.is_empty() {
            map.serialize_entry("attributes", &KeyValueList(&self.0.attributes))?;
        }
        map.end()
    }
}

struct Span<'a>(&'a tempopb::Span);

impl Serialize for Span<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = self.0;
        let mut map = serializer.serialize_map(None)?;
        str_field(&mut map, "spanID", &s.span_id)?;
        str_field(&mut map, "name", &s.name)?;
        u64_field(&mut map, "startTimeUnixNano", s.start_time_unix_nano)?;
        u64_field(&mut map, "durationNanos", s.duration_nanos)?;
        if !s.attributes.is_empty() {
            map.serialize_entry("attributes", &KeyValueList(&s.attributes))?;
        }
        map.end()
    }
}

struct Metrics<'a>(&'a tempopb::SearchMetrics);

impl Serialize for Metrics<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut map = serializer.serialize_map(None)?;
        u32_field(&mut map, "inspectedTraces", m.inspected_traces)?;
        u64_field(&mut map, "inspectedBytes", m.inspected_bytes)?;
        u32_field(&mut map, "totalBlocks", m.total_blocks)?;
        u32_field(&mut map, "completedJobs", m.completed_jobs)?;
        u32_field(&mut map, "totalJobs", m.total_jobs)?;
        u64_field(&mut map, "totalBlockBytes", m.total_block_bytes)?;
        u64_field(&mut map, "inspectedSpans", m.inspected_spans)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};

    use super::*;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..Default::default()
        }
    }

    #[test]
    fn search_json_has_tempos_shape() {
        let set = tempopb::SpanSet {
            spans: vec![tempopb::Span {
                span_id: "4b7e19c2d05a8f36".into(),
                name: "charge".into(),
                start_time_unix_nano: 1_684_778_327_735_077_898,
                duration_nanos: 446_979_497,
                attributes: vec![kv("status", any_value::Value::StringValue("error".into()))],
            }],
            matched: 1,
            attributes: vec![kv("count()", any_value::Value::IntValue(3))],
        };
        let response = tempopb::SearchResponse {
            traces: vec![tempopb::TraceSearchMetadata {
                trace_id: "9c41d2a7e0b35f18c6a4e2d9b7f01a3c".into(),
                root_service_name: "checkout".into(),
                root_trace_name: "POST /orders".into(),
                start_time_unix_nano: 1_684_778_327_699_392_724,
                duration_ms: 557,
                span_set: Some(set.clone()),
                span_sets: vec![set],
                service_stats: [(
                    "checkout".to_string(),
                    tempopb::ServiceStats { span_count: 5, error_count: 1 },
                )]
                .into(),
            }],
            metrics: Some(tempopb::SearchMetrics {
                inspected_traces: 3100,
                inspected_bytes: 3_811_736,
                completed_jobs: 7,
                total_jobs: 7,
                ..Default::default()
            }),
        };
        let json: serde_json::Value = serde_json::from_slice(&render_search(&response)).unwrap();
        let expected = serde_json::json!({"traces":[{
            "traceID":"9c41d2a7e0b35f18c6a4e2d9b7f01a3c",
            "rootServiceName":"checkout","rootTraceName":"POST /orders",
            "startTimeUnixNano":"1684778327699392724","durationMs":557,
            "spanSet":{"spans":[{"spanID":"4b7e19c2d05a8f36","name":"charge",
                "startTimeUnixNano":"1684778327735077898","durationNanos":"446979497",
                "attributes":[{"key":"status","value":{"stringValue":"error"}}]}],
              "matched":1,"attributes":[{"key":"count()","value":{"intValue":"3"}}]},
            "spanSets":[{"spans":[{"spanID":"4b7e19c2d05a8f36","name":"charge",
                "startTimeUnixNano":"1684778327735077898","durationNanos":"446979497",
                "attributes":[{"key":"status","value":{"stringValue":"error"}}]}],
              "matched":1,"attributes":[{"key":"count()","value":{"intValue":"3"}}]}],
            "serviceStats":{"checkout":{"spanCount":5,"errorCount":1}}}],
          "metrics":{"inspectedTraces":3100,"inspectedBytes":"3811736","completedJobs":7,"totalJobs":7}});
        assert_eq!(json, expected);
    }

    #[test]
    fn an_empty_answer_still_has_traces_and_metrics() {
        let body = render_search(&tempopb::SearchResponse::default());
        assert_eq!(body, br#"{"traces":[],"metrics":{}}"#);
    }

    #[test]
    fn a_spanset_without_spans_still_has_a_spans_array() {
        let trace = tempopb::TraceSearchMetadata {
            trace_id: "1".into(),
            span_sets: vec![tempopb::SpanSet { matched: 2, ..Default::default() }],
            ..Default::default()
        };
        let body = render_search(&tempopb::SearchResponse { traces: vec![trace], metrics: None });
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["traces"][0]["spanSets"][0]["spans"], serde_json::json!([]));
    }
}
