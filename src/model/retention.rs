//! Retention: which snapshots to keep and which to delete for `--keep-last N` / `--keep-within D`,
//! per label. Pure functions over (name, time, label); the callers decide what may be touched at all.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;

/// A retention rule; both bounds may be given (a snapshot is kept if either keeps it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    pub keep_last: Option<usize>,
    pub keep_within: Option<Duration>,
}

impl Retention {
    /// No rule given: `select` keeps everything (the CLI refuses a prune without a rule).
    pub fn is_empty(&self) -> bool {
        self.keep_last.is_none() && self.keep_within.is_none()
    }
}

/// One candidate for pruning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub name: String,
    pub created: OffsetDateTime,
    pub label: Option<String>,
}

/// Split `items` into (keep, delete), applying `rule` separately within each label group.
///
/// Within a group, `keep_last` keeps the N newest (ties broken by name, the greater name counting
/// as newer), `keep_within` keeps everything created at or after `now - D` (including anything
/// dated in the future). A snapshot is kept when any given rule keeps it; with no rule at all
/// everything is kept. Both returned lists keep the order of `items`.
pub fn select(items: &[Item], rule: Retention, now: OffsetDateTime) -> (Vec<Item>, Vec<Item>) {
    if rule.is_empty() {
        return (items.to_vec(), Vec::new());
    }
    let mut keep = vec![false; items.len()];

    let mut groups: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        groups.entry(item.label.as_deref()).or_default().push(i);
    }
    for indices in groups.values_mut() {
        // Newest first.
        indices.sort_by(|&a, &b| {
            (items[b].created, &items[b].name).cmp(&(items[a].created, &items[a].name))
        });
        if let Some(n) = rule.keep_last {
            for &i in indices.iter().take(n) {
                keep[i] = true;
            }
        }
        if let Some(within) = rule.keep_within {
            // A window longer than the calendar can express keeps everything.
            let cutoff = time::Duration::try_from(within)
                .ok()
                .and_then(|d| now.checked_sub(d));
            for &i in indices.iter() {
                if cutoff.is_none_or(|c| items[i].created >= c) {
                    keep[i] = true;
                }
            }
        }
    }

    let mut kept = Vec::new();
    let mut deleted = Vec::new();
    for (item, k) in items.iter().zip(keep) {
        if k {
            kept.push(item.clone());
        } else {
            deleted.push(item.clone());
        }
    }
    (kept, deleted)
}

/// Parse `30d`, `12h`, `90m`, `2w`, `45s` (and combinations like `1d12h`).
///
/// Each part is a decimal number followed by one unit (`s`, `m`, `h`, `d`, `w`); nothing else is
/// accepted (no spaces, signs, fractions or bare numbers). None on anything malformed or longer
/// than [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(number.unwrap_or(0).checked_mul(10)?.checked_add(d.into())?);
            continue;
        }
        let unit: u64 = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    if number.is_some() {
        // Digits without a unit at the end.
        return None;
    }
    let total = Duration::from_secs(total);
    (total <= MAX_DURATION).then_some(total)
}

