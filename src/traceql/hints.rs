//! Query hints (`with(name = value, …)`, §7.6): the typed view the engine reads.
//!
//! As in Tempo, a hint with an unknown name or a value of the wrong type is ignored, and the
//! hints that change how much work a query does (`job_size`, `debug`, …) count only when the
//! tenant allows them.

use super::ast::{Query, Static};

/// How a query samples its input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampling {
    /// `sample=true`: the engine picks the fraction.
    Adaptive,
    /// `sample=0.1`: a fixed fraction in (0, 1).
    Fixed(f64),
}

/// The hints a query carries, typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    pub sample: Option<Sampling>,
    /// `span_sample`: a fraction of spans, in (0, 1).
    pub span_sample: Option<f64>,
    /// `trace_sample`: a fraction of traces, in (0, 1).
    pub trace_sample: Option<f64>,
    /// `exemplars`: a limit, or `Some(0)` for `exemplars=false`.
    pub exemplars: Option<u32>,
    /// `most_recent=true`: search deeper and keep the most recent traces.
    pub most_recent: bool,
    /// `extrapolate=true`: weight sampled spans by their recorded sampling probability.
    pub extrapolate: bool,
    /// Honoured only for tenants that allow unsafe hints.
    pub unsafe_hints: UnsafeHints,
}

/// Hints that change the amount of work, not the answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UnsafeHints {
    pub job_size: Option<i64>,
    pub concurrent_blocks: Option<i64>,
    pub time_overlap_cutoff: Option<f64>,
    pub debug: bool,
    pub info: bool,
    pub skip_ast_transformations: bool,
    pub spanonly_fetch: bool,
}

impl Query {
    /// The typed hints of this query; unsafe ones only when `allow_unsafe`.
    pub fn typed_hints(&self, allow_unsafe: bool) -> Hints {
        let mut hints = Hints::default();
        for hint in &self.hints {
            let value = &hint.value;
            match hint.name.as_str() {
                "sample" => {
                    hints.sample = match value {
                        Static::Bool(true) => Some(Sampling::Adaptive),
                        v => fraction(v).map(Sampling::Fixed),
                    }
                }
                "span_sample" => hints.span_sample = fraction(value),
                "trace_sample" => hints.trace_sample = fraction(value),
                "exemplars" => {
                    hints.exemplars = match value {
                        Static::Bool(false) => Some(0),
                        Static::Int(n) => u32::try_from(*n).ok(),
                        _ => None,
                    }
                }
                "most_recent" => hints.most_recent = *value == Static::Bool(true),
                "extrapolate" => hints.extrapolate = *value == Static::Bool(true),
                name if allow_unsafe => unsafe_hint(&mut hints.unsafe_hints, name, value),
                _ => {}
            }
        }
        hints
    }
}

fn unsafe_hint(hints: &mut UnsafeHints, name: &str, value: &Static) {
    let int = || match value {
        Static::Int(i) => Some(*i),
        _ => None,
    };
    let flag = *value == Static::Bool(true);
    match name {
        "job_size" => hints.job_size = int(),
        "concurrent_blocks" => hints.concurrent_blocks = int(),
        "time_overlap_cutoff" => hints.time_overlap_cutoff = number(value),
        "debug" => hints.debug = flag,
        "info" => hints.info = flag,
        "skip_ast_transformations" => hints.skip_ast_transformations = flag,
        "spanonly_fetch" => hints.spanonly_fetch = flag,
        _ => {}
    }
}

fn number(value: &Static) -> Option<f64> {
    match value {
        Static::Float(f) => Some(*f),
        Static::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// A sampling fraction: a number strictly between 0 and 1.
fn fraction(value: &Static) -> Option<f64> {
    number(value).filter(|f| *f > 0.0 && *f < 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traceql::parse;

    fn hints(q: &str, allow_unsafe: bool) -> Hints {
        parse(q).unwrap().typed_hints(allow_unsafe)
    }

    #[test]
    fn safe_hints_are_typed_and_wrong_types_ignored() {
        let h = hints(
            "{} | rate() with(sample=0.1, exemplars=false, most_recent=true, span_sample=2)",
            false,
        );
        assert_eq!(h.sample, Some(Sampling::Fixed(0.1)));
        assert_eq!(h.exemplars, Some(0));
        assert!(h.most_recent);
        assert_eq!(h.span_sample, None, "2 is not a fraction");
        let h = hints("{} with(sample=true, exemplars=50, extrapolate=\"yes\", nope=1)", false);
        assert_eq!(
            (h.sample, h.exemplars, h.extrapolate),
            (Some(Sampling::Adaptive), Some(50), false)
        );
    }

    #[test]
    fn unsafe_hints_need_the_tenant_switch() {
        let q = "{} with(job_size=1000, debug=true)";
        assert_eq!(hints(q, false).unsafe_hints, UnsafeHints::default());
        let h = hints(q, true).unsafe_hints;
        assert_eq!((h.job_size, h.debug), (Some(1000), true));
    }
}
