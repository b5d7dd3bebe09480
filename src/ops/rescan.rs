//! Registering new disk files with Proxmox: `qm rescan --vmid N` / `pct rescan --vmid N` on a
//! Proxmox node, right away, or from a detached child that waits until the guest's config lock is
//! free (and, under vzdump, until the vzdump process ended).
//!
//! Why detached: every hookscript phase runs while Proxmox holds the guest's config flock
//! (`/var/lock/qemu-server/lock-<vmid>.conf`, qemu-server `PVE/QemuConfig.pm`; LXC likewise), and
//! `qm rescan` needs that lock, so a rescan from inside the hook would block and fail after
//! Proxmox's 10 s flock timeout. No API endpoint rescans (`rescan` exists only in the `qm`/`pct`
//! CLIs), and the scanner lists only files whose names it accepts (pve-storage `Plugin.pm`).

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::pve::{Guest, GuestType};
use crate::sys::lock::lock_is_free;
use crate::sys::paths::{Paths, BIN};
use crate::sys::process::{process_alive, process_start_time, run_bounded, SAFE_PATH};
use crate::sys::rescan_slot::{start_detached, Slot, Started};

/// The hidden subcommand that runs `run_deferred_from_args` in the detached child.
pub const HIDDEN_SUBCOMMAND: &str = "internal-rescan";
/// How long a deferred rescan waits for the config lock.
pub const LOCK_WAIT: Duration = Duration::from_secs(600);
/// How long a deferred rescan waits for a vzdump job to end (backups take hours).
pub const VZDUMP_WAIT: Duration = Duration::from_secs(12 * 3600);
/// Bound on one `qm rescan` run (it activates every images storage of the node).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between lock probes of the waiter (at most once a second).
const POLL: Duration = Duration::from_secs(1);
const RETRY: Duration = Duration::from_secs(5);

/// When the rescan may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RescanMode {
    /// Now when the config lock is free; otherwise from a detached child waiting for it.
    #[default]
    Auto,
    /// Always from a detached child: once the config lock is free and, with a pid, once that
    /// vzdump process has ended (during a backup the config carries `lock: backup`).
    Deferred { vzdump_pid: Option<u32> },
}

/// What happened to the rescan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rescan", rename_all = "snake_case")]
pub enum Outcome {
    /// Not running on a Proxmox node (the node marker is missing).
    NotANode,
    /// The guest belongs to another node; `qm rescan` only sees local guests.
    OtherNode {
        node: String,
    },
    Ran {
        command: String,
        output: String,
    },
    Failed {
        command: String,
        message: String,
    },
    /// A waiter was started: a process (`pid`) or, where systemd runs, a transient unit.
    Deferred {
        by: String,
        command: String,
        waiting_for: String,
    },
    /// A waiter for this guest was already waiting; it rescans once more for this request.
    Joined {
        pid: u32,
        command: String,
    },
}

impl Outcome {
    /// One line for the command's notes.
    pub fn note(&self) -> String {
        match self {
            Outcome::NotANode => "not on a Proxmox node: no rescan".into(),
            Outcome::OtherNode { node } => {
                format!(
                    "the guest lives on node {node}: run the rescan there to list the new files"
                )
            }
            Outcome::Ran { command, .. } => format!("registered with '{command}'"),
            Outcome::Failed { command, message } => {
                format!("'{command}' failed ({message}); run it by hand to list the new files")
            }
            Outcome::Deferred {
                by,
                command,
                waiting_for,
            } => format!("'{command}' deferred to {by}, waiting for {waiting_for}"),
            Outcome::Joined { pid, command } => {
                format!("'{command}' joined the waiting process {pid}, which runs it once more")
            }
        }
    }
}

/// The guest's node-local config flock: QEMU `<dir>/lock-<vmid>.conf`, LXC `<dir>/pve-config-<vmid>.lock`.
pub fn config_lock_file(paths: &Paths, guest_type: GuestType, vmid: u32) -> PathBuf {
    match guest_type {
        GuestType::Qemu => paths.qemu_config_lock_dir.join(format!("lock-{vmid}.conf")),
        GuestType::Lxc => paths
            .lxc_config_lock_dir
            .join(format!("pve-config-{vmid}.lock")),
    }
}