/// The longest duration `parse_duration` accepts: 100 years (365.25-day), far beyond any retention
/// or expiry, and small enough that `now + d` is always a valid date.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-10 12:00:00 UTC);

    fn item(name: &str, created: OffsetDateTime, label: Option<&str>) -> Item {
        Item {
            name: name.into(),
            created,
            label: label.map(str::to_string),
        }
    }

    fn names(items: &[Item]) -> Vec<&str> {
        items.iter().map(|i| i.name.as_str()).collect()
    }

    fn days_ago(d: i64) -> OffsetDateTime {
        NOW - time::Duration::days(d)
    }

    #[test]
    fn durations_parse_every_unit_and_combination() {
        assert_eq!(parse_duration("45s"), Some(Duration::from_secs(45)));
        assert_eq!(parse_duration("90m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(2_592_000)));
        assert_eq!(parse_duration("2w"), Some(Duration::from_secs(1_209_600)));
        assert_eq!(parse_duration("1d12h"), Some(Duration::from_secs(129_600)));
        assert_eq!(
            parse_duration("1w2d3h4m5s"),
            Some(Duration::from_secs(604_800 + 172_800 + 10_800 + 240 + 5))
        );
        assert_eq!(parse_duration("0s"), Some(Duration::ZERO));
    }

    #[test]
    fn durations_reject_malformed_input() {
        for bad in [
            "", "30", "d", "30x", "1.5d", "-1d", "+1d", " 1d", "1d ", "1 d", "1dd", "1D", "d1",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?} must be rejected");
        }
        assert_eq!(parse_duration("99999999999999999999s"), None);
        assert_eq!(parse_duration("30500000000000w"), None);
        assert_eq!(
            parse_duration("5217w"),
            Some(Duration::from_secs(5217 * 604_800))
        );
        assert_eq!(parse_duration("5218w"), None);
    }

    #[test]
    fn no_rule_keeps_everything() {
        let items = vec![item("a", days_ago(400), None), item("b", days_ago(1), None)];
        let (keep, delete) = select(&items, Retention::default(), NOW);
        assert_eq!(names(&keep), ["a", "b"]);
        assert!(delete.is_empty());
    }

    #[test]
    fn keep_last_keeps_the_newest_whatever_the_input_order() {
        let items = vec![
            item("mid", days_ago(5), None),
            item("oldest", days_ago(9), None),
            item("newest", days_ago(1), None),
            item("old", days_ago(7), None),
        ];
        let rule = Retention {
            keep_last: Some(2),
            keep_within: None,
        };
        let (keep, delete) = select(&items, rule, NOW);
        assert_eq!(names(&keep), ["mid", "newest"]);
        assert_eq!(names(&delete), ["oldest", "old"]);
    }

    #[test]
    fn keep_last_zero_deletes_all_and_large_n_keeps_all() {
        let items = vec![item("a", days_ago(2), None), item("b", days_ago(1), None)];
        let zero = Retention {
            keep_last: Some(0),
            keep_within: None,
        };
        assert_eq!(names(&select(&items, zero, NOW).1), ["a", "b"]);
        let many = Retention {
            keep_last: Some(10),
            keep_within: None,
        };
        assert!(select(&items, many, NOW).1.is_empty());
    }

    #[test]
    fn keep_last_breaks_time_ties_by_name() {
        let t = days_ago(1);
        let items = vec![item("s_a", t, None), item("s_b", t, None)];
        let rule = Retention {
            keep_last: Some(1),
            keep_within: None,
        };
        let (keep, delete) = select(&items, rule, NOW);
        assert_eq!(names(&keep), ["s_b"]);
        assert_eq!(names(&delete), ["s_a"]);
    }

    #[test]
    fn keep_within_is_relative_to_now_and_inclusive() {
        let items = vec![
            item("edge", NOW - time::Duration::days(7), None),
            item(
                "outside",
                NOW - time::Duration::days(7) - time::Duration::seconds(1),
                None,
            ),
            item("inside", days_ago(2), None),
            item("future", NOW + time::Duration::hours(1), None),
        ];
        let rule = Retention {
            keep_last: None,
            keep_within: Some(Duration::from_secs(7 * 86_400)),
        };
        let (keep, delete) = select(&items, rule, NOW);
        assert_eq!(names(&keep), ["edge", "inside", "future"]);
        assert_eq!(names(&delete), ["outside"]);
    }

    #[test]
    fn either_rule_keeps() {
        let items = vec![
            item("d10", days_ago(10), None),
            item("d8", days_ago(8), None),
            item("d3", days_ago(3), None),
            item("d1", days_ago(1), None),
        ];
        // keep_last 1 keeps d1; keep_within 5d keeps d3 and d1; d8 and d10 go.
        let rule = Retention {
            keep_last: Some(1),
            keep_within: Some(Duration::from_secs(5 * 86_400)),
        };
        let (keep, delete) = select(&items, rule, NOW);
        assert_eq!(names(&keep), ["d3", "d1"]);
        assert_eq!(names(&delete), ["d10", "d8"]);
        // keep_last 3 keeps more than the window does.
        let rule = Retention {
            keep_last: Some(3),
            keep_within: Some(Duration::from_secs(86_400)),
        };
        assert_eq!(names(&select(&items, rule, NOW).1), ["d10"]);
    }

    #[test]
    fn each_label_group_is_pruned_separately() {
        let items = vec![
            item("daily1", days_ago(3), Some("daily")),
            item("hourly1", days_ago(3), Some("hourly")),
            item("daily2", days_ago(2), Some("daily")),
            item("hourly2", days_ago(2), Some("hourly")),
            item("none1", days_ago(3), None),
            item("none2", days_ago(1), None),
            item("daily3", days_ago(1), Some("daily")),
        ];
        let rule = Retention {
            keep_last: Some(1),
            keep_within: None,
        };
        let (keep, delete) = select(&items, rule, NOW);
        assert_eq!(names(&keep), ["hourly2", "none2", "daily3"]);
        assert_eq!(names(&delete), ["daily1", "hourly1", "daily2", "none1"]);
    }

    #[test]
    fn huge_window_keeps_everything() {
        let items = vec![item("ancient", datetime!(1970-01-01 0:00 UTC), None)];
        let rule = Retention {
            keep_last: None,
            keep_within: Some(Duration::from_secs(u64::MAX / 2)),
        };
        let (keep, delete) = select(&items, rule, NOW);
        assert_eq!(names(&keep), ["ancient"]);
        assert!(delete.is_empty());
    }
}
