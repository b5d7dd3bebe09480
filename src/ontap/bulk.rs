//! Query-based snapshot deletes: the `name=` queries that select exactly the snapshots to delete
//! (exact names, and `prefix*` where every snapshot with that prefix goes), split to a bounded length.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::percent_encode;

use super::errors::is_not_found;
use super::request::{literal, target, Mutation, Requester};
use super::{OntapVersion, SnapshotBatch};

/// The first release whose query-based snapshot DELETE is one job with per-record results
/// (netapp-ontap 9.11.1+ `_check_multi_record_response`); before it each record gets its own job.
pub(crate) const BULK_SINCE: OntapVersion = OntapVersion::new(9, 11, 0);

/// Longest percent-encoded `name=` value of one request: well below the 8 KiB request line many
/// HTTP servers accept, with room for the path and the other parameters.
pub(crate) const MAX_QUERY_VALUE: usize = 6000;

/// What to send for a set of snapshot names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct NameQueries {
    /// `name=` values (alternatives joined with `|`), each at most the length asked for.
    pub queries: Vec<String>,
    /// Names that a query cannot select alone (another snapshot differs only in letter case, and
    /// ONTAP matches names case-insensitively): delete these one by one.
    pub singles: Vec<String>,
}

/// A prefix may end in `*` only when it has no query operator in it.
fn wildcard_safe(prefix: &str) -> bool {
    !prefix.contains(['*', '|', ',', '!', '<', '>', '{', '}', '"']) && !prefix.contains("..")
}

/// Build the queries that select `delete` among `all` (every snapshot name of the volume, which
/// includes `delete`). A `prefix*` pattern is used only where every name of the volume starting with
/// that prefix (case-insensitively, as ONTAP matches) is to be deleted, and the prefix is at least
/// `min_prefix` long; everything else is an exact (quoted when needed) name.
pub(crate) fn name_queries(
    all: &[String],
    delete: &[String],
    min_prefix: usize,
    max_len: usize,
) -> NameQueries {
    let mut out = NameQueries::default();
    let wanted: BTreeSet<String> = delete.iter().map(|n| n.to_ascii_lowercase()).collect();
    // Names whose lower-case form is shared by two different snapshots go one by one.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut twins: BTreeSet<String> = BTreeSet::new();
    for name in all {
        if !seen.insert(name.to_ascii_lowercase()) {
            twins.insert(name.to_ascii_lowercase());
        }
    }
    let mut keys: Vec<(String, bool)> = Vec::new();
    let mut all_lower: BTreeSet<String> = BTreeSet::new();
    for name in all {
        all_lower.insert(name.to_ascii_lowercase());
    }
    for lower in &all_lower {
        // A twin stays in the trie as a name to keep, so no pattern reaches it.
        keys.push((
            lower.clone(),
            wanted.contains(lower) && !twins.contains(lower),
        ));
    }
    for name in delete {
        if twins.contains(&name.to_ascii_lowercase()) {
            out.singles.push(name.clone());
        }
    }
    // `keys` are sorted; the patterns use the spelling of the names asked for.
    let spelled: std::collections::BTreeMap<String, &String> =
        delete.iter().map(|n| (n.to_ascii_lowercase(), n)).collect();
    let mut alternatives = Vec::new();
    cover(&keys, 0, min_prefix, &spelled, &mut alternatives);
    out.queries = pack(&alternatives, max_len);
    out
}

/// Alternatives for the sorted `keys` sharing their first `depth` bytes.
fn cover(
    keys: &[(String, bool)],
    depth: usize,
    min_prefix: usize,
    spelled: &std::collections::BTreeMap<String, &String>,
    out: &mut Vec<String>,
) {
    if keys.iter().all(|(_, d)| !d) {
        return;
    }
    let exact = |key: &str, out: &mut Vec<String>| {
        let name = spelled.get(key).map_or(key, |n| n.as_str());
        out.push(literal(name));
    };
    if keys.len() == 1 {
        exact(&keys[0].0, out);
        return;
    }
    let first = &keys[0].0;
    if keys.iter().all(|(_, d)| *d) && depth >= min_prefix && first.is_char_boundary(depth) {
        let prefix = &first[..depth];
        if wildcard_safe(prefix) {
            // The spelling of the prefix: from a name asked for (case does not matter to ONTAP).
            let name = spelled.get(first).map_or(first.as_str(), |n| n.as_str());
            out.push(format!("{}*", &name[..depth]));
            return;
        }
    }
    let mut rest = keys;
    // A name that ends here is its own alternative.
    if let Some((key, delete)) = rest.first().filter(|(k, _)| k.len() == depth) {
        if *delete {
            exact(key, out);
        }
        rest = &rest[1..];
    }
    while !rest.is_empty() {
        let byte = rest[0].0.as_bytes()[depth];
        let end = rest
            .iter()
            .position(|(k, _)| k.as_bytes()[depth] != byte)
            .unwrap_or(rest.len());
        cover(&rest[..end], depth + 1, min_prefix, spelled, out);
        rest = &rest[end..];
    }
}

