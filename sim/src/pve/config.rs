//! Guest config API: `GET .../config` (pending applied unless `current=1`, plus `digest`),
//! `GET .../pending`, and `PUT`/`POST .../config` for `unusedN` keys (pending while running).

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::call::Call;
use super::envelope::{PveError, Reply};
use super::find::{find_guest, guest_type_of};
use super::params::{opt, split_list, Kind, Prop, NODE, VMID};
use super::pending::apply;
use super::scenario::GuestType;
use super::state::PveState;
use super::task::ConfigUpdate;
use super::task::{Action, NewTask};
use super::volumes::{
    config_json_value, drive_file, is_config_key, is_unused_key, parse_file_volname, parse_volid,
    VolName,
};

/// `GET /nodes/{node}/{qemu|lxc}/{vmid}/config`.
pub(crate) fn get(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[
        NODE,
        VMID,
        opt("current", Kind::Bool),
        opt("snapshot", Kind::Str),
    ])?;
    let guest = find_guest(state, call)?;
    if let Some(snap) = call.params.str("snapshot") {
        if call.params.flag("current") {
            return Err(PveError::param(
                "snapshot",
                "parameters 'current' and 'snapshot' are mutually exclusive",
            ));
        }
        return Err(PveError::die(format!("snapshot '{snap}' does not exist")));
    }
    let conf = guest.effective_config(call.params.flag("current"));
    let mut out = Map::new();
    for (k, v) in &conf {
        out.insert(k.clone(), config_json_value(guest.guest_type, k, v));
    }
    out.insert("digest".into(), json!(guest.digest()));
    Ok(Value::Object(out).into())
}

/// `GET /nodes/{node}/{qemu|lxc}/{vmid}/pending`: `[{key, value, pending, delete}]`.
pub(crate) fn pending(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, VMID])?;
    let guest = find_guest(state, call)?;
    let deletes = guest.pending_deletes();
    let mut keys: Vec<&String> = guest.config.keys().collect();
    keys.extend(guest.pending.keys().filter(|k| k.as_str() != "delete"));
    keys.sort();
    keys.dedup();
    let mut list = Vec::new();
    for key in keys {
        let mut entry = json!({"key": key});
        if let Some(v) = guest.config.get(key) {
            entry["value"] = config_json_value(guest.guest_type, key, v);
        }
        if let Some(v) = guest.pending.get(key) {
            entry["pending"] = config_json_value(guest.guest_type, key, v);
        }
        if deletes.contains(key) {
            entry["delete"] = json!(1);
        }
        list.push(entry);
    }
    Ok(Value::Array(list).into())
}

const UPDATE_SCHEMA: [Prop; 7] = [
    NODE,
    VMID,
    opt("delete", Kind::Str),
    opt("digest", Kind::Str),
    opt("skiplock", Kind::Bool),
    opt("revert", Kind::Str),
    opt("force", Kind::Bool),
];

/// `PUT` (sync, `null`) and, for QEMU, `POST` (async, a `qmconfig` UPID) `.../config`.
pub(crate) fn update(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    let guest_type = guest_type_of(call);
    let is_post = call.method == "POST";
    let mut schema = UPDATE_SCHEMA.to_vec();
    if is_post {
        schema.push(opt("background_delay", Kind::Int));
    }
    call.params.check_with(&schema, |name| {
        is_config_key(guest_type, name).then_some(Kind::Str)
    })?;
    let p = &call.params;
    let skiplock = p.flag("skiplock");
    if skiplock && call.user != "root@pam" {
        return Err(PveError::param(
            "skiplock",
            "Only root may use this option.",
        ));
    }
    let guest = find_guest(state, call)?;
    let vmid = guest.vmid;
    let set_keys = p.names_outside(&schema);
    let delete = p.str("delete").map(|d| split_list(&d)).unwrap_or_default();
    if set_keys.is_empty() && delete.is_empty() && p.str("revert").is_none() {
        return Err(PveError::die("no options specified"));
    }
    if let Some(digest) = p.str("digest") {
        if digest != guest.digest() {
            return Err(PveError::die(
                "checksum mismatch (file change by other user?)",
            ));
        }
    }
    if !skiplock {
        guest.check_lock().map_err(PveError::die)?;
    }
    if p.str("revert").is_some() {
        return Err(PveError::unsupported("'revert' of pending changes"));
    }
    let mut update = ConfigUpdate::default();
    for key in &delete {
        let key = key.trim_start_matches('!');
        if !is_unused_key(key) {
            return Err(PveError::unsupported(&format!("deleting '{key}'")));
        }
        update.delete.push(key.to_string());
    }
    let mut errors = std::collections::BTreeMap::new();
    for key in set_keys {
        if !is_unused_key(&key) {
            return Err(PveError::unsupported(&format!(
                "setting '{key}' (only unusedN can be set)"
            )));
        }
        if update.delete.contains(&key) {
            return Err(PveError::die(format!(
                "cannot set and delete property '{key}' at the same time!"
            )));
        }
        let value = p.str(&key).unwrap_or_default();
        match check_unused_volume(state, &value) {
            Ok(volid) => update.set.push((key, volid)),
            Err(CheckError::Param(msg)) => {
                errors.insert(key, msg);
            }
            Err(CheckError::Die(msg)) => return Err(PveError::die(msg)),
        }
    }
    if !errors.is_empty() {
        return Err(PveError::Param(errors));
    }
    check_update_permissions(state, call, guest_type, vmid, &update)?;
    if is_post {
        let upid = state.start_task(
            call,
            NewTask {
                node: &guest_node(state, vmid),
                task_type: "qmconfig",
                id: vmid.to_string(),
                action: Action::Config { vmid, update },
                duration: Duration::from_millis(state.timing.task_ms),
                first_log_line: format!("update VM {vmid}: config"),
            },
        );
        return Ok(json!(upid).into());
    }
    apply(state, vmid, &update).map_err(PveError::die)?;
    Ok(Value::Null.into())
}

