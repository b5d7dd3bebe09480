//! Hooks and schedules end to end: the real binary called as Proxmox calls it (hookscript and vzdump
//! argv and environment) against the simulator; locks, coalescing, retention, deferred rescan.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use crate::util::{run_command, Api, FaultRule, Output, TestEnv, BIN, RUN_TIMEOUT, TEST_ROOT_ENV};

/// A bound on waiting for something that must happen (a failure, not a measurement).
const WAIT: Duration = Duration::from_secs(60);

/// The environment Proxmox daemons give a hookscript (reference/proxmox.md §1.4).
const HOOK_ENV: &[(&str, &str)] = &[
    ("PATH", "/sbin:/bin:/usr/sbin:/usr/bin"),
    ("LC_ALL", "C"),
    ("LVM_SUPPRESS_FD_WARNINGS", "1"),
];

fn env_with_policy(policy: &str) -> TestEnv {
    let env = TestEnv::new();
    env.write_config(&format!("{}\n{policy}\n", env.default_config()));
    env
}

/// A copy of one of our wrappers in `hooks/`, calling the binary under test with `--config`.
fn wrapper(env: &TestEnv, name: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hooks")
        .join(name);
    let text = fs::read_to_string(&src).unwrap();
    let call = "/usr/bin/pve-ontap-snapshot ";
    assert!(text.contains(call), "{name} calls {call}");
    // Proxmox gives hooks a fixed environment (vzdump: none), so the test root goes in here.
    let text = text.replace(
        call,
        &format!(
            "/usr/bin/env {TEST_ROOT_ENV}='{}' '{BIN}' --config '{}' ",
            env.dir().display(),
            env.config_path().display()
        ),
    );
    let dst = env.path(&format!("bin/{name}"));
    fs::write(&dst, text).unwrap();
    fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

/// Run the hookscript wrapper as Proxmox does: `<snippet> <vmid> <phase>`, cwd `/`, daemon env.
fn hookscript(env: &TestEnv, vmid: u32, phase: &str) -> Output {
    let mut cmd = Command::new(wrapper(env, "pve-ontap-snapshot-hookscript"));
    cmd.env_clear()
        .envs(HOOK_ENV.iter().copied())
        .current_dir("/")
        .arg(vmid.to_string())
        .arg(phase);
    run_command(cmd, None, RUN_TIMEOUT)
}

/// vzdump's environment for a phase (reference/proxmox.md §2.3), nothing else.
fn vzdump_vars(phase: &str, vmid: Option<u32>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("LC_ALL", "C".to_string()),
        ("LVM_SUPPRESS_FD_WARNINGS", "1".to_string()),
        ("STOREID", "local".to_string()),
    ];
    if phase != "job-init" {
        vars.push(("DUMPDIR", "/var/lib/vz/dump".to_string()));
    }
    if let Some(vmid) = vmid {
        let base = format!("/var/lib/vz/dump/vzdump-qemu-{vmid}-2026_11_01-10_00_00");
        vars.push(("VMTYPE", "qemu".to_string()));
        vars.push(("HOSTNAME", "web01".to_string()));
        vars.push(("TARGET", format!("{base}.vma.zst")));
        vars.push(("LOGFILE", format!("{base}.log")));
    }
    vars
}

fn vzdump_command(env: &TestEnv, phase: &str, guest: Option<(&str, u32)>) -> Command {
    let mut cmd = Command::new(wrapper(env, "pve-ontap-snapshot-vzdump"));
    cmd.env_clear()
        .envs(vzdump_vars(phase, guest.map(|g| g.1)))
        .current_dir("/")
        .arg(phase);
    if let Some((mode, vmid)) = guest {
        cmd.arg(mode).arg(vmid.to_string());
    }
    cmd
}

