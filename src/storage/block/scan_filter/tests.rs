//! The filter only rules out traces the engine would not match: checked against the engine
//! on random blocks (every attribute type, duplicates, odd row-group sizes) and on realistic
//! traces, where it must also rule out most of the data for selective queries.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::memory::InMemory;
use proptest::prelude::*;

use super::*;
use crate::actors::query::search_hits::hit;
use crate::model::ids::{LogIndex, PartitionId, TenantId, TraceId};
use crate::storage::block::eval_decode::EvalNeeds;
use crate::storage::block::reader::{BlockDataReader, upload_block};
use crate::storage::block::test_traces::{arb_block_input, realistic_traces};
use crate::storage::block::writer::{BlockBuildOptions, BlockInputTrace, build_block};
use crate::storage::block::{BlockId, data_path};
use crate::traceql::eval::EvalTrace;
use crate::traceql::{SearchPlan, parse};

/// Queries over the keys and values the generators use; each can match some traces.
const QUERIES: &[&str] = &[
    "{ span.http.status_code = 200 }",
    "{ span.http.status_code >= 404 }",
    "{ .http.status_code != 200 }",
    "{ span.http.response.status_code = 500 }",
    "{ resource.service.name = \"checkout\" }",
    "{ .service.name =~ \"c.*\" }",
    "{ span.db.system != nil }",
    "{ span.http.route = \"/api/cart\" && kind = server }",
    "{ kind = client } >> { kind = server }",
    "{ kind = server } !>> { name =~ \"SELECT.*\" }",
    "{ status = error } || { duration > 10ms }",
    "{ duration <= 1ms }",
    "{ name = \"\" }",
    "{ statusMessage = \"\" }",
    "{ span.rpc.grpc.status_code = 0 }",
    "{ span.http.url !~ \"h.*\" }",
    "{ span.k8s.pod.name > \"m\" }",
    "{ .db.statement =~ \".*user_id = 1.*\" }",
    "{ status = unset } | count() > 3",
    "{ kind = internal } && { resource.service.name = \"payment\" }",
];

/// Queries that read fields from every place a block keeps them (resource, scope, events,
/// links, status message, unscoped keys in both lists, `select`, `by`): pass 2 must read
/// them all.
const READ_QUERIES: &[&str] = &[
    "{ } | select(span.http.url, resource.k8s.pod.name, .db.statement, statusMessage)",
    "{ instrumentation:name != \"\" } | select(instrumentation.x, instrumentation:version)",
    "{ event:name != nil } | select(event.exception.message, event:timeSinceStart)",
    "{ link:spanID != nil } | select(link.kind, link:traceID)",
    "{ kind = server } | by(resource.service.name) | select(.http.route, span:childCount)",
    "{ span:parentID != nil && nestedSetParent > 0 } | select(span.http.status_code)",
    "{ } | by(.service.name) | count() > 1",
];

fn block(
    input: Vec<BlockInputTrace>,
    options: &BlockBuildOptions,
) -> (Arc<dyn ObjectStore>, BlockDataReader) {
    let tenant = TenantId::new("acme");
    let id = BlockId::for_log_range(PartitionId(1), LogIndex(1), LogIndex(2));
    let built =
        build_block(id.clone(), &tenant, PartitionId(1), LogIndex(1), LogIndex(2), input, options)
            .expect("the block builds");
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let runtime = runtime();
    let reader = runtime.block_on(async {
        upload_block(store.as_ref(), &tenant, &built).await.expect("upload");
        BlockDataReader::open(Arc::clone(&store), &data_path(&tenant, &id), &built.meta)
            .await
            .expect("open")
    });
    (store, reader)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().expect("runtime")
}

fn all_groups(reader: &BlockDataReader) -> Vec<usize> {
    (0..reader.parquet_metadata().num_row_groups()).collect()
}

