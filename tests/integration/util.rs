//! The integration-test environment: an in-process simulator, a private temp dir with a config.ini
//! pointing into it, the real binary run with a timeout, and readers for simulator state and log.
//!
//! How runs stay inside the temp dir: the config has no keys for the tool's system paths (locks,
//! `/etc/pve`, `qm`/`pct`), so every run gets `PVE_ONTAP_SNAPSHOT_TEST_ROOT=<temp dir>`, and the
//! temp dir holds the marker file `.pve-ontap-snapshot-test-root`. Only a debug build (what
//! `cargo test` runs) honours the variable, and only with the marker (`src/sys/seams.rs`); a
//! release build, and so every installed package, always uses Proxmox's fixed paths. Below the
//! root the layout is a node's: `etc/pve/priv/lock`, `run/lock/...`, `usr/sbin/qm`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pve_ontap_sim::faults::glob_match;
use pve_ontap_sim::http::percent_decode;
pub use pve_ontap_sim::pve::{Guest, RunStatus, Storage};
pub use pve_ontap_sim::{Api, FaultRule, PveLogin, RequestLogEntry, Sim, SimOptions, World};
use rustls::pki_types::pem::PemObject;

/// The tool under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pve-ontap-snapshot");
/// A run still going after this long is killed.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);
/// The environment variable naming the config file (always removed for runs).
pub const CONFIG_ENV: &str = "PVE_ONTAP_SNAPSHOT_CONFIG";
/// The debug build's test root (see the module comment).
pub const TEST_ROOT_ENV: &str = "PVE_ONTAP_SNAPSHOT_TEST_ROOT";
/// The file that must exist in the test root.
pub const TEST_ROOT_MARKER: &str = ".pve-ontap-snapshot-test-root";

/// What a run of the binary produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// The exit code; -1 when killed by a signal or the timeout.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Panic, showing both streams, unless the exit code is `code`.
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Output {
        assert_eq!(
            self.code, code,
            "exit code {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Output {
        self.assert_code(0)
    }

    /// stdout parsed as JSON (for `--output json`).
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON: {e}\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Run `cmd` to completion, feeding `stdin`, killing it after `timeout`.
pub fn run_command(mut cmd: Command, stdin: Option<&str>, timeout: Duration) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        let text = text.to_string();
        std::thread::spawn(move || {
            let _ = pipe.write_all(text.as_bytes());
        });
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            timed_out = true;
            break child.wait().expect("waiting for the killed child");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.join().unwrap_or_default();
    let mut stderr = err.join().unwrap_or_default();
    if timed_out {
        stderr.push_str(&format!("\n[test harness: killed after {timeout:?}]\n"));
    }
    Output {
        code: if timed_out {
            -1
        } else {
            status.code().unwrap_or(-1)
        },
        stdout,
        stderr,
    }
}

/// An ONTAP volume as `with_volume` shows it (borrowed from the locked world).
#[derive(Debug)]
pub struct VolumeView<'a> {
    pub svm: &'a str,
    pub junction: Option<&'a str>,
    /// A FlexClone's (parent volume, parent snapshot).
    pub clone_parent: Option<(&'a str, &'a str)>,
    /// Oldest first.
    pub snapshots: Vec<SnapshotView<'a>>,
    /// (path relative to the volume root, size, content generation).
    pub files: Vec<(&'a str, u64, u64)>,
}

/// One snapshot of a `VolumeView`.
#[derive(Debug)]
pub struct SnapshotView<'a> {
    pub name: &'a str,
    pub comment: Option<&'a str>,
    pub snapmirror_label: Option<&'a str>,
    pub create_time: time::OffsetDateTime,
    pub expiry_time: Option<time::OffsetDateTime>,
    pub snaplock_expiry_time: Option<time::OffsetDateTime>,
    /// The file tree it captured: (path, size, content generation).
    pub files: Vec<(&'a str, u64, u64)>,
}

/// One test's world: a simulator, a temp dir, a config file. Everything is removed on drop.
pub struct TestEnv {
    sim: Sim,
    dir: PathBuf,
    config: PathBuf,
}

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

