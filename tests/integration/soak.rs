//! Soak: 300 hook invocations (hookscript and vzdump, random guests and phases from a seeded
//! xorshift) 8 at a time while 5% of API requests fail; then every invariant and the retention counts.

use std::collections::BTreeMap;
use std::time::Instant;

use pve_ontap_sim::{FaultRule, SimOptions};
use serde_json::Value;

use crate::faults::harness::{parallel, with_timeouts, Bench, Invocation};
use crate::faults::state;
use crate::util::Output;

const INVOCATIONS: usize = 300;
const AT_ONCE: usize = 8;
const SEED: u64 = 0x005e_ed0f_50a6;
/// Requests answered 500 (ONTAP or Proxmox error body) and dropped without an answer.
const ERROR_SHARE: f64 = 0.04;
const DROP_SHARE: f64 = 0.01;

const POLICY: &str = "
[hook]
post-stop = storage-snapshot
post-stop.label = soakstop
post-stop.keep = 3

[hook:100]
pre-start = vm-snapshot
pre-start.label = soakvm
pre-start.keep = 2

[hook:103]
pre-stop = vm-snapshot
pre-stop.label = soakdb
pre-stop.keep = 2
pre-stop.freeze = yes

[vzdump]
job-start = storage-snapshot
job-start.storages = ONTAP02
job-start.label = soakjob
job-start.keep = 2
backup-start = vm-snapshot
backup-start.label = soakbackup
backup-start.keep = 2
";

/// (volume, label) → keep, for the storage snapshots the policy makes.
const STORAGE_GROUPS: &[(&str, &str, usize)] = &[
    ("ONTAP01", "soakstop", 3),
    ("pve_vmstore2", "soakstop", 3),
    ("pve_nested", "soakstop", 3),
    ("pve_vmstore2", "soakjob", 2),
];
/// (guest, label, files per set, keep) for the disk snapshots the policy makes.
const VM_GROUPS: &[(u32, &str, usize, usize)] = &[
    (100, "soakvm", 4, 2),
    (103, "soakdb", 1, 2),
    (100, "soakbackup", 4, 2),
    (101, "soakbackup", 1, 2),
    (102, "soakbackup", 1, 2),
    (103, "soakbackup", 1, 2),
    (104, "soakbackup", 1, 2),
    (105, "soakbackup", 1, 2),
    (200, "soakbackup", 2, 2),
];

/// xorshift64: enough randomness for picking guests and phases, reproducible from the seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const GUESTS: &[u32] = &[100, 101, 102, 103, 104, 105, 200];
const HOOK_PHASES: &[&str] = &["pre-start", "post-start", "pre-stop", "post-stop"];

fn invocations(seed: u64, n: usize) -> Vec<Invocation> {
    let mut rng = XorShift(seed);
    (0..n)
        .map(|_| {
            let vmid = GUESTS[rng.below(GUESTS.len())].to_string();
            let vmtype = if vmid == "200" { "lxc" } else { "qemu" };
            match rng.below(8) {
                0 => vzdump(&["job-start"], None),
                1 => vzdump(&["backup-start", "snapshot", &vmid], Some(vmtype)),
                2 => vzdump(&["backup-end", "snapshot", &vmid], Some(vmtype)),
                3 if rng.below(2) == 0 => vzdump(&["job-end"], None),
                _ => Invocation::args(&["hook", &vmid, HOOK_PHASES[rng.below(4)]]),
            }
        })
        .collect()
}

/// A vzdump call with the variables vzdump sets.
fn vzdump(args: &[&str], vmtype: Option<&str>) -> Invocation {
    let mut argv = vec!["vzdump"];
    argv.extend_from_slice(args);
    let mut env = vec![("STOREID", "local"), ("DUMPDIR", "/var/lib/vz/dump")];
    if let Some(t) = vmtype {
        env.push(("VMTYPE", t));
    }
    Invocation::args(&argv).with_env(&env)
}

/// Storage snapshots per (volume, label).
type StorageCounts = BTreeMap<(String, String), usize>;
/// Disk snapshot files per guest.
type DiskFiles = BTreeMap<u32, Vec<String>>;

