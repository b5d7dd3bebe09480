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
//!
//! Ownership (the vmid in the volume name) is only a permission shortcut, not an error, so root
//! may build a VM on another guest's volume (privileges: see sim/README.md).

use std::collections::BTreeMap;
use std::time::Duration;

use super::call::Call;
use super::content::storage_files;
use super::envelope::{PveError, Reply};
use super::exports::Exports;
use super::params::{opt, Kind, NODE, VMID};
use super::scenario::{GuestType, RunStatus};
use super::state::{AgentState, Guest, PveState};
use super::task::{Action, NewTask};
use super::volumes::{
    drive_file, is_cdrom, is_config_key, is_disk_key, parse_file_volname, parse_volid, VolName,
};

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
            errors.insert(
                key.clone(),
                format!("invalid format - unable to parse volume ID '{file}'"),
            );
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

/// `POST /nodes/{node}/qemu`: the checks, then the VMID is taken at once (`lock: create`, as
/// `create_and_lock_config` does) and the `qmcreate` task writes the config or removes it.
pub(crate) fn post(
    state: &mut PveState,
    exports: &dyn Exports,
    call: &Call,
) -> Result<Reply, PveError> {
    let schema = [
        NODE,
        VMID,
        opt("start", Kind::Bool),
        opt("storage", Kind::Str),
        opt("unique", Kind::Bool),
        opt("pool", Kind::Str),
    ];
    call.params
        .check_with(&schema, |name| is_create_key(name).then_some(Kind::Str))?;
    let p = &call.params;
    if p.flag("start") {
        return Err(PveError::unsupported("'start' on create"));
    }
    if p.str("pool").is_some() {
        return Err(PveError::unsupported("'pool' on create"));
    }
    let node = p.str("node").unwrap_or_default();
    let vmid: u32 = p.str("vmid").and_then(|v| v.parse().ok()).ok_or_else(|| {
        PveError::param(
            "vmid",
            "invalid format - value does not look like a valid VM ID",
        )
    })?;
    let config: BTreeMap<String, String> = p
        .names_outside(&schema)
        .into_iter()
        .map(|k| {
            let v = p.str(&k).unwrap_or_default();
            (k, v)
        })
        .collect();
    let exists = |sid: &str, volname: &str| -> bool {
        let Some(storage) = state.storage(sid) else {
            return false;
        };
        let Ok(VolName::Image { owner, name }) = parse_file_volname(volname) else {
            return false;
        };
        let dir = super::volumes::content_subdir(&storage.options, "images");
        let path = format!("{dir}/{owner}/{name}");
        storage_files(exports, storage)
            .map(|files| files.iter().any(|(p, _)| *p == path))
            .unwrap_or(false)
    };
    let plan = plan(state, vmid, config, exists)?;
    let mut placeholder = BTreeMap::new();
    placeholder.insert("lock".to_string(), "create".to_string());
    state.guests.insert(
        vmid,
        Guest {
            vmid,
            guest_type: GuestType::Qemu,
            node: node.clone(),
            run: RunStatus::Stopped,
            config: placeholder,
            pending: BTreeMap::new(),
            agent: AgentState {
                responding: true,
                filesystems: 1,
                frozen: false,
                freeze_delay_ms: 0,
            },
            ignores_shutdown: false,
            pid: None,
            started: None,
            checkpointed: false,
        },
    );
    let upid = state.start_task(
        call,
        NewTask {
            node: &node,
            task_type: "qmcreate",
            id: vmid.to_string(),
            action: Action::Create {
                vmid,
                config: plan.config,
                missing_volume: plan.missing_volume,
            },
            duration: Duration::from_millis(state.timing.task_ms),
            first_log_line: format!("create VM {vmid}"),
        },
    );
    Ok(serde_json::json!(upid).into())
}

/// `DELETE /nodes/{node}/qemu/{vmid}` (qemu-server `destroy_vm`): refused for a running or
/// locked VM (`VM <vmid> is running - destroy failed`, `VM is locked (<lock>)`) or one with
/// `protection` (`can't remove VM <vmid> - protection mode enabled`); else a `qmdestroy` task
/// removes the config. The volumes stay (the simulated Proxmox cannot delete ONTAP files; the
/// tool deletes its own).
pub(crate) fn destroy(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[
        NODE,
        VMID,
        opt("skiplock", Kind::Bool),
        opt("purge", Kind::Bool),
        opt("destroy-unreferenced-disks", Kind::Bool),
    ])?;
    let guest = super::find::find_guest(state, call)?;
    let vmid = guest.vmid;
    if !call.params.flag("skiplock") {
        guest.check_lock().map_err(PveError::die)?;
    }
    if guest.is_running() {
        return Err(PveError::die(format!(
            "VM {vmid} is running - destroy failed"
        )));
    }
    if guest.config.get("protection").map(String::as_str) == Some("1") {
        return Err(PveError::die(format!(
            "can't remove VM {vmid} - protection mode enabled"
        )));
    }
    let node = guest.node.clone();
    let upid = state.start_task(
        call,
        NewTask {
            node: &node,
            task_type: "qmdestroy",
            id: vmid.to_string(),
            action: Action::Destroy { vmid },
            duration: Duration::from_millis(state.timing.task_ms),
            first_log_line: format!("destroy VM {vmid}"),
        },
    );
    Ok(serde_json::json!(upid).into())
}
