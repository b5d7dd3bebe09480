//! What a guest task does when it ends: start, stop, shutdown, pause, hibernate, resume (QEMU) and
//! start/stop/shutdown/checkpoint/restore (LXC), with the task-side checks and errors of Proxmox.

use std::time::Instant;

use super::pending;
use super::scenario::{GuestType, RunStatus};
use super::state::{Guest, PveState};
use super::task::Action;

/// Run the task part of `action`; Ok = task log lines, Err = `TASK ERROR` text.
pub(crate) fn complete(state: &mut PveState, action: &Action) -> Result<Vec<String>, String> {
    let now = Instant::now();
    match action {
        Action::Config { vmid, update } => pending::apply(state, *vmid, update),
        Action::Create {
            vmid,
            config,
            missing_volume,
        } => create_finish(state, *vmid, config, missing_volume.as_deref()),
        Action::Destroy { vmid } => {
            state.guests.remove(vmid);
            Ok(vec![format!("destroyed VM {vmid}")])
        }
        Action::Hibernate {
            vmid,
            skiplock,
            statestorage,
        } => {
            let target = match statestorage {
                Some(s) => s.clone(),
                None => vmstate_storage(state, *vmid),
            };
            let file_based = state
                .storage(&target)
                .is_some_and(|s| s.options.contains_key("path") || s.storage_type == "nfs");
            let guest = guest_mut(state, *vmid)?;
            hibernate(guest, *skiplock, &target, file_based)
        }
        other => {
            let vmid = match other {
                Action::Start { vmid, .. }
                | Action::Stop { vmid, .. }
                | Action::Shutdown { vmid, .. }
                | Action::Pause { vmid, .. }
                | Action::Resume { vmid, .. }
                | Action::CtSuspend { vmid }
                | Action::CtResume { vmid } => *vmid,
                Action::Config { vmid, .. }
                | Action::Hibernate { vmid, .. }
                | Action::Create { vmid, .. }
                | Action::Destroy { vmid } => *vmid,
            };
            let pid = state.alloc_pid();
            let criu = state
                .guests
                .get(&vmid)
                .and_then(|g| state.node(&g.node))
                .is_some_and(|n| n.criu);
            let guest = guest_mut(state, vmid)?;
            match (guest.guest_type, other) {
                (GuestType::Qemu, Action::Start { skiplock, .. }) => {
                    qemu_start(guest, *skiplock, pid, now)
                }
                (GuestType::Lxc, Action::Start { skiplock, .. }) => {
                    ct_start(guest, *skiplock, pid, now)
                }
                (_, Action::Stop { skiplock, .. }) => stop(guest, *skiplock, false, true),
                (
                    _,
                    Action::Shutdown {
                        skiplock,
                        force_stop,
                        ..
                    },
                ) => stop(guest, *skiplock, true, *force_stop),
                (_, Action::Pause { skiplock, .. }) => pause(guest, *skiplock),
                (_, Action::Resume { skiplock, .. }) => resume(guest, *skiplock, pid, now),
                (_, Action::CtSuspend { .. }) => ct_checkpoint(guest, criu),
                (_, Action::CtResume { .. }) => ct_restore(guest, pid, now),
                _ => Ok(Vec::new()),
            }
        }
    }
}

/// The end of a `qmcreate` task (qemu-server `create_vm` worker): the config is written, or
/// removed when a volume is missing (`unable to create VM <vmid> - volume <volid> does not
/// exist`; the volumes themselves are not freed).
fn create_finish(
    state: &mut PveState,
    vmid: u32,
    config: &std::collections::BTreeMap<String, String>,
    missing_volume: Option<&str>,
) -> Result<Vec<String>, String> {
    if let Some(volid) = missing_volume {
        state.guests.remove(&vmid);
        return Err(format!(
            "unable to create VM {vmid} - volume {volid} does not exist\n"
        ));
    }
    let guest = guest_mut(state, vmid)?;
    guest.config = config.clone();
    Ok(Vec::new())
}

fn guest_mut(state: &mut PveState, vmid: u32) -> Result<&mut Guest, String> {
    state
        .guests
        .get_mut(&vmid)
        .ok_or_else(|| format!("Configuration file of guest {vmid} does not exist\n"))
}

fn set_running(guest: &mut Guest, pid: u32, now: Instant) {
    guest.run = RunStatus::Running;
    guest.pid = Some(pid);
    guest.started = Some(now);
}

