//! What the tool and its guardian say to each other over two pipes, one line each.
//!
//! Tool → guardian (its stdin): the plan as one JSON line (guests, actions, bound, and the Proxmox
//! VE connection with its secret: it travels only here, never in argv or the environment), later
//! `done` when the tool has ended the window itself. Guardian → tool (its stdout): `armed` once it
//! watches, then `released` (it exits without acting) or `expired` (the bound passed first: it
//! brings the guests back itself).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::http::{Endpoint, Timeouts, TlsMode};
use crate::ops::window::{Action, GuardPlan, Watch};
use crate::pve::{Connection, Guest, GuestType, Login};
use crate::secret::Secret;

/// The tool ended the window itself.
pub const DONE: &str = "done";
/// The guardian watches.
pub const ARMED: &str = "armed";
/// The guardian exits without acting.
pub const RELEASED: &str = "released";
/// The guardian reached the bound and brings the guests back.
pub const EXPIRED: &str = "expired";

/// What the guardian gets: the plan, the connection, and who armed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orders {
    pub plan: GuardPlan,
    pub pve: Connection,
    /// The pid of the tool (named in the guardian's log lines).
    pub tool_pid: u32,
}

// The wire types derive no Debug: one of them holds the secret in the clear.
#[derive(Serialize, Deserialize)]
struct WireOrders {
    tool_pid: u32,
    max_pause_secs: u64,
    guests: Vec<WireWatch>,
    pve: WirePve,
}

#[derive(Serialize, Deserialize)]
struct WireWatch {
    vmid: u32,
    node: String,
    #[serde(rename = "type")]
    guest_type: String,
    name: Option<String>,
    status: String,
    action: String,
}

#[derive(Serialize, Deserialize)]
struct WirePve {
    base_url: String,
    /// `verify`, `ca`, `fingerprint` or `insecure`.
    tls: String,
    ca_file: Option<PathBuf>,
    fingerprint: Option<String>,
    connect_ms: u64,
    request_ms: u64,
    /// A token id (`USER@REALM!ID`), or a user for a password login.
    token_id: Option<String>,
    user: Option<String>,
    secret: String,
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Nothing => "nothing",
        Action::Pause => "resume",
        Action::Shutdown => "start",
        Action::Freeze => "thaw",
    }
}

fn action_of(name: &str) -> Result<Action> {
    Ok(match name {
        "nothing" => Action::Nothing,
        "resume" => Action::Pause,
        "start" => Action::Shutdown,
        "thaw" => Action::Freeze,
        other => return Err(bad(format!("unknown undo '{other}'"))),
    })
}

