//! The pure core of a partition replica's upkeep: given the meta group's entry for the
//! partition and what this replica's Raft group looks like, which duties are due.
//!
//! ```text
//!  not initialized, first replica, never led  ──► Create (every replica a voter)
//!  leading, no membership change under way    ──► AddLearner for each replica not in the group
//!                                                 ReplaceVoters once every replica is in it
//!                                                 and caught up
//!  leading, pending, voters = replicas         ──► Activate
//!  leading, leadership or progress not told    ──► Report (progress at most every 5 s, at
//!                                                 once for an inactive partition)
//!
//!  transfer_due: leading, replica set settled, another replica is the preferred leader
//!  (meta::preferred_leaders) and caught up      ──► hand leadership to it (retried after 30 s)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::cluster::meta::{PartitionEntry, PartitionState};
use crate::cluster::types::NodeId;

/// How far (entries) a replica may trail the leader and still count as caught up.
const CAUGHT_UP_SLACK: u64 = 64;
/// How often a leader reports its commit index when nothing else changed.
const REPORT_EVERY: Duration = Duration::from_secs(5);
/// How long a leader waits before trying again to hand leadership to the preferred replica.
const TRANSFER_RETRY: Duration = Duration::from_secs(30);

/// This replica's view of its Raft group.
#[derive(Debug, Clone, Default)]
pub(crate) struct GroupFacts {
    /// This node.
    pub me: NodeId,
    /// The group has a log or a vote here.
    pub initialized: bool,
    /// This replica leads.
    pub leading: bool,
    /// A joint membership (a change under way).
    pub changing: bool,
    /// Voters of the group.
    pub voters: BTreeSet<NodeId>,
    /// Voters and learners.
    pub members: BTreeSet<NodeId>,
    /// While leading: the last index each replica holds.
    pub matched: BTreeMap<NodeId, u64>,
    /// The last index in this replica's log.
    pub last_index: u64,
    /// The last index known committed here.
    pub committed: u64,
    /// The current term.
    pub term: u64,
}

/// What this replica last reported to the meta group.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reported {
    /// The term it reported leading in.
    pub term: u64,
    /// The commit index it reported.
    pub committed: u64,
    /// When.
    pub at: Instant,
}

/// One thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Duty {
    /// Create the group with these voters (node → cluster address).
    Create(BTreeMap<NodeId, String>),
    /// Add a replica as a learner.
    AddLearner(NodeId, String),
    /// Make exactly these replicas the voters.
    ReplaceVoters(BTreeSet<NodeId>),
    /// Tell the meta group the pending partition is ready.
    Activate,
    /// Tell the meta group who leads and how far the log is committed.
    Report {
        /// The term.
        term: u64,
        /// The commit index.
        committed: u64,
    },
}

/// The duties due now, in the order to carry them out.
pub(crate) fn due(
    entry: &PartitionEntry,
    address: impl Fn(NodeId) -> Option<String>,
    facts: &GroupFacts,
    reported: Option<Reported>,
    now: Instant,
) -> Vec<Duty> {
    let me = facts.me;
    if !facts.initialized {
        // A new group starts on its first replica, with every replica as a voter.
        if entry.replicas.first() != Some(&me) || entry.leader_hint.is_some() {
            return Vec::new();
        }
        let members: BTreeMap<NodeId, String> = entry
            .replicas
            .iter()
            .filter_map(|node| address(*node).map(|addr| (*node, addr)))
            .collect();
        return if members.len() == entry.replicas.len() {
            vec![Duty::Create(members)]
        } else {
            Vec::new()
        };
    }
    if !facts.leading {
        return Vec::new();
    }
    let mut duties = Vec::new();
    let desired: BTreeSet<NodeId> = entry.replicas.iter().copied().collect();
    if !desired.is_empty() && !facts.changing {
        for node in desired.difference(&facts.members) {
            if let Some(addr) = address(*node) {
                duties.push(Duty::AddLearner(*node, addr));
            }
        }
        let caught_up = desired.iter().all(|node| {
            *node == me
                || facts
                    .matched
                    .get(node)
                    .is_some_and(|matched| matched + CAUGHT_UP_SLACK >= facts.last_index)
        });
        if facts.voters != desired && desired.is_subset(&facts.members) && caught_up {
            duties.push(Duty::ReplaceVoters(desired.clone()));
        }
    }
    if entry.state == PartitionState::Pending && facts.voters == desired {
        duties.push(Duty::Activate);
    }
    let report_due = match reported {
        None => true,
        Some(reported) => {
            let moved = reported.committed != facts.committed;
            reported.term != facts.term
                || (moved && now.saturating_duration_since(reported.at) >= REPORT_EVERY)
                || (moved && entry.state == PartitionState::Inactive)
        }
    };
    let meta_differs = entry.leader_hint != Some(me) || entry.committed != facts.committed;
    if report_due && meta_differs {
        duties.push(Duty::Report { term: facts.term, committed: facts.committed });
    }
    duties
}

