//! Building one trace: spans with their service and instrumentation library, grouped into
//! one resource spans per service and one scope spans per library on output.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::{Library, Rng, Service};

fn scope(service: Service, library: Library) -> InstrumentationScope {
    let (name, version, attributes) = match library {
        Library::Http => ("io.opentelemetry.http", "1.19.0", Vec::new()),
        Library::Sql => ("io.opentelemetry.jdbc", "1.32.0", Vec::new()),
        Library::Redis => ("io.opentelemetry.redis", "0.9.1", Vec::new()),
        Library::Messaging => ("io.opentelemetry.kafka", "1.32.0", Vec::new()),
        Library::App => {
            let owner = format!("team-{}", service.name());
            ("shop.app", "2.4.0", vec![kv("scope.owner", str_value(&owner))])
        }
    };
    InstrumentationScope {
        name: name.to_string(),
        version: version.to_string(),
        attributes,
        dropped_attributes_count: 0,
    }
}

/// A span under construction.
#[derive(Debug, Clone)]
pub struct BuiltSpan {
    pub service: Service,
    pub library: Library,
    pub span: Span,
}

/// Index of a span in its [`TraceBuilder`].
pub type SpanRef = usize;

/// Builds one trace: spans with their service and library, grouped on output.
#[derive(Debug, Clone)]
pub struct TraceBuilder {
    pub trace_id: [u8; 16],
    pub spans: Vec<BuiltSpan>,
    environment: &'static str,
    /// Span ids, from a generator of the trace's own.
    ids: Rng,
    /// Per service: host number and shard, chosen once per trace.
    placement: [(u64, i64); 8],
}

impl TraceBuilder {
    pub fn new(rng: &mut Rng, trace_id: [u8; 16]) -> TraceBuilder {
        let environment = if rng.chance(10) { "staging" } else { "production" };
        let mut placement = [(0, 0); 8];
        for slot in &mut placement {
            *slot = (rng.between(1, 3), rng.between(1, 4) as i64);
        }
        let ids = Rng::new(rng.next_u64());
        TraceBuilder { trace_id, spans: Vec::new(), environment, ids, placement }
    }

    /// Starts a span at `start`; it ends when [`TraceBuilder::close`] says.
    pub fn open(
        &mut self,
        service: Service,
        library: Library,
        parent: Option<SpanRef>,
        name: &str,
        kind: SpanKind,
        start: u64,
    ) -> SpanRef {
        let span_id = loop {
            let id = self.ids.next_u64();
            if id != 0 {
                break id.to_be_bytes().to_vec();
            }
        };
        let parent_span_id = parent.map(|p| self.spans[p].span.span_id.clone()).unwrap_or_default();
        self.spans.push(BuiltSpan {
            service,
            library,
            span: Span {
                trace_id: self.trace_id.to_vec(),
                span_id,
                parent_span_id,
                name: name.to_string(),
                kind: kind as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start,
                ..Default::default()
            },
        });
        self.spans.len() - 1
    }

    pub fn close(&mut self, span: SpanRef, end: u64) {
        self.spans[span].span.end_time_unix_nano =
            end.max(self.spans[span].span.start_time_unix_nano);
    }

    pub fn start_of(&self, span: SpanRef) -> u64 {
        self.spans[span].span.start_time_unix_nano
    }

    pub fn service_of(&self, span: SpanRef) -> Service {
        self.spans[span].service
    }

    pub fn span_id(&self, span: SpanRef) -> Vec<u8> {
        self.spans[span].span.span_id.clone()
    }

    pub fn set(&mut self, span: SpanRef, key: &str, value: AnyValue) {
        self.spans[span].span.attributes.push(kv(key, value));
    }

    pub fn event(&mut self, span: SpanRef, name: &str, time: u64, attributes: Vec<KeyValue>) {
        self.spans[span].span.events.push(Event {
            time_unix_nano: time,
            name: name.to_string(),
            attributes,
            dropped_attributes_count: 0,
        });
    }

    pub fn link(
        &mut self,
        span: SpanRef,
        trace_id: &[u8],
        span_id: &[u8],
        attributes: Vec<KeyValue>,
    ) {
        self.spans[span].span.links.push(Link {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
            attributes,
            ..Default::default()
        });
    }

    pub fn fail(&mut self, span: SpanRef, message: &str) {
        self.spans[span].span.status =
            Some(Status { message: message.to_string(), code: StatusCode::Error as i32 });
    }

