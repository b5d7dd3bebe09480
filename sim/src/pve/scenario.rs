//! The Proxmox part of a scenario file: cluster, nodes, storages, guests, users and timings as JSON.
//! Every field is optional; a missing field takes its value from the built-in default (`default.rs`).
//!
//! Shape (the `pve` object of a scenario file):
//! ```json
//! {
//!   "cluster_name": "simcluster", "version": "9.1.2", "release": "9.1", "repoid": "b86f0a5a",
//!   "local_node": "pve1",
//!   "nodes": [{"name": "pve1", "online": true, "ip": "192.0.2.11", "maxcpu": 16,
//!              "maxmem": 68719476736, "ssl_fingerprint": "AA:BB:..."}],
//!   "storages": [{"storage": "ONTAP01", "type": "nfs", "server": "127.0.10.1",
//!                 "export": "/ONTAP01", "path": "/mnt/pve/ONTAP01", "content": "images,rootdir",
//!                 "options": "vers=4.2,nconnect=16", "total": 1099511627776},
//!                {"storage": "local", "type": "dir", "path": "/var/lib/vz", "content": "iso,backup",
//!                 "files": [{"path": "template/iso/debian-13.iso", "size": 629145600}]}],
//!   "guests": [{"vmid": 100, "type": "qemu", "node": "pve1", "status": "running",
//!               "config": {"name": "web01", "agent": "1", "scsi0": "ONTAP01:100/vm-100-disk-0.qcow2,size=32G"},
//!               "pending": {}, "agent": {"responding": true, "filesystems": 2, "frozen": false},
//!               "ignores_shutdown": false}],
//!   "users": [{"userid": "root@pam", "password": "secret",
//!              "tokens": [{"name": "snap", "secret": "5ec2e7a0-...", "privsep": false}]},
//!             {"userid": "snapshot@pve", "tokens": [{"name": "ontap", "secret": "..."}]}],
//!   "access": {"roles": [{"roleid": "OntapSnapshot", "privs": "VM.Audit Datastore.Audit"}],
//!              "groups": [], "acl": [{"path": "/", "roles": "OntapSnapshot", "users": "snapshot@pve"}]},
//!   "http_server_version": "5.1.2",
//!   "timing": {"task_ms": 100, "shutdown_ms": 200, "shutdown_timeout_ms": 1000,
//!              "ticket_lifetime_secs": 7200, "auth_failure_delay_ms": 20}
//! }
//! ```
//! Storage entries are storage.cfg sections: besides `storage`, `type`, `files` and `total`, every
//! key is a storage option returned as-is by `GET /storage` (`shared`, `disable`, `nodes`,
//! `content-dirs`, `snapshot-as-volume-chain`, `vgname`, `thinpool`, ...). The content of `nfs`
//! storages comes from the simulated ONTAP cluster (through `server` + `export`); `files` lists
//! the volumes of the other types (`dir`: paths below `path`; `lvmthin`/`lvm`: volume names).
//! Guest `config` values are strings (numbers and booleans are accepted and converted); a `lock`
//! key locks the guest (`backup`, `suspended`, ...). `status` is `running`, `stopped` or `paused`
//! (QEMU only). `access` holds roles, groups and ACLs (see `access::spec`); only root@pam and
//! tokens without privilege separation of root@pam have rights without ACLs.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::access::{Access, AccessSpec, Account};

/// The Proxmox part of a scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Cluster name (`clustername` of a ticket, `/cluster/status`).
    pub cluster_name: String,
    /// `GET /version` `version`, e.g. `9.1.2`.
    pub version: String,
    /// `GET /version` `release`; derived from `version` (`9.1`) when empty.
    pub release: String,
    /// `GET /version` `repoid`.
    pub repoid: String,
    /// The node that answers API calls (storage activation on create happens there); default: the
    /// first node.
    pub local_node: Option<String>,
    pub nodes: Vec<NodeSpec>,
    pub storages: Vec<StorageSpec>,
    pub guests: Vec<GuestSpec>,
    pub users: Vec<UserSpec>,
    /// Roles, groups and ACLs (user.cfg without the users).
    pub access: AccessSpec,
    /// The libpve-http-server-perl version: before 5.2.0 an error body carries no `message`
    /// (status line only). Empty: the newest behaviour (message in the body).
    pub http_server_version: String,
    pub timing: Timing,
}

