//! A generated microservice shop for `spanlake bench search`: OTLP traces shaped like a real
//! application's, deterministic from a seed, plus the facts a search answer is checked with.
//!
//! ```text
//!  frontend ─► product-catalog ─► postgresql        (the calls: shop_calls.rs)
//!     ├──────► currency
//!     ├──────► cart ─► redis
//!     └──────► checkout ─► cart, product-catalog, currency, payment ─► postgresql, shipping
//!                  └─► kafka "orders" ···► email ─► smtp
//! ```
//!
//! Trace `k` depends only on `(seed, k)`, so any trace can be made again on its own: the
//! benchmark finds a rare attribute value (an `order.id` used once) without keeping the
//! dataset. Traces have 10–40 spans, one in a thousand several hundred. About 2% fail below
//! the root; the error climbs a few parents, as exceptions do, and the HTTP answers on its way
//! become 500s.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use crate::bench::shop_calls::request;

/// Unix time (nanoseconds) of the first trace.
pub(super) const BASE_UNIX_NANOS: u64 = 1_700_000_000 * 1_000_000_000;
/// Trace `k` starts `k` times this after [`BASE_UNIX_NANOS`] (10 million spans: about an hour).
pub(super) const TRACE_SPACING_NANOS: u64 = 10_000_000;
/// OTLP `HTTP status` attribute searched by the benchmark.
pub(super) const STATUS_CODE_KEY: &str = "http.status_code";
/// Per-trace attribute whose values are (almost surely) unique.
pub(super) const ORDER_ID_KEY: &str = "order.id";
/// Traces, per thousand, that fail somewhere.
const FAILING_TRACES_PER_MILLE: u64 = 20;
/// Chance, per thousand, that an error climbs one more parent.
const ERROR_CLIMBS_PER_MILLE: u64 = 900;

/// OTLP span kinds.
pub(super) const INTERNAL: i32 = span::SpanKind::Internal as i32;
pub(super) const SERVER: i32 = span::SpanKind::Server as i32;
pub(super) const CLIENT: i32 = span::SpanKind::Client as i32;
pub(super) const PRODUCER: i32 = span::SpanKind::Producer as i32;
pub(super) const CONSUMER: i32 = span::SpanKind::Consumer as i32;

/// The shop's services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Service {
    Frontend,
    Catalog,
    Currency,
    Cart,
    Checkout,
    Payment,
    Shipping,
    Email,
}

impl Service {
    /// `service.name`.
    pub(super) fn name(self) -> &'static str {
        match self {
            Service::Frontend => "frontend",
            Service::Catalog => "product-catalog",
            Service::Currency => "currency",
            Service::Cart => "cart",
            Service::Checkout => "checkout",
            Service::Payment => "payment",
            Service::Shipping => "shipping",
            Service::Email => "email",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// (`telemetry.sdk.language`, `service.version`).
    fn build(self) -> (&'static str, &'static str) {
        match self {
            Service::Frontend => ("nodejs", "2.14.1"),
            Service::Catalog => ("go", "1.8.3"),
            Service::Currency => ("cpp", "1.2.0"),
            Service::Cart => ("dotnet", "3.0.7"),
            Service::Checkout => ("go", "1.11.0"),
            Service::Payment => ("java", "4.2.2"),
            Service::Shipping => ("rust", "0.9.4"),
            Service::Email => ("python", "1.5.1"),
        }
    }
}

/// Pods per service (`k8s.pod.name`); each trace meets one of them per service.
const PODS_PER_SERVICE: u64 = 3;

/// A small, fast, deterministic generator (SplitMix64): no `rand` dependency for a benchmark.
#[derive(Debug, Clone)]
pub(super) struct Rng(u64);

impl Rng {
    /// The generator of trace `number` of dataset `seed`.
    pub(super) fn for_trace(seed: u64, number: u64) -> Rng {
        let mut mixer = Rng(seed ^ number.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Rng(mixer.next_u64())
    }

    /// The next 64 random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub(super) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high.saturating_sub(low) + 1)
    }

    /// True `per_mille` times in a thousand.
    pub(super) fn chance(&mut self, per_mille: u64) -> bool {
        self.next_u64() % 1000 < per_mille
    }

    /// One of `choices` (which must not be empty).
    pub(super) fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
        let position = self.next_u64() as usize % choices.len().max(1);
        choices.get(position).copied().unwrap_or_default()
    }
}

/// A string attribute.
pub(super) fn text(key: &str, value: impl Into<String>) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.into()))
}

/// An integer attribute.
pub(super) fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

