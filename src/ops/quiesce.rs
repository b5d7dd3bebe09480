//! Consistency guards: pause, shut down or fs-freeze guests around a closure, and undo it on every
//! path (errors, panics in the closure, SIGINT/SIGTERM) before returning. Each window is armed with
//! a guardian (`ops::guardian`) for the paths no code of this process runs on, and for its bound.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result, ResultExt};
use crate::http::urgent::Urgent;
pub use crate::ops::window::Action;
use crate::ops::window::{default_max_pause, show_bound, Armed, Guard, GuardPlan, Released, Watch};
use crate::pve::{Guest, GuestStatus, GuestType, Pve};
use crate::sys::signals;

/// How a guest is made consistent for a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Crash-consistent: nothing is done to the guest.
    #[default]
    None,
    /// Pause a VM in RAM, snapshot, resume (VMs only: a container's "suspend" in Proxmox is the
    /// experimental CRIU checkpoint, refused by `plan`).
    Suspend,
    /// Clean shutdown, snapshot, start again.
    Shutdown,
    /// Guest-agent fsfreeze, snapshot, thaw.
    Freeze,
}

/// Bound on waiting for the pause task (and the resume task).
pub const SUSPEND_WAIT: Duration = Duration::from_secs(60);
/// Bound on a clean shutdown.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(300);
/// Bound on the start after a shutdown.
pub const START_WAIT: Duration = Duration::from_secs(120);
/// How often an undo step (resume, start, thaw) is tried before giving up.
const UNDO_ATTEMPTS: u32 = 3;
/// Pause between undo attempts.
const UNDO_RETRY: Duration = Duration::from_millis(500);

/// The decision for one guest plus what the user should hear about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub action: Action,
    pub notes: Vec<String>,
}

/// Decide what `consistency` means for this guest in its current state. Refuses (before anything is
/// touched) a `Freeze` of a running guest without a configured, answering guest agent.
/// A stopped guest is consistent already: it is cloned as it is, with a note.
pub fn plan(
    pve: &dyn Pve,
    guest: &Guest,
    status: &GuestStatus,
    consistency: Consistency,
) -> Result<Plan> {
    let vmid = guest.vmid;
    let nothing = |note: String| Plan {
        action: Action::Nothing,
        notes: vec![note],
    };
    let option = match consistency {
        Consistency::None => {
            return Ok(Plan {
                action: Action::Nothing,
                notes: Vec::new(),
            })
        }
        Consistency::Suspend => "--suspend",
        Consistency::Shutdown => "--shutdown",
        Consistency::Freeze => "--freeze",
    };
    if consistency == Consistency::Freeze && guest.guest_type == GuestType::Lxc {
        return Err(Error::Refused(format!(
            "cannot freeze container {vmid}: --freeze uses the QEMU guest agent, which containers \
             do not have; use --shutdown, or no option for a crash-consistent snapshot"
        )));
    }
    // pve-container `src/PVE/API2/LXC/Status.pm` `vm_suspend` ("This is experimental") runs
    // `lxc-checkpoint -s`: a CRIU dump that stops the container and fails for most of them.
    if consistency == Consistency::Suspend && guest.guest_type == GuestType::Lxc {
        return Err(Error::Refused(format!(
            "cannot suspend container {vmid}: Proxmox suspends containers with an experimental \
             CRIU checkpoint (lxc-checkpoint), which stops the container and often fails; use \
             --shutdown for a consistent snapshot, or no option for a crash-consistent one"
        )));
    }
    if !status.is_running() {
        return Ok(nothing(format!(
            "guest {vmid} is {}: cloned as it is, {option} not needed",
            status.status
        )));
    }
    match consistency {
        Consistency::None => unreachable_none(),
        Consistency::Suspend if status.is_paused() => Ok(nothing(format!(
            "guest {vmid} was already paused: cloned while paused and left paused"
        ))),
        Consistency::Suspend => Ok(Plan {
            action: Action::Pause,
            notes: Vec::new(),
        }),
        Consistency::Shutdown => Ok(Plan {
            action: Action::Shutdown,
            notes: Vec::new(),
        }),
        Consistency::Freeze => {
            if !status.agent {
                return Err(Error::Refused(format!(
                    "cannot freeze guest {vmid}: no QEMU guest agent is configured (set \
                     'agent: 1' and run qemu-guest-agent in the guest), or use --suspend"
                )));
            }
            if let Err(e) = pve.agent_ping(guest) {
                return Err(Error::Refused(format!(
                    "cannot freeze guest {vmid}: its QEMU guest agent is configured but does not \
                     answer ({e}); start qemu-guest-agent in the guest, or use --suspend"
                )));
            }
            Ok(Plan {
                action: Action::Freeze,
                notes: Vec::new(),
            })
        }
    }
}

