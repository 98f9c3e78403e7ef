//! A Thrift reader over one body, for the binary and the compact protocol, bounded against
//! hostile input.
//!
//! ```text
//!  field header  binary:  type:u8 id:i16be                compact: delta<<4|type [id:zigzag]
//!  i16/i32/i64   binary:  big-endian                      compact: zigzag varint
//!  double        binary:  f64 big-endian                  compact: f64 little-endian
//!  string/binary binary:  len:i32be bytes                 compact: len:varint bytes
//!  list/set      binary:  elem:u8 size:i32be              compact: size<<4|elem [size:varint]
//!  map           binary:  key:u8 value:u8 size:i32be      compact: size:varint [key<<4|value]
//! ```
//!
//! Bounds: a declared length or element count that the rest of the body cannot hold is an
//! error before anything is allocated (every element takes at least one byte), and structs
//! and containers nest at most [`MAX_DEPTH`] levels, as the Go Thrift library's default.

use super::ThriftProtocol;
use super::wire_type::WireType;
use crate::model::convert::jaeger::JaegerError;

/// How deeply structs and containers may nest (the Go Thrift library's default).
pub(super) const MAX_DEPTH: usize = 64;

/// A struct field's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FieldHeader {
    /// The field id.
    pub(super) id: i16,
    /// The type of the value that follows.
    pub(super) wire_type: WireType,
}

/// A list's or set's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ListHeader {
    /// The element type.
    pub(super) element_type: WireType,
    /// The element count, checked against the bytes left.
    pub(super) size: usize,
}

/// Reads Thrift values from one body, in one protocol.
pub(super) struct ThriftReader<'a> {
    body: &'a [u8],
    position: usize,
    protocol: ThriftProtocol,
    /// Open structs and containers.
    depth: usize,
    /// Compact protocol: the previous field id of each open struct, innermost last (field
    /// ids travel as deltas).
    last_field_ids: Vec<i16>,
    /// Compact protocol: a bool field's value, which travels in its field header.
    pending_bool: Option<bool>,
}

impl<'a> ThriftReader<'a> {
    /// A reader at the start of `body`.
    pub(super) fn new(body: &'a [u8], protocol: ThriftProtocol) -> Self {
        ThriftReader {
            body,
            position: 0,
            protocol,
            depth: 0,
            last_field_ids: Vec::new(),
            pending_bool: None,
        }
    }

    /// The protocol being read.
    pub(super) fn protocol(&self) -> ThriftProtocol {
        self.protocol
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.body.len() - self.position
    }

    /// Opens a struct (or container): one nesting level more.
    pub(super) fn enter_struct(&mut self) -> Result<(), JaegerError> {
        self.descend()?;
        self.last_field_ids.push(0);
        Ok(())
    }

    /// Closes the struct opened last.
    pub(super) fn leave_struct(&mut self) {
        self.last_field_ids.pop();
        self.ascend();
    }

    fn descend(&mut self) -> Result<(), JaegerError> {
        if self.depth >= MAX_DEPTH {
            return Err(JaegerError::ThriftTooDeep { limit: MAX_DEPTH, offset: self.position });
        }
        self.depth += 1;
        Ok(())
    }

