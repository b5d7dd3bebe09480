//! The ONTAP REST client: implements `Ontap` over `/api` with basic auth, explicit `fields=`,
//! paging, jobs waited for within the endpoint's request budget, and bounded retries of transient answers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::OntapConfig;
use crate::error::{Api, Error, Result, TransportKind};
use crate::http::{basic_auth, percent_encode, Backoff, Body, Endpoint, Transport};
use crate::secret::Secret;

use super::errors::{self, is_not_found, is_transient};
use super::fields::{self, FieldSet};
use super::jobs::{self, JobEnd};
use super::paging;
use super::{FileInfo, NewFlexClone, NewSnapshot, Ontap, OntapVersion, Snapshot, Svm, Volume};

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

/// Talks to one ONTAP cluster (or SVM) management endpoint.
pub struct OntapClient {
    http: Transport,
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

impl std::fmt::Debug for OntapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OntapClient")
            .field("http", &self.http)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// One mutating request and how to recover when its outcome is unknown.
struct Mutation<'a> {
    method: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    /// JSON body; `None` for DELETE (ONTAP refuses a body there).
    body: Option<Value>,
    /// Looks at the resource: `Ok(true)` when the change is in place (used after a dropped
    /// connection or a vanished job).
    check: Option<&'a dyn Fn() -> Result<bool>>,
    /// Re-sending is safe when the change is not in place (the request is idempotent, or the
    /// check proved the first one did nothing).
    resend: bool,
    /// A re-sent delete that finds nothing has succeeded.
    gone_is_done: bool,
}

