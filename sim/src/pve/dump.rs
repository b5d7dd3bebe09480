//! The Proxmox state as JSON for `GET /_sim/state`: a copy with the tasks due by now finished (so
//! the dump shows what a client asking now would see), then nodes, storages, guests, users, tasks.

use std::time::Instant;

use serde_json::{json, Value};

use super::state::{Guest, PveState};
use super::task::Task;

impl PveState {
    /// The whole state as JSON (for `GET /_sim/state`), tasks finished as of now.
    pub fn dump(&self) -> Value {
        let mut state = self.clone();
        state.advance(Instant::now());
        let guests: Vec<Value> = state.guests.values().map(Guest::dump).collect();
        let storages: Vec<Value> = state
            .storages
            .iter()
            .map(|s| {
                let mut v = s.config_json();
                if !s.files.is_empty() {
                    v["files"] = json!(s
                        .files
                        .iter()
                        .map(|f| json!({"path": f.path, "size": f.size}))
                        .collect::<Vec<_>>());
                }
                v
            })
            .collect();
        json!({
            "cluster_name": state.cluster_name,
            "version": state.version,
            "local_node": state.local_node,
            "nodes": state.nodes.iter().map(|n| json!({
                "name": n.name, "nodeid": n.nodeid, "online": n.online, "ip": n.ip,
            })).collect::<Vec<_>>(),
            "storages": storages,
            "guests": guests,
            "users": state.users.iter().map(|u| json!({
                "userid": u.userid,
                "enabled": u.enabled,
                "tokens": u.tokens.iter().map(|t| format!("{}!{}", u.userid, t.name)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "tasks": state.tasks.iter().map(Task::status_json).collect::<Vec<_>>(),
        })
    }
}
