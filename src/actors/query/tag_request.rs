//! Tag queries as the core runs them, validated from Tempo's request messages
//! (`tempopb.SearchTagsRequest`, `tempopb.SearchTagValuesRequest`): the HTTP routes build
//! those messages from their parameters, and the gRPC `StreamingQuerier` receives them, so
//! both get the same rules and the same 400s.
//!
//! - `scope` ∈ "" | none | span | resource | event | link | instrumentation | intrinsic
//!   (and `trace`, which Tempo accepts and which has no attributes).
//! - v2 tag names must parse as a TraceQL field reference (Tempo's `ParseIdentifier`).
//! - `q`: one spanset filter restricting the spans that contribute. A query that does not
//!   parse (Grafana sends incomplete ones while the user types), or whose first stage is not
//!   a `{…}` filter, is ignored; a trivially true one (`{}`) is no filter. More than
//!   [`MAX_CONDITION_GROUPS`] OR-groups is a 400.
//! - `start`/`end`: seconds; only when both are set does the query read blocks overlapping
//!   `[start, end]` besides live data; a window wider than `query_frontend.search.max_duration`
//!   (when that is not `0s`) is a 400 naming the limit as Go prints it, as Tempo's tag sharder
//!   answers.

use std::time::Duration;

use thiserror::Error;

use crate::actors::query::tag_collect::{CollectLimits, MAX_ANSWER_BYTES};
use crate::api::error_code::ErrorCode;
use crate::config::HumanDuration;
use crate::model::ids::TenantId;
use crate::proto::tempopb;
use crate::storage::block::TagScope;
use crate::traceql::ast::{
    BinaryOp, Body, FieldExpr, FieldRef, Pipeline, Query, SpansetExpr, Stage, Static,
};
use crate::traceql::{parse, parse_and_validate};

/// Most OR-groups a `q` may expand to (Tempo's `max_condition_groups_per_tag_query`).
pub(crate) const MAX_CONDITION_GROUPS: u64 = 100;
/// Longest `q` (Tempo's `max_query_expression_size_bytes`).
pub(crate) const MAX_QUERY_BYTES: usize = 128 * 1024;

/// What the node's configuration allows a tag request, the same for HTTP and gRPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TagRequestBounds {
    /// The query gives up after this long (`querier.search.query_timeout`).
    pub timeout: Duration,
    /// Widest `start`–`end` window (`query_frontend.search.max_duration`); `None` = no limit.
    pub max_window: Option<Duration>,
}

/// Why a tag request was refused (always the client's fault: 400).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TagRequestError {
    /// `q` is longer than [`MAX_QUERY_BYTES`].
    #[error(
        "TraceQL expression exceeds the configured maximum size of {MAX_QUERY_BYTES} bytes, reduce the query expression size or contact your system administrator"
    )]
    QueryTooLarge,
    /// `scope` is not one Tempo knows.
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// The tag name is empty.
    #[error("please provide a non-empty tagName")]
    EmptyTagName,
    /// A v2 tag name is not a TraceQL field reference.
    #[error("please provide a valid tagName: failed to parse identifier {tag}: {reason}")]
    InvalidTagName {
        /// The tag as sent.
        tag: String,
        /// The parser's message.
        reason: String,
    },
    /// `q` expands to too many OR-groups.
    #[error(
        "maximum condition groups reached (limit: {MAX_CONDITION_GROUPS}). Reduce the number of OR conditions in the query"
    )]
    TooManyConditionGroups,
    /// `end - start` is over the configured `max_duration` (also when `end` is before
    /// `start`, as Tempo computes it).
    #[error("range specified by start and end exceeds {max}. received start={start} end={end}")]
    RangeTooLong {
        /// The limit as Go prints a duration (`168h0m0s`), as in Tempo's text.
        max: String,
        /// Start, seconds.
        start: u32,
        /// End, seconds.
        end: u32,
    },
}

impl TagRequestError {
    /// Always a bad request.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::BadRequest
    }
}

