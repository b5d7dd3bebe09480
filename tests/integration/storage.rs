//! The storage commands end to end: the real binary against the simulator in text and JSON, the
//! simulator's state afterwards, every bad input of the storage commands, the requests each makes.

use pve_ontap_sim::pve::RunStatus;
use serde_json::Value;

use crate::util::{Api, FaultRule, Output, SimOptions, TestEnv};

const OLD_SNAPSHOT: &str = "proxmox_snapshot_2024-03-13_14:42:47+0000";
const ONTAP_SNAPSHOT: &str = "hourly.2026-11-01_0105";

// ---- reading the simulated world ----

fn snapshot_names(env: &TestEnv, volume: &str) -> Vec<String> {
    env.world(|w| {
        w.ontap
            .volumes
            .iter()
            .find(|v| v.name == volume)
            .map(|v| v.snapshots.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default()
    })
}

fn volume_names(env: &TestEnv) -> Vec<String> {
    env.world(|w| w.ontap.volumes.iter().map(|v| v.name.clone()).collect())
}

fn storage_ids(env: &TestEnv) -> Vec<String> {
    env.world(|w| w.pve.storages.iter().map(|s| s.id.clone()).collect())
}

/// A Proxmox storage option as a string (`server`, `export`, `options`, ...).
fn storage_option(env: &TestEnv, id: &str, key: &str) -> Option<String> {
    env.world(|w| {
        w.pve
            .storages
            .iter()
            .find(|s| s.id == id)
            .and_then(|s| s.options.get(key))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
    })
}

fn set_run(env: &TestEnv, vmids: &[u32], run: RunStatus) {
    env.world_mut(|w| {
        for vmid in vmids {
            let g = w.pve.guests.get_mut(vmid).expect("guest in the scenario");
            g.run = run;
        }
    })
}

/// Stop every guest with a disk on ONTAP01 (100, 101, 104 and the container 200).
fn stop_ontap01_guests(env: &TestEnv) {
    set_run(env, &[100, 101, 104, 200], RunStatus::Stopped);
}

/// Give volume `volume` extra snapshots (copies of its first one) with these names, labels and
/// ages in days, oldest first as ONTAP keeps them.
fn add_snapshots(env: &TestEnv, volume: &str, specs: &[(&str, Option<&str>, i64)]) {
    env.world_mut(|w| {
        let now = w.ontap.now();
        let v = w
            .ontap
            .volumes
            .iter_mut()
            .find(|v| v.name == volume)
            .expect("volume in the scenario");
        let template = v.snapshots[0].clone();
        for (i, (name, label, days)) in specs.iter().enumerate() {
            let mut s = template.clone();
            s.name = name.to_string();
            s.uuid = format!("00000000-0000-4000-8000-{:012}", i + 1);
            s.comment = None;
            s.snapmirror_label = label.map(str::to_string);
            s.create_time = now - time::Duration::days(*days);
            v.snapshots.push(s);
        }
        v.snapshots.sort_by_key(|s| s.create_time);
    })
}

fn tool_name(days_ago: i64) -> String {
    let at = time::OffsetDateTime::now_utc() - time::Duration::days(days_ago);
    pve_ontap_snapshot::model::names::storage_snapshot_name(at)
}

#[track_caller]
fn assert_fails(out: &Output, code: i32, needles: &[&str]) {
    out.assert_code(code);
    for n in needles {
        assert!(
            out.stderr.contains(n),
            "stderr lacks {n:?}\n--- stderr\n{}",
            out.stderr
        );
    }
}

/// Requests since the last clear, as `API METHOD path` lines (query left out).
fn request_lines(env: &TestEnv) -> Vec<String> {
    env.requests()
        .iter()
        .map(|e| {
            let api = match e.api {
                Api::Ontap => "ontap",
                Api::Pve => "pve",
            };
            format!("{api} {} {}", e.method, e.path)
        })
        .collect()
}

// ---- create ----

#[test]
fn create_takes_one_snapshot_with_label_and_expiry_text_and_json() {
    let env = TestEnv::new();
    let out = env.run(&[
        "storage",
        "create",
        "--storage",
        "ONTAP01",
        "--label",
        "daily",
        "--expiry",
        "7d",
    ]);
    out.assert_ok();
    let names = snapshot_names(&env, "ONTAP01");
    assert_eq!(names.len(), 3, "{names:?}");
    let new = names.last().unwrap().clone();
    assert!(new.starts_with("proxmox_snapshot_"), "{new}");
    assert!(out.stdout.contains(&new), "{}", out.stdout);
    let (label, comment, expiry, created) = env.world(|w| {
        let v = w
            .ontap
            .volumes
            .iter()
            .find(|v| v.name == "ONTAP01")
            .unwrap();
        let s = v.snapshot_by_name(&new).unwrap();
        (
            s.snapmirror_label.clone(),
            s.comment.clone(),
            s.expiry_time,
            s.create_time,
        )
    });
    assert_eq!(label.as_deref(), Some("daily"));
    assert_eq!(
        comment.as_deref(),
        Some("pve-ontap-snapshot: storage ONTAP01")
    );
    let expiry = expiry.expect("expiry_time set");
    let week = time::Duration::days(7);
    assert!(
        expiry > created + week - time::Duration::minutes(1)
            && expiry < created + week + time::Duration::minutes(1),
        "expiry {expiry} vs created {created}"
    );

    // JSON, on the ONTAP02 storage (whose export is not its volume's name).
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "create",
        "--storage",
        "ONTAP02",
    ]);
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["storage"], "ONTAP02");
    assert_eq!(j["volume"], "pve_vmstore2");
    assert_eq!(j["managed"], true);
    let name = j["name"].as_str().unwrap().to_string();
    assert_eq!(snapshot_names(&env, "pve_vmstore2"), [name]);
    assert!(
        snapshot_names(&env, "vmstore2").is_empty(),
        "svm2's vmstore2 must not be touched"
    );
}

