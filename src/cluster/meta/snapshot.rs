//! A meta state's snapshot: the state itself as JSON, inside a versioned envelope so a later
//! build can tell an old snapshot from garbage.
//!
//! ```text
//! {"version":1,"state":{"bootstrapped_by":7,"members":{…},"partitions":{"0":{…}},…}}
//! ```

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::state::MetaState;

/// The snapshot format this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Why a snapshot could not be written or read.
#[derive(Debug, Error)]
pub enum MetaError {
    /// The bytes are not a meta snapshot.
    #[error("meta snapshot is corrupt: {reason}")]
    CorruptSnapshot {
        /// What the decoder said.
        reason: String,
    },
    /// A snapshot of another format version.
    #[error("meta snapshot has format version {version}; this build reads {SNAPSHOT_VERSION}")]
    UnsupportedSnapshot {
        /// The snapshot's version.
        version: u32,
    },
    /// The state did not serialise (not expected: every key is a string or an integer).
    #[error("meta snapshot could not be written: {reason}")]
    Encode {
        /// What the encoder said.
        reason: String,
    },
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    version: u32,
    state: &'a MetaState,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u32,
}

#[derive(Deserialize)]
struct SnapshotIn {
    state: MetaState,
}

impl MetaState {
    /// The snapshot bytes of this state.
    pub fn to_snapshot(&self) -> Result<Vec<u8>, MetaError> {
        serde_json::to_vec(&SnapshotOut { version: SNAPSHOT_VERSION, state: self })
            .map_err(|error| MetaError::Encode { reason: error.to_string() })
    }

    /// Reads what [`MetaState::to_snapshot`] wrote; a state that breaks the invariants of
    /// `invariants.rs` is refused as corrupt.
    pub fn from_snapshot(bytes: &[u8]) -> Result<MetaState, MetaError> {
        let corrupt =
            |error: serde_json::Error| MetaError::CorruptSnapshot { reason: error.to_string() };
        let VersionOnly { version } = serde_json::from_slice(bytes).map_err(corrupt)?;
        if version != SNAPSHOT_VERSION {
            return Err(MetaError::UnsupportedSnapshot { version });
        }
        let SnapshotIn { state } = serde_json::from_slice(bytes).map_err(corrupt)?;
        state.check_invariants().map_err(|reason| MetaError::CorruptSnapshot { reason })?;
        Ok(state)
    }
}
