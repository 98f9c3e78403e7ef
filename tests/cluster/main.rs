//! The cluster: nodes join through seeds, the admin API, the cluster secret.

#[path = "../harness/mod.rs"]
mod harness;

use std::time::Duration;

use harness::cluster::{
    ADMIN_TOKEN, AdminClient, ProcessCluster, TestCluster, make_test_certificates, roles,
    wait_for_converged,
};
use harness::load::Load;
use harness::spans;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use spanlake::proto::cluster::CallRequest;
use spanlake::proto::cluster::cluster_client::ClusterClient;
use tokio::time::Instant;
use tonic::transport::Channel;

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
                && partitions.iter().all(|p| {
                    p["replicas"].as_array().map(Vec::len) == Some(3)
                        // The leader reports how far behind each replica is.
                        && p["replication_lag"].as_object().is_some_and(|lag| lag.len() >= 2)
                })
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
        assert_eq!(other["linearizable"], true, "confirmed with the meta leader: {other:#}");
    }
    // The bootstrap node creates every partition group and leads it first; leadership then
    // spreads so that every node leads some of the four partitions.
    cluster
        .wait_for_view(0, "partition leaders on every node", |view| {
            let leaders: std::collections::BTreeSet<u64> = view["partitions"]
                .as_array()
                .map(|partitions| partitions.iter().filter_map(|p| p["leader"].as_u64()).collect())
                .unwrap_or_default();
            leaders.len() == 3
        })
        .await;
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
    // Cut off from the meta leader, the node still shows its view, marked as possibly stale.
    let (status, view) = cluster.node(2).admin().cluster().await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["linearizable"], false, "{view:#}");
    isolated.net_faults().heal();
    load.wait_for_progress(30, "ingest after healing").await;
    let oracle = load.stop().await;
    // The healed node catches up: it, too, reads every acknowledged span once.
    cluster.wait_for_caught_up().await;
    for position in 0..3 {
        oracle.verify_exactly_once(&cluster.node(position).tempo()).await;
    }
}

/// Partitions scale 4 → 8 → 4 through the admin API while ingest runs; the retired ones are
/// deleted once their data is in blocks. Every acknowledged span reads back once throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_scale_4_to_8_to_4_under_ingest() {
    let cluster = TestCluster::builder()
        .nodes(3)
        .configure(|_, config| harness::flush_blocks_quickly(config))
        .build()
        .await;
    cluster.wait_for_replicated(3).await;
    let admin = cluster.node(1).admin();
    let urls: Vec<String> = cluster.nodes.iter().map(|node| node.otlp_grpc_url()).collect();
    let load = Load::start(urls, 2, 3_000_000);
    load.wait_for_progress(30, "ingest on 4 partitions").await;

    let (status, body) = admin.add_partitions(4, "grow-to-8").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["partitions"], serde_json::json!([4, 5, 6, 7]), "{body}");
    let (status, again) = admin.add_partitions(4, "grow-to-8").await;
    assert_eq!((status, &again["partitions"]), (200, &body["partitions"]), "a retry adds nothing");
    cluster
        .wait_for_view(0, "8 active partitions with 3 replicas", |view| {
            let partitions = view["partitions"].as_array().cloned().unwrap_or_default();
            partitions.len() == 8
                && partitions.iter().all(|p| {
                    p["state"] == "active" && p["replicas"].as_array().map(Vec::len) == Some(3)
                })
        })
        .await;
    load.wait_for_progress(60, "ingest on 8 partitions").await;

    for id in 4..8 {
        let (status, body) = admin.deactivate_partition(id).await;
        assert_eq!(status, 200, "{body}");
    }
    load.wait_for_progress(60, "ingest back on 4 partitions").await;
    let oracle = load.stop().await;
    cluster.wait_for_caught_up().await;
    // (Every node reads the same replicas; one node per check keeps the test short.)
    oracle.verify_exactly_once(&cluster.node(2).tempo()).await;

    // Deleting waits until the partition's log is in blocks (409 until then).
    for id in 4..8 {
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, body) = admin.delete_partition(id).await;
            if status == 200 {
                break;
            }
            assert_eq!(status, 409, "{body}");
            assert!(tokio::time::Instant::now() < until, "p{id} never became deletable: {body}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let (status, body) = admin.delete_partition(0).await;
    assert_eq!(status, 409, "an active partition cannot be deleted: {body}");
    cluster
        .wait_for_view(0, "4 partitions left", |view| {
            view["partitions"].as_array().map(Vec::len) == Some(4)
        })
        .await;
    oracle.verify_exactly_once(&cluster.node(0).tempo()).await;
}