fn set_stopped(guest: &mut Guest) {
    guest.run = RunStatus::Stopped;
    guest.pid = None;
    guest.started = None;
    // A stopped guest has no frozen filesystems.
    guest.agent.frozen = false;
}

/// `vm_start`: lock checks, `already running`, resume from hibernation, pending changes applied.
fn qemu_start(
    guest: &mut Guest,
    skiplock: bool,
    pid: u32,
    now: Instant,
) -> Result<Vec<String>, String> {
    let lock = guest.lock().map(str::to_string);
    if lock.as_deref() == Some("backup") && guest.is_running() {
        // A backup holds the VM paused: start means resume.
        guest.run = RunStatus::Running;
        return Ok(vec!["resuming VM held by backup".into()]);
    }
    let suspended = lock.as_deref() == Some("suspended");
    if !(skiplock || suspended) {
        guest.check_lock()?;
    }
    if guest.is_running() {
        return Err(format!("VM {} already running\n", guest.vmid));
    }
    let mut log = Vec::new();
    let resume = suspended || guest.config.contains_key("vmstate");
    if resume {
        log.push("Resuming suspended VM".into());
        for key in ["vmstate", "runningmachine", "runningcpu"] {
            guest.config.remove(key);
        }
        if suspended {
            guest.config.remove("lock");
        }
        log.push("resume: vmstate volume freed".into());
    } else {
        guest.agent.frozen = false;
    }
    guest.apply_pending();
    set_running(guest, pid, now);
    Ok(log)
}

/// LXC `vm_start`.
fn ct_start(
    guest: &mut Guest,
    skiplock: bool,
    pid: u32,
    now: Instant,
) -> Result<Vec<String>, String> {
    if !skiplock {
        guest.check_lock()?;
    }
    if guest.is_running() {
        return Err(format!("CT {} already running\n", guest.vmid));
    }
    guest.apply_pending();
    guest.checkpointed = false;
    set_running(guest, pid, now);
    Ok(Vec::new())
}

/// `vm_stop` / `vm_shutdown` (QEMU) and `vm_stop` (LXC): nothing to do when not running.
fn stop(
    guest: &mut Guest,
    skiplock: bool,
    shutdown: bool,
    force: bool,
) -> Result<Vec<String>, String> {
    if !guest.is_running() {
        return Ok(Vec::new());
    }
    if !skiplock {
        guest.check_lock()?;
    }
    let mut log = Vec::new();
    if shutdown && guest.ignores_shutdown {
        if !force {
            return Err(match guest.guest_type {
                GuestType::Qemu => "VM quit/powerdown failed - got timeout\n".into(),
                GuestType::Lxc => "container did not stop\n".into(),
            });
        }
        log.push("VM still running - terminating now with SIGTERM".into());
    }
    set_stopped(guest);
    // vm_stop_cleanup applies pending changes.
    guest.apply_pending();
    Ok(log)
}

/// `vm_suspend` without state: QMP `stop`. Allowed under `lock: backup`.
fn pause(guest: &mut Guest, skiplock: bool) -> Result<Vec<String>, String> {
    if !(skiplock || guest.lock() == Some("backup")) {
        guest.check_lock()?;
    }
    if !guest.is_running() {
        return Err(format!("VM {} not running\n", guest.vmid));
    }
    guest.run = RunStatus::Paused;
    Ok(Vec::new())
}

