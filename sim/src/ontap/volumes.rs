//! `/api/storage/volumes[/{uuid}]`: the volume record, collection and instance GET, FlexClone
//! creation (POST), PATCH (junction, export policy, split, SnapRestore) and DELETE with the
//! recovery queue; the checks made at request time and the effects applied when the job ends.

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

use super::collection;
use super::conditions;
use super::errors::ApiError;
use super::fields::{self, Schema};
use super::job::{Action, NewClone, VolumeChange};
use super::reply::Ctx;
use super::reply::{self, Reply, Started};
use super::snaplock;
use super::snapshot_store::{insert_snapshot, sizes};
use super::state::{new_uuid, CloneOf, OntapState, QueuedVolume, Volume};
use crate::http::Response;

const VOLUMES: &str = "/api/storage/volumes";

pub fn schema(state: &OntapState) -> Schema {
    let mut leaves = vec![
        "uuid",
        "name",
        "svm.name",
        "svm.uuid",
        "state",
        "style",
        "type",
        "comment",
        "create_time",
        "language",
        "is_svm_root",
        "aggregates",
        "snapshot_policy.name",
        "nas.path",
        "nas.export_policy.name",
        "nas.export_policy.id",
        "nas.security_style",
        "nas.unix_permissions",
        "nas.uid",
        "nas.gid",
        "clone.is_flexclone",
        "clone.parent_volume.name",
        "clone.parent_volume.uuid",
        "clone.parent_snapshot.name",
        "clone.parent_snapshot.uuid",
        "clone.parent_svm.name",
        "clone.parent_svm.uuid",
        "clone.split_initiated",
        "clone.split_estimate",
        "clone.split_complete_percent",
        "space.size",
        "space.used",
        "space.available",
        "space.snapshot.used",
        "space.snapshot.reserve_percent",
    ];
    if state.version.at_least(9, 10) {
        leaves.push("snapshot_count");
    }
    if state.locking_supported() {
        leaves.push("snapshot_locking_enabled");
    }
    Schema {
        leaves,
        expensive: vec![
            "nas.",
            "clone.parent_",
            "clone.split_",
            "space.snapshot.",
            "is_svm_root",
        ],
        defaults: vec!["name", "uuid"],
        key: "uuid",
        keys: vec!["uuid", "name"],
    }
}

/// Every field of a volume.
pub fn volume_json(state: &OntapState, v: &Volume) -> Value {
    let svm_uuid = state
        .svm(&v.svm)
        .map(|s| s.uuid.clone())
        .unwrap_or_default();
    let policy_id = state
        .svm(&v.svm)
        .and_then(|s| s.export_policies.iter().find(|p| p.name == v.export_policy))
        .map(|p| p.id);
    let snap_used: u64 = sizes(v).iter().sum();
    let used = v.tree.used_bytes() + snap_used;
    let mut nas = json!({
        "export_policy": {"name": v.export_policy},
        "security_style": "unix",
        "unix_permissions": 755,
        "uid": 0,
        "gid": 0,
    });
    if let Some(id) = policy_id {
        nas["export_policy"]["id"] = json!(id);
    }
    if let Some(j) = &v.junction {
        nas["path"] = json!(j);
    }
    let mut clone = json!({"is_flexclone": v.clone.is_some(), "split_initiated": false});
    if let Some(c) = &v.clone {
        let parent_svm_uuid = state
            .svm(&c.parent_svm)
            .map(|s| s.uuid.clone())
            .unwrap_or_default();
        clone["parent_volume"] = json!({"name": c.parent_name, "uuid": c.parent_uuid});
        clone["parent_snapshot"] = json!({"name": c.snapshot_name, "uuid": c.snapshot_uuid});
        clone["parent_svm"] = json!({"name": c.parent_svm, "uuid": parent_svm_uuid});
        clone["split_estimate"] = json!(v.tree.used_bytes());
        clone["split_complete_percent"] = json!(0);
    }
    let mut j = json!({
        "uuid": v.uuid,
        "name": v.name,
        "svm": {"name": v.svm, "uuid": svm_uuid},
        "state": "online",
        "style": "flexvol",
        "type": v.vol_type,
        "create_time": state.fmt_time(v.create_time),
        "language": "c.utf_8",
        "is_svm_root": false,
        "aggregates": [{"name": "aggr1", "uuid": super::state::stable_uuid("aggregate:aggr1")}],
        "snapshot_policy": {"name": if v.clone.is_some() { "none" } else { "default" }},
        "nas": nas,
        "clone": clone,
        "space": {
            "size": v.size,
            "used": used,
            "available": v.size.saturating_sub(used),
            "snapshot": {"used": snap_used, "reserve_percent": 5},
        },
        "_links": {"self": {"href": format!("{VOLUMES}/{}", v.uuid)}},
    });
    if let Some(c) = &v.comment {
        j["comment"] = json!(c);
    }
    if state.version.at_least(9, 10) {
        j["snapshot_count"] = json!(v.snapshots.len());
    }
    if state.locking_supported() {
        j["snapshot_locking_enabled"] = json!(v.snapshot_locking_enabled);
    }
    j
}

