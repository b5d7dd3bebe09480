//! Query-based PATCH and DELETE on the snapshots collection: the records a query selects, one job
//! per request acting on them in turn (`continue_on_failure`), and the per-record outcome.
//!
//! ONTAP (9.7 REST docs, "Query-based PATCH and DELETE"; Trident's 9.19.1 bindings
//! `snapshot_delete_collection_parameters.go`): any endpoint with an instance PATCH/DELETE takes
//! the same method on its collection when at least one field filter is in the query; it acts as a
//! query GET followed by the change of every match, one record after the other; a failure stops it
//! unless `continue_on_failure=true`; `serial_records` (default false) asks for the records to be
//! handled one at a time; the default `return_timeout` of a query-based operation is 15 s.
//! From 9.11.1 a multi-record snapshot operation is one job whose `_links.results` lead to
//! `GET .../snapshots?job_results_uuid=<job>` with the records done and an `errors` list
//! (netapp-ontap 9.16 `resource.py` `_check_multi_record_response`).

use serde_json::{json, Value};

use super::errors::ApiError;
use super::fields::{get_path, Schema};
use super::filter;
use super::params::Query;

/// Default `return_timeout` of a query-based PATCH or DELETE (ONTAP: 15 s, not the 0 s of a
/// single-record call).
pub const QUERY_RETURN_TIMEOUT: u64 = 15;

/// One record a query selected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub uuid: String,
    pub name: String,
}

/// A record the job could not change, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    pub record: Selected,
    pub error: ApiError,
}

/// What a multi-record job did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkResult {
    pub done: Vec<Selected>,
    pub failed: Vec<RecordFailure>,
    /// Left alone after a failure without `continue_on_failure`.
    pub skipped: Vec<Selected>,
}

/// The standard parameters of a query-based operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub continue_on_failure: bool,
    pub serial_records: bool,
    pub return_records: bool,
    pub return_timeout: u64,
    /// Act on at most this many records (the rest would need the `next` link).
    pub max_records: Option<u64>,
}

/// Take the standard parameters; `serial_records` only where the release knows it (9.10 on;
/// the first release is not documented, 9.10.1 is the first client that sends it).
pub fn options(q: &mut Query, has_serial_records: bool) -> Result<Options, ApiError> {
    let continue_on_failure = q.take_bool("continue_on_failure")?.unwrap_or(false);
    let serial_records = if has_serial_records {
        q.take_bool("serial_records")?.unwrap_or(false)
    } else {
        false
    };
    let return_records = q.take_bool("return_records")?.unwrap_or(false);
    let return_timeout = q
        .take_u64("return_timeout", 0, 120)?
        .unwrap_or(QUERY_RETURN_TIMEOUT);
    let max_records = q.take_u64("max_records", 1, u64::MAX)?;
    Ok(Options {
        continue_on_failure,
        serial_records,
        return_records,
        return_timeout,
        max_records,
    })
}

/// The records (full JSON, as a GET returns them) matching every remaining query parameter, which
/// must all be fields of the collection. No filter at all is refused: a query-based operation needs
/// one (ONTAP does not change a whole collection on a bare DELETE/PATCH).
pub fn select(
    q: &mut Query,
    schema: &Schema,
    method: &str,
    records: &[Value],
    max_records: Option<u64>,
) -> Result<Vec<Selected>, ApiError> {
    let mut filters = Vec::new();
    for (k, v) in q.remaining() {
        if !schema.leaves.contains(&k.as_str()) {
            return Err(ApiError::unexpected_argument(&k));
        }
        filters.push((k, filter::parse(&v)));
    }
    q.take_all();
    if filters.is_empty() {
        // Guess (not documented): the collection itself has no DELETE/PATCH without a query.
        return Err(ApiError::method_not_allowed(method));
    }
    let limit = max_records.map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(records
        .iter()
        .filter(|r| {
            filters
                .iter()
                .all(|(k, alts)| filter::matches(alts, get_path(r, k)))
        })
        .take(limit)
        .map(|r| Selected {
            uuid: text(r, "uuid"),
            name: text(r, "name"),
        })
        .collect())
}

