//! REST roles (path prefixes, access levels, SVM scope, private CLI) and what NetApp's own client
//! sends (instance GETs with query filters, CLI actions as PATCH, repeated `fields=`).

use serde_json::json;

use super::*;
use crate::ontap::{Access, Account, CommandAccess, Privilege, RestRole, Role};

const USER: (&str, &str) = ("pve-snapshot", "S3cr3t");

fn with_role(version: &str, role: RestRole) -> Shared {
    let mut sc = scenario();
    sc.version = version.into();
    // Snapshot locking needs 9.12.1: releases before it have no volume with it enabled.
    if sc
        .validate()
        .iter()
        .any(|e| e.contains("snapshot_locking_enabled"))
    {
        for v in &mut sc.volumes {
            v.snapshot_locking_enabled = false;
        }
    }
    sc.accounts.push(Account {
        name: USER.0.into(),
        password: USER.1.into(),
        role: Role::Rest(role.name.clone()),
    });
    sc.rest_roles.push(role);
    assert!(sc.validate().is_empty(), "{:?}", sc.validate());
    shared_with(sc)
}

fn role(svm: Option<&str>, privileges: &[(&str, Access)]) -> RestRole {
    RestRole {
        name: "pve-ontap-snapshot".into(),
        svm: svm.map(str::to_string),
        privileges: privileges
            .iter()
            .map(|(p, a)| Privilege {
                path: p.to_string(),
                access: *a,
            })
            .collect(),
        commands: vec![],
    }
}

fn as_user(sh: &Shared, method: &str, target: &str, body: Option<Value>) -> (u16, Value) {
    let (s, v, _) = send(sh, &request_as(Some(USER), method, target, body));
    (s, v)
}

fn denied(v: &Value) {
    assert_eq!(
        v,
        &json!({"error": {"message": "not authorized for that command", "code": "6"}})
    );
}

#[test]
fn a_role_allows_its_paths_with_its_access_and_nothing_else() {
    let sh = with_role(
        "9.14.1",
        role(
            None,
            &[
                ("/api/storage/volumes", Access::ReadCreateModify),
                ("/api/cluster", Access::Readonly),
            ],
        ),
    );
    let vol = vol_uuid(&sh, "ONTAP01");
    let (s, _) = as_user(&sh, "GET", "/api/storage/volumes", None);
    assert_eq!(s, 200);
    let (s, _) = as_user(&sh, "GET", "/api/cluster/jobs", None);
    assert_eq!(s, 200, "/api/cluster covers /api/cluster/jobs");
    let snaps = format!("/api/storage/volumes/{vol}/snapshots");
    let (s, v) = as_user(&sh, "POST", &snaps, Some(json!({"name": "r1"})));
    assert_eq!(s, 202, "{v}");
    wait_job(&sh, v["job"]["uuid"].as_str().unwrap());
    let snap = snap_uuid(&sh, &vol, "r1");
    let (s, v) = as_user(&sh, "DELETE", &format!("{snaps}/{snap}"), None);
    assert_eq!(s, 403);
    denied(&v);
    let (s, v) = as_user(&sh, "GET", "/api/svm/svms", None);
    assert_eq!(s, 403);
    denied(&v);
    // The snapshot is still there: a refused call changes nothing.
    assert_eq!(snap_uuid(&sh, &vol, "r1"), snap);
}

#[test]
fn private_cli_needs_the_command_directory_before_9_14() {
    let mut r = role(None, &[("/api", Access::All)]);
    let sh = with_role("9.11.1", r.clone());
    let (s, v) = as_user(&sh, "GET", "/api/private/cli/volume/recovery-queue", None);
    assert_eq!(s, 403, "{v}");
    denied(&v);
    r.commands.push(CommandAccess {
        command: "volume recovery-queue".into(),
        access: Access::All,
    });
    let sh = with_role("9.11.1", r);
    let (s, v) = as_user(&sh, "GET", "/api/private/cli/volume/recovery-queue", None);
    assert_eq!(s, 200, "{v}");
    // On 9.11 a REST role cannot name a private CLI path at all.
    let mut sc = scenario();
    sc.version = "9.11.1".into();
    sc.rest_roles.push(role(
        None,
        &[("/api/private/cli/volume/recovery-queue", Access::All)],
    ));
    assert!(sc.validate().join(" ").contains("needs ONTAP 9.14.1"));
    // From 9.14.1 it can.
    let sh = with_role(
        "9.14.1",
        role(
            None,
            &[("/api/private/cli/volume/recovery-queue", Access::All)],
        ),
    );
    let (s, _) = as_user(&sh, "GET", "/api/private/cli/volume/recovery-queue", None);
    assert_eq!(s, 200);
}

#[test]
fn an_svm_scoped_role_sees_only_its_svm() {
    let sh = with_role(
        "9.14.1",
        role(
            Some("svm2"),
            &[("/api", Access::Readonly), ("/api/storage", Access::All)],
        ),
    );
    let (s, v) = as_user(&sh, "GET", "/api/storage/volumes", None);
    assert_eq!(s, 200);
    assert_eq!(names(&v), ["vmstore2"]);
    let (s, v) = as_user(&sh, "GET", "/api/cluster", None);
    assert_eq!(s, 403);
    denied(&v);
    let other = vol_uuid_on(&sh, "svm1", "ONTAP01");
    let (s, v) = as_user(&sh, "GET", &format!("/api/storage/volumes/{other}"), None);
    assert_eq!((s, err_code(&v)), (404, "4"));
    let (s, v) = as_user(&sh, "GET", "/api/svm/svms", None);
    assert_eq!((s, names(&v)), (200, vec!["svm2".to_string()]));
}

