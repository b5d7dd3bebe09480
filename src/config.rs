//! The configuration: INI (both layouts of the original) parsed strictly into one validated `Config`.
//! Nothing after `Config::load` reads raw INI strings; secrets are `Secret`s from the start.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::hook::policy::Policy;
use crate::http::{Endpoint, Timeouts, TlsMode};
use crate::secret::Secret;

/// How the tool logs in to Proxmox VE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PveAuth {
    /// `proxmox_user` + `proxmox_pass`: ticket + CSRF token.
    Password { user: String, password: Secret },
    /// `proxmox_token = USER@REALM!ID=SECRET`: `Authorization: PVEAPIToken=...`.
    Token { token_id: String, secret: Secret },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxmoxConfig {
    pub endpoint: Endpoint,
    pub auth: PveAuth,
}

/// One storage section: the ONTAP cluster that exports this Proxmox storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OntapConfig {
    /// The section name (a Proxmox storage id).
    pub storage: String,
    pub endpoint: Endpoint,
    pub user: String,
    pub password: Secret,
}

/// Where the tool keeps locks and finds Proxmox commands (overridable for tests and odd setups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub lock_dir: PathBuf,
    pub cluster_lock_dir: PathBuf,
    pub qm: PathBuf,
    pub pct: PathBuf,
    /// Exists only on a Proxmox node; decides whether `qm rescan` is run.
    pub pve_node_marker: PathBuf,
    /// Directory of the QEMU config flocks (`lock-<vmid>.conf`).
    pub qemu_config_lock_dir: PathBuf,
    /// Directory of the LXC config flocks (`pve-config-<vmid>.lock`).
    pub lxc_config_lock_dir: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        use crate::paths::*;
        Paths {
            lock_dir: LOCK_DIR.into(),
            cluster_lock_dir: CLUSTER_LOCK_DIR.into(),
            qm: QM.into(),
            pct: PCT.into(),
            pve_node_marker: PVE_NODE_MARKER.into(),
            qemu_config_lock_dir: QEMU_CONFIG_LOCK_DIR.into(),
            lxc_config_lock_dir: LXC_CONFIG_LOCK_DIR.into(),
        }
    }
}

/// A policy section as read from the file, handed to `hook::policy` for validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSection {
    pub file: PathBuf,
    /// e.g. `hook`, `hook:100`, `vzdump`, `schedule:nightly`.
    pub name: String,
    /// Keys and values in file order, values taken literally.
    pub entries: Vec<(String, String)>,
}

impl RawSection {
    /// A config error naming this file and section (and a key, if given).
    pub fn error(&self, key: Option<&str>, message: impl Into<String>) -> Error {
        Error::Config {
            file: self.file.clone(),
            section: Some(self.name.clone()),
            key: key.map(str::to_string),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this came from (for messages).
    pub file: PathBuf,
    pub proxmox: ProxmoxConfig,
    /// Storage id (as written in the section header) → its ONTAP cluster.
    pub storages: BTreeMap<String, OntapConfig>,
    pub policy: Policy,
    pub paths: Paths,
}

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
/// Tool settings, allowed next to the Proxmox keys.
const TOOL_KEYS: &[&str] = &[
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
];

const PVE_DEFAULT_PORT: u16 = 8006;
const ONTAP_DEFAULT_PORT: u16 = 443;

impl Config {
    /// Find the config file (`explicit` = `--config`, then `$PVE_ONTAP_SNAPSHOT_CONFIG`, then the
    /// fixed places of `paths::CONFIG_SEARCH`), check its permissions and parse it.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let file = Config::locate(explicit)?;
        Config::read(&file).map_err(|e| {
            let searched = explicit.is_none()
                && std::env::var_os(crate::paths::CONFIG_ENV).is_none_or(|v| v.is_empty());
            if !searched {
                return e;
            }
            let search: Vec<&Path> = crate::paths::CONFIG_SEARCH.iter().map(Path::new).collect();
            mention_later_candidates(e, &file, &search)
        })
    }

    /// Which file `load` would read. An explicit file or the environment variable must exist;
    /// the fixed places are tried in order. The error names every place searched.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
        let env = std::env::var_os(crate::paths::CONFIG_ENV);
        let search: Vec<&Path> = crate::paths::CONFIG_SEARCH.iter().map(Path::new).collect();
        locate_in(explicit, env, &search)
    }

    /// Read and parse one file; refuses a file that group or others may read or write.
    pub fn read(file: &Path) -> Result<Config> {
        let text = read_private_file(file)?;
        Config::parse(file, &text)
    }

    /// Parse the text of a config file (`file` is used for messages and relative paths only).
    pub fn parse(file: &Path, text: &str) -> Result<Config> {
        let sections = parse_ini(file, text)?;
        build(file, sections)
    }

    /// The ONTAP cluster of a Proxmox storage: its own section, else for a clone storage
    /// `X-CLONE` / `X-CLONE-N` (as `storage mount` names them) the section of `X`.
    pub fn ontap_for(&self, storage: &str) -> Result<&OntapConfig> {
        let mut name = storage;
        loop {
            if let Some(ontap) = self.storages.get(name) {
                return Ok(ontap);
            }
            match clone_parent(name) {
                Some(parent) => name = parent,
                None => break,
            }
        }
        let mut sections = format!("[{storage}]");
        let mut name = storage;
        while let Some(parent) = clone_parent(name) {
            sections.push_str(&format!(" or [{parent}]"));
            name = parent;
        }
        Err(Error::Config {
            file: self.file.clone(),
            section: Some(storage.to_string()),
            key: None,
            message: format!(
                "no section for storage '{storage}': add {sections} with host, user and pass of \
                 the ONTAP cluster that exports it"
            ),
        })
    }
}

/// `X-CLONE` → `X`, `X-CLONE-3` → `X`; None for any other name.
fn clone_parent(storage: &str) -> Option<&str> {
    if let Some(parent) = storage.strip_suffix("-CLONE") {
        return (!parent.is_empty()).then_some(parent);
    }
    let (head, n) = storage.rsplit_once('-')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parent = head.strip_suffix("-CLONE")?;
    (!parent.is_empty()).then_some(parent)
}

