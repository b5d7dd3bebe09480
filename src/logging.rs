//! Logging to stderr (which Proxmox copies into the task log) and to syslog (ident `pve-ontap-snapshot`).
//! One `log::Log` fans out to both; without a syslog socket it logs to stderr only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use log::{Level, LevelFilter, Log, Metadata, Record};
use syslog::{Facility, Formatter3164, LoggerBackend};

use crate::sys::paths::BIN;

/// How stderr lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `pve-ontap-snapshot: info: message` for an admin at a terminal.
    Cli,
    /// `pve-ontap-snapshot: message` (level named only for warnings and errors), so the Proxmox
    /// task log, which prefixes its own level, stays readable.
    Hook,
}

/// Where syslog messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    Off,
    /// A unix datagram (or stream) socket, normally `/dev/log`.
    Socket(PathBuf),
}

impl SyslogTarget {
    /// `/dev/log`, unless `$PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET` names another socket or says `none`.
    pub fn from_env() -> Self {
        match std::env::var_os(crate::sys::paths::SYSLOG_SOCKET_ENV) {
            Some(v) if v.is_empty() || v == "none" || v == "off" => SyslogTarget::Off,
            Some(v) => SyslogTarget::Socket(v.into()),
            None => SyslogTarget::Socket(crate::sys::paths::SYSLOG_SOCKET.into()),
        }
    }
}

type Syslog = syslog::Logger<LoggerBackend, Formatter3164>;

/// The process logger.
pub struct Logger {
    style: Style,
    stderr_level: LevelFilter,
    syslog_level: LevelFilter,
    syslog: Option<Mutex<Syslog>>,
    /// A syslog write failed (the daemon is gone or does not keep up): stderr only from then on.
    syslog_failed: AtomicBool,
}

/// How long one syslog write may wait for a busy daemon (a full socket queue blocks the writer;
/// a hook must never hang on its log).
const SYSLOG_WRITE_TIMEOUT: Duration = Duration::from_millis(250);

impl Logger {
    /// `level` applies to stderr; syslog always gets at least the info lines (what was done),
    /// whatever the terminal verbosity.
    pub fn new(level: LevelFilter, style: Style, target: &SyslogTarget) -> Self {
        let syslog = match target {
            SyslogTarget::Off => None,
            SyslogTarget::Socket(path) => connect_syslog(path).map(Mutex::new),
        };
        Logger {
            style,
            stderr_level: level,
            syslog_level: level.max(LevelFilter::Info),
            syslog,
            syslog_failed: AtomicBool::new(false),
        }
    }

    /// The most verbose level any sink wants.
    pub fn max_level(&self) -> LevelFilter {
        if self.syslog.is_some() {
            self.stderr_level.max(self.syslog_level)
        } else {
            self.stderr_level
        }
    }

    pub fn has_syslog(&self) -> bool {
        self.syslog.is_some()
    }

    /// Messages of other crates (TLS, HTTP) are shown only as warnings and errors, or at trace.
    fn wanted(&self, metadata: &Metadata, limit: LevelFilter) -> bool {
        let ours = metadata.target().starts_with("pve_ontap_snapshot");
        metadata.level() <= limit
            && (ours || metadata.level() <= Level::Warn || self.stderr_level == LevelFilter::Trace)
    }
}

fn connect_syslog(path: &Path) -> Option<Syslog> {
    let formatter = Formatter3164 {
        facility: Facility::LOG_USER,
        hostname: None,
        process: BIN.to_string(),
        pid: std::process::id(),
    };
    let logger = syslog::unix_custom(formatter, path).ok()?;
    let bounded = match &logger.backend {
        LoggerBackend::Unix(socket) => socket.set_write_timeout(Some(SYSLOG_WRITE_TIMEOUT)),
        LoggerBackend::UnixStream(stream) => stream
            .get_ref()
            .set_write_timeout(Some(SYSLOG_WRITE_TIMEOUT)),
        _ => Ok(()),
    };
    bounded.ok()?;
    Some(logger)
}

