//! Command dispatch: turns a parsed `Cli` into calls of the workflows in `ops`, asks for
//! confirmation where a command destroys data, and renders every result as text or JSON.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::cli::{
    Cli, Command, OutputFormat, RetentionArgs, Shell, StorageCommand, VmCommand, BIN,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::TlsMode;
use crate::ops::quiesce::Consistency;
use crate::ops::retention::Retention;
use crate::ops::storage::{
    self, MountReport, ProtectedSnapshot, RestoreReport, ShowReport, SnapshotRow, UnmountReport,
};
use crate::ops::vm::{self, recover, SnapshotSet};
use crate::ops::Backends;
use crate::output::{self, details, human_size, opt_size, short_time, Align, Table};

/// Run one parsed command line; the exit code on success (hooks exit non-zero only to make
/// Proxmox abort a start or a backup, as their policy asks).
pub fn run(cli: Cli) -> Result<u8> {
    let format = cli.output;
    let config_file = cli.config.as_deref();
    match cli.command {
        Command::Storage(cmd) => storage_command(config_file, format, cmd),
        Command::Vm(cmd) => vm_command(config_file, format, cmd),
        Command::Check => check(config_file, format),
        Command::Completions { shell } => {
            let script = completion(shell);
            write_stdout(|out| out.write_all(&script))
        }
        Command::GenDocs { dir } => gen_docs(&dir),
        // The hooks find their config without cwd, PATH or HOME, and a phase without an action
        // returns before reading secrets or opening any connection.
        Command::Hook { vmid, phase } => {
            return crate::hook::run_hookscript(config_file, vmid, &phase)
        }
        Command::Vzdump { phase, mode, vmid } => {
            let env = crate::hook::VzdumpEnv::from_process();
            return crate::hook::run_vzdump(config_file, &phase, mode.as_deref(), vmid, &env);
        }
        Command::Run { schedule } => return crate::hook::run_schedule(config_file, &schedule),
        Command::InternalRescan { args } => crate::ops::rescan::run_deferred_from_args(&args),
    }
    .map(|()| 0)
}

/// The live API clients for this config.
fn backends(config: &Config) -> Result<Box<dyn Backends>> {
    Ok(Box::new(crate::ops::backends::Live::new(config)?))
}

fn load(config_file: Option<&Path>) -> Result<Config> {
    let config = Config::load(config_file)?;
    log::debug!("using config {}", config.file.display());
    Ok(config)
}

