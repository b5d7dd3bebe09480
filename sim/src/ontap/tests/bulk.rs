//! Query-based DELETE and PATCH on the snapshots collection: one job per request, the query's
//! matches in order, `continue_on_failure`, per-record results, the parameters each release knows.

use serde_json::json;

use super::*;

/// ONTAP01 with snapshots b1..b5 (b2 locked by an expiry time a day ahead); (volume uuid, url).
fn five(sh: &Shared) -> (String, String) {
    let vol = vol_uuid(sh, "ONTAP01");
    let url = format!("/api/storage/volumes/{vol}/snapshots");
    for i in 1..=5 {
        let mut body = json!({"name": format!("b{i}")});
        if i == 2 {
            body["expiry_time"] = json!("2099-01-01T00:00:00Z");
        }
        ok_job(sh, "POST", &url, Some(body));
    }
    (vol, url)
}

fn b_names(sh: &Shared, url: &str) -> Vec<String> {
    names(&get(sh, &format!("{url}?name=b*&order_by=name")))
}

#[test]
fn a_query_delete_removes_every_match_in_one_job() {
    let sh = shared();
    let (_, url) = five(&sh);
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}?name=b1|b3|b4&return_records=true&return_timeout=0"),
        None,
    );
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["num_records"], 3);
    assert_eq!(names(&v), ["b1", "b3", "b4"]);
    let job = v["job"]["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        v["job"]["_links"]["results"]["href"],
        format!("{url}?job_results_uuid={job}")
    );
    assert_eq!(wait_job(&sh, &job)["state"], "success");
    assert_eq!(b_names(&sh, &url), ["b2", "b5"]);
    let r = get(&sh, &format!("{url}?job_results_uuid={job}"));
    assert_eq!(r["num_records"], 3);
    assert_eq!(r["errors"].as_array().map(Vec::len), Some(0));
    // With return_timeout the answer waits for the job.
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}?name=b5&return_timeout=10"),
        None,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(b_names(&sh, &url), ["b2"]);
}

#[test]
fn a_failure_stops_the_job_unless_it_continues_and_each_failure_is_reported() {
    let sh = shared();
    let (_, url) = five(&sh);
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}?name=b*&return_timeout=0"),
        None,
    );
    assert_eq!(s, 202, "{v}");
    let job = v["job"]["uuid"].as_str().unwrap().to_string();
    let j = wait_job(&sh, &job);
    assert_eq!(j["state"], "failure", "{j}");
    assert_eq!(j["code"], 1638555);
    // b1 went, b2 refused, the rest untouched.
    assert_eq!(b_names(&sh, &url), ["b2", "b3", "b4", "b5"]);
    let r = get(&sh, &format!("{url}?job_results_uuid={job}"));
    assert_eq!(names(&r), ["b1"]);
    assert_eq!(r["errors"][0]["code"], "1638555");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("\"b2\""),
        "{r}"
    );

    let j = run_job(
        &sh,
        "DELETE",
        &format!("{url}?name=b*&continue_on_failure=true&return_timeout=0"),
        None,
    );
    assert_eq!(j["state"], "failure");
    assert!(
        j["message"]
            .as_str()
            .unwrap()
            .starts_with("1 of 4 records failed"),
        "{j}"
    );
    assert_eq!(b_names(&sh, &url), ["b2"]);
}

#[test]
fn a_query_patch_changes_every_match() {
    let sh = shared();
    let (_, url) = five(&sh);
    let j = run_job(
        &sh,
        "PATCH",
        &format!("{url}?name=b3|b4&return_timeout=0"),
        Some(json!({"comment": "bulk", "snapmirror_label": "daily"})),
    );
    assert_eq!(j["state"], "success", "{j}");
    let v = get(
        &sh,
        &format!("{url}?comment=bulk&fields=snapmirror_label&order_by=name"),
    );
    assert_eq!(names(&v), ["b3", "b4"]);
    assert_eq!(v["records"][0]["snapmirror_label"], "daily");
    // One name for several snapshots: the first takes it, the others fail as duplicates.
    let j = run_job(
        &sh,
        "PATCH",
        &format!("{url}?name=b3|b4&continue_on_failure=true&return_timeout=0"),
        Some(json!({"name": "x"})),
    );
    assert_eq!(j["state"], "failure", "{j}");
    assert_eq!(j["code"], 525059);
    assert_eq!(b_names(&sh, &url), ["b1", "b2", "b4", "b5"]);
}

#[test]
fn parameters_and_refusals() {
    let sh = shared();
    let (_, url) = five(&sh);
    // No query: the collection is not deleted as a whole.
    let (s, _) = call(&sh, "DELETE", &url, None);
    assert_eq!(s, 405);
    let (s, v) = call(&sh, "DELETE", &format!("{url}?nosuchfield=1"), None);
    assert_eq!((s, err_code(&v)), (400, "262179"));
    let (s, v) = call(
        &sh,
        "DELETE",
        &format!("{url}?name=b1&serial_records=true&return_timeout=0"),
        None,
    );
    assert_eq!(s, 202, "{v}");
    // A query that matches nothing is a job with nothing to do.
    let j = run_job(
        &sh,
        "DELETE",
        &format!("{url}?name=nothing&return_timeout=0"),
        None,
    );
    assert_eq!(j["state"], "success");
    // serial_records is unknown before 9.10.
    let old = shared_with(Scenario {
        version: "9.9.1".into(),
        ..scenario()
    });
    let vol = vol_uuid(&old, "ONTAP01");
    let (s, v) = call(
        &old,
        "DELETE",
        &format!("/api/storage/volumes/{vol}/snapshots?name=x&serial_records=true"),
        None,
    );
    assert_eq!((s, err_code(&v)), (400, "262179"));
}
