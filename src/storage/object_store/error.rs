//! [`StorageError`]: a failed object-store operation, shaped like `io::Error`: a
//! [`StorageErrorKind`] the caller acts on, plus what failed and why.
//!
//! `object_store` reports most failures as `Generic`, so the kind is found by
//! looking down the error's source chain: an `io::Error` kind, an HTTP status, a
//! provider's error code (`NoSuchBucket`).

use std::error::Error as StdError;
use std::fmt;
use std::io;

use crate::api::error_code::ErrorCode;

/// A boxed error cause.
pub(super) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What the caller of a failed storage operation should do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StorageErrorKind {
    /// The object does not exist: often an answer rather than a failure.
    NotFound,
    /// Might succeed if tried again: a 5xx, throttling, a timeout, a lost
    /// connection, a local I/O error.
    Transient,
    /// Will fail again until someone changes something: a missing bucket, bad
    /// credentials, a refused precondition, an invalid path or range.
    Permanent,
}

impl StorageErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            StorageErrorKind::NotFound => "not found",
            StorageErrorKind::Transient => "transient",
            StorageErrorKind::Permanent => "permanent",
        }
    }
}

impl fmt::Display for StorageErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed object-store operation.
///
/// Its message names the operation, the path, the kind, the attempts made and
/// the underlying error's message; like `io::Error`, [`source`](StdError::source)
/// then skips that error (already in the message) and gives its cause.
#[derive(Debug)]
pub struct StorageError {
    kind: StorageErrorKind,
    operation: &'static str,
    path: String,
    attempts: u32,
    /// A plainer explanation than the source's, when one is known.
    reason: Option<String>,
    source: BoxError,
}

impl StorageError {
    /// Classifies an error of one attempt of `operation` on `path`.
    pub fn from_object_store(
        operation: &'static str,
        path: impl Into<String>,
        error: object_store::Error,
    ) -> StorageError {
        let (kind, reason) = classify(&error);
        StorageError {
            kind,
            operation,
            path: path.into(),
            attempts: 1,
            reason,
            source: error.into(),
        }
    }

    /// An error that is not an `object_store` one (opening a backend, say).
    pub(super) fn other(
        kind: StorageErrorKind,
        operation: &'static str,
        path: impl Into<String>,
        reason: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> StorageError {
        StorageError {
            kind,
            operation,
            path: path.into(),
            attempts: 1,
            reason: Some(reason.into()),
            source: source.into(),
        }
    }

    /// Records that this is the last of `attempts` attempts.
    pub(super) fn after_attempts(mut self, attempts: u32) -> StorageError {
        self.attempts = attempts;
        self
    }

    /// What the caller should do about it.
    pub fn kind(&self) -> StorageErrorKind {
        self.kind
    }

    /// Whether trying again might succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == StorageErrorKind::Transient
    }

    /// Whether the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == StorageErrorKind::NotFound
    }

    /// The operation that failed (`put`, `get`, `list`, …).
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// The object or prefix it was about.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Attempts made before giving up (1 when not retried).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How the API reports it: a missing object is 404, a transient failure
    /// 503 (clients retry), a permanent one 500.
    pub fn error_code(&self) -> ErrorCode {
        match self.kind {
            StorageErrorKind::NotFound => ErrorCode::NotFound,
            StorageErrorKind::Transient => ErrorCode::Unavailable,
            StorageErrorKind::Permanent => ErrorCode::Internal,
        }
    }
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "object store {} of {:?} failed ({}", self.operation, self.path, self.kind)?;
        if self.attempts > 1 {
            write!(f, ", after {} attempts", self.attempts)?;
        }
        f.write_str(")")?;
        if let Some(reason) = &self.reason {
            write!(f, ": {reason}")?;
        }
        write!(f, ": {}", self.source)
    }
}

impl StdError for StorageError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.source()
    }
}

