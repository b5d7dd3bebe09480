//! Test fakes for the VM workflows: a `Pve` and an `Ontap` that keep a little state and record every
//! call in one shared log (to assert order), plus `Backends` and a resolver over them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ontap::{FileInfo, Ontap, SnapshotBatch, SnapshotDeletes, Volume};
use crate::ops::resolve::Resolved;
use crate::ops::vm::Ctx;
use crate::ops::Backends;
use crate::pve::{Guest, GuestConfig, GuestStatus, GuestType, Pve, StorageConfig};

/// Every call of both fakes, in order.
#[derive(Clone, Default)]
pub struct Log(Arc<(Mutex<Vec<String>>, Condvar)>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        let (lock, cv) = &*self.0;
        lock.lock().unwrap().push(entry.into());
        cv.notify_all();
    }

    pub fn entries(&self) -> Vec<String> {
        self.0 .0.lock().unwrap().clone()
    }

    /// Block until an entry equal to `entry` is logged (bounded, so a broken test fails, not hangs).
    pub fn wait_for(&self, entry: &str) -> bool {
        let (lock, cv) = &*self.0;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = lock.lock().unwrap();
        while !log.iter().any(|e| e == entry) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            log = cv.wait_timeout(log, left).unwrap().0;
        }
        true
    }
}

fn no_signal() -> Option<String> {
    None
}

/// A context at 2026-05-01 10:20:30 UTC, no signal, fake resolution, fast polling.
pub fn ctx() -> Ctx<'static> {
    Ctx {
        now: time::macros::datetime!(2026-05-01 10:20:30 UTC),
        interrupt: &no_signal,
        resolve,
        poll: Duration::from_millis(5),
    }
}

pub fn guest(vmid: u32, guest_type: GuestType) -> Guest {
    Guest {
        vmid,
        node: "pve1".into(),
        guest_type,
        name: None,
        status: "running".into(),
    }
}

pub fn status(state: &str, agent: bool) -> GuestStatus {
    GuestStatus {
        status: state.into(),
        qmpstatus: Some(state.into()),
        agent,
        lock: None,
    }
}

#[derive(Default)]
pub struct FakePve {
    pub log: Log,
    pub guests: Vec<Guest>,
    pub configs: BTreeMap<u32, GuestConfig>,
    pub states: Mutex<BTreeMap<u32, GuestStatus>>,
    pub storages: Vec<StorageConfig>,
    pub frozen: Mutex<BTreeSet<u32>>,
    /// The agent is configured but does not answer.
    pub agent_dead: bool,
    /// This many resume calls fail before one works.
    pub resume_failures: AtomicU32,
    /// The pause request errors, but the guest is paused anyway.
    pub suspend_fails_but_pauses: bool,
    pub freeze_fails_for: Option<u32>,
}

impl FakePve {
    pub fn calls(&self) -> Vec<String> {
        self.log.entries()
    }

    pub fn record(&self, entry: &str) {
        self.log.push(entry);
    }

    fn state(&self, vmid: u32) -> GuestStatus {
        self.states
            .lock()
            .unwrap()
            .get(&vmid)
            .cloned()
            .unwrap_or_else(|| status("running", true))
    }

    fn set_state(&self, vmid: u32, status: &str, qmp: &str) {
        let mut s = self.state(vmid);
        s.status = status.into();
        s.qmpstatus = Some(qmp.into());
        self.states.lock().unwrap().insert(vmid, s);
    }

    pub fn state_of(&self, vmid: u32) -> String {
        self.state(vmid).qmpstatus.unwrap_or_default()
    }

    pub fn is_frozen(&self, vmid: u32) -> bool {
        self.frozen.lock().unwrap().contains(&vmid)
    }
}

fn api_error(path: &str, message: &str) -> Error {
    Error::from(crate::error::ApiError {
        api: crate::error::Api::Proxmox,
        method: "POST".into(),
        path: path.into(),
        status: 500,
        code: None,
        message: message.into(),
        target: None,
    })
}

