//! The transport to one endpoint: a ureq agent (connection pool) with explicit timeouts, rebuilt
//! after an idle pause; requests, bounded answer bodies and typed transport failures.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Api, Error, Result, TransportKind};

use super::chain::find_io_error;
use super::endpoint::Endpoint;
use super::exchange::{Body, Exchange, Response};
use super::tls;

/// Pooled connections idle longer than this are dropped before the next request: ONTAP and
/// pveproxy close keep-alive connections after 5 s, and a POST on a half-closed one would fail.
const MAX_IDLE: Duration = Duration::from_secs(4);

/// Largest answer body read (a page of 10,000 ONTAP records stays far below).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// The HTTPS connection to one endpoint: one ureq agent (pool), rebuilt after an idle pause.
pub struct Transport {
    api: Api,
    endpoint: Endpoint,
    /// Host and port, for messages.
    authority: String,
    tls: Arc<tls::Connector>,
    slot: Mutex<AgentSlot>,
}

struct AgentSlot {
    agent: ureq::Agent,
    last_used: Instant,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("api", &self.api)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Transport {
    /// Builds the TLS configuration (reading a CA file if configured) and the agent.
    pub fn new(api: Api, endpoint: &Endpoint) -> Result<Transport> {
        let base = endpoint.base_url.trim_end_matches('/').to_string();
        let authority = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .unwrap_or(&base)
            .to_string();
        let key_prefix = match api {
            Api::Proxmox => "proxmox_",
            Api::Ontap => "",
        };
        let config = tls::client_config(&endpoint.tls, key_prefix)?;
        let tls = Arc::new(tls::Connector::new(config, endpoint.timeouts.connect));
        let endpoint = Endpoint {
            base_url: base,
            ..endpoint.clone()
        };
        let agent = build_agent(&endpoint, tls.clone());
        Ok(Transport {
            api,
            endpoint,
            authority,
            tls,
            slot: Mutex::new(AgentSlot {
                agent,
                last_used: Instant::now(),
            }),
        })
    }

    pub fn api(&self) -> Api {
        self.api
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Sends one request; `target` is the path and query, already percent-encoded, starting with `/`.
    /// Every status comes back as a `Response`; only a missing answer is an error
    /// (`Error::Transport` naming the method and target, never a header or body).
    pub fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
    ) -> Result<Response> {
        let agent = self.agent();
        let url = format!("{}{}", self.endpoint.base_url, target);
        let mut request = agent.request(method, &url);
        for (name, value) in headers {
            request = request.set(name, value);
        }
        let started = Instant::now();
        let result = match body {
            Some(body) => request
                .set("Content-Type", body.content_type)
                .send_bytes(body.bytes),
            None if matches!(method, "POST" | "PUT" | "PATCH") => request.send_bytes(&[]),
            None => request.call(),
        };
        let answer = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => read_response(r),
            Err(ureq::Error::Transport(t)) => Err(Failure::Request(Box::new(t))),
        };
        let elapsed = started.elapsed().as_millis();
        self.touch();
        match answer {
            Ok(response) => {
                log::debug!(
                    "{} {method} {target} -> {} ({elapsed} ms)",
                    self.api,
                    response.status
                );
                Ok(response)
            }
            Err(t) => {
                let (kind, message) = self.describe(&t);
                log::debug!("{} {method} {target} -> {message} ({elapsed} ms)", self.api);
                Err(Error::Transport {
                    api: self.api,
                    method: method.to_string(),
                    path: target.to_string(),
                    kind,
                    message,
                })
            }
        }
    }

    /// The agent to use now; a fresh one (empty pool) after an idle pause.
    fn agent(&self) -> ureq::Agent {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if slot.last_used.elapsed() >= MAX_IDLE {
            slot.agent = build_agent(&self.endpoint, self.tls.clone());
        }
        slot.last_used = Instant::now();
        slot.agent.clone()
    }

    fn touch(&self) {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.last_used = Instant::now();
    }

