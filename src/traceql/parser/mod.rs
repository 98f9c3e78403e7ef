//! The TraceQL parser: tokens → [`Query`], recursive descent with precedence climbing.
//!
//! The grammar (`../shared/traceql.md` §2) has four kinds of body that can all start with
//! `(`: a search pipeline, a metrics expression, a chain of parenthesised pipelines joined by
//! spanset operators, and a comparison of pipelines. Each is tried in turn over the token
//! list (backtracking is cheap: a query is a few dozen tokens) and each must reach the end
//! of the query; at most one can. When none does, the error reported is the one that got
//! furthest into the query, which is where the user's mistake is.
//!
//! Constant sub-expressions are folded as they are built (`value.rs`), as Tempo does.

mod field;
mod metrics;
mod pipeline;

use super::ast::{Hint, Query, Static};
use super::error::ParseError;
use super::lexer::lex;
use super::token::{Keyword, Tok, Token};

/// Parses one query.
pub(crate) fn parse(src: &str) -> Result<Query, ParseError> {
    let tokens = lex(src).map_err(|e| ParseError::new(src, e.span, e.message))?;
    let mut parser = Parser { src, tokens, pos: 0, furthest: None };
    match parser.query() {
        Ok(q) => Ok(q),
        Err(Fail) => Err(parser.error()),
    }
}

/// A failed attempt; the reason is kept in `Parser::furthest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fail;

pub(super) type PResult<T> = Result<T, Fail>;

pub(super) struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    /// The failure furthest into the token list: (token index, message).
    furthest: Option<(usize, String)>,
}

impl Parser<'_> {
    fn query(&mut self) -> PResult<Query> {
        for alternative in 0..4 {
            self.pos = 0;
            let body = match alternative {
                0 => self.search_or_metrics_body(),
                1 => self.metrics_math_body(),
                2 => self.chain_body(),
                _ => self.pipeline_compare_body(),
            };
            let Ok(body) = body else {
                continue;
            };
            if let Ok(hints) = self.hints_then_end() {
                return Ok(Query { body, hints });
            }
        }
        Err(Fail)
    }

    /// Zero or more `with(…)` clauses (the last one wins), then the end of the query.
    fn hints_then_end(&mut self) -> PResult<Vec<Hint>> {
        let mut hints = Vec::new();
        while self.peek_keyword(Keyword::With) {
            self.advance();
            self.expect(&Tok::LParen, "`(` after `with`")?;
            hints.clear();
            loop {
                hints.push(self.hint()?);
                if !self.eat(&Tok::Comma) {
                    break;
                }
            }
            self.expect(&Tok::RParen, "`)` or `,` in `with(…)`")?;
        }
        if self.pos < self.tokens.len() {
            return self.fail("unexpected {found}: expected the end of the query");
        }
        Ok(hints)
    }

    fn hint(&mut self) -> PResult<Hint> {
        let Some(Tok::Ident(name)) = self.peek().cloned() else {
            return self.fail("expected a hint name, found {found}");
        };
        self.advance();
        self.expect(&Tok::Eq, "`=` after the hint name")?;
        let value = match self.peek() {
            Some(Tok::Ident(_)) => self.named_constant()?,
            _ => match self.literal() {
                Some(s) => {
                    self.advance();
                    s
                }
                None => return self.fail("expected a literal value for the hint, found {found}"),
            },
        };
        Ok(Hint { name, value })
    }

    /// `minInt` or `maxInt`; any other bare word is an error.
    fn named_constant(&mut self) -> PResult<Static> {
        let value = match self.peek() {
            Some(Tok::Ident(name)) if name == "minInt" => Static::Int(i64::MIN),
            Some(Tok::Ident(name)) if name == "maxInt" => Static::Int(i64::MAX),
            Some(Tok::Ident(name)) => {
                let message = format!("unknown identifier: {name}");
                return self.fail(&message);
            }
            _ => return self.fail("expected a value, found {found}"),
        };
        self.advance();
        Ok(value)
    }

    /// The literal at the cursor, if it is one (not consumed). Bare words are not literals.
    fn literal(&self) -> Option<Static> {
        use super::ast::{Kind, Status};
        Some(match self.peek()? {
            Tok::Str(s) => Static::Str(s.clone()),
            Tok::Int(i) => Static::Int(*i),
            Tok::Float(f) => Static::Float(*f),
            Tok::Duration(d) => Static::Duration(*d),
            Tok::Keyword(k) => match k {
                Keyword::True => Static::Bool(true),
                Keyword::False => Static::Bool(false),
                Keyword::Ok => Static::Status(Status::Ok),
                Keyword::Error => Static::Status(Status::Error),
                Keyword::Unset => Static::Status(Status::Unset),
                Keyword::Unspecified => Static::Kind(Kind::Unspecified),
                Keyword::Internal => Static::Kind(Kind::Internal),
                Keyword::Server => Static::Kind(Kind::Server),
                Keyword::Client => Static::Kind(Kind::Client),
                Keyword::Producer => Static::Kind(Kind::Producer),
                Keyword::Consumer => Static::Kind(Kind::Consumer),
                _ => return None,
            },
            _ => return None,
        })
    }

    // ---- cursor ----

    pub(super) fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos).map(|t| &t.tok)
    }

    pub(super) fn peek_at(&self, ahead: usize) -> Option<&Tok> {
        self.tokens.get(self.pos + ahead).map(|t| &t.tok)
    }

    pub(super) fn peek_keyword(&self, k: Keyword) -> bool {
        self.peek() == Some(&Tok::Keyword(k))
    }

    pub(super) fn advance(&mut self) {
        self.pos += 1;
    }

    /// Consumes `tok` if it is next.
    pub(super) fn eat(&mut self, tok: &Tok) -> bool {
        if self.peek() == Some(tok) {
            self.advance();
            true
        } else {
            false
        }
    }

    /// Consumes `tok` or fails with "expected {what}".
    pub(super) fn expect(&mut self, tok: &Tok, what: &str) -> PResult<()> {
        if self.eat(tok) { Ok(()) } else { self.fail(&format!("expected {what}, found {{found}}")) }
    }

    /// Records a failure at the cursor. `{found}` in the message is replaced by a
    /// description of the token there.
    pub(super) fn fail<T>(&mut self, message: &str) -> PResult<T> {
        self.fail_at(self.pos, message)
    }

    /// Records a failure at token `at`.
    pub(super) fn fail_at<T>(&mut self, at: usize, message: &str) -> PResult<T> {
        if self.furthest.as_ref().is_none_or(|(pos, _)| at > *pos) {
            let found = describe(self.tokens.get(at).map(|t| &t.tok));
            self.furthest = Some((at, message.replace("{found}", &found)));
        }
        Err(Fail)
    }

    /// Runs `f`; on failure puts the cursor back where it was.
    pub(super) fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let start = self.pos;
        let result = f(self);
        if result.is_err() {
            self.pos = start;
        }
        result
    }

    fn error(&self) -> ParseError {
        let (at, message) =
            self.furthest.clone().unwrap_or((self.pos, "invalid query".to_string()));
        let span = match self.tokens.get(at) {
            Some(t) => t.span.clone(),
            None => self.src.len()..self.src.len(),
        };
        ParseError::new(self.src, span, message)
    }
}

