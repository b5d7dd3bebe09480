//! `/nodes/{node}/tasks[/{upid}[/status|/log]]`: the task list and one task's status and log, as
//! Proxmox serves them (UPIDs parsed strictly, task logs node-local).

use serde_json::{json, Value};

use super::call::Call;
use super::envelope::{PveError, Reply};
use super::params::{opt, req, Kind, NODE};
use super::state::PveState;
use super::task::Task;

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

/// pve-manager `PVE/API2/Tasks.pm` `$check_task_user`: a token sees its own tasks, a user its
/// own and its tokens' tasks.
fn owns(task: &Task, user: &str) -> bool {
    task.user == user
        || task
            .user
            .split_once('!')
            .is_some_and(|(owner, _)| owner == user)
}

/// `read_task_status` / `read_task_log`: someone else's task needs Sys.Audit on the node.
fn check_reader(state: &PveState, task: &Task, user: &str, node: &str) -> Result<(), PveError> {
    if owns(task, user) || user == super::access::ROOT {
        return Ok(());
    }
    state.check(user, &format!("/nodes/{node}"), &["Sys.Audit"])
}

/// `GET /nodes/{node}/tasks/{upid}`.
pub(crate) fn index(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, UPID])?;
    let upid = call.params.str("upid").unwrap_or_default();
    let node = call.params.str("node").unwrap_or_default();
    find_task(state, &node, &upid)?;
    Ok(json!([{"name": "log"}, {"name": "status"}]).into())
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
pub(crate) fn status(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE, UPID])?;
    let upid = call.params.str("upid").unwrap_or_default();
    let node = call.params.str("node").unwrap_or_default();
    let task = find_task(state, &node, &upid)?;
    check_reader(state, task, &call.user, &node)?;
    Ok(task.status_json().into())
}

/// `GET /nodes/{node}/tasks/{upid}/log`: `[{n, t}]` lines, `total`.
pub(crate) fn log(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[
        NODE,
        UPID,
        opt("start", Kind::Int),
        opt("limit", Kind::Int),
        opt("download", Kind::Bool),
    ])?;
    let upid = call.params.str("upid").unwrap_or_default();
    let node = call.params.str("node").unwrap_or_default();
    let task = find_task(state, &node, &upid)?;
    check_reader(state, task, &call.user, &node)?;
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
pub(crate) fn list(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
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
    // `node_tasks`: every task of the node with Sys.Audit on it, else only the caller's own.
    let auditor = state.may(&call.user, &format!("/nodes/{node}"), "Sys.Audit");
    let matching: Vec<Value> = state
        .tasks
        .iter()
        .rev()
        .filter(|t| t.node == node)
        .filter(|t| auditor || owns(t, &call.user))
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