impl Pve for FakePve {
    fn storage(&self, id: &str) -> Result<StorageConfig> {
        self.log.push(format!("storage {id}"));
        self.storages
            .iter()
            .find(|s| s.storage == id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: format!("storage '{id}'"),
            })
    }
    fn storages(&self) -> Result<Vec<StorageConfig>> {
        self.log.push("storages");
        Ok(self.storages.clone())
    }
    fn guests(&self) -> Result<Vec<Guest>> {
        self.log.push("guests");
        Ok(self.guests.clone())
    }
    fn guest_config(&self, guest: &Guest) -> Result<GuestConfig> {
        self.log.push(format!("config {}", guest.vmid));
        Ok(self.configs.get(&guest.vmid).cloned().unwrap_or_default())
    }
    fn guest_status(&self, guest: &Guest) -> Result<GuestStatus> {
        self.log.push(format!("status {}", guest.vmid));
        Ok(self.state(guest.vmid))
    }
    fn suspend(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.log.push(format!("suspend {}", guest.vmid));
        self.set_state(guest.vmid, "running", "paused");
        if self.suspend_fails_but_pauses {
            return Err(api_error("/status/suspend", "task timed out"));
        }
        Ok(())
    }
    fn resume(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.log.push(format!("resume {}", guest.vmid));
        let left = self.resume_failures.load(Ordering::SeqCst);
        if left > 0 {
            self.resume_failures.store(left - 1, Ordering::SeqCst);
            return Err(api_error("/status/resume", "resume failed"));
        }
        self.set_state(guest.vmid, "running", "running");
        Ok(())
    }
    fn shutdown(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.log.push(format!("shutdown {}", guest.vmid));
        self.set_state(guest.vmid, "stopped", "stopped");
        Ok(())
    }
    fn start(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.log.push(format!("start {}", guest.vmid));
        self.set_state(guest.vmid, "running", "running");
        Ok(())
    }
    fn agent_ping(&self, guest: &Guest) -> Result<()> {
        self.log.push(format!("agent_ping {}", guest.vmid));
        if self.agent_dead {
            return Err(api_error("/agent/ping", "QEMU guest agent is not running"));
        }
        Ok(())
    }
    fn fsfreeze_freeze(&self, guest: &Guest) -> Result<u64> {
        self.log.push(format!("freeze {}", guest.vmid));
        if self.agent_dead {
            return Err(api_error(
                "/agent/fsfreeze-freeze",
                "QEMU guest agent is not running",
            ));
        }
        if self.freeze_fails_for == Some(guest.vmid) {
            return Err(api_error(
                "/agent/fsfreeze-freeze",
                "guest-fsfreeze-freeze failed",
            ));
        }
        self.frozen.lock().unwrap().insert(guest.vmid);
        Ok(2)
    }
    fn fsfreeze_thaw(&self, guest: &Guest) -> Result<u64> {
        self.log.push(format!("thaw {}", guest.vmid));
        self.frozen.lock().unwrap().remove(&guest.vmid);
        Ok(2)
    }
    fn fsfreeze_status(&self, guest: &Guest) -> Result<String> {
        self.log.push(format!("fsfreeze_status {}", guest.vmid));
        if self.agent_dead {
            return Err(api_error(
                "/agent/fsfreeze-status",
                "QEMU guest agent is not running",
            ));
        }
        Ok(if self.is_frozen(guest.vmid) {
            "frozen".into()
        } else {
            "thawed".into()
        })
    }
}

/// Files per volume uuid: path relative to the volume root → size.
#[derive(Default)]
pub struct FakeOntap {
    pub log: Log,
    pub files: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    /// A clone whose destination contains this string fails (as a failed ONTAP job).
    pub fail_clone: Option<String>,
    /// Every clone waits until this many clones have started (checks they run concurrently).
    pub gate: Option<usize>,
    gate_state: (Mutex<usize>, Condvar),
    /// The most clones seen in flight at once (when `gate` is set).
    pub max_in_flight: AtomicU32,
    /// Set when the first clone starts (a signal arriving inside the pause window).
    pub signal_on_clone: Option<Arc<AtomicBool>>,
    /// Clones block until this entry is in the log (e.g. `resume 100`).
    pub clone_waits_for: Option<String>,
    /// Clones panic (a bug in a client must not leave the guest paused).
    pub clone_panics: bool,
}

