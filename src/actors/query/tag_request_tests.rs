//! Validation of tag requests: scopes, tag identifiers, `q`, windows, and every 400 text.

use super::*;
use crate::traceql::ast::{Attribute, AttributeScope, Intrinsic};

/// Tempo's default bounds: 168h windows.
const DEFAULT_BOUNDS: TagRequestBounds = TagRequestBounds {
    timeout: Duration::from_secs(1),
    max_window: Some(Duration::from_secs(168 * 3600)),
};

fn tags(scope: &str, query: &str, start: u32, end: u32) -> Result<TagsQuery, String> {
    tags_within(DEFAULT_BOUNDS, scope, query, start, end)
}

fn tags_within(
    bounds: TagRequestBounds,
    scope: &str,
    query: &str,
    start: u32,
    end: u32,
) -> Result<TagsQuery, String> {
    let request = tempopb::SearchTagsRequest {
        scope: scope.into(),
        query: query.into(),
        start,
        end,
        max_tags_per_scope: 7,
        stale_values_threshold: 3,
    };
    TagsQuery::from_request(&request, true, vec![TenantId::single_tenant()], bounds)
        .map_err(|error| error.to_string())
}

fn values(tag: &str, query: &str, v2: bool) -> Result<TagValuesQuery, String> {
    let request = tempopb::SearchTagValuesRequest {
        tag_name: tag.into(),
        query: query.into(),
        ..Default::default()
    };
    TagValuesQuery::from_request(&request, v2, vec![TenantId::single_tenant()], DEFAULT_BOUNDS)
        .map_err(|error| error.to_string())
}

#[test]
fn scopes_are_tempos_list() {
    let scope = |text: &str| tags(text, "", 0, 0).map(|query| query.scope);
    assert_eq!(scope(""), Ok(ScopeChoice::All));
    assert_eq!(scope("none"), Ok(ScopeChoice::All));
    assert_eq!(scope("intrinsic"), Ok(ScopeChoice::Intrinsic));
    assert_eq!(scope("trace"), Ok(ScopeChoice::Trace));
    for (text, expected) in [
        ("span", TagScope::Span),
        ("resource", TagScope::Resource),
        ("event", TagScope::Event),
        ("link", TagScope::Link),
        ("instrumentation", TagScope::Instrumentation),
    ] {
        assert_eq!(scope(text), Ok(ScopeChoice::Attribute(expected)));
    }
    assert_eq!(scope("spans").unwrap_err(), "invalid scope: spans");
    assert_eq!(scope("Span").unwrap_err(), "invalid scope: Span");
}

#[test]
fn limits_and_windows_come_from_the_request() {
    let query = tags("", "", 1_700_000_000, 1_700_000_060).unwrap();
    assert_eq!(query.limits, CollectLimits { limit: 7, max_stale: 3, max_bytes: MAX_ANSWER_BYTES });
    assert_eq!(query.window, Some((1_700_000_000_000_000_000, 1_700_000_060_999_999_999)));
    assert_eq!(tags("", "", 0, 0).unwrap().window, None, "no window: live data only");
    assert_eq!(tags("", "", 0, 100).unwrap().window, None, "both ends are needed for blocks");
    assert_eq!(
        tags("", "", 100, 100 + 168 * 3600 + 1).unwrap_err(),
        "range specified by start and end exceeds 168h0m0s. received start=100 end=604901"
    );
    assert_eq!(
        tags("", "", 200, 100).unwrap_err(),
        "range specified by start and end exceeds 168h0m0s. received start=200 end=100",
        "an end before the start wraps, as in Tempo"
    );
}

#[test]
fn the_window_cap_is_the_configured_max_duration() {
    let bounds = |max_window| TagRequestBounds { timeout: Duration::from_secs(1), max_window };
    let ninety_minutes = bounds(Some(Duration::from_secs(90 * 60)));
    assert!(tags_within(ninety_minutes, "", "", 1000, 1000 + 90 * 60).is_ok(), "at the cap");
    assert_eq!(
        tags_within(ninety_minutes, "", "", 1000, 1000 + 90 * 60 + 1).unwrap_err(),
        "range specified by start and end exceeds 1h30m0s. received start=1000 end=6401"
    );
    assert_eq!(
        tags_within(ninety_minutes, "", "", 0, 5401).unwrap_err(),
        "range specified by start and end exceeds 1h30m0s. received start=0 end=5401",
        "checked even when only one end is set, as in Tempo"
    );
    let values_request = tempopb::SearchTagValuesRequest {
        tag_name: "span.x".into(),
        start: 10,
        end: 20,
        ..Default::default()
    };
    let nine_seconds = bounds(Some(Duration::from_secs(9)));
    let error = TagValuesQuery::from_request(&values_request, true, Vec::new(), nine_seconds)
        .unwrap_err()
        .to_string();
    assert_eq!(error, "range specified by start and end exceeds 9s. received start=10 end=20");
    let unlimited = bounds(None);
    let year = tags_within(unlimited, "", "", 1, 1 + 366 * 86_400).unwrap();
    assert_eq!(
        year.window,
        Some((1_000_000_000, (1 + 366 * 86_400) * 1_000_000_000 + 999_999_999))
    );
    assert!(tags_within(unlimited, "", "", 200, 100).is_ok(), "0s: no cap, even wrapped");
    assert_eq!(year.timeout, Duration::from_secs(1), "the timeout comes from the bounds");
}

