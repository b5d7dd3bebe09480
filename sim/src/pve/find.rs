//! The guest a call names: `{node}`/`{vmid}` of the route's guest type (`qemu` unless the path
//! says `lxc`), or Proxmox's "Configuration file ... does not exist" error.

use super::call::Call;
use super::envelope::PveError;
use super::scenario::GuestType;
use super::state::{Guest, PveState};

/// The guest type of the route (`qemu` unless the path says `lxc`).
pub(crate) fn guest_type_of(call: &Call) -> GuestType {
    call.guest_type.unwrap_or(GuestType::Qemu)
}

/// The guest of `{node}`/`{vmid}` for the route's guest type, or Proxmox's
/// `Configuration file 'nodes/<node>/qemu-server/<vmid>.conf' does not exist`.
pub(crate) fn find_guest<'a>(state: &'a PveState, call: &Call) -> Result<&'a Guest, PveError> {
    let node = call.params.str("node").unwrap_or_default();
    let vmid: u32 = call
        .params
        .str("vmid")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let guest_type = guest_type_of(call);
    state
        .guests
        .get(&vmid)
        .filter(|g| g.node == node && g.guest_type == guest_type)
        .ok_or_else(|| {
            PveError::die(format!(
                "Configuration file '{}' does not exist",
                Guest::conf_path(guest_type, &node, vmid)
            ))
        })
}
