//! Unit tests of the Zipkin tag rules.

use super::*;
use crate::model::convert::zipkin::test_support::{
    bool_attr, bytes, double_attr, int_attr, str_attr,
};

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect()
}

fn keys(tags: &BTreeMap<String, String>) -> Vec<&str> {
    tags.keys().map(String::as_str).collect()
}

fn status(code: StatusCode, message: &str) -> Option<Status> {
    Some(Status { code: code as i32, message: message.to_string() })
}

#[test]
fn resource_keys_are_unique_and_scope_tags_are_not_span_attributes() {
    assert_eq!(RESOURCE_TAGS.len(), RESOURCE_TAG_KEYS.len(), "a key is listed twice");
    assert!(is_resource_tag("service.name") && is_resource_tag("k8s.pod.name"));
    assert!(!is_resource_tag("otel.library.name") && !is_resource_tag("http.method"));
    for key in [
        SERVICE_NAME_SOURCE_TAG,
        LIBRARY_NAME_TAG,
        LIBRARY_VERSION_TAG,
        SCOPE_NAME_TAG,
        SCOPE_VERSION_TAG,
    ] {
        assert!(is_non_span_tag(key), "{key}");
    }
    assert!(!is_non_span_tag("error"));
}

#[test]
fn the_scope_is_named_by_otel_scope_tags_before_otel_library_tags() {
    let both = tags(&[
        ("otel.library.name", "old"),
        ("otel.scope.name", "new"),
        ("otel.library.version", "1"),
    ]);
    assert_eq!((scope_name(&both), scope_version(&both)), ("new", "1"));
    assert_eq!(scope_name(&tags(&[])), "");
}

#[test]
fn the_status_code_tag_sets_the_code_and_takes_its_description() {
    let mut ok = tags(&[
        ("otel.status_code", "STATUS_CODE_OK"),
        ("otel.status_description", "fine"),
        ("x", "1"),
    ]);
    assert_eq!(take_status(&mut ok), status(StatusCode::Ok, "fine"));
    assert_eq!(keys(&ok), ["x"]);
    // The old Zipkin exporter's names are read too; unknown names are unset.
    assert_eq!(
        take_status(&mut tags(&[("otel.status_code", "Error")])),
        status(StatusCode::Error, "")
    );
    let mut unknown = tags(&[("otel.status_code", "BAD"), ("otel.status_description", "d")]);
    assert_eq!(take_status(&mut unknown), status(StatusCode::Unset, "d"));
    assert!(unknown.is_empty());
}

#[test]
fn a_description_without_a_code_stays_an_attribute() {
    let mut only_description = tags(&[("otel.status_description", "d")]);
    assert_eq!(take_status(&mut only_description), None);
    assert_eq!(keys(&only_description), ["otel.status_description"]);
}

#[test]
fn any_error_tag_is_an_error_status_and_only_error_true_is_consumed() {
    let mut error_true = tags(&[("error", "true")]);
    assert_eq!(take_status(&mut error_true), status(StatusCode::Error, ""));
    assert!(error_true.is_empty());
    let mut error_message =
        tags(&[("error", "connection refused"), ("otel.status_code", "STATUS_CODE_OK")]);
    assert_eq!(take_status(&mut error_message), status(StatusCode::Error, ""));
    assert_eq!(keys(&error_message), ["error"]);
    // The Collector's rule, kept: even `error=false` is an error.
    assert_eq!(take_status(&mut tags(&[("error", "false")])), status(StatusCode::Error, ""));
}

#[test]
fn links_are_read_from_contiguous_otlp_link_tags() {
    let mut with_links = tags(&[
        (
            "otlp.link.0",
            "0102030405060708090a0b0c0d0e0f10|1112131415161718|k=v|{\"a\":\"b|c\",\"n\":2}|3",
        ),
        ("otlp.link.1", "too|few|parts"),
        ("otlp.link.2", "\"0102030405060708090a0b0c0d0e0f10\"|||null|0"),
        ("otlp.link.4", "after a gap, never read"),
    ]);
    let links = take_links(&mut with_links).unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(
        links[0],
        Link {
            trace_id: bytes("0102030405060708090a0b0c0d0e0f10"),
            span_id: bytes("1112131415161718"),
            trace_state: "k=v".into(),
            attributes: vec![str_attr("a", "b|c"), int_attr("n", 2)],
            dropped_attributes_count: 3,
            flags: 0,
        }
    );
    assert!(links[1].span_id.is_empty() && links[1].attributes.is_empty());
    assert_eq!(keys(&with_links), ["otlp.link.4"]);
}

#[test]
fn a_malformed_link_is_an_error_naming_its_tag() {
    let bad_id = take_links(&mut tags(&[("otlp.link.0", "0102|1112131415161718|||0")]));
    assert_eq!(bad_id.unwrap_err(), r#"tags["otlp.link.0"] trace id "0102" is not 32 hex digits"#);
    let bad_json = take_links(&mut tags(&[("otlp.link.0", "||s|[1]|0")]));
    assert_eq!(bad_json.unwrap_err(), r#"tags["otlp.link.0"] attributes are not a JSON object"#);
    let bad_count = take_links(&mut tags(&[("otlp.link.0", "|||{}|-1")]));
    assert_eq!(bad_count.unwrap_err(), r#"tags["otlp.link.0"] dropped count "-1" is not a number"#);
}

#[test]
fn annotations_in_the_exporter_form_carry_event_attributes() {
    let parts = event_from_annotation(
        r#"retry|{"attempt":2,"ratio":0.5,"ok":true,"who":"me","skip":null,"list":[1]}|1"#.into(),
    );
    assert_eq!(
        parts,
        EventParts {
            name: "retry".into(),
            attributes: vec![
                int_attr("attempt", 2),
                bool_attr("ok", true),
                double_attr("ratio", 0.5),
                str_attr("who", "me"),
            ],
            dropped_attributes_count: 1,
        }
    );
    assert_eq!(event_from_annotation("a|null|0".into()).name, "a");
}

#[test]
fn other_annotations_are_whole_event_names() {
    for value in ["ws", "GET /a|b", "a|not json|0", "a|{}|x", ""] {
        let parts = event_from_annotation(value.into());
        assert_eq!((parts.name.as_str(), parts.attributes.len()), (value, 0));
    }
}
