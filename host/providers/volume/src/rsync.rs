//! The rsync passes and the checksum comparison.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use ferry_ssh::{Session, stderr_tail};

use crate::endpoint::{Endpoint, remote_side};
use crate::{Pass, Progress, SyncStats, VolumeError};

/// rsync's "some files vanished before they could be transferred": normal
/// for a live source, so tolerated in the bulk pass (the final pass, after
/// the freeze, catches up).
const RSYNC_VANISHED: i32 = 24;

/// Companion files SQLite keeps next to a database; copying one without the
/// other corrupts it, so they are excluded together.
const SQLITE_COMPANIONS: [&str; 4] = ["", "-wal", "-shm", "-journal"];

/// Copies the contents of `src` into `dst` (created if missing). Files in
/// `exclude` (paths relative to the volume, normally the SQLite databases)
/// are neither copied nor deleted on `dst`.
pub fn sync(src: &Endpoint, dst: &Endpoint, pass: Pass, exclude: &[String], progress: &mut dyn FnMut(&Progress)) -> Result<SyncStats, VolumeError> {
    let session = remote_side(src, dst)?;
    dst.run(&format!("mkdir -p {}", dst.quoted_path()?), "creating the destination directory")?;
    let mut args = strings(&["-a", "--numeric-ids", "--partial", "--info=progress2,stats2", "--no-inc-recursive"]);
    if pass == Pass::Final {
        args.push("--delete".into());
    }
    args.extend(common_args(session, exclude));
    args.extend([dir_spec(src)?, dir_spec(dst)?]);
    let started = Instant::now();
    let (status, stats, stderr) = run_rsync(&args, progress).map_err(|e| src.io("running rsync (is rsync installed?)", e))?;
    if status != 0 && !(pass == Pass::Bulk && status == RSYNC_VANISHED) {
        return Err(rsync_error(src, dst, status, &stderr));
    }
    let number = |label| stat(&stats, label).ok_or_else(|| src.unexpected("rsync --stats", &stats));
    // rsync truncates its percentage and may never print 100%; the stats
    // give the exact total, so the last report is always complete.
    let total = number("Total transferred file size:")?;
    progress(&Progress { bytes: total, total: Some(total), percent: Some(100), eta: Some(Duration::ZERO) });
    Ok(SyncStats {
        files_transferred: number("Number of regular files transferred:")?,
        bytes_transferred: number("Literal data:")?,
        elapsed: started.elapsed(),
    })
}

/// What a checksum comparison finds different, as rsync's itemized lines
/// (empty = equal). Directory times are ignored (`--omit-dir-times`):
/// writing a database into a directory changes them without changing data.
pub fn differences(src: &Endpoint, dst: &Endpoint, exclude: &[String]) -> Result<Vec<String>, VolumeError> {
    let session = remote_side(src, dst)?;
    let mut args = strings(&["-a", "--numeric-ids", "--checksum", "--delete", "--dry-run", "--itemize-changes", "--omit-dir-times"]);
    args.extend(common_args(session, exclude));
    args.extend([dir_spec(src)?, dir_spec(dst)?]);
    let out = rsync_command(&args).output().map_err(|e| src.io("running rsync (is rsync installed?)", e))?;
    let status = out.status.code().unwrap_or(-1);
    if status != 0 {
        return Err(rsync_error(src, dst, status, &String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
}

/// Copies one file (no trailing-slash semantics), for the SQLite staging copy.
pub(crate) fn copy_file(src: &Endpoint, from: &str, dst: &Endpoint, to: &str) -> Result<(), VolumeError> {
    let session = remote_side(src, dst)?;
    let mut args = strings(&["-t", "--numeric-ids"]);
    args.extend(common_args(session, &[]));
    args.extend([src.rsync_spec(from), dst.rsync_spec(to)]);
    let out = rsync_command(&args).output().map_err(|e| src.io("running rsync (is rsync installed?)", e))?;
    match out.status.code().unwrap_or(-1) {
        0 => Ok(()),
        status => Err(rsync_error(src, dst, status, &String::from_utf8_lossy(&out.stderr))),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// `-e` through the session and the anchored excludes.
fn common_args(session: Option<&Session>, exclude: &[String]) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(session) = session {
        args.extend(["-e".to_string(), session.ssh_command_for_rsync()]);
    }
    for rel in exclude {
        for suffix in SQLITE_COMPANIONS {
            args.push(format!("--exclude=/{}{suffix}", escape_pattern(rel.trim_start_matches('/'))));
        }
    }
    args
}

/// A literal path as an rsync filter pattern: wildcards escaped.
fn escape_pattern(rel: &str) -> String {
    rel.chars().flat_map(|c| if "*?[\\".contains(c) { vec!['\\', c] } else { vec![c] }).collect()
}

/// The directory with a trailing slash, so its contents (not the directory
/// itself) land in the destination.
fn dir_spec(ep: &Endpoint) -> Result<String, VolumeError> {
    Ok(ep.rsync_spec(&format!("{}/", ep.path()?.trim_end_matches('/'))))
}

/// `LC_ALL=C` keeps the stats' number format parseable.
fn rsync_command(args: &[String]) -> Command {
    let mut command = Command::new("rsync");
    command.args(args).env("LC_ALL", "C").stdin(Stdio::null());
    command
}

/// Runs rsync, turning `\r`-separated progress2 lines into callbacks and
/// keeping the other lines (the stats); returns (status, stats, stderr).
fn run_rsync(args: &[String], progress: &mut dyn FnMut(&Progress)) -> std::io::Result<(i32, String, String)> {
    let mut child = rsync_command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let mut stderr_pipe = child.stderr.take().expect("piped stderr");
    let stderr = thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text);
        text
    });
    let mut stats = String::new();
    let mut reader = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut segment = Vec::new();
    while read_segment(&mut reader, &mut segment)? {
        let line = String::from_utf8_lossy(&segment);
        match parse_progress(&line) {
            Some(p) => progress(&p),
            None if !line.trim().is_empty() => stats.push_str(&format!("{}\n", line.trim())),
            None => {}
        }
    }
    let status = child.wait()?.code().unwrap_or(-1);
    Ok((status, stats, stderr.join().unwrap_or_default()))
}

/// Reads up to the next `\r` or `\n`; false at end of input.
fn read_segment(reader: &mut impl BufRead, segment: &mut Vec<u8>) -> std::io::Result<bool> {
    segment.clear();
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(!segment.is_empty());
        }
        if let Some(i) = buf.iter().position(|b| *b == b'\r' || *b == b'\n') {
            segment.extend_from_slice(&buf[..i]);
            reader.consume(i + 1);
            return Ok(true);
        }
        let n = buf.len();
        segment.extend_from_slice(buf);
        reader.consume(n);
    }
}

