//! ferry-vm against a real dockerd inside a network namespace, reached by
//! real sshd (see ferry-test-support's vm): facts, an image built
//! on the host and one shipped from another engine, containers run,
//! listed, stopped and removed.

use ferry_test_support::vm;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ferry_ssh::Session;
use ferry_vm::{Build, ContainerSpec, DockerHost, Publish};
use vm::{BASE_IMAGE, Vm};

fn session(vm: &Vm) -> Session {
    Session::open(vm.host(), vm.options()).expect("ssh to the VM")
}

/// A build context serving `body` on 8080 with busybox httpd.
fn context(body: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let dockerfile =
        format!("FROM {BASE_IMAGE}\nRUN mkdir -p /www && echo {body} > /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// GET / from the VM's address (the fixture checked the route is its veth).
fn get(vm: &Vm, port: u16) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect_timeout(&(vm.addr(), port).into(), Duration::from_millis(200)) {
            stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let mut response = String::new();
            if stream.read_to_string(&mut response).is_ok() && response.starts_with("HTTP/1.") {
                return response.split("\r\n\r\n").nth(1).map(|b| b.trim().to_string());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn facts_name_the_os_docker_disk_and_listening_ports() {
    let vm = Vm::start_with_docker();
    let session = session(&vm);
    let facts = DockerHost::new(&session, "docker").facts("/srv/shop/does/not/exist/yet").unwrap();
    assert!(!facts.os.is_empty() && facts.os != "unknown", "{facts:?}");
    assert!(!facts.arch.is_empty());
    assert!(facts.docker.as_deref().is_some_and(|v| v.starts_with(char::is_numeric)), "{facts:?}");
    assert!(facts.free_disk_mb.is_some_and(|mb| mb > 0), "{facts:?}");
    assert!(facts.listening_ports.contains(&22), "sshd listens: {facts:?}");

    let without = DockerHost::new(&session, "docker-not-installed").facts("/").unwrap();
    assert_eq!(without.docker, None, "a host without docker says so");
}

#[test]
fn an_image_built_on_the_host_runs_is_listed_stopped_and_removed() {
    let vm = Vm::start_with_docker();
    let session = session(&vm);
    let host = DockerHost::new(&session, "docker");
    let ctx = context("v1");
    host.build(ctx.path(), &Build::default(), "shop:1").expect("build on the host");
    assert!(host.image_id("shop:1").unwrap().is_some_and(|id| id.starts_with("sha256:")));
    assert_eq!(host.image_id("shop:missing").unwrap(), None);

    let spec = ContainerSpec {
        name: "shop-web-1".into(),
        image: "shop:1".into(),
        publish: vec![Publish { host_ip: "0.0.0.0".into(), host_port: 18081, container_port: 8080 }],
        labels: BTreeMap::from([("ferry.app".into(), "shop".into()), ("ferry.release".into(), "1".into())]),
        restart: Some("unless-stopped".into()),
        ..ContainerSpec::default()
    };
    let id = host.run_detached(&spec).expect("docker run");
    assert_eq!(get(&vm, 18081).as_deref(), Some("v1"));

    let listed = host.containers("ferry.app=shop").unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].id.as_str(), listed[0].name.as_str(), listed[0].state.as_str()), (id.as_str(), "shop-web-1", "running"));
    assert_eq!(listed[0].labels["ferry.release"], "1");
    assert!(host.containers("ferry.app=other").unwrap().is_empty());

    host.stop("shop-web-1", 1).unwrap();
    assert_eq!(host.containers("ferry.app").unwrap()[0].state, "exited");
    host.stop("shop-web-1", 1).expect("stopping a stopped container is fine");
    host.remove("shop-web-1").unwrap();
    assert!(host.containers("ferry.app").unwrap().is_empty());
    host.remove("shop-web-1").expect("removing a removed container is fine");
    // Names that look like options are names: without the `--` before them,
    // docker would print its help (exit 0) and these would be "found".
    assert_eq!(host.state("--help").unwrap(), None);
    assert_eq!(host.image_id("--help").unwrap(), None);

    let broken = tempfile::tempdir().unwrap();
    std::fs::write(broken.path().join("Dockerfile"), "FROM localhost/nothing-here\n").unwrap();
    let error = host.build(broken.path(), &Build::default(), "shop:2").unwrap_err().to_string();
    assert!(error.contains("docker build exited with") && error.contains("localhost/nothing-here"), "{error}");

    // fly.toml's [build]: a Dockerfile in a subdirectory, a stage, a build
    // arg (the other stage fails if built; the arg's value is served).
    let staged = tempfile::tempdir().unwrap();
    std::fs::create_dir(staged.path().join("deploy")).unwrap();
    std::fs::write(
        staged.path().join("deploy/Dockerfile.web"),
        format!(
            "FROM {BASE_IMAGE} AS web\nARG EDITION\nRUN mkdir -p /www && echo \"edition $EDITION\" > /www/index.html\n\
             CMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\nFROM {BASE_IMAGE} AS broken\nRUN false\n"
        ),
    )
    .unwrap();
    let args = [("EDITION".to_string(), "two; $(touch /pwned)".to_string())];
    let build = Build { dockerfile: Some("deploy/Dockerfile.web"), target: Some("web"), args: &args, ignorefile: None };
    host.build(staged.path(), &build, "shop:3").expect("a staged build with an arg");
    let spec = ContainerSpec {
        name: "shop-web-3".into(),
        image: "shop:3".into(),
        publish: vec![Publish { host_ip: "0.0.0.0".into(), host_port: 18083, container_port: 8080 }],
        ..ContainerSpec::default()
    };
    host.run_detached(&spec).expect("docker run");
    assert_eq!(get(&vm, 18083).as_deref(), Some("edition two; $(touch /pwned)"), "the arg arrives as one value, never run by a shell");
    host.stop("shop-web-3", 1).unwrap();
    host.remove("shop-web-3").unwrap();
}

#[test]
fn a_one_off_container_streams_its_output_and_exit_code() {
    let vm = Vm::start_with_docker();
    let session = session(&vm);
    let host = DockerHost::new(&session, "docker");
    let spec = ContainerSpec {
        name: "shop-release-1".into(),
        image: BASE_IMAGE.into(),
        env: BTreeMap::from([("STEP".into(), "migrate".into())]),
        command: vec!["sh".into(), "-c".into(), "echo running $STEP; exit 3".into()],
        ..ContainerSpec::default()
    };
    let mut lines = Vec::new();
    let code = host.run_once(&spec, &mut |line| lines.push(line.to_string())).unwrap();
    assert_eq!(code, 3);
    assert_eq!(lines, ["running migrate"]);
    assert!(host.containers("ferry.app").unwrap().is_empty() && host.image_id(BASE_IMAGE).unwrap().is_some(), "--rm left nothing behind");
}

#[test]
fn an_image_saved_by_another_engine_is_loaded_without_a_registry() {
    let (ci, target) = (Vm::start_with_docker(), Vm::start_with_docker());
    let ctx = context("shipped");
    let built = ci.docker().args(["build", "-q", "-t", "shop:ci"]).arg(ctx.path()).env("DOCKER_BUILDKIT", "0").output().unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));

    let session = session(&target);
    let host = DockerHost::new(&session, "docker");
    assert_eq!(host.image_id("shop:ci").unwrap(), None);
    let mut save = ci.docker().args(["save", "shop:ci"]).stdout(Stdio::piped()).spawn().unwrap();
    host.load(save.stdout.as_mut().unwrap()).expect("docker load over ssh");
    assert!(save.wait().unwrap().success());
    assert!(host.image_id("shop:ci").unwrap().is_some(), "the image arrived");
}

