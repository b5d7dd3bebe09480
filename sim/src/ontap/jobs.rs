//! Asynchronous jobs: every create/modify/delete becomes a job that runs queued → running →
//! success/failure over `job_duration_ms`, applies its effect when it ends (nothing on failure),
//! is served at `/api/cluster/jobs[/{uuid}]` and forgotten `job_retention_ms` after it ended.
//! Also the 202/201/200 answers with a job link and the `return_timeout` wait (without the lock).

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::errors::ApiError;
use super::fields::{self, Schema};
use super::params::Query;
use super::state::{new_uuid, OntapState};
use super::{cli, clone, collection, snapshots, volumes};
use crate::http::Response;
use crate::world::{JobFault, Shared};

/// What a job does when it ends successfully.
#[derive(Debug, Clone)]
pub enum Action {
    /// Nothing (used when a fault must fail an otherwise synchronous call).
    Noop,
    CreateSnapshot(snapshots::NewSnapshot),
    ModifySnapshot(snapshots::SnapshotChange),
    DeleteSnapshot {
        volume: String,
        snapshot: String,
    },
    CreateClone(volumes::NewClone),
    ModifyVolume(volumes::VolumeChange),
    Restore {
        volume: String,
        snapshot: String,
        /// CLI `-force`: newer snapshots owned by SnapMirror do not block the restore.
        force: bool,
    },
    DeleteVolume {
        volume: String,
        force: bool,
    },
    FileClone(clone::FileClone),
    PurgeRecovery {
        svm: String,
        name: String,
    },
}

impl Action {
    fn apply(self, state: &mut OntapState) -> Result<(), ApiError> {
        match self {
            Action::Noop => Ok(()),
            Action::CreateSnapshot(s) => snapshots::apply_create(state, s),
            Action::ModifySnapshot(c) => snapshots::apply_modify(state, c),
            Action::DeleteSnapshot { volume, snapshot } => {
                snapshots::apply_delete(state, &volume, &snapshot)
            }
            Action::CreateClone(c) => volumes::apply_create_clone(state, c),
            Action::ModifyVolume(c) => volumes::apply_modify(state, c),
            Action::Restore {
                volume,
                snapshot,
                force,
            } => volumes::apply_restore(state, &volume, &snapshot, force),
            Action::DeleteVolume { volume, force } => volumes::apply_delete(state, &volume, force),
            Action::FileClone(c) => clone::apply(state, c),
            Action::PurgeRecovery { svm, name } => cli::apply_purge(state, &svm, &name),
        }
    }
}

/// How a job ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub error: Option<ApiError>,
    pub ended: Instant,
}

/// One job.
#[derive(Debug, Clone)]
pub struct Job {
    pub uuid: String,
    pub description: String,
    /// The `message` while running.
    pub running_message: String,
    pub action: Action,
    pub fault: Option<JobFault>,
    pub starts_at: Instant,
    pub ends_at: Instant,
    pub outcome: Option<Outcome>,
}

impl Job {
    fn state_at(&self, now: Instant) -> &'static str {
        match &self.outcome {
            Some(Outcome { error: None, .. }) => "success",
            Some(Outcome { error: Some(_), .. }) => "failure",
            None if now >= self.starts_at => "running",
            None => "queued",
        }
    }

    /// Every field of the job as ONTAP reports it.
    pub fn to_json(&self, state: &OntapState) -> Value {
        let now = Instant::now();
        let mut j = json!({
            "uuid": self.uuid,
            "description": self.description,
            "state": self.state_at(now),
            "_links": {"self": {"href": format!("/api/cluster/jobs/{}", self.uuid)}},
        });
        if now >= self.starts_at || self.outcome.is_some() {
            j["start_time"] = json!(state.fmt_time(state.clock.at(self.starts_at)));
        }
        match &self.outcome {
            None if now >= self.starts_at => j["message"] = json!(self.running_message),
            None => j["message"] = json!("Queued"),
            Some(o) => {
                j["end_time"] = json!(state.fmt_time(state.clock.at(o.ended)));
                match &o.error {
                    None => {
                        j["message"] = json!("success");
                        j["code"] = json!(0);
                    }
                    Some(e) => {
                        j["message"] = json!(e.message);
                        j["code"] = json!(e.code);
                        if state.version.at_least(9, 9) {
                            j["error"] = json!({"code": e.code.to_string(), "message": e.message});
                        }
                    }
                }
            }
        }
        j
    }

    /// A short line for the state dump.
    pub fn summary(&self, state: &OntapState) -> Value {
        let j = self.to_json(state);
        json!({"uuid": j["uuid"], "description": j["description"], "state": j["state"],
               "code": j.get("code"), "message": j.get("message")})
    }
}

