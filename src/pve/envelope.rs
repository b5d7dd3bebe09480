//! Proxmox VE answers: the `{"data": ...}` envelope, error answers (status-line reason, body
//! `message` and `errors` map) and the Perl quirks (numbers and booleans sent as strings).

use serde_json::Value;

use crate::error::{Api, ApiError, Error, Result, TransportKind};
use crate::http::Response;

/// The `data` member of a 2xx answer, or the error the answer carries.
pub(crate) fn decode(method: &str, target: &str, response: &Response) -> Result<Value> {
    if !response.is_success() {
        return Err(api_error(method, target, response).into());
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| Error::Transport {
        api: Api::Proxmox,
        method: method.to_string(),
        path: target.to_string(),
        kind: TransportKind::Protocol,
        message: format!("answer is not JSON ({e})"),
    })?;
    Ok(match body {
        Value::Object(mut map) => map.remove("data").unwrap_or(Value::Null),
        _ => Value::Null,
    })
}

/// An error answer: the reason phrase, then the body `message` when it says more, then the
/// per-parameter `errors`.
pub(crate) fn api_error(method: &str, target: &str, response: &Response) -> ApiError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let reason = response.reason.trim();
    let mut message = reason.to_string();
    if let Some(text) = body.get("message").and_then(Value::as_str) {
        let text = text.trim();
        if !text.is_empty() && text != reason {
            if message.is_empty() {
                message = text.to_string();
            } else {
                message = format!("{message}: {text}");
            }
        }
    } else if message.is_empty() && !response.body.is_empty() && body.is_null() {
        message = response.text().trim().chars().take(300).collect();
    }
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        let details: Vec<String> = errors
            .iter()
            .map(|(k, v)| {
                let v = lenient_string(v).unwrap_or_else(|| v.to_string());
                format!("{k}: {}", v.trim())
            })
            .collect();
        if !details.is_empty() {
            message = format!("{message} ({})", details.join("; "));
        }
    }
    if message.is_empty() {
        message = format!("HTTP {}", response.status);
    }
    ApiError {
        api: Api::Proxmox,
        method: method.to_string(),
        path: target.to_string(),
        status: response.status,
        code: None,
        message,
        target: None,
    }
}

/// Whether Proxmox says the addressed object does not exist (it answers 500 with that text).
pub(crate) fn is_does_not_exist(e: &ApiError) -> bool {
    e.status == 404 || e.message.contains("does not exist")
}

/// A number, also when sent as a string.
pub(crate) fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A boolean from `true`, `1`, `"1"`, `"yes"`, `"on"` (and their opposites).
pub(crate) fn lenient_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A string, also when sent as a number or boolean.
pub(crate) fn lenient_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

/// `field` of an object as a string (lenient).
pub(crate) fn str_field(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(lenient_string)
}

