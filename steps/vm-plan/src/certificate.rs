//! The site's certificate when the target manages one (`[targets.vm.<t>.acme]`
//! in ferry.toml): where it lives, whether the deploy must issue it, and
//! its expiry in every plan.

use ferry_step_sdk::host::vm::{CertificateInfo, VmTargetInfo};
use ferry_step_sdk::params::finding;
use ferry_step_sdk::types::{Action, Finding, Operation, Risk, Severity, Undo, VmCertificate, VmOp};

use crate::action;
use crate::app::Paths;
use crate::nginx::Tls;

/// A certificate with fewer days left is issued again (certbot's rule, a
/// third of Let's Encrypt's 90 days).
pub const RENEW_DAYS: i64 = 30;

/// The certificate and key the target's ACME server issues for the app:
/// `<root>/<app>/tls/`. `None` when the target has no `[acme]` table or
/// the site answers every name (a certificate needs names).
pub fn managed(app: &str, target: &VmTargetInfo, hostnames: &[String]) -> Option<Tls> {
    target.acme.as_ref()?;
    if hostnames.is_empty() {
        return None;
    }
    let dir = Paths::new(&target.root, app).tls();
    Some(Tls { certificate: format!("{dir}/fullchain.pem"), key: format!("{dir}/privkey.pem") })
}

/// Why the certificate on the host will not do, or `None` when it will.
pub fn due(found: Option<&CertificateInfo>, hostnames: &[String]) -> Option<String> {
    let Some(found) = found else { return Some("there is none yet".into()) };
    let (mut want, mut have) = (hostnames.to_vec(), found.names.clone());
    want.sort();
    have.sort();
    if want != have {
        return Some(format!("it is for {}, the site serves {}", have.join(", "), want.join(", ")));
    }
    (found.days_left < RENEW_DAYS).then(|| format!("it expires {} ({} days left)", found.not_after, found.days_left))
}

/// The issue action for a managed certificate that is due.
pub fn issue(target: &VmTargetInfo, tls: &Tls, hostnames: &[String], why: &str) -> Action {
    let dns_zone = target.acme.as_ref().and_then(|a| a.dns_zone.clone());
    let how = dns_zone.as_ref().map_or("HTTP-01".to_string(), |z| format!("DNS-01 in {z}"));
    action(
        format!("vm-certificate:{}:{}", target.name, hostnames.join(",")),
        format!("issue a certificate for {} ({how}): {why}", hostnames.join(", ")),
        // The renewal is a cron job run as root.
        Risk::Disruptive,
        Operation::Vm(VmOp::Certificate(VmCertificate {
            target: target.name.clone(),
            names: hostnames.to_vec(),
            certificate: tls.certificate.clone(),
            key: tls.key.clone(),
            dns_zone,
            // The site's switch reloads nginx after it.
            reload: false,
            renew: true,
        })),
        Undo::RestorePrevious,
    )
}

/// The expiry line every plan shows for a certificate it serves.
pub fn expiry(tls: &Tls, found: Option<&CertificateInfo>) -> Finding {
    match found {
        Some(c) if c.days_left < 0 => {
            finding("certificate-expiry", Severity::Error, format!("the certificate {} expired {} ({} days ago)", tls.certificate, c.not_after, -c.days_left))
        }
        Some(c) => {
            let severity = if c.days_left < RENEW_DAYS { Severity::Warning } else { Severity::Info };
            finding(
                "certificate-expiry",
                severity,
                format!("the certificate {} for {} is valid until {} ({} days left)", tls.certificate, c.names.join(", "), c.not_after, c.days_left),
            )
        }
        None => finding("certificate-expiry", Severity::Info, format!("there is no certificate at {} on the host yet", tls.certificate)),
    }
}
