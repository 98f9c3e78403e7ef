//! A running spanlake node: the supervision tree plus the servers in front of it.
//!
//! ```text
//!  Node::start(config)
//!   1. bind every listener (fail fast, naming the port's config key; port 0 = ephemeral)
//!   2. open the object store, list its blocks; spawn NodeSupervisor → distributor,
//!      partitions (each opens and recovers its WAL, its builder resumes), query shards
//!   3. wait until every live-store has replayed its log  (no partial reads after a restart)
//!   4. serve: OTLP gRPC, OTLP HTTP, query API (HTTP and gRPC on one port, `api::query_port`);
//!      `/ready` turns 200
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::web;
use ractor::{Actor, ActorRef};
use thiserror::Error;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::info;

use crate::actors::DistributorHandle;
use crate::actors::call::ActorSlot;
use crate::actors::distributor::PartitionRouter;
use crate::actors::distributor::{DistributorLimits, PrepareLimits};
use crate::actors::faults::FaultPoints;
use crate::actors::metrics::NodeMetrics;
use crate::actors::node::{NodeSupervisor, NodeSupervisorArgs, NodeSupervisorMsg};
use crate::actors::partition::flush_planner::FlushPolicy;
use crate::actors::partition::log::PartitionCluster;
use crate::actors::partition::manager::{self, LocalPartitions, ReplicaFactory};
use crate::actors::partition::supervisor::PartitionArgs;
use crate::actors::partition::usage::LiveUsageBoard;
use crate::actors::query::remote::LiveReplicas;
use crate::actors::query::remote_jobs::NodeCalls;
use crate::actors::query::shard::{BlockObjectCache, QueryShardArgs, QueryShardPool};
use crate::actors::query::tag_request::TagRequestBounds;
use crate::actors::query::tags::TagSearcher;
use crate::actors::query::{Searcher, TraceByIdQuerier};
use crate::actors::supervision::{RestartCounts, RestartPolicy};
use crate::api::admin::AdminState;
use crate::api::ingest::servers::{IngestContext, IngestListeners, IngestServers, ListenError};
use crate::api::query::search::SearchState;
use crate::api::query::streaming::StreamingQuerierService;
use crate::api::query::tags::TagsState;
use crate::api::query::trace_by_id::TraceByIdState;
use crate::api::query_port::{QueryApi, QueryPort};
use crate::api::status::StatusState;
use crate::cluster::meta_group::{MetaBlockList, MetaGroup, adopt};
use crate::cluster::runtime::{ClusterRuntime, GroupKind, raft_config};
pub use crate::cluster::transport::NetFaults;
use crate::config::Config;
use crate::model::ids::PartitionId;
use crate::storage::block::BlockBuildOptions;
use crate::storage::block_list::{BlockList, LocalBlockList};
use crate::storage::object_store::{RetryPolicy, open_object_store, verify_access};
use crate::storage::wal::WalOptions;

/// How long start-up may take to replay the logs into the live-stores.
const REPLAY_DEADLINE: Duration = Duration::from_secs(600);
/// Worker threads per actix server.
const HTTP_WORKERS: usize = 2;
/// Query shards in the pool: how many block reads run at once.
const QUERY_SHARDS: usize = 8;
/// How long one block lookup may take.
const QUERY_SHARD_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a node could not start.
#[derive(Debug, Error)]
pub enum NodeError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind {
        /// Which listener, with its config key.
        what: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// A data directory could not be created.
    #[error("cannot create {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A receiver's listener could not be bound.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// The supervision tree did not start (a log could not be opened, …).
    #[error("node failed to start: {reason}")]
    Startup {
        /// What failed.
        reason: String,
    },
}

/// Where a node listens (the actual ports, also when the config said 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeAddrs {
    /// Query API and ops routes (`server.http_listen_port`).
    pub http: SocketAddr,
    /// OTLP/gRPC, if enabled.
    pub otlp_grpc: Option<SocketAddr>,
    /// OTLP/HTTP, if enabled.
    pub otlp_http: Option<SocketAddr>,
    /// Jaeger Thrift over HTTP, if enabled.
    pub jaeger_thrift_http: Option<SocketAddr>,
    /// Jaeger gRPC, if enabled.
    pub jaeger_grpc: Option<SocketAddr>,
    /// Zipkin, if enabled.
    pub zipkin: Option<SocketAddr>,
    /// Jaeger agent datagrams in Thrift compact (UDP), if enabled.
    pub jaeger_thrift_compact: Option<SocketAddr>,
    /// Jaeger agent datagrams in Thrift binary (UDP), if enabled.
    pub jaeger_thrift_binary: Option<SocketAddr>,
    /// The internal cluster service (`server.grpc_listen_port`).
    pub cluster: SocketAddr,
}