fn storage_command(
    config_file: Option<&Path>,
    format: OutputFormat,
    cmd: StorageCommand,
) -> Result<()> {
    match cmd {
        StorageCommand::Create {
            storage,
            label,
            expiry,
            freeze,
            no_configs,
        } => {
            let opts = storage::CreateOptions {
                label,
                expiry: expiry
                    .as_deref()
                    .map(|v| duration_arg("--expiry", v))
                    .transpose()?,
                freeze,
            };
            let config = load(config_file)?;
            let b = backends(&config)?;
            let record = if no_configs {
                crate::ops::manifest::Record::Nothing
            } else {
                crate::ops::manifest::Record::All
            };
            let row = storage::create_recording(&*b, &storage.storage, &opts, record)?;
            emit(format, &row, render_created)
        }
        StorageCommand::List { storage, all } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let rows = storage::list(&*b, &storage.storage, all)?;
            emit(format, &rows, |r| render_list(&storage.storage, r, all))
        }
        StorageCommand::Delete { storage, snapshot } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let row = storage::delete(&*b, &storage.storage, &snapshot)?;
            emit(format, &row, render_deleted)
        }
        StorageCommand::Restore {
            storage,
            snapshot,
            yes,
            force,
        } => {
            let config = load(config_file)?;
            let id = &storage.storage;
            let b = backends(&config)?;
            let mut opts = storage::RestoreOptions {
                force,
                confirmed_discards: None,
            };
            if !yes {
                let stdin = io::stdin();
                let terminal = stdin.is_terminal();
                let confirmed = confirm_restore(
                    &*b,
                    terminal,
                    &mut stdin.lock(),
                    &mut io::stderr(),
                    id,
                    &snapshot,
                    &opts,
                )?;
                opts.confirmed_discards = Some(confirmed);
            }
            let report = storage::restore(&*b, id, &snapshot, &opts)?;
            emit(format, &report, render_restore)
        }
        StorageCommand::Mount {
            storage,
            snapshot,
            name,
        } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let report = storage::mount(
                &*b,
                &storage.storage,
                &snapshot,
                &storage::MountOptions { name },
            )?;
            emit(format, &report, render_mount)
        }
        StorageCommand::Unmount { storage } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let report = storage::unmount(&*b, &storage.storage)?;
            emit(format, &report, render_unmount)
        }
        StorageCommand::Show { storage } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let report = storage::show(&*b, &storage.storage)?;
            emit(format, &report, render_show)
        }
        StorageCommand::Prune { storage, retention } => {
            let (rule, label, dry_run) = retention_args(retention)?;
            let config = load(config_file)?;
            let b = backends(&config)?;
            let opts = storage::PruneOptions {
                retention: rule,
                label,
                dry_run,
            };
            let report = storage::prune(&*b, &storage.storage, &opts)?;
            emit(format, &report, |r| {
                render_prune(
                    &format!("storage {}", r.storage),
                    &r.kept,
                    &r.deleted,
                    &r.protected,
                    r.dry_run,
                )
            })
        }
    }
}

