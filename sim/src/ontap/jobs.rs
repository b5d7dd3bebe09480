//! `GET /api/cluster/jobs[/{uuid}]`: the jobs every create/modify/delete starts, as ONTAP lists
//! them (queued → running → success/failure, `error` from 9.9, forgotten `job_retention_ms` after
//! they ended).

use std::time::Instant;

use super::collection;
use super::errors::ApiError;
use super::fields::{self, Schema};
use super::params::Query;
use super::reply::Reply;
use super::state::OntapState;
use crate::http::Response;

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

/// How this cluster renders job times, and whether it reports the `error` object (9.9+).
fn render(state: &OntapState) -> (impl Fn(Instant) -> String + '_, bool) {
    (
        move |t| state.fmt_time(state.clock.at(t)),
        state.version.at_least(9, 9),
    )
}

/// `GET /api/cluster/jobs`.
pub fn get_collection(state: &OntapState, q: &mut Query) -> Result<Reply, ApiError> {
    let (time, with_error) = render(state);
    let records = state
        .jobs
        .iter()
        .map(|j| j.to_json(&time, with_error))
        .collect();
    let body = collection::collection(q, &schema(state), "/api/cluster/jobs", records)?;
    Ok(Response::json(200, &body).into())
}

/// `GET /api/cluster/jobs/{uuid}`.
pub fn get_instance(state: &OntapState, q: &mut Query, uuid: &str) -> Result<Reply, ApiError> {
    let sel = fields::select(&schema(state), q.take("fields").as_deref(), true)?;
    q.take_u64("return_timeout", 0, 120)?;
    q.finish()?;
    let (time, with_error) = render(state);
    let job = state.job(uuid).ok_or_else(ApiError::entry_not_found)?;
    Ok(Response::json(200, &fields::project(&job.to_json(&time, with_error), &sel)).into())
}
