//! Property tests (proptest, 256 cases per property) of the parsers reachable from outside the
//! crate: the config file, the argv shapes of the CLI, hookscript and vzdump hook, disk strings.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use proptest::prelude::*;
use pve_ontap_snapshot::cli::{prepare_args, Cli, Command, VZDUMP_PHASES};
use pve_ontap_snapshot::config::Config;
use pve_ontap_snapshot::http::TlsMode;
use pve_ontap_snapshot::pve;

const FILE: &str = "/etc/pve-ontap-snapshot/config.ini";

/// A value as the config keeps it: visible characters at both ends (surrounding whitespace is
/// not part of a value), anything printable inside, often the characters INI dialects treat
/// specially.
fn value() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "\\", "\"", "#", ";", "=", ":", "'", "[", "]", "%", "$", "`", "!", "ü", "密",
    ]);
    let piece = prop_oneof![
        2 => "[ -~]{1,6}",
        1 => special.prop_map(str::to_string),
        1 => "[\u{a1}-\u{167f}]{1,3}",
    ];
    prop::collection::vec(piece, 1..8)
        .prop_map(|parts| parts.concat())
        .prop_map(|v| v.trim().to_string())
        .prop_filter("a visible value", |v| !v.is_empty())
}

/// A user name with a realm (`root@pam`).
fn pve_user() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._-]{0,10}@(pam|pve|[a-z][a-z0-9]{1,8})"
}

/// A host name or IPv4 address.
fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,15}(\\.[a-z]{2,6}){0,2}",
        (1u8..=254, any::<u8>(), any::<u8>(), 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
    ]
}

/// How a host is written and the base URL it means.
fn endpoint(default_port: u16) -> impl Strategy<Value = (String, String)> {
    (host(), proptest::option::of(1u16..=65535), 0..3).prop_map(move |(h, port, form)| {
        let p = port.unwrap_or(default_port);
        let written = match (form, port) {
            (0, None) => h.clone(),
            (0 | 1, Some(p)) => format!("{h}:{p}"),
            (1, None) => format!("https://{h}"),
            (_, Some(p)) => format!("https://{h}:{p}/"),
            (_, None) => format!("HTTPS://{h}"),
        };
        (written, format!("https://{h}:{p}"))
    })
}

/// The ways a key may be written (keys are case-insensitive) with a separator.
fn key_line(key: &str, value: &str, style: u8) -> String {
    let key = if style & 1 == 1 {
        key.to_ascii_uppercase()
    } else {
        key.to_string()
    };
    match style % 3 {
        0 => format!("{key} = {value}\n"),
        1 => format!("{key}={value}\n"),
        _ => format!("  {key}:   {value}  \n"),
    }
}

#[derive(Debug, Clone)]
enum Tls {
    Default,
    Verify(bool, String),
    Fingerprint([u8; 32], u8),
}

fn tls() -> impl Strategy<Value = Tls> {
    prop_oneof![
        Just(Tls::Default),
        (
            any::<bool>(),
            prop::sample::select(vec![0usize, 1, 2, 3, 4, 5])
        )
            .prop_map(|(b, i)| {
                let spelled = if b {
                    ["true", "yes", "1", "on", "True", "YES"][i]
                } else {
                    ["false", "no", "0", "off", "False", "NO"][i]
                };
                Tls::Verify(b, spelled.to_string())
            }),
        (any::<[u8; 32]>(), any::<u8>()).prop_map(|(fp, style)| Tls::Fingerprint(fp, style)),
    ]
}

fn tls_lines(prefix: &str, tls: &Tls, style: u8) -> String {
    match tls {
        Tls::Default => String::new(),
        Tls::Verify(_, spelled) => key_line(&format!("{prefix}verify"), spelled, style),
        Tls::Fingerprint(fp, form) => {
            let hex: Vec<String> = fp.iter().map(|b| format!("{b:02X}")).collect();
            let text = match form % 4 {
                0 => hex.join(":"),
                1 => hex.join(":").to_ascii_lowercase(),
                2 => hex.concat(),
                _ => format!("sha256:{}", hex.concat().to_ascii_lowercase()),
            };
            key_line(&format!("{prefix}fingerprint"), &text, style)
        }
    }
}

