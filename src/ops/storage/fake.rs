//! Test double for `Backends`: an in-memory Proxmox cluster and ONTAP cluster shaped like the
//! simulator's default scenario, with a call log and one-shot injected failures.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::error::{Api, ApiError, Error, Result};
use crate::ontap::{
    NewFlexClone, NewSnapshot, Ontap, OntapVersion, Snapshot, SnapshotBatch, SnapshotDeletes, Svm,
    Volume,
};
use crate::ops::Backends;
use crate::pve::{Guest, GuestConfig, GuestType, NewNfsStorage, Pve, StorageConfig};

use super::iso8601;

pub(crate) struct World {
    pub storages: Vec<StorageConfig>,
    pub guests: Vec<Guest>,
    pub configs: BTreeMap<u32, GuestConfig>,
    /// LIF address → SVM.
    pub lifs: BTreeMap<String, Svm>,
    /// The LIF lookup answers 403.
    pub lif_forbidden: bool,
    pub volumes: Vec<Volume>,
    /// Volume uuid → its snapshots.
    pub snapshots: BTreeMap<String, Vec<Snapshot>>,
    pub version: Option<OntapVersion>,
    /// `delete_snapshots` deletes (ONTAP 9.11.1+); else it answers `None` (one by one).
    pub bulk_deletes: bool,
    /// A new FlexClone gets the parent's export policy (else `default`).
    pub clone_inherits_policy: bool,
    /// Config sections (storage ids `ontap()` knows); None = every storage.
    pub sections: Option<Vec<String>>,
    /// One-shot failures: call name, matching calls to let pass first, the API error.
    pub fail: Vec<(String, usize, ApiError)>,
    /// Every call made, e.g. `ontap.create_snapshot ONTAP01 proxmox_snapshot_...`.
    pub calls: Vec<String>,
    next_uuid: u32,
}

#[derive(Clone)]
pub(crate) struct Fake(Arc<Mutex<World>>);

impl Fake {
    pub fn new() -> Fake {
        Fake(Arc::new(Mutex::new(default_world())))
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Make the next call named `call` fail with this ONTAP/Proxmox error.
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

    pub fn calls(&self) -> Vec<String> {
        self.world().calls.clone()
    }

    /// Calls whose name starts with `prefix` (e.g. `ontap.delete`).
    pub fn calls_to(&self, prefix: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .collect()
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
            owners: Vec::new(),
            size: Some(4096),
        });
    }

    pub fn set_guest_status(&self, vmid: u32, status: &str) {
        let mut w = self.world();
        if let Some(g) = w.guests.iter_mut().find(|g| g.vmid == vmid) {
            g.status = status.into();
        }
    }

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
        let mut w = self.world();
        w.calls.push(format!("{name} {arg}").trim_end().to_string());
        if let Some(i) = w.fail.iter().position(|(c, _, _)| c == name) {
            if w.fail[i].1 > 0 {
                w.fail[i].1 -= 1;
            } else {
                let (_, _, e) = w.fail.remove(i);
                return Err(e.into());
            }
        }
        Ok(())
    }
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

impl Backends for Fake {
    fn pve(&self) -> Result<Arc<dyn Pve>> {
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

impl Pve for Fake {
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

    fn guest_config(&self, guest: &Guest) -> Result<GuestConfig> {
        self.call("pve.guest_config", &guest.vmid.to_string())?;
        Ok(self
            .world()
            .configs
            .get(&guest.vmid)
            .cloned()
            .unwrap_or_default())
    }
}

impl Ontap for Fake {
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
                    other => panic!("fake ONTAP: unknown volume filter {other}"),
                })
            })
            .cloned()
            .collect())
    }

    fn snapshots(&self, volume_uuid: &str) -> Result<Vec<Snapshot>> {
        self.call("ontap.snapshots", volume_uuid)?;
        let w = self.world();
        w.volume_by_uuid(volume_uuid)?;
        Ok(w.snapshots.get(volume_uuid).cloned().unwrap_or_default())
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
            owners: Vec::new(),
            size: Some(0),
        };
        w.snapshots
            .entry(volume_uuid.to_string())
            .or_default()
            .push(snap.clone());
        Ok(snap)
    }

    /// With `bulk_deletes`, tries every name as `delete_snapshot` would and reports each one.
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
}

fn nfs(id: &str, export: &str, options: Option<&str>) -> StorageConfig {
    StorageConfig {
        storage: id.into(),
        storage_type: "nfs".into(),
        server: Some("127.0.10.1".into()),
        export: Some(export.into()),
        path: Some(format!("/mnt/pve/{id}")),
        content: Some("images,rootdir".into()),
        options: options.map(str::to_string),
        ..Default::default()
    }
}

