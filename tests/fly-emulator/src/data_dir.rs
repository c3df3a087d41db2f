//! The host directories that hold volumes' bytes. Every volume is a
//! directory, `<data dir>/volumes/<id>`: exec machines mount it (see
//! `job.rs`) and tests fill and read it at the path
//! `GET /_emulator/volumes/{id}` gives. A snapshot is a copy of it,
//! `<data dir>/snapshots/<id>`.
//!
//! A fork is "an exact copy … including its data", never synced afterwards
//! (`flydocs:volumes/volume-manage.mdx`, off-fly.md §1.3), and Fly copies a
//! block device: here `cp -a` keeps modes, owners, mtimes, symlinks and
//! hard links, which is what a file-level copy can keep of that.
//!
//! Copies run outside the state lock (see `api/volumes.rs`): a volume can
//! hold as many bytes as a test puts there.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// Exec machines get a private tmpfs on `/mnt` (see `job.rs`), which would
/// hide a data dir below it from the very process that mounts it.
const MACHINE_MOUNT_ROOT: &str = "/mnt";

#[derive(Debug)]
pub struct DataDir {
    root: PathBuf,
    /// Made by the emulator for this run and removed when it exits; a
    /// directory given with `--data-dir` belongs to the caller and stays.
    temporary: bool,
}

impl DataDir {
    /// Uses `given` (created if missing), or makes a fresh directory under
    /// the system's temp dir.
    pub fn open(given: Option<&Path>) -> io::Result<DataDir> {
        let (root, temporary) = match given {
            Some(dir) => {
                // Checked before anything is created there, and again once symlinks are resolved.
                refuse_under_mount_root(&std::path::absolute(dir)?)?;
                std::fs::create_dir_all(dir)?;
                (dir.canonicalize()?, false)
            }
            None => {
                let dir = std::env::temp_dir().join(format!("fly-emulator-{}-{:08x}", std::process::id(), fastrand::u32(..)));
                // Only root reaches the volumes' bytes, as only a machine does on Fly.
                std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
                (dir.canonicalize()?, true)
            }
        };
        refuse_under_mount_root(&root)?;
        Ok(DataDir { root, temporary })
    }

    pub fn volume(&self, id: &str) -> PathBuf {
        self.root.join("volumes").join(id)
    }

    pub fn snapshot(&self, id: &str) -> PathBuf {
        self.root.join("snapshots").join(id)
    }

    /// Removes the directory if the emulator made it. Called at exit, after
    /// every machine process is gone.
    pub fn clean_up(&self) -> io::Result<()> {
        if self.temporary { remove(&self.root) } else { Ok(()) }
    }
}

fn refuse_under_mount_root(dir: &Path) -> io::Result<()> {
    if dir.starts_with(MACHINE_MOUNT_ROOT) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the data dir {} is under {MACHINE_MOUNT_ROOT}, which exec machines replace with their own tmpfs; choose another --data-dir",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// A new, empty volume directory.
pub fn create_empty(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Copies the tree `from` to `to` (which must not exist yet) with
/// `cp -a --reflink=auto`: modes, owners, timestamps, symlinks and hard
/// links are kept, and a filesystem that can share extents does.
pub async fn copy(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let output = tokio::process::Command::new("cp").args(["-a", "--reflink=auto", "--no-target-directory", "--"]).arg(from).arg(to).output().await?;
    if output.status.success() {
        return Ok(());
    }
    let _ = remove(to);
    Err(io::Error::other(format!("cp -a {} {} failed ({}): {}", from.display(), to.display(), output.status, String::from_utf8_lossy(&output.stderr).trim())))
}

/// Removes a volume's or snapshot's directory; one already gone is fine.
pub fn remove(dir: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[tokio::test]
    async fn copies_keep_modes_symlinks_and_hard_links_and_are_independent() {
        let data = DataDir::open(None).unwrap();
        let source = data.volume("vol_a");
        create_empty(&source).unwrap();
        std::fs::write(source.join("db"), b"rows").unwrap();
        std::fs::set_permissions(source.join("db"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::hard_link(source.join("db"), source.join("db.link")).unwrap();
        symlink("db", source.join("current")).unwrap();

        let fork = data.volume("vol_b");
        copy(&source, &fork).await.unwrap();
        assert_eq!(std::fs::read(fork.join("db")).unwrap(), b"rows");
        assert_eq!(std::fs::metadata(fork.join("db")).unwrap().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::metadata(fork.join("db")).unwrap().ino(), std::fs::metadata(fork.join("db.link")).unwrap().ino());
        assert_eq!(std::fs::read_link(fork.join("current")).unwrap(), Path::new("db"));
        std::fs::write(source.join("db"), b"changed").unwrap();
        assert_eq!(std::fs::read(fork.join("db")).unwrap(), b"rows", "a fork is never synced afterwards");

        assert!(copy(&data.volume("vol_missing"), &data.volume("vol_c")).await.is_err());
        let root = data.root.clone();
        data.clean_up().unwrap();
        assert!(!root.exists());
    }

    #[test]
    fn refuses_a_data_dir_that_exec_machines_would_hide() {
        let error = DataDir::open(Some(Path::new("/mnt/fly-emulator-data"))).unwrap_err();
        assert!(error.to_string().contains("choose another --data-dir"), "{error}");
        assert!(!Path::new("/mnt/fly-emulator-data").exists(), "refused before anything was created");
    }
}
