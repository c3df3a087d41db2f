//! Durations and sizes as fly.toml writes them.

/// Go's `time.ParseDuration` grammar (`"15s"`, `"1m30s"`, `"1.5h"`), in
/// whole milliseconds and in nanoseconds (how two spellings of one duration
/// compare equal); `None` for anything else.
pub use ferry_fly_wire::duration::{parse_ms as go_duration_ms, parse_ns as go_duration_ns};

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
    fn sizes() {
        assert_eq!(size_mb("512mb"), Some(512));
        assert_eq!(size_mb("1gb"), Some(1024));
        assert_eq!(size_mb("16GB"), Some(16384));
        assert_eq!(size_mb("2048"), Some(2048));
        assert_eq!(size_mb("1 gb"), Some(1024));
        assert_eq!(size_mb("lots"), None);
    }
}
