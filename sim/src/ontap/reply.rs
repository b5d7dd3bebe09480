//! What every ONTAP handler gets (`Ctx`: the request, its query, an injected job fault) and what it
//! gives back (`Reply`: an answer now, or a job to wait for outside the lock, built by `started`).

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::errors::ApiError;
use super::params::{Body, Query};
use crate::http::{Request, Response};
use crate::job_fault::JobFault;

/// What a handler gets besides the state.
pub struct Ctx<'a> {
    pub req: &'a Request,
    pub query: Query,
    pub fault: Option<&'a JobFault>,
}

impl Ctx<'_> {
    /// The job description: method and path as sent.
    pub fn description(&self) -> String {
        format!(
            "{} {}",
            self.req.method.to_ascii_uppercase(),
            self.req.raw_path
        )
    }

    pub fn body(&self) -> Result<Body, ApiError> {
        Body::parse(self.req)
    }
}

/// A handler's answer: done, or a job to wait for (outside the lock).
#[derive(Debug)]
pub enum Reply {
    Done(Response),
    Wait(Wait),
}

impl From<Response> for Reply {
    fn from(r: Response) -> Reply {
        Reply::Done(r)
    }
}

/// A `return_timeout` wait.
#[derive(Debug)]
pub struct Wait {
    pub job: String,
    pub deadline: Instant,
    /// The answer when the job is still running at the deadline (202).
    pub accepted: Response,
    /// The answer when the job succeeded in time (200/201).
    pub done: Response,
}

/// What a handler returns after starting a job.
#[derive(Debug, Default)]
pub struct Started {
    pub job: String,
    /// A create (201 when done in time, `Location` header).
    pub created: bool,
    pub location: Option<String>,
    /// Extra top-level members (`num_records`/`records`, `cli_output`).
    pub extra: Map<String, Value>,
    /// A multi-record job's per-record results (`_links.results.href` of the job link).
    pub results: Option<String>,
}

fn job_link(uuid: &str, results: Option<&str>) -> Value {
    let mut link =
        json!({"uuid": uuid, "_links": {"self": {"href": format!("/api/cluster/jobs/{uuid}")}}});
    if let Some(href) = results {
        link["_links"]["results"] = json!({ "href": href });
    }
    link
}

/// Answer a started job: 202 at once, or wait up to `return_timeout` seconds.
pub fn started(started: Started, return_timeout: u64) -> Reply {
    let mut body = started.extra.clone();
    body.insert(
        "job".into(),
        job_link(&started.job, started.results.as_deref()),
    );
    let body = Value::Object(body);
    let with_location = |mut r: Response| {
        if let Some(l) = &started.location {
            r = r.with_header("Location", l);
        }
        r
    };
    let accepted = with_location(Response::json(202, &body));
    if return_timeout == 0 {
        return Reply::Done(accepted);
    }
    let done = with_location(Response::json(
        if started.created { 201 } else { 200 },
        &body,
    ));
    Reply::Wait(Wait {
        job: started.job,
        deadline: Instant::now() + Duration::from_secs(return_timeout),
        accepted,
        done,
    })
}
