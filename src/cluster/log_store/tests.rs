//! Tests of the WAL log store beyond openraft's suite (in `suite_tests.rs`): what survives a
//! crash, how refused appends are reported, bounded reads, and a report of the append rate.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;
use openraft::impls::{BasicNode, Vote};
use openraft::storage::{IOFlushed, RaftLogReader, RaftLogStorage, RaftLogStorageExt};
use openraft::type_config::TypeConfigExt;
use openraft::{EntryPayload, Membership};
use tempfile::TempDir;

use super::entry_codec::raft_log_id;
use super::reader::READ_CHUNK_ENTRIES;
use super::*;
use crate::cluster::types::{BatchPayload, PartitionRaftConfig};
use crate::model::ids::{LogId, Term};
use crate::storage::wal::Record;

type Store = WalLogStore<PartitionRaftConfig>;
type Entry = WalEntry<BatchPayload, BasicNode>;

fn log_id(term: u64, index: u64) -> RaftLogId {
    raft_log_id(LogId { term: Term(term), index: LogIndex(index) })
}

fn blank(term: u64, index: u64) -> Entry {
    Entry { log_id: log_id(term, index), payload: EntryPayload::Blank }
}

fn membership(term: u64, index: u64) -> Entry {
    let nodes = BTreeMap::from([(1, BasicNode::new("n1:4317")), (2, BasicNode::new("n2:4317"))]);
    let membership = Membership::new(vec![BTreeSet::from([1, 2])], nodes).unwrap();
    Entry { log_id: log_id(term, index), payload: EntryPayload::Membership(membership) }
}

fn normal(term: u64, index: u64, payload: Bytes) -> Entry {
    Entry { log_id: log_id(term, index), payload: EntryPayload::Normal(BatchPayload(payload)) }
}

fn batch(index: u64, len: usize) -> Bytes {
    let mut payload = format!("batch {index};").into_bytes();
    payload.resize(len, b'x');
    Bytes::from(payload)
}

async fn open(dir: &Path) -> (Store, RecoveryReport) {
    Store::open(dir.to_path_buf(), WalOptions::default()).await.unwrap()
}

async fn read_all(store: &mut Store) -> Vec<Entry> {
    store.get_log_reader().await.try_get_log_entries(..).await.unwrap()
}

fn last_segment(dir: &Path) -> std::path::PathBuf {
    let mut segments: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
        .collect();
    segments.sort();
    segments.pop().unwrap()
}

/// Appended entries of every kind, the vote and the commit hint come back after the store is
/// dropped with nothing flushed or closed, and a torn last write is cut without losing them.
#[tokio::test]
async fn log_vote_and_commit_hint_survive_a_crash() {
    let dir = TempDir::new().unwrap();
    let vote = Vote::new_committed(3, 2);
    let written = vec![
        blank(1, 0),
        membership(1, 1),
        normal(2, 2, batch(2, 100)),
        normal(3, 3, batch(3, 5000)),
        normal(3, 4, batch(4, 1)),
    ];
    tracing::info!("--- append, vote, commit, then drop without closing");
    {
        let (mut store, report) = open(dir.path()).await;
        assert_eq!(report, RecoveryReport::default());
        store.save_vote(&Vote::new(1, 1)).await.unwrap();
        store.blocking_append(written[..2].to_vec()).await.unwrap();
        store.save_vote(&vote).await.unwrap();
        store.blocking_append(written[2..].to_vec()).await.unwrap();
        store.save_committed(Some(log_id(3, 3))).await.unwrap();
    }
    tracing::info!("--- a torn write after the last acknowledged one");
    {
        let mut segment = OpenOptions::new().append(true).open(last_segment(dir.path())).unwrap();
        segment.write_all(&[0x30, 0, 0, 0, 0xde, 0xad]).unwrap();
    }
    tracing::info!("--- reopen: everything acknowledged is back");
    {
        let (mut store, report) = open(dir.path()).await;
        assert_eq!(report.records, 5);
        assert_eq!(report.truncated_bytes, 6);
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, None);
        assert_eq!(state.last_log_id, Some(log_id(3, 4)));
        assert_eq!(read_all(&mut store).await, written);
        assert_eq!(store.get_log_reader().await.read_vote().await.unwrap(), Some(vote));
        assert_eq!(store.read_committed().await.unwrap(), Some(log_id(3, 3)));
        store.blocking_append([normal(3, 5, batch(5, 10))]).await.unwrap();
    }
}

