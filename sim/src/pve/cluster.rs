//! Cluster-wide read endpoints: `/version`, `/nodes`, `/nodes/{node}`, `/cluster/status` and
//! `/cluster/resources` (vm, storage per node, node entries).

use serde_json::{json, Value};

use super::call::Call;
use super::content::usage;
use super::envelope::{PveError, Reply};
use super::exports::Exports;
use super::params::{opt, Kind, NODE};
use super::scenario::GuestType;
use super::state::PveState;

/// `GET /version`.
pub(crate) fn version(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[])?;
    Ok(json!({"version": state.version, "release": state.release, "repoid": state.repoid}).into())
}

/// Node stats (`cpu`, `mem`, `disk`, `uptime` and their maxima) need Sys.Audit on the node;
/// without it the entry keeps only its id, status and level (pve-manager `PVE/API2Tools.pm`
/// `extract_node_stats` with `$exclude_stats`).
const NODE_STATS: [&str; 7] = [
    "cpu", "mem", "disk", "uptime", "maxcpu", "maxmem", "maxdisk",
];

fn strip_stats(v: &mut Value) {
    if let Some(obj) = v.as_object_mut() {
        for key in NODE_STATS {
            obj.remove(key);
        }
    }
}

fn node_entry(state: &PveState, name: &str) -> Value {
    let Some(node) = state.node(name) else {
        return json!({});
    };
    let mut v = json!({
        "node": node.name,
        "id": format!("node/{}", node.name),
        "type": "node",
        "status": if node.online { "online" } else { "offline" },
        "level": "",
        "ssl_fingerprint": node.ssl_fingerprint,
        "maxcpu": node.maxcpu,
        "maxmem": node.maxmem,
    });
    if node.online {
        let running: u64 = state
            .guests
            .values()
            .filter(|g| g.node == node.name && g.is_running())
            .map(|g| g.maxmem() / 4)
            .sum();
        v["cpu"] = json!(0.02);
        v["mem"] = json!(running + (2 << 30));
        v["uptime"] = json!(state.boot.elapsed().as_secs() + 86400);
    }
    v
}

/// `GET /nodes`: every node; stats only with Sys.Audit on `/nodes/<node>` (pve-manager
/// `PVE/API2/Nodes.pm` `index`).
pub(crate) fn nodes(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[])?;
    let list: Vec<Value> = state
        .nodes
        .iter()
        .map(|n| {
            let mut v = node_entry(state, &n.name);
            if !state.may(&call.user, &format!("/nodes/{}", n.name), "Sys.Audit") {
                strip_stats(&mut v);
            }
            v
        })
        .collect();
    Ok(Value::Array(list).into())
}

/// `GET /nodes/{node}`: the sub-directories.
pub(crate) fn node_index(_state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[NODE])?;
    let dirs = [
        "qemu", "lxc", "storage", "tasks", "status", "version", "network", "services",
    ];
    Ok(Value::Array(dirs.iter().map(|d| json!({"name": d})).collect()).into())
}

/// `GET /cluster/status`: the cluster entry and one entry per node.
pub(crate) fn status(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[])?;
    let mut list = vec![json!({
        "type": "cluster",
        "id": "cluster",
        "name": state.cluster_name,
        "nodes": state.nodes.len(),
        "quorate": 1,
        "version": 3,
    })];
    for node in &state.nodes {
        list.push(json!({
            "type": "node",
            "id": format!("node/{}", node.name),
            "name": node.name,
            "nodeid": node.nodeid,
            "ip": node.ip,
            "online": node.online as u8,
            "local": (node.name == state.local_node) as u8,
            "level": "",
        }));
    }
    Ok(Value::Array(list).into())
}

/// `GET /cluster/resources` (`type` = vm | storage | node | sdn | pool). What the user may not
/// see is left out (pve-manager `PVE/API2/Cluster.pm` `resources`): guests without VM.Audit on
/// `/vms/<vmid>`, storages without Datastore.Audit on `/storage/<id>` (AllocateSpace is not
/// enough here), node stats without Sys.Audit on `/nodes/<node>`.
pub(crate) fn resources(
    state: &mut PveState,
    exports: &dyn Exports,
    call: &Call,
) -> Result<Reply, PveError> {
    call.params.check(&[opt(
        "type",
        Kind::Enum(&["vm", "storage", "node", "sdn", "pool"]),
    )])?;
    let filter = call.params.str("type");
    let want = |t: &str| filter.as_deref().is_none_or(|f| f == t);
    let mut list = Vec::new();
    if want("vm") {
        for guest in state.guests.values() {
            if !state.may(&call.user, &format!("/vms/{}", guest.vmid), "VM.Audit") {
                continue;
            }
            let mut v = json!({
                "id": format!("{}/{}", guest.guest_type.as_str(), guest.vmid),
                "vmid": guest.vmid,
                "node": guest.node,
                "type": guest.guest_type.as_str(),
                // pvestatd publishes the QMP status for VMs (`paused` included).
                "status": match guest.guest_type {
                    GuestType::Qemu => guest.qmpstatus(),
                    GuestType::Lxc => guest.status_str(),
                },
                "name": guest.name(),
                "template": (guest.config.get("template").map(String::as_str) == Some("1")) as u8,
                "uptime": guest.uptime(),
                "maxcpu": guest.cpus(),
                "cpu": 0,
                "maxmem": guest.maxmem(),
                "mem": if guest.is_running() { guest.maxmem() / 4 } else { 0 },
                "maxdisk": guest.maxdisk(),
                "disk": 0,
                "netin": 0,
                "netout": 0,
                "diskread": 0,
                "diskwrite": 0,
            });
            if guest.guest_type == GuestType::Qemu {
                v["memhost"] = v["mem"].clone();
            }
            if let Some(lock) = guest.lock() {
                v["lock"] = json!(lock);
            }
            if let Some(tags) = guest.config.get("tags") {
                v["tags"] = json!(tags);
            }
            list.push(v);
        }
    }
    if want("node") {
        for node in &state.nodes {
            let mut v = node_entry(state, &node.name);
            if let Some(obj) = v.as_object_mut() {
                obj.remove("ssl_fingerprint");
                obj.insert("maxdisk".into(), json!(100u64 << 30));
                obj.insert("disk".into(), json!(12u64 << 30));
                obj.insert("cgroup-mode".into(), json!(2));
            }
            if !state.may(&call.user, &format!("/nodes/{}", node.name), "Sys.Audit") {
                strip_stats(&mut v);
            }
            list.push(v);
        }
    }
    if want("storage") {
        for storage in &state.storages {
            if !state.may(
                &call.user,
                &format!("/storage/{}", storage.id),
                "Datastore.Audit",
            ) {
                continue;
            }
            for node in &state.nodes {
                if storage.check_enabled(&node.name).is_err() {
                    continue;
                }
                let mut v = json!({
                    "id": format!("storage/{}/{}", node.name, storage.id),
                    "storage": storage.id,
                    "node": node.name,
                    "type": "storage",
                    "plugintype": storage.storage_type,
                    "status": "unknown",
                    "shared": storage.options.get("shared").is_some_and(super::state::flag_value) as u8,
                    "content": storage.option("content").unwrap_or_else(|| "none".into()),
                });
                if node.online {
                    if let Some((used, total)) = usage(exports, storage) {
                        v["status"] = json!("available");
                        v["disk"] = json!(used);
                        v["maxdisk"] = json!(total);
                    }
                }
                list.push(v);
            }
        }
    }
    Ok(Value::Array(list).into())
}
