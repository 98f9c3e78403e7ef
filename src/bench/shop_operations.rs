//! The instrumented operations the shop's calls are made of (`shop_calls.rs`): an HTTP call
//! (client and server span), a SQL statement, a Redis command, a cache lookup and an
//! internal span, each with the attributes OpenTelemetry's instrumentation records.

use opentelemetry_proto::tonic::common::v1::KeyValue;

use crate::bench::shop::{
    CLIENT, INTERNAL, SERVER, STATUS_CODE_KEY, Service, TraceBuilder, flag, int, text,
};

/// An HTTP call from span `parent` (of `from`) to `to`: the client span, the server span and
/// whatever `handler` does inside (given the server span and when it starts; it answers
/// when it ends and with which status). Returns when the client saw the answer, and it.
pub(super) fn http_call(
    b: &mut TraceBuilder,
    parent: usize,
    from: Service,
    to: Service,
    (method, route, path): (&str, &str, &str),
    at: u64,
    handler: impl FnOnce(&mut TraceBuilder, usize, u64) -> (u64, i64),
) -> (u64, i64) {
    let host = to.name();
    let client = b.start(
        Some(parent),
        from,
        CLIENT,
        method,
        at,
        vec![
            text("http.request.method", method),
            text("server.address", host),
            int("server.port", 8080),
            text("url.full", format!("http://{host}:8080{path}")),
            text("network.protocol.version", "1.1"),
        ],
    );
    let received = at + b.rng.between(80_000, 400_000);
    let attributes = server_attributes(to, method, route, path);
    let server =
        b.start(Some(client), to, SERVER, format!("{method} {route}"), received, attributes);
    let handler_starts = received + b.rng.between(10_000, 60_000);
    let (handled, status) = handler(b, server, handler_starts);
    let answered = handled + b.rng.between(10_000, 100_000);
    b.add_attribute(server, int(STATUS_CODE_KEY, status));
    b.end(server, answered);
    let seen = answered + b.rng.between(80_000, 400_000);
    b.add_attribute(client, int(STATUS_CODE_KEY, status));
    b.end(client, seen);
    (seen, status)
}

/// What an HTTP server span of `service` records about a request (its status is added
/// once the answer is known).
pub(super) fn server_attributes(
    service: Service,
    method: &str,
    route: &str,
    path: &str,
) -> Vec<KeyValue> {
    vec![
        text("http.request.method", method),
        text("http.route", route),
        text("url.path", path.split('?').next().unwrap_or(path)),
        text("url.scheme", "http"),
        text("server.address", service.name()),
        int("server.port", 8080),
        text("network.protocol.version", "1.1"),
    ]
}

/// A Redis command from the cart service.
pub(super) fn redis(
    b: &mut TraceBuilder,
    parent: usize,
    command: &str,
    statement: &str,
    at: u64,
) -> u64 {
    let span = b.start(
        Some(parent),
        Service::Cart,
        CLIENT,
        command,
        at,
        vec![
            text("db.system", "redis"),
            text("db.operation", command),
            text("db.statement", statement),
            int("db.redis.database_index", 0),
            text("server.address", "redis-cart.shop.svc.cluster.local"),
            int("server.port", 6379),
        ],
    );
    let end = at + b.rng.between(100_000, 1_500_000);
    b.end(span, end);
    end
}

/// A SQL statement; one in a hundred is slow.
pub(super) fn sql(
    b: &mut TraceBuilder,
    parent: usize,
    service: Service,
    operation: &str,
    table: &str,
    statement: &str,
    at: u64,
) -> u64 {
    let span = b.start(
        Some(parent),
        service,
        CLIENT,
        format!("{operation} shop.{table}"),
        at,
        vec![
            text("db.system", "postgresql"),
            text("db.name", "shop"),
            text("db.operation", operation),
            text("db.sql.table", table),
            text("db.statement", statement),
            text("db.user", "shop_app"),
            text("server.address", "postgres.shop.svc.cluster.local"),
            int("server.port", 5432),
        ],
    );
    let duration = if b.rng.chance(10) {
        b.rng.between(50_000_000, 300_000_000)
    } else {
        b.rng.between(300_000, 4_000_000)
    };
    b.end(span, at + duration);
    at + duration
}

/// The catalog's cache; a miss is recorded as an event, as many caches' instrumentation does.
pub(super) fn cache_lookup(b: &mut TraceBuilder, parent: usize, key: &str, at: u64) -> u64 {
    let hit = b.rng.chance(600);
    let duration = b.rng.between(20_000, 200_000);
    let span = internal(
        b,
        parent,
        Service::Catalog,
        "cache lookup",
        "CatalogCache.Get",
        at,
        duration,
        vec![text("cache.key", key), flag("cache.hit", hit)],
    );
    if !hit {
        b.add_event(span, "cache miss", at + duration / 2, vec![text("cache.key", key)]);
    }
    at + duration
}

/// An internal span of `duration`; returns its position.
#[allow(clippy::too_many_arguments)]
pub(super) fn internal(
    b: &mut TraceBuilder,
    parent: usize,
    service: Service,
    name: &str,
    function: &str,
    at: u64,
    duration: u64,
    mut attributes: Vec<KeyValue>,
) -> usize {
    attributes.push(text("code.function", function));
    attributes.push(text("code.namespace", format!("shop.{}", service.name())));
    attributes.push(text("thread.name", format!("worker-{}", b.rng.between(1, 16))));
    let span = b.start(Some(parent), service, INTERNAL, name, at, attributes);
    b.end(span, at + duration);
    span
}
