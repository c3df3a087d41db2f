//! Provision, deploy and rollback plans for a two-group app (web behind
//! nginx with a health check, a worker with a volume, a release command),
//! on host states shaped like the `vm` import's answers.

use ferry_inventory::MemoryFiles;
use ferry_step_sdk::host::vm::{ContainerState, HostFacts, VmTargetInfo};
use ferry_step_sdk::types::{AppSpec, Operation, StepError, VmBuild, VmImageSource, VmOp};
use ferry_vm_plan::app::VmApp;
use ferry_vm_plan::deploy::{self, ImageFrom, Options};
use ferry_vm_plan::observed::{Observed, ReleaseRecord};
use ferry_vm_plan::provision;

const PG_IMAGE: &str = "postgres:16";

const SHOP: &str = r#"
app = "shop"
kill_timeout = "7s"
[processes]
  web = "bin/web --port 8080"
  worker = "bin/worker"
[deploy]
  release_command = "bin/migrate up"
[env]
  MODE = "prod"
[mounts]
  source = "shop_data"
  destination = "/data"
  processes = ["worker"]
[http_service]
  internal_port = 8080
  processes = ["web"]
  [[http_service.checks]]
    path = "/healthz"
"#;

fn spec() -> AppSpec {
    let mut spec = ferry_inventory::inventory(&MemoryFiles::fly_toml(SHOP), None).unwrap_or_else(|e| panic!("{e:?}"));
    spec.secrets = vec!["SESSION_KEY".into(), "DATABASE_URL".into()];
    spec
}

fn observed(facts: HostFacts, containers: Vec<ContainerState>, releases: &[u32]) -> Observed {
    let target = VmTargetInfo {
        name: "prod".into(),
        root: "/srv".into(),
        nginx_sites: "/etc/nginx/conf.d".into(),
        lock_ttl_ms: 120_000,
        lock_path: "/srv/.ferry.lock".into(),
        keep: 3,
        postgres_image: Some(PG_IMAGE.into()),
        acme: None,
        address: None,
        ssh_key_env: "FERRY_SECRET_SSH_KEY".into(),
        known_hosts_env: "FERRY_SECRET_KNOWN_HOSTS".into(),
    };
    let releases = releases
        .iter()
        .map(|&n| ReleaseRecord { number: n, image: format!("ferry-shop:release-{n}"), port: Some(20000 + n as u16), source: "built".into() })
        .collect();
    Observed { target, facts, containers, releases, certificate: None }
}

fn ready() -> HostFacts {
    HostFacts {
        os: "Debian GNU/Linux 12 (bookworm)".into(),
        arch: "x86_64".into(),
        docker: Some("24.0.7".into()),
        free_disk_mb: Some(40_000),
        listening_ports: vec![22, 80],
        nginx: true,
        certbot: true,
    }
}

fn container(group: &str, release: u32, state: &str) -> ContainerState {
    ContainerState {
        name: format!("shop-{group}-{release}"),
        image: format!("ferry-shop:release-{release}"),
        state: state.into(),
        labels: vec![("ferry.app".into(), "shop".into()), ("ferry.group".into(), group.into()), ("ferry.release".into(), release.to_string())],
    }
}

fn serving(release: u32) -> Vec<ContainerState> {
    vec![container("web", release, "running"), container("worker", release, "running")]
}

fn options() -> Options {
    Options {
        image: ImageFrom::Build(VmBuild { dir: ".".into(), dockerfile: None, target: None, args: Vec::new(), ignorefile: None }),
        hostnames: vec!["shop.example.com".into()],
        wait_timeout_ms: 30_000,
        tls: None,
    }
}

fn ids(actions: &[ferry_step_sdk::types::Action]) -> Vec<&str> {
    actions.iter().map(|a| a.id.split(':').next().unwrap()).collect()
}

