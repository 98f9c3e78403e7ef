//! The admin REST API under `/api/admin` (on the query port): how operators see the cluster
//! and scale it. Every request needs `Authorization: Bearer <cluster.admin_token>`; without
//! it, or when no token is configured, the answer is 401.
//!
//! ```text
//!  GET    /api/admin/cluster                     members, Raft roles, partitions
//!  POST   /api/admin/partitions                  {"count": N, "request_id": "…"} → pending → active
//!  POST   /api/admin/partitions/{id}/deactivate  active → inactive (read-only)
//!  DELETE /api/admin/partitions/{id}             only inactive and flushed
//!  POST   /api/admin/nodes/{id}/drain            move its replicas away
//!  DELETE /api/admin/nodes/{id}                  only once it holds no replica
//! ```
//!
//! Each transition is one idempotent meta-group command; a refusal says why (400 invalid,
//! 404 unknown, 409 not allowed in the current state).

use openraft::async_runtime::WatchReceiver;
use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use bytes::Bytes;

use crate::actors::partition::manager::{LAG_METHOD, LocalPartitions};
use crate::api::error_code::{ApiError, ErrorCode};
use crate::cluster::meta::{
    Member, MemberState, MetaCommand, MetaResponse, PartitionEntry, PartitionState,
};
use crate::cluster::meta_group::{MetaGroup, now_ms};
use crate::cluster::transport::Peers;
use crate::cluster::types::NodeId;
use crate::model::ids::PartitionId;
use crate::proto::cluster::CallRequest;

/// What the admin routes need.
pub(crate) struct AdminState {
    /// The meta group of this node.
    pub meta: MetaGroup,
    /// This node's partition replicas (for the leaders' replication lag).
    pub local: LocalPartitions,
    /// Calls to other nodes (the leaders of partitions led elsewhere).
    pub peers: Peers,
    /// The bearer token; empty refuses everything.
    pub token: String,
}

/// Registers the admin routes.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("/api/admin")
            .route("/cluster", web::get().to(cluster))
            .route("/partitions", web::post().to(add_partitions))
            .route("/partitions/{id}/deactivate", web::post().to(deactivate_partition))
            .route("/partitions/{id}", web::delete().to(delete_partition))
            .route("/nodes/{id}/drain", web::post().to(drain_node))
            .route("/nodes/{id}", web::delete().to(remove_node)),
    );
}

/// Checks the bearer token (in time independent of where it differs); `Some` is the refusal.
fn refusal(request: &HttpRequest, state: &AdminState) -> Option<HttpResponse> {
    let unauthorized = |message: &str| {
        HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"spanlake admin\""))
            .content_type("text/plain; charset=utf-8")
            .body(format!("{message}\n"))
    };
    if state.token.is_empty() {
        return Some(unauthorized("the admin API is disabled: set cluster.admin_token"));
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.trim().as_bytes(), state.token.as_bytes()) => None,
        Some(_) => Some(unauthorized("wrong admin token")),
        None => Some(unauthorized("missing Authorization: Bearer <cluster.admin_token>")),
    }
}

fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given.iter().zip(expected).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

/// One node as the admin API shows it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct NodeView {
    /// Node id.
    pub id: NodeId,
    /// Its cluster service address.
    pub cluster_addr: String,
    /// Its query API address.
    pub http_addr: String,
    /// Its zone, if any.
    pub zone: Option<String>,
    /// `active` or `draining`.
    pub state: MemberState,
    /// Its role in the meta group: `leader`, `voter`, `learner` or `none`.
    pub meta_role: String,
    /// Meta log entries it is behind the leader (only known on the leader).
    pub meta_lag: Option<u64>,
}

/// One partition as the admin API shows it.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct PartitionView {
    /// Partition id.
    pub id: u32,
    /// `pending`, `active` or `inactive`.
    pub state: PartitionState,
    /// Nodes holding a replica.
    pub replicas: Vec<NodeId>,
    /// The leader, as last reported.
    pub leader: Option<NodeId>,
    /// Last committed log index, as last reported.
    pub committed: u64,
    /// Last log index in registered blocks.
    pub flushed: u64,
    /// Entries each replica is behind its leader, as the leader sees it (`None` when the
    /// leader did not answer).
    pub replication_lag: Option<BTreeMap<NodeId, u64>>,
}

