//! The switch on real loopback sockets: an echo server stands in for actix, the gRPC channel
//! is read directly.

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

struct Fixture {
    addr: SocketAddr,
    grpc: mpsc::Receiver<TcpStream>,
    switch: PortSwitch,
}

/// A switch in front of an echo server, classifying within `classify_timeout`.
async fn fixture(classify_timeout: Duration) -> Fixture {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_backend = echo.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut connection, _)) = echo.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = connection.split();
                let _ = copy(&mut read, &mut write).await;
            });
        }
    });
    let (grpc_sender, grpc) = mpsc::channel(4);
    let switch = PortSwitch::start(PortSwitchArgs {
        listener,
        http_backend,
        grpc: grpc_sender,
        classify_timeout,
    });
    Fixture { addr, grpc, switch }
}

/// Reads until EOF or a reset; how long that took.
async fn time_until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buffer = [0u8; 64];
    let outcome = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await;
    match outcome {
        Ok(Ok(0)) | Ok(Err(_)) => started.elapsed(),
        Ok(Ok(n)) => panic!("unexpected {n} bytes: {:?}", &buffer[..n]),
        Err(_) => panic!("the connection was not closed"),
    }
}

#[test]
fn the_preface_decides_and_a_prefix_waits() {
    assert_eq!(sniff(PREFACE), Sniffed::Http2);
    assert_eq!(sniff(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04"), Sniffed::Http2);
    assert_eq!(sniff(b"P"), Sniffed::NeedMore);
    assert_eq!(sniff(b"PRI * HTTP/2.0\r\n"), Sniffed::NeedMore);
    for http1 in [&b"GET / HTTP/1.1\r\n"[..], b"POST", b"PUT", b"PATCH", b"G", b"\x16\x03\x01"] {
        assert_eq!(sniff(http1), Sniffed::Http1, "{http1:?}");
    }
}

/// A client that connects and says nothing is closed once the timeout passes.
#[tokio::test]
async fn a_silent_connection_is_closed_after_the_timeout() {
    let mut fixture = fixture(Duration::from_millis(300)).await;
    let mut client = TcpStream::connect(fixture.addr).await.unwrap();
    let waited = time_until_closed(&mut client).await;
    assert!(waited >= Duration::from_millis(250), "closed after {waited:?}");
    assert!(fixture.grpc.try_recv().is_err(), "nothing reached gRPC");
}

/// Half a preface and then silence is closed too, and never reaches gRPC.
#[tokio::test]
async fn a_stalled_partial_preface_is_closed_after_the_timeout() {
    let mut fixture = fixture(Duration::from_millis(300)).await;
    let mut client = TcpStream::connect(fixture.addr).await.unwrap();
    client.write_all(&PREFACE[..10]).await.unwrap();
    let waited = time_until_closed(&mut client).await;
    assert!(waited >= Duration::from_millis(200), "closed after {waited:?}");
    assert!(fixture.grpc.try_recv().is_err(), "nothing reached gRPC");
}

/// A preface in two pieces reaches gRPC with every byte, the ones after it included.
#[tokio::test]
async fn a_preface_in_pieces_reaches_grpc_byte_for_byte() {
    let mut fixture = fixture(Duration::from_secs(5)).await;
    let mut client = TcpStream::connect(fixture.addr).await.unwrap();
    client.write_all(&PREFACE[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    client.write_all(&PREFACE[10..]).await.unwrap();
    client.write_all(b"frames").await.unwrap();
    let mut grpc_side = fixture.grpc.recv().await.expect("an HTTP/2 connection");
    let mut received = [0u8; 30];
    grpc_side.read_exact(&mut received).await.unwrap();
    assert_eq!(&received[..24], PREFACE);
    assert_eq!(&received[24..], b"frames");
    grpc_side.write_all(b"answer").await.unwrap();
    let mut answer = [0u8; 6];
    client.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"answer", "the connection itself was handed over");
}

/// An HTTP/1.1 request sent in pieces reaches the HTTP server whole, and its answers come
/// back over the same connection, request after request.
#[tokio::test]
async fn http1_in_pieces_is_spliced_to_the_http_server() {
    let mut fixture = fixture(Duration::from_secs(5)).await;
    let mut client = TcpStream::connect(fixture.addr).await.unwrap();
    client.write_all(b"G").await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    client.write_all(b"ET /ready HTTP/1.1\r\n\r\n").await.unwrap();
    let mut echoed = [0u8; 23];
    client.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"GET /ready HTTP/1.1\r\n\r\n");
    client.write_all(b"PRI is only special first").await.unwrap();
    let mut echoed = [0u8; 25];
    client.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"PRI is only special first");
    assert!(fixture.grpc.try_recv().is_err(), "nothing reached gRPC");
}

/// Stopping refuses new connections and keeps open ones; closing cuts them.
#[tokio::test]
async fn stop_refuses_new_connections_and_close_cuts_open_ones() {
    let fixture = fixture(Duration::from_secs(5)).await;
    let mut open = TcpStream::connect(fixture.addr).await.unwrap();
    open.write_all(b"GET").await.unwrap();
    let mut echoed = [0u8; 3];
    open.read_exact(&mut echoed).await.unwrap();

    fixture.switch.stop_accepting();
    let refused = async {
        loop {
            if TcpStream::connect(fixture.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), refused).await.expect("listener closed");
    open.write_all(b" still").await.unwrap();
    let mut echoed = [0u8; 6];
    open.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b" still", "an open connection is served while draining");

    tokio::time::timeout(Duration::from_secs(5), fixture.switch.close()).await.expect("closes");
    time_until_closed(&mut open).await;
}
