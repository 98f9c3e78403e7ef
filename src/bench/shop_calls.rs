//! The calls of the generated shop (`shop.rs`): for each kind of page the frontend serves,
//! which services it calls, what they do inside, and the attributes real instrumentation
//! would record (HTTP server and client spans, SQL and Redis clients, Kafka, SMTP).
//!
//! Calls run one after another; each returns its end time, so every span lies inside its
//! parent (except the order e-mail, which a consumer sends after the checkout answered).

use crate::bench::shop::{
    CLIENT, CONSUMER, ORDER_ID_KEY, PRODUCER, SERVER, STATUS_CODE_KEY, Service, TraceBuilder, int,
    text,
};
use crate::bench::shop_operations::{
    cache_lookup, http_call, internal, redis, server_attributes, sql,
};

const USER_AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "shop-android/4.12.0 okhttp/4.12.0",
];

/// Makes one request to the frontend, starting at `start`; true when it was a checkout.
pub(super) fn request(b: &mut TraceBuilder, start: u64) -> bool {
    let roll = b.rng.next_u64() % 1000;
    let product = product_id(b);
    let (method, route, path) = match roll {
        0..300 => ("GET", "/", "/".to_string()),
        300..600 => ("GET", "/product/{id}", format!("/product/{product}")),
        600..750 => ("GET", "/cart", "/cart".to_string()),
        750..850 => ("POST", "/cart", "/cart".to_string()),
        850..999 => ("POST", "/checkout", "/checkout".to_string()),
        _ => ("GET", "/admin/catalog/export", "/admin/catalog/export?format=csv".to_string()),
    };
    let mut attributes = server_attributes(Service::Frontend, method, route, &path);
    attributes.push(text("user_agent.original", b.rng.pick(&USER_AGENTS)));
    attributes.push(text("client.address", format!("203.0.113.{}", b.rng.between(1, 254))));
    if b.rng.chance(700) {
        attributes.push(text("customer.id", format!("cust-{:06}", b.rng.between(0, 199_999))));
    }
    let root =
        b.start(None, Service::Frontend, SERVER, format!("{method} {route}"), start, attributes);
    let at = start + b.rng.between(50_000, 300_000);
    let (end, status) = match roll {
        0..300 => home_page(b, root, at),
        300..600 => product_page(b, root, at, &product),
        600..750 => cart_page(b, root, at),
        750..850 => add_to_cart(b, root, at, &product),
        850..999 => checkout(b, root, at),
        _ => catalog_export(b, root, at),
    };
    let end = end + b.rng.between(20_000, 200_000);
    b.add_attribute(root, int(STATUS_CODE_KEY, status));
    b.end(root, end);
    (850..999).contains(&roll)
}

fn home_page(b: &mut TraceBuilder, root: usize, at: u64) -> (u64, i64) {
    let (at, _) = currency_rates(b, root, at);
    let (at, _) = http_call(
        b,
        root,
        Service::Frontend,
        Service::Catalog,
        ("GET", "/products", "/products?page=1&size=24"),
        at,
        |b, server, at| {
            let at = cache_lookup(b, server, "products:featured", at);
            let at = if b.rng.chance(400) {
                sql(
                    b,
                    server,
                    Service::Catalog,
                    "SELECT",
                    "products",
                    "SELECT id, name, price_cents FROM products WHERE featured = $1 ORDER BY rank LIMIT $2",
                    at,
                )
            } else {
                at
            };
            (at, 200)
        },
    );
    let shown = b.rng.between(3, 7);
    let mut at = at;
    for _ in 0..shown {
        at = product_lookup(b, root, Service::Frontend, at, false).0;
    }
    let duration = b.rng.between(1_000_000, 5_000_000);
    internal(
        b,
        root,
        Service::Frontend,
        "render home",
        "renderHome",
        at,
        duration,
        vec![int("template.items", shown as i64)],
    );
    (at + duration, 200)
}

fn product_page(b: &mut TraceBuilder, root: usize, at: u64, product: &str) -> (u64, i64) {
    let missing = b.rng.chance(40);
    let (at, status) = product_lookup(b, root, Service::Frontend, at, missing);
    if status == 404 {
        return (at + b.rng.between(200_000, 800_000), 404);
    }
    let path = format!("/products/{product}/related");
    let route = ("GET", "/products/{id}/related", path.as_str());
    let (mut at, _) = http_call(
        b,
        root,
        Service::Frontend,
        Service::Catalog,
        route,
        at,
        |b, server, at| {
            let at = sql(
                b,
                server,
                Service::Catalog,
                "SELECT",
                "product_relations",
                "SELECT related_id FROM product_relations WHERE product_id = $1 ORDER BY score DESC LIMIT $2",
                at,
            );
            (at, 200)
        },
    );
    for _ in 0..b.rng.between(2, 4) {
        at = product_lookup(b, root, Service::Frontend, at, false).0;
    }
    let (at, _) = currency_convert(b, root, Service::Frontend, at);
    let duration = b.rng.between(800_000, 4_000_000);
    internal(
        b,
        root,
        Service::Frontend,
        "render product",
        "renderProduct",
        at,
        duration,
        vec![text("product.id", product)],
    );
    (at + duration, 200)
}

