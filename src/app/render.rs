//! Output of the commands: JSON as the reports serialise, or text for people (tables, details).
//! Pure functions of the reports, except `emit`, which writes to stdout.

use std::io::{self, Write};

use serde::Serialize;

use crate::cli::OutputFormat;
use crate::error::{Error, Result};
use crate::ops::storage::{
    self, MountReport, ProtectedSnapshot, RestoreReport, ShowReport, SnapshotRow, UnmountReport,
};
use crate::ops::vm::{recover, SnapshotSet};
use crate::output::{self, details, human_size, opt_size, short_time, Align, Table};

/// Write a result to stdout as JSON or as the text `render` makes.
pub(super) fn emit<T: Serialize + ?Sized>(
    format: OutputFormat,
    value: &T,
    render: impl FnOnce(&T) -> String,
) -> Result<()> {
    match format {
        OutputFormat::Json => write_stdout(|out| output::write_json(out, value)),
        OutputFormat::Text => {
            let text = render(value);
            write_stdout(|out| out.write_all(text.as_bytes()))
        }
    }
}

/// A reader that went away (`| head`) is not an error: the work is done.
pub(super) fn write_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("write to", "<stdout>", e)),
    }
}

pub(super) fn dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

/// One `note: ...` line per note.
pub(super) fn note_lines(notes: &[String]) -> String {
    notes.iter().map(|n| format!("note: {n}\n")).collect()
}

/// Names joined by ", ", or `none`.
pub(super) fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

pub(super) fn render_created(r: &SnapshotRow) -> String {
    format!(
        "created snapshot {} of storage {}\n{}{}",
        r.name,
        r.storage,
        details(&[
            ("volume", Some(r.volume.clone())),
            ("created", Some(short_time(&r.create_time))),
            ("label", r.label.clone()),
            ("expiry", r.expiry_time.as_deref().map(short_time)),
            ("locked until", r.lock_expiry.as_deref().map(short_time)),
            ("comment", r.comment.clone()),
        ]),
        note_lines(&r.notes)
    )
}

pub(super) fn render_deleted(r: &SnapshotRow) -> String {
    format!(
        "deleted snapshot {} of storage {} (volume {})\n{}",
        r.name,
        r.storage,
        r.volume,
        note_lines(&r.notes)
    )
}

pub(super) fn render_list(storage: &str, rows: &[SnapshotRow], all: bool) -> String {
    if rows.is_empty() {
        return if all {
            format!("storage {storage} has no snapshots\n")
        } else {
            format!(
                "storage {storage} has no snapshots made by this tool (--all shows every snapshot)\n"
            )
        };
    }
    // The lock column only when a snapshot is locked (ONTAP snapshot locking).
    let locks = rows.iter().any(|r| r.lock_expiry.is_some());
    let mut columns = vec![
        ("NAME", Align::Left),
        ("CREATED", Align::Left),
        ("SIZE", Align::Right),
        ("LABEL", Align::Left),
        ("CLONES", Align::Left),
    ];
    if locks {
        columns.push(("LOCKED UNTIL", Align::Left));
    }
    let mut table = Table::new(&columns);
    for r in rows {
        let mut cells = vec![
            r.name.clone(),
            short_time(&r.create_time),
            opt_size(r.size),
            dash(r.label.as_deref()),
            if r.clones.is_empty() {
                "-".to_string()
            } else {
                r.clones.join(",")
            },
        ];
        if locks {
            cells.push(
                r.lock_expiry
                    .as_deref()
                    .map_or_else(|| "-".to_string(), short_time),
            );
        }
        table.row(cells);
    }
    let mut out = table.render();
    for r in rows {
        for note in &r.notes {
            out.push_str(&format!("note: {}: {note}\n", r.name));
        }
    }
    out
}

pub(super) fn render_restore(r: &RestoreReport) -> String {
    format!(
        "restored storage {} (volume {}) to snapshot {}\n{}{}",
        r.storage,
        r.volume,
        r.snapshot,
        details(&[
            (
                "discarded",
                Some(storage::discards_phrase(&r.discarded_snapshots)),
            ),
            (
                "running guests",
                (!r.running_guests.is_empty()).then(|| r.running_guests.join(", ")),
            ),
        ]),
        note_lines(&r.notes)
    )
}

pub(super) fn render_mount(r: &MountReport) -> String {
    format!(
        "mounted snapshot {} of storage {} as storage {}\n{}{}",
        r.snapshot,
        r.parent_storage,
        r.storage,
        details(&[
            ("clone volume", Some(r.volume.clone())),
            ("junction path", Some(r.junction_path.clone())),
            ("nfs server", Some(r.server.clone())),
            ("export", Some(r.export.clone())),
            ("export policy", r.export_policy.clone()),
        ]),
        note_lines(&r.notes)
    )
}

