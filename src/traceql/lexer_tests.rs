//! Tests for the TraceQL lexer.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

/// Token kinds only.
fn toks(src: &str) -> Vec<Tok> {
    match lex(src) {
        Ok(tokens) => tokens.into_iter().map(|t| t.tok).collect(),
        Err(e) => panic!("lex({src:?}) failed: {e} at {:?}", e.span),
    }
}

/// The single token `src` lexes to.
fn one(src: &str) -> Tok {
    let mut all = toks(src);
    assert_eq!(all.len(), 1, "{src:?} gave {all:?}");
    all.remove(0)
}

fn err(src: &str) -> LexError {
    match lex(src) {
        Ok(tokens) => panic!("lex({src:?}) succeeded: {tokens:?}"),
        Err(e) => e,
    }
}

fn attr(scope: AttributeScope, name: &str) -> Tok {
    Tok::Attribute { scope, parent: false, name: name.to_owned() }
}

fn parent_attr(scope: AttributeScope, name: &str) -> Tok {
    Tok::Attribute { scope, parent: true, name: name.to_owned() }
}

fn dot(name: &str) -> Tok {
    attr(AttributeScope::None, name)
}

fn ident(word: &str) -> Tok {
    Tok::Ident(word.to_owned())
}

fn string(value: &str) -> Tok {
    Tok::Str(value.to_owned())
}

fn kw(word: &str) -> Tok {
    Tok::Keyword(Keyword::lookup(word).unwrap())
}

const MS: i64 = 1_000_000;
const S: i64 = 1_000 * MS;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
const D: i64 = 24 * H;

// ----- operators ---------------------------------------------------------------------------

#[test]
fn every_operator() {
    let cases = [
        ("{", Tok::LBrace),
        ("}", Tok::RBrace),
        ("(", Tok::LParen),
        (")", Tok::RParen),
        (",", Tok::Comma),
        ("=", Tok::Eq),
        ("!=", Tok::Neq),
        ("=~", Tok::Re),
        ("!~", Tok::Nre),
        (">", Tok::Gt),
        (">=", Tok::Gte),
        ("<", Tok::Lt),
        ("<=", Tok::Lte),
        ("+", Tok::Add),
        ("-", Tok::Sub),
        ("*", Tok::Mul),
        ("/", Tok::Div),
        ("%", Tok::Mod),
        ("^", Tok::Pow),
        ("&&", Tok::And),
        ("||", Tok::Or),
        ("!", Tok::Not),
        ("|", Tok::Pipe),
        (">>", Tok::Desc),
        ("<<", Tok::Ance),
        ("~", Tok::Sibl),
        ("!>", Tok::NotChild),
        ("!<", Tok::NotParent),
        ("!>>", Tok::NotDesc),
        ("!<<", Tok::NotAnce),
        ("&>", Tok::UnionChild),
        ("&<", Tok::UnionParent),
        ("&>>", Tok::UnionDesc),
        ("&<<", Tok::UnionAnce),
        ("&~", Tok::UnionSibl),
    ];
    for (src, tok) in cases {
        assert_eq!(one(src), tok, "{src:?}");
        let spaced = format!(" {src} ");
        let tokens = lex(&spaced).unwrap();
        assert_eq!(tokens[0].span, 1..1 + src.len(), "{src:?}");
    }
}

#[test]
fn operator_combinations() {
    assert_eq!(toks("=="), [Tok::Eq, Tok::Eq]);
    assert_eq!(toks("**"), [Tok::Mul, Tok::Mul]);
    assert_eq!(toks("! >"), [Tok::Not, Tok::Gt]);
    assert_eq!(toks(">>="), [Tok::Desc, Tok::Eq]);
    assert_eq!(toks("!>="), [Tok::NotChild, Tok::Eq]);
    assert_eq!(toks("!!"), [Tok::Not, Tok::Not]);
    assert_eq!(toks("&&&&"), [Tok::And, Tok::And]);
    assert_eq!(toks("|||"), [Tok::Or, Tok::Pipe]);
    assert_eq!(toks("}&&{"), [Tok::RBrace, Tok::And, Tok::LBrace]);
}

