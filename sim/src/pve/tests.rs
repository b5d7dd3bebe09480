//! Unit tests of the Proxmox side through `handle` with hand-built requests.
//! One module per area; `util` builds requests, a fresh world and authenticated clients.

mod agent;
mod api;
mod auth;
mod cluster;
mod config;
mod content;
mod permissions;
mod power;
mod storage;
mod util;
