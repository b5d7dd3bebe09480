//! The live Proxmox state: nodes, storages (storage.cfg), guests with config, pending changes, run
//! state and guest agent, users, tasks; built from a scenario and dumped as JSON.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ring::digest;
use serde_json::{json, Value};

use super::access::{Access, AccessSpec, VolumeRefusal};
use super::call::Call;
use super::envelope::PveError;
use super::scenario::{
    accounts, major_version, FileSpec, GuestType, NodeSpec, RunStatus, Scenario, StorageSpec,
    Timing, UserSpec,
};
use super::task::{NewTask, Task};
use super::volumes::{drive_file, parse_size};

/// Storage types whose sections are `shared` by definition.
const SHARED_TYPES: [&str; 4] = ["nfs", "cifs", "glusterfs", "cephfs"];

/// The simulated Proxmox VE cluster.
#[derive(Debug, Clone)]
pub struct PveState {
    pub cluster_name: String,
    pub version: String,
    pub release: String,
    pub repoid: String,
    /// The node answering API calls.
    pub local_node: String,
    pub nodes: Vec<Node>,
    /// storage.cfg, in order.
    pub storages: Vec<Storage>,
    pub guests: BTreeMap<u32, Guest>,
    pub users: Vec<UserSpec>,
    /// Roles, groups and ACLs with the users' tokens (who may do what).
    pub(crate) access: Access,
    /// The major release (`version` 9.1.2 → 9): privilege names and permission rules follow it.
    pub major: u32,
    /// Error bodies carry `message` (libpve-http-server-perl 5.2.0 and later).
    pub message_in_body: bool,
    /// Every task started since the state was created, oldest first.
    pub tasks: Vec<Task>,
    pub timing: Timing,
    /// Signs tickets and CSRF tokens (new on every reset, which invalidates old tickets).
    pub(crate) secret: Vec<u8>,
    pub(crate) next_pid: u32,
    /// When the simulated nodes booted (task `pstart`, uptimes).
    pub(crate) boot: Instant,
}

/// One cluster node.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub nodeid: u32,
    pub online: bool,
    pub ip: String,
    pub maxcpu: u64,
    pub maxmem: u64,
    pub ssl_fingerprint: String,
    /// `criu` works here (LXC suspend/resume checkpoint and restore).
    pub criu: bool,
}

/// One storage.cfg section.
#[derive(Debug, Clone)]
pub struct Storage {
    pub id: String,
    pub storage_type: String,
    /// Every option but `storage`/`type`, as `GET /storage/{id}` returns it.
    pub options: BTreeMap<String, Value>,
    /// Volumes of non-nfs storages.
    pub files: Vec<FileSpec>,
    /// Capacity in bytes.
    pub total: u64,
}

/// The guest agent inside a QEMU guest.
#[derive(Debug, Clone)]
pub struct AgentState {
    pub responding: bool,
    pub filesystems: u64,
    pub frozen: bool,
    pub freeze_delay_ms: u64,
}

/// One guest (VM or container).
#[derive(Debug, Clone)]
pub struct Guest {
    pub vmid: u32,
    pub guest_type: GuestType,
    pub node: String,
    /// `Paused` only for QEMU. A hibernated VM is `Stopped` with `lock: suspended` + `vmstate`.
    pub run: RunStatus,
    pub config: BTreeMap<String, String>,
    /// `[PENDING]` values; the key `delete` lists pending deletions.
    pub pending: BTreeMap<String, String>,
    pub agent: AgentState,
    pub ignores_shutdown: bool,
    pub pid: Option<u32>,
    pub started: Option<Instant>,
    /// LXC: stopped by `suspend` (a CRIU checkpoint), restorable by `resume`.
    pub checkpointed: bool,
}