#[test]
fn lone_ampersand_is_an_error() {
    let e = err("&");
    assert_eq!(e.message, "unexpected character '&'");
    assert_eq!(e.span, 0..1);
    let e = err("{} & >");
    assert_eq!(e.message, "unexpected character '&'");
    assert_eq!(e.span, 3..4);
}

#[test]
fn unexpected_characters() {
    for (src, message, span) in [
        ("@", "unexpected character '@'", 0..1),
        ("{ # }", "unexpected character '#'", 2..3),
        ("'x'", "unexpected character '\\''", 0..1),
        ("a\u{a0}b", "unexpected character '\\u{a0}'", 1..3),
        (":", "unexpected character ':'", 0..1),
        ("$", "unexpected character '$'", 0..1),
        ("\u{1F600}", "unexpected character '\u{1F600}'", 0..4),
        ("\u{b}", "unexpected character '\\u{b}'", 0..1),
    ] {
        let e = err(src);
        assert_eq!(e.message, message, "{src:?}");
        assert_eq!(e.span, span, "{src:?}");
        assert_eq!(e.to_string(), message);
    }
}

// ----- whitespace and comments -------------------------------------------------------------

#[test]
fn whitespace() {
    assert_eq!(toks(""), []);
    assert_eq!(toks(" \t\r\n "), []);
    assert_eq!(toks("\t{\r\n}\n"), [Tok::LBrace, Tok::RBrace]);
}

#[test]
fn comments() {
    assert_eq!(toks("{ // hi } there\n }"), [Tok::LBrace, Tok::RBrace]);
    assert_eq!(toks("// only a comment"), []);
    assert_eq!(toks("{/* a } \n b */}"), [Tok::LBrace, Tok::RBrace]);
    assert_eq!(toks("1/**/2"), [Tok::Int(1), Tok::Int(2)]);
    assert_eq!(toks("/***/"), []);
    assert_eq!(toks("a / b"), [ident("a"), Tok::Div, ident("b")]);
    assert_eq!(toks("1 /* x */ / 2"), [Tok::Int(1), Tok::Div, Tok::Int(2)]);
    let tokens = lex("/* c */ {").unwrap();
    assert_eq!(tokens[0].span, 8..9);
}

#[test]
fn unterminated_comment() {
    let e = err("{ /* no end");
    assert_eq!(e.message, "unterminated comment");
    assert_eq!(e.span, 2..11);
    assert_eq!(err("/*/").message, "unterminated comment");
}

#[test]
fn slash_inside_attribute_is_part_of_the_name() {
    assert_eq!(toks(".a/b"), [dot("a/b")]);
    assert_eq!(toks(".a//b"), [dot("a//b")]);
    assert_eq!(toks(".a/*b*/ = 1"), [dot("a/*b*/"), Tok::Eq, Tok::Int(1)]);
    assert_eq!(toks(".a // c"), [dot("a")]);
}

// ----- words -------------------------------------------------------------------------------

#[test]
fn keywords_and_identifiers() {
    assert_eq!(one("status"), Tok::Keyword(Keyword::Status));
    assert_eq!(one("true"), Tok::Keyword(Keyword::True));
    assert_eq!(one("count_over_time"), Tok::Keyword(Keyword::CountOverTime));
    assert_eq!(one("traceID"), Tok::Keyword(Keyword::TraceId));
    assert_eq!(one("parent"), Tok::Keyword(Keyword::Parent));
    assert_eq!(one("Status"), ident("Status"));
    assert_eq!(one("TRUE"), ident("TRUE"));
    assert_eq!(one("minInt"), ident("minInt"));
    assert_eq!(one("maxInt"), ident("maxInt"));
    assert_eq!(one("_x1"), ident("_x1"));
    assert_eq!(one("héllo"), ident("héllo"));
    assert_eq!(one("日本"), ident("日本"));
    assert_eq!(one("a٣"), ident("a٣"));
    assert_eq!(one("span"), ident("span"));
    assert_eq!(one("trace"), ident("trace"));
    assert_eq!(toks("statuses"), [ident("statuses")]);
    assert_eq!(toks("x-y"), [ident("x"), Tok::Sub, ident("y")]);
}

