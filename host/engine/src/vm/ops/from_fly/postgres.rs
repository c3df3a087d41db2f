//! `vm-fly-postgres`: the app's Fly Postgres database dumped by a machine
//! in the app (Fly gives it DATABASE_URL; ferry never sees it), pushed to
//! the host, restored into the app's Postgres there and verified table by
//! table against the source's own digests.
//!
//! The machine's key may only write the dump and the digests into the
//! copy's directory: the forced command picks the file by the name the
//! machine asks for (`dump` or `digests`) and refuses anything else.

use ferry_model::VmFlyPostgres;
use ferry_postgres::{DIGEST_FIELD_SEPARATOR, TableDigest, clear_all_script, compare, digest_script, parse_digests};
use ferry_ssh::{shell_quote, stderr_tail};
use ferry_vm::{DockerHost, commands};

use super::{Job, checked_dir, clean_up, pushing};
use crate::apply::executor::ExecError;
use crate::fly::ops::FlyOps;
use crate::journal::NOTE_OUTPUT;
use crate::vm::VmTargetConfig;
use crate::vm::ops::{missing_paths, sh};

/// The dump and the source's digests, in the copy's directory.
const DUMP: &str = "source.sql";
const DIGESTS: &str = "source.digests";
/// Where the machine finds the digest script.
const DIGEST_SCRIPT: &str = "/mnt/ferry/digests.sql";

/// What the machine runs. `copy`: the freeze (new sessions read-only, the
/// role's open ones ended), the dump and the digests, each pushed as it is
/// made (nothing large is kept on the machine). `thaw`: the freeze undone.
/// A failed `pg_dump` or `psql` in a pipe is caught by a marker file, as
/// `sh` has no pipefail.
const SCRIPT: &str = r#"set -eu
have() { command -v "$1" >/dev/null 2>&1; }
if ! have psql || ! have pg_dump || { [ "$FERRY_MODE" = copy ] && ! have ssh; }; then
  if have apk; then apk add --no-cache openssh-client >/dev/null
  else apt-get update -qq >/dev/null && apt-get install -y -qq openssh-client >/dev/null; fi
fi
: "${DATABASE_URL:?the app has no DATABASE_URL secret on Fly}"
if [ "$FERRY_MODE" = thaw ]; then
  psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" <<'SQL'
SET default_transaction_read_only = off;
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET default_transaction_read_only', current_database()); END $$;
SQL
  echo "writable again"
  exit 0
fi
psql -X -q -At -v ON_ERROR_STOP=1 "$DATABASE_URL" <<'SQL'
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database()); END $$;
SELECT 'ended ' || count(pg_terminate_backend(pid)) || ' session(s)' FROM pg_stat_activity
 WHERE datname = current_database() AND usename = current_user AND pid <> pg_backend_pid() AND backend_type = 'client backend';
SQL
failed=/mnt/ferry/failed
{ pg_dump --no-owner --no-acl "$DATABASE_URL" || touch "$failed"; } | $FERRY_SSH "$FERRY_HOST" dump
[ ! -e "$failed" ] || { echo "pg_dump failed"; exit 4; }
{ psql -X -q -At -F "$(printf '\037')" -v ON_ERROR_STOP=1 -f /mnt/ferry/digests.sql "$DATABASE_URL" || touch "$failed"; } | $FERRY_SSH "$FERRY_HOST" digests
[ ! -e "$failed" ] || { echo "reading the source's digests failed"; exit 4; }
echo "dumped"
"#;

/// Copies the database; the key and the machine are gone afterwards. A
/// copy that fails after the machine started makes the source writable
/// again before it reports: the phase's rollback starts the app on Fly
/// again, and the restore leaves the host's database empty, so the undo
/// would see nothing to put back.
pub(in crate::vm::ops) fn copy(
    host: &DockerHost<'_>,
    config: &VmTargetConfig,
    fly: &FlyOps,
    c: &VmFlyPostgres,
    keepalive: &mut dyn FnMut(),
) -> Result<Vec<(String, String)>, ExecError> {
    let mut started = false;
    let copied = copy_frozen(host, config, fly, c, &mut started, keepalive);
    match copied {
        Err(e) if started => Err(match thaw(config, fly, c) {
            Ok(()) => e,
            Err(thaw) => ExecError::Failed(format!(
                "{e}; and the source stays read-only: {thaw} (run `ALTER DATABASE <name> RESET default_transaction_read_only` on it)"
            )),
        }),
        other => other,
    }
}

