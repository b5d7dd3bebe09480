//! A cluster in one machine: several "nodes" are runs of the real binary with their own test root
//! (own node lock directory, own `/etc/pve/local`) sharing one `/etc/pve/priv` (the cluster lock
//! folder), against one simulator. CLI mutations under the storage lock, the ownership of the
//! cluster lock, hook time limits, schedules run on every node, the rescan waiter.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::util::{run_command, Api, FaultRule, Output, TestEnv, BIN, RUN_TIMEOUT, TEST_ROOT_ENV};

/// The cluster lock of ONTAP01 as every node sees it.
const LOCK: &str = "etc/pve/priv/lock/pve-ontap-snapshot-ONTAP01";

/// One node: a test root below the environment's directory.
struct Node {
    root: PathBuf,
    name: String,
}

impl Node {
    /// A node called `name` sharing the environment's `etc/pve/priv`.
    fn new(env: &TestEnv, name: &str) -> Node {
        let root = env.path(&format!("node-{name}"));
        for sub in ["etc/pve/nodes", "run/lock/qemu-server", "run/lock/lxc"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        fs::create_dir_all(root.join(format!("etc/pve/nodes/{name}"))).unwrap();
        std::os::unix::fs::symlink(format!("nodes/{name}"), root.join("etc/pve/local")).unwrap();
        std::os::unix::fs::symlink(env.path("etc/pve/priv"), root.join("etc/pve/priv")).unwrap();
        fs::create_dir_all(root.join("var")).unwrap();
        std::os::unix::fs::symlink("../run/lock", root.join("var/lock")).unwrap();
        File::create(root.join(crate::util::TEST_ROOT_MARKER)).unwrap();
        Node {
            root,
            name: name.to_string(),
        }
    }

    fn command(&self, env: &TestEnv, args: &[&str]) -> Command {
        let mut cmd = env.command(args);
        cmd.env(TEST_ROOT_ENV, &self.root);
        cmd
    }

    fn run(&self, env: &TestEnv, args: &[&str]) -> Output {
        run_command(self.command(env, args), None, RUN_TIMEOUT)
    }

    /// `hook <vmid> <phase>` as Proxmox calls the hookscript.
    fn hook(&self, env: &TestEnv, vmid: u32, phase: &str) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", "/sbin:/bin:/usr/sbin:/usr/bin")
            .env("LC_ALL", "C")
            .env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none")
            .env(TEST_ROOT_ENV, &self.root)
            .current_dir("/")
            .arg("--config")
            .arg(env.config_path())
            .args(["hook", &vmid.to_string(), phase]);
        run_command(cmd, None, RUN_TIMEOUT)
    }
}

fn env_with_policy(policy: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write_config(&format!("{}\n{policy}\n", env.default_config()));
    env
}

/// Wait (bounded) until `path` exists.
fn wait_for(path: &Path) {
    let until = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(Instant::now() < until, "{} never appeared", path.display());
        thread::sleep(Duration::from_millis(10));
    }
}

fn snapshots_labelled(env: &TestEnv, volume: &str, label: &str) -> Vec<String> {
    env.with_volume(volume, |v| {
        v.snapshots
            .iter()
            .filter(|s| s.snapmirror_label == Some(label))
            .map(|s| s.name.to_string())
            .collect()
    })
}

/// Timestamps of the disk snapshot sets of a guest on a volume.
fn disk_sets(env: &TestEnv, volume: &str, vmid: u32) -> BTreeSet<String> {
    let dir = format!("images/{vmid}/");
    env.files(volume)
        .into_keys()
        .filter(|p| p.starts_with(&dir))
        .filter_map(|p| {
            let (_, rest) = p.split_once("-snapshot-")?;
            Some(rest.rsplit_once('.').map_or(rest, |(ts, _)| ts).to_string())
        })
        .collect()
}

/// Arrival times of the requests matching `method` and `pattern`.
fn arrivals(env: &TestEnv, method: &str, pattern: &str) -> Vec<OffsetDateTime> {
    env.requests_matching(Some(Api::Ontap), method, pattern)
        .iter()
        .map(|r| OffsetDateTime::parse(&r.time, &Rfc3339).unwrap())
        .collect()
}

