//! The reference evaluator on tiny traces where the right answer can be read off the
//! drawing. Span `n` has id `00…0n`, name `s<n>` and the int attribute `n`.
//!
//! ```text
//!  trace 1 (service "web", resource tier "web")
//!  1 server ─┬─ 2 client ── 4 server ── 6 client
//!            └─ 3 server ── 5 internal
//! ```

use std::collections::BTreeSet;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use spanlake::traceql::parse_and_validate;

use crate::harness::reference::{Reference, reference_search};
use crate::harness::shop::{array_value, bool_value, float_value, int_value, kv, str_value};

const START: u64 = 1_700_000_000_000_000_000;

fn span_id(n: u8) -> Vec<u8> {
    vec![0, 0, 0, 0, 0, 0, 0, n]
}

/// Span `n` of trace `trace`, child of `parent`, lasting `n` µs.
fn span(trace: u8, n: u8, parent: Option<u8>, kind: SpanKind) -> Span {
    let start = START + u64::from(n) * 1_000;
    Span {
        trace_id: vec![trace; 16],
        span_id: span_id(n),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: format!("s{n}"),
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: start + u64::from(n) * 1_000,
        attributes: vec![kv("n", int_value(i64::from(n)))],
        ..Default::default()
    }
}

fn resource_spans(service: &str, resource: Vec<KeyValue>, spans: Vec<Span>) -> ResourceSpans {
    let mut attributes = vec![kv("service.name", str_value(service))];
    attributes.extend(resource);
    ResourceSpans {
        resource: Some(Resource { attributes, ..Default::default() }),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        schema_url: String::new(),
    }
}

/// The tree of the module comment, as trace 1.
fn tree() -> Vec<Span> {
    use SpanKind::*;
    vec![
        span(1, 1, None, Server),
        span(1, 2, Some(1), Client),
        span(1, 3, Some(1), Server),
        span(1, 4, Some(2), Server),
        span(1, 5, Some(3), Internal),
        span(1, 6, Some(4), Client),
    ]
}

fn with_attribute(
    mut span: Span,
    key: &str,
    value: opentelemetry_proto::tonic::common::v1::AnyValue,
) -> Span {
    span.attributes.push(kv(key, value));
    span
}

fn one_service(spans: Vec<Span>) -> Vec<ResourceSpans> {
    vec![resource_spans("web", vec![kv("tier", str_value("web"))], spans)]
}

/// The spansets of trace `trace` as sorted span numbers; empty if the trace does not match.
fn spansets(query: &str, data: &[ResourceSpans], trace: u8) -> Vec<Vec<u8>> {
    let parsed = parse_and_validate(query).unwrap_or_else(|e| panic!("{query}: {e}"));
    let result = reference_search(&parsed, data);
    let key = crate::harness::reference::trace_id_hex(&[trace; 16]);
    let mut sets: Vec<Vec<u8>> = result
        .get(&key)
        .map(|sets| {
            sets.iter()
                .map(|set| {
                    set.iter().map(|hex| u8::from_str_radix(&hex[14..], 16).expect("hex")).collect()
                })
                .collect()
        })
        .unwrap_or_default();
    sets.sort();
    sets
}

/// The single spanset of trace 1, or an empty list if it does not match.
fn matching(query: &str, data: &[ResourceSpans]) -> Vec<u8> {
    let mut sets = spansets(query, data, 1);
    assert!(sets.len() <= 1, "{query}: expected at most one spanset, got {sets:?}");
    sets.pop().unwrap_or_default()
}