/// A partition leader's process is SIGKILLed while ingest runs through the other nodes:
/// writes are accepted again after a new election (the failover time is printed), the node
/// restarts on its data and rejoins, and every acknowledged span reads back exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_partition_leader_loses_no_acknowledged_span() {
    let mut cluster = ProcessCluster::start(3).await;
    let view = wait_for_led_partitions(&cluster.admin(0), 4).await;
    let leader = view["partitions"][0]["leader"].as_u64().expect("p0 has a leader");
    let leader_http = view["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|node| node["id"].as_u64() == Some(leader)))
        .and_then(|node| node["http_addr"].as_str())
        .expect("the leader is a member")
        .to_string();
    let victim = cluster
        .nodes
        .iter()
        .position(|node| node.http.to_string() == leader_http)
        .expect("the leader is one of the processes");
    let survivors: Vec<usize> = (0..3).filter(|position| *position != victim).collect();
    let urls = survivors.iter().map(|position| cluster.nodes[*position].otlp_grpc_url()).collect();
    let load = Load::start(urls, 2, 4_000_000);
    load.wait_for_progress(30, "ingest before the kill").await;

    cluster.nodes[victim].kill_9();
    let killed_at = Instant::now();
    let (failover, probes) =
        probe_until_accepted(&cluster.nodes[survivors[0]].otlp_grpc_url()).await;
    println!(
        "failover: leader of p0 killed -> a write to every partition accepted in {failover:?}"
    );
    load.wait_for_progress(30, "ingest after the kill").await;
    assert!(killed_at.elapsed() < Duration::from_secs(60));

    cluster.nodes[victim].spawn().await;
    load.wait_for_progress(30, "ingest after the restart").await;
    let mut oracle = load.stop().await;
    for (request, acknowledged) in probes {
        if acknowledged {
            oracle.acknowledged(&request);
        } else {
            oracle.unknown(&request);
        }
    }
    let tempos: Vec<_> = cluster.nodes.iter().map(|node| node.tempo()).collect();
    wait_for_converged(&tempos).await;
    for tempo in &tempos {
        oracle.verify_exactly_once(tempo).await;
    }
}