    /// Classifies a ureq transport error and words it without the URL.
    fn describe(&self, t: &Failure) -> (TransportKind, String) {
        let timeouts = self.endpoint.timeouts;
        if let Some(tls_error) = tls::find_tls_error(t.as_error()) {
            return (
                TransportKind::Tls,
                format!("TLS handshake with {} failed: {tls_error}", self.authority),
            );
        }
        let io = find_io_error(t.as_error());
        let io_kind = io.map(|e| e.kind());
        let timed_out = matches!(
            io_kind,
            Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock)
        );
        let detail = io
            .map(|e| e.to_string())
            .or_else(|| t.message().map(str::to_string))
            .unwrap_or_else(|| t.kind().to_string());
        match t.kind() {
            ureq::ErrorKind::Dns => (
                TransportKind::Connect,
                format!("cannot resolve {}: {detail}", self.authority),
            ),
            ureq::ErrorKind::ConnectionFailed if timed_out => (
                TransportKind::Timeout,
                format!(
                    "no connection to {} within {}s",
                    self.authority,
                    timeouts.connect.as_secs_f64()
                ),
            ),
            ureq::ErrorKind::ConnectionFailed => (
                TransportKind::Connect,
                format!("cannot connect to {}: {detail}", self.authority),
            ),
            _ if timed_out => (
                TransportKind::Timeout,
                format!(
                    "no complete answer from {} within {}s",
                    self.authority,
                    timeouts.request.as_secs_f64()
                ),
            ),
            ureq::ErrorKind::Io
                if matches!(
                    io_kind,
                    Some(
                        std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::BrokenPipe
                    )
                ) =>
            {
                (
                    TransportKind::Connect,
                    format!(
                        "{} closed the connection without an answer ({detail})",
                        self.authority
                    ),
                )
            }
            _ => (
                TransportKind::Protocol,
                format!("unusable answer from {}: {detail}", self.authority),
            ),
        }
    }
}

/// Idle connections kept per endpoint: as many as the workflows have requests in flight (guest
/// config reads go 16 at a time), so a second round reuses the first round's connections.
const IDLE_CONNECTIONS: usize = 16;

fn build_agent(endpoint: &Endpoint, tls: Arc<tls::Connector>) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(endpoint.timeouts.connect)
        .timeout(endpoint.timeouts.request)
        .max_idle_connections(IDLE_CONNECTIONS)
        .max_idle_connections_per_host(IDLE_CONNECTIONS)
        .redirects(0)
        .https_only(true)
        .user_agent(concat!("pve-ontap-snapshot/", env!("CARGO_PKG_VERSION")))
        .tls_connector(tls)
        .build()
}

/// Why a request got no usable answer.
enum Failure {
    /// ureq failed to connect, send, or read the status line and headers.
    Request(Box<ureq::Transport>),
    /// Reading the body failed or it was too large.
    Body(std::io::Error),
}

impl Failure {
    fn kind(&self) -> ureq::ErrorKind {
        match self {
            Failure::Request(t) => t.kind(),
            Failure::Body(_) => ureq::ErrorKind::Io,
        }
    }

    fn message(&self) -> Option<&str> {
        match self {
            Failure::Request(t) => t.message(),
            Failure::Body(_) => None,
        }
    }

    /// The error itself as the head of its source chain.
    fn as_error(&self) -> &(dyn std::error::Error + 'static) {
        match self {
            Failure::Request(t) => t.as_ref(),
            Failure::Body(e) => e,
        }
    }
}

/// Reads the whole answer (so the connection goes back to the pool).
fn read_response(r: ureq::Response) -> std::result::Result<Response, Failure> {
    let status = r.status();
    let reason = r.status_text().to_string();
    let headers = r
        .headers_names()
        .into_iter()
        .filter_map(|name| {
            let value = r.header(&name)?.to_string();
            Some((name.to_ascii_lowercase(), value))
        })
        .collect();
    let mut body = Vec::new();
    match r.into_reader().take(MAX_BODY + 1).read_to_end(&mut body) {
        Ok(_) if body.len() as u64 > MAX_BODY => Err(Failure::Body(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("answer body larger than {MAX_BODY} bytes"),
        ))),
        Ok(_) => Ok(Response {
            status,
            reason,
            headers,
            body,
        }),
        Err(e) => Err(Failure::Body(e)),
    }
}

