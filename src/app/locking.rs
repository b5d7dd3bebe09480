//! Command-line changes under the storage locks: every command that changes ONTAP or Proxmox state
//! takes the node and cluster lock of each storage it touches (in name order) before it plans.
//!
//! The workflows decide what to change (which snapshots a restore discards, which a prune deletes,
//! which files a guest restore overwrites) only once they run, so running them inside the locks
//! makes the plan and the change one step against hooks, schedules and commands on every node.
//! Read-only commands take no lock. A command-line `storage create` always makes its snapshot;
//! reusing a recent one (coalescing) is for hooks and schedules only.

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::error::{Result, ResultExt};
use crate::model::storage::clone_parent;
use crate::ops::{disks, Backends};
use crate::sys::cluster_lock::Timing;
use crate::sys::lock::StorageLocks;

/// Run `f` holding the locks of `storages`, waiting at most `timeout` for them.
pub(super) fn under_locks<T>(
    config: &Config,
    storages: &[String],
    purpose: &str,
    timeout: Duration,
    f: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let locks = StorageLocks::acquire(
        &config.paths.places(),
        storages,
        purpose,
        Instant::now() + timeout,
        &Timing::default(),
    )
    .step_with(|| format!("lock storage {}", storages.join(", ")))?;
    let out = f();
    drop(locks);
    out
}

/// A storage and, for a clone storage made by `storage mount` (`X-CLONE`, `X-CLONE-N`), its
/// parent: unmounting deletes the clone and frees the parent's snapshot.
pub(super) fn with_parent(storage: &str) -> Vec<String> {
    let mut out = vec![storage.to_string()];
    if let Some(parent) = clone_parent(storage) {
        out.push(parent.to_string());
    }
    out
}

/// The storages with an ONTAP cluster in the config that hold the guest's disks (read before the
/// locks are taken; the workflow re-reads the guest inside them).
pub(super) fn guest_storages(config: &Config, b: &dyn Backends, vmid: u32) -> Result<Vec<String>> {
    let all = disks::guest_storages(b, vmid)
        .step_with(|| format!("find the storages of guest {vmid}"))?;
    Ok(all
        .into_iter()
        .filter(|s| config.ontap_for(s).is_ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_storage_is_locked_with_its_parent() {
        assert_eq!(with_parent("ONTAP01"), vec!["ONTAP01"]);
        assert_eq!(
            with_parent("ONTAP01-CLONE-2"),
            vec!["ONTAP01-CLONE-2", "ONTAP01"]
        );
    }
}