fn unreachable_none() -> Result<Plan> {
    Ok(Plan {
        action: Action::Nothing,
        notes: Vec::new(),
    })
}

/// A guest paused, stopped or frozen by this tool. `leave` undoes it and reports failure;
/// dropping an open window (a panic, an early return) undoes it too and logs failure. A guardian
/// process watches it (see `ops::guardian`): it brings the guest back should this process die, or
/// the window pass its bound.
pub struct Window<'a> {
    pve: &'a dyn Pve,
    guest: &'a Guest,
    action: Action,
    open: bool,
    guardian: Option<Box<dyn Armed>>,
    bound: Option<Bound>,
    _shield: signals::Shield,
    /// While a guest is paused or frozen, every poll of the process (the pause task, clone jobs)
    /// is urgent: the window closes within milliseconds of the last clone job's end.
    _urgent: Option<Urgent>,
}

/// When a window was armed and how long it may last.
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub max_pause: Duration,
    pub since: Instant,
}

/// The tool's own check of a bound comes this long after the guardian's: the guardian acts at the
/// bound and says so; the tool's check is the backstop should the guardian not answer.
const BOUND_GRACE: Duration = Duration::from_millis(200);

impl Bound {
    /// Whether the bound has passed by this process's clock (see `BOUND_GRACE`).
    pub fn passed(&self) -> bool {
        self.since.elapsed() >= self.max_pause + BOUND_GRACE
    }
}

/// The error of a window that reached its bound; `what` names the window, `lost` what is discarded.
pub fn bound_error(what: &str, max_pause: Duration, lost: &str) -> Error {
    Error::Bound(format!(
        "{what} reached its bound (--max-pause {}): the guest was brought back before {lost}; \
         raise --max-pause (the max-pause policy key for hooks and schedules) if the work needs \
         longer",
        show_bound(max_pause)
    ))
}

/// Arm a guardian for `action` on `guest` (bound: `max_pause`, or the action's default), then
/// apply it (see `open_window`). Nothing is done to the guest when the guardian cannot be armed.
pub fn enter<'a>(
    pve: &'a dyn Pve,
    guard: &dyn Guard,
    guest: &'a Guest,
    action: Action,
    max_pause: Option<Duration>,
    interrupt: &dyn Fn() -> Option<String>,
) -> Result<Window<'a>> {
    if action == Action::Nothing {
        return open_window(pve, guest, action, interrupt);
    }
    let max_pause = max_pause.unwrap_or_else(|| default_max_pause(action));
    let armed = guard
        .arm(&GuardPlan {
            watches: vec![Watch {
                guest: guest.clone(),
                action,
            }],
            max_pause,
        })
        .step_with(|| format!("guard the window of guest {}", guest.vmid))?;
    let bound = Bound {
        max_pause,
        since: Instant::now(),
    };
    let mut window = match open_window(pve, guest, action, interrupt) {
        Ok(w) => w,
        Err(e) => {
            // The window is closed again (or never opened): the guardian exits without acting.
            armed.release();
            return Err(e);
        }
    };
    window.guardian = Some(armed);
    window.bound = Some(bound);
    Ok(window)
}

