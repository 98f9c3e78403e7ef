//! Tests of the write-ahead log: round trips, rolling, torn tails, corruption, purge, truncation
//! and the vote (the model-based proptest is in `model_tests.rs`).

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tempfile::TempDir;

use super::*;

pub(super) fn record(term: u64, index: u64) -> Record {
    let payload =
        format!("payload of record {index} in term {term}").repeat(1 + (index % 3) as usize);
    Record { term: Term(term), index: LogIndex(index), payload: Bytes::from(payload) }
}

pub(super) fn records(term: u64, indices: std::ops::RangeInclusive<u64>) -> Vec<Record> {
    indices.map(|index| record(term, index)).collect()
}

fn small_segments() -> WalOptions {
    WalOptions { segment_bytes: 300 }
}

pub(super) fn open(dir: &Path, options: WalOptions) -> (Wal, RecoveryReport) {
    Wal::open(dir, options).unwrap()
}

/// Reads every readable record.
pub(super) fn read_all(wal: &Wal) -> Vec<Record> {
    let from = wal.last_purged().map_or(LogIndex(0), |purged| purged.index.next());
    wal.read_range(from, LogIndex(u64::MAX)).unwrap()
}

fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wal"))
        .collect();
    paths.sort();
    paths
}

fn flip_byte(path: &Path, offset: u64) {
    let file = OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 0x40;
    file.write_all_at(&byte, offset).unwrap();
}

/// Appended and synced records read back the same after a reopen.
#[test]
fn append_sync_reopen_round_trip() {
    let dir = TempDir::new().unwrap();
    let written = records(1, 1..=10);
    {
        let (mut wal, report) = open(dir.path(), WalOptions::default());
        assert_eq!(report, RecoveryReport::default());
        assert_eq!(wal.last_log_id(), None);
        wal.append(&written[..4]).unwrap();
        wal.append(&written[4..]).unwrap();
        wal.sync().unwrap();
        assert_eq!(read_all(&wal), written);
        assert_eq!(wal.last_log_id(), Some(LogId { term: Term(1), index: LogIndex(10) }));
        assert!(wal.disk_bytes() > 0);
    }
    let (wal, report) = open(dir.path(), WalOptions::default());
    assert_eq!(report.records, 10);
    assert_eq!(report.segments, 1);
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(report.first_index, Some(LogIndex(1)));
    assert_eq!(report.last, Some(LogId { term: Term(1), index: LogIndex(10) }));
    assert_eq!(read_all(&wal), written);
    assert_eq!(wal.read_range(LogIndex(3), LogIndex(5)).unwrap(), written[2..5].to_vec());
    assert!(wal.read_range(LogIndex(11), LogIndex(20)).unwrap().is_empty());
    assert!(wal.read_range(LogIndex(5), LogIndex(4)).unwrap().is_empty());
}

/// An empty log accepts any first index, and then only its successor.
#[test]
fn first_append_may_start_anywhere_then_must_continue() {
    let dir = TempDir::new().unwrap();
    let (mut wal, _) = open(dir.path(), WalOptions::default());
    wal.append(&records(3, 100..=101)).unwrap();
    assert_eq!(wal.first_index(), Some(LogIndex(100)));
    let error = wal.append(&[record(3, 103)]).unwrap_err();
    assert!(matches!(
        error,
        WalError::NonContiguous { expected: LogIndex(102), got: LogIndex(103) }
    ));
    assert!(!error.is_fatal());
    let error = wal.append(&[record(3, 102), record(3, 104)]).unwrap_err();
    assert!(matches!(
        error,
        WalError::NonContiguous { expected: LogIndex(103), got: LogIndex(104) }
    ));
    let error = wal.append(&[record(2, 102)]).unwrap_err();
    assert!(matches!(error, WalError::TermRegression { .. }));
    assert_eq!(error.to_string(), "term goes backwards at index 102: 2 after 3");
    // Refused batches wrote nothing.
    assert_eq!(wal.last_log_id(), Some(LogId { term: Term(3), index: LogIndex(101) }));
    wal.append(&[record(3, 102), record(4, 103)]).unwrap();
    assert_eq!(read_all(&wal).len(), 4);
}

