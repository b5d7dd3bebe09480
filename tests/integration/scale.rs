//! Request counts at two cluster sizes (generated scale scenarios): what need not grow with guests,
//! nodes, storages or snapshots does not, and what must read guest configs reads each one once.

use std::collections::BTreeMap;

use pve_ontap_sim::scale::{self, ScaleSpec};
use pve_ontap_sim::{Scenario, SimOptions};

use crate::util::TestEnv;

/// A guest the tests act on, the same at every size: QEMU 9001 (running, agent, two disks on
/// ONTAP01) and 9002 (stopped, one disk on ONTAP01).
fn add_fixed_guests(s: &mut Scenario) {
    let mut add = |vmid: u32, running: bool, disks: u32| {
        let mut config = serde_json::json!({"name": format!("fixed{vmid}"), "memory": "2048"});
        if running {
            config["agent"] = "1".into();
        }
        for d in 0..disks {
            let file = format!("vm-{vmid}-disk-{d}.raw");
            config[format!("scsi{d}")] = format!("ONTAP01:{vmid}/{file},size=4G").into();
            s.ontap.volumes[0]
                .files
                .push(serde_json::from_value(serde_json::json!({"path": format!("images/{vmid}/{file}"), "size": 4u64 << 30})).expect("file spec"));
        }
        let guest = serde_json::json!({"vmid": vmid, "type": "qemu", "node": "pve1",
            "status": if running { "running" } else { "stopped" }, "config": config});
        s.pve
            .guests
            .push(serde_json::from_value(guest).expect("guest spec"));
    };
    add(9001, true, 2);
    add(9002, false, 1);
}

/// One size: the environment and what the counts may depend on.
struct Sized {
    env: TestEnv,
    storages: usize,
    guests: usize,
    running: usize,
    running_qemu: usize,
    /// Running QEMU guests with the agent and a disk on ONTAP01 (what `--freeze` freezes).
    freezable: usize,
}

fn sized(spec: &str) -> Sized {
    let spec: ScaleSpec = spec.parse().expect("scale spec");
    let mut scenario = scale::scenario(&spec);
    add_fixed_guests(&mut scenario);
    let guests = scenario.pve.guests.len();
    let running = scenario
        .pve
        .guests
        .iter()
        .filter(|g| g.status == pve_ontap_sim::pve::RunStatus::Running)
        .count();
    let qemu_running = || {
        scenario.pve.guests.iter().filter(|g| {
            g.status == pve_ontap_sim::pve::RunStatus::Running
                && g.guest_type == pve_ontap_sim::pve::GuestType::Qemu
        })
    };
    let running_qemu = qemu_running().count();
    let freezable = qemu_running()
        .filter(|g| g.config.contains_key("agent"))
        .filter(|g| g.config.values().any(|v| v.starts_with("ONTAP01:")))
        .count();
    let env = TestEnv::with_options(SimOptions {
        scenario,
        ..SimOptions::default()
    });
    env.write_config(&format!(
        "{}\n[hook:9002]\npost-stop = storage-snapshot\nlabel = scale\n",
        env.token_config()
    ));
    Sized {
        env,
        storages: spec.storages as usize,
        guests,
        running,
        running_qemu,
        freezable,
    }
}

/// Sleep into the next wall-clock second (disk snapshot sets are named to the second).
fn next_second() {
    let now = time::OffsetDateTime::now_utc();
    let into = std::time::Duration::from_nanos(u64::from(now.nanosecond()));
    std::thread::sleep(std::time::Duration::from_secs(1).saturating_sub(into));
    std::thread::sleep(std::time::Duration::from_millis(5));
}

/// Requests that are not polls of a Proxmox task or an ONTAP job: how many polls a wait takes
/// depends on time (tasks and jobs last a fixed time), not on the cluster.
fn counted(log: &[pve_ontap_sim::RequestLogEntry]) -> usize {
    log.iter()
        .filter(|r| !r.path.contains("/tasks/") && !r.path.starts_with("/api/cluster/jobs/"))
        .count()
}

