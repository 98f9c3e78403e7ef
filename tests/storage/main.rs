//! Object-storage tests: every scenario runs against the local file system, memory and a real
//! S3 API (moto's server, see `harness::s3`).

#[path = "../harness/mod.rs"]
mod harness;

mod t10_round_trip;
mod t20_errors;
mod t30_retries;

use std::sync::Arc;

use object_store::ObjectStore;
use spanlake::config::{StorageBackend, TraceStorageConfig};
use spanlake::storage::object_store::{RetryPolicy, open_object_store};

use crate::harness::s3::S3Server;

/// One store of each backend, and what keeps them alive.
pub struct Backends {
    /// `(name, store)`: `local`, `memory`, `s3`.
    pub stores: Vec<(&'static str, Arc<dyn ObjectStore>)>,
    /// The S3 server behind the `s3` store.
    pub s3: S3Server,
    /// The directory behind the `local` store.
    pub dir: tempfile::TempDir,
}

impl Backends {
    /// Opens the three backends through `open_object_store`, as a node would.
    pub async fn open() -> Backends {
        harness::init_logging();
        let s3 = S3Server::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut stores = Vec::new();
        for (name, config) in [
            ("local", local_config(&dir)),
            (
                "memory",
                TraceStorageConfig { backend: StorageBackend::Memory, ..Default::default() },
            ),
            ("s3", s3_config(&s3)),
        ] {
            let store = open_object_store(&config).unwrap_or_else(|e| panic!("open {name}: {e}"));
            stores.push((name, store));
        }
        Backends { stores, s3, dir }
    }
}

/// `backend: local` under `dir/blocks` (not created yet: opening creates it).
pub fn local_config(dir: &tempfile::TempDir) -> TraceStorageConfig {
    let mut config = TraceStorageConfig::default();
    config.local.path = dir.path().join("blocks");
    config
}

/// `backend: s3` on `server`.
pub fn s3_config(server: &S3Server) -> TraceStorageConfig {
    let mut config = TraceStorageConfig::default();
    server.configure_trace_storage(&mut config);
    config
}

/// A policy with short backoffs, so retry tests take milliseconds.
pub fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        backoff_initial: std::time::Duration::from_millis(1),
        backoff_max: std::time::Duration::from_millis(5),
        timeout: std::time::Duration::from_secs(30),
    }
}
