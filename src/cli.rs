//! Command-line definitions (clap) and the rewriting of the original tool's single-dash options.
//! Also recognises the argv shapes Proxmox uses to run a hookscript or a vzdump hook script.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand, ValueEnum};

pub use crate::sys::paths::BIN;

/// Every phase vzdump passes to a hook script (pve-manager `PVE/VZDump.pm`).
pub const VZDUMP_PHASES: &[&str] = &[
    "job-init",
    "job-start",
    "job-end",
    "job-abort",
    "backup-start",
    "backup-end",
    "backup-abort",
    "log-end",
    "pre-stop",
    "pre-restart",
    "post-restart",
];

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the operation failed: an ONTAP or Proxmox VE API error, a safety rule refused it
     (e.g. restore without --yes), a lock could not be taken, or 'check' found a problem
  2  usage or configuration error (bad option, config file missing, unreadable, readable
     by others, or with an unknown key)

Configuration (INI, mode 600) is read from the first of: --config FILE,
$PVE_ONTAP_SNAPSHOT_CONFIG, /etc/pve/priv/pve-ontap-snapshot.ini,
/etc/pve-ontap-snapshot/config.ini, ./config.ini.

The original tool's single-dash options (-config, -loglevel, -vm, -suspend, -shutdown,
-storage, -snapshot) are still accepted.";

const DURATIONS: &str = "Durations: 30d, 12h, 90m, 2w, 45s, or combinations such as 1d12h.";

#[derive(Debug, Parser)]
#[command(
    name = BIN,
    version,
    propagate_version = true,
    arg_required_else_help = true,
    about = "ONTAP volume snapshots and per-VM file-clone snapshots for Proxmox VE NFS storages",
    long_about = "ONTAP volume snapshots and per-VM file-clone snapshots for Proxmox VE NFS storages.\n\n\
        'storage' commands snapshot, restore, mount and prune the ONTAP volume behind a Proxmox \
        storage; 'vm' commands snapshot the disks of one guest as ONTAP file clones next to each \
        disk. The tool also runs as a guest hookscript and as a vzdump hook script.\n\n\
        Every command that changes something works under the lock of each storage it touches \
        (node-local, and cluster-wide through /etc/pve/priv/lock on a Proxmox cluster) and \
        decides what to change only once it holds them; --lock-timeout bounds the wait. \
        Read-only commands take no lock.",
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    /// Config file (default: first found of the search list below)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How much to log to stderr [default: info]
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "LEVEL",
        ignore_case = true,
        alias = "loglevel"
    )]
    pub log_level: Option<LogLevel>,

    /// Result format on stdout; logs always go to stderr and syslog
    #[arg(long, global = true, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    #[value(alias = "critical")]
    Error,
    #[value(alias = "warning")]
    Warn,
    Info,
    Debug,
    Trace,
}

impl LogLevel {
    pub fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Aligned tables and short sentences
    #[default]
    Text,
    /// One pretty-printed JSON document
    Json,
}

