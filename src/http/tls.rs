//! TLS for the transport: rustls client configs (ring provider) for each `TlsMode`, the fingerprint
//! pin verifier, a bounded handshake, and the SHA-256 fingerprint text form (`AA:BB:...`).

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};

use super::endpoint::TlsMode;
use crate::error::{Error, Result};

/// The rustls client configuration for one mode (always the ring provider, never a process default).
/// `key_prefix` is how the config keys of this endpoint start (`proxmox_` or empty), for hints.
pub(super) fn client_config(mode: &TlsMode, key_prefix: &str) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        TlsMode::Verify => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            Arc::new(Reporting::new(roots, provider.clone(), key_prefix)?)
        }
        TlsMode::CaFile(path) => Arc::new(Reporting::new(
            load_roots(path)?,
            provider.clone(),
            key_prefix,
        )?),
        TlsMode::Fingerprint(expected) => Arc::new(LeafOnly {
            pin: Some(*expected),
            provider: provider.clone(),
        }),
        TlsMode::Insecure => Arc::new(LeafOnly {
            pin: None,
            provider: provider.clone(),
        }),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_setup_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn tls_setup_error(message: String) -> Error {
    Error::io(
        "set up TLS",
        "rustls",
        std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
    )
}

/// Every certificate of a PEM file as a trust anchor (a self-signed `CA:FALSE` leaf works too).
fn load_roots(path: &std::path::Path) -> Result<RootCertStore> {
    let pem = std::fs::read(path).map_err(|e| Error::io("read CA file", path, e))?;
    let invalid = |message: String| {
        Error::io(
            "load CA certificates from",
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, message),
        )
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| invalid(format!("bad PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| invalid(format!("unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(invalid("no certificate in the file".into()));
    }
    Ok(roots)
}

/// SHA-256 of a DER certificate.
pub(super) fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Proxmox's form: upper-case hex pairs joined by `:`.
pub fn format_fingerprint(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The reason a certificate was refused, as our verifiers word it.
#[derive(Debug)]
struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

fn refuse(message: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Refusal(
        message,
    )))))
}

