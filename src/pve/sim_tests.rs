//! The Proxmox VE client against the simulator over real HTTPS: every trait method, ticket + CSRF
//! and token auth, ticket renewal on a 401, task failures and bounds, errors with reason and body.

use std::time::Duration;

use pve_ontap_sim::{Api, FaultRule, RequestLogEntry, Scenario, Sim, SimOptions};

use super::{GuestType, NewNfsStorage, Pve, PveClient};
use crate::config::parse_fingerprint;
use crate::error::Error;
use crate::http::{Endpoint, Timeouts, TlsMode};
use crate::pve;
use crate::secret::Secret;

const PASSWORD: &str = "Pve-Pa55;#\"\\=x";
const TOKEN_ID: &str = "root@pam!snap";
const TOKEN_SECRET: &str = "5ec2e7a0-6d1c-4d5e-9a55-0b5e1e7f2c11";
const WAIT: Duration = Duration::from_secs(10);

fn sim() -> Sim {
    Sim::start(SimOptions::default()).unwrap()
}

fn sim_with(pve: serde_json::Value) -> Sim {
    let scenario: Scenario = serde_json::from_value(serde_json::json!({ "pve": pve })).unwrap();
    Sim::start(SimOptions {
        scenario,
        ..SimOptions::default()
    })
    .unwrap()
}

fn config(sim: &Sim, auth: pve::Login) -> pve::Connection {
    pve::Connection {
        endpoint: Endpoint {
            base_url: sim.pve_url().to_string(),
            tls: TlsMode::Fingerprint(parse_fingerprint(sim.pve_fingerprint()).unwrap()),
            timeouts: Timeouts {
                connect: Duration::from_secs(2),
                request: Duration::from_secs(20),
            },
        },
        auth,
    }
}

fn password_client(sim: &Sim, password: &str) -> PveClient {
    PveClient::new(&config(
        sim,
        pve::Login::Password {
            user: "root@pam".into(),
            password: Secret::new(password),
        },
    ))
    .unwrap()
}

fn token_client(sim: &Sim) -> PveClient {
    PveClient::new(&config(
        sim,
        pve::Login::Token {
            token_id: TOKEN_ID.into(),
            secret: Secret::new(TOKEN_SECRET),
        },
    ))
    .unwrap()
}

fn pve_log(sim: &Sim) -> Vec<RequestLogEntry> {
    sim.requests()
        .into_iter()
        .filter(|r| r.api == Api::Pve)
        .collect()
}

fn logins(sim: &Sim) -> usize {
    pve_log(sim)
        .iter()
        .filter(|r| r.path == "/api2/json/access/ticket")
        .count()
}

/// Every read call, the same way for both kinds of auth.
fn reads(c: &PveClient) {
    assert_eq!(c.version().unwrap(), "9.1.2");

    let s = c.storage("ONTAP02").unwrap();
    assert_eq!(s.storage_type, "nfs");
    assert_eq!(s.server.as_deref(), Some("127.0.10.1"));
    assert_eq!(s.export.as_deref(), Some("/vmstore2"));
    assert_eq!(s.options.as_deref(), Some("vers=3"));
    assert!(!s.disable);
    assert!(matches!(c.storage("NOPE"), Err(Error::NotFound { .. })));
    let all = c.storages().unwrap();
    for id in ["local", "local-lvm", "ONTAP01", "ONTAP02", "ONTAP03"] {
        assert!(all.iter().any(|s| s.storage == id), "{id}: {all:?}");
    }

    let guests = c.guests().unwrap();
    let ids: Vec<u32> = guests.iter().map(|g| g.vmid).collect();
    assert_eq!(ids, [100, 101, 102, 103, 104, 105, 200]);
    let ct = c.guest(200).unwrap();
    assert_eq!((ct.guest_type, ct.node.as_str()), (GuestType::Lxc, "pve2"));
    assert!(matches!(c.guest(999), Err(Error::NotFound { .. })));

    let web = c.guest(100).unwrap();
    let config = c.guest_config(&web).unwrap();
    assert_eq!(
        config.get("scsi0").map(String::as_str),
        Some("ONTAP01:100/vm-100-disk-0.qcow2,iothread=1,size=32G")
    );
    assert_eq!(config.get("memory").map(String::as_str), Some("4096"));
    let status = c.guest_status(&web).unwrap();
    assert!(status.is_running());
    assert!(status.agent);
    let ct_config = c.guest_config(&ct).unwrap();
    assert_eq!(ct_config.get("hostname").map(String::as_str), Some("ct01"));
}

