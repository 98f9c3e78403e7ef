//! The tag answers as Tempo's jsonpb writes them (tempo-api.md §0.2, §4): zero values
//! omitted, 64-bit numbers as strings — except that the top-level list (`tagNames`,
//! `scopes`, `tagValues`) and `metrics` are always present, so clients can read them
//! unguarded.

use serde_json::{Map, Value, json};

use crate::proto::tempopb;

/// `SearchTagsResponse` (v1 tag names).
pub(crate) fn render_tags_v1(response: &tempopb::SearchTagsResponse) -> Vec<u8> {
    document(json!({
        "tagNames": response.tag_names,
        "metrics": metrics(response.metrics.as_ref()),
    }))
}

/// `SearchTagsV2Response` (tag names per scope).
pub(crate) fn render_tags_v2(response: &tempopb::SearchTagsV2Response) -> Vec<u8> {
    let scopes: Vec<Value> = response
        .scopes
        .iter()
        .map(|scope| {
            let mut object = Map::new();
            if !scope.name.is_empty() {
                object.insert("name".into(), json!(scope.name));
            }
            if !scope.tags.is_empty() {
                object.insert("tags".into(), json!(scope.tags));
            }
            Value::Object(object)
        })
        .collect();
    document(json!({ "scopes": scopes, "metrics": metrics(response.metrics.as_ref()) }))
}

/// `SearchTagValuesResponse` (v1 values, strings).
pub(crate) fn render_tag_values_v1(response: &tempopb::SearchTagValuesResponse) -> Vec<u8> {
    document(json!({
        "tagValues": response.tag_values,
        "metrics": metrics(response.metrics.as_ref()),
    }))
}

/// `SearchTagValuesV2Response` (typed values).
pub(crate) fn render_tag_values_v2(response: &tempopb::SearchTagValuesV2Response) -> Vec<u8> {
    let values: Vec<Value> = response
        .tag_values
        .iter()
        .map(|value| {
            let mut object = Map::new();
            if !value.r#type.is_empty() {
                object.insert("type".into(), json!(value.r#type));
            }
            if !value.value.is_empty() {
                object.insert("value".into(), json!(value.value));
            }
            Value::Object(object)
        })
        .collect();
    document(json!({ "tagValues": values, "metrics": metrics(response.metrics.as_ref()) }))
}

/// `MetadataMetrics`: 64-bit counters as strings, zeros left out.
fn metrics(metrics: Option<&tempopb::MetadataMetrics>) -> Value {
    let metrics = metrics.copied().unwrap_or_default();
    let mut object = Map::new();
    let mut u64_field = |key: &str, value: u64| {
        if value != 0 {
            object.insert(key.into(), json!(value.to_string()));
        }
    };
    u64_field("inspectedBytes", metrics.inspected_bytes);
    u64_field("totalBlockBytes", metrics.total_block_bytes);
    for (key, value) in [
        ("totalJobs", metrics.total_jobs),
        ("completedJobs", metrics.completed_jobs),
        ("totalBlocks", metrics.total_blocks),
    ] {
        if value != 0 {
            object.insert(key.into(), json!(value));
        }
    }
    Value::Object(object)
}

fn document(value: Value) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(bytes: Vec<u8>) -> Value {
        serde_json::from_slice(&bytes).unwrap()
    }

    fn full_metrics() -> Option<tempopb::MetadataMetrics> {
        Some(tempopb::MetadataMetrics {
            inspected_bytes: 377_046,
            total_jobs: 2,
            completed_jobs: 2,
            ..Default::default()
        })
    }

    #[test]
    fn v2_tags_have_tempos_shape() {
        let response = tempopb::SearchTagsV2Response {
            scopes: vec![tempopb::SearchTagsV2Scope {
                name: "resource".into(),
                tags: vec!["service.name".into()],
            }],
            metrics: full_metrics(),
        };
        assert_eq!(
            parsed(render_tags_v2(&response)),
            json!({"scopes":[{"name":"resource","tags":["service.name"]}],
                   "metrics":{"inspectedBytes":"377046","totalJobs":2,"completedJobs":2}})
        );
    }

    #[test]
    fn typed_values_and_empty_answers() {
        let response = tempopb::SearchTagValuesV2Response {
            tag_values: vec![
                tempopb::TagValue { r#type: "int".into(), value: "200".into() },
                tempopb::TagValue { r#type: "string".into(), value: String::new() },
            ],
            metrics: None,
        };
        assert_eq!(
            parsed(render_tag_values_v2(&response)),
            json!({"tagValues":[{"type":"int","value":"200"},{"type":"string"}],"metrics":{}})
        );
        let empty = tempopb::SearchTagValuesResponse::default();
        assert_eq!(parsed(render_tag_values_v1(&empty)), json!({"tagValues":[],"metrics":{}}));
        let empty = tempopb::SearchTagsResponse::default();
        assert_eq!(parsed(render_tags_v1(&empty)), json!({"tagNames":[],"metrics":{}}));
    }
}