#[test]
fn q_is_one_filter_or_nothing() {
    let filter = |q: &str| tags("", q, 0, 0).unwrap().filter.map(|query| query.to_string());
    assert_eq!(filter(""), None);
    assert_eq!(filter("{}"), None, "trivially true");
    assert_eq!(filter("{ true }"), None);
    assert_eq!(filter("{ 1 = 1 }"), None, "folded to true");
    assert_eq!(filter("{ resource.env = \"prod\" && span.x = }"), None, "incomplete: ignored");
    assert_eq!(filter("{ .a = 1 } >> { .b = 2 }"), None, "not one filter: ignored");
    assert_eq!(filter("garbage"), None);
    assert_eq!(filter("{ .a = 1 } | count() > 1").as_deref(), Some("{ .a = 1 }"), "first stage");
    assert_eq!(filter("{ .a = 1 || .b = 2 }").as_deref(), Some("{ .a = 1 || .b = 2 }"));
}

#[test]
fn too_many_or_groups_and_too_long_a_query_are_refused() {
    let ors = (0..101).map(|n| format!(".a = {n}")).collect::<Vec<_>>().join(" || ");
    let expected = "maximum condition groups reached (limit: 100). Reduce the number of OR conditions in the query";
    assert_eq!(tags("", &format!("{{ {ors} }}"), 0, 0).unwrap_err(), expected);
    let product = "{ (.a = 1 || .a = 2) && (.b = 1 || .b = 2) }";
    assert!(tags("", product, 0, 0).unwrap().filter.is_some(), "4 groups are fine");
    let eleven = (0..11).map(|n| format!(".a{n} = 1")).collect::<Vec<_>>().join(" || ");
    let squared = format!("{{ ({eleven}) && ({}) }}", eleven.replace(".a", ".b"));
    assert_eq!(tags("", &squared, 0, 0).unwrap_err(), expected, "11 × 11 > 100");
    assert_eq!(values(".x", &format!("{{ {ors} }}"), true).unwrap_err(), expected);
    let huge = format!("{{ .a = \"{}\" }}", "x".repeat(MAX_QUERY_BYTES));
    assert!(
        tags("", &huge, 0, 0)
            .unwrap_err()
            .starts_with("TraceQL expression exceeds the configured maximum size of 131072 bytes")
    );
}

#[test]
fn v2_tags_must_be_field_references() {
    let field = |tag: &str| match values(tag, "", true).map(|query| query.tag) {
        Ok(TagName::Field(field)) => Ok(field),
        Ok(other) => panic!("{other:?}"),
        Err(error) => Err(error),
    };
    let attribute = |scope, name: &str| {
        FieldRef::Attribute(Attribute { scope, parent: false, name: name.to_string() })
    };
    assert_eq!(
        field("resource.service.name"),
        Ok(attribute(AttributeScope::Resource, "service.name"))
    );
    assert_eq!(field(".http.method"), Ok(attribute(AttributeScope::None, "http.method")));
    assert_eq!(field("span.\"a b\""), Ok(attribute(AttributeScope::Span, "a b")));
    assert_eq!(field("span.attr/slash"), Ok(attribute(AttributeScope::Span, "attr/slash")));
    assert_eq!(field("name"), Ok(FieldRef::Intrinsic(Intrinsic::Name)));
    assert_eq!(field("span:status"), Ok(FieldRef::Intrinsic(Intrinsic::Status)));
    assert_eq!(field("rootServiceName"), Ok(FieldRef::Intrinsic(Intrinsic::TraceRootService)));
    let error = field("app.user.id").unwrap_err();
    assert!(
        error.starts_with("please provide a valid tagName: failed to parse identifier app.user.id: parse error at line 1, col 2"),
        "{error}"
    );
    let error = field("span.x = 1").unwrap_err();
    assert_eq!(
        error,
        "please provide a valid tagName: failed to parse identifier span.x = 1: expected an attribute or intrinsic"
    );
    assert!(field("span.x } || { span.y").is_err(), "one reference, nothing else");
    assert_eq!(values("", "", true).unwrap_err(), "please provide a non-empty tagName");
}

#[test]
fn v1_tags_are_taken_as_they_are_and_ignore_q() {
    let query = values("app.user.id", "{ .a = 1 }", false).unwrap();
    assert_eq!(query.tag, TagName::Plain("app.user.id".into()));
    assert!(query.filter.is_none());
    let request = tempopb::SearchTagsRequest { query: "{ .a = 1 }".into(), ..Default::default() };
    let v1 = TagsQuery::from_request(&request, false, Vec::new(), DEFAULT_BOUNDS).unwrap();
    assert!(v1.filter.is_none());
}
