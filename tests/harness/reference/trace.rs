//! One trace as the reference sees it: its spans (each with its resource and scope), the
//! tree given by parent links, and the trace-level facts (root, duration).
//!
//! Tree rules (the project's decisions, §5): a span has a position only if its span id is
//! unique in the trace; a positioned span's parent is the positioned span whose id is its
//! parent id, if there is one (otherwise it is the top of its subtree: the real root, or an
//! orphan whose parent was never received). Spans without a position never take part in a
//! relation, on either side. Roots have no parent, so they are nobody's siblings.

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};

/// A span with the resource and scope it was sent under.
#[derive(Debug, Clone, Copy)]
pub struct SpanView<'a> {
    pub span: &'a Span,
    pub resource: &'a [KeyValue],
    pub scope: Option<&'a InstrumentationScope>,
}

/// All spans of one trace, however they were split between resource spans.
#[derive(Debug)]
pub struct TraceView<'a> {
    pub trace_id: &'a [u8],
    /// In input order.
    pub spans: Vec<SpanView<'a>>,
    /// The span with an empty parent id (the first one, if several).
    pub root: Option<usize>,
    /// Latest end minus earliest start, in ns.
    pub duration: i64,
    positioned: Vec<bool>,
    parent: Vec<Option<usize>>,
    children: Vec<Vec<usize>>,
    nested_set: Vec<Option<NestedSet>>,
}

/// The tree-position numbers (`nestedSetLeft`, `nestedSetRight`, `nestedSetParent`):
/// depth-first from 1, roots and siblings ordered by (start time, span id); a root's
/// parent number is -1 (as in Tempo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestedSet {
    pub left: i64,
    pub right: i64,
    pub parent: i64,
}

/// Relations between two spans (`a` on the left of the operator, `b` on the right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// `a > b`: a is b's parent.
    Child,
    /// `a < b`: b is a's parent.
    Parent,
    /// `a >> b`: a is an ancestor of b.
    Descendant,
    /// `a << b`: b is an ancestor of a.
    Ancestor,
    /// `a ~ b`: same parent, different spans.
    Sibling,
}

impl Relation {
    /// The relation seen from the other side: `rel(a, b)` ⇔ `rel.inverse()(b, a)`.
    pub fn inverse(self) -> Relation {
        match self {
            Relation::Child => Relation::Parent,
            Relation::Parent => Relation::Child,
            Relation::Descendant => Relation::Ancestor,
            Relation::Ancestor => Relation::Descendant,
            Relation::Sibling => Relation::Sibling,
        }
    }
}

/// Groups every span by trace id (ascending), keeping input order within a trace.
pub fn group_traces(resource_spans: &[ResourceSpans]) -> Vec<TraceView<'_>> {
    let mut by_trace: BTreeMap<&[u8], Vec<SpanView<'_>>> = BTreeMap::new();
    for rs in resource_spans {
        let resource = rs.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        for ss in &rs.scope_spans {
            for span in &ss.spans {
                by_trace.entry(span.trace_id.as_slice()).or_default().push(SpanView {
                    span,
                    resource,
                    scope: ss.scope.as_ref(),
                });
            }
        }
    }
    by_trace.into_iter().map(|(trace_id, spans)| TraceView::new(trace_id, spans)).collect()
}

