//! openraft's log storage on our write-ahead log: one [`WalLogStore`] per Raft group (the meta
//! group and each partition replica), its log, vote and commit hint in one WAL directory.
//!
//! ```text
//!  RaftCore ── append(entries, callback) ──► encode (entry_codec) ──► spawn_blocking:
//!                                              lock Wal · append all · one fsync
//!           ◄── callback.io_completed ───────────────────────────────┘
//!  replication / apply ── WalLogReader ──► spawn_blocking: lock Wal · read_range · decode
//!  block-builder ── WalLogStore::wal() ──► the same Arc<Mutex<Wal>>, records by range
//! ```
//!
//! The WAL is synchronous, so every call runs on a blocking thread behind one std mutex, which
//! also orders writes as openraft requires (each call finishes before the next starts). Group
//! commit comes from openraft: every entry of one `append` call shares one write and one fsync.

pub(crate) mod entry_codec;
mod reader;
#[cfg(test)]
mod suite_tests;
#[cfg(test)]
mod tests;

use std::io;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use openraft::impls::leader_id_std;
use openraft::storage::{IOFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftTypeConfig};
use thiserror::Error;

use crate::cluster::types::{NodeId, WalPayload};
use crate::model::ids::LogIndex;
use crate::storage::wal::{RecoveryReport, Wal, WalError, WalOptions};
pub(crate) use entry_codec::{EntryCodecError, RaftLogId, WalEntry, is_control};
pub(crate) use reader::WalLogReader;

/// The Raft type configurations whose log a [`WalLogStore`] keeps: a standard leader id with
/// `u64` terms and node ids (so a log id is exactly the WAL's `(term, index)`), openraft's own
/// entry type, and application data that knows its WAL form. Both `MetaRaftConfig` and
/// `PartitionRaftConfig` are such configurations.
pub(crate) trait WalRaftConfig:
    RaftTypeConfig<
        Term = u64,
        NodeId = NodeId,
        LeaderId = leader_id_std::LeaderId<u64, NodeId>,
        D: WalPayload,
        Entry = WalEntry<<Self as RaftTypeConfig>::D, <Self as RaftTypeConfig>::Node>,
    >
{
}

impl<C> WalRaftConfig for C where
    C: RaftTypeConfig<
            Term = u64,
            NodeId = NodeId,
            LeaderId = leader_id_std::LeaderId<u64, NodeId>,
            D: WalPayload,
            Entry = WalEntry<<C as RaftTypeConfig>::D, <C as RaftTypeConfig>::Node>,
        >
{
}

