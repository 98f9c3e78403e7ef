//! Distinct tag names and values as a tag query collects them, with Tempo's limits: `limit`
//! (most names per scope, or most values), `maxStaleValues` (stop after that many
//! already-seen items in a row) and a byte budget for the whole answer.
//!
//! ```text
//!  job (live traces or one block dictionary) ──► TagCollector (job-local, same limits)
//!  jobs in order ──absorb──► the query's TagCollector ──is_done?──► stop sending jobs
//! ```
//!
//! The same collector runs inside each job (so a job stops scanning early) and in the
//! combine step (so the answer obeys the limits across jobs). Items keep discovery order;
//! answers are sorted when rendered.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::storage::block::TagScope;

/// Bytes of names or values in one answer (Tempo's default `max_bytes_per_tag_values_query`).
pub(crate) const MAX_ANSWER_BYTES: usize = 1_000_000;

/// The limits of one tag query; 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CollectLimits {
    /// Most names per scope, or most values.
    pub limit: usize,
    /// Stop after this many already-seen items in a row.
    pub max_stale: usize,
    /// Most bytes of names, or of value types and texts, in all.
    pub max_bytes: usize,
}

/// Distinct items in discovery order, closed once a limit is reached.
#[derive(Debug, Clone)]
pub(crate) struct Distinct<T> {
    seen: HashSet<T>,
    items: Vec<T>,
    stale_run: usize,
    limit: usize,
    max_stale: usize,
    done: bool,
}

impl<T: Hash + Eq + Clone> Distinct<T> {
    fn new(limits: CollectLimits) -> Distinct<T> {
        Distinct {
            seen: HashSet::new(),
            items: Vec::new(),
            stale_run: 0,
            limit: limits.limit,
            max_stale: limits.max_stale,
            done: false,
        }
    }

    /// Whether `item` is new (and the collector still open); counts a stale hit otherwise.
    fn admits<Q>(&mut self, item: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.done {
            return false;
        }
        if self.seen.contains(item) {
            self.stale_run += 1;
            if self.max_stale > 0 && self.stale_run >= self.max_stale {
                self.done = true;
            }
            return false;
        }
        true
    }

    fn insert(&mut self, item: T) {
        self.seen.insert(item.clone());
        self.items.push(item);
        self.stale_run = 0;
        if self.limit > 0 && self.items.len() >= self.limit {
            self.done = true;
        }
    }

    /// The items, in discovery order.
    pub(crate) fn items(&self) -> &[T] {
        &self.items
    }
}

/// How much of a collector earlier messages of a streaming query carried: items per name
/// group, and values (collectors only grow, in discovery order).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SentItems {
    names: Vec<usize>,
    values: usize,
}

/// The shape of a [`TagCollector`]: which names or values it collects, under which limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CollectorShape {
    /// The scopes whose names are collected (none when collecting values).
    pub name_scopes: Vec<TagScope>,
    /// One list of names for all scopes (v1).
    pub merged: bool,
    /// Values are collected instead of names.
    pub collects_values: bool,
    /// The limits.
    pub limits: CollectLimits,
}

impl CollectorShape {
    /// An empty collector of this shape.
    pub(crate) fn collector(&self) -> TagCollector {
        if self.collects_values {
            TagCollector::for_values(self.limits)
        } else {
            TagCollector::for_names(&self.name_scopes, self.merged, self.limits)
        }
    }
}

/// How names are grouped.
#[derive(Debug, Clone)]
enum NameGroups {
    /// One list per scope (v2), `limit` per scope.
    PerScope(Vec<(TagScope, Distinct<String>)>),
    /// One list for all these scopes (v1), `limit` in all.
    Merged(Vec<TagScope>, Distinct<String>),
}

/// What one query (or one job of it) has found so far.
#[derive(Debug, Clone)]
pub(crate) struct TagCollector {
    names: NameGroups,
    values: Distinct<TypedValue>,
    collects_values: bool,
    bytes: usize,
    max_bytes: usize,
    out_of_bytes: bool,
}

impl TagCollector {
    /// Collects the names of `scopes`, one list per scope, or one list for all when `merged`.
    pub(crate) fn for_names(scopes: &[TagScope], merged: bool, limits: CollectLimits) -> Self {
        let names = if merged {
            NameGroups::Merged(scopes.to_vec(), Distinct::new(limits))
        } else {
            NameGroups::PerScope(scopes.iter().map(|s| (*s, Distinct::new(limits))).collect())
        };
        TagCollector::new(names, false, limits)
    }

