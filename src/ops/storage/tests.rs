//! Decision logic of the storage commands against the test double (`crate::testing::double`): names,
//! refusals, guards, cleanup on failure, and which calls each command makes.

use std::time::Duration;

use time::OffsetDateTime;

use super::*;
use crate::model::names::STORAGE_SNAPSHOT_PREFIX;
use crate::ontap::OntapVersion;
use crate::ops::clock::Clock;
use crate::testing::clock::ManualClock;
use crate::testing::double::Double;

fn days_ago(d: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::days(d)
}

fn tool_snapshot(f: &Double, volume: &str, days: i64, label: Option<&str>) -> String {
    let at = days_ago(days);
    let name = names::storage_snapshot_name(at);
    f.add_snapshot(volume, &name, at, label);
    name
}

/// Stop every guest with a disk on ONTAP01.
fn stop_ontap01_guests(f: &Double) {
    for vmid in [100, 101, 104, 200] {
        f.set_guest_status(vmid, "stopped");
    }
}

fn mount_default(f: &Double, snapshot: &str) -> MountReport {
    mount(f, "ONTAP01", snapshot, &MountOptions::default()).unwrap()
}

// ---- create ----

#[test]
fn create_makes_one_snapshot_with_comment_label_and_expiry_and_no_extra_call() {
    let f = Double::new();
    let opts = CreateOptions {
        label: Some("daily".into()),
        expiry: Some(Duration::from_secs(7 * 86_400)),
        freeze: false,
        ..Default::default()
    };
    let before = OffsetDateTime::now_utc();
    let row = create(&f, "ONTAP01", &opts).unwrap();
    assert!(
        row.name.starts_with(STORAGE_SNAPSHOT_PREFIX),
        "{}",
        row.name
    );
    assert!(row.managed);
    assert_eq!(row.label.as_deref(), Some("daily"));
    assert_eq!(row.volume, "ONTAP01");
    assert_eq!(
        row.comment.as_deref(),
        Some("pve-ontap-snapshot: storage ONTAP01")
    );
    let expiry = parse_time(row.expiry_time.as_deref().unwrap()).unwrap();
    let week = time::Duration::days(7);
    assert!(expiry >= (before + week).replace_nanosecond(0).unwrap());
    assert!(expiry <= OffsetDateTime::now_utc() + week);
    assert_eq!(f.snapshot_names("ONTAP01"), [row.name.as_str()]);
    assert_eq!(
        f.calls(),
        [
            "pve.storage ONTAP01".to_string(),
            "ontap.svm_by_lif 127.0.10.1".into(),
            "ontap.volumes svm.name=svm1&nas.path=/ONTAP01".into(),
            format!("ontap.create_snapshot {}", row.name),
        ]
    );
}

#[test]
fn create_refuses_a_bad_label_before_any_call() {
    let f = Double::new();
    for bad in ["has space", "x".repeat(32).as_str(), "a:b"] {
        let opts = CreateOptions {
            label: Some(bad.into()),
            ..Default::default()
        };
        let e = create(&f, "ONTAP01", &opts).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("invalid label"), "{e}");
    }
    assert!(f.calls().is_empty());
}

/// A clock at 2026-05-01 10:20:30.250 UTC.
fn clock() -> ManualClock {
    ManualClock::at(time::macros::datetime!(2026-05-01 10:20:30.25 UTC))
}

#[test]
fn create_waits_for_the_next_second_on_a_name_collision() {
    let f = Double::new();
    f.fail_next(
        "ontap.create_snapshot",
        409,
        Some("525059"),
        "A snapshot with the specified name already exists.",
    );
    let clock = clock();
    let row = create::create(
        &f,
        "ONTAP01",
        &CreateOptions::default(),
        &clock,
        crate::ops::manifest::Record::Nothing,
    )
    .unwrap();
    let creates = f.calls_to("ontap.create_snapshot");
    assert_eq!(creates.len(), 2);
    assert_ne!(
        creates[0], creates[1],
        "the retry uses the next second's name"
    );
    assert_eq!(
        creates[0],
        "ontap.create_snapshot proxmox_snapshot_2026-05-01_10:20:30+0000"
    );
    assert_eq!(row.name, "proxmox_snapshot_2026-05-01_10:20:31+0000");
    assert_eq!(creates[1], format!("ontap.create_snapshot {}", row.name));
    assert_eq!(f.snapshot_names("ONTAP01"), [row.name]);
    // The clock was moved to the next second, not slept on.
    assert_eq!(
        clock.now(),
        time::macros::datetime!(2026-05-01 10:20:31 UTC)
    );
}

