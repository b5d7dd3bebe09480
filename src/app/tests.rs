//! Tests of the command layer: rendering, prompts and argument handling.

use super::check::*;
use super::confirm::*;
use super::dispatch::*;
use super::render::*;
use crate::http::TlsMode;
use crate::ontap::Volume;
use crate::ops::storage;
use crate::ops::storage::*;
use crate::ops::vm::SnapshotSet;
use crate::ops::vm::{SkippedDisk, SnapshotDisk};
use crate::output;

fn row(name: &str, size: Option<u64>, label: Option<&str>, clones: &[&str]) -> SnapshotRow {
    SnapshotRow {
        storage: "ONTAP01".into(),
        volume: "ONTAP01".into(),
        name: name.into(),
        uuid: "u".into(),
        create_time: "2024-03-13T14:42:47+00:00".into(),
        size,
        label: label.map(Into::into),
        expiry_time: None,
        lock_expiry: None,
        comment: None,
        managed: true,
        clones: clones.iter().map(|c| c.to_string()).collect(),
        notes: Vec::new(),
    }
}

#[test]
fn list_renders_an_aligned_table() {
    let rows = [
        row(
            "proxmox_snapshot_2024-03-13_14:42:47+0000",
            Some(32 << 30),
            Some("daily"),
            &["ONTAP01_clone_1"],
        ),
        row("hourly.2026-11-01_0105", None, None, &[]),
    ];
    assert_eq!(
        render_list("ONTAP01", &rows, true),
        "NAME                                       CREATED                   SIZE  LABEL  CLONES\n\
         proxmox_snapshot_2024-03-13_14:42:47+0000  2024-03-13 14:42:47 UTC  32.0G  daily  ONTAP01_clone_1\n\
         hourly.2026-11-01_0105                     2024-03-13 14:42:47 UTC      -  -      -\n"
    );
    assert!(render_list("ONTAP01", &[], false).contains("--all"));
}

#[test]
fn json_of_a_list_is_the_rows() {
    let rows = vec![row("s", Some(1), None, &[])];
    let mut out = Vec::new();
    output::write_json(&mut out, &rows).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v[0]["name"], "s");
    assert_eq!(v[0]["size"], 1);
    assert_eq!(v[0]["clones"], serde_json::json!([]));
}

#[test]
fn prune_lists_deleted_then_kept() {
    let text = render_prune(
        "storage ONTAP01",
        &["a".into()],
        &["b".into(), "c".into()],
        &[],
        true,
    );
    assert_eq!(
        text,
        "storage ONTAP01: would delete 2, keep 1 (dry run, nothing deleted)\n\
         SNAPSHOT  ACTION\n\
         b         would delete\n\
         c         would delete\n\
         a         kept\n"
    );
    assert_eq!(
        render_prune("guest 100", &[], &[], &[], false),
        "guest 100: deleted 0, kept 0\n"
    );
}

#[test]
fn prune_shows_why_protected_snapshots_are_kept() {
    let text = render_prune(
        "storage ONTAP01",
        &["a".into(), "p".into()],
        &["b".into()],
        &[ProtectedSnapshot {
            name: "p".into(),
            reason: "FlexClone volume(s) ONTAP01_clone_1 depend on it".into(),
        }],
        false,
    );
    assert_eq!(
        text,
        "storage ONTAP01: deleted 1, kept 2 (1 protected)\n\
         SNAPSHOT  ACTION\n\
         b         deleted\n\
         a         kept\n\
         p         kept, protected: FlexClone volume(s) ONTAP01_clone_1 depend on it\n"
    );
}

fn restore_report(discarded: &[&str], running: &[&str], notes: &[&str]) -> RestoreReport {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    RestoreReport {
        storage: "ONTAP01".into(),
        volume: "ONTAP01".into(),
        snapshot: "s1".into(),
        discarded_snapshots: strings(discarded),
        running_guests: strings(running),
        notes: strings(notes),
    }
}

