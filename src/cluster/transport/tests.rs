//! The transport over real sockets: secret checks, faults, not-leader answers.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tonic::Status;

use super::*;
use crate::proto::cluster::cluster_server::ClusterServer;
use crate::proto::cluster::{
    CallReply, CallRequest, ForwardReply, ForwardRequest, JoinReply, JoinRequest,
};

struct Echo;

#[async_trait]
impl ClusterHandler for Echo {
    async fn join(&self, request: JoinRequest) -> Result<JoinReply, Status> {
        Ok(JoinReply { leader_id: request.node_id + 1, voter: true })
    }
    async fn forward(&self, request: ForwardRequest) -> Result<ForwardReply, Status> {
        if request.partition == 9 {
            return Err(not_leader("p9", Some(42)));
        }
        Ok(ForwardReply { index: request.batch.len() as u64 })
    }
    async fn call(&self, request: CallRequest) -> Result<CallReply, Status> {
        Ok(CallReply { body: request.body })
    }
}

/// Serves a node with `secret` on an ephemeral port; returns its address and faults.
async fn serve(secret: &str) -> (String, Arc<NetFaults>) {
    let faults = Arc::new(NetFaults::default());
    let service = ClusterService::new(secret, faults.clone(), RaftRegistry::default());
    service.set_handler(Arc::new(Echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ClusterServer::new(service))
            .serve_with_incoming(incoming),
    );
    (addr, faults)
}

fn peers(me: u64, secret: &str) -> Peers {
    Peers::new(me, secret, Arc::new(NetFaults::default()), 16 << 20, None).unwrap()
}

const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn calls_with_the_secret_are_served() {
    let (addr, _) = serve("s3cret").await;
    let client = peers(1, "s3cret");
    client.set_addr(2, &addr);
    let reply = client
        .call(2, CallRequest { method: "echo".into(), partition: 0, body: "hi".into() }, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(&reply.body[..], b"hi");
    let joined = client
        .join(&addr, JoinRequest { node_id: 7, ..Default::default() }, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(joined.leader_id, 8);
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_refused() {
    let (addr, _) = serve("s3cret").await;
    let wrong = peers(1, "guess");
    wrong.set_addr(2, &addr);
    let error = wrong
        .forward(2, ForwardRequest { partition: 0, batch: "x".into() }, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TransportError::Refused { code: tonic::Code::Unauthenticated, .. }),
        "{error:?}"
    );
    assert!(error.certainly_not_applied());

    // A raw client that sends no secret at all.
    let mut raw =
        crate::proto::cluster::cluster_client::ClusterClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
    let status = raw.call(CallRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(status.message().contains("missing cluster secret"), "{}", status.message());
}

#[tokio::test]
async fn a_node_without_a_secret_refuses_everything() {
    let (addr, _) = serve("").await;
    let client = peers(1, "");
    client.set_addr(2, &addr);
    let error = client.call(2, CallRequest::default(), TIMEOUT).await.unwrap_err();
    assert!(error.to_string().contains("no cluster.secret"), "{error}");
}

#[tokio::test]
async fn not_leader_names_the_leader() {
    let (addr, _) = serve("k").await;
    let client = peers(1, "k");
    client.set_addr(2, &addr);
    let error = client
        .forward(2, ForwardRequest { partition: 9, batch: "x".into() }, TIMEOUT)
        .await
        .unwrap_err();
    match error {
        TransportError::Refused { leader, code, .. } => {
            assert_eq!(leader, Some(42));
            assert_eq!(code, tonic::Code::FailedPrecondition);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn isolation_cuts_both_directions_and_heals() {
    let (addr, server_faults) = serve("k").await;
    let client = peers(1, "k");
    client.set_addr(2, &addr);
    let call = || client.call(2, CallRequest::default(), TIMEOUT);
    call().await.unwrap();

    server_faults.isolate();
    let error = call().await.unwrap_err();
    assert!(matches!(error, TransportError::Unreachable { .. }), "{error:?}");
    assert!(!error.certainly_not_applied());
    server_faults.heal();
    call().await.unwrap();

    client.faults().block(2);
    assert!(matches!(call().await.unwrap_err(), TransportError::Unreachable { .. }));
    client.faults().heal();
    call().await.unwrap();
}

#[tokio::test]
async fn an_unknown_peer_or_a_dead_address_fails_fast() {
    let client = peers(1, "k");
    assert!(matches!(
        client.call(5, CallRequest::default(), TIMEOUT).await.unwrap_err(),
        TransportError::UnknownPeer(5)
    ));
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = listener.local_addr().unwrap().to_string();
    drop(listener);
    client.set_addr(6, &dead);
    let error = client.call(6, CallRequest::default(), TIMEOUT).await.unwrap_err();
    assert!(matches!(error, TransportError::NotConnected { peer: 6, .. }), "{error:?}");
    assert!(error.certainly_not_applied(), "nothing was sent to a closed port");
}
