//! spanlake: a distributed-tracing database that speaks Tempo's API.
//!
//! ```text
//!  receivers ──► distributor ──► partition p (durable log: WAL, group commit)
//!  (OTLP gRPC/     validate,        │ committed entries
//!   HTTP)          limit, shard     ├──► live-store p (recent traces, in memory, queryable)
//!                  by trace ID      └──► block-builder p (Parquet blocks ──► object store,
//!                                                          then the log is purged)
//!
//!  Grafana ──► query API (:3200) ──► trace by id: live-stores + blocks via query shards
//!                                    (bloom → index → one row range), merged, de-duplicated
//! ```
//!
//! # Layout
//! - [`node`]: a running node: the supervision tree plus its servers (`Node::start`).
//! - [`config`]: the YAML config with Tempo's keys, environment overrides, validation.
//! - `model`: ids, the durable ingest batch, wire-format conversions.
//! - [`actors`]: distributor, partition supervisor, partition log, live-store; supervision,
//!   fault points, typed handles.
//! - [`api`]: receivers (`ingest/`), Tempo's query API (`query/`), ops routes, the
//!   error-code table.
//! - [`storage`]: the write-ahead log (`wal/`), the Parquet block format (`block/`), the
//!   block list, and the object store of blocks ([`storage::object_store`]: backends, error
//!   kinds, retries).
//! - `cluster`: the Raft-coordinated cluster (meta group, partition groups, transport).
//! - [`proto`]: generated `tempopb` types.
//! - [`bench`](mod@bench): `spanlake bench …`: ingest, blocks, search and TraceQL
//!   front-end benchmarks.
//! - [`traceql`]: the query language: lexer, parser, syntax tree, validation, conformance
//!   corpus check (`spanlake traceql check`), and the search engine (`eval/`).
//!
//! Dependencies point one way: `api → actors → {cluster, storage, traceql} → model`.

pub mod actors;
pub mod api;
pub mod bench;
#[allow(dead_code, unused_imports)] // being wired into the node by the Cluster issue's commits
pub(crate) mod cluster;
pub mod config;
pub mod model;
pub mod node;
pub mod proto;
pub mod storage;
pub mod traceql;

pub use config::Config;
pub use node::{Node, NodeAddrs, NodeError};
