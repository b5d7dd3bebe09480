//! The `storage` commands on the ONTAP volume behind one Proxmox storage, one submodule
//! per command group; here: their types and shared checks (names, guests, clones, snapshot creation).

use std::time::Duration;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, Result, ResultExt};
use crate::model::capacity::{self, Capacity, Verdict};
use crate::model::names;
use crate::model::retention::Retention;
use crate::ontap::client::literal;
use crate::ontap::{NewSnapshot, OntapVersion, Snapshot, Volume};
use crate::ops::clock::{Clock, SystemClock};
use crate::ops::disks;
use crate::ops::parallel;
use crate::ops::resolve::Resolved;
use crate::ops::Backends;
use crate::pve::{Guest, GuestConfig, GuestType, Pve};

mod create;
mod delete;
mod list;
mod mount;
mod restore;

#[cfg(test)]
mod tests;

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// `snapmirror_label` (also the retention group).
    pub label: Option<String>,
    /// Expiry from now (ONTAP `expiry_time`).
    pub expiry: Option<Duration>,
    /// fs-freeze the running guests with a disk on this storage around the snapshot.
    pub freeze: bool,
    /// Lock the snapshot for this long (ONTAP snapshot locking, `snaplock_expiry_time`).
    pub lock: Option<Duration>,
    /// The capacity guard's thresholds, checked before the snapshot.
    pub capacity: Capacity,
    /// Bound on the freeze window (None: the default of a freeze).
    pub max_pause: Option<Duration>,
}

/// One snapshot as the commands report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRow {
    pub storage: String,
    pub volume: String,
    pub name: String,
    pub uuid: String,
    pub create_time: String,
    pub size: Option<u64>,
    pub label: Option<String>,
    pub expiry_time: Option<String>,
    /// Locked (tamperproof) until then (ONTAP `snaplock_expiry_time`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_expiry: Option<String>,
    pub comment: Option<String>,
    /// Made by this tool (or the original): name starts with `proxmox_snapshot_`.
    pub managed: bool,
    /// FlexClone volumes created from this snapshot.
    pub clones: Vec<String>,
    /// What happened around the command (e.g. which guests were fs-frozen or skipped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore even while guests with a disk on the storage run.
    pub force: bool,
    /// The newer snapshots the administrator agreed to lose (interactive confirmation): the
    /// restore refuses when it would discard any other. `None` with `--yes`.
    pub confirmed_discards: Option<Vec<String>>,
    /// Restore even when newer snapshots are SnapMirror references (`owners` `snapmirror*`), as
    /// the CLI's `volume snapshot restore -force` does; those relationships then need a resync.
    pub discard_snapmirror_references: bool,
}