fn provision(app: &VmApp, observed: &Observed, provided: &[&str]) -> ferry_vm_plan::Planned {
    let options = provision::Options { provided_secrets: provided.iter().map(|s| s.to_string()).collect(), wait_timeout_ms: 30_000 };
    provision::plan(app, observed, &options)
}

fn messages(planned: &ferry_vm_plan::Planned) -> Vec<&str> {
    planned.findings.iter().map(|f| f.message.as_str()).collect()
}

#[test]
fn provision_installs_what_is_missing_and_runs_postgres_for_the_database_url() {
    let app = VmApp::new(&spec(), "/srv").unwrap();
    let bare = HostFacts { docker: None, nginx: false, free_disk_mb: Some(900), listening_ports: vec![22, 5432], ..ready() };
    let planned = provision(&app, &observed(bare, Vec::new(), &[]), &["SESSION_KEY"]);
    assert_eq!(
        ids(&planned.actions),
        ["vm-lock", "vm-install-packages", "vm-mkdir", "vm-network", "vm-secret", "vm-env-file", "vm-run", "vm-env-file", "vm-unlock"]
    );
    let Operation::Vm(VmOp::InstallPackages(p)) = &planned.actions[1].operation else { panic!() };
    assert_eq!(p.packages, ["docker.io", "nginx"]);
    let Operation::Vm(VmOp::Mkdir(dirs)) = &planned.actions[2].operation else { panic!() };
    assert_eq!(dirs.paths, ["/srv/shop", "/srv/shop/releases", "/srv/acme", "/srv/shop/volumes/shop_data", "/srv/shop/postgres/data"]);
    let Operation::Vm(VmOp::Secret(password)) = &planned.actions[4].operation else { panic!() };
    assert_eq!(password.path, "/srv/shop/postgres/password");
    let Operation::Vm(VmOp::EnvFile(pg_env)) = &planned.actions[5].operation else { panic!() };
    assert_eq!(pg_env.path, "/srv/shop/postgres/env");
    assert_eq!((pg_env.from_files[0].name.as_str(), pg_env.from_files[0].path.as_str()), ("POSTGRES_PASSWORD", "/srv/shop/postgres/password"));
    let Operation::Vm(VmOp::Run(pg)) = &planned.actions[6].operation else { panic!() };
    assert_eq!((pg.name.as_str(), pg.image.as_str(), pg.network.as_deref()), ("shop-postgres", PG_IMAGE, Some("shop")));
    // 5432 is taken on the host: the next port, and on loopback only.
    assert_eq!((pg.ports[0].host_ip.as_str(), pg.ports[0].host_port, pg.ports[0].container_port), ("127.0.0.1", 5433, 5432));
    assert_eq!(pg.volumes, [("/srv/shop/postgres/data".to_string(), "/var/lib/postgresql/data".to_string())]);
    assert_eq!(pg.health.as_ref().unwrap().exec[0], "pg_isready");
    let Operation::Vm(VmOp::EnvFile(env)) = &planned.actions[7].operation else { panic!() };
    assert_eq!(
        (env.path.as_str(), env.env.as_slice(), env.secrets.as_slice()),
        ("/srv/shop/env", &[("MODE".to_string(), "prod".to_string())][..], &["SESSION_KEY".to_string()][..])
    );
    let url = &env.from_files[0];
    assert_eq!((url.name.as_str(), url.path.as_str()), ("DATABASE_URL", "/srv/shop/postgres/password"));
    assert_eq!(url.template, "postgres://shop:{file}@shop-postgres:5432/shop?sslmode=disable");
    assert!(!planned.findings.iter().any(|f| f.code == "secret-placeholders"), "the database URL is made, not a placeholder");
    assert!(messages(&planned).iter().any(|m| m.contains("only 900 MB free")), "{:?}", messages(&planned));
    assert!(messages(&planned).iter().any(|m| m.contains("shop-postgres:5432") && m.contains("127.0.0.1:5433")), "{:?}", messages(&planned));

    let running = vec![ContainerState {
        name: "shop-postgres".into(),
        image: PG_IMAGE.into(),
        state: "exited".into(),
        labels: vec![("ferry.app".into(), "shop".into())],
    }];
    let planned = provision(&app, &observed(ready(), running, &[]), &["SESSION_KEY"]);
    assert!(!ids(&planned.actions).contains(&"vm-install-packages"), "nothing to install on a ready host");
    assert!(planned.actions[5].summary.starts_with("keep shop-postgres running"), "{}", planned.actions[5].summary);
}