/// A small `segment_bytes` rolls segments; reads cross segment boundaries.
#[test]
fn segments_roll_and_reads_cross_them() {
    let dir = TempDir::new().unwrap();
    let written = records(2, 1..=40);
    {
        let (mut wal, _) = open(dir.path(), small_segments());
        for chunk in written.chunks(7) {
            wal.append(chunk).unwrap();
        }
        wal.sync().unwrap();
        assert!(wal.segments.len() > 3, "{} segments", wal.segments.len());
        assert_eq!(read_all(&wal), written);
        assert_eq!(wal.read_range(LogIndex(5), LogIndex(33)).unwrap(), written[4..33].to_vec());
        // A record larger than a segment gets a segment of its own.
        let big =
            Record { term: Term(2), index: LogIndex(41), payload: Bytes::from(vec![7u8; 1000]) };
        wal.append(std::slice::from_ref(&big)).unwrap();
        wal.append(&[record(2, 42)]).unwrap();
        wal.sync().unwrap();
    }
    let (wal, report) = open(dir.path(), small_segments());
    assert_eq!(report.segments, segment_paths(dir.path()).len());
    assert_eq!(report.records, 42);
    for (index, record) in read_all(&wal).iter().enumerate() {
        assert_eq!(record.index, LogIndex(index as u64 + 1));
    }
    for path in segment_paths(dir.path()) {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name.len(), 24, "{name}");
    }
}

/// Cutting the last segment anywhere inside its last record keeps every whole record, reports
/// the cut bytes, and appending continues after the last whole record.
#[test]
fn torn_tail_at_every_offset_of_the_last_record_is_cut() {
    let written = records(1, 1..=6);
    let template = TempDir::new().unwrap();
    let (last_start, file_len) = {
        let (mut wal, _) = open(template.path(), WalOptions::default());
        wal.append(&written).unwrap();
        wal.sync().unwrap();
        let segment = &wal.segments[0];
        (segment.last_offset().unwrap(), segment.len())
    };
    for cut in last_start..file_len {
        let dir = TempDir::new().unwrap();
        {
            let (mut wal, _) = open(dir.path(), WalOptions::default());
            wal.append(&written).unwrap();
            wal.sync().unwrap();
        }
        let path = &segment_paths(dir.path())[0];
        OpenOptions::new().write(true).open(path).unwrap().set_len(cut).unwrap();
        let (mut wal, report) = open(dir.path(), WalOptions::default());
        assert_eq!(report.truncated_bytes, cut - last_start, "cut at {cut}");
        assert_eq!(report.records, 5);
        assert_eq!(read_all(&wal), written[..5].to_vec());
        assert_eq!(fs::metadata(path).unwrap().len(), last_start);
        wal.append(&[record(2, 6)]).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let (wal, report) = open(dir.path(), WalOptions::default());
        assert_eq!(report.truncated_bytes, 0);
        assert_eq!(wal.last_log_id(), Some(LogId { term: Term(2), index: LogIndex(6) }));
    }
}

/// A last segment cut inside its header (or never written) holds no record and is dropped.
#[test]
fn torn_segment_header_drops_the_segment() {
    for cut in [0, 5, 19] {
        let dir = TempDir::new().unwrap();
        {
            let (mut wal, _) = open(dir.path(), small_segments());
            wal.append(&records(1, 1..=20)).unwrap();
            wal.sync().unwrap();
        }
        let paths = segment_paths(dir.path());
        let last = paths.last().unwrap();
        let first_of_last = wal_first_index(last);
        OpenOptions::new().write(true).open(last).unwrap().set_len(cut).unwrap();
        let (mut wal, report) = open(dir.path(), small_segments());
        assert_eq!(report.segments, paths.len() - 1);
        assert_eq!(wal.last_log_id().unwrap().index, LogIndex(first_of_last - 1));
        wal.append(&records(1, first_of_last..=first_of_last + 2)).unwrap();
        wal.sync().unwrap();
    }
}

fn wal_first_index(path: &Path) -> u64 {
    path.file_stem().unwrap().to_str().unwrap().parse().unwrap()
}