/// Apply `plan` to the guest. SIGINT/SIGTERM are shielded while the window is open. When applying
/// fails, whatever may have happened is undone before the error returns; when a signal arrives
/// during the pause request, the guest is resumed and `Error::Interrupted` returns.
fn open_window<'a>(
    pve: &'a dyn Pve,
    guest: &'a Guest,
    action: Action,
    interrupt: &dyn Fn() -> Option<String>,
) -> Result<Window<'a>> {
    let shield = signals::shield()?;
    let urgent = matches!(action, Action::Pause | Action::Freeze).then(Urgent::begin);
    let mut window = Window {
        pve,
        guest,
        action,
        open: false,
        guardian: None,
        bound: None,
        _shield: shield,
        _urgent: urgent,
    };
    let vmid = guest.vmid;
    let applied = match action {
        Action::Nothing => return Ok(window),
        Action::Pause => pve
            .suspend(guest, SUSPEND_WAIT)
            .step_with(|| format!("pause guest {vmid}")),
        Action::Shutdown => pve
            .shutdown(guest, SHUTDOWN_WAIT)
            .step_with(|| format!("shut down guest {vmid}")),
        Action::Freeze => pve
            .fsfreeze_freeze(guest)
            .map(drop)
            .step_with(|| format!("freeze the filesystems of guest {vmid}")),
    };
    window.open = true;
    if let Err(e) = applied {
        // The request may have taken effect anyway (a task that timed out, a freeze that the
        // proxy cut off): undo whatever state the guest is in now.
        window.undo_after_failed_enter();
        return Err(e);
    }
    if let Some(signal) = interrupt() {
        window.leave()?;
        return Err(Error::Interrupted(signal));
    }
    Ok(window)
}

impl Window<'_> {
    /// Whether the guest is paused, stopped or frozen right now.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The window's bound (None when nothing was done to the guest).
    pub fn bound(&self) -> Option<Bound> {
        self.bound
    }

    /// Whether the bound has passed (by this process's clock, or as the guardian says).
    pub fn past_bound(&mut self) -> bool {
        self.bound.is_some_and(|b| b.passed())
            || self.guardian.as_mut().is_some_and(|g| g.expired())
    }

    /// `Error::Bound` (naming what is `lost`) when the bound has passed, see `past_bound`.
    pub fn past_bound_error(&mut self, lost: &str) -> Option<Error> {
        let max_pause = self.bound?.max_pause;
        self.past_bound().then(|| {
            bound_error(
                &format!("the window of guest {}", self.guest.vmid),
                max_pause,
                lost,
            )
        })
    }

    /// Resume, start or thaw the guest (with retries), then release the guardian. The error says
    /// what state the guest is in and how to fix it by hand; `Error::Bound` when the guardian
    /// reached the bound first (it brought the guest back while the work inside still ran).
    pub fn leave(mut self) -> Result<()> {
        self.close()?;
        let expired = self
            .guardian
            .take()
            .is_some_and(|g| g.release() == Released::Expired);
        match self.bound {
            Some(b) if expired => Err(bound_error(
                &format!("the window of guest {}", self.guest.vmid),
                b.max_pause,
                "the work inside it ended",
            )),
            _ => Ok(()),
        }
    }

    /// Undo; on failure the guardian is left armed and dropped with the window: its pipe closes
    /// and it tries again by itself.
    fn close(&mut self) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        let r = undo(self.pve, self.guest, self.action);
        if r.is_err() {
            drop(self.guardian.take());
        }
        r
    }

    /// After a failed pause/shutdown/freeze request: look at the guest and undo what happened.
    fn undo_after_failed_enter(&mut self) {
        let (pve, guest) = (self.pve, self.guest);
        let needed = match self.action {
            Action::Nothing => false,
            Action::Pause => pve.guest_status(guest).map_or(true, |s| s.is_paused()),
            Action::Shutdown => pve.guest_status(guest).map_or(true, |s| !s.is_running()),
            Action::Freeze => match pve.fsfreeze_status(guest) {
                Ok(s) => s != "thawed",
                // An agent that answers nothing froze nothing; one thaw in case it did.
                Err(e) => {
                    self.open = false;
                    if let Err(thaw) = pve.fsfreeze_thaw(guest) {
                        log::debug!(
                            "guest {}: no freeze status ({e}) and no thaw ({thaw})",
                            guest.vmid
                        );
                    }
                    return;
                }
            },
        };
        if needed {
            if let Err(e) = self.close() {
                log::error!("{e}");
            }
        } else {
            self.open = false;
        }
    }
}

