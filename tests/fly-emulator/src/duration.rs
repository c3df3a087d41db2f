//! Go-style durations ("500ms", "1m30s", "1.5s"), the way fly-go marshals
//! `fly.Duration` in machine configs (check intervals, stop timeouts).
//!
//! fly-go decodes a `fly.Duration` from a JSON number (nanoseconds) or a
//! string parsed by Go's `time.ParseDuration`, and encodes it with
//! `Duration.String()` (fly-go `duration.go:13-15, 43-65`). [`parse_nanos`]
//! and [`format_go`] are those two halves, so the emulator can echo a
//! duration the way a Go server holding fly-go's types would.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// A duration that deserializes from a Go duration string or from a JSON
/// number of nanoseconds (Go's default encoding of `time.Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoDuration(pub Duration);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Nanos(u64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => parse(&text).map(GoDuration).map_err(de::Error::custom),
            Raw::Nanos(nanos) => Ok(GoDuration(Duration::from_nanos(nanos))),
        }
    }
}

/// Parses a non-negative Go duration string: a sequence of decimal numbers
/// with units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; plain `0` is allowed.
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}");
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// Go's `time.ParseDuration`: an optional sign, then decimal numbers with
/// units `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; plain `0` is allowed.
/// Returns nanoseconds (negative durations are valid Go durations).
pub fn parse_nanos(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(|| format!("time: missing unit in duration {text:?}"))?;
        let number = &rest[..number_len];
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per_unit: i128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        rest = &rest[unit_len..];
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(invalid());
        }
        let whole: i128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| invalid())? };
        let mut value = whole.checked_mul(nanos_per_unit).ok_or_else(invalid)?;
        let mut scale = nanos_per_unit;
        for digit in fraction.chars() {
            let digit = i128::from(digit.to_digit(10).ok_or_else(invalid)?);
            scale /= 10;
            value += digit * scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
    }
    let total = if negative { -total } else { total };
    i64::try_from(total).map_err(|_| invalid())
}

/// Go's `Duration.String()`: `"0s"`, `"1.5s"`, `"1m30s"`, `"5m0s"`,
/// `"1h0m0s"`, `"500ms"`, `"1.5µs"`, `"10ns"`.
pub fn format_go(nanos: i64) -> String {
    let negative = nanos < 0;
    let mut u = nanos.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (unit, precision) = match u {
            0 => return "0s".to_string(),
            1..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let (fraction, whole) = go_fraction(u, precision);
        format!("{whole}{fraction}{unit}")
    } else {
        let (fraction, whole_seconds) = go_fraction(u, 9);
        u = whole_seconds;
        let seconds = u % 60;
        u /= 60;
        let mut out = format!("{seconds}{fraction}s");
        if u > 0 {
            out = format!("{}m{out}", u % 60);
            u /= 60;
            if u > 0 {
                out = format!("{u}h{out}");
            }
        }
        out
    };
    if negative { format!("-{body}") } else { body }
}

/// Go's `fmtFrac`: the fraction of `value / 10^precision` without trailing
/// zeros (and without the point when it is zero), and the integer part.
fn go_fraction(value: u64, precision: u32) -> (String, u64) {
    let scale = 10u64.pow(precision);
    let fraction = value % scale;
    if fraction == 0 {
        return (String::new(), value / scale);
    }
    let digits = format!("{fraction:0width$}", width = precision as usize);
    (format!(".{}", digits.trim_end_matches('0')), value / scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (500_000_000, "500ms"),
            (1_500_000_000, "1.5s"),
            (10_000_000_000, "10s"),
            (90_000_000_000, "1m30s"),
            (300_000_000_000, "5m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (-2_000_000_000, "-2s"),
            (61_001_000_000, "1m1.001s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_go(nanos), text, "{nanos}");
            assert_eq!(parse_nanos(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn parses_what_go_parses() {
        assert_eq!(parse_nanos("90s"), Ok(90_000_000_000));
        assert_eq!(parse_nanos(".5s"), Ok(500_000_000));
        assert_eq!(parse_nanos("1h1m1s"), Ok(3_661_000_000_000));
        for bad in ["", "10", "1x", "s", ".s", "1s2", "--1s"] {
            assert!(parse_nanos(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_the_forms_fly_configs_use() {
        assert_eq!(parse("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("10us"), Ok(Duration::from_micros(10)));
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in ["", "10", "s", "1x", "-1s", "1s2", "abc"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn deserializes_strings_and_nanoseconds() {
        let text: GoDuration = serde_json::from_str("\"10s\"").unwrap();
        assert_eq!(text.0, Duration::from_secs(10));
        let nanos: GoDuration = serde_json::from_str("1000000").unwrap();
        assert_eq!(nanos.0, Duration::from_millis(1));
    }
}
