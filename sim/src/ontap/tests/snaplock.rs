//! Snapshot locking through the REST handlers: the volume setting (9.12.1+, compliance clock),
//! locked snapshots refused for DELETE (1638555) and for a restore that would discard them (9437886).

use serde_json::json;

use super::*;

/// `pve_vmstore2` has snapshot locking in the default scenario; `ONTAP01` has not.
fn locking_url(sh: &Shared) -> (String, String) {
    let vol = vol_uuid(sh, "pve_vmstore2");
    let url = format!("/api/storage/volumes/{vol}/snapshots");
    (vol, url)
}

#[test]
fn locked_snapshots_cannot_be_deleted_or_restored_over() {
    let sh = shared();
    let (vol, url) = locking_url(&sh);
    ok_job(&sh, "POST", &url, Some(json!({"name": "old"})));
    ok_job(
        &sh,
        "POST",
        &url,
        Some(json!({"name": "locked", "snaplock_expiry_time": "2099-01-01T00:00:00Z"})),
    );
    let v = get(
        &sh,
        &format!("{url}?fields=snaplock_expiry_time&name=locked"),
    );
    assert_eq!(
        v["records"][0]["snaplock_expiry_time"],
        "2099-01-01T00:00:00+00:00"
    );
    let locked = snap_uuid(&sh, &vol, "locked");
    let j = run_job(&sh, "DELETE", &format!("{url}/{locked}"), None);
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("failure"), Some(1638555))
    );
    assert!(j["message"]
        .as_str()
        .unwrap()
        .contains("has not expired or is locked"));

    let j = run_job(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{vol}?restore_to.snapshot.name=old"),
        Some(json!({})),
    );
    assert_eq!(j["code"], 9437886);
    assert_eq!(names(&get(&sh, &url)), vec!["old", "locked"]);

    // Turning locking off while a lock holds is refused.
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{vol}"),
        Some(json!({"snapshot_locking_enabled": false})),
    );
    assert_eq!((s, err_code(&v)), (400, "13001"));
}

#[test]
fn locks_are_ignored_without_volume_locking_and_need_a_future_time() {
    let sh = shared();
    let vol = vol_uuid(&sh, "ONTAP01");
    let url = format!("/api/storage/volumes/{vol}/snapshots");
    ok_job(
        &sh,
        "POST",
        &url,
        Some(json!({"name": "plain", "snaplock_expiry_time": "2099-01-01T00:00:00Z"})),
    );
    let v = get(
        &sh,
        &format!("{url}?fields=snaplock_expiry_time&name=plain"),
    );
    assert!(v["records"][0].get("snaplock_expiry_time").is_none(), "{v}");
    let plain = snap_uuid(&sh, &vol, "plain");
    ok_job(&sh, "DELETE", &format!("{url}/{plain}"), None);

    let (_, url) = locking_url(&sh);
    let (s, v) = call(
        &sh,
        "POST",
        &url,
        Some(json!({"name": "past", "snaplock_expiry_time": "2001-01-01T00:00:00Z"})),
    );
    assert_eq!((s, err_code(&v)), (400, "262185"));
    let vols = get(
        &sh,
        "/api/storage/volumes?fields=snapshot_locking_enabled&name=pve_vmstore2",
    );
    assert_eq!(vols["records"][0]["snapshot_locking_enabled"], true);
}

#[test]
fn enabling_needs_the_compliance_clock_and_9_12_1() {
    let sh = shared_with(Scenario {
        compliance_clock: false,
        volumes: Scenario::default()
            .volumes
            .into_iter()
            .map(|mut v| {
                v.snapshot_locking_enabled = false;
                v
            })
            .collect(),
        ..scenario()
    });
    let vol = vol_uuid(&sh, "ONTAP01");
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("/api/storage/volumes/{vol}"),
        Some(json!({"snapshot_locking_enabled": true})),
    );
    assert_eq!((s, err_code(&v)), (400, "13001"));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("compliance clock is not running"));

    let old = shared_with(Scenario {
        version: "9.11.1".into(),
        volumes: Scenario::default()
            .volumes
            .into_iter()
            .map(|mut v| {
                v.snapshot_locking_enabled = false;
                v
            })
            .collect(),
        ..scenario()
    });
    let vol = vol_uuid(&old, "ONTAP01");
    let (s, v) = call(
        &old,
        "PATCH",
        &format!("/api/storage/volumes/{vol}"),
        Some(json!({"snapshot_locking_enabled": true})),
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
    let bad = Scenario {
        version: "9.11.1".into(),
        ..Scenario::default()
    };
    assert!(bad
        .validate()
        .iter()
        .any(|p| p.contains("snapshot_locking_enabled, which needs ONTAP 9.12.1")));
}
