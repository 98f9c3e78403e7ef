//! What pass 2 of a block search reads for a query: the fields the plan reads, by where a
//! block keeps them, and per unit (with its key dictionaries) how each attribute scope is
//! read. See `eval_decode` for the decoding.

use std::collections::BTreeSet;

use parquet::arrow::ProjectionMask;
use parquet::schema::types::SchemaDescriptor;

use super::scan_filter::GroupView;
use super::schema::*;
use crate::traceql::ast::{AttributeScope, FieldRef, Intrinsic};
use crate::traceql::eval::SearchPlan;

/// Columns every search reads in pass 2: what a span is without its attributes.
const BASE_COLUMNS: [&str; 10] = [
    TRACE_ID,
    SPAN_ID,
    PARENT_SPAN_ID,
    NAME,
    KIND,
    STATUS_CODE,
    START_UNIX_NANO,
    DURATION_NANO,
    NESTED_SET_LEFT,
    NESTED_SET_PARENT,
];

/// What a query reads of a span, by where it lives in a block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct EvalNeeds {
    pub(super) span_keys: BTreeSet<String>,
    pub(super) resource_keys: BTreeSet<String>,
    pub(super) status_message: bool,
    pub(super) scope: bool,
    pub(super) events: bool,
    pub(super) links: bool,
}

impl EvalNeeds {
    /// What `plan` reads, plus the resource's `service.name` (hits report it).
    pub(crate) fn of_plan(plan: &SearchPlan) -> EvalNeeds {
        let mut needs = EvalNeeds::default();
        needs.resource_keys.insert("service.name".to_string());
        for field in plan.read_fields() {
            match field {
                FieldRef::Attribute(attribute) => {
                    let name = attribute.name.clone();
                    match attribute.scope {
                        AttributeScope::None => {
                            needs.span_keys.insert(name.clone());
                            needs.resource_keys.insert(name);
                        }
                        AttributeScope::Span => {
                            needs.span_keys.insert(name);
                        }
                        AttributeScope::Resource => {
                            needs.resource_keys.insert(name);
                        }
                        AttributeScope::Event => needs.events = true,
                        AttributeScope::Link => needs.links = true,
                        AttributeScope::Instrumentation => needs.scope = true,
                    }
                }
                FieldRef::Intrinsic(intrinsic) => match intrinsic {
                    Intrinsic::StatusMessage => needs.status_message = true,
                    Intrinsic::EventName | Intrinsic::EventTimeSinceStart => needs.events = true,
                    Intrinsic::LinkTraceId | Intrinsic::LinkSpanId => needs.links = true,
                    Intrinsic::InstrumentationName | Intrinsic::InstrumentationVersion => {
                        needs.scope = true
                    }
                    _ => {}
                },
            }
        }
        needs
    }

    /// The key dictionaries (list column, leaf) that decide whether a unit's generic lists
    /// must be read.
    pub(crate) fn key_dictionary_columns(&self) -> Vec<(&'static str, &'static str)> {
        let mut columns = Vec::new();
        if !self.span_keys.is_empty() {
            columns.push((ATTRIBUTES, ATTR_KEY));
        }
        if !self.resource_keys.is_empty() {
            columns.push((RESOURCE_ATTRIBUTES, ATTR_KEY));
        }
        columns
    }

    /// How to read the attributes of one unit (row groups read together).
    pub(crate) fn unit_read(&self, groups: &[GroupView<'_>]) -> UnitRead {
        UnitRead {
            span: attribute_read(&self.span_keys, ATTRIBUTES, SPAN_DEDICATED, groups),
            resource: attribute_read(
                &self.resource_keys,
                RESOURCE_ATTRIBUTES,
                RESOURCE_DEDICATED,
                groups,
            ),
        }
    }

    /// The leaf columns pass 2 reads for a unit.
    pub(crate) fn projection(&self, schema: &SchemaDescriptor, read: &UnitRead) -> ProjectionMask {
        let mut wanted: Vec<&str> = BASE_COLUMNS.to_vec();
        if self.status_message {
            wanted.push(STATUS_MESSAGE);
        }
        if self.scope {
            wanted.extend([SCOPE_NAME, SCOPE_VERSION, SCOPE_ATTRIBUTES]);
        }
        if self.events {
            wanted.push(EVENTS);
        }
        if self.links {
            wanted.push(LINKS);
        }
        let scopes = [
            (read.span, &self.span_keys, ATTRIBUTES, DEDICATED_POSITIONS, SPAN_DEDICATED),
            (
                read.resource,
                &self.resource_keys,
                RESOURCE_ATTRIBUTES,
                RESOURCE_DEDICATED_POSITIONS,
                RESOURCE_DEDICATED,
            ),
        ];
        for (how, keys, list, positions, table) in scopes {
            match how {
                AttrRead::Nothing => {}
                AttrRead::Dedicated => wanted.extend(
                    table
                        .iter()
                        .filter(|column| keys.contains(column.attribute))
                        .map(|column| column.column),
                ),
                AttrRead::Full => {
                    wanted.extend([list, positions]);
                    wanted.extend(table.iter().map(|column| column.column));
                }
            }
        }
        let leaves = (0..schema.num_columns()).filter(|&index| {
            let column = schema.column(index);
            column.path().parts().first().is_some_and(|top| wanted.contains(&top.as_str()))
        });
        ProjectionMask::leaves(schema, leaves)
    }
}

/// How one attribute scope of a unit is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttrRead {
    /// No key of the scope is asked for (or none can be in the unit).
    Nothing,
    /// The wanted keys can only be in their dedicated columns.
    Dedicated,
    /// A wanted key may be in the generic list: read it, its positions and every
    /// dedicated column, and rebuild the list in its original order.
    Full,
}

/// How the attributes of one unit are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UnitRead {
    pub span: AttrRead,
    pub resource: AttrRead,
}

fn attribute_read(
    keys: &BTreeSet<String>,
    list: &'static str,
    table: &[DedicatedColumn],
    groups: &[GroupView<'_>],
) -> AttrRead {
    if keys.is_empty() {
        return AttrRead::Nothing;
    }
    let surely_absent = |key: &String| {
        groups.iter().all(|group| {
            group.dictionaries.get(&(list, ATTR_KEY)).is_some_and(|dictionary| {
                !dictionary.values.iter().any(|value| value.as_ref() == key.as_bytes())
            })
        })
    };
    if !keys.iter().all(surely_absent) {
        AttrRead::Full
    } else if table.iter().any(|column| keys.contains(column.attribute)) {
        AttrRead::Dedicated
    } else {
        AttrRead::Nothing
    }
}