#[test]
fn a_given_database_url_or_postgres_false_runs_no_database() {
    let app = VmApp::new(&spec(), "/srv").unwrap();
    let planned = provision(&app, &observed(ready(), Vec::new(), &[]), &["SESSION_KEY", "DATABASE_URL"]);
    assert_eq!(ids(&planned.actions), ["vm-lock", "vm-mkdir", "vm-network", "vm-env-file", "vm-unlock"]);
    let Operation::Vm(VmOp::EnvFile(env)) = &planned.actions[3].operation else { panic!() };
    assert_eq!((env.secrets.len(), env.from_files.len()), (2, 0));
    assert!(!planned.findings.iter().any(|f| f.code == "secret-placeholders"));
    assert!(messages(&planned).iter().any(|m| m.contains("keeps that database")), "{:?}", messages(&planned));

    let mut none = observed(ready(), Vec::new(), &[]);
    none.target.postgres_image = None;
    let planned = provision(&app, &none, &["SESSION_KEY"]);
    assert!(!ids(&planned.actions).contains(&"vm-secret"));
    assert!(messages(&planned).iter().any(|m| m.contains("no value for DATABASE_URL") && m.contains("FERRY_SECRET_DATABASE_URL")), "{:?}", messages(&planned));
    assert!(messages(&planned).iter().any(|m| m.contains("postgres = false")), "{:?}", messages(&planned));
}

#[test]
fn a_first_release_builds_migrates_starts_health_gated_then_switches_nginx() {
    let app = VmApp::new(&spec(), "/srv").unwrap();
    let planned = deploy::plan(&app, &observed(ready(), Vec::new(), &[]), &options());
    assert_eq!(ids(&planned.actions), ["vm-lock", "vm-image", "vm-release-command", "vm-run", "vm-run", "vm-switch", "vm-record", "vm-unlock"]);
    let Operation::Vm(VmOp::Image(image)) = &planned.actions[1].operation else { panic!() };
    assert_eq!(image.tag, "ferry-shop:release-1");
    assert!(matches!(&image.source, VmImageSource::Build(b) if b.dir == "." && b.dockerfile.is_none()), "{:?}", image.source);
    let Operation::Vm(VmOp::ReleaseCommand(release)) = &planned.actions[2].operation else { panic!() };
    assert_eq!((release.name.as_str(), release.command.as_slice()), ("shop-release-1", &["bin/migrate".to_string(), "up".to_string()][..]));
    let Operation::Vm(VmOp::Run(web)) = &planned.actions[3].operation else { panic!() };
    assert_eq!(web.name, "shop-web-1");
    assert_eq!(web.command, ["bin/web", "--port", "8080"]);
    assert_eq!((web.ports[0].host_ip.as_str(), web.ports[0].host_port, web.ports[0].container_port), ("127.0.0.1", 20001, 8080));
    let health = web.health.as_ref().unwrap();
    assert_eq!((health.port, health.path.as_str(), health.timeout_ms), (20001, "/healthz", 30_000));
    let Operation::Vm(VmOp::Run(worker)) = &planned.actions[4].operation else { panic!() };
    assert!(worker.ports.is_empty() && worker.health.is_none());
    assert_eq!(worker.volumes, [("/srv/shop/volumes/shop_data".to_string(), "/data".to_string())]);
    let Operation::Vm(VmOp::WriteFile(site)) = &planned.actions[5].operation else { panic!() };
    assert_eq!(site.path, "/etc/nginx/conf.d/shop.conf");
    assert!(site.contents.contains("server 127.0.0.1:20001;") && site.contents.contains("server_name shop.example.com;"), "{}", site.contents);
    assert!(site.reload, "the switch reloads nginx with the target's own command");
    assert!(!site.contents.contains("443"), "no certificate, no TLS server");
    let tls = Options { tls: Some(ferry_vm_plan::nginx::Tls { certificate: "/etc/ssl/shop.pem".into(), key: "/etc/ssl/shop.key".into() }), ..options() };
    let Operation::Vm(VmOp::WriteFile(site)) = &deploy::plan(&app, &observed(ready(), Vec::new(), &[]), &tls).actions[5].operation else { panic!() };
    assert!(site.contents.contains("listen 443 ssl;") && site.contents.contains("ssl_certificate /etc/ssl/shop.pem;"), "{}", site.contents);
    let Operation::Vm(VmOp::WriteFile(record)) = &planned.actions[6].operation else { panic!() };
    assert_eq!(record.path, "/srv/shop/releases/1.json");
    assert_eq!(Observed::parse_releases(&[record.contents.trim().to_string()])[0].port, Some(20001));
}

