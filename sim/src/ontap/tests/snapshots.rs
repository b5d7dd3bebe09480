//! Snapshots: fields per version, create (Location, no uuid, rules, the 1024th), modify, delete
//! (owned by a FlexClone, before expiry), paging.

use serde_json::json;

use super::*;
use crate::ontap::state::Snapshot;
use crate::ontap::tree::Tree;

fn snaps_url(sh: &Shared) -> (String, String) {
    let vol = vol_uuid(sh, "ONTAP01");
    let url = format!("/api/storage/volumes/{vol}/snapshots");
    (vol, url)
}

#[test]
fn scenario_snapshots_with_fields() {
    let sh = shared();
    let (_, url) = snaps_url(&sh);
    let v = get(
        &sh,
        &format!("{url}?fields=name,uuid,create_time,comment,snapmirror_label,expiry_time,owners,size,state&order_by=create_time"),
    );
    assert_eq!(v["num_records"], 2);
    let r = &v["records"][0];
    assert_eq!(r["name"], "proxmox_snapshot_2024-03-13_14:42:47+0000");
    assert_eq!(r["create_time"], "2024-03-13T14:42:47+00:00");
    assert_eq!(r["comment"], "made by the original tool");
    assert_eq!(r["state"], "valid");
    assert_eq!(r["size"], 0);
    assert!(r.get("snapmirror_label").is_none() && r.get("owners").is_none());
    assert_eq!(v["records"][1]["name"], "hourly.2026-11-01_0105");
    assert!(v["records"][1].get("comment").is_none());
    let v = get(&sh, &format!("{url}?order_by=create_time%20desc"));
    assert_eq!(names(&v)[0], "hourly.2026-11-01_0105");
}

#[test]
fn timestamps_use_the_cluster_offset() {
    let sh = shared_with(Scenario {
        utc_offset: "-04:00".into(),
        ..scenario()
    });
    let (_, url) = snaps_url(&sh);
    let v = get(&sh, &format!("{url}?fields=create_time&name=proxmox*"));
    assert_eq!(v["records"][0]["create_time"], "2024-03-13T10:42:47-04:00");
    let v = get(
        &sh,
        &format!("{url}?create_time=%3E2024-03-13T14:00:00Z&fields=name"),
    );
    assert_eq!(v["num_records"], 2);
    let v = get(&sh, &format!("{url}?create_time=%3C2025-01-01T00:00:00Z"));
    assert_eq!(v["num_records"], 1);
}