/// What `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// Aligned tables, one line per problem first
    Text,
    /// One pretty-printed JSON document
    Json,
    /// Prometheus text exposition format (node-exporter textfile collector)
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Snapshots of the ONTAP volume behind a Proxmox storage
    #[command(subcommand, arg_required_else_help = true)]
    Storage(StorageCommand),

    /// Disk snapshots of one guest (QEMU VM or LXC container) as ONTAP file clones
    #[command(subcommand, arg_required_else_help = true)]
    Vm(VmCommand),

    /// Validate the config, reach both APIs and resolve every configured storage
    #[command(
        long_about = "Validate the config, reach the Proxmox VE API and every ONTAP cluster, report \
            versions and the TLS mode of each endpoint, and resolve every configured storage to \
            its ONTAP volume. Exits 1 if any check fails."
    )]
    Check,

    /// Newest snapshot per label, last outcome of hooks and schedules, capacity; exit 1 on problems
    #[command(
        long_about = "Show, per configured storage and per guest with a policy, the newest snapshot \
            of each label and its age, the last outcome of every hook phase, schedule and command \
            (from the local journal), the snapshot count against ONTAP's limit of 1023 and the \
            space snapshots use. Every stale or failing item is one 'problem:' line and makes the \
            exit code 1, so monitoring checks (Nagios, Icinga, Checkmk) can call it directly. \
            Reads ONTAP once per storage; --offline reads only the journal.",
        after_long_help = DURATIONS
    )]
    Status {
        /// Only this storage (repeatable; default: every storage section of the config)
        #[arg(long = "storage", value_name = "ID")]
        storages: Vec<String>,
        /// A problem when the newest snapshot of LABEL is older than DURATION, e.g.
        /// hourly=2h,daily=26h (repeatable)
        #[arg(long, value_name = "LABEL=DURATION,...")]
        max_age: Vec<String>,
        /// Read only the local outcome journal, not ONTAP
        #[arg(long)]
        offline: bool,
        /// Result format (overrides --output): text, json, or prometheus (node-exporter textfile)
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<StatusFormat>,
        /// Write the result to FILE (temporary file, then rename) instead of stdout; the exit code
        /// then says only whether it was written (problems are in the content)
        #[arg(long, value_name = "FILE")]
        textfile: Option<PathBuf>,
    },

    /// Print a shell completion script to stdout
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Write the man page and completion files into DIR (for packaging)
    #[command(hide = true)]
    GenDocs {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },

    /// Run as a guest hookscript: what Proxmox calls as '<script> <vmid> <phase>'
    #[command(
        long_about = "Run as a guest hookscript. Proxmox runs the hookscript as \
            '<script> <vmid> <phase>' (pre-start, post-start, pre-stop, post-stop); a link to \
            this binary used as the snippet is recognised without the 'hook' word. The [hook] and \
            [hook:<vmid>] config sections say what each phase does; phases without an action \
            return at once."
    )]
    Hook {
        /// Guest id
        #[arg(value_parser = parse_vmid)]
        vmid: u32,
        /// Hook phase (pre-start, post-start, pre-stop, post-stop)
        phase: String,
    },

    /// Run as a vzdump hook script: '<script> <phase> [<mode> <vmid>]'
    #[command(
        long_about = "Run as a vzdump hook script (vzdump --script, or 'script:' in \
            /etc/vzdump.conf). vzdump runs it as '<script> <phase>' for job phases and \
            '<script> <phase> <mode> <vmid>' for guest phases. The [vzdump] config section says \
            what each phase does."
    )]
    Vzdump {
        /// vzdump phase (job-start, backup-start, pre-stop, backup-end, job-end, ...)
        phase: String,
        /// Backup mode of a guest phase (stop, suspend, snapshot)
        #[arg(requires = "vmid")]
        mode: Option<String>,
        /// Guest id of a guest phase
        #[arg(value_parser = parse_vmid)]
        vmid: Option<u32>,
    },

    /// Run the schedule defined in the config section [schedule:NAME]
    Run {
        /// Schedule name (the NAME of [schedule:NAME])
        #[arg(value_name = "NAME")]
        schedule: String,
    },

    /// The detached rescan `vm create` starts while a guest's config is locked (not for direct use)
    #[command(hide = true, name = "internal-rescan")]
    InternalRescan {
        /// `--vmid N --command PATH --lock-file PATH --deadline SECONDS [--wait-pid PID:START]`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },

    /// The watchdog of a pause, freeze or shutdown window, started by the tool itself with its
    /// orders on stdin (not for direct use)
    #[command(hide = true, name = "internal-guardian")]
    InternalGuardian {
        /// `--for PID`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct StorageArg {
    /// Proxmox storage id (an nfs storage exported by ONTAP)
    #[arg(long, value_name = "ID", value_parser = parse_storage_id)]
    pub storage: String,
}

/// Default of `--lock-timeout`: a minute, as long as a hook may run by default.
pub const DEFAULT_LOCK_TIMEOUT: &str = "60s";

#[derive(Debug, Args)]
pub struct LockArg {
    /// Wait at most DURATION for the storage locks (held by a hook, a schedule or another command,
    /// on this or another node); a lock still busy then fails the command and names its holder
    #[arg(
        long,
        value_name = "DURATION",
        default_value = DEFAULT_LOCK_TIMEOUT,
        value_parser = parse_lock_timeout
    )]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Keep the newest N snapshots (per label)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_last: Option<u32>,
    /// Keep snapshots younger than DURATION (e.g. 30d, 12h)
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Only snapshots with this label (default: every label, each group separately)
    #[arg(long, value_name = "LABEL", value_parser = parse_label)]
    pub label: Option<String>,
    /// Show what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum StorageCommand {
    /// Take an ONTAP snapshot of the storage's volume
    #[command(after_long_help = DURATIONS)]
    Create {
        #[command(flatten)]
        storage: StorageArg,
        /// SnapMirror label (also the retention group for prune)
        #[arg(long, value_name = "LABEL", value_parser = parse_label)]
        label: Option<String>,
        /// ONTAP keeps the snapshot from deletion until now + DURATION
        #[arg(long, value_name = "DURATION")]
        expiry: Option<String>,
        /// Freeze the filesystems of running VMs on the storage (guest agent) around the snapshot
        #[arg(long)]
        freeze: bool,
        /// Bound on the freeze window (default 10s): past it the guests are thawed, even if this
        /// process is stuck, and the snapshot is deleted
        #[arg(long, value_name = "DURATION", requires = "freeze", value_parser = parse_max_pause)]
        max_pause: Option<Duration>,
        /// Lock the snapshot until now + DURATION (ONTAP snapshot locking, 9.12.1+): nobody, this
        /// tool included, can delete it earlier
        #[arg(long, value_name = "DURATION")]
        lock: Option<String>,
        #[command(flatten)]
        locking: LockArg,
        /// Do not record the configurations of the guests on the storage in the volume
        #[arg(long)]
        no_configs: bool,
    },
    /// List the snapshots made by this tool (and with --all, every snapshot)
    List {
        #[command(flatten)]
        storage: StorageArg,
        /// Also show snapshots this tool did not make (e.g. ONTAP's hourly ones)
        #[arg(long)]
        all: bool,
    },
    /// Delete one snapshot (refused while a mounted clone depends on it)
    Delete {
        #[command(flatten)]
        storage: StorageArg,
        /// Snapshot name
        #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
        snapshot: String,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Revert the whole volume to a snapshot: every disk loses later changes, newer snapshots go
    #[command(
        long_about = "Revert the whole ONTAP volume to a snapshot (SnapRestore). Every disk of every \
            guest on the storage loses all changes made after the snapshot. Needs --yes, or the \
            storage id typed at the prompt on a terminal; refused while a guest with a disk on the \
            storage runs (unless --force), while a mounted clone depends on a newer snapshot, \
            while a newer snapshot has not expired, or while a newer snapshot is a SnapMirror \
            reference (unless --discard-snapmirror-references). ONTAP deletes every snapshot newer \
            than the restored one: the confirmation prompt and the result name them. To get at \
            single disks or files, use 'storage mount' instead."
    )]
    Restore {
        #[command(flatten)]
        storage: StorageArg,
        /// Snapshot name
        #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
        snapshot: String,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        /// Restore even while guests with a disk on the storage are running
        #[arg(long)]
        force: bool,
        /// Restore even when newer snapshots are SnapMirror references (ONTAP CLI `volume
        /// snapshot restore -force`); the SnapMirror relationships then fail until resynchronised
        #[arg(long)]
        discard_snapmirror_references: bool,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Make a snapshot available as a new Proxmox storage (FlexClone volume)
    Mount {
        #[command(flatten)]
        storage: StorageArg,
        /// Snapshot name
        #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
        snapshot: String,
        /// Storage id for the clone (default: <ID>-CLONE, made unique)
        #[arg(long, value_name = "NEWID", value_parser = parse_storage_id)]
        name: Option<String>,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Remove a storage made by 'mount' and delete its clone volume (the snapshot stays)
    Unmount {
        #[command(flatten)]
        storage: StorageArg,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Show the ONTAP volume behind the storage
    Show {
        #[command(flatten)]
        storage: StorageArg,
    },
    /// Delete old snapshots made by this tool, per label
    #[command(
        group(ArgGroup::new("rule").args(["keep_last", "keep_within"]).required(true).multiple(true)),
        after_long_help = DURATIONS
    )]
    Prune {
        #[command(flatten)]
        storage: StorageArg,
        #[command(flatten)]
        retention: RetentionArgs,
        #[command(flatten)]
        lock: LockArg,
    },
}

