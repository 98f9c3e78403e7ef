//! The calling side of the transport: one lazily connected HTTP/2 channel per peer address,
//! shared by every Raft group and every caller on this node.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use super::faults::{NetFaults, Verdict};
use super::{ClusterTls, SECRET_HEADER, TransportError};
use crate::cluster::types::NodeId;
use crate::proto::cluster::cluster_client::ClusterClient;
use crate::proto::cluster::{
    CallReply, CallRequest, ForwardReply, ForwardRequest, JoinReply, JoinRequest, RaftReply,
    RaftRequest,
};

/// How long establishing a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// HTTP/2 keep-alive pings detect a dead peer on an idle connection.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);

/// Where peers are and how to reach them; cheap to clone.
#[derive(Clone)]
pub struct Peers {
    inner: Arc<PeersInner>,
}

struct PeersInner {
    me: NodeId,
    secret: MetadataValue<tonic::metadata::Ascii>,
    addrs: RwLock<HashMap<NodeId, String>>,
    channels: RwLock<HashMap<String, Channel>>,
    faults: Arc<NetFaults>,
    max_message_bytes: usize,
    tls: Option<ClusterTls>,
}

impl Peers {
    /// The transport of node `me`, sending `secret` with every request.
    pub fn new(
        me: NodeId,
        secret: &str,
        faults: Arc<NetFaults>,
        max_message_bytes: usize,
        tls: Option<ClusterTls>,
    ) -> Result<Peers, TransportError> {
        let secret = MetadataValue::try_from(secret).map_err(|_| TransportError::BadSecret)?;
        Ok(Peers {
            inner: Arc::new(PeersInner {
                me,
                secret,
                addrs: RwLock::new(HashMap::new()),
                channels: RwLock::new(HashMap::new()),
                faults,
                max_message_bytes,
                tls,
            }),
        })
    }

    /// This node's injected faults.
    #[cfg(test)]
    pub fn faults(&self) -> &Arc<NetFaults> {
        &self.inner.faults
    }

    /// Records (or changes) where a node's cluster service listens.
    pub fn set_addr(&self, node: NodeId, addr: &str) {
        let mut addrs = self.inner.addrs.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if addrs.get(&node).map(String::as_str) != Some(addr) {
            addrs.insert(node, addr.to_string());
        }
    }

    /// Where a node's cluster service listens, if known.
    pub fn addr(&self, node: NodeId) -> Option<String> {
        self.inner.addrs.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&node).cloned()
    }

    /// A client for an address (no node id yet: a seed asked to join).
    fn client_for(&self, addr: &str) -> Result<ClusterClient<Channel>, TransportError> {
        let existing = self
            .inner
            .channels
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(addr)
            .cloned();
        let channel =
            match existing {
                Some(channel) => channel,
                None => {
                    let scheme = if self.inner.tls.is_some() { "https" } else { "http" };
                    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
                        .map_err(|error| TransportError::BadAddress {
                            addr: addr.to_string(),
                            reason: error.to_string(),
                        })?;
                    if let Some(tls) = &self.inner.tls {
                        let host = addr.rsplit_once(':').map_or(addr, |(host, _)| host);
                        let host = host.trim_start_matches('[').trim_end_matches(']');
                        endpoint = endpoint
                            .tls_config(tls.client(host))
                            .map_err(|error| TransportError::Tls { reason: error.to_string() })?;
                    }
                    let endpoint = endpoint
                        .connect_timeout(CONNECT_TIMEOUT)
                        .tcp_nodelay(true)
                        .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
                        .keep_alive_while_idle(true);
                    let channel = endpoint.connect_lazy();
                    self.inner
                        .channels
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .entry(addr.to_string())
                        .or_insert(channel)
                        .clone()
                }
            };
        Ok(ClusterClient::new(channel)
            .max_decoding_message_size(self.inner.max_message_bytes)
            .max_encoding_message_size(self.inner.max_message_bytes))
    }

    /// Applies this node's faults to a message for `peer`, then builds the request.
    async fn prepare<T>(
        &self,
        peer: Option<NodeId>,
        body: T,
        timeout: Duration,
    ) -> Result<tonic::Request<T>, TransportError> {
        if let Some(peer) = peer {
            match self.inner.faults.outgoing(peer) {
                Verdict::Drop => {
                    return Err(TransportError::Unreachable {
                        peer,
                        reason: "link cut by an injected fault".to_string(),
                    });
                }
                Verdict::Deliver(delay) if !delay.is_zero() => tokio::time::sleep(delay).await,
                Verdict::Deliver(_) => {}
            }
        } else if self.inner.faults.is_cut(None) {
            return Err(TransportError::Unreachable {
                peer: 0,
                reason: "node isolated by an injected fault".to_string(),
            });
        }
        let mut request = tonic::Request::new(body);
        request.set_timeout(timeout);
        request.metadata_mut().insert(SECRET_HEADER, self.inner.secret.clone());
        request.metadata_mut().insert(super::FROM_HEADER, MetadataValue::from(self.inner.me));
        Ok(request)
    }

    fn client_of(&self, peer: NodeId) -> Result<ClusterClient<Channel>, TransportError> {
        let addr = self.addr(peer).ok_or(TransportError::UnknownPeer(peer))?;
        self.client_for(&addr)
    }

    /// Sends one Raft RPC to `peer`.
    pub async fn raft(
        &self,
        peer: NodeId,
        body: RaftRequest,
        timeout: Duration,
    ) -> Result<RaftReply, TransportError> {
        let mut client = self.client_of(peer)?;
        let request = self.prepare(Some(peer), body, timeout).await?;
        with_deadline(timeout, peer, client.raft(request)).await
    }

    /// Asks the node at `addr` (a seed, or a leader it named) to let this node join.
    pub async fn join(
        &self,
        addr: &str,
        body: JoinRequest,
        timeout: Duration,
    ) -> Result<JoinReply, TransportError> {
        let mut client = self.client_for(addr)?;
        let request = self.prepare(None, body, timeout).await?;
        with_deadline(timeout, 0, client.join(request)).await
    }

    /// Forwards a write to the partition leader `peer`.
    pub async fn forward(
        &self,
        peer: NodeId,
        body: ForwardRequest,
        timeout: Duration,
    ) -> Result<ForwardReply, TransportError> {
        let mut client = self.client_of(peer)?;
        let request = self.prepare(Some(peer), body, timeout).await?;
        with_deadline(timeout, peer, client.forward(request)).await
    }

    /// Sends a message to an actor on `peer`.
    pub async fn call(
        &self,
        peer: NodeId,
        body: CallRequest,
        timeout: Duration,
    ) -> Result<CallReply, TransportError> {
        let mut client = self.client_of(peer)?;
        let request = self.prepare(Some(peer), body, timeout).await?;
        with_deadline(timeout, peer, client.call(request)).await
    }
}

/// Runs one call under a client-side deadline (the server-side one travels as `grpc-timeout`).
async fn with_deadline<T>(
    timeout: Duration,
    peer: NodeId,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, TransportError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(TransportError::from_status(peer, status)),
        Err(_) => Err(TransportError::Timeout { peer, after: timeout }),
    }
}
