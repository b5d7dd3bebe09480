//! The `check` command: reads the config, logs in to Proxmox VE and every ONTAP cluster, and
//! reports per endpoint what answered (address, TLS mode, version) without changing anything.

use std::path::Path;

use serde::Serialize;

use super::backends::connect;
use super::render::emit;
use crate::cli::OutputFormat;
use crate::error::{Error, Result};
use crate::http::TlsMode;
use crate::model::capacity::{self, Verdict};
use crate::ops::parallel;
use crate::output::{details, Align, Table};

/// Storages checked at once: each is four requests in a row (version, storage, LIF, volume).
const STORAGES_IN_FLIGHT: usize = 8;

/// One line of `check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct CheckRow {
    /// `proxmox` or the storage id.
    pub(super) name: String,
    pub(super) endpoint: String,
    pub(super) tls: String,
    pub(super) ok: bool,
    pub(super) detail: String,
    /// Storages: whether snapshots can be locked (ONTAP snapshot locking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) can_lock: Option<bool>,
    /// Storages: what the capacity guard says about one more snapshot (`ok`, `warn`, `refuse`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) capacity: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct CheckReport {
    pub(super) file: String,
    pub(super) ok: bool,
    pub(super) checks: Vec<CheckRow>,
}

pub(super) fn check(config_file: Option<&Path>, format: OutputFormat) -> Result<()> {
    let (config, b) = connect(config_file)?;
    let mut checks = Vec::new();

    let pve = b.pve().and_then(|pve| pve.version());
    checks.push(CheckRow {
        name: "proxmox".into(),
        endpoint: config.proxmox.endpoint.base_url.clone(),
        tls: tls_text(&config.proxmox.endpoint.tls),
        ok: pve.is_ok(),
        detail: match &pve {
            Ok(v) => format!("Proxmox VE {v}"),
            Err(e) => e.to_string(),
        },
        can_lock: None,
        capacity: None,
    });
    // Every storage on its own (the ONTAP version and the resolution), several at a time.
    let storages: Vec<_> = config.storages.iter().collect();
    let rows = parallel::map_all(&storages, STORAGES_IN_FLIGHT, |(storage, ontap)| {
        let result = b.ontap(storage).and_then(|client| {
            let version = client.version()?;
            let resolved = crate::ops::resolve::resolve(&*b, storage)?;
            Ok((version, resolved))
        });
        let (mut can_lock, mut capacity) = (None, None);
        let (ok, detail) = match result {
            Ok((version, r)) => {
                let lock = crate::ops::storage::lock_support(&r, version);
                can_lock = Some(lock.is_ok());
                let verdict = capacity::check(
                    &config.capacity_for(storage),
                    storage,
                    &r.volume.name,
                    r.volume.snapshot_count,
                    r.volume.used,
                    r.volume.size,
                );
                capacity = Some(verdict.as_str().to_string());
                let version = match version {
                    Some(v) => format!("ONTAP {}.{}.{}", v.generation, v.major, v.minor),
                    None => "ONTAP version not readable (no permission on /api/cluster)".into(),
                };
                let junction = r.volume.nas_path.as_deref().unwrap_or("not mounted");
                let prefix = if r.prefix.is_empty() {
                    String::new()
                } else {
                    format!(", export below it at {}", r.prefix)
                };
                let mut detail = format!(
                    "{version}; volume {} on SVM {} (junction {junction}{prefix}); {}",
                    r.volume.name,
                    r.volume.svm_name,
                    match &lock {
                        Ok(()) => "snapshots can be locked (snapshot locking enabled)".to_string(),
                        Err(why) => format!("snapshots cannot be locked: {why}"),
                    }
                );
                let ok = match verdict {
                    Verdict::Ok => true,
                    Verdict::Warn(m) => {
                        detail.push_str(&format!("; warning: {m}"));
                        true
                    }
                    Verdict::Refuse(m) => {
                        detail.push_str(&format!("; {m}"));
                        false
                    }
                };
                (ok, detail)
            }
            Err(e) => (false, e.to_string()),
        };
        CheckRow {
            name: storage.to_string(),
            endpoint: ontap.endpoint.base_url.clone(),
            tls: tls_text(&ontap.endpoint.tls),
            ok,
            detail,
            can_lock,
            capacity,
        }
    });
    checks.extend(rows);
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    let report = CheckReport {
        file: config.file.display().to_string(),
        ok: failed.is_empty(),
        checks: checks.clone(),
    };
    emit(format, &report, render_check)?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "check failed for {}",
            failed.join(", ")
        )))
    }
}

pub(super) fn tls_text(tls: &TlsMode) -> String {
    match tls {
        TlsMode::Verify => "verified (public CAs)".into(),
        TlsMode::CaFile(path) => format!("verified by CA file {}", path.display()),
        TlsMode::Fingerprint(fp) => {
            let hex: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
            format!("pinned SHA-256 {}", hex.join(":"))
        }
        TlsMode::Insecure => "NOT VERIFIED (verify = false)".into(),
    }
}

pub(super) fn render_check(r: &CheckReport) -> String {
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("ENDPOINT", Align::Left),
        ("STATUS", Align::Left),
        ("DETAIL", Align::Left),
    ]);
    for c in &r.checks {
        table.row([
            c.name.clone(),
            c.endpoint.clone(),
            if c.ok { "OK" } else { "FAIL" }.to_string(),
            c.detail.clone(),
        ]);
    }
    let mut out = format!("config {}\n", r.file);
    out.push_str(&table.render());
    out.push_str("\nTLS:\n");
    let tls: Vec<(&str, Option<String>)> = r
        .checks
        .iter()
        .map(|c| (c.name.as_str(), Some(c.tls.clone())))
        .collect();
    out.push_str(&details(&tls));
    out
}
