//! The ONTAP client against the simulator over real HTTPS: every trait method, TLS modes, auth
//! failures, jobs (failed, vanished, polled), paging, retries of dropped and busy answers.

use std::time::Duration;

use pve_ontap_sim::{Api, FaultRule, RequestLogEntry, Scenario, Sim, SimOptions};
use serde_json::{json, Value};

use super::{NewFlexClone, NewSnapshot, Ontap, OntapClient, OntapVersion, SnapshotBatch, Volume};
use crate::config::parse_fingerprint;
use crate::error::{Error, TransportKind};
use crate::http::{Endpoint, Timeouts, TlsMode};
use crate::secret::Secret;

const PASSWORD: &str = "Ontap-Pa55;#\"\\=x";
const OLD_SNAPSHOT: &str = "proxmox_snapshot_2024-03-13_14:42:47+0000";

fn sim(ontap: Value) -> Sim {
    let scenario: Scenario = serde_json::from_value(json!({ "ontap": ontap })).unwrap();
    Sim::start(SimOptions {
        scenario,
        ..SimOptions::default()
    })
    .unwrap()
}

fn endpoint(sim: &Sim, tls: TlsMode, request_secs: u64) -> Endpoint {
    Endpoint {
        base_url: sim.ontap_url().to_string(),
        tls,
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(request_secs),
        },
    }
}

fn pinned(sim: &Sim) -> TlsMode {
    TlsMode::Fingerprint(parse_fingerprint(sim.ontap_fingerprint()).unwrap())
}

fn client(sim: &Sim) -> OntapClient {
    OntapClient::with_endpoint(
        &endpoint(sim, pinned(sim), 20),
        "admin",
        &Secret::new(PASSWORD),
    )
    .unwrap()
}

/// A client whose request timeout leaves `return_timeout=0`: every job answers 202 and is polled.
fn polling_client(sim: &Sim) -> OntapClient {
    OntapClient::with_endpoint(
        &endpoint(sim, pinned(sim), 3),
        "admin",
        &Secret::new(PASSWORD),
    )
    .unwrap()
}

fn ontap_log(sim: &Sim) -> Vec<RequestLogEntry> {
    sim.requests()
        .into_iter()
        .filter(|r| r.api == Api::Ontap)
        .collect()
}

