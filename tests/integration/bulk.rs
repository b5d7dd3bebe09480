//! Many snapshots at once: `storage prune` deletes in one query-based ONTAP request (one job),
//! reports each snapshot ONTAP refused, and falls back to one delete per snapshot before 9.11.1.

use pve_ontap_sim::{Scenario, SimOptions};
use serde_json::json;

use crate::util::TestEnv;

/// The default scenario with `count` hourly tool snapshots on ONTAP01; the one at `owned` (if any)
/// is also owned by SnapMirror, which the tool cannot see as a reason to keep it.
fn env_with_snapshots(version: &str, count: usize, owned: Option<usize>) -> (TestEnv, Vec<String>) {
    let mut v = serde_json::to_value(Scenario::default()).expect("scenario JSON");
    v["ontap"]["version"] = json!(version);
    let mut names = Vec::new();
    let vol = v["ontap"]["volumes"]
        .as_array_mut()
        .and_then(|a| a.iter_mut().find(|vol| vol["name"] == "ONTAP01"))
        .expect("ONTAP01");
    let snaps = vol["snapshots"].as_array_mut().expect("snapshots");
    for i in 0..count {
        let name = format!(
            "proxmox_snapshot_2026-05-{:02}_{:02}:00:00+0000",
            1 + i / 24,
            i % 24
        );
        let mut s = json!({"name": name, "create_time": format!("2026-05-{:02}T{:02}:00:00Z", 1 + i / 24, i % 24)});
        if owned == Some(i) {
            s["owners"] = json!(["snapmirror"]);
        }
        snaps.push(s);
        names.push(name);
    }
    let scenario: Scenario = serde_json::from_value(v).expect("scenario");
    let env = TestEnv::with_options(SimOptions {
        scenario,
        ..SimOptions::default()
    });
    env.write_config(&env.token_config());
    (env, names)
}

fn prune(env: &TestEnv, keep: usize) -> crate::util::Output {
    env.clear_requests();
    env.run(&[
        "storage",
        "prune",
        "--storage",
        "ONTAP01",
        "--keep-last",
        &keep.to_string(),
    ])
}

#[test]
fn prune_deletes_every_old_snapshot_in_one_request() {
    let (env, names) = env_with_snapshots("9.14.1", 60, None);
    prune(&env, 5).assert_ok();
    let left = env.snapshot_names("ONTAP01");
    // The two snapshots of the default scenario are not the tool's (or older than its own).
    for kept in &names[55..] {
        assert!(left.contains(kept), "{kept} was deleted: {left:?}");
    }
    for gone in &names[..55] {
        assert!(!left.contains(gone), "{gone} is still there");
    }
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/snapshots"),
        1
    );
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/snapshots/*"),
        0
    );
    assert!(
        env.requests().len() <= 8,
        "{} requests",
        env.requests().len()
    );
}

#[test]
fn a_snapshot_ontap_refuses_is_named_and_the_rest_is_deleted() {
    let (env, names) = env_with_snapshots("9.14.1", 20, Some(3));
    let out = prune(&env, 2);
    out.assert_code(1);
    assert!(out.stderr.contains(&names[3]), "{}", out.stderr);
    assert!(out.stderr.contains("owner"), "{}", out.stderr);
    let left = env.snapshot_names("ONTAP01");
    assert!(left.contains(&names[3]));
    for (i, n) in names[..18].iter().enumerate() {
        assert_eq!(left.contains(n), i == 3, "{n}");
    }
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/snapshots"),
        1
    );
}

#[test]
fn before_ontap_9_11_every_snapshot_is_deleted_on_its_own() {
    let (env, names) = env_with_snapshots("9.10.1", 12, None);
    prune(&env, 2).assert_ok();
    let left = env.snapshot_names("ONTAP01");
    assert!(names[..10].iter().all(|n| !left.contains(n)));
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/snapshots"),
        0
    );
    // Ten of ours and the original tool's 2024 snapshot of the default scenario.
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/snapshots/*"),
        11
    );
}
