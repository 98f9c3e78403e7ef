//! Search hits: a matched trace as Tempo reports it (`TraceSearchMetadata`), built from the
//! evaluator's spansets, and the merge of several hits of one trace.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;

use crate::actors::partition::live_traces::LiveTraceRef;
use crate::model::ids::hex_lower;
use crate::proto::tempopb;
use crate::storage::block::eval_decode::EvalNeeds;
use crate::storage::block::scan_filter::ScanFilter;
use crate::storage::block::{BlockDataReader, BlockMeta};
use crate::traceql::ast::Status;
use crate::traceql::eval::{
    AttrValue, EvalError, EvalTrace, SearchPlan, Spanset, Value, result_attributes,
};

/// Shown as the root service of a trace whose root span is not known.
pub(crate) const ROOT_NOT_RECEIVED: &str = "<root span not yet received>";

/// What one shard job found.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SearchAnswer {
    pub hits: Vec<tempopb::TraceSearchMetadata>,
    pub inspected_traces: u32,
    pub inspected_bytes: u64,
    pub inspected_spans: u64,
}

/// Why a job failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SearchJobError {
    /// Stored data did not decode: a bug or corruption, never user input.
    #[error("stored trace data is corrupt: {0}")]
    Corrupt(String),
    /// The query failed on a trace (division by zero, several spansets into `&&`, …).
    #[error("{0}")]
    Query(String),
    /// A block could not be read.
    #[error("{0}")]
    Block(String),
}

/// Runs `plan` on live traces: decode, evaluate, report hits. CPU work: run it off the runtime.
pub(crate) fn search_live_traces(
    plan: &SearchPlan,
    traces: Vec<LiveTraceRef>,
    spans_per_spanset: usize,
) -> Result<SearchAnswer, SearchJobError> {
    let mut answer = SearchAnswer::default();
    for live in traces {
        answer.inspected_traces += 1;
        answer.inspected_bytes += live.size();
        answer.inspected_spans += live.span_count;
        let trace = decode_live(live)?;
        answer.evaluate(plan, &trace, spans_per_spanset)?;
    }
    Ok(answer)
}

impl SearchAnswer {
    /// Keeps only the trace metadata of each hit, as a legacy tag search answers.
    pub(crate) fn drop_spansets(&mut self) {
        for hit in &mut self.hits {
            hit.span_set = None;
            hit.span_sets.clear();
        }
    }

    /// Runs `plan` on one trace and keeps it as a hit when it matches.
    fn evaluate(
        &mut self,
        plan: &SearchPlan,
        trace: &EvalTrace,
        spans_per_spanset: usize,
    ) -> Result<(), SearchJobError> {
        let spansets =
            plan.run(trace).map_err(|error: EvalError| SearchJobError::Query(error.to_string()))?;
        if !spansets.is_empty() {
            self.hits.push(hit(plan, trace, &spansets, spans_per_spanset));
        }
        Ok(())
    }
}

/// A part of a block to search: some of its row groups.
#[derive(Debug, Clone)]
pub(crate) struct BlockJob {
    pub meta: Arc<BlockMeta>,
    pub row_groups: Vec<usize>,
    /// Unix nanoseconds; traces outside are skipped.
    pub window: Option<(u64, u64)>,
    /// Set when the search no longer needs answers: the scan stops at the next trace.
    pub cancel: Arc<AtomicBool>,
    /// The job stops once it has this many matching traces (0: no limit): the search
    /// cannot use more from one job.
    pub limit: usize,
}

