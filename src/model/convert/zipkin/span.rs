//! A Zipkin v2 span as the JSON and protobuf decoders hand it to the OTLP mapping.
//!
//! ```text
//!  JSON object / proto Span ──► ZipkinSpan { ids as bytes, µs times, endpoints, tags } ──► to_otlp
//! ```
//!
//! Both wire forms carry the same model (`zipkin2-api.yaml`, `zipkin.proto`); decoding them
//! into one struct keeps the mapping rules in one place.

use std::collections::BTreeMap;
use std::net::IpAddr;

/// One decoded Zipkin v2 span.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ZipkinSpan {
    /// Position in the request's list, for error messages.
    pub(super) index: usize,
    /// The trace id, a 64-bit id left-padded with zero bytes.
    pub(super) trace_id: [u8; 16],
    /// The span id.
    pub(super) id: [u8; 8],
    /// The parent span id; `None` for a root span.
    pub(super) parent_id: Option<[u8; 8]>,
    /// The operation name, as sent (Zipkin lower-cases it on its side, we do not).
    pub(super) name: String,
    /// The kind; `None` when absent or not one of Zipkin's four names.
    pub(super) kind: Option<ZipkinKind>,
    /// Start in epoch microseconds; `None` when absent or zero (Zipkin's "unset").
    pub(super) timestamp_micros: Option<u64>,
    /// Duration in microseconds; 0 when absent.
    pub(super) duration_micros: u64,
    /// The host that recorded the span; `None` when absent or empty.
    pub(super) local_endpoint: Option<Endpoint>,
    /// The other side of an RPC or messaging span; `None` when absent or empty.
    pub(super) remote_endpoint: Option<Endpoint>,
    /// Timestamped events.
    pub(super) annotations: Vec<Annotation>,
    /// String tags, sorted by key (so attributes come out in a stable order).
    pub(super) tags: BTreeMap<String, String>,
}

/// Zipkin's span kinds; a span without one is local or incomplete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ZipkinKind {
    Client,
    Server,
    Producer,
    Consumer,
}

impl ZipkinKind {
    /// The kind of an exact, upper-case Zipkin name; other names are no kind (the Collector
    /// treats them so rather than refusing the span).
    pub(super) fn from_name(name: &str) -> Option<ZipkinKind> {
        match name {
            "CLIENT" => Some(ZipkinKind::Client),
            "SERVER" => Some(ZipkinKind::Server),
            "PRODUCER" => Some(ZipkinKind::Producer),
            "CONSUMER" => Some(ZipkinKind::Consumer),
            _ => None,
        }
    }
}

/// The network context of one side of a span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Endpoint {
    /// Label of the node in the service graph; `""` when unknown.
    pub(super) service_name: String,
    /// The `ipv4` field (which, as for the Collector, may hold any IP address).
    pub(super) ipv4: Option<IpAddr>,
    /// The `ipv6` field.
    pub(super) ipv6: Option<IpAddr>,
    /// The port; 0 when unknown.
    pub(super) port: u16,
}

impl Endpoint {
    /// The endpoint, or `None` when it carries nothing (Zipkin treats both alike).
    pub(super) fn non_empty(self) -> Option<Endpoint> {
        (self != Endpoint::default()).then_some(self)
    }
}

/// A timestamped event on a span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Annotation {
    /// Epoch microseconds.
    pub(super) timestamp_micros: u64,
    /// Usually a short code ("ws", "error"); the OTel Zipkin exporter also packs event
    /// attributes into it (see `tag_rules::event_from_annotation`).
    pub(super) value: String,
}

/// An address as Go's `net.IP.String` prints it, which is what the Collector stores: an
/// IPv4-mapped IPv6 address is printed as the IPv4 address.
pub(super) fn ip_text(address: IpAddr) -> String {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Epoch microseconds as nanoseconds; `None` past the year 2554.
pub(super) fn micros_to_nanos(micros: u64) -> Option<u64> {
    micros.checked_mul(1_000)
}
