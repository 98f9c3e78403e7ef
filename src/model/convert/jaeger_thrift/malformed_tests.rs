//! Hostile and broken Thrift bodies: each is refused with an error that says what was
//! wrong, and none panics, recurses without bound or allocates what it merely declares.

use proptest::prelude::*;

use super::encoder::{self, Kind, Value, string_tag};
use super::*;

const PROTOCOLS: [ThriftProtocol; 2] = [ThriftProtocol::Binary, ThriftProtocol::Compact];

/// A small valid batch touching every struct.
fn valid_batch() -> Value {
    let mut fields = encoder::span_fields((3, 4), 5, 6, "op", 1_000, 10);
    fields.push((6, encoder::structs(vec![encoder::span_ref(1, 9, 8, 7)])));
    fields.push((10, encoder::structs(vec![string_tag("k", "v"), encoder::double_tag("d", 1.5)])));
    fields.push((
        11,
        encoder::structs(vec![encoder::log(1_001, vec![encoder::bool_tag("b", true)])]),
    ));
    encoder::batch(
        encoder::process("svc", vec![encoder::binary_tag("bin", &[1, 2])]),
        vec![Value::Struct(fields)],
    )
}

fn error(body: &[u8], protocol: ThriftProtocol) -> String {
    decode_batch(body, protocol).unwrap_err().to_string()
}

#[test]
fn every_truncated_prefix_of_a_valid_body_is_an_error() {
    for protocol in PROTOCOLS {
        let body = encoder::encode(&valid_batch(), protocol);
        assert!(decode_batch(&body, protocol).is_ok(), "{protocol:?}");
        for end in 0..body.len() {
            assert!(decode_batch(&body[..end], protocol).is_err(), "{protocol:?}: prefix of {end}");
        }
    }
}

#[test]
fn a_truncated_body_names_the_value_being_read() {
    let body = encoder::encode(&valid_batch(), ThriftProtocol::Binary);
    // Cut inside the span's startTime: header (3 bytes) read, 8 value bytes expected.
    let span_start = body.windows(3).position(|window| window == [10, 0, 8]).unwrap();
    let cut = span_start + 3 + 2;
    assert_eq!(
        error(&body[..cut], ThriftProtocol::Binary),
        format!(
            "jaeger thrift: body ends inside i64 Span.startTime at byte {}: 6 more bytes needed",
            span_start + 3
        )
    );
}

#[test]
fn a_list_declaring_more_elements_than_bytes_is_refused_before_allocating() {
    // Batch { 1: Process { 1: "s" }, 2: list<struct> of i32::MAX elements }
    let mut binary = vec![12, 0, 1, 11, 0, 1, 0, 0, 0, 1, b's', 0, 15, 0, 2, 12];
    binary.extend_from_slice(&i32::MAX.to_be_bytes());
    binary.extend_from_slice(&[0; 12]);
    assert_eq!(
        error(&binary, ThriftProtocol::Binary),
        "jaeger thrift: list Batch.spans declares 2147483647 elements but only 12 bytes remain"
    );

    let mut compact = vec![0x1c, 0x18, 1, b's', 0, 0x19, 0xfc];
    encoder::write_varint(&mut compact, u64::from(u32::MAX));
    compact.extend_from_slice(&[0; 12]);
    assert_eq!(
        error(&compact, ThriftProtocol::Compact),
        "jaeger thrift: list Batch.spans declares 4294967295 elements but only 12 bytes remain"
    );
}

#[test]
fn strings_declaring_more_bytes_than_remain_or_negative_lengths_are_refused() {
    let mut too_long = vec![12, 0, 1, 11, 0, 1];
    too_long.extend_from_slice(&1_000_000_i32.to_be_bytes());
    too_long.extend_from_slice(b"abc");
    assert_eq!(
        error(&too_long, ThriftProtocol::Binary),
        "jaeger thrift: string Process.serviceName declares 1000000 bytes but only 3 remain"
    );
    let mut negative = vec![12, 0, 1, 11, 0, 1];
    negative.extend_from_slice(&(-1_i32).to_be_bytes());
    assert_eq!(
        error(&negative, ThriftProtocol::Binary),
        "jaeger thrift: string Process.serviceName declares a negative length -1"
    );
}

/// `depth` lists nested in one another, in an unknown field of the batch.
fn batch_with_nested_lists(depth: usize) -> Value {
    let mut nested = Value::List(Kind::I32, vec![Value::I32(1)]);
    for _ in 1..depth {
        nested = Value::List(Kind::List, vec![nested]);
    }
    let mut batch = valid_batch();
    if let Value::Struct(fields) = &mut batch {
        fields.push((50, nested));
    }
    batch
}

/// `depth` structs nested in one another, in an unknown field of the batch.
fn batch_with_nested_structs(depth: usize) -> Value {
    let mut nested = Value::Struct(vec![(1, Value::Bool(true))]);
    for _ in 1..depth {
        nested = Value::Struct(vec![(1, nested)]);
    }
    let mut batch = valid_batch();
    if let Value::Struct(fields) = &mut batch {
        fields.push((50, nested));
    }
    batch
}

