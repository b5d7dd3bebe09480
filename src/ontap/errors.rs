//! ONTAP error answers: the `{"error": {"message", "code", "target"}}` body (code as string or
//! integer), and which errors are transient (retry) or mean "not found".

use serde_json::Value;

use crate::error::{Api, ApiError, Error};
use crate::http::Response;

/// "Volume busy" (TRI retries it for up to 60 s on volume delete).
pub(crate) const VOLUME_BUSY: &str = "524486";
/// Generic "entry doesn't exist".
pub(crate) const ENTRY_DOESNT_EXIST: &str = "4";
/// Files API: "No such file or directory".
pub(crate) const NO_SUCH_FILE: &str = "6684674";
/// Snapshot API: "The snapshot does not exist."
pub(crate) const SNAPSHOT_DOESNT_EXIST: &str = "1638600";
/// Snapshot POST: "Snapshot operation is not allowed."
pub(crate) const SNAPSHOT_NOT_ALLOWED: &str = "1520351";
/// Any call: "not authorized for that command" (HTTP 403; the role lacks the API path).
pub(crate) const NOT_AUTHORIZED: &str = "6";

/// An ONTAP code as text, whether the JSON has a string (`"4"`) or a number (`4`).
pub(crate) fn code_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `error` object of a body, if it has one (ONTAP may send it with any status).
pub(crate) fn error_object(body: &Value) -> Option<&Value> {
    body.get("error").filter(|e| e.is_object())
}

/// The API error an answer carries: from the `error` object when there is one, else from the
/// status line and body text. `user` goes into the hint of a 401.
pub(crate) fn api_error(method: &str, target: &str, response: &Response, user: &str) -> ApiError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let error = error_object(&body);
    let mut message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            let text = response.text();
            let text = text.trim();
            if text.is_empty() || body.is_object() {
                response.reason.trim().to_string()
            } else {
                text.chars().take(300).collect()
            }
        });
    if response.status == 401 {
        message =
            format!("{message} (authentication failed for user '{user}': check user and pass)");
    }
    let code = error.and_then(|e| e.get("code")).and_then(code_text);
    if response.status == 403 && code.as_deref() == Some(NOT_AUTHORIZED) {
        message = format!("{message} ({})", missing_access(method, target, user));
    }
    if message.is_empty() {
        message = format!("HTTP {}", response.status);
    }
    ApiError {
        api: Api::Ontap,
        method: method.to_string(),
        path: target.to_string(),
        status: response.status,
        code,
        message,
        target: error
            .and_then(|e| e.get("target"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    }
}

/// Whether a path segment is an object's UUID (where a REST role path stops naming the API).
fn is_uuid(segment: &str) -> bool {
    segment.len() == 36
        && segment.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        })
}

/// The API path a REST role grants for a request: the request path up to the first object UUID
/// (`/api/storage/volumes/<uuid>/snapshots` is granted by `/api/storage/volumes`; REST roles match
/// path prefixes, ONTAP 9.7 swagger `/security/roles` overview).
pub(crate) fn role_api_path(target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let kept: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .take_while(|s| !is_uuid(s))
        .collect();
    format!("/{}", kept.join("/"))
}

/// What a 403 "not authorized for that command" (code 6; ansible-collections/netapp.ontap#139)
/// means for the administrator: which user lacks which API path, and the access level to grant.
fn missing_access(method: &str, target: &str, user: &str) -> String {
    let api = role_api_path(target);
    let access = match method {
        "GET" | "HEAD" => "readonly",
        _ => "all",
    };
    // Private CLI calls are authorised by the role's CLI command directories; REST role paths
    // may name them only from ONTAP 9.14.1 (command reference `security login rest-role create`).
    if let Some(words) = api.strip_prefix("/api/private/cli/") {
        let command = words.replace('/', " ");
        return format!(
            "the role of ONTAP user '{user}' does not allow {method} on {api}: grant the command \
             with `security login role create -role <role> -cmddirname \"{command}\" -access \
             {access}`"
        );
    }
    format!(
        "the REST role of ONTAP user '{user}' does not allow {method} on {api}: grant it with \
         `security login rest-role create -role <role> -api {api} -access {access}`"
    )
}