pub(super) fn render_unmount(r: &UnmountReport) -> String {
    let parent = match (&r.parent_volume, &r.parent_snapshot) {
        (Some(vol), Some(snap)) => Some(format!("{vol} snapshot {snap}")),
        (Some(vol), None) => Some(vol.clone()),
        (None, Some(snap)) => Some(format!("snapshot {snap}")),
        (None, None) => None,
    };
    format!(
        "unmounted storage {}: removed from Proxmox VE, clone volume {} deleted\n{}{}",
        r.storage,
        r.volume,
        details(&[
            ("clone parent", parent),
            ("mount path", Some(r.mount_path.clone())),
        ]),
        note_lines(&r.notes)
    )
}

pub(super) fn render_show(r: &ShowReport) -> String {
    let v = &r.volume;
    let parent = match (&v.parent_volume, &v.parent_snapshot) {
        (Some(vol), Some(snap)) => Some(format!("{vol} snapshot {snap}")),
        (Some(vol), None) => Some(vol.clone()),
        _ => None,
    };
    details(&[
        ("storage", Some(r.storage.clone())),
        ("nfs server", r.server.clone()),
        ("export", r.export.clone()),
        (
            "export subdir",
            (!r.prefix.is_empty()).then(|| r.prefix.clone()),
        ),
        ("volume", Some(v.name.clone())),
        ("volume uuid", Some(v.uuid.clone())),
        ("svm", Some(v.svm_name.clone())),
        ("junction path", v.nas_path.clone()),
        ("export policy", v.export_policy.clone()),
        ("state", v.state.clone()),
        ("style", v.style.clone()),
        ("size", v.size.map(human_size)),
        ("used", v.used.map(human_size)),
        ("available", v.available.map(human_size)),
        ("snapshots", v.snapshot_count.map(|n| n.to_string())),
        (
            "flexclone",
            Some(if v.is_flexclone { "yes" } else { "no" }.into()),
        ),
        ("clone parent", parent),
        ("clones", Some(names_or_none(&r.clones))),
        ("comment", v.comment.clone()),
    ])
}

/// Summary line, then the deleted, the kept and the protected (kept, with the reason) snapshots.
pub(super) fn render_prune(
    subject: &str,
    kept: &[String],
    deleted: &[String],
    protected: &[ProtectedSnapshot],
    dry_run: bool,
) -> String {
    let protected_count = if protected.is_empty() {
        String::new()
    } else {
        format!(" ({} protected)", protected.len())
    };
    let mut out = if dry_run {
        format!(
            "{subject}: would delete {}, keep {}{protected_count} (dry run, nothing deleted)\n",
            deleted.len(),
            kept.len()
        )
    } else {
        format!(
            "{subject}: deleted {}, kept {}{protected_count}\n",
            deleted.len(),
            kept.len()
        )
    };
    if kept.is_empty() && deleted.is_empty() {
        return out;
    }
    let mut table = Table::new(&[("SNAPSHOT", Align::Left), ("ACTION", Align::Left)]);
    let verb = if dry_run { "would delete" } else { "deleted" };
    for name in deleted {
        table.row([name.clone(), verb.to_string()]);
    }
    for name in kept {
        let action = match protected.iter().find(|p| &p.name == name) {
            Some(p) => format!("kept, protected: {}", p.reason),
            None => "kept".to_string(),
        };
        table.row([name.clone(), action]);
    }
    out.push_str(&table.render());
    out
}

pub(super) fn render_set(verb: &str, s: &SnapshotSet) -> String {
    let mut out = format!(
        "{verb} snapshot {} of guest {}: {} disk{}\n",
        s.timestamp,
        s.vmid,
        s.disks.len(),
        if s.disks.len() == 1 { "" } else { "s" }
    );
    if let Some(label) = &s.label {
        out.push_str(&format!("label: {label}\n"));
    }
    if !s.disks.is_empty() {
        let mut table = Table::new(&[
            ("KEY", Align::Left),
            ("DISK", Align::Left),
            ("SNAPSHOT", Align::Left),
            ("SIZE", Align::Right),
        ]);
        for d in &s.disks {
            table.row([
                dash(d.key.as_deref()),
                d.disk.clone(),
                d.snapshot.clone(),
                opt_size(d.size),
            ]);
        }
        out.push_str(&table.render());
    }
    for skipped in &s.skipped {
        out.push_str(&format!(
            "skipped {} ({}): {}\n",
            skipped.key, skipped.volume, skipped.reason
        ));
    }
    if let Some(why) = &s.partial {
        out.push_str(&format!("INCOMPLETE: {why}\n"));
    }
    out.push_str(&note_lines(&s.notes));
    out
}