#[test]
fn restore_shows_the_discarded_snapshots_running_guests_and_notes() {
    assert_eq!(
        render_restore(&restore_report(&[], &[], &[])),
        "restored storage ONTAP01 (volume ONTAP01) to snapshot s1\n\
         discarded: no other snapshot\n"
    );
    assert_eq!(
        render_restore(&restore_report(&["s2"], &[], &[])),
        "restored storage ONTAP01 (volume ONTAP01) to snapshot s1\n\
         discarded: 1 newer snapshot: s2\n"
    );
    assert_eq!(
        render_restore(&restore_report(
            &["s2", "hourly.2026-11-01_0105"],
            &["100 (web01)", "200 (ct01)"],
            &["restoring under running guests 100 (web01), 200 (ct01) (--force)"],
        )),
        "restored storage ONTAP01 (volume ONTAP01) to snapshot s1\n\
         discarded:      2 newer snapshots: s2, hourly.2026-11-01_0105\n\
         running guests: 100 (web01), 200 (ct01)\n\
         note: restoring under running guests 100 (web01), 200 (ct01) (--force)\n"
    );
    let mut out = Vec::new();
    output::write_json(&mut out, &restore_report(&["s2"], &[], &[])).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["discarded_snapshots"], serde_json::json!(["s2"]));
    assert!(v.get("safety_snapshot").is_none(), "{v}");
}

#[test]
fn storage_results_render_as_sentences_and_details() {
    assert_eq!(
        render_mount(&MountReport {
            storage: "ONTAP03-CLONE".into(),
            parent_storage: "ONTAP03".into(),
            snapshot: "s1".into(),
            volume: "pve_nested_clone".into(),
            junction_path: "/pve_nested_clone".into(),
            server: "127.0.10.1".into(),
            export: "/pve_nested_clone/pve".into(),
            export_policy: Some("pve_hosts".into()),
            notes: vec!["the configuration has no ONTAP section for 'ONTAP03-CLONE'".into()],
        }),
        "mounted snapshot s1 of storage ONTAP03 as storage ONTAP03-CLONE\n\
         clone volume:  pve_nested_clone\n\
         junction path: /pve_nested_clone\n\
         nfs server:    127.0.10.1\n\
         export:        /pve_nested_clone/pve\n\
         export policy: pve_hosts\n\
         note: the configuration has no ONTAP section for 'ONTAP03-CLONE'\n"
    );
    assert_eq!(
        render_unmount(&UnmountReport {
            storage: "ONTAP01-CLONE".into(),
            volume: "ONTAP01_clone".into(),
            parent_snapshot: Some("s1".into()),
            parent_volume: Some("ONTAP01".into()),
            mount_path: "/mnt/pve/ONTAP01-CLONE".into(),
            notes: vec![
                "on every node that used it, run `umount /mnt/pve/ONTAP01-CLONE`".into(),
                "parent snapshot 's1' of volume 'ONTAP01' stays".into(),
            ],
        }),
        "unmounted storage ONTAP01-CLONE: removed from Proxmox VE, clone volume ONTAP01_clone deleted\n\
         clone parent: ONTAP01 snapshot s1\n\
         mount path:   /mnt/pve/ONTAP01-CLONE\n\
         note: on every node that used it, run `umount /mnt/pve/ONTAP01-CLONE`\n\
         note: parent snapshot 's1' of volume 'ONTAP01' stays\n"
    );
    let show_report = |prefix: &str, clones: &[&str]| ShowReport {
        storage: "ONTAP01".into(),
        server: Some("127.0.10.1".into()),
        export: Some("/ONTAP01".into()),
        volume: Volume {
            name: "ONTAP01".into(),
            uuid: "v-1".into(),
            svm_name: "svm1".into(),
            nas_path: Some("/ONTAP01".into()),
            size: Some(1 << 40),
            ..Volume::default()
        },
        prefix: prefix.into(),
        clones: clones.iter().map(|c| c.to_string()).collect(),
    };
    let show = render_show(&show_report("", &[]));
    assert!(
        show.starts_with(
            "storage:       ONTAP01\nnfs server:    127.0.10.1\nexport:        /ONTAP01\nvolume:"
        ),
        "{show}"
    );
    assert!(show.contains("\nsize:          1.0T\n"), "{show}");
    assert!(show.contains("\nflexclone:     no\n"), "{show}");
    assert!(show.contains("\nclones:        none\n"), "{show}");
    assert!(!show.contains("used"), "{show}");
    assert!(!show.contains("export subdir"), "{show}");
    let show = render_show(&show_report("pve", &["ONTAP01_clone_1", "ONTAP01_clone_2"]));
    assert!(
        show.contains("\nexport:        /ONTAP01\nexport subdir: pve\nvolume:"),
        "{show}"
    );
    assert!(
        show.contains("\nclones:        ONTAP01_clone_1, ONTAP01_clone_2\n"),
        "{show}"
    );
    let created = render_created(&row("p1", None, Some("daily"), &[]));
    assert_eq!(
        created,
        "created snapshot p1 of storage ONTAP01\n\
         volume:  ONTAP01\n\
         created: 2024-03-13 14:42:47 UTC\n\
         label:   daily\n"
    );
}

