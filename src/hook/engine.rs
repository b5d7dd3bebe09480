//! What a hook phase or a schedule does: storage snapshots under the storage locks (coalesced, then
//! pruned), VM snapshots (pruned, rescan deferred), all bounded by the hook's timeout; one log line each.
//!
//! The calls into the workflows go through the small `Ops` trait: `LiveOps` uses `crate::ops` over the
//! real clients; unit tests substitute a fake to check locking, coalescing and timeouts.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::config::Config;
use crate::error::{Error, Result, ResultExt};
use crate::hook::coalesce::{self, Basis, Record};
use crate::hook::freeze::{FreezeState, Tracked};
use crate::hook::period::{self, Period};
use crate::model::capacity::Capacity;
use crate::model::outcome::{self, Trigger};
use crate::model::policy::{Action, OnError, PhasePolicy};
use crate::model::retention::Retention;
use crate::ops::manifest;
use crate::ops::quiesce::Consistency;
use crate::ops::rescan::RescanMode;
use crate::ops::storage::{self, SnapshotRow};
use crate::ops::{disks, vm, Backends};
use crate::sys::cluster_lock::{self, Timing};
use crate::sys::journal::{self, Journal};
use crate::sys::lock::StorageLock;
use crate::sys::paths::Paths;

/// When the hook started: the wall clock for coalescing, the monotonic clock for deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    pub wall: SystemTime,
    pub mono: Instant,
}

impl Start {
    pub fn now() -> Start {
        Start {
            wall: SystemTime::now(),
            mono: Instant::now(),
        }
    }
}

/// The workflow calls hooks and schedules make.
pub trait Ops: Send + Sync {
    /// Storage ids of the guest's attached disks (not unused disks, not CD-ROMs), without duplicates.
    fn guest_storages(&self, vmid: u32) -> Result<Vec<String>>;
    fn list(&self, storage: &str) -> Result<Vec<SnapshotRow>>;
    /// Snapshot `storage`, first recording the configurations `record` names in its volume.
    fn create(
        &self,
        storage: &str,
        opts: &storage::CreateOptions,
        record: manifest::Record,
    ) -> Result<SnapshotRow>;
    fn prune(&self, storage: &str, opts: &storage::PruneOptions) -> Result<storage::PruneReport>;
    /// Disk snapshots, then the rescan (`opts.rescan`) deferred as `rescan` says.
    fn vm_create(
        &self,
        vmid: u32,
        opts: &vm::CreateOptions,
        rescan: RescanMode,
    ) -> Result<vm::SnapshotSet>;
    fn vm_prune(&self, vmid: u32, retention: Retention, label: &str) -> Result<vm::PruneReport>;
    /// The node the guest runs on now.
    fn guest_node(&self, vmid: u32) -> Result<String>;
    /// The guest's disk snapshot sets.
    fn vm_sets(&self, vmid: u32) -> Result<Vec<vm::SnapshotSet>>;
    /// The hook stopped waiting: thaw whatever the action froze, block further freezes; log lines.
    fn rescue(&self) -> Vec<String>;
}

/// `Ops` over `crate::ops` and the real clients (connected lazily by the `Backends`).
pub struct LiveOps {
    backends: Arc<Tracked>,
    freeze: Arc<FreezeState>,
    paths: Paths,
}

/// How the engine reaches the APIs: the caller's way of building `Backends` for a config (the
/// live clients connect only when first used, so a phase without action never opens a connection).
pub type Connect = dyn Fn(&Config) -> Result<Arc<dyn Backends>>;

/// The workflows over the backends `connect` builds.
pub(crate) fn live_ops(config: &Config, connect: &Connect) -> Result<Arc<dyn Ops>> {
    Ok(Arc::new(LiveOps::new(
        connect(config)?,
        config.paths.clone(),
    )))
}

impl LiveOps {
    pub fn new(backends: Arc<dyn Backends>, paths: Paths) -> LiveOps {
        let tracked = Tracked::new(backends);
        LiveOps {
            freeze: tracked.state(),
            backends: Arc::new(tracked),
            paths,
        }
    }
}

impl Ops for LiveOps {
    fn guest_storages(&self, vmid: u32) -> Result<Vec<String>> {
        disks::guest_storages(&*self.backends, vmid)
    }

    fn list(&self, storage: &str) -> Result<Vec<SnapshotRow>> {
        storage::list(&*self.backends, storage, false)
    }

    fn create(
        &self,
        storage: &str,
        opts: &storage::CreateOptions,
        record: manifest::Record,
    ) -> Result<SnapshotRow> {
        storage::create_recording(&*self.backends, storage, opts, record)
    }

    fn prune(&self, storage: &str, opts: &storage::PruneOptions) -> Result<storage::PruneReport> {
        storage::prune(&*self.backends, storage, opts)
    }

    fn vm_create(
        &self,
        vmid: u32,
        opts: &vm::CreateOptions,
        rescan: RescanMode,
    ) -> Result<vm::SnapshotSet> {
        vm::create_with_rescan(&*self.backends, vmid, opts, &self.paths, rescan)
    }

    fn vm_prune(&self, vmid: u32, retention: Retention, label: &str) -> Result<vm::PruneReport> {
        vm::prune(&*self.backends, vmid, retention, Some(label), false)
    }

    fn guest_node(&self, vmid: u32) -> Result<String> {
        Ok(self.backends.pve()?.guest(vmid)?.node)
    }

