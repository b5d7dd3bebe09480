//! Guest config → disks: Proxmox property strings, the disk keys of QEMU and LXC, volume ids and the
//! image file behind a volume on a dir/nfs storage (the rules of pve-storage `PVE/Storage.pm`
//! `parse_volume_id` and `PVE/Storage/Plugin.pm`, and of qemu-server/pve-container disk keys).

use crate::error::Result;
use crate::ops::Backends;
use crate::pve::{GuestConfig, GuestType};

/// A Proxmox property string (`ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G`) taken apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PropertyString {
    /// The default key: the first element without `=`, or an explicit `file=` / `volume=`.
    pub file: Option<String>,
    /// Every other `key=value` element, in order.
    pub props: Vec<(String, String)>,
}

impl PropertyString {
    /// Split at commas (Proxmox has no quoting); elements without `=` after the first are ignored.
    pub fn parse(value: &str) -> PropertyString {
        let mut out = PropertyString::default();
        for element in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match element.split_once('=') {
                Some(("file" | "volume", v)) if out.file.is_none() => {
                    out.file = Some(v.to_string())
                }
                Some((k, v)) => out.props.push((k.to_string(), v.to_string())),
                None if out.file.is_none() => out.file = Some(element.to_string()),
                None => {}
            }
        }
        out
    }

    /// The value of a key (the last one wins, as in Proxmox).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_cdrom(&self) -> bool {
        self.get("media") == Some("cdrom")
    }
}

/// `<storeid>:<volname>`, split at the first colon.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VolumeId {
    pub storage: String,
    pub volname: String,
}

impl VolumeId {
    /// Parse a volume id; None unless the storage id is valid (`^[a-z][a-z0-9\-_.]*[a-z0-9]$`,
    /// any case) and the volume name is not empty.
    pub fn parse(s: &str) -> Option<VolumeId> {
        let (storage, volname) = s.split_once(':')?;
        (crate::model::storage::valid_storage_id(storage) && !volname.is_empty()).then(|| {
            VolumeId {
                storage: storage.to_string(),
                volname: volname.to_string(),
            }
        })
    }

    /// The image file of a dir/nfs volume name: `<vmid>/<file>`, or for a linked clone
    /// `<basevmid>/<basefile>/<vmid>/<file>`; the file lives in `images/<vmid>/`.
    pub fn image_file(&self) -> Option<ImageFile> {
        let parts: Vec<&str> = self.volname.split('/').collect();
        let (owner, file) = match parts.as_slice() {
            [owner, file] => (owner, file),
            [base, base_file, owner, file] if is_vmid(base) && file_name_is_valid(base_file) => {
                (owner, file)
            }
            _ => return None,
        };
        if !is_vmid(owner) || !file_name_is_valid(file) {
            return None;
        }
        Some(ImageFile {
            owner: owner.parse().ok()?,
            file: file.to_string(),
        })
    }
}

impl std::fmt::Display for VolumeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.storage, self.volname)
    }
}

/// Where an image volume's file is: `images/<owner>/<file>` below the storage.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageFile {
    /// The vmid of the directory (Proxmox's owner of the volume).
    pub owner: u32,
    pub file: String,
}

/// One disk of a guest that can be snapshotted: a volume on some storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// Config key: `scsi0`, `efidisk0`, `rootfs`, `mp3`, ...
    pub key: String,
    pub volume: VolumeId,
    /// The `size=` property as written (`32G`), if any.
    pub size: Option<String>,
}

/// A config entry that names a disk but is not a volume the tool could snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub key: String,
    /// The `file`/`volume` value.
    pub volume: String,
    pub reason: String,
}

/// What a guest config holds, as far as disk snapshots care.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GuestDisks {
    /// Disks in key order (`disk_key_order`).
    pub disks: Vec<Disk>,
    /// Disk keys whose value is a host path or not a volume id: never snapshotted, reported.
    pub unsupported: Vec<Unsupported>,
    /// `unusedN` volumes (not disks, but their storages may hold older snapshots).
    pub unused: Vec<Disk>,
}

/// Whether `key` is a disk key of this guest type (`unusedN` is not).
pub fn is_disk_key(guest_type: GuestType, key: &str) -> bool {
    match guest_type {
        GuestType::Qemu => {
            numbered(key, "ide", 3)
                || numbered(key, "sata", 5)
                || numbered(key, "scsi", 30)
                || numbered(key, "virtio", 15)
                || key == "efidisk0"
                || key == "tpmstate0"
        }
        GuestType::Lxc => key == "rootfs" || numbered(key, "mp", 255),
    }
}

/// `unused0` … `unused255`.
pub fn is_unused_key(key: &str) -> bool {
    numbered(key, "unused", 255)
}

