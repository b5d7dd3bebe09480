//! `/api/storage/volumes/{uuid}/snapshots[/{uuid}]`: the snapshot record (owners derived from
//! FlexClones, size from what newer states no longer share), GET, POST, PATCH and DELETE, with
//! ONTAP's rules (unique names, 1023 per volume, owners and expiry block deletion), and the
//! query-based PATCH and DELETE on the collection (one job for every match, `bulk`).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::bulk;
use super::clock::parse_time;
use super::collection;
use super::conditions;
use super::errors::ApiError;
use super::fields::{self, Schema};
use super::job::{Action, BulkSnapshots, NewSnapshot, SnapshotChange};
use super::params::Body;
use super::reply::Ctx;
use super::reply::{self, Reply, Started};
use super::snaplock;
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
        "snaplock_expiry_time",
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
    leaves.extend(extra_leaves(state));
    Schema {
        leaves,
        expensive: vec!["reclaimable_space"],
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
    if let Some(t) = s.snaplock_expiry_time {
        j["snaplock_expiry_time"] = json!(state.fmt_time(t));
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
    add_extra_fields(state, &mut j, s, size);
    j
}

/// Snapshot fields by the release that added them (first netapp-ontap wheel whose
/// `resources/snapshot.py` has them; ONTAP swagger `x-ntap-introduced`): `snaplock_expiry_time`
/// (9.6; only on SnapLock volumes, which the simulator has none of, so it is never filled),
/// `reclaimable_space` (9.10, expensive: not in `fields=*`), `logical_size` (9.12). An older
/// release answers 262179 for them, like for any unknown field. Not simulated: `delta`.
fn extra_leaves(state: &OntapState) -> Vec<&'static str> {
    let mut leaves = vec!["snaplock_expiry_time"];
    if state.version.at_least(9, 10) {
        leaves.push("reclaimable_space");
    }
    if state.version.at_least(9, 12) {
        leaves.push("logical_size");
    }
    leaves
}

/// `reclaimable_space`: what deleting it frees (the bytes no newer state shares); `logical_size`:
/// the bytes of the captured file system.
fn add_extra_fields(state: &OntapState, j: &mut Value, s: &Snapshot, size: u64) {
    if state.version.at_least(9, 10) {
        j["reclaimable_space"] = json!(size);
    }
    if state.version.at_least(9, 12) {
        j["logical_size"] = json!(s.tree.used_bytes());
    }
}

fn volume_or_404<'a>(state: &'a OntapState, uuid: &str) -> Result<&'a Volume, ApiError> {
    state
        .volume(uuid)
        .ok_or_else(|| ApiError::volume_not_found(uuid))
}

/// Every snapshot record of a volume, every field, as a GET of the collection sees them.
fn records(state: &OntapState, v: &Volume) -> Vec<Value> {
    v.snapshots
        .iter()
        .zip(sizes(v))
        .map(|(s, size)| snapshot_json(state, v, s, size))
        .collect()
}

/// `GET .../snapshots`; with `job_results_uuid=<job>` what a query-based PATCH or DELETE did
/// (ONTAP 9.11.1+ multi-record jobs; netapp-ontap `_check_multi_record_response`).
pub fn get_collection(state: &OntapState, ctx: &mut Ctx, vol: &str) -> Result<Reply, ApiError> {
    let v = volume_or_404(state, vol)?;
    let base = format!("/api/storage/volumes/{vol}/snapshots");
    if let Some(job) = ctx.query.take("job_results_uuid") {
        ctx.query.take("fields");
        ctx.query.finish()?;
        let result = state
            .job(&job)
            .and_then(|j| j.results.as_ref())
            .ok_or_else(ApiError::entry_not_found)?;
        return Ok(Response::json(200, &bulk::results_body(&base, &job, result)).into());
    }
    let records = records(state, v);
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
    let schema = schema(state);
    let sel = fields::select(&schema, ctx.query.take("fields").as_deref(), true)?;
    ctx.query.take_u64("return_timeout", 0, 120)?;
    let v = volume_or_404(state, vol)?;
    let sizes = sizes(v);
    let (s, size) = v
        .snapshots
        .iter()
        .zip(sizes)
        .find(|(s, _)| s.uuid == uuid)
        .ok_or_else(ApiError::entry_not_found)?;
    let record = snapshot_json(state, v, s, size);
    collection::instance(&mut ctx.query, &schema, &record)?;
    Ok(Response::json(200, &fields::project(&record, &sel)).into())
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
    let lock = body.take_str("snaplock_expiry_time")?;
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
    let snaplock_expiry_time = match lock.as_deref() {
        Some(t) => {
            let at = parse_time(t).ok_or_else(|| {
                ApiError::invalid_value("snaplock_expiry_time", t, "an ISO-8601 date and time")
            })?;
            // Honoured only on volumes with snapshot locking; elsewhere ONTAP ignores the setting
            // (NetApp docs snaplock/snapshot-lock-concept.adoc: "otherwise, the retention period
            // setting is ignored").
            if v.snapshot_locking_enabled && state.locking_supported() {
                if let Some(e) = snaplock::expiry_refusal(at, state.now(), t) {
                    return Err(e);
                }
                Some(at)
            } else {
                None
            }
        }
        None => None,
    };
    let new = NewSnapshot {
        volume: vol.to_string(),
        uuid: new_uuid(),
        name: name.clone(),
        comment: comment.filter(|c| !c.is_empty()),
        snapmirror_label: label.filter(|l| !l.is_empty()),
        expiry_time,
        snaplock_expiry_time,
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
            results: None,
        },
        return_timeout,
    ))
}

