//! The `pve-ontap-sim` binary as users run it: flags, the one-line JSON ready line, the written
//! config, scenario files, and clear failures for bad flags, bad scenarios and busy ports.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::RawConn;

const BIN: &str = env!("CARGO_BIN_EXE_pve-ontap-sim");

/// A temp dir removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "pve-ontap-sim-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running simulator process, killed on drop.
struct Running {
    child: Child,
    ready: serde_json::Value,
    raw_line: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    eprintln!("ready line after {:?}", started.elapsed());
    let ready = serde_json::from_str(line.trim_end())
        .unwrap_or_else(|e| panic!("ready line {line:?} is not JSON: {e}"));
    Running {
        child,
        ready,
        raw_line: line,
    }
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn prints_the_ready_line_and_writes_the_config() {
    let dir = TempDir::new("ready");
    let config = dir.0.join("config.ini");
    let sim = spawn(&["--write-config", config.to_str().unwrap()]);
    let r = &sim.ready;
    // One line, keys in the documented order.
    assert!(sim.raw_line.ends_with('\n') && sim.raw_line.trim_end().lines().count() == 1);
    assert!(
        sim.raw_line.starts_with(r#"{"pve":"https://127.0.0.1:"#),
        "{}",
        sim.raw_line
    );
    let order = [
        "\"pve\"",
        "\"ontap\"",
        "\"pve_fingerprint\"",
        "\"ontap_fingerprint\"",
        "\"config\"",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| sim.raw_line.find(k).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{}",
        sim.raw_line
    );
    assert_eq!(r["config"], config.to_str().unwrap());
    let (pve, ontap) = (r["pve"].as_str().unwrap(), r["ontap"].as_str().unwrap());
    let (pve_fp, ontap_fp) = (
        r["pve_fingerprint"].as_str().unwrap(),
        r["ontap_fingerprint"].as_str().unwrap(),
    );
    assert!(ontap.starts_with("https://127.0.0.1:"));
    assert_eq!(pve_fp.len(), 95);

    // The config is private and pins both listeners.
    let meta = std::fs::metadata(&config).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.starts_with("[proxmox]\n"), "{text}");
    assert!(
        text.contains(&format!("proxmox_host = 127.0.0.1:{}\n", port_of(pve))),
        "{text}"
    );
    assert!(
        text.contains(&format!("proxmox_fingerprint = {pve_fp}\n")),
        "{text}"
    );
    // The built-in scenario's accounts, written literally, and one section per NFS storage.
    assert!(
        text.contains("proxmox_user = root@pam\nproxmox_pass = Pve-Pa55;#\"\\=x\n"),
        "{text}"
    );
    let sections: Vec<&str> = text.lines().filter(|l| l.starts_with('[')).collect();
    assert_eq!(
        sections,
        ["[proxmox]", "[ONTAP01]", "[ONTAP02]", "[ONTAP03]"]
    );
    assert_eq!(
        text.matches("user = admin\npass = Ontap-Pa55;#\"\\=x\n")
            .count(),
        3,
        "{text}"
    );
    for line in text.lines().filter(|l| l.starts_with("host = ")) {
        assert_eq!(line, format!("host = 127.0.0.1:{}", port_of(ontap)));
    }
    for line in text.lines().filter(|l| l.starts_with("fingerprint = ")) {
        assert_eq!(line, format!("fingerprint = {ontap_fp}"));
    }

    // The fingerprints are those of the served certificates.
    let addr = |url: &str| url.trim_start_matches("https://").parse().unwrap();
    let mut conn = RawConn::connect(addr(ontap), ontap_fp).unwrap();
    assert_eq!(conn.get("/_sim/requests", "").status, 200);
    assert!(RawConn::connect(addr(pve), ontap_fp).is_err());
}

#[test]
fn honours_ports_bind_and_scenario_file() {
    let dir = TempDir::new("flags");
    let scenario = dir.0.join("scenario.json");
    std::fs::write(&scenario, "{}").unwrap();
    // Two free ports, released just before the simulator takes them.
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let (p, o) = (ports[0].to_string(), ports[1].to_string());
    let sim = spawn(&[
        "--scenario",
        scenario.to_str().unwrap(),
        "--bind",
        "127.0.0.1",
        "--pve-port",
        &p,
        "--ontap-port",
        &o,
        "--latency-ms",
        "1",
    ]);
    assert_eq!(sim.ready["pve"], format!("https://127.0.0.1:{p}"));
    assert_eq!(sim.ready["ontap"], format!("https://127.0.0.1:{o}"));
    assert_eq!(sim.ready["config"], serde_json::Value::Null);
}

fn run_failing(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    for (args, needle) in [
        (vec!["--nope"], "unknown argument \"--nope\""),
        (
            vec!["--pve-port", "http"],
            "invalid value \"http\" for --pve-port",
        ),
        (vec!["--bind"], "--bind needs a value"),
        (vec!["--latency-ms", "-1"], "--latency-ms"),
    ] {
        let (code, stdout, stderr) = run_failing(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty(), "no ready line for {args:?}");
        assert!(stderr.starts_with("pve-ontap-sim: error: "), "{stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--write-config PATH"));
}

#[test]
fn bad_scenario_files_are_named() {
    let dir = TempDir::new("scenario");
    let missing = dir.0.join("missing.json");
    let (code, _, stderr) = run_failing(&["--scenario", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("cannot read scenario '{}'", missing.display())),
        "{stderr}"
    );

    let bad = dir.0.join("bad.json");
    std::fs::write(&bad, r#"{"ontap": {}, "vmware": {}}"#).unwrap();
    let (code, _, stderr) = run_failing(&["--scenario", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("invalid scenario '{}'", bad.display())),
        "{stderr}"
    );
    assert!(stderr.contains("unknown field `vmware`"), "{stderr}");
}

#[test]
fn busy_port_exits_1_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, stdout, stderr) = run_failing(&["--pve-port", &port]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "cannot listen on 127.0.0.1:{port} for the pve API"
        )),
        "{stderr}"
    );
}