#[derive(Debug, Args)]
pub struct VmArg {
    /// Guest id (VMID of a QEMU VM or LXC container)
    #[arg(long, value_name = "ID", value_parser = parse_vmid)]
    pub vm: u32,
}

#[derive(Debug, Subcommand)]
pub enum VmCommand {
    /// Snapshot every ONTAP disk of the guest as a file clone next to it
    #[command(group(ArgGroup::new("consistency").args(["suspend", "shutdown", "freeze"])))]
    Create {
        #[command(flatten)]
        vm: VmArg,
        /// Pause the guest around the clones (crash-consistent, RAM kept)
        #[arg(long)]
        suspend: bool,
        /// Shut the guest down cleanly, clone, start it again
        #[arg(long)]
        shutdown: bool,
        /// Freeze the guest filesystems through the guest agent around the clones
        #[arg(long)]
        freeze: bool,
        /// Bound on the pause, shutdown or freeze window (defaults: freeze 10s, suspend 60s,
        /// shutdown 10m): past it the guest is brought back, even if this process is stuck, and
        /// the clones of the run are deleted
        #[arg(
            long,
            value_name = "DURATION",
            requires = "consistency",
            value_parser = parse_max_pause
        )]
        max_pause: Option<Duration>,
        /// Label stored with the snapshot (retention group for prune)
        #[arg(long, value_name = "LABEL", value_parser = parse_label)]
        label: Option<String>,
        /// Fail if a disk is on a storage without ONTAP (default: skip it)
        #[arg(long)]
        strict: bool,
        /// Do not run 'qm rescan' / 'pct rescan' afterwards
        #[arg(long)]
        no_rescan: bool,
        #[command(flatten)]
        lock: LockArg,
    },
    /// List the guest's disk sets and the volume snapshots of its storages
    List {
        #[command(flatten)]
        vm: VmArg,
        /// Read which disks each volume snapshot holds (one directory read per snapshot)
        #[arg(long)]
        contents: bool,
    },
    /// Delete one snapshot (all its disk files)
    Delete {
        #[command(flatten)]
        vm: VmArg,
        /// Snapshot time stamp as listed (YYYY-mm-dd_HH:MM:SS+0000)
        #[arg(long, value_name = "TS", value_parser = parse_snapshot_name)]
        snapshot: String,
        /// Only the files of this label (needed when labels share a second)
        #[arg(long, value_name = "LABEL", value_parser = parse_label)]
        label: Option<String>,
        #[command(flatten)]
        lock: LockArg,
    },
    /// Put the guest's disks back from a disk set or a volume snapshot (guest must be stopped)
    Restore {
        #[command(flatten)]
        vm: VmArg,
        /// Disk-set time stamp (YYYY-mm-dd_HH:MM:SS+0000) or volume snapshot name, as listed
        #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
        snapshot: String,
        /// Only this disk (config key, e.g. scsi0)
        #[arg(long, value_name = "KEY")]
        disk: Option<String>,
        /// Do not ask for confirmation
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        lock: LockArg,
        /// Volume snapshot: do not keep the current disks as a 'pre-restore' disk set first
        #[arg(long)]
        no_keep: bool,
        /// Volume snapshot: leave disks the snapshot does not hold as they are
        #[arg(long)]
        skip_missing: bool,
        /// Volume snapshot: ignore images in it that are no disk of the guest now
        #[arg(long)]
        skip_extra: bool,
        /// Volume snapshot: restore disks whose size changed to the snapshot's size
        #[arg(long)]
        resize: bool,
        /// Do not run 'qm rescan' / 'pct rescan' afterwards
        #[arg(long)]
        no_rescan: bool,
    },
    /// Print the guest configuration a snapshot recorded
    ShowConfig {
        #[command(flatten)]
        vm: VmArg,
        /// Disk-set time stamp or volume snapshot name
        #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
        snapshot: String,
        /// For a guest that no longer exists: the storage whose volume snapshot recorded it
        #[arg(long, value_name = "ID", value_parser = parse_storage_id)]
        storage: Option<String>,
    },
    /// Make a new QEMU guest from a snapshot of this one (new VMID, new MAC addresses)
    Clone {
        #[command(flatten)]
        vm: VmArg,
        /// Disk-set time stamp or volume snapshot name
        #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
        snapshot: String,
        /// VMID of the new guest
        #[arg(long, value_name = "ID", value_parser = parse_vmid)]
        new_vmid: u32,
        /// Name of the new guest (default: Copy-of-VM-<name>)
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Start the new guest
        #[arg(long)]
        start: bool,
        /// Make the guest without the disks the snapshot does not hold
        #[arg(long)]
        skip_missing: bool,
        /// Use the guest's current configuration even if the snapshot recorded one
        #[arg(long)]
        current_config: bool,
        /// For a guest that no longer exists: the storage whose volume snapshot recorded it (it
        /// may then come back under its own VMID)
        #[arg(long, value_name = "ID", value_parser = parse_storage_id)]
        storage: Option<String>,
    },
    /// Add one disk of a snapshot to a helper guest as an unused disk
    Attach {
        #[command(flatten)]
        vm: VmArg,
        /// Disk-set time stamp or volume snapshot name
        #[arg(long, value_name = "NAME", value_parser = parse_snapshot_name)]
        snapshot: String,
        /// The disk (config key of guest --vm, e.g. scsi0)
        #[arg(long, value_name = "KEY")]
        disk: String,
        /// The helper guest
        #[arg(long, value_name = "ID", value_parser = parse_vmid)]
        to: u32,
    },
    /// Remove a disk 'vm attach' added (unusedN) from the helper guest and delete its file
    Detach {
        /// The helper guest
        #[arg(long, value_name = "ID", value_parser = parse_vmid)]
        to: u32,
        /// The unused disk key (unusedN)
        #[arg(long, value_name = "KEY")]
        disk: String,
    },
    /// Delete old snapshots of the guest, per label
    #[command(
        group(ArgGroup::new("rule").args(["keep_last", "keep_within"]).required(true).multiple(true)),
        after_long_help = DURATIONS
    )]
    Prune {
        #[command(flatten)]
        vm: VmArg,
        #[command(flatten)]
        retention: RetentionArgs,
        #[command(flatten)]
        lock: LockArg,
    },
}