#[test]
fn create_makes_no_redundant_request() {
    let env = TestEnv::new();
    env.clear_requests();
    // The snapshot alone; recording the guests' configurations is counted in recover.rs.
    env.run(&["storage", "create", "--storage", "ONTAP01", "--no-configs"])
        .assert_ok();
    let lines = request_lines(&env);
    println!("storage create requests:\n{}", lines.join("\n"));
    // Proxmox: login and the storage definition; ONTAP: the LIF, the volume and the POST, whose
    // answer carries the new record (return_records). Jobs answer within return_timeout.
    assert_eq!(env.count_requests("GET", "/api2/json/storage/ONTAP01"), 1);
    assert_eq!(env.count_requests("GET", "/api/network/ip/interfaces"), 1);
    assert_eq!(env.count_requests("GET", "/api/storage/volumes"), 1);
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        1
    );
    assert_eq!(
        env.count_requests("GET", "/api/storage/volumes/*/snapshots"),
        0
    );
    assert_eq!(env.count_requests("*", "/api/cluster*"), 0, "{lines:?}");
    assert_eq!(
        env.count_requests("*", "/api2/json/cluster/*"),
        0,
        "{lines:?}"
    );
    assert!(env.count_api_requests(Api::Pve) <= 2, "{lines:?}");
    assert_eq!(env.count_api_requests(Api::Ontap), 3, "{lines:?}");
}

#[test]
fn create_at_the_limit_of_1023_snapshots_says_so() {
    let env = TestEnv::new();
    let specs: Vec<(String, Option<&str>, i64)> = (0..1021)
        .map(|i| (format!("filler.{i:04}"), None, 400 - (i as i64) / 4))
        .collect();
    let specs: Vec<(&str, Option<&str>, i64)> =
        specs.iter().map(|(n, l, d)| (n.as_str(), *l, *d)).collect();
    add_snapshots(&env, "ONTAP01", &specs);
    assert_eq!(snapshot_names(&env, "ONTAP01").len(), 1023);
    let out = env.run(&["storage", "create", "--storage", "ONTAP01"]);
    assert_fails(
        &out,
        1,
        &["limit of 1023 snapshots", "storage prune --storage ONTAP01"],
    );
    assert_eq!(snapshot_names(&env, "ONTAP01").len(), 1023);
}

#[test]
fn create_reports_a_failed_ontap_job() {
    let env = TestEnv::new();
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes/*/snapshots")
            .api(Api::Ontap)
            .fail_job(
                524479,
                "Volume is not online or does not have enough space.",
            ),
    );
    let out = env.run(&["storage", "create", "--storage", "ONTAP01"]);
    assert_fails(
        &out,
        1,
        &[
            "create snapshot 'proxmox_snapshot_",
            "volume 'ONTAP01' for storage 'ONTAP01'",
            "524479",
            "does not have enough space",
        ],
    );
    assert_eq!(
        snapshot_names(&env, "ONTAP01"),
        [OLD_SNAPSHOT, ONTAP_SNAPSHOT]
    );
}

#[test]
fn create_with_freeze_thaws_every_guest_and_skips_guests_without_agent() {
    let env = TestEnv::new();
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "create",
        "--storage",
        "ONTAP01",
        "--freeze",
    ]);
    out.assert_ok();
    let notes = out.json()["notes"].to_string();
    assert!(notes.contains("101 (db01) has no guest agent"), "{notes}");
    assert!(
        notes.contains("104 (noagent01) could not be frozen"),
        "{notes}"
    );
    assert!(
        notes.contains("guests 100 (web01) were fs-frozen"),
        "{notes}"
    );
    assert_eq!(snapshot_names(&env, "ONTAP01").len(), 3);
    // Guest 100 was frozen and thawed; nothing stays frozen.
    assert_eq!(
        env.count_requests(
            "POST",
            "/api2/json/nodes/pve1/qemu/100/agent/fsfreeze-freeze"
        ),
        1
    );
    // The snapshot was taken between freeze and thaw.
    let seq = |pattern: &str| {
        env.requests_matching(None, "POST", pattern)
            .first()
            .map(|e| e.seq)
            .unwrap_or_else(|| panic!("no POST {pattern}"))
    };
    let freeze = seq("*/qemu/100/agent/fsfreeze-freeze");
    let snapshot = seq("/api/storage/volumes/*/snapshots");
    let thaw = seq("*/qemu/100/agent/fsfreeze-thaw");
    assert!(
        freeze < snapshot && snapshot < thaw,
        "{freeze} {snapshot} {thaw}"
    );
    env.world(|w| {
        for g in w.pve.guests.values() {
            assert!(!g.agent.frozen, "guest {} left frozen", g.vmid);
        }
    });
}

