//! One listener, two servers: each connection of the query port goes to actix-web (HTTP/1.1)
//! or to tonic (gRPC, HTTP/2 with prior knowledge), decided by its first bytes.
//!
//! ```text
//!  :3200 accept ─► peek, ≤ classify_timeout, nothing consumed
//!                   ├─ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" ─► channel ─► tonic (serve_with_incoming)
//!                   ├─ anything else ─► splice ⇄ actix-web on an internal 127.0.0.1 port
//!                   └─ silence, EOF, or a preface that stalls ─► closed
//! ```
//!
//! Why this shape:
//! - Tempo serves both from one Go h2c server and routes each request by `content-type:
//!   application/grpc`. We have two servers that cannot do each other's job: actix-web has no
//!   plaintext HTTP/2 and cannot send trailers (gRPC needs both), and tonic's hyper server
//!   would mean rewriting the HTTP API. But the protocol is fixed per connection: every gRPC
//!   client (Grafana's Go client included) opens with the HTTP/2 preface over plaintext, and
//!   an HTTP/1.1 connection opens with a method name. So we route connections, not requests.
//! - `TcpStream::peek` reads without consuming, so the socket reaches tonic untouched and no
//!   byte can be lost. Most connections are decided by their first byte (`G` of `GET`, `P`
//!   then `O`/`U`/`A` of `POST`/`PUT`/`PATCH`); only a preface that arrives in pieces is
//!   peeked again, after [`PEEK_RETRY`] (`peek` returns at once while data is queued, so the
//!   wait is a sleep, not a spin).
//! - actix-web accepts listeners, not accepted sockets, so it listens on an internal loopback
//!   port and each HTTP connection is spliced to it: one local hop and copy, invisible to
//!   clients (keep-alive, pipelining, streamed bodies pass through; Nagle is off on both
//!   legs). actix sees the loopback peer address; no route uses it.
//! - A connection that sends nothing, or stalls inside the preface, within the timeout is
//!   closed: it cannot be served and must not hold a task (actix closes a silent HTTP/1.1
//!   connection the same way).
//! - HTTP/1.1 `Upgrade: h2c` goes to actix, which ignores it and answers in HTTP/1.1 (gRPC
//!   clients never use it).
//!
//! Shutdown: [`PortSwitch::stop_accepting`] closes the listener and lets open connections
//! finish; [`PortSwitch::close`] then cuts the splices still open (after actix has drained).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncWriteExt, copy, sink};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

/// The first bytes of every HTTP/2 connection with prior knowledge (RFC 9113 §3.4).
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long to wait before peeking again at a preface that came in pieces.
pub(crate) const PEEK_RETRY: Duration = Duration::from_millis(5);
/// A connection that sends nothing (or half a preface) this long is closed.
pub(crate) const CLASSIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// After actix closed a spliced connection, how long the client may take to close its end.
const LINGER: Duration = Duration::from_secs(2);
/// Pause after a failed `accept` (out of file descriptors, …) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What a connection's first bytes say it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// The whole HTTP/2 preface.
    Http2,
    /// Not HTTP/2 with prior knowledge: HTTP/1.x (or garbage, for actix to refuse).
    Http1,
    /// A beginning of the preface; more bytes decide.
    NeedMore,
}

/// Classifies the first bytes of a connection (at least one).
pub(crate) fn sniff(first_bytes: &[u8]) -> Sniffed {
    let compared = first_bytes.len().min(PREFACE.len());
    if first_bytes[..compared] != PREFACE[..compared] {
        Sniffed::Http1
    } else if compared == PREFACE.len() {
        Sniffed::Http2
    } else {
        Sniffed::NeedMore
    }
}

/// Where the switch sends connections.
pub(crate) struct PortSwitchArgs {
    /// The public listener.
    pub listener: TcpListener,
    /// actix-web's internal listener.
    pub http_backend: SocketAddr,
    /// HTTP/2 connections, for tonic.
    pub grpc: mpsc::Sender<TcpStream>,
    /// How long a connection may take to show its protocol.
    pub classify_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SwitchState {
    Serving,
    Draining,
    Closed,
}

/// The accept loop of a shared port.
pub(crate) struct PortSwitch {
    state: watch::Sender<SwitchState>,
    accept_loop: JoinHandle<()>,
}

impl PortSwitch {
    /// Starts accepting on `args.listener`.
    pub(crate) fn start(args: PortSwitchArgs) -> PortSwitch {
        let (state, watched) = watch::channel(SwitchState::Serving);
        let accept_loop = tokio::spawn(accept_loop(args, watched));
        PortSwitch { state, accept_loop }
    }