pub(super) fn render_sets(vmid: u32, sets: &[SnapshotSet]) -> String {
    if sets.is_empty() {
        return format!("guest {vmid} has no snapshots\n");
    }
    let mut table = Table::new(&[
        ("SNAPSHOT", Align::Left),
        ("LABEL", Align::Left),
        ("DISKS", Align::Right),
        ("SIZE", Align::Right),
        ("KEYS", Align::Left),
    ]);
    for s in sets {
        let size = s.disks.iter().map(|d| d.size).sum::<Option<u64>>();
        let keys: Vec<&str> = s.disks.iter().filter_map(|d| d.key.as_deref()).collect();
        table.row([
            if s.partial.is_some() {
                format!("{} (INCOMPLETE)", s.timestamp)
            } else {
                s.timestamp.clone()
            },
            dash(s.label.as_deref()),
            s.disks.len().to_string(),
            opt_size(size),
            if keys.is_empty() {
                "-".to_string()
            } else {
                keys.join(",")
            },
        ]);
    }
    let mut out = table.render();
    for s in sets {
        if let Some(why) = &s.partial {
            out.push_str(&format!("{}: {why}\n", s.timestamp));
        }
    }
    out
}

/// One row of `vm list --output json`: a disk set or a volume snapshot.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum ListEntry<'a> {
    Set {
        kind: &'static str,
        #[serde(flatten)]
        set: &'a SnapshotSet,
    },
    Storage(&'a recover::StorageSnapshotEntry),
}

pub(super) fn render_storage_snapshots(
    vmid: u32,
    entries: &[recover::StorageSnapshotEntry],
    contents: bool,
) -> String {
    if entries.is_empty() {
        return format!(
            "no volume snapshot of guest {vmid}'s storages{}\n",
            if contents { " holds its disks" } else { "" }
        );
    }
    let mut table = Table::new(&[
        ("VOLUME SNAPSHOT", Align::Left),
        ("KIND", Align::Left),
        ("TIME", Align::Left),
        ("LABEL", Align::Left),
        ("STORAGES", Align::Left),
        ("DISKS", Align::Left),
    ]);
    for e in entries {
        let disks = match &e.disks {
            None => "? (--contents)".to_string(),
            Some(d) => d
                .iter()
                .map(|d| d.key.clone().unwrap_or_else(|| d.file.clone()))
                .collect::<Vec<_>>()
                .join(","),
        };
        table.row([
            e.name.clone(),
            e.kind.to_string(),
            e.time.clone(),
            dash(e.label.as_deref()),
            e.storages.join(","),
            disks,
        ]);
    }
    format!("\n{}", table.render())
}

pub(super) fn render_shown_config(s: &recover::ShownConfig) -> String {
    format!(
        "# guest {} ({}) in {} '{}' of {} (from {} on storage '{}')\n{}",
        s.vmid,
        s.guest_type,
        s.kind,
        s.snapshot,
        s.created,
        s.path,
        s.storage,
        crate::ops::manifest::render(&s.config)
    )
}

pub(super) fn render_recovery(r: &recover::Recovery) -> String {
    let mut out = match (r.action.as_str(), r.new_vmid) {
        ("cloned", Some(new)) => format!(
            "guest {new} made from {} '{}' of guest {} (configuration: {})\n",
            r.kind,
            r.snapshot,
            r.vmid,
            r.config_source.as_deref().unwrap_or("-")
        ),
        ("attached", Some(helper)) => format!(
            "attached a disk of {} '{}' of guest {} to guest {helper}\n",
            r.kind, r.snapshot, r.vmid
        ),
        ("detached", _) => format!("detached from guest {}\n", r.vmid),
        _ => format!(
            "{} guest {} from {} '{}'\n",
            r.action, r.vmid, r.kind, r.snapshot
        ),
    };
    if !r.disks.is_empty() {
        let mut table = Table::new(&[
            ("KEY", Align::Left),
            ("VOLUME", Align::Left),
            ("FROM", Align::Left),
            ("SIZE", Align::Right),
        ]);
        for d in &r.disks {
            table.row([
                d.key.clone(),
                d.volume.clone(),
                d.source.clone(),
                opt_size(d.size),
            ]);
        }
        out.push_str(&table.render());
    }
    if let Some(kept) = &r.kept {
        out.push_str(&format!(
            "the disks as they were are kept as disk set {kept} (label {}); 'vm restore --vm {} \
             --snapshot {kept}' goes back\n",
            recover::PRE_RESTORE,
            r.vmid
        ));
    }
    for n in &r.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}