impl PveState {
    pub fn new(scenario: &Scenario) -> PveState {
        let nodes: Vec<Node> = scenario
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| node(n, i))
            .collect();
        let local_node = scenario
            .local_node
            .clone()
            .or_else(|| nodes.first().map(|n| n.name.clone()))
            .unwrap_or_else(|| "pve1".to_string());
        let release = if scenario.release.is_empty() {
            scenario
                .version
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".")
        } else {
            scenario.release.clone()
        };
        let major = major_version(&scenario.version);
        let boot = Instant::now();
        let mut next_pid = 0x1000;
        let guests = scenario
            .guests
            .iter()
            .map(|spec| {
                let running = spec.status != RunStatus::Stopped;
                let pid = running.then(|| {
                    next_pid += 1;
                    next_pid
                });
                let guest = Guest {
                    vmid: spec.vmid,
                    guest_type: spec.guest_type,
                    node: spec.node.clone(),
                    run: spec.status,
                    config: spec.config.clone(),
                    pending: spec.pending.clone(),
                    agent: AgentState {
                        responding: spec.agent.responding,
                        filesystems: spec.agent.filesystems,
                        frozen: spec.agent.frozen,
                        freeze_delay_ms: spec.agent.freeze_delay_ms,
                    },
                    ignores_shutdown: spec.ignores_shutdown,
                    pid,
                    started: running.then_some(boot),
                    checkpointed: false,
                };
                (spec.vmid, guest)
            })
            .collect();
        PveState {
            cluster_name: scenario.cluster_name.clone(),
            version: scenario.version.clone(),
            release,
            repoid: scenario.repoid.clone(),
            local_node,
            nodes,
            storages: scenario.storages.iter().map(storage).collect(),
            guests,
            users: scenario.users.clone(),
            access: access_of(scenario, major),
            major,
            message_in_body: message_in_body(&scenario.http_server_version),
            tasks: Vec::new(),
            timing: scenario.timing.clone(),
            secret: random_secret(),
            next_pid,
            boot,
        }
    }

    /// Whether `user` (a user or token id) has `privilege` on `path` (a `check(..., 1)`).
    pub(crate) fn may(&self, user: &str, path: &str, privilege: &str) -> bool {
        self.access.has(user, path, privilege)
    }

    /// Whether `user` has one of `privileges` on `path` (a `check_any(..., 1)`).
    pub(crate) fn may_any(&self, user: &str, path: &str, privileges: &[&str]) -> bool {
        self.access.check_any(user, path, privileges).is_ok()
    }

    /// `$rpcenv->check`: every privilege of `privileges` on `path`, else 403.
    pub(crate) fn check(
        &self,
        user: &str,
        path: &str,
        privileges: &[&str],
    ) -> Result<(), PveError> {
        self.access
            .check(user, path, privileges)
            .map_err(|denied| PveError::status(403, denied.to_string()))
    }

    /// pve-storage `check_volume_access` (see `access::volume`): 403 for a failed privilege
    /// check, 500 when no rule allows the volume.
    pub(crate) fn check_volume_access(
        &self,
        user: &str,
        volid: &str,
        vtype: &str,
        owner: Option<u32>,
        vmid: Option<u32>,
    ) -> Result<(), PveError> {
        self.access
            .volume_access(user, volid, vtype, owner, vmid)
            .map_err(|refusal| match refusal {
                VolumeRefusal::Denied(denied) => PveError::status(403, denied.to_string()),
                VolumeRefusal::Unreachable(message) => PveError::die(message),
            })
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn storage(&self, id: &str) -> Option<&Storage> {
        self.storages.iter().find(|s| s.id == id)
    }

    /// A fresh fake process id.
    pub(crate) fn alloc_pid(&mut self) -> u32 {
        self.next_pid += 1;
        self.next_pid
    }

    /// SHA-1 of the rendered storage.cfg (the `digest` of `GET /storage`).
    pub fn storage_digest(&self) -> String {
        let mut text = String::new();
        for s in &self.storages {
            text.push_str(&format!("{}: {}\n", s.storage_type, s.id));
            for (k, v) in &s.options {
                text.push_str(&format!("\t{k} {}\n", value_text(v)));
            }
            text.push('\n');
        }
        sha1_hex(text.as_bytes())
    }
}

/// The access state of the scenario; an inconsistent one (refused by `Scenario::validate`, which
/// `Sim::start` and the binary run first) leaves only root@pam with rights.
fn access_of(scenario: &Scenario, major: u32) -> Access {
    let accounts = accounts(&scenario.users);
    Access::new(major, &scenario.access, &accounts)
        .or_else(|_| Access::new(major, &AccessSpec::default(), &accounts))
        .unwrap_or_else(|_| Access::empty(major))
}

