//! Unix seconds, `SystemTime` and UTC dates, converted without panicking.
//!
//! Certificates carry dates far outside what `SystemTime` arithmetic likes
//! (`notAfter` 9999-12-31 is common for CAs); every conversion saturates.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds per day, for day counts.
pub(crate) const DAY: i64 = 86_400;

pub(crate) fn system_time(secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    let moved = if secs >= 0 { UNIX_EPOCH.checked_add(magnitude) } else { UNIX_EPOCH.checked_sub(magnitude) };
    moved.unwrap_or(UNIX_EPOCH)
}

pub(crate) fn unix_secs(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// `2026-11-30`, the way people read dates in a plan.
pub(crate) fn utc_date(time: SystemTime) -> String {
    let secs = unix_secs(time);
    time::OffsetDateTime::from_unix_timestamp(secs).map(|t| t.date().to_string()).unwrap_or_else(|_| format!("{secs} (Unix time)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_round_trip_on_both_sides_of_the_epoch() {
        for secs in [0, 1_795_000_000, -86_400] {
            assert_eq!(unix_secs(system_time(secs)), secs);
        }
    }

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(utc_date(system_time(1_796_000_000)), "2026-11-30");
        assert_eq!(utc_date(system_time(253_402_300_799)), "9999-12-31");
    }
}
