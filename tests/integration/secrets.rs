//! Secret hygiene: every command and hook at debug and trace level, with distinctive passwords and
//! tokens in both Proxmox login modes; no secret may reach stdout, stderr or syslog in any form.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pve_ontap_sim::{FaultRule, PveLogin, SimOptions};

use crate::faults::harness::with_timeouts;
use crate::faults::{matrix_scenario, ORIGINAL_SNAPSHOT, VM_SNAPSHOT};
use crate::util::{run_command, Output, TestEnv, RUN_TIMEOUT};

const ONTAP_PASS: &str = r##"0ntap-L3ak?\"#;=\x'Qz"##;
const PVE_PASS: &str = r##"Pve-L3ak!\"#;=%2B&Wq"##;
const TOKEN_SECRET: &str = "7e0c5b1a-d15c-4e5e-9c1e-5ec2e7ab1e77";
/// Configured on purpose for the runs that must fail to log in.
const WRONG_ONTAP_PASS: &str = r##"Wr0ng-0ntap\"#;=Pw"##;
const WRONG_PVE_PASS: &str = r##"Wr0ng-Pve\"#;=Pw"##;

/// Hook and schedule policies, so hook phases do real work.
const POLICY: &str = "
[hook]
post-stop = storage-snapshot
keep = 3

[hook:102]
pre-start = vm-snapshot
keep = 2

[vzdump]
job-start = storage-snapshot
job-start.storages = ONTAP02
keep = 2

[vzdump:101]
backup-start = vm-snapshot
keep = 2

[schedule:nightly]
storages = ONTAP01
guests = 103
keep = 2
";

