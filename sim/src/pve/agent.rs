//! QEMU guest agent calls (`/nodes/{node}/qemu/{vmid}/agent[/{command}]`): availability checks
//! with Proxmox's errors, and ping / fsfreeze-freeze / fsfreeze-thaw / fsfreeze-status.

use std::time::Duration;

use serde_json::{json, Value};

use super::call::Call;
use super::envelope::{PveError, Reply};
use super::find::find_guest;
use super::params::{req, Kind, NODE, VMID};
use super::scenario::RunStatus;
use super::state::PveState;

/// The agent commands Proxmox exposes (`agent/{command}` and the `command` enum of `agent`).
pub(crate) const COMMANDS: &[&str] = &[
    "fsfreeze-freeze",
    "fsfreeze-status",
    "fsfreeze-thaw",
    "fstrim",
    "get-fsinfo",
    "get-host-name",
    "get-memory-block-info",
    "get-memory-blocks",
    "get-osinfo",
    "get-time",
    "get-timezone",
    "get-users",
    "get-vcpus",
    "info",
    "network-get-interfaces",
    "ping",
    "shutdown",
    "suspend-disk",
    "suspend-hybrid",
    "suspend-ram",
];

/// The HTTP method of a known command (`agent/{command}`).
pub(crate) fn command_method(command: &str) -> Option<&'static str> {
    const POST: [&str; 9] = [
        "fsfreeze-freeze",
        "fsfreeze-status",
        "fsfreeze-thaw",
        "fstrim",
        "ping",
        "shutdown",
        "suspend-disk",
        "suspend-hybrid",
        "suspend-ram",
    ];
    if !COMMANDS.contains(&command) {
        None
    } else if POST.contains(&command) {
        Some("POST")
    } else {
        Some("GET")
    }
}

/// Commands QGA still accepts while filesystems are frozen.
const ALLOWED_WHILE_FROZEN: [&str; 4] = ["ping", "info", "fsfreeze-status", "fsfreeze-thaw"];

/// `POST .../agent` (with `command`) and `.../agent/{command}`.
pub(crate) fn run(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    let command = match &call.agent_command {
        Some(c) => {
            call.params.check(&[NODE, VMID])?;
            c.clone()
        }
        None => {
            call.params
                .check(&[NODE, VMID, req("command", Kind::Enum(COMMANDS))])?;
            call.params.str("command").unwrap_or_default()
        }
    };
    let guest = find_guest(state, call)?;
    let vmid = guest.vmid;
    // assert_agent_available
    if !guest.agent_configured() {
        return Err(PveError::die("No QEMU guest agent configured"));
    }
    if !guest.is_running() {
        return Err(PveError::die(format!("VM {vmid} is not running")));
    }
    // guest-ping goes unanswered when the agent is disabled, silent, or the vCPUs are paused.
    if !guest.agent_enabled() || !guest.agent.responding || guest.run == RunStatus::Paused {
        return Err(PveError::die("QEMU guest agent is not running"));
    }
    let frozen = guest.agent.frozen;
    let filesystems = guest.agent.filesystems;
    let freeze_delay = guest.agent.freeze_delay_ms;
    let hostname = guest.name();
    let qga_error = |desc: String| {
        PveError::die(format!(
            "VM {vmid} qga command 'guest-{command}' failed - {desc}"
        ))
    };
    if frozen && !ALLOWED_WHILE_FROZEN.contains(&command.as_str()) {
        return Err(qga_error(format!(
            "Command guest-{command} has been disabled: the agent is in frozen state"
        )));
    }
    let mut delay = None;
    let result = match command.as_str() {
        "ping" => json!({}),
        "fsfreeze-status" => json!(if frozen { "frozen" } else { "thawed" }),
        "fsfreeze-freeze" => {
            set_frozen(state, vmid, true);
            delay = (freeze_delay > 0).then(|| Duration::from_millis(freeze_delay));
            json!(filesystems)
        }
        "fsfreeze-thaw" => {
            set_frozen(state, vmid, false);
            json!(if frozen { filesystems } else { 0 })
        }
        "info" => json!({
            "version": "9.2.0",
            "supported_commands": COMMANDS.iter().map(|c| json!({
                "name": format!("guest-{c}"), "enabled": true, "success-response": true,
            })).collect::<Vec<_>>(),
        }),
        "get-host-name" => json!({"host-name": hostname}),
        "get-osinfo" => json!({
            "id": "debian", "name": "Debian GNU/Linux", "version-id": "13",
            "kernel-release": "6.12.43+deb13-amd64", "machine": "x86_64",
        }),
        "get-time" => json!(super::state::unix_now() * 1_000_000_000),
        "get-fsinfo" => Value::Array(
            (0..filesystems)
                .map(|i| {
                    json!({
                        "name": format!("sda{}", i + 1),
                        "mountpoint": if i == 0 { "/".to_string() } else { format!("/data{i}") },
                        "type": "ext4",
                        "disk": [],
                    })
                })
                .collect(),
        ),
        "fstrim" => json!({"paths": []}),
        other => {
            return Err(PveError::unsupported(&format!(
                "guest agent command '{other}'"
            )))
        }
    };
    Ok(Reply {
        data: json!({"result": result}),
        total: None,
        delay,
    })
}

fn set_frozen(state: &mut PveState, vmid: u32, frozen: bool) {
    if let Some(guest) = state.guests.get_mut(&vmid) {
        guest.agent.frozen = frozen;
    }
}
