//! The fault matrix (issue 7): every workflow is run once cleanly to record its requests, then once
//! per request × fault kind with that single fault injected, and every run is held to the invariants.

pub mod harness;
pub mod state;

use std::time::Instant;

use pve_ontap_sim::ontap::{FileSpec, SnapshotSpec};
use pve_ontap_sim::{Scenario, SimOptions};

use harness::{
    fault_rule, judge, kinds_for, observe, parallel, Bench, Cell, Clean, Invocation, Mode, Verdict,
    Workflow,
};

/// Threads running cells (each with its own simulator).
const THREADS: usize = 3;
/// More cells than this are sampled deterministically (every n-th), and the report says so.
const MAX_CELLS: usize = 2400;

/// The snapshot the storage restore and mount workflows use (made by the original tool).
pub const ORIGINAL_SNAPSHOT: &str = "proxmox_snapshot_2024-03-13_14:42:47+0000";
/// The disk snapshot set of guest 102 that `vm restore` puts back.
pub const VM_SNAPSHOT: &str = "2025-01-01_00:00:00+0000";

fn snapshot(name: &str, time: &str) -> SnapshotSpec {
    SnapshotSpec {
        name: name.into(),
        uuid: None,
        create_time: Some(time.into()),
        comment: Some("made by pve-ontap-snapshot".into()),
        snapmirror_label: None,
        expiry_time: None,
        snaplock_expiry_time: None,
        owners: Vec::new(),
        files: None,
    }
}

fn file(path: &str, size: u64, generation: u64) -> FileSpec {
    FileSpec {
        path: path.into(),
        size: pve_ontap_sim::ontap::Size(size),
        generation,
    }
}

/// The built-in scenario with instant jobs and tasks (one poll each, so request sequences repeat
/// exactly) and what the workflows start from: older storage snapshots of ONTAP01 to prune, a
/// disk snapshot set of the stopped guest 102 to restore, three sets of guest 104 to prune.
pub fn matrix_scenario() -> Scenario {
    let mut s = Scenario::default();
    s.ontap.job_duration_ms = 0;
    s.pve.timing.task_ms = 0;
    s.pve.timing.shutdown_ms = 0;
    let ontap01 = s
        .ontap
        .volumes
        .iter_mut()
        .find(|v| v.name == "ONTAP01")
        .expect("ONTAP01 in the default scenario");
    ontap01.files.push(file(
        &format!("images/102/vm-102-disk-0-snapshot-{VM_SNAPSHOT}.qcow2"),
        20 << 30,
        7,
    ));
    for day in 1..=3 {
        ontap01.files.push(file(
            &format!("images/104/vm-104-disk-0-snapshot-2025-01-0{day}_00:00:00+0000.raw"),
            4 << 30,
            1,
        ));
    }
    let older: Vec<SnapshotSpec> = (1..=4)
        .map(|day| {
            snapshot(
                &format!("proxmox_snapshot_2025-01-0{day}_00:00:00+0000"),
                &format!("2025-01-0{day}T00:00:00Z"),
            )
        })
        .collect();
    let at = ontap01
        .snapshots
        .iter()
        .position(|s| s.name.starts_with("hourly"))
        .unwrap_or(ontap01.snapshots.len());
    ontap01.snapshots.splice(at..at, older);
    // Two older snapshots the post-stop hook made, so that its retention (keep 2) deletes one.
    for day in 1..=2 {
        let mut made = snapshot(
            &format!("proxmox_snapshot_2025-02-0{day}_00:00:00+0000"),
            &format!("2025-02-0{day}T00:00:00Z"),
        );
        made.snapmirror_label = Some("poststop".into());
        let at = ontap01
            .snapshots
            .iter()
            .position(|s| s.name.starts_with("hourly"))
            .unwrap_or(ontap01.snapshots.len());
        ontap01.snapshots.insert(at, made);
    }
    s
}

pub fn options() -> SimOptions {
    SimOptions {
        scenario: matrix_scenario(),
        ..SimOptions::default()
    }
}

/// Hook policies of the hook workflows (appended to the config): a storage snapshot with
/// retention after guest 102 stops, a frozen disk snapshot of guest 103 when its backup starts.
pub const POLICY: &str = "
[hook:102]
post-stop = storage-snapshot
post-stop.label = poststop
post-stop.keep = 2

[vzdump:103]
backup-start = vm-snapshot
backup-start.label = backup
backup-start.freeze = yes
";

/// The variables vzdump sets for a guest phase (it wipes everything else).
pub const VZDUMP_ENV: &[(&str, &str)] = &[
    ("STOREID", "local"),
    ("DUMPDIR", "/var/lib/vz/dump"),
    ("VMTYPE", "qemu"),
    ("HOSTNAME", "app01"),
    (
        "TARGET",
        "/var/lib/vz/dump/vzdump-qemu-103-2026_03_01-12_00_00.vma.zst",
    ),
    (
        "LOGFILE",
        "/var/lib/vz/dump/vzdump-qemu-103-2026_03_01-12_00_00.log",
    ),
];

