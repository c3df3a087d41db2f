//! fly.toml values cannot escape into nginx configs, host paths, env files or docker arguments.
//!
//! Each case is a pull request's fly.toml (or a deploy flag) from the
//! security audit (M1), run through the real binary against a VM target
//! whose host nobody listens on: the refusal must come from the inventory
//! or the VM planner, naming the key, before ferry connects anywhere. And
//! checkout writes refuse links committed in the repository that lead out
//! of it (L4), at the executor that applies a reviewed plan.

use std::path::Path;

use ferry_engine::apply::{DataOps, DnsOps, Executor, Owner, Providers, VmOps};
use ferry_model::{CheckoutOp, ConfigEdit, FileWrite, Operation};

use crate::support::{checkout, ferry, run};

/// The audit's app name: valid in an nginx site file, a container name and
/// `docker ps --filter` all at once.
const HOSTILE_APP: &str = r#"shop;}\nserver { listen 80; root /; autoindex on; }\n#"#;

fn fly_toml(app: &str, source: &str, greeting: &str) -> String {
    format!(
        "app = \"{app}\"\n\n[env]\n  GREETING = \"{greeting}\"\n\n[mounts]\n  source = \"{source}\"\n  destination = \"/data\"\n\n[http_service]\n  internal_port = 8080\n"
    )
}

/// A checkout whose VM target is a closed port on loopback, with a key
/// set: any attempt to reach the host fails with "cannot connect".
fn vm_checkout(fly: &str) -> tempfile::TempDir {
    let workflow = "[[steps]]\nname = \"parse-config\"\n\n[targets.vm.prod]\nhost = \"root@127.0.0.1:1\"\nssh_key_env = \"FERRY_SECRET_VM_KEY\"\nknown_hosts_env = \"FERRY_SECRET_VM_KNOWN_HOSTS\"\n";
    checkout(&[("fly.toml", fly), ("Dockerfile", "FROM alpine\nEXPOSE 8080\n"), ("ferry.toml", workflow)])
}

/// `ferry deploy --target vm --plan-only ARGS`: exit code and all output.
fn plan_vm(co: &Path, cache: &Path, args: &[&str]) -> (i32, String) {
    let mut cmd = ferry(cache);
    cmd.args(["deploy", "--target", "vm", "--plan-only", "--dir"])
        .arg(co)
        .args(args)
        .env("FERRY_STATE", co.join(".ferry"))
        .env("FERRY_SECRET_VM_KEY", "not a key")
        .env("FERRY_SECRET_VM_KNOWN_HOSTS", "127.0.0.1 ssh-ed25519 AAAA")
        .env_remove("FLY_API_TOKEN")
        .env_remove("GITHUB_ACTIONS");
    let (code, out, err) = run(&mut cmd);
    (code, format!("{out}{err}"))
}

fn refused_before_the_host(code: i32, out: &str, key: &str) {
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(key), "the refusal names {key}: {out}");
    assert!(!out.contains("cannot connect") && !out.contains("127.0.0.1:1"), "ferry went to the host first: {out}");
    assert!(!out.contains("Plan "), "no plan was printed or kept: {out}");
}

#[test]
fn the_audits_app_name_is_an_inventory_error_naming_file_line_and_key() {
    let co = checkout(&[("fly.toml", &fly_toml(HOSTILE_APP, "shop_data", "hi"))]);
    let cache = tempfile::tempdir().unwrap();
    let (code, out, err) = run(ferry(cache.path()).args(["inventory", "--dir"]).arg(co.path()).env_remove("FLY_API_TOKEN"));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("fly.toml:1:") && err.contains("(app): app name") && err.contains("is not a Fly app name"), "{err}");
}

#[test]
fn hostile_names_paths_and_env_values_never_reach_the_host() {
    let cache = tempfile::tempdir().unwrap();
    let cases = [
        (fly_toml(HOSTILE_APP, "shop_data", "hi"), "(app)"),
        // `(mounts.source)` from the step, or `(mounts[0].source)` from
        // parse-config when the host reads the app first (to place a build).
        (fly_toml("shop", "../../../../", "hi"), "(mounts"),
        (fly_toml("shop", "../../../etc", "hi"), "(mounts"),
        (fly_toml("shop", "shop_data", r"hi\nDATABASE_URL=postgres://attacker.example/steal"), "(env.GREETING)"),
    ];
    for (fly, key) in cases {
        let co = vm_checkout(&fly);
        for phase in [&["--provision"][..], &[][..]] {
            let (code, out) = plan_vm(co.path(), cache.path(), phase);
            refused_before_the_host(code, &out, key);
            assert!(!out.contains("attacker.example"), "an env value was repeated: {out}");
        }
        assert!(!co.path().join(".ferry").exists() || std::fs::read_dir(co.path().join(".ferry")).unwrap().next().is_none(), "nothing was kept for review");
    }
}

#[test]
fn hostile_hostnames_and_tls_paths_never_reach_nginx() {
    let cache = tempfile::tempdir().unwrap();
    let co = vm_checkout(&fly_toml("shop", "shop_data", "hi"));
    let (code, out) = plan_vm(co.path(), cache.path(), &["--hostnames", "shop.example.com;}server{listen 80;root /;}"]);
    refused_before_the_host(code, &out, "is not a hostname");
    let tls = ["--tls-certificate", "/etc/ssl/shop.pem;}server{listen 80;root /;", "--tls-key", "/etc/ssl/shop.key"];
    let (code, out) = plan_vm(co.path(), cache.path(), &tls);
    refused_before_the_host(code, &out, "tls-certificate");
}

/// The executor as `ferry apply` builds it, for a checkout without any
/// provider configured.
fn executor(dir: &Path) -> Providers {
    let owner = Owner { id: "test".into(), url: None, host: None, pid: None };
    Providers {
        checkout: dir.to_path_buf(),
        fly: None,
        dns: DnsOps::new(ferry_engine::DnsZones::new(Vec::new())),
        data: DataOps::new(ferry_engine::DataSources::new(Vec::new(), Vec::new())),
        vm: VmOps::new(std::sync::Arc::new(ferry_engine::VmTargets::new(Vec::new())), owner, dir.to_path_buf(), ferry_engine::DnsZones::default(), None),
    }
}

#[test]
fn checkout_writes_do_not_follow_links_committed_out_of_the_repository() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("sudoers");
    std::fs::write(&victim, "root ALL=(ALL) ALL\n").unwrap();
    let co = checkout(&[("Dockerfile", "FROM alpine\n")]);
    std::os::unix::fs::symlink(outside.path(), co.path().join("config")).unwrap();
    std::os::unix::fs::symlink(&victim, co.path().join("fly.toml")).unwrap();
    let exec = executor(co.path());

    let write = Operation::Checkout(CheckoutOp::WriteFile(FileWrite { file: "config/sudoers".into(), contents: "ALL ALL=(ALL) NOPASSWD: ALL\n".into() }));
    let edit = Operation::Checkout(CheckoutOp::EditConfig(ConfigEdit { file: "fly.toml".into(), key: "app".into(), value: Some("\"x\"".into()) }));
    for op in [&write, &edit] {
        let prepared = exec.prepare(op).expect_err("the undo data would be read from outside the checkout");
        assert!(prepared.to_string().contains("leads outside the checkout"), "{prepared}");
        let executed = exec.execute(op, &mut || {}).expect_err("the write would land outside the checkout");
        assert!(executed.to_string().contains("leads outside the checkout"), "{executed}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "root ALL=(ALL) ALL\n", "the file outside is untouched");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1, "nothing was created outside");
}