/// Runs `plan` on the traces of some row groups of a block, streaming them (one trace in
/// memory at a time). Async for the reads; the evaluation inside is CPU work, so callers
/// run it on a blocking thread.
pub(crate) async fn search_block(
    reader: &BlockDataReader,
    plan: &SearchPlan,
    job: &BlockJob,
    spans_per_spanset: usize,
) -> Result<SearchAnswer, SearchJobError> {
    let filter = ScanFilter::new(plan.necessary_condition().clone(), job.window)
        .map_err(|error| SearchJobError::Query(error.to_string()))?;
    let needs = EvalNeeds::of_plan(plan);
    let mut answer = SearchAnswer::default();
    let mut failure = None;
    let counts = reader
        .scan_filtered(job.row_groups.clone(), &filter, &needs, |trace| {
            if job.cancel.load(Ordering::Relaxed) {
                return ControlFlow::Break(());
            }
            if let Some((start, end)) = job.window
                && (trace.start_unix_nano > end || trace.end_unix_nano < start)
            {
                return ControlFlow::Continue(());
            }
            match answer.evaluate(plan, &trace, spans_per_spanset) {
                Ok(()) if job.limit > 0 && answer.hits.len() >= job.limit => ControlFlow::Break(()),
                Ok(()) => ControlFlow::Continue(()),
                Err(error) => {
                    failure = Some(error);
                    ControlFlow::Break(())
                }
            }
        })
        .await
        .map_err(|error| SearchJobError::Block(error.to_string()))?;
    answer.inspected_traces = u32::try_from(counts.traces).unwrap_or(u32::MAX);
    answer.inspected_spans = counts.rows;
    answer.inspected_bytes = counts.bytes;
    match failure {
        Some(error) => Err(error),
        None => Ok(answer),
    }
}

/// Decodes the fragments of a live trace into the evaluation model.
pub(crate) fn decode_live(live: LiveTraceRef) -> Result<EvalTrace, SearchJobError> {
    let mut resource_spans = Vec::new();
    for fragment in live.fragments {
        let data = TracesData::decode(Bytes::clone(&fragment))
            .map_err(|error| SearchJobError::Corrupt(error.to_string()))?;
        resource_spans.extend(data.resource_spans);
    }
    Ok(EvalTrace::from_otlp(live.trace_id, resource_spans))
}

/// The metadata Tempo returns for a matched trace.
pub(crate) fn hit(
    plan: &SearchPlan,
    trace: &EvalTrace,
    spansets: &[Spanset<'_>],
    spans_per_spanset: usize,
) -> tempopb::TraceSearchMetadata {
    let span_sets: Vec<tempopb::SpanSet> = spansets
        .iter()
        .map(|set| {
            let shown = if spans_per_spanset == 0 { set.spans.len() } else { spans_per_spanset };
            tempopb::SpanSet {
                spans: set.spans.iter().take(shown).map(|&i| span(plan, trace, i)).collect(),
                matched: u32::try_from(set.spans.len()).unwrap_or(u32::MAX),
                attributes: set.attributes.iter().filter_map(|(k, v)| key_value(k, v)).collect(),
            }
        })
        .collect();
    let mut service_stats: HashMap<String, tempopb::ServiceStats> = HashMap::new();
    for span in &trace.spans {
        let Some(AttrValue::Str(service)) = trace.resource_of(span).get("service.name") else {
            continue;
        };
        let stats = service_stats.entry(service.clone()).or_default();
        stats.span_count += 1;
        if span.status == Status::Error {
            stats.error_count += 1;
        }
    }
    tempopb::TraceSearchMetadata {
        trace_id: trace.trace_id.to_trimmed_hex(),
        root_service_name: trace
            .root_service
            .clone()
            .unwrap_or_else(|| ROOT_NOT_RECEIVED.to_string()),
        root_trace_name: trace.root_name.clone().unwrap_or_default(),
        start_time_unix_nano: trace.start_unix_nano,
        duration_ms: duration_ms(trace.start_unix_nano, trace.end_unix_nano),
        span_set: span_sets.first().cloned(),
        span_sets,
        service_stats,
    }
}

fn duration_ms(start: u64, end: u64) -> u32 {
    u32::try_from(end.saturating_sub(start) / 1_000_000).unwrap_or(u32::MAX)
}

fn span(plan: &SearchPlan, trace: &EvalTrace, index: u32) -> tempopb::Span {
    let Some(s) = trace.spans.get(index as usize) else {
        return tempopb::Span::default();
    };
    tempopb::Span {
        span_id: hex_lower(&s.span_id),
        name: s.name.clone(),
        start_time_unix_nano: s.start_unix_nano,
        duration_nanos: s.end_unix_nano.saturating_sub(s.start_unix_nano),
        attributes: result_attributes(plan, trace, index)
            .iter()
            .filter_map(|(k, v)| key_value(k, v))
            .collect(),
    }
}

/// An evaluator value as an OTLP attribute; nil has none.
fn key_value(key: &str, value: &Value<'_>) -> Option<KeyValue> {
    Some(KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(any_value(value)?) }),
        ..Default::default()
    })
}

