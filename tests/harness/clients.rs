//! Real clients on real ports: OTLP/gRPC (tonic), OTLP/HTTP and Tempo's query API (reqwest).

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use prost::Message;
use spanlake::proto::tempopb;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

/// An OTLP/gRPC exporter connection (gzip, as SDKs send by default when configured).
pub struct OtlpGrpc {
    client: TraceServiceClient<Channel>,
}

impl OtlpGrpc {
    /// Connects to `url` (`http://host:port`).
    pub async fn connect(url: &str) -> OtlpGrpc {
        let channel = Channel::from_shared(url.to_string())
            .expect("valid url")
            .connect()
            .await
            .expect("connect to OTLP/gRPC");
        let client = TraceServiceClient::new(channel)
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Gzip);
        OtlpGrpc { client }
    }

    /// Exports one request, optionally as tenant `tenant`.
    pub async fn export(
        &mut self,
        request: ExportTraceServiceRequest,
        tenant: Option<&str>,
    ) -> Result<ExportTraceServiceResponse, tonic::Status> {
        let mut grpc_request = tonic::Request::new(request);
        if let Some(tenant) = tenant {
            grpc_request
                .metadata_mut()
                .insert("x-scope-orgid", tenant.parse().expect("ascii tenant"));
        }
        self.client.export(grpc_request).await.map(tonic::Response::into_inner)
    }
}

/// Gzip-compresses a body.
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(body).expect("gzip in memory");
    encoder.finish().expect("gzip in memory")
}

/// Posts an OTLP/HTTP body; returns status, headers and body.
pub async fn post_otlp_http(
    url: &str,
    content_type: &str,
    content_encoding: Option<&str>,
    body: Vec<u8>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request =
        reqwest::Client::new().post(url).header("content-type", content_type).body(body);
    if let Some(encoding) = content_encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await.expect("OTLP/HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("response body").to_vec();
    (status, headers, body)
}

/// Posts a request as OTLP/HTTP protobuf and expects success.
pub async fn must_post_protobuf(url: &str, request: &ExportTraceServiceRequest) {
    let (status, _, body) =
        post_otlp_http(url, "application/x-protobuf", None, request.encode_to_vec()).await;
    assert_eq!(status, 200, "OTLP/HTTP protobuf refused: {}", String::from_utf8_lossy(&body));
}

/// Reads Tempo's query API.
pub struct TempoClient {
    base: String,
    http: reqwest::Client,
}

impl TempoClient {
    /// A reader for the query API at `base` (`http://host:port`).
    pub fn new(base: String) -> TempoClient {
        TempoClient { base, http: reqwest::Client::new() }
    }

    /// `GET base + path` with an optional `Accept`; returns status, content type and body.
    pub async fn get(&self, path: &str, accept: Option<&str>) -> (u16, String, Vec<u8>) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("query API request");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_string();
        (status, content_type, response.bytes().await.expect("body").to_vec())
    }

    /// `GET /api/v2/traces/{id}` in protobuf; the trace's resource spans (empty if unknown).
    pub async fn trace_v2_protobuf(&self, trace_id_hex: &str) -> Vec<ResourceSpans> {
        let (status, _, body) =
            self.get(&format!("/api/v2/traces/{trace_id_hex}"), Some("application/protobuf")).await;
        assert_eq!(status, 200, "v2 trace lookup: {}", String::from_utf8_lossy(&body));
        let response =
            tempopb::TraceByIdResponse::decode(body.as_slice()).expect("TraceByIDResponse");
        response.trace.expect("trace field is always present").resource_spans
    }

    /// `GET /api/traces/{id}` in protobuf; `None` on 404.
    pub async fn trace_v1_protobuf(&self, trace_id_hex: &str) -> Option<Vec<ResourceSpans>> {
        let (status, _, body) =
            self.get(&format!("/api/traces/{trace_id_hex}"), Some("application/protobuf")).await;
        if status == 404 {
            return None;
        }
        assert_eq!(status, 200, "v1 trace lookup: {}", String::from_utf8_lossy(&body));
        Some(tempopb::Trace::decode(body.as_slice()).expect("tempopb.Trace").resource_spans)
    }

    /// `GET path` as JSON.
    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, _, body) = self.get(path, None).await;
        let value = if body.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or_else(|error| {
                panic!("{path} did not return JSON ({error}): {}", String::from_utf8_lossy(&body))
            })
        };
        (status, value)
    }
}

/// Every span of a trace, flattened.
pub fn spans_in(resource_spans: &[ResourceSpans]) -> Vec<&Span> {
    resource_spans.iter().flat_map(|rs| &rs.scope_spans).flat_map(|ss| &ss.spans).collect()
}