/// Waits until `count` partitions are active with a leader; returns the view.
async fn wait_for_led_partitions(admin: &AdminClient, count: usize) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, view) = admin.cluster().await;
        let led = view["partitions"].as_array().is_some_and(|partitions| {
            partitions.len() == count
                && partitions.iter().all(|p| {
                    p["state"] == "active"
                        && !p["leader"].is_null()
                        && p["replicas"].as_array().map(Vec::len) == Some(3)
                })
        });
        if status == 200 && led {
            return view;
        }
        assert!(Instant::now() < until, "partitions never got leaders: {view:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends requests touching every partition (32 traces) until one is acknowledged; returns how
/// long that took and every request sent with whether it was acknowledged.
async fn probe_until_accepted(url: &str) -> (Duration, Vec<(ExportTraceServiceRequest, bool)>) {
    let started = Instant::now();
    let channel = Channel::from_shared(url.to_string()).expect("valid url").connect_lazy();
    let mut client = TraceServiceClient::new(channel);
    let mut sent = Vec::new();
    for attempt in 0u64.. {
        let seeds: Vec<u64> = (0..32).map(|n| 9_000_000 + attempt * 100 + n).collect();
        let request = spans::request(&seeds, 1);
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            client.export(tonic::Request::new(request.clone())),
        )
        .await;
        let acknowledged = matches!(outcome, Ok(Ok(_)));
        sent.push((request, acknowledged));
        if acknowledged {
            return (started.elapsed(), sent);
        }
        assert!(started.elapsed() < Duration::from_secs(60), "writes never resumed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    unreachable!("the loop only ends by returning")
}

/// A fourth node joins through a seed; draining another node moves that node's replicas to
/// it while ingest runs, and the new node serves every acknowledged span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fourth_node_receives_replicas_after_a_drain() {
    let mut cluster = TestCluster::builder().nodes(3).build().await;
    cluster.wait_for_replicated(3).await;
    let urls = vec![cluster.node(0).otlp_grpc_url(), cluster.node(1).otlp_grpc_url()];
    let load = Load::start(urls, 2, 5_000_000);
    load.wait_for_progress(20, "ingest on three nodes").await;

    let fourth = cluster.add_node().await;
    let fourth_id = cluster.node(fourth).node().node_id();
    let drained = cluster.node(2).node().node_id();
    cluster.wait_for_view(0, "four members", |view| roles(view).len() == 4).await;
    let (status, body) = cluster.node(0).admin().drain_node(drained).await;
    assert_eq!(status, 200, "{body}");
    cluster
        .wait_for_view(0, "the drained node's replicas moved to the fourth node", |view| {
            view["partitions"].as_array().is_some_and(|partitions| {
                partitions.iter().all(|p| {
                    let replicas: Vec<u64> = p["replicas"]
                        .as_array()
                        .map(|r| r.iter().filter_map(serde_json::Value::as_u64).collect())
                        .unwrap_or_default();
                    p["state"] == "active"
                        && replicas.len() == 3
                        && replicas.contains(&fourth_id)
                        && !replicas.contains(&drained)
                })
            })
        })
        .await;
    load.wait_for_progress(30, "ingest after the drain").await;
    let oracle = load.stop().await;
    let tempos: Vec<_> =
        [0, 1, fourth].iter().map(|position| cluster.node(*position).tempo()).collect();
    wait_for_converged(&tempos).await;
    oracle.verify_exactly_once(&cluster.node(fourth).tempo()).await;
}

/// A node that holds no replica still takes writes (forwarded to the leaders) and answers
/// trace lookups, searches and tag queries (run on replicas on other nodes for live data).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_replicas_forwards_writes_and_serves_reads() {
    let mut cluster = TestCluster::builder().nodes(3).build().await;
    cluster.wait_for_replicated(3).await;
    let fourth = cluster.add_node().await;
    let fourth_id = cluster.node(fourth).node().node_id();
    let view = cluster.wait_for_view(0, "four members", |view| roles(view).len() == 4).await;
    let hosts_nothing = view["partitions"].as_array().is_some_and(|partitions| {
        partitions.iter().all(|p| {
            !p["replicas"]
                .as_array()
                .is_some_and(|r| r.iter().any(|n| n.as_u64() == Some(fourth_id)))
        })
    });
    assert!(hosts_nothing, "RF 3 is met without the newcomer: {view:#}");
    let load = Load::start(vec![cluster.node(fourth).otlp_grpc_url()], 2, 6_000_000);
    load.wait_for_progress(20, "ingest through a node without replicas").await;
    let oracle = load.stop().await;
    cluster.wait_for_caught_up().await;
    let tempo = cluster.node(fourth).tempo();
    oracle.verify_exactly_once(&tempo).await;

    // Traces of their own service, spread over every partition, none of them hosted here.
    let seeds: Vec<u64> = (0..24).map(|n| 9_000_000 + n).collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![spans::resource_spans("remote-search", &seeds, 2)],
    };
    let mut client =
        TraceServiceClient::connect(cluster.node(fourth).otlp_grpc_url()).await.unwrap();
    client.export(request).await.expect("export through the node without replicas");
    let expected: std::collections::BTreeSet<String> = seeds
        .iter()
        .map(|seed| spans::hex(&spans::trace_id(*seed)).trim_start_matches('0').to_string())
        .collect();
    let query =
        "/api/search?q=%7B%20resource.service.name%20%3D%20%22remote-search%22%20%7D&limit=100";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = tempo.json(query).await;
        assert_eq!(status, 200, "{body}");
        let found: std::collections::BTreeSet<String> = body["traces"]
            .as_array()
            .map(|traces| {
                traces
                    .iter()
                    .filter_map(|trace| trace["traceID"].as_str())
                    .map(|id| id.trim_start_matches('0').to_string())
                    .collect()
            })
            .unwrap_or_default();
        if found == expected {
            assert!(
                body["metrics"]["inspectedTraces"].as_u64().is_some_and(|n| n >= 24),
                "the replicas report what they inspected: {body}"
            );
            break;
        }
        assert!(found.is_subset(&expected), "only the service's traces match: {found:?}");
        assert!(Instant::now() < deadline, "search through the node found {found:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, values) = tempo.json("/api/v2/search/tag/resource.service.name/values").await;
    assert_eq!(status, 200, "{values}");
    let services: Vec<&str> = values["tagValues"]
        .as_array()
        .map(|list| list.iter().filter_map(|value| value["value"].as_str()).collect())
        .unwrap_or_default();
    assert!(services.contains(&"remote-search") && services.contains(&"shop"), "{values}");
    let filtered = "/api/v2/search/tag/resource.service.name/values?q=%7B%20span.http.method%20%3D%20%22nothing-has-this%22%20%7D";
    let (status, none) = tempo.json(filtered).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(
        none["tagValues"].as_array().map(Vec::len),
        Some(0),
        "the filter ran remotely: {none}"
    );
    let (status, names) = tempo.json("/api/v2/search/tags?scope=resource").await;
    assert_eq!(status, 200, "{names}");
    let resource_names: Vec<&str> = names["scopes"]
        .as_array()
        .and_then(|scopes| scopes.iter().find(|scope| scope["name"] == "resource"))
        .and_then(|scope| scope["tags"].as_array())
        .map(|tags| tags.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        resource_names.contains(&"service.name") && resource_names.contains(&"k8s.pod.name"),
        "{names}"
    );
}

