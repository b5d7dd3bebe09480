//! SIGINT/SIGTERM/SIGHUP while a guest is paused, frozen or stopped: a `Shield` turns them into a
//! flag the workflow checks, so it can undo and return `Error::Interrupted`; without one they kill.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGTERM};

use crate::error::{Error, Result};

/// Signals that would otherwise end the process with a guest left paused.
const SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

struct State {
    /// True outside every shield: the signal's default action (termination) runs.
    armed: Arc<AtomicBool>,
    /// The last signal caught while shielded (0: none).
    caught: Arc<AtomicUsize>,
    /// Number of live shields.
    depth: Mutex<usize>,
}

static STATE: OnceLock<std::result::Result<State, String>> = OnceLock::new();

fn state() -> Result<&'static State> {
    STATE
        .get_or_init(|| {
            let state = State {
                armed: Arc::new(AtomicBool::new(true)),
                caught: Arc::new(AtomicUsize::new(0)),
                depth: Mutex::new(0),
            };
            for signal in SIGNALS {
                let caught = Arc::clone(&state.caught);
                // Registered once for the life of the process. Order matters: record first, then
                // run the default action (terminate) unless a shield is up.
                let number = usize::try_from(signal).unwrap_or_default();
                signal_hook::flag::register_usize(signal, caught, number)
                    .and_then(|_| {
                        signal_hook::flag::register_conditional_default(
                            signal,
                            Arc::clone(&state.armed),
                        )
                    })
                    .map_err(|e| format!("unable to install a handler for signal {signal}: {e}"))?;
            }
            Ok(state)
        })
        .as_ref()
        .map_err(|e| Error::Internal(e.clone()))
}

/// While a `Shield` lives, SIGINT, SIGTERM and SIGHUP do not terminate the process; they are
/// recorded for `interrupted()`. Dropping the last shield restores termination.
pub struct Shield {
    state: &'static State,
}

/// Raise a shield (install the handlers on first use).
pub fn shield() -> Result<Shield> {
    let state = state()?;
    let mut depth = state.depth.lock().unwrap_or_else(|e| e.into_inner());
    *depth += 1;
    state.armed.store(false, Ordering::SeqCst);
    Ok(Shield { state })
}

impl Drop for Shield {
    fn drop(&mut self) {
        let mut depth = self.state.depth.lock().unwrap_or_else(|e| e.into_inner());
        *depth = depth.saturating_sub(1);
        if *depth == 0 {
            self.state.armed.store(true, Ordering::SeqCst);
        }
    }
}

/// The name of a signal caught while shielded (`SIGTERM`), if any. Once caught it stays caught:
/// the process is asked to stop, every later long operation should stop too.
pub fn interrupted() -> Option<String> {
    let state = STATE.get()?.as_ref().ok()?;
    let caught = state.caught.load(Ordering::SeqCst);
    (caught != 0).then(|| signal_name(i32::try_from(caught).unwrap_or_default()))
}

/// `SIGTERM` for 15, ...
pub fn signal_name(signal: i32) -> String {
    match signal {
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test in this crate that raises a signal (other tests inject their interruption).
    #[test]
    fn shielded_signals_are_recorded_not_fatal() {
        let shield = shield().unwrap();
        let nested = super::shield().unwrap();
        drop(nested);
        signal_hook::low_level::raise(SIGTERM).unwrap();
        // Still alive (the nested drop did not re-arm), and the signal is recorded.
        assert_eq!(interrupted().as_deref(), Some("SIGTERM"));
        drop(shield);
        assert_eq!(signal_name(SIGINT), "SIGINT");
        assert_eq!(signal_name(10), "signal 10");
    }
}
