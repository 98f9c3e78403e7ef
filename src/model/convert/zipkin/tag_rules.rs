//! The Zipkin tags the Collector's v2 translator interprets instead of storing them as span
//! attributes: resource keys, the instrumentation library, status, W3C trace state, span kind
//! and links, plus the event attributes the OTel Zipkin exporter packs into annotations.
//!
//! ```text
//!  tags ─┬─ resource keys (host.name, …) ─────────────► Resource (first span of its service)
//!        ├─ otel.library.* / otel.scope.* ─────────────► InstrumentationScope
//!        ├─ otel.status_code, otel.status_description, error ──► Status
//!        ├─ otlp.link.0 … otlp.link.127 ───────────────► Links
//!        └─ the rest ──────────────────────────────────► span attributes (strings)
//! ```

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::Value;

use crate::model::ids::hex_decode;

/// Names the resource attribute that receives the local service name, instead of
/// `service.name`.
pub(super) const SERVICE_NAME_SOURCE_TAG: &str = "otlp.service.name.source";
/// The instrumentation library, as OTel SDKs wrote it before semantic conventions 1.25.
pub(super) const LIBRARY_NAME_TAG: &str = "otel.library.name";
pub(super) const LIBRARY_VERSION_TAG: &str = "otel.library.version";
/// The instrumentation scope under its current name. Collector v0.153 reads only the
/// `otel.library.*` pair; exporters now send `otel.scope.*` (alone or beside it), so both
/// are read, `otel.scope.*` first.
pub(super) const SCOPE_NAME_TAG: &str = "otel.scope.name";
pub(super) const SCOPE_VERSION_TAG: &str = "otel.scope.version";
/// W3C `tracestate` of the span.
pub(super) const TRACE_STATE_TAG: &str = "w3c.tracestate";
/// The OpenTracing kind, read only when the span has no Zipkin kind.
pub(super) const SPAN_KIND_TAG: &str = "span.kind";
/// Marks a span whose start was unknown (and stored as 0).
pub(super) const START_TIME_ABSENT_ATTRIBUTE: &str = "otel.zipkin.absentField.startTime";

const STATUS_CODE_TAG: &str = "otel.status_code";
const STATUS_DESCRIPTION_TAG: &str = "otel.status_description";
const ERROR_TAG: &str = "error";
/// Links are read from `otlp.link.0` upwards, stopping at the first missing index.
const MAX_LINK_TAGS: usize = 128;

/// Tags that describe the process rather than the span: moved to the resource when the span
/// is the first of its service, otherwise dropped (never stored as span attributes). This is
/// the Collector's list: the resource keys of semantic conventions 1.40 (a few from older
/// versions, as it writes them) plus OpenCensus' own.
pub(super) const RESOURCE_TAG_KEYS: &[&str] = &[
    "cloud.provider",
    "cloud.account.id",
    "cloud.region",
    "cloud.availability_zone",
    "cloud.platform",
    "aws.ecs.container.arn",
    "aws.ecs.cluster.arn",
    "aws.ecs.launchtype",
    "aws.ecs.task.arn",
    "aws.ecs.task.family",
    "aws.ecs.task.revision",
    "aws.eks.cluster.arn",
    "aws.log.group.names",
    "aws.log.group.arns",
    "aws.log.stream.names",
    "aws.log.stream.arns",
    "container.name",
    "container.id",
    "container.runtime",
    "container.image.name",
    "container.image.tag",
    "deployment.environment",
    "device.id",
    "device.model.identifier",
    "device.model.name",
    "device.manufacturer",
    "faas.name",
    "faas.id",
    "faas.version",
    "faas.instance",
    "faas.max_memory",
    "host.id",
    "host.name",
    "host.type",
    "host.arch",
    "host.image.name",
    "host.image.id",
    "host.image.version",
    "k8s.cluster.name",
    "k8s.node.name",
    "k8s.node.uid",
    "k8s.namespace.name",
    "k8s.pod.uid",
    "k8s.pod.name",
    "k8s.container.name",
    "k8s.container.restart_count",
    "k8s.replicaset.uid",
    "k8s.replicaset.name",
    "k8s.deployment.uid",
    "k8s.deployment.name",
    "k8s.statefulset.uid",
    "k8s.statefulset.name",
    "k8s.daemonset.uid",
    "k8s.daemonset.name",
    "k8s.job.uid",
    "k8s.job.name",
    "k8s.cronjob.uid",
    "k8s.cronjob.name",
    "os.type",
    "os.description",
    "os.name",
    "os.version",
    "process.pid",
    "process.executable.name",
    "process.executable.path",
    "process.command",
    "process.command_line",
    "process.command_args",
    "process.owner",
    "process.runtime.name",
    "process.runtime.version",
    "process.runtime.description",
    "service.name",
    "service.namespace",
    "service.instance.id",
    "service.version",
    "telemetry.sdk.name",
    "telemetry.sdk.language",
    "telemetry.sdk.version",
    "telemetry.auto.version",
    "webengine.name",
    "webengine.version",
    "webengine.description",
    "opencensus.starttime",
    "opencensus.exporterversion",
    "opencensus.resourcetype",
];

