//! The accounts and storages of the scenario a client configuration needs: the password login,
//! the first API token and the nfs storages (each gets an ONTAP section in the written config).

use super::state::PveState;

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
