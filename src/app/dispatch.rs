//! Command dispatch: turns a parsed `Cli` into calls of the workflows in `ops` or the hook engine.
//! Prompts live in `confirm`, text output in `render`, the `check` command in `check`.

use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::Duration;

use super::backends::{connect, live};
use super::check::check;
use super::confirm::{confirm, confirm_restore};
use super::locking::{guest_storages, under_locks, with_parent};
use super::render::*;
use super::status::{status, StatusArgs};
use crate::cli::{
    Cli, Command, OutputFormat, RetentionArgs, Shell, StorageCommand, VmCommand, BIN,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::outcome::{Record, Trigger};
use crate::model::retention::Retention;
use crate::ops::quiesce::Consistency;
use crate::ops::storage::{self};
use crate::ops::vm::{self, recover};
use crate::sys::journal::{self, Journal};

/// Run one parsed command line; the exit code on success (hooks exit non-zero only to make
/// Proxmox abort a start or a backup, as their policy asks).
pub fn run(cli: Cli) -> Result<u8> {
    let format = cli.output;
    let config_file = cli.config.as_deref();
    match cli.command {
        Command::Storage(cmd) => storage_command(config_file, format, cmd),
        Command::Vm(cmd) => vm_command(config_file, format, cmd),
        Command::Check => check(config_file, format),
        Command::Status {
            storages,
            max_age,
            offline,
            format: status_format,
            textfile,
        } => {
            return status(
                config_file,
                format,
                StatusArgs {
                    storages,
                    max_age,
                    offline,
                    format: status_format,
                    textfile,
                },
            )
        }
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
        Command::InternalGuardian { args } => super::guardian::run_guardian(&args),
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
            max_pause,
            lock,
            locking,
            no_configs,
        } => {
            let (config, b) = connect(config_file)?;
            let opts = storage::CreateOptions {
                label: label.clone(),
                expiry: expiry
                    .as_deref()
                    .map(|v| duration_arg("--expiry", v))
                    .transpose()?,
                freeze,
                lock: lock
                    .as_deref()
                    .map(|v| duration_arg("--lock", v))
                    .transpose()?,
                capacity: config.capacity_for(&storage.storage),
                max_pause,
            };
            let run = Journaled::new(&config, "storage create", "storage-snapshot")
                .storage(&storage.storage)
                .label(label.as_deref());
            let record = if no_configs {
                crate::ops::manifest::Record::Nothing
            } else {
                crate::ops::manifest::Record::All
            };
            let id = &storage.storage;
            let created = under_locks(
                &config,
                std::slice::from_ref(id),
                &format!("storage create --storage {id}"),
                locking.lock_timeout,
                || storage::create_recording(&*b, id, &opts, record),
            );
            let row = run.finish(created, |r| Some(r.name.clone()))?;
            emit(format, &row, render_created)
        }
        StorageCommand::List { storage, all } => {
            let (_, b) = connect(config_file)?;
            let rows = storage::list(&*b, &storage.storage, all)?;
            emit(format, &rows, |r| render_list(&storage.storage, r, all))
        }
        StorageCommand::Delete {
            storage,
            snapshot,
            lock,
        } => {
            let (config, b) = connect(config_file)?;
            let run = Journaled::new(&config, "storage delete", "delete").storage(&storage.storage);
            let id = &storage.storage;
            let deleted = under_locks(
                &config,
                std::slice::from_ref(id),
                &format!("storage delete --storage {id} --snapshot {snapshot}"),
                lock.lock_timeout,
                || storage::delete(&*b, id, &snapshot),
            );
            let row = run.finish(deleted, |r| Some(r.name.clone()))?;
            emit(format, &row, render_deleted)
        }
        StorageCommand::Restore {
            storage,
            snapshot,
            yes,
            force,
            discard_snapmirror_references,
            lock,
        } => {
            let (config, b) = connect(config_file)?;
            let run =
                Journaled::new(&config, "storage restore", "restore").storage(&storage.storage);
            let id = &storage.storage;
            let mut opts = storage::RestoreOptions {
                force,
                confirmed_discards: None,
                discard_snapmirror_references,
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
            // The prompt's plan is shown without the lock; the restore plans again inside it and
            // refuses snapshots that appeared after the confirmation.
            let restored = under_locks(
                &config,
                std::slice::from_ref(id),
                &format!("storage restore --storage {id} --snapshot {snapshot}"),
                lock.lock_timeout,
                || storage::restore(&*b, id, &snapshot, &opts),
            );
            let report = run.finish(restored, |r| Some(r.snapshot.clone()))?;
            emit(format, &report, render_restore)
        }
        StorageCommand::Mount {
            storage,
            snapshot,
            name,
            lock,
        } => {
            let (config, b) = connect(config_file)?;
            let run = Journaled::new(&config, "storage mount", "mount").storage(&storage.storage);
            let id = &storage.storage;
            let mut storages = vec![id.clone()];
            storages.extend(name.clone());
            let mounted = under_locks(
                &config,
                &storages,
                &format!("storage mount --storage {id} --snapshot {snapshot}"),
                lock.lock_timeout,
                || storage::mount(&*b, id, &snapshot, &storage::MountOptions { name }),
            );
            let report = run.finish(mounted, |r| Some(r.snapshot.clone()))?;
            emit(format, &report, render_mount)
        }
        StorageCommand::Unmount { storage, lock } => {
            let (config, b) = connect(config_file)?;
            let run =
                Journaled::new(&config, "storage unmount", "unmount").storage(&storage.storage);
            let id = &storage.storage;
            let unmounted = under_locks(
                &config,
                &with_parent(id),
                &format!("storage unmount --storage {id}"),
                lock.lock_timeout,
                || storage::unmount(&*b, id),
            );
            let report = run.finish(unmounted, |_| None)?;
            emit(format, &report, render_unmount)
        }
        StorageCommand::Show { storage } => {
            let (_, b) = connect(config_file)?;
            let report = storage::show(&*b, &storage.storage)?;
            emit(format, &report, render_show)
        }
        StorageCommand::Prune {
            storage,
            retention,
            lock,
        } => {
            let (rule, label, dry_run) = retention_args(retention)?;
            let (config, b) = connect(config_file)?;
            let run = (!dry_run).then(|| {
                Journaled::new(&config, "storage prune", "prune")
                    .storage(&storage.storage)
                    .label(label.as_deref())
            });
            let opts = storage::PruneOptions {
                retention: rule,
                label,
                dry_run,
            };
            let id = &storage.storage;
            let report = match run {
                None => storage::prune(&*b, id, &opts)?,
                Some(run) => run.finish(
                    under_locks(
                        &config,
                        std::slice::from_ref(id),
                        &format!("storage prune --storage {id}"),
                        lock.lock_timeout,
                        || storage::prune(&*b, id, &opts),
                    ),
                    |_| None,
                )?,
            };
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
            max_pause,
            label,
            strict,
            no_rescan,
            lock,
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
                max_pause,
            };
            let (config, b) = connect(config_file)?;
            let run = Journaled::new(&config, "vm create", "vm-snapshot")
                .vmid(vm.vm)
                .label(opts.label.as_deref());
            let storages = guest_storages(&config, &*b, vm.vm)?;
            let created = under_locks(
                &config,
                &storages,
                &format!("vm create --vm {}", vm.vm),
                lock.lock_timeout,
                || {
                    vm::create_with_rescan(
                        &*b,
                        vm.vm,
                        &opts,
                        &config.paths,
                        crate::ops::rescan::RescanMode::Auto,
                    )
                },
            );
            let set = run.finish(created, |s| Some(s.timestamp.clone()))?;
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
            lock,
        } => {
            let (config, b) = connect(config_file)?;
            let run = Journaled::new(&config, "vm delete", "delete").vmid(vm.vm);
            let storages = guest_storages(&config, &*b, vm.vm)?;
            let deleted = under_locks(
                &config,
                &storages,
                &format!("vm delete --vm {} --snapshot {snapshot}", vm.vm),
                lock.lock_timeout,
                || vm::delete_label(&*b, vm.vm, &snapshot, label.as_deref()),
            );
            let set = run.finish(deleted, |s| Some(s.timestamp.clone()))?;
            emit(format, &set, |s| render_set("deleted", s))
        }
        VmCommand::Restore {
            vm,
            snapshot,
            disk,
            yes,
            lock,
            no_keep,
            skip_missing,
            skip_extra,
            resize,
            no_rescan,
        } => {
            let (config, b) = connect(config_file)?;
            let run = Journaled::new(&config, "vm restore", "restore").vmid(vm.vm);
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
                let restored = recover::restore_storage(&*b, vm.vm, &snapshot, &opts, &env);
                let r = run.finish(restored, |_| Some(snapshot.clone()))?;
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
            let storages = guest_storages(&config, &*b, vm.vm)?;
            let restored = under_locks(
                &config,
                &storages,
                &format!("vm restore --vm {vmid} --snapshot {snapshot}"),
                lock.lock_timeout,
                || vm::restore(&*b, vm.vm, &snapshot, &vm::RestoreOptions { disk }),
            );
            let set = run.finish(restored, |s| Some(s.timestamp.clone()))?;
            emit(format, &set, |s| render_set("restored", s))
        }
        VmCommand::ShowConfig {
            vm,
            snapshot,
            storage,
        } => {
            let (_, b) = connect(config_file)?;
            let shown = recover::show_config(&*b, vm.vm, &snapshot, storage.as_deref())?;
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
            storage,
        } => {
            let (config, b) = connect(config_file)?;
            let opts = recover::CloneOptions {
                new_vmid,
                name,
                start,
                skip_missing,
                current_config,
                storage,
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
        VmCommand::Prune {
            vm,
            retention,
            lock,
        } => {
            let (rule, label, dry_run) = retention_args(retention)?;
            let (config, b) = connect(config_file)?;
            let prune = || vm::prune(&*b, vm.vm, rule, label.as_deref(), dry_run);
            let report = if dry_run {
                prune()?
            } else {
                let run = Journaled::new(&config, "vm prune", "prune")
                    .vmid(vm.vm)
                    .label(label.as_deref());
                let storages = guest_storages(&config, &*b, vm.vm)?;
                run.finish(
                    under_locks(
                        &config,
                        &storages,
                        &format!("vm prune --vm {}", vm.vm),
                        lock.lock_timeout,
                        prune,
                    ),
                    |_| None,
                )?
            };
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

/// The journal record of one changing command, written when it ends (success or failure).
struct Journaled {
    journal: Journal,
    record: Record,
}

impl Journaled {
    fn new(config: &Config, source: &str, action: &str) -> Journaled {
        Journaled {
            journal: Journal::new(&config.paths.state_dir),
            record: Record::now(&journal::node_name(), Trigger::Cli, source, action),
        }
    }

    fn storage(mut self, storage: &str) -> Journaled {
        self.record.storage = Some(storage.to_string());
        self
    }

    fn vmid(mut self, vmid: u32) -> Journaled {
        self.record.vmid = Some(vmid);
        self
    }

    fn label(mut self, label: Option<&str>) -> Journaled {
        self.record.label = label.map(str::to_string);
        self
    }

    /// Record the outcome (`snapshot` names what a success made or touched) and pass it on.
    fn finish<T>(
        self,
        result: Result<T>,
        snapshot: impl FnOnce(&T) -> Option<String>,
    ) -> Result<T> {
        let mut record = self.record;
        record.time = crate::model::outcome::format_time(time::OffsetDateTime::now_utc());
        match &result {
            Ok(v) => record.snapshot = snapshot(v),
            Err(e) => record = record.failed(&e.to_string()),
        }
        self.journal.append(&record);
        result
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
