//! `ferry deploy --target vm` against a "VM": a network namespace with real
//! sshd, dockerd and nginx (ferry-test-support's vm.rs), the image built on it from the
//! checkout's Dockerfile (no registry), and requests from a client in a
//! namespace of its own: provision, a first release, a second one under a
//! request loop with no failed request, a rollback, a broken release that
//! leaves the serving one, host locks left by a killed run or held by
//! another, and the Postgres an app that had Fly Postgres gets on the host.

use std::path::PathBuf;

use crate::support::fly::FlyWorld;
use crate::support::github::{FakeGitHub, Pull, Runner, pull_request_event, push_event};
use crate::support::pg_cluster::{Cluster, seed_app};
use crate::support::vm::{BASE_IMAGE, Client, Vm};
use crate::support::{checkout, run};

const FLY_TOML: &str = r#"app = "shop"
kill_timeout = "2s"

[deploy]
  release_command = "sh -c 'echo migrating $GREETING'"

[env]
  GREETING = "hello"

[mounts]
  source = "shop_data"
  destination = "/data"

[http_service]
  internal_port = 8080

  [[http_service.checks]]
    path = "/"
"#;

/// An image serving `body` on 8080 with busybox httpd.
fn dockerfile(body: &str) -> String {
    format!("FROM {BASE_IMAGE}\nRUN mkdir -p /www && echo {body} > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n")
}

struct World {
    vm: Vm,
    client: Client,
    checkout: tempfile::TempDir,
    cache: tempfile::TempDir,
    state: tempfile::TempDir,
}

impl World {
    fn start() -> World {
        World::start_with(FLY_TOML, |_| String::new())
    }

    /// A world for the app `fly_toml` describes, whose `[targets.vm.test]`
    /// also has the lines `extra` gives for its VM (a `lock_ttl` there
    /// replaces the tests' 30 s).
    fn start_with(fly_toml: &str, extra: impl FnOnce(&Vm) -> String) -> World {
        let vm = Vm::start_with_docker_and_nginx();
        let client = Client::connect(&vm);
        let mut extra = extra(&vm);
        if !extra.contains("lock_ttl") {
            extra.push_str("lock_ttl = \"30s\"\n");
        }
        let workflow = format!("[[steps]]\nname = \"parse-config\"\n\n{}{extra}", vm.ferry_target("test"));
        let checkout = checkout(&[("fly.toml", fly_toml), ("Dockerfile", &dockerfile("v1")), ("ferry.toml", &workflow)]);
        World { vm, client, checkout, cache: tempfile::tempdir().unwrap(), state: tempfile::tempdir().unwrap() }
    }

    fn ferry(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = crate::support::ferry(&crate::support::step_cache());
        cmd.args(["deploy", "--target", "vm"])
            .args(args)
            .arg("--dir")
            .arg(self.checkout.path())
            .env("FERRY_STATE", self.state.path())
            .envs(self.vm.ferry_env())
            // No Docker engine on "this machine" unless a test gives one: the
            // image is built on the host (a developer's own dockerd must not
            // change where these tests build).
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env_remove("FLY_API_TOKEN")
            .env_remove("GITHUB_ACTIONS");
        cmd
    }

    fn deploy(&self, args: &[&str]) -> (i32, String) {
        let (code, out, err) = run(&mut self.ferry(args));
        assert!(!format!("{out}{err}").contains("PRIVATE KEY"), "the SSH key was printed");
        (code, format!("{out}{err}"))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.deploy(args);
        assert_eq!(code, 0, "ferry deploy --target vm {args:?}:\n{out}");
        out
    }

    fn set_body(&self, body: &str) {
        std::fs::write(self.checkout.path().join("Dockerfile"), dockerfile(body)).unwrap();
    }

    fn app_dir(&self) -> PathBuf {
        self.vm.dir().join("srv/shop")
    }

    /// The body served on port 80 (after nginx's reload settled).
    fn serves(&self) -> String {
        let (code, body) = self.client.get("/");
        assert_eq!(code, 200, "{body}\nnginx log:\n{}", self.vm.nginx_log());
        body.trim().to_string()
    }

    fn container_state(&self, name: &str) -> Option<String> {
        let out = self.vm.docker().args(["inspect", "-f", "{{.State.Status}}", name]).output().unwrap();
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Adds the vm-deploy step to the checkout's workflow, as a repository
    /// that plans its VM releases on pull requests does.
    fn add_vm_deploy_step(&self) {
        let path = self.checkout.path().join("ferry.toml");
        let workflow = std::fs::read_to_string(&path).unwrap();
        std::fs::write(path, workflow.replacen("[targets", "[[steps]]\nname = \"vm-deploy\"\n\n[targets", 1)).unwrap();
    }

    fn lock_file(&self) -> PathBuf {
        self.vm.dir().join("srv/.ferry.lock")
    }
}

#[test]
fn provision_deploy_switch_under_load_and_roll_back() {
    let world = World::start();
    let out = world.ok(&["--provision"]);
    assert!(out.contains("Applied"), "{out}");
    assert!(world.app_dir().join("releases").is_dir() && world.app_dir().join("volumes/shop_data").is_dir());
    let env = world.app_dir().join("env");
    assert!(std::fs::read_to_string(&env).unwrap().contains("GREETING=hello"));
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&env).unwrap().permissions()) & 0o777, 0o600);
    assert!(world.vm.docker().args(["network", "inspect", "shop"]).output().unwrap().status.success());

    let out = world.ok(&[]);
    assert!(out.contains("migrating hello") || out.contains("release command"), "the release command ran: {out}");
    assert_eq!(world.serves(), "v1");
    assert!(!world.lock_file().exists(), "the host lock is released");

    world.set_body("v2");
    let requests = world.client.start_loop("/");
    std::thread::sleep(std::time::Duration::from_millis(500));
    world.ok(&[]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let result = requests.stop();
    assert_eq!(result.failed, 0, "requests failed during the switch: {:?}", result.codes);
    assert!(result.total > 10, "the loop ran: {result:?}");
    assert_eq!(world.serves(), "v2");
    assert_eq!(world.container_state("shop-app-1").as_deref(), Some("exited"), "release 1 is stopped, kept for a rollback");

    let out = world.ok(&["--rollback"]);
    assert!(out.contains("shop-app-1"), "{out}");
    assert_eq!(world.serves(), "v1");
    assert_eq!(world.container_state("shop-app-2").as_deref(), Some("exited"));
}

