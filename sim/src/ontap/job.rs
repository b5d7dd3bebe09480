//! ONTAP jobs as data: what a job will do when it ends (`Action` and the changes it carries) and
//! its lifecycle (`Job`, `Outcome`); the state holds these, the job runner above executes them.

use std::time::Instant;

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::bulk::{BulkResult, Selected};
use super::errors::ApiError;
use crate::job_fault::JobFault;

/// A snapshot to create (effect of POST).
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    pub volume: String,
    pub uuid: String,
    pub name: String,
    pub comment: Option<String>,
    pub snapmirror_label: Option<String>,
    pub expiry_time: Option<OffsetDateTime>,
    /// Lock until then (only on a volume with snapshot locking).
    pub snaplock_expiry_time: Option<OffsetDateTime>,
}

/// A snapshot modification (effect of PATCH).
#[derive(Debug, Clone, Default)]
pub struct SnapshotChange {
    pub volume: String,
    pub snapshot: String,
    pub name: Option<String>,
    pub comment: Option<Option<String>>,
    pub snapmirror_label: Option<Option<String>>,
    pub expiry_time: Option<Option<OffsetDateTime>>,
}

/// A FlexClone to create (effect of `POST /api/storage/volumes`).
#[derive(Debug, Clone)]
pub struct NewClone {
    pub uuid: String,
    pub name: String,
    pub svm: String,
    pub parent: String,
    /// Parent snapshot uuid; None: a new base snapshot is made.
    pub snapshot: Option<String>,
    pub junction: Option<String>,
    pub policy: Option<String>,
    pub vol_type: String,
    pub comment: Option<String>,
}

/// A volume modification (effect of `PATCH /api/storage/volumes/{uuid}`).
#[derive(Debug, Clone, Default)]
pub struct VolumeChange {
    pub volume: String,
    /// `Some(None)`: unmount.
    pub junction: Option<Option<String>>,
    pub policy: Option<String>,
    pub comment: Option<Option<String>>,
    pub split: Option<bool>,
    /// `snapshot_locking_enabled` (9.12.1+).
    pub locking: Option<bool>,
}

/// A file clone to make (effect of the POST).
#[derive(Debug, Clone)]
pub struct FileClone {
    pub volume: String,
    /// Normalised, volume-relative; may start with `.snapshot/<name>/`.
    pub source: String,
    pub destination: String,
    pub overwrite: bool,
}

/// A query-based PATCH or DELETE of snapshots: the records the query selected, in order.
#[derive(Debug, Clone)]
pub struct BulkSnapshots {
    pub volume: String,
    pub records: Vec<Selected>,
    /// The change for every record (its `snapshot` is filled in per record); None: delete.
    pub change: Option<SnapshotChange>,
    pub continue_on_failure: bool,
}

/// What a job does when it ends successfully.
#[derive(Debug, Clone)]
pub enum Action {
    /// Nothing (used when a fault must fail an otherwise synchronous call).
    Noop,
    CreateSnapshot(NewSnapshot),
    ModifySnapshot(SnapshotChange),
    DeleteSnapshot {
        volume: String,
        snapshot: String,
    },
    CreateClone(NewClone),
    ModifyVolume(VolumeChange),
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
    FileClone(FileClone),
    PurgeRecovery {
        svm: String,
        name: String,
    },
    BulkSnapshots(BulkSnapshots),
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
    /// What a multi-record job did to each record (served by `?job_results_uuid=`).
    pub results: Option<BulkResult>,
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

    /// Every field of the job as ONTAP reports it; `time` formats an instant as the cluster
    /// does, `with_error` adds the `error` object (ONTAP 9.9 and later).
    pub fn to_json(&self, time: &dyn Fn(Instant) -> String, with_error: bool) -> Value {
        let now = Instant::now();
        let mut j = json!({
            "uuid": self.uuid,
            "description": self.description,
            "state": self.state_at(now),
            "_links": {"self": {"href": format!("/api/cluster/jobs/{}", self.uuid)}},
        });
        if now >= self.starts_at || self.outcome.is_some() {
            j["start_time"] = json!(time(self.starts_at));
        }
        match &self.outcome {
            None if now >= self.starts_at => j["message"] = json!(self.running_message),
            None => j["message"] = json!("Queued"),
            Some(o) => {
                j["end_time"] = json!(time(o.ended));
                match &o.error {
                    None => {
                        j["message"] = json!("success");
                        j["code"] = json!(0);
                    }
                    Some(e) => {
                        j["message"] = json!(e.message);
                        j["code"] = json!(e.code);
                        if with_error {
                            j["error"] = json!({"code": e.code.to_string(), "message": e.message});
                        }
                    }
                }
            }
        }
        j
    }

    /// A short line for the state dump.
    pub fn summary(&self, time: &dyn Fn(Instant) -> String, with_error: bool) -> Value {
        let j = self.to_json(time, with_error);
        json!({"uuid": j["uuid"], "description": j["description"], "state": j["state"],
               "code": j.get("code"), "message": j.get("message")})
    }
}
