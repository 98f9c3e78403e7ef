//! The block list as the meta group holds it, behind the storage layer's [`BlockList`] trait
//! (what readers use), and the adoption of blocks found in the object store.

use std::sync::Arc;

use tracing::{info, warn};

use crate::cluster::error::ClusterError;
use crate::cluster::meta::{MetaCommand, MetaResponse};
use crate::cluster::meta_group::MetaGroup;
use crate::model::ids::TenantId;
use crate::storage::block::BlockMeta;
use crate::storage::block_list::BlockList;

/// Blocks registered in the meta group, as this node last applied them.
pub(crate) struct MetaBlockList {
    meta: MetaGroup,
}

impl MetaBlockList {
    /// The block list of `meta`.
    pub(crate) fn new(meta: MetaGroup) -> MetaBlockList {
        MetaBlockList { meta }
    }
}

impl BlockList for MetaBlockList {
    fn register(&self, meta: BlockMeta) {
        let group = self.meta.clone();
        tokio::spawn(async move {
            let block = meta.block_id.clone();
            match group.propose(MetaCommand::RegisterBlock { meta }).await {
                Ok(MetaResponse::Refused { reason, .. }) => {
                    warn!(%block, %reason, "block registration refused");
                }
                Ok(_) => {}
                Err(error) => warn!(%block, %error, "block registration failed"),
            }
        });
    }

    fn blocks(&self, tenant: &TenantId) -> Vec<Arc<BlockMeta>> {
        self.meta.view().state.blocks_for(tenant).into_iter().cloned().map(Arc::new).collect()
    }
}

/// Registers in the meta group every block of `found` it does not list yet (a cluster created
/// over a store written before it, or by a single node of an earlier version).
pub(crate) async fn adopt(
    meta: &MetaGroup,
    found: Vec<Arc<BlockMeta>>,
) -> Result<usize, ClusterError> {
    let view = meta.view();
    let mut adopted = 0;
    for block in found {
        let known = view
            .state
            .blocks_for(&TenantId::new(&block.tenant))
            .iter()
            .any(|listed| listed.block_id == block.block_id);
        if known {
            continue;
        }
        if let MetaResponse::Refused { reason, .. } =
            meta.propose(MetaCommand::RegisterBlock { meta: block.as_ref().clone() }).await?
        {
            warn!(block = %block.block_id, %reason, "found block not adopted");
            continue;
        }
        adopted += 1;
    }
    if adopted > 0 {
        info!(adopted, "blocks found in the object store adopted into the meta group");
    }
    Ok(adopted)
}
