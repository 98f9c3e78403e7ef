//! What a tag query reads, and the answers that need no reading: the intrinsic names, the
//! virtual values of status, kind and durations, and where a tag's values live (attribute
//! scopes, a string intrinsic, or nowhere).
//!
//! Read by both sides of a query: live traces (`tags_live`) and block dictionaries
//! ([`collect_from_dictionary`]).

use serde::{Deserialize, Serialize};

use crate::actors::query::tag_collect::{CollectorShape, TagCollector, TypedValue, ValueKind};
use crate::storage::block::scan_filter::ScanFilter;
use crate::storage::block::tag_dictionary::intrinsic;
use crate::storage::block::{TagDictionary, TagScope};
use crate::traceql::ast::{AttributeScope, FieldRef, Intrinsic};
use crate::traceql::{Query, SearchPlan};

/// The `intrinsic` scope of `/api/v2/search/tags` (and of v1 with `scope=intrinsic`): the
/// intrinsics a user may type, sorted (Tempo leaves out the nested-set ones).
pub(crate) const INTRINSIC_TAGS: [&str; 25] = [
    "duration",
    "event:name",
    "event:timeSinceStart",
    "instrumentation:name",
    "instrumentation:version",
    "kind",
    "link:spanID",
    "link:traceID",
    "name",
    "rootName",
    "rootServiceName",
    "span:duration",
    "span:id",
    "span:kind",
    "span:name",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "status",
    "statusMessage",
    "trace:duration",
    "trace:id",
    "trace:rootName",
    "trace:rootService",
    "traceDuration",
];

/// The intrinsics whose values are strings found in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum StringIntrinsic {
    /// `name`, `span:name`
    Name,
    /// `statusMessage`, `span:statusMessage`
    StatusMessage,
    /// `rootName`, `trace:rootName`
    RootName,
    /// `rootServiceName`, `trace:rootService`
    RootServiceName,
    /// `event:name`
    EventName,
    /// `instrumentation:name`
    InstrumentationName,
    /// `instrumentation:version`
    InstrumentationVersion,
}

impl StringIntrinsic {
    /// The name it is stored under in a block's tag dictionary.
    pub(crate) fn dictionary_name(self) -> &'static str {
        match self {
            StringIntrinsic::Name => intrinsic::NAME,
            StringIntrinsic::StatusMessage => intrinsic::STATUS_MESSAGE,
            StringIntrinsic::RootName => intrinsic::ROOT_NAME,
            StringIntrinsic::RootServiceName => intrinsic::ROOT_SERVICE_NAME,
            StringIntrinsic::EventName => intrinsic::EVENT_NAME,
            StringIntrinsic::InstrumentationName => intrinsic::INSTRUMENTATION_NAME,
            StringIntrinsic::InstrumentationVersion => intrinsic::INSTRUMENTATION_VERSION,
        }
    }
}

/// Where the values of a tag are found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ValueSource {
    /// Attribute `name` in these scopes (`.x` looks in span and resource).
    Attribute {
        /// The scopes looked in.
        scopes: Vec<TagScope>,
        /// The attribute name.
        name: String,
    },
    /// A string intrinsic.
    Intrinsic(StringIntrinsic),
    /// Nothing is listed: ids (as Tempo), durations and times, tree numbers, parent fields.
    Nothing,
}

impl ValueSource {
    /// Where the values of a parsed v2 tag live.
    pub(crate) fn for_field(field: &FieldRef) -> ValueSource {
        match field {
            FieldRef::Attribute(attribute) if attribute.parent => ValueSource::Nothing,
            FieldRef::Attribute(attribute) => {
                let scopes = match attribute.scope {
                    AttributeScope::None => vec![TagScope::Span, TagScope::Resource],
                    AttributeScope::Span => vec![TagScope::Span],
                    AttributeScope::Resource => vec![TagScope::Resource],
                    AttributeScope::Event => vec![TagScope::Event],
                    AttributeScope::Link => vec![TagScope::Link],
                    AttributeScope::Instrumentation => vec![TagScope::Instrumentation],
                };
                ValueSource::Attribute { scopes, name: attribute.name.clone() }
            }
            FieldRef::Intrinsic(intrinsic) => match intrinsic {
                Intrinsic::Name => ValueSource::Intrinsic(StringIntrinsic::Name),
                Intrinsic::StatusMessage => ValueSource::Intrinsic(StringIntrinsic::StatusMessage),
                Intrinsic::TraceRootName => ValueSource::Intrinsic(StringIntrinsic::RootName),
                Intrinsic::TraceRootService => {
                    ValueSource::Intrinsic(StringIntrinsic::RootServiceName)
                }
                Intrinsic::EventName => ValueSource::Intrinsic(StringIntrinsic::EventName),
                Intrinsic::InstrumentationName => {
                    ValueSource::Intrinsic(StringIntrinsic::InstrumentationName)
                }
                Intrinsic::InstrumentationVersion => {
                    ValueSource::Intrinsic(StringIntrinsic::InstrumentationVersion)
                }
                _ => ValueSource::Nothing,
            },
        }
    }

