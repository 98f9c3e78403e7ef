//! String literals of the TraceQL lexer: `"…"` with Go's escapes (`\n`, `\x41`, `\101`,
//! `\u00e9`, …) and `` `…` `` raw strings.
//!
//! An escape may produce bytes that are not UTF-8 on their own (`\xff`), so a literal is
//! decoded to bytes first and checked as UTF-8 once complete.

use super::{LexError, Lexed, Lexer};
use crate::traceql::token::Tok;

impl Lexer<'_> {
    /// A `"…"` literal with Go escapes.
    pub(super) fn string(&mut self) -> Lexed<Tok> {
        let start = self.pos;
        self.pos += 1;
        let mut bytes: Vec<u8> = Vec::new();
        let mut plain_from = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return self.fail_to_end("unterminated string", start),
                Some(b'"') => break,
                Some(b'\n') => return self.fail("newline in string", start),
                Some(b'\\') => {
                    bytes.extend_from_slice(self.text(plain_from, self.pos).as_bytes());
                    self.escape(start, &mut bytes)?;
                    plain_from = self.pos;
                    escaped = true;
                }
                // UTF-8 continuation bytes never equal `"`, `\` or a newline.
                Some(_) => self.pos += 1,
            }
        }
        let tail = self.text(plain_from, self.pos);
        self.pos += 1;
        if !escaped {
            return Ok(Tok::Str(tail.to_owned()));
        }
        bytes.extend_from_slice(tail.as_bytes());
        String::from_utf8(bytes)
            .map(Tok::Str)
            .map_err(|_| LexError::new("string literal is not valid UTF-8", start..self.pos))
    }

    /// Decodes the escape sequence at `self.pos` (a backslash) into `out`. `literal` is
    /// where the string began, for the "unterminated" error.
    fn escape(&mut self, literal: usize, out: &mut Vec<u8>) -> Lexed<()> {
        let start = self.pos;
        let Some(c) = self.char_at(start + 1) else {
            return self.fail_to_end("unterminated string", literal);
        };
        if c == '\n' {
            return Err(LexError::new("newline in string", literal..start + 1));
        }
        self.pos = start + 1 + c.len_utf8();
        let byte = match c {
            'a' => 0x07,
            'b' => 0x08,
            'f' => 0x0c,
            'n' => b'\n',
            'r' => b'\r',
            't' => b'\t',
            'v' => 0x0b,
            '\\' | '"' => c as u8,
            'x' => self.escape_byte(start, 16, 2)?,
            '0'..='7' => {
                self.pos = start + 1;
                self.escape_byte(start, 8, 3)?
            }
            'u' => return self.escape_char(start, 4, out),
            'U' => return self.escape_char(start, 8, out),
            _ => return self.fail(format!("unknown escape sequence \\{c} in string"), start),
        };
        out.push(byte);
        Ok(())
    }

    /// Reads exactly `count` digits in `radix` for the escape that began at `start`.
    fn escape_digits(&mut self, start: usize, radix: u32, count: usize) -> Lexed<u32> {
        let mut value: u32 = 0;
        for _ in 0..count {
            let Some(digit) = self.peek().and_then(|b| char::from(b).to_digit(radix)) else {
                let kind = if radix == 8 { "octal" } else { "hex" };
                let seq = self.text(start, self.pos);
                let message = format!(
                    "invalid escape sequence {seq} in string: expected {count} {kind} digits"
                );
                return self.fail(message, start);
            };
            value = value.wrapping_mul(radix).wrapping_add(digit);
            self.pos += 1;
        }
        Ok(value)
    }

    /// `\xHH` or `\ooo`: one raw byte.
    fn escape_byte(&mut self, start: usize, radix: u32, count: usize) -> Lexed<u8> {
        let value = self.escape_digits(start, radix, count)?;
        match u8::try_from(value) {
            Ok(byte) => Ok(byte),
            Err(_) => {
                let seq = self.text(start, self.pos);
                self.fail(format!("octal escape {seq} in string is above \\377"), start)
            }
        }
    }

    /// `\uHHHH` or `\UHHHHHHHH`: one Unicode scalar value, appended as UTF-8.
    fn escape_char(&mut self, start: usize, count: usize, out: &mut Vec<u8>) -> Lexed<()> {
        let value = self.escape_digits(start, 16, count)?;
        let Some(c) = char::from_u32(value) else {
            let seq = self.text(start, self.pos);
            return self.fail(
                format!("escape sequence {seq} in string is not a valid Unicode character"),
                start,
            );
        };
        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }

    /// A `` `…` `` literal: no escapes, may span lines, carriage returns dropped.
    pub(super) fn raw_string(&mut self) -> Lexed<Tok> {
        let start = self.pos;
        let body_from = start + 1;
        let Some(len) = self.text(body_from, self.end()).find('`') else {
            return self.fail_to_end("unterminated raw string", start);
        };
        let body = self.text(body_from, body_from + len);
        self.pos = body_from + len + 1;
        let value = if body.contains('\r') {
            body.chars().filter(|&c| c != '\r').collect()
        } else {
            body.to_owned()
        };
        Ok(Tok::Str(value))
    }
}
