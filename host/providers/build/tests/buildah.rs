//! A real build with Debian's buildah, from the command line
//! `commands::build` writes: the image is made, its id written, its labels
//! and build args applied, and a build secret reaches the `RUN` that mounts
//! it without being left in any file of the image or in its history.
//!
//! buildah runs as root with its own store (vfs, in a temporary directory)
//! inside a network namespace this test creates (`unshare --net`), so a
//! `RUN` step reaches no network.

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_build::commands::{self, PushSpec};
use ferry_build::reference;
use ferry_build::{BuildSpec, Builder};
use ferry_test_support::buildah::Store;
use ferry_test_support::registry::Registry;
use sha2::Digest;

const SECRET: &str = "s3cr3t-npm-token-value";

/// `program args…` with `store`, in a new network namespace.
fn command(store: &Store, program: &str, args: &[String]) -> Command {
    let mut command = Command::new("unshare");
    command.arg("--net").arg("--").arg(program).args(args);
    let (var, conf) = store.env();
    command.env(var, conf);
    command
}

/// `program args…` with `store`, in this namespace: for a push to a
/// registry on this machine's loopback (it runs no container).
fn client(store: &Store, program: &str, args: &[String]) -> Command {
    let mut command = Command::new(program);
    let (var, conf) = store.env();
    command.args(args).env(var, conf);
    command
}

fn buildah(store: &Store, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = command(store, "buildah", &args).output().unwrap();
    assert!(out.status.success(), "buildah {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A context whose Dockerfile copies busybox in, reads the secret in a
/// `RUN` (writing only its length), and labels the image with a build arg.
fn context(dir: &Path) -> PathBuf {
    let context = dir.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch AS base\nCOPY busybox /bin/busybox\n\
         FROM base AS release\nARG GREETING\n\
         RUN --mount=type=secret,id=NPM_TOKEN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox wc -c < /run/secrets/NPM_TOKEN > /secret-length\"]\n\
         LABEL greeting=$GREETING\n\
         FROM base AS other\nRUN [\"/bin/busybox\", \"false\"]\n",
    )
    .unwrap();
    context
}

#[test]
fn buildah_builds_the_spec_and_keeps_the_secret_out_of_the_image() {
    let store = Store::new();
    let work = tempfile::tempdir().unwrap();
    let spec = BuildSpec {
        context: context(work.path()),
        dockerfile: None,
        // The `other` stage fails if built: the target must be honoured.
        target: Some("release".into()),
        args: [("GREETING".to_string(), "hello from ferry".to_string())].into(),
        secrets: vec!["NPM_TOKEN".into()],
        labels: [("GH_SHA".to_string(), "abc123".to_string())].into(),
        no_cache: false,
        tag: "registry.fly.io/shop:deployment-01test".into(),
        iidfile: work.path().join("iid"),
        ignorefile: None,
        cache: None,
    };
    let build = commands::build(Builder::Buildah, &spec).unwrap();
    assert!(!build.to_string().contains(SECRET));
    let mut run = command(&store, build.program, &build.args);
    run.envs(build.env.iter().map(|(name, value)| (name, value))).env("FERRY_SECRET_NPM_TOKEN", SECRET);
    let out = run.output().unwrap();
    assert!(out.status.success(), "{build}\n{}", String::from_utf8_lossy(&out.stderr));

    let id = std::fs::read_to_string(&spec.iidfile).unwrap();
    assert!(id.starts_with("sha256:") && id.trim().len() == 71, "{id:?}");
    let image = buildah(&store, &["inspect", "--type", "image", &spec.tag]);
    let inspected: serde_json::Value = serde_json::from_str(&image).unwrap();
    let labels = &inspected["OCIv1"]["config"]["Labels"];
    assert_eq!(labels["greeting"], "hello from ferry", "{labels}");
    assert_eq!(labels["GH_SHA"], "abc123", "{labels}");
    // The config, history and manifest: none holds the value.
    assert!(!image.contains(SECRET), "{image}");

    // Every file of the image, read through a working container's mount.
    let container = buildah(&store, &["from", &spec.tag]).trim().to_string();
    let root = PathBuf::from(buildah(&store, &["mount", &container]).trim());
    let length = std::fs::read_to_string(root.join("secret-length")).unwrap();
    assert_eq!(length.trim(), SECRET.len().to_string(), "the RUN saw the secret");
    let mut leaked = Vec::new();
    for entry in walk(&root) {
        if std::fs::read(&entry).is_ok_and(|bytes| bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes())) {
            leaked.push(entry);
        }
    }
    buildah(&store, &["umount", &container]);
    buildah(&store, &["rm", &container]);
    assert!(leaked.is_empty(), "the secret is in {leaked:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files.extend(walk(&entry.path()));
        } else if kind.is_file() {
            files.push(entry.path());
        }
    }
    files
}

