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
//!      ::from_request (the checks and 400 texts of the HTTP routes)
//!      └─► task: TagSearcher ─┬─ interims (≤ every 500 ms: names or values new since the
//!                             │  last message, cumulative metrics) ─► stream
//!                             └─ complete answer ─► stream, then close (or the failure's status)
//! ```
//!
//! Every message carries `metrics` (Grafana dereferences it). Answers over
//! [`MAX_PACKET_BYTES`] are cut into several messages ([`streaming_packets`]). A client that
//! goes away stops the query. The final message repeats every trace, name or value of the
//! answer: Grafana keeps the first copy of each trace, and Tempo's tag clients take the final
//! tag message as the answer (its interims are diffs, as ours).
//!
//! The tag request message is what the HTTP routes build from their parameters, so the final
//! gRPC answer is the HTTP answer; a tag name is taken as sent (no percent-decoding, which
//! belongs to URL paths).
//!
//! The metrics methods (`MetricsQueryRange`, `MetricsQueryInstant`) answer `Unimplemented`
//! until TraceQL metrics exist.
//!
//! [`streaming_packets`]: crate::api::query::streaming_packets

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tracing::debug;

use crate::actors::query::tag_request::{TagRequestBounds, TagValuesQuery, TagsQuery};
use crate::actors::query::tags::TagSearcher;
use crate::actors::query::{QueryError, Searcher};
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
        let searcher = self.searcher.clone();
        Ok(stream_answer(move |interims| async move {
            searcher.search_streaming(&search, interims).await
        }))
    }

    type SearchTagsStream = AnswerStream<tempopb::SearchTagsResponse>;

    async fn search_tags(
        &self,
        request: Request<tempopb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsStream>, Status> {
        let tenants = self.tenants(&request)?;
        let query = TagsQuery::from_request(request.get_ref(), false, tenants, self.tag_bounds())
            .map_err(rejected)?;
        let searcher = self.tag_searcher.clone();
        Ok(stream_answer(move |interims| async move {
            searcher.search_tags_v1(&query, Some(interims)).await
        }))
    }

    type SearchTagsV2Stream = AnswerStream<tempopb::SearchTagsV2Response>;

    async fn search_tags_v2(
        &self,
        request: Request<tempopb::SearchTagsRequest>,
    ) -> Result<Response<Self::SearchTagsV2Stream>, Status> {
        let tenants = self.tenants(&request)?;
        let query = TagsQuery::from_request(request.get_ref(), true, tenants, self.tag_bounds())
            .map_err(rejected)?;
        let searcher = self.tag_searcher.clone();
        Ok(stream_answer(move |interims| async move {
            searcher.search_tags_v2(&query, Some(interims)).await
        }))
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
        let searcher = self.tag_searcher.clone();
        Ok(stream_answer(move |interims| async move {
            searcher.search_tag_values_v1(&query, Some(interims)).await
        }))
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
        let searcher = self.tag_searcher.clone();
        Ok(stream_answer(move |interims| async move {
            searcher.search_tag_values_v2(&query, Some(interims)).await
        }))
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

/// Starts `query` on a task and streams what it sends: its interims as they come, then its
/// answer (or the failure's status). Dropping the stream (the client went away) stops the
/// query.
fn stream_answer<T, Query, Run>(query: Query) -> Response<AnswerStream<T>>
where
    T: IntoPackets + Send + 'static,
    Query: FnOnce(mpsc::Sender<T>) -> Run + Send + 'static,
    Run: Future<Output = Result<T, QueryError>> + Send,
{
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    tokio::spawn(async move {
        let (interim_sender, interims) = mpsc::channel(1);
        forward(query(interim_sender), interims, sender).await;
    });
    Response::new(Box::pin(ReceiverStream::new(receiver)))
}

/// Writes the interims of a running query to `out`, then its answer, until the answer or the
/// client is gone.
async fn forward<T: IntoPackets>(
    answer: impl Future<Output = Result<T, QueryError>>,
    mut interims: mpsc::Receiver<T>,
    out: mpsc::Sender<Result<T, Status>>,
) {
    let forward_interims = async {
        while let Some(interim) = interims.recv().await {
            if send_packets(&out, interim).await.is_err() {
                return;
            }
        }
    };
    let outcome = tokio::select! {
        // Dropping the query future drops its jobs not yet run.
        () = out.closed() => {
            debug!("stream closed by the client; query stopped");
            return;
        }
        (outcome, ()) = futures::future::join(answer, forward_interims) => outcome,
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

fn not_yet(method: &str, http_route: &str) -> Status {
    Status::unimplemented(format!(
        "tempopb.StreamingQuerier/{method} is not implemented by spanlake yet; use {http_route}"
    ))
}
