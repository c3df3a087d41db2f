//! JSON renderings of the emulator's records, in fly-go's wire shapes.

use std::time::UNIX_EPOCH;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ids::rfc3339;
use crate::state::{App, Certificate, IpAssignment, Lease, Machine, Release, Snapshot, SnapshotStatus, Volume};

/// The check flaps "still inserts … in its response for compatibility with
/// older flyctl versions" (fly-go `machine_types.go:207-217`; fly-go drops
/// every check whose name starts with it). Its exact name and status are
/// unverified: the emulator adds one per machine with configured checks,
/// passing when all of them pass.
pub const COMPAT_CHECK: &str = "bg_deployments_compat";

/// `nonce` is only set on a create that took a lease (`lease_ttl`).
pub fn machine(machine: &Machine, nonce: Option<&str>) -> Value {
    let mut checks: Vec<Value> = machine
        .checks
        .iter()
        .map(|check| {
            json!({
                "name": check.name,
                "status": check.status,
                "output": check.output,
                "updated_at": rfc3339(check.updated_at),
            })
        })
        .collect();
    if let Some(newest) = machine.checks.iter().map(|check| check.updated_at).max() {
        let passing = machine.checks_passing();
        checks.push(json!({
            "name": COMPAT_CHECK,
            "status": if passing { "passing" } else { "critical" },
            "output": if passing { "all checks passing" } else { "some checks are failing" },
            "updated_at": rfc3339(newest),
        }));
    }
    let mut rendered = json!({
        "id": machine.id,
        "name": machine.name,
        "state": machine.state.as_str(),
        "region": machine.region,
        "instance_id": machine.instance_id,
        "version": machine.version,
        "private_ip": machine.private_ip,
        "config": machine.config,
        "image_ref": machine.image_ref,
        "events": machine.events.iter().map(|event| event.to_json()).collect::<Vec<_>>(),
        "checks": checks,
        "host_status": "ok",
        "cordoned": machine.cordoned,
        "created_at": rfc3339(machine.created_at),
        "updated_at": rfc3339(machine.updated_at),
    });
    if let Some(nonce) = nonce {
        rendered["nonce"] = json!(nonce);
    }
    rendered
}

/// fly-go's `App` (`flaps/flaps_apps.go:26-48`).
pub fn app(app: &App) -> Value {
    json!({
        "id": app.id,
        "name": app.name,
        "internal_numeric_id": app_numeric_id(&app.id),
        "status": app.status(),
        "organization": {"name": app.org_slug, "slug": app.org_slug, "internal_numeric_id": app_numeric_id(&app.org_slug)},
        "machine_count": app.live_machines().count(),
        "volume_count": app.volumes.len(),
        "network": app.network,
        // "hashid.appname.fly.dev, for ACME HTTP-01 pointing only to v6" (fly-go comment).
        "cname_target": format!("{}.{}.fly.dev", &app.id[..6], app.name),
        "app_role": app.app_role,
        "created_at": rfc3339(app.created_at),
    })
}

/// A stable positive int32 for an id (fly-go decodes it as `int32`).
fn app_numeric_id(id: &str) -> i32 {
    let digest = Sha256::digest(id.as_bytes());
    i32::from_be_bytes([digest[0] & 0x7f, digest[1], digest[2], digest[3]])
}

pub fn volume(app: &App, volume: &Volume) -> Value {
    json!({
        "id": volume.id,
        "name": volume.name,
        "state": "created",
        "size_gb": volume.size_gb,
        "region": volume.region,
        "zone": volume.zone,
        "encrypted": volume.encrypted,
        "fstype": volume.fstype,
        "attached_machine_id": app.attached_machine(&volume.id),
        "attached_alloc_id": null,
        "host_status": "ok",
        "snapshot_retention": volume.snapshot_retention,
        "auto_backup_enabled": volume.auto_backup_enabled,
        "source_volume_id": volume.source_volume_id,
        "created_at": rfc3339(volume.created_at),
    })
}

/// fly-go's `VolumeSnapshot` (`volume_types.go:58-66`). The id is empty
/// while the snapshot is `waiting`; size and digest are known once it is
/// `created`.
pub fn snapshot(snapshot: &Snapshot) -> Value {
    let status = snapshot.status();
    let created = status == SnapshotStatus::Created;
    json!({
        "id": if status == SnapshotStatus::Waiting { "" } else { snapshot.id.as_str() },
        "size": if created { snapshot.size_gb << 30 } else { 0 },
        "volume_size": snapshot.size_gb,
        "digest": if created { hex::encode(Sha256::digest(&snapshot.content)) } else { String::new() },
        "status": status.as_str(),
        "retention_days": 5,
        "created_at": rfc3339(snapshot.created_at),
    })
}

/// fly-go's `CertificateSummary` (`types.go:736-750`), as the list shows it.
pub fn certificate_summary(certificate: &Certificate) -> Value {
    let active = certificate.is_active();
    json!({
        "hostname": certificate.hostname,
        "status": certificate_status(certificate),
        "acme_dns_configured": active && certificate.acme_requested,
        "acme_alpn_configured": active && certificate.acme_requested,
        "acme_http_configured": active && certificate.acme_requested,
        "ownership_txt_configured": active && certificate.custom,
        "configured": active,
        "acme_requested": certificate.acme_requested,
        "has_custom_certificate": certificate.custom,
        "has_fly_certificate": active && certificate.acme_requested,
        "created_at": rfc3339(certificate.created_at),
        "updated_at": rfc3339(certificate.updated_at),
    })
}