impl<'a> TraceView<'a> {
    pub fn new(trace_id: &'a [u8], spans: Vec<SpanView<'a>>) -> TraceView<'a> {
        let count = spans.len();
        let mut uses: HashMap<&[u8], usize> = HashMap::new();
        for view in &spans {
            *uses.entry(view.span.span_id.as_slice()).or_default() += 1;
        }
        let positioned: Vec<bool> =
            spans.iter().map(|v| uses[v.span.span_id.as_slice()] == 1).collect();
        let positioned_by_id: HashMap<&[u8], usize> = (0..count)
            .filter(|&i| positioned[i])
            .map(|i| (spans[i].span.span_id.as_slice(), i))
            .collect();
        let mut parent = vec![None; count];
        let mut children = vec![Vec::new(); count];
        for (index, view) in spans.iter().enumerate() {
            if !positioned[index] || view.span.parent_span_id.is_empty() {
                continue;
            }
            let found = positioned_by_id.get(view.span.parent_span_id.as_slice()).copied();
            if let Some(found) = found.filter(|&found| found != index) {
                parent[index] = Some(found);
                children[found].push(index);
            }
        }
        let root = spans.iter().position(|v| v.span.parent_span_id.is_empty());
        let earliest = spans.iter().map(|v| v.span.start_time_unix_nano).min().unwrap_or_default();
        let latest = spans.iter().map(|v| v.span.end_time_unix_nano).max().unwrap_or_default();
        let mut trace = TraceView {
            trace_id,
            spans,
            root,
            duration: latest.saturating_sub(earliest) as i64,
            positioned,
            parent,
            children,
            nested_set: vec![None; count],
        };
        trace.number_nested_sets();
        trace
    }

    /// The span's parent, when both have a position.
    pub fn parent(&self, span: usize) -> Option<usize> {
        self.parent[span]
    }

    /// Direct children with a position; `None` for a span without one.
    pub fn child_count(&self, span: usize) -> Option<i64> {
        self.positioned[span].then(|| self.children[span].len() as i64)
    }

    pub fn nested_set(&self, span: usize) -> Option<NestedSet> {
        self.nested_set[span]
    }

    /// Marks every span `b` for which some `a` in `from` satisfies `relation(a, b)`.
    pub fn related_to_any(&self, relation: Relation, from: &[usize]) -> Vec<bool> {
        let count = self.spans.len();
        let mut in_from = vec![false; count];
        for &a in from {
            in_from[a] = true;
        }
        let mut marks = vec![false; count];
        match relation {
            Relation::Child => {
                for &a in from {
                    for &child in &self.children[a] {
                        marks[child] = true;
                    }
                }
            }
            Relation::Parent => {
                for &a in from {
                    if let Some(parent) = self.parent[a] {
                        marks[parent] = true;
                    }
                }
            }
            Relation::Descendant => {
                for (b, mark) in marks.iter_mut().enumerate() {
                    *mark = self.ancestors(b).any(|ancestor| in_from[ancestor]);
                }
            }
            Relation::Ancestor => {
                for &a in from {
                    for ancestor in self.ancestors(a) {
                        marks[ancestor] = true;
                    }
                }
            }
            Relation::Sibling => {
                for (b, mark) in marks.iter_mut().enumerate() {
                    *mark = self.parent[b].is_some_and(|parent| {
                        self.children[parent]
                            .iter()
                            .any(|&sibling| sibling != b && in_from[sibling])
                    });
                }
            }
        }
        marks
    }

    /// Parent, grandparent, … (stops after as many steps as there are spans, in case of a
    /// parent cycle).
    fn ancestors(&self, span: usize) -> impl Iterator<Item = usize> + '_ {
        let mut current = span;
        let mut steps = 0;
        std::iter::from_fn(move || {
            steps += 1;
            if steps > self.spans.len() {
                return None;
            }
            current = self.parent[current]?;
            Some(current)
        })
    }

    fn number_nested_sets(&mut self) {
        let order = |spans: &[SpanView<'_>], index: &usize| {
            let span = spans[*index].span;
            (span.start_time_unix_nano, span.span_id.clone(), *index)
        };
        let mut roots: Vec<usize> = (0..self.spans.len())
            .filter(|&i| self.positioned[i] && self.parent[i].is_none())
            .collect();
        roots.sort_by_key(|i| order(&self.spans, i));
        for list in &mut self.children {
            list.sort_by_key(|i| order(&self.spans, i));
        }
        let mut counter = 0i64;
        for root in roots {
            // (span, next child to visit), iterative so a deep chain cannot overflow.
            let mut stack = vec![(root, 0usize)];
            counter += 1;
            // A root's parent number is -1, as in Tempo's blocks.
            self.nested_set[root] = Some(NestedSet { left: counter, right: 0, parent: -1 });
            while let Some((span, next)) = stack.last_mut() {
                let span = *span;
                if let Some(&child) = self.children[span].get(*next) {
                    *next += 1;
                    if self.nested_set[child].is_some() {
                        continue;
                    }
                    counter += 1;
                    let parent_left = self.nested_set[span].map_or(0, |n| n.left);
                    self.nested_set[child] =
                        Some(NestedSet { left: counter, right: 0, parent: parent_left });
                    stack.push((child, 0));
                } else {
                    stack.pop();
                    counter += 1;
                    if let Some(numbers) = &mut self.nested_set[span] {
                        numbers.right = counter;
                    }
                }
            }
        }
    }
}