/// The clap command (for the man page and completions).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Turn the process arguments into what clap parses: a hookscript or vzdump invocation becomes
/// the `hook` / `vzdump` subcommand; otherwise the original's single-dash options become `--`.
pub fn prepare_args(args: Vec<OsString>, stdin_is_terminal: bool) -> Vec<OsString> {
    match hook_invocation(&args, stdin_is_terminal) {
        Some(mapped) => mapped,
        None => rewrite_legacy_options(args),
    }
}

/// Proxmox runs a hookscript as `<path> <vmid> <phase>` and a vzdump script as
/// `<path> <phase> [<mode> <vmid>]` (stdin a closed pipe). Also a binary (or link) whose name
/// says `vzdump` or `hook` is taken as that entry point whatever follows.
fn hook_invocation(args: &[OsString], stdin_is_terminal: bool) -> Option<Vec<OsString>> {
    let (argv0, rest) = args.split_first()?;
    let first = rest.first()?.to_str()?;
    if first == "hook" || first == "vzdump" {
        return None;
    }
    let name = std::path::Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mode = if name.contains("vzdump") {
        "vzdump"
    } else if name.contains("hook") || (rest.len() == 2 && is_vmid(first)) {
        "hook"
    } else if !stdin_is_terminal
        && VZDUMP_PHASES.contains(&first)
        && (rest.len() == 1 || (rest.len() == 3 && rest[2].to_str().is_some_and(is_vmid)))
    {
        "vzdump"
    } else {
        return None;
    };
    let mut mapped = Vec::with_capacity(args.len() + 1);
    mapped.push(argv0.clone());
    mapped.push(OsString::from(mode));
    mapped.extend(rest.iter().cloned());
    Some(mapped)
}

