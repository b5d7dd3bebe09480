//! Volumes: collection filters, fields, paging, ordering; PATCH, SnapRestore, FlexClone create,
//! DELETE with clones, junctions, `force` and the recovery queue.

use serde_json::json;

use super::*;
use crate::ontap::VolumeSpec;

fn five_volumes() -> Shared {
    let mut sc = scenario();
    let extra: VolumeSpec =
        serde_json::from_value(json!({"name": "archive", "svm": "svm2", "junction": "/archive"}))
            .unwrap();
    sc.volumes.push(extra);
    shared_with(sc)
}

#[test]
fn default_fields_are_name_uuid_and_links() {
    let sh = shared();
    let v = get(&sh, "/api/storage/volumes");
    assert_eq!(v["num_records"], 4);
    assert_eq!(
        names(&v),
        ["ONTAP01", "pve_vmstore2", "vmstore2", "pve_nested"]
    );
    let r = v["records"][0].as_object().unwrap();
    let mut keys: Vec<_> = r.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["_links", "name", "uuid"]);
    assert_eq!(
        r["_links"]["self"]["href"],
        format!("/api/storage/volumes/{}", r["uuid"].as_str().unwrap())
    );
}

#[test]
fn filters_select_volumes() {
    let sh = shared();
    let q = |f: &str| names(&get(&sh, &format!("/api/storage/volumes?{f}")));
    assert_eq!(q("nas.path=/vmstore2"), ["pve_vmstore2", "vmstore2"]);
    assert_eq!(q("nas.path=/vmstore2&svm.name=svm1"), ["pve_vmstore2"]);
    assert_eq!(q("name=pve_*"), ["pve_vmstore2", "pve_nested"]);
    assert_eq!(q("name=ONTAP01%7Cvmstore2"), ["ONTAP01", "vmstore2"]);
    assert_eq!(q("name=!pve_*&svm.name=svm1"), ["ONTAP01"]);
    assert_eq!(q("name=\"pve_*\""), Vec::<String>::new());
    assert_eq!(q("clone.is_flexclone=false").len(), 4);
    assert_eq!(q("clone.is_flexclone=true").len(), 0);
    assert_eq!(q("state=online&style=flex*&type=rw").len(), 4);
    assert_eq!(q("nas.path=!null").len(), 4);
    let svm2 = get(&sh, "/api/svm/svms?name=svm2")["records"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(q(&format!("svm.uuid={svm2}")), ["vmstore2"]);
    let uuid = vol_uuid(&sh, "pve_nested");
    assert_eq!(q(&format!("uuid={uuid}")), ["pve_nested"]);
    let trap = vol_uuid_on(&sh, "svm2", "vmstore2");
    assert_eq!(q(&format!("uuid={trap}&nas.path=/VMSTORE2")), ["vmstore2"]);
}

#[test]
fn fields_pick_exactly_what_was_asked() {
    let sh = shared();
    let v = get(
        &sh,
        "/api/storage/volumes?name=ONTAP01&fields=svm.name,nas.path,nas.export_policy.name,space.size,clone.is_flexclone,snapshot_count",
    );
    let r = &v["records"][0];
    assert_eq!(r["svm"], json!({"name": "svm1"}));
    assert_eq!(
        r["nas"],
        json!({"path": "/ONTAP01", "export_policy": {"name": "pve_hosts"}})
    );
    assert_eq!(r["space"], json!({"size": 1u64 << 40}));
    assert_eq!(r["clone"], json!({"is_flexclone": false}));
    assert_eq!(r["snapshot_count"], 2);
    assert_eq!(r["name"], "ONTAP01", "the keys always come back");
    assert!(r["uuid"].is_string());
    assert!(r.get("state").is_none() && r["space"].get("used").is_none());
    let (s, v) = call(&sh, "GET", "/api/storage/volumes?fields=name,frobs", None);
    assert_eq!((s, err_code(&v)), (400, "262179"));
    assert!(v["error"]["message"].as_str().unwrap().contains("frobs"));
    // snapshot_count only exists from 9.10
    let old = shared_with(Scenario {
        version: "9.9.1".into(),
        ..scenario()
    });
    let (s, v) = call(
        &old,
        "GET",
        "/api/storage/volumes?fields=snapshot_count",
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
    // instance GET: standard fields, expensive ones only on request
    let uuid = vol_uuid(&sh, "ONTAP01");
    let v = get(&sh, &format!("/api/storage/volumes/{uuid}"));
    assert_eq!(v["name"], "ONTAP01");
    assert_eq!(v["space"]["size"], 1u64 << 40);
    assert!(v.get("nas").is_none());
    let v = get(
        &sh,
        &format!("/api/storage/volumes/{uuid}?fields=nas.path,name"),
    );
    assert_eq!(v["nas"]["path"], "/ONTAP01");
}

#[test]
fn paging_with_max_records_two_over_five() {
    let sh = five_volumes();
    let mut href = "/api/storage/volumes?svm.name=*&max_records=2&fields=name".to_string();
    let mut pages = Vec::new();
    loop {
        let v = get(&sh, &href);
        pages.push(names(&v));
        assert_eq!(v["num_records"], v["records"].as_array().unwrap().len());
        match v["_links"]["next"]["href"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/api/storage/volumes?"), "{next}");
                assert!(
                    next.contains("max_records=2") && next.contains("fields=name"),
                    "{next}"
                );
                assert!(next.contains("svm.name=*"), "{next}");
                href = next.to_string();
            }
            None => break,
        }
        assert!(pages.len() < 10);
    }
    assert_eq!(
        pages,
        vec![
            vec!["ONTAP01", "pve_vmstore2"],
            vec!["vmstore2", "pve_nested"],
            vec!["archive"]
        ]
    );
    let v = get(&sh, "/api/storage/volumes?return_records=false");
    assert_eq!(v["num_records"], 5);
    assert!(v.get("records").is_none());
    let v = get(
        &sh,
        "/api/storage/volumes?order_by=name%20desc&max_records=3",
    );
    assert_eq!(names(&v), ["vmstore2", "pve_vmstore2", "pve_nested"]);
    let (s, v) = call(&sh, "GET", "/api/storage/volumes?max_records=0", None);
    assert_eq!((s, err_code(&v)), (400, "262185"));
    let (s, _) = call(&sh, "GET", "/api/storage/volumes?order_by=frob", None);
    assert_eq!(s, 400);
}

#[test]
fn junction_and_export_policy_changes() {
    let sh = shared();
    let nested = vol_uuid(&sh, "pve_nested");
    let target = format!("/api/storage/volumes/{nested}");
    ok_job(&sh, "PATCH", &target, Some(json!({"nas": {"path": ""}})));
    let v = get(&sh, &format!("{target}?fields=nas.path"));
    assert!(v.get("nas").is_none(), "{v}");
    let (s, v) = call(&sh, "PATCH", &target, Some(json!({"nas.path": "relative"})));
    assert_eq!((s, err_code(&v)), (400, "262185"));
    // the junction is unique per SVM (case-insensitive), but another SVM may use it
    let j = run_job(
        &sh,
        "PATCH",
        &target,
        Some(json!({"nas": {"path": "/ontap01"}})),
    );
    assert_eq!(j["state"], "failure");
    assert!(j["message"].as_str().unwrap().contains("ONTAP01"), "{j}");
    ok_job(
        &sh,
        "PATCH",
        &target,
        Some(json!({"nas": {"path": "/nested2"}})),
    );
    assert_eq!(
        get(&sh, &format!("{target}?fields=nas.path"))["nas"]["path"],
        "/nested2"
    );
    let (s, v) = call(
        &sh,
        "PATCH",
        &target,
        Some(json!({"nas": {"export_policy": {"name": "nope"}}})),
    );
    assert_eq!((s, err_code(&v)), (400, "918271"));
    ok_job(
        &sh,
        "PATCH",
        &target,
        Some(json!({"nas.export_policy.name": "default"})),
    );
    let v = get(&sh, &format!("{target}?fields=nas.export_policy.name"));
    assert_eq!(v["nas"]["export_policy"]["name"], "default");
    let (s, v) = call(
        &sh,
        "PATCH",
        &target,
        Some(json!({"clone": {"split_initiated": true}})),
    );
    assert_eq!(s, 400, "{v}");
}

#[test]
fn restore_reverts_files_and_drops_newer_snapshots() {
    let sh = shared();
    let vol = vol_uuid(&sh, "ONTAP01");
    let disk = "images/100/vm-100-disk-0.qcow2";
    let generation = |sh: &Shared| {
        let w = sh.world.lock().unwrap();
        let f = w.ontap.exported_files("127.0.10.1", "/ONTAP01").unwrap();
        f.into_iter().find(|f| f.path == disk).unwrap().generation
    };
    ok_job(
        &sh,
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots"),
        Some(json!({"name": "before"})),
    );
    sh.world
        .lock()
        .unwrap()
        .ontap
        .write_files("127.0.10.1", "/ONTAP01", &[disk.into()]);
    ok_job(
        &sh,
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots"),
        Some(json!({"name": "after"})),
    );
    sh.world
        .lock()
        .unwrap()
        .ontap
        .write_files("127.0.10.1", "/ONTAP01", &[disk.into()]);
    assert_eq!(generation(&sh), 3);

    // restore combined with another field is refused, in both spellings
    let target = format!("/api/storage/volumes/{vol}");
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("{target}?restore_to.snapshot.name=before"),
        Some(json!({"comment": "x"})),
    );
    assert_eq!((s, err_code(&v)), (400, "918251"));
    let (s, v) = call(
        &sh,
        "PATCH",
        &target,
        Some(json!({"restore_to.snapshot.name": "before", "nas": {"path": "/x"}})),
    );
    assert_eq!((s, err_code(&v)), (400, "918251"));
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("{target}?restore_to.snapshot.name=nope"),
        None,
    );
    assert_eq!(s, 404, "{v}");

    ok_job(
        &sh,
        "PATCH",
        &format!("{target}?restore_to.snapshot.name=before"),
        Some(json!({})),
    );
    assert_eq!(generation(&sh), 1);
    let snaps = names(&get(&sh, &format!("{target}/snapshots")));
    assert_eq!(
        snaps,
        [
            "proxmox_snapshot_2024-03-13_14:42:47+0000",
            "hourly.2026-11-01_0105",
            "before"
        ]
    );
    // body form with the uuid
    let hourly = snap_uuid(&sh, &vol, "hourly.2026-11-01_0105");
    ok_job(
        &sh,
        "PATCH",
        &target,
        Some(json!({"restore_to": {"snapshot": {"uuid": hourly}}})),
    );
    assert_eq!(get(&sh, &format!("{target}/snapshots"))["num_records"], 2);
}

