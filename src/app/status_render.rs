//! `status` as text: a first line a monitoring check can show (`OK: ...` or `PROBLEM: ...`), one
//! line per problem, then tables of storages, the newest snapshot per label, and the last runs.

use crate::output::{opt_size, short_time, Align, Table};

use crate::model::outcome::Outcome;
use crate::model::status::{age_text, LabelStatus, Report};

fn dash(v: Option<&str>) -> String {
    match v {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    }
}

fn label_row(owner: String, l: &LabelStatus) -> Vec<String> {
    let state = if l.stale { "STALE" } else { "ok" };
    vec![
        owner,
        dash(Some(&l.label)),
        l.newest.clone(),
        age_text(l.age_seconds),
        l.max_age_seconds
            .map_or_else(|| "-".to_string(), |m| format!("{} {state}", age_text(m))),
        dash(l.locked_until.as_deref().map(short_time).as_deref()),
    ]
}

/// The whole text output.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let shown = format!(
        "{} storage{}, {} guest{}, {} run{} in the journal{}",
        r.storages.len(),
        plural(r.storages.len()),
        r.guests.len(),
        plural(r.guests.len()),
        r.runs.len(),
        plural(r.runs.len()),
        if r.offline {
            " (offline: journal only)"
        } else {
            ""
        }
    );
    if r.problems.is_empty() {
        out.push_str(&format!("OK: {shown}, no problem\n"));
    } else {
        let n = r.problems.len();
        out.push_str(&format!("PROBLEM: {n} problem{} ({shown})\n", plural(n)));
        for p in &r.problems {
            out.push_str(&format!("problem: {p}\n"));
        }
    }

    if r.storages
        .iter()
        .any(|s| s.volume.is_some() || s.error.is_some())
    {
        let mut t = Table::new(&[
            ("STORAGE", Align::Left),
            ("VOLUME", Align::Left),
            ("SNAPSHOTS", Align::Right),
            ("SNAPSHOT SPACE", Align::Right),
            ("USED", Align::Right),
            ("CAPACITY", Align::Left),
            ("LOCKING", Align::Left),
        ]);
        for s in &r.storages {
            if let Some(e) = &s.error {
                t.row([
                    s.storage.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "unknown".into(),
                    format!("(not read: {})", e.lines().next().unwrap_or_default()),
                ]);
                continue;
            }
            let used = match (s.used_bytes, s.size_bytes) {
                (Some(u), Some(z)) => format!("{} of {}", opt_size(Some(u)), opt_size(Some(z))),
                _ => "-".into(),
            };
            t.row([
                s.storage.clone(),
                dash(s.volume.as_deref()),
                s.snapshot_count
                    .map_or_else(|| "-".into(), |n| format!("{n}/{}", s.snapshot_limit)),
                opt_size(s.snapshot_bytes),
                used,
                s.capacity.to_string(),
                match s.locking_enabled {
                    Some(true) => "enabled".into(),
                    Some(false) => "disabled".into(),
                    None => "unsupported".into(),
                },
            ]);
        }
        out.push('\n');
        out.push_str(&t.render());
    }

    let mut t = Table::new(&[
        ("STORAGE/GUEST", Align::Left),
        ("LABEL", Align::Left),
        ("NEWEST", Align::Left),
        ("AGE", Align::Right),
        ("MAX AGE", Align::Left),
        ("LOCKED UNTIL", Align::Left),
    ]);
    for s in &r.storages {
        for l in &s.labels {
            t.row(label_row(s.storage.clone(), l));
        }
    }
    for g in &r.guests {
        for l in &g.labels {
            t.row(label_row(format!("guest {}", g.vmid), l));
        }
    }
    out.push('\n');
    if t.is_empty() {
        out.push_str("no snapshot of this tool found\n");
    } else {
        out.push_str(&t.render());
    }

    let mut t = Table::new(&[
        ("LAST RUN", Align::Left),
        ("ACTION", Align::Left),
        ("GUEST", Align::Right),
        ("STORAGE", Align::Left),
        ("NODE", Align::Left),
        ("TIME", Align::Left),
        ("RESULT", Align::Left),
        ("SNAPSHOT", Align::Left),
    ]);
    for run in &r.runs {
        let result = match (run.result, run.reused) {
            (Outcome::Ok, true) => "ok (reused)".to_string(),
            (Outcome::Ok, false) => "ok".to_string(),
            (Outcome::Failed, _) => format!(
                "FAILED: {}",
                run.error.as_deref().unwrap_or("no error recorded")
            ),
        };
        t.row([
            format!("{} {}", run.trigger.as_str(), run.source),
            run.action.clone(),
            run.vmid.map_or_else(|| "-".into(), |v| v.to_string()),
            dash(run.storage.as_deref()),
            run.node.clone(),
            short_time(&run.time),
            result,
            dash(run.snapshot.as_deref()),
        ]);
    }
    out.push('\n');
    if t.is_empty() {
        out.push_str("no run recorded in the journal yet\n");
    } else {
        out.push_str(&t.render());
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Record, Trigger};
    use crate::model::status::{evaluate, parse_max_age, Facts, Inputs, StorageInput};
    use time::macros::datetime;

    #[test]
    fn problems_come_first_one_per_line() {
        let mut failed = Record::now("pve1", Trigger::Hook, "post-stop", "storage-snapshot")
            .failed("ONTAP said no");
        failed.time = "2026-12-01T11:00:00Z".into();
        failed.vmid = Some(100);
        let report = evaluate(&Inputs {
            now: datetime!(2026-12-01 12:00:00 UTC),
            storages: vec![StorageInput {
                storage: "ONTAP01".into(),
                facts: Facts::Failed("HTTP 401".into()),
                capacity: Default::default(),
            }],
            guests: vec![],
            journal: vec![failed],
            rules: parse_max_age("hourly=2h", "--max-age").unwrap(),
            offline: false,
        });
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "PROBLEM: 2 problems (1 storage, 0 guests, 1 run in the journal)"
        );
        assert_eq!(
            lines[1],
            "problem: storage ONTAP01: could not read its ONTAP volume: HTTP 401"
        );
        assert!(lines[2].starts_with("problem: hook post-stop guest 100: storage-snapshot failed"));
        assert!(text.contains("FAILED: ONTAP said no"), "{text}");
    }

    #[test]
    fn all_well_is_one_ok_line() {
        let report = evaluate(&Inputs {
            now: datetime!(2026-12-01 12:00:00 UTC),
            storages: vec![],
            guests: vec![],
            journal: vec![],
            rules: vec![],
            offline: true,
        });
        assert!(render(&report).starts_with(
            "OK: 0 storages, 0 guests, 0 runs in the journal (offline: journal only), no problem\n"
        ));
    }
}
