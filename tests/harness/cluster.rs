//! A cluster of nodes in this test process: they join through seeds over the real transport
//! on loopback, share one object store directory (as nodes share a bucket), and each has its
//! own injected network faults.

use std::path::PathBuf;
use std::time::Duration;

use spanlake::{Config, Node};

use super::{init_logging, test_config};

/// The secret every test node shares.
pub const SECRET: &str = "test-cluster-secret";
/// The admin token of every test node.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// Edits the config of the node at a position before it starts.
type ConfigEdit = Box<dyn Fn(usize, &mut Config)>;

/// Builds a [`TestCluster`].
pub struct TestClusterBuilder {
    nodes: usize,
    adjust: ConfigEdit,
}

impl TestClusterBuilder {
    /// How many nodes start (default 3).
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// Edits each node's config (given its position) before it starts.
    pub fn configure(mut self, adjust: impl Fn(usize, &mut Config) + 'static) -> Self {
        self.adjust = Box::new(adjust);
        self
    }

    /// Starts the first node (it creates the cluster), then the others with it as their seed.
    pub async fn build(self) -> TestCluster {
        init_logging();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cluster = TestCluster { nodes: Vec::new(), dir, adjust: self.adjust, seed: None };
        for _ in 0..self.nodes {
            cluster.add_node().await;
        }
        cluster
    }
}

/// One node of a [`TestCluster`]: stopped nodes keep their data directory.
pub struct ClusterNode {
    pub node: Option<Node>,
    pub config: Config,
}

impl ClusterNode {
    /// The running node.
    pub fn node(&self) -> &Node {
        self.node.as_ref().expect("node is running")
    }

    /// `http://127.0.0.1:port` of the query API.
    pub fn query_url(&self) -> String {
        format!("http://{}", self.node().addrs().http)
    }

    /// A Tempo API reader for this node.
    pub fn tempo(&self) -> super::clients::TempoClient {
        super::clients::TempoClient::new(self.query_url())
    }

    /// `http://127.0.0.1:port` of OTLP/gRPC.
    pub fn otlp_grpc_url(&self) -> String {
        format!("http://{}", self.node().addrs().otlp_grpc.expect("OTLP/gRPC enabled"))
    }

    /// An admin API client with the right token.
    pub fn admin(&self) -> AdminClient {
        AdminClient { base: self.query_url(), token: Some(ADMIN_TOKEN.to_string()) }
    }
}

/// Nodes in this process forming one cluster.
pub struct TestCluster {
    pub nodes: Vec<ClusterNode>,
    dir: tempfile::TempDir,
    adjust: ConfigEdit,
    /// The first node's cluster address: every later node's seed.
    seed: Option<String>,
}