#[test]
fn scope_colons() {
    let sc = Tok::ScopeColon;
    assert_eq!(toks("trace:id"), [sc(IntrinsicScope::Trace), kw("id")]);
    assert_eq!(toks("trace: duration"), [sc(IntrinsicScope::Trace), kw("duration")]);
    assert_eq!(toks("span:childCount"), [sc(IntrinsicScope::Span), kw("childCount")]);
    assert_eq!(toks("event:name"), [sc(IntrinsicScope::Event), kw("name")]);
    assert_eq!(toks("link:spanID"), [sc(IntrinsicScope::Link), kw("spanID")]);
    assert_eq!(
        toks("instrumentation:version"),
        [sc(IntrinsicScope::Instrumentation), kw("version")]
    );
    let tokens = lex("{ trace:rootName }").unwrap();
    assert_eq!(tokens[1].span, 2..8);
    assert_eq!(tokens[2].span, 8..16);
    // Not prefixes.
    assert_eq!(err("span :x").message, "unexpected character ':'");
    assert_eq!(err("resource:x").message, "unexpected character ':'");
    assert_eq!(err("parent:x").message, "unexpected character ':'");
    assert_eq!(toks("trace.x"), [ident("trace"), dot("x")]);
    assert_eq!(toks("spans.x"), [ident("spans"), dot("x")]);
}

// ----- attributes --------------------------------------------------------------------------

#[test]
fn scoped_attributes() {
    use AttributeScope as A;
    assert_eq!(one(".foo"), dot("foo"));
    assert_eq!(one("span.http.url"), attr(A::Span, "http.url"));
    assert_eq!(one("resource.service.name"), attr(A::Resource, "service.name"));
    assert_eq!(one("event.exception.message"), attr(A::Event, "exception.message"));
    assert_eq!(one("link.foo"), attr(A::Link, "foo"));
    assert_eq!(one("instrumentation.foo"), attr(A::Instrumentation, "foo"));
    assert_eq!(one("span.count"), attr(A::Span, "count"));
    assert_eq!(one("span.resource.foo"), attr(A::Span, "resource.foo"));
    assert_eq!(one(".span.foo"), dot("span.foo"));
    assert_eq!(one("span.5"), attr(A::Span, "5"));
    assert_eq!(one("..x"), dot(".x"));
}

#[test]
fn parent_attributes() {
    use AttributeScope as A;
    assert_eq!(one("parent.x"), parent_attr(A::None, "x"));
    assert_eq!(one("parent.span.x"), parent_attr(A::Span, "x"));
    assert_eq!(one("parent.resource.x"), parent_attr(A::Resource, "x"));
    assert_eq!(one("parent.span.resource.id"), parent_attr(A::Span, "resource.id"));
    assert_eq!(one("parent.event.x"), parent_attr(A::None, "event.x"));
    assert_eq!(one("parent.spans.x"), parent_attr(A::None, "spans.x"));
    assert_eq!(one("parent.span"), parent_attr(A::None, "span"));
    assert_eq!(one("parent.\"span\".x"), parent_attr(A::None, "span.x"));
    assert_eq!(err("parent.span.").message, "empty attribute name");
    assert_eq!(err("parent.resource. ").span, 0..16);
}

#[test]
fn attribute_name_characters() {
    for name in [
        "foo-bar", "foo+bar", "a/b", "k8s:pod", "a[0]", "it's", "x*y%z", "foo3", "a.b.c", "a.3",
        "😀", "ключ", "a\u{b5}", "a;b", "a?b", "a@b#c$", "a`b", "a_b",
    ] {
        assert_eq!(one(&format!(".{name}")), dot(name), "{name:?}");
    }
}

