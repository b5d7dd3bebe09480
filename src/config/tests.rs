//! Tests of the config layer: locating, reading, every section layout and every refusal.

use super::build::{section_kind, SectionKind};
use super::endpoint::parse_host;
use super::ini::{parse_ini, raw_section, IniSection};
use super::locate::{locate_in, mention_later_candidates, Caller};
use super::*;
use crate::error::{Error, Result};
use crate::http::{Timeouts, TlsMode};
use crate::model::storage::{clone_parent, valid_storage_id};
use crate::pve;
use crate::secret::Secret;
use crate::sys::paths::Paths;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ONTAP_PASS: &str = r#"Ontap-Pa55;#"\=x"#;

fn parse(text: &str) -> Result<Config> {
    Config::parse(Path::new("/etc/pve-ontap-snapshot/config.ini"), text)
}

fn config_error_parts(e: Error) -> (Option<String>, Option<String>, String) {
    match e {
        Error::Config {
            section,
            key,
            message,
            ..
        } => (section, key, message),
        other => panic!("expected a config error, got {other:?}"),
    }
}

/// A unique temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pos-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn the_original_default_layout_parses() {
    let c = parse(
        "[DEFAULT]\n# Proxmox PVE API\nproxmox_host = 172.16.60.128\nproxmox_user = root@pam\n\
         proxmox_pass = SuPeRs3cr3t\n\n[ONTAP01]\nhost = 192.168.38.50\nuser = admin\n\
         pass = SuPeRs3cr3t\n\n[BACKUP01]\nhost = 192.168.38.50\nuser = admin\npass = SuPeRs3cr3t\n",
    )
    .unwrap();
    assert_eq!(c.proxmox.endpoint.base_url, "https://172.16.60.128:8006");
    assert_eq!(c.proxmox.endpoint.tls, TlsMode::Verify);
    assert_eq!(
        c.proxmox.auth,
        pve::Login::Password {
            user: "root@pam".into(),
            password: Secret::new("SuPeRs3cr3t")
        }
    );
    assert_eq!(
        c.storages.keys().collect::<Vec<_>>(),
        vec!["BACKUP01", "ONTAP01"]
    );
    let o = &c.storages["ONTAP01"];
    assert_eq!(o.endpoint.base_url, "https://192.168.38.50:443");
    assert_eq!(o.user, "admin");
    assert_eq!(o.password.expose(), "SuPeRs3cr3t");
    assert_eq!(o.endpoint.timeouts, Timeouts::default());
    assert_eq!(c.paths, Paths::default());
}

#[test]
fn the_proxmox_section_layout_parses() {
    let c = parse(
        "[proxmox]\nproxmox_host = https://pve1.example.com:8443/\nproxmox_user = root@pam\n\
         proxmox_pass = x y\nproxmox_verify = False\n[ONTAP01]\nhost=10.0.0.5:8443\nuser=admin\npass=p\nverify = no\n",
    )
    .unwrap();
    assert_eq!(c.proxmox.endpoint.base_url, "https://pve1.example.com:8443");
    assert_eq!(c.proxmox.endpoint.tls, TlsMode::Insecure);
    let o = &c.storages["ONTAP01"];
    assert_eq!(o.endpoint.base_url, "https://10.0.0.5:8443");
    assert_eq!(o.endpoint.tls, TlsMode::Insecure);
}

#[test]
fn proxmox_settings_in_both_sections_are_refused() {
    let e = parse(
        "[DEFAULT]\nproxmox_host = a\n[proxmox]\nproxmox_host = b\nproxmox_user = root@pam\nproxmox_pass = x\n",
    )
    .unwrap_err();
    let (section, _, message) = config_error_parts(e);
    assert_eq!(section.as_deref(), Some("proxmox"));
    assert!(message.contains("[DEFAULT] (line 1)"), "{message}");
    assert!(message.contains("[proxmox] (line 3)"), "{message}");
}