/// `qm` or `pct`.
pub fn command_for(paths: &Paths, guest_type: GuestType) -> &Path {
    match guest_type {
        GuestType::Qemu => &paths.qm,
        GuestType::Lxc => &paths.pct,
    }
}

/// Rescan the guest's volumes (on a Proxmox node only), now or deferred as `mode` says.
pub fn rescan(paths: &Paths, guest: &Guest, mode: RescanMode) -> Result<Outcome> {
    let exe =
        std::env::current_exe().map_err(|e| Error::io("find the path of", "this program", e))?;
    rescan_with(paths, guest, mode, &exe)
}

fn rescan_with(paths: &Paths, guest: &Guest, mode: RescanMode, exe: &Path) -> Result<Outcome> {
    if !paths.pve_node_marker.exists() {
        return Ok(Outcome::NotANode);
    }
    if let Some(node) = local_node(&paths.pve_node_marker) {
        if node != guest.node {
            return Ok(Outcome::OtherNode {
                node: guest.node.clone(),
            });
        }
    }
    let command = command_for(paths, guest.guest_type).to_path_buf();
    let lock_file = config_lock_file(paths, guest.guest_type, guest.vmid);
    let shown = format!("{} rescan --vmid {}", command.display(), guest.vmid);
    let vzdump = match mode {
        RescanMode::Auto if lock_is_free(&lock_file)? => {
            return Ok(match run_rescan(&command, guest.vmid, COMMAND_TIMEOUT) {
                Ok(output) => Outcome::Ran {
                    command: shown,
                    output,
                },
                Err(e) => Outcome::Failed {
                    command: shown,
                    message: e.to_string(),
                },
            });
        }
        RescanMode::Auto => None,
        RescanMode::Deferred { vzdump_pid } => vzdump_pid,
    };
    let slot = Slot::new(&paths.lock_dir, guest.vmid);
    if let Some(pid) = slot.request()? {
        return Ok(Outcome::Joined {
            pid,
            command: shown,
        });
    }
    let wait_pid = vzdump.and_then(|pid| process_start_time(pid).map(|start| (pid, start)));
    let args = DeferredArgs {
        vmid: guest.vmid,
        command,
        lock_file,
        slot_dir: paths.lock_dir.clone(),
        deadline: if wait_pid.is_some() {
            VZDUMP_WAIT + LOCK_WAIT
        } else {
            LOCK_WAIT
        },
        wait_pid,
    };
    let by = match spawn_deferred(&paths.root, exe, &args)? {
        Started::Process(pid) => format!("process {pid}"),
        Started::Unit(unit) => format!("systemd unit {unit}"),
    };
    let waiting_for = match wait_pid {
        Some((p, _)) => format!(
            "vzdump process {p} to end and the config lock {}",
            args.lock_file.display()
        ),
        None => format!("the config lock {} to be free", args.lock_file.display()),
    };
    Ok(Outcome::Deferred {
        by,
        command: shown,
        waiting_for,
    })
}

/// The node name behind `/etc/pve/local` (a symlink to `nodes/<node>`), if it is one.
fn local_node(marker: &Path) -> Option<String> {
    let target = std::fs::read_link(marker).ok()?;
    target.file_name()?.to_str().map(str::to_string)
}

/// Start `exe internal-rescan ...` detached (own session; own systemd unit where systemd runs);
/// the caller does not wait for it.
fn spawn_deferred(root: &Path, exe: &Path, args: &DeferredArgs) -> Result<Started> {
    let mut argv = vec![HIDDEN_SUBCOMMAND.to_string()];
    argv.extend(args.to_args());
    let unit = format!("{BIN}-rescan-{}-{}", args.vmid, std::process::id());
    start_detached(root, exe, &argv, &unit, args.deadline, SAFE_PATH)
}

/// The arguments of the hidden `internal-rescan` subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredArgs {
    pub vmid: u32,
    /// Absolute path of `qm` or `pct`.
    pub command: PathBuf,
    pub lock_file: PathBuf,
    /// The node lock directory holding the guest's waiter slot.
    pub slot_dir: PathBuf,
    /// Give up after this long.
    pub deadline: Duration,
    /// Wait first until this process (pid, start time from `/proc/<pid>/stat`) has ended.
    pub wait_pid: Option<(u32, u64)>,
}