#[test]
fn filters_keep_the_spans_whose_intrinsics_match() {
    let mut spans = tree();
    spans[4].status = Some(Status { message: "boom".into(), code: StatusCode::Error as i32 });
    let data = one_service(spans);
    assert_eq!(matching(r#"{ name = "s2" }"#, &data), [2]);
    assert_eq!(matching("{ kind = server }", &data), [1, 3, 4]);
    assert_eq!(matching("{ status = error }", &data), [5]);
    assert_eq!(matching(r#"{ statusMessage = "boom" }"#, &data), [5]);
    assert_eq!(matching("{ status = unset }", &data), [1, 2, 3, 4, 6]);
    assert_eq!(matching("{ duration >= 4us }", &data), [4, 5, 6]);
    assert_eq!(matching("{ duration > 4000 }", &data), [5, 6], "a bare number is nanoseconds");
    assert_eq!(matching(r#"{ span:id = "0000000000000003" }"#, &data), [3]);
    assert_eq!(matching(r#"{ span:parentID = "0000000000000001" }"#, &data), [2, 3]);
    assert_eq!(matching("{ span:childCount = 0 }", &data), [5, 6]);
    assert_eq!(matching("{ nestedSetRight - nestedSetLeft = 1 }", &data), [5, 6]);
    assert_eq!(matching("{ }", &data), [1, 2, 3, 4, 5, 6]);
    assert!(matching("{ false }", &data).is_empty());
}

#[test]
fn comparisons_with_a_missing_or_mistyped_value_are_false_but_negation_is_not() {
    let mut spans = tree();
    spans[0] = with_attribute(spans[0].clone(), "a", str_value("x"));
    spans[1] = with_attribute(spans[1].clone(), "a", str_value("y"));
    spans[2] = with_attribute(spans[2].clone(), "a", int_value(1));
    let data = one_service(spans);
    assert_eq!(matching(r#"{ span.a != "x" }"#, &data), [2]);
    assert_eq!(matching(r#"{ !(span.a = "x") }"#, &data), [2, 3, 4, 5, 6]);
    assert_eq!(matching("{ span.a = nil }", &data), [4, 5, 6]);
    assert_eq!(matching("{ span.a != nil }", &data), [1, 2, 3]);
    assert_eq!(matching(r#"{ span.a > "w" }"#, &data), [1, 2], "strings compare byte-wise");
}

#[test]
fn unscoped_literal_comparisons_pass_on_either_level_elsewhere_the_span_wins() {
    let mut spans = tree();
    spans[0] = with_attribute(spans[0].clone(), "tier", str_value("edge"));
    let data = one_service(spans);
    assert_eq!(matching(r#"{ .tier = "web" }"#, &data), [1, 2, 3, 4, 5, 6]);
    assert_eq!(matching(r#"{ .tier = "edge" }"#, &data), [1]);
    assert_eq!(matching(r#"{ .tier = "web" && .tier = "edge" }"#, &data), [1]);
    assert_eq!(matching(r#"{ span.tier = "web" }"#, &data), Vec::<u8>::new());
    // Not a plain `attr OP literal`: the span-level value alone counts.
    assert_eq!(matching(r#"{ .tier = resource.tier }"#, &data), [2, 3, 4, 5, 6]);
    assert_eq!(spansets("{ } | by(.tier)", &data, 1), [vec![1], vec![2, 3, 4, 5, 6]]);
}

#[test]
fn int_literals_only_meet_int_attributes_and_float_literals_float_ones() {
    let mut spans = tree();
    spans[0] = with_attribute(spans[0].clone(), "x", int_value(1));
    spans[1] = with_attribute(spans[1].clone(), "x", float_value(1.0));
    spans[2] = with_attribute(spans[2].clone(), "x", float_value(2.5));
    let data = one_service(spans);
    assert_eq!(matching("{ span.x = 1 }", &data), [1]);
    assert_eq!(matching("{ span.x = 1.0 }", &data), [2]);
    assert_eq!(matching("{ span.x > 0 }", &data), [1]);
    assert_eq!(matching("{ span.x > 0.5 }", &data), [2, 3]);
    // Arithmetic is evaluated in memory, where numbers compare by value.
    assert_eq!(matching("{ span.x * 1 = 1 }", &data), [1, 2]);
    assert_eq!(matching("{ span.x + 0 > 0 }", &data), [1, 2, 3]);
}

#[test]
fn arrays_match_any_element_except_not_equal_and_not_regex_which_need_every_element() {
    let mut spans = tree();
    let flags = |values: &[&str]| array_value(values.iter().map(|v| str_value(v)).collect());
    spans[0] = with_attribute(spans[0].clone(), "flags", flags(&["a", "b"]));
    spans[1] = with_attribute(spans[1].clone(), "flags", flags(&["b", "c"]));
    spans[2] =
        with_attribute(spans[2].clone(), "levels", array_value(vec![int_value(3), int_value(9)]));
    let data = one_service(spans);
    assert_eq!(matching(r#"{ span.flags = "a" }"#, &data), [1]);
    assert_eq!(matching(r#"{ span.flags != "a" }"#, &data), [2]);
    assert_eq!(matching(r#"{ span.flags =~ "[bc]" }"#, &data), [1, 2]);
    assert_eq!(matching(r#"{ span.flags !~ "[ab]" }"#, &data), Vec::<u8>::new());
    assert_eq!(matching("{ span.levels > 8 }", &data), [3]);
    assert_eq!(matching("{ span.levels > 8.0 }", &data), Vec::<u8>::new());
}

#[test]
fn arithmetic_keeps_ints_truncates_division_and_computes_powers_correctly() {
    let data = one_service(tree());
    assert_eq!(matching("{ span.n / 2 = 1 }", &data), [2, 3]);
    assert_eq!(matching("{ span.n % 4 = 1 }", &data), [1, 5]);
    assert_eq!(
        matching("{ span.n ^ 2 = 9 }", &data),
        [3],
        "Tempo's swapped operands would give 2^3"
    );
    assert_eq!(matching("{ span.n * 1.5 = 3 }", &data), [2]);
    assert_eq!(matching("{ -span.n < -5 }", &data), [6]);
    assert_eq!(matching("{ duration * 2 > 10us }", &data), [6]);
    let parsed = parse_and_validate("{ span.n / (span.n - 3) = 1 }").expect("valid");
    let failure = Reference::new(&data).search(&parsed);
    assert!(failure.is_err(), "an integer division by zero fails the query: {failure:?}");
}

#[test]
fn unary_operators_on_the_wrong_type_give_nil_or_false() {
    let mut spans = tree();
    spans[0] = with_attribute(spans[0].clone(), "label", str_value("x"));
    spans[1] = with_attribute(spans[1].clone(), "flag", bool_value(false));
    let data = one_service(spans);
    assert_eq!(matching("{ -span.label = -1 }", &data), Vec::<u8>::new());
    assert_eq!(matching("{ (-span.label) = nil && span.label != nil }", &data), [1]);
    assert_eq!(matching("{ !span.label }", &data), Vec::<u8>::new());
    assert_eq!(matching("{ !span.flag }", &data), [2]);
    assert_eq!(matching("{ span.flag || true }", &data), [2]);
    assert_eq!(
        matching("{ span.label || true }", &data),
        Vec::<u8>::new(),
        "a non-bool operand makes || false"
    );
}

#[test]
fn regexes_are_anchored_case_sensitive_and_dot_matches_newline() {
    let mut spans = tree();
    spans[0].status =
        Some(Status { message: "upstream\ntimeout".into(), code: StatusCode::Error as i32 });
    let data = one_service(spans);
    assert_eq!(matching(r#"{ name =~ "s" }"#, &data), Vec::<u8>::new());
    assert_eq!(matching(r#"{ name =~ "s[12]" }"#, &data), [1, 2]);
    assert_eq!(matching(r#"{ name =~ "S1" }"#, &data), Vec::<u8>::new());
    assert_eq!(matching(r#"{ name =~ "(?i)S1" }"#, &data), [1]);
    assert_eq!(matching(r#"{ statusMessage =~ "upstream.timeout" }"#, &data), [1]);
    assert_eq!(matching(r#"{ name !~ "s[12]" }"#, &data), [3, 4, 5, 6]);
    assert_eq!(matching(r#"{ span.n =~ "1" }"#, &data), Vec::<u8>::new(), "not a string");
}

#[test]
fn structural_operators_relate_right_hand_spans_to_left_hand_ones() {
    let data = one_service(tree());
    assert_eq!(matching("{ kind = server } > { }", &data), [2, 3, 5, 6]);
    assert_eq!(matching("{ span.n = 4 } < { }", &data), [2]);
    assert_eq!(matching("{ span.n = 2 } >> { }", &data), [4, 6]);
    assert_eq!(matching("{ span.n = 6 } << { }", &data), [1, 2, 4]);
    assert_eq!(matching("{ span.n = 2 } ~ { }", &data), [3]);
    assert_eq!(matching("{ } ~ { }", &data), [2, 3], "a span is not its own sibling");
    assert_eq!(matching("{ span.n = 1 } > { span.n = 2 } > { }", &data), [4]);
}

#[test]
fn negated_forms_keep_right_hand_spans_without_a_partner_and_union_forms_keep_both_sides() {
    let data = one_service(tree());
    assert_eq!(matching("{ } !> { }", &data), [1], "only the root has no parent");
    assert_eq!(matching("{ } !< { }", &data), [5, 6], "the leaves");
    assert_eq!(matching("{ kind = client } !>> { }", &data), [1, 2, 3, 5]);
    assert_eq!(matching("{ kind = client } !<< { }", &data), [3, 5, 6]);
    assert_eq!(matching("{ span.n = 2 } !~ { }", &data), [1, 2, 4, 5, 6]);
    assert_eq!(matching("{ span.n = 9 } !> { kind = server }", &data), [1, 3, 4], "empty left");
    assert_eq!(matching("{ kind = server } !> { span.n = 9 }", &data), Vec::<u8>::new());
    assert_eq!(matching("{ kind = client } &> { kind = server }", &data), [2, 4]);
    assert_eq!(matching("{ span.n = 6 } &< { }", &data), [4, 6]);
    assert_eq!(matching("{ span.n = 3 } &>> { }", &data), [3, 5]);
    assert_eq!(matching("{ span.n = 5 } &<< { }", &data), [1, 3, 5]);
    assert_eq!(matching("{ span.n = 2 } &~ { }", &data), [2, 3]);
}

#[test]
fn spans_sharing_an_id_take_no_part_in_relations_and_orphans_have_no_parent() {
    use SpanKind::*;
    // Trace 1: span 4 is sent twice (different names); span 6 hangs under it.
    let mut duplicate = span(1, 4, Some(2), Internal);
    duplicate.name = "s4-again".to_string();
    let mut spans = tree();
    spans.push(duplicate);
    // Trace 2: root 1 never arrives; 2 and 3 are orphans, 4 is 2's child.
    let orphans =
        vec![span(2, 2, Some(1), Server), span(2, 3, Some(1), Server), span(2, 4, Some(2), Client)];
    let mut data = one_service(spans);
    data.push(resource_spans("api", Vec::new(), orphans));

    assert_eq!(matching("{ span.n = 2 } > { }", &data), Vec::<u8>::new());
    assert_eq!(
        matching("{ } !> { }", &data),
        [1, 4, 6],
        "4 twice, and 6 whose parent is ambiguous"
    );
    assert_eq!(matching("{ span.n = 4 } !~ { span.n = 4 }", &data), [4]);
    assert_eq!(matching("{ span.n = 1 } >> { }", &data), [2, 3, 5]);
    assert_eq!(
        matching("{ span:childCount = 0 }", &data),
        [2, 5, 6],
        "2's children are not placed"
    );
    assert_eq!(matching("{ nestedSetLeft > 0 }", &data), [1, 2, 3, 5, 6]);

    assert_eq!(spansets("{ } !> { }", &data, 2), [vec![2, 3]]);
    assert_eq!(spansets("{ } > { }", &data, 2), [vec![4]]);
    assert_eq!(
        spansets("{ } ~ { }", &data, 2),
        Vec::<Vec<u8>>::new(),
        "orphans are tops, not siblings"
    );
    assert_eq!(spansets(r#"{ rootName =~ ".*" }"#, &data, 2), Vec::<Vec<u8>>::new());
    assert_eq!(spansets(r#"{ rootServiceName = "web" }"#, &data, 1), [vec![1, 2, 3, 4, 5, 6]]);
}

#[test]
fn event_and_link_conditions_need_one_event_and_one_link_to_satisfy_them_together() {
    let mut spans = tree();
    let event = |name: &str, attempt: i64, at: u64| Event {
        time_unix_nano: START + at,
        name: name.to_string(),
        attributes: vec![kv("attempt", int_value(attempt))],
        dropped_attributes_count: 0,
    };
    spans[0].events = vec![event("retry", 1, 1_500), event("exception", 2, 1_800)];
    spans[1].events = vec![event("exception", 1, 2_100)];
    let link = |trace: u8, index: i64| Link {
        trace_id: vec![trace; 16],
        span_id: span_id(9),
        attributes: vec![kv("index", int_value(index))],
        ..Default::default()
    };
    spans[2].links = vec![link(7, 0), link(8, 1)];
    let data = one_service(spans);
    assert_eq!(matching(r#"{ event:name = "exception" && event.attempt = 1 }"#, &data), [2]);
    assert_eq!(matching(r#"{ event:name = "retry" || event.attempt = 2 }"#, &data), [1]);
    assert_eq!(matching(r#"{ !(event:name = "retry") }"#, &data), [1, 2, 3, 4, 5, 6]);
    assert_eq!(matching("{ event:timeSinceStart > 600ns }", &data), [1]);
    let seven = "07".repeat(16);
    assert_eq!(
        matching(&format!(r#"{{ link:traceID = "{seven}" && link.index = 0 }}"#), &data),
        [3]
    );
    assert_eq!(
        matching(&format!(r#"{{ link:traceID = "{seven}" && link.index = 1 }}"#), &data),
        Vec::<u8>::new()
    );
    assert_eq!(matching(r#"{ link:spanID = "0000000000000009" }"#, &data), [3]);
}

#[test]
fn spanset_and_or_need_both_or_either_side_and_unite_them() {
    let data = one_service(tree());
    assert_eq!(matching("{ span.n = 1 } && { span.n = 2 }", &data), [1, 2]);
    assert_eq!(matching("{ span.n = 1 } && { span.n = 9 }", &data), Vec::<u8>::new());
    assert_eq!(matching("{ span.n = 1 } || { span.n = 9 }", &data), [1]);
    assert_eq!(matching("{ span.n < 3 } && { span.n > 1 }", &data), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        matching("{ span.n = 1 } || { span.n = 2 } && { span.n = 9 }", &data),
        Vec::<u8>::new()
    );
}

#[test]
fn by_groups_spans_and_aggregates_filter_each_group() {
    let mut spans = tree();
    spans[0] = with_attribute(spans[0].clone(), "mixed", int_value(10));
    spans[1] = with_attribute(spans[1].clone(), "mixed", float_value(2.5));
    spans[2] = with_attribute(spans[2].clone(), "mixed", int_value(20));
    let data = one_service(spans);
    assert_eq!(spansets("{ } | by(kind)", &data, 1), [vec![1, 3, 4], vec![2, 6], vec![5]]);
    assert_eq!(spansets("{ } | by(kind) | count() > 1", &data, 1), [vec![1, 3, 4], vec![2, 6]]);
    assert_eq!(
        spansets("{ } | by(span.mixed)", &data, 1),
        [vec![1], vec![2], vec![3], vec![4, 5, 6]]
    );
    assert_eq!(spansets("{ } | by(kind) | avg(duration) > 3us", &data, 1), [vec![2, 6], vec![5]]);
    assert_eq!(spansets("{ } | by(kind) | max(duration) = 6us", &data, 1), [vec![2, 6]]);
    assert_eq!(spansets("{ } | by(kind) | min(span.n) >= 2", &data, 1), [vec![2, 6], vec![5]]);
    // sum skips values whose type differs from the first; avg still counts them.
    assert_eq!(matching("{ } | sum(span.mixed) = 30", &data), [1, 2, 3, 4, 5, 6]);
    assert_eq!(matching("{ } | avg(span.mixed) = 10", &data), [1, 2, 3, 4, 5, 6]);
    assert_eq!(
        matching("{ span.n > 3 } | sum(span.mixed) > 0", &data),
        Vec::<u8>::new(),
        "no value, no spanset"
    );
    assert_eq!(matching("{ } | count() > 1s", &data), Vec::<u8>::new());
}

#[test]
fn coalesce_merges_groups_and_select_filters_nothing() {
    let data = one_service(tree());
    assert_eq!(spansets("{ } | by(kind) | coalesce()", &data, 1), [vec![1, 2, 3, 4, 5, 6]]);
    assert_eq!(
        spansets("{ kind = client } | by(name) | count() = 1 | coalesce()", &data, 1),
        [vec![2, 6]]
    );
    assert_eq!(spansets("{ span.n > 4 } | select(span.n, status)", &data, 1), [vec![5, 6]]);
}

#[test]
fn parenthesised_pipelines_are_operands_of_spanset_operators() {
    let data = one_service(tree());
    assert_eq!(matching("({ kind = server } | count() > 2) >> ({ kind = client })", &data), [2, 6]);
    assert_eq!(
        matching("({ kind = server } | count() > 3) >> ({ kind = client })", &data),
        Vec::<u8>::new()
    );
    assert_eq!(
        matching("({ } | by(kind) | coalesce()) && ({ span.n = 1 })", &data),
        [1, 2, 3, 4, 5, 6]
    );
    let parsed = parse_and_validate("({ } | by(kind)) && ({ span.n = 1 })").expect("valid");
    let failure = Reference::new(&data).search(&parsed);
    assert!(failure.is_err(), "an operand with several spansets fails the query: {failure:?}");
}

#[test]
fn trace_level_intrinsics_hold_on_every_span_of_their_trace() {
    let mut leading_zero = [7u8; 16];
    leading_zero[0] = 0;
    let mut other = span(1, 1, None, SpanKind::Server);
    other.trace_id = leading_zero.to_vec();
    let mut data = one_service(tree());
    data.push(resource_spans("api", Vec::new(), vec![other]));
    let full_hex: String = leading_zero.iter().map(|b| format!("{b:02x}")).collect();
    let parsed = parse_and_validate(&format!(r#"{{ trace:id = "{full_hex}" }}"#)).expect("valid");
    let result = reference_search(&parsed, &data);
    let keys: Vec<&String> = result.keys().collect();
    assert_eq!(keys, [full_hex.trim_start_matches('0')], "ids compare without leading zeros");

    assert_eq!(matching(r#"{ rootName = "s1" }"#, &data), [1, 2, 3, 4, 5, 6]);
    assert_eq!(matching(r#"{ rootServiceName = "web" && kind = client }"#, &data), [2, 6]);
    assert_eq!(matching("{ traceDuration = 11us }", &data), [1, 2, 3, 4, 5, 6], "from 1µs to 12µs");
    assert_eq!(matching("{ duration * 2 > traceDuration }", &data), [6]);
}

#[test]
fn results_hold_one_entry_per_matching_trace_with_its_span_ids() {
    let mut data = one_service(tree());
    data.push(resource_spans("api", Vec::new(), vec![span(2, 1, None, SpanKind::Server)]));
    let parsed = parse_and_validate("{ span.n = 1 }").expect("valid");
    let result = reference_search(&parsed, &data);
    let expected_ids: BTreeSet<String> = ["0000000000000001".to_string()].into();
    assert_eq!(result.len(), 2);
    for sets in result.values() {
        assert_eq!(sets, &vec![expected_ids.clone()]);
    }
    assert!(result.contains_key(&"01".repeat(16)[1..]));
}
