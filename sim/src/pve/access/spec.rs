//! The `access` part of a Proxmox scenario: custom roles, groups and ACL entries, written the way
//! `pveum role add`, `pveum group add` + `pveum user modify --groups` and `pveum acl modify` take them.
//!
//! ```json
//! "access": {
//!   "roles":  [{"roleid": "OntapSnapshot", "privs": "VM.Audit VM.PowerMgmt Datastore.Audit"}],
//!   "groups": [{"groupid": "ops", "users": ["alice@pve"]}],
//!   "acl":    [{"path": "/", "roles": "OntapSnapshot", "users": "snapshot@pve"},
//!              {"path": "/vms/100", "roles": "NoAccess", "tokens": "snapshot@pve!ontap",
//!               "propagate": false}]
//! }
//! ```
//! Lists (`privs`, `roles`, `users`, `groups`, `tokens`) are separated by commas, semicolons or
//! white space, as pve-common's `split_list` splits them.

use serde::{Deserialize, Serialize};

pub(crate) use super::super::params::split_list;

/// Roles, groups and ACLs of a scenario (user.cfg without the users, which are `users`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessSpec {
    pub roles: Vec<RoleSpec>,
    pub groups: Vec<GroupSpec>,
    pub acl: Vec<AclSpec>,
}

impl AccessSpec {
    /// Nothing configured (only root@pam and non-privsep tokens of root@pam have rights).
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.groups.is_empty() && self.acl.is_empty()
    }
}

/// `pveum role add <roleid> --privs "<privs>"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleSpec {
    pub roleid: String,
    pub privs: String,
}

/// `pveum group add <groupid>` with its members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupSpec {
    pub groupid: String,
    pub users: Vec<String>,
}

/// `pveum acl modify <path> --roles <roles> [--users ..] [--groups ..] [--tokens ..]
/// [--propagate 0|1]` (propagate defaults to 1, as in pveum).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AclSpec {
    pub path: String,
    pub roles: String,
    pub users: String,
    pub groups: String,
    pub tokens: String,
    pub propagate: bool,
}

impl Default for AclSpec {
    fn default() -> AclSpec {
        AclSpec {
            path: String::new(),
            roles: String::new(),
            users: String::new(),
            groups: String::new(),
            tokens: String::new(),
            propagate: true,
        }
    }
}
