//! The privileges of a Proxmox VE release and the built-in roles made from them, as
//! pve-access-control's `$privgroups` and `create_roles` define them for 8.x and 9.x.

use std::collections::{BTreeMap, BTreeSet};

/// One privilege category of `$privgroups`: privileges only root should have, admin, user and
/// audit privileges.
struct Category {
    name: &'static str,
    root: &'static [&'static str],
    admin: &'static [&'static str],
    user: &'static [&'static str],
    audit: &'static [&'static str],
}

// pve-access-control `src/PVE/AccessControl.pm` `$privgroups` as of 8.2.2 (the last 8.x, commit
// 25dd375): `VM.Monitor` is an admin privilege, there are no `VM.GuestAgent.*` and no
// `VM.Replicate`.
const VM_8: Category = Category {
    name: "VM",
    root: &[],
    admin: &[
        "VM.Config.Disk",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.HWType",
        "VM.Config.Options",
        "VM.Allocate",
        "VM.Clone",
        "VM.Migrate",
        "VM.Monitor",
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    ],
    user: &[
        "VM.Config.CDROM",
        "VM.Config.Cloudinit",
        "VM.Console",
        "VM.Backup",
        "VM.PowerMgmt",
    ],
    audit: &["VM.Audit"],
};

// The same for 9.x (9.0.0 and later): "add VM.GuestAgent privileges" (922f710), "privileges: drop
// VM.Monitor" (0706945) and "add VM.Replicate privilege" (5f7544f), all July 2025.
const VM_9: Category = Category {
    name: "VM",
    root: &[],
    admin: &[
        "VM.Config.Disk",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.HWType",
        "VM.Config.Options",
        "VM.Allocate",
        "VM.Clone",
        "VM.GuestAgent.Unrestricted",
        "VM.Migrate",
        "VM.Replicate",
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    ],
    user: &[
        "VM.Config.CDROM",
        "VM.Config.Cloudinit",
        "VM.Console",
        "VM.Backup",
        "VM.GuestAgent.FileRead",
        "VM.GuestAgent.FileSystemMgmt",
        "VM.GuestAgent.FileWrite",
        "VM.PowerMgmt",
    ],
    audit: &["VM.Audit", "VM.GuestAgent.Audit"],
};

// The other categories are the same in 8.2.2 and 9.x (`$privgroups`).
const OTHERS: [Category; 6] = [
    Category {
        name: "Sys",
        root: &[
            "Sys.PowerMgmt",
            "Sys.Modify",
            "Sys.Incoming",
            "Sys.AccessNetwork",
        ],
        admin: &["Sys.Console", "Sys.Syslog"],
        user: &[],
        audit: &["Sys.Audit"],
    },
    Category {
        name: "Datastore",
        root: &[],
        admin: &["Datastore.Allocate", "Datastore.AllocateTemplate"],
        user: &["Datastore.AllocateSpace"],
        audit: &["Datastore.Audit"],
    },
    Category {
        name: "SDN",
        root: &[],
        admin: &["SDN.Allocate", "SDN.Audit"],
        user: &["SDN.Use"],
        audit: &["SDN.Audit"],
    },
    Category {
        name: "User",
        root: &["Realm.Allocate"],
        admin: &["User.Modify", "Group.Allocate", "Realm.AllocateUser"],
        user: &[],
        audit: &[],
    },
    Category {
        name: "Pool",
        root: &[],
        admin: &["Pool.Allocate"],
        user: &["Pool.Audit"],
        audit: &["Pool.Audit"],
    },
    Category {
        name: "Mapping",
        root: &[],
        admin: &["Mapping.Modify"],
        user: &["Mapping.Use"],
        audit: &["Mapping.Audit"],
    },
];

/// `Permissions.Modify` belongs to no category (`$valid_privs`).
const UNGROUPED: &str = "Permissions.Modify";

/// The privilege names and built-in roles of one Proxmox VE major release.
#[derive(Debug, Clone)]
pub(crate) struct Catalogue {
    valid: BTreeSet<String>,
    roles: BTreeMap<String, BTreeSet<String>>,
}

