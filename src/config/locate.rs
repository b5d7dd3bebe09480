//! Finding the config file: `--config`, then `$PVE_ONTAP_SNAPSHOT_CONFIG`, then the fixed places.
//! The one locator of the tool; hooks use it too but skip relative places (their cwd is arbitrary).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::ini::config_error;
use crate::error::{Error, Result};

/// Who is looking: the command line searches every place of `paths::CONFIG_SEARCH`; a hook skips
/// the relative ones, since Proxmox runs hooks from wherever its daemon happens to be and vzdump
/// wipes the environment (never the working directory, PATH or HOME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Cli,
    Hook,
}

/// Which config file to read. An explicit file or the environment variable must exist; the
/// places of `search` are tried in order. The error names every place searched.
pub(super) fn locate_in(
    explicit: Option<&Path>,
    env: Option<OsString>,
    search: &[&Path],
    caller: Caller,
) -> Result<PathBuf> {
    let search: Vec<&Path> = search
        .iter()
        .copied()
        .filter(|p| caller == Caller::Cli || p.is_absolute())
        .collect();
    if let Some(file) = explicit {
        return existing(file, "given with --config").map(|()| file.to_path_buf());
    }
    if let Some(file) = env.filter(|v| !v.is_empty()) {
        let file = PathBuf::from(file);
        let origin = format!("named by ${}", crate::sys::paths::CONFIG_ENV);
        return existing(&file, &origin).map(|()| file);
    }
    for file in &search {
        match std::fs::metadata(file) {
            Ok(_) => return Ok(file.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(config_error(
                    file,
                    None,
                    None,
                    format!("unable to access (run as root?): {e}"),
                ))
            }
        }
    }
    let searched: Vec<String> = search.iter().map(|p| p.display().to_string()).collect();
    Err(Error::Usage(format!(
        "no config file found; searched --config (not given), ${} (not set), {}; \
         create one (mode 600) or pass --config FILE{}",
        crate::sys::paths::CONFIG_ENV,
        searched.join(", "),
        match caller {
            Caller::Cli => "",
            Caller::Hook => " (hooks never read ./config.ini)",
        }
    )))
}

/// `locate_in` over the process environment and `paths::CONFIG_SEARCH`.
pub(super) fn locate(explicit: Option<&Path>, caller: Caller) -> Result<PathBuf> {
    let env = std::env::var_os(crate::sys::paths::CONFIG_ENV);
    let search: Vec<&Path> = crate::sys::paths::CONFIG_SEARCH
        .iter()
        .map(Path::new)
        .collect();
    locate_in(explicit, env, &search, caller)
}

/// A file found by the search is broken (e.g. the packaged template, all commented out) while a
/// later place holds a config too (e.g. the original tool's `./config.ini`): say so.
pub(super) fn mention_later_candidates(e: Error, found: &Path, search: &[&Path]) -> Error {
    let later: Vec<String> = search
        .iter()
        .skip_while(|p| **p != found)
        .skip(1)
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    match e {
        Error::Config {
            file,
            section,
            key,
            mut message,
        } if !later.is_empty() => {
            message.push_str(&format!(
                " (also found {}, later in the search order; pass --config {} to use it)",
                later.join(" and "),
                later[0]
            ));
            Error::Config {
                file,
                section,
                key,
                message,
            }
        }
        e => e,
    }
}

fn existing(file: &Path, origin: &str) -> Result<()> {
    match std::fs::metadata(file) {
        Ok(_) => Ok(()),
        Err(e) => Err(config_error(
            file,
            None,
            None,
            format!("config file {origin} is not accessible: {e}"),
        )),
    }
}