#[test]
fn create_fails_clearly_on_a_second_collision() {
    let f = Double::new();
    for _ in 0..2 {
        f.fail_next(
            "ontap.create_snapshot",
            409,
            Some("525059"),
            "already exists",
        );
    }
    let e = create::create(
        &f,
        "ONTAP01",
        &CreateOptions::default(),
        &clock(),
        crate::ops::manifest::Record::Nothing,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("create snapshot 'proxmox_snapshot_"),
        "{msg}"
    );
    assert!(
        msg.contains("volume 'ONTAP01' for storage 'ONTAP01'"),
        "{msg}"
    );
    assert!(f.snapshot_names("ONTAP01").is_empty());
}

#[test]
fn create_at_the_snapshot_limit_is_refused_before_the_post() {
    let f = Double::new();
    f.world().volumes[1].snapshot_count = Some(1023);
    let e = create(&f, "ONTAP01", &CreateOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("limit of 1023 snapshots"), "{msg}");
    assert!(msg.contains("storage prune --storage ONTAP01"), "{msg}");
    assert!(f.calls_to("ontap.create_snapshot").is_empty());
}

#[test]
fn create_maps_the_limit_error_when_ontap_reports_no_count() {
    let f = Double::new();
    f.world().volumes[1].snapshot_count = None;
    f.fail_next(
        "ontap.create_snapshot",
        400,
        Some("525062"),
        "Cannot exceed maximum number of snapshots.",
    );
    let e = create(&f, "ONTAP01", &CreateOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("reached ONTAP's limit of 1023 snapshots"),
        "{msg}"
    );
    assert!(msg.contains("storage prune"), "{msg}");
    assert_eq!(e.ontap_code(), Some("525062"));
}

#[test]
fn create_freeze_reports_guests_without_agent_and_never_blocks() {
    let f = Double::new();
    // Only guests without an agent (101) and a container (200) run on ONTAP01.
    f.set_guest_status(100, "stopped");
    f.set_guest_status(104, "stopped");
    let opts = CreateOptions {
        freeze: true,
        ..Default::default()
    };
    let row = create(&f, "ONTAP01", &opts).unwrap();
    assert_eq!(f.snapshot_names("ONTAP01"), [row.name.as_str()]);
    let notes = row.notes.join("\n");
    assert!(
        notes.contains("guest 101 (db01) has no guest agent"),
        "{notes}"
    );
    assert!(notes.contains("nothing was frozen"), "{notes}");
    // Configs are read only for running QEMU guests; lookups come before the snapshot.
    let calls = f.calls();
    let configs: Vec<_> = f.calls_to("pve.guest_config");
    assert_eq!(
        configs,
        ["pve.guest_config 101", "pve.guest_config 103"],
        "{calls:?}"
    );
    assert!(calls.last().unwrap().starts_with("ontap.create_snapshot"));
}

// ---- list / show ----

#[test]
fn list_shows_the_tools_snapshots_or_all_with_their_clones() {
    let f = Double::new();
    let old = tool_snapshot(&f, "ONTAP01", 3, Some("daily"));
    f.add_snapshot("ONTAP01", "hourly.2026-11-01_0105", days_ago(2), None);
    let new = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount_default(&f, &old);

    let rows = list(&f, "ONTAP01", false).unwrap();
    let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [old.as_str(), new.as_str()]);
    assert_eq!(rows[0].clones, [m.volume.as_str()]);
    assert_eq!(rows[0].label.as_deref(), Some("daily"));
    assert!(rows[1].clones.is_empty());

    let all = list(&f, "ONTAP01", true).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].name, "hourly.2026-11-01_0105");
    assert!(!all[1].managed);
}

#[test]
fn list_of_a_storage_without_snapshots_skips_the_clone_query() {
    let f = Double::new();
    assert!(list(&f, "ONTAP02", false).unwrap().is_empty());
    assert_eq!(f.calls_to("ontap.volumes").len(), 1, "{:?}", f.calls());
}

#[test]
fn show_reports_the_volume_prefix_and_clones() {
    let f = Double::new();
    let s = tool_snapshot(&f, "pve_nested", 1, None);
    let m = mount(&f, "ONTAP03", &s, &MountOptions::default()).unwrap();
    let show = show(&f, "ONTAP03").unwrap();
    assert_eq!(show.volume.name, "pve_nested");
    assert_eq!(show.prefix, "pve");
    assert_eq!(show.export.as_deref(), Some("/nested/pve"));
    assert_eq!(show.clones, [m.volume]);
    assert_eq!(show.volume.export_policy.as_deref(), Some("pve_hosts"));

    f.world().volumes[4].snapshot_count = None;
    let show = crate::ops::storage::show(&f, "ONTAP03").unwrap();
    assert_eq!(show.volume.snapshot_count, Some(1));
}

// ---- delete ----

#[test]
fn delete_removes_one_snapshot() {
    let f = Double::new();
    let a = tool_snapshot(&f, "ONTAP01", 2, None);
    let b = tool_snapshot(&f, "ONTAP01", 1, None);
    let row = delete(&f, "ONTAP01", &a).unwrap();
    assert_eq!(row.name, a);
    assert_eq!(f.snapshot_names("ONTAP01"), [b]);
}