/// Why a log-store operation failed; turned into the `io::Error` openraft wants at the trait
/// boundary, keeping the message and the source.
#[derive(Debug, Error)]
pub(crate) enum LogStoreError {
    /// The write-ahead log refused or failed.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// An entry could not be written as a record, or a record read back as an entry.
    #[error(transparent)]
    Codec(#[from] EntryCodecError),
    /// The vote did not encode, or the stored one did not decode.
    #[error("raft vote does not round-trip as json: {0}")]
    Vote(#[source] serde_json::Error),
    /// A thread panicked while it held the log: its in-memory state is not trusted any more.
    #[error("wal lock is poisoned: a thread panicked while holding it")]
    LockPoisoned,
    /// An injected fault failed the operation.
    #[error("injected fault: {0}")]
    Fault(String),
    /// The blocking task running the operation did not finish (panicked or was cancelled).
    #[error("wal task did not finish: {0}")]
    Task(String),
}

impl From<LogStoreError> for io::Error {
    fn from(error: LogStoreError) -> io::Error {
        let kind = match &error {
            LogStoreError::Wal(WalError::Io { source, .. }) => source.kind(),
            LogStoreError::Wal(WalError::Corrupt { .. })
            | LogStoreError::Codec(_)
            | LogStoreError::Vote(_) => io::ErrorKind::InvalidData,
            LogStoreError::Wal(wal_error) if !wal_error.is_fatal() => io::ErrorKind::InvalidInput,
            LogStoreError::Wal(_)
            | LogStoreError::LockPoisoned
            | LogStoreError::Task(_)
            | LogStoreError::Fault(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}

/// The WAL shared by a group's log store, its readers and the partition's block-builder.
#[derive(Debug, Clone)]
struct SharedWal(Arc<Mutex<Wal>>);

impl SharedWal {
    /// Runs `operation` on the locked log on a blocking thread, off the async runtime.
    async fn run<T, F>(&self, operation: F) -> Result<T, LogStoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Wal) -> Result<T, LogStoreError> + Send + 'static,
    {
        let wal = Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || {
            let mut guard = wal.lock().map_err(|_| LogStoreError::LockPoisoned)?;
            operation(&mut guard)
        })
        .await
        .map_err(|error| LogStoreError::Task(error.to_string()))?
    }
}

/// openraft's log storage for one Raft group, kept in a [`Wal`].
pub(crate) struct WalLogStore<C> {
    wal: SharedWal,
    observer: Option<AppendObserver>,
    hook: Option<AppendHook>,
    _config: PhantomData<fn() -> C>,
}

/// Called at the steps of every append (`before_append`, `before_sync`, `after_sync`) from
/// the blocking thread; an error fails the append. Tests inject faults through it.
pub(crate) type AppendHook = Arc<dyn Fn(&'static str) -> Result<(), String> + Send + Sync>;

/// Told after every durable append: how long append + fsync took and how many entries it
/// made durable (the node's WAL metrics).
pub(crate) type AppendObserver = Arc<dyn Fn(std::time::Duration, usize) + Send + Sync>;

impl<C> WalLogStore<C> {
    /// Opens (or creates) the group's WAL in `dir`, recovering a torn tail, off the async
    /// runtime; returns the store and what recovery found.
    pub(crate) async fn open(
        dir: PathBuf,
        options: WalOptions,
    ) -> Result<(WalLogStore<C>, RecoveryReport), LogStoreError> {
        let (wal, report) = tokio::task::spawn_blocking(move || Wal::open(&dir, options))
            .await
            .map_err(|error| LogStoreError::Task(error.to_string()))??;
        let store = WalLogStore {
            wal: SharedWal(Arc::new(Mutex::new(wal))),
            observer: None,
            hook: None,
            _config: PhantomData,
        };
        Ok((store, report))
    }

    /// Calls `hook` at the steps of every append.
    pub(crate) fn hook(mut self, hook: AppendHook) -> WalLogStore<C> {
        self.hook = Some(hook);
        self
    }

    /// Reports every durable append to `observer`.
    pub(crate) fn observe(mut self, observer: AppendObserver) -> WalLogStore<C> {
        self.observer = Some(observer);
        self
    }

    /// Returns the shared WAL handle: the partition's block-builder reads records by range from
    /// the same log. Hold its lock only from blocking code.
    pub(crate) fn wal(&self) -> Arc<Mutex<Wal>> {
        Arc::clone(&self.wal.0)
    }
}

impl<C: WalRaftConfig> WalLogStore<C> {
    /// Encodes `entries` and makes them durable: one append and one fsync for the whole call.
    async fn append_durably<I>(&self, entries: I) -> Result<(), LogStoreError>
    where
        I: IntoIterator<Item = C::Entry>,
    {
        let records = entries
            .into_iter()
            .map(|entry| entry_codec::encode_entry(&entry))
            .collect::<Result<Vec<_>, _>>()?;
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(());
        };
        let (first, last, count) = (first.index, last.index, records.len());
        let hook = self.hook.clone();
        let step = move |name: &'static str| match &hook {
            Some(hook) => hook(name).map_err(LogStoreError::Fault),
            None => Ok(()),
        };
        let elapsed = self
            .wal
            .run(move |wal| {
                let started = std::time::Instant::now();
                step("before_append")?;
                wal.append(&records)?;
                step("before_sync")?;
                wal.sync()?;
                step("after_sync")?;
                Ok(started.elapsed())
            })
            .await?;
        if let Some(observer) = &self.observer {
            observer(elapsed, count);
        }
        tracing::trace!(%first, %last, count, "raft log entries durable");
        Ok(())
    }
}

impl<C: WalRaftConfig> RaftLogStorage<C> for WalLogStore<C> {
    type LogReader = WalLogReader<C>;

    async fn get_log_state(&mut self) -> Result<LogState<C>, io::Error> {
        let (last_purged, last) =
            self.wal.run(|wal| Ok((wal.last_purged(), wal.last_log_id()))).await?;
        Ok(LogState {
            last_purged_log_id: last_purged.map(entry_codec::raft_log_id),
            last_log_id: last.map(entry_codec::raft_log_id),
        })
    }

    async fn get_log_reader(&mut self) -> WalLogReader<C> {
        WalLogReader::new(self.wal.clone())
    }

    async fn save_vote(&mut self, vote: &C::Vote) -> Result<(), io::Error> {
        let body = serde_json::to_vec(vote).map_err(LogStoreError::Vote)?;
        self.wal.run(move |wal| Ok(wal.save_vote(&body)?)).await?;
        Ok(())
    }

    async fn save_committed(&mut self, committed: Option<RaftLogId>) -> Result<(), io::Error> {
        let committed = committed.as_ref().map(entry_codec::wal_log_id);
        self.wal.run(move |wal| Ok(wal.save_commit_hint(committed)?)).await?;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<RaftLogId>, io::Error> {
        let hint = self.wal.run(|wal| Ok(wal.read_commit_hint()?)).await?;
        Ok(hint.map(entry_codec::raft_log_id))
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<C>) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = C::Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        match self.append_durably(entries).await {
            Ok(()) => {
                callback.io_completed(Ok(()));
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "raft log append failed");
                let error = io::Error::from(error);
                // Both openraft's I/O tracker (callback) and the caller must learn of the failure.
                callback.io_completed(Err(io::Error::new(error.kind(), error.to_string())));
                Err(error)
            }
        }
    }

    async fn truncate_after(&mut self, last_log_id: Option<RaftLogId>) -> Result<(), io::Error> {
        let keep_through = last_log_id.map(|log_id| log_id.index);
        self.wal
            .run(move |wal| {
                let from = match keep_through {
                    Some(index) => match index.checked_add(1) {
                        Some(from) => LogIndex(from),
                        None => return Ok(()),
                    },
                    // Everything that is still readable goes; the purge point stays.
                    None => wal.last_purged().map_or(LogIndex(0), |purged| purged.index.next()),
                };
                Ok(wal.truncate_from(from)?)
            })
            .await?;
        Ok(())
    }

    async fn purge(&mut self, log_id: RaftLogId) -> Result<(), io::Error> {
        let upto = entry_codec::wal_log_id(&log_id);
        self.wal.run(move |wal| Ok(wal.purge_upto(upto)?)).await?;
        Ok(())
    }
}