/// Storage snapshots per (volume, label), disk snapshot files per guest.
fn snapshot_counts(dump: &Value) -> (StorageCounts, DiskFiles) {
    let mut storage = BTreeMap::new();
    let mut disks = DiskFiles::new();
    for v in dump["ontap"]["volumes"].as_array().into_iter().flatten() {
        let volume = v["name"].as_str().unwrap_or_default().to_string();
        for s in v["snapshots"].as_array().into_iter().flatten() {
            let label = s["snapmirror_label"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            *storage.entry((volume.clone(), label)).or_insert(0) += 1;
        }
        for f in v["files"].as_array().into_iter().flatten() {
            let path = f["path"].as_str().unwrap_or_default();
            if !path.contains("-snapshot-") {
                continue;
            }
            let vmid = path
                .rsplit('/')
                .next()
                .and_then(|name| name.strip_prefix("vm-"))
                .and_then(|rest| rest.split('-').next())
                .and_then(|id| id.parse().ok())
                .unwrap_or(0);
            disks.entry(vmid).or_default().push(path.to_string());
        }
    }
    (storage, disks)
}

/// Snapshot sets of a guest with `label` ("" for none): timestamp → number of files. A file is
/// `<stem>-snapshot-[<label>-]<YYYY-mm-dd_HH:MM:SS+0000>.<ext>`.
fn sets(files: &[String], label: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for f in files {
        let Some((_, rest)) = f.split_once("-snapshot-") else {
            continue;
        };
        let tag = rest.rsplit_once('.').map_or(rest, |(tag, _)| tag);
        let Some(split) = tag.len().checked_sub(24) else {
            continue;
        };
        let (prefix, ts) = tag.split_at(split);
        if prefix.strip_suffix('-').unwrap_or(prefix) == label {
            *out.entry(ts.to_string()).or_insert(0) += 1;
        }
    }
    out
}

fn options() -> SimOptions {
    let mut scenario = pve_ontap_sim::Scenario::default();
    scenario.ontap.job_duration_ms = 20;
    scenario.pve.timing.task_ms = 20;
    SimOptions {
        scenario,
        ..SimOptions::default()
    }
}

#[test]
fn soak_hooks_under_random_faults() {
    let started = Instant::now();
    let bench = Bench::new(options(), POLICY);
    let config = with_timeouts(&bench.env.default_config(), 10) + POLICY;
    bench.env.write_config(&config);
    let before = bench.env.state();
    bench.env.add_fault(
        FaultRule::new("*", "*")
            .count(0)
            .status(500)
            .reason("simulated failure")
            .probability(ERROR_SHARE, SEED),
    );
    bench.env.add_fault(
        FaultRule::new("*", "*")
            .count(0)
            .drop_connection()
            .probability(DROP_SHARE, SEED ^ 0xffff),
    );

    // Every thread runs against the one simulator.
    let outputs: Vec<(Invocation, Output)> = parallel(
        invocations(SEED, INVOCATIONS),
        AT_ONCE,
        &|| (),
        &|_, inv| {
            let out = bench.run(&inv);
            (inv, out)
        },
    );
    let requests = bench.env.requests().len();
    let injected: u64 = bench.env.sim().faults().iter().map(|f| f.applied).sum();
    bench.env.sim().clear_faults();

    // Every invocation: exit 0 (on-error = continue), no panic, no hang.
    let mut problems = Vec::new();
    let mut failed_runs = 0;
    for (inv, out) in &outputs {
        if out.code != 0 || out.stderr.contains("panicked") {
            problems.push(format!(
                "'{}' exited {}:\n{}",
                inv.args.join(" "),
                out.code,
                out.stderr
            ));
        }
        if out.stderr.contains("pve-ontap-snapshot: error: ")
            || out.stderr.contains("pve-ontap-snapshot: warning: ")
        {
            failed_runs += 1;
        }
    }
    // Configurations of removed disk sets that a fault kept from being deleted: each run says so.
    let warned: Vec<String> = outputs
        .iter()
        .flat_map(|(_, out)| out.stderr.lines())
        .filter_map(|l| l.split_once("left behind: '"))
        .filter_map(|(_, rest)| rest.split_once('\'').map(|(path, _)| path.to_string()))
        .collect();
    let after = bench.env.state();
    check_invariants(&before, &after, &bench, &warned, &mut problems);

    // Settle: with faults gone, each action of the policy runs `keep` more times, so retention
    // must leave exactly `keep` of each group. Names have one-second resolution; a run within the
    // second of an earlier one takes the next free name (storage: the next second's name after a
    // collision; disk sets: the next second without a set), so no step waits for the clock.
    let hooks = vec![
        Invocation::args(&["hook", "100", "post-stop"]),
        Invocation::args(&["hook", "103", "post-stop"]),
        Invocation::args(&["hook", "105", "post-stop"]),
        vzdump(&["job-start"], None),
        Invocation::args(&["hook", "100", "pre-start"]),
        Invocation::args(&["hook", "103", "pre-stop"]),
    ];
    let backups: Vec<Invocation> = GUESTS
        .iter()
        .map(|vmid| {
            let vmtype = if *vmid == 200 { "lxc" } else { "qemu" };
            vzdump(
                &["backup-start", "snapshot", &vmid.to_string()],
                Some(vmtype),
            )
        })
        .collect();
    for _ in 0..3 {
        for step in [&hooks, &backups] {
            for inv in step {
                let out = bench.run(inv);
                if out.code != 0 || out.stderr.contains("pve-ontap-snapshot: error: ") {
                    problems.push(format!(
                        "settling run '{}' failed (exit {}):\n{}",
                        inv.args.join(" "),
                        out.code,
                        out.stderr
                    ));
                }
            }
        }
    }
    let settled = bench.env.state();
    check_invariants(&before, &settled, &bench, &warned, &mut problems);
    let (storage_counts, disk_files) = snapshot_counts(&settled);
    let (storage_before, _) = snapshot_counts(&before);
    let mut expected_total = 0;
    let mut found_total = 0;
    for (volume, label, keep) in STORAGE_GROUPS {
        let found = storage_counts
            .get(&(volume.to_string(), label.to_string()))
            .copied()
            .unwrap_or(0);
        expected_total += keep;
        found_total += found;
        if found != *keep {
            problems.push(format!(
                "volume {volume}: {found} snapshots labelled '{label}', retention keeps {keep}"
            ));
        }
    }
    for ((volume, label), n) in &storage_before {
        let now = storage_counts
            .get(&(volume.clone(), label.clone()))
            .copied()
            .unwrap_or(0);
        if now != *n {
            problems.push(format!(
                "volume {volume}: {n} snapshots labelled '{label}' before the soak, {now} after"
            ));
        }
    }
    for (vmid, label, per_set, keep) in VM_GROUPS {
        let files = disk_files.get(vmid).cloned().unwrap_or_default();
        let sets = sets(&files, label);
        expected_total += keep;
        found_total += sets.len();
        if sets.len() != *keep {
            problems.push(format!(
                "guest {vmid}: {} disk snapshot sets labelled '{label}' ({:?}), retention keeps {keep}",
                sets.len(),
                sets.keys().collect::<Vec<_>>()
            ));
        }
        for (ts, n) in &sets {
            if n != per_set {
                problems.push(format!(
                    "guest {vmid}: set {label} {ts} has {n} of {per_set} disk files (half made)"
                ));
            }
        }
    }
    for (vmid, files) in &disk_files {
        let known: usize = VM_GROUPS
            .iter()
            .filter(|(g, ..)| g == vmid)
            .map(|(_, label, ..)| sets(files, label).values().sum::<usize>())
            .sum();
        if known != files.len() {
            problems.push(format!(
                "guest {vmid}: disk snapshot files no policy makes: {files:?}"
            ));
        }
    }

    let report = format!(
        "soak: {} invocations ({AT_ONCE} at a time), {requests} API requests, {injected} faults \
         injected ({:.1}%), {failed_runs} runs logged a failure; snapshots expected {expected_total}, \
         found {found_total}; {:.0}s",
        outputs.len(),
        100.0 * injected as f64 / requests.max(1) as f64,
        started.elapsed().as_secs_f64()
    );
    println!("{report}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("soak.txt"),
        &report,
    );
    assert!(injected > 0, "no fault was injected: {report}");
    assert!(
        problems.is_empty(),
        "{report}\n{} problems:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// Guests as they were, no lock held, no clone volume or storage left, nothing else changed
/// besides snapshots and disk snapshot files.
fn check_invariants(
    before: &Value,
    after: &Value,
    bench: &Bench,
    warned: &[String],
    problems: &mut Vec<String>,
) {
    for ((vmid, b), (_, a)) in state::guest_states(before)
        .iter()
        .zip(state::guest_states(after).iter())
    {
        if a != b {
            problems.push(format!("guest {vmid} was '{b}', is now '{a}'"));
        }
    }
    for lock in state::held_locks(
        &bench.env.path("run/lock/pve-ontap-snapshot"),
        &bench.env.path("etc/pve/priv/lock"),
    ) {
        problems.push(format!("lock held: {lock}"));
    }
    let after_all = state::artefacts(after);
    let new: Vec<String> = after_all
        .difference(&state::artefacts(before))
        .filter(|a| !(a.starts_with("file:") && a.contains("-snapshot-")))
        .filter(|a| !recorded_config(a, &after_all, warned))
        .cloned()
        .collect();
    if !new.is_empty() {
        problems.push(format!("objects left behind: {new:?}"));
    }
    let gone: Vec<String> = state::artefacts(before)
        .difference(&state::artefacts(after))
        .cloned()
        .collect();
    if !gone.is_empty() {
        problems.push(format!("objects gone: {gone:?}"));
    }
}

/// A configuration a successful snapshot records: a guest's file (rewritten by each storage
/// snapshot), or a disk set's, which must not outlive the set's clones unless a run warned that
/// it could not delete it.
fn recorded_config(
    artefact: &str,
    all: &std::collections::BTreeSet<String>,
    warned: &[String],
) -> bool {
    if artefact.contains("/.pve-ontap-snapshot/guests/") {
        return true;
    }
    if warned.iter().any(|w| artefact.ends_with(&format!("/{w}"))) {
        return true;
    }
    let Some((volume, rest)) = artefact.split_once("/.pve-ontap-snapshot/sets/") else {
        return false;
    };
    let Some((vmid, ts)) = rest.strip_suffix(".json").and_then(|r| r.split_once('/')) else {
        return false;
    };
    // `<disk>-snapshot-[<label>-]<ts>.<ext>`
    all.iter().any(|a| {
        a.starts_with(volume)
            && a.contains(&format!("/images/{vmid}/"))
            && a.contains("-snapshot-")
            && a.contains(&format!("{ts}."))
    })
}

#[test]
fn xorshift_is_reproducible_and_spreads() {
    let a = invocations(SEED, 50);
    let b = invocations(SEED, 50);
    assert_eq!(
        a.iter().map(|i| i.args.clone()).collect::<Vec<_>>(),
        b.iter().map(|i| i.args.clone()).collect::<Vec<_>>()
    );
    let all = invocations(SEED, INVOCATIONS);
    let vz = all.iter().filter(|i| i.args[0] == "vzdump").count();
    assert!(
        (40..130).contains(&vz),
        "{vz} vzdump calls of {INVOCATIONS}"
    );
    for phase in HOOK_PHASES {
        assert!(all
            .iter()
            .any(|i| i.args.get(2).map(String::as_str) == Some(*phase)));
    }
    let (storage, disks) = snapshot_counts(&serde_json::json!({"ontap": {"volumes": [
        {"name": "ONTAP01", "snapshots": [{"snapmirror_label": "x"}, {"snapmirror_label": "x"}],
         "files": [{"path": "images/100/vm-100-disk-0-snapshot-2026-01-01_00:00:00+0000.qcow2"},
                   {"path": "images/100/vm-100-disk-1-snapshot-2026-01-01_00:00:00+0000.raw"},
                   {"path": "images/100/vm-100-disk-0.qcow2"}]}]}}));
    assert_eq!(storage[&("ONTAP01".to_string(), "x".to_string())], 2);
    assert_eq!(
        sets(&disks[&100], ""),
        BTreeMap::from([("2026-01-01_00:00:00+0000".to_string(), 2)])
    );
    let labelled = [
        "images/100/vm-100-disk-0-snapshot-soak-vm-2026-01-01_00:00:00+0000.qcow2".to_string(),
        "images/100/vm-100-disk-1-snapshot-2026-01-02_00:00:00+0000.raw".to_string(),
    ];
    assert_eq!(
        sets(&labelled, "soak-vm"),
        BTreeMap::from([("2026-01-01_00:00:00+0000".to_string(), 1)])
    );
    assert_eq!(sets(&labelled, "").len(), 1);
}
