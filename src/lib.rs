//! spanlake: a distributed-tracing database that speaks Tempo's API.
//!
//! ```text
//!  receivers ──► distributor ──► partition p's Raft leader (here or forwarded; the log is
//!  (OTLP gRPC/     validate,        │ the WAL, committed on a quorum of replicas)
//!   HTTP)          limit, shard     │ committed entries, on every replica
//!                  by trace ID      ├──► live-store p (recent traces, in memory, queryable)
//!                                   └──► block-builder p (leader only: Parquet blocks ──►
//!                                        object store, registered in the meta group, then
//!                                        the log is purged)
//!  meta Raft group (every node): members, partition table, block list; admin API drives it
//!
//!  Grafana ──► query API (:3200) ──► trace by id: one replica per partition (local or on
//!                                    another node) + blocks via query shards
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
//! - `cluster`: the Raft-coordinated cluster: the transport (`proto/spanlake/cluster.proto`),
//!   the meta group (state machine in `meta/`, run time in `meta_group/`), the partition
//!   groups' log store (the WAL) and state machine, the node's join and reconciler.
//! - [`proto`]: generated `tempopb`, cluster and Jaeger `api_v2` types.
//! - [`bench`](mod@bench): `spanlake bench …`: ingest, blocks, search and TraceQL
//!   front-end benchmarks.
//! - [`traceql`]: the query language: lexer, parser, syntax tree, validation, conformance
//!   corpus check (`spanlake traceql check`), and the search engine (`eval/`).
//!
//! Dependencies point one way: `api → actors → {cluster, storage, traceql} → model`.

pub mod actors;
pub mod api;
pub mod bench;
pub(crate) mod cluster;
pub mod config;
pub mod model;
pub mod node;
pub mod proto;
pub mod storage;
pub mod traceql;

pub use config::Config;
pub use node::{Node, NodeAddrs, NodeError};
