//! gRPC `tempopb.StreamingQuerier` (tempo-api.md §6), served on the query port next to the
//! HTTP API; Grafana's Tempo data source calls it when streaming is on.
//!
//! ```text
//!  Search(req) ─► tenant (x-scope-orgid) ─► SearchParams::from_grpc ─► validate
//!      │            (refusals are a status before the stream starts: Unauthenticated,
//!      │             InvalidArgument with the text GET /api/search gives)
//!      └─► task: Searcher::search_streaming ─┬─ interims (≤ every 500 ms: traces new since the
//!                                            │  last message, cumulative metrics) ─► stream
//!                                            └─ complete answer ─► stream, then close
//!                                               (or the failure's status)
//! ```
//!
//! Every message carries `metrics` (Grafana dereferences it). A message over
//! [`MAX_PACKET_BYTES`] is cut into several, each with the metrics, as Tempo does: Grafana's
//! gRPC client refuses messages over 4 MiB. A client that goes away stops the search. The
//! final message repeats every trace of the answer; Grafana keeps the first copy of each.
//!
//! The tag and metrics methods answer `Unimplemented` until their HTTP twins exist.

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::debug;

use crate::actors::query::{SearchRequest, Searcher};
use crate::api::error_code::ApiError;
use crate::api::query::search_params::SearchParams;
use crate::api::tenant::{ORG_ID_HEADER, query_tenants};
use crate::config::SearchLimitsConfig;
use crate::proto::tempopb;
use crate::proto::tempopb::streaming_querier_server::StreamingQuerier;

/// Largest message sent (encoded), unless one trace alone is larger (Tempo's default).
pub(crate) const MAX_PACKET_BYTES: usize = 1024 * 1024;
/// Messages queued for a slow client before the search waits for it.
const STREAM_BUFFER: usize = 4;

/// A stream of answers of one call.
pub(crate) type AnswerStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The `StreamingQuerier` service of a node.
pub(crate) struct StreamingQuerierService {
    /// Runs the searches.
    pub searcher: Searcher,
    /// Whether `x-scope-orgid` is required.
    pub multitenancy: bool,
    /// A search gives up after this long.
    pub timeout: Duration,
    /// `query_frontend.search`: defaults and bounds of the parameters.
    pub limits: SearchLimitsConfig,
}

#[tonic::async_trait]
impl StreamingQuerier for StreamingQuerierService {
    type SearchStream = AnswerStream<tempopb::SearchResponse>;

