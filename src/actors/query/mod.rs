//! The read path. For now: trace by id over every partition's live-store. The Blocks issue
//! adds block shards (query-shard worker pool) and the Search issue the query-frontend.

pub(crate) mod trace_merge;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use thiserror::Error;

use crate::actors::call::CallError;
use crate::actors::partition::live_store::LiveStoreHandle;
use crate::api::error_code::ErrorCode;
use crate::model::ids::{TenantId, TraceId};
use trace_merge::TraceMerger;

/// Why a query failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum QueryError {
    /// A partition did not answer.
    #[error(transparent)]
    Call(#[from] CallError),
    /// Stored data did not decode: a bug or corruption, never user input.
    #[error("stored trace data is corrupt: {reason}")]
    Corrupt {
        /// The decoder's message.
        reason: String,
    },
}

impl QueryError {
    /// The API status for this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            QueryError::Call(error) => error.error_code(),
            QueryError::Corrupt { .. } => ErrorCode::Internal,
        }
    }
}

/// A time window in Unix seconds; spans outside it are not looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start, seconds.
    pub start_seconds: i64,
    /// Inclusive end, seconds.
    pub end_seconds: i64,
}

impl TimeRange {
    fn overlaps_nanos(&self, start_unix_nano: u64, end_unix_nano: u64) -> bool {
        let to_seconds = |nanos: u64| i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX);
        to_seconds(start_unix_nano) <= self.end_seconds
            && to_seconds(end_unix_nano) >= self.start_seconds
    }
}

/// A trace as found, with what it cost to find it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FoundTrace {
    /// The merged spans; empty when the trace is unknown.
    pub resource_spans: Vec<ResourceSpans>,
    /// Bytes of span data examined.
    pub inspected_bytes: u64,
}

/// Looks traces up by id across the node's partitions.
#[derive(Clone)]
pub struct TraceByIdQuerier {
    live_stores: Vec<LiveStoreHandle>,
}

impl TraceByIdQuerier {
    pub(crate) fn new(live_stores: Vec<LiveStoreHandle>) -> TraceByIdQuerier {
        TraceByIdQuerier { live_stores }
    }

    /// Every span of `trace_id` held for any of `tenants`, merged and de-duplicated.
    #[tracing::instrument(name = "find_trace", skip_all, fields(trace_id = %trace_id, tenants = tenants.len()))]
    pub async fn find_trace(
        &self,
        tenants: &[TenantId],
        trace_id: TraceId,
        range: Option<TimeRange>,
    ) -> Result<FoundTrace, QueryError> {
        let lookups = tenants.iter().flat_map(|tenant| {
            self.live_stores.iter().map(move |store| store.find_trace(tenant.clone(), trace_id))
        });
        let answers = futures::future::join_all(lookups).await;
        let mut merger = TraceMerger::new();
        for answer in answers {
            let Some(snapshot) = answer? else { continue };
            if let Some(range) = range
                && !range.overlaps_nanos(snapshot.start_unix_nano, snapshot.end_unix_nano)
            {
                continue;
            }
            merger
                .add_encoded(snapshot.traces_data)
                .map_err(|error| QueryError::Corrupt { reason: error.to_string() })?;
        }
        let inspected_bytes = merger.inspected_bytes();
        Ok(FoundTrace { resource_spans: merger.finish(), inspected_bytes })
    }
}
