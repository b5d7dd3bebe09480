//! Request and envelope rules: bodies on GET/DELETE, unknown paths, parameter verification,
//! query merging, the `extjs` format, node proxy failures.

use serde_json::json;

use super::util::*;
use crate::pve::handle;

#[test]
fn delete_or_get_with_a_body_is_refused_with_501() {
    let shared = shared(fast());
    let client = login(&shared);
    let resp = client.send("DELETE", "/storage/ONTAP01", b"force=1", false);
    assert_eq!(resp.status, 501);
    assert_eq!(resp.reason, "Unexpected content for method 'DELETE'");
    let resp = client.send("GET", "/version", b"x=1", false);
    assert_eq!(resp.reason, "Unexpected content for method 'GET'");
    // Nothing was deleted.
    assert_eq!(client.get("/storage/ONTAP01").status, 200);
}

#[test]
fn unknown_paths_are_not_implemented() {
    let shared = shared(fast());
    let client = login(&shared);
    let resp = client.get("/nodes/pve1/frobnicate");
    assert_eq!(
        failure(&resp),
        (
            501,
            "Method 'GET /nodes/pve1/frobnicate' not implemented".into(),
            "Method 'GET /nodes/pve1/frobnicate' not implemented".into()
        )
    );
    let resp = handle(
        &shared,
        &request("GET", "/api2/yaml/version", &[], b""),
        None,
    );
    assert_eq!(resp.status, 501);
    let resp = handle(&shared, &request("GET", "/other", &[], b""), None);
    assert_eq!((resp.status, resp.reason.as_str()), (501, "no such uri"));
}

#[test]
fn parameter_errors_are_400_with_one_message_per_parameter() {
    let shared = shared(fast());
    let client = login(&shared);
    let resp = client.post(
        "/nodes/pve1/qemu/100/status/suspend",
        &[("todisk", "true"), ("bogus", "1")],
    );
    assert_eq!(resp.status, 400);
    assert_eq!(resp.reason, "Parameter verification failed.");
    let body = json(&resp);
    assert_eq!(body["data"], serde_json::Value::Null);
    assert_eq!(body["message"], "Parameter verification failed.\n");
    assert_eq!(
        body["errors"]["todisk"],
        "type check ('boolean') failed - got 'true'"
    );
    assert_eq!(
        body["errors"]["bogus"],
        "property is not defined in schema and the schema does not allow additional properties"
    );
    let resp = client.get("/nodes/pve1/qemu/99/config");
    assert_eq!(
        json(&resp)["errors"]["vmid"],
        "invalid format - value does not look like a valid VM ID\n"
    );
    // JSON bodies may use real booleans and numbers as strings.
    let resp = client.post_json(
        "/nodes/pve1/qemu/100/status/suspend",
        &json!({"todisk": false, "skiplock": "0"}),
    );
    assert!(data(&resp).as_str().unwrap().contains(":qmpause:100:"));
}

#[test]
fn query_parameters_are_merged_into_post_bodies() {
    let shared = shared(fast());
    let client = login(&shared);
    let resp = client.post("/nodes/pve1/qemu/100/status/suspend?todisk=1", &[]);
    assert!(data(&resp).as_str().unwrap().contains(":qmsuspend:100:"));
    // A path parameter repeated with another value in the body is refused.
    let resp = client.post("/nodes/pve1/qemu/100/status/stop", &[("vmid", "101")]);
    assert_eq!(
        json(&resp)["errors"]["vmid"],
        "duplicate parameter (already defined in URI) with conflicting values!"
    );
}

#[test]
fn extjs_format_answers_200_with_success_flag() {
    let shared = shared(fast());
    let client = login(&shared);
    let Creds::Ticket { ticket, .. } = &client.creds else {
        unreachable!()
    };
    let cookie = format!("PVEAuthCookie={ticket}");
    let resp = handle(
        &shared,
        &request(
            "GET",
            "/api2/extjs/storage/nope",
            &[("Cookie", &cookie)],
            b"",
        ),
        None,
    );
    assert_eq!(resp.status, 200);
    let body = json(&resp);
    assert_eq!(body["success"], 0);
    assert_eq!(body["status"], 500);
    assert_eq!(body["message"], "storage 'nope' does not exist\n");
    let resp = handle(
        &shared,
        &request("GET", "/api2/extjs/version", &[("Cookie", &cookie)], b""),
        None,
    );
    assert_eq!(json(&resp)["success"], 1);
}

#[test]
fn unknown_and_offline_nodes_fail_like_the_proxy() {
    let mut scenario = fast();
    scenario.nodes[1].online = false;
    let shared = shared(scenario);
    let client = login(&shared);
    let (status, reason, _) = failure(&client.get("/nodes/pve9/qemu"));
    assert_eq!(status, 500);
    assert!(
        reason.starts_with("hostname lookup 'pve9' failed"),
        "{reason}"
    );
    let resp = client.get("/nodes/pve2/qemu");
    assert_eq!(resp.status, 595);
    let nodes = data(&client.get("/nodes"));
    assert_eq!(nodes[1]["status"], "offline");
}
