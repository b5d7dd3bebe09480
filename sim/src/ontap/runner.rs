//! The job runner: ends every job whose time has come, in the order they end, by executing its
//! `Action` through the resource modules (snapshots, volumes, file clone, CLI), then forgets old jobs.

use std::time::Instant;

use super::bulk::{self, BulkResult};
use super::errors::ApiError;
use super::job::{Action, BulkSnapshots, Outcome, SnapshotChange};
use super::state::OntapState;
use super::{cli, clone, snapshots, volumes};

/// A query-based snapshot PATCH or DELETE: every selected record in turn (ONTAP: "Query-based
/// operations will not continue to the next record until the operation on the prior record is
/// completed"), stopping at a failure unless `continue_on_failure`.
fn apply_bulk(b: BulkSnapshots, state: &mut OntapState) -> BulkResult {
    bulk::run(
        state,
        &b.records,
        b.continue_on_failure,
        |state, record| match &b.change {
            None => snapshots::apply_delete(state, &b.volume, &record.uuid),
            Some(template) => snapshots::apply_modify(
                state,
                SnapshotChange {
                    volume: b.volume.clone(),
                    snapshot: record.uuid.clone(),
                    ..template.clone()
                },
            ),
        },
    )
}

/// Execute what a job does when it ends successfully.
fn apply(action: Action, state: &mut OntapState) -> Result<(), ApiError> {
    match action {
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
        Action::BulkSnapshots(b) => bulk::job_error(&apply_bulk(b, state)).map_or(Ok(()), Err),
    }
}

impl OntapState {
    /// End every job whose time has come (in the order they end), then forget old ones.
    /// `handle` does this on every request; call it before reading the state from outside
    /// (e.g. a state dump) to see the effects of jobs that ended since the last request.
    pub fn tick(&mut self) {
        let now = Instant::now();
        self.run_due(now);
        self.forget_ended(now);
    }

    /// End every job whose time has come, in the order they end; forget none. A request that
    /// waits on its job (`return_timeout`) reads the outcome between this and `forget_ended`,
    /// so it sees a job that ended in time even when its thread wakes late.
    pub fn run_due(&mut self, now: Instant) {
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
            let (result, results) = match (self.jobs[i].fault.clone(), action) {
                (Some(f), _) => (Err(ApiError::new(400, f.code, f.message)), None),
                (None, Action::BulkSnapshots(b)) => {
                    let done = apply_bulk(b, self);
                    (bulk::job_error(&done).map_or(Ok(()), Err), Some(done))
                }
                (None, action) => (apply(action, self), None),
            };
            let job = &mut self.jobs[i];
            job.results = results;
            job.outcome = Some(Outcome {
                error: result.err(),
                ended: job.ends_at,
            });
        }
    }

    /// Forget the jobs that ended more than the retention time before `now`.
    pub fn forget_ended(&mut self, now: Instant) {
        let keep = self.job_retention;
        self.jobs
            .retain(|j| j.outcome.as_ref().is_none_or(|o| o.ended + keep > now));
    }
}
