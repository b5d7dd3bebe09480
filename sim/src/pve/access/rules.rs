//! The declarative `permissions` block of every endpoint the simulator serves, read from the Perl
//! API sources; `check_api2_permissions` runs it before the handler (checks inside handlers live
//! next to the handler code).
//!
//! Source abbreviations: qs = qemu-server, pct = pve-container, ps = pve-storage, pm = pve-manager,
//! pac = pve-access-control. Each arm names the file and the `name` of the registered method.

use super::{Access, Denied, ROOT};

/// What an endpoint's `permissions` block asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rule {
    /// `user => 'world'`: no authentication at all.
    World,
    /// `user => 'all'`: any authenticated user (the handler may check or filter more).
    All,
    /// `check => ['perm', <path>, [<privs>], any => <any>]` with the path filled in.
    Perm {
        path: String,
        privs: &'static [&'static str],
        any: bool,
    },
}

impl Rule {
    fn perm(path: String, privs: &'static [&'static str]) -> Rule {
        Rule::Perm {
            path,
            privs,
            any: false,
        }
    }

    fn any(path: String, privs: &'static [&'static str]) -> Rule {
        Rule::Perm {
            path,
            privs,
            any: true,
        }
    }
}

/// `ps:src/PVE/API2/Storage/Status.pm` `diridx`/`read_status`/`rrd`, `Content.pm` `index`.
const STORAGE_READ: &[&str] = &["Datastore.Audit", "Datastore.AllocateSpace"];

/// The `permissions` block of `method` + `segments` (below `/api2/<format>`) on Proxmox VE
/// `major`, or None for a path the simulator does not serve.
pub(crate) fn rule(method: &str, segments: &[&str], major: u32) -> Option<Rule> {
    let vms = |vmid: &str| format!("/vms/{vmid}");
    let r = match (method, segments) {
        // pm:PVE/API2.pm `index`, `version`.
        ("GET", [] | ["version"]) => Rule::All,
        // pac:src/PVE/API2/AccessControl.pm `get_ticket`, `create_ticket`; Domains.pm `index`.
        ("GET" | "POST", ["access", "ticket"]) | ("GET", ["access", "domains"]) => Rule::World,
        // pm:PVE/API2/Cluster.pm `resources` (filters per item).
        ("GET", ["cluster", "resources"]) => Rule::All,
        // pm:PVE/API2/Cluster.pm `get_status`.
        ("GET", ["cluster", "status"]) => Rule::perm("/".into(), &["Sys.Audit"]),
        // pm:PVE/API2/Nodes.pm `index` (PVE::API2::Nodes and ::Nodeinfo).
        ("GET", ["nodes"] | ["nodes", _]) => Rule::All,
        // qs:src/PVE/API2/Qemu.pm and pct:src/PVE/API2/LXC.pm `vmlist` (filter VM.Audit),
        // `vmdiridx`, `vmcmdidx` (LXC/Status.pm).
        ("GET", ["nodes", _, "qemu" | "lxc"])
        | ("GET", ["nodes", _, "qemu" | "lxc", _])
        | ("GET", ["nodes", _, "qemu" | "lxc", _, "status"]) => Rule::All,
        // Qemu.pm / LXC/Config.pm `vm_config`, Qemu.pm / LXC.pm `vm_pending`, Qemu.pm /
        // LXC/Status.pm `vm_status`.
        ("GET", ["nodes", _, "qemu" | "lxc", vmid, "config" | "pending"])
        | ("GET", ["nodes", _, "qemu" | "lxc", vmid, "status", "current"]) => {
            Rule::perm(vms(vmid), &["VM.Audit"])
        }
        // qs:src/PVE/API2/Qemu.pm `create_vm`: `user => 'all'`, checked inside (VM.Allocate on
        // /vms/{vmid}, volume access, config keys); the simulator's handler does not model the
        // in-code checks yet (sim/README.md).
        ("POST", ["nodes", _, "qemu"]) => Rule::All,
        // qs:src/PVE/API2/Qemu.pm `destroy_vm`: VM.Allocate on /vms/{vmid}.
        ("DELETE", ["nodes", _, "qemu", vmid]) => Rule::perm(vms(vmid), &["VM.Allocate"]),
        // Qemu.pm `update_vm` / `update_vm_async`: any of `$vm_config_perm_list`.
        ("PUT" | "POST", ["nodes", _, "qemu", vmid, "config"]) => Rule::any(
            vms(vmid),
            &[
                "VM.Config.Disk",
                "VM.Config.CDROM",
                "VM.Config.CPU",
                "VM.Config.Memory",
                "VM.Config.Network",
                "VM.Config.HWType",
                "VM.Config.Options",
                "VM.Config.Cloudinit",
            ],
        ),
        // pct:src/PVE/API2/LXC/Config.pm `update_vm`: any of its `$vm_config_perm_list`.
        ("PUT", ["nodes", _, "lxc", vmid, "config"]) => Rule::any(
            vms(vmid),
            &[
                "VM.Config.Disk",
                "VM.Config.CPU",
                "VM.Config.Memory",
                "VM.Config.Network",
                "VM.Config.Options",
            ],
        ),
        // Qemu.pm `vm_start`, `vm_stop`, `vm_shutdown`, `vm_suspend`, `vm_resume`;
        // pct:src/PVE/API2/LXC/Status.pm the same names.
        (
            "POST",
            ["nodes", _, "qemu" | "lxc", vmid, "status", "start" | "stop" | "shutdown" | "suspend" | "resume"],
        ) => Rule::perm(vms(vmid), &["VM.PowerMgmt"]),
        // qs:src/PVE/API2/Qemu/Agent.pm `register_command('')`: 9.x `VM.GuestAgent.Unrestricted`
        // (the string form becomes `[$perm, 'VM.GuestAgent.Unrestricted'], any => 1`, so the
        // name appears twice in the message); 8.x the default `VM.Monitor`.
        ("POST", ["nodes", _, "qemu", vmid, "agent"]) => {
            if major >= 9 {
                Rule::any(
                    vms(vmid),
                    &["VM.GuestAgent.Unrestricted", "VM.GuestAgent.Unrestricted"],
                )
            } else {
                Rule::perm(vms(vmid), &["VM.Monitor"])
            }
        }
        ("GET" | "POST", ["nodes", _, "qemu", vmid, "agent", command]) => {
            agent_rule(vms(vmid), command, major)?
        }
        // pm:PVE/API2/Tasks.pm `node_tasks` (filters), `upid_index`, `read_task_status`,
        // `read_task_log` (owner or Sys.Audit, checked in the handler).
        ("GET", ["nodes", _, "tasks"] | ["nodes", _, "tasks", _]) => Rule::All,
        ("GET", ["nodes", _, "tasks", _, "status" | "log"]) => Rule::All,
        // ps:src/PVE/API2/Storage/Config.pm `index` (filters), `read`, `create`, `update`,
        // `delete`; `update` and `delete` check `/storage`, not `/storage/{storage}`.
        ("GET", ["storage"]) => Rule::All,
        ("GET", ["storage", id]) => Rule::perm(format!("/storage/{id}"), &["Datastore.Allocate"]),
        ("POST", ["storage"]) | ("PUT" | "DELETE", ["storage", _]) => {
            Rule::perm("/storage".into(), &["Datastore.Allocate"])
        }
        // ps:src/PVE/API2/Storage/Status.pm `index` (filters), `diridx`, `read_status`;
        // Content.pm `index` (filters per volume).
        ("GET", ["nodes", _, "storage"]) => Rule::All,
        ("GET", ["nodes", _, "storage", id])
        | ("GET", ["nodes", _, "storage", id, "status" | "content"]) => {
            Rule::any(format!("/storage/{id}"), STORAGE_READ)
        }
        _ => return None,
    };
    Some(r)
}

