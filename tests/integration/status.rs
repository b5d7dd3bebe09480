//! Status and monitoring end to end: the outcome journal, `status` (text, JSON, Prometheus,
//! `--max-age`, `--offline`), the capacity guard, and tamperproof (locked) snapshots, with the real
//! binary against the simulator.

use std::time::Duration;

use pve_ontap_sim::Scenario;

use crate::util::{Api, FaultRule, SimOptions, TestEnv};

/// Where `TestEnv` points the tool's state directory (the journal lives there).
const JOURNAL: &str = "var/lib/pve-ontap-snapshot/journal.jsonl";

fn env_with_policy(policy: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write_config(&format!("{}\n{policy}\n", env.default_config()));
    env
}

fn journal(env: &TestEnv) -> Vec<serde_json::Value> {
    match std::fs::read_to_string(env.path(JOURNAL)) {
        Ok(text) => text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a journal line is JSON"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn snapshot_names(env: &TestEnv, volume: &str, label: &str) -> Vec<String> {
    env.with_volume(volume, |v| {
        v.snapshots
            .iter()
            .filter(|s| s.snapmirror_label == Some(label))
            .map(|s| s.name.to_string())
            .collect()
    })
}

/// Insert `keys` (lines) at the top of storage section `[storage]` of the config.
fn with_storage_keys(config: &str, storage: &str, keys: &str) -> String {
    let header = format!("[{storage}]\n");
    assert!(config.contains(&header), "{config}");
    config.replacen(&header, &format!("{header}{keys}\n"), 1)
}

const POLICY: &str = "
[schedule:hourly]
storages = ONTAP01
label = hourly
max-age = 2h

[hook:100]
post-stop = storage-snapshot
post-stop.label = poststop
";

fn fail_snapshot_creates(env: &TestEnv) {
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes/*/snapshots")
            .api(Api::Ontap)
            .status(500)
            .body(serde_json::json!({"error": {"message": "injected failure", "code": "524479"}})),
    );
}

#[test]
fn every_changing_run_is_journaled_and_read_only_runs_are_not() {
    let env = TestEnv::new();
    env.run(&[
        "storage",
        "create",
        "--storage",
        "ONTAP01",
        "--label",
        "daily",
    ])
    .assert_ok();
    env.run(&["storage", "list", "--storage", "ONTAP01"])
        .assert_ok();
    env.run(&["status"]).assert_ok();
    env.run(&["vm", "create", "--vm", "102"]).assert_ok();
    env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        "nosuch",
    ])
    .assert_code(1);
    let j = journal(&env);
    assert_eq!(j.len(), 3, "{j:#?}");
    let created = snapshot_names(&env, "ONTAP01", "daily");
    assert_eq!(j[0]["trigger"], "cli");
    assert_eq!(j[0]["source"], "storage create");
    assert_eq!(j[0]["action"], "storage-snapshot");
    assert_eq!(j[0]["storage"], "ONTAP01");
    assert_eq!(j[0]["label"], "daily");
    assert_eq!(j[0]["result"], "ok");
    assert_eq!(j[0]["snapshot"], created[0].as_str());
    assert!(j[0]["node"].as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(j[1]["action"], "vm-snapshot");
    assert_eq!(j[1]["vmid"], 102);
    assert_eq!(j[2]["source"], "storage delete");
    assert_eq!(j[2]["result"], "failed");
    assert!(
        j[2]["error"].as_str().unwrap().contains("nosuch"),
        "{}",
        j[2]
    );
}

#[test]
fn a_journal_that_cannot_be_written_never_fails_the_run() {
    let env = TestEnv::new();
    // A file where the state directory should be.
    std::fs::create_dir_all(env.path("var/lib")).unwrap();
    std::fs::write(env.path("var/lib/pve-ontap-snapshot"), "not a directory").unwrap();
    let out = env.run(&[
        "storage",
        "create",
        "--storage",
        "ONTAP01",
        "--label",
        "daily",
    ]);
    out.assert_ok();
    assert_eq!(snapshot_names(&env, "ONTAP01", "daily").len(), 1);
    assert!(
        out.stderr.contains("could not write the outcome journal"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failed_hook_shows_in_status_and_fails_the_max_age_check() {
    let env = env_with_policy(POLICY);
    env.run(&["run", "hourly"]).assert_ok();
    let ok = env.run(&["status", "--max-age", "hourly=2h"]);
    ok.assert_ok();
    assert!(ok.stdout.starts_with("OK: "), "{}", ok.stdout);

    fail_snapshot_creates(&env);
    // Hooks fail open: Proxmox goes on, the journal keeps the failure.
    env.run(&["hook", "100", "post-stop"]).assert_ok();
    let out = env.run(&["status", "--max-age", "hourly=2h"]);
    out.assert_code(1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        "PROBLEM: 1 problem (3 storages, 1 guest, 2 runs in the journal)"
    );
    assert!(
        lines[1].starts_with(
            "problem: hook post-stop guest 100 storage ONTAP01: storage-snapshot failed at "
        ),
        "{}",
        out.stdout
    );
    assert!(lines[1].contains("injected failure"), "{}", lines[1]);

    let json = env.run(&["--output", "json", "status"]);
    json.assert_code(1);
    let v = json.json();
    let hook = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["trigger"] == "hook")
        .expect("the hook run is listed");
    assert_eq!(hook["result"], "failed");
    assert_eq!(hook["vmid"], 100);
    let ontap01 = &v["storages"][0];
    assert_eq!(ontap01["storage"], "ONTAP01");
    let hourly = ontap01["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["label"] == "hourly")
        .unwrap();
    assert_eq!(
        hourly["newest"],
        snapshot_names(&env, "ONTAP01", "hourly")[0].as_str()
    );
    assert_eq!(
        hourly["max_age_seconds"], 7200,
        "the schedule's max-age applies"
    );

    // The next successful run of the same phase clears the problem.
    env.sim().clear_faults();
    env.run(&["hook", "100", "post-stop"]).assert_ok();
    env.run(&["status", "--max-age", "hourly=2h"]).assert_ok();
}

#[test]
fn stale_and_missing_labels_are_one_line_each() {
    let env = TestEnv::new();
    // ONTAP01 holds the original tool's snapshot of 2024 (no label).
    env.run(&[
        "storage",
        "create",
        "--storage",
        "ONTAP01",
        "--label",
        "daily",
    ])
    .assert_ok();
    std::thread::sleep(Duration::from_millis(2100));
    let out = env.run(&[
        "status",
        "--storage",
        "ONTAP01",
        "--max-age",
        "daily=1s,weekly=8d",
    ]);
    out.assert_code(1);
    let problems: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .collect();
    assert_eq!(problems.len(), 2, "{}", out.stdout);
    assert!(
        problems[0]
            .starts_with("problem: storage ONTAP01: newest 'daily' snapshot proxmox_snapshot_"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].ends_with("old (max-age 1s from --max-age)"),
        "{}",
        problems[0]
    );
    assert_eq!(
        problems[1],
        "problem: no 'weekly' snapshot on any storage or guest shown (max-age 8d0h from --max-age)"
    );
    let bad = env.run(&["status", "--max-age", "daily"]);
    bad.assert_code(2);
    assert!(
        bad.stderr
            .contains("--max-age: 'daily' is not LABEL=DURATION"),
        "{}",
        bad.stderr
    );
}

#[test]
fn status_reads_ontap_once_per_volume_and_offline_not_at_all() {
    let env = env_with_policy(POLICY);
    env.run(&["run", "hourly"]).assert_ok();
    env.clear_requests();
    env.run(&["status"]).assert_ok();
    // Per configured storage (3): its Proxmox definition, the LIF lookup, the volume (ONTAP03's
    // export lies below its junction: one more volume query) and one snapshots listing; the
    // Proxmox login once. Nothing else: no version, no clone query, no file listing.
    assert_eq!(
        env.count_requests("GET", "/api/storage/volumes/*/snapshots"),
        3,
        "{:#?}",
        env.requests()
    );
    assert_eq!(env.count_requests("GET", "/api/storage/volumes"), 4);
    assert_eq!(env.count_requests("GET", "/api/network/ip/interfaces"), 3);
    assert_eq!(
        env.count_api_requests(Api::Ontap),
        10,
        "{:#?}",
        env.requests()
    );
    assert_eq!(env.count_api_requests(Api::Pve), 4, "{:#?}", env.requests());

    env.clear_requests();
    let out = env.run(&["status", "--offline"]);
    out.assert_ok();
    assert_eq!(env.requests().len(), 0);
    assert!(
        out.stdout.contains("(offline: journal only)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("schedule hourly"), "{}", out.stdout);
}

#[test]
fn prometheus_textfile_carries_the_expected_series() {
    let env = env_with_policy(POLICY);
    env.run(&["run", "hourly"]).assert_ok();
    fail_snapshot_creates(&env);
    env.run(&["hook", "100", "post-stop"]).assert_ok();
    let out = env.run(&["status", "--format", "prometheus"]);
    out.assert_code(1);
    let text = &out.stdout;
    let hourly = snapshot_names(&env, "ONTAP01", "hourly");
    assert_eq!(hourly.len(), 1);
    let created = env.with_volume("ONTAP01", |v| {
        v.snapshots
            .iter()
            .find(|s| s.name == hourly[0])
            .unwrap()
            .create_time
            .unix_timestamp()
    });
    for want in [
        format!(
            "pve_ontap_snapshot_last_success_timestamp_seconds{{storage=\"ONTAP01\",label=\"hourly\"}} {created}\n"
        ),
        "pve_ontap_snapshot_last_run_success{trigger=\"schedule\",source=\"hourly\",action=\"storage-snapshot\",vmid=\"\",storage=\"ONTAP01\"} 1\n".to_string(),
        "pve_ontap_snapshot_last_run_success{trigger=\"hook\",source=\"post-stop\",action=\"storage-snapshot\",vmid=\"100\",storage=\"ONTAP01\"} 0\n".to_string(),
        "pve_ontap_snapshot_volume_snapshot_limit{storage=\"ONTAP01\"} 1023\n".to_string(),
        "pve_ontap_snapshot_problems 1\n".to_string(),
        "# TYPE pve_ontap_snapshot_volume_snapshot_bytes gauge\n".to_string(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    // Every sample line: name, optional labels, one number.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(series.starts_with("pve_ontap_snapshot_"), "{line}");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
}

#[test]
fn capacity_guard_warns_then_refuses_before_any_snapshot() {
    let env = TestEnv::new();
    // ONTAP01 starts with 2 snapshots; warn at 3, refuse at 4.
    let config = with_storage_keys(
        &env.default_config(),
        "ONTAP01",
        "snapshot_count_warn = 3\nsnapshot_count_max = 4",
    ) + "\n[hook:100]\npre-start = storage-snapshot\npre-start.on-error = abort\n\
         post-stop = storage-snapshot\n";
    env.write_config(&config);
    env.run(&["storage", "create", "--storage", "ONTAP01"])
        .assert_ok();
    let warned = env.run(&["storage", "create", "--storage", "ONTAP01"]);
    warned.assert_ok();
    assert!(
        warned.stderr.contains(
            "storage ONTAP01: volume ONTAP01 holds 3 snapshots (ONTAP's limit of 1023 snapshots per volume), at or above snapshot_count_warn = 3"
        ),
        "{}",
        warned.stderr
    );
    let before = env.snapshot_names("ONTAP01").len();
    assert_eq!(before, 4);
    env.clear_requests();
    let refused = env.run(&["storage", "create", "--storage", "ONTAP01"]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains(
            "storage ONTAP01: no new snapshot: volume ONTAP01 holds 4 snapshots (ONTAP's limit of 1023 snapshots per volume), at or above snapshot_count_max = 4"
        ) && refused.stderr.contains("pve-ontap-snapshot storage prune --storage ONTAP01"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        0
    );
    assert_eq!(env.snapshot_names("ONTAP01").len(), before);

    // Hooks follow on-error: continue (post-stop) exits 0, abort (pre-start) stops the start.
    env.run(&["hook", "100", "post-stop"]).assert_ok();
    let abort = env.run(&["hook", "100", "pre-start"]);
    assert_ne!(abort.code, 0, "{}", abort.stderr);
    assert!(
        abort.stderr.contains("snapshot_count_max = 4"),
        "{}",
        abort.stderr
    );
    assert_eq!(env.snapshot_names("ONTAP01").len(), before);

    // check and status report the same.
    let check = env.run(&["check"]);
    check.assert_code(1);
    assert!(
        check.stdout.contains("snapshot_count_max = 4"),
        "{}",
        check.stdout
    );
    let status = env.run(&["status", "--storage", "ONTAP01"]);
    status.assert_code(1);
    assert!(
        status.stdout.contains("no new snapshot"),
        "{}",
        status.stdout
    );

    // A bad threshold is a config error naming the key.
    env.write_config(&with_storage_keys(
        &env.default_config(),
        "ONTAP01",
        "snapshot_count_max = 2000",
    ));
    let bad = env.run(&["storage", "list", "--storage", "ONTAP01"]);
    bad.assert_code(2);
    assert!(
        bad.stderr
            .contains("section [ONTAP01], key 'snapshot_count_max'"),
        "{}",
        bad.stderr
    );
}

/// The default scenario's `ONTAP02` (volume `pve_vmstore2`) has snapshot locking; `version`
/// changes the ONTAP release (before 9.12.1 no volume can have it).
fn scenario_on(version: &str) -> Scenario {
    let mut scenario = Scenario::default();
    scenario.ontap.version = version.into();
    for v in &mut scenario.ontap.volumes {
        v.snapshot_locking_enabled = false;
    }
    scenario
}

fn lock_expiry(env: &TestEnv, name: &str) -> Option<time::OffsetDateTime> {
    env.with_volume("pve_vmstore2", |v| {
        v.snapshots
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.snaplock_expiry_time)
    })
}

/// `storage create --storage ONTAP02 ARGS`, the new snapshot's name.
fn create(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec![
        "--output",
        "json",
        "storage",
        "create",
        "--storage",
        "ONTAP02",
    ];
    all.extend_from_slice(args);
    let out = env.run(&all);
    out.assert_ok();
    out.json()["name"].as_str().unwrap().to_string()
}

#[test]
fn locked_snapshots_survive_prune_delete_and_restore() {
    let env = TestEnv::new();
    let older = create(&env, &["--label", "daily"]);
    std::thread::sleep(Duration::from_millis(1100));
    let out = env.run(&[
        "--output",
        "json",
        "storage",
        "create",
        "--storage",
        "ONTAP02",
        "--label",
        "daily",
        "--lock",
        "7d",
    ]);
    out.assert_ok();
    let name = out.json()["name"].as_str().unwrap().to_string();
    assert!(
        out.json()["lock_expiry"].as_str().is_some(),
        "{}",
        out.stdout
    );
    let until = lock_expiry(&env, &name).expect("the snapshot is locked in ONTAP");
    let week = time::OffsetDateTime::now_utc() + time::Duration::days(7);
    assert!((until - week).abs() < time::Duration::minutes(2), "{until}");

    // list shows the lock.
    let list = env.run(&["storage", "list", "--storage", "ONTAP02"]);
    list.assert_ok();
    assert!(list.stdout.contains("LOCKED UNTIL"), "{}", list.stdout);

    // delete refuses and says why; nothing is sent to ONTAP.
    env.clear_requests();
    let del = env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP02",
        "--snapshot",
        &name,
    ]);
    del.assert_code(1);
    assert!(
        del.stderr
            .contains(&format!("snapshot '{name}' is locked until"))
            && del.stderr.contains("snapshot locking"),
        "{}",
        del.stderr
    );
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/snapshots/*"),
        0
    );
    assert!(env.snapshot_names("pve_vmstore2").contains(&name));

    // prune keeps it and reports why (a newer unlocked one makes it prunable by count).
    std::thread::sleep(Duration::from_millis(1100));
    let newest = create(&env, &["--label", "daily"]);
    let dry = env.run(&[
        "storage",
        "prune",
        "--storage",
        "ONTAP02",
        "--label",
        "daily",
        "--keep-last",
        "1",
        "--dry-run",
    ]);
    dry.assert_ok();
    assert!(dry.stdout.contains("locked until"), "{}", dry.stdout);
    let prune = env.run(&[
        "--output",
        "json",
        "storage",
        "prune",
        "--storage",
        "ONTAP02",
        "--label",
        "daily",
        "--keep-last",
        "1",
    ]);
    prune.assert_ok();
    let report = prune.json();
    assert!(
        report["deleted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == older.as_str()),
        "{report}"
    );
    let protected = report["protected"].as_array().unwrap();
    assert!(
        protected.iter().any(|p| p["name"] == name.as_str()
            && p["reason"].as_str().unwrap().starts_with("locked until")),
        "{report}"
    );
    assert_eq!(
        env.snapshot_names("pve_vmstore2"),
        vec![name.clone(), newest.clone()]
    );

    // A restore to a snapshot older than a locked one would discard it: refused before any change.
    std::thread::sleep(Duration::from_millis(1100));
    let locked2 = create(&env, &["--lock", "1d"]);
    env.clear_requests();
    let refused = env.run(&[
        "storage",
        "restore",
        "--storage",
        "ONTAP02",
        "--snapshot",
        &newest,
        "--yes",
        "--force",
    ]);
    refused.assert_code(1);
    assert!(
        refused.stderr.contains(&format!(
            "ONTAP cannot discard the newer snapshot '{locked2}': it is locked until"
        )),
        "{}",
        refused.stderr
    );
    assert_eq!(env.count_requests("PATCH", "/api/storage/volumes/*"), 0);
    assert_eq!(
        env.snapshot_names("pve_vmstore2"),
        vec![name.clone(), newest, locked2]
    );

    // status shows the lock.
    let status = env.run(&["--output", "json", "status", "--storage", "ONTAP02"]);
    status.assert_ok();
    let v = status.json();
    assert_eq!(v["storages"][0]["locking_enabled"], true);
    let unlabelled = v["storages"][0]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["label"] == "")
        .expect("the unlabelled locked snapshot");
    assert!(unlabelled["locked_until"].as_str().is_some(), "{v}");
}

#[test]
fn lock_requests_without_snapshot_locking_say_what_to_enable() {
    let env = TestEnv::new();
    // ONTAP01 (volume ONTAP01) has no snapshot locking.
    env.clear_requests();
    let out = env.run(&["storage", "create", "--storage", "ONTAP01", "--lock", "7d"]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("volume ONTAP01 of storage 'ONTAP01' does not have snapshot locking enabled")
            && out.stderr.contains("-snapshot-locking-enabled true"),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        0
    );

    let check = env.run(&["--output", "json", "check"]);
    let v = check.json();
    let can_lock = |id: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == id)
            .map(|c| c["can_lock"].clone())
    };
    assert_eq!(can_lock("ONTAP01"), Some(serde_json::json!(false)), "{v}");
    assert_eq!(can_lock("ONTAP02"), Some(serde_json::json!(true)), "{v}");
    let text = env.run(&["check"]);
    assert!(
        text.stdout.contains("snapshots can be locked"),
        "{}",
        text.stdout
    );

    let old = TestEnv::with_options(SimOptions {
        scenario: scenario_on("9.11.1"),
        ..SimOptions::default()
    });
    let out = old.run(&["storage", "create", "--storage", "ONTAP02", "--lock", "1d"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains(
            "ONTAP 9.11.1 cannot lock snapshots: snapshot locking needs ONTAP 9.12.1 or later"
        ),
        "{}",
        out.stderr
    );
    let bad = env.run(&[
        "storage",
        "create",
        "--storage",
        "ONTAP02",
        "--lock",
        "soon",
    ]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("--lock"), "{}", bad.stderr);
}

#[test]
fn schedules_lock_what_they_make() {
    let env = env_with_policy("[schedule:daily]\nstorages = ONTAP02\nlabel = daily\nlock = 2d\n");
    env.run(&["run", "daily"]).assert_ok();
    let names = snapshot_names(&env, "pve_vmstore2", "daily");
    assert_eq!(names.len(), 1);
    assert!(lock_expiry(&env, &names[0]).is_some());
    let j = journal(&env);
    assert_eq!(j.last().unwrap()["trigger"], "schedule");
    assert_eq!(j.last().unwrap()["snapshot"], names[0].as_str());
}