/// A running node.
pub struct Node {
    addrs: NodeAddrs,
    cluster: Option<ClusterRuntime>,
    net_faults: Arc<NetFaults>,
    faults: FaultPoints,
    restarts: RestartCounts,
    ready: Arc<AtomicBool>,
    root: ActorRef<NodeSupervisorMsg>,
    /// Taken by `shutdown`.
    query_port: Option<QueryPort>,
    ingest: Option<IngestServers>,
    failure: watch::Receiver<Option<String>>,
}

impl Node {
    /// Starts a node; returns once it serves every listener and has replayed its logs.
    pub async fn start(config: Config) -> Result<Node, NodeError> {
        let metrics = Arc::new(NodeMetrics::new());
        let faults = FaultPoints::default();
        let restarts = RestartCounts::default();
        let ready = Arc::new(AtomicBool::new(false));

        let http_listener =
            bind_std(config.server.http_addr(), "the query API (server.http_listen_port)")?;
        let ingest = IngestListeners::bind(&config.distributor.receivers)?;
        let cluster_listener =
            bind_std(config.grpc_listen_addr(), "the cluster service (server.grpc_listen_port)")?;
        let ingest_addrs = ingest.addrs();
        let addrs = NodeAddrs {
            http: local_addr(&http_listener)?,
            otlp_grpc: ingest_addrs.otlp_grpc,
            otlp_http: ingest_addrs.otlp_http,
            jaeger_thrift_http: ingest_addrs.jaeger_thrift_http,
            jaeger_grpc: ingest_addrs.jaeger_grpc,
            zipkin: ingest_addrs.zipkin,
            jaeger_thrift_compact: ingest_addrs.jaeger_thrift_compact,
            jaeger_thrift_binary: ingest_addrs.jaeger_thrift_binary,
            cluster: local_addr(&cluster_listener)?,
        };
        let cluster_listener =
            tokio::net::TcpListener::from_std(cluster_listener).map_err(|source| {
                NodeError::Bind { what: "the cluster service", addr: addrs.cluster, source }
            })?;

        let wal_root = config.storage.trace.wal.path.clone();
        std::fs::create_dir_all(&wal_root)
            .map_err(|source| NodeError::DataDir { path: wal_root.clone(), source })?;
        // Before joining anything: a partition log from before clustering cannot be served.
        let legacy_options = WalOptions { segment_bytes: config.storage.trace.wal.segment_bytes };
        crate::cluster::legacy::check_partition_logs(&wal_root, &legacy_options)
            .map_err(|error| NodeError::Startup { reason: error.to_string() })?;
        let net_faults = Arc::new(NetFaults::default());
        let cluster =
            ClusterRuntime::start(&config, cluster_listener, addrs.http, net_faults.clone())
                .await
                .map_err(|error| NodeError::Startup {
                    reason: format!("cannot join or create the cluster: {error}"),
                })?;
        let store = open_object_store(&config.storage.trace).map_err(|error| {
            NodeError::Startup { reason: format!("cannot open the object store: {error}") }
        })?;
        verify_access(
            store.as_ref(),
            &RetryPolicy::from(&config.storage.trace.retry),
            Some(&metrics),
        )
        .await
        .map_err(|error| NodeError::Startup {
            reason: format!("the object store is not usable: {error}"),
        })?;
        if cluster.meta().view().state.bootstrapped_by() == Some(cluster.meta().me().id) {
            // The node that created the cluster adopts blocks already in the store (written
            // by an earlier single-node version, or a cluster whose metadata was lost).
            let (found, _) =
                LocalBlockList::load(&store).await.map_err(|error| NodeError::Startup {
                    reason: format!("cannot list blocks in the object store: {error}"),
                })?;
            adopt(cluster.meta(), found.all()).await.map_err(|error| NodeError::Startup {
                reason: format!("cannot register the blocks found in the object store: {error}"),
            })?;
        }
        let blocks: Arc<dyn BlockList> = Arc::new(MetaBlockList::new(cluster.meta().clone()));
        let retry = RetryPolicy::from(&config.storage.trace.retry);
        let block_config = &config.storage.trace.block;
        let build_options = BlockBuildOptions {
            row_group_spans: usize::try_from(block_config.row_group_spans).unwrap_or(usize::MAX),
            page_rows: usize::try_from(block_config.page_rows).unwrap_or(usize::MAX),
            bloom_false_positive: block_config.bloom_filter_false_positive,
            bloom_shard_traces: traces_per_bloom_shard(
                block_config.bloom_filter_shard_size_bytes,
                block_config.bloom_filter_false_positive,
            ),
        };
        let builder_config = &config.block_builder;
        let build_permits = Arc::new(tokio::sync::Semaphore::new(1));
        let flush_policy = FlushPolicy {
            max_block_duration: builder_config.max_block_duration.get(),
            max_block_bytes: builder_config.max_block_bytes,
            trace_idle_period: builder_config.trace_idle_period.get(),
        };
        let usage = LiveUsageBoard::default();
        let restart_policy = RestartPolicy {
            max_restarts: config.supervision.max_restarts as usize,
            window: config.supervision.restart_window.0,
            backoff_initial: config.supervision.backoff_initial.0,
            backoff_max: config.supervision.backoff_max.0,
        };
        let wal_config = &config.storage.trace.wal;
        let partition_cluster = PartitionCluster {
            me: cluster.meta().me().id,
            meta: cluster.meta().clone(),
            router: cluster.router().clone(),
            registry: cluster.registry().clone(),
            raft_config: raft_config(&config, GroupKind::Partition).map_err(|error| {
                NodeError::Startup { reason: format!("invalid partition Raft settings: {error}") }
            })?,
        };
        let local = LocalPartitions::default();
        let factory: ReplicaFactory = {
            let wal_options = WalOptions { segment_bytes: wal_config.segment_bytes };
            let recent_window = config.live_store.recent_window.get();
            let store = store.clone();
            let build_options = build_options.clone();
            let retry = retry.clone();
            let flush_check_period = builder_config.flush_check_period.get();
            let usage = usage.clone();
            let faults = faults.clone();
            let metrics = metrics.clone();
            let restarts = restarts.clone();
            let wal_root = wal_root.clone();
            Arc::new(move |partition: PartitionId| PartitionArgs {
                partition,
                wal_dir: manager::wal_dir(&wal_root, partition),
                wal_options: wal_options.clone(),
                wal: Default::default(),
                recent_window,
                log_slot: ActorSlot::new(format!("partition log {partition}")),
                live_store_slot: ActorSlot::new(format!("live-store {partition}")),
                block_builder_slot: ActorSlot::new(format!("block-builder {partition}")),
                store: store.clone(),
                cluster: partition_cluster.clone(),
                flushed: Default::default(),
                applied: Default::default(),
                leader_term: Default::default(),
                known_leader: Default::default(),
                flush_policy,
                build_options: build_options.clone(),
                retry: retry.clone(),
                flush_check_period,
                build_permits: build_permits.clone(),
                usage: usage.clone(),
                faults: faults.clone(),
                metrics: metrics.clone(),
                restart_policy,
                restarts: restarts.clone(),
            })
        };
        let distributor_slot = ActorSlot::new("distributor");
        let distributor_limits = DistributorLimits {
            prepare: PrepareLimits {
                max_attribute_bytes: usize::try_from(config.distributor.max_attribute_bytes)
                    .unwrap_or(usize::MAX),
            },
            max_live_traces_per_tenant: config.overrides.defaults.ingestion.max_traces_per_user,
            max_live_bytes_per_tenant: config.live_store.max_bytes_per_tenant,
            push_timeout: config.distributor.push_timeout.0,
        };
        let (failure_sender, failure) = watch::channel(None);
        let query_shards: Vec<_> =
            (0..QUERY_SHARDS).map(|shard| ActorSlot::new(format!("query shard {shard}"))).collect();
        let query_shard_pool = QueryShardPool::new(query_shards.clone(), QUERY_SHARD_TIMEOUT);
        let root_args = NodeSupervisorArgs {
            router: PartitionRouter::new(
                cluster.meta().clone(),
                local.clone(),
                cluster.peers().clone(),
            ),
            query_shards,
            query_shard_args: QueryShardArgs {
                store: store.clone(),
                cache: Arc::new(BlockObjectCache::default()),
                faults: faults.clone(),
            },
            distributor_slot: distributor_slot.clone(),
            distributor_limits,
            usage,
            metrics: metrics.clone(),
            faults: faults.clone(),
            restart_policy,
            restarts: restarts.clone(),
            failure: failure_sender,
        };
        let (root, _) = Actor::spawn(None, NodeSupervisor, root_args)
            .await
            .map_err(|error| NodeError::Startup { reason: error.to_string() })?;
        let manager = tokio::spawn(manager::run(
            cluster.meta().clone(),
            root.clone(),
            factory,
            local.clone(),
        ));
        // Built before the node answers other nodes: they send searches and tag jobs here.
        let replicas =
            LiveReplicas::new(local.clone(), cluster.meta().clone(), cluster.peers().clone());
        let searcher = Searcher::new(replicas.clone(), blocks.clone(), query_shard_pool.clone());
        let tag_searcher = TagSearcher::new(
            replicas.clone(),
            blocks.clone(),
            query_shard_pool.clone(),
            metrics.clone(),
        );
        cluster.set_partition_writes(Arc::new(NodeCalls::new(
            local.clone(),
            searcher.clone(),
            tag_searcher.clone(),
        )));
        if let Err(reason) = wait_for_replicas(cluster.meta(), &local).await {
            manager.abort();
            root.stop(None);
            return Err(NodeError::Startup { reason });
        }

        let distributor =
            DistributorHandle::new(distributor_slot, distributor_limits, metrics.clone());
        let multitenancy = config.multitenancy_enabled;
        // `querier.search.query_timeout`: searches and tag queries give up after it (504).
        let search_timeout = config.querier.search.query_timeout.get();
        let search_limits = config.query_frontend.search.clone();
        let tag_bounds =
            TagRequestBounds { timeout: search_timeout, max_window: search_limits.max_duration() };
        let streaming = StreamingQuerierService {
            searcher: searcher.clone(),
            tag_searcher: tag_searcher.clone(),
            multitenancy,
            timeout: search_timeout,
            limits: search_limits.clone(),
        };
        let search_state = web::Data::new(SearchState {
            searcher,
            multitenancy,
            timeout: search_timeout,
            limits: search_limits,
        });
        let tags_state =
            web::Data::new(TagsState { searcher: tag_searcher, multitenancy, bounds: tag_bounds });
        let query_state = web::Data::new(TraceByIdState {
            querier: TraceByIdQuerier::new(
                replicas,
                blocks,
                query_shard_pool,
                usize::try_from(config.overrides.defaults.global.max_bytes_per_trace)
                    .unwrap_or(usize::MAX),
                metrics.clone(),
            ),
            multitenancy,
        });
        let admin_state = web::Data::new(AdminState {
            meta: cluster.meta().clone(),
            local: local.clone(),
            peers: cluster.peers().clone(),
            token: config.cluster.admin_token.clone(),
        });
        let status_state = web::Data::new(StatusState {
            ready: ready.clone(),
            metrics: metrics.clone(),
            config: config.clone(),
        });
        let query_port = QueryPort::start(
            http_listener,
            QueryApi {
                trace_by_id: query_state,
                search: search_state,
                tags: tags_state,
                status: status_state,
                admin: admin_state,
                streaming,
                http_workers: HTTP_WORKERS,
            },
        )
        .map_err(|source| NodeError::Bind {
            what: "the query API",
            addr: addrs.http,
            source,
        })?;

        let ingest = ingest.serve(IngestContext {
            distributor,
            multitenancy,
            max_request_bytes: usize::try_from(config.distributor.max_request_bytes)
                .unwrap_or(usize::MAX),
        })?;

        ready.store(true, Ordering::Release);
        info!(http = %addrs.http, otlp_grpc = ?addrs.otlp_grpc, otlp_http = ?addrs.otlp_http, jaeger_thrift_http = ?addrs.jaeger_thrift_http, jaeger_grpc = ?addrs.jaeger_grpc, zipkin = ?addrs.zipkin, "spanlake node ready");
        Ok(Node {
            addrs,
            cluster: Some(cluster),
            net_faults,
            faults,
            restarts,
            ready,
            root,
            query_port: Some(query_port),
            ingest: Some(ingest),
            failure,
        })
    }

