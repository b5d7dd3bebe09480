//! The "scale" table: every storage and vm command, a hook with an action and `check` on a generated
//! 500-guest, 16-node, 20-storage cluster with 1000 snapshots on one volume, at 20 ms latency.

use std::fs;
use std::time::Instant;

use pve_ontap_sim::pve::{GuestType, RunStatus};
use pve_ontap_sim::scale::{self, ScaleSpec};
use serde_json::{json, Value};

use crate::{count, ms, next_second, Env, Report};

const SECTION: &str =
    "Scale: 500 guests, 16 nodes, 20 storages, 1000 snapshots on ONTAP01 (20 ms latency, one run each)";

/// The generated cluster of the table.
pub fn spec() -> ScaleSpec {
    ScaleSpec {
        nodes: 16,
        guests: 500,
        storages: 20,
        svms: 4,
        snapshots: 2,
        first_volume_snapshots: 1000,
        seed: 1,
    }
}

/// The guests the vm rows act on: a running QEMU guest with the agent and a disk on ONTAP01, and a
/// stopped QEMU guest with a disk on ONTAP01.
fn pick_guests(s: &pve_ontap_sim::Scenario) -> (u32, u32) {
    let on_first = |g: &&pve_ontap_sim::pve::GuestSpec| {
        g.guest_type == GuestType::Qemu && g.config.values().any(|v| v.starts_with("ONTAP01:"))
    };
    let running = s
        .pve
        .guests
        .iter()
        .filter(on_first)
        .find(|g| g.status == RunStatus::Running && g.config.contains_key("agent"))
        .expect("a running QEMU guest with an agent on ONTAP01");
    let stopped = s
        .pve
        .guests
        .iter()
        .filter(on_first)
        .find(|g| g.status == RunStatus::Stopped)
        .expect("a stopped QEMU guest on ONTAP01");
    (running.vmid, stopped.vmid)
}

fn newest(env: &Env) -> String {
    let out = env
        .run(&[
            "--output",
            "json",
            "storage",
            "list",
            "--storage",
            "ONTAP01",
        ])
        .1;
    let v: Value = serde_json::from_str(&out).expect("list JSON");
    v.as_array()
        .and_then(|a| a.iter().filter_map(|r| r["name"].as_str()).max())
        .expect("a snapshot")
        .to_string()
}

pub fn scale(report: &mut Report) {
    let spec = spec();
    let started = Instant::now();
    let scenario = scale::scenario(&spec);
    let (running, stopped) = pick_guests(&scenario);
    let disks = |vmid: u32| {
        scenario
            .pve
            .guests
            .iter()
            .find(|g| g.vmid == vmid)
            .map_or(0, |g| {
                g.config
                    .keys()
                    .filter(|k| k.starts_with("scsi") && k.as_str() != "scsihw")
                    .count()
            })
    };
    let (run_disks, stop_disks) = (disks(running), disks(stopped));
    let hook = format!("\n[hook:{stopped}]\npost-stop = storage-snapshot\nlabel = scale\n");
    let env = Env::new(scenario, 20, true, &hook);
    // The first volume holds 1000 snapshots, the capacity guard's default maximum: this cluster's
    // administrator raised it to ONTAP's own limit for that storage, so the commands run.
    let text = fs::read_to_string(&env.config).expect("read config");
    assert!(text.contains("[ONTAP01]\n"), "no [ONTAP01] section");
    let text = text.replacen("[ONTAP01]\n", "[ONTAP01]\nsnapshot_count_max = 1023\n", 1);
    fs::write(&env.config, text).expect("write config");
    eprintln!(
        "scale scenario ({spec}) started in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut step = |what: String, grows: &str, args: &[&str]| -> String {
        if args.contains(&"vm") {
            next_second();
        }
        env.clear_log();
        let (took, stdout) = env.run(args);
        let (all, pve, ontap) = count(&env.requests());
        report.row(
            SECTION,
            json!({"what": what, "grows with": grows, "requests": all, "Proxmox": pve,
                   "ONTAP": ontap, "wall ms": ms(took)}),
        );
        stdout
    };
    let (r, s) = (running.to_string(), stopped.to_string());
    step(
        "storage list (1000 snapshots)".into(),
        "-",
        &["storage", "list", "--storage", "ONTAP01"],
    );
    step(
        "storage show".into(),
        "-",
        &["storage", "show", "--storage", "ONTAP01"],
    );
    step(
        "storage create".into(),
        "guests (configs); one write per guest on the storage",
        &["storage", "create", "--storage", "ONTAP01"],
    );
    step(
        "storage create --freeze".into(),
        "guests (configs); one write per guest on the storage; guests frozen",
        &["storage", "create", "--storage", "ONTAP01", "--freeze"],
    );
    let snap = newest(&env);
    step(
        "storage mount".into(),
        "-",
        &[
            "storage",
            "mount",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &snap,
        ],
    );
    step(
        "storage unmount".into(),
        "guests (configs)",
        &["storage", "unmount", "--storage", "ONTAP01-CLONE"],
    );
    step(
        "storage restore --yes --force".into(),
        "running guests (configs)",
        &[
            "storage",
            "restore",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &snap,
            "--yes",
            "--force",
        ],
    );
    let snap = newest(&env);
    step(
        "storage delete".into(),
        "-",
        &[
            "storage",
            "delete",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &snap,
        ],
    );
    step(
        "storage prune --keep-last 10 (about 990 deleted)".into(),
        "-",
        &[
            "storage",
            "prune",
            "--storage",
            "ONTAP01",
            "--keep-last",
            "10",
        ],
    );
    step(
        format!("vm create (VM {r}, {run_disks} disks)"),
        "the guest's storages",
        &["vm", "create", "--vm", &r],
    );
    step(
        format!("vm create --suspend (VM {r})"),
        "the guest's storages",
        &["vm", "create", "--vm", &r, "--suspend"],
    );
    step(
        format!("vm create --freeze (VM {r})"),
        "the guest's storages",
        &["vm", "create", "--vm", &r, "--freeze"],
    );
    let sets = step(
        format!("vm list (VM {r})"),
        "the guest's storages",
        &["--output", "json", "vm", "list", "--vm", &r],
    );
    let sets: Value = serde_json::from_str(&sets).expect("vm list JSON");
    let first = sets[0]["timestamp"].as_str().expect("a set").to_string();
    step(
        format!("vm delete (VM {r})"),
        "the guest's storages",
        &["vm", "delete", "--vm", &r, "--snapshot", &first],
    );
    step(
        format!("vm prune --keep-last 1 (VM {r})"),
        "the guest's storages",
        &["vm", "prune", "--vm", &r, "--keep-last", "1"],
    );
    next_second();
    env.run(&["vm", "create", "--vm", &s]);
    let sets = env.run(&["--output", "json", "vm", "list", "--vm", &s]).1;
    let sets: Value = serde_json::from_str(&sets).expect("vm list JSON");
    let set = sets[0]["timestamp"].as_str().expect("a set").to_string();
    step(
        format!("vm restore --yes (stopped VM {s}, {stop_disks} disks)"),
        "the guest's storages",
        &["vm", "restore", "--vm", &s, "--snapshot", &set, "--yes"],
    );
    step(
        format!("hook {s} post-stop (storage-snapshot)"),
        "the guest's storages",
        &["hook", &s, "post-stop"],
    );
    step("check (20 storages)".into(), "storages", &["check"]);
}
