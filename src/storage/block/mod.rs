//! Block format v1: the immutable, object-stored form of a partition's spans.
//!
//! A block holds the spans of one tenant cut from one partition log range
//! (`first_index..=last_index`). It is five kinds of objects under one prefix:
//!
//! ```text
//! <tenant>/<block-id>/                 block id = p{partition}-{first:020}-{last:020}
//! ├── meta.json       BlockMeta: format version, tenant, log range, time range, counts, sizes
//! ├── bloom-0 … n-1   trace-id bloom filter, sharded: shard = xxh3(trace id, seed) % n
//! ├── index           trace-id index: sorted (first id, last id) → (row group, rows)
//! ├── tags.json       tag dictionary: names and distinct values per scope, capped
//! └── data.parquet    one row per span, sorted by trace id, start, span id; zstd,
//!                     dictionaries, bounded row groups, page statistics and page index
//! ```
//!
//! # Trace by id
//!
//! ```text
//!  meta.json ──► bloom-{shard_for(id)} ──► index ──► data.parquet footer (cached per block)
//!  (cached)      may_contain(id)? no: done  lookup(id): a few row ranges, usually one
//!                                                │
//!                                                └──► pages of those rows only (offset index),
//!                                                     filter rows == id, regroup into
//!                                                     ResourceSpans
//! ```
//!
//! So a lookup reads at most three small objects (meta, one bloom shard, index) and the pages
//! of one row range. The footer and page index are read once per open block.
//!
//! # Rows
//! Columns are listed in [`schema`] and `docs/block-format.md`. A span's resource and scope
//! repeat on every row (dictionaries and run lengths make that cheap); reading regroups the
//! spans of a trace by equal (resource, schema url, scope, schema url). Three tricks keep the
//! rows small and exact:
//! - Well-known attributes (`service.name`, `http.method`, …) have dedicated columns when
//!   their value has the column's type; a per-row list of their original positions restores
//!   the attribute order.
//! - A parent inside the trace is not stored: `nested_set_parent` names it (the span whose
//!   `nested_set_left` it is). Only parents the nested set cannot name are kept as bytes.
//! - `duration_nano` is `end − start` wrapping, so any end (even before the start) returns.
//!
//! # Modules
//! - [`meta`]: `BlockMeta` (`meta.json`) and `BlockId`.
//! - [`schema`]: the Arrow schema, column names, dedicated-column table.
//! - [`attributes`]: typed key/value lists, both ways; `dedicated`: dedicated columns.
//! - [`nested_set`]: nested-set numbers of a trace's span tree.
//! - `rows`: spans to Arrow record batches; `decode`: back, and regrouping.
//! - [`writer`]: `build_block`, synchronous and deterministic.
//! - [`reader`]: `ObjectReader` (`AsyncFileReader` over `object_store`), `BlockDataReader`,
//!   `read_trace`, `read_all`, loading of the small objects, `upload_block`.
//! - [`bloom`], [`trace_index`]: the two lookup objects.
//! - [`tag_dictionary`]: `tags.json`, what tag autocomplete reads instead of the rows.

pub(crate) mod attributes;
pub(crate) mod bloom;
mod decode;
mod dedicated;
mod dictionaries;
pub(crate) mod eval_decode;
mod eval_needs;
pub(crate) mod meta;
pub(crate) mod reader;
mod rows;
pub(crate) mod scan_filter;
pub(crate) mod schema;
pub(crate) mod search_scan;
pub(crate) mod tag_dictionary;
pub(crate) mod trace_index;
pub(crate) mod writer;

#[cfg(test)]
mod test_traces;
#[cfg(test)]
mod tests;

use object_store::path::{Path, PathPart};
use thiserror::Error;

use crate::model::ids::TenantId;
// The surface the block-builder and the querier use.
#[allow(unused_imports)]
pub(crate) use bloom::TraceIdBloom;
#[allow(unused_imports)]
pub(crate) use meta::{BlockId, BlockMeta, FORMAT_VERSION};
#[allow(unused_imports)]
pub(crate) use reader::{
    BlockDataReader, ObjectReader, load_bloom_for, load_index, load_meta, load_tag_dictionary,
    read_all, read_trace, upload_block,
};
#[allow(unused_imports)]
pub(crate) use tag_dictionary::{TagDictionary, TagScope, TagValues};
#[allow(unused_imports)]
pub(crate) use trace_index::TraceIndex;
#[allow(unused_imports)]
pub(crate) use writer::{BlockBuildOptions, BlockInputTrace, BuiltBlock, build_block};