/// The TLS failure inside a transport error, worded for people (our refusals verbatim).
pub(super) fn find_tls_error(head: &(dyn std::error::Error + 'static)) -> Option<String> {
    let chain = super::chain::error_chain(head);
    if let Some(r) = chain.iter().find_map(|e| e.downcast_ref::<Refusal>()) {
        return Some(r.0.clone());
    }
    chain
        .iter()
        .find_map(|e| e.downcast_ref::<rustls::Error>())
        .map(|e| match e {
            rustls::Error::InvalidCertificate(CertificateError::Other(o)) => o.to_string(),
            other => other.to_string(),
        })
}

fn verify_signatures_12(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls12_signature(
        message,
        cert,
        dss,
        &provider.signature_verification_algorithms,
    )
}

fn verify_signatures_13(
    provider: &CryptoProvider,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature(
        message,
        cert,
        dss,
        &provider.signature_verification_algorithms,
    )
}

/// Chain and hostname are not checked. With a pin, exactly the leaf whose SHA-256 matches is
/// trusted (as Proxmox pins); without one (`verify = false`) any leaf is (the caller warns). The
/// handshake signature is always verified, so the peer must hold the presented certificate's key.
#[derive(Debug)]
struct LeafOnly {
    pin: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for LeafOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(expected) = self.pin else {
            return Ok(ServerCertVerified::assertion());
        };
        let actual = sha256(end_entity.as_ref());
        if actual == expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(refuse(format!(
                "certificate fingerprint mismatch: expected {}, the server presented {}",
                format_fingerprint(&expected),
                format_fingerprint(&actual)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_signatures_12(&self.provider, message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_signatures_13(&self.provider, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Normal chain + hostname verification; a refusal also names the certificate's fingerprint, so
/// the user can compare it out of band and pin it with `fingerprint =`.
#[derive(Debug)]
struct Reporting {
    inner: Arc<WebPkiServerVerifier>,
    key_prefix: String,
}

impl Reporting {
    fn new(
        roots: RootCertStore,
        provider: Arc<CryptoProvider>,
        key_prefix: &str,
    ) -> Result<Reporting> {
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| tls_setup_error(e.to_string()))?;
        Ok(Reporting {
            inner,
            key_prefix: key_prefix.to_string(),
        })
    }
}

impl ServerCertVerifier for Reporting {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| {
                let why = match &e {
                    rustls::Error::InvalidCertificate(c) => format!("certificate refused: {c}"),
                    other => other.to_string(),
                };
                refuse(format!(
                    "{why} (its SHA-256 fingerprint is {}; after checking it, pin it with \
                     {p}fingerprint = ..., or trust its CA with {p}ca = ...)",
                    format_fingerprint(&sha256(end_entity.as_ref())),
                    p = self.key_prefix
                ))
            })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// ureq's rustls connector, with the handshake bounded by the connect timeout (ureq itself bounds
/// it only by the whole-request timeout).
pub(super) struct Connector {
    config: Arc<rustls::ClientConfig>,
    connect_timeout: Duration,
}

impl Connector {
    pub(super) fn new(config: Arc<rustls::ClientConfig>, connect_timeout: Duration) -> Connector {
        Connector {
            config,
            connect_timeout,
        }
    }
}

impl ureq::TlsConnector for Connector {
    fn connect(
        &self,
        dns_name: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> std::result::Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        let socket: Option<TcpStream> = io.socket().and_then(|s| s.try_clone().ok());
        let previous = socket.as_ref().map(|s| {
            let old = (
                s.read_timeout().ok().flatten(),
                s.write_timeout().ok().flatten(),
            );
            let bound = |t: Option<Duration>| {
                Some(t.map_or(self.connect_timeout, |t| t.min(self.connect_timeout)))
            };
            // Failing to set a timeout only loses the tighter bound.
            let _ = s.set_read_timeout(bound(old.0));
            let _ = s.set_write_timeout(bound(old.1));
            old
        });
        let result = ureq::TlsConnector::connect(&self.config, dns_name, io);
        if let (Some(s), Some((read, write))) = (socket, previous) {
            let _ = s.set_read_timeout(read);
            let _ = s.set_write_timeout(write);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_print_in_proxmox_form_and_parse_back() {
        let mut fp = [0u8; 32];
        for (i, b) in fp.iter_mut().enumerate() {
            *b = (i * 7 + 0xA0) as u8;
        }
        let text = format_fingerprint(&fp);
        assert_eq!(text.len(), 95);
        assert!(text.starts_with("A0:A7:AE:B5"), "{text}");
        assert_eq!(crate::config::parse_fingerprint(&text), Some(fp));
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        assert_eq!(
            format_fingerprint(&sha256(b"abc")),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn a_fingerprint_mismatch_names_both_values() {
        let verifier = LeafOnly {
            pin: Some([0x11; 32]),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        let cert = CertificateDer::from(b"not really a certificate".to_vec());
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let err = verifier
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, err);
        let text = find_tls_error(&io).unwrap();
        assert!(text.contains(&format_fingerprint(&[0x11; 32])), "{text}");
        assert!(
            text.contains(&format_fingerprint(&sha256(b"not really a certificate"))),
            "{text}"
        );
        let same = LeafOnly {
            pin: Some(sha256(b"not really a certificate")),
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        };
        assert!(same
            .verify_server_cert(&cert, &[], &name, &[], UnixTime::now())
            .is_ok());
    }

    #[test]
    fn every_mode_builds_a_config() {
        for mode in [
            TlsMode::Verify,
            TlsMode::Fingerprint([1; 32]),
            TlsMode::Insecure,
        ] {
            client_config(&mode, "").unwrap();
        }
        let dir = std::env::temp_dir().join(format!("pos-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        let e = client_config(&TlsMode::CaFile(empty.clone()), "").unwrap_err();
        assert!(e.to_string().contains("no certificate"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
