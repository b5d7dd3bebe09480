//! Command dispatch: turns a parsed `Cli` into calls of the workflows in `ops` or the hook engine.
//! Prompts live in `confirm`, text output in `render`, the `check` command in `check`.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::Duration;

use super::backends::{connect, live};
use super::check::check;
use super::confirm::{confirm, confirm_restore};
use super::render::*;
use crate::cli::{
    Cli, Command, OutputFormat, RetentionArgs, Shell, StorageCommand, VmCommand, BIN,
};
use crate::error::{Error, Result};
use crate::model::retention::Retention;
use crate::ops::quiesce::Consistency;
use crate::ops::storage::{self};
use crate::ops::vm::{self, recover};

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
            return crate::hook::run_hookscript(config_file, vmid, &phase, &live)
        }
        Command::Vzdump { phase, mode, vmid } => {
            let env = crate::hook::VzdumpEnv::from_process();
            return crate::hook::run_vzdump(
                config_file,
                &phase,
                mode.as_deref(),
                vmid,
                &env,
                &live,
            );
        }
        Command::Run { schedule } => {
            return crate::hook::run_schedule(config_file, &schedule, &live)
        }
        Command::InternalRescan { args } => crate::ops::rescan::run_deferred_from_args(&args),
    }
    .map(|()| 0)
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
            let (_, b) = connect(config_file)?;
            let record = if no_configs {
                crate::ops::manifest::Record::Nothing
            } else {
                crate::ops::manifest::Record::All
            };
            let row = storage::create_recording(&*b, &storage.storage, &opts, record)?;
            emit(format, &row, render_created)
        }
        StorageCommand::List { storage, all } => {
            let (_, b) = connect(config_file)?;
            let rows = storage::list(&*b, &storage.storage, all)?;
            emit(format, &rows, |r| render_list(&storage.storage, r, all))
        }
        StorageCommand::Delete { storage, snapshot } => {
            let (_, b) = connect(config_file)?;
            let row = storage::delete(&*b, &storage.storage, &snapshot)?;
            emit(format, &row, render_deleted)
        }
        StorageCommand::Restore {
            storage,
            snapshot,
            yes,
            force,
        } => {
            let (_, b) = connect(config_file)?;
            let id = &storage.storage;
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
            let (_, b) = connect(config_file)?;
            let report = storage::mount(
                &*b,
                &storage.storage,
                &snapshot,
                &storage::MountOptions { name },
            )?;
            emit(format, &report, render_mount)
        }
        StorageCommand::Unmount { storage } => {
            let (_, b) = connect(config_file)?;
            let report = storage::unmount(&*b, &storage.storage)?;
            emit(format, &report, render_unmount)
        }
        StorageCommand::Show { storage } => {
            let (_, b) = connect(config_file)?;
            let report = storage::show(&*b, &storage.storage)?;
            emit(format, &report, render_show)
        }
        StorageCommand::Prune { storage, retention } => {
            let (rule, label, dry_run) = retention_args(retention)?;
            let (_, b) = connect(config_file)?;
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
            let (config, b) = connect(config_file)?;
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
            let (_, b) = connect(config_file)?;
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
            let (_, b) = connect(config_file)?;
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
            let (config, b) = connect(config_file)?;
            let vmid = vm.vm.to_string();
            if crate::model::names::parse_timestamp(&snapshot).is_none() {
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
            let set = vm::restore(&*b, vm.vm, &snapshot, &vm::RestoreOptions { disk })?;
            emit(format, &set, |s| render_set("restored", s))
        }
        VmCommand::ShowConfig { vm, snapshot } => {
            let (_, b) = connect(config_file)?;
            let shown = recover::show_config(&*b, vm.vm, &snapshot)?;
            emit(format, &shown, render_shown_config)
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
            let (config, b) = connect(config_file)?;
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
            let (config, b) = connect(config_file)?;
            let env = recover::Env {
                paths: &config.paths,
                rescan: crate::ops::rescan::RescanMode::Auto,
            };
            let r = recover::attach(&*b, vm.vm, &snapshot, &disk, to, &env)?;
            emit(format, &r, render_recovery)
        }
        VmCommand::Detach { to, disk } => {
            let (config, b) = connect(config_file)?;
            let env = recover::Env {
                paths: &config.paths,
                rescan: crate::ops::rescan::RescanMode::Auto,
            };
            let r = recover::detach(&*b, to, &disk, &env)?;
            emit(format, &r, render_recovery)
        }
        VmCommand::Prune { vm, retention } => {
            let (rule, label, dry_run) = retention_args(retention)?;
            let (_, b) = connect(config_file)?;
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
    crate::model::retention::parse_duration(value).ok_or_else(|| {
        Error::Usage(format!(
            "invalid value '{value}' for {flag}: expected a duration such as 30d, 12h, 90m, 2w, \
             45s or 1d12h"
        ))
    })
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
pub(super) fn gen_docs(dir: &Path) -> Result<()> {
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
