//! The dictionary pages of string column chunks: every distinct value of a column in a row
//! group, when every data page of the chunk uses the dictionary (no fallback to plain).
//!
//! ```text
//!  column chunk:  [dictionary page][data page][data page]…
//!                  └─ fetched alone (dictionary_page_offset..data_page_offset), decompressed,
//!                     PLAIN byte arrays (u32 little-endian length, bytes) split into values
//! ```
//!
//! A search uses them to rule row groups out before reading any data page: a value (or an
//! attribute key) absent from an exhaustive dictionary occurs in no row of the group.

use std::sync::Arc;

use bytes::{Buf, Bytes};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageReader};
use parquet::errors::ParquetError;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::reader::{ChunkReader, Length};
use parquet::file::serialized_reader::SerializedPageReader;

use super::reader::ObjectReader;

/// The distinct values of one column chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dictionary {
    pub values: Vec<Bytes>,
}

/// Whether every data page of the chunk is dictionary-encoded, so its dictionary lists
/// every value (the writer falls back to plain pages when a dictionary grows too large).
pub(crate) fn is_exhaustive(chunk: &ColumnChunkMetaData) -> bool {
    chunk.dictionary_page_offset().is_some()
        && chunk.page_encoding_stats_mask().is_some_and(|mask| {
            mask.is_only(Encoding::PLAIN_DICTIONARY) || mask.is_only(Encoding::RLE_DICTIONARY)
        })
}

/// Reads the dictionary of a string column chunk; `None` when it is not exhaustive (or not a
/// byte-array column), so it cannot rule anything out.
pub(crate) async fn read_dictionary(
    reader: &mut ObjectReader,
    chunk: &ColumnChunkMetaData,
) -> Result<Option<Dictionary>, ParquetError> {
    if chunk.column_type() != PhysicalType::BYTE_ARRAY || !is_exhaustive(chunk) {
        return Ok(None);
    }
    let Some(start) = chunk.dictionary_page_offset().and_then(|offset| u64::try_from(offset).ok())
    else {
        return Ok(None);
    };
    let Ok(end) = u64::try_from(chunk.data_page_offset()) else {
        return Ok(None);
    };
    if end <= start {
        return Ok(None);
    }
    let bytes = reader.get_bytes(start..end).await?;
    let fetched = Arc::new(Fetched { start, bytes });
    let total_rows = usize::try_from(chunk.num_values()).unwrap_or(0);
    let mut pages = SerializedPageReader::new(fetched, chunk, total_rows, None)?;
    match pages.get_next_page()? {
        Some(Page::DictionaryPage { buf, num_values, .. }) => {
            Ok(Some(Dictionary { values: plain_byte_arrays(buf, num_values)? }))
        }
        _ => Ok(None),
    }
}

/// Splits PLAIN-encoded byte arrays.
fn plain_byte_arrays(mut buf: Bytes, count: u32) -> Result<Vec<Bytes>, ParquetError> {
    let mut values = Vec::with_capacity(count as usize);
    for _ in 0..count {
        if buf.remaining() < 4 {
            return Err(ParquetError::General("dictionary page ends early".to_string()));
        }
        let length = buf.get_u32_le() as usize;
        if buf.remaining() < length {
            return Err(ParquetError::General("dictionary value runs past its page".to_string()));
        }
        values.push(buf.split_to(length));
    }
    Ok(values)
}

/// A byte range of the file, fetched, served to Parquet's page reader at file offsets.
struct Fetched {
    start: u64,
    bytes: Bytes,
}

impl Fetched {
    fn slice_from(&self, start: u64, length: Option<usize>) -> Result<Bytes, ParquetError> {
        let from = start
            .checked_sub(self.start)
            .and_then(|offset| usize::try_from(offset).ok())
            .filter(|&offset| offset <= self.bytes.len())
            .ok_or_else(|| ParquetError::EOF(format!("offset {start} is outside the fetch")))?;
        let to = match length {
            Some(length) => from
                .checked_add(length)
                .filter(|&to| to <= self.bytes.len())
                .ok_or_else(|| ParquetError::EOF("read past the fetched range".to_string()))?,
            None => self.bytes.len(),
        };
        Ok(self.bytes.slice(from..to))
    }
}

impl Length for Fetched {
    fn len(&self) -> u64 {
        self.start + self.bytes.len() as u64
    }
}

impl ChunkReader for Fetched {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> Result<Self::T, ParquetError> {
        Ok(self.slice_from(start, None)?.reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> Result<Bytes, ParquetError> {
        self.slice_from(start, Some(length))
    }
}