fn copy_frozen(
    host: &DockerHost<'_>,
    config: &VmTargetConfig,
    fly: &FlyOps,
    c: &VmFlyPostgres,
    started: &mut bool,
    keepalive: &mut dyn FnMut(),
) -> Result<Vec<(String, String)>, ExecError> {
    let dir = checked_dir(config, &c.dir)?;
    let image = image(config)?;
    if !is_empty(&target_digests(host, config, c)?) {
        return Err(ExecError::Failed(format!(
            "database {} in {} on {} is not empty: a copy goes only into an empty database (abort the migration's data phase to empty it)",
            c.database, c.container, config.name
        )));
    }
    let region = region(fly, &c.app)?;
    sh(host, &format!("umask 077; mkdir -p {}", shell_quote(&dir)))?;
    let job = pushing(host, config, fly, &c.app, &receive_command(&dir), |push| {
        let mut env = push.env();
        env.push(("FERRY_MODE", "copy".into()));
        let mut files = push.files();
        files.push((DIGEST_SCRIPT, digest_script(), 0o644));
        *started = true;
        Job { image, script: SCRIPT, env, mount: None, files, copies: &c.database }.run(fly, &c.app, &region, c.timeout_ms, keepalive)
    })?;
    let tail = job.tail();
    match job.exit {
        Ok(0) => {}
        Ok(code) => {
            return Err(ExecError::Failed(format!("dumping {}'s Fly Postgres failed: the temporary machine {} exited {code}{tail}", c.app, job.machine)));
        }
        Err(e) => return Err(ExecError::Failed(format!("dumping {}'s Fly Postgres: {e}{tail}", c.app))),
    }
    let restore = format!("{} --single-transaction < {} >/dev/null", psql_command(config, c, ""), shell_quote(&format!("{dir}/{DUMP}")));
    sh(host, &restore)?;
    let (source, target) = (source_digests(host, &dir)?, target_digests(host, config, c)?);
    let differ: Vec<String> = compare(&source, &target).into_iter().filter(|t| !t.matches).map(|t| describe(&t)).collect();
    if !differ.is_empty() {
        return Err(ExecError::Failed(format!(
            "database {} on {} differs from {}'s Fly Postgres after the restore: {}",
            c.database,
            config.name,
            c.app,
            differ.join("; ")
        )));
    }
    let rows: u64 = source.iter().filter(|d| !ferry_postgres::PSEUDO_ENTRIES.contains(&d.table.as_str())).map(|d| d.rows).sum();
    let tables = source.iter().filter(|d| !ferry_postgres::PSEUDO_ENTRIES.contains(&d.table.as_str())).count();
    Ok(vec![
        ("database".into(), c.database.clone()),
        (NOTE_OUTPUT.into(), format!("{tables} table(s), {rows} row(s), sequences and large objects verified against the source")),
    ])
}

/// Whether a copy is in place: the source's digests are on the host and
/// the database matches them.
pub(in crate::vm::ops) fn in_place(host: &DockerHost<'_>, config: &VmTargetConfig, c: &VmFlyPostgres) -> Result<bool, ExecError> {
    let dir = checked_dir(config, &c.dir)?;
    if missing_paths(host, &[format!("{dir}/{DIGESTS}")])?.is_empty() {
        let (source, target) = (source_digests(host, &dir)?, target_digests(host, config, c)?);
        return Ok(compare(&source, &target).iter().all(|t| t.matches));
    }
    Ok(false)
}

/// Whether the host's database holds nothing yet (the undo may empty it).
pub(in crate::vm::ops) fn target_is_empty(host: &DockerHost<'_>, config: &VmTargetConfig, c: &VmFlyPostgres) -> Result<bool, ExecError> {
    Ok(is_empty(&target_digests(host, config, c)?))
}

/// The undo: the source writable again (a machine in the app, as for the
/// copy), the host's database emptied when `clear` (it was empty before
/// the copy), the dump and digests removed.
pub(in crate::vm::ops) fn undo(host: &DockerHost<'_>, config: &VmTargetConfig, fly: &FlyOps, c: &VmFlyPostgres, clear: bool) -> Result<(), ExecError> {
    clean_up(host, config, fly, &c.app)?;
    thaw(config, fly, c)?;
    if clear {
        psql(host, config, c, &clear_all_script(), "")?;
    }
    let dir = checked_dir(config, &c.dir)?;
    sh(host, &format!("rm -f {} {}", shell_quote(&format!("{dir}/{DUMP}")), shell_quote(&format!("{dir}/{DIGESTS}")))).map(drop)
}

/// The source writable again, by a machine in the app (no key: it only
/// talks to the source).
fn thaw(config: &VmTargetConfig, fly: &FlyOps, c: &VmFlyPostgres) -> Result<(), ExecError> {
    let job = Job { image: image(config)?, script: SCRIPT, env: vec![("FERRY_MODE", "thaw".into())], mount: None, files: Vec::new(), copies: &c.database }
        .run(fly, &c.app, &region(fly, &c.app)?, c.timeout_ms, &mut || {})?;
    let tail = job.tail();
    match job.exit {
        Ok(0) => Ok(()),
        Ok(code) => Err(ExecError::Failed(format!("making {}'s Fly Postgres writable again failed: exit {code}{tail}", c.app))),
        Err(e) => Err(ExecError::Failed(format!("making {}'s Fly Postgres writable again: {e}{tail}", c.app))),
    }
}

