//! Generated protobuf types: Tempo's `tempopb` messages (OTLP types come from opentelemetry-proto),
//! spanlake's internal cluster service and Zipkin's v2 messages.

#![allow(missing_docs, clippy::all, clippy::unwrap_used)]

/// Tempo's `tempopb` package.
pub mod tempopb {
    tonic::include_proto!("tempopb");
}

/// spanlake's internal cluster service (`proto/spanlake/cluster.proto`).
pub mod cluster {
    tonic::include_proto!("spanlake.cluster.v1");
}

/// Zipkin's v2 protobuf messages (`proto/zipkin/zipkin.proto`, package `zipkin.proto3`).
pub mod zipkin {
    tonic::include_proto!("zipkin.proto3");
}
