//! The live `Backends`: HTTP clients built from the configuration on first use — one Proxmox VE
//! client, and one ONTAP client per distinct ONTAP endpoint and user (storages of one cluster share it).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::config::{Config, OntapConfig, ProxmoxConfig};
use crate::error::{Error, Result};
use crate::http::TlsMode;
use crate::ontap::{Ontap, OntapClient};
use crate::pve::{Pve, PveClient};

use super::Backends;

/// Clients for the configured endpoints, created lazily (a hook phase with no action connects nowhere).
pub struct Live {
    file: std::path::PathBuf,
    proxmox: ProxmoxConfig,
    storages: std::collections::BTreeMap<String, OntapConfig>,
    pve: Mutex<Option<Arc<PveClient>>>,
    /// Keyed by (base URL, user).
    ontap: Mutex<HashMap<(String, String), Arc<OntapClient>>>,
}

impl Live {
    /// Takes what the clients need from the config; connects nowhere yet (clients are built,
    /// and CA files read, on first use).
    pub fn new(config: &Config) -> Result<Live> {
        Ok(Live {
            file: config.file.clone(),
            proxmox: config.proxmox.clone(),
            storages: config.storages.clone(),
            pve: Mutex::new(None),
            ontap: Mutex::new(HashMap::new()),
        })
    }

    /// The config section holding the ONTAP cluster of `storage`: its own, or for a clone storage
    /// `X-CLONE` / `X-CLONE-N` without one, the section of `X`.
    // FIXME: switch to `Config::ontap_for` once config.rs provides it.
    fn ontap_config(&self, storage: &str) -> Result<&OntapConfig> {
        if let Some(c) = self.storages.get(storage) {
            return Ok(c);
        }
        if let Some((parent, suffix)) = storage.rsplit_once("-CLONE") {
            let numbered = suffix.is_empty()
                || suffix
                    .strip_prefix('-')
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if numbered {
                if let Some(c) = self.storages.get(parent) {
                    return Ok(c);
                }
            }
        }
        Err(Error::Config {
            file: self.file.clone(),
            section: Some(storage.to_string()),
            key: None,
            message: format!(
                "no section for storage '{storage}': add [{storage}] with the host, user and pass of the ONTAP cluster that exports it"
            ),
        })
    }
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
        let endpoint = &self.proxmox.endpoint;
        warn_if_insecure(&endpoint.tls, "Proxmox VE", &endpoint.base_url);
        let client = Arc::new(PveClient::new(&self.proxmox)?);
        *slot = Some(client.clone());
        Ok(client)
    }

    fn ontap(&self, storage: &str) -> Result<Arc<dyn Ontap>> {
        let config = self.ontap_config(storage)?;
        let key = (config.endpoint.base_url.clone(), config.user.clone());
        let mut clients = self.ontap.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        warn_if_insecure(&config.endpoint.tls, "ONTAP", &config.endpoint.base_url);
        let client = Arc::new(OntapClient::new(config)?);
        clients.insert(key, client.clone());
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PveAuth;
    use crate::http::{Endpoint, Timeouts};
    use crate::secret::Secret;

    fn ontap(storage: &str, url: &str, user: &str) -> (String, OntapConfig) {
        (
            storage.to_string(),
            OntapConfig {
                storage: storage.to_string(),
                endpoint: Endpoint {
                    base_url: url.into(),
                    tls: TlsMode::Fingerprint([7; 32]),
                    timeouts: Timeouts::default(),
                },
                user: user.into(),
                password: Secret::new("pw"),
            },
        )
    }

    fn live() -> Live {
        Live {
            file: "/etc/x.ini".into(),
            proxmox: ProxmoxConfig {
                endpoint: Endpoint {
                    base_url: "https://127.0.0.1:8006".into(),
                    tls: TlsMode::Insecure,
                    timeouts: Timeouts::default(),
                },
                auth: PveAuth::Password {
                    user: "root@pam".into(),
                    password: Secret::new("pw"),
                },
            },
            storages: [
                ontap("ONTAP01", "https://127.0.0.1:9443", "admin"),
                ontap("ONTAP02", "https://127.0.0.1:9443", "admin"),
                ontap("OTHER", "https://127.0.0.1:9443", "vsadmin"),
            ]
            .into_iter()
            .collect(),
            pve: Mutex::new(None),
            ontap: Mutex::new(HashMap::new()),
        }
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
        for storage in ["NOPE", "ONTAP01-CLONEX", "ONTAP01-CLONE-"] {
            let e = b.ontap(storage).err().unwrap();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(&format!("[{storage}]")), "{e}");
        }
    }
}
