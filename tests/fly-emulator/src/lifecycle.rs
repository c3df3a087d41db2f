//! One actor per machine owns its process and performs every lifecycle
//! transition in order: API handlers validate a request, record its immediate
//! effect in the state (e.g. `stopping`) and send the actor an [`Op`]; the
//! actor does the slow part (signal, wait, spawn) and records the outcome.
//! It also sees unrequested exits and applies the restart policy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rustix::process::Signal;
use serde_json::{Value, json};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::checks;
use crate::config::{MachineFile, RestartPolicy};
use crate::data_dir::DataDir;
use crate::echo;
use crate::emulator::Emulator;
use crate::ids;
use crate::image::ImageKind;
use crate::job::{self, GuestFile, JobSpec};
use crate::machine_proc::{self, Exit, Launch, LineSink, Process};
use crate::state::{MachineState, ProcessInfo, Secret, State};

/// The mode of a `config.files` entry without one (unverified for Fly).
const DEFAULT_FILE_MODE: u32 = 0o644;

/// Fly's default kill timeout when neither the request nor `stop_config` sets one.
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum Op {
    /// Start the process unless it runs.
    Start,
    Stop {
        signal: Option<Signal>,
        timeout: Option<Duration>,
    },
    Restart {
        signal: Option<Signal>,
        timeout: Option<Duration>,
    },
    /// Stop the process and settle `suspended`.
    Suspend,
    /// The config changed: stop the old process, then start the new one
    /// unless `launch` is false (`skip_launch`).
    Replace {
        launch: bool,
    },
    /// Kill the process and mark the machine destroyed.
    Destroy,
    /// Kill the process and end the actor (emulator shutdown, app deleted);
    /// acks when reaped.
    Shutdown(oneshot::Sender<()>),
}

/// Starts the actor of machine `id` of `app` and returns its mailbox.
pub fn spawn_actor(emulator: Arc<Emulator>, app: String, id: String) -> UnboundedSender<Op> {
    let (sender, mailbox) = unbounded_channel();
    let actor = Actor { emulator, app, id, mailbox, running: None, restart_at: None, restarts: 0 };
    tokio::spawn(actor.run());
    sender
}

struct Actor {
    emulator: Arc<Emulator>,
    app: String,
    id: String,
    mailbox: UnboundedReceiver<Op>,
    running: Option<Running>,
    /// When a crashed process is due to be restarted.
    restart_at: Option<Instant>,
    /// Automatic restarts since the last start the user asked for.
    restarts: u32,
}

struct Running {
    process: Process,
    checks: JoinHandle<()>,
}

enum Next {
    Op(Option<Op>),
    Exited(Exit),
    RestartDue,
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    End,
}

impl Actor {
    async fn run(mut self) {
        loop {
            let next = tokio::select! {
                op = self.mailbox.recv() => Next::Op(op),
                exit = wait_for_exit(&mut self.running) => Next::Exited(exit),
                () = sleep_until(self.restart_at) => Next::RestartDue,
            };
            let flow = match next {
                Next::Op(Some(op)) => self.apply(op).await,
                Next::Op(None) => {
                    self.kill_process().await;
                    Flow::End
                }
                Next::Exited(exit) => self.on_exit(exit),
                Next::RestartDue => {
                    self.restart_at = None;
                    self.launch("flyd").await;
                    Flow::Continue
                }
            };
            if flow == Flow::End {
                return;
            }
        }
    }

    async fn apply(&mut self, op: Op) -> Flow {
        self.restart_at = None;
        match op {
            Op::Start => {
                self.restarts = 0;
                if self.running.is_none() {
                    self.launch("user").await;
                }
                Flow::Continue
            }
            Op::Stop { signal, timeout } => {
                self.stop_process(signal, timeout).await;
                self.settle_stopped()
            }
            Op::Suspend => {
                self.stop_process(None, None).await;
                self.emulator.write(|state| {
                    if let Some(machine) = state.machine_mut(&self.app, &self.id).filter(|m| m.state == MachineState::Suspending) {
                        machine.state = MachineState::Suspended;
                        machine.push_event("suspend", "suspended", "user", json!({}));
                    }
                });
                Flow::Continue
            }
            Op::Restart { signal, timeout } => {
                self.restarts = 0;
                self.stop_process(signal, timeout).await;
                self.launch("user").await;
                Flow::Continue
            }
            Op::Replace { launch } => {
                self.restarts = 0;
                self.stop_process(None, None).await;
                if launch {
                    self.launch("user").await;
                    Flow::Continue
                } else {
                    self.settle_stopped()
                }
            }
            Op::Destroy => {
                self.kill_process().await;
                self.destroy("user");
                Flow::End
            }
            Op::Shutdown(ack) => {
                self.kill_process().await;
                let _ = ack.send(());
                Flow::End
            }
        }
    }

