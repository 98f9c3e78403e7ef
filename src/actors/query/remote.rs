//! Reads of partitions this node holds no replica of: a call to a replica on another node.
//!
//! ```text
//!  readable partitions (meta group: active + inactive)
//!    hosted here ──► the local live-store
//!    elsewhere   ──► Call "live_store.find_trace" to a replica (the leader first, then the
//!                    others) ──► that node's live-store
//! ```
//!
//! The lookup travels as `tenant \n hex trace id`; the answer as three little-endian u64
//! (start, end, span count) followed by the trace's encoded `TracesData`, or nothing when the
//! replica holds no span of the trace.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::actors::partition::live_store::LiveStoreHandle;
use crate::actors::partition::live_traces::LiveTraceSnapshot;
use crate::actors::partition::manager::LocalPartitions;
use crate::cluster::meta_group::MetaGroup;
use crate::cluster::transport::Peers;
use crate::model::ids::{PartitionId, TenantId, TraceId};
use crate::proto::cluster::CallRequest;

/// The `Call` method of a remote live-store lookup.
pub(crate) const FIND_TRACE_METHOD: &str = "live_store.find_trace";

/// How long one remote lookup may take.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the live data of one readable partition is read.
pub(crate) enum LiveTarget {
    /// A replica on this node.
    Local(LiveStoreHandle),
    /// Replicas on other nodes, the leader first.
    Remote { partition: PartitionId, nodes: Vec<u64> },
}

/// What a search or tag query reads live.
pub(crate) enum Reach {
    /// Every readable partition, here or through other nodes: a query from the API (which
    /// also reads blocks).
    Everything,
    /// The live data of one replica hosted here: a job another node sent.
    Partition(LiveStoreHandle),
}

/// The live sources of a query: live-stores here, and partitions whose live part runs on a
/// replica elsewhere (`partition`, its nodes, the leader first).
pub(crate) struct LiveSources {
    pub local: Vec<LiveStoreHandle>,
    pub remote: Vec<(PartitionId, Vec<u64>)>,
}

/// Finds the replicas to read from; cheap to clone.
#[derive(Clone)]
pub(crate) struct LiveReplicas {
    local: LocalPartitions,
    meta: MetaGroup,
    peers: Peers,
}

impl LiveReplicas {
    /// Reads through local replicas, and through `meta`/`peers` for the others.
    pub fn new(local: LocalPartitions, meta: MetaGroup, peers: Peers) -> LiveReplicas {
        LiveReplicas { local, meta, peers }
    }

    /// One target per readable partition.
    pub fn targets(&self) -> Vec<LiveTarget> {
        let view = self.meta.view();
        let me = self.meta.me().id;
        view.state
            .readable_partitions()
            .into_iter()
            .filter_map(|partition| {
                if let Some(local) = self.local.get(partition) {
                    return Some(LiveTarget::Local(local.live_store));
                }
                let entry = view.state.partition(partition)?;
                let mut nodes: Vec<u64> =
                    entry.replicas.iter().copied().filter(|node| *node != me).collect();
                if let Some(leader) = entry.leader_hint {
                    nodes.sort_by_key(|node| *node != leader);
                }
                Some(LiveTarget::Remote { partition, nodes })
            })
            .collect()
    }

    /// Where a query of `reach` reads live data.
    pub fn sources(&self, reach: Reach) -> LiveSources {
        let mut sources = LiveSources { local: Vec::new(), remote: Vec::new() };
        match reach {
            Reach::Partition(store) => sources.local.push(store),
            Reach::Everything => {
                for target in self.targets() {
                    match target {
                        LiveTarget::Local(store) => sources.local.push(store),
                        LiveTarget::Remote { partition, nodes } => {
                            sources.remote.push((partition, nodes));
                        }
                    }
                }
            }
        }
        sources
    }

    /// The live-store of this node's replica of `partition`, if it hosts one.
    pub fn local_store(&self, partition: PartitionId) -> Option<LiveStoreHandle> {
        self.local.get(partition).map(|local| local.live_store)
    }

    /// Looks a trace up in a replica on another node; `Err` when no replica answered.
    pub async fn find_remote(
        &self,
        partition: PartitionId,
        nodes: &[u64],
        tenant: &TenantId,
        trace_id: TraceId,
    ) -> Result<Option<LiveTraceSnapshot>, String> {
        let body = Bytes::from(format!("{}\n{}", tenant.as_str(), trace_id));
        let reply =
            self.call_replicas(partition, nodes, FIND_TRACE_METHOD, body, REMOTE_TIMEOUT).await?;
        decode_snapshot(reply)
    }

    /// Sends a call to the replicas of `partition` on `nodes` in turn until one answers;
    /// `Err` says why none did.
    pub async fn call_replicas(
        &self,
        partition: PartitionId,
        nodes: &[u64],
        method: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, String> {
        let mut last = format!("{partition} has no replica to ask");
        for node in nodes {
            let request = CallRequest {
                method: method.to_string(),
                partition: partition.0,
                body: body.clone(),
            };
            match self.peers.call(*node, request, timeout).await {
                Ok(reply) => return Ok(reply.body),
                Err(error) => last = format!("{partition} on node {node}: {error}"),
            }
        }
        Err(last)
    }
}

/// Parses a remote lookup (`tenant \n trace id`).
pub(crate) fn decode_lookup(body: &[u8]) -> Result<(TenantId, TraceId), String> {
    let text = std::str::from_utf8(body).map_err(|error| error.to_string())?;
    let (tenant, trace) = text.split_once('\n').ok_or("lookup without a trace id")?;
    let trace_id = TraceId::parse_hex(trace).map_err(|error| error.to_string())?;
    Ok((TenantId::new(tenant), trace_id))
}

/// Encodes a lookup's answer.
pub(crate) fn encode_snapshot(snapshot: Option<LiveTraceSnapshot>) -> Bytes {
    let Some(snapshot) = snapshot else { return Bytes::new() };
    let mut out = BytesMut::with_capacity(24 + snapshot.traces_data.len());
    out.put_u64_le(snapshot.start_unix_nano);
    out.put_u64_le(snapshot.end_unix_nano);
    out.put_u64_le(snapshot.span_count);
    out.put_slice(&snapshot.traces_data);
    out.freeze()
}

fn decode_snapshot(mut body: Bytes) -> Result<Option<LiveTraceSnapshot>, String> {
    if body.is_empty() {
        return Ok(None);
    }
    if body.len() < 24 {
        return Err(format!("remote lookup answer of {} bytes is cut short", body.len()));
    }
    let start_unix_nano = body.get_u64_le();
    let end_unix_nano = body.get_u64_le();
    let span_count = body.get_u64_le();
    Ok(Some(LiveTraceSnapshot { traces_data: body, start_unix_nano, end_unix_nano, span_count }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_answers_round_trip() {
        let trace = TraceId([7; 16]);
        let body = Bytes::from(format!("acme\n{trace}"));
        assert_eq!(decode_lookup(&body).unwrap(), (TenantId::new("acme"), trace));
        assert!(decode_lookup(b"acme").is_err());
        let snapshot = LiveTraceSnapshot {
            traces_data: Bytes::from_static(b"spans"),
            start_unix_nano: 1,
            end_unix_nano: 2,
            span_count: 3,
        };
        let decoded = decode_snapshot(encode_snapshot(Some(snapshot.clone()))).unwrap();
        assert_eq!(decoded, Some(snapshot));
        assert_eq!(decode_snapshot(encode_snapshot(None)).unwrap(), None);
        assert!(decode_snapshot(Bytes::from_static(b"short")).is_err());
    }
}
