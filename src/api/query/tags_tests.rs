//! Parameters and paths of the tag routes.

use super::*;

/// Bounds of a node with Tempo's defaults.
const BOUNDS: TagRequestBounds = TagRequestBounds {
    timeout: std::time::Duration::from_secs(1),
    max_window: Some(std::time::Duration::from_secs(168 * 3600)),
};

fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn message(error: ApiError) -> String {
    error.message
}

#[test]
fn names_parameters_become_a_search_tags_request() {
    let request = tags_request(&params(&[
        ("scope", "span"),
        ("q", "{ .a = 1 }"),
        ("start", "1700000000"),
        ("end", "1700000060"),
        ("limit", "5000"),
        ("maxStaleValues", "100"),
    ]))
    .unwrap();
    assert_eq!(
        request,
        tempopb::SearchTagsRequest {
            scope: "span".into(),
            query: "{ .a = 1 }".into(),
            start: 1_700_000_000,
            end: 1_700_000_060,
            max_tags_per_scope: 5000,
            stale_values_threshold: 100,
        }
    );
    let lenient = tags_request(&params(&[("limit", "lots"), ("maxStaleValues", "-1")])).unwrap();
    assert_eq!((lenient.max_tags_per_scope, lenient.stale_values_threshold), (0, 0));
    assert_eq!(tags_request(&params(&[("start", ""), ("scope", "")])).unwrap(), Default::default());
}

#[test]
fn bad_numbers_get_gos_messages() {
    let names = |pairs: &[(&str, &str)]| message(tags_request(&params(pairs)).unwrap_err());
    let values =
        |pairs: &[(&str, &str)]| message(values_request("x".into(), &params(pairs)).unwrap_err());
    let cases = [
        (
            names(&[("start", "abc")]),
            r#"invalid start: strconv.ParseInt: parsing "abc": invalid syntax"#,
        ),
        (
            names(&[("end", "1700000000000")]),
            r#"invalid end: strconv.ParseInt: parsing "1700000000000": value out of range"#,
        ),
        (
            values(&[("start", "1.5")]),
            r#"invalid start: strconv.ParseInt: parsing "1.5": invalid syntax"#,
        ),
        (
            values(&[("limit", "many")]),
            r#"invalid limit: strconv.ParseUint: parsing "many": invalid syntax"#,
        ),
        (
            values(&[("limit", "-1")]),
            r#"invalid limit: strconv.ParseUint: parsing "-1": invalid syntax"#,
        ),
        (
            values(&[("limit", "+1")]),
            r#"invalid limit: strconv.ParseUint: parsing "+1": invalid syntax"#,
        ),
        (
            values(&[("maxStaleValues", "4294967296")]),
            r#"invalid maxStaleValues: strconv.ParseUint: parsing "4294967296": value out of range"#,
        ),
    ];
    for (got, expected) in cases {
        assert_eq!(got, expected);
    }
    let ok =
        values_request("x".into(), &params(&[("limit", "10"), ("maxStaleValues", "0")])).unwrap();
    assert_eq!((ok.max_tag_values, ok.stale_value_threshold), (10, 0));
    let negative = tags_request(&params(&[("start", "-1")])).unwrap();
    assert_eq!(negative.start, u32::MAX, "Tempo's uint32() of a negative int32");
}

#[test]
fn the_tag_is_everything_up_to_the_last_values_decoded_once() {
    let v2 = |path: &str| tag_from_path(path, V2_VALUES_PREFIX).map_err(message);
    let cases = [
        ("/api/v2/search/tag/resource.service.name/values", "resource.service.name"),
        ("/api/v2/search/tag/span.attr/slash/values", "span.attr/slash"),
        ("/api/v2/search/tag/span.attr%2Fslash/values", "span.attr/slash"),
        ("/api/v2/search/tag/span.attr%2fslash/values", "span.attr/slash"),
        ("/api/v2/search/tag/span.a/values/values", "span.a/values"),
        ("/api/v2/search/tag/span.%22a%20b%22/values", "span.\"a b\""),
        ("/api/v2/search/tag/span.%22%23%25%26%F0%9F%9A%80%22/values", "span.\"#%&🚀\""),
        ("/api/v2/search/tag/span.%252F/values", "span.%2F"),
    ];
    for (path, expected) in cases {
        assert_eq!(v2(path).as_deref(), Ok(expected), "{path}");
    }
    assert_eq!(
        tag_from_path("/api/search/tag/service.name/values", V1_VALUES_PREFIX).map_err(message),
        Ok("service.name".to_string())
    );
    let not_found =
        tag_from_path("/api/v2/search/tag/span.x/valuez", V2_VALUES_PREFIX).unwrap_err();
    assert_eq!(not_found.code, ErrorCode::NotFound);
    assert_eq!(v2("/api/v2/search/tag//values").unwrap_err(), "please provide a non-empty tagName");
    assert!(
        v2("/api/v2/search/tag/span.%zz/values").unwrap_err().starts_with("invalid URL escape")
    );
    assert!(v2("/api/v2/search/tag/span.%FF/values").is_err(), "not UTF-8");
}

#[test]
fn an_invalid_identifier_is_a_400_with_tempos_text() {
    let tag = tag_from_path("/api/v2/search/tag/app.user.id/values", V2_VALUES_PREFIX).unwrap();
    let request = values_request(tag, &HashMap::new()).unwrap();
    let error = TagValuesQuery::from_request(&request, true, Vec::new(), BOUNDS)
        .map_err(rejected)
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert!(
        error.message.starts_with(
            "please provide a valid tagName: failed to parse identifier app.user.id: parse error at line 1, col 2"
        ),
        "{}",
        error.message
    );
    let tag =
        tag_from_path("/api/v2/search/tag/span.%22a%20b%22/values", V2_VALUES_PREFIX).unwrap();
    let request = values_request(tag, &HashMap::new()).unwrap();
    assert!(TagValuesQuery::from_request(&request, true, Vec::new(), BOUNDS).is_ok());
}
