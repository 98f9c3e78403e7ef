//! The query port (`server.http_listen_port`, 3200): Tempo's HTTP API and the gRPC
//! `tempopb.StreamingQuerier` on one listener, as Grafana expects (tempo-api.md §0.1: it dials
//! the data source's `host:port` for both and ignores the URL path for gRPC).
//!
//! ```text
//!  public listener ─► PortSwitch ─┬─ HTTP/1.1 ─► actix-web on 127.0.0.1:<ephemeral>
//!                                 │              /ready, /status…, /api/traces…, /api/search
//!                                 └─ HTTP/2 ───► tonic: /tempopb.StreamingQuerier/<Method>
//!                                                (a request that is not gRPC: plain-text 505)
//! ```
//!
//! [`port_switch`](crate::api::port_switch) explains why connections, not requests, are
//! routed. Over HTTP/2 only gRPC is served: a plain HTTP/2 request (`curl
//! --http2-prior-knowledge`) gets `505 HTTP Version Not Supported` saying to use HTTP/1.1,
//! rather than tonic's bare `grpc-status: 12` that HTTP clients would not show.

use std::future::{Ready, ready};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::{App, HttpServer, web};
use futures::StreamExt;
use futures::future::Either;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::body::Body;
use tonic::codec::CompressionEncoding;
use tower::Service;
use tracing::warn;

use crate::api;
use crate::api::admin::AdminState;
use crate::api::port_switch::{CLASSIFY_TIMEOUT, PortSwitch, PortSwitchArgs};
use crate::api::query::search::SearchState;
use crate::api::query::streaming::StreamingQuerierService;
use crate::api::query::tags::TagsState;
use crate::api::query::trace_by_id::TraceByIdState;
use crate::api::status::StatusState;
use crate::proto::tempopb::streaming_querier_server::StreamingQuerierServer;

/// HTTP/2 connections accepted but not yet taken by tonic.
const GRPC_BACKLOG: usize = 64;
/// How long shutdown waits for open gRPC streams before cutting them.
const GRPC_DRAIN: Duration = Duration::from_secs(10);

/// What the query port serves.
pub(crate) struct QueryApi {
    /// Trace by id (v1, v2).
    pub trace_by_id: web::Data<TraceByIdState>,
    /// `GET /api/search`.
    pub search: web::Data<SearchState>,
    /// The tag routes (`/api/search/tags`, `/api/v2/search/tags`, `…/tag/<tag>/values`).
    pub tags: web::Data<TagsState>,
    /// Ops routes.
    pub status: web::Data<StatusState>,
    /// The admin REST API (`/api/admin`).
    pub admin: web::Data<AdminState>,
    /// gRPC `StreamingQuerier`.
    pub streaming: StreamingQuerierService,
    /// actix-web worker threads.
    pub http_workers: usize,
}

/// The running servers of the query port.
pub(crate) struct QueryPort {
    switch: PortSwitch,
    http: actix_web::dev::ServerHandle,
    grpc_shutdown: oneshot::Sender<()>,
    grpc: JoinHandle<()>,
}

impl QueryPort {
    /// Serves `api` on `listener` (already bound, so the port is known early).
    pub(crate) fn start(listener: std::net::TcpListener, api: QueryApi) -> io::Result<QueryPort> {
        let internal = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        internal.set_nonblocking(true)?;
        let http_backend = internal.local_addr()?;
        let QueryApi { trace_by_id, search, tags, status, admin, streaming, http_workers } = api;
        let http_server = HttpServer::new(move || {
            App::new()
                .app_data(trace_by_id.clone())
                .app_data(search.clone())
                .app_data(tags.clone())
                .app_data(status.clone())
                .app_data(admin.clone())
                .app_data(api::query_extractor_config())
                .configure(api::status::configure)
                .configure(api::admin::configure)
                .configure(api::query::trace_by_id::configure)
                .configure(api::query::search::configure)
                .configure(api::query::tags::configure)
                .default_service(web::to(api::unknown_route))
        })
        .workers(http_workers)
        .disable_signals()
        .listen(internal)?
        .run();
        let http = http_server.handle();
        tokio::spawn(http_server);

        let (grpc_sender, grpc_connections) = mpsc::channel(GRPC_BACKLOG);
        let (grpc_shutdown, shutdown) = oneshot::channel::<()>();
        let service = StreamingQuerierServer::new(streaming)
            .accept_compressed(CompressionEncoding::Gzip)
            .send_compressed(CompressionEncoding::Gzip);
        let incoming = ReceiverStream::new(grpc_connections).map(Ok::<_, io::Error>);
        let grpc = tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .layer(tower::layer::layer_fn(|inner| GrpcOnly { inner }))
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = shutdown.await;
                })
                .await;
            if let Err(error) = served {
                warn!(%error, "query port gRPC server stopped");
            }
        });

        let switch = PortSwitch::start(PortSwitchArgs {
            listener: tokio::net::TcpListener::from_std(listener)?,
            http_backend,
            grpc: grpc_sender,
            classify_timeout: CLASSIFY_TIMEOUT,
        });
        Ok(QueryPort { switch, http, grpc_shutdown, grpc })
    }

    /// Stops accepting, lets requests and streams in flight finish (gRPC streams for at most
    /// [`GRPC_DRAIN`]), then closes what is left.
    pub(crate) async fn shutdown(mut self) {
        self.switch.stop_accepting();
        let _ = self.grpc_shutdown.send(());
        let grpc_drained = tokio::time::timeout(GRPC_DRAIN, &mut self.grpc);
        let ((), drained) = futures::future::join(self.http.stop(true), grpc_drained).await;
        if drained.is_err() {
            warn!(after = ?GRPC_DRAIN, "gRPC streams still open at shutdown; cut");
            self.grpc.abort();
        }
        self.switch.close().await;
    }
}

/// Lets gRPC requests through to tonic and answers any other HTTP/2 request with a 505.
#[derive(Debug, Clone)]
struct GrpcOnly<S> {
    inner: S,
}

impl<S> Service<http::Request<Body>> for GrpcOnly<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Either<S::Future, Ready<Result<http::Response<Body>, S::Error>>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if content_type.is_some_and(|content_type| content_type.starts_with("application/grpc")) {
            return Either::Left(self.inner.call(request));
        }
        Either::Right(ready(Ok(not_grpc(&request))))
    }
}

/// The answer to an HTTP/2 request that is not gRPC.
fn not_grpc(request: &http::Request<Body>) -> http::Response<Body> {
    let text = format!(
        "HTTP/2 on this port serves only gRPC (tempopb.StreamingQuerier); send {} {} over HTTP/1.1\n",
        request.method(),
        request.uri().path()
    );
    let mut response = http::Response::new(Body::new(text));
    *response.status_mut() = StatusCode::HTTP_VERSION_NOT_SUPPORTED;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}
