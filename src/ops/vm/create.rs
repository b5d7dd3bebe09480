//! `vm create`: every lookup first, then a pause/freeze window holding nothing but the clone
//! requests (all disks at once), then resume/thaw, then cleanup on failure, then the rescan.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use time::OffsetDateTime;

use crate::error::{Error, Result, ResultExt};
use crate::model::names;
use crate::ops::disks::Disk;
use crate::ops::manifest;
use crate::ops::quiesce::{self, Window};
use crate::ops::rescan::RescanMode;
use crate::ops::resolve::Resolved;
use crate::ops::vm::lookup::{self, Kind, Placed, Target};
use crate::ops::vm::{partial, CreateOptions, Ctx, SkippedDisk, SnapshotDisk, SnapshotSet};
use crate::ops::window::Guard;
use crate::ops::{rescan, Backends};
use crate::pve::{Guest, Pve};
use crate::sys::paths::Paths;
use crate::sys::signals;

/// One clone request, fully prepared before the window opens.
struct Job<'a> {
    placed: Placed<'a>,
    /// Paths relative to the volume root.
    source: String,
    destination: String,
    /// File name of the clone.
    snapshot_file: String,
    size: Option<u64>,
}

impl Job<'_> {
    fn store(&self) -> &Resolved {
        self.placed.store
    }
}

pub(super) fn run(
    b: &dyn Backends,
    vmid: u32,
    opts: &CreateOptions,
    (paths, mode): (&Paths, RescanMode),
    ctx: &Ctx<'_>,
) -> Result<SnapshotSet> {
    if let Some(label) = &opts.label {
        names::check_label(label).map_err(Error::Usage)?;
    }
    let pve_arc = b.pve()?;
    let pve: &dyn Pve = pve_arc.as_ref();

    // ---- Lookups: nothing below this line until the window changes anything. ----
    let target = lookup::load(pve, vmid)?;
    let guest = &target.guest;
    let status = pve
        .guest_status(guest)
        .step_with(|| format!("read the status of guest {vmid}"))?;
    let sorted = sort_disks(b, pve, &target)?;
    let plan = quiesce::plan(pve, guest, &status, opts.consistency)?;
    let stores = lookup::resolve_all(b, ctx, &sorted.ontap_ids)?;
    let (ts, jobs, skipped) = prepare_jobs(vmid, sorted, &stores, opts, ctx)?;
    let orphans = ctx
        .partial_dir
        .as_ref()
        .map(|d| partial::orphaned(d, vmid))
        .unwrap_or_default();

    let guard = b.guard()?;

    // ---- The configuration of the set, then the window: pause/freeze, clones (concurrently),
    // resume/thaw. ----
    let first = jobs
        .first()
        .ok_or_else(|| Error::Internal("a set without disks".into()))?;
    let record = manifest::SetRecord::write(first.store(), guest, &target.config, &ts)?;
    let window = WindowSpec {
        guard: guard.as_ref(),
        action: plan.action,
        max_pause: opts.max_pause,
    };
    clone_in_window(pve, guest, &window, &jobs, &ts, ctx, &record)?;

    // ---- After the window: register the new files. ----
    let mut notes = plan.notes;
    notes.extend(orphans.iter().map(|r| {
        format!(
            "an earlier run (pid {}) ended before it finished disk snapshot set {}: 'vm list' \
             shows what it left as incomplete, 'vm delete --vm {vmid} --snapshot {}' removes it",
            r.pid, r.timestamp, r.timestamp
        )
    }));
    if opts.rescan {
        notes.push(rescan_note(paths, guest, mode));
    }
    Ok(SnapshotSet {
        vmid,
        timestamp: ts,
        label: opts.label.clone(),
        disks: jobs
            .iter()
            .map(|j| SnapshotDisk {
                key: Some(j.placed.disk.key.clone()),
                storage: j.placed.disk.volume.storage.clone(),
                disk: j.placed.disk.volume.to_string(),
                snapshot: j.placed.sibling_volid(&j.snapshot_file),
                size: j.size,
            })
            .collect(),
        skipped,
        notes,
        partial: None,
    })
}

/// The guest's disks sorted by where they live: the ones on ONTAP-backed storages (to clone) and
/// the ones that are skipped, with the reason.
struct SortedDisks<'a> {
    candidates: Vec<&'a Disk>,
    ontap_ids: BTreeSet<String>,
    skipped: Vec<SkippedDisk>,
}