impl Catalogue {
    /// The catalogue of Proxmox VE `major` (9 and later: 9.x; anything older: 8.x).
    pub(crate) fn for_major(major: u32) -> Catalogue {
        let vm = if major >= 9 { VM_9 } else { VM_8 };
        let categories: Vec<&Category> = std::iter::once(&vm).chain(OTHERS.iter()).collect();
        let mut valid = BTreeSet::from([UNGROUPED.to_string()]);
        let mut roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        // `create_roles`: PVE<cat>Admin and PVEAdmin get admin + user + audit privileges,
        // PVE<cat>User (only where the category has user privileges) user + audit, PVEAuditor
        // every audit privilege.
        for cat in categories {
            let all = cat
                .root
                .iter()
                .chain(cat.admin)
                .chain(cat.user)
                .chain(cat.audit);
            valid.extend(all.map(|p| p.to_string()));
            for p in cat.admin.iter().chain(cat.user).chain(cat.audit) {
                add(&mut roles, &format!("PVE{}Admin", cat.name), p);
                add(&mut roles, "PVEAdmin", p);
            }
            if !cat.user.is_empty() {
                for p in cat.user.iter().chain(cat.audit) {
                    add(&mut roles, &format!("PVE{}User", cat.name), p);
                }
            }
            for p in cat.audit {
                add(&mut roles, "PVEAuditor", p);
            }
        }
        // "remove Mapping.Modify from PVEAdmin, only Administrator, root@pam and PVEMappingAdmin
        // should be able to use that for now".
        if let Some(admin) = roles.get_mut("PVEAdmin") {
            admin.remove("Mapping.Modify");
        }
        roles.insert(
            "PVETemplateUser".into(),
            BTreeSet::from(["VM.Clone".to_string(), "VM.Audit".to_string()]),
        );
        // `$special_roles`: NoAccess has no privileges, Administrator every valid one.
        roles.insert("NoAccess".into(), BTreeSet::new());
        roles.insert("Administrator".into(), valid.clone());
        Catalogue { valid, roles }
    }

    /// Whether `name` is a privilege of this release (`verify_privname`).
    pub(crate) fn is_valid(&self, name: &str) -> bool {
        self.valid.contains(name)
    }

    /// Every privilege of this release.
    pub(crate) fn all(&self) -> &BTreeSet<String> {
        &self.valid
    }

    /// The built-in roles (`$special_roles` after `create_roles`).
    pub(crate) fn builtin_roles(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.roles
    }
}

fn add(roles: &mut BTreeMap<String, BTreeSet<String>>, role: &str, privilege: &str) {
    roles
        .entry(role.to_string())
        .or_default()
        .insert(privilege.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(c: &Catalogue, name: &str) -> Vec<String> {
        c.builtin_roles()[name].iter().cloned().collect()
    }

    #[test]
    fn version_8_has_vm_monitor_and_no_guest_agent_privileges() {
        let c = Catalogue::for_major(8);
        assert!(c.is_valid("VM.Monitor"));
        assert!(!c.is_valid("VM.GuestAgent.Audit"));
        assert!(!c.is_valid("VM.GuestAgent.FileSystemMgmt"));
        assert!(!c.is_valid("VM.Replicate"));
        assert!(c.builtin_roles()["PVEVMAdmin"].contains("VM.Monitor"));
        assert!(!c.builtin_roles()["PVEVMUser"].contains("VM.Monitor"));
    }

    #[test]
    fn version_9_has_guest_agent_privileges_and_no_vm_monitor() {
        let c = Catalogue::for_major(9);
        assert!(!c.is_valid("VM.Monitor"));
        for p in [
            "VM.GuestAgent.Audit",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.Unrestricted",
            "VM.Replicate",
        ] {
            assert!(c.is_valid(p), "{p}");
        }
        // FileSystemMgmt is a user privilege, Unrestricted an admin one, Audit an audit one.
        assert!(c.builtin_roles()["PVEVMUser"].contains("VM.GuestAgent.FileSystemMgmt"));
        assert!(!c.builtin_roles()["PVEVMUser"].contains("VM.GuestAgent.Unrestricted"));
        assert!(c.builtin_roles()["PVEAuditor"].contains("VM.GuestAgent.Audit"));
    }

    #[test]
    fn builtin_roles_follow_create_roles() {
        let c = Catalogue::for_major(9);
        assert_eq!(
            role(&c, "PVEDatastoreUser"),
            ["Datastore.AllocateSpace", "Datastore.Audit"]
        );
        assert_eq!(
            role(&c, "PVEDatastoreAdmin"),
            [
                "Datastore.Allocate",
                "Datastore.AllocateSpace",
                "Datastore.AllocateTemplate",
                "Datastore.Audit"
            ]
        );
        assert_eq!(
            role(&c, "PVESysAdmin"),
            ["Sys.Audit", "Sys.Console", "Sys.Syslog"]
        );
        assert_eq!(role(&c, "PVETemplateUser"), ["VM.Audit", "VM.Clone"]);
        assert!(role(&c, "NoAccess").is_empty());
        // Root-only privileges are in Administrator only.
        assert!(!c.builtin_roles()["PVEAdmin"].contains("Sys.Modify"));
        assert!(!c.builtin_roles()["PVEAdmin"].contains("Mapping.Modify"));
        assert!(!c.builtin_roles()["PVEAdmin"].contains("Permissions.Modify"));
        assert!(c.builtin_roles()["Administrator"].contains("Sys.Modify"));
        assert!(c.builtin_roles()["Administrator"].contains("Permissions.Modify"));
        assert_eq!(c.builtin_roles()["Administrator"], *c.all());
        // No user role for categories without user privileges.
        assert!(!c.builtin_roles().contains_key("PVESysUser"));
        assert!(!c.builtin_roles().contains_key("PVEUserUser"));
        assert!(c.builtin_roles().contains_key("PVEUserAdmin"));
        assert_eq!(role(&c, "PVEAuditor").len(), 7);
    }
}
