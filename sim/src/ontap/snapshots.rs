//! `/api/storage/volumes/{uuid}/snapshots[/{uuid}]`: the snapshot record (owners derived from
//! FlexClones, size from what newer states no longer share), GET, POST, PATCH and DELETE, with
//! ONTAP's rules (unique names, 1023 per volume, owners and expiry block deletion).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::clock::parse_time;
use super::collection;
use super::errors::ApiError;
use super::fields::{self, Schema};
use super::job::{Action, NewSnapshot, SnapshotChange};
use super::params::Body;
use super::reply::Ctx;
use super::reply::{self, Reply, Started};
use super::snapshot_store::{insert_snapshot, sizes};
use super::state::{new_uuid, OntapState, Snapshot, Volume};
use crate::http::Response;

pub fn schema(state: &OntapState) -> Schema {
    let mut leaves = vec![
        "uuid",
        "name",
        "create_time",
        "comment",
        "expiry_time",
        "owners",
        "state",
        "volume.name",
        "volume.uuid",
        "svm.name",
        "svm.uuid",
    ];
    if state.version.at_least(9, 8) {
        leaves.push("snapmirror_label");
    }
    if state.version.at_least(9, 9) {
        leaves.push("size");
    }
    Schema {
        leaves,
        expensive: vec![],
        defaults: vec!["name", "uuid"],
        key: "uuid",
        keys: vec!["uuid", "name"],
    }
}

fn snapshot_json(state: &OntapState, v: &Volume, s: &Snapshot, size: u64) -> Value {
    let svm_uuid = state
        .svm(&v.svm)
        .map(|x| x.uuid.clone())
        .unwrap_or_default();
    let mut j = json!({
        "uuid": s.uuid,
        "name": s.name,
        "create_time": state.fmt_time(s.create_time),
        "state": "valid",
        "volume": {"name": v.name, "uuid": v.uuid},
        "svm": {"name": v.svm, "uuid": svm_uuid},
        "_links": {"self": {"href": format!("/api/storage/volumes/{}/snapshots/{}", v.uuid, s.uuid)}},
    });
    if let Some(c) = &s.comment {
        j["comment"] = json!(c);
    }
    if let Some(t) = s.expiry_time {
        j["expiry_time"] = json!(state.fmt_time(t));
    }
    if state.version.at_least(9, 8) {
        if let Some(l) = &s.snapmirror_label {
            j["snapmirror_label"] = json!(l);
        }
    }
    let owners = state.snapshot_owners(s);
    if !owners.is_empty() {
        j["owners"] = json!(owners);
    }
    if state.version.at_least(9, 9) {
        j["size"] = json!(size);
    }
    j
}

fn volume_or_404<'a>(state: &'a OntapState, uuid: &str) -> Result<&'a Volume, ApiError> {
    state
        .volume(uuid)
        .ok_or_else(|| ApiError::volume_not_found(uuid))
}

/// `GET .../snapshots`.
pub fn get_collection(state: &OntapState, ctx: &mut Ctx, vol: &str) -> Result<Reply, ApiError> {
    let v = volume_or_404(state, vol)?;
    let records = v
        .snapshots
        .iter()
        .zip(sizes(v))
        .map(|(s, size)| snapshot_json(state, v, s, size))
        .collect();
    let base = format!("/api/storage/volumes/{vol}/snapshots");
    let body = collection::collection(&mut ctx.query, &schema(state), &base, records)?;
    Ok(Response::json(200, &body).into())
}

/// `GET .../snapshots/{uuid}`.
pub fn get_instance(
    state: &OntapState,
    ctx: &mut Ctx,
    vol: &str,
    uuid: &str,
) -> Result<Reply, ApiError> {
    let sel = fields::select(&schema(state), ctx.query.take("fields").as_deref(), true)?;
    ctx.query.take_u64("return_timeout", 0, 120)?;
    ctx.query.finish()?;
    let v = volume_or_404(state, vol)?;
    let sizes = sizes(v);
    let (s, size) = v
        .snapshots
        .iter()
        .zip(sizes)
        .find(|(s, _)| s.uuid == uuid)
        .ok_or_else(ApiError::entry_not_found)?;
    Ok(Response::json(
        200,
        &fields::project(&snapshot_json(state, v, s, size), &sel),
    )
    .into())
}

/// Snapshot name rules (`code`: 1638518 on create, 524508 on rename; 1638477 reserved prefix).
pub fn check_snapshot_name(name: &str, code: u64) -> Result<(), ApiError> {
    const FORBIDDEN: &[char] = &['/', '\\', '*', '?', '|', ',', '"', '\'', '<', '>', '{', '}'];
    let bad = name.is_empty()
        || name.chars().count() > 255
        || name.starts_with('.')
        || name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || FORBIDDEN.contains(&c));
    if bad {
        return Err(ApiError::new(
            400,
            code,
            format!("The specified snapshot name \"{name}\" is invalid."),
        )
        .with_target("name"));
    }
    if name.to_ascii_lowercase().starts_with("snapmirror.") {
        return Err(ApiError::new(
            400,
            1638477,
            format!("User-created snapshot names cannot begin with \"snapmirror.\" (\"{name}\")."),
        )
        .with_target("name"));
    }
    Ok(())
}

