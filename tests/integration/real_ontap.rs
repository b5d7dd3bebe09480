//! Real-system ONTAP behaviours end to end (binary + simulator scenario switches): SnapMirror
//! references on restore, busy answers that pass (EBUSY, block sharing), no FlexClone licence,
//! a full volume.

use pve_ontap_sim::{Scenario, SimOptions};
use serde_json::{json, Value};

use crate::util::TestEnv;

fn env_with(ontap: Value) -> TestEnv {
    let scenario: Scenario = serde_json::from_value(json!({ "ontap": ontap })).unwrap();
    assert!(
        scenario.ontap.validate().is_empty(),
        "{:?}",
        scenario.ontap.validate()
    );
    TestEnv::with_options(SimOptions {
        scenario,
        ..SimOptions::default()
    })
}

/// The default volume ONTAP01 with its two snapshots, the newer one owned by SnapMirror.
fn snapmirror_scenario() -> Value {
    let mut ontap = serde_json::to_value(pve_ontap_sim::ontap::Scenario::default()).unwrap();
    ontap["volumes"][0]["snapshots"][1]["owners"] = json!(["snapmirror"]);
    ontap
}

const OLD: &str = "proxmox_snapshot_2024-03-13_14:42:47+0000";
const NEWER: &str = "hourly.2026-11-01_0105";

#[test]
fn restore_names_snapmirror_references_and_needs_the_flag() {
    let env = env_with(snapmirror_scenario());
    let args = [
        "storage",
        "restore",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD,
        "--yes",
        "--force",
    ];
    let out = env.run(&args);
    out.assert_code(1);
    assert!(out.stderr.contains(&format!("'{NEWER}'")), "{}", out.stderr);
    assert!(
        out.stderr.contains("--discard-snapmirror-references"),
        "{}",
        out.stderr
    );
    // Nothing changed, and no restore was sent.
    assert_eq!(env.snapshot_names("ONTAP01"), [OLD, NEWER]);
    assert_eq!(env.count_requests("PATCH", "/api/storage/volumes/*"), 0);
    assert_eq!(
        env.count_requests("POST", "/api/private/cli/volume/snapshot/restore"),
        0
    );

    let mut forced = args.to_vec();
    forced.push("--discard-snapmirror-references");
    let out = env.run(&forced);
    out.assert_ok();
    assert_eq!(env.snapshot_names("ONTAP01"), [OLD]);
    assert_eq!(
        env.count_requests("POST", "/api/private/cli/volume/snapshot/restore"),
        1
    );
    assert!(out.stdout.contains("resynchronise") || out.stderr.contains("resynchronise"));
}

#[test]
fn deleting_a_snapmirror_reference_is_refused_by_ontap() {
    let env = env_with(snapmirror_scenario());
    let out = env.run(&[
        "storage",
        "delete",
        "--storage",
        "ONTAP01",
        "--snapshot",
        NEWER,
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("1638543"), "{}", out.stderr);
    assert_eq!(env.snapshot_names("ONTAP01"), [OLD, NEWER]);
}

#[test]
fn a_busy_node_and_block_sharing_are_waited_out() {
    let env = env_with(json!({
        "conditions": {"file_clone_busy": 2, "snapshot_block_sharing": 1}
    }));
    let out = env.run(&["--output", "json", "vm", "create", "--vm", "102"]);
    out.assert_ok();
    // Every disk was cloned in the end; two clone attempts were refused with EBUSY first.
    let clones = env.count_requests("POST", "/api/storage/file/clone");
    let disks = out.json()["disks"].as_array().map(Vec::len).unwrap_or(0);
    assert!(disks >= 1, "{}", out.stdout);
    assert_eq!(clones, disks + 2, "{}", out.stderr);
    let before = env.snapshot_names("ONTAP01").len();
    env.run(&["storage", "create", "--storage", "ONTAP01"])
        .assert_ok();
    assert_eq!(env.snapshot_names("ONTAP01").len(), before + 1);
    assert_eq!(
        env.count_requests("POST", "/api/storage/volumes/*/snapshots"),
        2
    );
}

#[test]
fn without_a_flexclone_licence_clones_fail_with_ontaps_error() {
    let env = env_with(json!({"conditions": {"flexclone_license": false}}));
    let out = env.run(&[
        "storage",
        "mount",
        "--storage",
        "ONTAP01",
        "--snapshot",
        OLD,
    ]);
    out.assert_code(1);
    assert!(out.stderr.contains("license"), "{}", out.stderr);
    assert!(!env.storage_ids().iter().any(|s| s.contains("CLONE")));
    let out = env.run(&["vm", "create", "--vm", "102"]);
    out.assert_code(1);
    assert!(out.stderr.contains("14956"), "{}", out.stderr);
}

#[test]
fn a_full_volume_refuses_a_snapshot() {
    let mut ontap = serde_json::to_value(pve_ontap_sim::ontap::Scenario::default()).unwrap();
    // ONTAP01 holds 89 GiB and a few MiB of files: a volume of 89 GiB has no room left.
    ontap["volumes"][0]["size"] = json!("89GiB");
    let env = env_with(ontap);
    // The capacity guard reads the same space from the volume record and refuses before ONTAP
    // would (ONTAP's own 524479 is covered by the simulator's tests).
    let out = env.run(&["storage", "create", "--storage", "ONTAP01"]);
    out.assert_code(1);
    assert!(out.stderr.contains("space_used_max"), "{}", out.stderr);
    assert!(out.stderr.contains("storage prune"), "{}", out.stderr);
    assert_eq!(env.snapshot_names("ONTAP01").len(), 2);
}
