//! The real binary against bad configs and bad command lines: exit codes, messages that name the
//! file, section and key, and nothing sent anywhere. No simulator is needed for these.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pve-ontap-snapshot");

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pos-it-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_config(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Run the binary in `cwd` with no config variable, syslog off and stdin closed.
fn run(cwd: &Path, args: &[&str]) -> Output {
    run_env(cwd, args, &[])
}

fn run_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("PVE_ONTAP_SNAPSHOT_CONFIG")
        .env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn valid_config(port: u16) -> String {
    format!(
        "[proxmox]\nproxmox_host = 127.0.0.1:{port}\nproxmox_user = root@pam\nproxmox_pass = x\n\
         [ONTAP01]\nhost = 127.0.0.1:{port}\nuser = admin\npass = y\n"
    )
}

#[test]
fn a_missing_config_names_every_place_searched() {
    let dir = scratch("missing");
    let out = run(&dir, &["storage", "list", "--storage", "ONTAP01"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("pve-ontap-snapshot: error: no config file found"),
        "{err}"
    );
    for place in [
        "--config",
        "$PVE_ONTAP_SNAPSHOT_CONFIG",
        "/etc/pve/priv/pve-ontap-snapshot.ini",
        "/etc/pve-ontap-snapshot/config.ini",
        "./config.ini",
    ] {
        assert!(err.contains(place), "{place} not named: {err}");
    }
    assert!(out.stdout.is_empty());

    let out = run(
        &dir,
        &[
            "-config",
            "nothere.ini",
            "storage",
            "list",
            "-storage",
            "ONTAP01",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("config 'nothere.ini': config file given with --config is not accessible"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_environment_variable_and_the_original_default_are_used() {
    let dir = scratch("search");
    let env_file = write_config(&dir, "env.ini", "[proxmox]\nproxmox_hots = x\n", 0o600);
    let out = run_env(
        &dir,
        &["check"],
        &[("PVE_ONTAP_SNAPSHOT_CONFIG", env_file.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!(
            "config '{}', section [proxmox], key 'proxmox_hots': line 2: unknown key (did you mean 'proxmox_host'?)",
            env_file.display()
        )),
        "{}",
        stderr(&out)
    );
    // ./config.ini, the original tool's default, is found in the working directory.
    write_config(
        &dir,
        "config.ini",
        "[ONTAP01]\nhost = a\n[ONTAP01]\n",
        0o600,
    );
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("config './config.ini', section [ONTAP01]: duplicate section at line 3 (first at line 1)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_config_readable_by_others_is_refused_with_a_chmod_hint() {
    let dir = scratch("mode");
    let file = write_config(&dir, "c.ini", &valid_config(9), 0o644);
    let out = run(&dir, &["--config", file.to_str().unwrap(), "check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("mode 0644"), "{err}");
    assert!(
        err.contains(&format!("run 'chmod 600 {}'", file.display())),
        "{err}"
    );
}

#[test]
fn bad_config_content_names_file_section_and_key() {
    let dir = scratch("content");
    for (text, expected) in [
        (
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[ONTAP01]\nhots = a\n",
            "section [ONTAP01], key 'hots': line 6: unknown key (did you mean 'host'?)",
        ),
        (
            "[DEFAULT]\nproxmox_host = h\n[proxmox]\nproxmox_host = h\n",
            "section [proxmox]: Proxmox settings are in both [DEFAULT] (line 1) and [proxmox] (line 3)",
        ),
        (
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\nproxmox_pass = y\n",
            "section [proxmox], key 'proxmox_pass': duplicate key at line 5 (first at line 4)",
        ),
        (
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[ONTAP01]\nhost = a\nuser = u\npass = p\nfingerprint = 12:34\n",
            "section [ONTAP01], key 'fingerprint': not a SHA-256 fingerprint",
        ),
        (
            "[proxmox]\nproxmox_host = http://h\n",
            "section [proxmox], key 'proxmox_host': scheme 'http' is not supported",
        ),
    ] {
        let file = write_config(&dir, "c.ini", text, 0o600);
        let out = run(&dir, &["--config", file.to_str().unwrap(), "--output", "json", "check"]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("config '{}', {expected}", file.display())),
            "{text}\n{err}"
        );
        assert!(out.stdout.is_empty(), "stdout must stay clean with --output json");
    }
}

#[test]
fn usage_errors_exit_2_and_help_documents_the_exit_codes() {
    let dir = scratch("usage");
    for args in [
        &[][..],
        &["storage"],
        &["storage", "list"],
        &["storage", "list", "-storage", "no/such"],
        &[
            "storage",
            "delete",
            "-storage",
            "ONTAP01",
            "-snapshot",
            "a b",
        ],
        &["storage", "prune", "--storage", "ONTAP01"],
        &["vm", "create", "-vm", "100", "-suspend", "-shutdown"],
        &["vm", "create", "-vm", "42"],
        &["--output", "xml", "check"],
    ] {
        let out = run(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    let out = run(&dir, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("2  usage or configuration error"), "{help}");
    let out = run(&dir, &["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("pve-ontap-snapshot "));
}

#[test]
fn restore_without_yes_and_without_a_terminal_is_refused_before_any_request() {
    let dir = scratch("restore");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let file = write_config(&dir, "c.ini", &valid_config(port), 0o600);
    for args in [
        vec![
            "storage",
            "restore",
            "-storage",
            "ONTAP01",
            "-snapshot",
            "proxmox_snapshot_2024-03-13_14:42:47+0000",
        ],
        vec![
            "vm",
            "restore",
            "--vm",
            "100",
            "--snapshot",
            "2024-03-13_14:42:47+0000",
        ],
    ] {
        let mut all = vec!["--config", file.to_str().unwrap()];
        all.extend(args);
        let out = run(&dir, &all);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains(
                "needs confirmation: pass --yes (stdin is not a terminal); nothing was changed"
            ),
            "{err}"
        );
    }
    // Nobody connected: the refusal came before any API call.
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let dir = scratch("pipe");
    let mut child = Command::new(BIN)
        .args(["completions", "bash"])
        .current_dir(&dir)
        .env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(err, "");
}

#[test]
fn gen_docs_writes_the_man_page_and_completions() {
    let dir = scratch("docs");
    let out = run(&dir, &["gen-docs", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for name in [
        "pve-ontap-snapshot.1",
        "pve-ontap-snapshot",
        "_pve-ontap-snapshot",
        "pve-ontap-snapshot.fish",
    ] {
        let len = std::fs::metadata(dir.join("out").join(name)).unwrap().len();
        assert!(len > 100, "{name} is {len} bytes");
    }
}
