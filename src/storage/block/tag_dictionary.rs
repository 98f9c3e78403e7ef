//! `tags.json`: a block's tag dictionary, written at build time so tag autocomplete reads one
//! small object per block instead of its rows.
//!
//! ```text
//!  traces ──add_trace──► per scope (span, resource, event, link, instrumentation, intrinsic):
//!                          name ─► distinct values by type (strings, ints, floats, bools)
//!         ──finish────► TagDictionary ──encode──► tags.json (uploaded before meta.json)
//! ```
//!
//! Caps keep it small whatever the data: at most [`MAX_VALUES_PER_NAME`] values per name,
//! values longer than [`MAX_VALUE_BYTES`] left out (a name missing values is marked
//! `capped`), and at most [`MAX_DICTIONARY_BYTES`] of names and values in all (past it new
//! names and values are left out and the dictionary is marked `capped`). So a block with a
//! unique id in an attribute keeps 1,000 of its values, not millions.
//!
//! What is recorded is what TraceQL can query: attributes whose value is a string, int,
//! double, bool or an array of one of those (each element counts as a value); kvlists, bytes
//! and mixed arrays are left out, as the query engine reads them as missing. The `intrinsic`
//! scope holds the values of the string intrinsics: `name`, `statusMessage`, `rootName`,
//! `rootServiceName`, `event:name`, `instrumentation:name`, `instrumentation:version` (an
//! empty status message, root service or instrumentation name or version is not a value).
//! Status and kind are fixed sets and are not stored.
//!
//! The walk over a trace ([`visit_tags`]) is shared with the live-store's per-trace tag
//! summaries, so a trace lists the same names and values live and in a block.
//!
//! Deterministic: traces are added in block (trace-id) order and everything is kept sorted,
//! so the same block input gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use serde::{Deserialize, Serialize};

use super::BlockError;

/// Version of the `tags.json` layout this build writes and reads.
pub(crate) const TAGS_FORMAT_VERSION: u32 = 1;
/// Distinct values kept per name (all types together).
pub(crate) const MAX_VALUES_PER_NAME: usize = 1_000;
/// Longest string value kept, in bytes.
pub(crate) const MAX_VALUE_BYTES: usize = 1_024;
/// Bytes of names and values per dictionary (Tempo's default `max_bytes_per_tag_values_query`
/// is the same 1 MB: more could never be answered in one response).
pub(crate) const MAX_DICTIONARY_BYTES: usize = 1_000_000;
/// What a number or bool counts for against [`MAX_DICTIONARY_BYTES`].
const SCALAR_BYTES: usize = 8;

/// Where a name lives: TraceQL's attribute scopes, plus the string intrinsics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TagScope {
    /// Span attributes.
    Span,
    /// Resource attributes.
    Resource,
    /// Span event attributes.
    Event,
    /// Span link attributes.
    Link,
    /// Instrumentation-scope attributes.
    Instrumentation,
    /// Values of string intrinsics, keyed by the intrinsic's TraceQL name.
    Intrinsic,
}

impl TagScope {
    /// The five attribute scopes, in the order Tempo lists them.
    pub(crate) const ATTRIBUTES: [TagScope; 5] = [
        TagScope::Span,
        TagScope::Resource,
        TagScope::Event,
        TagScope::Link,
        TagScope::Instrumentation,
    ];

    /// The scope's name in TraceQL and in Tempo's answers.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TagScope::Span => "span",
            TagScope::Resource => "resource",
            TagScope::Event => "event",
            TagScope::Link => "link",
            TagScope::Instrumentation => "instrumentation",
            TagScope::Intrinsic => "intrinsic",
        }
    }
}