fn unique_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::env::temp_dir().join(format!(
        "pve-ontap-snapshot-it-{}-{}-{nanos}",
        std::process::id(),
        NEXT_DIR.fetch_add(1, Ordering::Relaxed)
    ))
}

impl TestEnv {
    /// The built-in default scenario, free ports, no latency.
    pub fn new() -> TestEnv {
        TestEnv::with_options(SimOptions::default())
    }

    pub fn with_options(options: SimOptions) -> TestEnv {
        let sim = Sim::start(options).expect("starting the simulator");
        let dir = unique_dir();
        std::fs::create_dir_all(&dir).expect("creating the test dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .expect("chmod 700 the test dir");
        // What exists on a Proxmox node; the tool creates its own lock dir below run/lock.
        for sub in [
            "run/lock/qemu-server",
            "run/lock/lxc",
            "etc/pve/priv/lock",
            "usr/sbin",
            "bin",
        ] {
            std::fs::create_dir_all(dir.join(sub)).expect("creating the test dir tree");
        }
        std::fs::write(dir.join(TEST_ROOT_MARKER), "").expect("marking the test root");
        // As on Debian, /var/lock is /run/lock (QEMU's config locks live in /var/lock/qemu-server).
        std::fs::create_dir_all(dir.join("var")).expect("creating the test dir tree");
        std::os::unix::fs::symlink("../run/lock", dir.join("var/lock")).expect("linking var/lock");
        let env = TestEnv {
            config: dir.join("config.ini"),
            sim,
            dir,
        };
        env.write_config(&env.default_config());
        env
    }

    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The temp dir (also the working directory of runs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the temp dir.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// The simulator's config with `login`.
    pub fn config_with(&self, login: PveLogin) -> String {
        self.sim.config_ini_with(login, &[])
    }

    /// Password login, fingerprints pinned, paths in the temp dir (what `new()` writes).
    pub fn default_config(&self) -> String {
        self.config_with(PveLogin::Password)
    }

    /// Like `default_config`, logging in to Proxmox with the API token.
    pub fn token_config(&self) -> String {
        self.config_with(PveLogin::Token)
    }

    /// Replace the config file (mode 0600).
    pub fn write_config(&self, text: &str) {
        pve_ontap_sim::config_ini::write_private(&self.config, text).expect("writing config.ini");
    }

    /// A command for the binary: `--config <path>` first, `$PVE_ONTAP_SNAPSHOT_CONFIG` unset,
    /// run in the temp dir.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.command_without_config(&[]);
        cmd.arg("--config").arg(&self.config).args(args);
        cmd
    }

    /// A command for the binary without `--config` (tests of the config search order).
    pub fn command_without_config(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        // Keep test runs out of the machine's syslog (a test that captures syslog sets its own).
        cmd.env_remove(CONFIG_ENV)
            .env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none")
            .env(TEST_ROOT_ENV, &self.dir)
            .current_dir(&self.dir)
            .args(args);
        cmd
    }

    /// Run the binary with `--config <path>` in front of `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        run_command(self.command(args), None, RUN_TIMEOUT)
    }

    /// Run the binary with another config file (e.g. an administrator's next to a restricted one).
    pub fn run_with_config(&self, config: &Path, args: &[&str]) -> Output {
        let mut cmd = self.command_without_config(&[]);
        cmd.arg("--config").arg(config).args(args);
        run_command(cmd, None, RUN_TIMEOUT)
    }