/// Which names a tag-names query lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeChoice {
    /// No scope, or `none`: every attribute scope (v2 adds the intrinsics).
    All,
    /// One attribute scope.
    Attribute(TagScope),
    /// `intrinsic`: the fixed list only.
    Intrinsic,
    /// `trace`: accepted (as by Tempo), has no attributes.
    Trace,
}

/// A validated tag-names query.
#[derive(Debug, Clone)]
pub(crate) struct TagsQuery {
    /// Tenants searched (several for a federated query).
    pub tenants: Vec<TenantId>,
    /// Which names.
    pub scope: ScopeChoice,
    /// Only spans matching this one-filter query contribute; `None` = every span.
    pub filter: Option<Query>,
    /// Unix nanoseconds `[start, end]`; `None` = live data only.
    pub window: Option<(u64, u64)>,
    /// `limit` (per scope), `maxStaleValues` and the byte budget.
    pub limits: CollectLimits,
    /// Give up after this long.
    pub timeout: Duration,
}

/// The tag whose values are asked for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TagName {
    /// v1: an unscoped attribute name (`service.name`).
    Plain(String),
    /// v2: a TraceQL field reference (`resource.service.name`, `.x`, `name`, `status`).
    Field(FieldRef),
}

/// A validated tag-values query.
#[derive(Debug, Clone)]
pub(crate) struct TagValuesQuery {
    /// Tenants searched.
    pub tenants: Vec<TenantId>,
    /// The tag.
    pub tag: TagName,
    /// Only spans matching this one-filter query contribute; `None` = every span.
    pub filter: Option<Query>,
    /// Unix nanoseconds `[start, end]`; `None` = live data only.
    pub window: Option<(u64, u64)>,
    /// `limit`, `maxStaleValues` and the byte budget.
    pub limits: CollectLimits,
    /// Give up after this long.
    pub timeout: Duration,
}

impl TagsQuery {
    /// Validates a tag-names request against `bounds`; `with_filter` is false for v1 (which
    /// ignores `q`).
    pub(crate) fn from_request(
        request: &tempopb::SearchTagsRequest,
        with_filter: bool,
        tenants: Vec<TenantId>,
        bounds: TagRequestBounds,
    ) -> Result<TagsQuery, TagRequestError> {
        check_size(&request.query)?;
        let filter = if with_filter { filter_of(&request.query)? } else { None };
        let scope = parse_scope(&request.scope)?;
        let window = window(request.start, request.end, bounds.max_window)?;
        Ok(TagsQuery {
            tenants,
            scope,
            filter,
            window,
            limits: limits(request.max_tags_per_scope, request.stale_values_threshold),
            timeout: bounds.timeout,
        })
    }
}

impl TagValuesQuery {
    /// Validates a tag-values request against `bounds`: v2 parses the tag as a field
    /// reference and honours `q`; v1 takes the name as it is and ignores `q`.
    pub(crate) fn from_request(
        request: &tempopb::SearchTagValuesRequest,
        v2: bool,
        tenants: Vec<TenantId>,
        bounds: TagRequestBounds,
    ) -> Result<TagValuesQuery, TagRequestError> {
        check_size(&request.query)?;
        let filter = if v2 { filter_of(&request.query)? } else { None };
        if request.tag_name.is_empty() {
            return Err(TagRequestError::EmptyTagName);
        }
        let tag = if v2 {
            TagName::Field(parse_identifier(&request.tag_name)?)
        } else {
            TagName::Plain(request.tag_name.clone())
        };
        let window = window(request.start, request.end, bounds.max_window)?;
        Ok(TagValuesQuery {
            tenants,
            tag,
            filter,
            window,
            limits: limits(request.max_tag_values, request.stale_value_threshold),
            timeout: bounds.timeout,
        })
    }
}

fn check_size(q: &str) -> Result<(), TagRequestError> {
    if q.len() > MAX_QUERY_BYTES {
        return Err(TagRequestError::QueryTooLarge);
    }
    Ok(())
}

fn limits(limit: u32, max_stale: u32) -> CollectLimits {
    CollectLimits {
        limit: limit as usize,
        max_stale: max_stale as usize,
        max_bytes: MAX_ANSWER_BYTES,
    }
}

