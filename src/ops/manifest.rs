//! The guest configurations that travel with a storage snapshot: one small JSON file per guest,
//! written into the volume through ONTAP's files API just before the snapshot is taken.
//!
//! Why files in the volume: a guest's configuration lives in pmxcfs (`/etc/pve`), not on the NFS
//! storage, so a volume snapshot alone cannot bring a deleted or changed guest back. A snapshot
//! comment holds at most 255 characters; a catalog on the node is lost with the node and does not
//! follow the snapshot when the volume is replicated. A file inside the volume is captured by the
//! snapshot itself, is replicated with it, and is read back through `.snapshot/<name>/` with one
//! request. One file per guest (`<export>/.pve-ontap-snapshot/guests/<vmid>.json`, rewritten
//! before each snapshot) lets a hook refresh only its own guest: no cluster-wide config read on a
//! hook's path. The directory starts with a dot and lies outside `images/`, so Proxmox's content
//! listing and `qm rescan` never see it. A file holds no time of its own: the same configuration
//! always makes the same bytes, and the snapshot's creation time says when it was taken.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::pve::{Guest, GuestConfig, GuestType};

/// Directory below the export root.
pub const DIR: &str = ".pve-ontap-snapshot/guests";
/// Directory below the export root for the configurations of disk sets.
pub const SETS_DIR: &str = ".pve-ontap-snapshot/sets";
/// Format marker of the files.
pub const FORMAT: &str = "pve-ontap-snapshot guest config 1";
/// Files larger than this are not read back (a guest config is a few KiB; ONTAP's files API
/// writes at most 1 MiB per request).
pub const MAX_BYTES: usize = 1 << 20;

/// One guest's configuration at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestRecord {
    pub format: String,
    pub vmid: u32,
    /// `qemu` or `lxc`.
    #[serde(rename = "type")]
    pub guest_type: String,
    pub node: String,
    pub name: Option<String>,
    /// The configuration as `GET .../config` returned it (secrets come back masked).
    pub config: BTreeMap<String, String>,
}

impl GuestRecord {
    pub fn new(guest: &Guest, config: &GuestConfig) -> GuestRecord {
        let mut config = config.clone();
        config.remove("digest");
        GuestRecord {
            format: FORMAT.into(),
            vmid: guest.vmid,
            guest_type: guest.guest_type.as_str().into(),
            node: guest.node.clone(),
            name: guest.name.clone(),
            config,
        }
    }

    pub fn guest_type(&self) -> Option<GuestType> {
        match self.guest_type.as_str() {
            "qemu" => Some(GuestType::Qemu),
            "lxc" => Some(GuestType::Lxc),
            _ => None,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        // A map of strings always serialises.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Parse a file read back; `what` names it in errors. Only the first JSON value counts: a
    /// rewrite leaves the tail of a longer old file behind it.
    pub fn parse(bytes: &[u8], what: &str) -> Result<GuestRecord> {
        let first = serde_json::Deserializer::from_slice(bytes)
            .into_iter::<GuestRecord>()
            .next();
        let r = match first {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                return Err(Error::Refused(format!(
                    "{what} is not a guest configuration file ({e})"
                )))
            }
            None => {
                return Err(Error::Refused(format!(
                    "{what} is not a guest configuration file (it is empty)"
                )))
            }
        };
        if r.format != FORMAT {
            return Err(Error::Refused(format!(
                "{what} has format '{}', this version reads '{FORMAT}'",
                r.format
            )));
        }
        Ok(r)
    }
}

/// The file of a guest, relative to the export root.
pub fn export_path(vmid: u32) -> String {
    format!("{DIR}/{vmid}.json")
}

/// The configuration recorded with a disk set, relative to the export root (a set lives in the
/// active file system, so its configuration gets a file of its own, deleted with the set).
pub fn set_path(vmid: u32, timestamp: &str) -> String {
    format!("{SETS_DIR}/{vmid}/{timestamp}.json")
}

/// The same file as a snapshot holds it, relative to the volume root (`volume_path` turns an
/// export-relative path into a volume-relative one).
pub fn in_snapshot(snapshot: &str, volume_path: &str) -> String {
    format!(".snapshot/{snapshot}/{volume_path}")
}

/// Which guest configurations a storage snapshot records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    /// Every guest with a disk on the storage; one that cannot be written refuses the snapshot
    /// (`storage create`: the user asked for it).
    All,
    /// Every guest with a disk on the storage; one that cannot be written is a warning
    /// (schedules: a missed snapshot costs more than a missing configuration).
    AllOrWarn,
    /// Only this guest (a hook records the guest it runs for).
    Guest(u32),
    /// None (`--no-configs`).
    Nothing,
}

