//! The one test seam for system paths: a debug build run with `PVE_ONTAP_SNAPSHOT_TEST_ROOT` set to
//! a directory that holds the marker file finds `/etc/pve`, `/run/lock`, `qm`, ... below that directory.
//!
//! Why not config keys: the config lives in `/etc/pve/priv`, is shared by every node and is read by
//! a program that runs as root from Proxmox's hooks. A key that names a program to execute or moves
//! the lock directories would let one edit of that file run anything, or run without the cluster
//! lock, on every node. The seam here cannot be reached by accident from a production install:
//! - release builds (every package, `make build`) do not contain it (`cfg!(debug_assertions)`);
//! - it needs an environment variable that Proxmox never passes to hooks (vzdump hooks get an
//!   empty environment, guest hooks a fixed one) and no unit file sets;
//! - the directory must contain the marker file `.pve-ontap-snapshot-test-root`.
//!
//! A debug build that sees the variable without the marker refuses to start, so a stray variable is
//! never silently ignored either.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The environment variable naming the test root.
pub const ROOT_ENV: &str = "PVE_ONTAP_SNAPSHOT_TEST_ROOT";
/// The file that must exist in the test root.
pub const MARKER: &str = ".pve-ontap-snapshot-test-root";

/// The directory the system paths are below: `/`, or in a debug build the test root.
pub fn system_root() -> Result<PathBuf> {
    if !cfg!(debug_assertions) {
        return Ok(PathBuf::from("/"));
    }
    match std::env::var_os(ROOT_ENV) {
        None => Ok(PathBuf::from("/")),
        Some(root) => checked_root(Path::new(&root)),
    }
}

fn checked_root(root: &Path) -> Result<PathBuf> {
    if !root.is_absolute() || !root.join(MARKER).is_file() {
        return Err(Error::Usage(format!(
            "${ROOT_ENV} is set to '{}', which is not an absolute directory holding '{MARKER}' \
             (the test root of a debug build); unset it",
            root.display()
        )));
    }
    Ok(root.to_path_buf())
}

/// `abs` (an absolute system path such as `/etc/pve`) below `root`.
pub fn below(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_placed_below_the_root() {
        assert_eq!(below(Path::new("/"), "/etc/pve"), PathBuf::from("/etc/pve"));
        assert_eq!(
            below(Path::new("/tmp/t"), "/usr/sbin/qm"),
            PathBuf::from("/tmp/t/usr/sbin/qm")
        );
    }

    #[test]
    fn a_root_without_the_marker_is_refused() {
        let dir = std::env::temp_dir().join(format!("pos-seams-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = checked_root(&dir).unwrap_err();
        assert!(e.to_string().contains(MARKER), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert!(checked_root(Path::new("relative")).is_err());
        std::fs::write(dir.join(MARKER), "").unwrap();
        assert_eq!(checked_root(&dir).unwrap(), dir);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
