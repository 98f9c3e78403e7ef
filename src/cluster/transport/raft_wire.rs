//! Raft RPCs on the wire: the client side ([`RaftRouter`], openraft-multi's `GroupRouter` for
//! both kinds of group) and the serving side ([`RaftRegistry`] of the groups this node hosts).
//!
//! Requests travel as JSON of openraft's own message types, except the log entries of an
//! append, which travel as the write-ahead log stores them (`WireEntry`): a span batch is
//! never re-encoded between the leader's log, the network and the follower's log.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{Backoff, RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::{OptionalSend, Raft, RaftTypeConfig};
use openraft_multi::{GroupNetworkAdapter, GroupRouter};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tonic::Status;

use super::TransportError;
use super::client::Peers;
use crate::cluster::types::{EntryWire, MetaRaftConfig, NodeId, PartitionRaftConfig};
use crate::proto::cluster::{Group, RaftMethod, RaftReply, RaftRequest};

/// How long openraft waits before retrying a peer it found unreachable.
const UNREACHABLE_BACKOFF: Duration = Duration::from_millis(200);

/// Which Raft group a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupId {
    /// The meta group.
    Meta,
    /// The group of one partition.
    Partition(u32),
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupId::Meta => f.write_str("meta"),
            GroupId::Partition(partition) => write!(f, "p{partition}"),
        }
    }
}

impl GroupId {
    fn to_wire(self) -> Group {
        match self {
            GroupId::Meta => Group { kind: 0, partition: 0 },
            GroupId::Partition(partition) => Group { kind: 1, partition },
        }
    }

    fn from_wire(group: Option<Group>) -> Result<GroupId, Status> {
        match group {
            Some(Group { kind: 0, .. }) => Ok(GroupId::Meta),
            Some(Group { kind: 1, partition }) => Ok(GroupId::Partition(partition)),
            Some(Group { kind, .. }) => {
                Err(Status::invalid_argument(format!("unknown group kind {kind}")))
            }
            None => Err(Status::invalid_argument("raft request without a group")),
        }
    }
}

/// Sends Raft RPCs of every group over the node's shared connections.
#[derive(Clone)]
pub struct RaftRouter {
    peers: Peers,
}

impl RaftRouter {
    /// A router over this node's peers.
    pub fn new(peers: Peers) -> RaftRouter {
        RaftRouter { peers }
    }

    /// The network factory of one group (what `openraft::Raft::new` takes).
    pub fn network(&self, group: GroupId) -> GroupNetwork {
        GroupNetwork { router: self.clone(), group }
    }

    async fn send<Resp: DeserializeOwned>(
        &self,
        target: NodeId,
        request: RaftRequest,
        timeout: Duration,
    ) -> Result<Resp, String> {
        let reply =
            self.peers.raft(target, request, timeout).await.map_err(|error| error.to_string())?;
        let answer: Result<Resp, String> = serde_json::from_slice(&reply.body)
            .map_err(|error| format!("bad raft reply from node {target}: {error}"))?;
        answer.map_err(|remote| format!("node {target}: {remote}"))
    }
}

fn request(group: GroupId, method: RaftMethod, header: Vec<u8>) -> RaftRequest {
    RaftRequest {
        group: Some(group.to_wire()),
        method: method as i32,
        header: header.into(),
        entries: Vec::new(),
        snapshot: Default::default(),
    }
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    // openraft's messages hold integers, strings and maps: serialising them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn unreachable<C: RaftTypeConfig>(reason: String) -> RPCError<C> {
    RPCError::Unreachable(Unreachable::from_string(reason))
}

/// The network factory of one group on this node.
#[derive(Clone)]
pub struct GroupNetwork {
    router: RaftRouter,
    group: GroupId,
}

