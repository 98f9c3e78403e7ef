//! Zipkin spans (`POST :9411/api/v2/spans` and `/api/v1/spans`) decoded into OTLP, mapped as
//! the OpenTelemetry Collector's Zipkin receiver maps them (the contrib version Tempo vendors,
//! v0.153.0, with its default feature gates), so a Zipkin span reads back from spanlake as it
//! does from Tempo.
//!
//! ```text
//!  v2 JSON array ── json_v2 ──┐
//!                             ├─► [ZipkinSpan] ── to_otlp (+ tag_rules) ──► ExportTraceServiceRequest
//!  v2 ListOfSpans ── proto ───┘     (span.rs)      one ResourceSpans per local service,
//!                                                  one ScopeSpans per instrumentation library
//!  v1 JSON array ── json_v1 ─────────────────────► ExportTraceServiceRequest
//!                   (core annotations, binary annotations, own status rules)
//! ```
//!
//! Decoding is as lenient as the Collector where leniency is harmless (hex of any case, short
//! ids left-padded, JSON keys of any case, `null` as absent, unknown fields ignored) and
//! strict where a wrong value would be stored: a bad id, a mistyped field or a truncated
//! protobuf is an error naming the span's position and the field. Ids that are well formed
//! but invalid (all zero) are mapped as they are: the distributor rejects them.

mod json_fields;
mod json_v1;
mod json_v2;
mod proto;
mod span;
mod tag_rules;
#[cfg(test)]
mod test_support;
mod to_otlp;

use thiserror::Error;

pub use json_v1::decode_v1_json;
pub use json_v2::decode_v2_json;
pub use proto::decode_v2_proto;

/// Why a Zipkin request body was refused.
#[derive(Debug, Error)]
pub enum ZipkinError {
    /// The body is not JSON at all (serde_json's message, with line and column).
    #[error("invalid zipkin JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    /// The body is JSON but not an array of spans.
    #[error("zipkin JSON body must be an array of spans, got {got}")]
    NotAnArray {
        /// The JSON type found instead, e.g. `object`.
        got: &'static str,
    },
    /// The body is not a protobuf `zipkin.proto3.ListOfSpans` (e.g. truncated).
    #[error("invalid zipkin protobuf ListOfSpans: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// One span has a missing, mistyped or malformed field.
    #[error("zipkin span {index}: {problem}")]
    InvalidSpan {
        /// The span's position in the request's list, from 0.
        index: usize,
        /// What is wrong, starting with the field, e.g. `traceId "xyz" is not hex`.
        problem: String,
    },
}

/// Builds the error for a problem with the span at `index`.
fn invalid_span(index: usize, problem: impl Into<String>) -> ZipkinError {
    ZipkinError::InvalidSpan { index, problem: problem.into() }
}