    /// Starts the process with the machine's current config.
    async fn launch(&mut self, source: &'static str) {
        if self.emulator.is_shutting_down() {
            return;
        }
        let emulator = self.emulator.clone();
        let prepared = emulator.write(|state| prepare_launch(state, &emulator.data, &self.app, &self.id));
        let (program, boot_delay, region) = match prepared {
            None => return,
            Some(Err(message)) => return self.fail(message),
            Some(Ok(prepared)) => prepared,
        };
        tokio::time::sleep(boot_delay).await;
        let spawned = match &program {
            Program::Builtin(launch) => Process::spawn(&emulator.exe, launch, self.log_sink(region)).await,
            Program::Job(spec) => job::spawn(&emulator.exe, spec, emulator.machine_netns.as_deref(), self.log_sink(region)).await,
        };
        let process = match spawned {
            Ok(process) => process,
            Err(e) => return self.fail(format!("failed to launch VM: {e}")),
        };
        let ports = process.ports().clone();
        let restart_count = self.restarts;
        let started = self.emulator.write(|state| {
            let machine = state.machine_mut(&self.app, &self.id).filter(|m| !m.state.is_gone())?;
            machine.run_id += 1;
            machine.state = MachineState::Started;
            machine.process = Some(ProcessInfo { pid: process.pid(), ports: ports.clone() });
            machine.reset_checks("waiting for the first check");
            machine.push_event("start", "started", source, json!({"restart_count": restart_count}));
            Some((machine.run_id, machine.spec.check_plans()))
        });
        let Some((run_id, plans)) = started else {
            // Destroyed (app deleted) while spawning.
            let mut process = process;
            process.kill().await;
            return;
        };
        let machine = checks::Target { app: self.app.clone(), machine: self.id.clone(), run_id };
        let checks = checks::spawn(self.emulator.clone(), machine, plans, &ports);
        self.running = Some(Running { process, checks });
    }

    fn log_sink(&self, region: String) -> LineSink {
        let emulator = self.emulator.clone();
        let (app, id) = (self.app.clone(), self.id.clone());
        Arc::new(move |level, line| emulator.logs.push(&app, &id, &region, level, line))
    }

    /// The process exited on its own: record it and apply the restart policy.
    fn on_exit(&mut self, exit: Exit) -> Flow {
        if let Some(running) = self.running.take() {
            running.checks.abort();
        }
        let restarts = self.restarts;
        let outcome = self.emulator.write(|state| {
            let machine = state.machine_mut(&self.app, &self.id)?;
            // A stop, update or destroy is already queued: it decides what comes next.
            let superseded = matches!(
                machine.state,
                MachineState::Stopping | MachineState::Suspending | MachineState::Replacing | MachineState::Destroying | MachineState::Destroyed
            );
            let policy = machine.spec.restart_policy();
            let restart = !superseded
                && match policy {
                    RestartPolicy::No => false,
                    RestartPolicy::OnFailure { max_retries } => exit.code != 0 && restarts < max_retries,
                    RestartPolicy::Always => true,
                };
            machine.process = None;
            machine.reset_checks("machine exited");
            machine.push_event("exit", "stopped", "flyd", exit_request(exit, false, restart));
            if superseded {
                return Some((false, false));
            }
            machine.state = if restart {
                MachineState::Starting
            } else if policy != RestartPolicy::No && exit.code != 0 {
                MachineState::Failed
            } else {
                MachineState::Stopped
            };
            Some((restart, machine.spec.auto_destroy))
        });
        match outcome {
            None => Flow::End,
            Some((true, _)) => {
                self.restarts += 1;
                self.restart_at = Some(Instant::now() + restart_backoff(self.restarts));
                Flow::Continue
            }
            Some((false, true)) => {
                self.destroy("flyd");
                Flow::End
            }
            Some((false, false)) => Flow::Continue,
        }
    }

