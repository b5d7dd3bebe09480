//! REST roles as `security login rest-role create` defines them: API path prefixes with an access
//! level, the most specific path deciding, plus the CLI command directories that authorise private
//! CLI calls; scenario checks that refuse what ONTAP would refuse to create.
//!
//! Sources (see sim/README.md for the guesses):
//! - access levels and their methods: ONTAP automation docs `rest/rbac_roles_users.adoc`; the
//!   `read_*` levels exist from 9.11.1 (command reference `security login rest-role create`,
//!   ontap-cli-9111 lists `{none|readonly|read_create|read_modify|read_create_modify|all}`,
//!   ontap-cli-9101 only `{none|readonly|all}`);
//! - most specific path wins: ONTAP 9.7 swagger, `/security/roles` overview ("In cases where a role
//!   has tuples with multiple APIs having the same prefix, the highest match wins out");
//! - resource-qualified paths (`/api/storage/volumes/{uuid}/snapshots`, `.../*/snapshots`) from
//!   9.10.1, `.../files` from 9.12.1 (command reference ontap-cli-9101, REST reference
//!   `ontap-restapi-9121` "security_roles_owner.uuid_name_privileges_path_endpoint_overview");
//! - private CLI paths in REST roles from 9.14.1 (command reference ontap-cli-9141: "This API can
//!   be a private CLI API or a resource-qualified endpoint"); before, CLI passthrough calls are
//!   authorised like the CLI command ("All CLI-based REST APIs are RBAC-controlled", 9.7 swagger
//!   "Using the private CLI passthrough"), by the command directories of the role
//!   (`security login role create -cmddirname`; "Specific command access or subdirectory access
//!   overrides parent directory access", docs authentication/define-custom-roles-task.adoc);
//! - SVM-scoped roles cannot hold cluster-only APIs (9.7 swagger "API restrictions").

use serde::{Deserialize, Serialize};

/// What a role allows on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    None,
    Readonly,
    ReadCreate,
    ReadModify,
    ReadCreateModify,
    All,
}

impl Access {
    /// Whether this level lets `method` through (HEAD and OPTIONS count as GET).
    pub fn allows(self, method: &str) -> bool {
        let m = match method {
            "HEAD" | "OPTIONS" => "GET",
            m => m,
        };
        match self {
            Access::None => false,
            Access::Readonly => m == "GET",
            Access::ReadCreate => matches!(m, "GET" | "POST"),
            Access::ReadModify => matches!(m, "GET" | "PATCH"),
            Access::ReadCreateModify => matches!(m, "GET" | "POST" | "PATCH"),
            Access::All => matches!(m, "GET" | "POST" | "PATCH" | "DELETE"),
        }
    }

    /// The levels that need ONTAP 9.11.1.
    fn needs_9_11(self) -> bool {
        matches!(
            self,
            Access::ReadCreate | Access::ReadModify | Access::ReadCreateModify
        )
    }
}

/// One `-api PATH -access LEVEL` tuple of a REST role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privilege {
    /// `/api/...`: an endpoint or a prefix of endpoints; `/api/storage/volumes/<uuid or *>/snapshots`
    /// and `.../files` are resource-qualified.
    pub path: String,
    pub access: Access,
}

/// One `-cmddirname "DIR" -access LEVEL` entry of the role's traditional (CLI) side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandAccess {
    /// A command or command directory (`volume recovery-queue`, `volume snapshot restore`).
    pub command: String,
    /// `none`, `readonly` (only `show` commands) or `all`.
    pub access: Access,
}

/// A REST role (`"rest_roles": [...]` in the scenario).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestRole {
    pub name: String,
    /// Owning SVM (`-vserver <svm>`); absent: a cluster role.
    #[serde(default)]
    pub svm: Option<String>,
    /// The `-api`/`-access` tuples.
    #[serde(default)]
    pub privileges: Vec<Privilege>,
    /// CLI command directories (what authorises private CLI calls before 9.14.1).
    #[serde(default)]
    pub commands: Vec<CommandAccess>,
}

/// The path segments after `api`, as the router sees them.
fn split(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).collect()
}

/// How well a privilege path matches a request: `None` when it does not; else the number of
/// segments, a concrete uuid ranking above `*`.
fn score(privilege: &[&str], request: &[&str]) -> Option<(usize, bool)> {
    if privilege.len() > request.len() {
        return None;
    }
    let mut wildcard = false;
    for (i, (p, r)) in privilege.iter().zip(request).enumerate() {
        let qualified = i == 3 && privilege.get(1) == Some(&"storage") && *p == "*";
        if qualified {
            wildcard = true;
        } else if p != r {
            return None;
        }
    }
    Some((privilege.len(), !wildcard))
}

/// The REST privilege of `role` that decides a request to `segments` (`api` first), if any.
pub fn rest_access(role: &RestRole, segments: &[&str]) -> Option<Access> {
    role.privileges
        .iter()
        .filter_map(|p| score(&split(&p.path), segments).map(|s| (s, p.access)))
        .max_by_key(|(s, _)| *s)
        .map(|(_, a)| a)
}

