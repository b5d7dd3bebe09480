//! What a storage holds: its files (for nfs, read from the ONTAP export through `Exports`), their
//! usage, and the volumes Proxmox's scanners make of them (`volume_list` of pve-storage).

use serde_json::{json, Value};

use super::exports::Exports;
use super::scenario::GuestType;
use super::state::{PveState, Storage};
use super::volumes::{content_subdir, image_format, parse_name_dir};

/// The files of a storage as (path relative to the storage path, size); nfs content comes from
/// the ONTAP export. Err: the storage cannot be activated (mount error).
pub(crate) fn storage_files(
    exports: &dyn Exports,
    storage: &Storage,
) -> Result<Vec<(String, u64)>, String> {
    if storage.storage_type != "nfs" {
        return Ok(storage
            .files
            .iter()
            .map(|f| (f.path.clone(), f.size))
            .collect());
    }
    let server = storage.option("server").unwrap_or_default();
    let export = storage.option("export").unwrap_or_default();
    exports
        .exported_files(&server, &export)
        .map(|files| files.into_iter().map(|f| (f.path, f.size)).collect())
        .ok_or_else(|| {
            format!(
                "mount error: mount.nfs: mounting {server}:{export} failed, reason given by \
                 server: No such file or directory\n"
            )
        })
}

/// (used, total) bytes of an active storage; None when it cannot be activated.
pub(crate) fn usage(exports: &dyn Exports, storage: &Storage) -> Option<(u64, u64)> {
    let files = storage_files(exports, storage).ok()?;
    let used: u64 = files.iter().map(|(_, size)| size).sum();
    Some((used, storage.total.max(used)))
}

/// `volume_list`: every volume of the storage the image/template scanners see, sorted by volid.
pub(crate) fn volumes(
    state: &PveState,
    exports: &dyn Exports,
    storage: &Storage,
    vmid: Option<u32>,
    content: Option<&str>,
) -> Result<Vec<Value>, String> {
    let configured = storage.content();
    let wanted: Vec<&str> = [
        "rootdir", "images", "vztmpl", "iso", "backup", "snippets", "import",
    ]
    .into_iter()
    .filter(|ct| content.is_none_or(|c| c == *ct))
    .filter(|ct| configured.iter().any(|c| c == ct))
    .collect();
    let files = storage_files(exports, storage)?;
    let owner_type = |owner: u32| match state.guests.get(&owner).map(|g| g.guest_type) {
        Some(GuestType::Lxc) => "rootdir",
        _ => "images",
    };
    let lvm = matches!(
        storage.storage_type.as_str(),
        "lvm" | "lvmthin" | "zfspool" | "rbd"
    );
    let mut out = Vec::new();
    for (path, size) in files {
        let item = if lvm {
            lvm_volume(&storage.id, &path, size)
        } else {
            file_volume(storage, &path, size)
        };
        let Some(mut item) = item else { continue };
        let owner = item.get("vmid").and_then(Value::as_u64);
        let mut ct = item["content"].as_str().unwrap_or("").to_string();
        if let (Some(wanted_vmid), Some(owner)) = (vmid, owner) {
            if u64::from(wanted_vmid) != owner {
                continue;
            }
        }
        if vmid.is_some() && matches!(ct.as_str(), "iso" | "vztmpl") {
            continue;
        }
        if ct == "images" {
            // Volumes of containers are `rootdir` content.
            ct = owner_type(owner.unwrap_or(0) as u32).to_string();
        }
        if !wanted.contains(&ct.as_str()) {
            continue;
        }
        item["content"] = json!(ct);
        out.push(item);
    }
    out.sort_by_key(|v| v["volid"].as_str().unwrap_or("").to_lowercase());
    Ok(out)
}

/// A file below a dir/nfs storage path as a volume (None: the scanners skip it).
fn file_volume(storage: &Storage, path: &str, size: u64) -> Option<Value> {
    let sid = &storage.id;
    let options = &storage.options;
    let (dir, name) = path.rsplit_once('/')?;
    if name.starts_with('.') || name.is_empty() {
        return None;
    }
    let images = content_subdir(options, "images");
    if let Some(owner) = dir
        .strip_prefix(images.as_str())
        .and_then(|r| r.strip_prefix('/'))
    {
        let is_owner = owner.len() >= 2 && owner.bytes().all(|b| b.is_ascii_digit());
        if !is_owner {
            return None;
        }
        let format = image_format(name)?;
        parse_name_dir(name).ok()?;
        let owner_id: u64 = owner.parse().ok()?;
        return Some(json!({
            "volid": format!("{sid}:{owner}/{name}"),
            "content": "images",
            "format": format,
            "size": size,
            "used": size,
            "vmid": owner_id,
        }));
    }
    let lower = name.to_ascii_lowercase();
    if dir == content_subdir(options, "iso") && (lower.ends_with(".iso") || lower.ends_with(".img"))
    {
        return Some(json!({
            "volid": format!("{sid}:iso/{name}"), "content": "iso", "format": "iso", "size": size,
        }));
    }
    if dir == content_subdir(options, "vztmpl") {
        let format = [("tar.gz", "tgz"), ("tar.xz", "txz"), ("tar.zst", "tzst")]
            .into_iter()
            .find(|(ext, _)| name.ends_with(&format!(".{ext}")))
            .map(|(_, f)| f)?;
        return Some(json!({
            "volid": format!("{sid}:vztmpl/{name}"), "content": "vztmpl", "format": format,
            "size": size,
        }));
    }
    if dir == content_subdir(options, "backup") {
        let rest = name.strip_prefix("vzdump-")?;
        let (subtype, rest) = rest.split_once('-')?;
        let owner: u64 = rest.split('-').next()?.parse().ok()?;
        let format = name.split_once('.').map(|(_, ext)| ext).unwrap_or("");
        return Some(json!({
            "volid": format!("{sid}:backup/{name}"), "content": "backup", "format": format,
            "size": size, "vmid": owner, "subtype": subtype,
        }));
    }
    if dir == content_subdir(options, "snippets") {
        return Some(json!({
            "volid": format!("{sid}:snippets/{name}"), "content": "snippets",
            "format": "snippet", "size": size,
        }));
    }
    None
}

/// An LVM-style volume name `vm-<vmid>-...` as a volume.
fn lvm_volume(sid: &str, name: &str, size: u64) -> Option<Value> {
    let rest = name
        .strip_prefix("vm-")
        .or_else(|| name.strip_prefix("base-"))?;
    let owner: u64 = rest.split('-').next()?.parse().ok()?;
    Some(json!({
        "volid": format!("{sid}:{name}"), "content": "images", "format": "raw", "size": size,
        "used": size, "vmid": owner,
    }))
}
