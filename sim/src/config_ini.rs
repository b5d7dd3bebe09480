//! The tool's config.ini for a running simulator (`--write-config`, `Sim::config_ini`): Proxmox
//! credentials pinned by fingerprint, one section per NFS storage with the ONTAP credentials.

use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::world::World;

/// How the written config logs in to Proxmox VE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PveLogin {
    /// `proxmox_user` + `proxmox_pass` (ticket + CSRF token).
    Password,
    /// `proxmox_token = USER@REALM!TOKENID=SECRET`.
    Token,
}

/// Where the two APIs listen and how to pin them.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `host:port` of the Proxmox API.
    pub pve_host: String,
    pub pve_fingerprint: String,
    /// `host:port` of the ONTAP API.
    pub ontap_host: String,
    pub ontap_fingerprint: String,
}

/// The config text: `[proxmox]` (plus `extra` keys, in order), then one section per NFS storage.
pub fn render(
    world: &World,
    endpoints: &Endpoints,
    login: PveLogin,
    extra: &[(&str, &str)],
) -> String {
    let mut out = String::from("[proxmox]\n");
    let mut line = |k: &str, v: &str| {
        out.push_str(k);
        out.push_str(" = ");
        out.push_str(v);
        out.push('\n');
    };
    line("proxmox_host", &endpoints.pve_host);
    match login {
        PveLogin::Password => {
            let (user, pass) = world.pve.root_credentials();
            line("proxmox_user", &user);
            line("proxmox_pass", &pass);
        }
        PveLogin::Token => {
            let (id, secret) = world.pve.api_token();
            line("proxmox_token", &format!("{id}={secret}"));
        }
    }
    line("proxmox_fingerprint", &endpoints.pve_fingerprint);
    for (k, v) in extra {
        line(k, v);
    }
    let (user, pass) = world.ontap.admin_credentials();
    for storage in world.pve.nfs_storage_ids() {
        out.push_str(&format!("\n[{storage}]\n"));
        out.push_str(&format!("host = {}\n", endpoints.ontap_host));
        out.push_str(&format!("user = {user}\n"));
        out.push_str(&format!("pass = {pass}\n"));
        out.push_str(&format!("fingerprint = {}\n", endpoints.ontap_fingerprint));
    }
    out
}

/// Write `text` to `path` readable by the owner only (mode 0600, also when the file existed).
pub fn write_private(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
