//! Benchmarks run from the command line (`spanlake bench …`): measurements, not timed tests.
//!
//! - `ingest`: durable ingest; `blocks`: bytes per span, trace by id from blocks.
//! - `search` (`search_dataset`, `search_report`): TraceQL search over blocks of a generated
//!   microservice shop (`shop`, `shop_calls`, `shop_operations`).
//! - `traceql`: the query front end, in process.
//! - `common`: the node as a child process and the clients the benchmarks share.

pub mod blocks;
mod common;
pub mod ingest;
pub mod search;
mod search_dataset;
mod search_report;
mod shop;
mod shop_calls;
mod shop_operations;
pub mod traceql;
