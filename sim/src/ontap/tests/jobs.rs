//! Jobs: the 202 link, queued → running → success, `return_timeout` (200/201, error body, 202),
//! waiting without the lock, forgotten jobs, version differences, the private CLI restore.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::*;

fn slow() -> Shared {
    shared_with(Scenario {
        job_duration_ms: 8000,
        ..scenario()
    })
}

#[test]
fn a_job_moves_from_queued_to_running_to_success() {
    let sh = slow();
    let vol = vol_uuid(&sh, "ONTAP01");
    let url = format!("/api/storage/volumes/{vol}/snapshots");
    let (s, v) = call(&sh, "POST", &url, Some(json!({"name": "s1"})));
    assert_eq!(s, 202);
    let uuid = v["job"]["uuid"].as_str().unwrap().to_string();
    let job_url = format!("/api/cluster/jobs/{uuid}");
    let j = get(&sh, &job_url);
    assert_eq!(j["state"], "queued");
    assert!(j.get("start_time").is_none() && j.get("end_time").is_none());
    assert_eq!(j["description"], format!("POST {url}"));

    let set = |f: &dyn Fn(&mut crate::ontap::job::Job)| {
        let mut w = sh.world.lock().unwrap();
        let job = w.ontap.jobs.iter_mut().find(|j| j.uuid == uuid).unwrap();
        f(job);
    };
    set(&|j| j.starts_at = Instant::now() - Duration::from_millis(1));
    let j = get(&sh, &job_url);
    assert_eq!(j["state"], "running");
    assert!(j["message"].as_str().unwrap().contains("s1"));
    assert!(j.get("start_time").is_some() && j.get("end_time").is_none());
    assert_eq!(
        get(&sh, &format!("{url}?name=s1"))["num_records"],
        0,
        "no effect yet"
    );

    set(&|j| j.ends_at = Instant::now() - Duration::from_millis(1));
    let j = get(&sh, &job_url);
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("success"), Some(0))
    );
    assert_eq!(j["message"], "success");
    assert!(j.get("end_time").is_some() && j.get("error").is_none());
    assert_eq!(get(&sh, &format!("{url}?name=s1"))["num_records"], 1);
    let v = get(
        &sh,
        "/api/cluster/jobs?state=success&fields=uuid,state,description",
    );
    assert_eq!(v["num_records"], 1);
    assert_eq!(v["records"][0]["uuid"], uuid);
}

#[test]
fn return_timeout_answers_with_the_outcome() {
    let sh = shared();
    let vol = vol_uuid(&sh, "ONTAP01");
    let url = format!("/api/storage/volumes/{vol}/snapshots");
    let (s, v, r) = send(
        &sh,
        &request(
            "POST",
            &format!("{url}?return_timeout=30"),
            Some(json!({"name": "s1"})),
        ),
    );
    assert_eq!(s, 201, "{v}");
    assert!(v["job"]["uuid"].is_string());
    assert!(r.headers.iter().any(|(k, _)| k == "Location"));
    assert_eq!(
        get(
            &sh,
            &format!("/api/cluster/jobs/{}", v["job"]["uuid"].as_str().unwrap())
        )["state"],
        "success"
    );
    let id = snap_uuid(&sh, &vol, "s1");
    let (s, v) = call(
        &sh,
        "PATCH",
        &format!("{url}/{id}?return_timeout=30"),
        Some(json!({"comment": "c"})),
    );
    assert_eq!(s, 200, "{v}");
    assert!(v["job"]["_links"]["self"]["href"].is_string());
    // a failing job returns its error
    let (s, v) = call(
        &sh,
        "POST",
        &format!("{url}?return_timeout=30"),
        Some(json!({"name": "s1"})),
    );
    assert_eq!((s, err_code(&v)), (409, "525059"), "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    let (s, v) = call(
        &sh,
        "POST",
        &format!("{url}?return_timeout=121"),
        Some(json!({"name": "s2"})),
    );
    assert_eq!((s, err_code(&v)), (400, "262185"));
    // a job that outlasts return_timeout answers 202
    let sh = slow();
    let vol = vol_uuid(&sh, "ONTAP01");
    let (s, v) = call(
        &sh,
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots?return_timeout=1"),
        Some(json!({"name": "s1"})),
    );
    assert_eq!(s, 202, "{v}");
}

