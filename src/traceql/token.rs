//! Tokens: what the lexer hands the parser, each with the byte span it came from.

use std::ops::Range;

use super::ast::{AttributeScope, IntrinsicScope};

/// One token and where it is in the query text (byte offsets).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Range<usize>,
}

/// The token kinds of TraceQL (`../shared/traceql.md` §1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    /// `=`
    Eq,
    /// `!=`
    Neq,
    /// `=~`
    Re,
    /// `!~` (regex mismatch, and the "not sibling" structural operator)
    Nre,
    /// `>` (greater, and "child")
    Gt,
    /// `>=`
    Gte,
    /// `<` (less, and "parent")
    Lt,
    /// `<=`
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `!`
    Not,
    /// `|`
    Pipe,
    /// `>>`
    Desc,
    /// `<<`
    Ance,
    /// `~`
    Sibl,
    /// `!>`
    NotChild,
    /// `!<`
    NotParent,
    /// `!>>`
    NotDesc,
    /// `!<<`
    NotAnce,
    /// `&>`
    UnionChild,
    /// `&<`
    UnionParent,
    /// `&>>`
    UnionDesc,
    /// `&<<`
    UnionAnce,
    /// `&~`
    UnionSibl,
    /// A string literal, escapes decoded.
    Str(String),
    /// A decimal integer that fits in i64 (no sign: minus is an operator).
    Int(i64),
    Float(f64),
    /// A duration literal, in nanoseconds.
    Duration(i64),
    /// A reserved word.
    Keyword(Keyword),
    /// A bare identifier that is not reserved (hint names, `minInt`, `maxInt`; elsewhere an
    /// "unknown identifier" parse error).
    Ident(String),
    /// `trace:`, `span:`, `event:`, `link:`, `instrumentation:` — the next token names the
    /// intrinsic (a space may follow the colon, as in Tempo).
    ScopeColon(IntrinsicScope),
    /// A whole attribute reference: scope prefix plus name, quoted parts decoded and glued.
    /// `parent: true` for `parent.x`, `parent.span.x`, `parent.resource.x`.
    Attribute {
        scope: AttributeScope,
        parent: bool,
        name: String,
    },
}

/// Reserved words. Spelling is exact and case-sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Keyword {
    True,
    False,
    Nil,
    // status and kind literals
    Ok,
    Error,
    Unset,
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
    // intrinsic words
    Duration,
    ChildCount,
    Name,
    Status,
    StatusMessage,
    Kind,
    RootName,
    RootServiceName,
    RootService,
    TraceDuration,
    NestedSetLeft,
    NestedSetRight,
    NestedSetParent,
    Id,
    TraceId,
    SpanId,
    ParentId,
    TimeSinceStart,
    Version,
    Parent,
    // aggregates and pipeline words
    Count,
    Avg,
    Max,
    Min,
    Sum,
    By,
    Coalesce,
    Select,
    // metrics
    Rate,
    CountOverTime,
    MinOverTime,
    MaxOverTime,
    AvgOverTime,
    SumOverTime,
    QuantileOverTime,
    HistogramOverTime,
    Compare,
    Topk,
    Bottomk,
    With,
}

