//! `ferry:step/log`: a step's log lines, shown prefixed with its name.

use ferry_model::printable;
use wasmtime::component::{ComponentType, Lift, LinkerInstance, Lower};

use crate::call::CallState;

/// Total log output a call may produce; beyond it lines are counted, not kept.
const LOG_CAP_BYTES: usize = 1 << 20;
/// The longest single line kept.
const LINE_CAP_BYTES: usize = 8 << 10;

#[derive(Clone, Copy, Debug, ComponentType, Lift, Lower)]
#[component(enum)]
#[repr(u8)]
#[allow(dead_code, reason = "built by the guest, through Lift")]
enum Level {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

pub(super) fn add_to_linker(linker: &mut LinkerInstance<'_, CallState>) -> wasmtime::Result<()> {
    linker.func_wrap("log", |mut store, (level, message): (Level, String)| {
        let state = store.data_mut();
        state.log_bytes += message.len();
        if state.log_bytes > LOG_CAP_BYTES {
            state.dropped_log_lines += 1;
            return Ok(());
        }
        // A step may log anything: escaped here, so a line break or an
        // escape sequence in it never reaches a log as itself, whichever
        // subscriber writes it.
        emit(&printable(&state.step), level, &printable(truncate(&message)));
        Ok(())
    })?;
    linker.func_wrap("report-panic", |mut store, (message,): (String,)| {
        let state = store.data_mut();
        state.panic_message = Some(truncate(&message).to_string());
        Ok(())
    })
}

fn emit(step: &str, level: Level, message: &str) {
    match level {
        Level::Trace => tracing::trace!(target: "ferry::step", "[{step}] {message}"),
        Level::Debug => tracing::debug!(target: "ferry::step", "[{step}] {message}"),
        Level::Info => tracing::info!(target: "ferry::step", "[{step}] {message}"),
        Level::Warn => tracing::warn!(target: "ferry::step", "[{step}] {message}"),
        Level::Error => tracing::error!(target: "ferry::step", "[{step}] {message}"),
    }
}

fn truncate(message: &str) -> &str {
    if message.len() <= LINE_CAP_BYTES {
        return message;
    }
    let mut end = LINE_CAP_BYTES;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}
