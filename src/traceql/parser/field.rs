//! Field expressions (what goes inside `{…}`, aggregates and `by()`), field references and
//! their precedence (§2.1): `&& ||` < comparisons < `+ -` (and prefix `-`) < prefix `!` <
//! `* / %` < `^` (right-associative).

use super::super::ast::{
    Attribute, BinaryOp, FieldExpr, FieldRef, Intrinsic, IntrinsicScope, Static, UnaryOp,
};
use super::super::token::{Keyword, Tok};
use super::super::value::{fold_binary, fold_unary};
use super::{PResult, Parser};

/// Operand levels of the prefix operators: `-x` takes operators above `+ -`, `!x` operators
/// above itself.
const NEG_OPERAND: u8 = 5;
const NOT_OPERAND: u8 = 6;
/// `nil = x` takes operators above the comparisons.
const NIL_OPERAND: u8 = 4;

/// The binary operator at `tok`: (operator, level, right-associative).
fn binary_op(tok: &Tok) -> Option<(BinaryOp, u8, bool)> {
    Some(match tok {
        Tok::Or => (BinaryOp::Or, 2, false),
        Tok::And => (BinaryOp::And, 2, false),
        Tok::Eq => (BinaryOp::Eq, 3, false),
        Tok::Neq => (BinaryOp::Neq, 3, false),
        Tok::Lt => (BinaryOp::Lt, 3, false),
        Tok::Lte => (BinaryOp::Lte, 3, false),
        Tok::Gt => (BinaryOp::Gt, 3, false),
        Tok::Gte => (BinaryOp::Gte, 3, false),
        Tok::Re => (BinaryOp::Regex, 3, false),
        Tok::Nre => (BinaryOp::NotRegex, 3, false),
        Tok::Add => (BinaryOp::Add, 4, false),
        Tok::Sub => (BinaryOp::Sub, 4, false),
        Tok::Mul => (BinaryOp::Mul, 6, false),
        Tok::Div => (BinaryOp::Div, 6, false),
        Tok::Mod => (BinaryOp::Mod, 6, false),
        Tok::Pow => (BinaryOp::Pow, 7, true),
        _ => return None,
    })
}

impl Parser<'_> {
    /// A field expression whose operators all bind at least as tightly as `min_level`.
    pub(super) fn field_expr(&mut self, min_level: u8) -> PResult<FieldExpr> {
        let mut lhs = self.field_prefix()?;
        while let Some((op, level, right_assoc)) = self.peek().and_then(binary_op) {
            if level < min_level {
                break;
            }
            self.advance();
            if matches!(op, BinaryOp::Eq | BinaryOp::Neq) && self.peek_keyword(Keyword::Nil) {
                // `x = nil` / `x != nil`: presence tests, not comparisons.
                self.advance();
                let test = if op == BinaryOp::Eq { UnaryOp::NotExists } else { UnaryOp::Exists };
                lhs = unary(test, lhs);
                continue;
            }
            let rhs = self.field_expr(if right_assoc { level } else { level + 1 })?;
            lhs = binary(op, lhs, rhs);
        }
        Ok(lhs)
    }

    fn field_prefix(&mut self) -> PResult<FieldExpr> {
        match self.peek() {
            Some(Tok::Sub) => {
                self.advance();
                let e = self.field_expr(NEG_OPERAND)?;
                Ok(unary(UnaryOp::Neg, e))
            }
            Some(Tok::Not) => {
                self.advance();
                let e = self.field_expr(NOT_OPERAND)?;
                Ok(unary(UnaryOp::Not, e))
            }
            Some(Tok::LParen) => {
                self.advance();
                let e = self.field_expr(0)?;
                self.expect(&Tok::RParen, "`)` or an operator")?;
                Ok(e)
            }
            Some(Tok::Keyword(Keyword::Nil)) => self.nil_test(),
            Some(Tok::Ident(_)) => Ok(FieldExpr::Static(self.named_constant()?)),
            _ => {
                if let Some(s) = self.literal() {
                    self.advance();
                    return Ok(FieldExpr::Static(s));
                }
                match self.field_ref_opt()? {
                    Some(r) => Ok(FieldExpr::Ref(r)),
                    None => self.fail("expected an expression, found {found}"),
                }
            }
        }
    }

    /// `nil = x`, `nil != x`, `nil = nil` (always false).
    fn nil_test(&mut self) -> PResult<FieldExpr> {
        self.advance();
        let test = match self.peek() {
            Some(Tok::Eq) => UnaryOp::NotExists,
            Some(Tok::Neq) => UnaryOp::Exists,
            _ => return self.fail("nil can only be compared with = or !=, found {found}"),
        };
        self.advance();
        if self.peek_keyword(Keyword::Nil) {
            self.advance();
            return Ok(FieldExpr::Static(Static::Bool(false)));
        }
        let e = self.field_expr(NIL_OPERAND)?;
        Ok(unary(test, e))
    }

    /// An intrinsic or attribute reference, or an error.
    pub(super) fn field_ref(&mut self) -> PResult<FieldRef> {
        match self.field_ref_opt()? {
            Some(r) => Ok(r),
            None => self.fail("expected an attribute or intrinsic, found {found}"),
        }
    }

    /// An intrinsic or attribute reference at the cursor, `None` if there is none there.
    fn field_ref_opt(&mut self) -> PResult<Option<FieldRef>> {
        let r = match self.peek() {
            Some(Tok::Attribute { scope, parent, name }) => FieldRef::Attribute(Attribute {
                scope: *scope,
                parent: *parent,
                name: name.clone(),
            }),
            Some(Tok::Keyword(k)) => match unscoped_intrinsic(*k) {
                Some(i) => FieldRef::Intrinsic(i),
                None => return Ok(None),
            },
            Some(Tok::ScopeColon(scope)) => {
                let scope = *scope;
                self.advance();
                let found = match self.peek() {
                    Some(Tok::Keyword(k)) => scoped_intrinsic(scope, *k),
                    _ => None,
                };
                let Some(i) = found else {
                    return self.fail("unknown intrinsic {found} after the scope");
                };
                FieldRef::Intrinsic(i)
            }
            _ => return Ok(None),
        };
        self.advance();
        Ok(Some(r))
    }
}

