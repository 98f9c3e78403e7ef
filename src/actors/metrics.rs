//! Self-metrics of one node, rendered on `/metrics` with Tempo-like names (`spanlake_…`).
//!
//! The families live in a per-node struct rather than process-global statics so several nodes
//! in one test process keep separate counts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels naming a tenant.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    /// The tenant.
    pub tenant: String,
}

/// Labels of discarded spans and refused requests.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// The tenant.
    pub tenant: String,
    /// Why, in Tempo's words where Tempo has one (`invalid_trace_id`, `rate_limited`, …).
    pub reason: String,
}

/// Labels naming a partition.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    /// The partition, e.g. `p2`.
    pub partition: String,
}

/// Labels naming an actor role.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActorLabels {
    /// The role, e.g. `live_store`.
    pub actor: String,
}

/// Labels of object-store operations.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ObjectStoreLabels {
    /// What was done: `put`, `get`, `head`, `list`, `delete`, ….
    pub operation: String,
    /// How it ended: `ok` (first attempt), `retried` (succeeded after retries),
    /// `not_found` (the object does not exist, often an expected answer) or `failed`.
    pub outcome: String,
}

/// Every metric family of a node.
pub struct NodeMetrics {
    registry: Registry,
    /// Spans accepted by the distributor.
    pub spans_received: Family<TenantLabels, Counter>,
    /// Request bytes received by the distributor (wire size).
    pub bytes_received: Family<TenantLabels, Counter>,
    /// Spans refused, by reason.
    pub discarded_spans: Family<ReasonLabels, Counter>,
    /// Whole requests refused, by reason.
    pub requests_refused: Family<ReasonLabels, Counter>,
    /// Attribute values cut to `max_attribute_bytes`.
    pub attributes_truncated: Family<TenantLabels, Counter>,
    /// Time of one write-ahead-log append + fsync.
    pub wal_fsync_seconds: Family<PartitionLabels, Histogram>,
    /// Ingest requests served by one fsync (group commit width).
    pub wal_requests_per_fsync: Family<PartitionLabels, Histogram>,
    /// Traces held by each live-store.
    pub live_traces: Family<PartitionLabels, Gauge>,
    /// Bytes held by each live-store.
    pub live_bytes: Family<PartitionLabels, Gauge>,
    /// Last log index this node's replica of each partition applied.
    pub partition_applied: Family<PartitionLabels, Gauge>,
    /// Last log index this node's replica of each partition knows committed.
    pub partition_committed: Family<PartitionLabels, Gauge>,
    /// 1 while this node's replica leads the partition.
    pub partition_leader: Family<PartitionLabels, Gauge>,
    /// Live traces whose newest spans are not in their tag summary yet (answered by
    /// decoding until they are).
    pub live_traces_awaiting_tag_summary: Family<PartitionLabels, Gauge>,
    /// Estimated bytes of the live traces' tag summaries.
    pub live_tag_summary_bytes: Family<PartitionLabels, Gauge>,
    /// Restarts by supervisors, per actor role.
    pub actor_restarts: Family<ActorLabels, Counter>,
    /// Object-store operations by outcome (`storage::object_store::with_retries`).
    pub object_store_operations: Family<ObjectStoreLabels, Counter>,
    /// Blocks written and registered by block-builders.
    pub blocks_flushed: Family<PartitionLabels, Counter>,
    /// Flushes that failed and will be retried.
    pub block_flush_failures: Family<PartitionLabels, Counter>,
    /// Spans written into blocks.
    pub spans_flushed: Family<PartitionLabels, Counter>,
    /// Time to read, encode, upload and register one flush.
    pub flush_seconds: Family<PartitionLabels, Histogram>,
    /// Blocks a query could not read (missing or corrupt objects).
    pub query_block_errors: Family<TenantLabels, Counter>,
}

