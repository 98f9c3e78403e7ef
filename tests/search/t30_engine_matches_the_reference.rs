//! A real node, fed the shop over OTLP/gRPC, answers every catalogued query through
//! `GET /api/search` exactly as the reference evaluator does: the same traces, and per trace
//! the same spansets (as span-id sets, order ignored), with `matched` counting every span.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value;
use spanlake::config::HumanDuration;
use spanlake::traceql::parse_and_validate;
use tracing::info;

use crate::harness::clients::{OtlpGrpc, TempoClient, spans_in};
use crate::harness::reference::{ExpectedSpanset, Reference, trace_id_hex};
use crate::harness::shop::{Shop, TraceShape, export_requests, hex, shop};
use crate::harness::{TestNode, wait_for};
use crate::queries::{CatalogueQuery, catalogue};
use crate::t20_shop_dataset_and_query_catalogue::{SHOP_REQUESTS, SHOP_SEED};

/// Far more than the shop's traces, so no result is cut.
const LIMIT: usize = 100_000;
/// Export requests stay well under gRPC's default 4 MiB message limit.
const MAX_REQUEST_BYTES: usize = 512 * 1024;
/// Traces and spansets described per mismatching query.
const SHOWN: usize = 5;

/// Every catalogued query (100+, covering all of §5) finds on live data the traces and
/// spansets the reference computes from the spec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_matches_the_reference_on_live_data() {
    let shop = shop(SHOP_SEED, SHOP_REQUESTS);
    // No block is cut during the test: every trace stays in the live store, which a search
    // without start/end reads ("recent data", as in Tempo).
    let node = TestNode::start_with(|config| {
        config.block_builder.max_block_duration = HumanDuration::from_secs(3_600);
    })
    .await;
    let tempo = node.tempo();

    {
        info!(
            "--- ingest {} traces ({} spans) over OTLP/gRPC",
            shop.traces.len(),
            shop.span_count()
        );
        let mut grpc = OtlpGrpc::connect(&node.otlp_grpc_url()).await;
        for request in export_requests(&shop.resource_spans, MAX_REQUEST_BYTES) {
            grpc.export(request, None).await.expect("export acknowledged");
        }
    }
    {
        info!("--- every trace reads back whole by id");
        for trace in &shop.traces {
            let id = hex(&trace.trace_id);
            let expected: BTreeSet<String> = shop
                .spans()
                .filter(|(_, _, span)| span.trace_id == trace.trace_id)
                .map(|(_, _, span)| hex(&span.span_id))
                .collect();
            wait_for(&format!("trace {id} to read back whole"), Duration::from_secs(60), || {
                let (tempo, id, expected) = (&tempo, &id, &expected);
                async move {
                    let found = tempo.trace_v2_protobuf(id).await;
                    let ids: BTreeSet<String> =
                        spans_in(&found).iter().map(|s| hex(&s.span_id)).collect();
                    &ids == expected
                }
            })
            .await;
        }
    }
    {
        info!("--- search sees every trace");
        let (status, _, body) = tempo.get(&search_path("{ }", 1), None).await;
        assert!(
            status != 404,
            "GET /api/search is not served (404): the search route has not landed yet"
        );
        assert_eq!(status, 200, "search for {{ }} failed: {}", String::from_utf8_lossy(&body));
        let total = shop.traces.len();
        wait_for(
            &format!("search for {{ }} to find all {total} traces"),
            Duration::from_secs(60),
            || {
                let tempo = &tempo;
                async move {
                    engine_search(tempo, "{ }", 1).await.is_ok_and(|found| found.len() == total)
                }
            },
        )
        .await;
    }
    {
        info!("--- every catalogued query matches the reference");
        let reference = Reference::new(&shop.resource_spans);
        let labels = Labels::new(&shop);
        let queries = catalogue(&shop);
        let mut mismatches = Vec::new();
        for (number, query) in queries.iter().enumerate() {
            let parsed =
                parse_and_validate(&query.text).unwrap_or_else(|e| panic!("{}: {e}", query.text));
            let expected =
                reference.search(&parsed).unwrap_or_else(|e| panic!("{}: {e}", query.text));
            let found = engine_search(&tempo, &query.text, 0).await;
            if let Some(report) = describe_mismatch(number, query, &expected, &found, &labels) {
                mismatches.push(report);
            }
        }
        assert!(
            mismatches.is_empty(),
            "{} of {} queries differ from the reference:\n\n{}",
            mismatches.len(),
            queries.len(),
            mismatches.join("\n")
        );
    }
}