static RESOURCE_TAGS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| RESOURCE_TAG_KEYS.iter().copied().collect());

/// True for a tag that goes to the resource.
pub(super) fn is_resource_tag(key: &str) -> bool {
    RESOURCE_TAGS.contains(key)
}

/// True for a tag that never becomes a span attribute: resource tags and the tags that name
/// the resource's service attribute or the instrumentation scope.
pub(super) fn is_non_span_tag(key: &str) -> bool {
    is_resource_tag(key)
        || matches!(
            key,
            SERVICE_NAME_SOURCE_TAG
                | LIBRARY_NAME_TAG
                | LIBRARY_VERSION_TAG
                | SCOPE_NAME_TAG
                | SCOPE_VERSION_TAG
        )
}

/// The instrumentation scope named by a span's tags; `""` when none.
pub(super) fn scope_name(tags: &BTreeMap<String, String>) -> &str {
    tags.get(SCOPE_NAME_TAG).or_else(|| tags.get(LIBRARY_NAME_TAG)).map_or("", String::as_str)
}

/// The instrumentation scope version named by a span's tags; `""` when none.
pub(super) fn scope_version(tags: &BTreeMap<String, String>) -> &str {
    tags.get(SCOPE_VERSION_TAG).or_else(|| tags.get(LIBRARY_VERSION_TAG)).map_or("", String::as_str)
}

/// Takes the status tags out of `tags`. `otel.status_code` (proto names or the old exporter's
/// `Ok`/`Error`/`Unset`; anything else is unset) sets the code, `otel.status_description`
/// the message, but only beside a code. Any `error` tag makes the status an error, whatever
/// its value; the tag is kept as an attribute unless its value is `true`, which is how a
/// message such as `error=timeout` survives. `None` when the status is unset and bare.
pub(super) fn take_status(tags: &mut BTreeMap<String, String>) -> Option<Status> {
    let mut status = Status::default();
    if let Some(code) = tags.remove(STATUS_CODE_TAG) {
        status.code = match code.as_str() {
            "STATUS_CODE_OK" | "Ok" => StatusCode::Ok,
            "STATUS_CODE_ERROR" | "Error" => StatusCode::Error,
            _ => StatusCode::Unset,
        } as i32;
        status.message = tags.remove(STATUS_DESCRIPTION_TAG).unwrap_or_default();
    }
    if let Some(error) = tags.get(ERROR_TAG) {
        status.code = StatusCode::Error as i32;
        if error == "true" {
            tags.remove(ERROR_TAG);
        }
    }
    (status != Status::default()).then_some(status)
}

