//! Policy value types: phases Proxmox calls hooks in, the action of a phase, its effective settings
//! and `[schedule:NAME]` runs. Parsing and validation live in `config::policy`; the hook engine reads these.

use std::fmt;
use std::time::Duration;

use crate::model::names;
use crate::model::retention::Retention;

/// Bound on a whole hook when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default label of what `[hook]` phases make.
pub const DEFAULT_HOOK_LABEL: &str = "hook";
/// Default label of what `[vzdump]` phases make.
pub const DEFAULT_VZDUMP_LABEL: &str = "vzdump";
/// ONTAP's limit on `snapmirror_label` (also the limit of disk snapshot labels).
pub const MAX_LABEL_LEN: usize = names::MAX_LABEL_LEN;
/// Upper bound for `timeout` and `lock-timeout` (a hook holding Proxmox's config lock longer is a bug).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// What a phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    /// Per-guest disk snapshots (ONTAP file clones) of the hooked guest.
    VmSnapshot,
    /// Volume snapshots of storages (the guest's, or those named by `storages`).
    StorageSnapshot,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::VmSnapshot => "vm-snapshot",
            Action::StorageSnapshot => "storage-snapshot",
        }
    }

    /// The action named in a config value; None for an unknown name.
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "none" => Some(Action::None),
            "vm-snapshot" => Some(Action::VmSnapshot),
            "storage-snapshot" => Some(Action::StorageSnapshot),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a failed action does to Proxmox's start or backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Log the failure, exit 0: the start or backup goes on.
    #[default]
    Continue,
    /// Exit non-zero: Proxmox aborts the start (pre-start) or the backup (job or guest).
    Abort,
}

impl OnError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Continue => "continue",
            OnError::Abort => "abort",
        }
    }
}

/// Which caller a phase belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum HookKind {
    /// The guest hookscript (`qm set <vmid> --hookscript ...`).
    Guest,
    /// The vzdump hook (`script:` in /etc/vzdump.conf or `vzdump --script`).
    Vzdump,
}

impl HookKind {
    /// The base name of the config sections of this kind.
    pub fn section(self) -> &'static str {
        match self {
            HookKind::Guest => "hook",
            HookKind::Vzdump => "vzdump",
        }
    }

    /// How users call this hook in messages.
    pub fn describe(self) -> &'static str {
        match self {
            HookKind::Guest => "hookscript",
            HookKind::Vzdump => "vzdump hook",
        }
    }

    /// The label used when a section sets none.
    pub fn default_label(self) -> &'static str {
        match self {
            HookKind::Guest => DEFAULT_HOOK_LABEL,
            HookKind::Vzdump => DEFAULT_VZDUMP_LABEL,
        }
    }

    /// The phases of this kind, in the order Proxmox runs them.
    pub fn phases(self) -> &'static [Phase] {
        match self {
            HookKind::Guest => &Phase::HOOKSCRIPT,
            HookKind::Vzdump => &Phase::VZDUMP,
        }
    }

    /// The phase of this kind by the name Proxmox passes.
    pub fn phase(self, name: &str) -> Option<Phase> {
        self.phases().iter().copied().find(|p| p.name() == name)
    }
}

/// A phase Proxmox calls a hook in: the guest hookscript phases of qemu-server/pve-container
/// (`PVE::GuestHelpers::exec_hookscript`) and the vzdump phases of pve-manager `PVE/VZDump.pm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    // Guest hookscript.
    PreStart,
    PostStart,
    PreStop,
    PostStop,
    // vzdump, job level (no guest).
    JobInit,
    JobStart,
    JobEnd,
    JobAbort,
    // vzdump, per guest.
    BackupStart,
    BackupPreStop,
    PreRestart,
    PostRestart,
    BackupEnd,
    BackupAbort,
    LogEnd,
}

impl Phase {
    pub const HOOKSCRIPT: [Phase; 4] = [
        Phase::PreStart,
        Phase::PostStart,
        Phase::PreStop,
        Phase::PostStop,
    ];
    pub const VZDUMP: [Phase; 11] = [
        Phase::JobInit,
        Phase::JobStart,
        Phase::JobEnd,
        Phase::JobAbort,
        Phase::BackupStart,
        Phase::BackupPreStop,
        Phase::PreRestart,
        Phase::PostRestart,
        Phase::BackupEnd,
        Phase::BackupAbort,
        Phase::LogEnd,
    ];

    /// A guest hookscript phase by the name Proxmox passes; None for anything else.
    pub fn hookscript(name: &str) -> Option<Phase> {
        HookKind::Guest.phase(name)
    }

    /// A vzdump phase by the name vzdump passes; None for anything else.
    pub fn vzdump(name: &str) -> Option<Phase> {
        HookKind::Vzdump.phase(name)
    }