/// What a restore will do, computed before anything changes (`plan_restore`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestorePlan {
    pub storage: String,
    pub volume: String,
    pub snapshot: String,
    /// Snapshots newer than the target, oldest first: ONTAP's volume SnapRestore discards them.
    pub discarded_snapshots: Vec<String>,
    /// Guests with a disk on the storage that run (only non-empty with `--force`).
    pub running_guests: Vec<String>,
    /// Newer snapshots that are SnapMirror references (only non-empty with
    /// `--discard-snapmirror-references`): the restore goes through the CLI's `-force`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapmirror_references: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoreReport {
    pub storage: String,
    pub volume: String,
    pub snapshot: String,
    /// Snapshots newer than the restored one, oldest first, which ONTAP's volume SnapRestore
    /// discarded (listed before the restore, when every guard had passed).
    pub discarded_snapshots: Vec<String>,
    /// Guests with a disk on the storage that were running (only non-empty with `--force`).
    pub running_guests: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct MountOptions {
    /// Proxmox storage id for the clone (default `<ID>-CLONE`, made unique).
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountReport {
    pub storage: String,
    pub parent_storage: String,
    pub snapshot: String,
    pub volume: String,
    pub junction_path: String,
    pub server: String,
    /// NFS export of the new storage (the junction, plus the parent's path below its junction).
    pub export: String,
    pub export_policy: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmountReport {
    pub storage: String,
    pub volume: String,
    pub parent_snapshot: Option<String>,
    pub parent_volume: Option<String>,
    /// Where Proxmox mounted the storage on its nodes; it is not unmounted by removing the storage.
    pub mount_path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShowReport {
    pub storage: String,
    pub server: Option<String>,
    pub export: Option<String>,
    /// Directory of the export below the volume's junction ("" when the export is the junction).
    pub prefix: String,
    pub volume: Volume,
    /// FlexClone volumes made from this volume's snapshots.
    pub clones: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    pub retention: Retention,
    /// Only snapshots with this label (else every label group separately).
    pub label: Option<String>,
    pub dry_run: bool,
}

/// A snapshot the retention rule would delete but that must stay, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProtectedSnapshot {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub storage: String,
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
    pub dry_run: bool,
    /// Selected for deletion but kept: a FlexClone depends on them or their expiry is in the future.
    pub protected: Vec<ProtectedSnapshot>,
}

pub fn create(b: &dyn Backends, storage: &str, opts: &CreateOptions) -> Result<SnapshotRow> {
    create::create(
        b,
        storage,
        opts,
        &SystemClock,
        crate::ops::manifest::Record::Nothing,
    )
}

/// `create`, first recording the configurations `record` names in the volume (so they travel
/// with the snapshot; see `ops::manifest`).
pub fn create_recording(
    b: &dyn Backends,
    storage: &str,
    opts: &CreateOptions,
    record: crate::ops::manifest::Record,
) -> Result<SnapshotRow> {
    create::create(b, storage, opts, &SystemClock, record)
}

pub fn list(b: &dyn Backends, storage: &str, all: bool) -> Result<Vec<SnapshotRow>> {
    list::list(b, storage, all)
}

pub fn delete(b: &dyn Backends, storage: &str, snapshot: &str) -> Result<SnapshotRow> {
    delete::delete(b, storage, snapshot)
}

/// Check the guards of a restore and list the snapshots it would discard, changing nothing (for the
/// confirmation prompt; `restore` checks everything again).
pub fn plan_restore(
    b: &dyn Backends,
    storage: &str,
    snapshot: &str,
    opts: &RestoreOptions,
) -> Result<RestorePlan> {
    restore::plan(b, storage, snapshot, opts)
}

/// The caller has already obtained `--yes` or a terminal confirmation.
pub fn restore(
    b: &dyn Backends,
    storage: &str,
    snapshot: &str,
    opts: &RestoreOptions,
) -> Result<RestoreReport> {
    restore::restore(b, storage, snapshot, opts)
}

pub fn mount(
    b: &dyn Backends,
    storage: &str,
    snapshot: &str,
    opts: &MountOptions,
) -> Result<MountReport> {
    mount::mount(b, storage, snapshot, opts)
}

pub fn unmount(b: &dyn Backends, storage: &str) -> Result<UnmountReport> {
    mount::unmount(b, storage)
}

pub fn show(b: &dyn Backends, storage: &str) -> Result<ShowReport> {
    list::show(b, storage)
}

pub fn prune(b: &dyn Backends, storage: &str, opts: &PruneOptions) -> Result<PruneReport> {
    delete::prune(b, storage, opts)
}

// ---- shared checks and helpers ----

/// What a restore discards: "1 newer snapshot: a", "3 newer snapshots: a, b, c", or "no other
/// snapshot".
pub fn discards_phrase(names: &[String]) -> String {
    match names.len() {
        0 => "no other snapshot".to_string(),
        1 => format!("1 newer snapshot: {}", names[0]),
        n => format!("{n} newer snapshots: {}", names.join(", ")),
    }
}

/// ONTAP's limit of snapshots per volume.
pub const MAX_SNAPSHOTS: u64 = 1023;
/// ONTAP error: "Cannot exceed maximum number of snapshots."
const ERR_TOO_MANY_SNAPSHOTS: &str = "525062";
/// ONTAP error: "A snapshot with the specified name already exists."
const ERR_SNAPSHOT_EXISTS: &str = "525059";

/// Snapshot names the commands accept: `[A-Za-z0-9_.:+-]`, 1..=256 characters.
pub fn validate_snapshot_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'+' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid snapshot name '{name}': use only letters, digits and '_', '.', ':', '+', '-' \
             (see `storage list --all` for the names)"
        )))
    }
}