/// Name of the data object inside a block's prefix.
pub(crate) const DATA_OBJECT: &str = "data.parquet";
/// Name of the trace-id index object.
pub(crate) const INDEX_OBJECT: &str = "index";
/// Name of the tag dictionary object. Blocks written before it existed lack it.
pub(crate) const TAGS_OBJECT: &str = "tags.json";
/// Name of the metadata object. Uploaded last: a block without it is incomplete.
pub(crate) const META_OBJECT: &str = "meta.json";

/// Why a block could not be built, read or trusted.
#[derive(Debug, Error)]
pub(crate) enum BlockError {
    /// The input breaks a rule of the format (a span of another trace, a bad span id).
    #[error("invalid block input: {reason}")]
    InvalidInput {
        /// What is wrong.
        reason: String,
    },
    /// Arrow or Parquet refused to encode the rows.
    #[error("encoding the block failed: {reason}")]
    Encode {
        /// The encoder's message.
        reason: String,
    },
    /// An object could not be decoded: Parquet failed, or the format version or schema is not
    /// one this build reads.
    #[error("decoding {object} failed: {reason}")]
    Decode {
        /// The object's path.
        object: String,
        /// What went wrong.
        reason: String,
    },
    /// An object fails its checksum or its own consistency rules.
    #[error("{object} is corrupt: {reason}")]
    Corrupt {
        /// The object's path.
        object: String,
        /// What is wrong.
        reason: String,
    },
    /// The object store failed (not found, transient, permission…): the caller classifies.
    #[error("object store error on {object}: {source}")]
    Io {
        /// The object's path.
        object: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
}

impl BlockError {
    /// True when the stored bytes cannot be trusted (as opposed to unreachable or unsupported).
    pub(crate) fn is_corrupt(&self) -> bool {
        matches!(self, BlockError::Corrupt { .. })
    }

    /// True when an object of the block does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, BlockError::Io { source: object_store::Error::NotFound { .. }, .. })
    }
}

/// A decoding rule broken by stored data, before the caller names the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed(pub String);

impl Malformed {
    /// The error for `object`.
    pub(crate) fn in_object(self, object: &str) -> BlockError {
        BlockError::Corrupt { object: object.to_string(), reason: self.0 }
    }
}

/// The prefix every object of a block lives under: `<tenant>/<block-id>/`.
pub(crate) fn block_prefix(tenant: &TenantId, block_id: &BlockId) -> Path {
    Path::from_iter([PathPart::from(tenant.as_str()), PathPart::from(block_id.as_str())])
}

/// `<tenant>/<block-id>/data.parquet`.
pub(crate) fn data_path(tenant: &TenantId, block_id: &BlockId) -> Path {
    block_prefix(tenant, block_id).join(DATA_OBJECT)
}

/// `<tenant>/<block-id>/index`.
pub(crate) fn index_path(tenant: &TenantId, block_id: &BlockId) -> Path {
    block_prefix(tenant, block_id).join(INDEX_OBJECT)
}

/// `<tenant>/<block-id>/bloom-<shard>`.
pub(crate) fn bloom_path(tenant: &TenantId, block_id: &BlockId, shard: u32) -> Path {
    block_prefix(tenant, block_id).join(format!("bloom-{shard}").as_str())
}

/// `<tenant>/<block-id>/tags.json`.
pub(crate) fn tags_path(tenant: &TenantId, block_id: &BlockId) -> Path {
    block_prefix(tenant, block_id).join(TAGS_OBJECT)
}

/// `<tenant>/<block-id>/meta.json`.
pub(crate) fn meta_path(tenant: &TenantId, block_id: &BlockId) -> Path {
    block_prefix(tenant, block_id).join(META_OBJECT)
}

#[cfg(test)]
mod key_tests {
    use super::*;
    use crate::model::ids::{LogIndex, PartitionId};

    #[test]
    fn keys_follow_the_documented_layout() {
        let tenant = TenantId::new("acme");
        let block = BlockId::for_log_range(PartitionId(3), LogIndex(1), LogIndex(42));
        assert_eq!(
            data_path(&tenant, &block).as_ref(),
            "acme/p3-00000000000000000001-00000000000000000042/data.parquet"
        );
        assert_eq!(index_path(&tenant, &block).filename(), Some("index"));
        assert_eq!(bloom_path(&tenant, &block, 7).filename(), Some("bloom-7"));
        assert_eq!(meta_path(&tenant, &block).filename(), Some("meta.json"));
        assert_eq!(tags_path(&tenant, &block).filename(), Some("tags.json"));
    }

    #[test]
    fn a_tenant_cannot_escape_its_prefix() {
        let block = BlockId::for_log_range(PartitionId(0), LogIndex(1), LogIndex(1));
        let path = data_path(&TenantId::new("a/b"), &block);
        assert_eq!(path.parts().count(), 3);
    }
}