fn tls_mode(tls: &Tls) -> TlsMode {
    match tls {
        Tls::Default | Tls::Verify(true, _) => TlsMode::Verify,
        Tls::Verify(false, _) => TlsMode::Insecure,
        Tls::Fingerprint(fp, _) => TlsMode::Fingerprint(*fp),
    }
}

#[derive(Debug, Clone)]
struct Storage {
    id: String,
    host: (String, String),
    user: String,
    pass: String,
    tls: Tls,
    timeout: Option<u32>,
}

fn storage_id() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,12}[a-zA-Z0-9]".prop_filter("not a reserved section name", |id| {
        !["DEFAULT", "proxmox", "hook", "vzdump"].contains(&id.as_str())
    })
}

fn storage() -> impl Strategy<Value = Storage> {
    (
        storage_id(),
        endpoint(443),
        value(),
        value(),
        tls(),
        proptest::option::of(1u32..=86400),
    )
        .prop_map(|(id, host, user, pass, tls, timeout)| Storage {
            id,
            host,
            user,
            pass,
            tls,
            timeout,
        })
}

#[derive(Debug, Clone)]
struct Generated {
    default_section: bool,
    host: (String, String),
    /// (user, password) or (token id, secret).
    auth: (String, String),
    token: bool,
    tls: Tls,
    timeout: Option<u32>,
    storages: Vec<Storage>,
    style: u8,
}

fn generated() -> impl Strategy<Value = Generated> {
    let token = (pve_user(), "[A-Za-z0-9_-]{1,12}", value())
        .prop_map(|(user, id, secret)| (format!("{user}!{id}"), secret, true));
    let password = (pve_user(), value()).prop_map(|(user, pass)| (user, pass, false));
    (
        any::<bool>(),
        endpoint(8006),
        prop_oneof![token, password],
        tls(),
        proptest::option::of(1u32..=86400),
        prop::collection::vec(storage(), 0..4),
        any::<u8>(),
    )
        .prop_map(
            |(default_section, host, (a, b, token), tls, timeout, storages, style)| Generated {
                default_section,
                host,
                auth: (a, b),
                token,
                tls,
                timeout,
                storages,
                style,
            },
        )
        .prop_filter("distinct storage ids", |g| {
            let mut ids: Vec<&str> = g.storages.iter().map(|s| s.id.as_str()).collect();
            ids.sort_unstable();
            ids.windows(2).all(|w| w[0] != w[1])
        })
}

fn render(g: &Generated) -> String {
    let s = g.style;
    let mut text = String::from("# generated\n");
    text.push_str(if g.default_section {
        "[DEFAULT]\n"
    } else {
        "[proxmox]\n"
    });
    text.push_str(&key_line("proxmox_host", &g.host.0, s));
    if g.token {
        text.push_str(&key_line(
            "proxmox_token",
            &format!("{}={}", g.auth.0, g.auth.1),
            s.rotate_left(1),
        ));
    } else {
        text.push_str(&key_line("proxmox_user", &g.auth.0, s.rotate_left(2)));
        text.push_str(&key_line("proxmox_pass", &g.auth.1, s.rotate_left(3)));
    }
    text.push_str(&tls_lines("proxmox_", &g.tls, s));
    if let Some(t) = g.timeout {
        text.push_str(&key_line("proxmox_timeout", &t.to_string(), s));
    }
    for st in &g.storages {
        text.push_str(&format!("\n; the cluster behind {}\n[{}]\n", st.id, st.id));
        text.push_str(&key_line("host", &st.host.0, s.rotate_left(4)));
        text.push_str(&key_line("user", &st.user, s.rotate_left(5)));
        text.push_str(&key_line("pass", &st.pass, s.rotate_left(6)));
        text.push_str(&tls_lines("", &st.tls, s.rotate_left(7)));
        if let Some(t) = st.timeout {
            text.push_str(&key_line("timeout", &format!("{t}s"), s));
        }
    }
    text
}

