//! Unit tests of the Proxmox side through `handle` with hand-built requests.
//! One module per area; `util` builds requests and a fresh world.
