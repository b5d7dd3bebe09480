//! From INI sections to one validated `Config`, in phases: sort the sections and check their keys,
//! pick the Proxmox section, then build the Proxmox login, the tool paths, the storages and the policy.

use std::collections::BTreeMap;
use std::path::Path;

use super::endpoint::{build_proxmox, ONTAP_DEFAULT_PORT};
use super::ini::{config_error, raw_section, IniEntry, IniSection, RawSection};
use super::policy::Policy;
use super::settings::Config;
use super::values::{closest, Values};
use crate::error::Result;
use crate::model::capacity::{Capacity, KEYS as CAPACITY_KEYS};
use crate::model::storage::valid_storage_id;
use crate::ontap;
use crate::secret::Secret;
use crate::sys::paths::Paths;

/// Keys of the Proxmox section (`[DEFAULT]` or `[proxmox]`).
const PROXMOX_KEYS: &[&str] = &[
    "proxmox_host",
    "proxmox_user",
    "proxmox_pass",
    "proxmox_token",
    "proxmox_verify",
    "proxmox_fingerprint",
    "proxmox_ca",
    "proxmox_connect_timeout",
    "proxmox_timeout",
];
/// Keys of earlier versions that named programs to run and lock or marker locations. The config is
/// shared by every node and read by root from Proxmox's hooks: one edit of it must not be able to
/// run another program or move the locks; the tool uses Proxmox's fixed paths.
const REMOVED_KEYS: &[&str] = &[
    "lock_dir",
    "cluster_lock_dir",
    "qm_path",
    "pct_path",
    "pve_node_marker",
    "qemu_config_lock_dir",
    "lxc_config_lock_dir",
];
/// Keys of a storage section. In `[DEFAULT]` they are defaults for every storage section, as
/// Python's configparser (which read the original's files) treats `[DEFAULT]`.
const ONTAP_KEYS: &[&str] = &[
    "host",
    "user",
    "pass",
    "verify",
    "fingerprint",
    "ca",
    "connect_timeout",
    "timeout",
    "snapshot_count_warn",
    "snapshot_count_max",
    "space_used_warn",
    "space_used_max",
];

/// What a section header means.
pub(super) enum SectionKind {
    /// `[DEFAULT]`: Proxmox settings, tool settings, defaults for storage sections.
    Default,
    /// `[proxmox]`: Proxmox settings and tool settings.
    Proxmox,
    /// `hook`, `vzdump`, or a name with `:` or `.` (never a storage id we manage).
    Policy,
    /// A Proxmox storage id.
    Storage,
}

pub(super) fn section_kind(name: &str) -> SectionKind {
    match name {
        "DEFAULT" => SectionKind::Default,
        "proxmox" => SectionKind::Proxmox,
        "hook" | "vzdump" => SectionKind::Policy,
        _ if name.contains(':') || name.contains('.') => SectionKind::Policy,
        _ => SectionKind::Storage,
    }
}

/// The sections of a file by what they hold.
struct Sorted<'a> {
    default: Option<&'a IniSection>,
    proxmox: Option<&'a IniSection>,
    storages: Vec<&'a IniSection>,
    policy: Vec<RawSection>,
}

pub(super) fn build(file: &Path, sections: Vec<IniSection>) -> Result<Config> {
    if sections.is_empty() {
        return Err(config_error(
            file,
            None,
            None,
            "has no settings (only comments?); fill in [proxmox] (or [DEFAULT]) and one section \
             per Proxmox storage",
        ));
    }
    let sorted = sort_sections(file, &sections)?;
    let pve_section = proxmox_section(file, sorted.default, sorted.proxmox)?;
    let pve_values = Values {
        file,
        section: &pve_section.name,
        own: &pve_section.entries,
        defaults: &[],
    };
    let proxmox = build_proxmox(&pve_values)?;
    let paths = Paths::detect()?;
    let (storages, capacity) = build_storages(file, &sorted.storages, sorted.default)?;
    let policy = Policy::from_sections(sorted.policy)?;
    Ok(Config {
        file: file.to_path_buf(),
        proxmox,
        storages,
        policy,
        paths,
        capacity,
    })
}

/// Phase 1: sort the sections by kind and refuse keys that do not belong in their section.
fn sort_sections<'a>(file: &Path, sections: &'a [IniSection]) -> Result<Sorted<'a>> {
    let mut sorted = Sorted {
        default: None,
        proxmox: None,
        storages: Vec::new(),
        policy: Vec::new(),
    };
    for section in sections {
        let (allowed, hint): (Vec<&str>, &str) = match section_kind(&section.name) {
            SectionKind::Default => {
                sorted.default = Some(section);
                let keys = [PROXMOX_KEYS, ONTAP_KEYS].concat();
                (keys, "")
            }
            SectionKind::Proxmox => {
                sorted.proxmox = Some(section);
                (
                    PROXMOX_KEYS.to_vec(),
                    "; ONTAP settings belong in a section named after the Proxmox storage",
                )
            }
            SectionKind::Storage => {
                if !valid_storage_id(&section.name) {
                    return Err(config_error(
                        file,
                        Some(&section.name),
                        None,
                        format!(
                            "line {}: not a valid Proxmox storage id (a letter first, then letters, \
                             digits, '-' or '_', at least 2 characters)",
                            section.line
                        ),
                    ));
                }
                sorted.storages.push(section);
                (
                    ONTAP_KEYS.to_vec(),
                    "; Proxmox settings belong in [DEFAULT] or [proxmox]",
                )
            }
            SectionKind::Policy => {
                sorted.policy.push(raw_section(file, section));
                continue;
            }
        };
        check_keys(file, section, &allowed, hint)?;
    }
    Ok(sorted)
}