fn vm_command(config_file: Option<&Path>, format: OutputFormat, cmd: VmCommand) -> Result<()> {
    match cmd {
        VmCommand::Create {
            vm,
            suspend,
            shutdown,
            freeze,
            label,
            strict,
            no_rescan,
        } => {
            let consistency = match (suspend, shutdown, freeze) {
                (true, _, _) => Consistency::Suspend,
                (_, true, _) => Consistency::Shutdown,
                (_, _, true) => Consistency::Freeze,
                _ => Consistency::None,
            };
            let opts = vm::CreateOptions {
                consistency,
                label,
                strict,
                rescan: !no_rescan,
            };
            let config = load(config_file)?;
            let b = backends(&config)?;
            let set = vm::create_with_rescan(
                &*b,
                vm.vm,
                &opts,
                &config.paths,
                crate::ops::rescan::RescanMode::Auto,
            )?;
            emit(format, &set, |s| render_set("created", s))
        }
        VmCommand::List { vm, contents } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let (sets, storage) = recover::storage_snapshots(&*b, vm.vm, contents)?;
            let entries: Vec<ListEntry<'_>> = sets
                .iter()
                .map(|set| ListEntry::Set {
                    kind: "disk set",
                    set,
                })
                .chain(storage.iter().map(ListEntry::Storage))
                .collect();
            emit(format, &entries, |_| {
                let mut out = render_sets(vm.vm, &sets);
                out.push_str(&render_storage_snapshots(vm.vm, &storage, contents));
                out
            })
        }
        VmCommand::Delete {
            vm,
            snapshot,
            label,
        } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let set = vm::delete_label(&*b, vm.vm, &snapshot, label.as_deref())?;
            emit(format, &set, |s| render_set("deleted", s))
        }
        VmCommand::Restore {
            vm,
            snapshot,
            disk,
            yes,
            no_keep,
            skip_missing,
            skip_extra,
            resize,
            no_rescan,
        } => {
            let config = load(config_file)?;
            let vmid = vm.vm.to_string();
            if crate::ops::naming::parse_timestamp(&snapshot).is_none() {
                let disks = disk
                    .as_deref()
                    .map_or_else(|| "its disks".to_string(), |d| format!("disk {d}"));
                confirm(
                    yes,
                    &format!(
                        "Restoring guest {vmid} from volume snapshot '{snapshot}' replaces {disks} \
                         with the snapshot's files{}.",
                        if no_keep {
                            " (--no-keep: the current disks are not kept)"
                        } else {
                            "; the current disks are kept as a 'pre-restore' disk set"
                        }
                    ),
                    &vmid,
                    &format!("restore of guest {vmid}"),
                )?;
                let b = backends(&config)?;
                let opts = recover::StorageRestoreOptions {
                    disk,
                    choices: recover::plan::Choices {
                        skip_missing,
                        skip_extra,
                        resize,
                    },
                    no_keep,
                    rescan: !no_rescan,
                };
                let env = recover::Env {
                    paths: &config.paths,
                    rescan: crate::ops::rescan::RescanMode::Auto,
                };
                let r = recover::restore_storage(&*b, vm.vm, &snapshot, &opts, &env)?;
                return emit(format, &r, render_recovery);
            }
            let disks = disk.as_deref().map_or_else(
                || "every snapshotted disk".to_string(),
                |d| format!("disk {d}"),
            );
            confirm(
                yes,
                &format!(
                    "Restoring guest {vmid} to snapshot '{snapshot}' overwrites {disks}: all \
                     changes made after the snapshot are lost."
                ),
                &vmid,
                &format!("restore of guest {vmid}"),
            )?;
            let b = backends(&config)?;
            let set = vm::restore(&*b, vm.vm, &snapshot, &vm::RestoreOptions { disk })?;
            emit(format, &set, |s| render_set("restored", s))
        }
        VmCommand::ShowConfig { vm, snapshot } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let shown = recover::show_config(&*b, vm.vm, &snapshot)?;
            emit(format, &shown, |s| {
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
            })
        }
        VmCommand::Clone {
            vm,
            snapshot,
            new_vmid,
            name,
            start,
            skip_missing,
            current_config,
        } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let opts = recover::CloneOptions {
                new_vmid,
                name,
                start,
                skip_missing,
                current_config,
            };
            let env = recover::Env {
                paths: &config.paths,
                rescan: crate::ops::rescan::RescanMode::Auto,
            };
            let r = recover::clone(&*b, vm.vm, &snapshot, &opts, &env)?;
            emit(format, &r, render_recovery)
        }
        VmCommand::Attach {
            vm,
            snapshot,
            disk,
            to,
        } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let env = recover::Env {
                paths: &config.paths,
                rescan: crate::ops::rescan::RescanMode::Auto,
            };
            let r = recover::attach(&*b, vm.vm, &snapshot, &disk, to, &env)?;
            emit(format, &r, render_recovery)
        }
        VmCommand::Detach { to, disk } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let env = recover::Env {
                paths: &config.paths,
                rescan: crate::ops::rescan::RescanMode::Auto,
            };
            let r = recover::detach(&*b, to, &disk, &env)?;
            emit(format, &r, render_recovery)
        }
        VmCommand::Prune { vm, retention } => {
            let (rule, label, dry_run) = retention_args(retention)?;
            let config = load(config_file)?;
            let b = backends(&config)?;
            let report = vm::prune(&*b, vm.vm, rule, label.as_deref(), dry_run)?;
            emit(format, &report, |r| {
                render_prune(
                    &format!("guest {}", r.vmid),
                    &r.kept,
                    &r.deleted,
                    &[],
                    r.dry_run,
                )
            })
        }
    }
}

fn retention_args(args: RetentionArgs) -> Result<(Retention, Option<String>, bool)> {
    let rule = Retention {
        keep_last: args.keep_last.map(|n| n as usize),
        keep_within: args
            .keep_within
            .as_deref()
            .map(|v| duration_arg("--keep-within", v))
            .transpose()?,
    };
    Ok((rule, args.label, args.dry_run))
}

fn duration_arg(flag: &str, value: &str) -> Result<Duration> {
    crate::ops::retention::parse_duration(value).ok_or_else(|| {
        Error::Usage(format!(
            "invalid value '{value}' for {flag}: expected a duration such as 30d, 12h, 90m, 2w, \
             45s or 1d12h"
        ))
    })
}

