//! Proxmox VE access control: built-in and custom roles, groups, ACLs on paths with propagation,
//! and the privileges a user or API token (with or without privilege separation) has on a path.
//!
//! Semantics follow pve-access-control:
//! - `src/PVE/AccessControl.pm` `roles`: walk the path from `/` down; at each level the token's
//!   own entries replace what was found above, else the user's entries, else the union of the
//!   entries of the user's groups. An entry counts on the checked path itself, and above it only
//!   when it propagates. `NoAccess` found last wins over everything.
//! - `src/PVE/RPCEnvironment.pm` `permissions`: root@pam has every privilege; a token without
//!   privilege separation has its user's privileges; a token with it has the intersection of its
//!   own and its user's (for root@pam's tokens: only its own).
//! - `check` / `check_any` fail with `Permission check failed (<path>, <priv>)` (several privileges
//!   of `check_any` joined by `|`), `raise_perm_exc` in pve-common `src/PVE/Exception.pm`.
//!
//! Not modelled: resource pools (`/pool/...` ACLs and pool membership) and realms' case folding.

mod privileges;
pub(crate) mod rules;
mod spec;
mod volume;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub(crate) use privileges::Catalogue;
use spec::split_list;
pub use spec::{AccessSpec, AclSpec, GroupSpec, RoleSpec};
pub(crate) use volume::VolumeRefusal;

/// The superuser: every privilege everywhere (`permissions`, `check_api2_permissions`).
pub(crate) const ROOT: &str = "root@pam";

/// A user of the scenario with its API tokens (`name`, privilege separation).
#[derive(Debug, Clone)]
pub(crate) struct Account<'a> {
    pub userid: &'a str,
    pub tokens: Vec<(&'a str, bool)>,
}

/// Roles of one principal on one ACL path: role → propagate.
type RoleSet = BTreeMap<String, bool>;

/// The ACL entries of one path.
#[derive(Debug, Clone, Default)]
struct AclNode {
    users: BTreeMap<String, RoleSet>,
    groups: BTreeMap<String, RoleSet>,
    tokens: BTreeMap<String, RoleSet>,
}

/// A failed permission check: what `raise_perm_exc` puts in parentheses (`/vms/100,
/// VM.PowerMgmt`), or nothing (an `or` check or a missing parameter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denied {
    pub what: Option<String>,
}

impl Denied {
    pub(crate) fn new(path: &str, privs: &[&str]) -> Denied {
        Denied {
            what: Some(format!("{path}, {}", privs.join("|"))),
        }
    }

    /// `raise_perm_exc("<what>")` with a free text (`user != root@pam`).
    pub(crate) fn text(what: &str) -> Denied {
        Denied {
            what: Some(what.to_string()),
        }
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            Some(what) => write!(f, "Permission check failed ({what})"),
            None => f.write_str("Permission check failed"),
        }
    }
}

/// The access control state of a cluster (user.cfg).
#[derive(Debug, Clone)]
pub(crate) struct Access {
    catalogue: Catalogue,
    /// Built-in and custom roles with their privileges.
    roles: BTreeMap<String, BTreeSet<String>>,
    /// Group → members.
    groups: BTreeMap<String, BTreeSet<String>>,
    /// Normalised path → entries.
    acl: BTreeMap<String, AclNode>,
    /// Token id `user@realm!name` → privilege separation.
    tokens: BTreeMap<String, bool>,
}