impl TestCluster {
    /// A builder for a three-node cluster.
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder { nodes: 3, adjust: Box::new(|_, _| {}) }
    }

    /// The config of node `position`: its own WAL, the shared block store.
    fn config_for(&self, position: usize) -> Config {
        let node_dir = self.dir.path().join(format!("node{position}"));
        let mut config = test_config(&node_dir);
        config.storage.trace.local.path = self.blocks_dir();
        config.cluster.secret = SECRET.to_string();
        config.cluster.admin_token = ADMIN_TOKEN.to_string();
        config.cluster.heartbeat_interval = spanlake::config::HumanDuration::from_millis(100);
        config.cluster.election_timeout = spanlake::config::HumanDuration::from_millis(500);
        config.cluster.rpc_timeout = spanlake::config::HumanDuration::from_secs(2);
        if let Some(seed) = &self.seed {
            config.cluster.seeds = vec![seed.clone()];
        }
        (self.adjust)(position, &mut config);
        config
    }

    /// The object store directory every node shares.
    pub fn blocks_dir(&self) -> PathBuf {
        self.dir.path().join("blocks")
    }

    /// Starts one more node (joining through the first node) and returns its position.
    pub async fn add_node(&mut self) -> usize {
        self.add_node_result().await.expect("node starts")
    }

    /// Starts one more node; the start error as text when it fails.
    pub async fn add_node_result(&mut self) -> Result<usize, String> {
        let position = self.nodes.len();
        let config = self.config_for(position);
        let node = Node::start(config.clone()).await.map_err(|error| error.to_string())?;
        if self.seed.is_none() {
            self.seed = Some(node.addrs().cluster.to_string());
        }
        self.nodes.push(ClusterNode { node: Some(node), config });
        Ok(position)
    }

    /// Node `position`.
    pub fn node(&self, position: usize) -> &ClusterNode {
        &self.nodes[position]
    }

    /// Stops node `position` cleanly (its data stays).
    pub async fn stop(&mut self, position: usize) {
        if let Some(node) = self.nodes[position].node.take() {
            node.shutdown().await;
        }
    }

    /// Starts node `position` again on its data directory.
    pub async fn restart(&mut self, position: usize) -> Result<(), String> {
        let config = self.nodes[position].config.clone();
        let node = Node::start(config).await.map_err(|error| error.to_string())?;
        self.nodes[position].node = Some(node);
        Ok(())
    }

    /// Waits (30 s deadline) until node `position`'s admin view satisfies `check`; returns it.
    pub async fn wait_for_view(
        &self,
        position: usize,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let admin = self.node(position).admin();
        let until = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, view) = admin.cluster().await;
            if status == 200 && check(&view) {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "timed out waiting for: {what}; last view ({status}): {view:#}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl TestCluster {
    /// Waits until every partition has `replicas` replicas, a leader, and is active.
    pub async fn wait_for_replicated(&self, replicas: usize) {
        self.wait_for_view(0, "every partition active, replicated and led", |view| {
            view["partitions"].as_array().is_some_and(|partitions| {
                partitions.iter().all(|p| {
                    p["state"] == "active"
                        && p["replicas"].as_array().map(Vec::len) == Some(replicas)
                        && !p["leader"].is_null()
                })
            })
        })
        .await;
    }

    /// Waits until every running node's replicas applied everything committed, the same
    /// everywhere (reads on any node are then complete).
    pub async fn wait_for_caught_up(&self) {
        let tempos: Vec<_> =
            self.nodes.iter().filter(|node| node.node.is_some()).map(ClusterNode::tempo).collect();
        wait_for_converged(&tempos).await;
    }
}