/// libpve-http-server-perl 5.2.0 ("fix #6503: return api handler errors in the json body") and
/// later put the error message into the JSON body; empty means the newest.
fn message_in_body(version: &str) -> bool {
    let parts: Vec<u32> = version
        .split(['.', '-'])
        .map_while(|p| p.parse().ok())
        .collect();
    match parts.as_slice() {
        [] => true,
        [major] => *major > 5,
        [major, minor, ..] => (*major, *minor) >= (5, 2),
    }
}

fn node(spec: &NodeSpec, index: usize) -> Node {
    let ssl_fingerprint = if spec.ssl_fingerprint.is_empty() {
        let hash = digest::digest(&digest::SHA256, spec.name.as_bytes());
        hash.as_ref()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    } else {
        spec.ssl_fingerprint.clone()
    };
    Node {
        name: spec.name.clone(),
        nodeid: index as u32 + 1,
        online: spec.online,
        ip: spec.ip.clone(),
        maxcpu: spec.maxcpu,
        maxmem: spec.maxmem,
        ssl_fingerprint,
        criu: spec.criu,
    }
}

fn storage(spec: &StorageSpec) -> Storage {
    let mut options = spec.options.clone();
    if SHARED_TYPES.contains(&spec.storage_type.as_str()) {
        options.insert("shared".into(), json!(1));
    }
    for flag in ["shared", "disable", "snapshot-as-volume-chain"] {
        if let Some(v) = options.get_mut(flag) {
            *v = json!(flag_value(v) as u8);
        }
    }
    Storage {
        id: spec.storage.clone(),
        storage_type: spec.storage_type.clone(),
        options,
        files: spec.files.clone(),
        total: spec.total.unwrap_or(1 << 40),
    }
}

/// A boolean-ish JSON value (`1`, `"1"`, `true`).
pub(crate) fn flag_value(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() == Some(1),
        Value::String(s) => s == "1",
        _ => false,
    }
}

/// A JSON option value as storage.cfg text.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Storage {
    pub fn option(&self, key: &str) -> Option<String> {
        self.options.get(key).map(value_text)
    }

    /// The content types, in configured order.
    pub fn content(&self) -> Vec<String> {
        self.option("content")
            .map(|c| super::params::split_list(&c))
            .unwrap_or_default()
    }

    pub fn disabled(&self) -> bool {
        self.options.get("disable").is_some_and(flag_value)
    }

    /// `storage_check_enabled` for one node.
    pub fn check_enabled(&self, node: &str) -> Result<(), String> {
        if self.disabled() {
            return Err(format!("storage '{}' is disabled\n", self.id));
        }
        if let Some(nodes) = self.option("nodes") {
            if !super::params::split_list(&nodes).iter().any(|n| n == node) {
                return Err(format!(
                    "storage '{}' is not available on node '{node}'\n",
                    self.id
                ));
            }
        }
        Ok(())
    }

    /// The section as `GET /storage/{id}` shows it (without `digest`).
    pub fn config_json(&self) -> Value {
        let mut v = json!({"storage": self.id, "type": self.storage_type});
        for (k, val) in &self.options {
            v[k] = val.clone();
        }
        if v.get("content").is_none() {
            v["content"] = json!("none");
        }
        v
    }
}

