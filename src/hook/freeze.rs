//! Keeps track of the guests a hook's action has frozen through their agents, so that a hook that
//! stops waiting at its timeout thaws them before it exits and the action cannot freeze any more.
//!
//! `Tracked` wraps the real `Backends`; its `Pve` forwards every call and records fsfreeze/thaw.
//! Keep it forwarding every method of `crate::pve::Pve` (a method left out would answer "not
//! implemented" through the trait's default).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ontap::Ontap;
use crate::ops::window::Guard;
use crate::ops::Backends;
use crate::pve::{Guest, GuestConfig, GuestStatus, NewNfsStorage, Pve, StorageConfig};

/// Shared between the action (worker thread) and the hook waiting for it.
#[derive(Debug, Default)]
pub struct FreezeState {
    cancelled: AtomicBool,
    /// Guests frozen (or being frozen) and not yet thawed, by vmid.
    frozen: Mutex<BTreeMap<u32, Guest>>,
}

impl FreezeState {
    /// Stop further freezes and thaw every guest still frozen by the action. Returns what it did,
    /// one line per guest, for the log.
    pub fn rescue(&self, pve: &dyn Pve) -> Vec<String> {
        self.cancelled.store(true, Ordering::SeqCst);
        let guests: Vec<Guest> = {
            let frozen = self.frozen.lock().unwrap_or_else(|e| e.into_inner());
            frozen.values().cloned().collect()
        };
        guests
            .iter()
            .map(|g| match pve.fsfreeze_thaw(g) {
                Ok(_) => {
                    self.forget(g.vmid);
                    format!("thawed guest {} after the timeout", g.vmid)
                }
                Err(e) => format!(
                    "could not thaw guest {} after the timeout: {e}; thaw it with \
                     'qm guest cmd {} fsfreeze-thaw'",
                    g.vmid, g.vmid
                ),
            })
            .collect()
    }

    /// Guests frozen by the action and not thawed yet.
    pub fn frozen(&self) -> Vec<u32> {
        let frozen = self.frozen.lock().unwrap_or_else(|e| e.into_inner());
        frozen.keys().copied().collect()
    }

    fn forget(&self, vmid: u32) {
        let mut frozen = self.frozen.lock().unwrap_or_else(|e| e.into_inner());
        frozen.remove(&vmid);
    }
}

/// `Backends` whose Proxmox client records freezes into a `FreezeState`.
pub struct Tracked {
    inner: Arc<dyn Backends>,
    state: Arc<FreezeState>,
}

impl Tracked {
    pub fn new(inner: Arc<dyn Backends>) -> Tracked {
        Tracked {
            inner,
            state: Arc::new(FreezeState::default()),
        }
    }

    pub fn state(&self) -> Arc<FreezeState> {
        Arc::clone(&self.state)
    }

    /// The untracked Proxmox client (for the rescue itself).
    pub fn inner_pve(&self) -> Result<Arc<dyn Pve>> {
        self.inner.pve()
    }
}

impl Backends for Tracked {
    fn pve(&self) -> Result<Arc<dyn Pve>> {
        Ok(Arc::new(TrackedPve {
            inner: self.inner.pve()?,
            state: Arc::clone(&self.state),
        }))
    }

    fn ontap(&self, storage: &str) -> Result<Arc<dyn Ontap>> {
        self.inner.ontap(storage)
    }

    fn guard(&self) -> Result<Arc<dyn Guard>> {
        self.inner.guard()
    }
}

struct TrackedPve {
    inner: Arc<dyn Pve>,
    state: Arc<FreezeState>,
}

