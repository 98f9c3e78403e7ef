//! Traces that do not start at the frontend: the email service consuming orders, and the
//! three large traces (≥ 2,000 spans).

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::calls::{DbOp, MICROS, MILLIS, close_root, db_call, fail_with_exception, frontend_root};
use super::requests::Order;
use super::{Library, Rng, Service, TraceBuilder, int_value, kv, str_value};

/// The email service takes a batch of orders off the queue (linking each producer span)
/// and sends a confirmation, sometimes after retries that run out.
pub fn consumer(t: &mut TraceBuilder, rng: &mut Rng, orders: &[Order]) {
    let latest = orders.iter().map(|o| o.published_at).max().unwrap_or_default();
    let start = latest + rng.between(5, 200) * MILLIS;
    let root = t.open(
        Service::Email,
        Library::Messaging,
        None,
        "orders process",
        SpanKind::Consumer,
        start,
    );
    t.set(root, "messaging.system", str_value("kafka"));
    t.set(root, "messaging.destination.name", str_value("orders"));
    t.set(root, "messaging.batch.message_count", int_value(orders.len() as i64));
    for (index, order) in orders.iter().enumerate() {
        t.link(
            root,
            &order.trace_id,
            &order.span_id,
            vec![
                kv("messaging.batch.index", int_value(index as i64)),
                kv("link.reason", str_value("queue")),
            ],
        );
    }
    let render = t.open(
        Service::Email,
        Library::App,
        Some(root),
        "render confirmation",
        SpanKind::Unspecified,
        start + 200 * MICROS,
    );
    t.set(render, "template", str_value("order-confirmation"));
    let render_end = t.start_of(render) + rng.between(300, 3_000) * MICROS;
    t.close(render, render_end);
    let send = t.open(
        Service::Email,
        Library::Http,
        Some(root),
        "POST /v3/mail/send",
        SpanKind::Client,
        render_end + 50 * MICROS,
    );
    t.set(send, "http.method", str_value("POST"));
    t.set(send, "http.url", str_value("https://mail.example.com/v3/mail/send"));
    let mut end = t.start_of(send) + rng.between(20, 300) * MILLIS;
    if rng.chance(20) {
        for attempt in 1..=2u64 {
            let at = t.start_of(send) + attempt * 100 * MILLIS;
            t.event(send, "retry", at, vec![kv("retry.attempt", int_value(attempt as i64))]);
        }
        end += 300 * MILLIS;
        fail_with_exception(
            t,
            send,
            end,
            "upstream timeout\nretry budget exhausted",
            "TimeoutError",
        );
        t.set(send, "http.status_code", int_value(503));
        t.fail(root, "confirmation not sent");
    } else {
        t.set(send, "http.status_code", int_value(202));
    }
    t.close(send, end);
    t.close(root, end + 100 * MICROS);
}

/// 2,201 spans: an admin request reindexing 600 products, each with a database update and
/// every third with a cache eviction.
pub fn large_reindex(t: &mut TraceBuilder, rng: &mut Rng, start: u64) {
    let root = t.open(
        Service::Catalog,
        Library::Http,
        None,
        "POST /admin/reindex",
        SpanKind::Server,
        start,
    );
    t.set(root, "http.method", str_value("POST"));
    t.set(root, "http.route", str_value("/admin/reindex"));
    let mut cursor = start + 100 * MICROS;
    for product in 0..600 {
        let item = t.open(
            Service::Catalog,
            Library::App,
            Some(root),
            "reindex product",
            SpanKind::Internal,
            cursor,
        );
        t.set(item, "product.id", int_value(product));
        let mut db = db_call(t, rng, item, DbOp::Update("products"), cursor + 10 * MICROS);
        if product % 3 == 0 {
            db = db_call(t, rng, item, DbOp::RedisDel, db.end + 10 * MICROS);
        }
        t.close(item, db.end + 10 * MICROS);
        cursor = db.end + 20 * MICROS;
    }
    t.set(root, "http.status_code", int_value(200));
    t.close(root, cursor + 100 * MICROS);
}

/// 2,101 spans: a category page whose category tree is resolved 300 levels deep, each level
/// loading six facets.
pub fn large_deep_category(t: &mut TraceBuilder, rng: &mut Rng, start: u64) {
    let root = frontend_root(t, rng, start, "GET", "/category/{path}", "/category/home/kitchen");
    let mut parent = root;
    let mut cursor = start + 100 * MICROS;
    let mut levels = Vec::new();
    for depth in 0..300 {
        let level = t.open(
            Service::Catalog,
            Library::App,
            Some(parent),
            "resolve category",
            SpanKind::Internal,
            cursor,
        );
        t.set(level, "category.depth", int_value(depth));
        for facet in 0..6 {
            let leaf = t.open(
                Service::Catalog,
                Library::App,
                Some(level),
                "load facet",
                SpanKind::Internal,
                cursor + (facet + 1) * 10 * MICROS,
            );
            t.set(leaf, "facet.index", int_value(facet as i64));
            t.close(leaf, cursor + (facet + 1) * 10 * MICROS + rng.between(1, 8) * MICROS);
        }
        levels.push(level);
        parent = level;
        cursor += 100 * MICROS;
    }
    for level in levels.into_iter().rev() {
        cursor += 5 * MICROS;
        t.close(level, cursor);
    }
    close_root(t, root, cursor + 100 * MICROS, 200);
}

/// 2,051 spans: a newsletter sent to 2,050 addresses, a few failing.
pub fn large_newsletter(t: &mut TraceBuilder, rng: &mut Rng, start: u64) {
    let root =
        t.open(Service::Email, Library::App, None, "send newsletter", SpanKind::Internal, start);
    t.set(root, "newsletter.recipients", int_value(2_050));
    let mut cursor = start + 50 * MICROS;
    for recipient in 0..2_050u64 {
        let send = t.open(
            Service::Email,
            Library::Http,
            Some(root),
            "POST /v3/mail/send",
            SpanKind::Client,
            cursor,
        );
        t.set(send, "http.method", str_value("POST"));
        t.set(send, "http.url", str_value("https://mail.example.com/v3/mail/send"));
        let mut end = cursor + rng.between(200, 2_000) * MICROS;
        if recipient % 97 == 13 {
            t.event(send, "retry", cursor + 100 * MICROS, vec![kv("retry.attempt", int_value(1))]);
            end += 10 * MILLIS;
            fail_with_exception(t, send, end, "mailbox unavailable", "SmtpError");
            t.set(send, "http.status_code", int_value(503));
        } else {
            t.set(send, "http.status_code", int_value(202));
        }
        t.close(send, end);
        cursor = end + 5 * MICROS;
    }
    t.close(root, cursor + 50 * MICROS);
}
