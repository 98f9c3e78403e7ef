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
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

mod batches;
mod builder;
mod calls;
mod requests;

pub use builder::{
    SpanRef, TraceBuilder, array_value, bool_value, bytes_value, float_value, int_value, kv,
    kvlist_value, str_value,
};

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
    let mut orders: Vec<requests::Order> = Vec::new();
    let slot = SPREAD_SECONDS * NANOS_PER_SECOND / (requests as u64 + 8);
    for number in 0..requests {
        let start = BASE_NANOS + slot * number as u64 + rng.below(slot / 2);
        let trace_id = new_trace_id(&mut rng, number);
        let mut trace = TraceBuilder::new(&mut rng, trace_id);
        if let Some(order) = requests::request(&mut trace, &mut rng, start, number) {
            orders.push(order);
        }
        generated.push((TraceShape::Request, trace));
        // Orders are consumed in batches of one or two, shortly after they were produced.
        if orders.len() == 2 || (orders.len() == 1 && rng.chance(50)) {
            let trace_id = new_trace_id(&mut rng, number + 1_000_000);
            let mut trace = TraceBuilder::new(&mut rng, trace_id);
            batches::consumer(&mut trace, &mut rng, &orders);
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
            (TraceShape::Large, 0) => batches::large_reindex(&mut trace, &mut rng, start),
            (TraceShape::Large, 1) => batches::large_deep_category(&mut trace, &mut rng, start),
            (TraceShape::Large, _) => batches::large_newsletter(&mut trace, &mut rng, start),
            (TraceShape::MissingRoot, 3) => {
                // Its root had several children: the orphans are tops with a common
                // (absent) parent.
                requests::home_request(&mut trace, &mut rng, start);
                trace.drop_root();
            }
            (TraceShape::MissingRoot, _) => {
                let _order = requests::checkout_request(&mut trace, &mut rng, start);
                trace.drop_root();
            }
            _ => {
                requests::product_request(&mut trace, &mut rng, start, true);
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
