//! What every Proxmox handler gets besides the state: the request's merged parameters, the
//! authenticated user, the clock reading and an injected task fault (`Call`).

use std::time::Instant;

use super::params::Params;
use super::scenario::GuestType;
use crate::job_fault::JobFault;

/// Everything a handler gets besides the state.
pub(crate) struct Call<'a> {
    pub method: String,
    /// Body and query parameters merged with the path parameters.
    pub params: Params,
    /// The authenticated user (`root@pam`) or token id (`root@pam!snap`); empty for open calls.
    pub user: String,
    /// Make a task started by this request fail with this message.
    pub fault: Option<&'a JobFault>,
    pub now: Instant,
    /// `qemu` or `lxc` from the path.
    pub guest_type: Option<GuestType>,
    /// Sub-command from the path (agent command).
    pub agent_command: Option<String>,
}
