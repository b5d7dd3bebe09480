//! The configuration of a guest made from a snapshot (`vm clone`): the source config with its
//! disks pointed at the new files, new MAC addresses and identities, and nothing that would make
//! Proxmox start, replicate or protect the copy on its own.

use std::collections::BTreeMap;

use crate::ops::disks::{is_cloudinit, is_disk_key, is_unused_key, PropertyString, VolumeId};
use crate::pve::{GuestConfig, GuestType};

/// Keys never carried over, and why (shown as notes).
///
/// - `onboot`, `startup`: the copy must not start with the node (issue: "no startup-on-boot").
/// - `lock`, `digest`, `parent`, `snaptime`, `vmstate`, `runningmachine`, `runningcpu`, `meta`,
///   `running-nets-host-mtu`: state of the original; qemu-server's `create_vm` refuses the last
///   ones as unknown parameters (not in `json_config_properties` on create, qemu-server
///   `PVE/API2/Qemu.pm`).
/// - `template`: a copy is a guest, not a template.
/// - `hookscript`: qemu-server lets only root@pam set it (`$check_vm_modify_config_perm`: "only
///   root can set 'hookscript' config"); add it back with `qm set --hookscript` where wanted.
/// - `cipassword`: the API returns it masked (`**********`), so the value is not the password.
const DROPPED: [&str; 15] = [
    "onboot",
    "startup",
    "lock",
    "digest",
    "parent",
    "snaptime",
    "vmstate",
    "runningmachine",
    "runningcpu",
    "meta",
    "running-nets-host-mtu",
    "template",
    "hookscript",
    "cipassword",
    "pending",
];

/// QEMU NIC models (qemu-server `$nic_model_list`); a `netN` value starts with `<model>=<mac>`.
const NIC_MODELS: [&str; 11] = [
    "e1000",
    "e1000-82540em",
    "e1000-82544gc",
    "e1000-82545em",
    "e1000e",
    "i82551",
    "i82557b",
    "i82559er",
    "ne2k_isa",
    "ne2k_pci",
    "pcnet",
];
const NIC_MODELS_MORE: [&str; 3] = ["rtl8139", "virtio", "vmxnet3"];

fn is_nic_model(s: &str) -> bool {
    NIC_MODELS.contains(&s) || NIC_MODELS_MORE.contains(&s)
}

/// The new guest's config and what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConfig {
    pub config: GuestConfig,
    pub notes: Vec<String>,
}

/// Random bytes for MAC addresses and UUIDs.
pub trait Entropy {
    fn fill(&self, out: &mut [u8]);
}

/// The operating system's random source.
pub struct SystemEntropy;

impl Entropy for SystemEntropy {
    fn fill(&self, out: &mut [u8]) {
        use ring::rand::SecureRandom;
        // Only when the OS source fails; then a time-derived value still differs per call.
        if ring::rand::SystemRandom::new().fill(out).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            for (i, b) in out.iter_mut().enumerate() {
                *b = (nanos >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(151);
            }
        }
    }
}

/// A MAC address with Proxmox's default prefix `BC:24:11` (the datacenter `mac_prefix` default,
/// pve-cluster `PVE/DataCenterConfig.pm`), locally random in the last three bytes.
pub fn new_mac(e: &dyn Entropy) -> String {
    let mut b = [0u8; 3];
    e.fill(&mut b);
    format!("BC:24:11:{:02X}:{:02X}:{:02X}", b[0], b[1], b[2])
}

/// A random (version 4) UUID.
pub fn new_uuid(e: &dyn Entropy) -> String {
    let mut b = [0u8; 16];
    e.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[0..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..16].concat()
    )
}

/// `virtio=AA:..,bridge=vmbr0` → the same with a new MAC (a value without one gets one).
fn renew_mac(value: &str, mac: &str) -> String {
    let mut parts: Vec<String> = value.split(',').map(str::to_string).collect();
    let mut done = false;
    for p in parts.iter_mut() {
        match p.split_once('=') {
            Some((k, _)) if is_nic_model(k) || k == "macaddr" => {
                *p = format!("{k}={mac}");
                done = true;
            }
            None if is_nic_model(p) => {
                *p = format!("{p}={mac}");
                done = true;
            }
            _ => {}
        }
    }
    if !done {
        parts.push(format!("macaddr={mac}"));
    }
    parts.join(",")
}