/// Request headers whose values are credentials. The HTTP library logs every request's headers
/// at debug level (shown here at trace) and hides only `Authorization` and `Cookie` itself.
const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "set-cookie",
    "csrfpreventiontoken",
];

/// `message` with the value of every sensitive `Name: value` header line replaced.
pub fn redact_headers(message: &str) -> std::borrow::Cow<'_, str> {
    let sensitive = |line: &str| {
        line.trim_start().split_once(':').is_some_and(|(name, _)| {
            SENSITIVE_HEADERS.contains(&name.trim().to_ascii_lowercase().as_str())
        })
    };
    if !message.lines().any(sensitive) {
        return std::borrow::Cow::Borrowed(message);
    }
    let redacted: Vec<String> = message
        .split('\n')
        .map(|line| match line.split_once(':') {
            Some((name, rest)) if sensitive(line) => {
                let cr = if rest.ends_with('\r') { "\r" } else { "" };
                format!("{name}: <redacted>{cr}")
            }
            _ => line.to_string(),
        })
        .collect();
    std::borrow::Cow::Owned(redacted.join("\n"))
}

/// One stderr line for a message.
pub fn format_line(style: Style, level: Level, message: &str) -> String {
    let name = match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    };
    match (style, level) {
        (Style::Hook, Level::Info) => format!("{BIN}: {message}"),
        _ => format!("{BIN}: {name}: {message}"),
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        self.wanted(metadata, self.max_level())
    }

    fn log(&self, record: &Record) {
        let metadata = record.metadata();
        if !self.enabled(metadata) {
            return;
        }
        let message = record.args().to_string();
        let message = redact_headers(&message);
        if self.wanted(metadata, self.stderr_level) {
            let line = format_line(self.style, record.level(), &message);
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{line}");
        }
        if let Some(syslog) = &self.syslog {
            if self.wanted(metadata, self.syslog_level)
                && !self.syslog_failed.load(Ordering::Relaxed)
            {
                let mut syslog = syslog.lock().unwrap_or_else(|e| e.into_inner());
                // A syslog daemon that went away or does not keep up must neither break nor
                // stall the command: after one failed write, stderr only.
                let sent = match record.level() {
                    Level::Error => syslog.err(&message),
                    Level::Warn => syslog.warning(&message),
                    Level::Info => syslog.info(&message),
                    Level::Debug | Level::Trace => syslog.debug(&message),
                };
                if let Err(e) = sent {
                    self.syslog_failed.store(true, Ordering::Relaxed);
                    let line = format_line(
                        self.style,
                        Level::Warn,
                        &format!("syslog does not take messages ({e}); logging to stderr only"),
                    );
                    let _ = writeln!(std::io::stderr().lock(), "{line}");
                }
            }
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// Install the process logger: stderr at `level`, syslog at the place `SyslogTarget::from_env`
/// names. Calling it twice keeps the first logger.
pub fn init(level: LevelFilter, style: Style) {
    let logger = Logger::new(level, style, &SyslogTarget::from_env());
    let max = logger.max_level();
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    #[test]
    fn stderr_lines_name_the_tool_and_the_level() {
        assert_eq!(
            format_line(Style::Cli, Level::Info, "created snapshot x"),
            "pve-ontap-snapshot: info: created snapshot x"
        );
        assert_eq!(
            format_line(Style::Cli, Level::Error, "boom"),
            "pve-ontap-snapshot: error: boom"
        );
        assert_eq!(
            format_line(Style::Hook, Level::Info, "phase post-stop: no action"),
            "pve-ontap-snapshot: phase post-stop: no action"
        );
        assert_eq!(
            format_line(Style::Hook, Level::Warn, "ONTAP unreachable"),
            "pve-ontap-snapshot: warning: ONTAP unreachable"
        );
    }

    fn record<'a>(level: Level, target: &'a str, args: std::fmt::Arguments<'a>) -> Record<'a> {
        Record::builder()
            .level(level)
            .target(target)
            .args(args)
            .build()
    }

    #[test]
    fn syslog_gets_info_and_above_with_the_ident() {
        let dir = std::env::temp_dir().join(format!("pos-syslog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();

        let logger = Logger::new(
            LevelFilter::Error,
            Style::Cli,
            &SyslogTarget::Socket(path.clone()),
        );
        assert!(logger.has_syslog());
        assert_eq!(logger.max_level(), LevelFilter::Info);
        logger.log(&record(
            Level::Debug,
            "pve_ontap_snapshot::ops",
            format_args!("not sent"),
        ));
        logger.log(&record(
            Level::Warn,
            "rustls::client",
            format_args!("foreign warning"),
        ));
        logger.log(&record(
            Level::Info,
            "rustls::client",
            format_args!("foreign info, not sent"),
        ));
        logger.log(&record(
            Level::Info,
            "pve_ontap_snapshot::ops::storage",
            format_args!("created snapshot proxmox_snapshot_x"),
        ));

        let mut buf = [0u8; 2048];
        let mut got = Vec::new();
        for _ in 0..2 {
            let n = socket.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        let pid = std::process::id();
        // <12> = user.warning, <14> = user.info.
        assert!(got[0].starts_with("<12>"), "{got:?}");
        assert!(
            got[0].ends_with(&format!("pve-ontap-snapshot[{pid}]: foreign warning")),
            "{got:?}"
        );
        assert!(got[1].starts_with("<14>"), "{got:?}");
        assert!(
            got[1].ends_with(&format!(
                "pve-ontap-snapshot[{pid}]: created snapshot proxmox_snapshot_x"
            )),
            "{got:?}"
        );
        socket.set_nonblocking(true).unwrap();
        assert!(socket.recv(&mut buf).is_err(), "unexpected extra message");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_syslog_that_does_not_read_never_stalls_logging() {
        let dir = std::env::temp_dir().join(format!("pos-syslog-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.sock");
        // Bound but never read: its queue fills after a few messages and writes would block.
        let _socket = UnixDatagram::bind(&path).unwrap();
        let logger = Logger::new(LevelFilter::Info, Style::Hook, &SyslogTarget::Socket(path));
        assert!(logger.has_syslog());
        for i in 0..2000 {
            logger.log(&record(
                Level::Info,
                "pve_ontap_snapshot::hook",
                format_args!("message {i}"),
            ));
        }
        // Reaching this line is the point (without the write timeout the eleventh message
        // blocks for good); after the one failed write the rest went to stderr only.
        assert!(logger.syslog_failed.load(Ordering::Relaxed));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn credential_headers_of_logged_requests_are_redacted() {
        let prelude = "writing prelude: POST /api2/json/storage HTTP/1.1\r\nHost: h:8006\r\n\
                       CSRFPreventionToken: 6B083173:uIBpyxJdQa2EUKmz7sNI\r\ncookie: PVEAuthCookie=PVE:x\r\n\
                       Accept: application/json\r\n\r\n";
        let out = redact_headers(prelude);
        assert!(
            !out.contains("6B083173") && !out.contains("PVEAuthCookie"),
            "{out}"
        );
        assert!(out.contains("CSRFPreventionToken: <redacted>\r\n"), "{out}");
        assert!(out.contains("cookie: <redacted>\r\n"), "{out}");
        assert!(out
            .starts_with("writing prelude: POST /api2/json/storage HTTP/1.1\r\nHost: h:8006\r\n"));
        assert!(out.ends_with("Accept: application/json\r\n\r\n"), "{out}");
        let plain = "created snapshot proxmox_snapshot_2026-03-01_12:00:00+0000";
        assert!(matches!(
            redact_headers(plain),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_missing_syslog_socket_means_stderr_only() {
        let logger = Logger::new(
            LevelFilter::Warn,
            Style::Hook,
            &SyslogTarget::Socket("/nonexistent/dev/log".into()),
        );
        assert!(!logger.has_syslog());
        assert_eq!(logger.max_level(), LevelFilter::Warn);
        let off = Logger::new(LevelFilter::Debug, Style::Cli, &SyslogTarget::Off);
        assert!(!off.has_syslog());
        assert_eq!(off.max_level(), LevelFilter::Debug);
    }
}
