//! `vm list` and the scan the other commands share: every disk snapshot file in the guest's images
//! directories on the ONTAP storages of its disks (one listing per directory), grouped into sets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::model::names;
use crate::ops::disks::disk_key_order;
use crate::ops::resolve::Resolved;
use crate::ops::vm::lookup::{self, sibling_volid, Kind, Target};
use crate::ops::vm::{partial, Ctx, SnapshotDisk, SnapshotSet};
use crate::ops::Backends;

/// Where a disk of the guest (or an `unusedN` volume) is now.
pub(crate) struct Location {
    pub key: String,
    /// Volume id as in the config.
    pub volid: String,
    pub storage: String,
    pub dir: String,
    pub file: String,
    pub unused: bool,
    /// Size of the file now (None: the file is missing).
    pub size: Option<u64>,
}

impl Location {
    pub fn path(&self) -> String {
        format!("{}/{}", self.dir, self.file)
    }
}

/// One snapshot file.
pub(crate) struct FoundFile {
    pub storage: String,
    pub dir: String,
    pub name: String,
    /// The disk file it was cloned from.
    pub source: String,
    /// The config key of that disk, when it is one of the guest's disks (or unused volumes) now.
    pub key: Option<String>,
    pub disk_volid: String,
    pub size: Option<u64>,
    /// The label in its name. Files of one second under different labels share a set (sets are
    /// named by the second); retention and prune go by the label of each file.
    pub label: Option<String>,
}

impl FoundFile {
    pub fn path(&self) -> String {
        format!("{}/{}", self.dir, self.name)
    }

    pub fn volid(&self) -> String {
        sibling_volid(&self.storage, &self.dir, &self.name)
    }

    fn to_disk(&self) -> SnapshotDisk {
        SnapshotDisk {
            key: self.key.clone(),
            storage: self.storage.clone(),
            disk: self.disk_volid.clone(),
            snapshot: self.volid(),
            size: self.size,
        }
    }
}

/// The files with one timestamp.
pub(crate) struct FoundSet {
    pub timestamp: String,
    pub created: Option<OffsetDateTime>,
    pub label: Option<String>,
    pub files: Vec<FoundFile>,
    /// Made by a run that died before it finished (`partial`): not a valid snapshot.
    pub partial: Option<String>,
}

impl FoundSet {
    pub fn to_snapshot_set(&self, vmid: u32) -> SnapshotSet {
        SnapshotSet {
            vmid,
            timestamp: self.timestamp.clone(),
            label: self.label.clone(),
            disks: self.files.iter().map(FoundFile::to_disk).collect(),
            skipped: Vec::new(),
            notes: Vec::new(),
            partial: self.partial.clone(),
        }
    }
}

/// Everything the set commands need, from one round of lookups.
pub(crate) struct Scan {
    pub target: Target,
    pub stores: BTreeMap<String, Resolved>,
    pub locations: Vec<Location>,
    /// Newest first.
    pub sets: Vec<FoundSet>,
    /// Where run records live (see `partial`).
    pub partial_dir: Option<PathBuf>,
}

impl Scan {
    pub fn snapshot_sets(&self) -> Vec<SnapshotSet> {
        let vmid = self.target.guest.vmid;
        self.sets.iter().map(|s| s.to_snapshot_set(vmid)).collect()
    }

    /// `find`, refusing a set a dead run left incomplete (`what` is what would be done with it).
    pub fn find_complete(&self, timestamp: &str, what: &str) -> Result<&FoundSet> {
        let set = self.find(timestamp)?;
        match &set.partial {
            Some(why) => Err(Error::Refused(format!(
                "cannot {what} disk snapshot set '{timestamp}' of guest {}: it is {why}",
                self.target.guest.vmid
            ))),
            None => Ok(set),
        }
    }

    /// The set with this timestamp; `Error::NotFound` naming the guest and timestamp otherwise.
    pub fn find(&self, timestamp: &str) -> Result<&FoundSet> {
        self.sets
            .iter()
            .find(|s| s.timestamp == timestamp)
            .ok_or_else(|| Error::NotFound {
                what: format!(
                    "disk snapshot set '{timestamp}' of guest {} (see 'vm list --vm {}')",
                    self.target.guest.vmid, self.target.guest.vmid
                ),
            })
    }
}