#[test]
fn ticket_auth_logs_in_once_and_sends_csrf_on_writes() {
    let sim = sim();
    let c = password_client(&sim, PASSWORD);
    // Nothing is sent before the first call.
    assert_eq!(logins(&sim), 0);
    reads(&c);

    // Writes need the CSRF token: storage create and delete.
    c.create_nfs_storage(&NewNfsStorage {
        storage: "ONTAP01-CLONE".into(),
        server: "127.0.10.1".into(),
        export: "/ONTAP01".into(),
        content: Some("images,rootdir".into()),
        options: Some("vers=4.2,nconnect=16".into()),
        nodes: None,
        more: [
            ("prune-backups", "keep-last=3"),
            ("preallocation", "metadata"),
            ("content-dirs", "images=img"),
            ("create-subdirs", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    })
    .unwrap();
    let created = c.storage("ONTAP01-CLONE").unwrap();
    assert_eq!(created.export.as_deref(), Some("/ONTAP01"));
    // The further options come back as sent.
    assert_eq!(created.clone_options["prune-backups"], "keep-last=3");
    assert_eq!(created.clone_options["preallocation"], "metadata");
    assert_eq!(created.clone_options["content-dirs"], "images=img");
    assert_eq!(created.clone_options["create-subdirs"], "0");
    assert_eq!(created.options.as_deref(), Some("vers=4.2,nconnect=16"));
    assert_eq!(created.content.as_deref(), Some("images,rootdir"));
    c.delete_storage("ONTAP01-CLONE").unwrap();
    assert!(matches!(
        c.storage("ONTAP01-CLONE"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        c.delete_storage("ONTAP01-CLONE"),
        Err(Error::NotFound { .. })
    ));

    assert_eq!(logins(&sim), 1);
    assert!(pve_log(&sim).iter().all(|r| r.status != 401));
}

#[test]
fn token_auth_needs_no_login() {
    let sim = sim();
    let c = token_client(&sim);
    reads(&c);
    let web = c.guest(100).unwrap();
    c.agent_ping(&web).unwrap();
    assert_eq!(logins(&sim), 0);
}

#[test]
fn a_401_renews_the_ticket_once() {
    let sim = sim();
    let c = password_client(&sim, PASSWORD);
    c.version().unwrap();
    sim.add_fault(
        FaultRule::new("GET", "/api2/json/version")
            .status(401)
            .reason("invalid PVE ticket"),
    );
    assert_eq!(c.version().unwrap(), "9.1.2");
    assert_eq!(logins(&sim), 2);
}

#[test]
fn a_wrong_password_is_a_clear_error_without_the_secret() {
    let sim = sim();
    let c = password_client(&sim, "wrong-Pa55");
    let e = c.version().unwrap_err();
    let text = e.to_string();
    assert!(text.contains("log in to Proxmox VE as root@pam"), "{text}");
    assert!(text.contains("HTTP 401"), "{text}");
    assert!(text.contains("proxmox_pass"), "{text}");
    assert!(!text.contains("wrong-Pa55") && !format!("{e:?}").contains("wrong-Pa55"));
    // The login failed once; the client did not hammer the server.
    assert_eq!(logins(&sim), 1);
}

#[test]
fn errors_carry_the_status_line_and_the_body_message() {
    let sim = sim();
    let c = token_client(&sim);
    // Guest 104 has the agent configured, but it does not answer.
    let noagent = c.guest(104).unwrap();
    let e = c.fsfreeze_freeze(&noagent).unwrap_err();
    let api = e.api().unwrap();
    assert_eq!(api.status, 500);
    assert!(api.message.contains("guest agent"), "{}", api.message);
    assert!(
        api.path
            .ends_with("/nodes/pve1/qemu/104/agent/fsfreeze-freeze"),
        "{}",
        api.path
    );
    // A bad parameter: 400 with the per-parameter errors.
    let e = c
        .create_nfs_storage(&NewNfsStorage {
            storage: "bad id!".into(),
            server: "127.0.10.1".into(),
            export: "/ONTAP01".into(),
            content: None,
            options: None,
            nodes: None,
            more: Default::default(),
        })
        .unwrap_err();
    let api = e.api().unwrap();
    assert_eq!(api.status, 400, "{e}");
    assert!(
        api.message.starts_with("Parameter verification failed."),
        "{}",
        api.message
    );
    assert!(api.message.contains("(storage: "), "{}", api.message);
    // A duplicate storage: the server's message.
    let e = c
        .create_nfs_storage(&NewNfsStorage {
            storage: "ONTAP01".into(),
            server: "127.0.10.1".into(),
            export: "/ONTAP01".into(),
            content: None,
            options: None,
            nodes: None,
            more: Default::default(),
        })
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("storage ID 'ONTAP01' already defined"),
        "{e}"
    );
    // The guest agent is a QEMU feature.
    let ct = c.guest(200).unwrap();
    assert!(matches!(c.fsfreeze_status(&ct), Err(Error::Refused(_))));
}

#[test]
fn the_guest_agent_freezes_and_thaws() {
    let sim = sim();
    let c = password_client(&sim, PASSWORD);
    let web = c.guest(100).unwrap();
    c.agent_ping(&web).unwrap();
    assert_eq!(c.fsfreeze_status(&web).unwrap(), "thawed");
    let frozen = c.fsfreeze_freeze(&web).unwrap();
    assert!(frozen > 0);
    assert_eq!(c.fsfreeze_status(&web).unwrap(), "frozen");
    assert_eq!(c.fsfreeze_thaw(&web).unwrap(), frozen);
    assert_eq!(c.fsfreeze_status(&web).unwrap(), "thawed");
}

#[test]
fn a_container_suspend_without_criu_fails_with_the_task_error() {
    let sim = sim();
    let c = password_client(&sim, PASSWORD);
    let ct = c.guest(200).unwrap();
    let e = c.suspend(&ct, WAIT).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "failed: command 'lxc-checkpoint -n 200 -s -D /var/lib/vz/dump' failed: exit code 1"
        ),
        "{e}"
    );
    assert!(c.guest_status(&ct).unwrap().is_running());
}

