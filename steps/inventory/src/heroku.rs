//! A Heroku app's Procfile and app.json, read into the same app-spec shape
//! as a Fly app so the rest of ferry plans both alike.
//!
//! Mapping (as `fly launch` does for Heroku apps): the `web` process is an
//! HTTP service on internal port 8080 with `PORT=8080` set (Heroku's router
//! assigns $PORT), `release` is the release command, every config var is a
//! secret by name unless app.json gives it a plain default value, and the
//! add-ons' own config vars (DATABASE_URL, REDIS_URL…) are secrets too.

use ferry_step_sdk::types::{Addon, Formation, Process, Service};
use serde_json::Value;

use crate::findings::{Findings, Spot};
use crate::node::Pos;

/// The port a migrated `web` process listens on.
pub const WEB_PORT: u16 = 8080;

/// Procfile process types, in file order (`release` included).
pub fn procfile(text: &str, findings: &mut Findings) -> Vec<Process> {
    let mut out: Vec<Process> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let spot = Spot::new(Some(Pos { line: n as u32 + 1, column: 1 }), "");
        let Some((name, command)) = trimmed.split_once(':') else {
            findings.warn("procfile-syntax", format!("`{trimmed}` is not `name: command`"), spot);
            continue;
        };
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            findings.warn("procfile-syntax", format!("`{name}` is not a process type name (letters, digits, _ and -)"), spot);
            continue;
        }
        let command = command.trim().to_string();
        match out.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                findings.warn("procfile-duplicate", format!("process type `{name}` is defined twice; the last one wins"), spot);
                p.command = command;
            }
            None => out.push(Process { name: name.to_string(), command }),
        }
    }
    out
}

/// What app.json adds to an inventory.
#[derive(Debug, Default)]
pub struct AppJson {
    pub name: Option<String>,
    pub env: Vec<(String, String)>,
    pub secrets: Vec<String>,
    pub formation: Vec<Formation>,
    pub addons: Vec<Addon>,
    pub buildpacks: Vec<String>,
    pub scripts: Vec<(String, String)>,
}

pub fn app_json(text: &str, findings: &mut Findings) -> Result<AppJson, crate::read::Problem> {
    let root: Value = serde_json::from_str(text).map_err(|e| crate::read::Problem {
        message: format!("app.json is not valid JSON: {}", e.to_string().split(" at line ").next().unwrap_or_default()),
        key: String::new(),
        pos: Some(Pos { line: e.line() as u32, column: e.column() as u32 }),
    })?;
    let Value::Object(root) = root else {
        return Err(crate::read::Problem { message: "app.json must be a JSON object".into(), key: String::new(), pos: None });
    };
    let mut out = AppJson { name: root.get("name").and_then(Value::as_str).map(str::to_string), ..AppJson::default() };
    if let Some(Value::Object(env)) = root.get("env") {
        for (name, spec) in env {
            match spec {
                Value::String(v) => out.env.push((name.clone(), v.clone())),
                Value::Object(o) => {
                    let value = o.get("value").and_then(Value::as_str);
                    let required = o.get("required").and_then(Value::as_bool).unwrap_or(false);
                    match (value, o.get("generator"), required) {
                        (Some(v), None, false) => out.env.push((name.clone(), v.to_string())),
                        _ => out.secrets.push(name.clone()),
                    }
                }
                other => out.env.push((name.clone(), other.to_string())),
            }
        }
    }
    if let Some(Value::Object(formation)) = root.get("formation") {
        for (process, spec) in formation {
            out.formation.push(Formation {
                process: process.clone(),
                quantity: spec.get("quantity").and_then(Value::as_u64).and_then(|q| u32::try_from(q).ok()),
                size: spec.get("size").and_then(Value::as_str).map(str::to_string),
            });
        }
    }
    if let Some(Value::Array(addons)) = root.get("addons") {
        for a in addons {
            let plan = match a {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("plan").and_then(Value::as_str).map(str::to_string),
                _ => None,
            };
            let Some(plan) = plan else {
                findings.warn("app-json", format!("add-on {a} has no plan"), Spot::new(None, "addons"));
                continue;
            };
            let (name, tier) = match plan.split_once(':') {
                Some((n, t)) => (n.to_string(), Some(t.to_string())),
                None => (plan, None),
            };
            for var in addon_vars(&name) {
                if !out.secrets.iter().any(|s| s == var) {
                    out.secrets.push(var.to_string());
                }
            }
            out.addons.push(Addon { name, plan: tier });
        }
    }
    if let Some(Value::Array(packs)) = root.get("buildpacks") {
        out.buildpacks = packs.iter().filter_map(|b| b.get("url").and_then(Value::as_str).map(str::to_string)).collect();
    }
    if let Some(Value::Object(scripts)) = root.get("scripts") {
        out.scripts = scripts.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect();
    }
    Ok(out)
}

