//! The task runner: ends every Proxmox task whose time has come, in the order they end, applying
//! its effect through the run-state rules (or the injected failure), with the `TASK OK` log line.

use std::time::Instant;

use super::runstate;
use super::state::{unix_now, PveState};

impl PveState {
    /// Finish every task whose time has come, in the order they end, applying their effects.
    pub(crate) fn advance(&mut self, now: Instant) {
        loop {
            let next = self
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.exitstatus.is_none() && t.ends_at <= now)
                .min_by_key(|(_, t)| t.ends_at)
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            let action = self.tasks[i].action.clone();
            let result = match self.tasks[i].fault.clone() {
                Some(message) => Err(message),
                None => runstate::complete(self, &action),
            };
            let task = &mut self.tasks[i];
            match result {
                Ok(lines) => {
                    task.log.extend(lines);
                    task.log.push("TASK OK".into());
                    task.exitstatus = Some("OK".into());
                }
                Err(message) => {
                    // Earlier lines are the output of the failed command; the last one is the
                    // error the worker dies with.
                    let message = message.trim_end();
                    let (output, error) = message.rsplit_once('\n').unwrap_or(("", message));
                    task.log.extend(output.lines().map(str::to_string));
                    task.log.push(format!("TASK ERROR: {error}"));
                    task.exitstatus = Some(error.to_string());
                }
            }
            task.endtime = Some(unix_now());
        }
    }
}
