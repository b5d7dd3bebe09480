//! Storage → volume resolution: Proxmox storage id → nfs server + export → SVM by data
//! LIF → volume by junction path on that SVM (export below a junction: volume + path prefix).

use std::net::{IpAddr, ToSocketAddrs};
use std::sync::Arc;

use crate::error::{Error, Result, ResultExt};
use crate::ontap::client::literal;
use crate::ontap::{Ontap, Svm, Volume};
use crate::ops::Backends;
use crate::pve::StorageConfig;

/// A Proxmox storage and the ONTAP volume behind it.
#[derive(Clone)]
pub struct Resolved {
    pub storage: StorageConfig,
    pub volume: Volume,
    /// Path of the export inside the volume, "" when the export is the junction itself,
    /// else e.g. `pve/images` (no leading or trailing slash).
    pub prefix: String,
    /// The ONTAP client for this storage's cluster.
    pub ontap: Arc<dyn Ontap>,
}

impl Resolved {
    /// A path relative to the export → the same path relative to the volume root.
    pub fn volume_path(&self, export_relative: &str) -> String {
        let rel = export_relative.trim_start_matches('/');
        if self.prefix.is_empty() {
            rel.to_string()
        } else {
            format!("{}/{rel}", self.prefix)
        }
    }

    /// The images directory of a guest relative to the volume root (honours `content-dirs images=`).
    pub fn images_dir(&self, vmid: u32) -> String {
        let dir = self
            .storage
            .content_dirs
            .as_deref()
            .and_then(|cd| {
                cd.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| k.trim() == "images")
                    .map(|(_, v)| v.trim().trim_matches('/').to_string())
            })
            .unwrap_or_else(|| "images".to_string());
        self.volume_path(&format!("{dir}/{vmid}"))
    }
}

/// Resolve a Proxmox storage id to its ONTAP volume. Errors name the storage and what did not match
/// (unknown storage, not `nfs`, no config section, no LIF, no volume at that junction).
///
/// Requests: `GET /storage/{id}` (Proxmox), the LIF lookup, and one volumes query by junction path
/// (a second one listing the SVM's volumes only when the export lies below a junction).
pub fn resolve(backends: &dyn Backends, storage_id: &str) -> Result<Resolved> {
    validate_storage_id(storage_id)?;
    let pve = backends.pve()?;
    let storage = pve
        .storage(storage_id)
        .map_err(|e| match e.root() {
            Error::NotFound { .. } => Error::NotFound {
                what: format!(
                    "storage '{storage_id}' in Proxmox VE (see `pvesm status` for the configured storages)"
                ),
            },
            _ => e,
        })
        .step_with(|| format!("look up storage '{storage_id}' in Proxmox VE"))?;
    if storage.storage_type != "nfs" {
        return Err(Error::Refused(format!(
            "storage '{storage_id}' is of type '{}'; only NFS storages exported by ONTAP are supported",
            storage.storage_type
        )));
    }
    let (server, export) = match (storage.server.clone(), storage.export.clone()) {
        (Some(server), Some(export)) if !server.is_empty() && export.starts_with('/') => {
            (server, export)
        }
        _ => {
            return Err(Error::Refused(format!(
                "nfs storage '{storage_id}' has no server or no absolute export path in Proxmox VE"
            )))
        }
    };
    let ontap = backends.ontap(storage_id)?;
    let step =
        || format!("find the ONTAP volume behind storage '{storage_id}' ({server}:{export})");

    let (volume, prefix) = match find_svm(ontap.as_ref(), storage_id, &server).step_with(step)? {
        Some(svm) => by_junction(ontap.as_ref(), storage_id, &svm, &export).step_with(step)?,
        None => (
            by_export_name(ontap.as_ref(), storage_id, &export).step_with(step)?,
            String::new(),
        ),
    };
    log::debug!(
        "storage '{storage_id}' ({server}:{export}) is volume '{}' on SVM '{}'{}",
        volume.name,
        volume.svm_name,
        if prefix.is_empty() {
            String::new()
        } else {
            format!(", directory '{prefix}'")
        }
    );
    Ok(Resolved {
        storage,
        volume,
        prefix,
        ontap,
    })
}

/// Proxmox's storage id rule (`pve-storage-id`): `^[a-z][a-z0-9\-_.]*[a-z0-9]$`, case-insensitive.
pub fn validate_storage_id(id: &str) -> Result<()> {
    let valid = crate::model::storage::valid_storage_id(id);
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "invalid storage id '{id}': a Proxmox storage id starts with a letter, ends with a letter \
             or digit, and contains only letters, digits, '-', '_' and '.'"
        )))
    }
}

