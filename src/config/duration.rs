//! [`HumanDuration`]: a [`Duration`] written the way Go (and so Tempo) writes
//! durations in config files: `"0s"`, `"100ms"`, `"5m"`, `"1h30m"`, `"1.5s"`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_MICRO: u128 = 1_000;
const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SEC: u128 = 1_000_000_000;
const NANOS_PER_MIN: u128 = 60 * NANOS_PER_SEC;
const NANOS_PER_HOUR: u128 = 60 * NANOS_PER_MIN;

/// Fraction digits kept when parsing; more cannot change a nanosecond count.
const MAX_FRACTION_DIGITS: usize = 18;

/// A duration that (de)serialises as a Go-style string.
///
/// Parsing accepts one or more `<number><unit>` terms, where the number may
/// have a fraction (`"1.5s"`) and the unit is one of `ns`, `us`, `µs`, `ms`,
/// `s`, `m`, `h` (`"1h30m"`); `"0"` alone means zero, as in Go. Negative
/// durations and numbers without a unit are rejected: YAML `push_timeout: 10`
/// is an error, not ten seconds (nor ten nanoseconds, as Go would read it).
///
/// Printing gives the shortest natural form: `"0s"`, `"100ms"`, `"5m"`,
/// `"1h30m"`, `"1.5s"` (Go's format without its zero components), and the
/// printed form always parses back to the same value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// Zero.
    pub const ZERO: Self = Self(Duration::ZERO);

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }

    /// The wrapped [`Duration`].
    pub const fn get(self) -> Duration {
        self.0
    }

    /// Whether this is zero.
    pub const fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The duration as Go's `time.Duration.String` writes it, zero components included
    /// from the largest unit down (`168h0m0s`, `1m30s`, `1.5s`, `100ms`): for messages that
    /// must read as Tempo's do.
    pub fn to_go_string(self) -> String {
        let total = self.0.as_nanos();
        if total < NANOS_PER_SEC {
            return format(self.0);
        }
        let hours = total / NANOS_PER_HOUR;
        let minutes = total % NANOS_PER_HOUR / NANOS_PER_MIN;
        let sub_minute = total % NANOS_PER_MIN;
        let mut out = String::new();
        if hours > 0 {
            out.push_str(&format!("{hours}h{minutes}m"));
        } else if minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        with_fraction(&mut out, sub_minute / NANOS_PER_SEC, sub_minute % NANOS_PER_SEC, 9);
        out.push('s');
        out
    }
}

impl From<Duration> for HumanDuration {
    fn from(d: Duration) -> Self {
        Self(d)
    }
}

impl From<HumanDuration> for Duration {
    fn from(d: HumanDuration) -> Self {
        d.0
    }
}

/// Why a duration string was rejected; the message quotes the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationParseError(String);

impl FromStr for HumanDuration {
    type Err = DurationParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(Self)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl DurationVisitor {
    fn bare_number<E: de::Error>(n: impl fmt::Display, is_zero: bool) -> Result<HumanDuration, E> {
        if is_zero {
            // Zero needs no unit (Go accepts "0" too).
            Ok(HumanDuration::ZERO)
        } else {
            Err(E::custom(format!(
                "bare number {n} is not a duration: add a unit, e.g. \"{n}s\" or \"{n}ms\""
            )))
        }
    }
}

impl Visitor<'_> for DurationVisitor {
    type Value = HumanDuration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"10s\", \"100ms\" or \"1h30m\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::bare_number(v, v == 0)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Self::bare_number(v, v == 0)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Self::bare_number(v, v == 0.0)
    }
}

