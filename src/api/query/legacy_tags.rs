//! Legacy tag search (tempo-api.md §3.1 `tags`): the logfmt `tags=` parameter, or the gRPC
//! `SearchRequest.Tags` map, with `minDuration`/`maxDuration`, turned into a TraceQL query
//! that the ordinary search engine runs.
//!
//! Tempo checks each tag against the whole trace, so each becomes a spanset filter of its
//! own and the query is their `&&`: some span meets each condition, not one span all of them.
//!
//! ```text
//!  tags=service.name=cart name="GET /x" team=a   minDuration=1s
//!  ─► { resource.service.name =~ ".*cart.*" } && { name =~ ".*GET /x.*" }
//!     && { span.team = "a" || resource.team = "a" } && { traceDuration >= 1s }
//! ```
//!
//! How a value matches depends on its key, as in Tempo's block search (vParquet4):
//!
//! | key | matches |
//! |---|---|
//! | `root.service.name`, `root.name` | substring of the trace's root service / root span name |
//! | `name` | substring of a span's name |
//! | `service.name`, `cluster`, `namespace`, `pod`, `container`, `k8s.{cluster,namespace,pod,container}.name` | substring of that resource attribute |
//! | `http.method`, `http.url` | substring of that span attribute |
//! | `http.status_code` | an integer: span attribute equal to it; else as any other key |
//! | `status.code` | `unset`, `ok` or `error`: the span status (anything else is a 400) |
//! | any other key | a string attribute of the span or its resource, exactly equal |
//!
//! Substrings are case-sensitive. A bare key or `key=` has the empty value (a substring of
//! everything; equal only to an empty string). Differences from Tempo: Tempo wants all
//! "any other key" conditions met inside one resource (one OTLP `ResourceSpans`), here each
//! may be met anywhere in the trace; and Tempo reads an unknown `status.code` as `unset`.

use std::collections::BTreeMap;

use crate::api::query::logfmt::{LogfmtError, parse_logfmt};
use crate::traceql::ast::{
    Attribute, AttributeScope, BinaryOp, Body, FieldExpr, FieldRef, Intrinsic, Pipeline, Query,
    SpansetExpr, SpansetOp, Stage, Static, Status,
};

/// Resource attributes matched by substring.
const SUBSTRING_RESOURCE_KEYS: [&str; 9] = [
    "service.name",
    "cluster",
    "namespace",
    "pod",
    "container",
    "k8s.cluster.name",
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
];
/// Span attributes matched by substring.
const SUBSTRING_SPAN_KEYS: [&str; 2] = ["http.method", "http.url"];

/// Why the tags of a search were refused; the API answers 400 `invalid tags: <this>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LegacyTagsError {
    /// The logfmt text is malformed.
    #[error(transparent)]
    Syntax(#[from] LogfmtError),
    /// A key appears twice (Tempo's wording).
    #[error("tag {key} has been set twice")]
    Duplicate {
        /// The repeated key.
        key: String,
    },
    /// `status.code` with a value that is not a status.
    #[error("status.code must be unset, ok or error, got {value:?}")]
    UnknownStatus {
        /// The value given.
        value: String,
    },
}

/// Reads the logfmt `tags=` text into tags; a key given twice is an error, as in Tempo.
pub(crate) fn parse_tags(text: &str) -> Result<BTreeMap<String, String>, LegacyTagsError> {
    let mut tags = BTreeMap::new();
    for (key, value) in parse_logfmt(text)? {
        if tags.contains_key(&key) {
            return Err(LegacyTagsError::Duplicate { key });
        }
        tags.insert(key, value);
    }
    Ok(tags)
}