    fn vm_sets(&self, vmid: u32) -> Result<Vec<vm::SnapshotSet>> {
        vm::list(&*self.backends, vmid)
    }

    fn rescue(&self) -> Vec<String> {
        match self.backends.inner_pve() {
            Ok(pve) => self.freeze.rescue(&*pve),
            Err(e) => {
                let frozen = self.freeze.frozen();
                if frozen.is_empty() {
                    Vec::new()
                } else {
                    vec![format!(
                        "could not thaw guests {frozen:?} after the timeout: {e}"
                    )]
                }
            }
        }
    }
}

/// Everything an action needs; shared with the worker thread.
pub struct Ctx {
    pub ops: Arc<dyn Ops>,
    pub paths: Paths,
    /// Whether a storage has an ONTAP cluster in the config (its own section, or its parent's).
    pub is_ontap: IsOntap,
    pub start: Start,
    /// Prefix of every log line: `hook vmid=100 phase=post-stop`.
    pub who: String,
    pub cluster_lock: Timing,
    /// How long a timed-out action may still run to finish the ONTAP request in flight while its
    /// storage locks stay held: twice the longest request timeout (one operation's budget plus
    /// the last request started within it).
    pub linger: Duration,
    /// The capacity guard's thresholds of a storage.
    pub capacity: CapacityOf,
    /// Where each outcome is recorded (None: nowhere).
    pub journal: Option<Journal>,
    /// The journal's view of this run: hook, vzdump or schedule, the phase or schedule name and
    /// the hooked guest.
    pub trigger: Trigger,
    pub source: String,
    pub vmid: Option<u32>,
    /// Failures the actions have recorded (a phase that failed without one records its own).
    pub recorded_failures: AtomicUsize,
}

/// See `Ctx::is_ontap`.
pub type IsOntap = Arc<dyn Fn(&str) -> bool + Send + Sync>;
/// See `Ctx::capacity`.
pub type CapacityOf = Arc<dyn Fn(&str) -> Capacity + Send + Sync>;

impl Ctx {
    /// The context of a hook or schedule run under this config.
    pub fn new(config: &Config, ops: Arc<dyn Ops>, start: Start, who: String) -> Ctx {
        let config_for_filter = config.clone();
        let config_for_capacity = config.clone();
        Ctx {
            ops,
            paths: config.paths.clone(),
            is_ontap: Arc::new(move |s| config_for_filter.ontap_for(s).is_ok()),
            start,
            who,
            cluster_lock: Timing::default(),
            linger: linger(config),
            capacity: Arc::new(move |s| config_for_capacity.capacity_for(s)),
            journal: Some(Journal::new(&config.paths.state_dir)),
            trigger: Trigger::Hook,
            source: String::new(),
            vmid: None,
            recorded_failures: AtomicUsize::new(0),
        }
    }

    /// Record outcomes as `trigger` `source` (phase or schedule name), for guest `vmid`.
    pub fn recording(mut self, trigger: Trigger, source: &str, vmid: Option<u32>) -> Ctx {
        self.trigger = trigger;
        self.source = source.to_string();
        self.vmid = vmid;
        self
    }

    /// Append one outcome to the journal (never fails; a write error is a warning).
    pub fn record(
        &self,
        action: &str,
        fill: impl FnOnce(&mut outcome::Record),
        result: Result<(), &Error>,
    ) {
        let Some(j) = &self.journal else { return };
        let mut r = outcome::Record::now(&journal::node_name(), self.trigger, &self.source, action);
        r.vmid = self.vmid;
        fill(&mut r);
        if let Err(e) = result {
            r = r.failed(&e.to_string());
            self.recorded_failures.fetch_add(1, Ordering::SeqCst);
        }
        j.append(&r);
    }
}

/// Record a phase that failed before its action could start (e.g. the clients could not be built).
pub fn record_early_failure(
    config: &Config,
    trigger: Trigger,
    source: &str,
    vmid: Option<u32>,
    action: Action,
    e: &Error,
) {
    let mut r = outcome::Record::now(&journal::node_name(), trigger, source, action.as_str());
    r.vmid = vmid;
    Journal::new(&config.paths.state_dir).append(&r.failed(&e.to_string()));
}

/// See `Ctx::linger`.
pub fn linger(config: &Config) -> Duration {
    let longest = config
        .storages
        .values()
        .map(|c| c.endpoint.timeouts.request)
        .chain([config.proxmox.endpoint.timeouts.request])
        .max()
        .unwrap_or_default();
    longest * 2 + Duration::from_secs(5)
}

/// How to take one storage snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotSpec {
    pub label: String,
    pub freeze: bool,
    pub retention: Option<Retention>,
    pub expiry: Option<Duration>,
    /// Reuse a snapshot taken since the hook started (hooks: yes; schedules: no).
    pub coalesce: bool,
    pub lock_deadline: Instant,
    /// ONTAP snapshot locking for this long (tamperproof); None: not locked.
    pub lock: Option<Duration>,
    /// Bound on the freeze window (None: the default of a freeze).
    pub max_pause: Option<Duration>,
    /// Schedules: skip the storage when a snapshot with the label was made in this period (by
    /// any node of the cluster).
    pub period: Option<Period>,
}

