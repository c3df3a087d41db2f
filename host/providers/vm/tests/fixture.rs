//! The VM fixture's nginx and clients (see ferry-test-support's vm):
//! the fallback answer, a site proxying to a container, and a graceful
//! switch between containers that a client hammering the VM never notices.

use ferry_test_support::vm;

use std::time::{Duration, Instant};

use ferry_ssh::Session;
use vm::{BASE_IMAGE, Client, Vm};

/// A busybox httpd serving `body` on the VM's loopback `port`; returns
/// once it answers (asked from inside the container: no network involved).
fn serve(vm: &Vm, port: u16, body: &str) {
    let script = format!("mkdir -p /www && echo {body} > /www/index.html && httpd -f -p 8080 -h /www");
    let out = vm.docker().args(["run", "-d", "-p", &format!("127.0.0.1:{port}:8080"), BASE_IMAGE, "sh", "-c", &script]).output().unwrap();
    assert!(out.status.success(), "docker run: {}", String::from_utf8_lossy(&out.stderr));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !vm.docker().args(["exec", &id, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]).output().unwrap().status.success() {
        assert!(Instant::now() < deadline, "httpd on {port} does not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The one site: everything proxied to the VM's loopback `port`.
fn site(vm: &Vm, port: u16) {
    let conf = format!("server {{\n    listen 80;\n    location / {{ proxy_pass http://127.0.0.1:{port}; }}\n}}\n");
    std::fs::write(vm.nginx_sites_dir().join("app.conf"), conf).unwrap();
}

/// The reload as a deploy runs it: over SSH. Returns once the workers of
/// the previous config are gone (nginx reloads asynchronously, and for a
/// moment old and new workers both accept), so the next request is sure to
/// see the new config.
fn reload(session: &Session, vm: &Vm) {
    let before = vm.nginx_worker_pids();
    session.run(&vm.nginx_reload_command()).unwrap_or_else(|e| panic!("reload: {e}; log:\n{}", vm.nginx_log()));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let now = vm.nginx_worker_pids();
        if now.len() == 1 && now != before {
            return;
        }
        assert!(Instant::now() < deadline, "old nginx workers linger: {before:?} -> {now:?}; log:\n{}", vm.nginx_log());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn without_a_site_nginx_answers_503_no_site() {
    let vm = Vm::start_with_docker_and_nginx();
    let client = Client::connect(&vm);
    assert_ne!(client.vm_addr(), vm.addr(), "the client has a link of its own");
    assert_eq!(client.get("/"), (503, "no site".to_string()));
    assert_eq!(client.get("/any/path").0, 503);
}

#[test]
fn a_site_file_and_a_reload_proxy_to_a_container() {
    let vm = Vm::start_with_docker_and_nginx();
    let client = Client::connect(&vm);
    serve(&vm, 18090, "one");
    site(&vm, 18090);
    reload(&Session::open(vm.host(), vm.options()).expect("ssh to the VM"), &vm);
    assert_eq!(client.get("/"), (200, "one\n".to_string()));
}

#[test]
fn switching_containers_with_a_reload_drops_no_request() {
    let vm = Vm::start_with_docker_and_nginx();
    let client = Client::connect(&vm);
    let session = Session::open(vm.host(), vm.options()).expect("ssh to the VM");
    serve(&vm, 18090, "one");
    serve(&vm, 18091, "two");
    site(&vm, 18090);
    reload(&session, &vm);
    assert_eq!(client.get("/"), (200, "one\n".to_string()));

    let requests = client.start_loop("/");
    std::thread::sleep(Duration::from_millis(500));
    site(&vm, 18091);
    reload(&session, &vm);
    std::thread::sleep(Duration::from_millis(500));
    let result = requests.stop();

    assert_eq!(result.failed, 0, "{result:?}");
    assert!(result.total > 10, "{result:?}");
    assert_eq!(client.get("/"), (200, "two\n".to_string()), "the new site serves once the old workers are gone");
}