/// The original (argparse) option spellings and their clap forms.
const LEGACY_OPTIONS: &[(&str, &str)] = &[
    ("-config", "--config"),
    ("-loglevel", "--log-level"),
    ("-vm", "--vm"),
    ("-suspend", "--suspend"),
    ("-shutdown", "--shutdown"),
    ("-storage", "--storage"),
    ("-snapshot", "--snapshot"),
];

/// Options whose next argument is a value (never rewritten, even if it looks like an option).
const VALUE_OPTIONS: &[&str] = &[
    "--config",
    "--log-level",
    "--loglevel",
    "--output",
    "--storage",
    "--snapshot",
    "--label",
    "--expiry",
    "--name",
    "--keep-last",
    "--keep-within",
    "--vm",
    "--disk",
    "--lock-timeout",
];

/// Rewrite exactly the original's single-dash option tokens (`-storage` → `--storage`, also
/// `-storage=X`); values of options and everything after `--` stay untouched.
pub fn rewrite_legacy_options(args: Vec<OsString>) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    if let Some(argv0) = iter.next() {
        out.push(argv0);
    }
    let mut value_next = false;
    let mut verbatim = false;
    for arg in iter {
        if verbatim || value_next {
            value_next = false;
            out.push(arg);
            continue;
        }
        let Some(s) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if s == "--" {
            verbatim = true;
            out.push(arg);
            continue;
        }
        let (name, value) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        let name = LEGACY_OPTIONS
            .iter()
            .find(|(old, _)| *old == name)
            .map_or(name, |(_, new)| *new);
        value_next = value.is_none() && VALUE_OPTIONS.contains(&name);
        out.push(match value {
            Some(v) => OsString::from(format!("{name}={v}")),
            None => OsStr::new(name).to_os_string(),
        });
    }
    out
}

fn is_vmid(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=9).contains(&b.len()) && b[0] != b'0' && b.iter().all(u8::is_ascii_digit)
}

/// VMID as Proxmox defines it: 100 to 999999999.
pub fn parse_vmid(s: &str) -> Result<u32, String> {
    if is_vmid(s) {
        s.parse()
            .map_err(|_| format!("'{s}' is not a guest id (100-999999999)"))
    } else {
        Err(format!("'{s}' is not a guest id (100-999999999)"))
    }
}

fn parse_storage_id(s: &str) -> Result<String, String> {
    if crate::model::storage::valid_storage_id(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a Proxmox storage id (a letter first, then letters, digits, '-', '_' \
             or '.', at least 2 characters)"
        ))
    }
}