/// Codes ONTAP sends for a state that passes by itself; each is retried after a pause (bounded by
/// the caller's budget).
const TRANSIENT_CODES: &[&str] = &[
    // "Volume busy" on volume DELETE/PATCH: Trident retries it for up to 60 s
    // (storage_drivers/ontap/api/abstraction_error.go `VOLUME_BUSY_ERROR_REST`,
    // abstraction_rest.go `VolumeDestroy`).
    VOLUME_BUSY,
    // Not 1638555 "The specified snapshot has not expired or is locked." (swagger 9.19.1
    // snapshot_delete table): Trident reads it as "snapshot busy" (ontap_zapi.go
    // `ESNAPSHOTBUSY_REST`), but the same code refuses an unexpired or locked snapshot for good,
    // and a query-based DELETE of many snapshots reports it per record: retrying would repeat a
    // final refusal until the budget ends. A snapshot busy with block sharing is deleted by the
    // next prune instead.
    // "Snapshot operation is not allowed." (snapshot_create table): a volume snapshot cannot be
    // created while FlexClone file/LUN block sharing runs (docs:
    // san-admin/flexclone-luns-protect-your-data-concept.adoc). Which code carries that refusal
    // is not documented; this is the only generic one in the snapshot create table.
    SNAPSHOT_NOT_ALLOWED,
];

/// Text ONTAP puts in a failure that passes by itself, when the code is a generic one.
/// `EBUSY`: a FlexClone file/LUN create (or delete) while the node's split load is exhausted: "the
/// node temporarily stops accepting requests to create FlexClone files and FlexClone LUNs and
/// issues an EBUSY error message" (docs: volumes/create-flexclone-file-flexclone-lun-task.adoc);
/// it arrives inside `13565952` "Clone start failed." (the file clone create table).
/// `temporarily locked`: netapp.ontap (Ansible) retries POST/PATCH up to three times, 30 s apart,
/// when the message contains this text (plugins/module_utils/netapp.py `OntapRestAPI.post`/`patch`).
const TRANSIENT_TEXTS: &[&str] = &["EBUSY", "temporarily locked"];

/// HTTP statuses NetApp's own client retries (netapp_ontap/config.py `RETRY_API_ERROR_CODES`
/// minus 500, which ONTAP also uses for unmapped CLI errors).
fn transient_status(status: u16) -> bool {
    matches!(status, 429 | 502..=504)
}

fn transient_text(message: &str) -> bool {
    TRANSIENT_TEXTS.iter().any(|t| message.contains(t))
}

fn transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// Errors worth retrying after a pause (bounded by the caller's budget).
pub(crate) fn is_transient(e: &Error) -> bool {
    match e.root() {
        Error::Api(api) => {
            api.code.as_deref().is_some_and(transient_code)
                || transient_text(&api.message)
                || transient_status(api.status)
        }
        Error::Job { code, message, .. } => transient_code(code) || transient_text(message),
        _ => false,
    }
}