/// `GET /api/storage/volumes`.
pub fn get_collection(state: &OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let records = state
        .volumes
        .iter()
        .map(|v| volume_json(state, v))
        .collect();
    let body = collection::collection(&mut ctx.query, &schema(state), VOLUMES, records)?;
    Ok(Response::json(200, &body).into())
}

/// `GET /api/storage/volumes/{uuid}`.
pub fn get_instance(state: &OntapState, ctx: &mut Ctx, uuid: &str) -> Result<Reply, ApiError> {
    let schema = schema(state);
    let sel = fields::select(&schema, ctx.query.take("fields").as_deref(), true)?;
    ctx.query.take_u64("return_timeout", 0, 120)?;
    let v = state.volume(uuid).ok_or_else(ApiError::entry_not_found)?;
    let record = volume_json(state, v);
    collection::instance(&mut ctx.query, &schema, &record)?;
    Ok(Response::json(200, &fields::project(&record, &sel)).into())
}

/// Volume name rules (917886/917887/917888).
pub fn check_volume_name(name: &str) -> Result<(), ApiError> {
    if name.chars().count() > 203 {
        return Err(ApiError::new(
            400,
            917886,
            format!("Volume name \"{name}\" is too long. The maximum length is 203 characters."),
        )
        .with_target("name"));
    }
    if !name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        return Err(ApiError::new(
            400,
            917887,
            format!("Invalid volume name \"{name}\". The first character must be a letter or an underscore."),
        )
        .with_target("name"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ApiError::new(
            400,
            917888,
            format!("Invalid volume name \"{name}\". It can have '_' and alphanumeric characters."),
        )
        .with_target("name"));
    }
    Ok(())
}

/// Junction path syntax: absolute, not `/`, no trailing or double slash.
fn check_junction(path: &str) -> Result<(), ApiError> {
    if !path.starts_with('/') || path == "/" || path.ends_with('/') || path.contains("//") {
        return Err(ApiError::invalid_value(
            "nas.path",
            path,
            "a junction path starts with \"/\", is not \"/\" and does not end with \"/\"",
        ));
    }
    Ok(())
}

fn check_policy(state: &OntapState, svm: &str, policy: &str) -> Result<(), ApiError> {
    let exists = state
        .svm(svm)
        .is_some_and(|s| s.export_policies.iter().any(|p| p.name == policy));
    if exists {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            918271,
            format!("Failed to get valid export policy \"{policy}\" on SVM \"{svm}\"."),
        )
        .with_target("nas.export_policy.name"))
    }
}

/// The volume (live, mounted) that already uses a junction path on an SVM.
fn junction_user<'a>(
    state: &'a OntapState,
    svm: &str,
    path: &str,
    except: &str,
) -> Option<&'a Volume> {
    state.volumes.iter().find(|v| {
        v.svm == svm
            && v.uuid != except
            && v.junction
                .as_deref()
                .is_some_and(|j| j.eq_ignore_ascii_case(path))
    })
}

