//! The capacity guard run before every snapshot (CLI, hook, schedule) and reported by `check` and
//! `status`: warn when a volume nears ONTAP's snapshot limit or fills up, refuse above the hard limit.
//!
//! Why: ONTAP refuses the 1024th snapshot of a volume, and a volume that snapshots fill stops every
//! guest on it. Refusing a little earlier, with the numbers and the remedy (`storage prune`), leaves
//! room for ONTAP's own policy snapshots and for the administrator to act.

/// Bytes as GiB with one decimal (volumes are large; the exact numbers are in `status --output json`).
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// ONTAP's limit of snapshots per volume.
pub const ONTAP_SNAPSHOT_LIMIT: u64 = 1023;

/// The thresholds, from the storage section (or `[DEFAULT]`); see `Default` for the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// `snapshot_count_warn`: warn at this many snapshots on the volume.
    pub count_warn: u64,
    /// `snapshot_count_max`: refuse a new snapshot at this many.
    pub count_max: u64,
    /// `space_used_warn`: warn at this percentage of the volume used.
    pub used_warn: u64,
    /// `space_used_max`: refuse a new snapshot at this percentage.
    pub used_max: u64,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            count_warn: 900,
            count_max: 1000,
            used_warn: 90,
            used_max: 98,
        }
    }
}

/// The config keys of the thresholds, in `Capacity` field order.
pub const KEYS: [&str; 4] = [
    "snapshot_count_warn",
    "snapshot_count_max",
    "space_used_warn",
    "space_used_max",
];

impl Capacity {
    /// Check the values together: `Err` names the key and the rule.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.count_max > ONTAP_SNAPSHOT_LIMIT {
            return Err((
                KEYS[1],
                format!("at most {ONTAP_SNAPSHOT_LIMIT} (ONTAP's limit of snapshots per volume)"),
            ));
        }
        if self.count_warn > self.count_max {
            return Err((
                KEYS[0],
                format!(
                    "{} is above snapshot_count_max = {}: the warning must come first",
                    self.count_warn, self.count_max
                ),
            ));
        }
        if self.used_max > 100 {
            return Err((KEYS[3], "a percentage, at most 100".into()));
        }
        if self.used_warn > self.used_max {
            return Err((
                KEYS[2],
                format!(
                    "{}% is above space_used_max = {}%: the warning must come first",
                    self.used_warn, self.used_max
                ),
            ));
        }
        Ok(())
    }
}

/// What the guard says about taking one more snapshot now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Go on, but tell the administrator (log at warn, `check`/`status` report it).
    Warn(String),
    /// Do not take the snapshot; the message names the numbers and the remedy.
    Refuse(String),
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn(_) => "warn",
            Verdict::Refuse(_) => "refuse",
        }
    }
}

/// Percentage of the volume used, rounded down; None when ONTAP did not report both numbers.
pub fn used_percent(used: Option<u64>, size: Option<u64>) -> Option<u64> {
    match (used, size) {
        (Some(u), Some(s)) if s > 0 => u64::try_from(u128::from(u) * 100 / u128::from(s)).ok(),
        _ => None,
    }
}