#[test]
fn the_next_release_stops_the_serving_one_and_prunes_beyond_the_kept() {
    let app = VmApp::new(&spec(), "/srv").unwrap();
    let mut facts = ready();
    facts.listening_ports.push(20002); // release 2 listens; 3 takes its own slot
    let planned = deploy::plan(&app, &observed(facts, serving(2), &[1, 2]), &options());
    assert_eq!(ids(&planned.actions), ["vm-lock", "vm-image", "vm-release-command", "vm-run", "vm-run", "vm-switch", "vm-stop", "vm-record", "vm-unlock"]);
    let Operation::Vm(VmOp::Run(web)) = &planned.actions[3].operation else { panic!() };
    assert_eq!((web.name.as_str(), web.ports[0].host_port), ("shop-web-3", 20003));
    let Operation::Vm(VmOp::Stop(stop)) = &planned.actions[6].operation else { panic!() };
    assert_eq!((stop.names.as_slice(), stop.grace_secs), (&["shop-web-2".to_string(), "shop-worker-2".to_string()][..], 7));

    let mut many = serving(4);
    many.extend([container("web", 1, "exited"), container("web", 2, "exited"), container("web", 3, "exited")]);
    let planned = deploy::plan(&app, &observed(ready(), many, &[1, 2, 3, 4]), &options());
    let Some(Operation::Vm(VmOp::Remove(removed))) = planned.actions.iter().map(|a| &a.operation).find(|o| matches!(o, Operation::Vm(VmOp::Remove(_)))) else {
        panic!("{:?}", ids(&planned.actions))
    };
    assert_eq!(removed.names, ["shop-web-1", "shop-web-2"], "releases 5, 4 and 3 are kept");
    assert_eq!(kept_images(&planned).unwrap(), ["ferry-shop:release-3", "ferry-shop:release-4", "ferry-shop:release-5"]);
}

/// The tags a plan's `vm-remove-images` keeps (`None`: no such action).
fn kept_images(planned: &ferry_vm_plan::Planned) -> Option<Vec<String>> {
    planned.actions.iter().find_map(|a| match &a.operation {
        Operation::Vm(VmOp::RemoveImages(images)) => {
            assert_eq!(images.repository, "ferry-shop");
            Some(images.keep.clone())
        }
        _ => None,
    })
}

