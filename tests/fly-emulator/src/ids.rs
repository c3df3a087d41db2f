//! Identifiers and timestamps shaped like Fly's, so clients that parse or
//! log them see familiar values.

use std::time::{SystemTime, UNIX_EPOCH};

/// A machine id: 14 lowercase hex characters, like `e784079b449483`.
pub fn machine_id() -> String {
    format!("{:014x}", fastrand::u64(..1 << 56))
}

/// A volume id: `vol_` followed by 16 lowercase alphanumerics.
pub fn volume_id() -> String {
    let suffix: String = (0..16).map(|_| fastrand::alphanumeric().to_ascii_lowercase()).collect();
    format!("vol_{suffix}")
}

/// A volume snapshot id: `vs_` followed by 16 alphanumerics.
pub fn snapshot_id() -> String {
    let suffix: String = (0..16).map(|_| fastrand::alphanumeric()).collect();
    format!("vs_{suffix}")
}

/// A lease nonce: 32 hex characters.
pub fn nonce() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// A ULID (time-ordered, Crockford base32), the format Fly uses for machine
/// versions, instance ids and request ids.
pub fn ulid() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = u128::from(now_ms().unsigned_abs());
    let value = (millis << 80) | (fastrand::u128(..) & ((1 << 80) - 1));
    (0..26).rev().map(|i| char::from(ALPHABET[((value >> (i * 5)) & 31) as usize])).collect()
}

/// A Fly-style machine name such as `quiet-river-4821`.
pub fn machine_name() -> String {
    const ADJECTIVES: [&str; 10] = ["quiet", "bold", "misty", "young", "ancient", "sparkling", "green", "late", "wild", "calm"];
    const NOUNS: [&str; 10] = ["river", "forest", "meadow", "sun", "thunder", "snow", "bird", "dawn", "field", "wave"];
    format!("{}-{}-{:04}", ADJECTIVES[fastrand::usize(..ADJECTIVES.len())], NOUNS[fastrand::usize(..NOUNS.len())], fastrand::u16(..10000))
}

/// Milliseconds since the Unix epoch (the unit of machine event timestamps).
pub fn now_ms() -> i64 {
    millis(SystemTime::now())
}

/// Milliseconds since the Unix epoch for `time`.
pub fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// RFC 3339 with second precision, as Fly renders `created_at`.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// RFC 3339 with millisecond precision, as Fly renders log timestamps.
pub fn rfc3339_millis(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_fly_shapes() {
        let id = machine_id();
        assert_eq!(id.len(), 14);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let vol = volume_id();
        assert!(vol.starts_with("vol_") && vol.len() == 20);
        assert_eq!(nonce().len(), 32);
    }

    #[test]
    fn ulids_are_time_ordered() {
        let first = ulid();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = ulid();
        assert_eq!(first.len(), 26);
        assert!(first < second);
    }
}