#[test]
fn delete_of_an_unknown_snapshot_names_storage_and_snapshot() {
    let f = Double::new();
    let e = delete(&f, "ONTAP01", "proxmox_snapshot_2000-01-01_00:00:00+0000").unwrap_err();
    assert!(matches!(e.root(), Error::NotFound { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("snapshot 'proxmox_snapshot_2000-01-01_00:00:00+0000' of storage 'ONTAP01'"),
        "{msg}"
    );
    assert!(f.calls_to("ontap.delete").is_empty());
}

#[test]
fn delete_with_a_bad_name_is_a_usage_error_without_calls() {
    let f = Double::new();
    let e = delete(&f, "ONTAP01", "x y;z").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(f.calls().is_empty());
}

#[test]
fn delete_is_refused_while_a_clone_depends_on_the_snapshot() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount_default(&f, &s);
    let e = delete(&f, "ONTAP01", &s).unwrap_err();
    assert!(matches!(e.root(), Error::Refused(_)));
    let msg = e.to_string();
    assert!(msg.contains(&format!("'{}'", m.volume)), "{msg}");
    assert!(msg.contains("Proxmox storage 'ONTAP01-CLONE'"), "{msg}");
    assert!(
        msg.contains("storage unmount --storage ONTAP01-CLONE"),
        "{msg}"
    );
    assert!(f.calls_to("ontap.delete_snapshot").is_empty());
    assert_eq!(f.snapshot_names("ONTAP01"), [s]);
}

#[test]
fn delete_is_refused_before_the_expiry() {
    let f = Double::new();
    let row = create(
        &f,
        "ONTAP01",
        &CreateOptions {
            expiry: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
    )
    .unwrap();
    let e = delete(&f, "ONTAP01", &row.name).unwrap_err();
    assert!(e.to_string().contains("expires at"), "{e}");
    assert_eq!(f.snapshot_names("ONTAP01"), [row.name]);
}

// ---- restore ----

#[test]
fn restore_is_refused_while_guests_on_the_storage_run() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let opts = RestoreOptions::default();
    for e in [
        plan_restore(&f, "ONTAP01", &s, &opts).unwrap_err(),
        restore(&f, "ONTAP01", &s, &opts).unwrap_err(),
    ] {
        let msg = e.to_string();
        for g in ["100 (web01)", "101 (db01)", "104 (noagent01)", "200 (ct01)"] {
            assert!(msg.contains(g), "{msg}");
        }
        assert!(!msg.contains("103"), "{msg}");
        assert!(msg.contains("--force"), "{msg}");
    }
    assert!(f.calls_to("ontap.create_snapshot").is_empty());
    assert!(f.calls_to("ontap.restore_volume").is_empty());
    // Stopped guests are not read at all.
    assert!(!f.calls().contains(&"pve.guest_config 102".to_string()));
}

#[test]
fn restore_names_the_newer_snapshots_it_discards_and_takes_no_snapshot() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    let older = tool_snapshot(&f, "ONTAP01", 5, None);
    let target = tool_snapshot(&f, "ONTAP01", 3, None);
    let newer = tool_snapshot(&f, "ONTAP01", 2, None);
    let newest = tool_snapshot(&f, "ONTAP01", 1, Some("hourly"));
    let opts = RestoreOptions::default();

    // The plan lists them, oldest first, and changes nothing.
    let plan = plan_restore(&f, "ONTAP01", &target, &opts).unwrap();
    assert_eq!(plan.discarded_snapshots, [newer.clone(), newest.clone()]);
    assert_eq!(
        (plan.storage.as_str(), plan.volume.as_str()),
        ("ONTAP01", "ONTAP01")
    );
    assert!(plan.running_guests.is_empty() && plan.notes.is_empty());
    assert!(f.calls_to("ontap.restore_volume").is_empty());
    assert_eq!(f.snapshot_names("ONTAP01").len(), 4);

    let rep = restore(&f, "ONTAP01", &target, &opts).unwrap();
    assert_eq!(rep.snapshot, target);
    assert_eq!(rep.discarded_snapshots, [newer, newest]);
    // The fake, like ONTAP, dropped exactly those.
    assert_eq!(f.snapshot_names("ONTAP01"), [older, target.clone()]);
    // No snapshot was taken; the restore is the only change, and nothing is listed after it.
    assert!(f.calls_to("ontap.create_snapshot").is_empty());
    assert_eq!(
        f.calls_to("ontap.restore_volume"),
        [format!("ontap.restore_volume {target}")]
    );
    assert_eq!(
        f.calls().last().unwrap(),
        &format!("ontap.restore_volume {target}")
    );
    assert_eq!(
        f.calls_to("ontap.snapshots").len(),
        2,
        "one per plan and restore"
    );

    // Restoring it again (now the newest snapshot) discards nothing.
    let rep = restore(&f, "ONTAP01", &target, &opts).unwrap();
    assert!(rep.discarded_snapshots.is_empty());
}