impl FakeOntap {
    pub fn add_file(&self, volume_uuid: &str, path: &str, size: u64) {
        self.files
            .lock()
            .unwrap()
            .entry(volume_uuid.into())
            .or_default()
            .insert(path.into(), size);
    }

    pub fn remove_file(&self, volume_uuid: &str, path: &str) {
        if let Some(v) = self.files.lock().unwrap().get_mut(volume_uuid) {
            v.remove(path);
        }
    }

    pub fn has(&self, volume_uuid: &str, path: &str) -> bool {
        self.files
            .lock()
            .unwrap()
            .get(volume_uuid)
            .is_some_and(|v| v.contains_key(path))
    }

    /// Every file of a volume whose name contains `-snapshot-`.
    pub fn snapshot_files(&self, volume_uuid: &str) -> Vec<String> {
        self.files
            .lock()
            .unwrap()
            .get(volume_uuid)
            .map(|v| {
                v.keys()
                    .filter(|p| p.contains("-snapshot-"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn pass_gate(&self) {
        let Some(expected) = self.gate else { return };
        let (lock, cv) = &self.gate_state;
        let mut arrived = lock.lock().unwrap();
        *arrived += 1;
        self.max_in_flight.fetch_max(
            u32::try_from(*arrived).unwrap_or(u32::MAX),
            Ordering::SeqCst,
        );
        cv.notify_all();
        let deadline = Instant::now() + Duration::from_secs(10);
        while *arrived < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            arrived = cv.wait_timeout(arrived, left).unwrap().0;
        }
    }
}

fn ontap_error(message: &str) -> Error {
    Error::Job {
        uuid: "job-1".into(),
        description: "POST /api/storage/file/clone".into(),
        code: "13565952".into(),
        message: message.into(),
    }
}

impl Ontap for FakeOntap {
    fn delete_snapshots(
        &self,
        _volume_uuid: &str,
        batch: &SnapshotBatch,
    ) -> Result<Option<SnapshotDeletes>> {
        Err(Error::Refused(format!(
            "the VM test double deletes no volume snapshots ({} asked)",
            batch.names.len()
        )))
    }

    fn clone_file(
        &self,
        volume: &Volume,
        source: &str,
        destination: &str,
        overwrite: bool,
    ) -> Result<()> {
        self.log.push(format!("clone {source} -> {destination}"));
        if let Some(flag) = &self.signal_on_clone {
            flag.store(true, Ordering::SeqCst);
        }
        self.pass_gate();
        assert!(!self.clone_panics, "clone_file panicked on purpose");
        if let Some(entry) = &self.clone_waits_for {
            assert!(self.log.wait_for(entry), "'{entry}' never happened");
        }
        if self
            .fail_clone
            .as_deref()
            .is_some_and(|f| destination.contains(f))
        {
            return Err(ontap_error("Clone start failed."));
        }
        let mut files = self.files.lock().unwrap();
        let vol = files.entry(volume.uuid.clone()).or_default();
        let size = *vol
            .get(source)
            .ok_or_else(|| ontap_error("Failed to get the file handle."))?;
        if vol.contains_key(destination) && !overwrite {
            return Err(ontap_error("destination exists"));
        }
        vol.insert(destination.into(), size);
        Ok(())
    }

    fn list_dir(&self, volume_uuid: &str, path: &str) -> Result<Vec<FileInfo>> {
        self.log.push(format!("list_dir {volume_uuid} {path}"));
        let files = self.files.lock().unwrap();
        let prefix = format!("{path}/");
        let out: Vec<FileInfo> = files
            .get(volume_uuid)
            .map(|v| {
                v.iter()
                    .filter_map(|(p, size)| {
                        let name = p.strip_prefix(&prefix)?;
                        (!name.contains('/')).then(|| FileInfo {
                            name: name.into(),
                            file_type: "file".into(),
                            size: Some(*size),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if out.is_empty() {
            return Err(Error::NotFound {
                what: format!("directory '{path}' on volume {volume_uuid}"),
            });
        }
        Ok(out)
    }

    fn delete_file(&self, volume_uuid: &str, path: &str) -> Result<()> {
        self.log.push(format!("delete {path}"));
        let mut files = self.files.lock().unwrap();
        match files.get_mut(volume_uuid).and_then(|v| v.remove(path)) {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                what: format!("file '{path}' on volume {volume_uuid}"),
            }),
        }
    }
}

pub struct FakeBackends {
    pub pve: Arc<FakePve>,
    pub ontap: Arc<FakeOntap>,
    /// Storages with an ONTAP section in the config.
    pub ontap_storages: Vec<String>,
}

impl Backends for FakeBackends {
    fn pve(&self) -> Result<Arc<dyn Pve>> {
        Ok(self.pve.clone())
    }
    fn ontap(&self, storage: &str) -> Result<Arc<dyn Ontap>> {
        if self.ontap_storages.iter().any(|s| s == storage) {
            Ok(self.ontap.clone())
        } else {
            Err(Error::Refused(format!(
                "no section [{storage}] in the config"
            )))
        }
    }
}

/// Volume uuid of a fake storage (the volume name is the storage id, lower case).
pub fn volume_uuid(storage: &str) -> String {
    format!("uuid-{}", storage.to_ascii_lowercase())
}

/// Resolution over the fakes: the volume is named after the storage; `ONTAP03` exports `pve`
/// below its junction.
pub fn resolve(b: &dyn Backends, id: &str) -> Result<Resolved> {
    let storage = b.pve()?.storage(id)?;
    let ontap = b.ontap(id)?;
    Ok(Resolved {
        prefix: if id == "ONTAP03" {
            "pve".into()
        } else {
            String::new()
        },
        volume: Volume {
            name: id.to_ascii_lowercase(),
            uuid: volume_uuid(id),
            svm_name: "svm1".into(),
            ..Volume::default()
        },
        storage,
        ontap,
    })
}

fn nfs(id: &str) -> StorageConfig {
    StorageConfig {
        storage: id.into(),
        storage_type: "nfs".into(),
        server: Some("127.0.10.1".into()),
        export: Some(format!("/{id}")),
        path: Some(format!("/mnt/pve/{id}")),
        content: Some("images,rootdir".into()),
        ..StorageConfig::default()
    }
}

fn config(entries: &[(&str, &str)]) -> GuestConfig {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A small copy of the default scenario: guests 100 (4 disks + cdrom, cloud-init, unused), 101
/// (one ONTAP disk, one on local-lvm, no agent), 102 (stopped), 104 (dead agent), 106 (four raw
/// disks), 107 (only local-lvm), 108 (on a volume-chain storage), 200 (LXC).
pub fn scenario() -> FakeBackends {
    let log = Log::default();
    let mut guests = Vec::new();
    let mut configs = BTreeMap::new();
    let mut states = BTreeMap::new();
    let mut add = |vmid: u32, t: GuestType, state: &str, agent: bool, c: GuestConfig| {
        guests.push(guest(vmid, t));
        configs.insert(vmid, c);
        states.insert(vmid, status(state, agent));
    };
    add(
        100,
        GuestType::Qemu,
        "running",
        true,
        config(&[
            (
                "scsi0",
                "ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G",
            ),
            ("virtio0", "ONTAP01:100/vm-100-disk-1.raw,size=8G"),
            (
                "efidisk0",
                "ONTAP01:100/vm-100-disk-2.raw,efitype=4m,size=528K",
            ),
            (
                "tpmstate0",
                "ONTAP01:100/vm-100-disk-3.raw,size=4M,version=v2.0",
            ),
            ("ide2", "local:iso/debian-13.iso,media=cdrom,size=600M"),
            ("ide0", "ONTAP01:100/vm-100-cloudinit.qcow2,media=cdrom"),
            ("unused0", "ONTAP01:100/vm-100-disk-9.raw"),
            ("agent", "1"),
        ]),
    );
    add(
        101,
        GuestType::Qemu,
        "running",
        false,
        config(&[
            ("sata0", "ONTAP01:101/vm-101-disk-0.raw,size=16G"),
            ("scsi1", "local-lvm:vm-101-disk-1,size=4G"),
        ]),
    );
    add(
        102,
        GuestType::Qemu,
        "stopped",
        true,
        config(&[("scsi0", "ONTAP01:102/vm-102-disk-0.qcow2,size=20G")]),
    );
    add(
        104,
        GuestType::Qemu,
        "running",
        true,
        config(&[("scsi0", "ONTAP01:104/vm-104-disk-0.raw,size=4G")]),
    );
    add(
        106,
        GuestType::Qemu,
        "running",
        true,
        config(&[
            ("scsi0", "ONTAP01:106/vm-106-disk-0.raw"),
            ("scsi1", "ONTAP01:106/vm-106-disk-1.raw"),
            ("scsi2", "ONTAP02:106/vm-106-disk-2.raw"),
            ("scsi3", "ONTAP01:106/vm-106-disk-3.raw"),
        ]),
    );
    add(
        107,
        GuestType::Qemu,
        "running",
        false,
        config(&[("scsi0", "local-lvm:vm-107-disk-0,size=4G")]),
    );
    add(
        108,
        GuestType::Qemu,
        "running",
        false,
        config(&[
            ("scsi0", "ONTAP01:108/vm-108-disk-0.raw"),
            ("scsi1", "CHAIN:108/vm-108-disk-1.qcow2"),
        ]),
    );
    add(
        200,
        GuestType::Lxc,
        "running",
        false,
        config(&[
            ("rootfs", "ONTAP02:200/vm-200-disk-0.raw,size=8G"),
            ("mp0", "ONTAP01:200/vm-200-disk-1.raw,mp=/data,size=8G"),
        ]),
    );
    let mut chain = nfs("CHAIN");
    chain.snapshot_as_volume_chain = true;
    let storages = vec![
        StorageConfig {
            storage: "local".into(),
            storage_type: "dir".into(),
            path: Some("/var/lib/vz".into()),
            ..StorageConfig::default()
        },
        StorageConfig {
            storage: "local-lvm".into(),
            storage_type: "lvmthin".into(),
            ..StorageConfig::default()
        },
        nfs("ONTAP01"),
        nfs("ONTAP02"),
        nfs("OTHERNAS"),
        chain,
    ];
    let pve = FakePve {
        log: log.clone(),
        guests,
        configs,
        states: Mutex::new(states),
        storages,
        ..FakePve::default()
    };
    let ontap = FakeOntap {
        log,
        ..FakeOntap::default()
    };
    let o1 = volume_uuid("ONTAP01");
    let o2 = volume_uuid("ONTAP02");
    for (vol, path, size) in [
        (&o1, "images/100/vm-100-disk-0.qcow2", 32u64 << 30),
        (&o1, "images/100/vm-100-disk-1.raw", 8 << 30),
        (&o1, "images/100/vm-100-disk-2.raw", 528 << 10),
        (&o1, "images/100/vm-100-disk-3.raw", 4 << 20),
        (&o1, "images/100/vm-100-cloudinit.qcow2", 4 << 20),
        (&o1, "images/100/vm-100-disk-9.raw", 1 << 30),
        (&o1, "images/101/vm-101-disk-0.raw", 16 << 30),
        (&o1, "images/102/vm-102-disk-0.qcow2", 20 << 30),
        (&o1, "images/104/vm-104-disk-0.raw", 4 << 30),
        (&o1, "images/106/vm-106-disk-0.raw", 1 << 30),
        (&o1, "images/106/vm-106-disk-1.raw", 1 << 30),
        (&o2, "images/106/vm-106-disk-2.raw", 1 << 30),
        (&o1, "images/106/vm-106-disk-3.raw", 1 << 30),
        (&o1, "images/108/vm-108-disk-0.raw", 1 << 30),
        (&o2, "images/200/vm-200-disk-0.raw", 8 << 30),
        (&o1, "images/200/vm-200-disk-1.raw", 8 << 30),
    ] {
        ontap.add_file(vol, path, size);
    }
    FakeBackends {
        pve: Arc::new(pve),
        ontap: Arc::new(ontap),
        ontap_storages: vec!["ONTAP01".into(), "ONTAP02".into(), "CHAIN".into()],
    }
}