/// A spanset as the engine returned it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct FoundSpanset {
    span_ids: BTreeSet<String>,
    /// `matched`.
    matched: usize,
    /// Entries in `spans` (all of them with `spss=0`).
    listed: usize,
}

/// A window (Unix seconds) holding every span of the shop: searches read both the live-store
/// and the blocks cut meanwhile (the builder flushes idle traces after seconds), so this
/// compares live, block and mixed answers alike.
const WINDOW: (u64, u64) = (1_699_990_000, 1_700_090_000);

fn search_path(query: &str, spans_per_spanset: usize) -> String {
    format!(
        "/api/search?q={}&limit={LIMIT}&spss={spans_per_spanset}&start={}&end={}",
        percent_encode(query),
        WINDOW.0,
        WINDOW.1
    )
}

/// Runs a search; per trace id, the spansets found (sorted).
async fn engine_search(
    tempo: &TempoClient,
    query: &str,
    spans_per_spanset: usize,
) -> Result<BTreeMap<String, Vec<FoundSpanset>>, String> {
    let (status, _, body) = tempo.get(&search_path(query, spans_per_spanset), None).await;
    if status != 200 {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    let json: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| format!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))?;
    parse_search_response(&json)
}

/// Per trace id, the spansets of a `SearchResponse` (sorted); `spanSet` when there is no
/// `spanSets`.
fn parse_search_response(
    json: &serde_json::Value,
) -> Result<BTreeMap<String, Vec<FoundSpanset>>, String> {
    let mut result = BTreeMap::new();
    for trace in json["traces"].as_array().into_iter().flatten() {
        let id =
            trace["traceID"].as_str().ok_or_else(|| format!("a trace without traceID: {trace}"))?;
        let spansets: Vec<&serde_json::Value> = match trace["spanSets"].as_array() {
            Some(sets) => sets.iter().collect(),
            None => trace.get("spanSet").into_iter().collect(),
        };
        let mut found = Vec::new();
        for set in spansets {
            let spans = set["spans"].as_array().cloned().unwrap_or_default();
            let span_ids = spans
                .iter()
                .map(|span| {
                    span["spanID"]
                        .as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("a span without spanID: {span}"))
                })
                .collect::<Result<BTreeSet<String>, String>>()?;
            let matched = set["matched"].as_u64().unwrap_or(0) as usize;
            found.push(FoundSpanset { span_ids, matched, listed: spans.len() });
        }
        found.sort();
        if result.insert(id.to_string(), found).is_some() {
            return Err(format!("trace {id} is listed twice"));
        }
    }
    Ok(result)
}

/// Names for the diff: trace id → shape, span id → "service/name".
struct Labels {
    traces: HashMap<String, TraceShape>,
    spans: HashMap<String, String>,
}

impl Labels {
    fn new(shop: &Shop) -> Labels {
        let traces = shop.traces.iter().map(|t| (trace_id_hex(&t.trace_id), t.shape)).collect();
        let mut spans = HashMap::new();
        for (rs, _, span) in shop.spans() {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                    any_value::Value::StringValue(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "?".to_string());
            spans.entry(hex(&span.span_id)).or_insert(format!("{service}/{}", span.name));
        }
        Labels { traces, spans }
    }