/// The hostname-level status: `active` once issued, else
/// `pending_ownership` for an imported certificate and `pending_validation`
/// for an ACME request (docs examples, `certificates-resource.html.markerb`).
fn certificate_status(certificate: &Certificate) -> &'static str {
    if certificate.is_active() {
        "active"
    } else if certificate.custom {
        "pending_ownership"
    } else {
        "pending_validation"
    }
}

/// fly-go's `CertificateDetailResponse` (`types.go:788-822`), as `GET`,
/// `POST …/acme`, `POST …/custom` and (with `dns_records`) `…/check`
/// return it.
pub fn certificate_detail(app: &App, certificate: &Certificate, with_records: bool) -> Value {
    let active = certificate.is_active();
    let bare = certificate.hostname.trim_start_matches("*.");
    let ipv4: Vec<&str> = app.ips.iter().filter(|ip| !ip.ip.contains(':')).map(|ip| ip.ip.as_str()).collect();
    let ipv6: Vec<&str> = app.ips.iter().filter(|ip| ip.ip.contains(':') && ip.network_org.is_none()).map(|ip| ip.ip.as_str()).collect();
    let created = rfc3339(certificate.created_at);
    let mut certificates = Vec::new();
    if certificate.custom {
        certificates.push(json!({
            "source": "custom",
            "status": if active { "active" } else { "pending_ownership" },
            "created_at": created,
            "issued": [],
        }));
    }
    if certificate.acme_requested && active {
        certificates.push(json!({
            "source": "fly",
            "status": "active",
            "created_at": rfc3339(certificate.updated_at),
            "issued": [
                {"type": "ecdsa", "expires_at": rfc3339(certificate.updated_at + std::time::Duration::from_secs(90 * 86400)), "certificate_authority": "lets_encrypt"},
                {"type": "rsa", "expires_at": rfc3339(certificate.updated_at + std::time::Duration::from_secs(90 * 86400)), "certificate_authority": "lets_encrypt"},
            ],
        }));
    }
    let acme_target = format!("{bare}.{}.flydns.net", app.name);
    let ownership_value = format!("app-{}", &app.id[..10]);
    let mut rendered = json!({
        "hostname": certificate.hostname,
        "configured": active,
        "acme_requested": certificate.acme_requested,
        "status": certificate_status(certificate),
        "rate_limited_until": null,
        "certificates": certificates,
        "validation": {
            "dns_configured": active,
            "alpn_configured": active && certificate.acme_requested,
            "http_configured": active && certificate.acme_requested,
            "ownership_txt_configured": active && certificate.custom,
        },
        "dns_requirements": {
            "a": ipv4,
            "aaaa": ipv6,
            "cname": format!("{}.fly.dev", app.name),
            "acme_challenge": {
                "name": format!("_acme-challenge.{bare}"),
                "target": acme_target,
            },
            "ownership": {
                "name": format!("_fly-ownership.{bare}"),
                "app_value": ownership_value,
                "org_value": format!("org-{}", app.org_slug),
            },
        },
        "validation_errors": [],
    });
    if with_records {
        let resolved: Vec<&str> = if active { ipv4.iter().chain(&ipv6).copied().collect() } else { Vec::new() };
        rendered["dns_records"] = json!({
            "a": if active { ipv4.clone() } else { Vec::new() },
            "aaaa": if active { ipv6.clone() } else { Vec::new() },
            "cname": [],
            "resolved_addresses": resolved,
            "soa": null,
            "acme_challenge_cname": if active && certificate.acme_requested { Some(acme_target) } else { None },
            "ownership_txt": if active && certificate.custom { Some(ownership_value) } else { None },
        });
    }
    rendered
}

pub fn lease(lease: &Lease) -> Value {
    let expires_at = lease.expires_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    json!({
        "status": "success",
        "data": {
            "nonce": lease.nonce,
            "expires_at": expires_at,
            "owner": lease.owner,
            "version": lease.version,
            "description": lease.description,
        },
        "message": "",
        "code": "",
    })
}

pub fn ip(ip: &IpAssignment) -> Value {
    let network = ip.network_org.as_ref().map(|org| json!({"name": "", "org_slug": org}));
    json!({
        "ip": ip.ip,
        "region": ip.region,
        "service_name": ip.service_name,
        "shared": ip.shared,
        "egress": false,
        "network": network,
        "created_at": rfc3339(ip.created_at),
    })
}

/// flyctl's uiex `Release` (`internal/uiex/releases.go:58-68`).
pub fn release(release: &Release) -> Value {
    json!({
        "id": release.id,
        "version": release.version,
        "stable": release.status == "complete",
        "in_progress": !release.is_finished(),
        "status": release.status,
        "strategy": release.strategy,
        "user": release.user,
        "created_at": rfc3339(release.created_at),
        "image_ref": release.image,
    })
}

/// Everything the emulator keeps of a release (the control API's view).
pub fn release_record(release: &Release) -> Value {
    let mut rendered = self::release(release);
    rendered["app_name"] = json!(release.app_name);
    rendered["build_id"] = json!(release.build_id);
    rendered["definition"] = release.definition.clone();
    rendered["metadata"] = release.metadata.clone();
    rendered["updated_at"] = json!(rfc3339(release.updated_at));
    rendered
}
