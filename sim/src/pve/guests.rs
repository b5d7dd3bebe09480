//! Guest endpoints: per-node QEMU/LXC lists, `status/current`, and the power actions
//! (`status/start|stop|shutdown|suspend|resume`) that answer with a UPID task.

use std::time::Duration;

use serde_json::{json, Value};

use super::call::Call;
use super::envelope::{PveError, Reply};
use super::find::{find_guest, guest_type_of};
use super::params::{opt, verify_storage_id, Kind, Prop, NODE, VMID};
use super::scenario::{GuestType, RunStatus};
use super::state::{Guest, PveState};
use super::task::{Action, NewTask};

fn list_entry(guest: &Guest, full: bool) -> Value {
    let mut v = json!({
        "vmid": guest.vmid,
        "name": guest.name(),
        "status": guest.status_str(),
        "cpus": guest.cpus(),
        "maxmem": guest.maxmem(),
        "maxdisk": guest.maxdisk(),
        "mem": if guest.is_running() { guest.maxmem() / 4 } else { 0 },
        "cpu": 0,
        "disk": 0,
        "netin": 0,
        "netout": 0,
        "diskread": 0,
        "diskwrite": 0,
        "uptime": guest.uptime(),
    });
    if let Some(pid) = guest.pid {
        v["pid"] = json!(pid);
    }
    if let Some(lock) = guest.lock() {
        v["lock"] = json!(lock);
    }
    if let Some(tags) = guest.config.get("tags") {
        v["tags"] = json!(tags);
    }
    if guest.config.get("template").map(String::as_str) == Some("1") {
        v["template"] = json!(1);
    }
    match guest.guest_type {
        GuestType::Qemu => {
            if full {
                v["qmpstatus"] = json!(guest.qmpstatus());
            }
        }
        GuestType::Lxc => {
            v["type"] = json!("lxc");
            let swap = guest
                .config
                .get("swap")
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(512);
            v["maxswap"] = json!(swap << 20);
        }
    }
    v
}

/// `GET /nodes/{node}/qemu` and `/nodes/{node}/lxc`.
pub(crate) fn list(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    let guest_type = guest_type_of(call);
    match guest_type {
        GuestType::Qemu => call.params.check(&[NODE, opt("full", Kind::Bool)])?,
        GuestType::Lxc => call.params.check(&[NODE])?,
    }
    let node = call.params.str("node").unwrap_or_default();
    let full = call.params.flag("full");
    let list: Vec<Value> = state
        .guests
        .values()
        .filter(|g| g.node == node && g.guest_type == guest_type)
        // qemu-server `src/PVE/API2/Qemu.pm`, pve-container `src/PVE/API2/LXC.pm` `vmlist`:
        // only guests with VM.Audit on `/vms/<vmid>`.
        .filter(|g| state.may(&call.user, &format!("/vms/{}", g.vmid), "VM.Audit"))
        .map(|g| list_entry(g, full))
        .collect();
    Ok(Value::Array(list).into())
}

/// `GET /nodes/{node}/{type}/{vmid}`: the sub-directories.
pub(crate) fn index(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, VMID])?;
    let guest = find_guest(state, call)?;
    let mut dirs = vec!["config", "pending", "status", "snapshot", "firewall", "rrd"];
    if guest.guest_type == GuestType::Qemu {
        dirs.push("agent");
    }
    Ok(Value::Array(dirs.into_iter().map(|d| json!({"subdir": d})).collect()).into())
}

/// `GET .../status`: the sub-directories.
pub(crate) fn status_index(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, VMID])?;
    find_guest(state, call)?;
    let dirs = [
        "current", "start", "stop", "reset", "shutdown", "suspend", "reboot", "resume",
    ];
    Ok(Value::Array(dirs.iter().map(|d| json!({"subcmd": d})).collect()).into())
}

/// `GET .../status/current`.
pub(crate) fn current(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, VMID])?;
    let guest = find_guest(state, call)?;
    let mut v = list_entry(guest, false);
    v["ha"] = json!({"managed": 0});
    match guest.guest_type {
        GuestType::Qemu => {
            v["qmpstatus"] = json!(guest.qmpstatus());
            if guest.agent_enabled() {
                v["agent"] = json!(1);
            }
            if guest.is_running() {
                v["running-qemu"] = json!("10.1.0");
                v["running-machine"] = json!("pc-i440fx-10.1+pve0");
            }
        }
        GuestType::Lxc => {}
    }
    Ok(v.into())
}

