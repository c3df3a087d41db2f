//! How a log event's message and fields are written: each one
//! [`printable`](ferry_model::printable), so an event is exactly one line.
//!
//! Log lines carry untrusted text at every turn: a step's own log lines, the
//! summaries of the actions it proposed (`done: …`, `failed: …`), a provider's
//! error with a tool's output in it. Escaping here, in the formatter, covers
//! every `tracing` call site at once, those still to be written included.
//!
//! The rule: one event, one line. A message that ferry itself builds with
//! line breaks shows them as `\n` here; a message meant to be read over
//! several lines belongs in the command's output or its error, not the log.
//!
//! Secret values are masked before a value is escaped: a secret holding a
//! line break would no longer match the masker once its `\n` is escaped.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::mask::Masker;

/// Writes the message, then ` name=value` for each other field, every
/// value masked and made printable.
#[derive(Debug, Default)]
pub struct PrintableFields;

impl<'writer> FormatFields<'writer> for PrintableFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldVisitor { writer: &mut writer, masker: Masker::global(), result: Ok(()), first: true };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct FieldVisitor<'a, 'writer> {
    writer: &'a mut Writer<'writer>,
    masker: &'static Masker,
    result: fmt::Result,
    first: bool,
}

impl FieldVisitor<'_, '_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let value = self.masker.mask(value);
        let value = ferry_model::printable(&value);
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = match field.name() {
            "message" => write!(self.writer, "{separator}{value}"),
            name => write!(self.writer, "{separator}{}={value}", name.strip_prefix("r#").unwrap_or(name)),
        };
    }
}

impl Visit for FieldVisitor<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.write(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::PrintableFields;

    /// What the subscriber ferry installs writes for events logged inside `f`.
    fn logged(f: impl FnOnce()) -> String {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(PrintableFields)
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(buffer.lock().unwrap().clone()).unwrap()
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_event_is_one_line_whatever_its_message_and_fields_hold() {
        let summary = "set app = \"x\"\n::warning title=pwned::y";
        let out = logged(|| {
            tracing::info!("done: {summary} (3 ms)");
            tracing::warn!(step = %"lint\r::add-mask::ams", image = "a\u{1b}[2Jb", "planned\u{9b}");
        });
        assert_eq!(out, " INFO done: set app = \"x\"\\n::warning title=pwned::y (3 ms)\n WARN planned\\u009b step=lint\\r::add-mask::ams image=a\\u001b[2Jb\n");
    }
}