/// With one release kept, the serving release's container goes at the next
/// deploy but its image stays for `--rollback`; every other image of the
/// app goes. Within `keep`, nothing is removed.
#[test]
fn images_go_with_their_containers_except_the_one_rollback_starts() {
    let app = VmApp::new(&spec(), "/srv").unwrap();
    let mut host = observed(ready(), serving(2), &[1, 2]);
    host.target.keep = 1;
    let planned = deploy::plan(&app, &host, &options());
    assert_eq!(ids(&planned.actions).iter().rev().take(3).copied().collect::<Vec<_>>(), ["vm-unlock", "vm-remove-images", "vm-remove"]);
    assert_eq!(kept_images(&planned).unwrap(), ["ferry-shop:release-2", "ferry-shop:release-3"], "--rollback after release 3 starts release 2");

    let planned = deploy::plan(&app, &observed(ready(), serving(2), &[1, 2]), &options());
    assert_eq!(kept_images(&planned), None, "keep = 3: releases 1, 2 and 3 all stay");
}

#[test]
fn rollback_starts_the_previous_release_and_refuses_without_one() {
    let app = VmApp::new(&spec(), "/srv").unwrap();
    let mut containers = serving(2);
    containers.extend([container("web", 1, "exited"), container("worker", 1, "exited")]);
    let planned = deploy::rollback(&app, &observed(ready(), containers, &[1, 2]), &options()).unwrap();
    assert_eq!(ids(&planned.actions), ["vm-lock", "vm-run", "vm-run", "vm-switch", "vm-stop", "vm-unlock"]);
    let Operation::Vm(VmOp::Run(web)) = &planned.actions[1].operation else { panic!() };
    assert_eq!((web.name.as_str(), web.image.as_str(), web.ports[0].host_port), ("shop-web-1", "ferry-shop:release-1", 20001));
    let Operation::Vm(VmOp::Stop(stop)) = &planned.actions[4].operation else { panic!() };
    assert_eq!(stop.names, ["shop-web-2", "shop-worker-2"]);

    let Err(StepError::PreconditionFailed(problem)) = deploy::rollback(&app, &observed(ready(), serving(1), &[1]), &options()) else { panic!() };
    assert!(problem.message.contains("release 1 is the oldest ferry kept on prod"), "{}", problem.message);
}

#[test]
fn force_https_redirects_port_80_only_with_a_certificate_and_acme_challenges_stay_on_80() {
    let mut spec = spec();
    spec.services[0].ports.iter_mut().for_each(|p| p.force_https = true);
    let app = VmApp::new(&spec, "/srv").unwrap();
    let site_of = |planned: &ferry_vm_plan::Planned| {
        let Operation::Vm(VmOp::WriteFile(site)) = &planned.actions[5].operation else { panic!("{:?}", ids(&planned.actions)) };
        site.contents.clone()
    };
    let planned = deploy::plan(&app, &observed(ready(), Vec::new(), &[]), &options());
    let site = site_of(&planned);
    assert!(!site.contains("return 301") && site.contains("proxy_pass http://ferry_shop;"), "no certificate: 80 serves the app\n{site}");
    assert!(site.contains("location ^~ /.well-known/acme-challenge/ {\n        root /srv/acme;"), "{site}");
    assert!(planned.findings.iter().any(|f| f.code == "force-https-without-certificate" && f.message.contains("-w /srv/acme")), "{:?}", planned.findings);

    let tls = Options { tls: Some(ferry_vm_plan::nginx::Tls { certificate: "/etc/ssl/shop.pem".into(), key: "/etc/ssl/shop.key".into() }), ..options() };
    let planned = deploy::plan(&app, &observed(ready(), Vec::new(), &[]), &tls);
    let site = site_of(&planned);
    let (plain, secure) = site.split_once("listen 443 ssl;").unwrap();
    assert!(plain.contains("return 301 https://$host$request_uri;") && !plain.contains("proxy_pass"), "{site}");
    assert!(plain.contains("acme-challenge") && secure.contains("proxy_pass http://ferry_shop;"), "{site}");
    assert!(planned.actions[5].summary.contains("443, with 80 redirecting to it"), "{}", planned.actions[5].summary);
    assert!(!planned.findings.iter().any(|f| f.code == "force-https-without-certificate"));
}

