//! The shop dataset holds what the catalogue relies on (special traces, every kind, every
//! attribute type), cuts into bounded requests, and the reference answers every catalogued
//! query the way the catalogue says it should.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use opentelemetry_proto::tonic::common::v1::any_value;
use prost::Message;
use spanlake::traceql::parse_and_validate;

use crate::harness::reference::Reference;
use crate::harness::shop::{
    BASE_UNIX_SECONDS, SPREAD_SECONDS, Service, TraceShape, export_requests, hex, shop,
};
use crate::queries::{Expect, catalogue};

/// The dataset every search test uses.
pub const SHOP_SEED: u64 = 42;
pub const SHOP_REQUESTS: usize = 300;

#[test]
fn the_shop_is_deterministic_and_holds_every_special_trace() {
    let data = shop(SHOP_SEED, SHOP_REQUESTS);
    let encode = |rs: &[_]| rs.iter().map(Message::encode_to_vec).collect::<Vec<Vec<u8>>>();
    assert_eq!(
        encode(&data.resource_spans),
        encode(&shop(SHOP_SEED, SHOP_REQUESTS).resource_spans)
    );
    assert_ne!(
        encode(&shop(SHOP_SEED + 1, 5).resource_spans),
        encode(&shop(SHOP_SEED, 5).resource_spans)
    );

    let ids: HashSet<[u8; 16]> = data.traces.iter().map(|t| t.trace_id).collect();
    assert_eq!(ids.len(), data.traces.len(), "trace ids are unique");
    assert!(data.traces.iter().any(|t| t.trace_id[0] == 0), "some ids start with a zero byte");
    assert!(data.traces_of(TraceShape::Consumer).len() >= 10, "orders are consumed");

    let large = data.traces.iter().filter(|t| t.shape == TraceShape::Large);
    assert!(large.clone().count() >= 3 && large.clone().all(|t| t.span_count >= 2_000));

    let mut spans_by_trace: BTreeMap<Vec<u8>, Vec<_>> = BTreeMap::new();
    for (_, _, span) in data.spans() {
        spans_by_trace.entry(span.trace_id.clone()).or_default().push(span);
    }
    for trace in &data.traces {
        let spans = &spans_by_trace[trace.trace_id.as_slice()];
        assert_eq!(spans.len(), trace.span_count);
        let roots = spans.iter().filter(|s| s.parent_span_id.is_empty()).count();
        let distinct: HashSet<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
        match trace.shape {
            TraceShape::MissingRoot => {
                assert_eq!(roots, 0, "{}: root must be missing", hex(&trace.trace_id))
            }
            _ => assert_eq!(roots, 1, "{}: one root", hex(&trace.trace_id)),
        }
        let duplicated = distinct.len() < spans.len();
        assert_eq!(
            duplicated,
            trace.shape == TraceShape::DuplicateSpanId,
            "{}",
            hex(&trace.trace_id)
        );
        for span in spans {
            let seconds = span.start_time_unix_nano / 1_000_000_000;
            assert!(
                (BASE_UNIX_SECONDS..BASE_UNIX_SECONDS + SPREAD_SECONDS + 60).contains(&seconds)
            );
            assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        }
    }

    let kinds: BTreeSet<i32> = data.spans().map(|(_, _, s)| s.kind).collect();
    assert_eq!(kinds, (0..=5).collect(), "every span kind");
    let services: BTreeSet<String> = data
        .spans()
        .filter_map(|(rs, _, _)| {
            let resource = rs.resource.as_ref()?;
            let name = resource.attributes.iter().find(|kv| kv.key == "service.name")?;
            match name.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(name) => Some(name.clone()),
                _ => None,
            }
        })
        .collect();
    assert_eq!(services, Service::ALL.iter().map(|s| s.name().to_string()).collect());

    let mut types = BTreeSet::new();
    for (_, _, span) in data.spans() {
        for value in span.attributes.iter().filter_map(|kv| kv.value.as_ref()?.value.as_ref()) {
            types.insert(match value {
                any_value::Value::StringValue(_) => "string".to_string(),
                any_value::Value::BoolValue(_) => "bool".to_string(),
                any_value::Value::IntValue(_) => "int".to_string(),
                any_value::Value::DoubleValue(_) => "double".to_string(),
                any_value::Value::BytesValue(_) => "bytes".to_string(),
                any_value::Value::KvlistValue(_) => "kvlist".to_string(),
                any_value::Value::ArrayValue(array) => {
                    let first = array.values.first().and_then(|v| v.value.as_ref());
                    format!("array of {:?}", first.map(std::mem::discriminant))
                }
                _ => "other".to_string(),
            });
        }
    }
    assert_eq!(types.len(), 10, "every scalar type, four array types, bytes and kvlist: {types:?}");

    let event_names: BTreeSet<&str> =
        data.spans().flat_map(|(_, _, s)| s.events.iter().map(|e| e.name.as_str())).collect();
    assert_eq!(event_names, ["exception", "retry"].into());
    let span_ids: HashSet<(&[u8], &[u8])> =
        data.spans().map(|(_, _, s)| (s.trace_id.as_slice(), s.span_id.as_slice())).collect();
    let links: Vec<_> = data.spans().flat_map(|(_, _, s)| &s.links).collect();
    assert!(links.iter().any(|_| true), "consumers link to producers");
    for link in links {
        assert!(
            span_ids.contains(&(link.trace_id.as_slice(), link.span_id.as_slice())),
            "links point at real producer spans"
        );
    }
}

