//! Immutable per-block objects kept in memory across queries: bloom shards, trace-id indexes,
//! opened data readers and tag dictionaries.
//!
//! A block never changes once registered, so an entry is never stale; each kind is bounded by
//! entry count (oldest insertion evicted first) and tag dictionaries, which can reach 1 MB
//! each, also by their total size.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::storage::block::{BlockDataReader, BlockError, TagDictionary, TraceIdBloom, TraceIndex};

/// Cached objects per kind (bloom shards, indexes).
const CACHE_ENTRIES: usize = 4096;
/// Total encoded size of the tag dictionaries kept.
const TAG_DICTIONARY_BYTES: usize = 64 * 1024 * 1024;

/// A block's tag dictionary as loaded: `None` when the block has none (written before tag
/// dictionaries existed), with the object's size.
pub(crate) type LoadedTags = Option<(Arc<TagDictionary>, u64)>;

/// The caches shared by every query shard of a node.
pub(crate) struct BlockObjectCache {
    pub(super) blooms: BoundedCache<TraceIdBloom>,
    pub(super) indexes: BoundedCache<TraceIndex>,
    pub(super) readers: BoundedCache<BlockDataReader>,
    pub(super) tags: BoundedCache<LoadedTags>,
}

impl Default for BlockObjectCache {
    fn default() -> Self {
        BlockObjectCache {
            blooms: BoundedCache::new(usize::MAX),
            indexes: BoundedCache::new(usize::MAX),
            readers: BoundedCache::new(usize::MAX),
            tags: BoundedCache::new(TAG_DICTIONARY_BYTES),
        }
    }
}

/// Cached values by key with their weights, and keys in insertion order (oldest first).
struct CacheEntries<T> {
    map: HashMap<String, (Arc<T>, usize)>,
    order: VecDeque<String>,
    weight: usize,
}

/// A map bounded by entry count and total weight, evicting the oldest insertion.
pub(crate) struct BoundedCache<T> {
    entries: Mutex<CacheEntries<T>>,
    max_weight: usize,
}

impl<T> BoundedCache<T> {
    fn new(max_weight: usize) -> BoundedCache<T> {
        let entries = CacheEntries { map: HashMap::new(), order: VecDeque::new(), weight: 0 };
        BoundedCache { entries: Mutex::new(entries), max_weight }
    }

    /// The cached value of `key`, or `load`'s (cached unless it fails).
    pub(super) async fn get_or_load<F, Fut>(
        &self,
        key: String,
        load: F,
    ) -> Result<Arc<T>, BlockError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, BlockError>>,
    {
        self.get_or_load_weighted(key, |_| 0, load).await
    }

    /// As [`BoundedCache::get_or_load`], counting each value as `weigh(value)` against the
    /// cache's total weight.
    pub(super) async fn get_or_load_weighted<W, F, Fut>(
        &self,
        key: String,
        weigh: W,
        load: F,
    ) -> Result<Arc<T>, BlockError>
    where
        W: FnOnce(&T) -> usize,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, BlockError>>,
    {
        if let Some((hit, _)) = self.lock().map.get(&key) {
            return Ok(hit.clone());
        }
        let loaded = load().await?;
        let weight = weigh(&loaded);
        let loaded = Arc::new(loaded);
        let mut entries = self.lock();
        let CacheEntries { map, order, weight: total } = &mut *entries;
        match map.insert(key.clone(), (loaded.clone(), weight)) {
            Some((_, replaced)) => *total = total.saturating_sub(replaced) + weight,
            None => {
                order.push_back(key);
                *total += weight;
            }
        }
        while order.len() > CACHE_ENTRIES || (*total > self.max_weight && order.len() > 1) {
            let Some(oldest) = order.pop_front() else { break };
            if let Some((_, removed)) = map.remove(&oldest) {
                *total = total.saturating_sub(removed);
            }
        }
        Ok(loaded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheEntries<T>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_entries_go_once_the_weight_is_over_the_bound() {
        let cache: BoundedCache<u32> = BoundedCache::new(10);
        for key in 0..4u32 {
            let value =
                cache.get_or_load_weighted(key.to_string(), |_| 4, || async move { Ok(key) }).await;
            assert_eq!(*value.unwrap(), key);
        }
        let entries = cache.lock();
        assert_eq!(entries.order, ["2", "3"]);
        assert_eq!(entries.weight, 8);
    }

    #[tokio::test]
    async fn a_hit_does_not_load_again_and_a_failure_is_not_cached() {
        let cache: BoundedCache<u32> = BoundedCache::new(usize::MAX);
        assert_eq!(*cache.get_or_load("a".into(), || async { Ok(1) }).await.unwrap(), 1);
        assert_eq!(*cache.get_or_load("a".into(), || async { Ok(2) }).await.unwrap(), 1);
        let failed = cache
            .get_or_load("b".into(), || async {
                Err(BlockError::Corrupt { object: "b".into(), reason: "bad".into() })
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(*cache.get_or_load("b".into(), || async { Ok(3) }).await.unwrap(), 3);
    }
}
