//! End-to-end tests: a real node on real ports, real clients.

#[path = "../harness/mod.rs"]
mod harness;

mod t10_otlp_ingest_then_find_trace;
mod t20_bad_input_gets_a_clear_4xx;
mod t30_limits_and_tenants;
mod t40_ops_routes_and_cli;
mod t50_traces_move_to_blocks;
mod t60_traceql_cli;
mod t70_search;
mod t80_tags;
mod t85_tag_latency;
mod t90_streaming;
