//! Searches and tag queries over partitions this node holds no replica of: the job goes to a
//! node that holds one, runs there on that replica's live-store only, and what it found comes
//! back to be combined with the rest.
//!
//! ```text
//!  node A: Searcher / TagSearcher                 node B: holds a replica of p3
//!    Job::Remote(p3) ── Call live_store.search ──► Searcher::search_partition(p3)
//!                        {request, query as text}    live traces of p3 only
//!                    ◄── SearchResponse (hits, metrics) ─┘
//!    Job::Remote(p3) ── Call live_store.tags ────► TagSearcher::collect_in_partition(p3)
//!                        {tenants, window, job spec}
//!                    ◄── names, values, bytes read ──┘
//!  blocks are read by A itself: every node reads the same object store
//! ```
//!
//! Requests and tag answers are JSON; a search answer is Tempo's `SearchResponse` in protobuf,
//! the shape the combiner already takes. The query travels as TraceQL text (the syntax tree
//! prints as text that parses back to the same tree) and is parsed again on arrival.
//!
//! [`NodeCalls`] is what answers other nodes' calls on this node: these two, and the
//! partition calls of [`LocalPartitions`].

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use prost::Message;
use serde::{Deserialize, Serialize};

use crate::actors::partition::manager::LocalPartitions;
use crate::actors::query::QueryError;
use crate::actors::query::search::{SearchRequest, Searcher};
use crate::actors::query::search_hits::SearchAnswer;
use crate::actors::query::tag_collect::{TagCollector, TypedValue};
use crate::actors::query::tag_sources::{TagJobAnswer, TagJobSpec};
use crate::actors::query::tags::TagSearcher;
use crate::cluster::runtime::PartitionWrites;
use crate::model::ids::{PartitionId, TenantId};
use crate::proto::tempopb;
use crate::storage::block::TagScope;

/// The `Call` method running a search on one replica's live-store.
pub(crate) const SEARCH_METHOD: &str = "live_store.search";
/// The `Call` method running a tag job on one replica's live-store.
pub(crate) const TAGS_METHOD: &str = "live_store.tags";

/// A search as it travels to a replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RemoteSearch {
    tenants: Vec<String>,
    query: String,
    limit: usize,
    spans_per_spanset: usize,
    window: Option<(u64, u64)>,
    min_duration_nanos: Option<u64>,
    max_duration_nanos: Option<u64>,
    spansets: bool,
    timeout_ms: u64,
}

