//! Pieces every flow is made of: the frontend's root span, HTTP calls between services
//! (client span, then the callee's server span), database calls through the db-proxy, and
//! failures with their exception event.

use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use super::{
    Library, Rng, Service, SpanRef, TraceBuilder, array_value, bool_value, float_value, int_value,
    kv, kvlist_value, str_value,
};

pub const MICROS: u64 = 1_000;
pub const MILLIS: u64 = 1_000_000;

/// The frontend's server span; every request trace starts with one.
pub fn frontend_root(
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

pub fn close_root(t: &mut TraceBuilder, root: SpanRef, end: u64, status: i64) {
    t.set(root, "http.status_code", int_value(status));
    if status >= 500 {
        t.fail(root, "internal server error");
    }
    t.close(root, end);
}

/// A client span and the callee's server span under it.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub client: SpanRef,
    pub server: SpanRef,
}

#[allow(clippy::too_many_arguments)]
pub fn open_call(
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
pub fn close_call(t: &mut TraceBuilder, rng: &mut Rng, call: Call, end: u64, status: i64) -> u64 {
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

pub fn fail_with_exception(
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
pub enum DbOp {
    Select(&'static str),
    Update(&'static str),
    Insert(&'static str),
    RedisGet,
    RedisSet,
    RedisDel,
}

pub struct DbOutcome {
    pub end: u64,
    pub failed: bool,
    pub hit: bool,
}

/// A database call: the caller's client span and db-proxy's server span (a leaf). A
/// postgresql statement times out 4% of the time after two seconds.
pub fn db_call(
    t: &mut TraceBuilder,
    rng: &mut Rng,
    parent: SpanRef,
    op: DbOp,
    at: u64,
) -> DbOutcome {
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
