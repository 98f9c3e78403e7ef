//! Benchmarks run from the command line (`spanlake bench …`): measurements, not timed tests.

pub mod blocks;
pub mod ingest;
pub mod traceql;
