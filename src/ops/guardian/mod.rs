//! The guardian of a pause, freeze or shutdown window: a watchdog process, armed before the window
//! opens, that brings the guests back when the tool dies inside it or the window passes its bound.
//!
//! The tool arms it (`Guard::arm`) with what to undo per guest and the bound (`--max-pause`); the
//! guardian holds the read end of a pipe whose write end only the tool holds. The tool ends the
//! window itself, then releases the guardian ("done"), which exits without acting. When the pipe
//! closes without "done" (the tool was killed, even by SIGKILL), the guardian undoes at once; at
//! the bound it undoes even while the tool lives, and says so ("expired"), so the tool throws the
//! run away. `protocol` is the wire format, `serve` the guardian's own loop; how the process is
//! started is the caller's (`app`), over `sys::process`.

pub mod protocol;
pub mod serve;
