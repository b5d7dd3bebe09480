//! Test-only HTTPS servers for the transport's own tests: a TLS server answering one canned
//! response per connection, and a TCP listener that never speaks (handshake timeout).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

/// A self-signed certificate for `127.0.0.1` and a server answering every request with
/// `HTTP/1.1 <status> <reason>` and `body`.
pub(crate) struct TlsServer {
    pub addr: SocketAddr,
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
}

pub(crate) fn tls_server(status: u16, reason: &'static str, body: &'static str) -> TlsServer {
    let key = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert_der = key.cert.der().to_vec();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![rustls::pki_types::CertificateDer::from(cert_der.clone())],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.key_pair.serialize_der().into()),
    )
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || serve(config, stream, status, reason, body));
        }
    });
    TlsServer {
        addr,
        cert_pem: key.cert.pem(),
        cert_der,
    }
}

fn serve(
    config: Arc<rustls::ServerConfig>,
    mut stream: TcpStream,
    status: u16,
    reason: &str,
    body: &str,
) {
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, &mut stream);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    // Read the body too: closing with unread bytes makes the kernel reset the connection, and
    // the client may then see the reset before the answer.
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body_in = vec![0u8; length];
    if tls.read_exact(&mut body_in).is_err() {
        return;
    }
    let answer = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.write_all(answer.as_bytes());
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// A listener that accepts connections and never sends a byte.
pub(crate) fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}
