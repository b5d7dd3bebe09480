//! The validated `Config` every layer above reads: the Proxmox login, the storages' ONTAP clusters,
//! the policy and the tool paths. Built only by `config::build`; no raw INI strings are left in it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::policy::Policy;
use crate::error::{Error, Result};
use crate::model::capacity::Capacity;
use crate::model::storage::clone_parent;
use crate::sys::paths::Paths;
use crate::{ontap, pve};

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (for messages).
    pub file: PathBuf,
    pub proxmox: pve::Connection,
    /// Storage id (as written in the section header) → its ONTAP cluster.
    pub storages: BTreeMap<String, ontap::Connection>,
    pub policy: Policy,
    pub paths: Paths,
    /// Storage section → the capacity guard's thresholds.
    pub capacity: BTreeMap<String, Capacity>,
}

impl Config {
    /// The ONTAP cluster of a Proxmox storage, from the section `section_for` names.
    pub fn ontap_for(&self, storage: &str) -> Result<&ontap::Connection> {
        self.entry_for(storage).map(|(_, ontap)| ontap)
    }

    /// The capacity thresholds of a storage (its section's, else the defaults).
    pub fn capacity_for(&self, storage: &str) -> Capacity {
        self.section_for(storage)
            .ok()
            .and_then(|s| self.capacity.get(s))
            .copied()
            .unwrap_or_default()
    }

    /// The storage section of a Proxmox storage: its own, else for a clone storage
    /// `X-CLONE` / `X-CLONE-N` (as `storage mount` names them) the section of `X`.
    pub fn section_for(&self, storage: &str) -> Result<&str> {
        self.entry_for(storage).map(|(section, _)| section.as_str())
    }

    fn entry_for(&self, storage: &str) -> Result<(&String, &ontap::Connection)> {
        let mut name = storage;
        loop {
            if let Some(entry) = self.storages.get_key_value(name) {
                return Ok(entry);
            }
            match clone_parent(name) {
                Some(parent) => name = parent,
                None => break,
            }
        }
        let mut sections = format!("[{storage}]");
        let mut name = storage;
        while let Some(parent) = clone_parent(name) {
            sections.push_str(&format!(" or [{parent}]"));
            name = parent;
        }
        Err(Error::Config {
            file: self.file.clone(),
            section: Some(storage.to_string()),
            key: None,
            message: format!(
                "no section for storage '{storage}': add {sections} with host, user and pass of \
                 the ONTAP cluster that exports it"
            ),
        })
    }
}
