//! A deterministic "microservice shop": OTLP traces of an online shop whose content is known
//! exactly, for comparing search results with the reference evaluator (`reference.rs`).
//!
//! ```text
//!  frontend ─► catalog ─► db-proxy (postgresql, redis)
//!     │  └───► cart ────► db-proxy
//!     └──────► checkout ─► cart, payment, shipping
//!                  └─► "orders" queue ··· email (a consumer trace, linked to the producer span)
//! ```
//!
//! One seed always gives byte-identical data. Besides ordinary requests and the consumer
//! traces their orders cause, every dataset holds special traces: three with ≥ 2,000 spans
//! (one with a 300-deep call chain), three whose root span is never sent, and one where two
//! different spans share a span id. Some trace ids start with zero bytes (their hex loses
//! leading zeros). Timestamps start at [`BASE_UNIX_SECONDS`] and spread over four minutes.
//!
//! Attribute values use every OTLP type: string, int, double (some integral, to catch
//! int/float confusion), bool, arrays of each, bytes and key-value lists (the last two are
//! stored but not searchable, so no query uses them). Some names exist at both span and
//! resource level (`tier`, `shard`) to exercise the unscoped lookup rules.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

mod flows;

/// Unix time (seconds) of the earliest trace.
pub const BASE_UNIX_SECONDS: u64 = 1_700_000_000;
/// Traces start within this many seconds after [`BASE_UNIX_SECONDS`].
pub const SPREAD_SECONDS: u64 = 240;
const NANOS_PER_SECOND: u64 = 1_000_000_000;
const BASE_NANOS: u64 = BASE_UNIX_SECONDS * NANOS_PER_SECOND;

/// A generated dataset: the resource spans plus what each trace is.
#[derive(Debug, Clone)]
pub struct Shop {
    /// One entry per (trace, service); a trace's spans are spread over several entries.
    pub resource_spans: Vec<ResourceSpans>,
    /// One entry per trace, in generation order.
    pub traces: Vec<ShopTrace>,
}

/// What one generated trace is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopTrace {
    pub trace_id: [u8; 16],
    pub shape: TraceShape,
    /// Spans actually sent (a dropped root is not counted).
    pub span_count: usize,
}

/// The kinds of trace the shop generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraceShape {
    /// A browser request entering at the frontend.
    Request,
    /// The email service consuming one or two orders from the queue.
    Consumer,
    /// ≥ 2,000 spans.
    Large,
    /// A home page or checkout request whose frontend root span was never sent.
    MissingRoot,
    /// A product page where two different spans share one span id.
    DuplicateSpanId,
}

impl Shop {
    /// Trace ids of one shape, in generation order.
    pub fn traces_of(&self, shape: TraceShape) -> Vec<[u8; 16]> {
        self.traces.iter().filter(|t| t.shape == shape).map(|t| t.trace_id).collect()
    }

    /// Every span with the resource spans it came in.
    pub fn spans(&self) -> impl Iterator<Item = (&ResourceSpans, &ScopeSpans, &Span)> {
        self.resource_spans.iter().flat_map(|rs| {
            rs.scope_spans.iter().flat_map(move |ss| ss.spans.iter().map(move |s| (rs, ss, s)))
        })
    }

    /// The number of spans in the dataset.
    pub fn span_count(&self) -> usize {
        self.traces.iter().map(|t| t.span_count).sum()
    }
}

/// Generates the shop: `requests` frontend requests, the consumer traces their orders cause,
/// and the special traces (large, missing root, duplicated span id).
pub fn shop(seed: u64, requests: usize) -> Shop {
    let mut rng = Rng::new(seed);
    let mut generated: Vec<(TraceShape, TraceBuilder)> = Vec::new();
    let mut orders: Vec<flows::Order> = Vec::new();
    let slot = SPREAD_SECONDS * NANOS_PER_SECOND / (requests as u64 + 8);
    for number in 0..requests {
        let start = BASE_NANOS + slot * number as u64 + rng.below(slot / 2);
        let trace_id = new_trace_id(&mut rng, number);
        let mut trace = TraceBuilder::new(&mut rng, trace_id);
        if let Some(order) = flows::request(&mut trace, &mut rng, start, number) {
            orders.push(order);
        }
        generated.push((TraceShape::Request, trace));
        // Orders are consumed in batches of one or two, shortly after they were produced.
        if orders.len() == 2 || (orders.len() == 1 && rng.chance(50)) {
            let trace_id = new_trace_id(&mut rng, number + 1_000_000);
            let mut trace = TraceBuilder::new(&mut rng, trace_id);
            flows::consumer(&mut trace, &mut rng, &orders);
            orders.clear();
            generated.push((TraceShape::Consumer, trace));
        }
    }
    let special_start = BASE_NANOS + slot * requests as u64;
    for (index, shape) in [
        TraceShape::Large,
        TraceShape::Large,
        TraceShape::Large,
        TraceShape::MissingRoot,
        TraceShape::MissingRoot,
        TraceShape::MissingRoot,
        TraceShape::DuplicateSpanId,
    ]
    .into_iter()
    .enumerate()
    {
        let start = special_start + index as u64 * slot / 8;
        let trace_id = new_trace_id(&mut rng, 2_000_000 + index);
        let mut trace = TraceBuilder::new(&mut rng, trace_id);
        match (shape, index) {
            (TraceShape::Large, 0) => flows::large_reindex(&mut trace, &mut rng, start),
            (TraceShape::Large, 1) => flows::large_deep_category(&mut trace, &mut rng, start),
            (TraceShape::Large, _) => flows::large_newsletter(&mut trace, &mut rng, start),
            (TraceShape::MissingRoot, 3) => {
                // Its root had several children: the orphans are tops with a common
                // (absent) parent.
                flows::home_request(&mut trace, &mut rng, start);
                trace.drop_root();
            }
            (TraceShape::MissingRoot, _) => {
                let _order = flows::checkout_request(&mut trace, &mut rng, start);
                trace.drop_root();
            }
            _ => {
                flows::product_request(&mut trace, &mut rng, start, true);
                trace.duplicate_a_leaf_span_id(&mut rng);
            }
        }
        generated.push((shape, trace));
    }

    let mut shop = Shop { resource_spans: Vec::new(), traces: Vec::new() };
    for (shape, trace) in generated {
        shop.traces.push(ShopTrace {
            trace_id: trace.trace_id,
            shape,
            span_count: trace.spans.len(),
        });
        shop.resource_spans.extend(trace.into_resource_spans());
    }
    shop
}

