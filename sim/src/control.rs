//! The control API under `/_sim/` (no auth, both ports, never logged or delayed): request log,
//! fault rules, state dump, reset, simulated guest writes. Errors are `{"error": "..."}`.

use serde_json::{json, Value};

use crate::faults::FaultRule;
use crate::http::{Request, Response};
use crate::simcore::{guarded, Core};

fn error(status: u16, message: impl Into<String>) -> Response {
    Response::json(status, &json!({"error": message.into()}))
}

fn ok(body: Value) -> Response {
    Response::json(200, &body)
}

/// 200 with `value` serialized as is (struct field order kept).
fn ok_ser<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => Response {
            body,
            ..Response::json(200, &Value::Null)
        },
        Err(e) => error(500, format!("cannot serialize: {e}")),
    }
}

/// Serve `/_sim/...`.
pub fn handle(core: &Core, req: &Request) -> Response {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let method = req.method.as_str();
    match (method, &segs[1..]) {
        ("GET", ["requests"]) => ok_ser(&core.log.entries()),
        ("DELETE", ["requests"]) => ok(json!({"cleared": core.log.clear()})),
        ("GET", ["faults"]) => ok_ser(&core.faults().list()),
        ("POST", ["faults"]) => add_fault(core, req),
        ("DELETE", ["faults"]) => ok(json!({"cleared": core.faults().clear()})),
        ("DELETE", ["faults", id]) => match id.parse::<u64>() {
            Ok(id) if core.faults().remove(id) => ok(json!({"removed": id})),
            _ => error(404, format!("no fault rule {id}")),
        },
        ("GET", ["state"]) => match guarded(|| core.shared.lock().dump()) {
            Ok(state) => ok(state),
            Err(e) => error(500, format!("simulator bug: state dump panicked: {e}")),
        },
        ("POST", ["reset"]) => {
            core.reset();
            ok(json!({"reset": true}))
        }
        ("POST", ["guests", vmid, "write"]) => guest_write(core, vmid),
        (_, ["requests"] | ["faults"] | ["faults", _] | ["state"] | ["reset"])
        | (_, ["guests", _, "write"]) => error(
            405,
            format!("method {method} not allowed on {}", req.raw_path),
        ),
        _ => error(
            404,
            format!(
                "no control endpoint {}; see /_sim/requests, /_sim/faults, /_sim/state, \
                 /_sim/reset, /_sim/guests/<vmid>/write",
                req.raw_path
            ),
        ),
    }
}

fn add_fault(core: &Core, req: &Request) -> Response {
    let rule: FaultRule = match serde_json::from_slice(&req.body) {
        Ok(rule) => rule,
        Err(e) => return error(400, format!("invalid fault rule: {e}")),
    };
    match core.faults().add(rule) {
        Ok(id) => ok(json!({"id": id})),
        Err(e) => error(400, format!("invalid fault rule: {e}")),
    }
}

fn guest_write(core: &Core, vmid: &str) -> Response {
    let Ok(id) = vmid.parse::<u32>() else {
        return error(400, format!("invalid vmid {vmid:?}"));
    };
    match guarded(|| crate::pve::guest_write(&mut core.shared.lock(), id)) {
        Ok(Ok(files)) => ok(json!({"vmid": id, "files": files})),
        Ok(Err(e)) => error(404, format!("guest {id}: {e}")),
        Err(e) => error(500, format!("simulator bug: guest write panicked: {e}")),
    }
}