/// Intrinsic names as stored in the `intrinsic` scope.
pub(crate) mod intrinsic {
    /// Span name.
    pub(crate) const NAME: &str = "name";
    /// Span status message.
    pub(crate) const STATUS_MESSAGE: &str = "statusMessage";
    /// Root span name of the trace.
    pub(crate) const ROOT_NAME: &str = "rootName";
    /// Root service of the trace.
    pub(crate) const ROOT_SERVICE_NAME: &str = "rootServiceName";
    /// Event name.
    pub(crate) const EVENT_NAME: &str = "event:name";
    /// Instrumentation scope name.
    pub(crate) const INSTRUMENTATION_NAME: &str = "instrumentation:name";
    /// Instrumentation scope version.
    pub(crate) const INSTRUMENTATION_VERSION: &str = "instrumentation:version";
}

/// One scalar value, borrowed from the trace it was found in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ScalarRef<'a> {
    /// A string.
    Str(&'a str),
    /// An int.
    Int(i64),
    /// A double (never NaN or infinite: those are not recorded).
    Float(f64),
    /// A bool.
    Bool(bool),
}

/// The distinct values of one name, each list sorted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TagValues {
    /// String values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strings: Vec<String>,
    /// Int values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ints: Vec<i64>,
    /// Double values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floats: Vec<f64>,
    /// Bool values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bools: Vec<bool>,
    /// Some values of this name were left out (a cap was reached).
    #[serde(default, skip_serializing_if = "is_false")]
    pub capped: bool,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// The contents of `tags.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TagDictionary {
    /// [`TAGS_FORMAT_VERSION`].
    pub version: u32,
    /// Names or values were left out because the dictionary reached its byte cap.
    #[serde(default, skip_serializing_if = "is_false")]
    pub capped: bool,
    /// Names per scope, each with its values.
    pub scopes: BTreeMap<TagScope, BTreeMap<String, TagValues>>,
}

impl TagDictionary {
    /// The names recorded in `scope`, sorted.
    pub(crate) fn names(&self, scope: TagScope) -> impl Iterator<Item = &str> {
        self.scopes.get(&scope).into_iter().flat_map(|names| names.keys().map(String::as_str))
    }

    /// The values of `name` in `scope`, if the name is recorded.
    pub(crate) fn values(&self, scope: TagScope, name: &str) -> Option<&TagValues> {
        self.scopes.get(&scope)?.get(name)
    }

    /// The compact JSON stored as `tags.json`.
    pub(crate) fn encode(&self) -> Bytes {
        // Strings, integers and finite doubles always serialise.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Parses `tags.json`; refuses a version this build does not read.
    pub(crate) fn decode(bytes: &[u8], object: &str) -> Result<TagDictionary, BlockError> {
        let dictionary: TagDictionary = serde_json::from_slice(bytes).map_err(|error| {
            BlockError::Corrupt { object: object.to_string(), reason: error.to_string() }
        })?;
        if dictionary.version != TAGS_FORMAT_VERSION {
            return Err(BlockError::Decode {
                object: object.to_string(),
                reason: format!(
                    "unsupported tag dictionary version {} (this build reads {TAGS_FORMAT_VERSION})",
                    dictionary.version
                ),
            });
        }
        Ok(dictionary)
    }
}

/// Values of one name while building.
#[derive(Debug, Default)]
struct ValueSets {
    strings: BTreeSet<String>,
    ints: BTreeSet<i64>,
    /// Bit patterns, so that every double (and -0.0 apart from 0.0) is one value.
    floats: BTreeSet<u64>,
    bools: BTreeSet<bool>,
    count: usize,
    capped: bool,
}

impl ValueSets {
    fn contains(&self, value: ScalarRef<'_>) -> bool {
        match value {
            ScalarRef::Str(text) => self.strings.contains(text),
            ScalarRef::Int(number) => self.ints.contains(&number),
            ScalarRef::Float(number) => self.floats.contains(&number.to_bits()),
            ScalarRef::Bool(flag) => self.bools.contains(&flag),
        }
    }

    fn insert(&mut self, value: ScalarRef<'_>) {
        match value {
            ScalarRef::Str(text) => self.strings.insert(text.to_string()),
            ScalarRef::Int(number) => self.ints.insert(number),
            ScalarRef::Float(number) => self.floats.insert(number.to_bits()),
            ScalarRef::Bool(flag) => self.bools.insert(flag),
        };
        self.count += 1;
    }

