//! Operational routes of the query port, per tempo-api.md §1: `/ready`, `/metrics`,
//! `/api/echo`, `/api/status/buildinfo`, `/status` and `/status/{section}`.
//!
//! `buildinfo` reports the Tempo API version spanlake emulates (Grafana gates features on it
//! as semver), with spanlake's own version in the free-form fields.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::actors::metrics::NodeMetrics;

/// The Tempo version whose HTTP API spanlake implements.
pub const TEMPO_API_VERSION: &str = "2.9.0";

/// spanlake's own version.
pub const SPANLAKE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the status routes report.
pub(crate) struct StatusState {
    /// False while starting or stopping, or once the node gave up.
    pub ready: Arc<AtomicBool>,
    pub metrics: Arc<NodeMetrics>,
    /// The effective configuration, as YAML.
    pub config_yaml: String,
}

/// Tempo's `buildinfo` document (six string keys).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildInfo {
    version: &'static str,
    revision: &'static str,
    branch: &'static str,
    build_user: &'static str,
    build_date: &'static str,
    go_version: String,
}

/// Registers the routes.
pub(crate) fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/ready", web::get().to(ready))
        .route("/metrics", web::get().to(metrics))
        .route("/api/echo", web::get().to(echo))
        .route("/api/status/buildinfo", web::get().to(build_info))
        .route("/status/buildinfo", web::get().to(build_info))
        .route("/status", web::get().to(status_all))
        .route("/status/{section}", web::get().to(status_section));
}

async fn ready(state: web::Data<StatusState>) -> HttpResponse {
    if state.ready.load(Ordering::Acquire) {
        HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("not ready: starting, stopping or failed\n")
    }
}

async fn metrics(state: web::Data<StatusState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}

async fn echo() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body("echo\n")
}

fn build_info_document() -> BuildInfo {
    BuildInfo {
        version: TEMPO_API_VERSION,
        revision: option_env!("SPANLAKE_GIT_REVISION").unwrap_or("unknown"),
        branch: "main",
        build_user: "spanlake",
        build_date: option_env!("SPANLAKE_BUILD_DATE").unwrap_or("unknown"),
        go_version: format!("spanlake {SPANLAKE_VERSION} (rust)"),
    }
}

async fn build_info() -> HttpResponse {
    HttpResponse::Ok().json(build_info_document())
}

fn section_text(state: &StatusState, section: &str) -> Option<String> {
    match section {
        "version" => {
            Some(format!("spanlake, version {SPANLAKE_VERSION} (Tempo API {TEMPO_API_VERSION})\n"))
        }
        "config" => Some(state.config_yaml.clone()),
        "services" => {
            Some("distributor: Running\npartitions: Running\nquery: Running\n".to_string())
        }
        _ => None,
    }
}

async fn status_all(state: web::Data<StatusState>) -> HttpResponse {
    let text: String = ["version", "services", "config"]
        .iter()
        .filter_map(|section| {
            section_text(&state, section).map(|body| format!("GET /status/{section}\n{body}\n"))
        })
        .collect();
    HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(text)
}

async fn status_section(path: web::Path<String>, state: web::Data<StatusState>) -> HttpResponse {
    match section_text(&state, &path) {
        Some(body) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(body),
        None => HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body(format!(
            "unknown status section {:?}: try version, services or config\n",
            path.as_str()
        )),
    }
}
