//! The official OpenTelemetry Python exporters, run as child processes (`tests/receivers/
//! export.py`): each sends one trace to a node and prints what the application recorded.
//!
//! The Pythons come from `scripts/test-deps.sh` (`make test` exports them): `OTLP_PYTHON`,
//! `ZIPKIN_PYTHON`, `JAEGER_PYTHON`, one virtualenv each because their pins conflict.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// One exporter and the Python that has it.
#[derive(Debug, Clone, Copy)]
pub enum Exporter {
    OtlpGrpc,
    OtlpHttp,
    ZipkinJson,
    ZipkinProto,
    JaegerThrift,
    JaegerAgent,
}

impl Exporter {
    fn name(self) -> &'static str {
        match self {
            Exporter::OtlpGrpc => "otlp-grpc",
            Exporter::OtlpHttp => "otlp-http",
            Exporter::ZipkinJson => "zipkin-json",
            Exporter::ZipkinProto => "zipkin-proto",
            Exporter::JaegerThrift => "jaeger-thrift",
            Exporter::JaegerAgent => "jaeger-agent",
        }
    }

    fn python_variable(self) -> &'static str {
        match self {
            Exporter::OtlpGrpc | Exporter::OtlpHttp => "OTLP_PYTHON",
            Exporter::ZipkinJson | Exporter::ZipkinProto => "ZIPKIN_PYTHON",
            Exporter::JaegerThrift | Exporter::JaegerAgent => "JAEGER_PYTHON",
        }
    }
}

/// What the application recorded, as `export.py` prints it.
#[derive(Debug, Clone, Deserialize)]
pub struct Sent {
    pub trace_id: String,
    pub service: String,
    pub spans: Vec<SentSpan>,
}

/// One recorded span.
#[derive(Debug, Clone, Deserialize)]
pub struct SentSpan {
    pub span_id: String,
    pub parent_span_id: String,
    pub name: String,
    pub kind: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub events: Vec<SentEvent>,
    pub links: Vec<SentLink>,
    pub status: SentStatus,
}

/// One recorded event.
#[derive(Debug, Clone, Deserialize)]
pub struct SentEvent {
    pub name: String,
    pub time_ns: u64,
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// One recorded link.
#[derive(Debug, Clone, Deserialize)]
pub struct SentLink {
    pub trace_id: String,
    pub span_id: String,
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// A recorded status.
#[derive(Debug, Clone, Deserialize)]
pub struct SentStatus {
    pub code: String,
    pub description: String,
}

impl Sent {
    /// The recorded span named `name`.
    pub fn span(&self, name: &str) -> &SentSpan {
        self.spans.iter().find(|span| span.name == name).unwrap_or_else(|| panic!("no span {name}"))
    }
}

fn python(exporter: Exporter) -> PathBuf {
    let variable = exporter.python_variable();
    match std::env::var_os(variable) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{variable} is not set: the receiver tests drive the official OpenTelemetry Python \
             exporters. Run the tests with `make test`, which installs them into virtualenvs \
             (scripts/test-deps.sh) and sets {variable}."
        ),
    }
}

/// Sends one trace for `service` through `exporter` to `endpoint`; panics when the exporter
/// reports a failure or does not finish within a minute.
pub async fn send(exporter: Exporter, endpoint: &str, service: &str) -> Sent {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/receivers/export.py");
    let run = tokio::process::Command::new(python(exporter))
        .arg(script)
        .arg(exporter.name())
        .arg(endpoint)
        .arg(service)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("{} exporter did not finish within 60 s", exporter.name()))
        .expect("the exporter's Python runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{} exporter failed: {stderr}", exporter.name());
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!("{} exporter printed no trace ({error}); stderr: {stderr}", exporter.name())
    })
}