    async fn search(
        &self,
        request: Request<tempopb::SearchRequest>,
    ) -> Result<Response<Self::SearchStream>, Status> {
        let header = request.metadata().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
        let tenants = query_tenants(self.multitenancy, header).map_err(ApiError::from)?;
        let search = SearchParams::from_grpc(request.get_ref()).validate(
            tenants,
            self.timeout,
            &self.limits,
        )?;
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        tokio::spawn(stream_search(self.searcher.clone(), search, sender));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    type SearchTagsStream = AnswerStream<tempopb::SearchTagsResponse>;

    async fn search_tags(
        &self,
        _request: Request<tempopb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsStream>, Status> {
        Err(not_yet("SearchTags", "GET /api/search/tags"))
    }

    type SearchTagsV2Stream = AnswerStream<tempopb::SearchTagsV2Response>;

    async fn search_tags_v2(
        &self,
        _request: Request<tempopb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsV2Stream>, Status> {
        Err(not_yet("SearchTagsV2", "GET /api/v2/search/tags"))
    }

    type SearchTagValuesStream = AnswerStream<tempopb::SearchTagValuesResponse>;

    async fn search_tag_values(
        &self,
        _request: Request<tempopb::SearchTagValuesRequest>,
    ) -> Result<Response<Self::SearchTagValuesStream>, Status> {
        Err(not_yet("SearchTagValues", "GET /api/search/tag/<tag>/values"))
    }

    type SearchTagValuesV2Stream = AnswerStream<tempopb::SearchTagValuesV2Response>;

    async fn search_tag_values_v2(
        &self,
        _request: Request<tempopb::SearchTagValuesRequest>,
    ) -> Result<Response<Self::SearchTagValuesV2Stream>, Status> {
        Err(not_yet("SearchTagValuesV2", "GET /api/v2/search/tag/<tag>/values"))
    }

    type MetricsQueryRangeStream = AnswerStream<tempopb::QueryRangeResponse>;

    async fn metrics_query_range(
        &self,
        _request: Request<tempopb::QueryRangeRequest>,
    ) -> Result<Response<Self::MetricsQueryRangeStream>, Status> {
        Err(not_yet("MetricsQueryRange", "GET /api/metrics/query_range"))
    }

    type MetricsQueryInstantStream = AnswerStream<tempopb::QueryInstantResponse>;

    async fn metrics_query_instant(
        &self,
        _request: Request<tempopb::QueryInstantRequest>,
    ) -> Result<Response<Self::MetricsQueryInstantStream>, Status> {
        Err(not_yet("MetricsQueryInstant", "GET /api/metrics/query"))
    }
}

/// Runs one search and writes its messages to `out`, until the answer or the client is gone.
async fn stream_search(
    searcher: Searcher,
    request: SearchRequest,
    out: mpsc::Sender<Result<tempopb::SearchResponse, Status>>,
) {
    let (interim_sender, mut interims) = mpsc::channel(1);
    let search = searcher.search_streaming(&request, interim_sender);
    let forward_interims = async {
        while let Some(interim) = interims.recv().await {
            if send_packets(&out, interim).await.is_err() {
                return;
            }
        }
    };
    let outcome = tokio::select! {
        // Dropping the search future drops its jobs not yet run.
        () = out.closed() => {
            debug!("search stream closed by the client; search stopped");
            return;
        }
        (outcome, ()) = futures::future::join(search, forward_interims) => outcome,
    };
    match outcome {
        Ok(answer) => {
            let _ = send_packets(&out, answer).await;
        }
        Err(error) => {
            let status = ApiError::new(error.error_code(), error.to_string()).to_grpc_status();
            let _ = out.send(Err(status)).await;
        }
    }
}

/// Sends `response` as one or more messages; `Err` once the client is gone.
async fn send_packets(
    out: &mpsc::Sender<Result<tempopb::SearchResponse, Status>>,
    response: tempopb::SearchResponse,
) -> Result<(), ()> {
    for packet in into_packets(response, MAX_PACKET_BYTES) {
        out.send(Ok(packet)).await.map_err(|_| ())?;
    }
    Ok(())
}

/// Cuts `response` into messages of at most `max_bytes` (at least one trace each), each with
/// the metrics; an answer without traces is one message.
pub(crate) fn into_packets(
    response: tempopb::SearchResponse,
    max_bytes: usize,
) -> Vec<tempopb::SearchResponse> {
    let metrics = Some(response.metrics.unwrap_or_default());
    let empty = || tempopb::SearchResponse { traces: Vec::new(), metrics };
    let base_size = empty().encoded_len();
    let mut packets = vec![empty()];
    let mut size = base_size;
    for trace in response.traces {
        // As a repeated field: tag, length prefix, body.
        let trace_size = 1 + prost::length_delimiter_len(trace.encoded_len()) + trace.encoded_len();
        let starts_a_packet = packets.last().is_some_and(|packet| !packet.traces.is_empty())
            && size + trace_size > max_bytes;
        if starts_a_packet {
            packets.push(empty());
            size = base_size;
        }
        size += trace_size;
        if let Some(packet) = packets.last_mut() {
            packet.traces.push(trace);
        }
    }
    packets
}

fn not_yet(method: &str, http_route: &str) -> Status {
    Status::unimplemented(format!(
        "tempopb.StreamingQuerier/{method} is not implemented by spanlake yet; use {http_route}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(id: usize, name_bytes: usize) -> tempopb::TraceSearchMetadata {
        tempopb::TraceSearchMetadata {
            trace_id: format!("{id:032x}"),
            root_trace_name: "x".repeat(name_bytes),
            ..Default::default()
        }
    }

    #[test]
    fn answers_are_cut_into_packets_that_each_carry_the_metrics() {
        let metrics = tempopb::SearchMetrics { inspected_traces: 7, ..Default::default() };
        let response = tempopb::SearchResponse {
            traces: (0..10).map(|id| trace(id, 300)).collect(),
            metrics: Some(metrics),
        };
        let packets = into_packets(response.clone(), 1000);
        assert!(packets.len() >= 4, "{} packets", packets.len());
        for packet in &packets {
            assert!(packet.encoded_len() <= 1000, "{} bytes", packet.encoded_len());
            assert_eq!(packet.metrics.as_ref(), Some(&metrics));
        }
        let rejoined: Vec<_> = packets.into_iter().flat_map(|p| p.traces).collect();
        assert_eq!(rejoined, response.traces, "every trace once, in order");

        let whole = into_packets(response.clone(), MAX_PACKET_BYTES);
        assert_eq!(whole, vec![response]);
    }

    #[test]
    fn an_empty_answer_or_a_huge_trace_is_still_one_message_with_metrics() {
        let empty = into_packets(tempopb::SearchResponse::default(), 1000);
        assert_eq!(empty.len(), 1);
        assert!(empty[0].metrics.is_some(), "metrics are always present");
        let huge = tempopb::SearchResponse { traces: vec![trace(1, 5000)], metrics: None };
        let packets = into_packets(huge, 1000);
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].traces.len(), 1);
    }
}
