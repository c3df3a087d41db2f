//! Logging to the host: `info!("read {} bytes", n)` shows up in ferry's log
//! prefixed with the step's name.

pub use crate::host::log::Level;

/// Sends one line to the host's log.
pub fn log(level: Level, message: &str) {
    crate::host::log::log(level, message);
}

#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::logging::log($crate::logging::Level::Info, &::std::format!($($arg)*)) };
}
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::logging::log($crate::logging::Level::Warn, &::std::format!($($arg)*)) };
}
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::logging::log($crate::logging::Level::Debug, &::std::format!($($arg)*)) };
}