/// One storage: take its locks, reuse or create the snapshot, prune. Logs one line per decision
/// and records the outcome in the journal.
pub fn storage_snapshot(ctx: &Ctx, storage: &str, spec: &SnapshotSpec) -> Result<()> {
    let result = take_storage_snapshot(ctx, storage, spec);
    let (snapshot, reused) = match &result {
        Ok((name, reused)) => (Some(name.clone()), *reused),
        Err(_) => (None, false),
    };
    ctx.record(
        "storage-snapshot",
        |r| {
            r.storage = Some(storage.to_string());
            r.label = Some(spec.label.clone());
            r.snapshot = snapshot;
            r.reused = reused;
        },
        result.as_ref().map(|_| ()),
    );
    result.map(|_| ())
}

/// The work of `storage_snapshot`: the snapshot's name and whether it was reused.
fn take_storage_snapshot(ctx: &Ctx, storage: &str, spec: &SnapshotSpec) -> Result<(String, bool)> {
    let who = &ctx.who;
    let purpose = format!("{who} action=storage-snapshot");
    let lock = StorageLock::acquire(
        &ctx.paths.places(),
        storage,
        &purpose,
        spec.lock_deadline,
        &ctx.cluster_lock,
    )
    .step_with(|| format!("lock storage '{storage}'"))?;
    if let Some(period) = &spec.period {
        let rows = ctx
            .ops
            .list(storage)
            .step_with(|| format!("list the snapshots of storage '{storage}'"))?;
        if let Some(row) = period::storage_snapshot_of(&rows, &spec.label, period) {
            log::info!(
                "{who} action=storage-snapshot storage={storage} result=skipped: {} was taken in \
                 this period ({}) already, on this or another node",
                row.name,
                period.show()
            );
            return Ok((row.name.clone(), true));
        }
    }
    let record_path = coalesce::record_path(&ctx.paths.lock_dir, storage);
    if spec.coalesce {
        let rows = ctx
            .ops
            .list(storage)
            .step_with(|| format!("list the snapshots of storage '{storage}'"))?;
        let record = Record::read(&record_path);
        if let Some((row, basis)) =
            coalesce::reusable(&rows, record.as_ref(), &spec.label, ctx.start.wall)
        {
            let why = match basis {
                Basis::Recorded => "requested after this hook started",
                Basis::CreateTime => "created after this hook started",
            };
            log::info!(
                "{who} action=storage-snapshot storage={storage} result=reused {} ({why})",
                row.name
            );
            return Ok((row.name.clone(), true));
        }
    }
    lock.check_held()?;
    let requested = SystemTime::now();
    let row = ctx
        .ops
        .create(
            storage,
            &storage::CreateOptions {
                label: Some(spec.label.clone()),
                expiry: spec.expiry,
                freeze: spec.freeze,
                lock: spec.lock,
                capacity: (ctx.capacity)(storage),
                max_pause: spec.max_pause,
            },
            // A hook records the guest it runs for (its own file only: no cluster-wide read on
            // a guest's start or stop); a schedule or a backup job records every guest.
            ctx.vmid
                .map_or(manifest::Record::AllOrWarn, manifest::Record::Guest),
        )
        .step_with(|| format!("snapshot storage '{storage}'"))?;
    let record = Record {
        requested,
        label: spec.label.clone(),
        uuid: row.uuid.clone(),
        name: row.name.clone(),
    };
    if let Err(e) = record.write(&record_path) {
        log::warn!(
            "{who} could not write '{}' (later hooks will not reuse this snapshot): {e}",
            record_path.display()
        );
    }
    log::info!(
        "{who} action=storage-snapshot storage={storage} result=created {}",
        row.name
    );
    if let Some(retention) = spec.retention {
        // Pruning deletes: not after the time limit, nor without the lock.
        lock.check_held()?;
        let pruned = ctx.ops.prune(
            storage,
            &storage::PruneOptions {
                retention,
                label: Some(spec.label.clone()),
                dry_run: false,
            },
        );
        log_prune(
            who,
            &format!("storage={storage}"),
            &spec.label,
            pruned.map(|r| r.deleted),
        );
    }
    drop(lock);
    Ok((row.name, false))
}

/// A failed prune is logged and does not fail the action: the snapshot it was for exists.
fn log_prune(who: &str, target: &str, label: &str, deleted: Result<Vec<String>>) {
    match deleted {
        Ok(d) if d.is_empty() => {
            log::debug!("{who} action=prune {target} label={label} result=nothing to delete")
        }
        Ok(d) => log::info!(
            "{who} action=prune {target} label={label} result=deleted {}",
            d.join(",")
        ),
        Err(e) => log::error!("{who} action=prune {target} label={label} result=failed: {e}"),
    }
}

/// Disk snapshots of one guest, the rescan (deferred as `rescan` says), then prune.
pub fn vm_snapshot(
    ctx: &Ctx,
    vmid: u32,
    consistency: Consistency,
    label: &str,
    retention: Option<Retention>,
    (rescan, max_pause): (RescanMode, Option<Duration>),
) -> Result<()> {
    let result = take_vm_snapshot(
        ctx,
        vmid,
        consistency,
        label,
        retention,
        (rescan, max_pause),
    );
    let set = result.as_ref().ok().cloned();
    ctx.record(
        "vm-snapshot",
        |r| {
            r.vmid = Some(vmid);
            r.label = Some(label.to_string());
            r.snapshot = set;
        },
        result.as_ref().map(|_| ()),
    );
    result.map(|_| ())
}

