//! Child processes: commands run with a clean environment and a time bound, detached children
//! that outlive the hook that started them, and liveness checks of other processes by pid.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// The effective user id of this process (`/proc/self/status`, second field of `Uid:`).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The only PATH the Proxmox commands get (vzdump hooks run with no environment at all).
pub const SAFE_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";
/// Start `exe args...` (as `arg0`) in its own process group with no terminal, cwd `/` and a clean
/// environment; the caller does not wait for it. `what` names it in errors.
pub fn spawn_detached(exe: &Path, arg0: &str, args: &[String], what: &str) -> Result<u32> {
    let child = Command::new(exe)
        .arg0(arg0)
        .args(args)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("LC_ALL", "C")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| Error::io(what, exe, e))?;
    Ok(child.id())
}

/// `systemd-run`, when systemd is the init of the system below `root` (`/run/systemd/system`
/// exists) and the program is there.
pub fn systemd_run(root: &Path) -> Option<PathBuf> {
    let systemd_run = crate::sys::seams::below(root, "/usr/bin/systemd-run");
    (crate::sys::seams::below(root, "/run/systemd/system").is_dir() && systemd_run.is_file())
        .then_some(systemd_run)
}

/// A command that runs `exe` in a session of its own, without a terminal: through util-linux's
/// `setsid` (the child is not a process group leader, so setsid(1) calls setsid(2) and execs: the
/// pid stays), or, where that program is missing, in a process group of its own.
pub fn in_own_session(exe: &Path) -> Command {
    let setsid = ["/usr/bin/setsid", "/bin/setsid"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    match setsid {
        Some(s) => {
            let mut c = Command::new(s);
            c.arg(exe);
            c
        }
        None => {
            let mut c = Command::new(exe);
            c.process_group(0);
            c
        }
    }
}

/// How a watchdog is detached from the process that starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detach {
    /// In a transient systemd scope of its own (`systemd-run --scope`, which registers the scope
    /// and then execs the command: same pid, same pipes): another cgroup than the calling
    /// service, so stopping that service does not kill it; `lifetime` bounds it there too
    /// (`RuntimeMaxSec=` of systemd.scope(5)).
    Scope {
        systemd_run: PathBuf,
        unit: String,
        lifetime: Duration,
    },
    /// In a session of its own only.
    Session,
}

/// Start `exe args...` as a watchdog: detached as `how` says (and always in a session of its
/// own, out of the caller's process group), cwd `/`, a clean environment (PATH = `SAFE_PATH`,
/// plus `keep`), stdin and stdout piped to the caller, stderr the caller's (the task log).
pub fn spawn_watchdog(
    exe: &Path,
    args: &[String],
    how: &Detach,
    keep: &[(&str, OsString)],
) -> Result<Child> {
    let mut cmd = match how {
        Detach::Scope {
            systemd_run,
            unit,
            lifetime,
        } => {
            let mut c = Command::new(systemd_run);
            c.arg("--scope")
                .arg(format!("--unit={unit}"))
                .args(["--collect", "--quiet"])
                .arg(format!("--property=RuntimeMaxSec={}", lifetime.as_secs()))
                .arg("--");
            let session = in_own_session(exe);
            c.arg(session.get_program()).args(session.get_args());
            c
        }
        Detach::Session => in_own_session(exe),
    };
    cmd.args(args)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("LC_ALL", "C")
        .envs(keep.iter().map(|(k, v)| (k, v)))
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::io("start the guardian", exe, e))
}

/// Run `command args...` with a clean environment (PATH = `SAFE_PATH`), bounded by `timeout`;
/// returns its stdout, or an error carrying its stderr (else stdout) when it fails.
pub fn run_bounded(command: &Path, args: &[&str], timeout: Duration) -> Result<String> {
    let shown = format!("{} {}", command.display(), args.join(" "));
    let mut child = Command::new(command)
        .args(args)
        .env_clear()
        .env("PATH", SAFE_PATH)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("run", command, e))?;
    let readers = [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Timeout {
                    what: format!("'{shown}'"),
                    waited: started.elapsed(),
                });
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Error::io("wait for", command, e)),
        }
    };
    let [out, err] = readers.map(|r| r.join().unwrap_or_default());
    if status.success() {
        Ok(out)
    } else {
        let detail = if err.trim().is_empty() { out } else { err };
        Err(Error::Refused(format!(
            "'{shown}' exited with {status}: {}",
            detail.trim()
        )))
    }
}

/// Start time (clock ticks since boot) of a process, from `/proc/<pid>/stat` field 22.
pub fn process_start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Whether the process with this pid and start time still runs (a zombie has ended).
pub fn process_alive(pid: u32, start_time: u64) -> bool {
    stat_fields(pid).is_some_and(|f| {
        f.first().map(String::as_str) != Some("Z")
            && f.get(19).and_then(|s| s.parse().ok()) == Some(start_time)
    })
}

/// Fields 3… of `/proc/<pid>/stat`.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    Some(rest.split_whitespace().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};

    use super::*;

    /// Session id (field 6 of `/proc/<pid>/stat`).
    fn session(pid: u32) -> Option<String> {
        stat_fields(pid)?.get(3).cloned()
    }

    #[test]
    fn a_watchdog_runs_in_its_own_session_with_pipes_and_a_clean_environment() {
        let keep = [("POS_KEPT", OsString::from("yes"))];
        let mut child = spawn_watchdog(
            Path::new("/bin/sh"),
            &[
                "-c".into(),
                "read line; echo \"$line $POS_KEPT ${HOME:-nohome}\"".into(),
            ],
            &Detach::Session,
            &keep,
        )
        .unwrap();
        let pid = child.id();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // The session (and so the process group) is not this process's.
        let deadline = Instant::now() + Duration::from_secs(5);
        while session(pid).as_deref() != Some(&pid.to_string()) {
            assert!(Instant::now() < deadline, "{:?}", session(pid));
            thread::sleep(Duration::from_millis(5));
        }
        assert_ne!(session(pid), session(std::process::id()));
        writeln!(stdin, "hello").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "hello yes nohome");
        assert!(child.wait().unwrap().success());
    }
}