/// Resume, start or thaw a guest after `action` (with retries; a request whose answer was lost
/// is checked against the guest's status). The error says what state the guest is in and how to
/// fix it by hand. The window uses it, and so does the guardian when the tool is gone.
pub fn undo(pve: &dyn Pve, guest: &Guest, action: Action) -> Result<()> {
    let vmid = guest.vmid;
    let mut last = None;
    for attempt in 0..UNDO_ATTEMPTS {
        if attempt > 0 {
            thread::sleep(UNDO_RETRY);
        }
        match undo_once(pve, guest, action) {
            Ok(()) => return Ok(()),
            Err(e) => {
                log::warn!(
                    "undo for guest {vmid} failed (attempt {}): {e}",
                    attempt + 1
                );
                last = Some(e);
            }
        }
    }
    let (what, hint) = match action {
        Action::Nothing => return Ok(()),
        Action::Pause => (
            "resume guest",
            format!("it is still paused: run 'qm resume {vmid}'"),
        ),
        Action::Shutdown => (
            "start guest",
            format!("it is stopped: run 'qm start {vmid}'"),
        ),
        Action::Freeze => (
            "thaw the filesystems of guest",
            format!("they may still be frozen: run 'qm guest cmd {vmid} fsfreeze-thaw'"),
        ),
    };
    Err(Error::Step {
        step: format!("{what} {vmid} ({hint})"),
        cause: Box::new(last.unwrap_or_else(|| Error::Internal("no attempt made".into()))),
    })
}

fn undo_once(pve: &dyn Pve, guest: &Guest, action: Action) -> Result<()> {
    match action {
        Action::Nothing => Ok(()),
        // A request whose answer was lost may have worked (and a second start of a running
        // guest fails): the status says.
        Action::Pause => {
            pve.resume(guest, SUSPEND_WAIT)
                .or_else(|e| match pve.guest_status(guest) {
                    Ok(s) if s.is_running() && !s.is_paused() => Ok(()),
                    _ => Err(e),
                })
        }
        Action::Shutdown => {
            pve.start(guest, START_WAIT)
                .or_else(|e| match pve.guest_status(guest) {
                    Ok(s) if s.is_running() => Ok(()),
                    _ => Err(e),
                })
        }
        Action::Freeze => match pve.fsfreeze_thaw(guest) {
            Ok(_) => Ok(()),
            // A thaw that timed out may still have worked; the status says.
            Err(e) => match pve.fsfreeze_status(guest) {
                Ok(s) if s == "thawed" => Ok(()),
                _ => Err(e),
            },
        },
    }
}

impl Drop for Window<'_> {
    fn drop(&mut self) {
        match self.close() {
            Err(e) => log::error!("{e}"),
            Ok(()) => {
                if let Some(g) = self.guardian.take() {
                    g.release();
                }
            }
        }
    }
}