/// Lines that look like config: headers, known keys with odd values, comments, garbage.
fn ini_like() -> impl Strategy<Value = String> {
    let section = prop_oneof![
        prop::sample::select(vec![
            "DEFAULT",
            "proxmox",
            "ONTAP01",
            "hook",
            "hook:100",
            "vzdump",
            "vzdump:101",
            "schedule:nightly",
            "a.b",
            "",
            " ",
            "x:",
            "[",
            "]",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ]
    .prop_map(|s| format!("[{s}]"));
    let key = prop_oneof![
        prop::sample::select(vec![
            "proxmox_host",
            "proxmox_user",
            "proxmox_pass",
            "proxmox_token",
            "proxmox_verify",
            "proxmox_fingerprint",
            "proxmox_ca",
            "proxmox_timeout",
            "proxmox_connect_timeout",
            "lock_dir",
            "host",
            "user",
            "pass",
            "verify",
            "fingerprint",
            "ca",
            "timeout",
            "post-stop",
            "pre-start",
            "backup-start",
            "job-start",
            "keep",
            "label",
            "freeze",
            "on-error",
            "timeout",
            "storages",
            "guests",
            "keep-within",
            "post-stop.keep",
        ])
        .prop_map(str::to_string),
        "[a-z_.:-]{0,12}",
    ];
    let val = prop_oneof![
        prop::sample::select(vec![
            "",
            "0",
            "-1",
            "1e9",
            "NaN",
            "inf",
            "86401",
            "0.0001",
            "true",
            "maybe",
            "storage-snapshot",
            "vm-snapshot",
            "none",
            "abort",
            "continue",
            "127.0.0.1:0",
            "https://",
            "https://[::1]:8006",
            "ftp://x",
            "root@pam!t=s",
            "AA:BB",
            "30d",
            "1d12h",
            "99999999999999999999d",
            "ONTAP01, ONTAP02",
            "sha256:",
            "@",
            "!=",
        ])
        .prop_map(str::to_string),
        any::<String>(),
    ];
    let line = prop_oneof![
        3 => (key, prop::sample::select(vec![" = ", "=", ": ", ":"]), val)
            .prop_map(|(k, sep, v)| format!("{k}{sep}{v}")),
        1 => section,
        1 => any::<String>().prop_map(|s| format!("# {s}")),
        1 => any::<String>(),
    ];
    prop::collection::vec(line, 0..24).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn config_text_never_panics(text in any::<String>()) {
        if let Err(e) = Config::parse(Path::new(FILE), &text) {
            prop_assert!(e.to_string().contains(FILE), "{}", e);
        }
    }

    #[test]
    fn config_like_text_never_panics(text in ini_like()) {
        if let Err(e) = Config::parse(Path::new(FILE), &text) {
            prop_assert!(e.to_string().contains(FILE), "{}", e);
            prop_assert!(e.exit_code() == 2);
        }
    }

    #[test]
    fn valid_configs_round_trip_literally(g in generated()) {
        let text = render(&g);
        let config = Config::parse(Path::new(FILE), &text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n--- config\n{text}")))?;
        prop_assert_eq!(&config.proxmox.endpoint.base_url, &g.host.1);
        prop_assert_eq!(&config.proxmox.endpoint.tls, &tls_mode(&g.tls));
        if let Some(t) = g.timeout {
            prop_assert_eq!(config.proxmox.endpoint.timeouts.request, Duration::from_secs(t.into()));
        }
        match &config.proxmox.auth {
            pve::Login::Password { user, password } => {
                prop_assert!(!g.token);
                prop_assert_eq!(user, &g.auth.0);
                prop_assert_eq!(password.expose(), g.auth.1.as_str());
            }
            pve::Login::Token { token_id, secret } => {
                prop_assert!(g.token);
                prop_assert_eq!(token_id, &g.auth.0);
                prop_assert_eq!(secret.expose(), g.auth.1.as_str());
            }
        }
        prop_assert_eq!(config.storages.len(), g.storages.len());
        for st in &g.storages {
            let ontap = &config.storages[&st.id];
            prop_assert_eq!(config.section_for(&st.id).unwrap(), st.id.as_str());
            prop_assert_eq!(&ontap.endpoint.base_url, &st.host.1);
            prop_assert_eq!(&ontap.endpoint.tls, &tls_mode(&st.tls));
            prop_assert_eq!(&ontap.user, &st.user);
            prop_assert_eq!(ontap.password.expose(), st.pass.as_str());
            if let Some(t) = st.timeout {
                prop_assert_eq!(ontap.endpoint.timeouts.request, Duration::from_secs(t.into()));
            }
            let shown = format!("{:?}", ontap.password);
            prop_assert_eq!(shown.as_str(), "<redacted>");
        }
    }

    #[test]
    fn any_argv_is_parsed_or_refused_without_panic(
        args in prop::collection::vec(
            prop_oneof![
                3 => prop::sample::select(vec![
                    "storage", "vm", "create", "list", "restore", "mount", "hook", "vzdump", "run",
                    "-vm", "-storage", "-snapshot", "-config", "-loglevel", "-suspend", "--",
                    "--vm", "--storage=x", "-storage=ONTAP01", "100", "post-stop", "job-start",
                    "backup-start", "snapshot", "--output", "json", "--log-level", "-loglevel=DEBUG",
                ]).prop_map(OsString::from),
                1 => any::<String>().prop_map(OsString::from),
                1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(OsString::from_vec),
            ],
            0..7,
        ),
        argv0 in prop::sample::select(vec![
            "/usr/bin/pve-ontap-snapshot", "/var/lib/vz/snippets/pve-ontap-snapshot-hook",
            "/usr/share/pve-ontap-snapshot/pve-ontap-snapshot-vzdump", "x",
        ]),
        terminal in any::<bool>(),
    ) {
        let mut argv = vec![OsString::from(argv0)];
        argv.extend(args);
        let prepared = prepare_args(argv.clone(), terminal);
        prop_assert_eq!(&prepared[0], &argv[0]);
        let _ = Cli::try_parse_from(prepared);
    }

    #[test]
    fn hookscript_argv_round_trips(
        vmid in 100u32..=999_999_999,
        phase in prop_oneof![
            prop::sample::select(vec!["pre-start", "post-start", "pre-stop", "post-stop"]).prop_map(str::to_string),
            "[a-z][a-z-]{0,15}",
        ],
        argv0 in prop::sample::select(vec![
            "/var/lib/vz/snippets/pve-ontap-snapshot", "/usr/bin/pve-ontap-snapshot",
            "/mnt/pve/cephfs/snippets/pve-ontap-snapshot-hook",
        ]),
        terminal in any::<bool>(),
    ) {
        let argv: Vec<OsString> = vec![argv0.into(), vmid.to_string().into(), phase.clone().into()];
        let cli = Cli::try_parse_from(prepare_args(argv, terminal))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        match cli.command {
            Command::Hook { vmid: v, phase: p } => {
                prop_assert_eq!(v, vmid);
                prop_assert_eq!(p, phase);
            }
            other => prop_assert!(false, "parsed as {:?}", other),
        }
    }

    #[test]
    fn vzdump_argv_round_trips(
        phase in prop::sample::select(VZDUMP_PHASES.to_vec()),
        guest in proptest::option::of((
            prop::sample::select(vec!["stop", "suspend", "snapshot"]),
            100u32..=999_999_999,
        )),
        argv0 in prop::sample::select(vec![
            "/usr/share/pve-ontap-snapshot/pve-ontap-snapshot-vzdump", "/usr/bin/pve-ontap-snapshot",
        ]),
    ) {
        let mut argv: Vec<OsString> = vec![argv0.into(), phase.into()];
        if let Some((mode, vmid)) = guest {
            argv.push(mode.into());
            argv.push(vmid.to_string().into());
        }
        // vzdump runs hook scripts with stdin that is not a terminal.
        let cli = Cli::try_parse_from(prepare_args(argv, false))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        match cli.command {
            Command::Vzdump { phase: p, mode, vmid } => {
                prop_assert_eq!(p, phase);
                prop_assert_eq!(mode.as_deref(), guest.map(|g| g.0));
                prop_assert_eq!(vmid, guest.map(|g| g.1));
            }
            other => prop_assert!(false, "parsed as {:?}", other),
        }
    }

    #[test]
    fn original_option_spellings_mean_the_same(
        vmid in 100u32..=999_999,
        storage in storage_id(),
        snapshot in "[a-z0-9_][a-z0-9_:+-]{0,29}",
        equals in any::<bool>(),
    ) {
        let opt = |name: &str, value: &str| -> Vec<OsString> {
            if equals {
                vec![format!("-{name}={value}").into()]
            } else {
                vec![format!("-{name}").into(), value.into()]
            }
        };
        let mut argv: Vec<OsString> = vec!["pve-ontap-snapshot".into(), "vm".into(), "create".into()];
        argv.extend(opt("vm", &vmid.to_string()));
        argv.push("-suspend".into());
        argv.extend(opt("config", "/tmp/c.ini"));
        let cli = Cli::try_parse_from(prepare_args(argv, true)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(cli.config.as_deref(), Some(Path::new("/tmp/c.ini")));
        let shown = format!("{:?}", cli.command);
        let wanted = format!("vm: {vmid}");
        prop_assert!(shown.contains(&wanted), "{}", shown);
        let mut argv: Vec<OsString> = vec!["pve-ontap-snapshot".into(), "storage".into(), "delete".into()];
        argv.extend(opt("storage", &storage));
        argv.extend(opt("snapshot", &snapshot));
        let cli = Cli::try_parse_from(prepare_args(argv, true)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let shown = format!("{:?}", cli.command);
        prop_assert!(shown.contains(&format!("{storage:?}")), "{}", shown);
        prop_assert!(shown.contains(&format!("{snapshot:?}")), "{}", shown);
    }
}

mod disks {
    //! Proxmox disk property strings and volume ids (`ops::disks`).

    use proptest::prelude::*;
    use pve_ontap_snapshot::ops::disks::{
        guest_disks, is_cloudinit, is_disk_key, PropertyString, VolumeId,
    };
    use pve_ontap_snapshot::pve::{GuestConfig, GuestType};

    fn storage_id() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9._-]{0,14}[a-zA-Z0-9]"
    }

    /// A file name Proxmox can reference.
    fn file_name() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_+-][a-zA-Z0-9_.+-]{0,30}"
    }

    /// An element of a property string: no comma, no surrounding whitespace.
    fn element() -> impl Strategy<Value = String> {
        "[!-+\\--~]([ !-+\\--~]{0,12}[!-+\\--~])?"
    }

    fn key() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9_-]{0,10}".prop_filter("not file or volume", |k| k != "file" && k != "volume")
    }

    fn disk_key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "scsi0",
                "scsi30",
                "virtio0",
                "virtio15",
                "sata5",
                "ide0",
                "ide2",
                "ide3",
                "efidisk0",
                "tpmstate0",
                "rootfs",
                "mp0",
                "mp255",
                "unused0",
                "unused255",
                "scsi31",
                "scsi01",
                "mp256",
                "net0",
                "name",
                "vmstate",
                "cdrom",
            ])
            .prop_map(str::to_string),
            "[a-z]{1,8}[0-9]{0,3}",
        ]
    }

    fn disk_value() -> impl Strategy<Value = String> {
        let file = prop_oneof![
            (storage_id(), 100u32..1000, file_name())
                .prop_map(|(s, vmid, f)| format!("{s}:{vmid}/{f}")),
            (storage_id(), 100u32..1000).prop_map(|(s, vmid)| format!("{s}:vm-{vmid}-cloudinit")),
            prop::sample::select(vec![
                "none",
                "cdrom",
                "/dev/sdb",
                "/mnt/data",
                "local:iso/x.iso"
            ])
            .prop_map(str::to_string),
            any::<String>(),
        ];
        let props = prop::collection::vec(
            prop_oneof![
                Just("media=cdrom".to_string()),
                Just("size=32G".to_string()),
                (key(), element()).prop_map(|(k, v)| format!("{k}={v}")),
                any::<String>(),
            ],
            0..4,
        );
        (file, props, any::<bool>()).prop_map(|(file, props, explicit)| {
            let mut parts = vec![if explicit {
                format!("file={file}")
            } else {
                file
            }];
            parts.extend(props);
            parts.join(",")
        })
    }

    proptest! {
        #[test]
        fn property_strings_round_trip(
            file in proptest::option::of(element().prop_filter("no =", |e| !e.contains('='))),
            props in prop::collection::vec((key(), element()), 0..6),
            explicit in any::<bool>(),
        ) {
            let mut parts = Vec::new();
            if let Some(f) = &file {
                parts.push(if explicit { format!("volume={f}") } else { f.clone() });
            }
            parts.extend(props.iter().map(|(k, v)| format!("{k}={v}")));
            let parsed = PropertyString::parse(&parts.join(","));
            prop_assert_eq!(&parsed.file, &file);
            prop_assert_eq!(&parsed.props, &props);
            for (k, _) in &props {
                let last = props.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
                prop_assert_eq!(parsed.get(k), last);
            }
        }

        #[test]
        fn any_text_parses_without_panic(text in any::<String>()) {
            let p = PropertyString::parse(&text);
            let _ = (p.is_cdrom(), p.get("size"));
            if let Some(v) = VolumeId::parse(&text) {
                prop_assert_eq!(v.to_string(), text);
                let _ = v.image_file();
            }
        }

        #[test]
        fn volume_ids_round_trip(
            storage in storage_id(),
            owner in 100u32..=999_999_999,
            file in file_name().prop_filter("not a dot-file", |f| !f.starts_with('.')),
            base in proptest::option::of((100u32..=999_999, file_name().prop_filter("not a dot-file", |f| !f.starts_with('.')))),
        ) {
            let volname = match &base {
                Some((b, bf)) => format!("{b}/{bf}/{owner}/{file}"),
                None => format!("{owner}/{file}"),
            };
            let text = format!("{storage}:{volname}");
            let v = VolumeId::parse(&text).ok_or_else(|| TestCaseError::fail(text.clone()))?;
            prop_assert_eq!(&v.storage, &storage);
            prop_assert_eq!(&v.volname, &volname);
            prop_assert_eq!(v.to_string(), text);
            let image = v.image_file().ok_or_else(|| TestCaseError::fail(volname.clone()))?;
            prop_assert_eq!(image.owner, owner);
            prop_assert_eq!(image.file, file);
        }

        #[test]
        fn guest_configs_give_only_snapshottable_disks(
            entries in prop::collection::btree_map(disk_key(), disk_value(), 0..12),
            lxc in any::<bool>(),
        ) {
            let guest_type = if lxc { GuestType::Lxc } else { GuestType::Qemu };
            let config: GuestConfig = entries.clone();
            let found = guest_disks(guest_type, &config);
            for d in &found.disks {
                prop_assert!(is_disk_key(guest_type, &d.key), "{}", d.key);
                let p = PropertyString::parse(&entries[&d.key]);
                prop_assert!(!p.is_cdrom());
                let file = p.file.unwrap_or_default();
                prop_assert!(!is_cloudinit(&file), "{}", file);
                prop_assert_eq!(d.volume.to_string(), file);
            }
            for d in &found.unused {
                prop_assert!(d.key.starts_with("unused"));
            }
            let all = found.disks.len() + found.unused.len() + found.unsupported.len();
            prop_assert!(all <= entries.len());
        }
    }
}

