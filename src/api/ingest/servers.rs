//! The ingest servers. Every receiver's listener is bound before the node starts (a taken port
//! fails the start at once, and tests learn their ephemeral ports); the servers start once the
//! distributor exists, and stop before the actors do.
//!
//! ```text
//!  receiver     default  config key (distributor.receivers.…)  server
//!  OTLP/gRPC    :4317    otlp.protocols.grpc                   tonic  TraceService/Export
//!  OTLP/HTTP    :4318    otlp.protocols.http                   actix  POST /v1/traces
//!  Jaeger HTTP  :14268   jaeger.protocols.thrift_http          actix  POST /api/traces
//!  Jaeger gRPC  :14250   jaeger.protocols.grpc                 tonic  CollectorService/PostSpans
//!  Jaeger agent :6831/udp jaeger.protocols.thrift_compact      emitBatch datagrams (compact)
//!  Jaeger agent :6832/udp jaeger.protocols.thrift_binary       emitBatch datagrams (binary)
//!  Zipkin       :9411    zipkin                                actix  POST /api/v2/spans, /api/v1/spans
//! ```
//!
//! Each can be switched off with `enabled: false`. All share the distributor's validation,
//! limits, tenant handling and error answers.

use std::net::SocketAddr;

use actix_web::{App, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
use thiserror::Error;
use tokio::sync::oneshot;
use tonic::codec::CompressionEncoding;
use tracing::warn;

use crate::actors::DistributorHandle;
use crate::api;
use crate::api::ingest::HttpIngestState;
use crate::api::ingest::jaeger_grpc::JaegerGrpcReceiver;
use crate::api::ingest::otlp_grpc::OtlpGrpcReceiver;
use crate::config::ReceiversConfig;
use crate::model::convert::jaeger_thrift::ThriftProtocol;
use crate::proto::jaeger::api_v2::collector_service_server::CollectorServiceServer;

/// actix workers per ingest HTTP server (the distributor does the work).
const HTTP_WORKERS: usize = 2;

/// A listener that could not be bound.
#[derive(Debug, Error)]
#[error("cannot listen on {addr} for {what}: {source}")]
pub struct ListenError {
    /// Which receiver, with its config key.
    pub what: &'static str,
    /// The address.
    pub addr: SocketAddr,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

/// Where the receivers listen; `None` for a receiver switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IngestAddrs {
    /// OTLP/gRPC.
    pub otlp_grpc: Option<SocketAddr>,
    /// OTLP/HTTP.
    pub otlp_http: Option<SocketAddr>,
    /// Jaeger Thrift over HTTP.
    pub jaeger_thrift_http: Option<SocketAddr>,
    /// Jaeger gRPC.
    pub jaeger_grpc: Option<SocketAddr>,
    /// Zipkin.
    pub zipkin: Option<SocketAddr>,
    /// Jaeger agent datagrams, Thrift compact (UDP).
    pub jaeger_thrift_compact: Option<SocketAddr>,
    /// Jaeger agent datagrams, Thrift binary (UDP).
    pub jaeger_thrift_binary: Option<SocketAddr>,
}

/// One bound UDP socket and its address.
struct BoundUdp {
    socket: std::net::UdpSocket,
    addr: SocketAddr,
    what: &'static str,
}

fn bind_udp(
    enabled: bool,
    addr: SocketAddr,
    what: &'static str,
) -> Result<Option<BoundUdp>, ListenError> {
    if !enabled {
        return Ok(None);
    }
    let socket =
        std::net::UdpSocket::bind(addr).map_err(|source| ListenError { what, addr, source })?;
    socket.set_nonblocking(true).map_err(|source| ListenError { what, addr, source })?;
    let addr = socket.local_addr().map_err(|source| ListenError { what, addr, source })?;
    Ok(Some(BoundUdp { socket, addr, what }))
}

/// One bound listener and its address.
struct Bound {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    what: &'static str,
}

/// The receivers' listeners, bound and not yet served.
pub(crate) struct IngestListeners {
    otlp_grpc: Option<Bound>,
    otlp_http: Option<Bound>,
    jaeger_thrift_http: Option<Bound>,
    jaeger_grpc: Option<Bound>,
    zipkin: Option<Bound>,
    jaeger_thrift_compact: Option<BoundUdp>,
    jaeger_thrift_binary: Option<BoundUdp>,
}

/// What the servers hand their requests to.
pub(crate) struct IngestContext {
    /// Where spans go.
    pub distributor: DistributorHandle,
    /// Whether the tenant header is required.
    pub multitenancy: bool,
    /// `distributor.max_request_bytes`.
    pub max_request_bytes: usize,
}

/// The running servers.
pub(crate) struct IngestServers {
    http: Vec<actix_web::dev::ServerHandle>,
    /// Shutdown signals of the gRPC servers and UDP receivers.
    shutdowns: Vec<oneshot::Sender<()>>,
}

fn bind(enabled: bool, addr: SocketAddr, what: &'static str) -> Result<Option<Bound>, ListenError> {
    if !enabled {
        return Ok(None);
    }
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ListenError { what, addr, source })?;
    listener.set_nonblocking(true).map_err(|source| ListenError { what, addr, source })?;
    let addr = listener.local_addr().map_err(|source| ListenError { what, addr, source })?;
    Ok(Some(Bound { listener, addr, what }))
}

