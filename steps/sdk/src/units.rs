//! Durations and sizes as fly.toml writes them.

/// Go's `time.ParseDuration` grammar: `"15s"`, `"1m30s"`, `"500ms"`, `"1.5h"`.
/// Returns whole milliseconds; `None` for anything else.
pub fn go_duration_ms(text: &str) -> Option<u64> {
    let ms = go_duration_ns_f64(text)? / 1e6;
    (ms.is_finite() && ms < u64::MAX as f64).then(|| ms.round() as u64)
}

/// [`go_duration_ms`] in nanoseconds: how two spellings of one duration
/// (`"90s"`, `"1m30s"`) compare equal.
pub fn go_duration_ns(text: &str) -> Option<u64> {
    let ns = go_duration_ns_f64(text)?;
    (ns.is_finite() && ns < u64::MAX as f64).then(|| ns.round() as u64)
}

fn go_duration_ns_f64(text: &str) -> Option<f64> {
    let s = text.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Some(0.0);
    }
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let mut rest = s;
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if number_len == 0 {
            return None;
        }
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let ns_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total_ns += number * ns_per;
    }
    (total_ns >= 0.0).then_some(total_ns)
}

/// A memory size in MB: a plain number is MB; `"512mb"`, `"1gb"`, `"2GB"`,
/// `"1gib"` carry units (binary: 1gb = 1024mb), as flyctl's `ParseSize`.
pub fn size_mb(text: &str) -> Option<u64> {
    let s = text.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let number: f64 = s[..split].trim().parse().ok()?;
    let factor = match s[split..].trim() {
        "" | "m" | "mb" | "mib" => 1.0,
        "k" | "kb" | "kib" => 1.0 / 1024.0,
        "g" | "gb" | "gib" => 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0,
        _ => return None,
    };
    let mb = number * factor;
    (mb.is_finite() && mb >= 0.0 && mb < u64::MAX as f64).then(|| mb.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_ms("15s"), Some(15_000));
        assert_eq!(go_duration_ms("1m30s"), Some(90_000));
        assert_eq!(go_duration_ms("500ms"), Some(500));
        assert_eq!(go_duration_ms("1.5h"), Some(5_400_000));
        assert_eq!(go_duration_ms("0"), Some(0));
        assert_eq!(go_duration_ms("10"), None, "a bare number needs a unit in Go");
        assert_eq!(go_duration_ms("5 s"), None);
        assert_eq!(go_duration_ms("-5s"), None);
        assert_eq!(go_duration_ms(""), None);
        assert_eq!(go_duration_ms("s"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(size_mb("512mb"), Some(512));
        assert_eq!(size_mb("1gb"), Some(1024));
        assert_eq!(size_mb("16GB"), Some(16384));
        assert_eq!(size_mb("2048"), Some(2048));
        assert_eq!(size_mb("1 gb"), Some(1024));
        assert_eq!(size_mb("lots"), None);
    }
}
