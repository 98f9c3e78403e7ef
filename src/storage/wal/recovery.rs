//! Opening a log directory: finds the segments, checks every record, cuts a torn tail.
//!
//! ```text
//! list *.wal ──► drop segments wholly below ──► scan each segment ──► sealed ones must be
//! (+ purged,     the purge point (a crash       (CRC, index order,    whole and continuous,
//!  vote)         cut their removal short)        term order)          else Corrupt
//!                                                                          │
//!       fsync dir ◄── drop the last segment ◄── cut the last segment at ◄──┘
//!                     if it holds no record      its first bad frame (torn tail)
//! ```
//!
//! Only the last segment may end badly: a segment is fsynced before the next one is created, so
//! damage anywhere else is corruption of acknowledged data and the log refuses to open.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::WalError;
use super::meta::{self, COMMIT_HINT_FILE, PURGED_FILE, TMP_SUFFIX, VOTE_FILE};
use super::record::{self, FRAME_HEADER_LEN, FrameError};
use super::segment::{HEADER_LEN, Segment, encode_header, io_error, parse_segment_file_name};
use crate::model::ids::{LogId, LogIndex, Term};

/// What recovery found on disk, ready to become a [`super::Wal`].
#[derive(Debug)]
pub(super) struct Recovered {
    /// Every kept segment, in index order, each holding at least one record.
    pub segments: Vec<Segment>,
    /// The persisted purge point.
    pub last_purged: Option<LogId>,
    /// The persisted vote.
    pub vote: Option<Vec<u8>>,
    /// Bytes cut from the end of the last segment.
    pub truncated_bytes: u64,
}

/// Where and why a scan stopped before the end of a file.
#[derive(Debug)]
struct Damage {
    offset: u64,
    reason: &'static str,
}

/// The result of reading one segment file from start to end.
#[derive(Debug)]
struct Scan {
    path: PathBuf,
    file: File,
    first_index: LogIndex,
    offsets: Vec<u64>,
    first_term: Option<Term>,
    last_term: Option<Term>,
    /// Length of the good prefix: header and every whole, valid frame.
    valid_len: u64,
    file_len: u64,
    damage: Option<Damage>,
}

impl Scan {
    fn last_index(&self) -> Option<LogIndex> {
        let count = self.offsets.len() as u64;
        (count > 0).then(|| LogIndex(self.first_index.0 + count - 1))
    }

    fn corrupt(&self, offset: u64, reason: String) -> WalError {
        WalError::Corrupt { segment: self.path.clone(), offset, reason }
    }
}

/// Opens (creating if needed) the log directory `dir` and recovers its contents.
pub(super) fn recover(dir: &Path) -> Result<Recovered, WalError> {
    fs::create_dir_all(dir).map_err(io_error("create directory", dir))?;
    let mut dir_changed = false;

    let mut segment_files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("list directory", dir))? {
        let entry = entry.map_err(io_error("list directory", dir))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else { continue };
        if name.ends_with(TMP_SUFFIX)
            && [VOTE_FILE, PURGED_FILE, COMMIT_HINT_FILE].iter().any(|file| name.starts_with(file))
        {
            // A replacement that never got renamed: the previous file is still the truth.
            fs::remove_file(entry.path()).map_err(io_error("remove leftover", &entry.path()))?;
            dir_changed = true;
        } else if let Some(first_index) = parse_segment_file_name(name) {
            segment_files.push((first_index, entry.path()));
        }
    }
    segment_files.sort_by_key(|(first_index, _)| *first_index);

    let last_purged = meta::read_purge_point(dir)?;
    let vote = meta::read_checked(dir, VOTE_FILE)?;

    if let Some(purged) = last_purged {
        // A segment followed by one starting at or below `purged + 1` holds only purged records.
        let below = segment_files
            .windows(2)
            .take_while(|pair| pair[1].0.0 <= purged.index.0.saturating_add(1))
            .count();
        for (_, path) in segment_files.drain(..below) {
            fs::remove_file(&path).map_err(io_error("remove purged segment", &path))?;
            dir_changed = true;
        }
    }

    let mut scans = Vec::with_capacity(segment_files.len());
    for (first_index, path) in segment_files {
        scans.push(scan_segment(path, first_index)?);
    }
    check_sealed_segments(&scans)?;

    let mut truncated_bytes = 0;
    if let Some(last) = scans.pop() {
        truncated_bytes = last.file_len - last.valid_len;
        if let Some(damage) = &last.damage {
            tracing::warn!(
                segment = %last.path.display(),
                offset = damage.offset,
                reason = damage.reason,
                truncated_bytes,
                "truncated torn tail"
            );
        }
        if last.offsets.is_empty() {
            fs::remove_file(&last.path).map_err(io_error("remove empty segment", &last.path))?;
            dir_changed = true;
        } else {
            if truncated_bytes > 0 {
                last.file
                    .set_len(last.valid_len)
                    .map_err(io_error("truncate torn tail", &last.path))?;
                last.file.sync_all().map_err(io_error("fsync segment", &last.path))?;
            }
            scans.push(last);
        }
    }

    if let Some(purged) = last_purged {
        let below = scans
            .iter()
            .take_while(|scan| scan.last_index().is_some_and(|last| last <= purged.index))
            .count();
        for scan in scans.drain(..below) {
            fs::remove_file(&scan.path).map_err(io_error("remove purged segment", &scan.path))?;
            dir_changed = true;
        }
        if let Some(first) = scans.first()
            && first.first_index.0 > purged.index.0.saturating_add(1)
        {
            let reason = format!(
                "log resumes at index {} after purge point {}",
                first.first_index, purged.index
            );
            return Err(first.corrupt(0, reason));
        }
    }

    if dir_changed {
        meta::sync_dir(dir)?;
    }

    let segments = scans
        .into_iter()
        .map(|scan| {
            let last_term = scan.last_term.unwrap_or_default();
            Segment::from_scan(
                scan.path,
                scan.file,
                scan.first_index,
                scan.offsets,
                scan.valid_len,
                last_term,
            )
        })
        .collect();
    Ok(Recovered { segments, last_purged, vote, truncated_bytes })
}

