//! Nested-set numbers of a trace's span tree, so structural TraceQL (`>>`, `>`, `~`) compares
//! integers instead of walking parent links.
//!
//! Each span gets `left < right`; a descendant's `[left, right]` lies strictly inside its
//! ancestor's, and `parent` is the parent's `left` (0 for a root). Numbers start at 1 and
//! are unique within the trace.
//!
//! ```text
//!   root [1, 8]            a >> b  ⇔  a.left < b.left && b.right < a.right
//!   ├── a [2, 5]           a > b   ⇔  b.parent == a.left
//!   │   └── c [3, 4]       a ~ b   ⇔  a.parent == b.parent && a.left != b.left
//!   └── b [6, 7]
//! ```
//!
//! Rules: a span whose parent id is empty, unknown, or its own id is a root; roots and
//! siblings are numbered by (start time, span id, input position). Damaged input must not
//! panic or loop: a second span with an already seen id is a root, and a parent cycle is cut
//! at its member with the lowest input position, which becomes a root.

use std::collections::HashMap;

/// The fields of a span the numbering needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanLink<'a> {
    /// The span's id.
    pub span_id: &'a [u8],
    /// The parent's id; empty for none.
    pub parent_span_id: &'a [u8],
    /// Start time, the sibling order.
    pub start_unix_nano: u64,
}

/// The nested-set numbers of one span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct NestedSet {
    /// Number given on entering the span.
    pub left: u32,
    /// Number given on leaving the span.
    pub right: u32,
    /// The parent's `left`; 0 for a root.
    pub parent: u32,
}