fn junction_in_use(path: &str, user: &Volume) -> ApiError {
    ApiError::new(
        409,
        1,
        format!(
            "Junction path \"{path}\" is already in use by volume \"{}\" in SVM \"{}\".",
            user.name, user.svm
        ),
    )
    .with_target("nas.path")
}

/// Resolve an SVM given by name and/or uuid.
fn resolve_svm(
    state: &OntapState,
    name: Option<String>,
    uuid: Option<String>,
    field: &str,
) -> Result<Option<String>, ApiError> {
    match (name, uuid) {
        (None, None) => Ok(None),
        (Some(n), None) => state
            .svm(&n)
            .map(|s| Some(s.name.clone()))
            .ok_or_else(|| ApiError::svm_not_found(&n).with_target(format!("{field}.name"))),
        (None, Some(u)) => state
            .svm_by_uuid(&u)
            .map(|s| Some(s.name.clone()))
            .ok_or_else(|| {
                ApiError::new(
                    404,
                    2621462,
                    format!("SVM with UUID \"{u}\" does not exist."),
                )
                .with_target(format!("{field}.uuid"))
            }),
        (Some(n), Some(u)) => match state.svm_by_uuid(&u) {
            Some(s) if s.name == n => Ok(Some(n)),
            _ => Err(ApiError::new(
                400,
                2,
                format!(
                    "{field}.name \"{n}\" and {field}.uuid \"{u}\" do not refer to the same SVM."
                ),
            )
            .with_target(format!("{field}.uuid"))),
        },
    }
}

/// Body fields of a volume that a FlexClone creation does not accept (918247).
const NOT_FOR_CLONES: &[&str] = &[
    "size",
    "space.size",
    "aggregates",
    "style",
    "state",
    "language",
    "snapshot_policy.name",
    "nas.security_style",
    "nas.unix_permissions",
    "uuid",
];