macro_rules! wire_config {
    ($config:ty) => {
        impl GroupRouter<$config, GroupId> for RaftRouter {
            type SnapshotData = Vec<u8>;

            async fn append_entries(
                &self,
                target: NodeId,
                group: GroupId,
                rpc: AppendEntriesRequest<$config>,
                option: RPCOption,
            ) -> Result<AppendEntriesResponse<$config>, RPCError<$config>> {
                let AppendEntriesRequest { vote, prev_log_id, entries, leader_commit } = rpc;
                let header = AppendEntriesRequest::<$config> { vote, prev_log_id, entries: Vec::new(), leader_commit };
                let mut wire = request(group, RaftMethod::AppendEntries, json(&header));
                wire.entries = entries
                    .iter()
                    .map(<$config as EntryWire>::to_wire)
                    .collect::<Result<_, _>>()
                    .map_err(|error| unreachable::<$config>(error.to_string()))?;
                self.send(target, wire, option.hard_ttl()).await.map_err(unreachable::<$config>)
            }

            async fn vote(
                &self,
                target: NodeId,
                group: GroupId,
                rpc: VoteRequest<$config>,
                option: RPCOption,
            ) -> Result<VoteResponse<$config>, RPCError<$config>> {
                let wire = request(group, RaftMethod::Vote, json(&rpc));
                self.send(target, wire, option.hard_ttl()).await.map_err(unreachable::<$config>)
            }

            async fn pre_vote(
                &self,
                target: NodeId,
                group: GroupId,
                rpc: VoteRequest<$config>,
                option: RPCOption,
            ) -> Result<VoteResponse<$config>, RPCError<$config>> {
                let wire = request(group, RaftMethod::PreVote, json(&rpc));
                self.send(target, wire, option.hard_ttl()).await.map_err(unreachable::<$config>)
            }

            async fn full_snapshot(
                &self,
                target: NodeId,
                group: GroupId,
                vote: VoteOf<$config>,
                snapshot: SnapshotOf<$config, Vec<u8>>,
                cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
                option: RPCOption,
            ) -> Result<SnapshotResponse<$config>, StreamingError<$config>> {
                let mut wire = request(group, RaftMethod::FullSnapshot, json(&(vote, &snapshot.meta)));
                wire.snapshot = snapshot.snapshot.into();
                let send = self.send(target, wire, option.hard_ttl());
                tokio::select! {
                    closed = cancel => Err(StreamingError::Closed(closed)),
                    sent = send => sent.map_err(|reason| StreamingError::Unreachable(Unreachable::from_string(reason))),
                }
            }

            async fn transfer_leader(
                &self,
                target: NodeId,
                group: GroupId,
                rpc: TransferLeaderRequest<$config>,
                option: RPCOption,
            ) -> Result<TransferLeaderResponse<$config>, RPCError<$config>> {
                let wire = request(group, RaftMethod::TransferLeader, json(&rpc));
                self.send(target, wire, option.hard_ttl()).await.map_err(unreachable::<$config>)
            }

            fn backoff(&self) -> Option<Backoff> {
                Some(Backoff::new(std::iter::repeat(UNREACHABLE_BACKOFF)))
            }
        }

        impl RaftNetworkFactory<$config> for GroupNetwork {
            type Network = GroupNetworkAdapter<$config, GroupId, RaftRouter>;

            async fn new_client(&mut self, target: NodeId, node: &openraft::impls::BasicNode) -> Self::Network {
                self.router.peers.set_addr(target, &node.addr);
                GroupNetworkAdapter::new(self.router.clone(), target, self.group)
            }
        }

        #[async_trait]
        impl<SM> RaftEndpoint for Raft<$config, SM>
        where
            SM: RaftStateMachine<$config, SnapshotData = Vec<u8>>,
        {
            async fn handle(&self, request: RaftRequest) -> Result<RaftReply, Status> {
                let method = RaftMethod::try_from(request.method)
                    .map_err(|_| Status::invalid_argument(format!("unknown raft method {}", request.method)))?;
                let body = match method {
                    RaftMethod::AppendEntries => {
                        let mut rpc: AppendEntriesRequest<$config> = decode(&request.header)?;
                        rpc.entries = request
                            .entries
                            .into_iter()
                            .map(<$config as EntryWire>::from_wire)
                            .collect::<Result<_, _>>()
                            .map_err(|error| Status::invalid_argument(error.to_string()))?;
                        json(&self.append_entries(rpc).await.map_err(|error| error.to_string()))
                    }
                    RaftMethod::Vote => {
                        let rpc: VoteRequest<$config> = decode(&request.header)?;
                        json(&self.vote(rpc).await.map_err(|error| error.to_string()))
                    }
                    RaftMethod::PreVote => {
                        let rpc: VoteRequest<$config> = decode(&request.header)?;
                        json(&self.pre_vote(rpc).await.map_err(|error| error.to_string()))
                    }
                    RaftMethod::FullSnapshot => {
                        let (vote, meta): (VoteOf<$config>, SnapshotMetaOf<$config>) =
                            decode(&request.header)?;
                        let snapshot = Snapshot { meta, snapshot: request.snapshot.to_vec() };
                        json(&self.install_full_snapshot(vote, snapshot).await.map_err(|error| error.to_string()))
                    }
                    RaftMethod::TransferLeader => {
                        let rpc: TransferLeaderRequest<$config> = decode(&request.header)?;
                        json(&self.handle_transfer_leader(rpc).await.map_err(|error| error.to_string()))
                    }
                    RaftMethod::Unspecified => {
                        return Err(Status::unimplemented(format!("raft method {method:?} is not served")));
                    }
                };
                Ok(RaftReply { body: body.into() })
            }
        }
    };
}

wire_config!(MetaRaftConfig);
wire_config!(PartitionRaftConfig);

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Status> {
    serde_json::from_slice(bytes)
        .map_err(|error| Status::invalid_argument(format!("bad raft request: {error}")))
}

/// A Raft group this node hosts, as the transport's serving side sees it.
#[async_trait]
pub trait RaftEndpoint: Send + Sync + 'static {
    /// Answers one Raft RPC.
    async fn handle(&self, request: RaftRequest) -> Result<RaftReply, Status>;
}

/// The Raft groups this node hosts; cheap to clone.
#[derive(Clone, Default)]
pub struct RaftRegistry {
    groups: Arc<RwLock<HashMap<GroupId, Arc<dyn RaftEndpoint>>>>,
}

impl RaftRegistry {
    /// Starts serving a group.
    pub fn register(&self, group: GroupId, endpoint: Arc<dyn RaftEndpoint>) {
        self.groups
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(group, endpoint);
    }

    /// Stops serving a group.
    pub fn unregister(&self, group: GroupId) {
        self.groups.write().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&group);
    }

    /// Routes one request to its group.
    pub async fn handle(&self, request: RaftRequest) -> Result<RaftReply, Status> {
        let group = GroupId::from_wire(request.group)?;
        let endpoint = self
            .groups
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&group)
            .cloned()
            .ok_or_else(|| {
                Status::not_found(format!("raft group {group} is not hosted on this node"))
            })?;
        endpoint.handle(request).await
    }
}

impl From<TransportError> for Status {
    fn from(error: TransportError) -> Status {
        Status::unavailable(error.to_string())
    }
}
