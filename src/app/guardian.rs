//! The live guardian: this program again, as the hidden `internal-guardian` subcommand, started in a
//! session of its own (and a systemd scope of its own where systemd runs) with its orders on stdin.
//!
//! `LiveGuard` is the tool's side (start, wait for `armed`, release); `run_guardian` is the
//! guardian's (read the orders, build its own Proxmox VE client, watch: `ops::guardian::serve`).

use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ops::guardian::protocol::{self, Orders};
use crate::ops::guardian::serve::{self, Ending};
use crate::ops::window::{Armed, Guard, GuardPlan, Released};
use crate::pve::{Connection, PveClient};
use crate::sys::paths::{BIN, SYSLOG_SOCKET_ENV};
use crate::sys::process::{self, Detach};

/// The hidden subcommand.
pub const SUBCOMMAND: &str = "internal-guardian";
/// How long a new guardian may take to say `armed`.
const ARM_WAIT: Duration = Duration::from_secs(10);
/// How long the tool waits for the guardian's answer to `done`.
const RELEASE_WAIT: Duration = Duration::from_secs(5);
/// A guardian's life beyond the bound: enough for every undo's retries and waits (three rounds of
/// three attempts, each waiting at most two minutes for a start task).
const UNDO_LIFETIME: Duration = Duration::from_secs(1200);

/// Arms guardians that log in to Proxmox VE as the tool does.
pub struct LiveGuard {
    pve: Connection,
    /// The system root (`/`, or a debug build's test root): where systemd is looked for.
    root: PathBuf,
}

impl LiveGuard {
    pub fn new(pve: Connection, root: &Path) -> LiveGuard {
        LiveGuard {
            pve,
            root: root.to_path_buf(),
        }
    }
}

/// Numbers the guardians of one process (their scope units need distinct names).
static ARMED_SO_FAR: AtomicU32 = AtomicU32::new(0);

impl Guard for LiveGuard {
    fn arm(&self, plan: &GuardPlan) -> Result<Box<dyn Armed>> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::io("find the path of", "this program", e))?;
        let pid = std::process::id();
        let orders = protocol::encode(&Orders {
            plan: plan.clone(),
            pve: self.pve.clone(),
            tool_pid: pid,
        })?;
        let mut ways = Vec::new();
        if let Some(systemd_run) = process::systemd_run(&self.root) {
            let n = ARMED_SO_FAR.fetch_add(1, Ordering::Relaxed);
            ways.push(Detach::Scope {
                systemd_run,
                unit: format!("{BIN}-guardian-{pid}-{n}"),
                lifetime: plan.max_pause + UNDO_LIFETIME,
            });
        }
        ways.push(Detach::Session);
        let mut last = None;
        let started = Instant::now();
        for how in ways {
            match start(&exe, &orders, &how) {
                Ok(armed) => {
                    log::debug!(
                        "guardian armed in {:.1} ms ({how:?})",
                        started.elapsed().as_secs_f64() * 1000.0
                    );
                    return Ok(Box::new(armed));
                }
                Err(e) => {
                    log::warn!("could not start the guardian ({how:?}): {e}");
                    last = Some(e);
                }
            }
        }
        Err(Error::Step {
            step: "start the guardian that brings the guests back if this process dies (no \
                   guest was touched)"
                .into(),
            cause: Box::new(last.unwrap_or_else(|| Error::Internal("no way to start".into()))),
        })
    }
}

/// Start one guardian, hand it its orders and wait for `armed`.
fn start(exe: &Path, orders: &str, how: &Detach) -> Result<LiveArmed> {
    let args = vec![
        SUBCOMMAND.to_string(),
        "--for".into(),
        std::process::id().to_string(),
    ];
    let keep: Vec<(&str, OsString)> = std::env::var_os(SYSLOG_SOCKET_ENV)
        .map(|v| (SYSLOG_SOCKET_ENV, v))
        .into_iter()
        .collect();
    let mut child = process::spawn_watchdog(exe, &args, how, &keep)?;
    let (stdin, stdout) = match (child.stdin.take(), child.stdout.take()) {
        (Some(i), Some(o)) => (i, o),
        _ => {
            reap(child, Duration::ZERO);
            return Err(Error::Internal("the guardian's pipes were not made".into()));
        }
    };
    let (tx, replies) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(l) = line else { break };
            if tx.send(l.trim().to_string()).is_err() {
                break;
            }
        }
    });
    let mut stdin = stdin;
    let written = stdin
        .write_all(orders.as_bytes())
        .and_then(|()| stdin.flush());
    match (written, replies.recv_timeout(ARM_WAIT)) {
        (Ok(()), Ok(word)) if word == protocol::ARMED => Ok(LiveArmed {
            child: Some(child),
            stdin: Some(stdin),
            replies,
            expired: false,
        }),
        (written, answer) => {
            drop(stdin);
            reap(child, Duration::from_secs(1));
            Err(Error::Refused(format!(
                "the guardian did not arm (orders {}, answer {})",
                written.map_or_else(|e| format!("not written: {e}"), |()| "written".into()),
                answer.map_or_else(|e| format!("none: {e}"), |w| format!("'{w}'"))
            )))
        }
    }
}

