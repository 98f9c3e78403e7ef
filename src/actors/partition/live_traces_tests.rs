use super::*;
use crate::model::batch::TraceFragment;

fn record(index: u64, tenant: &str, trace: u8, payload_len: usize) -> CommittedRecord {
    let batch = TraceBatch {
        tenant: tenant.into(),
        traces: vec![TraceFragment {
            trace_id: vec![trace; 16],
            start_unix_nano: 100 + index,
            end_unix_nano: 200 + index,
            span_count: 2,
            traces_data: Bytes::from(vec![0u8; payload_len]),
        }],
    };
    CommittedRecord { index: LogIndex(index), payload: Bytes::from(batch.encode_to_vec()) }
}

/// A store whose log starts at index 1.
fn based() -> LiveTraces {
    let mut store = LiveTraces::new();
    store.set_base(LogIndex(0));
    store
}

#[test]
fn fragments_of_a_trace_accumulate() {
    let mut store = based();
    let outcome = store.apply(&[record(1, "a", 1, 10), record(2, "a", 1, 5)]).unwrap();
    assert_eq!(outcome, ApplyOutcome::Applied { applied: LogIndex(2) });
    let trace = store.find(&TenantId::new("a"), &TraceId([1; 16])).unwrap();
    assert_eq!(trace.traces_data.len(), 15);
    assert_eq!(trace.span_count, 4);
    assert_eq!((trace.start_unix_nano, trace.end_unix_nano), (101, 202));
    assert_eq!(store.usage()[&TenantId::new("a")], TenantUsage { traces: 1, bytes: 96 + 15 });
}

#[test]
fn tenants_are_isolated() {
    let mut store = based();
    store.apply(&[record(1, "a", 1, 1), record(2, "b", 2, 1)]).unwrap();
    assert!(store.find(&TenantId::new("a"), &TraceId([2; 16])).is_none());
    assert!(store.find(&TenantId::new("b"), &TraceId([2; 16])).is_some());
    assert_eq!(store.trace_count(), 2);
}

#[test]
fn replayed_records_apply_once() {
    let mut store = based();
    store.apply(&[record(1, "a", 1, 10)]).unwrap();
    store.apply(&[record(1, "a", 1, 10), record(2, "a", 1, 10)]).unwrap();
    let trace = store.find(&TenantId::new("a"), &TraceId([1; 16])).unwrap();
    assert_eq!(trace.span_count, 4);
    assert_eq!(store.applied(), Some(LogIndex(2)));
}

#[test]
fn a_gap_is_reported_and_nothing_past_it_applies() {
    let mut store = based();
    store.apply(&[record(1, "a", 1, 1)]).unwrap();
    let outcome = store.apply(&[record(3, "a", 3, 1)]).unwrap();
    assert_eq!(outcome, ApplyOutcome::Gap { from: LogIndex(2) });
    assert!(store.find(&TenantId::new("a"), &TraceId([3; 16])).is_none());
    assert_eq!(store.applied(), Some(LogIndex(1)));
}

#[test]
fn an_undecodable_record_is_an_error() {
    let mut store = based();
    let bad = CommittedRecord { index: LogIndex(1), payload: Bytes::from_static(&[0xff; 4]) };
    assert!(store.apply(&[bad]).is_err());
}

#[test]
fn records_before_the_base_is_known_are_dropped() {
    let mut store = LiveTraces::new();
    assert_eq!(store.apply(&[record(7, "a", 1, 1)]).unwrap(), ApplyOutcome::NoBase);
    assert_eq!(store.applied(), None);
    store.set_base(LogIndex(6));
    store.apply(&[record(7, "a", 1, 1)]).unwrap();
    assert_eq!(store.applied(), Some(LogIndex(7)));
    store.set_base(LogIndex(3));
    assert_eq!(store.applied(), Some(LogIndex(7)), "the base never moves backwards");
}

#[test]
fn flushed_traces_are_evicted_after_the_window_unless_written_again() {
    let mut store = based();
    let start = Instant::now();
    let window = Duration::from_secs(30);
    store.apply(&[record(1, "a", 1, 10), record(2, "a", 2, 10), record(3, "a", 3, 10)]).unwrap();
    store.flushed(LogIndex(2), start);
    store.apply(&[record(4, "a", 2, 10)]).unwrap();
    assert_eq!(store.evict(start + Duration::from_secs(10), window), 0, "inside the window");
    assert_eq!(store.evict(start + Duration::from_secs(31), window), 1, "trace 1 only");
    let tenant = TenantId::new("a");
    assert!(store.find(&tenant, &TraceId([1; 16])).is_none());
    assert!(store.find(&tenant, &TraceId([2; 16])).is_some(), "written again after the flush");
    assert!(store.find(&tenant, &TraceId([3; 16])).is_some(), "not flushed yet");
    assert_eq!(store.usage()[&tenant], TenantUsage { traces: 2, bytes: 2 * 96 + 30 });
    store.flushed(LogIndex(4), start + Duration::from_secs(40));
    assert_eq!(store.evict(start + Duration::from_secs(80), window), 2);
    assert_eq!(store.trace_count(), 0);
    assert_eq!(store.usage()[&tenant], TenantUsage::default());
}

