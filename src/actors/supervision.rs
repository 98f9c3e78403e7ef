//! Restart policy shared by every supervisor: a budget of restarts per window, exponential
//! backoff between them, escalation to the parent when the budget is spent.
//!
//! ```text
//!  child fails ──► RestartBudget::allow(now)
//!                    ├─ Some(backoff) ──► send_after(backoff, Restart(kind))
//!                    └─ None          ──► supervisor returns Err: its own parent decides
//! ```
//!
//! The budget is a pure value (unit-tested with synthetic instants); supervisors own one per
//! child kind and report restarts to `/metrics` and to [`RestartCounts`] for tests.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ractor::{ActorId, SupervisionEvent};

use crate::actors::metrics::{ActorLabels, NodeMetrics};

/// Restart limits, from the `supervision` config section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Restarts allowed inside `window` before escalating.
    pub max_restarts: usize,
    /// Sliding window over which restarts are counted.
    pub window: Duration,
    /// Delay before the first restart.
    pub backoff_initial: Duration,
    /// Upper bound of the delay.
    pub backoff_max: Duration,
}

impl Default for RestartPolicy {
    /// Five restarts a minute, 100 ms doubling up to 5 s.
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 5,
            window: Duration::from_secs(60),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
        }
    }
}

/// Remembers recent restarts of one child and decides whether another one is allowed.
#[derive(Debug, Clone)]
pub(crate) struct RestartBudget {
    policy: RestartPolicy,
    recent: VecDeque<Instant>,
}

impl RestartBudget {
    /// Creates an unused budget.
    pub fn new(policy: RestartPolicy) -> RestartBudget {
        RestartBudget { policy, recent: VecDeque::new() }
    }

    /// Records a failure at `now`: returns the backoff to wait before restarting, or `None`
    /// when the budget for the window is spent and the supervisor must escalate.
    pub fn allow(&mut self, now: Instant) -> Option<Duration> {
        while let Some(oldest) = self.recent.front() {
            if now.saturating_duration_since(*oldest) > self.policy.window {
                self.recent.pop_front();
            } else {
                break;
            }
        }
        if self.recent.len() >= self.policy.max_restarts {
            return None;
        }
        let attempt = u32::try_from(self.recent.len()).unwrap_or(u32::MAX);
        self.recent.push_back(now);
        let factor = 2u32.saturating_pow(attempt);
        Some(self.policy.backoff_initial.saturating_mul(factor).min(self.policy.backoff_max))
    }
}

/// What a supervisor does about a child that died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChildDecision<K> {
    /// Start `child` again after `backoff`.
    Restart {
        /// Which child.
        child: K,
        /// How long to wait.
        backoff: Duration,
        /// Why it died.
        reason: String,
    },
    /// The budget is spent: stop the children and fail, so the parent decides.
    Escalate {
        /// Which child.
        child: K,
        /// Why it died.
        reason: String,
    },
}

/// The bookkeeping every supervisor shares: which actor is which child, and each child kind's
/// restart budget. Pure: supervisors feed it events and carry out its decisions.
#[derive(Debug)]
pub(crate) struct SupervisedChildren<K> {
    policy: RestartPolicy,
    running: HashMap<ActorId, K>,
    budgets: HashMap<K, RestartBudget>,
}

impl<K: Copy + Eq + Hash> SupervisedChildren<K> {
    /// No children yet.
    pub fn new(policy: RestartPolicy) -> SupervisedChildren<K> {
        SupervisedChildren { policy, running: HashMap::new(), budgets: HashMap::new() }
    }

    /// Records that `actor` now runs as `child`.
    pub fn started(&mut self, actor: ActorId, child: K) {
        self.running.insert(actor, child);
        self.budgets.entry(child).or_insert_with(|| RestartBudget::new(self.policy));
    }

    /// Stops tracking a child that is being stopped on purpose: its termination is then not
    /// a death to restart.
    pub fn forget(&mut self, actor: ActorId) {
        self.running.remove(&actor);
    }

