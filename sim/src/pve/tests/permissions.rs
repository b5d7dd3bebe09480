//! Permissions through the API: 403s with Proxmox's status line (and body by http-server
//! version), index calls that hide what the user may not see, in-handler checks, ticket `cap`.

use serde_json::{json, Value};

use super::util::*;
use crate::pve::Scenario;

const SECRET: &str = "0d6f3b0e-8c1a-4d2e-9f47-3a5b6c7d8e9f";

/// The default scenario plus `snap@pve` with token `t` (privsep as given) and `access`.
fn with_access(version: &str, privsep: bool, access: Value) -> Scenario {
    let mut s = fast();
    s.version = version.into();
    s.users.push(
        serde_json::from_value(json!({
            "userid": "snap@pve",
            "password": "pw-of-snap",
            "tokens": [{"name": "t", "secret": SECRET, "privsep": privsep}]
        }))
        .unwrap(),
    );
    s.access = serde_json::from_value(access).unwrap();
    assert_eq!(s.validate(), Vec::<String>::new());
    s
}

fn role_on_root(privs: &str) -> Value {
    json!({
        "roles": [{"roleid": "R", "privs": privs}],
        "acl": [{"path": "/", "roles": "R", "users": "snap@pve"}]
    })
}

fn snap(shared: &crate::world::Shared) -> Client<'_> {
    token_header(shared, &format!("PVEAPIToken=snap@pve!t={SECRET}"))
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| match &e[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn a_missing_privilege_is_a_403_naming_path_and_privilege() {
    let shared = shared(with_access("9.1.2", false, role_on_root("VM.Audit")));
    let client = snap(&shared);
    let resp = client.post("/nodes/pve1/qemu/100/status/suspend", &[]);
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.reason,
        "Permission check failed (/vms/100, VM.PowerMgmt)"
    );
    assert_eq!(
        json(&resp),
        json!({"data": null, "message": "Permission check failed (/vms/100, VM.PowerMgmt)\n"})
    );
    // The check comes before the node lookup and the parameter checks.
    let resp = client.post("/nodes/nonode/qemu/100/status/suspend", &[("bogus", "1")]);
    assert_eq!(resp.status, 403);
    // What the role has works.
    assert_eq!(client.current("pve1", "qemu", 100)["status"], "running");
    assert_eq!(
        client.get("/storage/ONTAP01").reason,
        "Permission check failed (/storage/ONTAP01, Datastore.Allocate)"
    );
    // Nothing changed.
    assert_eq!(client.current("pve1", "qemu", 100)["qmpstatus"], "running");
}

#[test]
fn before_http_server_5_2_the_body_has_no_message() {
    let mut s = with_access("8.2.4", false, role_on_root("VM.Audit"));
    s.http_server_version = "5.1.2".into();
    let shared = shared(s);
    let resp = snap(&shared).post("/nodes/pve1/qemu/100/agent/fsfreeze-freeze", &[]);
    assert_eq!(resp.status, 403);
    assert_eq!(
        resp.reason,
        "Permission check failed (/vms/100, VM.Monitor)"
    );
    assert_eq!(json(&resp), json!({"data": null}));
}

#[test]
fn agent_privileges_follow_the_release() {
    let shared = shared(with_access(
        "9.1.2",
        false,
        role_on_root("VM.Audit VM.GuestAgent.Audit"),
    ));
    let client = snap(&shared);
    assert_eq!(
        data(&client.post("/nodes/pve1/qemu/100/agent/ping", &[])),
        json!({"result": {}})
    );
    let resp = client.post("/nodes/pve1/qemu/100/agent/fsfreeze-freeze", &[]);
    assert_eq!(
        resp.reason,
        "Permission check failed (/vms/100, VM.GuestAgent.FileSystemMgmt|VM.GuestAgent.Unrestricted)"
    );
    let shared8 = super::util::shared(with_access(
        "8.4.1",
        false,
        role_on_root("VM.Audit VM.Monitor"),
    ));
    let resp = snap(&shared8).post("/nodes/pve1/qemu/100/agent/fsfreeze-freeze", &[]);
    assert_eq!(resp.status, 200, "{}", resp.reason);
    // VM.Monitor does not exist on 9: a role naming it is refused like pveum refuses it.
    let mut s = fast();
    s.access =
        serde_json::from_value(json!({"roles": [{"roleid": "R", "privs": "VM.Monitor"}]})).unwrap();
    assert_eq!(
        s.validate(),
        ["pve.access: role 'R': invalid privilege 'VM.Monitor'"]
    );
}

