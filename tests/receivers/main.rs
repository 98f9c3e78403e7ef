//! Every ingest protocol Tempo accepts, driven by the official OpenTelemetry Python exporters
//! against a running node: each sends a two-span trace (typed attributes, an event, a link, an
//! error status, server and client kinds), and the trace read back by id must hold exactly
//! what the protocol can carry, mapped as the OpenTelemetry Collector maps it.
//!
//! | exporter      | attributes | event              | link | times |
//! |---------------|------------|--------------------|------|-------|
//! | OTLP gRPC/HTTP| typed      | name + attributes  | yes  | ns    |
//! | Jaeger Thrift | typed      | name + attributes  | yes  | µs    |
//! | Zipkin JSON/proto | strings | annotation text   | no   | µs    |

#[path = "../harness/mod.rs"]
mod harness;

use harness::TestNode;
use harness::clients::spans_in;
use harness::exporters::{Exporter, Sent, SentSpan, send};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use tokio::time::{Duration, Instant};

/// How a protocol carries what the application recorded.
#[derive(Clone, Copy)]
struct Carries {
    /// Attribute values keep their type (else every value is a string).
    typed: bool,
    /// Links survive.
    links: bool,
    /// Times are whole microseconds (rounded by the exporter).
    micros: bool,
    /// Event attributes survive as attributes (else the event is an annotation's text).
    event_attributes: bool,
    /// The event's name arrives as its name. The Jaeger exporter writes it to a log field
    /// `message`; the Collector (and Tempo) take a name only from `event`, so it stays an
    /// attribute `message` and the name is empty.
    event_name: bool,
    /// The status description arrives as the status message. The Zipkin exporter writes it to
    /// the `error` tag, which the Collector turns into an error status without a message (the
    /// tag stays as an attribute).
    status_message: bool,
}

const OTLP: Carries = Carries {
    typed: true,
    links: true,
    micros: false,
    event_attributes: true,
    event_name: true,
    status_message: true,
};
const JAEGER: Carries = Carries { micros: true, event_name: false, ..OTLP };
const ZIPKIN: Carries = Carries {
    typed: false,
    links: false,
    micros: true,
    event_attributes: false,
    event_name: false,
    status_message: false,
};

