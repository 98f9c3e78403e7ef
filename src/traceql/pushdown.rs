//! What a trace must contain for a search to possibly match it: necessary conditions derived
//! from the query, so storage can skip data without assembling and evaluating it.
//!
//! ```text
//!  { kind = server } >> { status = error }  ──►  All[ Has(kind = server), Has(status = error) ]
//!  { span.a = 1 || resource.b =~ "x.*" }   ──►  Has( Any[ span.a = 1, resource.b =~ "x.*" ] )
//!  { !(name = "x") }                        ──►  Always   (nothing cheap is implied)
//! ```
//!
//! The conditions are **necessary, never sufficient**: a trace that fails them cannot match,
//! a trace that passes still goes through the engine. So every rule here may only weaken
//! (a shape it does not understand becomes [`TraceCond::Always`]), never strengthen what the
//! engine checks. The rules lean on two engine facts (`eval::ops`, `eval::compile`): a
//! comparison with a missing value or a value of another type is false (for `!=` too), and
//! an unscoped attribute test passes on the span's or the resource's value.

use super::ast::{
    Attribute, AttributeScope, BinaryOp, CmpOp, FieldExpr, FieldRef, Intrinsic, Pipeline, Query,
    SpansetExpr, SpansetOp, Stage, Static, UnaryOp,
};
use super::eval::swap_cmp;

/// A condition on a whole trace.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceCond {
    /// Nothing is known: every trace passes.
    Always,
    /// At least one span satisfies the condition.
    Has(SpanCond),
    /// Every condition holds.
    All(Vec<TraceCond>),
    /// At least one condition holds.
    Any(Vec<TraceCond>),
}

/// A condition on one span (with its resource).
#[derive(Debug, Clone, PartialEq)]
pub enum SpanCond {
    /// Nothing is known: every span passes.
    Always,
    Test(Leaf),
    All(Vec<SpanCond>),
    Any(Vec<SpanCond>),
}

/// One value tested against a query literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    pub target: Target,
    pub test: LeafTest,
}

/// The value a leaf reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Name,
    Status,
    Kind,
    Duration,
    StatusMessage,
    /// A span attribute, by name.
    SpanAttr(String),
    /// A resource attribute, by name.
    ResourceAttr(String),
}

/// What a leaf checks. A value that is missing, or of a type the test cannot compare,
/// fails every test.
#[derive(Debug, Clone, PartialEq)]
pub enum LeafTest {
    /// `value op literal`; the literal's type is one the target can hold.
    Compare(CmpOp, Static),
    /// `value =~ pattern` (`!~` when negated); the pattern as written, anchored by the user.
    Regex { pattern: String, negated: bool },
    /// The value is present.
    Exists,
}

impl TraceCond {
    /// The necessary condition of a search query; [`TraceCond::Always`] for anything else.
    pub fn of_query(query: &Query) -> TraceCond {
        match &query.body {
            super::ast::Body::Search(pipeline) => pipeline_cond(pipeline),
            _ => TraceCond::Always,
        }
    }

    /// Whether nothing can be skipped with this condition.
    pub fn is_always(&self) -> bool {
        matches!(self, TraceCond::Always)
    }

    /// Every span condition under a [`TraceCond::Has`], in a fixed order (depth first).
    pub fn span_conds(&self) -> Vec<&SpanCond> {
        let mut found = Vec::new();
        self.collect_span_conds(&mut found);
        found
    }