fn schema(state: &OntapState) -> Schema {
    let mut leaves = vec![
        "uuid",
        "description",
        "state",
        "message",
        "code",
        "start_time",
        "end_time",
    ];
    if state.version.at_least(9, 9) {
        leaves.extend(["error.code", "error.message"]);
    }
    Schema {
        leaves,
        expensive: vec![],
        defaults: vec!["uuid"],
        key: "uuid",
        keys: vec!["uuid"],
    }
}

impl OntapState {
    /// Start a job; returns its uuid. With a fault, the job fails with it and has no effect.
    pub fn submit_job(
        &mut self,
        action: Action,
        description: String,
        running_message: String,
        fault: Option<&JobFault>,
    ) -> String {
        let now = Instant::now();
        let uuid = new_uuid();
        self.jobs.push(Job {
            uuid: uuid.clone(),
            description,
            running_message,
            action,
            fault: fault.cloned(),
            starts_at: now + self.job_duration / 4,
            ends_at: now + self.job_duration,
            outcome: None,
        });
        uuid
    }

    /// End every job whose time has come (in the order they end), then forget old ones.
    /// `handle` does this on every request; call it before reading the state from outside
    /// (e.g. a state dump) to see the effects of jobs that ended since the last request.
    pub fn tick(&mut self) {
        let now = Instant::now();
        loop {
            let due = self
                .jobs
                .iter()
                .enumerate()
                .filter(|(_, j)| j.outcome.is_none() && j.ends_at <= now)
                .min_by_key(|(_, j)| j.ends_at)
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let action = std::mem::replace(&mut self.jobs[i].action, Action::Noop);
            let result = match self.jobs[i].fault.clone() {
                Some(f) => Err(ApiError::new(400, f.code, f.message)),
                None => action.apply(self),
            };
            let job = &mut self.jobs[i];
            job.outcome = Some(Outcome {
                error: result.err(),
                ended: job.ends_at,
            });
        }
        let keep = self.job_retention;
        self.jobs
            .retain(|j| j.outcome.as_ref().is_none_or(|o| o.ended + keep > now));
    }

    pub fn job(&self, uuid: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.uuid == uuid)
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
    job: String,
    deadline: Instant,
    /// The answer when the job is still running at the deadline (202).
    accepted: Response,
    /// The answer when the job succeeded in time (200/201).
    done: Response,
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
}

fn job_link(uuid: &str) -> Value {
    json!({"uuid": uuid, "_links": {"self": {"href": format!("/api/cluster/jobs/{uuid}")}}})
}

/// Answer a started job: 202 at once, or wait up to `return_timeout` seconds.
pub fn reply(started: Started, return_timeout: u64) -> Reply {
    let mut body = started.extra.clone();
    body.insert("job".into(), job_link(&started.job));
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

/// Wait for a job without holding the world lock.
pub fn wait(shared: &Shared, w: Wait) -> Response {
    loop {
        let ends_at = {
            let mut world = shared.world.lock().unwrap_or_else(|e| e.into_inner());
            let state = &mut world.ontap;
            state.tick();
            match state.job(&w.job) {
                None => return w.accepted,
                Some(j) => match &j.outcome {
                    Some(Outcome { error: None, .. }) => return w.done,
                    Some(Outcome { error: Some(e), .. }) => return e.response(),
                    None => j.ends_at,
                },
            }
        };
        let now = Instant::now();
        if now >= w.deadline {
            return w.accepted;
        }
        let nap = ends_at
            .saturating_duration_since(now)
            .max(Duration::from_millis(1))
            .min(w.deadline - now);
        std::thread::sleep(nap);
    }
}

/// `GET /api/cluster/jobs`.
pub fn get_collection(state: &OntapState, q: &mut Query) -> Result<Reply, ApiError> {
    let records = state.jobs.iter().map(|j| j.to_json(state)).collect();
    let body = collection::collection(q, &schema(state), "/api/cluster/jobs", records)?;
    Ok(Response::json(200, &body).into())
}

/// `GET /api/cluster/jobs/{uuid}`.
pub fn get_instance(state: &OntapState, q: &mut Query, uuid: &str) -> Result<Reply, ApiError> {
    let sel = fields::select(&schema(state), q.take("fields").as_deref(), true)?;
    q.take_u64("return_timeout", 0, 120)?;
    q.finish()?;
    let job = state.job(uuid).ok_or_else(ApiError::entry_not_found)?;
    Ok(Response::json(200, &fields::project(&job.to_json(state), &sel)).into())
}