/// A `--snapshot` value must be a set timestamp.
pub(crate) fn check_timestamp(ts: &str) -> Result<()> {
    match names::parse_timestamp(ts) {
        Some(_) => Ok(()),
        None => Err(Error::Usage(format!(
            "invalid snapshot '{ts}': expected a set timestamp like 2024-03-13_14:42:47+0000 \
             (see 'vm list')"
        ))),
    }
}

/// Look up the guest, its ONTAP storages (disks and `unusedN` volumes) and every snapshot file.
pub(crate) fn scan(b: &dyn Backends, vmid: u32, ctx: &Ctx<'_>) -> Result<Scan> {
    let target = lookup::load(b.pve()?.as_ref(), vmid)?;
    scan_target(b, target, ctx)
}

/// `scan` of a guest already looked up (or known from a recorded configuration).
pub(crate) fn scan_target(b: &dyn Backends, target: Target, ctx: &Ctx<'_>) -> Result<Scan> {
    let pve_arc = b.pve()?;
    let pve = pve_arc.as_ref();
    let vmid = target.guest.vmid;
    let volumes: Vec<_> = target
        .disks
        .disks
        .iter()
        .chain(&target.disks.unused)
        .collect();
    let ids: BTreeSet<String> = volumes.iter().map(|d| d.volume.storage.clone()).collect();
    let kinds = lookup::classify(b, pve, &ids)?;
    let ontap_ids: BTreeSet<String> = kinds
        .iter()
        .filter(|(_, k)| matches!(k, Kind::Ontap(_)))
        .map(|(id, _)| id.clone())
        .collect();
    if ontap_ids.is_empty() {
        return Err(Error::Refused(format!(
            "guest {vmid} has no disk on an ONTAP-backed storage"
        )));
    }
    let stores = lookup::resolve_all(b, ctx, &ontap_ids)?;
    let (placed, _) = lookup::place(volumes.iter().copied(), &stores);
    // The guest's own directory on every store, plus the directories its disks are in.
    let mut dirs: Vec<(String, String)> = stores
        .iter()
        .map(|(id, s)| (id.clone(), s.images_dir(vmid)))
        .collect();
    dirs.extend(
        placed
            .iter()
            .map(|p| (p.disk.volume.storage.clone(), p.dir.clone())),
    );
    dirs.sort();
    dirs.dedup();
    let listings = lookup::list_dirs(dirs.iter().map(|(id, dir)| (&stores[id], dir.clone())))?;
    let locations: Vec<Location> = placed
        .iter()
        .map(|p| Location {
            key: p.disk.key.clone(),
            volid: p.disk.volume.to_string(),
            storage: p.disk.volume.storage.clone(),
            dir: p.dir.clone(),
            file: p.file.clone(),
            unused: crate::ops::disks::is_unused_key(&p.disk.key),
            size: listings.find(p.store, &p.dir, &p.file).and_then(|f| f.size),
        })
        .collect();

    let mut by_ts: BTreeMap<String, FoundSet> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (id, dir) in &dirs {
        let store = &stores[id];
        // Two storages on one volume list the same files once.
        if !seen.insert((store.volume.uuid.clone(), dir.clone())) {
            continue;
        }
        for f in listings.get(store, dir) {
            if f.file_type != "file" && f.file_type != "lun" {
                continue;
            }
            let Some(name) = names::parse_disk_snapshot_name(&f.name) else {
                continue;
            };
            let location = locations
                .iter()
                .find(|l| &l.storage == id && &l.dir == dir && l.file == name.source);
            let file = FoundFile {
                storage: id.clone(),
                dir: dir.clone(),
                name: f.name.clone(),
                key: location.map(|l| l.key.clone()),
                disk_volid: location
                    .map(|l| l.volid.clone())
                    .unwrap_or_else(|| sibling_volid(id, dir, &name.source)),
                source: name.source,
                size: f.size,
                label: name.label.clone(),
            };
            let set = by_ts
                .entry(name.timestamp.clone())
                .or_insert_with(|| FoundSet {
                    created: names::parse_timestamp(&name.timestamp),
                    timestamp: name.timestamp,
                    label: None,
                    files: Vec::new(),
                    partial: None,
                });
            if set.label.is_none() {
                set.label = name.label;
            }
            set.files.push(file);
        }
    }
    let mut sets: Vec<FoundSet> = by_ts.into_values().collect();
    for set in &mut sets {
        set.files.sort_by(|a, b| {
            let ka = a.key.as_deref().map(disk_key_order);
            let kb = b.key.as_deref().map(disk_key_order);
            // Disks of the guest first, in key order; then files of former disks by name.
            (ka.is_none(), ka, &a.name).cmp(&(kb.is_none(), kb, &b.name))
        });
    }
    sets.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then(b.timestamp.cmp(&a.timestamp))
    });
    if let Some(dir) = &ctx.partial_dir {
        for record in partial::orphaned(dir, vmid) {
            match sets.iter_mut().find(|s| s.timestamp == record.timestamp) {
                Some(set) => set.partial = Some(partial::describe(&record, set.files.len())),
                // The run died before any clone existed: nothing to report.
                None => partial::end_fileless(dir, vmid, &record.timestamp),
            }
        }
    }
    Ok(Scan {
        target,
        stores,
        locations,
        sets,
        partial_dir: ctx.partial_dir.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::double::Double;
    use crate::testing::scenario::{ctx, volume_uuid};

    #[test]
    fn a_set_left_by_a_dead_run_is_incomplete_until_deleted() {
        let dir = std::env::temp_dir().join(format!("pos-list-partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let b = Double::vm();
        let o1 = volume_uuid("ONTAP01");
        let ts = "2026-04-01_00:00:00+0000";
        let gone = "2026-04-02_00:00:00+0000";
        b.add_file(
            &o1,
            &format!("images/100/vm-100-disk-0-snapshot-{ts}.qcow2"),
            1,
        );
        // Records of runs whose process is gone (no process has pid 0).
        for t in [ts, gone] {
            let record = partial::Record {
                vmid: 100,
                timestamp: t.into(),
                pid: 0,
                start_time: 1,
                files: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            };
            std::fs::write(
                dir.join(format!("100-{t}.json")),
                serde_json::to_string(&record).unwrap(),
            )
            .unwrap();
        }
        let mut c = ctx();
        c.partial_dir = Some(dir.clone());
        let found = scan(&b, 100, &c).unwrap();
        let why = found.find(ts).unwrap().partial.clone().unwrap();
        assert!(why.contains("1 of 4 clones exist"), "{why}");
        let e = found.find_complete(ts, "restore").err().unwrap();
        assert!(e.to_string().contains("cannot restore"), "{e}");
        assert!(e.to_string().contains("incomplete"), "{e}");
        let json = serde_json::to_value(found.snapshot_sets()).unwrap();
        assert!(json[0]["partial"]
            .as_str()
            .unwrap()
            .starts_with("incomplete"));
        // The run that died before any clone existed left nothing to report; its record stays
        // while a late clone could still land, then goes.
        assert_eq!(partial::orphaned(&dir, 100).len(), 2);
        let gone_file = std::fs::File::options()
            .write(true)
            .open(dir.join(format!("100-{gone}.json")))
            .unwrap();
        gone_file
            .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(3600))
            .unwrap();
        scan(&b, 100, &c).unwrap();
        assert_eq!(
            partial::orphaned(&dir, 100)
                .iter()
                .map(|r| r.timestamp.as_str())
                .collect::<Vec<_>>(),
            [ts]
        );
        super::super::delete::run(&b, 100, ts, None, &c).unwrap();
        assert!(b.snapshot_files(&o1).is_empty());
        assert!(partial::orphaned(&dir, 100).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn groups_by_timestamp_newest_first_and_matches_disks() {
        let b = Double::vm();
        let o1 = volume_uuid("ONTAP01");
        let t1 = "2024-03-13_14:42:47+0000";
        let t2 = "2026-01-02_03:04:05+0000";
        // A set made by the original tool (no label) ...
        for f in ["vm-100-disk-0", "vm-100-disk-1"] {
            let ext = if f.ends_with('0') { "qcow2" } else { "raw" };
            b.add_file(&o1, &format!("images/100/{f}-snapshot-{t1}.{ext}"), 5);
        }
        // ... and a labelled one, with a file of a disk that is gone, and of the unused volume.
        for f in [
            format!("images/100/vm-100-disk-1-snapshot-daily-{t2}.raw"),
            format!("images/100/vm-100-disk-0-snapshot-daily-{t2}.qcow2"),
            format!("images/100/vm-100-disk-7-snapshot-daily-{t2}.raw"),
            format!("images/100/vm-100-disk-9-snapshot-daily-{t2}.raw"),
        ] {
            b.add_file(&o1, &f, 6);
        }
        // Not snapshot files.
        b.add_file(&o1, "images/100/vm-100-disk-0-snapshot-x.qcow2", 1);
        let sets = scan(&b, 100, &ctx()).unwrap().snapshot_sets();
        assert_eq!(sets.len(), 2);
        assert_eq!(sets[0].timestamp, t2);
        assert_eq!(sets[0].label.as_deref(), Some("daily"));
        let keys: Vec<_> = sets[0].disks.iter().map(|d| d.key.clone()).collect();
        assert_eq!(
            keys,
            [
                Some("scsi0".to_string()),
                Some("virtio0".into()),
                Some("unused0".into()),
                None
            ]
        );
        assert_eq!(sets[0].disks[3].disk, "ONTAP01:100/vm-100-disk-7.raw");
        assert_eq!(sets[0].disks[0].size, Some(6));
        assert_eq!(sets[1].timestamp, t1);
        assert_eq!(sets[1].label, None);
        assert_eq!(
            sets[1].disks[0].snapshot,
            format!("ONTAP01:100/vm-100-disk-0-snapshot-{t1}.qcow2")
        );
        // One listing of images/100 on the one storage.
        let log = b.calls();
        assert_eq!(
            log.iter()
                .filter(|e| e.starts_with("ontap.list_dir"))
                .count(),
            1,
            "{log:?}"
        );
    }

    #[test]
    fn lists_every_ontap_storage_of_the_guest() {
        let b = Double::vm();
        let t = "2026-01-02_03:04:05+0000";
        b.add_file(
            &volume_uuid("ONTAP02"),
            &format!("images/200/vm-200-disk-0-snapshot-{t}.raw"),
            1,
        );
        b.add_file(
            &volume_uuid("ONTAP01"),
            &format!("images/200/vm-200-disk-1-snapshot-{t}.raw"),
            1,
        );
        let sets = scan(&b, 200, &ctx()).unwrap().snapshot_sets();
        assert_eq!(sets.len(), 1);
        let keys: Vec<_> = sets[0]
            .disks
            .iter()
            .map(|d| d.key.clone().unwrap())
            .collect();
        assert_eq!(keys, ["rootfs", "mp0"]);
    }

    #[test]
    fn empty_and_refused() {
        let b = Double::vm();
        assert!(scan(&b, 102, &ctx()).unwrap().sets.is_empty());
        let e = scan(&b, 107, &ctx()).err().unwrap();
        assert!(
            e.to_string().contains("no disk on an ONTAP-backed storage"),
            "{e}"
        );
        let e = scan(&b, 999, &ctx()).err().unwrap();
        assert!(matches!(e.root(), Error::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("VM.Audit on /vms/999"), "{e}");
    }

    #[test]
    fn unknown_set_names_guest_and_timestamp() {
        let b = Double::vm();
        let s = scan(&b, 100, &ctx()).unwrap();
        let e = s.find("2020-01-01_00:00:00+0000").err().unwrap();
        assert!(
            e.to_string()
                .contains("'2020-01-01_00:00:00+0000' of guest 100"),
            "{e}"
        );
        assert_eq!(check_timestamp("yesterday").unwrap_err().exit_code(), 2);
    }
}