    fn finish(self) -> TagValues {
        let mut floats: Vec<f64> = self.floats.into_iter().map(f64::from_bits).collect();
        floats.sort_by(f64::total_cmp);
        TagValues {
            strings: self.strings.into_iter().collect(),
            ints: self.ints.into_iter().collect(),
            floats,
            bools: self.bools.into_iter().collect(),
            capped: self.capped,
        }
    }
}

/// Collects a block's names and values under the caps of the module doc.
#[derive(Debug, Default)]
pub(crate) struct TagDictionaryBuilder {
    scopes: BTreeMap<TagScope, BTreeMap<String, ValueSets>>,
    bytes: usize,
    capped: bool,
}

impl TagDictionaryBuilder {
    /// An empty builder.
    pub(crate) fn new() -> TagDictionaryBuilder {
        TagDictionaryBuilder::default()
    }

    /// Records `name` in `scope` with `value` (a name is recorded even when its value is
    /// over a cap).
    pub(crate) fn add(&mut self, scope: TagScope, name: &str, value: ScalarRef<'_>) {
        let names = self.scopes.entry(scope).or_default();
        if !names.contains_key(name) {
            if self.bytes + name.len() > MAX_DICTIONARY_BYTES {
                self.capped = true;
                return;
            }
            self.bytes += name.len();
            names.insert(name.to_string(), ValueSets::default());
        }
        let Some(values) = names.get_mut(name) else { return };
        if matches!(value, ScalarRef::Float(number) if !number.is_finite())
            || values.contains(value)
        {
            return;
        }
        let cost = match value {
            ScalarRef::Str(text) if text.len() > MAX_VALUE_BYTES => {
                values.capped = true;
                return;
            }
            ScalarRef::Str(text) => text.len(),
            _ => SCALAR_BYTES,
        };
        if values.count >= MAX_VALUES_PER_NAME {
            values.capped = true;
            return;
        }
        if self.bytes + cost > MAX_DICTIONARY_BYTES {
            values.capped = true;
            self.capped = true;
            return;
        }
        self.bytes += cost;
        values.insert(value);
    }

    /// Records every name and value of one trace's spans. `root_name` and
    /// `root_service_name` are the trace's root span name and service, when known.
    pub(crate) fn add_trace(
        &mut self,
        resource_spans: &[ResourceSpans],
        root_name: Option<&str>,
        root_service_name: Option<&str>,
    ) {
        use intrinsic::*;
        if let Some(root_name) = root_name {
            self.add(TagScope::Intrinsic, ROOT_NAME, ScalarRef::Str(root_name));
        }
        if let Some(service) = root_service_name.filter(|service| !service.is_empty()) {
            self.add(TagScope::Intrinsic, ROOT_SERVICE_NAME, ScalarRef::Str(service));
        }
        visit_tags(resource_spans, self);
    }

