//! Storage configuration (`/storage`, `/storage/{storage}`: GET, POST for nfs/dir, PUT, DELETE)
//! and per-node storage views (`/nodes/{node}/storage[/{storage}/status|content]`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::call::Call;
use super::content::{storage_files, usage, volumes};
use super::envelope::{PveError, Reply};
use super::exports::Exports;
use super::params::{
    opt, req, verify_content_list, verify_node_list, verify_options, verify_path, verify_server,
    verify_vmid, Kind, Params, Prop, NODE, STORAGE,
};
use super::state::{flag_value, PveState, Storage};

/// Every storage type Proxmox knows (the `type` enum).
const STORAGE_TYPES: &[&str] = &[
    "btrfs",
    "cephfs",
    "cifs",
    "dir",
    "esxi",
    "glusterfs",
    "iscsi",
    "iscsidirect",
    "lvm",
    "lvmthin",
    "nfs",
    "pbs",
    "rbd",
    "zfs",
    "zfspool",
];

/// The storage options the simulator's schema knows (a subset of all plugins' properties).
const OPTIONS: &[Prop] = &[
    opt("path", Kind::Fmt(verify_path)),
    opt("server", Kind::Fmt(verify_server)),
    opt("export", Kind::Fmt(verify_path)),
    opt("content", Kind::Fmt(verify_content_list)),
    opt("options", Kind::Fmt(verify_options)),
    opt("nodes", Kind::Fmt(verify_node_list)),
    opt("disable", Kind::Bool),
    opt("shared", Kind::Bool),
    opt("format", Kind::Enum(&["raw", "qcow2", "vmdk", "subvol"])),
    opt(
        "preallocation",
        Kind::Enum(&["off", "metadata", "falloc", "full"]),
    ),
    opt("content-dirs", Kind::Str),
    opt("create-base-path", Kind::Bool),
    opt("create-subdirs", Kind::Bool),
    opt("mkdir", Kind::Bool),
    opt("bwlimit", Kind::Str),
    opt("prune-backups", Kind::Str),
    opt("max-protected-backups", Kind::Int),
    opt("snapshot-as-volume-chain", Kind::Bool),
    opt("is_mountpoint", Kind::Str),
    opt("vgname", Kind::Str),
    opt("thinpool", Kind::Str),
    opt("saferemove", Kind::Bool),
];

/// Per type: option name → (fixed, optional). Only nfs and dir can be created or changed.
fn type_options(storage_type: &str) -> Option<BTreeMap<&'static str, (bool, bool)>> {
    let common = [
        ("content-dirs", (false, true)),
        ("nodes", (false, true)),
        ("disable", (false, true)),
        ("prune-backups", (false, true)),
        ("max-protected-backups", (false, true)),
        ("content", (false, true)),
        ("format", (false, true)),
        ("mkdir", (false, true)),
        ("create-base-path", (false, true)),
        ("create-subdirs", (false, true)),
        ("bwlimit", (false, true)),
        ("preallocation", (false, true)),
        ("snapshot-as-volume-chain", (true, true)),
        ("path", (true, false)),
    ];
    let mut map: BTreeMap<&'static str, (bool, bool)> = common.into_iter().collect();
    match storage_type {
        "nfs" => {
            map.insert("server", (true, false));
            map.insert("export", (true, false));
            map.insert("options", (false, true));
        }
        "dir" => {
            map.insert("shared", (false, true));
            map.insert("is_mountpoint", (false, true));
        }
        _ => return None,
    }
    Some(map)
}

/// A checked option value as storage.cfg keeps it (booleans and integers as numbers).
fn option_value(params: &Params, name: &str) -> Option<Value> {
    let kind = OPTIONS.iter().find(|p| p.name == name).map(|p| p.kind);
    match kind {
        Some(Kind::Bool) => Some(json!(params.flag(name) as u8)),
        Some(Kind::Int) => params.int(name).map(Value::from),
        _ => params.str(name).map(Value::String),
    }
}