// ---- list / show ----

#[test]
fn list_shows_the_tools_snapshots_and_all_with_all_text_and_json() {
    let env = TestEnv::new();
    let out = env.run(&["storage", "list", "--storage", "ONTAP01"]);
    out.assert_ok();
    assert!(out.stdout.contains(OLD_SNAPSHOT), "{}", out.stdout);
    assert!(!out.stdout.contains(ONTAP_SNAPSHOT), "{}", out.stdout);

    let out = env.run(&["storage", "list", "--storage", "ONTAP01", "--all"]);
    out.assert_ok();
    assert!(out.stdout.contains(ONTAP_SNAPSHOT), "{}", out.stdout);

    env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "list",
        "--storage",
        "ONTAP01",
        "--all",
    ]);
    out.assert_ok();
    let rows = out.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], OLD_SNAPSHOT);
    assert_eq!(rows[0]["managed"], true);
    assert_eq!(rows[1]["name"], ONTAP_SNAPSHOT);
    assert_eq!(rows[1]["managed"], false);
    let clones = rows[0]["clones"].as_array().unwrap();
    assert_eq!(clones.len(), 1);
    assert!(clones[0].as_str().unwrap().starts_with("ONTAP01_clone_"));
    assert_eq!(rows[1]["clones"].as_array().unwrap().len(), 0);
}

#[test]
fn show_reports_the_backing_volume_text_and_json() {
    let env = TestEnv::new();
    let out = env.run(&["storage", "show", "--storage", "ONTAP02"]);
    out.assert_ok();
    for needle in ["pve_vmstore2", "svm1", "/vmstore2", "pve_hosts"] {
        assert!(out.stdout.contains(needle), "{needle}\n{}", out.stdout);
    }
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "show",
        "--storage",
        "ONTAP03",
    ]);
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["volume"]["name"], "pve_nested");
    assert_eq!(j["volume"]["svm_name"], "svm1");
    assert_eq!(j["volume"]["nas_path"], "/nested");
    assert_eq!(j["prefix"], "pve");
    assert_eq!(j["export"], "/nested/pve");
    assert_eq!(j["volume"]["is_flexclone"], false);
}

// ---- delete ----

#[test]
fn delete_removes_the_snapshot_text_and_json() {
    let env = TestEnv::new();
    let out = env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ]);
    out.assert_ok();
    assert!(out.stdout.contains(OLD_SNAPSHOT), "{}", out.stdout);
    assert_eq!(snapshot_names(&env, "ONTAP01"), [ONTAP_SNAPSHOT]);

    // ONTAP's own snapshots can be deleted by name too (JSON this time).
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        ONTAP_SNAPSHOT,
    ]);
    out.assert_ok();
    assert_eq!(out.json()["name"], ONTAP_SNAPSHOT);
    assert!(snapshot_names(&env, "ONTAP01").is_empty());
}

#[test]
fn delete_of_an_unknown_snapshot_names_storage_and_snapshot() {
    let env = TestEnv::new();
    let out = env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        "proxmox_snapshot_2000-01-01_00:00:00+0000",
    ]);
    assert_fails(
        &out,
        1,
        &[
            "snapshot 'proxmox_snapshot_2000-01-01_00:00:00+0000' of storage 'ONTAP01'",
            "not found",
        ],
    );
    assert_eq!(env.count_requests("DELETE", "*"), 0);
}

#[test]
fn bad_snapshot_names_are_usage_errors_and_send_nothing() {
    let env = TestEnv::new();
    env.clear_requests();
    for verb in ["delete", "mount", "restore"] {
        let out = env.run(&[
            "storage",
            verb,
            "--storage",
            "ONTAP01",
            "--snapshot",
            "x;rm -rf",
            "--yes",
        ]);
        // `mount` and `delete` have no --yes: clap rejects it first, also with exit 2.
        out.assert_code(2);
    }
    for verb in ["delete", "mount"] {
        let out = env.run(&[
            "storage",
            verb,
            "--storage",
            "ONTAP01",
            "--snapshot",
            "a/b*c",
        ]);
        assert_fails(&out, 2, &["snapshot name"]);
    }
    assert_eq!(env.requests().len(), 0, "{:?}", request_lines(&env));
    assert_eq!(snapshot_names(&env, "ONTAP01").len(), 2);
}

#[test]
fn delete_is_refused_while_a_clone_depends_on_the_snapshot() {
    let env = TestEnv::new();
    env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
    let out = env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ]);
    assert_fails(
        &out,
        1,
        &[
            "is the parent of FlexClone volume(s) 'ONTAP01_clone_",
            "Proxmox storage 'ONTAP01-CLONE'",
            "storage unmount --storage ONTAP01-CLONE",
        ],
    );
    assert_eq!(
        snapshot_names(&env, "ONTAP01"),
        [OLD_SNAPSHOT, ONTAP_SNAPSHOT]
    );
    assert_eq!(env.count_requests("DELETE", "*"), 0);
}

// ---- restore ----

#[test]
fn restore_without_yes_and_no_terminal_changes_nothing() {
    let env = TestEnv::new();
    stop_ontap01_guests(&env);
    env.clear_requests();
    let out = env.run(&[
        "storage",
        "restore",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ]);
    assert_fails(&out, 1, &["--yes", "nothing was changed"]);
    assert_eq!(env.requests().len(), 0, "{:?}", request_lines(&env));
}

