//! What a migration is asked to do: from which app to which, in which org
//! and regions. `ferry migrate create` records these with the migration id
//! and passes them to every phase, so each phase plans the same migration.

use ferry_step_sdk::params::{Params, Spec, invalid};
use ferry_step_sdk::types::{AppSpec, StepError};

pub const PARAMS: &[Spec] = &[
    ("id", "The migration id (`ferry migrate create` makes it); names the machines each phase creates.", None),
    ("from", "The source app; default: fly.toml's app.", None),
    ("to", "The new app's name (unique across Fly.io).", None),
    ("org", "The organization the new app is created in (its slug).", Some("personal")),
    ("region", "The new app's primary region; default: fly.toml's primary_region, else the source machines' region.", None),
    ("regions", "Comma-separated regions the machines of groups with services (and no volume) are spread across; default: the primary region.", None),
    ("image", "The image the new app runs; default: the image the source machines run.", None),
    ("provided-secrets", "Secret names whose values ferry has (FERRY_SECRET_<NAME> is set); `ferry migrate` fills it in.", None),
    ("dns-zone", "The zone (ferry.toml's [dns.zones]) holding the certificates' hostnames: finalize switches their records.", None),
    ("postgres-app", "Moving to a server: the Fly Postgres app decommission deletes with the app.", None),
    ("ttl", "The TTL of the switched records, in seconds.", Some("300")),
    ("wait-timeout", "How long each new machine may take to start and pass its checks, in seconds.", Some("300")),
];

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub id: String,
    pub from: String,
    pub to: String,
    pub org: String,
    /// `None` until the source's machines are known (the default comes from them).
    pub region: Option<String>,
    pub regions: Vec<String>,
    pub image: Option<String>,
    pub provided_secrets: Vec<String>,
    pub dns_zone: Option<String>,
    pub postgres_app: Option<String>,
    pub ttl: u32,
    pub wait_timeout_ms: u64,
}

impl Options {
    pub fn from_params(app: Option<&AppSpec>, params: &[(String, String)]) -> Result<Self, StepError> {
        let p = Params(params);
        p.only("migrate", PARAMS)?;
        let id = p.get("id").ok_or_else(|| invalid("migrate needs `id`: run `ferry migrate create` first, it makes one"))?;
        let to = p.get("to").ok_or_else(|| invalid("migrate needs `to`: the new app's name"))?;
        let from = p
            .get("from")
            .map(str::to_string)
            .or_else(|| app.and_then(|a| a.app.clone()))
            .ok_or_else(|| invalid("migrate needs the source app: set `from`, or `app` in fly.toml"))?;
        if from == to {
            return Err(invalid(format!("the new app must have another name than {from}: Fly app names are unique")));
        }
        let region = p.get("region").map(str::to_string).or_else(|| app.and_then(|a| a.primary_region.clone()));
        Ok(Options {
            id: id.to_string(),
            from,
            to: to.to_string(),
            org: p.get("org").unwrap_or("personal").to_string(),
            regions: p.list("regions").unwrap_or_default(),
            region,
            image: p.get("image").map(str::to_string),
            provided_secrets: p.list("provided-secrets").unwrap_or_default(),
            dns_zone: p.get("dns-zone").map(str::to_string),
            postgres_app: p.get("postgres-app").map(str::to_string),
            ttl: u32::try_from(p.number("ttl", 300)?).map_err(|_| invalid("ttl is too large"))?,
            wait_timeout_ms: p.number("wait-timeout", 300)?.saturating_mul(1000),
        })
    }

    /// The primary region, once known.
    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or_default()
    }

    /// Where machines of a group with services are spread.
    pub fn spread(&self) -> Vec<String> {
        if self.regions.is_empty() { vec![self.region().to_string()] } else { self.regions.clone() }
    }
}