impl RemoteSearch {
    /// The wire form of `request`.
    pub(crate) fn of(request: &SearchRequest) -> RemoteSearch {
        RemoteSearch {
            tenants: request.tenants.iter().map(|tenant| tenant.as_str().to_string()).collect(),
            query: request.query.to_string(),
            limit: request.limit,
            spans_per_spanset: request.spans_per_spanset,
            window: request.window,
            min_duration_nanos: request.min_duration_nanos,
            max_duration_nanos: request.max_duration_nanos,
            spansets: request.spansets,
            timeout_ms: u64::try_from(request.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// The encoded request.
    pub(crate) fn encode(&self) -> Bytes {
        // Serializing plain strings and numbers to JSON cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The request `body` carries; `Err` says what is wrong with it.
    pub(crate) fn decode(body: &[u8]) -> Result<SearchRequest, String> {
        let wire: RemoteSearch =
            serde_json::from_slice(body).map_err(|error| format!("bad search request: {error}"))?;
        let query = crate::traceql::parse(&wire.query)
            .map_err(|error| format!("search query {:?} does not parse: {error}", wire.query))?;
        Ok(SearchRequest {
            tenants: wire.tenants.iter().map(|tenant| TenantId::new(tenant)).collect(),
            query,
            limit: wire.limit,
            spans_per_spanset: wire.spans_per_spanset,
            window: wire.window,
            min_duration_nanos: wire.min_duration_nanos,
            max_duration_nanos: wire.max_duration_nanos,
            spansets: wire.spansets,
            timeout: Duration::from_millis(wire.timeout_ms),
        })
    }
}

/// A replica's search answer, as a job answer of the asking node.
pub(crate) fn decode_search_answer(body: Bytes) -> Result<SearchAnswer, String> {
    let response = tempopb::SearchResponse::decode(body)
        .map_err(|error| format!("remote search answer does not decode: {error}"))?;
    let metrics = response.metrics.unwrap_or_default();
    Ok(SearchAnswer {
        hits: response.traces,
        inspected_traces: metrics.inspected_traces,
        inspected_bytes: metrics.inspected_bytes,
        inspected_spans: metrics.inspected_spans,
    })
}

/// A tag job as it travels to a replica.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RemoteTags {
    /// Tenants read.
    pub tenants: Vec<String>,
    /// Unix nanoseconds `[start, end]`; `None` = all live data.
    pub window: Option<(u64, u64)>,
    /// The job.
    pub job: TagJobSpec,
    /// Give up after this long.
    pub timeout_ms: u64,
}

impl RemoteTags {
    /// The encoded request.
    pub(crate) fn encode(&self) -> Bytes {
        // Serializing plain strings, numbers and enums to JSON cannot fail.
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }
}

/// What a replica's tag job found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TagFindings {
    names: Vec<(TagScope, String)>,
    values: Vec<TypedValue>,
    inspected_bytes: u64,
}

/// Encodes a tag job's answer.
pub(crate) fn encode_tag_answer(answer: &TagJobAnswer) -> Bytes {
    let (names, values) = answer.found.found_items();
    let findings = TagFindings { names, values, inspected_bytes: answer.inspected_bytes };
    // Serializing strings, numbers and enums to JSON cannot fail.
    Bytes::from(serde_json::to_vec(&findings).unwrap_or_default())
}

/// A replica's tag answer, collected again (in its discovery order) into the job's shape.
pub(crate) fn decode_tag_answer(
    body: &[u8],
    template: &TagCollector,
) -> Result<TagJobAnswer, String> {
    let findings: TagFindings = serde_json::from_slice(body)
        .map_err(|error| format!("remote tag answer does not decode: {error}"))?;
    let mut found = template.empty_like();
    for (scope, name) in &findings.names {
        found.add_name(*scope, name);
    }
    for value in findings.values {
        found.add_value(value);
    }
    Ok(TagJobAnswer { found, inspected_bytes: findings.inspected_bytes })
}

/// Answers the calls other nodes make on this node.
pub(crate) struct NodeCalls {
    partitions: LocalPartitions,
    searcher: Searcher,
    tags: TagSearcher,
}

impl NodeCalls {
    /// Searches and tag jobs run on `searcher` and `tags`; the rest goes to `partitions`.
    pub(crate) fn new(partitions: LocalPartitions, searcher: Searcher, tags: TagSearcher) -> Self {
        NodeCalls { partitions, searcher, tags }
    }

    async fn search(&self, partition: PartitionId, body: &[u8]) -> Result<Bytes, tonic::Status> {
        let request = RemoteSearch::decode(body).map_err(tonic::Status::invalid_argument)?;
        let response =
            self.searcher.search_partition(partition, &request).await.map_err(status_of)?;
        Ok(Bytes::from(response.encode_to_vec()))
    }

    async fn tags(&self, partition: PartitionId, body: &[u8]) -> Result<Bytes, tonic::Status> {
        let request: RemoteTags = serde_json::from_slice(body).map_err(|error| {
            tonic::Status::invalid_argument(format!("bad tag request: {error}"))
        })?;
        let answer = self.tags.collect_in_partition(partition, request).await.map_err(status_of)?;
        Ok(encode_tag_answer(&answer))
    }
}

/// A query error as the status the asking node sees.
fn status_of(error: QueryError) -> tonic::Status {
    let message = error.to_string();
    match error {
        QueryError::Query { .. } => tonic::Status::invalid_argument(message),
        QueryError::Timeout { .. } => tonic::Status::deadline_exceeded(message),
        QueryError::Corrupt { .. } => tonic::Status::internal(message),
        QueryError::Call(_) | QueryError::Unavailable { .. } => tonic::Status::unavailable(message),
    }
}

#[async_trait]
impl PartitionWrites for NodeCalls {
    async fn append(&self, partition: u32, batch: Bytes) -> Result<u64, tonic::Status> {
        self.partitions.append(partition, batch).await
    }

    async fn call(
        &self,
        method: &str,
        partition: u32,
        body: Bytes,
    ) -> Result<Bytes, tonic::Status> {
        match method {
            SEARCH_METHOD => self.search(PartitionId(partition), &body).await,
            TAGS_METHOD => self.tags(PartitionId(partition), &body).await,
            other => self.partitions.call(other, partition, body).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::query::tag_collect::CollectLimits;
    use crate::actors::query::tag_sources::{TagJob, ValueSource};

    #[test]
    fn a_search_request_travels_whole() {
        let request = SearchRequest {
            tenants: vec![TenantId::new("acme"), TenantId::new("globex")],
            query: crate::traceql::parse_and_validate(
                r#"{ resource.service.name = "shop" && duration > 10ms } | count() > 1"#,
            )
            .unwrap(),
            limit: 20,
            spans_per_spanset: 3,
            window: Some((1, 2)),
            min_duration_nanos: Some(5),
            max_duration_nanos: None,
            spansets: true,
            timeout: Duration::from_secs(30),
        };
        let decoded = RemoteSearch::decode(&RemoteSearch::of(&request).encode()).unwrap();
        assert_eq!(decoded.tenants, request.tenants);
        assert_eq!(decoded.query, request.query);
        assert_eq!(
            (decoded.limit, decoded.spans_per_spanset, decoded.window, decoded.timeout),
            (20, 3, Some((1, 2)), Duration::from_secs(30))
        );
        assert_eq!((decoded.min_duration_nanos, decoded.max_duration_nanos), (Some(5), None));
        assert!(RemoteSearch::decode(b"{}").is_err());
    }

    #[test]
    fn a_search_answer_keeps_hits_and_metrics() {
        let response = tempopb::SearchResponse {
            traces: vec![tempopb::TraceSearchMetadata {
                trace_id: "abc".into(),
                ..Default::default()
            }],
            metrics: Some(tempopb::SearchMetrics {
                inspected_traces: 4,
                inspected_bytes: 500,
                inspected_spans: 9,
                ..Default::default()
            }),
        };
        let answer = decode_search_answer(Bytes::from(response.encode_to_vec())).unwrap();
        assert_eq!(answer.hits, response.traces);
        assert_eq!(
            (answer.inspected_traces, answer.inspected_bytes, answer.inspected_spans),
            (4, 500, 9)
        );
        assert!(decode_search_answer(Bytes::from_static(&[0xff, 0xff])).is_err());
    }

    #[test]
    fn a_tag_job_and_its_answer_travel_whole() {
        let limits = CollectLimits { limit: 2, max_stale: 0, max_bytes: 0 };
        let filter = crate::traceql::parse_and_validate(r#"{ span.http.method = "GET" }"#).unwrap();
        let template =
            TagCollector::for_names(&[TagScope::Span, TagScope::Resource], false, limits);
        let job = TagJob::new(Some(&filter), None, false, template);
        let spec = job.spec();
        let again =
            TagJob::from_spec(serde_json::from_slice(&serde_json::to_vec(&spec).unwrap()).unwrap())
                .unwrap();
        assert_eq!(again.spec(), spec);
        assert!(again.filter.is_some() && again.prefilter.is_some());

        let mut found = job.template.empty_like();
        found.add_name(TagScope::Span, "http.method");
        found.add_name(TagScope::Resource, "service.name");
        found.add_name(TagScope::Span, "http.route");
        let answer = TagJobAnswer { found, inspected_bytes: 77 };
        let decoded = decode_tag_answer(&encode_tag_answer(&answer), &job.template).unwrap();
        assert_eq!(decoded.found.sorted_names(), answer.found.sorted_names());
        assert_eq!(decoded.inspected_bytes, 77);
        assert!(decoded.found.wants_names_of(TagScope::Resource));
        assert!(!decoded.found.wants_names_of(TagScope::Span), "the limit of 2 holds again");

        let values = TagJob::new(
            None,
            Some(ValueSource::Attribute { scopes: vec![TagScope::Span], name: "x".into() }),
            true,
            TagCollector::for_values(limits),
        );
        let mut found = values.template.empty_like();
        found.add_value(TypedValue::int(7));
        let answer = TagJobAnswer { found, inspected_bytes: 1 };
        let decoded = decode_tag_answer(&encode_tag_answer(&answer), &values.template).unwrap();
        assert_eq!(decoded.found.sorted_values(), vec![TypedValue::int(7)]);
        assert!(decode_tag_answer(b"[]", &values.template).is_err());
    }
}
