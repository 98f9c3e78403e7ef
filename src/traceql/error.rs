//! Errors of the TraceQL front end: where parsing failed, and why a query was rejected.

use std::ops::Range;

use super::validate::ValidateError;

/// The query text is not TraceQL. Says what and where: line and column (1-based, columns
/// counted in characters) for people, the byte span for the API.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("parse error at line {line}, col {col}: {message}")]
pub struct ParseError {
    pub message: String,
    /// Byte range of the offending text (empty at the end of the query).
    pub span: Range<usize>,
    pub line: usize,
    pub col: usize,
}

impl ParseError {
    /// An error about `span` of `src`.
    pub(crate) fn new(src: &str, span: Range<usize>, message: impl Into<String>) -> ParseError {
        let start = src.floor_char_boundary(span.start);
        let before = &src[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        ParseError { message: message.into(), span, line, col }
    }
}

/// Why a query was refused: it does not parse, it is invalid, or it uses a construct that
/// parses but is not supported.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Validate(#[from] ValidateError),
}

impl QueryError {
    /// True for constructs Tempo parses but does not support ("… not yet supported").
    pub fn is_unsupported(&self) -> bool {
        matches!(self, QueryError::Validate(ValidateError::Unsupported(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "{ .a = 1 }\n{ .é = @ }";
        let at = src.find('@').unwrap();
        let e = ParseError::new(src, at..at + 1, "unexpected character '@'");
        assert_eq!((e.line, e.col), (2, 8));
        assert_eq!(e.to_string(), "parse error at line 2, col 8: unexpected character '@'");
    }

    #[test]
    fn end_of_input_is_located_after_the_last_character() {
        let e = ParseError::new("{ .a", 4..4, "unexpected end of query");
        assert_eq!((e.line, e.col), (1, 5));
    }
}
