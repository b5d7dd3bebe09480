//! Background tasks: UPIDs, the running → stopped lifecycle with `exitstatus` (effects are applied
//! when a task ends, lazily on the next request), and `/nodes/{node}/tasks/...`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::envelope::{PveError, Reply};
use super::params::{opt, req, Kind, NODE};
use super::router::Call;
use super::runstate::{self, Action};
use super::state::{unix_now, PveState};
use crate::world::World;

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

    /// Finish every task whose time has come, in the order they end, applying their effects.
    pub(crate) fn advance(&mut self, now: Instant) {
        loop {
            let next = self
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.exitstatus.is_none() && t.ends_at <= now)
                .min_by_key(|(_, t)| t.ends_at)
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            let action = self.tasks[i].action.clone();
            let result = match self.tasks[i].fault.clone() {
                Some(message) => Err(message),
                None => runstate::complete(self, &action),
            };
            let task = &mut self.tasks[i];
            match result {
                Ok(lines) => {
                    task.log.extend(lines);
                    task.log.push("TASK OK".into());
                    task.exitstatus = Some("OK".into());
                }
                Err(message) => {
                    let message = message.trim_end().to_string();
                    task.log.push(format!("TASK ERROR: {message}"));
                    task.exitstatus = Some(message);
                }
            }
            task.endtime = Some(unix_now());
        }
    }
}

/// Parse a UPID into (node, type) or fail like Proxmox.
fn find_task<'a>(state: &'a PveState, node: &str, upid: &str) -> Result<&'a Task, PveError> {
    let fields: Vec<&str> = upid.split(':').collect();
    let well_formed = fields.len() == 9 && fields[0] == "UPID" && fields[8].is_empty();
    if !well_formed {
        return Err(PveError::param("upid", "unable to parse worker upid"));
    }
    // Task logs are node-local: asking another node finds nothing.
    state
        .tasks
        .iter()
        .find(|t| t.upid == upid && t.node == node)
        .ok_or_else(|| PveError::param("upid", "no such task"))
}

const UPID: super::params::Prop = req("upid", Kind::Str);

/// `GET /nodes/{node}/tasks/{upid}`.
pub(crate) fn index(world: &mut World, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, UPID])?;
    let upid = call.params.str("upid").unwrap_or_default();
    let node = call.params.str("node").unwrap_or_default();
    find_task(&world.pve, &node, &upid)?;
    Ok(json!([{"name": "log"}, {"name": "status"}]).into())
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
pub(crate) fn status(world: &mut World, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, UPID])?;
    let upid = call.params.str("upid").unwrap_or_default();
    let node = call.params.str("node").unwrap_or_default();
    Ok(find_task(&world.pve, &node, &upid)?.status_json().into())
}

/// `GET /nodes/{node}/tasks/{upid}/log`: `[{n, t}]` lines, `total`.
pub(crate) fn log(world: &mut World, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[
        NODE,
        UPID,
        opt("start", Kind::Int),
        opt("limit", Kind::Int),
        opt("download", Kind::Bool),
    ])?;
    let upid = call.params.str("upid").unwrap_or_default();
    let node = call.params.str("node").unwrap_or_default();
    let task = find_task(&world.pve, &node, &upid)?;
    let start = call.params.int("start").unwrap_or(0).max(0) as usize;
    let limit = call.params.int("limit").unwrap_or(50).max(0) as usize;
    let lines: Vec<Value> = task
        .log
        .iter()
        .enumerate()
        .skip(start)
        .take(if limit == 0 { usize::MAX } else { limit })
        .map(|(i, t)| json!({"n": i + 1, "t": t}))
        .collect();
    Ok(Reply {
        data: Value::Array(lines),
        total: Some(task.log.len() as u64),
        delay: None,
    })
}

/// `GET /nodes/{node}/tasks`: newest first, filters `vmid`, `typefilter`, `userfilter`,
/// `errors`, `source` (archive = finished, active = running, all).
pub(crate) fn list(world: &mut World, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[
        NODE,
        opt("start", Kind::Int),
        opt("limit", Kind::Int),
        opt("vmid", Kind::Int),
        opt("typefilter", Kind::Str),
        opt("userfilter", Kind::Str),
        opt("errors", Kind::Bool),
        opt("source", Kind::Enum(&["archive", "active", "all"])),
        opt("since", Kind::Int),
        opt("until", Kind::Int),
        opt("statusfilter", Kind::Str),
    ])?;
    let p = &call.params;
    let node = p.str("node").unwrap_or_default();
    let vmid = p.str("vmid");
    let typefilter = p.str("typefilter");
    let userfilter = p.str("userfilter");
    let source = p.str("source").unwrap_or_else(|| "archive".into());
    let errors = p.flag("errors");
    let start = p.int("start").unwrap_or(0).max(0) as usize;
    let limit = p.int("limit").unwrap_or(50).max(0) as usize;
    let matching: Vec<Value> = world
        .pve
        .tasks
        .iter()
        .rev()
        .filter(|t| t.node == node)
        .filter(|t| match source.as_str() {
            "active" => t.exitstatus.is_none(),
            "all" => true,
            _ => t.exitstatus.is_some(),
        })
        .filter(|t| vmid.as_ref().is_none_or(|v| &t.id == v))
        .filter(|t| typefilter.as_ref().is_none_or(|f| &t.task_type == f))
        .filter(|t| {
            userfilter
                .as_ref()
                .is_none_or(|u| t.user.contains(u.as_str()))
        })
        .filter(|t| !errors || t.exitstatus.as_deref().is_some_and(|e| e != "OK"))
        .map(|t| {
            let mut v = json!({
                "upid": t.upid, "node": t.node, "pid": t.pid, "pstart": t.pstart,
                "starttime": t.starttime, "type": t.task_type, "id": t.id, "user": t.user,
            });
            if let (Some(exit), Some(end)) = (&t.exitstatus, t.endtime) {
                v["status"] = json!(exit);
                v["endtime"] = json!(end);
            }
            v
        })
        .collect();
    let total = matching.len() as u64;
    let page: Vec<Value> = matching.into_iter().skip(start).take(limit).collect();
    Ok(Reply {
        data: Value::Array(page),
        total: Some(total),
        delay: None,
    })
}
