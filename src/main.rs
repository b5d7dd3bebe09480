//! pve-ontap-snapshot: pick the mode (CLI, hookscript, vzdump), run it, map errors to exit codes.

fn main() {}