/// The name after `result=created ` in a hook's log.
fn created(stderr: &str) -> String {
    let at = stderr
        .find("result=created ")
        .unwrap_or_else(|| panic!("nothing created:\n{stderr}"));
    stderr[at + "result=created ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn a_cli_restore_racing_a_hook_snapshot_names_it() {
    let env = env_with_policy("[hook:102]\npost-stop = storage-snapshot\n");
    let (a, b) = (Node::new(&env, "pve1"), Node::new(&env, "pve2"));
    let before: BTreeSet<String> = env.snapshot_names("ONTAP01").into_iter().collect();
    a.run(&env, &["storage", "create", "--storage", "ONTAP01"])
        .assert_ok();
    let base = env
        .snapshot_names("ONTAP01")
        .into_iter()
        .find(|n| !before.contains(n))
        .unwrap();
    thread::sleep(Duration::from_millis(1100)); // the hook's snapshot gets a newer name
                                                // The hook's snapshot request is slow: it holds the storage lock while ONTAP works.
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes/*/snapshots")
            .api(Api::Ontap)
            .count(1)
            .delay_ms(2000),
    );
    let (hook, restore) = thread::scope(|s| {
        let hook = s.spawn(|| a.hook(&env, 102, "post-stop"));
        wait_for(&env.path(LOCK));
        let restore = b.run(
            &env,
            &[
                "storage",
                "restore",
                "--storage",
                "ONTAP01",
                "--snapshot",
                &base,
                "--yes",
                "--force",
            ],
        );
        (hook.join().unwrap(), restore)
    });
    hook.assert_ok();
    let made = created(&hook.stderr);
    restore.assert_ok();
    let told = format!("{}{}", restore.stdout, restore.stderr);
    // The restore waited for the hook, planned afterwards, and named what it discarded.
    assert!(
        restore.stderr.contains("waiting for cluster lock"),
        "{}",
        restore.stderr
    );
    assert!(
        restore.stderr.contains("on node pve1"),
        "{}",
        restore.stderr
    );
    assert!(told.contains(&made), "the hook's {made} not named:\n{told}");
    assert!(!env.snapshot_names("ONTAP01").contains(&made));
    assert!(!env.path(LOCK).exists());
}

#[test]
fn two_cli_mutations_on_one_storage_serialise() {
    let env = TestEnv::new();
    let (a, b) = (Node::new(&env, "pve1"), Node::new(&env, "pve2"));
    let before = env.snapshot_names("ONTAP01").len();
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes/*/snapshots")
            .api(Api::Ontap)
            .count(1)
            .delay_ms(1500),
    );
    let (first, second) = thread::scope(|s| {
        let first = s.spawn(|| a.run(&env, &["storage", "create", "--storage", "ONTAP01"]));
        wait_for(&env.path(LOCK));
        let second = b.run(&env, &["storage", "create", "--storage", "ONTAP01"]);
        (first.join().unwrap(), second)
    });
    first.assert_ok();
    second.assert_ok();
    // The second named the holder: pid, node, what it does, since when.
    let holder = second
        .stderr
        .lines()
        .find(|l| l.contains("waiting for cluster lock"))
        .unwrap_or_else(|| panic!("never waited:\n{}", second.stderr));
    assert!(holder.contains("held by pid "), "{holder}");
    assert!(holder.contains(" on node pve1 since "), "{holder}");
    assert!(holder.contains("storage create"), "{holder}");
    // ONTAP saw the second request only after the first had been answered.
    let times = arrivals(&env, "POST", "/api/storage/volumes/*/snapshots");
    assert_eq!(times.len(), 2, "{times:?}");
    assert!(
        times[1] - times[0] >= Duration::from_millis(1400),
        "{times:?}"
    );
    assert_eq!(env.snapshot_names("ONTAP01").len(), before + 2);
    assert!(!env.path(LOCK).exists());
}

