//! Network faults a test can inject into one node's transport: isolate it, cut it off from
//! chosen peers, delay or drop its messages.
//!
//! Checked on both sides (a node's outgoing calls and the calls it receives), so isolating a
//! node cuts every link to it even though the other nodes' transports are untouched.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::cluster::types::NodeId;

/// The faults armed on one node's transport; all off by default.
#[derive(Debug, Default)]
pub struct NetFaults {
    isolated: AtomicBool,
    blocked: Mutex<HashSet<NodeId>>,
    delay_micros: AtomicU64,
    drop_per_mille: AtomicU32,
    sequence: AtomicU64,
}

/// What happens to one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Sent after this delay (zero when no delay is armed).
    Deliver(Duration),
    /// Lost: the caller sees the peer as unreachable.
    Drop,
}

impl NetFaults {
    /// Cuts every link of this node (both directions) until [`NetFaults::heal`].
    pub fn isolate(&self) {
        self.isolated.store(true, Ordering::SeqCst);
    }

    /// Cuts the link to one peer (both directions, as this node sees it).
    pub fn block(&self, peer: NodeId) {
        self.blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(peer);
    }

    /// Delays every message this node sends.
    pub fn delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_micros.store(micros, Ordering::SeqCst);
    }

    /// Drops this share of the messages this node sends (0.0 to 1.0).
    pub fn drop_ratio(&self, ratio: f64) {
        let per_mille = (ratio.clamp(0.0, 1.0) * 1000.0).round() as u32;
        self.drop_per_mille.store(per_mille, Ordering::SeqCst);
    }

    /// Clears every fault.
    pub fn heal(&self) {
        self.isolated.store(false, Ordering::SeqCst);
        self.blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
        self.delay_micros.store(0, Ordering::SeqCst);
        self.drop_per_mille.store(0, Ordering::SeqCst);
    }

    /// Whether a link to or from `peer` is cut (`None`: the peer is unknown, e.g. a joiner).
    pub fn is_cut(&self, peer: Option<NodeId>) -> bool {
        if self.isolated.load(Ordering::SeqCst) {
            return true;
        }
        let Some(peer) = peer else { return false };
        self.blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).contains(&peer)
    }

    /// The fate of one message this node sends to `peer`.
    pub fn outgoing(&self, peer: NodeId) -> Verdict {
        if self.is_cut(Some(peer)) {
            return Verdict::Drop;
        }
        let per_mille = self.drop_per_mille.load(Ordering::SeqCst);
        if per_mille > 0 {
            // A deterministic spread (no RNG needed): SplitMix64 of a sequence number.
            let mut x =
                self.sequence.fetch_add(1, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^= x >> 31;
            if (x % 1000) < u64::from(per_mille) {
                return Verdict::Drop;
            }
        }
        Verdict::Deliver(Duration::from_micros(self.delay_micros.load(Ordering::SeqCst)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_cuts_every_peer_until_healed() {
        let faults = NetFaults::default();
        assert_eq!(faults.outgoing(2), Verdict::Deliver(Duration::ZERO));
        faults.isolate();
        assert_eq!(faults.outgoing(2), Verdict::Drop);
        assert!(faults.is_cut(None));
        faults.heal();
        assert_eq!(faults.outgoing(2), Verdict::Deliver(Duration::ZERO));
    }

    #[test]
    fn blocking_cuts_one_peer() {
        let faults = NetFaults::default();
        faults.block(3);
        assert_eq!(faults.outgoing(3), Verdict::Drop);
        assert_eq!(faults.outgoing(2), Verdict::Deliver(Duration::ZERO));
        assert!(!faults.is_cut(None));
    }

    #[test]
    fn drop_ratio_drops_about_that_share() {
        let faults = NetFaults::default();
        faults.drop_ratio(0.25);
        let dropped = (0..4000).filter(|_| faults.outgoing(1) == Verdict::Drop).count();
        assert!((800..1200).contains(&dropped), "dropped {dropped} of 4000");
        faults.delay(Duration::from_millis(5));
        faults.drop_ratio(0.0);
        assert_eq!(faults.outgoing(1), Verdict::Deliver(Duration::from_millis(5)));
    }
}
