//! Conversions from wire formats into the OTLP span model, one file per format.

pub mod jaeger;
pub mod jaeger_proto;
pub mod jaeger_thrift;
pub mod otlp_json;
