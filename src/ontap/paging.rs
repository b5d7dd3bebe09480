//! ONTAP collection paging: follow `_links.next.href` verbatim until it is absent, collecting
//! `records` (a next link may come with an empty last page).

use serde_json::Value;

use crate::error::{Error, Result};

/// At most this many pages per collection (a loop guard, far above any real collection).
const MAX_PAGES: usize = 10_000;

/// The `next` link of a page, if any.
pub(crate) fn next_href(page: &Value) -> Option<&str> {
    page.get("_links")
        .and_then(|l| l.get("next"))
        .and_then(|n| n.get("href"))
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
}

/// Every record of a collection: `get` fetches one target (path and query, starting `/api/`).
pub(crate) fn collect(
    first: &str,
    mut get: impl FnMut(&str) -> Result<Value>,
) -> Result<Vec<Value>> {
    let mut records = Vec::new();
    let mut target = first.to_string();
    for _ in 0..MAX_PAGES {
        let mut page = get(&target)?;
        if let Some(Value::Array(r)) = page.get_mut("records").map(Value::take) {
            records.extend(r);
        }
        match next_href(&page) {
            Some(next) if next != target => {
                target = if next.starts_with('/') {
                    next.to_string()
                } else {
                    format!("/api/{}", next.trim_start_matches("api/"))
                };
            }
            _ => return Ok(records),
        }
    }
    Err(Error::Refused(format!(
        "ONTAP GET {first}: more than {MAX_PAGES} pages; giving up"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_next_links_verbatim_until_absent() {
        let mut seen = Vec::new();
        let records = collect("/api/storage/volumes/u/snapshots?fields=name", |t| {
            seen.push(t.to_string());
            Ok(match seen.len() {
                1 => json!({"records": [{"name": "a"}, {"name": "b"}], "num_records": 2,
                            "_links": {"next": {"href": "/api/storage/volumes/u/snapshots?fields=name&start.uuid=b&max_records=2"}}}),
                2 => json!({"records": [{"name": "c"}], "num_records": 1,
                            "_links": {"next": {"href": "/api/storage/volumes/u/snapshots?fields=name&start.uuid=c&max_records=2"}}}),
                _ => json!({"records": [], "num_records": 0}),
            })
        })
        .unwrap();
        let names: Vec<&str> = records.iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen[1],
            "/api/storage/volumes/u/snapshots?fields=name&start.uuid=b&max_records=2"
        );
    }

    #[test]
    fn a_self_referencing_next_link_ends_the_walk() {
        let mut calls = 0;
        let records = collect("/api/x?fields=name", |_| {
            calls += 1;
            Ok(json!({"records": [{"name": "a"}], "_links": {"next": {"href": "/api/x?fields=name"}}}))
        })
        .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(calls, 1);
    }

    #[test]
    fn errors_stop_the_walk() {
        let r = collect("/api/x", |_| Err(Error::Refused("boom".into())));
        assert!(r.is_err());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::json;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn any_page_is_read_without_panic(page in json()) {
            let _ = next_href(&page);
            let mut calls = 0;
            let _ = collect("/api/storage/volumes", |_| {
                calls += 1;
                Ok(if calls == 1 { page.clone() } else { json!({}) })
            });
        }

        #[test]
        fn pages_round_trip(pages in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 0..5), 1..6)) {
            let records = collect("/api/x?max_records=5", |t| {
                let n: usize = t.rsplit_once("page=").map_or(0, |(_, n)| n.parse().unwrap_or(0));
                let mut page = json!({"records": pages[n], "num_records": pages[n].len()});
                if n + 1 < pages.len() {
                    page["_links"] = json!({"next": {"href": format!("/api/x?max_records=5&page={}", n + 1)}});
                }
                Ok(page)
            })
            .unwrap();
            let all: Vec<serde_json::Value> = pages.iter().flatten().map(|r| json!(r)).collect();
            prop_assert_eq!(records, all);
        }
    }
}
