//! What is put comes back: whole, by range, by listing; overwrites replace; deletes delete.

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use spanlake::storage::object_store::{
    RetryPolicy, StorageErrorKind, open_object_store, with_retries,
};
use tracing::info;

use crate::Backends;

fn payload(len: usize, seed: u8) -> Bytes {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect::<Vec<u8>>().into()
}

async fn must_put(store: &dyn ObjectStore, path: &Path, bytes: Bytes) {
    let policy = RetryPolicy::default();
    with_retries(&policy, None, "put", path, || store.put(path, PutPayload::from(bytes.clone())))
        .await
        .unwrap_or_else(|e| panic!("put {path}: {e}"));
}

async fn must_get(store: &dyn ObjectStore, path: &Path) -> Bytes {
    let policy = RetryPolicy::default();
    with_retries(&policy, None, "get", path, || async { store.get(path).await?.bytes().await })
        .await
        .unwrap_or_else(|e| panic!("get {path}: {e}"))
}

async fn sorted_list(store: &dyn ObjectStore, prefix: &str) -> Vec<String> {
    let prefix = Path::from(prefix);
    let objects: Vec<_> = store.list(Some(&prefix)).try_collect().await.expect("list");
    let mut names: Vec<String> =
        objects.into_iter().map(|meta| meta.location.to_string()).collect();
    names.sort();
    names
}

/// Put, get, range-get, head, list and delete return what was stored, on every backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_round_trip_on_every_backend() {
    let backends = Backends::open().await;
    let data = payload(100_000, 7);
    for (name, store) in &backends.stores {
        let store = store.as_ref();
        info!("--- {name}: put and read back");
        let data_path = Path::from("single-tenant/block-1/data.parquet");
        must_put(store, &data_path, data.clone()).await;
        assert_eq!(must_get(store, &data_path).await, data, "{name}");
        let range = store.get_range(&data_path, 1_000..21_000).await.expect("range get");
        assert_eq!(range, data.slice(1_000..21_000), "{name}");
        let ranges = store.get_ranges(&data_path, &[0..10, 99_990..100_000]).await.expect("ranges");
        assert_eq!(ranges, [data.slice(0..10), data.slice(99_990..100_000)], "{name}");
        let meta = store.head(&data_path).await.expect("head");
        assert_eq!((meta.location.clone(), meta.size), (data_path.clone(), 100_000), "{name}");

        info!("--- {name}: list");
        for key in [
            "single-tenant/block-1/meta.json",
            "single-tenant/block-2/meta.json",
            "other-tenant/block-3/meta.json",
        ] {
            must_put(store, &Path::from(key), Bytes::from_static(b"{}")).await;
        }
        assert_eq!(
            sorted_list(store, "single-tenant").await,
            [
                "single-tenant/block-1/data.parquet",
                "single-tenant/block-1/meta.json",
                "single-tenant/block-2/meta.json",
            ],
            "{name}"
        );
        let listing =
            store.list_with_delimiter(Some(&Path::from("single-tenant"))).await.expect("list");
        let mut blocks: Vec<String> =
            listing.common_prefixes.iter().map(|prefix| prefix.to_string()).collect();
        blocks.sort();
        assert_eq!(blocks, ["single-tenant/block-1", "single-tenant/block-2"], "{name}");
        assert!(listing.objects.is_empty(), "{name}: {:?}", listing.objects);

        info!("--- {name}: delete");
        store.delete(&data_path).await.expect("delete");
        let policy = RetryPolicy::default();
        let error = with_retries(&policy, None, "get", &data_path, || store.get(&data_path))
            .await
            .map(|_| ())
            .expect_err("deleted");
        assert_eq!(error.kind(), StorageErrorKind::NotFound, "{name}: {error}");
        assert_eq!(
            sorted_list(store, "single-tenant/block-1").await,
            ["single-tenant/block-1/meta.json"],
            "{name}"
        );
    }
    // The local backend keeps objects as files under storage.trace.local.path.
    let on_disk = backends.dir.path().join("blocks/single-tenant/block-1/meta.json");
    assert_eq!(std::fs::read(&on_disk).expect("local file"), b"{}");
}

/// A put over an existing object replaces it whole: readers see the new bytes and size only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwriting_an_object_replaces_it_whole() {
    let backends = Backends::open().await;
    for (name, store) in &backends.stores {
        let store = store.as_ref();
        let path = Path::from("single-tenant/block-9/meta.json");
        must_put(store, &path, payload(50_000, 1)).await;
        let replacement = payload(1_000, 2);
        must_put(store, &path, replacement.clone()).await;
        assert_eq!(must_get(store, &path).await, replacement, "{name}");
        assert_eq!(store.head(&path).await.expect("head").size, 1_000, "{name}");
        assert_eq!(sorted_list(store, "single-tenant").await, [path.to_string()], "{name}");
    }
}

/// Tempo's usual S3 section (scheme-less IP endpoint, no `forcepathstyle`) reaches the server,
/// and a `prefix` keeps every key under it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tempo_style_s3_section_with_a_prefix_keeps_keys_under_it() {
    let backends = Backends::open().await;
    let mut config = crate::s3_config(&backends.s3);
    config.s3.forcepathstyle = false;
    config.s3.prefix = "/cluster-a/".to_owned();
    let prefixed = open_object_store(&config).expect("open");
    let path = Path::from("single-tenant/block-1/meta.json");
    must_put(prefixed.as_ref(), &path, Bytes::from_static(b"{}")).await;
    assert_eq!(sorted_list(prefixed.as_ref(), "single-tenant").await, [path.to_string()]);

    let whole_bucket =
        backends.stores.iter().find(|(name, _)| *name == "s3").expect("s3").1.clone();
    assert_eq!(
        sorted_list(whole_bucket.as_ref(), "").await,
        ["cluster-a/single-tenant/block-1/meta.json"]
    );
}
