//! Printing metrics queries.

use std::fmt::{self, Display, Formatter};

use super::super::ast::*;
use super::{operand_parens, write_const, write_filter, write_list, write_wrapped};

impl Display for MetricsQuery {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.expr {
            // A lone pipeline needs no parentheses.
            MetricsExpr::Pipeline(p) => write!(f, "{p}")?,
            e => write_math(f, e)?,
        }
        write_second_stage(f, &self.second_stage)
    }
}

impl Display for MetricsPipeline {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} | {}", self.pipeline, self.function)?;
        write_second_stage(f, &self.second_stage)
    }
}

fn math_level(e: &MetricsExpr) -> u8 {
    match e {
        MetricsExpr::Arith { op: MathOp::Add | MathOp::Sub, .. } => 4,
        MetricsExpr::Arith { .. } => 6,
        _ => 10,
    }
}

fn write_math(f: &mut Formatter<'_>, e: &MetricsExpr) -> fmt::Result {
    match e {
        MetricsExpr::Pipeline(p) => write!(f, "({p})"),
        MetricsExpr::Const(c) => write_const(f, c),
        MetricsExpr::Arith { op, lhs, rhs } => {
            let level = math_level(e);
            let (pl, pr) = operand_parens(level, false, math_level(lhs), math_level(rhs));
            write_wrapped(f, pl, |f| write_math(f, lhs))?;
            write!(f, " {op} ")?;
            write_wrapped(f, pr, |f| write_math(f, rhs))
        }
    }
}

fn write_second_stage(f: &mut Formatter<'_>, stages: &[SecondStage]) -> fmt::Result {
    for s in stages {
        match s {
            SecondStage::TopK(k) => write!(f, " | topk({k})")?,
            SecondStage::BottomK(k) => write!(f, " | bottomk({k})")?,
            SecondStage::Filter { op, value } => {
                write!(f, " {op} ")?;
                write_const(f, value)?;
            }
        }
    }
    Ok(())
}

impl Display for MathOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
        })
    }
}

impl Display for MetricsFunction {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let by = match self {
            MetricsFunction::Rate { by } => {
                f.write_str("rate()")?;
                by
            }
            MetricsFunction::CountOverTime { by } => {
                f.write_str("count_over_time()")?;
                by
            }
            MetricsFunction::OverTime { func, field, by } => {
                let name = match func {
                    OverTimeFn::Min => "min_over_time",
                    OverTimeFn::Max => "max_over_time",
                    OverTimeFn::Sum => "sum_over_time",
                    OverTimeFn::Avg => "avg_over_time",
                    OverTimeFn::Histogram => "histogram_over_time",
                };
                write!(f, "{name}({field})")?;
                by
            }
            MetricsFunction::QuantileOverTime { field, quantiles, by } => {
                write!(f, "quantile_over_time({field}")?;
                for q in quantiles {
                    write!(f, ", {q:?}")?;
                }
                f.write_str(")")?;
                by
            }
            MetricsFunction::Compare { filter, top_n, start_ns, end_ns } => {
                f.write_str("compare(")?;
                write_filter(f, filter)?;
                if *start_ns != 0 || *end_ns != 0 {
                    write!(f, ", {top_n}, {start_ns}, {end_ns}")?;
                } else if *top_n != 10 {
                    write!(f, ", {top_n}")?;
                }
                return f.write_str(")");
            }
        };
        if !by.is_empty() {
            f.write_str(" by (")?;
            write_list(f, by)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}
