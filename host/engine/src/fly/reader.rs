//! The `fly` import steps read through: the Machines API, read-only.
//! Secret values never pass here; the API's secrets list has names only.

use ferry_fly::{FlyClient, FlyError, IpAssignment};
use ferry_runtime::capabilities::fly::{CertificateInfo, FlyReader, IpInfo, MachineInfo, QueryError, VolumeInfo};

/// Answers steps' Fly queries with the Machines API.
#[derive(Debug, Clone)]
pub struct FlyApiReader {
    client: FlyClient,
}

impl FlyApiReader {
    pub fn new(client: FlyClient) -> Self {
        FlyApiReader { client }
    }
}

impl FlyReader for FlyApiReader {
    fn list_machines(&self, app: &str) -> Result<Vec<MachineInfo>, QueryError> {
        let machines = self.client.list_machines(app).map_err(query_error)?;
        Ok(machines
            .into_iter()
            .map(|m| {
                let config = m.config();
                MachineInfo {
                    image: config.and_then(|c| c.image()).unwrap_or_default().to_string(),
                    process_group: m.process_group().map(str::to_string),
                    metadata: config.map(|c| c.metadata().into_iter().collect()).unwrap_or_default(),
                    config: config.and_then(|c| serde_json::to_string(c).ok()).unwrap_or_else(|| "null".into()),
                    cordoned: m.cordoned,
                    id: m.id,
                    name: m.name,
                    state: m.state,
                    region: m.region,
                }
            })
            .collect())
    }

    fn list_volumes(&self, app: &str) -> Result<Vec<VolumeInfo>, QueryError> {
        let volumes = self.client.list_volumes(app).map_err(query_error)?;
        Ok(volumes
            .into_iter()
            .filter(|v| !matches!(v.state.as_str(), "destroyed" | "pending_destroy" | "destroying"))
            .map(|v| VolumeInfo {
                id: v.id,
                name: v.name,
                region: v.region,
                size_gb: u32::try_from(v.size_gb).unwrap_or(u32::MAX),
                attached_machine: v.attached_machine_id,
            })
            .collect())
    }

    fn list_secret_names(&self, app: &str) -> Result<Vec<String>, QueryError> {
        Ok(self.client.list_secrets(app).map_err(query_error)?.into_iter().map(|s| s.name).collect())
    }

    fn list_ips(&self, app: &str) -> Result<Vec<IpInfo>, QueryError> {
        let ips = self.client.list_ips(app).map_err(query_error)?;
        Ok(ips.into_iter().map(|ip| IpInfo { kind: ip_kind(&ip).into(), address: ip.ip, region: ip.region }).collect())
    }

    fn list_certificates(&self, app: &str) -> Result<Vec<CertificateInfo>, QueryError> {
        let certs = self.client.list_certificates(app).map_err(query_error)?;
        Ok(certs.into_iter().map(|c| CertificateInfo { hostname: c.hostname, status: c.status }).collect())
    }
}

/// The API lists addresses without their type; flyctl infers it the same way.
pub fn ip_kind(ip: &IpAssignment) -> &'static str {
    match (ip.shared, ip.ip.contains(':'), ip.ip.starts_with("fdaa:")) {
        (true, _, _) => "shared_v4",
        (false, true, true) => "private_v6",
        (false, true, false) => "v6",
        (false, false, _) => "v4",
    }
}

fn query_error(e: FlyError) -> QueryError {
    match e.status() {
        Some(404) => QueryError::NotFound(e.to_string()),
        Some(401 | 403) => QueryError::Denied(e.to_string()),
        _ => QueryError::Failed(e.to_string()),
    }
}
