//! The block list: which complete blocks exist, per tenant.
//!
//! The list itself lives in the meta Raft group (`cluster::meta_group::MetaBlockList` reads
//! it); block-builders register blocks there. [`LocalBlockList`] lists the object store for
//! `meta.json` objects (a block is complete once its `meta.json` exists: it is uploaded last):
//! a node that creates a cluster over a store that already holds blocks adopts them into the
//! meta group with it. Registering the same block id again replaces the entry, so a block
//! rebuilt after a crash is listed once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use tracing::{info, warn};

use crate::model::ids::TenantId;
use crate::storage::block::{BlockId, BlockMeta};

/// What the rest of spanlake needs from a block list.
pub(crate) trait BlockList: Send + Sync + 'static {
    /// Records a complete block (its `meta.json` is uploaded); idempotent per block id.
    fn register(&self, meta: BlockMeta);

    /// Every block of `tenant`.
    fn blocks(&self, tenant: &TenantId) -> Vec<Arc<BlockMeta>>;
}

/// Blocks known to this node: listed at start, then registered by its builders.
#[derive(Debug, Default)]
pub(crate) struct LocalBlockList {
    by_tenant: RwLock<HashMap<TenantId, BTreeMap<BlockId, Arc<BlockMeta>>>>,
}

/// What loading the list found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BlockListLoad {
    /// Blocks listed.
    pub blocks: usize,
    /// `meta.json` objects that could not be read or parsed (logged, skipped).
    pub unreadable: usize,
}

impl LocalBlockList {
    /// An empty list.
    pub fn new() -> LocalBlockList {
        LocalBlockList::default()
    }

    /// Lists every `meta.json` in the store. An unreadable one is logged and skipped: the
    /// other blocks stay queryable.
    pub async fn load(
        store: &Arc<dyn ObjectStore>,
    ) -> Result<(LocalBlockList, BlockListLoad), object_store::Error> {
        let list = LocalBlockList::new();
        let mut load = BlockListLoad::default();
        let objects: Vec<_> = store.list(None).try_collect().await?;
        for object in
            objects.iter().filter(|object| object.location.filename() == Some("meta.json"))
        {
            let loaded = match store.get(&object.location).await {
                Ok(result) => {
                    result.bytes().await.map_err(|error| error.to_string()).and_then(|bytes| {
                        BlockMeta::decode(&bytes, object.location.as_ref())
                            .map_err(|error| error.to_string())
                    })
                }
                Err(error) => Err(error.to_string()),
            };
            match loaded {
                Ok(meta) => {
                    list.register(meta);
                    load.blocks += 1;
                }
                Err(reason) => {
                    load.unreadable += 1;
                    warn!(object = %object.location, %reason, "skipping an unreadable block meta");
                }
            }
        }
        info!(blocks = load.blocks, unreadable = load.unreadable, "block list loaded");
        Ok((list, load))
    }

    /// Every block listed, of every tenant.
    pub fn all(&self) -> Vec<Arc<BlockMeta>> {
        self.read().values().flat_map(BTreeMap::values).cloned().collect()
    }

    fn read(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<TenantId, BTreeMap<BlockId, Arc<BlockMeta>>>> {
        self.by_tenant.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl BlockList for LocalBlockList {
    fn register(&self, meta: BlockMeta) {
        let tenant = TenantId::new(&meta.tenant);
        let mut by_tenant = self.by_tenant.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        by_tenant.entry(tenant).or_default().insert(meta.block_id.clone(), Arc::new(meta));
    }

    fn blocks(&self, tenant: &TenantId) -> Vec<Arc<BlockMeta>> {
        self.read().get(tenant).map(|blocks| blocks.values().cloned().collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use object_store::PutPayload;
    use object_store::memory::InMemory;

    use super::*;
    use crate::model::ids::{LogIndex, PartitionId};
    use crate::storage::block::{FORMAT_VERSION, meta_path};

    fn meta(tenant: &str, partition: u32, first: u64, last: u64) -> BlockMeta {
        BlockMeta {
            format_version: FORMAT_VERSION,
            block_id: BlockId::for_log_range(
                PartitionId(partition),
                LogIndex(first),
                LogIndex(last),
            ),
            tenant: tenant.to_string(),
            partition,
            first_index: first,
            last_index: last,
            start_unix_nano: 1,
            end_unix_nano: 2,
            span_count: 1,
            trace_count: 1,
            data_bytes: 1,
            row_groups: 1,
            bloom_shards: 1,
            compaction_level: 0,
            created_at_unix_nano: 0,
        }
    }

    #[test]
    fn registering_again_replaces() {
        let list = LocalBlockList::new();
        list.register(meta("a", 0, 1, 10));
        list.register(meta("a", 0, 1, 10));
        list.register(meta("b", 0, 11, 20));
        list.register(meta("a", 1, 1, 5));
        assert_eq!(list.blocks(&TenantId::new("a")).len(), 2);
        assert_eq!(list.all().len(), 3);
    }

    #[tokio::test]
    async fn loading_lists_meta_objects_and_skips_unreadable_ones() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let good = meta("a", 0, 1, 10);
        let path = meta_path(&TenantId::new("a"), &good.block_id);
        store.put(&path, PutPayload::from(good.encode())).await.unwrap();
        let broken = BlockId::for_log_range(PartitionId(0), LogIndex(11), LogIndex(12));
        store
            .put(&meta_path(&TenantId::new("a"), &broken), PutPayload::from_static(b"{not json"))
            .await
            .unwrap();
        let (list, load) = LocalBlockList::load(&store).await.unwrap();
        assert_eq!(load, BlockListLoad { blocks: 1, unreadable: 1 });
        assert_eq!(list.blocks(&TenantId::new("a"))[0].as_ref(), &good);
    }
}
