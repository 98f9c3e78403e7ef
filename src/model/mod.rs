//! The span model shared by every layer: ids, the durable ingest batch, wire-format conversions,
//! the nested-set numbering of a trace's span tree (blocks store it, TraceQL relies on it).
//!
//! Spans are OTLP's own types (`opentelemetry_proto::tonic::trace::v1`): every receiver
//! converts into them and every reader renders from them.

pub mod batch;
pub mod convert;
pub mod ids;
pub(crate) mod nested_set;