/// Snapshot names and VM snapshot time stamps: `[A-Za-z0-9_.:+-]`, 1 to 255 characters.
fn parse_snapshot_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 255
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'+' | b'-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a snapshot name (letters, digits and _ . : + -, at most 255 characters)"
        ))
    }
}

/// A SnapMirror label: 1 to 31 of `[A-Za-z0-9_.-]` (ONTAP's limit is 31 characters).
fn parse_lock_timeout(s: &str) -> Result<Duration, String> {
    crate::model::retention::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("expected a duration such as 30s, 2m or 1h, not '{s}'"))
}

fn parse_max_pause(s: &str) -> Result<Duration, String> {
    crate::model::retention::parse_duration(s)
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("expected a duration such as 10s, 2m or 1m30s, not '{s}'"))
}

fn parse_label(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 31
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a label (letters, digits and _ . -, at most 31 characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    /// Parse a command line as main does (no terminal on stdin).
    fn parse(line: &str) -> Result<Cli, clap::Error> {
        let args = os(&line.split_whitespace().collect::<Vec<_>>());
        Cli::try_parse_from(prepare_args(args, false))
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn legacy_options_are_rewritten_and_values_are_not() {
        let out = rewrite_legacy_options(os(&[
            "x",
            "-config",
            "-storage",
            "storage",
            "list",
            "-storage=ONTAP01",
            "--label",
            "-vm",
            "-snapshot",
            "-suspend",
            "--",
            "-vm",
        ]));
        assert_eq!(
            strings(out),
            vec![
                "x",
                "--config",
                "-storage",
                "storage",
                "list",
                "--storage=ONTAP01",
                "--label",
                "-vm",
                "--snapshot",
                "-suspend",
                "--",
                "-vm"
            ]
        );
        // Only the exact tokens: look-alikes stay as they are.
        let out =
            rewrite_legacy_options(os(&["x", "-vmx", "-Storage", "-s", "-loglevel", "DEBUG"]));
        assert_eq!(
            strings(out),
            vec!["x", "-vmx", "-Storage", "-s", "--log-level", "DEBUG"]
        );
    }

    #[test]
    fn max_pause_needs_a_window_and_a_duration() {
        match parse("p vm create --vm 100 --suspend --max-pause 1m30s")
            .unwrap()
            .command
        {
            Command::Vm(VmCommand::Create { max_pause, .. }) => {
                assert_eq!(max_pause, Some(Duration::from_secs(90)))
            }
            other => panic!("{other:?}"),
        }
        match parse("p storage create --storage ONTAP01 --freeze --max-pause 5s")
            .unwrap()
            .command
        {
            Command::Storage(StorageCommand::Create { max_pause, .. }) => {
                assert_eq!(max_pause, Some(Duration::from_secs(5)))
            }
            other => panic!("{other:?}"),
        }
        for line in [
            "p vm create --vm 100 --max-pause 10s",
            "p storage create --storage ONTAP01 --max-pause 10s",
            "p vm create --vm 100 --freeze --max-pause 0s",
            "p vm create --vm 100 --freeze --max-pause soon",
        ] {
            let e = parse(line).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{line}");
            assert!(e.to_string().contains("--max-pause"), "{line}: {e}");
        }
    }

    #[test]
    fn every_example_of_the_original_readme_parses() {
        let cases = [
            "pve-ontap-snapshot.py vm create -vm 100 -suspend",
            "pve-ontap-snapshot.py storage mount -storage ONTAP01 -snapshot proxmox_snapshot_2024-03-13_14:42:47+0000",
            "pve-ontap-snapshot.py storage unmount -storage ONTAP01-CLONE",
            "pve-ontap-snapshot.py storage list -storage ONTAP01",
            "pve-ontap-snapshot.py storage create -storage ONTAP01",
            "pve-ontap-snapshot.py storage delete -storage ONTAP01 -snapshot proxmox_snapshot_2024-03-13_14:42:47+0000",
            "pve-ontap-snapshot.py storage restore -storage ONTAP01 -snapshot proxmox_snapshot_2024-03-13_14:42:47+0000",
            "pve-ontap-snapshot.py storage show -storage ONTAP01",
            "pve-ontap-snapshot.py -config /etc/x.ini -loglevel DEBUG vm create -vm 100 -shutdown",
            "pve-ontap-snapshot.py vm create -vm 100",
        ];
        for line in cases {
            let cli = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(cli.output, OutputFormat::Text);
        }
        let cli = parse(cases[0]).unwrap();
        match cli.command {
            Command::Vm(VmCommand::Create {
                vm,
                suspend,
                shutdown,
                freeze,
                ..
            }) => assert_eq!(
                (vm.vm, suspend, shutdown, freeze),
                (100, true, false, false)
            ),
            other => panic!("{other:?}"),
        }
        let cli = parse(cases[1]).unwrap();
        match cli.command {
            Command::Storage(StorageCommand::Mount {
                storage,
                snapshot,
                name,
                lock,
            }) => {
                assert_eq!(lock.lock_timeout, Duration::from_secs(60));
                assert_eq!(storage.storage, "ONTAP01");
                assert_eq!(snapshot, "proxmox_snapshot_2024-03-13_14:42:47+0000");
                assert_eq!(name, None);
            }
            other => panic!("{other:?}"),
        }
        let cli = parse(cases[8]).unwrap();
        assert_eq!(
            cli.config.as_deref(),
            Some(std::path::Path::new("/etc/x.ini"))
        );
        assert_eq!(cli.log_level, Some(LogLevel::Debug));
    }

    #[test]
    fn every_example_of_our_readme_parses() {
        let readme = include_str!("../README.md");
        let mut in_sh = false;
        let mut count = 0;
        for line in readme.lines().map(str::trim) {
            if line.starts_with("```") {
                in_sh = line == "```sh";
                continue;
            }
            if !in_sh || !line.starts_with("pve-ontap-snapshot ") {
                continue;
            }
            let line = line.split(" #").next().unwrap_or(line);
            let line = line.split(" >").next().unwrap_or(line);
            parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            count += 1;
        }
        assert!(count >= 15, "only {count} examples found");
    }

    #[test]
    fn the_new_options_parse() {
        let cli =
            parse("p --output json storage restore --storage ONTAP01 --snapshot s1 --yes --force")
                .unwrap();
        assert_eq!(cli.output, OutputFormat::Json);
        match cli.command {
            Command::Storage(StorageCommand::Restore { yes, force, .. }) => assert!(yes && force),
            other => panic!("{other:?}"),
        }
        // The safety snapshot option is gone (a restore would discard the snapshot anyway).
        assert!(parse(
            "p storage restore --storage ONTAP01 --snapshot s1 --yes --no-safety-snapshot"
        )
        .is_err());
        let cli = parse("p storage prune --storage ONTAP01 --keep-last 3 --keep-within 30d --label daily --dry-run --log-level warning")
            .unwrap();
        assert_eq!(cli.log_level, Some(LogLevel::Warn));
        match cli.command {
            Command::Storage(StorageCommand::Prune { retention, .. }) => {
                assert_eq!(retention.keep_last, Some(3));
                assert_eq!(retention.keep_within.as_deref(), Some("30d"));
                assert_eq!(retention.label.as_deref(), Some("daily"));
                assert!(retention.dry_run);
            }
            other => panic!("{other:?}"),
        }
        for line in [
            "p storage create --storage ONTAP01 --label hourly --expiry 2d --freeze",
            "p storage list --storage ONTAP01 --all",
            "p storage mount --storage ONTAP01 --snapshot s --name restore-1",
            "p vm create --vm 200 --freeze --label daily --strict --no-rescan",
            "p vm list --vm 100",
            "p vm delete --vm 100 --snapshot 2024-03-13_14:42:47+0000",
            "p vm restore --vm 100 --snapshot 2024-03-13_14:42:47+0000 --disk scsi0 --yes",
            "p vm prune --vm 100 --keep-within 1d12h",
            "p check --config /tmp/c.ini",
            "p completions zsh",
            "p gen-docs /tmp/out",
            "p run nightly",
            "p hook 100 pre-start",
            "p vzdump job-start",
            "p vzdump backup-end snapshot 100",
        ] {
            parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        for line in [
            "p",
            "p storage",
            "p storage list",
            "p storage list --storage 1bad",
            "p storage list --storage a/b",
            "p storage delete --storage ONTAP01 --snapshot a;b",
            "p storage delete --storage ONTAP01 --snapshot x/y",
            "p storage prune --storage ONTAP01",
            "p storage prune --storage ONTAP01 --keep-last 0",
            "p storage create --storage ONTAP01 --label a-label-that-is-longer-than-31-chars",
            "p vm create --vm 100 --suspend --shutdown",
            "p vm create --vm 99",
            "p vm create --vm 0100",
            "p vm list --vm abc",
            "p --output yaml check",
            "p --log-level loud check",
            "p vzdump backup-start snapshot",
            "p hook 100",
            "p hook x pre-start",
            "p frobnicate",
        ] {
            let e = parse(line).err().unwrap_or_else(|| panic!("{line} parsed"));
            assert_eq!(e.exit_code(), 2, "{line}: {e}");
        }
        assert_eq!(parse("p --version").unwrap_err().exit_code(), 0);
        assert_eq!(parse("p storage list --help").unwrap_err().exit_code(), 0);
    }

    #[test]
    fn the_long_help_documents_the_exit_codes() {
        let help = command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("2  usage or configuration error"), "{help}");
        assert!(
            help.contains("/etc/pve/priv/pve-ontap-snapshot.ini"),
            "{help}"
        );
    }

    #[test]
    fn hookscript_invocations_are_recognised() {
        let mapped = prepare_args(os(&["/var/lib/vz/snippets/pos", "100", "pre-start"]), false);
        assert_eq!(
            strings(mapped),
            vec!["/var/lib/vz/snippets/pos", "hook", "100", "pre-start"]
        );
        // Also from a terminal (`qm start` in the foreground) and with unknown phases.
        let mapped = prepare_args(
            os(&["pve-ontap-snapshot", "123456789", "post-migrate"]),
            true,
        );
        assert_eq!(strings(mapped)[1], "hook");
        // A link named after the hook takes any argv to the hook subcommand.
        let mapped = prepare_args(
            os(&["/x/pve-ontap-snapshot-hook", "100", "pre-start"]),
            true,
        );
        assert_eq!(strings(mapped)[1], "hook");
        let cli =
            Cli::try_parse_from(prepare_args(os(&["/s/pos", "100", "post-stop"]), false)).unwrap();
        match cli.command {
            Command::Hook { vmid, phase } => assert_eq!((vmid, phase.as_str()), (100, "post-stop")),
            other => panic!("{other:?}"),
        }
        // Not a vmid shape: left to clap.
        for args in [
            vec!["p", "99", "pre-start"],
            vec!["p", "0100", "pre-start"],
            vec!["p", "1234567890", "pre-start"],
            vec!["p", "100"],
            vec!["p", "100", "pre-start", "x"],
        ] {
            let mapped = prepare_args(os(&args), false);
            assert_eq!(strings(mapped), args, "{args:?}");
        }
    }

    #[test]
    fn vzdump_invocations_are_recognised_without_a_terminal() {
        for args in [
            vec!["/usr/local/bin/pos", "job-start"],
            vec!["/usr/local/bin/pos", "job-init"],
            vec!["/usr/local/bin/pos", "backup-start", "snapshot", "100"],
            vec!["/usr/local/bin/pos", "pre-stop", "stop", "200"],
            vec!["/usr/local/bin/pos", "log-end", "suspend", "100"],
        ] {
            let mapped = strings(prepare_args(os(&args), false));
            assert_eq!(mapped[1], "vzdump", "{args:?}");
            assert_eq!(&mapped[2..], &args[1..]);
            let cli = Cli::try_parse_from(&mapped).unwrap();
            assert!(matches!(cli.command, Command::Vzdump { .. }));
            // On a terminal, the same words are a typo, not vzdump.
            assert_eq!(strings(prepare_args(os(&args), true)), args);
        }
        let cli = Cli::try_parse_from(prepare_args(
            os(&["pos", "backup-end", "snapshot", "100"]),
            false,
        ))
        .unwrap();
        match cli.command {
            Command::Vzdump { phase, mode, vmid } => {
                assert_eq!(phase, "backup-end");
                assert_eq!(mode.as_deref(), Some("snapshot"));
                assert_eq!(vmid, Some(100));
            }
            other => panic!("{other:?}"),
        }
        // A script named for vzdump passes unknown phases on (the hook module ignores them).
        let mapped = strings(prepare_args(
            os(&["/etc/pve-ontap-snapshot-vzdump", "job-future"]),
            true,
        ));
        assert_eq!(mapped[1..], ["vzdump", "job-future"]);
        // Unknown phase, plain name: not taken for vzdump.
        let args = vec!["pos", "job-future"];
        assert_eq!(strings(prepare_args(os(&args), false)), args);
        // Explicit subcommands are left alone.
        let args = vec!["pos", "vzdump", "job-start"];
        assert_eq!(strings(prepare_args(os(&args), false)), args);
    }

    #[test]
    fn value_parsers() {
        assert_eq!(parse_vmid("100"), Ok(100));
        assert_eq!(parse_vmid("999999999"), Ok(999_999_999));
        assert!(parse_vmid("99").is_err());
        assert!(parse_vmid("+100").is_err());
        assert!(parse_snapshot_name("proxmox_snapshot_2024-03-13_14:42:47+0000").is_ok());
        assert!(parse_snapshot_name("hourly.2026-11-01_0105").is_ok());
        assert!(parse_snapshot_name("").is_err());
        assert!(parse_snapshot_name("a b").is_err());
        assert!(parse_label("daily").is_ok());
        assert!(parse_label("").is_err());
    }
}
