//! Tag names and values from live traces. CPU work: a query shard runs it off the async
//! workers.
//!
//! ```text
//!  LiveTraceRef ─ no filter, summary covers every fragment (and is whole for the tag)?
//!     yes ─► its tag summary (`live_tags`): names per scope, values per name, root intrinsics
//!     no  ─decode─► EvalTrace ─filter (SearchPlan)─► matching spans
//!            names:  span attributes; their resource, scope (once per trace); events; links
//!            values: the tag's attribute in its scopes, or a string intrinsic
//! ```
//!
//! A filter (`q`) needs the spans, so it decodes, but only traces its necessary condition
//! (`traceql::pushdown`) may match by their summary (`{ resource.service.name = "cart" }`
//! skips the traces without that service). A trace whose summary lags behind its newest
//! fragments, was dropped, or left out values of the asked tag is decoded too.
//!
//! What counts is what the block writer records in a tag dictionary (see
//! `storage::block::tag_dictionary`; summaries are built by the same walk), so a trace gives
//! the same names and values before and after it moves to a block. `inspected_bytes` counts
//! the span data a trace holds either way.

use std::collections::HashSet;

use crate::actors::partition::live_tags::{TagScalar, TraceTags};
use crate::actors::partition::live_traces::LiveTraceRef;
use crate::actors::query::search_hits::{SearchJobError, decode_live};
use crate::actors::query::tag_collect::{TagCollector, TypedValue};
use crate::actors::query::tag_sources::{StringIntrinsic, TagJob, TagJobAnswer, ValueSource};
use crate::storage::block::TagScope;
use crate::storage::block::scan_filter::{KnownValue, KnownValues};
use crate::storage::block::tag_dictionary::intrinsic;
use crate::traceql::eval::{AttrValue, Attrs, EvalSpan, EvalTrace};
use crate::traceql::pushdown::Target;

/// Runs `job` on live traces, stopping once its collector is done.
pub(crate) fn collect_live_tags(
    job: &TagJob,
    traces: Vec<LiveTraceRef>,
) -> Result<TagJobAnswer, SearchJobError> {
    let mut found = job.template.empty_like();
    let mut inspected_bytes = 0;
    for live in traces {
        if found.is_done() {
            break;
        }
        inspected_bytes += live.size();
        if let Some(tags) = usable_summary(job, &live) {
            match &job.values_of {
                None => names_from_summary(tags, &mut found),
                Some(source) => values_from_summary(job, source, tags, &mut found),
            }
            continue;
        }
        if summary_rules_out(job, &live) {
            continue;
        }
        let trace = decode_live(live)?;
        let spans = matching_spans(job, &trace);
        if spans.is_empty() {
            continue;
        }
        match &job.values_of {
            None => collect_names(&trace, &spans, &mut found),
            Some(source) => collect_values(job, source, &trace, &spans, &mut found),
        }
    }
    Ok(TagJobAnswer { found, inspected_bytes })
}

/// The trace's tag summary, when it can answer the job exactly: no filter, every fragment
/// summarized, and every value of the asked tag kept.
fn usable_summary<'t>(job: &TagJob, live: &'t LiveTraceRef) -> Option<&'t TraceTags> {
    if job.filter.is_some() {
        return None;
    }
    let tags = live.tags.as_deref().filter(|tags| tags.covers(live.fragments.len()))?;
    let whole = |scope: TagScope, name: &str| {
        tags.values(scope, name).is_none_or(|values| !values.is_partial())
    };
    let answers = match &job.values_of {
        None | Some(ValueSource::Nothing) => true,
        Some(ValueSource::Attribute { scopes, name }) => {
            scopes.iter().all(|scope| whole(*scope, name))
        }
        Some(ValueSource::Intrinsic(
            StringIntrinsic::RootName | StringIntrinsic::RootServiceName,
        )) => true,
        Some(ValueSource::Intrinsic(intrinsic)) => {
            whole(TagScope::Intrinsic, intrinsic.dictionary_name())
        }
    };
    answers.then_some(tags)
}

/// Whether the trace's summary shows that the job's filter cannot match any of its spans
/// (so the trace need not be decoded).
fn summary_rules_out(job: &TagJob, live: &LiveTraceRef) -> bool {
    let (Some(prefilter), Some(tags)) = (&job.prefilter, live.tags.as_deref()) else {
        return false;
    };
    tags.covers(live.fragments.len())
        && !prefilter.may_match_known(&|target| known_values(tags, target))
}

