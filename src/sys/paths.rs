//! Every filesystem location the tool uses, in one place (config search order, locks, commands).
//! They are Proxmox's fixed paths; only a debug build's test root moves them (`sys::seams`).

use std::path::{Path, PathBuf};

use super::cluster_lock::Site;
use super::lock::Places;
use super::seams::{below, system_root};
use crate::error::Result;

/// The program's name: the binary, the clap command, the syslog identity and log prefixes.
pub const BIN: &str = "pve-ontap-snapshot";

/// Config search order after `--config` and `$PVE_ONTAP_SNAPSHOT_CONFIG`: the cluster-wide,
/// root-only place first, then the node-local one, then the original tool's default `./config.ini`.
pub const CONFIG_SEARCH: &[&str] = &[
    "/etc/pve/priv/pve-ontap-snapshot.ini",
    "/etc/pve-ontap-snapshot/config.ini",
    "./config.ini",
];
/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "PVE_ONTAP_SNAPSHOT_CONFIG";
/// Node-local lock directory (one lock file per storage).
pub const LOCK_DIR: &str = "/run/lock/pve-ontap-snapshot";
/// The pmxcfs mount point; its `priv/lock` holds the cluster locks (mkdir/rmdir, 120 s expiry).
pub const PVE_DIR: &str = "/etc/pve";
/// The node's copy of the cluster's corosync config: exists on every cluster node.
pub const COROSYNC_CONF: &str = "/etc/corosync/corosync.conf";
/// Present only on a Proxmox VE node.
pub const PVE_NODE_MARKER: &str = "/etc/pve/local";
/// Absolute paths: vzdump wipes PATH, and hooks must not depend on it.
pub const QM: &str = "/usr/sbin/qm";
pub const PCT: &str = "/usr/sbin/pct";
/// Node-local QEMU config flock, held by Proxmox during every hookscript phase.
pub const QEMU_CONFIG_LOCK_DIR: &str = "/var/lock/qemu-server";
/// Node-local LXC config flock directory.
pub const LXC_CONFIG_LOCK_DIR: &str = "/run/lock/lxc";
/// Node-local state: the outcome journal that `status` reads.
pub const STATE_DIR: &str = "/var/lib/pve-ontap-snapshot";
/// Local syslog socket.
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// Environment variable naming another syslog datagram socket (tests capture syslog with it);
/// the value `none` turns syslog off.
pub const SYSLOG_SOCKET_ENV: &str = "PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET";

/// Where the tool keeps locks and finds Proxmox commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub lock_dir: PathBuf,
    /// `/etc/pve` and the corosync config: the cluster lock's site.
    pub site: Site,
    pub qm: PathBuf,
    pub pct: PathBuf,
    /// Exists only on a Proxmox node; decides whether `qm rescan` is run.
    pub pve_node_marker: PathBuf,
    /// Directory of the QEMU config flocks (`lock-<vmid>.conf`).
    pub qemu_config_lock_dir: PathBuf,
    /// Directory of the LXC config flocks (`pve-config-<vmid>.lock`).
    pub lxc_config_lock_dir: PathBuf,
    /// Node-local state (the outcome journal).
    pub state_dir: PathBuf,
    /// The system root the paths are below (`/`, or a debug build's test root).
    pub root: PathBuf,
}

impl Paths {
    /// Proxmox's paths below `root`.
    pub fn under(root: &Path) -> Paths {
        Paths {
            lock_dir: below(root, LOCK_DIR),
            site: Site {
                pve_dir: below(root, PVE_DIR),
                corosync_conf: below(root, COROSYNC_CONF),
            },
            qm: below(root, QM),
            pct: below(root, PCT),
            pve_node_marker: below(root, PVE_NODE_MARKER),
            qemu_config_lock_dir: below(root, QEMU_CONFIG_LOCK_DIR),
            lxc_config_lock_dir: below(root, LXC_CONFIG_LOCK_DIR),
            state_dir: below(root, STATE_DIR),
            root: root.to_path_buf(),
        }
    }

    /// The paths of this run: below `/`, or below the test root of a debug build.
    pub fn detect() -> Result<Paths> {
        Ok(Paths::under(&system_root()?))
    }

    /// Where the storage locks live.
    pub fn places(&self) -> Places {
        Places {
            node_dir: self.lock_dir.clone(),
            site: self.site.clone(),
        }
    }
}

impl Default for Paths {
    fn default() -> Self {
        Paths::under(Path::new("/"))
    }
}
