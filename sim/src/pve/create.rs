//! `POST /nodes/{node}/qemu` (create a VM), as far as a VM made on existing volumes needs it:
//! the synchronous checks of qemu-server's `create_vm` and the worker's volume check.
//!
//! Source: qemu-server `PVE/API2/Qemu.pm` `create_vm` (9.x, also 8.x):
//! - the schema is closed (`additionalProperties => 0` over `json_config_properties`); config keys
//!   that cannot be set on create (`parent snaptime vmstate runningmachine runningcpu meta
//!   running-nets-host-mtu`) are unknown properties as well (pve-common `JSONSchema.pm` message);
//! - `$check_storage_access` per drive: a volume id must parse (`unable to parse directory volume
//!   name`, pve-storage `Plugin.pm`), its storage must exist (`storage '<s>' does not exist`) and
//!   hold `images`; a `<storage>:cloudinit` or `<storage>:<size>` value allocates a new volume;
//! - `create_and_lock_config` → `PVE::Cluster::check_vmid_unused`: `unable to create VM <vmid> -
//!   VM <vmid> already exists on node '<node>'` (`CT` when a container holds it);
//! - the worker `qmcreate` activates each existing volume; a missing file fails the task with
//!   `unable to create VM <vmid> - volume <volid> does not exist` and the config is removed.
//! Ownership (the vmid in the volume name) is only a permission shortcut, not an error, so root
//! may build a VM on another guest's volume (privileges: see sim/README.md).

use std::collections::BTreeMap;

use super::envelope::PveError;
use super::state::PveState;
use super::volumes::{drive_file, is_cdrom, is_config_key, is_disk_key, parse_file_volname, parse_volid, VolName};
use super::scenario::GuestType;

/// Config keys `create_vm` refuses as unknown.
pub(crate) const NOT_ON_CREATE: [&str; 7] = [
    "parent",
    "snaptime",
    "vmstate",
    "runningmachine",
    "runningcpu",
    "meta",
    "running-nets-host-mtu",
];

/// Parameters of `create_vm` that are not config keys (the ones the simulator accepts).
pub(crate) const CREATE_ONLY: [&str; 4] = ["start", "storage", "unique", "pool"];

/// Whether a parameter name is a config key a new VM may carry.
pub(crate) fn is_create_key(key: &str) -> bool {
    !NOT_ON_CREATE.contains(&key) && is_config_key(GuestType::Qemu, key)
}

/// What the checks found: the config to write and the first volume whose file is missing (the
/// worker fails on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreatePlan {
    pub vmid: u32,
    pub config: BTreeMap<String, String>,
    pub missing_volume: Option<String>,
}

/// The synchronous checks, in qemu-server's order. `file_exists(storage, volname)` says whether
/// an image file is on its storage.
pub(crate) fn plan(
    state: &PveState,
    vmid: u32,
    config: BTreeMap<String, String>,
    file_exists: impl Fn(&str, &str) -> bool,
) -> Result<CreatePlan, PveError> {
    let mut missing_volume = None;
    let mut errors = BTreeMap::new();
    for (key, value) in &config {
        if !is_disk_key(GuestType::Qemu, key) {
            continue;
        }
        let file = drive_file(value).unwrap_or(value);
        if file == "none" || file == "cdrom" || (is_cdrom(value) && !file.contains(':')) {
            continue;
        }
        let Some((sid, volname)) = parse_volid(file) else {
            errors.insert(key.clone(), format!("invalid format - unable to parse volume ID '{file}'"));
            continue;
        };
        let Some(storage) = state.storage(sid) else {
            return Err(PveError::die(format!("storage '{sid}' does not exist")));
        };
        // `<storage>:cloudinit` and `<storage>:<size in GiB>` allocate new volumes.
        if volname == "cloudinit" || volname.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            continue;
        }
        if is_cdrom(value) {
            continue;
        }
        if !storage.content().iter().any(|c| c == "images") {
            return Err(PveError::status(
                400,
                format!("storage '{sid}' does not support vm images"),
            ));
        }
        if matches!(storage.storage_type.as_str(), "nfs" | "dir" | "cifs") {
            match parse_file_volname(volname) {
                Ok(VolName::Image { .. }) => {}
                Ok(VolName::Other { .. }) => {
                    errors.insert(
                        key.clone(),
                        format!("unable to use volume {file} - content type needs to be 'images' or 'iso'"),
                    );
                    continue;
                }
                Err(e) => return Err(PveError::die(e)),
            }
        }
        if missing_volume.is_none() && !file_exists(sid, volname) {
            missing_volume = Some(file.to_string());
        }
    }
    if !errors.is_empty() {
        return Err(PveError::Param(errors));
    }
    if let Some(g) = state.guests.get(&vmid) {
        let kind = match g.guest_type {
            GuestType::Qemu => "VM",
            GuestType::Lxc => "CT",
        };
        return Err(PveError::die(format!(
            "unable to create VM {vmid} - {kind} {vmid} already exists on node '{}'",
            g.node
        )));
    }
    Ok(CreatePlan {
        vmid,
        config,
        missing_volume,
    })
}