impl Scenario {
    /// What Proxmox's own tools would refuse in this scenario (roles, ACLs, groups); empty when
    /// it is consistent.
    pub fn validate(&self) -> Vec<String> {
        let accounts = accounts(&self.users);
        match Access::new(major_version(&self.version), &self.access, &accounts) {
            Ok(_) => Vec::new(),
            Err(e) => vec![format!("pve.access: {e}")],
        }
    }
}

/// The users and their tokens as the access engine sees them.
pub(crate) fn accounts(users: &[UserSpec]) -> Vec<Account<'_>> {
    users
        .iter()
        .map(|u| Account {
            userid: &u.userid,
            tokens: u
                .tokens
                .iter()
                .map(|t| (t.name.as_str(), t.privsep))
                .collect(),
        })
        .collect()
}

/// The major release of a `version` string (`9.1.2` → 9); 0 when it does not parse.
pub(crate) fn major_version(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// One cluster node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    /// An offline node answers proxied calls with `595 Connection timed out`.
    pub online: bool,
    pub ip: String,
    pub maxcpu: u64,
    /// Bytes.
    pub maxmem: u64,
    /// Shown by `GET /nodes`; a made-up value derived from the name when empty.
    pub ssl_fingerprint: String,
    /// The `criu` binary works on this node: an LXC `suspend` (CRIU checkpoint) stops the
    /// container and `resume` restores it. Without it the suspend task fails.
    pub criu: bool,
}

impl Default for NodeSpec {
    fn default() -> NodeSpec {
        NodeSpec {
            name: String::new(),
            online: true,
            ip: String::new(),
            maxcpu: 16,
            maxmem: 64 << 30,
            ssl_fingerprint: String::new(),
            criu: false,
        }
    }
}

/// One storage.cfg section.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StorageSpec {
    pub storage: String,
    #[serde(rename = "type")]
    pub storage_type: String,
    /// Volumes of non-nfs storages (nfs content comes from ONTAP).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileSpec>,
    /// Capacity in bytes reported by the storage status (default 1 TiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Every other storage option (`server`, `export`, `path`, `content`, `options`, ...).
    #[serde(flatten)]
    pub options: BTreeMap<String, Value>,
}

/// A volume of a non-nfs storage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Path below the storage path (`template/iso/x.iso`, `images/100/vm-100-disk-0.raw`) or, for
    /// LVM storages, the volume name (`vm-101-disk-1`).
    pub path: String,
    pub size: u64,
}

/// `qemu` or `lxc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuestType {
    #[default]
    Qemu,
    Lxc,
}

impl GuestType {
    pub fn as_str(self) -> &'static str {
        match self {
            GuestType::Qemu => "qemu",
            GuestType::Lxc => "lxc",
        }
    }
}

/// Run state of a guest in a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    #[default]
    Stopped,
    Running,
    /// QEMU paused in RAM (`qmpstatus: paused`).
    Paused,
}

/// One guest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuestSpec {
    pub vmid: u32,
    #[serde(rename = "type")]
    pub guest_type: GuestType,
    pub node: String,
    pub status: RunStatus,
    /// The config file: key → value (`[PENDING]` changes go to `pending`).
    #[serde(deserialize_with = "string_map")]
    pub config: BTreeMap<String, String>,
    /// Pending changes (applied at the next start); the key `delete` lists pending deletions.
    #[serde(deserialize_with = "string_map")]
    pub pending: BTreeMap<String, String>,
    /// QEMU guest agent behaviour (only used when the config enables `agent`).
    pub agent: AgentSpec,
    /// The guest ignores ACPI/agent shutdown requests (a shutdown task runs into its timeout).
    pub ignores_shutdown: bool,
}

