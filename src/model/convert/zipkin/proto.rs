//! Zipkin v2 protobuf (`POST /api/v2/spans`, `application/x-protobuf`): a
//! `zipkin.proto3.ListOfSpans` (`proto/zipkin/zipkin.proto`).
//!
//! ```text
//!  ListOfSpans bytes ── prost ──► [proto Span] ──► [ZipkinSpan] ──► to_otlp::spans_to_request
//!                                  ids and IPs are raw big-endian bytes
//! ```
//!
//! Ids are raw bytes: a trace id of 8 or 16 bytes (8 is a 64-bit id, left-padded), a span id
//! of 8, a parent id of 0 or 8. Addresses are 4 or 16 bytes, a port 0 to 65535. Zero times
//! are absent, as the proto's comments define them. The `X-B3-Flags` debug flag, which the
//! Collector copies into `debug`, changes nothing stored, so it is not taken here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::span::{Annotation, Endpoint, ZipkinKind, ZipkinSpan};
use super::to_otlp::spans_to_request;
use super::{ZipkinError, invalid_span};
use crate::proto::zipkin;
use crate::proto::zipkin::span::Kind;

/// Decodes a Zipkin v2 protobuf body (`ListOfSpans`) into an OTLP export request.
pub fn decode_v2_proto(body: &[u8]) -> Result<ExportTraceServiceRequest, ZipkinError> {
    let list = zipkin::ListOfSpans::decode(body)?;
    let spans = list
        .spans
        .into_iter()
        .enumerate()
        .map(|(index, span)| decode_span(index, span))
        .collect::<Result<Vec<_>, _>>()?;
    spans_to_request(spans)
}

fn decode_span(index: usize, span: zipkin::Span) -> Result<ZipkinSpan, ZipkinError> {
    let trace_id = match span.trace_id.len() {
        0 => return Err(invalid_span(index, "trace_id is missing")),
        8 | 16 => left_padded::<16>(&span.trace_id),
        other => {
            return Err(invalid_span(
                index,
                format!("trace_id must be 8 or 16 bytes, got {other}"),
            ));
        }
    };
    let id = match span.id.len() {
        0 => return Err(invalid_span(index, "id is missing")),
        8 => left_padded::<8>(&span.id),
        other => return Err(invalid_span(index, format!("id must be 8 bytes, got {other}"))),
    };
    let parent_id = match span.parent_id.len() {
        0 => None,
        8 => Some(left_padded::<8>(&span.parent_id)),
        other => {
            return Err(invalid_span(index, format!("parent_id must be 8 bytes, got {other}")));
        }
    };
    // Unknown numbers and SPAN_KIND_UNSPECIFIED are no kind, as for the Collector.
    let kind = match Kind::try_from(span.kind) {
        Ok(Kind::Client) => Some(ZipkinKind::Client),
        Ok(Kind::Server) => Some(ZipkinKind::Server),
        Ok(Kind::Producer) => Some(ZipkinKind::Producer),
        Ok(Kind::Consumer) => Some(ZipkinKind::Consumer),
        Ok(Kind::SpanKindUnspecified) | Err(_) => None,
    };
    let local_endpoint = endpoint(index, "local_endpoint", span.local_endpoint)?;
    let remote_endpoint = endpoint(index, "remote_endpoint", span.remote_endpoint)?;
    let annotations = span
        .annotations
        .into_iter()
        .map(|annotation| Annotation {
            timestamp_micros: annotation.timestamp,
            value: annotation.value,
        })
        .collect();
    Ok(ZipkinSpan {
        index,
        trace_id,
        id,
        parent_id,
        name: span.name,
        kind,
        timestamp_micros: (span.timestamp != 0).then_some(span.timestamp),
        duration_micros: span.duration,
        local_endpoint,
        remote_endpoint,
        annotations,
        tags: span.tags,
    })
}

/// Big-endian id bytes (at most `N`, checked by the caller) right-aligned in `N` bytes.
fn left_padded<const N: usize>(bytes: &[u8]) -> [u8; N] {
    debug_assert!(bytes.len() <= N);
    let mut id = [0u8; N];
    id[N - bytes.len()..].copy_from_slice(bytes);
    id
}

fn endpoint(
    index: usize,
    field: &str,
    endpoint: Option<zipkin::Endpoint>,
) -> Result<Option<Endpoint>, ZipkinError> {
    let Some(endpoint) = endpoint else {
        return Ok(None);
    };
    let port = u16::try_from(endpoint.port).map_err(|_| {
        invalid_span(index, format!("{field}.port must be 0 to 65535, got {}", endpoint.port))
    })?;
    let decoded = Endpoint {
        service_name: endpoint.service_name,
        ipv4: address(index, &format!("{field}.ipv4"), &endpoint.ipv4)?,
        ipv6: address(index, &format!("{field}.ipv6"), &endpoint.ipv6)?,
        port,
    };
    Ok(decoded.non_empty())
}

/// An address of 4 or 16 bytes; empty is none.
fn address(index: usize, field: &str, bytes: &[u8]) -> Result<Option<IpAddr>, ZipkinError> {
    if let Ok(octets) = <[u8; 4]>::try_from(bytes) {
        return Ok(Some(IpAddr::V4(Ipv4Addr::from(octets))));
    }
    if let Ok(octets) = <[u8; 16]>::try_from(bytes) {
        return Ok(Some(IpAddr::V6(Ipv6Addr::from(octets))));
    }
    if bytes.is_empty() {
        return Ok(None);
    }
    Err(invalid_span(index, format!("{field} must be 4 or 16 bytes, got {}", bytes.len())))
}

#[cfg(test)]
#[path = "proto_tests.rs"]
mod tests;
