//! ACL evaluation against the cases of pve-access-control's own tests (`src/test/perm-test*.pl`):
//! propagation, override order, NoAccess, privilege separation, and what `pveum` refuses.

use super::*;

fn accounts() -> Vec<Account<'static>> {
    vec![
        Account {
            userid: "root@pam",
            tokens: vec![("full", false), ("sep", true)],
        },
        Account {
            userid: "snapshot@pve",
            tokens: vec![("ontap", false), ("split", true)],
        },
        Account {
            userid: "alice@pve",
            tokens: vec![],
        },
    ]
}

fn access(major: u32, spec: serde_json::Value) -> Access {
    let spec: AccessSpec = serde_json::from_value(spec).unwrap();
    Access::new(major, &spec, &accounts()).unwrap()
}

fn refused(major: u32, spec: serde_json::Value) -> String {
    let spec: AccessSpec = serde_json::from_value(spec).unwrap();
    Access::new(major, &spec, &accounts()).unwrap_err()
}

#[test]
fn root_has_everything_and_its_tokens_follow_privsep() {
    let a = access(9, serde_json::json!({}));
    assert!(a.has("root@pam", "/vms/100", "VM.PowerMgmt"));
    assert!(a.has("root@pam", "/", "Sys.Modify"));
    assert!(a.has("root@pam!full", "/storage/x", "Datastore.Allocate"));
    // A privilege-separated token of root has only what its own ACLs give.
    assert!(a.privileges("root@pam!sep", "/").is_empty());
    assert!(a.privileges("alice@pve", "/").is_empty());
    // Unknown tokens have nothing.
    assert!(a.privileges("root@pam!nope", "/").is_empty());
    let a = access(
        9,
        serde_json::json!({"acl": [{"path": "/vms", "roles": "PVEVMUser", "tokens": "root@pam!sep"}]}),
    );
    assert!(a.has("root@pam!sep", "/vms/100", "VM.PowerMgmt"));
    assert!(!a.has("root@pam!sep", "/vms/100", "VM.Allocate"));
    assert!(!a.has("root@pam!sep", "/storage/x", "Datastore.Audit"));
}

#[test]
fn propagation_reaches_below_only_when_set() {
    let a = access(
        9,
        serde_json::json!({"acl": [
            {"path": "/", "roles": "PVEAuditor", "users": "alice@pve", "propagate": false},
            {"path": "/storage", "roles": "PVEDatastoreUser", "users": "alice@pve"}
        ]}),
    );
    assert!(a.has("alice@pve", "/", "Sys.Audit"));
    assert!(!a.has("alice@pve", "/nodes/pve1", "Sys.Audit"));
    assert!(!a.has("alice@pve", "/vms/100", "VM.Audit"));
    assert!(a.has("alice@pve", "/storage/ONTAP01", "Datastore.AllocateSpace"));
    assert!(a.has("alice@pve", "/storage", "Datastore.Audit"));
}

#[test]
fn a_deeper_entry_replaces_what_was_inherited() {
    let a = access(
        9,
        serde_json::json!({"acl": [
            {"path": "/", "roles": "Administrator", "users": "alice@pve"},
            {"path": "/vms/100", "roles": "PVEAuditor", "users": "alice@pve"}
        ]}),
    );
    assert!(a.has("alice@pve", "/vms/101", "VM.PowerMgmt"));
    assert!(a.has("alice@pve", "/vms/100", "VM.Audit"));
    assert!(!a.has("alice@pve", "/vms/100", "VM.PowerMgmt"));
}

#[test]
fn user_entries_override_group_entries_on_the_same_level() {
    let a = access(
        9,
        serde_json::json!({
            "groups": [{"groupid": "ops", "users": ["alice@pve"]}],
            "acl": [
                {"path": "/vms", "roles": "PVEVMAdmin", "groups": "ops"},
                {"path": "/vms", "roles": "PVEAuditor", "users": "alice@pve"},
                {"path": "/storage", "roles": "PVEDatastoreAdmin", "groups": "ops"}
            ]
        }),
    );
    assert!(a.has("alice@pve", "/vms/100", "VM.Audit"));
    assert!(!a.has("alice@pve", "/vms/100", "VM.PowerMgmt"));
    assert!(a.has("alice@pve", "/storage/ONTAP01", "Datastore.Allocate"));
    // Group ACLs do not apply to the members' tokens.
    assert!(!a.has("snapshot@pve!split", "/storage/ONTAP01", "Datastore.Audit"));
}

#[test]
fn no_access_wins_where_it_is_the_last_word() {
    let a = access(
        9,
        serde_json::json!({"acl": [
            {"path": "/", "roles": "Administrator", "users": "alice@pve"},
            {"path": "/vms/100", "roles": "NoAccess,PVEVMAdmin", "users": "alice@pve"}
        ]}),
    );
    assert!(a.privileges("alice@pve", "/vms/100").is_empty());
    assert!(a.has("alice@pve", "/vms/101", "VM.Audit"));
}