    /// Collects values.
    pub(crate) fn for_values(limits: CollectLimits) -> Self {
        TagCollector::new(NameGroups::PerScope(Vec::new()), true, limits)
    }

    fn new(names: NameGroups, collects_values: bool, limits: CollectLimits) -> Self {
        TagCollector {
            names,
            values: Distinct::new(limits),
            collects_values,
            bytes: 0,
            max_bytes: limits.max_bytes,
            out_of_bytes: false,
        }
    }

    /// An empty collector with the same shape and limits (for a job).
    pub(crate) fn empty_like(&self) -> TagCollector {
        self.shape().collector()
    }

    /// What this collector collects, under which limits (a job sent to another node carries
    /// it).
    pub(crate) fn shape(&self) -> CollectorShape {
        CollectorShape {
            name_scopes: self.name_scopes(),
            merged: matches!(self.names, NameGroups::Merged(..)),
            collects_values: self.collects_values,
            limits: CollectLimits {
                limit: self.values.limit,
                max_stale: self.values.max_stale,
                max_bytes: self.max_bytes,
            },
        }
    }

    /// Everything found, in discovery order: names with their scope (the first scope of a
    /// merged list) and values. Adding them to an empty collector of the same shape gives
    /// this collector back.
    pub(crate) fn found_items(&self) -> (Vec<(TagScope, String)>, Vec<TypedValue>) {
        let names = self
            .names_by_scope()
            .into_iter()
            .flat_map(|(scope, names)| names.items().iter().map(move |name| (scope, name.clone())))
            .collect();
        (names, self.values.items().to_vec())
    }

    /// The scopes whose names are collected (none when collecting values).
    pub(crate) fn name_scopes(&self) -> Vec<TagScope> {
        match &self.names {
            NameGroups::PerScope(groups) => groups.iter().map(|(scope, _)| *scope).collect(),
            NameGroups::Merged(scopes, _) => scopes.clone(),
        }
    }

    /// Whether this collector wants the names of `scope` (and is still open for them).
    pub(crate) fn wants_names_of(&self, scope: TagScope) -> bool {
        !self.out_of_bytes
            && match &self.names {
                NameGroups::PerScope(groups) => {
                    groups.iter().any(|(s, names)| *s == scope && !names.done)
                }
                NameGroups::Merged(scopes, names) => scopes.contains(&scope) && !names.done,
            }
    }

    /// Records a name found in `scope`; ignored when the scope is not collected.
    pub(crate) fn add_name(&mut self, scope: TagScope, name: &str) {
        if self.out_of_bytes {
            return;
        }
        let names = match &mut self.names {
            NameGroups::PerScope(groups) => match groups.iter_mut().find(|(s, _)| *s == scope) {
                Some((_, names)) => names,
                None => return,
            },
            NameGroups::Merged(scopes, names) if scopes.contains(&scope) => names,
            NameGroups::Merged(..) => return,
        };
        if !names.admits(name) {
            return;
        }
        if self.max_bytes > 0 && self.bytes + name.len() > self.max_bytes {
            self.out_of_bytes = true;
            return;
        }
        self.bytes += name.len();
        names.insert(name.to_string());
    }

    /// Records a value.
    pub(crate) fn add_value(&mut self, value: TypedValue) {
        if self.out_of_bytes || !self.values.admits(&value) {
            return;
        }
        let size = value.kind.as_str().len() + value.text.len();
        if self.max_bytes > 0 && self.bytes + size > self.max_bytes {
            self.out_of_bytes = true;
            return;
        }
        self.bytes += size;
        self.values.insert(value);
    }

    /// True once nothing more can be added: out of bytes, every scope's names done, or the
    /// values done.
    pub(crate) fn is_done(&self) -> bool {
        if self.out_of_bytes {
            return true;
        }
        if self.collects_values {
            return self.values.done;
        }
        match &self.names {
            NameGroups::PerScope(groups) => groups.iter().all(|(_, names)| names.done),
            NameGroups::Merged(_, names) => names.done,
        }
    }

    /// Adds what a job found, in the job's discovery order.
    pub(crate) fn absorb(&mut self, found: &TagCollector) {
        for (scope, names) in found.names_by_scope() {
            for name in names.items() {
                self.add_name(scope, name);
            }
        }
        for value in found.values.items() {
            self.add_value(value.clone());
        }
    }