/// Requests made by every storage and vm command, a hook with an action and `check`.
fn counts(s: &Sized) -> BTreeMap<&'static str, usize> {
    let env = &s.env;
    let mut out = BTreeMap::new();
    let mut step = |what: &'static str, args: &[&str]| -> serde_json::Value {
        env.sim().clear_requests();
        let o = env.run(args);
        o.assert_ok();
        out.insert(what, counted(&env.sim().requests()));
        serde_json::from_str(&o.stdout).unwrap_or(serde_json::Value::Null)
    };
    let json = ["--output", "json"];
    let with = |args: &[&'static str]| [&json[..], args].concat();
    step(
        "storage create --no-configs",
        &with(&["storage", "create", "--storage", "ONTAP01", "--no-configs"]),
    );
    next_second();
    // Recording the configurations of the guests on the storage reads every guest's config.
    step(
        "storage create",
        &with(&["storage", "create", "--storage", "ONTAP01"]),
    );
    let list = step(
        "storage list",
        &with(&["storage", "list", "--storage", "ONTAP01"]),
    );
    let newest = list
        .as_array()
        .and_then(|a| a.iter().filter_map(|r| r["name"].as_str()).max())
        .expect("a snapshot")
        .to_string();
    step("storage show", &["storage", "show", "--storage", "ONTAP01"]);
    step(
        "storage mount",
        &[
            "storage",
            "mount",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &newest,
        ],
    );
    step(
        "storage unmount",
        &["storage", "unmount", "--storage", "ONTAP01-CLONE"],
    );
    step(
        "storage restore",
        &[
            "storage",
            "restore",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &newest,
            "--yes",
            "--force",
        ],
    );
    step(
        "storage create --freeze --no-configs",
        &[
            "storage",
            "create",
            "--storage",
            "ONTAP01",
            "--freeze",
            "--no-configs",
        ],
    );
    step(
        "storage prune",
        &[
            "storage",
            "prune",
            "--storage",
            "ONTAP01",
            "--keep-last",
            "2",
        ],
    );
    let list = env
        .run(&with(&["storage", "list", "--storage", "ONTAP01"]))
        .json();
    let newest = list
        .as_array()
        .and_then(|a| a.iter().filter_map(|r| r["name"].as_str()).max())
        .expect("a snapshot")
        .to_string();
    step(
        "storage delete",
        &[
            "storage",
            "delete",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &newest,
        ],
    );

    next_second();
    step("vm create", &["vm", "create", "--vm", "9001"]);
    next_second();
    step(
        "vm create --suspend",
        &["vm", "create", "--vm", "9001", "--suspend"],
    );
    next_second();
    step(
        "vm create --freeze",
        &["vm", "create", "--vm", "9001", "--freeze"],
    );
    let sets = step("vm list", &with(&["vm", "list", "--vm", "9001"]));
    let first = sets[0]["timestamp"].as_str().expect("a set").to_string();
    step(
        "vm delete",
        &["vm", "delete", "--vm", "9001", "--snapshot", &first],
    );
    step(
        "vm prune",
        &["vm", "prune", "--vm", "9001", "--keep-last", "1"],
    );
    next_second();
    env.run(&["vm", "create", "--vm", "9002"]).assert_ok();
    let sets = env.run(&with(&["vm", "list", "--vm", "9002"])).json();
    let set = sets[0]["timestamp"].as_str().expect("a set").to_string();
    step(
        "vm restore",
        &["vm", "restore", "--vm", "9002", "--snapshot", &set, "--yes"],
    );

    step(
        "hook post-stop (storage-snapshot)",
        &["hook", "9002", "post-stop"],
    );
    step("check", &["check"]);
    out
}

#[test]
fn request_counts_grow_only_where_every_guest_must_be_read() {
    let small =
        sized("nodes=2,guests=12,storages=3,svms=2,snapshots=2,first-volume-snapshots=6,seed=3");
    let large =
        sized("nodes=7,guests=70,storages=6,svms=3,snapshots=2,first-volume-snapshots=60,seed=4");
    let a = counts(&small);
    let b = counts(&large);
    let table: Vec<String> = a
        .iter()
        .map(|(k, v)| format!("{k}: {v} -> {}", b[k]))
        .collect();
    let table = table.join("\n");

    // Neither the guests, the nodes, the storages nor the snapshots of the volume change these.
    for what in [
        "storage create --no-configs",
        "storage list",
        "storage show",
        "storage mount",
        "storage prune",
        "storage delete",
        "vm create",
        "vm create --suspend",
        "vm create --freeze",
        "vm list",
        "vm delete",
        "vm prune",
        "vm restore",
        "hook post-stop (storage-snapshot)",
    ] {
        assert_eq!(a[what], b[what], "{what} grew with the cluster\n{table}");
    }
    // Which guests use a clone storage: every guest's config, each read once.
    assert_eq!(
        b["storage unmount"] - a["storage unmount"],
        large.guests - small.guests,
        "{table}"
    );
    // Which running guests use the volume: every running guest's config, each read once.
    assert_eq!(
        b["storage restore"] - a["storage restore"],
        large.running - small.running,
        "{table}"
    );
    // `--freeze`: every running QEMU guest's config, then a freeze and a thaw of those on it.
    assert_eq!(
        b["storage create --freeze --no-configs"] - a["storage create --freeze --no-configs"],
        (large.running_qemu - small.running_qemu) + 2 * (large.freezable - small.freezable),
        "{table}"
    );
    // Recording the guests' configurations with the snapshot: every guest's config read once
    // (which guests have a disk on the storage), one manifest written per guest on it.
    let recorded = b["storage create"] - a["storage create"];
    let guests = large.guests - small.guests;
    assert!(
        recorded >= guests && recorded <= 2 * guests,
        "storage create grew by {recorded} for {guests} more guests\n{table}"
    );
    // `check` looks at every configured storage: the same requests for each.
    let per_storage = (b["check"] - a["check"]) / (large.storages - small.storages);
    assert_eq!(
        a["check"] - per_storage * small.storages,
        b["check"] - per_storage * large.storages,
        "{table}"
    );
    assert!(
        per_storage <= 4,
        "check makes {per_storage} requests per storage\n{table}"
    );
}