    /// The finished dictionary.
    pub(crate) fn finish(self) -> TagDictionary {
        TagDictionary {
            version: TAGS_FORMAT_VERSION,
            capped: self.capped,
            scopes: self
                .scopes
                .into_iter()
                .map(|(scope, names)| {
                    let names = names.into_iter().map(|(name, v)| (name, v.finish())).collect();
                    (scope, names)
                })
                .filter(|(_, names): &(TagScope, BTreeMap<String, TagValues>)| !names.is_empty())
                .collect(),
        }
    }
}

/// Where [`visit_tags`] reports what it finds: a block's dictionary, or a live trace's tag
/// summary (`actors::partition::live_tags`), so both record exactly the same names and values.
pub(crate) trait TagSink {
    /// Records `name` in `scope` with one scalar `value`.
    fn add(&mut self, scope: TagScope, name: &str, value: ScalarRef<'_>);

    /// Records the elements of an array value of `name` (each element is a value).
    fn add_array(&mut self, scope: TagScope, name: &str, elements: &[ScalarRef<'_>]) {
        for element in elements {
            self.add(scope, name, *element);
        }
    }
}

impl TagSink for TagDictionaryBuilder {
    fn add(&mut self, scope: TagScope, name: &str, value: ScalarRef<'_>) {
        TagDictionaryBuilder::add(self, scope, name, value);
    }
}

/// Reports every queryable name and value of `resource_spans` to `sink` (module doc: which
/// values count), except the trace-level root intrinsics, which need the whole trace.
pub(crate) fn visit_tags(resource_spans: &[ResourceSpans], sink: &mut impl TagSink) {
    use intrinsic::*;
    for resource_spans in resource_spans {
        for attribute in resource_spans.resource.iter().flat_map(|r| &r.attributes) {
            visit_attribute(sink, TagScope::Resource, attribute);
        }
        for scope_spans in &resource_spans.scope_spans {
            if let Some(scope) = &scope_spans.scope {
                for (name, value) in
                    [(INSTRUMENTATION_NAME, &scope.name), (INSTRUMENTATION_VERSION, &scope.version)]
                {
                    if !value.is_empty() {
                        sink.add(TagScope::Intrinsic, name, ScalarRef::Str(value));
                    }
                }
                for attribute in &scope.attributes {
                    visit_attribute(sink, TagScope::Instrumentation, attribute);
                }
            }
            for span in &scope_spans.spans {
                sink.add(TagScope::Intrinsic, NAME, ScalarRef::Str(&span.name));
                if let Some(status) = span.status.as_ref().filter(|s| !s.message.is_empty()) {
                    sink.add(TagScope::Intrinsic, STATUS_MESSAGE, ScalarRef::Str(&status.message));
                }
                for attribute in &span.attributes {
                    visit_attribute(sink, TagScope::Span, attribute);
                }
                for event in &span.events {
                    sink.add(TagScope::Intrinsic, EVENT_NAME, ScalarRef::Str(&event.name));
                    for attribute in &event.attributes {
                        visit_attribute(sink, TagScope::Event, attribute);
                    }
                }
                for link in &span.links {
                    for attribute in &link.attributes {
                        visit_attribute(sink, TagScope::Link, attribute);
                    }
                }
            }
        }
    }
}

/// Reports an OTLP attribute; values TraceQL cannot query are left out, name included.
fn visit_attribute(sink: &mut impl TagSink, scope: TagScope, attribute: &KeyValue) {
    let Some(value) = attribute.value.as_ref().and_then(|value| value.value.as_ref()) else {
        return;
    };
    match value {
        any_value::Value::ArrayValue(array) => {
            if let Some(elements) = homogeneous_scalars(&array.values) {
                sink.add_array(scope, &attribute.key, &elements);
            }
        }
        other => {
            if let Some(scalar) = scalar(other) {
                sink.add(scope, &attribute.key, scalar);
            }
        }
    }
}

fn scalar(value: &any_value::Value) -> Option<ScalarRef<'_>> {
    Some(match value {
        any_value::Value::StringValue(text) => ScalarRef::Str(text),
        any_value::Value::IntValue(number) => ScalarRef::Int(*number),
        any_value::Value::DoubleValue(number) => ScalarRef::Float(*number),
        any_value::Value::BoolValue(flag) => ScalarRef::Bool(*flag),
        _ => return None,
    })
}

/// The elements of an array whose elements all have one scalar type (TraceQL's arrays);
/// `None` for an empty or mixed array.
fn homogeneous_scalars(values: &[AnyValue]) -> Option<Vec<ScalarRef<'_>>> {
    let elements: Vec<ScalarRef<'_>> =
        values.iter().map(|value| value.value.as_ref().and_then(scalar)).collect::<Option<_>>()?;
    let first = std::mem::discriminant(elements.first()?);
    elements.iter().all(|element| std::mem::discriminant(element) == first).then_some(elements)
}

#[cfg(test)]
#[path = "tag_dictionary_tests.rs"]
mod tests;
