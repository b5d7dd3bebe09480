//! How the ONTAP client talks: the auth and JSON headers, error decoding, GETs with bounded retries
//! and a `fields=` fallback, paging, and mutations seen through their jobs, retries and checks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Api, Error, Result, TransportKind};
use crate::http::{
    basic_auth, percent_encode, Backoff, Body, Endpoint, Exchange, Response, Transport,
};
use crate::secret::Secret;

use super::errors::{self, is_not_found, is_transient};
use super::fields::{self, FieldSet};
use super::jobs::{self, JobEnd};
use super::paging;
use super::OntapVersion;

/// The longest `return_timeout` sent with a mutation. ONTAP holds the request up to this long
/// waiting for the job; shorter than any sensible request timeout, and short enough that a caller
/// with its own bound (a hook) regains control between job polls.
const MAX_RETURN_TIMEOUT: u64 = 30;

/// Seconds kept between `return_timeout` and the client's own request timeout, so ONTAP answers
/// before the client gives up on a request that may have succeeded.
const RETURN_TIMEOUT_MARGIN: u64 = 3;

/// How often a GET is tried at most (dropped connection, 5xx, busy).
const GET_ATTEMPTS: u32 = 3;

/// How often a mutation is re-sent at most after its connection dropped.
const MAX_RESENDS: u32 = 2;

/// The request layer of one ONTAP endpoint.
pub(super) struct Requester {
    http: Box<dyn Exchange>,
    user: String,
    /// `Basic ...` header value.
    authorization: Secret,
    /// The release, once `version()` has read it (gates newer fields).
    version: Mutex<Option<OntapVersion>>,
    /// ONTAP refused a newer field once: ask only for the base fields from now on.
    legacy_fields: AtomicBool,
    /// `max_records` per page (None: ONTAP's default).
    page_size: Option<u32>,
}

impl std::fmt::Debug for Requester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requester")
            .field("http", &self.http)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// One mutating request and how to recover when its outcome is unknown.
pub(super) struct Mutation<'a> {
    pub(super) method: &'static str,
    pub(super) path: String,
    pub(super) query: Vec<(&'static str, String)>,
    /// JSON body; `None` for DELETE (ONTAP refuses a body there).
    pub(super) body: Option<Value>,
    /// Looks at the resource: `Ok(true)` when the change is in place (used after a dropped
    /// connection or a vanished job).
    pub(super) check: Option<&'a dyn Fn() -> Result<bool>>,
    /// Re-sending is safe when the change is not in place (the request is idempotent, or the
    /// check proved the first one did nothing).
    pub(super) resend: bool,
    /// A re-sent delete that finds nothing has succeeded.
    pub(super) gone_is_done: bool,
}

impl<'a> Mutation<'a> {
    pub(super) fn new(method: &'static str, path: String, body: Option<Value>) -> Mutation<'a> {
        Mutation {
            method,
            path,
            query: Vec::new(),
            body,
            check: None,
            resend: false,
            gone_is_done: false,
        }
    }
}

/// A literal filter value: quoted when it contains ONTAP query operators (`* | , ! < > ..`).
pub(crate) fn literal(value: &str) -> String {
    let operators = ['*', '|', ',', '!', '<', '>', '{', '}', '"'];
    if value.contains(operators) || value.contains("..") || value == "null" {
        format!("{{{value}}}")
    } else {
        value.to_string()
    }
}

/// `path?k=v&...` with every key and value percent-encoded.
pub(super) fn target(path: &str, query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    format!("{path}?{}", q.join("&"))
}

pub(super) fn protocol_error(method: &str, target: &str, message: String) -> Error {
    Error::Transport {
        api: Api::Ontap,
        method: method.to_string(),
        path: target.to_string(),
        kind: TransportKind::Protocol,
        message,
    }
}

/// A dropped or refused connection: the request may or may not have reached ONTAP.
fn is_lost_answer(e: &Error) -> bool {
    matches!(
        e,
        Error::Transport {
            kind: TransportKind::Connect | TransportKind::Protocol,
            ..
        }
    )
}

fn is_field_refusal(e: &Error, set: &FieldSet) -> bool {
    match e.api() {
        Some(api) if api.status == 400 => {
            api.target.as_deref() == Some("fields")
                || set.newer.iter().any(|(f, _)| api.message.contains(f))
        }
        _ => false,
    }
}

impl Requester {
    pub(super) fn new(endpoint: &Endpoint, user: &str, password: &Secret) -> Result<Requester> {
        let http = Transport::new(Api::Ontap, endpoint)?;
        Ok(Requester::over(Box::new(http), user, password))
    }