/// The command-directory decision for a private CLI call (`segments` = `api private cli ...`):
/// the longest command prefix decides; `readonly` lets only GET (`show`) through.
pub fn command_access(role: &RestRole, segments: &[&str]) -> Option<Access> {
    let words = segments.get(3..)?;
    role.commands
        .iter()
        .filter_map(|c| {
            let cmd: Vec<&str> = c.command.split_whitespace().collect();
            (cmd.len() <= words.len() && cmd[..] == words[..cmd.len()])
                .then_some((cmd.len(), c.access))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, a)| a)
}

/// Whether `role` lets `method` reach `segments` (`api` first) on release `version_at_least`.
pub fn permits(
    role: &RestRole,
    method: &str,
    segments: &[&str],
    version_at_least: &dyn Fn(u32, u32) -> bool,
) -> bool {
    let private_cli = matches!(segments, ["api", "private", "cli", ..]);
    let rest = rest_access(role, segments);
    if private_cli && !version_at_least(9, 14) {
        // Before 9.14.1 a REST role cannot name private CLI paths (refused by `validate`), and a
        // broader tuple such as `/api` does not reach them either: the command RBAC decides.
        return command_access(role, segments).is_some_and(|a| a.allows(method));
    }
    match rest {
        Some(a) => a.allows(method),
        None if private_cli => command_access(role, segments).is_some_and(|a| a.allows(method)),
        None => false,
    }
}

/// The APIs the simulator serves, as rest-role paths (a role path must be one of them or a prefix
/// of one: "Specified URI path is invalid or not supported", NetApp/harvest#2991).
const KNOWN: &[&str] = &[
    "/api/cluster",
    "/api/cluster/jobs",
    "/api/svm/svms",
    "/api/network/ip/interfaces",
    "/api/protocols/nfs/export-policies",
    "/api/storage/volumes",
    "/api/storage/file/clone",
    "/api/private/cli",
    "/api/private/cli/volume",
    "/api/private/cli/volume/snapshot",
    "/api/private/cli/volume/snapshot/restore",
    "/api/private/cli/volume/recovery-queue",
    "/api/private/cli/volume/recovery-queue/purge",
];

/// APIs an SVM-scoped role may not hold (9.7 swagger "API restrictions": cluster-only APIs such
/// as `/api/cluster/nodes`; of the simulated ones, the cluster itself; custom SVM roles cannot read
/// `/api/cluster`, netapp.ontap netapp.py `get_ontap_version_from_params`).
const CLUSTER_ONLY: &[&str] = &["/api/cluster"];