/// Ask before destroying data: `--yes`, or the id typed on a terminal; otherwise refuse.
fn confirm(yes: bool, warning: &str, expected: &str, what: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = io::stdin();
    let terminal = stdin.is_terminal();
    confirm_with(
        terminal,
        &mut stdin.lock(),
        &mut io::stderr(),
        warning,
        expected,
        what,
    )
}

fn confirm_with(
    terminal: bool,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
    warning: &str,
    expected: &str,
    what: &str,
) -> Result<()> {
    if !terminal {
        return Err(Error::Refused(format!(
            "{what} needs confirmation: pass --yes (stdin is not a terminal); nothing was changed"
        )));
    }
    let _ = write!(
        prompt,
        "{warning}\nType '{expected}' (or 'yes') to confirm: "
    );
    let _ = prompt.flush();
    let mut answer = String::new();
    input
        .read_line(&mut answer)
        .map_err(|e| Error::io("read the confirmation from", "<stdin>", e))?;
    let answer = answer.trim();
    if answer == expected || answer == "yes" {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "{what} not confirmed; nothing was changed"
        )))
    }
}

/// The interactive confirmation of `storage restore` (no `--yes`): refused at once, without a
/// request, when stdin is no terminal; otherwise the guards are checked and the prompt names the
/// snapshots the restore discards. Returns those the administrator agreed to lose.
fn confirm_restore(
    b: &dyn Backends,
    terminal: bool,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
    id: &str,
    snapshot: &str,
    opts: &storage::RestoreOptions,
) -> Result<Vec<String>> {
    let what = format!("restore of storage '{id}'");
    if !terminal {
        // No request before a confirmation: the snapshots it would discard are not listed here.
        return Err(Error::Refused(format!(
            "{what} needs confirmation: pass --yes (stdin is not a terminal); nothing was changed. \
             The restore discards every snapshot newer than '{snapshot}' (`{BIN} storage list \
             --storage {id} --all` lists them)"
        )));
    }
    let plan = storage::plan_restore(b, id, snapshot, opts)?;
    let mut warning = format!(
        "Restoring storage '{id}' (volume '{}') to snapshot '{snapshot}' reverts EVERY disk on it: \
         all changes made after the snapshot are lost.\nThis discards {}.",
        plan.volume,
        storage::discards_phrase(&plan.discarded_snapshots)
    );
    if !plan.running_guests.is_empty() {
        warning.push_str(&format!(
            "\nThese guests are running (--force): {}.",
            plan.running_guests.join(", ")
        ));
    }
    confirm_with(true, input, prompt, &warning, id, &what)?;
    Ok(plan.discarded_snapshots)
}

/// Write a result to stdout as JSON or as the text `render` makes.
fn emit<T: Serialize + ?Sized>(
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
fn write_stdout(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::io("write to", "<stdout>", e)),
    }
}

fn dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

/// One `note: ...` line per note.
fn note_lines(notes: &[String]) -> String {
    notes.iter().map(|n| format!("note: {n}\n")).collect()
}

/// Names joined by ", ", or `none`.
fn names_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn render_created(r: &SnapshotRow) -> String {
    format!(
        "created snapshot {} of storage {}\n{}{}",
        r.name,
        r.storage,
        details(&[
            ("volume", Some(r.volume.clone())),
            ("created", Some(short_time(&r.create_time))),
            ("label", r.label.clone()),
            ("expiry", r.expiry_time.as_deref().map(short_time)),
            ("comment", r.comment.clone()),
        ]),
        note_lines(&r.notes)
    )
}

fn render_deleted(r: &SnapshotRow) -> String {
    format!(
        "deleted snapshot {} of storage {} (volume {})\n{}",
        r.name,
        r.storage,
        r.volume,
        note_lines(&r.notes)
    )
}