/// What the summary knows of a filter target's values: span names and span or resource
/// attributes, when listed exactly.
fn known_values<'t>(tags: &'t TraceTags, target: &Target) -> KnownValues<'t> {
    let (scope, name) = match target {
        Target::Name => (TagScope::Intrinsic, intrinsic::NAME),
        Target::SpanAttr(name) => (TagScope::Span, name.as_str()),
        Target::ResourceAttr(name) => (TagScope::Resource, name.as_str()),
        _ => return KnownValues::Unknown,
    };
    let Some(values) = tags.values(scope, name) else {
        return KnownValues::All(Vec::new());
    };
    if !values.is_plain() {
        return KnownValues::Unknown;
    }
    let known = values.values().iter().map(|value| match value {
        TagScalar::Str(text) => KnownValue::Str(text),
        TagScalar::Int(number) => KnownValue::Int(*number),
        TagScalar::Float(number) => KnownValue::Float(*number),
        TagScalar::Bool(flag) => KnownValue::Bool(*flag),
    });
    KnownValues::All(known.collect())
}

fn names_from_summary(tags: &TraceTags, found: &mut TagCollector) {
    for scope in found.name_scopes() {
        for name in tags.names(scope) {
            if !found.wants_names_of(scope) {
                break;
            }
            found.add_name(scope, name);
        }
    }
}

fn values_from_summary(
    job: &TagJob,
    source: &ValueSource,
    tags: &TraceTags,
    found: &mut TagCollector,
) {
    let mut add_all = |scope: TagScope, name: &str| {
        for value in tags.values(scope, name).map_or(&[][..], |values| values.values()) {
            job.add_value(found, typed_value(value));
        }
    };
    match source {
        ValueSource::Nothing => {}
        ValueSource::Attribute { scopes, name } => {
            scopes.iter().for_each(|scope| add_all(*scope, name));
        }
        ValueSource::Intrinsic(StringIntrinsic::RootName) => {
            if let Some(name) = tags.root_name() {
                job.add_value(found, TypedValue::string(name));
            }
        }
        ValueSource::Intrinsic(StringIntrinsic::RootServiceName) => {
            if let Some(service) = tags.root_service() {
                job.add_value(found, TypedValue::string(service));
            }
        }
        ValueSource::Intrinsic(intrinsic) => {
            add_all(TagScope::Intrinsic, intrinsic.dictionary_name())
        }
    }
}

fn typed_value(value: &TagScalar) -> TypedValue {
    match value {
        TagScalar::Str(text) => TypedValue::string(&**text),
        TagScalar::Int(number) => TypedValue::int(*number),
        TagScalar::Float(number) => TypedValue::float(*number),
        TagScalar::Bool(flag) => TypedValue::bool(*flag),
    }
}

/// Positions of the spans that contribute, in trace order. A filter that fails on a trace
/// (a division by zero) matches nothing there: `q` only narrows suggestions.
fn matching_spans(job: &TagJob, trace: &EvalTrace) -> Vec<usize> {
    let Some(filter) = &job.filter else {
        return (0..trace.spans.len()).collect();
    };
    let mut spans: Vec<usize> = filter
        .run(trace)
        .unwrap_or_default()
        .iter()
        .flat_map(|set| set.spans.iter().map(|&span| span as usize))
        .collect();
    spans.sort_unstable();
    spans.dedup();
    spans
}

/// The positions among `spans` of the first span of each distinct resource (or scope).
fn once_each(spans: &[usize], trace: &EvalTrace, key: impl Fn(&EvalSpan) -> u32) -> Vec<usize> {
    let mut seen = HashSet::new();
    spans
        .iter()
        .filter(|&&span| trace.spans.get(span).is_some_and(|s| seen.insert(key(s))))
        .copied()
        .collect()
}

fn collect_names(trace: &EvalTrace, spans: &[usize], found: &mut TagCollector) {
    let add_all = |found: &mut TagCollector, scope: TagScope, attributes: &Attrs| {
        if found.wants_names_of(scope) {
            for (name, _) in &attributes.0 {
                found.add_name(scope, name);
            }
        }
    };
    for &position in &once_each(spans, trace, |span| span.resource) {
        if let Some(span) = trace.spans.get(position) {
            add_all(found, TagScope::Resource, trace.resource_of(span));
        }
    }
    for &position in &once_each(spans, trace, |span| span.scope) {
        if let Some(scope) = trace.spans.get(position).and_then(|span| trace.scope_of(span)) {
            add_all(found, TagScope::Instrumentation, &scope.attributes);
        }
    }
    for span in spans.iter().filter_map(|&position| trace.spans.get(position)) {
        if found.is_done() {
            return;
        }
        add_all(found, TagScope::Span, &span.attributes);
        for event in &span.events {
            add_all(found, TagScope::Event, &event.attributes);
        }
        for link in &span.links {
            add_all(found, TagScope::Link, &link.attributes);
        }
    }
}