fn calls(sim: &Sim) -> Vec<String> {
    ontap_log(sim)
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

fn ontap01(c: &OntapClient) -> Volume {
    let mut v = c
        .volumes(&[("svm.name", "svm1"), ("nas.path", "/ONTAP01")])
        .unwrap();
    assert_eq!(v.len(), 1, "{v:?}");
    v.pop().unwrap()
}

fn new_snapshot(name: &str) -> NewSnapshot {
    NewSnapshot {
        name: name.into(),
        comment: Some("storage ONTAP01".into()),
        snapmirror_label: Some("daily".into()),
        expiry_time: None,
        snaplock_expiry_time: None,
    }
}

#[test]
fn reads_version_svm_volumes_snapshots_and_directories() {
    let sim = sim(json!({}));
    let c = client(&sim);
    assert_eq!(c.version().unwrap(), Some(OntapVersion::new(9, 14, 1)));

    let svm = c.svm_by_lif("127.0.10.1").unwrap().unwrap();
    assert_eq!(svm.name, "svm1");
    assert_eq!(c.svm_by_lif("127.0.20.1").unwrap().unwrap().name, "svm2");
    assert_eq!(c.svm_by_lif("127.0.99.1").unwrap(), None);

    let v = ontap01(&c);
    assert_eq!(v.name, "ONTAP01");
    assert_eq!(v.svm_name, "svm1");
    assert_eq!(v.svm_uuid, svm.uuid);
    assert_eq!(v.nas_path.as_deref(), Some("/ONTAP01"));
    assert_eq!(v.export_policy.as_deref(), Some("pve_hosts"));
    assert_eq!(v.size, Some(1 << 40));
    assert_eq!(v.snapshot_count, Some(2));
    assert!(!v.is_flexclone);
    assert_eq!(c.volume(&v.uuid).unwrap(), v);
    // The trap: the same junction on another SVM.
    let on_svm2 = c
        .volumes(&[("svm.name", "svm2"), ("nas.path", "/vmstore2")])
        .unwrap();
    assert_eq!(on_svm2.len(), 1);
    assert_eq!(on_svm2[0].name, "vmstore2");

    let snapshots = c.snapshots(&v.uuid).unwrap();
    let names: Vec<&str> = snapshots.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [OLD_SNAPSHOT, "hourly.2026-11-01_0105"]);
    let old = c.snapshot(&v.uuid, OLD_SNAPSHOT).unwrap();
    assert_eq!(old.comment.as_deref(), Some("made by the original tool"));
    assert!(
        old.create_time.starts_with("2024-03-13T14:42:47"),
        "{}",
        old.create_time
    );
    assert!(matches!(
        c.snapshot(&v.uuid, "nope"),
        Err(Error::NotFound { .. })
    ));

    let root: Vec<String> = c
        .list_dir(&v.uuid, "")
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect();
    for expected in ["images", "snippets", "template"] {
        assert!(root.contains(&expected.to_string()), "{root:?}");
    }
    assert!(!root.iter().any(|n| n == "." || n == ".."), "{root:?}");
    let images = c.list_dir(&v.uuid, "images/100").unwrap();
    assert_eq!(images.len(), 6, "{images:?}");
    let disk = images
        .iter()
        .find(|f| f.name == "vm-100-disk-0.qcow2")
        .unwrap();
    assert_eq!(disk.file_type, "file");
    assert_eq!(disk.size, Some(32 << 30));
    // A snapshot's tree is reachable below .snapshot (path segment with %2E and %2F).
    let in_snapshot = c
        .list_dir(&v.uuid, &format!(".snapshot/{OLD_SNAPSHOT}/images/100"))
        .unwrap();
    assert!(in_snapshot.iter().any(|f| f.name == "vm-100-disk-0.qcow2"));
    assert!(matches!(
        c.list_dir(&v.uuid, "images/555"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        c.volume("00000000-0000-0000-0000-000000000000"),
        Err(Error::NotFound { .. })
    ));

    // Every GET asked for explicit fields, never `*`.
    for r in ontap_log(&sim) {
        assert_eq!(r.method, "GET");
        assert!(r.query.contains("fields="), "{} {}", r.path, r.query);
        assert!(
            !r.query.contains("fields=*") && !r.query.contains("fields=%2A"),
            "{}",
            r.query
        );
    }
}

#[test]
fn snapshot_clone_file_and_flexclone_lifecycle() {
    let sim = sim(json!({}));
    let c = client(&sim);
    let v = ontap01(&c);
    sim.clear_requests();

    // create_snapshot: one POST, answered once the job ended (return_timeout) with the new record
    // (return_records), so no lookup by name follows.
    let name = "proxmox_snapshot_2026-11-02_10:00:00+0000";
    let s = c.create_snapshot(&v.uuid, &new_snapshot(name)).unwrap();
    assert_eq!(s.name, name);
    assert!(!s.uuid.is_empty());
    assert_eq!(s.comment.as_deref(), Some("storage ONTAP01"));
    assert_eq!(s.snapmirror_label.as_deref(), Some("daily"));
    let log = ontap_log(&sim);
    assert_eq!(log.len(), 1, "{:?}", calls(&sim));
    assert_eq!(log[0].method, "POST");
    assert!(log[0].query.contains("return_timeout="), "{}", log[0].query);
    assert!(
        log[0].query.contains("return_records=true"),
        "{}",
        log[0].query
    );
    // The uuid from the answer is the snapshot's.
    assert_eq!(c.snapshot(&v.uuid, name).unwrap().uuid, s.uuid);

    // File clones: new file, then back over the original from the snapshot (overwrite).
    let copy = "images/100/vm-100-disk-1-snapshot-2026-11-02_10:00:00+0000.raw";
    c.clone_file(&v, "images/100/vm-100-disk-1.raw", copy, false)
        .unwrap();
    assert!(c
        .list_dir(&v.uuid, "images/100")
        .unwrap()
        .iter()
        .any(|f| copy.ends_with(&f.name)));
    c.clone_file(
        &v,
        &format!(".snapshot/{name}/images/100/vm-100-disk-1.raw"),
        "images/100/vm-100-disk-1.raw",
        true,
    )
    .unwrap();
    // Cloning onto an existing file without overwrite fails with ONTAP's answer.
    let e = c
        .clone_file(&v, "images/100/vm-100-disk-1.raw", copy, false)
        .unwrap_err();
    assert!(e.api().is_some() || matches!(e, Error::Job { .. }), "{e:?}");
    c.delete_file(&v.uuid, copy).unwrap();
    assert!(!c
        .list_dir(&v.uuid, "images/100")
        .unwrap()
        .iter()
        .any(|f| copy.ends_with(&f.name)));
    assert!(matches!(
        c.delete_file(&v.uuid, copy),
        Err(Error::NotFound { .. })
    ));

    // FlexClone from the new snapshot, with the parent's export policy.
    let clone = c
        .create_flexclone(&NewFlexClone {
            name: "ONTAP01_CLONE".into(),
            svm_name: "svm1".into(),
            parent_volume: "ONTAP01".into(),
            parent_snapshot: name.into(),
            nas_path: "/ONTAP01_CLONE".into(),
            export_policy: Some("pve_hosts".into()),
        })
        .unwrap();
    assert!(clone.is_flexclone);
    assert_eq!(clone.parent_volume.as_deref(), Some("ONTAP01"));
    assert_eq!(clone.parent_snapshot.as_deref(), Some(name));
    assert_eq!(clone.nas_path.as_deref(), Some("/ONTAP01_CLONE"));
    assert_eq!(clone.export_policy.as_deref(), Some("pve_hosts"));
    assert_eq!(
        c.volume(&clone.uuid).unwrap().export_policy.as_deref(),
        Some("pve_hosts")
    );
    let owned = c.snapshot(&v.uuid, name).unwrap();
    assert!(
        owned.owners.iter().any(|o| o == "volume_clone"),
        "{owned:?}"
    );
    // The clone's parent snapshot cannot go while the clone exists.
    let e = c.delete_snapshot(&v.uuid, &owned.uuid).unwrap_err();
    assert!(e.ontap_code().is_some(), "{e}");

    c.set_export_policy(&clone.uuid, "default").unwrap();
    assert_eq!(
        c.volume(&clone.uuid).unwrap().export_policy.as_deref(),
        Some("default")
    );
    c.unmount_volume(&clone.uuid).unwrap();
    assert_eq!(c.volume(&clone.uuid).unwrap().nas_path, None);
    c.delete_volume(&clone.uuid, true).unwrap();
    assert!(matches!(c.volume(&clone.uuid), Err(Error::NotFound { .. })));

    c.delete_snapshot(&v.uuid, &owned.uuid).unwrap();
    assert!(matches!(
        c.snapshot(&v.uuid, name),
        Err(Error::NotFound { .. })
    ));

    // Restore to the oldest snapshot: ONTAP drops the newer ones.
    c.restore_volume(&v.uuid, OLD_SNAPSHOT).unwrap();
    let left: Vec<String> = c
        .snapshots(&v.uuid)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(left, [OLD_SNAPSHOT]);
}

#[test]
fn jobs_answered_202_are_polled_with_backoff() {
    let sim = sim(json!({}));
    let c = polling_client(&sim);
    let v = ontap01(&c);
    sim.clear_requests();
    let name = "proxmox_snapshot_2026-11-02_11:00:00+0000";
    c.create_snapshot(&v.uuid, &new_snapshot(name)).unwrap();
    let log = ontap_log(&sim);
    assert_eq!(log[0].status, 202, "{:?}", calls(&sim));
    assert!(
        log[0].query.contains("return_timeout=0"),
        "{}",
        log[0].query
    );
    let polls: Vec<&RequestLogEntry> = log
        .iter()
        .filter(|r| r.path.starts_with("/api/cluster/jobs/"))
        .collect();
    assert!(!polls.is_empty(), "{:?}", calls(&sim));
    for p in &polls {
        assert!(
            p.query
                .contains("fields=state%2Cmessage%2Ccode%2Cdescription%2Cerror")
                || p.query
                    .contains("fields=state,message,code,description,error"),
            "{}",
            p.query
        );
    }
    assert_eq!(log.last().unwrap().method, "GET");
    assert!(c.snapshot(&v.uuid, name).is_ok());
}

#[test]
fn a_failed_job_names_code_and_message() {
    let sim = sim(json!({}));
    // Answered within return_timeout: the error comes back as the answer.
    let c = client(&sim);
    let v = ontap01(&c);
    sim.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone").fail_job(13565952, "Clone start failed."),
    );
    let e = c
        .clone_file(
            &v,
            "images/100/vm-100-disk-1.raw",
            "images/100/x.raw",
            false,
        )
        .unwrap_err();
    assert_eq!(e.ontap_code(), Some("13565952"), "{e}");
    assert!(e.to_string().contains("Clone start failed."), "{e}");

    // Polled: the job record carries the failure.
    let p = polling_client(&sim);
    sim.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone").fail_job(13565952, "Clone start failed."),
    );
    let e = p
        .clone_file(
            &v,
            "images/100/vm-100-disk-1.raw",
            "images/100/x.raw",
            false,
        )
        .unwrap_err();
    match &e {
        Error::Job {
            code,
            message,
            description,
            ..
        } => {
            assert_eq!(code, "13565952");
            assert_eq!(message, "Clone start failed.");
            assert!(
                description.contains("/api/storage/file/clone"),
                "{description}"
            );
        }
        other => panic!("expected a job error, got {other}"),
    }
    assert!(!c
        .list_dir(&v.uuid, "images/100")
        .unwrap()
        .iter()
        .any(|f| f.name == "x.raw"));
}