/// Classify the storages of the guest's disks (one `GET /storage`); refuses a disk on a
/// snapshot-as-volume-chain storage and a guest with no disk on an ONTAP-backed storage.
fn sort_disks<'a>(b: &dyn Backends, pve: &dyn Pve, target: &'a Target) -> Result<SortedDisks<'a>> {
    let vmid = target.guest.vmid;
    let mut skipped: Vec<SkippedDisk> = target
        .disks
        .unsupported
        .iter()
        .map(|u| SkippedDisk {
            key: u.key.clone(),
            volume: u.volume.clone(),
            reason: u.reason.clone(),
        })
        .collect();
    let storage_ids: BTreeSet<String> = target
        .disks
        .disks
        .iter()
        .map(|d| d.volume.storage.clone())
        .collect();
    let kinds = lookup::classify(b, pve, &storage_ids)?;
    let mut ontap_ids = BTreeSet::new();
    let mut candidates = Vec::new();
    for disk in &target.disks.disks {
        match kinds.get(&disk.volume.storage) {
            Some(Kind::Ontap(storage)) => {
                if storage.snapshot_as_volume_chain {
                    return Err(Error::Refused(format!(
                        "cannot snapshot disk {} ({}) of guest {vmid}: storage '{}' uses \
                         snapshot-as-volume-chain, so a qcow2 disk may be a chain of files whose \
                         top file alone is incomplete; a file clone of it would not be a usable disk",
                        disk.key, disk.volume, storage.storage
                    )));
                }
                ontap_ids.insert(disk.volume.storage.clone());
                candidates.push(disk);
            }
            Some(Kind::Other(reason)) => skipped.push(SkippedDisk {
                key: disk.key.clone(),
                volume: disk.volume.to_string(),
                reason: reason.clone(),
            }),
            None => {}
        }
    }
    if candidates.is_empty() {
        let why = if skipped.is_empty() {
            String::new()
        } else {
            format!(" (skipped: {})", lookup::describe_skipped(&skipped))
        };
        return Err(Error::Refused(format!(
            "guest {vmid} has no disk on an ONTAP-backed storage{why}"
        )));
    }
    Ok(SortedDisks {
        candidates,
        ontap_ids,
        skipped,
    })
}

/// Place the disks on their resolved stores, list their directories once, pick the set's
/// timestamp and prepare one clone request per disk; refuses (before the window) under
/// `--strict` with skipped disks, a missing source and an existing destination.
fn prepare_jobs<'a>(
    vmid: u32,
    sorted: SortedDisks<'a>,
    stores: &'a BTreeMap<String, Resolved>,
    opts: &CreateOptions,
    ctx: &Ctx<'_>,
) -> Result<(String, Vec<Job<'a>>, Vec<SkippedDisk>)> {
    let mut skipped = sorted.skipped;
    let (placed, not_images) = lookup::place(sorted.candidates, stores);
    skipped.extend(not_images);
    if opts.strict && !skipped.is_empty() {
        return Err(Error::Refused(format!(
            "--strict: guest {vmid} has disks that cannot be snapshotted: {}",
            lookup::describe_skipped(&skipped)
        )));
    }
    if placed.is_empty() {
        return Err(Error::Refused(format!(
            "guest {vmid} has no disk on an ONTAP-backed storage that can be cloned (skipped: {})",
            lookup::describe_skipped(&skipped)
        )));
    }
    let listings = lookup::list_dirs(placed.iter().map(|p| (p.store, p.dir.clone())))?;
    let ts = set_timestamp(&listings, &placed, ctx.now, opts.label.as_deref());
    let mut jobs = Vec::new();
    for p in placed {
        let source = listings
            .find(p.store, &p.dir, &p.file)
            .ok_or_else(|| Error::NotFound {
                what: format!(
                    "file '{}' of {} on volume '{}' (storage '{}')",
                    p.path(),
                    p.describe(),
                    p.store.volume.name,
                    p.store.storage.storage
                ),
            })?;
        let size = source.size;
        let snapshot_file = names::disk_snapshot_file_labeled(&p.file, &ts, opts.label.as_deref());
        if listings.find(p.store, &p.dir, &snapshot_file).is_some() {
            return Err(Error::Refused(format!(
                "cannot snapshot {} of guest {vmid}: the clone destination '{}/{snapshot_file}' \
                 already exists on volume '{}' (a snapshot taken in the same second?)",
                p.describe(),
                p.dir,
                p.store.volume.name
            )));
        }
        jobs.push(Job {
            source: p.path(),
            destination: format!("{}/{snapshot_file}", p.dir),
            snapshot_file,
            size,
            placed: p,
        });
    }
    Ok((ts, jobs, skipped))
}

