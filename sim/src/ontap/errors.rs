//! ONTAP-shaped errors (`{"error":{"message","code","target"}}`, code as a string) with the HTTP
//! status they travel with; used for synchronous failures and for the outcome of failed jobs.
//!
//! Codes come from the ONTAP reference where one is documented. Where it documents none, the
//! simulator uses ONTAP's generic codes (`2` invalid, `4` not found, `8` in use) so that clients
//! still see a realistic shape.

use serde_json::{json, Value};

use crate::http::Response;

/// One ONTAP error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: u64,
    pub message: String,
    /// The input field ONTAP blames, when there is one.
    pub target: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: u64, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            target: None,
        }
    }

    pub fn with_target(mut self, target: impl Into<String>) -> ApiError {
        self.target = Some(target.into());
        self
    }

    /// `{"code","message"[,"target"]}` (the content of `error`).
    pub fn inner_json(&self) -> Value {
        let mut e = json!({"message": self.message, "code": self.code.to_string()});
        if let Some(t) = &self.target {
            e["target"] = json!(t);
        }
        e
    }

    pub fn to_json(&self) -> Value {
        json!({ "error": self.inner_json() })
    }

    pub fn response(&self) -> Response {
        Response::json(self.status, &self.to_json())
    }

    // ---- generic request errors ----

    /// `262179`: an unknown query parameter or body field (also: one this version lacks).
    pub fn unexpected_argument(name: &str) -> ApiError {
        ApiError::new(400, 262179, format!("Unexpected argument \"{name}\".")).with_target(name)
    }

    /// `262177`: a required field is missing.
    pub fn missing_value(name: &str) -> ApiError {
        ApiError::new(400, 262177, format!("Missing value for \"{name}\".")).with_target(name)
    }

    /// `262185`: a value of the wrong type or outside its range.
    pub fn invalid_value(name: &str, value: &str, why: &str) -> ApiError {
        ApiError::new(
            400,
            262185,
            format!("The value \"{value}\" is invalid for field \"{name}\" ({why})."),
        )
        .with_target(name)
    }

    /// `262198`: a body on GET, HEAD or DELETE.
    pub fn body_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            400,
            262198,
            format!("A request body is not allowed on {method} requests."),
        )
    }

    /// `262199`: the body is not valid JSON (or not a JSON object).
    pub fn invalid_json(detail: &str) -> ApiError {
        ApiError::new(400, 262199, format!("Invalid JSON input: {detail}"))
    }

    /// `3` / 405: the method is not allowed on this resource.
    pub fn method_not_allowed(method: &str) -> ApiError {
        ApiError::new(
            405,
            3,
            format!("The method \"{method}\" is not supported for this resource."),
        )
    }

    /// `4` / 404: no such API path.
    pub fn api_not_found(path: &str) -> ApiError {
        ApiError::new(404, 4, format!("API not found: {path}"))
    }

    /// `4` / 404: the object named by the URL's uuid does not exist.
    pub fn entry_not_found() -> ApiError {
        ApiError::new(404, 4, "entry doesn't exist").with_target("uuid")
    }

    /// `918235` / 404: the volume of a sub-resource URL does not exist.
    pub fn volume_not_found(uuid: &str) -> ApiError {
        ApiError::new(
            404,
            918235,
            format!("A volume with UUID \"{uuid}\" was not found."),
        )
        .with_target("volume.uuid")
    }

    /// `6` / 403: the account's role does not allow this call.
    pub fn not_authorized() -> ApiError {
        ApiError::new(403, 6, "not authorized for that command")
    }

    /// 401: missing or wrong credentials.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            401,
            6,
            "Authentication failed: the user name or password is not valid.",
        )
    }

    /// `2621462`: the named SVM does not exist.
    pub fn svm_not_found(name: &str) -> ApiError {
        ApiError::new(404, 2621462, format!("SVM \"{name}\" does not exist."))
            .with_target("svm.name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_a_string_and_target_optional() {
        let e = ApiError::unexpected_argument("foo").to_json();
        assert_eq!(e["error"]["code"], "262179");
        assert_eq!(e["error"]["target"], "foo");
        assert_eq!(e["error"]["message"], "Unexpected argument \"foo\".");
        let e = ApiError::new(409, 525059, "dup").to_json();
        assert!(e["error"].get("target").is_none());
    }
}