/// `snapmirror_label`: at most 31 characters of `[A-Za-z0-9_.-]` (ONTAP's limit).
pub fn validate_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 31
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid label '{label}': a label (ONTAP snapmirror_label) has 1 to 31 characters, \
             letters, digits, '_', '.' or '-'"
        )))
    }
}

/// `now + d` as ONTAP takes a time; `what` names the option in the error.
fn later(now: OffsetDateTime, d: Duration, what: &str) -> Result<String> {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| now.checked_add(d))
        .map(iso8601)
        .ok_or_else(|| {
            Error::Usage(format!(
                "{what} of {}s is too far in the future",
                d.as_secs()
            ))
        })
}

/// First ONTAP release with snapshot locking on ordinary volumes.
pub const LOCKING_SINCE: OntapVersion = OntapVersion::new(9, 12, 1);

/// Whether snapshots of this storage can be locked, and if not, exactly why and what to enable.
/// `version`: ONTAP's release when readable.
pub fn lock_support(
    r: &Resolved,
    version: Option<OntapVersion>,
) -> std::result::Result<(), String> {
    if let Some(v) = version.filter(|v| *v < LOCKING_SINCE) {
        return Err(format!(
            "ONTAP {}.{}.{} cannot lock snapshots: snapshot locking needs ONTAP 9.12.1 or later              (storage '{}')",
            v.generation, v.major, v.minor, r.storage.storage
        ));
    }
    if r.volume.snapshot_locking_enabled == Some(true) {
        return Ok(());
    }
    Err(format!(
        "volume {} of storage '{}' does not have snapshot locking enabled{}: enable it on ONTAP          with `volume modify -vserver {} -volume {} -snapshot-locking-enabled true` (ONTAP 9.12.1          or later, with the SnapLock licence and an initialised compliance clock: `snaplock          compliance-clock initialize`); nothing was locked",
        r.volume.name,
        r.storage.storage,
        if r.volume.snapshot_locking_enabled.is_none() {
            " (ONTAP does not report it)"
        } else {
            ""
        },
        r.volume.svm_name,
        r.volume.name
    ))
}

/// The capacity guard before a new snapshot: a warning is logged (and returned as a note), a
/// refusal is the error. The snapshot count comes from the resolution's volume record (9.10+) or,
/// before that, one snapshots listing.
pub(crate) fn guard(r: &Resolved, cap: &Capacity) -> Result<Option<String>> {
    let count = match r.volume.snapshot_count {
        Some(n) => n,
        None => r
            .ontap
            .snapshots(&r.volume.uuid)
            .step_with(|| on_volume(r, "count the snapshots"))?
            .len() as u64,
    };
    match capacity::check(
        cap,
        &r.storage.storage,
        &r.volume.name,
        Some(count),
        r.volume.used,
        r.volume.size,
    ) {
        Verdict::Ok => Ok(None),
        Verdict::Warn(m) => {
            log::warn!("{m}");
            Ok(Some(m))
        }
        Verdict::Refuse(m) => Err(Error::Refused(m)),
    }
}

/// The lock expiry when it lies in the future (ONTAP's compliance clock decides; this is the
/// tool's reading with its own clock, to explain a refusal before asking).
pub(crate) fn locked_until(s: &Snapshot, now: OffsetDateTime) -> Option<&str> {
    let t = s.snaplock_expiry_time.as_deref()?;
    parse_time(t).filter(|t| *t > now).map(|_| t)
}