/// `vm_suspend` with `todisk=1`.
fn hibernate(
    guest: &mut Guest,
    skiplock: bool,
    target: &str,
    file_based: bool,
) -> Result<Vec<String>, String> {
    let backup = guest.lock() == Some("backup");
    if !(skiplock || backup) {
        guest.check_lock()?;
    }
    if backup {
        return Err("cannot suspend to disk during backup\n".into());
    }
    if !guest.is_running() {
        return Err(format!("VM {} not running\n", guest.vmid));
    }
    let date = time::OffsetDateTime::now_utc().date();
    let name = format!(
        "vm-{}-state-suspend-{:04}-{:02}-{:02}",
        guest.vmid,
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let volid = if file_based {
        format!("{target}:{}/{name}.raw", guest.vmid)
    } else {
        format!("{target}:{name}")
    };
    guest.config.insert("vmstate".into(), volid.clone());
    guest
        .config
        .insert("runningmachine".into(), "pc-i440fx-10.1+pve0".into());
    guest.config.insert(
        "runningcpu".into(),
        "kvm64,enforce,+kvm_pv_eoi,+kvm_pv_unhalt,+lahf_lm,+sep".into(),
    );
    guest.config.insert("lock".into(), "suspended".into());
    // RAM (and with it a frozen agent) is saved, not lost: keep `agent.frozen` as it is.
    guest.run = RunStatus::Stopped;
    guest.pid = None;
    guest.started = None;
    Ok(vec![
        format!("saving VM state and RAM using storage '{target}'"),
        "State saved, quitting".into(),
    ])
}

/// `vm_resume`: `cont` on a paused VM; a full start after hibernation.
fn resume(
    guest: &mut Guest,
    skiplock: bool,
    pid: u32,
    now: Instant,
) -> Result<Vec<String>, String> {
    if guest.lock() == Some("suspended") {
        return qemu_start(guest, skiplock, pid, now);
    }
    match guest.run {
        RunStatus::Stopped => Err(format!("VM {} not running\n", guest.vmid)),
        RunStatus::Running => Ok(Vec::new()),
        RunStatus::Paused => {
            if !(skiplock || guest.lock() == Some("backup")) {
                guest.check_lock()?;
            }
            guest.run = RunStatus::Running;
            Ok(Vec::new())
        }
    }
}

/// `pct suspend` (pve-container `src/PVE/API2/LXC/Status.pm` `vm_suspend`, "experimental"):
/// `lxc-checkpoint -s` stops the container and saves its state with CRIU. Without a working
/// `criu` on the node, lxc's `criu_version_ok` fails before anything happens (lxc
/// `src/lxc/criu.c`, `src/lxc/tools/lxc_checkpoint.c`): the container keeps running, the
/// tool's stderr lands in the task log and `run_command` ends the task with the exit code.
fn ct_checkpoint(guest: &mut Guest, criu: bool) -> Result<Vec<String>, String> {
    guest.check_lock()?;
    if !guest.is_running() {
        return Err(format!("CT {} not running\n", guest.vmid));
    }
    let vmid = guest.vmid;
    let command = format!("lxc-checkpoint -n {vmid} -s -D /var/lib/vz/dump");
    if !criu {
        return Err(format!(
            "lxc-checkpoint: {vmid}: criu.c: criu_version_ok: 762 No such file or directory - \
             execing criu failed, is it installed?\n\
             lxc-checkpoint: {vmid}: tools/lxc_checkpoint.c: checkpoint: 182 Checkpointing \
             {vmid} failed\n\
             command '{command}' failed: exit code 1\n"
        ));
    }
    set_stopped(guest);
    guest.checkpointed = true;
    Ok(vec![command])
}

/// `pct resume`: restore from the checkpoint.
fn ct_restore(guest: &mut Guest, pid: u32, now: Instant) -> Result<Vec<String>, String> {
    if guest.is_running() {
        return Err(format!("CT {} already running\n", guest.vmid));
    }
    if !guest.checkpointed {
        return Err(format!(
            "command 'lxc-checkpoint -n {} -r --foreground -D /var/lib/vz/dump' failed: exit code 1\n",
            guest.vmid
        ));
    }
    guest.checkpointed = false;
    set_running(guest, pid, now);
    Ok(Vec::new())
}

/// `find_vmstate_storage`: `vmstatestorage`, else a shared storage the VM has a disk on
/// (file-based preferred), else a local one, else `local`.
fn vmstate_storage(state: &PveState, vmid: u32) -> String {
    let Some(guest) = state.guests.get(&vmid) else {
        return "local".into();
    };
    if let Some(s) = guest.config.get("vmstatestorage") {
        return s.clone();
    }
    let mut shared: Option<String> = None;
    let mut local: Option<String> = None;
    for (_, volid) in guest.disk_volids() {
        let Some((sid, _)) = super::volumes::parse_volid(&volid) else {
            continue;
        };
        let Some(storage) = state.storage(sid) else {
            continue;
        };
        let is_shared = storage
            .options
            .get("shared")
            .is_some_and(super::state::flag_value);
        let slot = if is_shared { &mut shared } else { &mut local };
        if slot.is_none() || storage.options.contains_key("path") {
            *slot = Some(sid.to_string());
        }
    }
    shared.or(local).unwrap_or_else(|| "local".into())
}
