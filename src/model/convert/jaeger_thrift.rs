//! Jaeger Thrift batches (`jaeger.thrift`), decoded by hand and mapped to OTLP.
//!
//! ```text
//!  POST :14268/api/traces body ─────────────┐
//!  (binary; compact also decoded)           ├─► ThriftReader ─► Batch { Process, [Span] }
//!  UDP agent datagram: emitBatch message ───┘   (wire.rs)       (structs.rs)
//!    (envelope, then args { 1: Batch })                             │ jaeger::map_resource
//!                                                                   ▼ jaeger::map_span
//!                 ExportTraceServiceRequest: one ResourceSpans (the process),
//!                 one ScopeSpans with an empty scope (all spans but blank ones)
//! ```
//!
//! The shape of the result is the Collector's `ThriftToTraces`: the Thrift path reads no
//! instrumentation scope and no trace state from tags (they stay attributes). Bytes after
//! the batch are ignored, as Go's `TDeserializer` does.

mod structs;
mod wire;
mod wire_type;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use tracing::debug;

use crate::model::convert::jaeger::{self, Dialect, JaegerError};
use structs::ThriftBatch;
use wire::ThriftReader;
use wire_type::WireType;

/// The Thrift protocol a body is encoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThriftProtocol {
    /// `TBinaryProtocol`: what clients POST to `/api/traces` and send to UDP port 6832.
    Binary,
    /// `TCompactProtocol`: what clients send to the agent's UDP port 6831.
    Compact,
}

impl ThriftProtocol {
    /// The protocol a `Content-Type` names: `application/x-thrift` and
    /// `application/vnd.apache.thrift.binary` (the two the Collector accepts) are binary,
    /// `application/vnd.apache.thrift.compact` is compact; parameters and case are ignored.
    pub fn from_content_type(content_type: &str) -> Option<ThriftProtocol> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/x-thrift")
            || media_type.eq_ignore_ascii_case("application/vnd.apache.thrift.binary")
        {
            Some(ThriftProtocol::Binary)
        } else if media_type.eq_ignore_ascii_case("application/vnd.apache.thrift.compact") {
            Some(ThriftProtocol::Compact)
        } else {
            None
        }
    }
}

/// Decodes a Thrift-encoded `jaeger.Batch` (the body of `POST /api/traces`) into an OTLP
/// export request.
pub fn decode_batch(
    body: &[u8],
    protocol: ThriftProtocol,
) -> Result<ExportTraceServiceRequest, JaegerError> {
    let mut reader = ThriftReader::new(body, protocol);
    let batch = structs::read_batch(&mut reader)?;
    if reader.remaining() > 0 {
        debug!(trailing_bytes = reader.remaining(), "jaeger thrift batch followed by extra bytes");
    }
    Ok(batch_to_request(batch))
}

/// Decodes a UDP agent datagram: an `Agent.emitBatch` message (envelope, then the arguments
/// struct whose field 1 is the `Batch`). A message without a batch decodes to an empty
/// request, as the Collector's agent handler accepts a nil batch.
pub fn decode_agent_emit_batch(
    datagram: &[u8],
    protocol: ThriftProtocol,
) -> Result<ExportTraceServiceRequest, JaegerError> {
    let mut reader = ThriftReader::new(datagram, protocol);
    let method = read_message_name(&mut reader)?;
    if method != "emitBatch" {
        return Err(JaegerError::ThriftBadEnvelope {
            reason: format!("method {method:?}, expected \"emitBatch\""),
        });
    }
    let mut batch = None;
    reader.enter_struct()?;
    while let Some(field) = reader.read_field_header()? {
        match (field.id, field.wire_type) {
            (1, WireType::Struct) => batch = Some(structs::read_batch(&mut reader)?),
            (_, other) => reader.skip(other)?,
        }
    }
    reader.leave_struct();
    Ok(batch.map(batch_to_request).unwrap_or_default())
}

/// Reads a message envelope and returns the method name. The message type is not checked
/// (the Go processor dispatches on the name alone).
fn read_message_name(reader: &mut ThriftReader<'_>) -> Result<String, JaegerError> {
    const WHAT: &str = "the message header";
    let bad = |reason: String| JaegerError::ThriftBadEnvelope { reason };
    match reader.protocol() {
        ThriftProtocol::Binary => {
            let first = reader.read_i32(WHAT)?;
            if first < 0 {
                // Strict header: version and type, then the name, then the sequence id.
                let version = (first as u32) & 0xffff_0000;
                if version != 0x8001_0000 {
                    return Err(bad(format!("binary protocol version {version:#010x}")));
                }
                let name = reader.read_string("the message name")?;
                reader.read_i32(WHAT)?;
                Ok(name)
            } else {
                // Old header: the name's length came first, then the name, type, sequence id.
                let length = first as usize;
                let name =
                    String::from_utf8_lossy(reader.take("the message name", length)?).into_owned();
                reader.read_u8(WHAT)?;
                reader.read_i32(WHAT)?;
                Ok(name)
            }
        }
        ThriftProtocol::Compact => {
            let protocol_id = reader.read_u8(WHAT)?;
            if protocol_id != 0x82 {
                return Err(bad(format!("compact protocol id {protocol_id:#04x}, expected 0x82")));
            }
            let version = reader.read_u8(WHAT)? & 0x1f;
            if version != 1 {
                return Err(bad(format!("compact protocol version {version}, expected 1")));
            }
            reader.read_varint(WHAT)?;
            reader.read_string("the message name")
        }
    }
}

/// One resource for the batch's process; its spans (blank ones dropped) under one empty
/// scope, or no scope at all for a batch without spans.
fn batch_to_request(batch: ThriftBatch) -> ExportTraceServiceRequest {
    let resource = jaeger::map_resource(Some(batch.process), Dialect::Thrift);
    let mut scope_spans = Vec::new();
    if !batch.spans.is_empty() {
        let spans = batch
            .spans
            .into_iter()
            .filter(|decoded| !decoded.blank)
            .map(|decoded| jaeger::map_span(decoded.span, Dialect::Thrift))
            .collect();
        scope_spans.push(ScopeSpans {
            scope: Some(InstrumentationScope::default()),
            spans,
            ..Default::default()
        });
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource),
            scope_spans,
            ..Default::default()
        }],
    }
}

#[cfg(test)]
mod encoder;
#[cfg(test)]
mod malformed_tests;
#[cfg(test)]
mod tests;