#[test]
fn restore_refuses_to_discard_a_snapshot_made_after_the_confirmation() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    let target = tool_snapshot(&f, "ONTAP01", 3, None);
    let newer = tool_snapshot(&f, "ONTAP01", 2, None);
    let plan = plan_restore(&f, "ONTAP01", &target, &RestoreOptions::default()).unwrap();
    assert_eq!(plan.discarded_snapshots, std::slice::from_ref(&newer));
    // While the prompt waited, another snapshot was made.
    let late = tool_snapshot(&f, "ONTAP01", 1, None);
    let opts = RestoreOptions {
        force: false,
        confirmed_discards: Some(plan.discarded_snapshots),
        discard_snapmirror_references: false,
    };
    let e = restore(&f, "ONTAP01", &target, &opts).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&format!("'{late}'")), "{msg}");
    assert!(!msg.contains(&newer), "{msg}");
    assert!(msg.contains("after the confirmation"), "{msg}");
    assert!(f.calls_to("ontap.restore_volume").is_empty());
    assert_eq!(
        f.snapshot_names("ONTAP01"),
        [target.clone(), newer.clone(), late.clone()]
    );
    // Confirmed in full, it goes ahead.
    let opts = RestoreOptions {
        force: false,
        confirmed_discards: Some(vec![newer.clone(), late.clone()]),
        discard_snapmirror_references: false,
    };
    let rep = restore(&f, "ONTAP01", &target, &opts).unwrap();
    assert_eq!(rep.discarded_snapshots, [newer, late]);
}

#[test]
fn restore_with_force_reports_the_running_guests() {
    let f = Double::new();
    let target = tool_snapshot(&f, "ONTAP01", 1, None);
    let opts = RestoreOptions {
        force: true,
        confirmed_discards: None,
        discard_snapmirror_references: false,
    };
    let rep = restore(&f, "ONTAP01", &target, &opts).unwrap();
    assert_eq!(
        rep.running_guests,
        ["100 (web01)", "101 (db01)", "104 (noagent01)", "200 (ct01)"]
    );
    assert!(rep.notes.join(" ").contains("--force"), "{:?}", rep.notes);
    assert!(f.calls_to("ontap.create_snapshot").is_empty());
    assert_eq!(
        f.calls_to("ontap.restore_volume"),
        [format!("ontap.restore_volume {target}")]
    );
}

#[test]
fn restore_refuses_past_snapmirror_references_unless_told_and_then_uses_the_cli_force() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    // An older SnapMirror reference is kept by the restore and does not matter.
    let before = tool_snapshot(&f, "ONTAP01", 6, None);
    f.set_snapshot_owners("ONTAP01", &before, &["snapmirror"]);
    let target = tool_snapshot(&f, "ONTAP01", 4, None);
    let plain = tool_snapshot(&f, "ONTAP01", 3, None);
    let mirrored = tool_snapshot(&f, "ONTAP01", 2, None);
    let dependent = tool_snapshot(&f, "ONTAP01", 1, None);
    f.set_snapshot_owners("ONTAP01", &mirrored, &["snapmirror"]);
    f.set_snapshot_owners("ONTAP01", &dependent, &["snapmirror_dependent"]);

    for e in [
        plan_restore(&f, "ONTAP01", &target, &RestoreOptions::default()).unwrap_err(),
        restore(&f, "ONTAP01", &target, &RestoreOptions::default()).unwrap_err(),
    ] {
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("'{mirrored}', '{dependent}'")),
            "{msg}"
        );
        assert!(!msg.contains(&plain) && !msg.contains(&before), "{msg}");
        assert!(msg.contains("--discard-snapmirror-references"), "{msg}");
        assert!(msg.contains("Nothing was changed"), "{msg}");
    }
    assert!(f.calls_to("ontap.restore_volume").is_empty());
    assert_eq!(f.snapshot_names("ONTAP01").len(), 5);

    let opts = RestoreOptions {
        discard_snapmirror_references: true,
        ..RestoreOptions::default()
    };
    let plan = plan_restore(&f, "ONTAP01", &target, &opts).unwrap();
    assert_eq!(
        plan.snapmirror_references,
        [mirrored.clone(), dependent.clone()]
    );
    assert!(
        plan.notes.join(" ").contains("resynchronise"),
        "{:?}",
        plan.notes
    );
    let rep = restore(&f, "ONTAP01", &target, &opts).unwrap();
    assert_eq!(rep.discarded_snapshots, [plain, mirrored, dependent]);
    assert_eq!(
        f.calls_to("ontap.restore_volume"),
        [format!("ontap.restore_volume_forced {target}")]
    );
    assert_eq!(f.snapshot_names("ONTAP01"), [before, target]);
}

