//! Confirmation before a command destroys data: `--yes`, or the expected id typed on a terminal.
//! Without a terminal and without `--yes` the command is refused and nothing changes.

use std::io::{self, BufRead, IsTerminal, Write};

use crate::cli::BIN;
use crate::error::{Error, Result};
use crate::ops::storage;
use crate::ops::Backends;

/// Ask before destroying data: `--yes`, or the id typed on a terminal; otherwise refuse.
pub(super) fn confirm(yes: bool, warning: &str, expected: &str, what: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = io::stdin();
    let terminal = stdin.is_terminal();
    confirm_with(
        terminal,
        &mut stdin.lock(),
        &mut io::stderr(),
        warning,
        expected,
        what,
    )
}

pub(super) fn confirm_with(
    terminal: bool,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
    warning: &str,
    expected: &str,
    what: &str,
) -> Result<()> {
    if !terminal {
        return Err(Error::Refused(format!(
            "{what} needs confirmation: pass --yes (stdin is not a terminal); nothing was changed"
        )));
    }
    let _ = write!(
        prompt,
        "{warning}\nType '{expected}' (or 'yes') to confirm: "
    );
    let _ = prompt.flush();
    let mut answer = String::new();
    input
        .read_line(&mut answer)
        .map_err(|e| Error::io("read the confirmation from", "<stdin>", e))?;
    let answer = answer.trim();
    if answer == expected || answer == "yes" {
        Ok(())
    } else {
        Err(Error::Refused(format!(
            "{what} not confirmed; nothing was changed"
        )))
    }
}

/// The interactive confirmation of `storage restore` (no `--yes`): refused at once, without a
/// request, when stdin is no terminal; otherwise the guards are checked and the prompt names the
/// snapshots the restore discards. Returns those the administrator agreed to lose.
pub(super) fn confirm_restore(
    b: &dyn Backends,
    terminal: bool,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
    id: &str,
    snapshot: &str,
    opts: &storage::RestoreOptions,
) -> Result<Vec<String>> {
    let what = format!("restore of storage '{id}'");
    if !terminal {
        // No request before a confirmation: the snapshots it would discard are not listed here.
        return Err(Error::Refused(format!(
            "{what} needs confirmation: pass --yes (stdin is not a terminal); nothing was changed. \
             The restore discards every snapshot newer than '{snapshot}' (`{BIN} storage list \
             --storage {id} --all` lists them)"
        )));
    }
    let plan = storage::plan_restore(b, id, snapshot, opts)?;
    let mut warning = format!(
        "Restoring storage '{id}' (volume '{}') to snapshot '{snapshot}' reverts EVERY disk on it: \
         all changes made after the snapshot are lost.\nThis discards {}.",
        plan.volume,
        storage::discards_phrase(&plan.discarded_snapshots)
    );
    if !plan.running_guests.is_empty() {
        warning.push_str(&format!(
            "\nThese guests are running (--force): {}.",
            plan.running_guests.join(", ")
        ));
    }
    confirm_with(true, input, prompt, &warning, id, &what)?;
    Ok(plan.discarded_snapshots)
}
