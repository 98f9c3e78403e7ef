//! Unit tests of the Zipkin v2 to OTLP mapping.

use std::net::IpAddr;

use super::*;
use crate::model::convert::zipkin::span::Annotation;
use crate::model::convert::zipkin::test_support::{
    all_spans, bool_attr, int_attr, resource, str_attr,
};

/// A span with ids, a start and the given service and tags.
fn span(index: usize, service: &str, tags: &[(&str, &str)]) -> ZipkinSpan {
    ZipkinSpan {
        index,
        trace_id: [1; 16],
        id: [u8::try_from(index + 1).unwrap(); 8],
        parent_id: None,
        name: format!("span {index}"),
        kind: None,
        timestamp_micros: Some(1_000),
        duration_micros: 0,
        local_endpoint: Endpoint { service_name: service.into(), ..Default::default() }.non_empty(),
        remote_endpoint: None,
        annotations: Vec::new(),
        tags: tags.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect(),
    }
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|span| span.name.as_str()).collect()
}

#[test]
fn groups_spans_by_service_then_scope_in_arrival_order() {
    let request = spans_to_request(vec![
        span(0, "b", &[]),
        span(1, "a", &[("otel.library.name", "lib")]),
        span(2, "b", &[("otel.scope.name", "lib2"), ("otel.scope.version", "2")]),
        span(3, "b", &[]),
        span(4, "", &[]),
        span(5, "a", &[("otel.library.name", "lib"), ("otel.library.version", "ignored")]),
    ])
    .unwrap();
    let services: Vec<_> = request.resource_spans.iter().map(|r| r.resource.clone()).collect();
    assert_eq!(
        services,
        [
            resource(vec![str_attr("service.name", "b")]),
            resource(vec![str_attr("service.name", "a")]),
            resource(vec![])
        ]
    );
    let b_scopes = &request.resource_spans[0].scope_spans;
    assert_eq!(b_scopes.len(), 2);
    assert_eq!(
        (b_scopes[0].scope.as_ref(), names(&b_scopes[0].spans)),
        (None, vec!["span 0", "span 3"])
    );
    let lib2 = b_scopes[1].scope.as_ref().unwrap();
    assert_eq!((lib2.name.as_str(), lib2.version.as_str()), ("lib2", "2"));
    let a_scopes = &request.resource_spans[1].scope_spans;
    assert_eq!(
        (a_scopes[0].scope.as_ref().unwrap().version.as_str(), names(&a_scopes[0].spans)),
        ("", vec!["span 1", "span 5"])
    );
    assert!(
        all_spans(&request).iter().all(|span| span.attributes.is_empty()),
        "scope tags are not attributes"
    );
}

#[test]
fn resource_tags_of_the_first_span_of_a_service_go_to_the_resource_and_are_dropped_after() {
    let request = spans_to_request(vec![
        span(0, "svc", &[("host.name", "h1"), ("service.version", "7"), ("x", "1")]),
        span(1, "svc", &[("host.name", "h2"), ("x", "2")]),
        span(2, "", &[("host.name", "h3")]),
    ])
    .unwrap();
    assert_eq!(
        request.resource_spans[0].resource,
        resource(vec![
            str_attr("service.name", "svc"),
            str_attr("host.name", "h1"),
            str_attr("service.version", "7")
        ])
    );
    let spans = all_spans(&request);
    assert_eq!(spans[0].attributes, [str_attr("x", "1")]);
    assert_eq!(spans[1].attributes, [str_attr("x", "2")]);
    assert!(spans[2].attributes.is_empty());
    assert_eq!(request.resource_spans[1].resource, resource(vec![]));
}

#[test]
fn the_service_name_source_tag_and_a_service_name_tag_rename_and_override_the_service() {
    let renamed =
        spans_to_request(vec![span(0, "svc", &[("otlp.service.name.source", "peer.service")])])
            .unwrap();
    assert_eq!(renamed.resource_spans[0].resource, resource(vec![str_attr("peer.service", "svc")]));
    let overridden = spans_to_request(vec![span(0, "svc", &[("service.name", "tagged")])]).unwrap();
    assert_eq!(
        overridden.resource_spans[0].resource,
        resource(vec![str_attr("service.name", "tagged")])
    );
}

