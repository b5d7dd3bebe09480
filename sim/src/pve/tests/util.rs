//! Test utilities: a `Shared` world from a scenario, raw requests, and clients that log in with a
//! ticket (+ CSRF token) or an API token.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http::{parse_query, percent_decode, Request, Response};
use crate::job_fault::JobFault;
use crate::pve::{handle, Scenario, ROOT_PASSWORD, TOKEN_SECRET};
use crate::world::{Shared, World};

/// The default scenario with instant tasks and no auth delay.
pub fn fast() -> Scenario {
    let mut s = Scenario::default();
    s.timing.task_ms = 0;
    s.timing.shutdown_ms = 0;
    s.timing.shutdown_timeout_ms = 0;
    s.timing.auth_failure_delay_ms = 0;
    s
}

/// The default scenario with tasks that only end when a test advances the clock.
pub fn slow() -> Scenario {
    let mut s = fast();
    s.timing.task_ms = 3_600_000;
    s.timing.shutdown_ms = 3_600_000;
    s
}

pub fn shared(pve: Scenario) -> Shared {
    let scenario = crate::world::Scenario {
        ontap: Default::default(),
        pve,
    };
    Shared {
        world: Mutex::new(World::new(&scenario)),
        scenario,
        latency: Duration::ZERO,
    }
}

/// Finish every task as if `secs` seconds had passed.
pub fn advance(shared: &Shared, secs: u64) {
    let mut world = shared.world.lock().unwrap();
    world
        .pve
        .advance(Instant::now() + Duration::from_secs(secs));
}

/// A request for `target` (`/api2/json/...?query`), headers as given.
pub fn request(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Request {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Request {
        method: method.into(),
        raw_path: path.into(),
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect(),
        query: parse_query(query),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

pub fn json(resp: &Response) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
}

/// `data` of a successful response (panics with the message otherwise).
pub fn data(resp: &Response) -> Value {
    assert_eq!(
        resp.status,
        200,
        "{} {}",
        resp.reason,
        String::from_utf8_lossy(&resp.body)
    );
    json(resp)["data"].clone()
}

/// Form-encode pairs.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How a client authenticates.
pub enum Creds {
    Ticket { ticket: String, csrf: String },
    Token(String),
}

pub struct Client<'a> {
    pub shared: &'a Shared,
    pub creds: Creds,
    pub fault: Option<JobFault>,
}

/// Log in as root@pam with the default password.
pub fn login(shared: &Shared) -> Client<'_> {
    let body = form(&[("username", "root@pam"), ("password", ROOT_PASSWORD)]);
    let resp = handle(
        shared,
        &request(
            "POST",
            "/api2/json/access/ticket",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &body,
        ),
        None,
    );
    let d = data(&resp);
    Client {
        shared,
        creds: Creds::Ticket {
            ticket: d["ticket"].as_str().unwrap().to_string(),
            csrf: d["CSRFPreventionToken"].as_str().unwrap().to_string(),
        },
        fault: None,
    }
}

/// Authenticate with an API token header value (`PVEAPIToken=user@realm!name=secret`).
pub fn token_header<'a>(shared: &'a Shared, header: &str) -> Client<'a> {
    Client {
        shared,
        creds: Creds::Token(header.to_string()),
        fault: None,
    }
}

/// Authenticate with the default API token.
pub fn token(shared: &Shared) -> Client<'_> {
    Client {
        shared,
        creds: Creds::Token(format!("PVEAPIToken=root@pam!snap={TOKEN_SECRET}")),
        fault: None,
    }
}

impl Client<'_> {
    fn headers(&self, method: &str, json_body: bool) -> Vec<(String, String)> {
        let mut h = Vec::new();
        match &self.creds {
            Creds::Ticket { ticket, csrf } => {
                h.push(("Cookie".into(), format!("PVEAuthCookie={}", encode(ticket))));
                if method != "GET" {
                    h.push(("CSRFPreventionToken".into(), csrf.clone()));
                }
            }
            Creds::Token(value) => h.push(("Authorization".into(), value.clone())),
        }
        let ct = if json_body {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        h.push(("Content-Type".into(), ct.into()));
        h
    }

    pub fn send(&self, method: &str, target: &str, body: &[u8], json_body: bool) -> Response {
        let headers = self.headers(method, json_body);
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let url = format!("/api2/json{target}");
        handle(
            self.shared,
            &request(method, &url, &refs, body),
            self.fault.as_ref(),
        )
    }

    pub fn get(&self, target: &str) -> Response {
        self.send("GET", target, b"", false)
    }

    pub fn post(&self, target: &str, pairs: &[(&str, &str)]) -> Response {
        self.send("POST", target, &form(pairs), false)
    }

    pub fn post_json(&self, target: &str, body: &Value) -> Response {
        self.send("POST", target, &serde_json::to_vec(body).unwrap(), true)
    }

    pub fn put(&self, target: &str, pairs: &[(&str, &str)]) -> Response {
        self.send("PUT", target, &form(pairs), false)
    }

    pub fn delete(&self, target: &str) -> Response {
        self.send("DELETE", target, b"", false)
    }

    /// Start a task and return its UPID.
    pub fn task(&self, target: &str, pairs: &[(&str, &str)]) -> String {
        let resp = self.post(target, pairs);
        data(&resp).as_str().expect("a UPID").to_string()
    }

    /// `GET /nodes/{node}/tasks/{upid}/status`.
    pub fn task_status(&self, upid: &str) -> Value {
        let node = upid.split(':').nth(1).unwrap();
        data(&self.get(&format!("/nodes/{node}/tasks/{}/status", encode(upid))))
    }

    /// `status/current` of a guest.
    pub fn current(&self, node: &str, kind: &str, vmid: u32) -> Value {
        data(&self.get(&format!("/nodes/{node}/{kind}/{vmid}/status/current")))
    }
}

/// Status, reason and `message` of a failed response.
pub fn failure(resp: &Response) -> (u16, String, String) {
    let message = json(resp)["message"].as_str().unwrap_or("").to_string();
    (resp.status, resp.reason.clone(), message)
}
