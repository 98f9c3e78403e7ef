//! The OTLP span status from Jaeger tags, with the Collector's precedence:
//!
//! ```text
//!  error = true (a bool) ─yes─► ERROR; message = otel.status_description, else
//!        │ no                           http.status_message
//!        ▼
//!  otel.status_code ─present─► OK / ERROR by name (any case), anything else UNSET;
//!        │ absent               message = otel.status_description
//!        ▼
//!  http.status_code ─an int or a decimal string─► 4xx: ERROR for a client span, no status
//!                                                 for a server span; 100..=398: no status;
//!                                                 anything else ERROR;
//!                                                 message = http.status_message
//! ```
//!
//! Removed from the attributes: `error` when it decided the status, `otel.status_code`
//! always, `otel.status_description` when read. `error` with another value or type, and the
//! `http.*` tags, stay attributes. No rule applying means no status at all.

use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use super::attributes::{get, remove, string_of, value_of};

const ERROR: &str = "error";
const OTEL_STATUS_CODE: &str = "otel.status_code";
const OTEL_STATUS_DESCRIPTION: &str = "otel.status_description";
const HTTP_STATUS_CODE: &str = "http.status_code";
const HTTP_STATUS_MESSAGE: &str = "http.status_message";

/// Derives the span status from the attributes, removing the tags that carried it; `None`
/// when no rule applies. `kind` matters for 4xx HTTP codes.
pub(super) fn take_status(attributes: &mut Vec<KeyValue>, kind: SpanKind) -> Option<Status> {
    let mut code = StatusCode::Unset;
    let mut message = String::new();
    let mut decided = false;

    let error_is_true = get(attributes, ERROR)
        .is_some_and(|error| matches!(value_of(error), Some(any_value::Value::BoolValue(true))));
    if error_is_true {
        // The `error` tag is the last word on a Jaeger span's failure.
        code = StatusCode::Error;
        decided = true;
        remove(attributes, ERROR);
        if let Some(description) = take_description(attributes) {
            message = description;
        } else if let Some(http_message) = get(attributes, HTTP_STATUS_MESSAGE) {
            message = string_of(http_message).to_owned();
        }
    }

    if let Some(otel_code) = get(attributes, OTEL_STATUS_CODE) {
        if !decided {
            decided = true;
            match string_of(otel_code).to_uppercase().as_str() {
                "OK" => code = StatusCode::Ok,
                "ERROR" => code = StatusCode::Error,
                _ => {}
            }
            if let Some(description) = take_description(attributes) {
                message = description;
            }
        }
        remove(attributes, OTEL_STATUS_CODE);
    } else if !decided
        && let Some(http_code) = get(attributes, HTTP_STATUS_CODE).and_then(http_status_code)
    {
        let from_http = status_from_http(http_code, kind);
        if from_http != StatusCode::Unset {
            decided = true;
            code = from_http;
        }
        if let Some(http_message) = get(attributes, HTTP_STATUS_MESSAGE) {
            message = string_of(http_message).to_owned();
        }
    }

    decided.then_some(Status { code: code as i32, message })
}

/// Removes and returns `otel.status_description` (as a string; `""` for another type).
fn take_description(attributes: &mut Vec<KeyValue>) -> Option<String> {
    remove(attributes, OTEL_STATUS_DESCRIPTION).map(|found| string_of(&found).to_owned())
}

/// An HTTP status code held as an int or as a decimal string.
fn http_status_code(attribute: &KeyValue) -> Option<i64> {
    match value_of(attribute)? {
        any_value::Value::IntValue(number) => Some(*number),
        any_value::Value::StringValue(text) => text.parse().ok(),
        _ => None,
    }
}

/// The status an HTTP code implies (OpenTelemetry's HTTP semantic conventions as the
/// Collector applies them, including its `< 399` bound).
fn status_from_http(http_code: i64, kind: SpanKind) -> StatusCode {
    if (400..500).contains(&http_code) {
        match kind {
            SpanKind::Client => return StatusCode::Error,
            SpanKind::Server => return StatusCode::Unset,
            _ => {}
        }
    }
    if (100..399).contains(&http_code) { StatusCode::Unset } else { StatusCode::Error }
}