#[test]
fn default_section_values_are_defaults_for_storages() {
    let c = parse(
        "[DEFAULT]\nuser = admin\npass = shared\nverify = false\n\
         [proxmox]\nproxmox_host = pve\nproxmox_user = root@pam\nproxmox_pass = x\n\
         [ONTAP01]\nhost = a\n[ONTAP02]\nhost = b\npass = own\nverify = true\n",
    )
    .unwrap();
    assert_eq!(c.storages["ONTAP01"].password.expose(), "shared");
    assert_eq!(c.storages["ONTAP01"].endpoint.tls, TlsMode::Insecure);
    assert_eq!(c.storages["ONTAP02"].password.expose(), "own");
    assert_eq!(c.storages["ONTAP02"].user, "admin");
    assert_eq!(c.storages["ONTAP02"].endpoint.tls, TlsMode::Verify);
    // The proxmox endpoint does not inherit ONTAP keys.
    assert_eq!(c.proxmox.endpoint.tls, TlsMode::Verify);
}

#[test]
fn token_auth() {
    let c = parse(
        "[proxmox]\nproxmox_host = 127.0.0.1\n\
         proxmox_token = root@pam!snap=5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11\n",
    )
    .unwrap();
    assert_eq!(
        c.proxmox.auth,
        pve::Login::Token {
            token_id: "root@pam!snap".into(),
            secret: Secret::new("5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11")
        }
    );
}

#[test]
fn bad_tokens_and_mixed_auth_are_refused() {
    for token in [
        "root@pam!snap",
        "root@pam=abc",
        "root!snap=abc",
        "root@pam!=abc",
        "root@pam!snap=",
    ] {
        let e = parse(&format!(
            "[proxmox]\nproxmox_host = h\nproxmox_token = {token}\n"
        ))
        .unwrap_err();
        let (_, key, message) = config_error_parts(e);
        assert_eq!(key.as_deref(), Some("proxmox_token"), "{token}");
        assert!(message.contains("USER@REALM!TOKENID=SECRET"), "{message}");
        assert!(!message.contains("abc"), "the secret leaked: {message}");
    }
    let e = parse(
        "[proxmox]\nproxmox_host = h\nproxmox_token = root@pam!s=abc\nproxmox_user = root@pam\n",
    )
    .unwrap_err();
    assert_eq!(config_error_parts(e).1.as_deref(), Some("proxmox_user"));
}

#[test]
fn user_without_realm_or_password_is_refused() {
    let e =
        parse("[proxmox]\nproxmox_host = h\nproxmox_user = root\nproxmox_pass = x\n").unwrap_err();
    let (_, key, message) = config_error_parts(e);
    assert_eq!(key.as_deref(), Some("proxmox_user"));
    assert!(message.contains("root@pam"), "{message}");
    let e = parse("[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\n").unwrap_err();
    assert_eq!(config_error_parts(e).1.as_deref(), Some("proxmox_pass"));
    let e = parse("[ONTAP01]\nhost = h\nuser = u\npass = p\n").unwrap_err();
    let (_, key, message) = config_error_parts(e);
    assert_eq!(key.as_deref(), Some("proxmox_host"));
    assert!(message.contains("[DEFAULT] or [proxmox]"), "{message}");
}

