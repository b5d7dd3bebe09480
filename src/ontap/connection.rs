//! What the ONTAP client needs to connect: the cluster management endpoint and the login.
//! Built by the config layer (one per storage section); the client never sees the config itself.

use crate::http::Endpoint;
use crate::secret::Secret;

/// The connection settings of one ONTAP cluster (HTTP basic authentication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub endpoint: Endpoint,
    pub user: String,
    pub password: Secret,
}