impl Access {
    /// Build the access state of Proxmox VE `major` from a scenario; refuses what `pveum` refuses
    /// (unknown privileges of that release, unknown roles, users, groups or tokens, invalid paths).
    pub(crate) fn new(
        major: u32,
        spec: &AccessSpec,
        accounts: &[Account<'_>],
    ) -> Result<Access, String> {
        let catalogue = Catalogue::for_major(major);
        let mut roles = catalogue.builtin_roles().clone();
        let users: BTreeSet<&str> = accounts.iter().map(|a| a.userid).collect();
        let mut tokens = BTreeMap::new();
        for account in accounts {
            for (name, privsep) in &account.tokens {
                tokens.insert(format!("{}!{name}", account.userid), *privsep);
            }
        }
        // pve-access-control `src/PVE/API2/Role.pm` `create_role`, `AccessControl.pm`
        // `verify_rolename`, `add_role_privs`.
        for role in &spec.roles {
            let id = &role.roleid;
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
            {
                return Err(format!("role name '{id}' contains invalid characters"));
            }
            if roles.contains_key(id) {
                return Err(format!("role '{id}' already exists"));
            }
            let mut privs = BTreeSet::new();
            for p in split_list(&role.privs) {
                if !catalogue.is_valid(&p) {
                    return Err(format!("role '{id}': invalid privilege '{p}'"));
                }
                privs.insert(p);
            }
            roles.insert(id.clone(), privs);
        }
        let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for group in &spec.groups {
            if groups.contains_key(&group.groupid) {
                return Err(format!("group '{}' already exists", group.groupid));
            }
            for user in &group.users {
                if !users.contains(user.as_str()) {
                    return Err(format!("user '{user}' does not exist"));
                }
            }
            groups.insert(group.groupid.clone(), group.users.iter().cloned().collect());
        }
        // pve-access-control `src/PVE/API2/ACL.pm` `update_acl`.
        let mut acl: BTreeMap<String, AclNode> = BTreeMap::new();
        for entry in &spec.acl {
            let path = normalize_path(&entry.path)
                .filter(|p| check_path(p))
                .ok_or_else(|| format!("invalid ACL path '{}'", entry.path))?;
            let (users_list, groups_list, tokens_list) = (
                split_list(&entry.users),
                split_list(&entry.groups),
                split_list(&entry.tokens),
            );
            if users_list.is_empty() && groups_list.is_empty() && tokens_list.is_empty() {
                return Err(format!(
                    "ACL on '{}': either 'users', 'groups' or 'tokens' is required.",
                    entry.path
                ));
            }
            let role_list = split_list(&entry.roles);
            if role_list.is_empty() {
                return Err(format!("ACL on '{}': 'roles' is required", entry.path));
            }
            let node = acl.entry(path).or_default();
            for role in role_list {
                if !roles.contains_key(&role) {
                    return Err(format!("role '{role}' does not exist"));
                }
                for group in &groups_list {
                    if !groups.contains_key(group) {
                        return Err(format!("group '{group}' does not exist"));
                    }
                    set_role(&mut node.groups, group, &role, entry.propagate);
                }
                for user in &users_list {
                    if !users.contains(user.as_str()) {
                        return Err(format!("user '{user}' does not exist"));
                    }
                    set_role(&mut node.users, user, &role, entry.propagate);
                }
                for token in &tokens_list {
                    if !tokens.contains_key(token) {
                        let (user, name) = token.split_once('!').unwrap_or((token, ""));
                        return Err(format!("no such token '{name}' for user '{user}'"));
                    }
                    set_role(&mut node.tokens, token, &role, entry.propagate);
                }
            }
        }
        Ok(Access {
            catalogue,
            roles,
            groups,
            acl,
            tokens,
        })
    }

    /// Only the built-in roles, no ACLs, no tokens: only root@pam has rights.
    pub(crate) fn empty(major: u32) -> Access {
        let catalogue = Catalogue::for_major(major);
        Access {
            roles: catalogue.builtin_roles().clone(),
            catalogue,
            groups: BTreeMap::new(),
            acl: BTreeMap::new(),
            tokens: BTreeMap::new(),
        }
    }

    /// `AccessControl.pm` `roles`: the roles of `principal` (user or token id) on `path`.
    fn roles(&self, principal: &str, path: &str) -> RoleSet {
        let levels = path_levels(path);
        let mut roles = RoleSet::new();
        for (i, level) in levels.iter().enumerate() {
            let last = i + 1 == levels.len();
            let Some(node) = self.acl.get(level) else {
                continue;
            };
            let applying = |set: &RoleSet| -> RoleSet {
                set.iter()
                    .filter(|(_, propagate)| last || **propagate)
                    .map(|(r, p)| (r.clone(), *p))
                    .collect()
            };
            // Token entries, then user entries override everything above ("user privs always
            // override group privs").
            if let Some(new) = node.tokens.get(principal).map(applying) {
                if !new.is_empty() {
                    roles = new;
                    continue;
                }
            }
            if let Some(new) = node.users.get(principal).map(applying) {
                if !new.is_empty() {
                    roles = new;
                    continue;
                }
            }
            let mut new = RoleSet::new();
            for (group, set) in &node.groups {
                if self
                    .groups
                    .get(group)
                    .is_some_and(|m| m.contains(principal))
                {
                    new.extend(applying(set));
                }
            }
            if !new.is_empty() {
                roles = new;
            }
        }
        if let Some(propagate) = roles.get("NoAccess") {
            return RoleSet::from([("NoAccess".to_string(), *propagate)]);
        }
        roles
    }

    /// Privileges granted by the roles of `principal` alone on `path`.
    fn own_privileges(&self, principal: &str, path: &str) -> BTreeSet<String> {
        self.roles(principal, path)
            .keys()
            .filter_map(|role| self.roles.get(role))
            .flatten()
            .cloned()
            .collect()
    }

    /// `RPCEnvironment.pm` `permissions`: the privileges of a user or token id on `path`.
    pub(crate) fn privileges(&self, principal: &str, path: &str) -> BTreeSet<String> {
        if principal == ROOT {
            return self.catalogue.all().clone();
        }
        let Some((user, _)) = principal.split_once('!') else {
            return self.own_privileges(principal, path);
        };
        let Some(privsep) = self.tokens.get(principal) else {
            return BTreeSet::new();
        };
        let user_privs = self.privileges(user, path);
        if !privsep {
            return user_privs;
        }
        let token_privs = self.own_privileges(principal, path);
        if user == ROOT {
            return token_privs;
        }
        token_privs.intersection(&user_privs).cloned().collect()
    }

    /// `RPCEnvironment.pm` `check`: every privilege of `privs` on `path`.
    pub(crate) fn check(&self, principal: &str, path: &str, privs: &[&str]) -> Result<(), Denied> {
        let have = self.privileges(principal, path);
        match privs.iter().find(|p| !have.contains(**p)) {
            Some(missing) => Err(Denied::new(path, &[missing])),
            None => Ok(()),
        }
    }

    /// `RPCEnvironment.pm` `check_any`: one privilege of `privs` on `path`.
    pub(crate) fn check_any(
        &self,
        principal: &str,
        path: &str,
        privs: &[&str],
    ) -> Result<(), Denied> {
        let have = self.privileges(principal, path);
        if privs.iter().any(|p| have.contains(*p)) {
            Ok(())
        } else {
            Err(Denied::new(path, privs))
        }
    }

    /// Whether `principal` has `privilege` on `path` (a `check(..., $noerr = 1)`).
    pub(crate) fn has(&self, principal: &str, path: &str, privilege: &str) -> bool {
        self.privileges(principal, path).contains(privilege)
    }

    /// `RPCEnvironment.pm` `compute_api_permission`: the `cap` of a ticket, privileges by area.
    pub(crate) fn capabilities(&self, principal: &str) -> BTreeMap<String, BTreeSet<String>> {
        let areas: [(&str, &[&str]); 7] = [
            ("vms", &["VM.", "Permissions.Modify"]),
            ("access", &["User.", "Group.", "Permissions.Modify"]),
            ("storage", &["Datastore.", "Permissions.Modify"]),
            ("nodes", &["Sys.", "Permissions.Modify"]),
            ("sdn", &["SDN.", "Permissions.Modify"]),
            ("dc", &["Sys.Audit", "Sys.Modify", "SDN."]),
            ("mapping", &["Mapping.", "Permissions.Modify"]),
        ];
        let mut cap: BTreeMap<String, BTreeSet<String>> = areas
            .iter()
            .map(|(area, _)| (area.to_string(), BTreeSet::new()))
            .collect();
        let required = [
            "/",
            "/nodes",
            "/access/groups",
            "/vms",
            "/storage",
            "/sdn",
            "/mapping",
        ];
        let paths: BTreeSet<&str> = required
            .iter()
            .copied()
            .chain(self.acl.keys().map(String::as_str))
            .collect();
        for path in paths {
            let top = path
                .trim_start_matches('/')
                .split('/')
                .next()
                .filter(|t| !t.is_empty())
                .unwrap_or("dc");
            let Some((_, prefixes)) = areas.iter().find(|(area, _)| *area == top) else {
                continue;
            };
            for p in self.privileges(principal, path) {
                if prefixes.iter().any(|prefix| p.starts_with(prefix)) {
                    if let Some(set) = cap.get_mut(top) {
                        set.insert(p);
                    }
                }
            }
        }
        cap
    }
}

fn set_role(map: &mut BTreeMap<String, RoleSet>, who: &str, role: &str, propagate: bool) {
    map.entry(who.to_string())
        .or_default()
        .insert(role.to_string(), propagate);
}

/// `/`, `/vms`, `/vms/100` for `/vms/100`.
fn path_levels(path: &str) -> Vec<String> {
    let mut levels = vec!["/".to_string()];
    let mut current = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current.push('/');
        current.push_str(part);
        levels.push(current.clone());
    }
    levels
}

/// `AccessControl.pm` `normalize_path`: collapse `//`, drop a trailing `/`, add a leading one;
/// only `[[:alnum:]._/-]` allowed.
pub(crate) fn normalize_path(path: &str) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let mut out = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out.chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
        .then_some(out)
}

/// `AccessControl.pm` `check_path`: the ACL paths Proxmox knows (pools, SDN and mappings are
/// accepted by their first levels only).
fn check_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let name = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    match parts.as_slice() {
        [] => true,
        ["access"] | ["access", "groups" | "realm"] => true,
        ["access", "groups" | "realm", id] => name(id),
        ["nodes"] | ["storage"] | ["vms"] | ["pool"] | ["sdn"] | ["mapping"] => true,
        ["nodes" | "storage", id] => name(id),
        ["vms", id] => {
            id.len() >= 3 && !id.starts_with('0') && id.chars().all(|c| c.is_ascii_digit())
        }
        ["pool", rest @ ..] => rest.len() <= 3 && rest.iter().all(|p| name(p)),
        ["sdn", rest @ ..] => rest.len() <= 4 && rest.iter().all(|p| name(p)),
        ["mapping", rest @ ..] => rest.len() <= 2 && rest.iter().all(|p| name(p)),
        _ => false,
    }
}
