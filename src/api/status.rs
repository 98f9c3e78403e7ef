//! Operational routes of the query port, per tempo-api.md §1: `/ready`, `/metrics`,
//! `/api/echo`, `/api/status/buildinfo`, `/status` and `/status/{section}`.
//!
//! `buildinfo` reports the Tempo API version spanlake emulates (Grafana gates features on it
//! as semver), with spanlake's own version in the free-form fields.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::actors::metrics::NodeMetrics;
use crate::config::Config;

/// The Tempo version whose HTTP API spanlake implements.
pub const TEMPO_API_VERSION: &str = "2.9.0";

/// spanlake's own version.
pub const SPANLAKE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the status routes report.
pub(crate) struct StatusState {
    /// False while starting or stopping, or once the node gave up.
    pub ready: Arc<AtomicBool>,
    pub metrics: Arc<NodeMetrics>,
    /// The effective configuration.
    pub config: Config,
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

/// `?mode=` of `/status/config`, as Tempo has it.
#[derive(Debug, Default, Deserialize)]
struct ConfigParams {
    mode: Option<String>,
}

/// The configuration as YAML: effective (no mode), `defaults`, or `diff` (only the keys whose
/// value differs from the default). Secrets are always redacted.
fn config_text(config: &Config, mode: Option<&str>) -> Result<String, String> {
    let parse = |yaml: String| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&yaml);
    match mode {
        None | Some("") => Ok(config.to_yaml_redacted()),
        Some("defaults") => Ok(Config::default().to_yaml_redacted()),
        Some("diff") => {
            let effective = parse(config.to_yaml_redacted()).map_err(|error| error.to_string())?;
            let defaults =
                parse(Config::default().to_yaml_redacted()).map_err(|error| error.to_string())?;
            let changed = yaml_diff(&effective, &defaults)
                .unwrap_or_else(|| serde_yaml_ng::Value::Mapping(Default::default()));
            serde_yaml_ng::to_string(&changed).map_err(|error| error.to_string())
        }
        Some(other) => Err(format!("unknown mode {other:?}: use diff or defaults")),
    }
}

/// The parts of `value` that differ from `base`; `None` when they are equal.
fn yaml_diff(
    value: &serde_yaml_ng::Value,
    base: &serde_yaml_ng::Value,
) -> Option<serde_yaml_ng::Value> {
    use serde_yaml_ng::Value;
    match (value, base) {
        (Value::Mapping(values), Value::Mapping(bases)) => {
            let changed: serde_yaml_ng::Mapping = values
                .iter()
                .filter_map(|(key, value)| {
                    let differs = match bases.get(key) {
                        Some(base) => yaml_diff(value, base),
                        None => Some(value.clone()),
                    };
                    differs.map(|value| (key.clone(), value))
                })
                .collect();
            (!changed.is_empty()).then_some(Value::Mapping(changed))
        }
        _ => (value != base).then(|| value.clone()),
    }
}

fn section_text(state: &StatusState, section: &str) -> Option<String> {
    match section {
        "version" => {
            Some(format!("spanlake, version {SPANLAKE_VERSION} (Tempo API {TEMPO_API_VERSION})\n"))
        }
        "config" => Some(state.config.to_yaml_redacted()),
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

async fn status_section(
    path: web::Path<String>,
    params: web::Query<ConfigParams>,
    state: web::Data<StatusState>,
) -> HttpResponse {
    if path.as_str() == "config" {
        return match config_text(&state.config, params.mode.as_deref()) {
            Ok(text) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(text),
            Err(message) => HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body(format!("{message}\n")),
        };
    }
    match section_text(&state, &path) {
        Some(body) => HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(body),
        None => HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body(format!(
            "unknown status section {:?}: try version, services or config\n",
            path.as_str()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_modes_show_effective_defaults_and_diff() {
        let mut config = Config::default();
        config.partitions.count = 8;
        assert!(config_text(&config, None).unwrap().contains("count: 8"));
        assert!(config_text(&config, Some("defaults")).unwrap().contains("count: 4"));
        let diff = config_text(&config, Some("diff")).unwrap();
        assert_eq!(diff.trim(), "partitions:\n  count: 8");
        assert_eq!(config_text(&Config::default(), Some("diff")).unwrap().trim(), "{}");
        assert!(config_text(&config, Some("everything")).is_err());
    }

    #[test]
    fn config_modes_never_show_secrets() {
        let mut config = Config::default();
        config.storage.trace.s3.secret_key = "s3-secret-value".into();
        config.storage.trace.s3.session_token = "s3-session-value".into();
        config.storage.trace.azure.storage_account_key = "azure-key-value".into();
        for mode in [None, Some("defaults"), Some("diff")] {
            let text = config_text(&config, mode).unwrap();
            for secret in ["s3-secret-value", "s3-session-value", "azure-key-value"] {
                assert!(!text.contains(secret), "{mode:?} shows {secret}:\n{text}");
            }
        }
        let diff = config_text(&config, Some("diff")).unwrap();
        assert!(diff.contains("secret_key: <redacted>"), "{diff}");
        assert!(diff.contains("storage_account_key: <redacted>"), "{diff}");
        let state = StatusState {
            ready: Arc::new(AtomicBool::new(true)),
            metrics: Arc::new(NodeMetrics::new()),
            config,
        };
        let section = section_text(&state, "config").unwrap();
        assert!(section.contains("session_token: <redacted>"), "{section}");
        assert!(!section.contains("s3-session-value"), "{section}");
    }
}
