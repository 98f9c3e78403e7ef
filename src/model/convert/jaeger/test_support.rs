//! Builders of expected OTLP values, shared by the Jaeger mapping and decoder tests.

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub(crate) fn string_kv(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.to_owned()))
}

pub(crate) fn int_kv(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

pub(crate) fn double_kv(key: &str, value: f64) -> KeyValue {
    attribute(key, any_value::Value::DoubleValue(value))
}

pub(crate) fn bool_kv(key: &str, value: bool) -> KeyValue {
    attribute(key, any_value::Value::BoolValue(value))
}

pub(crate) fn bytes_kv(key: &str, value: &[u8]) -> KeyValue {
    attribute(key, any_value::Value::BytesValue(value.to_vec()))
}

/// The 16 bytes of a trace id.
pub(crate) fn trace_id_bytes(high: u64, low: u64) -> Vec<u8> {
    ((u128::from(high) << 64) | u128::from(low)).to_be_bytes().to_vec()
}

/// A status.
pub(crate) fn status(code: StatusCode, message: &str) -> Option<Status> {
    Some(Status { code: code as i32, message: message.to_owned() })
}

/// A link as the mapping builds it.
pub(crate) fn link(trace_high: u64, trace_low: u64, span_id: u64, ref_type: &str) -> Link {
    Link {
        trace_id: trace_id_bytes(trace_high, trace_low),
        span_id: span_id.to_be_bytes().to_vec(),
        attributes: vec![string_kv("opentracing.ref_type", ref_type)],
        ..Default::default()
    }
}
