//! A small logfmt reader for the legacy `tags=` search parameter (`key=value key2="a b"`).
//!
//! The grammar is the one Tempo's decoder (go-logfmt) accepts, so the same inputs pass and
//! fail, with the same positions in the messages Tempo's tests show:
//!
//! ```text
//!  input   = line *( "\n" line )            a trailing "\r" on a line is dropped
//!  line    = *( blank / pair )              blank = any byte <= ' '
//!  pair    = key [ "=" [ value ] ]          a bare key or `key=` has the empty value
//!  key     = 1*( any byte > ' ' except "=" and '"' )
//!  value   = 1*( any byte > ' ' except "=" and '"' ) / quoted
//!  quoted  = '"' *( char / escape ) '"'     escapes: \" \\ \/ \' \b \f \n \r \t \uXXXX
//! ```
//!
//! Positions are 1-based byte offsets in their line, as in Tempo's `at pos N`.

use std::fmt;

/// Why a logfmt text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LogfmtError {
    /// A `=` or `"` where it cannot be: a key starting with `=`, a `"` in a key, a second
    /// `=` or a `"` inside an unquoted value.
    #[error("unexpected {found:?} at {at}")]
    Unexpected {
        /// The byte found.
        found: char,
        /// Where.
        at: Position,
    },
    /// A quoted value without its closing quote.
    #[error("unterminated quoted value at {at}")]
    Unterminated {
        /// Just past the end of the line.
        at: Position,
    },
    /// A backslash not followed by one of the known escapes.
    #[error("invalid escape {sequence} in quoted value at {at}")]
    InvalidEscape {
        /// The sequence as written (`\x`, `\u12`).
        sequence: String,
        /// Where its backslash is.
        at: Position,
    },
}

/// Where in the text a problem is: line (from 1) and byte in the line (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Byte in the line, from 1.
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tempo's messages name only the position; a line is added when there are several.
        if self.line == 1 {
            write!(f, "pos {}", self.column)
        } else {
            write!(f, "pos {} of line {}", self.column, self.line)
        }
    }
}

/// Reads every `key=value` pair, in written order (duplicates kept: the caller decides).
pub(crate) fn parse_logfmt(text: &str) -> Result<Vec<(String, String)>, LogfmtError> {
    let mut pairs = Vec::new();
    for (index, raw_line) in text.split('\n').enumerate() {
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        LineReader { line: line.as_bytes(), number: index + 1, pos: 0 }.read_pairs(&mut pairs)?;
    }
    Ok(pairs)
}

/// One line being read; `pos` is the 0-based byte offset of the next unread byte.
struct LineReader<'a> {
    line: &'a [u8],
    number: usize,
    pos: usize,
}

fn is_blank(byte: u8) -> bool {
    byte <= b' '
}