/// The kind of an `object_store` error, and a plainer reason when one is known.
fn classify(error: &object_store::Error) -> (StorageErrorKind, Option<String>) {
    use object_store::Error as E;
    match error {
        // A missing bucket is reported as a missing object by the S3 client (404).
        E::NotFound { .. } => match missing_bucket(error) {
            Some(reason) => (StorageErrorKind::Permanent, Some(reason)),
            None => (StorageErrorKind::NotFound, None),
        },
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
            let reason = "access denied: check the credentials and the bucket's permissions";
            (StorageErrorKind::Permanent, Some(reason.to_owned()))
        }
        E::Precondition { .. }
        | E::AlreadyExists { .. }
        | E::NotModified { .. }
        | E::NotImplemented { .. }
        | E::NotSupported { .. }
        | E::UnknownConfigurationKey { .. }
        | E::InvalidPath { .. }
        // A panicked or cancelled blocking task (local file system) will not recover.
        | E::JoinError { .. } => (StorageErrorKind::Permanent, None),
        E::Generic { .. } => match missing_bucket(error) {
            Some(reason) => (StorageErrorKind::Permanent, Some(reason)),
            None => (classify_generic(error), None),
        },
        // Variants added by later object_store versions: retrying is bounded anyway.
        _ => (StorageErrorKind::Transient, None),
    }
}

/// `Generic` covers both the local file system's I/O errors and HTTP errors
/// that the client gave up retrying.
fn classify_generic(error: &object_store::Error) -> StorageErrorKind {
    for cause in chain(error) {
        if let Some(io_error) = cause.downcast_ref::<io::Error>() {
            return classify_io(io_error.kind());
        }
        if cause.downcast_ref::<object_store::client::HttpError>().is_some() {
            // Connection, timeout and decoding failures.
            return StorageErrorKind::Transient;
        }
        let message = cause.to_string();
        if let Some(status) = http_status(&message) {
            // 408 and 429 are "try later"; other 4xx are the request's fault.
            let is_client_error = (400..500).contains(&status) && status != 408 && status != 429;
            return if is_client_error {
                StorageErrorKind::Permanent
            } else {
                StorageErrorKind::Transient
            };
        }
        // Reading past the end of an object (local and memory backends).
        if message.contains("Requested range was invalid")
            || message.contains("Out of range of file")
            || message.starts_with("Invalid range")
        {
            return StorageErrorKind::Permanent;
        }
    }
    StorageErrorKind::Transient
}

/// Local I/O errors that retrying cannot fix.
pub(super) fn classify_io(kind: io::ErrorKind) -> StorageErrorKind {
    use io::ErrorKind as K;
    match kind {
        K::NotFound => StorageErrorKind::NotFound,
        K::PermissionDenied
        | K::InvalidInput
        | K::InvalidData
        | K::ReadOnlyFilesystem
        | K::IsADirectory
        | K::NotADirectory
        | K::DirectoryNotEmpty
        | K::InvalidFilename
        | K::FileTooLarge
        | K::Unsupported
        | K::AlreadyExists => StorageErrorKind::Permanent,
        _ => StorageErrorKind::Transient,
    }
}

/// The error and its causes, outermost first.
fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |cause: &&'a (dyn StdError + 'static)| (*cause).source())
}

/// The status in object_store's "Server returned non-2xx status code: 404 Not Found: …".
/// Its retry error type is private, so the message is all there is to go on.
fn http_status(message: &str) -> Option<u16> {
    let (_, after) = message.split_once("status code: ")?;
    after.get(..3)?.parse().ok()
}

