//! Health checks: each configured check runs against the machine process's
//! loopback port for as long as the process runs, and its result is what the
//! machine JSON reports in `checks`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::CheckPlan;
use crate::emulator::{Emulator, HttpClient};
use crate::state::CheckState;

/// Which process run the results belong to: results of an older run (the
/// process was restarted meanwhile) are dropped.
#[derive(Debug, Clone)]
pub struct Target {
    pub app: String,
    pub machine: String,
    pub run_id: u64,
}

/// Runs every check of one process run; aborting the returned task stops them all.
pub fn spawn(emulator: Arc<Emulator>, target: Target, plans: Vec<CheckPlan>, ports: &BTreeMap<u16, u16>) -> JoinHandle<()> {
    let probes: Vec<(CheckPlan, Option<SocketAddr>)> = plans
        .into_iter()
        .map(|plan| {
            let address = plan.port.and_then(|port| ports.get(&port));
            let address = address.map(|&local| SocketAddr::from((Ipv4Addr::LOCALHOST, local)));
            (plan, address)
        })
        .collect();
    tokio::spawn(async move {
        let mut checks = JoinSet::new();
        for (plan, address) in probes {
            checks.spawn(run_check(emulator.clone(), target.clone(), plan, address));
        }
        while checks.join_next().await.is_some() {}
    })
}

async fn run_check(emulator: Arc<Emulator>, target: Target, plan: CheckPlan, address: Option<SocketAddr>) {
    tokio::time::sleep(plan.grace_period).await;
    loop {
        let (status, output) = match address {
            None => (CheckState::Critical, "the check names no port of the machine".to_string()),
            Some(address) if plan.http => probe_http(&emulator.http, &plan, address).await,
            Some(address) => probe_tcp(&plan, address).await,
        };
        record(&emulator, &target, &plan.name, status, output);
        tokio::time::sleep(plan.interval).await;
    }
}

fn record(emulator: &Emulator, target: &Target, name: &str, status: CheckState, output: String) {
    emulator.write(|state| {
        let Some(machine) = state.machine_mut(&target.app, &target.machine) else {
            return;
        };
        if machine.run_id != target.run_id || machine.process.is_none() {
            return;
        }
        if let Some(check) = machine.checks.iter_mut().find(|check| check.name == name) {
            check.status = status;
            check.output = output;
            check.updated_at = SystemTime::now();
        }
    });
}

async fn probe_tcp(plan: &CheckPlan, address: SocketAddr) -> (CheckState, String) {
    let port = plan.port.unwrap_or_default();
    match tokio::time::timeout(plan.timeout, TcpStream::connect(address)).await {
        Ok(Ok(_)) => (CheckState::Passing, format!("TCP connect 0.0.0.0:{port}: Success")),
        Ok(Err(e)) => (CheckState::Critical, format!("dial tcp 0.0.0.0:{port}: {e}")),
        Err(_) => (CheckState::Critical, format!("dial tcp 0.0.0.0:{port}: i/o timeout")),
    }
}

/// Consul's rules: 2xx passes, 429 warns, anything else is critical.
async fn probe_http(client: &HttpClient, plan: &CheckPlan, address: SocketAddr) -> (CheckState, String) {
    let shown = format!("{} http://0.0.0.0:{}{}", plan.method, plan.port.unwrap_or_default(), plan.path);
    let request = Method::from_bytes(plan.method.as_bytes()).map_err(|e| e.to_string()).and_then(|method| {
        Request::builder().method(method).uri(format!("http://{address}{}", plan.path)).body(Full::new(Bytes::new())).map_err(|e| e.to_string())
    });
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            return (CheckState::Critical, format!("HTTP {shown}: invalid request: {e}"));
        }
    };
    let exchange = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((status, body))
    };
    match tokio::time::timeout(plan.timeout, exchange).await {
        Err(_) => (CheckState::Critical, format!("HTTP {shown}: timeout after {:?}", plan.timeout)),
        Ok(Err(e)) => (CheckState::Critical, format!("HTTP {shown}: {e}")),
        Ok(Ok((status, body))) => {
            let state = match status.as_u16() {
                200..=299 => CheckState::Passing,
                429 => CheckState::Warning,
                _ => CheckState::Critical,
            };
            let text = String::from_utf8_lossy(&body);
            let excerpt: String = text.chars().take(200).collect();
            (state, format!("HTTP {shown}: {status} Output: {excerpt:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn plan(http: bool, path: &str) -> CheckPlan {
        CheckPlan {
            name: "c".into(),
            http,
            port: Some(8080),
            path: path.into(),
            method: "GET".into(),
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(500),
            grace_period: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn tcp_probe_fails_on_a_closed_port_and_passes_on_an_open_one() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        assert_eq!(probe_tcp(&plan(false, "/"), open).await.0, CheckState::Passing);
        drop(listener);
        assert_eq!(probe_tcp(&plan(false, "/"), open).await.0, CheckState::Critical);
    }

    #[tokio::test]
    async fn http_probe_maps_status_codes() {
        use axum::http::StatusCode;
        let app = axum::Router::new()
            .route("/ok", axum::routing::get(|| async { "fine" }))
            .route("/busy", axum::routing::get(|| async { StatusCode::TOO_MANY_REQUESTS }))
            .route("/broken", axum::routing::get(|| async { StatusCode::INTERNAL_SERVER_ERROR }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let client = Emulator::new("unused".into(), crate::data_dir::DataDir::open(Some(&std::env::temp_dir())).unwrap(), None).http.clone();
        let (state, output) = probe_http(&client, &plan(true, "/ok"), address).await;
        assert_eq!(state, CheckState::Passing);
        assert!(output.contains("200 OK") && output.contains("fine"), "{output}");
        assert_eq!(probe_http(&client, &plan(true, "/busy"), address).await.0, CheckState::Warning);
        assert_eq!(probe_http(&client, &plan(true, "/broken"), address).await.0, CheckState::Critical);
    }
}
