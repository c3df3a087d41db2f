//! What flyctl writes into a Fly Machine's config, which ferry must write
//! the same way so that `fly deploy`, the dashboard and ferry agree about a
//! machine: the metadata keys, and durations as Go's `time.Duration` text.
//!
//! One copy, with no dependencies, for both sides of the sandbox: the
//! deploy planner (a WebAssembly step) writes configs with it, and the
//! host's Machines API client reads and compares them. (The Fly emulator
//! keeps its own: it follows the platform, not ferry's client.)

/// Metadata keys and values flyctl writes and reads (fly-go
/// `machine_types.go` L15-27, flyctl `internal/command/deploy`).
pub mod metadata {
    /// `v2` on every machine managed by Fly Launch.
    pub const PLATFORM_VERSION: &str = "fly_platform_version";
    /// The value of [`PLATFORM_VERSION`] for managed machines.
    pub const PLATFORM_V2: &str = "v2";
    /// The process group (`app` by default).
    pub const PROCESS_GROUP: &str = "fly_process_group";
    /// Legacy name of [`PROCESS_GROUP`], still read as a fallback.
    pub const LEGACY_PROCESS_GROUP: &str = "process_group";
    /// Release record id.
    pub const RELEASE_ID: &str = "fly_release_id";
    /// Release record version.
    pub const RELEASE_VERSION: &str = "fly_release_version";
    /// The flyctl version; ignored when comparing configs.
    pub const FLYCTL_VERSION: &str = "fly_flyctl_version";
    /// Set on Fly Postgres machines.
    pub const MANAGED_POSTGRES: &str = "fly-managed-postgres";
    /// A canary machine of a canary deploy.
    pub const CANARY: &str = "fly_canary";
    /// The green machines of a blue/green deploy.
    pub const BLUEGREEN_TAG: &str = "fly_bluegreen_deployment_tag";
    /// ferry's idempotency key for creates: a create that timed out after
    /// succeeding is found by it instead of repeated.
    pub const LAUNCH_ID: &str = "ferry_launch_id";
    /// The ferry version that deployed the machine.
    pub const FERRY_VERSION: &str = "ferry_version";
    /// Process group of release-command machines.
    pub const RELEASE_COMMAND_GROUP: &str = "fly_app_release_command";
    /// Process group of `fly console` machines.
    pub const CONSOLE_GROUP: &str = "fly_app_console";
    /// Process groups flyctl never deploys to.
    pub const NOT_DEPLOYED: [&str; 2] = [RELEASE_COMMAND_GROUP, CONSOLE_GROUP];
}

/// Go's `time.Duration` as text: what fly.toml writes (`"15s"`) and what
/// fly-go's `Duration` marshals (`time.Duration.String()`: `"1m30s"`).
pub mod duration {
    /// Go's `time.ParseDuration` grammar: `"15s"`, `"1m30s"`, `"500ms"`, `"1.5h"`.
    /// Returns whole milliseconds; `None` for anything else.
    pub fn parse_ms(text: &str) -> Option<u64> {
        let ms = parse_ns_f64(text)? / 1e6;
        (ms.is_finite() && ms < u64::MAX as f64).then(|| ms.round() as u64)
    }

    /// [`parse_ms`] in nanoseconds: how two spellings of one duration
    /// (`"90s"`, `"1m30s"`) compare equal.
    pub fn parse_ns(text: &str) -> Option<u64> {
        let ns = parse_ns_f64(text)?;
        (ns.is_finite() && ns < u64::MAX as f64).then(|| ns.round() as u64)
    }

    fn parse_ns_f64(text: &str) -> Option<f64> {
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

    /// Milliseconds as Go's `time.Duration.String()` writes them, which is
    /// what fly-go's `Duration.MarshalJSON` sends: `10s`, `1m0s`, `1m30s`,
    /// `1h0m0s`, `1.5s`, `500ms`, `0s`.
    pub fn format_ms(ms: u64) -> String {
        format_ns(u128::from(ms) * 1_000_000)
    }

    /// Nanoseconds as Go's `time.Duration.String()`.
    pub fn format_ns(ns: u128) -> String {
        if ns == 0 {
            return "0s".into();
        }
        if ns < 1_000_000_000 {
            let (unit, per) = match ns {
                n if n < 1_000 => ("ns", 1),
                n if n < 1_000_000 => ("µs", 1_000),
                _ => ("ms", 1_000_000),
            };
            return format!("{}{unit}", fraction(ns, per));
        }
        let (hours, rest) = (ns / 3_600_000_000_000, ns % 3_600_000_000_000);
        let (minutes, rest) = (rest / 60_000_000_000, rest % 60_000_000_000);
        let mut out = String::new();
        if hours > 0 {
            out.push_str(&format!("{hours}h"));
        }
        if hours > 0 || minutes > 0 {
            out.push_str(&format!("{minutes}m"));
        }
        out.push_str(&format!("{}s", fraction(rest, 1_000_000_000)));
        out
    }

    /// `value / per` with its decimal fraction, trailing zeros trimmed.
    fn fraction(value: u128, per: u128) -> String {
        let (whole, part) = (value / per, value % per);
        if part == 0 {
            return whole.to_string();
        }
        let digits = per.ilog10() as usize;
        let part = format!("{part:0digits$}");
        format!("{whole}.{}", part.trim_end_matches('0'))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn parsed_as_go_parses_them() {
            assert_eq!(parse_ms("15s"), Some(15_000));
            assert_eq!(parse_ms("1m30s"), Some(90_000));
            assert_eq!(parse_ms("500ms"), Some(500));
            assert_eq!(parse_ms("1.5h"), Some(5_400_000));
            assert_eq!(parse_ms("0"), Some(0));
            assert_eq!(parse_ms("10"), None, "a bare number needs a unit in Go");
            assert_eq!(parse_ms("5 s"), None);
            assert_eq!(parse_ms("-5s"), None);
            assert_eq!(parse_ms(""), None);
            assert_eq!(parse_ms("s"), None);
        }

        /// Go's own `time.Duration.String()` outputs (the values the oracle's
        /// generator self-tests).
        #[test]
        fn durations_as_go_prints_them() {
            let ns = |n: u128| format_ns(n);
            assert_eq!(format_ms(10_000), "10s");
            assert_eq!(format_ms(60_000), "1m0s");
            assert_eq!(format_ms(90_000), "1m30s");
            assert_eq!(format_ms(300_000), "5m0s");
            assert_eq!(format_ms(3_600_000), "1h0m0s");
            assert_eq!(format_ms(1_500), "1.5s");
            assert_eq!(format_ms(500), "500ms");
            assert_eq!(format_ms(0), "0s");
            assert_eq!(ns(2_500_000), "2.5ms");
            assert_eq!(ns(1_000), "1µs");
            assert_eq!(ns(100), "100ns");
            assert_eq!(ns(3_723_500_000_000), "1h2m3.5s");
        }
    }
}