#[test]
fn a_failed_restore_names_the_step_and_changes_nothing() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    let target = tool_snapshot(&f, "ONTAP01", 2, None);
    let newer = tool_snapshot(&f, "ONTAP01", 1, None);
    f.fail_next(
        "ontap.restore_volume",
        500,
        Some("524511"),
        "Failed to restore snapshot",
    );
    let e = restore(&f, "ONTAP01", &target, &RestoreOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("restore snapshot '{target}' on volume 'ONTAP01'")),
        "{msg}"
    );
    assert!(msg.contains("524511"), "{msg}");
    assert_eq!(f.snapshot_names("ONTAP01"), [target, newer]);
    assert!(f.calls_to("ontap.create_snapshot").is_empty());
    assert!(f.calls_to("ontap.delete_snapshot").is_empty());
}

#[test]
fn restore_is_refused_when_a_clone_depends_on_a_newer_snapshot() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    let target = tool_snapshot(&f, "ONTAP01", 3, None);
    let newer = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount_default(&f, &newer);
    let opts = RestoreOptions::default();
    let e = restore(&f, "ONTAP01", &target, &opts).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&m.volume) && msg.contains(&newer), "{msg}");
    assert!(f.calls_to("ontap.create_snapshot").is_empty());
    // A clone of the target itself does not block.
    let f = Double::new();
    stop_ontap01_guests(&f);
    let target = tool_snapshot(&f, "ONTAP01", 1, None);
    mount_default(&f, &target);
    restore(&f, "ONTAP01", &target, &opts).unwrap();
}

// ---- mount ----

#[test]
fn mount_creates_a_clone_and_a_storage_like_the_parent() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount_default(&f, &s);
    assert_eq!(m.storage, "ONTAP01-CLONE");
    assert!(m.volume.starts_with("ONTAP01_clone_"), "{}", m.volume);
    assert_eq!(m.junction_path, format!("/{}", m.volume));
    assert_eq!(m.export, m.junction_path);
    assert_eq!(m.export_policy.as_deref(), Some("pve_hosts"));
    assert!(m.notes.is_empty(), "{:?}", m.notes);
    let w = f.world();
    let st = w
        .storages
        .iter()
        .find(|s| s.storage == "ONTAP01-CLONE")
        .unwrap();
    assert_eq!(st.server.as_deref(), Some("127.0.10.1"));
    assert_eq!(st.export.as_deref(), Some(m.junction_path.as_str()));
    assert_eq!(st.options.as_deref(), Some("vers=4.2,nconnect=16"));
    assert_eq!(st.content.as_deref(), Some("images,rootdir"));
    let v = w.volumes.iter().find(|v| v.name == m.volume).unwrap();
    assert!(v.is_flexclone);
    assert_eq!(v.parent_snapshot.as_deref(), Some(s.as_str()));
    drop(w);
    assert!(f.calls_to("ontap.set_export_policy").is_empty());
}

