//! The sharded bloom filter of a block's trace ids: a lookup reads one small shard and learns
//! whether the block may hold the trace.
//!
//! The shard of an id is `xxh3_64(id, SHARD_SEED) % shards` — seeded, so it is independent of
//! the partition choice (`TraceId::routing_hash`, unseeded) and every shard of a partition's
//! block gets its share. Inside a shard, fastbloom works from a second seeded xxh3 of the id
//! (`insert_hash`/`contains_hash`), so the bits depend on our hash, not on fastbloom's default
//! hasher; a golden test pins the bit layout of fastbloom's index derivation.
//!
//! ```text
//! bloom-<n> = header | word u64 LE × words | crc32c u32 LE (of everything before it)
//! header    = "SLBLOOM\0" | version u32 LE (1) | shard u32 LE | shards u32 LE |
//!             hashes u32 LE | words u32 LE
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use fastbloom::BloomFilter;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::BlockError;
use crate::model::ids::TraceId;

const MAGIC: &[u8; 8] = b"SLBLOOM\0";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 28;
const CRC_BYTES: usize = 4;
/// Seed of the shard choice.
const SHARD_SEED: u64 = 0x7368_6172_645f_7631; // "shard_v1"
/// Seed of the hash fastbloom derives its bit positions from.
const ITEM_SEED: u64 = 0x626c_6f6f_6d5f_7631; // "bloom_v1"
/// fastbloom's own hasher seed; unused by `*_hash` calls, fixed so nothing is random.
const FILTER_SEED: u128 = 0x7370_616e_6c61_6b65;

/// The shard that holds `trace_id` in a block with `shards` shards.
pub(crate) fn shard_for(trace_id: TraceId, shards: u32) -> u32 {
    (xxh3_64_with_seed(&trace_id.0, SHARD_SEED) % u64::from(shards.max(1))) as u32
}

/// How many shards a block with `traces` trace ids gets.
pub(crate) fn shard_count(traces: usize, traces_per_shard: usize) -> u32 {
    traces.div_ceil(traces_per_shard.max(1)).max(1) as u32
}

fn item_hash(trace_id: TraceId) -> u64 {
    xxh3_64_with_seed(&trace_id.0, ITEM_SEED)
}

/// One decoded shard.
#[derive(Debug, Clone)]
pub(crate) struct TraceIdBloom {
    shard: u32,
    shards: u32,
    filter: BloomFilter,
}

impl TraceIdBloom {
    /// Builds every shard for `trace_ids` (each id once) and returns their stored forms, shard
    /// 0 first. `false_positive` must be in (0, 1).
    pub(crate) fn build_shards(
        trace_ids: &[TraceId],
        false_positive: f64,
        traces_per_shard: usize,
    ) -> Vec<Bytes> {
        let shards = shard_count(trace_ids.len(), traces_per_shard);
        let mut members: Vec<Vec<u64>> = vec![Vec::new(); shards as usize];
        for trace_id in trace_ids {
            members[shard_for(*trace_id, shards) as usize].push(item_hash(*trace_id));
        }
        members
            .into_iter()
            .enumerate()
            .map(|(shard, hashes)| {
                let mut filter = BloomFilter::with_false_pos(false_positive)
                    .seed(&FILTER_SEED)
                    .expected_items(hashes.len().max(1));
                for hash in hashes {
                    filter.insert_hash(hash);
                }
                TraceIdBloom { shard: shard as u32, shards, filter }.encode()
            })
            .collect()
    }

    /// This shard's number.
    pub(crate) fn shard(&self) -> u32 {
        self.shard
    }

    /// The block's shard count.
    pub(crate) fn shards(&self) -> u32 {
        self.shards
    }

    /// False when the block surely lacks `trace_id`. The id must belong to this shard.
    pub(crate) fn may_contain(&self, trace_id: TraceId) -> bool {
        debug_assert_eq!(shard_for(trace_id, self.shards), self.shard, "asked the wrong shard");
        self.filter.contains_hash(item_hash(trace_id))
    }

    fn encode(&self) -> Bytes {
        let words = self.filter.as_slice();
        let mut out = BytesMut::with_capacity(HEADER_BYTES + words.len() * 8 + CRC_BYTES);
        out.put_slice(MAGIC);
        out.put_u32_le(VERSION);
        out.put_u32_le(self.shard);
        out.put_u32_le(self.shards);
        out.put_u32_le(self.filter.num_hashes());
        out.put_u32_le(words.len() as u32);
        for word in words {
            out.put_u64_le(*word);
        }
        let crc = crc32c::crc32c(&out);
        out.put_u32_le(crc);
        out.freeze()
    }