impl Guest {
    /// `VM` or `CT` (as in `VM is locked (backup)`).
    pub fn label(&self) -> &'static str {
        match self.guest_type {
            GuestType::Qemu => "VM",
            GuestType::Lxc => "CT",
        }
    }

    /// The config file path relative to /etc/pve as seen from `node`.
    pub fn conf_path(guest_type: GuestType, node: &str, vmid: u32) -> String {
        match guest_type {
            GuestType::Qemu => format!("nodes/{node}/qemu-server/{vmid}.conf"),
            GuestType::Lxc => format!("nodes/{node}/lxc/{vmid}.conf"),
        }
    }

    pub fn name(&self) -> String {
        let key = match self.guest_type {
            GuestType::Qemu => "name",
            GuestType::Lxc => "hostname",
        };
        self.config
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("{} {}", self.label(), self.vmid))
    }

    pub fn lock(&self) -> Option<&str> {
        self.config.get("lock").map(String::as_str)
    }

    /// `check_lock`: refuse when the config carries any lock.
    pub fn check_lock(&self) -> Result<(), String> {
        match self.lock() {
            Some(lock) => Err(format!("{} is locked ({lock})\n", self.label())),
            None => Ok(()),
        }
    }

    /// The process exists (running or paused).
    pub fn is_running(&self) -> bool {
        self.run != RunStatus::Stopped
    }

    /// `agent` is present in the config at all (else `No QEMU guest agent configured`).
    pub fn agent_configured(&self) -> bool {
        self.config.contains_key("agent")
    }

    /// `agent` enables the agent (`1` or `enabled=1,...`).
    pub fn agent_enabled(&self) -> bool {
        self.config.get("agent").is_some_and(|v| {
            let (default, keys) = super::volumes::property_string(v);
            default.or_else(|| keys.get("enabled").copied()) == Some("1")
        })
    }

    /// The config with pending changes applied (`current = false`) or as it is (`current = true`).
    pub fn effective_config(&self, current: bool) -> BTreeMap<String, String> {
        let mut conf = self.config.clone();
        if !current {
            for (k, v) in &self.pending {
                if k != "delete" {
                    conf.insert(k.clone(), v.clone());
                }
            }
            for key in self.pending_deletes() {
                conf.remove(&key);
            }
        }
        conf
    }

    /// Keys queued for deletion (`delete` of the pending section, `!` force markers dropped).
    pub fn pending_deletes(&self) -> Vec<String> {
        self.pending
            .get("delete")
            .map(|d| {
                super::params::split_list(d)
                    .into_iter()
                    .map(|k| k.trim_start_matches('!').to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The config file text (what `digest` hashes).
    pub fn config_text(&self) -> String {
        let mut text = String::new();
        for (k, v) in &self.config {
            text.push_str(&format!("{k}: {v}\n"));
        }
        if !self.pending.is_empty() {
            text.push_str(match self.guest_type {
                GuestType::Qemu => "\n[PENDING]\n",
                GuestType::Lxc => "\n[pve:pending]\n",
            });
            for (k, v) in &self.pending {
                text.push_str(&format!("{k}: {v}\n"));
            }
        }
        text
    }

    pub fn digest(&self) -> String {
        sha1_hex(self.config_text().as_bytes())
    }

    /// Apply every pending change (at start, or right away for a stopped guest).
    pub fn apply_pending(&mut self) {
        let deletes = self.pending_deletes();
        let pending = std::mem::take(&mut self.pending);
        for (k, v) in pending {
            if k != "delete" {
                self.config.insert(k, v);
            }
        }
        for key in deletes {
            self.config.remove(&key);
        }
    }

    /// Bytes of RAM (`memory` in MiB, possibly `current=N`).
    pub fn maxmem(&self) -> u64 {
        let memory = self
            .config
            .get("memory")
            .map(String::as_str)
            .unwrap_or("512");
        let mib = super::volumes::property_string(memory)
            .0
            .or_else(|| super::volumes::drive_option(memory, "current"))
            .and_then(|m| m.parse::<u64>().ok())
            .unwrap_or(512);
        mib << 20
    }

    /// Size of the boot disk (QEMU: first disk of `boot order=`, LXC: rootfs).
    pub fn maxdisk(&self) -> u64 {
        let key = match self.guest_type {
            GuestType::Lxc => Some("rootfs".to_string()),
            GuestType::Qemu => self
                .config
                .get("boot")
                .and_then(|b| super::volumes::drive_option(b, "order"))
                .and_then(|o| o.split(';').next())
                .map(str::to_string),
        };
        key.and_then(|k| self.config.get(&k))
            .and_then(|v| super::volumes::drive_option(v, "size"))
            .and_then(parse_size)
            .unwrap_or(0)
    }

    pub fn cpus(&self) -> u64 {
        let get = |k: &str| self.config.get(k).and_then(|v| v.parse::<u64>().ok());
        match self.guest_type {
            GuestType::Qemu => {
                get("vcpus").unwrap_or(get("sockets").unwrap_or(1) * get("cores").unwrap_or(1))
            }
            GuestType::Lxc => get("cores").unwrap_or(1),
        }
    }

    pub fn uptime(&self) -> u64 {
        self.started.map(|s| s.elapsed().as_secs()).unwrap_or(0)
    }

    /// `running` / `stopped` (a paused VM is still `running`).
    pub fn status_str(&self) -> &'static str {
        if self.is_running() {
            "running"
        } else {
            "stopped"
        }
    }

    /// QMP status: `running`, `paused` or `stopped`.
    pub fn qmpstatus(&self) -> &'static str {
        match self.run {
            RunStatus::Running => "running",
            RunStatus::Paused => "paused",
            RunStatus::Stopped => "stopped",
        }
    }

    /// Every volume id the config references through a disk key (`cdrom` drives, `none` and
    /// absolute paths excluded), with its key.
    pub fn disk_volids(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .filter(|(k, _)| super::volumes::is_disk_key(self.guest_type, k))
            .filter(|(_, v)| !super::volumes::is_cdrom(v))
            .filter_map(|(k, v)| {
                let file = drive_file(v)?;
                super::volumes::parse_volid(file).map(|_| (k.clone(), file.to_string()))
            })
            .collect()
    }

    pub(crate) fn dump(&self) -> Value {
        let mut v = json!({
            "vmid": self.vmid,
            "type": self.guest_type.as_str(),
            "node": self.node,
            "status": self.status_str(),
            "config": self.config,
            "pending": self.pending,
        });
        if self.guest_type == GuestType::Qemu {
            v["qmpstatus"] = json!(self.qmpstatus());
            v["agent"] = json!({
                "configured": self.agent_configured(),
                "enabled": self.agent_enabled(),
                "responding": self.agent.responding,
                "frozen": self.agent.frozen,
                "filesystems": self.agent.filesystems,
            });
        } else {
            v["checkpointed"] = json!(self.checkpointed);
        }
        if let Some(lock) = self.lock() {
            v["lock"] = json!(lock);
        }
        v
    }
}

pub(crate) fn sha1_hex(data: &[u8]) -> String {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn random_secret() -> Vec<u8> {
    use ring::rand::SecureRandom;
    let mut secret = vec![0u8; 32];
    if ring::rand::SystemRandom::new().fill(&mut secret).is_err() {
        // No system randomness: fall back to the clock (tickets only need to be unforgeable
        // by accident, not by attack, in a simulator).
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        secret = digest::digest(&digest::SHA256, &nanos.to_le_bytes())
            .as_ref()
            .to_vec();
    }
    secret
}

impl PveState {
    /// Start a task; returns its UPID.
    pub(crate) fn start_task(&mut self, call: &Call, new: NewTask) -> String {
        let pid = self.alloc_pid();
        let elapsed = call.now.saturating_duration_since(self.boot);
        // Clock ticks since boot (USER_HZ 100), as in /proc/<pid>/stat.
        let pstart = 0x0010_0000 + (elapsed.as_millis() / 10) as u64;
        let starttime = unix_now();
        let upid = format!(
            "UPID:{}:{pid:08X}:{pstart:08X}:{starttime:08X}:{}:{}:{}:",
            new.node, new.task_type, new.id, call.user
        );
        self.tasks.push(Task {
            upid: upid.clone(),
            node: new.node.to_string(),
            pid,
            pstart,
            starttime,
            task_type: new.task_type.to_string(),
            id: new.id,
            user: call.user.clone(),
            exitstatus: None,
            endtime: None,
            log: vec![new.first_log_line],
            ends_at: call.now + new.duration,
            action: new.action,
            fault: call.fault.map(|f| f.message.clone()),
        });
        // Keep memory bounded; drop the oldest finished tasks.
        if self.tasks.len() > 2000 {
            if let Some(i) = self.tasks.iter().position(|t| t.exitstatus.is_some()) {
                self.tasks.remove(i);
            }
        }
        upid
    }
}