fn check_comment(c: &str) -> Result<(), ApiError> {
    if c.chars().count() > 255 {
        return Err(ApiError::invalid_value(
            "comment",
            c,
            "at most 255 characters",
        ));
    }
    Ok(())
}

fn check_label(l: &str) -> Result<(), ApiError> {
    if l.chars().count() > 31 || l.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid_value(
            "snapmirror_label",
            l,
            "at most 31 characters without spaces",
        ));
    }
    Ok(())
}

fn parse_expiry(t: &str) -> Result<OffsetDateTime, ApiError> {
    parse_time(t)
        .ok_or_else(|| ApiError::invalid_value("expiry_time", t, "an ISO-8601 date and time"))
}

/// `volume.*` / `svm.*` in a snapshot body must name the URL's volume.
fn check_body_volume(state: &OntapState, body: &mut Body, v: &Volume) -> Result<(), ApiError> {
    let svm_uuid = state
        .svm(&v.svm)
        .map(|s| s.uuid.clone())
        .unwrap_or_default();
    let expected = [
        ("volume.uuid", v.uuid.as_str()),
        ("volume.name", v.name.as_str()),
        ("svm.name", v.svm.as_str()),
        ("svm.uuid", svm_uuid.as_str()),
    ];
    for (key, want) in expected {
        if let Some(got) = body.take_str(key)? {
            if got != want {
                return Err(ApiError::invalid_value(
                    key,
                    &got,
                    "does not match the volume in the URL",
                ));
            }
        }
    }
    Ok(())
}

/// `POST .../snapshots`.
pub fn post(state: &mut OntapState, ctx: &mut Ctx, vol: &str) -> Result<Reply, ApiError> {
    let return_records = ctx.query.take_bool("return_records")?.unwrap_or(false);
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let mut body = ctx.body()?;
    let v = volume_or_404(state, vol)?;
    check_body_volume(state, &mut body, v)?;
    let name = body
        .take_str("name")?
        .ok_or_else(|| ApiError::missing_value("name"))?;
    let comment = body.take_str("comment")?;
    let expiry = body.take_str("expiry_time")?;
    let label = if state.version.at_least(9, 8) {
        body.take_str("snapmirror_label")?
    } else {
        None
    };
    body.finish()?;
    check_snapshot_name(&name, 1638518)?;
    if let Some(c) = &comment {
        check_comment(c)?;
    }
    if let Some(l) = &label {
        check_label(l)?;
    }
    let expiry_time = expiry.as_deref().map(parse_expiry).transpose()?;
    let new = NewSnapshot {
        volume: vol.to_string(),
        uuid: new_uuid(),
        name: name.clone(),
        comment: comment.filter(|c| !c.is_empty()),
        snapmirror_label: label.filter(|l| !l.is_empty()),
        expiry_time,
    };
    let uuid = new.uuid.clone();
    let msg = format!("Creating snapshot \"{name}\" of volume \"{}\"", v.name);
    let job = state.submit_job(
        Action::CreateSnapshot(new),
        ctx.description(),
        msg,
        ctx.fault,
    );
    let mut extra = Map::new();
    if return_records {
        extra.insert("num_records".into(), json!(1));
        extra.insert(
            "records".into(),
            json!([{"uuid": uuid, "name": name,
                    "_links": {"self": {"href": format!("/api/storage/volumes/{vol}/snapshots/{uuid}")}}}]),
        );
    }
    Ok(reply::started(
        Started {
            job,
            created: true,
            location: Some(format!(
                "/api/storage/volumes/{vol}/snapshots/?name={}",
                collection::encode(&name)
            )),
            extra,
        },
        return_timeout,
    ))
}

pub fn apply_create(state: &mut OntapState, s: NewSnapshot) -> Result<(), ApiError> {
    insert_snapshot(
        state,
        &s.volume,
        s.uuid,
        s.name,
        s.comment,
        s.snapmirror_label,
        s.expiry_time,
    )
    .map(|_| ())
}

fn find<'a>(
    state: &'a OntapState,
    vol: &str,
    uuid: &str,
) -> Result<(&'a Volume, &'a Snapshot), ApiError> {
    let v = volume_or_404(state, vol)?;
    let s = v.snapshot(uuid).ok_or_else(ApiError::entry_not_found)?;
    Ok((v, s))
}