fn volume(name: &str, uuid: &str, svm: &str, junction: &str) -> Volume {
    Volume {
        name: name.into(),
        uuid: uuid.into(),
        svm_name: svm.into(),
        svm_uuid: format!("{svm}-uuid"),
        nas_path: Some(junction.into()),
        export_policy: Some(
            if svm == "svm1" {
                "pve_hosts"
            } else {
                "default"
            }
            .into(),
        ),
        state: Some("online".into()),
        style: Some("flexvol".into()),
        size: Some(1 << 40),
        snapshot_count: Some(0),
        ..Default::default()
    }
}

fn guest(vmid: u32, node: &str, t: GuestType, name: &str, status: &str) -> Guest {
    Guest {
        vmid,
        node: node.into(),
        guest_type: t,
        name: Some(name.into()),
        status: status.into(),
    }
}

fn cfg(pairs: &[(&str, &str)]) -> GuestConfig {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The simulator's default scenario, as far as the storage commands see it.
fn default_world() -> World {
    use GuestType::{Lxc, Qemu};
    let mut lifs = BTreeMap::new();
    for (ip, svm) in [("127.0.10.1", "svm1"), ("127.0.20.1", "svm2")] {
        lifs.insert(
            ip.to_string(),
            Svm {
                name: svm.into(),
                uuid: format!("{svm}-uuid"),
            },
        );
    }
    let mut root = volume("svm1_root", "uuid-root", "svm1", "/");
    root.export_policy = Some("default".into());
    let volumes = vec![
        root,
        volume("ONTAP01", "uuid-ontap01", "svm1", "/ONTAP01"),
        volume("pve_vmstore2", "uuid-vmstore2-svm1", "svm1", "/vmstore2"),
        volume("vmstore2", "uuid-vmstore2-svm2", "svm2", "/vmstore2"),
        volume("pve_nested", "uuid-nested", "svm1", "/nested"),
    ];
    let storages = vec![
        StorageConfig {
            storage: "local".into(),
            storage_type: "dir".into(),
            path: Some("/var/lib/vz".into()),
            ..Default::default()
        },
        StorageConfig {
            storage: "local-lvm".into(),
            storage_type: "lvmthin".into(),
            ..Default::default()
        },
        nfs("ONTAP01", "/ONTAP01", Some("vers=4.2,nconnect=16")),
        nfs("ONTAP02", "/vmstore2", Some("vers=3")),
        nfs("ONTAP03", "/nested/pve", None),
    ];
    let guests = vec![
        guest(100, "pve1", Qemu, "web01", "running"),
        guest(101, "pve1", Qemu, "db01", "running"),
        guest(102, "pve2", Qemu, "stopped01", "stopped"),
        guest(103, "pve2", Qemu, "app01", "running"),
        guest(104, "pve1", Qemu, "noagent01", "running"),
        guest(105, "pve2", Qemu, "nested01", "stopped"),
        guest(200, "pve2", Lxc, "ct01", "running"),
    ];
    let mut configs = BTreeMap::new();
    configs.insert(
        100,
        cfg(&[
            ("agent", "1"),
            (
                "scsi0",
                "ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G",
            ),
            ("virtio0", "ONTAP01:100/vm-100-disk-1.raw,size=8G"),
            ("ide2", "local:iso/debian-13.iso,media=cdrom,size=600M"),
        ]),
    );
    configs.insert(
        101,
        cfg(&[
            ("sata0", "ONTAP01:101/vm-101-disk-0.raw,size=16G"),
            ("scsi1", "local-lvm:vm-101-disk-1,size=4G"),
        ]),
    );
    configs.insert(
        102,
        cfg(&[
            ("agent", "1"),
            ("scsi0", "ONTAP01:102/vm-102-disk-0.qcow2,size=20G"),
        ]),
    );
    configs.insert(
        103,
        cfg(&[
            ("agent", "1"),
            ("scsi0", "ONTAP02:103/vm-103-disk-0.raw,size=10G"),
        ]),
    );
    configs.insert(
        104,
        cfg(&[
            ("agent", "1"),
            ("scsi0", "ONTAP01:104/vm-104-disk-0.raw,size=4G"),
        ]),
    );
    configs.insert(
        105,
        cfg(&[("scsi0", "ONTAP03:105/vm-105-disk-0.raw,size=2G")]),
    );
    configs.insert(
        200,
        cfg(&[
            ("rootfs", "ONTAP02:200/vm-200-disk-0.raw,size=8G"),
            ("mp0", "ONTAP01:200/vm-200-disk-1.raw,mp=/data,size=8G"),
        ]),
    );
    World {
        storages,
        guests,
        configs,
        lifs,
        lif_forbidden: false,
        volumes,
        snapshots: BTreeMap::new(),
        version: Some(OntapVersion::new(9, 14, 1)),
        bulk_deletes: false,
        clone_inherits_policy: true,
        sections: None,
        fail: Vec::new(),
        calls: Vec::new(),
        next_uuid: 0,
    }
}