#[test]
fn passwords_are_literal() {
    let cases = [
        ONTAP_PASS,
        r#"a\b"c#d;e=f g"#,
        r#""quoted both""#,
        r#"'single'"#,
        r#""leading only"#,
        r#"trailing only""#,
        "with  two  spaces",
        r"back\\slash\n\t",
        "%(interp)s %%",
    ];
    for pass in cases {
        let text = format!(
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = {pass}\n\
             [ONTAP01]\nhost = h\nuser = admin\npass={pass}\n"
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.storages["ONTAP01"].password.expose(), pass);
        match &c.proxmox.auth {
            pve::Login::Password { password, .. } => assert_eq!(password.expose(), pass),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let c = parse(&format!(
        "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = pve-secret\n\
         [ONTAP01]\nhost = h\nuser = admin\npass = {ONTAP_PASS}\n"
    ))
    .unwrap();
    let dump = format!("{c:?}");
    assert!(!dump.contains("pve-secret"));
    assert!(!dump.contains("Ontap-Pa55"));
}

#[test]
fn configparser_syntax_is_accepted() {
    // `key: value`, upper-case keys, indented lines, CRLF, a BOM, comments with ; and #.
    let c = parse(
        "\u{feff}; comment\r\n[DEFAULT]\r\n  PROXMOX_HOST: pve:8006\r\n\tproxmox_user = root@pam\r\n\
         proxmox_pass = a:b\r\n# done\r\n",
    )
    .unwrap();
    assert_eq!(c.proxmox.endpoint.base_url, "https://pve:8006");
    match &c.proxmox.auth {
        pve::Login::Password { password, .. } => assert_eq!(password.expose(), "a:b"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_keys_name_file_section_and_key() {
    let e = parse(
        "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[ONTAP01]\nhots = h\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "config '/etc/pve-ontap-snapshot/config.ini', section [ONTAP01], key 'hots': \
         line 6: unknown key (did you mean 'host'?); allowed here: host, user, pass, verify, \
         fingerprint, ca, connect_timeout, timeout, snapshot_count_warn, snapshot_count_max, \
         space_used_warn, space_used_max"
    );
    assert_eq!(e.exit_code(), 2);
    let e = parse("[proxmox]\nproxmox_host = h\nhost = x\n").unwrap_err();
    let (section, key, message) = config_error_parts(e);
    assert_eq!(
        (section.as_deref(), key.as_deref()),
        (Some("proxmox"), Some("host"))
    );
    assert!(message.contains("ONTAP settings belong"), "{message}");
    let e = parse("[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[ONTAP01]\nproxmox_pass = x\n")
        .unwrap_err();
    let (_, _, message) = config_error_parts(e);
    assert!(
        message.contains("belong in [DEFAULT] or [proxmox]"),
        "{message}"
    );
}

#[test]
fn duplicate_sections_and_keys_are_refused() {
    let e = parse("[proxmox]\nproxmox_host = h\n[ONTAP01]\nhost = a\n[ONTAP01]\nhost = b\n")
        .unwrap_err();
    let (section, key, message) = config_error_parts(e);
    assert_eq!(section.as_deref(), Some("ONTAP01"));
    assert_eq!(key, None);
    assert!(
        message.contains("duplicate section at line 5 (first at line 3)"),
        "{message}"
    );
    let e = parse("[proxmox]\nproxmox_host = h\n[ONTAP01]\nhost = a\nHost = b\n").unwrap_err();
    let (section, key, message) = config_error_parts(e);
    assert_eq!(
        (section.as_deref(), key.as_deref()),
        (Some("ONTAP01"), Some("host"))
    );
    assert!(
        message.contains("duplicate key at line 5 (first at line 4)"),
        "{message}"
    );
}

#[test]
fn malformed_lines_are_refused_with_their_line_number() {
    for (text, needle) in [
        ("proxmox_host = h\n", "key outside of a section"),
        ("[proxmox\n", "without closing ']'"),
        ("[]\n", "empty section name"),
        ("[proxmox]\njust words\n", "line 2: expected 'key = value'"),
        ("[proxmox]\n= value\n", "line 2: missing key"),
    ] {
        let (_, _, message) = config_error_parts(parse(text).unwrap_err());
        assert!(message.contains(needle), "{text:?}: {message}");
    }
}

#[test]
fn storage_sections_must_be_storage_ids() {
    let e = parse("[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[9bad]\nhost = h\n")
        .unwrap_err();
    let (section, _, message) = config_error_parts(e);
    assert_eq!(section.as_deref(), Some("9bad"));
    assert!(
        message.contains("not a valid Proxmox storage id"),
        "{message}"
    );
    for id in ["ONTAP01", "nfs-a_1", "a1", "x.y"] {
        assert!(valid_storage_id(id), "{id}");
    }
    for id in ["a", "1a", "a-", "a b", "a/b", ""] {
        assert!(!valid_storage_id(id), "{id}");
    }
}

#[test]
fn policy_sections_are_recognised_and_passed_on_literally() {
    let file = Path::new("/c.ini");
    let sections = parse_ini(
        file,
        "[proxmox]\n[hook]\nPost-Stop = storage-snapshot\n[hook:100]\npre-start = vm-snapshot\n\
         keep = 3\n[schedule:nightly]\nstorages = ONTAP01, ONTAP02 # not a comment\n[vzdump]\n\
         [vzdump:200]\n[a.b]\n[ONTAP01]\n[DEFAULT]\n",
    )
    .unwrap();
    let policy: Vec<&IniSection> = sections
        .iter()
        .filter(|s| matches!(section_kind(&s.name), SectionKind::Policy))
        .collect();
    let names: Vec<&str> = policy.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "hook",
            "hook:100",
            "schedule:nightly",
            "vzdump",
            "vzdump:200",
            "a.b"
        ]
    );
    assert_eq!(
        raw_section(file, policy[1]),
        RawSection {
            file: file.into(),
            name: "hook:100".into(),
            entries: vec![
                ("pre-start".to_string(), "vm-snapshot".to_string()),
                ("keep".to_string(), "3".to_string())
            ]
        }
    );
    assert_eq!(raw_section(file, policy[0]).entries[0].0, "post-stop");
    assert_eq!(
        raw_section(file, policy[2]).entries[0].1,
        "ONTAP01, ONTAP02 # not a comment"
    );
    // An empty policy section is not a storage and needs no credentials.
    let c =
        parse("[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n[vzdump]\n")
            .unwrap();
    assert!(c.storages.is_empty());
    assert_eq!(c.policy.sections.len(), 1);
}

#[test]
fn tls_modes_per_endpoint() {
    let fp = "aa:BB:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99";
    let dir = temp_dir("tls");
    let ca = write(&dir, "ca.pem", "-----BEGIN CERTIFICATE-----\n", 0o644);
    let c = Config::parse(
        &dir.join("config.ini"),
        &format!(
            "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
             proxmox_fingerprint = {fp}\n[A1]\nhost = a\nuser = u\npass = p\nca = ca.pem\n\
             [A2]\nhost = a\nuser = u\npass = p\nfingerprint = sha256:{}\n",
            fp.replace(':', "")
        ),
    )
    .unwrap();
    let mut expected = [0u8; 32];
    for (i, b) in [
        0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
        0x99,
    ]
    .iter()
    .cycle()
    .take(32)
    .enumerate()
    {
        expected[i] = *b;
    }
    assert_eq!(c.proxmox.endpoint.tls, TlsMode::Fingerprint(expected));
    assert_eq!(
        c.storages["A2"].endpoint.tls,
        TlsMode::Fingerprint(expected)
    );
    assert_eq!(c.storages["A1"].endpoint.tls, TlsMode::CaFile(ca));

    for (extra, key, needle) in [
        (
            "fingerprint = AA:BB",
            "fingerprint",
            "not a SHA-256 fingerprint",
        ),
        (
            &*format!("fingerprint = {fp}\nca = /x.pem"),
            "fingerprint",
            "not both",
        ),
        (
            &*format!("fingerprint = {fp}\nverify = false"),
            "verify",
            "contradicts fingerprint",
        ),
        ("ca = missing.pem", "ca", "is not readable"),
        ("verify = maybe", "verify", "not a boolean"),
        ("timeout = 0", "timeout", "not a number of seconds"),
        (
            "connect_timeout = soon",
            "connect_timeout",
            "not a number of seconds",
        ),
    ] {
        let e = Config::parse(
            &dir.join("config.ini"),
            &format!(
                "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
                 [A1]\nhost = a\nuser = u\npass = p\n{extra}\n"
            ),
        )
        .unwrap_err();
        let (section, k, message) = config_error_parts(e);
        assert_eq!(section.as_deref(), Some("A1"), "{extra}");
        assert_eq!(k.as_deref(), Some(key), "{extra}");
        assert!(message.contains(needle), "{extra}: {message}");
    }
}

#[test]
fn fingerprints_parse_in_every_common_form() {
    let colon = "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef";
    let a = parse_fingerprint(colon).unwrap();
    assert_eq!(a[0], 0x01);
    assert_eq!(a[5], 0xab);
    assert_eq!(parse_fingerprint(&colon.replace(':', "")), Some(a));
    assert_eq!(parse_fingerprint(&format!("SHA256:{colon}")), Some(a));
    assert_eq!(parse_fingerprint(&colon[3..]), None);
    assert_eq!(parse_fingerprint(&colon.replace("01:23", "0123")), None);
    assert_eq!(parse_fingerprint(&colon.replace("EF", "EG")), None);
    assert_eq!(parse_fingerprint(&format!("{colon}:00")), None);
}

#[test]
fn timeouts_are_read_per_endpoint() {
    let c = parse(
        "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
         proxmox_connect_timeout = 2.5\nproxmox_timeout = 30\n[A1]\nhost = a\nuser = u\npass = p\nconnect_timeout = 1s\n",
    )
    .unwrap();
    assert_eq!(
        c.proxmox.endpoint.timeouts,
        Timeouts {
            connect: Duration::from_millis(2500),
            request: Duration::from_secs(30)
        }
    );
    assert_eq!(
        c.storages["A1"].endpoint.timeouts,
        Timeouts {
            connect: Duration::from_secs(1),
            request: Timeouts::default().request
        }
    );
}

#[test]
fn hosts_become_base_urls() {
    for (input, port, expected) in [
        ("10.0.0.1", 8006, "https://10.0.0.1:8006"),
        ("10.0.0.1:8443", 8006, "https://10.0.0.1:8443"),
        (
            "https://pve.example.com",
            8006,
            "https://pve.example.com:8006",
        ),
        (
            "HTTPS://pve.example.com:1/",
            8006,
            "https://pve.example.com:1",
        ),
        ("fe80::1", 443, "https://[fe80::1]:443"),
        ("[::1]:8443", 443, "https://[::1]:8443"),
        ("https://[2001:db8::5]", 443, "https://[2001:db8::5]:443"),
        ("https://[2001:db8::5]:9/", 443, "https://[2001:db8::5]:9"),
    ] {
        assert_eq!(parse_host(input, port).as_deref(), Ok(expected), "{input}");
    }
    for (input, needle) in [
        ("http://h", "not supported"),
        ("https://h/api2/json", "contains a path"),
        ("root@h", "user name"),
        ("h:0", "not a port"),
        ("h:99999", "not a port"),
        ("h:", "not a port"),
        ("[::1", "missing ']'"),
        ("[nope]:1", "not an IPv6"),
        ("a:b:c", "not a host name or IPv6"),
        ("", "not a host name"),
        ("h h", "not a host name"),
    ] {
        let e = parse_host(input, 443).unwrap_err();
        assert!(e.contains(needle), "{input}: {e}");
    }
}

#[test]
fn no_config_key_names_a_program_or_a_lock_location() {
    let base = "[DEFAULT]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n";
    let c = Config::parse(Path::new("/srv/test/config.ini"), base).unwrap();
    assert_eq!(c.paths, Paths::detect().unwrap());
    for key in [
        "lock_dir",
        "cluster_lock_dir",
        "qm_path",
        "pct_path",
        "pve_node_marker",
        "qemu_config_lock_dir",
        "lxc_config_lock_dir",
    ] {
        for section in ["[DEFAULT]", "[proxmox]"] {
            let text = format!(
                "{section}\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
                 {key} = /tmp/x\n"
            );
            let e = Config::parse(Path::new("/srv/test/config.ini"), &text).unwrap_err();
            let msg = e.to_string();
            assert_eq!(e.exit_code(), 2, "{msg}");
            assert!(msg.contains(&format!("key '{key}'")), "{msg}");
            assert!(msg.contains("line 5: no longer a config key"), "{msg}");
        }
    }
}

#[test]
fn storage_sections_fall_back_from_clone_storages() {
    let c = parse(
        "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n\
         [ONTAP01]\nhost = a\nuser = u\npass = p\n[ONTAP01-CLONE-2]\nhost = b\nuser = u\npass = p\n",
    )
    .unwrap();
    assert_eq!(c.section_for("ONTAP01").unwrap(), "ONTAP01");
    assert_eq!(c.section_for("ONTAP01-CLONE").unwrap(), "ONTAP01");
    assert_eq!(c.section_for("ONTAP01-CLONE-1").unwrap(), "ONTAP01");
    assert_eq!(c.section_for("ONTAP01-CLONE-2").unwrap(), "ONTAP01-CLONE-2");
    assert_eq!(c.section_for("ONTAP01-CLONE-CLONE").unwrap(), "ONTAP01");
    assert_eq!(
        c.ontap_for("ONTAP01-CLONE").unwrap(),
        c.ontap_for("ONTAP01").unwrap()
    );
    assert_eq!(clone_parent("-CLONE"), None);
    assert_eq!(clone_parent("X-CLONE-"), None);
    assert_eq!(clone_parent("X-CLONEx"), None);

    let e = c.ontap_for("ONTAP09").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let (section, _, message) = config_error_parts(e);
    assert_eq!(section.as_deref(), Some("ONTAP09"));
    assert!(
        message.contains("add [ONTAP09] with host, user and pass"),
        "{message}"
    );
    let (_, _, message) = config_error_parts(c.ontap_for("NFS2-CLONE-3").unwrap_err());
    assert!(
        message.contains("add [NFS2-CLONE-3] or [NFS2]"),
        "{message}"
    );
}

#[test]
fn files_owned_by_another_user_are_refused_with_a_chown_hint() {
    let dir = temp_dir("owner");
    let text = "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n";
    let file = write(&dir, "c.ini", text, 0o600);
    let euid = crate::sys::process::effective_uid().unwrap();
    // Owned by the user running the tool: accepted (root, or a test user).
    assert!(Config::read(&file).is_ok());
    if euid == 0 {
        std::os::unix::fs::chown(&file, Some(4242), None).unwrap();
        let e = Config::read(&file).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let message = e.to_string();
        assert!(
            message.contains("is owned by uid 4242, not by root"),
            "{message}"
        );
        assert!(
            message.contains(&format!("chown root:root {}", file.display())),
            "{message}"
        );
    }
}

#[test]
fn files_readable_by_others_are_refused_with_a_chmod_hint() {
    let dir = temp_dir("mode");
    let text = "[proxmox]\nproxmox_host = h\nproxmox_user = root@pam\nproxmox_pass = x\n";
    for mode in [0o644, 0o640, 0o604, 0o660] {
        let file = write(&dir, "c.ini", text, mode);
        let e = Config::read(&file).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let message = e.to_string();
        assert!(
            message.contains(&format!("chmod 600 {}", file.display())),
            "{message}"
        );
        assert!(message.contains(&format!("mode {mode:04o}")), "{message}");
    }
    let file = write(&dir, "c.ini", text, 0o600);
    assert_eq!(Config::read(&file).unwrap().file, file);
    let file = write(&dir, "c.ini", text, 0o400);
    assert!(Config::read(&file).is_ok());
    let e = Config::read(&dir).unwrap_err();
    assert!(e.to_string().contains("not a regular file"), "{e}");
    std::fs::write(dir.join("bad.ini"), [b'[', 0xff, b']']).unwrap();
    std::fs::set_permissions(dir.join("bad.ini"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = Config::read(&dir.join("bad.ini")).unwrap_err();
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
}

#[test]
fn the_search_order_is_followed_and_a_miss_names_every_place() {
    let dir = temp_dir("search");
    let first = dir.join("first.ini");
    let second = write(&dir, "second.ini", "", 0o600);
    let third = write(&dir, "third.ini", "", 0o600);
    let search = [first.as_path(), second.as_path(), third.as_path()];
    assert_eq!(locate_in(None, None, &search, Caller::Cli).unwrap(), second);
    assert_eq!(
        locate_in(None, Some(third.clone().into()), &search, Caller::Cli).unwrap(),
        third
    );
    assert_eq!(
        locate_in(
            Some(&third),
            Some(second.clone().into()),
            &search,
            Caller::Cli
        )
        .unwrap(),
        third
    );
    // An explicit file (flag or environment) is never replaced by a searched one.
    let e = locate_in(Some(&first), None, &search, Caller::Cli).unwrap_err();
    assert!(e.to_string().contains("given with --config"), "{e}");
    assert_eq!(e.exit_code(), 2);
    let e = locate_in(None, Some(first.clone().into()), &search, Caller::Cli).unwrap_err();
    assert!(
        e.to_string()
            .contains("named by $PVE_ONTAP_SNAPSHOT_CONFIG"),
        "{e}"
    );

    let missing = [first.as_path(), Path::new("/nonexistent/b.ini")];
    let e = locate_in(None, None, &missing, Caller::Cli).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let message = e.to_string();
    assert!(message.contains("--config"), "{message}");
    assert!(message.contains("$PVE_ONTAP_SNAPSHOT_CONFIG"), "{message}");
    assert!(message.contains(&first.display().to_string()), "{message}");
    assert!(message.contains("/nonexistent/b.ini"), "{message}");
}

#[test]
fn an_empty_file_found_first_points_at_a_later_config() {
    let dir = temp_dir("later");
    let template = write(
        &dir,
        "template.ini",
        "# [proxmox]\n# proxmox_host =\n",
        0o600,
    );
    let missing = dir.join("missing.ini");
    let original = write(&dir, "config.ini", "", 0o600);
    let e = Config::read(&template).unwrap_err();
    assert!(e.to_string().ends_with("has no settings (only comments?); fill in [proxmox] (or [DEFAULT]) and one section per Proxmox storage"), "{e}");
    let search = [template.as_path(), missing.as_path(), original.as_path()];
    let e = mention_later_candidates(e, &template, &search);
    assert_eq!(e.exit_code(), 2);
    assert!(
        e.to_string().ends_with(&format!(
            "(also found {0}, later in the search order; pass --config {0} to use it)",
            original.display()
        )),
        "{e}"
    );
    // Nothing later: the error stays as it was.
    let e = mention_later_candidates(Config::read(&template).unwrap_err(), &original, &search);
    assert!(!e.to_string().contains("also found"), "{e}");
}

#[test]
fn the_default_search_list_ends_with_the_original_location() {
    assert_eq!(
        crate::sys::paths::CONFIG_SEARCH,
        &[
            "/etc/pve/priv/pve-ontap-snapshot.ini",
            "/etc/pve-ontap-snapshot/config.ini",
            "./config.ini"
        ]
    );
}

#[test]
fn hooks_find_their_config_without_cwd() {
    let dir = temp_dir("hook-search");
    let file = dir.join("c.ini");
    std::fs::write(&file, "").unwrap();
    let explicit = dir.join("where.ini");
    std::fs::write(&explicit, "").unwrap();
    let from_env = dir.join("env.ini");
    std::fs::write(&from_env, "").unwrap();
    let env = Some(std::ffi::OsString::from(&from_env));
    let search = [file.as_path()];
    assert_eq!(
        locate_in(Some(&explicit), env.clone(), &search, Caller::Hook).unwrap(),
        explicit
    );
    assert_eq!(
        locate_in(None, env, &search, Caller::Hook).unwrap(),
        from_env
    );
    let nonexistent = Path::new("/nonexistent.ini");
    assert_eq!(
        locate_in(None, Some("".into()), &[nonexistent, &file], Caller::Hook).unwrap(),
        file
    );
    // A relative entry is never used, even when the file exists there.
    let rel = std::env::current_dir().unwrap().join("Cargo.toml");
    assert!(rel.is_file());
    let e = locate_in(
        None,
        None,
        &[nonexistent, Path::new("Cargo.toml")],
        Caller::Hook,
    )
    .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(msg.contains("/nonexistent.ini"), "{msg}");
    assert!(!msg.contains("Cargo.toml"), "{msg}");
    // The command line does read the relative place.
    let found = locate_in(
        None,
        None,
        &[nonexistent, Path::new("Cargo.toml")],
        Caller::Cli,
    );
    assert_eq!(found.unwrap(), Path::new("Cargo.toml"));
}