#[test]
fn restore_refuses_when_a_newer_snapshot_backs_a_clone() {
    let sh = shared();
    let vol = vol_uuid(&sh, "ONTAP01");
    let body = json!({"name": "c1", "svm": {"name": "svm1"},
        "clone": {"is_flexclone": true, "parent_volume": {"name": "ONTAP01"},
                  "parent_snapshot": {"name": "hourly.2026-11-01_0105"}}});
    ok_job(&sh, "POST", "/api/storage/volumes", Some(body));
    let j = run_job(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{vol}?restore_to.snapshot.name=proxmox_snapshot_2024-03-13_14:42:47%2B0000"),
        None,
    );
    assert_eq!(j["state"], "failure");
    assert_eq!(j["code"], 524511);
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .contains("hourly.2026-11-01_0105"),
        "{j}"
    );
    assert_eq!(
        get(&sh, &format!("/api/storage/volumes/{vol}/snapshots"))["num_records"],
        2
    );
}

fn clone_body(name: &str, snapshot: &str) -> serde_json::Value {
    json!({"name": name, "svm": {"name": "svm1"},
           "clone": {"is_flexclone": true, "parent_volume": {"name": "ONTAP01"},
                     "parent_snapshot": {"name": snapshot}},
           "nas": {"path": format!("/{name}"), "export_policy": {"name": "pve_hosts"}}})
}

