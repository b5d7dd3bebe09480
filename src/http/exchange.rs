//! The seam between an API client and the network: one request out, one answer (any status) back.
//! `Transport` is the real `Exchange`; unit tests of a client can answer from a script instead.

use std::fmt::Debug;

use super::endpoint::Endpoint;
use crate::error::Result;

/// One answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The reason phrase of the status line (Proxmox puts its error message there).
    pub reason: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as UTF-8 text (lossy), for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request body and its content type.
#[derive(Debug, Clone, Copy)]
pub struct Body<'a> {
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Sends requests to one endpoint and returns its answers.
pub trait Exchange: Debug + Send + Sync {
    /// The endpoint (its timeouts bound the client's operations).
    fn endpoint(&self) -> &Endpoint;

    /// Sends one request; `target` is the path and query, already percent-encoded, starting
    /// with `/`. Every status comes back as a `Response`; only a missing answer is an error.
    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
    ) -> Result<Response>;
}
