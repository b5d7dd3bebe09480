//! `status --format prometheus`: the report as node-exporter textfile metrics (text exposition
//! format 0.0.4: `# HELP` and `# TYPE` once per metric family, then its samples, label values escaped).
//!
//! Metric names follow Prometheus' conventions (`_seconds`, `_bytes`, `_timestamp_seconds`, base
//! units), so that alerts can be written as `time() - pve_ontap_snapshot_last_success_timestamp_seconds > 7200`.

use std::fmt::Write as _;

use crate::model::outcome::Outcome;
use crate::model::status::{Report, RunStatus};

/// A metric family being written.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl Family<'_> {
    fn sample(&mut self, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(self.name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

fn family<'a>(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Family<'a> {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    Family { out, name }
}

/// Label values: backslash, double quote and line feed escaped as the format requires.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The whole textfile.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let storages_read: Vec<_> = r.storages.iter().filter(|s| s.volume.is_some()).collect();

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_last_success_timestamp_seconds",
        "gauge",
        "Creation time of the newest snapshot of this tool per storage and label (Unix seconds).",
    );
    for s in &r.storages {
        for l in &s.labels {
            f.sample(
                &[("storage", &s.storage), ("label", &l.label)],
                l.created_unix as f64,
            );
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_guest_last_success_timestamp_seconds",
        "gauge",
        "Time of the newest disk snapshot set per guest and label (Unix seconds, from the journal).",
    );
    for g in &r.guests {
        let vmid = g.vmid.to_string();
        for l in &g.labels {
            f.sample(
                &[("vmid", &vmid), ("label", &l.label)],
                l.created_unix as f64,
            );
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_snapshots",
        "gauge",
        "Snapshots per storage and label made by this tool.",
    );
    for s in &r.storages {
        for l in &s.labels {
            f.sample(
                &[("storage", &s.storage), ("label", &l.label)],
                l.count as f64,
            );
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_volume_snapshots",
        "gauge",
        "Every snapshot on the storage's ONTAP volume (ONTAP's limit counts them all).",
    );
    for s in &storages_read {
        if let Some(n) = s.snapshot_count {
            f.sample(&[("storage", &s.storage)], n as f64);
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_volume_snapshot_limit",
        "gauge",
        "ONTAP's limit of snapshots per volume.",
    );
    for s in &storages_read {
        f.sample(&[("storage", &s.storage)], s.snapshot_limit as f64);
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_volume_snapshot_bytes",
        "gauge",
        "Space used by snapshots on the storage's volume (ONTAP space.snapshot.used).",
    );
    for s in &storages_read {
        if let Some(b) = s.snapshot_bytes {
            f.sample(&[("storage", &s.storage)], b as f64);
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_volume_used_bytes",
        "gauge",
        "Space used on the storage's volume (ONTAP space.used).",
    );
    for s in &storages_read {
        if let Some(b) = s.used_bytes {
            f.sample(&[("storage", &s.storage)], b as f64);
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_volume_size_bytes",
        "gauge",
        "Size of the storage's volume (ONTAP space.size).",
    );
    for s in &storages_read {
        if let Some(b) = s.size_bytes {
            f.sample(&[("storage", &s.storage)], b as f64);
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_volume_locking_enabled",
        "gauge",
        "1 when the storage's volume has ONTAP snapshot locking enabled (tamperproof snapshots).",
    );
    for s in &storages_read {
        if let Some(b) = s.locking_enabled {
            f.sample(&[("storage", &s.storage)], if b { 1.0 } else { 0.0 });
        }
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_storage_up",
        "gauge",
        "1 when the storage's ONTAP volume could be read by this status run.",
    );
    if !r.offline {
        for s in &r.storages {
            f.sample(
                &[("storage", &s.storage)],
                if s.error.is_none() { 1.0 } else { 0.0 },
            );
        }
    }

    let run_labels = |run: &RunStatus| {
        [
            ("trigger", run.trigger.as_str().to_string()),
            ("source", run.source.clone()),
            ("action", run.action.clone()),
            ("vmid", run.vmid.map(|v| v.to_string()).unwrap_or_default()),
            ("storage", run.storage.clone().unwrap_or_default()),
        ]
    };
    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_last_run_success",
        "gauge",
        "1 when the last run of this hook phase, schedule or command succeeded, else 0.",
    );
    for run in &r.runs {
        let l = run_labels(run);
        let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
        f.sample(&l, if run.result == Outcome::Ok { 1.0 } else { 0.0 });
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_last_run_timestamp_seconds",
        "gauge",
        "Time of the last run of this hook phase, schedule or command (Unix seconds).",
    );
    for run in &r.runs {
        let l = run_labels(run);
        let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
        f.sample(&l, run.time_unix as f64);
    }

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_problems",
        "gauge",
        "Stale or failing items found by this status run (status exits 1 when above 0).",
    );
    f.sample(&[], r.problems.len() as f64);

    let mut f = family(
        &mut out,
        "pve_ontap_snapshot_status_timestamp_seconds",
        "gauge",
        "When this status was computed (Unix seconds).",
    );
    f.sample(&[], r.time_unix as f64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Record, Trigger};
    use crate::model::status::{evaluate, Facts, Inputs, SnapFact, StorageInput, VolumeFacts};
    use time::macros::datetime;

    #[test]
    fn every_family_has_help_and_type_and_values_are_escaped() {
        let now = datetime!(2026-12-01 12:00:00 UTC);
        let mut failed = Record::now("pve1", Trigger::Hook, "post-stop", "storage-snapshot")
            .failed("quote \" backslash \\ newline \n end");
        failed.time = "2026-12-01T11:00:00Z".into();
        failed.vmid = Some(100);
        failed.storage = Some("ONTAP01".into());
        let report = evaluate(&Inputs {
            now,
            storages: vec![StorageInput {
                storage: "ONTAP01".into(),
                facts: Facts::Read(VolumeFacts {
                    volume: "vol1".into(),
                    snapshot_count: 3,
                    snapshot_bytes: Some(8192),
                    used_bytes: Some(100),
                    size_bytes: Some(1000),
                    locking_enabled: Some(true),
                    snapshots: vec![SnapFact {
                        name: "proxmox_snapshot_2026-12-01_11:00:00+0000".into(),
                        label: Some("hourly".into()),
                        created: datetime!(2026-12-01 11:00:00 UTC),
                        lock_expiry: None,
                    }],
                }),
                capacity: Default::default(),
            }],
            guests: vec![],
            journal: vec![failed],
            rules: vec![],
            offline: false,
        });
        let text = render(&report);
        assert!(text.contains(
            "pve_ontap_snapshot_last_success_timestamp_seconds{storage=\"ONTAP01\",label=\"hourly\"} 1796122800\n"
        ), "{text}");
        assert!(text.contains(
            "pve_ontap_snapshot_last_run_success{trigger=\"hook\",source=\"post-stop\",action=\"storage-snapshot\",vmid=\"100\",storage=\"ONTAP01\"} 0\n"
        ), "{text}");
        assert!(
            text.contains("pve_ontap_snapshot_volume_snapshot_bytes{storage=\"ONTAP01\"} 8192\n")
        );
        assert!(text.contains("pve_ontap_snapshot_problems 1\n"));
        let mut helps = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helps += 1;
                let name = rest.split(' ').next().unwrap();
                assert!(text.contains(&format!("# TYPE {name} gauge\n")), "{name}");
            } else if !line.starts_with('#') {
                assert!(line.starts_with("pve_ontap_snapshot_"), "{line}");
                assert!(!line.contains('\n'));
            }
        }
        assert_eq!(helps, 14);
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