    pub fn succeed(&mut self, span: SpanRef) {
        self.spans[span].span.status =
            Some(Status { message: String::new(), code: StatusCode::Ok as i32 });
    }

    pub fn is_failed(&self, span: SpanRef) -> bool {
        self.spans[span].span.status.as_ref().is_some_and(|s| s.code == StatusCode::Error as i32)
    }

    /// Removes the root span (the first one), leaving its children orphaned.
    pub fn drop_root(&mut self) {
        self.spans.remove(0);
    }

    /// Adds a second, different span with the id of an existing leaf (a db-proxy server
    /// span), as its sibling.
    pub fn duplicate_a_leaf_span_id(&mut self, rng: &mut Rng) {
        let leaf = (0..self.spans.len())
            .rev()
            .find(|&index| {
                self.spans[index].service == Service::DbProxy
                    && !self
                        .spans
                        .iter()
                        .any(|s| s.span.parent_span_id == self.spans[index].span.span_id)
            })
            .expect("a product page always calls the database");
        let mut copy = self.spans[leaf].clone();
        copy.span.name = "GET (replayed)".to_string();
        copy.span.kind = SpanKind::Internal as i32;
        copy.span.start_time_unix_nano += 5_000 + rng.below(1_000);
        copy.span.end_time_unix_nano = copy.span.start_time_unix_nano + 40_000;
        copy.span.attributes.push(kv("replayed", bool_value(true)));
        self.spans.push(copy);
    }

    /// One resource spans per service (in order of first appearance), one scope spans per
    /// library.
    pub fn into_resource_spans(self) -> Vec<ResourceSpans> {
        let mut services: Vec<Service> = Vec::new();
        for built in &self.spans {
            if !services.contains(&built.service) {
                services.push(built.service);
            }
        }
        services
            .into_iter()
            .map(|service| {
                let mut libraries: Vec<Library> = Vec::new();
                for built in self.spans.iter().filter(|b| b.service == service) {
                    if !libraries.contains(&built.library) {
                        libraries.push(built.library);
                    }
                }
                let scope_spans = libraries
                    .into_iter()
                    .map(|library| ScopeSpans {
                        scope: Some(scope(service, library)),
                        spans: self
                            .spans
                            .iter()
                            .filter(|b| b.service == service && b.library == library)
                            .map(|b| b.span.clone())
                            .collect(),
                        schema_url: String::new(),
                    })
                    .collect();
                ResourceSpans {
                    resource: Some(self.resource(service)),
                    scope_spans,
                    schema_url: String::new(),
                }
            })
            .collect()
    }

    fn resource(&self, service: Service) -> Resource {
        let (host, shard) = self.placement[service as usize];
        let namespace = if service == Service::DbProxy { "shop-db" } else { "shop" };
        Resource {
            attributes: vec![
                kv("service.name", str_value(service.name())),
                kv("service.version", str_value(&format!("1.{}.0", service as u8 + 2))),
                kv("deployment.environment", str_value(self.environment)),
                kv("k8s.namespace.name", str_value(namespace)),
                kv("host.name", str_value(&format!("node-{host}"))),
                kv("telemetry.sdk.language", str_value(service.language())),
                kv("tier", str_value(service.tier())),
                kv("shard", int_value(shard)),
            ],
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }
    }
}

pub fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(value), ..Default::default() }
}

pub fn str_value(value: &str) -> AnyValue {
    AnyValue { value: Some(any_value::Value::StringValue(value.to_string())) }
}

pub fn int_value(value: i64) -> AnyValue {
    AnyValue { value: Some(any_value::Value::IntValue(value)) }
}

pub fn float_value(value: f64) -> AnyValue {
    AnyValue { value: Some(any_value::Value::DoubleValue(value)) }
}

pub fn bool_value(value: bool) -> AnyValue {
    AnyValue { value: Some(any_value::Value::BoolValue(value)) }
}

pub fn bytes_value(value: &[u8]) -> AnyValue {
    AnyValue { value: Some(any_value::Value::BytesValue(value.to_vec())) }
}

pub fn array_value(values: Vec<AnyValue>) -> AnyValue {
    AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values })) }
}

pub fn kvlist_value(values: Vec<KeyValue>) -> AnyValue {
    AnyValue { value: Some(any_value::Value::KvlistValue(KeyValueList { values })) }
}
