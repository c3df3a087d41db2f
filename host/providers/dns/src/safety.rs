//! Limits on how much of a zone one plan may change, as in octoDNS
//! (`octodns/provider/plan.py`): a plan that would update or delete more
//! than 30% of a zone's records is far more likely a mistake (a wrong zone,
//! an empty source, a bad filter) than a cutover, so it is refused unless
//! forced. Small zones are exempt: in a zone of five records, switching two
//! is already 40%.
//!
//! Counts are of RRsets (octoDNS's "records"), as returned by
//! [`crate::DnsProvider::zone_records`]; creations never count.

/// When to refuse. [`Thresholds::default`] is octoDNS's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Most updates allowed, in percent of the zone's records (octoDNS `MAX_SAFE_UPDATE_PCENT`).
    pub update_pct: f64,
    /// Most deletions allowed, in percent (octoDNS `MAX_SAFE_DELETE_PCENT`).
    pub delete_pct: f64,
    /// Zones with fewer records are not checked (octoDNS `MIN_EXISTING_RECORDS`).
    pub min_existing: usize,
    /// Skip the check (`--force`).
    pub force: bool,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds { update_pct: 30.0, delete_pct: 30.0, min_existing: 10, force: false }
    }
}

/// How many existing RRsets a plan changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// RRsets whose values or TTL change.
    pub updates: usize,
    /// RRsets removed.
    pub deletes: usize,
}

/// Which limit was crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Too many updates.
    Updates,
    /// Too many deletions.
    Deletes,
}

/// A plan over a limit, with the numbers.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "too many {}: {count} of the zone's {zone_size} records is {percent:.2}%, over the \
     {limit:.2}% limit; force is required to apply it",
    match kind { ChangeKind::Updates => "updates", ChangeKind::Deletes => "deletions" }
)]
pub struct TooMuchChange {
    /// Which limit.
    pub kind: ChangeKind,
    /// How many RRsets the plan would change that way.
    pub count: usize,
    /// How many RRsets the zone has.
    pub zone_size: usize,
    /// `count` in percent of `zone_size`.
    pub percent: f64,
    /// The limit, in percent.
    pub limit: f64,
}

/// Refuses `changes` to a zone of `zone_size` RRsets when they cross a
/// limit (strictly more than it, like octoDNS), unless forced or the zone is
/// smaller than `min_existing`.
pub fn check(zone_size: usize, changes: &Changes, thresholds: &Thresholds) -> Result<(), TooMuchChange> {
    if thresholds.force || zone_size == 0 || zone_size < thresholds.min_existing {
        return Ok(());
    }
    for (kind, count, limit) in [(ChangeKind::Updates, changes.updates, thresholds.update_pct), (ChangeKind::Deletes, changes.deletes, thresholds.delete_pct)] {
        // Counts are far below 2^52, so the conversions are exact.
        #[allow(clippy::cast_precision_loss)]
        let percent = count as f64 * 100.0 / zone_size as f64;
        if percent > limit {
            return Err(TooMuchChange { kind, count, zone_size, percent, limit });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(updates: usize, deletes: usize) -> Changes {
        Changes { updates, deletes }
    }

    #[test]
    fn refuses_over_thirty_percent_with_the_numbers() {
        let t = Thresholds::default();
        let err = check(20, &changes(9, 0), &t).unwrap_err();
        assert_eq!(err.kind, ChangeKind::Updates);
        assert_eq!(
            err.to_string(),
            "too many updates: 9 of the zone's 20 records is 45.00%, over the 30.00% limit; \
             force is required to apply it"
        );
        let err = check(20, &changes(0, 7), &t).unwrap_err();
        assert_eq!((err.kind, err.count, err.zone_size), (ChangeKind::Deletes, 7, 20));
        assert!(err.to_string().starts_with("too many deletions: 7 of the zone's 20 records is 35.00%"));
    }

    #[test]
    fn exactly_at_the_limit_passes() {
        let t = Thresholds::default();
        assert_eq!(check(20, &changes(6, 6), &t), Ok(()));
        assert!(check(20, &changes(7, 0), &t).is_err());
        assert_eq!(check(100, &changes(30, 30), &t), Ok(()));
        assert!(check(100, &changes(0, 31), &t).is_err());
    }

    #[test]
    fn small_zones_and_force_are_exempt() {
        let t = Thresholds::default();
        assert_eq!(check(9, &changes(9, 9), &t), Ok(()));
        assert!(check(10, &changes(4, 0), &t).is_err());
        let forced = Thresholds { force: true, ..t };
        assert_eq!(check(20, &changes(20, 20), &forced), Ok(()));
        let strict = Thresholds { min_existing: 0, update_pct: 0.0, ..t };
        assert!(check(1, &changes(1, 0), &strict).is_err());
        assert_eq!(check(0, &changes(0, 0), &strict), Ok(()));
    }

    #[test]
    fn custom_limits() {
        let t = Thresholds { update_pct: 50.0, delete_pct: 10.0, ..Thresholds::default() };
        assert_eq!(check(10, &changes(5, 1), &t), Ok(()));
        let err = check(10, &changes(5, 2), &t).unwrap_err();
        assert_eq!((err.kind, err.percent, err.limit), (ChangeKind::Deletes, 20.0, 10.0));
    }
}