fn collect_values(
    job: &TagJob,
    source: &ValueSource,
    trace: &EvalTrace,
    spans: &[usize],
    found: &mut TagCollector,
) {
    let mut add = |value: TypedValue| job.add_value(found, value);
    match source {
        ValueSource::Nothing => {}
        ValueSource::Attribute { scopes, name } => {
            for scope in scopes {
                for attributes in attribute_lists(*scope, trace, spans) {
                    for (_, value) in attributes.0.iter().filter(|(key, _)| key == name) {
                        typed_values(value, &mut add);
                    }
                }
            }
        }
        ValueSource::Intrinsic(intrinsic) => {
            for text in intrinsic_strings(*intrinsic, trace, spans) {
                add(TypedValue::string(text));
            }
        }
    }
}

/// The attribute lists of `scope` the spans reach (each resource and scope once).
fn attribute_lists<'t>(scope: TagScope, trace: &'t EvalTrace, spans: &[usize]) -> Vec<&'t Attrs> {
    let spans_at = |positions: Vec<usize>| -> Vec<&'t EvalSpan> {
        positions.into_iter().filter_map(|position| trace.spans.get(position)).collect()
    };
    match scope {
        TagScope::Span => spans_at(spans.to_vec()).into_iter().map(|s| &s.attributes).collect(),
        TagScope::Resource => spans_at(once_each(spans, trace, |span| span.resource))
            .into_iter()
            .map(|span| trace.resource_of(span))
            .collect(),
        TagScope::Instrumentation => spans_at(once_each(spans, trace, |span| span.scope))
            .into_iter()
            .filter_map(|span| trace.scope_of(span).map(|scope| &scope.attributes))
            .collect(),
        TagScope::Event => spans_at(spans.to_vec())
            .into_iter()
            .flat_map(|span| span.events.iter().map(|event| &event.attributes))
            .collect(),
        TagScope::Link => spans_at(spans.to_vec())
            .into_iter()
            .flat_map(|span| span.links.iter().map(|link| &link.attributes))
            .collect(),
        TagScope::Intrinsic => Vec::new(),
    }
}

/// The values of a string intrinsic on the spans (empty texts left out where the block
/// writer leaves them out).
fn intrinsic_strings<'t>(
    intrinsic: StringIntrinsic,
    trace: &'t EvalTrace,
    spans: &[usize],
) -> Vec<&'t str> {
    let matched = || spans.iter().filter_map(|&position| trace.spans.get(position));
    let scopes = || {
        once_each(spans, trace, |span| span.scope)
            .into_iter()
            .filter_map(|position| trace.spans.get(position).and_then(|s| trace.scope_of(s)))
    };
    let texts: Vec<&str> = match intrinsic {
        StringIntrinsic::Name => matched().map(|span| span.name.as_str()).collect(),
        StringIntrinsic::StatusMessage => {
            matched().map(|span| span.status_message.as_str()).filter(|t| !t.is_empty()).collect()
        }
        StringIntrinsic::RootName => trace.root_name.as_deref().into_iter().collect(),
        StringIntrinsic::RootServiceName => {
            trace.root_service.as_deref().into_iter().filter(|t| !t.is_empty()).collect()
        }
        StringIntrinsic::EventName => {
            matched().flat_map(|span| span.events.iter().map(|e| e.name.as_str())).collect()
        }
        StringIntrinsic::InstrumentationName => {
            scopes().map(|scope| scope.name.as_str()).filter(|t| !t.is_empty()).collect()
        }
        StringIntrinsic::InstrumentationVersion => {
            scopes().map(|scope| scope.version.as_str()).filter(|t| !t.is_empty()).collect()
        }
    };
    texts
}

/// An attribute value as tag values: scalars once, arrays element by element; doubles that
/// are not finite are not values (as in block dictionaries).
fn typed_values(value: &AttrValue, add: &mut impl FnMut(TypedValue)) {
    let float = |number: f64, add: &mut dyn FnMut(TypedValue)| {
        if number.is_finite() {
            add(TypedValue::float(number));
        }
    };
    match value {
        AttrValue::Str(text) => add(TypedValue::string(text.as_str())),
        AttrValue::Int(number) => add(TypedValue::int(*number)),
        AttrValue::Float(number) => float(*number, add),
        AttrValue::Bool(flag) => add(TypedValue::bool(*flag)),
        AttrValue::StrArray(items) => {
            items.iter().for_each(|t| add(TypedValue::string(t.as_str())))
        }
        AttrValue::IntArray(items) => items.iter().for_each(|n| add(TypedValue::int(*n))),
        AttrValue::FloatArray(items) => items.iter().for_each(|n| float(*n, add)),
        AttrValue::BoolArray(items) => items.iter().for_each(|b| add(TypedValue::bool(*b))),
    }
}

#[cfg(test)]
#[path = "tags_live_tests.rs"]
mod tests;