    /// The request layer over any `Exchange` (the real transport, or canned answers in tests).
    pub(super) fn over(http: Box<dyn Exchange>, user: &str, password: &Secret) -> Requester {
        Requester {
            http,
            user: user.to_string(),
            authorization: Secret::new(basic_auth(user, password.expose())),
            version: Mutex::new(None),
            legacy_fields: AtomicBool::new(false),
            page_size: None,
        }
    }

    pub(super) fn set_page_size(&mut self, n: u32) {
        self.page_size = Some(n);
    }

    pub(super) fn set_version(&self, version: OntapVersion) {
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(version);
    }

    pub(super) fn known_version(&self) -> Option<OntapVersion> {
        *self.version.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time allowed for one operation: request, job wait and retries together.
    pub(super) fn budget(&self) -> Duration {
        self.http.endpoint().timeouts.request
    }

    fn send(&self, method: &str, target: &str, body: Option<&Value>) -> Result<Response> {
        let bytes = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        self.http.send(
            method,
            target,
            &[
                ("Authorization", self.authorization.expose()),
                ("Accept", "application/json"),
                (
                    "X-Dot-Client-App",
                    concat!("pve-ontap-snapshot/", env!("CARGO_PKG_VERSION")),
                ),
            ],
            bytes.as_deref().map(|b| Body {
                content_type: "application/json",
                bytes: b,
            }),
        )
    }

    /// The JSON body of a success answer; an error status or an `error` object is an `ApiError`.
    fn decode(&self, method: &str, target: &str, response: &Response) -> Result<Value> {
        let body: Value = if response.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            match serde_json::from_slice(&response.body) {
                Ok(v) => v,
                Err(_) if !response.is_success() => Value::Null,
                Err(e) => {
                    return Err(protocol_error(
                        method,
                        target,
                        format!("answer is not JSON ({e})"),
                    ))
                }
            }
        };
        // ONTAP answers errors with an error status; an `error` object in a 2xx body is treated
        // as one too (as NetApp's clients do), except in a job record, where it is the result.
        let job_record = target.starts_with("/api/cluster/jobs/");
        if !response.is_success() || (!job_record && errors::error_object(&body).is_some()) {
            return Err(errors::api_error(method, target, response, &self.user).into());
        }
        Ok(body)
    }

    /// One request with its own `Accept` and body type (file data is multipart, not JSON); an
    /// error status comes back as the same `ApiError` a JSON call gets. Not retried.
    pub(super) fn send_raw(
        &self,
        method: &str,
        target: &str,
        accept: &str,
        body: Option<Body<'_>>,
    ) -> Result<Response> {
        let response = self.http.send(
            method,
            target,
            &[
                ("Authorization", self.authorization.expose()),
                ("Accept", accept),
                (
                    "X-Dot-Client-App",
                    concat!("pve-ontap-snapshot/", env!("CARGO_PKG_VERSION")),
                ),
            ],
            body,
        )?;
        if !response.is_success() {
            return Err(errors::api_error(method, target, &response, &self.user).into());
        }
        Ok(response)
    }

    /// GET with bounded retries of a dropped connection, a 5xx or a busy answer.
    pub(super) fn get_value(&self, target: &str, deadline: Instant) -> Result<Value> {
        let mut backoff = Backoff::retrying();
        let mut attempt = 1;
        loop {
            let result = self
                .send("GET", target, None)
                .and_then(|r| self.decode("GET", target, &r));
            let retry = match &result {
                Err(e) if is_lost_answer(e) => true,
                Err(e) => is_transient(e) || e.api().is_some_and(|a| matches!(a.status, 500..=504)),
                Ok(_) => false,
            };
            if !retry || attempt >= GET_ATTEMPTS {
                return result;
            }
            if let Err(e) = &result {
                log::debug!("retrying after: {e}");
            }
            if !backoff.wait(deadline) {
                return result;
            }
            attempt += 1;
        }
    }

    /// GET with `fields=` from a field set; falls back to the base fields once if ONTAP refuses a
    /// newer one. With `all`, follows every page and returns the records; else the one object.
    pub(super) fn get_fields(
        &self,
        path: &str,
        query: &[(&str, String)],
        set: &FieldSet,
        all: bool,
    ) -> Result<Vec<Value>> {
        let deadline = Instant::now() + self.budget();
        let run = |legacy: bool| -> Result<Vec<Value>> {
            let mut q = query.to_vec();
            q.push(("fields", set.list(self.known_version(), legacy)));
            if all {
                if let Some(n) = self.page_size {
                    q.push(("max_records", n.to_string()));
                }
                paging::collect(&target(path, &q), |t| self.get_value(t, deadline))
            } else {
                Ok(vec![self.get_value(&target(path, &q), deadline)?])
            }
        };
        let legacy = self.legacy_fields.load(Ordering::Relaxed);
        match run(legacy) {
            Err(e) if !legacy && set.has_newer() && is_field_refusal(&e, set) => {
                log::info!(
                    "ONTAP refused a newer field ({e}); asking for the base fields from now on"
                );
                self.legacy_fields.store(true, Ordering::Relaxed);
                run(true)
            }
            other => other,
        }
    }