mod hook_env {
    //! The hook entry points with arbitrary environments (vzdump's variables, Proxmox's
    //! `PVE_MIGRATED_FROM`), through the binary: 64 cases each, as every case is a process.

    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    use proptest::prelude::*;

    use crate::util::{run_command, TestEnv, RUN_TIMEOUT};

    /// Any value, also bytes that are not UTF-8.
    fn value() -> impl Strategy<Value = OsString> {
        prop_oneof![
            any::<String>().prop_map(OsString::from),
            "[ -~]{0,40}".prop_map(OsString::from),
            prop::collection::vec(1u8..=255, 0..24).prop_map(OsString::from_vec),
        ]
    }

    fn vzdump_env() -> impl Strategy<Value = Vec<(&'static str, OsString)>> {
        let names = [
            "STOREID", "DUMPDIR", "VMTYPE", "HOSTNAME", "TARGET", "LOGFILE",
        ];
        prop::collection::vec(proptest::option::of(value()), 6).prop_map(move |values| {
            names
                .iter()
                .zip(values)
                .filter_map(|(n, v)| v.map(|v| (*n, v)))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn phases_without_action_take_any_environment(
            env in vzdump_env(),
            migrated_from in proptest::option::of(value()),
            call in prop::sample::select(vec![
                vec!["vzdump", "job-start"],
                vec!["vzdump", "backup-start", "snapshot", "100"],
                vec!["vzdump", "log-end", "stop", "200"],
                vec!["hook", "101", "pre-start"],
                vec!["hook", "200", "post-stop"],
            ]),
        ) {
            let test = TestEnv::new();
            let mut cmd = test.command(&call);
            cmd.env_clear()
                .envs(env.iter().map(|(k, v)| (k, v)))
                .env(crate::util::TEST_ROOT_ENV, test.dir());
            if let Some(from) = &migrated_from {
                cmd.env("PVE_MIGRATED_FROM", from);
            }
            cmd.env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none");
            let out = run_command(cmd, None, RUN_TIMEOUT);
            prop_assert_eq!(out.code, 0, "{}", out.stderr);
            prop_assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
            // No policy, no action: the fast path never touches the network.
            prop_assert_eq!(test.requests().len(), 0);
        }
    }
}
