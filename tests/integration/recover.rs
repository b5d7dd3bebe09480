//! Guest recovery end to end: `vm restore` from a storage snapshot (other guests and newer
//! snapshots untouched, the `pre-restore` set and its way back), `vm list` with storage
//! snapshots, `vm show-config`, `vm clone`, `vm attach`/`vm detach`, and faults that must leave
//! nothing behind.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::{Api, FaultRule, Output, TestEnv};

fn json_run(env: &TestEnv, args: &[&str]) -> Output {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    env.run(&all)
}

/// `storage create` and the name of the snapshot it made.
fn storage_snapshot(env: &TestEnv, storage: &str) -> String {
    let out = json_run(env, &["storage", "create", "--storage", storage]);
    out.assert_ok();
    out.json()["name"].as_str().unwrap().to_string()
}

fn generation(env: &TestEnv, volume: &str, path: &str) -> Option<u64> {
    env.files(volume).get(path).map(|(_, g)| *g)
}

/// Files below a directory of a volume: name -> (size, generation).
fn dir_files(env: &TestEnv, volume: &str, dir: &str) -> BTreeMap<String, (u64, u64)> {
    let prefix = format!("{dir}/");
    env.files(volume)
        .into_iter()
        .filter_map(|(p, v)| {
            p.strip_prefix(&prefix)
                .filter(|rest| !rest.contains('/'))
                .map(|n| (n.to_string(), v))
        })
        .collect()
}

const DISK_102: &str = "images/102/vm-102-disk-0.qcow2";
const DISK_104: &str = "images/104/vm-104-disk-0.raw";

#[test]
fn restore_from_a_storage_snapshot_touches_only_that_guest_and_keeps_a_way_back() {
    let env = TestEnv::new();
    let before = generation(&env, "ONTAP01", DISK_102).unwrap();
    let old = storage_snapshot(&env, "ONTAP01");
    // Both guests change; then a newer snapshot is taken.
    env.guest_write(102);
    env.guest_write(104);
    let changed_102 = generation(&env, "ONTAP01", DISK_102).unwrap();
    let changed_104 = generation(&env, "ONTAP01", DISK_104).unwrap();
    assert_ne!(changed_102, before);
    let newer = storage_snapshot(&env, "ONTAP01");
    let snapshots_before = env.snapshot_names("ONTAP01");

    let out = json_run(
        &env,
        &["vm", "restore", "--vm", "102", "--snapshot", &old, "--yes"],
    );
    out.assert_ok();
    let r = out.json();
    assert_eq!(r["kind"], "storage");
    assert_eq!(r["action"], "restored");
    assert_eq!(r["disks"][0]["key"], "scsi0");
    let kept = r["kept"].as_str().expect("a pre-restore set").to_string();

    // The guest's disk is the old one; the other guest keeps its newer data; no snapshot is lost.
    assert_eq!(generation(&env, "ONTAP01", DISK_102), Some(before));
    assert_eq!(generation(&env, "ONTAP01", DISK_104), Some(changed_104));
    assert_eq!(env.snapshot_names("ONTAP01"), snapshots_before);
    assert!(snapshots_before.contains(&newer));
    // The disk as it was is kept as a pre-restore set ...
    let keep = format!("images/102/vm-102-disk-0-snapshot-pre-restore-{kept}.qcow2");
    assert_eq!(generation(&env, "ONTAP01", &keep), Some(changed_102));
    let sets = json_run(&env, &["vm", "list", "--vm", "102"])
        .assert_ok()
        .json();
    let set = sets
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "disk set" && s["timestamp"] == kept.as_str())
        .unwrap_or_else(|| panic!("no pre-restore set in {sets}"));
    assert_eq!(set["label"], "pre-restore");
    // ... and restores back.
    json_run(
        &env,
        &["vm", "restore", "--vm", "102", "--snapshot", &kept, "--yes"],
    )
    .assert_ok();
    assert_eq!(generation(&env, "ONTAP01", DISK_102), Some(changed_102));
}