fn text(r: &Value, key: &str) -> String {
    r.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Act on every record in turn with `change`; after a failure stop unless `continue_on_failure`.
pub fn run<S>(
    state: &mut S,
    records: &[Selected],
    continue_on_failure: bool,
    mut change: impl FnMut(&mut S, &Selected) -> Result<(), ApiError>,
) -> BulkResult {
    let mut result = BulkResult::default();
    for (i, record) in records.iter().enumerate() {
        match change(state, record) {
            Ok(()) => result.done.push(record.clone()),
            Err(error) => {
                result.failed.push(RecordFailure {
                    record: record.clone(),
                    error,
                });
                if !continue_on_failure {
                    result.skipped = records[i + 1..].to_vec();
                    break;
                }
            }
        }
    }
    result
}

/// The job's own error when any record failed: the first failure's code, and a message that says
/// how many failed (the wording is a guess; ONTAP's text for a partly failed job is not documented).
pub fn job_error(result: &BulkResult) -> Option<ApiError> {
    let first = result.failed.first()?;
    let total = result.done.len() + result.failed.len() + result.skipped.len();
    let message = if result.failed.len() == 1 && total == 1 {
        first.error.message.clone()
    } else {
        format!(
            "{} of {total} records failed: {}",
            result.failed.len(),
            first.error.message
        )
    };
    Some(ApiError::new(first.error.status, first.error.code, message))
}

/// The body of `GET <collection>?job_results_uuid=<job>`: the records changed and one `errors`
/// entry per failed record (code, message naming the record, `target` the record's uuid).
pub fn results_body(base: &str, job: &str, result: &BulkResult) -> Value {
    let records: Vec<Value> = result
        .done
        .iter()
        .map(|s| {
            json!({"uuid": s.uuid, "name": s.name,
                   "_links": {"self": {"href": format!("{base}/{}", s.uuid)}}})
        })
        .collect();
    let errors: Vec<Value> = result
        .failed
        .iter()
        .map(|f| {
            json!({"code": f.error.code.to_string(), "message": f.error.message,
                   "target": f.record.uuid})
        })
        .collect();
    json!({
        "records": records,
        "num_records": result.done.len(),
        "errors": errors,
        "_links": {"self": {"href": results_href(base, job)}},
    })
}

/// Where a multi-record job's results are: the collection with `job_results_uuid`.
pub fn results_href(base: &str, job: &str) -> String {
    format!("{base}?job_results_uuid={job}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Request;

    fn schema() -> Schema {
        Schema {
            leaves: vec!["uuid", "name", "comment"],
            expensive: vec![],
            defaults: vec!["name", "uuid"],
            key: "uuid",
            keys: vec!["uuid", "name"],
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        let req = Request {
            query: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        };
        Query::new(&req)
    }

    fn records() -> Vec<Value> {
        (1..=5)
            .map(|i| json!({"uuid": format!("u{i}"), "name": format!("snap{i}"), "comment": if i % 2 == 0 { "even" } else { "odd" }}))
            .collect()
    }

    #[test]
    fn a_query_selects_by_any_field_and_none_is_refused() {
        let mut q = query(&[
            ("name", "snap1|snap3|snap9"),
            ("continue_on_failure", "true"),
        ]);
        let o = options(&mut q, true).unwrap();
        assert!(o.continue_on_failure && !o.serial_records && !o.return_records);
        assert_eq!(o.return_timeout, QUERY_RETURN_TIMEOUT);
        let s = select(&mut q, &schema(), "DELETE", &records(), None).unwrap();
        assert_eq!(
            s.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["snap1", "snap3"]
        );
        let mut q = query(&[("comment", "even"), ("name", "snap*")]);
        let s = select(&mut q, &schema(), "PATCH", &records(), Some(1)).unwrap();
        assert_eq!(s[0].name, "snap2");
        assert_eq!(s.len(), 1);
        let e = select(&mut query(&[]), &schema(), "DELETE", &records(), None).unwrap_err();
        assert_eq!(e.status, 405);
        let e = select(
            &mut query(&[("size", "1")]),
            &schema(),
            "DELETE",
            &records(),
            None,
        )
        .unwrap_err();
        assert_eq!(e.code, 262179);
        // Before serial_records existed it is an unknown parameter.
        let mut q = query(&[("serial_records", "true"), ("name", "x")]);
        options(&mut q, false).unwrap();
        assert_eq!(
            select(&mut q, &schema(), "DELETE", &records(), None)
                .unwrap_err()
                .code,
            262179
        );
    }

    #[test]
    fn a_failure_stops_the_job_unless_it_continues_and_every_failure_is_reported() {
        let recs: Vec<Selected> = (1..=4)
            .map(|i| Selected {
                uuid: format!("u{i}"),
                name: format!("s{i}"),
            })
            .collect();
        let fail_two = |_: &mut (), r: &Selected| {
            if r.name == "s2" {
                Err(ApiError::new(409, 1638543, "Snapshot \"s2\" has an owner."))
            } else {
                Ok(())
            }
        };
        let stop = run(&mut (), &recs, false, fail_two);
        assert_eq!(stop.done.len(), 1);
        assert_eq!(stop.failed[0].record.name, "s2");
        assert_eq!(
            stop.skipped
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["s3", "s4"]
        );
        let go_on = run(&mut (), &recs, true, fail_two);
        assert_eq!(go_on.done.len(), 3);
        assert!(go_on.skipped.is_empty());
        let e = job_error(&go_on).unwrap();
        assert_eq!(e.code, 1638543);
        assert_eq!(
            e.message,
            "1 of 4 records failed: Snapshot \"s2\" has an owner."
        );
        assert!(job_error(&run(&mut (), &recs, true, |_, _| Ok(()))).is_none());
        let body = results_body("/api/storage/volumes/v/snapshots", "j1", &go_on);
        assert_eq!(body["num_records"], 3);
        assert_eq!(body["errors"][0]["code"], "1638543");
        assert_eq!(body["errors"][0]["target"], "u2");
        assert_eq!(
            results_href("/api/storage/volumes/v/snapshots", "j1"),
            "/api/storage/volumes/v/snapshots?job_results_uuid=j1"
        );
    }
}
