//! The serving side of the transport: checks the secret and the injected faults, then hands
//! Raft RPCs to the node's [`RaftRegistry`] and everything else to its [`ClusterHandler`].

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use tonic::{Request, Response, Status};

use super::faults::NetFaults;
use super::raft_wire::RaftRegistry;
use super::{FROM_HEADER, SECRET_HEADER, same_secret};
use crate::cluster::types::NodeId;
use crate::proto::cluster::cluster_server::Cluster;
use crate::proto::cluster::{
    CallReply, CallRequest, ForwardReply, ForwardRequest, JoinReply, JoinRequest, RaftReply,
    RaftRequest,
};

/// What a node does with the non-Raft requests of its peers.
#[async_trait]
pub trait ClusterHandler: Send + Sync + 'static {
    /// A node asks to join.
    async fn join(&self, request: JoinRequest) -> Result<JoinReply, Status>;
    /// A write for a partition this node should lead.
    async fn forward(&self, request: ForwardRequest) -> Result<ForwardReply, Status>;
    /// A message for one of this node's actors.
    async fn call(&self, request: CallRequest) -> Result<CallReply, Status>;
}

/// The cluster gRPC service of one node.
#[derive(Clone)]
pub struct ClusterService {
    secret: Arc<[u8]>,
    faults: Arc<NetFaults>,
    registry: RaftRegistry,
    handler: Arc<RwLock<Option<Arc<dyn ClusterHandler>>>>,
}

impl ClusterService {
    /// A service accepting requests that carry `secret`. An empty secret refuses everything:
    /// a cluster port must never be open without one.
    pub fn new(secret: &str, faults: Arc<NetFaults>, registry: RaftRegistry) -> ClusterService {
        ClusterService {
            secret: Arc::from(secret.as_bytes()),
            faults,
            registry,
            handler: Arc::new(RwLock::new(None)),
        }
    }

    /// Installs what answers join, forward and call requests (until then: UNAVAILABLE).
    pub fn set_handler(&self, handler: Arc<dyn ClusterHandler>) {
        *self.handler.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handler);
    }

    /// Checks the secret, then the injected faults.
    fn admit<T>(&self, request: &Request<T>) -> Result<(), Status> {
        if self.secret.is_empty() {
            return Err(Status::unauthenticated(
                "this node has no cluster.secret configured and refuses every cluster request",
            ));
        }
        let given = request.metadata().get(SECRET_HEADER).map(|value| value.as_bytes());
        match given {
            Some(given) if same_secret(given, &self.secret) => {}
            Some(_) => return Err(Status::unauthenticated("wrong cluster secret")),
            None => {
                return Err(Status::unauthenticated(format!(
                    "missing cluster secret (metadata {SECRET_HEADER})"
                )));
            }
        }
        let from: Option<NodeId> = request
            .metadata()
            .get(FROM_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| text.parse().ok());
        if self.faults.is_cut(from) {
            return Err(Status::unavailable("link cut by an injected fault"));
        }
        Ok(())
    }

    fn handler(&self) -> Result<Arc<dyn ClusterHandler>, Status> {
        self.handler
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
            .ok_or_else(|| Status::unavailable("node is starting"))
    }
}

#[async_trait]
impl Cluster for ClusterService {
    async fn raft(&self, request: Request<RaftRequest>) -> Result<Response<RaftReply>, Status> {
        self.admit(&request)?;
        let reply = self.registry.handle(request.into_inner()).await?;
        Ok(Response::new(reply))
    }

    async fn join(&self, request: Request<JoinRequest>) -> Result<Response<JoinReply>, Status> {
        self.admit(&request)?;
        let handler = self.handler()?;
        Ok(Response::new(handler.join(request.into_inner()).await?))
    }

    async fn forward(
        &self,
        request: Request<ForwardRequest>,
    ) -> Result<Response<ForwardReply>, Status> {
        self.admit(&request)?;
        let handler = self.handler()?;
        Ok(Response::new(handler.forward(request.into_inner()).await?))
    }

    async fn call(&self, request: Request<CallRequest>) -> Result<Response<CallReply>, Status> {
        self.admit(&request)?;
        let handler = self.handler()?;
        Ok(Response::new(handler.call(request.into_inner()).await?))
    }
}
