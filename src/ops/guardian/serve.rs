//! The guardian's own loop: wait for the tool's `done`, the end of its pipe, or the bound; on the
//! last two bring every guest back (the window's undo, retried, then checked once it settled).

use std::io::Write;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ops::guardian::protocol::{self, Orders};
use crate::ops::quiesce;
use crate::ops::window::{show_bound, Action, Watch};
use crate::pve::Pve;

/// How the guardian's watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The tool ended the window itself and said `done`: nothing was done.
    Released,
    /// The tool's pipe closed without `done`: the guests were brought back (failures listed).
    ToolGone(Vec<String>),
    /// The bound passed first: the guests were brought back (failures listed).
    Expired(Vec<String>),
}

/// How long a guest is given to settle after its undo before its state is checked again (a pause
/// or shutdown task of the dead tool may still have been running).
const SETTLE: Duration = Duration::from_millis(400);
/// Undo-and-check rounds per guest.
const ROUNDS: u32 = 3;
/// How often the guests are looked at while the guardian lingers (see `linger`).
const LINGER_POLL: Duration = Duration::from_millis(250);
/// The longest the guardian lingers after the tool died.
const MAX_LINGER: Duration = Duration::from_secs(60);

/// Say `armed`, then watch until `done` (from `lines`, which ends when the tool's pipe closes) or
/// until `armed_at + max_pause`; `replies` carries `armed` and then `released` or `expired`.
pub fn serve(
    pve: &dyn Pve,
    orders: &Orders,
    lines: &Receiver<String>,
    replies: &mut dyn Write,
    armed_at: Instant,
) -> Ending {
    let plan = &orders.plan;
    let tool = orders.tool_pid;
    let deadline = armed_at + plan.max_pause;
    say(replies, protocol::ARMED);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.trim() == protocol::DONE => {
                say(replies, protocol::RELEASED);
                return Ending::Released;
            }
            Ok(line) => log::warn!("guardian of pid {tool}: ignoring '{}'", line.trim()),
            Err(RecvTimeoutError::Disconnected) => {
                log::error!(
                    "guardian of pid {tool}: the tool ended inside its window over guests {}; \
                     bringing them back",
                    vmids(&plan.watches)
                );
                let gone = Instant::now();
                let mut failures = bring_all_back(pve, &plan.watches, tool);
                if failures.is_empty() {
                    let until = gone + orders.pve.endpoint.timeouts.request.min(MAX_LINGER);
                    failures = linger(pve, &plan.watches, tool, until);
                }
                return Ending::ToolGone(failures);
            }
            Err(RecvTimeoutError::Timeout) => {
                say(replies, protocol::EXPIRED);
                log::error!(
                    "guardian of pid {tool}: the window over guests {} reached its bound \
                     (--max-pause {}); bringing them back",
                    vmids(&plan.watches),
                    show_bound(plan.max_pause)
                );
                return Ending::Expired(bring_all_back(pve, &plan.watches, tool));
            }
        }
    }
}

fn say(replies: &mut dyn Write, word: &str) {
    // A tool that is gone cannot hear it; the guardian acts on the pipe, not on this.
    let _ = writeln!(replies, "{word}").and_then(|()| replies.flush());
}