#[test]
fn privilege_separated_tokens_get_the_intersection() {
    let a = access(
        9,
        serde_json::json!({
            "roles": [{"roleid": "Snap", "privs": "VM.Audit VM.PowerMgmt Datastore.Audit"}],
            "acl": [
                {"path": "/", "roles": "Snap", "users": "snapshot@pve"},
                {"path": "/", "roles": "PVEVMAdmin", "tokens": "snapshot@pve!split"}
            ]
        }),
    );
    // Without privsep: the user's privileges.
    assert!(a.has("snapshot@pve!ontap", "/vms/100", "VM.PowerMgmt"));
    assert!(a.has("snapshot@pve!ontap", "/storage/x", "Datastore.Audit"));
    // With privsep: both must have it.
    assert!(a.has("snapshot@pve!split", "/vms/100", "VM.PowerMgmt"));
    assert!(!a.has("snapshot@pve!split", "/vms/100", "VM.Allocate"));
    assert!(!a.has("snapshot@pve!split", "/storage/x", "Datastore.Audit"));
}

#[test]
fn checks_fail_with_proxmox_wording() {
    let a = access(
        9,
        serde_json::json!({"acl": [{"path": "/", "roles": "PVEAuditor", "users": "alice@pve"}]}),
    );
    assert_eq!(a.check("alice@pve", "/vms/100", &["VM.Audit"]), Ok(()));
    let e = a
        .check("alice@pve", "/vms/100", &["VM.Audit", "VM.PowerMgmt"])
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Permission check failed (/vms/100, VM.PowerMgmt)"
    );
    let e = a
        .check_any(
            "alice@pve",
            "/vms/100",
            &["VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.Unrestricted"],
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Permission check failed (/vms/100, VM.GuestAgent.FileSystemMgmt|VM.GuestAgent.Unrestricted)"
    );
    assert_eq!(
        a.check_any(
            "alice@pve",
            "/storage/x",
            &["Datastore.Audit", "Datastore.AllocateSpace"]
        ),
        Ok(())
    );
}

#[test]
fn privilege_names_follow_the_release() {
    let recipe_8 = serde_json::json!({"roles": [{"roleid": "OntapSnapshot",
        "privs": "VM.Audit VM.PowerMgmt VM.Monitor Datastore.Audit Datastore.Allocate Sys.Audit"}]});
    let recipe_9 = serde_json::json!({"roles": [{"roleid": "OntapSnapshot",
        "privs": "VM.Audit,VM.PowerMgmt,VM.GuestAgent.Audit,VM.GuestAgent.FileSystemMgmt"}]});
    access(8, recipe_8.clone());
    access(9, recipe_9.clone());
    assert_eq!(
        refused(9, recipe_8),
        "role 'OntapSnapshot': invalid privilege 'VM.Monitor'"
    );
    assert_eq!(
        refused(8, recipe_9),
        "role 'OntapSnapshot': invalid privilege 'VM.GuestAgent.Audit'"
    );
}

#[test]
fn what_pveum_refuses_is_refused() {
    assert_eq!(
        refused(
            9,
            serde_json::json!({"roles": [{"roleid": "PVEAdmin", "privs": "VM.Audit"}]})
        ),
        "role 'PVEAdmin' already exists"
    );
    assert_eq!(
        refused(
            9,
            serde_json::json!({"acl": [{"path": "/", "roles": "Nope", "users": "alice@pve"}]})
        ),
        "role 'Nope' does not exist"
    );
    assert_eq!(
        refused(
            9,
            serde_json::json!({"acl": [{"path": "/", "roles": "PVEAuditor", "users": "bob@pve"}]})
        ),
        "user 'bob@pve' does not exist"
    );
    assert_eq!(
        refused(
            9,
            serde_json::json!({"acl": [{"path": "/", "roles": "PVEAuditor", "tokens": "alice@pve!x"}]})
        ),
        "no such token 'x' for user 'alice@pve'"
    );
    assert_eq!(
        refused(
            9,
            serde_json::json!({"acl": [{"path": "/vms/99", "roles": "PVEAuditor", "users": "alice@pve"}]})
        ),
        "invalid ACL path '/vms/99'"
    );
    assert!(refused(
        9,
        serde_json::json!({"acl": [{"path": "/", "roles": "PVEAuditor"}]})
    )
    .contains("either 'users', 'groups' or 'tokens' is required"));
    assert!(serde_json::from_value::<AccessSpec>(serde_json::json!({"acls": []})).is_err());
}

#[test]
fn paths_are_normalised() {
    assert_eq!(normalize_path("//vms//100/").as_deref(), Some("/vms/100"));
    assert_eq!(normalize_path("storage").as_deref(), Some("/storage"));
    assert_eq!(normalize_path("/").as_deref(), Some("/"));
    assert_eq!(normalize_path("/vms/1 00"), None);
    let a = access(
        9,
        serde_json::json!({"acl": [{"path": "//storage/", "roles": "PVEAuditor", "users": "alice@pve"}]}),
    );
    assert!(a.has("alice@pve", "/storage/ONTAP01", "Datastore.Audit"));
}

#[test]
fn capabilities_sort_privileges_by_area() {
    let a = access(
        8,
        serde_json::json!({"acl": [
            {"path": "/", "roles": "PVEAuditor", "users": "alice@pve"},
            {"path": "/vms/100", "roles": "PVEVMAdmin", "users": "alice@pve"}
        ]}),
    );
    let cap = a.capabilities("alice@pve");
    assert!(cap["vms"].contains("VM.Monitor"));
    assert!(cap["vms"].contains("VM.Audit"));
    assert!(cap["nodes"].contains("Sys.Audit"));
    assert!(cap["dc"].contains("Sys.Audit"));
    assert!(cap["storage"].contains("Datastore.Audit"));
    assert!(!cap["nodes"].contains("Sys.Modify"));
    assert!(cap["access"].is_empty());
}
