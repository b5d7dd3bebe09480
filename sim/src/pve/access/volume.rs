//! Who may use a storage volume: pve-storage `src/PVE/Storage.pm` `check_volume_access`, used by
//! content listings (without a guest) and by config updates that name a volume (with one).

use super::{Access, Denied, ROOT};

/// Why a volume may not be used: a failed privilege check (403) or no rule that allows it at all
/// (Proxmox dies with `missing privileges to access <volid>`, a 500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VolumeRefusal {
    Denied(Denied),
    Unreachable(String),
}

impl Access {
    /// `check_volume_access` for `volid` of content type `vtype`, owned by guest `owner`, used by
    /// guest `vmid` (None: no guest, so ownership does not count): Datastore.Allocate on the
    /// storage allows everything; templates and ISOs need Datastore.AllocateSpace or Audit; a
    /// guest may use its own volumes; backups need Datastore.AllocateSpace and VM.Backup on the
    /// owner; disk images Datastore.Audit and VM.Config.Disk on the owner.
    pub(crate) fn volume_access(
        &self,
        user: &str,
        volid: &str,
        vtype: &str,
        owner: Option<u32>,
        vmid: Option<u32>,
    ) -> Result<(), VolumeRefusal> {
        let sid = volid.split_once(':').map_or(volid, |(s, _)| s);
        let storage = format!("/storage/{sid}");
        if user == ROOT || self.has(user, &storage, "Datastore.Allocate") {
            return Ok(());
        }
        let denied = VolumeRefusal::Denied;
        match (vtype, owner) {
            ("iso" | "vztmpl" | "import", _) => self
                .check_any(
                    user,
                    &storage,
                    &["Datastore.AllocateSpace", "Datastore.Audit"],
                )
                .map_err(denied),
            (_, Some(o)) if Some(o) == vmid => Ok(()),
            ("backup", Some(o)) => {
                self.check(user, &storage, &["Datastore.AllocateSpace"])
                    .map_err(denied)?;
                self.check(user, &format!("/vms/{o}"), &["VM.Backup"])
                    .map_err(denied)
            }
            ("images" | "rootdir", Some(o)) => {
                self.check(user, &storage, &["Datastore.Audit"])
                    .map_err(denied)?;
                self.check(user, &format!("/vms/{o}"), &["VM.Config.Disk"])
                    .map_err(denied)
            }
            _ => Err(VolumeRefusal::Unreachable(format!(
                "missing privileges to access {volid}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AccessSpec, Account};
    use super::*;

    #[test]
    fn images_need_allocate_or_audit_plus_the_owners_disk_privilege() {
        let spec: AccessSpec = serde_json::from_value(serde_json::json!({"acl": [
            {"path": "/storage", "roles": "PVEDatastoreUser", "users": "a@pve"},
            {"path": "/vms/100", "roles": "PVEVMAdmin", "users": "a@pve"}
        ]}))
        .unwrap();
        let accounts = [Account {
            userid: "a@pve",
            tokens: vec![],
        }];
        let access = Access::new(9, &spec, &accounts).unwrap();
        let img = |owner, vmid| access.volume_access("a@pve", "S:1/x.raw", "images", owner, vmid);
        assert_eq!(img(Some(100), None), Ok(()));
        assert_eq!(
            img(Some(101), None),
            Err(VolumeRefusal::Denied(Denied::new(
                "/vms/101",
                &["VM.Config.Disk"]
            )))
        );
        assert_eq!(img(Some(101), Some(101)), Ok(()));
        assert_eq!(
            access.volume_access("a@pve", "S:iso/x.iso", "iso", None, None),
            Ok(())
        );
        assert_eq!(
            access.volume_access("a@pve", "S:snippets/x", "snippets", None, None),
            Err(VolumeRefusal::Unreachable(
                "missing privileges to access S:snippets/x".into()
            ))
        );
        assert_eq!(
            access.volume_access("root@pam", "S:snippets/x", "snippets", None, None),
            Ok(())
        );
    }
}