/// A Proxmox storage id: `^[a-z][a-z0-9\-_.]*[a-z0-9]$`, case-insensitive (`pve-storage-id`).
pub fn valid_storage_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn locate_in(explicit: Option<&Path>, env: Option<OsString>, search: &[&Path]) -> Result<PathBuf> {
    if let Some(file) = explicit {
        return existing(file, "given with --config").map(|()| file.to_path_buf());
    }
    if let Some(file) = env.filter(|v| !v.is_empty()) {
        let file = PathBuf::from(file);
        let origin = format!("named by ${}", crate::paths::CONFIG_ENV);
        return existing(&file, &origin).map(|()| file);
    }
    for file in search {
        match std::fs::metadata(file) {
            Ok(_) => return Ok(file.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(config_error(
                    file,
                    None,
                    None,
                    format!("unable to access (run as root?): {e}"),
                ))
            }
        }
    }
    let searched: Vec<String> = search.iter().map(|p| p.display().to_string()).collect();
    Err(Error::Usage(format!(
        "no config file found; searched --config (not given), ${} (not set), {}; \
         create one (mode 600) or pass --config FILE",
        crate::paths::CONFIG_ENV,
        searched.join(", ")
    )))
}

/// A file found by the search is broken (e.g. the packaged template, all commented out) while a
/// later place holds a config too (e.g. the original tool's `./config.ini`): say so.
fn mention_later_candidates(e: Error, found: &Path, search: &[&Path]) -> Error {
    let later: Vec<String> = search
        .iter()
        .skip_while(|p| **p != found)
        .skip(1)
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    match e {
        Error::Config {
            file,
            section,
            key,
            mut message,
        } if !later.is_empty() => {
            message.push_str(&format!(
                " (also found {}, later in the search order; pass --config {} to use it)",
                later.join(" and "),
                later[0]
            ));
            Error::Config {
                file,
                section,
                key,
                message,
            }
        }
        e => e,
    }
}

fn existing(file: &Path, origin: &str) -> Result<()> {
    match std::fs::metadata(file) {
        Ok(_) => Ok(()),
        Err(e) => Err(config_error(
            file,
            None,
            None,
            format!("config file {origin} is not accessible: {e}"),
        )),
    }
}

fn read_private_file(file: &Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;

    let meta = std::fs::metadata(file)
        .map_err(|e| config_error(file, None, None, format!("unable to read: {e}")))?;
    if !meta.is_file() {
        return Err(config_error(file, None, None, "not a regular file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(config_error(
            file,
            None,
            None,
            format!(
                "holds passwords but is accessible by group or others (mode {mode:04o}); \
                 run 'chmod 600 {}'",
                file.display()
            ),
        ));
    }
    let bytes = std::fs::read(file)
        .map_err(|e| config_error(file, None, None, format!("unable to read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        config_error(
            file,
            None,
            None,
            format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

fn config_error(
    file: &Path,
    section: Option<&str>,
    key: Option<&str>,
    message: impl Into<String>,
) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        section: section.map(str::to_string),
        key: key.map(str::to_string),
        message: message.into(),
    }
}

/// One `[section]` as written, before any interpretation.
#[derive(Debug)]
struct IniSection {
    name: String,
    line: usize,
    entries: Vec<IniEntry>,
}

#[derive(Debug)]
struct IniEntry {
    /// Lower-cased (configparser compares keys case-insensitively).
    key: String,
    /// Literal: only surrounding whitespace is removed.
    value: String,
    line: usize,
}

/// A strict INI reader: `[section]`, `key = value` (or `key: value`, as configparser accepts),
/// full-line `#`/`;` comments. Values are literal — no escapes, no quote stripping, `#` and `;`
/// inside a value are kept. Duplicate sections and keys, keys outside a section and lines that
/// are none of the above are errors with the line number.
fn parse_ini(file: &Path, text: &str) -> Result<Vec<IniSection>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sections: Vec<IniSection> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(config_error(
                    file,
                    None,
                    None,
                    format!("line {line}: section header without closing ']'"),
                ));
            };
            let name = name.trim();
            if name.is_empty() {
                return Err(config_error(
                    file,
                    None,
                    None,
                    format!("line {line}: empty section name"),
                ));
            }
            if let Some(first) = sections.iter().find(|s| s.name == name) {
                return Err(config_error(
                    file,
                    Some(name),
                    None,
                    format!(
                        "duplicate section at line {line} (first at line {}); merge them into one",
                        first.line
                    ),
                ));
            }
            sections.push(IniSection {
                name: name.to_string(),
                line,
                entries: Vec::new(),
            });
            continue;
        }
        let Some(at) = trimmed.find(['=', ':']) else {
            return Err(config_error(
                file,
                sections.last().map(|s| s.name.as_str()),
                None,
                format!(
                    "line {line}: expected 'key = value', a [section] header or a comment \
                     (continuation lines are not supported)"
                ),
            ));
        };
        let key = trimmed[..at].trim().to_ascii_lowercase();
        let value = trimmed[at + 1..].trim().to_string();
        let Some(section) = sections.last_mut() else {
            return Err(config_error(
                file,
                None,
                Some(&key),
                format!("line {line}: key outside of a section; start the file with [DEFAULT] or [proxmox]"),
            ));
        };
        if key.is_empty() {
            return Err(config_error(
                file,
                Some(&section.name),
                None,
                format!("line {line}: missing key before '{}'", &trimmed[at..at + 1]),
            ));
        }
        if let Some(first) = section.entries.iter().find(|e| e.key == key) {
            return Err(config_error(
                file,
                Some(&section.name),
                Some(&key),
                format!(
                    "duplicate key at line {line} (first at line {})",
                    first.line
                ),
            ));
        }
        section.entries.push(IniEntry { key, value, line });
    }
    Ok(sections)
}

/// What a section header means.
enum SectionKind {
    /// `[DEFAULT]`: Proxmox settings, tool settings, defaults for storage sections.
    Default,
    /// `[proxmox]`: Proxmox settings and tool settings.
    Proxmox,
    /// `hook`, `vzdump`, or a name with `:` or `.` (never a storage id we manage).
    Policy,
    /// A Proxmox storage id.
    Storage,
}

fn section_kind(name: &str) -> SectionKind {
    match name {
        "DEFAULT" => SectionKind::Default,
        "proxmox" => SectionKind::Proxmox,
        "hook" | "vzdump" => SectionKind::Policy,
        _ if name.contains(':') || name.contains('.') => SectionKind::Policy,
        _ => SectionKind::Storage,
    }
}