/// Parses a Go-style duration string (see [`HumanDuration`]).
fn parse(input: &str) -> Result<Duration, DurationParseError> {
    let err = |what: &str| DurationParseError(format!("{what} {input:?}"));
    let mut s = input.strip_prefix('+').unwrap_or(input);
    if s.is_empty() {
        return Err(DurationParseError("empty duration".to_owned()));
    }
    if s.starts_with('-') {
        return Err(err("negative duration"));
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let is_digit_or_dot = |c: char| c.is_ascii_digit() || c == '.';
    if s.chars().all(is_digit_or_dot) {
        return Err(DurationParseError(format!(
            "duration {input:?} has no unit: write e.g. \"{s}s\" or \"{s}ms\" (units: ns, us, ms, s, m, h)"
        )));
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (int_part, rest) = s.split_at(int_end);
        s = rest;
        let mut frac_part = "";
        if let Some(rest) = s.strip_prefix('.') {
            let frac_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            (frac_part, s) = rest.split_at(frac_end);
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(err("invalid duration"));
        }
        let unit_end = s.find(is_digit_or_dot).unwrap_or(s.len());
        let (unit, rest) = s.split_at(unit_end);
        s = rest;
        let unit_nanos = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => NANOS_PER_MICRO,
            "ms" => NANOS_PER_MILLI,
            "s" => NANOS_PER_SEC,
            "m" => NANOS_PER_MIN,
            "h" => NANOS_PER_HOUR,
            "" => return Err(err("missing unit in duration")),
            other => {
                return Err(DurationParseError(format!(
                    "unknown unit {other:?} in duration {input:?} (units: ns, us, µs, ms, s, m, h)"
                )));
            }
        };
        let too_large = || err("duration too large:");
        let int: u128 =
            if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| too_large())? };
        let mut term = int.checked_mul(unit_nanos).ok_or_else(too_large)?;
        let frac_digits = &frac_part[..frac_part.len().min(MAX_FRACTION_DIGITS)];
        if !frac_digits.is_empty() {
            let frac: u128 = frac_digits.parse().map_err(|_| err("invalid duration"))?;
            let scale = 10u128.pow(u32::try_from(frac_digits.len()).map_err(|_| too_large())?);
            term = term.checked_add(frac * unit_nanos / scale).ok_or_else(too_large)?;
        }
        total = total.checked_add(term).ok_or_else(too_large)?;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC).map_err(|_| err("duration too large:"))?;
    // The remainder is below 10^9, so it fits.
    let nanos = u32::try_from(total % NANOS_PER_SEC).map_err(|_| err("invalid duration"))?;
    Ok(Duration::new(secs, nanos))
}