/// What the window does to the guest, who guards it and its bound.
struct WindowSpec<'a> {
    guard: &'a dyn Guard,
    action: quiesce::Action,
    max_pause: Option<Duration>,
}

/// Open the window, issue every clone, close it; on a failure, a signal or a window that passed
/// its bound, delete what this run made and return an error naming the disk (or the signal, or
/// the bound) and what was left behind.
fn clone_in_window(
    pve: &dyn Pve,
    guest: &Guest,
    spec: &WindowSpec<'_>,
    jobs: &[Job<'_>],
    ts: &str,
    ctx: &Ctx<'_>,
    record: &manifest::SetRecord<'_>,
) -> Result<()> {
    let vmid = guest.vmid;
    // The shield outlives the window: a signal during the cleanup must not leave clones behind.
    let shield = signals::shield()?;
    // Should this process die from here on, the next command finds the set marked incomplete.
    if let Some(dir) = &ctx.partial_dir {
        let files = jobs
            .iter()
            .map(|j| j.placed.sibling_volid(&j.snapshot_file))
            .collect();
        // Without it the run is still guarded; only a later report of a dead run's set is lost.
        if let Err(e) = partial::begin(dir, vmid, ts, files) {
            log::warn!(
                "{e}: a set left by this run, should it die, would not be marked incomplete"
            );
        }
    }
    let end_record = || {
        if let Some(dir) = &ctx.partial_dir {
            partial::end(dir, vmid, ts);
        }
    };
    let window = quiesce::enter(
        pve,
        spec.guard,
        guest,
        spec.action,
        spec.max_pause,
        ctx.interrupt,
    )
    .inspect_err(|_| {
        end_record();
        record.remove();
    })?;
    let outcome = clone_all(jobs, window, ctx);

    // The guardian brought the guest back at the bound: the run is thrown away.
    let (leave, broken) = match outcome.leave {
        Err(e @ Error::Bound(_)) => (Ok(()), Some(e)),
        leave => (leave, outcome.broken),
    };
    let failed = outcome.results.iter().position(Result::is_err);
    let interrupted = outcome.interrupted.or_else(|| (ctx.interrupt)());
    if failed.is_some() || interrupted.is_some() || broken.is_some() {
        let leftovers = cleanup(jobs, &outcome.results);
        if leftovers.is_empty() {
            end_record();
            record.remove();
        }
        drop(shield);
        return Err(failure(
            vmid,
            jobs,
            outcome.results,
            (interrupted, broken, failed),
            leave,
            &leftovers,
        ));
    }
    end_record();
    drop(shield);
    leave.step_with(|| {
        format!(
            "disk snapshot set {ts} of guest {vmid} was created, but the guest was not restored"
        )
    })
}

/// The error of a failed run: the signal or the failed clone, below what happened to the clones
/// (all deleted, or which are left); a failure to leave the window comes first, the rest is logged.
fn failure(
    vmid: u32,
    jobs: &[Job<'_>],
    mut results: Vec<Result<()>>,
    (interrupted, broken, failed): (Option<String>, Option<Error>, Option<usize>),
    leave: Result<()>,
    leftovers: &[String],
) -> Error {
    let error = match (interrupted, broken, failed) {
        (Some(signal), _, _) => Error::Interrupted(signal),
        (None, Some(bound), _) => bound,
        (None, None, Some(i)) => {
            let job = &jobs[i];
            let e = std::mem::replace(&mut results[i], Ok(()))
                .err()
                .unwrap_or_else(|| Error::Internal("clone failed".into()));
            Error::Step {
                step: format!("clone {} to '{}'", job.placed.describe(), job.destination),
                cause: Box::new(e),
            }
        }
        (None, None, None) => Error::Internal("clone failed".into()),
    };
    let what = if leftovers.is_empty() {
        format!("disk snapshot of guest {vmid} failed; the clones made in this run were deleted")
    } else {
        format!(
            "disk snapshot of guest {vmid} failed; clones left behind, delete them by hand: {}",
            leftovers.join(", ")
        )
    };
    let (error, step) = match leave {
        Err(leave) => {
            log::error!("{what}: {error}");
            (leave, what)
        }
        Ok(()) => (error, what),
    };
    Error::Step {
        step,
        cause: Box::new(error),
    }
}

/// `qm rescan` / `pct rescan` for the new files, as a note; a failure says what to run by hand.
fn rescan_note(paths: &Paths, guest: &Guest, mode: RescanMode) -> String {
    match rescan::rescan(paths, guest, mode) {
        Ok(o) => o.note(),
        Err(e) => format!(
            "rescan failed ({e}); run '{} rescan --vmid {}' on node {}",
            rescan::command_for(paths, guest.guest_type).display(),
            guest.vmid,
            guest.node
        ),
    }
}

/// How many seconds past `now` a new set's timestamp may move: enough for runs in quick
/// succession, few enough that a set's name stays close to the time it was taken (beyond that,
/// the existing destination is refused).
const SET_SECONDS_AHEAD: i64 = 10;

/// The timestamp of the new set: the current second, or — when the guest already has a complete
/// set of that second under this label (a run a moment ago) — the first later second without
/// one. Decided from the listings already read, so it costs no request and no waiting. A second
/// that holds only some of the files is returned as it is, for the caller to refuse (a leftover
/// is not a set to step around).
fn set_timestamp(
    listings: &lookup::Listings,
    placed: &[Placed<'_>],
    now: OffsetDateTime,
    label: Option<&str>,
) -> String {
    let mut ts = names::timestamp(now);
    for ahead in 1..=SET_SECONDS_AHEAD {
        let taken = placed
            .iter()
            .filter(|p| {
                let file = names::disk_snapshot_file_labeled(&p.file, &ts, label);
                listings.find(p.store, &p.dir, &file).is_some()
            })
            .count();
        if taken == 0 || taken < placed.len() {
            return ts;
        }
        ts = names::timestamp(now + time::Duration::seconds(ahead));
    }
    ts
}

struct CloneOutcome {
    /// Per job, in job order.
    results: Vec<Result<()>>,
    /// The signal that arrived while the clones ran.
    interrupted: Option<String>,
    /// The window passed its bound while clones still ran (it was closed then).
    broken: Option<Error>,
    /// How leaving the window went.
    leave: Result<()>,
}

/// Issue every clone at once (one thread per disk) and close the window as soon as the last one
/// finished — or at the first failure or signal, since the run will be undone anyway.
fn clone_all(jobs: &[Job<'_>], window: Window<'_>, ctx: &Ctx<'_>) -> CloneOutcome {
    let mut window = Some(window);
    let mut leave = Ok(());
    let mut interrupted = None;
    let mut broken = None;
    let mut results: Vec<Option<Result<()>>> = jobs.iter().map(|_| None).collect();
    let close = |window: &mut Option<Window<'_>>, leave: &mut Result<()>| {
        if let Some(w) = window.take() {
            *leave = w.leave();
        }
    };
    thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for (i, job) in jobs.iter().enumerate() {
            let tx = tx.clone();
            s.spawn(move || {
                let store = job.store();
                let r = catch_unwind(AssertUnwindSafe(|| {
                    store
                        .ontap
                        .clone_file(&store.volume, &job.source, &job.destination, false)
                }))
                .unwrap_or_else(|_| Err(Error::Internal("the clone request panicked".into())));
                // The receiver only goes away after every sender is done.
                let _ = tx.send((i, r));
            });
        }
        drop(tx);
        let mut pending = jobs.len();
        while pending > 0 {
            match rx.recv_timeout(ctx.poll) {
                Ok((i, r)) => {
                    pending -= 1;
                    if r.is_err() {
                        close(&mut window, &mut leave);
                    }
                    results[i] = Some(r);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if interrupted.is_none() {
                if let Some(signal) = (ctx.interrupt)() {
                    interrupted = Some(signal);
                    close(&mut window, &mut leave);
                }
            }
            if pending > 0 && broken.is_none() {
                let passed = window
                    .as_mut()
                    .and_then(|w| w.past_bound_error("its clone jobs ended"));
                if passed.is_some() {
                    broken = passed;
                    close(&mut window, &mut leave);
                }
            }
        }
    });
    close(&mut window, &mut leave);
    CloneOutcome {
        results: results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(Error::Internal("the clone request got no answer".into())))
            })
            .collect(),
        interrupted,
        broken,
        leave,
    }
}