/// What `write_all` did.
#[derive(Debug, Default)]
pub struct Written {
    /// Volume-relative paths of files that did not exist before (removed again on failure).
    pub new: Vec<String>,
    /// One line per guest whose file could not be written.
    pub failed: Vec<String>,
}

/// Configuration writes in flight at once.
const WRITES: usize = 8;

/// Write each guest's configuration into the volume of `r`: one listing of the directory (to
/// know which files are new), then one write per guest, up to `WRITES` at once (missing
/// directories are made on the way).
pub fn write_all(r: &crate::ops::resolve::Resolved, guests: &[(Guest, GuestConfig)]) -> Written {
    let mut out = Written::default();
    if guests.is_empty() {
        return out;
    }
    let dir = r.volume_path(DIR);
    let existing: Vec<String> = match r.ontap.list_dir(&r.volume.uuid, &dir) {
        Ok(files) => files.into_iter().map(|f| f.name).collect(),
        Err(e) if matches!(e.root(), Error::NotFound { .. }) => Vec::new(),
        Err(e) => {
            out.failed.push(format!("list '{dir}': {e}"));
            return out;
        }
    };
    let results = crate::ops::parallel::map_all(guests, WRITES, |(g, c)| {
        let path = r.volume_path(&export_path(g.vmid));
        let result = r
            .ontap
            .write_file(&r.volume.uuid, &path, &GuestRecord::new(g, c).to_bytes());
        (g.vmid, path, result)
    });
    for (vmid, path, result) in results {
        let name = path.rsplit('/').next().unwrap_or_default().to_string();
        if !existing.contains(&name) {
            // Also when the write failed: its answer may have been lost after the write.
            out.new.push(path);
        }
        if let Err(e) = result {
            out.failed.push(format!("guest {vmid}: {e}"));
        }
    }
    out
}

/// Remove the files `write_all` made new (after a failure); what cannot be removed is logged.
pub fn remove_new(r: &crate::ops::resolve::Resolved, written: &Written) {
    for path in &written.new {
        match r.ontap.delete_file(&r.volume.uuid, path) {
            Err(e) if !matches!(e.root(), Error::NotFound { .. }) => {
                log::warn!("could not remove '{path}' again: {e}");
            }
            _ => {}
        }
    }
}

/// The recorded configuration of a disk set in the making (`SETS_DIR/<vmid>/<timestamp>.json`
/// in the volume of the set's first disk).
pub struct SetRecord<'a> {
    store: &'a crate::ops::resolve::Resolved,
    path: String,
}

impl<'a> SetRecord<'a> {
    /// Write the configuration of the set `timestamp` of `guest` into `store`'s volume: one write
    /// (two more when the directory is new). Made before anything else of the set, like the
    /// configurations of a storage snapshot: no set without its configuration. A failed write
    /// is removed again (its answer may have been lost after the write).
    pub fn write(
        store: &'a crate::ops::resolve::Resolved,
        guest: &Guest,
        config: &GuestConfig,
        timestamp: &str,
    ) -> Result<SetRecord<'a>> {
        let record = SetRecord {
            store,
            path: store.volume_path(&set_path(guest.vmid, timestamp)),
        };
        let bytes = GuestRecord::new(guest, config).to_bytes();
        match store
            .ontap
            .write_file(&store.volume.uuid, &record.path, &bytes)
        {
            Ok(()) => Ok(record),
            Err(e) => {
                record.remove();
                Err(Error::Step {
                    step: format!(
                        "record the configuration of guest {} with disk set {timestamp} in '{}' \
                         on storage '{}' (nothing was cloned)",
                        guest.vmid, record.path, store.storage.storage
                    ),
                    cause: Box::new(e),
                })
            }
        }
    }

    /// Remove the record of a set that was not made; what cannot be removed is logged.
    pub fn remove(&self) {
        match self
            .store
            .ontap
            .delete_file(&self.store.volume.uuid, &self.path)
        {
            Err(e) if !matches!(e.root(), Error::NotFound { .. }) => {
                log::warn!(
                    "could not remove '{}' on storage '{}' again: {e}",
                    self.path,
                    self.store.storage.storage
                );
            }
            _ => {}
        }
    }
}

