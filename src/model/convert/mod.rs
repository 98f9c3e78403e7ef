//! Conversions from wire formats into the OTLP span model, one module per format: OTLP JSON
//! and Zipkin (v2 JSON and protobuf, v1 JSON).

pub mod jaeger;
pub mod jaeger_proto;
pub mod jaeger_thrift;
pub mod otlp_json;
pub mod zipkin;