#[test]
fn flexclone_create_shares_the_snapshot_tree_and_owns_it() {
    let sh = shared();
    let parent = vol_uuid(&sh, "ONTAP01");
    let snap = "proxmox_snapshot_2024-03-13_14:42:47+0000";
    // the active file system changes after the snapshot; the clone must not see it
    sh.world.lock().unwrap().ontap.write_files(
        "127.0.10.1",
        "/ONTAP01",
        &["images/101/vm-101-disk-0.raw".into()],
    );
    let (s, v, r) = send(
        &sh,
        &request(
            "POST",
            "/api/storage/volumes?return_records=true",
            Some(clone_body("ONTAP01_CLONE", snap)),
        ),
    );
    assert_eq!(s, 202, "{v}");
    let uuid = v["records"][0]["uuid"].as_str().unwrap().to_string();
    assert_eq!(v["records"][0]["name"], "ONTAP01_CLONE");
    assert_eq!(v["num_records"], 1);
    assert!(r
        .headers
        .iter()
        .any(|(k, val)| k == "Location" && val == "/api/storage/volumes/?name=ONTAP01_CLONE"));
    let (s, _) = call(&sh, "GET", &format!("/api/storage/volumes/{uuid}"), None);
    assert_eq!(s, 404, "the clone exists only once its job has succeeded");
    let j = wait_job(&sh, v["job"]["uuid"].as_str().unwrap());
    assert_eq!(j["state"], "success");

    let c = get(
        &sh,
        &format!("/api/storage/volumes/{uuid}?fields=name,nas.path,nas.export_policy.name,clone,space.size"),
    );
    assert_eq!(c["nas"]["path"], "/ONTAP01_CLONE");
    assert_eq!(c["nas"]["export_policy"]["name"], "pve_hosts");
    assert_eq!(c["clone"]["is_flexclone"], true);
    assert_eq!(c["clone"]["parent_volume"]["name"], "ONTAP01");
    assert_eq!(c["clone"]["parent_volume"]["uuid"], parent);
    assert_eq!(c["clone"]["parent_snapshot"]["name"], snap);
    assert_eq!(c["space"]["size"], 1u64 << 40);
    let v = get(
        &sh,
        "/api/storage/volumes?clone.parent_volume.name=ONTAP01&clone.parent_snapshot.name=proxmox_snapshot_*",
    );
    assert_eq!(names(&v), ["ONTAP01_CLONE"]);
    let w = sh.world.lock().unwrap();
    let files = w
        .ontap
        .exported_files("127.0.10.1", "/ONTAP01_CLONE")
        .unwrap();
    assert_eq!(files.len(), 10);
    assert!(
        files.iter().all(|f| f.generation == 1),
        "the clone has the snapshot's tree"
    );
    drop(w);
    let s = get(
        &sh,
        &format!("/api/storage/volumes/{parent}/snapshots?fields=name,owners&owners=volume_clone"),
    );
    assert_eq!(names(&s), [snap]);
    assert_eq!(s["records"][0]["owners"], json!(["volume_clone"]));
}