impl DeferredArgs {
    pub fn to_args(&self) -> Vec<String> {
        let mut out = vec![
            "--vmid".into(),
            self.vmid.to_string(),
            "--command".into(),
            self.command.display().to_string(),
            "--lock-file".into(),
            self.lock_file.display().to_string(),
            "--slot-dir".into(),
            self.slot_dir.display().to_string(),
            "--deadline".into(),
            self.deadline.as_secs().to_string(),
        ];
        if let Some((pid, start)) = self.wait_pid {
            out.push("--wait-pid".into());
            out.push(format!("{pid}:{start}"));
        }
        out
    }

    /// Parse what `to_args` wrote (the arguments after the subcommand name).
    pub fn parse(args: &[String]) -> Result<DeferredArgs> {
        let usage = |m: String| Error::Usage(format!("{HIDDEN_SUBCOMMAND}: {m}"));
        let (mut vmid, mut command, mut lock_file, mut deadline, mut wait_pid) =
            (None, None, None, None, None);
        let mut slot_dir = None;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it
                .next()
                .ok_or_else(|| usage(format!("{flag} needs a value")))?;
            let bad = || usage(format!("invalid value '{value}' for {flag}"));
            match flag.as_str() {
                "--vmid" => vmid = Some(value.parse::<u32>().map_err(|_| bad())?),
                "--command" => command = Some(PathBuf::from(value)),
                "--lock-file" => lock_file = Some(PathBuf::from(value)),
                "--slot-dir" => slot_dir = Some(PathBuf::from(value)),
                "--deadline" => {
                    deadline = Some(Duration::from_secs(value.parse().map_err(|_| bad())?))
                }
                "--wait-pid" => {
                    let (pid, start) = value.split_once(':').ok_or_else(bad)?;
                    wait_pid = Some((
                        pid.parse().map_err(|_| bad())?,
                        start.parse().map_err(|_| bad())?,
                    ));
                }
                _ => return Err(usage(format!("unknown option {flag}"))),
            }
        }
        let missing = |name: &str| usage(format!("--{name} is required"));
        let command: PathBuf = command.ok_or_else(|| missing("command"))?;
        if !command.is_absolute() {
            return Err(usage(format!(
                "--command must be an absolute path, not '{}'",
                command.display()
            )));
        }
        Ok(DeferredArgs {
            vmid: vmid.ok_or_else(|| missing("vmid"))?,
            command,
            lock_file: lock_file.ok_or_else(|| missing("lock-file"))?,
            slot_dir: slot_dir.ok_or_else(|| missing("slot-dir"))?,
            deadline: deadline.unwrap_or(LOCK_WAIT),
            wait_pid,
        })
    }
}

/// Entry point of the hidden subcommand (`app` dispatches `internal-rescan <args>` here).
pub fn run_deferred_from_args(args: &[String]) -> Result<()> {
    run_deferred(&DeferredArgs::parse(args)?)
}

