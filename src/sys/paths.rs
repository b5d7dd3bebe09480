//! Every default filesystem location the tool uses, in one place (config search order, locks, commands).
//! Tests and packaging override them through the config or flags, never by editing code.

use std::path::PathBuf;

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
/// pmxcfs cluster lock directory (mkdir/rmdir semantics, 120 s expiry).
pub const CLUSTER_LOCK_DIR: &str = "/etc/pve/priv/lock";
/// Present only on a Proxmox VE node.
pub const PVE_NODE_MARKER: &str = "/etc/pve/local";
/// Absolute paths: vzdump wipes PATH, and hooks must not depend on it.
pub const QM: &str = "/usr/sbin/qm";
pub const PCT: &str = "/usr/sbin/pct";
/// Node-local QEMU config flock, held by Proxmox during every hookscript phase.
pub const QEMU_CONFIG_LOCK_DIR: &str = "/var/lock/qemu-server";
/// Node-local LXC config flock directory.
pub const LXC_CONFIG_LOCK_DIR: &str = "/run/lock/lxc";
/// Local syslog socket.
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// Environment variable naming another syslog datagram socket (tests capture syslog with it);
/// the value `none` turns syslog off.
pub const SYSLOG_SOCKET_ENV: &str = "PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET";

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
