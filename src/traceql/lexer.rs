//! The TraceQL lexer: query text in, [`Token`]s with byte spans out.
//!
//! It follows Tempo's lexer (Go's `text/scanner` plus TraceQL extras): Go-style comments,
//! identifiers, numbers and string literals, duration literals such as `1h30m`, and attribute
//! references such as `span.http.url` or `."name with spaces"`, which are read in one piece
//! because attribute names may contain characters that are operators elsewhere (`-`, `/`, …).
//!
//! The input is untrusted: every problem is a [`LexError`], never a panic. String literals
//! and their escapes are read in `lexer_string.rs`.

use std::ops::Range;

use super::ast::{AttributeScope, IntrinsicScope};
use super::duration::parse_duration;
use super::token::{Keyword, Tok, Token};

/// Why the query text could not be split into tokens, and where (byte span of the culprit).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct LexError {
    /// What was wrong, for the user.
    pub(crate) message: String,
    /// Byte range in the query text of the offending text.
    pub(crate) span: Range<usize>,
}

impl LexError {
    fn new(message: impl Into<String>, span: Range<usize>) -> Self {
        LexError { message: message.into(), span }
    }
}

/// Splits a TraceQL query into tokens. There is no end-of-input token: the vector just ends.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut tokens = Vec::with_capacity(src.len() / 4 + 4);
    while lexer.skip_trivia()? {
        let start = lexer.pos;
        let tok = lexer.token()?;
        tokens.push(Token { tok, span: start..lexer.pos });
    }
    Ok(tokens)
}

/// Lexing state: the whole text and the byte offset of the next unread character (always on
/// a character boundary).
struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

type Lexed<T> = Result<T, LexError>;

impl<'a> Lexer<'a> {
    fn byte_at(&self, at: usize) -> Option<u8> {
        self.src.as_bytes().get(at).copied()
    }

    fn peek(&self) -> Option<u8> {
        self.byte_at(self.pos)
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.src.get(at..)?.chars().next()
    }

    /// `src[from..to]`, or `""` if that is not a valid range (it always is).
    fn text(&self, from: usize, to: usize) -> &'a str {
        self.src.get(from..to).unwrap_or("")
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn end(&self) -> usize {
        self.src.len()
    }

    /// An error for the text from `from` up to the current position.
    fn fail<T>(&self, message: impl Into<String>, from: usize) -> Lexed<T> {
        Err(LexError::new(message, from..self.pos))
    }

    /// An error for the text from `from` to the end of the query.
    fn fail_to_end<T>(&self, message: &str, from: usize) -> Lexed<T> {
        Err(LexError::new(message, from..self.end()))
    }

    fn unexpected_char(&self) -> LexError {
        match self.char_at(self.pos) {
            Some(c) => LexError::new(
                format!("unexpected character {c:?}"),
                self.pos..self.pos + c.len_utf8(),
            ),
            None => LexError::new("unexpected end of query", self.pos..self.pos),
        }
    }

    /// Skips whitespace and comments; returns whether a token follows.
    fn skip_trivia(&mut self) -> Lexed<bool> {
        loop {
            match (self.peek(), self.byte_at(self.pos + 1)) {
                (None, _) => return Ok(false),
                (Some(b' ' | b'\t' | b'\n' | b'\r'), _) => self.pos += 1,
                (Some(b'/'), Some(b'/')) => {
                    self.pos = match self.rest().find('\n') {
                        Some(offset) => self.pos + offset,
                        None => self.end(),
                    };
                }
                (Some(b'/'), Some(b'*')) => self.skip_block_comment()?,
                (Some(_), _) => return Ok(true),
            }
        }
    }

    fn skip_block_comment(&mut self) -> Lexed<()> {
        let start = self.pos;
        let body = self.text(start + 2, self.end());
        let Some(offset) = body.find("*/") else {
            return self.fail_to_end("unterminated comment", start);
        };
        self.pos = start + 2 + offset + 2;
        Ok(())
    }