    /// The name as Proxmox passes it (vzdump's `pre-stop` is `pre-stop` too).
    pub fn name(self) -> &'static str {
        match self {
            Phase::PreStart => "pre-start",
            Phase::PostStart => "post-start",
            Phase::PreStop | Phase::BackupPreStop => "pre-stop",
            Phase::PostStop => "post-stop",
            Phase::JobInit => "job-init",
            Phase::JobStart => "job-start",
            Phase::JobEnd => "job-end",
            Phase::JobAbort => "job-abort",
            Phase::BackupStart => "backup-start",
            Phase::PreRestart => "pre-restart",
            Phase::PostRestart => "post-restart",
            Phase::BackupEnd => "backup-end",
            Phase::BackupAbort => "backup-abort",
            Phase::LogEnd => "log-end",
        }
    }

    pub fn kind(self) -> HookKind {
        if Phase::HOOKSCRIPT.contains(&self) {
            HookKind::Guest
        } else {
            HookKind::Vzdump
        }
    }

    /// vzdump job-level phase: no mode, no guest.
    pub fn is_job(self) -> bool {
        matches!(
            self,
            Phase::JobInit | Phase::JobStart | Phase::JobEnd | Phase::JobAbort
        )
    }

    /// Proxmox acts on a non-zero exit (aborts the start, the job or the guest's backup).
    pub fn honours_failure(self) -> bool {
        matches!(
            self,
            Phase::PreStart
                | Phase::JobInit
                | Phase::JobStart
                | Phase::BackupStart
                | Phase::BackupPreStop
                | Phase::PreRestart
                | Phase::PostRestart
                | Phase::BackupEnd
        )
    }

    /// The hooked guest is certainly not running (its disks are quiet): hookscript pre-start and
    /// post-stop. Every other phase may see it running; consistency then needs the agent's freeze.
    pub fn guest_off(self) -> bool {
        matches!(self, Phase::PreStart | Phase::PostStop)
    }

    /// The phases of `kind` whose failure Proxmox acts on, for messages.
    pub fn honouring(kind: HookKind) -> String {
        kind.phases()
            .iter()
            .filter(|p| p.honours_failure())
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The effective policy of one phase (for one guest, where it applies), with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhasePolicy {
    pub phase: Phase,
    pub action: Action,
    /// `snapmirror_label` of storage snapshots / label of VM snapshots; the retention group.
    pub label: String,
    pub keep: Option<usize>,
    pub keep_within: Option<Duration>,
    /// Freeze running guests through their agents around the snapshot.
    pub freeze: bool,
    /// Bound on the whole hook.
    pub timeout: Duration,
    /// Bound on waiting for a storage lock (never beyond `timeout`).
    pub lock_timeout: Duration,
    pub on_error: OnError,
    /// Storages to snapshot; None = the storages of the hooked guest's disks.
    pub storages: Option<Vec<String>>,
    /// `lock`: ONTAP snapshot locking of storage snapshots for this long (tamperproof).
    pub lock: Option<Duration>,
    /// `max-pause`: bound on a freeze window (None: the default of a freeze).
    pub max_pause: Option<Duration>,
    /// Where the action was configured (`section [hook:100], key 'post-stop'`), for log lines.
    pub source: String,
}

impl PhasePolicy {
    /// What to prune after the snapshot; None when neither `keep` nor `keep-within` is set.
    pub fn retention(&self) -> Option<Retention> {
        retention_of(self.keep, self.keep_within)
    }
}

/// A `[schedule:NAME]` section, run by `pve-ontap-snapshot run NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    pub name: String,
    /// Storages to take a volume snapshot of.
    pub storages: Vec<String>,
    /// Guests to take disk snapshots of.
    pub guests: Vec<u32>,
    /// Label of what this schedule makes (default: the schedule's name).
    pub label: String,
    pub keep: Option<usize>,
    pub keep_within: Option<Duration>,
    /// Storage snapshots: freeze the running guests on the storage; guest snapshots: freeze the guest.
    pub freeze: bool,
    /// Bound on waiting for each storage lock.
    pub lock_timeout: Duration,
    /// ONTAP `expiry_time` of storage snapshots (from now); None = no expiry.
    pub expiry: Option<Duration>,
    /// `lock`: ONTAP snapshot locking of storage snapshots for this long (tamperproof).
    pub lock: Option<Duration>,
    /// `max-pause`: bound on a freeze window (None: the default of a freeze).
    pub max_pause: Option<Duration>,
    /// `max-age`: `status` reports a problem when the newest snapshot of `label` on a storage or
    /// guest of this schedule is older.
    pub max_age: Option<Duration>,
    /// The interval of the schedule's timer: each storage and guest is snapshotted once per period
    /// for the whole cluster (periods aligned to the Unix epoch).
    pub period: Duration,
}

/// Default `period` of a schedule: the timer template's `OnCalendar=hourly`.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(3600);

impl Schedule {
    pub fn retention(&self) -> Option<Retention> {
        retention_of(self.keep, self.keep_within)
    }
}

fn retention_of(keep: Option<usize>, keep_within: Option<Duration>) -> Option<Retention> {
    if keep.is_none() && keep_within.is_none() {
        return None;
    }
    Some(Retention {
        keep_last: keep,
        keep_within,
    })
}