fn render_list(storage: &str, rows: &[SnapshotRow], all: bool) -> String {
    if rows.is_empty() {
        return if all {
            format!("storage {storage} has no snapshots\n")
        } else {
            format!(
                "storage {storage} has no snapshots made by this tool (--all shows every snapshot)\n"
            )
        };
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("CREATED", Align::Left),
        ("SIZE", Align::Right),
        ("LABEL", Align::Left),
        ("CLONES", Align::Left),
    ]);
    for r in rows {
        table.row([
            r.name.clone(),
            short_time(&r.create_time),
            opt_size(r.size),
            dash(r.label.as_deref()),
            if r.clones.is_empty() {
                "-".to_string()
            } else {
                r.clones.join(",")
            },
        ]);
    }
    let mut out = table.render();
    for r in rows {
        for note in &r.notes {
            out.push_str(&format!("note: {}: {note}\n", r.name));
        }
    }
    out
}

fn render_restore(r: &RestoreReport) -> String {
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

fn render_mount(r: &MountReport) -> String {
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

fn render_unmount(r: &UnmountReport) -> String {
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

fn render_show(r: &ShowReport) -> String {
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
fn render_prune(
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

/// One row of `vm list --output json`: a disk set or a volume snapshot.
#[derive(Serialize)]
#[serde(untagged)]
enum ListEntry<'a> {
    Set {
        kind: &'static str,
        #[serde(flatten)]
        set: &'a SnapshotSet,
    },
    Storage(&'a recover::StorageSnapshotEntry),
}

fn render_storage_snapshots(
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

fn render_recovery(r: &recover::Recovery) -> String {
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

fn render_set(verb: &str, s: &SnapshotSet) -> String {
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
    out.push_str(&note_lines(&s.notes));
    out
}

fn render_sets(vmid: u32, sets: &[SnapshotSet]) -> String {
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
            s.timestamp.clone(),
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
    table.render()
}

/// One line of `check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct CheckRow {
    /// `proxmox` or the storage id.
    name: String,
    endpoint: String,
    tls: String,
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct CheckReport {
    file: String,
    ok: bool,
    checks: Vec<CheckRow>,
}

fn check(config_file: Option<&Path>, format: OutputFormat) -> Result<()> {
    let config = load(config_file)?;
    let b = backends(&config)?;
    let mut checks = Vec::new();

    let pve = b.pve().and_then(|pve| pve.version());
    checks.push(CheckRow {
        name: "proxmox".into(),
        endpoint: config.proxmox.endpoint.base_url.clone(),
        tls: tls_text(&config.proxmox.endpoint.tls),
        ok: pve.is_ok(),
        detail: match &pve {
            Ok(v) => format!("Proxmox VE {v}"),
            Err(e) => e.to_string(),
        },
    });
    for (storage, ontap) in &config.storages {
        let result = b.ontap(storage).and_then(|client| {
            let version = client.version()?;
            let resolved = crate::ops::resolve::resolve(&*b, storage)?;
            Ok((version, resolved))
        });
        let (ok, detail) = match result {
            Ok((version, r)) => {
                let version = match version {
                    Some(v) => format!("ONTAP {}.{}.{}", v.generation, v.major, v.minor),
                    None => "ONTAP version not readable (no permission on /api/cluster)".into(),
                };
                let junction = r.volume.nas_path.as_deref().unwrap_or("not mounted");
                let prefix = if r.prefix.is_empty() {
                    String::new()
                } else {
                    format!(", export below it at {}", r.prefix)
                };
                (
                    true,
                    format!(
                        "{version}; volume {} on SVM {} (junction {junction}{prefix})",
                        r.volume.name, r.volume.svm_name
                    ),
                )
            }
            Err(e) => (false, e.to_string()),
        };
        checks.push(CheckRow {
            name: storage.clone(),
            endpoint: ontap.endpoint.base_url.clone(),
            tls: tls_text(&ontap.endpoint.tls),
            ok,
            detail,
        });
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    let report = CheckReport {
        file: config.file.display().to_string(),
        ok: failed.is_empty(),
        checks: checks.clone(),
    };
    emit(format, &report, render_check)?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "check failed for {}",
            failed.join(", ")
        )))
    }
}

fn tls_text(tls: &TlsMode) -> String {
    match tls {
        TlsMode::Verify => "verified (public CAs)".into(),
        TlsMode::CaFile(path) => format!("verified by CA file {}", path.display()),
        TlsMode::Fingerprint(fp) => {
            let hex: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
            format!("pinned SHA-256 {}", hex.join(":"))
        }
        TlsMode::Insecure => "NOT VERIFIED (verify = false)".into(),
    }
}

fn render_check(r: &CheckReport) -> String {
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("ENDPOINT", Align::Left),
        ("STATUS", Align::Left),
        ("DETAIL", Align::Left),
    ]);
    for c in &r.checks {
        table.row([
            c.name.clone(),
            c.endpoint.clone(),
            if c.ok { "OK" } else { "FAIL" }.to_string(),
            c.detail.clone(),
        ]);
    }
    let mut out = format!("config {}\n", r.file);
    out.push_str(&table.render());
    out.push_str("\nTLS:\n");
    let tls: Vec<(&str, Option<String>)> = r
        .checks
        .iter()
        .map(|c| (c.name.as_str(), Some(c.tls.clone())))
        .collect();
    out.push_str(&details(&tls));
    out
}

fn completion(shell: Shell) -> Vec<u8> {
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = crate::cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
    buf
}

/// The man pages (`pve-ontap-snapshot.1` and one per subcommand) and the completion files under
/// the names the shells load lazily.
fn gen_docs(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("create directory", dir, e))?;
    clap_mangen::generate_to(crate::cli::command(), dir)
        .map_err(|e| Error::io("write man pages into", dir, e))?;
    for (shell, name) in [
        (Shell::Bash, BIN.to_string()),
        (Shell::Zsh, format!("_{BIN}")),
        (Shell::Fish, format!("{BIN}.fish")),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, completion(shell)).map_err(|e| Error::io("write", &path, e))?;
    }
    log::info!("wrote man pages and completions into {}", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ontap::Volume;
    use crate::ops::vm::{SkippedDisk, SnapshotDisk};

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
            show.starts_with("storage:       ONTAP01\nnfs server:    127.0.10.1\nexport:        /ONTAP01\nvolume:"),
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

    fn fake_with_snapshots() -> (crate::ops::storage::fake::Fake, Vec<String>) {
        let f = crate::ops::storage::fake::Fake::new();
        for vmid in [100, 101, 104, 200] {
            f.set_guest_status(vmid, "stopped");
        }
        let now = time::OffsetDateTime::now_utc();
        let names: Vec<String> = (1..=3)
            .rev()
            .map(|days| {
                let at = now - time::Duration::days(days);
                let name = crate::ops::naming::storage_snapshot_name(at);
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
            },
        )
        .unwrap();
        assert!(confirmed.is_empty());
        let prompt = String::from_utf8(prompt).unwrap();
        assert!(
            prompt.contains("This discards no other snapshot.\nThese guests are running (--force): 100 (web01)."),
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
                    snapshot: "ONTAP01:100/vm-100-disk-2-snapshot-2024-03-13_14:42:47+0000.raw"
                        .into(),
                    size: Some(528 * 1024),
                },
            ],
            skipped: vec![SkippedDisk {
                key: "ide2".into(),
                volume: "local:iso/debian-13.iso".into(),
                reason: "cdrom".into(),
            }],
            notes: vec!["guest was stopped".into()],
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
                },
                CheckRow {
                    name: "ONTAP02".into(),
                    endpoint: "https://10.0.0.1:443".into(),
                    tls: tls_text(&TlsMode::Insecure),
                    ok: false,
                    detail: "storage 'ONTAP02' not found".into(),
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
}