fn cart_page(b: &mut TraceBuilder, root: usize, at: u64) -> (u64, i64) {
    let (mut at, _) = get_cart(b, root, Service::Frontend, at);
    for _ in 0..b.rng.between(1, 5) {
        at = product_lookup(b, root, Service::Frontend, at, false).0;
    }
    let (at, _) = currency_convert(b, root, Service::Frontend, at);
    let duration = b.rng.between(500_000, 3_000_000);
    internal(b, root, Service::Frontend, "render cart", "renderCart", at, duration, Vec::new());
    (at + duration, 200)
}

fn add_to_cart(b: &mut TraceBuilder, root: usize, at: u64, product: &str) -> (u64, i64) {
    let (at, _) = product_lookup(b, root, Service::Frontend, at, false);
    let route = ("POST", "/cart/items", "/cart/items");
    http_call(b, root, Service::Frontend, Service::Cart, route, at, |b, server, at| {
        let key = format!("cart:{:08x}", b.rng.next_u64() & 0xffff_ffff);
        let at = redis(b, server, "HSET", &format!("HSET {key} {product} ?"), at);
        let at = redis(b, server, "EXPIRE", &format!("EXPIRE {key} 2592000"), at);
        (at, 201)
    })
}

fn checkout(b: &mut TraceBuilder, root: usize, at: u64) -> (u64, i64) {
    let route = ("POST", "/orders", "/orders");
    http_call(b, root, Service::Frontend, Service::Checkout, route, at, |b, server, at| {
        let order_id = b.order_id.clone();
        b.add_attribute(server, text(ORDER_ID_KEY, order_id.clone()));
        let items = b.rng.between(1, 5);
        b.add_attribute(server, int("order.items", items as i64));
        let duration = b.rng.between(100_000, 600_000);
        internal(
            b,
            server,
            Service::Checkout,
            "prepare order",
            "PrepareOrder",
            at,
            duration,
            Vec::new(),
        );
        let (mut at, _) = get_cart(b, server, Service::Checkout, at + duration);
        for _ in 0..items {
            at = product_lookup(b, server, Service::Checkout, at, false).0;
        }
        let (at, _) = currency_convert(b, server, Service::Checkout, at);
        let charge = ("POST", "/charges", "/charges");
        let (at, _) = http_call(
            b,
            server,
            Service::Checkout,
            Service::Payment,
            charge,
            at,
            |b, payment, at| {
                b.add_attribute(payment, text(ORDER_ID_KEY, order_id.clone()));
                let card = b.rng.pick(&["visa", "mastercard", "amex"]);
                let duration = b.rng.between(2_000_000, 30_000_000);
                internal(
                    b,
                    payment,
                    Service::Payment,
                    "fraud check",
                    "FraudService.score",
                    at,
                    duration,
                    vec![text("payment.card.brand", card)],
                );
                let at = sql(
                    b,
                    payment,
                    Service::Payment,
                    "INSERT",
                    "payments",
                    "INSERT INTO payments (order_id, amount_cents, currency, card_brand) VALUES ($1, $2, $3, $4)",
                    at + duration,
                );
                (at, 201)
            },
        );
        let quote = ("POST", "/quotes", "/quotes");
        let (at, _) = http_call(
            b,
            server,
            Service::Checkout,
            Service::Shipping,
            quote,
            at,
            |b, shipping, at| {
                let duration = b.rng.between(300_000, 2_000_000);
                let carrier = b.rng.pick(&["dhl", "ups", "postnl"]);
                internal(
                    b,
                    shipping,
                    Service::Shipping,
                    "compute quote",
                    "quote::compute",
                    at,
                    duration,
                    vec![text("shipping.carrier", carrier)],
                );
                (at + duration, 200)
            },
        );
        let at = sql(
            b,
            server,
            Service::Checkout,
            "INSERT",
            "orders",
            "INSERT INTO orders (id, customer_id, total_cents, status) VALUES ($1, $2, $3, $4)",
            at,
        );
        let at = publish_order(b, server, at);
        let clear = ("DELETE", "/cart", "/cart");
        http_call(b, server, Service::Checkout, Service::Cart, clear, at, |b, cart, at| {
            let key = format!("cart:{:08x}", b.rng.next_u64() & 0xffff_ffff);
            (redis(b, cart, "DEL", &format!("DEL {key}"), at), 204)
        })
    })
}

