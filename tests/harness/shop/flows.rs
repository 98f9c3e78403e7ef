//! The shop's flows: which spans each kind of trace holds, with their attributes, events,
//! links, errors and timing.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::{
    Library, Rng, Service, SpanRef, TraceBuilder, array_value, bool_value, bytes_value,
    float_value, int_value, kv, kvlist_value, str_value,
};

const MICROS: u64 = 1_000;
const MILLIS: u64 = 1_000_000;

/// A message put on the "orders" queue by a checkout, consumed later by the email service.
#[derive(Debug, Clone)]
pub struct Order {
    pub trace_id: Vec<u8>,
    pub span_id: Vec<u8>,
    pub published_at: u64,
}

/// A frontend request of a random page; a successful checkout returns the order it queued.
pub fn request(t: &mut TraceBuilder, rng: &mut Rng, start: u64, number: usize) -> Option<Order> {
    match (number % 10, rng.below(10)) {
        // Every tenth request is a checkout, so each dataset has some whatever the seed.
        (9, _) | (_, 8..=9) => checkout_request(t, rng, start),
        (_, 0..=2) => {
            home_request(t, rng, start);
            None
        }
        (_, 3..=5) => {
            product_request(t, rng, start, false);
            None
        }
        _ => {
            cart_request(t, rng, start);
            None
        }
    }
}

/// `GET /`: renders the page, lists products, sometimes asks for recommendations.
pub fn home_request(t: &mut TraceBuilder, rng: &mut Rng, start: u64) {
    let root = frontend_root(t, rng, start, "GET", "/", "/");
    let render = t.open(
        Service::Frontend,
        Library::App,
        Some(root),
        "render page",
        SpanKind::Internal,
        start + 80 * MICROS,
    );
    t.set(render, "template", str_value("home"));
    let page = rng.between(1, 9);
    let call = open_call(
        t,
        rng,
        root,
        Service::Catalog,
        "GET",
        "/products",
        &format!("/products?page={page}"),
        start + 200 * MICROS,
    );
    let db = db_call(
        t,
        rng,
        call.server,
        DbOp::Select("products"),
        t.start_of(call.server) + 60 * MICROS,
    );
    t.set(call.server, "product.count", int_value(rng.between(0, 24) as i64));
    let mut failed = db.failed;
    let mut cursor =
        close_call(t, rng, call, db.end + 90 * MICROS, if db.failed { 500 } else { 200 });
    if rng.chance(50) {
        let call = open_call(
            t,
            rng,
            root,
            Service::Catalog,
            "GET",
            "/recommendations",
            "/recommendations",
            cursor + 40 * MICROS,
        );
        let db =
            db_call(t, rng, call.server, DbOp::RedisGet, t.start_of(call.server) + 30 * MICROS);
        failed |= db.failed;
        cursor = close_call(t, rng, call, db.end + 50 * MICROS, 200);
    }
    t.close(render, cursor + 20 * MICROS);
    close_root(t, root, cursor + 150 * MICROS, if failed { 500 } else { 200 });
}

/// `GET /product/{id}`: the catalog reads the cache, then the database on a miss.
pub fn product_request(t: &mut TraceBuilder, rng: &mut Rng, start: u64, always_miss: bool) {
    let product = rng.between(1, 400) as i64;
    let root = frontend_root(t, rng, start, "GET", "/product/{id}", &format!("/product/{product}"));
    let call = open_call(
        t,
        rng,
        root,
        Service::Catalog,
        "GET",
        "/products/{id}",
        &format!("/products/{product}"),
        start + 150 * MICROS,
    );
    let server = call.server;
    t.set(server, "product.id", int_value(product));
    t.set(server, "name", str_value(["lamp", "kettle", "mug", "chair"][product as usize % 4]));
    let price = if product % 4 == 0 { (product / 4) as f64 } else { product as f64 * 1.25 + 0.49 };
    t.set(server, "product.price", float_value(price));
    t.set(server, "product.title", str_value(&format!("Lampe à café ☕ n°{product}")));
    let stock: Vec<_> = (0..3).map(|_| int_value(rng.between(0, 50) as i64)).collect();
    t.set(server, "stock.levels", array_value(stock));
    let cache = db_call(t, rng, server, DbOp::RedisGet, t.start_of(server) + 40 * MICROS);
    let hit = cache.hit && !always_miss;
    t.set(root, "http.response.header.x-cache", str_value(if hit { "HIT" } else { "MISS" }));
    let mut end = cache.end;
    let mut failed = false;
    if !hit {
        let db = db_call(t, rng, server, DbOp::Select("products"), cache.end + 20 * MICROS);
        end = db.end;
        failed = db.failed;
    }
    let status = if failed {
        500
    } else if product % 97 == 0 {
        404
    } else {
        200
    };
    let cursor = close_call(t, rng, call, end + 60 * MICROS, status);
    close_root(t, root, cursor + 100 * MICROS, status);
}