#[test]
fn a_vanished_job_is_settled_by_looking_at_the_resource() {
    // Jobs are forgotten as soon as they end, so every poll after the end answers 404.
    let sim = sim(json!({ "job_retention_ms": 0 }));
    let c = polling_client(&sim);
    let v = ontap01(&c);
    let name = "proxmox_snapshot_2026-11-02_12:00:00+0000";
    let s = c.create_snapshot(&v.uuid, &new_snapshot(name)).unwrap();
    assert!(ontap_log(&sim)
        .iter()
        .any(|r| r.path.starts_with("/api/cluster/jobs/") && r.status == 404));
    c.delete_snapshot(&v.uuid, &s.uuid).unwrap();
    assert!(matches!(
        c.snapshot(&v.uuid, name),
        Err(Error::NotFound { .. })
    ));
    // A restore cannot be checked from outside: a vanished restore job is an error saying so.
    let e = c.restore_volume(&v.uuid, OLD_SNAPSHOT).unwrap_err();
    assert!(e.to_string().contains("disappeared"), "{e}");
}

#[test]
fn collections_are_read_page_by_page() {
    let sim = sim(json!({ "job_duration_ms": 1 }));
    let c = client(&sim).with_page_size(10);
    let v = ontap01(&c);
    for i in 0..23 {
        c.create_snapshot(
            &v.uuid,
            &new_snapshot(&format!("proxmox_snapshot_2026-11-03_00:00:{i:02}+0000")),
        )
        .unwrap();
    }
    sim.clear_requests();
    let all = c.snapshots(&v.uuid).unwrap();
    assert_eq!(all.len(), 25);
    let pages = ontap_log(&sim);
    assert_eq!(pages.len(), 3, "{:?}", calls(&sim));
    assert!(
        pages[1].query.contains("max_records=10"),
        "{}",
        pages[1].query
    );
}