#[test]
fn flexclone_create_errors() {
    let sh = shared();
    let post = |body: serde_json::Value| call(&sh, "POST", "/api/storage/volumes", Some(body));
    let snap = "hourly.2026-11-01_0105";
    let (s, v) = post(clone_body("9bad", snap));
    assert_eq!((s, err_code(&v)), (400, "917887"));
    let (s, v) = post(clone_body("bad-name", snap));
    assert_eq!((s, err_code(&v)), (400, "917888"));
    let mut b = clone_body("c2", snap);
    b["clone"]["parent_volume"]["name"] = json!("missing");
    let (s, v) = post(b);
    assert_eq!((s, err_code(&v)), (404, "524601"));
    let (s, v) = post(clone_body("c2", "missing_snapshot"));
    assert_eq!((s, err_code(&v)), (404, "1638600"));
    let mut b = clone_body("c2", snap);
    b["svm"]["name"] = json!("svm9");
    let (s, v) = post(b);
    assert_eq!((s, err_code(&v)), (404, "2621462"));
    let mut b = clone_body("c2", snap);
    b["size"] = json!(1000);
    let (s, v) = post(b);
    assert_eq!((s, err_code(&v)), (400, "918247"));
    let mut b = clone_body("c2", snap);
    b["clone"]["parent_volume"]["uuid"] = json!(vol_uuid(&sh, "pve_nested"));
    let (s, v) = post(b);
    assert_eq!((s, err_code(&v)), (400, "918236"));
    // a duplicate name fails in the job
    let j = run_job(
        &sh,
        "POST",
        "/api/storage/volumes",
        Some(clone_body("pve_nested", snap)),
    );
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("failure"), Some(917526))
    );
    assert_eq!(j["error"]["code"], "917526");
    // no parent snapshot: a new base snapshot is made
    let mut b = clone_body("c3", snap);
    b["clone"]
        .as_object_mut()
        .unwrap()
        .remove("parent_snapshot");
    ok_job(&sh, "POST", "/api/storage/volumes", Some(b));
    let parent = vol_uuid(&sh, "ONTAP01");
    let s = get(
        &sh,
        &format!("/api/storage/volumes/{parent}/snapshots?name=clone_c3.*"),
    );
    assert_eq!(s["num_records"], 1);
}

#[test]
fn deleting_a_volume_with_clones_or_a_junction_is_refused() {
    let sh = shared();
    let parent = vol_uuid(&sh, "ONTAP01");
    ok_job(
        &sh,
        "POST",
        "/api/storage/volumes",
        Some(clone_body("c1", "hourly.2026-11-01_0105")),
    );
    let j = run_job(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{parent}"),
        None,
    );
    assert_eq!(j["state"], "failure");
    assert_eq!(j["code"], 524615);
    assert_eq!(
        j["message"],
        "Failed to delete volume because it has one or more clones."
    );
    let clone = vol_uuid(&sh, "c1");
    let j = run_job(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{clone}"),
        None,
    );
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("failure"), Some(8))
    );
    assert!(j["message"].as_str().unwrap().contains("/c1"), "{j}");
    assert_eq!(get(&sh, "/api/storage/volumes?name=c1")["num_records"], 1);
}