#[test]
fn restore_is_refused_while_guests_on_the_storage_run() {
    let env = TestEnv::new();
    let out = env.run(&[
        "storage",
        "restore",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
        "--yes",
    ]);
    assert_fails(
        &out,
        1,
        &[
            "100 (web01)",
            "101 (db01)",
            "104 (noagent01)",
            "200 (ct01)",
            "--force",
        ],
    );
    assert!(!out.stderr.contains("103"), "{}", out.stderr);
    assert_eq!(
        snapshot_names(&env, "ONTAP01"),
        [OLD_SNAPSHOT, ONTAP_SNAPSHOT]
    );
    assert_eq!(env.count_requests("PATCH", "*"), 0);
}

#[test]
fn restore_reverts_the_volume_and_reports_the_snapshots_it_discarded() {
    let env = TestEnv::new();
    stop_ontap01_guests(&env);
    // A write after the snapshot: the restore must undo it.
    let gen = |env: &TestEnv| {
        env.world(|w| {
            let v = w
                .ontap
                .volumes
                .iter()
                .find(|v| v.name == "ONTAP01")
                .unwrap();
            format!("{:?}", v.tree)
        })
    };
    let before = gen(&env);
    let (status, _) = env.call(Api::Pve, "POST", "/_sim/guests/100/write", Some("{}"));
    assert!(status < 300, "guest write: {status}");
    assert_ne!(gen(&env), before, "the write changed the volume");

    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "restore",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
        "--yes",
    ]);
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["snapshot"], OLD_SNAPSHOT);
    assert!(j.get("safety_snapshot").is_none(), "{j}");
    assert_eq!(gen(&env), before, "the volume is back at the snapshot");
    // ONTAP discards every snapshot newer than the restored one; the report names them, and
    // they are exactly the ones gone.
    assert_eq!(
        j["discarded_snapshots"],
        serde_json::json!([ONTAP_SNAPSHOT]),
        "{j}"
    );
    assert_eq!(snapshot_names(&env, "ONTAP01"), [OLD_SNAPSHOT]);
    assert!(
        out.stderr
            .contains(&format!("discards 1 newer snapshot: {ONTAP_SNAPSHOT}")),
        "the loss is logged before the restore: {}",
        out.stderr
    );
    // No snapshot is taken: the restore is the only change.
    let posts = env.requests_matching(Some(Api::Ontap), "POST", "*");
    let patch = env.requests_matching(Some(Api::Ontap), "PATCH", "/api/storage/volumes/*");
    assert_eq!((posts.len(), patch.len()), (0, 1));
    assert!(
        patch[0].query.contains("restore_to.snapshot.name"),
        "{}",
        patch[0].query
    );
}

#[test]
fn restore_text_names_every_discarded_snapshot() {
    let env = TestEnv::new();
    stop_ontap01_guests(&env);
    let newer = tool_name(2);
    let newest = tool_name(1);
    add_snapshots(
        &env,
        "ONTAP01",
        &[
            (newer.as_str(), Some("daily"), 2),
            (newest.as_str(), None, 1),
        ],
    );
    // Oldest first, as ONTAP keeps them: everything after the 2024 snapshot is newer.
    let newer_ones = snapshot_names(&env, "ONTAP01")[1..].to_vec();
    assert_eq!(newer_ones.len(), 3);
    for name in [ONTAP_SNAPSHOT, newer.as_str(), newest.as_str()] {
        assert!(newer_ones.iter().any(|n| n == name), "{newer_ones:?}");
    }
    let out = env.run(&[
        "storage",
        "restore",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
        "--yes",
    ]);
    out.assert_ok();
    assert_eq!(
        out.stdout,
        format!(
            "restored storage ONTAP01 (volume ONTAP01) to snapshot {OLD_SNAPSHOT}\n\
             discarded: 3 newer snapshots: {}\n",
            newer_ones.join(", ")
        )
    );
    assert_eq!(snapshot_names(&env, "ONTAP01"), [OLD_SNAPSHOT]);
}

