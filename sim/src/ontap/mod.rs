//! The simulated ONTAP cluster: state (SVMs, LIFs, volumes with file trees, snapshots, FlexClones,
//! jobs) and the REST handlers under `/api/`.
//!
//! Layers; a module imports only from its own layer or the ones listed before it:
//! - leaves: `rbac` (REST roles: path prefixes, access levels, command directories), `scenario`
//!   (the scenario file and the built-in default), `tree`, `clock`, `errors`
//!   (ONTAP error bodies), `params`, `fields` + `filter` + `collection` (ONTAP's query language
//!   and paging), `reply` (what a handler gets and answers), `job` (jobs as data), `blobs` (file
//!   contents by generation);
//! - `state`: the live cluster, holding jobs without knowing how they run; `snapshot_store`
//!   (capturing and sizing snapshots, shared by the snapshot and volume handlers); `conditions`
//!   (licence, busy node, block sharing, space: checked when a job takes effect);
//! - one handler module per resource (`cluster`, `volumes`, `snapshots`, `files`, `filedata`,
//!   `clone`, `cli`, `jobs`) plus `auth`; each takes the ONTAP state and the request context
//!   (`Ctx`, its query);
//! - `runner` (executes a due job's action through the resource modules), `exports` (the NFS
//!   view Proxmox reads), `router` (the only module that knows the handlers);
//! - `serve`: one request under the world lock, and the `return_timeout` wait outside it.

mod auth;
mod blobs;
mod bulk;
mod cli;
mod clock;
mod clone;
mod cluster;
mod collection;
mod conditions;
mod errors;
mod exports;
mod fields;
mod filedata;
mod files;
mod filter;
mod job;
mod jobs;
mod params;
mod rbac;
mod reply;
mod router;
mod runner;
mod scenario;
mod serve;
mod snaplock;
mod snapshot_store;
mod snapshots;
mod state;
mod tree;
mod volumes;

#[cfg(test)]
mod tests;

pub use errors::ApiError;
pub use rbac::{Access, CommandAccess, Privilege, RestRole};
pub use scenario::{
    parse_size, Account, Conditions, FileSpec, LifSpec, Role, Scenario, Size, SnapshotSpec,
    SvmSpec, VolumeSpec,
};
pub use serve::handle;
pub use state::OntapState;
