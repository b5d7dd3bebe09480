//! Tests of the ONTAP handlers through `handle` with hand-built requests and a `Shared` world;
//! no HTTPS server involved. One file per resource; the shared request and polling functions live here.

mod bulk;
mod clone;
mod files;
mod general;
mod jobs;
mod roles;
mod snaplock;
mod snapshots;
mod volumes;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Scenario;
use crate::http::{parse_query, percent_decode, Request, Response};
use crate::job_fault::JobFault;
use crate::world::{self, Shared, World};

pub const ADMIN: (&str, &str) = ("admin", "Ontap-Pa55;#\"\\=x");

/// The default scenario with quick jobs.
pub fn scenario() -> Scenario {
    Scenario {
        job_duration_ms: 20,
        ..Scenario::default()
    }
}

pub fn shared_with(ontap: Scenario) -> Shared {
    let scenario = world::Scenario {
        ontap,
        ..Default::default()
    };
    Shared {
        world: Mutex::new(World::new(&scenario)),
        scenario,
        latency: Duration::ZERO,
    }
}

pub fn shared() -> Shared {
    shared_with(scenario())
}

fn b64(s: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.chunks(3) {
        let n = chunk.iter().fold(0u32, |a, b| (a << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A request as the server would parse it; `target` is path plus optional raw query.
pub fn request_as(
    user: Option<(&str, &str)>,
    method: &str,
    target: &str,
    body: Option<Value>,
) -> Request {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = vec![];
    if let Some((u, p)) = user {
        headers.push((
            "authorization".into(),
            format!("Basic {}", b64(format!("{u}:{p}").as_bytes())),
        ));
    }
    if body.is_some() {
        headers.push(("content-type".into(), "application/json".into()));
    }
    Request {
        method: method.into(),
        raw_path: path.into(),
        segments: path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect(),
        query: parse_query(query),
        headers,
        body: body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default(),
    }
}

pub fn request(method: &str, target: &str, body: Option<Value>) -> Request {
    request_as(Some(ADMIN), method, target, body)
}

pub fn send(sh: &Shared, req: &Request) -> (u16, Value, Response) {
    send_fault(sh, req, None)
}

pub fn send_fault(sh: &Shared, req: &Request, fault: Option<&JobFault>) -> (u16, Value, Response) {
    let r = super::handle(sh, req, fault);
    let v = if r.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&r.body).unwrap()
    };
    (r.status, v, r)
}

/// Shorthand: send and return (status, body).
pub fn call(sh: &Shared, method: &str, target: &str, body: Option<Value>) -> (u16, Value) {
    let (s, v, _) = send(sh, &request(method, target, body));
    (s, v)
}

pub fn get(sh: &Shared, target: &str) -> Value {
    let (s, v) = call(sh, "GET", target, None);
    assert_eq!(s, 200, "GET {target}: {v}");
    v
}

/// Poll a job until it ends; returns the job record.
pub fn wait_job(sh: &Shared, uuid: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let j = get(sh, &format!("/api/cluster/jobs/{uuid}"));
        if j["state"] == "success" || j["state"] == "failure" {
            return j;
        }
        assert!(Instant::now() < deadline, "job {uuid} did not end: {j}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Send a mutation expecting 202, wait for its job, return the ended job.
pub fn run_job(sh: &Shared, method: &str, target: &str, body: Option<Value>) -> Value {
    let (s, v) = call(sh, method, target, body);
    assert_eq!(s, 202, "{method} {target}: {v}");
    let uuid = v["job"]["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        v["job"]["_links"]["self"]["href"],
        format!("/api/cluster/jobs/{uuid}")
    );
    wait_job(sh, &uuid)
}

/// Like `run_job`, asserting success.
pub fn ok_job(sh: &Shared, method: &str, target: &str, body: Option<Value>) {
    let j = run_job(sh, method, target, body);
    assert_eq!(j["state"], "success", "{method} {target}: {j}");
}

/// The uuid of a volume by name (first SVM that has it).
pub fn vol_uuid(sh: &Shared, name: &str) -> String {
    let v = get(sh, &format!("/api/storage/volumes?name={name}"));
    assert_eq!(v["num_records"], 1, "{v}");
    v["records"][0]["uuid"].as_str().unwrap().to_string()
}

pub fn vol_uuid_on(sh: &Shared, svm: &str, name: &str) -> String {
    let v = get(
        sh,
        &format!("/api/storage/volumes?name={name}&svm.name={svm}"),
    );
    assert_eq!(v["num_records"], 1, "{v}");
    v["records"][0]["uuid"].as_str().unwrap().to_string()
}

pub fn snap_uuid(sh: &Shared, vol: &str, name: &str) -> String {
    let v = get(
        sh,
        &format!(
            "/api/storage/volumes/{vol}/snapshots?name=\"{}\"",
            name.replace('+', "%2B")
        ),
    );
    assert_eq!(v["num_records"], 1, "{v}");
    v["records"][0]["uuid"].as_str().unwrap().to_string()
}

pub fn names(v: &Value) -> Vec<String> {
    v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

pub fn err_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}