/// `POST /cart`: the cart service stores the item in redis.
fn cart_request(t: &mut TraceBuilder, rng: &mut Rng, start: u64) {
    let root = frontend_root(t, rng, start, "POST", "/cart", "/cart");
    let call = open_call(
        t,
        rng,
        root,
        Service::Cart,
        "POST",
        "/cart/items",
        "/cart/items",
        start + 120 * MICROS,
    );
    let items = rng.between(1, 6) as i64;
    t.set(call.server, "cart.items", int_value(items));
    t.set(call.server, "cart.total", float_value(items as f64 * 9.5 + rng.below(100) as f64 / 4.0));
    let db = db_call(t, rng, call.server, DbOp::RedisSet, t.start_of(call.server) + 30 * MICROS);
    let status = if rng.chance(5) { 409 } else { 200 };
    let cursor = close_call(t, rng, call, db.end + 40 * MICROS, status);
    close_root(t, root, cursor + 80 * MICROS, status);
}

/// `POST /checkout`: cart, tax, payment (with retries and declines), shipping, the order
/// row, and the "orders" message. Returns the queued order when the checkout succeeds.
pub fn checkout_request(t: &mut TraceBuilder, rng: &mut Rng, start: u64) -> Option<Order> {
    let root = frontend_root(t, rng, start, "POST", "/checkout", "/checkout");
    let checkout = open_call(
        t,
        rng,
        root,
        Service::Checkout,
        "POST",
        "/orders",
        "/orders",
        start + 200 * MICROS,
    );
    let server = checkout.server;
    t.set(server, "order.id", str_value(&format!("ord-{:06}", rng.below(1_000_000))));
    t.set(server, "order.items", int_value(rng.between(1, 5) as i64));
    if rng.chance(20) {
        t.set(server, "gift wrap", bool_value(true));
    }
    let mut cursor = t.start_of(server) + 100 * MICROS;

    let cart = open_call(t, rng, server, Service::Cart, "GET", "/cart", "/cart", cursor);
    let db = db_call(t, rng, cart.server, DbOp::RedisGet, t.start_of(cart.server) + 30 * MICROS);
    cursor = close_call(t, rng, cart, db.end + 30 * MICROS, 200);

    let tax = t.open(
        Service::Checkout,
        Library::App,
        Some(server),
        "compute tax",
        SpanKind::Internal,
        cursor + 10 * MICROS,
    );
    t.set(tax, "tax.rate", float_value(*rng.pick(&[0.2, 0.07, 0.0])));
    cursor += rng.between(20, 200) * MICROS;
    t.close(tax, cursor);

    let payment = open_call(
        t,
        rng,
        server,
        Service::Payment,
        "POST",
        "/charge",
        "/charge",
        cursor + 20 * MICROS,
    );
    let amount = if rng.chance(30) {
        rng.between(1, 8) as f64 * 10.0
    } else {
        rng.between(100, 9_999) as f64 / 100.0
    };
    t.set(payment.server, "payment.amount", float_value(amount));
    let method = *rng.pick(&["card", "paypal", "voucher"]);
    t.set(payment.server, "payment.method", str_value(method));
    t.set(payment.server, "payment.token", bytes_value(&rng.next_u64().to_be_bytes()));
    t.set(
        payment.server,
        "checks.passed",
        array_value(vec![bool_value(true), bool_value(rng.chance(80))]),
    );
    let mut payment_end = t.start_of(payment.server) + rng.between(2, 40) * MILLIS;
    if rng.chance(25) {
        for attempt in 1..=rng.between(1, 2) {
            let at = t.start_of(payment.client) + attempt * MILLIS;
            t.event(
                payment.client,
                "retry",
                at,
                vec![
                    kv("retry.attempt", int_value(attempt as i64)),
                    kv("retry.backoff_ms", float_value(attempt as f64 * 12.5)),
                ],
            );
        }
        payment_end += 3 * MILLIS;
    }
    let outcome = rng.below(100);
    let payment_status = match outcome {
        0..=7 => {
            fail_with_exception(
                t,
                payment.server,
                payment_end,
                "card declined",
                "CardDeclinedError",
            );
            402
        }
        8..=11 => {
            fail_with_exception(
                t,
                payment.server,
                payment_end,
                "payment provider timeout",
                "TimeoutError",
            );
            500
        }
        _ => {
            t.succeed(payment.server);
            200
        }
    };
    cursor = close_call(t, rng, payment, payment_end, payment_status);
    if payment_status != 200 {
        let cursor = close_call(t, rng, checkout, cursor + 50 * MICROS, payment_status);
        close_root(t, root, cursor + 90 * MICROS, payment_status);
        return None;
    }

    let shipping = open_call(
        t,
        rng,
        server,
        Service::Shipping,
        "POST",
        "/quote",
        "/quote",
        cursor + 30 * MICROS,
    );
    let cost = rng.between(0, 3_000) as f64 / 100.0;
    t.set(shipping.server, "shipping.cost", float_value(cost));
    t.set(
        shipping.server,
        "shipping.quotes",
        array_value(vec![float_value(cost), float_value(cost + 4.5)]),
    );
    t.set(shipping.server, "shipping.express", bool_value(rng.chance(30)));
    let rates = t.open(
        Service::Shipping,
        Library::App,
        Some(shipping.server),
        "rate lookup",
        SpanKind::Unspecified,
        t.start_of(shipping.server) + 20 * MICROS,
    );
    let rates_end = t.start_of(rates) + rng.between(100, 900) * MICROS;
    t.close(rates, rates_end);
    cursor = close_call(t, rng, shipping, rates_end + 40 * MICROS, 200);

    let insert = db_call(t, rng, server, DbOp::Insert("orders"), cursor + 20 * MICROS);
    cursor = insert.end;
    let mut order = None;
    if !insert.failed {
        let producer = t.open(
            Service::Checkout,
            Library::Messaging,
            Some(server),
            "orders publish",
            SpanKind::Producer,
            cursor + 10 * MICROS,
        );
        t.set(producer, "messaging.system", str_value("kafka"));
        t.set(producer, "messaging.destination.name", str_value("orders"));
        t.set(
            producer,
            "messaging.message.payload_size_bytes",
            int_value(rng.between(200, 2_000) as i64),
        );
        cursor += rng.between(100, 600) * MICROS;
        t.close(producer, cursor);
        order = Some(Order {
            trace_id: t.trace_id.to_vec(),
            span_id: t.span_id(producer),
            published_at: cursor,
        });
    }
    let status = if insert.failed { 500 } else { 200 };
    let cursor = close_call(t, rng, checkout, cursor + 40 * MICROS, status);
    close_root(t, root, cursor + 100 * MICROS, status);
    order
}

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

