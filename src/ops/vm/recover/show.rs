//! `vm show-config`: the configuration a snapshot recorded for a guest, read back from the
//! snapshot's copy of the guest's configuration file (one request).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::names as naming;
use crate::ops::manifest::{self, GuestRecord};
use crate::ops::vm::list::Scan;
use crate::ops::vm::recover::{find, gone};
use crate::ops::vm::Ctx;
use crate::ops::Backends;

/// A configuration and where it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShownConfig {
    pub vmid: u32,
    pub snapshot: String,
    /// `storage` or `disk set`.
    pub kind: &'static str,
    /// Storage and volume-relative path of the file read.
    pub storage: String,
    pub path: String,
    /// When the snapshot was taken (disk set time stamp, or ONTAP's creation time).
    pub created: String,
    #[serde(rename = "type")]
    pub guest_type: String,
    pub node: String,
    pub name: Option<String>,
    pub config: std::collections::BTreeMap<String, String>,
}

/// With `storage`, also for a guest that no longer exists (`gone`).
pub(crate) fn run(
    b: &dyn Backends,
    vmid: u32,
    name: &str,
    storage: Option<&str>,
    ctx: &Ctx<'_>,
) -> Result<ShownConfig> {
    let (scan, _) = gone::scan(b, vmid, name, storage, ctx)?;
    read(&scan, name)
}

/// The recorded configuration of the scanned guest in snapshot `name` (a set time stamp or a
/// storage snapshot name).
pub(crate) fn read(scan: &Scan, name: &str) -> Result<ShownConfig> {
    let vmid = scan.target.guest.vmid;
    if naming::parse_timestamp(name).is_some() {
        let set = scan.find(name)?;
        let mut tried = Vec::new();
        for f in &set.files {
            let store = &scan.stores[&f.storage];
            let path = store.volume_path(&manifest::set_path(vmid, &set.timestamp));
            match manifest::read_record(store, &path)? {
                Some(r) => {
                    let at = set.timestamp.clone();
                    return Ok(shown(vmid, name, ("disk set", at), &f.storage, path, r));
                }
                None => tried.push(format!("'{path}' on storage '{}'", f.storage)),
            }
        }
        tried.dedup();
        return Err(Error::NotFound {
            what: format!(
                "configuration recorded with disk set {name} of guest {vmid} (looked for {}; sets \
                 made by other tools or before this version record none)",
                tried.join(", ")
            ),
        });
    }
    let found = find::find(scan, name)?;
    let mut tried = Vec::new();
    for (id, (store, _)) in &found.on {
        let path = manifest::in_snapshot(name, &store.volume_path(&manifest::export_path(vmid)));
        match manifest::read_record(store, &path)? {
            Some(r) => {
                return Ok(shown(
                    vmid,
                    name,
                    ("storage", found.create_time()),
                    id,
                    path,
                    r,
                ))
            }
            None => tried.push(format!("'{path}' on storage '{id}'")),
        }
    }
    Err(Error::NotFound {
        what: format!(
            "configuration of guest {vmid} in snapshot '{name}' (looked for {}; snapshots taken \
             by other tools or before this version record none)",
            tried.join(", ")
        ),
    })
}

fn shown(
    vmid: u32,
    name: &str,
    (kind, created): (&'static str, String),
    storage: &str,
    path: String,
    r: GuestRecord,
) -> ShownConfig {
    ShownConfig {
        vmid,
        snapshot: name.to_string(),
        kind,
        storage: storage.to_string(),
        path,
        created,
        guest_type: r.guest_type,
        node: r.node,
        name: r.name,
        config: r.config,
    }
}
