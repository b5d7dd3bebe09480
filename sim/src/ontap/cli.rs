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

/// The arguments of a private CLI action: in the body (POST, as the ONTAP 9.7 private CLI
/// passthrough documentation shows for verbs) or as the query of a PATCH (what netapp-ontap's
/// `CLI().execute("volume snapshot restore", vserver=..., ...)` sends: "POST with filters becomes
/// PATCH", resources/cli.py). Returns the `required` values in order and the optional `flag`.
fn cli_args(
    ctx: &mut Ctx,
    required: &[&str],
    flag: Option<&str>,
) -> Result<(Vec<String>, bool), ApiError> {
    if ctx.req.method.eq_ignore_ascii_case("PATCH") {
        let q = &mut ctx.query;
        let values = required
            .iter()
            .map(|k| q.take(k).ok_or_else(|| ApiError::missing_value(k)))
            .collect::<Result<Vec<_>, _>>()?;
        let set = match flag {
            Some(f) => q.take_bool(f)?.unwrap_or(false),
            None => false,
        };
        q.finish()?;
        ctx.body()?.finish()?;
        return Ok((values, set));
    }
    ctx.query.finish()?;
    let mut body = ctx.body()?;
    let values = required
        .iter()
        .map(|k| body.take_str(k)?.ok_or_else(|| ApiError::missing_value(k)))
        .collect::<Result<Vec<_>, _>>()?;
    let set = match flag {
        Some(f) => body.take_bool(f)?.unwrap_or(false),
        None => false,
    };
    body.finish()?;
    Ok((values, set))
}

/// `POST /api/private/cli/volume/snapshot/restore` `{vserver, volume, snapshot, force}`, or
/// `PATCH ...?vserver=&volume=&snapshot=&force=`.
pub fn restore(state: &mut OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let return_timeout = ctx.query.return_timeout()?;
    let (args, force) = cli_args(ctx, &["vserver", "volume", "snapshot"], Some("force"))?;
    let [vserver, volume, snapshot] =
        <[String; 3]>::try_from(args).map_err(|_| ApiError::missing_value("snapshot"))?;
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

/// `POST /api/private/cli/volume/recovery-queue/purge` `{vserver, volume}`, or PATCH with them as
/// the query.
pub fn purge(state: &mut OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let return_timeout = ctx.query.return_timeout()?;
    let (args, _) = cli_args(ctx, &["vserver", "volume"], None)?;
    let [vserver, volume] =
        <[String; 2]>::try_from(args).map_err(|_| ApiError::missing_value("volume"))?;
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
