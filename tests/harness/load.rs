//! Continuous ingest for chaos tests: workers send small requests round-robin to a set of
//! OTLP/gRPC endpoints until stopped, and record each request in an acknowledgement oracle
//! (a failed or timed-out request is unknown, never absent).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use tonic::transport::Channel;

use super::oracle::AckOracle;
use super::spans;

/// How long one export may take before it counts as unknown.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Ingest running in the background.
pub struct Load {
    stop: Arc<AtomicBool>,
    oracle: Arc<Mutex<AckOracle>>,
    acknowledged: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `workers` clients over `urls` (`http://host:port`); trace seeds start at `base`.
    pub fn start(urls: Vec<String>, workers: u64, base: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let oracle = Arc::new(Mutex::new(AckOracle::default()));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let clients: Vec<TraceServiceClient<Channel>> = urls
            .iter()
            .map(|url| {
                let channel = Channel::from_shared(url.clone())
                    .expect("valid url")
                    .connect_timeout(Duration::from_secs(1))
                    .connect_lazy();
                TraceServiceClient::new(channel)
            })
            .collect();
        let workers = (0..workers)
            .map(|worker| {
                let stop = stop.clone();
                let oracle = oracle.clone();
                let acknowledged = acknowledged.clone();
                let failed = failed.clone();
                let mut clients = clients.clone();
                tokio::spawn(async move {
                    let mut round = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let seeds: Vec<u64> = (0..4)
                            .map(|n| base + worker * 10_000_000 + round * 10 + n)
                            .collect();
                        let request = spans::request(&seeds, 2);
                        let position = (round + worker) as usize % clients.len();
                        round += 1;
                        let client = &mut clients[position];
                        let outcome = tokio::time::timeout(
                            EXPORT_TIMEOUT,
                            client.export(tonic::Request::new(request.clone())),
                        )
                        .await;
                        let acknowledged_now = matches!(outcome, Ok(Ok(_)));
                        match &outcome {
                            Ok(Err(status)) => tracing::warn!(position, code = ?status.code(), message = status.message(), "export failed"),
                            Err(_) => tracing::warn!(position, "export timed out"),
                            Ok(Ok(_)) => {}
                        }
                        {
                            let mut oracle = oracle.lock().expect("oracle lock");
                            if acknowledged_now {
                                oracle.acknowledged(&request);
                            } else {
                                oracle.unknown(&request);
                            }
                        }
                        if acknowledged_now {
                            acknowledged.fetch_add(1, Ordering::Relaxed);
                        } else {
                            failed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        Load { stop, oracle, acknowledged, failed, workers }
    }

    /// Requests acknowledged so far.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Requests that failed or timed out so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Waits (deadline) until `more` further requests are acknowledged: ingest goes on.
    pub async fn wait_for_progress(&self, more: u64, what: &str) {
        let target = self.acknowledged() + more;
        super::wait_for(what, Duration::from_secs(60), || async { self.acknowledged() >= target })
            .await;
    }

    /// Stops the workers and returns the oracle.
    pub async fn stop(self) -> AckOracle {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await.expect("load worker");
        }
        std::mem::take(&mut *self.oracle.lock().expect("oracle lock"))
    }
}
