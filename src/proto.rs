//! Generated protobuf types: Tempo's `tempopb` messages (OTLP types come from opentelemetry-proto),
//! spanlake's internal cluster service, Zipkin's v2 messages, and Jaeger's `api_v2` collector
//! service with the two well-known types it uses.

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

/// Jaeger's protobuf packages (`proto/jaeger/`).
pub mod jaeger {
    /// `jaeger.api_v2`: the span model and `CollectorService/PostSpans` (client and server).
    pub mod api_v2 {
        tonic::include_proto!("jaeger.api_v2");
    }
}

/// The protobuf well-known types Jaeger's model uses (`Timestamp`, `Duration`).
pub mod google {
    /// `google.protobuf`.
    pub mod protobuf {
        tonic::include_proto!("google.protobuf");
    }
}
