//! Conversions from wire formats into the OTLP span model, one file per format.

pub mod otlp_json;