/// qs:src/PVE/API2/Qemu/Agent.pm `$guest_agent_commands` (9.x: `b92a40ce` "api: agent: use
/// more specific guest agent privileges"; 8.x: every command uses the default `VM.Monitor`).
fn agent_rule(path: String, command: &str, major: u32) -> Option<Rule> {
    if major < 9 {
        return Some(Rule::perm(path, &["VM.Monitor"]));
    }
    let privs: &'static [&'static str] = match command {
        "ping"
        | "get-time"
        | "info"
        | "network-get-interfaces"
        | "get-vcpus"
        | "get-fsinfo"
        | "get-memory-blocks"
        | "get-memory-block-info"
        | "get-host-name"
        | "get-osinfo"
        | "get-users"
        | "get-timezone" => &["VM.GuestAgent.Audit", "VM.GuestAgent.Unrestricted"],
        "fsfreeze-status" => &[
            "VM.GuestAgent.Audit",
            "VM.GuestAgent.FileSystemMgmt",
            "VM.GuestAgent.Unrestricted",
        ],
        "fsfreeze-freeze" | "fsfreeze-thaw" | "fstrim" => {
            &["VM.GuestAgent.FileSystemMgmt", "VM.GuestAgent.Unrestricted"]
        }
        "shutdown" | "suspend-disk" | "suspend-ram" | "suspend-hybrid" => {
            &["VM.PowerMgmt", "VM.GuestAgent.Unrestricted"]
        }
        _ => return None,
    };
    Some(Rule::any(path, privs))
}