#[test]
fn a_missing_privilege_names_itself_the_path_and_the_token() {
    let sim = sim_with(serde_json::json!({
        "users": [
            {"userid": "root@pam", "password": PASSWORD},
            {"userid": "snap@pve", "tokens": [{"name": "t", "secret": TOKEN_SECRET, "privsep": false}]}
        ],
        "access": {
            "roles": [{"roleid": "R", "privs": "VM.Audit"}],
            "acl": [{"path": "/", "roles": "R", "users": "snap@pve"}]
        }
    }));
    let c = PveClient::new(&config(
        &sim,
        pve::Login::Token {
            token_id: "snap@pve!t".into(),
            secret: Secret::new(TOKEN_SECRET),
        },
    ))
    .unwrap();
    let db = c.guest(101).unwrap();
    let e = c.suspend(&db, WAIT).unwrap_err();
    let api = e.api().expect("an API error");
    assert_eq!(api.status, 403);
    let msg = e.to_string();
    assert!(
        msg.contains(
            "Permission check failed (/vms/101, VM.PowerMgmt): the API token 'snap@pve!t' \
             (proxmox_token) lacks VM.PowerMgmt on /vms/101"
        ),
        "{msg}"
    );
    assert!(!msg.contains(TOKEN_SECRET), "{msg}");
    assert!(!c.guest_status(&db).unwrap().is_paused());
    // Storage definitions need Datastore.Allocate.
    let e = c.storage("ONTAP01").unwrap_err();
    assert!(
        e.to_string()
            .contains("lacks Datastore.Allocate on /storage/ONTAP01"),
        "{e}"
    );
}

#[test]
fn power_actions_wait_for_their_tasks() {
    // Nodes with criu: a container suspend is a checkpoint the resume restores.
    let sim = sim_with(serde_json::json!({"nodes": [
        {"name": "pve1", "ip": "10.10.10.11", "criu": true},
        {"name": "pve2", "ip": "10.10.10.12", "criu": true}
    ]}));
    let c = password_client(&sim, PASSWORD);
    let db = c.guest(101).unwrap();
    c.suspend(&db, WAIT).unwrap();
    assert!(c.guest_status(&db).unwrap().is_paused());
    c.resume(&db, WAIT).unwrap();
    assert!(!c.guest_status(&db).unwrap().is_paused());

    let stopped = c.guest(102).unwrap();
    c.start(&stopped, WAIT).unwrap();
    assert!(c.guest_status(&stopped).unwrap().is_running());
    c.shutdown(&stopped, WAIT).unwrap();
    assert!(!c.guest_status(&stopped).unwrap().is_running());

    let ct = c.guest(200).unwrap();
    c.suspend(&ct, WAIT).unwrap();
    c.resume(&ct, WAIT).unwrap();

    // Task status polls, not one long request.
    let polls = pve_log(&sim)
        .iter()
        .filter(|r| r.path.contains("/tasks/") && r.path.ends_with("/status"))
        .count();
    assert!(polls >= 6, "{polls}");
}

