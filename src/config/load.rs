//! How the `Config` is loaded: locate the file, read it privately, parse the INI, build.
//! Nothing after `Config::load` reads raw INI strings; secrets are `Secret`s from the start.

use std::path::{Path, PathBuf};

use super::build::build;
use super::ini::{parse_ini, read_private_file};
use super::locate::{locate, mention_later_candidates, Caller};
use super::settings::Config;
use crate::error::Result;

impl Config {
    /// Find the config file (`explicit` = `--config`, then `$PVE_ONTAP_SNAPSHOT_CONFIG`, then the
    /// fixed places of `paths::CONFIG_SEARCH`), check its permissions and parse it.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let file = Config::locate(explicit)?;
        Config::read(&file).map_err(|e| {
            let searched = explicit.is_none()
                && std::env::var_os(crate::sys::paths::CONFIG_ENV).is_none_or(|v| v.is_empty());
            if !searched {
                return e;
            }
            let search: Vec<&Path> = crate::sys::paths::CONFIG_SEARCH
                .iter()
                .map(Path::new)
                .collect();
            mention_later_candidates(e, &file, &search)
        })
    }

    /// Which file `load` would read. An explicit file or the environment variable must exist;
    /// the fixed places are tried in order. The error names every place searched.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
        locate(explicit, Caller::Cli)
    }

    /// Load the config the way hooks find it: as `load`, but never from a relative place.
    pub fn load_for_hook(explicit: Option<&Path>) -> Result<Config> {
        let config = Config::read(&locate(explicit, Caller::Hook)?)?;
        log::debug!("using config {}", config.file.display());
        Ok(config)
    }

    /// Read and parse one file; refuses a file that group or others may read or write.
    pub fn read(file: &Path) -> Result<Config> {
        let text = read_private_file(file)?;
        Config::parse(file, &text)
    }

    /// Parse the text of a config file (`file` is used for messages and relative paths only).
    pub fn parse(file: &Path, text: &str) -> Result<Config> {
        let sections = parse_ini(file, text)?;
        build(file, sections)
    }
}
