//! Ticket login, renewal and expiry, CSRF enforcement, cookie/header variants, API tokens.

use serde_json::json;

use super::util::*;
use crate::pve::{handle, ROOT_PASSWORD, TOKEN_SECRET};

fn post_ticket(shared: &crate::world::Shared, pairs: &[(&str, &str)]) -> crate::http::Response {
    handle(
        shared,
        &request(
            "POST",
            "/api2/json/access/ticket",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form(pairs),
        ),
        None,
    )
}

#[test]
fn login_returns_ticket_csrf_token_and_cluster_name() {
    let shared = shared(fast());
    let resp = post_ticket(
        &shared,
        &[("username", "root@pam"), ("password", ROOT_PASSWORD)],
    );
    let d = data(&resp);
    assert_eq!(d["username"], "root@pam");
    assert_eq!(d["clustername"], "simcluster");
    let ticket = d["ticket"].as_str().unwrap();
    let parts: Vec<&str> = ticket.split(':').collect();
    assert_eq!(parts[0], "PVE");
    assert_eq!(parts[1], "root@pam");
    assert_eq!(parts[2].len(), 8);
    assert!(parts[2]
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase()));
    assert_eq!(parts[3], "");
    assert!(!parts[4].is_empty());
    let csrf = d["CSRFPreventionToken"].as_str().unwrap();
    assert_eq!(csrf.split(':').next().unwrap().len(), 8);
    assert!(d["cap"]["vms"]["VM.PowerMgmt"] == 1);
}

#[test]
fn login_with_json_body_and_realm_parameter() {
    let shared = shared(fast());
    let body =
        serde_json::to_vec(&json!({"username": "root", "realm": "pam", "password": ROOT_PASSWORD}))
            .unwrap();
    let resp = handle(
        &shared,
        &request(
            "POST",
            "/api2/json/access/ticket",
            &[("Content-Type", "application/json")],
            &body,
        ),
        None,
    );
    assert_eq!(data(&resp)["username"], "root@pam");
}

#[test]
fn bad_password_and_unknown_user_are_refused_with_401() {
    let shared = shared(fast());
    for (user, pass) in [
        ("root@pam", "wrong"),
        ("nobody@pam", ROOT_PASSWORD),
        ("root@pve", ROOT_PASSWORD),
    ] {
        let resp = post_ticket(&shared, &[("username", user), ("password", pass)]);
        assert_eq!(
            failure(&resp),
            (
                401,
                "authentication failure".into(),
                "authentication failure\n".into()
            )
        );
    }
}

#[test]
fn missing_credentials_give_no_ticket() {
    let shared = shared(fast());
    let resp = handle(
        &shared,
        &request("GET", "/api2/json/version", &[], b""),
        None,
    );
    assert_eq!(resp.status, 401);
    assert_eq!(resp.reason, "No ticket");
    assert!(resp.body.is_empty());
}

#[test]
fn non_get_with_ticket_needs_csrf_token() {
    let shared = shared(fast());
    let client = login(&shared);
    let Creds::Ticket { ticket, csrf } = &client.creds else {
        unreachable!()
    };
    let cookie = format!("PVEAuthCookie={}", encode(ticket));
    let target = "/api2/json/nodes/pve1/qemu/100/agent/ping";
    let resp = handle(
        &shared,
        &request("POST", target, &[("Cookie", &cookie)], b""),
        None,
    );
    assert_eq!(resp.status, 401);
    assert_eq!(resp.reason, "Permission denied - invalid csrf token");
    let resp = handle(
        &shared,
        &request(
            "POST",
            target,
            &[
                ("Cookie", &cookie),
                ("CSRFPreventionToken", "0000ABCD:bogus"),
            ],
            b"",
        ),
        None,
    );
    assert_eq!(resp.status, 401);
    let resp = handle(
        &shared,
        &request(
            "POST",
            target,
            &[("Cookie", &cookie), ("CSRFPreventionToken", csrf)],
            b"",
        ),
        None,
    );
    assert_eq!(data(&resp), json!({"result": {}}));
    // GET needs no CSRF token; the ticket also works unescaped and in the Authorization header.
    let raw_cookie = format!("other=1; PVEAuthCookie={ticket}");
    assert_eq!(
        handle(
            &shared,
            &request("GET", "/api2/json/version", &[("Cookie", &raw_cookie)], b""),
            None
        )
        .status,
        200
    );
    let header = format!("PVEAuthCookie={ticket}");
    assert_eq!(
        handle(
            &shared,
            &request(
                "GET",
                "/api2/json/version",
                &[("Authorization", &header)],
                b""
            ),
            None
        )
        .status,
        200
    );
}

