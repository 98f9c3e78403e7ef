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
//!
//!  SearchTags[V2](req), SearchTagValues[V2](req) ─► tenant ─► TagsQuery / TagValuesQuery
//!      ::from_request (the checks and 400 texts of the HTTP routes) ─► TagSearcher
//!      ─► the complete answer ─► stream, then close (or the failure's status)
//! ```
//!
//! Every message carries `metrics` (Grafana dereferences it). Answers over
//! [`MAX_PACKET_BYTES`] are cut into several messages ([`streaming_packets`]). A client that
//! goes away stops the search. The final search message repeats every trace of the answer;
//! Grafana keeps the first copy of each.
//!
//! The tag methods send no interims: a `TagSearcher` answer is one merge of live data and
//! block dictionaries, and Tempo's tag interims (names new since the last message) would only
//! send parts of it sooner. The request message is what the HTTP routes build from their
//! parameters, so the gRPC answer is the HTTP answer, message for message; a tag name is
//! taken as sent (no percent-decoding, which belongs to URL paths). Hyper drops the call when
//! the client resets the stream, which stops the tag query.
//!
//! The metrics methods (`MetricsQueryRange`, `MetricsQueryInstant`) answer `Unimplemented`
//! until TraceQL metrics exist.
//!
//! [`streaming_packets`]: crate::api::query::streaming_packets

use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::debug;

use crate::actors::query::tag_request::{TagRequestBounds, TagValuesQuery, TagsQuery};
use crate::actors::query::tags::TagSearcher;
use crate::actors::query::{SearchRequest, Searcher};
use crate::api::error_code::ApiError;
use crate::api::query::search_params::SearchParams;
use crate::api::query::streaming_packets::{IntoPackets, MAX_PACKET_BYTES};
use crate::api::query::tags::{failed, rejected};
use crate::api::tenant::{ORG_ID_HEADER, query_tenants};
use crate::config::SearchLimitsConfig;
use crate::model::ids::TenantId;
use crate::proto::tempopb;
use crate::proto::tempopb::streaming_querier_server::StreamingQuerier;

/// Messages queued for a slow client before the search waits for it.
const STREAM_BUFFER: usize = 4;

/// A stream of answers of one call.
pub(crate) type AnswerStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The `StreamingQuerier` service of a node.
pub(crate) struct StreamingQuerierService {
    /// Runs the searches.
    pub searcher: Searcher,
    /// Answers the tag names and values methods.
    pub tag_searcher: TagSearcher,
    /// Whether `x-scope-orgid` is required.
    pub multitenancy: bool,
    /// A search or tag query gives up after this long.
    pub timeout: Duration,
    /// `query_frontend.search`: defaults and bounds of the parameters.
    pub limits: SearchLimitsConfig,
}

impl StreamingQuerierService {
    /// The tenants of a call, from `x-scope-orgid` (`Unauthenticated` when required and
    /// missing or invalid).
    fn tenants<T>(&self, request: &Request<T>) -> Result<Vec<TenantId>, Status> {
        let header = request.metadata().get(ORG_ID_HEADER).and_then(|value| value.to_str().ok());
        Ok(query_tenants(self.multitenancy, header).map_err(ApiError::from)?)
    }

    /// What a tag request may ask for: the same timeout and window cap as a search.
    fn tag_bounds(&self) -> TagRequestBounds {
        TagRequestBounds { timeout: self.timeout, max_window: self.limits.max_duration() }
    }
}

#[tonic::async_trait]
impl StreamingQuerier for StreamingQuerierService {
    type SearchStream = AnswerStream<tempopb::SearchResponse>;

    async fn search(
        &self,
        request: Request<tempopb::SearchRequest>,
    ) -> Result<Response<Self::SearchStream>, Status> {
        let tenants = self.tenants(&request)?;
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
        request: Request<tempopb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsStream>, Status> {
        let tenants = self.tenants(&request)?;
        let query = TagsQuery::from_request(request.get_ref(), false, tenants, self.tag_bounds())
            .map_err(rejected)?;
        let answer = self.tag_searcher.search_tags_v1(&query).await.map_err(failed)?;
        Ok(complete_answer(answer))
    }

    type SearchTagsV2Stream = AnswerStream<tempopb::SearchTagsV2Response>;

    async fn search_tags_v2(
        &self,
        request: Request<tempopb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsV2Stream>, Status> {
        let tenants = self.tenants(&request)?;
        let query = TagsQuery::from_request(request.get_ref(), true, tenants, self.tag_bounds())
            .map_err(rejected)?;
        let answer = self.tag_searcher.search_tags_v2(&query).await.map_err(failed)?;
        Ok(complete_answer(answer))
    }

    type SearchTagValuesStream = AnswerStream<tempopb::SearchTagValuesResponse>;

    async fn search_tag_values(
        &self,
        request: Request<tempopb::SearchTagValuesRequest>,
    ) -> Result<Response<Self::SearchTagValuesStream>, Status> {
        let tenants = self.tenants(&request)?;
        let query =
            TagValuesQuery::from_request(request.get_ref(), false, tenants, self.tag_bounds())
                .map_err(rejected)?;
        let answer = self.tag_searcher.search_tag_values_v1(&query).await.map_err(failed)?;
        Ok(complete_answer(answer))
    }

    type SearchTagValuesV2Stream = AnswerStream<tempopb::SearchTagValuesV2Response>;

    async fn search_tag_values_v2(
        &self,
        request: Request<tempopb::SearchTagValuesRequest>,
    ) -> Result<Response<Self::SearchTagValuesV2Stream>, Status> {
        let tenants = self.tenants(&request)?;
        let query =
            TagValuesQuery::from_request(request.get_ref(), true, tenants, self.tag_bounds())
                .map_err(rejected)?;
        let answer = self.tag_searcher.search_tag_values_v2(&query).await.map_err(failed)?;
        Ok(complete_answer(answer))
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
            let _ = out.send(Err(failed(error).to_grpc_status())).await;
        }
    }
}

/// Sends `response` as one or more messages; `Err` once the client is gone.
async fn send_packets<T: IntoPackets>(
    out: &mpsc::Sender<Result<T, Status>>,
    response: T,
) -> Result<(), ()> {
    for packet in response.into_packets(MAX_PACKET_BYTES) {
        out.send(Ok(packet)).await.map_err(|_| ())?;
    }
    Ok(())
}

/// A stream of the one complete answer, cut into packets.
fn complete_answer<T: IntoPackets + Send + 'static>(answer: T) -> Response<AnswerStream<T>> {
    let packets = answer.into_packets(MAX_PACKET_BYTES).into_iter().map(Ok);
    Response::new(Box::pin(futures::stream::iter(packets)))
}

fn not_yet(method: &str, http_route: &str) -> Status {
    Status::unimplemented(format!(
        "tempopb.StreamingQuerier/{method} is not implemented by spanlake yet; use {http_route}"
    ))
}
