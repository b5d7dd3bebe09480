//! Guest lists and config: GET (pending applied / current), digest, unusedN updates, pending on
//! running guests, lock refusal, skiplock, validation, wrong node.

use serde_json::json;

use super::util::*;

#[test]
fn guest_lists_per_node() {
    let shared = shared(fast());
    let client = login(&shared);
    let list = data(&client.get("/nodes/pve1/qemu"));
    let mut vmids: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["vmid"].as_u64().unwrap())
        .collect();
    vmids.sort();
    assert_eq!(vmids, [100, 101, 104]);
    let cts = data(&client.get("/nodes/pve2/lxc"));
    assert_eq!(cts[0]["vmid"], 200);
    assert_eq!(cts[0]["name"], "ct01");
    assert_eq!(cts[0]["type"], "lxc");
    assert_eq!(data(&client.get("/nodes/pve1/lxc")), json!([]));
}

#[test]
fn config_get_returns_values_and_digest() {
    let shared = shared(fast());
    let client = login(&shared);
    let conf = data(&client.get("/nodes/pve1/qemu/100/config"));
    assert_eq!(
        conf["scsi0"],
        "ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G"
    );
    assert_eq!(
        conf["efidisk0"],
        "ONTAP01:100/vm-100-disk-2.raw,efitype=4m,size=528K"
    );
    assert_eq!(conf["unused0"], "ONTAP01:100/vm-100-disk-9.raw");
    assert_eq!(conf["cores"], 2);
    assert_eq!(conf["memory"], "4096");
    assert_eq!(conf["agent"], "1");
    let digest = conf["digest"].as_str().unwrap();
    assert_eq!(digest.len(), 40);
    let ct = data(&client.get("/nodes/pve2/lxc/200/config"));
    assert_eq!(ct["rootfs"], "ONTAP02:200/vm-200-disk-0.raw,size=8G");
    assert_eq!(ct["memory"], 1024);
}

#[test]
fn wrong_node_or_type_says_the_config_file_does_not_exist() {
    let shared = shared(fast());
    let client = login(&shared);
    for (path, file) in [
        (
            "/nodes/pve2/qemu/100/config",
            "nodes/pve2/qemu-server/100.conf",
        ),
        (
            "/nodes/pve1/qemu/999/config",
            "nodes/pve1/qemu-server/999.conf",
        ),
        (
            "/nodes/pve2/qemu/200/status/current",
            "nodes/pve2/qemu-server/200.conf",
        ),
        ("/nodes/pve1/lxc/200/config", "nodes/pve1/lxc/200.conf"),
    ] {
        let message = format!("Configuration file '{file}' does not exist");
        assert_eq!(
            failure(&client.get(path)),
            (500, message.clone(), format!("{message}\n"))
        );
    }
}

const CLONE: &str = "ONTAP01:102/vm-102-disk-0-snapshot-2026-01-01_00:00:00+0000.qcow2";

#[test]
fn unused_volume_on_a_stopped_vm_is_applied_at_once() {
    let shared = shared(fast());
    let client = login(&shared);
    assert_eq!(
        data(&client.put("/nodes/pve2/qemu/102/config", &[("unused0", CLONE)])),
        serde_json::Value::Null
    );
    let conf = data(&client.get("/nodes/pve2/qemu/102/config?current=1"));
    assert_eq!(conf["unused0"], CLONE);
    assert_eq!(
        data(&client.get("/nodes/pve2/qemu/102/pending"))
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.get("pending").is_some())
            .count(),
        0
    );
    data(&client.put("/nodes/pve2/qemu/102/config", &[("delete", "unused0")]));
    assert!(data(&client.get("/nodes/pve2/qemu/102/config"))
        .get("unused0")
        .is_none());
}