/// Cloud-init drive files: `[:/](?:vm-\d+-)?cloudinit(\.(raw|qcow|qcow2|qed|vmdk|cloop))?$`.
pub fn is_cloudinit(file: &str) -> bool {
    let Some(pos) = file.rfind(['/', ':']) else {
        return false;
    };
    let mut name = &file[pos + 1..];
    for ext in [".raw", ".qcow2", ".qcow", ".qed", ".vmdk", ".cloop"] {
        if let Some(stem) = name.strip_suffix(ext) {
            name = stem;
            break;
        }
    }
    let name = match name.strip_prefix("vm-") {
        Some(rest) => match rest.split_once('-') {
            Some((id, rest)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => rest,
            _ => name,
        },
        None => name,
    };
    name == "cloudinit"
}

/// Storage ids of the guest's attached disks (not unused disks, not CD-ROMs), without duplicates.
pub fn guest_storages(b: &dyn Backends, vmid: u32) -> Result<Vec<String>> {
    let pve = b.pve()?;
    // A guest Proxmox does not list may exist but be hidden for lack of VM.Audit: say so.
    let guest = pve.guest(vmid).map_err(|e| match e {
        crate::error::Error::NotFound { .. } => crate::pve::unlisted_guest(vmid),
        e => e,
    })?;
    let config = pve.guest_config(&guest)?;
    let mut out: Vec<String> = Vec::new();
    for disk in guest_disks(guest.guest_type, &config).disks {
        if !out.contains(&disk.volume.storage) {
            out.push(disk.volume.storage);
        }
    }
    Ok(out)
}

/// Collect the disks of a guest config. Never included: cdrom drives, `none`/`cdrom` (empty or
/// host drive), cloud-init drives, `vmstate`, and keys that are not disk keys.
pub fn guest_disks(guest_type: GuestType, config: &GuestConfig) -> GuestDisks {
    let mut out = GuestDisks::default();
    for (key, value) in config {
        let unused = is_unused_key(key);
        if !unused && !is_disk_key(guest_type, key) {
            continue;
        }
        let prop = PropertyString::parse(value);
        let Some(file) = prop.file.as_deref() else {
            continue;
        };
        if prop.is_cdrom() || file == "none" || file == "cdrom" || is_cloudinit(file) {
            continue;
        }
        let volume = match VolumeId::parse(file) {
            Some(volume) => volume,
            None if unused => continue,
            None => {
                let reason = if file.starts_with('/') {
                    "a host path (passthrough or bind mount), not a storage volume"
                } else {
                    "not a Proxmox volume id"
                };
                out.unsupported.push(Unsupported {
                    key: key.clone(),
                    volume: file.to_string(),
                    reason: reason.to_string(),
                });
                continue;
            }
        };
        let disk = Disk {
            key: key.clone(),
            volume,
            size: prop.get("size").map(str::to_string),
        };
        if unused {
            out.unused.push(disk);
        } else {
            out.disks.push(disk);
        }
    }
    out.disks
        .sort_by(|a, b| disk_key_order(&a.key).cmp(&disk_key_order(&b.key)));
    out.unused
        .sort_by(|a, b| disk_key_order(&a.key).cmp(&disk_key_order(&b.key)));
    out.unsupported
        .sort_by(|a, b| disk_key_order(&a.key).cmp(&disk_key_order(&b.key)));
    out
}

/// Sort key for config keys: by bus, then number (`scsi2` before `scsi10`).
pub fn disk_key_order(key: &str) -> (u8, &str, u32) {
    let digits = key.len() - key.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (prefix, number) = key.split_at(key.len() - digits);
    let rank = match prefix {
        "rootfs" => 0,
        "mp" => 1,
        "scsi" => 2,
        "virtio" => 3,
        "sata" => 4,
        "ide" => 5,
        "efidisk" => 6,
        "tpmstate" => 7,
        "unused" => 9,
        _ => 8,
    };
    (rank, prefix, number.parse().unwrap_or(0))
}

/// `<prefix><n>` with 0 ≤ n ≤ max and no leading zeros.
fn numbered(key: &str, prefix: &str, max: u32) -> bool {
    key.strip_prefix(prefix).is_some_and(|n| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n == "0" || !n.starts_with('0'))
            && n.parse::<u32>().is_ok_and(|n| n <= max)
    })
}

