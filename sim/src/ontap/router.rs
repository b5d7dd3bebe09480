//! Request dispatch for `/api/...`: authentication and roles, body rules (none on GET/DELETE),
//! which methods each path allows (404 vs 405), and which handler serves it (the only such list).

use super::errors::ApiError;
use super::params::Query;
use super::reply::{Ctx, Reply};
use super::state::OntapState;
use super::{auth, cli, clone, cluster, filedata, files, jobs, snapshots, volumes};
use crate::http::{Request, Response};
use crate::job_fault::JobFault;

/// The methods a path supports (None: no such path).
fn allowed(state: &OntapState, segs: &[&str]) -> Option<&'static [&'static str]> {
    let v98 = state.version.at_least(9, 8);
    Some(match segs {
        ["cluster"] => &["GET"],
        ["cluster", "jobs"] | ["cluster", "jobs", _] => &["GET"],
        ["svm", "svms"] | ["svm", "svms", _] => &["GET"],
        ["network", "ip", "interfaces"] | ["network", "ip", "interfaces", _] => &["GET"],
        ["protocols", "nfs", "export-policies"] | ["protocols", "nfs", "export-policies", _] => {
            &["GET"]
        }
        ["storage", "volumes"] => &["GET", "POST"],
        ["storage", "volumes", _] => &["GET", "PATCH", "DELETE"],
        // PATCH and DELETE with a query act on every match (query-based operations).
        ["storage", "volumes", _, "snapshots"] => &["GET", "POST", "PATCH", "DELETE"],
        ["storage", "volumes", _, "snapshots", _] => &["GET", "PATCH", "DELETE"],
        ["storage", "volumes", _, "files"] if v98 => &["GET"],
        ["storage", "volumes", _, "files", _] if v98 => &["GET", "POST", "DELETE"],
        ["storage", "volumes", _, "files", _] => &["GET"],
        ["storage", "file", "clone"] => &["POST"],
        // netapp-ontap's `CLI().execute()` sends an action verb with filter arguments as PATCH
        // with a query (resources/cli.py `_parse_command`: "POST with filters becomes PATCH").
        ["private", "cli", "volume", "snapshot", "restore"] => &["POST", "PATCH"],
        ["private", "cli", "volume", "recovery-queue"] => &["GET"],
        ["private", "cli", "volume", "recovery-queue", "purge"] => &["POST", "PATCH"],
        _ => return None,
    })
}

/// `privilege_level` on a private CLI call: the CLI privilege the command runs at. netapp-ontap's
/// `CLI().execute()` always sends it (`admin` by default; resources/cli.py), NetApp's samples send
/// `diagnostic` (ontap-rest-python `cli_passthrough_samples/service_policy.py`).
fn take_privilege_level(q: &mut Query) -> Result<(), ApiError> {
    match q.take("privilege_level") {
        None => Ok(()),
        Some(l) if ["admin", "advanced", "diagnostic"].contains(&l.as_str()) => Ok(()),
        Some(l) => Err(ApiError::invalid_value(
            "privilege_level",
            &l,
            "admin, advanced or diagnostic",
        )),
    }
}

/// An SVM-scoped account sees only its SVM: collections of volumes and SVMs are limited to it and
/// another SVM's volume is not found. ONTAP documents SVM administrators as managing "SVM
/// resources" (9.7 swagger `/svm/svms` overview); the not-found answer for another SVM's volume is
/// a guess (sim/README.md).
fn svm_scope(
    state: &OntapState,
    svm: &str,
    method: &str,
    rest: &[&str],
    query: &mut Query,
) -> Result<(), ApiError> {
    match (method, rest) {
        ("GET", ["storage", "volumes"]) => query.push("svm.name", svm),
        ("GET", ["svm", "svms"]) => query.push("name", svm),
        (_, ["storage", "volumes", uuid, sub @ ..])
            if state.volume(uuid).is_some_and(|v| v.svm != svm) =>
        {
            return Err(if sub.is_empty() {
                ApiError::entry_not_found()
            } else {
                ApiError::volume_not_found(uuid)
            });
        }
        _ => {}
    }
    Ok(())
}

fn has_body(req: &Request) -> bool {
    match req.json_body() {
        Ok(None) => false,
        Ok(Some(serde_json::Value::Object(m))) => !m.is_empty(),
        _ => true,
    }
}

/// Serve one request against the state (the lock is held by the caller).
pub fn route(state: &mut OntapState, req: &Request, fault: Option<&JobFault>) -> Reply {
    match dispatch(state, req, fault) {
        Ok(r) => r,
        Err(e) => {
            let mut r = e.response();
            if e.status == 401 {
                r = r.with_header("WWW-Authenticate", "Basic realm=\"ONTAP\"");
            }
            Reply::Done(r)
        }
    }
}

