//! Why a Jaeger payload was refused: one enum for both decoders, each message naming the
//! protocol, the place and what was wrong.

use thiserror::Error;

use crate::api::error_code::ErrorCode;

/// Why a Jaeger Thrift body or a `PostSpans` request could not be decoded.
///
/// Every variant is a malformed request (400 / `InvalidArgument`); ids that decode but are
/// invalid (all zero) are left to the distributor.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum JaegerError {
    /// The body ends inside a value.
    #[error("jaeger thrift: body ends inside {what} at byte {offset}: {needed} more bytes needed")]
    ThriftTruncated {
        /// The value being read, e.g. `i64 Span.startTime`.
        what: &'static str,
        /// Where the value starts.
        offset: usize,
        /// How many bytes are missing.
        needed: usize,
    },
    /// A list, set or map declares more elements than the rest of the body can hold.
    #[error("jaeger thrift: {what} declares {declared} elements but only {remaining} bytes remain")]
    ThriftTooManyElements {
        /// The container, e.g. `list Batch.spans`.
        what: &'static str,
        /// The declared element count.
        declared: i64,
        /// Bytes left in the body after the container header.
        remaining: usize,
    },
    /// A string or binary declares more bytes than the rest of the body holds.
    #[error("jaeger thrift: {what} declares {declared} bytes but only {remaining} remain")]
    ThriftTooLong {
        /// The value, e.g. `string Tag.key`.
        what: &'static str,
        /// The declared length.
        declared: i64,
        /// Bytes left in the body after the length.
        remaining: usize,
    },
    /// A length or element count is negative.
    #[error("jaeger thrift: {what} declares a negative length {declared}")]
    ThriftNegativeLength {
        /// The value or container.
        what: &'static str,
        /// The declared length.
        declared: i64,
    },
    /// A field or element type id that neither Thrift protocol defines.
    #[error("jaeger thrift: unknown type id {type_id} in {what} at byte {offset}")]
    ThriftUnknownType {
        /// Where the type id was read.
        what: &'static str,
        /// The type id as found on the wire.
        type_id: u8,
        /// Where it was read.
        offset: usize,
    },
    /// A known list field whose elements have another type than the schema's.
    #[error("jaeger thrift: {what} holds {found} elements, expected {expected}")]
    ThriftWrongElementType {
        /// The list, e.g. `list Span.tags`.
        what: &'static str,
        /// The element type found.
        found: &'static str,
        /// The element type the schema has.
        expected: &'static str,
    },
    /// Structs or containers nest deeper than the limit (a hostile body cannot recurse
    /// without bound).
    #[error("jaeger thrift: values nest deeper than {limit} levels at byte {offset}")]
    ThriftTooDeep {
        /// The nesting limit.
        limit: usize,
        /// Where the limit was crossed.
        offset: usize,
    },
    /// A compact-protocol varint runs past 10 bytes.
    #[error("jaeger thrift: varint at byte {offset} is longer than 10 bytes")]
    ThriftVarintTooLong {
        /// Where the varint starts.
        offset: usize,
    },
    /// A field that `jaeger.thrift` marks `required` is absent (or had another type and was
    /// skipped, as Thrift readers do).
    #[error("jaeger thrift: required field {field} is missing")]
    ThriftMissingField {
        /// The field, e.g. `Span.traceIdLow`.
        field: &'static str,
    },
    /// A UDP agent datagram whose message envelope is not an `Agent.emitBatch` call.
    #[error("jaeger thrift: not an emitBatch message: {reason}")]
    ThriftBadEnvelope {
        /// What is wrong with the envelope.
        reason: String,
    },
    /// A protobuf trace id that is neither 16 nor 8 bytes long.
    #[error("jaeger proto: span {span}: {what} must be 16 or 8 bytes, got {len}")]
    ProtoTraceIdLength {
        /// The span's position in the batch.
        span: usize,
        /// The field, e.g. `references[1].trace_id`.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A protobuf span id that is not 8 bytes long.
    #[error("jaeger proto: span {span}: {what} must be 8 bytes, got {len}")]
    ProtoSpanIdLength {
        /// The span's position in the batch.
        span: usize,
        /// The field, e.g. `span_id`.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// A `google.protobuf.Timestamp` outside years 1 to 9999 or with nanos outside
    /// `0..1e9` (gogoproto refuses those when it decodes).
    #[error("jaeger proto: span {span}: {what} is not a valid timestamp ({seconds}s {nanos}ns)")]
    ProtoInvalidTimestamp {
        /// The span's position in the batch.
        span: usize,
        /// The field, e.g. `logs[0].timestamp`.
        what: &'static str,
        /// The seconds field.
        seconds: i64,
        /// The nanos field.
        nanos: i32,
    },
    /// A `google.protobuf.Duration` out of range, with nanos outside `(-1e9, 1e9)`, with
    /// mismatched signs, or too long for 64-bit nanoseconds.
    #[error("jaeger proto: span {span}: duration is not valid ({seconds}s {nanos}ns)")]
    ProtoInvalidDuration {
        /// The span's position in the batch.
        span: usize,
        /// The seconds field.
        seconds: i64,
        /// The nanos field.
        nanos: i32,
    },
}

impl JaegerError {
    /// Every decoding failure is the client's: 400 / `InvalidArgument`.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::BadRequest
    }
}