/// With `cluster.tls` the nodes talk mutual TLS: they join and replicate as before, and a
/// plaintext client gets no answer from the cluster port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_can_talk_mutual_tls() {
    let certificates = tempfile::tempdir().unwrap();
    let (cert, key, ca) = make_test_certificates(certificates.path());
    let cluster = TestCluster::builder()
        .nodes(2)
        .configure(move |_, config| {
            config.cluster.tls.cert_file = cert.clone();
            config.cluster.tls.key_file = key.clone();
            config.cluster.tls.ca_file = ca.clone();
        })
        .build()
        .await;
    cluster.wait_for_replicated(2).await;
    let load = Load::start(vec![cluster.node(1).otlp_grpc_url()], 1, 7_000_000);
    load.wait_for_progress(10, "ingest over TLS links").await;
    let oracle = load.stop().await;
    cluster.wait_for_caught_up().await;
    oracle.verify_exactly_once(&cluster.node(0).tempo()).await;

    let addr = cluster.node(0).node().addrs().cluster;
    let plaintext = ClusterClient::connect(format!("http://{addr}")).await;
    let refused = match plaintext {
        Err(_) => true,
        Ok(mut client) => client.call(CallRequest::default()).await.is_err(),
    };
    assert!(refused, "a plaintext client must not get an answer");
}