fn dispatch(
    state: &mut OntapState,
    req: &Request,
    fault: Option<&JobFault>,
) -> Result<Reply, ApiError> {
    let role = auth::authenticate(state, req)?;
    let method = req.method.to_ascii_uppercase();
    let m = if method == "HEAD" {
        "GET"
    } else {
        method.as_str()
    };
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let ["api", rest @ ..] = segs.as_slice() else {
        return Err(ApiError::api_not_found(&req.raw_path));
    };
    let methods = allowed(state, rest).ok_or_else(|| ApiError::api_not_found(&req.raw_path))?;
    if m == "OPTIONS" {
        let mut list: Vec<&str> = methods.to_vec();
        list.extend(["HEAD", "OPTIONS"]);
        return Ok(Response::json(200, &serde_json::json!({}))
            .with_header("Allow", &list.join(", "))
            .into());
    }
    if !methods.contains(&m) {
        let r = ApiError::method_not_allowed(&method)
            .response()
            .with_header("Allow", &methods.join(", "));
        return Ok(r.into());
    }
    if !auth::permits(state, &role, m, rest) {
        // 403 `{"error":{"message":"not authorized for that command","code":"6"}}`, no target
        // (ansible-collections/netapp.ontap#139; NetApp/harvest#3390).
        return Err(ApiError::not_authorized());
    }
    if (m == "GET" || m == "DELETE") && has_body(req) {
        return Err(ApiError::body_not_allowed(&method));
    }
    let mut ctx = Ctx {
        req,
        query: Query::new(req),
        fault,
    };
    if let ["private", "cli", ..] = rest {
        take_privilege_level(&mut ctx.query)?;
    }
    if let Some(svm) = auth::rest_role(state, &role).and_then(|r| r.svm.clone()) {
        svm_scope(state, &svm, m, rest, &mut ctx.query)?;
    }
    let ctx = &mut ctx;
    match (m, rest) {
        ("GET", ["cluster"]) => cluster::get_cluster(state, ctx),
        ("GET", ["cluster", "jobs"]) => jobs::get_collection(state, &mut ctx.query),
        ("GET", ["cluster", "jobs", uuid]) => jobs::get_instance(state, &mut ctx.query, uuid),
        ("GET", ["svm", "svms"]) => cluster::get_svms(state, ctx),
        ("GET", ["svm", "svms", uuid]) => cluster::get_svm(state, ctx, uuid),
        ("GET", ["network", "ip", "interfaces"]) => cluster::get_interfaces(state, ctx),
        ("GET", ["network", "ip", "interfaces", uuid]) => cluster::get_interface(state, ctx, uuid),
        ("GET", ["protocols", "nfs", "export-policies"]) => {
            cluster::get_export_policies(state, ctx)
        }
        ("GET", ["protocols", "nfs", "export-policies", id]) => {
            cluster::get_export_policy(state, ctx, id)
        }
        ("GET", ["storage", "volumes"]) => volumes::get_collection(state, ctx),
        ("POST", ["storage", "volumes"]) => volumes::post(state, ctx),
        ("GET", ["storage", "volumes", uuid]) => volumes::get_instance(state, ctx, uuid),
        ("PATCH", ["storage", "volumes", uuid]) => volumes::patch(state, ctx, uuid),
        ("DELETE", ["storage", "volumes", uuid]) => volumes::delete(state, ctx, uuid),
        ("GET", ["storage", "volumes", v, "snapshots"]) => snapshots::get_collection(state, ctx, v),
        ("POST", ["storage", "volumes", v, "snapshots"]) => snapshots::post(state, ctx, v),
        ("PATCH", ["storage", "volumes", v, "snapshots"]) => {
            snapshots::patch_collection(state, ctx, v)
        }
        ("DELETE", ["storage", "volumes", v, "snapshots"]) => {
            snapshots::delete_collection(state, ctx, v)
        }
        ("GET", ["storage", "volumes", v, "snapshots", s]) => {
            snapshots::get_instance(state, ctx, v, s)
        }
        ("PATCH", ["storage", "volumes", v, "snapshots", s]) => snapshots::patch(state, ctx, v, s),
        ("DELETE", ["storage", "volumes", v, "snapshots", s]) => {
            snapshots::delete(state, ctx, v, s)
        }
        ("GET", ["storage", "volumes", v, "files"]) => files::get(state, ctx, v, ""),
        ("GET", ["storage", "volumes", v, "files", p]) => files::get(state, ctx, v, p),
        ("DELETE", ["storage", "volumes", v, "files", p]) => files::delete(state, ctx, v, p),
        ("POST", ["storage", "volumes", v, "files", p]) => {
            filedata::post(state, ctx.req, &mut ctx.query, v, p).map(Into::into)
        }
        ("POST", ["storage", "file", "clone"]) => clone::post(state, ctx),
        ("POST" | "PATCH", ["private", "cli", "volume", "snapshot", "restore"]) => {
            cli::restore(state, ctx)
        }
        ("GET", ["private", "cli", "volume", "recovery-queue"]) => cli::recovery_queue(state, ctx),
        ("POST" | "PATCH", ["private", "cli", "volume", "recovery-queue", "purge"]) => {
            cli::purge(state, ctx)
        }
        _ => Err(ApiError::api_not_found(&req.raw_path)),
    }
}