/// ISO-8601 (RFC 3339) in UTC without fractions, as ONTAP takes `expiry_time`.
pub(crate) fn iso8601(at: OffsetDateTime) -> String {
    let at = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

/// ONTAP's `create_time` / `expiry_time` as a time (None when absent or unreadable).
pub(crate) fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// When the snapshot was made: its `create_time`, else the time in a name this tool made.
pub(crate) fn created(s: &Snapshot) -> Option<OffsetDateTime> {
    parse_time(&s.create_time).or_else(|| names::parse_storage_snapshot_name(&s.name))
}

/// The storage's snapshots, in creation order.
pub(crate) fn snapshots(r: &Resolved) -> Result<Vec<Snapshot>> {
    let mut snaps = r
        .ontap
        .snapshots(&r.volume.uuid)
        .step_with(|| on_volume(r, "list the snapshots"))?;
    snaps.sort_by(|a, b| {
        created(a)
            .cmp(&created(b))
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(snaps)
}

/// One snapshot by exact name; NotFound naming the storage and snapshot.
pub(crate) fn find_snapshot(r: &Resolved, snaps: &[Snapshot], name: &str) -> Result<Snapshot> {
    snaps
        .iter()
        .find(|s| s.name == name)
        .cloned()
        .ok_or_else(|| Error::NotFound {
            what: format!(
                "snapshot '{name}' of storage '{}' (volume '{}'; see `storage list --storage {} --all`)",
                r.storage.storage, r.volume.name, r.storage.storage
            ),
        })
}

/// The FlexClone volumes whose parent is this storage's volume (one query).
pub(crate) fn clones_of(r: &Resolved) -> Result<Vec<Volume>> {
    let mut clones = r
        .ontap
        .volumes(&[
            ("svm.name", literal(&r.volume.svm_name).as_str()),
            ("clone.parent_volume.name", literal(&r.volume.name).as_str()),
        ])
        .step_with(|| on_volume(r, "look up the FlexClone volumes"))?;
    clones.retain(|v| v.parent_volume.as_deref() == Some(r.volume.name.as_str()));
    clones.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(clones)
}

/// Names of the clones made from snapshot `name`.
pub(crate) fn clones_from(clones: &[Volume], name: &str) -> Vec<String> {
    clones
        .iter()
        .filter(|v| v.parent_snapshot.as_deref() == Some(name))
        .map(|v| v.name.clone())
        .collect()
}

/// `"<what> on volume 'V' for storage 'S'"`, the usual way a step names its place.
pub(crate) fn on_volume(r: &Resolved, what: &str) -> String {
    format!(
        "{what} on volume '{}' for storage '{}'",
        r.volume.name, r.storage.storage
    )
}

pub(crate) fn row(r: &Resolved, s: &Snapshot, clones: Vec<String>) -> SnapshotRow {
    SnapshotRow {
        storage: r.storage.storage.clone(),
        volume: r.volume.name.clone(),
        name: s.name.clone(),
        uuid: s.uuid.clone(),
        create_time: s.create_time.clone(),
        size: s.size,
        label: s.snapmirror_label.clone().filter(|l| !l.is_empty()),
        expiry_time: s.expiry_time.clone(),
        lock_expiry: s.snaplock_expiry_time.clone(),
        comment: s.comment.clone(),
        managed: s.name.starts_with(names::STORAGE_SNAPSHOT_PREFIX),
        clones,
        notes: Vec::new(),
    }
}

/// The refusal for a volume at ONTAP's snapshot limit.
fn limit_message(r: &Resolved) -> String {
    format!(
        "volume '{}' of storage '{}' has reached ONTAP's limit of {MAX_SNAPSHOTS} snapshots; delete \
         old ones first, e.g. `pve-ontap-snapshot storage prune --storage {} --keep-last N`",
        r.volume.name, r.storage.storage, r.storage.storage
    )
}

/// Create `proxmox_snapshot_<now>` with the given comment, label and expiry, and return it.
///
/// Name collisions: when a snapshot of that name already exists (two creates within one second),
/// wait for the next second and try once more with the new name; a second collision is an error.
/// The limit of 1023 snapshots becomes an error saying so and suggesting `storage prune`.
pub(crate) fn take_snapshot(
    r: &Resolved,
    comment: &str,
    label: Option<&str>,
    expiry: Option<Duration>,
    lock: Option<Duration>,
    clock: &dyn Clock,
) -> Result<Snapshot> {
    let mut attempt = 0;
    loop {
        let now = clock.now();
        let name = names::storage_snapshot_name(now);
        let expiry_time = match expiry {
            Some(d) => Some(iso8601(
                now + time::Duration::try_from(d).map_err(|_| {
                    Error::Usage(format!(
                        "expiry of {}s is too far in the future",
                        d.as_secs()
                    ))
                })?,
            )),
            None => None,
        };
        let snaplock_expiry_time = lock.map(|d| later(now, d, "lock")).transpose()?;
        let spec = NewSnapshot {
            name: name.clone(),
            comment: Some(comment.to_string()),
            snapmirror_label: label.map(str::to_string),
            expiry_time,
            snaplock_expiry_time,
        };
        match r.ontap.create_snapshot(&r.volume.uuid, &spec) {
            Ok(s) if lock.is_some() && s.snaplock_expiry_time.is_none() => {
                return Err(Error::Refused(format!(
                    "ONTAP created snapshot '{}' of storage '{}' but did not lock it (no \
                     snaplock_expiry_time): the volume's snapshot locking is not in effect; the \
                     snapshot stays unlocked, check `volume show -fields snapshot-locking-enabled`",
                    s.name, r.storage.storage
                )))
            }
            Ok(s) => return Ok(s),
            Err(e) if e.ontap_code() == Some(ERR_TOO_MANY_SNAPSHOTS) => {
                return Err(Error::Step {
                    step: limit_message(r),
                    cause: Box::new(e),
                })
            }
            Err(e) if attempt == 0 && is_duplicate(&e) => {
                log::info!("a snapshot named '{name}' already exists; waiting for the next second");
                attempt += 1;
                clock.wait_for_next_second();
            }
            Err(e) => {
                return Err(e).step_with(|| on_volume(r, &format!("create snapshot '{name}'")))
            }
        }
    }
}

fn is_duplicate(e: &Error) -> bool {
    e.ontap_code() == Some(ERR_SNAPSHOT_EXISTS)
        || e.api()
            .is_some_and(|a| a.status == 409 && a.code.as_deref() == Some("1"))
}

/// A guest and the keys of its disks on one storage.
#[derive(Debug, Clone)]
pub(crate) struct GuestOnStorage {
    pub guest: Guest,
    pub config: GuestConfig,
    pub disks: Vec<String>,
}

impl GuestOnStorage {
    pub fn label(&self) -> String {
        match &self.guest.name {
            Some(name) => format!("{} ({name})", self.guest.vmid),
            None => self.guest.vmid.to_string(),
        }
    }
}

/// The guests matching `wanted` that have a disk on any of `storages`: one cluster-wide guest
/// list, then every wanted guest's config, each read once, `CONFIG_READS` at a time. Only the
/// configs can tell: a guest may use a volume that another guest owns, so the owners a storage's
/// content listing names are not the users.
pub(crate) fn guests_on_storages(
    pve: &dyn Pve,
    storages: &[String],
    wanted: impl Fn(&Guest) -> bool,
) -> Result<Vec<GuestOnStorage>> {
    let guests: Vec<Guest> = pve
        .guests()
        .step("list the guests of the cluster")?
        .into_iter()
        .filter(|g| wanted(g))
        .collect();
    let configs = parallel::try_map(&guests, parallel::CONFIG_READS, |guest| {
        pve.guest_config(guest).step_with(|| {
            format!(
                "read the config of {} {} on node '{}'",
                guest.guest_type.as_str(),
                guest.vmid,
                guest.node
            )
        })
    })?;
    let mut found = Vec::new();
    for (guest, config) in guests.into_iter().zip(configs) {
        let disks: Vec<String> = storages
            .iter()
            .flat_map(|s| disks_on_storage(guest.guest_type, &config, s))
            .collect();
        if !disks.is_empty() {
            found.push(GuestOnStorage {
                guest,
                config,
                disks,
            });
        }
    }
    Ok(found)
}

/// The Proxmox storages whose data lives on the resolved volume: this one, and every other nfs
/// storage of the same server whose export lies below the volume's junction (a volume snapshot
/// or restore covers them all). One `GET /storage`.
pub(crate) fn storages_on_volume(pve: &dyn Pve, r: &Resolved) -> Result<Vec<String>> {
    let mut ids = vec![r.storage.storage.clone()];
    let Some(junction) = r.volume.nas_path.as_deref() else {
        return Ok(ids);
    };
    let server = r.storage.server.as_deref().unwrap_or_default();
    let all = pve
        .storages()
        .step("list the Proxmox storages to find every one on the same volume")?;
    for s in all {
        let same_volume = s.storage_type == "nfs"
            && s.storage != r.storage.storage
            && s.server
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(server))
            && s.export
                .as_deref()
                .is_some_and(|e| crate::ops::resolve::path_below(junction, e).is_some());
        if same_volume {
            log::info!(
                "storage '{}' is on volume '{}' too",
                s.storage,
                r.volume.name
            );
            ids.push(s.storage);
        }
    }
    Ok(ids)
}

/// Config keys of the guest's disks on `storage` (`ops::disks` rules: disk keys only, never
/// cdrom, `none`, cloud-init or `unusedN`).
pub(crate) fn disks_on_storage(
    guest_type: GuestType,
    config: &GuestConfig,
    storage: &str,
) -> Vec<String> {
    disks::guest_disks(guest_type, config)
        .disks
        .into_iter()
        .filter(|d| d.volume.storage == storage)
        .map(|d| d.key)
        .collect()
}

/// The config enables the QEMU guest agent (`agent: 1` or `agent: enabled=1,...`).
pub(crate) fn agent_enabled(config: &GuestConfig) -> bool {
    let Some(value) = config.get("agent") else {
        return false;
    };
    for (i, part) in value.split(',').enumerate() {
        let flag = match part.split_once('=') {
            Some(("enabled", v)) => v,
            None if i == 0 => part,
            _ => continue,
        };
        return matches!(flag, "1" | "yes" | "on" | "true");
    }
    false
}

#[cfg(test)]
mod helper_tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> GuestConfig {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn disks_on_storage_takes_every_disk_kind_and_skips_cdrom_none_unused() {
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
            ("ide1", "none,media=cdrom"),
            ("unused0", "ONTAP01:100/vm-100-disk-9.raw"),
            ("sata1", "ONTAP011:100/other.raw"),
            ("scsi1", "file=ONTAP01:100/vm-100-disk-5.raw,size=1G"),
            ("net0", "virtio=BC:24:11:00:01:00,bridge=vmbr0"),
            ("name", "ONTAP01:looks-like-a-volid"),
        ]);
        assert_eq!(
            disks_on_storage(GuestType::Qemu, &c, "ONTAP01"),
            ["scsi0", "scsi1", "virtio0", "efidisk0", "tpmstate0"]
        );
    }

    #[test]
    fn disks_on_storage_takes_container_volumes_not_bind_mounts() {
        let c = config(&[
            ("rootfs", "ONTAP02:200/vm-200-disk-0.raw,size=8G"),
            ("mp0", "ONTAP01:200/vm-200-disk-1.raw,mp=/data,size=8G"),
            ("mp1", "/srv/host,mp=/host"),
            ("mp2", "volume=ONTAP02:200/vm-200-disk-2.raw,mp=/x"),
        ]);
        assert_eq!(
            disks_on_storage(GuestType::Lxc, &c, "ONTAP02"),
            ["rootfs", "mp2"]
        );
        assert_eq!(disks_on_storage(GuestType::Lxc, &c, "ONTAP01"), ["mp0"]);
    }

    #[test]
    fn agent_flag_forms() {
        assert!(agent_enabled(&config(&[("agent", "1")])));
        assert!(agent_enabled(&config(&[(
            "agent",
            "enabled=1,fstrim_cloned_disks=1"
        )])));
        assert!(agent_enabled(&config(&[("agent", "1,freeze-fs=0")])));
        assert!(!agent_enabled(&config(&[("agent", "0")])));
        assert!(!agent_enabled(&config(&[("agent", "enabled=0")])));
        assert!(!agent_enabled(&config(&[])));
    }

    #[test]
    fn snapshot_names_and_labels_are_checked() {
        validate_snapshot_name("proxmox_snapshot_2024-03-13_14:42:47+0000").unwrap();
        validate_snapshot_name("hourly.2026-11-01_0105").unwrap();
        for bad in ["", "a b", "x;rm", "a/b", "snap*", "ü", "a|b"] {
            let e = validate_snapshot_name(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.to_string().contains("invalid snapshot name"), "{e}");
        }
        validate_label("daily").unwrap();
        validate_label("a.b-c_d").unwrap();
        validate_label(&"x".repeat(31)).unwrap();
        for bad in ["", "has space", "x:y", &"x".repeat(32)] {
            assert!(validate_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn expiry_times_are_utc_iso8601_without_fractions() {
        let at = time::macros::datetime!(2026-11-10 13:14:15.678 +01:00);
        assert_eq!(iso8601(at), "2026-11-10T12:14:15Z");
        assert_eq!(
            parse_time("2019-03-13T13:05:00-04:00"),
            Some(time::macros::datetime!(2019-03-13 17:05:00 UTC))
        );
    }
}
