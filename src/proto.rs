//! Generated protobuf types: Tempo's `tempopb` messages (OTLP types come from opentelemetry-proto).

#![allow(missing_docs, clippy::all, clippy::unwrap_used)]

/// Tempo's `tempopb` package.
pub mod tempopb {
    tonic::include_proto!("tempopb");
}