/// Options only `root@pam` may use (a token of root is not root): refused when set to a true value.
fn root_only(call: &Call, names: &[&str]) -> Result<(), PveError> {
    for name in names {
        let used = call
            .params
            .str(name)
            .is_some_and(|v| !v.is_empty() && v != "0");
        if used && call.user != "root@pam" {
            return Err(PveError::param(name, "Only root may use this option."));
        }
    }
    Ok(())
}

const SKIPLOCK: Prop = opt("skiplock", Kind::Bool);
const STATESTORAGE: Prop = opt("statestorage", Kind::Fmt(verify_storage_id));

/// `POST .../status/{start|stop|shutdown|suspend|resume}` → a UPID.
pub(crate) fn power(state: &mut PveState, call: &Call, command: &str) -> Result<Reply, PveError> {
    match guest_type_of(call) {
        GuestType::Qemu => qemu_power(state, call, command),
        GuestType::Lxc => lxc_power(state, call, command),
    }
}

fn qemu_power(state: &mut PveState, call: &Call, command: &str) -> Result<Reply, PveError> {
    let p = &call.params;
    match command {
        "start" => p.check(&[
            NODE,
            VMID,
            SKIPLOCK,
            opt("timeout", Kind::Int),
            opt("machine", Kind::Str),
            opt("stateuri", Kind::Str),
            opt("migratedfrom", Kind::Fmt(super::params::verify_node)),
            opt("migration_type", Kind::Enum(&["secure", "insecure"])),
            opt("migration_network", Kind::Str),
            opt("targetstorage", Kind::Str),
            opt("force-cpu", Kind::Str),
        ])?,
        "stop" => p.check(&[
            NODE,
            VMID,
            SKIPLOCK,
            opt("timeout", Kind::Int),
            opt("keepActive", Kind::Bool),
            opt("migratedfrom", Kind::Fmt(super::params::verify_node)),
            opt("overrule-shutdown", Kind::Bool),
        ])?,
        "shutdown" => p.check(&[
            NODE,
            VMID,
            SKIPLOCK,
            opt("timeout", Kind::Int),
            opt("forceStop", Kind::Bool),
            opt("keepActive", Kind::Bool),
        ])?,
        "suspend" => p.check(&[
            NODE,
            VMID,
            SKIPLOCK,
            opt("todisk", Kind::Bool),
            STATESTORAGE,
        ])?,
        _ => p.check(&[NODE, VMID, SKIPLOCK, opt("nocheck", Kind::Bool)])?,
    }
    root_only(
        call,
        &[
            "skiplock",
            "keepActive",
            "migratedfrom",
            "stateuri",
            "migration_type",
            "migration_network",
            "targetstorage",
            "force-cpu",
            "nocheck",
        ],
    )?;
    for unsupported in [
        "migratedfrom",
        "stateuri",
        "migration_type",
        "migration_network",
        "targetstorage",
        "force-cpu",
    ] {
        if p.str(unsupported).is_some() {
            return Err(PveError::unsupported(&format!(
                "migration parameter '{unsupported}'"
            )));
        }
    }
    let skiplock = p.flag("skiplock");
    let guest = find_guest(state, call)?;
    let vmid = guest.vmid;
    let timing = state.timing.clone();
    let task_ms = Duration::from_millis(timing.task_ms);
    let (task_type, action, duration) = match command {
        "start" => ("qmstart", Action::Start { vmid, skiplock }, task_ms),
        "stop" => ("qmstop", Action::Stop { vmid, skiplock }, task_ms),
        "shutdown" => {
            let force_stop = p.flag("forceStop");
            if guest.run == RunStatus::Paused {
                if !force_stop {
                    return Err(PveError::die("VM is paused - cannot shutdown"));
                }
                // "VM is paused - stop instead of shutdown"
                ("qmshutdown", Action::Stop { vmid, skiplock }, task_ms)
            } else {
                let ms = if guest.ignores_shutdown && guest.is_running() {
                    timing.shutdown_timeout_ms
                } else {
                    timing.shutdown_ms
                };
                (
                    "qmshutdown",
                    Action::Shutdown {
                        vmid,
                        skiplock,
                        force_stop,
                    },
                    Duration::from_millis(ms),
                )
            }
        }
        "suspend" => {
            let todisk = p.flag("todisk");
            let statestorage = p.str("statestorage");
            if statestorage.is_some() && p.str("todisk").is_none() {
                return Err(PveError::param(
                    "todisk",
                    "missing property - 'statestorage' requires this property",
                ));
            }
            if !guest.is_running() {
                return Err(PveError::die(format!("VM {vmid} not running")));
            }
            if todisk {
                if let Some(sid) = &statestorage {
                    if state.storage(sid).is_none() {
                        return Err(PveError::die(format!("storage '{sid}' does not exist")));
                    }
                }
                (
                    "qmsuspend",
                    Action::Hibernate {
                        vmid,
                        skiplock,
                        statestorage,
                    },
                    task_ms,
                )
            } else {
                ("qmpause", Action::Pause { vmid, skiplock }, task_ms)
            }
        }
        _ => {
            let hibernated = guest.lock() == Some("suspended");
            if !hibernated && !guest.is_running() {
                return Err(PveError::die(format!("VM {vmid} not running")));
            }
            ("qmresume", Action::Resume { vmid, skiplock }, task_ms)
        }
    };
    let node = guest.node.clone();
    let line = format!("{command} VM {vmid}");
    Ok(power_task(
        state, call, &node, task_type, vmid, action, duration, line,
    ))
}