/// Every workflow of the matrix.
pub fn workflows() -> Vec<Workflow> {
    vec![
        Workflow {
            name: "storage create",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| Invocation::args(&["storage", "create", "--storage", "ONTAP01"]),
        },
        Workflow {
            name: "storage create --freeze",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&["storage", "create", "--storage", "ONTAP02", "--freeze"])
            },
        },
        Workflow {
            name: "storage restore",
            mode: Mode::Cli,
            // The safety snapshot, when the run fails after taking it (the restore would have
            // discarded it with the other newer snapshots).
            may_add: &["ontap.volumes[ONTAP01].snapshots*"],
            prepare: |_| {
                Invocation::args(&[
                    "storage",
                    "restore",
                    "--storage",
                    "ONTAP01",
                    "--snapshot",
                    ORIGINAL_SNAPSHOT,
                    "--yes",
                    "--force",
                ])
            },
        },
        Workflow {
            name: "storage mount",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&[
                    "storage",
                    "mount",
                    "--storage",
                    "ONTAP01",
                    "--snapshot",
                    ORIGINAL_SNAPSHOT,
                ])
            },
        },
        Workflow {
            name: "storage unmount",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |b| {
                b.setup(&[
                    "storage",
                    "mount",
                    "--storage",
                    "ONTAP01",
                    "--snapshot",
                    ORIGINAL_SNAPSHOT,
                    "--name",
                    "ONTAP01-CLONE",
                ]);
                Invocation::args(&["storage", "unmount", "--storage", "ONTAP01-CLONE"])
            },
        },
        Workflow {
            name: "storage prune",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&[
                    "storage",
                    "prune",
                    "--storage",
                    "ONTAP01",
                    "--keep-last",
                    "2",
                ])
            },
        },
        Workflow {
            name: "vm create --suspend",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| Invocation::args(&["vm", "create", "--vm", "100", "--suspend"]),
        },
        Workflow {
            name: "vm create --freeze",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| Invocation::args(&["vm", "create", "--vm", "103", "--freeze"]),
        },
        Workflow {
            name: "vm create --shutdown",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| Invocation::args(&["vm", "create", "--vm", "101", "--shutdown"]),
        },
        Workflow {
            name: "vm restore",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&[
                    "vm",
                    "restore",
                    "--vm",
                    "102",
                    "--snapshot",
                    VM_SNAPSHOT,
                    "--yes",
                ])
            },
        },
        Workflow {
            name: "hook post-stop",
            mode: Mode::HookContinue,
            may_add: &[],
            prepare: |_| Invocation::args(&["hook", "102", "post-stop"]),
        },
        Workflow {
            name: "vzdump backup-start",
            mode: Mode::HookContinue,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&["vzdump", "backup-start", "snapshot", "103"])
                    .with_env(VZDUMP_ENV)
                    .wiped()
            },
        },
        Workflow {
            name: "vm restore --snapshot <volume snapshot>",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&[
                    "vm",
                    "restore",
                    "--vm",
                    "102",
                    "--snapshot",
                    ORIGINAL_SNAPSHOT,
                    "--yes",
                ])
            },
        },
        Workflow {
            name: "vm clone",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&[
                    "vm",
                    "clone",
                    "--vm",
                    "102",
                    "--snapshot",
                    ORIGINAL_SNAPSHOT,
                    "--new-vmid",
                    "300",
                ])
            },
        },
        Workflow {
            name: "vm attach",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| {
                Invocation::args(&[
                    "vm",
                    "attach",
                    "--vm",
                    "100",
                    "--snapshot",
                    ORIGINAL_SNAPSHOT,
                    "--disk",
                    "virtio0",
                    "--to",
                    "102",
                ])
            },
        },
        Workflow {
            name: "vm prune",
            mode: Mode::Cli,
            may_add: &[],
            prepare: |_| Invocation::args(&["vm", "prune", "--vm", "104", "--keep-last", "1"]),
        },
    ]
}

/// Every `step`-th cell when there are more than `max` (deterministic).
fn sample(cells: Vec<Cell>, max: usize) -> (Vec<Cell>, usize) {
    let total = cells.len();
    if total <= max {
        return (cells, total);
    }
    let step = total.div_ceil(max);
    (cells.into_iter().step_by(step).collect(), total)
}

fn report(text: &str) {
    println!("{text}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-matrix.txt");
    let _ = std::fs::write(path, text);
}