fn with_digest(storage: &Storage, digest: &str) -> Value {
    let mut v = storage.config_json();
    v["digest"] = json!(digest);
    v
}

/// Who may see a storage in the lists (any of them on `/storage/<id>`).
const STORAGE_READ: &[&str] = &["Datastore.Audit", "Datastore.AllocateSpace"];

/// `GET /storage`.
pub(crate) fn index(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params
        .check(&[opt("type", Kind::Enum(STORAGE_TYPES))])?;
    let filter = call.params.str("type");
    let digest = state.storage_digest();
    let list: Vec<Value> = state
        .storages
        .iter()
        .filter(|s| filter.as_ref().is_none_or(|t| &s.storage_type == t))
        // pve-storage `src/PVE/API2/Storage/Config.pm` `index`: Datastore.Audit or
        // Datastore.AllocateSpace on `/storage/<id>`.
        .filter(|s| state.may_any(&call.user, &format!("/storage/{}", s.id), STORAGE_READ))
        .map(|s| with_digest(s, &digest))
        .collect();
    Ok(Value::Array(list).into())
}

/// `GET /storage/{storage}`.
pub(crate) fn read(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[STORAGE])?;
    let id = call.params.str("storage").unwrap_or_default();
    let digest = state.storage_digest();
    let storage = state
        .storage(&id)
        .ok_or_else(|| PveError::die(format!("storage '{id}' does not exist")))?;
    Ok(with_digest(storage, &digest).into())
}

/// `POST /storage`: create an nfs or dir storage; nfs storages are mounted on the answering node
/// right away (a missing export fails the call and nothing is added).
pub(crate) fn create(
    state: &mut PveState,
    exports: &dyn Exports,
    call: &Call,
) -> Result<Reply, PveError> {
    let mut schema = vec![STORAGE, req("type", Kind::Enum(STORAGE_TYPES))];
    schema.extend_from_slice(OPTIONS);
    call.params.check(&schema)?;
    let p = &call.params;
    let id = p.str("storage").unwrap_or_default();
    let storage_type = p.str("type").unwrap_or_default();
    let allowed = type_options(&storage_type).ok_or_else(|| {
        PveError::unsupported(&format!("creating storages of type '{storage_type}'"))
    })?;
    let mut options = BTreeMap::new();
    for name in p.names_outside(&[STORAGE, req("type", Kind::Str)]) {
        // An empty node list means "all nodes".
        if name == "nodes" && p.str("nodes").unwrap_or_default().is_empty() {
            continue;
        }
        if !allowed.contains_key(name.as_str()) {
            return Err(PveError::die(format!("unexpected property '{name}'")));
        }
        if let Some(v) = option_value(p, &name) {
            options.insert(name, v);
        }
    }
    if storage_type == "nfs" && !options.contains_key("path") {
        options.insert("path".into(), json!(format!("/mnt/pve/{id}")));
    }
    for (name, (_, optional)) in &allowed {
        if !optional && !options.contains_key(*name) {
            return Err(PveError::die(format!(
                "missing value for required option '{name}'"
            )));
        }
    }
    if !options.contains_key("content") {
        let default = if storage_type == "nfs" {
            "images"
        } else {
            "images,rootdir"
        };
        options.insert("content".into(), json!(default));
    }
    if storage_type == "nfs" {
        options.insert("shared".into(), json!(1));
    }
    let fail = |msg: String| PveError::die(format!("create storage failed: {msg}"));
    if state.storage(&id).is_some() {
        return Err(fail(format!("storage ID '{id}' already defined")));
    }
    let storage = Storage {
        id: id.clone(),
        storage_type: storage_type.clone(),
        options,
        files: Vec::new(),
        total: 1 << 40,
    };
    // Activate on the node handling the call when the storage is enabled there.
    let local = state.local_node.clone();
    if storage.check_enabled(&local).is_ok() {
        storage_files(exports, &storage).map_err(|e| fail(e.trim_end().to_string()))?;
    }
    state.storages.push(storage);
    Ok(json!({"storage": id, "type": storage_type}).into())
}