    /// What was found since `sent` (then marks it sent): a collector of the same shape
    /// holding only the new names and values, for a streaming interim.
    pub(crate) fn changes_since(&self, sent: &mut SentItems) -> TagCollector {
        let mut changes = self.empty_like();
        let groups = self.names_by_scope();
        sent.names.resize(groups.len(), 0);
        for ((scope, names), sent_names) in groups.into_iter().zip(&mut sent.names) {
            for name in names.items().get(*sent_names..).unwrap_or_default() {
                changes.add_name(scope, name);
            }
            *sent_names = names.items().len();
        }
        for value in self.values.items().get(sent.values..).unwrap_or_default() {
            changes.add_value(value.clone());
        }
        sent.values = self.values.items().len();
        changes
    }

    /// Names per scope in discovery order (one entry under the first scope when merged).
    fn names_by_scope(&self) -> Vec<(TagScope, &Distinct<String>)> {
        match &self.names {
            NameGroups::PerScope(groups) => groups.iter().map(|(s, names)| (*s, names)).collect(),
            NameGroups::Merged(scopes, names) => {
                scopes.first().map(|scope| (*scope, names)).into_iter().collect()
            }
        }
    }

    /// Names per scope, each sorted; scopes without names are left out.
    pub(crate) fn sorted_names(&self) -> Vec<(TagScope, Vec<String>)> {
        self.names_by_scope()
            .into_iter()
            .filter(|(_, names)| !names.items.is_empty())
            .map(|(scope, names)| {
                let mut sorted = names.items.clone();
                sorted.sort();
                (scope, sorted)
            })
            .collect()
    }

    /// The values, sorted by type then value (numbers numerically).
    pub(crate) fn sorted_values(&self) -> Vec<TypedValue> {
        let mut values = self.values.items.clone();
        values.sort_by(TypedValue::display_order);
        values
    }
}

/// A tag value's type, as Tempo names it in `TagValue.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ValueKind {
    /// `string`
    String,
    /// `int`
    Int,
    /// `float`
    Float,
    /// `bool`
    Bool,
    /// `keyword` (status and kind values). Tempo's `duration` type is never produced: the
    /// duration intrinsics list no values.
    Keyword,
}

impl ValueKind {
    /// Tempo's name of the type.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Int => "int",
            ValueKind::Float => "float",
            ValueKind::Bool => "bool",
            ValueKind::Keyword => "keyword",
        }
    }
}

/// A typed value as the tag APIs return it: the type and the value as text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct TypedValue {
    /// The type.
    pub kind: ValueKind,
    /// The value as Tempo prints it.
    pub text: String,
}

impl TypedValue {
    /// A value of `kind`.
    pub(crate) fn new(kind: ValueKind, text: impl Into<String>) -> TypedValue {
        TypedValue { kind, text: text.into() }
    }

    /// A string value.
    pub(crate) fn string(text: impl Into<String>) -> TypedValue {
        TypedValue::new(ValueKind::String, text)
    }

    /// An int value.
    pub(crate) fn int(number: i64) -> TypedValue {
        TypedValue::new(ValueKind::Int, number.to_string())
    }

    /// A float value, printed as Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
    pub(crate) fn float(number: f64) -> TypedValue {
        TypedValue::new(ValueKind::Float, go_format_float(number))
    }

    /// A bool value.
    pub(crate) fn bool(flag: bool) -> TypedValue {
        TypedValue::new(ValueKind::Bool, if flag { "true" } else { "false" })
    }

    /// The same value as an untyped string (v1 answers are strings only).
    pub(crate) fn untyped(self) -> TypedValue {
        TypedValue { kind: ValueKind::String, ..self }
    }

    fn display_order(a: &TypedValue, b: &TypedValue) -> Ordering {
        a.kind.cmp(&b.kind).then_with(|| match a.kind {
            ValueKind::Int => match (a.text.parse::<i64>(), b.text.parse::<i64>()) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.text.cmp(&b.text),
            },
            ValueKind::Float => match (a.text.parse::<f64>(), b.text.parse::<f64>()) {
                (Ok(x), Ok(y)) => x.total_cmp(&y),
                _ => a.text.cmp(&b.text),
            },
            _ => a.text.cmp(&b.text),
        })
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`: the shortest digits that read back exactly,
/// plain for decimal exponents -4 to 5, else `1.5e+06` style with at least two exponent
/// digits.
pub(crate) fn go_format_float(number: f64) -> String {
    if number.is_nan() {
        return "NaN".to_string();
    }
    if number.is_infinite() {
        return if number > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if number == 0.0 {
        return if number.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Shortest round-trip digits, in scientific form: `-1.234e6`.
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        return format!("{number}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

#[cfg(test)]
#[path = "tag_collect_tests.rs"]
mod tests;