/// What the checkout's `.dockerignore` keeps out of the build context stays
/// out of the image built on the host, as `docker build .` keeps it out.
#[test]
fn a_host_build_leaves_out_what_the_dockerignore_names() {
    let vm = Vm::start_with_docker();
    let session = session(&vm);
    let host = DockerHost::new(&session, "docker");
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), format!("FROM {BASE_IMAGE}\nCOPY . /ctx/\n")).unwrap();
    std::fs::write(context.path().join(".dockerignore"), "*.env\nnotes/\n").unwrap();
    std::fs::write(context.path().join("production.env"), "DATABASE_PASSWORD=hunter2\n").unwrap();
    std::fs::write(context.path().join("index.html"), "<h1>shop</h1>\n").unwrap();
    std::fs::create_dir(context.path().join("notes")).unwrap();
    std::fs::write(context.path().join("notes/todo.txt"), "private\n").unwrap();
    host.build(context.path(), &Build::default(), "shop:ignored").expect("docker build");
    let out = vm.docker().args(["run", "--rm", "--network", "none", "shop:ignored", "ls", "-a", "/ctx"]).output().unwrap();
    let files = String::from_utf8_lossy(&out.stdout);
    assert!(files.contains("index.html"), "{files}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!files.contains("production.env") && !files.contains("notes"), "the .dockerignore was not applied: {files}");

    // fly.toml's ignorefile instead of the .dockerignore.
    std::fs::write(
        context.path().join("ci.ignore"),
        "index.html
",
    )
    .unwrap();
    host.build(context.path(), &Build { ignorefile: Some("ci.ignore"), ..Build::default() }, "shop:ignorefile").expect("docker build");
    let out = vm.docker().args(["run", "--rm", "--network", "none", "shop:ignorefile", "ls", "-a", "/ctx"]).output().unwrap();
    let files = String::from_utf8_lossy(&out.stdout);
    assert!(files.contains("production.env") && !files.contains("index.html"), "the ignorefile replaces the .dockerignore: {files}");
}