/// `POST /api/storage/volumes` (FlexClone creation).
pub fn post(state: &mut OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let return_records = ctx.query.take_bool("return_records")?.unwrap_or(false);
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let mut body = ctx.body()?;

    let name = body
        .take_str("name")?
        .ok_or_else(|| ApiError::missing_value("name"))?;
    let svm_name = body.take_str("svm.name")?;
    let svm_uuid = body.take_str("svm.uuid")?;
    let is_clone = body.take_bool("clone.is_flexclone")?;
    let parent_name = body.take_str("clone.parent_volume.name")?;
    let parent_uuid = body.take_str("clone.parent_volume.uuid")?;
    let snap_name = body.take_str("clone.parent_snapshot.name")?;
    let snap_uuid = body.take_str("clone.parent_snapshot.uuid")?;
    let parent_svm_name = body.take_str("clone.parent_svm.name")?;
    let parent_svm_uuid = body.take_str("clone.parent_svm.uuid")?;
    let junction = body.take_str("nas.path")?.filter(|j| !j.is_empty());
    let policy = body.take_str("nas.export_policy.name")?;
    let vol_type = body.take_str("type")?.unwrap_or_else(|| "rw".into());
    let comment = body.take_str("comment")?;
    if let Some(k) = body.keys().into_iter().find(|k| {
        NOT_FOR_CLONES
            .iter()
            .any(|n| k == n || k.starts_with(&format!("{n}.")))
    }) {
        return Err(ApiError::new(
            400,
            918247,
            format!("Specifying a value for \"{k}\" is not valid for a volume FlexClone creation."),
        )
        .with_target(k));
    }
    body.finish()?;

    if is_clone != Some(true) {
        return Err(ApiError::new(
            400,
            2,
            "Only FlexClone volumes can be created here: set \"clone.is_flexclone\" to true.",
        )
        .with_target("clone.is_flexclone"));
    }
    check_volume_name(&name)?;
    let svm = resolve_svm(state, svm_name, svm_uuid, "svm")?
        .ok_or_else(|| ApiError::missing_value("svm.name"))?;
    let parent_svm = resolve_svm(state, parent_svm_name, parent_svm_uuid, "clone.parent_svm")?
        .unwrap_or_else(|| svm.clone());
    if vol_type != "rw" && vol_type != "dp" {
        return Err(ApiError::new(
            400,
            918244,
            format!("Invalid volume.type \"{vol_type}\" for clone volume."),
        )
        .with_target("type"));
    }
    let parent = match (&parent_name, &parent_uuid) {
        (None, None) => {
            return Err(ApiError::new(
                400,
                918246,
                "A parent volume must be specified (clone.parent_volume.name or clone.parent_volume.uuid).",
            )
            .with_target("clone.parent_volume.name"))
        }
        (Some(n), None) => state.volume_by_name(&parent_svm, n),
        (_, Some(u)) => state.volume(u).filter(|v| v.svm == parent_svm),
    };
    let Some(parent) = parent else {
        let shown = parent_name.or(parent_uuid).unwrap_or_default();
        return Err(ApiError::new(
            404,
            524601,
            format!("Parent volume \"{shown}\" not found in SVM \"{parent_svm}\"."),
        )
        .with_target("clone.parent_volume.name"));
    };
    if let (Some(n), Some(_)) = (&parent_name, &parent_uuid) {
        if parent.name != *n {
            return Err(ApiError::new(
                400,
                918236,
                "The specified \"clone.parent_volume.name\" and \"clone.parent_volume.uuid\" refer to different volumes.",
            )
            .with_target("clone.parent_volume.name"));
        }
    }
    let snapshot = match (&snap_name, &snap_uuid) {
        (None, None) => None,
        (Some(n), None) => parent.snapshot_by_name(n),
        (_, Some(u)) => parent.snapshot(u),
    };
    if (snap_name.is_some() || snap_uuid.is_some()) && snapshot.is_none() {
        let shown = snap_name.clone().or(snap_uuid.clone()).unwrap_or_default();
        return Err(ApiError::new(
            404,
            1638600,
            format!(
                "The snapshot \"{shown}\" does not exist on volume \"{}\".",
                parent.name
            ),
        )
        .with_target("clone.parent_snapshot.name"));
    }
    if let (Some(s), Some(n), Some(_)) = (snapshot, &snap_name, &snap_uuid) {
        if s.name != *n {
            return Err(ApiError::new(
                400,
                918243,
                "The specified \"clone.parent_snapshot.name\" and \"clone.parent_snapshot.uuid\" refer to different snapshots.",
            )
            .with_target("clone.parent_snapshot.name"));
        }
    }
    if let Some(j) = &junction {
        check_junction(j)?;
    }
    if let Some(p) = &policy {
        check_policy(state, &svm, p)?;
    }

    let new = NewClone {
        uuid: new_uuid(),
        name: name.clone(),
        svm,
        parent: parent.uuid.clone(),
        snapshot: snapshot.map(|s| s.uuid.clone()),
        junction,
        policy,
        vol_type,
        comment,
    };
    let uuid = new.uuid.clone();
    let msg = format!("Creating FlexClone volume \"{name}\"");
    let job = state.submit_job(Action::CreateClone(new), ctx.description(), msg, ctx.fault);
    let mut extra = Map::new();
    if return_records {
        extra.insert("num_records".into(), json!(1));
        extra.insert(
            "records".into(),
            json!([{"uuid": uuid, "name": name, "_links": {"self": {"href": format!("{VOLUMES}/{uuid}")}}}]),
        );
    }
    Ok(reply::started(
        Started {
            job,
            created: true,
            location: Some(format!("{VOLUMES}/?name={}", collection::encode(&name))),
            extra,
            results: None,
        },
        return_timeout,
    ))
}

