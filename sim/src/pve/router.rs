//! Request dispatch in Proxmox's order: authenticate, refuse bodies on GET/DELETE, find the
//! handler (501 otherwise), merge parameters, check the endpoint's permissions (403), resolve the
//! `{node}` proxy target, call the handler.

use std::time::Instant;

use super::access::rules;
use super::call::Call;
use super::envelope::{PveError, Reply};
use super::exports::Exports;
use super::params::Params;
use super::scenario::GuestType;
use super::state::PveState;
use super::{agent, auth, cluster, config, create, guests, storage, tasks};
use crate::http::Request;
use crate::job_fault::JobFault;

type Own = fn(&mut PveState, &Call) -> Result<Reply, PveError>;
type ReadsExports = fn(&mut PveState, &dyn Exports, &Call) -> Result<Reply, PveError>;

/// A handler: most need only the Proxmox state; storage views also read the NFS exports.
#[derive(Clone, Copy)]
enum Handler {
    Own(Own),
    ReadsExports(ReadsExports),
}

/// A matched route.
struct Route {
    handler: Handler,
    path: Vec<(&'static str, String)>,
    guest_type: Option<GuestType>,
    agent_command: Option<String>,
}

impl Route {
    fn new(handler: Own) -> Route {
        Route::with_handler(Handler::Own(handler))
    }

    /// A route whose handler reads storage content from the NFS exports.
    fn nfs(handler: ReadsExports) -> Route {
        Route::with_handler(Handler::ReadsExports(handler))
    }

    fn with_handler(handler: Handler) -> Route {
        Route {
            handler,
            path: Vec::new(),
            guest_type: None,
            agent_command: None,
        }
    }

    fn with(mut self, name: &'static str, value: &str) -> Route {
        self.path.push((name, value.to_string()));
        self
    }
}

fn start(state: &mut PveState, c: &Call) -> Result<Reply, PveError> {
    guests::power(state, c, "start")
}
fn stop(state: &mut PveState, c: &Call) -> Result<Reply, PveError> {
    guests::power(state, c, "stop")
}
fn shutdown(state: &mut PveState, c: &Call) -> Result<Reply, PveError> {
    guests::power(state, c, "shutdown")
}
fn suspend(state: &mut PveState, c: &Call) -> Result<Reply, PveError> {
    guests::power(state, c, "suspend")
}
fn resume(state: &mut PveState, c: &Call) -> Result<Reply, PveError> {
    guests::power(state, c, "resume")
}

fn root_index(_state: &mut PveState, c: &Call) -> Result<Reply, PveError> {
    c.params.check(&[])?;
    let dirs = ["version", "cluster", "nodes", "storage", "access", "pools"];
    Ok(serde_json::Value::Array(
        dirs.iter()
            .map(|d| serde_json::json!({"subdir": d}))
            .collect(),
    )
    .into())
}

/// The handler of `method` + `segments` (relative to `/api2/<format>`).
fn route(method: &str, segments: &[&str]) -> Option<Route> {
    let guest_route = |handler: Own, node: &str, kind: &str, vmid: &str| {
        let mut r = Route::new(handler).with("node", node).with("vmid", vmid);
        r.guest_type = Some(if kind == "lxc" {
            GuestType::Lxc
        } else {
            GuestType::Qemu
        });
        r
    };
    let r = match (method, segments) {
        ("GET", []) => Route::new(root_index),
        ("GET", ["version"]) => Route::new(cluster::version),
        ("GET", ["access", "ticket"]) => Route::new(auth::get_ticket),
        ("POST", ["access", "ticket"]) => Route::new(auth::create),
        ("GET", ["access", "domains"]) => Route::new(auth::domains),
        ("GET", ["cluster", "resources"]) => Route::nfs(cluster::resources),
        ("GET", ["cluster", "status"]) => Route::new(cluster::status),
        ("GET", ["nodes"]) => Route::new(cluster::nodes),
        ("GET", ["nodes", node]) => Route::new(cluster::node_index).with("node", node),
        ("GET", ["nodes", node, kind @ ("qemu" | "lxc")]) => {
            let mut r = Route::new(guests::list).with("node", node);
            r.guest_type = Some(if *kind == "lxc" {
                GuestType::Lxc
            } else {
                GuestType::Qemu
            });
            r
        }
        ("DELETE", ["nodes", node, kind @ "qemu", vmid]) => {
            guest_route(create::destroy, node, kind, vmid)
        }
        ("POST", ["nodes", node, "qemu"]) => {
            let mut r = Route::nfs(create::post).with("node", node);
            r.guest_type = Some(GuestType::Qemu);
            r
        }
        ("GET", ["nodes", node, kind @ ("qemu" | "lxc"), vmid]) => {
            guest_route(guests::index, node, kind, vmid)
        }
        ("GET", ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "config"]) => {
            guest_route(config::get, node, kind, vmid)
        }
        ("PUT", ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "config"])
        | ("POST", ["nodes", node, kind @ "qemu", vmid, "config"]) => {
            guest_route(config::update, node, kind, vmid)
        }
        ("GET", ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "pending"]) => {
            guest_route(config::pending, node, kind, vmid)
        }
        ("GET", ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "status"]) => {
            guest_route(guests::status_index, node, kind, vmid)
        }
        ("GET", ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "status", "current"]) => {
            guest_route(guests::current, node, kind, vmid)
        }
        ("POST", ["nodes", node, kind @ ("qemu" | "lxc"), vmid, "status", cmd]) => {
            let handler: Own = match *cmd {
                "start" => start,
                "stop" => stop,
                "shutdown" => shutdown,
                "suspend" => suspend,
                "resume" => resume,
                _ => return None,
            };
            guest_route(handler, node, kind, vmid)
        }
        ("POST", ["nodes", node, "qemu", vmid, "agent"]) => {
            guest_route(agent::run, node, "qemu", vmid)
        }
        (method, ["nodes", node, "qemu", vmid, "agent", command]) => {
            if agent::command_method(command) != Some(method) {
                return None;
            }
            let mut r = guest_route(agent::run, node, "qemu", vmid);
            r.agent_command = Some(command.to_string());
            r
        }
        ("GET", ["nodes", node, "tasks"]) => Route::new(tasks::list).with("node", node),
        ("GET", ["nodes", node, "tasks", upid]) => Route::new(tasks::index)
            .with("node", node)
            .with("upid", upid),
        ("GET", ["nodes", node, "tasks", upid, "status"]) => Route::new(tasks::status)
            .with("node", node)
            .with("upid", upid),
        ("GET", ["nodes", node, "tasks", upid, "log"]) => {
            Route::new(tasks::log).with("node", node).with("upid", upid)
        }
        ("GET", ["storage"]) => Route::new(storage::index),
        ("POST", ["storage"]) => Route::nfs(storage::create),
        ("GET", ["storage", id]) => Route::new(storage::read).with("storage", id),
        ("PUT", ["storage", id]) => Route::new(storage::update).with("storage", id),
        ("DELETE", ["storage", id]) => Route::new(storage::delete).with("storage", id),
        ("GET", ["nodes", node, "storage"]) => Route::nfs(storage::node_list).with("node", node),
        ("GET", ["nodes", node, "storage", id]) => Route::new(storage::node_index)
            .with("node", node)
            .with("storage", id),
        ("GET", ["nodes", node, "storage", id, "status"]) => Route::nfs(storage::status)
            .with("node", node)
            .with("storage", id),
        ("GET", ["nodes", node, "storage", id, "content"]) => Route::nfs(storage::content)
            .with("node", node)
            .with("storage", id),
        _ => return None,
    };
    Some(r)
}