/// Every key of `section` must be in `allowed`; a misplaced known key gets `hint`, a typo a suggestion.
fn check_keys(file: &Path, section: &IniSection, allowed: &[&str], hint: &str) -> Result<()> {
    for entry in &section.entries {
        if allowed.contains(&entry.key.as_str()) {
            continue;
        }
        if REMOVED_KEYS.contains(&entry.key.as_str()) {
            return Err(config_error(
                file,
                Some(&section.name),
                Some(&entry.key),
                format!(
                    "line {}: no longer a config key: the config is shared by every node and read \
                     by root, so it names no program to run and no lock location (the tool uses \
                     Proxmox's fixed paths); remove the line",
                    entry.line
                ),
            ));
        }
        let mut message = format!("line {}: unknown key", entry.line);
        if let Some(close) = closest(&entry.key, allowed) {
            message.push_str(&format!(" (did you mean '{close}'?)"));
        }
        let misplaced = [PROXMOX_KEYS, ONTAP_KEYS]
            .iter()
            .any(|keys| keys.contains(&entry.key.as_str()));
        if misplaced {
            message.push_str(hint);
        } else {
            message.push_str(&format!("; allowed here: {}", allowed.join(", ")));
        }
        return Err(config_error(
            file,
            Some(&section.name),
            Some(&entry.key),
            message,
        ));
    }
    Ok(())
}

/// Phase 2: the one section holding the Proxmox settings, `[DEFAULT]` or `[proxmox]`.
fn proxmox_section<'a>(
    file: &Path,
    default: Option<&'a IniSection>,
    proxmox: Option<&'a IniSection>,
) -> Result<&'a IniSection> {
    let holds_proxmox = |s: &&IniSection| {
        s.entries
            .iter()
            .any(|e| PROXMOX_KEYS.contains(&e.key.as_str()))
    };
    match (default.filter(holds_proxmox), proxmox.filter(holds_proxmox)) {
        (Some(d), Some(p)) => Err(config_error(
            file,
            Some("proxmox"),
            None,
            format!(
                "Proxmox settings are in both [DEFAULT] (line {}) and [proxmox] (line {}); \
                 keep them in one of the two",
                d.line, p.line
            ),
        )),
        (Some(d), None) => Ok(d),
        (None, Some(p)) => Ok(p),
        (None, None) => Err(config_error(
            file,
            proxmox.map(|_| "proxmox"),
            Some("proxmox_host"),
            "missing; put proxmox_host and proxmox_user + proxmox_pass (or proxmox_token) \
             in [DEFAULT] or [proxmox]",
        )),
    }
}

/// Each storage section's ONTAP cluster and capacity thresholds.
type Storages = (
    BTreeMap<String, ontap::Connection>,
    BTreeMap<String, Capacity>,
);

/// Phase 3: each storage section's ONTAP cluster and capacity guard, `[DEFAULT]`'s ONTAP keys
/// filling the gaps.
fn build_storages(
    file: &Path,
    storages: &[&IniSection],
    default: Option<&IniSection>,
) -> Result<Storages> {
    let defaults: Vec<IniEntry> = default
        .map(|d| {
            d.entries
                .iter()
                .filter(|e| ONTAP_KEYS.contains(&e.key.as_str()))
                .map(|e| IniEntry {
                    key: e.key.clone(),
                    value: e.value.clone(),
                    line: e.line,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ontap = BTreeMap::new();
    let mut capacity = BTreeMap::new();
    for section in storages {
        let values = Values {
            file,
            section: &section.name,
            own: &section.entries,
            defaults: &defaults,
        };
        let endpoint = values.endpoint(
            "",
            ONTAP_DEFAULT_PORT,
            "the ONTAP cluster management address",
        )?;
        let user = values.required("user", "the ONTAP user name")?.to_string();
        let password = Secret::new(values.required("pass", "the ONTAP password")?);
        ontap.insert(
            section.name.clone(),
            ontap::Connection {
                endpoint,
                user,
                password,
            },
        );
        capacity.insert(section.name.clone(), build_capacity(&values)?);
    }
    Ok((ontap, capacity))
}

/// The capacity guard's thresholds (`snapshot_count_warn`, ...), defaults where not set.
fn build_capacity(values: &Values) -> Result<Capacity> {
    let mut c = Capacity::default();
    let fields: [(&str, &mut u64); 4] = [
        (CAPACITY_KEYS[0], &mut c.count_warn),
        (CAPACITY_KEYS[1], &mut c.count_max),
        (CAPACITY_KEYS[2], &mut c.used_warn),
        (CAPACITY_KEYS[3], &mut c.used_max),
    ];
    for (key, field) in fields {
        if let Some(v) = values.non_empty(key)? {
            *field = v
                .trim()
                .parse()
                .map_err(|_| values.error(key, format!("'{v}' is not a whole number")))?;
        }
    }
    c.validate().map_err(|(key, why)| values.error(key, why))?;
    Ok(c)
}