#[test]
fn delete_without_force_goes_to_the_recovery_queue_and_keeps_the_snapshot_owned() {
    let sh = shared_with(Scenario {
        version: "9.11.1".into(),
        ..scenario()
    });
    let parent = vol_uuid(&sh, "ONTAP01");
    let snap = "hourly.2026-11-01_0105";
    ok_job(
        &sh,
        "POST",
        "/api/storage/volumes",
        Some(clone_body("c1", snap)),
    );
    let clone = vol_uuid(&sh, "c1");
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{clone}?force=true"),
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "262179"), "force needs 9.12");
    ok_job(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{clone}"),
        Some(json!({"nas": {"path": ""}})),
    );
    ok_job(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{clone}"),
        None,
    );
    assert_eq!(get(&sh, "/api/storage/volumes?name=c1")["num_records"], 0);
    let (s, _) = call(&sh, "GET", &format!("/api/storage/volumes/{clone}"), None);
    assert_eq!(s, 404);
    let snap_id = snap_uuid(&sh, &parent, snap);
    let s = get(
        &sh,
        &format!("/api/storage/volumes/{parent}/snapshots/{snap_id}?fields=owners"),
    );
    assert_eq!(s["owners"], json!(["volume_clone"]));
    let j = run_job(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{parent}/snapshots/{snap_id}"),
        None,
    );
    assert_eq!(j["code"], 1638543);

    let q = get(
        &sh,
        "/api/private/cli/volume/recovery-queue?vserver=svm1&volume=c1*",
    );
    assert_eq!(q["num_records"], 1);
    let queued = q["records"][0]["volume"].as_str().unwrap().to_string();
    assert!(queued.starts_with("c1_"), "{queued}");
    assert_eq!(q["records"][0]["vserver"], "svm1");
    let (s, v) = call(
        &sh,
        "POST",
        "/api/private/cli/volume/recovery-queue/purge",
        Some(json!({"vserver": "svm1", "volume": "nope"})),
    );
    assert_eq!((s, err_code(&v)), (404, "4"));
    ok_job(
        &sh,
        "POST",
        "/api/private/cli/volume/recovery-queue/purge",
        Some(json!({"vserver": "svm1", "volume": queued})),
    );
    assert_eq!(
        get(&sh, "/api/private/cli/volume/recovery-queue")["num_records"],
        0
    );
    ok_job(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{parent}/snapshots/{snap_id}"),
        None,
    );
}

#[test]
fn force_delete_and_split_free_the_parent_snapshot() {
    let sh = shared();
    let parent = vol_uuid(&sh, "ONTAP01");
    let snap = "hourly.2026-11-01_0105";
    let snap_id = snap_uuid(&sh, &parent, snap);
    let owners = |sh: &Shared| {
        get(
            sh,
            &format!("/api/storage/volumes/{parent}/snapshots/{snap_id}?fields=owners"),
        )
        .get("owners")
        .cloned()
    };
    ok_job(
        &sh,
        "POST",
        "/api/storage/volumes",
        Some(clone_body("c1", snap)),
    );
    ok_job(
        &sh,
        "POST",
        "/api/storage/volumes",
        Some(clone_body("c2", snap)),
    );
    let c1 = vol_uuid(&sh, "c1");
    let c2 = vol_uuid(&sh, "c2");
    ok_job(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{c1}"),
        Some(json!({"nas": {"path": ""}})),
    );
    ok_job(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{c1}?force=true"),
        None,
    );
    assert_eq!(
        get(&sh, "/api/private/cli/volume/recovery-queue")["num_records"],
        0
    );
    assert_eq!(owners(&sh), Some(json!(["volume_clone"])));
    ok_job(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{c2}"),
        Some(json!({"clone.split_initiated": true})),
    );
    let v = get(&sh, &format!("/api/storage/volumes/{c2}?fields=clone"));
    assert_eq!(v["clone"]["is_flexclone"], false);
    assert_eq!(owners(&sh), None);
    ok_job(
        &sh,
        "DELETE",
        &format!("/api/storage/volumes/{parent}/snapshots/{snap_id}"),
        None,
    );
}