impl<'a> Mutation<'a> {
    fn new(method: &'static str, path: String, body: Option<Value>) -> Mutation<'a> {
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

/// `path?k=v&...` with every key and value percent-encoded.
fn target(path: &str, query: &[(&str, String)]) -> String {
    if query.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    format!("{path}?{}", q.join("&"))
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

/// A volume-relative path as ONE URL segment (`/` → `%2F`, `.` → `%2E`); `None` for the root.
pub(crate) fn file_segment(path: &str) -> Result<Option<String>> {
    let p = path.trim_matches('/');
    if p.is_empty() {
        return Ok(None);
    }
    if p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(Error::Refused(format!(
            "invalid path '{path}' inside an ONTAP volume (empty, '.' or '..' component)"
        )));
    }
    Ok(Some(percent_encode(p).replace('.', "%2E")))
}

/// Parent directory and name of a volume-relative path.
fn split_parent(path: &str) -> (&str, &str) {
    let p = path.trim_matches('/');
    match p.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", p),
    }
}

fn protocol_error(method: &str, target: &str, message: String) -> Error {
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

/// Sort key for `create_time` (RFC 3339 with any offset).
fn create_time_key(s: &Snapshot) -> (i128, String) {
    let parsed = time::OffsetDateTime::parse(
        &s.create_time,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp_nanos())
    .unwrap_or(i128::MAX);
    (parsed, s.name.clone())
}

impl OntapClient {
    /// Builds the transport (TLS per config); no connection is opened until the first call.
    pub fn new(config: &OntapConfig) -> Result<OntapClient> {
        OntapClient::with_endpoint(&config.endpoint, &config.user, &config.password)
    }

    pub fn with_endpoint(
        endpoint: &Endpoint,
        user: &str,
        password: &Secret,
    ) -> Result<OntapClient> {
        Ok(OntapClient {
            http: Transport::new(Api::Ontap, endpoint)?,
            user: user.to_string(),
            authorization: Secret::new(basic_auth(user, password.expose())),
            version: Mutex::new(None),
            legacy_fields: AtomicBool::new(false),
            page_size: None,
        })
    }

    /// Ask for at most `n` records per page (ONTAP's default is up to 10,000).
    pub fn with_page_size(mut self, n: u32) -> OntapClient {
        self.page_size = Some(n);
        self
    }

    /// Tell the client the release (when the caller knows it without `version()`).
    pub fn set_version(&self, version: OntapVersion) {
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(version);
    }

    fn known_version(&self) -> Option<OntapVersion> {
        *self.version.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time allowed for one operation: request, job wait and retries together.
    fn budget(&self) -> Duration {
        self.http.endpoint().timeouts.request
    }

    fn send(
        &self,
        method: &str,
        target: &str,
        body: Option<&Value>,
    ) -> Result<crate::http::Response> {
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
    fn decode(
        &self,
        method: &str,
        target: &str,
        response: &crate::http::Response,
    ) -> Result<Value> {
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

    /// GET with bounded retries of a dropped connection, a 5xx or a busy answer.
    fn get_value(&self, target: &str, deadline: Instant) -> Result<Value> {
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
    fn get_fields(
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
    fn get_records(
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
    fn mutate(&self, m: Mutation<'_>) -> Result<Value> {
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

    /// The snapshot with this name, if any.
    fn find_snapshot(&self, volume_uuid: &str, name: &str) -> Result<Option<Snapshot>> {
        let path = format!(
            "/api/storage/volumes/{}/snapshots",
            percent_encode(volume_uuid)
        );
        let records =
            self.get_fields(&path, &[("name", literal(name))], &fields::SNAPSHOT, true)?;
        Ok(records
            .iter()
            .map(fields::snapshot)
            .find(|s| s.name == name))
    }

    /// Whether `name` is in directory `dir` of the volume.
    fn file_exists(&self, volume_uuid: &str, path: &str) -> Result<bool> {
        let (dir, name) = split_parent(path);
        match self.list_dir(volume_uuid, dir) {
            Ok(entries) => Ok(entries.iter().any(|e| e.name == name)),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn volume_not_found(uuid: &str) -> Error {
        Error::NotFound {
            what: format!("ONTAP volume {uuid}"),
        }
    }
}

impl Ontap for OntapClient {
    fn version(&self) -> Result<Option<OntapVersion>> {
        let deadline = Instant::now() + self.budget();
        let t = target(
            "/api/cluster",
            &[("fields", fields::CLUSTER_VERSION.to_string())],
        );
        match self.get_value(&t, deadline) {
            Ok(v) => {
                let version = fields::version(&v).ok_or_else(|| {
                    protocol_error(
                        "GET",
                        &t,
                        "the answer has no version.generation/major".into(),
                    )
                })?;
                self.set_version(version);
                Ok(Some(version))
            }
            Err(e) if e.api().is_some_and(|a| a.status == 403) => {
                log::info!("the ONTAP account may not read /api/cluster; release unknown");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn svm_by_lif(&self, ip: &str) -> Result<Option<Svm>> {
        let records = self.get_records(
            "/api/network/ip/interfaces",
            &[("ip.address", literal(ip))],
            fields::LIF_SVM,
        )?;
        let mut svms: Vec<Svm> = records.iter().filter_map(fields::svm).collect();
        svms.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        svms.dedup_by(|a, b| a.uuid == b.uuid);
        match svms.len() {
            0 => Ok(None),
            1 => Ok(svms.pop()),
            _ => Err(Error::Refused(format!(
                "the address {ip} belongs to data LIFs of several SVMs ({}); cannot tell which one exports the storage",
                svms.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    fn volumes(&self, filters: &[(&str, &str)]) -> Result<Vec<Volume>> {
        let query: Vec<(&str, String)> = filters.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let records = self.get_fields("/api/storage/volumes", &query, &fields::VOLUME, true)?;
        Ok(records.iter().map(fields::volume).collect())
    }

    fn volume(&self, uuid: &str) -> Result<Volume> {
        let path = format!("/api/storage/volumes/{}", percent_encode(uuid));
        match self.get_fields(&path, &[], &fields::VOLUME, false) {
            Ok(mut v) => Ok(fields::volume(&v.pop().unwrap_or(Value::Null))),
            Err(e) if is_not_found(&e) => Err(Self::volume_not_found(uuid)),
            Err(e) => Err(e),
        }
    }

    fn snapshots(&self, volume_uuid: &str) -> Result<Vec<Snapshot>> {
        let path = format!(
            "/api/storage/volumes/{}/snapshots",
            percent_encode(volume_uuid)
        );
        let records = match self.get_fields(&path, &[], &fields::SNAPSHOT, true) {
            Ok(r) => r,
            Err(e) if is_not_found(&e) => return Err(Self::volume_not_found(volume_uuid)),
            Err(e) => return Err(e),
        };
        let mut snapshots: Vec<Snapshot> = records.iter().map(fields::snapshot).collect();
        snapshots.sort_by_cached_key(create_time_key);
        Ok(snapshots)
    }

    fn snapshot(&self, volume_uuid: &str, name: &str) -> Result<Snapshot> {
        self.find_snapshot(volume_uuid, name)?
            .ok_or_else(|| Error::NotFound {
                what: format!("snapshot '{name}' of ONTAP volume {volume_uuid}"),
            })
    }

    fn create_snapshot(&self, volume_uuid: &str, snapshot: &NewSnapshot) -> Result<Snapshot> {
        let mut body = json!({ "name": snapshot.name });
        for (key, value) in [
            ("comment", &snapshot.comment),
            ("snapmirror_label", &snapshot.snapmirror_label),
            ("expiry_time", &snapshot.expiry_time),
        ] {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        let check = || Ok(self.find_snapshot(volume_uuid, &snapshot.name)?.is_some());
        self.mutate(Mutation {
            check: Some(&check),
            resend: true,
            ..Mutation::new(
                "POST",
                format!(
                    "/api/storage/volumes/{}/snapshots",
                    percent_encode(volume_uuid)
                ),
                Some(body),
            )
        })?;
        self.find_snapshot(volume_uuid, &snapshot.name)?
            .ok_or_else(|| Error::NotFound {
                what: format!(
                    "snapshot '{}' of ONTAP volume {volume_uuid} (just created)",
                    snapshot.name
                ),
            })
    }

    fn delete_snapshot(&self, volume_uuid: &str, snapshot_uuid: &str) -> Result<()> {
        let path = format!(
            "/api/storage/volumes/{}/snapshots/{}",
            percent_encode(volume_uuid),
            percent_encode(snapshot_uuid)
        );
        let deadline = Instant::now() + self.budget();
        let check = || {
            let t = target(&path, &[("fields", "uuid".to_string())]);
            match self.get_value(&t, deadline) {
                Ok(_) => Ok(false),
                Err(e) if is_not_found(&e) => Ok(true),
                Err(e) => Err(e),
            }
        };
        match self.mutate(Mutation {
            check: Some(&check),
            resend: true,
            gone_is_done: true,
            ..Mutation::new("DELETE", path.clone(), None)
        }) {
            Ok(_) => Ok(()),
            Err(e) if e.api().is_some_and(|a| a.status == 404) => Err(Error::NotFound {
                what: format!("snapshot {snapshot_uuid} of ONTAP volume {volume_uuid}"),
            }),
            Err(e) => Err(e),
        }
    }

    fn restore_volume(&self, volume_uuid: &str, snapshot_name: &str) -> Result<()> {
        let mut m = Mutation::new(
            "PATCH",
            format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
            Some(json!({})),
        );
        m.query
            .push(("restore_to.snapshot.name", snapshot_name.to_string()));
        self.mutate(m).map(|_| ())
    }

    fn create_flexclone(&self, clone: &NewFlexClone) -> Result<Volume> {
        let body = json!({
            "name": clone.name,
            "svm": { "name": clone.svm_name },
            "clone": {
                "is_flexclone": true,
                "parent_volume": { "name": clone.parent_volume },
                "parent_snapshot": { "name": clone.parent_snapshot },
            },
            "nas": { "path": clone.nas_path },
        });
        let by_name = || -> Result<Option<Volume>> {
            Ok(self
                .volumes(&[
                    ("name", &literal(&clone.name)),
                    ("svm.name", &literal(&clone.svm_name)),
                ])?
                .into_iter()
                .find(|v| v.name == clone.name))
        };
        let check = || Ok(by_name()?.is_some());
        let mut m = Mutation::new("POST", "/api/storage/volumes".into(), Some(body));
        m.query.push(("return_records", "true".into()));
        m.check = Some(&check);
        m.resend = true;
        let answer = self.mutate(m)?;
        let uuid = answer
            .get("records")
            .and_then(|r| r.get(0))
            .and_then(|r| fields::text(r, "uuid"));
        let mut volume = match uuid {
            Some(uuid) => self.volume(&uuid)?,
            None => by_name()?.ok_or_else(|| Error::NotFound {
                what: format!(
                    "FlexClone volume '{}' on SVM {} (just created)",
                    clone.name, clone.svm_name
                ),
            })?,
        };
        if let Some(policy) = &clone.export_policy {
            if volume.export_policy.as_deref() != Some(policy) {
                self.set_export_policy(&volume.uuid, policy)?;
                volume.export_policy = Some(policy.clone());
            }
        }
        Ok(volume)
    }

    fn set_export_policy(&self, volume_uuid: &str, policy: &str) -> Result<()> {
        let check = || Ok(self.volume(volume_uuid)?.export_policy.as_deref() == Some(policy));
        self.mutate(Mutation {
            check: Some(&check),
            resend: true,
            ..Mutation::new(
                "PATCH",
                format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
                Some(json!({ "nas": { "export_policy": { "name": policy } } })),
            )
        })
        .map(|_| ())
    }

    fn unmount_volume(&self, volume_uuid: &str) -> Result<()> {
        let check = || Ok(self.volume(volume_uuid)?.nas_path.is_none());
        self.mutate(Mutation {
            check: Some(&check),
            resend: true,
            ..Mutation::new(
                "PATCH",
                format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
                Some(json!({ "nas": { "path": "" } })),
            )
        })
        .map(|_| ())
    }

    fn delete_volume(&self, volume_uuid: &str, force: bool) -> Result<()> {
        let check = || match self.volume(volume_uuid) {
            Ok(_) => Ok(false),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(e) => Err(e),
        };
        let mut m = Mutation::new(
            "DELETE",
            format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
            None,
        );
        if force {
            m.query.push(("force", "true".into()));
        }
        m.check = Some(&check);
        m.resend = true;
        m.gone_is_done = true;
        match self.mutate(m) {
            Ok(_) => Ok(()),
            Err(e) if e.api().is_some_and(|a| a.status == 404) => {
                Err(Self::volume_not_found(volume_uuid))
            }
            Err(e) => Err(e),
        }
    }

    fn clone_file(
        &self,
        volume: &Volume,
        source: &str,
        destination: &str,
        overwrite: bool,
    ) -> Result<()> {
        let mut body = json!({
            "volume": { "name": volume.name, "uuid": volume.uuid },
            "source_path": source,
            "destination_path": destination,
        });
        if overwrite {
            body["overwrite_destination"] = json!(true);
        }
        // With overwrite the destination existed before, so only re-sending (idempotent) helps;
        // without, a destination that now exists was made by this request.
        let check = || self.file_exists(&volume.uuid, destination);
        let mut m = Mutation::new("POST", "/api/storage/file/clone".into(), Some(body));
        if !overwrite {
            m.check = Some(&check);
        }
        m.resend = true;
        self.mutate(m).map(|_| ())
    }

    fn list_dir(&self, volume_uuid: &str, path: &str) -> Result<Vec<FileInfo>> {
        let mut p = format!("/api/storage/volumes/{}/files", percent_encode(volume_uuid));
        if let Some(segment) = file_segment(path)? {
            p = format!("{p}/{segment}");
        }
        match self.get_records(&p, &[], fields::FILE) {
            Ok(records) => Ok(records
                .iter()
                .map(fields::file)
                .filter(|f| f.name != "." && f.name != "..")
                .collect()),
            Err(e) if is_not_found(&e) => Err(Error::NotFound {
                what: format!("directory '{path}' in ONTAP volume {volume_uuid}"),
            }),
            Err(e) => Err(e),
        }
    }

    fn delete_file(&self, volume_uuid: &str, path: &str) -> Result<()> {
        let segment = file_segment(path)?.ok_or_else(|| {
            Error::Refused(format!(
                "refusing to delete the root of ONTAP volume {volume_uuid}"
            ))
        })?;
        let check = || Ok(!self.file_exists(volume_uuid, path)?);
        let m = Mutation {
            check: Some(&check),
            resend: true,
            gone_is_done: true,
            ..Mutation::new(
                "DELETE",
                format!(
                    "/api/storage/volumes/{}/files/{segment}",
                    percent_encode(volume_uuid)
                ),
                None,
            )
        };
        match self.mutate(m) {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Err(Error::NotFound {
                what: format!("file '{path}' in ONTAP volume {volume_uuid}"),
            }),
            Err(e) => Err(e),
        }
    }

    fn purge_recovery_queue(&self, svm: &str, volume_name: &str) -> Result<bool> {
        let records = self.get_records(
            "/api/private/cli/volume/recovery-queue",
            &[
                ("vserver", literal(svm)),
                ("volume", format!("{}*", literal(volume_name))),
            ],
            "vserver,volume",
        )?;
        let queued: Vec<String> = records
            .iter()
            .filter_map(|r| fields::text(r, "volume"))
            .filter(|v| v.starts_with(volume_name))
            .collect();
        for name in &queued {
            self.mutate(Mutation::new(
                "POST",
                "/api/private/cli/volume/recovery-queue/purge".into(),
                Some(json!({ "vserver": svm, "volume": name })),
            ))?;
        }
        log::info!(
            "purged {} recovery-queue entr{} of volume {volume_name} on SVM {svm}",
            queued.len(),
            if queued.len() == 1 { "y" } else { "ies" }
        );
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_become_one_segment() {
        assert_eq!(file_segment("").unwrap(), None);
        assert_eq!(file_segment("/").unwrap(), None);
        assert_eq!(file_segment("images").unwrap().as_deref(), Some("images"));
        assert_eq!(
            file_segment("images/100/vm-100-disk-0.qcow2")
                .unwrap()
                .as_deref(),
            Some("images%2F100%2Fvm-100-disk-0%2Eqcow2")
        );
        assert_eq!(
            file_segment(".snapshot/proxmox_snapshot_2024-03-13_14:42:47+0000/images")
                .unwrap()
                .as_deref(),
            Some("%2Esnapshot%2Fproxmox_snapshot_2024-03-13_14%3A42%3A47%2B0000%2Fimages")
        );
        for bad in ["images/../etc", "./images", "images//100", ".."] {
            assert!(file_segment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filter_literals_quote_operators_only() {
        assert_eq!(
            literal("proxmox_snapshot_2024-03-13_14:42:47+0000"),
            "proxmox_snapshot_2024-03-13_14:42:47+0000"
        );
        assert_eq!(literal("a*b"), "{a*b}");
        assert_eq!(literal("a..b"), "{a..b}");
        assert_eq!(literal("null"), "{null}");
        assert_eq!(
            target(
                "/api/storage/volumes",
                &[("name", "a b".into()), ("nas.path", "!null".into())]
            ),
            "/api/storage/volumes?name=a%20b&nas.path=%21null"
        );
    }

    #[test]
    fn parents_split_off() {
        assert_eq!(split_parent("images/100/x.raw"), ("images/100", "x.raw"));
        assert_eq!(split_parent("x.raw"), ("", "x.raw"));
    }

    #[test]
    fn return_timeout_stays_below_the_request_timeout() {
        let client = |secs: u64| {
            OntapClient::with_endpoint(
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
        };
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(client(60).return_timeout(far), 30);
        assert_eq!(client(10).return_timeout(far), 7);
        assert_eq!(client(2).return_timeout(far), 0);
        assert_eq!(
            client(60).return_timeout(Instant::now() + Duration::from_secs(5)),
            1
        );
    }

    #[test]
    fn snapshots_sort_by_time_across_offsets() {
        let snap = |name: &str, t: &str| Snapshot {
            name: name.into(),
            uuid: name.into(),
            create_time: t.into(),
            comment: None,
            snapmirror_label: None,
            expiry_time: None,
            owners: vec![],
            size: None,
        };
        let mut v = [
            snap("b", "2024-03-13T14:00:00+00:00"),
            snap("a", "2024-03-13T10:00:00-05:00"),
        ];
        v.sort_by_cached_key(create_time_key);
        assert_eq!(v[0].name, "b");
    }
}