#[test]
fn restore_with_force_text() {
    let env = TestEnv::new();
    let out = env.run(&[
        "storage",
        "restore",
        "--storage",
        "ONTAP01",
        "--snapshot",
        ONTAP_SNAPSHOT,
        "--yes",
        "--force",
    ]);
    out.assert_ok();
    assert!(out.stdout.contains(ONTAP_SNAPSHOT), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("\ndiscarded:      no other snapshot\nrunning guests: 100 (web01), "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("\nnote: restoring under running guests"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("100 (web01)"),
        "the forced restore is logged: {}",
        out.stderr
    );
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        0
    );
    assert_eq!(
        snapshot_names(&env, "ONTAP01"),
        [OLD_SNAPSHOT, ONTAP_SNAPSHOT]
    );
}

// ---- mount / unmount ----

#[test]
fn mount_and_unmount_a_snapshot_text() {
    let env = TestEnv::new();
    let out = env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ]);
    out.assert_ok();
    assert!(out.stdout.contains("ONTAP01-CLONE"), "{}", out.stdout);
    let clone = volume_names(&env)
        .into_iter()
        .find(|n| n.starts_with("ONTAP01_clone_"))
        .expect("clone volume");
    let (junction, policy, parent) = env.world(|w| {
        let v = w.ontap.volumes.iter().find(|v| v.name == clone).unwrap();
        (
            v.junction.clone(),
            v.export_policy.clone(),
            v.clone.as_ref().map(|c| c.snapshot_name.clone()),
        )
    });
    assert_eq!(junction.as_deref(), Some(format!("/{clone}").as_str()));
    assert_eq!(policy, "pve_hosts");
    assert_eq!(parent.as_deref(), Some(OLD_SNAPSHOT));
    assert_eq!(
        storage_option(&env, "ONTAP01-CLONE", "export").as_deref(),
        Some(format!("/{clone}").as_str())
    );
    assert_eq!(
        storage_option(&env, "ONTAP01-CLONE", "server").as_deref(),
        Some("127.0.10.1")
    );
    assert_eq!(
        storage_option(&env, "ONTAP01-CLONE", "options").as_deref(),
        Some("vers=4.2,nconnect=16")
    );
    assert_eq!(
        storage_option(&env, "ONTAP01-CLONE", "content").as_deref(),
        Some("images,rootdir")
    );

    let out = env.run(&["storage", "unmount", "--storage", "ONTAP01-CLONE"]);
    out.assert_ok();
    assert!(out.stdout.contains(&clone), "{}", out.stdout);
    assert!(
        out.stderr.contains("umount /mnt/pve/ONTAP01-CLONE"),
        "{}",
        out.stderr
    );
    assert!(!storage_ids(&env).contains(&"ONTAP01-CLONE".to_string()));
    assert!(!volume_names(&env).contains(&clone));
    // 9.14: deleted with force, nothing waits in the recovery queue.
    env.world(|w| assert!(w.ontap.recovery_queue.is_empty()));
    assert_eq!(env.count_requests("DELETE", "/api/storage/volumes/*"), 1);
    let delete = env.requests_matching(Some(Api::Ontap), "DELETE", "/api/storage/volumes/*");
    assert!(
        delete[0].query.contains("force=true"),
        "{}",
        delete[0].query
    );
    // The parent snapshot stays and is free again.
    assert_eq!(
        snapshot_names(&env, "ONTAP01"),
        [OLD_SNAPSHOT, ONTAP_SNAPSHOT]
    );
    env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
}

#[test]
fn mount_copies_every_option_of_the_parent_that_applies_to_the_clone() {
    let env = TestEnv::new();
    let parent: Vec<(&str, serde_json::Value)> = vec![
        ("content-dirs", "images=img".into()),
        ("prune-backups", "keep-last=3".into()),
        ("max-protected-backups", 5.into()),
        ("preallocation", "metadata".into()),
        ("format", "qcow2".into()),
        ("create-subdirs", 0.into()),
        ("bwlimit", "restore=1024".into()),
        ("nodes", "pve1,pve2".into()),
    ];
    env.world_mut(|w| {
        let s = w
            .pve
            .storages
            .iter_mut()
            .find(|s| s.id == "ONTAP01")
            .unwrap();
        for (k, v) in &parent {
            s.options.insert(k.to_string(), v.clone());
        }
    });
    env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
    for (key, _) in &parent {
        assert_eq!(
            storage_option(&env, "ONTAP01-CLONE", key),
            storage_option(&env, "ONTAP01", key),
            "{key}"
        );
        assert!(
            storage_option(&env, "ONTAP01-CLONE", key).is_some(),
            "{key}"
        );
    }
    // The clone's own location, never the parent's.
    assert_ne!(
        storage_option(&env, "ONTAP01-CLONE", "export"),
        storage_option(&env, "ONTAP01", "export")
    );
    assert_eq!(storage_option(&env, "ONTAP01-CLONE", "disable"), None);
}

#[test]
fn mount_below_a_junction_json_keeps_the_directory_and_resolves_back() {
    let env = TestEnv::new();
    env.run(&["storage", "create", "--storage", "ONTAP03"])
        .assert_ok();
    let snap = snapshot_names(&env, "pve_nested").pop().unwrap();
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "mount",
        "--storage",
        "ONTAP03",
        "--snapshot",
        &snap,
    ]);
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["storage"], "ONTAP03-CLONE");
    let clone = j["volume"].as_str().unwrap().to_string();
    assert_eq!(j["export"], format!("/{clone}/pve"));
    assert_eq!(
        storage_option(&env, "ONTAP03-CLONE", "export"),
        Some(format!("/{clone}/pve"))
    );
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "show",
        "--storage",
        "ONTAP03-CLONE",
    ]);
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["volume"]["name"], clone.as_str());
    assert_eq!(j["volume"]["is_flexclone"], true);
    assert_eq!(j["volume"]["parent_snapshot"], snap.as_str());
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "unmount",
        "--storage",
        "ONTAP03-CLONE",
    ]);
    out.assert_ok();
    assert_eq!(out.json()["parent_snapshot"], snap.as_str());
    assert!(!volume_names(&env).contains(&clone));
}