/// The effect of a FlexClone creation.
pub fn apply_create_clone(state: &mut OntapState, c: NewClone) -> Result<(), ApiError> {
    conditions::volume_clone(state)?;
    if state.volume_by_name(&c.svm, &c.name).is_some() {
        return Err(ApiError::new(
            409,
            917526,
            format!("Duplicate volume name \"{}\" in SVM \"{}\".", c.name, c.svm),
        )
        .with_target("name"));
    }
    if let Some(j) = &c.junction {
        if let Some(user) = junction_user(state, &c.svm, j, "") {
            return Err(junction_in_use(j, user));
        }
    }
    if let Some(p) = &c.policy {
        check_policy(state, &c.svm, p)?;
    }
    let now = state.now();
    let Some(parent) = state.volume(&c.parent) else {
        return Err(ApiError::new(
            404,
            524601,
            format!("Parent volume \"{}\" not found.", c.parent),
        ));
    };
    let (parent_name, parent_svm, size) = (parent.name.clone(), parent.svm.clone(), parent.size);
    let snapshot_uuid = match c.snapshot {
        Some(s) => s,
        None => {
            let base = format!("clone_{}.{}", c.name, now.unix_timestamp());
            insert_snapshot(state, &c.parent, new_uuid(), base, None, None, None)?
        }
    };
    let Some(snapshot) = state
        .volume(&c.parent)
        .and_then(|p| p.snapshot(&snapshot_uuid))
    else {
        return Err(ApiError::new(
            404,
            1638600,
            format!("The snapshot does not exist on volume \"{parent_name}\"."),
        ));
    };
    let volume = Volume {
        uuid: c.uuid,
        name: c.name,
        svm: c.svm,
        junction: c.junction,
        export_policy: c.policy.unwrap_or_else(|| "default".into()),
        size,
        comment: c.comment,
        create_time: now,
        vol_type: c.vol_type,
        clone: Some(CloneOf {
            parent_uuid: c.parent,
            parent_name,
            parent_svm,
            snapshot_uuid: snapshot.uuid.clone(),
            snapshot_name: snapshot.name.clone(),
        }),
        tree: snapshot.tree.clone(),
        snapshots: Vec::new(),
        snapshot_locking_enabled: false,
    };
    state.volumes.push(volume);
    Ok(())
}

