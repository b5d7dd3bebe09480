//! `Double`: one in-memory Proxmox VE cluster and ONTAP cluster implementing every method of `Pve`,
//! `Ontap` and `Backends`, with one ordered call log, one-shot injected failures and fault knobs.
//!
//! Every call is logged as `pve.<method> <arg>` or `ontap.<method> <arg>` (the trait's method name),
//! so tests assert request order across both APIs in one list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::error::{Api, ApiError, Error, Result};
use crate::ontap::{
    FileInfo, NewFlexClone, NewSnapshot, Ontap, OntapVersion, Snapshot, SnapshotBatch,
    SnapshotDeletes, Svm, Volume,
};
use crate::ops::storage::iso8601;
use crate::ops::window::{Armed, Guard, GuardPlan, Released};
use crate::ops::Backends;
use crate::pve::{Guest, GuestConfig, GuestStatus, NewNfsStorage, Pve, StorageConfig};

/// The state of both clusters plus the fault knobs a test may set.
#[derive(Default)]
pub(crate) struct World {
    pub storages: Vec<StorageConfig>,
    pub guests: Vec<Guest>,
    pub configs: BTreeMap<u32, GuestConfig>,
    /// `status/current` per guest; a guest without an entry runs with an agent configured.
    pub states: BTreeMap<u32, GuestStatus>,
    /// Guests whose filesystems the agent holds frozen.
    pub frozen: BTreeSet<u32>,
    /// `GET /version` of Proxmox VE.
    pub pve_version: String,
    /// LIF address → SVM.
    pub lifs: BTreeMap<String, Svm>,
    /// The LIF lookup answers 403.
    pub lif_forbidden: bool,
    pub volumes: Vec<Volume>,
    /// Volume uuid → its snapshots.
    pub snapshots: BTreeMap<String, Vec<Snapshot>>,
    /// Volume uuid → file path relative to the volume root → size.
    pub files: BTreeMap<String, BTreeMap<String, u64>>,
    /// Bytes of files written through `write_file`: (volume uuid, path) → data.
    pub file_data: BTreeMap<(String, String), Vec<u8>>,
    pub version: Option<OntapVersion>,
    /// `delete_snapshots` deletes (an ONTAP that takes query-based deletes); else it answers
    /// `None` and the caller deletes one by one.
    pub bulk_deletes: bool,
    /// A new FlexClone gets the parent's export policy (else `default`).
    pub clone_inherits_policy: bool,
    /// Config sections (storage ids `ontap()` knows); None = every storage.
    pub sections: Option<Vec<String>>,
    /// One-shot failures: call name (or a whole log entry, call and argument), matching calls to
    /// let pass first, the API error.
    pub fail: Vec<(String, usize, ApiError)>,
    /// The agent is configured but does not answer.
    pub agent_dead: bool,
    /// This many resume calls fail before one works.
    pub resume_failures: u32,
    /// The pause request errors, but the guest is paused anyway.
    pub suspend_fails_but_pauses: bool,
    /// Freezing this guest fails.
    pub freeze_fails_for: Option<u32>,
    /// A file clone whose destination contains this string fails (as a failed ONTAP job).
    pub fail_clone: Option<String>,
    /// Every file clone waits until this many clones have started (checks they run concurrently).
    pub gate: Option<usize>,
    /// Set when the first file clone starts (a signal arriving inside the pause window).
    pub signal_on_clone: Option<Arc<AtomicBool>>,
    /// File clones block until this entry is in the log (e.g. `pve.resume 100`).
    pub clone_waits_for: Option<String>,
    /// File clones panic (a bug in a client must not leave the guest paused).
    pub clone_panics: bool,
    /// Guardians armed (`arm <vmid>:<undo>,... <bound>s`) and released (`release`), in order.
    pub guards: Vec<String>,
    /// Armed guardians report that the bound passed (they brought the guests back themselves).
    pub guard_expired: bool,
    pub(super) next_uuid: u32,
}

impl World {
    fn uuid(&mut self) -> String {
        self.next_uuid += 1;
        format!("uuid-{:04}", self.next_uuid)
    }

    fn volume_by_uuid(&self, uuid: &str) -> Result<&Volume> {
        self.volumes
            .iter()
            .find(|v| v.uuid == uuid)
            .ok_or_else(|| api(404, "4", "entry doesn't exist"))
    }