#[test]
fn mount_picks_unique_storage_ids_and_clone_names() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let a = mount_default(&f, &s);
    let b = mount_default(&f, &s);
    let c = mount_default(&f, &s);
    assert_eq!(
        [a.storage.as_str(), b.storage.as_str(), c.storage.as_str()],
        ["ONTAP01-CLONE", "ONTAP01-CLONE-2", "ONTAP01-CLONE-3"]
    );
    let mut names = vec![a.volume, b.volume, c.volume];
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn mount_with_a_taken_name_fails_before_creating_anything() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let opts = MountOptions {
        name: Some("ONTAP02".into()),
    };
    let e = mount(&f, "ONTAP01", &s, &opts).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("'ONTAP02' already exists"), "{msg}");
    assert!(f.calls_to("ontap.create_flexclone").is_empty());
    assert!(f.calls_to("pve.create_nfs_storage").is_empty());

    let opts = MountOptions {
        name: Some("restore-test".into()),
    };
    let m = mount(&f, "ONTAP01", &s, &opts).unwrap();
    assert_eq!(m.storage, "restore-test");
    assert!(f.storage_ids().contains(&"restore-test".to_string()));

    let e = mount(
        &f,
        "ONTAP01",
        &s,
        &MountOptions {
            name: Some("bad id!".into()),
        },
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn mount_notes_a_name_without_config_section() {
    let f = Double::new();
    f.world().sections = Some(vec!["ONTAP01".into(), "ONTAP01-CLONE".into()]);
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount(
        &f,
        "ONTAP01",
        &s,
        &MountOptions {
            name: Some("elsewhere".into()),
        },
    )
    .unwrap();
    assert!(
        m.notes[0].contains("no ONTAP section for 'elsewhere'"),
        "{:?}",
        m.notes
    );
}

#[test]
fn mount_sets_the_parents_export_policy_when_the_clone_did_not_inherit_it() {
    let f = Double::new();
    f.world().clone_inherits_policy = false;
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount_default(&f, &s);
    assert_eq!(m.export_policy.as_deref(), Some("pve_hosts"));
    assert_eq!(
        f.calls_to("ontap.set_export_policy"),
        ["ontap.set_export_policy pve_hosts"]
    );
    let w = f.world();
    let v = w.volumes.iter().find(|v| v.name == m.volume).unwrap();
    assert_eq!(v.export_policy.as_deref(), Some("pve_hosts"));
}

#[test]
fn mount_of_an_export_below_a_junction_keeps_the_directory() {
    let f = Double::new();
    let s = tool_snapshot(&f, "pve_nested", 1, None);
    let m = mount(&f, "ONTAP03", &s, &MountOptions::default()).unwrap();
    assert_eq!(m.storage, "ONTAP03-CLONE");
    assert_eq!(m.export, format!("/{}/pve", m.volume));
    // The clone storage resolves back to the clone volume with the same directory.
    let r = crate::ops::resolve::resolve(&f, "ONTAP03-CLONE").unwrap();
    assert_eq!(r.volume.name, m.volume);
    assert_eq!(r.prefix, "pve");
}

#[test]
fn mount_deletes_the_clone_again_when_proxmox_fails() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let volumes_before = f.volume_names();
    f.fail_next(
        "pve.create_nfs_storage",
        500,
        None,
        "mount error: mount.nfs: access denied",
    );
    let e = mount(&f, "ONTAP01", &s, &MountOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("was deleted again, nothing is left"), "{msg}");
    assert!(msg.contains("access denied"), "{msg}");
    assert!(msg.contains("add nfs storage 'ONTAP01-CLONE'"), "{msg}");
    assert_eq!(f.volume_names(), volumes_before);
    assert!(!f.storage_ids().contains(&"ONTAP01-CLONE".to_string()));
    // The snapshot is free again.
    delete(&f, "ONTAP01", &s).unwrap();
}

#[test]
fn mount_of_an_unknown_snapshot_creates_nothing() {
    let f = Double::new();
    let e = mount(&f, "ONTAP01", "nope", &MountOptions::default()).unwrap_err();
    assert!(matches!(e.root(), Error::NotFound { .. }));
    assert!(f.calls_to("ontap.create_flexclone").is_empty());
}

// ---- unmount ----

#[test]
fn unmount_removes_storage_then_unjunctions_then_force_deletes() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount_default(&f, &s);
    let rep = unmount(&f, "ONTAP01-CLONE").unwrap();
    assert_eq!(rep.volume, m.volume);
    assert_eq!(rep.parent_snapshot.as_deref(), Some(s.as_str()));
    assert_eq!(rep.mount_path, "/mnt/pve/ONTAP01-CLONE");
    let notes = rep.notes.join("\n");
    assert!(notes.contains("umount /mnt/pve/ONTAP01-CLONE"), "{notes}");
    assert!(notes.contains(&format!("parent snapshot '{s}'")), "{notes}");
    assert!(!f.volume_names().contains(&m.volume));
    assert!(!f.storage_ids().contains(&"ONTAP01-CLONE".to_string()));
    let calls = f.calls();
    let order: Vec<_> = calls
        .iter()
        .filter(|c| {
            c.starts_with("pve.delete_storage")
                || c.starts_with("ontap.unmount_volume")
                || c.starts_with("ontap.delete_volume")
        })
        .collect();
    assert_eq!(order.len(), 3);
    assert!(order[0].starts_with("pve.delete_storage"));
    assert!(order[1].starts_with("ontap.unmount_volume"));
    assert!(order[2].ends_with("force=true"), "{order:?}");
    assert_eq!(f.snapshot_names("ONTAP01"), [s.as_str()]);
    delete(&f, "ONTAP01", &s).unwrap();
}

#[test]
fn unmount_before_9_12_deletes_without_force_and_says_so() {
    let f = Double::new();
    f.world().version = Some(OntapVersion::new(9, 11, 1));
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    mount_default(&f, &s);
    let rep = unmount(&f, "ONTAP01-CLONE").unwrap();
    assert!(f.calls_to("ontap.delete_volume")[0].ends_with("force=false"));
    assert!(
        rep.notes.join(" ").contains("recovery queue"),
        "{:?}",
        rep.notes
    );
}

#[test]
fn unmount_of_a_non_clone_storage_is_refused_and_changes_nothing() {
    let f = Double::new();
    let e = unmount(&f, "ONTAP01").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("not a clone storage made by mount"), "{msg}");
    assert!(f.storage_ids().contains(&"ONTAP01".to_string()));
    assert!(f.calls_to("pve.delete").is_empty());
    assert!(f.calls_to("ontap.unmount").is_empty());
}