impl IngestListeners {
    /// Binds every enabled receiver's listener.
    pub(crate) fn bind(config: &ReceiversConfig) -> Result<IngestListeners, ListenError> {
        let otlp = &config.otlp.protocols;
        let jaeger = &config.jaeger.protocols;
        Ok(IngestListeners {
            otlp_grpc: bind(
                otlp.grpc.enabled,
                otlp.grpc.endpoint,
                "OTLP/gRPC (distributor.receivers.otlp.protocols.grpc.endpoint)",
            )?,
            otlp_http: bind(
                otlp.http.enabled,
                otlp.http.endpoint,
                "OTLP/HTTP (distributor.receivers.otlp.protocols.http.endpoint)",
            )?,
            jaeger_thrift_http: bind(
                jaeger.thrift_http.enabled,
                jaeger.thrift_http.endpoint,
                "Jaeger Thrift/HTTP (distributor.receivers.jaeger.protocols.thrift_http.endpoint)",
            )?,
            jaeger_grpc: bind(
                jaeger.grpc.enabled,
                jaeger.grpc.endpoint,
                "Jaeger gRPC (distributor.receivers.jaeger.protocols.grpc.endpoint)",
            )?,
            zipkin: bind(
                config.zipkin.enabled,
                config.zipkin.endpoint,
                "Zipkin (distributor.receivers.zipkin.endpoint)",
            )?,
            jaeger_thrift_compact: bind_udp(
                jaeger.thrift_compact.enabled,
                jaeger.thrift_compact.endpoint,
                "Jaeger agent UDP (distributor.receivers.jaeger.protocols.thrift_compact.endpoint)",
            )?,
            jaeger_thrift_binary: bind_udp(
                jaeger.thrift_binary.enabled,
                jaeger.thrift_binary.endpoint,
                "Jaeger agent UDP (distributor.receivers.jaeger.protocols.thrift_binary.endpoint)",
            )?,
        })
    }

    /// Where they listen.
    pub(crate) fn addrs(&self) -> IngestAddrs {
        let addr = |bound: &Option<Bound>| bound.as_ref().map(|bound| bound.addr);
        IngestAddrs {
            otlp_grpc: addr(&self.otlp_grpc),
            otlp_http: addr(&self.otlp_http),
            jaeger_thrift_http: addr(&self.jaeger_thrift_http),
            jaeger_grpc: addr(&self.jaeger_grpc),
            zipkin: addr(&self.zipkin),
            jaeger_thrift_compact: self.jaeger_thrift_compact.as_ref().map(|bound| bound.addr),
            jaeger_thrift_binary: self.jaeger_thrift_binary.as_ref().map(|bound| bound.addr),
        }
    }