#[test]
fn forged_or_expired_tickets_fail() {
    let shared = shared(fast());
    let client = login(&shared);
    let Creds::Ticket { ticket, .. } = &client.creds else {
        unreachable!()
    };
    let forged = ticket.replace("root@pam", "admin@pam");
    let cookie = format!("PVEAuthCookie={}", encode(&forged));
    let resp = handle(
        &shared,
        &request("GET", "/api2/json/version", &[("Cookie", &cookie)], b""),
        None,
    );
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (401, "Authentication failed!")
    );
    assert_eq!(client.get("/version").status, 200);
    shared.world.lock().unwrap().pve.timing.ticket_lifetime_secs = 0;
    let resp = client.get("/version");
    assert_eq!(
        (resp.status, resp.reason.as_str()),
        (401, "Authentication failed!")
    );
}

#[test]
fn ticket_renewal_with_ticket_as_password() {
    let shared = shared(fast());
    let client = login(&shared);
    let Creds::Ticket { ticket, .. } = &client.creds else {
        unreachable!()
    };
    let resp = post_ticket(&shared, &[("username", "root@pam"), ("password", ticket)]);
    let renewed = data(&resp)["ticket"].as_str().unwrap().to_string();
    assert!(renewed.starts_with("PVE:root@pam:"));
    // A ticket of one user does not renew another.
    let resp = post_ticket(&shared, &[("username", "other@pve"), ("password", ticket)]);
    assert_eq!(resp.status, 401);
}

#[test]
fn api_token_needs_no_csrf_and_checks_the_secret() {
    let shared = shared(fast());
    let client = token(&shared);
    assert_eq!(data(&client.get("/version"))["version"], "9.1.2");
    let resp = client.post("/nodes/pve1/qemu/100/agent/ping", &[]);
    assert_eq!(data(&resp), json!({"result": {}}));
    for value in [
        "PVEAPIToken=root@pam!snap=wrong".to_string(),
        format!("PVEAPIToken=root@pam!other={TOKEN_SECRET}"),
        "PVEAPIToken=garbage".to_string(),
    ] {
        let resp = handle(
            &shared,
            &request(
                "GET",
                "/api2/json/version",
                &[("Authorization", &value)],
                b"",
            ),
            None,
        );
        assert_eq!(
            (resp.status, resp.reason.as_str()),
            (401, "Authentication failed!"),
            "{value}"
        );
    }
    // Space separator and URL-escaping are accepted, as in Proxmox.
    let value = format!("PVEAPIToken root%40pam!snap={TOKEN_SECRET}");
    let resp = handle(
        &shared,
        &request(
            "GET",
            "/api2/json/version",
            &[("Authorization", &value)],
            b"",
        ),
        None,
    );
    assert_eq!(resp.status, 200);
}

#[test]
fn token_tasks_show_user_and_token_id() {
    let shared = shared(fast());
    let client = token(&shared);
    let upid = client.task("/nodes/pve1/qemu/100/status/suspend", &[]);
    assert!(upid.ends_with(":qmpause:100:root@pam!snap:"), "{upid}");
    let status = client.task_status(&upid);
    assert_eq!(status["user"], "root@pam");
    assert_eq!(status["tokenid"], "snap");
}