fn bad(what: String) -> Error {
    Error::Refused(format!("the guardian's orders are malformed: {what}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The orders as one line (no newline inside; ends with `\n`).
pub fn encode(orders: &Orders) -> Result<String> {
    let c = &orders.pve;
    let (tls, ca_file, fingerprint) = match &c.endpoint.tls {
        TlsMode::Verify => ("verify", None, None),
        TlsMode::CaFile(p) => ("ca", Some(p.clone()), None),
        TlsMode::Fingerprint(f) => ("fingerprint", None, Some(hex(f))),
        TlsMode::Insecure => ("insecure", None, None),
    };
    let (token_id, user, secret) = match &c.auth {
        Login::Token { token_id, secret } => (Some(token_id.clone()), None, secret),
        Login::Password { user, password } => (None, Some(user.clone()), password),
    };
    let wire = WireOrders {
        tool_pid: orders.tool_pid,
        max_pause_secs: orders.plan.max_pause.as_secs(),
        guests: orders
            .plan
            .watches
            .iter()
            .map(|w| WireWatch {
                vmid: w.guest.vmid,
                node: w.guest.node.clone(),
                guest_type: w.guest.guest_type.as_str().into(),
                name: w.guest.name.clone(),
                status: w.guest.status.clone(),
                action: action_name(w.action).into(),
            })
            .collect(),
        pve: WirePve {
            base_url: c.endpoint.base_url.clone(),
            tls: tls.into(),
            ca_file,
            fingerprint,
            connect_ms: millis(c.endpoint.timeouts.connect),
            request_ms: millis(c.endpoint.timeouts.request),
            token_id,
            user,
            secret: secret.expose().to_string(),
        },
    };
    let mut line = serde_json::to_string(&wire)
        .map_err(|e| Error::Internal(format!("cannot encode the guardian's orders: {e}")))?;
    line.push('\n');
    Ok(line)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The orders from the line `encode` made.
pub fn decode(line: &str) -> Result<Orders> {
    let w: WireOrders =
        serde_json::from_str(line.trim_end()).map_err(|e| bad(format!("not JSON ({e})")))?;
    let tls = match (w.pve.tls.as_str(), w.pve.ca_file, w.pve.fingerprint) {
        ("verify", None, None) => TlsMode::Verify,
        ("ca", Some(p), None) => TlsMode::CaFile(p),
        ("fingerprint", None, Some(f)) => {
            TlsMode::Fingerprint(unhex(&f).ok_or_else(|| bad("a fingerprint is not hex".into()))?)
        }
        ("insecure", None, None) => TlsMode::Insecure,
        (other, _, _) => return Err(bad(format!("TLS mode '{other}' with wrong fields"))),
    };
    let secret = Secret::new(w.pve.secret);
    let auth = match (w.pve.token_id, w.pve.user) {
        (Some(token_id), None) => Login::Token { token_id, secret },
        (None, Some(user)) => Login::Password {
            user,
            password: secret,
        },
        _ => return Err(bad("neither a token nor a user".into())),
    };
    let mut watches = Vec::new();
    for g in w.guests {
        let guest_type = match g.guest_type.as_str() {
            "qemu" => GuestType::Qemu,
            "lxc" => GuestType::Lxc,
            other => return Err(bad(format!("guest type '{other}'"))),
        };
        watches.push(Watch {
            guest: Guest {
                vmid: g.vmid,
                node: g.node,
                guest_type,
                name: g.name,
                status: g.status,
            },
            action: action_of(&g.action)?,
        });
    }
    if watches.is_empty() || w.max_pause_secs == 0 {
        return Err(bad("no guest, or no bound".into()));
    }
    Ok(Orders {
        plan: GuardPlan {
            watches,
            max_pause: Duration::from_secs(w.max_pause_secs),
        },
        pve: Connection {
            endpoint: Endpoint {
                base_url: w.pve.base_url,
                tls,
                timeouts: Timeouts {
                    connect: Duration::from_millis(w.pve.connect_ms),
                    request: Duration::from_millis(w.pve.request_ms),
                },
            },
            auth,
        },
        tool_pid: w.tool_pid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(auth: Login, tls: TlsMode) -> Orders {
        Orders {
            plan: GuardPlan {
                watches: vec![
                    Watch {
                        guest: Guest {
                            vmid: 100,
                            node: "pve1".into(),
                            guest_type: GuestType::Qemu,
                            name: Some("web".into()),
                            status: "running".into(),
                        },
                        action: Action::Freeze,
                    },
                    Watch {
                        guest: Guest {
                            vmid: 200,
                            node: "pve2".into(),
                            guest_type: GuestType::Lxc,
                            name: None,
                            status: "running".into(),
                        },
                        action: Action::Shutdown,
                    },
                ],
                max_pause: Duration::from_secs(10),
            },
            pve: Connection {
                endpoint: Endpoint {
                    base_url: "https://127.0.0.1:8006".into(),
                    tls,
                    timeouts: Timeouts::default(),
                },
                auth,
            },
            tool_pid: 4242,
        }
    }

    #[test]
    fn orders_travel_whole_on_one_line() {
        let cases = [
            (
                Login::Token {
                    token_id: "root@pam!snap".into(),
                    secret: Secret::new("s3cr\"et\n#;"),
                },
                TlsMode::Fingerprint([0xab; 32]),
            ),
            (
                Login::Password {
                    user: "root@pam".into(),
                    password: Secret::new("pw"),
                },
                TlsMode::CaFile("/etc/ca.pem".into()),
            ),
            (
                Login::Password {
                    user: "root@pam".into(),
                    password: Secret::new("pw"),
                },
                TlsMode::Insecure,
            ),
        ];
        for (auth, tls) in cases {
            let o = orders(auth, tls);
            let line = encode(&o).unwrap();
            assert_eq!(line.matches('\n').count(), 1, "{line}");
            assert!(line.ends_with('\n'));
            assert_eq!(decode(&line).unwrap(), o);
        }
    }

    #[test]
    fn malformed_orders_are_refused_by_name() {
        let line = encode(&orders(
            Login::Password {
                user: "root@pam".into(),
                password: Secret::new("pw"),
            },
            TlsMode::Verify,
        ))
        .unwrap();
        for (from, to, what) in [
            ("\"thaw\"", "\"melt\"", "unknown undo 'melt'"),
            ("\"qemu\"", "\"kvm\"", "guest type 'kvm'"),
            ("\"max_pause_secs\":10", "\"max_pause_secs\":0", "no bound"),
            ("\"verify\"", "\"fingerprint\"", "TLS mode 'fingerprint'"),
        ] {
            let e = decode(&line.replacen(from, to, 1)).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
        }
        let e = decode("hello").unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
    }
}