/// `field` of an object as a boolean (lenient; absent = false).
pub(crate) fn bool_field(v: &Value, field: &str) -> bool {
    v.get(field).and_then(lenient_bool).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, reason: &str, body: &str) -> Response {
        Response {
            status,
            reason: reason.into(),
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn success_returns_data() {
        let r = response(200, "OK", r#"{"data":{"version":"9.1.2"}}"#);
        assert_eq!(
            decode("GET", "/version", &r).unwrap(),
            json!({"version": "9.1.2"})
        );
        let r = response(200, "OK", r#"{"data":null}"#);
        assert_eq!(decode("DELETE", "/storage/x", &r).unwrap(), Value::Null);
        let r = response(200, "OK", "not json");
        let e = decode("GET", "/version", &r).unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
    }

    #[test]
    fn errors_carry_reason_body_message_and_parameter_errors() {
        let r = response(
            400,
            "Parameter verification failed.",
            r#"{"data":null,"message":"Parameter verification failed.\n","errors":{"storage":"storage ID 'X' already defined\n","server":"value missing"}}"#,
        );
        let e = api_error("POST", "/api2/json/storage", &r);
        assert_eq!(e.status, 400);
        assert_eq!(e.api, Api::Proxmox);
        assert_eq!(
            e.message,
            "Parameter verification failed. (server: value missing; storage: storage ID 'X' already defined)"
        );
        assert_eq!(
            Error::from(e).to_string(),
            "Proxmox VE POST /api2/json/storage failed with HTTP 400: Parameter verification failed. (server: value missing; storage: storage ID 'X' already defined)"
        );
    }

    #[test]
    fn a_body_message_that_says_more_is_appended() {
        let r = response(
            500,
            "storage 'nope' does not exist",
            r#"{"data":null,"message":"storage 'nope' does not exist\n"}"#,
        );
        let e = api_error("GET", "/api2/json/storage/nope", &r);
        assert_eq!(e.message, "storage 'nope' does not exist");
        assert!(is_does_not_exist(&e));
        let r = response(401, "authentication failure", "");
        let e = api_error("POST", "/api2/json/access/ticket", &r);
        assert_eq!(e.message, "authentication failure");
        assert!(!is_does_not_exist(&e));
        let r = response(
            500,
            "Internal Server Error",
            r#"{"message":"VM 100 not running"}"#,
        );
        assert_eq!(
            api_error("POST", "/x", &r).message,
            "Internal Server Error: VM 100 not running"
        );
    }

    #[test]
    fn perl_values_are_read_leniently() {
        assert_eq!(lenient_u64(&json!("100")), Some(100));
        assert_eq!(lenient_u64(&json!(100)), Some(100));
        assert_eq!(lenient_u64(&json!("x")), None);
        assert_eq!(lenient_bool(&json!("1")), Some(true));
        assert_eq!(lenient_bool(&json!(0)), Some(false));
        assert_eq!(lenient_bool(&json!(true)), Some(true));
        assert_eq!(lenient_bool(&json!("maybe")), None);
        assert_eq!(lenient_string(&json!(4096)), Some("4096".into()));
        assert_eq!(str_field(&json!({"a": 1}), "a"), Some("1".into()));
        assert!(bool_field(&json!({"shared": "1"}), "shared"));
        assert!(!bool_field(&json!({}), "shared"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::{answer, exact_json, json, line, response};
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn any_answer_decodes_or_errors_without_panic(r in response()) {
            match decode("GET", "/api2/json/x", &r) {
                Ok(_) => prop_assert!(r.is_success()),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            let e = api_error("POST", "/api2/json/x", &r);
            prop_assert!(!e.message.is_empty());
            prop_assert_eq!(e.status, r.status);
        }

        #[test]
        fn data_round_trips(data in exact_json(), status in 200u16..300) {
            let r = answer(status, "OK", &json!({"data": data.clone()}));
            prop_assert_eq!(decode("GET", "/api2/json/x", &r).unwrap(), data);
        }

        #[test]
        fn error_answers_keep_reason_and_message(
            status in 400u16..600,
            reason in line(),
            message in line(),
        ) {
            let r = answer(status, &reason, &json!({"data": null, "message": format!("{message}\n")}));
            let e = api_error("DELETE", "/api2/json/x", &r);
            prop_assert!(e.message.starts_with(&reason));
            prop_assert!(e.message.contains(&message));
            let err = decode("DELETE", "/api2/json/x", &r).unwrap_err();
            prop_assert_eq!(err.api().map(|a| a.status), Some(status));
        }

        #[test]
        fn lenient_values_round_trip(n in any::<u64>(), s in any::<String>(), v in json()) {
            prop_assert_eq!(lenient_u64(&json!(n)), Some(n));
            prop_assert_eq!(lenient_u64(&json!(n.to_string())), Some(n));
            prop_assert_eq!(lenient_string(&json!(s.clone())), Some(s));
            let _ = (lenient_u64(&v), lenient_bool(&v), lenient_string(&v));
            let _ = (str_field(&v, "storage"), bool_field(&v, "disable"));
        }
    }
}
