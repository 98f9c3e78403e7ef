//! Fault points: named places in actors where tests (and, behind a config switch, operators)
//! inject a panic, an error or a delay, to prove that supervision loses no acknowledged span.
//!
//! Points belong to one node, not to the process, so several in-process nodes can be
//! targeted separately and no global lock is needed. An unarmed point costs one uncontended
//! mutex lock and a hash lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;

/// What an armed point does when reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Panics the actor `times` times (ractor turns the panic into a supervision event).
    Panic {
        /// How many hits trigger before the point disarms.
        times: u32,
    },
    /// Makes the step fail with an error `times` times.
    Error {
        /// How many hits trigger before the point disarms.
        times: u32,
    },
    /// Delays the step by `delay`, `times` times.
    Delay {
        /// How long to wait.
        delay: Duration,
        /// How many hits trigger before the point disarms.
        times: u32,
    },
}

impl Fault {
    fn remaining(&mut self) -> &mut u32 {
        match self {
            Fault::Panic { times } | Fault::Error { times } | Fault::Delay { times, .. } => times,
        }
    }
}

/// The error an armed `Fault::Error` point produces.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("fault injected at {point}")]
pub struct InjectedFault {
    /// The point's name.
    pub point: String,
}

/// The fault points of one node.
#[derive(Debug, Clone, Default)]
pub struct FaultPoints {
    armed: Arc<Mutex<HashMap<String, Fault>>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
}

impl FaultPoints {
    /// Arms `point` (e.g. `live_store.before_apply`); replaces an earlier arming.
    pub fn arm(&self, point: &str, fault: Fault) {
        self.lock_armed().insert(point.to_string(), fault);
    }

    /// Disarms `point`.
    pub fn disarm(&self, point: &str) {
        self.lock_armed().remove(point);
    }

    /// How many times `point` fired so far.
    pub fn fired(&self, point: &str) -> u64 {
        let hits = self.hits.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        hits.get(point).copied().unwrap_or(0)
    }

    /// Reaches `point`: does nothing unless armed; then panics, fails or sleeps.
    pub async fn check(&self, point: &str) -> Result<(), InjectedFault> {
        if let Some(delay) = self.fire(point)? {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    /// Reaches `point` inside `scope` (e.g. `p2`): a point armed as `p2/live_store.before_apply`
    /// fires only there; one armed as `live_store.before_apply` fires in any scope.
    pub async fn check_in(&self, scope: &str, point: &str) -> Result<(), InjectedFault> {
        if self.lock_armed().is_empty() {
            return Ok(());
        }
        self.check(&format!("{scope}/{point}")).await?;
        self.check(point).await
    }

    /// The blocking-code twin of [`FaultPoints::check_in`] (delays block the thread).
    pub fn check_blocking_in(&self, scope: &str, point: &str) -> Result<(), InjectedFault> {
        if self.lock_armed().is_empty() {
            return Ok(());
        }
        self.check_blocking(&format!("{scope}/{point}"))?;
        self.check_blocking(point)
    }

    /// The blocking-code twin of [`FaultPoints::check`] (delays block the thread).
    pub fn check_blocking(&self, point: &str) -> Result<(), InjectedFault> {
        if let Some(delay) = self.fire(point)? {
            std::thread::sleep(delay);
        }
        Ok(())
    }

    /// Fires `point` if armed: panics, fails, or returns the delay the caller must sleep.
    fn fire(&self, point: &str) -> Result<Option<Duration>, InjectedFault> {
        match self.take_one(point) {
            None => Ok(None),
            Some(Fault::Panic { .. }) => panic!("fault point {point} armed to panic"),
            Some(Fault::Error { .. }) => Err(InjectedFault { point: point.to_string() }),
            Some(Fault::Delay { delay, .. }) => Ok(Some(delay)),
        }
    }

    /// Consumes one firing of `point`, disarming it when its count reaches zero.
    fn take_one(&self, point: &str) -> Option<Fault> {
        let fired = {
            let mut armed = self.lock_armed();
            let fault = armed.get_mut(point)?;
            let remaining = fault.remaining();
            if *remaining == 0 {
                armed.remove(point);
                return None;
            }
            *remaining -= 1;
            let fired = fault.clone();
            if *fault.remaining() == 0 {
                armed.remove(point);
            }
            fired
        };
        let mut hits = self.hits.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *hits.entry(point.to_string()).or_default() += 1;
        Some(fired)
    }

    fn lock_armed(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fault>> {
        self.armed.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unarmed_points_pass() {
        let faults = FaultPoints::default();
        assert!(faults.check("x").await.is_ok());
        assert_eq!(faults.fired("x"), 0);
    }

    #[tokio::test]
    async fn error_points_fire_their_count_then_disarm() {
        let faults = FaultPoints::default();
        faults.arm("wal.before_sync", Fault::Error { times: 2 });
        assert!(faults.check("wal.before_sync").await.is_err());
        assert!(faults.check("wal.before_sync").await.is_err());
        assert!(faults.check("wal.before_sync").await.is_ok());
        assert_eq!(faults.fired("wal.before_sync"), 2);
    }

    #[test]
    fn panic_points_panic() {
        let faults = FaultPoints::default();
        faults.arm("p", Fault::Panic { times: 1 });
        let result = std::panic::catch_unwind(|| faults.check_blocking("p"));
        assert!(result.is_err());
        assert!(faults.check_blocking("p").is_ok());
    }

    #[tokio::test]
    async fn scoped_points_fire_only_in_their_scope() {
        let faults = FaultPoints::default();
        faults.arm("p1/x", Fault::Error { times: 1 });
        assert!(faults.check_in("p0", "x").await.is_ok());
        assert!(faults.check_in("p1", "x").await.is_err());
        faults.arm("x", Fault::Error { times: 1 });
        assert!(faults.check_in("p0", "x").await.is_err(), "an unscoped point fires anywhere");
    }

    #[tokio::test(start_paused = true)]
    async fn delay_points_sleep() {
        let faults = FaultPoints::default();
        faults.arm("d", Fault::Delay { delay: Duration::from_secs(3), times: 1 });
        let before = tokio::time::Instant::now();
        faults.check("d").await.unwrap();
        assert!(before.elapsed() >= Duration::from_secs(3));
    }
}
