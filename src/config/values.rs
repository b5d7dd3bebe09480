//! Typed values of one INI section: required and optional strings, booleans, seconds, paths.
//! Each error names the file, section and key; `[DEFAULT]` entries apply where a section is silent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ini::{config_error, IniEntry};
use crate::error::{Error, Result};

/// Values of one section, looked up by key, with the file and section for messages.
pub(super) struct Values<'a> {
    pub file: &'a Path,
    pub section: &'a str,
    pub own: &'a [IniEntry],
    /// `[DEFAULT]` entries that apply when the section does not set the key.
    pub defaults: &'a [IniEntry],
}

impl Values<'_> {
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.own
            .iter()
            .chain(self.defaults)
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    pub(super) fn error(&self, key: &str, message: impl Into<String>) -> Error {
        config_error(self.file, Some(self.section), Some(key), message)
    }

    pub(super) fn required(&self, key: &str, what: &str) -> Result<&str> {
        match self.get(key) {
            Some("") => Err(self.error(key, format!("empty value; set {what}"))),
            Some(v) => Ok(v),
            None => Err(self.error(key, format!("missing; set {what}"))),
        }
    }

    pub(super) fn non_empty(&self, key: &str) -> Result<Option<&str>> {
        match self.get(key) {
            Some("") => Err(self.error(key, "empty value; remove the line or give a value")),
            v => Ok(v),
        }
    }

    pub(super) fn bool(&self, key: &str) -> Result<Option<bool>> {
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

    pub(super) fn seconds(&self, key: &str) -> Result<Option<Duration>> {
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

    pub(super) fn path(&self, key: &str) -> Result<Option<PathBuf>> {
        Ok(self.non_empty(key)?.map(|v| relative_to_file(self.file, v)))
    }
}

/// A relative path in the config is relative to the config file's directory, never to the
/// working directory (hooks run with whatever cwd Proxmox has).
pub(super) fn relative_to_file(file: &Path, value: &str) -> PathBuf {
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

pub(super) fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_seconds(v: &str) -> Option<Duration> {
    let v = v.strip_suffix('s').unwrap_or(v);
    let secs: f64 = v.parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs <= 86400.0).then(|| Duration::from_secs_f64(secs))
}

pub(super) fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
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