/// The config vars an add-on sets on the app.
fn addon_vars(addon: &str) -> &'static [&'static str] {
    match addon {
        "heroku-postgresql" => &["DATABASE_URL"],
        "heroku-redis" | "rediscloud" | "redistogo" => &["REDIS_URL"],
        "memcachier" => &["MEMCACHIER_SERVERS", "MEMCACHIER_USERNAME", "MEMCACHIER_PASSWORD"],
        "sendgrid" => &["SENDGRID_API_KEY"],
        "papertrail" => &["PAPERTRAIL_API_TOKEN"],
        "bucketeer" => &["BUCKETEER_AWS_ACCESS_KEY_ID", "BUCKETEER_AWS_SECRET_ACCESS_KEY", "BUCKETEER_BUCKET_NAME"],
        _ => &[],
    }
}

/// The service a `web` process becomes: $PORT (8080) behind 80 and 443.
pub fn web_service() -> Service {
    Service {
        protocol: ferry_step_sdk::types::ServiceProtocol::Tcp,
        internal_port: WEB_PORT,
        ports: crate::fly::sections::http_ports(true, None, None),
        processes: vec!["web".into()],
        http_service: true,
        auto_stop_machines: None,
        auto_start_machines: None,
        min_machines_running: None,
        concurrency: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procfile_forms() {
        let mut f = Findings::new("Procfile");
        let p = procfile("# dev\nweb:   bundle exec puma -p $PORT\n\nworker: sidekiq\nrelease: rails db:migrate\nbad line\nworker: good_job\n", &mut f);
        let names: Vec<(&str, &str)> = p.iter().map(|p| (p.name.as_str(), p.command.as_str())).collect();
        assert_eq!(names, [("web", "bundle exec puma -p $PORT"), ("worker", "good_job"), ("release", "rails db:migrate")]);
        let codes: Vec<String> = f.into_vec().into_iter().map(|f| f.code).collect();
        assert_eq!(codes, ["procfile-syntax", "procfile-duplicate"]);
    }

    #[test]
    fn app_json_env_and_addons() {
        let mut f = Findings::new("app.json");
        let a = app_json(
            r#"{"name": "Shop", "env": {"RAILS_ENV": {"value": "production"}, "SECRET_KEY_BASE": {"generator": "secret"},
                "S3_BUCKET": {"required": true}, "PLAIN": "x"},
               "formation": {"web": {"quantity": 2, "size": "standard-1x"}},
               "addons": ["heroku-postgresql:mini", {"plan": "heroku-redis"}],
               "buildpacks": [{"url": "heroku/ruby"}], "scripts": {"postdeploy": "bin/rails db:seed"}}"#,
            &mut f,
        )
        .unwrap();
        assert_eq!(a.env, [("RAILS_ENV".to_string(), "production".to_string()), ("PLAIN".to_string(), "x".to_string())]);
        assert_eq!(a.secrets, ["SECRET_KEY_BASE", "S3_BUCKET", "DATABASE_URL", "REDIS_URL"]);
        assert_eq!(a.addons[0].name, "heroku-postgresql");
        assert_eq!(a.addons[0].plan.as_deref(), Some("mini"));
        assert_eq!(a.formation[0].quantity, Some(2));
        assert_eq!(a.buildpacks, ["heroku/ruby"]);
    }
}