fn any_value(value: &Value<'_>) -> Option<any_value::Value> {
    use any_value::Value as V;
    Some(match value {
        Value::Nil => return None,
        Value::Int(i) => V::IntValue(*i),
        Value::Float(f) => V::DoubleValue(*f),
        Value::Str(s) => V::StringValue(s.as_str().to_string()),
        Value::Bool(b) => V::BoolValue(*b),
        // Tempo renders durations in results as their text (`1.5s`); keep nanoseconds exact.
        Value::Duration(d) => V::IntValue(*d),
        Value::Status(s) => V::StringValue(status_name(*s).to_string()),
        Value::Kind(k) => V::StringValue(kind_name(*k).to_string()),
        Value::IntArray(items) => array(items.iter().map(|i| V::IntValue(*i))),
        Value::FloatArray(items) => array(items.iter().map(|f| V::DoubleValue(*f))),
        Value::StrArray(items) => array(items.iter().map(|s| V::StringValue(s.clone()))),
        Value::BoolArray(items) => array(items.iter().map(|b| V::BoolValue(*b))),
    })
}

fn array(items: impl Iterator<Item = any_value::Value>) -> any_value::Value {
    let values = items.map(|value| AnyValue { value: Some(value) }).collect();
    any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue { values })
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Error => "error",
        Status::Ok => "ok",
        Status::Unset => "unset",
    }
}

fn kind_name(kind: crate::traceql::ast::Kind) -> &'static str {
    use crate::traceql::ast::Kind;
    match kind {
        Kind::Unspecified => "unspecified",
        Kind::Internal => "internal",
        Kind::Server => "server",
        Kind::Client => "client",
        Kind::Producer => "producer",
        Kind::Consumer => "consumer",
    }
}

/// Adds a hit, merging it with an earlier hit of the same trace (from another fragment):
/// earliest start, longest duration, a known root, spansets matched by their attributes
/// (the one with more matches wins), the larger service counts.
pub(crate) fn merge_hit(
    hits: &mut HashMap<String, tempopb::TraceSearchMetadata>,
    hit: tempopb::TraceSearchMetadata,
) {
    let Some(existing) = hits.get_mut(&hit.trace_id) else {
        hits.insert(hit.trace_id.clone(), hit);
        return;
    };
    if existing.root_service_name == ROOT_NOT_RECEIVED && hit.root_service_name != ROOT_NOT_RECEIVED
    {
        existing.root_service_name = hit.root_service_name;
        existing.root_trace_name = hit.root_trace_name;
    }
    let end = (existing.start_time_unix_nano + u64::from(existing.duration_ms) * 1_000_000)
        .max(hit.start_time_unix_nano + u64::from(hit.duration_ms) * 1_000_000);
    existing.start_time_unix_nano = existing.start_time_unix_nano.min(hit.start_time_unix_nano);
    existing.duration_ms = duration_ms(existing.start_time_unix_nano, end);
    for set in hit.span_sets {
        match existing.span_sets.iter_mut().find(|s| s.attributes == set.attributes) {
            Some(same) if set.matched > same.matched => *same = set,
            Some(_) => {}
            None => existing.span_sets.push(set),
        }
    }
    existing.span_set = existing.span_sets.first().cloned();
    // The larger count, not the sum: a trace flushed to a block stays in its live-store for
    // the recent window, so the same spans can be counted from both.
    for (service, stats) in hit.service_stats {
        let entry = existing.service_stats.entry(service).or_default();
        entry.span_count = entry.span_count.max(stats.span_count);
        entry.error_count = entry.error_count.max(stats.error_count);
    }
}
