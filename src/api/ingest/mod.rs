//! Receivers: servers that decode a wire format and call the distributor.

pub(crate) mod grpc_status;
pub(crate) mod otlp_grpc;
pub(crate) mod otlp_http;
