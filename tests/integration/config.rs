//! Config files and command lines the binary must refuse: exit codes, messages that name the
//! file, section and key, and no request sent to either API; plus what the entry point does for
//! every command (help, closed stdout, generated docs).

use std::io::Read;
use std::process::{Command, Stdio};

use crate::util::{run_command, TestEnv, BIN, RUN_TIMEOUT};

const SNAPSHOT: &str = "proxmox_snapshot_2024-03-13_14:42:47+0000";

/// Run in the env's directory with syslog off.
fn run(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> crate::util::Output {
    let mut cmd = env.command_without_config(args);
    cmd.env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none")
        .envs(vars.iter().copied());
    run_command(cmd, None, RUN_TIMEOUT)
}

fn write_private(env: &TestEnv, name: &str, text: &str) -> std::path::PathBuf {
    let path = env.path(name);
    pve_ontap_sim::config_ini::write_private(&path, text).unwrap();
    path
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_missing_config_names_every_place_searched() {
    let env = TestEnv::new();
    std::fs::remove_file(env.config_path()).unwrap();
    let out = run(&env, &["storage", "list", "--storage", "ONTAP01"], &[]);
    out.assert_code(2);
    assert!(
        out.stderr
            .starts_with("pve-ontap-snapshot: error: no config file found"),
        "{}",
        out.stderr
    );
    for place in [
        "--config",
        "$PVE_ONTAP_SNAPSHOT_CONFIG",
        "/etc/pve/priv/pve-ontap-snapshot.ini",
        "/etc/pve-ontap-snapshot/config.ini",
        "./config.ini",
    ] {
        assert!(
            out.stderr.contains(place),
            "{place} not named: {}",
            out.stderr
        );
    }
    assert_eq!(out.stdout, "");

    let out = run(
        &env,
        &[
            "-config",
            "nothere.ini",
            "storage",
            "list",
            "-storage",
            "ONTAP01",
        ],
        &[],
    );
    out.assert_code(2);
    assert!(
        out.stderr
            .contains("config 'nothere.ini': config file given with --config is not accessible"),
        "{}",
        out.stderr
    );
    assert_eq!(env.count_requests("*", "*"), 0);
}

#[test]
fn the_environment_variable_and_the_original_default_are_used() {
    let env = TestEnv::new();
    let env_file = write_private(&env, "env.ini", "[proxmox]\nproxmox_hots = x\n");
    let out = run(
        &env,
        &["check"],
        &[("PVE_ONTAP_SNAPSHOT_CONFIG", env_file.to_str().unwrap())],
    );
    out.assert_code(2);
    assert!(
        out.stderr.contains(&format!(
            "config '{}', section [proxmox], key 'proxmox_hots': line 2: unknown key (did you \
             mean 'proxmox_host'?)",
            env_file.display()
        )),
        "{}",
        out.stderr
    );
    // ./config.ini, the original tool's default, is found in the working directory.
    env.write_config("[ONTAP01]\nhost = a\n[ONTAP01]\n");
    let out = run(&env, &["check"], &[]);
    out.assert_code(2);
    assert!(
        out.stderr.contains(
            "config './config.ini', section [ONTAP01]: duplicate section at line 3 (first at \
             line 1)"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(env.count_requests("*", "*"), 0);
}

#[test]
fn a_config_readable_by_others_is_refused_with_a_chmod_hint() {
    let env = TestEnv::new();
    set_mode(env.config_path(), 0o644);
    let out = env.run(&["storage", "list", "-storage", "ONTAP01"]);
    out.assert_code(2);
    assert!(out.stderr.contains("mode 0644"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("run 'chmod 600 {}'", env.config_path().display())),
        "{}",
        out.stderr
    );
    assert_eq!(env.count_requests("*", "*"), 0);
}

#[test]
fn bad_config_content_names_file_section_and_key() {
    let env = TestEnv::new();
    let good = env.default_config();
    for (text, expected) in [
        (
            format!("{good}\n[ONTAP09]\nhots = a\n"),
            "section [ONTAP09], key 'hots': line ",
        ),
        (
            format!("{good}\n[ONTAP01]\nhost = a\n"),
            "section [ONTAP01]: duplicate section at line ",
        ),
        (
            format!("[DEFAULT]\nproxmox_host = h\n{good}"),
            "section [proxmox]: Proxmox settings are in both [DEFAULT] (line 1) and [proxmox]",
        ),
        (
            good.replacen(
                &format!("\nfingerprint = {}", env.sim().ontap_fingerprint()),
                "\nfingerprint = 12:34",
                1,
            ),
            "section [ONTAP01], key 'fingerprint': not a SHA-256 fingerprint",
        ),
        (
            format!("{good}\n[9-bad]\nhost = a\n"),
            "section [9-bad]: line ",
        ),
        (
            "[proxmox]\nproxmox_host = http://h\n".to_string(),
            "section [proxmox], key 'proxmox_host': scheme 'http' is not supported",
        ),
    ] {
        env.write_config(&text);
        let out = env.run(&["--output", "json", "check"]);
        out.assert_code(2);
        assert!(
            out.stderr.contains(&format!(
                "config '{}', {expected}",
                env.config_path().display()
            )),
            "{text}\n{}",
            out.stderr
        );
        assert_eq!(out.stdout, "", "stdout must stay clean with --output json");
    }
    assert_eq!(env.count_requests("*", "*"), 0);
}

#[test]
fn usage_errors_exit_2_and_help_documents_the_exit_codes() {
    let env = TestEnv::new();
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
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
    }
    let out = env.run(&["--help"]);
    out.assert_ok();
    assert!(out.stdout.contains("Exit codes:"), "{}", out.stdout);
    assert!(
        out.stdout.contains("2  usage or configuration error"),
        "{}",
        out.stdout
    );
    let out = env.run(&["--version"]);
    out.assert_ok();
    assert!(
        out.stdout.starts_with("pve-ontap-snapshot "),
        "{}",
        out.stdout
    );
    assert_eq!(env.count_requests("*", "*"), 0);
}

#[test]
fn restore_without_yes_and_without_a_terminal_changes_nothing() {
    let env = TestEnv::new();
    let before = env.state();
    for args in [
        &[
            "storage",
            "restore",
            "-storage",
            "ONTAP01",
            "-snapshot",
            SNAPSHOT,
        ][..],
        &[
            "vm",
            "restore",
            "--vm",
            "102",
            "--snapshot",
            "2024-03-13_14:42:47+0000",
        ],
    ] {
        let out = env.run(args);
        out.assert_code(1);
        assert!(
            out.stderr.contains(
                "needs confirmation: pass --yes (stdin is not a terminal); nothing was changed"
            ),
            "{}",
            out.stderr
        );
    }
    // Only a terminal can confirm: the right answer on a pipe is still refused.
    let out = env.run_with_stdin(
        &[
            "storage",
            "restore",
            "--storage",
            "ONTAP01",
            "--snapshot",
            SNAPSHOT,
        ],
        "ONTAP01\n",
    );
    out.assert_code(1);
    assert_eq!(env.count_requests("*", "*"), 0);
    assert_eq!(env.state(), before);
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let env = TestEnv::new();
    let mut child = Command::new(BIN)
        .args(["completions", "bash"])
        .current_dir(env.dir())
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
    let env = TestEnv::new();
    let out = run(&env, &["gen-docs", "out"], &[]);
    out.assert_ok();
    let man = std::fs::read_to_string(env.path("out/pve-ontap-snapshot.1")).unwrap();
    assert!(man.contains("Exit codes"), "{man}");
    for (name, needle) in [
        ("pve-ontap-snapshot", "complete -F"),
        ("_pve-ontap-snapshot", "#compdef pve-ontap-snapshot"),
        ("pve-ontap-snapshot.fish", "complete -c pve-ontap-snapshot"),
    ] {
        let text = std::fs::read_to_string(env.path(&format!("out/{name}"))).unwrap();
        assert!(text.contains(needle), "{name}: {text}");
    }
    let out = run(&env, &["completions", "fish"], &[]);
    out.assert_ok();
    assert!(out.stdout.contains("complete -c pve-ontap-snapshot"));
}
