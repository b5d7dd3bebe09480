//! What the Proxmox VE client needs to connect: the endpoint (address, TLS, timeouts) and the login.
//! Built by the config layer; the client never sees the config itself.

use crate::http::Endpoint;
use crate::secret::Secret;

/// How the tool logs in to Proxmox VE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// User and password: ticket + CSRF token (`POST /access/ticket`).
    Password { user: String, password: Secret },
    /// API token `USER@REALM!ID` and its secret: `Authorization: PVEAPIToken=...`.
    Token { token_id: String, secret: Secret },
}

/// The connection settings of one Proxmox VE API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub endpoint: Endpoint,
    pub auth: Login,
}