/// `PATCH .../snapshots/{uuid}`.
pub fn patch(
    state: &mut OntapState,
    ctx: &mut Ctx,
    vol: &str,
    uuid: &str,
) -> Result<Reply, ApiError> {
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let mut body = ctx.body()?;
    let (v, s) = find(state, vol, uuid)?;
    check_body_volume(state, &mut body, v)?;
    let mut change = SnapshotChange {
        volume: vol.to_string(),
        snapshot: uuid.to_string(),
        ..Default::default()
    };
    if let Some(n) = body.take_str("name")? {
        check_snapshot_name(&n, 524508)?;
        change.name = Some(n);
    }
    if let Some(c) = body.take_nullable_str("comment")? {
        if let Some(c) = &c {
            check_comment(c)?;
        }
        change.comment = Some(c.filter(|c| !c.is_empty()));
    }
    if state.version.at_least(9, 8) {
        if let Some(l) = body.take_nullable_str("snapmirror_label")? {
            if let Some(l) = &l {
                check_label(l)?;
            }
            change.snapmirror_label = Some(l.filter(|l| !l.is_empty()));
        }
    }
    if let Some(t) = body.take_nullable_str("expiry_time")? {
        change.expiry_time = Some(t.as_deref().map(parse_expiry).transpose()?);
    }
    body.finish()?;
    let msg = format!("Modifying snapshot \"{}\" of volume \"{}\"", s.name, v.name);
    let job = state.submit_job(
        Action::ModifySnapshot(change),
        ctx.description(),
        msg,
        ctx.fault,
    );
    Ok(reply::started(
        Started {
            job,
            ..Default::default()
        },
        return_timeout,
    ))
}

pub fn apply_modify(state: &mut OntapState, c: SnapshotChange) -> Result<(), ApiError> {
    let (v, _) = find(state, &c.volume, &c.snapshot)?;
    if let Some(n) = &c.name {
        if v.snapshots
            .iter()
            .any(|s| s.name == *n && s.uuid != c.snapshot)
        {
            return Err(ApiError::new(
                409,
                525059,
                format!(
                    "A snapshot with the specified name already exists: \"{n}\" on volume \"{}\".",
                    v.name
                ),
            )
            .with_target("name"));
        }
    }
    let s = state
        .volume_mut(&c.volume)
        .and_then(|v| v.snapshots.iter_mut().find(|s| s.uuid == c.snapshot))
        .ok_or_else(ApiError::entry_not_found)?;
    if let Some(n) = c.name {
        s.name = n;
    }
    if let Some(x) = c.comment {
        s.comment = x;
    }
    if let Some(x) = c.snapmirror_label {
        s.snapmirror_label = x;
    }
    if let Some(x) = c.expiry_time {
        s.expiry_time = x;
    }
    // a renamed snapshot keeps backing its clones
    let (vol, snap) = (c.volume.clone(), c.snapshot.clone());
    let new_name = state
        .volume(&vol)
        .and_then(|v| v.snapshot(&snap))
        .map(|s| s.name.clone());
    if let Some(new_name) = new_name {
        for v in state
            .volumes
            .iter_mut()
            .chain(state.recovery_queue.iter_mut().map(|q| &mut q.volume))
        {
            if let Some(cl) = v.clone.as_mut().filter(|cl| cl.snapshot_uuid == snap) {
                cl.snapshot_name = new_name.clone();
            }
        }
    }
    Ok(())
}

/// `DELETE .../snapshots/{uuid}`.
pub fn delete(
    state: &mut OntapState,
    ctx: &mut Ctx,
    vol: &str,
    uuid: &str,
) -> Result<Reply, ApiError> {
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let (v, s) = find(state, vol, uuid)?;
    let msg = format!("Deleting snapshot \"{}\" of volume \"{}\"", s.name, v.name);
    let action = Action::DeleteSnapshot {
        volume: vol.to_string(),
        snapshot: uuid.to_string(),
    };
    let job = state.submit_job(action, ctx.description(), msg, ctx.fault);
    Ok(reply::started(
        Started {
            job,
            ..Default::default()
        },
        return_timeout,
    ))
}

/// The effect of a snapshot DELETE: refused while it has owners (1638543) or before its expiry
/// time (1638555).
pub fn apply_delete(state: &mut OntapState, vol: &str, uuid: &str) -> Result<(), ApiError> {
    let (v, s) = find(state, vol, uuid)?;
    let owners = state.snapshot_owners(s);
    if !owners.is_empty() {
        return Err(ApiError::new(
            409,
            1638543,
            format!(
                "Failed to delete snapshot because it has an owner. Snapshot \"{}\" of volume \"{}\" in SVM \"{}\" is owned by: {}.",
                s.name, v.name, v.svm, owners.join(", ")
            ),
        ));
    }
    if let Some(t) = s.expiry_time.filter(|t| *t > state.now()) {
        return Err(ApiError::new(
            409,
            1638555,
            format!(
                "The specified snapshot has not expired or is locked. Snapshot \"{}\" of volume \"{}\" expires at {}. Use the \"snapshot show -fields owners, expiry-time\" command to view the owners and expiry time of the snapshot.",
                s.name, v.name, state.fmt_time(t)
            ),
        ));
    }
    if let Some(v) = state.volume_mut(vol) {
        v.snapshots.retain(|s| s.uuid != uuid);
    }
    Ok(())
}