/// Says which bucket or container is missing, when the provider said so
/// (S3 `NoSuchBucket`, Azure `ContainerNotFound`, GCS "bucket does not exist").
fn missing_bucket(error: &object_store::Error) -> Option<String> {
    let message: String =
        chain(error).map(|cause| cause.to_string()).collect::<Vec<_>>().join(": ");
    if message.contains("NoSuchBucket") {
        let name = message
            .split_once("<BucketName>")
            .and_then(|(_, rest)| rest.split_once("</BucketName>"))
            .map(|(name, _)| name);
        return Some(match name {
            Some(name) => format!("bucket {name:?} does not exist (storage.trace.s3.bucket)"),
            None => "the bucket does not exist (storage.trace.s3.bucket)".to_owned(),
        });
    }
    if message.contains("ContainerNotFound") {
        return Some(
            "the container does not exist (storage.trace.azure.container_name)".to_owned(),
        );
    }
    if message.contains("The specified bucket does not exist") {
        return Some("the bucket does not exist".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(source: impl Into<BoxError>) -> object_store::Error {
        object_store::Error::Generic { store: "test", source: source.into() }
    }

    #[test]
    fn variants_map_to_kinds() {
        let boom = || -> BoxError { "boom".into() };
        let cases = [
            (
                object_store::Error::NotFound { path: "a".into(), source: boom() },
                StorageErrorKind::NotFound,
            ),
            (
                object_store::Error::Precondition { path: "a".into(), source: boom() },
                StorageErrorKind::Permanent,
            ),
            (
                object_store::Error::AlreadyExists { path: "a".into(), source: boom() },
                StorageErrorKind::Permanent,
            ),
            (
                object_store::Error::PermissionDenied { path: "a".into(), source: boom() },
                StorageErrorKind::Permanent,
            ),
            (
                object_store::Error::Unauthenticated { path: "a".into(), source: boom() },
                StorageErrorKind::Permanent,
            ),
            (
                object_store::Error::NotImplemented {
                    operation: "x".into(),
                    implementer: "y".into(),
                },
                StorageErrorKind::Permanent,
            ),
            (generic(boom()), StorageErrorKind::Transient),
            (generic(io::Error::from(io::ErrorKind::ConnectionReset)), StorageErrorKind::Transient),
            (
                generic(io::Error::from(io::ErrorKind::PermissionDenied)),
                StorageErrorKind::Permanent,
            ),
            (
                generic("Server returned non-2xx status code: 503 Service Unavailable: "),
                StorageErrorKind::Transient,
            ),
            (
                generic("Server returned non-2xx status code: 429 Too Many Requests: "),
                StorageErrorKind::Transient,
            ),
            (
                generic("Server returned non-2xx status code: 400 Bad Request: bad"),
                StorageErrorKind::Permanent,
            ),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            let storage_error = StorageError::from_object_store("get", "t/b/x", error);
            assert_eq!(storage_error.kind(), kind, "{text}");
            assert_eq!(storage_error.is_transient(), kind == StorageErrorKind::Transient);
        }
    }

    #[test]
    fn a_missing_bucket_is_permanent_and_named() {
        let body = "Server returned non-2xx status code: 404 Not Found: <?xml version=\"1.0\"?>\
                    <Error><Code>NoSuchBucket</Code><BucketName>traces</BucketName></Error>";
        let error = object_store::Error::NotFound { path: "t/x".into(), source: body.into() };
        let storage_error = StorageError::from_object_store("put", "t/x", error);
        assert_eq!(storage_error.kind(), StorageErrorKind::Permanent);
        let message = storage_error.to_string();
        assert!(
            message.starts_with(
                "object store put of \"t/x\" failed (permanent): bucket \"traces\" does not exist"
            ),
            "{message}"
        );
    }

    #[test]
    fn message_names_operation_path_attempts_and_cause() {
        let error = StorageError::from_object_store("head", "a/b", generic("socket closed"))
            .after_attempts(3);
        assert_eq!(
            error.to_string(),
            "object store head of \"a/b\" failed (transient, after 3 attempts): \
             Generic test error: socket closed"
        );
        assert_eq!((error.operation(), error.path(), error.attempts()), ("head", "a/b", 3));
        assert_eq!(error.error_code(), ErrorCode::Unavailable);
    }

    #[test]
    fn http_status_is_read_from_the_message() {
        assert_eq!(http_status("x status code: 404 Not Found: y"), Some(404));
        assert_eq!(http_status("no status here"), None);
        assert_eq!(http_status("status code: 4"), None);
    }
}
