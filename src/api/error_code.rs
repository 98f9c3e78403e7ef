//! The one table that turns errors into HTTP and gRPC status.
//!
//! Every module's error type has an `error_code()`; only this file knows what a code means on
//! the wire. HTTP bodies are plain text (as Tempo's); 429 carries `Retry-After`; the gRPC
//! `ResourceExhausted` carries a `google.rpc.RetryInfo`, without which OpenTelemetry exporters
//! do not retry.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use prost::Message;

/// What kind of failure an error is, independent of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed: 400 / InvalidArgument.
    BadRequest,
    /// No or an invalid tenant header: 401 / Unauthenticated.
    Unauthorized,
    /// No such route or object: 404 / NotFound.
    NotFound,
    /// The body is over a size limit: 413 / ResourceExhausted.
    PayloadTooLarge,
    /// Valid but too large to answer (a trace over `max_bytes_per_trace` on v1): 422 /
    /// FailedPrecondition.
    UnprocessableEntity,
    /// The body's media type is not supported: 415 / InvalidArgument.
    UnsupportedMediaType,
    /// The request conflicts with the current state (an admin transition that is not allowed
    /// now): 409 / FailedPrecondition.
    Conflict,
    /// Over a limit that frees up with time: 429 + Retry-After / ResourceExhausted + RetryInfo.
    RateLimited {
        /// When to retry.
        retry_after: Duration,
    },
    /// A component is restarting or failed: 503 / Unavailable (clients retry).
    Unavailable,
    /// An internal deadline passed: 504 / DeadlineExceeded.
    Timeout,
    /// A bug or a corrupt store: 500 / Internal.
    Internal,
}

impl ErrorCode {
    /// The HTTP status.
    pub fn http_status(self) -> StatusCode {
        match self {
            ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnprocessableEntity => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Conflict => StatusCode::CONFLICT,
            ErrorCode::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The gRPC status code.
    pub fn grpc_code(self) -> tonic::Code {
        match self {
            ErrorCode::BadRequest | ErrorCode::UnsupportedMediaType => tonic::Code::InvalidArgument,
            ErrorCode::Unauthorized => tonic::Code::Unauthenticated,
            ErrorCode::NotFound => tonic::Code::NotFound,
            ErrorCode::UnprocessableEntity | ErrorCode::Conflict => tonic::Code::FailedPrecondition,
            ErrorCode::PayloadTooLarge | ErrorCode::RateLimited { .. } => {
                tonic::Code::ResourceExhausted
            }
            ErrorCode::Unavailable => tonic::Code::Unavailable,
            ErrorCode::Timeout => tonic::Code::DeadlineExceeded,
            ErrorCode::Internal => tonic::Code::Internal,
        }
    }
}

/// An error on its way out of the API: a code and the message the client reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// Says what was wrong.
    pub message: String,
}

impl ApiError {
    /// Builds an error from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into() }
    }

    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::BadRequest, message)
    }

    /// The gRPC form, with `RetryInfo` for rate limits.
    pub fn to_grpc_status(&self) -> tonic::Status {
        let code = self.code.grpc_code();
        match self.code {
            ErrorCode::RateLimited { retry_after } => {
                let details = rate_limit_details(code, &self.message, retry_after);
                tonic::Status::with_details(code, self.message.clone(), details.into())
            }
            _ => tonic::Status::new(code, self.message.clone()),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.http_status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("text/plain; charset=utf-8");
        if let ErrorCode::RateLimited { retry_after } = self.code {
            response.insert_header(("Retry-After", retry_after.as_secs().max(1).to_string()));
        }
        response.body(format!("{}\n", self.message))
    }
}

impl From<ApiError> for tonic::Status {
    fn from(error: ApiError) -> tonic::Status {
        error.to_grpc_status()
    }
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
struct ProtoAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.rpc.Status`, the payload of the `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<ProtoAny>,
}

/// Encodes a plain `google.rpc.Status` (OTLP/HTTP protobuf error bodies).
pub fn encode_rpc_status(code: i32, message: &str) -> Vec<u8> {
    RpcStatus { code, message: message.to_string(), details: Vec::new() }.encode_to_vec()
}

/// Encodes a `google.rpc.Status` carrying one `RetryInfo`.
fn rate_limit_details(code: tonic::Code, message: &str, retry_after: Duration) -> Vec<u8> {
    let retry_info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(retry_after.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(retry_after.subsec_nanos()).unwrap_or(0),
        }),
    };
    RpcStatus {
        code: code as i32,
        message: message.to_string(),
        details: vec![ProtoAny {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".to_string(),
            value: retry_info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits_carry_retry_after_and_retry_info() {
        let error = ApiError::new(
            ErrorCode::RateLimited { retry_after: Duration::from_secs(5) },
            "slow down",
        );
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers().get("Retry-After").unwrap(), "5");
        let status = error.to_grpc_status();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        let details = RpcStatus::decode(status.details()).unwrap();
        assert_eq!(details.details[0].type_url, "type.googleapis.com/google.rpc.RetryInfo");
        let retry = RetryInfo::decode(details.details[0].value.as_slice()).unwrap();
        assert_eq!(retry.retry_delay.unwrap().seconds, 5);
    }

    #[test]
    fn codes_map_to_tempo_statuses() {
        assert_eq!(ErrorCode::BadRequest.http_status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::BadRequest.grpc_code(), tonic::Code::InvalidArgument);
        assert_eq!(ErrorCode::PayloadTooLarge.grpc_code(), tonic::Code::ResourceExhausted);
        assert_eq!(ErrorCode::NotFound.http_status(), StatusCode::NOT_FOUND);
    }
}
