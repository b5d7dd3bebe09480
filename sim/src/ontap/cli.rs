//! The private CLI passthrough paths clients use: `volume snapshot restore` and the volume
//! recovery queue (`GET .../volume/recovery-queue`, `POST .../recovery-queue/purge`).

use serde_json::{json, Map};

use super::collection;
use super::errors::ApiError;
use super::fields::Schema;
use super::job::Action;
use super::reply::Ctx;
use super::reply::{self, Reply, Started};
use super::state::OntapState;
use crate::http::Response;

fn cli_extra() -> Map<String, serde_json::Value> {
    let mut m = Map::new();
    m.insert("cli_output".into(), json!(""));
    m
}

/// `POST /api/private/cli/volume/snapshot/restore` `{vserver, volume, snapshot, force}`.
pub fn restore(state: &mut OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let mut body = ctx.body()?;
    let vserver = body
        .take_str("vserver")?
        .ok_or_else(|| ApiError::missing_value("vserver"))?;
    let volume = body
        .take_str("volume")?
        .ok_or_else(|| ApiError::missing_value("volume"))?;
    let snapshot = body
        .take_str("snapshot")?
        .ok_or_else(|| ApiError::missing_value("snapshot"))?;
    let force = body.take_bool("force")?.unwrap_or(false);
    body.finish()?;
    if state.svm(&vserver).is_none() {
        return Err(ApiError::svm_not_found(&vserver).with_target("vserver"));
    }
    let v = state.volume_by_name(&vserver, &volume).ok_or_else(|| {
        ApiError::new(
            404,
            4,
            format!("entry doesn't exist: volume \"{volume}\" in Vserver \"{vserver}\"."),
        )
        .with_target("volume")
    })?;
    let s = v.snapshot_by_name(&snapshot).ok_or_else(|| {
        ApiError::new(
            404,
            1638600,
            format!("Snapshot \"{snapshot}\" does not exist on volume \"{volume}\" in Vserver \"{vserver}\"."),
        )
        .with_target("snapshot")
    })?;
    let action = Action::Restore {
        volume: v.uuid.clone(),
        snapshot: s.uuid.clone(),
        force,
    };
    let msg = format!("Restoring volume \"{volume}\" to snapshot \"{snapshot}\"");
    let job = state.submit_job(action, ctx.description(), msg, ctx.fault);
    Ok(reply::started(
        Started {
            job,
            extra: cli_extra(),
            ..Default::default()
        },
        return_timeout,
    ))
}

fn queue_schema() -> Schema {
    Schema {
        leaves: vec![
            "vserver",
            "volume",
            "deletion_request_time",
            "retention_hours",
        ],
        expensive: vec![],
        defaults: vec!["vserver", "volume"],
        key: "volume",
        keys: vec!["vserver", "volume"],
    }
}

/// `GET /api/private/cli/volume/recovery-queue?vserver=&volume=`.
pub fn recovery_queue(state: &OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let records = state
        .recovery_queue
        .iter()
        .map(|q| {
            json!({
                "vserver": q.volume.svm,
                "volume": q.queued_name,
                "deletion_request_time": state.fmt_time(q.deleted_at),
                "retention_hours": 12,
            })
        })
        .collect();
    let body = collection::collection(
        &mut ctx.query,
        &queue_schema(),
        "/api/private/cli/volume/recovery-queue",
        records,
    )?;
    Ok(Response::json(200, &body).into())
}

/// `POST /api/private/cli/volume/recovery-queue/purge` `{vserver, volume}`.
pub fn purge(state: &mut OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let mut body = ctx.body()?;
    let vserver = body
        .take_str("vserver")?
        .ok_or_else(|| ApiError::missing_value("vserver"))?;
    let volume = body
        .take_str("volume")?
        .ok_or_else(|| ApiError::missing_value("volume"))?;
    body.finish()?;
    if !state
        .recovery_queue
        .iter()
        .any(|q| q.volume.svm == vserver && q.queued_name == volume)
    {
        return Err(queue_entry_missing(&vserver, &volume));
    }
    let msg = format!("Purging volume \"{volume}\" from the recovery queue");
    let action = Action::PurgeRecovery {
        svm: vserver,
        name: volume,
    };
    let job = state.submit_job(action, ctx.description(), msg, ctx.fault);
    Ok(reply::started(
        Started {
            job,
            extra: cli_extra(),
            ..Default::default()
        },
        return_timeout,
    ))
}

fn queue_entry_missing(vserver: &str, volume: &str) -> ApiError {
    ApiError::new(
        404,
        4,
        format!("entry doesn't exist: volume \"{volume}\" of Vserver \"{vserver}\" is not in the recovery queue."),
    )
    .with_target("volume")
}

/// The effect of a purge: the volume is gone for good (its parent snapshot is free again).
pub fn apply_purge(state: &mut OntapState, svm: &str, name: &str) -> Result<(), ApiError> {
    let before = state.recovery_queue.len();
    state
        .recovery_queue
        .retain(|q| !(q.volume.svm == svm && q.queued_name == name));
    if state.recovery_queue.len() == before {
        return Err(queue_entry_missing(svm, name));
    }
    Ok(())
}