#[test]
fn a_lock_taken_over_after_expiry_is_never_removed_by_the_first_holder() {
    let env = TestEnv::new();
    let (a, b) = (Node::new(&env, "pve1"), Node::new(&env, "pve2"));
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes/*/snapshots")
            .api(Api::Ontap)
            .count(2)
            .delay_ms(3000),
    );
    let lock = env.path(LOCK);
    let (first, after_first, second) = thread::scope(|s| {
        let first = s.spawn(|| a.run(&env, &["storage", "create", "--storage", "ONTAP01"]));
        wait_for(&lock);
        // The first holder stalls: to every other node its lock looks 200 s old (expired).
        let old = std::time::SystemTime::now() - Duration::from_secs(200);
        File::open(&lock)
            .unwrap()
            .set_times(fs::FileTimes::new().set_modified(old).set_accessed(old))
            .unwrap();
        let second = s.spawn(|| b.run(&env, &["storage", "create", "--storage", "ONTAP01"]));
        let first = first.join().unwrap();
        // The second holder is still inside its slow request: its lock must be there.
        let after_first = lock.is_dir();
        (first, after_first, second.join().unwrap())
    });
    first.assert_ok();
    second.assert_ok();
    assert!(
        second.stderr.contains("removed stale cluster lock"),
        "{}",
        second.stderr
    );
    assert!(
        first.stderr.contains("did not remove cluster lock")
            && first.stderr.contains("ownership not proven"),
        "{}",
        first.stderr
    );
    assert!(
        after_first,
        "the first holder removed the second holder's lock"
    );
    assert!(!lock.exists(), "the second holder released its lock");
}

#[test]
fn a_timed_out_hook_keeps_the_lock_until_its_ontap_request_ended() {
    let env = env_with_policy("[hook:102]\npost-stop = storage-snapshot\ntimeout = 1\n");
    let a = Node::new(&env, "pve1");
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes/*/snapshots")
            .api(Api::Ontap)
            .count(1)
            .delay_ms(3000),
    );
    let lock = env.path(LOCK);
    let started = Instant::now();
    let (out, held_while_in_flight) = thread::scope(|s| {
        let hook = s.spawn(|| a.hook(&env, 102, "post-stop"));
        // Past the hook's time limit, the request is still in flight at ONTAP.
        thread::sleep(Duration::from_millis(2000));
        let held = lock.is_dir();
        (hook.join().unwrap(), held)
    });
    let took = started.elapsed();
    out.assert_ok();
    assert!(out.stderr.contains("timed out after 1s"), "{}", out.stderr);
    assert!(
        held_while_in_flight,
        "lock released while ONTAP still worked"
    );
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    // When the hook exits, ONTAP's work is done and the lock is gone.
    assert_eq!(snapshots_labelled(&env, "ONTAP01", "hook").len(), 1);
    assert!(
        out.stderr.contains("released cluster lock"),
        "{}",
        out.stderr
    );
    assert!(!lock.exists());
}