/// The SVM that owns the NFS server's data LIF; None when the lookup is not permitted or finds
/// nothing (the caller then falls back to the original tool's rule, with a warning).
fn find_svm(ontap: &dyn Ontap, storage_id: &str, server: &str) -> Result<Option<Svm>> {
    let ips = match server_ips(server) {
        Ok(ips) => ips,
        Err(reason) => {
            warn_fallback(storage_id, &reason);
            return Ok(None);
        }
    };
    for ip in &ips {
        match ontap.svm_by_lif(ip) {
            Ok(Some(svm)) => {
                log::debug!(
                    "NFS server {server} ({ip}) is a data LIF of SVM '{}'",
                    svm.name
                );
                return Ok(Some(svm));
            }
            Ok(None) => {}
            Err(e) if e.api().is_some_and(|a| a.status == 403) => {
                warn_fallback(
                    storage_id,
                    &format!("the ONTAP account may not read network interfaces ({e})"),
                );
                return Ok(None);
            }
            Err(e) => return Err(e).step(format!("look up the SVM owning data LIF {ip}")),
        }
    }
    warn_fallback(
        storage_id,
        &format!(
            "no ONTAP data LIF has the address of NFS server '{server}' ({})",
            ips.join(", ")
        ),
    );
    Ok(None)
}

fn warn_fallback(storage_id: &str, reason: &str) {
    log::warn!(
        "storage '{storage_id}': cannot map the NFS server to an SVM: {reason}; falling back to the \
         original tool's rule (volume name = export path without slashes), which can pick the wrong \
         volume when several SVMs have one of that name"
    );
}

/// The server as IP addresses: itself when it is one, else its DNS addresses (in resolver order).
fn server_ips(server: &str) -> std::result::Result<Vec<String>, String> {
    let bare = server.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![ip.to_string()]);
    }
    let addrs = (bare, 0u16)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve NFS server '{server}': {e}"))?;
    let mut ips: Vec<String> = Vec::new();
    for a in addrs {
        let ip = a.ip().to_string();
        if !ips.contains(&ip) {
            ips.push(ip);
        }
    }
    if ips.is_empty() {
        return Err(format!("NFS server '{server}' resolves to no address"));
    }
    Ok(ips)
}

/// The volume on `svm` whose junction path is the longest prefix of `export`, and the rest of the
/// export below that junction.
fn by_junction(
    ontap: &dyn Ontap,
    storage_id: &str,
    svm: &Svm,
    export: &str,
) -> Result<(Volume, String)> {
    let export = normalize_path(export);
    let exact = ontap
        .volumes(&[
            ("svm.name", literal(&svm.name).as_str()),
            ("nas.path", literal(&export).as_str()),
        ])
        .step_with(|| {
            format!(
                "look up the volume with junction path '{export}' on SVM '{}'",
                svm.name
            )
        })?;
    if let Some(v) = exact.into_iter().find(|v| {
        v.nas_path
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(&export))
    }) {
        return check_volume(storage_id, svm, v, String::new());
    }
    // The export lies below a junction (a qtree or directory): longest junction prefix wins.
    let all = ontap
        .volumes(&[("svm.name", literal(&svm.name).as_str())])
        .step_with(|| format!("list the volumes of SVM '{}'", svm.name))?;
    let best = all
        .into_iter()
        .filter_map(|v| {
            let (depth, rest) = v.nas_path.as_deref().and_then(|p| path_below(p, &export))?;
            Some((depth, v, rest))
        })
        .max_by_key(|(depth, _, _)| *depth);
    match best {
        Some((_, v, rest)) => check_volume(storage_id, svm, v, rest),
        None => Err(Error::NotFound {
            what: format!(
                "a volume on SVM '{}' whose junction path contains export '{export}' of storage \
                 '{storage_id}' (check the export in Proxmox and `volume show -junction` on ONTAP)",
                svm.name
            ),
        }),
    }
}

fn check_volume(
    storage_id: &str,
    svm: &Svm,
    v: Volume,
    prefix: String,
) -> Result<(Volume, String)> {
    if v.nas_path.as_deref() == Some("/") {
        return Err(Error::Refused(format!(
            "the export of storage '{storage_id}' lies on the root volume '{}' of SVM '{}'; \
             snapshots of an SVM root volume are not supported, export a data volume instead",
            v.name, svm.name
        )));
    }
    Ok((v, prefix))
}

