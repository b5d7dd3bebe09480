//! A failure injected into one request's ONTAP job or Proxmox task by a fault rule: a plain value
//! both APIs and the fault rules share, so it sits below all of them.

use serde::{Deserialize, Serialize};

/// A fault rule asked for this request's job (ONTAP) or task (Proxmox) to end in failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFault {
    /// ONTAP error code of the failed job (ignored by the Proxmox side).
    pub code: u64,
    /// The failure message (ONTAP job `message`/`error.message`; Proxmox task `exitstatus`).
    pub message: String,
}