    fn collect_span_conds<'a>(&'a self, found: &mut Vec<&'a SpanCond>) {
        match self {
            TraceCond::Always => {}
            TraceCond::Has(cond) => found.push(cond),
            TraceCond::All(conds) | TraceCond::Any(conds) => {
                conds.iter().for_each(|cond| cond.collect_span_conds(found));
            }
        }
    }

    /// Evaluates the condition given, for each span condition in [`TraceCond::span_conds`]
    /// order, whether it held for some span.
    pub fn holds(&self, held: &[bool]) -> bool {
        let mut next = 0;
        self.holds_at(held, &mut next)
    }

    fn holds_at(&self, held: &[bool], next: &mut usize) -> bool {
        match self {
            TraceCond::Always => true,
            TraceCond::Has(_) => {
                let value = held.get(*next).copied().unwrap_or(true);
                *next += 1;
                value
            }
            // Every child is visited (no short cut) so the numbering stays aligned.
            TraceCond::All(conds) => {
                let mut all = true;
                for cond in conds {
                    all &= cond.holds_at(held, next);
                }
                all
            }
            TraceCond::Any(conds) => {
                let mut any = false;
                for cond in conds {
                    any |= cond.holds_at(held, next);
                }
                any
            }
        }
    }

    fn all(conds: Vec<TraceCond>) -> TraceCond {
        let mut kept: Vec<TraceCond> = Vec::new();
        for cond in conds {
            match cond {
                TraceCond::Always => {}
                TraceCond::All(inner) => kept.extend(inner),
                other => kept.push(other),
            }
        }
        match kept.len() {
            0 => TraceCond::Always,
            1 => kept.pop().unwrap_or(TraceCond::Always),
            _ => TraceCond::All(kept),
        }
    }

    fn any(conds: Vec<TraceCond>) -> TraceCond {
        if conds.iter().any(TraceCond::is_always) {
            return TraceCond::Always;
        }
        let mut kept = Vec::new();
        for cond in conds {
            match cond {
                TraceCond::Any(inner) => kept.extend(inner),
                other => kept.push(other),
            }
        }
        if kept.len() == 1 { kept.pop().unwrap_or(TraceCond::Always) } else { TraceCond::Any(kept) }
    }

    fn has(cond: SpanCond) -> TraceCond {
        match cond {
            SpanCond::Always => TraceCond::Always,
            other => TraceCond::Has(other),
        }
    }
}

impl SpanCond {
    fn all(conds: Vec<SpanCond>) -> SpanCond {
        let mut kept: Vec<SpanCond> = Vec::new();
        for cond in conds {
            match cond {
                SpanCond::Always => {}
                SpanCond::All(inner) => kept.extend(inner),
                other => kept.push(other),
            }
        }
        match kept.len() {
            0 => SpanCond::Always,
            1 => kept.pop().unwrap_or(SpanCond::Always),
            _ => SpanCond::All(kept),
        }
    }

    fn any(conds: Vec<SpanCond>) -> SpanCond {
        if conds.contains(&SpanCond::Always) {
            return SpanCond::Always;
        }
        let mut kept = Vec::new();
        for cond in conds {
            match cond {
                SpanCond::Any(inner) => kept.extend(inner),
                other => kept.push(other),
            }
        }
        if kept.len() == 1 { kept.pop().unwrap_or(SpanCond::Always) } else { SpanCond::Any(kept) }
    }
}

/// Later stages only drop or regroup the spans of earlier ones, so every spanset stage's
/// condition is necessary.
fn pipeline_cond(pipeline: &Pipeline) -> TraceCond {
    TraceCond::all(
        pipeline
            .stages
            .iter()
            .map(|stage| match stage {
                Stage::Spanset(expr) => spanset_cond(expr),
                _ => TraceCond::Always,
            })
            .collect(),
    )
}

fn spanset_cond(expr: &SpansetExpr) -> TraceCond {
    match expr {
        SpansetExpr::Filter(field) => TraceCond::has(span_cond(field)),
        SpansetExpr::Pipeline(pipeline) => pipeline_cond(pipeline),
        SpansetExpr::Op { op, lhs, rhs } => {
            let (lhs, rhs) = (spanset_cond(lhs), spanset_cond(rhs));
            match op {
                SpansetOp::Or => TraceCond::any(vec![lhs, rhs]),
                // A negated operator can return one side alone (the right side when the left
                // is empty): only "one of them" is implied.
                SpansetOp::NotChild
                | SpansetOp::NotParent
                | SpansetOp::NotDescendant
                | SpansetOp::NotAncestor
                | SpansetOp::NotSibling => TraceCond::any(vec![lhs, rhs]),
                // `&&`, and every relation (plain or union form), needs spans on both sides.
                _ => TraceCond::all(vec![lhs, rhs]),
            }
        }
    }
}