/// Delete what this run created: every clone that succeeded, plus any destination of a failed
/// clone that exists anyway (a job that failed after creating the file). Returns what is left.
fn cleanup(jobs: &[Job<'_>], results: &[Result<()>]) -> Vec<String> {
    let failed: Vec<&Job<'_>> = jobs
        .iter()
        .zip(results)
        .filter(|(_, r)| r.is_err())
        .map(|(j, _)| j)
        .collect();
    let listings = lookup::list_dirs(failed.iter().map(|j| (j.store(), j.placed.dir.clone())));
    let mut leftovers = Vec::new();
    for (job, result) in jobs.iter().zip(results) {
        let exists = match (result, &listings) {
            (Ok(()), _) => true,
            (Err(_), Ok(l)) => l
                .find(job.store(), &job.placed.dir, &job.snapshot_file)
                .is_some(),
            // Unknown: try the delete, a missing file is fine.
            (Err(_), Err(_)) => true,
        };
        if !exists {
            continue;
        }
        let store = job.store();
        match store
            .ontap
            .delete_file(&store.volume.uuid, &job.destination)
        {
            Ok(()) => {}
            Err(e) if result.is_err() && matches!(e.root(), Error::NotFound { .. }) => {}
            Err(e) => {
                log::error!(
                    "could not delete clone '{}' on volume '{}': {e}",
                    job.destination,
                    store.volume.name
                );
                leftovers.push(format!(
                    "{} ({e})",
                    job.placed.sibling_volid(&job.snapshot_file)
                ));
            }
        }
    }
    leftovers
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use time::macros::datetime;

    use super::*;
    use crate::ops::quiesce::Consistency;
    use crate::testing::double::Double;
    use crate::testing::scenario::{self, volume_uuid};

    const TS: &str = "2026-05-01_10:20:30+0000";

    fn ctx(interrupt: &(dyn Fn() -> Option<String> + Sync)) -> Ctx<'_> {
        Ctx {
            now: datetime!(2026-05-01 10:20:30 UTC),
            interrupt,
            resolve: scenario::resolve,
            poll: Duration::from_millis(5),
            partial_dir: None,
        }
    }

    fn opts(consistency: Consistency) -> CreateOptions {
        CreateOptions {
            consistency,
            rescan: true,
            ..CreateOptions::default()
        }
    }

    fn paths() -> Paths {
        Paths {
            pve_node_marker: "/nonexistent/pve-ontap-snapshot-test/marker".into(),
            ..Paths::default()
        }
    }

    fn create(b: &Double, vmid: u32, o: &CreateOptions) -> Result<SnapshotSet> {
        run(b, vmid, o, (&paths(), RescanMode::Auto), &ctx(&|| None))
    }

    /// Log entries between the first `from` and the first `to` (exclusive).
    fn between(log: &[String], from: &str, to: &str) -> Vec<String> {
        let start = log.iter().position(|e| e == from).expect(from) + 1;
        let end = log.iter().position(|e| e == to).expect(to);
        log[start..end].to_vec()
    }

    #[test]
    fn snapshots_every_disk_but_cdrom_cloudinit_and_unused() {
        let b = Double::vm();
        let set = create(&b, 100, &opts(Consistency::None)).unwrap();
        assert_eq!(set.timestamp, TS);
        let keys: Vec<_> = set.disks.iter().map(|d| d.key.clone().unwrap()).collect();
        assert_eq!(keys, ["scsi0", "virtio0", "efidisk0", "tpmstate0"]);
        assert_eq!(
            set.disks[0].snapshot,
            format!("ONTAP01:100/vm-100-disk-0-snapshot-{TS}.qcow2")
        );
        assert_eq!(set.disks[0].disk, "ONTAP01:100/vm-100-disk-0.qcow2");
        assert_eq!(set.disks[0].size, Some(32 << 30));
        assert!(set.skipped.is_empty());
        let mut files = b.snapshot_files(&volume_uuid("ONTAP01"));
        files.sort();
        assert_eq!(
            files,
            [
                format!("images/100/vm-100-disk-0-snapshot-{TS}.qcow2"),
                format!("images/100/vm-100-disk-1-snapshot-{TS}.raw"),
                format!("images/100/vm-100-disk-2-snapshot-{TS}.raw"),
                format!("images/100/vm-100-disk-3-snapshot-{TS}.raw"),
            ]
        );
        assert_eq!(set.notes, ["not on a Proxmox node: no rescan"]);
        // One listing for the one directory, no deletes.
        let log = b.calls();
        assert_eq!(
            log.iter()
                .filter(|e| e.starts_with("ontap.list_dir"))
                .count(),
            1
        );
        assert!(!log.iter().any(|e| e.starts_with("ontap.delete_file")));
    }

    #[test]
    fn lookups_happen_before_the_pause_and_the_window_holds_only_clones() {
        let b = Double::vm();
        let set = create(&b, 100, &opts(Consistency::Suspend)).unwrap();
        assert_eq!(set.disks.len(), 4);
        let log = b.calls();
        let inside = between(&log, "pve.suspend 100", "pve.resume 100");
        assert_eq!(inside.len(), 4, "{log:?}");
        assert!(
            inside.iter().all(|e| e.starts_with("ontap.clone_file ")),
            "{inside:?}"
        );
        let before = between(&log, "pve.guests", "pve.suspend 100");
        for lookup in [
            "pve.guest_config 100",
            "pve.guest_status 100",
            "pve.storages",
            "pve.storage ONTAP01",
        ] {
            assert!(
                before.contains(&lookup.to_string()),
                "{lookup} not before: {log:?}"
            );
        }
        assert!(before.iter().any(|e| e.starts_with("ontap.list_dir")));
        // The set's configuration is recorded before the pause; nothing but the rescan decision
        // after the resume.
        let record = format!(
            "ontap.write_file {}",
            manifest::set_path(100, &set.timestamp)
        );
        assert!(before.iter().any(|e| e.ends_with(&record)), "{before:?}");
        let after_resume = &log[log.iter().position(|e| e == "pve.resume 100").unwrap() + 1..];
        assert!(after_resume.is_empty(), "{after_resume:?}");
        assert_eq!(b.state_of(100), "running");
    }

    #[test]
    fn freeze_window_holds_only_clones() {
        let b = Double::vm();
        create(&b, 100, &opts(Consistency::Freeze)).unwrap();
        let log = b.calls();
        assert!(
            log.iter().position(|e| e == "pve.agent_ping 100")
                < log.iter().position(|e| e == "pve.fsfreeze_freeze 100")
        );
        let inside = between(&log, "pve.fsfreeze_freeze 100", "pve.fsfreeze_thaw 100");
        assert!(
            inside.iter().all(|e| e.starts_with("ontap.clone_file ")) && inside.len() == 4,
            "{log:?}"
        );
        assert!(!b.is_frozen(100));
    }

    #[test]
    fn shutdown_then_start() {
        let b = Double::vm();
        create(&b, 100, &opts(Consistency::Shutdown)).unwrap();
        let log = b.calls();
        let inside = between(&log, "pve.shutdown 100", "pve.start 100");
        assert_eq!(inside.len(), 4);
        assert_eq!(b.state_of(100), "running");
    }

    #[test]
    fn clones_are_issued_concurrently() {
        let b = Double::vm();
        b.world().gate = Some(4);
        create(&b, 106, &opts(Consistency::Suspend)).unwrap();
        // Every clone waited at the gate until all four had started.
        assert_eq!(b.max_in_flight(), 4);
        // Two storages, two directories: one listing each, one resolution each.
        let log = b.calls();
        assert_eq!(
            log.iter()
                .filter(|e| e.starts_with("ontap.list_dir"))
                .count(),
            2
        );
        assert_eq!(
            log.iter()
                .filter(|e| e.starts_with("pve.storage ONTAP0"))
                .count(),
            2
        );
    }

    #[test]
    fn third_of_four_clones_failing_removes_the_others_and_names_the_disk() {
        let b = Double::vm();
        b.world().fail_clone = Some("vm-106-disk-2-snapshot".into());
        let e = create(&b, 106, &opts(Consistency::Suspend)).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("disk scsi2 (ONTAP02:106/vm-106-disk-2.raw)"),
            "{msg}"
        );
        assert!(msg.contains("Clone start failed"), "{msg}");
        assert!(
            msg.contains("clones made in this run were deleted"),
            "{msg}"
        );
        assert!(b.snapshot_files(&volume_uuid("ONTAP01")).is_empty());
        assert!(b.snapshot_files(&volume_uuid("ONTAP02")).is_empty());
        assert_eq!(b.state_of(106), "running");
        // The deletes come after the resume.
        let log = b.calls();
        let resume = log.iter().position(|e| e == "pve.resume 106").unwrap();
        let first_delete = log
            .iter()
            .position(|e| e.starts_with("ontap.delete_file"))
            .unwrap();
        assert!(resume < first_delete, "{log:?}");
        let deletes: Vec<&String> = log
            .iter()
            .filter(|e| e.starts_with("ontap.delete_file"))
            .collect();
        // Three clones, then the set's configuration: no set, no record of it.
        assert_eq!(deletes.len(), 4, "{deletes:?}");
        assert!(
            deletes[3].contains(".pve-ontap-snapshot/sets/106/"),
            "{deletes:?}"
        );
        assert!(!b
            .world()
            .file_data
            .keys()
            .any(|(_, p)| p.contains(".pve-ontap-snapshot/sets/106/")));
    }

    #[test]
    fn signal_inside_the_window_resumes_at_once_and_leaves_nothing() {
        let b = Double::vm();
        let flag = Arc::new(AtomicBool::new(false));
        {
            let mut o = b.world();
            o.signal_on_clone = Some(flag.clone());
            // The clones finish only after the guest was resumed: the resume does not wait for them.
            o.clone_waits_for = Some("pve.resume 106".into());
        }
        let check = || flag.load(Ordering::SeqCst).then(|| "SIGTERM".to_string());
        let e = run(
            &b,
            106,
            &opts(Consistency::Suspend),
            (&paths(), RescanMode::Auto),
            &ctx(&check),
        )
        .unwrap_err();
        assert!(
            matches!(e.root(), Error::Interrupted(s) if s == "SIGTERM"),
            "{e}"
        );
        assert_eq!(b.state_of(106), "running");
        assert!(b.snapshot_files(&volume_uuid("ONTAP01")).is_empty());
        assert!(b.snapshot_files(&volume_uuid("ONTAP02")).is_empty());
    }

    #[test]
    fn every_window_is_guarded_and_a_window_past_its_bound_throws_the_run_away() {
        let b = Double::vm();
        create(&b, 100, &opts(Consistency::None)).unwrap();
        assert!(b.world().guards.is_empty());
        create(&b, 100, &opts(Consistency::Suspend)).unwrap();
        assert_eq!(b.world().guards, ["arm 100:Pause 60s", "release"]);

        let b = Double::vm();
        b.world().guard_expired = true;
        let mut o = opts(Consistency::Shutdown);
        o.max_pause = Some(Duration::from_secs(5));
        let e = create(&b, 106, &o).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("reached its bound (--max-pause 5s)"), "{msg}");
        assert!(
            msg.contains("clones made in this run were deleted"),
            "{msg}"
        );
        assert!(matches!(e.root(), Error::Bound(_)), "{e:?}");
        assert!(b.snapshot_files(&volume_uuid("ONTAP01")).is_empty());
        assert!(b.snapshot_files(&volume_uuid("ONTAP02")).is_empty());
        assert_eq!(b.state_of(106), "running");
        assert_eq!(b.world().guards[0], "arm 106:Shutdown 5s");
    }

    #[test]
    fn resume_is_guaranteed_when_a_clone_panics() {
        let b = Double::vm();
        b.world().clone_panics = true;
        let e = create(&b, 104, &opts(Consistency::Suspend)).unwrap_err();
        assert!(e.to_string().contains("panicked"), "{e}");
        assert_eq!(b.state_of(104), "running");
    }

    #[test]
    fn stopped_guest_with_suspend_is_just_cloned_with_a_note() {
        let b = Double::vm();
        let set = create(&b, 102, &opts(Consistency::Suspend)).unwrap();
        assert_eq!(set.disks.len(), 1);
        assert!(
            set.notes[0].contains("guest 102 is stopped"),
            "{:?}",
            set.notes
        );
        assert!(!b.calls().iter().any(|e| e.starts_with("pve.suspend")));
    }

    #[test]
    fn freeze_without_agent_touches_nothing() {
        for vmid in [101, 104] {
            let b = Double::vm();
            b.world().agent_dead = true;
            let e = create(&b, vmid, &opts(Consistency::Freeze)).unwrap_err();
            assert!(e.to_string().contains("cannot freeze guest"), "{e}");
            let log = b.calls();
            assert!(
                !log.iter()
                    .any(|e| e.starts_with("pve.fsfreeze_freeze")
                        || e.starts_with("ontap.clone_file")),
                "{log:?}"
            );
        }
    }

    #[test]
    fn disks_on_other_storages_are_skipped_or_refused_with_strict() {
        let b = Double::vm();
        let set = create(&b, 101, &opts(Consistency::None)).unwrap();
        assert_eq!(set.disks.len(), 1);
        assert_eq!(set.skipped.len(), 1);
        assert_eq!(set.skipped[0].key, "scsi1");
        assert!(
            set.skipped[0].reason.contains("lvmthin"),
            "{:?}",
            set.skipped
        );

        let b = Double::vm();
        let mut o = opts(Consistency::Suspend);
        o.strict = true;
        let e = create(&b, 101, &o).unwrap_err();
        assert!(e.to_string().contains("--strict"), "{e}");
        assert!(
            e.to_string().contains("scsi1 (local-lvm:vm-101-disk-1)"),
            "{e}"
        );
        assert!(!b
            .calls()
            .iter()
            .any(|e| e.starts_with("pve.suspend") || e.starts_with("ontap.clone_file")));
    }

    #[test]
    fn guest_without_ontap_disks_is_refused() {
        let b = Double::vm();
        let e = create(&b, 107, &opts(Consistency::Suspend)).unwrap_err();
        assert!(
            e.to_string()
                .contains("guest 107 has no disk on an ONTAP-backed storage"),
            "{e}"
        );
        assert!(e.to_string().contains("lvmthin"), "{e}");
    }

    #[test]
    fn container_suspend_is_refused_before_any_change() {
        let b = Double::vm();
        let e = create(&b, 200, &opts(Consistency::Suspend)).unwrap_err();
        assert!(
            e.to_string().contains("cannot suspend container 200"),
            "{e}"
        );
        assert!(e.to_string().contains("--shutdown"), "{e}");
        assert!(!b.calls().iter().any(|e| e.starts_with("pve.suspend")
            || e.starts_with("pve.shutdown")
            || e.contains("clone")));
        assert!(b.snapshot_files(&volume_uuid("ONTAP01")).is_empty());
        assert!(b.snapshot_files(&volume_uuid("ONTAP02")).is_empty());
        assert_eq!(b.state_of(200), "running");
    }

    #[test]
    fn unknown_guest() {
        let b = Double::vm();
        let e = create(&b, 999, &opts(Consistency::None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "look up guest 999 (Proxmox VE lists a guest only to accounts with VM.Audit on \
             /vms/999): guest 999 not found"
        );
    }

    #[test]
    fn volume_chain_storage_is_refused_with_the_reason() {
        let b = Double::vm();
        let e = create(&b, 108, &opts(Consistency::Suspend)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("snapshot-as-volume-chain"), "{msg}");
        assert!(msg.contains("incomplete"), "{msg}");
        assert!(msg.contains("scsi1"), "{msg}");
        assert!(!b.calls().iter().any(|e| e.starts_with("pve.suspend")));
    }

    #[test]
    fn existing_destination_and_missing_source_are_refused_before_the_pause() {
        let b = Double::vm();
        b.add_file(
            &volume_uuid("ONTAP01"),
            &format!("images/100/vm-100-disk-1-snapshot-{TS}.raw"),
            1,
        );
        let e = create(&b, 100, &opts(Consistency::Suspend)).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert!(e.to_string().contains("virtio0"), "{e}");
        assert!(!b
            .calls()
            .iter()
            .any(|e| e.starts_with("pve.suspend") || e.starts_with("ontap.clone_file")));

        let b = Double::vm();
        b.remove_file(&volume_uuid("ONTAP01"), "images/100/vm-100-disk-3.raw");
        let e = create(&b, 100, &opts(Consistency::Suspend)).unwrap_err();
        assert!(
            e.to_string().contains("images/100/vm-100-disk-3.raw"),
            "{e}"
        );
        assert!(e.to_string().contains("tpmstate0"), "{e}");
        assert!(!b
            .calls()
            .iter()
            .any(|e| e.starts_with("pve.suspend") || e.starts_with("ontap.clone_file")));
    }

    #[test]
    fn a_second_set_in_the_same_second_takes_the_next_free_second() {
        let b = Double::vm();
        let first = create(&b, 200, &opts(Consistency::None)).unwrap();
        assert_eq!(first.timestamp, TS);
        // The clock has not moved: the complete set of this second is stepped around, not refused.
        let second = create(&b, 200, &opts(Consistency::None)).unwrap();
        assert_eq!(second.timestamp, "2026-05-01_10:20:31+0000");
        let third = create(&b, 200, &opts(Consistency::None)).unwrap();
        assert_eq!(third.timestamp, "2026-05-01_10:20:32+0000");
        assert_eq!(b.snapshot_files(&volume_uuid("ONTAP02")).len(), 3);
        // Another label is another name: it keeps the current second.
        let mut o = opts(Consistency::None);
        o.label = Some("daily".into());
        assert_eq!(create(&b, 200, &o).unwrap().timestamp, TS);
    }

    #[test]
    fn labels_go_into_the_file_names() {
        let b = Double::vm();
        let mut o = opts(Consistency::None);
        o.label = Some("daily".into());
        let set = create(&b, 200, &o).unwrap();
        assert_eq!(set.label.as_deref(), Some("daily"));
        assert_eq!(
            set.disks[0].snapshot,
            format!("ONTAP02:200/vm-200-disk-0-snapshot-daily-{TS}.raw")
        );
        assert_eq!(set.disks[0].key.as_deref(), Some("rootfs"));
        assert_eq!(set.disks[1].key.as_deref(), Some("mp0"));

        o.label = Some("bad label".into());
        let e = create(&b, 200, &o).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