#[test]
fn version_gated_snapshot_fields() {
    let sh = shared_with(Scenario {
        version: "9.8.0".into(),
        ..scenario()
    });
    let (_, url) = snaps_url(&sh);
    let (s, v) = call(&sh, "GET", &format!("{url}?fields=size"), None);
    assert_eq!((s, err_code(&v)), (400, "262179"));
    assert!(get(&sh, &format!("{url}?fields=snapmirror_label")).is_object());
    let sh = shared_with(Scenario {
        version: "9.7.0".into(),
        ..scenario()
    });
    let (_, url) = snaps_url(&sh);
    let (s, v) = call(
        &sh,
        "POST",
        &url,
        Some(json!({"name": "x", "snapmirror_label": "daily"})),
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
}

#[test]
fn create_returns_a_job_and_location_but_no_uuid() {
    let sh = shared();
    let (vol, url) = snaps_url(&sh);
    let body = json!({"name": "proxmox_snapshot_2026-11-26_12:00:00+0000", "comment": "storage ONTAP01",
                      "snapmirror_label": "daily", "expiry_time": "2030-01-01T00:00:00Z"});
    let (s, v, r) = send(&sh, &request("POST", &url, Some(body)));
    assert_eq!(s, 202, "{v}");
    assert!(v.get("records").is_none());
    let loc = r.headers.iter().find(|(k, _)| k == "Location").unwrap();
    assert_eq!(
        loc.1,
        format!("/api/storage/volumes/{vol}/snapshots/?name=proxmox_snapshot_2026-11-26_12:00:00%2B0000")
    );
    let j = wait_job(&sh, v["job"]["uuid"].as_str().unwrap());
    assert_eq!(j["state"], "success");
    assert!(j["description"]
        .as_str()
        .unwrap()
        .starts_with("POST /api/storage/volumes/"));
    let id = snap_uuid(&sh, &vol, "proxmox_snapshot_2026-11-26_12:00:00+0000");
    let s = get(&sh, &format!("{url}/{id}"));
    assert_eq!(s["comment"], "storage ONTAP01");
    assert_eq!(s["snapmirror_label"], "daily");
    assert_eq!(s["expiry_time"], "2030-01-01T00:00:00+00:00");
    assert_eq!(s["volume"]["name"], "ONTAP01");
    assert!(s["create_time"].as_str().unwrap().ends_with("+00:00"));
    // return_records=true returns the uuid
    let (s, v) = call(
        &sh,
        "POST",
        &format!("{url}?return_records=true"),
        Some(json!({"name": "r1"})),
    );
    assert_eq!(s, 202);
    let id = v["records"][0]["uuid"].as_str().unwrap().to_string();
    wait_job(&sh, v["job"]["uuid"].as_str().unwrap());
    assert_eq!(get(&sh, &format!("{url}/{id}"))["name"], "r1");
}

#[test]
fn create_rules() {
    let sh = shared();
    let (_, url) = snaps_url(&sh);
    let post = |b: serde_json::Value| call(&sh, "POST", &url, Some(b));
    for bad in ["", "has space", "a/b", "x*", ".hidden"] {
        let (s, v) = post(json!({"name": bad}));
        assert_eq!((s, err_code(&v)), (400, "1638518"), "{bad:?}: {v}");
    }
    let (s, v) = post(json!({"name": "snapmirror.x"}));
    assert_eq!((s, err_code(&v)), (400, "1638477"));
    let (s, v) = post(json!({}));
    assert_eq!((s, err_code(&v)), (400, "262177"));
    let (s, v) = post(json!({"name": "ok", "comment": "c".repeat(256)}));
    assert_eq!((s, err_code(&v)), (400, "262185"));
    let (s, v) = post(json!({"name": "ok", "snapmirror_label": "l".repeat(32)}));
    assert_eq!((s, err_code(&v)), (400, "262185"));
    let (s, v) = post(json!({"name": "ok", "expiry_time": "soon"}));
    assert_eq!((s, err_code(&v)), (400, "262185"));
    let (s, v) = post(json!({"name": "ok", "volume": {"name": "pve_nested"}}));
    assert_eq!((s, err_code(&v)), (400, "262185"));
    // a duplicate name fails in the job, and changes nothing
    let j = run_job(
        &sh,
        "POST",
        &url,
        Some(json!({"name": "hourly.2026-11-01_0105"})),
    );
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("failure"), Some(525059))
    );
    assert_eq!(get(&sh, &url)["num_records"], 2);
}

#[test]
fn the_1024th_snapshot_is_refused() {
    let sh = shared();
    let (vol, url) = snaps_url(&sh);
    {
        let mut w = sh.world.lock().unwrap();
        let now = w.ontap.now();
        let v = w.ontap.volume_mut(&vol).unwrap();
        for i in v.snapshots.len()..1022 {
            v.snapshots.push(Snapshot {
                uuid: crate::ontap::state::new_uuid(),
                name: format!("bulk.{i:04}"),
                create_time: now,
                comment: None,
                snapmirror_label: None,
                expiry_time: None,
                snaplock_expiry_time: None,
                static_owners: vec![],
                tree: Tree::new(),
            });
        }
    }
    ok_job(&sh, "POST", &url, Some(json!({"name": "number_1023"})));
    assert_eq!(
        get(&sh, &format!("{url}?return_records=false"))["num_records"],
        1023
    );
    let j = run_job(&sh, "POST", &url, Some(json!({"name": "number_1024"})));
    assert_eq!(j["state"], "failure");
    assert_eq!(j["code"], 525062);
    assert_eq!(j["error"]["code"], "525062");
    assert!(j["message"]
        .as_str()
        .unwrap()
        .contains("maximum number of snapshots"));
    assert_eq!(
        get(&sh, &format!("{url}?return_records=false"))["num_records"],
        1023
    );
    // paging over many snapshots gives every one exactly once
    let mut href = format!("{url}?max_records=250");
    let mut seen = 0;
    loop {
        let v = get(&sh, &href);
        seen += v["num_records"].as_u64().unwrap();
        match v["_links"]["next"]["href"].as_str() {
            Some(n) => href = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, 1023);
}

#[test]
fn modify_renames_and_updates() {
    let sh = shared();
    let (vol, url) = snaps_url(&sh);
    let id = snap_uuid(&sh, &vol, "hourly.2026-11-01_0105");
    ok_job(
        &sh,
        "PATCH",
        &format!("{url}/{id}"),
        Some(json!({"name": "renamed", "comment": "kept", "snapmirror_label": "weekly"})),
    );
    let s = get(&sh, &format!("{url}/{id}"));
    assert_eq!(
        (s["name"].as_str(), s["comment"].as_str()),
        (Some("renamed"), Some("kept"))
    );
    assert_eq!(s["snapmirror_label"], "weekly");
    ok_job(
        &sh,
        "PATCH",
        &format!("{url}/{id}"),
        Some(json!({"comment": null})),
    );
    assert!(get(&sh, &format!("{url}/{id}")).get("comment").is_none());
    let j = run_job(
        &sh,
        "PATCH",
        &format!("{url}/{id}"),
        Some(json!({"name": "proxmox_snapshot_2024-03-13_14:42:47+0000"})),
    );
    assert_eq!(j["code"], 525059);
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("{url}/{id}"),
        Some(json!({"name": "bad name"})),
    );
    assert_eq!((s, err_code(&v)), (400, "524508"));
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("{url}/{id}"),
        Some(json!({"owners": ["x"]})),
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
    let (s, v) = call(
        &sh,
        "GET",
        &format!("{url}/00000000-0000-4000-8000-000000000000"),
        None,
    );
    assert_eq!((s, err_code(&v)), (404, "4"));
}

