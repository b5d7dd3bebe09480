//! Proxmox tasks as data: one background task (UPID fields, log, exit status), what starting one
//! needs, and the effect it has when it ends (`Action`); the state holds tasks, the runner ends them.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// One background task.
#[derive(Debug, Clone)]
pub struct Task {
    pub upid: String,
    pub node: String,
    pub pid: u32,
    pub pstart: u64,
    pub starttime: i64,
    pub task_type: String,
    pub id: String,
    /// The authenticated user (`root@pam` or a token id `root@pam!snap`).
    pub user: String,
    /// None while the task runs; `OK` or the error text afterwards.
    pub exitstatus: Option<String>,
    pub endtime: Option<i64>,
    pub log: Vec<String>,
    pub(crate) ends_at: Instant,
    pub(crate) action: Action,
    /// An injected failure: the task ends with this exit status and has no effect.
    pub(crate) fault: Option<String>,
}

impl Task {
    /// `GET /nodes/{node}/tasks/{upid}/status`.
    pub fn status_json(&self) -> Value {
        let mut v = json!({
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.task_type,
            "id": self.id,
            "user": self.user,
            "status": if self.exitstatus.is_some() { "stopped" } else { "running" },
        });
        // Tasks of API tokens show the user and the token name apart.
        if let Some((user, token)) = self.user.split_once('!') {
            v["user"] = json!(user);
            v["tokenid"] = json!(token);
        }
        if let Some(exit) = &self.exitstatus {
            v["exitstatus"] = json!(exit);
        }
        v
    }
}

/// What a new task needs.
pub(crate) struct NewTask<'a> {
    pub node: &'a str,
    pub task_type: &'a str,
    pub id: String,
    pub action: Action,
    pub duration: Duration,
    pub first_log_line: String,
}

/// The effect of a task, applied when it ends.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// `qmcreate`: write the new VM's config, or fail on a missing volume.
    Create {
        vmid: u32,
        config: std::collections::BTreeMap<String, String>,
        missing_volume: Option<String>,
    },
    /// `qmdestroy`: remove the VM's config.
    Destroy { vmid: u32 },
    /// `qmstart` / `vzstart` (also a resume of a hibernated VM).
    Start { vmid: u32, skiplock: bool },
    /// `qmstop` / `vzstop`: hard stop.
    Stop { vmid: u32, skiplock: bool },
    /// `qmshutdown` / `vzshutdown`.
    Shutdown {
        vmid: u32,
        skiplock: bool,
        force_stop: bool,
    },
    /// `qmpause`: QMP `stop`.
    Pause { vmid: u32, skiplock: bool },
    /// `qmsuspend`: save RAM to a vmstate volume, quit QEMU, `lock: suspended`.
    Hibernate {
        vmid: u32,
        skiplock: bool,
        statestorage: Option<String>,
    },
    /// `qmresume`: `cont` (or a full start after hibernation).
    Resume { vmid: u32, skiplock: bool },
    /// `vzsuspend`: `lxc-checkpoint -s` (the container stops, its state is saved).
    CtSuspend { vmid: u32 },
    /// `vzresume`: `lxc-checkpoint -r` (restore from the checkpoint).
    CtResume { vmid: u32 },
    /// `qmconfig` (async config update).
    Config { vmid: u32, update: ConfigUpdate },
}

/// A validated config change.
#[derive(Debug, Clone, Default)]
pub(crate) struct ConfigUpdate {
    /// `unusedN` = volume id.
    pub set: Vec<(String, String)>,
    /// `unusedN` keys to remove.
    pub delete: Vec<String>,
}