/// Remove the recorded configuration of a disk set that is gone, from each volume that holds a
/// file of the set (one delete each; a set without one, made before sets recorded it, is fine).
/// Returns what could not be removed.
pub fn remove_set<'a>(
    stores: impl IntoIterator<Item = &'a crate::ops::resolve::Resolved>,
    vmid: u32,
    timestamp: &str,
) -> Vec<String> {
    let mut left = Vec::new();
    for store in stores {
        let path = store.volume_path(&set_path(vmid, timestamp));
        match store.ontap.delete_file(&store.volume.uuid, &path) {
            Err(e) if !matches!(e.root(), Error::NotFound { .. }) => left.push(format!(
                "'{path}' on storage '{}' ({e})",
                store.storage.storage
            )),
            _ => {}
        }
    }
    left
}

/// The record at `path` in `store`'s volume; None when there is none.
pub fn read_record(
    store: &crate::ops::resolve::Resolved,
    path: &str,
) -> Result<Option<GuestRecord>> {
    match store.ontap.read_file(&store.volume.uuid, path, MAX_BYTES) {
        Ok(bytes) => {
            let what = format!(
                "'{path}' on volume '{}' (storage '{}')",
                store.volume.name, store.storage.storage
            );
            GuestRecord::parse(&bytes, &what).map(Some)
        }
        Err(e) if matches!(e.root(), Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(Error::Step {
            step: format!(
                "read '{path}' on volume '{}' (storage '{}')",
                store.volume.name, store.storage.storage
            ),
            cause: Box::new(e),
        }),
    }
}

/// `proxmox`-style config text (`key: value` lines, sorted as `qm config` prints them).
pub fn render(config: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    for (k, v) in config {
        if k == "description" {
            for line in v.lines() {
                out.push_str(&format!("#{line}\n"));
            }
            continue;
        }
        out.push_str(&format!("{k}: {v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guest() -> Guest {
        Guest {
            vmid: 100,
            node: "pve1".into(),
            guest_type: GuestType::Qemu,
            name: Some("web".into()),
            status: "running".into(),
        }
    }

    #[test]
    fn round_trips_and_drops_the_digest() {
        let config: GuestConfig = [
            ("memory".to_string(), "2048".to_string()),
            ("digest".to_string(), "abc".to_string()),
            ("description".to_string(), "line 1\nline 2".to_string()),
        ]
        .into();
        let r = GuestRecord::new(&guest(), &config);
        let back = GuestRecord::parse(&r.to_bytes(), "file x").unwrap();
        assert_eq!(back, r);
        // The tail of a longer old file after the value is ignored.
        let mut longer = r.to_bytes();
        longer.extend_from_slice(b"  \"old\": 1}\n}");
        assert_eq!(GuestRecord::parse(&longer, "file x").unwrap(), r);
        assert!(!back.config.contains_key("digest"));
        assert_eq!(back.guest_type(), Some(GuestType::Qemu));
        assert_eq!(render(&back.config), "#line 1\n#line 2\nmemory: 2048\n");
        assert_eq!(export_path(100), ".pve-ontap-snapshot/guests/100.json");
        assert_eq!(
            in_snapshot("s1", "pve/.pve-ontap-snapshot/guests/100.json"),
            ".snapshot/s1/pve/.pve-ontap-snapshot/guests/100.json"
        );
    }

    #[test]
    fn foreign_files_are_refused_naming_the_file() {
        let e = GuestRecord::parse(b"{}", "file x").unwrap_err();
        assert!(e.to_string().contains("file x"), "{e}");
        let mut r = GuestRecord::new(&guest(), &GuestConfig::new());
        r.format = "other 9".into();
        let e = GuestRecord::parse(&r.to_bytes(), "file y").unwrap_err();
        assert!(e.to_string().contains("format 'other 9'"), "{e}");
    }
}
