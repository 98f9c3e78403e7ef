//! `spanlake bench traceql`: how long the TraceQL front end (lex, parse, fold, validate) takes
//! per query, for a spread of typical queries. Single-threaded, in process.

use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::traceql::parse_and_validate;

/// The measured queries: what Grafana's search builder, Explore and dashboards send.
const QUERIES: [(&str, &str); 8] = [
    ("simple filter", "{ span.http.status_code = 500 }"),
    (
        "typical search",
        "{ resource.service.name = \"checkout\" && span.http.status_code >= 500 && duration > 200ms }",
    ),
    ("regex", "{ name =~ \"GET /api/.*\" && status = error }"),
    (
        "structural",
        "{ kind = server && resource.service.name = \"frontend\" } >> { status = error }",
    ),
    (
        "pipeline",
        "{ span.db.system = \"postgresql\" } | by(resource.service.name) | count() > 5 | select(span.db.statement)",
    ),
    (
        "metrics",
        "{ status = error } | rate() by (resource.service.name, span.http.route) | topk(10)",
    ),
    (
        "metrics math",
        "({ status = error } | count_over_time()) / ({ } | count_over_time()) * 100 > 5",
    ),
    (
        "grafana builder",
        "{ resource.service.name=\"shop-backend\" && span.http.method=\"GET\" && name=\"HTTP GET /cart\" && status=error && duration>100ms && duration<2s }",
    ),
];

/// Runs every query `iterations` times (after a warm-up) and returns the table.
pub fn run_traceql_bench(iterations: u32) -> String {
    let iterations = iterations.max(1);
    let mut table = String::new();
    let _ =
        writeln!(table, "{:<18} {:>7} {:>12} {:>12}  query", "case", "bytes", "mean µs", "min µs");
    for (name, query) in QUERIES {
        let (mean, min) = measure(query, iterations);
        let _ = writeln!(
            table,
            "{name:<18} {:>7} {:>12.2} {:>12.2}  {query}",
            query.len(),
            micros(mean),
            micros(min)
        );
    }
    let _ = writeln!(
        table,
        "({iterations} iterations per query, batches of 100; min = fastest batch mean)"
    );
    table
}

fn measure(query: &str, iterations: u32) -> (Duration, Duration) {
    const BATCH: u32 = 100;
    for _ in 0..(iterations / 10).clamp(1, 10_000) {
        let _ = black_box(parse_and_validate(black_box(query)));
    }
    let batches = iterations.div_ceil(BATCH);
    let mut total = Duration::ZERO;
    let mut best = Duration::MAX;
    for _ in 0..batches {
        let started = Instant::now();
        for _ in 0..BATCH {
            let _ = black_box(parse_and_validate(black_box(query)));
        }
        let elapsed = started.elapsed();
        total += elapsed;
        best = best.min(elapsed / BATCH);
    }
    (total / (batches * BATCH), best)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