/// Join alternatives with `|` into values whose percent-encoded length stays within `max_len`
/// (an alternative longer than that goes alone).
fn pack(alternatives: &[String], max_len: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for alt in alternatives {
        let len = percent_encode(alt).len();
        let sep = if current.is_empty() { 0 } else { 3 }; // `|` is `%7C`
        if !current.is_empty() && current_len + sep + len > max_len {
            out.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if !current.is_empty() {
            current.push('|');
            current_len += 3;
        }
        current.push_str(alt);
        current_len += len;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// What a many-snapshot delete did, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotDeletes {
    pub deleted: Vec<String>,
    /// (name, why it is still there).
    pub failed: Vec<(String, String)>,
}

/// HTTP statuses that refuse a query-based DELETE before any job starts (unknown parameter, no
/// DELETE on the collection, request line too long): nothing was deleted, single deletes may follow.
fn refused_before_start(e: &Error) -> bool {
    matches!(e, Error::Api(_))
        && e.api()
            .is_some_and(|a| matches!(a.status, 400 | 405 | 413 | 414 | 431))
}

/// Delete the batch's names with query-based DELETEs: `name=` queries from `name_queries`,
/// bounded by `create_time<=` the newest one so that a snapshot made after the listing can never
/// match, `continue_on_failure=true`, each request one job. `Ok(None)`: ONTAP refused the first
/// request before deleting anything, or a name needs a delete of its own (the caller deletes one
/// by one).
///
/// When a job ends in failure, the job's results (`job_results_uuid`) give each failed record's
/// message, and one listing of the volume's snapshots says which names are still there.
pub(crate) fn delete_by_query(
    req: &Requester,
    volume_uuid: &str,
    batch: &SnapshotBatch,
) -> Result<Option<SnapshotDeletes>> {
    let names = &batch.names;
    let plan = name_queries(&batch.all_names, names, batch.min_prefix, MAX_QUERY_VALUE);
    if !plan.singles.is_empty() || batch.newest_create_time.is_empty() {
        return Ok(None);
    }
    let newest_create_time = &batch.newest_create_time;
    let path = format!(
        "/api/storage/volumes/{}/snapshots",
        percent_encode(volume_uuid)
    );
    let mut out = SnapshotDeletes::default();
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut refusal = None;
    for (i, value) in plan.queries.iter().enumerate() {
        let mut m = Mutation::new("DELETE", path.clone(), None);
        m.query.push(("name", value.clone()));
        m.query
            .push(("create_time", format!("<={newest_create_time}")));
        m.query.push(("continue_on_failure", "true".into()));
        // A repeated query deletes what is left of the same set: safe to send again.
        m.resend = true;
        match req.mutate(m) {
            Ok(_) => {}
            // Answered 202, then the job failed: its results name each failed record.
            Err(Error::Job { uuid, message, .. }) => {
                failures.extend(job_failures(req, &path, &uuid, &message));
            }
            // A job that failed within `return_timeout` answers with its error (the first
            // failure's message, no results link); a request refused before any job started
            // answers the same way. The listing below tells them apart.
            Err(e) if e.api().is_some() => {
                if i == 0 && refused_before_start(&e) {
                    refusal = Some(e.to_string());
                }
                let message = e.api().map(|a| a.message.clone()).unwrap_or_default();
                failures.push((quoted_name(&message), message));
            }
            Err(e) => return Err(e),
        }
    }
    if failures.is_empty() {
        out.deleted = names.to_vec();
        return Ok(Some(out));
    }
    // What is still there failed; everything else asked for is gone.
    let left = remaining(req, &path, names)?;
    if let Some(why) = refusal.filter(|_| left.len() == names.len() && plan.queries.len() == 1) {
        log::info!("ONTAP refused the query-based snapshot delete ({why}); deleting one by one");
        return Ok(None);
    }
    for name in names {
        if left.contains(&name.to_ascii_lowercase()) {
            let reason = failures
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, m)| m.clone())
                .or_else(|| {
                    failures
                        .first()
                        .map(|(_, m)| format!("not deleted (the request's error: {m})"))
                })
                .unwrap_or_else(|| "not deleted".to_string());
            out.failed.push((name.clone(), reason));
        } else {
            out.deleted.push(name.clone());
        }
    }
    Ok(Some(out))
}

/// The snapshot an ONTAP message quotes (`Snapshot "<name>" of volume ...`), or "".
fn quoted_name(message: &str) -> String {
    message.split('"').nth(1).unwrap_or_default().to_string()
}

