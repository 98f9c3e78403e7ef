//! The messages of the tag methods: interims (names or values new since the last message,
//! cumulative metrics) at most every 500 ms while a query runs, then the complete answer, as
//! Tempo's gRPC collector sends them. [`complete`] checks any tag stream; the test here makes
//! the query slow enough to have interims.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::time::Duration;

use spanlake::actors::faults::Fault;
use spanlake::proto::tempopb;
use tokio::time::Instant;
use tracing::info;

use super::connect;
use super::tags::{http_answer, read_all, values_path};
use crate::harness::clients::OtlpGrpc;
use crate::harness::{TestNode, spans, wait_for};

/// A tag method's message: its metrics and its items as comparable strings.
pub(crate) trait TagMessage: Debug {
    fn metrics(&self) -> Option<&tempopb::MetadataMetrics>;
    fn items(&self) -> Vec<String>;
}

impl TagMessage for tempopb::SearchTagsV2Response {
    fn metrics(&self) -> Option<&tempopb::MetadataMetrics> {
        self.metrics.as_ref()
    }
    fn items(&self) -> Vec<String> {
        let tags = |scope: &tempopb::SearchTagsV2Scope| {
            scope.tags.iter().map(|tag| format!("{}:{tag}", scope.name)).collect::<Vec<_>>()
        };
        self.scopes.iter().flat_map(tags).collect()
    }
}

impl TagMessage for tempopb::SearchTagsResponse {
    fn metrics(&self) -> Option<&tempopb::MetadataMetrics> {
        self.metrics.as_ref()
    }
    fn items(&self) -> Vec<String> {
        self.tag_names.clone()
    }
}

impl TagMessage for tempopb::SearchTagValuesV2Response {
    fn metrics(&self) -> Option<&tempopb::MetadataMetrics> {
        self.metrics.as_ref()
    }
    fn items(&self) -> Vec<String> {
        self.tag_values.iter().map(|value| format!("{}:{}", value.r#type, value.value)).collect()
    }
}

impl TagMessage for tempopb::SearchTagValuesResponse {
    fn metrics(&self) -> Option<&tempopb::MetadataMetrics> {
        self.metrics.as_ref()
    }
    fn items(&self) -> Vec<String> {
        self.tag_values.clone()
    }
}

/// The complete answer of a tag stream (its last message), after checking the stream:
/// metrics in every message, interims that carry only items of the answer, none twice, and
/// together with the answer exactly the answer's items.
pub(crate) fn complete<T: TagMessage>(what: &str, messages: Result<Vec<T>, tonic::Status>) -> T {
    let mut messages = messages.unwrap_or_else(|status| panic!("{what}: {status:?}"));
    for message in &messages {
        assert!(message.metrics().is_some(), "{what}: metrics in every message: {message:?}");
    }
    let answer = messages.pop().unwrap_or_else(|| panic!("{what}: no message"));
    let answer_items: BTreeSet<String> = answer.items().into_iter().collect();
    let mut union = answer_items.clone();
    let mut in_interims = BTreeSet::new();
    for interim in &messages {
        for item in interim.items() {
            assert!(answer_items.contains(&item), "{what}: interim item {item} not in the answer");
            assert!(in_interims.insert(item.clone()), "{what}: {item} in two interims");
            union.insert(item);
        }
    }
    assert_eq!(union, answer_items, "{what}: the messages together are the answer");
    answer
}

/// A tag query slower than the interim period streams what it found so far, no faster than
/// every 500 ms (names or values new since the last message, cumulative metrics), then the
/// complete answer, which is what the HTTP route answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_tag_queries_stream_interims_then_the_complete_answer() {
    let node = TestNode::start().await;
    let seeds: Vec<u64> = (1..=1300).collect();
    let mut otlp = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
    otlp.export(spans::request(&seeds, 1), None).await.expect("export acknowledged");
    let mut client = connect(&node).await;
    let routes = tempopb::SearchTagValuesRequest {
        tag_name: "span.http.route".into(),
        ..Default::default()
    };
    let path = values_path("/api/v2/search/tag/", &routes);
    wait_for("every route listed", Duration::from_secs(10), || async {
        let answer: tempopb::SearchTagValuesV2Response = http_answer(&node, &path, None).await;
        answer.tag_values.len() == seeds.len()
    })
    .await;
    // 1300 traces are 6 jobs, 4 at a time: the 5th and 6th start after the first finish.
    let delay = Duration::from_millis(600);
    node.node().faults().arm("query_shard.before_search", Fault::Delay { delay, times: 100 });

    info!("--- SearchTagValuesV2: new values in each interim");
    {
        let started = Instant::now();
        let messages = read_all(client.search_tag_values_v2(routes.clone())).await;
        let elapsed = started.elapsed();
        let count = messages.as_ref().map_or(0, Vec::len);
        info!(messages = count, ?elapsed, "--- streamed");
        assert!(count >= 2, "interims before the final message: {count}");
        assert!(count - 1 <= (elapsed.as_millis() / 500) as usize, "one interim per 500 ms");
        let all = messages.as_ref().expect("streamed");
        let completed: Vec<u32> =
            all.iter().map(|m| m.metrics.map_or(0, |metrics| metrics.completed_jobs)).collect();
        assert!(completed.windows(2).all(|pair| pair[0] <= pair[1]), "cumulative: {completed:?}");
        assert!(completed[0] < 6 && completed[count - 1] == 6, "{completed:?}");
        assert!(!all[0].tag_values.is_empty(), "the first interim has the first job's values");
        let answer = complete("values", messages);
        let http: tempopb::SearchTagValuesV2Response = http_answer(&node, &path, None).await;
        assert_eq!(answer, http, "the final message is the HTTP answer");
        assert_eq!(answer.tag_values.len(), seeds.len());
    }

    info!("--- SearchTagsV2, SearchTags, SearchTagValues: interims too, the same answers");
    {
        let tags = tempopb::SearchTagsRequest::default();
        let v2 = read_all(client.search_tags_v2(tags.clone())).await;
        assert!(v2.as_ref().map_or(0, Vec::len) >= 2, "{v2:?}");
        let v2 = complete("tags v2", v2);
        let http: tempopb::SearchTagsV2Response =
            http_answer(&node, "/api/v2/search/tags", None).await;
        assert_eq!(v2, http);
        let v1 = complete("tags v1", read_all(client.search_tags(tags)).await);
        let http: tempopb::SearchTagsResponse = http_answer(&node, "/api/search/tags", None).await;
        assert_eq!(v1, http);
        let v1_routes = tempopb::SearchTagValuesRequest { tag_name: "http.route".into(), ..routes };
        let values =
            complete("values v1", read_all(client.search_tag_values(v1_routes.clone())).await);
        let http: tempopb::SearchTagValuesResponse =
            http_answer(&node, &values_path("/api/search/tag/", &v1_routes), None).await;
        assert_eq!(values, http);
    }
}
