//! The live state of a Fly app (machines, volumes, secret names), when the
//! Fly API is reachable: the half of an inventory no file holds.

use ferry_step_sdk::types::{AppSpec, Finding, LiveState, LiveVolume, Severity};

/// What the Fly API reported.
#[derive(Debug, Default, Clone)]
pub struct Live {
    /// (region, image) of every machine.
    pub machines: Vec<(String, String)>,
    pub volumes: Vec<LiveVolume>,
    pub secret_names: Vec<String>,
}

/// Adds the live state to an inventory, with the findings it implies.
pub fn add_live(spec: &mut AppSpec, live: Live) {
    let mut regions: Vec<String> = live.machines.iter().map(|(r, _)| r.clone()).chain(live.volumes.iter().map(|v| v.region.clone())).collect();
    regions.sort();
    regions.dedup();
    let mut images: Vec<String> = live.machines.iter().map(|(_, i)| i.clone()).collect();
    images.sort();
    images.dedup();
    if regions.len() > 1 {
        spec.warnings.push(finding(
            "multi-region",
            format!(
                "the app runs in {} regions ({}); a VM or cluster lives in one: decide on a region deliberately, near your users, rather than inheriting this footprint",
                regions.len(),
                regions.join(", ")
            ),
        ));
    }
    if images.len() > 1 {
        spec.warnings.push(finding("mixed-images", format!("machines run {} different images: {}", images.len(), images.join(", "))));
    }
    for name in live.secret_names {
        if !spec.secrets.contains(&name) {
            spec.secrets.push(name);
        }
    }
    spec.secrets.sort();
    spec.live = Some(LiveState { regions, machines: live.machines.len() as u32, images, volumes: live.volumes });
}

fn finding(code: &str, message: String) -> Finding {
    Finding { code: code.into(), severity: Severity::Warning, message, location: None }
}