/// The frontend's server span; every request trace starts with one.
fn frontend_root(
    t: &mut TraceBuilder,
    rng: &mut Rng,
    start: u64,
    method: &str,
    route: &str,
    path: &str,
) -> SpanRef {
    let root = t.open(
        Service::Frontend,
        Library::Http,
        None,
        &format!("{method} {route}"),
        SpanKind::Server,
        start,
    );
    t.set(root, "http.method", str_value(method));
    t.set(root, "http.route", str_value(route));
    if rng.chance(60) {
        t.set(root, "http.url", str_value(&format!("https://shop.example.com{path}")));
    }
    t.set(root, "session.new", bool_value(rng.chance(30)));
    let flags: Vec<_> = ["new-checkout", "dark-mode", "fast-search"]
        .iter()
        .filter(|_| rng.chance(35))
        .map(|flag| str_value(flag))
        .collect();
    if !flags.is_empty() {
        t.set(root, "feature.flags", array_value(flags));
    }
    if rng.chance(20) {
        t.set(
            root,
            "http.request.header",
            kvlist_value(vec![kv("accept", str_value("text/html"))]),
        );
    }
    if rng.chance(10) {
        // The resource says "web": unscoped `.tier` differs between levels.
        t.set(root, "tier", str_value("edge"));
    }
    root
}

fn close_root(t: &mut TraceBuilder, root: SpanRef, end: u64, status: i64) {
    t.set(root, "http.status_code", int_value(status));
    if status >= 500 {
        t.fail(root, "internal server error");
    }
    t.close(root, end);
}

/// A client span and the callee's server span under it.
#[derive(Debug, Clone, Copy)]
struct Call {
    client: SpanRef,
    server: SpanRef,
}

#[allow(clippy::too_many_arguments)]
fn open_call(
    t: &mut TraceBuilder,
    rng: &mut Rng,
    parent: SpanRef,
    callee: Service,
    method: &str,
    route: &str,
    path: &str,
    at: u64,
) -> Call {
    let caller = t.service_of(parent);
    let name = format!("{method} {route}");
    let client = t.open(caller, Library::Http, Some(parent), &name, SpanKind::Client, at);
    t.set(client, "http.method", str_value(method));
    t.set(client, "http.url", str_value(&format!("http://{}:8080{path}", callee.name())));
    t.set(client, "peer.service", str_value(callee.name()));
    let latency = rng.between(50, 300) * MICROS;
    let server = t.open(callee, Library::Http, Some(client), &name, SpanKind::Server, at + latency);
    t.set(server, "http.method", str_value(method));
    t.set(server, "http.route", str_value(route));
    Call { client, server }
}

