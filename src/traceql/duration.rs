//! Duration literals: reading them (`1h30m`, `1.5s`, `1d`) and writing them back.
//!
//! TraceQL accepts two spellings, tried in this order, just as Tempo does:
//!
//! 1. Prometheus style: whole numbers with units in the fixed order `y w d h m s ms`
//!    (`y` = 365 days, `w` = 7 days), for example `1d2h` or `90m`.
//! 2. Go `time.ParseDuration` style (no sign): decimal numbers, fractions allowed, with units
//!    `ns us µs ms s m h` in any order, for example `1.5h` or `1h15m30.5s`.
//!
//! All values are nanoseconds in an `i64`; anything that does not fit is rejected.

use std::fmt::Write as _;

// Nanoseconds in one of each unit.
const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const YEAR: u64 = 365 * DAY;

/// `2^63`: Go's parser lets intermediate values reach this before the final range check.
const TWO_POW_63: u64 = 1 << 63;

/// Parses a duration literal into nanoseconds, or `None` if it is not one (or does not fit
/// in an `i64`). See the module docs for the accepted forms.
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    parse_prometheus(text.as_bytes()).or_else(|| parse_go(text.as_bytes()))
}

/// Writes `ns` (which must not be negative) as a duration literal that [`parse_duration`]
/// reads back as exactly `ns`: `0s`, or the non-zero parts among `h m s ms us ns`.
pub(crate) fn format_duration(ns: i64) -> String {
    debug_assert!(ns >= 0, "format_duration called with negative {ns}");
    let mut out = String::new();
    if ns < 0 {
        // Only reachable in release builds; keep the sign rather than lie about the value.
        out.push('-');
    }
    let mut rest = ns.unsigned_abs();
    if rest == 0 {
        out.push_str("0s");
        return out;
    }
    for (name, size) in [("h", HOUR), ("m", MIN), ("s", SEC), ("ms", MS), ("us", US), ("ns", NS)] {
        let count = rest / size;
        rest %= size;
        if count > 0 {
            // Writing into a String cannot fail.
            let _ = write!(out, "{count}{name}");
        }
    }
    out
}

/// A Prometheus unit as (rank in the required order, nanoseconds).
fn prometheus_unit(unit: &[u8]) -> Option<(u8, u64)> {
    Some(match unit {
        b"y" => (1, YEAR),
        b"w" => (2, WEEK),
        b"d" => (3, DAY),
        b"h" => (4, HOUR),
        b"m" => (5, MIN),
        b"s" => (6, SEC),
        b"ms" => (7, MS),
        _ => return None,
    })
}

/// Go `time.ParseDuration` units (the micro sign is U+00B5 only).
fn go_unit(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"ns" => NS,
        b"us" | [0xc2, 0xb5, b's'] => US, // µs with U+00B5
        b"ms" => MS,
        b"s" => SEC,
        b"m" => MIN,
        b"h" => HOUR,
        _ => return None,
    })
}

/// Splits off the leading run of bytes for which `keep` holds.
fn split_while(s: &[u8], keep: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let end = s.iter().position(|&b| !keep(b)).unwrap_or(s.len());
    s.split_at(end)
}

/// `([0-9]+ unit)+` with units strictly in Prometheus order.
fn parse_prometheus(mut s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut last_rank = 0;
    while !s.is_empty() {
        let (digits, rest) = split_while(s, |b| b.is_ascii_digit());
        let (unit, rest) = split_while(rest, |b| !b.is_ascii_digit());
        s = rest;
        if digits.is_empty() {
            return None;
        }
        let (rank, size) = prometheus_unit(unit)?;
        if rank <= last_rank {
            return None;
        }
        last_rank = rank;
        let value = decimal_u64(digits)?;
        let part = i64::try_from(value.checked_mul(size)?).ok()?;
        total = total.checked_add(part)?;
    }
    Some(total)
}

/// Reads ASCII digits as a `u64`, `None` on overflow.
fn decimal_u64(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| acc.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// `(number unit)+` where number is `[0-9]*(\.[0-9]*)?` with at least one digit.
fn parse_go(mut s: &[u8]) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let (part, rest) = go_part(s)?;
        s = rest;
        total = total.checked_add(part)?;
        if total > TWO_POW_63 {
            return None;
        }
    }
    i64::try_from(total).ok()
}

/// One `number unit` pair of a Go duration: its nanoseconds and the remaining text.
fn go_part(s: &[u8]) -> Option<(u64, &[u8])> {
    let (int_digits, rest) = split_while(s, |b| b.is_ascii_digit());
    let (fraction, rest) = match rest.split_first() {
        Some((b'.', after_dot)) => {
            let (frac_digits, rest) = split_while(after_dot, |b| b.is_ascii_digit());
            (Some(frac_digits), rest)
        }
        _ => (None, rest),
    };
    if int_digits.is_empty() && fraction.is_none_or(|f| f.is_empty()) {
        return None;
    }
    let (unit, rest) = split_while(rest, |b| b != b'.' && !b.is_ascii_digit());
    let size = go_unit(unit)?;
    let whole = go_leading_int(int_digits)?;
    if whole > TWO_POW_63 / size {
        return None;
    }
    let mut nanos = whole * size;
    if let Some((numerator, scale)) = fraction.map(go_fraction)
        && numerator > 0
    {
        // Same float arithmetic as Go, so results match Tempo to the nanosecond.
        let extra = (numerator as f64 * (size as f64 / scale)) as u64;
        nanos = nanos.checked_add(extra)?;
        if nanos > TWO_POW_63 {
            return None;
        }
    }
    Some((nanos, rest))
}

