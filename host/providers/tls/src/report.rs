//! What was found, and what stands in the way of a cutover.

use std::time::SystemTime;

use rustls::pki_types::UnixTime;

use crate::clock::{DAY, system_time, unix_secs, utc_date};
use crate::leaf::Leaf;
use crate::name;

/// How many certificate names a problem sentence lists before "and N more".
const NAMES_SHOWN: usize = 5;

/// The certificate the new host presented for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The domain asked for (sent as SNI).
    pub server_name: String,
    /// The certificate's SAN DNS names, or its subject CN when it has none.
    pub names: Vec<String>,
    /// Whether one of `names` covers `server_name` (RFC 6125, single-label
    /// wildcards).
    pub matches_name: bool,
    /// Start of the certificate's validity.
    pub not_before: SystemTime,
    /// End of the certificate's validity.
    pub not_after: SystemTime,
    /// Whole days from `checked_at` to `not_after`; negative (whole days
    /// since) once expired.
    pub days_left: i64,
    /// The issuer's distinguished name.
    pub issuer: String,
    /// Whether the chain leads to one of the roots; `None` with `Roots::None`.
    /// Name and dates are left out of this answer: they have their own fields.
    pub trusted: Option<bool>,
    /// Why the chain is not trusted.
    pub trust_error: Option<String>,
    /// The negotiated protocol, e.g. `TLSv1.3`.
    pub protocol: String,
    /// When the certificate was verified; the day counts are from here.
    pub checked_at: SystemTime,
}

impl Report {
    pub(crate) fn new(server_name: &str, leaf: Leaf, at: UnixTime, verdict: Option<Result<(), String>>, protocol: String) -> Self {
        let checked = i64::try_from(at.as_secs()).unwrap_or(i64::MAX);
        Self {
            server_name: server_name.to_owned(),
            matches_name: leaf.names.iter().any(|n| name::matches(n, server_name)),
            names: leaf.names,
            not_before: system_time(leaf.not_before),
            not_after: system_time(leaf.not_after),
            days_left: leaf.not_after.saturating_sub(checked) / DAY,
            issuer: leaf.issuer,
            trusted: verdict.as_ref().map(Result::is_ok),
            trust_error: verdict.and_then(Result::err),
            protocol,
            checked_at: system_time(checked),
        }
    }

    /// Why the host is not ready for the cutover, one sentence each; empty
    /// means go. `min_days_left` is how long the certificate must still be
    /// valid, so a cutover does not land just before an expiry.
    pub fn problems(&self, min_days_left: u32) -> Vec<String> {
        let mut problems = Vec::new();
        if !self.matches_name {
            problems.push(format!("the certificate is for {} — not {}", listed(&self.names), self.server_name));
        }
        problems.extend(self.validity_problem(min_days_left));
        if self.trusted == Some(false) {
            let reason = self.trust_error.as_deref().unwrap_or("no reason given");
            problems.push(format!("the certificate is not trusted: {reason}"));
        }
        problems
    }

    fn validity_problem(&self, min_days_left: u32) -> Option<String> {
        let now = unix_secs(self.checked_at);
        let not_before = unix_secs(self.not_before);
        let not_after = unix_secs(self.not_after);
        if now < not_before {
            let wait = match (not_before - now) / DAY {
                0 => "in less than a day".to_owned(),
                n => format!("in {}", days(n)),
            };
            return Some(format!("the certificate is not valid until {} ({wait})", utc_date(self.not_before)));
        }
        if now > not_after {
            let ago = match -self.days_left {
                0 => "today".to_owned(),
                n => format!("{} ago", days(n)),
            };
            return Some(format!("the certificate expired on {} ({ago})", utc_date(self.not_after)));
        }
        if self.days_left < i64::from(min_days_left) {
            let left = match self.days_left {
                0 => "less than a day".to_owned(),
                n => days(n),
            };
            let verb = if min_days_left == 1 { "is" } else { "are" };
            return Some(format!("the certificate expires in {left} (on {}); at least {min_days_left} {verb} required", utc_date(self.not_after)));
        }
        None
    }
}

fn days(n: i64) -> String {
    if n == 1 { "1 day".to_owned() } else { format!("{n} days") }
}