impl Exchange for Transport {
    fn endpoint(&self) -> &Endpoint {
        Transport::endpoint(self)
    }

    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
    ) -> Result<Response> {
        Transport::send(self, method, target, headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_server;
    use super::super::tls::format_fingerprint;
    use super::super::{Timeouts, TlsMode};
    use super::*;
    use test_server::{silent_server, tls_server};

    fn transport(addr: std::net::SocketAddr, tls: TlsMode) -> Transport {
        let endpoint = Endpoint {
            base_url: format!("https://{addr}"),
            tls,
            timeouts: Timeouts {
                connect: Duration::from_secs(1),
                request: Duration::from_secs(20),
            },
        };
        Transport::new(Api::Proxmox, &endpoint).unwrap()
    }

    fn tls_error(e: Error) -> String {
        match e {
            Error::Transport {
                kind: TransportKind::Tls,
                message,
                ..
            } => message,
            other => panic!("expected a TLS error, got {other:?}"),
        }
    }

    #[test]
    fn a_pinned_leaf_connects_and_error_answers_keep_reason_and_body() {
        let body = r#"{"data":null,"message":"storage 'nope' does not exist\n"}"#;
        let server = tls_server(500, "storage 'nope' does not exist", body);
        let fp = tls::sha256(&server.cert_der);
        let t = transport(server.addr, TlsMode::Fingerprint(fp));
        let r = t.send("GET", "/api2/json/storage/nope", &[], None).unwrap();
        assert_eq!(r.status, 500);
        assert_eq!(r.reason, "storage 'nope' does not exist");
        assert_eq!(r.text(), body);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }

    #[test]
    fn a_wrong_pin_names_expected_and_presented_fingerprints() {
        let server = tls_server(200, "OK", "{}");
        let t = transport(server.addr, TlsMode::Fingerprint([0x11; 32]));
        let message = tls_error(t.send("GET", "/api/cluster", &[], None).unwrap_err());
        assert!(message.contains("fingerprint mismatch"), "{message}");
        assert!(
            message.contains(&format_fingerprint(&[0x11; 32])),
            "{message}"
        );
        assert!(
            message.contains(&format_fingerprint(&tls::sha256(&server.cert_der))),
            "{message}"
        );
    }

    #[test]
    fn a_ca_file_with_the_self_signed_leaf_is_trusted() {
        let server = tls_server(200, "OK", r#"{"data":{}}"#);
        let dir = std::env::temp_dir().join(format!("pos-http-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &server.cert_pem).unwrap();
        let t = transport(server.addr, TlsMode::CaFile(ca));
        let r = t.send("GET", "/api2/json/version", &[], None).unwrap();
        assert_eq!(r.status, 200);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn web_pki_refuses_a_self_signed_certificate_and_shows_its_fingerprint() {
        let server = tls_server(200, "OK", "{}");
        let t = transport(server.addr, TlsMode::Verify);
        let message = tls_error(t.send("GET", "/api/cluster", &[], None).unwrap_err());
        assert!(
            message.contains(&format_fingerprint(&tls::sha256(&server.cert_der))),
            "{message}"
        );
        assert!(message.contains("proxmox_fingerprint = "), "{message}");
    }

    #[test]
    fn insecure_accepts_anything() {
        let server = tls_server(201, "Created", "{}");
        let t = transport(server.addr, TlsMode::Insecure);
        let r = t
            .send(
                "POST",
                "/api/x",
                &[],
                Some(Body {
                    content_type: "application/json",
                    bytes: b"{}",
                }),
            )
            .unwrap();
        assert_eq!((r.status, r.reason.as_str()), (201, "Created"));
    }

    #[test]
    fn a_server_that_never_answers_the_handshake_hits_the_connect_timeout() {
        let addr = silent_server();
        let t = transport(addr, TlsMode::Insecure);
        match t.send("GET", "/api/cluster", &[], None).unwrap_err() {
            Error::Transport { kind, message, .. } => {
                assert_eq!(kind, TransportKind::Timeout, "{message}");
                assert!(message.contains("within 1s"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn responses_find_headers_case_insensitively() {
        let r = Response {
            status: 202,
            reason: "Accepted".into(),
            headers: vec![("location".into(), "/api/x".into())],
            body: b"{}".to_vec(),
        };
        assert_eq!(r.header("Location"), Some("/api/x"));
        assert!(r.is_success());
        assert_eq!(r.text(), "{}");
    }

    #[test]
    fn a_missing_ca_file_is_an_io_error_naming_it() {
        let endpoint = Endpoint {
            base_url: "https://127.0.0.1:1".into(),
            tls: TlsMode::CaFile("/nonexistent/ca.pem".into()),
            timeouts: Timeouts::default(),
        };
        let e = Transport::new(Api::Ontap, &endpoint).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[test]
    fn a_closed_port_is_a_connect_error_naming_method_and_path() {
        // Bind and drop a listener to get a port that is very likely closed.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let endpoint = Endpoint {
            base_url: format!("https://127.0.0.1:{port}"),
            tls: TlsMode::Insecure,
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_secs(5),
            },
        };
        let t = Transport::new(Api::Ontap, &endpoint).unwrap();
        let e = t
            .send("GET", "/api/cluster?fields=version", &[], None)
            .unwrap_err();
        match &e {
            Error::Transport {
                kind, method, path, ..
            } => {
                assert_eq!(*kind, TransportKind::Connect);
                assert_eq!(method, "GET");
                assert_eq!(path, "/api/cluster?fields=version");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}
