//! The network edge: the servers a node runs and the routes they serve.
//!
//! ```text
//!  :4317  tonic      OTLP/gRPC       ingest/otlp_grpc.rs ─┐
//!  :4318  actix-web  OTLP/HTTP       ingest/otlp_http.rs ─┴─► DistributorHandle
//!  :3200  query_port.rs: one listener, connections split by port_switch.rs
//!         actix-web  HTTP/1.1        query/trace_by_id.rs ──► TraceByIdQuerier
//!                                    query/search.rs ─────┬─► Searcher
//!         tonic      gRPC (h2c)      query/streaming.rs ──┘   (tempopb.StreamingQuerier)
//!                    ops routes      status.rs
//! ```
//!
//! Errors become HTTP/gRPC status only here, through [`error_code`]. Unknown routes get a
//! plain-text 404 naming the path.

pub(crate) mod admin;
pub mod error_code;
pub(crate) mod ingest;
pub(crate) mod port_switch;
pub(crate) mod query;
pub(crate) mod query_port;
pub mod status;
pub mod tenant;

use actix_web::{HttpRequest, HttpResponse, web};

/// Answers routes that do not exist.
pub(crate) async fn unknown_route(request: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body(format!(
        "404 page not found: no route for {} {}\n",
        request.method(),
        request.path()
    ))
}

/// Maps extractor failures (bad query strings, bad paths) to 400s that name the problem.
pub(crate) fn query_config_error(
    error: actix_web::error::QueryPayloadError,
    _: &HttpRequest,
) -> actix_web::Error {
    error_code::ApiError::bad_request(format!("invalid query parameters: {error}")).into()
}

/// Wraps an actix extractor configuration for the query port.
pub(crate) fn query_extractor_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(query_config_error)
}
