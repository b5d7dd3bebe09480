//! `vm create|list|delete|restore|prune` end to end: the binary against the simulator, checking
//! ONTAP files and guest states through the simulated APIs, the request log, exit codes and messages.

use std::fs::File;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use pve_ontap_snapshot::model::names;

use crate::util::{Api, FaultRule, Output, TestEnv};

const ONTAP_USER: &str = "admin";
const ONTAP_PASS: &str = "Ontap-Pa55;#\"\\=x";
const PVE_TOKEN: &str = "root@pam!snap=5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11";
/// An old set, in the original tool's naming (no label).
const OLD_TS: &str = "2024-03-13_14:42:47+0000";

// ---------------------------------------------------------------------------------------------
// Helpers: the simulated APIs as a client sees them.

fn base64(input: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = input.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An ONTAP REST call as the admin; returns status and JSON body (Null when empty).
fn ontap(env: &TestEnv, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", env.sim().ontap_url());
    let auth = format!("Basic {}", base64(&format!("{ONTAP_USER}:{ONTAP_PASS}")));
    let req = env
        .agent()
        .request(method, &url)
        .set("Authorization", &auth);
    let result = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A Proxmox VE API call with the scenario's API token; returns the `data` member.
fn pve(env: &TestEnv, method: &str, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let url = format!("{}/api2/json{path}", env.sim().pve_url());
    let req = env
        .agent()
        .request(method, &url)
        .set("Authorization", &format!("PVEAPIToken={PVE_TOKEN}"));
    let result = if form.is_empty() {
        req.call()
    } else {
        req.send_form(form)
    };
    let resp = match result {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = resp.status();
    let text = resp.into_string().unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body.get("data").cloned().unwrap_or(Value::Null))
}

/// The disk sets of a `vm list` answer (its volume snapshots left out).
fn disk_sets(list: &Value) -> Vec<Value> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "disk set")
        .cloned()
        .collect()
}

