//! Tempo's query API (tempo-api.md): trace by id now; search, tags and metrics with their issues.

pub(crate) mod trace_by_id;
pub(crate) mod trace_json;
