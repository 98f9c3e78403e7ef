//! A Thrift encoder for tests: values as a tree, written in the binary or the compact
//! protocol, plus builders for the `jaeger.thrift` structs.

use super::ThriftProtocol;

/// A Thrift value type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Bool,
    Byte,
    Double,
    I16,
    I32,
    I64,
    Binary,
    Struct,
    Map,
    Set,
    List,
    Uuid,
}

impl Kind {
    fn binary_id(self) -> u8 {
        match self {
            Kind::Bool => 2,
            Kind::Byte => 3,
            Kind::Double => 4,
            Kind::I16 => 6,
            Kind::I32 => 8,
            Kind::I64 => 10,
            Kind::Binary => 11,
            Kind::Struct => 12,
            Kind::Map => 13,
            Kind::Set => 14,
            Kind::List => 15,
            Kind::Uuid => 16,
        }
    }

    /// The compact id (a bool in a collection is written as 1, as `TRUE`).
    fn compact_id(self) -> u8 {
        match self {
            Kind::Bool => 1,
            Kind::Byte => 3,
            Kind::I16 => 4,
            Kind::I32 => 5,
            Kind::I64 => 6,
            Kind::Double => 7,
            Kind::Binary => 8,
            Kind::List => 9,
            Kind::Set => 10,
            Kind::Map => 11,
            Kind::Struct => 12,
            Kind::Uuid => 13,
        }
    }
}

/// A Thrift value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Bool(bool),
    Byte(i8),
    Double(f64),
    I16(i16),
    I32(i32),
    I64(i64),
    Binary(Vec<u8>),
    Struct(Vec<(i16, Value)>),
    Map(Kind, Kind, Vec<(Value, Value)>),
    Set(Kind, Vec<Value>),
    List(Kind, Vec<Value>),
    Uuid([u8; 16]),
}

impl Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Bool(_) => Kind::Bool,
            Value::Byte(_) => Kind::Byte,
            Value::Double(_) => Kind::Double,
            Value::I16(_) => Kind::I16,
            Value::I32(_) => Kind::I32,
            Value::I64(_) => Kind::I64,
            Value::Binary(_) => Kind::Binary,
            Value::Struct(_) => Kind::Struct,
            Value::Map(..) => Kind::Map,
            Value::Set(..) => Kind::Set,
            Value::List(..) => Kind::List,
            Value::Uuid(_) => Kind::Uuid,
        }
    }
}

/// A string value.
pub(super) fn string(text: &str) -> Value {
    Value::Binary(text.as_bytes().to_vec())
}

/// A list of structs.
pub(super) fn structs(elements: Vec<Value>) -> Value {
    Value::List(Kind::Struct, elements)
}

/// Encodes `value` (usually a struct) without any envelope.
pub(super) fn encode(value: &Value, protocol: ThriftProtocol) -> Vec<u8> {
    let mut out = Vec::new();
    write(&mut out, value, protocol);
    out
}

