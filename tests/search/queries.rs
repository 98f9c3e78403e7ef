//! The query catalogue: searches over the shop covering every construct of §5 — each
//! intrinsic and scope, every attribute type, unscoped lookups and their quirks, nil,
//! arrays, arithmetic, regexes, events and links, every structural operator in its plain,
//! negated and union form, spanset `&&`/`||`, `by`, aggregates, `coalesce`, `select`,
//! parenthesised pipeline chains, and queries matching nothing or everything.
//!
//! Each query says what it should match on the shop (`Expect`), so the dataset is known to
//! exercise it: a catalogue entry that matches nothing by accident is a useless check.

use crate::harness::shop::{Shop, TraceShape, hex};

/// What a query matches on the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Some traces, not all.
    Some,
    /// No trace.
    Nothing,
    /// Every trace.
    EveryTrace,
}

/// One catalogued query.
#[derive(Debug, Clone)]
pub struct CatalogueQuery {
    pub category: &'static str,
    pub text: String,
    pub expect: Expect,
}

/// Ids picked from the generated data, so id queries hit something.
struct Picks {
    /// A trace id starting with a zero byte, written with its leading zeros.
    zero_led_trace: String,
    /// The first orphan of a trace whose root was never sent.
    orphan_span: String,
    /// The root span of the first request.
    request_root: String,
    /// The first link of a consumer span with two links, and the other link's trace.
    first_link_trace: String,
    first_link_span: String,
    second_link_trace: String,
}

fn picks(shop: &Shop) -> Picks {
    let zero_led = shop
        .traces
        .iter()
        .find(|t| t.trace_id[0] == 0 && t.trace_id[1] != 0)
        .expect("every 40th trace id starts with a zero byte");
    let missing_root = shop.traces_of(TraceShape::MissingRoot)[0];
    let orphan = shop
        .spans()
        .find(|(_, _, span)| span.trace_id == missing_root)
        .expect("a trace without root still has spans")
        .2;
    let root = shop
        .spans()
        .find(|(_, _, span)| span.parent_span_id.is_empty())
        .expect("requests have roots")
        .2;
    let consumer = shop
        .spans()
        .map(|(_, _, span)| span)
        .find(|span| span.links.len() == 2)
        .or_else(|| shop.spans().map(|(_, _, span)| span).find(|span| !span.links.is_empty()))
        .expect("the email service consumes orders");
    let second = consumer.links.last().expect("at least one link");
    Picks {
        zero_led_trace: hex(&zero_led.trace_id),
        orphan_span: hex(&orphan.span_id),
        request_root: hex(&root.span_id),
        first_link_trace: hex(&consumer.links[0].trace_id),
        first_link_span: hex(&consumer.links[0].span_id),
        second_link_trace: hex(&second.trace_id),
    }
}