/// `uuid=...,manufacturer=...` → the same with a new `uuid`.
fn renew_smbios_uuid(value: &str, uuid: &str) -> String {
    let mut found = false;
    let mut parts: Vec<String> = value
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with("uuid=") {
                found = true;
                format!("uuid={uuid}")
            } else {
                p.to_string()
            }
        })
        .collect();
    if !found {
        parts.insert(0, format!("uuid={uuid}"));
    }
    parts.join(",")
}

/// Replace the volume of a drive value, keeping its options.
fn with_volume(value: &str, volid: &str) -> String {
    let prop = PropertyString::parse(value);
    let mut parts = vec![volid.to_string()];
    parts.extend(prop.props.iter().map(|(k, v)| format!("{k}={v}")));
    parts.join(",")
}

/// Whose hardware identity (MAC addresses, SMBIOS UUID) the new guest has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// New ones: a copy runs next to the original.
    New,
    /// The source's: a guest that no longer exists comes back as itself (DHCP reservations and
    /// licences keep working). The VM generation id is renewed all the same, which tells the
    /// guest OS it was restored (Windows AD's rollback protection reads it).
    Keep,
}

/// Build the config of guest `new_vmid` from `source`.
///
/// `volumes` maps a disk key to the volume id of its new file; every other disk key with a
/// storage volume is left out (and named in the notes), as are `unusedN` volumes. Cloud-init
/// drives become `<storage>:cloudinit` (Proxmox makes a new one for the new guest). `name` is the
/// new name; by default qemu-server's own clone name `Copy-of-VM-<name>` (`clone_vm`,
/// `PVE/API2/Qemu.pm`).
pub fn build(
    guest_type: GuestType,
    source: &GuestConfig,
    volumes: &BTreeMap<String, String>,
    name: Option<&str>,
    (identity, entropy): (Identity, &dyn Entropy),
) -> NewConfig {
    let keep = identity == Identity::Keep;
    let mut config = GuestConfig::new();
    let mut notes = Vec::new();
    let mut dropped = Vec::new();
    for (key, value) in source {
        if DROPPED.contains(&key.as_str()) {
            dropped.push(key.clone());
            continue;
        }
        if is_unused_key(key) {
            notes.push(format!("{key} ({value}) is not carried over"));
            continue;
        }
        if is_disk_key(guest_type, key) {
            let prop = PropertyString::parse(value);
            let file = prop.file.clone().unwrap_or_default();
            if let Some(volid) = volumes.get(key) {
                config.insert(key.clone(), with_volume(value, volid));
            } else if is_cloudinit(&file) {
                match VolumeId::parse(&file) {
                    Some(v) => {
                        config.insert(
                            key.clone(),
                            with_volume(value, &format!("{}:cloudinit", v.storage)),
                        );
                    }
                    None => notes.push(format!("{key} ({value}) is not carried over")),
                }
            } else if prop.is_cdrom() || file == "none" || file == "cdrom" {
                config.insert(key.clone(), value.clone());
            } else {
                notes.push(format!(
                    "disk {key} ({file}) is not in the snapshot and is left out"
                ));
            }
            continue;
        }
        if guest_type == GuestType::Qemu && is_net_key(key) && !keep {
            config.insert(key.clone(), renew_mac(value, &new_mac(entropy)));
            continue;
        }
        match key.as_str() {
            "smbios1" if !keep => {
                config.insert(key.clone(), renew_smbios_uuid(value, &new_uuid(entropy)));
            }
            // qemu-server makes a new generation id for `vmgenid=1`.
            "vmgenid" => {
                config.insert(key.clone(), "1".into());
            }
            "name" | "hostname" => {}
            _ => {
                config.insert(key.clone(), value.clone());
            }
        }
    }
    let name_key = match guest_type {
        GuestType::Qemu => "name",
        GuestType::Lxc => "hostname",
    };
    let new_name = match (name, source.get(name_key)) {
        (Some(n), _) => Some(n.to_string()),
        (None, Some(old)) => Some(format!("Copy-of-VM-{old}")),
        (None, None) => None,
    };
    if let Some(n) = new_name {
        config.insert(name_key.into(), n);
    }
    if !dropped.is_empty() {
        notes.push(format!("not carried over: {}", dropped.join(", ")));
    }
    NewConfig { config, notes }
}