/// pac:src/PVE/RPCEnvironment.pm `check_api2_permissions`: root@pam passes everything, `all`
/// needs a user, `perm` checks the filled path.
pub(crate) fn enforce(access: &Access, principal: Option<&str>, rule: &Rule) -> Result<(), Denied> {
    match (rule, principal) {
        (Rule::World, _) => Ok(()),
        (_, None) => Err(Denied::text("user != null")),
        (_, Some(ROOT)) | (Rule::All, Some(_)) => Ok(()),
        (Rule::Perm { path, privs, any }, Some(user)) => {
            if *any {
                access.check_any(user, path, privs)
            } else {
                access.check(user, path, privs)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AccessSpec, Account};
    use super::*;

    fn snapshot_user(major: u32, privs: &str) -> Access {
        let spec: AccessSpec = serde_json::from_value(serde_json::json!({
            "roles": [{"roleid": "R", "privs": privs}],
            "acl": [{"path": "/", "roles": "R", "users": "snap@pve"}]
        }))
        .unwrap();
        let accounts = [Account {
            userid: "snap@pve",
            tokens: vec![("t", false)],
        }];
        Access::new(major, &spec, &accounts).unwrap()
    }

    fn check(access: &Access, method: &str, path: &str, major: u32) -> Result<(), String> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let rule = rule(method, &segs, major).ok_or("no rule")?;
        enforce(access, Some("snap@pve!t"), &rule).map_err(|d| d.to_string())
    }

    #[test]
    fn power_actions_need_power_management_on_the_guest() {
        let a = snapshot_user(9, "VM.Audit");
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/status/suspend", 9),
            Err("Permission check failed (/vms/100, VM.PowerMgmt)".into())
        );
        assert_eq!(
            check(&a, "GET", "/nodes/pve1/lxc/200/status/current", 9),
            Ok(())
        );
        let a = snapshot_user(9, "VM.PowerMgmt");
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/lxc/200/status/shutdown", 9),
            Ok(())
        );
    }

    #[test]
    fn agent_privileges_follow_the_release() {
        let a = snapshot_user(8, "VM.Audit");
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/agent/fsfreeze-freeze", 8),
            Err("Permission check failed (/vms/100, VM.Monitor)".into())
        );
        let a = snapshot_user(8, "VM.Monitor");
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/agent/ping", 8),
            Ok(())
        );
        let a = snapshot_user(9, "VM.GuestAgent.Audit");
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/agent/ping", 9),
            Ok(())
        );
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/agent/fsfreeze-status", 9),
            Ok(())
        );
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/agent/fsfreeze-freeze", 9),
            Err("Permission check failed (/vms/100, VM.GuestAgent.FileSystemMgmt|VM.GuestAgent.Unrestricted)".into())
        );
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/agent", 9),
            Err("Permission check failed (/vms/100, VM.GuestAgent.Unrestricted|VM.GuestAgent.Unrestricted)".into())
        );
        let a = snapshot_user(9, "VM.GuestAgent.Unrestricted");
        assert_eq!(
            check(&a, "POST", "/nodes/pve1/qemu/100/agent/fsfreeze-thaw", 9),
            Ok(())
        );
    }

    #[test]
    fn storage_definitions_need_allocate_and_changes_check_the_storage_root() {
        let a = snapshot_user(9, "Datastore.Audit Datastore.AllocateSpace");
        assert_eq!(
            check(&a, "GET", "/storage/ONTAP01", 9),
            Err("Permission check failed (/storage/ONTAP01, Datastore.Allocate)".into())
        );
        assert_eq!(
            check(&a, "DELETE", "/storage/ONTAP01-CLONE", 9),
            Err("Permission check failed (/storage, Datastore.Allocate)".into())
        );
        assert_eq!(check(&a, "GET", "/storage", 9), Ok(()));
        assert_eq!(
            check(&a, "GET", "/nodes/pve1/storage/ONTAP01/status", 9),
            Ok(())
        );
        let a = snapshot_user(9, "VM.Audit");
        assert_eq!(
            check(&a, "GET", "/nodes/pve1/storage/ONTAP01/content", 9),
            Err("Permission check failed (/storage/ONTAP01, Datastore.Audit|Datastore.AllocateSpace)".into())
        );
        assert_eq!(
            check(&a, "GET", "/cluster/status", 9),
            Err("Permission check failed (/, Sys.Audit)".into())
        );
    }

    #[test]
    fn open_calls_need_no_user_and_root_passes_everything() {
        let a = snapshot_user(9, "VM.Audit");
        let r = rule("POST", &["access", "ticket"], 9).unwrap();
        assert_eq!(enforce(&a, None, &r), Ok(()));
        let r = rule("GET", &["version"], 9).unwrap();
        assert_eq!(
            enforce(&a, None, &r).unwrap_err().to_string(),
            "Permission check failed (user != null)"
        );
        let r = rule("DELETE", &["storage", "x"], 9).unwrap();
        assert_eq!(enforce(&a, Some("root@pam"), &r), Ok(()));
        assert_eq!(
            rule(
                "POST",
                &["nodes", "pve1", "qemu", "100", "agent", "exec"],
                9
            ),
            None
        );
    }
}