/// `GET /api/admin/cluster`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ClusterView {
    /// The node that answered.
    pub answered_by: NodeId,
    /// The metadata was confirmed with the meta leader (a linearizable read); `false` when no
    /// leader answered in time and this is the answering node's own, possibly stale, copy.
    pub linearizable: bool,
    /// The meta group's leader.
    pub meta_leader: Option<NodeId>,
    /// The meta group's term.
    pub meta_term: u64,
    /// Desired replicas per partition.
    pub replication_factor: u32,
    /// Every member.
    pub nodes: Vec<NodeView>,
    /// Every partition.
    pub partitions: Vec<PartitionView>,
}

async fn cluster(request: HttpRequest, state: web::Data<AdminState>) -> HttpResponse {
    if let Some(refused) = refusal(&request, &state) {
        return refused;
    }
    // Linearizable when the meta leader answers in time; otherwise (no quorum, which is when an
    // operator most needs this page) this node's own, possibly stale, metadata, marked so.
    let (view, linearizable) =
        match tokio::time::timeout(LINEARIZABLE_TIMEOUT, state.meta.linearizable_view()).await {
            Ok(Ok(view)) => (view, true),
            Ok(Err(error)) => {
                tracing::debug!(%error, "cluster view from local metadata");
                (state.meta.view(), false)
            }
            Err(_) => (state.meta.view(), false),
        };
    let metrics = state.meta.raft().metrics().borrow_watched().clone();
    let membership = metrics.membership_config.membership();
    let voters: Vec<NodeId> = membership.voter_ids().collect();
    let learners: Vec<NodeId> = membership.learner_ids().collect();
    let matched: BTreeMap<NodeId, u64> = metrics
        .replication
        .as_ref()
        .map(|replication| {
            replication
                .iter()
                .map(|(id, matched)| (*id, matched.as_ref().map_or(0, |log_id| log_id.index)))
                .collect()
        })
        .unwrap_or_default();
    let last = metrics.last_log_index.unwrap_or(0);
    let role = |id: NodeId| {
        if metrics.current_leader == Some(id) {
            "leader"
        } else if voters.contains(&id) {
            "voter"
        } else if learners.contains(&id) {
            "learner"
        } else {
            "none"
        }
    };
    let nodes = view
        .state
        .members()
        .values()
        .map(|member: &Member| NodeView {
            id: member.id,
            cluster_addr: member.cluster_addr.clone(),
            http_addr: member.http_addr.clone(),
            zone: member.zone.clone(),
            state: member.state,
            meta_role: role(member.id).to_string(),
            meta_lag: matched.get(&member.id).map(|matched| last.saturating_sub(*matched)),
        })
        .collect();
    let lags = futures::future::join_all(
        view.state.partitions().values().map(|entry| replication_lag(&state, entry)),
    )
    .await;
    let partitions = view
        .state
        .partitions()
        .values()
        .zip(lags)
        .map(|(entry, replication_lag): (&PartitionEntry, _)| PartitionView {
            id: entry.id.0,
            state: entry.state,
            replicas: entry.replicas.clone(),
            leader: entry.leader_hint,
            committed: entry.committed,
            flushed: entry.flushed,
            replication_lag,
        })
        .collect();
    HttpResponse::Ok().json(ClusterView {
        answered_by: state.meta.me().id,
        linearizable,
        meta_leader: metrics.current_leader,
        meta_term: metrics.current_term,
        replication_factor: view.state.replication_factor(),
        nodes,
        partitions,
    })
}

/// How far behind each replica of a partition is, asked of its leader (here or elsewhere).
async fn replication_lag(
    state: &AdminState,
    entry: &PartitionEntry,
) -> Option<BTreeMap<NodeId, u64>> {
    let leader = entry.leader_hint?;
    if leader == state.meta.me().id {
        let local = state.local.get(entry.id)?;
        return local.log.lag(LAG_TIMEOUT).await.ok().flatten();
    }
    let request =
        CallRequest { method: LAG_METHOD.to_string(), partition: entry.id.0, body: Bytes::new() };
    let reply = state.peers.call(leader, request, LAG_TIMEOUT).await.ok()?;
    serde_json::from_slice::<Option<BTreeMap<NodeId, u64>>>(&reply.body).ok().flatten()
}

