//! `ferry deploy` from source: a real buildah build of the checkout, a real
//! push to a real registry (Debian's docker-registry, TLS and htpasswd),
//! and the Fly emulator pulling the pushed reference from that registry,
//! so the digest the machines run is the registry's, not ferry's word.
//!
//! The Dockerfiles here have no `RUN`: buildah runs no container, so
//! nothing reaches a network (the build provider's own tests run `RUN`
//! steps inside a network namespace).

use std::process::Command;

use ferry_test_support::buildah::Store;
use ferry_test_support::registry::Registry;
use serde_json::Value;
use sha2::Digest;

use crate::support::fly::{FlyWorld, TOKEN};

const FLY_TOML: &str = r#"
app = "shop"
primary_region = "ams"

[build]
  dockerfile = "deploy/Dockerfile"

[build.args]
  GREETING = "from fly.toml"

[http_service]
  internal_port = 8080
"#;

/// fly.toml's Dockerfile sits in `deploy/`; the context is the checkout.
const DOCKERFILE: &str = "FROM scratch\nARG GREETING\nARG EDITION\nCOPY index.html /srv/index.html\nLABEL greeting=$GREETING edition=$EDITION\n";

/// An app with a Dockerfile, a registry, the emulator pulling from it, and
/// an image store of the test's own.
struct App {
    registry: Registry,
    store: Store,
    world: FlyWorld,
}

