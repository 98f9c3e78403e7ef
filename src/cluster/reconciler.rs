//! The meta leader's reconciler: keeps the cluster converging on what the metadata says.
//!
//! Runs on every node and acts only while the node leads the meta group, after every change
//! of the metadata and once a second:
//! - meta voters: promotes learners while there are fewer voters than `cluster.voters`, and
//!   takes removed nodes out of the group;
//! - replicas: proposes what `meta::reconcile` finds (partitions short of replicas after a
//!   join, replicas on a draining node).

use openraft::async_runtime::WatchReceiver;
use std::collections::BTreeSet;
use std::time::Duration;

use openraft::ChangeMembers;
use tracing::{debug, info, warn};

use crate::cluster::meta::reconcile;
use crate::cluster::meta_group::MetaGroup;
use crate::cluster::types::NodeId;

/// How often the reconciler looks even without a metadata change.
const TICK: Duration = Duration::from_secs(1);

/// Runs until the task is aborted.
pub(crate) async fn run(meta: MetaGroup) {
    let mut view = meta.watch();
    loop {
        let _ = tokio::time::timeout(TICK, view.changed()).await;
        if meta.raft().current_leader().await != Some(meta.me().id) {
            continue;
        }
        if let Err(error) = upkeep_voters(&meta).await {
            debug!(%error, "meta membership upkeep failed, retrying");
            continue;
        }
        let state = meta.view().state.clone();
        for command in reconcile(&state) {
            match meta.propose(command.clone()).await {
                Ok(answer) if answer.is_refused() => {
                    warn!(%command, ?answer, "reconciler proposal refused");
                }
                Ok(_) => info!(%command, "reconciler applied"),
                Err(error) => {
                    debug!(%command, %error, "reconciler proposal failed, retrying");
                    break;
                }
            }
        }
    }
}

/// Promotes learners while voters are short, and drops removed nodes from the group.
async fn upkeep_voters(meta: &MetaGroup) -> Result<(), String> {
    let membership = meta.raft().metrics().borrow_watched().membership_config.clone();
    if membership.membership().get_joint_config().len() > 1 {
        // A membership change is under way: let it finish.
        return Ok(());
    }
    let state = meta.view().state.clone();
    let voters: BTreeSet<NodeId> = membership.membership().voter_ids().collect();
    let learners: BTreeSet<NodeId> = membership.membership().learner_ids().collect();
    let removed: BTreeSet<NodeId> =
        voters.iter().chain(&learners).copied().filter(|id| state.removed().contains(id)).collect();
    if !removed.is_empty() {
        let remaining_voters: BTreeSet<NodeId> = voters.difference(&removed).copied().collect();
        if remaining_voters.len() < voters.len() && !remaining_voters.is_empty() {
            meta.raft()
                .change_membership(ChangeMembers::RemoveVoters(removed.clone()), true)
                .await
                .map_err(|error| error.to_string())?;
        }
        meta.raft()
            .change_membership(ChangeMembers::RemoveNodes(removed.clone()), false)
            .await
            .map_err(|error| error.to_string())?;
        info!(?removed, "removed nodes taken out of the meta group");
        return Ok(());
    }
    let wanted = state.voters() as usize;
    if voters.len() < wanted {
        let promote: BTreeSet<NodeId> = learners
            .iter()
            .copied()
            .filter(|id| state.member(*id).is_some())
            .take(wanted - voters.len())
            .collect();
        if !promote.is_empty() {
            meta.raft()
                .change_membership(ChangeMembers::AddVoterIds(promote.clone()), true)
                .await
                .map_err(|error| error.to_string())?;
            info!(?promote, "learners promoted to meta voters");
        }
    }
    Ok(())
}
