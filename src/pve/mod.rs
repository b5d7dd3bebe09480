//! Proxmox VE: the domain types and the `Pve` trait the workflows use, plus the HTTP client behind it.
//! Envelope decoding, auth (ticket + CSRF or API token) and Perl quirks stay inside this module.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::error::Result;

mod auth;
pub mod client;
mod connection;
mod denied;
mod envelope;
mod guestcfg;
mod tasks;

pub use client::PveClient;
pub use connection::{Connection, Login};
pub use denied::unlisted_guest;

/// `qemu` or `lxc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum GuestType {
    Qemu,
    Lxc,
}

impl GuestType {
    /// Path segment in the API (`qemu` / `lxc`).
    pub fn as_str(self) -> &'static str {
        match self {
            GuestType::Qemu => "qemu",
            GuestType::Lxc => "lxc",
        }
    }
}

/// A guest as listed by `/cluster/resources?type=vm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Guest {
    pub vmid: u32,
    pub node: String,
    #[serde(rename = "type")]
    pub guest_type: GuestType,
    pub name: Option<String>,
    /// `running`, `stopped`, ...
    pub status: String,
}

/// `status/current` of a guest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuestStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// QEMU only: `running`, `paused`, `prelaunch`, ...
    pub qmpstatus: Option<String>,
    /// QEMU only: the config enables the guest agent.
    pub agent: bool,
    /// The config `lock` (e.g. `backup`), if any.
    pub lock: Option<String>,
}

impl GuestStatus {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }

    pub fn is_paused(&self) -> bool {
        self.qmpstatus.as_deref() == Some("paused")
    }
}

/// The guest config as returned by `GET .../config`: key → value, values as strings.
pub type GuestConfig = BTreeMap<String, String>;

/// One storage definition from `GET /storage/{id}` or `GET /storage`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StorageConfig {
    pub storage: String,
    #[serde(rename = "type")]
    pub storage_type: String,
    pub server: Option<String>,
    pub export: Option<String>,
    pub path: Option<String>,
    pub content: Option<String>,
    pub options: Option<String>,
    pub nodes: Option<String>,
    pub content_dirs: Option<String>,
    pub disable: bool,
    /// PVE 9 `snapshot-as-volume-chain` (qcow2 snapshots as separate files).
    pub snapshot_as_volume_chain: bool,
    /// The storage's values of `CLONE_OPTIONS` (as Proxmox returns them), by option name.
    pub clone_options: BTreeMap<String, String>,
}

/// Options of an nfs storage (pve-storage `PVE/Storage/NFSPlugin.pm` `options`) that a clone storage
/// made by `storage mount` takes over from its parent, besides `content`, `options` and `nodes`.
/// Not taken: `path`, `server`, `export` (the clone's own), `disable` (a clone is enabled) and
/// `snapshot-as-volume-chain` (such parents are refused).
pub const CLONE_OPTIONS: &[&str] = &[
    "content-dirs",
    "prune-backups",
    "max-protected-backups",
    "format",
    "mkdir",
    "create-base-path",
    "create-subdirs",
    "bwlimit",
    "preallocation",
];

/// What `POST /storage` needs for a new nfs storage (mount of a FlexClone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewNfsStorage {
    pub storage: String,
    pub server: String,
    pub export: String,
    pub content: Option<String>,
    pub options: Option<String>,
    pub nodes: Option<String>,
    /// Further options (`CLONE_OPTIONS`), sent as given.
    pub more: BTreeMap<String, String>,
}

/// The Proxmox VE calls the workflows make. The HTTP client implements every method; so does the
/// test double (`crate::testing::double`), and the compiler checks that neither forgets one.
pub trait Pve: Send + Sync {
    /// `GET /storage/{id}`; `Error::NotFound` when Proxmox does not know it.
    fn storage(&self, id: &str) -> Result<StorageConfig>;
    /// `GET /storage`.
    fn storages(&self) -> Result<Vec<StorageConfig>>;
    /// `POST /storage` (type nfs).
    fn create_nfs_storage(&self, spec: &NewNfsStorage) -> Result<()>;
    /// `DELETE /storage/{id}`.
    fn delete_storage(&self, id: &str) -> Result<()>;
    /// Every guest of the cluster in one call (`/cluster/resources?type=vm`).
    fn guests(&self) -> Result<Vec<Guest>>;
    /// One guest by vmid (from `guests()`); `Error::NotFound` when unknown.
    fn guest(&self, vmid: u32) -> Result<Guest>;
    /// `GET /nodes/{node}/{type}/{vmid}/config` (current values, pending not applied).
    fn guest_config(&self, guest: &Guest) -> Result<GuestConfig>;
    /// `GET /nodes/{node}/{type}/{vmid}/status/current`.
    fn guest_status(&self, guest: &Guest) -> Result<GuestStatus>;
    /// `POST .../status/suspend` (QEMU: pause in RAM, not to disk; LXC: freeze) and wait for the task.
    fn suspend(&self, guest: &Guest, wait: Duration) -> Result<()>;
    /// `POST .../status/resume` and wait for the task.
    fn resume(&self, guest: &Guest, wait: Duration) -> Result<()>;
    /// `POST .../status/shutdown` (clean) and wait for the task.
    fn shutdown(&self, guest: &Guest, wait: Duration) -> Result<()>;
    /// `POST .../status/start` and wait for the task.
    fn start(&self, guest: &Guest, wait: Duration) -> Result<()>;
    /// `POST /nodes/{node}/qemu/{vmid}/agent/ping`: the agent is configured, the guest runs and answers.
    fn agent_ping(&self, guest: &Guest) -> Result<()>;
    /// `POST .../agent/fsfreeze-freeze`; returns the number of frozen filesystems.
    fn fsfreeze_freeze(&self, guest: &Guest) -> Result<u64>;
    /// `POST .../agent/fsfreeze-thaw`; returns the number of thawed filesystems.
    fn fsfreeze_thaw(&self, guest: &Guest) -> Result<u64>;
    /// `POST .../agent/fsfreeze-status`: `thawed` or `frozen`.
    fn fsfreeze_status(&self, guest: &Guest) -> Result<String>;
    /// `GET /version`: the release, e.g. `9.1.2`.
    fn version(&self) -> Result<String>;
    /// `POST /nodes/{node}/qemu`: a new VM with this config (disks on existing volumes); waits
    /// for the create task.
    fn create_vm(&self, node: &str, vmid: u32, config: &GuestConfig, wait: Duration) -> Result<()>;
    /// `DELETE /nodes/{node}/qemu/{vmid}`: remove a stopped VM; waits for the destroy task.
    fn destroy_vm(&self, guest: &Guest, wait: Duration) -> Result<()>;
    /// `PUT .../config`: set keys and delete keys.
    fn set_config(&self, guest: &Guest, set: &[(String, String)], delete: &[String]) -> Result<()>;
}

#[cfg(test)]
mod sim_tests;
