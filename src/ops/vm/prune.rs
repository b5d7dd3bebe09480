//! `vm prune`: retention over a guest's snapshot sets (by timestamp, per label, or only one label)
//! with `model::retention::select`; a set's files of the pruned label are deleted together.

use crate::error::{Error, Result, ResultExt};
use crate::model::retention::{self, Item, Retention};
use std::collections::BTreeSet;

use crate::model::names;
use crate::ops::vm::delete::delete_labelled;
use crate::ops::vm::{list, Ctx, PruneReport};
use crate::ops::Backends;
use crate::sys::signals;

pub(super) fn run(
    b: &dyn Backends,
    vmid: u32,
    rule: Retention,
    label: Option<&str>,
    dry_run: bool,
    ctx: &Ctx<'_>,
) -> Result<PruneReport> {
    if rule.keep_last.is_none() && rule.keep_within.is_none() {
        return Err(Error::Usage(
            "vm prune needs --keep-last N and/or --keep-within DURATION".into(),
        ));
    }
    if let Some(label) = label {
        names::check_label(label).map_err(Error::Usage)?;
    }
    let scan = list::scan(b, vmid, ctx)?;
    // A set holds the files of one second; files of another label from that second (another
    // hook, a schedule) belong to that label's retention, not to this one.
    // A set a dead run left incomplete is no snapshot: it is removed, never kept.
    let incomplete: Vec<(&str, Option<String>)> = scan
        .sets
        .iter()
        .filter(|s| s.partial.is_some())
        .flat_map(|s| {
            let labels: BTreeSet<Option<String>> =
                s.files.iter().map(|f| f.label.clone()).collect();
            labels
                .into_iter()
                .filter(|l| label.is_none() || l.as_deref() == label)
                .map(|l| (s.timestamp.as_str(), l))
        })
        .collect();
    let items: Vec<Item> = scan
        .sets
        .iter()
        .filter(|s| s.partial.is_none())
        .flat_map(|s| {
            let labels: BTreeSet<Option<String>> =
                s.files.iter().map(|f| f.label.clone()).collect();
            labels
                .into_iter()
                .filter(|l| label.is_none() || l.as_deref() == label)
                .filter_map(|l| {
                    Some(Item {
                        name: s.timestamp.clone(),
                        created: s.created?,
                        label: l,
                    })
                })
        })
        .collect();
    let (keep, mut delete) = retention::select(&items, rule, ctx.now);
    delete.extend(incomplete.into_iter().filter_map(|(ts, label)| {
        let created = scan.find(ts).ok()?.created?;
        Some(Item {
            name: ts.to_string(),
            created,
            label,
        })
    }));
    let mut report = PruneReport {
        vmid,
        kept: keep.into_iter().map(|i| i.name).collect(),
        deleted: Vec::new(),
        dry_run,
    };
    if dry_run {
        report.deleted = delete.into_iter().map(|i| i.name).collect();
        return Ok(report);
    }
    // A signal ends the prune between two sets, never inside one.
    let _shield = signals::shield()?;
    for item in delete {
        if let Some(signal) = (ctx.interrupt)() {
            return Err(Error::Interrupted(signal)).step_with(|| {
                format!(
                    "prune guest {vmid} (deleted: {})",
                    report.deleted.join(", ")
                )
            });
        }
        let set = scan.find(&item.name)?;
        delete_labelled(&scan, set, item.label.as_deref()).step_with(|| {
            format!(
                "prune guest {vmid} (deleted before: {})",
                report.deleted.join(", ")
            )
        })?;
        report.deleted.push(item.name);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testing::double::Double;
    use crate::testing::scenario::{ctx, volume_uuid};

    fn add_sets(b: &Double) -> Vec<String> {
        let o1 = volume_uuid("ONTAP01");
        let mut names = Vec::new();
        for (day, label) in [
            (1, None),
            (2, Some("daily")),
            (3, None),
            (4, Some("daily")),
            (5, None),
        ] {
            let ts = format!("2026-04-0{day}_00:00:00+0000");
            let file = names::disk_snapshot_file_labeled("vm-100-disk-0.qcow2", &ts, label);
            b.add_file(&o1, &format!("images/100/{file}"), 1);
            names.push(ts);
        }
        names
    }

    #[test]
    fn needs_a_rule() {
        let b = Double::vm();
        let e = run(&b, 100, Retention::default(), None, false, &ctx()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn keeps_the_newest_per_label() {
        let b = Double::vm();
        let names = add_sets(&b);
        let rule = Retention {
            keep_last: Some(1),
            keep_within: None,
        };
        let r = run(&b, 100, rule, None, true, &ctx()).unwrap();
        assert!(r.dry_run);
        let mut kept = r.kept.clone();
        kept.sort();
        assert_eq!(kept, [names[3].clone(), names[4].clone()]);
        // A dry run deletes nothing.
        assert_eq!(b.snapshot_files(&volume_uuid("ONTAP01")).len(), 5);

        let r = run(&b, 100, rule, None, false, &ctx()).unwrap();
        assert_eq!(r.deleted.len(), 3);
        let left = b.snapshot_files(&volume_uuid("ONTAP01"));
        assert_eq!(left.len(), 2);
    }

    #[test]
    fn files_of_another_label_from_the_same_second_are_left_alone() {
        let b = Double::vm();
        let o1 = volume_uuid("ONTAP01");
        let add = |ts: &str, label: &str| {
            let file = names::disk_snapshot_file_labeled("vm-100-disk-0.qcow2", ts, Some(label));
            b.add_file(&o1, &format!("images/100/{file}"), 1);
        };
        let (t1, t2, t3) = (
            "2026-04-01_00:00:00+0000",
            "2026-04-02_00:00:00+0000",
            "2026-04-03_00:00:00+0000",
        );
        add(t1, "a");
        add(t2, "a");
        add(t2, "b");
        add(t3, "b");
        let rule = Retention {
            keep_last: Some(1),
            keep_within: None,
        };
        let r = run(&b, 100, rule, Some("b"), false, &ctx()).unwrap();
        assert_eq!(r.deleted, [t2.to_string()]);
        let mut left = b.snapshot_files(&o1);
        left.sort();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(
            left.iter().any(|f| f.contains(&format!("-a-{t2}"))),
            "{left:?}"
        );
        assert!(
            !left.iter().any(|f| f.contains(&format!("-b-{t2}"))),
            "{left:?}"
        );
        let r = run(&b, 100, rule, Some("a"), false, &ctx()).unwrap();
        assert_eq!(r.deleted, [t1.to_string()]);
        assert_eq!(b.snapshot_files(&o1).len(), 2);
    }

    #[test]
    fn only_the_given_label() {
        let b = Double::vm();
        let names = add_sets(&b);
        let rule = Retention {
            keep_last: None,
            keep_within: Some(Duration::from_secs(3600)),
        };
        let r = run(&b, 100, rule, Some("daily"), false, &ctx()).unwrap();
        let mut deleted = r.deleted.clone();
        deleted.sort();
        assert_eq!(deleted, [names[1].clone(), names[3].clone()]);
        assert_eq!(b.snapshot_files(&volume_uuid("ONTAP01")).len(), 3);
    }
}
