//! HTTP/1.1 on the wire: read one request (Content-Length or chunked body, size limits) from a
//! buffered stream and write one response. No sockets or TLS here, so it is testable on byte slices.

use std::io::{self, BufRead, Write};

use crate::http::{Request, Response};

/// Largest request line + header section accepted.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest number of header fields accepted.
pub const MAX_HEADERS: usize = 128;
/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// A request as read from the wire.
#[derive(Debug)]
pub struct Incoming {
    pub request: Request,
    /// The query string as sent (without `?`), for the request log.
    pub raw_query: String,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed the connection between requests.
    Closed,
    /// The connection failed or timed out.
    Io(io::Error),
    /// The request is malformed or too large: answer with this status and message, then close.
    Reject(u16, String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn reject(status: u16, msg: impl Into<String>) -> ReadError {
    ReadError::Reject(status, msg.into())
}

/// Read one line ending in LF (CR stripped), counting against `budget`; `Ok(None)` on EOF before
/// any byte.
fn read_line(r: &mut impl BufRead, budget: &mut usize) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            if line.is_empty() {
                return Ok(None);
            }
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        if chunk.len() > *budget {
            return Err(reject(431, "request header section too large"));
        }
        *budget -= chunk.len();
        line.extend_from_slice(chunk);
        let n = chunk.len();
        r.consume(n);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return String::from_utf8(line)
                .map(Some)
                .map_err(|_| reject(400, "request line or header is not UTF-8"));
        }
    }
}

/// How the body of a request is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    Length(usize),
    Chunked,
}

/// A request line and header section, before the body is read.
#[derive(Debug)]
pub struct Head {
    pub method: String,
    pub target: String,
    /// Names lower-cased, values trimmed.
    pub headers: Vec<(String, String)>,
    pub keep_alive: bool,
    pub body: BodyKind,
    /// The client waits for `100 Continue` before sending the body.
    pub expect_continue: bool,
}

impl Head {
    /// Combine with the body read by `read_body`.
    pub fn finish(self, body: Vec<u8>) -> Incoming {
        let raw_query = crate::http::split_target(&self.target).1.to_string();
        Incoming {
            request: Request::new(&self.method, &self.target, self.headers, body),
            raw_query,
            keep_alive: self.keep_alive,
        }
    }
}

/// Read the next request line and header section.
pub fn read_head(r: &mut impl BufRead) -> Result<Head, ReadError> {
    let mut budget = MAX_HEADER_BYTES;
    // Tolerate empty lines between requests (RFC 9112 §2.2).
    let line = loop {
        match read_line(r, &mut budget)? {
            None => return Err(ReadError::Closed),
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v), None) if !m.is_empty() && !t.is_empty() => (m, t, v),
        _ => return Err(reject(400, format!("malformed request line: {line:?}"))),
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(reject(505, format!("unsupported HTTP version {version:?}"))),
    };

    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let Some(l) = read_line(r, &mut budget)? else {
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        };
        if l.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(reject(431, "too many header fields"));
        }
        let Some((name, value)) = l.split_once(':') else {
            return Err(reject(400, format!("malformed header line: {l:?}")));
        };
        if name.is_empty() || name.ends_with(' ') || name.ends_with('\t') {
            return Err(reject(400, format!("malformed header name: {name:?}")));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }

    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let tokens = |n: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(k, _)| k == n)
            .flat_map(|(_, v)| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let connection = tokens("connection");
    let keep_alive = if http10 {
        connection.iter().any(|t| t == "keep-alive")
    } else {
        !connection.iter().any(|t| t == "close")
    };
    let body = match tokens("transfer-encoding").as_slice() {
        [] => match get("content-length") {
            None => BodyKind::Length(0),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n > MAX_BODY_BYTES => {
                    return Err(reject(
                        413,
                        format!("request body over {MAX_BODY_BYTES} bytes"),
                    ))
                }
                Ok(n) => BodyKind::Length(n),
                Err(_) => return Err(reject(400, format!("invalid content-length {v:?}"))),
            },
        },
        [.., last] if last == "chunked" => BodyKind::Chunked,
        _ => return Err(reject(501, "unsupported transfer-encoding")),
    };
    let expect_continue = !http10
        && body != BodyKind::Length(0)
        && get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    Ok(Head {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        keep_alive,
        body,
        expect_continue,
    })
}

/// Read the body announced by `head`.
pub fn read_body(r: &mut impl BufRead, head: &Head) -> Result<Vec<u8>, ReadError> {
    match head.body {
        BodyKind::Chunked => read_chunked(r),
        BodyKind::Length(n) => {
            let mut body = vec![0; n];
            r.read_exact(&mut body)?;
            Ok(body)
        }
    }
}

/// Read a whole request; `send_continue` is called when the client asked for `100 Continue`.
pub fn read_request(
    r: &mut impl BufRead,
    mut send_continue: impl FnMut() -> io::Result<()>,
) -> Result<Incoming, ReadError> {
    let head = read_head(r)?;
    if head.expect_continue {
        send_continue()?;
    }
    let body = read_body(r, &head)?;
    Ok(head.finish(body))
}

