//! Live-store memory per tenant, published by every live-store and read by the distributor to
//! refuse writes (429 / ResourceExhausted) before memory runs out.
//!
//! Each live-store replaces its own column after every apply, so a restarted store simply
//! publishes its rebuilt figures; nothing needs to be subtracted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::actors::partition::live_traces::TenantUsage;
use crate::model::ids::{PartitionId, TenantId};

/// Node-wide usage board, shared by live-stores (writers) and the distributor (reader).
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveUsageBoard {
    by_partition: Arc<Mutex<HashMap<PartitionId, HashMap<TenantId, TenantUsage>>>>,
}

impl LiveUsageBoard {
    /// Replaces everything `partition` holds.
    pub fn publish(&self, partition: PartitionId, usage: &HashMap<TenantId, TenantUsage>) {
        let mut board = self.by_partition.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        board.insert(partition, usage.clone());
    }

    /// What `tenant` holds across the node's partitions.
    pub fn tenant_total(&self, tenant: &TenantId) -> TenantUsage {
        let board = self.by_partition.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        board.values().filter_map(|tenants| tenants.get(tenant)).fold(
            TenantUsage::default(),
            |total, usage| TenantUsage {
                traces: total.traces + usage.traces,
                bytes: total.bytes + usage.bytes,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_partitions_and_republishing_replaces() {
        let board = LiveUsageBoard::default();
        let tenant = TenantId::new("t");
        let usage =
            |traces, bytes| HashMap::from([(tenant.clone(), TenantUsage { traces, bytes })]);
        board.publish(PartitionId(0), &usage(2, 20));
        board.publish(PartitionId(1), &usage(3, 30));
        assert_eq!(board.tenant_total(&tenant), TenantUsage { traces: 5, bytes: 50 });
        board.publish(PartitionId(1), &HashMap::new());
        assert_eq!(board.tenant_total(&tenant), TenantUsage { traces: 2, bytes: 20 });
        assert_eq!(board.tenant_total(&TenantId::new("other")), TenantUsage::default());
    }
}