#[test]
fn restore_refuses_a_running_guest_and_a_snapshot_that_does_not_match() {
    let env = TestEnv::new();
    let snap = storage_snapshot(&env, "ONTAP01");
    let out = env.run(&["vm", "restore", "--vm", "100", "--snapshot", &snap, "--yes"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("guest 100 is running"),
        "{}",
        out.stderr
    );

    // A disk added after the snapshot: named, nothing changes, unless --skip-missing.
    env.world_mut(|w| {
        let g = w.pve.guests.get_mut(&102).unwrap();
        g.config.insert(
            "scsi1".into(),
            "ONTAP01:102/vm-102-disk-1.raw,size=1G".into(),
        );
    });
    env.world_mut(|w| {
        let now = w.ontap.now();
        let v = w
            .ontap
            .volumes
            .iter_mut()
            .find(|v| v.name == "ONTAP01")
            .unwrap();
        v.tree
            .put_file("images/102/vm-102-disk-1.raw", 1 << 30, 1, now);
    });
    env.guest_write(102);
    let gen = generation(&env, "ONTAP01", DISK_102);
    let out = env.run(&["vm", "restore", "--vm", "102", "--snapshot", &snap, "--yes"]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("disk scsi1 (ONTAP01:102/vm-102-disk-1.raw) is not in the snapshot"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--skip-missing"), "{}", out.stderr);
    assert_eq!(generation(&env, "ONTAP01", DISK_102), gen);
    assert!(!dir_files(&env, "ONTAP01", "images/102")
        .keys()
        .any(|f| f.contains("pre-restore")));

    let out = json_run(
        &env,
        &[
            "vm",
            "restore",
            "--vm",
            "102",
            "--snapshot",
            &snap,
            "--skip-missing",
            "--no-keep",
            "--yes",
        ],
    );
    out.assert_ok();
    assert_eq!(out.json()["kept"], Value::Null);
    assert_ne!(generation(&env, "ONTAP01", DISK_102), gen);
    assert!(!dir_files(&env, "ONTAP01", "images/102")
        .keys()
        .any(|f| f.contains("pre-restore")));
}

#[test]
fn a_failed_overwrite_puts_every_disk_back_and_leaves_nothing() {
    let env = TestEnv::new();
    let snap = storage_snapshot(&env, "ONTAP01");
    env.guest_write(102);
    let gen = generation(&env, "ONTAP01", DISK_102);
    let files_before = dir_files(&env, "ONTAP01", "images/102");
    // The keep clone passes, the overwrite fails.
    env.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone")
            .api(Api::Ontap)
            .skip(1)
            .count(1)
            .fail_job(13565952, "Clone start failed."),
    );
    let out = env.run(&["vm", "restore", "--vm", "102", "--snapshot", &snap, "--yes"]);
    out.assert_code(1);
    assert!(
        out.stderr
            .contains("disk scsi0 (ONTAP01:102/vm-102-disk-0.qcow2)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("put back"), "{}", out.stderr);
    assert_eq!(generation(&env, "ONTAP01", DISK_102), gen);
    let files_after = dir_files(&env, "ONTAP01", "images/102");
    assert_eq!(
        files_after.keys().collect::<Vec<_>>(),
        files_before.keys().collect::<Vec<_>>()
    );
}

#[test]
fn list_shows_storage_snapshots_and_their_contents_on_request() {
    let env = TestEnv::new();
    let snap = storage_snapshot(&env, "ONTAP01");
    let all = json_run(&env, &["vm", "list", "--vm", "102"])
        .assert_ok()
        .json();
    let storage: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "storage")
        .collect();
    let names: Vec<&str> = storage.iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(names[0], snap, "newest first: {names:?}");
    assert!(names.contains(&"hourly.2026-11-01_0105"), "{names:?}");
    assert_eq!(storage[0]["storages"], serde_json::json!(["ONTAP01"]));
    assert_eq!(storage[0]["disks"], Value::Null);

    env.clear_requests();
    let with = json_run(&env, &["vm", "list", "--vm", "102", "--contents"])
        .assert_ok()
        .json();
    let entry = with
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "storage" && e["name"] == snap.as_str())
        .unwrap();
    assert_eq!(entry["disks"][0]["key"], "scsi0");
    assert_eq!(entry["disks"][0]["file"], "vm-102-disk-0.qcow2");
    // One directory read per snapshot only with --contents.
    assert!(env.count_requests("GET", "/api/storage/volumes/*/files/%2Esnapshot*") >= 2);

    let text = env.run(&["vm", "list", "--vm", "102"]);
    text.assert_ok();
    assert!(text.stdout.contains(&snap), "{}", text.stdout);
    assert!(text.stdout.contains("storage"), "{}", text.stdout);
}

#[test]
fn list_stays_a_few_requests_on_a_volume_with_1000_snapshots() {
    let env = TestEnv::new();
    env.world_mut(|w| {
        let v = w
            .ontap
            .volumes
            .iter_mut()
            .find(|v| v.name == "ONTAP01")
            .unwrap();
        let template = v.snapshots[0].clone();
        for i in 0..998 {
            let mut s = template.clone();
            s.name = format!("filler.{i:04}");
            s.uuid = format!("00000000-0000-4000-8000-{i:012}");
            v.snapshots.push(s);
        }
    });
    assert_eq!(env.snapshot_names("ONTAP01").len(), 1000);
    env.clear_requests();
    let out = json_run(&env, &["vm", "list", "--vm", "102"]);
    out.assert_ok();
    let storage = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "storage")
        .count();
    assert_eq!(storage, 1000);
    assert_eq!(
        env.count_requests("GET", "/api/storage/volumes/*/files/%2Esnapshot*"),
        0
    );
    let total = env.requests().len();
    assert!(total <= 12, "vm list made {total} requests");
}

#[test]
fn show_config_prints_the_configuration_recorded_with_the_snapshot() {
    let env = TestEnv::new();
    let snap = storage_snapshot(&env, "ONTAP01");
    // The config changes after the snapshot; the recorded one stays.
    env.world_mut(|w| {
        w.pve
            .guests
            .get_mut(&102)
            .unwrap()
            .config
            .insert("memory".into(), "9999".into());
    });
    let out = json_run(
        &env,
        &["vm", "show-config", "--vm", "102", "--snapshot", &snap],
    );
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["config"]["memory"], "2048");
    assert_eq!(j["config"]["name"], "stopped01");
    assert_eq!(j["kind"], "storage");
    let text = env.run(&["vm", "show-config", "--vm", "102", "--snapshot", &snap]);
    text.assert_ok();
    assert!(text.stdout.contains("memory: 2048"), "{}", text.stdout);

    // A snapshot of another tool records none: said clearly.
    let out = env.run(&[
        "vm",
        "show-config",
        "--vm",
        "102",
        "--snapshot",
        "hourly.2026-11-01_0105",
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("record none"), "{}", out.stderr);
}

#[test]
fn clone_makes_a_new_guest_proxmox_lists_with_new_macs() {
    let env = TestEnv::new();
    let snap = storage_snapshot(&env, "ONTAP01");
    env.guest_write(100);
    let out = json_run(
        &env,
        &[
            "vm",
            "clone",
            "--vm",
            "100",
            "--snapshot",
            &snap,
            "--new-vmid",
            "300",
            "--name",
            "web01-restored",
        ],
    );
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["new_vmid"], 300);
    assert_eq!(j["config_source"], "snapshot");
    let guest = env.guest(300).expect("guest 300 exists");
    let c = &guest.config;
    assert_eq!(
        c["scsi0"],
        "ONTAP01:300/vm-300-disk-0.qcow2,iothread=1,size=32G"
    );
    assert!(
        c["virtio0"].starts_with("ONTAP01:300/vm-300-disk-1.raw"),
        "{c:?}"
    );
    assert_eq!(c["name"], "web01-restored");
    assert!(!c.contains_key("unused0"), "{c:?}");
    assert!(c["net0"].starts_with("virtio=BC:24:11:"), "{c:?}");
    assert_ne!(c["net0"], "virtio=BC:24:11:00:01:00,bridge=vmbr0");
    assert!(c["net0"].ends_with(",bridge=vmbr0"), "{c:?}");
    assert_eq!(format!("{:?}", guest.run), "Stopped");
    // The new disks are the snapshot's, not today's.
    let snap_files = env.snapshot_files("ONTAP01", &snap).unwrap();
    assert_eq!(
        generation(&env, "ONTAP01", "images/300/vm-300-disk-0.qcow2"),
        Some(snap_files["images/100/vm-100-disk-0.qcow2"].1)
    );
    // The original is untouched.
    assert_eq!(
        env.guest(100).unwrap().config["net0"],
        "virtio=BC:24:11:00:01:00,bridge=vmbr0"
    );

    // The VMID is taken now.
    let again = env.run(&[
        "vm",
        "clone",
        "--vm",
        "100",
        "--snapshot",
        &snap,
        "--new-vmid",
        "300",
    ]);
    again.assert_code(1);
    assert!(
        again.stderr.contains("VMID 300 is in use"),
        "{}",
        again.stderr
    );

    // Containers are refused with the reason.
    let ct = env.run(&[
        "vm",
        "clone",
        "--vm",
        "200",
        "--snapshot",
        &snap,
        "--new-vmid",
        "301",
    ]);
    ct.assert_code(1);
    assert!(ct.stderr.contains("ostemplate"), "{}", ct.stderr);
}