/// The interim answer to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Decode a chunked body (chunk extensions and trailers ignored).
fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEADER_BYTES;
        let Some(line) = read_line(r, &mut budget)? else {
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        };
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16)
            .map_err(|_| reject(400, format!("invalid chunk size {size:?}")))?;
        if size == 0 {
            // Trailer section up to the empty line.
            loop {
                match read_line(r, &mut budget)? {
                    Some(l) if !l.is_empty() => continue,
                    _ => return Ok(body),
                }
            }
        }
        if body.len() + size > MAX_BODY_BYTES {
            return Err(reject(
                413,
                format!("request body over {MAX_BODY_BYTES} bytes"),
            ));
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf)?;
        if &crlf != b"\r\n" {
            return Err(reject(400, "chunk not followed by CRLF"));
        }
    }
}

/// Keep a reason phrase on one line of printable characters.
fn clean_reason(reason: &str) -> String {
    reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Serialize a response. The framing headers (`Content-Length`, `Transfer-Encoding`,
/// `Connection`) are set here, whatever the handler put in; `head` omits the body.
pub fn encode_response(resp: &Response, keep_alive: bool, head: bool) -> Vec<u8> {
    let no_body = head || resp.status == 204 || resp.status == 304 || resp.status < 200;
    let mut out = Vec::with_capacity(256 + resp.body.len());
    let reason = clean_reason(&resp.reason);
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", resp.status, reason).as_bytes());
    for (name, value) in &resp.headers {
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        let value = value.replace(['\r', '\n'], " ");
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if resp.status != 204 && resp.status >= 200 {
        out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    }
    out.extend_from_slice(if keep_alive {
        b"Connection: keep-alive\r\n\r\n".as_slice()
    } else {
        b"Connection: close\r\n\r\n".as_slice()
    });
    if !no_body {
        out.extend_from_slice(&resp.body);
    }
    out
}

/// Write a response and flush.
pub fn write_response(
    w: &mut impl Write,
    resp: &Response,
    keep_alive: bool,
    head: bool,
) -> io::Result<()> {
    w.write_all(&encode_response(resp, keep_alive, head))?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Incoming, ReadError> {
        read_request(&mut io::BufReader::new(bytes), || Ok(()))
    }

    #[test]
    fn reads_content_length_body_and_keep_alive() {
        let raw = b"POST /api2/json/access/ticket?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\nusername=";
        let inc = read(raw).unwrap();
        assert_eq!(inc.request.method, "POST");
        assert_eq!(inc.request.segments, ["api2", "json", "access", "ticket"]);
        assert_eq!(inc.raw_query, "x=1");
        assert_eq!(inc.request.body, b"username=");
        assert_eq!(inc.request.header("Host"), Some("h"));
        assert!(inc.keep_alive);
    }

    #[test]
    fn reads_chunked_bodies_and_connection_close() {
        let raw = b"PATCH /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4;ext=1\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\nX-Trailer: y\r\n\r\n";
        let inc = read(raw).unwrap();
        assert_eq!(inc.request.body, b"{\"a\":1}");
        assert!(!inc.keep_alive);
    }

    #[test]
    fn reads_two_requests_from_one_stream() {
        let raw = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n";
        let mut r = io::BufReader::new(&raw[..]);
        let a = read_request(&mut r, || Ok(())).unwrap();
        let b = read_request(&mut r, || Ok(())).unwrap();
        assert_eq!(a.request.raw_path, "/a");
        assert_eq!(b.request.raw_path, "/b");
        assert!(!b.keep_alive, "HTTP/1.0 closes by default");
        assert!(matches!(
            read_request(&mut r, || Ok(())),
            Err(ReadError::Closed)
        ));
    }

    #[test]
    fn sends_continue_only_when_asked() {
        let raw = b"POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}";
        let mut sent = 0;
        read_request(&mut io::BufReader::new(&raw[..]), || {
            sent += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(sent, 1);
    }

    #[test]
    fn rejects_bad_and_oversized_requests() {
        let status = |raw: &[u8]| match read(raw) {
            Err(ReadError::Reject(s, _)) => s,
            other => panic!("expected a rejection, got {other:?}"),
        };
        assert_eq!(status(b"GARBAGE\r\n\r\n"), 400);
        assert_eq!(status(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(status(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
        assert_eq!(status(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"),
            413
        );
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES));
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(status(&big), 431);
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(status(&many), 431);
    }

    #[test]
    fn truncated_body_is_an_io_error() {
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"),
            Err(ReadError::Io(_))
        ));
    }

    #[test]
    fn encodes_status_line_reason_and_framing() {
        let resp = Response::json(400, &serde_json::json!({"data": null}))
            .with_reason("Parameter verification failed.")
            .with_header("Content-Length", "999");
        let text = String::from_utf8(encode_response(&resp, true, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 400 Parameter verification failed.\r\n"));
        assert!(text.contains("Content-Length: 13\r\n"));
        assert!(!text.contains("999"));
        assert!(text.contains("Connection: keep-alive\r\n\r\n{\"data\":null}"));
        let head = String::from_utf8(encode_response(&resp, false, true)).unwrap();
        assert!(head.ends_with("Connection: close\r\n\r\n"));
        let mut bad = Response::json(500, &serde_json::json!({}));
        bad.reason = "line one\r\nInjected: yes".into();
        let text = String::from_utf8(encode_response(&bad, true, false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 500 line one  Injected: yes\r\n"));
    }
}