#[test]
fn unmount_is_refused_while_a_guest_uses_the_clone_storage() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    mount_default(&f, &s);
    f.world().configs.get_mut(&102).unwrap().insert(
        "scsi5".into(),
        "ONTAP01-CLONE:102/vm-102-disk-0.qcow2,size=20G".into(),
    );
    let e = unmount(&f, "ONTAP01-CLONE").unwrap_err();
    assert!(e.to_string().contains("102 (stopped01) (scsi5)"), "{e}");
    assert!(f.storage_ids().contains(&"ONTAP01-CLONE".to_string()));
}

#[test]
fn unmount_puts_the_storage_back_when_the_unjunction_fails() {
    let f = Double::new();
    let s = tool_snapshot(&f, "ONTAP01", 1, None);
    let m = mount_default(&f, &s);
    f.fail_next("ontap.unmount_volume", 500, Some("524486"), "Volume busy");
    let e = unmount(&f, "ONTAP01-CLONE").unwrap_err();
    assert!(e.to_string().contains("added back to Proxmox VE"), "{e}");
    assert!(f.storage_ids().contains(&"ONTAP01-CLONE".to_string()));
    assert!(f.volume_names().contains(&m.volume));
}

// ---- prune ----

#[test]
fn prune_applies_retention_per_label_to_the_tools_snapshots_only() {
    let f = Double::new();
    let d5 = tool_snapshot(&f, "ONTAP01", 5, Some("daily"));
    let d4 = tool_snapshot(&f, "ONTAP01", 4, Some("daily"));
    let h3 = tool_snapshot(&f, "ONTAP01", 3, Some("hourly"));
    let d2 = tool_snapshot(&f, "ONTAP01", 2, Some("daily"));
    let n1 = tool_snapshot(&f, "ONTAP01", 1, None);
    f.add_snapshot("ONTAP01", "hourly.2026-11-01_0105", days_ago(30), None);
    let opts = PruneOptions {
        retention: Retention {
            keep_last: Some(1),
            keep_within: None,
        },
        label: None,
        dry_run: false,
    };
    let rep = prune(&f, "ONTAP01", &opts).unwrap();
    assert_eq!(rep.deleted, [d5.clone(), d4.clone()]);
    assert_eq!(rep.kept, [h3.clone(), d2.clone(), n1.clone()]);
    assert!(rep.protected.is_empty());
    assert_eq!(
        f.snapshot_names("ONTAP01"),
        [h3, d2, n1, "hourly.2026-11-01_0105".to_string()]
    );
}

#[test]
fn prune_with_a_label_only_looks_at_that_label() {
    let f = Double::new();
    let d3 = tool_snapshot(&f, "ONTAP01", 3, Some("daily"));
    let h2 = tool_snapshot(&f, "ONTAP01", 2, Some("hourly"));
    let d1 = tool_snapshot(&f, "ONTAP01", 1, Some("daily"));
    let opts = PruneOptions {
        retention: Retention {
            keep_last: Some(0),
            keep_within: Some(Duration::from_secs(36 * 3600)),
        },
        label: Some("daily".into()),
        dry_run: false,
    };
    let rep = prune(&f, "ONTAP01", &opts).unwrap();
    assert_eq!(rep.deleted, [d3]);
    assert_eq!(rep.kept, [d1.as_str()]);
    assert_eq!(f.snapshot_names("ONTAP01"), [h2, d1]);
}

#[test]
fn prune_dry_run_deletes_nothing() {
    let f = Double::new();
    let a = tool_snapshot(&f, "ONTAP01", 2, None);
    let b = tool_snapshot(&f, "ONTAP01", 1, None);
    let opts = PruneOptions {
        retention: Retention {
            keep_last: Some(1),
            keep_within: None,
        },
        label: None,
        dry_run: true,
    };
    let rep = prune(&f, "ONTAP01", &opts).unwrap();
    assert!(rep.dry_run);
    assert_eq!(rep.deleted, [a.as_str()]);
    assert_eq!(f.snapshot_names("ONTAP01"), [a, b]);
    assert!(f.calls_to("ontap.delete").is_empty());
}

#[test]
fn prune_keeps_and_reports_snapshots_with_clones_or_future_expiry() {
    let f = Double::new();
    let cloned = tool_snapshot(&f, "ONTAP01", 4, None);
    let m = mount_default(&f, &cloned);
    let locked = create(
        &f,
        "ONTAP01",
        &CreateOptions {
            expiry: Some(Duration::from_secs(86_400)),
            ..Default::default()
        },
    )
    .unwrap()
    .name;
    // Make the locked snapshot old enough to be selected, and add a plain old one.
    {
        let mut w = f.world();
        let snaps = w.snapshots.get_mut("uuid-ontap01").unwrap();
        let s = snaps.iter_mut().find(|s| s.name == locked).unwrap();
        s.create_time = iso8601(days_ago(3));
    }
    let plain = tool_snapshot(&f, "ONTAP01", 2, None);
    let newest = tool_snapshot(&f, "ONTAP01", 0, None);
    let opts = PruneOptions {
        retention: Retention {
            keep_last: Some(1),
            keep_within: None,
        },
        label: None,
        dry_run: false,
    };
    let rep = prune(&f, "ONTAP01", &opts).unwrap();
    assert_eq!(rep.deleted, [plain]);
    let protected: Vec<_> = rep.protected.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(protected, [cloned.as_str(), locked.as_str()]);
    assert!(rep.protected[0].reason.contains(&m.volume));
    assert!(rep.protected[1].reason.contains("expires at"));
    assert_eq!(rep.kept, [cloned.clone(), locked.clone(), newest.clone()]);
    assert_eq!(f.snapshot_names("ONTAP01"), [cloned, locked, newest]);
}