#[test]
fn three_nodes_running_one_schedule_make_one_snapshot_and_one_disk_set_each() {
    let env = env_with_policy("[schedule:hourly]\nstorages = ONTAP01\nguests = 100, 102\n");
    let nodes: Vec<Node> = ["pve1", "pve2", "pve3"]
        .iter()
        .map(|n| Node::new(&env, n))
        .collect();
    let outs: Vec<Output> = thread::scope(|s| {
        let runs: Vec<_> = nodes
            .iter()
            .map(|n| s.spawn(|| n.run(&env, &["run", "hourly"])))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (n, out) in nodes.iter().zip(&outs) {
        out.assert_ok();
        assert!(
            out.stderr.contains("schedule name=hourly result=ok"),
            "{}: {}",
            n.name,
            out.stderr
        );
    }
    assert_eq!(snapshots_labelled(&env, "ONTAP01", "hourly").len(), 1);
    assert_eq!(disk_sets(&env, "ONTAP01", 100).len(), 1);
    assert_eq!(disk_sets(&env, "ONTAP01", 102).len(), 1);
    let all: String = outs.iter().map(|o| o.stderr.as_str()).collect();
    assert_eq!(
        all.matches("action=storage-snapshot storage=ONTAP01 result=skipped")
            .count(),
        2,
        "{all}"
    );
    // Guest 100 runs on pve1, 102 on pve2: the other nodes say so.
    assert!(
        outs[2].stderr.contains("vmid=100 result=skipped"),
        "{}",
        outs[2].stderr
    );
    assert!(
        outs[2].stderr.contains("runs on node pve1"),
        "{}",
        outs[2].stderr
    );
    assert!(
        outs[0].stderr.contains("vmid=102 result=skipped"),
        "{}",
        outs[0].stderr
    );
}

#[test]
fn a_node_without_quorum_runs_no_schedule() {
    let env = env_with_policy("[schedule:hourly]\nstorages = ONTAP01\n");
    let a = Node::new(&env, "pve1");
    // pmxcfs without quorum shows every directory read-only.
    fs::set_permissions(a.root.join("etc/pve"), fs::Permissions::from_mode(0o555)).unwrap();
    let out = a.run(&env, &["run", "hourly"]);
    fs::set_permissions(a.root.join("etc/pve"), fs::Permissions::from_mode(0o755)).unwrap();
    out.assert_ok();
    assert!(
        out.stderr.contains("not in the cluster's quorum"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshots_labelled(&env, "ONTAP01", "hourly").len(), 0);
}

#[test]
fn a_cluster_node_without_pmxcfs_refuses_mutations() {
    let env = TestEnv::new();
    let a = Node::new(&env, "pve1");
    fs::create_dir_all(a.root.join("etc/corosync")).unwrap();
    fs::write(a.root.join("etc/corosync/corosync.conf"), "totem {}\n").unwrap();
    let before = env.snapshot_names("ONTAP01");
    let out = a.run(&env, &["storage", "create", "--storage", "ONTAP01"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("cluster file system not online"),
        "{}",
        out.stderr
    );
    assert_eq!(env.snapshot_names("ONTAP01"), before);
    // Reading needs no lock.
    a.run(&env, &["storage", "list", "--storage", "ONTAP01"])
        .assert_ok();
}

#[test]
fn lock_timeout_bounds_the_wait_and_names_the_holder() {
    let env = TestEnv::new();
    let dir = env.path("run/lock/pve-ontap-snapshot");
    fs::create_dir_all(&dir).unwrap();
    let mut held = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("ONTAP01.lock"))
        .unwrap();
    held.lock().unwrap();
    writeln!(held, "pid 4242 since 2026-11-01T10:00:00Z: test holds it").unwrap();
    let before = env.snapshot_names("ONTAP01");
    let started = Instant::now();
    let out = env.run(&[
        "storage",
        "create",
        "--storage",
        "ONTAP01",
        "--lock-timeout",
        "1s",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        out.stderr
            .contains("held by pid 4242 since 2026-11-01T10:00:00Z: test holds it"),
        "{}",
        out.stderr
    );
    assert_eq!(env.snapshot_names("ONTAP01"), before);
    // Read-only commands take no lock.
    env.run(&["storage", "list", "--storage", "ONTAP01"])
        .assert_ok();
    let bad = env.run(&[
        "storage",
        "create",
        "--storage",
        "ONTAP01",
        "--lock-timeout",
        "soon",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn a_second_rescan_request_joins_the_waiting_one() {
    let env = env_with_policy("[hook:100]\npost-stop = vm-snapshot\n");
    let a = Node::new(&env, "pve1");
    let log = env.path("qm.log");
    let qm = a.root.join("usr/sbin/qm");
    fs::create_dir_all(qm.parent().unwrap()).unwrap();
    fs::write(
        &qm,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    )
    .unwrap();
    fs::set_permissions(&qm, fs::Permissions::from_mode(0o755)).unwrap();
    // Proxmox holds the guest's config lock while its hooks run.
    let config_lock = File::create(a.root.join("run/lock/qemu-server/lock-100.conf")).unwrap();
    config_lock.lock().unwrap();
    let first = a.hook(&env, 100, "post-stop");
    first.assert_ok();
    let pid: u32 = first
        .stderr
        .split("deferred to process ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no waiter pid:\n{}", first.stderr));
    let slot = a.root.join("run/lock/pve-ontap-snapshot/rescan-100.lock");
    wait_for(&slot);
    // The waiter leads a session of its own (setsid): the hook's caller can end without it.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let session: u32 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(session, pid, "{stat}");
    thread::sleep(Duration::from_millis(1100)); // a new set timestamp
    let second = a.hook(&env, 100, "post-stop");
    second.assert_ok();
    assert!(
        second
            .stderr
            .contains(&format!("joined the waiting process {pid}")),
        "{}",
        second.stderr
    );
    drop(config_lock);
    let until = Instant::now() + Duration::from_secs(30);
    while slot.exists() {
        assert!(Instant::now() < until, "the waiter never ended");
        thread::sleep(Duration::from_millis(50));
    }
    // One waiter, one rescan for both requests, nothing left behind, the process gone.
    let until = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
    {
        assert!(Instant::now() < until, "waiter {pid} still runs");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(fs::read_to_string(&log).unwrap(), "rescan --vmid 100\n");
    let left: Vec<_> = fs::read_dir(a.root.join("run/lock/pve-ontap-snapshot"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy().starts_with("rescan-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
