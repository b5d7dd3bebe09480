//! Plain request/response values exchanged between the HTTPS server and the API handlers.
//! Handlers never see sockets; the server never sees API semantics.

use serde_json::Value;

/// One parsed HTTP request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `GET`, `POST`, `PATCH`, `PUT`, `DELETE`, ...
    pub method: String,
    /// The path exactly as sent (still percent-encoded), without the query.
    pub raw_path: String,
    /// Percent-decoded path segments of `raw_path` (split on `/` *before* decoding, so an encoded
    /// `%2F` stays inside its segment), empty segments removed.
    pub segments: Vec<String>,
    /// Query pairs, percent-decoded (`+` is a space), in order.
    pub query: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// A request for `target` (`/path?query`, or an absolute `https://host/path?query`): fills
    /// `raw_path`, `segments` (split before decoding) and `query`. Header names are lower-cased.
    pub fn new(
        method: &str,
        target: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Request {
        let (raw_path, raw_query) = split_target(target);
        Request {
            method: method.to_string(),
            raw_path: raw_path.to_string(),
            segments: path_segments(raw_path),
            query: parse_query(raw_query),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Ok(None)` when empty).
    pub fn json_body(&self) -> Result<Option<Value>, String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body)
            .map(Some)
            .map_err(|e| format!("invalid JSON body: {e}"))
    }

    /// The body as `application/x-www-form-urlencoded` pairs, percent-decoded.
    pub fn form_body(&self) -> Vec<(String, String)> {
        parse_query(&String::from_utf8_lossy(&self.body))
    }

    /// Whether the body is JSON (by Content-Type).
    pub fn is_json(&self) -> bool {
        self.header("content-type")
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"))
    }
}

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Reason phrase for the status line (Proxmox puts its error message here).
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response with the canonical reason phrase.
    pub fn json(status: u16, body: &Value) -> Response {
        Response {
            status,
            reason: canonical_reason(status).to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// Replace the reason phrase (first line only, as Proxmox does).
    pub fn with_reason(mut self, reason: &str) -> Response {
        self.reason = reason.lines().next().unwrap_or("").to_string();
        self
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

pub fn canonical_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Split a request target into the raw path and the raw query (without `?`); an absolute-form
/// target (`https://host:port/path`) loses its scheme and authority, an empty path becomes `/`.
pub fn split_target(target: &str) -> (&str, &str) {
    let target = match target.find("://") {
        Some(i) if !target[..i].contains('/') => {
            let rest = &target[i + 3..];
            rest.find(['/', '?']).map_or("", |j| &rest[j..])
        }
        _ => target,
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    (if path.is_empty() { "/" } else { path }, query)
}

/// The non-empty `/`-separated segments of a raw path, each percent-decoded after splitting
/// (so `%2F` stays inside its segment).
pub fn path_segments(raw_path: &str) -> Vec<String> {
    raw_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s, false))
        .collect()
}

/// Split and percent-decode `a=b&c=d` (`+` decodes to a space).
pub fn parse_query(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k, true), percent_decode(v, true)),
            None => (percent_decode(p, true), String::new()),
        })
        .collect()
}

/// Percent-decode; with `plus_is_space`, `+` becomes a space (query strings and forms).
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_queries() {
        assert_eq!(
            parse_query("name=a%7Cb&x=1+2&flag"),
            vec![
                ("name".into(), "a|b".into()),
                ("x".into(), "1 2".into()),
                ("flag".into(), String::new())
            ]
        );
        assert_eq!(percent_decode("images%2F100%2E", false), "images/100.");
        assert_eq!(percent_decode("50%", false), "50%");
    }

    #[test]
    fn splits_targets_before_decoding() {
        let req = Request::new(
            "GET",
            "/api/storage/volumes/u-1/files/images%2F100%2Fvm-100-disk-0.raw?fields=name&x=a+b",
            vec![("Content-Type".into(), "application/json".into())],
            Vec::new(),
        );
        assert_eq!(
            req.raw_path,
            "/api/storage/volumes/u-1/files/images%2F100%2Fvm-100-disk-0.raw"
        );
        assert_eq!(
            req.segments,
            [
                "api",
                "storage",
                "volumes",
                "u-1",
                "files",
                "images/100/vm-100-disk-0.raw"
            ]
        );
        assert_eq!(req.query_param("x"), Some("a b"));
        assert!(req.is_json());
        assert_eq!(
            split_target("https://127.0.0.1:8006/api2/json/version?a=1"),
            ("/api2/json/version", "a=1")
        );
        assert_eq!(split_target("https://host"), ("/", ""));
        assert_eq!(split_target("/a/b//c/"), ("/a/b//c/", ""));
        assert_eq!(path_segments("/a/b//c/"), ["a", "b", "c"]);
        assert_eq!(
            split_target("/x?next=https://y/z"),
            ("/x", "next=https://y/z")
        );
    }
}