impl Keyword {
    /// The keyword spelled exactly `word`, if it is one.
    pub(crate) fn lookup(word: &str) -> Option<Keyword> {
        Some(match word {
            "true" => Keyword::True,
            "false" => Keyword::False,
            "nil" => Keyword::Nil,
            "ok" => Keyword::Ok,
            "error" => Keyword::Error,
            "unset" => Keyword::Unset,
            "unspecified" => Keyword::Unspecified,
            "internal" => Keyword::Internal,
            "server" => Keyword::Server,
            "client" => Keyword::Client,
            "producer" => Keyword::Producer,
            "consumer" => Keyword::Consumer,
            "duration" => Keyword::Duration,
            "childCount" => Keyword::ChildCount,
            "name" => Keyword::Name,
            "status" => Keyword::Status,
            "statusMessage" => Keyword::StatusMessage,
            "kind" => Keyword::Kind,
            "rootName" => Keyword::RootName,
            "rootServiceName" => Keyword::RootServiceName,
            "rootService" => Keyword::RootService,
            "traceDuration" => Keyword::TraceDuration,
            "nestedSetLeft" => Keyword::NestedSetLeft,
            "nestedSetRight" => Keyword::NestedSetRight,
            "nestedSetParent" => Keyword::NestedSetParent,
            "id" => Keyword::Id,
            "traceID" => Keyword::TraceId,
            "spanID" => Keyword::SpanId,
            "parentID" => Keyword::ParentId,
            "timeSinceStart" => Keyword::TimeSinceStart,
            "version" => Keyword::Version,
            "parent" => Keyword::Parent,
            "count" => Keyword::Count,
            "avg" => Keyword::Avg,
            "max" => Keyword::Max,
            "min" => Keyword::Min,
            "sum" => Keyword::Sum,
            "by" => Keyword::By,
            "coalesce" => Keyword::Coalesce,
            "select" => Keyword::Select,
            "rate" => Keyword::Rate,
            "count_over_time" => Keyword::CountOverTime,
            "min_over_time" => Keyword::MinOverTime,
            "max_over_time" => Keyword::MaxOverTime,
            "avg_over_time" => Keyword::AvgOverTime,
            "sum_over_time" => Keyword::SumOverTime,
            "quantile_over_time" => Keyword::QuantileOverTime,
            "histogram_over_time" => Keyword::HistogramOverTime,
            "compare" => Keyword::Compare,
            "topk" => Keyword::Topk,
            "bottomk" => Keyword::Bottomk,
            "with" => Keyword::With,
            _ => return None,
        })
    }

    /// How the keyword is written.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Keyword::True => "true",
            Keyword::False => "false",
            Keyword::Nil => "nil",
            Keyword::Ok => "ok",
            Keyword::Error => "error",
            Keyword::Unset => "unset",
            Keyword::Unspecified => "unspecified",
            Keyword::Internal => "internal",
            Keyword::Server => "server",
            Keyword::Client => "client",
            Keyword::Producer => "producer",
            Keyword::Consumer => "consumer",
            Keyword::Duration => "duration",
            Keyword::ChildCount => "childCount",
            Keyword::Name => "name",
            Keyword::Status => "status",
            Keyword::StatusMessage => "statusMessage",
            Keyword::Kind => "kind",
            Keyword::RootName => "rootName",
            Keyword::RootServiceName => "rootServiceName",
            Keyword::RootService => "rootService",
            Keyword::TraceDuration => "traceDuration",
            Keyword::NestedSetLeft => "nestedSetLeft",
            Keyword::NestedSetRight => "nestedSetRight",
            Keyword::NestedSetParent => "nestedSetParent",
            Keyword::Id => "id",
            Keyword::TraceId => "traceID",
            Keyword::SpanId => "spanID",
            Keyword::ParentId => "parentID",
            Keyword::TimeSinceStart => "timeSinceStart",
            Keyword::Version => "version",
            Keyword::Parent => "parent",
            Keyword::Count => "count",
            Keyword::Avg => "avg",
            Keyword::Max => "max",
            Keyword::Min => "min",
            Keyword::Sum => "sum",
            Keyword::By => "by",
            Keyword::Coalesce => "coalesce",
            Keyword::Select => "select",
            Keyword::Rate => "rate",
            Keyword::CountOverTime => "count_over_time",
            Keyword::MinOverTime => "min_over_time",
            Keyword::MaxOverTime => "max_over_time",
            Keyword::AvgOverTime => "avg_over_time",
            Keyword::SumOverTime => "sum_over_time",
            Keyword::QuantileOverTime => "quantile_over_time",
            Keyword::HistogramOverTime => "histogram_over_time",
            Keyword::Compare => "compare",
            Keyword::Topk => "topk",
            Keyword::Bottomk => "bottomk",
            Keyword::With => "with",
        }
    }
}