#[test]
fn attribute_name_terminators() {
    for end in [
        " ", "\t", "\n", "\r", "\u{b}", "\u{c}", "{", "}", "(", ")", "=", "~", "!", "<", ">", "&",
        "|", "^", ",", "\u{a0}", "\u{2003}", "\u{3000}",
    ] {
        let src = format!(".ab{end}");
        let tokens = lex(&src);
        let first = match tokens {
            Ok(t) => t[0].clone(),
            // a lone `&`, `\u{a0}` etc. fail afterwards; the name still ended
            Err(e) => {
                assert_eq!(e.span.start, 3, "{end:?}: {e}");
                continue;
            }
        };
        assert_eq!(first.tok, dot("ab"), "{end:?}");
        assert_eq!(first.span, 0..3, "{end:?}");
    }
}

#[test]
fn quoted_attribute_parts() {
    assert_eq!(one(".foo.\"bar baz\".x"), dot("foo.bar baz.x"));
    assert_eq!(one(".\"a\\\"b\""), dot("a\"b"));
    assert_eq!(one(".\"a\\\\b\""), dot("a\\b"));
    assert_eq!(one(".\"tab\there\""), dot("tab\there"));
    assert_eq!(one(".\"new\nline\""), dot("new\nline"));
    assert_eq!(one(".\"{ } = !\""), dot("{ } = !"));
    assert_eq!(one("span.\"a b\""), attr(AttributeScope::Span, "a b"));
    assert_eq!(one(".foo\"bar\"baz"), dot("foobarbaz"));
    assert_eq!(one(".\"😀 x\""), dot("😀 x"));
    assert_eq!(one(".\"\"x"), dot("x"));
    let tokens = lex("{ .\"a b\" = 1 }").unwrap();
    assert_eq!(tokens[1].span, 2..8);
}

#[test]
fn quoted_attribute_errors() {
    let e = err(".\"a\\nb\"");
    assert_eq!(e.message, "invalid escape sequence in attribute name");
    assert_eq!(e.span, 3..5);
    let e = err(".\"a\\é\"");
    assert_eq!(e.span, 3..6);
    let e = err(".\"a\\");
    assert_eq!(e.message, "invalid escape sequence in attribute name");
    assert_eq!(e.span, 3..4);
    let e = err("{ .\"abc }");
    assert_eq!(e.message, "unterminated quoted attribute name");
    assert_eq!(e.span, 3..9);
}

#[test]
fn empty_attribute_names() {
    for (src, span) in [
        ("{ . }", 2..3),
        ("{ span. }", 2..7),
        (". foo", 0..1),
        (".=", 0..1),
        (".", 0..1),
        ("parent.", 0..7),
        (".\"\"", 0..3),
        ("resource.\"\" = 1", 0..11),
    ] {
        let e = err(src);
        assert_eq!(e.message, "empty attribute name", "{src:?}");
        assert_eq!(e.span, span, "{src:?}");
    }
}

#[test]
fn lexing_resumes_after_attributes() {
    assert_eq!(toks(".a+1 = 2"), [dot("a+1"), Tok::Eq, Tok::Int(2)]);
    assert_eq!(toks(".a - 1"), [dot("a"), Tok::Sub, Tok::Int(1)]);
    assert_eq!(toks(".a=~\"x\""), [dot("a"), Tok::Re, string("x")]);
    assert_eq!(toks(".a!=.b"), [dot("a"), Tok::Neq, dot("b")]);
    assert_eq!(toks("(.a,.b)"), [Tok::LParen, dot("a"), Tok::Comma, dot("b"), Tok::RParen]);
}

// ----- numbers -----------------------------------------------------------------------------