impl NodeMetrics {
    /// Creates and registers every family.
    pub fn new() -> NodeMetrics {
        let mut registry = Registry::with_prefix("spanlake");
        let spans_received = Family::<TenantLabels, Counter>::default();
        registry.register(
            "distributor_spans_received",
            "Spans accepted and acknowledged durable",
            spans_received.clone(),
        );
        let bytes_received = Family::<TenantLabels, Counter>::default();
        registry.register(
            "distributor_bytes_received",
            "Bytes of ingest requests received",
            bytes_received.clone(),
        );
        let discarded_spans = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "discarded_spans",
            "Spans refused by the distributor, by reason",
            discarded_spans.clone(),
        );
        let requests_refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "distributor_requests_refused",
            "Ingest requests refused as a whole, by reason",
            requests_refused.clone(),
        );
        let attributes_truncated = Family::<TenantLabels, Counter>::default();
        registry.register(
            "distributor_attributes_truncated",
            "Attribute values truncated to max_attribute_bytes",
            attributes_truncated.clone(),
        );
        let wal_fsync_seconds = Family::<PartitionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        registry.register(
            "wal_fsync_duration_seconds",
            "Time to append a group of records to the write-ahead log and fsync it",
            wal_fsync_seconds.clone(),
        );
        let wal_requests_per_fsync =
            Family::<PartitionLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(1.0, 2.0, 12))
            });
        registry.register(
            "wal_requests_per_fsync",
            "Ingest requests made durable by one fsync",
            wal_requests_per_fsync.clone(),
        );
        let live_traces = Family::<PartitionLabels, Gauge>::default();
        registry.register("live_store_live_traces", "Traces held in memory", live_traces.clone());
        let live_bytes = Family::<PartitionLabels, Gauge>::default();
        registry.register("live_store_bytes", "Bytes of trace data in memory", live_bytes.clone());
        let partition_applied = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "partition_applied_index",
            "Last log index this replica applied",
            partition_applied.clone(),
        );
        let partition_committed = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "partition_committed_index",
            "Last log index this replica knows committed",
            partition_committed.clone(),
        );
        let partition_leader = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "partition_leader",
            "1 while this node's replica leads the partition",
            partition_leader.clone(),
        );
        let live_traces_awaiting_tag_summary = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "live_store_traces_awaiting_tag_summary",
            "Live traces whose newest spans are not in their tag summary yet",
            live_traces_awaiting_tag_summary.clone(),
        );
        let live_tag_summary_bytes = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "live_store_tag_summary_bytes",
            "Estimated bytes of the tag summaries of live traces",
            live_tag_summary_bytes.clone(),
        );
        let actor_restarts = Family::<ActorLabels, Counter>::default();
        registry.register(
            "actor_restarts",
            "Actors restarted by their supervisor",
            actor_restarts.clone(),
        );
        let object_store_operations = Family::<ObjectStoreLabels, Counter>::default();
        registry.register(
            "object_store_operations",
            "Object-store operations, by operation and outcome (ok, retried, not_found, failed)",
            object_store_operations.clone(),
        );
        let blocks_flushed = Family::<PartitionLabels, Counter>::default();
        registry.register(
            "block_builder_blocks_flushed",
            "Blocks written and registered",
            blocks_flushed.clone(),
        );
        let block_flush_failures = Family::<PartitionLabels, Counter>::default();
        registry.register(
            "block_builder_flush_failures",
            "Block flushes that failed and will be retried",
            block_flush_failures.clone(),
        );
        let spans_flushed = Family::<PartitionLabels, Counter>::default();
        registry.register(
            "block_builder_spans_flushed",
            "Spans written into blocks",
            spans_flushed.clone(),
        );
        let flush_seconds = Family::<PartitionLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.01, 2.0, 14))
        });
        registry.register(
            "block_builder_flush_duration_seconds",
            "Time to read, encode, upload and register one flush",
            flush_seconds.clone(),
        );
        let query_block_errors = Family::<TenantLabels, Counter>::default();
        registry.register(
            "query_block_errors",
            "Blocks a query could not read (missing or corrupt objects)",
            query_block_errors.clone(),
        );
        // Restart counters exist from the start, so dashboards see 0 rather than nothing.
        for role in
            ["distributor", "partition_supervisor", "partition_log", "live_store", "block_builder"]
        {
            actor_restarts.get_or_create(&ActorLabels { actor: role.to_string() }).inc_by(0);
        }
        NodeMetrics {
            registry,
            spans_received,
            bytes_received,
            discarded_spans,
            requests_refused,
            attributes_truncated,
            wal_fsync_seconds,
            wal_requests_per_fsync,
            live_traces,
            live_bytes,
            partition_applied,
            partition_committed,
            partition_leader,
            live_traces_awaiting_tag_summary,
            live_tag_summary_bytes,
            actor_restarts,
            object_store_operations,
            blocks_flushed,
            block_flush_failures,
            spans_flushed,
            flush_seconds,
            query_block_errors,
        }
    }

    /// Renders every family in the Prometheus/OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for NodeMetrics {
    fn default() -> Self {
        NodeMetrics::new()
    }
}

impl std::fmt::Debug for NodeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeMetrics")
    }
}
