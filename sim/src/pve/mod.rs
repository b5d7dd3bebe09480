//! The simulated Proxmox VE cluster: state (nodes, storages, guests with configs, run states, guest
//! agents, tasks, users and tokens) and the API handlers under `/api2/json/`.
//!
//! Behaviour follows Proxmox VE 9 (see `reference/proxmox.md`):
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
//! - Tasks: power actions answer with a UPID at once; the run state changes when the task ends
//!   (`timing.task_ms`, `timing.shutdown_ms`), task-side errors end up in `exitstatus`. Tasks are
//!   finished lazily at the start of every request (and in `dump`).
//!
//! Deliberate simplifications: `delete=unusedN` removes the config entry but does not free the
//! volume on ONTAP; hibernation records `vmstate` in the config without creating the state file;
//! config updates support only `unusedN`; LXC `suspend`/`resume` are CRIU checkpoint/restore as in
//! Proxmox (the container is stopped in between), not a freeze.

mod agent;
mod auth;
mod cluster;
mod config;
mod create;
mod default;
mod envelope;
mod guests;
mod params;
mod router;
mod runstate;
mod scenario;
mod state;
mod storage;
mod tasks;
mod volumes;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use default::{ROOT_PASSWORD, TOKEN_NAME, TOKEN_SECRET};
pub use scenario::{
    AgentSpec, FileSpec, GuestSpec, GuestType, NodeSpec, RunStatus, Scenario, StorageSpec, Timing,
    TokenSpec, UserSpec,
};
pub use state::{AgentState, Guest, Node, PveState, Storage};
pub use tasks::Task;

use envelope::{Format, PveError};

impl PveState {
    /// The password account of the scenario: (userid, password).
    pub fn root_credentials(&self) -> (String, String) {
        self.users
            .iter()
            .find_map(|u| {
                u.password
                    .as_ref()
                    .filter(|_| u.enabled)
                    .map(|p| (u.userid.clone(), p.clone()))
            })
            .unwrap_or_default()
    }

    /// The first API token of the scenario: (token id `user@realm!name`, secret).
    pub fn api_token(&self) -> (String, String) {
        self.users
            .iter()
            .find_map(|u| {
                u.tokens
                    .first()
                    .map(|t| (format!("{}!{}", u.userid, t.name), t.secret.clone()))
            })
            .unwrap_or_default()
    }

    /// Ids of the `nfs` storages (each gets an ONTAP section in the written config).
    pub fn nfs_storage_ids(&self) -> Vec<String> {
        self.storages
            .iter()
            .filter(|s| s.storage_type == "nfs")
            .map(|s| s.id.clone())
            .collect()
    }
}

/// Serve one Proxmox VE API request (`/api2/json/...`).
pub fn handle(
    shared: &crate::world::Shared,
    req: &crate::http::Request,
    job_fault: Option<&crate::world::JobFault>,
) -> crate::http::Response {
    let now = Instant::now();
    let segments = &req.segments;
    if segments.first().map(String::as_str) != Some("api2") || segments.len() < 2 {
        return envelope::render(Format::Json, Err(bare(501, "no such uri")));
    }
    let format = match segments[1].as_str() {
        "json" => Format::Json,
        "extjs" => Format::Extjs,
        other => {
            let rel = format!("/{}", segments[2..].join("/"));
            return envelope::render(
                Format::Json,
                Err(bare(501, &format!("no formatter for uri {rel}, {other}"))),
            );
        }
    };
    let (result, delay) = {
        let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
        world.pve.advance(now);
        let result = router::dispatch(&mut world, req, &segments[2..], job_fault, now);
        let auth_delay = Duration::from_millis(world.pve.timing.auth_failure_delay_ms);
        let delay = match &result {
            Ok(reply) => reply.delay,
            Err(PveError::Die { status: 401, .. } | PveError::Bare { status: 401, .. }) => {
                Some(auth_delay)
            }
            Err(_) => None,
        };
        (result, delay)
    };
    // Never sleep while holding the state lock.
    if let Some(delay) = delay.filter(|d| !d.is_zero()) {
        std::thread::sleep(delay);
    }
    envelope::render(format, result)
}

fn bare(status: u16, message: &str) -> PveError {
    PveError::Bare {
        status,
        reason: message.to_string(),
        body: message.to_string(),
    }
}

/// `POST /_sim/guests/<vmid>/write`: bump the content generation of every disk file of the guest
/// (through the ONTAP side); returns how many files changed, or why not (unknown guest).
/// Disks are the volumes of the guest's disk keys (not CD-ROMs, not `unusedN`) on nfs storages.
pub fn guest_write(world: &mut crate::world::World, vmid: u32) -> Result<usize, String> {
    world.pve.advance(Instant::now());
    let guest = world
        .pve
        .guests
        .get(&vmid)
        .ok_or_else(|| format!("guest {vmid} does not exist"))?;
    let mut by_export: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (_, volid) in guest.disk_volids() {
        let Some((sid, volname)) = volumes::parse_volid(&volid) else {
            continue;
        };
        let Some(storage) = world.pve.storage(sid).filter(|s| s.storage_type == "nfs") else {
            continue;
        };
        let Ok(volumes::VolName::Image { owner, name }) = volumes::parse_file_volname(volname)
        else {
            continue;
        };
        let dir = volumes::content_subdir(&storage.options, "images");
        let server = storage.option("server").unwrap_or_default();
        let export = storage.option("export").unwrap_or_default();
        by_export
            .entry((server, export))
            .or_default()
            .push(format!("{dir}/{owner}/{name}"));
    }
    Ok(by_export
        .iter()
        .map(|((server, export), paths)| world.ontap.write_files(server, export, paths))
        .sum())
}