/// Whether ONTAP says the addressed object does not exist.
pub(crate) fn is_not_found(e: &Error) -> bool {
    match e.root() {
        Error::Api(api) => {
            api.status == 404
                || matches!(
                    api.code.as_deref(),
                    Some(ENTRY_DOESNT_EXIST | NO_SUCH_FILE | SNAPSHOT_DOESNT_EXIST)
                )
        }
        Error::NotFound { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            reason: crate::error::Api::Ontap
                .to_string()
                .replace("ONTAP", "Reason"),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn codes_decode_from_strings_and_numbers() {
        let e = api_error(
            "GET",
            "/api/storage/volumes/x",
            &response(
                404,
                r#"{"error":{"message":"entry doesn't exist","code":"4","target":"uuid"}}"#,
            ),
            "admin",
        );
        assert_eq!(e.code.as_deref(), Some("4"));
        assert_eq!(e.target.as_deref(), Some("uuid"));
        assert_eq!(e.message, "entry doesn't exist");
        assert_eq!(
            Error::from(e.clone()).to_string(),
            "ONTAP GET /api/storage/volumes/x failed with HTTP 404: entry doesn't exist (error 4, target uuid)"
        );
        assert!(is_not_found(&Error::from(e)));

        let e = api_error(
            "POST",
            "/api/storage/volumes/v/snapshots",
            &response(
                400,
                r#"{"error":{"message":"Cannot exceed maximum number of snapshots.","code":525062}}"#,
            ),
            "admin",
        );
        assert_eq!(e.code.as_deref(), Some("525062"));
        assert_eq!(e.target, None);
        assert!(!is_transient(&Error::from(e)));
    }

    #[test]
    fn bodies_without_error_objects_fall_back_to_reason_or_text() {
        let e = api_error(
            "GET",
            "/api/cluster",
            &response(502, "<html>bad gateway</html>"),
            "admin",
        );
        assert_eq!(e.message, "<html>bad gateway</html>");
        assert_eq!(e.code, None);
        assert!(is_transient(&Error::from(e)));
        let e = api_error("GET", "/api/cluster", &response(500, ""), "admin");
        assert_eq!(e.message, "Reason");
    }

    #[test]
    fn a_401_says_which_user_failed() {
        let e = api_error(
            "GET",
            "/api/cluster?fields=version",
            &response(401, r#"{"error":{"message":"Unauthorized","code":"6"}}"#),
            "admin",
        );
        assert!(
            e.message.contains("authentication failed for user 'admin'"),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_403_names_the_user_the_api_path_and_the_access() {
        let e = api_error(
            "DELETE",
            "/api/storage/volumes/0b7f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/snapshots/1b7f3a9e-1c2d-4e5f-8a9b-0c1d2e3f4a5b?return_timeout=5",
            &response(403, r#"{"error":{"message":"not authorized for that command","code":"6"}}"#),
            "pve-snapshot",
        );
        assert_eq!(
            e.message,
            "not authorized for that command (the REST role of ONTAP user 'pve-snapshot' does not \
             allow DELETE on /api/storage/volumes: grant it with `security login rest-role create \
             -role <role> -api /api/storage/volumes -access all`)"
        );
        assert_eq!(
            role_api_path("/api/private/cli/volume/recovery-queue/purge"),
            "/api/private/cli/volume/recovery-queue/purge"
        );
        assert_eq!(role_api_path("/api/cluster?fields=version"), "/api/cluster");
        let e = api_error(
            "GET",
            "/api/cluster/jobs/x",
            &response(403, r#"{"error":{"message":"Forbidden","code":"2"}}"#),
            "u",
        );
        assert_eq!(e.message, "Forbidden");
    }

    #[test]
    fn busy_answers_are_transient() {
        let busy = |code: &str, message: &str| {
            Error::from(ApiError {
                api: Api::Ontap,
                method: "DELETE".into(),
                path: "/api/storage/volumes/x".into(),
                status: 409,
                code: Some(code.into()),
                message: message.into(),
                target: None,
            })
        };
        assert!(is_transient(&busy("524486", "Volume busy")));
        assert!(is_transient(&busy("13565952", "Clone start failed: EBUSY")));
        assert!(is_transient(&busy("1", "object is temporarily locked")));
        assert!(!is_transient(&busy(
            "1638555",
            "The specified snapshot has not expired or is locked."
        )));
        assert!(is_transient(&busy(
            "1520351",
            "Snapshot operation is not allowed."
        )));
        // Only what ONTAP sends counts: a made-up wording without a known code is final.
        assert!(!is_transient(&busy("2", "resource busy, try again")));
        let throttled = Error::from(ApiError {
            api: Api::Ontap,
            method: "GET".into(),
            path: "/api/cluster/jobs/j".into(),
            status: 429,
            code: None,
            message: "Too Many Requests".into(),
            target: None,
        });
        assert!(is_transient(&throttled));
        assert!(!is_transient(&busy(
            "1638543",
            "Failed to delete snapshot because it has an owner."
        )));
        let job = Error::Job {
            uuid: "u".into(),
            description: "DELETE /api/storage/volumes/x".into(),
            code: "524486".into(),
            message: "Volume busy".into(),
        };
        assert!(is_transient(&job));
        assert!(!is_transient(&Error::NotFound { what: "x".into() }));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{answer, json, line, response};
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn any_answer_gives_an_error_without_panic(r in response(), user in any::<String>()) {
            let e = api_error("GET", "/api/cluster", &r, &user);
            prop_assert!(!e.message.is_empty());
            prop_assert_eq!(e.status, r.status);
            let e = Error::from(e);
            let _ = (is_transient(&e), is_not_found(&e), e.to_string());
        }

        #[test]
        fn error_objects_round_trip(
            status in 400u16..600,
            message in line(),
            code in prop_oneof![any::<u32>().prop_map(|c| json!(c)), "[0-9]{1,9}".prop_map(|c| json!(c))],
            target in proptest::option::of("[a-z_.]{1,20}"),
        ) {
            let mut error = json!({"message": message.clone(), "code": code.clone()});
            if let Some(t) = &target {
                error["target"] = json!(t);
            }
            let e = api_error("POST", "/api/storage/file/clone", &answer(status, "Bad", &json!({"error": error})), "admin");
            if status == 401 {
                prop_assert!(e.message.starts_with(&message));
                prop_assert!(e.message.contains("'admin'"));
            } else {
                prop_assert_eq!(&e.message, &message);
            }
            let code_text = match &code {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            prop_assert_eq!(e.code, Some(code_text));
            prop_assert_eq!(e.target, target);
        }

        #[test]
        fn error_objects_are_found_anywhere(v in json()) {
            let _ = error_object(&v);
            let _ = v.get("code").map(code_text);
        }
    }
}