/// `PUT /storage/{storage}`: change options (fixed ones refused), `delete` removes options.
pub(crate) fn update(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    let mut schema = vec![STORAGE, opt("delete", Kind::Str), opt("digest", Kind::Str)];
    schema.extend_from_slice(OPTIONS);
    call.params.check(&schema)?;
    let p = &call.params;
    let id = p.str("storage").unwrap_or_default();
    let fail = |msg: String| PveError::die(format!("update storage failed: {msg}"));
    if let Some(digest) = p.str("digest") {
        if digest != state.storage_digest() {
            return Err(fail(
                "detected modified configuration - file changed by other user? Try again.".into(),
            ));
        }
    }
    let storage = state
        .storage(&id)
        .ok_or_else(|| fail(format!("storage '{id}' does not exist")))?;
    let allowed = type_options(&storage.storage_type).ok_or_else(|| {
        PveError::unsupported(&format!(
            "changing storages of type '{}'",
            storage.storage_type
        ))
    })?;
    let mut set = BTreeMap::new();
    for name in p.names_outside(&[STORAGE, opt("delete", Kind::Str), opt("digest", Kind::Str)]) {
        match allowed.get(name.as_str()) {
            Some((true, _)) => {
                return Err(fail(format!(
                    "can't change value of fixed parameter '{name}'"
                )))
            }
            Some(_) => {}
            None => return Err(fail(format!("unexpected property '{name}'"))),
        }
        if let Some(v) = option_value(p, &name) {
            set.insert(name, v);
        }
    }
    let delete = p
        .str("delete")
        .map(|d| super::params::split_list(&d))
        .unwrap_or_default();
    for key in &delete {
        let (fixed, optional) = allowed
            .get(key.as_str())
            .ok_or_else(|| fail(format!("no such option '{key}'")))?;
        if !optional {
            return Err(fail(format!("unable to delete required option '{key}'")));
        }
        if *fixed {
            return Err(fail(format!("unable to delete fixed option '{key}'")));
        }
        if set.contains_key(key) {
            return Err(fail(format!(
                "cannot set and delete property '{key}' at the same time!"
            )));
        }
    }
    let storage_type = storage.storage_type.clone();
    if let Some(storage) = state.storages.iter_mut().find(|s| s.id == id) {
        for key in &delete {
            storage.options.remove(key);
        }
        storage.options.extend(set);
    }
    Ok(json!({"storage": id, "type": storage_type}).into())
}

/// `DELETE /storage/{storage}`: removes the section; nothing is unmounted.
pub(crate) fn delete(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[STORAGE])?;
    let id = call.params.str("storage").unwrap_or_default();
    let before = state.storages.len();
    state.storages.retain(|s| s.id != id);
    if state.storages.len() == before {
        return Err(PveError::die(format!(
            "delete storage failed: storage '{id}' does not exist"
        )));
    }
    Ok(Value::Null.into())
}

fn node_storage<'a>(state: &'a PveState, call: &Call) -> Result<&'a Storage, PveError> {
    let id = call.params.str("storage").unwrap_or_default();
    state
        .storage(&id)
        .ok_or_else(|| PveError::die(format!("storage '{id}' does not exist")))
}

/// `GET /nodes/{node}/storage/{storage}/content`.
pub(crate) fn content(
    state: &mut PveState,
    exports: &dyn Exports,
    call: &Call,
) -> Result<Reply, PveError> {
    call.params.check(&[
        NODE,
        STORAGE,
        opt(
            "content",
            Kind::Enum(&[
                "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import",
            ]),
        ),
        opt("vmid", Kind::Fmt(verify_vmid)),
    ])?;
    let node = call.params.str("node").unwrap_or_default();
    let storage = node_storage(state, call)?;
    storage.check_enabled(&node).map_err(PveError::die)?;
    let vmid = call.params.str("vmid").and_then(|v| v.parse().ok());
    let content = call.params.str("content");
    let list = volumes(state, exports, storage, vmid, content.as_deref()).map_err(PveError::die)?;
    // `src/PVE/API2/Storage/Content.pm` `index`: only volumes `check_volume_access` lets the
    // user see (without a guest, so ownership does not count).
    let list: Vec<Value> = list
        .into_iter()
        .filter(|item| {
            let volid = item["volid"].as_str().unwrap_or_default();
            let vtype = item["content"].as_str().unwrap_or_default();
            let owner = item["vmid"].as_u64().and_then(|o| u32::try_from(o).ok());
            state
                .check_volume_access(&call.user, volid, vtype, owner, None)
                .is_ok()
        })
        .collect();
    Ok(Value::Array(list).into())
}

