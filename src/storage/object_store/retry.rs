//! [`with_retries`]: runs one object-store operation, retrying transient
//! failures with exponential backoff and jitter, within a number of retries
//! and a time budget; not-found and permanent failures return at once.
//!
//! ```text
//! attempt ─► ok ───────────────────────────────► Ok      (outcome ok | retried)
//!    │
//!    └─► error ─► not found / permanent ───────► Err     (outcome not_found | failed)
//!           └──► transient ─► retries left and
//!                             time left after the backoff? ─ no ─► Err (failed)
//!                                  └─ yes: warn, sleep, attempt again
//! ```

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use object_store::path::Path;
use tokio::time::Instant;
use tracing::warn;

use super::{StorageError, StorageErrorKind};
use crate::actors::metrics::{NodeMetrics, ObjectStoreLabels};
use crate::config::StorageRetryConfig;

/// How failed operations are retried (from `storage.trace.retry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 never retries.
    pub max_retries: u32,
    /// Backoff before the first retry; it doubles with each retry.
    pub backoff_initial: Duration,
    /// Largest backoff.
    pub backoff_max: Duration,
    /// No retry starts once this much time has passed since the first attempt.
    pub timeout: Duration,
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1-based), before jitter:
    /// `backoff_initial · 2^(retry-1)`, at most `backoff_max`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.backoff_initial.saturating_mul(1 << doublings).min(self.backoff_max)
    }

    /// The backoff before retry number `retry`, minus a random part of up to a
    /// half so that clients failing together do not retry together.
    fn jittered_backoff(&self, retry: u32) -> Duration {
        let backoff = self.backoff(retry);
        // A fresh RandomState is randomly keyed: a dependency-free source of jitter.
        let random = RandomState::new().hash_one(retry);
        let fraction = (random % 1_000) as f64 / 2_000.0;
        backoff.mul_f64(1.0 - fraction)
    }

    /// object_store's own retry of single HTTP requests, by the same rules.
    pub(super) fn http_retry_config(&self) -> object_store::RetryConfig {
        object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: self.backoff_initial,
                max_backoff: self.backoff_max,
                base: 2.0,
            },
            max_retries: usize::try_from(self.max_retries).unwrap_or(usize::MAX),
            retry_timeout: self.timeout,
        }
    }
}

impl From<&StorageRetryConfig> for RetryPolicy {
    fn from(config: &StorageRetryConfig) -> Self {
        RetryPolicy {
            max_retries: config.max_retries,
            backoff_initial: config.backoff_initial.get(),
            backoff_max: config.backoff_max.get(),
            timeout: config.timeout.get(),
        }
    }
}

impl Default for RetryPolicy {
    /// The defaults of `storage.trace.retry`.
    fn default() -> Self {
        RetryPolicy::from(&StorageRetryConfig::default())
    }
}

/// Runs `operation` (named `operation_name`, about `path`) until it succeeds,
/// fails with a not-found or permanent error, or runs out of retries or time.
///
/// Each retry logs a warning and waits [`RetryPolicy::backoff`] minus jitter;
/// no retry starts if the wait would end past `policy.timeout` from the first
/// attempt. The error returned is the last attempt's, with the attempt count.
/// An attempt in progress is not cut short here: the HTTP backends bound each
/// request by `timeout` themselves, and retry single requests (by the same
/// policy) before an attempt fails.
///
/// With `metrics`, counts the call in `spanlake_object_store_operations_total`
/// under one outcome: `ok` (first attempt), `retried` (a later one),
/// `not_found` or `failed`.
///
/// `operation` must be safe to repeat: a put of the same bytes, a read, a
/// delete (a repeated delete may report not-found on the local backend).
pub async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    metrics: Option<&NodeMetrics>,
    operation_name: &'static str,
    path: &Path,
    mut operation: F,
) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = object_store::Result<T>>,
{
    let started = Instant::now();
    let mut attempt: u32 = 1;
    loop {
        let error = match operation().await {
            Ok(value) => {
                record(metrics, operation_name, if attempt == 1 { "ok" } else { "retried" });
                return Ok(value);
            }
            Err(error) => StorageError::from_object_store(operation_name, path.as_ref(), error)
                .after_attempts(attempt),
        };
        let backoff = policy.jittered_backoff(attempt);
        let out_of_time = started.elapsed().saturating_add(backoff) > policy.timeout;
        if !error.is_transient() || attempt > policy.max_retries || out_of_time {
            let outcome =
                if error.kind() == StorageErrorKind::NotFound { "not_found" } else { "failed" };
            record(metrics, operation_name, outcome);
            return Err(error);
        }
        warn!(
            operation = operation_name,
            path = %path,
            attempt,
            backoff_ms = backoff.as_millis() as u64,
            error = %error,
            "object store operation failed, retrying"
        );
        tokio::time::sleep(backoff).await;
        attempt += 1;
    }
}