#[test]
fn a_dropped_get_is_retried() {
    let sim = sim(json!({}));
    let c = client(&sim);
    let v = ontap01(&c);
    sim.clear_requests();
    sim.add_fault(FaultRule::new("GET", "/api/storage/volumes/*").drop_connection());
    assert_eq!(c.volume(&v.uuid).unwrap().name, "ONTAP01");
    let statuses: Vec<u16> = ontap_log(&sim).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 200]);
    // A 503 is retried the same way; a 404 is not.
    sim.clear_requests();
    sim.add_fault(FaultRule::new("GET", "/api/storage/volumes/*").status(503));
    c.volume(&v.uuid).unwrap();
    assert_eq!(ontap_log(&sim).len(), 2);
}

#[test]
fn a_dropped_post_checks_the_resource_before_sending_again() {
    let sim = sim(json!({}));
    let c = client(&sim);
    let v = ontap01(&c);
    sim.clear_requests();
    sim.add_fault(FaultRule::new("POST", "/api/storage/volumes/*/snapshots").drop_connection());
    let name = "proxmox_snapshot_2026-11-02_13:00:00+0000";
    c.create_snapshot(&v.uuid, &new_snapshot(name)).unwrap();
    let log: Vec<(String, u16)> = ontap_log(&sim)
        .iter()
        .map(|r| (r.method.clone(), r.status))
        .collect();
    // POST dropped, GET by name (absent), POST again (its answer names the new snapshot).
    assert_eq!(log[0], ("POST".to_string(), 0));
    assert_eq!(log[1].0, "GET");
    assert_eq!(log[2].0, "POST");
    assert_eq!(log.len(), 3, "{log:?}");
    let count = c
        .snapshots(&v.uuid)
        .unwrap()
        .iter()
        .filter(|s| s.name == name)
        .count();
    assert_eq!(count, 1);
}

