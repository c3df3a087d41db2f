//! How fly.toml (and the Machines API after it) spells the app-spec's
//! closed sets (`types.wit`): `as_str` to write one, `parse` to read one.
//! parse-config is the only reader of the text; every later step matches
//! the enum.

use crate::types::{AutoStop, CheckKind, RestartPolicy, ServiceProtocol};

macro_rules! spelling {
    ($($name:ident { $($case:ident = $text:literal),+ $(,)? })+) => {
        $(
            impl $name {
                /// Every case, in the WIT's order.
                pub const ALL: &'static [$name] = &[$($name::$case),+];

                pub fn as_str(self) -> &'static str {
                    match self {
                        $($name::$case => $text,)+
                    }
                }

                /// The case spelt `text`, exactly (fly.toml is case-sensitive here).
                pub fn parse(text: &str) -> Option<$name> {
                    Self::ALL.iter().copied().find(|case| case.as_str() == text)
                }

                /// The spellings, for an error that lists them:
                /// `"off", "stop" or "suspend"`.
                pub fn choices() -> String {
                    let all: Vec<String> = Self::ALL.iter().map(|case| format!("\"{}\"", case.as_str())).collect();
                    match all.split_last() {
                        Some((last, [])) => last.clone(),
                        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                        None => String::new(),
                    }
                }
            }

            impl std::fmt::Display for $name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str(self.as_str())
                }
            }
        )+
    };
}

spelling! {
    ServiceProtocol { Tcp = "tcp", Udp = "udp" }
    AutoStop { Off = "off", Stop = "stop", Suspend = "suspend" }
    CheckKind { Http = "http", Tcp = "tcp" }
    RestartPolicy { Always = "always", Never = "never", OnFailure = "on-failure" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_spelling_reads_back_as_its_case() {
        for p in ServiceProtocol::ALL {
            assert_eq!(ServiceProtocol::parse(p.as_str()), Some(*p));
        }
        assert_eq!(RestartPolicy::parse("on-failure"), Some(RestartPolicy::OnFailure));
        assert_eq!(RestartPolicy::parse("on_failure"), None);
        assert_eq!(CheckKind::parse("HTTP"), None);
        assert_eq!(AutoStop::choices(), "\"off\", \"stop\" or \"suspend\"");
        assert_eq!(CheckKind::choices(), "\"http\" or \"tcp\"");
    }
}