#[test]
fn a_tcp_checked_app_slow_to_listen_is_not_switched_to_early() {
    // No HTTP check: the gate is "the port accepts". docker-proxy accepts on
    // the published port before the app listens, so ferry asks the container.
    let fly_toml = "app = \"shop\"\nkill_timeout = \"2s\"\n\n[[services]]\n  internal_port = 8080\n  protocol = \"tcp\"\n  [[services.ports]]\n    port = 80\n  [[services.tcp_checks]]\n    interval = \"5s\"\n";
    let world = World::start_with(fly_toml, |_| String::new());
    let slow = |body: &str| {
        format!("FROM {BASE_IMAGE}\nRUN mkdir -p /www && echo {body} > /www/index.html\nCMD [\"sh\", \"-c\", \"sleep 3; exec httpd -f -p 8080 -h /www\"]\n")
    };
    std::fs::write(world.checkout.path().join("Dockerfile"), slow("v1")).unwrap();
    world.ok(&["--provision"]);
    world.ok(&[]);
    assert_eq!(world.serves(), "v1");
    std::fs::write(world.checkout.path().join("Dockerfile"), slow("v2")).unwrap();
    let requests = world.client.start_loop("/");
    world.ok(&[]);
    let result = requests.stop();
    assert_eq!(result.failed, 0, "requests failed: the switch came before the app listened: {:?}", result.codes);
    assert_eq!(world.serves(), "v2");
}