    /// Decides about a supervision event at `now`; `None` for events about unknown actors
    /// (an old incarnation, a grandchild) or that are not deaths. The dead actor is forgotten.
    pub fn on_event(
        &mut self,
        event: &SupervisionEvent,
        now: Instant,
    ) -> Option<(ActorId, ChildDecision<K>)> {
        let (actor, reason) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell.get_id(), error.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell.get_id(), reason.clone().unwrap_or_else(|| "stopped".to_string()))
            }
            _ => return None,
        };
        let child = self.running.remove(&actor)?;
        let backoff = self.budgets.get_mut(&child).and_then(|budget| budget.allow(now));
        let decision = match backoff {
            Some(backoff) => ChildDecision::Restart { child, backoff, reason },
            None => ChildDecision::Escalate { child, reason },
        };
        Some((actor, decision))
    }
}

/// Counts one restart of `role` in the test-visible counts and in `/metrics`.
pub(crate) fn record_restart(restarts: &RestartCounts, metrics: &NodeMetrics, role: &str) {
    restarts.record(role);
    metrics.actor_restarts.get_or_create(&ActorLabels { actor: role.to_string() }).inc();
}

/// Restart counts per actor role on one node, readable by tests and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct RestartCounts {
    counts: Arc<Mutex<HashMap<String, u64>>>,
}

impl RestartCounts {
    /// Counts one restart of `role` (e.g. `live_store`).
    pub(crate) fn record(&self, role: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *counts.entry(role.to_string()).or_default() += 1;
    }

    /// Restarts of `role` so far.
    pub fn get(&self, role: &str) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        counts.get(role).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            max_restarts: 3,
            window: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_millis(250),
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut budget = RestartBudget::new(policy());
        let now = Instant::now();
        assert_eq!(budget.allow(now), Some(Duration::from_millis(100)));
        assert_eq!(budget.allow(now), Some(Duration::from_millis(200)));
        assert_eq!(budget.allow(now), Some(Duration::from_millis(250)));
    }

    #[test]
    fn budget_is_spent_within_the_window_and_refills_after_it() {
        let mut budget = RestartBudget::new(policy());
        let start = Instant::now();
        for _ in 0..3 {
            assert!(budget.allow(start).is_some());
        }
        assert_eq!(budget.allow(start + Duration::from_secs(5)), None);
        assert!(budget.allow(start + Duration::from_secs(11)).is_some());
    }

    /// An actor that does nothing; its cell stands in for a child in supervision events.
    struct Idle;

    impl ractor::Actor for Idle {
        type Msg = ();
        type State = ();
        type Arguments = ();

        async fn pre_start(
            &self,
            _myself: ractor::ActorRef<()>,
            _args: (),
        ) -> Result<(), ractor::ActorProcessingErr> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn children_restart_until_their_budget_is_spent_then_escalate() {
        let (idle, _) = ractor::Actor::spawn(None, Idle, ()).await.unwrap();
        let mut children = SupervisedChildren::new(policy());
        let now = Instant::now();
        let death = || SupervisionEvent::ActorFailed(idle.get_cell(), "boom".into());
        assert_eq!(children.on_event(&death(), now), None, "unknown actors are ignored");
        for attempt in 0..3 {
            children.started(idle.get_id(), "store");
            let (actor, decision) = children.on_event(&death(), now).unwrap();
            assert_eq!(actor, idle.get_id());
            assert!(
                matches!(decision, ChildDecision::Restart { child: "store", .. }),
                "attempt {attempt}"
            );
        }
        children.started(idle.get_id(), "store");
        let (_, decision) = children.on_event(&death(), now).unwrap();
        assert_eq!(decision, ChildDecision::Escalate { child: "store", reason: "boom".into() });
        idle.stop(None);
    }

    #[test]
    fn restart_counts_accumulate_per_role() {
        let counts = RestartCounts::default();
        counts.record("live_store");
        counts.record("live_store");
        assert_eq!(counts.get("live_store"), 2);
        assert_eq!(counts.get("partition_log"), 0);
    }
}