#[test]
fn a_search_snapshot_shares_fragments_and_honours_the_window() {
    let mut store = based();
    store.apply(&[record(1, "a", 1, 10), record(2, "a", 1, 5), record(3, "a", 3, 7)]).unwrap();
    store.apply(&[record(4, "b", 4, 1)]).unwrap();
    let mut all = store.search_snapshot(&TenantId::new("a"), None);
    all.sort_by_key(|t| t.trace_id);
    assert_eq!(all.len(), 2, "tenant b is not visible");
    assert_eq!(all[0].fragments.len(), 2);
    assert_eq!(all[0].size(), 15);
    assert_eq!((all[0].start_unix_nano, all[0].end_unix_nano), (101, 202));
    // Trace 3 spans [103, 203]; trace 1 spans [101, 202].
    let late = store.search_snapshot(&TenantId::new("a"), Some((203, 1000)));
    assert_eq!(late.iter().map(|t| t.trace_id).collect::<Vec<_>>(), [TraceId([3; 16])]);
    assert!(store.search_snapshot(&TenantId::new("a"), Some((0, 100))).is_empty());
}

/// A record carrying one span named `name` of trace `trace`.
fn span_record(index: u64, trace: u8, name: &str) -> CommittedRecord {
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};
    let span = Span { span_id: vec![index as u8; 8], name: name.into(), ..Default::default() };
    let data = TracesData {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
            ..Default::default()
        }],
    };
    let batch = TraceBatch {
        tenant: "a".into(),
        traces: vec![TraceFragment {
            trace_id: vec![trace; 16],
            start_unix_nano: 100,
            end_unix_nano: 200,
            span_count: 1,
            traces_data: Bytes::from(data.encode_to_vec()),
        }],
    };
    CommittedRecord { index: LogIndex(index), payload: Bytes::from(batch.encode_to_vec()) }
}

/// Summarizes what is due, as the actor's blocking thread does.
fn summarize(store: &mut LiveTraces) -> usize {
    let now = Instant::now();
    store.tags_queried(now);
    let work = store.tag_summary_work(now);
    let count = work.len();
    store.store_tag_summaries(work.into_iter().map(SummaryWork::run).collect());
    count
}

fn summary_of(store: &LiveTraces, trace: u8) -> Option<(usize, bool, Vec<String>)> {
    let snapshot = store.search_snapshot(&TenantId::new("a"), None);
    let live = snapshot.into_iter().find(|live| live.trace_id == TraceId([trace; 16]))?;
    let tags = live.tags?;
    let names = tags
        .values(crate::storage::block::TagScope::Intrinsic, "name")
        .map(|values| values.values().iter().map(|value| format!("{value:?}")).collect())
        .unwrap_or_default();
    Some((tags.covered(), tags.covers(live.fragments.len()), names))
}

#[test]
fn tag_summaries_are_built_only_while_tags_are_in_use() {
    let mut store = based();
    store.apply(&[span_record(1, 1, "first")]).unwrap();
    let start = Instant::now();
    assert!(store.tag_summary_work(start).is_empty(), "no tag query yet");
    assert_eq!(store.traces_awaiting_tag_summary(), 1, "the backlog is kept");
    store.tags_queried(start);
    let batch = store.tag_summary_work(start);
    assert_eq!(batch.len(), 1, "the backlog once tags are asked for");
    store.apply(&[span_record(2, 2, "second")]).unwrap();
    assert!(store.tag_summary_work(start).is_empty(), "one batch out at a time");
    store.store_tag_summaries(batch.into_iter().map(SummaryWork::run).collect());
    assert_eq!(store.tag_summary_work(start).len(), 1, "the next batch once it is back");
    // A lost batch (its blocking task failed) frees the slot; trace 3 is due.
    store.apply(&[span_record(3, 3, "third")]).unwrap();
    store.store_tag_summaries(Vec::new());
    assert_eq!(store.traces_awaiting_tag_summary(), 1);
    let later = start + TAGS_IN_USE_FOR;
    assert!(store.tag_summary_work(later).is_empty(), "no tag query for a while");
}

