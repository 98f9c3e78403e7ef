//! Spanset pipelines: stages, spanset expressions and their operators, chains of
//! parenthesised pipelines, aggregate filters, and comparisons of whole pipelines.

use super::super::ast::{
    Aggregate, AggregateFn, ArithOp, Body, CmpOp, FieldExpr, Pipeline, PipelineCompare,
    PipelineScalar, ScalarExpr, ScalarFilter, SpansetExpr, SpansetOp, Stage, Static,
};
use super::super::token::{Keyword, Tok};
use super::{Fail, PResult, Parser};

/// The spanset operator at `tok` and its level: `&& ||` bind looser than the structural ones.
fn spanset_op(tok: &Tok) -> Option<(SpansetOp, u8)> {
    Some(match tok {
        Tok::And => (SpansetOp::And, 2),
        Tok::Or => (SpansetOp::Or, 2),
        Tok::Gt => (SpansetOp::Child, 3),
        Tok::Lt => (SpansetOp::Parent, 3),
        Tok::Desc => (SpansetOp::Descendant, 3),
        Tok::Ance => (SpansetOp::Ancestor, 3),
        Tok::Sibl => (SpansetOp::Sibling, 3),
        Tok::NotChild => (SpansetOp::NotChild, 3),
        Tok::NotParent => (SpansetOp::NotParent, 3),
        Tok::NotDesc => (SpansetOp::NotDescendant, 3),
        Tok::NotAnce => (SpansetOp::NotAncestor, 3),
        Tok::Nre => (SpansetOp::NotSibling, 3),
        Tok::UnionChild => (SpansetOp::UnionChild, 3),
        Tok::UnionParent => (SpansetOp::UnionParent, 3),
        Tok::UnionDesc => (SpansetOp::UnionDescendant, 3),
        Tok::UnionAnce => (SpansetOp::UnionAncestor, 3),
        Tok::UnionSibl => (SpansetOp::UnionSibling, 3),
        _ => return None,
    })
}

/// The comparison at `tok`.
pub(super) fn cmp_op(tok: &Tok) -> Option<CmpOp> {
    Some(match tok {
        Tok::Eq => CmpOp::Eq,
        Tok::Neq => CmpOp::Neq,
        Tok::Lt => CmpOp::Lt,
        Tok::Lte => CmpOp::Lte,
        Tok::Gt => CmpOp::Gt,
        Tok::Gte => CmpOp::Gte,
        _ => None?,
    })
}

/// The arithmetic operator at `tok`: (operator, level, right-associative).
pub(super) fn arith_op(tok: &Tok) -> Option<(ArithOp, u8, bool)> {
    Some(match tok {
        Tok::Add => (ArithOp::Add, 4, false),
        Tok::Sub => (ArithOp::Sub, 4, false),
        Tok::Mul => (ArithOp::Mul, 6, false),
        Tok::Div => (ArithOp::Div, 6, false),
        Tok::Mod => (ArithOp::Mod, 6, false),
        Tok::Pow => (ArithOp::Pow, 7, true),
        _ => return None,
    })
}