pub fn apply_create(state: &mut OntapState, s: NewSnapshot) -> Result<(), ApiError> {
    conditions::snapshot_create(state, &s.volume)?;
    insert_snapshot(
        state,
        &s.volume,
        s.uuid.clone(),
        s.name,
        s.comment,
        s.snapmirror_label,
        s.expiry_time,
    )?;
    if let Some(t) = s.snaplock_expiry_time {
        if let Some(snap) = state
            .volume_mut(&s.volume)
            .and_then(|v| v.snapshots.iter_mut().find(|x| x.uuid == s.uuid))
        {
            snap.snaplock_expiry_time = Some(t);
        }
    }
    Ok(())
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
    let change = change_from_body(state, &mut body, vol, uuid)?;
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

/// The changes of a PATCH body (`name`, `comment`, `snapmirror_label` from 9.8, `expiry_time`);
/// any other field is refused.
fn change_from_body(
    state: &OntapState,
    body: &mut Body,
    vol: &str,
    uuid: &str,
) -> Result<SnapshotChange, ApiError> {
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
    Ok(change)
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

/// Start the one job of a query-based PATCH (`change`) or DELETE (None) and answer with its link,
/// `num_records`, and with `return_records=true` the selected records.
///
/// Not simulated: releases before 9.11.1 answer with one job per record (`jobs[]`); `max_records`
/// acts on that many and gives no `next` link; `serial_records` is accepted, the records are
/// always handled one after the other within the job's time.
fn start_bulk(
    state: &mut OntapState,
    ctx: &mut Ctx,
    vol: &str,
    change: Option<SnapshotChange>,
    opts: bulk::Options,
    selected: Vec<bulk::Selected>,
) -> Result<Reply, ApiError> {
    let v = volume_or_404(state, vol)?;
    let base = format!("/api/storage/volumes/{vol}/snapshots");
    let what = if change.is_some() {
        "Modifying"
    } else {
        "Deleting"
    };
    let msg = format!(
        "{what} {} snapshots of volume \"{}\"",
        selected.len(),
        v.name
    );
    let mut extra = Map::new();
    extra.insert("num_records".into(), json!(selected.len()));
    if opts.return_records {
        let records: Vec<Value> = selected
            .iter()
            .map(|s| {
                json!({"uuid": s.uuid, "name": s.name,
                       "_links": {"self": {"href": format!("{base}/{}", s.uuid)}}})
            })
            .collect();
        extra.insert("records".into(), json!(records));
    }
    let action = Action::BulkSnapshots(BulkSnapshots {
        volume: vol.to_string(),
        records: selected,
        change,
        continue_on_failure: opts.continue_on_failure,
    });
    let job = state.submit_job(action, ctx.description(), msg, ctx.fault);
    Ok(reply::started(
        Started {
            results: Some(bulk::results_href(&base, &job)),
            job,
            extra,
            ..Default::default()
        },
        opts.return_timeout,
    ))
}

/// `serial_records` is known from ONTAP 9.10 (absent from the 9.9 client, sent by 9.10.1's).
fn knows_serial_records(state: &OntapState) -> bool {
    state.version.at_least(9, 10)
}

/// `DELETE .../snapshots?<query>`: every matching snapshot, in one job.
pub fn delete_collection(
    state: &mut OntapState,
    ctx: &mut Ctx,
    vol: &str,
) -> Result<Reply, ApiError> {
    let opts = bulk::options(&mut ctx.query, knows_serial_records(state))?;
    let v = volume_or_404(state, vol)?;
    let selected = bulk::select(
        &mut ctx.query,
        &schema(state),
        "DELETE",
        &records(state, v),
        opts.max_records,
    )?;
    start_bulk(state, ctx, vol, None, opts, selected)
}

/// `PATCH .../snapshots?<query>`: the body's changes to every matching snapshot, in one job (a
/// `name` for several fails from the second record on, as a duplicate).
pub fn patch_collection(
    state: &mut OntapState,
    ctx: &mut Ctx,
    vol: &str,
) -> Result<Reply, ApiError> {
    let opts = bulk::options(&mut ctx.query, knows_serial_records(state))?;
    let v = volume_or_404(state, vol)?;
    let selected = bulk::select(
        &mut ctx.query,
        &schema(state),
        "PATCH",
        &records(state, v),
        opts.max_records,
    )?;
    let mut body = ctx.body()?;
    check_body_volume(state, &mut body, v)?;
    let change = change_from_body(state, &mut body, vol, "")?;
    start_bulk(state, ctx, vol, Some(change), opts, selected)
}

/// The effect of a snapshot DELETE: refused while it has owners (1638543), while it is locked
/// (snapshot locking) or before its expiry time (both 1638555).
pub fn apply_delete(state: &mut OntapState, vol: &str, uuid: &str) -> Result<(), ApiError> {
    let (v, s) = find(state, vol, uuid)?;
    let shown = s
        .snaplock_expiry_time
        .map(|t| state.fmt_time(t))
        .unwrap_or_default();
    if let Some(e) = snaplock::delete_refusal(
        &s.name,
        &v.name,
        &v.svm,
        s.snaplock_expiry_time,
        state.now(),
        &shown,
    ) {
        return Err(e);
    }
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