    fn state(&self, vmid: u32) -> GuestStatus {
        self.states
            .get(&vmid)
            .cloned()
            .unwrap_or_else(|| GuestStatus {
                status: "running".into(),
                qmpstatus: Some("running".into()),
                agent: true,
                lock: None,
            })
    }

    fn set_state(&mut self, vmid: u32, status: &str, qmp: &str) {
        let mut s = self.state(vmid);
        s.status = status.into();
        s.qmpstatus = Some(qmp.into());
        self.states.insert(vmid, s);
    }
}

/// Every call of the double, in order; tests may add their own entries to mark a moment.
#[derive(Default)]
struct Log {
    entries: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Log {
    fn push(&self, entry: String) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
        self.changed.notify_all();
    }

    fn entries(&self) -> Vec<String> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Block until an entry equal to `entry` is logged (bounded, so a broken test fails, not hangs).
    fn wait_for(&self, entry: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut log = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        while !log.iter().any(|e| e == entry) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            log = self
                .changed
                .wait_timeout(log, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

struct Inner {
    world: Mutex<World>,
    log: Log,
    /// File clones that reached the gate.
    arrived: Mutex<usize>,
    gate_changed: Condvar,
    /// The most file clones seen in flight at once (when `World::gate` is set).
    max_in_flight: AtomicU32,
}

/// The double; clones share one state (hand one to the code under test, keep one to assert).
#[derive(Clone)]
pub(crate) struct Double(Arc<Inner>);

impl Double {
    pub fn with_world(world: World) -> Double {
        Double(Arc::new(Inner {
            world: Mutex::new(world),
            log: Log::default(),
            arrived: Mutex::new(0),
            gate_changed: Condvar::new(),
            max_in_flight: AtomicU32::new(0),
        }))
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.0.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Make the next call named `call` (e.g. `ontap.create_snapshot`, or with its argument as
    /// logged, `ontap.delete_snapshot uuid-0002`) fail with this API error.
    pub fn fail_next(&self, call: &str, status: u16, code: Option<&str>, message: &str) {
        self.fail_after(call, 0, status, code, message);
    }

    /// Let `skip` calls named `call` pass, then fail the next one.
    pub fn fail_after(
        &self,
        call: &str,
        skip: usize,
        status: u16,
        code: Option<&str>,
        message: &str,
    ) {
        let api = if call.starts_with("pve.") {
            Api::Proxmox
        } else {
            Api::Ontap
        };
        self.world().fail.push((
            call.to_string(),
            skip,
            ApiError {
                api,
                method: "X".into(),
                path: format!("/{call}"),
                status,
                code: code.map(str::to_string),
                message: message.into(),
                target: None,
            },
        ));
    }

    /// Every call made so far, e.g. `ontap.create_snapshot proxmox_snapshot_...`, `pve.suspend 100`.
    pub fn calls(&self) -> Vec<String> {
        self.0.log.entries()
    }

    /// Calls whose entry starts with `prefix` (e.g. `ontap.delete`).
    pub fn calls_to(&self, prefix: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect()
    }

    /// Add a marker to the call log (e.g. `snapshot` inside a freeze window).
    pub fn record(&self, entry: &str) {
        self.0.log.push(entry.to_string());
    }

    /// The most file clones that were in flight at once (when `World::gate` is set).
    pub fn max_in_flight(&self) -> u32 {
        self.0.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn snapshot_names(&self, volume: &str) -> Vec<String> {
        let w = self.world();
        let uuid = w
            .volumes
            .iter()
            .find(|v| v.name == volume)
            .map(|v| v.uuid.clone())
            .unwrap_or_default();
        w.snapshots
            .get(&uuid)
            .map(|s| s.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default()
    }

    pub fn volume_names(&self) -> Vec<String> {
        self.world()
            .volumes
            .iter()
            .map(|v| v.name.clone())
            .collect()
    }

    pub fn storage_ids(&self) -> Vec<String> {
        self.world()
            .storages
            .iter()
            .map(|s| s.storage.clone())
            .collect()
    }

    /// Add a snapshot to a volume (by name).
    pub fn add_snapshot(
        &self,
        volume: &str,
        name: &str,
        created: OffsetDateTime,
        label: Option<&str>,
    ) {
        let mut w = self.world();
        let uuid = w.uuid();
        let vol = w
            .volumes
            .iter()
            .find(|v| v.name == volume)
            .map(|v| v.uuid.clone())
            .unwrap_or_default();
        w.snapshots.entry(vol).or_default().push(Snapshot {
            name: name.into(),
            uuid,
            create_time: iso8601(created),
            comment: None,
            snapmirror_label: label.map(str::to_string),
            expiry_time: None,
            snaplock_expiry_time: None,
            owners: Vec::new(),
            size: Some(4096),
        });
    }

    /// The status the guest list (`/cluster/resources`) reports.
    /// Set the owners of a snapshot (by volume and snapshot name).
    pub fn set_snapshot_owners(&self, volume: &str, name: &str, owners: &[&str]) {
        let mut w = self.world();
        let vol = w
            .volumes
            .iter()
            .find(|v| v.name == volume)
            .map(|v| v.uuid.clone())
            .unwrap_or_default();
        if let Some(s) = w
            .snapshots
            .get_mut(&vol)
            .and_then(|s| s.iter_mut().find(|s| s.name == name))
        {
            s.owners = owners.iter().map(|o| o.to_string()).collect();
        }
    }

    pub fn set_guest_status(&self, vmid: u32, status: &str) {
        let mut w = self.world();
        if let Some(g) = w.guests.iter_mut().find(|g| g.vmid == vmid) {
            g.status = status.into();
        }
    }

    /// `qmpstatus` of a guest as `status/current` reports it.
    pub fn state_of(&self, vmid: u32) -> String {
        self.world().state(vmid).qmpstatus.unwrap_or_default()
    }

    pub fn is_frozen(&self, vmid: u32) -> bool {
        self.world().frozen.contains(&vmid)
    }

    pub fn add_file(&self, volume_uuid: &str, path: &str, size: u64) {
        self.world()
            .files
            .entry(volume_uuid.into())
            .or_default()
            .insert(path.into(), size);
    }

    pub fn remove_file(&self, volume_uuid: &str, path: &str) {
        if let Some(v) = self.world().files.get_mut(volume_uuid) {
            v.remove(path);
        }
    }

    pub fn has(&self, volume_uuid: &str, path: &str) -> bool {
        self.world()
            .files
            .get(volume_uuid)
            .is_some_and(|v| v.contains_key(path))
    }

    /// Every file of a volume whose name contains `-snapshot-`.
    pub fn snapshot_files(&self, volume_uuid: &str) -> Vec<String> {
        self.world()
            .files
            .get(volume_uuid)
            .map(|v| {
                v.keys()
                    .filter(|p| p.contains("-snapshot-"))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Log the call, then fail it when a failure was injected for it.
    /// The effect of a snapshot delete: refused while a FlexClone depends on it.
    fn remove_snapshot(&self, volume_uuid: &str, snapshot_uuid: &str) -> Result<()> {
        let mut w = self.world();
        let vol = w.volume_by_uuid(volume_uuid)?.name.clone();
        let snaps = w.snapshots.entry(volume_uuid.to_string()).or_default();
        let Some(i) = snaps.iter().position(|s| s.uuid == snapshot_uuid) else {
            return Err(api(404, "1638600", "The snapshot does not exist."));
        };
        let name = snaps[i].name.clone();
        let owned = w.volumes.iter().any(|v| {
            v.parent_volume.as_deref() == Some(vol.as_str())
                && v.parent_snapshot.as_deref() == Some(name.as_str())
        });
        if owned {
            return Err(api(
                409,
                "1638543",
                "Failed to delete snapshot because it has an owner.",
            ));
        }
        w.snapshots
            .entry(volume_uuid.to_string())
            .or_default()
            .remove(i);
        Ok(())
    }

    fn call(&self, name: &str, arg: &str) -> Result<()> {
        self.0
            .log
            .push(format!("{name} {arg}").trim_end().to_string());
        let mut w = self.world();
        let entry = format!("{name} {arg}");
        if let Some(i) = w.fail.iter().position(|(c, _, _)| c == name || *c == entry) {
            if w.fail[i].1 > 0 {
                w.fail[i].1 -= 1;
            } else {
                let (_, _, e) = w.fail.remove(i);
                return Err(e.into());
            }
        }
        Ok(())
    }

    fn pass_gate(&self, expected: usize) {
        let inner = &*self.0;
        let mut arrived = inner.arrived.lock().unwrap_or_else(|e| e.into_inner());
        *arrived += 1;
        inner.max_in_flight.fetch_max(
            u32::try_from(*arrived).unwrap_or(u32::MAX),
            Ordering::SeqCst,
        );
        inner.gate_changed.notify_all();
        let deadline = Instant::now() + Duration::from_secs(10);
        while *arrived < expected {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            arrived = inner
                .gate_changed
                .wait_timeout(arrived, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

fn api(status: u16, code: &str, message: &str) -> Error {
    ApiError {
        api: Api::Ontap,
        method: "X".into(),
        path: "/fake".into(),
        status,
        code: Some(code.into()),
        message: message.into(),
        target: None,
    }
    .into()
}

fn pve_error(path: &str, message: &str) -> Error {
    Error::from(ApiError {
        api: Api::Proxmox,
        method: "POST".into(),
        path: path.into(),
        status: 500,
        code: None,
        message: message.into(),
        target: None,
    })
}

fn job_error(message: &str) -> Error {
    Error::Job {
        uuid: "job-1".into(),
        description: "POST /api/storage/file/clone".into(),
        code: "13565952".into(),
        message: message.into(),
    }
}

impl Backends for Double {
    fn pve(&self) -> Result<Arc<dyn Pve>> {
        Ok(Arc::new(self.clone()))
    }

    fn guard(&self) -> Result<Arc<dyn Guard>> {
        Ok(Arc::new(self.clone()))
    }

    fn ontap(&self, storage: &str) -> Result<Arc<dyn Ontap>> {
        let known = match &self.world().sections {
            None => true,
            Some(s) => s.iter().any(|s| s == storage),
        };
        if known {
            Ok(Arc::new(self.clone()))
        } else {
            Err(Error::Config {
                file: "/etc/fake.ini".into(),
                section: Some(storage.into()),
                key: None,
                message: format!("no section for storage '{storage}'"),
            })
        }
    }
}

impl Guard for Double {
    fn arm(&self, plan: &GuardPlan) -> Result<Box<dyn Armed>> {
        let watches: Vec<String> = plan
            .watches
            .iter()
            .map(|w| format!("{}:{:?}", w.guest.vmid, w.action))
            .collect();
        self.world().guards.push(format!(
            "arm {} {}s",
            watches.join(","),
            plan.max_pause.as_secs()
        ));
        Ok(Box::new(DoubleArmed(self.clone())))
    }
}

/// A guardian of the double: says what `World::guard_expired` says.
struct DoubleArmed(Double);

impl Armed for DoubleArmed {
    fn expired(&mut self) -> bool {
        self.0.world().guard_expired
    }

    fn release(self: Box<Self>) -> Released {
        let mut w = self.0.world();
        w.guards.push("release".into());
        if w.guard_expired {
            Released::Expired
        } else {
            Released::Quiet
        }
    }
}

impl Pve for Double {
    fn storage(&self, id: &str) -> Result<StorageConfig> {
        self.call("pve.storage", id)?;
        self.world()
            .storages
            .iter()
            .find(|s| s.storage == id)
            .cloned()
            .ok_or_else(|| Error::NotFound {
                what: format!("storage '{id}'"),
            })
    }

    fn storages(&self) -> Result<Vec<StorageConfig>> {
        self.call("pve.storages", "")?;
        Ok(self.world().storages.clone())
    }

    fn create_nfs_storage(&self, spec: &NewNfsStorage) -> Result<()> {
        self.call("pve.create_nfs_storage", &spec.storage)?;
        self.world().storages.push(StorageConfig {
            storage: spec.storage.clone(),
            storage_type: "nfs".into(),
            server: Some(spec.server.clone()),
            export: Some(spec.export.clone()),
            path: Some(format!("/mnt/pve/{}", spec.storage)),
            content: spec.content.clone(),
            options: spec.options.clone(),
            nodes: spec.nodes.clone(),
            ..Default::default()
        });
        Ok(())
    }

    fn delete_storage(&self, id: &str) -> Result<()> {
        self.call("pve.delete_storage", id)?;
        self.world().storages.retain(|s| s.storage != id);
        Ok(())
    }

    fn guests(&self) -> Result<Vec<Guest>> {
        self.call("pve.guests", "")?;
        Ok(self.world().guests.clone())
    }

    /// As the HTTP client: one `guests()` call, then a lookup.
    fn guest(&self, vmid: u32) -> Result<Guest> {
        self.guests()?
            .into_iter()
            .find(|g| g.vmid == vmid)
            .ok_or_else(|| Error::NotFound {
                what: format!("guest {vmid}"),
            })
    }

    fn guest_config(&self, guest: &Guest) -> Result<GuestConfig> {
        self.call("pve.guest_config", &guest.vmid.to_string())?;
        Ok(self
            .world()
            .configs
            .get(&guest.vmid)
            .cloned()
            .unwrap_or_default())
    }

    fn guest_status(&self, guest: &Guest) -> Result<GuestStatus> {
        self.call("pve.guest_status", &guest.vmid.to_string())?;
        Ok(self.world().state(guest.vmid))
    }

    fn suspend(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.call("pve.suspend", &guest.vmid.to_string())?;
        let mut w = self.world();
        w.set_state(guest.vmid, "running", "paused");
        if w.suspend_fails_but_pauses {
            return Err(pve_error("/status/suspend", "task timed out"));
        }
        Ok(())
    }

    fn resume(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.call("pve.resume", &guest.vmid.to_string())?;
        let mut w = self.world();
        if w.resume_failures > 0 {
            w.resume_failures -= 1;
            return Err(pve_error("/status/resume", "resume failed"));
        }
        w.set_state(guest.vmid, "running", "running");
        Ok(())
    }

    fn shutdown(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.call("pve.shutdown", &guest.vmid.to_string())?;
        self.world().set_state(guest.vmid, "stopped", "stopped");
        Ok(())
    }

    fn start(&self, guest: &Guest, _wait: Duration) -> Result<()> {
        self.call("pve.start", &guest.vmid.to_string())?;
        self.world().set_state(guest.vmid, "running", "running");
        Ok(())
    }

    fn agent_ping(&self, guest: &Guest) -> Result<()> {
        self.call("pve.agent_ping", &guest.vmid.to_string())?;
        if self.world().agent_dead {
            return Err(pve_error("/agent/ping", "QEMU guest agent is not running"));
        }
        Ok(())
    }

    fn fsfreeze_freeze(&self, guest: &Guest) -> Result<u64> {
        self.call("pve.fsfreeze_freeze", &guest.vmid.to_string())?;
        let mut w = self.world();
        if w.agent_dead {
            return Err(pve_error(
                "/agent/fsfreeze-freeze",
                "QEMU guest agent is not running",
            ));
        }
        if w.freeze_fails_for == Some(guest.vmid) {
            return Err(pve_error(
                "/agent/fsfreeze-freeze",
                "guest-fsfreeze-freeze failed",
            ));
        }
        w.frozen.insert(guest.vmid);
        Ok(2)
    }

    fn fsfreeze_thaw(&self, guest: &Guest) -> Result<u64> {
        self.call("pve.fsfreeze_thaw", &guest.vmid.to_string())?;
        self.world().frozen.remove(&guest.vmid);
        Ok(2)
    }

    fn fsfreeze_status(&self, guest: &Guest) -> Result<String> {
        self.call("pve.fsfreeze_status", &guest.vmid.to_string())?;
        let w = self.world();
        if w.agent_dead {
            return Err(pve_error(
                "/agent/fsfreeze-status",
                "QEMU guest agent is not running",
            ));
        }
        Ok(if w.frozen.contains(&guest.vmid) {
            "frozen".into()
        } else {
            "thawed".into()
        })
    }

    fn version(&self) -> Result<String> {
        self.call("pve.version", "")?;
        Ok(self.world().pve_version.clone())
    }

    fn create_vm(&self, node: &str, vmid: u32, config: &GuestConfig, wait: Duration) -> Result<()> {
        let _ = wait;
        self.call("pve.create_vm", &format!("{node} {vmid}"))?;
        let mut w = self.world();
        if w.guests.iter().any(|g| g.vmid == vmid) {
            return Err(pve_error(
                "/qemu",
                &format!("unable to create VM {vmid} - VM {vmid} already exists"),
            ));
        }
        w.guests.push(Guest {
            vmid,
            node: node.into(),
            guest_type: crate::pve::GuestType::Qemu,
            name: config.get("name").cloned(),
            status: "stopped".into(),
        });
        w.configs.insert(vmid, config.clone());
        Ok(())
    }

    fn destroy_vm(&self, guest: &Guest, wait: Duration) -> Result<()> {
        let _ = wait;
        self.call("pve.destroy_vm", &guest.vmid.to_string())?;
        let mut w = self.world();
        w.guests.retain(|g| g.vmid != guest.vmid);
        w.configs.remove(&guest.vmid);
        Ok(())
    }

    fn set_config(&self, guest: &Guest, set: &[(String, String)], delete: &[String]) -> Result<()> {
        let summary: Vec<String> = set
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .chain(delete.iter().map(|k| format!("-{k}")))
            .collect();
        self.call(
            "pve.set_config",
            &format!("{} {}", guest.vmid, summary.join(" ")),
        )?;
        let mut w = self.world();
        let config = w.configs.entry(guest.vmid).or_default();
        for (k, v) in set {
            config.insert(k.clone(), v.clone());
        }
        for k in delete {
            config.remove(k);
        }
        Ok(())
    }
}

impl Ontap for Double {
    fn version(&self) -> Result<Option<OntapVersion>> {
        self.call("ontap.version", "")?;
        Ok(self.world().version)
    }

    fn svm_by_lif(&self, ip: &str) -> Result<Option<Svm>> {
        self.call("ontap.svm_by_lif", ip)?;
        let w = self.world();
        if w.lif_forbidden {
            return Err(api(403, "6", "not authorized for that command"));
        }
        Ok(w.lifs.get(ip).cloned())
    }

    fn volumes(&self, filters: &[(&str, &str)]) -> Result<Vec<Volume>> {
        let arg = filters
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        self.call("ontap.volumes", &arg)?;
        let w = self.world();
        Ok(w.volumes
            .iter()
            .filter(|v| {
                filters.iter().all(|(k, want)| match *k {
                    "name" => v.name == *want,
                    "svm.name" => v.svm_name == *want,
                    "nas.path" => v
                        .nas_path
                        .as_deref()
                        .is_some_and(|p| p.eq_ignore_ascii_case(want)),
                    "clone.parent_volume.name" => v.parent_volume.as_deref() == Some(*want),
                    other => panic!("double ONTAP: unknown volume filter {other}"),
                })
            })
            .cloned()
            .collect())
    }

    fn volume(&self, uuid: &str) -> Result<Volume> {
        self.call("ontap.volume", uuid)?;
        self.world().volume_by_uuid(uuid).cloned()
    }

    fn snapshots(&self, volume_uuid: &str) -> Result<Vec<Snapshot>> {
        self.call("ontap.snapshots", volume_uuid)?;
        let w = self.world();
        w.volume_by_uuid(volume_uuid)?;
        Ok(w.snapshots.get(volume_uuid).cloned().unwrap_or_default())
    }

    /// As a listing of every snapshot, then a lookup by name.
    fn snapshot(&self, volume_uuid: &str, name: &str) -> Result<Snapshot> {
        self.snapshots(volume_uuid)?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::NotFound {
                what: format!("snapshot '{name}' of ONTAP volume {volume_uuid}"),
            })
    }

    fn create_snapshot(&self, volume_uuid: &str, spec: &NewSnapshot) -> Result<Snapshot> {
        self.call("ontap.create_snapshot", &spec.name)?;
        let mut w = self.world();
        w.volume_by_uuid(volume_uuid)?;
        let existing = w.snapshots.get(volume_uuid).cloned().unwrap_or_default();
        if existing.iter().any(|s| s.name == spec.name) {
            return Err(api(
                409,
                "525059",
                "A snapshot with the specified name already exists.",
            ));
        }
        if existing.len() >= 1023 {
            return Err(api(
                400,
                "525062",
                "Cannot exceed maximum number of snapshots.",
            ));
        }
        let snap = Snapshot {
            name: spec.name.clone(),
            uuid: w.uuid(),
            create_time: iso8601(OffsetDateTime::now_utc()),
            comment: spec.comment.clone(),
            snapmirror_label: spec.snapmirror_label.clone(),
            expiry_time: spec.expiry_time.clone(),
            snaplock_expiry_time: spec.snaplock_expiry_time.clone(),
            owners: Vec::new(),
            size: Some(0),
        };
        w.snapshots
            .entry(volume_uuid.to_string())
            .or_default()
            .push(snap.clone());
        Ok(snap)
    }

    /// With `bulk_deletes`: every name tried as `delete_snapshot` would, each one reported.
    fn delete_snapshots(
        &self,
        volume_uuid: &str,
        batch: &SnapshotBatch,
    ) -> Result<Option<SnapshotDeletes>> {
        self.call("ontap.delete_snapshots", &batch.names.join(","))?;
        if !self.world().bulk_deletes {
            return Ok(None);
        }
        let mut out = SnapshotDeletes::default();
        for name in &batch.names {
            let uuid = self
                .world()
                .snapshots
                .get(volume_uuid)
                .and_then(|v| v.iter().find(|s| &s.name == name))
                .map(|s| s.uuid.clone());
            match uuid.map(|u| self.remove_snapshot(volume_uuid, &u)) {
                Some(Ok(())) | None => out.deleted.push(name.clone()),
                Some(Err(e)) => out.failed.push((name.clone(), e.to_string())),
            }
        }
        Ok(Some(out))
    }

    fn delete_snapshot(&self, volume_uuid: &str, snapshot_uuid: &str) -> Result<()> {
        self.call("ontap.delete_snapshot", snapshot_uuid)?;
        self.remove_snapshot(volume_uuid, snapshot_uuid)
    }

    fn restore_volume(&self, volume_uuid: &str, snapshot_name: &str) -> Result<()> {
        self.call("ontap.restore_volume", snapshot_name)?;
        let mut w = self.world();
        let snaps = w.snapshots.entry(volume_uuid.to_string()).or_default();
        let Some(i) = snaps.iter().position(|s| s.name == snapshot_name) else {
            return Err(api(404, "1638600", "The snapshot does not exist."));
        };
        // Volume SnapRestore discards every newer snapshot.
        snaps.truncate(i + 1);
        Ok(())
    }

    fn restore_volume_forced(&self, svm: &str, volume_name: &str, snapshot: &str) -> Result<()> {
        self.call("ontap.restore_volume_forced", snapshot)?;
        let mut w = self.world();
        let uuid = w
            .volumes
            .iter()
            .find(|v| v.name == volume_name && v.svm_name == svm)
            .map(|v| v.uuid.clone())
            .ok_or_else(|| api(404, "4", "entry doesn't exist"))?;
        let snaps = w.snapshots.entry(uuid).or_default();
        let Some(i) = snaps.iter().position(|s| s.name == snapshot) else {
            return Err(api(404, "1638600", "The snapshot does not exist."));
        };
        // The CLI's forced SnapRestore discards every newer snapshot too.
        snaps.truncate(i + 1);
        Ok(())
    }

    fn create_flexclone(&self, clone: &NewFlexClone) -> Result<Volume> {
        self.call("ontap.create_flexclone", &clone.name)?;
        let mut w = self.world();
        if w.volumes.iter().any(|v| v.name == clone.name) {
            return Err(api(409, "917526", "duplicate volume name"));
        }
        let parent = w
            .volumes
            .iter()
            .find(|v| v.name == clone.parent_volume && v.svm_name == clone.svm_name)
            .cloned()
            .ok_or_else(|| api(404, "524601", "Parent volume not found"))?;
        let policy = if w.clone_inherits_policy {
            clone.export_policy.clone()
        } else {
            Some("default".into())
        };
        let v = Volume {
            name: clone.name.clone(),
            uuid: w.uuid(),
            svm_name: clone.svm_name.clone(),
            svm_uuid: parent.svm_uuid.clone(),
            nas_path: Some(clone.nas_path.clone()),
            export_policy: policy,
            is_flexclone: true,
            parent_volume: Some(parent.name.clone()),
            parent_snapshot: Some(clone.parent_snapshot.clone()),
            state: Some("online".into()),
            ..Default::default()
        };
        w.volumes.push(v.clone());
        Ok(v)
    }

    fn set_export_policy(&self, volume_uuid: &str, policy: &str) -> Result<()> {
        self.call("ontap.set_export_policy", policy)?;
        let mut w = self.world();
        if let Some(v) = w.volumes.iter_mut().find(|v| v.uuid == volume_uuid) {
            v.export_policy = Some(policy.into());
        }
        Ok(())
    }

    fn unmount_volume(&self, volume_uuid: &str) -> Result<()> {
        self.call("ontap.unmount_volume", volume_uuid)?;
        let mut w = self.world();
        if let Some(v) = w.volumes.iter_mut().find(|v| v.uuid == volume_uuid) {
            v.nas_path = None;
        }
        Ok(())
    }

    fn delete_volume(&self, volume_uuid: &str, force: bool) -> Result<()> {
        self.call(
            "ontap.delete_volume",
            &format!("{volume_uuid} force={force}"),
        )?;
        let mut w = self.world();
        let name = w.volume_by_uuid(volume_uuid)?.name.clone();
        if w.volumes
            .iter()
            .any(|v| v.parent_volume.as_deref() == Some(name.as_str()))
        {
            return Err(api(409, "524615", "volume has clones"));
        }
        w.volumes.retain(|v| v.uuid != volume_uuid);
        Ok(())
    }

    /// The double answers as a client that cannot purge the recovery queue (as below ONTAP 9.12
    /// without the private CLI passthrough): the caller then tells the user how to do it.
    fn purge_recovery_queue(&self, svm: &str, volume_name: &str) -> Result<bool> {
        self.call(
            "ontap.purge_recovery_queue",
            &format!("{svm} {volume_name}"),
        )?;
        Ok(false)
    }

    fn clone_file(
        &self,
        volume: &Volume,
        source: &str,
        destination: &str,
        overwrite: bool,
    ) -> Result<()> {
        self.call("ontap.clone_file", &format!("{source} -> {destination}"))?;
        let (signal, gate, panics, waits_for, fail) = {
            let w = self.world();
            (
                w.signal_on_clone.clone(),
                w.gate,
                w.clone_panics,
                w.clone_waits_for.clone(),
                w.fail_clone.clone(),
            )
        };
        if let Some(flag) = signal {
            flag.store(true, Ordering::SeqCst);
        }
        if let Some(expected) = gate {
            self.pass_gate(expected);
        }
        assert!(!panics, "clone_file panicked on purpose");
        if let Some(entry) = waits_for {
            assert!(self.0.log.wait_for(&entry), "'{entry}' never happened");
        }
        if fail.is_some_and(|f| destination.contains(&f)) {
            return Err(job_error("Clone start failed."));
        }
        let mut w = self.world();
        let vol = w.files.entry(volume.uuid.clone()).or_default();
        let size = *vol
            .get(source)
            .ok_or_else(|| job_error("Failed to get the file handle."))?;
        if vol.contains_key(destination) && !overwrite {
            return Err(job_error("destination exists"));
        }
        vol.insert(destination.into(), size);
        Ok(())
    }

    fn list_dir(&self, volume_uuid: &str, path: &str) -> Result<Vec<FileInfo>> {
        self.call("ontap.list_dir", &format!("{volume_uuid} {path}"))?;
        let w = self.world();
        let prefix = format!("{path}/");
        let out: Vec<FileInfo> = w
            .files
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

    fn write_file(&self, volume_uuid: &str, path: &str, data: &[u8]) -> Result<()> {
        self.call("ontap.write_file", path)?;
        let mut w = self.world();
        let key = (volume_uuid.to_string(), path.to_string());
        // Written from the start: a longer old file keeps its tail, as on ONTAP.
        let mut bytes = w.file_data.remove(&key).unwrap_or_default();
        if bytes.len() < data.len() {
            bytes.resize(data.len(), 0);
        }
        bytes[..data.len()].copy_from_slice(data);
        let size = bytes.len() as u64;
        w.file_data.insert(key, bytes);
        w.files
            .entry(volume_uuid.into())
            .or_default()
            .insert(path.into(), size);
        Ok(())
    }

    fn read_file(&self, volume_uuid: &str, path: &str, max: usize) -> Result<Vec<u8>> {
        self.call("ontap.read_file", path)?;
        let w = self.world();
        match w
            .file_data
            .get(&(volume_uuid.to_string(), path.to_string()))
        {
            Some(bytes) => Ok(bytes.iter().take(max).copied().collect()),
            None => Err(Error::NotFound {
                what: format!("file '{path}' on volume {volume_uuid}"),
            }),
        }
    }

    fn create_directory(&self, volume_uuid: &str, path: &str) -> Result<()> {
        self.call("ontap.create_directory", &format!("{volume_uuid} {path}"))?;
        Ok(())
    }

    fn delete_file(&self, volume_uuid: &str, path: &str) -> Result<()> {
        self.call("ontap.delete_file", path)?;
        let mut w = self.world();
        w.file_data
            .remove(&(volume_uuid.to_string(), path.to_string()));
        match w.files.get_mut(volume_uuid).and_then(|v| v.remove(path)) {
            Some(_) => Ok(()),
            None => Err(Error::NotFound {
                what: format!("file '{path}' on volume {volume_uuid}"),
            }),
        }
    }
}
