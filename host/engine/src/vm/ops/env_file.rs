//! The env file a VM's containers start with (`docker run --env-file`).
//! Docker reads it one `NAME=value` line at a time, with no quoting and no
//! escapes, so a line break in a value would end that variable and start
//! another: `GREETING = "hi\nDATABASE_URL=postgres://elsewhere"` would point
//! the app at someone else's database. vm-plan refuses such values when it
//! plans; this writer refuses them again, whatever step proposed the file,
//! and also refuses secret values (from `FERRY_SECRET_<NAME>`) the plan
//! never saw. Docker's format cannot carry a multi-line value at all, so
//! there is nothing to encode: the value is refused, by name.

use ferry_model::VmEnvFile;

/// Renders the file: the plain env, then each secret from `secret(name)`
/// (one without a value is left commented out), then `made` (the values
/// built from files on the host, name and value). Every name must be an
/// env-file name and no value may hold a line break or NUL; an error names
/// the file and the variable, never the value.
pub fn render(f: &VmEnvFile, secret: &dyn Fn(&str) -> Option<String>, made: &[(String, String)]) -> Result<String, String> {
    let mut out = String::from("# written by ferry: plain values from fly.toml, secrets from FERRY_SECRET_<NAME>\n");
    for (name, value) in &f.env {
        check(&f.path, name, value, || format!("the env value {name}"))?;
        out.push_str(&format!("{name}={value}\n"));
    }
    for name in &f.secrets {
        check_name(&f.path, name)?;
        match secret(name) {
            Some(value) => {
                check(&f.path, name, &value, || format!("the secret FERRY_SECRET_{name}"))?;
                out.push_str(&format!("{name}={value}\n"));
            }
            None => out.push_str(&format!("# {name}= (not set: give FERRY_SECRET_{name} and provision again)\n")),
        }
    }
    for (name, value) in made {
        check(&f.path, name, value, || format!("the value of {name} made on the host"))?;
        out.push_str(&format!("{name}={value}\n"));
    }
    Ok(out)
}

fn check(path: &str, name: &str, value: &str, what: impl Fn() -> String) -> Result<(), String> {
    check_name(path, name)?;
    match value.chars().find(|c| matches!(c, '\n' | '\r' | '\0')) {
        None => Ok(()),
        Some(c) => Err(format!(
            "{path}: {} holds a {} (a trailing newline counts): Docker's env file has one variable per line and no quoting, so it cannot be written; remove it from the value",
            what(),
            if c == '\0' { "NUL byte" } else { "line break" }
        )),
    }
}

/// `^[A-Za-z_][A-Za-z0-9_]*$`: Docker refuses whitespace in a name and
/// splits at the first `=`; a `#` would make the line a comment.
fn check_name(path: &str, name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok { Ok(()) } else { Err(format!("{path}: {name:?} is not a variable name an env file can hold (letters, digits and `_`)")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(env: &[(&str, &str)], secrets: &[&str]) -> VmEnvFile {
        VmEnvFile {
            target: "prod".into(),
            path: "/srv/shop/env".into(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            secrets: secrets.iter().map(|s| s.to_string()).collect(),
            from_files: Vec::new(),
        }
    }

    fn no_secrets(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn writes_one_line_per_variable() {
        let secret = |name: &str| (name == "SESSION_KEY").then(|| "s3cr=t \"x\" $y".to_string());
        let made = [("DATABASE_URL".to_string(), "postgres://shop:abc@shop-postgres:5432/shop".to_string())];
        let text = render(&file(&[("MODE", "prod"), ("EMPTY", "")], &["SESSION_KEY", "MISSING"]), &secret, &made).unwrap();
        let lines: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(
            lines,
            [
                "MODE=prod",
                "EMPTY=",
                "SESSION_KEY=s3cr=t \"x\" $y",
                "# MISSING= (not set: give FERRY_SECRET_MISSING and provision again)",
                "DATABASE_URL=postgres://shop:abc@shop-postgres:5432/shop"
            ]
        );
    }

    #[test]
    fn a_plain_value_with_a_line_break_is_refused_by_name() {
        for value in ["hi\nDATABASE_URL=postgres://attacker.example/steal", "a\rb", "a\0b"] {
            let error = render(&file(&[("GREETING", value)], &[]), &no_secrets, &[]).unwrap_err();
            assert!(error.starts_with("/srv/shop/env: the env value GREETING holds a"), "{error}");
            assert!(!error.contains("attacker"), "the value is not repeated: {error}");
        }
    }

    #[test]
    fn a_multi_line_secret_is_refused_naming_the_secret_never_its_value() {
        let secret = |_: &str| Some("-----BEGIN KEY-----\nc2VjcmV0\n-----END KEY-----\n".to_string());
        let error = render(&file(&[], &["TLS_KEY"]), &secret, &[]).unwrap_err();
        assert!(error.contains("FERRY_SECRET_TLS_KEY holds a line break"), "{error}");
        assert!(!error.contains("c2VjcmV0") && !error.contains("BEGIN"), "the secret leaked: {error}");
    }

    #[test]
    fn names_outside_the_env_grammar_are_refused() {
        for name in ["A=B", "A B", "#A", "1A", "A\nB", ""] {
            assert!(render(&file(&[(name, "1")], &[]), &no_secrets, &[]).is_err(), "{name:?}");
            assert!(render(&file(&[], &[name]), &no_secrets, &[]).is_err(), "secret {name:?}");
        }
        let made = [("X".to_string(), "a\nY=b".to_string())];
        assert!(render(&file(&[], &[]), &no_secrets, &made).unwrap_err().contains("the value of X made on the host"));
    }
}