fn status_json(exports: &dyn Exports, storage: &Storage) -> Value {
    let usage = usage(exports, storage);
    let (used, total) = usage.unwrap_or((0, 0));
    json!({
        "type": storage.storage_type,
        "content": storage.option("content").unwrap_or_else(|| "none".into()),
        "shared": storage.options.get("shared").is_some_and(flag_value) as u8,
        "active": usage.is_some() as u8,
        "enabled": (!storage.disabled()) as u8,
        "total": total,
        "used": used,
        "avail": total - used,
    })
}

/// `GET /nodes/{node}/storage/{storage}/status`.
pub(crate) fn status(
    state: &mut PveState,
    exports: &dyn Exports,
    call: &Call,
) -> Result<Reply, PveError> {
    call.params.check(&[NODE, STORAGE])?;
    let node = call.params.str("node").unwrap_or_default();
    let id = call.params.str("storage").unwrap_or_default();
    let storage = state
        .storage(&id)
        .filter(|s| s.check_enabled(&node).is_ok() || s.disabled())
        .ok_or_else(|| PveError::param("storage", "No such storage."))?;
    Ok(status_json(exports, storage).into())
}

/// `GET /nodes/{node}/storage/{storage}`: the sub-directories.
pub(crate) fn node_index(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, STORAGE])?;
    node_storage(state, call)?;
    let dirs = [
        "content",
        "download-url",
        "file-restore",
        "import-metadata",
        "prunebackups",
        "rrd",
        "rrddata",
        "status",
        "upload",
    ];
    Ok(Value::Array(dirs.iter().map(|d| json!({"subdir": d})).collect()).into())
}

/// `GET /nodes/{node}/storage`: the storages available on the node, with their status.
pub(crate) fn node_list(
    state: &mut PveState,
    exports: &dyn Exports,
    call: &Call,
) -> Result<Reply, PveError> {
    call.params.check(&[
        NODE,
        opt("content", Kind::Fmt(verify_content_list)),
        opt("storage", Kind::Str),
        opt("target", Kind::Str),
        opt("enabled", Kind::Bool),
        opt("format", Kind::Bool),
    ])?;
    let p = &call.params;
    let node = p.str("node").unwrap_or_default();
    let wanted_content = p
        .str("content")
        .map(|c| super::params::split_list(&c))
        .unwrap_or_default();
    let only = p.str("storage");
    let only_enabled = p.flag("enabled");
    let list: Vec<Value> = state
        .storages
        .iter()
        .filter(|s| {
            s.option("nodes")
                .is_none_or(|n| super::params::split_list(&n).contains(&node))
        })
        .filter(|s| only.as_ref().is_none_or(|o| &s.id == o))
        // `src/PVE/API2/Storage/Status.pm` `index`: the same filter as `GET /storage`.
        .filter(|s| state.may_any(&call.user, &format!("/storage/{}", s.id), STORAGE_READ))
        .filter(|s| !only_enabled || !s.disabled())
        .filter(|s| {
            wanted_content.is_empty() || wanted_content.iter().any(|c| s.content().contains(c))
        })
        .map(|s| {
            let mut v = status_json(exports, s);
            v["storage"] = json!(s.id);
            if let (Some(total), Some(used)) = (v["total"].as_u64(), v["used"].as_u64()) {
                if total > 0 {
                    v["used_fraction"] = json!(used as f64 / total as f64);
                }
            }
            v
        })
        .collect();
    Ok(Value::Array(list).into())
}
