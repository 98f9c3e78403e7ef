//! The pure core of the distributor: validate one export request, truncate oversized
//! attribute values, and group its spans by trace id into encoded fragments.
//!
//! ```text
//!  ExportTraceServiceRequest ──► per span: ids valid? ──no──► rejected (counted, first reason kept)
//!                                      │ yes
//!                                      ▼
//!                 trace id ─► ResourceSpans/ScopeSpans rebuilt per trace (resource and scope
//!                             copied once per trace) ─► TraceFragment (encoded TracesData)
//! ```
//!
//! Oversized attribute values are cut to `max_attribute_bytes` (at a character boundary), as
//! Tempo does, rather than dropping the span: the span is kept and the cut is counted.

use std::collections::HashMap;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};
use prost::Message;

use crate::model::batch::TraceFragment;
use crate::model::ids::{SpanId, TraceId};

/// Limits applied while preparing a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrepareLimits {
    /// Longest attribute value kept, in bytes; 0 = no limit.
    pub max_attribute_bytes: usize,
}

/// Why one span was refused (label for `spanlake_discarded_spans_total`, and the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpanRejection {
    /// Metric label, e.g. `invalid_trace_id`.
    pub reason: &'static str,
    /// What was wrong, for the client.
    pub message: String,
}

/// The spans of one trace, ready to be routed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PreparedTrace {
    /// The trace.
    pub trace_id: TraceId,
    /// Its spans, encoded.
    pub fragment: TraceFragment,
}

/// A validated request, grouped by trace.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PreparedPush {
    /// One entry per trace, in order of first appearance.
    pub traces: Vec<PreparedTrace>,
    /// Spans kept.
    pub accepted_spans: u64,
    /// Spans refused, by reason label.
    pub rejected_spans: HashMap<&'static str, u64>,
    /// The first refusal, reported to the client (OTLP partial success or a 400).
    pub first_rejection: Option<SpanRejection>,
    /// Attribute values cut to the limit.
    pub truncated_attributes: u64,
}

impl PreparedPush {
    /// Spans refused in total.
    pub fn rejected_total(&self) -> u64 {
        self.rejected_spans.values().sum()
    }
}

/// A trace being assembled: the `(resource, scope)` position of its last span tells whether
/// the next span extends the same `ResourceSpans`/`ScopeSpans` or opens new ones.
struct TraceGroup {
    resource_spans: Vec<ResourceSpans>,
    last_position: Option<(usize, usize)>,
    start_unix_nano: u64,
    end_unix_nano: u64,
    span_count: u32,
}

/// Validates, truncates and groups one request.
pub(crate) fn prepare_push(
    request: ExportTraceServiceRequest,
    limits: PrepareLimits,
) -> PreparedPush {
    let mut push = PreparedPush::default();
    let mut order: Vec<TraceId> = Vec::new();
    let mut groups: HashMap<TraceId, TraceGroup> = HashMap::new();
    for (resource_position, mut resource_spans) in request.resource_spans.into_iter().enumerate() {
        let scope_spans = std::mem::take(&mut resource_spans.scope_spans);
        if let Some(resource) = resource_spans.resource.as_mut() {
            push.truncated_attributes += truncate_attributes(&mut resource.attributes, limits);
        }
        for (scope_position, mut scope) in scope_spans.into_iter().enumerate() {
            let spans = std::mem::take(&mut scope.spans);
            if let Some(instrumentation_scope) = scope.scope.as_mut() {
                push.truncated_attributes +=
                    truncate_attributes(&mut instrumentation_scope.attributes, limits);
            }
            for mut span in spans {
                let trace_id = match validate_span(&span) {
                    Ok(trace_id) => trace_id,
                    Err(rejection) => {
                        *push.rejected_spans.entry(rejection.reason).or_default() += 1;
                        push.first_rejection.get_or_insert(rejection);
                        continue;
                    }
                };
                push.truncated_attributes += truncate_span(&mut span, limits);
                push.accepted_spans += 1;
                let group = groups.entry(trace_id).or_insert_with(|| {
                    order.push(trace_id);
                    TraceGroup {
                        resource_spans: Vec::new(),
                        last_position: None,
                        start_unix_nano: u64::MAX,
                        end_unix_nano: 0,
                        span_count: 0,
                    }
                });
                group.start_unix_nano = group.start_unix_nano.min(span.start_time_unix_nano);
                group.end_unix_nano = group.end_unix_nano.max(span.end_time_unix_nano);
                group.span_count = group.span_count.saturating_add(1);
                let position = (resource_position, scope_position);
                match group.last_position {
                    Some((last_resource, _)) if last_resource != resource_position => {
                        group.resource_spans.push(ResourceSpans {
                            scope_spans: Vec::new(),
                            ..resource_spans.clone()
                        });
                    }
                    None => group
                        .resource_spans
                        .push(ResourceSpans { scope_spans: Vec::new(), ..resource_spans.clone() }),
                    Some(_) => {}
                }
                let Some(current_resource) = group.resource_spans.last_mut() else {
                    continue;
                };
                if group.last_position != Some(position) {
                    current_resource
                        .scope_spans
                        .push(ScopeSpans { spans: Vec::new(), ..scope.clone() });
                }
                if let Some(current_scope) = current_resource.scope_spans.last_mut() {
                    current_scope.spans.push(span);
                }
                group.last_position = Some(position);
            }
        }
    }
    push.traces = order
        .into_iter()
        .filter_map(|trace_id| groups.remove(&trace_id).map(|group| (trace_id, group)))
        .map(|(trace_id, group)| PreparedTrace {
            trace_id,
            fragment: TraceFragment {
                trace_id: trace_id.0.to_vec(),
                start_unix_nano: if group.span_count == 0 { 0 } else { group.start_unix_nano },
                end_unix_nano: group.end_unix_nano,
                span_count: group.span_count,
                traces_data: Bytes::from(
                    TracesData { resource_spans: group.resource_spans }.encode_to_vec(),
                ),
            },
        })
        .collect();
    push
}