/// Cuts resource spans into export requests of at most `max_bytes` (encoded), keeping the
/// input order; a resource spans too big on its own is split between its spans.
pub fn export_requests(
    resource_spans: &[ResourceSpans],
    max_bytes: usize,
) -> Vec<ExportTraceServiceRequest> {
    let mut requests = Vec::new();
    let mut current = ExportTraceServiceRequest::default();
    for piece in resource_spans.iter().flat_map(|rs| split_to_fit(rs.clone(), max_bytes)) {
        current.resource_spans.push(piece);
        if current.encoded_len() > max_bytes && current.resource_spans.len() > 1 {
            let piece = current.resource_spans.pop().expect("just pushed");
            requests.push(std::mem::take(&mut current));
            current.resource_spans.push(piece);
        }
    }
    if !current.resource_spans.is_empty() {
        requests.push(current);
    }
    requests
}

/// Halves a resource spans (by spans) until every piece encodes within `max_bytes` (margin
/// kept for the request framing).
fn split_to_fit(resource_spans: ResourceSpans, max_bytes: usize) -> Vec<ResourceSpans> {
    let spans: usize = resource_spans.scope_spans.iter().map(|ss| ss.spans.len()).sum();
    if resource_spans.encoded_len() + 16 <= max_bytes || spans <= 1 {
        return vec![resource_spans];
    }
    let mut first = ResourceSpans { scope_spans: Vec::new(), ..resource_spans.clone() };
    let mut second = first.clone();
    let mut seen = 0;
    for scope_spans in resource_spans.scope_spans {
        let (mut low, mut high) = (scope_spans.clone(), scope_spans.clone());
        low.spans.clear();
        high.spans.clear();
        for span in scope_spans.spans {
            if seen < spans / 2 {
                low.spans.push(span)
            } else {
                high.spans.push(span)
            }
            seen += 1;
        }
        if !low.spans.is_empty() {
            first.scope_spans.push(low);
        }
        if !high.spans.is_empty() {
            second.scope_spans.push(high);
        }
    }
    let mut pieces = split_to_fit(first, max_bytes);
    pieces.extend(split_to_fit(second, max_bytes));
    pieces
}

/// Lower-case hex, full length (span ids).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A trace id; every 40th starts with a zero byte, every 40th (offset) with a zero nibble,
/// and the 13th is a 64-bit id padded with eight zero bytes.
fn new_trace_id(rng: &mut Rng, number: usize) -> [u8; 16] {
    let mut id = [0u8; 16];
    for chunk in id.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_be_bytes());
    }
    match number % 40 {
        7 => id[0] = 0,
        23 => id[0] &= 0x0f,
        _ => {}
    }
    if number == 13 {
        id[..8].fill(0);
    }
    if id[0] == 0 && id[1] == 0 && id[8..].iter().all(|byte| *byte == 0) {
        id[15] = 1;
    }
    id
}

/// A small deterministic generator (xorshift64*), so no randomness crate is needed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x2545_F491_4F6C_DD1D).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The shop's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    Frontend,
    Cart,
    Checkout,
    Payment,
    Catalog,
    Shipping,
    Email,
    DbProxy,
}

impl Service {
    pub const ALL: [Service; 8] = [
        Service::Frontend,
        Service::Cart,
        Service::Checkout,
        Service::Payment,
        Service::Catalog,
        Service::Shipping,
        Service::Email,
        Service::DbProxy,
    ];

    /// The `service.name`.
    pub fn name(self) -> &'static str {
        match self {
            Service::Frontend => "frontend",
            Service::Cart => "cart",
            Service::Checkout => "checkout",
            Service::Payment => "payment",
            Service::Catalog => "catalog",
            Service::Shipping => "shipping",
            Service::Email => "email",
            Service::DbProxy => "db-proxy",
        }
    }

    fn language(self) -> &'static str {
        match self {
            Service::Frontend | Service::Email => "nodejs",
            Service::Cart | Service::Catalog | Service::DbProxy => "go",
            Service::Checkout | Service::Shipping => "java",
            Service::Payment => "rust",
        }
    }

    fn tier(self) -> &'static str {
        match self {
            Service::Frontend => "web",
            Service::DbProxy => "data",
            _ => "core",
        }
    }
}

/// Instrumentation libraries; each service reports its spans under one scope per library.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Library {
    Http,
    Sql,
    Redis,
    Messaging,
    App,
}

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
    fn drop_root(&mut self) {
        self.spans.remove(0);
    }

    /// Adds a second, different span with the id of an existing leaf (a db-proxy server
    /// span), as its sibling.
    fn duplicate_a_leaf_span_id(&mut self, rng: &mut Rng) {
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
    fn into_resource_spans(self) -> Vec<ResourceSpans> {
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