/// Leave every window concurrently; returns the failures.
pub fn leave_all(windows: Vec<Window<'_>>) -> Vec<Error> {
    if windows.len() <= 1 {
        return windows
            .into_iter()
            .filter_map(|w| w.leave().err())
            .collect();
    }
    thread::scope(|s| {
        let handles: Vec<_> = windows
            .into_iter()
            .map(|w| {
                let vmid = w.guest.vmid;
                (vmid, s.spawn(move || w.leave()))
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(vmid, h)| match h.join() {
                Ok(r) => r.err(),
                Err(_) => Some(Error::Internal(format!(
                    "undo for guest {vmid} panicked; check its state by hand"
                ))),
            })
            .collect()
    })
}

/// What `with_frozen_report` returns: `f`'s value and the guests that could not be frozen.
#[derive(Debug)]
pub struct Frozen<T> {
    pub value: T,
    /// (vmid, why) of each guest left out.
    pub not_frozen: Vec<(u32, String)>,
}

/// Freeze the filesystems of these running guests through their agents, run `f`, thaw them all —
/// also when `f` fails, panics or a signal arrives. Used by `storage create --freeze`.
/// A guest whose freeze fails (agent not answering, guest-side error) is thawed if need be, logged
/// and left out: its disks are crash-consistent in what `f` makes, and `f` still runs; the result
/// says which guests could not be frozen (for the command's notes).
/// One guardian watches the whole window (bound: `max_pause`, default that of a freeze). When the
/// window passes it before `f` returned, what `f` made is handed to `discard` and `Error::Bound`
/// returns.
pub fn with_frozen_report<T>(
    (pve, guard): (&dyn Pve, &dyn Guard),
    guests: &[Guest],
    max_pause: Option<Duration>,
    f: impl FnOnce() -> Result<T>,
    discard: impl FnOnce(&T) -> Result<()>,
) -> Result<Frozen<T>> {
    with_frozen_checked(
        (pve, guard),
        guests,
        max_pause,
        &signals::interrupted,
        f,
        discard,
    )
}

/// `with_frozen_report` with the interruption check passed in (tests simulate signals with it).
pub fn with_frozen_checked<T>(
    (pve, guard): (&dyn Pve, &dyn Guard),
    guests: &[Guest],
    max_pause: Option<Duration>,
    interrupt: &(dyn Fn() -> Option<String> + Sync),
    f: impl FnOnce() -> Result<T>,
    discard: impl FnOnce(&T) -> Result<()>,
) -> Result<Frozen<T>> {
    let _shield = signals::shield()?;
    let max_pause = max_pause.unwrap_or_else(|| default_max_pause(Action::Freeze));
    let guardian = if guests.is_empty() {
        None
    } else {
        Some(
            guard
                .arm(&GuardPlan {
                    watches: guests
                        .iter()
                        .map(|g| Watch {
                            guest: g.clone(),
                            action: Action::Freeze,
                        })
                        .collect(),
                    max_pause,
                })
                .step("guard the freeze window")?,
        )
    };
    let bound = Bound {
        max_pause,
        since: Instant::now(),
    };
    // Freeze concurrently: the window is as long as the slowest agent, not the sum.
    let entered: Vec<(u32, Result<Window<'_>>)> = thread::scope(|s| {
        let handles: Vec<_> = guests
            .iter()
            .map(|g| {
                (
                    g.vmid,
                    s.spawn(move || open_window(pve, g, Action::Freeze, &|| None)),
                )
            })
            .collect();
        handles
            .into_iter()
            .map(|(vmid, h)| {
                let r = h.join().unwrap_or_else(|_| {
                    Err(Error::Internal(format!("freezing guest {vmid} panicked")))
                });
                (vmid, r)
            })
            .collect()
    });
    let mut windows = Vec::new();
    let mut not_frozen = Vec::new();
    for (vmid, r) in entered {
        match r {
            Ok(w) => windows.push(w),
            Err(e) => {
                log::warn!(
                    "guest {vmid} could not be frozen, its disks are only crash-consistent: {e}"
                );
                not_frozen.push((vmid, e.to_string()));
            }
        }
    }
    let release = |guardian: Option<Box<dyn Armed>>, failures: &[Error]| {
        match guardian {
            // A guest not thawed: the guardian's pipe closes, it tries again by itself.
            Some(g) if !failures.is_empty() => {
                drop(g);
                false
            }
            Some(g) => g.release() == Released::Expired,
            None => false,
        }
    };
    if let Some(signal) = interrupt() {
        let failures = leave_all(windows);
        release(guardian, &failures);
        return Err(failures
            .into_iter()
            .next()
            .unwrap_or(Error::Interrupted(signal)));
    }
    let result = catch_unwind(AssertUnwindSafe(f));
    let mut guardian = guardian;
    let late = bound.passed() || guardian.as_mut().is_some_and(|g| g.expired());
    let failures = leave_all(windows);
    let expired = release(guardian, &failures);
    let mut failures = failures.into_iter();
    let broken = (late || expired).then(|| {
        bound_error(
            "the freeze window",
            max_pause,
            "the snapshot was taken, so it is not consistent and was deleted",
        )
    });
    match result {
        Err(panic) => resume_unwind(panic),
        Ok(Ok(value)) => match (failures.next(), broken) {
            (None, None) => Ok(Frozen { value, not_frozen }),
            (first, Some(broken)) => {
                if let Some(e) = first {
                    log::error!("{e}");
                }
                for other in failures {
                    log::error!("{other}");
                }
                match discard(&value) {
                    Ok(()) => Err(broken),
                    Err(e) => Err(Error::Step {
                        step: format!("{broken}; deleting what was made failed, delete it by hand"),
                        cause: Box::new(e),
                    }),
                }
            }
            (Some(e), None) => {
                for other in failures {
                    log::error!("{other}");
                }
                Err(e)
            }
        },
        Ok(Err(e)) => {
            for failure in failures {
                log::error!("{failure}");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::double::Double;
    use crate::testing::scenario::{guest, status};

    fn running(_vmid: u32) -> GuestStatus {
        status("running", true)
    }

    #[test]
    fn plan_per_state() {
        let pve = Double::vm();
        let g = guest(100, GuestType::Qemu);
        let p = plan(&pve, &g, &running(100), Consistency::Suspend).unwrap();
        assert_eq!(p.action, Action::Pause);
        let p = plan(&pve, &g, &status("stopped", true), Consistency::Suspend).unwrap();
        assert_eq!(p.action, Action::Nothing);
        assert!(p.notes[0].contains("guest 100 is stopped"), "{:?}", p.notes);
        let mut paused = running(100);
        paused.qmpstatus = Some("paused".into());
        let p = plan(&pve, &g, &paused, Consistency::Suspend).unwrap();
        assert_eq!(p.action, Action::Nothing);
        assert!(p.notes[0].contains("already paused"));
        let p = plan(&pve, &g, &running(100), Consistency::Shutdown).unwrap();
        assert_eq!(p.action, Action::Shutdown);
        let p = plan(&pve, &g, &running(100), Consistency::None).unwrap();
        assert_eq!(p.action, Action::Nothing);
        assert!(p.notes.is_empty());
        // The agent is asked only for --freeze.
        assert!(pve.calls().is_empty());
        let p = plan(&pve, &g, &running(100), Consistency::Freeze).unwrap();
        assert_eq!(p.action, Action::Freeze);
        assert_eq!(pve.calls(), ["pve.agent_ping 100"]);
    }

    #[test]
    fn freeze_without_agent_is_refused_with_the_reason() {
        let pve = Double::vm();
        let g = guest(101, GuestType::Qemu);
        let e = plan(&pve, &g, &status("running", false), Consistency::Freeze).unwrap_err();
        assert!(
            e.to_string().contains("no QEMU guest agent is configured"),
            "{e}"
        );
        assert!(pve.calls().is_empty());

        let pve = Double::vm();
        pve.world().agent_dead = true;
        let g = guest(104, GuestType::Qemu);
        let e = plan(&pve, &g, &status("running", true), Consistency::Freeze).unwrap_err();
        assert!(e.to_string().contains("does not answer"), "{e}");
        assert!(
            e.to_string().contains("QEMU guest agent is not running"),
            "{e}"
        );

        let g = guest(200, GuestType::Lxc);
        let e = plan(&pve, &g, &status("running", false), Consistency::Freeze).unwrap_err();
        assert!(e.to_string().contains("containers do not have"), "{e}");
        assert!(e.to_string().contains("use --shutdown"), "{e}");
    }

    #[test]
    fn container_suspend_is_refused_in_every_state_with_the_alternatives() {
        let pve = Double::vm();
        let g = guest(200, GuestType::Lxc);
        for state in ["running", "stopped"] {
            let e = plan(&pve, &g, &status(state, false), Consistency::Suspend).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("cannot suspend container 200"), "{msg}");
            assert!(msg.contains("CRIU checkpoint"), "{msg}");
            assert!(msg.contains("--shutdown"), "{msg}");
            assert!(msg.contains("crash-consistent"), "{msg}");
        }
        assert!(pve.calls().is_empty());
        let p = plan(&pve, &g, &status("running", false), Consistency::Shutdown).unwrap();
        assert_eq!(p.action, Action::Shutdown);
    }

    #[test]
    fn window_resumes_on_leave_and_on_drop() {
        let pve = Double::vm();
        let g = guest(100, GuestType::Qemu);
        let w = enter(&pve, &pve, &g, Action::Pause, None, &|| None).unwrap();
        assert!(w.is_open());
        // A pause window polls urgently; a shutdown (minutes, not milliseconds) does not.
        assert!(w._urgent.is_some());
        w.leave().unwrap();
        assert_eq!(pve.calls(), ["pve.suspend 100", "pve.resume 100"]);

        let pve = Double::vm();
        {
            let w = enter(&pve, &pve, &g, Action::Shutdown, None, &|| None).unwrap();
            assert!(w._urgent.is_none());
        }
        assert_eq!(pve.calls(), ["pve.shutdown 100", "pve.start 100"]);
    }

    #[test]
    fn window_resumes_when_a_signal_arrives_during_the_pause() {
        let pve = Double::vm();
        let g = guest(100, GuestType::Qemu);
        let e = enter(&pve, &pve, &g, Action::Pause, None, &|| {
            Some("SIGTERM".into())
        })
        .err()
        .unwrap();
        assert!(
            matches!(e, Error::Interrupted(ref s) if s == "SIGTERM"),
            "{e}"
        );
        assert_eq!(pve.calls(), ["pve.suspend 100", "pve.resume 100"]);
    }

    #[test]
    fn resume_is_retried_and_its_failure_says_what_to_do() {
        let pve = Double::vm();
        pve.world().resume_failures = 2;
        let g = guest(100, GuestType::Qemu);
        enter(&pve, &pve, &g, Action::Pause, None, &|| None)
            .unwrap()
            .leave()
            .unwrap();
        // After each failed resume the status is read: the resume may have worked anyway.
        assert_eq!(
            pve.calls(),
            [
                "pve.suspend 100",
                "pve.resume 100",
                "pve.guest_status 100",
                "pve.resume 100",
                "pve.guest_status 100",
                "pve.resume 100"
            ]
        );

        let pve = Double::vm();
        pve.world().resume_failures = 10;
        let e = enter(&pve, &pve, &g, Action::Pause, None, &|| None)
            .unwrap()
            .leave()
            .unwrap_err();
        assert!(e.to_string().contains("qm resume 100"), "{e}");
    }

    #[test]
    fn a_failed_pause_request_is_undone_when_the_guest_ended_up_paused() {
        let pve = Double::vm();
        pve.world().suspend_fails_but_pauses = true;
        let g = guest(100, GuestType::Qemu);
        let e = enter(&pve, &pve, &g, Action::Pause, None, &|| None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("pause guest 100"), "{e}");
        assert_eq!(
            pve.calls(),
            ["pve.suspend 100", "pve.guest_status 100", "pve.resume 100"]
        );
    }

    #[test]
    fn with_frozen_thaws_on_success_error_panic_and_signal() {
        let guests = [guest(100, GuestType::Qemu), guest(103, GuestType::Qemu)];
        let thawed = |pve: &Double| {
            let calls = pve.calls();
            let mut t: Vec<_> = calls
                .iter()
                .filter(|c| c.starts_with("pve.fsfreeze_thaw"))
                .collect();
            t.sort();
            t.into_iter().cloned().collect::<Vec<_>>()
        };

        let pve = Double::vm();
        let v = with_frozen_checked(
            (&pve, &pve),
            &guests,
            None,
            &|| None,
            || {
                pve.record("snapshot");
                Ok(7)
            },
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(v.value, 7);
        assert!(v.not_frozen.is_empty());
        let calls = pve.calls();
        // Both frozen before the snapshot, both thawed after it.
        assert_eq!(calls[2], "snapshot");
        assert_eq!(
            thawed(&pve),
            ["pve.fsfreeze_thaw 100", "pve.fsfreeze_thaw 103"]
        );

        let pve = Double::vm();
        let e = with_frozen_checked(
            (&pve, &pve),
            &guests,
            None,
            &|| None,
            || -> Result<()> { Err(Error::Refused("snapshot failed".into())) },
            |_| Ok(()),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "snapshot failed");
        assert_eq!(
            thawed(&pve),
            ["pve.fsfreeze_thaw 100", "pve.fsfreeze_thaw 103"]
        );

        let pve = Double::vm();
        let r = catch_unwind(AssertUnwindSafe(|| {
            with_frozen_checked(
                (&pve, &pve),
                &guests,
                None,
                &|| None,
                || -> Result<()> { panic!("boom") },
                |_| Ok(()),
            )
        }));
        assert!(r.is_err());
        assert_eq!(
            thawed(&pve),
            ["pve.fsfreeze_thaw 100", "pve.fsfreeze_thaw 103"]
        );

        let pve = Double::vm();
        let e = with_frozen_checked(
            (&pve, &pve),
            &guests,
            None,
            &|| Some("SIGINT".into()),
            || {
                pve.record("snapshot");
                Ok(())
            },
            |_| Ok(()),
        )
        .unwrap_err();
        assert!(matches!(e, Error::Interrupted(_)));
        assert!(!pve.calls().contains(&"snapshot".to_string()));
        assert_eq!(
            thawed(&pve),
            ["pve.fsfreeze_thaw 100", "pve.fsfreeze_thaw 103"]
        );
    }

    #[test]
    fn a_freeze_window_past_its_bound_discards_what_was_made() {
        let pve = Double::vm();
        pve.world().guard_expired = true;
        let guests = [guest(100, GuestType::Qemu), guest(103, GuestType::Qemu)];
        let discarded = std::sync::atomic::AtomicBool::new(false);
        let e = with_frozen_checked(
            (&pve, &pve),
            &guests,
            Some(Duration::from_secs(3)),
            &|| None,
            || Ok(7),
            |v| {
                assert_eq!(*v, 7);
                discarded.store(true, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap_err();
        assert!(matches!(e, Error::Bound(_)), "{e:?}");
        assert!(e.to_string().contains("--max-pause 3s"), "{e}");
        assert!(
            e.to_string().contains("not consistent and was deleted"),
            "{e}"
        );
        assert!(discarded.load(std::sync::atomic::Ordering::SeqCst));
        assert!(!pve.is_frozen(100) && !pve.is_frozen(103));
        assert_eq!(
            pve.world().guards,
            ["arm 100:Freeze,103:Freeze 3s", "release"]
        );
    }

    #[test]
    fn a_dead_agent_costs_one_thaw_attempt() {
        let pve = Double::vm();
        pve.world().agent_dead = true;
        let g = guest(104, GuestType::Qemu);
        let e = enter(&pve, &pve, &g, Action::Freeze, None, &|| None)
            .err()
            .unwrap();
        assert!(e.to_string().contains("not running"), "{e}");
        assert_eq!(
            pve.calls(),
            [
                "pve.fsfreeze_freeze 104",
                "pve.fsfreeze_status 104",
                "pve.fsfreeze_thaw 104"
            ]
        );
    }

    #[test]
    fn a_guest_that_cannot_be_frozen_is_left_out_and_the_rest_is_thawed() {
        let pve = Double::vm();
        pve.world().freeze_fails_for = Some(103);
        let guests = [guest(100, GuestType::Qemu), guest(103, GuestType::Qemu)];
        let frozen = with_frozen_checked(
            (&pve, &pve),
            &guests,
            None,
            &|| None,
            || {
                pve.record("snapshot");
                Ok(())
            },
            |_| Ok(()),
        )
        .unwrap();
        assert_eq!(frozen.not_frozen.len(), 1);
        assert_eq!(frozen.not_frozen[0].0, 103);
        assert!(frozen.not_frozen[0]
            .1
            .contains("freeze the filesystems of guest 103"));
        let calls = pve.calls();
        assert!(calls.contains(&"snapshot".to_string()));
        assert!(
            calls.contains(&"pve.fsfreeze_thaw 100".to_string()),
            "{calls:?}"
        );
        assert!(!pve.is_frozen(100) && !pve.is_frozen(103));
    }
}
