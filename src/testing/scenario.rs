//! The worlds the double starts from and the helpers the VM tests share: `storage_world` (the
//! simulator's default scenario as the storage commands see it) and `vm_world` (guests and files).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::Result;
use crate::ontap::{OntapVersion, Svm, Volume};
use crate::ops::resolve::Resolved;
use crate::ops::vm::Ctx;
use crate::ops::Backends;
use crate::pve::{Guest, GuestConfig, GuestStatus, GuestType, StorageConfig};

use super::double::{Double, World};

impl Double {
    /// The simulator's default scenario, as far as the storage commands see it (`storage_world`).
    pub fn new() -> Double {
        Double::with_world(storage_world())
    }

    /// The guests and disk files the VM commands work on (`vm_world`).
    pub fn vm() -> Double {
        Double::with_world(vm_world())
    }
}

fn no_signal() -> Option<String> {
    None
}

/// A context at 2026-05-01 10:20:30 UTC, no signal, resolution by `resolve`, fast polling.
pub fn ctx() -> Ctx<'static> {
    Ctx {
        now: time::macros::datetime!(2026-05-01 10:20:30 UTC),
        interrupt: &no_signal,
        resolve,
        poll: Duration::from_millis(5),
        partial_dir: None,
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

/// Volume uuid of a storage in `vm_world` (the volume name is the storage id, lower case).
pub fn volume_uuid(storage: &str) -> String {
    format!("uuid-{}", storage.to_ascii_lowercase())
}

/// Resolution for `vm_world`: the volume is named after the storage; `ONTAP03` exports `pve`
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

fn vm_nfs(id: &str) -> StorageConfig {
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
pub(crate) fn vm_world() -> World {
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
    let mut chain = vm_nfs("CHAIN");
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
        vm_nfs("ONTAP01"),
        vm_nfs("ONTAP02"),
        vm_nfs("OTHERNAS"),
        chain,
    ];
    let mut world = World {
        guests,
        configs,
        states,
        storages,
        sections: Some(vec!["ONTAP01".into(), "ONTAP02".into(), "CHAIN".into()]),
        ..base_world()
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
        world
            .files
            .entry(vol.clone())
            .or_default()
            .insert(path.into(), size);
    }
    world
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

fn listed_guest(vmid: u32, node: &str, t: GuestType, name: &str, status: &str) -> Guest {
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
pub(crate) fn storage_world() -> World {
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
        listed_guest(100, "pve1", Qemu, "web01", "running"),
        listed_guest(101, "pve1", Qemu, "db01", "running"),
        listed_guest(102, "pve2", Qemu, "stopped01", "stopped"),
        listed_guest(103, "pve2", Qemu, "app01", "running"),
        listed_guest(104, "pve1", Qemu, "noagent01", "running"),
        listed_guest(105, "pve2", Qemu, "nested01", "stopped"),
        listed_guest(200, "pve2", Lxc, "ct01", "running"),
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
        volumes,
        ..base_world()
    }
}

/// What both worlds share: ONTAP 9.14.1, Proxmox VE 9.1.2, clones inherit the export policy.
fn base_world() -> World {
    World {
        version: Some(OntapVersion::new(9, 14, 1)),
        pve_version: "9.1.2".into(),
        clone_inherits_policy: true,
        ..World::default()
    }
}