    /// Where the values of a v1 tag live. As in Tempo's v1 lookups: `name`, `rootName` /
    /// `root.name` and `rootServiceName` / `root.service.name` are intrinsics, ids and
    /// `status.code` (virtual) list nothing, the well-known resource and span names look in
    /// their own scope, and any other name is an unscoped attribute (span and resource).
    pub(crate) fn for_v1_name(name: &str) -> ValueSource {
        let attribute =
            |scopes: Vec<TagScope>| ValueSource::Attribute { scopes, name: name.to_string() };
        match name {
            "name" => ValueSource::Intrinsic(StringIntrinsic::Name),
            "rootName" | "root.name" => ValueSource::Intrinsic(StringIntrinsic::RootName),
            "rootServiceName" | "root.service.name" => {
                ValueSource::Intrinsic(StringIntrinsic::RootServiceName)
            }
            "trace:id" | "span:id" | "status.code" => ValueSource::Nothing,
            "service.name" | "cluster" | "namespace" | "pod" | "container" | "k8s.cluster.name"
            | "k8s.namespace.name" | "k8s.pod.name" | "k8s.container.name" => {
                attribute(vec![TagScope::Resource])
            }
            "http.method" | "http.url" | "http.status_code" => attribute(vec![TagScope::Span]),
            _ => attribute(vec![TagScope::Span, TagScope::Resource]),
        }
    }
}

/// The fixed answer of a v2 tag whose values are not read from data: status and kind give
/// their keywords, durations nothing (Tempo answers these without looking at any block).
pub(crate) fn virtual_values_v2(field: &FieldRef) -> Option<Vec<TypedValue>> {
    let keywords = |words: &[&str]| {
        Some(words.iter().map(|word| TypedValue::new(ValueKind::Keyword, *word)).collect())
    };
    match field {
        FieldRef::Intrinsic(Intrinsic::Status) => keywords(&["ok", "error", "unset"]),
        FieldRef::Intrinsic(Intrinsic::Kind) => {
            keywords(&["client", "server", "producer", "consumer", "internal", "unspecified"])
        }
        FieldRef::Intrinsic(Intrinsic::Duration | Intrinsic::TraceDuration) => Some(Vec::new()),
        _ => None,
    }
}

/// Values a v1 tag always has, listed before the ones found: `status.code` and `error`.
pub(crate) fn virtual_values_v1(name: &str) -> Vec<TypedValue> {
    let strings = |texts: &[&str]| texts.iter().map(|text| TypedValue::string(*text)).collect();
    match name {
        "status.code" => strings(&["unset", "ok", "error"]),
        "error" => strings(&["true"]),
        _ => Vec::new(),
    }
}

/// What one job of a tag query collects, shared by every job of the query.
#[derive(Debug)]
pub(crate) struct TagJob {
    /// Only spans matching this filter contribute; `None` = every span.
    pub filter: Option<SearchPlan>,
    /// The filter's necessary condition, asked of a live trace's tag summary so a trace that
    /// cannot match is not decoded; `None` = every trace is decoded.
    pub prefilter: Option<ScanFilter>,
    /// Whose values to collect; `None` = collect names (of the template's scopes).
    pub values_of: Option<ValueSource>,
    /// Values are collected as strings (v1).
    pub untyped: bool,
    /// An empty collector with the query's shape and limits.
    pub template: TagCollector,
    /// The filter as TraceQL text (what a job sent to another node carries).
    filter_text: Option<String>,
}

/// A tag job as it travels to a node holding a replica: the filter as TraceQL text, the
/// rest as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TagJobSpec {
    /// The filter, `None` = every span.
    pub filter: Option<String>,
    /// Whose values to collect; `None` = names.
    pub values_of: Option<ValueSource>,
    /// Values are collected as strings.
    pub untyped: bool,
    /// The collector's shape and limits.
    pub shape: CollectorShape,
}

impl TagJob {
    /// A job of a query, its filter compiled once. A filter the engine cannot run is
    /// ignored, like any `q` that is not a usable filter.
    pub(crate) fn new(
        filter: Option<&Query>,
        values_of: Option<ValueSource>,
        untyped: bool,
        template: TagCollector,
    ) -> TagJob {
        let compiled = filter.and_then(|query| SearchPlan::new(query).ok());
        let prefilter = compiled.as_ref().and_then(prefilter_of);
        let filter_text = compiled.as_ref().and(filter).map(ToString::to_string);
        TagJob { filter: compiled, prefilter, values_of, untyped, template, filter_text }
    }

    /// The job a spec describes; `Err` when its filter does not parse.
    pub(crate) fn from_spec(spec: TagJobSpec) -> Result<TagJob, String> {
        let filter = match &spec.filter {
            Some(text) => Some(crate::traceql::parse(text).map_err(|error| error.to_string())?),
            None => None,
        };
        Ok(TagJob::new(filter.as_ref(), spec.values_of, spec.untyped, spec.shape.collector()))
    }