#[test]
fn tag_summaries_follow_the_fragments_in_order_and_leave_with_the_trace() {
    let mut store = based();
    let now = Instant::now();
    store.tags_queried(now);
    store.apply(&[span_record(1, 1, "first"), span_record(2, 2, "other")]).unwrap();
    assert_eq!(store.traces_awaiting_tag_summary(), 2);
    assert_eq!(summary_of(&store, 1), None, "nothing summarized yet");
    let work = store.tag_summary_work(now);
    assert_eq!(work.len(), 2);
    assert!(store.tag_summary_work(now).is_empty(), "handed out once");
    store.apply(&[span_record(3, 1, "second")]).unwrap();
    assert_eq!(store.traces_awaiting_tag_summary(), 3, "two in work, one newer fragment");
    store.store_tag_summaries(work.into_iter().map(SummaryWork::run).collect());
    let first_only = (1, false, vec!["Str(\"first\")".to_string()]);
    assert_eq!(summary_of(&store, 1), Some(first_only), "one of its two fragments");
    assert_eq!(store.traces_awaiting_tag_summary(), 1);

    let work = store.tag_summary_work(now);
    assert_eq!(work.len(), 1);
    assert_eq!((work[0].fragments.len(), work[0].base.as_ref().map(|b| b.covered())), (1, Some(1)));
    let stale = SummaryWork {
        tenant: work[0].tenant.clone(),
        trace_id: work[0].trace_id,
        first_index: work[0].first_index,
        base: None,
        fragments: Vec::new(),
    }
    .run();
    store.store_tag_summaries(work.into_iter().map(SummaryWork::run).collect());
    let both = vec!["Str(\"first\")".to_string(), "Str(\"second\")".to_string()];
    assert_eq!(summary_of(&store, 1), Some((2, true, both.clone())));
    store.store_tag_summaries(vec![stale]);
    assert_eq!(summary_of(&store, 1), Some((2, true, both)), "a result on an old base is dropped");
    assert_eq!(store.traces_awaiting_tag_summary(), 0);
    assert!(store.tag_summary_bytes() > 0);
    // The summaries count against the tenant's live bytes (the limit bounds them too).
    let tenant = TenantId::new("a");
    let span_bytes: u64 = store
        .search_snapshot(&tenant, None)
        .iter()
        .map(|live| live.fragments.iter().map(|f| f.len() as u64).sum::<u64>() + 96)
        .sum();
    assert_eq!(store.usage()[&tenant].bytes, span_bytes + store.tag_summary_bytes());

    let start = Instant::now();
    store.flushed(LogIndex(3), start);
    assert_eq!(store.evict(start, Duration::ZERO), 2);
    assert_eq!((store.tag_summary_bytes(), store.traces_awaiting_tag_summary()), (0, 0));
    assert_eq!(store.usage()[&tenant], TenantUsage::default());
}

#[test]
fn a_summary_of_an_evicted_trace_is_not_given_to_its_successor() {
    let now = Instant::now();
    let mut store = based();
    store.apply(&[span_record(1, 1, "old")]).unwrap();
    let work = store.tag_summary_work(now);
    let start = Instant::now();
    store.flushed(LogIndex(1), start);
    assert_eq!(store.evict(start, Duration::ZERO), 1);
    store.apply(&[span_record(2, 1, "new")]).unwrap();
    store.store_tag_summaries(work.into_iter().map(SummaryWork::run).collect());
    assert_eq!(summary_of(&store, 1), None, "the old trace's summary is not the new one's");
    assert_eq!(summarize(&mut store), 1);
    assert_eq!(summary_of(&store, 1), Some((1, true, vec!["Str(\"new\")".to_string()])));
}

#[test]
fn undecodable_fragments_get_a_dropped_summary_and_no_more_work() {
    let mut store = based();
    store.apply(&[record(1, "a", 1, 10)]).unwrap();
    assert_eq!(summarize(&mut store), 1);
    let snapshot = store.search_snapshot(&TenantId::new("a"), None);
    assert!(snapshot[0].tags.as_ref().is_some_and(|tags| tags.is_dropped()));
    store.apply(&[record(2, "a", 1, 10)]).unwrap();
    assert_eq!(store.traces_awaiting_tag_summary(), 0, "a dropped summary is not rebuilt");
    assert_eq!(summarize(&mut store), 0);
}