#[test]
fn nesting_within_the_limit_is_skipped_and_beyond_it_refused() {
    for protocol in PROTOCOLS {
        for shallow in [batch_with_nested_lists(40), batch_with_nested_structs(40)] {
            assert!(decode_batch(&encoder::encode(&shallow, protocol), protocol).is_ok());
        }
        for deep in [batch_with_nested_lists(100), batch_with_nested_structs(100)] {
            let result = decode_batch(&encoder::encode(&deep, protocol), protocol);
            assert!(
                matches!(result, Err(JaegerError::ThriftTooDeep { limit: 64, .. })),
                "{protocol:?}: {result:?}"
            );
        }
    }
}

#[test]
fn a_million_nested_list_headers_fail_fast_without_recursing() {
    // Batch { 1: Process { 1: "s" }, 50: list<list<list<…>>> }: every byte opens one more
    // list of one list, so only the depth limit stops the reader.
    let mut body = vec![0x1c, 0x18, 1, b's', 0, 0x09, 100];
    body.extend(std::iter::repeat_n(0x19_u8, 1_000_000));
    let result = decode_batch(&body, ThriftProtocol::Compact);
    assert!(matches!(result, Err(JaegerError::ThriftTooDeep { limit: 64, .. })), "{result:?}");
}

#[test]
fn required_fields_must_be_present() {
    let no_process = Value::Struct(vec![(2, encoder::structs(vec![]))]);
    assert_eq!(
        error(&encoder::encode(&no_process, ThriftProtocol::Binary), ThriftProtocol::Binary),
        "jaeger thrift: required field Batch.process is missing"
    );
    // traceIdLow sent as a string is skipped, so it is missing.
    let mut fields = encoder::span_fields((0, 1), 1, 0, "op", 0, 0);
    fields[0] = (1, encoder::string("1"));
    let batch = encoder::batch(encoder::process("svc", vec![]), vec![Value::Struct(fields)]);
    assert_eq!(
        error(&encoder::encode(&batch, ThriftProtocol::Compact), ThriftProtocol::Compact),
        "jaeger thrift: required field Span.traceIdLow is missing"
    );
    let typeless_tag = Value::Struct(vec![(1, encoder::string("k"))]);
    let batch = encoder::batch(encoder::process("svc", vec![typeless_tag]), vec![]);
    assert_eq!(
        error(&encoder::encode(&batch, ThriftProtocol::Binary), ThriftProtocol::Binary),
        "jaeger thrift: required field Tag.vType is missing"
    );
}

#[test]
fn lists_of_the_wrong_element_type_are_refused_unless_empty() {
    let mut fields = encoder::span_fields((0, 1), 1, 0, "op", 0, 0);
    fields.push((10, Value::List(Kind::I32, vec![Value::I32(3)])));
    let batch =
        encoder::batch(encoder::process("svc", vec![]), vec![Value::Struct(fields.clone())]);
    assert_eq!(
        error(&encoder::encode(&batch, ThriftProtocol::Binary), ThriftProtocol::Binary),
        "jaeger thrift: list Span.tags holds i32 elements, expected struct"
    );
    fields.pop();
    fields.push((10, Value::List(Kind::I32, vec![])));
    let batch = encoder::batch(encoder::process("svc", vec![]), vec![Value::Struct(fields)]);
    assert!(
        decode_batch(&encoder::encode(&batch, ThriftProtocol::Binary), ThriftProtocol::Binary)
            .is_ok()
    );
}

#[test]
fn unknown_type_ids_and_overlong_varints_are_refused() {
    assert_eq!(
        error(&[7, 0, 1], ThriftProtocol::Binary),
        "jaeger thrift: unknown type id 7 in a field header at byte 0"
    );
    assert_eq!(
        error(&[0x1e], ThriftProtocol::Compact),
        "jaeger thrift: unknown type id 14 in a field header at byte 0"
    );
    let mut overlong = vec![0x1c, 0x18];
    overlong.extend_from_slice(&[0x80; 11]);
    assert_eq!(
        error(&overlong, ThriftProtocol::Compact),
        "jaeger thrift: varint at byte 2 is longer than 10 bytes"
    );
}

#[test]
fn an_empty_body_is_an_error() {
    for protocol in PROTOCOLS {
        assert!(matches!(
            decode_batch(&[], protocol),
            Err(JaegerError::ThriftTruncated { offset: 0, needed: 1, .. })
        ));
    }
}

proptest! {
    /// Arbitrary bytes never panic, in either protocol and either entry point.
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        for protocol in PROTOCOLS {
            let _ = decode_batch(&body, protocol);
            let _ = decode_agent_emit_batch(&body, protocol);
        }
    }

    /// A valid body with a few bytes overwritten never panics.
    #[test]
    fn corrupted_valid_bodies_never_panic(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        for protocol in PROTOCOLS {
            let mut body = encoder::encode(&valid_batch(), protocol);
            for (position, byte) in &edits {
                let index = position % body.len();
                body[index] = *byte;
            }
            let _ = decode_batch(&body, protocol);
        }
    }
}