impl LineReader<'_> {
    fn read_pairs(&mut self, pairs: &mut Vec<(String, String)>) -> Result<(), LogfmtError> {
        loop {
            while self.peek().is_some_and(is_blank) {
                self.pos += 1;
            }
            if self.peek().is_none() {
                return Ok(());
            }
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.value()?
            } else {
                String::new()
            };
            pairs.push((key, value));
        }
    }

    fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }

    /// The text of `line[from..to]`. The line came from a `&str` cut at ASCII bytes, so any
    /// range this reader makes (cut at ASCII bytes too) is valid UTF-8.
    fn text(&self, from: usize, to: usize) -> String {
        String::from_utf8_lossy(self.line.get(from..to).unwrap_or_default()).into_owned()
    }

    fn at(&self, offset: usize) -> Position {
        Position { line: self.number, column: offset + 1 }
    }

    fn unexpected(&self) -> LogfmtError {
        let found = self.peek().map_or('?', char::from);
        LogfmtError::Unexpected { found, at: self.at(self.pos) }
    }

    /// A key: up to `=`, a blank or the end of the line.
    fn key(&mut self) -> Result<String, LogfmtError> {
        let start = self.pos;
        while let Some(byte) = self.peek() {
            match byte {
                b'=' if self.pos == start => return Err(self.unexpected()),
                b'"' => return Err(self.unexpected()),
                b'=' => break,
                _ if is_blank(byte) => break,
                _ => self.pos += 1,
            }
        }
        Ok(self.text(start, self.pos))
    }

    /// What follows `=`: nothing, a quoted value or a plain one.
    fn value(&mut self) -> Result<String, LogfmtError> {
        match self.peek() {
            None => Ok(String::new()),
            Some(byte) if is_blank(byte) => Ok(String::new()),
            Some(b'"') => self.quoted_value(),
            Some(_) => {
                let start = self.pos;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'=' | b'"' => return Err(self.unexpected()),
                        _ if is_blank(byte) => break,
                        _ => self.pos += 1,
                    }
                }
                Ok(self.text(start, self.pos))
            }
        }
    }

    /// A `"…"` value, its escapes decoded; `self.pos` is on the opening quote.
    fn quoted_value(&mut self) -> Result<String, LogfmtError> {
        self.pos += 1;
        let mut value: Vec<u8> = Vec::new();
        loop {
            let Some(byte) = self.peek() else {
                return Err(LogfmtError::Unterminated { at: self.at(self.line.len()) });
            };
            match byte {
                b'"' => {
                    self.pos += 1;
                    // Escapes only add whole characters, so the bytes stay UTF-8.
                    return Ok(String::from_utf8_lossy(&value).into_owned());
                }
                b'\\' => self.escape(&mut value)?,
                // Bytes of multi-byte characters never equal `"` or `\`: copied as they are.
                _ => {
                    value.push(byte);
                    self.pos += 1;
                }
            }
        }
    }

    /// Decodes the escape whose backslash is at `self.pos` into `out`.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), LogfmtError> {
        let backslash = self.pos;
        let Some(kind) = self.line.get(backslash + 1).copied() else {
            return Err(LogfmtError::Unterminated { at: self.at(self.line.len()) });
        };
        let simple = match kind {
            b'"' | b'\\' | b'/' | b'\'' => Some(kind),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            self.pos = backslash + 2;
            return Ok(());
        }
        let Some(unit) = (kind == b'u').then(|| self.hex4(backslash + 2)).flatten() else {
            return Err(self.invalid_escape(backslash));
        };
        self.pos = backslash + 6;
        let decoded = if (0xD800..0xDC00).contains(&unit) {
            // A high surrogate: with a low one after it, the pair is one character.
            let low = (self.line.get(self.pos..self.pos + 2) == Some(b"\\u".as_slice()))
                .then(|| self.hex4(self.pos + 2))
                .flatten()
                .filter(|low| (0xDC00..0xE000).contains(low));
            match low {
                Some(low) => {
                    self.pos += 6;
                    char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                }
                None => None,
            }
        } else {
            char::from_u32(unit)
        };
        // A lone surrogate becomes U+FFFD, as in Go.
        let character = decoded.unwrap_or(char::REPLACEMENT_CHARACTER);
        out.extend_from_slice(character.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }

    /// Four hex digits at `from`, if there are.
    fn hex4(&self, from: usize) -> Option<u32> {
        let digits = self.line.get(from..from + 4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }

    /// The escape at `backslash` is not one we know: name it as written (`\x`, `\u12`).
    fn invalid_escape(&self, backslash: usize) -> LogfmtError {
        // The line is valid UTF-8 and the backslash is ASCII, so what follows it is too.
        let after = std::str::from_utf8(self.line.get(backslash + 1..).unwrap_or_default())
            .unwrap_or_default();
        let mut sequence = String::from("\\");
        if let Some(kind) = after.chars().next() {
            sequence.push(kind);
            if kind == 'u' {
                sequence.extend(after.chars().skip(1).take(4).take_while(char::is_ascii_hexdigit));
            }
        }
        LogfmtError::InvalidEscape { sequence, at: self.at(backslash) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse_logfmt(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    fn error(text: &str) -> String {
        match parse_logfmt(text) {
            Ok(pairs) => panic!("{text:?} should fail, gave {pairs:?}"),
            Err(error) => error.to_string(),
        }
    }

    fn owned(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_plain_quoted_empty_and_bare_pairs() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "service.name=foo http.url=api/search",
                &[("service.name", "foo"), ("http.url", "api/search")],
            ),
            ("service%n@me=foo", &[("service%n@me", "foo")]),
            ("service.name=foo error", &[("service.name", "foo"), ("error", "")]),
            ("a= b=", &[("a", ""), ("b", "")]),
            (r#"service.name="foo bar""#, &[("service.name", "foo bar")]),
            (r#"service.name="foo=bar""#, &[("service.name", "foo=bar")]),
            (r#"a="""#, &[("a", "")]),
            (r#"a="x"b=y"#, &[("a", "x"), ("b", "y")]),
            ("  \t a=1  \r\n\n b=2 ", &[("a", "1"), ("b", "2")]),
            ("name=café ünï=ç", &[("name", "café"), ("ünï", "ç")]),
            ("", &[]),
            ("   ", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(pairs(text), owned(expected), "{text:?}");
        }
    }

    #[test]
    fn decodes_escapes_in_quoted_values() {
        let cases = [
            (r#"a="foo \"bar\"""#, "foo \"bar\""),
            (r#"a="foo\bar""#, "foo\u{8}ar"),
            (r#"a="back\\slash""#, "back\\slash"),
            (r#"a="\/\'\f\n\r\t""#, "/'\u{c}\n\r\t"),
            (r#"a="\u00e9t\u00E9""#, "été"),
            (r#"a="\ud83d\ude00""#, "😀"),
            (r#"a="\ud83d x""#, "\u{fffd} x"),
        ];
        for (text, expected) in cases {
            assert_eq!(pairs(text), owned(&[("a", expected)]), "{text:?}");
        }
    }

    #[test]
    fn malformed_input_names_the_problem_and_where() {
        // The first four are Tempo's own test cases, with Tempo's positions.
        let cases = [
            ("service.name=foo =error", "unexpected '=' at pos 18"),
            ("service.name=foo=bar", "unexpected '=' at pos 17"),
            ("service.name=\"foo bar", "unterminated quoted value at pos 22"),
            ("\"service name\"=foo", "unexpected '\"' at pos 1"),
            ("a=b\"c", "unexpected '\"' at pos 4"),
            ("a=1\nb=2 =", "unexpected '=' at pos 5 of line 2"),
            (r#"a="\x41""#, r"invalid escape \x in quoted value at pos 4"),
            (r#"a="\u12""#, r"invalid escape \u12 in quoted value at pos 4"),
            (r#"a="\é""#, r"invalid escape \é in quoted value at pos 4"),
            (r#"a="ends \"#, "unterminated quoted value at pos 10"),
        ];
        for (text, expected) in cases {
            assert_eq!(error(text), expected, "{text:?}");
        }
    }
}