/// Intrinsics written without a scope (the legacy names).
fn unscoped_intrinsic(k: Keyword) -> Option<Intrinsic> {
    Some(match k {
        Keyword::Duration => Intrinsic::Duration,
        Keyword::Name => Intrinsic::Name,
        Keyword::Status => Intrinsic::Status,
        Keyword::StatusMessage => Intrinsic::StatusMessage,
        Keyword::Kind => Intrinsic::Kind,
        Keyword::Parent => Intrinsic::Parent,
        Keyword::RootName => Intrinsic::TraceRootName,
        Keyword::RootServiceName => Intrinsic::TraceRootService,
        Keyword::TraceDuration => Intrinsic::TraceDuration,
        Keyword::NestedSetLeft => Intrinsic::NestedSetLeft,
        Keyword::NestedSetRight => Intrinsic::NestedSetRight,
        Keyword::NestedSetParent => Intrinsic::NestedSetParent,
        _ => return None,
    })
}

/// Intrinsics written `scope:word`.
fn scoped_intrinsic(scope: IntrinsicScope, k: Keyword) -> Option<Intrinsic> {
    use IntrinsicScope as S;
    use Keyword as K;
    Some(match (scope, k) {
        (S::Trace, K::Duration) => Intrinsic::TraceDuration,
        (S::Trace, K::RootName) => Intrinsic::TraceRootName,
        (S::Trace, K::RootService) => Intrinsic::TraceRootService,
        (S::Trace, K::Id) => Intrinsic::TraceId,
        (S::Span, K::Duration) => Intrinsic::Duration,
        (S::Span, K::Name) => Intrinsic::Name,
        (S::Span, K::Kind) => Intrinsic::Kind,
        (S::Span, K::Status) => Intrinsic::Status,
        (S::Span, K::StatusMessage) => Intrinsic::StatusMessage,
        (S::Span, K::Id) => Intrinsic::SpanId,
        (S::Span, K::ParentId) => Intrinsic::ParentId,
        (S::Span, K::ChildCount) => Intrinsic::ChildCount,
        (S::Event, K::Name) => Intrinsic::EventName,
        (S::Event, K::TimeSinceStart) => Intrinsic::EventTimeSinceStart,
        (S::Link, K::TraceId) => Intrinsic::LinkTraceId,
        (S::Link, K::SpanId) => Intrinsic::LinkSpanId,
        (S::Instrumentation, K::Name) => Intrinsic::InstrumentationName,
        (S::Instrumentation, K::Version) => Intrinsic::InstrumentationVersion,
        _ => return None,
    })
}

/// Builds `lhs op rhs`, folding two constants when the operation is valid and has a value.
/// A string compared with `trace:id` loses its leading zeros (ids are compared as numbers).
pub(super) fn binary(op: BinaryOp, lhs: FieldExpr, rhs: FieldExpr) -> FieldExpr {
    let lhs = normalize_trace_id(lhs, &rhs);
    let rhs = normalize_trace_id(rhs, &lhs);
    if let (FieldExpr::Static(l), FieldExpr::Static(r)) = (&lhs, &rhs)
        && let Some(folded) = fold_binary(op, l, r)
    {
        return FieldExpr::Static(folded);
    }
    FieldExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
}

/// Builds `op e`, folding a constant.
pub(super) fn unary(op: UnaryOp, e: FieldExpr) -> FieldExpr {
    if let FieldExpr::Static(s) = &e
        && let Some(folded) = fold_unary(op, s)
    {
        return FieldExpr::Static(folded);
    }
    FieldExpr::Unary { op, expr: Box::new(e) }
}

fn normalize_trace_id(operand: FieldExpr, other: &FieldExpr) -> FieldExpr {
    match (operand, other) {
        (
            FieldExpr::Static(Static::Str(s)),
            FieldExpr::Ref(FieldRef::Intrinsic(Intrinsic::TraceId)),
        ) => FieldExpr::Static(Static::Str(s.trim_start_matches('0').to_string())),
        (operand, _) => operand,
    }
}
