//! Compiling field expressions once per query: regexes built (each distinct pattern once),
//! constants turned into runtime values, and the shapes Tempo's storage layer treats
//! specially (`attribute op literal`) singled out.

use std::collections::HashMap;

use regex::Regex;

use super::error::EvalError;
use super::ops::swap_operands;
use super::value::Value;
use crate::traceql::ast::{
    ArithOp, Attribute, AttributeScope, BinaryOp, CmpOp, FieldExpr, FieldRef, Intrinsic, Static,
    UnaryOp,
};
use crate::traceql::value::anchored_regex;

/// A compiled field expression.
#[derive(Debug, Clone)]
pub(crate) enum Expr {
    Const(Value<'static>),
    Field(Field),
    /// `attribute op literal`, in either order (normalised to the attribute on the left).
    /// Evaluated as Tempo's storage does: an int literal only matches int values, a float
    /// literal only float values, and an unscoped attribute passes if its span-level or its
    /// resource-level value passes.
    AttrTest {
        attr: AttrRef,
        test: LiteralTest,
    },
    Compare {
        op: CmpOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `operand =~ regex` / `operand !~ regex` on anything but a plain attribute.
    Regex {
        operand: Box<Expr>,
        regex: Regex,
        negated: bool,
    },
    Arith {
        op: ArithOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    /// `x != nil` (`present`) or `x = nil`.
    Presence {
        expr: Box<Expr>,
        present: bool,
    },
}

/// A test of one value against a query literal.
#[derive(Debug, Clone)]
pub(crate) enum LiteralTest {
    Compare { op: CmpOp, literal: Value<'static> },
    Regex { regex: Regex, negated: bool },
}

/// A field reference the engine can read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Intrinsic(Intrinsic),
    Attr(AttrRef),
}

/// An attribute name and the scope it is looked up in (`None`: span, then resource).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttrRef {
    pub scope: AttributeScope,
    pub name: String,
}

impl AttrRef {
    /// Compiles an attribute reference; `parent.` attributes are unsupported.
    pub(crate) fn compile(attr: &Attribute) -> Result<AttrRef, EvalError> {
        if attr.parent {
            return Err(EvalError::Unsupported("parent. attributes".to_owned()));
        }
        Ok(AttrRef { scope: attr.scope, name: attr.name.clone() })
    }
}

impl Field {
    /// Compiles a field reference; `parent` and `parent.` attributes are unsupported.
    pub(crate) fn compile(field: &FieldRef) -> Result<Field, EvalError> {
        match field {
            FieldRef::Intrinsic(Intrinsic::Parent) => {
                Err(EvalError::Unsupported("the parent intrinsic".to_owned()))
            }
            FieldRef::Intrinsic(intrinsic) => Ok(Field::Intrinsic(*intrinsic)),
            FieldRef::Attribute(attr) => Ok(Field::Attr(AttrRef::compile(attr)?)),
        }
    }

    /// Whether the field reads the current event.
    pub(crate) fn reads_event(&self) -> bool {
        matches!(
            self,
            Field::Intrinsic(Intrinsic::EventName | Intrinsic::EventTimeSinceStart)
                | Field::Attr(AttrRef { scope: AttributeScope::Event, .. })
        )
    }

    /// Whether the field reads the current link.
    pub(crate) fn reads_link(&self) -> bool {
        matches!(
            self,
            Field::Intrinsic(Intrinsic::LinkTraceId | Intrinsic::LinkSpanId)
                | Field::Attr(AttrRef { scope: AttributeScope::Link, .. })
        )
    }
}

impl Expr {
    /// Whether evaluating the expression reads the current event (`event:name`, `event.x`).
    pub(crate) fn reads_event(&self) -> bool {
        self.any_field(&|field| field.reads_event())
    }

    /// Whether evaluating the expression reads the current link.
    pub(crate) fn reads_link(&self) -> bool {
        self.any_field(&|field| field.reads_link())
    }

    fn any_field(&self, predicate: &dyn Fn(&Field) -> bool) -> bool {
        match self {
            Expr::Const(_) => false,
            Expr::Field(field) => predicate(field),
            Expr::AttrTest { attr, .. } => predicate(&Field::Attr(attr.clone())),
            Expr::Compare { lhs, rhs, .. }
            | Expr::Arith { lhs, rhs, .. }
            | Expr::And(lhs, rhs)
            | Expr::Or(lhs, rhs) => lhs.any_field(predicate) || rhs.any_field(predicate),
            Expr::Regex { operand: expr, .. }
            | Expr::Neg(expr)
            | Expr::Not(expr)
            | Expr::Presence { expr, .. } => expr.any_field(predicate),
        }
    }
}

/// Compiles the expressions of one query, sharing compiled regexes between them.
#[derive(Default)]
pub(crate) struct Compiler {
    regexes: HashMap<String, Regex>,
}

impl Compiler {
    /// Compiles a field expression.
    pub(crate) fn compile(&mut self, expr: &FieldExpr) -> Result<Expr, EvalError> {
        Ok(match expr {
            FieldExpr::Static(value) => Expr::Const(Value::from_static(value)),
            FieldExpr::Ref(field) => Expr::Field(Field::compile(field)?),
            FieldExpr::Unary { op, expr } => {
                let operand = Box::new(self.compile(expr)?);
                match op {
                    UnaryOp::Neg => Expr::Neg(operand),
                    UnaryOp::Not => Expr::Not(operand),
                    UnaryOp::Exists => Expr::Presence { expr: operand, present: true },
                    UnaryOp::NotExists => Expr::Presence { expr: operand, present: false },
                }
            }
            FieldExpr::Binary { op, lhs, rhs } => self.compile_binary(*op, lhs, rhs)?,
        })
    }

    fn compile_binary(
        &mut self,
        op: BinaryOp,
        lhs: &FieldExpr,
        rhs: &FieldExpr,
    ) -> Result<Expr, EvalError> {
        if let Some(arith) = arith_op(op) {
            return Ok(Expr::Arith {
                op: arith,
                lhs: Box::new(self.compile(lhs)?),
                rhs: Box::new(self.compile(rhs)?),
            });
        }
        if let Some(cmp) = op.comparison() {
            return Ok(match (lhs, rhs) {
                (FieldExpr::Ref(FieldRef::Attribute(attr)), FieldExpr::Static(literal)) => {
                    attr_test(attr, cmp, literal)?
                }
                (FieldExpr::Static(literal), FieldExpr::Ref(FieldRef::Attribute(attr))) => {
                    attr_test(attr, swap_operands(cmp), literal)?
                }
                _ => Expr::Compare {
                    op: cmp,
                    lhs: Box::new(self.compile(lhs)?),
                    rhs: Box::new(self.compile(rhs)?),
                },
            });
        }
        match op {
            BinaryOp::And => {
                Ok(Expr::And(Box::new(self.compile(lhs)?), Box::new(self.compile(rhs)?)))
            }
            BinaryOp::Or => {
                Ok(Expr::Or(Box::new(self.compile(lhs)?), Box::new(self.compile(rhs)?)))
            }
            _ => {
                let negated = op == BinaryOp::NotRegex;
                let FieldExpr::Static(Static::Str(pattern)) = rhs else {
                    return Err(EvalError::Unsupported(
                        "a regex that is not a string literal".to_owned(),
                    ));
                };
                let regex = self.regex(pattern)?;
                Ok(match lhs {
                    FieldExpr::Ref(FieldRef::Attribute(attr)) => Expr::AttrTest {
                        attr: AttrRef::compile(attr)?,
                        test: LiteralTest::Regex { regex, negated },
                    },
                    _ => Expr::Regex { operand: Box::new(self.compile(lhs)?), regex, negated },
                })
            }
        }
    }

    /// Compiles a pattern, or reuses it if this query already compiled it.
    fn regex(&mut self, pattern: &str) -> Result<Regex, EvalError> {
        if let Some(regex) = self.regexes.get(pattern) {
            return Ok(regex.clone());
        }
        let regex = anchored_regex(pattern).map_err(|error| EvalError::Regex {
            pattern: pattern.to_owned(),
            message: error.to_string(),
        })?;
        self.regexes.insert(pattern.to_owned(), regex.clone());
        Ok(regex)
    }

    /// Number of distinct regexes compiled so far.
    #[cfg(test)]
    pub(crate) fn regex_count(&self) -> usize {
        self.regexes.len()
    }
}

fn attr_test(attr: &Attribute, op: CmpOp, literal: &Static) -> Result<Expr, EvalError> {
    Ok(Expr::AttrTest {
        attr: AttrRef::compile(attr)?,
        test: LiteralTest::Compare { op, literal: Value::from_static(literal) },
    })
}

fn arith_op(op: BinaryOp) -> Option<ArithOp> {
    Some(match op {
        BinaryOp::Add => ArithOp::Add,
        BinaryOp::Sub => ArithOp::Sub,
        BinaryOp::Mul => ArithOp::Mul,
        BinaryOp::Div => ArithOp::Div,
        BinaryOp::Mod => ArithOp::Mod,
        BinaryOp::Pow => ArithOp::Pow,
        _ => return None,
    })
}