/// How a token is named in an error message.
fn describe(tok: Option<&Tok>) -> String {
    let Some(tok) = tok else {
        return "the end of the query".to_string();
    };
    let text = match tok {
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::Comma => ",",
        Tok::Eq => "=",
        Tok::Neq => "!=",
        Tok::Re => "=~",
        Tok::Nre => "!~",
        Tok::Gt => ">",
        Tok::Gte => ">=",
        Tok::Lt => "<",
        Tok::Lte => "<=",
        Tok::Add => "+",
        Tok::Sub => "-",
        Tok::Mul => "*",
        Tok::Div => "/",
        Tok::Mod => "%",
        Tok::Pow => "^",
        Tok::And => "&&",
        Tok::Or => "||",
        Tok::Not => "!",
        Tok::Pipe => "|",
        Tok::Desc => ">>",
        Tok::Ance => "<<",
        Tok::Sibl => "~",
        Tok::NotChild => "!>",
        Tok::NotParent => "!<",
        Tok::NotDesc => "!>>",
        Tok::NotAnce => "!<<",
        Tok::UnionChild => "&>",
        Tok::UnionParent => "&<",
        Tok::UnionDesc => "&>>",
        Tok::UnionAnce => "&<<",
        Tok::UnionSibl => "&~",
        Tok::Str(s) => return format!("string {s:?}"),
        Tok::Int(i) => return format!("number {i}"),
        Tok::Float(f) => return format!("number {f}"),
        Tok::Duration(_) => return "a duration".to_string(),
        Tok::Keyword(k) => return format!("`{}`", k.as_str()),
        Tok::Ident(name) => return format!("identifier `{name}`"),
        Tok::ScopeColon(_) => return "a scoped intrinsic".to_string(),
        Tok::Attribute { name, .. } => return format!("attribute `{name}`"),
    };
    format!("`{text}`")
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

#[cfg(test)]
#[path = "roundtrip_tests.rs"]
mod roundtrip_tests;