/// Ends a call with an HTTP status (≥ 500 fails both spans); returns the client's end.
fn close_call(t: &mut TraceBuilder, rng: &mut Rng, call: Call, end: u64, status: i64) -> u64 {
    t.set(call.server, "http.status_code", int_value(status));
    t.set(call.client, "http.status_code", int_value(status));
    if status >= 500 {
        if !t.is_failed(call.server) {
            t.fail(call.server, "upstream timeout\nretry budget exhausted");
        }
        t.fail(call.client, "upstream error");
    } else if status == 402 {
        t.fail(call.client, "payment required");
    }
    t.close(call.server, end);
    let client_end = end + rng.between(50, 300) * MICROS;
    t.close(call.client, client_end);
    client_end
}

fn fail_with_exception(
    t: &mut TraceBuilder,
    span: SpanRef,
    at: u64,
    message: &str,
    exception_type: &str,
) {
    t.fail(span, message);
    t.event(
        span,
        "exception",
        at.saturating_sub(10 * MICROS),
        vec![
            kv("exception.type", str_value(exception_type)),
            kv("exception.message", str_value(message)),
            kv("exception.escaped", bool_value(false)),
        ],
    );
}

/// Database operations, through the db-proxy.
#[derive(Debug, Clone, Copy)]
enum DbOp {
    Select(&'static str),
    Update(&'static str),
    Insert(&'static str),
    RedisGet,
    RedisSet,
    RedisDel,
}

struct DbOutcome {
    end: u64,
    failed: bool,
    hit: bool,
}

/// A database call: the caller's client span and db-proxy's server span (a leaf). A
/// postgresql statement times out 4% of the time after two seconds.
fn db_call(t: &mut TraceBuilder, rng: &mut Rng, parent: SpanRef, op: DbOp, at: u64) -> DbOutcome {
    let caller = t.service_of(parent);
    let key = rng.below(500);
    let (library, verb, statement) = match op {
        DbOp::Select(table) => (
            Library::Sql,
            format!("SELECT {table}"),
            format!("SELECT * FROM {table} WHERE id = $1"),
        ),
        DbOp::Update(table) => (
            Library::Sql,
            format!("UPDATE {table}"),
            format!("UPDATE {table} SET indexed_at = now() WHERE id = $1"),
        ),
        DbOp::Insert(table) => (
            Library::Sql,
            format!("INSERT {table}"),
            format!("INSERT INTO {table} VALUES ($1, $2, $3)"),
        ),
        DbOp::RedisGet => (Library::Redis, "GET".to_string(), format!("GET product:{key}")),
        DbOp::RedisSet => (Library::Redis, "SET".to_string(), format!("SET cart:{key} ?")),
        DbOp::RedisDel => (Library::Redis, "DEL".to_string(), format!("DEL product:{key}")),
    };
    let system = if library == Library::Redis { "redis" } else { "postgresql" };
    let client =
        t.open(caller, library, Some(parent), &format!("{system} {verb}"), SpanKind::Client, at);
    t.set(client, "db.system", str_value(system));
    t.set(client, "db.statement", str_value(&statement));
    let server =
        t.open(Service::DbProxy, library, Some(client), &verb, SpanKind::Server, at + 30 * MICROS);
    t.set(server, "db.system", str_value(system));
    t.set(server, "db.statement", str_value(&statement));
    let failed = library == Library::Sql && rng.chance(4);
    let mut hit = false;
    let duration = if library == Library::Redis {
        hit = rng.chance(60);
        t.set(client, "cache.hit", bool_value(hit));
        rng.between(100, 900) * MICROS
    } else {
        t.set(client, "db.name", str_value("shop"));
        t.set(server, "shard", float_value(rng.between(1, 4) as f64));
        t.set(server, "db.rows", int_value(rng.between(0, 3) as i64));
        if failed { 2_000 * MILLIS } else { rng.between(1, 30) * MILLIS }
    };
    let server_end = at + 30 * MICROS + duration;
    if failed {
        let message = "canceling statement due to statement timeout";
        fail_with_exception(t, server, server_end, message, "QueryCanceled");
        t.fail(client, message);
    }
    t.close(server, server_end);
    t.close(client, server_end + 30 * MICROS);
    DbOutcome { end: server_end + 30 * MICROS, failed, hit }
}