/// The QEMU guest agent inside a guest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentSpec {
    /// The agent answers (a configured but silent agent gives `QEMU guest agent is not running`).
    pub responding: bool,
    /// Number of filesystems fsfreeze-freeze/thaw report.
    pub filesystems: u64,
    /// Filesystems frozen at start.
    pub frozen: bool,
    /// How long a fsfreeze-freeze takes (the handler sleeps without holding the state lock).
    pub freeze_delay_ms: u64,
}

impl Default for AgentSpec {
    fn default() -> AgentSpec {
        AgentSpec {
            responding: true,
            filesystems: 2,
            frozen: false,
            freeze_delay_ms: 0,
        }
    }
}

/// A Proxmox user (`pam` or `pve` realm) with optional API tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserSpec {
    /// `user@realm`.
    pub userid: String,
    /// None: no password login.
    pub password: Option<String>,
    pub enabled: bool,
    pub tokens: Vec<TokenSpec>,
}

impl Default for UserSpec {
    fn default() -> UserSpec {
        UserSpec {
            userid: String::new(),
            password: None,
            enabled: true,
            tokens: Vec::new(),
        }
    }
}

/// An API token `userid!name` with its secret (`pveum user token add`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSpec {
    pub name: String,
    pub secret: String,
    /// Unix time after which the token is refused (0: never).
    pub expire: i64,
    /// Privilege separation (pveum's default: on): the token has what its own ACLs grant and its
    /// user has too; off: exactly its user's privileges.
    pub privsep: bool,
}

impl Default for TokenSpec {
    fn default() -> TokenSpec {
        TokenSpec {
            name: String::new(),
            secret: String::new(),
            expire: 0,
            privsep: true,
        }
    }
}

/// Durations of simulated work.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// Duration of start/stop/suspend/resume/config tasks.
    pub task_ms: u64,
    /// Duration of a clean shutdown.
    pub shutdown_ms: u64,
    /// How long a shutdown waits for a guest that ignores it before failing (or, with
    /// `forceStop=1`, stopping it).
    pub shutdown_timeout_ms: u64,
    /// Ticket and CSRF token lifetime (Proxmox: 2 h); 0 expires every ticket at once.
    pub ticket_lifetime_secs: u64,
    /// Delay of a failed login or authentication (Proxmox: 3 s).
    pub auth_failure_delay_ms: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            task_ms: 100,
            shutdown_ms: 200,
            shutdown_timeout_ms: 1000,
            ticket_lifetime_secs: 7200,
            auth_failure_delay_ms: 20,
        }
    }
}

/// Accept strings, numbers and booleans (as `1`/`0`) as config values.
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, if b { "1" } else { "0" }.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "config key '{k}': expected a string, number or boolean, got {other}"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_the_default_and_round_trip() {
        let s: Scenario = serde_json::from_str(r#"{"version": "8.4.1"}"#).unwrap();
        assert_eq!(s.version, "8.4.1");
        assert_eq!(s.cluster_name, "simcluster");
        assert_eq!(s.guests.len(), 7);
        let text = serde_json::to_string(&Scenario::default()).unwrap();
        let back: Scenario = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(Scenario::default()).unwrap()
        );
    }

    #[test]
    fn guest_configs_accept_numbers_and_unknown_fields_are_refused() {
        let s: Scenario = serde_json::from_str(
            r#"{"guests": [{"vmid": 300, "node": "pve1", "status": "running",
                "config": {"memory": 2048, "agent": true, "name": "x"}}]}"#,
        )
        .unwrap();
        assert_eq!(s.guests[0].config["memory"], "2048");
        assert_eq!(s.guests[0].config["agent"], "1");
        assert_eq!(s.guests[0].guest_type, GuestType::Qemu);
        assert!(serde_json::from_str::<Scenario>(r#"{"guestz": []}"#).is_err());
        assert!(
            serde_json::from_str::<Scenario>(r#"{"guests": [{"vmid": 1, "cfg": {}}]}"#).is_err()
        );
    }
}
