//! JSON renderings of the emulator's records, in fly-go's wire shapes.

use std::time::UNIX_EPOCH;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::ids::rfc3339;
use crate::state::{App, Certificate, IpAssignment, Lease, Machine, Release, Snapshot, Volume};

/// `nonce` is only set on a create that took a lease (`lease_ttl`).
pub fn machine(machine: &Machine, nonce: Option<&str>) -> Value {
    let checks: Vec<Value> = machine
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
    let mut rendered = json!({
        "id": machine.id,
        "name": machine.name,
        "state": machine.state.as_str(),
        "region": machine.region,
        "instance_id": machine.version,
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

pub fn app(app: &App) -> Value {
    json!({
        "id": app.id,
        "name": app.name,
        "status": app.status(),
        "organization": {"name": app.org_slug, "slug": app.org_slug},
        "machine_count": app.live_machines().count(),
        "volume_count": app.volumes.len(),
        "network": app.network,
        "created_at": rfc3339(app.created_at),
    })
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

pub fn snapshot(snapshot: &Snapshot) -> Value {
    json!({
        "id": snapshot.id,
        "size": snapshot.size_gb << 30,
        "digest": hex::encode(Sha256::digest(&snapshot.content)),
        "status": "created",
        "retention_days": 5,
        "created_at": rfc3339(snapshot.created_at),
    })
}

/// A certificate as the list shows it and, with the DNS it needs, as
/// `GET`, `POST …/acme` and `…/check` return it.
pub fn certificate(app: &App, certificate: &Certificate, detailed: bool) -> Value {
    let status = if certificate.issued { "Ready" } else { "Awaiting configuration" };
    let mut rendered = json!({
        "hostname": certificate.hostname,
        "configured": certificate.issued,
        "acme_requested": true,
        "status": status,
        "created_at": rfc3339(certificate.created_at),
    });
    if detailed {
        let ipv4: Vec<&str> = app.ips.iter().filter(|ip| !ip.ip.contains(':')).map(|ip| ip.ip.as_str()).collect();
        let ipv6: Vec<&str> = app.ips.iter().filter(|ip| ip.ip.contains(':') && ip.network_org.is_none()).map(|ip| ip.ip.as_str()).collect();
        rendered["dns_requirements"] = json!({
            "a": ipv4,
            "aaaa": ipv6,
            "cname": format!("{}.fly.dev", app.name),
            "acme_challenge": {
                "name": format!("_acme-challenge.{}", certificate.hostname.trim_start_matches("*.")),
                "target": format!("{}.{}.flydns.net", certificate.hostname.trim_start_matches("*."), app.name),
            },
        });
    }
    rendered
}

pub fn lease(lease: &Lease) -> Value {
    let expires_at = lease
        .expires_at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
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
    let network = ip
        .network_org
        .as_ref()
        .map(|org| json!({"name": "", "org_slug": org}));
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

pub fn release(release: &Release) -> Value {
    json!({
        "id": release.id,
        "version": release.version,
        "app_name": release.app_name,
        "status": release.status,
        "strategy": release.strategy,
        "image": release.image,
        "definition": release.definition,
        "metadata": release.metadata,
        "created_at": rfc3339(release.created_at),
        "updated_at": rfc3339(release.updated_at),
    })
}