#[test]
fn snapshot_notes_render_as_note_lines() {
    let mut frozen = row("p1", None, None, &[]);
    frozen.notes = vec!["froze 100 (web01)".into(), "skipped 104 (noagent01)".into()];
    assert_eq!(
        render_created(&frozen),
        "created snapshot p1 of storage ONTAP01\n\
         volume:  ONTAP01\n\
         created: 2024-03-13 14:42:47 UTC\n\
         note: froze 100 (web01)\n\
         note: skipped 104 (noagent01)\n"
    );
    assert_eq!(
        render_deleted(&frozen),
        "deleted snapshot p1 of storage ONTAP01 (volume ONTAP01)\n\
         note: froze 100 (web01)\n\
         note: skipped 104 (noagent01)\n"
    );
    assert_eq!(
        render_deleted(&row("p2", None, None, &[])),
        "deleted snapshot p2 of storage ONTAP01 (volume ONTAP01)\n"
    );
    let list = render_list("ONTAP01", &[frozen, row("p2", None, None, &[])], false);
    assert_eq!(
        list,
        "NAME  CREATED                  SIZE  LABEL  CLONES\n\
         p1    2024-03-13 14:42:47 UTC     -  -      -\n\
         p2    2024-03-13 14:42:47 UTC     -  -      -\n\
         note: p1: froze 100 (web01)\n\
         note: p1: skipped 104 (noagent01)\n"
    );
}

// ---- the interactive confirmation of a storage restore ----

fn fake_with_snapshots() -> (crate::testing::double::Double, Vec<String>) {
    let f = crate::testing::double::Double::new();
    for vmid in [100, 101, 104, 200] {
        f.set_guest_status(vmid, "stopped");
    }
    let now = time::OffsetDateTime::now_utc();
    let names: Vec<String> = (1..=3)
        .rev()
        .map(|days| {
            let at = now - time::Duration::days(days);
            let name = crate::model::names::storage_snapshot_name(at);
            f.add_snapshot("ONTAP01", &name, at, None);
            name
        })
        .collect();
    (f, names)
}

#[test]
fn restore_without_a_terminal_is_refused_before_any_request() {
    let (f, names) = fake_with_snapshots();
    let mut prompt = Vec::new();
    let e = confirm_restore(
        &f,
        false,
        &mut &b"ONTAP01\n"[..],
        &mut prompt,
        "ONTAP01",
        &names[0],
        &storage::RestoreOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 1);
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "restore of storage 'ONTAP01' needs confirmation: pass --yes (stdin is not a \
             terminal); nothing was changed."
        ),
        "{msg}"
    );
    assert!(
        msg.contains("storage list --storage ONTAP01 --all"),
        "{msg}"
    );
    assert!(prompt.is_empty());
    assert!(f.calls().is_empty(), "{:?}", f.calls());
}