#[test]
fn maps_kinds_and_reads_the_span_kind_tag_only_without_a_kind() {
    let kinds = [
        (Some(ZipkinKind::Client), SpanKind::Client),
        (Some(ZipkinKind::Server), SpanKind::Server),
        (Some(ZipkinKind::Producer), SpanKind::Producer),
        (Some(ZipkinKind::Consumer), SpanKind::Consumer),
    ];
    for (kind, expected) in kinds {
        let request = spans_to_request(vec![ZipkinSpan {
            kind,
            ..span(0, "", &[("span.kind", "internal")])
        }])
        .unwrap();
        let mapped = all_spans(&request)[0];
        assert_eq!(mapped.kind, expected as i32);
        assert_eq!(mapped.attributes, [str_attr("span.kind", "internal")]);
    }
    let internal = spans_to_request(vec![span(0, "", &[("span.kind", "internal")])]).unwrap();
    assert_eq!(
        (all_spans(&internal)[0].kind, all_spans(&internal)[0].attributes.len()),
        (SpanKind::Internal as i32, 0)
    );
    let other = spans_to_request(vec![span(0, "", &[("span.kind", "client")])]).unwrap();
    assert_eq!(
        (all_spans(&other)[0].kind, all_spans(&other)[0].attributes.len()),
        (SpanKind::Unspecified as i32, 0)
    );
}

#[test]
fn a_parent_equal_to_the_span_or_zero_is_no_parent() {
    let own = ZipkinSpan { parent_id: Some([1; 8]), ..span(0, "", &[]) };
    let zero = ZipkinSpan { parent_id: Some([0; 8]), ..span(1, "", &[]) };
    let real = ZipkinSpan { parent_id: Some([9; 8]), ..span(2, "", &[]) };
    let request = spans_to_request(vec![own, zero, real]).unwrap();
    let parents: Vec<_> =
        all_spans(&request).iter().map(|span| span.parent_span_id.clone()).collect();
    assert_eq!(parents, [vec![], vec![], vec![9; 8]]);
}

#[test]
fn takes_the_trace_state_tag_and_maps_endpoints_with_ipv6_winning() {
    let local = Endpoint {
        service_name: "me".into(),
        ipv4: Some(IpAddr::from([10, 0, 0, 1])),
        ipv6: Some("fe80::1".parse().unwrap()),
        port: 0,
    };
    let remote = Endpoint { service_name: "db".into(), ipv4: None, ipv6: None, port: 5432 };
    let request = spans_to_request(vec![ZipkinSpan {
        local_endpoint: Some(local),
        remote_endpoint: Some(remote),
        ..span(0, "", &[("w3c.tracestate", "a=b")])
    }])
    .unwrap();
    let mapped = all_spans(&request)[0];
    assert_eq!(mapped.trace_state, "a=b");
    assert_eq!(
        mapped.attributes,
        [
            str_attr("network.local.address", "fe80::1"),
            str_attr("service.peer.name", "db"),
            int_attr("net.peer.port", 5432)
        ]
    );
}

#[test]
fn times_become_nanoseconds_and_an_absent_start_is_zero_and_marked() {
    let timed = ZipkinSpan {
        timestamp_micros: Some(1_500_000_000_000_001),
        duration_micros: 2,
        annotations: vec![Annotation {
            timestamp_micros: 1_500_000_000_000_002,
            value: "ev".into(),
        }],
        ..span(0, "", &[])
    };
    let untimed = ZipkinSpan { timestamp_micros: None, duration_micros: 3, ..span(1, "", &[]) };
    let request = spans_to_request(vec![timed, untimed]).unwrap();
    let spans = all_spans(&request);
    assert_eq!(
        (spans[0].start_time_unix_nano, spans[0].end_time_unix_nano),
        (1_500_000_000_000_001_000, 1_500_000_000_000_003_000)
    );
    assert_eq!(
        (spans[0].events[0].time_unix_nano, spans[0].events[0].name.as_str()),
        (1_500_000_000_000_002_000, "ev")
    );
    assert!(spans[0].attributes.is_empty());
    assert_eq!((spans[1].start_time_unix_nano, spans[1].end_time_unix_nano), (0, 3_000));
    assert_eq!(spans[1].attributes, [bool_attr("otel.zipkin.absentField.startTime", true)]);
}

#[test]
fn errors_name_the_span_position() {
    let bad_link = span(4, "", &[("otlp.link.0", "zz|||{}|0")]);
    let message = spans_to_request(vec![span(0, "", &[]), bad_link]).unwrap_err().to_string();
    assert_eq!(message, r#"zipkin span 4: tags["otlp.link.0"] trace id "zz" is not 32 hex digits"#);
    let late_annotation = ZipkinSpan {
        annotations: vec![Annotation { timestamp_micros: u64::MAX, value: "x".into() }],
        ..span(2, "", &[])
    };
    let message = spans_to_request(vec![late_annotation]).unwrap_err().to_string();
    assert_eq!(
        message,
        format!("zipkin span 2: annotations[0].timestamp {} is out of range", u64::MAX)
    );
}