/// `whole` followed by `.frac` (zero-padded to `width`, trailing zeros cut) when
/// `frac` is not zero.
fn with_fraction(out: &mut String, whole: u128, frac: u128, width: usize) {
    out.push_str(&whole.to_string());
    if frac != 0 {
        let digits = format!("{frac:0width$}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

/// Formats like Go's `time.Duration.String`, leaving out zero components:
/// `5m` rather than `5m0s`, `1h30m` rather than `1h30m0s`.
fn format(d: Duration) -> String {
    let total = d.as_nanos();
    let mut out = String::new();
    if total == 0 {
        out.push_str("0s");
    } else if total < NANOS_PER_SEC {
        let (scale, width, unit) = if total < NANOS_PER_MICRO {
            (1, 0, "ns")
        } else if total < NANOS_PER_MILLI {
            (NANOS_PER_MICRO, 3, "µs")
        } else {
            (NANOS_PER_MILLI, 6, "ms")
        };
        with_fraction(&mut out, total / scale, total % scale, width);
        out.push_str(unit);
    } else {
        let hours = total / NANOS_PER_HOUR;
        let minutes = total % NANOS_PER_HOUR / NANOS_PER_MIN;
        let sub_minute = total % NANOS_PER_MIN;
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        if sub_minute > 0 {
            with_fraction(&mut out, sub_minute / NANOS_PER_SEC, sub_minute % NANOS_PER_SEC, 9);
            out.push('s');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Duration {
        s.parse::<HumanDuration>().unwrap().0
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, Duration)] = &[
            ("0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("+5s", Duration::from_secs(5)),
            ("1ns", Duration::from_nanos(1)),
            ("1500ns", Duration::from_nanos(1500)),
            ("7us", Duration::from_micros(7)),
            ("7µs", Duration::from_micros(7)),
            ("7μs", Duration::from_micros(7)),
            ("100ms", Duration::from_millis(100)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("2.s", Duration::from_secs(2)),
            ("5m", Duration::from_secs(300)),
            ("1h30m", Duration::from_secs(5400)),
            ("1h0m0s", Duration::from_secs(3600)),
            ("1m30.25s", Duration::from_millis(90_250)),
            ("2h45m10s100ms", Duration::from_millis(9_910_100)),
            ("0.000000001s", Duration::from_nanos(1)),
            ("1.0000000019s", Duration::from_nanos(1_000_000_001)),
            ("1.5h", Duration::from_secs(5400)),
        ];
        for (input, want) in cases {
            assert_eq!(d(input), *want, "parsing {input:?}");
        }
    }

    #[test]
    fn go_strings_keep_zero_components_as_go_does() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(120), "2m0s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(168 * 3600), "168h0m0s"),
            (Duration::from_millis(3_600_500), "1h0m0.5s"),
        ];
        for (duration, go) in cases {
            assert_eq!(HumanDuration(duration).to_go_string(), go, "{duration:?}");
        }
    }

    #[test]
    fn parse_errors_are_clear() {
        let cases: &[(&str, &str)] = &[
            ("", "empty duration"),
            ("10", "duration \"10\" has no unit"),
            ("1.5", "duration \"1.5\" has no unit"),
            ("-1s", "negative duration \"-1s\""),
            ("10sec", "unknown unit \"sec\" in duration \"10sec\""),
            ("10 s", "unknown unit \" s\""),
            ("s", "invalid duration \"s\""),
            ("1h.m", "invalid duration \"1h.m\""),
            ("abc", "invalid duration \"abc\""),
            ("99999999999999999999999h", "duration too large"),
            ("5124095576030432h", "duration too large"),
        ];
        for (input, want) in cases {
            let err = input.parse::<HumanDuration>().unwrap_err().to_string();
            assert!(err.contains(want), "{input:?}: got {err:?}, want {want:?}");
        }
    }

    #[test]
    fn print_table() {
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(1), "1ns"),
            (Duration::from_nanos(1500), "1.5µs"),
            (Duration::from_micros(250), "250µs"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_micros(1_500), "1.5ms"),
            (Duration::from_nanos(1_000_001), "1.000001ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(10), "10s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(300), "5m"),
            (Duration::from_secs(3600), "1h"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_secs(3605), "1h5s"),
            (Duration::from_millis(60_500), "1m0.5s"),
            (Duration::from_secs(100 * 3600), "100h"),
        ];
        for (duration, want) in cases {
            assert_eq!(HumanDuration(*duration).to_string(), *want);
        }
    }

    #[test]
    fn printed_form_parses_back() {
        let mut values = vec![Duration::MAX, Duration::new(u64::MAX, 0)];
        let mut n: u64 = 1;
        for _ in 0..64 {
            values.push(Duration::from_nanos(n));
            values.push(Duration::from_nanos(n.wrapping_mul(7) / 3 + 1));
            values.push(Duration::from_millis(n % 100_000_000));
            n = n.saturating_mul(3).saturating_add(1);
        }
        for value in values {
            let printed = HumanDuration(value).to_string();
            assert_eq!(d(&printed), value, "round trip of {printed:?}");
        }
    }

    #[test]
    fn serde_accepts_strings_and_zero_but_not_bare_numbers() {
        let ok: HumanDuration = serde_yaml_ng::from_str("\"1h30m\"").unwrap();
        assert_eq!(ok, HumanDuration::from_secs(5400));
        let zero: HumanDuration = serde_yaml_ng::from_str("0").unwrap();
        assert_eq!(zero, HumanDuration::ZERO);
        let err = serde_yaml_ng::from_str::<HumanDuration>("10").unwrap_err().to_string();
        assert!(err.contains("bare number 10 is not a duration"), "{err}");
        assert_eq!(serde_yaml_ng::to_string(&HumanDuration::from_millis(100)).unwrap(), "100ms\n");
    }
}