/// A bit flip in the last record of the last segment is a torn tail.
#[test]
fn crc_flip_in_last_record_is_truncated() {
    let dir = TempDir::new().unwrap();
    let (last_start, file_len) = {
        let (mut wal, _) = open(dir.path(), WalOptions::default());
        wal.append(&records(1, 1..=5)).unwrap();
        wal.sync().unwrap();
        (wal.segments[0].last_offset().unwrap(), wal.segments[0].len())
    };
    flip_byte(&segment_paths(dir.path())[0], file_len - 3);
    let (wal, report) = open(dir.path(), WalOptions::default());
    assert_eq!(report.truncated_bytes, file_len - last_start);
    assert_eq!(wal.last_log_id().unwrap().index, LogIndex(4));
}

/// Damage in a sealed segment refuses to open rather than dropping acknowledged records.
#[test]
fn crc_flip_in_sealed_segment_is_corrupt() {
    let dir = TempDir::new().unwrap();
    {
        let (mut wal, _) = open(dir.path(), small_segments());
        wal.append(&records(1, 1..=20)).unwrap();
        wal.sync().unwrap();
    }
    let paths = segment_paths(dir.path());
    assert!(paths.len() >= 2);
    flip_byte(&paths[0], segment::HEADER_LEN + 30);
    let error = Wal::open(dir.path(), small_segments()).unwrap_err();
    assert!(error.is_fatal());
    match error {
        WalError::Corrupt { segment, offset, reason } => {
            assert_eq!(segment, paths[0]);
            assert_eq!(offset, segment::HEADER_LEN);
            assert!(reason.contains("crc mismatch"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    // The file was left untouched for inspection.
    assert_eq!(segment_paths(dir.path()), paths);
}

/// A missing middle segment is a gap, not a torn tail.
#[test]
fn missing_middle_segment_is_corrupt() {
    let dir = TempDir::new().unwrap();
    {
        let (mut wal, _) = open(dir.path(), small_segments());
        wal.append(&records(1, 1..=20)).unwrap();
        wal.sync().unwrap();
    }
    let paths = segment_paths(dir.path());
    assert!(paths.len() >= 3);
    fs::remove_file(&paths[1]).unwrap();
    assert!(matches!(Wal::open(dir.path(), small_segments()), Err(WalError::Corrupt { .. })));
}

/// Purging deletes whole segments below the point, keeps the straddling one, refuses reads
/// below the point, and survives a reopen.
#[test]
fn purge_deletes_whole_segments_and_persists() {
    let dir = TempDir::new().unwrap();
    let written = records(4, 1..=30);
    let segments_before;
    {
        let (mut wal, _) = open(dir.path(), small_segments());
        wal.append(&written).unwrap();
        wal.sync().unwrap();
        segments_before = wal.segments.len();
        let straddling = wal.segments[2].first_index().0 + 1;
        wal.purge_before(LogIndex(straddling + 1)).unwrap();
        assert_eq!(wal.segments.len(), segments_before - 2);
        assert_eq!(wal.last_purged(), Some(LogId { term: Term(4), index: LogIndex(straddling) }));
        assert_eq!(wal.first_index(), Some(LogIndex(straddling + 1)));
        assert!(matches!(
            wal.read_range(LogIndex(1), LogIndex(30)),
            Err(WalError::Purged { index: LogIndex(1) })
        ));
        assert!(matches!(
            wal.read_range(LogIndex(straddling), LogIndex(30)),
            Err(WalError::Purged { .. })
        ));
        assert_eq!(
            wal.read_range(LogIndex(straddling + 1), LogIndex(30)).unwrap(),
            written[straddling as usize..]
        );
        // Purging at or below the point again does nothing.
        wal.purge_before(LogIndex(3)).unwrap();
        assert_eq!(wal.last_purged().unwrap().index, LogIndex(straddling));
        assert_eq!(segment_paths(dir.path()).len(), segments_before - 2);
    }
    let (wal, report) = open(dir.path(), small_segments());
    assert_eq!(report.segments, segments_before - 2);
    let purged = wal.last_purged().unwrap().index;
    assert_eq!(report.first_index, Some(purged.next()));
    assert_eq!(report.records, 30 - purged.0);
    assert!(matches!(wal.read_range(LogIndex(1), LogIndex(2)), Err(WalError::Purged { .. })));
}

/// Purging everything leaves an empty log that continues after the purge point, also across a
/// reopen; a purge point past the end (snapshot installed) works the same.
#[test]
fn purge_of_everything_and_past_the_end() {
    let dir = TempDir::new().unwrap();
    {
        let (mut wal, _) = open(dir.path(), small_segments());
        wal.append(&records(1, 1..=10)).unwrap();
        wal.purge_before(LogIndex(1000)).unwrap();
        assert_eq!(wal.last_purged(), Some(LogId { term: Term(1), index: LogIndex(10) }));
        assert_eq!(wal.first_index(), None);
        assert_eq!(wal.last_log_id(), wal.last_purged());
        assert!(segment_paths(dir.path()).is_empty());
        assert!(matches!(wal.append(&[record(1, 12)]), Err(WalError::NonContiguous { .. })));
    }
    let snapshot = LogId { term: Term(3), index: LogIndex(50) };
    {
        let (mut wal, report) = open(dir.path(), small_segments());
        assert_eq!(report.last, Some(LogId { term: Term(1), index: LogIndex(10) }));
        wal.append(&records(1, 11..=12)).unwrap();
        wal.purge_upto(snapshot).unwrap();
        assert_eq!(wal.last_log_id(), Some(snapshot));
        assert!(matches!(wal.append(&[record(3, 13)]), Err(WalError::NonContiguous { .. })));
    }
    let (mut wal, report) = open(dir.path(), small_segments());
    assert_eq!(report.last, Some(snapshot));
    assert_eq!(report.records, 0);
    wal.append(&records(3, 51..=52)).unwrap();
    wal.sync().unwrap();
    assert_eq!(read_all(&wal), records(3, 51..=52));
    wal.purge_upto(LogId { term: Term(3), index: LogIndex(60) }).unwrap();
    assert!(segment_paths(dir.path()).is_empty());
    assert_eq!(wal.last_log_id(), Some(LogId { term: Term(3), index: LogIndex(60) }));
}

/// A purge point below the first record would leave a hole and is refused.
#[test]
fn purge_below_the_log_start_is_refused() {
    let dir = TempDir::new().unwrap();
    let (mut wal, _) = open(dir.path(), WalOptions::default());
    wal.append(&records(1, 100..=105)).unwrap();
    wal.purge_before(LogIndex(50)).unwrap();
    assert_eq!(wal.last_purged(), None);
    let error = wal.purge_upto(LogId { term: Term(1), index: LogIndex(50) }).unwrap_err();
    assert!(matches!(error, WalError::PurgeGap { .. }));
    wal.purge_upto(LogId { term: Term(1), index: LogIndex(99) }).unwrap();
    assert_eq!(wal.first_index(), Some(LogIndex(100)));
}

/// Truncation removes the tail (whole segments included); appending continues at `from`.
#[test]
fn truncate_from_then_append() {
    let dir = TempDir::new().unwrap();
    let boundary;
    {
        let (mut wal, _) = open(dir.path(), small_segments());
        wal.append(&records(1, 1..=25)).unwrap();
        let segments_before = wal.segments.len();
        boundary = wal.segments[1].first_index();
        wal.truncate_from(LogIndex(boundary.0 + 1)).unwrap();
        assert_eq!(wal.segments.len(), 2);
        assert!(segments_before > 2);
        assert_eq!(wal.last_log_id().unwrap().index, boundary);
        wal.truncate_from(boundary).unwrap();
        assert_eq!(wal.segments.len(), 1);
        assert_eq!(segment_paths(dir.path()).len(), 1);
        assert!(matches!(wal.append(&[record(2, 3)]), Err(WalError::NonContiguous { .. })));
        wal.append(&records(2, boundary.0..=30)).unwrap();
        wal.truncate_from(LogIndex(100)).unwrap();
        wal.sync().unwrap();
    }
    let (mut wal, _) = open(dir.path(), small_segments());
    let all = read_all(&wal);
    assert_eq!(all.len(), 30);
    for record in &all {
        let expected_term = if record.index < boundary { 1 } else { 2 };
        assert_eq!(record.term, Term(expected_term), "record {}", record.index);
    }
    wal.truncate_from(LogIndex(1)).unwrap();
    assert_eq!(wal.last_log_id(), None);
    assert!(segment_paths(dir.path()).is_empty());
    wal.append(&records(5, 7..=8)).unwrap();
    assert_eq!(wal.first_index(), Some(LogIndex(7)));
}

/// Truncation may not reach into purged records.
#[test]
fn truncate_below_purge_point_is_refused() {
    let dir = TempDir::new().unwrap();
    let (mut wal, _) = open(dir.path(), WalOptions::default());
    wal.append(&records(1, 1..=10)).unwrap();
    wal.purge_before(LogIndex(5)).unwrap();
    assert!(matches!(wal.truncate_from(LogIndex(4)), Err(WalError::Purged { index: LogIndex(4) })));
    wal.truncate_from(LogIndex(5)).unwrap();
    assert_eq!(wal.first_index(), None);
    assert_eq!(wal.last_log_id(), Some(LogId { term: Term(1), index: LogIndex(4) }));
    wal.append(&records(2, 5..=6)).unwrap();
    assert_eq!(read_all(&wal), records(2, 5..=6));
}

/// The vote survives a reopen and is replaced whole.
#[test]
fn vote_round_trip() {
    let dir = TempDir::new().unwrap();
    {
        let (mut wal, _) = open(dir.path(), WalOptions::default());
        assert_eq!(wal.read_vote().unwrap(), None);
        wal.save_vote(b"term 1 voted for n2").unwrap();
        wal.save_vote(b"term 2").unwrap();
        assert_eq!(wal.read_vote().unwrap().as_deref(), Some(&b"term 2"[..]));
    }
    fs::write(dir.path().join("vote.tmp"), b"half written").unwrap();
    let (wal, _) = open(dir.path(), WalOptions::default());
    assert_eq!(wal.read_vote().unwrap().as_deref(), Some(&b"term 2"[..]));
    assert!(!dir.path().join("vote.tmp").exists());
    drop(wal);
    flip_byte(&dir.path().join("vote"), 9);
    assert!(matches!(Wal::open(dir.path(), WalOptions::default()), Err(WalError::Corrupt { .. })));
}

/// Error texts are lowercase, carry their data, and say whether the log can go on.
#[test]
fn errors_name_their_data_and_fatality() {
    let missing = Path::new("/nonexistent/spanlake-wal-test");
    let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
    let error =
        WalError::Io { operation: "fsync segment", path: missing.to_path_buf(), source: io };
    assert_eq!(
        error.to_string(),
        "wal fsync segment failed for /nonexistent/spanlake-wal-test: gone"
    );
    assert!(error.is_fatal());
    let purged = WalError::Purged { index: LogIndex(4) };
    assert_eq!(purged.to_string(), "index 4 is purged");
    assert!(!purged.is_fatal());
}

/// Frame sizes come from the in-memory index, across segments, and match the payloads.
#[test]
fn frame_sizes_cover_segments_without_reading() {
    let dir = TempDir::new().unwrap();
    let (mut wal, _) = open(dir.path(), small_segments());
    let written = records(1, 1..=30);
    wal.append(&written).unwrap();
    wal.sync().unwrap();
    let sizes = wal.frame_sizes(LogIndex(5), LogIndex(40));
    assert_eq!(sizes.len(), 26);
    assert_eq!(sizes[0].0, LogIndex(5));
    for (index, size) in sizes {
        let payload = written[(index.0 - 1) as usize].payload.len() as u64;
        // Frame = length + CRC + term + index + payload.
        assert_eq!(size, 4 + 4 + 8 + 8 + payload, "record {index}");
    }
    wal.purge_before(LogIndex(10)).unwrap();
    assert_eq!(
        wal.frame_sizes(LogIndex(1), LogIndex(12)).first().map(|s| s.0 >= LogIndex(1)),
        Some(true)
    );
}