    fn trace(&self, id: &str) -> String {
        match self.traces.get(id) {
            Some(shape) => format!("{id} ({shape:?})"),
            None => format!("{id} (not in the shop)"),
        }
    }

    fn spanset(&self, span_ids: &BTreeSet<String>, spans: usize) -> String {
        let names: Vec<String> = span_ids
            .iter()
            .take(8)
            .map(|id| format!("{id} {}", self.spans.get(id).map_or("?", String::as_str)))
            .collect();
        let more = if span_ids.len() > 8 {
            format!(", … {} more", span_ids.len() - 8)
        } else {
            String::new()
        };
        format!("{spans} spans [{}{more}]", names.join(", "))
    }
}

/// A readable report of how the engine's answer differs from the reference, or `None`.
fn describe_mismatch(
    number: usize,
    query: &CatalogueQuery,
    expected: &BTreeMap<String, Vec<ExpectedSpanset>>,
    found: &Result<BTreeMap<String, Vec<FoundSpanset>>, String>,
    labels: &Labels,
) -> Option<String> {
    let header = format!("#{number} [{}] {}", query.category, query.text);
    let found = match found {
        Ok(found) => found,
        Err(error) => return Some(format!("{header}\n  the search failed: {error}\n")),
    };
    let mut lines = Vec::new();
    let missing: Vec<&String> = expected.keys().filter(|id| !found.contains_key(*id)).collect();
    let extra: Vec<&String> = found.keys().filter(|id| !expected.contains_key(*id)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        lines.push(format!(
            "  expected {} traces, the engine returned {}",
            expected.len(),
            found.len()
        ));
    }
    for id in missing.iter().take(SHOWN) {
        let sets: Vec<String> =
            expected[*id].iter().map(|s| labels.spanset(&s.span_ids, s.spans)).collect();
        lines.push(format!("  missing trace {}: expected {}", labels.trace(id), sets.join(" | ")));
    }
    for id in extra.iter().take(SHOWN) {
        let sets: Vec<String> =
            found[*id].iter().map(|s| labels.spanset(&s.span_ids, s.matched)).collect();
        lines.push(format!(
            "  unexpected trace {}: returned {}",
            labels.trace(id),
            sets.join(" | ")
        ));
    }
    let mut differing = 0;
    for (id, expected_sets) in expected {
        let Some(found_sets) = found.get(id) else { continue };
        let mut problems = Vec::new();
        for set in found_sets.iter().filter(|s| s.listed != s.matched) {
            problems.push(format!(
                "    spanset lists {} spans but says matched = {}",
                set.listed, set.matched
            ));
        }
        let want: Vec<(&BTreeSet<String>, usize)> =
            expected_sets.iter().map(|s| (&s.span_ids, s.spans)).collect();
        let got: Vec<(&BTreeSet<String>, usize)> =
            found_sets.iter().map(|s| (&s.span_ids, s.matched)).collect();
        if want != got {
            for (ids, spans) in want.iter().filter(|w| !got.contains(w)) {
                problems.push(format!("    only expected: {}", labels.spanset(ids, *spans)));
            }
            for (ids, spans) in got.iter().filter(|g| !want.contains(g)) {
                problems.push(format!("    only returned: {}", labels.spanset(ids, *spans)));
            }
            if problems.is_empty() {
                problems.push(format!(
                    "    expected {} spansets, returned {}",
                    want.len(),
                    got.len()
                ));
            }
        }
        if !problems.is_empty() {
            differing += 1;
            if differing <= SHOWN {
                lines.push(format!("  trace {}:", labels.trace(id)));
                lines.extend(problems);
            }
        }
    }
    if differing > SHOWN {
        lines.push(format!("  … spansets differ in {} more traces", differing - SHOWN));
    }
    if lines.is_empty() { None } else { Some(format!("{header}\n{}\n", lines.join("\n"))) }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The comparison itself, before any engine exists: the reference's answers rendered as a
/// search response parse back and compare equal for every catalogued query, each query
/// reaches the server in `q` exactly as written, and a changed answer is reported with the
/// query, the trace and the spansets that differ.
#[test]
fn the_comparison_accepts_the_reference_as_a_response_and_reports_any_difference() {
    let shop = shop(SHOP_SEED, SHOP_REQUESTS);
    let reference = Reference::new(&shop.resource_spans);
    let labels = Labels::new(&shop);
    let queries = catalogue(&shop);
    for (number, query) in queries.iter().enumerate() {
        let parsed = parse_and_validate(&query.text).expect("catalogued queries are valid");
        let expected = reference.search(&parsed).expect("the reference answers");
        let found = parse_search_response(&render_response(&expected));
        let report = describe_mismatch(number, query, &expected, &found, &labels);
        assert_eq!(report, None, "the reference disagrees with itself");
        let url = reqwest::Url::parse(&format!("http://node{}", search_path(&query.text, 0)))
            .expect("a valid URL");
        let sent = url.query_pairs().find(|(key, _)| key == "q").map(|(_, value)| value);
        assert_eq!(sent.as_deref(), Some(query.text.as_str()), "q is decoded as written");
    }

    let (number, query) = queries
        .iter()
        .enumerate()
        .find(|(_, q)| q.text == "{ status = error } | by(resource.service.name)")
        .expect("catalogued");
    let expected = reference.search(&parse_and_validate(&query.text).expect("valid")).expect("ok");
    let mut altered = expected.clone();
    let dropped_trace = altered.keys().next().expect("errors exist").clone();
    altered.remove(&dropped_trace);
    let (changed_trace, sets) = altered.iter_mut().next().expect("several traces have errors");
    let changed_trace = changed_trace.clone();
    let removed_span = sets[0].span_ids.iter().next().expect("spansets are not empty").clone();
    sets[0].span_ids.remove(&removed_span);
    sets[0].spans -= 1;
    let found = parse_search_response(&render_response(&altered));
    let report = describe_mismatch(number, query, &expected, &found, &labels)
        .expect("a difference is reported");
    for part in [&query.text, &dropped_trace, &changed_trace, &removed_span] {
        assert!(report.contains(part.as_str()), "{part} is not in the report:\n{report}");
    }
    assert!(report.contains("missing trace") && report.contains("only expected"), "{report}");

    let inconsistent = serde_json::json!({"traces": [{"traceID": "ab", "spanSet": {
        "spans": [{"spanID": "0000000000000001"}], "matched": 2}}]});
    let found = parse_search_response(&inconsistent).expect("the deprecated spanSet is read");
    assert_eq!(
        found["ab"],
        [FoundSpanset { span_ids: ["0000000000000001".to_string()].into(), matched: 2, listed: 1 }]
    );
}

/// A `SearchResponse` as Tempo renders it, every span listed (`spss=0`).
fn render_response(answer: &BTreeMap<String, Vec<ExpectedSpanset>>) -> serde_json::Value {
    let traces: Vec<serde_json::Value> = answer
        .iter()
        .map(|(trace_id, sets)| {
            let spansets: Vec<serde_json::Value> = sets
                .iter()
                .map(|set| {
                    // Two spans sharing an id are both listed.
                    let mut ids: Vec<&String> = set.span_ids.iter().collect();
                    while ids.len() < set.spans {
                        ids.push(ids[0]);
                    }
                    let spans: Vec<serde_json::Value> =
                        ids.iter().map(|id| serde_json::json!({"spanID": id})).collect();
                    serde_json::json!({"spans": spans, "matched": set.spans})
                })
                .collect();
            serde_json::json!({"traceID": trace_id, "spanSet": spansets[0], "spanSets": spansets})
        })
        .collect();
    serde_json::json!({"traces": traces, "metrics": {}})
}
