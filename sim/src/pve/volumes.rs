//! Volume ids and guest config values: `STORE:volname` parsing, property strings (`file,key=v`),
//! disk keys, the image scanner's file-name rules and where a volume lives below a storage.

use std::collections::BTreeMap;

use serde_json::Value;

use super::params::is_config_id;
use super::scenario::GuestType;

/// Split `STORE:volname` at the first colon (`pve-volume-id`).
pub(crate) fn parse_volid(volid: &str) -> Option<(&str, &str)> {
    let (storage, volname) = volid.split_once(':')?;
    (is_config_id(storage) && !volname.is_empty()).then_some((storage, volname))
}

/// The elements of a property string: the first one without `=` is the default key (`file` for
/// drives, `volume` for container mount points).
pub(crate) fn property_string(value: &str) -> (Option<&str>, BTreeMap<&str, &str>) {
    let mut default = None;
    let mut keys = BTreeMap::new();
    for (i, part) in value.split(',').enumerate() {
        match part.split_once('=') {
            Some((k, v)) => {
                keys.insert(k, v);
            }
            None if i == 0 => default = Some(part),
            None => {}
        }
    }
    (default, keys)
}

/// The volume (or path) a drive/mount point value refers to.
pub(crate) fn drive_file(value: &str) -> Option<&str> {
    let (default, keys) = property_string(value);
    default
        .or_else(|| keys.get("file").copied())
        .or_else(|| keys.get("volume").copied())
}

/// One option of a property string.
pub(crate) fn drive_option<'a>(value: &'a str, key: &str) -> Option<&'a str> {
    property_string(value).1.get(key).copied()
}

fn numbered(key: &str, prefix: &str, max: u32) -> bool {
    key.strip_prefix(prefix)
        .filter(|n| !n.is_empty() && (n.len() == 1 || !n.starts_with('0')))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n <= max)
}

/// `unusedN` (0-255).
pub(crate) fn is_unused_key(key: &str) -> bool {
    numbered(key, "unused", 255)
}

/// A key that attaches a disk: QEMU `ide0-3`, `sata0-5`, `scsi0-30`, `virtio0-15`, `efidisk0`,
/// `tpmstate0`; LXC `rootfs`, `mp0-255`. `unusedN` is not a disk key.
pub(crate) fn is_disk_key(guest_type: GuestType, key: &str) -> bool {
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

/// Whether a config key is known to the simulator's config schema (what a config update may name).
pub(crate) fn is_config_key(guest_type: GuestType, key: &str) -> bool {
    const QEMU: &[&str] = &[
        "name",
        "memory",
        "cores",
        "sockets",
        "vcpus",
        "cpu",
        "ostype",
        "boot",
        "bootdisk",
        "agent",
        "description",
        "onboot",
        "tags",
        "scsihw",
        "machine",
        "bios",
        "balloon",
        "hookscript",
        "vmstate",
        "lock",
        "protection",
        "numa",
        "startup",
        "smbios1",
        "vmgenid",
        "meta",
        "kvm",
        "acpi",
        "tablet",
        "vga",
        "template",
        "cpulimit",
        "cpuunits",
    ];
    const LXC: &[&str] = &[
        "arch",
        "hostname",
        "memory",
        "swap",
        "cores",
        "ostype",
        "unprivileged",
        "description",
        "onboot",
        "tags",
        "hookscript",
        "lock",
        "protection",
        "startup",
        "features",
        "template",
        "cpulimit",
        "cpuunits",
        "nameserver",
        "searchdomain",
        "console",
        "tty",
    ];
    let names = match guest_type {
        GuestType::Qemu => QEMU,
        GuestType::Lxc => LXC,
    };
    names.contains(&key)
        || is_disk_key(guest_type, key)
        || is_unused_key(key)
        || numbered(key, "net", 31)
}

/// Config keys whose values Proxmox returns as JSON numbers (integer/boolean schema types).
pub(crate) fn config_json_value(guest_type: GuestType, key: &str, value: &str) -> Value {
    const QEMU_NUMERIC: &[&str] = &[
        "cores",
        "sockets",
        "vcpus",
        "balloon",
        "onboot",
        "protection",
        "numa",
        "kvm",
        "acpi",
        "tablet",
        "template",
        "cpuunits",
    ];
    const LXC_NUMERIC: &[&str] = &[
        "memory",
        "swap",
        "cores",
        "unprivileged",
        "onboot",
        "protection",
        "template",
        "cpuunits",
        "tty",
    ];
    let numeric = match guest_type {
        GuestType::Qemu => QEMU_NUMERIC,
        GuestType::Lxc => LXC_NUMERIC,
    };
    if numeric.contains(&key) {
        if let Ok(n) = value.parse::<i64>() {
            return Value::from(n);
        }
    }
    Value::String(value.to_string())
}

/// A CD-ROM drive (`media=cdrom`).
pub(crate) fn is_cdrom(value: &str) -> bool {
    drive_option(value, "media") == Some("cdrom")
}

/// A disk image name the image scanner accepts (`parse_name_dir`); returns the format.
pub(crate) fn parse_name_dir(name: &str) -> Result<&'static str, String> {
    let format = image_format(name);
    let bad_chars = name.is_empty() || name.contains('/') || name.chars().any(char::is_whitespace);
    match format {
        Some(_) if name.starts_with("snap-") && name.ends_with(".qcow2") => {
            Err(format!("'{name}' is a snapshot filename, not a volume!\n"))
        }
        Some(fmt) if !bad_chars && name.len() > fmt.len() + 1 => Ok(fmt),
        _ => Err(format!("unable to parse volume filename '{name}'\n")),
    }
}

