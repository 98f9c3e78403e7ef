//! Record framing: how one log record is laid out on disk and checked with CRC-32C.
//!
//! ```text
//! ┌────────────┬────────────┬──────────────────────────────────────────┐
//! │ len u32 LE │ crc u32 LE │ body: term u64 LE │ index u64 LE │ payload │
//! └────────────┴────────────┴──────────────────────────────────────────┘
//!   len = body length, crc = crc32c(body)
//! ```

use bytes::Bytes;

use super::Record;
use crate::model::ids::{LogIndex, Term};

/// Bytes before the body: `len` and `crc`.
pub(super) const FRAME_HEADER_LEN: usize = 8;

/// Bytes of the body before the payload: `term` and `index`.
pub(super) const BODY_PREFIX_LEN: usize = 16;

/// The largest body accepted; a larger `len` can only be garbage.
pub(super) const MAX_BODY_LEN: usize = 1 << 30;

/// The largest payload a record may carry.
pub(super) const MAX_PAYLOAD_LEN: usize = MAX_BODY_LEN - BODY_PREFIX_LEN;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FrameError {
    /// The buffer ends inside the frame.
    Incomplete,
    /// The frame is damaged: the text says how.
    Invalid(&'static str),
}

/// Returns the on-disk size of a record carrying `payload_len` bytes.
pub(super) fn frame_len(payload_len: usize) -> u64 {
    (FRAME_HEADER_LEN + BODY_PREFIX_LEN + payload_len) as u64
}

/// Appends the frame of `record` to `out`.
pub(super) fn encode(record: &Record, out: &mut Vec<u8>) {
    debug_assert!(
        record.payload.len() <= MAX_PAYLOAD_LEN,
        "payload length is checked before encoding"
    );
    let body_len = BODY_PREFIX_LEN + record.payload.len();
    let header_at = out.len();
    out.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    let body_at = out.len();
    out.extend_from_slice(&record.term.0.to_le_bytes());
    out.extend_from_slice(&record.index.0.to_le_bytes());
    out.extend_from_slice(&record.payload);
    let crc = crc32c::crc32c(&out[body_at..]);
    // The length fits: it is at most MAX_BODY_LEN, checked by the caller.
    out[header_at..header_at + 4].copy_from_slice(&(body_len as u32).to_le_bytes());
    out[header_at + 4..body_at].copy_from_slice(&crc.to_le_bytes());
}

/// Parses a frame header into `(body_len, crc)`, refusing impossible lengths.
pub(super) fn parse_header(header: &[u8; FRAME_HEADER_LEN]) -> Result<(usize, u32), FrameError> {
    let body_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if body_len < BODY_PREFIX_LEN {
        return Err(FrameError::Invalid("record length shorter than its term and index"));
    }
    if body_len > MAX_BODY_LEN {
        return Err(FrameError::Invalid("record length above 1 GiB"));
    }
    Ok((body_len, crc))
}

/// Checks a body against its CRC and returns its term and index.
pub(super) fn check_body(body: &[u8], crc: u32) -> Result<(Term, LogIndex), FrameError> {
    if crc32c::crc32c(body) != crc {
        return Err(FrameError::Invalid("crc mismatch"));
    }
    let Some((term, rest)) = body.split_first_chunk::<8>() else {
        return Err(FrameError::Invalid("record body too short"));
    };
    let Some((index, _payload)) = rest.split_first_chunk::<8>() else {
        return Err(FrameError::Invalid("record body too short"));
    };
    Ok((Term(u64::from_le_bytes(*term)), LogIndex(u64::from_le_bytes(*index))))
}

/// Decodes the frame at `buffer[at..]`, returning the record and the frame's length; the payload
/// shares `buffer`'s memory.
pub(super) fn decode(buffer: &Bytes, at: usize) -> Result<(Record, usize), FrameError> {
    let Some(header) = buffer.get(at..at + FRAME_HEADER_LEN) else {
        return Err(FrameError::Incomplete);
    };
    let mut header_bytes = [0u8; FRAME_HEADER_LEN];
    header_bytes.copy_from_slice(header);
    let (body_len, crc) = parse_header(&header_bytes)?;
    let body_at = at + FRAME_HEADER_LEN;
    let body_end = body_at + body_len;
    let Some(body) = buffer.get(body_at..body_end) else {
        return Err(FrameError::Incomplete);
    };
    let (term, index) = check_body(body, crc)?;
    let payload = buffer.slice(body_at + BODY_PREFIX_LEN..body_end);
    Ok((Record { term, index, payload }, FRAME_HEADER_LEN + body_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(index: u64, payload: &'static [u8]) -> Record {
        Record { term: Term(7), index: LogIndex(index), payload: Bytes::from_static(payload) }
    }

    #[test]
    fn frames_round_trip() {
        let mut buffer = Vec::new();
        encode(&record(1, b"hello"), &mut buffer);
        encode(&record(2, b""), &mut buffer);
        assert_eq!(buffer.len() as u64, frame_len(5) + frame_len(0));
        let buffer = Bytes::from(buffer);
        let (first, first_len) = decode(&buffer, 0).unwrap();
        assert_eq!(first, record(1, b"hello"));
        let (second, second_len) = decode(&buffer, first_len).unwrap();
        assert_eq!(second, record(2, b""));
        assert_eq!(decode(&buffer, first_len + second_len), Err(FrameError::Incomplete));
    }

    #[test]
    fn damaged_frames_are_refused() {
        let mut buffer = Vec::new();
        encode(&record(1, b"hello"), &mut buffer);
        for cut in 0..buffer.len() {
            let partial = Bytes::copy_from_slice(&buffer[..cut]);
            assert_eq!(decode(&partial, 0), Err(FrameError::Incomplete), "cut at {cut}");
        }
        let last = buffer.len() - 1;
        buffer[last] ^= 0x01;
        assert_eq!(decode(&Bytes::from(buffer), 0), Err(FrameError::Invalid("crc mismatch")));
        let zeros = Bytes::from(vec![0u8; 64]);
        assert!(matches!(decode(&zeros, 0), Err(FrameError::Invalid(_))));
        let mut huge = vec![0xff; 8];
        huge.extend_from_slice(&[0u8; 16]);
        assert_eq!(
            decode(&Bytes::from(huge), 0),
            Err(FrameError::Invalid("record length above 1 GiB"))
        );
    }
}