/// Waits (60 s) until the nodes behind `tempos` that host replicas all applied as much as
/// they know committed, and agree on it.
pub async fn wait_for_converged(tempos: &[super::clients::TempoClient]) {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut sums = Vec::new();
        for tempo in tempos {
            let applied = super::metric_sum(tempo, "spanlake_partition_applied_index").await;
            let committed = super::metric_sum(tempo, "spanlake_partition_committed_index").await;
            sums.push((applied, committed));
        }
        let hosting: Vec<(f64, f64)> = sums
            .iter()
            .copied()
            .filter(|(applied, committed)| *applied > 0.0 || *committed > 0.0)
            .collect();
        if let Some(first) = hosting.first()
            && hosting.iter().all(|sum| *sum == (first.1, first.1))
        {
            return;
        }
        assert!(tokio::time::Instant::now() < until, "replicas did not converge: {sums:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The admin REST API of one node.
#[derive(Clone)]
pub struct AdminClient {
    pub base: String,
    pub token: Option<String>,
}

impl AdminClient {
    /// The same node without a token.
    pub fn without_token(&self) -> AdminClient {
        AdminClient { base: self.base.clone(), token: None }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let client = reqwest::Client::new();
        let mut request = client.request(method, format!("{}/api/admin{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        let response = request.send().await.expect("admin request sent");
        let status = response.status().as_u16();
        let body = response.text().await.expect("admin body");
        let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body));
        (status, value)
    }

    /// `GET /api/admin/cluster`.
    pub async fn cluster(&self) -> (u16, serde_json::Value) {
        Self::send(self.request(reqwest::Method::GET, "/cluster")).await
    }

    /// `POST /api/admin/partitions`.
    pub async fn add_partitions(&self, count: u32, request_id: &str) -> (u16, serde_json::Value) {
        let body = serde_json::json!({"count": count, "request_id": request_id}).to_string();
        Self::send(
            self.request(reqwest::Method::POST, "/partitions")
                .header("content-type", "application/json")
                .body(body),
        )
        .await
    }

    /// `POST /api/admin/partitions/{id}/deactivate`.
    pub async fn deactivate_partition(&self, id: u32) -> (u16, serde_json::Value) {
        Self::send(self.request(reqwest::Method::POST, &format!("/partitions/{id}/deactivate")))
            .await
    }

    /// `DELETE /api/admin/partitions/{id}`.
    pub async fn delete_partition(&self, id: u32) -> (u16, serde_json::Value) {
        Self::send(self.request(reqwest::Method::DELETE, &format!("/partitions/{id}"))).await
    }

    /// `POST /api/admin/nodes/{id}/drain`.
    pub async fn drain_node(&self, id: u64) -> (u16, serde_json::Value) {
        Self::send(self.request(reqwest::Method::POST, &format!("/nodes/{id}/drain"))).await
    }

    /// `DELETE /api/admin/nodes/{id}`.
    pub async fn remove_node(&self, id: u64) -> (u16, serde_json::Value) {
        Self::send(self.request(reqwest::Method::DELETE, &format!("/nodes/{id}"))).await
    }
}

/// The ids of the nodes a cluster view lists, with their meta role.
pub fn roles(view: &serde_json::Value) -> Vec<(u64, String)> {
    view["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|node| {
                    (
                        node["id"].as_u64().unwrap_or(0),
                        node["meta_role"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Nodes as real `spanlake` processes on loopback (for `kill -9`), sharing one block store.
pub struct ProcessCluster {
    pub nodes: Vec<super::ProcessNode>,
    pub cluster_addrs: Vec<String>,
    blocks: tempfile::TempDir,
}

impl ProcessCluster {
    /// Starts `count` processes: the first creates the cluster, the others join through it.
    pub async fn start(count: usize) -> ProcessCluster {
        init_logging();
        let blocks = tempfile::tempdir().expect("temp dir");
        let mut cluster = ProcessCluster { nodes: Vec::new(), cluster_addrs: Vec::new(), blocks };
        for _ in 0..count {
            cluster.add_node().await;
        }
        cluster
    }

    /// Starts one more process, joining through the first node; returns its position.
    pub async fn add_node(&mut self) -> usize {
        let cluster_port = super::free_port();
        let addr = format!("127.0.0.1:{cluster_port}");
        let seeds = self.cluster_addrs.first().cloned();
        let extra = format!(
            "cluster:\n  secret: {SECRET}\n  admin_token: {ADMIN_TOKEN}\n  \
             heartbeat_interval: 100ms\n  election_timeout: 500ms\n  rpc_timeout: 2s\n{}",
            seeds.map(|seed| format!("  seeds: [{seed}]\n")).unwrap_or_default()
        );
        let node = super::ProcessNode::start_with(cluster_port, self.blocks.path(), &extra).await;
        self.cluster_addrs.push(addr);
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// An admin client of node `position`.
    pub fn admin(&self, position: usize) -> AdminClient {
        AdminClient {
            base: format!("http://{}", self.nodes[position].http),
            token: Some(ADMIN_TOKEN.to_string()),
        }
    }
}

/// A certificate authority and one node certificate (for 127.0.0.1 and localhost, client and
/// server use) made with the openssl CLI in `dir`; returns (cert, key, ca) paths.
pub fn make_test_certificates(dir: &std::path::Path) -> (String, String, String) {
    let run = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the openssl CLI runs (.ci/run installs it)");
        assert!(status.success(), "openssl {args:?} failed");
    };
    std::fs::write(
        dir.join("node.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .expect("write the extensions file");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=spanlake test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "node.key",
        "-out",
        "node.csr",
        "-subj",
        "/CN=spanlake test node",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "node.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "node.pem",
        "-days",
        "2",
        "-extfile",
        "node.ext",
    ]);
    let path = |name: &str| dir.join(name).display().to_string();
    (path("node.pem"), path("node.key"), path("ca.pem"))
}
