//! Proxmox VE permission errors: the missing privilege and ACL path read from a 403's status line
//! (`Permission check failed (/vms/100, VM.PowerMgmt)`), and which configured account lacks it.

use super::connection::Login as PveAuth;
use crate::error::{ApiError, Error};

/// What a failed check names: the ACL path and the privileges (several: any one would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Missing {
    pub path: String,
    pub privileges: Vec<String>,
}

/// The check a 403 message names. `raise_perm_exc("$path, $priv")` (pve-access-control
/// `src/PVE/RPCEnvironment.pm` `check`) or `"$path, a|b"` (`check_any`); None for a bare
/// `Permission check failed` or a free text such as `user != root@pam`.
pub(crate) fn parse(message: &str) -> Option<Missing> {
    let start = message.find("Permission check failed (")? + "Permission check failed (".len();
    let inner = &message[start..];
    let inner = &inner[..inner.find(')')?];
    let (path, privs) = inner.split_once(", ")?;
    if !path.starts_with('/') {
        return None;
    }
    let mut privileges: Vec<String> = Vec::new();
    for p in privs.split('|').map(str::trim) {
        let valid = !p.is_empty()
            && p.contains('.')
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !valid {
            return None;
        }
        // Proxmox lists a privilege twice for some checks (the agent's generic command).
        if !privileges.iter().any(|q| q == p) {
            privileges.push(p.to_string());
        }
    }
    Some(Missing {
        path: path.to_string(),
        privileges,
    })
}

/// A guest missing from `/cluster/resources`: Proxmox VE lists a guest only to accounts with
/// VM.Audit on it (pve-manager `PVE/API2/Cluster.pm` `resources`), so say so.
pub fn unlisted_guest(vmid: u32) -> Error {
    Error::Step {
        step: format!(
            "look up guest {vmid} (Proxmox VE lists a guest only to accounts with VM.Audit on \
             /vms/{vmid})"
        ),
        cause: Box::new(Error::NotFound {
            what: format!("guest {vmid}"),
        }),
    }
}

/// Who the tool talks to Proxmox as, in the words of the config file.
fn account(auth: &PveAuth) -> String {
    match auth {
        PveAuth::Token { token_id, .. } => format!("the API token '{token_id}' (proxmox_token)"),
        PveAuth::Password { user, .. } => format!("the user '{user}' (proxmox_user)"),
    }
}

/// `pveum acl modify` target of the account: a token's ACLs apply only with privilege separation,
/// so the user is the one to grant to in either case.
fn grantee(auth: &PveAuth) -> String {
    match auth {
        PveAuth::Token { token_id, .. } => {
            let user = token_id
                .split_once('!')
                .map_or(token_id.as_str(), |(u, _)| u);
            format!("--users {user}")
        }
        PveAuth::Password { user, .. } => format!("--users {user}"),
    }
}

/// Extend a Proxmox 403's message with what is missing, where, for which configured account and
/// how to grant it. Other errors are left as they are.
pub(crate) fn explain(error: &mut ApiError, auth: &PveAuth) {
    if error.status != 403 {
        return;
    }
    let who = account(auth);
    let addition = match parse(&error.message) {
        Some(missing) => {
            let what = match missing.privileges.as_slice() {
                [one] => one.clone(),
                [first, rest @ ..] => format!("{first} (or {})", rest.join(" or ")),
                [] => String::new(),
            };
            let privs = missing.privileges.join(" ");
            let token_note = match auth {
                PveAuth::Token { .. } => {
                    " (a token with privilege separation needs the same ACL for itself, --tokens)"
                }
                PveAuth::Password { .. } => "",
            };
            format!(
                "{who} lacks {what} on {path}; grant it with a role that has it, e.g. `pveum role \
                 modify <role> --append 1 --privs \"{privs}\"` or `pveum acl modify {path} {grantee} \
                 --roles <role>`{token_note}",
                path = missing.path,
                grantee = grantee(auth),
            )
        }
        None => format!("{who} lacks a privilege Proxmox VE did not name"),
    };
    error.message = format!("{}: {addition}", error.message);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Api;
    use crate::secret::Secret;

    fn token() -> PveAuth {
        PveAuth::Token {
            token_id: "snapshot@pve!ontap".into(),
            secret: Secret::new("s3cret-value".to_string()),
        }
    }

    fn forbidden(message: &str) -> ApiError {
        ApiError {
            api: Api::Proxmox,
            method: "POST".into(),
            path: "/api2/json/nodes/pve1/qemu/100/status/suspend".into(),
            status: 403,
            code: None,
            message: message.into(),
            target: None,
        }
    }

    #[test]
    fn status_lines_name_path_and_privileges() {
        assert_eq!(
            parse("Permission check failed (/vms/100, VM.PowerMgmt)"),
            Some(Missing {
                path: "/vms/100".into(),
                privileges: vec!["VM.PowerMgmt".into()],
            })
        );
        assert_eq!(
            parse("Permission check failed (/vms/100, VM.GuestAgent.Unrestricted|VM.GuestAgent.Unrestricted)")
                .unwrap()
                .privileges,
            ["VM.GuestAgent.Unrestricted"]
        );
        assert_eq!(
            parse("Permission check failed (/storage/ONTAP01, Datastore.Audit|Datastore.AllocateSpace)")
                .unwrap()
                .privileges,
            ["Datastore.Audit", "Datastore.AllocateSpace"]
        );
        assert_eq!(parse("Permission check failed"), None);
        assert_eq!(parse("Permission check failed (user != root@pam)"), None);
        assert_eq!(
            parse("Permission check failed (pool 'x' does not exist)"),
            None
        );
        assert_eq!(parse("VM 100 not running"), None);
    }

    #[test]
    fn a_403_names_the_account_privilege_and_path_without_the_secret() {
        let mut e = forbidden("Permission check failed (/vms/100, VM.PowerMgmt)");
        explain(&mut e, &token());
        assert!(e.message.starts_with("Permission check failed (/vms/100, VM.PowerMgmt): the API token 'snapshot@pve!ontap' (proxmox_token) lacks VM.PowerMgmt on /vms/100"), "{}", e.message);
        assert!(
            e.message
                .contains("pveum acl modify /vms/100 --users snapshot@pve"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("s3cret"), "{}", e.message);
        let mut e = forbidden(
            "Permission check failed (/vms/100, VM.GuestAgent.FileSystemMgmt|VM.GuestAgent.Unrestricted)",
        );
        let user = PveAuth::Password {
            user: "snapshot@pve".into(),
            password: Secret::new("pw".to_string()),
        };
        explain(&mut e, &user);
        assert!(e.message.contains("the user 'snapshot@pve' (proxmox_user) lacks VM.GuestAgent.FileSystemMgmt (or VM.GuestAgent.Unrestricted) on /vms/100"), "{}", e.message);
        let mut e = forbidden("Permission check failed");
        explain(&mut e, &token());
        assert_eq!(
            e.message,
            "Permission check failed: the API token 'snapshot@pve!ontap' (proxmox_token) lacks a privilege Proxmox VE did not name"
        );
        let mut e = forbidden("VM 100 not running");
        e.status = 500;
        explain(&mut e, &token());
        assert_eq!(e.message, "VM 100 not running");
    }
}
