//! Proxmox response envelopes and error shapes: `{"data": ...}` on success, the message in the
//! status line and `{"data":null,"message":"...\n","errors":{...}}` on failure (`json` and `extjs`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::http::Response;

/// The output format of `/api2/<format>/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Real HTTP status codes, message in the status line.
    Json,
    /// Always HTTP 200; `success` 0/1, `status` and `message` in the body (what the web UI uses).
    Extjs,
}

/// A successful handler result.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub data: Value,
    /// `total` next to `data` (task logs).
    pub total: Option<u64>,
    /// Sleep this long before answering (after the state lock is released).
    pub delay: Option<Duration>,
}

impl From<Value> for Reply {
    fn from(data: Value) -> Reply {
        Reply {
            data,
            ..Reply::default()
        }
    }
}

/// A failed request, shaped like Proxmox's exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PveError {
    /// `raise_param_exc`: 400 `Parameter verification failed.` with one message per parameter.
    Param(BTreeMap<String, String>),
    /// A `die` in a handler (or a `PVE::Exception` with a code): the message goes to the status
    /// line (first line) and to the body `message` (verbatim, usually ending in a newline).
    Die { status: u16, message: String },
    /// Refused before any handler ran (authentication, unexpected body, proxy failure): status
    /// line only, with `body` as plain text (often empty).
    Bare {
        status: u16,
        reason: String,
        body: String,
    },
}

impl PveError {
    /// A plain `die "<message>\n"`: HTTP 500.
    pub fn die(message: impl Into<String>) -> PveError {
        PveError::Die {
            status: 500,
            message: with_newline(message.into()),
        }
    }

    /// `PVE::Exception->new("<message>\n", code => status)`.
    pub fn status(status: u16, message: impl Into<String>) -> PveError {
        PveError::Die {
            status,
            message: with_newline(message.into()),
        }
    }

    /// One parameter error.
    pub fn param(name: &str, message: impl Into<String>) -> PveError {
        PveError::Param(BTreeMap::from([(name.to_string(), message.into())]))
    }

    /// An authentication failure: 401, reason only, empty body.
    pub fn unauthorized(reason: &str) -> PveError {
        PveError::Bare {
            status: 401,
            reason: reason.to_string(),
            body: String::new(),
        }
    }

    /// A feature of the API the simulator does not model.
    pub fn unsupported(what: &str) -> PveError {
        PveError::Die {
            status: 501,
            message: format!("{what} is not implemented by pve-ontap-sim\n"),
        }
    }
}

fn with_newline(mut message: String) -> String {
    if !message.ends_with('\n') {
        message.push('\n');
    }
    message
}

const CONTENT_TYPE: &str = "application/json;charset=UTF-8";

fn response(status: u16, reason: &str, body: &Value) -> Response {
    Response {
        status,
        reason: String::new(),
        headers: vec![("Content-Type".into(), CONTENT_TYPE.into())],
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
    .with_reason(reason)
}

/// Turn a handler result into the HTTP response of `format`. Before libpve-http-server-perl 5.2.0
/// (`message_in_body` false) a JSON error body is `{"data":null}` (plus `errors`) and a refusal
/// before any handler has an empty body: the message is only in the status line
/// (pve-http-server `src/PVE/APIServer/Formatter/Standard.pm` `prepare_response_data` and
/// `AnyEvent.pm` `error`, commits 9a2112e and 9b59e1f).
pub(crate) fn render(
    format: Format,
    result: Result<Reply, PveError>,
    message_in_body: bool,
) -> Response {
    match (format, result) {
        (Format::Json, Ok(reply)) => {
            let mut body = Map::new();
            body.insert("data".into(), reply.data);
            if let Some(total) = reply.total.filter(|t| *t > 0) {
                body.insert("total".into(), json!(total));
            }
            response(200, "OK", &Value::Object(body))
        }
        (Format::Extjs, Ok(reply)) => {
            let mut body = Map::new();
            body.insert("data".into(), reply.data);
            body.insert("success".into(), json!(1));
            if let Some(total) = reply.total.filter(|t| *t > 0) {
                body.insert("total".into(), json!(total));
            }
            response(200, "OK", &Value::Object(body))
        }
        (
            _,
            Err(PveError::Bare {
                status,
                reason,
                body,
            }),
        ) => Response {
            status,
            reason: String::new(),
            headers: Vec::new(),
            body: if message_in_body {
                body.into_bytes()
            } else {
                Vec::new()
            },
        }
        .with_reason(&reason),
        (format, Err(err)) => {
            let (status, message, errors) = match err {
                PveError::Param(errors) => {
                    (400, "Parameter verification failed.\n".to_string(), errors)
                }
                PveError::Die { status, message } => (status, message, BTreeMap::new()),
                PveError::Bare { .. } => (500, String::new(), BTreeMap::new()),
            };
            let mut body = Map::new();
            body.insert("data".into(), Value::Null);
            if message_in_body || format == Format::Extjs {
                body.insert("message".into(), json!(message));
            }
            if !errors.is_empty() {
                body.insert("errors".into(), json!(errors));
            }
            match format {
                Format::Json => response(status, &message, &Value::Object(body)),
                Format::Extjs => {
                    body.insert("success".into(), json!(0));
                    body.insert("status".into(), json!(status));
                    response(200, "OK", &Value::Object(body))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_the_message_in_reason_and_body() {
        let resp = render(Format::Json, Err(PveError::die("VM 100 not running")), true);
        assert_eq!(resp.status, 500);
        assert_eq!(resp.reason, "VM 100 not running");
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(
            body,
            json!({"data": null, "message": "VM 100 not running\n"})
        );

        let resp = render(
            Format::Json,
            Err(PveError::param(
                "todisk",
                "type check ('boolean') failed - got 'true'",
            )),
            true,
        );
        assert_eq!(resp.status, 400);
        assert_eq!(resp.reason, "Parameter verification failed.");
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(
            body["errors"]["todisk"],
            "type check ('boolean') failed - got 'true'"
        );
    }

    #[test]
    fn before_http_server_5_2_the_message_is_only_in_the_status_line() {
        let denied = PveError::status(403, "Permission check failed (/vms/100, VM.PowerMgmt)");
        let resp = render(Format::Json, Err(denied.clone()), false);
        assert_eq!(resp.status, 403);
        assert_eq!(
            resp.reason,
            "Permission check failed (/vms/100, VM.PowerMgmt)"
        );
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(body, json!({"data": null}));
        let body: Value =
            serde_json::from_slice(&render(Format::Json, Err(denied), true).body).unwrap();
        assert_eq!(
            body,
            json!({"data": null, "message": "Permission check failed (/vms/100, VM.PowerMgmt)\n"})
        );
        let resp = render(
            Format::Json,
            Err(PveError::param(
                "vmid",
                "value does not look like a valid VM ID",
            )),
            false,
        );
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(
            body,
            json!({"data": null, "errors": {"vmid": "value does not look like a valid VM ID"}})
        );
        let bare = PveError::Bare {
            status: 501,
            reason: "Unexpected content for method 'DELETE'".into(),
            body: "Unexpected content for method 'DELETE'".into(),
        };
        assert!(render(Format::Json, Err(bare.clone()), false)
            .body
            .is_empty());
        assert!(!render(Format::Json, Err(bare), true).body.is_empty());
    }

    #[test]
    fn extjs_always_answers_200() {
        let resp = render(Format::Extjs, Err(PveError::die("boom")), false);
        assert_eq!(resp.status, 200);
        let body: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(body["success"], 0);
        assert_eq!(body["status"], 500);
        assert_eq!(body["message"], "boom\n");
    }
}
