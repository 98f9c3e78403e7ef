//! Cuts a streamed answer into messages of at most [`MAX_PACKET_BYTES`] (encoded), as Tempo
//! does: Grafana's gRPC client refuses messages over 4 MiB. Each message carries the answer's
//! metrics (Grafana dereferences them), and a message holds at least one item, so an item
//! larger than the budget travels alone. Concatenating the messages' lists gives the answer.
//!
//! | answer | cut between |
//! |---|---|
//! | `SearchResponse` | traces |
//! | `SearchTagsResponse`, `SearchTagValuesResponse` | names, values |
//! | `SearchTagValuesV2Response` | typed values |
//! | `SearchTagsV2Response` | tags: a scope cut in two is named again in the next message |

use prost::Message;

use crate::proto::tempopb;

/// Largest message sent (encoded), unless one item alone is larger (Tempo's default).
pub(crate) const MAX_PACKET_BYTES: usize = 1024 * 1024;

/// An answer that can travel as several messages.
pub(crate) trait IntoPackets: Sized {
    /// Cuts the answer into messages of at most `max_bytes` where the items allow; always at
    /// least one message, each with the metrics.
    fn into_packets(self, max_bytes: usize) -> Vec<Self>;
}

impl IntoPackets for tempopb::SearchResponse {
    fn into_packets(self, max_bytes: usize) -> Vec<Self> {
        let metrics = Some(self.metrics.unwrap_or_default());
        let empty = tempopb::SearchResponse { traces: Vec::new(), metrics };
        let runs = runs(self.traces, empty.encoded_len(), max_bytes, |trace| {
            repeated_field_bytes(trace.encoded_len())
        });
        runs.into_iter().map(|traces| tempopb::SearchResponse { traces, metrics }).collect()
    }
}

impl IntoPackets for tempopb::SearchTagsResponse {
    fn into_packets(self, max_bytes: usize) -> Vec<Self> {
        let metrics = Some(self.metrics.unwrap_or_default());
        let empty = tempopb::SearchTagsResponse { tag_names: Vec::new(), metrics };
        let runs = runs(self.tag_names, empty.encoded_len(), max_bytes, |name| {
            repeated_field_bytes(name.len())
        });
        runs.into_iter()
            .map(|tag_names| tempopb::SearchTagsResponse { tag_names, metrics })
            .collect()
    }
}

impl IntoPackets for tempopb::SearchTagValuesResponse {
    fn into_packets(self, max_bytes: usize) -> Vec<Self> {
        let metrics = Some(self.metrics.unwrap_or_default());
        let empty = tempopb::SearchTagValuesResponse { tag_values: Vec::new(), metrics };
        let runs = runs(self.tag_values, empty.encoded_len(), max_bytes, |value| {
            repeated_field_bytes(value.len())
        });
        runs.into_iter()
            .map(|tag_values| tempopb::SearchTagValuesResponse { tag_values, metrics })
            .collect()
    }
}

impl IntoPackets for tempopb::SearchTagValuesV2Response {
    fn into_packets(self, max_bytes: usize) -> Vec<Self> {
        let metrics = Some(self.metrics.unwrap_or_default());
        let empty = tempopb::SearchTagValuesV2Response { tag_values: Vec::new(), metrics };
        let runs = runs(self.tag_values, empty.encoded_len(), max_bytes, |value| {
            repeated_field_bytes(value.encoded_len())
        });
        runs.into_iter()
            .map(|tag_values| tempopb::SearchTagValuesV2Response { tag_values, metrics })
            .collect()
    }
}

impl IntoPackets for tempopb::SearchTagsV2Response {
    fn into_packets(self, max_bytes: usize) -> Vec<Self> {
        let metrics = Some(self.metrics.unwrap_or_default());
        let empty = || tempopb::SearchTagsV2Response { scopes: Vec::new(), metrics };
        let base_bytes = empty().encoded_len();
        let mut packets = Vec::new();
        let mut current = empty();
        let mut size = base_bytes;
        let mut packet_has_tags = false;
        for scope in self.scopes {
            // A scope's frame in a message: its own key and length prefix (counted at the
            // widest a message of `max_bytes` needs), and its name.
            let scope_bytes =
                1 + prost::length_delimiter_len(max_bytes) + repeated_field_bytes(scope.name.len());
            let mut open = tempopb::SearchTagsV2Scope { name: scope.name, tags: Vec::new() };
            size += scope_bytes;
            for tag in scope.tags {
                let tag_bytes = repeated_field_bytes(tag.len());
                if packet_has_tags && size + tag_bytes > max_bytes {
                    let name = open.name.clone();
                    if !open.tags.is_empty() {
                        current.scopes.push(open);
                    }
                    packets.push(std::mem::replace(&mut current, empty()));
                    open = tempopb::SearchTagsV2Scope { name, tags: Vec::new() };
                    size = base_bytes + scope_bytes;
                }
                size += tag_bytes;
                open.tags.push(tag);
                packet_has_tags = true;
            }
            current.scopes.push(open);
        }
        packets.push(current);
        packets
    }
}

/// The bytes a length-delimited item of `len` bytes takes in a repeated field numbered
/// below 16: key, length prefix, body.
fn repeated_field_bytes(len: usize) -> usize {
    1 + prost::length_delimiter_len(len) + len
}

/// Groups `items`, in order, into runs that fit in `max_bytes` next to `base_bytes`; a run
/// holds at least one item; there is always one run, maybe empty.
fn runs<T>(
    items: Vec<T>,
    base_bytes: usize,
    max_bytes: usize,
    bytes_of: impl Fn(&T) -> usize,
) -> Vec<Vec<T>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    let mut size = base_bytes;
    for item in items {
        let item_bytes = bytes_of(&item);
        if !current.is_empty() && size + item_bytes > max_bytes {
            runs.push(std::mem::take(&mut current));
            size = base_bytes;
        }
        size += item_bytes;
        current.push(item);
    }
    runs.push(current);
    runs
}

#[cfg(test)]
#[path = "streaming_packets_tests.rs"]
mod tests;
