//! The cluster: nodes join through seeds, the admin API, the cluster secret.

#[path = "../harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::cluster::{ADMIN_TOKEN, TestCluster, roles};
use harness::load::Load;
use spanlake::proto::cluster::CallRequest;
use spanlake::proto::cluster::cluster_client::ClusterClient;

/// Three nodes form one cluster through a seed: one meta leader, two voters, and every
/// partition replicated on all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_join_through_seeds() {
    let cluster = TestCluster::builder().nodes(3).build().await;
    let ids: Vec<u64> = cluster.nodes.iter().map(|node| node.node().node_id()).collect();
    let view = cluster
        .wait_for_view(2, "three voters and RF 3 everywhere", |view| {
            let roles = roles(view);
            let leaders = roles.iter().filter(|(_, role)| role == "leader").count();
            let voters = roles.iter().filter(|(_, role)| role == "voter").count();
            let partitions = view["partitions"].as_array().cloned().unwrap_or_default();
            roles.len() == 3
                && leaders == 1
                && voters == 2
                && partitions.len() == 4
                && partitions.iter().all(|p| p["replicas"].as_array().map(Vec::len) == Some(3))
        })
        .await;
    let mut listed: Vec<u64> = roles(&view).into_iter().map(|(id, _)| id).collect();
    listed.sort_unstable();
    let mut expected = ids.clone();
    expected.sort_unstable();
    assert_eq!(listed, expected, "every node is a member: {view:#}");
    // Every node answers with the same membership.
    for position in 0..3 {
        let (status, other) = cluster.node(position).admin().cluster().await;
        assert_eq!(status, 200);
        assert_eq!(other["nodes"].as_array().map(Vec::len), Some(3), "{other:#}");
    }
}

/// Without the bearer token (or with a wrong one) the admin API answers 401.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_without_the_token_is_401() {
    let cluster = TestCluster::builder().nodes(1).build().await;
    let admin = cluster.node(0).admin();
    let (status, body) = admin.without_token().cluster().await;
    assert_eq!(status, 401, "{body}");
    assert!(body.as_str().unwrap_or_default().contains("Authorization"), "{body}");
    let mut wrong = admin.clone();
    wrong.token = Some(format!("{ADMIN_TOKEN}x"));
    assert_eq!(wrong.cluster().await.0, 401);
    assert_eq!(wrong.drain_node(1).await.0, 401);
    assert_eq!(admin.without_token().add_partitions(1, "r").await.0, 401);
    let (status, view) = admin.cluster().await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["nodes"].as_array().map(Vec::len), Some(1));
}

/// A cluster request without the secret is refused; a node with the wrong secret cannot join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_rpc_without_the_secret_is_rejected() {
    let mut cluster = TestCluster::builder()
        .nodes(1)
        .configure(|position, config| {
            if position == 1 {
                config.cluster.secret = "not-the-secret".to_string();
            }
        })
        .build()
        .await;
    let addr = cluster.node(0).node().addrs().cluster;
    let mut raw = ClusterClient::connect(format!("http://{addr}")).await.unwrap();
    let status = raw.call(CallRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");

    let joiner = tokio::time::timeout(Duration::from_secs(30), cluster.add_node_result()).await;
    let error = joiner.expect("a wrong secret fails fast").expect_err("the join is refused");
    assert!(error.contains("secret"), "{error}");
}

/// A drained node loses its replicas; once removed it cannot rejoin under the same id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_node_cannot_rejoin() {
    let mut cluster = TestCluster::builder().nodes(3).build().await;
    let leaving = cluster.node(2).node().node_id();
    let admin = cluster.node(0).admin();
    cluster
        .wait_for_view(0, "RF 3 everywhere", |view| {
            view["partitions"].as_array().is_some_and(|partitions| {
                partitions.iter().all(|p| p["replicas"].as_array().map(Vec::len) == Some(3))
            })
        })
        .await;
    let (status, body) = admin.remove_node(leaving).await;
    assert_eq!(status, 409, "removing a node with replicas is refused: {body}");
    assert!(body.as_str().unwrap_or_default().contains("drain it first"), "{body}");

    let (status, body) = admin.drain_node(leaving).await;
    assert_eq!(status, 200, "{body}");
    cluster
        .wait_for_view(0, "no replica left on the drained node", |view| {
            view["partitions"].as_array().is_some_and(|partitions| {
                partitions.iter().all(|p| {
                    p["replicas"].as_array().is_some_and(|replicas| {
                        !replicas.iter().any(|r| r.as_u64() == Some(leaving))
                    })
                })
            })
        })
        .await;
    let (status, body) = admin.remove_node(leaving).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(admin.remove_node(leaving).await.0, 200, "removing twice is idempotent");
    cluster
        .wait_for_view(0, "the removed node is gone", |view| {
            roles(view).iter().all(|(id, _)| *id != leaving)
        })
        .await;

    cluster.stop(2).await;
    let error = cluster.restart(2).await.expect_err("a removed node may not rejoin");
    assert!(error.contains("removed"), "{error}");
}

/// Spans written to one node are readable, exactly once, from every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_any_node_read_back_from_every_node() {
    let cluster = TestCluster::builder().nodes(3).build().await;
    cluster.wait_for_replicated(3).await;
    let urls: Vec<String> = cluster.nodes.iter().map(|node| node.otlp_grpc_url()).collect();
    let load = Load::start(urls, 3, 1_000_000);
    load.wait_for_progress(60, "ingest through every node").await;
    let oracle = load.stop().await;
    assert!(oracle.acknowledged_spans() > 0);
    cluster.wait_for_caught_up().await;
    for position in 0..3 {
        oracle.verify_exactly_once(&cluster.node(position).tempo()).await;
    }
}

/// A node cut off while ingest runs, then healed: every acknowledged span reads back once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_node_then_healed_loses_nothing() {
    let cluster = TestCluster::builder().nodes(3).build().await;
    cluster.wait_for_replicated(3).await;
    // Writers use the two nodes that stay connected; the isolated one leads some partitions.
    let urls = vec![cluster.node(0).otlp_grpc_url(), cluster.node(1).otlp_grpc_url()];
    let load = Load::start(urls, 3, 2_000_000);
    load.wait_for_progress(30, "ingest before the isolation").await;

    let isolated = cluster.node(2).node();
    isolated.net_faults().isolate();
    load.wait_for_progress(60, "ingest while a node is isolated").await;
    isolated.net_faults().heal();
    load.wait_for_progress(30, "ingest after healing").await;
    let oracle = load.stop().await;
    // The healed node catches up: it, too, reads every acknowledged span once.
    cluster.wait_for_caught_up().await;
    for position in 0..3 {
        oracle.verify_exactly_once(&cluster.node(position).tempo()).await;
    }
}
