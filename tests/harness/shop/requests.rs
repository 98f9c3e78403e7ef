//! Frontend requests: home page, product page, add to cart, checkout.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::calls::{
    DbOp, MICROS, MILLIS, close_call, close_root, db_call, fail_with_exception, frontend_root,
    open_call,
};
use super::{
    Library, Rng, Service, TraceBuilder, array_value, bool_value, bytes_value, float_value,
    int_value, kv, str_value,
};

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
pub fn cart_request(t: &mut TraceBuilder, rng: &mut Rng, start: u64) {
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
