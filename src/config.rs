//! The configuration: INI (both layouts of the original) parsed strictly into one validated `Config`.
//! Nothing after `Config::load` reads raw INI strings; secrets are `Secret`s from the start.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::Error;
use crate::hook::policy::Policy;
use crate::http::Endpoint;
use crate::secret::Secret;

/// How the tool logs in to Proxmox VE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PveAuth {
    /// `proxmox_user` + `proxmox_pass`: ticket + CSRF token.
    Password { user: String, password: Secret },
    /// `proxmox_token = USER@REALM!ID=SECRET`: `Authorization: PVEAPIToken=...`.
    Token { token_id: String, secret: Secret },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxmoxConfig {
    pub endpoint: Endpoint,
    pub auth: PveAuth,
}

/// One storage section: the ONTAP cluster that exports this Proxmox storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OntapConfig {
    /// The section name (a Proxmox storage id).
    pub storage: String,
    pub endpoint: Endpoint,
    pub user: String,
    pub password: Secret,
}

/// Where the tool keeps locks and finds Proxmox commands (overridable for tests and odd setups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub lock_dir: PathBuf,
    pub cluster_lock_dir: PathBuf,
    pub qm: PathBuf,
    pub pct: PathBuf,
    /// Exists only on a Proxmox node; decides whether `qm rescan` is run.
    pub pve_node_marker: PathBuf,
    /// Directory of the QEMU config flocks (`lock-<vmid>.conf`).
    pub qemu_config_lock_dir: PathBuf,
    /// Directory of the LXC config flocks (`pve-config-<vmid>.lock`).
    pub lxc_config_lock_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        use crate::paths::*;
        Paths {
            lock_dir: LOCK_DIR.into(),
            cluster_lock_dir: CLUSTER_LOCK_DIR.into(),
            qm: QM.into(),
            pct: PCT.into(),
            pve_node_marker: PVE_NODE_MARKER.into(),
            qemu_config_lock_dir: QEMU_CONFIG_LOCK_DIR.into(),
            lxc_config_lock_dir: LXC_CONFIG_LOCK_DIR.into(),
        }
    }
}

/// A policy section as read from the file, handed to `hook::policy` for validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    pub file: PathBuf,
    /// e.g. `hook`, `hook:100`, `vzdump`, `schedule:nightly`.
    pub name: String,
    /// Keys and values in file order, values taken literally.
    pub entries: Vec<(String, String)>,
}

impl RawSection {
    /// A config error naming this file and section (and a key, if given).
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> Error {
        Error::Config {
            file: self.file.clone(),
            section: Some(self.name.clone()),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (for messages).
    pub file: PathBuf,
    pub proxmox: ProxmoxConfig,
    /// Storage id (as written in the section header) → its ONTAP cluster.
    pub storages: BTreeMap<String, OntapConfig>,
    pub policy: Policy,
    pub paths: Paths,
}