/// The traces the engine matches, reading everything.
fn engine_matches(reader: &BlockDataReader, plan: &SearchPlan) -> BTreeSet<TraceId> {
    let traces = runtime().block_on(reader.read_all()).expect("read");
    traces
        .into_iter()
        .filter_map(|trace| {
            let id = trace.trace_id;
            let eval = EvalTrace::from_otlp(id, trace.resource_spans);
            (!plan.run(&eval).expect("evaluates").is_empty()).then_some(id)
        })
        .collect()
}

/// What a search reports for a trace `plan` matches, free of span order (a trace read for
/// a search lists spans by start time, a whole-trace read by resource): every span of every
/// spanset with its returned attributes, the root, bounds and per-service counts.
fn reported(plan: &SearchPlan, trace: &EvalTrace) -> Option<String> {
    let spansets = plan.run(trace).expect("evaluates");
    if spansets.is_empty() {
        return None;
    }
    let mut hit = hit(plan, trace, &spansets, 0);
    for set in &mut hit.span_sets {
        set.spans.sort_by_key(|span| format!("{span:?}"));
    }
    hit.span_sets.sort_by_key(|set| format!("{set:?}"));
    hit.span_set = None;
    let mut services: Vec<_> = hit.service_stats.drain().collect();
    services.sort_by(|a, b| a.0.cmp(&b.0));
    Some(format!("{hit:?} {services:?}"))
}

/// What the engine reports per matching trace, reading everything.
fn engine_reports(reader: &BlockDataReader, plan: &SearchPlan) -> BTreeMap<TraceId, String> {
    let traces = runtime().block_on(reader.read_all()).expect("read");
    traces
        .into_iter()
        .filter_map(|trace| {
            let eval = EvalTrace::from_otlp(trace.trace_id, trace.resource_spans);
            Some((trace.trace_id, reported(plan, &eval)?))
        })
        .collect()
}

/// What the engine reports per matching trace on the traces a search scan builds: the
/// kept traces, with only the columns the query reads.
fn search_reports(reader: &BlockDataReader, plan: &SearchPlan) -> BTreeMap<TraceId, String> {
    let filter = ScanFilter::new(plan.necessary_condition().clone(), None).expect("compiles");
    let needs = EvalNeeds::of_plan(plan);
    let mut reports = BTreeMap::new();
    runtime()
        .block_on(reader.scan_filtered(all_groups(reader), &filter, &needs, |trace| {
            if let Some(report) = reported(plan, &trace) {
                reports.insert(trace.trace_id, report);
            }
            ControlFlow::Continue(())
        }))
        .expect("scan");
    reports
}

/// The traces a filtered scan hands out, and what it counted.
fn kept(reader: &BlockDataReader, filter: &ScanFilter) -> (BTreeSet<TraceId>, ScanCountsView) {
    let mut ids = BTreeSet::new();
    let needs = EvalNeeds::default();
    let counts = runtime()
        .block_on(reader.scan_filtered(all_groups(reader), filter, &needs, |trace| {
            ids.insert(trace.trace_id);
            ControlFlow::Continue(())
        }))
        .expect("scan");
    (ids, ScanCountsView { rows: counts.rows, bytes: counts.bytes })
}

struct ScanCountsView {
    rows: u64,
    bytes: u64,
}

fn filter_for(query: &str, window: Option<(u64, u64)>) -> (SearchPlan, ScanFilter) {
    let plan = SearchPlan::new(&parse(query).expect(query)).expect(query);
    let filter = ScanFilter::new(plan.necessary_condition().clone(), window).expect("compiles");
    (plan, filter)
}

