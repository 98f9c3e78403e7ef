//! The block list's commands and the hand-over of a partition's flush position, plus tenant
//! overrides.
//!
//! ```text
//!  block-builder (partition leader)              meta state of partition p
//!  SetFlushIntent { first: flushed+1, last } ──► flush_intent = first..=last
//!  upload blocks (ids derive from the range)
//!  RegisterBlocks { blocks, flushed: last }  ──► blocks added, flushed = last, intent cleared
//! ```
//!
//! A new leader's builder reads `flushed` (and `registered_range_end` for a range whose
//! blocks were registered by a predecessor), so a leadership change neither skips nor
//! duplicates a range: block ids derive from the range, so re-registering replaces.

use super::apply::Applied;
use super::command::MetaResponse;
use super::refusal::Refusal;
use super::state::{FlushIntent, MetaState};
use crate::model::ids::PartitionId;
use crate::storage::block::BlockMeta;

impl MetaState {
    /// Records the range a builder is cutting; it must start right after `flushed`.
    pub(super) fn set_flush_intent(
        &mut self,
        partition: PartitionId,
        first: u64,
        last: u64,
    ) -> Applied {
        let entry = self.entry_mut(partition)?;
        if first > last {
            return Err(Refusal::EmptyFlushRange { partition, first, last });
        }
        let expected = entry.flushed.saturating_add(1);
        if first != expected {
            return Err(Refusal::FlushNotNext { partition, first, expected });
        }
        entry.flush_intent = Some(FlushIntent { first, last });
        Ok(MetaResponse::Done)
    }

    /// Adds a partition's new blocks and raises its flushed index, in one step.
    pub(super) fn register_blocks(
        &mut self,
        partition: PartitionId,
        blocks: &[BlockMeta],
        flushed: u64,
    ) -> Applied {
        if !self.partitions.contains_key(&partition) {
            return Err(Refusal::UnknownPartition { partition });
        }
        for meta in blocks {
            if meta.partition != partition.0 {
                return Err(Refusal::BlockOfOtherPartition {
                    block: meta.block_id.clone(),
                    block_partition: meta.partition,
                    partition,
                });
            }
            if meta.first_index == 0
                || meta.first_index > meta.last_index
                || meta.last_index > flushed
            {
                return Err(Refusal::BlockOutsideFlushed {
                    block: meta.block_id.clone(),
                    first: meta.first_index,
                    last: meta.last_index,
                    flushed,
                });
            }
            if meta.tenant.is_empty() {
                return Err(Refusal::EmptyTenant);
            }
        }
        for meta in blocks {
            self.insert_block(meta);
        }
        let entry = self.entry_mut(partition)?;
        entry.flushed = entry.flushed.max(flushed);
        if entry.flush_intent.is_some_and(|intent| intent.last <= entry.flushed) {
            entry.flush_intent = None;
        }
        Ok(MetaResponse::Done)
    }

    /// Adds one block with no log position (replacing a block of the same id).
    pub(super) fn register_block(&mut self, meta: &BlockMeta) -> Applied {
        if meta.tenant.is_empty() {
            return Err(Refusal::EmptyTenant);
        }
        self.insert_block(meta);
        Ok(MetaResponse::Done)
    }

    fn insert_block(&mut self, meta: &BlockMeta) {
        self.blocks
            .entry(meta.tenant.clone())
            .or_default()
            .insert(meta.block_id.clone(), meta.clone());
    }

    /// Sets or clears a tenant's overrides document.
    pub(super) fn set_override(
        &mut self,
        tenant: &str,
        value: Option<&serde_json::Value>,
    ) -> Applied {
        if tenant.is_empty() {
            return Err(Refusal::EmptyTenant);
        }
        match value {
            Some(value) => {
                self.overrides.insert(tenant.to_string(), value.clone());
            }
            None => {
                self.overrides.remove(tenant);
            }
        }
        Ok(MetaResponse::Done)
    }
}