    /// Where the node listens.
    pub fn addrs(&self) -> NodeAddrs {
        self.addrs
    }

    /// The node's injected network faults (tests isolate the node with them).
    pub fn net_faults(&self) -> &Arc<NetFaults> {
        &self.net_faults
    }

    /// This node's id in the cluster.
    pub fn node_id(&self) -> u64 {
        self.cluster.as_ref().map_or(0, |cluster| cluster.meta().me().id)
    }

    /// The node's fault points (tests arm them).
    pub fn faults(&self) -> &FaultPoints {
        &self.faults
    }

    /// Restarts performed by the node's supervisors, per actor role.
    pub fn restarts(&self) -> &RestartCounts {
        &self.restarts
    }

    /// Resolves with the reason once the node's supervision tree gives up.
    pub async fn failed(&self) -> String {
        let mut failure = self.failure.clone();
        loop {
            if let Some(reason) = failure.borrow_and_update().clone() {
                return reason;
            }
            if failure.changed().await.is_err() {
                return "the node supervisor stopped".to_string();
            }
        }
    }

    /// Stops serving, then stops every actor (in-flight flushes complete).
    pub async fn shutdown(mut self) {
        self.ready.store(false, Ordering::Release);
        if let Some(ingest) = self.ingest.take() {
            ingest.stop().await;
        }
        if let Some(query_port) = self.query_port.take() {
            query_port.shutdown().await;
        }
        let _ = self.root.stop_and_wait(None, Some(Duration::from_secs(30))).await;
        if let Some(cluster) = self.cluster.take() {
            cluster.shutdown().await;
        }
        info!("spanlake node stopped");
    }
}

