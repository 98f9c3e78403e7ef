//! Validation rules of metrics functions: `by()` limits, quantiles, `compare()` arguments,
//! and `compare()` standing alone (no arithmetic, no second stage).

use super::{ValidateError, invalid};
use crate::traceql::ast::{FieldRef, MetricsFunction, OverTimeFn, SecondStage};

/// Most `by()` fields a metrics function accepts.
const MAX_BY_FIELDS: usize = 5;
/// Most `by()` fields for functions that spend one series label on a bucket or a quantile.
const MAX_BY_FIELDS_BUCKETED: usize = 4;
/// Largest `topN` argument of `compare()`.
const MAX_COMPARE_TOP_N: i64 = 1000;

pub(super) fn check_metrics_function(function: &MetricsFunction) -> Result<(), ValidateError> {
    match function {
        MetricsFunction::Rate { by } => check_by_count("rate", by, MAX_BY_FIELDS),
        MetricsFunction::CountOverTime { by } => {
            check_by_count("count_over_time", by, MAX_BY_FIELDS)
        }
        MetricsFunction::OverTime { func, by, .. } => {
            let (name, max) = match func {
                OverTimeFn::Min => ("min_over_time", MAX_BY_FIELDS),
                OverTimeFn::Max => ("max_over_time", MAX_BY_FIELDS),
                OverTimeFn::Sum => ("sum_over_time", MAX_BY_FIELDS),
                OverTimeFn::Avg => ("avg_over_time", MAX_BY_FIELDS_BUCKETED),
                OverTimeFn::Histogram => ("histogram_over_time", MAX_BY_FIELDS_BUCKETED),
            };
            check_by_count(name, by, max)
        }
        MetricsFunction::QuantileOverTime { quantiles, by, .. } => {
            if quantiles.is_empty() {
                return Err(invalid("quantile_over_time() needs a quantile"));
            }
            if let Some(q) = quantiles.iter().find(|q| !(0.0..=1.0).contains(*q)) {
                return Err(invalid(format!("quantile must be between 0 and 1, found {q}")));
            }
            check_by_count("quantile_over_time", by, MAX_BY_FIELDS_BUCKETED)
        }
        // The filter is a piece of its own.
        MetricsFunction::Compare { top_n, start_ns, end_ns, .. } => {
            if !(1..=MAX_COMPARE_TOP_N).contains(top_n) {
                return Err(invalid(format!(
                    "compare() top N must be between 1 and {MAX_COMPARE_TOP_N}, found {top_n}"
                )));
            }
            let (start, end) = (*start_ns, *end_ns);
            if !((start == 0 && end == 0) || (start > 0 && end > start)) {
                return Err(invalid(format!(
                    "compare() timestamps must be both 0, or both positive with end > start, \
                     found start {start} and end {end}"
                )));
            }
            Ok(())
        }
    }
}

fn check_by_count(function: &str, by: &[FieldRef], max: usize) -> Result<(), ValidateError> {
    match by.len() {
        found if found > max => {
            // Tempo reports this limit as unsupported, not as an invalid query.
            Err(ValidateError::Unsupported(format!(
                "{function}() grouping by {found} fields (at most {max})"
            )))
        }
        _ => Ok(()),
    }
}

/// `compare()` output is a fixed set of series: nothing may be computed from it.
pub(super) fn check_compare_alone(
    function: &MetricsFunction,
    in_arithmetic: bool,
    next: Option<&SecondStage>,
) -> Result<(), ValidateError> {
    if !matches!(function, MetricsFunction::Compare { .. }) {
        return Ok(());
    }
    if in_arithmetic {
        return Err(invalid("compare() cannot be used in arithmetic between queries"));
    }
    match next {
        Some(stage) => Err(invalid(format!(
            "compare() cannot be combined with a second stage: {}",
            second_stage_text(stage)
        ))),
        None => Ok(()),
    }
}

fn second_stage_text(stage: &SecondStage) -> String {
    match stage {
        SecondStage::TopK(k) => format!("topk({k})"),
        SecondStage::BottomK(k) => format!("bottomk({k})"),
        SecondStage::Filter { op, value } => format!("{op} {value}"),
    }
}
