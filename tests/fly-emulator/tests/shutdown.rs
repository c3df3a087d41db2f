//! No process outlives the emulator: shutdown request, SIGTERM, stdin EOF,
//! SIGKILL (PR_SET_PDEATHSIG), and app deletion all end machine processes.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Emulator, TempDir, eventually, process_alive, web_config};
use ferry_fly_emulator::Options;
use serde_json::json;

/// Starts an emulator with two running machines; returns their PIDs.
fn with_machines() -> (Emulator, Vec<u32>) {
    with_machines_in(Emulator::start())
}

fn with_machines_in(emulator: Emulator) -> (Emulator, Vec<u32>) {
    emulator.register_image("registry.fly.io/app:v1", json!({}));
    emulator.create_app("app");
    let pids = (0..2)
        .map(|_| {
            let id = emulator.create_machine("app", json!({"config": web_config("registry.fly.io/app:v1")}))["id"].as_str().unwrap().to_string();
            emulator.wait_state("app", &id, "started");
            emulator.pid_of("app", &id)
        })
        .collect::<Vec<_>>();
    assert!(pids.iter().all(|pid| process_alive(*pid)));
    (emulator, pids)
}

fn signal(pid: u32, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(pid.to_string()).status().expect("run kill");
    assert!(status.success());
}

#[test]
fn the_shutdown_request_kills_every_machine_before_answering_then_exits() {
    let (emulator, pids) = with_machines();
    let response = emulator.control("POST", "/shutdown", None);
    assert_eq!(response.status, 200);
    assert!(pids.iter().all(|pid| !process_alive(*pid)), "machines die before the answer");
    let status = emulator.wait_exit(Duration::from_secs(10)).expect("the emulator exits");
    assert!(status.success());
}

#[test]
fn sigterm_stops_the_machines_and_the_emulator() {
    let (emulator, pids) = with_machines();
    signal(emulator.pid(), "TERM");
    let status = emulator.wait_exit(Duration::from_secs(10)).expect("the emulator exits");
    assert!(status.success());
    assert!(pids.iter().all(|pid| !process_alive(*pid)));
}

#[test]
fn closing_stdin_stops_the_machines_and_the_emulator() {
    let (emulator, pids) = with_machines();
    assert!(emulator.stop().success());
    assert!(pids.iter().all(|pid| !process_alive(*pid)));
}

#[test]
fn machines_die_with_a_killed_emulator() {
    // A killed emulator cannot remove its data dir: give it one the test removes.
    let data = TempDir::new();
    let (emulator, pids) = with_machines_in(Emulator::start_with(&Options { data_dir: Some(data.path().to_path_buf()), ..Options::default() }));
    signal(emulator.pid(), "KILL");
    emulator.wait_exit(Duration::from_secs(10)).expect("the emulator is dead");
    eventually("the orphaned machines to die", Duration::from_secs(5), || pids.iter().all(|pid| !process_alive(*pid)));
}

#[test]
fn deleting_the_app_kills_its_machines() {
    let (emulator, pids) = with_machines();
    assert_eq!(emulator.delete("/v1/apps/app").status, 202);
    eventually("the machines to die", Duration::from_secs(5), || pids.iter().all(|pid| !process_alive(*pid)));
    assert_eq!(emulator.get("/v1/apps/app").status, 404);
}

#[test]
fn serve_refuses_non_loopback_addresses_and_help_explains_both_modes() {
    let refused = Command::new(env!("CARGO_BIN_EXE_fly-emulator")).args(["serve", "--listen", "0.0.0.0:0"]).output().expect("run fly-emulator");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));

    let help = Command::new(env!("CARGO_BIN_EXE_fly-emulator")).arg("--help").output().expect("run fly-emulator");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("serve") && text.contains("machine"), "{text}");
}

#[test]
fn locate_binary_finds_the_built_emulator_next_to_the_test() {
    let found = ferry_fly_emulator::locate_binary().expect("locate fly-emulator");
    let built = std::path::Path::new(env!("CARGO_BIN_EXE_fly-emulator"));
    assert_eq!(found.canonicalize().unwrap(), built.canonicalize().unwrap());
}