/// How long the cluster view waits to confirm its metadata with the meta leader.
const LINEARIZABLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long the cluster view waits for a leader's replication figures.
const LAG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// Body of `POST /api/admin/partitions`.
#[derive(Debug, Deserialize)]
struct AddPartitions {
    count: u32,
    #[serde(default)]
    request_id: Option<String>,
}

async fn add_partitions(
    request: HttpRequest,
    state: web::Data<AdminState>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(refused) = refusal(&request, &state) {
        return refused;
    }
    let add: AddPartitions = match serde_json::from_slice(&body) {
        Ok(add) => add,
        Err(error) => {
            return error_response(ApiError::bad_request(format!(
                "body must be JSON {{\"count\": N, \"request_id\": \"…\"}}: {error}"
            )));
        }
    };
    let command = MetaCommand::AddPartitions {
        count: add.count,
        at_ms: now_ms(),
        request_id: add.request_id,
    };
    run(&state, command).await
}

async fn deactivate_partition(
    request: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
) -> HttpResponse {
    with_partition(&request, &state, &path, |id| MetaCommand::DeactivatePartition {
        id,
        at_ms: now_ms(),
    })
    .await
}

async fn delete_partition(
    request: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
) -> HttpResponse {
    with_partition(&request, &state, &path, |id| MetaCommand::DeletePartition { id }).await
}

async fn drain_node(
    request: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
) -> HttpResponse {
    with_node(&request, &state, &path, |id| MetaCommand::DrainNode { id }).await
}

async fn remove_node(
    request: HttpRequest,
    state: web::Data<AdminState>,
    path: web::Path<String>,
) -> HttpResponse {
    with_node(&request, &state, &path, |id| MetaCommand::RemoveNode { id }).await
}

async fn with_partition(
    request: &HttpRequest,
    state: &AdminState,
    path: &str,
    command: impl FnOnce(PartitionId) -> MetaCommand,
) -> HttpResponse {
    if let Some(refused) = refusal(request, state) {
        return refused;
    }
    let text = path.strip_prefix('p').unwrap_or(path);
    match text.parse::<u32>() {
        Ok(id) => run(state, command(PartitionId(id))).await,
        Err(_) => error_response(ApiError::bad_request(format!(
            "partition id must be a number (like 3 or p3), got {path:?}"
        ))),
    }
}

async fn with_node(
    request: &HttpRequest,
    state: &AdminState,
    path: &str,
    command: impl FnOnce(NodeId) -> MetaCommand,
) -> HttpResponse {
    if let Some(refused) = refusal(request, state) {
        return refused;
    }
    match path.parse::<NodeId>() {
        Ok(id) => run(state, command(id)).await,
        Err(_) => {
            error_response(ApiError::bad_request(format!("node id must be a number, got {path:?}")))
        }
    }
}

/// Proposes a command and answers with its outcome.
async fn run(state: &AdminState, command: MetaCommand) -> HttpResponse {
    match state.meta.propose(command).await {
        Ok(MetaResponse::Done) => HttpResponse::Ok().json(serde_json::json!({"status": "done"})),
        Ok(MetaResponse::PartitionsAdded { ids }) => HttpResponse::Ok().json(serde_json::json!({
            "status": "done",
            "partitions": ids.iter().map(|id| id.0).collect::<Vec<_>>(),
        })),
        Ok(MetaResponse::Refused { kind, reason }) => {
            let error = crate::cluster::error::ClusterError::Refused { kind, reason };
            error_response(ApiError::new(error.error_code(), error.to_string()))
        }
        Err(error) => error_response(ApiError::new(error.error_code(), error.to_string())),
    }
}

fn error_response(error: ApiError) -> HttpResponse {
    let mut response = HttpResponse::build(error.code.http_status());
    response.content_type("text/plain; charset=utf-8");
    if error.code == ErrorCode::Unavailable {
        response.insert_header((header::RETRY_AFTER, "1"));
    }
    response.body(format!("{}\n", error.message))
}
