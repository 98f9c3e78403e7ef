//! Spansets and the operators between them (§5): `&&`, `||` and the structural operators.
//!
//! Structural relations compare nested-set numbers ([`crate::model::nested_set`]); a span
//! whose position is unknown never stands in any relation, so the negated operators return
//! it. Each operator is answered in O((|A| + |B|) log |A|): the left spans are indexed once
//! (a set of numbers, or intervals sorted by `left`), then each right span is looked up.
//!
//! ```text
//!   A > B    B spans whose parent is in A          A !> B   B spans whose parent is not in A
//!   A < B    B spans that are the parent of an A   A &> B   spans of A and B in some pair
//!   A >> B   B spans with an ancestor in A         …        (same for <, >>, <<, ~)
//!   A << B   B spans with a descendant in A
//!   A ~ B    B spans with a sibling in A
//! ```

use std::collections::{HashMap, HashSet};

use super::trace::EvalTrace;
use super::value::Value;
use crate::model::nested_set::NestedSet;
use crate::traceql::ast::SpansetOp;

/// A group of spans of one trace, with the labels stages attached to it (`by(…)` values,
/// aggregate results).
#[derive(Debug, Clone, PartialEq)]
pub struct Spanset<'t> {
    /// Indices into [`EvalTrace::spans`]: distinct, in evaluation order.
    pub spans: Vec<u32>,
    /// Spanset attributes, such as `by(resource.service.name)` or `count()`.
    pub attributes: Vec<(String, Value<'t>)>,
}

impl<'t> Spanset<'t> {
    /// Sets an attribute, replacing one of the same name.
    pub(crate) fn set_attribute(&mut self, name: &str, value: Value<'t>) {
        match self.attributes.iter_mut().find(|(existing, _)| existing == name) {
            Some((_, slot)) => *slot = value,
            None => self.attributes.push((name.to_owned(), value)),
        }
    }
}

/// How two spans may be related.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relation {
    /// The left span is the right span's parent.
    Child,
    /// The right span is the left span's parent.
    Parent,
    /// The left span is an ancestor of the right span.
    Descendant,
    /// The right span is an ancestor of the left span.
    Ancestor,
    /// The spans share a parent.
    Sibling,
}

impl Relation {
    /// The relation seen from the other side.
    fn reversed(self) -> Relation {
        match self {
            Relation::Child => Relation::Parent,
            Relation::Parent => Relation::Child,
            Relation::Descendant => Relation::Ancestor,
            Relation::Ancestor => Relation::Descendant,
            Relation::Sibling => Relation::Sibling,
        }
    }
}

/// What a structural operator returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Right spans with a partner on the left.
    Related,
    /// Right spans without one.
    Negated,
    /// Spans of both sides that have a partner on the other side.
    Union,
}

fn structural(op: SpansetOp) -> Option<(Relation, Form)> {
    use SpansetOp::*;
    Some(match op {
        And | Or => return None,
        Child => (Relation::Child, Form::Related),
        Parent => (Relation::Parent, Form::Related),
        Descendant => (Relation::Descendant, Form::Related),
        Ancestor => (Relation::Ancestor, Form::Related),
        Sibling => (Relation::Sibling, Form::Related),
        NotChild => (Relation::Child, Form::Negated),
        NotParent => (Relation::Parent, Form::Negated),
        NotDescendant => (Relation::Descendant, Form::Negated),
        NotAncestor => (Relation::Ancestor, Form::Negated),
        NotSibling => (Relation::Sibling, Form::Negated),
        UnionChild => (Relation::Child, Form::Union),
        UnionParent => (Relation::Parent, Form::Union),
        UnionDescendant => (Relation::Descendant, Form::Union),
        UnionAncestor => (Relation::Ancestor, Form::Union),
        UnionSibling => (Relation::Sibling, Form::Union),
    })
}

/// Combines the spans the two operands kept (`None`: the operand gave no spanset). Returns
/// the spans of the result; empty means no spanset.
pub(crate) fn combine(
    trace: &EvalTrace,
    op: SpansetOp,
    lhs: Option<&[u32]>,
    rhs: Option<&[u32]>,
) -> Vec<u32> {
    let Some((relation, form)) = structural(op) else {
        return match (op, lhs, rhs) {
            (SpansetOp::And, Some(lhs), Some(rhs)) => distinct_union(trace, lhs, rhs),
            (SpansetOp::Or, lhs, rhs) => {
                distinct_union(trace, lhs.unwrap_or_default(), rhs.unwrap_or_default())
            }
            _ => Vec::new(),
        };
    };
    match (form, lhs, rhs) {
        (_, _, None) => Vec::new(),
        (Form::Negated, None, Some(rhs)) => rhs.to_vec(),
        (_, None, Some(_)) => Vec::new(),
        (Form::Related, Some(lhs), Some(rhs)) => keep(rhs, &has_partner(trace, lhs, rhs, relation)),
        (Form::Negated, Some(lhs), Some(rhs)) => {
            let partnered = has_partner(trace, lhs, rhs, relation);
            let alone: Vec<bool> = partnered.iter().map(|has| !has).collect();
            keep(rhs, &alone)
        }
        (Form::Union, Some(lhs), Some(rhs)) => {
            let right = keep(rhs, &has_partner(trace, lhs, rhs, relation));
            let left = keep(lhs, &has_partner(trace, rhs, lhs, relation.reversed()));
            distinct_union(trace, &left, &right)
        }
    }
}