    /// What another node needs to run this job.
    pub(crate) fn spec(&self) -> TagJobSpec {
        TagJobSpec {
            filter: self.filter_text.clone(),
            values_of: self.values_of.clone(),
            untyped: self.untyped,
            shape: self.template.shape(),
        }
    }

    /// Records a value found in the data.
    pub(crate) fn add_value(&self, found: &mut TagCollector, value: TypedValue) {
        found.add_value(if self.untyped { value.untyped() } else { value });
    }
}

/// What one job found, with the bytes it looked at.
#[derive(Debug, Clone)]
pub(crate) struct TagJobAnswer {
    /// Names or values, in discovery order.
    pub found: TagCollector,
    /// Bytes of span data or of dictionary read.
    pub inspected_bytes: u64,
}

/// The filter's necessary condition, compiled for live tag summaries; `None` when it rules
/// nothing out (or a regex does not compile: then the engine reports nothing either).
pub(crate) fn prefilter_of(plan: &SearchPlan) -> Option<ScanFilter> {
    let cond = plan.necessary_condition().clone();
    if cond.is_always() {
        return None;
    }
    ScanFilter::new(cond, None).ok()
}

/// Collects from one block's dictionary what `job` asks for. A dictionary lists every
/// value of the block, so a job with a filter must not use it (the caller skips the block).
pub(crate) fn collect_from_dictionary(job: &TagJob, dictionary: &TagDictionary) -> TagCollector {
    let mut found = job.template.empty_like();
    match &job.values_of {
        None => {
            for scope in found.name_scopes() {
                for name in dictionary.names(scope) {
                    if !found.wants_names_of(scope) {
                        break;
                    }
                    found.add_name(scope, name);
                }
            }
        }
        Some(ValueSource::Attribute { scopes, name }) => {
            for scope in scopes {
                collect_dictionary_values(job, dictionary, *scope, name, &mut found);
            }
        }
        Some(ValueSource::Intrinsic(intrinsic)) => {
            let name = intrinsic.dictionary_name();
            collect_dictionary_values(job, dictionary, TagScope::Intrinsic, name, &mut found);
        }
        Some(ValueSource::Nothing) => {}
    }
    found
}

fn collect_dictionary_values(
    job: &TagJob,
    dictionary: &TagDictionary,
    scope: TagScope,
    name: &str,
    found: &mut TagCollector,
) {
    let Some(values) = dictionary.values(scope, name) else { return };
    let typed = values
        .strings
        .iter()
        .map(|text| TypedValue::string(text.as_str()))
        .chain(values.ints.iter().map(|number| TypedValue::int(*number)))
        .chain(values.floats.iter().map(|number| TypedValue::float(*number)))
        .chain(values.bools.iter().map(|flag| TypedValue::bool(*flag)));
    for value in typed {
        if found.is_done() {
            return;
        }
        job.add_value(found, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_names_look_where_tempos_v1_lookups_look() {
        let attribute = |scopes: &[TagScope], name: &str| ValueSource::Attribute {
            scopes: scopes.to_vec(),
            name: name.to_string(),
        };
        let cases = [
            ("name", ValueSource::Intrinsic(StringIntrinsic::Name)),
            ("root.service.name", ValueSource::Intrinsic(StringIntrinsic::RootServiceName)),
            ("rootName", ValueSource::Intrinsic(StringIntrinsic::RootName)),
            ("status.code", ValueSource::Nothing),
            ("trace:id", ValueSource::Nothing),
            ("service.name", attribute(&[TagScope::Resource], "service.name")),
            ("http.status_code", attribute(&[TagScope::Span], "http.status_code")),
            ("db.system", attribute(&[TagScope::Span, TagScope::Resource], "db.system")),
        ];
        for (name, expected) in cases {
            assert_eq!(ValueSource::for_v1_name(name), expected, "{name}");
        }
    }

    #[test]
    fn only_status_kind_and_durations_are_virtual_in_v2() {
        let keywords = |field| {
            virtual_values_v2(&FieldRef::Intrinsic(field))
                .map(|values| values.into_iter().map(|value| value.text).collect::<Vec<_>>())
        };
        assert_eq!(keywords(Intrinsic::Status).unwrap(), ["ok", "error", "unset"]);
        assert_eq!(keywords(Intrinsic::Kind).unwrap().len(), 6);
        assert_eq!(keywords(Intrinsic::Duration), Some(Vec::new()));
        assert_eq!(keywords(Intrinsic::TraceDuration), Some(Vec::new()));
        assert_eq!(keywords(Intrinsic::Name), None);
        assert_eq!(virtual_values_v1("status.code").len(), 3);
        assert!(virtual_values_v1("service.name").is_empty());
    }
}
