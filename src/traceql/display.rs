//! Printing the syntax tree as TraceQL text that parses back to the same tree.
//!
//! Parentheses are added where precedence needs them (and, in a few places, where they make
//! the text clearer). Intrinsics print in their legacy spelling when they have one, which is
//! also the label name metrics use (`by(span:name)` yields the label `name`).

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;
use super::duration::format_duration;

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.body)?;
        if !self.hints.is_empty() {
            f.write_str(" with(")?;
            for (i, h) in self.hints.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{}={}", h.name, h.value)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Display for Body {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Body::Search(p) => write!(f, "{p}"),
            Body::Metrics(m) => write!(f, "{m}"),
            Body::PipelineCompare(c) => {
                write_pipeline_scalar(f, &c.lhs)?;
                write!(f, " {} ", c.op)?;
                write_pipeline_scalar(f, &c.rhs)
            }
        }
    }
}

impl Display for Pipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, stage) in self.stages.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{stage}")?;
        }
        Ok(())
    }
}

impl Display for Stage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Spanset(e) => write!(f, "{e}"),
            Stage::Scalar(s) => write!(f, "{s}"),
            Stage::By(e) => write!(f, "by({e})"),
            Stage::Select(fields) => {
                f.write_str("select(")?;
                write_list(f, fields)?;
                f.write_str(")")
            }
            Stage::Coalesce => f.write_str("coalesce()"),
        }
    }
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

// ---- spanset expressions ----

fn spanset_level(e: &SpansetExpr) -> u8 {
    match e {
        SpansetExpr::Op { op: SpansetOp::And | SpansetOp::Or, .. } => 2,
        SpansetExpr::Op { .. } => 3,
        SpansetExpr::Filter(_) | SpansetExpr::Pipeline(_) => 10,
    }
}

fn leftmost_is_pipeline(e: &SpansetExpr) -> bool {
    match e {
        SpansetExpr::Pipeline(_) => true,
        SpansetExpr::Filter(_) => false,
        SpansetExpr::Op { lhs, .. } => leftmost_is_pipeline(lhs),
    }
}

impl Display for SpansetExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            SpansetExpr::Filter(e) => write_filter(f, e),
            SpansetExpr::Pipeline(p) => write!(f, "({p})"),
            SpansetExpr::Op { op, lhs, rhs } if leftmost_is_pipeline(self) => {
                // A chain of pipelines: every operand in parentheses, as the grammar wants.
                write_chain_operand(f, lhs)?;
                write!(f, " {op} ")?;
                write_chain_operand(f, rhs)
            }
            SpansetExpr::Op { op, lhs, rhs } => {
                let level = spanset_level(self);
                write_paren_if(f, spanset_level(lhs) < level, lhs)?;
                write!(f, " {op} ")?;
                write_paren_if(f, spanset_level(rhs) <= level, rhs)
            }
        }
    }
}

fn write_chain_operand(f: &mut Formatter<'_>, e: &SpansetExpr) -> fmt::Result {
    match e {
        SpansetExpr::Pipeline(_) => write!(f, "{e}"),
        _ => write!(f, "({e})"),
    }
}

fn write_filter(f: &mut Formatter<'_>, e: &FieldExpr) -> fmt::Result {
    write!(f, "{{ {e} }}")
}

fn write_paren_if(f: &mut Formatter<'_>, paren: bool, item: &dyn Display) -> fmt::Result {
    if paren { write!(f, "({item})") } else { write!(f, "{item}") }
}

impl Display for SpansetOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpansetOp::And => "&&",
            SpansetOp::Or => "||",
            SpansetOp::Child => ">",
            SpansetOp::Parent => "<",
            SpansetOp::Descendant => ">>",
            SpansetOp::Ancestor => "<<",
            SpansetOp::Sibling => "~",
            SpansetOp::NotChild => "!>",
            SpansetOp::NotParent => "!<",
            SpansetOp::NotDescendant => "!>>",
            SpansetOp::NotAncestor => "!<<",
            SpansetOp::NotSibling => "!~",
            SpansetOp::UnionChild => "&>",
            SpansetOp::UnionParent => "&<",
            SpansetOp::UnionDescendant => "&>>",
            SpansetOp::UnionAncestor => "&<<",
            SpansetOp::UnionSibling => "&~",
        })
    }
}

