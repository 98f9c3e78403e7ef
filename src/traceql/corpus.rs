//! Conformance corpora: files of queries grouped by expected outcome, and the check behind
//! `spanlake traceql check FILE`.
//!
//! Format: `# ` lines are comments, `## name` opens a category, every other non-empty line is
//! one query, with `\n`, `\t` and `\r` standing for a newline, tab and carriage return.
//! Categories: `valid` (parses and validates), `parse_fails`, `validate_fails` (an ordinary
//! validation error) and `unsupported` (the "not yet supported" error); `dump` is listed and
//! not checked.

use std::fmt::{self, Display, Formatter};

use super::{QueryError, parse_and_validate};

/// What happened to one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Valid,
    ParseFails,
    ValidateFails,
    Unsupported,
}

impl Outcome {
    fn of_category(name: &str) -> Option<Outcome> {
        Some(match name {
            "valid" => Outcome::Valid,
            "parse_fails" => Outcome::ParseFails,
            "validate_fails" => Outcome::ValidateFails,
            "unsupported" => Outcome::Unsupported,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::ParseFails => "parse_fails",
            Outcome::ValidateFails => "validate_fails",
            Outcome::Unsupported => "unsupported",
        }
    }
}

/// Runs one query through the front end: its outcome and the error text, if any.
pub fn classify(query: &str) -> (Outcome, Option<String>) {
    match parse_and_validate(query) {
        Ok(_) => (Outcome::Valid, None),
        Err(e @ QueryError::Parse(_)) => (Outcome::ParseFails, Some(e.to_string())),
        Err(e) if e.is_unsupported() => (Outcome::Unsupported, Some(e.to_string())),
        Err(e) => (Outcome::ValidateFails, Some(e.to_string())),
    }
}

/// One query whose outcome differs from its category.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// 1-based line in the corpus file.
    pub line: usize,
    pub query: String,
    pub got: Outcome,
    pub message: Option<String>,
}

/// The result for one category.
#[derive(Debug, Clone)]
pub struct CategoryReport {
    pub name: String,
    /// `None` for categories that are listed but not checked (`dump`).
    pub expected: Option<Outcome>,
    pub total: usize,
    pub passed: usize,
    pub mismatches: Vec<Mismatch>,
}

/// The result for a whole corpus.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub categories: Vec<CategoryReport>,
    /// Lines that could not be understood (a query before any category, an unknown category).
    pub problems: Vec<String>,
}

impl Report {
    /// True when every checked query behaved as its category says and the file was well formed.
    pub fn is_success(&self) -> bool {
        self.problems.is_empty() && self.categories.iter().all(|c| c.mismatches.is_empty())
    }
}

/// Checks every query of a corpus.
pub fn check(text: &str) -> Report {
    let mut report = Report::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim_end_matches('\r');
        if let Some(name) = trimmed.strip_prefix("## ") {
            let name = name.trim().to_string();
            let expected = Outcome::of_category(&name);
            if expected.is_none() && name != "dump" {
                report.problems.push(format!("line {line}: unknown category `{name}`"));
            }
            report.categories.push(CategoryReport {
                name,
                expected,
                total: 0,
                passed: 0,
                mismatches: Vec::new(),
            });
            continue;
        }
        if trimmed.starts_with("# ") || trimmed == "#" || trimmed.trim().is_empty() {
            continue;
        }
        let Some(category) = report.categories.last_mut() else {
            report.problems.push(format!("line {line}: a query before any `## category` line"));
            continue;
        };
        let query = decode(trimmed);
        category.total += 1;
        let Some(expected) = category.expected else {
            continue;
        };
        let (got, message) = classify(&query);
        if got == expected {
            category.passed += 1;
        } else {
            category.mismatches.push(Mismatch { line, query, got, message });
        }
    }
    report
}

/// Turns the two-character sequences `\n`, `\t`, `\r` into the characters they stand for.
fn decode(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let replacement = match (c, chars.peek()) {
            ('\\', Some('n')) => Some('\n'),
            ('\\', Some('t')) => Some('\t'),
            ('\\', Some('r')) => Some('\r'),
            _ => None,
        };
        match replacement {
            Some(r) => {
                chars.next();
                out.push(r);
            }
            None => out.push(c),
        }
    }
    out
}

impl Display for Report {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<16} {:>8} {:>8}  result", "category", "passed", "total")?;
        for c in &self.categories {
            let result = match (c.expected, c.mismatches.is_empty()) {
                (None, _) => "not checked",
                (Some(_), true) => "ok",
                (Some(_), false) => "MISMATCH",
            };
            writeln!(f, "{:<16} {:>8} {:>8}  {result}", c.name, c.passed, c.total)?;
        }
        for c in &self.categories {
            for m in &c.mismatches {
                writeln!(
                    f,
                    "line {}: expected {}, got {}: {}{}",
                    m.line,
                    c.name,
                    m.got.name(),
                    m.query.escape_debug(),
                    m.message.as_ref().map(|msg| format!("\n    {msg}")).unwrap_or_default()
                )?;
            }
        }
        for p in &self.problems {
            writeln!(f, "{p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_lists_mismatches_per_category() {
        let text = "# a comment\n## valid\n{ .a = 1 }\n{ .a = }\n\n## parse_fails\n{ .a = }\n\
                    ## validate_fails\n{ 1 = \"x\" }\n## unsupported\n{ parent.a = 1 }\n## dump\n";
        let report = check(text);
        let summary: Vec<_> =
            report.categories.iter().map(|c| (c.name.as_str(), c.passed, c.total)).collect();
        assert_eq!(
            summary,
            [
                ("valid", 1, 2),
                ("parse_fails", 1, 1),
                ("validate_fails", 1, 1),
                ("unsupported", 1, 1),
                ("dump", 0, 0)
            ]
        );
        assert!(!report.is_success());
        let m = &report.categories[0].mismatches[0];
        assert_eq!((m.line, m.got), (4, Outcome::ParseFails));
        assert!(report.to_string().contains("line 4: expected valid, got parse_fails"));
    }

    #[test]
    fn escapes_stand_for_control_characters() {
        assert_eq!(decode(r#"{ ."a\tb" = "x\ny" }"#), "{ .\"a\tb\" = \"x\ny\" }");
        assert_eq!(decode(r#"{ ."a\\b" }"#), r#"{ ."a\\b" }"#);
    }

    #[test]
    fn unknown_categories_and_orphan_queries_are_problems() {
        let report = check("{ true }\n## weird\n{ true }\n");
        assert_eq!(report.problems.len(), 2);
        assert!(!report.is_success());
    }
}
