//! Benchmarks run from the command line (`spanlake bench …`): measurements, not timed tests.

pub mod blocks;
mod common;
pub mod ingest;
pub mod traceql;