    /// GET every record with a plain `fields=` list.
    pub(super) fn get_records(
        &self,
        path: &str,
        query: &[(&str, String)],
        fields: &'static str,
    ) -> Result<Vec<Value>> {
        let mut q = query.to_vec();
        q.push(("fields", fields.to_string()));
        if let Some(n) = self.page_size {
            q.push(("max_records", n.to_string()));
        }
        let deadline = Instant::now() + self.budget();
        paging::collect(&target(path, &q), |t| self.get_value(t, deadline))
    }

    /// `return_timeout` for a mutation sent now: below the request timeout and the remaining budget.
    fn return_timeout(&self, deadline: Instant) -> u64 {
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .min(self.http.endpoint().timeouts.request)
            .as_secs();
        remaining
            .saturating_sub(RETURN_TIMEOUT_MARGIN)
            .min(MAX_RETURN_TIMEOUT)
    }

    /// Sends a mutation and sees it through: waits for its job, retries transient failures,
    /// and after a dropped connection or a vanished job looks at the resource.
    pub(super) fn mutate(&self, m: Mutation<'_>) -> Result<Value> {
        let started = Instant::now();
        let deadline = started + self.budget();
        let mut busy_backoff = Backoff::retrying();
        let mut resends = 0;
        loop {
            let mut query = m.query.clone();
            query.push(("return_timeout", self.return_timeout(deadline).to_string()));
            let t = target(&m.path, &query);
            let result = self.send(m.method, &t, m.body.as_ref());
            let response = match result {
                Ok(r) => r,
                // No answer (dropped, refused, timed out): the request may or may not have
                // reached ONTAP, so look before doing anything else.
                Err(e @ Error::Transport { kind, .. }) if kind != TransportKind::Tls => {
                    log::warn!("{e}; checking whether ONTAP made the change");
                    if let Some(check) = m.check {
                        match check() {
                            Ok(true) => return Ok(Value::Null),
                            Ok(false) => {}
                            Err(check_error) => {
                                log::debug!("check after a lost answer failed: {check_error}");
                                return Err(e);
                            }
                        }
                    }
                    // Only a dropped connection is sent again: after a timeout the first
                    // request may still be running.
                    if is_lost_answer(&e)
                        && m.resend
                        && resends < MAX_RESENDS
                        && Instant::now() < deadline
                    {
                        resends += 1;
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            let body = match self.decode(m.method, &t, &response) {
                Ok(body) => body,
                Err(e) if resends > 0 && m.gone_is_done && is_not_found(&e) => {
                    return Ok(Value::Null)
                }
                Err(e) if is_transient(&e) => {
                    log::info!("{e}; retrying");
                    if busy_backoff.wait(deadline) {
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            let Some(uuid) = jobs::job_uuid(&body) else {
                return Ok(body);
            };
            if response.status != 202 {
                // 200/201 with a job link: the job finished within return_timeout.
                return Ok(body);
            }
            let job_path = format!("/api/cluster/jobs/{}", percent_encode(&uuid));
            let waited = jobs::wait(&uuid, started, deadline, || {
                match self.get_fields(&job_path, &[], &fields::JOB, false) {
                    Ok(mut v) => Ok(v.pop()),
                    Err(e) if e.api().is_some_and(|a| a.status == 404) => Ok(None),
                    Err(e) => Err(e),
                }
            });
            match waited {
                Ok(JobEnd::Success) => return Ok(body),
                Ok(JobEnd::Vanished) => {
                    log::warn!("ONTAP job {uuid} vanished before reporting; checking the result");
                    if let Some(check) = m.check {
                        if check()? {
                            return Ok(body);
                        }
                    }
                    return Err(Error::Job {
                        uuid,
                        description: format!("{} {}", m.method, m.path),
                        code: "unknown".into(),
                        message: "the job disappeared before it reported a result, and the change is not visible"
                            .into(),
                    });
                }
                Err(e) if is_transient(&e) => {
                    log::info!("{e}; retrying");
                    if busy_backoff.wait(deadline) {
                        continue;
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requester(secs: u64) -> Requester {
        Requester::new(
            &Endpoint {
                base_url: "https://127.0.0.1:1".into(),
                tls: crate::http::TlsMode::Insecure,
                timeouts: crate::http::Timeouts {
                    connect: Duration::from_secs(1),
                    request: Duration::from_secs(secs),
                },
            },
            "admin",
            &Secret::new("x"),
        )
        .unwrap()
    }

    #[test]
    fn return_timeout_stays_below_the_request_timeout_and_the_budget() {
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(requester(60).return_timeout(far), 30);
        assert_eq!(requester(10).return_timeout(far), 7);
        assert_eq!(requester(2).return_timeout(far), 0);
        let soon = Instant::now() + Duration::from_secs(5);
        assert_eq!(requester(60).return_timeout(soon), 1);
    }

    /// (method, target, headers) of one request.
    type Sent = (String, String, Vec<(String, String)>);

    /// An `Exchange` that answers from a script and records every request.
    #[derive(Debug)]
    struct Script {
        endpoint: Endpoint,
        answers: Mutex<std::collections::VecDeque<Result<Response>>>,
        /// Every request, in order.
        seen: Mutex<Vec<Sent>>,
    }

    impl Exchange for Script {
        fn endpoint(&self) -> &Endpoint {
            &self.endpoint
        }

        fn send(
            &self,
            method: &str,
            target: &str,
            headers: &[(&str, &str)],
            _body: Option<Body<'_>>,
        ) -> Result<Response> {
            let headers = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            self.seen
                .lock()
                .unwrap()
                .push((method.into(), target.into(), headers));
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .expect("an answer left in the script")
        }
    }

    fn answer(status: u16, body: &str) -> Result<Response> {
        Ok(Response {
            status,
            reason: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        })
    }

    /// A requester over scripted answers; the script is shared so the test can read what was sent.
    fn scripted(answers: Vec<Result<Response>>) -> (Requester, std::sync::Arc<Script>) {
        #[derive(Debug)]
        struct Shared(std::sync::Arc<Script>);
        impl Exchange for Shared {
            fn endpoint(&self) -> &Endpoint {
                self.0.endpoint()
            }
            fn send(
                &self,
                method: &str,
                target: &str,
                headers: &[(&str, &str)],
                body: Option<Body<'_>>,
            ) -> Result<Response> {
                self.0.send(method, target, headers, body)
            }
        }
        let script = std::sync::Arc::new(Script {
            endpoint: requester(60).http.endpoint().clone(),
            answers: Mutex::new(answers.into()),
            seen: Mutex::new(Vec::new()),
        });
        let req = Requester::over(Box::new(Shared(script.clone())), "admin", &Secret::new("x"));
        (req, script)
    }

    const BUSY: &str = r#"{"error":{"message":"Service unavailable","code":"1"}}"#;

    #[test]
    fn a_failing_get_is_retried_and_the_next_answer_wins() {
        let (req, script) = scripted(vec![answer(503, BUSY), answer(200, r#"{"name":"vol1"}"#)]);
        let far = Instant::now() + Duration::from_secs(60);
        let v = req.get_value("/api/storage/volumes/u1", far).unwrap();
        assert_eq!(v["name"], "vol1");
        let seen = script.seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        for (method, target, headers) in seen.iter() {
            assert_eq!(
                (method.as_str(), target.as_str()),
                ("GET", "/api/storage/volumes/u1")
            );
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(
                header("Authorization").as_deref(),
                Some("Basic YWRtaW46eA==")
            );
            assert_eq!(header("Accept").as_deref(), Some("application/json"));
        }
    }

    #[test]
    fn gets_give_up_after_the_last_attempt_and_never_retry_a_refusal() {
        let (req, script) = scripted(vec![
            answer(503, BUSY),
            answer(503, BUSY),
            answer(503, BUSY),
        ]);
        let far = Instant::now() + Duration::from_secs(60);
        let e = req.get_value("/api/cluster", far).unwrap_err();
        assert_eq!(e.api().map(|a| a.status), Some(503), "{e}");
        assert_eq!(script.seen.lock().unwrap().len(), GET_ATTEMPTS as usize);

        let refused = r#"{"error":{"message":"not authorized for that command","code":"6"}}"#;
        let (req, script) = scripted(vec![answer(403, refused)]);
        let e = req.get_value("/api/cluster", far).unwrap_err();
        assert_eq!(e.api().map(|a| a.status), Some(403), "{e}");
        assert_eq!(script.seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn targets_encode_keys_and_values() {
        assert_eq!(
            target(
                "/api/storage/volumes",
                &[("name", "a b".into()), ("nas.path", "!null".into())]
            ),
            "/api/storage/volumes?name=a%20b&nas.path=%21null"
        );
        assert_eq!(target("/api/cluster", &[]), "/api/cluster");
    }
}