/// The forced command of the machine's key: one of two files in `dir`.
fn receive_command(dir: &str) -> String {
    format!(
        "umask 077; case \"$SSH_ORIGINAL_COMMAND\" in dump) exec cat > {dir}/{DUMP} ;; digests) exec cat > {dir}/{DIGESTS} ;; \
         *) echo 'ferry: this key only receives a database copy' >&2; exit 1 ;; esac"
    )
}

/// The machine's image: the target's own Postgres, whose client tools
/// can read what its server restores.
fn image(config: &VmTargetConfig) -> Result<&str, ExecError> {
    config.postgres_image.as_deref().ok_or_else(|| {
        ExecError::Config(format!("[targets.vm.{}] says `postgres = false`, so there is no database on the host to copy Fly Postgres into", config.name))
    })
}

/// Where the app's machines run: the copy machine goes there, beside them.
fn region(fly: &FlyOps, app: &str) -> Result<String, ExecError> {
    let machines = fly.client().list_machines(app).map_err(ExecError::fly(format!("listing the machines of {app}")))?;
    machines
        .into_iter()
        .map(|m| m.region)
        .find(|r| !r.is_empty())
        .ok_or_else(|| ExecError::Failed(format!("{app} has no machine, so no region to start the copy machine in")))
}

fn source_digests(host: &DockerHost<'_>, dir: &str) -> Result<Vec<TableDigest>, ExecError> {
    parse_digests(&sh(host, &commands::read(&format!("{dir}/{DIGESTS}")))?)
        .map_err(|e| ExecError::Failed(format!("the source's digests in {dir}/{DIGESTS}: {e}")))
}

fn target_digests(host: &DockerHost<'_>, config: &VmTargetConfig, c: &VmFlyPostgres) -> Result<Vec<TableDigest>, ExecError> {
    let separator = format!("-F \"$(printf '\\{:03o}')\"", u32::from(DIGEST_FIELD_SEPARATOR));
    let out = psql(host, config, c, &digest_script(), &format!("-At {separator}"))?;
    parse_digests(&out).map_err(|e| ExecError::Failed(format!("the digests of {} on {}: {e}", c.database, config.name)))
}

/// psql inside the database container, as its role, stopping at the
/// first error; its input is the caller's.
fn psql_command(config: &VmTargetConfig, c: &VmFlyPostgres, options: &str) -> String {
    format!("{} exec -i {} psql -X -q {options} -v ON_ERROR_STOP=1 -U {db} -d {db}", config.docker, shell_quote(&c.container), db = shell_quote(&c.database))
}

/// Runs `script` with psql inside the database container, as its role.
fn psql(host: &DockerHost<'_>, config: &VmTargetConfig, c: &VmFlyPostgres, script: &str, options: &str) -> Result<String, ExecError> {
    let command = format!("{} -f -", psql_command(config, c, options));
    let out =
        host.session().pipe_to(&mut script.as_bytes(), &command).map_err(|e| ExecError::Ssh { context: format!("VM target {}", config.name), source: e })?;
    if out.status != 0 {
        return Err(ExecError::Failed(format!("psql in {} on {} exited {}: {}", c.container, config.name, out.status, stderr_tail(&out.stderr))));
    }
    Ok(out.stdout)
}

/// No relation, no sequence, no large object.
fn is_empty(digests: &[TableDigest]) -> bool {
    digests.iter().all(|d| ferry_postgres::PSEUDO_ENTRIES.contains(&d.table.as_str()) && d.rows == 0)
}

fn describe(t: &ferry_postgres::TableCheck) -> String {
    format!("{} ({} row(s) on Fly, {} on the host)", t.table, t.source_rows, t.target_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_writes_only_the_dump_or_the_digests() {
        assert_eq!(
            receive_command("/srv/shop/postgres/import"),
            "umask 077; case \"$SSH_ORIGINAL_COMMAND\" in dump) exec cat > /srv/shop/postgres/import/source.sql ;; \
             digests) exec cat > /srv/shop/postgres/import/source.digests ;; *) echo 'ferry: this key only receives a database copy' >&2; exit 1 ;; esac"
        );
    }

    #[test]
    fn an_empty_database_has_only_empty_pseudo_entries() {
        let d = |table: &str, rows| TableDigest { table: table.into(), rows, checksum: "0".into() };
        assert!(is_empty(&[d("large-objects", 0), d("sequences", 0)]));
        assert!(!is_empty(&[d("large-objects", 0), d("sequences", 1)]));
        assert!(!is_empty(&[d("public.t", 0), d("large-objects", 0), d("sequences", 0)]));
    }
}