/// Every catalogued query, in category order.
pub fn catalogue(shop: &Shop) -> Vec<CatalogueQuery> {
    use Expect::*;
    let p = picks(shop);
    let mut all = Vec::new();
    let mut add = |category: &'static str, expect: Expect, text: &str| {
        all.push(CatalogueQuery { category, text: text.to_string(), expect });
    };

    let c = "span intrinsics";
    add(c, Some, r#"{ name = "GET /product/{id}" }"#);
    add(c, Some, r#"{ span:name =~ "postgresql .*" }"#);
    add(c, EveryTrace, r#"{ name !~ ".*/.*" }"#);
    add(c, Some, "{ status = error }");
    add(c, Some, "{ span:status = ok }");
    add(c, Some, "{ status != unset }");
    add(c, Some, r#"{ statusMessage = "card declined" }"#);
    add(c, Some, r#"{ span:statusMessage =~ "upstream timeout.retry budget.*" }"#);
    add(c, Some, "{ kind = server }");
    add(c, Some, "{ span:kind = client }");
    add(c, Some, "{ kind = producer }");
    add(c, Some, "{ kind = consumer }");
    add(c, Some, "{ kind = internal }");
    add(c, Some, "{ kind = unspecified }");
    add(c, Some, "{ duration > 1s }");
    add(c, Some, "{ span:duration <= 200us }");
    add(c, Some, r#"{ duration >= 2s && name =~ ".*SELECT.*" }"#);
    add(c, Some, &format!(r#"{{ span:id = "{}" }}"#, p.orphan_span));
    add(c, Some, &format!(r#"{{ span:parentID = "{}" }}"#, p.request_root));
    add(c, Some, "{ span:childCount = 0 && kind = server }");
    add(c, Some, "{ span:childCount > 100 }");
    add(c, Some, "{ nestedSetRight - nestedSetLeft = 1 && kind = client }");
    add(c, EveryTrace, "{ nestedSetParent = -1 }");

    let c = "trace intrinsics";
    add(c, Some, "{ traceDuration > 5s }");
    add(c, Some, "{ trace:duration < 5ms }");
    add(c, Some, r#"{ rootName = "POST /checkout" }"#);
    add(c, Some, r#"{ trace:rootName = "orders process" && kind = client }"#);
    add(c, Some, r#"{ rootServiceName = "email" }"#);
    add(c, Some, r#"{ trace:rootService = "catalog" && span:childCount > 0 }"#);
    add(c, Some, r#"{ rootServiceName != "frontend" }"#);
    add(c, Some, &format!(r#"{{ trace:id = "{}" }}"#, p.zero_led_trace));
    add(
        c,
        Some,
        &format!(
            r#"{{ trace:id = "{}" && kind = server }}"#,
            p.zero_led_trace.trim_start_matches('0')
        ),
    );
    add(
        c,
        Some,
        &format!(r#"{{ trace:id != "{}" && name = "send newsletter" }}"#, p.zero_led_trace),
    );

    let c = "typed span attributes";
    add(c, Some, "{ span.http.status_code = 500 }");
    add(c, Some, "{ span.http.status_code >= 400 && span.http.status_code < 500 }");
    add(c, Some, r#"{ span.http.method = "POST" }"#);
    add(c, Some, r#"{ span.http.url =~ "https://shop\\.example\\.com/product/.*" }"#);
    add(c, Some, r#"{ span.http.url !~ "http://.*" }"#);
    add(c, Some, r#"{ span.db.system = "redis" }"#);
    add(c, Some, r#"{ span.db.system = "postgresql" && span.db.statement =~ "SELECT .*" }"#);
    add(c, Some, "{ span.cache.hit = true }");
    add(c, Some, "{ span.cache.hit != true }");
    add(c, Some, "{ span.session.new }");
    add(c, Some, "{ !span.session.new }");
    add(c, Some, "{ span.product.price > 100.0 }");
    add(c, Nothing, "{ span.product.price > 100 }");
    add(c, Some, "{ span.payment.amount = 20.0 || span.payment.amount = 30.0 }");
    add(c, Nothing, "{ span.payment.amount = 20 || span.payment.amount = 30 }");
    add(c, Some, "{ span.payment.amount + 0 = 20 || span.payment.amount + 0 = 30 }");
    add(c, Nothing, "{ span.cart.items > 2.5 }");
    add(c, Some, "{ span.cart.items >= 3 }");
    add(c, Some, "{ span.cart.total < 20.0 }");
    add(c, Some, "{ span.shipping.express = false }");
    add(c, Some, r#"{ span."gift wrap" = true }"#);
    add(c, Some, r#"{ span.http.response.header.x-cache = "HIT" }"#);
    add(c, Some, r#"{ span.name = "lamp" }"#);
    add(c, Some, r#"{ span.product.title =~ "Lampe à café ☕ n°1.*" }"#);
    add(c, Some, "{ span.tax.rate = 0.0 }");
    add(c, Some, "{ span.messaging.message.payload_size_bytes > 1000 }");
    add(c, Nothing, r#"{ span.http.status_code = "200" }"#);

    let c = "resource attributes";
    add(c, Some, r#"{ resource.deployment.environment = "staging" }"#);
    add(c, Some, r#"{ resource.k8s.namespace.name = "shop-db" }"#);
    add(c, Some, r#"{ resource.host.name =~ "node-[12]" }"#);
    add(c, Some, r#"{ resource.service.version = "1.4.0" }"#);
    add(c, Some, r#"{ resource.telemetry.sdk.language != "go" }"#);
    add(c, Some, "{ resource.shard = 2 }");

    let c = "unscoped attributes";
    add(c, Some, "{ .http.status_code = 200 }");
    add(c, Some, r#"{ .http.route = "/checkout" }"#);
    add(c, Some, r#"{ .service.name = "cart" }"#);
    add(c, Some, r#"{ .name = "kettle" }"#);
    add(c, EveryTrace, r#"{ .tier = "web" || .tier = "core" || .tier = "data" }"#);
    add(c, Some, r#"{ .tier = "web" && .tier = "edge" }"#);
    add(c, Some, r#"{ .tier = "edge" }"#);
    add(c, Some, r#"{ span.tier = "edge" }"#);
    add(c, Nothing, r#"{ resource.tier = "web" && span.tier != "edge" }"#);
    add(c, Some, r#"{ .tier =~ "w.*" && kind = server }"#);
    add(c, Some, r#"{ .tier != "web" && rootServiceName = "frontend" }"#);
    add(c, Some, "{ .shard = 2 }");
    add(c, Some, "{ .shard = 2.0 }");
    add(c, Nothing, "{ span.shard = 2 }");
    add(c, Some, "{ .shard * 1 = 2 }");
    add(c, Some, "{ .shard != 3 && kind = server }");

    let c = "arrays";
    add(c, Some, r#"{ span.feature.flags = "dark-mode" }"#);
    add(c, Some, r#"{ span.feature.flags != "dark-mode" }"#);
    add(c, Some, r#"{ span.feature.flags =~ "new-.*" }"#);
    add(c, Some, r#"{ span.feature.flags !~ "new-.*" }"#);
    add(c, Some, "{ span.stock.levels > 45 }");
    add(c, Some, "{ span.stock.levels = 7 }");
    add(c, Some, "{ span.shipping.quotes > 30.0 }");
    add(c, Nothing, "{ span.shipping.quotes > 30 }");
    add(c, Some, "{ span.checks.passed = false }");
    add(c, Some, "{ span.checks.passed != false }");

    let c = "nil and negation";
    add(c, Some, "{ span.http.url = nil && kind = server }");
    add(c, Some, "{ span.http.url != nil && kind = client }");
    add(c, EveryTrace, "{ .tier != nil }");
    add(c, Some, "{ span.db.system = nil && kind = client }");
    add(c, Some, "{ event.exception.type != nil }");
    add(c, Some, "{ link.link.reason != nil }");
    add(c, Nothing, "{ .no.such.attribute != nil }");
    add(c, Some, r#"{ span.http.method != "GET" }"#);
    add(c, Some, r#"{ !(span.http.method = "GET") && kind = internal }"#);
    add(c, Some, "{ !(status = error) && kind = server && span.http.status_code >= 400 }");

    let c = "arithmetic";
    add(c, Some, "{ span.http.status_code / 100 = 5 }");
    add(c, Some, "{ span.http.status_code % 100 = 2 }");
    add(c, Some, "{ span.cart.items * span.cart.total > 100 }");
    add(c, Some, "{ span.db.rows ^ 3 = 8 }");
    add(c, Some, "{ duration - 1ms > 1s }");
    add(c, Some, "{ -span.cart.items < -4 }");
    add(c, Some, "{ span.product.id % 97 = 0 }");
    add(c, Some, "{ (span.payment.amount * 100) % 100 = 0 }");
    add(c, Some, "{ duration * 2 > traceDuration && kind = client }");

    let c = "regex";
    add(c, EveryTrace, r#"{ name =~ "(GET|POST) /.*" }"#);
    add(c, Some, r#"{ span.db.statement =~ "(?i)select.*" }"#);
    add(c, EveryTrace, r#"{ resource.service.name !~ "(cart|checkout|payment)" }"#);
    add(c, Some, r#"{ name =~ "GET" }"#);

    let c = "events";
    add(c, Some, r#"{ event:name = "exception" }"#);
    add(c, Some, r#"{ event:name = "retry" && event.retry.attempt = 2 }"#);
    add(c, Nothing, r#"{ event:name = "exception" && event.retry.attempt = 1 }"#);
    add(c, Some, r#"{ event.exception.type = "TimeoutError" }"#);
    add(c, Some, "{ event:timeSinceStart > 150ms }");
    add(c, Some, "{ event.retry.backoff_ms >= 25.0 }");
    add(c, Some, "{ event.exception.escaped = false && status = error }");
    add(c, Some, r#"{ !(event:name = "retry") && kind = client }"#);

    let c = "links";
    add(c, Some, &format!(r#"{{ link:traceID = "{}" }}"#, p.first_link_trace));
    add(c, Some, &format!(r#"{{ link:spanID = "{}" }}"#, p.first_link_span));
    add(c, Some, "{ link.messaging.batch.index = 1 }");
    add(
        c,
        Nothing,
        &format!(
            r#"{{ link.messaging.batch.index = 1 && link:traceID = "{}" }}"#,
            p.first_link_trace
        ),
    );
    add(
        c,
        Some,
        &format!(
            r#"{{ link.messaging.batch.index = 1 && link:traceID = "{}" }}"#,
            p.second_link_trace
        ),
    );
    add(c, Some, r#"{ kind = consumer && link.link.reason = "queue" }"#);

    let c = "instrumentation";
    add(c, Some, r#"{ instrumentation:name = "io.opentelemetry.jdbc" }"#);
    add(c, Some, r#"{ instrumentation:version = "0.9.1" }"#);
    add(c, Some, r#"{ instrumentation.scope.owner = "team-checkout" }"#);
    add(c, Some, r#"{ instrumentation:name = "shop.app" && resource.service.name = "catalog" }"#);

    let c = "structural";
    add(c, Some, "{ kind = server } > { kind = client }");
    add(c, Some, "{ kind = server } < { kind = client }");
    add(c, Some, r#"{ resource.service.name = "frontend" } >> { span.db.system = "postgresql" }"#);
    add(c, Some, r#"{ span.db.system = "redis" } << { resource.service.name = "checkout" }"#);
    add(c, Some, r#"{ name = "compute tax" } ~ { kind = client }"#);
    add(c, Some, "{ } ~ { }");
    add(c, Some, "{ kind = server } > { kind = client } > { span.db.system != nil }");
    add(
        c,
        Some,
        r#"{ name = "resolve category" } >> { name = "load facet" && span.facet.index = 5 }"#,
    );
    add(c, Some, r#"{ rootName = "GET /" } >> { status = error }"#);
    add(c, Some, r#"{ name = "render page" } ~ { kind = client }"#);
    add(c, Some, r#"{ } !> { resource.service.name = "db-proxy" }"#);
    add(c, EveryTrace, "{ } !> { }");
    add(c, EveryTrace, "{ } !< { }");
    add(c, Some, "{ status = error } !>> { status = error }");
    add(c, Some, "{ status = error } !<< { status = error }");
    add(c, Some, "{ kind = client } !~ { kind = client }");
    add(c, Some, r#"{ resource.service.name = "checkout" } &> { kind = client }"#);
    add(c, Some, r#"{ name = "GET" } &< { kind = client }"#);
    add(c, Some, "{ status = error } &>> { status = error }");
    add(
        c,
        Some,
        r#"{ resource.service.name = "payment" } &<< { resource.service.name = "frontend" }"#,
    );
    add(c, Some, r#"{ name = "load facet" && span.facet.index = 0 } &~ { name = "load facet" }"#);

    let c = "spanset logic";
    add(c, Some, "{ span.cache.hit = true } && { kind = producer }");
    add(c, Some, "{ status = error } || { kind = consumer }");
    add(c, Nothing, r#"{ name = "orders publish" } && { name = "no such span" }"#);
    add(c, Some, "({ kind = server } || { kind = client }) && { span.http.status_code = 402 }");
    add(
        c,
        Some,
        "{ span.http.status_code = 500 } && { span.http.status_code = 500 && kind = client }",
    );
    add(c, Some, r#"{ kind = server } >> { status = error } || { name = "orders publish" }"#);

    let c = "aggregates and by";
    add(c, Some, "{ } | count() > 100");
    add(c, Some, "{ kind = server } | count() = 3");
    add(c, Some, "{ } | avg(duration) > 20ms");
    add(c, Some, r#"{ span.db.system = "postgresql" } | max(duration) > 1s"#);
    add(c, Some, "{ span.http.status_code != nil } | min(span.http.status_code) >= 400");
    add(c, Some, "{ } | sum(span.cart.items) >= 5");
    add(c, Some, "{ kind = client } | sum(duration) > 100ms");
    add(c, Some, "{ } | min(span.product.price) < 50.0");
    add(c, Some, "{ } | avg(span.payment.amount) > 50");
    add(c, Nothing, "{ } | count() > 1s");
    add(c, Some, "{ } | by(resource.service.name) | count() > 3");
    add(c, Some, "{ status = error } | by(resource.service.name)");
    add(c, EveryTrace, "{ } | by(span.http.status_code) | count() > 1");
    add(c, Some, "{ } | by(kind) | avg(duration) < 1ms");
    add(c, EveryTrace, "{ } | by(.tier)");
    add(c, Some, "{ } | by(resource.service.name) | by(kind) | count() > 500");
    add(c, Some, "by(resource.service.name) | count() = 1");

    let c = "coalesce and select";
    add(c, EveryTrace, "{ } | by(resource.service.name) | coalesce()");
    add(c, Some, "{ status = error } | by(name) | count() >= 2 | coalesce()");
    add(c, Some, "{ span.db.system != nil } | select(span.db.statement, resource.host.name)");
    add(c, Some, "{ kind = server } | select(status, span.http.route) | count() > 3");

    let c = "pipeline chains";
    add(c, Some, "({ kind = server } | count() > 5) >> ({ status = error })");
    add(c, Some, "({ } | by(resource.service.name) | coalesce()) && ({ kind = producer })");
    add(c, Some, "({ status = error } | count() >= 2) || ({ kind = consumer })");
    add(
        c,
        Some,
        r#"({ name = "resolve category" } | select(span.category.depth)) > ({ name = "load facet" })"#,
    );

    let c = "everything or nothing";
    add(c, EveryTrace, "{ }");
    add(c, EveryTrace, "{ true }");
    add(c, EveryTrace, "{ duration >= 0 }");
    add(c, EveryTrace, "{ resource.service.name != nil }");
    add(c, Nothing, "{ false }");
    add(c, Nothing, r#"{ name = "no such span" }"#);
    add(c, Nothing, "{ traceDuration < 0 }");
    all
}