/// (snapshot name or "" when unknown, message) of each failed record of a job; the job's own
/// message when its results cannot be read.
fn job_failures(req: &Requester, path: &str, job: &str, message: &str) -> Vec<(String, String)> {
    let t = target(path, &[("job_results_uuid", job.to_string())]);
    let deadline = std::time::Instant::now() + req.budget();
    let errors = match req.get_value(&t, deadline) {
        Ok(v) => v
            .get("errors")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        Err(e) => {
            log::debug!("no results for ONTAP job {job}: {e}");
            Vec::new()
        }
    };
    if errors.is_empty() {
        return vec![(String::new(), message.to_string())];
    }
    errors
        .iter()
        .map(|e| {
            let text = e.get("message").and_then(Value::as_str).unwrap_or(message);
            (quoted_name(text), text.to_string())
        })
        .collect()
}

/// Lower-case names of `names` that the volume still has (one listing).
fn remaining(req: &Requester, path: &str, names: &[String]) -> Result<BTreeSet<String>> {
    let wanted: BTreeSet<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    let records = match req.get_records(path, &[], "name") {
        Ok(r) => r,
        Err(e) if is_not_found(&e) => Vec::new(),
        Err(e) => return Err(e),
    };
    Ok(records
        .iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .map(str::to_ascii_lowercase)
        .filter(|n| wanted.contains(n))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Which of `all` a query value selects, as ONTAP's `name=` filter would (case-insensitive).
    fn selects(query: &str, all: &[String]) -> Vec<String> {
        let alts: Vec<&str> = query.split('|').collect();
        all.iter()
            .filter(|n| {
                let n = n.to_ascii_lowercase();
                alts.iter().any(|a| {
                    let a = a.to_ascii_lowercase();
                    match a.strip_suffix('*') {
                        Some(p) => n.starts_with(p),
                        None => a.trim_start_matches('{').trim_end_matches('}') == n,
                    }
                })
            })
            .cloned()
            .collect()
    }

    fn hourly(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "proxmox_snapshot_2026-{:02}-{:02}_{:02}:00:00+0000",
                    1 + i / (24 * 28),
                    1 + (i / 24) % 28,
                    i % 24
                )
            })
            .collect()
    }

    #[test]
    fn keeping_the_newest_ten_of_a_thousand_fits_in_one_short_query() {
        let mut all = hourly(1000);
        all.push("hourly.2026-11-01_0105".into());
        all.sort();
        let managed: Vec<String> = all
            .iter()
            .filter(|n| n.starts_with("proxmox_"))
            .cloned()
            .collect();
        let delete = managed[..managed.len() - 10].to_vec();
        let q = name_queries(&all, &delete, "proxmox_snapshot_".len(), MAX_QUERY_VALUE);
        assert_eq!(q.queries.len(), 1, "{q:?}");
        assert!(q.queries[0].len() < 1000, "{}", q.queries[0]);
        assert!(q.singles.is_empty());
        let mut got = selects(&q.queries[0], &all);
        got.sort();
        let mut want = delete.clone();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn scattered_names_are_exact_and_split_by_length() {
        let all = hourly(600);
        // Every other one: no prefix covers two of them.
        let delete: Vec<String> = all.iter().step_by(2).cloned().collect();
        let q = name_queries(&all, &delete, 0, 2000);
        assert!(q.queries.len() > 1);
        for value in &q.queries {
            assert!(percent_encode(value).len() <= 2000, "{value}");
        }
        let mut got: Vec<String> = q.queries.iter().flat_map(|v| selects(v, &all)).collect();
        got.sort();
        let mut want = delete;
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn patterns_never_reach_a_name_that_stays_or_go_below_the_minimum_prefix() {
        let all = names(&["snap_a1", "snap_a2", "snap_a3", "snap_b1", "keep_a1"]);
        let q = name_queries(
            &all,
            &names(&["snap_a1", "snap_a2", "snap_a3", "snap_b1"]),
            5,
            100,
        );
        assert_eq!(q.queries, ["snap_*"]);
        let q = name_queries(&all, &names(&["snap_a1", "snap_a2", "snap_a3"]), 5, 100);
        assert_eq!(q.queries, ["snap_a*"]);
        // Below the minimum prefix only exact names.
        let q = name_queries(&all, &names(&["snap_a1", "snap_a2"]), 7, 100);
        assert_eq!(q.queries, ["snap_a1|snap_a2"]);
        let q = name_queries(&all, &[], 0, 100);
        assert!(q.queries.is_empty());
    }

    #[test]
    fn case_twins_go_one_by_one_and_operators_are_quoted() {
        let all = names(&["Snap1", "snap1", "a|b", "a|c"]);
        let q = name_queries(&all, &names(&["Snap1", "a|b", "a|c"]), 3, 100);
        assert_eq!(q.singles, ["Snap1"]);
        assert_eq!(q.queries, ["{a|b}|{a|c}"]);
        // A prefix pattern never covers a twin.
        let q = name_queries(&all, &names(&["Snap1", "a|b", "a|c"]), 0, 100);
        assert_eq!(q.queries, ["a*"]);
    }
}