/// The replica to hand leadership to: another replica is the `preferred` leader (leader
/// balance), it votes and has caught up, no replica-set change is under way or due, and no
/// transfer was tried in the last [`TRANSFER_RETRY`].
pub(crate) fn transfer_due(
    entry: &PartitionEntry,
    preferred: Option<NodeId>,
    facts: &GroupFacts,
    tried_at: Option<Instant>,
    now: Instant,
) -> Option<NodeId> {
    let to = preferred?;
    let desired: BTreeSet<NodeId> = entry.replicas.iter().copied().collect();
    let caught_up =
        facts.matched.get(&to).is_some_and(|matched| matched + CAUGHT_UP_SLACK >= facts.last_index);
    let rested = tried_at.is_none_or(|at| now.saturating_duration_since(at) >= TRANSFER_RETRY);
    let due = facts.leading
        && !facts.changing
        && to != facts.me
        && entry.state != PartitionState::Pending
        && facts.voters == desired
        && facts.voters.contains(&to)
        && caught_up
        && rested;
    due.then_some(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ids::PartitionId;

    fn entry(state: PartitionState, replicas: &[NodeId], leader: Option<NodeId>) -> PartitionEntry {
        PartitionEntry {
            id: PartitionId(3),
            state,
            replicas: replicas.to_vec(),
            leader_hint: leader,
            leader_term: 0,
            committed: 0,
            flushed: 0,
            flush_intent: None,
            created_at_ms: 0,
            deactivated_at_ms: None,
        }
    }

    fn address(node: NodeId) -> Option<String> {
        (node != 99).then(|| format!("n{node}:9095"))
    }

    fn leader_of(voters: &[NodeId], learners: &[NodeId]) -> GroupFacts {
        GroupFacts {
            me: 1,
            initialized: true,
            leading: true,
            voters: voters.iter().copied().collect(),
            members: voters.iter().chain(learners).copied().collect(),
            last_index: 1000,
            committed: 1000,
            term: 4,
            ..GroupFacts::default()
        }
    }

    /// Duties other than the progress report.
    fn changes(duties: Vec<Duty>) -> Vec<Duty> {
        duties.into_iter().filter(|duty| !matches!(duty, Duty::Report { .. })).collect()
    }

    #[test]
    fn only_the_first_replica_of_a_never_led_partition_creates_the_group() {
        let new = entry(PartitionState::Pending, &[1, 2, 3], None);
        let fresh = GroupFacts { me: 1, ..GroupFacts::default() };
        let now = Instant::now();
        let created = due(&new, address, &fresh, None, now);
        let members: BTreeMap<NodeId, String> =
            [1, 2, 3].into_iter().map(|node| (node, format!("n{node}:9095"))).collect();
        assert_eq!(created, vec![Duty::Create(members)]);
        let second = GroupFacts { me: 2, ..GroupFacts::default() };
        assert!(due(&new, address, &second, None, now).is_empty());
        let led_before = entry(PartitionState::Active, &[1, 2, 3], Some(2));
        assert!(due(&led_before, address, &fresh, None, now).is_empty());
        let unknown_address = entry(PartitionState::Pending, &[1, 99], None);
        assert!(due(&unknown_address, address, &fresh, None, now).is_empty());
    }

    #[test]
    fn a_follower_has_no_duties() {
        let facts = GroupFacts { leading: false, ..leader_of(&[1, 2, 3], &[]) };
        let active = entry(PartitionState::Active, &[1, 2, 3], Some(2));
        assert!(due(&active, address, &facts, None, Instant::now()).is_empty());
    }

    #[test]
    fn new_replicas_join_as_learners_then_replace_the_voters_once_caught_up() {
        let grown = entry(PartitionState::Active, &[1, 2, 3], Some(1));
        let now = Instant::now();
        let facts = leader_of(&[1], &[]);
        assert_eq!(
            changes(due(&grown, address, &facts, None, now)),
            vec![Duty::AddLearner(2, "n2:9095".into()), Duty::AddLearner(3, "n3:9095".into())]
        );
        let mut learners = leader_of(&[1], &[2, 3]);
        learners.matched = BTreeMap::from([(2, 1000), (3, 100)]);
        assert!(changes(due(&grown, address, &learners, None, now)).is_empty(), "3 trails");
        learners.matched.insert(3, 990);
        assert_eq!(
            changes(due(&grown, address, &learners, None, now)),
            vec![Duty::ReplaceVoters(BTreeSet::from([1, 2, 3]))]
        );
        learners.changing = true;
        assert!(changes(due(&grown, address, &learners, None, now)).is_empty());
    }

    #[test]
    fn a_drained_leader_hands_its_place_over() {
        let moved = entry(PartitionState::Active, &[2, 3, 4], Some(1));
        let mut facts = leader_of(&[1, 2, 3], &[4]);
        facts.matched = BTreeMap::from([(2, 1000), (3, 1000), (4, 1000)]);
        assert_eq!(
            changes(due(&moved, address, &facts, None, Instant::now())),
            vec![Duty::ReplaceVoters(BTreeSet::from([2, 3, 4]))]
        );
    }

    #[test]
    fn a_pending_partition_is_activated_once_every_replica_votes() {
        let pending = entry(PartitionState::Pending, &[1, 2, 3], None);
        let now = Instant::now();
        let partial = leader_of(&[1, 2], &[]);
        assert!(!due(&pending, address, &partial, None, now).contains(&Duty::Activate));
        let full = leader_of(&[1, 2, 3], &[]);
        assert!(due(&pending, address, &full, None, now).contains(&Duty::Activate));
    }

    #[test]
    fn progress_is_reported_on_a_new_term_and_at_most_every_few_seconds() {
        let now = Instant::now();
        let facts = leader_of(&[1, 2, 3], &[]);
        let told = |committed| PartitionEntry {
            committed,
            leader_term: 4,
            ..entry(PartitionState::Active, &[1, 2, 3], Some(1))
        };
        let report = Duty::Report { term: 4, committed: 1000 };
        assert_eq!(due(&told(0), address, &facts, None, now), vec![report.clone()]);
        let recent = Reported { term: 4, committed: 900, at: now };
        assert!(due(&told(900), address, &facts, Some(recent), now).is_empty());
        let later = now + REPORT_EVERY;
        assert_eq!(due(&told(900), address, &facts, Some(recent), later), vec![report.clone()]);
        let new_term = Reported { term: 3, ..recent };
        assert_eq!(due(&told(900), address, &facts, Some(new_term), now), vec![report.clone()]);
        let inactive = PartitionEntry { state: PartitionState::Inactive, ..told(900) };
        assert_eq!(due(&inactive, address, &facts, Some(recent), now), vec![report]);
        let up_to_date = Reported { term: 4, committed: 1000, at: now };
        assert!(due(&told(1000), address, &facts, Some(up_to_date), later).is_empty());
    }

    #[test]
    fn leadership_goes_to_the_preferred_replica_once_it_caught_up() {
        let active = entry(PartitionState::Active, &[1, 2, 3], Some(1));
        let now = Instant::now();
        let mut facts = leader_of(&[1, 2, 3], &[]);
        facts.matched = BTreeMap::from([(2, 1000), (3, 500)]);
        assert_eq!(transfer_due(&active, Some(2), &facts, None, now), Some(2));
        assert_eq!(transfer_due(&active, Some(1), &facts, None, now), None, "already preferred");
        assert_eq!(transfer_due(&active, None, &facts, None, now), None);
        assert_eq!(transfer_due(&active, Some(3), &facts, None, now), None, "3 trails");
        let tried = Some(now);
        assert_eq!(transfer_due(&active, Some(2), &facts, tried, now), None, "just tried");
        let later = now + TRANSFER_RETRY;
        assert_eq!(transfer_due(&active, Some(2), &facts, tried, later), Some(2));
        let pending = entry(PartitionState::Pending, &[1, 2, 3], Some(1));
        assert_eq!(transfer_due(&pending, Some(2), &facts, None, now), None);
        let moving = entry(PartitionState::Active, &[1, 2, 4], Some(1));
        assert_eq!(transfer_due(&moving, Some(2), &facts, None, now), None, "set changing");
        let follower = GroupFacts { leading: false, ..facts.clone() };
        assert_eq!(transfer_due(&active, Some(2), &follower, None, now), None);
        let joint = GroupFacts { changing: true, ..facts };
        assert_eq!(transfer_due(&active, Some(2), &joint, None, now), None);
    }
}
