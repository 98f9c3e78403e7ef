//! `with_retries`: transient failures are retried until the operation succeeds or the retries
//! run out; permanent ones are not retried. The failures are injected in front of real
//! operations on each backend.

use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use spanlake::actors::metrics::NodeMetrics;
use spanlake::storage::object_store::{StorageErrorKind, with_retries};
use tracing::info;

use crate::{Backends, fast_retries};

/// What a dropped connection looks like to the caller.
fn transient_failure(attempt: u32) -> object_store::Error {
    object_store::Error::Generic {
        store: "test",
        source: format!("connection reset on attempt {attempt}").into(),
    }
}

/// Two transient failures, then the real put succeeds: one call, three attempts, counted as
/// `retried`, and the object is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_is_retried_until_the_operation_succeeds() {
    let backends = Backends::open().await;
    let metrics = NodeMetrics::new();
    let policy = fast_retries(5);
    for (name, store) in &backends.stores {
        info!("--- {name}");
        let path = Path::from(format!("single-tenant/{name}/data.parquet"));
        let attempts = AtomicU32::new(0);
        with_retries(&policy, Some(&metrics), "put", &path, || {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let store = store.clone();
            let path = path.clone();
            async move {
                if attempt <= 2 {
                    return Err(transient_failure(attempt));
                }
                store.put(&path, PutPayload::from_static(b"block")).await
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(attempts.load(Ordering::SeqCst), 3, "{name}");
        let stored = store.get(&path).await.expect("get").bytes().await.expect("bytes");
        assert_eq!(stored, Bytes::from_static(b"block"), "{name}");
    }
    let text = metrics.render();
    let retried = "spanlake_object_store_operations_total{operation=\"put\",outcome=\"retried\"} 3";
    assert!(text.contains(retried), "{text}");
}

/// A failure that does not go away: `max_retries` retries, then the last attempt's error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_give_up_after_max_retries_with_the_last_error() {
    let backends = Backends::open().await;
    let metrics = NodeMetrics::new();
    let policy = fast_retries(3);
    for (name, store) in &backends.stores {
        info!("--- {name}");
        let path = Path::from("single-tenant/block-1/meta.json");
        store.put(&path, PutPayload::from_static(b"{}")).await.expect("put");
        let attempts = AtomicU32::new(0);
        let result = with_retries(&policy, Some(&metrics), "get", &path, || {
            let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
            let store = store.clone();
            let path = path.clone();
            async move {
                // The real read happens; the failure is injected after it.
                store.get(&path).await?.bytes().await?;
                Err::<Bytes, _>(transient_failure(attempt))
            }
        })
        .await;
        let error = result.expect_err("never succeeds");
        assert_eq!(attempts.load(Ordering::SeqCst), 4, "{name}");
        assert_eq!((error.kind(), error.attempts()), (StorageErrorKind::Transient, 4), "{name}");
        assert!(error.to_string().contains("connection reset on attempt 4"), "{name}: {error}");
        assert!(error.to_string().contains("after 4 attempts"), "{name}: {error}");
    }
    let failed = "spanlake_object_store_operations_total{operation=\"get\",outcome=\"failed\"} 3";
    assert!(metrics.render().contains(failed), "{}", metrics.render());
}

/// A permanent failure returns at once, whatever the retry budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_not_retried() {
    let backends = Backends::open().await;
    let policy = fast_retries(5);
    for (name, store) in &backends.stores {
        let path = Path::from("single-tenant/block-1/meta.json");
        let attempts = AtomicU32::new(0);
        let result = with_retries(&policy, None, "put", &path, || {
            attempts.fetch_add(1, Ordering::SeqCst);
            let store = store.clone();
            let path = path.clone();
            async move {
                store.head(&path).await.ok();
                Err::<(), _>(object_store::Error::PermissionDenied {
                    path: path.to_string(),
                    source: "access denied".into(),
                })
            }
        })
        .await;
        let error = result.expect_err("denied");
        assert_eq!(attempts.load(Ordering::SeqCst), 1, "{name}");
        assert_eq!(error.kind(), StorageErrorKind::Permanent, "{name}");
        assert!(error.to_string().contains("check the credentials"), "{error}");
    }
}