impl Parser<'_> {
    /// A search pipeline, optionally followed by `| metrics_fn …` (then a metrics query).
    pub(super) fn search_or_metrics_body(&mut self) -> PResult<Body> {
        let pipeline = self.pipeline()?;
        if self.peek() == Some(&Tok::Pipe) && self.metrics_function_ahead(1) {
            self.advance();
            return self.metrics_body_after_pipe(pipeline);
        }
        Ok(Body::Search(pipeline))
    }

    /// Stages joined by `|`. Stops (without consuming the `|`) before anything that is not a
    /// stage, such as `| rate()` or `| count())`.
    pub(super) fn pipeline(&mut self) -> PResult<Pipeline> {
        let mut stages = vec![self.stage(true)?];
        while self.peek() == Some(&Tok::Pipe) {
            let next = self.attempt(|p| {
                p.advance();
                p.stage(false)
            });
            match next {
                Ok(stage) => stages.push(stage),
                Err(Fail) => break,
            }
        }
        Ok(Pipeline { stages })
    }

    fn stage(&mut self, first: bool) -> PResult<Stage> {
        match self.peek() {
            Some(Tok::Keyword(Keyword::By)) => {
                self.advance();
                self.expect(&Tok::LParen, "`(` after `by`")?;
                let e = self.field_expr(0)?;
                self.expect(&Tok::RParen, "`)` closing `by(`")?;
                Ok(Stage::By(e))
            }
            Some(Tok::Keyword(Keyword::Select)) => {
                self.advance();
                self.expect(&Tok::LParen, "`(` after `select`")?;
                let mut fields = vec![self.field_ref()?];
                while self.eat(&Tok::Comma) {
                    fields.push(self.field_ref()?);
                }
                self.expect(&Tok::RParen, "`)` or `,` in `select(`")?;
                Ok(Stage::Select(fields))
            }
            Some(Tok::Keyword(Keyword::Coalesce)) if !first => {
                self.advance();
                self.expect(&Tok::LParen, "`(` after `coalesce`")?;
                self.expect(&Tok::RParen, "`)`: coalesce takes no arguments")?;
                Ok(Stage::Coalesce)
            }
            Some(Tok::Keyword(Keyword::Coalesce)) => {
                self.fail("a pipeline cannot start with coalesce()")
            }
            Some(Tok::LBrace) => Ok(Stage::Spanset(self.spanset_expr(0)?)),
            Some(Tok::LParen) => {
                if let Ok(e) = self.attempt(|p| p.spanset_expr(0)) {
                    return Ok(Stage::Spanset(e));
                }
                Ok(Stage::Scalar(self.scalar_filter()?))
            }
            _ => {
                if self.scalar_start() {
                    return Ok(Stage::Scalar(self.scalar_filter()?));
                }
                self.fail(
                    "expected a spanset filter `{ … }`, an aggregate filter, by(), select() \
                     or coalesce(), found {found}",
                )
            }
        }
    }

    fn scalar_start(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Tok::Int(_)
                    | Tok::Float(_)
                    | Tok::Duration(_)
                    | Tok::Sub
                    | Tok::Keyword(
                        Keyword::Count | Keyword::Avg | Keyword::Min | Keyword::Max | Keyword::Sum
                    )
            )
        )
    }

    /// Spanset filters joined by spanset operators.
    pub(super) fn spanset_expr(&mut self, min_level: u8) -> PResult<SpansetExpr> {
        let mut lhs = match self.peek() {
            Some(Tok::LBrace) => SpansetExpr::Filter(self.spanset_filter()?),
            Some(Tok::LParen) => {
                self.advance();
                let e = self.spanset_expr(0)?;
                self.expect(&Tok::RParen, "`)` or a spanset operator")?;
                e
            }
            _ => return self.fail("expected a spanset filter `{ … }`, found {found}"),
        };
        while let Some((op, level)) = self.peek().and_then(spanset_op) {
            if level < min_level {
                break;
            }
            self.advance();
            let rhs = self.spanset_expr(level + 1)?;
            lhs = SpansetExpr::Op { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        Ok(lhs)
    }

    /// `{ }` (true) or `{ expr }`.
    pub(super) fn spanset_filter(&mut self) -> PResult<FieldExpr> {
        self.expect(&Tok::LBrace, "`{`")?;
        if self.eat(&Tok::RBrace) {
            return Ok(FieldExpr::Static(Static::Bool(true)));
        }
        let e = self.field_expr(0)?;
        self.expect(&Tok::RBrace, "`}` or an operator")?;
        Ok(e)
    }

    /// A chain of parenthesised pipelines joined by spanset operators, or one such pipeline.
    pub(super) fn chain_body(&mut self) -> PResult<Body> {
        Ok(match self.chain(0, true)? {
            SpansetExpr::Pipeline(p) => Body::Search(p),
            e => Body::Search(Pipeline { stages: vec![Stage::Spanset(e)] }),
        })
    }

    /// `(pipeline) op (pipeline) …`. As in Tempo's grammar, the leftmost operand of a chain
    /// must be a real pipeline: `({…})` alone is just a parenthesised spanset filter.
    fn chain(&mut self, min_level: u8, leftmost: bool) -> PResult<SpansetExpr> {
        let mut lhs = self.chain_operand(leftmost)?;
        while let Some((op, level)) = self.peek().and_then(spanset_op) {
            if level < min_level {
                break;
            }
            self.advance();
            let rhs = self.chain(level + 1, false)?;
            lhs = SpansetExpr::Op { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        Ok(lhs)
    }

    fn chain_operand(&mut self, leftmost: bool) -> PResult<SpansetExpr> {
        let start = self.pos;
        self.expect(&Tok::LParen, "`(` opening a pipeline")?;
        if let Ok(inner) = self.attempt(|p| {
            let e = p.chain(0, true)?;
            p.expect(&Tok::RParen, "`)` or a spanset operator")?;
            Ok(e)
        }) {
            return Ok(inner);
        }
        let pipeline = self.pipeline()?;
        self.expect(&Tok::RParen, "`)` closing the pipeline")?;
        let mut stages = pipeline.stages;
        if stages.len() == 1
            && let Some(Stage::Spanset(_)) = stages.first()
        {
            if leftmost {
                return self.fail_at(
                    start,
                    "a parenthesised spanset expression cannot be joined to a pipeline; \
                     use `|` inside the first parentheses",
                );
            }
            if let Some(Stage::Spanset(e)) = stages.pop() {
                return Ok(e);
            }
        }
        Ok(SpansetExpr::Pipeline(Pipeline { stages }))
    }

    /// `aggregate op constant` and the other (unsupported) shapes with an aggregate.
    pub(super) fn scalar_filter(&mut self) -> PResult<ScalarFilter> {
        let start = self.pos;
        let lhs = self.scalar_expr(0)?;
        let Some(op) = self.peek().and_then(cmp_op) else {
            return self.fail("expected a comparison after the aggregate, found {found}");
        };
        self.advance();
        let rhs = self.scalar_expr(0)?;
        if !has_aggregate(&lhs) && !has_aggregate(&rhs) {
            return self.fail_at(start, "a comparison of constants is not a query");
        }
        Ok(ScalarFilter { op, lhs, rhs })
    }

    /// Aggregates and constants joined by arithmetic; constant parts are folded.
    fn scalar_expr(&mut self, min_level: u8) -> PResult<ScalarExpr> {
        let mut lhs = match self.peek() {
            Some(Tok::LParen) => {
                self.advance();
                let e = self.scalar_expr(0)?;
                self.expect(&Tok::RParen, "`)` or an operator")?;
                e
            }
            Some(Tok::Keyword(_)) if self.scalar_start() => {
                ScalarExpr::Aggregate(self.aggregate()?)
            }
            _ => ScalarExpr::Static(self.const_operand()?),
        };
        while let Some((op, level, right_assoc)) = self.peek().and_then(arith_op) {
            if level < min_level {
                break;
            }
            let at = self.pos;
            self.advance();
            let rhs = self.scalar_expr(if right_assoc { level } else { level + 1 })?;
            lhs = match (lhs, rhs) {
                (ScalarExpr::Static(l), ScalarExpr::Static(r)) => {
                    ScalarExpr::Static(self.fold_const(at, op, l, r)?)
                }
                (l, r) => ScalarExpr::Arith { op, lhs: Box::new(l), rhs: Box::new(r) },
            };
        }
        Ok(lhs)
    }

    /// `count()`, `avg(e)`, `min(e)`, `max(e)`, `sum(e)`.
    pub(super) fn aggregate(&mut self) -> PResult<Aggregate> {
        let func = match self.peek() {
            Some(Tok::Keyword(Keyword::Count)) => AggregateFn::Count,
            Some(Tok::Keyword(Keyword::Avg)) => AggregateFn::Avg,
            Some(Tok::Keyword(Keyword::Min)) => AggregateFn::Min,
            Some(Tok::Keyword(Keyword::Max)) => AggregateFn::Max,
            Some(Tok::Keyword(Keyword::Sum)) => AggregateFn::Sum,
            _ => return self.fail("expected an aggregate such as count(), found {found}"),
        };
        self.advance();
        self.expect(&Tok::LParen, "`(` after the aggregate")?;
        if func == AggregateFn::Count {
            self.expect(&Tok::RParen, "`)`: count() takes no arguments")?;
            return Ok(Aggregate { func, arg: None });
        }
        let arg = self.field_expr(0)?;
        self.expect(&Tok::RParen, "`)` closing the aggregate")?;
        Ok(Aggregate { func, arg: Some(arg) })
    }

    /// `(pipeline | aggregate) op (pipeline | aggregate)` or `… op constant`.
    pub(super) fn pipeline_compare_body(&mut self) -> PResult<Body> {
        let lhs = self.pipeline_scalar(0)?;
        let Some(op) = self.peek().and_then(cmp_op) else {
            return self.fail("expected a comparison, found {found}");
        };
        self.advance();
        let rhs = match self.attempt(|p| p.pipeline_scalar(0)) {
            Ok(rhs) => rhs,
            Err(Fail) => PipelineScalar::Static(self.const_expr(0)?),
        };
        Ok(Body::PipelineCompare(PipelineCompare { op, lhs, rhs }))
    }

    fn pipeline_scalar(&mut self, min_level: u8) -> PResult<PipelineScalar> {
        self.expect(&Tok::LParen, "`(`")?;
        let mut lhs = match self.attempt(|p| {
            let pipeline = p.pipeline()?;
            p.expect(&Tok::Pipe, "`|` and an aggregate")?;
            let aggregate = p.aggregate()?;
            p.expect(&Tok::RParen, "`)`")?;
            Ok(PipelineScalar::Aggregate { pipeline, aggregate })
        }) {
            Ok(agg) => agg,
            Err(Fail) => {
                let inner = self.pipeline_scalar(0)?;
                self.expect(&Tok::RParen, "`)` or an operator")?;
                inner
            }
        };
        while let Some((op, level, right_assoc)) = self.peek().and_then(arith_op) {
            if level < min_level {
                break;
            }
            self.advance();
            let rhs = self.pipeline_scalar(if right_assoc { level } else { level + 1 })?;
            lhs = PipelineScalar::Arith { op, lhs: Box::new(lhs), rhs: Box::new(rhs) };
        }
        Ok(lhs)
    }
}

fn has_aggregate(e: &ScalarExpr) -> bool {
    match e {
        ScalarExpr::Aggregate(_) => true,
        ScalarExpr::Static(_) => false,
        ScalarExpr::Arith { lhs, rhs, .. } => has_aggregate(lhs) || has_aggregate(rhs),
    }
}
