//! Go-style durations ("500ms", "1m30s", "1.5s"), the way fly-go marshals
//! `fly.Duration` in machine configs (check intervals, stop timeouts).

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
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
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

#[cfg(test)]
mod tests {
    use super::*;

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
