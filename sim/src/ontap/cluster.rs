//! Cluster-level read-only resources: `/api/cluster` (name, uuid, version), `/api/svm/svms`,
//! `/api/network/ip/interfaces` (data LIFs) and `/api/protocols/nfs/export-policies`.

use serde_json::{json, Value};

use super::collection;
use super::errors::ApiError;
use super::fields::{self, Schema};
use super::reply::Ctx;
use super::reply::Reply;
use super::state::OntapState;
use crate::http::Response;

fn cluster_schema() -> Schema {
    Schema {
        leaves: vec![
            "name",
            "uuid",
            "version.full",
            "version.generation",
            "version.major",
            "version.minor",
        ],
        expensive: vec![],
        defaults: vec!["name", "uuid", "version"],
        key: "uuid",
        keys: vec![],
    }
}

/// `GET /api/cluster`.
pub fn get_cluster(state: &OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let sel = fields::select(&cluster_schema(), ctx.query.take("fields").as_deref(), true)?;
    ctx.query.take_u64("return_timeout", 0, 120)?;
    ctx.query.finish()?;
    let v = &state.version;
    let full = json!({
        "name": state.cluster_name,
        "uuid": state.cluster_uuid,
        "version": {"full": v.full, "generation": v.generation, "major": v.major, "minor": v.minor},
        "_links": {"self": {"href": "/api/cluster"}},
    });
    Ok(Response::json(200, &fields::project(&full, &sel)).into())
}

fn svm_schema() -> Schema {
    Schema {
        leaves: vec![
            "uuid",
            "name",
            "state",
            "subtype",
            "language",
            "nfs.enabled",
        ],
        expensive: vec![],
        defaults: vec!["name", "uuid"],
        key: "uuid",
        keys: vec!["uuid", "name"],
    }
}

fn svm_records(state: &OntapState) -> Vec<Value> {
    state
        .svms
        .iter()
        .map(|s| {
            json!({
                "uuid": s.uuid,
                "name": s.name,
                "state": "running",
                "subtype": "default",
                "language": "c.utf_8",
                "nfs": {"enabled": true},
                "_links": {"self": {"href": format!("/api/svm/svms/{}", s.uuid)}},
            })
        })
        .collect()
}

/// `GET /api/svm/svms`.
pub fn get_svms(state: &OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let body = collection::collection(
        &mut ctx.query,
        &svm_schema(),
        "/api/svm/svms",
        svm_records(state),
    )?;
    Ok(Response::json(200, &body).into())
}

fn instance(
    schema: &Schema,
    ctx: &mut Ctx,
    records: Vec<Value>,
    key: &str,
    uuid: &str,
) -> Result<Reply, ApiError> {
    let sel = fields::select(schema, ctx.query.take("fields").as_deref(), true)?;
    ctx.query.take_u64("return_timeout", 0, 120)?;
    ctx.query.finish()?;
    let r = records
        .into_iter()
        .find(|r| {
            r[key].as_str() == Some(uuid)
                || r[key].as_u64().map(|n| n.to_string()).as_deref() == Some(uuid)
        })
        .ok_or_else(ApiError::entry_not_found)?;
    Ok(Response::json(200, &fields::project(&r, &sel)).into())
}

/// `GET /api/svm/svms/{uuid}`.
pub fn get_svm(state: &OntapState, ctx: &mut Ctx, uuid: &str) -> Result<Reply, ApiError> {
    instance(&svm_schema(), ctx, svm_records(state), "uuid", uuid)
}

fn lif_schema() -> Schema {
    Schema {
        leaves: vec![
            "uuid",
            "name",
            "ip.address",
            "ip.netmask",
            "ip.family",
            "svm.name",
            "svm.uuid",
            "scope",
            "services",
            "state",
            "enabled",
            "ipspace.name",
            "location.home_node.name",
        ],
        expensive: vec![],
        defaults: vec!["name", "uuid"],
        key: "uuid",
        keys: vec!["uuid", "name"],
    }
}

fn lif_records(state: &OntapState) -> Vec<Value> {
    state
        .lifs
        .iter()
        .map(|l| {
            let svm_uuid = state.svm(&l.svm).map(|s| s.uuid.clone()).unwrap_or_default();
            json!({
                "uuid": l.uuid,
                "name": l.name,
                "ip": {"address": l.ip, "netmask": "24", "family": if l.ip.contains(':') { "ipv6" } else { "ipv4" }},
                "svm": {"name": l.svm, "uuid": svm_uuid},
                "scope": "svm",
                "services": ["data_core", "data_nfs"],
                "state": "up",
                "enabled": true,
                "ipspace": {"name": "Default"},
                "location": {"home_node": {"name": format!("{}-01", state.cluster_name)}},
                "_links": {"self": {"href": format!("/api/network/ip/interfaces/{}", l.uuid)}},
            })
        })
        .collect()
}

/// `GET /api/network/ip/interfaces`.
pub fn get_interfaces(state: &OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let body = collection::collection(
        &mut ctx.query,
        &lif_schema(),
        "/api/network/ip/interfaces",
        lif_records(state),
    )?;
    Ok(Response::json(200, &body).into())
}

/// `GET /api/network/ip/interfaces/{uuid}`.
pub fn get_interface(state: &OntapState, ctx: &mut Ctx, uuid: &str) -> Result<Reply, ApiError> {
    instance(&lif_schema(), ctx, lif_records(state), "uuid", uuid)
}

fn policy_schema() -> Schema {
    Schema {
        leaves: vec!["id", "name", "svm.name", "svm.uuid"],
        expensive: vec![],
        defaults: vec!["id", "name"],
        key: "id",
        keys: vec!["id", "name"],
    }
}

fn policy_records(state: &OntapState) -> Vec<Value> {
    state
        .svms
        .iter()
        .flat_map(|s| {
            s.export_policies.iter().map(move |p| {
                json!({
                    "id": p.id,
                    "name": p.name,
                    "svm": {"name": s.name, "uuid": s.uuid},
                    "_links": {"self": {"href": format!("/api/protocols/nfs/export-policies/{}", p.id)}},
                })
            })
        })
        .collect()
}

/// `GET /api/protocols/nfs/export-policies`.
pub fn get_export_policies(state: &OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    let body = collection::collection(
        &mut ctx.query,
        &policy_schema(),
        "/api/protocols/nfs/export-policies",
        policy_records(state),
    )?;
    Ok(Response::json(200, &body).into())
}

/// `GET /api/protocols/nfs/export-policies/{id}`.
pub fn get_export_policy(state: &OntapState, ctx: &mut Ctx, id: &str) -> Result<Reply, ApiError> {
    instance(&policy_schema(), ctx, policy_records(state), "id", id)
}