#[test]
fn unused_volume_on_a_running_vm_stays_pending_until_restart() {
    let shared = shared(fast());
    let client = login(&shared);
    let volid = "ONTAP01:100/vm-100-disk-0-snapshot-2026-01-01_00:00:00+0000.qcow2";
    let before = data(&client.get("/nodes/pve1/qemu/100/config"))["digest"].clone();
    data(&client.put(
        "/nodes/pve1/qemu/100/config",
        &[("unused1", volid), ("digest", before.as_str().unwrap())],
    ));
    // Default view applies pending changes, current=1 shows what runs.
    assert_eq!(
        data(&client.get("/nodes/pve1/qemu/100/config"))["unused1"],
        volid
    );
    assert!(data(&client.get("/nodes/pve1/qemu/100/config?current=1"))
        .get("unused1")
        .is_none());
    let pending = data(&client.get("/nodes/pve1/qemu/100/pending"));
    let entry = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "unused1")
        .unwrap();
    assert_eq!(entry["pending"], volid);
    assert!(entry.get("value").is_none());
    // The digest changed: an old digest is refused.
    let resp = client.put(
        "/nodes/pve1/qemu/100/config",
        &[("unused2", volid), ("digest", before.as_str().unwrap())],
    );
    assert_eq!(
        failure(&resp).1,
        "checksum mismatch (file change by other user?)"
    );
    // Stopping applies pending changes.
    client.task("/nodes/pve1/qemu/100/status/stop", &[]);
    assert_eq!(
        data(&client.get("/nodes/pve1/qemu/100/config?current=1"))["unused1"],
        volid
    );
}

#[test]
fn locked_config_is_refused_unless_root_skips_the_lock() {
    let shared = shared(fast());
    shared
        .world
        .lock()
        .unwrap()
        .pve
        .guests
        .get_mut(&102)
        .unwrap()
        .config
        .insert("lock".into(), "backup".into());
    let client = login(&shared);
    let resp = client.put("/nodes/pve2/qemu/102/config", &[("unused0", CLONE)]);
    assert_eq!(
        failure(&resp),
        (
            500,
            "VM is locked (backup)".into(),
            "VM is locked (backup)\n".into()
        )
    );
    let resp = token(&shared).put(
        "/nodes/pve2/qemu/102/config",
        &[("unused0", CLONE), ("skiplock", "1")],
    );
    assert_eq!(
        json(&resp)["errors"]["skiplock"],
        "Only root may use this option."
    );
    data(&client.put(
        "/nodes/pve2/qemu/102/config",
        &[("unused0", CLONE), ("skiplock", "1")],
    ));
    assert_eq!(
        data(&client.get("/nodes/pve2/qemu/102/status/current"))["lock"],
        "backup"
    );
}

#[test]
fn config_updates_are_validated() {
    let shared = shared(fast());
    let client = login(&shared);
    let resp = client.put(
        "/nodes/pve2/qemu/102/config",
        &[("unused0", "not-a-volume")],
    );
    assert_eq!(
        json(&resp)["errors"]["unused0"],
        "invalid format - unable to parse volume ID 'not-a-volume'\n"
    );
    let resp = client.put(
        "/nodes/pve2/qemu/102/config",
        &[("unused0", "ONTAP01:102/vm-102-disk-0.qcow2.snap")],
    );
    assert_eq!(resp.status, 400);
    let resp = client.put(
        "/nodes/pve2/qemu/102/config",
        &[("unused0", "NOPE:102/vm-102-disk-1.raw")],
    );
    assert_eq!(failure(&resp).1, "storage 'NOPE' does not exist");
    let resp = client.put("/nodes/pve2/qemu/102/config", &[("memory", "1024")]);
    assert_eq!(resp.status, 501);
    let resp = client.put("/nodes/pve2/qemu/102/config", &[("frobnicate", "1")]);
    assert_eq!(resp.status, 400);
    let resp = client.put("/nodes/pve2/qemu/102/config", &[]);
    assert_eq!(failure(&resp).1, "no options specified");
    // LXC has no POST config.
    assert_eq!(
        client
            .post("/nodes/pve2/lxc/200/config", &[("unused0", CLONE)])
            .status,
        501
    );
}

#[test]
fn async_config_update_runs_as_qmconfig_task() {
    let shared = shared(slow());
    let client = login(&shared);
    let upid = client.task("/nodes/pve2/qemu/102/config", &[("unused3", CLONE)]);
    assert!(upid.contains(":qmconfig:102:root@pam:"));
    assert!(data(&client.get("/nodes/pve2/qemu/102/config"))
        .get("unused3")
        .is_none());
    advance(&shared, 3601);
    assert_eq!(client.task_status(&upid)["exitstatus"], "OK");
    assert_eq!(
        data(&client.get("/nodes/pve2/qemu/102/config"))["unused3"],
        CLONE
    );
}