fn parse_scope(scope: &str) -> Result<ScopeChoice, TagRequestError> {
    Ok(match scope {
        "" | "none" => ScopeChoice::All,
        "intrinsic" => ScopeChoice::Intrinsic,
        "trace" => ScopeChoice::Trace,
        other => match TagScope::ATTRIBUTES.iter().find(|s| s.as_str() == other) {
            Some(scope) => ScopeChoice::Attribute(*scope),
            None => return Err(TagRequestError::InvalidScope(other.to_string())),
        },
    })
}

/// The window to read blocks in: only when both ends are set, as Tempo's tag sharder. The
/// width is checked against `max_window` whether or not both ends are set, as Tempo does.
fn window(
    start: u32,
    end: u32,
    max_window: Option<Duration>,
) -> Result<Option<(u64, u64)>, TagRequestError> {
    // Tempo subtracts as uint32: an end before the start wraps to a huge range.
    let width = Duration::from_secs(u64::from(end.wrapping_sub(start)));
    if let Some(max) = max_window
        && width > max
    {
        let max = HumanDuration(max).to_go_string();
        return Err(TagRequestError::RangeTooLong { max, start, end });
    }
    if start == 0 || end == 0 {
        return Ok(None);
    }
    let nanos = |seconds: u32| u64::from(seconds) * 1_000_000_000;
    Ok(Some((nanos(start), nanos(end) + 999_999_999)))
}

/// A v2 tag name as a field reference: `{<tag>}` must parse to a filter holding exactly one
/// reference (Tempo wraps the name the same way, hence `col 2` for its first character).
pub(crate) fn parse_identifier(tag: &str) -> Result<FieldRef, TagRequestError> {
    let invalid = |reason: String| TagRequestError::InvalidTagName { tag: tag.to_string(), reason };
    let query = parse(&format!("{{{tag}}}")).map_err(|error| invalid(error.to_string()))?;
    match first_filter(&query) {
        Some(FieldExpr::Ref(field)) if query_is_one_filter(&query) => Ok(field.clone()),
        _ => Err(invalid("expected an attribute or intrinsic".to_string())),
    }
}

/// The filter of `q`: `None` when `q` is empty, invalid, not a filter, or trivially true.
fn filter_of(q: &str) -> Result<Option<Query>, TagRequestError> {
    let q = q.trim();
    if q.is_empty() {
        return Ok(None);
    }
    let Ok(query) = parse_and_validate(q) else {
        return Ok(None);
    };
    let Some(expr) = first_filter(&query) else {
        return Ok(None);
    };
    if matches!(expr, FieldExpr::Static(Static::Bool(true))) {
        return Ok(None);
    }
    if condition_groups(expr) > MAX_CONDITION_GROUPS {
        return Err(TagRequestError::TooManyConditionGroups);
    }
    let stage = Stage::Spanset(SpansetExpr::Filter(expr.clone()));
    Ok(Some(Query { body: Body::Search(Pipeline { stages: vec![stage] }), hints: Vec::new() }))
}

/// The expression of the query's first stage when that stage is a `{…}` filter.
fn first_filter(query: &Query) -> Option<&FieldExpr> {
    let Body::Search(pipeline) = &query.body else { return None };
    match pipeline.stages.first()? {
        Stage::Spanset(SpansetExpr::Filter(expr)) => Some(expr),
        _ => None,
    }
}

fn query_is_one_filter(query: &Query) -> bool {
    matches!(&query.body, Body::Search(pipeline) if pipeline.stages.len() == 1)
        && query.hints.is_empty()
}

/// How many AND-groups the filter has once its ORs are distributed (`a || b` is 2,
/// `(a || b) && (c || d)` is 4), saturating.
fn condition_groups(expr: &FieldExpr) -> u64 {
    match expr {
        FieldExpr::Binary { op: BinaryOp::Or, lhs, rhs } => {
            condition_groups(lhs).saturating_add(condition_groups(rhs))
        }
        FieldExpr::Binary { op: BinaryOp::And, lhs, rhs } => {
            condition_groups(lhs).saturating_mul(condition_groups(rhs))
        }
        _ => 1,
    }
}

#[cfg(test)]
#[path = "tag_request_tests.rs"]
mod tests;