#[test]
fn read_levels_exist_from_9_11() {
    let mut sc = scenario();
    sc.version = "9.10.1".into();
    sc.rest_roles
        .push(role(None, &[("/api/storage/volumes", Access::ReadCreate)]));
    assert!(sc.validate().join(" ").contains("needs ONTAP 9.11.1"));
}

#[test]
fn instance_gets_apply_query_filters() {
    let sh = shared();
    let vol = vol_uuid(&sh, "ONTAP01");
    let v = get(
        &sh,
        &format!("/api/storage/volumes/{vol}?fields=*&name=ONTAP01"),
    );
    assert_eq!(v["name"], "ONTAP01");
    let (s, v) = call(
        &sh,
        "GET",
        &format!("/api/storage/volumes/{vol}?fields=*&name=other"),
        None,
    );
    assert_eq!((s, err_code(&v)), (404, "4"), "{v}");
    let (s, v) = call(
        &sh,
        "GET",
        &format!("/api/storage/volumes/{vol}?bogus=1"),
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "262179"), "{v}");
    let snap = snap_uuid(&sh, &vol, "hourly.2026-11-01_0105");
    let url = format!("/api/storage/volumes/{vol}/snapshots/{snap}");
    let v = get(&sh, &format!("{url}?fields=*&name=hourly.2026-11-01_0105"));
    assert_eq!(v["uuid"], snap.as_str());
    let (s, _) = call(&sh, "GET", &format!("{url}?fields=*&name=nope"), None);
    assert_eq!(s, 404);
    // Repeated fields= are one list.
    let v = get(&sh, &format!("{url}?fields=comment&fields=create_time"));
    assert!(
        v.get("create_time").is_some() && v.get("state").is_none(),
        "{v}"
    );
}

#[test]
fn snapshot_fields_follow_the_release() {
    let sh = shared();
    let vol = vol_uuid(&sh, "ONTAP01");
    let v = get(
        &sh,
        &format!("/api/storage/volumes/{vol}/snapshots?fields=owners,snaplock_expiry_time,logical_size,reclaimable_space"),
    );
    let r = &v["records"][0];
    assert!(r["logical_size"].as_u64().unwrap() > 0, "{r}");
    assert!(r["reclaimable_space"].is_u64(), "{r}");
    let mut sc = scenario();
    sc.version = "9.9.1".into();
    let sh = shared_with(sc);
    let vol = vol_uuid(&sh, "ONTAP01");
    for f in ["logical_size", "reclaimable_space"] {
        let (s, v) = call(
            &sh,
            "GET",
            &format!("/api/storage/volumes/{vol}/snapshots?fields={f}"),
            None,
        );
        assert_eq!((s, err_code(&v)), (400, "262179"), "{f}: {v}");
    }
    let (s, _) = call(
        &sh,
        "GET",
        &format!("/api/storage/volumes/{vol}/snapshots?fields=owners,snaplock_expiry_time"),
        None,
    );
    assert_eq!(s, 200);
}

#[test]
fn cli_restore_as_patch_with_a_query_and_a_privilege_level() {
    let mut sc = scenario();
    sc.volumes[0].snapshots[1].owners = vec!["snapmirror".into()];
    let sh = shared_with(sc);
    let vol = vol_uuid(&sh, "ONTAP01");
    let old = "proxmox_snapshot_2024-03-13_14:42:47+0000";
    // REST refuses: a newer snapshot is a SnapMirror reference.
    let j = run_job(
        &sh,
        "PATCH",
        &format!(
            "/api/storage/volumes/{vol}?restore_to.snapshot.name={}",
            old.replace('+', "%2B")
        ),
        Some(json!({})),
    );
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("failure"), Some(1638480)),
        "{j}"
    );
    // Without force the CLI refuses too.
    let base = "/api/private/cli/volume/snapshot/restore?vserver=svm1&volume=ONTAP01";
    let target = format!(
        "{base}&snapshot={}&privilege_level=admin",
        old.replace('+', "%2B").replace(':', "%3A")
    );
    let j = run_job(&sh, "PATCH", &target, None);
    assert_eq!(j["code"].as_u64(), Some(1638480), "{j}");
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("{target}&privilege_level=root"),
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "262185"), "{v}");
    let j = run_job(&sh, "PATCH", &format!("{target}&force=True"), None);
    assert_eq!(j["state"], "success", "{j}");
    let v = get(&sh, &format!("/api/storage/volumes/{vol}/snapshots"));
    assert_eq!(names(&v), [old]);
    // DELETE with an empty JSON object, as netapp-ontap sends it, is no body.
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!(
            "/api/storage/volumes/{vol}/snapshots/{}",
            snap_uuid(&sh, &vol, old)
        ),
        Some(json!({})),
    );
    assert_eq!(s, 202, "{v}");
}