/// The detached child: take the guest's waiter slot (or end at once when another waiter has it),
/// wait (bounded) for the vzdump process to end and for the config lock to be free, then rescan;
/// retry a failed rescan (e.g. a `lock:` still in the config) until the deadline, and rescan once
/// more for every request that came in meanwhile. Polls at most once a second; removes its slot.
pub fn run_deferred(args: &DeferredArgs) -> Result<()> {
    let start = Instant::now();
    let deadline = start + args.deadline;
    let vmid = args.vmid;
    let slot = Slot::new(&args.slot_dir, vmid);
    let Some(mut held) = slot.take()? else {
        log::info!("another process waits to rescan guest {vmid}; it serves this request too");
        return Ok(());
    };
    let timeout = |what: String| Error::Timeout {
        what,
        waited: start.elapsed(),
    };
    if let Some((pid, started)) = args.wait_pid {
        while process_alive(pid, started) {
            if Instant::now() >= deadline {
                return Err(timeout(format!(
                    "vzdump process {pid} to end before rescanning guest {vmid}"
                )));
            }
            thread::sleep(POLL);
        }
    }
    loop {
        while !lock_is_free(&args.lock_file)? {
            if Instant::now() >= deadline {
                return Err(Error::Lock {
                    path: args.lock_file.clone(),
                    holder: format!("Proxmox (config lock of guest {vmid})"),
                    waited: start.elapsed(),
                });
            }
            thread::sleep(POLL);
        }
        let seen = slot.requests();
        match run_rescan(&args.command, vmid, COMMAND_TIMEOUT) {
            Ok(output) => {
                log::info!(
                    "{} rescan --vmid {vmid}: {}",
                    args.command.display(),
                    output.trim()
                );
                match slot.finish(held, seen)? {
                    None => return Ok(()),
                    Some(again) => held = again,
                }
            }
            Err(e) if Instant::now() + RETRY < deadline => {
                log::warn!("{e}; retrying");
                thread::sleep(RETRY);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Run `<command> rescan --vmid N` with a clean environment, bounded; returns its output.
pub fn run_rescan(command: &Path, vmid: u32, timeout: Duration) -> Result<String> {
    run_bounded(command, &["rescan", "--vmid", &vmid.to_string()], timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::process::SAFE_PATH;
    use std::fs::File;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory under the system temp dir.
    fn temp_dir() -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pos-rescan-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A fake `qm` that appends its arguments and its environment to `calls`.
    fn fake_qm(dir: &Path, exit: i32) -> PathBuf {
        let qm = dir.join("qm");
        let calls = dir.join("calls");
        let mut f = File::create(&qm).unwrap();
        writeln!(
            f,
            "#!/bin/sh\necho \"$@ PATH=$PATH HOME=${{HOME:-unset}}\" >> {}\necho scanned\nexit {exit}",
            calls.display()
        )
        .unwrap();
        drop(f);
        std::fs::set_permissions(&qm, std::fs::Permissions::from_mode(0o755)).unwrap();
        qm
    }

    fn paths(dir: &Path, node_marker: bool) -> Paths {
        let marker = dir.join("local");
        if node_marker {
            std::fs::create_dir_all(&marker).unwrap();
        }
        Paths {
            qm: fake_qm(dir, 0),
            pct: dir.join("pct"),
            pve_node_marker: marker,
            qemu_config_lock_dir: dir.join("qemu-server"),
            lock_dir: dir.join("locks"),
            lxc_config_lock_dir: dir.join("lxc"),
            ..Paths::default()
        }
    }

    fn guest(vmid: u32, node: &str) -> Guest {
        Guest {
            vmid,
            node: node.into(),
            guest_type: GuestType::Qemu,
            name: None,
            status: "running".into(),
        }
    }

    fn calls(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("calls")).unwrap_or_default()
    }

    #[test]
    fn lock_files_per_guest_type() {
        let p = Paths::default();
        assert_eq!(
            config_lock_file(&p, GuestType::Qemu, 100),
            PathBuf::from("/var/lock/qemu-server/lock-100.conf")
        );
        assert_eq!(
            config_lock_file(&p, GuestType::Lxc, 200),
            PathBuf::from("/run/lock/lxc/pve-config-200.lock")
        );
        assert_eq!(command_for(&p, GuestType::Lxc), Path::new("/usr/sbin/pct"));
    }

    #[test]
    fn not_a_node_means_no_rescan() {
        let dir = temp_dir();
        let p = paths(&dir, false);
        let o = rescan_with(
            &p,
            &guest(100, "pve1"),
            RescanMode::Auto,
            Path::new("/bin/false"),
        )
        .unwrap();
        assert_eq!(o, Outcome::NotANode);
        assert_eq!(calls(&dir), "");
    }

    #[test]
    fn free_lock_rescans_now_with_a_clean_environment() {
        let dir = temp_dir();
        let p = paths(&dir, true);
        let o = rescan_with(
            &p,
            &guest(100, "pve1"),
            RescanMode::Auto,
            Path::new("/bin/false"),
        )
        .unwrap();
        assert!(
            matches!(o, Outcome::Ran { ref output, .. } if output.trim() == "scanned"),
            "{o:?}"
        );
        assert_eq!(
            calls(&dir).trim(),
            format!("rescan --vmid 100 PATH={SAFE_PATH} HOME=unset")
        );
        assert!(o.note().contains("rescan --vmid 100"));
    }

    #[test]
    fn failing_rescan_is_reported_not_fatal() {
        let dir = temp_dir();
        let mut p = paths(&dir, true);
        p.qm = fake_qm(&dir, 3);
        let o = rescan_with(
            &p,
            &guest(100, "pve1"),
            RescanMode::Auto,
            Path::new("/bin/false"),
        )
        .unwrap();
        assert!(
            matches!(o, Outcome::Failed { ref message, .. } if message.contains("exit status: 3")),
            "{o:?}"
        );
    }

    #[test]
    fn guest_on_another_node_is_left_alone() {
        let dir = temp_dir();
        let mut p = paths(&dir, false);
        std::fs::create_dir_all(dir.join("nodes/pve1")).unwrap();
        std::os::unix::fs::symlink(dir.join("nodes/pve1"), dir.join("local")).unwrap();
        p.pve_node_marker = dir.join("local");
        let o = rescan_with(
            &p,
            &guest(103, "pve2"),
            RescanMode::Auto,
            Path::new("/bin/false"),
        )
        .unwrap();
        assert_eq!(
            o,
            Outcome::OtherNode {
                node: "pve2".into()
            }
        );
        let o = rescan_with(
            &p,
            &guest(100, "pve1"),
            RescanMode::Auto,
            Path::new("/bin/false"),
        )
        .unwrap();
        assert!(matches!(o, Outcome::Ran { .. }), "{o:?}");
    }

    #[test]
    fn held_lock_defers_to_a_detached_child() {
        let dir = temp_dir();
        let p = paths(&dir, true);
        std::fs::create_dir_all(&p.qemu_config_lock_dir).unwrap();
        let lock = config_lock_file(&p, GuestType::Qemu, 100);
        let held = File::create(&lock).unwrap();
        held.lock().unwrap();
        assert!(!lock_is_free(&lock).unwrap());
        // A stand-in for this program: records the hidden subcommand's arguments.
        let exe = dir.join("exe");
        std::fs::write(
            &exe,
            format!(
                "#!/bin/sh\necho \"$@\" > {}\n",
                dir.join("spawned").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let o = rescan_with(&p, &guest(100, "pve1"), RescanMode::Auto, &exe).unwrap();
        let Outcome::Deferred { waiting_for, .. } = &o else {
            panic!("{o:?}")
        };
        assert!(waiting_for.contains("lock-100.conf"));
        // Nothing ran in the foreground.
        assert_eq!(calls(&dir), "");
        let spawned = dir.join("spawned");
        let deadline = Instant::now() + Duration::from_secs(10);
        // The shell creates the file before it writes the line: wait for the whole line.
        let mut line = String::new();
        while !line.ends_with('\n') && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
            line = std::fs::read_to_string(&spawned).unwrap_or_default();
        }
        let args: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        assert_eq!(args[0], HIDDEN_SUBCOMMAND);
        let parsed = DeferredArgs::parse(&args[1..]).unwrap();
        assert_eq!(parsed.vmid, 100);
        assert_eq!(parsed.lock_file, lock);
        assert_eq!(parsed.slot_dir, p.lock_dir);
        // A second request while no waiter holds the slot yet (the stand-in never takes it)
        // starts another; once a waiter holds it, requests join.
        let held_slot = crate::sys::rescan_slot::Slot::new(&p.lock_dir, 100)
            .take()
            .unwrap()
            .unwrap();
        let o = rescan_with(&p, &guest(100, "pve1"), RescanMode::Auto, &exe).unwrap();
        assert_eq!(
            o,
            Outcome::Joined {
                pid: std::process::id(),
                command: format!("{} rescan --vmid 100", p.qm.display()),
            }
        );
        drop(held_slot);
        assert_eq!(parsed.deadline, LOCK_WAIT);
        drop(held);
    }

    #[test]
    fn deferred_child_waits_for_the_lock_then_rescans() {
        let dir = temp_dir();
        let p = paths(&dir, true);
        std::fs::create_dir_all(&p.qemu_config_lock_dir).unwrap();
        let lock = config_lock_file(&p, GuestType::Qemu, 100);
        let held = File::create(&lock).unwrap();
        held.lock().unwrap();
        let args = DeferredArgs {
            vmid: 100,
            command: p.qm.clone(),
            lock_file: lock.clone(),
            slot_dir: dir.join("locks"),
            deadline: Duration::from_secs(30),
            wait_pid: None,
        };
        let child = thread::spawn(move || run_deferred(&args));
        thread::sleep(Duration::from_millis(300));
        // Still waiting: the lock is held.
        assert_eq!(calls(&dir), "");
        drop(held);
        child.join().unwrap().unwrap();
        assert!(calls(&dir).starts_with("rescan --vmid 100 "));
        // The waiter left nothing behind.
        assert_eq!(std::fs::read_dir(dir.join("locks")).unwrap().count(), 0);
    }

    #[test]
    fn deferred_child_gives_up_at_the_deadline() {
        let dir = temp_dir();
        let p = paths(&dir, true);
        std::fs::create_dir_all(&p.qemu_config_lock_dir).unwrap();
        let lock = config_lock_file(&p, GuestType::Qemu, 100);
        let held = File::create(&lock).unwrap();
        held.lock().unwrap();
        let args = DeferredArgs {
            vmid: 100,
            command: p.qm.clone(),
            lock_file: lock,
            slot_dir: dir.join("locks"),
            deadline: Duration::from_millis(300),
            wait_pid: None,
        };
        let e = run_deferred(&args).unwrap_err();
        assert!(e.to_string().contains("lock-100.conf"), "{e}");
        assert_eq!(calls(&dir), "");
    }

    #[test]
    fn deferred_child_waits_for_the_vzdump_process() {
        let dir = temp_dir();
        let p = paths(&dir, true);
        let mut sleeper = Command::new("/bin/sleep").arg("0.3").spawn().unwrap();
        let pid = sleeper.id();
        let start = process_start_time(pid).unwrap();
        let args = DeferredArgs {
            vmid: 100,
            command: p.qm.clone(),
            lock_file: dir.join("none.lock"),
            slot_dir: dir.join("locks"),
            deadline: Duration::from_secs(30),
            wait_pid: Some((pid, start)),
        };
        assert!(process_alive(pid, start));
        run_deferred(&args).unwrap();
        // The rescan ran only after the process had ended.
        assert!(sleeper.try_wait().unwrap().is_some());
        assert!(calls(&dir).starts_with("rescan --vmid 100 "));
    }

    #[test]
    fn deferred_args_round_trip_and_reject_garbage() {
        let a = DeferredArgs {
            vmid: 200,
            command: "/usr/sbin/pct".into(),
            lock_file: "/run/lock/lxc/pve-config-200.lock".into(),
            slot_dir: "/run/lock/pve-ontap-snapshot".into(),
            deadline: Duration::from_secs(43800),
            wait_pid: Some((4242, 99)),
        };
        assert_eq!(DeferredArgs::parse(&a.to_args()).unwrap(), a);
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for bad in [
            s(&["--vmid"]),
            s(&["--vmid", "x", "--command", "/q", "--lock-file", "/l"]),
            s(&["--command", "/q", "--lock-file", "/l"]),
            s(&["--vmid", "1", "--command", "qm", "--lock-file", "/l"]),
            s(&[
                "--vmid",
                "1",
                "--command",
                "/q",
                "--lock-file",
                "/l",
                "--what",
                "x",
            ]),
            s(&[
                "--vmid",
                "1",
                "--command",
                "/q",
                "--lock-file",
                "/l",
                "--wait-pid",
                "7",
            ]),
        ] {
            let e = DeferredArgs::parse(&bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad:?}: {e}");
        }
    }

    #[test]
    fn start_time_of_this_process() {
        assert!(process_start_time(std::process::id()).is_some());
        assert_eq!(process_start_time(u32::MAX), None);
    }
}