#[test]
fn mount_picks_a_unique_id_and_fails_on_a_taken_name() {
    let env = TestEnv::new();
    for expected in ["ONTAP01-CLONE", "ONTAP01-CLONE-2"] {
        let out = env.run(&[
            "--output",
            "json",
            "storage",
            "mount",
            "--storage",
            "ONTAP01",
            "--snapshot",
            OLD_SNAPSHOT,
        ]);
        out.assert_ok();
        assert_eq!(out.json()["storage"], expected);
    }
    let clones: Vec<String> = volume_names(&env)
        .into_iter()
        .filter(|n| n.starts_with("ONTAP01_clone_"))
        .collect();
    assert_eq!(clones.len(), 2, "{clones:?}");

    env.clear_requests();
    let volumes_before = volume_names(&env);
    for taken in ["ONTAP02", "ONTAP01-CLONE", "local"] {
        let out = env.run(&[
            "storage",
            "mount",
            "--storage",
            "ONTAP01",
            "--snapshot",
            OLD_SNAPSHOT,
            "--name",
            taken,
        ]);
        assert_fails(&out, 1, &[&format!("'{taken}' already exists")]);
    }
    assert_eq!(volume_names(&env), volumes_before);
    assert_eq!(
        env.count_requests("POST", "*"),
        env.count_requests("POST", "/api2/json/access/ticket")
    );

    let out = env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
        "--name",
        "ONTAP01-CLONE-7",
    ]);
    out.assert_ok();
    assert!(storage_ids(&env).contains(&"ONTAP01-CLONE-7".to_string()));
}

#[test]
fn mount_removes_the_clone_again_when_proxmox_refuses_the_storage() {
    let env = TestEnv::new();
    env.add_fault(
        FaultRule::new("POST", "/api2/json/storage")
            .api(Api::Pve)
            .status(500)
            .reason("mount error: mount.nfs: access denied by server"),
    );
    let volumes_before = volume_names(&env);
    let out = env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ]);
    assert_fails(
        &out,
        1,
        &[
            "add nfs storage 'ONTAP01-CLONE'",
            "deleted again, nothing is left",
        ],
    );
    assert_eq!(volume_names(&env), volumes_before);
    assert!(!storage_ids(&env).contains(&"ONTAP01-CLONE".to_string()));
    env.world(|w| assert!(w.ontap.recovery_queue.is_empty()));
}

#[test]
fn unmount_of_a_storage_that_is_not_a_clone_is_refused() {
    let env = TestEnv::new();
    let out = env.run(&["storage", "unmount", "--storage", "ONTAP01"]);
    assert_fails(
        &out,
        1,
        &["not a clone storage made by mount", "nothing was changed"],
    );
    assert!(storage_ids(&env).contains(&"ONTAP01".to_string()));
    assert!(volume_names(&env).contains(&"ONTAP01".to_string()));
    assert_eq!(env.count_requests("DELETE", "*"), 0);
    assert_eq!(env.count_requests("PATCH", "*"), 0);
}

#[test]
fn unmount_before_ontap_9_12_purges_the_recovery_queue() {
    let mut options = SimOptions::default();
    options.scenario.ontap.version = "9.11.1".into();
    let env = TestEnv::with_options(options);
    env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
    env.clear_requests();
    env.run(&["storage", "unmount", "--storage", "ONTAP01-CLONE"])
        .assert_ok();
    let delete = env.requests_matching(Some(Api::Ontap), "DELETE", "/api/storage/volumes/*");
    assert_eq!(delete.len(), 1);
    assert!(!delete[0].query.contains("force"), "{}", delete[0].query);
    env.world(|w| assert!(w.ontap.recovery_queue.is_empty(), "purged"));
    env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
}

// ---- prune ----

#[test]
fn prune_applies_retention_per_label_and_never_touches_other_snapshots() {
    let env = TestEnv::new();
    let d5 = tool_name(5);
    let d4 = tool_name(4);
    let h3 = tool_name(3);
    let d2 = tool_name(2);
    add_snapshots(
        &env,
        "ONTAP01",
        &[
            (&d5, Some("daily"), 5),
            (&d4, Some("daily"), 4),
            (&h3, Some("hourly"), 3),
            (&d2, Some("daily"), 2),
        ],
    );
    // Dry run first: nothing deleted.
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "prune",
        "--storage",
        "ONTAP01",
        "--keep-last",
        "1",
        "--dry-run",
    ]);
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["dry_run"], true);
    assert_eq!(j["deleted"], serde_json::json!([d5, d4]));
    assert_eq!(snapshot_names(&env, "ONTAP01").len(), 6);
    assert_eq!(env.count_requests("DELETE", "*"), 0);

    // Only the daily label, keeping what is younger than 3 days.
    let out = env.run(&[
        "storage",
        "prune",
        "--storage",
        "ONTAP01",
        "--label",
        "daily",
        "--keep-within",
        "3d",
    ]);
    out.assert_ok();
    let left = snapshot_names(&env, "ONTAP01");
    assert!(!left.contains(&d5) && !left.contains(&d4), "{left:?}");
    assert!(left.contains(&d2) && left.contains(&h3), "{left:?}");
    // The original tool's snapshot (no label, its own group) and ONTAP's own stay.
    assert!(left.contains(&OLD_SNAPSHOT.to_string()));
    assert!(left.contains(&ONTAP_SNAPSHOT.to_string()));
}