/// Checks the ids of one span (Tempo's rules and texts).
fn validate_span(span: &Span) -> Result<TraceId, SpanRejection> {
    let Some(trace_id) = TraceId::from_slice(&span.trace_id) else {
        return Err(SpanRejection {
            reason: "invalid_trace_id",
            message: format!(
                "trace ids must be 128 bit, received {} bits",
                span.trace_id.len() * 8
            ),
        });
    };
    if trace_id == TraceId::default() {
        return Err(SpanRejection {
            reason: "invalid_trace_id",
            message: "trace ids must not be all zero".to_string(),
        });
    }
    match SpanId::from_slice(&span.span_id) {
        Some(span_id) if !span_id.is_zero() => Ok(trace_id),
        _ => Err(SpanRejection {
            reason: "invalid_span_id",
            message: format!(
                "span ids must be 64 bit and not all zero, received {} bits in trace {trace_id}",
                span.span_id.len() * 8
            ),
        }),
    }
}

/// Truncates every attribute of a span, its events and its links; returns how many were cut.
fn truncate_span(span: &mut Span, limits: PrepareLimits) -> u64 {
    let mut truncated = truncate_attributes(&mut span.attributes, limits);
    for event in &mut span.events {
        truncated += truncate_attributes(&mut event.attributes, limits);
    }
    for link in &mut span.links {
        truncated += truncate_attributes(&mut link.attributes, limits);
    }
    truncated
}

fn truncate_attributes(attributes: &mut [KeyValue], limits: PrepareLimits) -> u64 {
    if limits.max_attribute_bytes == 0 {
        return 0;
    }
    attributes
        .iter_mut()
        .filter_map(|attribute| attribute.value.as_mut())
        .map(|value| truncate_value(value, limits.max_attribute_bytes))
        .sum()
}

fn truncate_value(value: &mut AnyValue, max_bytes: usize) -> u64 {
    match value.value.as_mut() {
        Some(any_value::Value::StringValue(text)) if text.len() > max_bytes => {
            let mut cut = max_bytes;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            1
        }
        Some(any_value::Value::BytesValue(bytes)) if bytes.len() > max_bytes => {
            bytes.truncate(max_bytes);
            1
        }
        Some(any_value::Value::ArrayValue(array)) => {
            array.values.iter_mut().map(|item| truncate_value(item, max_bytes)).sum()
        }
        Some(any_value::Value::KvlistValue(list)) => list
            .values
            .iter_mut()
            .filter_map(|pair| pair.value.as_mut())
            .map(|item| truncate_value(item, max_bytes))
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
#[path = "prepare_tests.rs"]
mod tests;