fn volume_uuid(env: &TestEnv, volume: &str) -> String {
    let (status, body) = ontap(
        env,
        "GET",
        &format!("/api/storage/volumes?name={volume}&fields=uuid"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    body["records"][0]["uuid"]
        .as_str()
        .unwrap_or_else(|| panic!("no volume {volume}: {body}"))
        .to_string()
}

fn encode(path: &str) -> String {
    path.replace('/', "%2F").replace('.', "%2E")
}

/// Names in a directory of a volume (empty when the directory is missing).
fn files(env: &TestEnv, volume: &str, dir: &str) -> Vec<String> {
    let uuid = volume_uuid(env, volume);
    let (status, body) = ontap(
        env,
        "GET",
        &format!(
            "/api/storage/volumes/{uuid}/files/{}?fields=name,type",
            encode(dir)
        ),
        None,
    );
    if status == 404 {
        return Vec::new();
    }
    assert_eq!(status, 200, "{body}");
    let mut names: Vec<String> = body["records"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|f| f["name"].as_str())
                .filter(|n| *n != "." && *n != "..")
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The disk snapshot files in a directory.
fn snapshot_files(env: &TestEnv, volume: &str, dir: &str) -> Vec<String> {
    files(env, volume, dir)
        .into_iter()
        .filter(|n| names::parse_disk_snapshot_name(n).is_some())
        .collect()
}

/// Wait for an ONTAP job to end; panics unless it succeeded.
fn wait_job(env: &TestEnv, body: &Value) {
    let Some(uuid) = body["job"]["uuid"].as_str() else {
        return;
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, job) = ontap(env, "GET", &format!("/api/cluster/jobs/{uuid}"), None);
        match job["state"].as_str() {
            Some("success") => return,
            Some("failure") => panic!("job failed: {job}"),
            _ if Instant::now() > deadline => panic!("job did not end: {job}"),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Make a file next to a disk by cloning it (stands in for files made earlier or by other tools).
fn clone_file(env: &TestEnv, volume: &str, source: &str, destination: &str) {
    let uuid = volume_uuid(env, volume);
    let (status, body) = ontap(
        env,
        "POST",
        "/api/storage/file/clone",
        Some(json!({
            "volume": {"name": volume, "uuid": uuid},
            "source_path": source,
            "destination_path": destination,
        })),
    );
    assert!((200..=202).contains(&status), "{status} {body}");
    wait_job(env, &body);
}

fn delete_file(env: &TestEnv, volume: &str, path: &str) {
    let uuid = volume_uuid(env, volume);
    let (status, body) = ontap(
        env,
        "DELETE",
        &format!("/api/storage/volumes/{uuid}/files/{}", encode(path)),
        None,
    );
    assert!(matches!(status, 200 | 202), "{status} {body}");
    wait_job(env, &body);
}

/// `qmpstatus` of a guest (`running`, `paused`, `stopped`).
fn guest_state(env: &TestEnv, node: &str, kind: &str, vmid: u32) -> String {
    let (status, data) = pve(
        env,
        "GET",
        &format!("/nodes/{node}/{kind}/{vmid}/status/current"),
        &[],
    );
    assert_eq!(status, 200, "{data}");
    data.get("qmpstatus")
        .or_else(|| data.get("status"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn json_run(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    env.run(&all)
}

/// Index of the first request matching method and path pattern, from `from` on.
fn position(env: &TestEnv, method: &str, pattern: &str) -> Option<usize> {
    let matching: Vec<u64> = env
        .requests_matching(None, method, pattern)
        .iter()
        .map(|e| e.seq)
        .collect();
    env.requests()
        .iter()
        .position(|e| matching.contains(&e.seq))
}

/// The requests logged between the first `from` and the first `to` (exclusive), as `METHOD path`.
fn window(env: &TestEnv, from: (&str, &str), to: (&str, &str)) -> Vec<String> {
    let start = position(env, from.0, from.1).expect("window start");
    let end = position(env, to.0, to.1).expect("window end");
    env.requests()[start + 1..end]
        .iter()
        .map(|e| format!("{} {}", e.method, e.path))
        .collect()
}

/// Only clone requests and the polling of their jobs.
fn only_clones(requests: &[String]) -> bool {
    requests
        .iter()
        .all(|r| r == "POST /api/storage/file/clone" || r.starts_with("GET /api/cluster/jobs/"))
}

// ---------------------------------------------------------------------------------------------
// vm create

#[test]
fn create_clones_every_disk_of_a_vm_and_lists_it() {
    let env = TestEnv::new();
    let out = json_run(&env, &["vm", "create", "--vm", "100"]);
    out.assert_ok();
    let set = out.json();
    let ts = set["timestamp"].as_str().unwrap().to_string();
    assert!(names::parse_timestamp(&ts).is_some(), "{set}");
    let keys: Vec<&str> = set["disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["scsi0", "virtio0", "efidisk0", "tpmstate0"]);
    assert_eq!(
        snapshot_files(&env, "ONTAP01", "images/100"),
        [
            format!("vm-100-disk-0-snapshot-{ts}.qcow2"),
            format!("vm-100-disk-1-snapshot-{ts}.raw"),
            format!("vm-100-disk-2-snapshot-{ts}.raw"),
            format!("vm-100-disk-3-snapshot-{ts}.raw"),
        ]
    );
    // Never the cdrom, the cloud-init drive or the unused disk.
    let all = files(&env, "ONTAP01", "images/100");
    assert!(!all
        .iter()
        .any(|f| f.contains("cloudinit-snapshot") || f.contains("disk-9-snapshot")));
    // Without --suspend/--freeze the guest is not touched.
    assert_eq!(env.count_requests("POST", "*/status/*"), 0);
    assert_eq!(guest_state(&env, "pve1", "qemu", 100), "running");

    let list = json_run(&env, &["vm", "list", "--vm", "100"]);
    list.assert_ok();
    // Disk sets come first, then the volume snapshots of the guest's storages.
    let all = list.json();
    let sets = Value::Array(disk_sets(&all));
    assert_eq!(sets.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(sets[0]["timestamp"], ts.as_str());
    assert_eq!(sets[0]["disks"][0]["key"], "scsi0");
    assert_eq!(
        sets[0]["disks"][0]["snapshot"],
        format!("ONTAP01:100/vm-100-disk-0-snapshot-{ts}.qcow2").as_str()
    );
    // Text output too.
    let text = env.run(&["vm", "list", "--vm", "100"]);
    text.assert_ok();
    assert!(text.stdout.contains(&ts), "{}", text.stdout);
}

#[test]
fn suspend_window_holds_only_the_clones_and_the_guest_runs_after() {
    let env = TestEnv::new();
    let out = json_run(&env, &["vm", "create", "--vm", "100", "--suspend"]);
    out.assert_ok();
    let inside = window(
        &env,
        ("POST", "*/qemu/100/status/suspend"),
        ("POST", "*/qemu/100/status/resume"),
    );
    // The pause task is confirmed first; then nothing but the four clones and their jobs.
    let clones_from = inside
        .iter()
        .position(|r| r == "POST /api/storage/file/clone")
        .expect("clones in the window");
    assert!(
        inside[..clones_from].iter().all(|r| r.contains("/tasks/")),
        "{inside:?}"
    );
    assert!(only_clones(&inside[clones_from..]), "{inside:?}");
    assert_eq!(
        inside
            .iter()
            .filter(|r| *r == "POST /api/storage/file/clone")
            .count(),
        4
    );
    // Every lookup came before the pause.
    let suspend = position(&env, "POST", "*/status/suspend").unwrap();
    for lookup in [
        "*/cluster/resources*",
        "*/qemu/100/config*",
        "/api/storage/volumes*",
        "*/files/*",
    ] {
        let at = position(&env, "GET", lookup).unwrap_or_else(|| panic!("no {lookup}"));
        assert!(at < suspend, "{lookup} after the pause");
    }
    assert_eq!(guest_state(&env, "pve1", "qemu", 100), "running");
    for e in env.requests() {
        eprintln!(
            "{:>3} {:?} {} {}?{} -> {}",
            e.seq, e.api, e.method, e.path, e.query, e.status
        );
    }
    let total = env.requests().len();
    eprintln!(
        "requests per 'vm create --vm 100 --suspend': {total} (window: {} requests)",
        inside.len()
    );
}

#[test]
fn freeze_window_holds_only_the_clones() {
    let env = TestEnv::new();
    json_run(&env, &["vm", "create", "--vm", "100", "--freeze"]).assert_ok();
    let inside = window(
        &env,
        ("POST", "*/agent/fsfreeze-freeze"),
        ("POST", "*/agent/fsfreeze-thaw"),
    );
    assert!(only_clones(&inside), "{inside:?}");
    assert_eq!(
        inside
            .iter()
            .filter(|r| *r == "POST /api/storage/file/clone")
            .count(),
        4
    );
    let (_, status) = pve(
        &env,
        "POST",
        "/nodes/pve1/qemu/100/agent/fsfreeze-status",
        &[],
    );
    assert_eq!(status["result"], "thawed", "{status}");
}

#[test]
fn shutdown_then_start() {
    let env = TestEnv::new();
    json_run(&env, &["vm", "create", "--vm", "103", "--shutdown"]).assert_ok();
    let shutdown = position(&env, "POST", "*/qemu/103/status/shutdown").unwrap();
    let start = position(&env, "POST", "*/qemu/103/status/start").unwrap();
    let clone = position(&env, "POST", "/api/storage/file/clone").unwrap();
    assert!(shutdown < clone && clone < start);
    assert_eq!(guest_state(&env, "pve2", "qemu", 103), "running");
    assert_eq!(snapshot_files(&env, "pve_vmstore2", "images/103").len(), 1);
}

#[test]
fn suspend_of_a_stopped_vm_just_clones_and_says_so() {
    let env = TestEnv::new();
    let out = json_run(&env, &["vm", "create", "--vm", "102", "--suspend"]);
    out.assert_ok();
    let notes = out.json()["notes"].to_string();
    assert!(notes.contains("guest 102 is stopped"), "{notes}");
    assert_eq!(env.count_requests("POST", "*/status/*"), 0);
    assert_eq!(snapshot_files(&env, "ONTAP01", "images/102").len(), 1);
    assert_eq!(guest_state(&env, "pve2", "qemu", 102), "stopped");
}

#[test]
fn container_suspend_is_refused_before_any_change() {
    let env = TestEnv::new();
    let out = env.run(&["vm", "create", "--vm", "200", "--suspend"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("cannot suspend container 200")
            && out.stderr.contains("--shutdown")
            && out.stderr.contains("crash-consistent"),
        "{}",
        out.stderr
    );
    assert_eq!(env.count_requests("POST", "*/status/*"), 0);
    assert!(snapshot_files(&env, "ONTAP01", "images/200").is_empty());
    assert!(snapshot_files(&env, "pve_vmstore2", "images/200").is_empty());
    assert_eq!(guest_state(&env, "pve2", "lxc", 200), "running");
}

#[test]
fn container_disks_on_two_storages() {
    let env = TestEnv::new();
    let out = json_run(&env, &["vm", "create", "--vm", "200", "--shutdown"]);
    out.assert_ok();
    let set = out.json();
    let ts = set["timestamp"].as_str().unwrap();
    assert_eq!(set["disks"][0]["key"], "rootfs");
    assert_eq!(set["disks"][1]["key"], "mp0");
    assert_eq!(
        snapshot_files(&env, "pve_vmstore2", "images/200"),
        [format!("vm-200-disk-0-snapshot-{ts}.raw")]
    );
    assert_eq!(
        snapshot_files(&env, "ONTAP01", "images/200"),
        [format!("vm-200-disk-1-snapshot-{ts}.raw")]
    );
    assert_eq!(guest_state(&env, "pve2", "lxc", 200), "running");
    let list = json_run(&env, &["vm", "list", "--vm", "200"]);
    assert_eq!(
        list.assert_ok().json()[0]["disks"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn export_below_a_junction() {
    let env = TestEnv::new();
    json_run(&env, &["vm", "create", "--vm", "105"]).assert_ok();
    assert_eq!(
        snapshot_files(&env, "pve_nested", "pve/images/105").len(),
        1
    );
}

#[test]
fn labels_are_part_of_the_name_and_shown_by_list() {
    let env = TestEnv::new();
    let out = json_run(&env, &["vm", "create", "--vm", "102", "--label", "daily"]);
    let ts = out.assert_ok().json()["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        snapshot_files(&env, "ONTAP01", "images/102"),
        [format!("vm-102-disk-0-snapshot-daily-{ts}.qcow2")]
    );
    let sets = json_run(&env, &["vm", "list", "--vm", "102"])
        .assert_ok()
        .json();
    assert_eq!(sets[0]["label"], "daily");
    let text = env.run(&["vm", "list", "--vm", "102"]);
    text.assert_ok();
    let row = text
        .stdout
        .lines()
        .find(|l| l.contains(&ts))
        .unwrap_or_default();
    assert!(row.contains("daily"), "{}", text.stdout);
    let bad = env.run(&["vm", "create", "--vm", "102", "--label", "no good"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("no good"), "{}", bad.stderr);
}

#[test]
fn disks_on_other_storages_are_skipped_and_strict_refuses() {
    let env = TestEnv::new();
    let out = json_run(&env, &["vm", "create", "--vm", "101"]);
    let set = out.assert_ok().json();
    assert_eq!(set["disks"].as_array().unwrap().len(), 1);
    assert_eq!(set["skipped"][0]["key"], "scsi1");
    assert_eq!(set["skipped"][0]["volume"], "local-lvm:vm-101-disk-1");

    env.clear_requests();
    let before = files(&env, "ONTAP01", "images/101");
    let out = env.run(&["vm", "create", "--vm", "101", "--suspend", "--strict"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("scsi1 (local-lvm:vm-101-disk-1)"),
        "{}",
        out.stderr
    );
    assert_untouched(&env, "ONTAP01", "images/101", &before);
}

// ---------------------------------------------------------------------------------------------
// vm create: bad input, nothing changed

/// No POST to either API after setup, and no new file in the guest's directory.
fn assert_untouched(env: &TestEnv, volume: &str, dir: &str, before: &[String]) {
    let posts: Vec<String> = env
        .requests_matching(None, "POST", "*")
        .iter()
        .filter(|e| !e.path.ends_with("/access/ticket"))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    assert!(posts.is_empty(), "{posts:?}");
    assert_eq!(env.count_requests("DELETE", "*"), 0);
    assert_eq!(files(env, volume, dir), before);
}

#[test]
fn unknown_vm() {
    let env = TestEnv::new();
    let out = env.run(&["vm", "create", "--vm", "999"]);
    out.assert_code(1);
    assert!(out.stderr.contains("guest 999 not found"), "{}", out.stderr);
    for args in [
        &["vm", "list", "--vm", "999"][..],
        &["vm", "delete", "--vm", "999", "--snapshot", OLD_TS],
        &["vm", "prune", "--vm", "999", "--keep-last", "1"],
    ] {
        let out = env.run(args);
        out.assert_code(1);
        assert!(
            out.stderr.contains("guest 999 not found"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn vm_without_ontap_disks() {
    let env = TestEnv::new();
    env.world_mut(|w| {
        let config = &mut w.pve.guests.get_mut(&101).unwrap().config;
        assert!(config.remove("sata0").is_some());
    });
    env.clear_requests();
    let out = env.run(&["vm", "create", "--vm", "101", "--suspend"]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("guest 101 has no disk on an ONTAP-backed storage"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("lvmthin"), "{}", out.stderr);
    assert_eq!(env.count_requests("POST", "*/status/*"), 0);
    assert_eq!(env.count_requests("POST", "/api/*"), 0);
}

#[test]
fn freeze_without_agent_fails_before_anything_is_touched() {
    let env = TestEnv::new();
    for (vmid, why) in [
        ("101", "no QEMU guest agent is configured"),
        ("104", "does not answer"),
    ] {
        let dir = format!("images/{vmid}");
        let before = files(&env, "ONTAP01", &dir);
        env.clear_requests();
        let out = env.run(&["vm", "create", "--vm", vmid, "--freeze"]);
        out.assert_code(1);
        assert!(out.stderr.contains(why), "{vmid}: {}", out.stderr);
        assert_eq!(env.count_requests("POST", "*/fsfreeze-*"), 0);
        assert_eq!(env.count_requests("POST", "/api/storage/file/clone"), 0);
        assert_eq!(files(&env, "ONTAP01", &dir), before);
    }
}

#[test]
fn existing_clone_destination_is_refused() {
    let env = TestEnv::new();
    // Occupy the destination names for the next seconds.
    let now = time::OffsetDateTime::now_utc();
    for s in 0..20 {
        let ts = names::timestamp(now + time::Duration::seconds(s));
        clone_file(
            &env,
            "ONTAP01",
            "images/102/vm-102-disk-0.qcow2",
            &format!(
                "images/102/{}",
                names::disk_snapshot_file("vm-102-disk-0.qcow2", &ts)
            ),
        );
    }
    let before = files(&env, "ONTAP01", "images/102");
    env.clear_requests();
    let out = env.run(&["vm", "create", "--vm", "102"]);
    out.assert_code(1);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert!(out.stderr.contains("scsi0"), "{}", out.stderr);
    assert_untouched(&env, "ONTAP01", "images/102", &before);
}

#[test]
fn failed_clone_job_on_the_third_of_four_disks_leaves_nothing() {
    let env = TestEnv::new();
    env.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone")
            .api(Api::Ontap)
            .skip(2)
            .count(1)
            .fail_job(13565952, "Clone start failed."),
    );
    let out = env.run(&["vm", "create", "--vm", "100", "--suspend"]);
    out.assert_code(1);
    let err = &out.stderr;
    assert!(err.contains("Clone start failed."), "{err}");
    let named = [
        "disk scsi0 (ONTAP01:100/vm-100-disk-0.qcow2)",
        "disk virtio0 (ONTAP01:100/vm-100-disk-1.raw)",
        "disk efidisk0 (ONTAP01:100/vm-100-disk-2.raw)",
        "disk tpmstate0 (ONTAP01:100/vm-100-disk-3.raw)",
    ];
    assert_eq!(
        named.iter().filter(|d| err.contains(*d)).count(),
        1,
        "{err}"
    );
    assert!(err.contains("deleted"), "{err}");
    assert!(snapshot_files(&env, "ONTAP01", "images/100").is_empty());
    assert_eq!(guest_state(&env, "pve1", "qemu", 100), "running");
    // The cleanup ran after the resume.
    let resume = position(&env, "POST", "*/status/resume").unwrap();
    let delete = position(&env, "DELETE", "/api/storage/volumes/*/files/*").unwrap();
    assert!(resume < delete);
}

#[test]
fn sigterm_inside_the_pause_window_resumes_and_leaves_nothing() {
    let env = TestEnv::new();
    // Hold the window open: every clone answers after 3 s.
    env.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone")
            .api(Api::Ontap)
            .count(4)
            .delay_ms(3000),
    );
    let mut child = env
        .command(&["vm", "create", "--vm", "100", "--suspend"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Inside the window: the guest is paused (the clones then hang for 3 s each).
    let deadline = Instant::now() + Duration::from_secs(60);
    while guest_state(&env, "pve1", "qemu", 100) != "paused" {
        assert!(Instant::now() < deadline, "the guest was never paused");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ended before the pause"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(
        output.status.code().is_some(),
        "killed by the signal: {stderr}"
    );
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert_eq!(guest_state(&env, "pve1", "qemu", 100), "running");
    assert!(snapshot_files(&env, "ONTAP01", "images/100").is_empty());
}

#[test]
fn volume_chain_storage_is_refused() {
    let env = TestEnv::new();
    // Proxmox fixes the option when the storage is created; set it in the simulated world.
    env.world_mut(|w| {
        let storage = w
            .pve
            .storages
            .iter_mut()
            .find(|s| s.id == "ONTAP01")
            .unwrap();
        storage
            .options
            .insert("snapshot-as-volume-chain".into(), json!(1));
    });
    let before = files(&env, "ONTAP01", "images/102");
    env.clear_requests();
    let out = env.run(&["vm", "create", "--vm", "102"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("snapshot-as-volume-chain"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("incomplete"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("scsi0 (ONTAP01:102/vm-102-disk-0.qcow2)"),
        "{}",
        out.stderr
    );
    assert_untouched(&env, "ONTAP01", "images/102", &before);
}

// ---------------------------------------------------------------------------------------------
// vm list / delete

#[test]
fn list_finds_sets_of_the_original_tool_newest_first() {
    let env = TestEnv::new();
    for (src, ext) in [("vm-100-disk-0", "qcow2"), ("vm-100-disk-1", "raw")] {
        clone_file(
            &env,
            "ONTAP01",
            &format!("images/100/{src}.{ext}"),
            &format!("images/100/{src}-snapshot-{OLD_TS}.{ext}"),
        );
    }
    let new = json_run(&env, &["vm", "create", "--vm", "100"])
        .assert_ok()
        .json();
    let all = json_run(&env, &["vm", "list", "--vm", "100"])
        .assert_ok()
        .json();
    let sets = disk_sets(&all);
    assert_eq!(sets.len(), 2, "{all}");
    assert_eq!(sets[0]["timestamp"], new["timestamp"]);
    assert_eq!(sets[1]["timestamp"], OLD_TS);
    assert_eq!(sets[1]["label"], Value::Null);
    assert_eq!(sets[1]["disks"].as_array().unwrap().len(), 2);
    assert_eq!(sets[1]["disks"][1]["key"], "virtio0");
}

#[test]
fn delete_removes_one_set() {
    let env = TestEnv::new();
    clone_file(
        &env,
        "ONTAP01",
        "images/100/vm-100-disk-1.raw",
        &format!("images/100/vm-100-disk-1-snapshot-{OLD_TS}.raw"),
    );
    let new = json_run(&env, &["vm", "create", "--vm", "100"])
        .assert_ok()
        .json();
    let out = json_run(&env, &["vm", "delete", "--vm", "100", "--snapshot", OLD_TS]);
    out.assert_ok();
    let left = snapshot_files(&env, "ONTAP01", "images/100");
    assert_eq!(left.len(), 4);
    let ts = new["timestamp"].as_str().unwrap();
    assert!(left.iter().all(|f| f.contains(ts)), "{left:?}");
    // The disks stay.
    assert!(files(&env, "ONTAP01", "images/100").contains(&"vm-100-disk-1.raw".to_string()));
}

#[test]
fn delete_of_an_unknown_set_names_vm_and_timestamp() {
    let env = TestEnv::new();
    let before = files(&env, "ONTAP01", "images/100");
    env.clear_requests();
    let out = env.run(&["vm", "delete", "--vm", "100", "--snapshot", OLD_TS]);
    out.assert_code(1);
    assert!(
        out.stderr.contains(OLD_TS) && out.stderr.contains("guest 100"),
        "{}",
        out.stderr
    );
    assert_untouched(&env, "ONTAP01", "images/100", &before);
    let out = env.run(&["vm", "delete", "--vm", "100", "--snapshot", "yesterday"]);
    out.assert_code(2);
}

// ---------------------------------------------------------------------------------------------
// vm restore

#[test]
fn restore_of_a_running_vm_is_refused() {
    let env = TestEnv::new();
    let ts = json_run(&env, &["vm", "create", "--vm", "100"])
        .assert_ok()
        .json()["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    env.clear_requests();
    let out = env.run(&["vm", "restore", "--vm", "100", "--snapshot", &ts, "--yes"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("guest 100 is running"),
        "{}",
        out.stderr
    );
    assert_eq!(env.count_requests("POST", "/api/*"), 0);
}

#[test]
fn restore_clones_back_and_keeps_the_snapshot() {
    let env = TestEnv::new();
    let disk = "images/102/vm-102-disk-0.qcow2";
    let generation = |env: &TestEnv| env.files("ONTAP01")[disk].1;
    let at_snapshot = generation(&env);
    let ts = json_run(&env, &["vm", "create", "--vm", "102"])
        .assert_ok()
        .json()["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    // The guest writes after the snapshot.
    assert_eq!(env.guest_write(102), 1);
    assert_ne!(generation(&env), at_snapshot);
    env.clear_requests();
    let out = json_run(
        &env,
        &["vm", "restore", "--vm", "102", "--snapshot", &ts, "--yes"],
    );
    out.assert_ok();
    assert_eq!(out.json()["disks"][0]["key"], "scsi0");
    assert_eq!(env.count_requests("POST", "/api/storage/file/clone"), 1);
    // The disk has the snapshot's content again, and the snapshot file stays.
    assert_eq!(generation(&env), at_snapshot);
    assert_eq!(snapshot_files(&env, "ONTAP01", "images/102").len(), 1);
    assert_eq!(guest_state(&env, "pve2", "qemu", 102), "stopped");
}

#[test]
fn restore_of_a_set_with_a_missing_file_changes_nothing() {
    let env = TestEnv::new();
    let (status, _) = pve(&env, "POST", "/nodes/pve1/qemu/100/status/stop", &[]);
    assert_eq!(status, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while guest_state(&env, "pve1", "qemu", 100) != "stopped" {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let ts = json_run(&env, &["vm", "create", "--vm", "100"])
        .assert_ok()
        .json()["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = format!("images/100/vm-100-disk-2-snapshot-{ts}.raw");
    delete_file(&env, "ONTAP01", &missing);
    env.clear_requests();
    let out = env.run(&["vm", "restore", "--vm", "100", "--snapshot", &ts, "--yes"]);
    out.assert_code(1);
    assert!(out.stderr.contains(&missing), "{}", out.stderr);
    assert!(out.stderr.contains("efidisk0"), "{}", out.stderr);
    assert_eq!(env.count_requests("POST", "/api/storage/file/clone"), 0);

    // One disk that is there can still be restored.
    let out = json_run(
        &env,
        &[
            "vm",
            "restore",
            "--vm",
            "100",
            "--snapshot",
            &ts,
            "--disk",
            "virtio0",
            "--yes",
        ],
    );
    out.assert_ok();
    assert_eq!(out.json()["disks"].as_array().unwrap().len(), 1);
    assert_eq!(env.count_requests("POST", "/api/storage/file/clone"), 1);
}

#[test]
fn restore_of_an_unknown_set_or_disk() {
    let env = TestEnv::new();
    let out = env.run(&[
        "vm",
        "restore",
        "--vm",
        "102",
        "--snapshot",
        OLD_TS,
        "--yes",
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains(OLD_TS), "{}", out.stderr);
    let ts = json_run(&env, &["vm", "create", "--vm", "102"])
        .assert_ok()
        .json()["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.run(&[
        "vm",
        "restore",
        "--vm",
        "102",
        "--snapshot",
        &ts,
        "--disk",
        "scsi5",
        "--yes",
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("scsi5"), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------------
// vm prune

#[test]
fn prune_keeps_the_newest_sets() {
    let env = TestEnv::new();
    let stamps = [
        "2026-01-01_00:00:00+0000",
        "2026-01-02_00:00:00+0000",
        "2026-01-03_00:00:00+0000",
    ];
    for ts in stamps {
        clone_file(
            &env,
            "ONTAP01",
            "images/102/vm-102-disk-0.qcow2",
            &format!("images/102/vm-102-disk-0-snapshot-{ts}.qcow2"),
        );
    }
    let dry = json_run(
        &env,
        &[
            "vm",
            "prune",
            "--vm",
            "102",
            "--keep-last",
            "1",
            "--dry-run",
        ],
    );
    let report = dry.assert_ok().json();
    assert_eq!(report["deleted"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(snapshot_files(&env, "ONTAP01", "images/102").len(), 3);

    let out = json_run(&env, &["vm", "prune", "--vm", "102", "--keep-last", "1"]);
    out.assert_ok();
    assert_eq!(
        snapshot_files(&env, "ONTAP01", "images/102"),
        [format!("vm-102-disk-0-snapshot-{}.qcow2", stamps[2])]
    );
}

// ---------------------------------------------------------------------------------------------
// Rescan on a Proxmox node

/// Make the test dir look like a Proxmox node with a recording `qm`.
fn become_node(env: &TestEnv) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(env.path("etc/pve/local")).unwrap();
    let calls = env.path("qm.calls");
    let qm = env.path("usr/sbin/qm");
    std::fs::write(
        &qm,
        format!(
            "#!/bin/sh\necho \"$@ PATH=$PATH\" >> {}\necho \"VM $3 add unreferenced volume\"\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&qm, std::fs::Permissions::from_mode(0o755)).unwrap();
    calls
}

fn wait_for_file(path: &Path, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rescan_runs_on_a_node_with_absolute_paths_and_a_clean_path() {
    let env = TestEnv::new();
    let calls = become_node(&env);
    let out = json_run(&env, &["vm", "create", "--vm", "100"]);
    let notes = out.assert_ok().json()["notes"].to_string();
    assert!(notes.contains("rescan --vmid 100"), "{notes}");
    let text = std::fs::read_to_string(&calls).unwrap();
    assert_eq!(
        text.trim(),
        "rescan --vmid 100 PATH=/usr/sbin:/usr/bin:/sbin:/bin"
    );
    // --no-rescan and non-nodes do not run it.
    std::fs::remove_file(&calls).unwrap();
    // Within the same second, the second set takes the next free second's timestamp.
    json_run(&env, &["vm", "create", "--vm", "100", "--no-rescan"]).assert_ok();
    assert!(!calls.exists());
}

#[test]
fn rescan_is_deferred_while_the_config_lock_is_held() {
    let env = TestEnv::new();
    let calls = become_node(&env);
    let lock = File::create(env.path("run/lock/qemu-server/lock-100.conf")).unwrap();
    lock.lock().unwrap();
    let out = json_run(&env, &["vm", "create", "--vm", "100", "--suspend"]);
    let notes = out.assert_ok().json()["notes"].to_string();
    assert!(notes.contains("deferred"), "{notes}");
    assert!(notes.contains("lock-100.conf"), "{notes}");
    // The command returned while the lock is still held; the rescan waits for it.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!calls.exists(), "rescan ran while the lock was held");
    drop(lock);
    let text = wait_for_file(&calls, Duration::from_secs(30));
    assert_eq!(
        text.trim(),
        "rescan --vmid 100 PATH=/usr/sbin:/usr/bin:/sbin:/bin"
    );
}

// ---------------------------------------------------------------------------------------------
// The pause window against disk count (composition asserted; durations printed for the record)

/// Milliseconds between two request log times (RFC 3339).
fn millis_between(from: &str, to: &str) -> i128 {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
    };
    (parse(to) - parse(from)).whole_milliseconds()
}

#[test]
fn pause_window_holds_one_concurrent_clone_per_disk_for_1_4_and_16_disks() {
    for (vmid, node, disks) in [
        (104u32, "pve1", 1usize),
        (100, "pve1", 4),
        (100, "pve1", 16),
    ] {
        let env = TestEnv::with_options(crate::util::SimOptions {
            latency_ms: 20,
            ..crate::util::SimOptions::default()
        });
        // Guest 100 with twelve more raw disks next to its four.
        for i in 0..disks.saturating_sub(4) {
            if vmid != 100 {
                break;
            }
            let file = format!("vm-100-disk-{}.raw", 20 + i);
            clone_file(
                &env,
                "ONTAP01",
                "images/100/vm-100-disk-1.raw",
                &format!("images/100/{file}"),
            );
            env.world_mut(|w| {
                let config = &mut w.pve.guests.get_mut(&100).unwrap().config;
                config.insert(
                    format!("scsi{}", i + 1),
                    format!("ONTAP01:100/{file},size=8G"),
                );
            });
        }
        env.clear_requests();
        let vm = vmid.to_string();
        let out = json_run(&env, &["vm", "create", "--vm", &vm, "--suspend"]);
        assert_eq!(
            out.assert_ok().json()["disks"].as_array().unwrap().len(),
            disks
        );
        let inside = window(
            &env,
            ("POST", &format!("*/qemu/{vm}/status/suspend")),
            ("POST", &format!("*/qemu/{vm}/status/resume")),
        );
        let clones_from = inside
            .iter()
            .position(|r| r == "POST /api/storage/file/clone")
            .unwrap();
        assert!(
            inside[..clones_from].iter().all(|r| r.contains("/tasks/")),
            "{inside:?}"
        );
        assert!(only_clones(&inside[clones_from..]), "{inside:?}");
        assert_eq!(
            inside
                .iter()
                .filter(|r| *r == "POST /api/storage/file/clone")
                .count(),
            disks
        );
        assert_eq!(guest_state(&env, node, "qemu", vmid), "running");
        let log = env.requests();
        let at = |method: &str, pattern: &str| {
            let i = position(&env, method, pattern).unwrap();
            log[i].time.clone()
        };
        let ms = millis_between(
            &at("POST", &format!("*/qemu/{vm}/status/suspend")),
            &at("POST", &format!("*/qemu/{vm}/status/resume")),
        );
        eprintln!(
            "pause window with {disks:>2} disks at 20 ms latency: {ms} ms, {} requests inside, \
             {} requests for the whole command",
            inside.len(),
            log.len() - 1
        );
    }
}
