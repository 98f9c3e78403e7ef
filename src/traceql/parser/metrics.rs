//! Metrics queries: first-stage functions, second stages, arithmetic between parenthesised
//! metrics pipelines, and the constant expressions shared with aggregate filters.

use super::super::ast::{
    ArithOp, Body, FieldRef, MathOp, MetricsExpr, MetricsFunction, MetricsPipeline, MetricsQuery,
    OverTimeFn, Pipeline, SecondStage, Static,
};
use super::super::token::{Keyword, Tok};
use super::pipeline::{arith_op, cmp_op};
use super::{Fail, PResult, Parser};

/// Level of prefix `-` on constants: tighter than every binary operator.
const CONST_NEG_OPERAND: u8 = 8;

impl Parser<'_> {
    /// Whether a first-stage metrics function starts `ahead` tokens from the cursor.
    pub(super) fn metrics_function_ahead(&self, ahead: usize) -> bool {
        matches!(
            self.peek_at(ahead),
            Some(Tok::Keyword(
                Keyword::Rate
                    | Keyword::CountOverTime
                    | Keyword::MinOverTime
                    | Keyword::MaxOverTime
                    | Keyword::AvgOverTime
                    | Keyword::SumOverTime
                    | Keyword::QuantileOverTime
                    | Keyword::HistogramOverTime
                    | Keyword::Compare
            ))
        )
    }

    /// `pipeline |` has been read: the function and its second stage follow.
    pub(super) fn metrics_body_after_pipe(&mut self, pipeline: Pipeline) -> PResult<Body> {
        let function = self.metrics_function()?;
        let second_stage = self.second_stage()?;
        Ok(Body::Metrics(MetricsQuery {
            expr: MetricsExpr::Pipeline(MetricsPipeline { pipeline, function, second_stage }),
            second_stage: Vec::new(),
        }))
    }

    /// Arithmetic between parenthesised metrics pipelines, then a second stage.
    pub(super) fn metrics_math_body(&mut self) -> PResult<Body> {
        let start = self.pos;
        let expr = self.metrics_expr(0)?;
        if !has_pipeline(&expr) {
            return self.fail_at(start, "expected a query, found constant arithmetic");
        }
        let second_stage = self.second_stage()?;
        Ok(Body::Metrics(match expr {
            MetricsExpr::Pipeline(mut p) => {
                p.second_stage.extend(second_stage);
                MetricsQuery { expr: MetricsExpr::Pipeline(p), second_stage: Vec::new() }
            }
            expr => MetricsQuery { expr, second_stage },
        }))
    }

    fn metrics_expr(&mut self, min_level: u8) -> PResult<MetricsExpr> {
        let mut lhs = if self.peek() == Some(&Tok::LParen) {
            match self.attempt(|p| p.wrapped_metrics_pipeline()) {
                Ok(pipeline) => MetricsExpr::Pipeline(pipeline),
                Err(Fail) => {
                    self.advance();
                    let e = self.metrics_expr(0)?;
                    self.expect(&Tok::RParen, "`)` or an operator")?;
                    e
                }
            }
        } else {
            let at = self.pos;
            let c = self.const_operand()?;
            self.metrics_constant(at, c)?
        };
        while let Some((op, level, _)) = self.peek().and_then(arith_op) {
            let math = match op {
                ArithOp::Add => MathOp::Add,
                ArithOp::Sub => MathOp::Sub,
                ArithOp::Mul => MathOp::Mul,
                ArithOp::Div => MathOp::Div,
                ArithOp::Mod | ArithOp::Pow => break,
            };
            if level < min_level {
                break;
            }
            let at = self.pos;
            self.advance();
            let rhs = self.metrics_expr(level + 1)?;
            lhs = match (lhs, rhs) {
                (MetricsExpr::Const(l), MetricsExpr::Const(r)) => {
                    MetricsExpr::Const(self.fold_const(at, op, l, r)?)
                }
                (l, r) => MetricsExpr::Arith { op: math, lhs: Box::new(l), rhs: Box::new(r) },
            };
        }
        Ok(lhs)
    }

    fn metrics_constant(&mut self, at: usize, c: Static) -> PResult<MetricsExpr> {
        if matches!(c, Static::Duration(_)) {
            return self.fail_at(at, "a duration cannot be used in metrics arithmetic");
        }
        Ok(MetricsExpr::Const(c))
    }

    /// `( pipeline | function [second stage] )`.
    fn wrapped_metrics_pipeline(&mut self) -> PResult<MetricsPipeline> {
        self.expect(&Tok::LParen, "`(`")?;
        let pipeline = self.pipeline()?;
        if !(self.peek() == Some(&Tok::Pipe) && self.metrics_function_ahead(1)) {
            return self.fail("expected `|` and a metrics function, found {found}");
        }
        self.advance();
        let function = self.metrics_function()?;
        let second_stage = self.second_stage()?;
        self.expect(&Tok::RParen, "`)` closing the metrics pipeline")?;
        Ok(MetricsPipeline { pipeline, function, second_stage })
    }

    fn metrics_function(&mut self) -> PResult<MetricsFunction> {
        let Some(Tok::Keyword(k)) = self.peek().cloned() else {
            return self.fail("expected a metrics function, found {found}");
        };
        self.advance();
        self.expect(&Tok::LParen, "`(` after the metrics function")?;
        let function = match k {
            Keyword::Rate | Keyword::CountOverTime => {
                self.expect(&Tok::RParen, "`)`: the function takes no arguments")?;
                let by = self.by_list()?;
                if k == Keyword::Rate {
                    MetricsFunction::Rate { by }
                } else {
                    MetricsFunction::CountOverTime { by }
                }
            }
            Keyword::QuantileOverTime => {
                let field = self.field_ref()?;
                let mut quantiles = Vec::new();
                while self.eat(&Tok::Comma) {
                    quantiles.push(match self.peek() {
                        Some(Tok::Int(i)) => *i as f64,
                        Some(Tok::Float(f)) => *f,
                        _ => return self.fail("expected a quantile such as 0.9, found {found}"),
                    });
                    self.advance();
                }
                if quantiles.is_empty() {
                    return self.fail("expected `,` and at least one quantile, found {found}");
                }
                self.expect(&Tok::RParen, "`)` or `,` in quantile_over_time(")?;
                let by = self.by_list()?;
                MetricsFunction::QuantileOverTime { field, quantiles, by }
            }
            Keyword::Compare => self.compare_args()?,
            _ => {
                let func = match k {
                    Keyword::MinOverTime => OverTimeFn::Min,
                    Keyword::MaxOverTime => OverTimeFn::Max,
                    Keyword::SumOverTime => OverTimeFn::Sum,
                    Keyword::AvgOverTime => OverTimeFn::Avg,
                    Keyword::HistogramOverTime => OverTimeFn::Histogram,
                    _ => return self.fail("expected a metrics function, found {found}"),
                };
                let field = self.field_ref()?;
                self.expect(&Tok::RParen, "`)`: the function takes one field")?;
                let by = self.by_list()?;
                MetricsFunction::OverTime { func, field, by }
            }
        };
        Ok(function)
    }

    /// After `compare(`: `{filter} [, topN [, startNs, endNs]] )`.
    fn compare_args(&mut self) -> PResult<MetricsFunction> {
        let filter = self.spanset_filter()?;
        let mut numbers = Vec::new();
        while self.eat(&Tok::Comma) {
            let Some(Tok::Int(i)) = self.peek() else {
                return self.fail("expected an integer argument to compare(), found {found}");
            };
            numbers.push(*i);
            self.advance();
        }
        let (top_n, start_ns, end_ns) = match numbers[..] {
            [] => (10, 0, 0),
            [n] => (n, 0, 0),
            [n, s, e] => (n, s, e),
            _ => return self.fail("compare() takes 1, 2 or 4 arguments"),
        };
        self.expect(&Tok::RParen, "`)` closing compare(")?;
        Ok(MetricsFunction::Compare { filter, top_n, start_ns, end_ns })
    }

    /// `by (a, b, …)`, or nothing.
    fn by_list(&mut self) -> PResult<Vec<FieldRef>> {
        if !self.peek_keyword(Keyword::By) {
            return Ok(Vec::new());
        }
        self.advance();
        self.expect(&Tok::LParen, "`(` after `by`")?;
        let mut fields = vec![self.field_ref()?];
        while self.eat(&Tok::Comma) {
            fields.push(self.field_ref()?);
        }
        self.expect(&Tok::RParen, "`)` or `,` in `by(`")?;
        Ok(fields)
    }

    /// `| topk(k)`, `| bottomk(k)` and `op constant` filters, in written order.
    fn second_stage(&mut self) -> PResult<Vec<SecondStage>> {
        let mut stages = Vec::new();
        loop {
            if self.peek() == Some(&Tok::Pipe)
                && let Some(Tok::Keyword(k @ (Keyword::Topk | Keyword::Bottomk))) = self.peek_at(1)
            {
                let top = *k == Keyword::Topk;
                self.advance();
                self.advance();
                self.expect(&Tok::LParen, "`(`")?;
                let Some(Tok::Int(n)) = self.peek() else {
                    return self.fail("expected a whole number of series, found {found}");
                };
                let n = *n;
                self.advance();
                self.expect(&Tok::RParen, "`)`")?;
                stages.push(if top { SecondStage::TopK(n) } else { SecondStage::BottomK(n) });
            } else if let Some(op) = self.peek().and_then(cmp_op) {
                self.advance();
                let value = self.const_expr(0)?;
                stages.push(SecondStage::Filter { op, value });
            } else {
                return Ok(stages);
            }
        }
    }

    /// A constant expression: numbers and durations, prefix `-`, parentheses, and `+ - * /`
    /// between numbers, folded with integer semantics (`1/2` is 0).
    pub(super) fn const_expr(&mut self, min_level: u8) -> PResult<Static> {
        let mut lhs = self.const_operand()?;
        while let Some((op, level, _)) = self.peek().and_then(arith_op) {
            if level < min_level {
                break;
            }
            let at = self.pos;
            self.advance();
            let rhs = self.const_expr(level + 1)?;
            lhs = self.fold_const(at, op, lhs, rhs)?;
        }
        Ok(lhs)
    }

    /// A number, a duration, `-constant` or `(constant expression)`.
    pub(super) fn const_operand(&mut self) -> PResult<Static> {
        let value = match self.peek() {
            Some(Tok::Int(i)) => Static::Int(*i),
            Some(Tok::Float(f)) => Static::Float(*f),
            Some(Tok::Duration(d)) => Static::Duration(*d),
            Some(Tok::Sub) => {
                self.advance();
                return match self.const_expr(CONST_NEG_OPERAND)? {
                    Static::Int(i) => Ok(Static::Int(i.wrapping_neg())),
                    Static::Float(f) => Ok(Static::Float(-f)),
                    Static::Duration(d) => Ok(Static::Duration(d.wrapping_neg())),
                    _ => self.fail("expected a number"),
                };
            }
            Some(Tok::LParen) => {
                self.advance();
                let e = self.const_expr(0)?;
                self.expect(&Tok::RParen, "`)` or an operator")?;
                return Ok(e);
            }
            _ => return self.fail("expected a number, found {found}"),
        };
        self.advance();
        Ok(value)
    }

    /// `l op r` for two constants; the operator was at token `at`.
    pub(super) fn fold_const(
        &mut self,
        at: usize,
        op: ArithOp,
        l: Static,
        r: Static,
    ) -> PResult<Static> {
        use Static::{Duration, Float, Int};
        if matches!(l, Duration(_)) || matches!(r, Duration(_)) {
            return self.fail_at(at, "a duration cannot be used in constant arithmetic");
        }
        let folded = match (l, r) {
            (Int(a), Int(b)) => match op {
                ArithOp::Add => a.checked_add(b),
                ArithOp::Sub => a.checked_sub(b),
                ArithOp::Mul => a.checked_mul(b),
                ArithOp::Div if b == 0 => return self.fail_at(at, "division by zero"),
                ArithOp::Div => a.checked_div(b),
                ArithOp::Mod | ArithOp::Pow => None,
            }
            .map(Int),
            (l, r) => {
                let (a, b) = (as_f64(&l), as_f64(&r));
                let v = match op {
                    ArithOp::Add => a + b,
                    ArithOp::Sub => a - b,
                    ArithOp::Mul => a * b,
                    ArithOp::Div if b == 0.0 => return self.fail_at(at, "division by zero"),
                    ArithOp::Div => a / b,
                    ArithOp::Mod | ArithOp::Pow => f64::NAN,
                };
                v.is_finite().then_some(Float(v))
            }
        };
        match (folded, op) {
            (Some(v), _) => Ok(v),
            (None, ArithOp::Mod | ArithOp::Pow) => {
                self.fail_at(at, "only + - * / can join two constants")
            }
            (None, _) => self.fail_at(at, "the constant expression overflows"),
        }
    }
}

fn as_f64(s: &Static) -> f64 {
    match s {
        Static::Int(i) => *i as f64,
        Static::Float(f) => *f,
        _ => f64::NAN,
    }
}

fn has_pipeline(e: &MetricsExpr) -> bool {
    match e {
        MetricsExpr::Pipeline(_) => true,
        MetricsExpr::Const(_) => false,
        MetricsExpr::Arith { lhs, rhs, .. } => has_pipeline(lhs) || has_pipeline(rhs),
    }
}
