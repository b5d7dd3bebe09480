//! The simulated Proxmox VE cluster: state (nodes, storages, guests with configs, run states, guest
//! agents, tasks, users and tokens) and the API handlers under `/api2/json/`.
//!
//! Layers; a module imports only from its own layer or the ones listed before it:
//! - leaves: `access` (roles, ACLs and the endpoints' permission rules), `scenario`, `default`, `params`, `envelope` (replies and errors), `call` (what a
//!   handler gets), `task` (tasks as data), `volumes` (volume ids and names), `exports` (the
//!   only view of ONTAP: files below an NFS export);
//! - `state`: the live cluster, holding tasks without knowing how they run; `pending`, `login`,
//!   `find` (the guest a call names);
//! - `runstate` (what a task does when it ends) and `content` (what a storage holds), then
//!   `runner` (ends due tasks), `dump` (the state as JSON, due tasks finished);
//! - one handler module per area (`auth`, `cluster`, `guests`, `create`, `config`, `agent`,
//!   `storage`, `tasks`), each taking `&mut PveState` (storage views and `create` also
//!   `&dyn Exports`);
//! - `router` (the only module that knows the handlers), then `serve` and `guest_write`.
//!
//! Behaviour follows Proxmox VE 9 (8.x where the scenario's `version` says so):
//! - Auth: `POST /access/ticket` gives `PVE:<user>:<8 HEX>::<sig>` tickets (2 h, configurable in
//!   `timing`); a ticket goes in `Cookie: PVEAuthCookie=` (or `Authorization: PVEAuthCookie=`), and
//!   every non-GET call with a ticket needs `CSRFPreventionToken`; API tokens
//!   `Authorization: PVEAPIToken=USER@REALM!ID=SECRET` need no CSRF token. Failures are 401 with
//!   the reason only (`No ticket`, `Authentication failed!`, `Permission denied - invalid csrf
//!   token`), a failed login is 401 `authentication failure`; each is delayed a little.
//! - Envelopes: `{"data": ...}`; errors carry the message in the status line and in
//!   `{"data":null,"message":"...\n","errors":{...}}` (400 `Parameter verification failed.` for
//!   schema errors, 500 for handler failures, 501 for unknown paths); `/api2/extjs/` answers 200
//!   with `success`. A GET or DELETE with a body is refused with 501 before anything else.
//!   Before libpve-http-server-perl 5.2 (`http_server_version`) error bodies carry no `message`.
//! - Permissions (`access`): every endpoint checks its Perl `permissions` block (403
//!   `Permission check failed (<path>, <privilege>)`), lists leave out what the user may not
//!   see; only root@pam and tokens without privilege separation of root@pam need no ACL.
//! - Tasks: power actions answer with a UPID at once; the run state changes when the task ends
//!   (`timing.task_ms`, `timing.shutdown_ms`), task-side errors end up in `exitstatus`. Tasks are
//!   finished lazily at the start of every request (and in `dump`).
//!
//! Deliberate simplifications: `delete=unusedN` removes the config entry but does not free the
//! volume on ONTAP; hibernation records `vmstate` in the config without creating the state file;
//! config updates support only `unusedN`; LXC `suspend`/`resume` are CRIU checkpoint/restore as in
//! Proxmox (the container is stopped in between), not a freeze, and fail on nodes without
//! `criu` (the default).

pub(crate) mod access;
mod agent;
mod auth;
mod call;
mod cluster;
mod config;
mod content;
mod create;
mod default;
mod dump;
mod envelope;
pub mod exports;
mod find;
mod guest_write;
mod guests;
mod login;
mod params;
mod pending;
mod router;
mod runner;
mod runstate;
mod scenario;
mod serve;
mod state;
mod storage;
mod task;
mod tasks;
mod volumes;

#[cfg(test)]
mod tests;

pub use access::{AccessSpec, AclSpec, GroupSpec, RoleSpec};
pub use default::{ROOT_PASSWORD, TOKEN_NAME, TOKEN_SECRET};
pub use exports::{ExportedFile, Exports};
pub use guest_write::guest_write;
pub use scenario::{
    AgentSpec, FileSpec, GuestSpec, GuestType, NodeSpec, RunStatus, Scenario, StorageSpec, Timing,
    TokenSpec, UserSpec,
};
pub use serve::handle;
pub use state::{AgentState, Guest, Node, PveState, Storage};
pub use task::Task;