    /// Closes the listener; connections already accepted carry on.
    pub(crate) fn stop_accepting(&self) {
        self.state.send_if_modified(|state| {
            let serving = *state == SwitchState::Serving;
            if serving {
                *state = SwitchState::Draining;
            }
            serving
        });
    }

    /// Closes the listener and every connection still spliced; returns once they are gone.
    pub(crate) async fn close(self) {
        self.state.send_replace(SwitchState::Closed);
        if let Err(error) = self.accept_loop.await {
            warn!(%error, "query port accept loop failed");
        }
    }
}

async fn accept_loop(args: PortSwitchArgs, mut state: watch::Receiver<SwitchState>) {
    let PortSwitchArgs { listener, http_backend, grpc, classify_timeout } = args;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = wait_until(&mut state, |state| state != SwitchState::Serving) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(route(stream, peer, http_backend, grpc.clone(), classify_timeout));
                }
                Err(error) => {
                    warn!(%error, "query port cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    drop(grpc);
    loop {
        tokio::select! {
            () = wait_until(&mut state, |state| state == SwitchState::Closed) => break,
            next = connections.join_next() => if next.is_none() { break },
        }
    }
    connections.shutdown().await;
}

/// Resolves once the state satisfies `condition` (or its sender is gone).
async fn wait_until(
    state: &mut watch::Receiver<SwitchState>,
    condition: impl Fn(SwitchState) -> bool,
) {
    // The guard `wait_for` returns is not `Send`: drop it here, not across the caller's awaits.
    let _ = state.wait_for(|state| condition(*state)).await.map(|_| ());
}

/// Hands one connection to the server that speaks its protocol.
async fn route(
    stream: TcpStream,
    peer: SocketAddr,
    http_backend: SocketAddr,
    grpc: mpsc::Sender<TcpStream>,
    classify_timeout: Duration,
) {
    // Small request/response exchanges must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    match tokio::time::timeout(classify_timeout, classify(&stream)).await {
        Ok(Ok(Some(Sniffed::Http2))) => {
            if grpc.send(stream).await.is_err() {
                debug!(%peer, "gRPC server stopped; connection dropped");
            }
        }
        Ok(Ok(Some(_))) => splice(stream, peer, http_backend).await,
        Ok(Ok(None)) => debug!(%peer, "connection closed before sending anything"),
        Ok(Err(error)) => debug!(%peer, %error, "connection failed before sending a request"),
        Err(_) => {
            debug!(%peer, timeout = ?classify_timeout, "no request in time; connection closed")
        }
    }
}

/// Peeks until the protocol is known; `None` if the client closed first.
async fn classify(stream: &TcpStream) -> io::Result<Option<Sniffed>> {
    let mut first_bytes = [0u8; PREFACE.len()];
    loop {
        let peeked = stream.peek(&mut first_bytes).await?;
        if peeked == 0 {
            return Ok(None);
        }
        match sniff(&first_bytes[..peeked]) {
            Sniffed::NeedMore => tokio::time::sleep(PEEK_RETRY).await,
            decided => return Ok(Some(decided)),
        }
    }
}

/// Copies bytes both ways between the client and actix until actix is done with it.
async fn splice(mut client: TcpStream, peer: SocketAddr, http_backend: SocketAddr) {
    let mut server = match TcpStream::connect(http_backend).await {
        Ok(server) => server,
        Err(error) => {
            warn!(%peer, %error, "query port cannot reach its HTTP server");
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let actix_closed_first = {
        let upstream = async {
            let _ = copy(&mut client_read, &mut server_write).await;
            let _ = server_write.shutdown().await;
        };
        let downstream = async {
            let _ = copy(&mut server_read, &mut client_write).await;
            let _ = client_write.shutdown().await;
        };
        tokio::pin!(upstream, downstream);
        tokio::select! {
            // The client sent its last byte; actix answers what it got, then closes.
            () = &mut upstream => {
                downstream.await;
                false
            }
            () = &mut downstream => true,
        }
    };
    if actix_closed_first {
        // actix closed (keep-alive timeout, `Connection: close`, shutdown), so nothing more can
        // be answered. Reading what the client still sends until it closes keeps its kernel
        // from resetting a response it has not read yet; a client that never closes is let go.
        let _ = tokio::time::timeout(LINGER, copy(&mut client_read, &mut sink())).await;
    }
}

#[cfg(test)]
#[path = "port_switch_tests.rs"]
mod tests;