/// `PATCH /api/storage/volumes/{uuid}`.
pub fn patch(state: &mut OntapState, ctx: &mut Ctx, uuid: &str) -> Result<Reply, ApiError> {
    let q_name = ctx.query.take("restore_to.snapshot.name");
    let q_uuid = ctx.query.take("restore_to.snapshot.uuid");
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let mut body = ctx.body()?;
    let b_name = body.take_str("restore_to.snapshot.name")?;
    let b_uuid = body.take_str("restore_to.snapshot.uuid")?;
    let vol = state.volume(uuid).ok_or_else(ApiError::entry_not_found)?;

    let snap_name = q_name.or(b_name);
    let snap_uuid = q_uuid.or(b_uuid);
    if snap_name.is_some() || snap_uuid.is_some() {
        if let Some(k) = body.keys().first() {
            return Err(ApiError::new(
                400,
                918251,
                format!(
                    "Specifying a value for \"{k}\" is not valid for a snapshot restore operation."
                ),
            )
            .with_target(k.as_str()));
        }
        let snapshot = match (&snap_name, &snap_uuid) {
            (Some(n), None) => vol.snapshot_by_name(n),
            (_, Some(u)) => vol.snapshot(u),
            (None, None) => None,
        };
        let Some(snapshot) = snapshot else {
            let shown = snap_name.or(snap_uuid).unwrap_or_default();
            return Err(ApiError::new(
                404,
                1638600,
                format!(
                    "The snapshot \"{shown}\" does not exist on volume \"{}\".",
                    vol.name
                ),
            )
            .with_target("restore_to.snapshot.name"));
        };
        if let (Some(n), Some(_)) = (&snap_name, &snap_uuid) {
            if snapshot.name != *n {
                return Err(ApiError::new(
                    400,
                    918243,
                    "The specified snapshot name and UUID refer to different snapshots.",
                )
                .with_target("restore_to.snapshot.uuid"));
            }
        }
        let action = Action::Restore {
            volume: uuid.to_string(),
            snapshot: snapshot.uuid.clone(),
            force: false,
        };
        let msg = format!(
            "Restoring volume \"{}\" to snapshot \"{}\"",
            vol.name, snapshot.name
        );
        let job = state.submit_job(action, ctx.description(), msg, ctx.fault);
        return Ok(reply::started(
            Started {
                job,
                ..Default::default()
            },
            return_timeout,
        ));
    }

    let mut change = VolumeChange {
        volume: uuid.to_string(),
        ..Default::default()
    };
    if let Some(j) = body.take_nullable_str("nas.path")? {
        let j = j.filter(|j| !j.is_empty());
        if let Some(j) = &j {
            check_junction(j)?;
        }
        change.junction = Some(j);
    }
    if let Some(p) = body.take_str("nas.export_policy.name")? {
        check_policy(state, &vol.svm, &p)?;
        change.policy = Some(p);
    }
    change.comment = body.take_nullable_str("comment")?;
    change.split = body.take_bool("clone.split_initiated")?;
    if state.locking_supported() {
        change.locking = body.take_bool("snapshot_locking_enabled")?;
    }
    body.finish()?;
    // Snapshot locking needs a running compliance clock to be enabled, and stays while locked
    // snapshots remain (NetApp docs snaplock/snapshot-lock-concept.adoc; see `snaplock`).
    match change.locking {
        Some(true) => {
            if let Some(e) = snaplock::enable_refusal(&vol.name, &vol.svm, state.compliance_clock) {
                return Err(e);
            }
        }
        Some(false) => {
            let now = state.now();
            let locked = vol
                .snapshots
                .iter()
                .filter(|s| snaplock::locked(s.snaplock_expiry_time, now))
                .count();
            if let Some(e) = snaplock::disable_refusal(&vol.name, locked) {
                return Err(e);
            }
        }
        None => {}
    }
    if change.split == Some(true) && vol.clone.is_none() {
        return Err(ApiError::new(
            400,
            2,
            format!(
                "Volume \"{}\" is not a FlexClone volume; there is nothing to split.",
                vol.name
            ),
        )
        .with_target("clone.split_initiated"));
    }
    let msg = format!("Modifying volume \"{}\"", vol.name);
    let job = state.submit_job(
        Action::ModifyVolume(change),
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

fn gone(uuid: &str) -> ApiError {
    ApiError::new(404, 4, format!("entry doesn't exist: volume {uuid}")).with_target("uuid")
}

/// The effect of a volume PATCH.
pub fn apply_modify(state: &mut OntapState, c: VolumeChange) -> Result<(), ApiError> {
    let vol = state.volume(&c.volume).ok_or_else(|| gone(&c.volume))?;
    if let Some(Some(j)) = &c.junction {
        if let Some(user) = junction_user(state, &vol.svm, j, &vol.uuid) {
            return Err(junction_in_use(j, user));
        }
    }
    if let Some(p) = &c.policy {
        check_policy(state, &vol.svm, p)?;
    }
    let vol = state.volume_mut(&c.volume).ok_or_else(|| gone(&c.volume))?;
    if let Some(j) = c.junction {
        vol.junction = j;
    }
    if let Some(p) = c.policy {
        vol.export_policy = p;
    }
    if let Some(comment) = c.comment {
        vol.comment = comment.filter(|c| !c.is_empty());
    }
    if c.split == Some(true) {
        vol.clone = None;
    }
    if let Some(l) = c.locking {
        vol.snapshot_locking_enabled = l;
    }
    Ok(())
}

/// The effect of a SnapRestore: the active file tree becomes the snapshot's, newer snapshots are
/// deleted; refused when a newer snapshot has an owner, is locked or has not expired.
pub fn apply_restore(
    state: &mut OntapState,
    volume: &str,
    snapshot: &str,
    force: bool,
) -> Result<(), ApiError> {
    let vol = state.volume(volume).ok_or_else(|| gone(volume))?;
    let Some(idx) = vol.snapshots.iter().position(|s| s.uuid == snapshot) else {
        return Err(ApiError::new(
            404,
            1638600,
            format!("The snapshot does not exist on volume \"{}\".", vol.name),
        ));
    };
    let target = &vol.snapshots[idx];
    let now = state.now();
    // A newer snapshot that is still locked cannot be discarded, `force` or not (snapshot
    // locking; NetApp docs snaplock/snapshot-lock-concept.adoc, REST error 9437886).
    let newer: Vec<(&str, Option<OffsetDateTime>)> = vol.snapshots[idx + 1..]
        .iter()
        .map(|s| (s.name.as_str(), s.snaplock_expiry_time))
        .collect();
    if let Some(e) = snaplock::restore_refusal(&newer, now) {
        return Err(e);
    }
    for newer in &vol.snapshots[idx + 1..] {
        let mut owners = state.snapshot_owners(newer);
        let (mirror, other): (Vec<String>, Vec<String>) =
            owners.drain(..).partition(|o| o.starts_with("snapmirror"));
        // A newer SnapMirror reference: REST refuses with 1638480 (ONTAP swagger 9.19.1,
        // volume_modify table: "Failed to promote snapshot ... because one or more newer snapshots
        // are currently used as a reference snapshot for data protection operations."); the CLI's
        // `volume snapshot restore -force true` restores anyway (netapp.ontap na_ontap_volume.py
        // `force_restore` documentation).
        if !mirror.is_empty() && !force {
            return Err(ApiError::new(
                409,
                1638480,
                format!(
                    "Failed to promote snapshot \"{}\" because one or more newer snapshots are currently used as a reference snapshot for data protection operations.",
                    target.name
                ),
            ));
        }
        let owners = other;
        if !owners.is_empty() {
            return Err(ApiError::new(
                409,
                524511,
                format!(
                    "Failed to restore snapshot \"{}\" of volume \"{}\" in SVM \"{}\": newer snapshot \"{}\" has owners ({}) and cannot be deleted. Split or delete the FlexClone volumes that use it first.",
                    target.name, vol.name, vol.svm, newer.name, owners.join(", ")
                ),
            ));
        }
        if newer.expiry_time.is_some_and(|t| t > now) {
            return Err(ApiError::new(
                409,
                9437886,
                format!(
                    "Failed to restore snapshot \"{}\" of volume \"{}\": newer snapshot \"{}\" has not expired.",
                    target.name, vol.name, newer.name
                ),
            ));
        }
    }
    let tree = target.tree.clone();
    let vol = state.volume_mut(volume).ok_or_else(|| gone(volume))?;
    vol.tree = tree;
    vol.snapshots.truncate(idx + 1);
    Ok(())
}

/// `DELETE /api/storage/volumes/{uuid}`.
pub fn delete(state: &mut OntapState, ctx: &mut Ctx, uuid: &str) -> Result<Reply, ApiError> {
    let force = if state.version.at_least(9, 12) {
        ctx.query.take_bool("force")?.unwrap_or(false)
    } else {
        false
    };
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let vol = state.volume(uuid).ok_or_else(ApiError::entry_not_found)?;
    let msg = format!("Deleting volume \"{}\"", vol.name);
    let action = Action::DeleteVolume {
        volume: uuid.to_string(),
        force,
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

/// The effect of a volume DELETE: refused while it has clones or a junction; without `force` the
/// volume moves to the recovery queue as `<name>_<dsid>`.
pub fn apply_delete(state: &mut OntapState, volume: &str, force: bool) -> Result<(), ApiError> {
    let vol = state.volume(volume).ok_or_else(|| gone(volume))?;
    if !state.clones_of(volume).is_empty() {
        return Err(ApiError::new(
            409,
            524615,
            "Failed to delete volume because it has one or more clones.",
        ));
    }
    if let Some(j) = &vol.junction {
        return Err(ApiError::new(
            409,
            8,
            format!(
                "Volume \"{}\" in SVM \"{}\" is mounted at junction path \"{j}\". Unmount it (set nas.path to \"\") before deleting it.",
                vol.name, vol.svm
            ),
        ));
    }
    let idx = state
        .volumes
        .iter()
        .position(|v| v.uuid == volume)
        .ok_or_else(|| gone(volume))?;
    let vol = state.volumes.remove(idx);
    if !force {
        let dsid = state.next_dsid();
        let deleted_at = state.now();
        state.recovery_queue.push(QueuedVolume {
            queued_name: format!("{}_{dsid}", vol.name),
            volume: vol,
            deleted_at,
        });
    }
    Ok(())
}