#[test]
fn prune_keeps_and_reports_a_snapshot_a_clone_depends_on() {
    let env = TestEnv::new();
    let newer = tool_name(1);
    add_snapshots(&env, "ONTAP01", &[(&newer, None, 1)]);
    env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "prune",
        "--storage",
        "ONTAP01",
        "--keep-last",
        "1",
    ]);
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["deleted"], serde_json::json!([]));
    assert_eq!(j["protected"][0]["name"], OLD_SNAPSHOT);
    assert!(j["protected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("ONTAP01_clone_"));
    assert!(snapshot_names(&env, "ONTAP01").contains(&OLD_SNAPSHOT.to_string()));
}

// ---- bad storages ----

#[test]
fn unknown_and_unsupported_storages_are_refused_clearly() {
    let env = TestEnv::new();
    let out = env.run(&["storage", "list", "--storage", "NOPE01"]);
    assert_fails(&out, 1, &["storage 'NOPE01'", "not found"]);
    for (id, t) in [("local", "dir"), ("local-lvm", "lvmthin")] {
        let out = env.run(&["storage", "create", "--storage", id]);
        out.assert_code(if out.code == 2 { 2 } else { 1 });
        assert!(out.code != 0);
        assert!(
            out.stderr.contains(&format!("type '{t}'")) || out.stderr.contains(&format!("[{id}]")),
            "{}",
            out.stderr
        );
    }
    let out = env.run(&["storage", "list", "--storage", "1bad"]);
    assert_fails(&out, 2, &["1bad"]);
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        0
    );
}

#[test]
fn non_nfs_storage_with_a_config_section_names_its_type() {
    let env = TestEnv::new();
    // Give `local` a section so the type check, not the missing section, answers.
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    let ontap01 = config
        .split("\n[")
        .find(|s| s.starts_with("ONTAP01]"))
        .unwrap()
        .replacen("ONTAP01]", "local]", 1);
    env.write_config(&format!("{config}\n[{ontap01}\n"));
    let out = env.run(&["storage", "create", "--storage", "local"]);
    assert_fails(&out, 1, &["type 'dir'", "only NFS storages"]);
    assert_eq!(env.count_api_requests(Api::Ontap), 0);
}

// ---- the original tool's command lines ----