/// An append the log cannot take fails twice over, returned to the caller and told to the
/// callback with the same kind and message; nothing of it is written and the log goes on.
#[tokio::test]
async fn refused_append_is_reported_to_caller_and_callback() {
    let dir = TempDir::new().unwrap();
    let (mut store, _) = open(dir.path()).await;
    store.blocking_append([blank(1, 0)]).await.unwrap();

    let refused = [
        (
            vec![normal(1, 1, batch(1, 8)), normal(1, 2, Bytes::from_static(&[0, 1]))],
            ErrorKind::InvalidData,
            "starting with 0x00",
        ),
        (vec![normal(1, 3, batch(3, 8))], ErrorKind::InvalidInput, "non-contiguous"),
        (vec![normal(0, 1, batch(1, 8))], ErrorKind::InvalidInput, "term goes backwards"),
    ];
    for (entries, kind, message) in refused {
        let (sender, receiver) = PartitionRaftConfig::oneshot();
        let returned = store.append(entries, IOFlushed::signal(sender)).await.unwrap_err();
        let told = receiver.await.unwrap().unwrap_err();
        assert_eq!(returned.kind(), kind, "{returned}");
        assert!(returned.to_string().contains(message), "{returned}");
        assert_eq!((told.kind(), told.to_string()), (returned.kind(), returned.to_string()));
        assert_eq!(store.get_log_state().await.unwrap().last_log_id, Some(log_id(1, 0)));
    }
    store.blocking_append([normal(1, 1, batch(1, 8))]).await.unwrap();
    assert_eq!(read_all(&mut store).await.len(), 2);
}

/// Replication reads stop at the byte or entry budget but never return nothing for a range that
/// holds entries; the apply stream and whole-range reads return everything, in order, and a
/// purged start is skipped.
#[tokio::test]
async fn bounded_reads_cover_the_range_in_chunks() {
    const MIB: usize = 1024 * 1024;
    let dir = TempDir::new().unwrap();
    let (mut store, _) = open(dir.path()).await;
    let small_count = READ_CHUNK_ENTRIES + 900;
    let mut entries = vec![blank(1, 0)];
    entries.extend((1..=4).map(|index| normal(1, index, batch(index, 3 * MIB / 2))));
    entries.push(normal(1, 5, batch(5, 5 * MIB)));
    entries.extend((6..6 + small_count).map(|index| normal(2, index, batch(index, 20))));
    let end = 6 + small_count;
    store.blocking_append(entries.clone()).await.unwrap();
    let mut reader = store.get_log_reader().await;

    let indices = |entries: Vec<Entry>| -> Vec<u64> {
        entries.iter().map(|entry| entry.log_id.index).collect()
    };
    tracing::info!("--- limited reads: by bytes, at least one entry, by count");
    {
        assert_eq!(indices(reader.limited_get_log_entries(1, 5).await.unwrap()), [1, 2]);
        assert_eq!(indices(reader.limited_get_log_entries(3, 7).await.unwrap()), [3, 4]);
        assert_eq!(indices(reader.limited_get_log_entries(5, 7).await.unwrap()), [5]);
        let by_count = reader.limited_get_log_entries(6, end).await.unwrap();
        assert_eq!(by_count.len() as u64, READ_CHUNK_ENTRIES);
        assert!(reader.limited_get_log_entries(end, end + 10).await.unwrap().is_empty());
        assert!(reader.limited_get_log_entries(4, 4).await.unwrap().is_empty());
    }
    tracing::info!("--- the apply stream and whole-range reads return everything");
    {
        let streamed: Vec<Entry> =
            reader.entries_stream(0..end + 10).await.map(|entry| entry.unwrap()).collect().await;
        assert_eq!(streamed, entries);
        assert_eq!(reader.try_get_log_entries(..).await.unwrap(), entries);
        assert_eq!(indices(reader.try_get_log_entries(2..=3).await.unwrap()), [2, 3]);
    }
    tracing::info!("--- a purged start is skipped");
    {
        store.purge(log_id(1, 2)).await.unwrap();
        let streamed: Vec<u64> = reader
            .entries_stream(0..5)
            .await
            .map(|entry| entry.unwrap().log_id.index)
            .collect()
            .await;
        assert_eq!(streamed, [3, 4]);
        assert_eq!(indices(reader.limited_get_log_entries(0, 5).await.unwrap()), [3, 4]);
    }
}