fn lxc_power(state: &mut PveState, call: &Call, command: &str) -> Result<Reply, PveError> {
    let p = &call.params;
    match command {
        "start" => p.check(&[NODE, VMID, SKIPLOCK, opt("debug", Kind::Bool)])?,
        "stop" => p.check(&[NODE, VMID, SKIPLOCK, opt("overrule-shutdown", Kind::Bool)])?,
        "shutdown" => p.check(&[
            NODE,
            VMID,
            opt("timeout", Kind::Int),
            opt("forceStop", Kind::Bool),
        ])?,
        _ => p.check(&[NODE, VMID])?,
    }
    root_only(call, &["skiplock"])?;
    let skiplock = p.flag("skiplock");
    let guest = find_guest(state, call)?;
    let vmid = guest.vmid;
    let running = guest.is_running();
    let timing = state.timing.clone();
    let task_ms = Duration::from_millis(timing.task_ms);
    let not_running = || PveError::die(format!("CT {vmid} not running"));
    let already_running = || PveError::die(format!("CT {vmid} already running"));
    let (task_type, action, duration) = match command {
        "start" if running => return Err(already_running()),
        "start" => ("vzstart", Action::Start { vmid, skiplock }, task_ms),
        "stop" if !running => return Err(not_running()),
        "stop" => ("vzstop", Action::Stop { vmid, skiplock }, task_ms),
        "shutdown" if !running => return Err(not_running()),
        "shutdown" => {
            let ms = if guest.ignores_shutdown {
                timing.shutdown_timeout_ms
            } else {
                timing.shutdown_ms
            };
            (
                "vzshutdown",
                Action::Shutdown {
                    vmid,
                    skiplock: false,
                    force_stop: p.flag("forceStop"),
                },
                Duration::from_millis(ms),
            )
        }
        "suspend" if !running => return Err(not_running()),
        "suspend" => ("vzsuspend", Action::CtSuspend { vmid }, task_ms),
        _ if running => return Err(already_running()),
        _ => ("vzresume", Action::CtResume { vmid }, task_ms),
    };
    let node = guest.node.clone();
    let line = format!("{command} CT {vmid}");
    Ok(power_task(
        state, call, &node, task_type, vmid, action, duration, line,
    ))
}

/// Start the task of a power action and answer with its UPID (QEMU and LXC alike).
#[allow(clippy::too_many_arguments)]
fn power_task(
    state: &mut PveState,
    call: &Call,
    node: &str,
    task_type: &'static str,
    vmid: u32,
    action: Action,
    duration: Duration,
    first_log_line: String,
) -> Reply {
    let upid = state.start_task(
        call,
        NewTask {
            node,
            task_type,
            id: vmid.to_string(),
            action,
            duration,
            first_log_line,
        },
    );
    json!(upid).into()
}