/// `a, b, c and 4 more`: enough to recognise the certificate.
fn listed(names: &[String]) -> String {
    if names.is_empty() {
        return "no domain name".to_owned();
    }
    let shown = names[..names.len().min(NAMES_SHOWN)].join(", ");
    match names.len().saturating_sub(NAMES_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30 00:53:20 UTC.
    const NOW: i64 = 1_796_000_000;

    fn report(names: &[&str], not_before: i64, not_after: i64, verdict: Option<Result<(), String>>) -> Report {
        let leaf = Leaf { names: names.iter().map(|n| n.to_string()).collect(), not_before, not_after, issuer: "CN=Test CA".into() };
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(NOW as u64));
        Report::new("shop.example.com", leaf, at, verdict, "TLSv1.3".into())
    }

    #[test]
    fn a_good_certificate_has_no_problems() {
        let good = report(&["shop.example.com"], NOW - 10 * DAY, NOW + 60 * DAY, Some(Ok(())));
        assert!(good.matches_name);
        assert_eq!(good.days_left, 60);
        assert_eq!(good.trusted, Some(true));
        assert_eq!(good.problems(14), Vec::<String>::new());
    }

    #[test]
    fn the_wrong_name_is_named_alongside_the_right_one() {
        let wrong = report(&["api.example.com", "*.example.net"], NOW - DAY, NOW + 60 * DAY, None);
        assert!(!wrong.matches_name);
        assert_eq!(wrong.problems(14), ["the certificate is for api.example.com, *.example.net — not shop.example.com"]);
    }

    #[test]
    fn long_name_lists_are_cut_short() {
        let names = ["a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test"];
        let many = report(&names, NOW - DAY, NOW + 60 * DAY, None);
        assert_eq!(many.problems(14), ["the certificate is for a.test, b.test, c.test, d.test, e.test and 2 more — not shop.example.com"]);
        let none = report(&[], NOW - DAY, NOW + 60 * DAY, None);
        assert_eq!(none.problems(14), ["the certificate is for no domain name — not shop.example.com"]);
    }

    #[test]
    fn expiry_is_dated_and_counted() {
        let expired = report(&["shop.example.com"], NOW - 90 * DAY, NOW - 2 * DAY - 3600, None);
        assert_eq!(expired.days_left, -2);
        assert_eq!(expired.problems(14), ["the certificate expired on 2026-11-27 (2 days ago)"]);

        let just_expired = report(&["shop.example.com"], NOW - 90 * DAY, NOW - 60, None);
        assert_eq!(just_expired.problems(0), ["the certificate expired on 2026-11-30 (today)"]);
    }

    #[test]
    fn too_little_time_left_is_a_problem_only_below_the_minimum() {
        let soon = report(&["shop.example.com"], NOW - 80 * DAY, NOW + 3 * DAY + 3600, None);
        assert_eq!(soon.days_left, 3);
        assert_eq!(soon.problems(14), ["the certificate expires in 3 days (on 2026-12-03); at least 14 are required"]);
        assert!(soon.problems(3).is_empty());

        let hours = report(&["shop.example.com"], NOW - 80 * DAY, NOW + 3600, None);
        assert_eq!(hours.problems(1), ["the certificate expires in less than a day (on 2026-11-30); at least 1 is required"]);
    }

    #[test]
    fn a_certificate_from_the_future_is_not_valid_yet() {
        let early = report(&["shop.example.com"], NOW + 2 * DAY + 60, NOW + 90 * DAY, None);
        assert_eq!(early.problems(14), ["the certificate is not valid until 2026-12-02 (in 2 days)"]);
    }

    #[test]
    fn distrust_comes_with_its_reason_and_unchecked_trust_is_no_problem() {
        let untrusted =
            report(&["shop.example.com"], NOW - DAY, NOW + 60 * DAY, Some(Err("it is not issued by any of the trusted authorities (unknown issuer)".into())));
        assert_eq!(untrusted.trusted, Some(false));
        assert_eq!(untrusted.problems(14), ["the certificate is not trusted: it is not issued by any of the trusted authorities (unknown issuer)"]);
        let unchecked = report(&["shop.example.com"], NOW - DAY, NOW + 60 * DAY, None);
        assert_eq!((unchecked.trusted, unchecked.trust_error.clone()), (None, None));
        assert!(unchecked.problems(14).is_empty());
    }
}