#[test]
fn integers() {
    assert_eq!(one("0"), Tok::Int(0));
    assert_eq!(one("500"), Tok::Int(500));
    assert_eq!(one("010"), Tok::Int(10));
    assert_eq!(one("9223372036854775807"), Tok::Int(i64::MAX));
    assert_eq!(toks("-5"), [Tok::Sub, Tok::Int(5)]);
    assert_eq!(toks("0x1F"), [Tok::Int(0), ident("x1F")]);
    assert_eq!(toks("1_000"), [Tok::Int(1), ident("_000")]);
}

#[test]
fn integer_overflow() {
    let e = err("{ 100000000000000000000 }");
    assert_eq!(e.message, "integer 100000000000000000000 does not fit in 64 bits");
    assert_eq!(e.span, 2..23);
    assert!(lex("9223372036854775808").is_err());
}

#[test]
fn floats() {
    assert_eq!(one("1.5"), Tok::Float(1.5));
    assert_eq!(one(".5"), Tok::Float(0.5));
    assert_eq!(one("1."), Tok::Float(1.0));
    assert_eq!(one("1e3"), Tok::Float(1000.0));
    assert_eq!(one("2.5E-3"), Tok::Float(0.0025));
    assert_eq!(one("1e+3"), Tok::Float(1000.0));
    assert_eq!(one("1.e2"), Tok::Float(100.0));
    assert_eq!(one("0.1"), Tok::Float(0.1));
    assert_eq!(one("1e-400"), Tok::Float(0.0));
    assert_eq!(toks("1.5.5"), [Tok::Float(1.5), Tok::Float(0.5)]);
    assert_eq!(toks("1..5"), [Tok::Float(1.0), Tok::Float(0.5)]);
    assert_eq!(toks("1.x"), [Tok::Float(1.0), ident("x")]);
    assert_eq!(toks("1e3s"), [Tok::Float(1000.0), ident("s")]);
}

#[test]
fn bad_floats() {
    let e = err("1e400");
    assert_eq!(e.message, "number 1e400 is out of range for a 64-bit float");
    assert_eq!(e.span, 0..5);
    let e = err("x 1e");
    assert_eq!(e.message, "exponent has no digits in number 1e");
    assert_eq!(e.span, 2..4);
    assert!(lex("1e+").is_err());
    assert!(lex("2.5Ex").is_err());
}

// ----- durations ---------------------------------------------------------------------------

#[test]
fn durations() {
    for (src, ns) in [
        ("1s", S),
        ("1.5h", H + 30 * M),
        ("1h15m30.5s", H + 15 * M + 30 * S + S / 2),
        (".5s", S / 2),
        ("1d2h", D + 2 * H),
        ("1w", 7 * D),
        ("1y", 365 * D),
        ("90m", 90 * M),
        ("5ms", 5 * MS),
        ("100us", 100_000),
        ("3µs", 3_000),
        ("10ns", 10),
        ("0s", 0),
        ("1.s", S),
        ("1h1h", 2 * H),
        (".24h", 24 * H / 100),
    ] {
        assert_eq!(one(src), Tok::Duration(ns), "{src:?}");
        assert_eq!(lex(src).unwrap()[0].span, 0..src.len(), "{src:?}");
    }
}

#[test]
fn not_durations() {
    assert_eq!(toks("1.5d"), [Tok::Float(1.5), ident("d")]);
    assert_eq!(toks("2h1d"), [Tok::Int(2), ident("h1d")]);
    assert_eq!(toks("5 ms"), [Tok::Int(5), ident("ms")]);
    assert_eq!(toks("1s2"), [Tok::Int(1), ident("s2")]);
    assert_eq!(toks("1t"), [Tok::Int(1), ident("t")]);
    assert_eq!(toks("5m_x"), [Tok::Duration(5 * M), ident("_x")]);
    assert_eq!(toks("1s}"), [Tok::Duration(S), Tok::RBrace]);
    assert_eq!(toks("3µx"), [Tok::Int(3), ident("µx")]);
    // A duration too large for i64 falls back to the number, which is then too large too.
    let e = err("100000000000000000000s");
    assert_eq!(e.message, "integer 100000000000000000000 does not fit in 64 bits");
    assert_eq!(toks("300y"), [Tok::Int(300), ident("y")]);
}

