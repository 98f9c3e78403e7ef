//! Tempo's query API (tempo-api.md): trace by id, TraceQL search and legacy tag search (HTTP
//! and the gRPC `StreamingQuerier`), tag autocomplete; metrics next.

pub(crate) mod legacy_tags;
pub(crate) mod logfmt;
pub(crate) mod search;
pub(crate) mod search_json;
pub(crate) mod search_params;
pub(crate) mod streaming;
pub(crate) mod streaming_packets;
pub(crate) mod tags;
pub(crate) mod tags_json;
pub(crate) mod trace_by_id;
pub(crate) mod trace_json;