    /// Like `run`, with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        run_command(cmd, None, RUN_TIMEOUT)
    }

    /// Like `run`, feeding `stdin` (answers to prompts).
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        run_command(self.command(args), Some(stdin), RUN_TIMEOUT)
    }

    /// Run without `--config`, with these environment variables.
    pub fn run_without_config(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command_without_config(args);
        cmd.envs(env.iter().copied());
        run_command(cmd, None, RUN_TIMEOUT)
    }

    /// Read the simulated world, settled (due jobs and tasks finished); the lock is held only
    /// during `f`.
    pub fn world<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        let shared = self.sim.shared();
        let mut world = shared.lock();
        world.settle();
        f(&world)
    }

    /// Change the simulated world (set up a test case).
    pub fn world_mut<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut self.sim.shared().lock())
    }

    /// The state dump (`GET /_sim/state`).
    pub fn state(&self) -> serde_json::Value {
        self.world_mut(World::dump)
    }

    /// Names of the ONTAP volumes (every SVM), in creation order.
    pub fn volume_names(&self) -> Vec<String> {
        self.world(|w| w.ontap.volumes.iter().map(|v| v.name.clone()).collect())
    }

    /// Read the one ONTAP volume called `name` (panics when there is none, or one per SVM).
    pub fn with_volume<R>(&self, name: &str, f: impl FnOnce(VolumeView<'_>) -> R) -> R {
        self.world(|w| {
            let found: Vec<_> = w.ontap.volumes.iter().filter(|v| v.name == name).collect();
            match found.as_slice() {
                [v] => f(VolumeView {
                    svm: &v.svm,
                    junction: v.junction.as_deref(),
                    clone_parent: v
                        .clone
                        .as_ref()
                        .map(|c| (c.parent_name.as_str(), c.snapshot_name.as_str())),
                    snapshots: v
                        .snapshots
                        .iter()
                        .map(|s| SnapshotView {
                            name: &s.name,
                            comment: s.comment.as_deref(),
                            snapmirror_label: s.snapmirror_label.as_deref(),
                            create_time: s.create_time,
                            expiry_time: s.expiry_time,
                            snaplock_expiry_time: s.snaplock_expiry_time,
                            files: s
                                .tree
                                .files()
                                .map(|(p, size, gen)| (p.as_str(), size, gen))
                                .collect(),
                        })
                        .collect(),
                    files: v
                        .tree
                        .files()
                        .map(|(p, size, gen)| (p.as_str(), size, gen))
                        .collect(),
                }),
                [] => panic!(
                    "no ONTAP volume {name:?} (volumes: {:?})",
                    w.ontap.volumes.iter().map(|v| &v.name).collect::<Vec<_>>()
                ),
                _ => panic!("volume name {name:?} is on several SVMs; use world() to pick one"),
            }
        })
    }

    /// Whether an ONTAP volume called `name` exists (on any SVM).
    pub fn volume_exists(&self, name: &str) -> bool {
        self.world(|w| w.ontap.volumes.iter().any(|v| v.name == name))
    }

    /// Snapshot names of volume `name`, oldest first.
    pub fn snapshot_names(&self, volume: &str) -> Vec<String> {
        self.with_volume(volume, |v| {
            v.snapshots.iter().map(|s| s.name.to_string()).collect()
        })
    }

    /// Files of volume `name`: path (relative to the volume root) -> (size, content generation).
    pub fn files(&self, volume: &str) -> BTreeMap<String, (u64, u64)> {
        self.with_volume(volume, |v| {
            v.files
                .iter()
                .map(|(p, size, gen)| (p.to_string(), (*size, *gen)))
                .collect()
        })
    }

    /// Files captured by snapshot `snapshot` of volume `volume` (None: no such snapshot).
    pub fn snapshot_files(
        &self,
        volume: &str,
        snapshot: &str,
    ) -> Option<BTreeMap<String, (u64, u64)>> {
        self.with_volume(volume, |v| {
            v.snapshots.iter().find(|s| s.name == snapshot).map(|s| {
                s.files
                    .iter()
                    .map(|(p, size, gen)| (p.to_string(), (*size, *gen)))
                    .collect()
            })
        })
    }

    /// Run state of guest `vmid` (None: no such guest).
    pub fn guest_status(&self, vmid: u32) -> Option<RunStatus> {
        self.world(|w| w.pve.guests.get(&vmid).map(|g| g.run))
    }

    /// A copy of guest `vmid` (config, run state, agent state...).
    pub fn guest(&self, vmid: u32) -> Option<Guest> {
        self.world(|w| w.pve.guests.get(&vmid).cloned())
    }

    /// Whether guest `vmid`'s agent reports frozen filesystems.
    pub fn agent_frozen(&self, vmid: u32) -> bool {
        self.world(|w| w.pve.guests.get(&vmid).is_some_and(|g| g.agent.frozen))
    }

    /// Ids of the Proxmox storages, in order.
    pub fn storage_ids(&self) -> Vec<String> {
        self.world(|w| w.pve.storages.iter().map(|s| s.id.clone()).collect())
    }

    /// A copy of Proxmox storage `id`.
    pub fn storage(&self, id: &str) -> Option<Storage> {
        self.world(|w| w.pve.storages.iter().find(|s| s.id == id).cloned())
    }

    /// Simulate guest `vmid` writing to its disks (`POST /_sim/guests/<vmid>/write`); returns
    /// how many files changed.
    pub fn guest_write(&self, vmid: u32) -> usize {
        let shared = self.sim.shared();
        let mut world = shared.lock();
        pve_ontap_sim::pve::guest_write(&mut world, vmid)
            .unwrap_or_else(|e| panic!("guest write {vmid}: {e}"))
    }

    /// The API requests so far.
    pub fn requests(&self) -> Vec<RequestLogEntry> {
        self.sim.requests()
    }

    pub fn clear_requests(&self) {
        self.sim.clear_requests();
    }

    /// Requests to `api` (None: either) whose method is `method` (`*`: any) and whose path, as
    /// sent or percent-decoded, matches `path_pattern` (`*` wildcard).
    pub fn requests_matching(
        &self,
        api: Option<Api>,
        method: &str,
        path_pattern: &str,
    ) -> Vec<RequestLogEntry> {
        self.requests()
            .into_iter()
            .filter(|e| api.is_none_or(|a| a == e.api))
            .filter(|e| method == "*" || e.method.eq_ignore_ascii_case(method))
            .filter(|e| {
                glob_match(path_pattern, &e.path)
                    || glob_match(path_pattern, &percent_decode(&e.path, false))
            })
            .collect()
    }

    /// How many requests match (see `requests_matching`).
    pub fn count_requests(&self, method: &str, path_pattern: &str) -> usize {
        self.requests_matching(None, method, path_pattern).len()
    }

    /// How many requests went to `api`.
    pub fn count_api_requests(&self, api: Api) -> usize {
        self.requests().iter().filter(|e| e.api == api).count()
    }

    /// Arm a fault rule; returns its id.
    pub fn add_fault(&self, rule: FaultRule) -> u64 {
        self.sim.add_fault(rule)
    }

    /// An HTTPS agent trusting both simulator listeners (calls made by the test itself).
    pub fn agent(&self) -> ureq::Agent {
        let mut roots = rustls::RootCertStore::empty();
        for pem in [self.sim.pve_cert_pem(), self.sim.ontap_cert_pem()] {
            let der = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
                .expect("simulator certificate PEM");
            roots.add(der).expect("simulator certificate");
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        ureq::AgentBuilder::new()
            .tls_config(std::sync::Arc::new(tls))
            .timeout(Duration::from_secs(60))
            .build()
    }

    /// `method` on the simulator (`api` picks the listener); returns status and body text,
    /// whatever the status.
    pub fn call(
        &self,
        api: Api,
        method: &str,
        path: &str,
        json_body: Option<&str>,
    ) -> (u16, String) {
        let base = match api {
            Api::Ontap => self.sim.ontap_url(),
            Api::Pve => self.sim.pve_url(),
        };
        let req = self.agent().request(method, &format!("{base}{path}"));
        let result = match json_body {
            Some(b) => req.set("Content-Type", "application/json").send_string(b),
            None => req.call(),
        };
        match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                let status = r.status();
                (status, r.into_string().unwrap_or_default())
            }
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn runner_kills_a_hung_child_and_feeds_stdin() {
    let mut sleep = Command::new("sleep");
    sleep.arg("30");
    let out = run_command(sleep, None, Duration::from_millis(200));
    assert_eq!(out.code, -1);
    assert!(out.stderr.contains("killed after"), "{}", out.stderr);
    let mut cat = Command::new("cat");
    cat.arg("-");
    let out = run_command(cat, Some("yes\n"), RUN_TIMEOUT);
    assert_eq!((out.code, out.stdout.as_str()), (0, "yes\n"));
}

#[test]
fn environment_is_private_and_removed_on_drop() {
    let env = TestEnv::new();
    let dir = env.dir().to_path_buf();
    let mode = std::fs::metadata(env.config_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let config = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(config.contains(&format!(
        "proxmox_fingerprint = {}",
        env.sim().pve_fingerprint()
    )));
    assert!(!config.contains("lock_dir"));
    assert!(dir.join(TEST_ROOT_MARKER).is_file());
    assert!(!env.path("etc/pve/local").exists());
    assert!(env.path("etc/pve/priv/lock").is_dir());
    let other = TestEnv::new();
    assert_ne!(other.dir(), env.dir());
    drop(env);
    assert!(!dir.exists());
}

#[test]
fn request_helpers_count_by_api_method_and_pattern() {
    let env = TestEnv::new();
    env.add_fault(FaultRule::new("*", "*").status(200).count(0));
    env.call(Api::Ontap, "GET", "/api/storage/volumes?fields=name", None);
    env.call(
        Api::Ontap,
        "DELETE",
        "/api/storage/volumes/u-1/files/images%2F100%2Fa.raw",
        None,
    );
    env.call(
        Api::Pve,
        "GET",
        "/api2/json/nodes/pve1/qemu/100/config",
        None,
    );
    env.call(
        Api::Pve,
        "POST",
        "/api2/json/nodes/pve1/qemu/100/status/suspend",
        Some("{}"),
    );
    env.call(Api::Pve, "GET", "/_sim/state", None);
    assert_eq!(env.count_api_requests(Api::Ontap), 2);
    assert_eq!(env.count_api_requests(Api::Pve), 2);
    assert_eq!(env.count_requests("*", "*"), 4);
    assert_eq!(env.count_requests("get", "/api/storage/volumes"), 1);
    assert_eq!(
        env.count_requests("DELETE", "/api/storage/volumes/*/files/images/100/*"),
        1
    );
    assert_eq!(env.count_requests("POST", "*/status/suspend"), 1);
    assert_eq!(
        env.requests_matching(Some(Api::Ontap), "*", "*/qemu/*")
            .len(),
        0
    );
    assert_eq!(env.requests()[0].query, "fields=name");
    env.clear_requests();
    assert_eq!(env.count_requests("*", "*"), 0);
}

#[test]
fn state_helpers_read_the_default_scenario() {
    let env = TestEnv::new();
    assert!(env.volume_names().iter().any(|v| v == "ONTAP01"));
    assert!(env.volume_exists("pve_nested") && !env.volume_exists("nope"));
    assert_eq!(
        env.snapshot_names("ONTAP01"),
        [
            "proxmox_snapshot_2024-03-13_14:42:47+0000",
            "hourly.2026-11-01_0105"
        ]
    );
    let files = env.files("ONTAP01");
    assert_eq!(files["images/100/vm-100-disk-0.qcow2"].0, 32 << 30);
    let gen = files["images/100/vm-100-disk-0.qcow2"].1;
    let captured = env
        .snapshot_files("ONTAP01", "hourly.2026-11-01_0105")
        .expect("snapshot");
    assert!(captured.contains_key("images/100/vm-100-disk-0.qcow2"));
    assert!(env.snapshot_files("ONTAP01", "nope").is_none());
    env.with_volume("ONTAP01", |v| {
        assert_eq!((v.svm, v.junction), ("svm1", Some("/ONTAP01")));
        assert_eq!(v.snapshots[0].comment, Some("made by the original tool"));
    });

    assert!(env.guest_write(100) > 0);
    assert!(env.files("ONTAP01")["images/100/vm-100-disk-0.qcow2"].1 > gen);

    assert_eq!(env.guest_status(100), Some(RunStatus::Running));
    assert_eq!(env.guest_status(102), Some(RunStatus::Stopped));
    assert_eq!(env.guest_status(999), None);
    assert_eq!(env.guest(200).unwrap().config["hostname"], "ct01");
    assert!(!env.agent_frozen(100));
    assert_eq!(
        env.storage_ids(),
        ["local", "local-lvm", "ONTAP01", "ONTAP02", "ONTAP03"]
    );
    assert_eq!(
        env.storage("ONTAP02").unwrap().option("export").as_deref(),
        Some("/vmstore2")
    );
    assert!(env.state()["pve"].is_object());
}