#[test]
fn original_readme_examples_run_unchanged() {
    let env = TestEnv::new();
    let config = env.config_path().display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["-config", config.as_str(), "-loglevel", "info"];
        all.extend_from_slice(args);
        env.run_without_config(&all, &[])
    };
    run(&[
        "storage",
        "mount",
        "-storage",
        "ONTAP01",
        "-snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
    assert!(storage_ids(&env).contains(&"ONTAP01-CLONE".to_string()));
    run(&["storage", "unmount", "-storage", "ONTAP01-CLONE"]).assert_ok();
    assert!(!storage_ids(&env).contains(&"ONTAP01-CLONE".to_string()));
    let out = run(&["storage", "list", "-storage", "ONTAP01"]);
    out.assert_ok();
    assert!(out.stdout.contains(OLD_SNAPSHOT));
    run(&["storage", "create", "-storage", "ONTAP01"]).assert_ok();
    assert_eq!(snapshot_names(&env, "ONTAP01").len(), 3);
    run(&[
        "storage",
        "delete",
        "-storage",
        "ONTAP01",
        "-snapshot",
        OLD_SNAPSHOT,
    ])
    .assert_ok();
    assert!(!snapshot_names(&env, "ONTAP01").contains(&OLD_SNAPSHOT.to_string()));
    // The original restored without asking; this one needs --yes when no terminal is there.
    let out = run(&[
        "storage",
        "restore",
        "-storage",
        "ONTAP01",
        "-snapshot",
        ONTAP_SNAPSHOT,
    ]);
    assert_fails(&out, 1, &["--yes"]);
    assert_eq!(snapshot_names(&env, "ONTAP01").len(), 2);
    let out = run(&["storage", "show", "-storage", "ONTAP01"]);
    out.assert_ok();
    assert!(out.stdout.contains("ONTAP01"));
}

/// The requests of one run, as `api METHOD path` with uuids replaced by `{uuid}`.
fn requests_of(env: &TestEnv, args: &[&str]) -> Vec<String> {
    env.clear_requests();
    env.run(args).assert_ok();
    env.requests()
        .iter()
        .map(|e| {
            let api = match e.api {
                Api::Ontap => "ontap",
                Api::Pve => "pve",
            };
            let path: Vec<&str> = e
                .path
                .split('/')
                .map(|seg| {
                    let uuid = seg.len() == 36 && seg.bytes().filter(|&b| b == b'-').count() == 4;
                    if uuid {
                        "{uuid}"
                    } else {
                        seg
                    }
                })
                .collect();
            format!("{api} {} {}", e.method, path.join("/"))
        })
        .collect()
}

/// The request list of every storage command (the closing note of issue 3 quotes it): each one
/// is needed, none is repeated.
#[test]
fn requests_per_command_are_as_documented() {
    let env = TestEnv::new();
    let resolve = [
        "pve POST /api2/json/access/ticket",
        "pve GET /api2/json/storage/ONTAP01",
        "ontap GET /api/network/ip/interfaces",
        "ontap GET /api/storage/volumes",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        resolve
            .iter()
            .chain(extra.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let snapshots = "ontap GET /api/storage/volumes/{uuid}/snapshots";
    let clones = "ontap GET /api/storage/volumes";

    // The snapshot alone; recording the guests' configurations is listed in recover.rs.
    let got = requests_of(
        &env,
        &["storage", "create", "--storage", "ONTAP01", "--no-configs"],
    );
    assert_eq!(
        got,
        // The POST's answer carries the new record (return_records): no lookup by name.
        with(&["ontap POST /api/storage/volumes/{uuid}/snapshots"]),
        "create"
    );
    let got = requests_of(&env, &["storage", "list", "--storage", "ONTAP01"]);
    assert_eq!(got, with(&[snapshots, clones]), "list");
    let got = requests_of(&env, &["storage", "show", "--storage", "ONTAP01"]);
    assert_eq!(got, with(&[clones]), "show");
    let got = requests_of(
        &env,
        &[
            "storage",
            "mount",
            "--storage",
            "ONTAP01",
            "--snapshot",
            OLD_SNAPSHOT,
        ],
    );
    assert_eq!(
        got,
        with(&[
            snapshots,
            "pve GET /api2/json/storage",
            "ontap GET /api/storage/volumes",
            "ontap POST /api/storage/volumes",
            "ontap GET /api/storage/volumes/{uuid}",
            "ontap PATCH /api/storage/volumes/{uuid}",
            "pve POST /api2/json/storage",
        ]),
        "mount"
    );
    let got = requests_of(&env, &["storage", "unmount", "--storage", "ONTAP01-CLONE"]);
    let mut expected: Vec<String> = with(&[]);
    expected[1] = "pve GET /api2/json/storage/ONTAP01-CLONE".into();
    expected.push("pve GET /api2/json/cluster/resources".into());
    for cfg in [
        "pve1/qemu/100",
        "pve1/qemu/101",
        "pve2/qemu/102",
        "pve2/qemu/103",
        "pve1/qemu/104",
        "pve2/qemu/105",
        "pve2/lxc/200",
    ] {
        expected.push(format!("pve GET /api2/json/nodes/{cfg}/config"));
    }
    expected.extend(
        [
            "ontap GET /api/cluster",
            "pve DELETE /api2/json/storage/ONTAP01-CLONE",
            "ontap PATCH /api/storage/volumes/{uuid}",
            "ontap DELETE /api/storage/volumes/{uuid}",
        ]
        .map(String::from),
    );
    // The configs are read concurrently: their order varies, the set and the place do not.
    let mut got = got;
    got[5..12].sort();
    expected[5..12].sort();
    assert_eq!(got, expected, "unmount");
    let got = requests_of(
        &env,
        &[
            "storage",
            "delete",
            "--storage",
            "ONTAP01",
            "--snapshot",
            OLD_SNAPSHOT,
        ],
    );
    assert_eq!(
        got,
        with(&[
            snapshots,
            clones,
            "ontap DELETE /api/storage/volumes/{uuid}/snapshots/{uuid}",
        ]),
        "delete"
    );
    let got = requests_of(
        &env,
        &[
            "storage",
            "prune",
            "--storage",
            "ONTAP01",
            "--keep-last",
            "1",
        ],
    );
    // One tool snapshot is left (made by create above): nothing to delete, no clone query.
    assert_eq!(got, with(&[snapshots]), "prune");
    stop_ontap01_guests(&env);
    let got = requests_of(
        &env,
        &[
            "storage",
            "restore",
            "--storage",
            "ONTAP01",
            "--snapshot",
            ONTAP_SNAPSHOT,
            "--yes",
        ],
    );
    assert_eq!(
        got,
        with(&[
            snapshots,
            // Every Proxmox storage on the same volume counts for the guard.
            "pve GET /api2/json/storage",
            "pve GET /api2/json/cluster/resources",
            // Only the running guests' configs: 103 (on ONTAP02) is the one still running.
            "pve GET /api2/json/nodes/pve2/qemu/103/config",
            clones,
            "ontap PATCH /api/storage/volumes/{uuid}",
        ]),
        "restore"
    );
}

#[test]
fn a_failed_restore_job_leaves_the_volume_and_its_snapshots() {
    let env = TestEnv::new();
    stop_ontap01_guests(&env);
    env.add_fault(
        FaultRule::new("PATCH", "/api/storage/volumes/*")
            .api(Api::Ontap)
            .fail_job(524511, "Failed to restore snapshot"),
    );
    let out = env.run(&[
        "storage",
        "restore",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
        "--yes",
    ]);
    assert_fails(
        &out,
        1,
        &[
            &format!("restore snapshot '{OLD_SNAPSHOT}' on volume 'ONTAP01'"),
            "524511",
        ],
    );
    assert_eq!(
        snapshot_names(&env, "ONTAP01"),
        [OLD_SNAPSHOT, ONTAP_SNAPSHOT]
    );
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        0
    );
}

#[test]
fn a_failed_clone_job_leaves_nothing_behind() {
    let env = TestEnv::new();
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes")
            .api(Api::Ontap)
            .fail_job(13565952, "Clone start failed."),
    );
    let volumes_before = volume_names(&env);
    let out = env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD_SNAPSHOT,
    ]);
    assert_fails(
        &out,
        1,
        &["create FlexClone volume 'ONTAP01_clone_", "13565952"],
    );
    assert_eq!(volume_names(&env), volumes_before);
    assert!(!storage_ids(&env).contains(&"ONTAP01-CLONE".to_string()));
    assert_eq!(env.count_requests("POST", "/api2/json/storage"), 0);
}