/// The original tool's rule: the volume named like the export without slashes.
fn by_export_name(ontap: &dyn Ontap, storage_id: &str, export: &str) -> Result<Volume> {
    let name: String = export.chars().filter(|&c| c != '/').collect();
    let mut found = ontap
        .volumes(&[("name", literal(&name).as_str())])
        .step_with(|| format!("look up volume '{name}'"))?;
    found.retain(|v| v.name == name);
    match found.len() {
        0 => Err(Error::NotFound {
            what: format!(
                "volume '{name}' (derived from export '{export}' of storage '{storage_id}' because \
                 the SVM could not be found by data LIF)"
            ),
        }),
        1 => {
            let v = found.remove(0);
            log::warn!(
                "storage '{storage_id}': using volume '{}' on SVM '{}' by name (fallback)",
                v.name,
                v.svm_name
            );
            Ok(v)
        }
        _ => Err(Error::Refused(format!(
            "volume name '{name}' (derived from export '{export}' of storage '{storage_id}') exists on \
             several SVMs ({}); allow the ONTAP account to read network interfaces so the SVM can be \
             found by the NFS server's data LIF",
            found
                .iter()
                .map(|v| v.svm_name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `/a//b/` → `/a/b`.
fn normalize_path(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

/// When `junction` is `path` or one of its ancestors (component-wise, case-insensitive like ONTAP
/// junction paths): the junction's depth in components and the rest of `path` below it, without
/// slashes at either end.
pub(crate) fn path_below(junction: &str, path: &str) -> Option<(usize, String)> {
    let j: Vec<&str> = junction.split('/').filter(|s| !s.is_empty()).collect();
    let p: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if j.len() > p.len() || !j.iter().zip(&p).all(|(a, b)| a.eq_ignore_ascii_case(b)) {
        return None;
    }
    Some((j.len(), p[j.len()..].join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::double::Double;

    #[test]
    fn export_equal_to_a_junction_resolves_with_one_volume_query() {
        let f = Double::new();
        let r = resolve(&f, "ONTAP01").unwrap();
        assert_eq!(r.volume.name, "ONTAP01");
        assert_eq!(r.volume.svm_name, "svm1");
        assert_eq!(r.prefix, "");
        assert_eq!(
            f.calls(),
            [
                "pve.storage ONTAP01",
                "ontap.svm_by_lif 127.0.10.1",
                "ontap.volumes svm.name=svm1&nas.path=/ONTAP01",
            ]
        );
    }

    #[test]
    fn same_junction_on_another_svm_is_not_taken() {
        // ONTAP02 exports /vmstore2 from svm1's LIF; svm2 also has a volume at /vmstore2, and
        // its name is what the original tool would have derived from the export.
        let f = Double::new();
        let r = resolve(&f, "ONTAP02").unwrap();
        assert_eq!(r.volume.name, "pve_vmstore2");
        assert_eq!(r.volume.svm_name, "svm1");
        assert_eq!(r.volume.uuid, "uuid-vmstore2-svm1");
    }

    #[test]
    fn export_below_a_junction_takes_the_longest_prefix() {
        let f = Double::new();
        let r = resolve(&f, "ONTAP03").unwrap();
        assert_eq!(r.volume.name, "pve_nested");
        assert_eq!(r.prefix, "pve");
        assert_eq!(r.images_dir(105), "pve/images/105");
        assert_eq!(f.calls_to("ontap.volumes").len(), 2);

        // A deeper junction inside the same path wins over its parent; the SVM root never does.
        {
            let mut w = f.world();
            let mut deeper = w.volumes[4].clone();
            deeper.name = "pve_nested_inner".into();
            deeper.uuid = "uuid-inner".into();
            deeper.nas_path = Some("/nested/pve/inner".into());
            w.volumes.push(deeper);
            w.storages[4].export = Some("/nested/pve/inner/sub/dir/".into());
        }
        let r = resolve(&f, "ONTAP03").unwrap();
        assert_eq!(r.volume.name, "pve_nested_inner");
        assert_eq!(r.prefix, "sub/dir");
    }

    #[test]
    fn junction_match_is_case_insensitive_and_component_wise() {
        assert_eq!(path_below("/ONTAP01", "/ontap01/x"), Some((1, "x".into())));
        assert_eq!(path_below("/ONTAP0", "/ONTAP01"), None);
        assert_eq!(path_below("/", "/a/b"), Some((0, "a/b".into())));
        assert_eq!(path_below("/a/b", "/a"), None);
    }

    #[test]
    fn export_only_on_the_svm_root_is_refused() {
        let f = Double::new();
        f.world().storages[2].export = Some("/not/a/junction".into());
        let e = resolve(&f, "ONTAP01").err().unwrap();
        assert!(e.to_string().contains("root volume 'svm1_root'"), "{e}");
    }

    #[test]
    fn no_junction_at_all_names_the_svm_and_export() {
        let f = Double::new();
        f.world()
            .volumes
            .retain(|v| v.nas_path.as_deref() != Some("/"));
        f.world().storages[2].export = Some("/missing".into());
        let e = resolve(&f, "ONTAP01").err().unwrap();
        let msg = e.to_string();
        assert!(
            msg.contains("SVM 'svm1'") && msg.contains("'/missing'"),
            "{msg}"
        );
        assert!(msg.contains("storage 'ONTAP01'"), "{msg}");
    }

    #[test]
    fn invalid_storage_ids_are_usage_errors_without_any_request() {
        let f = Double::new();
        for bad in [
            "", "a", "1abc", "ab-", "a b", "x/y", "ONTAP01;", "-ab", "ab_", "a:b",
        ] {
            let e = resolve(&f, bad).err().unwrap();
            assert_eq!(e.exit_code(), 2, "{bad:?}");
            assert!(e.to_string().contains("invalid storage id"), "{e}");
        }
        assert!(f.calls().is_empty());
        for good in ["ONTAP01", "ab", "a-b.c_d9", "Nfs.Store-1"] {
            validate_storage_id(good).unwrap();
        }
    }

    #[test]
    fn unknown_storage_is_not_found_naming_it() {
        let f = Double::new();
        let e = resolve(&f, "NOPE").err().unwrap();
        assert!(matches!(e.root(), Error::NotFound { .. }));
        assert!(e.to_string().contains("storage 'NOPE'"), "{e}");
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn non_nfs_storages_are_refused_naming_the_type() {
        let f = Double::new();
        for (id, t) in [("local", "dir"), ("local-lvm", "lvmthin")] {
            let e = resolve(&f, id).err().unwrap();
            let msg = e.to_string();
            assert!(msg.contains(&format!("type '{t}'")), "{msg}");
            assert!(msg.contains("only NFS storages"), "{msg}");
        }
        assert!(f.calls_to("ontap.").is_empty());
    }

    #[test]
    fn missing_config_section_is_the_config_error() {
        let f = Double::new();
        f.world().sections = Some(vec!["ONTAP01".into()]);
        let e = resolve(&f, "ONTAP02").err().unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("[ONTAP02]"), "{e}");
    }

    #[test]
    fn forbidden_lif_lookup_falls_back_to_the_export_name() {
        let f = Double::new();
        f.world().lif_forbidden = true;
        let r = resolve(&f, "ONTAP01").unwrap();
        assert_eq!(r.volume.name, "ONTAP01");
        assert_eq!(f.calls_to("ontap.volumes"), ["ontap.volumes name=ONTAP01"]);
        // The fallback is the original's rule, with the original's weakness: ONTAP02 lands on
        // svm2's `vmstore2` (this is why it is only a fallback).
        let r = resolve(&f, "ONTAP02").unwrap();
        assert_eq!(
            (r.volume.name.as_str(), r.volume.svm_name.as_str()),
            ("vmstore2", "svm2")
        );
    }

    #[test]
    fn unknown_lif_falls_back_and_ambiguous_names_are_refused() {
        let f = Double::new();
        f.world().storages[2].server = Some("127.0.99.9".into());
        let r = resolve(&f, "ONTAP01").unwrap();
        assert_eq!(r.volume.name, "ONTAP01");
        let mut dup = f.world().volumes[1].clone();
        dup.svm_name = "svm2".into();
        dup.uuid = "uuid-dup".into();
        f.world().volumes.push(dup);
        let e = resolve(&f, "ONTAP01").err().unwrap();
        assert!(e.to_string().contains("several SVMs (svm1, svm2)"), "{e}");
    }

    #[test]
    fn other_lif_lookup_errors_are_not_hidden() {
        let f = Double::new();
        f.fail_next("ontap.svm_by_lif", 500, Some("65541"), "RPC error");
        let e = resolve(&f, "ONTAP01").err().unwrap();
        let msg = e.to_string();
        assert!(
            msg.contains("RPC error") && msg.contains("127.0.10.1"),
            "{msg}"
        );
    }

    #[test]
    fn dns_names_are_resolved_before_the_lif_lookup() {
        let f = Double::new();
        {
            let mut w = f.world();
            let svm1 = w.lifs["127.0.10.1"].clone();
            w.lifs.insert("127.0.0.1".into(), svm1.clone());
            w.lifs.insert("::1".into(), svm1);
            w.storages[2].server = Some("localhost".into());
        }
        let r = resolve(&f, "ONTAP01").unwrap();
        assert_eq!(r.volume.svm_name, "svm1");
        let lookups = f.calls_to("ontap.svm_by_lif");
        assert!(
            lookups[0] == "ontap.svm_by_lif 127.0.0.1" || lookups[0] == "ontap.svm_by_lif ::1",
            "{lookups:?}"
        );
    }
}