/// Serve one request below `/api2/<format>`; `segments` are the decoded path segments after it.
pub(crate) fn dispatch(
    state: &mut PveState,
    exports: &dyn Exports,
    req: &Request,
    segments: &[String],
    fault: Option<&JobFault>,
    now: Instant,
) -> Result<Reply, PveError> {
    let rel_uri = format!("/{}", segments.join("/"));
    let auth = auth::authenticate(state, req, &rel_uri)?;
    if !req.body.is_empty() && req.method != "PUT" && req.method != "POST" {
        let message = format!("Unexpected content for method '{}'", req.method);
        return Err(PveError::Bare {
            status: 501,
            reason: message.clone(),
            body: message,
        });
    }
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let route = route(&req.method, &segs).ok_or_else(|| PveError::Die {
        status: 501,
        message: format!("Method '{} {rel_uri}' not implemented", req.method),
    })?;
    let mut params = Params::from_request(req)?;
    for (name, value) in &route.path {
        params.insert_path(name, value)?;
    }
    // `check_api2_permissions` (pve-manager `PVE/HTTPServer.pm` `rest_handler`) runs before the
    // call is proxied to its node and before the handler validates its parameters.
    let user = auth.map(|a| a.user);
    if let Some(rule) = rules::rule(&req.method, &segs, state.major) {
        rules::enforce(&state.access, user.as_deref(), &rule)
            .map_err(|denied| PveError::status(403, denied.to_string()))?;
    }
    // Calls for a node are proxied to it: it must exist and answer.
    if let Some((_, node)) = route.path.iter().find(|(name, _)| *name == "node") {
        match state.node(node) {
            None => {
                return Err(PveError::die(format!(
                    "hostname lookup '{node}' failed - failed to get address info for: \
                     {node}: Name or service not known"
                )))
            }
            Some(n) if !n.online => {
                return Err(PveError::Bare {
                    status: 595,
                    reason: "Connection timed out".into(),
                    body: String::new(),
                })
            }
            Some(_) => {}
        }
    }
    let call = Call {
        method: req.method.clone(),
        params,
        user: user.unwrap_or_default(),
        fault,
        now,
        guest_type: route.guest_type,
        agent_command: route.agent_command,
    };
    match route.handler {
        Handler::Own(handler) => handler(state, &call),
        Handler::ReadsExports(handler) => handler(state, exports, &call),
    }
}
