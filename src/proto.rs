//! Generated protobuf types: Tempo's `tempopb` messages (OTLP types come from opentelemetry-proto)
//! and spanlake's internal cluster service.

#![allow(missing_docs, clippy::all, clippy::unwrap_used)]

/// Tempo's `tempopb` package.
pub mod tempopb {
    tonic::include_proto!("tempopb");
}

/// spanlake's internal cluster service (`proto/spanlake/cluster.proto`).
pub mod cluster {
    tonic::include_proto!("spanlake.cluster.v1");
}