fn record(metrics: Option<&NodeMetrics>, operation: &'static str, outcome: &'static str) {
    if let Some(metrics) = metrics {
        let labels =
            ObjectStoreLabels { operation: operation.to_owned(), outcome: outcome.to_owned() };
        metrics.object_store_operations.get_or_create(&labels).inc();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn policy(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
        }
    }

    fn transient() -> object_store::Error {
        object_store::Error::Generic { store: "test", source: "connection reset".into() }
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_and_jitter_takes_at_most_half() {
        let policy = policy(10);
        let backoffs: Vec<u64> =
            (1..=6).map(|retry| policy.backoff(retry).as_millis() as u64).collect();
        assert_eq!(backoffs, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(1));
        for retry in 1..50 {
            let jittered = policy.jittered_backoff(retry);
            assert!(jittered <= policy.backoff(retry) && jittered >= policy.backoff(retry) / 2);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_next_backoff_would_pass_the_time_budget() {
        let policy = RetryPolicy { timeout: Duration::from_millis(1_500), ..policy(100) };
        let attempts = AtomicU32::new(0);
        let started = Instant::now();
        let result: Result<(), _> = with_retries(&policy, None, "get", &Path::from("a"), || {
            attempts.fetch_add(1, Ordering::SeqCst);
            async { Err(transient()) }
        })
        .await;
        let error = result.unwrap_err();
        assert!(error.is_transient());
        // Jitter draws each backoff from [b/2, b]: at the largest, 100 + 200 + 400 + 800 ms
        // leave room for 5 attempts; at the smallest, 50 + 100 + 200 + 400 + 500 ms for 6.
        let made = attempts.load(Ordering::SeqCst);
        assert!((4..=6).contains(&made), "{made} attempts");
        assert_eq!(error.attempts(), made);
        assert!(started.elapsed() <= policy.timeout, "{:?}", started.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn counts_each_call_under_one_outcome() {
        let metrics = NodeMetrics::new();
        let path = Path::from("a/b");
        let _ = with_retries(&policy(3), Some(&metrics), "get", &path, || async { Ok(()) }).await;
        let failures = AtomicU32::new(0);
        let _ = with_retries(&policy(3), Some(&metrics), "get", &path, || {
            let failed_before = failures.fetch_add(1, Ordering::SeqCst);
            async move { if failed_before < 2 { Err(transient()) } else { Ok(()) } }
        })
        .await;
        let _: Result<(), _> = with_retries(&policy(3), Some(&metrics), "head", &path, || async {
            Err(object_store::Error::NotFound { path: "a/b".into(), source: "gone".into() })
        })
        .await;
        let _: Result<(), _> =
            with_retries(&policy(1), Some(&metrics), "put", &path, || async { Err(transient()) })
                .await;
        let text = metrics.render();
        for line in [
            "spanlake_object_store_operations_total{operation=\"get\",outcome=\"ok\"} 1",
            "spanlake_object_store_operations_total{operation=\"get\",outcome=\"retried\"} 1",
            "spanlake_object_store_operations_total{operation=\"head\",outcome=\"not_found\"} 1",
            "spanlake_object_store_operations_total{operation=\"put\",outcome=\"failed\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in:\n{text}");
        }
    }
}