/// Wait up to `wait` for a guardian to end, then kill it (only ever this process's own child).
fn reap(mut child: Child, wait: Duration) {
    let deadline = Instant::now() + wait;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The tool's handle on a guardian that watches.
struct LiveArmed {
    child: Option<Child>,
    /// The liveness pipe: only the tool holds its write end.
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    expired: bool,
}

impl Armed for LiveArmed {
    fn expired(&mut self) -> bool {
        while let Ok(word) = self.replies.try_recv() {
            if word == protocol::EXPIRED {
                self.expired = true;
            }
        }
        self.expired
    }

    fn release(mut self: Box<Self>) -> Released {
        let started = Instant::now();
        if let Some(mut stdin) = self.stdin.take() {
            // A guardian that is gone (it expired and ended) cannot read it; its answer says.
            let _ = writeln!(stdin, "{}", protocol::DONE).and_then(|()| stdin.flush());
        }
        let mut released = if self.expired {
            Released::Expired
        } else {
            Released::Quiet
        };
        if released == Released::Quiet {
            let deadline = Instant::now() + RELEASE_WAIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.replies.recv_timeout(left) {
                    Ok(word) if word == protocol::EXPIRED => {
                        released = Released::Expired;
                        break;
                    }
                    Ok(word) if word == protocol::RELEASED => break,
                    Ok(_) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        log::warn!("the guardian ended without answering 'done'");
                        break;
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        log::warn!("the guardian did not answer 'done' in time");
                        break;
                    }
                }
            }
        }
        if let Some(mut child) = self.child.take() {
            // A released guardian ends at once; one that expired is bringing guests back and
            // ends by itself within its bounded lifetime: a thread waits for it (no zombie).
            if released == Released::Quiet {
                reap(child, RELEASE_WAIT);
            } else {
                thread::spawn(move || {
                    let _ = child.wait();
                });
            }
        }
        log::debug!(
            "guardian released in {:.1} ms ({released:?})",
            started.elapsed().as_secs_f64() * 1000.0
        );
        released
    }
}

/// The guardian itself (`internal-guardian --for PID`): read the orders from stdin, arm, watch,
/// bring the guests back when the tool dies or the bound passes; ends within its lifetime.
pub fn run_guardian(args: &[String]) -> Result<()> {
    let tool = match args {
        [flag, pid] if flag == "--for" => pid.clone(),
        _ => {
            return Err(Error::Usage(format!(
                "{SUBCOMMAND} takes --for PID and its orders on stdin (it is started by the tool \
                 itself)"
            )))
        }
    };
    let stdin = io::stdin();
    let mut first = String::new();
    stdin
        .lock()
        .read_line(&mut first)
        .map_err(|e| Error::io("read the orders from", "stdin", e))?;
    if first.is_empty() {
        // The tool ended before it sent orders: it touched no guest.
        log::debug!("guardian of pid {tool}: no orders, nothing to watch");
        return Ok(());
    }
    let armed_at = Instant::now();
    let orders = protocol::decode(&first)?;
    let pve = PveClient::new(&orders.pve)?;
    let (tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(l) = line else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let ending = serve::serve(&pve, &orders, &lines, &mut io::stdout(), armed_at);
    match ending {
        Ending::Released => Ok(()),
        Ending::ToolGone(failures) | Ending::Expired(failures) if failures.is_empty() => Ok(()),
        Ending::ToolGone(failures) | Ending::Expired(failures) => Err(Error::Refused(format!(
            "guardian of pid {tool}: could not bring every guest back: {}",
            failures.join("; ")
        ))),
    }
}