/// Disk format by extension (`raw`, `qcow2`, `vmdk`).
pub(crate) fn image_format(name: &str) -> Option<&'static str> {
    ["raw", "qcow2", "vmdk"]
        .into_iter()
        .find(|fmt| name.ends_with(&format!(".{fmt}")))
}

/// A parsed volume name of a file-based storage (`parse_volname` of dir/nfs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VolName {
    /// `<vmid>/<file>` or a linked clone `<basevmid>/<basefile>/<vmid>/<file>`.
    Image { owner: u32, name: String },
    /// `iso/x`, `vztmpl/x`, `backup/x`, `snippets/x`, `import/x`.
    Other { vtype: &'static str, name: String },
}

/// `parse_volname` of a file-based storage.
pub(crate) fn parse_file_volname(volname: &str) -> Result<VolName, String> {
    let parts: Vec<&str> = volname.split('/').collect();
    let is_vmid = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let image = match parts.as_slice() {
        [owner, name] if is_vmid(owner) => Some((owner, name)),
        [base, _, owner, name] if is_vmid(base) && is_vmid(owner) => Some((owner, name)),
        _ => None,
    };
    if let Some((owner, name)) = image {
        parse_name_dir(name)?;
        return Ok(VolName::Image {
            owner: owner.parse().map_err(|_| bad_volname(volname))?,
            name: name.to_string(),
        });
    }
    for vtype in ["iso", "vztmpl", "backup", "snippets", "import"] {
        if let Some(name) = volname
            .strip_prefix(vtype)
            .and_then(|r| r.strip_prefix('/'))
        {
            if !name.is_empty() && !name.contains('/') {
                return Ok(VolName::Other {
                    vtype,
                    name: name.to_string(),
                });
            }
        }
    }
    Err(bad_volname(volname))
}

fn bad_volname(volname: &str) -> String {
    format!("unable to parse directory volume name '{volname}'\n")
}

/// The directory (relative to the storage path) holding volumes of `vtype`, honouring
/// `content-dirs` overrides.
pub(crate) fn content_subdir(options: &BTreeMap<String, Value>, vtype: &str) -> String {
    let default = match vtype {
        "images" | "rootdir" => "images",
        "iso" => "template/iso",
        "vztmpl" => "template/cache",
        "backup" => "dump",
        "snippets" => "snippets",
        "import" => "import",
        other => other,
    };
    options
        .get("content-dirs")
        .and_then(Value::as_str)
        .and_then(|dirs| {
            dirs.split(',').find_map(|entry| {
                let (ct, dir) = entry.split_once('=')?;
                (ct == vtype).then(|| dir.trim_matches('/').to_string())
            })
        })
        .unwrap_or_else(|| default.to_string())
}

/// `32G`, `528K`, `4M`, `1T`, `1024` (bytes) → bytes.
pub(crate) fn parse_size(size: &str) -> Option<u64> {
    let size = size.trim_end_matches("iB");
    let (num, unit) = match size.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&size[..i], &size[i..]),
        None => (size, ""),
    };
    let factor: u64 = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    let value: f64 = num.parse().ok()?;
    Some((value * factor as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_keys() {
        assert!(is_disk_key(GuestType::Qemu, "scsi30"));
        assert!(!is_disk_key(GuestType::Qemu, "scsi31"));
        assert!(!is_disk_key(GuestType::Qemu, "unused0"));
        assert!(!is_disk_key(GuestType::Qemu, "scsi01"));
        assert!(is_disk_key(GuestType::Lxc, "mp0"));
        assert!(is_unused_key("unused255"));
        assert!(!is_unused_key("unused256"));
    }

    #[test]
    fn volumes() {
        assert_eq!(
            parse_volid("ONTAP01:100/vm-100-disk-0.qcow2"),
            Some(("ONTAP01", "100/vm-100-disk-0.qcow2"))
        );
        assert_eq!(parse_volid("/dev/sdb"), None);
        assert_eq!(
            parse_file_volname("100/vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.qcow2"),
            Ok(VolName::Image {
                owner: 100,
                name: "vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.qcow2".into()
            })
        );
        assert!(parse_file_volname("100/vm-100-disk-0.qcow2.snap").is_err());
        assert!(parse_file_volname("100/snap-x-vm-100-disk-0.qcow2").is_err());
        assert_eq!(
            parse_file_volname("iso/debian-13.iso"),
            Ok(VolName::Other {
                vtype: "iso",
                name: "debian-13.iso".into()
            })
        );
        assert_eq!(
            drive_file("ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G"),
            Some("ONTAP01:100/vm-100-disk-0.qcow2")
        );
        assert_eq!(
            drive_file("file=ONTAP01:100/x.raw,size=1G"),
            Some("ONTAP01:100/x.raw")
        );
        assert_eq!(parse_size("528K"), Some(528 * 1024));
        assert_eq!(parse_size("32G"), Some(32 << 30));
    }
}
