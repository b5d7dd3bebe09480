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
    self, MountReport, RestoreReport, ShowReport, SnapshotRow, UnmountReport,
};
use crate::ops::vm::{self, SnapshotSet};
use crate::ops::Backends;
use crate::output::{self, details, human_size, opt_size, short_time, Align, Table};

/// Run one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
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
        // FIXME(hooks): crate::hook::run_hookscript(config_file, vmid, &phase). The hook must find
        // its config without cwd, PATH or HOME (Config::locate with the fixed places), and a
        // phase without an action must return before opening any connection.
        Command::Hook { vmid, phase } => Err(Error::Refused(format!(
            "hookscript mode (guest {vmid}, phase {phase}) is not available yet"
        ))),
        // FIXME(hooks): crate::hook::run_vzdump(config_file, &phase, mode.as_deref(), vmid).
        Command::Vzdump { phase, mode, vmid } => {
            let _ = (mode, vmid);
            Err(Error::Refused(format!(
                "vzdump hook mode (phase {phase}) is not available yet"
            )))
        }
        // FIXME(hooks): crate::hook::run_schedule(config_file, &schedule, format).
        Command::Run { schedule } => Err(Error::Refused(format!(
            "scheduled runs ([schedule:{schedule}]) are not available yet"
        ))),
        Command::InternalRescan { args } => crate::ops::rescan::run_deferred_from_args(&args),
    }
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
            let row = storage::create(&*b, &storage.storage, &opts)?;
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
            emit(format, &row, |r| {
                format!(
                    "deleted snapshot {} of storage {} (volume {})\n",
                    r.name, r.storage, r.volume
                )
            })
        }
        StorageCommand::Restore {
            storage,
            snapshot,
            yes,
            force,
            no_safety_snapshot,
        } => {
            let config = load(config_file)?;
            let id = &storage.storage;
            confirm(
                yes,
                &format!(
                    "Restoring storage '{id}' to snapshot '{snapshot}' reverts EVERY disk on it: all \
                     changes made after the snapshot are lost."
                ),
                id,
                &format!("restore of storage '{id}'"),
            )?;
            let b = backends(&config)?;
            let opts = storage::RestoreOptions {
                force,
                safety_snapshot: !no_safety_snapshot,
            };
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
        VmCommand::List { vm } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let sets = vm::list(&*b, vm.vm)?;
            emit(format, &sets, |s| render_sets(vm.vm, s))
        }
        VmCommand::Delete { vm, snapshot } => {
            let config = load(config_file)?;
            let b = backends(&config)?;
            let set = vm::delete(&*b, vm.vm, &snapshot)?;
            emit(format, &set, |s| render_set("deleted", s))
        }
        VmCommand::Restore {
            vm,
            snapshot,
            disk,
            yes,
        } => {
            let config = load(config_file)?;
            let vmid = vm.vm.to_string();
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
        VmCommand::Prune { vm, retention } => {
            let (rule, label, dry_run) = retention_args(retention)?;
            let config = load(config_file)?;
            let b = backends(&config)?;
            let report = vm::prune(&*b, vm.vm, rule, label.as_deref(), dry_run)?;
            emit(format, &report, |r| {
                render_prune(&format!("guest {}", r.vmid), &r.kept, &r.deleted, r.dry_run)
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

fn render_created(r: &SnapshotRow) -> String {
    format!(
        "created snapshot {} of storage {}\n{}",
        r.name,
        r.storage,
        details(&[
            ("volume", Some(r.volume.clone())),
            ("created", Some(short_time(&r.create_time))),
            ("label", r.label.clone()),
            ("expiry", r.expiry_time.as_deref().map(short_time)),
            ("comment", r.comment.clone()),
        ])
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
    table.render()
}

fn render_restore(r: &RestoreReport) -> String {
    let safety = match &r.safety_snapshot {
        Some(s) => format!("safety snapshot taken before: {s}\n"),
        None => "no safety snapshot was taken\n".to_string(),
    };
    format!(
        "restored storage {} (volume {}) to snapshot {}\n{safety}",
        r.storage, r.volume, r.snapshot
    )
}

fn render_mount(r: &MountReport) -> String {
    format!(
        "mounted snapshot {} of storage {} as storage {}\n{}",
        r.snapshot,
        r.parent_storage,
        r.storage,
        details(&[
            ("clone volume", Some(r.volume.clone())),
            ("junction path", Some(r.junction_path.clone())),
            ("nfs server", Some(r.server.clone())),
        ])
    )
}

fn render_unmount(r: &UnmountReport) -> String {
    let kept = match &r.parent_snapshot {
        Some(s) => format!("; snapshot {s} kept"),
        None => String::new(),
    };
    format!(
        "unmounted storage {}: removed from Proxmox VE, clone volume {} deleted{kept}\n",
        r.storage, r.volume
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
        ("comment", v.comment.clone()),
    ])
}

fn render_prune(subject: &str, kept: &[String], deleted: &[String], dry_run: bool) -> String {
    let mut out = if dry_run {
        format!(
            "{subject}: would delete {}, keep {} (dry run, nothing deleted)\n",
            deleted.len(),
            kept.len()
        )
    } else {
        format!(
            "{subject}: deleted {}, kept {}\n",
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
        table.row([name.as_str(), verb]);
    }
    for name in kept {
        table.row([name.as_str(), "kept"]);
    }
    out.push_str(&table.render());
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
    for note in &s.notes {
        out.push_str(&format!("note: {note}\n"));
    }
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
            render_prune("guest 100", &[], &[], false),
            "guest 100: deleted 0, kept 0\n"
        );
    }

    #[test]
    fn storage_results_render_as_sentences_and_details() {
        assert_eq!(
            render_restore(&RestoreReport {
                storage: "ONTAP01".into(),
                volume: "ONTAP01".into(),
                snapshot: "s1".into(),
                safety_snapshot: Some("s2".into()),
                discarded_snapshots: Vec::new(),
                running_guests: Vec::new(),
                notes: Vec::new(),
            }),
            "restored storage ONTAP01 (volume ONTAP01) to snapshot s1\nsafety snapshot taken before: s2\n"
        );
        assert_eq!(
            render_mount(&MountReport {
                storage: "ONTAP01-CLONE".into(),
                parent_storage: "ONTAP01".into(),
                snapshot: "s1".into(),
                volume: "ONTAP01_clone".into(),
                junction_path: "/ONTAP01_clone".into(),
                server: "127.0.10.1".into(),
                export: "/ONTAP01_clone".into(),
                export_policy: Some("pve_hosts".into()),
                notes: Vec::new(),
            }),
            "mounted snapshot s1 of storage ONTAP01 as storage ONTAP01-CLONE\n\
             clone volume:  ONTAP01_clone\n\
             junction path: /ONTAP01_clone\n\
             nfs server:    127.0.10.1\n"
        );
        assert_eq!(
            render_unmount(&UnmountReport {
                storage: "ONTAP01-CLONE".into(),
                volume: "ONTAP01_clone".into(),
                parent_snapshot: Some("s1".into()),
                parent_volume: Some("ONTAP01".into()),
                mount_path: "/mnt/pve/ONTAP01-CLONE".into(),
                notes: Vec::new(),
            }),
            "unmounted storage ONTAP01-CLONE: removed from Proxmox VE, clone volume ONTAP01_clone deleted; snapshot s1 kept\n"
        );
        let show = render_show(&ShowReport {
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
            prefix: String::new(),
            clones: Vec::new(),
        });
        assert!(
            show.starts_with("storage:       ONTAP01\nnfs server:    127.0.10.1\n"),
            "{show}"
        );
        assert!(show.contains("\nsize:          1.0T\n"), "{show}");
        assert!(show.contains("\nflexclone:     no\n"), "{show}");
        assert!(!show.contains("used"), "{show}");
        let created = render_created(&row("p1", None, Some("daily"), &[]));
        assert_eq!(
            created,
            "created snapshot p1 of storage ONTAP01\n\
             volume:  ONTAP01\n\
             created: 2024-03-13 14:42:47 UTC\n\
             label:   daily\n"
        );
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