fn keep(spans: &[u32], flags: &[bool]) -> Vec<u32> {
    spans.iter().zip(flags).filter(|(_, keep)| **keep).map(|(span, _)| *span).collect()
}

/// The spans of `first`, then those of `second` not already in `first`.
pub(crate) fn distinct_union(trace: &EvalTrace, first: &[u32], second: &[u32]) -> Vec<u32> {
    merge_distinct(trace, [first, second])
}

/// Every span of the lists, in order, each once.
pub(crate) fn merge_distinct<'a>(
    trace: &EvalTrace,
    lists: impl IntoIterator<Item = &'a [u32]>,
) -> Vec<u32> {
    let mut seen = vec![false; trace.spans.len()];
    let mut result = Vec::new();
    for &span in lists.into_iter().flatten() {
        if let Some(slot) = seen.get_mut(span as usize)
            && !*slot
        {
            *slot = true;
            result.push(span);
        }
    }
    result
}

fn positions(trace: &EvalTrace, spans: &[u32]) -> Vec<Option<NestedSet>> {
    spans.iter().map(|span| trace.spans.get(*span as usize).and_then(|span| span.nested)).collect()
}

/// For each span of `right`: whether some span of `left` stands in `relation` to it.
fn has_partner(trace: &EvalTrace, left: &[u32], right: &[u32], relation: Relation) -> Vec<bool> {
    let left: Vec<NestedSet> = positions(trace, left).into_iter().flatten().collect();
    let right = positions(trace, right);
    match relation {
        Relation::Child => {
            let parents: HashSet<u32> = left.iter().map(|a| a.left).collect();
            right.iter().map(|b| b.is_some_and(|b| parents.contains(&b.parent))).collect()
        }
        Relation::Parent => {
            let parents: HashSet<u32> =
                left.iter().filter(|a| a.parent != 0).map(|a| a.parent).collect();
            right.iter().map(|b| b.is_some_and(|b| parents.contains(&b.left))).collect()
        }
        Relation::Sibling => {
            // Roots (parent 0) have no parent to share.
            let mut per_parent: HashMap<u32, usize> = HashMap::new();
            for a in left.iter().filter(|a| a.parent != 0) {
                *per_parent.entry(a.parent).or_default() += 1;
            }
            let lefts: HashSet<u32> = left.iter().map(|a| a.left).collect();
            right
                .iter()
                .map(|b| {
                    b.is_some_and(|b| {
                        let sharing = per_parent.get(&b.parent).copied().unwrap_or(0);
                        let itself = usize::from(lefts.contains(&b.left));
                        b.parent != 0 && sharing > itself
                    })
                })
                .collect()
        }
        Relation::Descendant => {
            // Intervals nest or are disjoint, so b has an ancestor in A iff some A interval
            // opening before b closes after it: a prefix maximum of `right` answers that.
            let mut intervals: Vec<(u32, u32)> = left.iter().map(|a| (a.left, a.right)).collect();
            intervals.sort_unstable();
            let mut furthest = Vec::with_capacity(intervals.len());
            let mut max_right = 0;
            for (_, right_end) in &intervals {
                max_right = max_right.max(*right_end);
                furthest.push(max_right);
            }
            right
                .iter()
                .map(|b| {
                    b.is_some_and(|b| {
                        let opened_before = intervals.partition_point(|(l, _)| *l < b.left);
                        opened_before > 0 && furthest[opened_before - 1] > b.right
                    })
                })
                .collect()
        }
        Relation::Ancestor => {
            // b has a descendant in A iff some A span opens strictly inside b.
            let mut lefts: Vec<u32> = left.iter().map(|a| a.left).collect();
            lefts.sort_unstable();
            right
                .iter()
                .map(|b| {
                    b.is_some_and(|b| {
                        let next = lefts.partition_point(|l| *l <= b.left);
                        lefts.get(next).is_some_and(|l| *l < b.right)
                    })
                })
                .collect()
        }
    }
}

#[cfg(test)]
#[path = "spanset_tests.rs"]
mod tests;