    /// Stops the process, if any, the way the request (or `stop_config`) asks.
    async fn stop_process(&mut self, signal: Option<Signal>, timeout: Option<Duration>) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        running.checks.abort();
        let (config_signal, config_timeout) = self.emulator.read(|state| {
            let stop = state.app(&self.app).and_then(|app| app.machine(&self.id)).and_then(|m| m.spec.stop_config.clone());
            let stop = stop.unwrap_or_default();
            (stop.signal.as_deref().and_then(machine_proc::parse_signal), stop.timeout.map(|t| t.0))
        });
        let signal = signal.or(config_signal).unwrap_or(Signal::INT);
        let timeout = timeout.or(config_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
        let exit = running.process.stop(signal, timeout).await;
        self.record_requested_exit(exit);
    }

    async fn kill_process(&mut self) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        running.checks.abort();
        let exit = running.process.kill().await;
        self.record_requested_exit(exit);
    }

    fn record_requested_exit(&self, exit: Exit) {
        self.emulator.write(|state| {
            if let Some(machine) = state.machine_mut(&self.app, &self.id) {
                machine.process = None;
                machine.reset_checks("machine stopped");
                machine.push_event("exit", "stopped", "user", exit_request(exit, true, false));
            }
        });
    }

    /// After a stop: `stopped`, or destroyed for an `auto_destroy` machine.
    fn settle_stopped(&mut self) -> Flow {
        let auto_destroy = self.emulator.write(|state| {
            let machine = state.machine_mut(&self.app, &self.id).filter(|m| !m.state.is_gone())?;
            machine.state = MachineState::Stopped;
            Some(machine.spec.auto_destroy)
        });
        match auto_destroy {
            Some(false) => Flow::Continue,
            Some(true) => {
                self.destroy("flyd");
                Flow::End
            }
            None => Flow::End,
        }
    }

    fn destroy(&self, source: &'static str) {
        self.emulator.write(|state| {
            if let Some(machine) = state.machine_mut(&self.app, &self.id) {
                machine.state = MachineState::Destroyed;
                machine.process = None;
                machine.lease = None;
                machine.checks.clear();
                machine.push_event("destroy", "destroyed", source, json!({}));
            }
        });
    }

    fn fail(&self, message: String) {
        let region = self.emulator.write(|state| {
            let machine = state.machine_mut(&self.app, &self.id).filter(|m| !m.state.is_gone())?;
            machine.state = MachineState::Failed;
            machine.push_event("launch", "failed", "flyd", json!({"error": message}));
            Some(machine.region.clone())
        });
        if let Some(region) = region {
            self.emulator.logs.push(&self.app, &self.id, &region, "error", message);
        }
    }
}

/// What a machine's process runs: the built-in machine its image
/// describes, or, for an `exec` image, the machine's own command.
enum Program {
    Builtin(Launch),
    Job(JobSpec),
}

/// Reads what the process needs and marks the machine `starting`. `None`
/// when the machine is gone; an error when it cannot start.
fn prepare_launch(state: &mut State, data: &DataDir, app_name: &str, id: &str) -> Option<Result<(Program, Duration, String), String>> {
    let app = state.app(app_name)?;
    let machine = app.machine(id).filter(|m| !m.state.is_gone())?;
    let Some(mut behaviour) = state.images.get(&machine.spec.image).cloned() else {
        return Some(Err(format!("failed to launch VM: image not found: {}", machine.spec.image)));
    };
    if behaviour.body.is_none() {
        behaviour.body = Some(machine.image_ref.tag.clone());
    }
    let mut env: BTreeMap<String, String> = machine.spec.env.clone();
    // Without `min_secrets_version` a machine gets the secrets that have
    // propagated, which right after a change may be the previous version
    // (the eventual consistency flyctl guards against by sending it on
    // every launch, brief §7); with it, at least that version.
    let secrets = app.secrets_for(machine.min_secrets_version);
    if !machine.skip_secrets {
        env.extend(secrets.secrets.iter().map(|(name, secret)| (name.clone(), secret.value.clone())));
    }
    let secrets_version = secrets.version;
    let files = machine_files(&machine.spec.files, &secrets.secrets);
    let platform = [
        ("FLY_APP_NAME", app.name.clone()),
        ("FLY_MACHINE_ID", machine.id.clone()),
        ("FLY_ALLOC_ID", machine.id.clone()),
        ("FLY_MACHINE_VERSION", machine.version.clone()),
        ("FLY_REGION", machine.region.clone()),
        ("FLY_IMAGE_REF", machine.spec.image.clone()),
        ("FLY_PRIVATE_IP", machine.private_ip.clone()),
    ];
    env.extend(platform.into_iter().map(|(name, value)| (name.to_string(), value)));
    if let Some(group) = machine.spec.process_group() {
        env.insert("FLY_PROCESS_GROUP".to_string(), group.to_string());
    }
    let boot_delay = Duration::from_millis(behaviour.boot_delay_ms);
    let program = match behaviour.kind {
        ImageKind::Exec => match job::plan(machine.spec.init.command(), env, &machine.spec.mounts, files, data) {
            Ok(spec) => Program::Job(spec),
            Err(message) => return Some(Err(message)),
        },
        ImageKind::Healthy | ImageKind::Crash | ImageKind::Unhealthy | ImageKind::CrashAfter => Program::Builtin(Launch {
            machine_id: machine.id.clone(),
            env,
            files: files.into_iter().map(|file| (file.guest_path, file.contents)).collect(),
            behaviour,
            release_command: machine.spec.is_release_command(),
            internal_ports: machine.spec.internal_ports(),
        }),
    };
    let region = machine.region.clone();
    if let Some(machine) = state.machine_mut(app_name, id) {
        machine.state = MachineState::Starting;
        machine.booted_secrets_version = Some(secrets_version);
    }
    Some(Ok((program, boot_delay, region)))
}

