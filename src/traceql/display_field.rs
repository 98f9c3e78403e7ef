//! Printing field expressions, references and constants.

use std::fmt::{self, Display, Formatter, Write};

use super::super::ast::*;
use super::{format_duration, operand_parens, write_wrapped};

/// How tightly an expression binds when printed (§2.1): `&& ||` 2, comparisons and presence
/// tests 3, `+ -` and prefix `-` 4, prefix `!` 5, `* / %` 6, `^` 7, operands 10.
fn level(e: &FieldExpr) -> u8 {
    match e {
        FieldExpr::Static(s) if is_negative(s) => 4,
        FieldExpr::Static(_) | FieldExpr::Ref(_) => 10,
        FieldExpr::Binary { op, .. } => binary_level(*op).0,
        FieldExpr::Unary { op, .. } => match op {
            UnaryOp::Neg => 4,
            UnaryOp::Not => 5,
            UnaryOp::Exists | UnaryOp::NotExists => 3,
        },
    }
}

/// A negative constant prints with a leading `-`, which reads back as prefix minus.
fn is_negative(s: &Static) -> bool {
    match s {
        Static::Int(i) => *i < 0 && *i != i64::MIN,
        Static::Float(f) => f.is_sign_negative(),
        Static::Duration(d) => *d < 0,
        _ => false,
    }
}

fn binary_level(op: BinaryOp) -> (u8, bool) {
    use BinaryOp::*;
    match op {
        And | Or => (2, false),
        Eq | Neq | Lt | Lte | Gt | Gte | Regex | NotRegex => (3, false),
        Add | Sub => (4, false),
        Mul | Div | Mod => (6, false),
        Pow => (7, true),
    }
}

impl Display for FieldExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FieldExpr::Static(s) => write!(f, "{s}"),
            FieldExpr::Ref(r) => write!(f, "{r}"),
            FieldExpr::Binary { op, lhs, rhs } => {
                let (lvl, right) = binary_level(*op);
                let (pl, pr) = operand_parens(lvl, right, level(lhs), level(rhs));
                write_wrapped(f, pl, |f| write!(f, "{lhs}"))?;
                write!(f, " {op} ")?;
                write_wrapped(f, pr, |f| write!(f, "{rhs}"))
            }
            FieldExpr::Unary { op, expr } => match op {
                UnaryOp::Neg => {
                    f.write_char('-')?;
                    write_wrapped(f, level(expr) <= 4, |f| write!(f, "{expr}"))
                }
                UnaryOp::Not => {
                    f.write_char('!')?;
                    write_wrapped(f, level(expr) <= 5, |f| write!(f, "{expr}"))
                }
                UnaryOp::Exists | UnaryOp::NotExists => {
                    write_wrapped(f, level(expr) < 3, |f| write!(f, "{expr}"))?;
                    f.write_str(if *op == UnaryOp::Exists { " != nil" } else { " = nil" })
                }
            },
        }
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use BinaryOp::*;
        f.write_str(match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Eq => "=",
            Neq => "!=",
            Lt => "<",
            Lte => "<=",
            Gt => ">",
            Gte => ">=",
            Regex => "=~",
            NotRegex => "!~",
            And => "&&",
            Or => "||",
        })
    }
}

impl Display for UnaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "!",
            UnaryOp::Exists => "!= nil",
            UnaryOp::NotExists => "= nil",
        })
    }
}

impl Display for FieldRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FieldRef::Intrinsic(i) => write!(f, "{i}"),
            FieldRef::Attribute(a) => write!(f, "{a}"),
        }
    }
}

impl Display for Intrinsic {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use Intrinsic::*;
        f.write_str(match self {
            Duration => "duration",
            Name => "name",
            Status => "status",
            StatusMessage => "statusMessage",
            Kind => "kind",
            SpanId => "span:id",
            ParentId => "span:parentID",
            ChildCount => "span:childCount",
            Parent => "parent",
            TraceDuration => "traceDuration",
            TraceRootName => "rootName",
            TraceRootService => "rootServiceName",
            TraceId => "trace:id",
            EventName => "event:name",
            EventTimeSinceStart => "event:timeSinceStart",
            LinkTraceId => "link:traceID",
            LinkSpanId => "link:spanID",
            InstrumentationName => "instrumentation:name",
            InstrumentationVersion => "instrumentation:version",
            NestedSetLeft => "nestedSetLeft",
            NestedSetRight => "nestedSetRight",
            NestedSetParent => "nestedSetParent",
        })
    }
}

impl Display for Attribute {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.parent {
            f.write_str("parent.")?;
        }
        let prefix = match (self.scope, self.parent) {
            (AttributeScope::None, true) => "",
            (AttributeScope::None, false) => ".",
            (AttributeScope::Span, _) => "span.",
            (AttributeScope::Resource, _) => "resource.",
            (AttributeScope::Event, _) => "event.",
            (AttributeScope::Link, _) => "link.",
            (AttributeScope::Instrumentation, _) => "instrumentation.",
        };
        f.write_str(prefix)?;
        if needs_quotes(self) {
            f.write_char('"')?;
            for c in self.name.chars() {
                if c == '"' || c == '\\' {
                    f.write_char('\\')?;
                }
                f.write_char(c)?;
            }
            f.write_char('"')
        } else {
            f.write_str(&self.name)
        }
    }
}

/// Whether an attribute name must be quoted to read back the same.
fn needs_quotes(a: &Attribute) -> bool {
    let name = &a.name;
    let special = |c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '{' | '}'
                    | '('
                    | ')'
                    | '='
                    | '~'
                    | '!'
                    | '<'
                    | '>'
                    | '&'
                    | '|'
                    | '^'
                    | ','
                    | '"'
                    | '\\'
            )
    };
    name.is_empty()
        || name.chars().any(special)
        // `.5` is a number.
        || (a.scope == AttributeScope::None && !a.parent && name.starts_with(|c: char| c.is_ascii_digit()))
        // `parent.span.x` is a nested scope.
        || (a.parent && a.scope == AttributeScope::None && (name.starts_with("span.") || name.starts_with("resource.")))
}

impl Display for Static {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Static::Int(i64::MIN) => f.write_str("minInt"),
            Static::Int(i) => write!(f, "{i}"),
            // Debug keeps a `.` or an exponent, so the text reads back as a float.
            Static::Float(v) => write!(f, "{v:?}"),
            Static::Str(s) => write_string(f, s),
            Static::Bool(b) => write!(f, "{b}"),
            Static::Duration(d) if *d < 0 => write!(f, "-{}", format_duration(d.saturating_neg())),
            Static::Duration(d) => f.write_str(&format_duration(*d)),
            Static::Status(s) => f.write_str(match s {
                Status::Error => "error",
                Status::Ok => "ok",
                Status::Unset => "unset",
            }),
            Static::Kind(k) => f.write_str(match k {
                Kind::Unspecified => "unspecified",
                Kind::Internal => "internal",
                Kind::Server => "server",
                Kind::Client => "client",
                Kind::Producer => "producer",
                Kind::Consumer => "consumer",
            }),
        }
    }
}

fn write_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}