#[test]
fn busy_answers_are_retried_within_the_budget() {
    let sim = sim(json!({}));
    let c = client(&sim);
    let v = ontap01(&c);
    sim.clear_requests();
    sim.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone")
            .status(409)
            .body(json!({"error": {"message": "Clone operation failed: EBUSY, the split load is exhausted", "code": "13565952"}})),
    );
    c.clone_file(
        &v,
        "images/100/vm-100-disk-1.raw",
        "images/100/busy.raw",
        false,
    )
    .unwrap();
    let posts: Vec<u16> = ontap_log(&sim)
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.status)
        .collect();
    assert_eq!(posts.len(), 2, "{:?}", calls(&sim));
    assert_eq!(posts[0], 409);
    assert!((200..300).contains(&posts[1]), "{:?}", calls(&sim));

    let clone = c
        .create_flexclone(&NewFlexClone {
            name: "ONTAP01_BUSY".into(),
            svm_name: "svm1".into(),
            parent_volume: "ONTAP01".into(),
            parent_snapshot: OLD_SNAPSHOT.into(),
            nas_path: "/ONTAP01_BUSY".into(),
            export_policy: None,
        })
        .unwrap();
    c.unmount_volume(&clone.uuid).unwrap();
    sim.clear_requests();
    sim.add_fault(
        FaultRule::new("DELETE", "/api/storage/volumes/*")
            .count(2)
            .status(409)
            .body(json!({"error": {"message": "Volume busy", "code": 524486}})),
    );
    c.delete_volume(&clone.uuid, true).unwrap();
    let deletes = ontap_log(&sim)
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 3);
    assert!(matches!(c.volume(&clone.uuid), Err(Error::NotFound { .. })));
}

#[test]
fn tls_and_auth_failures_are_clear() {
    let sim = sim(json!({}));
    // CA file: the simulator's self-signed certificate.
    let dir = std::env::temp_dir().join(format!("pos-ontap-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ontap.pem");
    std::fs::write(&ca, sim.ontap_cert_pem()).unwrap();
    let by_ca = OntapClient::with_endpoint(
        &endpoint(&sim, TlsMode::CaFile(ca), 20),
        "admin",
        &Secret::new(PASSWORD),
    )
    .unwrap();
    assert!(by_ca.version().unwrap().is_some());
    std::fs::remove_dir_all(&dir).unwrap();

    // Wrong fingerprint: no request reaches the API, the message names both fingerprints.
    sim.clear_requests();
    let wrong = OntapClient::with_endpoint(
        &endpoint(&sim, TlsMode::Fingerprint([0xAB; 32]), 20),
        "admin",
        &Secret::new(PASSWORD),
    )
    .unwrap();
    let e = wrong.version().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Tls,
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains(&crate::http::format_fingerprint(&[0xAB; 32])),
        "{text}"
    );
    assert!(text.contains(sim.ontap_fingerprint()), "{text}");
    assert!(ontap_log(&sim).is_empty());

    // Wrong password: 401 with a message naming the user; the password appears nowhere.
    let bad = OntapClient::with_endpoint(
        &endpoint(&sim, pinned(&sim), 20),
        "admin",
        &Secret::new("wrong-Pa55"),
    )
    .unwrap();
    let e = bad.version().unwrap_err();
    assert_eq!(e.api().map(|a| a.status), Some(401), "{e}");
    let text = e.to_string();
    assert!(text.contains("user 'admin'"), "{text}");
    assert!(!text.contains("wrong-Pa55") && !format!("{e:?}").contains("wrong-Pa55"));
    assert_eq!(e.exit_code(), 1);
}

#[test]
fn a_closed_port_fails_fast_with_a_connect_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = OntapClient::with_endpoint(
        &Endpoint {
            base_url: format!("https://127.0.0.1:{port}"),
            tls: TlsMode::Insecure,
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_secs(10),
            },
        },
        "admin",
        &Secret::new(PASSWORD),
    )
    .unwrap();
    let e = c.version().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Transport {
                kind: TransportKind::Connect,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("GET /api/cluster"), "{e}");
}

