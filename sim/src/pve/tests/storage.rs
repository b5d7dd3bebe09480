//! Storage config (list, read, create, update, delete, errors) and per-node content and status
//! of storages that do not depend on ONTAP.

use serde_json::json;

use super::util::*;
use crate::pve::guest_write;

#[test]
fn storage_list_and_read() {
    let shared = shared(fast());
    let client = login(&shared);
    let list = data(&client.get("/storage"));
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["storage"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["local", "local-lvm", "ONTAP01", "ONTAP02", "ONTAP03"]);
    let ontap01 = &list[2];
    assert_eq!(ontap01["type"], "nfs");
    assert_eq!(ontap01["server"], "127.0.10.1");
    assert_eq!(ontap01["export"], "/ONTAP01");
    assert_eq!(ontap01["path"], "/mnt/pve/ONTAP01");
    assert_eq!(ontap01["content"], "images,rootdir");
    assert_eq!(ontap01["options"], "vers=4.2,nconnect=16");
    assert_eq!(ontap01["shared"], 1);
    assert_eq!(ontap01["digest"].as_str().unwrap().len(), 40);
    assert_eq!(
        data(&client.get("/storage?type=nfs"))
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let ontap02 = data(&client.get("/storage/ONTAP02"));
    assert_eq!(
        (ontap02["export"].as_str(), ontap02["options"].as_str()),
        (Some("/vmstore2"), Some("vers=3"))
    );
    let lvm = data(&client.get("/storage/local-lvm"));
    assert_eq!(
        (lvm["vgname"].as_str(), lvm["thinpool"].as_str()),
        (Some("pve"), Some("data"))
    );
    assert_eq!(
        failure(&client.get("/storage/nope")),
        (
            500,
            "storage 'nope' does not exist".into(),
            "storage 'nope' does not exist\n".into()
        )
    );
}

#[test]
fn create_update_and_delete_an_nfs_storage() {
    let shared = shared(fast());
    let client = login(&shared);
    // Restricted to pve2, so the answering node (pve1) does not mount it.
    let resp = client.post(
        "/storage",
        &[
            ("storage", "ONTAP01-CLONE"),
            ("type", "nfs"),
            ("server", "127.0.10.1"),
            ("export", "/ONTAP01_clone"),
            ("content", "images"),
            ("options", "vers=4.2,nconnect=16"),
            ("nodes", "pve2"),
        ],
    );
    assert_eq!(
        data(&resp),
        json!({"storage": "ONTAP01-CLONE", "type": "nfs"})
    );
    let created = data(&client.get("/storage/ONTAP01-CLONE"));
    assert_eq!(created["path"], "/mnt/pve/ONTAP01-CLONE");
    assert_eq!(created["nodes"], "pve2");
    assert_eq!(created["shared"], 1);

    let resp = client.post(
        "/storage",
        &[
            ("storage", "ONTAP01-CLONE"),
            ("type", "nfs"),
            ("server", "127.0.10.1"),
            ("export", "/x"),
            ("nodes", "pve2"),
        ],
    );
    assert_eq!(
        failure(&resp).1,
        "create storage failed: storage ID 'ONTAP01-CLONE' already defined"
    );

    data(&client.put(
        "/storage/ONTAP01-CLONE",
        &[("options", "vers=3"), ("delete", "nodes")],
    ));
    let updated = data(&client.get("/storage/ONTAP01-CLONE"));
    assert_eq!(updated["options"], "vers=3");
    assert!(updated.get("nodes").is_none());
    let resp = client.put("/storage/ONTAP01-CLONE", &[("server", "127.0.20.1")]);
    assert_eq!(
        failure(&resp).1,
        "update storage failed: can't change value of fixed parameter 'server'"
    );

    assert_eq!(
        data(&client.delete("/storage/ONTAP01-CLONE")),
        serde_json::Value::Null
    );
    assert_eq!(client.get("/storage/ONTAP01-CLONE").status, 500);
    assert_eq!(
        failure(&client.delete("/storage/ONTAP01-CLONE")).1,
        "delete storage failed: storage 'ONTAP01-CLONE' does not exist"
    );
}

#[test]
fn create_validates_id_type_and_options() {
    let shared = shared(fast());
    let client = login(&shared);
    for bad in ["1bad", "bad-", "x"] {
        let resp = client.post(
            "/storage",
            &[("storage", bad), ("type", "dir"), ("path", "/srv")],
        );
        assert_eq!(resp.status, 400, "{bad}");
        let msg = json(&resp)["errors"]["storage"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(msg.starts_with("invalid format - storage ID"), "{msg}");
    }
    let resp = client.post(
        "/storage",
        &[
            ("storage", "nfs1"),
            ("type", "nfs"),
            ("export", "/x"),
            ("nodes", "pve2"),
        ],
    );
    assert_eq!(
        failure(&resp).1,
        "missing value for required option 'server'"
    );
    let resp = client.post(
        "/storage",
        &[
            ("storage", "nfs1"),
            ("type", "nfs"),
            ("server", "127.0.10.1"),
            ("export", "/x"),
            ("vgname", "pve"),
        ],
    );
    assert_eq!(failure(&resp).1, "unexpected property 'vgname'");
    let resp = client.post(
        "/storage",
        &[
            ("storage", "nfs1"),
            ("type", "nfs"),
            ("server", "bad host"),
            ("export", "/x"),
        ],
    );
    assert_eq!(
        json(&resp)["errors"]["server"],
        "invalid format - value does not look like a valid server name or IP address\n"
    );
    let resp = client.post(
        "/storage",
        &[
            ("storage", "nfs1"),
            ("type", "nfs"),
            ("server", "127.0.10.1"),
            ("export", "/x"),
            ("disable", "yes"),
        ],
    );
    assert_eq!(
        json(&resp)["errors"]["disable"],
        "type check ('boolean') failed - got 'yes'"
    );
    let resp = client.post("/storage", &[("storage", "nfs1"), ("type", "zfs")]);
    assert_eq!(resp.status, 501);
    // Mounting on the answering node fails for an export ONTAP does not have: nothing is added.
    let resp = client.post(
        "/storage",
        &[
            ("storage", "nfs1"),
            ("type", "nfs"),
            ("server", "127.0.99.1"),
            ("export", "/nowhere"),
        ],
    );
    let (status, reason, _) = failure(&resp);
    assert_eq!(status, 500);
    assert!(
        reason.starts_with(
            "create storage failed: mount error: mount.nfs: mounting 127.0.99.1:/nowhere failed"
        ),
        "{reason}"
    );
    assert_eq!(client.get("/storage/nfs1").status, 500);
    // A dir storage needs a path and gets the default content.
    data(&client.post(
        "/storage",
        &[
            ("storage", "backup1"),
            ("type", "dir"),
            ("path", "/srv/backup"),
            ("disable", "1"),
        ],
    ));
    let dir = data(&client.get("/storage/backup1"));
    assert_eq!(
        (dir["content"].as_str(), dir["disable"].as_u64()),
        (Some("images,rootdir"), Some(1))
    );
}

#[test]
fn content_and_status_of_local_storages() {
    let shared = shared(fast());
    let client = login(&shared);
    let local = data(&client.get("/nodes/pve1/storage/local/content"));
    assert_eq!(
        local,
        json!([{"volid": "local:iso/debian-13.iso", "content": "iso", "format": "iso", "size": 600u64 << 20}])
    );
    assert_eq!(
        data(&client.get("/nodes/pve1/storage/local/content?content=images")),
        json!([])
    );
    let lvm = data(&client.get("/nodes/pve1/storage/local-lvm/content?vmid=101"));
    assert_eq!(lvm[0]["volid"], "local-lvm:vm-101-disk-1");
    assert_eq!(lvm[0]["vmid"], 101);
    assert_eq!(
        data(&client.get("/nodes/pve1/storage/local-lvm/content?vmid=100")),
        json!([])
    );
    let status = data(&client.get("/nodes/pve1/storage/local/status"));
    assert_eq!(
        (status["active"].as_u64(), status["used"].as_u64()),
        (Some(1), Some(600 << 20))
    );
    data(&client.put("/storage/local", &[("nodes", "pve2")]));
    assert_eq!(
        failure(&client.get("/nodes/pve1/storage/local/content")).1,
        "storage 'local' is not available on node 'pve1'"
    );
    assert_eq!(
        json(&client.get("/nodes/pve1/storage/local/status"))["errors"]["storage"],
        "No such storage."
    );
    let list = data(&client.get("/nodes/pve1/storage"));
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["storage"] != "local"));
}

#[test]
fn guest_write_needs_a_known_guest() {
    let shared = shared(fast());
    let mut world = shared.world.lock().unwrap();
    assert_eq!(
        guest_write(&mut world, 999),
        Err("guest 999 does not exist".into())
    );
}