impl App {
    fn new() -> App {
        let registry = Registry::start("x", TOKEN);
        let world = FlyWorld::start("shop", FLY_TOML);
        for (path, text) in [("deploy/Dockerfile", DOCKERFILE), ("index.html", "<h1>shop</h1>\n")] {
            let file = world.checkout.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        world.link_registry(&registry);
        App { registry, store: Store::new(), world }
    }

    /// The environment of a job that builds with the store and pushes to
    /// the registry (whose CA the engine trusts as a system root, as
    /// registry.fly.io's is).
    fn env(&self) -> Vec<(String, String)> {
        let (var, conf) = self.store.env();
        vec![
            (var.into(), conf.display().to_string()),
            ("FLY_REGISTRY_HOST".into(), self.registry.host.clone()),
            ("SSL_CERT_FILE".into(), self.registry.ca_file().display().to_string()),
        ]
    }

    /// `ferry deploy ARGS` in that environment.
    fn job(&self, args: &[&str]) -> Command {
        let mut cmd = self.world.deploy_cmd(args);
        cmd.envs(self.env());
        cmd
    }

    fn deploy(&self, args: &[&str]) -> (i32, String, String) {
        crate::support::run(&mut self.job(args))
    }

    /// `GET /v2/shop/<path>` from the registry, as the platform reads it.
    fn get(&self, path: &str) -> Vec<u8> {
        let url = format!("https://{}/v2/shop/{path}", self.registry.host);
        let out = Command::new("curl")
            .args(["-sf", "--cacert"])
            .arg(self.registry.ca_file())
            .args(["-u", &format!("x:{TOKEN}"), "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{url}: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// The sha256 of the manifest the registry serves for `digest`.
    fn served_digest(&self, digest: &str) -> String {
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(self.get(&format!("manifests/{digest}")))))
    }

    /// The image's config blob, through its manifest.
    fn image_config(&self, digest: &str) -> Value {
        let manifest: Value = serde_json::from_slice(&self.get(&format!("manifests/{digest}"))).unwrap();
        serde_json::from_slice(&self.get(&format!("blobs/{}", manifest["config"]["digest"].as_str().unwrap()))).unwrap()
    }
}

#[test]
fn a_deploy_without_an_image_builds_pushes_and_runs_the_digest_it_pushed() {
    let app = App::new();
    let (code, out, err) = app.deploy(&["--build-arg", "EDITION=2", "--label", "team=shop", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("with buildah ("), "the builder and why: {err}");

    let result: Value = serde_json::from_str(&out).unwrap();
    let image = result["image"].as_str().unwrap();
    let prefix = format!("{}/shop:deployment-", app.registry.host);
    let (tag, digest) = image.split_once('@').unwrap_or_else(|| panic!("pinned by digest: {image}"));
    assert!(tag.starts_with(&prefix) && tag.len() == prefix.len() + 26, "flyctl's deployment-<ULID> tag: {image}");
    assert_eq!(app.served_digest(digest), digest, "the plan pins what the registry holds");

    // The platform pulled it: the machine's image_ref carries the registry's digest.
    let machines = app.world.machines("shop");
    assert!(!machines.is_empty());
    for machine in &machines {
        assert_eq!(machine["config"]["image"], image);
        assert_eq!(machine["image_ref"]["digest"], digest);
        assert_eq!(machine["image_ref"]["registry"], app.registry.host.as_str());
    }
    assert_eq!(app.world.versions("shop"), vec![tag.rsplit_once(':').unwrap().1.to_string(); machines.len()]);

    // The labels and args reached the image (fly.toml's arg, the flag's, the flag's label).
    let config = app.image_config(digest);
    let labels = &config["config"]["Labels"];
    assert_eq!(
        (labels["greeting"].as_str(), labels["edition"].as_str(), labels["team"].as_str()),
        (Some("from fly.toml"), Some("2"), Some("shop")),
        "{labels}"
    );

    // The same checkout again: the same bytes under a new tag, so the deploy
    // keeps the running reference and replaces no machine.
    app.world.clear_requests();
    let (code, out, err) = app.deploy(&["--build-arg", "EDITION=2", "--label", "team=shop", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains(&format!("shop runs {digest} already, as {image}")), "{err}");
    assert!(err.contains(" in 1 layer; 0 layers changed against the running image (0 B to pull)"), "{err}");
    let again: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(again["image"], image);
    let changed: Vec<Value> = app
        .world
        .requests()
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"].as_str().is_some_and(|p| p.starts_with("/v1/apps/shop/machines")))
        .collect();
    assert!(changed.is_empty(), "no machine created, updated, stopped or started: {changed:?}");

    // A change: the plan (as the PR comment shows it) gives the image's size
    // and the layers a machine pulls anew.
    std::fs::write(app.world.checkout.path().join("index.html"), "<h1>shop, again</h1>\n").unwrap();
    let (code, out, err) = app.deploy(&["--build-arg", "EDITION=2", "--plan-only", "--format", "md"]);
    assert_eq!(code, 0, "{out}{err}");
    let finding = out.lines().find(|l| l.contains("**image-built**")).unwrap_or_else(|| panic!("{out}"));
    assert!(finding.contains(" in 1 layer; 1 layer changed against the running image ("), "{finding}");
}

/// A reviewed plan names the image it built: its apply command deploys
/// that digest as printed, without building again.
#[test]
fn the_plan_only_apply_command_deploys_the_reviewed_digest_without_building() {
    let app = App::new();
    let (code, out, err) = app.deploy(&["--plan-only", "--no-cache"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ferry built the image with buildah"), "the plan says how the image was made: {out}");
    let apply = out.lines().find_map(|l| l.strip_prefix("Next: review it, then `")).unwrap_or_else(|| panic!("an apply command: {out}")).trim_end_matches('`');
    assert!(apply.contains(&format!("--image {}/shop:deployment-", app.registry.host)) && apply.contains("@sha256:"), "{apply}");
    assert!(!apply.contains("--no-cache"), "the build's flags are dropped: {apply}");
    assert!(app.world.machines("shop").is_empty(), "a plan changes nothing");

    // As printed, with the job's environment.
    let words: Vec<String> = apply.split_whitespace().map(String::from).collect();
    let (code, out, err) = crate::support::run_printed(&words, &app.job(&[]));
    assert_eq!(code, 0, "{apply}\n{out}{err}");
    assert!(!err.contains("building "), "the apply built again: {err}");
    let pinned = apply.split_whitespace().skip_while(|w| *w != "--image").nth(1).unwrap();
    assert!(app.world.machines("shop").iter().all(|m| m["config"]["image"] == pinned));
}

#[test]
fn a_forks_pull_request_is_never_built_with_the_jobs_credentials() {
    let app = App::new();
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    let payload = serde_json::json!({
        "action": "opened", "number": 7,
        "pull_request": {"number": 7, "user": {"login": "mallory", "type": "User"},
            "head": {"sha": "abc", "ref": "main", "repo": {"full_name": "mallory/shop"}},
            "base": {"sha": "def", "ref": "main", "repo": {"full_name": "acme/shop"}}},
        "repository": {"full_name": "acme/shop", "default_branch": "main"},
    });
    std::fs::write(&event, payload.to_string()).unwrap();
    let mut cmd = app.job(&["--plan-only"]);
    cmd.env("GITHUB_ACTIONS", "true").env("GITHUB_EVENT_NAME", "pull_request_target").env("GITHUB_EVENT_PATH", &event).env("GITHUB_REPOSITORY", "acme/shop");
    let (code, out, err) = crate::support::run(&mut cmd);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("#7 comes from a fork (mallory/shop): ferry never builds a fork's code"), "{err}");
    assert!(!err.contains("building "), "{err}");
}

#[test]
fn a_dockerfile_outside_the_checkout_is_refused_by_name() {
    let app = App::new();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("Dockerfile"), DOCKERFILE).unwrap();
    let link = app.world.checkout.path().join("deploy/Dockerfile");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(outside.path().join("Dockerfile"), &link).unwrap();
    let (code, out, err) = app.deploy(&["--plan-only"]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("deploy/Dockerfile"), "names the file: {err}");
    assert!(!err.contains("building "), "{err}");
}

#[test]
fn an_image_named_twice_is_a_usage_error_and_a_secret_value_never_a_flag() {
    let app = App::new();
    let (code, _, err) = app.deploy(&["--image", "registry.fly.io/shop:v1", "--build-target", "release", "--plan-only"]);
    assert_ne!(code, 0);
    assert!(err.contains("--build-target asks for a build, but --image (or the deploy step's image in ferry.toml) names registry.fly.io/shop:v1"), "{err}");
    let (code, _, err) = app.deploy(&["--build-secret", "NPM_TOKEN=abc", "--plan-only"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("put the value in FERRY_SECRET_NPM_TOKEN"), "{err}");
    let (code, _, err) = app.deploy(&["--build-secret", "NPM_TOKEN", "--plan-only"]);
    assert_ne!(code, 0);
    assert!(err.contains("--build-secret NPM_TOKEN takes its value from FERRY_SECRET_NPM_TOKEN"), "{err}");
    let (code, _, err) = app.deploy(&["--build-only", "--layer-cache", "registry"]);
    assert_ne!(code, 0);
    assert!(err.contains("--layer-cache registry reads and writes the cache with the push's login: add --push"), "{err}");
    assert!(!err.contains("building "), "{err}");
}

/// The GitHub flow: a pull request's plan builds and pushes the image and
/// its comment names the digest; the push that merges it deploys that
/// digest, reviewed, without building again.
#[test]
fn a_pull_requests_plan_builds_and_its_merge_deploys_that_digest() {
    use crate::support::github::{FakeGitHub, Job, Pull, output, pull_request_event, push_event};
    const JOB_FLY: &str = "app = \"shop\"\nprimary_region = \"ams\"\n\n[http_service]\n  internal_port = 8080\n";
    let app = App::new();
    let world = FlyWorld::start("shop", JOB_FLY);
    world.link_registry(&app.registry);
    let fake = FakeGitHub::start("");
    let job = Job::with_files(&[
        ("fly.toml", JOB_FLY),
        ("ferry.toml", "[[steps]]\nname = \"parse-config\"\n\n[[steps]]\nname = \"deploy\"\n"),
        ("Dockerfile", "FROM scratch\nCOPY index.html /srv/index.html\n"),
        ("index.html", "<h1>shop</h1>\n"),
    ]);
    let mut env: Vec<(String, String)> = world.api_env().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    env.extend(app.env());
    env.push(("FERRY_FLY_POLL".into(), "100ms".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let head = job.git.pull_request(12, &[("index.html", "<h1>shop, reviewed</h1>\n")]);
    fake.state().pulls.insert(12, Pull::open(&head));
    let (code, _, stderr, outputs, _) = job.run(&fake, "pull_request", pull_request_event(12, &head), &[], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("with buildah ("), "the pull request's plan built the image: {stderr}");
    let reviewed = output(&outputs, "plan-hash").unwrap();
    let comment = fake.comments_on(12).into_iter().map(|c| c.body).find(|b| b.contains("image-built")).expect("the plan comment");
    let image = ferry_render::comment::Marker::field(&comment, "image").expect("the comment names the image it planned");
    // A runner's engine starts empty: inside Actions the layers go to the registry.
    assert!(comment.contains(&format!("layers cached in {}/shop (read and written)", app.registry.host)), "{comment}");
    assert!(image.starts_with(&format!("{}/shop:deployment-", app.registry.host)) && image.contains("@sha256:"), "{image}");
    assert!(world.machines("shop").is_empty(), "a plan deploys nothing");

    let merged = job.git.merge(12);
    fake.state().pulls.insert(12, Pull { merged: true, ..Pull::open(&merged) });
    let (code, _, stderr, outputs, _) = job.run(&fake, "push", push_event(&merged), &[], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(&format!("deploying {image}, the image the plan reviewed on #12 built")), "{stderr}");
    assert!(!stderr.contains("with buildah ("), "the merge built again: {stderr}");
    assert_eq!(output(&outputs, "outcome").as_deref(), Some("applied"));
    assert_eq!(output(&outputs, "plan-hash"), Some(reviewed), "the reviewed plan");
    assert_eq!(output(&outputs, "image-digest").as_deref(), image.split_once('@').map(|(_, d)| d));
    let machines = world.machines("shop");
    assert!(!machines.is_empty() && machines.iter().all(|m| m["config"]["image"] == image.as_str()), "{machines:?}");
}

/// `--build-only --push` prints the deploy command for what it pushed;
/// run as printed, it deploys that image and builds nothing.
#[test]
fn the_build_only_hint_deploys_the_pushed_image_as_printed() {
    let app = App::new();
    let (code, out, err) = app.deploy(&["--build-only", "--push"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(app.world.machines("shop").is_empty(), "--build-only deploys nothing");
    let printed = out.lines().skip_while(|l| *l != "Deploy it with:").nth(1).unwrap_or_else(|| panic!("a deploy command: {out}")).trim();
    let words: Vec<String> = printed.split_whitespace().map(String::from).collect();
    let (code, out, err) = crate::support::run_printed(&words, &app.job(&[]));
    assert_eq!(code, 0, "{printed}\n{out}{err}");
    assert!(!err.contains("building "), "the printed deploy built again: {err}");
    let pinned = words.iter().skip_while(|w| *w != "--image").nth(1).unwrap();
    assert!(pinned.contains("@sha256:"), "{printed}");
    assert!(app.world.machines("shop").iter().all(|m| m["config"]["image"] == pinned.as_str()));
}

/// fly.toml's `[build].ignorefile` (relative to fly.toml, as flyctl reads
/// it) decides what of the checkout reaches the image, for ferry's builder
/// as for flyctl's.
#[test]
fn fly_tomls_ignorefile_keeps_what_it_names_out_of_the_image() {
    let app = App::new();
    let checkout = app.world.checkout.path();
    let fly_toml = FLY_TOML.replace("dockerfile = \"deploy/Dockerfile\"", "dockerfile = \"deploy/Dockerfile\"\n  ignorefile = \"deploy/ci.ignore\"");
    for (path, text) in [
        ("fly.toml", fly_toml.as_str()),
        ("deploy/Dockerfile", "FROM scratch\nCOPY . /srv/\n"),
        ("deploy/ci.ignore", "*.key\ndeploy\n"),
        ("server.key", "-----BEGIN PRIVATE KEY-----\n"),
    ] {
        std::fs::write(checkout.join(path), text).unwrap();
    }
    let (code, out, err) = app.deploy(&["--build-only", "--push", "--format", "json"]);
    assert_eq!(code, 0, "{out}{err}");
    let result: Value = serde_json::from_str(&out).unwrap();
    let digest = result["image"].as_str().unwrap().split_once('@').unwrap().1.to_string();
    let manifest: Value = serde_json::from_slice(&app.get(&format!("manifests/{digest}"))).unwrap();
    let layer = app.get(&format!("blobs/{}", manifest["layers"][0]["digest"].as_str().unwrap()));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("layer.tar.gz"), layer).unwrap();
    let listing = Command::new("tar").arg("-tzf").arg(dir.path().join("layer.tar.gz")).output().unwrap();
    let files = String::from_utf8_lossy(&listing.stdout);
    assert!(files.lines().any(|f| f.trim_start_matches("./") == "srv/index.html"), "{files}");
    assert!(!files.contains("server.key") && !files.contains("ci.ignore"), "the ignorefile's patterns were not applied: {files}");
}

/// Where a Docker engine answers, ferry builds and pushes with it: the
/// engine is a real dockerd in a VM's namespace (no buildx plugin, so its
/// classic builder: the build has no secrets), the registry listens in the
/// same namespace, and the Dockerfile's `RUN` runs in a container there.
#[test]
fn a_docker_engine_builds_and_pushes_what_the_machines_then_run() {
    let vm = ferry_test_support::vm::Vm::start_with_docker();
    let registry = Registry::start_in(vm.netns(), vm.addr(), "x", TOKEN);
    let world = FlyWorld::start("shop", "app = \"shop\"\nprimary_region = \"ams\"\n\n[http_service]\n  internal_port = 8080\n");
    world.link_registry(&registry);
    let dockerfile = format!("FROM {}\nRUN echo built-by-dockerd > /greeting\nCOPY index.html /srv/index.html\n", ferry_test_support::vm::BASE_IMAGE);
    for (path, text) in [("Dockerfile", dockerfile.as_str()), ("index.html", "<h1>shop</h1>\n")] {
        std::fs::write(world.checkout.path().join(path), text).unwrap();
    }
    let mut cmd = world.deploy_cmd(&["--format", "json"]);
    cmd.env("DOCKER_HOST", vm.docker_host()).env("FLY_REGISTRY_HOST", &registry.host).env("SSL_CERT_FILE", registry.ca_file());
    let (code, out, err) = crate::support::run(&mut cmd);
    assert_eq!(code, 0, "{out}{err}\n{}", registry.log());
    assert!(err.contains("with docker build (classic builder) (Docker "), "the engine and why: {err}");

    let image = serde_json::from_str::<Value>(&out).unwrap()["image"].as_str().unwrap().to_string();
    let digest = image.split_once('@').unwrap_or_else(|| panic!("pinned by digest: {image}")).1;
    let machines = world.machines("shop");
    assert!(!machines.is_empty());
    assert!(machines.iter().all(|m| m["config"]["image"] == image.as_str() && m["image_ref"]["digest"] == digest), "{machines:?}");
    // The engine holds what it pushed: its RUN ran, and the registry's digest is its own.
    let inspect = vm.docker().args(["image", "inspect", "--format", "{{json .RepoDigests}}", image.split_once('@').unwrap().0]).output().unwrap();
    assert!(String::from_utf8_lossy(&inspect.stdout).contains(digest), "{}", String::from_utf8_lossy(&inspect.stdout));
    let greeting = vm.docker().args(["run", "--rm", "--network", "none", &image, "cat", "/greeting"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&greeting.stdout).trim(), "built-by-dockerd", "{}", String::from_utf8_lossy(&greeting.stderr));
}

/// fly.toml's `[build] builder`: a buildpacks build. Without `pack` the
/// error names what to install. With it, ferry runs `pack build … --publish`
/// with the push's login and deploys the digest the registry serves.
///
/// `pack` has no Debian package and cannot be installed here (reference
/// build-push.md §2), so a stand-in plays it: it records its arguments and
/// publishes a real image to the real registry with buildah and the login
/// in `$DOCKER_CONFIG`, as pack does with the Docker config it reads.
#[test]
fn a_buildpacks_app_is_built_by_pack_and_its_published_digest_deployed() {
    let app = App::new();
    let checkout = app.world.checkout.path();
    let fly_toml =
        FLY_TOML.replace("dockerfile = \"deploy/Dockerfile\"", "builder = \"paketobuildpacks/builder:base\"\n  buildpacks = [\"paketo-buildpacks/nodejs\"]");
    std::fs::write(checkout.join("fly.toml"), fly_toml).unwrap();

    let bin = tempfile::tempdir().unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap());
    let (code, out, err) = crate::support::run(app.job(&["--plan-only"]).env("PATH", &path));
    assert_ne!(code, 0, "{out}{err}");
    assert!(err.contains("a buildpacks build, which needs the `pack` CLI: install it"), "{err}");

    let args = bin.path().join("pack-args");
    let image = tempfile::tempdir().unwrap();
    std::fs::write(image.path().join("Dockerfile"), "FROM scratch\nCOPY index.html /workspace/index.html\n").unwrap();
    std::fs::write(image.path().join("index.html"), "<h1>built by buildpacks</h1>\n").unwrap();
    ferry_test_support::write_executable(
        &bin.path().join("pack"),
        &format!(
            "#!/bin/sh\n[ \"$1\" = version ] && {{ echo 0.36.0+git-abc.build-1; exit 0; }}\n\
             printf '%s\\n' \"$@\" > {args}\n\
             buildah bud --quiet --format docker -t \"$2\" {context} >/dev/null && \
             buildah push --quiet --authfile \"$DOCKER_CONFIG/config.json\" \"$2\" \"docker://$2\"\n",
            args = args.display(),
            context = image.path().display(),
        ),
    );
    let (code, out, err) = crate::support::run(app.job(&["--build-arg", "EDITION=2", "--format", "json"]).env("PATH", &path));
    assert_eq!(code, 0, "{out}{err}\n{}", app.registry.log());
    assert!(err.contains("with pack (fly.toml's [build] builder = \"paketobuildpacks/builder:base\", with pack 0.36.0"), "{err}");
    let words = std::fs::read_to_string(&args).unwrap();
    let words: Vec<&str> = words.lines().collect();
    let tag = words[1];
    assert!(tag.starts_with(&format!("{}/shop:deployment-", app.registry.host)), "{words:?}");
    for expected in [
        &["--builder", "paketobuildpacks/builder:base"][..],
        &["--buildpack", "paketo-buildpacks/nodejs"],
        &["--env", "GREETING=from fly.toml"],
        &["--env", "EDITION=2"],
        &["--platform", "linux/amd64"],
        &["--publish"],
    ] {
        assert!(words.windows(expected.len()).any(|w| w == expected), "{expected:?} in {words:?}");
    }
    let image = serde_json::from_str::<Value>(&out).unwrap()["image"].as_str().unwrap().to_string();
    let digest = image.strip_prefix(&format!("{tag}@")).unwrap_or_else(|| panic!("{image} pins {tag}"));
    assert_eq!(app.served_digest(digest), digest, "the pin is what the registry serves");
    assert!(app.world.machines("shop").iter().all(|m| m["image_ref"]["digest"] == digest));

    // What only a Dockerfile build reads is refused, not dropped.
    let (code, _, err) = crate::support::run(app.job(&["--build-target", "web", "--plan-only"]).env("PATH", &path));
    assert_ne!(code, 0);
    assert!(err.contains("--build-target applies to a Dockerfile build, and fly.toml's [build] builder"), "{err}");
}
