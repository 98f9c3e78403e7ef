//! Failures are classified: a missing object is NotFound, a missing bucket or a refused
//! precondition is permanent (and not retried), an unreachable server is transient.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use spanlake::storage::object_store::{
    RetryPolicy, StorageErrorKind, open_object_store, verify_access, with_retries,
};
use tracing::info;

use crate::{Backends, fast_retries, s3_config};

/// Reading a missing object is NotFound on every backend, reported at once (no retries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_object_is_not_found_on_every_backend() {
    let backends = Backends::open().await;
    let policy = RetryPolicy::default();
    let path = Path::from("single-tenant/no-such-block/meta.json");
    for (name, store) in &backends.stores {
        info!("--- {name}");
        let get = with_retries(&policy, None, "get", &path, || store.get(&path)).await;
        let error = get.map(|_| ()).expect_err("missing");
        assert_eq!((error.kind(), error.attempts()), (StorageErrorKind::NotFound, 1), "{name}");
        assert!(error.is_not_found());
        assert!(
            error.to_string().starts_with(
                "object store get of \"single-tenant/no-such-block/meta.json\" failed (not found)"
            ),
            "{error}"
        );
        let head = with_retries(&policy, None, "head", &path, || store.head(&path)).await;
        assert_eq!(head.expect_err("missing").kind(), StorageErrorKind::NotFound, "{name}");
        let range =
            with_retries(&policy, None, "get_range", &path, || store.get_range(&path, 0..10)).await;
        assert_eq!(range.expect_err("missing").kind(), StorageErrorKind::NotFound, "{name}");
        verify_access(store.as_ref(), &policy, None)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// A conditional create over an existing object is refused: a permanent error, one attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_precondition_is_permanent_and_not_retried() {
    let backends = Backends::open().await;
    let policy = fast_retries(5);
    let path = Path::from("single-tenant/block-1/meta.json");
    for (name, store) in &backends.stores {
        info!("--- {name}");
        store.put(&path, PutPayload::from_static(b"first")).await.expect("put");
        let create = PutOptions { mode: PutMode::Create, ..Default::default() };
        let result = with_retries(&policy, None, "put", &path, || {
            store.put_opts(&path, PutPayload::from_static(b"second"), create.clone())
        })
        .await;
        let error = result.map(|_| ()).expect_err("exists");
        assert_eq!(
            (error.kind(), error.attempts()),
            (StorageErrorKind::Permanent, 1),
            "{name}: {error}"
        );
        let kept = store.get(&path).await.expect("get").bytes().await.expect("bytes");
        assert_eq!(kept, Bytes::from_static(b"first"), "{name}");
    }
}

/// Reading past the end of an object is permanent on every backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_past_the_end_is_permanent() {
    let backends = Backends::open().await;
    let policy = fast_retries(5);
    let path = Path::from("single-tenant/block-1/index");
    for (name, store) in &backends.stores {
        store.put(&path, PutPayload::from_static(b"0123456789")).await.expect("put");
        let result =
            with_retries(&policy, None, "get_range", &path, || store.get_range(&path, 20..30))
                .await;
        let error = result.expect_err("past the end");
        assert_eq!(
            (error.kind(), error.attempts()),
            (StorageErrorKind::Permanent, 1),
            "{name}: {error}"
        );
    }
}

/// A bucket that does not exist is a permanent error that names it, for puts, reads, listings
/// and the start-up check; nothing is retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_s3_bucket_is_a_permanent_error_naming_it() {
    let backends = Backends::open().await;
    let mut config = s3_config(&backends.s3);
    config.s3.bucket = "no-such-bucket".to_owned();
    let store = open_object_store(&config).expect("opening does not touch the network");
    let policy = fast_retries(5);
    let path = Path::from("single-tenant/block-1/meta.json");
    let put = with_retries(&policy, None, "put", &path, || {
        store.put(&path, PutPayload::from_static(b"{}"))
    })
    .await;
    let get = with_retries(&policy, None, "get", &path, || store.get(&path)).await;
    let verify = verify_access(store.as_ref(), &policy, None).await;
    for error in [put.map(|_| ()).unwrap_err(), get.map(|_| ()).unwrap_err(), verify.unwrap_err()] {
        assert_eq!((error.kind(), error.attempts()), (StorageErrorKind::Permanent, 1), "{error}");
        assert!(error.to_string().contains("bucket \"no-such-bucket\" does not exist"), "{error}");
    }
}

/// A server that refuses connections is a transient failure: retried, then reported with the
/// attempts made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_s3_endpoint_is_transient_and_retried() {
    let backends = Backends::open().await;
    let mut config = s3_config(&backends.s3);
    config.s3.endpoint = format!("127.0.0.1:{}", crate::harness::free_port());
    config.retry.max_retries = 2;
    config.retry.backoff_initial = "1ms".parse().expect("duration");
    config.retry.backoff_max = "5ms".parse().expect("duration");
    let store = open_object_store(&config).expect("open");
    let policy = RetryPolicy::from(&config.retry);
    let path = Path::from("single-tenant/block-1/meta.json");
    let error = with_retries(&policy, None, "put", &path, || {
        store.put(&path, PutPayload::from_static(b"{}"))
    })
    .await
    .map(|_| ())
    .expect_err("nobody listens");
    assert_eq!((error.kind(), error.attempts()), (StorageErrorKind::Transient, 3), "{error}");
}