/// The verdict for a volume with `count` snapshots and `used` of `size` bytes used. The worse of
/// the two checks wins; both are named when both trip.
pub fn check(
    cap: &Capacity,
    storage: &str,
    volume: &str,
    count: Option<u64>,
    used: Option<u64>,
    size: Option<u64>,
) -> Verdict {
    let prune = format!(
        "delete old snapshots with `pve-ontap-snapshot storage prune --storage {storage} \
         --keep-last N` (or `storage delete`)"
    );
    let mut refuse = Vec::new();
    let mut warn = Vec::new();
    if let Some(n) = count {
        if n >= cap.count_max {
            refuse.push(format!(
                "volume {volume} holds {n} snapshots (ONTAP's limit of {ONTAP_SNAPSHOT_LIMIT} \
                 snapshots per volume), at or above snapshot_count_max = {}",
                cap.count_max
            ));
        } else if n >= cap.count_warn {
            warn.push(format!(
                "volume {volume} holds {n} snapshots (ONTAP's limit of {ONTAP_SNAPSHOT_LIMIT} \
                 snapshots per volume), at or above snapshot_count_warn = {}",
                cap.count_warn
            ));
        }
    }
    if let (Some(p), Some(u), Some(s)) = (used_percent(used, size), used, size) {
        let numbers = format!(
            "volume {volume} is {p}% full ({} of {} used)",
            gib(u),
            gib(s)
        );
        if p >= cap.used_max {
            refuse.push(format!(
                "{numbers}, at or above space_used_max = {}%",
                cap.used_max
            ));
        } else if p >= cap.used_warn {
            warn.push(format!(
                "{numbers}, at or above space_used_warn = {}%",
                cap.used_warn
            ));
        }
    }
    if !refuse.is_empty() {
        refuse.extend(warn);
        return Verdict::Refuse(format!(
            "storage {storage}: no new snapshot: {}; {prune}",
            refuse.join("; ")
        ));
    }
    if !warn.is_empty() {
        return Verdict::Warn(format!(
            "storage {storage}: {}; {prune} soon",
            warn.join("; ")
        ));
    }
    Verdict::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    #[test]
    fn below_the_thresholds_all_is_well() {
        let c = Capacity::default();
        assert_eq!(
            check(&c, "S", "v", Some(899), Some(89 * GIB), Some(100 * GIB)),
            Verdict::Ok
        );
        assert_eq!(check(&c, "S", "v", None, None, None), Verdict::Ok);
    }

    #[test]
    fn counts_warn_then_refuse_with_numbers_and_remedy() {
        let c = Capacity::default();
        let Verdict::Warn(w) = check(&c, "ONTAP01", "vol1", Some(900), None, None) else {
            panic!("expected a warning");
        };
        assert_eq!(
            w,
            "storage ONTAP01: volume vol1 holds 900 snapshots (ONTAP's limit of 1023 snapshots \
             per volume), at or above snapshot_count_warn = 900; delete old snapshots with `pve-ontap-snapshot \
             storage prune --storage ONTAP01 --keep-last N` (or `storage delete`) soon"
        );
        let Verdict::Refuse(r) = check(&c, "ONTAP01", "vol1", Some(1000), None, None) else {
            panic!("expected a refusal");
        };
        assert!(r.starts_with("storage ONTAP01: no new snapshot: volume vol1 holds 1000 snapshots"));
        assert!(r.contains("storage prune --storage ONTAP01"), "{r}");
    }

    #[test]
    fn space_warns_then_refuses_and_both_are_named() {
        let c = Capacity::default();
        let v = check(&c, "S", "v", Some(10), Some(95 * GIB), Some(100 * GIB));
        assert_eq!(v.as_str(), "warn");
        let Verdict::Refuse(r) = check(&c, "S", "v", Some(950), Some(99 * GIB), Some(100 * GIB))
        else {
            panic!("expected a refusal");
        };
        assert!(
            r.contains(
                "is 99% full (99.0 GiB of 100.0 GiB used), at or above space_used_max = 98%"
            ),
            "{r}"
        );
        assert!(r.contains("snapshot_count_warn = 900"), "{r}");
    }

    #[test]
    fn thresholds_are_validated() {
        assert!(Capacity::default().validate().is_ok());
        let bad = |f: fn(&mut Capacity)| {
            let mut c = Capacity::default();
            f(&mut c);
            c.validate().unwrap_err().0
        };
        assert_eq!(bad(|c| c.count_max = 1024), "snapshot_count_max");
        assert_eq!(bad(|c| c.count_warn = 1001), "snapshot_count_warn");
        assert_eq!(bad(|c| c.used_max = 101), "space_used_max");
        assert_eq!(bad(|c| c.used_warn = 99), "space_used_warn");
    }

    #[test]
    fn percentages_round_down_and_survive_huge_numbers() {
        assert_eq!(used_percent(Some(1), Some(3)), Some(33));
        assert_eq!(used_percent(Some(u64::MAX), Some(u64::MAX)), Some(100));
        assert_eq!(used_percent(Some(1), Some(0)), None);
    }
}