#[test]
fn index_calls_leave_out_what_the_user_may_not_see() {
    let shared = shared(with_access(
        "9.1.2",
        false,
        json!({
            "acl": [
                {"path": "/vms/100", "roles": "PVEAuditor", "users": "snap@pve"},
                {"path": "/storage/ONTAP01", "roles": "PVEDatastoreUser", "users": "snap@pve"},
                {"path": "/storage/ONTAP02", "roles": "PVEDatastoreUser", "users": "snap@pve"},
                {"path": "/storage/ONTAP02", "roles": "NoAccess", "users": "snap@pve"}
            ]
        }),
    ));
    let client = snap(&shared);
    let vms = data(&client.get("/cluster/resources?type=vm"));
    assert_eq!(ids(&vms, "vmid"), ["100"]);
    assert_eq!(ids(&data(&client.get("/nodes/pve1/qemu")), "vmid"), ["100"]);
    assert!(data(&client.get("/nodes/pve2/lxc"))
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(ids(&data(&client.get("/storage")), "storage"), ["ONTAP01"]);
    assert_eq!(
        ids(&data(&client.get("/nodes/pve1/storage")), "storage"),
        ["ONTAP01"]
    );
    // /cluster/resources wants Datastore.Audit itself: PVEDatastoreUser has it.
    let storages = data(&client.get("/cluster/resources?type=storage"));
    assert!(ids(&storages, "storage").iter().all(|s| s == "ONTAP01"));
    // Nodes are listed, without stats (no Sys.Audit).
    let nodes = data(&client.get("/nodes"));
    assert_eq!(ids(&nodes, "node"), ["pve1", "pve2"]);
    assert!(nodes[0].get("maxmem").is_none() && nodes[0].get("status").is_some());
    // Content: images of VM 100 need Datastore.Allocate, or Audit plus VM.Config.Disk.
    let content = data(&client.get("/nodes/pve1/storage/ONTAP01/content"));
    assert!(content.as_array().unwrap().is_empty(), "{content}");
    let root = login(&shared);
    let all = data(&root.get("/nodes/pve1/storage/ONTAP01/content"));
    assert!(!all.as_array().unwrap().is_empty());
}

#[test]
fn someone_elses_task_needs_sys_audit_on_the_node() {
    let shared = shared(with_access(
        "9.1.2",
        true,
        json!({
            "acl": [
                {"path": "/", "roles": "PVEVMUser", "users": "snap@pve"},
                {"path": "/", "roles": "PVEVMUser", "tokens": "snap@pve!t"}
            ]
        }),
    ));
    let root = login(&shared);
    let upid = root.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    let client = snap(&shared);
    let resp = client.get(&format!("/nodes/pve1/tasks/{}/status", encode(&upid)));
    assert_eq!(
        resp.reason,
        "Permission check failed (/nodes/pve1, Sys.Audit)"
    );
    // Its own task it may read, and the list shows only its own.
    let own = client.task("/nodes/pve1/qemu/100/status/resume", &[]);
    assert_eq!(client.task_status(&own)["exitstatus"], "OK");
    let list = data(&client.get("/nodes/pve1/tasks"));
    assert_eq!(ids(&list, "upid"), [own]);
}

#[test]
fn config_updates_check_the_keys_inside_the_handler() {
    let shared = shared(with_access(
        "9.1.2",
        false,
        role_on_root("VM.Audit VM.Config.Options"),
    ));
    let root = login(&shared);
    let client = snap(&shared);
    let resp = client.put("/nodes/pve1/qemu/100/config", &[("delete", "unused0")]);
    assert_eq!(
        resp.reason,
        "Permission check failed (/vms/100, VM.Config.Disk)"
    );
    let config = data(&root.get("/nodes/pve1/qemu/100/config"));
    assert!(config.get("unused0").is_some());
    // Without any VM.Config.* the endpoint itself refuses.
    let shared = super::util::shared(with_access("9.1.2", false, role_on_root("VM.Audit")));
    let resp = snap(&shared).put("/nodes/pve1/qemu/102/config", &[("delete", "unused0")]);
    assert!(
        resp.reason
            .starts_with("Permission check failed (/vms/102, VM.Config.Disk|VM.Config.CDROM|"),
        "{}",
        resp.reason
    );
}

#[test]
fn tickets_carry_the_users_capabilities() {
    let shared = shared(with_access(
        "9.1.2",
        false,
        role_on_root("VM.Audit Datastore.Audit"),
    ));
    let body = form(&[("username", "snap@pve"), ("password", "pw-of-snap")]);
    let resp = crate::pve::handle(
        &shared,
        &request(
            "POST",
            "/api2/json/access/ticket",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &body,
        ),
        None,
    );
    let d = data(&resp);
    assert_eq!(d["cap"]["vms"], json!({"VM.Audit": 1}));
    assert_eq!(d["cap"]["storage"], json!({"Datastore.Audit": 1}));
    assert!(d.get("clustername").is_none(), "{d}");
    let verify = form(&[
        ("username", "snap@pve"),
        ("password", "pw-of-snap"),
        ("path", "/vms/100"),
        ("privs", "VM.PowerMgmt"),
    ]);
    let resp = crate::pve::handle(
        &shared,
        &request(
            "POST",
            "/api2/json/access/ticket",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &verify,
        ),
        None,
    );
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (401, "authentication failure")
    );
}

#[test]
fn privilege_separated_tokens_need_their_own_acl() {
    let shared = shared(with_access(
        "9.1.2",
        true,
        role_on_root("VM.Audit VM.PowerMgmt"),
    ));
    let resp = snap(&shared).get("/nodes/pve1/qemu/100/status/current");
    assert_eq!(resp.reason, "Permission check failed (/vms/100, VM.Audit)");
}