/// The integer part of a Go duration number; `None` once it exceeds `2^63`.
fn go_leading_int(digits: &[u8]) -> Option<u64> {
    decimal_u64(digits).filter(|&v| v <= TWO_POW_63)
}

/// The fraction digits as (numerator, 10^digits used). Like Go, digits that would overflow
/// are dropped rather than rejected.
fn go_fraction(digits: &[u8]) -> (u64, f64) {
    let mut numerator: u64 = 0;
    let mut scale = 1.0;
    for &d in digits {
        let next = numerator
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .filter(|&v| v <= TWO_POW_63);
        match next {
            Some(v) => {
                numerator = v;
                scale *= 10.0;
            }
            None => break,
        }
    }
    (numerator, scale)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: i64 = 1_000_000_000;
    const M: i64 = 60 * S;
    const H: i64 = 60 * M;
    const D: i64 = 24 * H;

    fn p(text: &str) -> Option<i64> {
        parse_duration(text)
    }

    #[test]
    fn prometheus_style() {
        assert_eq!(p("1d2h"), Some(D + 2 * H));
        assert_eq!(p("1w"), Some(7 * D));
        assert_eq!(p("1y"), Some(365 * D));
        assert_eq!(p("90m"), Some(90 * M));
        assert_eq!(p("1h30m"), Some(H + 30 * M));
        assert_eq!(p("0s"), Some(0));
        assert_eq!(p("5ms"), Some(5_000_000));
        assert_eq!(
            p("1y2w3d4h5m6s7ms"),
            Some(365 * D + 14 * D + 3 * D + 4 * H + 5 * M + 6 * S + 7_000_000)
        );
        assert_eq!(p("1m500ms"), Some(M + 500_000_000));
    }

    #[test]
    fn go_style() {
        assert_eq!(p("1.5h"), Some(H + 30 * M));
        assert_eq!(p("1h15m30.5s"), Some(H + 15 * M + 30 * S + S / 2));
        assert_eq!(p(".5s"), Some(S / 2));
        assert_eq!(p("1.s"), Some(S));
        assert_eq!(p("1h1h"), Some(2 * H));
        assert_eq!(p("1s1h"), Some(H + S));
        assert_eq!(p("100us"), Some(100_000));
        assert_eq!(p("3µs"), Some(3_000));
        assert_eq!(p("10ns"), Some(10));
        assert_eq!(p("1h15m30.918273645s"), Some(H + 15 * M + 30 * S + 918_273_645));
        assert_eq!(p("0.0000000001s"), Some(0));
        // Extra fraction digits beyond what fits are ignored.
        assert_eq!(p("1.00000000000000000000000000001s"), Some(S));
    }

    #[test]
    fn rejected() {
        for text in [
            "", "5", "0", "1.5d", "2h1d", "1s2", "s", ".s", "1.5.5s", "1x", "1μs", "-1s", "+1s",
            "1 s", "1hh", "1h 2m", "1d1d", "1.5y",
        ] {
            assert_eq!(p(text), None, "{text:?}");
        }
    }

    #[test]
    fn overflow() {
        assert_eq!(p("9223372036854775807ns"), Some(i64::MAX));
        assert_eq!(p("9223372036854775808ns"), None);
        assert_eq!(p("2562047h47m16s854ms775us807ns"), Some(i64::MAX));
        assert_eq!(p("2562047h47m16s854ms775us808ns"), None);
        assert_eq!(p("2562048h"), None);
        assert_eq!(p("300y"), None);
        assert_eq!(p("100000000000000000000s"), None);
        assert_eq!(p("9223372036854775808ns9223372036854775808ns"), None);
    }

    #[test]
    fn format() {
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(H + 30 * M), "1h30m");
        assert_eq!(format_duration(2 * S), "2s");
        assert_eq!(format_duration(M + 500_000_000), "1m500ms");
        assert_eq!(format_duration(S + 1), "1s1ns");
        assert_eq!(format_duration(3 * D), "72h");
        assert_eq!(format_duration(i64::MAX), "2562047h47m16s854ms775us807ns");
    }

    proptest! {
        #[test]
        fn format_round_trips(n in 0..=i64::MAX) {
            prop_assert_eq!(parse_duration(&format_duration(n)), Some(n));
        }

        #[test]
        fn parse_never_panics(s in "[0-9.nsuµmhdwy]{0,30}") {
            let _ = parse_duration(&s);
        }
    }
}