fn is_vmid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A file name Proxmox can reference: no `/`, no whitespace, not a dot-file.
fn file_name_is_valid(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('.') && !s.contains('/') && !s.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entries: &[(&str, &str)]) -> GuestConfig {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn keys(d: &GuestDisks) -> Vec<&str> {
        d.disks.iter().map(|d| d.key.as_str()).collect()
    }

    #[test]
    fn property_strings() {
        let p = PropertyString::parse("ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G");
        assert_eq!(p.file.as_deref(), Some("ONTAP01:100/vm-100-disk-0.qcow2"));
        assert_eq!(p.get("size"), Some("32G"));
        assert_eq!(p.get("iothread"), Some("1"));
        assert!(!p.is_cdrom());

        let p = PropertyString::parse("media=cdrom,file=local:iso/x.iso");
        assert_eq!(p.file.as_deref(), Some("local:iso/x.iso"));
        assert!(p.is_cdrom());

        let p = PropertyString::parse("volume=ONTAP02:200/vm-200-disk-0.raw,size=8G");
        assert_eq!(p.file.as_deref(), Some("ONTAP02:200/vm-200-disk-0.raw"));

        assert_eq!(PropertyString::parse("").file, None);
        assert_eq!(PropertyString::parse("size=1G").file, None);
        // The last value of a repeated key wins.
        assert_eq!(
            PropertyString::parse("x,size=1G,size=2G").get("size"),
            Some("2G")
        );
        // Spaces around elements do not matter.
        let p = PropertyString::parse(" ONTAP01:100/a.raw , size=1G ");
        assert_eq!(p.file.as_deref(), Some("ONTAP01:100/a.raw"));
    }

    #[test]
    fn volume_ids_split_at_the_first_colon() {
        let v = VolumeId::parse("ONTAP01:100/vm-100-disk-0.qcow2").unwrap();
        assert_eq!(v.storage, "ONTAP01");
        assert_eq!(v.volname, "100/vm-100-disk-0.qcow2");
        let v = VolumeId::parse("nfs-1:100/vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.raw")
            .unwrap();
        assert_eq!(v.storage, "nfs-1");
        assert_eq!(
            v.image_file().unwrap().file,
            "vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.raw"
        );
        assert_eq!(
            v.to_string(),
            "nfs-1:100/vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.raw"
        );
        for bad in [
            "/dev/sdb",
            "none",
            "x:100/a.raw",
            "1a:100/a.raw",
            "ab-:1/a",
            "ab:",
            ":x",
        ] {
            assert_eq!(VolumeId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn image_files_of_plain_and_linked_volumes() {
        let v = VolumeId::parse("S1:100/vm-100-disk-0.qcow2").unwrap();
        assert_eq!(
            v.image_file(),
            Some(ImageFile {
                owner: 100,
                file: "vm-100-disk-0.qcow2".into()
            })
        );
        let v = VolumeId::parse("S1:9000/base-9000-disk-0.qcow2/101/vm-101-disk-0.qcow2").unwrap();
        assert_eq!(
            v.image_file(),
            Some(ImageFile {
                owner: 101,
                file: "vm-101-disk-0.qcow2".into()
            })
        );
        for bad in [
            "S1:vm-101-disk-1",         // lvm-thin style
            "S1:iso/debian.iso",        // not an image
            "S1:100/sub/x.raw",         // three parts
            "S1:100/.hidden.raw",       // dot-file
            "S1:x/9000/base/101/a.raw", // five parts
            "S1:abc/a.raw",             // not a vmid
            "S1:100/",                  // no file
        ] {
            assert_eq!(VolumeId::parse(bad).unwrap().image_file(), None, "{bad}");
        }
    }

    #[test]
    fn disk_keys() {
        for k in [
            "ide0",
            "ide3",
            "sata5",
            "scsi0",
            "scsi30",
            "virtio15",
            "efidisk0",
            "tpmstate0",
        ] {
            assert!(is_disk_key(GuestType::Qemu, k), "{k}");
            assert!(!is_disk_key(GuestType::Lxc, k), "{k}");
        }
        for k in [
            "ide4", "sata6", "scsi31", "virtio16", "efidisk1", "unused0", "scsi01", "scsi",
            "vmstate", "net0", "rootfs", "mp0",
        ] {
            assert!(!is_disk_key(GuestType::Qemu, k), "{k}");
        }
        for k in ["rootfs", "mp0", "mp255"] {
            assert!(is_disk_key(GuestType::Lxc, k), "{k}");
        }
        for k in ["mp256", "unused3", "scsi0", "mp"] {
            assert!(!is_disk_key(GuestType::Lxc, k), "{k}");
        }
        assert!(is_unused_key("unused0") && is_unused_key("unused255"));
        assert!(!is_unused_key("unused256") && !is_unused_key("unused"));
    }

    #[test]
    fn cloudinit_detection() {
        for yes in [
            "ONTAP01:100/vm-100-cloudinit.qcow2",
            "local-lvm:vm-100-cloudinit",
            "S1:100/cloudinit.raw",
            "S1:100/vm-100-cloudinit.vmdk",
        ] {
            assert!(is_cloudinit(yes), "{yes}");
        }
        for no in [
            "ONTAP01:100/vm-100-disk-0.qcow2",
            "S1:100/vm-100-cloudinit-x.qcow2",
            "S1:100/vm-x-cloudinit.qcow2",
            "cloudinit",
            "S1:100/mycloudinit.raw",
        ] {
            assert!(!is_cloudinit(no), "{no}");
        }
    }

    /// VM 100 of the default scenario.
    #[test]
    fn qemu_selection_skips_cdrom_cloudinit_unused() {
        let c = config(&[
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
            ("vmstate", "ONTAP01:100/vm-100-state-x.raw"),
            ("name", "web01"),
            ("boot", "order=scsi0"),
            ("net0", "virtio=BC:24:11:00:01:00,bridge=vmbr0"),
        ]);
        let d = guest_disks(GuestType::Qemu, &c);
        assert_eq!(keys(&d), ["scsi0", "virtio0", "efidisk0", "tpmstate0"]);
        assert_eq!(d.disks[0].size.as_deref(), Some("32G"));
        assert!(d.unsupported.is_empty());
        assert_eq!(d.unused.len(), 1);
        assert_eq!(d.unused[0].volume.volname, "100/vm-100-disk-9.raw");
    }

    #[test]
    fn qemu_selection_reports_host_paths_and_skips_empty_drives() {
        let c = config(&[
            ("sata0", "/dev/disk/by-id/ata-X,size=100G"),
            ("ide1", "none,media=cdrom"),
            ("ide3", "cdrom,media=cdrom"),
            ("scsi1", "local-lvm:vm-101-disk-1,size=4G"),
            ("scsi2", "none"),
            ("scsi10", "ONTAP01:101/vm-101-disk-5.raw"),
            ("virtio1", "ONTAP01:101/vm-101-cloudinit.raw"),
        ]);
        let d = guest_disks(GuestType::Qemu, &c);
        assert_eq!(keys(&d), ["scsi1", "scsi10"]);
        assert_eq!(d.unsupported.len(), 1);
        assert_eq!(d.unsupported[0].key, "sata0");
        assert!(d.unsupported[0].reason.contains("host path"));
    }

    #[test]
    fn lxc_selection() {
        let c = config(&[
            ("rootfs", "ONTAP02:200/vm-200-disk-0.raw,size=8G"),
            ("mp0", "ONTAP01:200/vm-200-disk-1.raw,mp=/data,size=8G"),
            ("mp1", "/srv/share,mp=/share"),
            ("mp2", "volume=ONTAP01:200/vm-200-disk-2.raw,mp=/x"),
            ("scsi0", "ONTAP01:200/ignored.raw"),
            ("hostname", "ct01"),
        ]);
        let d = guest_disks(GuestType::Lxc, &c);
        assert_eq!(keys(&d), ["rootfs", "mp0", "mp2"]);
        assert_eq!(d.unsupported[0].key, "mp1");
    }

    #[test]
    fn key_order_is_natural() {
        let mut k = vec![
            "scsi10", "efidisk0", "scsi2", "virtio0", "ide0", "scsi0", "mp10", "mp9", "rootfs",
        ];
        k.sort_by_key(|k| disk_key_order(k));
        assert_eq!(
            k,
            ["rootfs", "mp9", "mp10", "scsi0", "scsi2", "scsi10", "virtio0", "ide0", "efidisk0"]
        );
    }

    /// Property-style check: every combination of bus, index and decoration selects exactly the
    /// volumes that are disks, and keeps the volume id intact.
    #[test]
    fn selection_over_many_generated_configs() {
        let buses = [("ide", 3u32), ("sata", 5), ("scsi", 30), ("virtio", 15)];
        let decorations = [
            "",
            ",size=1G",
            ",iothread=1,cache=none",
            ",media=disk",
            ",media=cdrom",
        ];
        let files = [
            ("ONTAP01:100/vm-100-disk-7.raw", true),
            (
                "ONTAP01:9000/base-9000-disk-0.qcow2/100/vm-100-disk-8.qcow2",
                true,
            ),
            ("ONTAP01:100/vm-100-cloudinit.qcow2", false),
            ("none", false),
            ("cdrom", false),
        ];
        for (bus, max) in buses {
            for n in [0, max / 2, max, max + 1] {
                let key = format!("{bus}{n}");
                for deco in decorations {
                    for (file, is_disk) in files {
                        for explicit in [false, true] {
                            let value = if explicit {
                                format!("file={file}{deco}")
                            } else {
                                format!("{file}{deco}")
                            };
                            let c = config(&[(key.as_str(), value.as_str())]);
                            let d = guest_disks(GuestType::Qemu, &c);
                            let expect = n <= max && is_disk && deco != ",media=cdrom";
                            assert_eq!(d.disks.len(), usize::from(expect), "{key}: {value}");
                            if expect {
                                assert_eq!(d.disks[0].volume.to_string(), file);
                                assert_eq!(d.disks[0].volume.image_file().unwrap().owner, 100);
                            }
                        }
                    }
                }
            }
        }
    }
}