#[test]
fn an_svm_account_reads_no_cluster_version() {
    let sim = sim(json!({
        "accounts": [{"name": "vsadmin", "password": "Vs-Pa55", "role": "vsadmin"}]
    }));
    let c = OntapClient::with_endpoint(
        &endpoint(&sim, pinned(&sim), 20),
        "vsadmin",
        &Secret::new("Vs-Pa55"),
    )
    .unwrap();
    assert_eq!(c.version().unwrap(), None);
    let e = c.svm_by_lif("127.0.10.1").unwrap_err();
    assert_eq!(e.api().map(|a| a.status), Some(403), "{e}");
    assert_eq!(c.volumes(&[("name", "ONTAP01")]).unwrap().len(), 1);
}

#[test]
fn older_releases_get_only_the_fields_they_have() {
    let sim = sim(json!({ "version": "9.8.0" }));
    let c = client(&sim);
    // Release not known yet: the newer field is refused once, then left out.
    let v = ontap01(&c);
    assert_eq!(v.snapshot_count, None);
    sim.clear_requests();
    let snapshots = c.snapshots(&v.uuid).unwrap();
    assert_eq!(snapshots.len(), 2);
    assert!(snapshots.iter().all(|s| s.size.is_none()));
    for r in ontap_log(&sim) {
        assert_eq!(r.status, 200, "{} {}", r.path, r.query);
        assert!(
            !r.query.contains("size") && !r.query.contains("snapshot_count"),
            "{}",
            r.query
        );
    }
    // Jobs of 9.8 have no error object: the failure comes from code and message.
    let p = polling_client(&sim);
    p.set_version(OntapVersion::new(9, 8, 0));
    sim.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone").fail_job(13565952, "Clone start failed."),
    );
    let e = p
        .clone_file(
            &v,
            "images/100/vm-100-disk-1.raw",
            "images/100/y.raw",
            false,
        )
        .unwrap_err();
    assert_eq!(e.ontap_code(), Some("13565952"), "{e}");
}

#[test]
fn the_recovery_queue_is_purged_before_9_12() {
    let sim = sim(json!({ "version": "9.11.1" }));
    let c = client(&sim);
    let clone = c
        .create_flexclone(&NewFlexClone {
            name: "ONTAP01_OLD".into(),
            svm_name: "svm1".into(),
            parent_volume: "ONTAP01".into(),
            parent_snapshot: OLD_SNAPSHOT.into(),
            nas_path: "/ONTAP01_OLD".into(),
            export_policy: None,
        })
        .unwrap();
    c.unmount_volume(&clone.uuid).unwrap();
    c.delete_volume(&clone.uuid, false).unwrap();
    let queued = |sim: &Sim| {
        let dump = sim.shared().world.lock().unwrap().ontap.dump();
        dump["recovery_queue"].as_array().map(Vec::len).unwrap_or(0)
    };
    assert_eq!(queued(&sim), 1);
    assert!(c.purge_recovery_queue("svm1", "ONTAP01_OLD").unwrap());
    assert_eq!(queued(&sim), 0);
}

