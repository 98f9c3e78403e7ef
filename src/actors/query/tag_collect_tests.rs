//! The collector's limits, and values printed as Tempo prints them.

use super::*;

fn limits(limit: usize, max_stale: usize) -> CollectLimits {
    CollectLimits { limit, max_stale, max_bytes: 0 }
}

#[test]
fn names_are_distinct_per_scope_and_limited_per_scope() {
    let mut collector =
        TagCollector::for_names(&[TagScope::Span, TagScope::Resource], false, limits(2, 0));
    for name in ["a", "b", "a", "c"] {
        collector.add_name(TagScope::Span, name);
    }
    collector.add_name(TagScope::Resource, "service.name");
    collector.add_name(TagScope::Event, "not.collected");
    assert!(!collector.wants_names_of(TagScope::Span), "span is full");
    assert!(collector.wants_names_of(TagScope::Resource));
    assert!(!collector.is_done(), "resource still has room");
    collector.add_name(TagScope::Resource, "k8s.pod.name");
    assert!(collector.is_done());
    assert_eq!(
        collector.sorted_names(),
        [
            (TagScope::Span, vec!["a".to_string(), "b".to_string()]),
            (TagScope::Resource, vec!["k8s.pod.name".to_string(), "service.name".to_string()]),
        ]
    );
}

#[test]
fn merged_names_share_one_limit() {
    let mut collector =
        TagCollector::for_names(&[TagScope::Span, TagScope::Resource], true, limits(0, 0));
    collector.add_name(TagScope::Span, "service.name");
    collector.add_name(TagScope::Resource, "service.name");
    collector.add_name(TagScope::Resource, "host");
    assert_eq!(
        collector.sorted_names(),
        [(TagScope::Span, vec!["host".to_string(), "service.name".to_string()])]
    );
}

#[test]
fn stale_values_in_a_row_close_the_collector_and_a_new_value_resets_the_run() {
    let mut collector = TagCollector::for_values(limits(0, 3));
    let value = |text: &str| TypedValue::string(text);
    for text in ["a", "a", "a", "b", "b", "b"] {
        collector.add_value(value(text));
        assert!(!collector.is_done(), "{text}: two stale in a row at most so far");
    }
    collector.add_value(value("b"));
    assert!(collector.is_done(), "three already-seen values in a row after the last new one");
    collector.add_value(value("c"));
    assert_eq!(collector.sorted_values(), [value("a"), value("b")]);
}

#[test]
fn the_byte_budget_stops_everything() {
    let mut collector =
        TagCollector::for_values(CollectLimits { limit: 0, max_stale: 0, max_bytes: 20 });
    collector.add_value(TypedValue::string("0123456789"));
    collector.add_value(TypedValue::string("abcdefghij"));
    assert!(collector.is_done());
    assert_eq!(collector.sorted_values().len(), 1, "6 + 10 bytes fit, 6 + 10 more do not");
}

#[test]
fn a_job_result_is_absorbed_in_its_discovery_order_under_the_query_limits() {
    let mut query = TagCollector::for_values(limits(3, 0));
    let mut job = query.empty_like();
    for n in [5, 1, 4, 1, 3] {
        job.add_value(TypedValue::int(n));
    }
    query.add_value(TypedValue::int(9));
    query.absorb(&job);
    assert!(query.is_done());
    assert_eq!(
        query.sorted_values(),
        [TypedValue::int(1), TypedValue::int(5), TypedValue::int(9)],
        "9 first, then the job's first two new values; sorted numerically"
    );
}

#[test]
fn values_sort_by_type_then_value() {
    let mut collector = TagCollector::for_values(limits(0, 0));
    for value in [
        TypedValue::bool(true),
        TypedValue::int(200),
        TypedValue::string("b"),
        TypedValue::float(1.5),
        TypedValue::int(1000),
        TypedValue::string("a"),
    ] {
        collector.add_value(value);
    }
    let texts: Vec<String> = collector.sorted_values().into_iter().map(|v| v.text).collect();
    assert_eq!(texts, ["a", "b", "200", "1000", "1.5", "true"]);
}

#[test]
fn floats_print_like_go() {
    let cases = [
        (0.25, "0.25"),
        (100.0, "100"),
        (123_456.0, "123456"),
        (1_234_567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-1.5e-7, "-1.5e-07"),
        (1e300, "1e+300"),
        (-0.0, "-0"),
        (0.1 + 0.2, "0.30000000000000004"),
    ];
    for (number, expected) in cases {
        assert_eq!(go_format_float(number), expected, "{number:?}");
    }
}

#[test]
fn changes_since_carry_only_what_is_new_and_mark_it_sent() {
    let no_limits = limits(0, 0);
    let mut found =
        TagCollector::for_names(&[TagScope::Span, TagScope::Resource], false, no_limits);
    let mut sent = SentItems::default();
    found.add_name(TagScope::Span, "a");
    found.add_name(TagScope::Resource, "r");
    let first = found.changes_since(&mut sent);
    let sorted = |collector: &TagCollector| collector.sorted_names();
    assert_eq!(
        sorted(&first),
        [(TagScope::Span, vec!["a".to_string()]), (TagScope::Resource, vec!["r".to_string()])]
    );
    found.add_name(TagScope::Span, "a");
    found.add_name(TagScope::Span, "b");
    assert_eq!(sorted(&found.changes_since(&mut sent)), [(TagScope::Span, vec!["b".to_string()])]);
    assert!(sorted(&found.changes_since(&mut sent)).is_empty(), "nothing new");

    let mut values = TagCollector::for_values(no_limits);
    let mut sent = SentItems::default();
    values.add_value(TypedValue::int(1));
    assert_eq!(values.changes_since(&mut sent).sorted_values(), [TypedValue::int(1)]);
    values.add_value(TypedValue::int(2));
    values.add_value(TypedValue::int(1));
    assert_eq!(values.changes_since(&mut sent).sorted_values(), [TypedValue::int(2)]);
}