    /// Reads one token starting at `self.pos` (which is not whitespace or a comment).
    fn token(&mut self) -> Lexed<Tok> {
        let Some(b) = self.peek() else {
            return Err(self.unexpected_char());
        };
        match b {
            b'"' => self.string(),
            b'`' => self.raw_string(),
            b'0'..=b'9' => self.number(),
            b'.' if self.byte_at(self.pos + 1).is_some_and(|n| n.is_ascii_digit()) => self.number(),
            b'.' => {
                let start = self.pos;
                self.pos += 1;
                self.attribute(start, AttributeScope::None, false)
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => self.word(),
            _ if b.is_ascii() => self.operator(b),
            _ => match self.char_at(self.pos) {
                Some(c) if c.is_alphabetic() => self.word(),
                _ => Err(self.unexpected_char()),
            },
        }
    }

    /// Punctuation and operators, longest match first.
    fn operator(&mut self, first: u8) -> Lexed<Tok> {
        let second = self.byte_at(self.pos + 1);
        let third = self.byte_at(self.pos + 2);
        let (tok, len) = match (first, second, third) {
            (b'{', _, _) => (Tok::LBrace, 1),
            (b'}', _, _) => (Tok::RBrace, 1),
            (b'(', _, _) => (Tok::LParen, 1),
            (b')', _, _) => (Tok::RParen, 1),
            (b',', _, _) => (Tok::Comma, 1),
            (b'+', _, _) => (Tok::Add, 1),
            (b'-', _, _) => (Tok::Sub, 1),
            (b'*', _, _) => (Tok::Mul, 1),
            (b'/', _, _) => (Tok::Div, 1),
            (b'%', _, _) => (Tok::Mod, 1),
            (b'^', _, _) => (Tok::Pow, 1),
            (b'~', _, _) => (Tok::Sibl, 1),
            (b'=', Some(b'~'), _) => (Tok::Re, 2),
            (b'=', _, _) => (Tok::Eq, 1),
            (b'!', Some(b'='), _) => (Tok::Neq, 2),
            (b'!', Some(b'~'), _) => (Tok::Nre, 2),
            (b'!', Some(b'>'), Some(b'>')) => (Tok::NotDesc, 3),
            (b'!', Some(b'>'), _) => (Tok::NotChild, 2),
            (b'!', Some(b'<'), Some(b'<')) => (Tok::NotAnce, 3),
            (b'!', Some(b'<'), _) => (Tok::NotParent, 2),
            (b'!', _, _) => (Tok::Not, 1),
            (b'>', Some(b'>'), _) => (Tok::Desc, 2),
            (b'>', Some(b'='), _) => (Tok::Gte, 2),
            (b'>', _, _) => (Tok::Gt, 1),
            (b'<', Some(b'<'), _) => (Tok::Ance, 2),
            (b'<', Some(b'='), _) => (Tok::Lte, 2),
            (b'<', _, _) => (Tok::Lt, 1),
            (b'&', Some(b'&'), _) => (Tok::And, 2),
            (b'&', Some(b'>'), Some(b'>')) => (Tok::UnionDesc, 3),
            (b'&', Some(b'>'), _) => (Tok::UnionChild, 2),
            (b'&', Some(b'<'), Some(b'<')) => (Tok::UnionAnce, 3),
            (b'&', Some(b'<'), _) => (Tok::UnionParent, 2),
            (b'&', Some(b'~'), _) => (Tok::UnionSibl, 2),
            (b'|', Some(b'|'), _) => (Tok::Or, 2),
            (b'|', _, _) => (Tok::Pipe, 1),
            _ => return Err(self.unexpected_char()),
        };
        self.pos += len;
        Ok(tok)
    }

    /// An identifier, keyword, `scope.` attribute prefix or `scope:` intrinsic prefix.
    fn word(&mut self) -> Lexed<Tok> {
        let start = self.pos;
        self.pos = self.ident_end(start);
        let word = self.text(start, self.pos);
        let next = self.peek();
        if next == Some(b'.')
            && let Some((scope, parent)) = dot_scope(word)
        {
            self.pos += 1;
            return self.attribute(start, scope, parent);
        }
        if next == Some(b':')
            && let Some(scope) = colon_scope(word)
        {
            self.pos += 1;
            return Ok(Tok::ScopeColon(scope));
        }
        Ok(match Keyword::lookup(word) {
            Some(keyword) => Tok::Keyword(keyword),
            None => Tok::Ident(word.to_owned()),
        })
    }

    /// End of the identifier starting at `start`: letters, digits and `_`.
    fn ident_end(&self, start: usize) -> usize {
        let rest = self.text(start, self.end());
        start + rest.find(|c: char| !(c == '_' || c.is_alphanumeric())).unwrap_or(rest.len())
    }

    /// The name part of an attribute whose prefix (`.`, `span.`, `parent.`, …) began at
    /// `start` and has been consumed.
    fn attribute(&mut self, start: usize, scope: AttributeScope, parent: bool) -> Lexed<Tok> {
        let mut scope = scope;
        if parent {
            if self.rest().starts_with("span.") {
                scope = AttributeScope::Span;
                self.pos += "span.".len();
            } else if self.rest().starts_with("resource.") {
                scope = AttributeScope::Resource;
                self.pos += "resource.".len();
            }
        }
        let name = self.attribute_name()?;
        if name.is_empty() {
            return self.fail("empty attribute name", start);
        }
        Ok(Tok::Attribute { scope, parent, name })
    }

    /// Reads an attribute name: unquoted and `"quoted"` parts glued together, up to
    /// whitespace, the end, or a character that cannot be part of a name.
    fn attribute_name(&mut self) -> Lexed<String> {
        let mut name = String::new();
        let mut plain_from = self.pos;
        while let Some(b) = self.peek() {
            if b == b'"' {
                name.push_str(self.text(plain_from, self.pos));
                self.quoted_name_part(&mut name)?;
                plain_from = self.pos;
            } else if b.is_ascii() {
                if ends_attribute_name(b) {
                    break;
                }
                self.pos += 1;
            } else {
                match self.char_at(self.pos) {
                    Some(c) if !c.is_whitespace() => self.pos += c.len_utf8(),
                    _ => break,
                }
            }
        }
        name.push_str(self.text(plain_from, self.pos));
        Ok(name)
    }

    /// A `"…"` part of an attribute name; only `\"` and `\\` are escapes.
    fn quoted_name_part(&mut self, name: &mut String) -> Lexed<()> {
        let open = self.pos;
        self.pos += 1;
        let mut plain_from = self.pos;
        loop {
            match self.peek() {
                None => return self.fail_to_end("unterminated quoted attribute name", open),
                Some(b'"') => {
                    name.push_str(self.text(plain_from, self.pos));
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    name.push_str(self.text(plain_from, self.pos));
                    match self.byte_at(self.pos + 1) {
                        Some(escaped @ (b'"' | b'\\')) => name.push(char::from(escaped)),
                        _ => {
                            let len = self.char_at(self.pos + 1).map_or(0, char::len_utf8);
                            return Err(LexError::new(
                                "invalid escape sequence in attribute name",
                                self.pos..self.pos + 1 + len,
                            ));
                        }
                    }
                    self.pos += 2;
                    plain_from = self.pos;
                }
                // Stepping by bytes is fine: UTF-8 continuation bytes never equal `"` or `\`.
                Some(_) => self.pos += 1,
            }
        }
    }

    /// An integer, float or duration literal.
    fn number(&mut self) -> Lexed<Tok> {
        let start = self.pos;
        let is_float = self.scan_number()?;
        if let Some(ns) = self.duration_suffix(start) {
            return Ok(Tok::Duration(ns));
        }
        let text = self.text(start, self.pos);
        if is_float {
            match text.parse::<f64>() {
                Ok(value) if value.is_finite() => Ok(Tok::Float(value)),
                _ => self.fail(format!("number {text} is out of range for a 64-bit float"), start),
            }
        } else {
            match text.parse::<i64>() {
                Ok(value) => Ok(Tok::Int(value)),
                Err(_) => self.fail(format!("integer {text} does not fit in 64 bits"), start),
            }
        }
    }

    /// Consumes `digits [. digits] [(e|E) [+|-] digits]`; returns whether it is a float.
    fn scan_number(&mut self) -> Lexed<bool> {
        let start = self.pos;
        self.skip_digits();
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.skip_digits();
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                let text = self.text(start, self.pos);
                return self.fail(format!("exponent has no digits in number {text}"), start);
            }
            self.skip_digits();
            is_float = true;
        }
        Ok(is_float)
    }

    fn skip_digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    /// If the number that began at `start` and the duration-ish characters glued to it form
    /// a duration, consumes them and returns the nanoseconds.
    fn duration_suffix(&mut self, start: usize) -> Option<i64> {
        let durationish = |c: char| {
            matches!(c, '.' | 'n' | 's' | 'u' | 'µ' | 'm' | 'h' | 'd' | 'w' | 'y') || c.is_numeric()
        };
        let rest = self.rest();
        let end = self.pos + rest.find(|c: char| !durationish(c)).unwrap_or(rest.len());
        if end == self.pos {
            return None;
        }
        let ns = parse_duration(self.text(start, end))?;
        self.pos = end;
        Some(ns)
    }
}

