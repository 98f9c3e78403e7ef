//! Compiles `proto/` with protox (pure Rust, no `protoc`), reusing opentelemetry-proto's OTLP
//! types through `extern_path` so Tempo's messages embed the very types the receivers decode.
//! Zipkin's `zipkin.proto` (messages only) is compiled for the Zipkin protobuf decoder.
//! Jaeger's `api_v2` protos use `google.protobuf.Timestamp`/`Duration`: protox ships those
//! well-known types and they are generated here too (`crate::proto::google::protobuf`), so no
//! `prost-types` dependency is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/tempopb/tempo.proto",
        "proto/spanlake/cluster.proto",
        "proto/zipkin/zipkin.proto",
        "proto/jaeger/api_v2/collector.proto",
    ];
    for proto in protos {
        println!("cargo:rerun-if-changed={proto}");
    }
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Cluster payloads (span batches, log entries) stay `Bytes`: no copy on the way in.
        .bytes(".spanlake.cluster.v1")
        // Zipkin tags decode into a sorted map, so the attributes they become have a stable order.
        .btree_map(".zipkin.proto3.Span.tags")
        // Timestamp and Duration for Jaeger's api_v2, generated instead of `prost_types`.
        .compile_well_known_types(true)
        .extern_path(".opentelemetry.proto.trace.v1", "::opentelemetry_proto::tonic::trace::v1")
        .extern_path(".opentelemetry.proto.common.v1", "::opentelemetry_proto::tonic::common::v1")
        .extern_path(
            ".opentelemetry.proto.resource.v1",
            "::opentelemetry_proto::tonic::resource::v1",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