/// The work of `vm_snapshot`: the new disk set's time stamp.
fn take_vm_snapshot(
    ctx: &Ctx,
    vmid: u32,
    consistency: Consistency,
    label: &str,
    retention: Option<Retention>,
    (rescan, max_pause): (RescanMode, Option<Duration>),
) -> Result<String> {
    let who = &ctx.who;
    let opts = vm::CreateOptions {
        consistency,
        label: Some(label.to_string()),
        strict: false,
        rescan: true,
        max_pause,
    };
    let set = ctx
        .ops
        .vm_create(vmid, &opts, rescan)
        .step_with(|| format!("snapshot the disks of guest {vmid}"))?;
    log::info!(
        "{who} action=vm-snapshot vmid={vmid} result=created {} disks={} skipped={}",
        set.timestamp,
        set.disks.len(),
        set.skipped.len()
    );
    // The notes include what became of the rescan.
    for note in &set.notes {
        log::info!("{who} action=vm-snapshot vmid={vmid} note: {note}");
    }
    if let Some(retention) = retention {
        let pruned = ctx.ops.vm_prune(vmid, retention, label);
        log_prune(
            who,
            &format!("vmid={vmid}"),
            label,
            pruned.map(|r| r.deleted),
        );
    }
    Ok(set.timestamp)
}

/// Run `work` on a worker thread and stop waiting at `deadline`; on timeout the action is rescued
/// (frozen guests thawed, no new freeze) and the error says what timed out.
///
/// A worker that holds cluster locks at the time limit keeps them: they are marked abandoned (the
/// worker changes nothing more, `check_held` fails) but stay refreshed, and this waits up to
/// `linger` for the worker to return and release them, so that no ONTAP request it has in flight
/// runs without the lock. A worker still busy after `linger` is left behind with its locks held:
/// the process exits without removing them and pmxcfs expires them 120 s after the last refresh.
pub fn bounded(
    ops: &dyn Ops,
    start: Instant,
    deadline: Instant,
    linger: Duration,
    what: &str,
    work: impl FnOnce() -> Result<()> + Send + 'static,
) -> Result<()> {
    static SCOPES: AtomicU64 = AtomicU64::new(1);
    let scope = SCOPES.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("hook-action".into())
        .spawn(move || {
            cluster_lock::set_scope(scope);
            let r = panic::catch_unwind(AssertUnwindSafe(work));
            let _ = tx.send(r);
        })
        .map_err(|e| Error::Internal(format!("could not start {what}: {e}")))?;
    match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Error::Internal(format!(
                "{what} failed unexpectedly: {msg}"
            )))
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            for line in ops.rescue() {
                log::warn!("{what}: {line}");
            }
            let held = cluster_lock::abandon_scope(scope);
            if !held.is_empty() {
                let shown: Vec<String> =
                    held.iter().map(|p| format!("'{}'", p.display())).collect();
                log::warn!(
                    "{what}: time limit reached; keeping cluster lock {} until the ONTAP request \
                     in flight has ended (at most {}s), nothing more is changed",
                    shown.join(", "),
                    linger.as_secs()
                );
                match rx.recv_timeout(linger) {
                    Ok(_) => log::warn!(
                        "{what}: released cluster lock {} after the request in flight ended",
                        shown.join(", ")
                    ),
                    Err(_) => log::error!(
                        "{what}: the request in flight did not end within {}s; leaving cluster \
                         lock {} for pmxcfs to expire",
                        linger.as_secs(),
                        shown.join(", ")
                    ),
                }
            }
            Err(Error::Timeout {
                what: what.to_string(),
                waited: deadline.saturating_duration_since(start),
            })
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(Error::Internal(format!("{what} ended without a result")))
        }
    }
}

/// One hook phase with an action.
#[derive(Debug, Clone)]
pub struct PhaseRun {
    pub policy: PhasePolicy,
    /// The hooked guest (None for vzdump job phases).
    pub vmid: Option<u32>,
    pub rescan: RescanMode,
    /// What a failure with `on-error = abort` does, e.g. "aborting the start of guest 100".
    pub consequence: String,
}

/// Run the phase's action within its timeout and turn the outcome into the exit code Proxmox sees.
pub fn run_phase(ctx: Ctx, run: PhaseRun) -> u8 {
    let ctx = Arc::new(ctx);
    let pp = run.policy.clone();
    let what = format!("{} action={}", ctx.who, pp.action);
    let deadline = ctx.start.mono + pp.timeout;
    let result = {
        let (worker, pp) = (Arc::clone(&ctx), pp.clone());
        let (vmid, rescan) = (run.vmid, run.rescan);
        bounded(
            &*ctx.ops,
            ctx.start.mono,
            deadline,
            ctx.linger,
            &what,
            move || phase_action(&worker, &pp, vmid, rescan),
        )
    };
    if let Err(e) = &result {
        // A failure no action recorded (no storage found, a timeout, ...).
        if ctx.recorded_failures.load(Ordering::SeqCst) == 0 {
            ctx.record(pp.action.as_str(), |_| {}, Err(e));
        }
    }
    finish(&ctx.who, &pp, result, &run.consequence)
}