/// Run the vzdump wrapper as vzdump does: `<script> <phase> [<mode> <vmid>]`, environment wiped.
fn vzdump(env: &TestEnv, phase: &str, guest: Option<(&str, u32)>) -> Output {
    run_command(vzdump_command(env, phase, guest), None, RUN_TIMEOUT)
}

/// Snapshot names of a volume, optionally only those with this label (oldest first).
fn snapshots(env: &TestEnv, volume: &str, label: Option<&str>) -> Vec<String> {
    env.with_volume(volume, |v| {
        v.snapshots
            .iter()
            .filter(|s| label.is_none() || s.snapmirror_label == label)
            .map(|s| s.name.to_string())
            .collect()
    })
}

/// Disk snapshot files of a guest on a volume.
fn disk_snapshots(env: &TestEnv, volume: &str, vmid: u32) -> Vec<String> {
    let dir = format!("images/{vmid}/");
    env.files(volume)
        .into_keys()
        .filter(|p| p.starts_with(&dir) && p.contains("-snapshot-"))
        .collect()
}

/// Requests that would change a guest: suspend, shutdown, stop, config writes.
fn guest_changes(env: &TestEnv) -> usize {
    ["*/status/suspend", "*/status/shutdown", "*/status/stop"]
        .iter()
        .map(|p| env.count_requests("POST", p))
        .sum::<usize>()
        + env.count_requests("PUT", "*/config")
        + env.count_requests("POST", "*/qemu/*/config")
}

#[test]
fn phases_without_action_make_no_request() {
    let env = env_with_policy("[hook]\npost-stop = storage-snapshot\n");
    env.clear_requests();
    for phase in ["pre-start", "post-start", "pre-stop", "some-new-phase"] {
        hookscript(&env, 100, phase).assert_ok();
    }
    for (phase, guest) in [
        ("job-start", None),
        ("backup-start", Some(("snapshot", 100))),
        ("log-end", Some(("snapshot", 100))),
    ] {
        vzdump(&env, phase, guest).assert_ok();
    }
    assert_eq!(env.requests().len(), 0);
}

/// `127.0.0.1:P` of `https://127.0.0.1:P`, as the config spells it.
fn host_of(url: &str) -> &str {
    url.trim_start_matches("https://").trim_end_matches('/')
}

/// A TCP listener that counts connection attempts (stands in for an unreachable API).
fn counting_listener() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            c.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (addr, count)
}

#[test]
fn the_no_op_fast_path_never_contacts_an_endpoint() {
    let env = TestEnv::new();
    let (addr, connections) = counting_listener();
    let text = env
        .default_config()
        .replace(host_of(env.sim().pve_url()), &addr)
        .replace(host_of(env.sim().ontap_url()), &addr);
    assert!(!text.contains(host_of(env.sim().pve_url())));
    assert!(!text.contains(host_of(env.sim().ontap_url())));
    env.write_config(&format!(
        "{text}\n[hook]\npost-stop = storage-snapshot\n[vzdump]\nbackup-end = vm-snapshot\n"
    ));
    hookscript(&env, 100, "pre-start").assert_ok();
    vzdump(&env, "job-end", None).assert_ok();
    vzdump(&env, "backup-start", Some(("stop", 100))).assert_ok();
    assert_eq!(connections.load(Ordering::SeqCst), 0);

    // The same config with an action does try (so the count above means something); the failure
    // is logged and, with the default on-error, the hook still exits 0.
    let out = hookscript(&env, 100, "post-stop");
    out.assert_ok();
    assert!(connections.load(Ordering::SeqCst) > 0);
    assert!(
        out.stderr.contains("result=failed (on-error=continue"),
        "{}",
        out.stderr
    );
    assert_eq!(env.requests().len(), 0);
}