/// A target with `[acme]`: the deploy issues the site's certificate when the
/// host has none, has one for other names, or has one within 30 days of
/// expiry; otherwise it only shows the expiry.
#[test]
fn a_managed_certificate_is_issued_when_due_and_its_expiry_is_always_shown() {
    use ferry_step_sdk::host::vm::{AcmeInfo, CertificateInfo};
    let app = VmApp::new(&spec(), "/srv").unwrap();
    let mut observed = observed(ready(), serving(1), &[1]);
    observed.target.acme = Some(AcmeInfo { dns_zone: Some("example.com.".into()) });
    let cert = |names: &[&str], days_left: i64| CertificateInfo {
        names: names.iter().map(|n| n.to_string()).collect(),
        not_after: "2027-03-01T00:00:00Z".into(),
        days_left,
    };

    let fresh = deploy::plan(&app, &observed, &options());
    assert_eq!(ids(&fresh.actions)[..2], ["vm-lock", "vm-certificate"], "issued before anything runs");
    let Operation::Vm(VmOp::Certificate(c)) = &fresh.actions[1].operation else { panic!() };
    assert_eq!(c.names, ["shop.example.com"]);
    assert_eq!((c.certificate.as_str(), c.key.as_str()), ("/srv/shop/tls/fullchain.pem", "/srv/shop/tls/privkey.pem"));
    assert_eq!((c.dns_zone.as_deref(), c.reload), (Some("example.com."), false));
    assert!(fresh.actions[1].summary.ends_with("(DNS-01 in example.com.): there is none yet"), "{}", fresh.actions[1].summary);
    let Some(Operation::Vm(VmOp::WriteFile(site))) = fresh.actions.iter().find(|a| a.id.starts_with("vm-switch")).map(|a| &a.operation) else { panic!() };
    assert!(site.contents.contains("listen 443 ssl;") && site.contents.contains("ssl_certificate /srv/shop/tls/fullchain.pem;"), "{}", site.contents);

    observed.certificate = Some(cert(&["shop.example.com"], 60));
    let valid = deploy::plan(&app, &observed, &options());
    assert!(!ids(&valid.actions).contains(&"vm-certificate"));
    assert!(messages(&valid).contains(&"the certificate /srv/shop/tls/fullchain.pem for shop.example.com is valid until 2027-03-01T00:00:00Z (60 days left)"));

    observed.certificate = Some(cert(&["shop.example.com"], 29));
    let renew = deploy::plan(&app, &observed, &options());
    assert!(renew.actions[1].summary.ends_with("it expires 2027-03-01T00:00:00Z (29 days left)"), "{}", renew.actions[1].summary);

    observed.certificate = Some(cert(&["old.example.com"], 80));
    let renamed = deploy::plan(&app, &observed, &options());
    assert!(renamed.actions[1].summary.ends_with("it is for old.example.com, the site serves shop.example.com"), "{}", renamed.actions[1].summary);

    // A certificate the user gives is never replaced, only reported.
    observed.certificate = Some(cert(&["shop.example.com"], -2));
    let given = Options { tls: Some(ferry_vm_plan::nginx::Tls { certificate: "/etc/ssl/shop.pem".into(), key: "/etc/ssl/shop.key".into() }), ..options() };
    let planned = deploy::plan(&app, &observed, &given);
    assert!(!ids(&planned.actions).contains(&"vm-certificate"));
    assert!(messages(&planned).contains(&"the certificate /etc/ssl/shop.pem expired 2027-03-01T00:00:00Z (2 days ago)"));

    // No names, no certificate: the site answers every name on port 80.
    let anonymous = deploy::plan(&app, &observed, &Options { hostnames: Vec::new(), ..options() });
    assert!(!ids(&anonymous.actions).contains(&"vm-certificate"));
}