/// `truncate_after(None)` removes every readable entry but keeps the purge point, so the log
/// continues after it.
#[tokio::test]
async fn truncate_everything_keeps_the_purge_point() {
    let dir = TempDir::new().unwrap();
    let (mut store, _) = open(dir.path()).await;
    store.blocking_append((0..=6).map(|index| blank(1, index)).collect::<Vec<_>>()).await.unwrap();
    store.purge(log_id(1, 3)).await.unwrap();
    store.truncate_after(None).await.unwrap();
    let state = store.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 3)));
    assert_eq!(state.last_log_id, Some(log_id(1, 3)));
    assert!(read_all(&mut store).await.is_empty());
    store.blocking_append([blank(2, 4)]).await.unwrap();
    assert_eq!(read_all(&mut store).await, [blank(2, 4)]);
}

/// Prints how many appends per second one caller gets, each append made durable before the
/// next, for a few batch sizes, next to the WAL alone (append + fsync in a loop on one thread),
/// which is the disk's bound (run with `--ignored --nocapture`).
#[ignore = "report, not a check"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_append_rate() {
    {
        let dir = TempDir::new().unwrap();
        let (store, _) = open(dir.path()).await;
        let wal = store.wal();
        let appends = 300;
        let seconds = tokio::task::spawn_blocking(move || {
            let mut wal = wal.lock().unwrap();
            let started = Instant::now();
            for index in 0..appends {
                let payload = batch(index, 1024);
                wal.append(&[Record { term: Term(1), index: LogIndex(index), payload }]).unwrap();
                wal.sync().unwrap();
            }
            started.elapsed().as_secs_f64()
        })
        .await
        .unwrap();
        println!("wal alone, 1 x 1024 B: {:>6.0} appends/s", appends as f64 / seconds);
    }
    for (entries_per_append, payload_bytes, appends) in
        [(1, 1024, 300), (16, 1024, 200), (256, 1024, 40), (1, 256 * 1024, 100)]
    {
        let dir = TempDir::new().unwrap();
        let (mut store, _) = open(dir.path()).await;
        let payload = batch(0, payload_bytes);
        let started = Instant::now();
        for call in 0..appends {
            let first = call * entries_per_append;
            let entries = (first..first + entries_per_append)
                .map(|index| normal(1, index, payload.clone()))
                .collect::<Vec<_>>();
            store.blocking_append(entries).await.unwrap();
        }
        let seconds = started.elapsed().as_secs_f64();
        let entries = appends * entries_per_append;
        let state = store.get_log_state().await.unwrap();
        assert_eq!(state.last_log_id, Some(log_id(1, entries - 1)));
        println!(
            "{entries_per_append:>3} x {payload_bytes:>6} B per append: {:>6.0} appends/s, \
             {:>7.0} entries/s, {:>6.1} MiB/s",
            appends as f64 / seconds,
            entries as f64 / seconds,
            (entries as f64 * payload_bytes as f64) / seconds / (1024.0 * 1024.0),
        );
    }
}