/// Builds the context of `dir` (no secret) as `tag` in `store`.
fn build_plain(store: &Store, dir: &Path, tag: &str) {
    let spec = BuildSpec {
        context: context(dir),
        target: Some("release".into()),
        tag: tag.into(),
        iidfile: dir.join("iid"),
        secrets: vec!["NPM_TOKEN".into()],
        ..BuildSpec::default()
    };
    let build = commands::build(Builder::Buildah, &spec).unwrap();
    let out = command(store, build.program, &build.args).env("FERRY_SECRET_NPM_TOKEN", SECRET).output().unwrap();
    assert!(out.status.success(), "{build}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// The push the deploy will make: the login from a file, the digest the
/// registry stored, and that digest the sha256 of the manifest it serves, so
/// the pinned reference names exactly these bytes.
#[test]
fn a_pushed_image_is_pinned_by_the_digest_the_registry_serves() {
    let registry = Registry::start("x", "fm2_token,fm2_other");
    let store = Store::new();
    let work = tempfile::tempdir().unwrap();
    let tag = reference::deployment_tag(&registry.host, "shop", "deployment-01test").unwrap();
    build_plain(&store, work.path(), &tag);

    let push = |password: &str| {
        let auth_dir = tempfile::tempdir().unwrap();
        std::fs::write(auth_dir.path().join("config.json"), commands::auth_config(&registry.host, "x", password)).unwrap();
        let spec = PushSpec { tag: tag.clone(), auth_dir: auth_dir.path().into(), cert_dir: Some(registry.cert_dir()), digestfile: work.path().join("digest") };
        let command = commands::push(Builder::Buildah, &spec);
        assert!(!command.to_string().contains(password));
        client(&store, command.program, &command.args).output().unwrap()
    };
    let refused = push("wrong");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unauthorized"), "{}", String::from_utf8_lossy(&refused.stderr));

    let out = push(&registry.password);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stderr), registry.log());
    let digest = std::fs::read_to_string(work.path().join("digest")).unwrap();
    let digest = digest.trim();
    assert_eq!(reference::pinned(&tag, digest).unwrap(), format!("{}/shop:deployment-01test@{digest}", registry.host));

    // The manifest as the registry serves it, by that digest.
    let url = format!("https://{}/v2/shop/manifests/{digest}", registry.host);
    let manifest = Command::new("curl")
        .args(["-sf", "--cacert"])
        .arg(registry.ca_file())
        .args(["-u", &format!("x:{}", registry.password)])
        .args(["-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", &url])
        .output()
        .unwrap();
    assert!(manifest.status.success(), "{url}: {}", String::from_utf8_lossy(&manifest.stderr));
    assert_eq!(format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest.stdout))), digest, "{url}");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(manifest["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
}

/// A CI runner starts every job with an empty engine: the layer cache a
/// build pushes to the app's repository is what the next job's build, on
/// another empty store, reuses. The `RUN` writes random bytes, so its layer
/// is the same only if it was taken from the cache, not run again.
///
/// buildah runs in a VM's namespace, with the registry listening there:
/// its `RUN` steps reach no network but that namespace's.
#[test]
fn an_empty_store_reuses_the_layers_an_earlier_build_cached_in_the_registry() {
    let vm = ferry_test_support::vm::Vm::start();
    let registry = Registry::start_in(vm.netns(), vm.addr(), "x", "fm2_token");
    let work = tempfile::tempdir().unwrap();
    let context = work.path().join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox head -c 16 /dev/urandom | /bin/busybox od -An -tx1 > /stamp\"]\n",
    )
    .unwrap();
    let auth_dir = work.path().join("auth");
    std::fs::create_dir(&auth_dir).unwrap();
    std::fs::write(auth_dir.join("config.json"), commands::auth_config(&registry.host, "x", &registry.password)).unwrap();
    let repository = format!("{}/shop", registry.host);

    // One build on a store of its own; the /stamp its RUN left.
    let build = |n: u32, cache: bool| {
        let store = Store::new();
        let spec = BuildSpec {
            context: context.clone(),
            tag: format!("{repository}:deployment-{n}"),
            iidfile: work.path().join(format!("iid-{n}")),
            cache: cache.then(|| ferry_build::LayerCache { repository: repository.clone(), from: None, auth_dir: auth_dir.clone() }),
            ..BuildSpec::default()
        };
        let command = commands::build(Builder::Buildah, &spec).unwrap();
        let mut run = Command::new("nsenter");
        run.arg(format!("--net=/run/netns/{}", vm.netns())).arg("--").arg(command.program).args(&command.args);
        let (var, conf) = store.env();
        run.env(var, conf).env("SSL_CERT_FILE", registry.ca_file());
        let out = run.output().unwrap();
        assert!(out.status.success(), "{command}\n{}\n{}", String::from_utf8_lossy(&out.stderr), registry.log());
        let container = buildah(&store, &["from", &spec.tag]).trim().to_string();
        let root = PathBuf::from(buildah(&store, &["mount", &container]).trim());
        let stamp = std::fs::read_to_string(root.join("stamp")).unwrap();
        buildah(&store, &["umount", &container]);
        (stamp, String::from_utf8_lossy(&out.stdout).to_string())
    };
    let (first, _) = build(1, true);
    let (uncached, _) = build(2, false);
    assert_ne!(first, uncached, "the RUN is not deterministic, so an equal stamp proves a cache hit");
    let (second, log) = build(3, true);
    assert_eq!(first, second, "the second build ran the RUN again instead of taking it from {repository}:\n{log}");
}