/// The checks a config update makes beyond the endpoint's "any VM.Config.*" (root@pam skips
/// them):
/// - QEMU: a deleted `unusedN` needs VM.Config.Disk (qemu-server `src/PVE/API2/Qemu.pm`
///   `$update_vm_api`, delete loop); a set `unusedN` goes through `check_volume_access` for the
///   guest (`$check_storage_access`, qemu-server 9.2.2 and later, taken as every 9.x here).
/// - LXC: `unusedN` falls to VM.Config.Options (pve-container `src/PVE/LXC.pm`
///   `check_ct_modify_config_perm`).
fn check_update_permissions(
    state: &PveState,
    call: &Call,
    guest_type: GuestType,
    vmid: u32,
    update: &ConfigUpdate,
) -> Result<(), PveError> {
    let user = call.user.as_str();
    if user == super::access::ROOT {
        return Ok(());
    }
    let path = format!("/vms/{vmid}");
    match guest_type {
        GuestType::Qemu => {
            if state.major >= 9 {
                for (_, volid) in &update.set {
                    let owner = parse_volid(volid)
                        .and_then(|(_, volname)| parse_file_volname(volname).ok())
                        .and_then(|v| match v {
                            VolName::Image { owner, .. } => Some(owner),
                            VolName::Other { .. } => None,
                        });
                    state.check_volume_access(user, volid, "images", owner, Some(vmid))?;
                }
            }
            if !update.delete.is_empty() {
                state.check(user, &path, &["VM.Config.Disk"])?;
            }
        }
        GuestType::Lxc => {
            if !update.delete.is_empty() || !update.set.is_empty() {
                state.check(user, &path, &["VM.Config.Options"])?;
            }
        }
    }
    Ok(())
}

fn guest_node(state: &PveState, vmid: u32) -> String {
    state
        .guests
        .get(&vmid)
        .map(|g| g.node.clone())
        .unwrap_or_default()
}

enum CheckError {
    Param(String),
    Die(String),
}

/// An `unusedN` value: a volume id (optionally `file=`/`volume=`) of an existing storage whose
/// volume name parses as a disk image.
fn check_unused_volume(state: &PveState, value: &str) -> Result<String, CheckError> {
    let file = drive_file(value).unwrap_or(value);
    let Some((sid, volname)) = parse_volid(file) else {
        return Err(CheckError::Param(format!(
            "invalid format - unable to parse volume ID '{file}'\n"
        )));
    };
    let Some(storage) = state.storage(sid) else {
        return Err(CheckError::Die(format!("storage '{sid}' does not exist\n")));
    };
    if matches!(storage.storage_type.as_str(), "nfs" | "dir" | "cifs") {
        match parse_file_volname(volname) {
            Ok(VolName::Image { .. }) => {}
            Ok(VolName::Other { vtype, .. }) => {
                return Err(CheckError::Param(format!(
                    "invalid volume type '{vtype}' for '{file}', expected 'images'\n"
                )))
            }
            Err(e) => return Err(CheckError::Param(e)),
        }
    }
    Ok(file.to_string())
}