#[test]
fn export_requests_are_bounded_and_carry_every_span_once() {
    let data = shop(SHOP_SEED, SHOP_REQUESTS);
    let max_bytes = 64 * 1024;
    let requests = export_requests(&data.resource_spans, max_bytes);
    assert!(requests.len() > 10);
    let mut sent = Vec::new();
    for request in &requests {
        assert!(request.encoded_len() <= max_bytes, "request of {} bytes", request.encoded_len());
        for rs in &request.resource_spans {
            for ss in &rs.scope_spans {
                sent.extend(
                    ss.spans
                        .iter()
                        .map(|s| (s.trace_id.clone(), s.span_id.clone(), s.name.clone())),
                );
            }
        }
    }
    let mut generated: Vec<_> = data
        .spans()
        .map(|(_, _, s)| (s.trace_id.clone(), s.span_id.clone(), s.name.clone()))
        .collect();
    sent.sort();
    generated.sort();
    assert_eq!(sent, generated);
}

#[test]
fn every_catalogued_query_parses_and_matches_what_the_catalogue_says() {
    let data = shop(SHOP_SEED, SHOP_REQUESTS);
    let reference = Reference::new(&data.resource_spans);
    let queries = catalogue(&data);
    assert!(queries.len() >= 100, "{} queries", queries.len());
    let categories: BTreeSet<&str> = queries.iter().map(|q| q.category).collect();
    assert!(categories.len() >= 15, "{categories:?}");

    let total = data.traces.len();
    let mut problems = Vec::new();
    for (number, query) in queries.iter().enumerate() {
        let parsed = match parse_and_validate(&query.text) {
            Ok(parsed) => parsed,
            Err(error) => {
                problems.push(format!(
                    "#{number} [{}] {}: invalid: {error}",
                    query.category, query.text
                ));
                continue;
            }
        };
        let matched = match reference.search(&parsed) {
            Ok(result) => result.len(),
            Err(error) => {
                problems
                    .push(format!("#{number} [{}] {}: fails: {error}", query.category, query.text));
                continue;
            }
        };
        let as_said = match query.expect {
            Expect::Some => matched > 0 && matched < total,
            Expect::Nothing => matched == 0,
            Expect::EveryTrace => matched == total,
        };
        if !as_said {
            problems.push(format!(
                "#{number} [{}] {}: matches {matched} of {total} traces, catalogue says {:?}",
                query.category, query.text, query.expect
            ));
        }
    }
    assert!(problems.is_empty(), "{} catalogue problems:\n{}", problems.len(), problems.join("\n"));
}