/// Reads the trace back (polling: the exporter returns when the node acknowledged).
async fn read_back(node: &TestNode, sent: &Sent) -> Vec<ResourceSpans> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let trace = node.tempo().trace_v2_protobuf(&sent.trace_id).await;
        if spans_in(&trace).len() >= sent.spans.len() || Instant::now() > deadline {
            return trace;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn value_text(value: &AnyValue) -> Option<String> {
    match value.value.as_ref()? {
        any_value::Value::StringValue(text) => Some(text.clone()),
        any_value::Value::IntValue(number) => Some(number.to_string()),
        any_value::Value::DoubleValue(number) => Some(number.to_string()),
        any_value::Value::BoolValue(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref())
}

/// The stored value matches the recorded JSON value, typed or as text.
fn assert_value(stored: Option<&AnyValue>, sent: &serde_json::Value, typed: bool, what: &str) {
    let stored = stored.unwrap_or_else(|| panic!("{what} is missing"));
    if !typed {
        let text = match sent {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        assert_eq!(value_text(stored).as_deref(), Some(text.as_str()), "{what}");
        return;
    }
    let expected = match sent {
        serde_json::Value::String(text) => any_value::Value::StringValue(text.clone()),
        serde_json::Value::Bool(flag) => any_value::Value::BoolValue(*flag),
        serde_json::Value::Number(number) if number.is_i64() => {
            any_value::Value::IntValue(number.as_i64().unwrap_or_default())
        }
        serde_json::Value::Number(number) => {
            any_value::Value::DoubleValue(number.as_f64().unwrap_or_default())
        }
        other => panic!("{what}: unexpected recorded value {other}"),
    };
    assert_eq!(stored.value.as_ref(), Some(&expected), "{what}");
}

fn assert_time(stored: u64, sent: u64, carries: Carries, what: &str) {
    if carries.micros {
        let difference = stored.abs_diff(sent);
        assert!(difference <= 1_000, "{what}: stored {stored}, sent {sent}");
        assert_eq!(stored % 1_000, 0, "{what}: whole microseconds");
    } else {
        assert_eq!(stored, sent, "{what}");
    }
}

fn kind_of(sent: &SentSpan) -> SpanKind {
    match sent.kind.as_str() {
        "SERVER" => SpanKind::Server,
        "CLIENT" => SpanKind::Client,
        "PRODUCER" => SpanKind::Producer,
        "CONSUMER" => SpanKind::Consumer,
        _ => SpanKind::Internal,
    }
}

fn assert_span(stored: &Span, sent: &SentSpan, carries: Carries) {
    let name = &sent.name;
    assert_eq!(hex(&stored.parent_span_id), sent.parent_span_id, "{name}: parent");
    assert_eq!(stored.kind, kind_of(sent) as i32, "{name}: kind");
    assert_time(stored.start_time_unix_nano, sent.start_ns, carries, &format!("{name}: start"));
    assert_time(stored.end_time_unix_nano, sent.end_ns, carries, &format!("{name}: end"));
    for (key, value) in &sent.attributes {
        assert_value(
            attribute(&stored.attributes, key),
            value,
            carries.typed,
            &format!("{name}: {key}"),
        );
    }
    let status = stored.status.clone().unwrap_or_default();
    if sent.status.code == "ERROR" {
        assert_eq!(status.code, StatusCode::Error as i32, "{name}: status {status:?}");
        if carries.status_message {
            assert_eq!(status.message, sent.status.description, "{name}: status message");
        } else if !sent.status.description.is_empty() {
            assert_eq!(status.message, "", "{name}: status message");
            let error = attribute(&stored.attributes, "error").and_then(value_text);
            assert_eq!(
                error.as_deref(),
                Some(sent.status.description.as_str()),
                "{name}: error tag"
            );
        }
    }
    assert_eq!(stored.events.len(), sent.events.len(), "{name}: events {:?}", stored.events);
    for (stored_event, sent_event) in stored.events.iter().zip(&sent.events) {
        assert_time(
            stored_event.time_unix_nano,
            sent_event.time_ns,
            carries,
            &format!("{name}: event time"),
        );
        if carries.event_attributes {
            if carries.event_name {
                assert_eq!(stored_event.name, sent_event.name, "{name}: event name");
            } else {
                assert_eq!(stored_event.name, "", "{name}: event name");
                let message = attribute(&stored_event.attributes, "message").and_then(value_text);
                assert_eq!(message.as_deref(), Some(sent_event.name.as_str()), "{name}: message");
            }
            for (key, value) in &sent_event.attributes {
                let what = format!("{name}: event {key}");
                assert_value(attribute(&stored_event.attributes, key), value, carries.typed, &what);
            }
        } else {
            assert!(
                stored_event.name.contains(&sent_event.name),
                "{name}: annotation {stored_event:?}"
            );
        }
    }
    if carries.links {
        let links: Vec<(String, String)> =
            stored.links.iter().map(|link| (hex(&link.trace_id), hex(&link.span_id))).collect();
        let expected: Vec<(String, String)> =
            sent.links.iter().map(|link| (link.trace_id.clone(), link.span_id.clone())).collect();
        assert_eq!(links, expected, "{name}: links");
    }
}

/// Sends through `exporter` and checks every span read back against what was recorded.
async fn round_trip(exporter: Exporter, endpoint: impl Fn(&TestNode) -> String, carries: Carries) {
    let node = TestNode::start().await;
    let service = format!("ci-{exporter:?}").to_lowercase();
    let sent = send(exporter, &endpoint(&node), &service).await;
    let trace = read_back(&node, &sent).await;
    let stored = spans_in(&trace);
    let mut stored_ids: Vec<String> = stored.iter().map(|span| hex(&span.span_id)).collect();
    let mut sent_ids: Vec<String> = sent.spans.iter().map(|span| span.span_id.clone()).collect();
    stored_ids.sort();
    sent_ids.sort();
    assert_eq!(stored_ids, sent_ids, "every span once: {trace:?}");
    for resource in &trace {
        let attributes =
            resource.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let service_name = attribute(attributes, "service.name").and_then(value_text);
        assert_eq!(service_name.as_deref(), Some(sent.service.as_str()), "service.name");
    }
    for span in stored {
        let recorded = sent.span(&span.name);
        assert_eq!(hex(&span.span_id), recorded.span_id);
        assert_eq!(hex(&span.trace_id), sent.trace_id);
        assert_span(span, recorded, carries);
    }
}

fn addr(node: &TestNode, pick: fn(spanlake::NodeAddrs) -> Option<std::net::SocketAddr>) -> String {
    pick(node.node().addrs()).expect("receiver enabled").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_grpc_exporter() {
    round_trip(Exporter::OtlpGrpc, |node| addr(node, |a| a.otlp_grpc), OTLP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_exporter() {
    round_trip(Exporter::OtlpHttp, |node| node.otlp_http_url(), OTLP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_thrift_exporter() {
    let url =
        |node: &TestNode| format!("http://{}/api/traces", addr(node, |a| a.jaeger_thrift_http));
    round_trip(Exporter::JaegerThrift, url, JAEGER).await;
}

/// The same exporter in agent mode: `emitBatch` in Thrift compact over UDP (no answer: the
/// read back polls until the spans are there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_agent_exporter_over_udp() {
    round_trip(Exporter::JaegerAgent, |node| addr(node, |a| a.jaeger_thrift_compact), JAEGER).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipkin_json_exporter() {
    let url = |node: &TestNode| format!("http://{}/api/v2/spans", addr(node, |a| a.zipkin));
    round_trip(Exporter::ZipkinJson, url, ZIPKIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zipkin_proto_exporter() {
    let url = |node: &TestNode| format!("http://{}/api/v2/spans", addr(node, |a| a.zipkin));
    round_trip(Exporter::ZipkinProto, url, ZIPKIN).await;
}

/// Malformed bodies of every protocol are answered 400 (gRPC `InvalidArgument`) with a message
/// saying what is wrong, an unknown content type 415, and nothing reaches the distributor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_refused_with_a_message() {
    use spanlake::proto::jaeger::api_v2::collector_service_client::CollectorServiceClient;
    use spanlake::proto::jaeger::api_v2::{Batch, PostSpansRequest, Span as JaegerSpan};

    let node = TestNode::start().await;
    let http = reqwest::Client::new();
    let jaeger = format!("http://{}/api/traces", addr(&node, |a| a.jaeger_thrift_http));
    let zipkin = format!("http://{}", addr(&node, |a| a.zipkin));
    let cases = [
        (jaeger.clone(), "application/x-thrift", b"\x0c\x00\x01garbage".to_vec(), 400, "jaeger"),
        (jaeger.clone(), "text/plain", b"hello".to_vec(), 415, "content type"),
        (
            format!("{zipkin}/api/v2/spans"),
            "application/json",
            b"{\"not\":\"an array\"}".to_vec(),
            400,
            "zipkin",
        ),
        (
            format!("{zipkin}/api/v2/spans"),
            "application/json",
            br#"[{"traceId":"xyz","id":"0000000000000001","name":"a"}]"#.to_vec(),
            400,
            "traceId",
        ),
        (
            format!("{zipkin}/api/v2/spans"),
            "application/x-protobuf",
            vec![0x0a, 0xff, 0x01],
            400,
            "zipkin",
        ),
        (format!("{zipkin}/api/v1/spans"), "application/json", b"[{]".to_vec(), 400, "zipkin"),
        (format!("{zipkin}/api/v1/spans"), "application/x-thrift", b"x".to_vec(), 415, "Thrift"),
    ];
    for (url, content_type, body, status, says) in cases {
        let response = http
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let code = response.status().as_u16();
        let message = response.text().await.unwrap_or_default();
        assert_eq!(code, status, "{url} ({content_type}): {message}");
        assert!(message.contains(says), "{url} ({content_type}) says {message:?}");
    }

    let grpc = format!("http://{}", addr(&node, |a| a.jaeger_grpc));
    let mut client = CollectorServiceClient::connect(grpc).await.expect("connect");
    let bad = PostSpansRequest {
        batch: Some(Batch {
            spans: vec![JaegerSpan {
                trace_id: vec![1, 2, 3],
                span_id: vec![1; 8],
                ..Default::default()
            }],
            ..Default::default()
        }),
    };
    let status = client.post_spans(bad).await.expect_err("short trace id refused");
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(!status.message().is_empty());

    let (code, _, metrics) = node.tempo().get("/metrics", None).await;
    assert_eq!(code, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    let received: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("spanlake_distributor_spans_received_total"))
        .collect();
    assert!(received.iter().all(|line| line.ends_with(" 0")), "nothing stored: {received:?}");
    // Every decode failure was counted as a refused malformed request: 5 HTTP bodies and the
    // gRPC batch (the two 415s are refused before a body is read).
    let malformed = metrics
        .lines()
        .find(|line| {
            line.starts_with("spanlake_distributor_requests_refused")
                && line.contains("reason=\"malformed\"")
        })
        .unwrap_or_else(|| panic!("no refused-request count for malformed bodies:\n{metrics}"));
    assert!(malformed.ends_with(" 6"), "{malformed}");
}

/// Each receiver can be switched off: it does not listen, and the others still do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_can_be_switched_off() {
    let node = TestNode::start_with(|config| {
        config.distributor.receivers.jaeger.protocols.thrift_http.enabled = false;
        config.distributor.receivers.jaeger.protocols.grpc.enabled = false;
        config.distributor.receivers.zipkin.enabled = false;
        config.distributor.receivers.jaeger.protocols.thrift_compact.enabled = false;
        config.distributor.receivers.jaeger.protocols.thrift_binary.enabled = false;
    })
    .await;
    let addrs = node.node().addrs();
    assert_eq!((addrs.jaeger_thrift_http, addrs.jaeger_grpc, addrs.zipkin), (None, None, None));
    assert_eq!((addrs.jaeger_thrift_compact, addrs.jaeger_thrift_binary), (None, None));
    assert!(addrs.otlp_grpc.is_some() && addrs.otlp_http.is_some());
}

/// Jaeger gRPC has no official OpenTelemetry exporter any more; a `PostSpans` from the
/// generated client (what Jaeger agents and clients send) reads back mapped as the Collector
/// maps it: process → resource, typed tags, `span.kind` → kind, `CHILD_OF` → parent, logs →
/// events, `error` → status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_grpc_post_spans_read_back() {
    use spanlake::proto::google::protobuf::{Duration as ProtoDuration, Timestamp};
    use spanlake::proto::jaeger::api_v2::collector_service_client::CollectorServiceClient;
    use spanlake::proto::jaeger::api_v2::{
        Batch, KeyValue as Tag, Log, PostSpansRequest, Process, Span as JaegerSpan, SpanRef,
        ValueType,
    };

    let node = TestNode::start().await;
    let trace_id: Vec<u8> = (1..=16).collect();
    let text = |key: &str, value: &str| Tag {
        key: key.into(),
        v_type: ValueType::String as i32,
        v_str: value.into(),
        ..Default::default()
    };
    let long = |key: &str, value: i64| Tag {
        key: key.into(),
        v_type: ValueType::Int64 as i32,
        v_int64: value,
        ..Default::default()
    };
    let flag = |key: &str, value: bool| Tag {
        key: key.into(),
        v_type: ValueType::Bool as i32,
        v_bool: value,
        ..Default::default()
    };
    let at = |seconds: i64| Some(Timestamp { seconds, nanos: 5_000 });
    let root = JaegerSpan {
        trace_id: trace_id.clone(),
        span_id: vec![0xa; 8],
        operation_name: "GET /cart".into(),
        start_time: at(1_700_000_000),
        duration: Some(ProtoDuration { seconds: 1, nanos: 0 }),
        tags: vec![text("span.kind", "server"), long("http.status_code", 200)],
        ..Default::default()
    };
    let child = JaegerSpan {
        trace_id: trace_id.clone(),
        span_id: vec![0xb; 8],
        operation_name: "SELECT cart".into(),
        references: vec![SpanRef {
            trace_id: trace_id.clone(),
            span_id: vec![0xa; 8],
            ref_type: 0,
        }],
        start_time: at(1_700_000_000),
        duration: Some(ProtoDuration { seconds: 0, nanos: 250_000_000 }),
        tags: vec![text("span.kind", "client"), flag("error", true)],
        logs: vec![Log {
            timestamp: at(1_700_000_000),
            fields: vec![text("event", "retry"), long("attempt", 2)],
        }],
        ..Default::default()
    };
    let request = PostSpansRequest {
        batch: Some(Batch {
            spans: vec![root, child],
            process: Some(Process {
                service_name: "cart".into(),
                tags: vec![text("host.name", "h1")],
            }),
        }),
    };
    let grpc = format!("http://{}", addr(&node, |a| a.jaeger_grpc));
    let mut client = CollectorServiceClient::connect(grpc).await.expect("connect");
    client.post_spans(request).await.expect("accepted");

    let trace = node.tempo().trace_v2_protobuf(&hex(&trace_id)).await;
    let resource = trace[0].resource.as_ref().expect("resource");
    assert_eq!(
        attribute(&resource.attributes, "service.name").and_then(value_text).as_deref(),
        Some("cart")
    );
    assert_eq!(
        attribute(&resource.attributes, "host.name").and_then(value_text).as_deref(),
        Some("h1")
    );
    let spans = spans_in(&trace);
    assert_eq!(spans.len(), 2);
    let root = spans.iter().find(|span| span.name == "GET /cart").expect("root");
    let child = spans.iter().find(|span| span.name == "SELECT cart").expect("child");
    assert_eq!(root.kind, SpanKind::Server as i32);
    assert_eq!(root.start_time_unix_nano, 1_700_000_000_000_005_000);
    assert_eq!(root.end_time_unix_nano, 1_700_000_001_000_005_000);
    assert_eq!(
        attribute(&root.attributes, "http.status_code").and_then(|v| v.value.clone()),
        Some(any_value::Value::IntValue(200))
    );
    assert!(attribute(&root.attributes, "span.kind").is_none(), "span.kind became the kind");
    assert_eq!(child.kind, SpanKind::Client as i32);
    assert_eq!(child.parent_span_id, vec![0xa; 8]);
    assert_eq!(child.status.as_ref().map(|s| s.code), Some(StatusCode::Error as i32));
    assert_eq!(child.events.len(), 1);
    assert_eq!(child.events[0].name, "retry");
    assert_eq!(
        attribute(&child.events[0].attributes, "attempt").and_then(|v| v.value.clone()),
        Some(any_value::Value::IntValue(2))
    );
}