/// Takes the links the OTel Zipkin exporter wrote as `otlp.link.<i>` tags, each
/// `traceId|spanId|traceState|{attributes JSON}|droppedAttributesCount`. A tag with fewer
/// parts is dropped; a malformed one is an error (as for the Collector), naming the tag.
pub(super) fn take_links(tags: &mut BTreeMap<String, String>) -> Result<Vec<Link>, String> {
    let mut links = Vec::new();
    for position in 0..MAX_LINK_TAGS {
        let key = format!("otlp.link.{position}");
        let Some(encoded) = tags.remove(&key) else { break };
        let parts: Vec<&str> = encoded.split('|').collect();
        if parts.len() < 5 {
            continue;
        }
        let last = parts.len() - 1;
        let problem = |reason: String| format!("tags[{key:?}] {reason}");
        let trace_id =
            link_id(parts[0], 16).map_err(|reason| problem(format!("trace id {reason}")))?;
        let span_id =
            link_id(parts[1], 8).map_err(|reason| problem(format!("span id {reason}")))?;
        let attributes = json_attributes(&parts[3..last].join("|"))
            .ok_or_else(|| problem("attributes are not a JSON object".into()))?;
        let dropped_attributes_count = parts[last]
            .parse::<u32>()
            .map_err(|_| problem(format!("dropped count {:?} is not a number", parts[last])))?;
        links.push(Link {
            trace_id,
            span_id,
            trace_state: parts[2].to_string(),
            attributes,
            dropped_attributes_count,
            flags: 0,
        });
    }
    Ok(links)
}

/// A link id: exactly `len` bytes of hex, optionally quoted; empty is no id.
fn link_id(text: &str, len: usize) -> Result<Vec<u8>, String> {
    let unquoted = text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).unwrap_or(text);
    if unquoted.is_empty() {
        return Ok(Vec::new());
    }
    match hex_decode(unquoted) {
        Some(bytes) if bytes.len() == len => Ok(bytes),
        _ => Err(format!("{unquoted:?} is not {} hex digits", len * 2)),
    }
}

/// The parts of an annotation: its event name, attributes and dropped count.
#[derive(Debug, PartialEq)]
pub(super) struct EventParts {
    pub(super) name: String,
    pub(super) attributes: Vec<KeyValue>,
    pub(super) dropped_attributes_count: u32,
}

/// Splits an annotation the OTel Zipkin exporter wrote as `name|{attributes JSON}|dropped`.
/// Any other value, including one with `|` that does not fit that form, is the whole event
/// name. (The Collector names the event after the text before the first `|` and refuses the
/// request when the rest is not that form; a plain annotation such as `GET /a|b` is kept
/// whole here instead.)
pub(super) fn event_from_annotation(value: String) -> EventParts {
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() >= 3 {
        let last = parts.len() - 1;
        let attributes = json_attributes(&parts[1..last].join("|"));
        if let (Some(attributes), Ok(dropped)) = (attributes, parts[last].parse::<u32>()) {
            return EventParts {
                name: parts[0].to_string(),
                attributes,
                dropped_attributes_count: dropped,
            };
        }
    }
    EventParts { name: value, attributes: Vec::new(), dropped_attributes_count: 0 }
}

/// Attributes from a JSON object, sorted by key: strings, booleans, whole numbers as integers
/// and other numbers as doubles; other values are skipped. `null` is no attributes; anything but an
/// object is `None`.
fn json_attributes(text: &str) -> Option<Vec<KeyValue>> {
    let object = match serde_json::from_str::<Value>(text).ok()? {
        Value::Object(object) => object,
        Value::Null => return Some(Vec::new()),
        _ => return None,
    };
    let mut attributes: Vec<KeyValue> = object
        .into_iter()
        .filter_map(|(key, value)| {
            let value = match value {
                Value::String(text) => any_value::Value::StringValue(text),
                Value::Bool(flag) => any_value::Value::BoolValue(flag),
                Value::Number(number) => json_number(&number)?,
                Value::Null | Value::Array(_) | Value::Object(_) => return None,
            };
            Some(KeyValue {
                key,
                value: Some(AnyValue { value: Some(value) }),
                ..Default::default()
            })
        })
        .collect();
    // serde_json's map is sorted unless a dependency turns on `preserve_order`; sort anyway.
    attributes.sort_by(|left, right| left.key.cmp(&right.key));
    Some(attributes)
}

fn json_number(number: &serde_json::Number) -> Option<any_value::Value> {
    if let Some(integer) = number.as_i64() {
        return Some(any_value::Value::IntValue(integer));
    }
    let float = number.as_f64()?;
    // Casting saturates; a whole number beyond i64 stays a double.
    let whole = float.fract() == 0.0 && float.abs() < 9.2e18;
    Some(if whole {
        any_value::Value::IntValue(float as i64)
    } else {
        any_value::Value::DoubleValue(float)
    })
}

#[cfg(test)]
#[path = "tag_rules_tests.rs"]
mod tests;