/// A rare, large trace: an export that looks every product up.
fn catalog_export(b: &mut TraceBuilder, root: usize, at: u64) -> (u64, i64) {
    let mut at = at;
    for _ in 0..b.rng.between(100, 300) {
        at = product_lookup(b, root, Service::Frontend, at, false).0;
    }
    (at, 200)
}

/// The checkout announces the order on Kafka; the e-mail service consumes it later.
fn publish_order(b: &mut TraceBuilder, parent: usize, at: u64) -> u64 {
    let message_id = format!("{:016x}", b.rng.next_u64());
    let partition = b.rng.between(0, 11) as i64;
    let kafka = |operation: &str| {
        vec![
            text("messaging.system", "kafka"),
            text("messaging.destination.name", "orders"),
            text("messaging.operation", operation.to_string()),
            text("messaging.message.id", message_id.clone()),
            int("messaging.kafka.destination.partition", partition),
            text("server.address", "kafka-0.kafka.shop.svc.cluster.local"),
        ]
    };
    let producer =
        b.start(Some(parent), Service::Checkout, PRODUCER, "orders publish", at, kafka("publish"));
    let published = at + b.rng.between(500_000, 3_000_000);
    b.end(producer, published);
    let consumed = published + b.rng.between(1_000_000, 50_000_000);
    let mut attributes = kafka("process");
    attributes.push(text("messaging.kafka.consumer.group", "email"));
    let consumer =
        b.start(Some(producer), Service::Email, CONSUMER, "orders process", consumed, attributes);
    let duration = b.rng.between(1_000_000, 4_000_000);
    internal(
        b,
        consumer,
        Service::Email,
        "render email",
        "render_template",
        consumed,
        duration,
        vec![text("email.template", "order-confirmation")],
    );
    let send_at = consumed + duration;
    let send = b.start(
        Some(consumer),
        Service::Email,
        CLIENT,
        "smtp send",
        send_at,
        vec![
            text("server.address", "smtp.sendgrid.net"),
            int("server.port", 587),
            text("network.transport", "tcp"),
            text("email.template", "order-confirmation"),
        ],
    );
    let sent = send_at + b.rng.between(20_000_000, 200_000_000);
    b.end(send, sent);
    let acknowledged = sent + b.rng.between(50_000, 300_000);
    b.end(consumer, acknowledged);
    published
}

fn product_id(b: &mut TraceBuilder) -> String {
    format!("P{:06}", b.rng.between(1, 250_000))
}

/// `GET /products/{id}` on the catalog: cache, then the database on a miss.
fn product_lookup(
    b: &mut TraceBuilder,
    parent: usize,
    from: Service,
    at: u64,
    missing: bool,
) -> (u64, i64) {
    let product = product_id(b);
    let path = format!("/products/{product}");
    let route = ("GET", "/products/{id}", path.as_str());
    http_call(b, parent, from, Service::Catalog, route, at, |b, server, at| {
        let at = cache_lookup(b, server, &format!("product:{product}"), at);
        if missing || b.rng.chance(400) {
            let at = sql(
                b,
                server,
                Service::Catalog,
                "SELECT",
                "products",
                "SELECT id, name, description, price_cents, stock FROM products WHERE id = $1",
                at,
            );
            return (at, if missing { 404 } else { 200 });
        }
        (at, 200)
    })
}

fn get_cart(b: &mut TraceBuilder, parent: usize, from: Service, at: u64) -> (u64, i64) {
    let route = ("GET", "/cart", "/cart");
    http_call(b, parent, from, Service::Cart, route, at, |b, server, at| {
        let key = format!("cart:{:08x}", b.rng.next_u64() & 0xffff_ffff);
        (redis(b, server, "HGETALL", &format!("HGETALL {key}"), at), 200)
    })
}

fn currency_rates(b: &mut TraceBuilder, parent: usize, at: u64) -> (u64, i64) {
    let route = ("GET", "/currencies", "/currencies");
    http_call(b, parent, Service::Frontend, Service::Currency, route, at, |b, server, at| {
        let duration = b.rng.between(50_000, 400_000);
        internal(
            b,
            server,
            Service::Currency,
            "load rates",
            "RatesCache::load",
            at,
            duration,
            Vec::new(),
        );
        (at + duration, 200)
    })
}

fn currency_convert(b: &mut TraceBuilder, parent: usize, from: Service, at: u64) -> (u64, i64) {
    let route = ("POST", "/convert", "/convert");
    http_call(b, parent, from, Service::Currency, route, at, |b, server, at| {
        let target = b.rng.pick(&["EUR", "USD", "GBP", "JPY", "CHF"]);
        let duration = b.rng.between(30_000, 300_000);
        internal(
            b,
            server,
            Service::Currency,
            "convert",
            "Converter::convert",
            at,
            duration,
            vec![text("currency.from", "USD"), text("currency.to", target)],
        );
        (at + duration, 200)
    })
}