/// Values of one section, looked up by key, with the file and section for messages.
struct Values<'a> {
    file: &'a Path,
    section: &'a str,
    own: &'a [IniEntry],
    /// `[DEFAULT]` entries that apply when the section does not set the key.
    defaults: &'a [IniEntry],
}

impl Values<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.own
            .iter()
            .chain(self.defaults)
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    fn error(&self, key: &str, message: impl Into<String>) -> Error {
        config_error(self.file, Some(self.section), Some(key), message)
    }

    fn required(&self, key: &str, what: &str) -> Result<&str> {
        match self.get(key) {
            Some("") => Err(self.error(key, format!("empty value; set {what}"))),
            Some(v) => Ok(v),
            None => Err(self.error(key, format!("missing; set {what}"))),
        }
    }

    fn non_empty(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            Some("") => Err(self.error(key, "empty value; remove the line or give a value")),
            v => Ok(v),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        self.non_empty(key)?
            .map(|v| {
                parse_bool(v).ok_or_else(|| {
                    self.error(
                        key,
                        format!("'{v}' is not a boolean (true/false, yes/no, 1/0)"),
                    )
                })
            })
            .transpose()
    }

    fn seconds(&self, key: &str) -> Result<Option<Duration>> {
        self.non_empty(key)?
            .map(|v| {
                parse_seconds(v).ok_or_else(|| {
                    self.error(
                        key,
                        format!("'{v}' is not a number of seconds (e.g. 10 or 2.5, at most 86400)"),
                    )
                })
            })
            .transpose()
    }

    fn path(&self, key: &str) -> Result<Option<PathBuf>> {
        Ok(self.non_empty(key)?.map(|v| relative_to_file(self.file, v)))
    }

    /// An endpoint from `<prefix>host`, `<prefix>verify`, `<prefix>fingerprint`, `<prefix>ca`,
    /// `<prefix>connect_timeout`, `<prefix>timeout`.
    fn endpoint(&self, prefix: &str, default_port: u16, what: &str) -> Result<Endpoint> {
        let host_key = format!("{prefix}host");
        let host = self.required(&host_key, what)?;
        let base_url = parse_host(host, default_port).map_err(|m| self.error(&host_key, m))?;
        let tls = self.tls(prefix)?;
        let mut timeouts = Timeouts::default();
        if let Some(t) = self.seconds(&format!("{prefix}connect_timeout"))? {
            timeouts.connect = t;
        }
        if let Some(t) = self.seconds(&format!("{prefix}timeout"))? {
            timeouts.request = t;
        }
        Ok(Endpoint {
            base_url,
            tls,
            timeouts,
        })
    }

    fn tls(&self, prefix: &str) -> Result<TlsMode> {
        let verify_key = format!("{prefix}verify");
        let fp_key = format!("{prefix}fingerprint");
        let ca_key = format!("{prefix}ca");
        let verify = self.bool(&verify_key)?;
        let fingerprint = self.non_empty(&fp_key)?;
        let ca = self.path(&ca_key)?;
        if fingerprint.is_some() && ca.is_some() {
            return Err(self.error(
                &fp_key,
                format!("give either {fp_key} or {ca_key}, not both"),
            ));
        }
        if verify == Some(false) && (fingerprint.is_some() || ca.is_some()) {
            let other = if fingerprint.is_some() {
                &fp_key
            } else {
                &ca_key
            };
            return Err(self.error(
                &verify_key,
                format!("'false' turns certificate checks off, which contradicts {other}; remove one of them"),
            ));
        }
        if let Some(fp) = fingerprint {
            let bytes = parse_fingerprint(fp).ok_or_else(|| {
                self.error(
                    &fp_key,
                    "not a SHA-256 fingerprint (32 hex bytes, colons optional, as \
                     'pvenode cert info' or 'openssl x509 -fingerprint -sha256' print it)",
                )
            })?;
            return Ok(TlsMode::Fingerprint(bytes));
        }
        if let Some(ca) = ca {
            if let Err(e) = std::fs::metadata(&ca) {
                return Err(self.error(
                    &ca_key,
                    format!("CA file '{}' is not readable: {e}", ca.display()),
                ));
            }
            return Ok(TlsMode::CaFile(ca));
        }
        Ok(match verify {
            Some(false) => TlsMode::Insecure,
            _ => TlsMode::Verify,
        })
    }
}

fn build(file: &Path, sections: Vec<IniSection>) -> Result<Config> {
    if sections.is_empty() {
        return Err(config_error(
            file,
            None,
            None,
            "has no settings (only comments?); fill in [proxmox] (or [DEFAULT]) and one section \
             per Proxmox storage",
        ));
    }
    let mut default: Option<&IniSection> = None;
    let mut proxmox: Option<&IniSection> = None;
    let mut storages = Vec::new();
    let mut policy = Vec::new();
    for section in &sections {
        let (allowed, hint): (Vec<&str>, &str) = match section_kind(&section.name) {
            SectionKind::Default => {
                default = Some(section);
                let keys = [PROXMOX_KEYS, TOOL_KEYS, ONTAP_KEYS].concat();
                (keys, "")
            }
            SectionKind::Proxmox => {
                proxmox = Some(section);
                (
                    [PROXMOX_KEYS, TOOL_KEYS].concat(),
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
                storages.push(section);
                (
                    ONTAP_KEYS.to_vec(),
                    "; Proxmox settings belong in [DEFAULT] or [proxmox]",
                )
            }
            SectionKind::Policy => {
                policy.push(raw_section(file, section));
                continue;
            }
        };
        for entry in &section.entries {
            if !allowed.contains(&entry.key.as_str()) {
                let mut message = format!("line {}: unknown key", entry.line);
                if let Some(close) = closest(&entry.key, &allowed) {
                    message.push_str(&format!(" (did you mean '{close}'?)"));
                }
                let misplaced = [PROXMOX_KEYS, TOOL_KEYS, ONTAP_KEYS]
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
        }
    }

    let holds_proxmox = |s: &&IniSection| {
        s.entries
            .iter()
            .any(|e| PROXMOX_KEYS.contains(&e.key.as_str()) || TOOL_KEYS.contains(&e.key.as_str()))
    };
    let pve_section = match (default.filter(holds_proxmox), proxmox.filter(holds_proxmox)) {
        (Some(d), Some(p)) => {
            return Err(config_error(
                file,
                Some("proxmox"),
                None,
                format!(
                    "Proxmox settings are in both [DEFAULT] (line {}) and [proxmox] (line {}); \
                     keep them in one of the two",
                    d.line, p.line
                ),
            ))
        }
        (Some(d), None) => d,
        (None, Some(p)) => p,
        (None, None) => {
            return Err(config_error(
                file,
                proxmox.map(|_| "proxmox"),
                Some("proxmox_host"),
                "missing; put proxmox_host and proxmox_user + proxmox_pass (or proxmox_token) \
                 in [DEFAULT] or [proxmox]",
            ))
        }
    };
    let pve_values = Values {
        file,
        section: &pve_section.name,
        own: &pve_section.entries,
        defaults: &[],
    };
    let proxmox = build_proxmox(&pve_values)?;
    let paths = build_paths(&pve_values)?;

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
            OntapConfig {
                storage: section.name.clone(),
                endpoint,
                user,
                password,
            },
        );
    }

    let policy = Policy::from_sections(policy)?;
    Ok(Config {
        file: file.to_path_buf(),
        proxmox,
        storages: ontap,
        policy,
        paths,
    })
}