#[test]
fn prune_stops_at_the_first_failed_delete_and_says_what_was_done() {
    let f = Double::new();
    let a = tool_snapshot(&f, "ONTAP01", 3, None);
    let b = tool_snapshot(&f, "ONTAP01", 2, None);
    tool_snapshot(&f, "ONTAP01", 1, None);
    // The second delete fails (named by its snapshot: the deletes run concurrently, so the order
    // of the calls is not the order of the snapshots).
    let b_uuid = f
        .world()
        .snapshots
        .values()
        .flatten()
        .find(|s| s.name == b)
        .map(|s| s.uuid.clone())
        .unwrap();
    f.fail_next(
        &format!("ontap.delete_snapshot {b_uuid}"),
        409,
        Some("1638555"),
        "locked",
    );
    let opts = PruneOptions {
        retention: Retention {
            keep_last: Some(1),
            keep_within: None,
        },
        label: None,
        dry_run: false,
    };
    let e = prune(&f, "ONTAP01", &opts).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&format!("already deleted: {a}")), "{msg}");
    assert!(msg.contains(&format!("delete snapshot '{b}'")), "{msg}");
    assert!(msg.contains("locked"), "{msg}");
    assert!(!f.snapshot_names("ONTAP01").contains(&a));
    assert!(f.snapshot_names("ONTAP01").contains(&b));
}

#[test]
fn restore_is_refused_past_a_newer_unexpired_snapshot() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    let target = tool_snapshot(&f, "ONTAP01", 3, None);
    let locked = create(
        &f,
        "ONTAP01",
        &CreateOptions {
            expiry: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
    )
    .unwrap();
    let opts = RestoreOptions::default();
    let e = restore(&f, "ONTAP01", &target, &opts).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&locked.name) && msg.contains("not expired"),
        "{msg}"
    );
    assert_eq!(
        f.calls_to("ontap.create_snapshot").len(),
        1,
        "only the locked one"
    );
    assert!(f.calls_to("ontap.restore_volume").is_empty());
}

#[test]
fn restore_of_an_unknown_snapshot_changes_nothing() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    let opts = RestoreOptions::default();
    let e = restore(
        &f,
        "ONTAP01",
        "proxmox_snapshot_1999-01-01_00:00:00+0000",
        &opts,
    )
    .unwrap_err();
    assert!(matches!(e.root(), Error::NotFound { .. }));
    assert!(f.calls_to("ontap.create_snapshot").is_empty());
    let e = restore(&f, "ONTAP01", "bad name", &opts).unwrap_err();
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn restore_guards_guests_of_every_storage_on_the_same_volume() {
    let f = Double::new();
    stop_ontap01_guests(&f);
    {
        let mut w = f.world();
        // A second storage on a directory of the ONTAP01 volume, one on another server.
        let mut sub = w.storages[2].clone();
        sub.storage = "ONTAP01-sub".into();
        sub.export = Some("/ONTAP01/sub".into());
        w.storages.push(sub);
        let mut elsewhere = w.storages[2].clone();
        elsewhere.storage = "OTHER".into();
        elsewhere.server = Some("127.0.20.1".into());
        w.storages.push(elsewhere);
        w.configs
            .get_mut(&103)
            .unwrap()
            .insert("scsi1".into(), "ONTAP01-sub:103/vm-103-disk-1.raw".into());
        w.configs
            .get_mut(&101)
            .unwrap()
            .insert("scsi2".into(), "OTHER:101/vm-101-disk-2.raw".into());
    }
    f.set_guest_status(101, "running");
    f.world().configs.get_mut(&101).unwrap().remove("sata0");
    let target = tool_snapshot(&f, "ONTAP01", 1, None);
    let opts = RestoreOptions::default();
    let e = restore(&f, "ONTAP01", &target, &opts).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("103 (app01)"), "{msg}");
    assert!(!msg.contains("101"), "{msg}");
    assert!(msg.contains("storages 'ONTAP01', 'ONTAP01-sub'"), "{msg}");
    assert!(f.calls_to("ontap.restore_volume").is_empty());
}
