//! [`ConfigError`]: everything that can go wrong loading a configuration.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Why a configuration could not be loaded. Messages are lowercase, without a
/// trailing period, and name the offending key (as a dotted path such as
/// `server.http_listen_port`) and value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A key that spanlake does not know, from the YAML or the environment.
    #[error(
        "unknown config key {key:?}{}",
        unknown_key_details(.env_var.as_deref(), .suggestion.as_deref(), .others)
    )]
    UnknownKey {
        /// Full dotted path of the (first, in sorted order) unknown key.
        key: String,
        /// The environment variable that set it, when it came from the environment.
        env_var: Option<String>,
        /// A known key (or, for the environment, variable) that was probably meant.
        suggestion: Option<String>,
        /// Further unknown keys found in the same load, dotted and sorted.
        others: Vec<String>,
    },

    /// A key whose value is malformed or out of range.
    #[error("invalid value for config key {key:?}: {reason}")]
    Invalid {
        /// Full dotted path of the key.
        key: String,
        /// What is wrong, quoting the bad value.
        reason: String,
    },

    /// The config file could not be read.
    #[error("cannot read config file {}", .path.display())]
    Read {
        /// The file that was asked for.
        path: PathBuf,
        /// The I/O error (the error's `source()`, so not repeated in its message).
        source: std::io::Error,
    },

    /// The configuration is not well-formed YAML, or not a map at its root.
    #[error("cannot parse config: {message}")]
    Parse {
        /// The parser's message (prefixed with the file's path by `load_file`).
        message: String,
    },
}

impl ConfigError {
    /// The dotted key this error is about, if it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::UnknownKey { key, .. } | Self::Invalid { key, .. } => Some(key),
            Self::Read { .. } | Self::Parse { .. } => None,
        }
    }

    /// An [`Invalid`](Self::Invalid) error.
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid { key: key.into(), reason: reason.into() }
    }
}

fn unknown_key_details(
    env_var: Option<&str>,
    suggestion: Option<&str>,
    others: &[String],
) -> String {
    let mut out = String::new();
    if let Some(var) = env_var {
        let _ = write!(out, " (set by environment variable {var})");
    }
    if let Some(suggestion) = suggestion {
        if suggestion.starts_with(super::ENV_PREFIX) {
            let _ = write!(out, ": did you mean {suggestion}?");
        } else {
            let _ = write!(out, ": did you mean {suggestion:?}?");
        }
    }
    if !others.is_empty() {
        let list: Vec<String> = others.iter().map(|k| format!("{k:?}")).collect();
        let _ = write!(out, "; also unknown: {}", list.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let unknown = ConfigError::UnknownKey {
            key: "server.http_listen_prot".into(),
            env_var: None,
            suggestion: Some("server.http_listen_port".into()),
            others: vec!["foo".into(), "bar.baz".into()],
        };
        assert_eq!(
            unknown.to_string(),
            "unknown config key \"server.http_listen_prot\": did you mean \
             \"server.http_listen_port\"?; also unknown: \"foo\", \"bar.baz\""
        );
        let from_env = ConfigError::UnknownKey {
            key: "server_http_listen_port".into(),
            env_var: Some("SPANLAKE_SERVER_HTTP_LISTEN_PORT".into()),
            suggestion: Some("SPANLAKE_SERVER__HTTP_LISTEN_PORT".into()),
            others: vec![],
        };
        assert_eq!(
            from_env.to_string(),
            "unknown config key \"server_http_listen_port\" (set by environment variable \
             SPANLAKE_SERVER_HTTP_LISTEN_PORT): did you mean SPANLAKE_SERVER__HTTP_LISTEN_PORT?"
        );
        let read = ConfigError::Read {
            path: "/nope/tempo.yaml".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert_eq!(read.to_string(), "cannot read config file /nope/tempo.yaml");
        let source = std::error::Error::source(&read).unwrap();
        assert_eq!(
            source.to_string(),
            std::io::Error::from(std::io::ErrorKind::NotFound).to_string()
        );
        assert_eq!(
            ConfigError::invalid("partitions.count", "must be between 1 and 1024, got 0")
                .to_string(),
            "invalid value for config key \"partitions.count\": must be between 1 and 1024, got 0"
        );
    }
}
