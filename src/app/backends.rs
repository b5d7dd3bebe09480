//! The live `Backends`: HTTP clients built from the configuration on first use — one Proxmox VE
//! client, and one ONTAP client per distinct ONTAP login (storages of one cluster share it).
//! Commands get them with the config through `connect`; the hooks through `live`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::error::Result;
use crate::http::TlsMode;
use crate::ontap::{self, Ontap, OntapClient};
use crate::pve::{Pve, PveClient};

use crate::ops::window::Guard;
use crate::ops::Backends;
use crate::sys::seams;

use super::guardian::LiveGuard;

/// Clients for the configured endpoints, created lazily (a hook phase with no action connects nowhere).
pub struct Live {
    config: Config,
    pve: Mutex<Option<Arc<PveClient>>>,
    /// One client per distinct ONTAP login (endpoint, TLS, user and password).
    ontap: Mutex<Vec<(ontap::Connection, Arc<OntapClient>)>>,
}

impl Live {
    /// Takes what the clients need from the config; connects nowhere yet (clients are built,
    /// and CA files read, on first use).
    pub fn new(config: &Config) -> Result<Live> {
        Ok(Live {
            config: config.clone(),
            pve: Mutex::new(None),
            ontap: Mutex::new(Vec::new()),
        })
    }
}

/// The live `Backends` the hooks use for a config (connected lazily).
pub(super) fn live(config: &Config) -> Result<Arc<dyn Backends>> {
    Ok(Arc::new(Live::new(config)?))
}

/// Load the config (the command line's search order) and build the live API clients for it.
pub(super) fn connect(config_file: Option<&Path>) -> Result<(Config, Box<dyn Backends>)> {
    let config = Config::load(config_file)?;
    log::debug!("using config {}", config.file.display());
    let backends = Box::new(Live::new(&config)?);
    Ok((config, backends))
}

fn warn_if_insecure(tls: &TlsMode, what: &str, base_url: &str) {
    if *tls == TlsMode::Insecure {
        log::warn!("TLS certificate verification is off for {what} at {base_url} (verify = false)");
    }
}

impl Backends for Live {
    fn pve(&self) -> Result<Arc<dyn Pve>> {
        let mut slot = self.pve.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let proxmox = &self.config.proxmox;
        warn_if_insecure(
            &proxmox.endpoint.tls,
            "Proxmox VE",
            &proxmox.endpoint.base_url,
        );
        let client = Arc::new(PveClient::new(proxmox)?);
        *slot = Some(client.clone());
        Ok(client)
    }

    fn ontap(&self, storage: &str) -> Result<Arc<dyn Ontap>> {
        let config = self.config.ontap_for(storage)?;
        // Storages share a client only when everything about the login is the same.
        let same = |c: &ontap::Connection| {
            c.endpoint == config.endpoint && c.user == config.user && c.password == config.password
        };
        let mut clients = self.ontap.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, client)) = clients.iter().find(|(c, _)| same(c)) {
            return Ok(client.clone());
        }
        warn_if_insecure(&config.endpoint.tls, "ONTAP", &config.endpoint.base_url);
        let client = Arc::new(OntapClient::new(config)?);
        clients.push((config.clone(), client.clone()));
        Ok(client)
    }

    fn guard(&self) -> Result<Arc<dyn Guard>> {
        Ok(Arc::new(LiveGuard::new(
            self.config.proxmox.clone(),
            &seams::system_root()?,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        let fp = vec!["07"; 32].join(":");
        let section = |name: &str, user: &str| {
            format!(
                "[{name}]\nhost = 127.0.0.1:9443\nuser = {user}\npass = pw\nfingerprint = {fp}\n\n"
            )
        };
        let text = format!(
            "[proxmox]\nproxmox_host = 127.0.0.1\nproxmox_user = root@pam\nproxmox_pass = pw\nproxmox_verify = false\n\n{}{}{}",
            section("ONTAP01", "admin"),
            section("ONTAP02", "admin"),
            section("OTHER", "vsadmin"),
        );
        let config = Config::parse(std::path::Path::new("/etc/x.ini"), &text).unwrap();
        Live::new(&config).unwrap()
    }

    #[test]
    fn clients_are_shared_per_endpoint_and_user() {
        let b = live();
        let a = b.ontap("ONTAP01").unwrap();
        let same = b.ontap("ONTAP02").unwrap();
        let other = b.ontap("OTHER").unwrap();
        assert!(Arc::ptr_eq(&a, &same));
        assert!(!Arc::ptr_eq(&a, &other));
        let clone = b.ontap("ONTAP01-CLONE-2").unwrap();
        assert!(Arc::ptr_eq(&a, &clone));
        assert!(Arc::ptr_eq(&b.pve().unwrap(), &b.pve().unwrap()));
    }

    #[test]
    fn unknown_storages_name_the_missing_section() {
        let b = live();
        for storage in ["NOPE", "ONTAP01-CLONEX"] {
            let e = b.ontap(storage).err().unwrap();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(&format!("[{storage}]")), "{e}");
        }
    }
}
