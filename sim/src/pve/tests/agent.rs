//! Guest agent: the three availability errors, freeze/thaw/status and the frozen state.

use serde_json::json;

use super::util::*;

#[test]
fn agent_errors_follow_proxmox() {
    let shared = shared(fast());
    let client = login(&shared);
    for (path, message) in [
        (
            "/nodes/pve1/qemu/101/agent/ping",
            "No QEMU guest agent configured",
        ),
        (
            "/nodes/pve2/qemu/102/agent/fsfreeze-freeze",
            "VM 102 is not running",
        ),
        (
            "/nodes/pve1/qemu/104/agent/fsfreeze-status",
            "QEMU guest agent is not running",
        ),
        (
            "/nodes/pve2/qemu/999/agent/ping",
            "Configuration file 'nodes/pve2/qemu-server/999.conf' does not exist",
        ),
    ] {
        assert_eq!(
            failure(&client.post(path, &[])),
            (500, message.into(), format!("{message}\n")),
            "{path}"
        );
    }
    // Agent commands have fixed methods.
    assert_eq!(client.get("/nodes/pve1/qemu/100/agent/ping").status, 501);
}

#[test]
fn freeze_status_thaw_cycle_is_visible_in_the_state() {
    let shared = shared(fast());
    let client = login(&shared);
    let base = "/nodes/pve1/qemu/100/agent";
    assert_eq!(
        data(&client.post(&format!("{base}/fsfreeze-status"), &[])),
        json!({"result": "thawed"})
    );
    assert_eq!(
        data(&client.post(&format!("{base}/fsfreeze-freeze"), &[])),
        json!({"result": 2})
    );
    assert_eq!(
        data(&client.post(&format!("{base}/fsfreeze-status"), &[])),
        json!({"result": "frozen"})
    );
    assert_eq!(
        shared.world.lock().unwrap().pve.dump()["guests"][0]["agent"]["frozen"],
        true
    );
    let (status, reason, _) = failure(&client.post(&format!("{base}/fsfreeze-freeze"), &[]));
    assert_eq!(status, 500);
    assert_eq!(
        reason,
        "VM 100 qga command 'guest-fsfreeze-freeze' failed - Command guest-fsfreeze-freeze has been disabled: the agent is in frozen state"
    );
    assert_eq!(
        data(&client.post(&format!("{base}/fsfreeze-thaw"), &[])),
        json!({"result": 2})
    );
    assert_eq!(
        data(&client.post(&format!("{base}/fsfreeze-thaw"), &[])),
        json!({"result": 0})
    );
    assert_eq!(
        data(&client.post(&format!("{base}/fsfreeze-status"), &[])),
        json!({"result": "thawed"})
    );
    assert_eq!(
        shared.world.lock().unwrap().pve.dump()["guests"][0]["agent"]["frozen"],
        false
    );
}

#[test]
fn generic_agent_endpoint_and_paused_guests() {
    let shared = shared(fast());
    let client = login(&shared);
    assert_eq!(
        data(&client.post("/nodes/pve2/qemu/103/agent", &[("command", "ping")])),
        json!({"result": {}})
    );
    let resp = client.post("/nodes/pve2/qemu/103/agent", &[("command", "rm-rf")]);
    assert_eq!(resp.status, 400);
    client.task("/nodes/pve2/qemu/103/status/suspend", &[]);
    let resp = client.post("/nodes/pve2/qemu/103/agent/ping", &[]);
    assert_eq!(failure(&resp).1, "QEMU guest agent is not running");
}

#[test]
fn stopping_a_vm_thaws_it() {
    let shared = shared(fast());
    let client = login(&shared);
    data(&client.post("/nodes/pve2/qemu/103/agent/fsfreeze-freeze", &[]));
    client.task("/nodes/pve2/qemu/103/status/stop", &[]);
    client.task("/nodes/pve2/qemu/103/status/start", &[]);
    assert_eq!(
        data(&client.post("/nodes/pve2/qemu/103/agent/fsfreeze-status", &[])),
        json!({"result": "thawed"})
    );
}
