//! Errors of the write-ahead log, split into the caller's mistakes and fatal storage failures.

use std::path::PathBuf;

use thiserror::Error;

use crate::model::ids::{LogIndex, Term};

/// Why a log operation failed.
#[derive(Debug, Error)]
pub(crate) enum WalError {
    /// A file-system call failed.
    #[error("wal {operation} failed for {path}: {source}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Stored data is damaged where a crash cannot explain it.
    #[error("corrupt wal file {segment} at offset {offset}: {reason}")]
    Corrupt {
        /// The damaged file.
        segment: PathBuf,
        /// Byte offset of the damage.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An appended record does not continue the log.
    #[error("non-contiguous append: expected index {expected}, got {got}")]
    NonContiguous {
        /// The index the log continues with.
        expected: LogIndex,
        /// The index offered.
        got: LogIndex,
    },
    /// An appended record has a lower term than the record before it.
    #[error("term goes backwards at index {index}: {} after {}", .term.0, .previous.0)]
    TermRegression {
        /// Index of the offending record.
        index: LogIndex,
        /// Its term.
        term: Term,
        /// Term of the record before it.
        previous: Term,
    },
    /// A record's payload exceeds the frame limit.
    #[error("record {index} is too large: {len} bytes")]
    RecordTooLarge {
        /// Index of the offending record.
        index: LogIndex,
        /// Its payload length.
        len: usize,
    },
    /// The index is at or below the purge point.
    #[error("index {index} is purged")]
    Purged {
        /// The index asked for.
        index: LogIndex,
    },
    /// A purge point below the first record would leave records that neither exist nor are
    /// purged.
    #[error("purge point {upto} leaves a gap before the first record {first}")]
    PurgeGap {
        /// The purge point asked for.
        upto: LogIndex,
        /// The first record in the log.
        first: LogIndex,
    },
    /// An earlier I/O failure left the in-memory state unsure; the log must be reopened.
    #[error("wal is poisoned by an earlier i/o failure")]
    Poisoned,
}

impl WalError {
    /// Returns true when the log cannot go on (storage failed or is damaged) and the node should
    /// stop it; false when the request was wrong and the log is unchanged.
    pub(crate) fn is_fatal(&self) -> bool {
        match self {
            WalError::Io { .. } | WalError::Corrupt { .. } | WalError::Poisoned => true,
            WalError::NonContiguous { .. }
            | WalError::TermRegression { .. }
            | WalError::RecordTooLarge { .. }
            | WalError::Purged { .. }
            | WalError::PurgeGap { .. } => false,
        }
    }
}
