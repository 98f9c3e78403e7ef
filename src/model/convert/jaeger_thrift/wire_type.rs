//! Thrift value types: their ids in the binary and compact protocols, and the fewest bytes a
//! value of each takes (what bounds a declared element count).

use super::ThriftProtocol;

/// A Thrift value type, as both protocols name it once decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WireType {
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

impl WireType {
    /// The type's name in Thrift IDL, for error messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            WireType::Bool => "bool",
            WireType::Byte => "byte",
            WireType::Double => "double",
            WireType::I16 => "i16",
            WireType::I32 => "i32",
            WireType::I64 => "i64",
            WireType::Binary => "string",
            WireType::Struct => "struct",
            WireType::Map => "map",
            WireType::Set => "set",
            WireType::List => "list",
            WireType::Uuid => "uuid",
        }
    }

    /// The fewest bytes one value of this type takes on the wire.
    pub(super) fn min_encoded_len(self, protocol: ThriftProtocol) -> usize {
        match (self, protocol) {
            (WireType::Bool | WireType::Byte | WireType::Struct, _) => 1,
            (WireType::Double, _) => 8,
            (WireType::Uuid, _) => 16,
            (WireType::I16, ThriftProtocol::Binary) => 2,
            (WireType::I32 | WireType::Binary, ThriftProtocol::Binary) => 4,
            (WireType::I64, ThriftProtocol::Binary) => 8,
            (WireType::Set | WireType::List, ThriftProtocol::Binary) => 5,
            (WireType::Map, ThriftProtocol::Binary) => 6,
            (
                WireType::I16
                | WireType::I32
                | WireType::I64
                | WireType::Binary
                | WireType::Set
                | WireType::List
                | WireType::Map,
                ThriftProtocol::Compact,
            ) => 1,
        }
    }

    /// The binary protocol's type ids.
    pub(super) fn from_binary_id(id: u8) -> Option<WireType> {
        Some(match id {
            2 => WireType::Bool,
            3 => WireType::Byte,
            4 => WireType::Double,
            6 => WireType::I16,
            8 => WireType::I32,
            10 => WireType::I64,
            11 => WireType::Binary,
            12 => WireType::Struct,
            13 => WireType::Map,
            14 => WireType::Set,
            15 => WireType::List,
            16 => WireType::Uuid,
            _ => return None,
        })
    }

    /// The compact protocol's type ids (1 and 2 are a bool's two values).
    pub(super) fn from_compact_id(id: u8) -> Option<WireType> {
        Some(match id {
            1 | 2 => WireType::Bool,
            3 => WireType::Byte,
            4 => WireType::I16,
            5 => WireType::I32,
            6 => WireType::I64,
            7 => WireType::Double,
            8 => WireType::Binary,
            9 => WireType::List,
            10 => WireType::Set,
            11 => WireType::Map,
            12 => WireType::Struct,
            13 => WireType::Uuid,
            _ => return None,
        })
    }
}