#[test]
fn delete_refuses_owned_and_unexpired_snapshots() {
    let sh = shared();
    let (vol, url) = snaps_url(&sh);
    let body = json!({"name": "c1", "svm": {"name": "svm1"},
        "clone": {"is_flexclone": true, "parent_volume": {"name": "ONTAP01"},
                  "parent_snapshot": {"name": "hourly.2026-11-01_0105"}}});
    ok_job(&sh, "POST", "/api/storage/volumes", Some(body));
    let owned = snap_uuid(&sh, &vol, "hourly.2026-11-01_0105");
    let j = run_job(&sh, "DELETE", &format!("{url}/{owned}"), None);
    assert_eq!(j["state"], "failure");
    assert_eq!(j["code"], 1638543);
    assert!(j["message"]
        .as_str()
        .unwrap()
        .starts_with("Failed to delete snapshot because it has an owner."));
    ok_job(
        &sh,
        "POST",
        &url,
        Some(json!({"name": "locked", "expiry_time": "2099-01-01T00:00:00Z"})),
    );
    let locked = snap_uuid(&sh, &vol, "locked");
    let j = run_job(&sh, "DELETE", &format!("{url}/{locked}"), None);
    assert_eq!(j["code"], 1638555);
    ok_job(
        &sh,
        "POST",
        &url,
        Some(json!({"name": "expired", "expiry_time": "2001-01-01T00:00:00Z"})),
    );
    let expired = snap_uuid(&sh, &vol, "expired");
    ok_job(&sh, "DELETE", &format!("{url}/{expired}"), None);
    assert_eq!(names(&get(&sh, &url)).len(), 3);
    let (s, _) = call(&sh, "DELETE", &format!("{url}/{expired}"), None);
    assert_eq!(s, 404);
}

#[test]
fn sizes_grow_as_the_active_file_system_moves_on() {
    let sh = shared();
    let (vol, url) = snaps_url(&sh);
    ok_job(&sh, "POST", &url, Some(json!({"name": "s1"})));
    let id = snap_uuid(&sh, &vol, "s1");
    assert_eq!(get(&sh, &format!("{url}/{id}?fields=size"))["size"], 0);
    sh.world.lock().unwrap().ontap.write_files(
        "127.0.10.1",
        "/ONTAP01",
        &["images/100/vm-100-disk-3.raw".into()],
    );
    assert_eq!(
        get(&sh, &format!("{url}/{id}?fields=size"))["size"],
        4 << 20
    );
}

#[test]
fn a_snapshot_of_a_full_volume_fails_with_524479() {
    let mut sc = scenario();
    // The first volume's files alone fill a volume of one MiB: no room for a snapshot.
    sc.volumes[0].size = crate::ontap::scenario::Size(1 << 20);
    let name = sc.volumes[0].name.clone();
    let sh = shared_with(sc);
    let vol = vol_uuid(&sh, &name);
    let before = get(&sh, &format!("/api/storage/volumes/{vol}/snapshots"))["num_records"].clone();
    let job = run_job(
        &sh,
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots"),
        Some(serde_json::json!({"name": "full"})),
    );
    assert_eq!(job["state"], "failure", "{job}");
    assert_eq!(job["code"].to_string().trim_matches('"'), "524479", "{job}");
    assert_eq!(
        get(&sh, &format!("/api/storage/volumes/{vol}/snapshots"))["num_records"],
        before
    );
}
