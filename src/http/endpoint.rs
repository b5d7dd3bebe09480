//! What identifies one API endpoint to the transport: its base URL, how its certificate is
//! checked (verify, CA file, SHA-256 pin, insecure) and its timeouts. Plain settings, no I/O.

use std::path::PathBuf;
use std::time::Duration;

/// How the server certificate of one endpoint is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Verify against the bundled web PKI roots (default).
    Verify,
    /// Verify against this CA (or self-signed leaf) PEM file.
    CaFile(PathBuf),
    /// Trust exactly the leaf certificate with this SHA-256 fingerprint (hostname not checked).
    Fingerprint([u8; 32]),
    /// No verification at all (`verify = false`); logged as a warning on every run.
    Insecure,
}

/// Bounds for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// Whole request, from send to the last byte of the answer.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// One API endpoint: `https://host:port` plus how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme, host and port, no trailing slash, e.g. `https://10.0.0.1:8006`.
    pub base_url: String,
    pub tls: TlsMode,
    pub timeouts: Timeouts,
}