/// A policy section as `hook::policy` gets it: keys lower-cased, values literal, file order.
fn raw_section(file: &Path, section: &IniSection) -> RawSection {
    RawSection {
        file: file.to_path_buf(),
        name: section.name.clone(),
        entries: section
            .entries
            .iter()
            .map(|e| (e.key.clone(), e.value.clone()))
            .collect(),
    }
}

fn build_proxmox(values: &Values) -> Result<ProxmoxConfig> {
    let endpoint = values.endpoint(
        "proxmox_",
        PVE_DEFAULT_PORT,
        "the Proxmox VE API address (host, host:port or https://host:port)",
    )?;
    let token = values.non_empty("proxmox_token")?;
    let user = values.get("proxmox_user");
    let pass = values.get("proxmox_pass");
    let auth = match token {
        Some(token) => {
            if let Some(key) = [("proxmox_user", user), ("proxmox_pass", pass)]
                .iter()
                .find_map(|(k, v)| v.map(|_| *k))
            {
                return Err(values.error(
                    key,
                    "proxmox_token replaces proxmox_user and proxmox_pass; remove one of the two ways to log in",
                ));
            }
            parse_token(token).map_err(|m| values.error("proxmox_token", m))?
        }
        None => {
            let user = values.required(
                "proxmox_user",
                "the Proxmox user (e.g. root@pam), or use proxmox_token",
            )?;
            if !user.contains('@') || user.starts_with('@') || user.ends_with('@') {
                return Err(values.error(
                    "proxmox_user",
                    format!("'{user}' has no realm; write it as USER@REALM, e.g. root@pam"),
                ));
            }
            let password = values.required("proxmox_pass", "the Proxmox password")?;
            PveAuth::Password {
                user: user.to_string(),
                password: Secret::new(password),
            }
        }
    };
    Ok(ProxmoxConfig { endpoint, auth })
}

/// `USER@REALM!TOKENID=SECRET` (the form `pveum user token add` documents).
fn parse_token(token: &str) -> std::result::Result<PveAuth, String> {
    let shape = "expected USER@REALM!TOKENID=SECRET, e.g. root@pam!snap=5ec2e7a0-...";
    let Some((token_id, secret)) = token.split_once('=') else {
        return Err(format!("no '=' before the secret; {shape}"));
    };
    let Some((user, id)) = token_id.split_once('!') else {
        return Err(format!("no '!' before the token id; {shape}"));
    };
    let realm_ok = user
        .split_once('@')
        .is_some_and(|(u, r)| !u.is_empty() && !r.is_empty());
    if !realm_ok || id.is_empty() || secret.is_empty() {
        return Err(shape.to_string());
    }
    Ok(PveAuth::Token {
        token_id: token_id.to_string(),
        secret: Secret::new(secret),
    })
}

fn build_paths(values: &Values) -> Result<Paths> {
    let mut paths = Paths::default();
    let fields: [(&str, &mut PathBuf); 7] = [
        ("lock_dir", &mut paths.lock_dir),
        ("cluster_lock_dir", &mut paths.cluster_lock_dir),
        ("qm_path", &mut paths.qm),
        ("pct_path", &mut paths.pct),
        ("pve_node_marker", &mut paths.pve_node_marker),
        ("qemu_config_lock_dir", &mut paths.qemu_config_lock_dir),
        ("lxc_config_lock_dir", &mut paths.lxc_config_lock_dir),
    ];
    for (key, field) in fields {
        if let Some(p) = values.path(key)? {
            *field = p;
        }
    }
    Ok(paths)
}

/// A relative path in the config is relative to the config file's directory, never to the
/// working directory (hooks run with whatever cwd Proxmox has).
fn relative_to_file(file: &Path, value: &str) -> PathBuf {
    let p = Path::new(value);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    match file.parent() {
        Some(dir) => dir.join(p),
        None => p.to_path_buf(),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

fn parse_seconds(v: &str) -> Option<Duration> {
    let v = v.strip_suffix('s').unwrap_or(v);
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs <= 86400.0).then(|| Duration::from_secs_f64(secs))
}

/// SHA-256 fingerprint: 32 bytes of hex, with or without colons, any case, optional `sha256:`.
pub fn parse_fingerprint(v: &str) -> Option<[u8; 32]> {
    let v = v.trim();
    let v = v
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256:"))
        .map_or(v, |_| &v[7..]);
    let hex: Vec<u8> = if v.contains(':') {
        let parts: Vec<&str> = v.split(':').collect();
        if parts.iter().any(|p| p.len() != 2) {
            return None;
        }
        parts.concat().into_bytes()
    } else {
        v.as_bytes().to_vec()
    };
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// `host`, `host:port`, `[v6]:port`, bare IPv6, `https://host[:port][/]` → `https://host:port`.
fn parse_host(value: &str, default_port: u16) -> std::result::Result<String, String> {
    let forms = "give host, host:port or https://host:port";
    let mut rest = value.trim();
    if let Some((scheme, after)) = rest.split_once("://") {
        if !scheme.eq_ignore_ascii_case("https") {
            return Err(format!(
                "scheme '{scheme}' is not supported, the API is reached over https; {forms}"
            ));
        }
        rest = after;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(format!("'{value}' contains a path; {forms}"));
    }
    if rest.contains('@') {
        return Err(format!(
            "'{value}' contains a user name; put it in the user key; {forms}"
        ));
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(format!("'{value}': missing ']' after an IPv6 address"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'{addr}' is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("'{value}': expected ':port' after ']'"))?,
            ),
        };
        (format!("[{addr}]"), port)
    } else if rest.matches(':').count() > 1 {
        if rest.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "'{value}' is not a host name or IPv6 address; write IPv6 with a port as [addr]:port"
            ));
        }
        (format!("[{rest}]"), None)
    } else {
        let (h, p) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let valid = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(format!("'{h}' is not a host name or IP address; {forms}"));
        }
        (h.to_string(), p)
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("'{p}' is not a port number (1-65535)"))?,
    };
    Ok(format!("https://{host}:{port}"))
}

fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const ONTAP_PASS: &str = r#"Ontap-Pa55;#"\=x"#;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(Path::new("/etc/pve-ontap-snapshot/config.ini"), text)
    }

    fn config_error_parts(e: Error) -> (Option<String>, Option<String>, String) {
        match e {
            Error::Config {
                section,
                key,
                message,
                ..
            } => (section, key, message),
            other => panic!("expected a config error, got {other:?}"),
        }
    }

    /// A unique temporary directory for one test.
    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pos-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn the_original_default_layout_parses() {
        let c = parse(
            "[DEFAULT]\n# Proxmox PVE API\nproxmox_host = 172.16.60.128\nproxmox_user = root@pam\n\
             proxmox_pass = SuPeRs3cr3t\n\n[ONTAP01]\nhost = 192.168.38.50\nuser = admin\n\
             pass = SuPeRs3cr3t\n\n[BACKUP01]\nhost = 192.168.38.50\nuser = admin\npass = SuPeRs3cr3t\n",
        )
        .unwrap();
        assert_eq!(c.proxmox.endpoint.base_url, "https://172.16.60.128:8006");
        assert_eq!(c.proxmox.endpoint.tls, TlsMode::Verify);
        assert_eq!(
            c.proxmox.auth,
            PveAuth::Password {
                user: "root@pam".into(),
                password: Secret::new("SuPeRs3cr3t")
            }
        );
        assert_eq!(
            c.storages.keys().collect::<Vec<_>>(),
            vec!["BACKUP01", "ONTAP01"]
        );
        let o = &c.storages["ONTAP01"];
        assert_eq!(o.endpoint.base_url, "https://192.168.38.50:443");
        assert_eq!(o.user, "admin");
        assert_eq!(o.password.expose(), "SuPeRs3cr3t");
        assert_eq!(o.endpoint.timeouts, Timeouts::default());
        assert_eq!(c.paths, Paths::default());
    }

    #[test]
    fn the_proxmox_section_layout_parses() {
        let c = parse(
            "[proxmox]\nproxmox_host = https://pve1.example.com:8443/\nproxmox_user = root@pam\n\
             proxmox_pass = x y\nproxmox_verify = False\n[ONTAP01]\nhost=10.0.0.5:8443\nuser=admin\npass=p\nverify = no\n",
        )
        .unwrap();
        assert_eq!(c.proxmox.endpoint.base_url, "https://pve1.example.com:8443");
        assert_eq!(c.proxmox.endpoint.tls, TlsMode::Insecure);
        let o = &c.storages["ONTAP01"];
        assert_eq!(o.endpoint.base_url, "https://10.0.0.5:8443");
        assert_eq!(o.endpoint.tls, TlsMode::Insecure);
    }

    #[test]
    fn proxmox_settings_in_both_sections_are_refused() {
        let e = parse(
            "[DEFAULT]\nproxmox_host = a\n[proxmox]\nproxmox_host = b\nproxmox_user = root@pam\nproxmox_pass = x\n",
        )
        .unwrap_err();
        let (section, _, message) = config_error_parts(e);
        assert_eq!(section.as_deref(), Some("proxmox"));
        assert!(message.contains("[DEFAULT] (line 1)"), "{message}");
        assert!(message.contains("[proxmox] (line 3)"), "{message}");
    }

    #[test]
    fn default_section_values_are_defaults_for_storages() {
        let c = parse(
            "[DEFAULT]\nuser = admin\npass = shared\nverify = false\n\
             [proxmox]\nproxmox_host = pve\nproxmox_user = root@pam\nproxmox_pass = x\n\
             [ONTAP01]\nhost = a\n[ONTAP02]\nhost = b\npass = own\nverify = true\n",
        )
        .unwrap();
        assert_eq!(c.storages["ONTAP01"].password.expose(), "shared");
        assert_eq!(c.storages["ONTAP01"].endpoint.tls, TlsMode::Insecure);
        assert_eq!(c.storages["ONTAP02"].password.expose(), "own");
        assert_eq!(c.storages["ONTAP02"].user, "admin");
        assert_eq!(c.storages["ONTAP02"].endpoint.tls, TlsMode::Verify);
        // The proxmox endpoint does not inherit ONTAP keys.
        assert_eq!(c.proxmox.endpoint.tls, TlsMode::Verify);
    }

    #[test]
    fn token_auth() {
        let c = parse(
            "[proxmox]\nproxmox_host = 127.0.0.1\n\
             proxmox_token = root@pam!snap=5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11\n",
        )
        .unwrap();
        assert_eq!(
            c.proxmox.auth,
            PveAuth::Token {
                token_id: "root@pam!snap".into(),
                secret: Secret::new("5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11")
            }
        );
    }

    #[test]
    fn bad_tokens_and_mixed_auth_are_refused() {
        for token in [
            "root@pam!snap",
            "root@pam=abc",
            "root!snap=abc",
            "root@pam!=abc",
            "root@pam!snap=",
        ] {
            let e = parse(&format!(
                "[proxmox]\nproxmox_host = h\nproxmox_token = {token}\n"
            ))
            .unwrap_err();
            let (_, key, message) = config_error_parts(e);
            assert_eq!(key.as_deref(), Some("proxmox_token"), "{token}");
            assert!(message.contains("USER@REALM!TOKENID=SECRET"), "{message}");
            assert!(!message.contains("abc"), "the secret leaked: {message}");
        }
        let e = parse("[proxmox]\nproxmox_host = h\nproxmox_token = root@pam!s=abc\nproxmox_user = root@pam\n")
            .unwrap_err();
        assert_eq!(config_error_parts(e).1.as_deref(), Some("proxmox_user"));
    }

    #[test]
    fn user_without_realm_or_password_is_refused() {
        let e = parse("[proxmox]\nproxmox_host = h\nproxmox_user = root\nproxmox_pass = x\n")
            .unwrap_err();
        let (_, key, message) = config_error_parts(e);
        assert_eq!(key.as_deref(), Some("proxmox_user"));
        assert!(message.contains("root@pam"), "{message}");
        let e = parse("[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\n").unwrap_err();
        assert_eq!(config_error_parts(e).1.as_deref(), Some("proxmox_pass"));
        let e = parse("[ONTAP01]\nhost = h\nuser = u\npass = p\n").unwrap_err();
        let (_, key, message) = config_error_parts(e);
        assert_eq!(key.as_deref(), Some("proxmox_host"));
        assert!(message.contains("[DEFAULT] or [proxmox]"), "{message}");
    }

    #[test]
    fn passwords_are_literal() {
        let cases = [
            ONTAP_PASS,
            r#"a\b"c#d;e=f g"#,
            r#""quoted both""#,
            r#"'single'"#,
            r#""leading only"#,
            r#"trailing only""#,
            "with  two  spaces",
            r"back\\slash\n\t",
            "%(interp)s %%",
        ];
        for pass in cases {
            let text = format!(
                "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = {pass}\n\
                 [ONTAP01]\nhost = h\nuser = admin\npass={pass}\n"
            );
            let c = parse(&text).unwrap();
            assert_eq!(c.storages["ONTAP01"].password.expose(), pass);
            match &c.proxmox.auth {
                PveAuth::Password { password, .. } => assert_eq!(password.expose(), pass),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let c = parse(&format!(
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = pve-secret\n\
             [ONTAP01]\nhost = h\nuser = admin\npass = {ONTAP_PASS}\n"
        ))
        .unwrap();
        let dump = format!("{c:?}");
        assert!(!dump.contains("pve-secret"));
        assert!(!dump.contains("Ontap-Pa55"));
    }

    #[test]
    fn configparser_syntax_is_accepted() {
        // `key: value`, upper-case keys, indented lines, CRLF, a BOM, comments with ; and #.
        let c = parse(
            "\u{feff}; comment\r\n[DEFAULT]\r\n  PROXMOX_HOST: pve:8006\r\n\tproxmox_user = root@pam\r\n\
             proxmox_pass = a:b\r\n# done\r\n",
        )
        .unwrap();
        assert_eq!(c.proxmox.endpoint.base_url, "https://pve:8006");
        match &c.proxmox.auth {
            PveAuth::Password { password, .. } => assert_eq!(password.expose(), "a:b"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_keys_name_file_section_and_key() {
        let e = parse(
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[ONTAP01]\nhots = h\n",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "config '/etc/pve-ontap-snapshot/config.ini', section [ONTAP01], key 'hots': \
             line 6: unknown key (did you mean 'host'?); allowed here: host, user, pass, verify, \
             fingerprint, ca, connect_timeout, timeout"
        );
        assert_eq!(e.exit_code(), 2);
        let e = parse("[proxmox]\nproxmox_host = h\nhost = x\n").unwrap_err();
        let (section, key, message) = config_error_parts(e);
        assert_eq!(
            (section.as_deref(), key.as_deref()),
            (Some("proxmox"), Some("host"))
        );
        assert!(message.contains("ONTAP settings belong"), "{message}");
        let e = parse("[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[ONTAP01]\nproxmox_pass = x\n")
            .unwrap_err();
        let (_, _, message) = config_error_parts(e);
        assert!(
            message.contains("belong in [DEFAULT] or [proxmox]"),
            "{message}"
        );
    }

    #[test]
    fn duplicate_sections_and_keys_are_refused() {
        let e = parse("[proxmox]\nproxmox_host = h\n[ONTAP01]\nhost = a\n[ONTAP01]\nhost = b\n")
            .unwrap_err();
        let (section, key, message) = config_error_parts(e);
        assert_eq!(section.as_deref(), Some("ONTAP01"));
        assert_eq!(key, None);
        assert!(
            message.contains("duplicate section at line 5 (first at line 3)"),
            "{message}"
        );
        let e = parse("[proxmox]\nproxmox_host = h\n[ONTAP01]\nhost = a\nHost = b\n").unwrap_err();
        let (section, key, message) = config_error_parts(e);
        assert_eq!(
            (section.as_deref(), key.as_deref()),
            (Some("ONTAP01"), Some("host"))
        );
        assert!(
            message.contains("duplicate key at line 5 (first at line 4)"),
            "{message}"
        );
    }

    #[test]
    fn malformed_lines_are_refused_with_their_line_number() {
        for (text, needle) in [
            ("proxmox_host = h\n", "key outside of a section"),
            ("[proxmox\n", "without closing ']'"),
            ("[]\n", "empty section name"),
            ("[proxmox]\njust words\n", "line 2: expected 'key = value'"),
            ("[proxmox]\n= value\n", "line 2: missing key"),
        ] {
            let (_, _, message) = config_error_parts(parse(text).unwrap_err());
            assert!(message.contains(needle), "{text:?}: {message}");
        }
    }

    #[test]
    fn storage_sections_must_be_storage_ids() {
        let e = parse("[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[9bad]\nhost = h\n")
            .unwrap_err();
        let (section, _, message) = config_error_parts(e);
        assert_eq!(section.as_deref(), Some("9bad"));
        assert!(
            message.contains("not a valid Proxmox storage id"),
            "{message}"
        );
        for id in ["ONTAP01", "nfs-a_1", "a1", "x.y"] {
            assert!(valid_storage_id(id), "{id}");
        }
        for id in ["a", "1a", "a-", "a b", "a/b", ""] {
            assert!(!valid_storage_id(id), "{id}");
        }
    }

    #[test]
    fn policy_sections_are_recognised_and_passed_on_literally() {
        let file = Path::new("/c.ini");
        let sections = parse_ini(
            file,
            "[proxmox]\n[hook]\nPost-Stop = storage-snapshot\n[hook:100]\npre-start = vm-snapshot\n\
             keep = 3\n[schedule:nightly]\nstorages = ONTAP01, ONTAP02 # not a comment\n[vzdump]\n\
             [vzdump:200]\n[a.b]\n[ONTAP01]\n[DEFAULT]\n",
        )
        .unwrap();
        let policy: Vec<&IniSection> = sections
            .iter()
            .filter(|s| matches!(section_kind(&s.name), SectionKind::Policy))
            .collect();
        let names: Vec<&str> = policy.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "hook",
                "hook:100",
                "schedule:nightly",
                "vzdump",
                "vzdump:200",
                "a.b"
            ]
        );
        assert_eq!(
            raw_section(file, policy[1]),
            RawSection {
                file: file.into(),
                name: "hook:100".into(),
                entries: vec![
                    ("pre-start".to_string(), "vm-snapshot".to_string()),
                    ("keep".to_string(), "3".to_string())
                ]
            }
        );
        assert_eq!(raw_section(file, policy[0]).entries[0].0, "post-stop");
        assert_eq!(
            raw_section(file, policy[2]).entries[0].1,
            "ONTAP01, ONTAP02 # not a comment"
        );
        // An empty policy section is not a storage and needs no credentials.
        let c = parse(
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[vzdump]\n",
        )
        .unwrap();
        assert!(c.storages.is_empty());
        assert_eq!(c.policy.sections.len(), 1);
    }

    #[test]
    fn tls_modes_per_endpoint() {
        let fp = "aa:BB:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99";
        let dir = temp_dir("tls");
        let ca = write(&dir, "ca.pem", "-----BEGIN CERTIFICATE-----\n", 0o644);
        let c = Config::parse(
            &dir.join("config.ini"),
            &format!(
                "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
                 proxmox_fingerprint = {fp}\n[A1]\nhost = a\nuser = u\npass = p\nca = ca.pem\n\
                 [A2]\nhost = a\nuser = u\npass = p\nfingerprint = sha256:{}\n",
                fp.replace(':', "")
            ),
        )
        .unwrap();
        let mut expected = [0u8; 32];
        for (i, b) in [
            0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
            0x88, 0x99,
        ]
        .iter()
        .cycle()
        .take(32)
        .enumerate()
        {
            expected[i] = *b;
        }
        assert_eq!(c.proxmox.endpoint.tls, TlsMode::Fingerprint(expected));
        assert_eq!(
            c.storages["A2"].endpoint.tls,
            TlsMode::Fingerprint(expected)
        );
        assert_eq!(c.storages["A1"].endpoint.tls, TlsMode::CaFile(ca));

        for (extra, key, needle) in [
            (
                "fingerprint = AA:BB",
                "fingerprint",
                "not a SHA-256 fingerprint",
            ),
            (
                &*format!("fingerprint = {fp}\nca = /x.pem"),
                "fingerprint",
                "not both",
            ),
            (
                &*format!("fingerprint = {fp}\nverify = false"),
                "verify",
                "contradicts fingerprint",
            ),
            ("ca = missing.pem", "ca", "is not readable"),
            ("verify = maybe", "verify", "not a boolean"),
            ("timeout = 0", "timeout", "not a number of seconds"),
            (
                "connect_timeout = soon",
                "connect_timeout",
                "not a number of seconds",
            ),
        ] {
            let e = Config::parse(
                &dir.join("config.ini"),
                &format!(
                    "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
                     [A1]\nhost = a\nuser = u\npass = p\n{extra}\n"
                ),
            )
            .unwrap_err();
            let (section, k, message) = config_error_parts(e);
            assert_eq!(section.as_deref(), Some("A1"), "{extra}");
            assert_eq!(k.as_deref(), Some(key), "{extra}");
            assert!(message.contains(needle), "{extra}: {message}");
        }
    }

    #[test]
    fn fingerprints_parse_in_every_common_form() {
        let colon = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef";
        let a = parse_fingerprint(colon).unwrap();
        assert_eq!(a[0], 0x01);
        assert_eq!(a[5], 0xab);
        assert_eq!(parse_fingerprint(&colon.replace(':', "")), Some(a));
        assert_eq!(parse_fingerprint(&format!("SHA256:{colon}")), Some(a));
        assert_eq!(parse_fingerprint(&colon[3..]), None);
        assert_eq!(parse_fingerprint(&colon.replace("01:23", "0123")), None);
        assert_eq!(parse_fingerprint(&colon.replace("EF", "EG")), None);
        assert_eq!(parse_fingerprint(&format!("{colon}:00")), None);
    }

    #[test]
    fn timeouts_are_read_per_endpoint() {
        let c = parse(
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
             proxmox_connect_timeout = 2.5\nproxmox_timeout = 30\n[A1]\nhost = a\nuser = u\npass = p\nconnect_timeout = 1s\n",
        )
        .unwrap();
        assert_eq!(
            c.proxmox.endpoint.timeouts,
            Timeouts {
                connect: Duration::from_millis(2500),
                request: Duration::from_secs(30)
            }
        );
        assert_eq!(
            c.storages["A1"].endpoint.timeouts,
            Timeouts {
                connect: Duration::from_secs(1),
                request: Timeouts::default().request
            }
        );
    }

    #[test]
    fn hosts_become_base_urls() {
        for (input, port, expected) in [
            ("10.0.0.1", 8006, "https://10.0.0.1:8006"),
            ("10.0.0.1:8443", 8006, "https://10.0.0.1:8443"),
            (
                "https://pve.example.com",
                8006,
                "https://pve.example.com:8006",
            ),
            (
                "HTTPS://pve.example.com:1/",
                8006,
                "https://pve.example.com:1",
            ),
            ("fe80::1", 443, "https://[fe80::1]:443"),
            ("[::1]:8443", 443, "https://[::1]:8443"),
            ("https://[2001:db8::5]", 443, "https://[2001:db8::5]:443"),
            ("https://[2001:db8::5]:9/", 443, "https://[2001:db8::5]:9"),
        ] {
            assert_eq!(parse_host(input, port).as_deref(), Ok(expected), "{input}");
        }
        for (input, needle) in [
            ("http://h", "not supported"),
            ("https://h/api2/json", "contains a path"),
            ("root@h", "user name"),
            ("h:0", "not a port"),
            ("h:99999", "not a port"),
            ("h:", "not a port"),
            ("[::1", "missing ']'"),
            ("[nope]:1", "not an IPv6"),
            ("a:b:c", "not a host name or IPv6"),
            ("", "not a host name"),
            ("h h", "not a host name"),
        ] {
            let e = parse_host(input, 443).unwrap_err();
            assert!(e.contains(needle), "{input}: {e}");
        }
    }

    #[test]
    fn tool_paths_are_configurable_and_relative_to_the_file() {
        let c = Config::parse(
            Path::new("/srv/test/config.ini"),
            "[DEFAULT]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
             lock_dir = locks\ncluster_lock_dir = /tmp/cl\nqm_path = /bin/qm\npct_path = /bin/pct\n\
             pve_node_marker = /nonexistent\nqemu_config_lock_dir = /tmp/q\nlxc_config_lock_dir = /tmp/l\n",
        )
        .unwrap();
        assert_eq!(
            c.paths,
            Paths {
                lock_dir: "/srv/test/locks".into(),
                cluster_lock_dir: "/tmp/cl".into(),
                qm: "/bin/qm".into(),
                pct: "/bin/pct".into(),
                pve_node_marker: "/nonexistent".into(),
                qemu_config_lock_dir: "/tmp/q".into(),
                lxc_config_lock_dir: "/tmp/l".into(),
            }
        );
    }

    #[test]
    fn ontap_for_falls_back_from_clone_storages() {
        let c = parse(
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
             [ONTAP01]\nhost = a\nuser = u\npass = p\n[ONTAP01-CLONE-2]\nhost = b\nuser = u\npass = p\n",
        )
        .unwrap();
        assert_eq!(c.ontap_for("ONTAP01").unwrap().storage, "ONTAP01");
        assert_eq!(c.ontap_for("ONTAP01-CLONE").unwrap().storage, "ONTAP01");
        assert_eq!(c.ontap_for("ONTAP01-CLONE-1").unwrap().storage, "ONTAP01");
        assert_eq!(
            c.ontap_for("ONTAP01-CLONE-2").unwrap().storage,
            "ONTAP01-CLONE-2"
        );
        assert_eq!(
            c.ontap_for("ONTAP01-CLONE-CLONE").unwrap().storage,
            "ONTAP01"
        );
        assert_eq!(clone_parent("-CLONE"), None);
        assert_eq!(clone_parent("X-CLONE-"), None);
        assert_eq!(clone_parent("X-CLONEx"), None);

        let e = c.ontap_for("ONTAP09").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let (section, _, message) = config_error_parts(e);
        assert_eq!(section.as_deref(), Some("ONTAP09"));
        assert!(
            message.contains("add [ONTAP09] with host, user and pass"),
            "{message}"
        );
        let (_, _, message) = config_error_parts(c.ontap_for("NFS2-CLONE-3").unwrap_err());
        assert!(
            message.contains("add [NFS2-CLONE-3] or [NFS2]"),
            "{message}"
        );
    }

    #[test]
    fn files_readable_by_others_are_refused_with_a_chmod_hint() {
        let dir = temp_dir("mode");
        let text = "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n";
        for mode in [0o644, 0o640, 0o604, 0o660] {
            let file = write(&dir, "c.ini", text, mode);
            let e = Config::read(&file).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let message = e.to_string();
            assert!(
                message.contains(&format!("chmod 600 {}", file.display())),
                "{message}"
            );
            assert!(message.contains(&format!("mode {mode:04o}")), "{message}");
        }
        let file = write(&dir, "c.ini", text, 0o600);
        assert_eq!(Config::read(&file).unwrap().file, file);
        let file = write(&dir, "c.ini", text, 0o400);
        assert!(Config::read(&file).is_ok());
        let e = Config::read(&dir).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        std::fs::write(dir.join("bad.ini"), [b'[', 0xff, b']']).unwrap();
        std::fs::set_permissions(dir.join("bad.ini"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let e = Config::read(&dir.join("bad.ini")).unwrap_err();
        assert!(e.to_string().contains("not valid UTF-8"), "{e}");
    }

    #[test]
    fn the_search_order_is_followed_and_a_miss_names_every_place() {
        let dir = temp_dir("search");
        let first = dir.join("first.ini");
        let second = write(&dir, "second.ini", "", 0o600);
        let third = write(&dir, "third.ini", "", 0o600);
        let search = [first.as_path(), second.as_path(), third.as_path()];
        assert_eq!(locate_in(None, None, &search).unwrap(), second);
        assert_eq!(
            locate_in(None, Some(third.clone().into()), &search).unwrap(),
            third
        );
        assert_eq!(
            locate_in(Some(&third), Some(second.clone().into()), &search).unwrap(),
            third
        );
        // An explicit file (flag or environment) is never replaced by a searched one.
        let e = locate_in(Some(&first), None, &search).unwrap_err();
        assert!(e.to_string().contains("given with --config"), "{e}");
        assert_eq!(e.exit_code(), 2);
        let e = locate_in(None, Some(first.clone().into()), &search).unwrap_err();
        assert!(
            e.to_string()
                .contains("named by $PVE_ONTAP_SNAPSHOT_CONFIG"),
            "{e}"
        );

        let missing = [first.as_path(), Path::new("/nonexistent/b.ini")];
        let e = locate_in(None, None, &missing).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let message = e.to_string();
        assert!(message.contains("--config"), "{message}");
        assert!(message.contains("$PVE_ONTAP_SNAPSHOT_CONFIG"), "{message}");
        assert!(message.contains(&first.display().to_string()), "{message}");
        assert!(message.contains("/nonexistent/b.ini"), "{message}");
    }

    #[test]
    fn an_empty_file_found_first_points_at_a_later_config() {
        let dir = temp_dir("later");
        let template = write(
            &dir,
            "template.ini",
            "# [proxmox]\n# proxmox_host =\n",
            0o600,
        );
        let missing = dir.join("missing.ini");
        let original = write(&dir, "config.ini", "", 0o600);
        let e = Config::read(&template).unwrap_err();
        assert!(e.to_string().ends_with("has no settings (only comments?); fill in [proxmox] (or [DEFAULT]) and one section per Proxmox storage"), "{e}");
        let search = [template.as_path(), missing.as_path(), original.as_path()];
        let e = mention_later_candidates(e, &template, &search);
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().ends_with(&format!(
                "(also found {0}, later in the search order; pass --config {0} to use it)",
                original.display()
            )),
            "{e}"
        );
        // Nothing later: the error stays as it was.
        let e = mention_later_candidates(Config::read(&template).unwrap_err(), &original, &search);
        assert!(!e.to_string().contains("also found"), "{e}");
    }

    #[test]
    fn the_default_search_list_ends_with_the_original_location() {
        assert_eq!(
            crate::paths::CONFIG_SEARCH,
            &[
                "/etc/pve/priv/pve-ontap-snapshot.ini",
                "/etc/pve-ontap-snapshot/config.ini",
                "./config.ini"
            ]
        );
    }
}