#[test]
fn restore_prompt_names_the_snapshots_it_discards() {
    let (f, names) = fake_with_snapshots();
    let mut prompt = Vec::new();
    let confirmed = confirm_restore(
        &f,
        true,
        &mut &b"ONTAP01\n"[..],
        &mut prompt,
        "ONTAP01",
        &names[0],
        &storage::RestoreOptions::default(),
    )
    .unwrap();
    assert_eq!(confirmed, names[1..]);
    let prompt = String::from_utf8(prompt).unwrap();
    assert!(
        prompt.contains(&format!(
            "This discards 2 newer snapshots: {}, {}.\nType 'ONTAP01' (or 'yes') to confirm: ",
            names[1], names[2]
        )),
        "{prompt}"
    );
    assert!(prompt.starts_with("Restoring storage 'ONTAP01' (volume 'ONTAP01') to snapshot"));
    assert!(!prompt.contains("running"), "{prompt}");
    // Asking changes nothing.
    assert!(f.calls_to("ontap.restore_volume").is_empty());
    assert_eq!(f.snapshot_names("ONTAP01"), names);

    // Declined: refused, still nothing changed.
    let e = confirm_restore(
        &f,
        true,
        &mut &b"no\n"[..],
        &mut Vec::new(),
        "ONTAP01",
        &names[0],
        &storage::RestoreOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("restore of storage 'ONTAP01' not confirmed; nothing was changed"),
        "{e}"
    );
    assert!(f.calls_to("ontap.restore_volume").is_empty());

    // Forced under running guests: the prompt says which run.
    f.set_guest_status(100, "running");
    let mut prompt = Vec::new();
    let confirmed = confirm_restore(
        &f,
        true,
        &mut &b"yes\n"[..],
        &mut prompt,
        "ONTAP01",
        &names[2],
        &storage::RestoreOptions {
            force: true,
            confirmed_discards: None,
            discard_snapmirror_references: false,
        },
    )
    .unwrap();
    assert!(confirmed.is_empty());
    let prompt = String::from_utf8(prompt).unwrap();
    assert!(
        prompt.contains(
            "This discards no other snapshot.\nThese guests are running (--force): 100 (web01)."
        ),
        "{prompt}"
    );
}

#[test]
fn a_restore_refused_by_a_guard_does_not_prompt() {
    let (f, names) = fake_with_snapshots();
    f.set_guest_status(101, "running");
    let mut prompt = Vec::new();
    let e = confirm_restore(
        &f,
        true,
        &mut &b"ONTAP01\n"[..],
        &mut prompt,
        "ONTAP01",
        &names[0],
        &storage::RestoreOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("101 (db01)"), "{e}");
    assert!(prompt.is_empty());
    assert!(f.calls_to("ontap.restore_volume").is_empty());
}

fn set() -> SnapshotSet {
    SnapshotSet {
        vmid: 100,
        timestamp: "2024-03-13_14:42:47+0000".into(),
        label: None,
        disks: vec![
            SnapshotDisk {
                key: Some("scsi0".into()),
                storage: "ONTAP01".into(),
                disk: "ONTAP01:100/vm-100-disk-0.qcow2".into(),
                snapshot: "ONTAP01:100/vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.qcow2"
                    .into(),
                size: Some(32 << 30),
            },
            SnapshotDisk {
                key: Some("efidisk0".into()),
                storage: "ONTAP01".into(),
                disk: "ONTAP01:100/vm-100-disk-2.raw".into(),
                snapshot: "ONTAP01:100/vm-100-disk-2-snapshot-2024-03-13_14:42:47+0000.raw".into(),
                size: Some(528 * 1024),
            },
        ],
        skipped: vec![SkippedDisk {
            key: "ide2".into(),
            volume: "local:iso/debian-13.iso".into(),
            reason: "cdrom".into(),
        }],
        notes: vec!["guest was stopped".into()],
        partial: None,
    }
}

#[test]
fn vm_results_render() {
    assert_eq!(
        render_set("created", &set()),
        "created snapshot 2024-03-13_14:42:47+0000 of guest 100: 2 disks\n\
         KEY       DISK                             SNAPSHOT                                                             SIZE\n\
         scsi0     ONTAP01:100/vm-100-disk-0.qcow2  ONTAP01:100/vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.qcow2   32.0G\n\
         efidisk0  ONTAP01:100/vm-100-disk-2.raw    ONTAP01:100/vm-100-disk-2-snapshot-2024-03-13_14:42:47+0000.raw    528.0K\n\
         skipped ide2 (local:iso/debian-13.iso): cdrom\n\
         note: guest was stopped\n"
    );
    let mut unknown = set();
    unknown.disks[1].size = None;
    unknown.label = Some("daily".into());
    assert_eq!(
        render_sets(100, &[set(), unknown]),
        "SNAPSHOT                  LABEL  DISKS   SIZE  KEYS\n\
         2024-03-13_14:42:47+0000  -          2  32.0G  scsi0,efidisk0\n\
         2024-03-13_14:42:47+0000  daily      2      -  scsi0,efidisk0\n"
    );
    assert_eq!(render_sets(100, &[]), "guest 100 has no snapshots\n");
}