#[test]
fn the_purge_takes_only_the_exact_queue_entry_of_the_deleted_clone() {
    let sim = sim(json!({ "version": "9.11.1" }));
    let c = client(&sim);
    let make = |name: &str| {
        c.create_flexclone(&NewFlexClone {
            name: name.into(),
            svm_name: "svm1".into(),
            parent_volume: "ONTAP01".into(),
            parent_snapshot: OLD_SNAPSHOT.into(),
            nas_path: format!("/{name}"),
            export_policy: None,
        })
        .unwrap()
    };
    let remove = |v: &Volume| {
        c.unmount_volume(&v.uuid).unwrap();
        c.delete_volume(&v.uuid, false).unwrap();
    };
    // Neighbours whose queued names start with the name being purged.
    for name in ["X_clone_10", "X_clone_1_2", "X_clone_1x"] {
        remove(&make(name));
    }
    let one = make("X_clone_1");
    remove(&one);
    let queue = |sim: &Sim| -> Vec<String> {
        let dump = sim.shared().world.lock().unwrap().ontap.dump();
        let mut names: Vec<String> = dump["recovery_queue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let before = queue(&sim);
    assert_eq!(before.len(), 4, "{before:?}");
    let mine: Vec<&String> = before
        .iter()
        .filter(|n| super::client::is_queued_entry_of(n, "X_clone_1"))
        .collect();
    assert_eq!(mine.len(), 1, "{before:?}");
    let mine = mine[0].clone();
    sim.clear_requests();
    assert!(c.purge_recovery_queue("svm1", "X_clone_1").unwrap());
    let after = queue(&sim);
    let expected: Vec<String> = before.iter().filter(|n| **n != mine).cloned().collect();
    assert_eq!(after, expected);
    for neighbour in ["X_clone_10_", "X_clone_1_2_", "X_clone_1x_"] {
        assert!(after.iter().any(|n| n.starts_with(neighbour)), "{after:?}");
    }
    let purges: Vec<String> = ontap_log(&sim)
        .iter()
        .filter(|r| r.path.ends_with("/recovery-queue/purge"))
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(purges, ["POST"]);
    // Nothing left of that name: nothing is purged, and that is no error.
    sim.clear_requests();
    assert!(c.purge_recovery_queue("svm1", "X_clone_1").unwrap());
    assert!(!ontap_log(&sim).iter().any(|r| r.path.ends_with("/purge")));
    assert_eq!(queue(&sim), expected);
}

#[test]
fn each_call_makes_the_fewest_requests() {
    let sim = sim(json!({ "version": "9.11.1" }));
    let c = client(&sim);
    let count = |f: &dyn Fn()| {
        sim.clear_requests();
        f();
        ontap_log(&sim).len()
    };
    let v = ontap01(&c);
    let name = "proxmox_snapshot_2026-11-04_00:00:00+0000";
    let mut table = Vec::new();
    let mut row = |call: &str, n: usize, expected: usize| {
        table.push(format!("{call}: {n}"));
        assert_eq!(n, expected, "{call}");
    };
    row(
        "version",
        count(&|| {
            c.version().unwrap();
        }),
        1,
    );
    row(
        "svm_by_lif",
        count(&|| {
            c.svm_by_lif("127.0.10.1").unwrap();
        }),
        1,
    );
    row(
        "volumes",
        count(&|| {
            c.volumes(&[("name", "ONTAP01")]).unwrap();
        }),
        1,
    );
    row(
        "volume",
        count(&|| {
            c.volume(&v.uuid).unwrap();
        }),
        1,
    );
    row(
        "snapshots",
        count(&|| {
            c.snapshots(&v.uuid).unwrap();
        }),
        1,
    );
    row(
        "snapshot",
        count(&|| {
            c.snapshot(&v.uuid, OLD_SNAPSHOT).unwrap();
        }),
        1,
    );
    row(
        "create_snapshot",
        count(&|| {
            c.create_snapshot(&v.uuid, &new_snapshot(name)).unwrap();
        }),
        1,
    );
    row(
        "list_dir",
        count(&|| {
            c.list_dir(&v.uuid, "images/100").unwrap();
        }),
        1,
    );
    row(
        "clone_file",
        count(&|| {
            c.clone_file(
                &v,
                "images/100/vm-100-disk-1.raw",
                "images/100/c.raw",
                false,
            )
            .unwrap()
        }),
        1,
    );
    row(
        "delete_file",
        count(&|| c.delete_file(&v.uuid, "images/100/c.raw").unwrap()),
        1,
    );
    let clone = std::cell::RefCell::new(None);
    let new_clone = |policy: Option<&str>, n: &str| NewFlexClone {
        name: n.into(),
        svm_name: "svm1".into(),
        parent_volume: "ONTAP01".into(),
        parent_snapshot: name.into(),
        nas_path: format!("/{n}"),
        export_policy: policy.map(str::to_string),
    };
    row(
        "create_flexclone",
        count(&|| {
            *clone.borrow_mut() = Some(c.create_flexclone(&new_clone(None, "C1")).unwrap());
        }),
        2,
    );
    let uuid = clone.borrow().as_ref().unwrap().uuid.clone();
    row(
        "set_export_policy",
        count(&|| c.set_export_policy(&uuid, "default").unwrap()),
        1,
    );
    row(
        "unmount_volume",
        count(&|| c.unmount_volume(&uuid).unwrap()),
        1,
    );
    row(
        "delete_volume",
        count(&|| c.delete_volume(&uuid, false).unwrap()),
        1,
    );
    row(
        "purge_recovery_queue (1 entry)",
        count(&|| {
            c.purge_recovery_queue("svm1", "C1").unwrap();
        }),
        2,
    );
    row(
        "create_flexclone + export policy",
        count(&|| {
            c.create_flexclone(&new_clone(Some("pve_hosts"), "C2"))
                .unwrap();
        }),
        3,
    );
    row(
        "restore_volume",
        count(&|| c.restore_volume(&v.uuid, name).unwrap()),
        1,
    );
    let s = c.create_snapshot(&v.uuid, &new_snapshot("x")).unwrap();
    row(
        "delete_snapshot",
        count(&|| c.delete_snapshot(&v.uuid, &s.uuid).unwrap()),
        1,
    );
    eprintln!("ONTAP requests per call:\n  {}", table.join("\n  "));
}

/// Six tool snapshots on ONTAP01 (the fourth locked by an expiry a year ahead when `locked`);
/// their names, oldest first.
fn six_snapshots(c: &OntapClient, v: &Volume, locked: bool) -> Vec<String> {
    (0..6)
        .map(|i| {
            let name = format!("proxmox_snapshot_2026-11-05_0{i}:00:00+0000");
            let mut spec = new_snapshot(&name);
            if locked && i == 3 {
                spec.expiry_time = Some("2099-01-01T00:00:00Z".into());
            }
            c.create_snapshot(&v.uuid, &spec).unwrap();
            name
        })
        .collect()
}

fn batch(c: &OntapClient, v: &Volume, names: &[String]) -> SnapshotBatch {
    let all = c.snapshots(&v.uuid).unwrap();
    SnapshotBatch {
        names: names.to_vec(),
        all_names: all.iter().map(|s| s.name.clone()).collect(),
        newest_create_time: all
            .iter()
            .filter(|s| names.contains(&s.name))
            .map(|s| s.create_time.clone())
            .max()
            .unwrap(),
        min_prefix: "proxmox_snapshot_".len(),
    }
}

#[test]
fn many_snapshots_go_in_one_query_based_delete() {
    let sim = sim(json!({}));
    let c = client(&sim);
    let v = ontap01(&c);
    let names = six_snapshots(&c, &v, false);
    let b = batch(&c, &v, &names[..4]);
    sim.clear_requests();
    let done = c.delete_snapshots(&v.uuid, &b).unwrap().unwrap();
    assert_eq!(done.deleted, names[..4]);
    assert!(done.failed.is_empty());
    // The release, then one DELETE on the collection (answered when its job ended).
    let log = ontap_log(&sim);
    assert_eq!(log.len(), 2, "{:?}", calls(&sim));
    assert_eq!((log[1].method.as_str(), log[1].status), ("DELETE", 200));
    assert!(log[1].path.ends_with("/snapshots"), "{}", log[1].path);
    assert!(
        log[1].query.contains("continue_on_failure=true"),
        "{}",
        log[1].query
    );
    let left: Vec<String> = c
        .snapshots(&v.uuid)
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert!(left.contains(&names[4]) && left.contains(&names[5]));
    assert!(names[..4].iter().all(|n| !left.contains(n)));
}

#[test]
fn a_refused_snapshot_is_reported_by_name_and_the_others_go() {
    let sim = sim(json!({}));
    let c = client(&sim);
    let v = ontap01(&c);
    let names = six_snapshots(&c, &v, true);
    let done = c
        .delete_snapshots(&v.uuid, &batch(&c, &v, &names[..5]))
        .unwrap()
        .unwrap();
    let deleted: Vec<&String> = names[..5].iter().filter(|n| **n != names[3]).collect();
    assert_eq!(done.deleted.iter().collect::<Vec<_>>(), deleted);
    assert_eq!(done.failed.len(), 1);
    assert_eq!(done.failed[0].0, names[3]);
    assert!(
        done.failed[0].1.contains("has not expired"),
        "{:?}",
        done.failed
    );
}

#[test]
fn before_9_11_the_caller_deletes_one_by_one() {
    let sim = sim(json!({ "version": "9.10.1" }));
    let c = client(&sim);
    let v = ontap01(&c);
    let names = six_snapshots(&c, &v, false);
    let b = batch(&c, &v, &names[..3]);
    sim.clear_requests();
    assert!(c.delete_snapshots(&v.uuid, &b).unwrap().is_none());
    assert!(ontap_log(&sim).iter().all(|r| r.method == "GET"));
    assert_eq!(c.snapshots(&v.uuid).unwrap().len(), 8);
}

#[test]
fn a_refused_query_delete_leaves_it_to_single_deletes() {
    let sim = sim(json!({}));
    let c = client(&sim);
    let v = ontap01(&c);
    let names = six_snapshots(&c, &v, false);
    let b = batch(&c, &v, &names[..3]);
    sim.add_fault(FaultRule::new("DELETE", "/api/storage/volumes/*/snapshots").status(400));
    assert!(c.delete_snapshots(&v.uuid, &b).unwrap().is_none());
    assert_eq!(c.snapshots(&v.uuid).unwrap().len(), 8);
}