/// Every workflow × request × fault kind (api-error, drop, slow answer, failed job or task, 401),
/// on 3 threads with a simulator each; prints the table and writes it to
/// `target/tmp/fault-matrix.txt`. `FAULT_MATRIX_ONLY=vm,storage mount` runs only the workflows
/// whose names contain one of the comma-separated parts.
#[test]
fn fault_matrix() {
    let started = Instant::now();
    let only = std::env::var("FAULT_MATRIX_ONLY").unwrap_or_default();
    let workflows: Vec<Workflow> = workflows()
        .into_iter()
        .filter(|w| only.is_empty() || only.split(',').any(|o| w.name.contains(o)))
        .collect();
    let make_bench = || Bench::new(options(), POLICY);

    // 1. Clean runs: the requests each workflow sends and the change it makes.
    let cleans: Vec<(Verdict, Clean)> = parallel(
        (0..workflows.len()).collect(),
        THREADS,
        &make_bench,
        &|bench, w| {
            let wf = &workflows[w];
            let obs = observe(bench, wf, None);
            let verdict = judge(format!("{} (clean run)", wf.name), wf, &obs, None);
            (verdict, Clean::new(&obs))
        },
    );
    let broken: Vec<&Verdict> = cleans
        .iter()
        .map(|(v, _)| v)
        .filter(|v| !v.problems.is_empty())
        .collect();
    assert!(
        broken.is_empty(),
        "clean runs fail the invariants, the matrix cannot start:\n{}",
        broken
            .iter()
            .map(|v| format!("  {}:\n    {}", v.label, v.problems.join("\n    ")))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // 2. One cell per request × applicable fault kind.
    let mut cells = Vec::new();
    for (w, (_, clean)) in cleans.iter().enumerate() {
        for (index, entry) in clean.requests.iter().enumerate() {
            for kind in kinds_for(entry) {
                cells.push(Cell {
                    workflow: w,
                    index,
                    kind,
                });
            }
        }
    }
    let (cells, total) = sample(cells, MAX_CELLS);
    let verdicts: Vec<(usize, Verdict)> = parallel(cells, THREADS, &make_bench, &|bench, cell| {
        let wf = &workflows[cell.workflow];
        let clean = &cleans[cell.workflow].1;
        let entry = &clean.requests[cell.index];
        let rule = fault_rule(&clean.requests, cell.index, cell.kind);
        let label = format!(
            "{} | request #{} {} {} {} | fault {}",
            wf.name,
            cell.index,
            entry.api.as_str(),
            entry.method,
            entry.path,
            cell.kind.name()
        );
        let obs = observe(bench, wf, Some(rule));
        (cell.workflow, judge(label, wf, &obs, Some(clean)))
    });

    // 3. Report.
    let mut text = String::from("fault matrix\n");
    text.push_str(&format!(
        "{:<26} {:>8} {:>6} {:>6} {:>9} {:>9} {:>11}\n",
        "workflow", "requests", "cells", "passed", "failed-ok", "recovered", "not-reached"
    ));
    for (w, wf) in workflows.iter().enumerate() {
        let mine: Vec<&Verdict> = verdicts
            .iter()
            .filter(|(i, _)| *i == w)
            .map(|(_, v)| v)
            .collect();
        let passed = mine.iter().filter(|v| v.problems.is_empty()).count();
        let failed_ok = mine
            .iter()
            .filter(|v| v.problems.is_empty() && v.failed_run)
            .count();
        let recovered = mine
            .iter()
            .filter(|v| v.problems.is_empty() && !v.failed_run && v.fault_applied)
            .count();
        let unreached = mine.iter().filter(|v| !v.fault_applied).count();
        text.push_str(&format!(
            "{:<26} {:>8} {:>6} {:>6} {:>9} {:>9} {:>11}\n",
            wf.name,
            cleans[w].1.requests.len(),
            mine.len(),
            passed,
            failed_ok,
            recovered,
            unreached
        ));
    }
    let failures: Vec<&Verdict> = verdicts
        .iter()
        .map(|(_, v)| v)
        .filter(|v| !v.problems.is_empty())
        .collect();
    let run = verdicts.len();
    text.push_str(&format!(
        "cells run: {run}, passed: {}, failed: {}{}; {:.0}s on {THREADS} threads\n",
        run - failures.len(),
        failures.len(),
        if total > run {
            format!(
                " (sampled every {}th of {total} cells)",
                total.div_ceil(MAX_CELLS)
            )
        } else {
            String::new()
        },
        started.elapsed().as_secs_f64()
    ));
    let unreached: Vec<&Verdict> = verdicts
        .iter()
        .map(|(_, v)| v)
        .filter(|v| !v.fault_applied)
        .collect();
    if !unreached.is_empty() {
        text.push_str(&format!(
            "not reached ({}; the run took another path, e.g. concurrent requests in another \
             order, and was checked as a clean run):\n",
            unreached.len()
        ));
        for v in &unreached {
            text.push_str(&format!("    {}\n", v.label));
        }
    }
    for v in &failures {
        text.push_str(&format!(
            "FAILED {}\n    {}\n",
            v.label,
            v.problems.join("\n    ")
        ));
    }
    report(&text);
    assert!(failures.is_empty(), "{text}");
}