#[test]
fn check_renders_status_and_tls() {
    let report = CheckReport {
        file: "/etc/c.ini".into(),
        ok: false,
        checks: vec![
            CheckRow {
                name: "proxmox".into(),
                endpoint: "https://127.0.0.1:8006".into(),
                tls: tls_text(&TlsMode::Fingerprint([0xab; 32])),
                ok: true,
                detail: "Proxmox VE 9.1.2".into(),
                can_lock: None,
                capacity: None,
            },
            CheckRow {
                name: "ONTAP02".into(),
                endpoint: "https://10.0.0.1:443".into(),
                tls: tls_text(&TlsMode::Insecure),
                ok: false,
                detail: "storage 'ONTAP02' not found".into(),
                can_lock: None,
                capacity: None,
            },
        ],
    };
    let text = render_check(&report);
    assert!(
        text.contains("proxmox  https://127.0.0.1:8006  OK      Proxmox VE 9.1.2\n"),
        "{text}"
    );
    assert!(
        text.contains("ONTAP02  https://10.0.0.1:443    FAIL    storage 'ONTAP02' not found\n"),
        "{text}"
    );
    assert!(text.contains("proxmox: pinned SHA-256 AB:AB:"), "{text}");
    assert!(
        text.contains("ONTAP02: NOT VERIFIED (verify = false)"),
        "{text}"
    );
}

#[test]
fn confirmation_needs_yes_or_the_typed_id() {
    let mut prompt = Vec::new();
    let e = confirm_with(
        false,
        &mut &b""[..],
        &mut prompt,
        "w",
        "ONTAP01",
        "restore of storage 'ONTAP01'",
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert_eq!(
        e.to_string(),
        "restore of storage 'ONTAP01' needs confirmation: pass --yes (stdin is not a terminal); nothing was changed"
    );
    assert!(prompt.is_empty());
    for answer in ["ONTAP01\n", "yes\n", "  yes  \n"] {
        confirm_with(
            true,
            &mut answer.as_bytes(),
            &mut prompt,
            "w",
            "ONTAP01",
            "x",
        )
        .unwrap();
    }
    assert!(String::from_utf8_lossy(&prompt).contains("Type 'ONTAP01' (or 'yes') to confirm: "));
    for answer in ["no\n", "ontap01\n", "", "y\n"] {
        let e = confirm_with(
            true,
            &mut answer.as_bytes(),
            &mut Vec::new(),
            "w",
            "ONTAP01",
            "x",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("not confirmed; nothing was changed"),
            "{answer:?}"
        );
    }
}

#[test]
fn docs_and_completions_are_generated() {
    let dir = std::env::temp_dir().join(format!("pos-gen-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    gen_docs(&dir).unwrap();
    let man = std::fs::read_to_string(dir.join("pve-ontap-snapshot.1")).unwrap();
    assert!(man.contains("Exit codes"), "{man}");
    assert!(dir.join("pve-ontap-snapshot-storage-restore.1").exists());
    assert!(!dir.join("pve-ontap-snapshot-gen-docs.1").exists());
    let bash = std::fs::read_to_string(dir.join("pve-ontap-snapshot")).unwrap();
    assert!(bash.contains("--keep-within"), "{bash}");
    assert!(std::fs::read_to_string(dir.join("_pve-ontap-snapshot"))
        .unwrap()
        .contains("#compdef pve-ontap-snapshot"));
    assert!(std::fs::read_to_string(dir.join("pve-ontap-snapshot.fish"))
        .unwrap()
        .contains("complete -c pve-ontap-snapshot"));
    let _ = std::fs::remove_dir_all(&dir);
}