/// What ONTAP would refuse when the role is created on release `version_at_least` (messages name
/// the role and path).
pub fn validate(
    role: &RestRole,
    svms: &[&str],
    version_at_least: &dyn Fn(u32, u32) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let who = format!("rest role {}", role.name);
    if let Some(svm) = &role.svm {
        if !svms.contains(&svm.as_str()) {
            out.push(format!("{who} names unknown SVM {svm}"));
        }
    }
    for p in &role.privileges {
        let segs = split(&p.path);
        let qualified = matches!(
            segs.as_slice(),
            ["api", "storage", "volumes", _, "snapshots" | "files"]
        );
        let known = qualified
            || KNOWN
                .iter()
                .any(|k| *k == p.path || k.starts_with(&format!("{}/", p.path)));
        if !p.path.starts_with("/api") || !known {
            out.push(format!(
                "{who}: path {} is invalid or not supported (Specified URI path is invalid or not supported)",
                p.path
            ));
        }
        if qualified {
            let files = segs.get(4) == Some(&"files");
            let (major, release) = if files {
                (12, "9.12.1")
            } else {
                (10, "9.10.1")
            };
            if !version_at_least(9, major) {
                out.push(format!(
                    "{who}: resource-qualified path {} needs ONTAP {release}",
                    p.path
                ));
            }
        }
        if p.path.starts_with("/api/private/cli") && !version_at_least(9, 14) {
            out.push(format!(
                "{who}: private CLI path {} in a REST role needs ONTAP 9.14.1; grant the command \
                 directory instead (\"commands\")",
                p.path
            ));
        }
        if p.access.needs_9_11() && !version_at_least(9, 11) {
            out.push(format!(
                "{who}: access {:?} on {} needs ONTAP 9.11.1 (none, readonly or all before)",
                p.access, p.path
            ));
        }
        if role.svm.is_some() && CLUSTER_ONLY.contains(&p.path.as_str()) {
            out.push(format!(
                "{who}: {} is a cluster-only API and cannot be in an SVM-scoped role",
                p.path
            ));
        }
    }
    for c in &role.commands {
        if !matches!(c.access, Access::None | Access::Readonly | Access::All) {
            out.push(format!(
                "{who}: command access for \"{}\" must be none, readonly or all",
                c.command
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(privileges: &[(&str, Access)]) -> RestRole {
        RestRole {
            name: "r".into(),
            svm: None,
            privileges: privileges
                .iter()
                .map(|(p, a)| Privilege {
                    path: p.to_string(),
                    access: *a,
                })
                .collect(),
            commands: vec![],
        }
    }

    fn segs(p: &str) -> Vec<&str> {
        split(p)
    }

    #[test]
    fn the_longest_prefix_decides() {
        // The 9.7 swagger's example: readonly on /api/cluster, all on /api/cluster/schedules.
        let r = role(&[
            ("/api/cluster", Access::Readonly),
            ("/api/cluster/jobs", Access::All),
        ]);
        let new = |_: u32, _: u32| true;
        assert!(permits(&r, "GET", &segs("/api/cluster"), &new));
        assert!(!permits(&r, "PATCH", &segs("/api/cluster"), &new));
        assert!(permits(&r, "DELETE", &segs("/api/cluster/jobs/x"), &new));
        assert!(!permits(&r, "GET", &segs("/api/storage/volumes"), &new));
        // A prefix is whole segments: /api/cluster does not cover /api/clusterx.
        assert_eq!(rest_access(&r, &segs("/api/clusterx")), None);
    }

    #[test]
    fn access_levels_map_to_methods() {
        use Access::*;
        let table = [
            (None, ""),
            (Readonly, "GET"),
            (ReadCreate, "GET POST"),
            (ReadModify, "GET PATCH"),
            (ReadCreateModify, "GET POST PATCH"),
            (All, "GET POST PATCH DELETE"),
        ];
        for (a, allowed) in table {
            for m in ["GET", "POST", "PATCH", "DELETE"] {
                assert_eq!(a.allows(m), allowed.split(' ').any(|x| x == m), "{a:?} {m}");
            }
            assert_eq!(a.allows("HEAD"), a.allows("GET"));
        }
    }

    #[test]
    fn resource_qualified_paths_beat_the_volume_prefix() {
        let r = role(&[
            ("/api/storage/volumes", Access::Readonly),
            ("/api/storage/volumes/*/snapshots", Access::ReadCreate),
            ("/api/storage/volumes/v1/snapshots", Access::All),
        ]);
        let new = |_: u32, _: u32| true;
        assert!(permits(
            &r,
            "POST",
            &segs("/api/storage/volumes/v2/snapshots"),
            &new
        ));
        assert!(!permits(
            &r,
            "DELETE",
            &segs("/api/storage/volumes/v2/snapshots/s"),
            &new
        ));
        assert!(permits(
            &r,
            "DELETE",
            &segs("/api/storage/volumes/v1/snapshots/s"),
            &new
        ));
        assert!(!permits(
            &r,
            "PATCH",
            &segs("/api/storage/volumes/v2"),
            &new
        ));
    }

    #[test]
    fn private_cli_before_9_14_goes_by_command_directories() {
        let mut r = role(&[("/api", Access::All)]);
        let old = |g: u32, m: u32| (g, m) <= (9, 13);
        let purge = segs("/api/private/cli/volume/recovery-queue/purge");
        assert!(!permits(&r, "POST", &purge, &old));
        r.commands.push(CommandAccess {
            command: "volume recovery-queue".into(),
            access: Access::All,
        });
        assert!(permits(&r, "POST", &purge, &old));
        r.commands.push(CommandAccess {
            command: "volume recovery-queue purge".into(),
            access: Access::Readonly,
        });
        assert!(!permits(&r, "POST", &purge, &old));
        assert!(permits(
            &r,
            "GET",
            &segs("/api/private/cli/volume/recovery-queue"),
            &old
        ));
    }

    #[test]
    fn creation_rules_follow_the_release() {
        let r = role(&[
            ("/api/storage/volumes/*/snapshots", Access::ReadCreate),
            ("/api/private/cli/volume/recovery-queue", Access::All),
            ("/api/storage/volumes/*/files", Access::Readonly),
            ("/api/protocols/s3/buckets", Access::Readonly),
        ]);
        let v = |maj: u32| move |g: u32, m: u32| (g, m) <= (9, maj);
        let problems = validate(&r, &[], &v(9));
        let text = problems.join("\n");
        for needle in [
            "needs ONTAP 9.10.1",
            "needs ONTAP 9.14.1",
            "needs ONTAP 9.12.1",
            "needs ONTAP 9.11.1",
            "s3/buckets is invalid",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        let problems = validate(&r, &[], &v(14));
        assert_eq!(problems.len(), 1, "{problems:?}");
        let mut svm_role = role(&[("/api/cluster", Access::Readonly)]);
        svm_role.svm = Some("svm1".into());
        assert!(validate(&svm_role, &["svm1"], &v(14))[0].contains("cluster-only"));
    }
}