#[test]
fn waiting_does_not_hold_the_lock() {
    let sh = Arc::new(slow());
    let vol = vol_uuid(&sh, "ONTAP01");
    let waiter = {
        let sh = Arc::clone(&sh);
        std::thread::spawn(move || {
            call(
                &sh,
                "POST",
                &format!("/api/storage/volumes/{vol}/snapshots?return_timeout=3"),
                Some(json!({"name": "s1"})),
            )
        })
    };
    // once the job exists the waiter is waiting; other requests must still be served
    loop {
        if get(&sh, "/api/cluster/jobs")["num_records"] == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(get(&sh, "/api/cluster")["name"], "sim-cluster");
    assert!(!waiter.is_finished());
    let (s, _) = waiter.join().unwrap();
    assert_eq!(s, 202);
}

#[test]
fn ended_jobs_are_forgotten_after_the_retention_time() {
    let sh = shared_with(Scenario {
        job_retention_ms: 1,
        ..scenario()
    });
    let vol = vol_uuid(&sh, "ONTAP01");
    let (s, v) = call(
        &sh,
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots?return_timeout=30"),
        Some(json!({"name": "s1"})),
    );
    assert_eq!(s, 201);
    std::thread::sleep(Duration::from_millis(5));
    let (s, e) = call(
        &sh,
        "GET",
        &format!("/api/cluster/jobs/{}", v["job"]["uuid"].as_str().unwrap()),
        None,
    );
    assert_eq!((s, err_code(&e)), (404, "4"));
    assert_eq!(
        get(
            &sh,
            &format!("/api/storage/volumes/{vol}/snapshots?name=s1")
        )["num_records"],
        1
    );
}

#[test]
fn job_error_object_exists_from_9_9() {
    let sh = shared_with(Scenario {
        version: "9.8.0".into(),
        ..scenario()
    });
    let vol = vol_uuid(&sh, "ONTAP01");
    let j = run_job(
        &sh,
        "POST",
        &format!("/api/storage/volumes/{vol}/snapshots"),
        Some(json!({"name": "hourly.2026-11-01_0105"})),
    );
    assert_eq!(
        (j["state"].as_str(), j["code"].as_u64()),
        (Some("failure"), Some(525059))
    );
    assert!(j.get("error").is_none());
    let (s, v) = call(
        &sh,
        "GET",
        &format!(
            "/api/cluster/jobs/{}?fields=error",
            j["uuid"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
}

#[test]
fn private_cli_snapshot_restore() {
    let sh = shared();
    let disk = "images/101/vm-101-disk-0.raw";
    sh.world
        .lock()
        .unwrap()
        .ontap
        .write_files("127.0.10.1", "/ONTAP01", &[disk.into()]);
    let url = "/api/private/cli/volume/snapshot/restore";
    let (s, v) = call(
        &sh,
        "POST",
        url,
        Some(json!({"vserver": "svm1", "volume": "ONTAP01", "snapshot": "nope"})),
    );
    assert_eq!((s, err_code(&v)), (404, "1638600"));
    let (s, v) = call(
        &sh,
        "POST",
        url,
        Some(json!({"vserver": "svm9", "volume": "ONTAP01", "snapshot": "x"})),
    );
    assert_eq!(s, 404, "{v}");
    let (s, v) = call(
        &sh,
        "POST",
        url,
        Some(json!({"vserver": "svm1", "volume": "ONTAP01", "snapshot": "x", "colour": 1})),
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
    let (s, v) = call(
        &sh,
        "POST",
        &format!("{url}?return_timeout=30"),
        Some(json!({"vserver": "svm1", "volume": "ONTAP01",
                    "snapshot": "proxmox_snapshot_2024-03-13_14:42:47+0000", "force": true})),
    );
    assert_eq!(s, 200, "{v}");
    assert!(v.get("cli_output").is_some());
    let w = sh.world.lock().unwrap();
    let f = w.ontap.exported_files("127.0.10.1", "/ONTAP01").unwrap();
    assert_eq!(f.iter().find(|f| f.path == disk).unwrap().generation, 1);
    let v = w
        .ontap
        .volumes
        .iter()
        .find(|v| v.name == "ONTAP01")
        .unwrap();
    assert_eq!(v.snapshots.len(), 1);
}