/// The machine's `config.files` as the machine gets them: `raw_value`
/// decoded; `secret_name` the secret's value, which holds "the base64
/// encoded file contents" (fly-go `machine_types.go:919-921`; a value that
/// is not base64 is used as is); `image_config` a JSON stand-in for the
/// image's OCI config. A missing secret gives no file. `mode` defaults to
/// 0644 when unset (Fly's default is unverified).
fn machine_files(files: &[MachineFile], secrets: &BTreeMap<String, Secret>) -> Vec<GuestFile> {
    files
        .iter()
        .filter_map(|file| {
            let contents = if let Some(raw) = &file.raw_value {
                echo::decode_raw_value(raw)
            } else if let Some(name) = &file.secret_name {
                let value = &secrets.get(name)?.value;
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value).unwrap_or_else(|_| value.clone().into_bytes())
            } else {
                let image = file.image_config.as_ref()?;
                json!({"image": image, "config": {}}).to_string().into_bytes()
            };
            Some(GuestFile { guest_path: file.guest_path.clone(), contents, mode: file.mode.unwrap_or(DEFAULT_FILE_MODE) })
        })
        .collect()
}

/// The `request` of an exit event, where fly-go reads the exit code
/// (`MonitorEvent.exit_event.exit_code`, falling back to `exit_event`).
fn exit_request(exit: Exit, requested_stop: bool, restarting: bool) -> Value {
    let exit_event = json!({
        "exit_code": exit.code,
        "oom_killed": false,
        "requested_stop": requested_stop,
        "restarting": restarting,
        "signal": exit.signal.unwrap_or(0),
        "exited_at": ids::rfc3339_millis(std::time::SystemTime::now()),
    });
    json!({
        "exit_event": exit_event,
        "MonitorEvent": {"exit_event": {"exit_code": exit.code, "requested_stop": requested_stop}},
    })
}

/// 50 ms, 100 ms, 200 ms … capped at 1 s: fast enough for tests, slow
/// enough that a crash loop does not spin.
fn restart_backoff(attempt: u32) -> Duration {
    Duration::from_millis(50u64.saturating_mul(1 << attempt.saturating_sub(1).min(5))).min(Duration::from_secs(1))
}

async fn wait_for_exit(running: &mut Option<Running>) -> Exit {
    match running {
        Some(running) => running.process.wait().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_backoff_grows_and_is_capped() {
        assert_eq!(restart_backoff(1), Duration::from_millis(50));
        assert_eq!(restart_backoff(2), Duration::from_millis(100));
        assert_eq!(restart_backoff(30), Duration::from_secs(1));
    }

    #[test]
    fn exit_requests_carry_the_code_where_fly_go_reads_it() {
        let request = exit_request(Exit { code: 3, signal: None }, false, false);
        assert_eq!(request["MonitorEvent"]["exit_event"]["exit_code"], 3);
        assert_eq!(request["exit_event"]["exit_code"], 3);
        assert_eq!(request["exit_event"]["requested_stop"], false);
        assert_eq!(request["exit_event"]["oom_killed"], false);
    }
}