/// Numbers the spans of one trace; the result is in input order.
pub(crate) fn nested_set(spans: &[SpanLink<'_>]) -> Vec<NestedSet> {
    let mut by_id: HashMap<&[u8], usize> = HashMap::with_capacity(spans.len());
    let mut is_duplicate = vec![false; spans.len()];
    for (position, span) in spans.iter().enumerate() {
        if by_id.contains_key(span.span_id) {
            is_duplicate[position] = true;
        } else {
            by_id.insert(span.span_id, position);
        }
    }

    let mut parent_of: Vec<Option<usize>> = vec![None; spans.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut roots = Vec::new();
    for (position, span) in spans.iter().enumerate() {
        let parent = if is_duplicate[position] || span.parent_span_id == span.span_id {
            None
        } else {
            by_id.get(span.parent_span_id).copied()
        };
        parent_of[position] = parent;
        match parent {
            Some(parent) => children[parent].push(position),
            None => roots.push(position),
        }
    }
    let sibling_order = |position: &usize| {
        let span = &spans[*position];
        (span.start_unix_nano, span.span_id, *position)
    };
    for siblings in &mut children {
        siblings.sort_by_key(sibling_order);
    }
    roots.sort_by_key(sibling_order);

    let mut numbering =
        Numbering { result: vec![None; spans.len()], counter: 0, stack: Vec::new() };
    for root in roots {
        numbering.number_tree(root, 0, &children);
    }
    // Whatever no root reached hangs off a parent cycle: cut each cycle at its first span in
    // sibling order, and number the cycles in that order too (not input order: the same
    // trace must number the same however its spans arrive, live or read back from a block).
    let mut cuts: Vec<usize> = (0..spans.len())
        .filter(|position| numbering.result[*position].is_none())
        .map(|position| first_span_of_cycle_above(position, &parent_of, sibling_order))
        .collect();
    cuts.sort_by_key(sibling_order);
    cuts.dedup();
    for cut in cuts {
        numbering.number_tree(cut, 0, &children);
    }
    numbering.result.into_iter().map(Option::unwrap_or_default).collect()
}

/// Walks up parent links from a span no root reaches (so the walk must meet a cycle) and
/// returns the cycle's span that comes first by `order`.
fn first_span_of_cycle_above<K: Ord>(
    start: usize,
    parent_of: &[Option<usize>],
    order: impl Fn(&usize) -> K,
) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut current = start;
    while seen.insert(current) {
        match parent_of[current] {
            Some(parent) => current = parent,
            None => return current, // unreachable for an unnumbered span; a root is a safe cut
        }
    }
    // `current` is on the cycle: go round it once.
    let mut lowest = current;
    let mut member = parent_of[current].unwrap_or(current);
    while member != current {
        if order(&member) < order(&lowest) {
            lowest = member;
        }
        member = parent_of[member].unwrap_or(current);
    }
    lowest
}

/// Depth-first numbering state, iterative so a deep chain cannot overflow the stack.
struct Numbering {
    result: Vec<Option<NestedSet>>,
    counter: u32,
    /// (span, index of the next child to visit).
    stack: Vec<(usize, usize)>,
}

impl Numbering {
    fn next_number(&mut self) -> u32 {
        self.counter = self.counter.saturating_add(1);
        self.counter
    }

    fn enter(&mut self, position: usize, parent: u32) {
        let left = self.next_number();
        self.result[position] = Some(NestedSet { left, right: 0, parent });
        self.stack.push((position, 0));
    }

    fn number_tree(&mut self, root: usize, parent: u32, children: &[Vec<usize>]) {
        self.enter(root, parent);
        while let Some((position, next_child)) = self.stack.last_mut() {
            let position = *position;
            let Some(&child) = children[position].get(*next_child) else {
                self.stack.pop();
                let right = self.next_number();
                if let Some(numbers) = &mut self.result[position] {
                    numbers.right = right;
                }
                continue;
            };
            *next_child += 1;
            if self.result[child].is_some() {
                continue; // reached again through a cycle
            }
            let parent_left = self.result[position].map_or(0, |numbers| numbers.left);
            self.enter(child, parent_left);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn link<'a>(span_id: &'a [u8], parent_span_id: &'a [u8], start: u64) -> SpanLink<'a> {
        SpanLink { span_id, parent_span_id, start_unix_nano: start }
    }

    fn numbers(left: u32, right: u32, parent: u32) -> NestedSet {
        NestedSet { left, right, parent }
    }

    #[test]
    fn a_tree_is_numbered_depth_first_with_children_by_start_time() {
        let spans = [
            link(b"b", b"root", 30),
            link(b"root", b"", 10),
            link(b"c", b"a", 25),
            link(b"a", b"root", 20),
        ];
        assert_eq!(
            nested_set(&spans),
            [numbers(6, 7, 1), numbers(1, 8, 0), numbers(3, 4, 2), numbers(2, 5, 1)]
        );
    }

    #[test]
    fn several_roots_are_numbered_one_after_the_other() {
        let spans = [link(b"x", b"gone", 5), link(b"y", b"", 1), link(b"z", b"y", 2)];
        assert_eq!(nested_set(&spans), [numbers(5, 6, 0), numbers(1, 4, 0), numbers(2, 3, 1)]);
    }

    #[test]
    fn cycles_self_parents_and_duplicate_ids_become_roots() {
        let spans = [
            link(b"a", b"b", 1),
            link(b"b", b"a", 2),
            link(b"s", b"s", 3),
            link(b"a", b"", 4), // duplicate id
        ];
        let result = nested_set(&spans);
        assert_eq!(result[2].parent, 0);
        assert_eq!(result[3].parent, 0);
        // The cycle is cut at its first span in input order.
        assert_eq!(result[0].parent, 0);
        assert_eq!(result[1].parent, result[0].left);
        assert_valid(&spans, &result);
    }

    #[test]
    fn separate_cycles_number_the_same_whatever_the_input_order() {
        // Two cycles, each with a span hanging off it; start times order them.
        let spans = [
            link(b"c1", b"c2", 30),
            link(b"c2", b"c1", 31),
            link(b"cx", b"c1", 32),
            link(b"d1", b"d2", 10),
            link(b"d2", b"d1", 11),
            link(b"dx", b"d2", 12),
        ];
        let forward = nested_set(&spans);
        assert_valid(&spans, &forward);
        let reversed: Vec<_> = spans.iter().rev().copied().collect();
        let backward = nested_set(&reversed);
        let by_id = |spans: &[SpanLink<'_>], numbers: &[NestedSet]| {
            let mut map: Vec<(Vec<u8>, NestedSet)> =
                spans.iter().map(|s| s.span_id.to_vec()).zip(numbers.iter().copied()).collect();
            map.sort_by(|a, b| a.0.cmp(&b.0));
            map
        };
        assert_eq!(by_id(&spans, &forward), by_id(&reversed, &backward));
        assert_eq!(forward[3].left, 1, "the earlier cycle is numbered first");
    }

    #[test]
    fn a_deep_chain_does_not_overflow_the_stack() {
        let ids: Vec<[u8; 8]> = (0..200_000u64).map(u64::to_be_bytes).collect();
        let spans: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| link(id, if i == 0 { &[] } else { &ids[i - 1] }, i as u64))
            .collect();
        let result = nested_set(&spans);
        assert_eq!(result[0], numbers(1, 400_000, 0));
        assert_eq!(result[199_999], numbers(200_000, 200_001, 199_999));
    }

    /// Checks the nested-set properties for every span whose parent is honoured.
    fn assert_valid(spans: &[SpanLink<'_>], result: &[NestedSet]) {
        let mut lefts: Vec<u32> = result.iter().map(|numbers| numbers.left).collect();
        lefts.sort_unstable();
        lefts.dedup();
        assert_eq!(lefts.len(), spans.len(), "left numbers are unique");
        let by_left: HashMap<u32, usize> =
            result.iter().enumerate().map(|(position, numbers)| (numbers.left, position)).collect();
        for (position, numbers) in result.iter().enumerate() {
            assert!(numbers.left >= 1 && numbers.left < numbers.right);
            if numbers.parent == 0 {
                continue;
            }
            let parent = by_left[&numbers.parent];
            assert_eq!(spans[position].parent_span_id, spans[parent].span_id);
            let parent_numbers = result[parent];
            assert!(parent_numbers.left < numbers.left && numbers.right < parent_numbers.right);
        }
    }

    proptest! {
        #[test]
        fn numbers_form_a_valid_nested_set(
            parents in proptest::collection::vec((any::<Option<u8>>(), 0u64..4), 0..60)
        ) {
            // Span i has id i; its parent is an arbitrary small id (may be missing, itself,
            // or a descendant).
            let ids: Vec<[u8; 1]> = (0..parents.len()).map(|i| [i as u8]).collect();
            let parent_ids: Vec<Vec<u8>> =
                parents.iter().map(|(parent, _)| parent.map(|p| vec![p % 64]).unwrap_or_default()).collect();
            let spans: Vec<_> = (0..parents.len())
                .map(|i| link(&ids[i], &parent_ids[i], parents[i].1))
                .collect();
            let result = nested_set(&spans);
            assert_valid(&spans, &result);
            // Every span whose parent exists, is not itself, and is not on a cycle keeps it.
            for (position, numbers) in result.iter().enumerate() {
                let parent_known = ids.iter().any(|id| id[..] == parent_ids[position][..]);
                if !parent_known || parent_ids[position] == ids[position] {
                    prop_assert_eq!(numbers.parent, 0);
                }
            }
        }
    }
}