fn phase_action(ctx: &Ctx, pp: &PhasePolicy, vmid: Option<u32>, rescan: RescanMode) -> Result<()> {
    let who = &ctx.who;
    match pp.action {
        Action::None => Ok(()),
        Action::VmSnapshot => {
            let vmid = vmid
                .ok_or_else(|| Error::Refused(format!("{} has no guest to snapshot", pp.phase)))?;
            // Inside a hook the guest is never suspended or shut down: freeze at most.
            let consistency = if pp.freeze && !pp.phase.guest_off() {
                Consistency::Freeze
            } else {
                Consistency::None
            };
            vm_snapshot(
                ctx,
                vmid,
                consistency,
                &pp.label,
                pp.retention(),
                (rescan, pp.max_pause),
            )
        }
        Action::StorageSnapshot => {
            let storages = match (&pp.storages, vmid) {
                (Some(list), _) => list.clone(),
                (None, Some(vmid)) => {
                    let all = ctx
                        .ops
                        .guest_storages(vmid)
                        .step_with(|| format!("find the storages of guest {vmid}"))?;
                    let (ontap, other): (Vec<String>, Vec<String>) =
                        all.into_iter().partition(|s| (ctx.is_ontap)(s));
                    if ontap.is_empty() {
                        let on = if other.is_empty() {
                            "it has no disks".to_string()
                        } else {
                            format!("its disks are on {}", other.join(", "))
                        };
                        log::info!(
                            "{who} action=storage-snapshot result=skipped: guest {vmid} has no \
                             disk on an ONTAP storage with a config section ({on})"
                        );
                        return Ok(());
                    }
                    if !other.is_empty() {
                        log::debug!("{who} not ONTAP, not snapshotted: {}", other.join(", "));
                    }
                    ontap
                }
                (None, None) => {
                    return Err(Error::Refused(format!(
                        "{} has no guest whose storages to snapshot; set 'storages'",
                        pp.phase
                    )))
                }
            };
            let spec = SnapshotSpec {
                label: pp.label.clone(),
                freeze: pp.freeze,
                retention: pp.retention(),
                expiry: None,
                coalesce: true,
                lock_deadline: ctx.start.mono + pp.lock_timeout,
                lock: pp.lock,
                max_pause: pp.max_pause,
                period: None,
            };
            let mut errors: Vec<Error> = storages
                .iter()
                .filter_map(|s| storage_snapshot(ctx, s, &spec).err())
                .collect();
            match errors.len() {
                0 => Ok(()),
                1 => Err(errors.remove(0)),
                _ => Err(Error::Refused(
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; "),
                )),
            }
        }
    }
}