/// Encodes a message envelope followed by `args` (binary: strict or old header).
pub(super) fn encode_message(
    name: &str,
    message_type: u8,
    args: &Value,
    protocol: ThriftProtocol,
    strict: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    match protocol {
        ThriftProtocol::Binary if strict => {
            out.extend_from_slice(&(0x8001_0000_u32 | u32::from(message_type)).to_be_bytes());
            out.extend_from_slice(&(name.len() as i32).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&7_i32.to_be_bytes());
        }
        ThriftProtocol::Binary => {
            out.extend_from_slice(&(name.len() as i32).to_be_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(message_type);
            out.extend_from_slice(&7_i32.to_be_bytes());
        }
        ThriftProtocol::Compact => {
            out.push(0x82);
            out.push((message_type << 5) | 1);
            write_varint(&mut out, 7);
            write_varint(&mut out, name.len() as u64);
            out.extend_from_slice(name.as_bytes());
        }
    }
    write(&mut out, args, protocol);
    out
}

fn write(out: &mut Vec<u8>, value: &Value, protocol: ThriftProtocol) {
    match protocol {
        ThriftProtocol::Binary => write_binary(out, value),
        ThriftProtocol::Compact => write_compact(out, value),
    }
}

fn write_binary(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(flag) => out.push(u8::from(*flag)),
        Value::Byte(byte) => out.push(*byte as u8),
        Value::Double(number) => out.extend_from_slice(&number.to_be_bytes()),
        Value::I16(number) => out.extend_from_slice(&number.to_be_bytes()),
        Value::I32(number) => out.extend_from_slice(&number.to_be_bytes()),
        Value::I64(number) => out.extend_from_slice(&number.to_be_bytes()),
        Value::Binary(bytes) => {
            out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        Value::Struct(fields) => {
            for (id, field) in fields {
                out.push(field.kind().binary_id());
                out.extend_from_slice(&id.to_be_bytes());
                write_binary(out, field);
            }
            out.push(0);
        }
        Value::Map(key_kind, value_kind, entries) => {
            out.push(key_kind.binary_id());
            out.push(value_kind.binary_id());
            out.extend_from_slice(&(entries.len() as i32).to_be_bytes());
            for (key, entry) in entries {
                write_binary(out, key);
                write_binary(out, entry);
            }
        }
        Value::Set(kind, elements) | Value::List(kind, elements) => {
            out.push(kind.binary_id());
            out.extend_from_slice(&(elements.len() as i32).to_be_bytes());
            for element in elements {
                write_binary(out, element);
            }
        }
        Value::Uuid(bytes) => out.extend_from_slice(bytes),
    }
}

fn write_compact(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(flag) => out.push(if *flag { 1 } else { 2 }),
        Value::Byte(byte) => out.push(*byte as u8),
        Value::Double(number) => out.extend_from_slice(&number.to_le_bytes()),
        Value::I16(number) => write_zigzag(out, i64::from(*number)),
        Value::I32(number) => write_zigzag(out, i64::from(*number)),
        Value::I64(number) => write_zigzag(out, *number),
        Value::Binary(bytes) => {
            write_varint(out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        Value::Struct(fields) => {
            let mut last_id = 0_i16;
            for (id, field) in fields {
                let type_id = match field {
                    Value::Bool(false) => 2,
                    other => other.kind().compact_id(),
                };
                let delta = i32::from(*id) - i32::from(last_id);
                if (1..=15).contains(&delta) {
                    out.push(((delta as u8) << 4) | type_id);
                } else {
                    out.push(type_id);
                    write_zigzag(out, i64::from(*id));
                }
                last_id = *id;
                // A bool field's value is its header's type.
                if !matches!(field, Value::Bool(_)) {
                    write_compact(out, field);
                }
            }
            out.push(0);
        }
        Value::Map(key_kind, value_kind, entries) => {
            write_varint(out, entries.len() as u64);
            if !entries.is_empty() {
                out.push((key_kind.compact_id() << 4) | value_kind.compact_id());
            }
            for (key, entry) in entries {
                write_compact(out, key);
                write_compact(out, entry);
            }
        }
        Value::Set(kind, elements) | Value::List(kind, elements) => {
            if elements.len() < 15 {
                out.push(((elements.len() as u8) << 4) | kind.compact_id());
            } else {
                out.push(0xf0 | kind.compact_id());
                write_varint(out, elements.len() as u64);
            }
            for element in elements {
                write_compact(out, element);
            }
        }
        Value::Uuid(bytes) => out.extend_from_slice(bytes),
    }
}

fn write_zigzag(out: &mut Vec<u8>, number: i64) {
    write_varint(out, ((number << 1) ^ (number >> 63)) as u64);
}

/// Writes an unsigned LEB128 varint.
pub(super) fn write_varint(out: &mut Vec<u8>, mut number: u64) {
    while number >= 0x80 {
        out.push((number as u8) | 0x80);
        number >>= 7;
    }
    out.push(number as u8);
}

/// A `Tag` with the given type number and value field (id 3..=7).
pub(super) fn tag(key: &str, value_type: i32, value_field: Option<(i16, Value)>) -> Value {
    let mut fields = vec![(1, string(key)), (2, Value::I32(value_type))];
    fields.extend(value_field);
    Value::Struct(fields)
}

pub(super) fn string_tag(key: &str, value: &str) -> Value {
    tag(key, 0, Some((3, string(value))))
}

pub(super) fn double_tag(key: &str, value: f64) -> Value {
    tag(key, 1, Some((4, Value::Double(value))))
}

pub(super) fn bool_tag(key: &str, value: bool) -> Value {
    tag(key, 2, Some((5, Value::Bool(value))))
}

pub(super) fn long_tag(key: &str, value: i64) -> Value {
    tag(key, 3, Some((6, Value::I64(value))))
}

pub(super) fn binary_tag(key: &str, value: &[u8]) -> Value {
    tag(key, 4, Some((7, Value::Binary(value.to_vec()))))
}

/// A `Log` at `timestamp` µs.
pub(super) fn log(timestamp: i64, fields: Vec<Value>) -> Value {
    Value::Struct(vec![(1, Value::I64(timestamp)), (2, structs(fields))])
}

/// A `SpanRef` (0 = CHILD_OF, 1 = FOLLOWS_FROM).
pub(super) fn span_ref(
    ref_type: i32,
    trace_id_low: i64,
    trace_id_high: i64,
    span_id: i64,
) -> Value {
    Value::Struct(vec![
        (1, Value::I32(ref_type)),
        (2, Value::I64(trace_id_low)),
        (3, Value::I64(trace_id_high)),
        (4, Value::I64(span_id)),
    ])
}

/// The required fields of a `Span` (flags 1); callers append optional ones.
pub(super) fn span_fields(
    trace_id: (i64, i64),
    span_id: i64,
    parent_span_id: i64,
    operation_name: &str,
    start_time: i64,
    duration: i64,
) -> Vec<(i16, Value)> {
    vec![
        (1, Value::I64(trace_id.1)),
        (2, Value::I64(trace_id.0)),
        (3, Value::I64(span_id)),
        (4, Value::I64(parent_span_id)),
        (5, string(operation_name)),
        (7, Value::I32(1)),
        (8, Value::I64(start_time)),
        (9, Value::I64(duration)),
    ]
}

/// A `Process`.
pub(super) fn process(service_name: &str, tags: Vec<Value>) -> Value {
    Value::Struct(vec![(1, string(service_name)), (2, structs(tags))])
}

/// A `Batch`.
pub(super) fn batch(process: Value, spans: Vec<Value>) -> Value {
    Value::Struct(vec![(1, process), (2, structs(spans))])
}
