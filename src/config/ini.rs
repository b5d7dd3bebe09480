//! The strict INI reader: the private file, sections and `key = value` lines, each with its line.
//! Values stay literal strings here; `values` and `endpoint` give them types.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A policy section as read from the file, handed to `config::policy` for validation.
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

/// A policy section as `config::policy` gets it: keys lower-cased, values literal, file order.
pub(super) fn raw_section(file: &Path, section: &IniSection) -> RawSection {
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

/// One `[section]` as written, before any interpretation.
#[derive(Debug)]
pub(super) struct IniSection {
    pub name: String,
    pub line: usize,
    pub entries: Vec<IniEntry>,
}

#[derive(Debug)]
pub(super) struct IniEntry {
    /// Lower-cased (configparser compares keys case-insensitively).
    pub key: String,
    /// Literal: only surrounding whitespace is removed.
    pub value: String,
    pub line: usize,
}

/// A strict INI reader: `[section]`, `key = value` (or `key: value`, as configparser accepts),
/// full-line `#`/`;` comments. Values are literal — no escapes, no quote stripping, `#` and `;`
/// inside a value are kept. Duplicate sections and keys, keys outside a section and lines that
/// are none of the above are errors with the line number.
pub(super) fn parse_ini(file: &Path, text: &str) -> Result<Vec<IniSection>> {
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

pub(super) fn read_private_file(file: &Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;

    let meta = std::fs::metadata(file)
        .map_err(|e| config_error(file, None, None, format!("unable to read: {e}")))?;
    if !meta.is_file() {
        return Err(config_error(file, None, None, "not a regular file"));
    }
    // Root runs this from Proxmox's hooks: a file another user can rewrite would choose what root
    // does (which storages it restores, which snapshots it deletes).
    let owner = std::os::unix::fs::MetadataExt::uid(&meta);
    let euid = crate::sys::process::effective_uid();
    if owner != 0 && Some(owner) != euid {
        return Err(config_error(
            file,
            None,
            None,
            format!(
                "is owned by uid {owner}, not by root{}: root runs this tool from Proxmox's hooks \
                 and must not read settings another user can change; run 'chown root:root {}'",
                euid.filter(|u| *u != 0)
                    .map(|u| format!(" or the user running it (uid {u})"))
                    .unwrap_or_default(),
                file.display()
            ),
        ));
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

pub(super) fn config_error(
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
