use super::*;

fn trace(id: usize, name_bytes: usize) -> tempopb::TraceSearchMetadata {
    tempopb::TraceSearchMetadata {
        trace_id: format!("{id:032x}"),
        root_trace_name: "x".repeat(name_bytes),
        ..Default::default()
    }
}

fn tag_metrics() -> Option<tempopb::MetadataMetrics> {
    Some(tempopb::MetadataMetrics { inspected_bytes: 4242, total_jobs: 3, ..Default::default() })
}

/// `count` distinct names of about `bytes` bytes each.
fn names(prefix: &str, count: usize, bytes: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}{n:05}{}", "x".repeat(bytes))).collect()
}

/// Checks every packet fits and carries `metrics`; returns how many there are.
fn assert_packets_fit<M: Message>(
    packets: &[M],
    max_bytes: usize,
    metrics_of: impl Fn(&M) -> Option<tempopb::MetadataMetrics>,
) -> usize {
    for packet in packets {
        assert!(packet.encoded_len() <= max_bytes, "{} bytes", packet.encoded_len());
        assert_eq!(metrics_of(packet), tag_metrics(), "every packet carries the metrics");
    }
    packets.len()
}

#[test]
fn answers_are_cut_into_packets_that_each_carry_the_metrics() {
    let metrics = tempopb::SearchMetrics { inspected_traces: 7, ..Default::default() };
    let response = tempopb::SearchResponse {
        traces: (0..10).map(|id| trace(id, 300)).collect(),
        metrics: Some(metrics),
    };
    let packets = response.clone().into_packets(1000);
    assert!(packets.len() >= 4, "{} packets", packets.len());
    for packet in &packets {
        assert!(packet.encoded_len() <= 1000, "{} bytes", packet.encoded_len());
        assert_eq!(packet.metrics.as_ref(), Some(&metrics));
    }
    let rejoined: Vec<_> = packets.into_iter().flat_map(|p| p.traces).collect();
    assert_eq!(rejoined, response.traces, "every trace once, in order");

    let whole = response.clone().into_packets(MAX_PACKET_BYTES);
    assert_eq!(whole, vec![response]);
}

#[test]
fn an_empty_answer_or_a_huge_trace_is_still_one_message_with_metrics() {
    let empty = tempopb::SearchResponse::default().into_packets(1000);
    assert_eq!(empty.len(), 1);
    assert!(empty[0].metrics.is_some(), "metrics are always present");
    let huge = tempopb::SearchResponse { traces: vec![trace(1, 5000)], metrics: None };
    let packets = huge.into_packets(1000);
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].traces.len(), 1);
}

#[test]
fn tag_names_and_values_are_cut_between_items() {
    let tags =
        tempopb::SearchTagsResponse { tag_names: names("n", 60, 40), metrics: tag_metrics() };
    let packets = tags.clone().into_packets(500);
    assert!(assert_packets_fit(&packets, 500, |p| p.metrics) >= 5);
    let rejoined: Vec<String> = packets.into_iter().flat_map(|p| p.tag_names).collect();
    assert_eq!(rejoined, tags.tag_names);

    let values =
        tempopb::SearchTagValuesResponse { tag_values: names("v", 60, 40), metrics: tag_metrics() };
    let packets = values.clone().into_packets(500);
    assert!(assert_packets_fit(&packets, 500, |p| p.metrics) >= 5);
    let rejoined: Vec<String> = packets.into_iter().flat_map(|p| p.tag_values).collect();
    assert_eq!(rejoined, values.tag_values);

    let typed = tempopb::SearchTagValuesV2Response {
        tag_values: names("t", 60, 40)
            .into_iter()
            .map(|value| tempopb::TagValue { r#type: "string".into(), value })
            .collect(),
        metrics: tag_metrics(),
    };
    let packets = typed.clone().into_packets(500);
    assert!(assert_packets_fit(&packets, 500, |p| p.metrics) >= 5);
    let rejoined: Vec<_> = packets.into_iter().flat_map(|p| p.tag_values).collect();
    assert_eq!(rejoined, typed.tag_values);
}

#[test]
fn a_scope_cut_in_two_is_named_again_in_the_next_packet() {
    let response = tempopb::SearchTagsV2Response {
        scopes: vec![
            tempopb::SearchTagsV2Scope { name: "resource".into(), tags: names("r", 3, 10) },
            tempopb::SearchTagsV2Scope { name: "span".into(), tags: names("s", 40, 40) },
            tempopb::SearchTagsV2Scope { name: "event".into(), tags: Vec::new() },
            tempopb::SearchTagsV2Scope { name: "intrinsic".into(), tags: names("i", 25, 5) },
        ],
        metrics: tag_metrics(),
    };
    let packets = response.clone().into_packets(500);
    assert!(assert_packets_fit(&packets, 500, |p| p.metrics) >= 4);
    for packet in &packets {
        assert!(packet.scopes.iter().any(|scope| !scope.tags.is_empty()), "no packet is idle");
    }
    // Rejoined: consecutive parts of one scope merge back into it.
    let mut rejoined: Vec<tempopb::SearchTagsV2Scope> = Vec::new();
    for scope in packets.into_iter().flat_map(|p| p.scopes) {
        match rejoined.last_mut() {
            Some(last) if last.name == scope.name => last.tags.extend(scope.tags),
            _ => rejoined.push(scope),
        }
    }
    assert_eq!(rejoined, response.scopes, "every scope and tag once, in order");

    let whole = response.clone().into_packets(MAX_PACKET_BYTES);
    assert_eq!(whole, vec![response]);
    let empty = tempopb::SearchTagsV2Response::default().into_packets(500);
    assert_eq!(empty.len(), 1);
    assert!(empty[0].metrics.is_some(), "metrics are always present");
}

#[test]
fn a_huge_tag_travels_alone() {
    let response = tempopb::SearchTagsV2Response {
        scopes: vec![tempopb::SearchTagsV2Scope {
            name: "span".into(),
            tags: vec!["a".into(), "x".repeat(2000), "b".into()],
        }],
        metrics: tag_metrics(),
    };
    let packets = response.into_packets(500);
    let tags: Vec<Vec<String>> =
        packets.iter().flat_map(|p| p.scopes.iter().map(|s| s.tags.clone())).collect();
    assert_eq!(tags, [vec!["a".to_string()], vec!["x".repeat(2000)], vec!["b".to_string()]]);
}