/// A boolean attribute.
pub(super) fn flag(key: &str, value: bool) -> KeyValue {
    attribute(key, any_value::Value::BoolValue(value))
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// One span and where it was made.
#[derive(Debug, Clone)]
pub(super) struct ShopSpan {
    pub service: Service,
    /// Position of the parent in [`ShopTrace::spans`].
    pub parent: Option<usize>,
    pub span: Span,
}

/// One generated trace.
#[derive(Debug, Clone)]
pub(super) struct ShopTrace {
    pub spans: Vec<ShopSpan>,
    /// Pod (0..3) of each service in this trace.
    pods: [u8; 8],
    /// The `order.id` of a checkout.
    pub order_id: Option<String>,
}

impl ShopTrace {
    /// Whether `{ span.http.status_code = 500 }` matches.
    pub(super) fn has_status_500(&self) -> bool {
        self.spans.iter().any(|shop_span| {
            shop_span.span.attributes.iter().any(|kv| {
                kv.key == STATUS_CODE_KEY
                    && matches!(
                        kv.value.as_ref().and_then(|value| value.value.as_ref()),
                        Some(any_value::Value::IntValue(500))
                    )
            })
        })
    }

    /// Whether `{ kind = server } >> { status = error }` matches: an error span below a
    /// server span.
    pub(super) fn has_error_below_server(&self) -> bool {
        self.spans.iter().enumerate().any(|(position, shop_span)| {
            is_error(&shop_span.span) && self.ancestors(position).any(|a| a.span.kind == SERVER)
        })
    }

    fn ancestors(&self, position: usize) -> impl Iterator<Item = &ShopSpan> {
        let mut next = self.spans.get(position).and_then(|shop_span| shop_span.parent);
        std::iter::from_fn(move || {
            let current = self.spans.get(next?)?;
            next = current.parent;
            Some(current)
        })
    }
}

fn is_error(span: &Span) -> bool {
    span.status.as_ref().is_some_and(|status| status.code == 2)
}

/// Makes trace `number` of dataset `seed`.
pub(super) fn generate_trace(seed: u64, number: u64) -> ShopTrace {
    let mut rng = Rng::for_trace(seed, number);
    let mut trace_id = [0u8; 16];
    trace_id[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
    trace_id[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
    let mut pods = [0u8; 8];
    for pod in &mut pods {
        *pod = (rng.next_u64() % PODS_PER_SERVICE) as u8;
    }
    let order_id = format!("ord-{:016x}", rng.next_u64());
    let start = BASE_UNIX_NANOS + number * TRACE_SPACING_NANOS + rng.between(0, 5_000_000);
    let mut builder = TraceBuilder { rng, trace_id, spans: Vec::new(), order_id };
    let is_checkout = request(&mut builder, start);
    builder.maybe_fail();
    ShopTrace { spans: builder.spans, pods, order_id: is_checkout.then_some(builder.order_id) }
}

/// What the calls in `shop_calls` use to add spans to a trace.
pub(super) struct TraceBuilder {
    pub rng: Rng,
    trace_id: [u8; 16],
    spans: Vec<ShopSpan>,
    /// The id a checkout in this trace gives its order.
    pub order_id: String,
}

impl TraceBuilder {
    /// Starts a span (its end is set by [`TraceBuilder::end`]); returns its position.
    pub(super) fn start(
        &mut self,
        parent: Option<usize>,
        service: Service,
        kind: i32,
        name: impl Into<String>,
        start: u64,
        attributes: Vec<KeyValue>,
    ) -> usize {
        let parent_span_id = parent
            .and_then(|position| self.spans.get(position))
            .map(|shop_span| shop_span.span.span_id.clone())
            .unwrap_or_default();
        let span = Span {
            trace_id: self.trace_id.to_vec(),
            span_id: (self.rng.next_u64() | 1).to_be_bytes().to_vec(),
            parent_span_id,
            name: name.into(),
            kind,
            start_time_unix_nano: start,
            end_time_unix_nano: start,
            attributes,
            ..Default::default()
        };
        self.spans.push(ShopSpan { service, parent, span });
        self.spans.len() - 1
    }

    /// Ends span `position` at `end`.
    pub(super) fn end(&mut self, position: usize, end: u64) {
        if let Some(shop_span) = self.spans.get_mut(position) {
            shop_span.span.end_time_unix_nano = end;
        }
    }

    /// Adds an attribute to span `position`.
    pub(super) fn add_attribute(&mut self, position: usize, attribute: KeyValue) {
        if let Some(shop_span) = self.spans.get_mut(position) {
            shop_span.span.attributes.push(attribute);
        }
    }

    /// Adds an event to span `position`.
    pub(super) fn add_event(
        &mut self,
        position: usize,
        name: &str,
        time: u64,
        attributes: Vec<KeyValue>,
    ) {
        if let Some(shop_span) = self.spans.get_mut(position) {
            shop_span.span.events.push(span::Event {
                time_unix_nano: time,
                name: name.to_string(),
                attributes,
                ..Default::default()
            });
        }
    }

    /// In a few traces, one span below the root fails and the error climbs a few parents.
    fn maybe_fail(&mut self) {
        if !self.rng.chance(FAILING_TRACES_PER_MILLE) {
            return;
        }
        let candidates: Vec<usize> = (0..self.spans.len())
            .filter(|&position| {
                self.spans.get(position).is_some_and(|shop_span| {
                    shop_span.parent.is_some()
                        && matches!(shop_span.span.kind, INTERNAL | CLIENT | CONSUMER)
                })
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        let origin = candidates[(self.rng.next_u64() % candidates.len() as u64) as usize];
        let (exception, message) = match self.rng.next_u64() % 3 {
            0 => ("TimeoutError", "deadline exceeded after 5s"),
            1 => ("ConnectionResetError", "connection reset by peer"),
            _ => ("IllegalStateException", "inventory record locked by another transaction"),
        };
        if let Some(shop_span) = self.spans.get(origin) {
            let time = shop_span.span.end_time_unix_nano;
            self.add_event(
                origin,
                "exception",
                time,
                vec![text("exception.type", exception), text("exception.message", message)],
            );
        }
        let mut failing = Some(origin);
        while let Some(position) = failing {
            self.fail(position, message);
            failing = self
                .spans
                .get(position)
                .and_then(|shop_span| shop_span.parent)
                .filter(|_| self.rng.chance(ERROR_CLIMBS_PER_MILLE));
        }
    }

    /// Marks one span failed; an HTTP span answered (or saw) a 500.
    fn fail(&mut self, position: usize, message: &str) {
        let Some(shop_span) = self.spans.get_mut(position) else { return };
        shop_span.span.status = Some(Status { code: 2, message: message.to_string() });
        for kv in &mut shop_span.span.attributes {
            if kv.key == STATUS_CODE_KEY {
                kv.value = Some(AnyValue { value: Some(any_value::Value::IntValue(500)) });
            }
        }
    }
}

/// Traces collected into one export request, grouped by (service, pod) as an
/// OpenTelemetry Collector's batch processor would send them.
#[derive(Debug, Default)]
pub(super) struct ShopBatch {
    spans_by_pod: BTreeMap<(Service, u8), Vec<Span>>,
    /// Spans added.
    pub spans: u64,
}

impl ShopBatch {
    /// Adds every span of `trace`.
    pub(super) fn add(&mut self, trace: ShopTrace) {
        self.spans += trace.spans.len() as u64;
        for shop_span in trace.spans {
            let pod = trace.pods[shop_span.service.index()];
            self.spans_by_pod.entry((shop_span.service, pod)).or_default().push(shop_span.span);
        }
    }

    /// The export request of dataset `seed`.
    pub(super) fn into_request(self, seed: u64) -> ExportTraceServiceRequest {
        let resource_spans = self
            .spans_by_pod
            .into_iter()
            .map(|((service, pod), spans)| ResourceSpans {
                resource: Some(resource(seed, service, pod)),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: format!("shop/{}", service.name()),
                        version: service.build().1.to_string(),
                        ..Default::default()
                    }),
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect();
        ExportTraceServiceRequest { resource_spans }
    }
}

/// The resource of one pod of `service`.
fn resource(seed: u64, service: Service, pod: u8) -> Resource {
    let mut rng = Rng::for_trace(seed ^ 0x90d5, (service.index() as u64) << 8 | u64::from(pod));
    let replica_set = rng.next_u64() & 0xff_ffff_ffff;
    let pod_suffix = rng.next_u64() & 0xf_ffff;
    let (language, version) = service.build();
    let name = service.name();
    Resource {
        attributes: vec![
            text("service.name", name),
            text("service.namespace", "shop"),
            text("service.version", version),
            text("service.instance.id", format!("{name}-{pod}")),
            text("deployment.environment", "production"),
            text("k8s.namespace.name", "shop"),
            text("k8s.deployment.name", name),
            text("k8s.pod.name", format!("{name}-{replica_set:010x}-{pod_suffix:05x}")),
            text(
                "k8s.node.name",
                format!("ip-10-0-{}-{}.ec2.internal", pod + 1, 10 + pod_suffix % 200),
            ),
            text("telemetry.sdk.name", "opentelemetry"),
            text("telemetry.sdk.language", language),
            text("telemetry.sdk.version", "1.32.0"),
        ],
        ..Default::default()
    }
}

/// The `order.id` of a checkout made only once: the first checkout at or after the middle
/// of a dataset of `traces` traces (with its trace number), if any.
pub(super) fn rare_order_id(seed: u64, traces: u64) -> Option<(u64, String)> {
    (traces / 2..traces)
        .chain(0..traces / 2)
        .find_map(|number| generate_trace(seed, number).order_id.map(|id| (number, id)))
}

#[cfg(test)]
#[path = "shop_tests.rs"]
mod tests;