fn vmids(watches: &[Watch]) -> String {
    watches
        .iter()
        .map(|w| w.guest.vmid.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Bring every guest back at once; one line per failure.
fn bring_all_back(pve: &dyn Pve, watches: &[Watch], tool: u32) -> Vec<String> {
    thread::scope(|s| {
        let handles: Vec<_> = watches
            .iter()
            .map(|w| (w.guest.vmid, s.spawn(move || bring_back(pve, w))))
            .collect();
        handles
            .into_iter()
            .filter_map(|(vmid, h)| {
                let r = h
                    .join()
                    .unwrap_or_else(|_| Err(Error::Internal("the undo panicked".into())));
                match r {
                    Ok(done) => {
                        log::warn!("guardian of pid {tool}: guest {vmid}: {done}");
                        None
                    }
                    Err(e) => {
                        log::error!("guardian of pid {tool}: guest {vmid}: {e}");
                        Some(format!("guest {vmid}: {e}"))
                    }
                }
            })
            .collect()
    })
}

/// After the tool died: a request it had sent may still take effect (Proxmox VE finishes a call
/// whose client went away), at the latest about when the tool would have given up on it (its
/// request timeout, `until`). Until then the guests are looked at again, and one that such a late
/// request paused, froze or stopped is brought back once more.
fn linger(pve: &dyn Pve, watches: &[Watch], tool: u32, until: Instant) -> Vec<String> {
    let mut failures = Vec::new();
    while Instant::now() < until && failures.is_empty() {
        thread::sleep(LINGER_POLL.min(until.saturating_duration_since(Instant::now())));
        for w in watches {
            if is_back(pve, w).unwrap_or(true) {
                continue;
            }
            log::error!(
                "guardian of pid {tool}: guest {} changed again after it was brought back (a \
                 request of the tool took effect late)",
                w.guest.vmid
            );
            match bring_back(pve, w) {
                Ok(done) => log::warn!("guardian of pid {tool}: guest {}: {done}", w.guest.vmid),
                Err(e) => {
                    log::error!("guardian of pid {tool}: guest {}: {e}", w.guest.vmid);
                    failures.push(format!("guest {}: {e}", w.guest.vmid));
                }
            }
        }
    }
    failures
}

/// Undo, let the guest settle, check; again while it is not back. Says what it did.
fn bring_back(pve: &dyn Pve, w: &Watch) -> Result<String> {
    let done = match w.action {
        Action::Nothing => return Ok("nothing to undo".into()),
        Action::Pause => "resumed",
        Action::Shutdown => "started",
        Action::Freeze => "thawed",
    };
    let mut last = None;
    for _ in 0..ROUNDS {
        quiesce::undo(pve, &w.guest, w.action)?;
        thread::sleep(SETTLE);
        match is_back(pve, w) {
            Ok(true) => return Ok(done.into()),
            Ok(false) => {}
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        Error::Refused(format!(
            "guest {} is still not back after {ROUNDS} rounds of undo",
            w.guest.vmid
        ))
    }))
}

fn is_back(pve: &dyn Pve, w: &Watch) -> Result<bool> {
    Ok(match w.action {
        Action::Nothing => true,
        Action::Pause => {
            let s = pve.guest_status(&w.guest)?;
            s.is_running() && !s.is_paused()
        }
        Action::Shutdown => pve.guest_status(&w.guest)?.is_running(),
        Action::Freeze => pve.fsfreeze_status(&w.guest)? == "thawed",
    })
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::http::{Endpoint, Timeouts, TlsMode};
    use crate::ops::window::GuardPlan;
    use crate::pve::{Connection, GuestType, Login};
    use crate::secret::Secret;
    use crate::testing::double::Double;
    use crate::testing::scenario::guest;

    fn orders(action: Action, vmids: &[u32], max_pause: Duration) -> Orders {
        Orders {
            plan: GuardPlan {
                watches: vmids
                    .iter()
                    .map(|v| Watch {
                        guest: guest(*v, GuestType::Qemu),
                        action,
                    })
                    .collect(),
                max_pause,
            },
            pve: Connection {
                endpoint: Endpoint {
                    base_url: "https://127.0.0.1:1".into(),
                    tls: TlsMode::Insecure,
                    // The guardian lingers this long after the tool died.
                    timeouts: Timeouts {
                        connect: Duration::from_millis(500),
                        request: Duration::from_millis(500),
                    },
                },
                auth: Login::Token {
                    token_id: "root@pam!t".into(),
                    secret: Secret::new("x"),
                },
            },
            tool_pid: 1,
        }
    }

    fn replies(out: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(out)
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn done_releases_without_touching_any_guest() {
        let pve = Double::vm();
        let (tx, rx) = mpsc::channel();
        tx.send("done\n".to_string()).unwrap();
        let mut out = Vec::new();
        let o = orders(Action::Pause, &[100], Duration::from_secs(60));
        let end = serve(&pve, &o, &rx, &mut out, Instant::now());
        assert_eq!(end, Ending::Released);
        assert_eq!(replies(&out), ["armed", "released"]);
        assert!(pve.calls().is_empty(), "{:?}", pve.calls());
    }

    #[test]
    fn a_closed_pipe_brings_every_guest_back_at_once() {
        let pve = Double::vm();
        let g = guest(100, GuestType::Qemu);
        pve.suspend(&g, Duration::from_secs(1)).unwrap();
        pve.fsfreeze_freeze(&guest(103, GuestType::Qemu)).unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        drop(tx);
        let mut out = Vec::new();
        let started = Instant::now();
        let o = orders(Action::Pause, &[100], Duration::from_secs(60));
        assert_eq!(
            serve(&pve, &o, &rx, &mut out, started),
            Ending::ToolGone(vec![])
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(pve.state_of(100), "running");
        assert_eq!(replies(&out), ["armed"]);

        let o = orders(Action::Freeze, &[103], Duration::from_secs(60));
        let (tx, rx) = mpsc::channel::<String>();
        drop(tx);
        assert_eq!(
            serve(&pve, &o, &rx, &mut Vec::new(), started),
            Ending::ToolGone(vec![])
        );
        assert!(!pve.is_frozen(103));
    }

    #[test]
    fn a_request_of_the_dead_tool_that_takes_effect_late_is_undone_too() {
        let pve = Double::vm();
        let (tx, rx) = mpsc::channel::<String>();
        drop(tx);
        let mut o = orders(Action::Pause, &[100], Duration::from_secs(60));
        o.pve.endpoint.timeouts.request = Duration::from_millis(1500);
        // The dead tool's pause request is carried out only after the guardian brought it back.
        let late = pve.clone();
        let pauser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(900));
            late.suspend(&guest(100, GuestType::Qemu), Duration::from_secs(1))
                .unwrap();
        });
        let started = Instant::now();
        assert_eq!(
            serve(&pve, &o, &rx, &mut Vec::new(), started),
            Ending::ToolGone(vec![])
        );
        pauser.join().unwrap();
        assert_eq!(pve.state_of(100), "running");
        // It lingered for the tool's request timeout, no longer.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(1500), "{took:?}");
        assert!(took < Duration::from_secs(4), "{took:?}");
        let resumes = pve.calls_to("pve.resume").len();
        assert!(resumes >= 2, "{:?}", pve.calls());
    }

    #[test]
    fn the_bound_brings_guests_back_while_the_tool_lives_and_says_so() {
        let pve = Double::vm();
        let g = guest(100, GuestType::Qemu);
        pve.shutdown(&g, Duration::from_secs(1)).unwrap();
        let (_tx, rx) = mpsc::channel::<String>();
        let mut out = Vec::new();
        let started = Instant::now();
        let o = orders(Action::Shutdown, &[100], Duration::from_secs(1));
        assert_eq!(
            serve(&pve, &o, &rx, &mut out, started),
            Ending::Expired(vec![])
        );
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(replies(&out), ["armed", "expired"]);
        assert_eq!(pve.state_of(100), "running");
    }

    #[test]
    fn a_guest_that_cannot_be_brought_back_is_named_with_the_fix() {
        let pve = Double::vm();
        pve.world().resume_failures = 100;
        let g = guest(100, GuestType::Qemu);
        pve.suspend(&g, Duration::from_secs(1)).unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        drop(tx);
        let o = orders(Action::Pause, &[100], Duration::from_secs(60));
        match serve(&pve, &o, &rx, &mut Vec::new(), Instant::now()) {
            Ending::ToolGone(failures) => {
                assert_eq!(failures.len(), 1);
                assert!(failures[0].contains("qm resume 100"), "{failures:?}");
            }
            other => panic!("{other:?}"),
        }
    }
}