/// ASCII characters that end an unquoted attribute name: whitespace and `{}()=~!<>&|^,`.
const NAME_ENDERS: &[u8] = b" \t\n\r\x0b\x0c{}()=~!<>&|^,";

/// Whether the ASCII byte `b` ends an unquoted attribute name (a lookup table).
fn ends_attribute_name(b: u8) -> bool {
    const TABLE: [bool; 128] = {
        let mut table = [false; 128];
        let mut i = 0;
        while i < NAME_ENDERS.len() {
            table[NAME_ENDERS[i] as usize] = true;
            i += 1;
        }
        table
    };
    TABLE.get(usize::from(b)).copied().unwrap_or(false)
}

/// Words that, directly followed by `.`, start an attribute: (scope, is `parent.`).
fn dot_scope(word: &str) -> Option<(AttributeScope, bool)> {
    Some(match word {
        "span" => (AttributeScope::Span, false),
        "resource" => (AttributeScope::Resource, false),
        "event" => (AttributeScope::Event, false),
        "link" => (AttributeScope::Link, false),
        "instrumentation" => (AttributeScope::Instrumentation, false),
        "parent" => (AttributeScope::None, true),
        _ => return None,
    })
}

/// Words that, directly followed by `:`, scope an intrinsic.
fn colon_scope(word: &str) -> Option<IntrinsicScope> {
    Some(match word {
        "trace" => IntrinsicScope::Trace,
        "span" => IntrinsicScope::Span,
        "event" => IntrinsicScope::Event,
        "link" => IntrinsicScope::Link,
        "instrumentation" => IntrinsicScope::Instrumentation,
        _ => return None,
    })
}

#[path = "lexer_string.rs"]
mod string;

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