fn scenario() -> pve_ontap_sim::Scenario {
    let mut s = matrix_scenario();
    for account in &mut s.ontap.accounts {
        account.password = ONTAP_PASS.into();
    }
    for user in &mut s.pve.users {
        if user.password.is_some() {
            user.password = Some(PVE_PASS.into());
        }
        for token in &mut user.tokens {
            token.secret = TOKEN_SECRET.into();
        }
    }
    s
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every form in which a secret could leak: as is, JSON-escaped, form- and URL-encoded, and
/// (for ONTAP) inside a basic-auth header value.
fn forms(secret: &str, user: Option<&str>) -> Vec<(String, String)> {
    let mut out = vec![
        (secret.to_string(), "as is".to_string()),
        (
            serde_json::to_string(secret)
                .unwrap()
                .trim_matches('"')
                .to_string(),
            "JSON-escaped".into(),
        ),
        (
            secret
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect(),
            "percent-encoded".into(),
        ),
        (base64(secret.as_bytes()), "base64".into()),
    ];
    if let Some(user) = user {
        out.push((
            base64(format!("{user}:{secret}").as_bytes()),
            "base64 basic auth".into(),
        ));
    }
    out
}

/// A Proxmox ticket (`PVE:user:STAMP::sig`) or CSRF token (`STAMP:sig`) in `text`.
fn credential_token(text: &str) -> Option<String> {
    if let Some(at) = text.find("PVE:root@pam:") {
        return Some(text[at..].chars().take(40).collect());
    }
    let b = text.as_bytes();
    for i in 0..b.len().saturating_sub(30) {
        let stamp = &b[i..i + 8];
        if stamp
            .iter()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
            && b[i + 8] == b':'
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        {
            let sig = b[i + 9..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'+' || **c == b'/')
                .count();
            if sig >= 20 {
                return Some(text[i..].chars().take(40).collect());
            }
        }
    }
    None
}

/// A unix datagram socket standing in for /dev/log, read all the time by a thread (its queue
/// holds only a few messages).
pub(crate) struct SyslogSink {
    path: PathBuf,
    received: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl SyslogSink {
    pub(crate) fn bind(path: PathBuf) -> SyslogSink {
        let socket = UnixDatagram::bind(&path).expect("binding the syslog sink");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, st) = (received.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !st.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    r.lock().unwrap().push(msg);
                }
            }
        });
        SyslogSink {
            path,
            received,
            stop,
        }
    }

    /// Every message received since the last call (once nothing more arrives for a moment).
    pub(crate) fn drain(&self) -> Vec<String> {
        let mut seen = usize::MAX;
        loop {
            std::thread::sleep(Duration::from_millis(60));
            let now = self.received.lock().unwrap().len();
            if now == seen {
                break;
            }
            seen = now;
        }
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

impl Drop for SyslogSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One run: what it printed and logged.
struct Captured {
    what: String,
    out: Output,
    syslog: Vec<String>,
}

fn run(env: &TestEnv, sink: &SyslogSink, level: &str, args: &[&str]) -> Captured {
    let mut cmd = env.command(&["--log-level", level]);
    cmd.args(args)
        .env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", &sink.path);
    let out = run_command(cmd, None, RUN_TIMEOUT);
    Captured {
        what: format!("{level} {}", args.join(" ")),
        out,
        syslog: sink.drain(),
    }
}

/// Every command and hook, in an order where each finds what it needs (arguments split at spaces).
fn commands() -> Vec<Vec<String>> {
    let o = ORIGINAL_SNAPSHOT;
    [
        "check".to_string(),
        "storage create --storage ONTAP01 --label daily".into(),
        "--output json storage create --storage ONTAP02 --freeze".into(),
        "storage list --storage ONTAP01 --all".into(),
        "storage show --storage ONTAP01".into(),
        format!("storage mount --storage ONTAP01 --snapshot {o} --name ONTAP01-CLONE"),
        "storage unmount --storage ONTAP01-CLONE".into(),
        format!("storage restore --storage ONTAP01 --snapshot {o} --yes --force"),
        "storage prune --storage ONTAP01 --keep-last 3".into(),
        format!("storage delete --storage ONTAP01 --snapshot {o}"),
        "vm create --vm 100 --suspend".into(),
        "vm create --vm 103 --freeze".into(),
        "vm create --vm 101 --shutdown".into(),
        "vm list --vm 104".into(),
        "vm delete --vm 104 --snapshot 2025-01-01_00:00:00+0000".into(),
        format!("vm restore --vm 102 --snapshot {VM_SNAPSHOT} --yes"),
        "vm prune --vm 104 --keep-last 1".into(),
        "hook 102 pre-start".into(),
        "hook 102 post-start".into(),
        "hook 102 pre-stop".into(),
        "hook 102 post-stop".into(),
        "vzdump job-start".into(),
        "vzdump backup-start snapshot 101".into(),
        "vzdump backup-end snapshot 101".into(),
        "vzdump job-end".into(),
        "run nightly".into(),
        "completions bash".into(),
        // Failures carry request details: they must not carry credentials either.
        "storage delete --storage ONTAP01 --snapshot no-such-snapshot".into(),
        format!("vm restore --vm 100 --snapshot {VM_SNAPSHOT} --yes"),
    ]
    .iter()
    .map(|line| line.split(' ').map(str::to_string).collect())
    .collect()
}

/// Commands that must succeed (so that the check covers the real paths, not only errors).
const MUST_SUCCEED: &[&str] = &[
    "check",
    "storage create --storage ONTAP01 --label daily",
    "storage mount",
    "storage restore",
    "vm create --vm 100 --suspend",
    "vm restore --vm 102",
    "hook 102 post-stop",
    "vzdump job-start",
];

fn leaks(captured: &[Captured], secrets: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for c in captured {
        let streams = [
            ("stdout", c.out.stdout.clone()),
            ("stderr", c.out.stderr.clone()),
            ("syslog", c.syslog.join("\n")),
        ];
        for (stream, text) in &streams {
            for (secret, form) in secrets {
                if text.contains(secret.as_str()) {
                    found.push(format!("'{}': {form} secret in {stream}", c.what));
                }
            }
            for line in text.lines() {
                if let Some(t) = credential_token(line) {
                    let line: String = line.chars().take(160).collect();
                    found.push(format!(
                        "'{}': ticket or CSRF token {t} in {stream}: {line}",
                        c.what
                    ));
                }
            }
        }
    }
    found
}

fn secrets() -> Vec<(String, String)> {
    let mut s = Vec::new();
    s.extend(forms(ONTAP_PASS, Some("admin")));
    s.extend(forms(PVE_PASS, Some("root@pam")));
    s.extend(forms(TOKEN_SECRET, None));
    s.push((
        format!("root@pam!snap={TOKEN_SECRET}"),
        "token header value".into(),
    ));
    s.extend(forms(WRONG_ONTAP_PASS, Some("admin")));
    s.extend(forms(WRONG_PVE_PASS, Some("root@pam")));
    s
}

fn environment(login: PveLogin) -> (TestEnv, String) {
    let env = TestEnv::with_options(SimOptions {
        scenario: scenario(),
        ..SimOptions::default()
    });
    let config = with_timeouts(&env.config_with(login), 10) + POLICY;
    env.write_config(&config);
    (env, config)
}

fn every_command_at(login: PveLogin) {
    let (env, config) = environment(login);
    let sink = SyslogSink::bind(env.path("log.sock"));
    let mut captured = Vec::new();
    for (i, args) in commands().iter().enumerate() {
        let level = if i % 2 == 0 { "debug" } else { "trace" };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        captured.push(run(&env, &sink, level, &args));
    }

    // A refused login on either side, a failing login request, a failing API call.
    let wrong_ontap = config.replace(ONTAP_PASS, WRONG_ONTAP_PASS);
    env.write_config(&wrong_ontap);
    captured.push(run(
        &env,
        &sink,
        "trace",
        &["storage", "create", "--storage", "ONTAP01"],
    ));
    let wrong_pve = config
        .replace(PVE_PASS, WRONG_PVE_PASS)
        .replace(&format!("={TOKEN_SECRET}"), &format!("={}", WRONG_PVE_PASS));
    env.write_config(&wrong_pve);
    captured.push(run(&env, &sink, "trace", &["vm", "create", "--vm", "100"]));
    env.write_config(&config);
    env.add_fault(FaultRule::new("POST", "/api2/json/access/ticket").status(500));
    env.add_fault(FaultRule::new("POST", "/api/storage/volumes/*/snapshots").status(500));
    captured.push(run(
        &env,
        &sink,
        "trace",
        &["storage", "create", "--storage", "ONTAP01"],
    ));
    captured.push(run(
        &env,
        &sink,
        "debug",
        &["vm", "create", "--vm", "100", "--suspend"],
    ));
    env.sim().clear_faults();
    // Misplaced secrets in a broken config: the error names file, section and key, not values.
    env.write_config(&config.replace("pass = ", "pas = "));
    captured.push(run(&env, &sink, "trace", &["check"]));
    env.write_config(&config.replacen("proxmox_host =", "proxmox_host", 1));
    captured.push(run(&env, &sink, "trace", &["check"]));

    let found = leaks(&captured, &secrets());
    assert!(
        found.is_empty(),
        "secrets leaked:\n  {}",
        found.join("\n  ")
    );
    let syslog_lines: usize = captured.iter().map(|c| c.syslog.len()).sum();
    assert!(syslog_lines > 0, "the syslog sink received nothing");
    for c in &captured {
        assert!(
            !c.out.stderr.contains("syslog does not take messages"),
            "'{}' gave up on syslog: the check would miss what it did not send\n{}",
            c.what,
            c.out.stderr
        );
    }
    for wanted in MUST_SUCCEED {
        let c = captured
            .iter()
            .find(|c| c.what.contains(wanted))
            .unwrap_or_else(|| panic!("no run of '{wanted}'"));
        assert!(
            c.out.code == 0 && !c.out.stderr.contains("pve-ontap-snapshot: error: "),
            "'{}' must succeed for the check to cover it (exit {})\n{}",
            c.what,
            c.out.code,
            c.out.stderr
        );
    }
    let debug_lines: usize = captured
        .iter()
        .map(|c| c.out.stderr.matches("debug: ").count())
        .sum();
    assert!(
        debug_lines > 0,
        "no debug output at all: the log level did not apply"
    );
}

#[test]
fn no_secret_in_any_output_with_password_login() {
    every_command_at(PveLogin::Password);
}

#[test]
fn no_secret_in_any_output_with_token_login() {
    every_command_at(PveLogin::Token);
}

#[test]
fn the_leak_detectors_find_what_they_look_for() {
    assert_eq!(base64(b"admin:pw"), "YWRtaW46cHc=");
    assert_eq!(base64(b"ab"), "YWI=");
    let secrets = forms("a\"b#c", Some("admin"));
    let texts = [
        "x a\"b#c y",
        "x a\\\"b#c y",
        "x a%22b%23c y",
        &format!("Authorization: Basic {}", base64(b"admin:a\"b#c")),
    ];
    for text in texts {
        assert!(
            secrets.iter().any(|(s, _)| text.contains(s.as_str())),
            "{text}"
        );
    }
    assert!(credential_token("cookie PVE:root@pam:65F1A2B3::c2lnbmF0dXJl").is_some());
    assert!(credential_token("token 65F1A2B3:Q0hBTkdFTUVDSEFOR0VNRUNIQU5HRU1F").is_some());
    assert!(credential_token("created proxmox_snapshot_2026-03-01_12:00:00+0000").is_none());
    assert!(
        credential_token("UPID:pve1:0000ABCD:0012AB34:65F1A2B3:qmstart:100:root@pam:").is_none()
    );
}
