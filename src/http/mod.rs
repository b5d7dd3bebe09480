//! The one HTTPS transport both API clients use: a ureq agent per endpoint with explicit timeouts and
//! a TLS mode (verify, CA file, SHA-256 fingerprint pin, or insecure with a warning). No API knowledge here.

mod backoff;
mod chain;
mod encode;
mod endpoint;
mod exchange;
pub mod multipart;
#[cfg(test)]
mod test_server;
mod tls;
mod transport;
pub mod urgent;

pub use backoff::Backoff;
pub use encode::{base64, basic_auth, percent_encode};
pub use endpoint::{Endpoint, Timeouts, TlsMode};
pub use exchange::{Body, Exchange, Response};
pub use tls::format_fingerprint;
pub use transport::Transport;