#[test]
fn a_broken_release_leaves_the_serving_one_in_place() {
    let world = World::start();
    world.ok(&["--provision"]);
    world.ok(&[]);
    std::fs::write(world.checkout.path().join("Dockerfile"), format!("FROM {BASE_IMAGE}\nCMD [\"sh\", \"-c\", \"echo cannot start; exit 3\"]\n")).unwrap();
    let (code, out) = world.deploy(&["--wait-timeout", "20s"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("before its health check passed") && out.contains("cannot start"), "{out}");
    assert_eq!(world.serves(), "v1");
    assert_eq!(world.container_state("shop-app-2"), None, "the failed release's container is removed");
    assert!(!world.lock_file().exists(), "the rollback released the lock");
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over_and_a_live_one_refuses() {
    let world = World::start();
    world.ok(&["--provision"]);
    let mut killed = world.ferry(&[]);
    killed.env("FERRY_TEST_KILL_AT", "vm-run:test:shop-app-1:started");
    let (code, _, _) = run(&mut killed);
    assert_ne!(code, 0, "the run was killed");
    assert!(world.lock_file().exists(), "the killed run left its lock");

    let out = world.ok(&[]);
    assert!(out.contains("took over the host lock") && out.contains("is gone"), "{out}");
    assert_eq!(world.serves(), "v1");

    // Another deployer, on another machine, holds the host.
    // The host lock is the state store's lock record (ferry_state::lock).
    let far = "{\"format\":1,\"owner\":\"ci-run-7\",\"purpose\":\"deploy to this host\",\"url\":\"https://ci.example/7\",\
               \"acquired_at_ms\":1000,\"expires_at_ms\":99999999999999}\n";
    std::fs::write(world.lock_file(), far).unwrap();
    world.set_body("v2");
    let (code, out) = world.deploy(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is locked by ci-run-7 (deploy to this host, https://ci.example/7)"), "{out}");
    assert_eq!(world.serves(), "v1");

    // Its lock expired: stale, taken over.
    std::fs::write(world.lock_file(), far.replace("99999999999999", "2000")).unwrap();
    let out = world.ok(&[]);
    assert!(out.contains("took over the host lock of ci-run-7") && out.contains("expired"), "{out}");
    assert_eq!(world.serves(), "v2");
}

#[test]
fn a_silent_release_command_longer_than_the_lock_ttl_keeps_the_host_locked() {
    let fly_toml = FLY_TOML.replace("release_command = \"sh -c 'echo migrating $GREETING'\"", "release_command = \"sleep 20\"");
    let world = World::start_with(&fly_toml, |_| "lock_ttl = \"2s\"\n".into());
    world.ok(&["--provision"]);
    let mut first = world.ferry(&[]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    // Well past the TTL, while the release command still prints nothing.
    // (The image is built on the host first: give a loaded machine time.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while world.container_state("shop-release-1").as_deref() != Some("running") {
        assert!(std::time::Instant::now() < deadline, "the release command never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    // Another deployer: its own state store, so only the host lock stands in its way.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, out, err) = run(world.ferry(&[]).env("FERRY_STATE", elsewhere.path()));
    assert_eq!(code, 1, "a second deploy took the host during the first one's release command:\n{out}{err}");
    // The reason is in the results (stdout); the log says where it stopped.
    assert!(out.contains("test is locked by") && out.contains(".ferry.lock if that run is gone"), "{out}{err}");
    assert!(first.wait().unwrap().success(), "the first deploy finished");
    assert_eq!(world.serves(), "v1");
}

#[test]
fn an_image_from_ci_is_shipped_without_a_registry_and_a_removed_release_is_rolled_back_to() {
    let world = World::start();
    world.ok(&["--provision"]);
    world.ok(&[]);
    // CI's own engine (another namespace's dockerd) builds the image.
    let ci = Vm::start_with_docker();
    let context = checkout(&[("Dockerfile", &dockerfile("from-ci"))]);
    let built = ci.docker().args(["build", "-q", "-t", "shop:ci"]).arg(context.path()).env("DOCKER_BUILDKIT", "0").output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));

    let mut shipped = world.ferry(&["--image", "shop:ci", "--load"]);
    shipped.env("DOCKER_HOST", ci.docker_host());
    let (code, out, err) = run(&mut shipped);
    assert_eq!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("docker save | docker load"), "{out}{err}");
    assert_eq!(world.serves(), "from-ci");

    // Release 1's container is gone; its image is not.
    assert!(world.vm.docker().args(["rm", "-f", "shop-app-1"]).output().unwrap().status.success());
    world.ok(&["--rollback"]);
    assert_eq!(world.serves(), "v1");
    assert_eq!(world.container_state("shop-app-1").as_deref(), Some("running"), "re-created from ferry-shop:release-1");
}

/// With `keep = 1` each deploy removes the older releases' containers and
/// every other image of the app (the tag and, with nothing else holding it,
/// the image itself), except the one `--rollback` starts; a tag whose image
/// a container still uses stays, the deploy goes on, and a later deploy
/// removes it once it is free.
#[test]
fn old_release_images_are_removed_except_the_rollback_one() {
    let world = World::start_with(FLY_TOML, |_| "keep = 1\n".into());
    world.ok(&["--provision"]);
    world.ok(&[]);
    let image_id = |tag: &str| {
        let out = world.vm.docker().args(["image", "inspect", "-f", "{{.Id}}", tag]).output().unwrap();
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let first = image_id("ferry-shop:release-1").expect("release 1's image");

    world.set_body("v2");
    let out = world.ok(&[]);
    assert!(out.contains("remove ferry-shop images except release(s) 1, 2 in") && out.contains("removed none"), "{out}");
    assert_eq!(world.container_state("shop-app-1"), None, "keep = 1 removes release 1's container");
    assert!(image_id("ferry-shop:release-1").is_some(), "release 1's image is the one --rollback starts");

    // A container ferry does not manage still uses release 1's image.
    let squatter = world.vm.docker().args(["create", "--name", "squatter", "ferry-shop:release-1"]).output().unwrap();
    assert!(squatter.status.success(), "{}", String::from_utf8_lossy(&squatter.stderr));
    world.set_body("v3");
    let out = world.ok(&[]);
    assert!(out.contains("removed none"), "{out}");
    assert!(image_id("ferry-shop:release-1").is_some(), "a used image stays");

    assert!(world.vm.docker().args(["rm", "squatter"]).output().unwrap().status.success());
    world.set_body("v4");
    let out = world.ok(&[]);
    let removed = out.lines().find(|l| l.contains("remove ferry-shop images except release(s) 3, 4")).unwrap_or_else(|| panic!("{out}"));
    assert!(removed.contains("ferry-shop:release-1") && removed.contains("ferry-shop:release-2"), "{removed}");
    assert_eq!(image_id("ferry-shop:release-1"), None);
    assert_eq!(image_id(&first), None, "no tag or container holds release 1's image: its layers are gone");
    assert_eq!(image_id("ferry-shop:release-2"), None);
    assert!(image_id("ferry-shop:release-3").is_some() && image_id("ferry-shop:release-4").is_some());

    world.ok(&["--rollback"]);
    assert_eq!(world.serves(), "v3", "started again from its image; its container was removed");
}

/// With a Docker engine on this machine (CI's: another namespace's dockerd)
/// the image is built here and shipped, and the plan says so and why; its
/// apply command, run as printed, deploys the reviewed image id without
/// building; the same checkout again ships nothing, the host having that
/// image; `--build-on host` builds on the host.
#[test]
fn a_docker_engine_here_builds_ships_once_and_the_plan_says_where() {
    let world = World::start();
    world.ok(&["--provision"]);
    let ci = Vm::start_with_docker();
    let here = |args: &[&str]| {
        let mut cmd = world.ferry(args);
        cmd.env("DOCKER_HOST", ci.docker_host());
        cmd
    };
    let (code, out, err) = run(&mut here(&["--plan-only", "--label", "team=shop"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ferry built the image with docker build (classic builder)"), "{out}");
    assert!(out.contains("a Docker engine answers on this machine") && out.contains("ships it to the host as sha256:"), "{out}");
    let apply = out.lines().find_map(|l| l.strip_prefix("Next: review it, then `")).unwrap_or_else(|| panic!("an apply command: {out}")).trim_end_matches('`');
    assert!(apply.contains(" --image sha256:") && apply.contains(" --load"), "{apply}");
    let words: Vec<String> = apply.split_whitespace().map(String::from).collect();
    let (code, out, err) = crate::support::run_printed(&words, &here(&[]));
    assert_eq!(code, 0, "{apply}\n{out}{err}");
    assert!(!err.contains("building "), "the apply built again: {err}");
    assert!(err.contains("shipped sha256:"), "{err}");
    assert_eq!(world.serves(), "v1");
    let label = world.vm.docker().args(["image", "inspect", "--format", "{{index .Config.Labels \"team\"}}", "ferry-shop:release-1"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "shop", "the build flags reached the build here");

    // The same checkout and flags: the same image id (the engine's layer
    // cache), which the host has.
    let (code, out, err) = run(&mut here(&["--label", "team=shop"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("nothing shipped"), "{err}");
    assert!(!err.contains("shipped sha256:"), "{err}");

    // Chosen by hand: the host builds, and the plan says so; a build flag
    // (which only a build here reads) is refused rather than dropped.
    world.set_body("v2");
    let (code, out, err) = run(&mut here(&["--build-on", "host", "--label", "team=shop"]));
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("--label applies to a build on this machine, and the host builds this image (--build-on host)"), "{err}");
    let (code, out, err) = run(&mut here(&["--build-on", "host"]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(format!("{out}{err}").contains("the host builds the image, from the checkout streamed to its Docker as a tar: --build-on host"), "{out}{err}");
    assert!(!err.contains("building "), "{err}");
    assert_eq!(world.serves(), "v2");
}

#[test]
fn the_deploy_plan_is_a_pull_request_comment_like_any_other() {
    let world = World::start();
    world.ok(&["--provision"]);
    world.add_vm_deploy_step();
    let mut plan = crate::support::ferry(&crate::support::step_cache());
    plan.args(["plan", "--phase", "deploy", "--format", "md", "--dir"])
        .arg(world.checkout.path())
        .env("FERRY_STATE", world.state.path())
        .envs(world.vm.ferry_env());
    let (code, out, err) = run(&mut plan);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("| start shop-app-1 (ferry-shop:release-1), healthy when 127.0.0.1:20001/ answers |"), "{out}");
    assert!(out.contains("point nginx (80) at release 1"), "{out}");
    assert!(!world.app_dir().join("releases/1.json").exists(), "a plan changes nothing");
}

#[test]
fn ferry_ci_comments_the_release_plan_on_a_pull_request_and_deploys_it_on_push() {
    let world = World::start();
    world.ok(&["--provision"]);
    world.add_vm_deploy_step();
    let fake = FakeGitHub::start("");
    let origin = tempfile::tempdir().unwrap();
    let git = crate::support::git::GitRepo::adopt(world.checkout.path(), origin.path());
    let head = git.pull_request(12, &[]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let ci = |event: &str, payload: serde_json::Value| {
        let runner = Runner::new(&world.cache.path().join("runner"), &fake, event, &payload);
        let mut cmd = crate::support::ferry(&crate::support::step_cache());
        cmd.arg("ci").current_dir(world.checkout.path()).envs(world.vm.ferry_env()).env_remove("FLY_API_TOKEN");
        let (code, out, err) = run(runner.apply(&mut cmd));
        assert_eq!(code, 0, "ferry ci on {event}:\n{out}{err}");
        runner.outputs()
    };
    ci("pull_request", pull_request_event(12, &head));
    let comments = fake.comments_on(12);
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0].body.contains("start shop-app-1 (ferry-shop:release-1)") && comments[0].body.contains("point nginx (80) at release 1"),
        "{}",
        comments[0].body
    );
    assert!(!world.app_dir().join("releases/1.json").exists(), "a pull request only plans");

    let merged = git.merge(12);
    fake.state().pulls.insert(12, Pull { merged: true, ..Pull::open(&merged) });
    let outputs = ci("push", push_event(&merged));
    assert!(outputs.contains("outcome=applied"), "{outputs}");
    assert_eq!(world.serves(), "v1");
    assert!(world.app_dir().join("releases/1.json").exists());
}

#[test]
fn a_certificate_on_the_host_serves_https_and_force_https_redirects_all_but_acme_challenges() {
    let world = World::start_with(&FLY_TOML.replace("internal_port = 8080", "internal_port = 8080\n  force_https = true"), |_| String::new());
    let dir = world.vm.dir().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("shop.pem"), dir.join("shop.key"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=shop.test", "-addext", "subjectAltName=DNS:shop.test", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    world.ok(&["--provision"]);
    let out = world.ok(&["--hostnames", "shop.test", "--tls-certificate", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert!(out.contains("point nginx (443, with 80 redirecting to it)"), "{out}");
    // Verified against the certificate itself: nginx serves the one given.
    let https = std::process::Command::new("ip")
        .args(["netns", "exec", world.client.netns(), "curl", "-s", "-m", "5", "--cacert"])
        .arg(&cert)
        .args(["--resolve", &format!("shop.test:443:{}", world.client.vm_addr()), "https://shop.test/"])
        .output()
        .unwrap();
    assert!(https.status.success(), "curl: {}", String::from_utf8_lossy(&https.stderr));
    assert_eq!(String::from_utf8_lossy(&https.stdout).trim(), "v1");
    let (code, _) = world.client.get("/orders?page=2");
    assert_eq!(code, 301, "port 80 redirects");
    // certbot --webroot's challenge answers on 80, from <root>/acme.
    let challenges = world.vm.dir().join("srv/acme/.well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).unwrap();
    std::fs::write(challenges.join("token-1"), "token-1.thumbprint").unwrap();
    assert_eq!(world.client.get("/.well-known/acme-challenge/token-1"), (200, "token-1.thumbprint".to_string()));
}

/// `curl https://<name>/` from the client's namespace, trusting only `root`.
fn https_body(world: &World, name: &str, root: &std::path::Path) -> Result<String, String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", world.client.netns(), "curl", "-sS", "-m", "5", "--cacert"])
        .arg(root)
        .args(["--resolve", &format!("{name}:443:{}", world.client.vm_addr()), &format!("https://{name}/")])
        .output()
        .unwrap();
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// A target with `[acme]` gets its certificate from the ACME server
/// ferry.toml names (Pebble, resolving through a real Knot): by DNS-01
/// while the name still points elsewhere, so HTTPS works before any DNS
/// moves, then by HTTP-01 from the host's webroot for a name that points
/// at the host. Every plan shows the expiry; a valid one is not reissued.
#[test]
fn acme_issues_the_sites_certificate_by_dns01_before_the_switch_and_http01_after() {
    let knot = crate::support::dns_servers::Server::start(crate::support::dns_servers::Kind::Knot, "shop 300 IN A 192.0.2.1\n");
    // HTTP-01 is validated on port 80 of the name's address: nginx on the VM.
    let pebble = crate::support::acme_server::Pebble::start(knot.addr, 80);
    let cron = tempfile::tempdir().unwrap();
    let cron_dir = cron.path().join("cron.d");
    let acme = |dns: bool| {
        format!(
            "lock_ttl = \"30s\"\n\n[targets.vm.test.acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\ncron_dir = \"{}\"\n{}\n[dns.zones.\"example.test.\"]\nprovider = \"rfc2136\"\nserver = \"{}\"\ntsig_key_env = \"FERRY_SECRET_TSIG\"\n",
            pebble.directory,
            pebble.listener_root.display(),
            cron_dir.display(),
            if dns { "dns_zone = \"example.test.\"\n" } else { "" },
            knot.addr
        )
    };
    let world = World::start_with(FLY_TOML, |_| acme(true));
    let root = world.checkout.path().join("pebble-root.pem");
    let deploy = |args: &[&str]| {
        let mut cmd = world.ferry(args);
        cmd.env("FERRY_SECRET_TSIG", format!("hmac-sha256:{}:{}", crate::support::dns_servers::KEY_NAME, crate::support::dns_servers::SECRET));
        let (code, out, err) = run(&mut cmd);
        assert_eq!(code, 0, "ferry deploy --target vm {args:?}:\n{out}{err}\npebble:\n{}", pebble.log());
        assert!(!format!("{out}{err}").contains("PRIVATE KEY"), "a key was printed");
        format!("{out}{err}")
    };
    world.ok(&["--provision"]);

    let first = deploy(&["--hostnames", "shop.example.test"]);
    assert!(first.contains("issue a certificate for shop.example.test (DNS-01 in example.test.): there is none yet"), "{first}");
    let chain = world.app_dir().join("tls/fullchain.pem");
    assert!(first.contains(&format!("there is no certificate at {} on the host yet", chain.display())), "{first}");
    std::fs::write(&root, pebble.issuing_root()).unwrap();
    assert_eq!(https_body(&world, "shop.example.test", &root).as_deref(), Ok("v1"), "served with the issued chain, while DNS still points at 192.0.2.1");
    assert!(knot.dig("_acme-challenge.shop.example.test", "TXT").is_empty(), "the challenge record is withdrawn");
    let key = world.app_dir().join("tls/privkey.pem");
    assert_eq!(std::fs::metadata(&key).map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777).ok(), Some(0o600));

    let again = deploy(&["--hostnames", "shop.example.test"]);
    assert!(!again.contains("issue a certificate"), "a valid certificate is kept: {again}");
    assert!(again.contains(&format!("the certificate {} for shop.example.test is valid until", chain.display())), "{again}");

    // DNS moved to the host; a new name on the site needs a new certificate,
    // now proven over HTTP on port 80 (ferry.toml names no zone).
    std::fs::write(
        world.checkout.path().join("ferry.toml"),
        std::fs::read_to_string(world.checkout.path().join("ferry.toml")).unwrap().replace("dns_zone = \"example.test.\"\n", ""),
    )
    .unwrap();
    let dns = knot.rfc2136();
    let zone = crate::support::dns_servers::zone();
    let at_host = |name: &str| ferry_dns::RRset::new(ferry_dns::Name::new(name).unwrap(), ferry_dns::RecordType::A, 60, [world.vm.addr().to_string()]).unwrap();
    let shop = ferry_dns::DnsProvider::read(&dns, &zone, &ferry_dns::Name::new("shop.example.test.").unwrap(), &ferry_dns::RecordType::A).unwrap();
    ferry_dns::DnsProvider::replace(&dns, &zone, shop.as_ref(), &at_host("shop.example.test.")).unwrap();
    ferry_dns::DnsProvider::replace(&dns, &zone, None, &at_host("www.example.test.")).unwrap();
    let renamed = deploy(&["--hostnames", "shop.example.test,www.example.test"]);
    assert!(renamed.contains("(HTTP-01): it is for shop.example.test, the site serves shop.example.test, www.example.test"), "{renamed}");
    std::fs::write(&root, pebble.issuing_root()).unwrap();
    assert_eq!(https_body(&world, "www.example.test", &root).as_deref(), Ok("v1"));
    let tokens = world.vm.dir().join("srv/acme/.well-known/acme-challenge");
    assert_eq!(std::fs::read_dir(&tokens).map(|d| d.count()).unwrap_or(0), 0, "the challenge file is removed");

    // The renewal on the host: cron runs certbot twice a day. Run its job
    // as cron would; certbot has no copy of its own yet, so it issues one
    // over HTTP-01 and its deploy hook installs it and reloads nginx.
    let job = std::fs::read_to_string(cron_dir.join("ferry-cert-shop_example_test")).expect("the cron job is installed");
    assert!(job.starts_with("# Installed by ferry: renews the certificate for shop.example.test, www.example.test.\n0 */12 * * * root "), "{job}");
    let script = world.app_dir().join("tls/renew");
    assert!(job.contains(&format!("&& {} >> ", script.display())), "{job}");
    let chain = std::fs::read_to_string(world.app_dir().join("tls/fullchain.pem")).unwrap();
    let renewed = std::process::Command::new("sh").arg(&script).output().unwrap();
    assert!(renewed.status.success(), "{}{}\n{}", String::from_utf8_lossy(&renewed.stdout), String::from_utf8_lossy(&renewed.stderr), pebble.log());
    assert_ne!(std::fs::read_to_string(world.app_dir().join("tls/fullchain.pem")).unwrap(), chain, "certbot installed its certificate");
    assert!(world.app_dir().join("tls/certbot/live/ferry-cert-shop_example_test/fullchain.pem").exists());
    assert_eq!(https_body(&world, "www.example.test", &root).as_deref(), Ok("v1"), "nginx reloaded with the renewed certificate");
}

/// `psql URL -tAc SQL` run in namespace `netns` with this machine's client.
fn psql_in(netns: &str, url: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("ip").args(["netns", "exec", netns, "psql", url, "-tAc", sql]).output().unwrap();
    if out.status.success() { Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// The app on Fly with Postgres attached (DATABASE_URL is one of its
/// secrets), and a VM whose target runs the fixture's Postgres image.
fn fly_app_with_postgres() -> (FlyWorld, World) {
    let fly = FlyWorld::start("shop", FLY_TOML);
    let on_fly = "postgres://shop:fly-password@shop-db.flycast:5432/shop";
    fly.api("POST", "/v1/apps/shop/secrets", Some(serde_json::json!({"values": {"DATABASE_URL": on_fly}})));
    let world = World::start_with(FLY_TOML, |vm| format!("postgres = \"{}\"\n", vm.import_postgres_image()));
    (fly, world)
}

/// `ferry deploy --target vm --provision` with the Fly app's secret names.
fn provision_with_fly(world: &World, fly: &FlyWorld) -> String {
    let mut cmd = world.ferry(&["--provision"]);
    let (code, out, err) = run(cmd.envs(fly.api_env()));
    assert_eq!(code, 0, "{out}{err}");
    format!("{out}{err}")
}

#[test]
fn an_app_that_had_fly_postgres_gets_one_on_the_host_bound_to_localhost() {
    let (fly, world) = fly_app_with_postgres();
    let provision = || provision_with_fly(&world, &fly);
    let out = provision();
    assert!(out.contains("start shop-postgres (localhost/postgres:15)") && out.contains("127.0.0.1:5432 only"), "{out}");
    assert_eq!(world.container_state("shop-postgres").as_deref(), Some("running"));

    let password_file = world.app_dir().join("postgres/password");
    let password = std::fs::read_to_string(&password_file).unwrap();
    assert_eq!((password.len(), std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&password_file).unwrap().permissions()) & 0o777), (48, 0o600));
    let env = std::fs::read_to_string(world.app_dir().join("env")).unwrap();
    let url = format!("postgres://shop:{password}@shop-postgres:5432/shop?sslmode=disable");
    assert!(env.contains(&format!("DATABASE_URL={url}\n")), "{env}");
    assert!(!out.contains(&password), "the password was printed");
    let journal = run(std::process::Command::new("grep").args(["-rl", &password]).arg(world.state.path())).1;
    assert!(journal.is_empty(), "the password is in the state store: {journal}");

    // The app reaches it by name with its env file, from the app's network.
    let from_app = world
        .vm
        .docker()
        .args(["run", "--rm", "--network", "shop", "--env-file"])
        .arg(world.app_dir().join("env"))
        .args(["localhost/postgres:15", "sh", "-c", "psql \"$DATABASE_URL\" -tAc 'select current_user'"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&from_app.stdout).trim(), "shop", "{}", String::from_utf8_lossy(&from_app.stderr));
    // The host reaches it on loopback; the VM's own address does not answer.
    let on_host = url.replace("shop-postgres", "127.0.0.1");
    assert_eq!(psql_in(world.vm.netns(), &on_host, "create table orders (id int)"), Ok("CREATE TABLE".to_string()));
    let outside = on_host.replace("127.0.0.1", &world.client.vm_addr().to_string());
    let refused = psql_in(world.client.netns(), &outside, "select 1").expect_err("Postgres answers outside the host");
    assert!(refused.contains("Connection refused"), "{refused}");

    // Provisioning again keeps the container, its data and its password.
    let id = |w: &World| run(w.vm.docker().args(["inspect", "-f", "{{.Id}}", "shop-postgres"])).1;
    let before = id(&world);
    let out = provision();
    assert!(out.contains("keep shop-postgres running"), "{out}");
    assert_eq!(id(&world), before, "not re-created");
    assert_eq!(std::fs::read_to_string(&password_file).unwrap(), password);
    assert_eq!(psql_in(world.vm.netns(), &on_host, "select count(*) from orders"), Ok("0".to_string()));

    // Releases come and go beside it; it is not one of them.
    world.ok(&[]);
    assert_eq!(world.serves(), "v1");
    world.set_body("v2");
    world.ok(&[]);
    assert_eq!(world.container_state("shop-postgres").as_deref(), Some("running"));
}

#[test]
fn copy_data_moves_the_database_into_the_hosts_postgres_through_an_ssh_forward() {
    let (fly, world) = fly_app_with_postgres();
    provision_with_fly(&world, &fly);
    let source = Cluster::start();
    source.create_db("shop");
    seed_app(&source, "shop");
    let workflow = world.checkout.path().join("ferry.toml");
    let mut text = std::fs::read_to_string(&workflow).unwrap();
    text.push_str("\n[[steps]]\nname = \"copy-data\"\nparams = { mode = \"dump-restore\" }\n\n[data.postgres.main]\nsource_env = \"FERRY_SECRET_SOURCE_DATABASE_URL\"\ntarget_vm = \"test\"\n");
    std::fs::write(&workflow, text).unwrap();
    let source_url = format!("postgres://postgres:source-secret@127.0.0.1:{}/shop", source.port());
    let data = |args: &[&str]| {
        let mut cmd = crate::support::ferry(&crate::support::step_cache());
        cmd.args(args)
            .arg("--dir")
            .arg(world.checkout.path())
            .env("FERRY_STATE", world.state.path())
            .envs(world.vm.ferry_env())
            .env("FERRY_SECRET_SOURCE_DATABASE_URL", &source_url);
        let (code, out, err) = run(cmd.envs(fly.api_env()));
        assert_eq!(code, 0, "ferry {args:?}:\n{out}{err}");
        format!("{out}{err}")
    };
    let plan = data(&["plan", "--phase", "data"]);
    assert!(plan.contains("database main"), "{plan}");
    let out = data(&["apply", "--phase", "data", "--run", "to-vm"]);
    let password = std::fs::read_to_string(world.app_dir().join("postgres/password")).unwrap();
    assert!(!out.contains(&password) && !plan.contains(&password), "the host's database password was printed");

    // The rows arrived: read on the host, over its loopback.
    let on_host = format!("postgres://shop:{password}@127.0.0.1:5432/shop");
    for table in ["accounts", "orders", "order_items"] {
        let digest = format!("SELECT count(*) || ':' || md5(string_agg(x::text, ',' ORDER BY x::text)) FROM {table} x");
        assert_eq!(psql_in(world.vm.netns(), &on_host, &digest), Ok(source.psql("shop", &digest)), "{table} differs");
    }
}

/// A host whose Docker hangs (here: `docker` is `sleep 30; docker`): the
/// plan's read of its facts is bounded by `read_timeout`, names the target,
/// and returns long before the hang would end, inside the step's deadline
/// (a blocking host call cannot be stopped by the deadline itself).
#[test]
fn a_hung_host_read_times_out_by_name_instead_of_hanging_the_plan() {
    let vm = Vm::start();
    let workflow = format!("[[steps]]\nname = \"parse-config\"\n\n{}docker = \"sleep 600; docker\"\nread_timeout = \"2s\"\n", vm.ferry_target("test"));
    let co = checkout(&[("fly.toml", FLY_TOML), ("Dockerfile", &dockerfile("v1")), ("ferry.toml", &workflow)]);
    let state = tempfile::tempdir().unwrap();
    let mut cmd = crate::support::ferry(&crate::support::step_cache());
    cmd.args(["deploy", "--target", "vm", "--provision", "--plan-only", "--dir"])
        .arg(co.path())
        .env("FERRY_STATE", state.path())
        .envs(vm.ferry_env())
        .env_remove("FLY_API_TOKEN")
        .env_remove("GITHUB_ACTIONS");
    let started = std::time::Instant::now();
    let (code, out, err) = run(&mut cmd);
    let took = started.elapsed();
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("reading VM target test") && err.contains("did not finish within 2s"), "{err}");
    // Far under the 600 s hang, however long a loaded machine takes to
    // compile the steps (seen: 37 s with 13 other tests running).
    assert!(took < std::time::Duration::from_secs(300), "the read was not cut at 2 s: {took:?}\n{err}");
}

/// flyctl's generated deploy workflow (`scanner/templates/github/.github/workflows/fly-deploy.yml`).
const FLY_DEPLOY_YML: &str = "name: Fly Deploy
on:
  push:
    branches:
      - main
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: superfly/flyctl-actions/setup-flyctl@master
      - run: flyctl deploy --remote-only
        env:
          FLY_API_TOKEN: ${{ secrets.FLY_API_TOKEN }}
";

/// A Fly app (emulated) with a certificate for `shop.example.test`, whose
/// record in a real Knot points at Fly; the VM with `[acme]` (Pebble) and
/// the zone; the checkout with flyctl's deploy workflow.
struct OffFly {
    fly: FlyWorld,
    world: World,
    knot: crate::support::dns_servers::Server,
    pebble: crate::support::acme_server::Pebble,
    /// Pebble's issuing root, for curl and the TLS check.
    root: PathBuf,
    _cron: tempfile::TempDir,
    /// The app's Fly Postgres, in the namespace only Fly's machines reach.
    db: Cluster,
}

const FLY_ADDRESS: &str = "198.51.100.7";

/// The app that moves off Fly: FLY_TOML plus a worker, each group with a
/// volume of its own (a Fly machine mounts one volume).
fn off_fly_toml() -> String {
    FLY_TOML
        .replace(
            "[mounts]\n  source = \"shop_data\"\n  destination = \"/data\"\n",
            "[processes]\n  app = \"httpd -f -p 8080 -h /www\"\n  worker = \"sleep 1000000\"\n\n\
         [[mounts]]\n  source = \"shop_data\"\n  destination = \"/data\"\n  processes = [\"app\"]\n\n\
         [[mounts]]\n  source = \"shop_uploads\"\n  destination = \"/uploads\"\n  processes = [\"worker\"]\n",
        )
        .replace("[http_service]\n  internal_port = 8080\n", "[http_service]\n  internal_port = 8080\n  processes = [\"app\"]\n")
}
const FLY_IMAGE: &str = "registry.fly.io/shop:deployment-1";
/// The image of the machines ferry starts to copy volumes (the engine's
/// `JOB_IMAGE`), run by the emulator as real processes.
const FLY_JOB_IMAGE: &str = "docker.io/library/alpine:3.20";

/// Files of every kind rsync must carry: nested, empty, binary, a link,
/// modes, a file that is not UTF-8 by name.
fn write_volume(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.join("uploads/2026/12")).unwrap();
    std::fs::create_dir_all(dir.join("empty-dir")).unwrap();
    std::fs::write(dir.join("orders.db"), vec![7u8; 300_000]).unwrap();
    std::fs::write(dir.join("uploads/2026/12/cat.jpg"), (0..=255u8).cycle().take(70_000).collect::<Vec<u8>>()).unwrap();
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink("uploads/2026/12/cat.jpg", dir.join("latest.jpg")).unwrap();
    std::fs::write(dir.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"caf\xe9.txt")), b"latin-1 name").unwrap();
}

/// Every file under `dir`, relative, with its kind, mode and bytes.
fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<PathBuf, (String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(dir).unwrap().to_path_buf();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                out.insert(rel, ("link".into(), 0, std::fs::read_link(&path).unwrap().into_os_string().into_encoded_bytes()));
            } else if meta.is_dir() {
                out.insert(rel, ("dir".into(), mode, Vec::new()));
                stack.push(path);
            } else {
                out.insert(rel, ("file".into(), mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

impl OffFly {
    fn start() -> OffFly {
        let knot = crate::support::dns_servers::Server::start(crate::support::dns_servers::Kind::Knot, &format!("shop 300 IN A {FLY_ADDRESS}\n"));
        let pebble = crate::support::acme_server::Pebble::start(knot.addr, 80);
        let cron = tempfile::tempdir().unwrap();
        let world = World::start_with(&off_fly_toml(), |vm| {
            format!(
                "lock_ttl = \"30s\"\nauthorized_keys = \"{}\"\npostgres = \"{}\"\n\n[targets.vm.test.acme]\ndirectory = \"{}\"\nca_bundle = \"{}\"\ncron_dir = \"{}\"\ndns_zone = \"example.test.\"\n\n[dns.zones.\"example.test.\"]\nprovider = \"rfc2136\"\nserver = \"{}\"\ntsig_key_env = \"FERRY_SECRET_TSIG\"\n",
                vm.dir().join("authorized_keys").display(),
                vm.import_postgres_image(),
                pebble.directory,
                pebble.listener_root.display(),
                cron.path().display(),
                knot.addr
            )
        });
        // Fly's network: the client namespace, which reaches the host at
        // the address ferry.toml names; the root namespace, where ferry
        // runs, has no route into it. Exec machines run there.
        world.client.route_to_vm_address(&world.vm);
        let options = ferry_fly_emulator::Options { machine_netns: Some(world.client.netns().to_string()), ..Default::default() };
        let fly = FlyWorld::start_with("shop", &format!("primary_region = \"ams\"\n{}", off_fly_toml()), &options);
        let db = Cluster::start_in(world.client.netns(), world.client.addr());
        db.create_db("shop");
        seed_app(&db, "shop");
        fly.image(FLY_JOB_IMAGE, serde_json::json!({"kind": "exec"}));
        // The database copy runs the target's own Postgres image.
        fly.image(crate::support::vm::POSTGRES_IMAGE, serde_json::json!({"kind": "exec"}));
        fly.healthy(FLY_IMAGE, "on fly");
        let (code, out, err) = fly.deploy(&["--image", FLY_IMAGE]);
        assert_eq!(code, 0, "the app on Fly: {out}{err}");
        fly.api("POST", "/v1/apps/shop/secrets", Some(serde_json::json!({"values": {"SESSION_KEY": "on-fly", "DATABASE_URL": db.url("shop")}})));
        fly.api("POST", "/v1/apps/shop/certificates/acme", Some(serde_json::json!({"hostname": "shop.example.test"})));
        let volumes = fly.volumes("shop");
        assert_eq!(volumes.len(), 2, "{volumes:?}");
        for v in &volumes {
            write_volume(&fly.volume_dir(v));
        }
        std::fs::create_dir_all(world.checkout.path().join(".github/workflows")).unwrap();
        std::fs::write(world.checkout.path().join(".github/workflows/fly-deploy.yml"), FLY_DEPLOY_YML).unwrap();
        let root = world.state.path().join("pebble-root.pem");
        std::fs::write(&root, pebble.issuing_root()).unwrap();
        OffFly { fly, world, knot, pebble, root, _cron: cron, db }
    }

    fn migrate(&self, args: &[&str]) -> (i32, String) {
        let mut cmd = crate::support::ferry(&crate::support::step_cache());
        cmd.arg("migrate")
            .args(args)
            .arg("--dir")
            .arg(self.world.checkout.path())
            .envs(self.fly.api_env())
            .envs(self.world.vm.ferry_env())
            .env("FERRY_STATE", self.world.state.path())
            .env("FERRY_FLY_POLL", "100ms")
            .env("FERRY_SECRET_SESSION_KEY", "the-value-here")
            .env("FERRY_SECRET_TSIG", format!("hmac-sha256:{}:{}", crate::support::dns_servers::KEY_NAME, crate::support::dns_servers::SECRET))
            // The TLS check before the switch trusts Pebble's root.
            .env("FERRY_TLS_CA_FILE", &self.root)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env_remove("GITHUB_ACTIONS");
        let (code, out, err) = run(&mut cmd);
        eprintln!("=== migrate {args:?} -> {code}\n{out}{err}");
        assert!(!format!("{out}{err}").contains("the-value-here"), "a secret value was printed");
        (code, format!("{out}{err}"))
    }

    /// Plans the phase, then applies exactly that plan.
    fn phase(&self, phase: &str, id: &str) -> String {
        self.phase_with(phase, id, &[])
    }

    /// [`OffFly::phase`], applied with `apply_args` too (`--approve`).
    fn phase_with(&self, phase: &str, id: &str, apply_args: &[&str]) -> String {
        let (code, plan) = self.migrate(&[phase, "--id", id]);
        assert_eq!(code, 0, "{phase} plan: {plan}\npebble:\n{}", self.pebble.log());
        let start = plan.find("--plan-hash ").unwrap_or_else(|| panic!("no plan hash in:\n{plan}")) + "--plan-hash ".len();
        let hash = plan[start..].split_whitespace().next().unwrap().trim_matches('`').to_string();
        let mut args = vec![phase, "--id", id, "--apply", "--plan-hash", &hash];
        args.extend(apply_args);
        let (code, out) = self.migrate(&args);
        assert_eq!(code, 0, "{phase} apply: {out}\npebble:\n{}", self.pebble.log());
        format!("{plan}{out}")
    }

    fn create(&self, extra: &[&str]) -> String {
        let mut args = vec!["create", "--to", "vm:test", "--dns-zone", "example.test."];
        args.extend(extra);
        let (code, out) = self.migrate(&args);
        assert_eq!(code, 0, "{out}");
        let start = out.find("migration id: ").unwrap() + "migration id: ".len();
        out[start..].split_whitespace().next().unwrap().to_string()
    }

    /// Both machines of the app on Fly are in `state`.
    fn assert_machines(&self, state: &str) {
        let machines = self.fly.machines("shop");
        assert!(machines.len() == 2 && machines.iter().all(|m| m["state"] == state), "expected 2 machines {state}: {machines:?}");
    }

    /// No temporary machine, no fork, no one-time key: only the app's own.
    fn assert_no_copy_left(&self, volumes_before: &[serde_json::Value]) {
        let machines = self.fly.machines("shop");
        assert!(machines.iter().all(|m| m["config"]["metadata"]["ferry_copy"].is_null()), "a copy machine is left: {machines:?}");
        let ids = |v: &[serde_json::Value]| v.iter().map(|v| v["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&self.fly.volumes("shop")), ids(volumes_before), "a fork is left");
        let keys = std::fs::read_to_string(self.world.vm.dir().join("authorized_keys")).unwrap();
        assert!(!keys.contains("ferry-copy-") && keys.lines().count() == 1, "the one-time key is revoked: {keys}");
    }

    /// One value from the app's database on the host.
    fn host_sql(&self, sql: &str) -> String {
        let out = self.world.vm.docker().args(["exec", "shop-postgres", "psql", "-X", "-U", "shop", "-d", "shop", "-tAc", sql]).output().unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn shop_record(&self) -> Vec<String> {
        self.knot.dig("shop.example.test", "A")
    }
}

#[test]
fn an_app_moves_off_fly_to_the_host_in_reviewed_phases_with_https_before_dns_moves() {
    let off = OffFly::start();
    let (code, refused) = off.migrate(&["create", "--to", "vm:nope"]);
    assert_ne!(code, 0);
    assert!(refused.contains("VM target nope is not configured: add [targets.vm.nope] to ferry.toml"), "{refused}");

    // The Fly Postgres app the migration deletes at the end (the database
    // itself is the cluster in Fly's namespace).
    off.fly.api("POST", "/v1/apps", Some(serde_json::json!({"app_name": "shop-db", "org_slug": "personal"})));
    let id = off.create(&["--postgres-app", "shop-db"]);
    let prepared = off.phase("prepare", &id);
    for expected in [
        "issue a certificate for shop.example.test (DNS-01 in example.test.)",
        "replace `fly deploy` with ferry's action",
        "add a vm-deploy step",
        "shop runs on test beside Fly; DNS still points at Fly",
        "lower the TTL of shop.example.test. A from 300 s to 60 s",
    ] {
        assert!(prepared.contains(expected), "{expected}:\n{prepared}");
    }
    assert_eq!(off.shop_record(), [FLY_ADDRESS], "prepare moves no DNS");
    assert_eq!(https_body(&off.world, "shop.example.test", &off.root).as_deref(), Ok("v1"), "HTTPS works on the host before DNS moves");
    let workflow = std::fs::read_to_string(off.world.checkout.path().join(".github/workflows/fly-deploy.yml")).unwrap();
    assert!(workflow.contains("- uses: ferry-dev/ferry@v0\n") && !workflow.contains("flyctl") && !workflow.contains("FLY_API_TOKEN"), "{workflow}");
    assert!(workflow.contains("FERRY_SECRET_VM_KEY: ${{ secrets.FERRY_SECRET_VM_KEY }}"), "the target's own variables: {workflow}");
    let ferry_toml = std::fs::read_to_string(off.world.checkout.path().join("ferry.toml")).unwrap();
    assert!(ferry_toml.contains("name = \"vm-deploy\"\nparams = { target = \"test\", hostnames = \"shop.example.test\" }"), "{ferry_toml}");

    let source = off.fly.volumes("shop");
    let copied = off.phase("data", &id);
    for expected in [
        "bulk pass: copy volume shop_data",
        "bulk pass: copy volume shop_uploads",
        "stop 2 machines of shop",
        "final pass: copy volume shop_data",
        "final pass: copy volume shop_uploads",
        "compared by checksum",
        "copy shop's Fly Postgres (its DATABASE_URL) into shop-postgres on test",
        "5 table(s), 18001 row(s), sequences and large objects verified against the source",
    ] {
        assert!(copied.contains(expected), "{expected}:\n{copied}");
    }
    for (sql, rows) in
        [("SELECT count(*) FROM accounts", "3000"), ("SELECT sum(qty) FROM order_items", "20000"), ("SELECT last_value FROM invoice_numbers", "1006")]
    {
        assert_eq!(off.host_sql(sql), rows, "{sql}");
    }
    assert_eq!(off.db.psql("shop", "SHOW default_transaction_read_only"), "on", "the source is read-only from the freeze on");
    for volume in &source {
        let name = volume["name"].as_str().unwrap();
        let on_host = tree(&off.world.app_dir().join("volumes").join(name));
        assert!(on_host.len() > 5, "{name}: {on_host:?}");
        assert_eq!(on_host, tree(&off.fly.volume_dir(volume)), "every file, byte, mode and link of {name} is on the host");
    }
    off.assert_no_copy_left(&source);
    off.assert_machines("stopped");

    let finalized = off.phase("finalize", &id);
    assert!(
        finalized.contains("check that") && finalized.contains("serves a valid certificate for shop.example.test"),
        "the TLS check comes first: {finalized}"
    );
    assert!(!finalized.contains("wait 5 min"), "prepare lowered the TTL a phase ahead: {finalized}");
    assert!(finalized.contains("for shop.example.test is valid until"), "the plan shows the certificate's expiry: {finalized}");
    assert_eq!(off.shop_record(), [off.world.vm.addr().to_string()], "DNS points at the host");

    let last_state: Vec<_> = source.iter().map(|v| (v["name"].as_str().unwrap().to_string(), tree(&off.fly.volume_dir(v)))).collect();
    let (_, unapproved) = off.migrate(&["decommission", "--id", &id, "--apply"]);
    assert!(unapproved.contains("decommission waits for an approval"), "{unapproved}");
    assert!(off.fly.app_exists("shop"), "nothing is deleted before the approval");
    let gone = off.phase_with("decommission", &id, &["--approve"]);
    for expected in ["delete Fly app shop with its 2 machine(s), 2 volume(s)", "and Fly Postgres app shop-db", "final pass: copy volume shop_uploads"] {
        assert!(gone.contains(expected), "{expected}:\n{gone}");
    }
    assert!(!off.fly.app_exists("shop") && !off.fly.app_exists("shop-db"), "both apps are deleted from Fly");
    for (name, state) in last_state {
        assert_eq!(tree(&off.world.app_dir().join("archive").join(&name)), state, "{name}'s last state is archived on the host");
    }
    assert!(off.world.app_dir().join("postgres/import/source.sql").exists(), "the Fly Postgres dump stays on the host");
    assert_eq!(off.host_sql("SELECT count(*) FROM accounts"), "3000", "the host serves its own database");
    let (code, late) = off.migrate(&["abort", "--id", &id]);
    assert_ne!(code, 0, "nothing undoes a decommission: {late}");
}

#[test]
fn an_aborted_move_off_fly_leaves_the_host_and_the_checkout_as_they_were() {
    let off = OffFly::start();
    let id = off.create(&[]);
    off.phase("prepare", &id);
    off.phase("data", &id);
    assert!(off.world.app_dir().join("tls/privkey.pem").exists());
    assert!(off.world.app_dir().join("volumes/shop_data/orders.db").exists());
    assert!(off.world.app_dir().join("volumes/shop_uploads/orders.db").exists());
    off.assert_machines("stopped");
    assert_eq!(off.host_sql("SELECT count(*) FROM orders"), "5000");

    let (code, out) = off.migrate(&["abort", "--id", &id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("shop runs on Fly as before; what ferry put on test is gone"), "{out}");
    let left = std::process::Command::new("find").arg(off.world.app_dir()).output().unwrap();
    assert!(!off.world.app_dir().exists(), "the app's directory, certificate and env file are removed; left:\n{}", String::from_utf8_lossy(&left.stdout));
    assert!(!off.world.vm.nginx_sites_dir().join("shop.conf").exists(), "the nginx site is removed");
    assert_eq!(off.world.container_state("shop-app-1"), None, "the containers are removed");
    assert_eq!(off.world.container_state("shop-worker-1"), None, "the containers are removed");
    let images = off.world.vm.docker().args(["images", "-q", "ferry-shop"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&images.stdout).trim(), "", "the built image is removed");
    assert_eq!(std::fs::read_dir(off._cron.path()).unwrap().count(), 0, "the renewal's cron job is removed");
    assert_eq!(std::fs::read_to_string(off.world.checkout.path().join(".github/workflows/fly-deploy.yml")).unwrap(), FLY_DEPLOY_YML);
    assert!(!std::fs::read_to_string(off.world.checkout.path().join("ferry.toml")).unwrap().contains("vm-deploy"));
    assert_eq!(off.shop_record(), [FLY_ADDRESS]);
    off.assert_machines("started");
    assert_eq!(off.db.psql("shop", "SHOW default_transaction_read_only"), "off", "the source takes writes again");
    off.assert_no_copy_left(&off.fly.volumes("shop"));
}
