//! Section 7, guest recovery at 20 ms latency: `vm restore` of one guest from a volume snapshot
//! (1 and 16 disks, the storage also holding 40 other guests), `vm clone` of that snapshot to a
//! new VMID, `vm show-config` and `vm list`.

use std::time::Duration;

use serde_json::{json, Value};

use super::{add_files, add_guest, count, ms, next_second, scenario_with, Env, Report};

const SECTION: &str = "Guest recovery from a volume snapshot (20 ms latency)";

/// Stopped VMs 501 (1 disk) and 516 (16 disks), plus 40 other one-disk guests, on ONTAP01.
fn scenario() -> pve_ontap_sim::Scenario {
    scenario_with(|v| {
        for disks in [1u32, 16] {
            let vmid = 500 + disks;
            let mut config = json!({"name": format!("rec{disks}"), "memory": "2048",
                                    "net0": "virtio=BC:24:11:00:05:00,bridge=vmbr0"});
            let mut files = Vec::new();
            for i in 0..disks {
                let file = format!("vm-{vmid}-disk-{i}.raw");
                config[format!("scsi{i}")] = json!(format!("ONTAP01:{vmid}/{file},size=4G"));
                files.push(format!("images/{vmid}/{file}"));
            }
            add_files(v, &files);
            add_guest(
                v,
                json!({"vmid": vmid, "type": "qemu", "node": "pve1", "status": "stopped",
                       "config": config}),
            );
        }
        for vmid in 600..640u32 {
            add_files(v, &[format!("images/{vmid}/vm-{vmid}-disk-0.raw")]);
            add_guest(
                v,
                json!({"vmid": vmid, "type": "qemu", "node": "pve2", "status": "running",
                       "config": {"scsi0": format!("ONTAP01:{vmid}/vm-{vmid}-disk-0.raw,size=4G")}}),
            );
        }
    })
}

fn measure(env: &Env, report: &mut Report, what: &str, args: &[&str]) -> Duration {
    env.clear_log();
    let (took, _) = env.run(args);
    let (all, pve, ontap) = count(&env.requests());
    report.row(
        SECTION,
        json!({"what": what, "wall ms": ms(took), "requests": all, "Proxmox": pve, "ONTAP": ontap}),
    );
    took
}

pub(super) fn recovery(report: &mut Report) {
    let env = Env::new(scenario(), 20, true, "");
    next_second();
    let (_, out) = env.run(&[
        "--output",
        "json",
        "storage",
        "create",
        "--storage",
        "ONTAP01",
    ]);
    let snap = serde_json::from_str::<Value>(&out)
        .ok()
        .and_then(|v| v["name"].as_str().map(str::to_string))
        .expect("snapshot name");
    for (vmid, what) in [
        ("501", "vm restore --snapshot <volume snapshot> (1 disk)"),
        ("516", "vm restore --snapshot <volume snapshot> (16 disks)"),
    ] {
        next_second();
        measure(
            &env,
            report,
            what,
            &["vm", "restore", "--vm", vmid, "--snapshot", &snap, "--yes"],
        );
    }
    measure(
        &env,
        report,
        "vm clone --snapshot <volume snapshot> (1 disk, new VMID)",
        &[
            "vm",
            "clone",
            "--vm",
            "501",
            "--snapshot",
            &snap,
            "--new-vmid",
            "701",
        ],
    );
    measure(
        &env,
        report,
        "vm clone --snapshot <volume snapshot> (16 disks, new VMID)",
        &[
            "vm",
            "clone",
            "--vm",
            "516",
            "--snapshot",
            &snap,
            "--new-vmid",
            "716",
        ],
    );
    measure(
        &env,
        report,
        "vm show-config --snapshot <volume snapshot>",
        &["vm", "show-config", "--vm", "516", "--snapshot", &snap],
    );
    measure(
        &env,
        report,
        "vm list (volume snapshots, no contents)",
        &["vm", "list", "--vm", "516"],
    );
}