/// The condition a span must meet for `{ expr }` to keep it (the filter keeps a span only
/// when `expr` is the boolean `true`).
fn span_cond(expr: &FieldExpr) -> SpanCond {
    match expr {
        FieldExpr::Binary { op: BinaryOp::And, lhs, rhs } => {
            SpanCond::all(vec![span_cond(lhs), span_cond(rhs)])
        }
        FieldExpr::Binary { op: BinaryOp::Or, lhs, rhs } => {
            SpanCond::any(vec![span_cond(lhs), span_cond(rhs)])
        }
        FieldExpr::Binary { op: BinaryOp::Regex | BinaryOp::NotRegex, lhs, rhs } => {
            let (FieldExpr::Ref(field), FieldExpr::Static(Static::Str(pattern))) = (&**lhs, &**rhs)
            else {
                return SpanCond::Always;
            };
            let negated = matches!(expr, FieldExpr::Binary { op: BinaryOp::NotRegex, .. });
            field_test(field, LeafTest::Regex { pattern: pattern.clone(), negated })
        }
        FieldExpr::Binary { op, lhs, rhs } => {
            let Some(cmp) = op.comparison() else {
                return SpanCond::Always;
            };
            match (&**lhs, &**rhs) {
                (FieldExpr::Ref(field), FieldExpr::Static(literal)) => {
                    compare_test(field, cmp, literal)
                }
                (FieldExpr::Static(literal), FieldExpr::Ref(field)) => {
                    compare_test(field, swap_cmp(cmp), literal)
                }
                _ => SpanCond::Always,
            }
        }
        FieldExpr::Unary { op: UnaryOp::Exists, expr } => match &**expr {
            FieldExpr::Ref(field @ FieldRef::Attribute(_)) => field_test(field, LeafTest::Exists),
            _ => SpanCond::Always,
        },
        _ => SpanCond::Always,
    }
}

fn compare_test(field: &FieldRef, op: CmpOp, literal: &Static) -> SpanCond {
    let fits = match field {
        FieldRef::Intrinsic(Intrinsic::Name | Intrinsic::StatusMessage) => {
            matches!(literal, Static::Str(_))
        }
        FieldRef::Intrinsic(Intrinsic::Status) => {
            matches!(literal, Static::Status(_)) && matches!(op, CmpOp::Eq | CmpOp::Neq)
        }
        FieldRef::Intrinsic(Intrinsic::Kind) => {
            matches!(literal, Static::Kind(_)) && matches!(op, CmpOp::Eq | CmpOp::Neq)
        }
        FieldRef::Intrinsic(Intrinsic::Duration) => {
            matches!(literal, Static::Duration(_) | Static::Int(_))
        }
        FieldRef::Attribute(_) => {
            matches!(literal, Static::Str(_) | Static::Int(_) | Static::Float(_) | Static::Bool(_))
        }
        FieldRef::Intrinsic(_) => false,
    };
    if !fits {
        return SpanCond::Always;
    }
    field_test(field, LeafTest::Compare(op, literal.clone()))
}

fn field_test(field: &FieldRef, test: LeafTest) -> SpanCond {
    let leaf = |target| SpanCond::Test(Leaf { target, test: test.clone() });
    match field {
        FieldRef::Intrinsic(intrinsic) => match intrinsic {
            Intrinsic::Name => leaf(Target::Name),
            Intrinsic::Status => leaf(Target::Status),
            Intrinsic::Kind => leaf(Target::Kind),
            Intrinsic::Duration => leaf(Target::Duration),
            Intrinsic::StatusMessage => leaf(Target::StatusMessage),
            _ => SpanCond::Always,
        },
        FieldRef::Attribute(Attribute { parent: true, .. }) => SpanCond::Always,
        FieldRef::Attribute(Attribute { scope, name, .. }) => match scope {
            AttributeScope::Span => leaf(Target::SpanAttr(name.clone())),
            AttributeScope::Resource => leaf(Target::ResourceAttr(name.clone())),
            AttributeScope::None => SpanCond::any(vec![
                leaf(Target::SpanAttr(name.clone())),
                leaf(Target::ResourceAttr(name.clone())),
            ]),
            AttributeScope::Event | AttributeScope::Link | AttributeScope::Instrumentation => {
                SpanCond::Always
            }
        },
    }
}

#[cfg(test)]
#[path = "pushdown_tests.rs"]
mod tests;
