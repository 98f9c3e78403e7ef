//! Jaeger agent datagrams over UDP: `Agent.emitBatch` in Thrift compact (`:6831`) or binary
//! (`:6832`), what Jaeger clients and the OpenTelemetry Jaeger exporter's agent mode send.
//!
//! ```text
//!  datagram (≤ 65,000 bytes) ─► decode_agent_emit_batch ─► distributor.push
//!                                 bad: counted as refused (malformed), logged at debug
//! ```
//!
//! UDP has no answer: a datagram that does not decode, or that the distributor refuses, is
//! counted (`spanlake_distributor_requests_refused`) and dropped, as Jaeger's agent does.
//! Datagrams are handled one at a time, so a slow distributor makes the socket's buffer, not
//! memory, absorb the burst.

use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tracing::debug;

use crate::actors::DistributorHandle;
use crate::actors::distributor::IngestError;
use crate::api::tenant::ingest_tenant;
use crate::model::convert::jaeger_thrift::{ThriftProtocol, decode_agent_emit_batch};

/// The largest datagram Jaeger clients send (their `maxPacketSize`).
const MAX_DATAGRAM: usize = 65_000;

/// Receives datagrams on `socket` until `shutdown` fires.
pub(crate) async fn serve(
    socket: UdpSocket,
    protocol: ThriftProtocol,
    distributor: DistributorHandle,
    multitenancy: bool,
    mut shutdown: oneshot::Receiver<()>,
) {
    // Datagrams carry no headers: with multi-tenancy on there is no tenant to take them for.
    let tenant = match ingest_tenant(multitenancy, None) {
        Ok(tenant) => tenant,
        Err(error) => {
            tracing::warn!(%error, "Jaeger agent UDP receiver needs multi-tenancy off; not serving");
            return;
        }
    };
    let mut buffer = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let received = tokio::select! {
            _ = &mut shutdown => return,
            received = socket.recv_from(&mut buffer) => received,
        };
        let (size, from) = match received {
            Ok(received) => received,
            Err(error) => {
                debug!(%error, "Jaeger agent UDP receive failed");
                continue;
            }
        };
        let outcome = if size > MAX_DATAGRAM {
            Err(IngestError::TooLarge { size, limit: MAX_DATAGRAM })
        } else {
            decode_agent_emit_batch(&buffer[..size], protocol)
                .map_err(|error| IngestError::Malformed { message: error.to_string() })
        };
        match outcome {
            Ok(spans) => {
                if let Err(error) = distributor.push(tenant.clone(), spans, size).await {
                    debug!(%from, %error, "Jaeger agent datagram refused");
                }
            }
            Err(error) => {
                debug!(%from, %error, "Jaeger agent datagram dropped");
                distributor.count_refused_request(&tenant, &error);
            }
        }
    }
}