fn is_net_key(key: &str) -> bool {
    key.strip_prefix("net")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The lowest `unusedN` key the config does not use (Proxmox's `add_unused_volume` order).
pub fn free_unused_key(config: &GuestConfig) -> Option<String> {
    (0..256)
        .map(|n| format!("unused{n}"))
        .find(|k| !config.contains_key(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::sync::atomic::AtomicU8);

    impl Entropy for Counter {
        fn fill(&self, out: &mut [u8]) {
            for b in out {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    fn cfg(entries: &[(&str, &str)]) -> GuestConfig {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn disks_point_at_the_new_files_and_identities_are_new() {
        let source = cfg(&[
            ("name", "web"),
            (
                "scsi0",
                "ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G",
            ),
            ("scsi1", "local-lvm:vm-100-disk-1,size=4G"),
            ("ide2", "ONTAP01:100/vm-100-cloudinit.qcow2,media=cdrom"),
            ("ide0", "none,media=cdrom"),
            ("net0", "virtio=AA:BB:CC:DD:EE:FF,bridge=vmbr0,firewall=1"),
            ("net1", "e1000,bridge=vmbr1"),
            (
                "smbios1",
                "uuid=11111111-2222-3333-4444-555555555555,manufacturer=x",
            ),
            ("vmgenid", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("onboot", "1"),
            ("startup", "order=1"),
            ("lock", "backup"),
            ("unused0", "ONTAP01:100/vm-100-disk-5.raw"),
            ("memory", "2048"),
        ]);
        let volumes: BTreeMap<String, String> = [(
            "scsi0".to_string(),
            "ONTAP01:200/vm-200-disk-0.qcow2".to_string(),
        )]
        .into();
        let e = Counter(0.into());
        let n = build(
            GuestType::Qemu,
            &source,
            &volumes,
            None,
            (Identity::New, &e),
        );
        let c = &n.config;
        assert_eq!(
            c["scsi0"],
            "ONTAP01:200/vm-200-disk-0.qcow2,iothread=1,size=32G"
        );
        assert!(!c.contains_key("scsi1"));
        assert_eq!(c["ide2"], "ONTAP01:cloudinit,media=cdrom");
        assert_eq!(c["ide0"], "none,media=cdrom");
        assert_eq!(
            c["net0"],
            "virtio=BC:24:11:00:01:02,bridge=vmbr0,firewall=1"
        );
        assert_eq!(c["net1"], "e1000=BC:24:11:03:04:05,bridge=vmbr1");
        assert!(c["smbios1"].starts_with("uuid=06070809-0a0b-4c0d-8e0f-101112131415,"));
        assert!(c["smbios1"].ends_with(",manufacturer=x"));
        assert_eq!(c["vmgenid"], "1");
        assert_eq!(c["name"], "Copy-of-VM-web");
        assert_eq!(c["memory"], "2048");
        for k in ["onboot", "startup", "lock", "unused0"] {
            assert!(!c.contains_key(k), "{k}");
        }
        let notes = n.notes.join("\n");
        assert!(
            notes.contains("disk scsi1 (local-lvm:vm-100-disk-1)"),
            "{notes}"
        );
        assert!(notes.contains("unused0"), "{notes}");
        assert!(notes.contains("lock, onboot, startup"), "{notes}");

        let named = build(
            GuestType::Qemu,
            &source,
            &volumes,
            Some("restored"),
            (Identity::New, &e),
        );
        assert_eq!(named.config["name"], "restored");

        // The same guest back: its MAC addresses and SMBIOS UUID, a new generation id.
        let same = build(
            GuestType::Qemu,
            &source,
            &volumes,
            Some("web"),
            (Identity::Keep, &e),
        );
        assert_eq!(same.config["net0"], source["net0"]);
        assert_eq!(same.config["net1"], source["net1"]);
        assert_eq!(same.config["smbios1"], source["smbios1"]);
        assert_eq!(same.config["vmgenid"], "1");
    }

    #[test]
    fn a_nic_without_model_mac_gets_macaddr() {
        assert_eq!(renew_mac("bridge=vmbr0", "M"), "bridge=vmbr0,macaddr=M");
        assert_eq!(
            renew_mac("model=virtio,macaddr=X", "M"),
            "model=virtio,macaddr=M"
        );
    }

    #[test]
    fn first_free_unused_key() {
        let c = cfg(&[("unused0", "a"), ("unused1", "b"), ("unused3", "c")]);
        assert_eq!(free_unused_key(&c).as_deref(), Some("unused2"));
    }
}