/// How many trace ids fit a bloom shard of `shard_bytes` at `false_positive` (Tempo sizes
/// shards in bytes; the writer wants a count). Optimal bloom: -ln(p) / ln(2)² bits per id.
fn traces_per_bloom_shard(shard_bytes: u64, false_positive: f64) -> usize {
    let bits_per_id = -false_positive.ln() / std::f64::consts::LN_2.powi(2);
    let ids = (shard_bytes as f64 * 8.0 / bits_per_id.max(1.0)).floor();
    (ids as usize).max(1)
}

fn bind_std(addr: SocketAddr, what: &'static str) -> Result<std::net::TcpListener, NodeError> {
    let listener = std::net::TcpListener::bind(addr).map_err(|source| NodeError::Bind {
        what,
        addr,
        source,
    })?;
    listener.set_nonblocking(true).map_err(|source| NodeError::Bind { what, addr, source })?;
    Ok(listener)
}

fn local_addr(listener: &std::net::TcpListener) -> Result<SocketAddr, NodeError> {
    listener.local_addr().map_err(|source| NodeError::Startup {
        reason: format!("cannot read a listener's address: {source}"),
    })
}

/// Waits until this node hosts a replica of every partition the meta group places here, and
/// each has applied what its log had committed (no partial reads after a restart).
async fn wait_for_replicas(meta: &MetaGroup, local: &LocalPartitions) -> Result<(), String> {
    let deadline = Instant::now() + REPLAY_DEADLINE;
    let me = meta.me().id;
    loop {
        let view = meta.view();
        let mut ready = true;
        for (partition, entry) in view.state.partitions() {
            if !entry.replicas.contains(&me) {
                continue;
            }
            let Some(replica) = local.get(*partition) else {
                ready = false;
                break;
            };
            let caught_up = match replica.log.committed(Duration::from_secs(5)).await {
                Ok(committed) => replica
                    .live_store
                    .applied()
                    .await
                    .is_ok_and(|applied| applied.is_some_and(|applied| applied >= committed)),
                Err(_) => false,
            };
            if !caught_up {
                ready = false;
                break;
            }
        }
        if ready {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("partition replicas did not catch up within {REPLAY_DEADLINE:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