#[test]
fn failed_and_unfinished_tasks_are_errors() {
    let sim = sim();
    let c = password_client(&sim, PASSWORD);
    let stopped = c.guest(102).unwrap();
    sim.add_fault(
        FaultRule::new("POST", "*/status/start")
            .fail_job(0, "start failed: QEMU exited with code 1"),
    );
    match c.start(&stopped, WAIT).unwrap_err() {
        Error::Task { upid, exitstatus } => {
            assert!(upid.starts_with("UPID:pve2:"), "{upid}");
            assert_eq!(exitstatus, "start failed: QEMU exited with code 1");
        }
        other => panic!("expected a task error, got {other}"),
    }
    assert!(!c.guest_status(&stopped).unwrap().is_running());
}

#[test]
fn a_task_longer_than_the_bound_is_a_timeout() {
    let sim = sim_with(serde_json::json!({ "timing": { "task_ms": 30000 } }));
    let c = password_client(&sim, PASSWORD);
    let stopped = c.guest(102).unwrap();
    let e = c.start(&stopped, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("Proxmox task UPID:pve2:"), "{e}");
}

#[test]
fn each_call_makes_the_fewest_requests() {
    let sim = sim();
    let c = password_client(&sim, PASSWORD);
    let count = |f: &dyn Fn()| {
        sim.clear_requests();
        f();
        pve_log(&sim).len()
    };
    let mut table = Vec::new();
    let mut row = |call: &str, n: usize, expected: usize| {
        table.push(format!("{call}: {n}"));
        assert_eq!(n, expected, "{call}");
    };
    row(
        "version (first call, with login)",
        count(&|| {
            c.version().unwrap();
        }),
        2,
    );
    row(
        "version",
        count(&|| {
            c.version().unwrap();
        }),
        1,
    );
    row(
        "storage",
        count(&|| {
            c.storage("ONTAP01").unwrap();
        }),
        1,
    );
    row(
        "storages",
        count(&|| {
            c.storages().unwrap();
        }),
        1,
    );
    row(
        "guests",
        count(&|| {
            c.guests().unwrap();
        }),
        1,
    );
    row(
        "guest",
        count(&|| {
            c.guest(100).unwrap();
        }),
        1,
    );
    let web = c.guest(100).unwrap();
    row(
        "guest_config",
        count(&|| {
            c.guest_config(&web).unwrap();
        }),
        1,
    );
    row(
        "guest_status",
        count(&|| {
            c.guest_status(&web).unwrap();
        }),
        1,
    );
    row("agent_ping", count(&|| c.agent_ping(&web).unwrap()), 1);
    row(
        "fsfreeze_freeze",
        count(&|| {
            c.fsfreeze_freeze(&web).unwrap();
        }),
        1,
    );
    row(
        "fsfreeze_status",
        count(&|| {
            c.fsfreeze_status(&web).unwrap();
        }),
        1,
    );
    row(
        "fsfreeze_thaw",
        count(&|| {
            c.fsfreeze_thaw(&web).unwrap();
        }),
        1,
    );
    let spec = NewNfsStorage {
        storage: "X-CLONE".into(),
        server: "127.0.10.1".into(),
        export: "/ONTAP01".into(),
        content: None,
        options: None,
        nodes: None,
        more: Default::default(),
    };
    row(
        "create_nfs_storage",
        count(&|| c.create_nfs_storage(&spec).unwrap()),
        1,
    );
    row(
        "delete_storage",
        count(&|| c.delete_storage("X-CLONE").unwrap()),
        1,
    );
    let db = c.guest(101).unwrap();
    let n = count(&|| c.suspend(&db, WAIT).unwrap());
    table.push(format!("suspend (1 POST + task polls): {n}"));
    assert!(n >= 2);
    eprintln!("Proxmox VE requests per call:\n  {}", table.join("\n  "));
}

#[test]
fn ca_file_and_wrong_pin() {
    let sim = sim();
    let dir = std::env::temp_dir().join(format!("pos-pve-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("pve.pem");
    std::fs::write(&ca, sim.pve_cert_pem()).unwrap();
    let mut by_ca = config(
        &sim,
        pve::Login::Token {
            token_id: TOKEN_ID.into(),
            secret: Secret::new(TOKEN_SECRET),
        },
    );
    by_ca.endpoint.tls = TlsMode::CaFile(ca);
    assert_eq!(PveClient::new(&by_ca).unwrap().version().unwrap(), "9.1.2");
    std::fs::remove_dir_all(&dir).unwrap();

    let mut pinned_wrong = by_ca.clone();
    pinned_wrong.endpoint.tls = TlsMode::Fingerprint([0x42; 32]);
    let e = PveClient::new(&pinned_wrong)
        .unwrap()
        .version()
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("fingerprint mismatch"), "{text}");
    assert!(text.contains(sim.pve_fingerprint()), "{text}");
    assert!(
        pve_log(&sim).len() == 1,
        "only the CA-file call reached the API"
    );
}
