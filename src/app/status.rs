//! The `status` command: gathers the facts (ONTAP once per storage, or `--offline` only the
//! journal), evaluates them (`model::status`) and prints text, JSON or Prometheus metrics, to stdout
//! or atomically into a node-exporter textfile. Exit 1 when there is a problem (not with a textfile).

use std::io::Write;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::backends::connect;
use super::prometheus;
use super::render::write_stdout;
use super::status_render;
use crate::cli::{OutputFormat, StatusFormat};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::model::status::{self, Facts, Inputs, MaxAge, Report, Scope, StorageInput};
use crate::ops::Backends;
use crate::sys::journal::Journal;

/// `status`'s command line.
pub(super) struct StatusArgs {
    pub storages: Vec<String>,
    pub max_age: Vec<String>,
    pub offline: bool,
    pub format: Option<StatusFormat>,
    pub textfile: Option<PathBuf>,
}

pub(super) fn status(
    config_file: Option<&Path>,
    output: OutputFormat,
    args: StatusArgs,
) -> Result<u8> {
    let mut rules = Vec::new();
    for value in &args.max_age {
        rules.extend(status::parse_max_age(value, "--max-age").map_err(Error::Usage)?);
    }
    let (config, b) = connect(config_file)?;
    let report = evaluate(&config, &*b, &args, rules);
    let format = args.format.unwrap_or(match output {
        OutputFormat::Text => StatusFormat::Text,
        OutputFormat::Json => StatusFormat::Json,
    });
    let text = match format {
        StatusFormat::Text => status_render::render(&report),
        StatusFormat::Prometheus => prometheus::render(&report),
        StatusFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report)
                .map_err(|e| Error::Refused(format!("could not encode the status: {e}")))?;
            s.push('\n');
            s
        }
    };
    if let Some(file) = &args.textfile {
        write_atomically(file, text.as_bytes())?;
        log::info!(
            "wrote the status ({} problem(s)) to {}",
            report.problems.len(),
            file.display()
        );
        return Ok(0);
    }
    write_stdout(|out| out.write_all(text.as_bytes()))?;
    Ok(if report.problems.is_empty() { 0 } else { 1 })
}

/// The report for the storages asked for (default: every storage section) and every guest with a
/// policy; the schedules' `max-age` keys add rules for their storages and guests.
fn evaluate(
    config: &Config,
    b: &dyn Backends,
    args: &StatusArgs,
    mut rules: Vec<MaxAge>,
) -> Report {
    let ids: Vec<String> = if args.storages.is_empty() {
        config.storages.keys().cloned().collect()
    } else {
        args.storages.clone()
    };
    let guests = if args.storages.is_empty() {
        config.policy.guests()
    } else {
        Vec::new()
    };
    for schedule in config.policy.schedules() {
        let Some(max_age) = schedule.max_age else {
            continue;
        };
        let origin = format!("[schedule:{}] max-age", schedule.name);
        let scopes = schedule
            .storages
            .iter()
            .filter(|s| ids.contains(s))
            .map(|s| Scope::Storage(s.clone()))
            .chain(
                schedule
                    .guests
                    .iter()
                    .filter(|g| guests.contains(g))
                    .map(|g| Scope::Guest(*g)),
            );
        for scope in scopes {
            rules.push(MaxAge {
                scope,
                label: schedule.label.clone(),
                max_age,
                origin: origin.clone(),
            });
        }
    }
    let journal = match Journal::new(&config.paths.state_dir).read() {
        Ok(records) => records,
        Err(e) => {
            log::warn!(
                "could not read the outcome journal in {}: {e}",
                config.paths.state_dir.display()
            );
            Vec::new()
        }
    };
    let storages = ids
        .iter()
        .map(|id| StorageInput {
            storage: id.clone(),
            facts: if args.offline {
                Facts::Offline
            } else {
                crate::ops::status::storage_facts(b, id)
            },
            capacity: config.capacity_for(id),
        })
        .collect();
    status::evaluate(&Inputs {
        now: OffsetDateTime::now_utc(),
        storages,
        guests,
        journal,
        rules,
        offline: args.offline,
    })
}

/// Write `bytes` to `file` through a temporary file in the same directory and a rename, so that a
/// reader (node-exporter) sees the old or the new content, never a part.
fn write_atomically(file: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = file
        .file_name()
        .ok_or_else(|| Error::Usage(format!("--textfile {}: not a file name", file.display())))?;
    let tmp = dir.join(format!(
        ".{}.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("write the status textfile", file, e));
    }
    Ok(())
}
