//! Logging to stderr (which Proxmox copies into the task log) and to syslog (ident `pve-ontap-snapshot`).