// ---- scalars and aggregates ----

fn arith_level(op: ArithOp) -> (u8, bool) {
    match op {
        ArithOp::Add | ArithOp::Sub => (4, false),
        ArithOp::Mul | ArithOp::Div | ArithOp::Mod => (6, false),
        ArithOp::Pow => (7, true),
    }
}

/// Parentheses for the operands of a binary operator of `level`.
fn operand_parens(level: u8, right_assoc: bool, lhs: u8, rhs: u8) -> (bool, bool) {
    if right_assoc { (lhs <= level, rhs < level) } else { (lhs < level, rhs <= level) }
}

impl Display for ScalarFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_scalar(f, &self.lhs)?;
        write!(f, " {} ", self.op)?;
        write_scalar(f, &self.rhs)
    }
}

fn scalar_level(e: &ScalarExpr) -> u8 {
    match e {
        ScalarExpr::Arith { op, .. } => arith_level(*op).0,
        _ => 10,
    }
}

fn write_scalar(f: &mut Formatter<'_>, e: &ScalarExpr) -> fmt::Result {
    match e {
        ScalarExpr::Aggregate(a) => write!(f, "{a}"),
        ScalarExpr::Static(s) => write_const(f, s),
        ScalarExpr::Arith { op, lhs, rhs } => {
            let (level, right) = arith_level(*op);
            let (pl, pr) = operand_parens(level, right, scalar_level(lhs), scalar_level(rhs));
            write_wrapped(f, pl, |f| write_scalar(f, lhs))?;
            write!(f, " {op} ")?;
            write_wrapped(f, pr, |f| write_scalar(f, rhs))
        }
    }
}

fn write_wrapped(
    f: &mut Formatter<'_>,
    paren: bool,
    inner: impl FnOnce(&mut Formatter<'_>) -> fmt::Result,
) -> fmt::Result {
    if paren {
        f.write_char('(')?;
        inner(f)?;
        f.write_char(')')
    } else {
        inner(f)
    }
}

fn pipeline_scalar_level(e: &PipelineScalar) -> u8 {
    match e {
        PipelineScalar::Arith { op, .. } => arith_level(*op).0,
        _ => 10,
    }
}

fn write_pipeline_scalar(f: &mut Formatter<'_>, e: &PipelineScalar) -> fmt::Result {
    match e {
        PipelineScalar::Aggregate { pipeline, aggregate } => {
            write!(f, "({pipeline} | {aggregate})")
        }
        PipelineScalar::Static(s) => write_const(f, s),
        PipelineScalar::Arith { op, lhs, rhs } => {
            let (level, right) = arith_level(*op);
            let (pl, pr) = operand_parens(
                level,
                right,
                pipeline_scalar_level(lhs),
                pipeline_scalar_level(rhs),
            );
            write_wrapped(f, pl, |f| write_pipeline_scalar(f, lhs))?;
            write!(f, " {op} ")?;
            write_wrapped(f, pr, |f| write_pipeline_scalar(f, rhs))
        }
    }
}

impl Display for Aggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let name = match self.func {
            AggregateFn::Count => "count",
            AggregateFn::Avg => "avg",
            AggregateFn::Max => "max",
            AggregateFn::Min => "min",
            AggregateFn::Sum => "sum",
        };
        match &self.arg {
            Some(arg) => write!(f, "{name}({arg})"),
            None => write!(f, "{name}()"),
        }
    }
}

impl Display for CmpOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Neq => "!=",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        })
    }
}

impl Display for ArithOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::Pow => "^",
        })
    }
}

/// A constant where the grammar takes constant expressions (no `minInt` there).
fn write_const(f: &mut Formatter<'_>, s: &Static) -> fmt::Result {
    match s {
        Static::Int(i64::MIN) => write!(f, "(-{} - 1)", i64::MAX),
        s => write!(f, "{s}"),
    }
}

#[path = "display_field.rs"]
mod field;
#[path = "display_metrics.rs"]
mod metrics;