    fn ascend(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Reads the next field header of the current struct; `None` at its end (`STOP`).
    pub(super) fn read_field_header(&mut self) -> Result<Option<FieldHeader>, JaegerError> {
        const WHAT: &str = "a field header";
        let offset = self.position;
        let first = self.read_u8(WHAT)?;
        match self.protocol {
            ThriftProtocol::Binary => {
                if first == 0 {
                    return Ok(None);
                }
                let wire_type = WireType::from_binary_id(first)
                    .ok_or(JaegerError::ThriftUnknownType { what: WHAT, type_id: first, offset })?;
                let id = i16::from_be_bytes(self.read_array(WHAT)?);
                Ok(Some(FieldHeader { id, wire_type }))
            }
            ThriftProtocol::Compact => {
                let type_id = first & 0x0f;
                if type_id == 0 {
                    return Ok(None);
                }
                let wire_type = WireType::from_compact_id(type_id)
                    .ok_or(JaegerError::ThriftUnknownType { what: WHAT, type_id, offset })?;
                let delta = i16::from(first >> 4);
                let previous = self.last_field_ids.last().copied().unwrap_or(0);
                let id = if delta == 0 {
                    self.read_compact_i32(WHAT)? as i16
                } else {
                    previous.wrapping_add(delta)
                };
                if let Some(last) = self.last_field_ids.last_mut() {
                    *last = id;
                }
                if wire_type == WireType::Bool {
                    self.pending_bool = Some(type_id == 1);
                }
                Ok(Some(FieldHeader { id, wire_type }))
            }
        }
    }

    /// Reads a bool (a compact bool field's value comes from its header).
    pub(super) fn read_bool(&mut self, what: &'static str) -> Result<bool, JaegerError> {
        if let Some(value) = self.pending_bool.take() {
            return Ok(value);
        }
        // Both protocols write 1 for true; anything else reads as false, as in Go.
        Ok(self.read_u8(what)? == 1)
    }

    /// Reads an i32 (compact: a zigzag varint, truncated to 32 bits as Go does).
    pub(super) fn read_i32(&mut self, what: &'static str) -> Result<i32, JaegerError> {
        match self.protocol {
            ThriftProtocol::Binary => Ok(i32::from_be_bytes(self.read_array(what)?)),
            ThriftProtocol::Compact => self.read_compact_i32(what),
        }
    }

    /// Reads an i64.
    pub(super) fn read_i64(&mut self, what: &'static str) -> Result<i64, JaegerError> {
        match self.protocol {
            ThriftProtocol::Binary => Ok(i64::from_be_bytes(self.read_array(what)?)),
            ThriftProtocol::Compact => {
                let raw = self.read_varint(what)?;
                Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
            }
        }
    }

    /// Reads a double.
    pub(super) fn read_double(&mut self, what: &'static str) -> Result<f64, JaegerError> {
        let bytes = self.read_array(what)?;
        Ok(match self.protocol {
            ThriftProtocol::Binary => f64::from_be_bytes(bytes),
            ThriftProtocol::Compact => f64::from_le_bytes(bytes),
        })
    }

    /// Reads a binary value, borrowed from the body.
    pub(super) fn read_binary(&mut self, what: &'static str) -> Result<&'a [u8], JaegerError> {
        let declared = match self.protocol {
            ThriftProtocol::Binary => i64::from(self.read_i32(what)?),
            ThriftProtocol::Compact => self.read_compact_length(what)?,
        };
        let length = self.checked_length(what, declared)?;
        if length > self.remaining() {
            return Err(JaegerError::ThriftTooLong { what, declared, remaining: self.remaining() });
        }
        self.take(what, length)
    }

    /// Reads a string; invalid UTF-8 is replaced by U+FFFD rather than refusing the batch
    /// (Go keeps the bytes, which OTLP strings cannot hold).
    pub(super) fn read_string(&mut self, what: &'static str) -> Result<String, JaegerError> {
        Ok(String::from_utf8_lossy(self.read_binary(what)?).into_owned())
    }

    /// Reads a list or set header, checking the element count against the bytes left.
    pub(super) fn read_list_header(
        &mut self,
        what: &'static str,
    ) -> Result<ListHeader, JaegerError> {
        let offset = self.position;
        let (element_id, declared) = match self.protocol {
            ThriftProtocol::Binary => {
                let element_id = self.read_u8(what)?;
                (element_id, i64::from(self.read_i32(what)?))
            }
            ThriftProtocol::Compact => {
                let header = self.read_u8(what)?;
                let short_size = header >> 4;
                let declared = if short_size == 15 {
                    self.read_compact_length(what)?
                } else {
                    i64::from(short_size)
                };
                (header & 0x0f, declared)
            }
        };
        let element_type = self.element_type(what, element_id, offset)?;
        let size =
            self.checked_count(what, declared, element_type.min_encoded_len(self.protocol))?;
        Ok(ListHeader { element_type, size })
    }

    /// Skips a value of any type, nested containers and structs included.
    pub(super) fn skip(&mut self, wire_type: WireType) -> Result<(), JaegerError> {
        const WHAT: &str = "a skipped value";
        match wire_type {
            WireType::Bool => self.read_bool(WHAT).map(drop),
            WireType::Byte => self.take(WHAT, 1).map(drop),
            WireType::Double => self.take(WHAT, 8).map(drop),
            WireType::Uuid => self.take(WHAT, 16).map(drop),
            WireType::I16 => match self.protocol {
                ThriftProtocol::Binary => self.take(WHAT, 2).map(drop),
                ThriftProtocol::Compact => self.read_compact_i32(WHAT).map(drop),
            },
            WireType::I32 => self.read_i32(WHAT).map(drop),
            WireType::I64 => self.read_i64(WHAT).map(drop),
            WireType::Binary => self.read_binary(WHAT).map(drop),
            WireType::Struct => {
                self.enter_struct()?;
                while let Some(field) = self.read_field_header()? {
                    self.skip(field.wire_type)?;
                }
                self.leave_struct();
                Ok(())
            }
            WireType::List | WireType::Set => {
                self.descend()?;
                let header = self.read_list_header("a skipped list")?;
                for _ in 0..header.size {
                    self.skip(header.element_type)?;
                }
                self.ascend();
                Ok(())
            }
            WireType::Map => {
                self.descend()?;
                self.skip_map_entries()?;
                self.ascend();
                Ok(())
            }
        }
    }

    fn skip_map_entries(&mut self) -> Result<(), JaegerError> {
        const WHAT: &str = "a skipped map";
        let offset = self.position;
        let (declared, type_ids) = match self.protocol {
            ThriftProtocol::Binary => {
                let key_id = self.read_u8(WHAT)?;
                let value_id = self.read_u8(WHAT)?;
                (i64::from(self.read_i32(WHAT)?), Some((key_id, value_id)))
            }
            ThriftProtocol::Compact => {
                let declared = self.read_compact_length(WHAT)?;
                // An empty compact map has no type byte.
                let types = if declared == 0 {
                    None
                } else {
                    let both = self.read_u8(WHAT)?;
                    Some((both >> 4, both & 0x0f))
                };
                (declared, types)
            }
        };
        let Some((key_id, value_id)) = type_ids else {
            return Ok(());
        };
        let key_type = self.element_type(WHAT, key_id, offset)?;
        let value_type = self.element_type(WHAT, value_id, offset)?;
        let entry_len =
            key_type.min_encoded_len(self.protocol) + value_type.min_encoded_len(self.protocol);
        let size = self.checked_count(WHAT, declared, entry_len)?;
        for _ in 0..size {
            self.skip(key_type)?;
            self.skip(value_type)?;
        }
        Ok(())
    }

    fn element_type(
        &self,
        what: &'static str,
        type_id: u8,
        offset: usize,
    ) -> Result<WireType, JaegerError> {
        let element_type = match self.protocol {
            ThriftProtocol::Binary => WireType::from_binary_id(type_id),
            ThriftProtocol::Compact => WireType::from_compact_id(type_id),
        };
        element_type.ok_or(JaegerError::ThriftUnknownType { what, type_id, offset })
    }

    /// A declared length as `usize`, refusing negative ones.
    fn checked_length(&self, what: &'static str, declared: i64) -> Result<usize, JaegerError> {
        usize::try_from(declared).map_err(|_| JaegerError::ThriftNegativeLength { what, declared })
    }

    /// A declared element count, refused when negative or when the rest of the body cannot
    /// hold that many elements of `min_element_len` bytes.
    fn checked_count(
        &self,
        what: &'static str,
        declared: i64,
        min_element_len: usize,
    ) -> Result<usize, JaegerError> {
        let count = self.checked_length(what, declared)?;
        if count.saturating_mul(min_element_len) > self.remaining() {
            return Err(JaegerError::ThriftTooManyElements {
                what,
                declared,
                remaining: self.remaining(),
            });
        }
        Ok(count)
    }

    /// A compact length or element count: an unsigned varint (a huge one stays huge and is
    /// refused by the bounds check, where Go would truncate it to 32 bits).
    fn read_compact_length(&mut self, what: &'static str) -> Result<i64, JaegerError> {
        Ok(i64::try_from(self.read_varint(what)?).unwrap_or(i64::MAX))
    }

    fn read_compact_i32(&mut self, what: &'static str) -> Result<i32, JaegerError> {
        let raw = self.read_varint(what)? as u32;
        Ok((raw >> 1) as i32 ^ -((raw & 1) as i32))
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    pub(super) fn read_varint(&mut self, what: &'static str) -> Result<u64, JaegerError> {
        let offset = self.position;
        let mut value: u64 = 0;
        for index in 0..10 {
            let byte = self.read_u8(what)?;
            value |= u64::from(byte & 0x7f) << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(JaegerError::ThriftVarintTooLong { offset })
    }

    /// Reads one raw byte.
    pub(super) fn read_u8(&mut self, what: &'static str) -> Result<u8, JaegerError> {
        let [byte] = self.read_array(what)?;
        Ok(byte)
    }

    /// Reads `N` raw bytes.
    fn read_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], JaegerError> {
        let bytes = self.take(what, N)?;
        let mut array = [0; N];
        array.copy_from_slice(bytes);
        Ok(array)
    }

    /// Takes `length` raw bytes.
    pub(super) fn take(
        &mut self,
        what: &'static str,
        length: usize,
    ) -> Result<&'a [u8], JaegerError> {
        let remaining = self.remaining();
        if length > remaining {
            return Err(JaegerError::ThriftTruncated {
                what,
                offset: self.position,
                needed: length - remaining,
            });
        }
        let start = self.position;
        self.position += length;
        Ok(&self.body[start..self.position])
    }
}