/// The TraceQL search a tag search means: one spanset filter per tag (in key order) and one
/// for the trace duration bounds (nanoseconds, inclusive), joined by `&&`; no tags and no
/// bounds is `{ true }`, every trace.
pub(crate) fn tags_to_query(
    tags: &BTreeMap<String, String>,
    min_duration_nanos: Option<u64>,
    max_duration_nanos: Option<u64>,
) -> Result<Query, LegacyTagsError> {
    let mut filters = tags
        .iter()
        .map(|(key, value)| tag_condition(key, value))
        .collect::<Result<Vec<FieldExpr>, LegacyTagsError>>()?;
    let trace_duration = || FieldExpr::Ref(FieldRef::Intrinsic(Intrinsic::TraceDuration));
    let bound = |op, nanos: u64| {
        let nanos = i64::try_from(nanos).unwrap_or(i64::MAX);
        binary(op, trace_duration(), FieldExpr::Static(Static::Duration(nanos)))
    };
    let duration_bounds = [
        min_duration_nanos.map(|min| bound(BinaryOp::Gte, min)),
        max_duration_nanos.map(|max| bound(BinaryOp::Lte, max)),
    ];
    if let Some(both) =
        duration_bounds.into_iter().flatten().reduce(|min, max| binary(BinaryOp::And, min, max))
    {
        filters.push(both);
    }
    let spansets = filters.into_iter().map(SpansetExpr::Filter).reduce(|lhs, rhs| {
        SpansetExpr::Op { op: SpansetOp::And, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    });
    let every_trace = SpansetExpr::Filter(FieldExpr::Static(Static::Bool(true)));
    let pipeline = Pipeline { stages: vec![Stage::Spanset(spansets.unwrap_or(every_trace))] };
    Ok(Query { body: Body::Search(pipeline), hints: Vec::new() })
}

/// The condition one tag sets on a span (see the table in the module docs).
fn tag_condition(key: &str, value: &str) -> Result<FieldExpr, LegacyTagsError> {
    let intrinsic = |intrinsic| FieldRef::Intrinsic(intrinsic);
    let condition = match key {
        "root.service.name" => contains(intrinsic(Intrinsic::TraceRootService), value),
        "root.name" => contains(intrinsic(Intrinsic::TraceRootName), value),
        "name" => contains(intrinsic(Intrinsic::Name), value),
        _ if SUBSTRING_RESOURCE_KEYS.contains(&key) => {
            contains(attribute(AttributeScope::Resource, key), value)
        }
        _ if SUBSTRING_SPAN_KEYS.contains(&key) => {
            contains(attribute(AttributeScope::Span, key), value)
        }
        "http.status_code" => match value.parse::<i64>() {
            Ok(code) => equals(attribute(AttributeScope::Span, key), Static::Int(code)),
            Err(_) => span_or_resource_equals(key, value),
        },
        "status.code" => {
            let status = match value {
                "unset" => Status::Unset,
                "ok" => Status::Ok,
                "error" => Status::Error,
                _ => return Err(LegacyTagsError::UnknownStatus { value: value.to_string() }),
            };
            equals(intrinsic(Intrinsic::Status), Static::Status(status))
        }
        _ => span_or_resource_equals(key, value),
    };
    Ok(condition)
}

fn attribute(scope: AttributeScope, name: &str) -> FieldRef {
    FieldRef::Attribute(Attribute { scope, parent: false, name: name.to_string() })
}

fn binary(op: BinaryOp, lhs: FieldExpr, rhs: FieldExpr) -> FieldExpr {
    FieldExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
}

fn equals(field: FieldRef, value: Static) -> FieldExpr {
    binary(BinaryOp::Eq, FieldExpr::Ref(field), FieldExpr::Static(value))
}

/// `field =~ ".*<value>.*"`: TraceQL regexes are anchored and `.` matches newlines too, so
/// with the value escaped this is "contains".
fn contains(field: FieldRef, value: &str) -> FieldExpr {
    let pattern = format!(".*{}.*", regex::escape(value));
    binary(BinaryOp::Regex, FieldExpr::Ref(field), FieldExpr::Static(Static::Str(pattern)))
}

/// `span.key = "value" || resource.key = "value"`.
fn span_or_resource_equals(key: &str, value: &str) -> FieldExpr {
    let at = |scope| equals(attribute(scope, key), Static::Str(value.to_string()));
    binary(BinaryOp::Or, at(AttributeScope::Span), at(AttributeScope::Resource))
}

#[cfg(test)]
#[path = "legacy_tags_tests.rs"]
mod tests;