// ----- strings -----------------------------------------------------------------------------

#[test]
fn plain_strings() {
    assert_eq!(one("\"cart\""), string("cart"));
    assert_eq!(one("\"\""), string(""));
    assert_eq!(one("\"it's { } // not a comment\""), string("it's { } // not a comment"));
    assert_eq!(one("\"é😀\""), string("é😀"));
    assert_eq!(one("\"a\rb\""), string("a\rb"));
}

#[test]
fn string_escapes() {
    assert_eq!(one(r#""\a\b\f\n\r\t\v\\\"""#), string("\u{7}\u{8}\u{c}\n\r\t\u{b}\\\""));
    assert_eq!(one(r#""\x41\x6a""#), string("Aj"));
    assert_eq!(one(r#""\101\060\000""#), string("A0\0"));
    assert_eq!(one(r#""\u00e9\u65E5""#), string("é日"));
    assert_eq!(one(r#""\U0001F600""#), string("😀"));
    assert_eq!(one(r#""\xc3\xa9""#), string("é"));
    assert_eq!(one(r#""\303\251""#), string("é"));
    assert_eq!(toks(r#""a\tb" "c""#), [string("a\tb"), string("c")]);
}

#[test]
fn bad_string_escapes() {
    for (src, message, span) in [
        (r#""\q""#, r"unknown escape sequence \q in string", 1..3),
        (r#""\'""#, r"unknown escape sequence \' in string", 1..3),
        (r#""ab\8""#, r"unknown escape sequence \8 in string", 3..5),
        (r#""\é""#, r"unknown escape sequence \é in string", 1..4),
        (r#""\x4g""#, r"invalid escape sequence \x4 in string: expected 2 hex digits", 1..4),
        (r#""\12""#, r"invalid escape sequence \12 in string: expected 3 octal digits", 1..4),
        (r#""\u12""#, r"invalid escape sequence \u12 in string: expected 4 hex digits", 1..5),
        (
            r#""\U0001F60""#,
            r"invalid escape sequence \U0001F60 in string: expected 8 hex digits",
            1..10,
        ),
        (r#""\400""#, r"octal escape \400 in string is above \377", 1..5),
        (r#""\ud800""#, r"escape sequence \ud800 in string is not a valid Unicode character", 1..7),
        (
            r#""\U00110000""#,
            r"escape sequence \U00110000 in string is not a valid Unicode character",
            1..11,
        ),
        (r#""\xff""#, "string literal is not valid UTF-8", 0..6),
        (r#""\xc3""#, "string literal is not valid UTF-8", 0..6),
    ] {
        let e = err(src);
        assert_eq!(e.message, message, "{src:?}");
        assert_eq!(e.span, span, "{src:?}");
    }
}

#[test]
fn unterminated_and_multiline_strings() {
    let e = err("{ \"abc");
    assert_eq!(e.message, "unterminated string");
    assert_eq!(e.span, 2..6);
    let e = err("\"abc\\");
    assert_eq!(e.message, "unterminated string");
    let e = err("\"ab\ncd\"");
    assert_eq!(e.message, "newline in string");
    assert_eq!(e.span, 0..3);
    let e = err("\"ab\\\ncd\"");
    assert_eq!(e.message, "newline in string");
}

#[test]
fn raw_strings() {
    assert_eq!(one("`a\\nb`"), string("a\\nb"));
    assert_eq!(one("`line1\nline2`"), string("line1\nline2"));
    assert_eq!(one("`a\r\nb\r`"), string("a\nb"));
    assert_eq!(one("`\"`"), string("\""));
    assert_eq!(one("``"), string(""));
    let tokens = lex("x `é` y").unwrap();
    assert_eq!(tokens[1].span, 2..6);
    let e = err("{ `abc");
    assert_eq!(e.message, "unterminated raw string");
    assert_eq!(e.span, 2..6);
}

// ----- whole queries and spans -------------------------------------------------------------

#[test]
fn typical_query() {
    let src = r#"{ span.http.status_code = 500 && resource.service.name = "cart" }"#;
    let tokens = lex(src).unwrap();
    let expected = [
        (Tok::LBrace, 0..1),
        (attr(AttributeScope::Span, "http.status_code"), 2..23),
        (Tok::Eq, 24..25),
        (Tok::Int(500), 26..29),
        (Tok::And, 30..32),
        (attr(AttributeScope::Resource, "service.name"), 33..54),
        (Tok::Eq, 55..56),
        (string("cart"), 57..63),
        (Tok::RBrace, 64..65),
    ];
    let got: Vec<_> = tokens.into_iter().map(|t| (t.tok, t.span)).collect();
    assert_eq!(got, expected);
}

#[test]
fn multibyte_spans() {
    let src = "{ .😀 = \"é\" && span.ключ > 3µs } | 日本";
    let tokens = lex(src).unwrap();
    let got: Vec<_> = tokens.iter().map(|t| (t.tok.clone(), &src[t.span.clone()])).collect();
    assert_eq!(
        got,
        [
            (Tok::LBrace, "{"),
            (dot("😀"), ".😀"),
            (Tok::Eq, "="),
            (string("é"), "\"é\""),
            (Tok::And, "&&"),
            (attr(AttributeScope::Span, "ключ"), "span.ключ"),
            (Tok::Gt, ">"),
            (Tok::Duration(3_000), "3µs"),
            (Tok::RBrace, "}"),
            (Tok::Pipe, "|"),
            (ident("日本"), "日本"),
        ]
    );
    let e = err("{ .é = 'x' }");
    assert_eq!(e.span, 8..9);
}

#[test]
fn pipeline_query() {
    assert_eq!(
        toks("{ } | count() > 2 | by(span.x) with(sample=true)"),
        [
            Tok::LBrace,
            Tok::RBrace,
            Tok::Pipe,
            kw("count"),
            Tok::LParen,
            Tok::RParen,
            Tok::Gt,
            Tok::Int(2),
            Tok::Pipe,
            kw("by"),
            Tok::LParen,
            attr(AttributeScope::Span, "x"),
            Tok::RParen,
            kw("with"),
            Tok::LParen,
            ident("sample"),
            Tok::Eq,
            kw("true"),
            Tok::RParen,
        ]
    );
}

/// Release-mode timing: `cargo test --release -- --ignored --nocapture lex_speed`.
#[test]
#[ignore]
fn lex_speed() {
    let src = r#"{ span.http.status_code = 500 && resource.service.name = "cart" }"#;
    let iterations = 100_000;
    let started = std::time::Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(lex(std::hint::black_box(src)).unwrap());
    }
    let per = started.elapsed() / iterations;
    println!("lex: {per:?} per query");
}

// ----- never panics ------------------------------------------------------------------------

/// Spans are in bounds, on char boundaries, ordered and non-overlapping.
fn check_spans(src: &str) {
    if let Ok(tokens) = lex(src) {
        let mut last_end = 0;
        for t in tokens {
            assert!(t.span.start >= last_end && t.span.start < t.span.end);
            assert!(src.get(t.span.clone()).is_some(), "{src:?} {:?}", t.span);
            last_end = t.span.end;
        }
    } else if let Err(e) = lex(src) {
        assert!(e.span.start <= e.span.end && src.get(e.span.clone()).is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_string(src in any::<String>()) {
        check_spans(&src);
    }

    #[test]
    fn never_panics_on_traceql_ish_text(
        src in r#"([{}()=!~<>&|^,.+*/%:"`\\ \t\n\r'_0-9eEnsuµmhdwyx-]|span\.|parent\.|resource\.|trace:|\\x|\\u|/\*|\*/|//|é|😀|\u{a0}){0,40}"#
    ) {
        check_spans(&src);
    }
}
