//! Tests of the tag search translation: the query each tag gives (compared with the parsed
//! TraceQL it stands for), and which traces it finds when the engine runs it.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::*;
use crate::model::ids::TraceId;
use crate::traceql::{EvalTrace, SearchPlan, parse_and_validate};

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The query for `text` (logfmt) and duration bounds, checked against the TraceQL written
/// out by hand: both must give the same tree, and the translation must be a valid query.
fn assert_translates(text: &str, min: Option<u64>, max: Option<u64>, traceql: &str) {
    let translated = tags_to_query(&parse_tags(text).unwrap(), min, max).unwrap();
    let expected = parse_and_validate(traceql).unwrap_or_else(|e| panic!("{traceql}: {e}"));
    assert_eq!(translated, expected, "{text:?} gave {translated}");
    crate::traceql::validate(&translated).unwrap();
}

#[test]
fn each_key_gets_tempos_kind_of_match() {
    let cases = [
        ("service.name=cart", r#"{ resource.service.name =~ ".*cart.*" }"#),
        ("k8s.pod.name=web-1", r#"{ resource.k8s.pod.name =~ ".*web\\-1.*" }"#),
        ("cluster=eu", r#"{ resource.cluster =~ ".*eu.*" }"#),
        ("root.service.name=shop", r#"{ trace:rootService =~ ".*shop.*" }"#),
        ("root.name=GET", r#"{ trace:rootName =~ ".*GET.*" }"#),
        (r#"name="GET /a.b""#, r#"{ name =~ ".*GET /a\\.b.*" }"#),
        (r#"http.url="/cart?x=1""#, r#"{ span.http.url =~ ".*/cart\\?x=1.*" }"#),
        ("http.method=GET", r#"{ span.http.method =~ ".*GET.*" }"#),
        ("http.status_code=500", "{ span.http.status_code = 500 }"),
        (
            "http.status_code=5xx",
            r#"{ span.http.status_code = "5xx" || resource.http.status_code = "5xx" }"#,
        ),
        ("status.code=error", "{ status = error }"),
        ("status.code=unset", "{ status = unset }"),
        (r#"team="a b""#, r#"{ span.team = "a b" || resource.team = "a b" }"#),
        ("error", r#"{ span.error = "" || resource.error = "" }"#),
        ("name=", r#"{ name =~ ".*.*" }"#),
    ];
    for (text, traceql) in cases {
        assert_translates(text, None, None, traceql);
    }
}

#[test]
fn tags_and_durations_join_as_separate_spansets() {
    assert_translates(
        "team=a service.name=cart",
        Some(1_000_000_000),
        None,
        r#"{ resource.service.name =~ ".*cart.*" } && { span.team = "a" || resource.team = "a" }
           && { traceDuration >= 1s }"#,
    );
    assert_translates(
        "",
        Some(5_000_000),
        Some(2_000_000_000),
        "{ traceDuration >= 5ms && traceDuration <= 2s }",
    );
    assert_translates("", None, Some(1), "{ traceDuration <= 1ns }");
    assert_translates("", None, None, "{ true }");
}

#[test]
fn bad_tags_are_named() {
    let error = |text: &str| match parse_tags(text).map(|t| tags_to_query(&t, None, None)) {
        Ok(Ok(query)) => panic!("{text:?} gave {query}"),
        Ok(Err(error)) | Err(error) => error.to_string(),
    };
    assert_eq!(error("a=1 b=2 a=3"), "tag a has been set twice");
    assert_eq!(
        error("status.code=broken"),
        r#"status.code must be unset, ok or error, got "broken""#
    );
    assert_eq!(error("a=\"open"), "unterminated quoted value at pos 8");
}

// --- what the queries find --------------------------------------------------------------------

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }),
        ..Default::default()
    }
}

/// A 2-second trace: `frontend` root `GET /cart` (resource `team=web`), and its child
/// `cart.get` in `cart-service`, failing with HTTP 500 and span attribute `plan="free tier"`.
fn shop_trace() -> EvalTrace {
    let span = |id: u8, parent: u8, name: &str, end_s: u64, attributes, error: bool| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        parent_span_id: if parent == 0 { Vec::new() } else { vec![parent; 8] },
        name: name.into(),
        start_time_unix_nano: 1_000_000_000,
        end_time_unix_nano: end_s * 1_000_000_000,
        attributes,
        status: Some(opentelemetry_proto::tonic::trace::v1::Status {
            code: if error { StatusCode::Error } else { StatusCode::Ok } as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    let resource = |attributes, spans| ResourceSpans {
        resource: Some(Resource { attributes, ..Default::default() }),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    };
    EvalTrace::from_otlp(
        TraceId([7; 16]),
        vec![
            resource(
                vec![text("service.name", "frontend"), text("team", "web")],
                vec![span(1, 0, "GET /cart", 3, vec![int("http.status_code", 200)], false)],
            ),
            resource(
                vec![text("service.name", "cart-service")],
                vec![span(
                    2,
                    1,
                    "cart.get",
                    2,
                    vec![int("http.status_code", 500), text("plan", "free tier")],
                    true,
                )],
            ),
        ],
    )
}

fn finds(pairs: &[(&str, &str)], min: Option<u64>, max: Option<u64>) -> bool {
    let query = tags_to_query(&tags(pairs), min, max).unwrap();
    let plan = SearchPlan::new(&query).unwrap();
    !plan.run(&shop_trace()).unwrap().is_empty()
}

#[test]
fn the_engine_finds_what_tempo_would() {
    let second = 1_000_000_000;
    let found = [
        vec![("service.name", "cart")],
        vec![("service.name", "frontend"), ("name", "cart.get")],
        vec![("root.service.name", "front"), ("root.name", "/cart")],
        vec![("plan", "free tier"), ("team", "web")],
        vec![("http.status_code", "500"), ("status.code", "error")],
        vec![("name", "")],
        vec![],
    ];
    for pairs in found {
        assert!(finds(&pairs, None, None), "{pairs:?} should find the trace");
    }
    let not_found = [
        vec![("service.name", "Cart")],
        vec![("plan", "free")],
        vec![("team", "we")],
        vec![("http.status_code", "404")],
        vec![("root.service.name", "cart")],
        vec![("nope", "")],
    ];
    for pairs in not_found {
        assert!(!finds(&pairs, None, None), "{pairs:?} should not find the trace");
    }
    assert!(finds(&[("plan", "free tier")], Some(2 * second), Some(2 * second)));
    assert!(!finds(&[("plan", "free tier")], Some(2 * second + 1), None));
    assert!(!finds(&[], None, Some(2 * second - 1)));
}