/// Log the outcome (one line) and choose the exit code: 0 unless it failed with `on-error = abort`.
pub fn finish(who: &str, pp: &PhasePolicy, result: Result<()>, consequence: &str) -> u8 {
    let e = match result {
        Ok(()) => return 0,
        Err(e) => e,
    };
    match pp.on_error {
        OnError::Continue => {
            log::error!(
                "{who} action={} result=failed (on-error=continue: exit 0, Proxmox carries on): {e}",
                pp.action
            );
            0
        }
        OnError::Abort => {
            log::error!(
                "{who} action={} result=failed (on-error=abort: {consequence}): {e}",
                pp.action
            );
            e.exit_code().max(1)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::policy::Phase;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    /// A fake ONTAP+Proxmox behind the `Ops` seam: snapshots per storage, counters, optional delays.
    #[derive(Default)]
    pub struct FakeOps {
        pub snapshots: Mutex<Vec<SnapshotRow>>,
        pub creates: AtomicUsize,
        /// Calls of `create` (counted before its delay).
        pub entered: AtomicUsize,
        pub lists: AtomicUsize,
        /// What each `create` was asked to record.
        pub records: Mutex<Vec<manifest::Record>>,
        pub prunes: Mutex<Vec<(String, storage::PruneOptions)>>,
        pub vm_creates: Mutex<Vec<(u32, Consistency, Option<String>)>>,
        pub vm_prunes: Mutex<Vec<(u32, Retention, String)>>,
        pub rescans: Mutex<Vec<(u32, RescanMode)>>,
        pub rescued: AtomicUsize,
        pub guest_disks: Mutex<Vec<(u32, Vec<String>)>>,
        pub create_delay: Option<Duration>,
        pub fail_create: Option<String>,
        /// Node of every guest (None: "pve1").
        pub guest_node: Option<String>,
        /// Disk sets `vm_sets` answers.
        pub sets: Mutex<Vec<vm::SnapshotSet>>,
    }

    impl Ops for FakeOps {
        fn guest_storages(&self, vmid: u32) -> Result<Vec<String>> {
            let g = self.guest_disks.lock().unwrap();
            g.iter()
                .find(|(v, _)| *v == vmid)
                .map(|(_, s)| s.clone())
                .ok_or_else(|| Error::NotFound {
                    what: format!("guest {vmid}"),
                })
        }
        fn list(&self, storage: &str) -> Result<Vec<SnapshotRow>> {
            self.lists.fetch_add(1, Ordering::SeqCst);
            let s = self.snapshots.lock().unwrap();
            Ok(s.iter().filter(|r| r.storage == storage).cloned().collect())
        }
        fn create(
            &self,
            storage: &str,
            opts: &storage::CreateOptions,
            record: manifest::Record,
        ) -> Result<SnapshotRow> {
            self.entered.fetch_add(1, Ordering::SeqCst);
            self.records.lock().unwrap().push(record);
            if let Some(d) = self.create_delay {
                thread::sleep(d);
            }
            if let Some(msg) = &self.fail_create {
                return Err(Error::Refused(msg.clone()));
            }
            let n = self.creates.fetch_add(1, Ordering::SeqCst);
            let now = time::OffsetDateTime::now_utc();
            let row = SnapshotRow {
                storage: storage.into(),
                volume: storage.into(),
                name: format!("proxmox_snapshot_{n}"),
                uuid: format!("uuid-{n}"),
                create_time: now
                    .replace_nanosecond(0)
                    .unwrap()
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap(),
                size: None,
                label: opts.label.clone(),
                expiry_time: None,
                lock_expiry: None,
                comment: None,
                managed: true,
                clones: vec![],
                notes: vec![],
            };
            self.snapshots.lock().unwrap().push(row.clone());
            Ok(row)
        }
        fn prune(
            &self,
            storage: &str,
            opts: &storage::PruneOptions,
        ) -> Result<storage::PruneReport> {
            self.prunes
                .lock()
                .unwrap()
                .push((storage.into(), opts.clone()));
            Ok(storage::PruneReport {
                storage: storage.into(),
                kept: vec![],
                deleted: vec!["old".into()],
                dry_run: false,
                protected: vec![],
            })
        }
        fn vm_create(
            &self,
            vmid: u32,
            opts: &vm::CreateOptions,
            rescan: RescanMode,
        ) -> Result<vm::SnapshotSet> {
            if let Some(msg) = &self.fail_create {
                return Err(Error::Refused(msg.clone()));
            }
            assert!(opts.rescan);
            self.rescans.lock().unwrap().push((vmid, rescan));
            self.vm_creates
                .lock()
                .unwrap()
                .push((vmid, opts.consistency, opts.label.clone()));
            Ok(vm::SnapshotSet {
                vmid,
                timestamp: "2026-11-01_10:00:00+0000".into(),
                label: opts.label.clone(),
                disks: vec![vm::SnapshotDisk {
                    key: Some("scsi0".into()),
                    storage: "ONTAP01".into(),
                    disk: format!("ONTAP01:{vmid}/vm-{vmid}-disk-0.raw"),
                    snapshot: "x".into(),
                    size: None,
                }],
                skipped: vec![],
                notes: vec![],
                partial: None,
            })
        }
        fn vm_prune(
            &self,
            vmid: u32,
            retention: Retention,
            label: &str,
        ) -> Result<vm::PruneReport> {
            self.vm_prunes
                .lock()
                .unwrap()
                .push((vmid, retention, label.into()));
            Ok(vm::PruneReport {
                vmid,
                kept: vec![],
                deleted: vec![],
                dry_run: false,
            })
        }
        fn guest_node(&self, _vmid: u32) -> Result<String> {
            Ok(self.guest_node.clone().unwrap_or_else(|| "pve1".into()))
        }
        fn vm_sets(&self, vmid: u32) -> Result<Vec<vm::SnapshotSet>> {
            let sets = self.sets.lock().unwrap();
            Ok(sets.iter().filter(|s| s.vmid == vmid).cloned().collect())
        }
        fn rescue(&self) -> Vec<String> {
            self.rescued.fetch_add(1, Ordering::SeqCst);
            vec![]
        }
    }

    pub struct Tmp(pub PathBuf);

    impl Tmp {
        pub fn new(tag: &str) -> Tmp {
            let p = std::env::temp_dir().join(format!(
                "pos-engine-{tag}-{}-{:?}",
                std::process::id(),
                thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            Tmp(p)
        }

        /// Proxmox's paths below the temp dir (`etc/pve/priv` only where a test creates it).
        pub fn paths(&self) -> Paths {
            Paths::under(&self.0)
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub fn ctx(ops: Arc<dyn Ops>, paths: Paths, who: &str) -> Ctx {
        Ctx {
            ops,
            paths,
            is_ontap: Arc::new(|s| s.starts_with("ONTAP")),
            start: Start::now(),
            who: who.into(),
            cluster_lock: Timing::default(),
            linger: Duration::from_secs(10),
            capacity: Arc::new(|_| Capacity::default()),
            journal: None,
            trigger: Trigger::Hook,
            source: String::new(),
            vmid: None,
            recorded_failures: AtomicUsize::new(0),
        }
    }

    fn policy(action: Action, phase: Phase) -> PhasePolicy {
        PhasePolicy {
            phase,
            action,
            label: "hook".into(),
            keep: Some(3),
            keep_within: None,
            freeze: true,
            timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(20),
            on_error: OnError::Continue,
            storages: None,
            lock: None,
            max_pause: None,
            source: String::new(),
        }
    }

    #[test]
    fn twenty_concurrent_hooks_share_one_or_two_snapshots() {
        let tmp = Tmp::new("twenty");
        std::fs::create_dir_all(tmp.0.join("etc/pve/priv")).unwrap();
        let ops = Arc::new(FakeOps {
            create_delay: Some(Duration::from_millis(20)),
            ..FakeOps::default()
        });
        let barrier = Arc::new(std::sync::Barrier::new(20));
        let threads: Vec<_> = (0..20u32)
            .map(|i| {
                let (ops, paths, barrier) = (ops.clone(), tmp.paths(), barrier.clone());
                thread::spawn(move || {
                    barrier.wait();
                    let c = ctx(
                        ops,
                        paths,
                        &format!("hook vmid={} phase=post-stop", 100 + i),
                    );
                    let pp = PhasePolicy {
                        storages: Some(vec!["ONTAP01".into()]),
                        lock: None,
                        ..policy(Action::StorageSnapshot, Phase::PostStop)
                    };
                    run_phase(
                        c,
                        PhaseRun {
                            policy: pp,
                            vmid: Some(100 + i),
                            rescan: RescanMode::Deferred { vzdump_pid: None },
                            consequence: String::new(),
                        },
                    )
                })
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().unwrap(), 0);
        }
        let made = ops.creates.load(Ordering::SeqCst);
        assert!((1..=2).contains(&made), "{made} snapshots for 20 hooks");
        assert_eq!(ops.lists.load(Ordering::SeqCst), 20);
        // Only the creators pruned, each with the hook's label.
        let prunes = ops.prunes.lock().unwrap();
        assert_eq!(prunes.len(), made);
        assert!(prunes
            .iter()
            .all(|(_, o)| o.label.as_deref() == Some("hook") && o.retention.keep_last == Some(3)));
        // The lock directory is gone, and so is the node lock file.
        assert!(!tmp
            .0
            .join("etc/pve/priv/lock/pve-ontap-snapshot-ONTAP01")
            .exists());
        assert!(!tmp
            .0
            .join("run/lock/pve-ontap-snapshot/ONTAP01.lock")
            .exists());
    }

    #[test]
    fn a_snapshot_from_before_the_hook_is_not_reused() {
        let tmp = Tmp::new("before");
        let ops = Arc::new(FakeOps::default());
        let spec = SnapshotSpec {
            label: "hook".into(),
            freeze: false,
            retention: None,
            expiry: None,
            coalesce: true,
            lock_deadline: Instant::now() + Duration::from_secs(5),
            lock: None,
            max_pause: None,
            period: None,
        };
        storage_snapshot(&ctx(ops.clone(), tmp.paths(), "first"), "ONTAP01", &spec).unwrap();
        // A hook starting now must not reuse the earlier one.
        storage_snapshot(&ctx(ops.clone(), tmp.paths(), "second"), "ONTAP01", &spec).unwrap();
        assert_eq!(ops.creates.load(Ordering::SeqCst), 2);
        // A hook that started before the second create reuses it.
        let mut early = ctx(ops.clone(), tmp.paths(), "third");
        early.start.wall -= Duration::from_secs(3600);
        storage_snapshot(&early, "ONTAP01", &spec).unwrap();
        assert_eq!(ops.creates.load(Ordering::SeqCst), 2);
        // Another label never reuses.
        let other = SnapshotSpec {
            label: "other".into(),
            ..spec.clone()
        };
        storage_snapshot(&early, "ONTAP01", &other).unwrap();
        assert_eq!(ops.creates.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn a_hook_records_its_guest_and_a_schedule_every_guest() {
        let tmp = Tmp::new("records");
        let ops = Arc::new(FakeOps::default());
        let spec = SnapshotSpec {
            label: "hook".into(),
            freeze: false,
            retention: None,
            expiry: None,
            coalesce: false,
            lock_deadline: Instant::now() + Duration::from_secs(5),
            lock: None,
            max_pause: None,
            period: None,
        };
        let mut hook = ctx(ops.clone(), tmp.paths(), "hook");
        hook.vmid = Some(101);
        storage_snapshot(&hook, "ONTAP01", &spec).unwrap();
        storage_snapshot(&ctx(ops.clone(), tmp.paths(), "schedule"), "ONTAP01", &spec).unwrap();
        assert_eq!(
            *ops.records.lock().unwrap(),
            [manifest::Record::Guest(101), manifest::Record::AllOrWarn]
        );
    }

    #[test]
    fn lock_timeout_is_reported_per_on_error() {
        let tmp = Tmp::new("locktimeout");
        let paths = tmp.paths();
        let _held = crate::sys::lock::NodeLock::acquire(
            &crate::sys::lock::node_lock_path(&paths.lock_dir, "ONTAP01"),
            "test holds it",
            Instant::now() + Duration::from_secs(1),
        )
        .unwrap();
        let ops = Arc::new(FakeOps::default());
        ops.guest_disks
            .lock()
            .unwrap()
            .push((100, vec!["ONTAP01".into(), "local-lvm".into()]));
        let mut pp = policy(Action::StorageSnapshot, Phase::PreStart);
        pp.lock_timeout = Duration::from_millis(50);
        pp.on_error = OnError::Abort;
        let run = PhaseRun {
            policy: pp.clone(),
            vmid: Some(100),
            rescan: RescanMode::Deferred { vzdump_pid: None },
            consequence: "aborting the start of guest 100".into(),
        };
        assert_eq!(
            run_phase(ctx(ops.clone(), paths.clone(), "h"), run.clone()),
            1
        );
        pp.on_error = OnError::Continue;
        assert_eq!(
            run_phase(ctx(ops.clone(), paths, "h"), PhaseRun { policy: pp, ..run }),
            0
        );
        assert_eq!(ops.creates.load(Ordering::SeqCst), 0);
    }

    fn timed_out_snapshot(tmp: &Tmp, delay: Duration, linger: Duration) -> (Arc<FakeOps>, Error) {
        std::fs::create_dir_all(tmp.0.join("etc/pve/priv")).unwrap();
        let ops = Arc::new(FakeOps {
            create_delay: Some(delay),
            ..FakeOps::default()
        });
        let start = Instant::now();
        let c = ctx(ops.clone(), tmp.paths(), "h");
        let spec = SnapshotSpec {
            label: "hook".into(),
            freeze: false,
            retention: Some(Retention {
                keep_last: Some(1),
                keep_within: None,
            }),
            expiry: None,
            coalesce: false,
            lock_deadline: start + Duration::from_secs(1),
            lock: None,
            max_pause: None,
            period: None,
        };
        // The worker takes both locks at once, then hangs in the snapshot call.
        let r = bounded(
            &*ops,
            start,
            start + Duration::from_secs(1),
            linger,
            "hook x",
            move || storage_snapshot(&c, "ONTAP01", &spec),
        );
        (ops, r.unwrap_err())
    }

    #[test]
    fn the_timeout_rescues_and_keeps_the_lock_until_the_request_ended() {
        let tmp = Tmp::new("timeout");
        let start = Instant::now();
        let (ops, e) = timed_out_snapshot(&tmp, Duration::from_secs(3), Duration::from_secs(20));
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(
            e.to_string()
                .starts_with("timed out after 1s waiting for hook x"),
            "{e}"
        );
        assert_eq!(ops.rescued.load(Ordering::SeqCst), 1);
        assert_eq!(
            ops.entered.load(Ordering::SeqCst),
            1,
            "the worker held the locks"
        );
        // The request in flight ended under the lock; nothing was changed after the time limit.
        assert!(start.elapsed() >= Duration::from_secs(3));
        assert_eq!(ops.creates.load(Ordering::SeqCst), 1);
        assert!(
            ops.prunes.lock().unwrap().is_empty(),
            "pruned after the time limit"
        );
        // Then the worker released the cluster lock.
        assert!(!tmp
            .0
            .join("etc/pve/priv/lock/pve-ontap-snapshot-ONTAP01")
            .exists());
    }

    #[test]
    fn a_worker_outliving_the_linger_leaves_its_lock_to_expire() {
        let tmp = Tmp::new("linger");
        let start = Instant::now();
        let (_ops, e) = timed_out_snapshot(&tmp, Duration::from_secs(30), Duration::from_secs(1));
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(
            tmp.0
                .join("etc/pve/priv/lock/pve-ontap-snapshot-ONTAP01")
                .is_dir(),
            "never removed while its request may still run"
        );
    }

    #[test]
    fn panics_in_the_action_become_errors() {
        let ops = FakeOps::default();
        let start = Instant::now();
        let e = bounded(
            &ops,
            start,
            start + Duration::from_secs(10),
            Duration::from_secs(1),
            "hook y",
            || panic!("kaputt"),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("hook y failed unexpectedly: kaputt"),
            "{e}"
        );
    }

    #[test]
    fn vm_snapshots_freeze_only_running_phases_and_defer_rescan() {
        let tmp = Tmp::new("vm");
        let ops = Arc::new(FakeOps::default());
        for (phase, expect) in [
            (Phase::PostStop, Consistency::None),
            (Phase::PreStart, Consistency::None),
            (Phase::PreStop, Consistency::Freeze),
            (Phase::BackupStart, Consistency::Freeze),
        ] {
            let run = PhaseRun {
                policy: policy(Action::VmSnapshot, phase),
                vmid: Some(100),
                rescan: RescanMode::Deferred {
                    vzdump_pid: Some(42),
                },
                consequence: String::new(),
            };
            assert_eq!(run_phase(ctx(ops.clone(), tmp.paths(), "h"), run), 0);
            let last = ops.vm_creates.lock().unwrap().last().cloned().unwrap();
            assert_eq!(last, (100, expect, Some("hook".into())), "{phase}");
        }
        assert_eq!(
            ops.rescans.lock().unwrap().last(),
            Some(&(
                100,
                RescanMode::Deferred {
                    vzdump_pid: Some(42)
                }
            ))
        );
        let prunes = ops.vm_prunes.lock().unwrap();
        assert_eq!(prunes.len(), 4);
        assert_eq!(prunes[0].2, "hook");
    }

    #[test]
    fn guests_without_ontap_disks_are_skipped() {
        let tmp = Tmp::new("skip");
        let ops = Arc::new(FakeOps::default());
        ops.guest_disks
            .lock()
            .unwrap()
            .push((101, vec!["local-lvm".into()]));
        let run = PhaseRun {
            policy: PhasePolicy {
                on_error: OnError::Abort,
                ..policy(Action::StorageSnapshot, Phase::PreStart)
            },
            vmid: Some(101),
            rescan: RescanMode::Deferred { vzdump_pid: None },
            consequence: String::new(),
        };
        assert_eq!(run_phase(ctx(ops.clone(), tmp.paths(), "h"), run), 0);
        assert_eq!(ops.creates.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn failures_follow_on_error() {
        let tmp = Tmp::new("fail");
        let ops = Arc::new(FakeOps {
            fail_create: Some("ONTAP unreachable".into()),
            ..FakeOps::default()
        });
        let mut pp = PhasePolicy {
            storages: Some(vec!["ONTAP01".into()]),
            lock: None,
            ..policy(Action::StorageSnapshot, Phase::PreStart)
        };
        let run = |pp: PhasePolicy| PhaseRun {
            policy: pp,
            vmid: Some(100),
            rescan: RescanMode::Deferred { vzdump_pid: None },
            consequence: "aborting".into(),
        };
        assert_eq!(
            run_phase(ctx(ops.clone(), tmp.paths(), "h"), run(pp.clone())),
            0
        );
        pp.on_error = OnError::Abort;
        assert_eq!(run_phase(ctx(ops.clone(), tmp.paths(), "h"), run(pp)), 1);
    }
}