    /// Parses a stored shard, checking its checksum and shape.
    pub(crate) fn decode(bytes: &[u8], object: &str) -> Result<TraceIdBloom, BlockError> {
        let corrupt = |reason: String| BlockError::Corrupt { object: object.to_string(), reason };
        if bytes.len() < HEADER_BYTES + CRC_BYTES || &bytes[..8] != MAGIC {
            return Err(corrupt("not a bloom shard".to_string()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - CRC_BYTES);
        if crc32c::crc32c(body).to_le_bytes() != crc {
            return Err(corrupt("checksum mismatch".to_string()));
        }
        let field = |index: usize| {
            let at = 8 + index * 4;
            u32::from_le_bytes([body[at], body[at + 1], body[at + 2], body[at + 3]])
        };
        let (version, shard, shards, hashes, words) =
            (field(0), field(1), field(2), field(3), field(4) as usize);
        if version != VERSION {
            return Err(BlockError::Decode {
                object: object.to_string(),
                reason: format!("unsupported bloom version {version}"),
            });
        }
        if words == 0 || body.len() != HEADER_BYTES + words * 8 {
            return Err(corrupt(format!("{words} words do not fit {} bytes", body.len())));
        }
        if shards == 0 || shard >= shards || hashes == 0 {
            return Err(corrupt(format!("shard {shard} of {shards} with {hashes} hashes")));
        }
        let bits: Vec<u64> = body[HEADER_BYTES..]
            .chunks_exact(8)
            .map(|word| {
                u64::from_le_bytes([
                    word[0], word[1], word[2], word[3], word[4], word[5], word[6], word[7],
                ])
            })
            .collect();
        let filter = BloomFilter::from_vec(bits).seed(&FILTER_SEED).hashes(hashes);
        Ok(TraceIdBloom { shard, shards, filter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(count: u64, salt: u64) -> Vec<TraceId> {
        (0..count)
            .map(|n| {
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&n.to_be_bytes());
                id[8..].copy_from_slice(&salt.to_be_bytes());
                TraceId(id)
            })
            .collect()
    }

    fn decode_all(shards: &[Bytes]) -> Vec<TraceIdBloom> {
        shards.iter().map(|bytes| TraceIdBloom::decode(bytes, "bloom").unwrap()).collect()
    }

    fn may_contain(filters: &[TraceIdBloom], trace_id: TraceId) -> bool {
        let shard = shard_for(trace_id, filters[0].shards());
        filters[shard as usize].may_contain(trace_id)
    }

    #[test]
    fn no_false_negatives_and_false_positives_near_the_configured_rate() {
        let members = ids(100_000, 1);
        let shards = TraceIdBloom::build_shards(&members, 0.01, 30_000);
        assert_eq!(shards.len(), 4);
        let filters = decode_all(&shards);
        for (shard, filter) in filters.iter().enumerate() {
            assert_eq!(filter.shard() as usize, shard);
        }
        assert!(members.iter().all(|id| may_contain(&filters, *id)));
        let strangers = ids(100_000, 2);
        let false_positives = strangers.iter().filter(|id| may_contain(&filters, **id)).count();
        let rate = false_positives as f64 / strangers.len() as f64;
        assert!(rate < 0.02, "false positive rate {rate}");
    }

    #[test]
    fn shards_are_balanced() {
        let mut counts = [0u32; 8];
        for id in ids(80_000, 3) {
            counts[shard_for(id, 8) as usize] += 1;
        }
        assert!(counts.iter().all(|count| (9_000..11_000).contains(count)), "{counts:?}");
    }

    #[test]
    fn an_empty_block_has_one_shard_that_contains_nothing() {
        let shards = TraceIdBloom::build_shards(&[], 0.01, 100);
        assert_eq!(shards.len(), 1);
        let filters = decode_all(&shards);
        assert!(!may_contain(&filters, TraceId([7; 16])));
    }

    #[test]
    fn damage_is_detected() {
        let shard = TraceIdBloom::build_shards(&ids(100, 4), 0.01, 1_000).remove(0);
        for position in [0, 9, 30, shard.len() - 1] {
            let mut damaged = shard.to_vec();
            damaged[position] ^= 0x01;
            assert!(TraceIdBloom::decode(&damaged, "bloom-0").unwrap_err().is_corrupt());
        }
        assert!(TraceIdBloom::decode(&shard[..20], "bloom-0").unwrap_err().is_corrupt());
    }

    /// Pins the stored bytes: a fastbloom upgrade that changes how bit positions derive from
    /// the hash would make old blocks answer wrongly, and must fail here first.
    #[test]
    fn the_stored_layout_is_stable() {
        let shard = TraceIdBloom::build_shards(&ids(1_000, 5), 0.01, 10_000).remove(0);
        assert_eq!(shard.len(), 1_232);
        assert_eq!(xxhash_rust::xxh3::xxh3_64(&shard), 9_325_011_586_260_924_625);
    }
}
