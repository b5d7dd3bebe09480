//! File clones: success, from `.snapshot`, request errors, job failures, faults.

use serde_json::json;

use super::*;

fn body(sh: &Shared, src: &str, dst: &str) -> serde_json::Value {
    json!({"volume": {"name": "ONTAP01", "uuid": vol_uuid(sh, "ONTAP01")},
           "source_path": src, "destination_path": dst})
}

fn file(sh: &Shared, path: &str) -> Option<crate::pve::exports::ExportedFile> {
    let w = sh.world.lock().unwrap();
    w.ontap
        .exported_files("127.0.10.1", "/ONTAP01")
        .unwrap()
        .into_iter()
        .find(|f| f.path == path)
}

const DISK: &str = "images/100/vm-100-disk-0.qcow2";
const SNAP_DISK: &str = "images/100/vm-100-disk-0-snapshot-2026-11-26_12:00:00+0000.qcow2";

#[test]
fn clone_copies_size_and_generation() {
    let sh = shared();
    sh.world
        .lock()
        .unwrap()
        .ontap
        .write_files("127.0.10.1", "/ONTAP01", &[DISK.into()]);
    let (s, v) = call(
        &sh,
        "POST",
        "/api/storage/file/clone",
        Some(body(&sh, DISK, SNAP_DISK)),
    );
    assert_eq!(s, 202, "{v}");
    assert!(
        file(&sh, SNAP_DISK).is_none(),
        "no effect before the job ends"
    );
    let j = wait_job(&sh, v["job"]["uuid"].as_str().unwrap());
    assert_eq!(j["state"], "success");
    let c = file(&sh, SNAP_DISK).unwrap();
    assert_eq!((c.size, c.generation), (32 << 30, 2));
}

#[test]
fn clone_from_snapshot_restores_over_a_disk_with_overwrite() {
    let sh = shared();
    sh.world
        .lock()
        .unwrap()
        .ontap
        .write_files("127.0.10.1", "/ONTAP01", &[DISK.into()]);
    let src = format!("./.snapshot/hourly.2026-11-01_0105/{DISK}");
    let j = run_job(
        &sh,
        "POST",
        "/api/storage/file/clone",
        Some(body(&sh, &src, DISK)),
    );
    assert_eq!(j["state"], "failure");
    assert_eq!(j["code"], 13565952);
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .starts_with("Clone start failed."),
        "{j}"
    );
    assert!(
        j["message"].as_str().unwrap().contains("already exists"),
        "{j}"
    );
    assert_eq!(file(&sh, DISK).unwrap().generation, 2);
    let mut b = body(&sh, &src, DISK);
    b["overwrite_destination"] = json!(true);
    ok_job(&sh, "POST", "/api/storage/file/clone", Some(b));
    assert_eq!(file(&sh, DISK).unwrap().generation, 1);
}

#[test]
fn request_errors() {
    let sh = shared();
    let post = |b: serde_json::Value| call(&sh, "POST", "/api/storage/file/clone", Some(b));
    let mut b = body(&sh, DISK, SNAP_DISK);
    b["volume"]["name"] = json!("pve_nested");
    let (s, v) = post(b);
    assert_eq!((s, err_code(&v)), (400, "918236"));
    let (s, v) = post(body(&sh, DISK, &format!("/{SNAP_DISK}")));
    assert_eq!((s, err_code(&v)), (400, "917812"));
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("destination_path"));
    let mut b = body(&sh, DISK, SNAP_DISK);
    b["volume"].as_object_mut().unwrap().remove("name");
    let (s, v) = post(b);
    assert_eq!(
        (s, err_code(&v)),
        (400, "262177"),
        "volume.name is required before 9.16"
    );
    let mut b = body(&sh, DISK, SNAP_DISK);
    b["range"] = json!(["0:0:1"]);
    let (s, v) = post(b);
    assert_eq!((s, err_code(&v)), (400, "262179"));
    let old = shared_with(Scenario {
        version: "9.7.0".into(),
        ..scenario()
    });
    let mut b = body(&old, DISK, SNAP_DISK);
    b["overwrite_destination"] = json!(true);
    let (s, v) = call(&old, "POST", "/api/storage/file/clone", Some(b));
    assert_eq!((s, err_code(&v)), (400, "262179"));
    assert_eq!(v["error"]["target"], "overwrite_destination");
}

#[test]
fn job_failures_change_nothing() {
    let sh = shared();
    let j = run_job(
        &sh,
        "POST",
        "/api/storage/file/clone",
        Some(body(&sh, "images/100/nope.raw", "images/100/x.raw")),
    );
    assert_eq!(j["code"], 917864);
    let j = run_job(
        &sh,
        "POST",
        "/api/storage/file/clone",
        Some(body(&sh, DISK, "images/777/x.qcow2")),
    );
    assert_eq!(j["code"], 13565952);
    assert!(j["message"].as_str().unwrap().contains("images/777"));
    let j = run_job(
        &sh,
        "POST",
        "/api/storage/file/clone",
        Some(body(&sh, DISK, ".snapshot/hourly.2026-11-01_0105/x.qcow2")),
    );
    assert_eq!(j["code"], 13565952);
    // an injected fault fails exactly that job, without effect
    let fault = JobFault {
        code: 13565952,
        message: "Clone start failed. Reason: out of split load.".into(),
    };
    let req = request(
        "POST",
        "/api/storage/file/clone",
        Some(body(&sh, DISK, SNAP_DISK)),
    );
    let (s, v, _) = send_fault(&sh, &req, Some(&fault));
    assert_eq!(s, 202);
    let j = wait_job(&sh, v["job"]["uuid"].as_str().unwrap());
    assert_eq!(j["state"], "failure");
    assert_eq!(
        j["message"],
        "Clone start failed. Reason: out of split load."
    );
    assert_eq!(j["error"]["code"], "13565952");
    assert!(file(&sh, SNAP_DISK).is_none());
    ok_job(
        &sh,
        "POST",
        "/api/storage/file/clone",
        Some(body(&sh, DISK, SNAP_DISK)),
    );
    assert!(file(&sh, SNAP_DISK).is_some());
}