/// `   1,234,567  45%   12.34MB/s    0:00:03 (xfr#5, to-chk=10/200)`
fn parse_progress(line: &str) -> Option<Progress> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let [bytes, percent, _rate, time, ..] = words.as_slice() else { return None };
    let bytes: u64 = bytes.replace(',', "").parse().ok()?;
    let percent: u8 = percent.strip_suffix('%')?.parse().ok()?;
    let total = (percent > 0).then(|| bytes * 100 / u64::from(percent));
    // At 100% rsync shows the elapsed time, not a remaining one.
    let eta = if percent == 100 { Some(Duration::ZERO) } else { parse_clock(time) };
    Some(Progress { bytes, total, percent: Some(percent), eta })
}

/// `h:mm:ss` (or `mm:ss`).
fn parse_clock(text: &str) -> Option<Duration> {
    text.split(':').try_fold(0u64, |acc, part| part.parse::<u64>().ok().map(|v| acc * 60 + v)).map(Duration::from_secs)
}

/// The number after `label` in rsync's `--stats` output.
fn stat(stats: &str, label: &str) -> Option<u64> {
    let line = stats.lines().find_map(|l| l.trim().strip_prefix(label))?;
    line.split_whitespace().next()?.replace(',', "").parse().ok()
}

fn rsync_error(src: &Endpoint, dst: &Endpoint, status: i32, stderr: &str) -> VolumeError {
    VolumeError::Rsync { src: src.to_string(), dst: dst.to_string(), status, stderr_tail: stderr_tail(stderr) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_progress2_lines() {
        let p = parse_progress("      1,234,500  45%   12.34MB/s    0:01:03 (xfr#5, to-chk=10/200)").unwrap();
        assert_eq!(p, Progress { bytes: 1_234_500, total: Some(2_743_333), percent: Some(45), eta: Some(Duration::from_secs(63)) });
        let done = parse_progress("  9,000 100%  1.00MB/s 0:00:09 (xfr#3, to-chk=0/3)").unwrap();
        assert_eq!((done.total, done.eta), (Some(9000), Some(Duration::ZERO)));
        assert!(parse_progress("Number of files: 205 (reg: 200, dir: 4)").is_none());
        assert!(parse_progress("sending incremental file list").is_none());
    }

    #[test]
    fn parses_stats() {
        let stats = "Number of files: 5 (reg: 3, dir: 2)\nNumber of regular files transferred: 3\nLiteral data: 12,345 bytes\n";
        assert_eq!(stat(stats, "Number of regular files transferred:"), Some(3));
        assert_eq!(stat(stats, "Literal data:"), Some(12_345));
        assert_eq!(stat(stats, "Matched data:"), None);
    }

    #[test]
    fn splits_on_carriage_returns() {
        let mut reader = BufReader::new(&b"a\rb\nc"[..]);
        let mut seg = Vec::new();
        let mut got = Vec::new();
        while read_segment(&mut reader, &mut seg).unwrap() {
            got.push(String::from_utf8(seg.clone()).unwrap());
        }
        assert_eq!(got, ["a", "b", "c"]);
    }

    #[test]
    fn excludes_are_anchored_literals_with_companions() {
        let args = common_args(None, &["db/app*.db".to_string()]);
        assert_eq!(args, ["--exclude=/db/app\\*.db", "--exclude=/db/app\\*.db-wal", "--exclude=/db/app\\*.db-shm", "--exclude=/db/app\\*.db-journal"]);
    }
}
