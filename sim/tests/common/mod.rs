//! Test clients for the simulator: rustls configs that pin a fingerprint or trust the simulator's
//! certificate, a raw keep-alive HTTPS connection, and a ureq agent.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use pve_ontap_sim::Sim;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts exactly the certificate with this SHA-256 fingerprint (signatures still checked).
#[derive(Debug)]
struct Pinned {
    fingerprint: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = pve_ontap_sim::tls::fingerprint(end_entity);
        if seen.eq_ignore_ascii_case(&self.fingerprint) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "fingerprint mismatch: got {seen}"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A client config that accepts only the certificate with `fingerprint`.
pub fn pinned_config(fingerprint: &str) -> Arc<ClientConfig> {
    pinned_config_for(fingerprint, rustls::DEFAULT_VERSIONS)
}

/// Like `pinned_config`, offering only these TLS versions.
pub fn pinned_config_for(
    fingerprint: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Pinned {
            fingerprint: fingerprint.to_string(),
            provider: provider(),
        }))
        .with_no_client_auth();
    Arc::new(config)
}

/// A client config with normal WebPKI verification, trusting these PEM certificates as roots.
pub fn trusting_config(pems: &[&str]) -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for pem in pems {
        roots
            .add(CertificateDer::from_pem_slice(pem.as_bytes()).unwrap())
            .unwrap();
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A ureq agent trusting both listeners of `sim`.
pub fn agent(sim: &Sim) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .tls_config(trusting_config(&[sim.pve_cert_pem(), sim.ontap_cert_pem()]))
        .timeout(Duration::from_secs(30))
        .build()
}

/// Status and body of a call, whatever the status.
pub fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let req = agent.request(method, url);
    let result = match body {
        Some(b) => req.set("Content-Type", "application/json").send_string(b),
        None => req.call(),
    };
    let resp = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {url}: {e}"),
    };
    (resp.status(), resp.into_string().unwrap())
}

/// Like `call`, parsing the body as JSON.
pub fn call_json(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, text) = call(agent, method, url, body);
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {url}: body {text:?} is not JSON: {e}"));
    (status, json)
}

/// A parsed response read from a raw connection.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub reason: String,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One TLS connection written and read by hand (keep-alive, pipelining, drops).
pub struct RawConn {
    stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
}

impl RawConn {
    /// Connect and finish the TLS handshake, pinning `fingerprint`.
    pub fn connect(addr: SocketAddr, fingerprint: &str) -> Result<RawConn, std::io::Error> {
        RawConn::connect_with(addr, pinned_config(fingerprint))
    }

    /// Connect with this client config and finish the TLS handshake.
    pub fn connect_with(
        addr: SocketAddr,
        config: Arc<ClientConfig>,
    ) -> Result<RawConn, std::io::Error> {
        let sock = TcpStream::connect(addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(60)))?;
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let mut conn = ClientConnection::new(config, name).map_err(std::io::Error::other)?;
        let mut sock = sock;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        Ok(RawConn {
            stream: BufReader::new(StreamOwned::new(conn, sock)),
        })
    }

    /// The negotiated TLS version.
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.stream.get_ref().conn.protocol_version()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        let s = self.stream.get_mut();
        s.write_all(bytes).unwrap();
        s.flush().unwrap();
    }

    /// A GET with optional extra header lines (each ending in `\r\n`).
    pub fn get(&mut self, path: &str, extra_headers: &str) -> RawResponse {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: sim\r\n{extra_headers}\r\n").as_bytes());
        self.read_response().expect("a response")
    }

    fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.stream.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_string()),
        }
    }

    /// The next response; None when the server closed the connection first.
    pub fn read_response(&mut self) -> Option<RawResponse> {
        self.read_any_response(true)
    }

    /// The answer to a HEAD request (no body, whatever Content-Length says).
    pub fn read_head_response(&mut self) -> Option<RawResponse> {
        self.read_any_response(false)
    }

    fn read_any_response(&mut self, with_body: bool) -> Option<RawResponse> {
        let status_line = self.line()?;
        let mut parts = status_line.splitn(3, ' ');
        assert_eq!(parts.next(), Some("HTTP/1.1"), "{status_line}");
        let status: u16 = parts.next()?.parse().ok()?;
        let reason = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let l = self.line()?;
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':')?;
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; if with_body { len } else { 0 }];
        if status >= 200 {
            self.stream.read_exact(&mut body).ok()?;
        }
        Some(RawResponse {
            status,
            reason,
            headers,
            body,
        })
    }

    /// Whether the server has closed the connection (reads EOF or an error, no bytes).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        !matches!(self.stream.read(&mut buf), Ok(n) if n > 0)
    }
}
