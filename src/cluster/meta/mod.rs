//! The meta group's state machine (being written): commands and answers.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A change to the cluster's metadata, proposed to the meta group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetaCommand {
    /// Changes nothing (a write that only orders the log).
    Noop,
}

impl fmt::Display for MetaCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// What applying a command answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetaResponse {
    /// Applied.
    Done,
}