    /// Starts serving every bound listener.
    pub(crate) fn serve(self, context: IngestContext) -> Result<IngestServers, ListenError> {
        let mut servers = IngestServers { http: Vec::new(), shutdowns: Vec::new() };
        let state = web::Data::new(HttpIngestState {
            distributor: context.distributor.clone(),
            multitenancy: context.multitenancy,
            max_request_bytes: context.max_request_bytes,
        });
        if let Some(bound) = self.otlp_http {
            servers.http(bound, state.clone(), api::ingest::otlp_http::configure)?;
        }
        if let Some(bound) = self.jaeger_thrift_http {
            servers.http(bound, state.clone(), api::ingest::jaeger_http::configure)?;
        }
        if let Some(bound) = self.zipkin {
            servers.http(bound, state.clone(), api::ingest::zipkin_http::configure)?;
        }
        let max_message = context.max_request_bytes;
        if let Some(bound) = self.otlp_grpc {
            let service = TraceServiceServer::new(OtlpGrpcReceiver {
                distributor: context.distributor.clone(),
                multitenancy: context.multitenancy,
            })
            .max_decoding_message_size(max_message)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip);
            servers.grpc(bound, service)?;
        }
        if let Some(bound) = self.jaeger_grpc {
            let service = CollectorServiceServer::new(JaegerGrpcReceiver {
                distributor: context.distributor.clone(),
                multitenancy: context.multitenancy,
            })
            .max_decoding_message_size(max_message)
            .accept_compressed(CompressionEncoding::Gzip);
            servers.grpc(bound, service)?;
        }
        for (bound, protocol) in [
            (self.jaeger_thrift_compact, ThriftProtocol::Compact),
            (self.jaeger_thrift_binary, ThriftProtocol::Binary),
        ] {
            if let Some(bound) = bound {
                servers.udp(bound, protocol, &context)?;
            }
        }
        Ok(servers)
    }
}

impl IngestServers {
    fn http(
        &mut self,
        bound: Bound,
        state: web::Data<HttpIngestState>,
        routes: fn(&mut web::ServiceConfig),
    ) -> Result<(), ListenError> {
        let Bound { listener, addr, what } = bound;
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(routes)
                .default_service(web::to(api::unknown_route))
        })
        .workers(HTTP_WORKERS)
        .disable_signals()
        .listen(listener)
        .map_err(|source| ListenError { what, addr, source })?
        .run();
        self.http.push(server.handle());
        tokio::spawn(server);
        Ok(())
    }

    fn grpc<S>(&mut self, bound: Bound, service: S) -> Result<(), ListenError>
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let Bound { listener, addr, what } = bound;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|source| ListenError { what, addr, source })?;
        let (shutdown_sender, shutdown) = oneshot::channel::<()>();
        self.shutdowns.push(shutdown_sender);
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tokio::spawn(async move {
            let served = tonic::transport::Server::builder()
                .layer(api::ingest::grpc_status::too_large_is_resource_exhausted())
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = shutdown.await;
                })
                .await;
            if let Err(error) = served {
                warn!(%error, receiver = what, "ingest gRPC server stopped");
            }
        });
        Ok(())
    }

    fn udp(
        &mut self,
        bound: BoundUdp,
        protocol: ThriftProtocol,
        context: &IngestContext,
    ) -> Result<(), ListenError> {
        let BoundUdp { socket, addr, what } = bound;
        let socket = tokio::net::UdpSocket::from_std(socket).map_err(|source| ListenError {
            what,
            addr,
            source,
        })?;
        let (shutdown_sender, shutdown) = oneshot::channel::<()>();
        self.shutdowns.push(shutdown_sender);
        tokio::spawn(api::ingest::jaeger_udp::serve(
            socket,
            protocol,
            context.distributor.clone(),
            context.multitenancy,
            shutdown,
        ));
        Ok(())
    }

    /// Stops accepting; in-flight requests finish.
    pub(crate) async fn stop(self) {
        for shutdown in self.shutdowns {
            let _ = shutdown.send(());
        }
        for server in &self.http {
            server.stop(true).await;
        }
    }
}
