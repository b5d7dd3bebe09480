//! The tool's error type: every variant carries what failed and where (file, API call, lock, step),
//! and maps to the documented exit codes (0 ok, 1 operation failed, 2 usage or config error).
//!
//! Each error's `Display` is the whole message, its causes included ("step: cause"), and no variant
//! returns a cause from `source()`: a printer that walks the `source()` chain (as `anyhow` or
//! `log` adapters do) therefore prints every cause exactly once. `Refused` is kept for the
//! safety rules of the tool; a fault of the tool itself (a panic caught in a worker thread, a thread
//! that could not be started) is `Internal`, so users and tests can tell the two apart.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which remote API an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Proxmox,
    Ontap,
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Api::Proxmox => "Proxmox VE",
            Api::Ontap => "ONTAP",
        })
    }
}

/// An error answer from an API: the request, the HTTP status and what the server said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub api: Api,
    pub method: String,
    /// Path and query as sent (never carries a secret).
    pub path: String,
    pub status: u16,
    /// ONTAP `error.code` (compared as a string), or None for Proxmox.
    pub code: Option<String>,
    /// The server's message (ONTAP `error.message`; Proxmox status line and body `message`/`errors`).
    pub message: String,
    /// ONTAP `error.target`, when the server blames one input field.
    pub target: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} failed with HTTP {}: {}",
            self.api, self.method, self.path, self.status, self.message
        )?;
        if let Some(code) = &self.code {
            write!(f, " (error {code}")?;
            if let Some(target) = &self.target {
                write!(f, ", target {target}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// Why a request never got an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Connection refused, DNS failure, reset before an answer.
    Connect,
    /// TLS handshake failed (certificate, fingerprint mismatch).
    Tls,
    /// No answer within the configured timeout.
    Timeout,
    /// The answer could not be read or decoded.
    Protocol,
}

#[derive(Debug, Error)]
pub enum Error {
    /// Bad command line (exit 2).
    #[error("{0}")]
    Usage(String),

    /// Bad or unreadable configuration (exit 2); names the file, section and key.
    #[error("{}: {message}", config_location(file, section, key))]
    Config {
        file: PathBuf,
        section: Option<String>,
        key: Option<String>,
        message: String,
    },

    /// An API answered with an error status or error body.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// A request got no usable answer.
    #[error("{api} {method} {path}: {message}")]
    Transport {
        api: Api,
        method: String,
        path: String,
        kind: TransportKind,
        message: String,
    },

    /// An ONTAP job ended in `failure`.
    #[error("ONTAP job {uuid} ({description}) failed: {message} (error {code})")]
    Job {
        uuid: String,
        description: String,
        code: String,
        message: String,
    },

    /// A Proxmox task (UPID) ended with an exit status other than OK.
    #[error("Proxmox task {upid} failed: {exitstatus}")]
    Task { upid: String, exitstatus: String },

    /// Waited longer than the bound for something (a job, a task, a hook).
    #[error("timed out after {}s waiting for {what}", waited.as_secs_f64())]
    Timeout { what: String, waited: Duration },

    /// A named object does not exist (`what` says which, e.g. "snapshot 'x' of storage 'ONTAP01'").
    #[error("{what} not found")]
    NotFound { what: String },

    /// A safety rule refused the operation; the message says why and what to do.
    #[error("{0}")]
    Refused(String),

    /// A fault of the tool itself, not of the input or the remote systems (a worker thread panicked
    /// or could not be started); exit 1. The message says so, to be reported as a bug.
    #[error("internal fault: {0}")]
    Internal(String),

    /// A lock could not be taken in time.
    #[error("could not lock {} within {}s: held by {holder}", path.display(), waited.as_secs())]
    Lock {
        path: PathBuf,
        holder: String,
        waited: Duration,
    },

    /// A local file operation failed (the message includes the OS error).
    #[error("unable to {action} '{}': {cause}", path.display())]
    Io {
        action: String,
        path: PathBuf,
        cause: std::io::Error,
    },

    /// SIGINT or SIGTERM arrived; the guard undid what it had to before returning this.
    #[error("interrupted by {0}")]
    Interrupted(String),

    /// A pause, freeze or shutdown window reached its bound (`--max-pause`, the `max-pause` key):
    /// the guests were brought back before the work inside it ended, and that work was discarded.
    #[error("{0}")]
    Bound(String),

    /// A named step of a workflow failed (the message names the step, then the cause).
    #[error("{step}: {cause}")]
    Step { step: String, cause: Box<Error> },
}

fn config_location(
    file: &std::path::Path,
    section: &Option<String>,
    key: &Option<String>,
) -> String {
    let mut s = format!("config '{}'", file.display());
    if let Some(section) = section {
        s.push_str(&format!(", section [{section}]"));
    }
    if let Some(key) = key {
        s.push_str(&format!(", key '{key}'"));
    }
    s
}

impl Error {
    /// Exit code contract: 2 for usage/config errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Config { .. } => 2,
            Error::Step { cause, .. } => cause.exit_code(),
            _ => 1,
        }
    }

    /// The innermost error (below any `Step` wrappers).
    pub fn root(&self) -> &Error {
        match self {
            Error::Step { cause, .. } => cause.root(),
            e => e,
        }
    }

    /// The API error inside, if this is (or wraps) one.
    pub fn api(&self) -> Option<&ApiError> {
        match self.root() {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// ONTAP error code inside an API or job error, if any.
    pub fn ontap_code(&self) -> Option<&str> {
        match self.root() {
            Error::Api(e) => e.code.as_deref(),
            Error::Job { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn io(action: impl Into<String>, path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            action: action.into(),
            path: path.into(),
            cause,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

/// Adds the name of the failing step to an error: `.step("clone disk scsi0")?`.
pub trait ResultExt<T> {
    fn step(self, step: impl Into<String>) -> Result<T>;
    fn step_with(self, step: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn step(self, step: impl Into<String>) -> Result<T> {
        self.map_err(|cause| Error::Step {
            step: step.into(),
            cause: Box::new(cause),
        })
    }

    fn step_with(self, step: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|cause| Error::Step {
            step: step(),
            cause: Box::new(cause),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_file_section_key_and_exit_2() {
        let e = Error::Config {
            file: "/etc/x.ini".into(),
            section: Some("ONTAP01".into()),
            key: Some("hots".into()),
            message: "unknown key".into(),
        };
        assert_eq!(
            e.to_string(),
            "config '/etc/x.ini', section [ONTAP01], key 'hots': unknown key"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn steps_chain_and_keep_the_exit_code() {
        let e: Result<()> = Err(Error::Refused("no".into()));
        let e = e.step("restore storage 'ONTAP01'").unwrap_err();
        assert_eq!(e.to_string(), "restore storage 'ONTAP01': no");
        assert_eq!(e.exit_code(), 1);
    }

    /// Every message of a chain appears once, whether a printer uses `Display` alone or also
    /// walks `source()`.
    #[test]
    fn a_chain_prints_each_cause_once() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e: Result<()> = Err(Error::io("read", "/etc/x.ini", io));
        let e = e
            .step("load the config")
            .step("create snapshot")
            .unwrap_err();
        let mut printed = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            printed.push_str(&format!(": {cause}"));
            next = cause.source();
        }
        assert_eq!(
            printed,
            "create snapshot: load the config: unable to read '/etc/x.ini': No such file or directory"
        );
        assert!(matches!(e.root(), Error::Io { .. }));
    }

    #[test]
    fn internal_faults_say_so_and_exit_1() {
        let e: Result<()> = Err(Error::Internal("the clone request panicked".into()));
        let e = e.step("clone disk scsi0").unwrap_err();
        assert_eq!(
            e.to_string(),
            "clone disk scsi0: internal fault: the clone request panicked"
        );
        assert_eq!(e.exit_code(), 1);
        assert!(!matches!(e.root(), Error::Refused(_)));
    }
}
