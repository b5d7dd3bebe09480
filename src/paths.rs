//! Every default filesystem location the tool uses, in one place (config search order, locks, commands).
//! Tests and packaging override them through the config or flags, never by editing code.

/// Config search order after `--config` and `$PVE_ONTAP_SNAPSHOT_CONFIG` (DESIGN §4).
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
