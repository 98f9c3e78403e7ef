//! Typed reads of Zipkin JSON fields, shared by the v1 and v2 decoders; every error names the
//! span's position and the field's path.
//!
//! ```text
//!  body ─► spans_array ─► [(index, member map)] ─► string / unsigned / hex_id / ip / … ─► values
//!                                                    └─► ZipkinError::InvalidSpan { index, "field …" }
//! ```
//!
//! As Go's `encoding/json` (which the Collector decodes with), member names match whatever
//! their case and `null` stands for an absent value; the callers skip `null` members.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::{ZipkinError, invalid_span};

/// The elements of the body's top-level array.
pub(super) fn spans_array(body: &[u8]) -> Result<Vec<Value>, ZipkinError> {
    match serde_json::from_slice::<Value>(body)? {
        Value::Array(spans) => Ok(spans),
        other => Err(ZipkinError::NotAnArray { got: type_name(&other) }),
    }
}

/// A member name lower-cased, for matching names whatever their case.
pub(super) fn folded(key: &str) -> String {
    key.to_ascii_lowercase()
}

/// The JSON type of a value, for error messages.
pub(super) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Quotes an offending text for an error message, cut short if long.
pub(super) fn quoted(text: &str) -> String {
    const LIMIT: usize = 64;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{:?}... ({} bytes)", &text[..end], text.len()),
        None => format!("{text:?}"),
    }
}

fn wrong_type(index: usize, field: &str, expected: &str, got: &Value) -> ZipkinError {
    invalid_span(index, format!("{field} must be {expected}, got {}", type_name(got)))
}

pub(super) fn object(
    value: Value,
    index: usize,
    field: &str,
) -> Result<Map<String, Value>, ZipkinError> {
    match value {
        Value::Object(members) => Ok(members),
        other => Err(wrong_type(index, field, "an object", &other)),
    }
}

pub(super) fn array(value: Value, index: usize, field: &str) -> Result<Vec<Value>, ZipkinError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(wrong_type(index, field, "an array", &other)),
    }
}

pub(super) fn string(value: Value, index: usize, field: &str) -> Result<String, ZipkinError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(wrong_type(index, field, "a string", &other)),
    }
}

pub(super) fn boolean(value: Value, index: usize, field: &str) -> Result<bool, ZipkinError> {
    match value {
        Value::Bool(flag) => Ok(flag),
        other => Err(wrong_type(index, field, "a boolean", &other)),
    }
}

/// A non-negative integer that fits 64 bits, such as epoch microseconds.
pub(super) fn unsigned(value: Value, index: usize, field: &str) -> Result<u64, ZipkinError> {
    match &value {
        Value::Number(number) => number.as_u64().ok_or_else(|| {
            invalid_span(index, format!("{field} must be a non-negative integer, got {number}"))
        }),
        other => Err(wrong_type(index, field, "a non-negative integer", other)),
    }
}

/// A signed integer that fits 64 bits.
pub(super) fn signed(value: Value, index: usize, field: &str) -> Result<i64, ZipkinError> {
    match &value {
        Value::Number(number) => number.as_i64().ok_or_else(|| {
            invalid_span(index, format!("{field} must be an integer, got {number}"))
        }),
        other => Err(wrong_type(index, field, "an integer", other)),
    }
}

/// A port, 0 to 65535 (0 is unknown).
pub(super) fn port(value: Value, index: usize, field: &str) -> Result<u16, ZipkinError> {
    let out_of_range = |shown: String| {
        invalid_span(index, format!("{field} must be a port (0 to 65535), got {shown}"))
    };
    match &value {
        Value::Number(number) => number
            .as_u64()
            .and_then(|wide| u16::try_from(wide).ok())
            .ok_or_else(|| out_of_range(number.to_string())),
        other => Err(wrong_type(index, field, "a port number", other)),
    }
}

/// A hex id of 1 to `2 * N` digits of any case, left-padded with zeros to `N` bytes (Zipkin
/// ids are unsigned integers; a 64-bit trace id becomes the low half of a 128-bit one).
/// Empty text is `Ok(None)`: the caller decides whether that is absent or an error.
pub(super) fn hex_id<const N: usize>(
    value: Value,
    index: usize,
    field: &str,
) -> Result<Option<[u8; N]>, ZipkinError> {
    let text = string(value, index, field)?;
    if text.is_empty() {
        return Ok(None);
    }
    if !text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(invalid_span(index, format!("{field} {} is not hex", quoted(&text))));
    }
    if text.len() > 2 * N {
        let problem = format!("{field} {} is longer than {} hex digits", quoted(&text), 2 * N);
        return Err(invalid_span(index, problem));
    }
    let mut id = [0u8; N];
    let digits = text.bytes().rev().map(hex_digit_value);
    for (position, digit) in digits.enumerate() {
        let byte = &mut id[N - 1 - position / 2];
        *byte |= if position % 2 == 0 { digit } else { digit << 4 };
    }
    Ok(Some(id))
}

/// The value of a digit already checked by `is_ascii_hexdigit`.
fn hex_digit_value(digit: u8) -> u8 {
    debug_assert!(digit.is_ascii_hexdigit());
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        _ => digit - b'A' + 10,
    }
}

/// An IP address in text (either family in either field, as Go's `net.ParseIP` takes it);
/// empty text is no address.
pub(super) fn ip(value: Value, index: usize, field: &str) -> Result<Option<IpAddr>, ZipkinError> {
    let text = string(value, index, field)?;
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<IpAddr>()
        .map(Some)
        .map_err(|_| invalid_span(index, format!("{field} {} is not an IP address", quoted(&text))))
}