#[test]
fn a_failed_clone_leaves_no_file_and_no_guest() {
    let env = TestEnv::new();
    let snap = storage_snapshot(&env, "ONTAP01");
    // The third disk's clone fails.
    env.add_fault(
        FaultRule::new("POST", "/api/storage/file/clone")
            .api(Api::Ontap)
            .skip(2)
            .count(1)
            .fail_job(13565952, "Clone start failed."),
    );
    let out = env.run(&[
        "vm",
        "clone",
        "--vm",
        "100",
        "--snapshot",
        &snap,
        "--new-vmid",
        "300",
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("Clone start failed."), "{}", out.stderr);
    assert!(env.guest(300).is_none());
    assert!(!env
        .files("ONTAP01")
        .keys()
        .any(|p| p.starts_with("images/300")));

    // Proxmox refuses the create: the clones are removed again.
    env.add_fault(
        FaultRule::new("POST", "/api2/json/nodes/*/qemu")
            .api(Api::Pve)
            .count(1)
            .status(500),
    );
    let out = env.run(&[
        "vm",
        "clone",
        "--vm",
        "100",
        "--snapshot",
        &snap,
        "--new-vmid",
        "300",
    ]);
    out.assert_code(1);
    assert!(env.guest(300).is_none());
    assert!(!env
        .files("ONTAP01")
        .keys()
        .any(|p| p.starts_with("images/300")));
}

#[test]
fn attach_and_detach_on_a_helper_guest() {
    let env = TestEnv::new();
    let snap = storage_snapshot(&env, "ONTAP01");
    let out = json_run(
        &env,
        &[
            "vm",
            "attach",
            "--vm",
            "100",
            "--snapshot",
            &snap,
            "--disk",
            "virtio0",
            "--to",
            "102",
        ],
    );
    out.assert_ok();
    let j = out.json();
    assert_eq!(j["disks"][0]["key"], "unused0");
    let volid = j["disks"][0]["volume"].as_str().unwrap().to_string();
    assert_eq!(volid, "ONTAP01:102/vm-102-disk-1.raw");
    assert_eq!(env.guest(102).unwrap().config["unused0"], volid);
    let snap_files = env.snapshot_files("ONTAP01", &snap).unwrap();
    assert_eq!(
        generation(&env, "ONTAP01", "images/102/vm-102-disk-1.raw"),
        Some(snap_files["images/100/vm-100-disk-1.raw"].1)
    );
    // Guest 100 is untouched.
    assert_eq!(
        env.guest(100).unwrap().config["virtio0"],
        "ONTAP01:100/vm-100-disk-1.raw,size=8G"
    );

    json_run(&env, &["vm", "detach", "--to", "102", "--disk", "unused0"]).assert_ok();
    assert!(!env.guest(102).unwrap().config.contains_key("unused0"));
    assert!(generation(&env, "ONTAP01", "images/102/vm-102-disk-1.raw").is_none());

    // Only unusedN, and only files in the helper's own directory.
    let out = env.run(&["vm", "detach", "--to", "102", "--disk", "scsi0"]);
    out.assert_code(2);
    env.world_mut(|w| {
        w.pve
            .guests
            .get_mut(&102)
            .unwrap()
            .config
            .insert("unused1".into(), "ONTAP01:100/vm-100-disk-9.raw".into());
    });
    let out = env.run(&["vm", "detach", "--to", "102", "--disk", "unused1"]);
    out.assert_code(1);
    assert!(
        out.stderr.contains("not in the guest's own directory"),
        "{}",
        out.stderr
    );
    assert!(generation(&env, "ONTAP01", "images/100/vm-100-disk-9.raw").is_some());
    assert!(env.guest(102).unwrap().config.contains_key("unused1"));
}

/// Requests of `vm restore --vm 102` from a fresh volume snapshot, with `others` more guests
/// (one disk each) on the same storage.
fn restore_requests(others: u32) -> usize {
    let env = TestEnv::new();
    env.world_mut(|w| {
        let now = w.ontap.now();
        let template = w.pve.guests[&104].clone();
        for i in 0..others {
            let vmid = 700 + i;
            let v = w
                .ontap
                .volumes
                .iter_mut()
                .find(|v| v.name == "ONTAP01")
                .unwrap();
            v.tree.put_file(
                &format!("images/{vmid}/vm-{vmid}-disk-0.raw"),
                1 << 30,
                1,
                now,
            );
            let mut g = template.clone();
            g.vmid = vmid;
            g.config.insert(
                "scsi0".into(),
                format!("ONTAP01:{vmid}/vm-{vmid}-disk-0.raw,size=1G"),
            );
            w.pve.guests.insert(vmid, g);
        }
    });
    let snap = storage_snapshot(&env, "ONTAP01");
    env.guest_write(102);
    env.clear_requests();
    env.run(&["vm", "restore", "--vm", "102", "--snapshot", &snap, "--yes"])
        .assert_ok();
    env.requests().len()
}

#[test]
fn restore_requests_do_not_grow_with_the_other_guests_on_the_storage() {
    let few = restore_requests(0);
    let many = restore_requests(30);
    assert_eq!(
        few, many,
        "vm restore: {few} requests with 0 other guests, {many} with 30"
    );
    // 16, and the configuration of the `pre-restore` set: one write, which on the guest's first
    // set is refused for the missing directory, makes it and writes again.
    assert!(few <= 19, "vm restore made {few} requests");
}

/// What `storage create` adds to record the configurations: the storages on the volume, the
/// guest list, the config of every guest (which ones have a disk on the storage is in the
/// configs), one listing of the configurations' directory and one write per guest with a disk on
/// it.
#[test]
fn storage_create_records_each_guest_once() {
    let env = TestEnv::new();
    storage_snapshot(&env, "ONTAP01");
    env.clear_requests();
    storage_snapshot(&env, "ONTAP01");
    // Seven guests; 100, 101, 102, 104 and 200 have a disk on ONTAP01.
    assert_eq!(env.count_requests("GET", "/api2/json/cluster/resources"), 1);
    assert_eq!(env.count_requests("GET", "/api2/json/nodes/*/config"), 7);
    assert_eq!(
        env.count_requests(
            "POST",
            "/api/storage/volumes/*/files/%2Epve-ontap-snapshot*"
        ),
        5
    );
    assert_eq!(
        env.count_requests(
            "GET",
            "/api/storage/volumes/*/files/%2Epve-ontap-snapshot%2Fguests"
        ),
        1
    );
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/files/*"),
        0
    );
    let files = dir_files(&env, "ONTAP01", ".pve-ontap-snapshot/guests");
    let names: Vec<&String> = files.keys().collect();
    assert_eq!(
        names,
        ["100.json", "101.json", "102.json", "104.json", "200.json"]
    );
}

/// The memory setting guest 102's configuration has in the simulator now.
fn set_memory_102(env: &TestEnv, memory: &str) {
    env.world_mut(|w| {
        w.pve
            .guests
            .get_mut(&102)
            .unwrap()
            .config
            .insert("memory".into(), memory.into());
    });
}

#[test]
fn a_disk_set_records_the_configuration_and_its_delete_removes_it() {
    let env = TestEnv::new();
    let made = json_run(&env, &["vm", "create", "--vm", "102"]);
    made.assert_ok();
    let ts = made.json()["timestamp"].as_str().unwrap().to_string();
    let record = format!(".pve-ontap-snapshot/sets/102/{ts}.json");
    let recorded = |env: &TestEnv| env.files("ONTAP01").keys().any(|p| p.ends_with(&record));
    assert!(recorded(&env), "{:?}", env.files("ONTAP01").keys());
    set_memory_102(&env, "9999");

    let shown = json_run(
        &env,
        &["vm", "show-config", "--vm", "102", "--snapshot", &ts],
    );
    shown.assert_ok();
    let j = shown.json();
    assert_eq!(j["kind"], "disk set");
    assert_eq!(j["config"]["memory"], "2048");

    env.run(&["vm", "delete", "--vm", "102", "--snapshot", &ts])
        .assert_ok();
    assert!(!recorded(&env), "{:?}", env.files("ONTAP01").keys());
}

#[test]
fn a_hook_snapshot_records_the_configuration_of_its_guest() {
    let env = TestEnv::new();
    env.write_config(&format!(
        "{}\n[hook]\npost-stop = storage-snapshot\n",
        env.default_config()
    ));
    set_memory_102(&env, "3072");
    let before = env.snapshot_names("ONTAP01");
    let out = env.run(&["hook", "102", "post-stop"]);
    out.assert_ok();
    let made: Vec<String> = env
        .snapshot_names("ONTAP01")
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    assert_eq!(made.len(), 1, "{made:?}\n{}", out.stderr);
    set_memory_102(&env, "9999");
    let shown = json_run(
        &env,
        &["vm", "show-config", "--vm", "102", "--snapshot", &made[0]],
    );
    shown.assert_ok();
    assert_eq!(shown.json()["config"]["memory"], "3072");
}

#[test]
fn a_destroyed_guest_comes_back_from_a_storage_snapshot_under_its_own_vmid() {
    let env = TestEnv::new();
    env.world_mut(|w| {
        w.pve.guests.get_mut(&102).unwrap().config.insert(
            "net0".into(),
            "virtio=BC:24:11:0A:0B:0C,bridge=vmbr0,firewall=1".into(),
        );
    });
    let snap = storage_snapshot(&env, "ONTAP01");
    let set = json_run(&env, &["vm", "create", "--vm", "102"]);
    set.assert_ok();
    let set = set.json()["timestamp"].as_str().unwrap().to_string();
    let before = env.guest(102).unwrap();
    assert!(before.config.keys().any(|k| k.starts_with("net")));
    // `qm destroy 102`: its configuration goes, and every volume it owns with it.
    env.world_mut(|w| {
        let now = w.ontap.now();
        w.pve.guests.remove(&102);
        let v = w
            .ontap
            .volumes
            .iter_mut()
            .find(|v| v.name == "ONTAP01")
            .unwrap();
        v.tree.remove_all("images/102", now);
    });

    // Without the storage the message says what to add.
    let out = env.run(&["vm", "show-config", "--vm", "102", "--snapshot", &snap]);
    out.assert_code(1);
    assert!(out.stderr.contains("--storage"), "{}", out.stderr);
    // A disk set went with the guest.
    let out = env.run(&[
        "vm",
        "clone",
        "--vm",
        "102",
        "--snapshot",
        &set,
        "--storage",
        "ONTAP01",
        "--new-vmid",
        "102",
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("disk set"), "{}", out.stderr);
    assert!(env.guest(102).is_none());

    let shown = json_run(
        &env,
        &[
            "vm",
            "show-config",
            "--vm",
            "102",
            "--snapshot",
            &snap,
            "--storage",
            "ONTAP01",
        ],
    );
    shown.assert_ok();
    assert_eq!(shown.json()["config"]["name"], "stopped01");

    let back = json_run(
        &env,
        &[
            "vm",
            "clone",
            "--vm",
            "102",
            "--snapshot",
            &snap,
            "--storage",
            "ONTAP01",
            "--new-vmid",
            "102",
        ],
    );
    back.assert_ok();
    let guest = env.guest(102).expect("guest 102 is back");
    assert_eq!(guest.config["name"], "stopped01");
    // Itself again: the MAC addresses it had.
    for (k, v) in &before.config {
        if k.starts_with("net") {
            assert_eq!(guest.config.get(k), Some(v), "{k}");
        }
    }
    assert_eq!(guest.config["memory"], "2048");
    assert!(
        guest
            .config
            .values()
            .any(|v| v.contains("ONTAP01:102/vm-102-disk-0.qcow2")),
        "{:?}",
        guest.config
    );
    assert!(env.files("ONTAP01").contains_key(DISK_102));
}
