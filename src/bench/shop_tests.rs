//! Tests of the generated shop: determinism, well-formed traces, the mix the benchmark relies on.

use super::*;

#[test]
fn a_trace_depends_only_on_seed_and_number() {
    let first = generate_trace(7, 123);
    let again = generate_trace(7, 123);
    assert_eq!(first.spans.len(), again.spans.len());
    let ids = |trace: &ShopTrace| -> Vec<Vec<u8>> {
        trace.spans.iter().map(|shop_span| shop_span.span.span_id.clone()).collect()
    };
    assert_eq!(ids(&first), ids(&again));
    assert_ne!(ids(&first), ids(&generate_trace(8, 123)));
}

#[test]
fn traces_are_well_formed_trees_inside_their_parents() {
    for number in 0..500 {
        let trace = generate_trace(1, number);
        let roots = trace.spans.iter().filter(|shop_span| shop_span.parent.is_none());
        assert_eq!(roots.count(), 1, "trace {number}");
        for shop_span in &trace.spans {
            let span = &shop_span.span;
            assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
            if let Some(parent) = shop_span.parent {
                let parent = &trace.spans[parent].span;
                assert_eq!(span.parent_span_id, parent.span_id);
                assert!(span.start_time_unix_nano >= parent.start_time_unix_nano);
            }
        }
    }
}

#[test]
fn the_dataset_has_the_asked_mix() {
    let traces: Vec<ShopTrace> = (0..20_000).map(|number| generate_trace(1, number)).collect();
    let spans: usize = traces.iter().map(|trace| trace.spans.len()).sum();
    let mean = spans as f64 / traces.len() as f64;
    assert!((15.0..=35.0).contains(&mean), "mean spans per trace {mean}");
    assert!(traces.iter().any(|trace| trace.spans.len() > 300), "some large traces");
    let failing = traces.iter().filter(|trace| trace.has_error_below_server()).count();
    assert!((200..=600).contains(&failing), "{failing} failing traces of 20000");
    let with_500 = traces.iter().filter(|trace| trace.has_status_500()).count();
    assert!(with_500 > 100 && with_500 <= failing, "{with_500} traces with a 500");
    let server_spans: Vec<&Span> = traces
        .iter()
        .flat_map(|trace| &trace.spans)
        .map(|shop_span| &shop_span.span)
        .filter(|span| span.kind == SERVER)
        .collect();
    let status = |code: i64| {
        server_spans
            .iter()
            .filter(|span| {
                span.attributes.iter().any(|kv| {
                    kv.key == STATUS_CODE_KEY
                        && kv.value.as_ref().and_then(|v| v.value.as_ref())
                            == Some(&any_value::Value::IntValue(code))
                })
            })
            .count() as f64
            / server_spans.len() as f64
    };
    assert!((0.003..0.03).contains(&status(500)), "500s: {}", status(500));
    assert!((0.001..0.05).contains(&status(404)), "404s: {}", status(404));
    let attributes: usize =
        traces.iter().flat_map(|trace| &trace.spans).map(|s| s.span.attributes.len()).sum();
    let per_span = attributes as f64 / spans as f64;
    assert!((5.0..=10.0).contains(&per_span), "attributes per span {per_span}");
    let orders: std::collections::HashSet<&String> =
        traces.iter().filter_map(|trace| trace.order_id.as_ref()).collect();
    let checkouts = traces.iter().filter(|trace| trace.order_id.is_some()).count();
    assert_eq!(orders.len(), checkouts, "order ids are unique");
}

#[test]
fn the_rare_order_id_is_in_exactly_one_trace() {
    let (number, order_id) = rare_order_id(3, 2_000).expect("some checkout");
    assert!(number >= 1_000);
    let holders: Vec<u64> = (0..2_000)
        .filter(|&n| {
            generate_trace(3, n).spans.iter().any(|shop_span| {
                shop_span.span.attributes.iter().any(|kv| {
                    kv.key == ORDER_ID_KEY
                        && kv.value.as_ref().and_then(|v| v.value.as_ref())
                            == Some(&any_value::Value::StringValue(order_id.clone()))
                })
            })
        })
        .collect();
    assert_eq!(holders, vec![number]);
}

#[test]
fn a_batch_groups_spans_by_pod() {
    let mut batch = ShopBatch::default();
    let traces: Vec<ShopTrace> = (0..50).map(|number| generate_trace(1, number)).collect();
    let spans: usize = traces.iter().map(|trace| trace.spans.len()).sum();
    for trace in traces {
        batch.add(trace);
    }
    assert_eq!(batch.spans, spans as u64);
    let request = batch.into_request(1);
    assert!(request.resource_spans.len() <= 8 * PODS_PER_SERVICE as usize);
    let sent: usize = request
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    assert_eq!(sent, spans);
}