impl Pve for TrackedPve {
    fn storage(&self, id: &str) -> Result<StorageConfig> {
        self.inner.storage(id)
    }
    fn storages(&self) -> Result<Vec<StorageConfig>> {
        self.inner.storages()
    }
    fn create_nfs_storage(&self, spec: &NewNfsStorage) -> Result<()> {
        self.inner.create_nfs_storage(spec)
    }
    fn delete_storage(&self, id: &str) -> Result<()> {
        self.inner.delete_storage(id)
    }
    fn guests(&self) -> Result<Vec<Guest>> {
        self.inner.guests()
    }
    fn guest(&self, vmid: u32) -> Result<Guest> {
        self.inner.guest(vmid)
    }
    fn guest_config(&self, guest: &Guest) -> Result<GuestConfig> {
        self.inner.guest_config(guest)
    }
    fn guest_status(&self, guest: &Guest) -> Result<GuestStatus> {
        self.inner.guest_status(guest)
    }
    fn suspend(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.inner.suspend(guest, wait)
    }
    fn resume(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.inner.resume(guest, wait)
    }
    fn shutdown(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.inner.shutdown(guest, wait)
    }
    fn create_vm(&self, node: &str, vmid: u32, config: &GuestConfig, wait: Duration) -> Result<()> {
        self.inner.create_vm(node, vmid, config, wait)
    }
    fn destroy_vm(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.inner.destroy_vm(guest, wait)
    }
    fn set_config(&self, guest: &Guest, set: &[(String, String)], delete: &[String]) -> Result<()> {
        self.inner.set_config(guest, set, delete)
    }
    fn start(&self, guest: &Guest, wait: Duration) -> Result<()> {
        self.inner.start(guest, wait)
    }
    fn agent_ping(&self, guest: &Guest) -> Result<()> {
        self.inner.agent_ping(guest)
    }
    fn fsfreeze_freeze(&self, guest: &Guest) -> Result<u64> {
        {
            // Check and record under one lock, so a rescue either sees this guest or stops it.
            let mut frozen = self.state.frozen.lock().unwrap_or_else(|e| e.into_inner());
            if self.state.cancelled.load(Ordering::SeqCst) {
                return Err(Error::Refused(format!(
                    "not freezing guest {}: the hook has timed out",
                    guest.vmid
                )));
            }
            frozen.insert(guest.vmid, guest.clone());
        }
        self.inner.fsfreeze_freeze(guest)
    }
    fn fsfreeze_thaw(&self, guest: &Guest) -> Result<u64> {
        let r = self.inner.fsfreeze_thaw(guest);
        if r.is_ok() {
            self.state.forget(guest.vmid);
        }
        r
    }
    fn fsfreeze_status(&self, guest: &Guest) -> Result<String> {
        self.inner.fsfreeze_status(guest)
    }
    fn version(&self) -> Result<String> {
        self.inner.version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pve::GuestType;
    use crate::testing::double::Double;

    fn guest(vmid: u32) -> Guest {
        Guest {
            vmid,
            node: "pve1".into(),
            guest_type: GuestType::Qemu,
            name: None,
            status: "running".into(),
        }
    }

    #[test]
    fn rescue_thaws_what_is_still_frozen_and_blocks_new_freezes() {
        let agent = Double::vm();
        let tracked = Tracked::new(Arc::new(agent.clone()));
        let pve = tracked.pve().unwrap();
        assert_eq!(pve.version().unwrap(), "9.1.2");
        pve.fsfreeze_freeze(&guest(100)).unwrap();
        pve.fsfreeze_freeze(&guest(101)).unwrap();
        pve.fsfreeze_thaw(&guest(101)).unwrap();
        assert_eq!(tracked.state().frozen(), vec![100]);

        let lines = tracked.state().rescue(&*tracked.inner_pve().unwrap());
        assert_eq!(lines, vec!["thawed guest 100 after the timeout"]);
        assert_eq!(agent.calls_to("pve.fsfreeze_thaw").len(), 2);
        assert!(tracked.state().frozen().is_empty());

        let e = pve.fsfreeze_freeze(&guest(102)).unwrap_err();
        assert!(e.to_string().contains("not freezing guest 102"), "{e}");
        assert_eq!(agent.calls_to("pve.fsfreeze_freeze").len(), 2);
    }

    /// Every method of the `Pve` trait is forwarded (the compiler sees a missing one; this also
    /// names it).
    #[test]
    fn every_pve_method_is_forwarded() {
        let names = |src: &str, from: &str, to: &str| -> Vec<String> {
            let start = src.find(from).unwrap();
            let body = &src[start..start + src[start..].find(to).unwrap()];
            body.lines()
                .filter_map(|l| l.trim().strip_prefix("fn "))
                .map(|l| l.split('(').next().unwrap().to_string())
                .collect()
        };
        let trait_methods = names(
            include_str!("../pve/mod.rs"),
            "pub trait Pve: Send + Sync {",
            "\n}\n",
        );
        let forwarded = names(
            include_str!("freeze.rs"),
            "impl Pve for TrackedPve {",
            "\n}\n",
        );
        assert!(trait_methods.len() > 10, "{trait_methods:?}");
        for m in &trait_methods {
            assert!(
                forwarded.contains(m),
                "TrackedPve does not forward Pve::{m}"
            );
        }
    }
}