/// Refuses damage in any segment but the last, and gaps or term regressions between segments.
fn check_sealed_segments(scans: &[Scan]) -> Result<(), WalError> {
    let sealed_count = scans.len().saturating_sub(1);
    for scan in &scans[..sealed_count] {
        if let Some(damage) = &scan.damage {
            return Err(
                scan.corrupt(damage.offset, format!("{} in a sealed segment", damage.reason))
            );
        }
        if scan.offsets.is_empty() {
            return Err(scan.corrupt(HEADER_LEN, "sealed segment holds no record".to_string()));
        }
    }
    for pair in scans.windows(2) {
        let [previous, next] = pair else { continue };
        let (Some(previous_last), Some(next_first_term)) = (previous.last_index(), next.first_term)
        else {
            continue;
        };
        if next.first_index.0 != previous_last.0 + 1 {
            let reason = format!(
                "segment starts at index {}, expected {}",
                next.first_index,
                previous_last.next()
            );
            return Err(next.corrupt(0, reason));
        }
        if previous.last_term.is_some_and(|previous_term| next_first_term < previous_term) {
            return Err(next.corrupt(HEADER_LEN, "term goes backwards across segments".to_string()));
        }
    }
    Ok(())
}

/// Reads a segment file from start to end, stopping at the first damaged frame.
fn scan_segment(path: PathBuf, first_index: LogIndex) -> Result<Scan, WalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io_error("open segment", &path))?;
    let file_len = file.metadata().map_err(io_error("stat segment", &path))?.len();
    let mut scan = Scan {
        path,
        file,
        first_index,
        offsets: Vec::new(),
        first_term: None,
        last_term: None,
        valid_len: 0,
        file_len,
        damage: None,
    };
    if file_len < HEADER_LEN {
        scan.damage = Some(Damage { offset: 0, reason: "segment header cut short" });
        return Ok(scan);
    }
    let mut reader = BufReader::with_capacity(1 << 20, &scan.file);
    let mut header = [0u8; HEADER_LEN as usize];
    reader.read_exact(&mut header).map_err(io_error("read segment", &scan.path))?;
    if header.iter().all(|byte| *byte == 0) {
        // Created but never written back: no record in it was ever fsynced.
        scan.damage = Some(Damage { offset: 0, reason: "segment header never written" });
        return Ok(scan);
    }
    if header != encode_header(first_index) {
        let reason = "bad segment header (magic, version or first index)".to_string();
        return Err(scan.corrupt(0, reason));
    }

    let mut offset = HEADER_LEN;
    let mut body = Vec::new();
    while offset < file_len {
        if file_len - offset < FRAME_HEADER_LEN as u64 {
            scan.damage = Some(Damage { offset, reason: "record header cut short" });
            break;
        }
        let mut frame_header = [0u8; FRAME_HEADER_LEN];
        reader.read_exact(&mut frame_header).map_err(io_error("read segment", &scan.path))?;
        let (body_len, crc) = match record::parse_header(&frame_header) {
            Ok(parsed) => parsed,
            Err(error) => {
                scan.damage = Some(Damage { offset, reason: frame_error_reason(error) });
                break;
            }
        };
        if file_len - offset - (FRAME_HEADER_LEN as u64) < body_len as u64 {
            scan.damage = Some(Damage { offset, reason: "record cut short" });
            break;
        }
        body.resize(body_len, 0);
        reader.read_exact(&mut body).map_err(io_error("read segment", &scan.path))?;
        let (term, index) = match record::check_body(&body, crc) {
            Ok(parsed) => parsed,
            Err(error) => {
                scan.damage = Some(Damage { offset, reason: frame_error_reason(error) });
                break;
            }
        };
        // A frame whose CRC holds was written whole: a wrong index or term is not a torn write.
        let expected = first_index.0 + scan.offsets.len() as u64;
        if index.0 != expected {
            return Err(scan.corrupt(offset, format!("expected index {expected}, found {index}")));
        }
        if let Some(previous) = scan.last_term
            && term < previous
        {
            return Err(scan.corrupt(offset, format!("term {} after term {}", term.0, previous.0)));
        }
        scan.offsets.push(offset);
        scan.first_term.get_or_insert(term);
        scan.last_term = Some(term);
        offset += (FRAME_HEADER_LEN + body_len) as u64;
    }
    scan.valid_len = offset;
    Ok(scan)
}

fn frame_error_reason(error: FrameError) -> &'static str {
    match error {
        FrameError::Incomplete => "record cut short",
        FrameError::Invalid(reason) => reason,
    }
}