/// The filter keeps every trace the engine matches, and the engine reports the same on the
/// traces the scan builds from the columns it reads as on whole traces.
fn assert_keeps_every_match(reader: &BlockDataReader) {
    for query in QUERIES.iter().chain(READ_QUERIES) {
        let (plan, filter) = filter_for(query, None);
        let matched = engine_matches(reader, &plan);
        let (kept, _) = kept(reader, &filter);
        let lost: Vec<_> = matched.difference(&kept).collect();
        assert!(lost.is_empty(), "{query}: the filter dropped matching traces {lost:?}");
        let whole = engine_reports(reader, &plan);
        let searched = search_reports(reader, &plan);
        for (id, report) in &whole {
            assert_eq!(searched.get(id), Some(report), "{query}: trace {id:?}");
        }
        assert_eq!(searched.len(), whole.len(), "{query}: extra matches");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn random_blocks_keep_every_trace_the_engine_matches(
        input in arb_block_input(),
        row_group_spans in 1..30usize,
        page_rows in 1..8usize,
    ) {
        let options = BlockBuildOptions { row_group_spans, page_rows, ..Default::default() };
        let (_store, reader) = block(input, &options);
        assert_keeps_every_match(&reader);
    }
}

fn realistic_block() -> BlockDataReader {
    let options = BlockBuildOptions { row_group_spans: 400, page_rows: 64, ..Default::default() };
    block(realistic_traces(300, 11), &options).1
}

#[test]
fn realistic_traces_keep_every_match() {
    assert_keeps_every_match(&realistic_block());
}

#[test]
fn selective_queries_decode_few_traces_and_read_few_bytes() {
    let reader = realistic_block();
    let (_, everything) = filter_for("{ }", None);
    let (all, full) = kept(&reader, &everything);
    assert_eq!(all.len(), 300);

    // A value no span has: nothing reaches the engine, and pass 1 reads a few columns only.
    let (_, none) = filter_for("{ resource.service.name = \"no-such-service\" }", None);
    let (kept_none, counts) = kept(&reader, &none);
    assert!(kept_none.is_empty());
    assert!(counts.bytes * 4 < full.bytes, "{} of {} bytes", counts.bytes, full.bytes);

    // One trace in twenty has a 500 somewhere: far fewer traces are decoded.
    let (plan, errors) = filter_for("{ span.http.response.status_code = 500 }", None);
    let (kept_errors, _) = kept(&reader, &errors);
    assert_eq!(kept_errors, engine_matches(&reader, &plan));
    assert!(kept_errors.len() < 300 * 3 / 4, "{} kept", kept_errors.len());
}

#[test]
fn statistics_skip_row_groups_outside_the_window_or_the_value_range() {
    let reader = realistic_block();
    // The realistic traces start in 2023; a window in 2001 rules every group out.
    let (_, early) =
        filter_for("{ }", Some((1_000_000_000_000_000_000, 1_000_000_000_000_000_001)));
    let (kept_early, counts) = kept(&reader, &early);
    assert!(kept_early.is_empty());
    assert_eq!((counts.rows, counts.bytes), (0, 0));
    // No span is a producer: the kind statistics rule every group out.
    let (_, producers) = filter_for("{ kind = producer }", None);
    let (kept_producers, counts) = kept(&reader, &producers);
    assert!(kept_producers.is_empty());
    assert_eq!(counts.rows, 0);
}

#[test]
fn dictionaries_skip_row_groups_without_the_value_or_the_key() {
    let reader = realistic_block();
    for query in [
        // Dedicated column: no group's dictionary has the value (nor the generic list's keys
        // the key), so no data page is read at all.
        "{ resource.service.name = \"no-such-service\" }",
        "{ span.http.route =~ \"/nothing/.*\" }",
        "{ name = \"no such span\" }",
        // Generic attribute: the key is in no group's key dictionary.
        "{ span.no.such.key = \"x\" }",
        // Generic attribute: the key is there, the value in no group's value dictionary.
        "{ span.db.name = \"no-such-db\" }",
    ] {
        let (_, filter) = filter_for(query, None);
        let (kept, counts) = kept(&reader, &filter);
        assert!(kept.is_empty(), "{query}");
        assert_eq!(counts.rows, 0, "{query}: rows were read");
    }
    // Present values are not ruled out.
    let (plan, filter) = filter_for("{ span.db.name = \"shop\" }", None);
    let (kept, _) = kept(&reader, &filter);
    assert!(!kept.is_empty());
    assert_eq!(kept, engine_matches(&reader, &plan));
}
