//! Malformed input of every kind gets a 4xx whose message says what was wrong; nothing is
//! stored, and the node keeps serving afterwards.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use crate::harness::TestNode;
use crate::harness::clients::{OtlpGrpc, gzip, must_post_protobuf, post_otlp_http};
use crate::harness::spans::{self, hex};

/// Posts and returns (status, body as text); JSON error bodies are `{"code","message"}`.
async fn post_json(node: &TestNode, body: &str) -> (u16, String) {
    let (status, _, body) =
        post_otlp_http(&node.otlp_http_url(), "application/json", None, body.as_bytes().to_vec())
            .await;
    (status, String::from_utf8_lossy(&body).to_string())
}

fn with_ids(trace_id: Vec<u8>, span_id: Vec<u8>) -> ExportTraceServiceRequest {
    let mut request = spans::request(&[900], 1);
    let span = &mut request.resource_spans[0].scope_spans[0].spans[0];
    span.trace_id = trace_id;
    span.span_id = span_id;
    request
}

/// Every malformed ingest body is refused with 400/413 and a message naming the problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ingest_is_refused_with_a_message() {
    let node =
        TestNode::start_with(|config| config.distributor.max_request_bytes = 64 * 1024).await;
    let url = node.otlp_http_url();

    tracing::info!("--- garbage protobuf");
    let (status, _, body) =
        post_otlp_http(&url, "application/x-protobuf", None, vec![0xff, 0xff, 0xff, 0x0f]).await;
    assert_eq!(status, 400);
    let error = spanlake_rpc_status_message(&body);
    assert!(error.contains("invalid OTLP protobuf body"), "{error}");

    tracing::info!("--- invalid JSON and base64 ids");
    let (status, body) = post_json(&node, "{\"resourceSpans\": [").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("message"), "{body}");
    let base64_ids = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W47/95gDgQPSabYzgT/HAA==","spanId":"7uGbfsPBsQA="}]}]}]}"#;
    let (status, body) = post_json(&node, base64_ids).await;
    assert_eq!(status, 400);
    assert!(body.contains("spans[0].spanId: not hex"), "the message names the field: {body}");

    tracing::info!("--- wrong id lengths and a zero span id, in protobuf and over gRPC");
    let short_trace = with_ids(vec![1; 8], vec![1; 8]);
    let (status, _, body) =
        post_otlp_http(&url, "application/x-protobuf", None, short_trace.encode_to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(spanlake_rpc_status_message(&body), "trace ids must be 128 bit, received 64 bits");
    let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    let refused = grpc.export(with_ids(vec![1; 16], vec![0; 8]), None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().starts_with("span ids must be 64 bit and not all zero"),
        "{}",
        refused.message()
    );
    let long_span = with_ids(vec![1; 16], vec![1; 12]);
    let refused = grpc.export(long_span, None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    tracing::info!("--- one bad span among good ones: partial success, the good ones kept");
    let mut mixed = spans::request(&[901], 2);
    mixed.resource_spans[0].scope_spans[0].spans[1].span_id = vec![0; 8];
    let response = grpc.export(mixed, None).await.expect("partially accepted");
    let partial = response.partial_success.expect("partial success reported");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("span ids must be 64 bit"));
    assert_eq!(node.tempo().trace_v2_protobuf(&hex(&spans::trace_id(901))).await.len(), 1);

    tracing::info!("--- oversized bodies: plain, gzip bomb, gRPC");
    let (status, _, body) =
        post_otlp_http(&url, "application/x-protobuf", None, vec![0u8; 100 * 1024]).await;
    assert_eq!(status, 413);
    assert!(spanlake_rpc_status_message(&body).contains("exceeds the limit of 65536 bytes"));
    let bomb = gzip(&vec![0u8; 10 * 1024 * 1024]);
    let (status, _, _) = post_otlp_http(&url, "application/x-protobuf", Some("gzip"), bomb).await;
    assert_eq!(status, 413);
    let huge = spans::request(&(1000..1300).collect::<Vec<_>>(), 1);
    let refused = grpc.export(huge, None).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted, "{}", refused.message());

    tracing::info!("--- unsupported media type and encoding");
    let (status, _, _) = post_otlp_http(&url, "text/plain", None, b"hello".to_vec()).await;
    assert_eq!(status, 415);
    let (status, _, _) = post_otlp_http(&url, "application/x-protobuf", Some("br"), vec![1]).await;
    assert_eq!(status, 400);

    tracing::info!("--- nothing malformed was stored; the node still serves");
    assert!(node.tempo().trace_v2_protobuf(&hex(&spans::trace_id(900))).await.is_empty());
    must_post_protobuf(&url, &spans::request(&[902], 1)).await;
    assert_eq!(node.tempo().trace_v2_protobuf(&hex(&spans::trace_id(902))).await.len(), 1);
}

/// Bad trace ids in the path and unknown routes get Tempo's answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_query_paths_are_refused_with_tempo_texts() {
    let node = TestNode::start().await;
    let tempo = node.tempo();
    let (status, _, body) = tempo.get("/api/traces/12x4", None).await;
    assert_eq!(status, 400);
    assert_eq!(
        String::from_utf8_lossy(&body).trim(),
        "trace IDs can only contain hex characters: invalid character 'x' at position 3"
    );
    let (status, _, body) = tempo.get(&format!("/api/v2/traces/{}", "a".repeat(33)), None).await;
    assert_eq!(status, 400);
    assert_eq!(String::from_utf8_lossy(&body).trim(), "trace IDs can't be larger than 128 bits");
    let (status, _, body) = tempo.get("/api/traces/abcd?start=20&end=10", None).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("start must be before end"));
    let (status, _, body) = tempo.get("/api/traces/abcd?start=yesterday", None).await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("invalid start"));
    let (status, _, body) = tempo.get("/api/no/such/route", None).await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("/api/no/such/route"));
    let (status, _, _) = tempo.get("/ready", None).await;
    assert_eq!(status, 200, "still serving");
}

/// Decodes an OTLP/HTTP protobuf error body (`google.rpc.Status`) and returns its message.
fn spanlake_rpc_status_message(body: &[u8]) -> String {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    RpcStatus::decode(body).expect("a google.rpc.Status body").message
}