#[test]
fn hookscript_phases_take_the_configured_snapshots() {
    for phase in ["pre-start", "post-start", "pre-stop", "post-stop"] {
        // storage-snapshot: one volume snapshot of the guest's storage, with the label.
        let env = env_with_policy(&format!(
            "[hook]\n{phase} = storage-snapshot\nlabel = h-{phase}\n"
        ));
        let out = hookscript(&env, 102, phase);
        out.assert_ok();
        let label = format!("h-{phase}");
        let made = snapshots(&env, "ONTAP01", Some(&label));
        assert_eq!(made.len(), 1, "{phase}: {}", out.stderr);
        assert!(made[0].starts_with("proxmox_snapshot_"));
        assert!(
            out.stderr.contains(&format!(
                "hook vmid=102 phase={phase} action=storage-snapshot storage=ONTAP01 result=created {}",
                made[0]
            )),
            "{}",
            out.stderr
        );
        assert_eq!(guest_changes(&env), 0);

        // vm-snapshot of a running guest with an agent: frozen only where it runs.
        let env = env_with_policy(&format!(
            "[hook:100]\n{phase} = vm-snapshot\nfreeze = yes\nlabel = v-{phase}\n"
        ));
        let before = disk_snapshots(&env, "ONTAP01", 100).len();
        let out = hookscript(&env, 100, phase);
        out.assert_ok();
        let after = disk_snapshots(&env, "ONTAP01", 100);
        assert!(after.len() > before, "{phase}: {}", out.stderr);
        assert!(after
            .iter()
            .all(|f| f.contains(&format!("-snapshot-v-{phase}-"))
                || !f.contains(&format!("v-{phase}"))));
        let freezes = env.count_requests("POST", "*/agent/fsfreeze-freeze");
        let thaws = env.count_requests("POST", "*/agent/fsfreeze-thaw");
        let guest_off = matches!(phase, "pre-start" | "post-stop");
        assert_eq!(freezes, usize::from(!guest_off), "{phase}");
        assert_eq!(thaws, freezes, "{phase}");
        assert_eq!(guest_changes(&env), 0, "{phase}");
        assert!(
            out.stderr.contains(&format!(
                "hook vmid=100 phase={phase} action=vm-snapshot vmid=100 result=created"
            )),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn a_container_gets_a_snapshot_of_every_storage_it_uses() {
    let env = env_with_policy("[hook:200]\npost-stop = storage-snapshot\nlabel = ct\n");
    let out = hookscript(&env, 200, "post-stop");
    out.assert_ok();
    // rootfs on ONTAP02 (volume pve_vmstore2), mp0 on ONTAP01.
    assert_eq!(
        snapshots(&env, "pve_vmstore2", Some("ct")).len(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(
        snapshots(&env, "ONTAP01", Some("ct")).len(),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("result=created").count(),
        2,
        "{}",
        out.stderr
    );
}

const VZDUMP_JOB_PHASES: &[&str] = &["job-init", "job-start", "job-end", "job-abort"];
const VZDUMP_GUEST_PHASES: &[&str] = &[
    "backup-start",
    "pre-stop",
    "pre-restart",
    "post-restart",
    "backup-end",
    "backup-abort",
    "log-end",
];

#[test]
fn vzdump_phases_take_the_configured_snapshots() {
    let mut policy = String::from("[vzdump]\nlabel = vz\nstorages = ONTAP02\n");
    for phase in VZDUMP_JOB_PHASES.iter().chain(VZDUMP_GUEST_PHASES) {
        policy.push_str(&format!("{phase} = storage-snapshot\n"));
    }
    let env = env_with_policy(&policy);
    let mut expected = 0;
    for phase in VZDUMP_JOB_PHASES {
        let out = vzdump(&env, phase, None);
        out.assert_ok();
        expected += 1;
        assert_eq!(
            snapshots(&env, "pve_vmstore2", Some("vz")).len(),
            expected,
            "{phase}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!(
                "vzdump phase={phase} action=storage-snapshot storage=ONTAP02 result=created"
            )),
            "{}",
            out.stderr
        );
    }
    for (i, phase) in VZDUMP_GUEST_PHASES.iter().enumerate() {
        let mode = ["snapshot", "suspend", "stop"][i % 3];
        let out = vzdump(&env, phase, Some((mode, 103)));
        out.assert_ok();
        expected += 1;
        assert_eq!(
            snapshots(&env, "pve_vmstore2", Some("vz")).len(),
            expected,
            "{phase}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!(
                "vzdump phase={phase} mode={mode} vmid=103 action=storage-snapshot"
            )),
            "{}",
            out.stderr
        );
    }
    assert_eq!(guest_changes(&env), 0);

    // vm-snapshot in every guest phase, for the guest vzdump names; one label per phase, as
    // the phases of one backup follow each other within a second.
    let mut policy = String::from("[vzdump]\nfreeze = yes\n");
    for phase in VZDUMP_GUEST_PHASES {
        policy.push_str(&format!(
            "{phase} = vm-snapshot\n{phase}.label = vz-{phase}\n"
        ));
    }
    let env = env_with_policy(&policy);
    let mut sets = 0;
    for phase in VZDUMP_GUEST_PHASES {
        let out = vzdump(&env, phase, Some(("snapshot", 103)));
        out.assert_ok();
        sets += 1;
        let files = disk_snapshots(&env, "pve_vmstore2", 103);
        assert_eq!(files.len(), sets, "{phase}: {}", out.stderr);
        let labelled = format!("-snapshot-vz-{phase}-");
        assert_eq!(
            files.iter().filter(|f| f.contains(&labelled)).count(),
            1,
            "{files:?}"
        );
    }
    assert_eq!(env.count_requests("POST", "*/agent/fsfreeze-freeze"), sets);
    assert_eq!(env.count_requests("POST", "*/agent/fsfreeze-thaw"), sets);
    assert_eq!(guest_changes(&env), 0);
}

#[test]
fn bad_vzdump_argv_is_a_usage_error() {
    let env = env_with_policy("[vzdump]\nbackup-start = vm-snapshot\n");
    let mut cmd = vzdump_command(&env, "backup-start", None);
    cmd.arg("snapshot");
    let out = run_command(cmd, None, RUN_TIMEOUT);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(env.requests().len(), 0);
}

#[test]
fn hooks_never_read_the_working_directory_config() {
    let env = env_with_policy("[hook]\npost-stop = storage-snapshot\n");
    // A valid config.ini in the working directory, no --config, no environment.
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .envs(HOOK_ENV.iter().copied())
        .current_dir(env.dir())
        .args(["hook", "102", "post-stop"]);
    let out = run_command(cmd, None, RUN_TIMEOUT);
    out.assert_ok();
    assert!(
        out.stderr.contains("never read ./config.ini"),
        "{}",
        out.stderr
    );
    assert_eq!(env.requests().len(), 0);
}

fn unreachable_ontap(env: &TestEnv, policy: &str) {
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let ontap = env.sim().ontap_url();
    let text = env.default_config().replace(host_of(ontap), &addr);
    assert!(!text.contains(host_of(ontap)));
    env.write_config(&format!("{text}\n{policy}\n"));
}

#[test]
fn on_error_decides_whether_proxmox_carries_on() {
    let env = TestEnv::new();
    unreachable_ontap(
        &env,
        "[hook]\npost-stop = storage-snapshot\npre-start = storage-snapshot\n\
         pre-start.on-error = abort\n[vzdump]\njob-start = storage-snapshot\n\
         job-start.storages = ONTAP01\njob-start.on-error = abort\n",
    );
    let out = hookscript(&env, 102, "post-stop");
    out.assert_ok();
    assert!(
        out.stderr.contains("hook vmid=102 phase=post-stop action=storage-snapshot result=failed (on-error=continue"),
        "{}",
        out.stderr
    );

    let out = hookscript(&env, 102, "pre-start");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("result=failed (on-error=abort: aborting the start of guest 102)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("ONTAP01"), "{}", out.stderr);

    let out = vzdump(&env, "job-start", None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("aborting the backup job"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshots(&env, "ONTAP01", Some("hook")).len(), 0);
}

#[test]
fn a_guest_without_ontap_disks_is_skipped() {
    let env = env_with_policy("[hook]\npre-start = storage-snapshot\non-error = abort\n");
    env.world_mut(|w| {
        let g = w.pve.guests.get_mut(&101).unwrap();
        g.config.remove("sata0");
    });
    let out = hookscript(&env, 101, "pre-start");
    out.assert_ok();
    assert!(
        out.stderr
            .contains("result=skipped: guest 101 has no disk on an ONTAP storage"),
        "{}",
        out.stderr
    );
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        0
    );
}

#[test]
fn the_hook_timeout_bounds_the_action_and_thaws() {
    let env =
        env_with_policy("[hook:100]\npost-start = storage-snapshot\nfreeze = yes\ntimeout = 2\n");
    env.add_fault(
        FaultRule::new("POST", "/api/storage/volumes/*/snapshots")
            .api(Api::Ontap)
            .delay_ms(4_000),
    );
    let out = hookscript(&env, 100, "post-start");
    out.assert_ok();
    assert!(
        out.stderr.contains(
            "result=failed (on-error=continue: exit 0, Proxmox carries on): timed out after 2s"
        ),
        "{}",
        out.stderr
    );
    // The guest frozen around the snapshot is thawed before the hook exits ...
    assert!(
        out.stderr.contains("thawed guest 100 after the timeout"),
        "{}",
        out.stderr
    );
    assert!(!env.agent_frozen(100), "guest 100 left frozen");
    // ... and the cluster lock does not stay behind for the next hook.
    assert!(
        out.stderr.contains("released cluster lock"),
        "{}",
        out.stderr
    );
    assert!(!env
        .path("etc/pve/priv/lock/pve-ontap-snapshot-ONTAP01")
        .exists());
}

/// Take the node lock of a storage as another process would (pid and purpose written in).
fn hold_node_lock(env: &TestEnv, storage: &str) -> File {
    let dir = env.path("run/lock/pve-ontap-snapshot");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{storage}.lock"));
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .unwrap();
    f.lock().unwrap();
    f.set_len(0).unwrap();
    writeln!(f, "pid 4242 since 2026-11-01T10:00:00Z: test holds it").unwrap();
    f
}

#[test]
fn a_held_lock_times_out_naming_file_and_holder() {
    let env = env_with_policy(
        "[hook]\npost-stop = storage-snapshot\npre-start = storage-snapshot\n\
         pre-start.on-error = abort\nlock-timeout = 1\n",
    );
    let _held = hold_node_lock(&env, "ONTAP01");
    let lock = env.path("run/lock/pve-ontap-snapshot/ONTAP01.lock");
    let out = hookscript(&env, 102, "post-stop");
    out.assert_ok();
    assert!(
        out.stderr
            .contains(&format!("could not lock {} within", lock.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("held by pid 4242 since 2026-11-01T10:00:00Z: test holds it"),
        "{}",
        out.stderr
    );
    let out = hookscript(&env, 102, "pre-start");
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("aborting the start of guest 102"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshots(&env, "ONTAP01", Some("hook")).len(), 0);
}

#[test]
fn cluster_locks_stale_and_fresh() {
    let env = env_with_policy("[hook]\npost-stop = storage-snapshot\nlock-timeout = 1\n");
    let lock = env.path("etc/pve/priv/lock/pve-ontap-snapshot-ONTAP01");
    // A fresh lock of another node blocks ...
    fs::create_dir(&lock).unwrap();
    let out = hookscript(&env, 102, "post-stop");
    out.assert_ok();
    assert!(
        out.stderr
            .contains(&format!("could not lock {} within", lock.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("held by another process or node"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshots(&env, "ONTAP01", Some("hook")).len(), 0);

    // ... one not refreshed for more than 120 s is stale and taken over.
    let old = SystemTime::now() - Duration::from_secs(200);
    File::open(&lock)
        .unwrap()
        .set_times(fs::FileTimes::new().set_modified(old).set_accessed(old))
        .unwrap();
    let out = hookscript(&env, 102, "post-stop");
    out.assert_ok();
    assert!(
        out.stderr.contains("removed stale cluster lock"),
        "{}",
        out.stderr
    );
    assert_eq!(snapshots(&env, "ONTAP01", Some("hook")).len(), 1);
    assert!(!lock.exists(), "released after use");
}

#[test]
fn twenty_concurrent_post_stop_hooks_share_one_snapshot() {
    let env = env_with_policy("[hook]\npost-stop = storage-snapshot\n");
    let vmids: Vec<u32> = (300..320).collect();
    env.world_mut(|w| {
        let template = w.pve.guests.get(&102).unwrap().clone();
        for &vmid in &vmids {
            let mut g = template.clone();
            g.vmid = vmid;
            g.config.insert(
                "scsi0".into(),
                format!("ONTAP01:{vmid}/vm-{vmid}-disk-0.raw,size=2G"),
            );
            g.config.insert("name".into(), format!("guest{vmid}"));
            w.pve.guests.insert(vmid, g);
        }
    });
    let before = snapshots(&env, "ONTAP01", None).len();
    // Hold the storage lock until all twenty wait for it, so they are certainly concurrent.
    let held = hold_node_lock(&env, "ONTAP01");
    let hook = wrapper(&env, "pve-ontap-snapshot-hookscript");
    let (tx, rx) = mpsc::channel::<u32>();
    let children: Vec<_> = vmids
        .iter()
        .map(|&vmid| {
            let mut child = Command::new(&hook)
                .env_clear()
                .envs(HOOK_ENV.iter().copied())
                .current_dir("/")
                .arg(vmid.to_string())
                .arg("post-stop")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let stderr = child.stderr.take().unwrap();
            let tx = tx.clone();
            let reader = std::thread::spawn(move || {
                let mut all = String::new();
                for line in BufReader::new(stderr).lines() {
                    let line = line.unwrap_or_default();
                    if line.contains("waiting for lock") {
                        let _ = tx.send(vmid);
                    }
                    all.push_str(&line);
                    all.push('\n');
                }
                all
            });
            (vmid, child, reader)
        })
        .collect();
    let deadline = Instant::now() + WAIT;
    let mut waiting = 0;
    while waiting < vmids.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(_) => waiting += 1,
            Err(_) => panic!("only {waiting} of 20 hooks reached the lock"),
        }
    }
    drop(held);
    let mut created = 0;
    let mut reused = 0;
    for (vmid, mut child, reader) in children {
        let status = child.wait().unwrap();
        let stderr = reader.join().unwrap();
        assert!(status.success(), "guest {vmid}: {status}\n{stderr}");
        created += stderr.matches("result=created").count();
        reused += stderr.matches("result=reused").count();
    }
    let made = snapshots(&env, "ONTAP01", None).len() - before;
    assert!((1..=2).contains(&made), "{made} snapshots for 20 guests");
    assert_eq!((created, created + reused), (made, 20));
}

#[test]
fn retention_keeps_the_newest_of_the_label_only() {
    let env = env_with_policy("[hook]\npost-stop = storage-snapshot\nkeep = 2\n");
    let others = snapshots(&env, "ONTAP01", None);
    assert!(others.contains(&"hourly.2026-11-01_0105".to_string()));
    let mut made = Vec::new();
    for _ in 0..3 {
        hookscript(&env, 102, "post-stop").assert_ok();
        let now = snapshots(&env, "ONTAP01", Some("hook"));
        made.extend(
            now.iter()
                .filter(|n| !made.contains(*n))
                .cloned()
                .collect::<Vec<_>>(),
        );
    }
    let kept = snapshots(&env, "ONTAP01", Some("hook"));
    assert_eq!(made.len(), 3);
    assert_eq!(kept, made[1..].to_vec());
    // The original tool's snapshot and ONTAP's own are untouched.
    let all = snapshots(&env, "ONTAP01", None);
    for name in &others {
        assert!(all.contains(name), "{name} was deleted");
    }

    // Disk snapshots: keep = 1 per label.
    let env = env_with_policy("[hook:102]\npost-stop = vm-snapshot\nkeep = 1\nlabel = stopped\n");
    for _ in 0..2 {
        // Within one second, the second set takes the next free second: no waiting.
        hookscript(&env, 102, "post-stop").assert_ok();
    }
    let files = disk_snapshots(&env, "ONTAP01", 102);
    assert_eq!(files.len(), 1, "{files:?}");
}

#[test]
fn a_schedule_run_snapshots_and_prunes() {
    let env =
        env_with_policy("[schedule:hourly]\nstorages = ONTAP01, ONTAP02\nguests = 102\nkeep = 1\n");
    // A second run within the same second names its storage snapshots after the next second
    // (waiting for it) and its disk set after the next free second.
    for _ in 0..2 {
        let out = env.run(&["run", "hourly"]);
        out.assert_ok();
        assert!(
            out.stderr.contains("schedule name=hourly result=ok"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(snapshots(&env, "ONTAP01", Some("hourly")).len(), 1);
    assert_eq!(snapshots(&env, "pve_vmstore2", Some("hourly")).len(), 1);
    assert_eq!(disk_snapshots(&env, "ONTAP01", 102).len(), 1);

    let out = env.run(&["run", "daily"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("[schedule:daily]"), "{}", out.stderr);
}

/// A fake `qm` that records its arguments, and the node marker naming node pve1.
fn fake_node(env: &TestEnv) -> PathBuf {
    let log = env.path("qm.log");
    let qm = env.path("usr/sbin/qm");
    fs::write(
        &qm,
        format!("#!/bin/sh\necho \"$@\" >> '{}'\n", log.display()),
    )
    .unwrap();
    fs::set_permissions(&qm, fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir_all(env.path("etc/pve/nodes/pve1")).unwrap();
    std::os::unix::fs::symlink("nodes/pve1", env.path("etc/pve/local")).unwrap();
    log
}

fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(text) = fs::read_to_string(path) {
            if !text.is_empty() {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rescan_waits_for_the_config_lock() {
    let env = env_with_policy("[hook:100]\npost-stop = vm-snapshot\n");
    let log = fake_node(&env);
    // Proxmox holds the guest's config lock while the hook runs.
    let config_lock = File::create(env.path("run/lock/qemu-server/lock-100.conf")).unwrap();
    config_lock.lock().unwrap();
    let out = hookscript(&env, 100, "post-stop");
    out.assert_ok();
    assert!(out.stderr.contains("deferred"), "{}", out.stderr);
    assert!(!log.exists(), "qm ran while the config lock was held");
    drop(config_lock);
    assert_eq!(wait_for_file(&log).trim(), "rescan --vmid 100");
}

#[test]
fn rescan_under_vzdump_waits_for_the_job_to_end() {
    let env = env_with_policy("[vzdump]\nbackup-end = vm-snapshot\n");
    let log = fake_node(&env);
    // A stand-in for the vzdump process: runs the hook, then waits for the test to end the job.
    let hook = wrapper(&env, "pve-ontap-snapshot-vzdump");
    let mut job = Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "'{}' backup-end snapshot 100; echo \"exit $?\"; read _",
            hook.display()
        ))
        .env_clear()
        .envs(vzdump_vars("backup-end", Some(100)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(job.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "exit 0");
    assert!(!log.exists(), "qm ran while the backup job was running");
    drop(job.stdin.take()); // the job ends
    job.wait().unwrap();
    assert_eq!(wait_for_file(&log).trim(), "rescan --vmid 100");
}
