//! `make bench`: measures what users feel — start-up, requests per command, the pause window, large
//! snapshot lists, hook coalescing, end-to-end times, a 500-guest cluster — against the simulator;
//! prints Markdown, writes JSON.

mod scale;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pve_ontap_sim::{RequestLogEntry, Scenario, Sim, SimOptions};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

mod recover;

const TOOL: &str = env!("CARGO_BIN_EXE_pve-ontap-snapshot");
const RUNS: usize = 25;

fn main() {
    let out_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    fs::create_dir_all(&out_dir).expect("create target/bench");
    let mut report = Report::default();

    // `BENCH_ONLY=recovery make bench` runs only the sections whose name contains the value.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    type Section = (&'static str, fn(&mut Report));
    let sections: [Section; 10] = [
        ("startup", startup),
        ("requests", |r| requests_per_command(r, false)),
        ("requests-token", |r| requests_per_command(r, true)),
        ("pause", pause_windows),
        ("guardian", guardian_cost),
        ("snapshots", thousand_snapshots),
        ("hooks", concurrent_hooks),
        ("end-to-end", end_to_end),
        ("recovery", recover::recovery),
        ("scale", scale::scale),
    ];
    for (name, section) in sections {
        if only.is_empty() || name.contains(only.as_str()) {
            section(&mut report);
        }
    }

    let table = report.markdown();
    println!("{table}");
    let json = json!({
        "date": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
        "machine": machine(),
        "sections": report.sections,
    });
    let path = out_dir.join("results.json");
    fs::write(&path, serde_json::to_string_pretty(&json).expect("json")).expect("write results");
    fs::write(out_dir.join("results.md"), table).expect("write results.md");
    eprintln!("wrote {}", path.display());
}

/// Rows grouped by section, in the order they were measured.
#[derive(Default)]
struct Report {
    sections: Vec<(String, Vec<BTreeMap<String, Value>>)>,
}

impl Report {
    fn row(&mut self, section: &str, row: Value) {
        let row: BTreeMap<String, Value> = serde_json::from_value(row).expect("row is an object");
        match self.sections.iter_mut().find(|(s, _)| s == section) {
            Some((_, rows)) => rows.push(row),
            None => self.sections.push((section.to_string(), vec![row])),
        }
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        for (section, rows) in &self.sections {
            out.push_str(&format!("\n### {section}\n\n"));
            let mut cols: Vec<&String> = Vec::new();
            for row in rows {
                for k in row.keys() {
                    if !cols.contains(&k) {
                        cols.push(k);
                    }
                }
            }
            // "what" first, the rest alphabetically.
            cols.sort_by_key(|c| (c.as_str() != "what", c.to_string()));
            out.push_str(&format!(
                "| {} |\n|{}\n",
                cols.iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(" | "),
                " --- |".repeat(cols.len())
            ));
            for row in rows {
                let cells: Vec<String> = cols
                    .iter()
                    .map(|c| match row.get(*c) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => match n.as_f64() {
                            Some(f) if n.is_f64() => format!("{f:.2}"),
                            _ => n.to_string(),
                        },
                        Some(v) => v.to_string(),
                        None => String::new(),
                    })
                    .collect();
                out.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
        }
        out
    }
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    json!({"cpus": cpus, "cpu": model})
}

// ---------------------------------------------------------------------------------------------
// Environment: a simulator, a temp dir, a config.

struct Env {
    sim: Sim,
    dir: PathBuf,
    config: PathBuf,
}

impl Env {
    fn new(scenario: Scenario, latency_ms: u64, token: bool, extra: &str) -> Env {
        let sim = Sim::start(SimOptions {
            scenario,
            latency_ms,
            ..SimOptions::default()
        })
        .expect("start simulator");
        let dir = std::env::temp_dir().join(format!(
            "pve-ontap-bench-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).expect("temp dir");
        let config = dir.join("config.ini");
        let base = if token {
            sim.config_ini_with_token()
        } else {
            sim.config_ini()
        };
        // The benchmark runs the release binary, which uses Proxmox's fixed paths (the test root
        // of `sys::seams` exists only in debug builds): run it on a development host, not on a
        // Proxmox node, where it would take the node's real locks.
        let text = format!("{base}\n{extra}");
        fs::write(&config, text).expect("write config");
        fs::set_permissions(&config, fs::Permissions::from_mode(0o600)).expect("chmod");
        Env { sim, dir, config }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(TOOL);
        c.arg("--config").arg(&self.config).args(args);
        c.env_remove("PVE_ONTAP_SNAPSHOT_CONFIG");
        c.stdin(Stdio::null());
        c
    }

    /// Run the tool; panics with its stderr when it fails (a benchmark of a failure measures nothing).
    fn run(&self, args: &[&str]) -> (Duration, String) {
        let start = Instant::now();
        let out = self.cmd(args).output().expect("run tool");
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "pve-ontap-snapshot {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        (took, String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `run` of the program `tool` (this build's, or another one's) that also returns stderr.
    fn run_stderr(&self, tool: &std::path::Path, args: &[&str]) -> (Duration, String) {
        let mut cmd = Command::new(tool);
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("PVE_ONTAP_SNAPSHOT_CONFIG")
            .stdin(Stdio::null());
        let start = Instant::now();
        let out = cmd.output().expect("run tool");
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "pve-ontap-snapshot {} failed: {stderr}",
            args.join(" ")
        );
        (took, stderr)
    }

    fn clear_log(&self) {
        self.sim.clear_requests();
    }

    fn requests(&self) -> Vec<RequestLogEntry> {
        self.sim.requests()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Put tool settings into the `[proxmox]` section of a generated config.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return 0.0;
    }
    v[v.len() / 2]
}

/// Sleep to the start of the next wall-clock second: snapshot names have one-second resolution, and
/// a storage create whose name is taken waits for the next second (a wait the figures must not
/// include); a disk set whose second is taken moves to a later one, so each run starts fresh.
fn next_second() {
    let now = OffsetDateTime::now_utc();
    let into = Duration::from_nanos(u64::from(now.nanosecond()));
    std::thread::sleep(Duration::from_secs(1).saturating_sub(into) + Duration::from_millis(5));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// 1. Start-up: wall time and peak RSS of a process, next to /bin/true.

/// Run a command to completion; (wall time, peak RSS in KiB) from wait4.
#[allow(unsafe_code)]
fn run_measured(cmd: &mut Command) -> (Duration, i64) {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null());
    let start = Instant::now();
    let child = cmd.spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain old data, zero is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, status and usage point to valid memory for the call.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let took = start.elapsed();
    assert_eq!(rc, pid, "wait4 failed");
    std::mem::forget(child); // already reaped
    (took, usage.ru_maxrss)
}

fn startup(report: &mut Report) {
    let env = Env::new(Scenario::default(), 0, false, "");
    let measure = |what: &str, make: &dyn Fn() -> Command| {
        let mut times = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..RUNS {
            let (t, r) = run_measured(&mut make());
            times.push(ms(t));
            rss.push(r as f64);
        }
        (what.to_string(), median(times), median(rss))
    };
    let rows = vec![
        measure("/bin/true", &|| Command::new("/bin/true")),
        measure("pve-ontap-snapshot --help", &|| {
            let mut c = Command::new(TOOL);
            c.arg("--help");
            c
        }),
        measure("hook 100 pre-start (no policy: no-op)", &|| {
            let mut c = env.cmd(&["hook", "100", "pre-start"]);
            c.env_clear();
            c
        }),
    ];
    env.clear_log();
    let (_, _, _) = measure("hook 100 pre-start (request check)", &|| {
        env.cmd(&["hook", "100", "pre-start"])
    });
    let noop_requests = env.requests().len();
    let base = rows[0].1;
    for (what, wall, rss) in rows {
        report.row(
            "Start-up (median of 25 runs)",
            json!({"what": what, "wall ms": wall, "vs /bin/true ms": wall - base, "peak RSS KiB": rss}),
        );
    }
    report.row(
        "Start-up (median of 25 runs)",
        json!({"what": "HTTP requests made by 25 no-op hook calls", "wall ms": noop_requests}),
    );
}

// ---------------------------------------------------------------------------------------------
// 2. HTTP requests per command.

fn count(reqs: &[RequestLogEntry]) -> (usize, usize, usize) {
    let pve = reqs.iter().filter(|r| r.path.starts_with("/api2/")).count();
    let ontap = reqs.iter().filter(|r| r.path.starts_with("/api/")).count();
    (reqs.len(), pve, ontap)
}

fn requests_per_command(report: &mut Report, token: bool) {
    let env = Env::new(Scenario::default(), 0, token, "");
    let auth = if token { "API token" } else { "ticket" };
    let section = format!("HTTP requests per command ({auth} auth)");
    let mut step = |what: &str, args: &[&str]| -> String {
        if args.contains(&"vm") {
            next_second();
        }
        env.clear_log();
        let (_, stdout) = env.run(args);
        let (all, pve, ontap) = count(&env.requests());
        report.row(
            &section,
            json!({"what": what, "requests": all, "Proxmox": pve, "ONTAP": ontap}),
        );
        stdout
    };
    step(
        "storage create",
        &["storage", "create", "--storage", "ONTAP01"],
    );
    let list = step(
        "storage list",
        &[
            "--output",
            "json",
            "storage",
            "list",
            "--storage",
            "ONTAP01",
        ],
    );
    let snapshot = last_snapshot(&list);
    step("storage show", &["storage", "show", "--storage", "ONTAP01"]);
    step(
        "storage mount",
        &[
            "storage",
            "mount",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &snapshot,
        ],
    );
    step(
        "storage unmount",
        &["storage", "unmount", "--storage", "ONTAP01-CLONE"],
    );
    step(
        "storage restore --yes",
        &[
            "storage",
            "restore",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &snapshot,
            "--yes",
            "--force",
        ],
    );
    step(
        "storage prune --keep-last 1",
        &[
            "storage",
            "prune",
            "--storage",
            "ONTAP01",
            "--keep-last",
            "1",
        ],
    );
    let extra = env.run(&[
        "--output",
        "json",
        "storage",
        "create",
        "--storage",
        "ONTAP01",
    ]);
    let _ = extra;
    let list = env
        .run(&[
            "--output",
            "json",
            "storage",
            "list",
            "--storage",
            "ONTAP01",
        ])
        .1;
    step(
        "storage delete",
        &[
            "storage",
            "delete",
            "--storage",
            "ONTAP01",
            "--snapshot",
            &last_snapshot(&list),
        ],
    );
    step(
        "vm create (crash-consistent)",
        &["vm", "create", "--vm", "100"],
    );
    step(
        "vm create --suspend",
        &["vm", "create", "--vm", "100", "--suspend"],
    );
    step(
        "vm create --freeze",
        &["vm", "create", "--vm", "100", "--freeze"],
    );
    let sets = step(
        "vm list",
        &["--output", "json", "vm", "list", "--vm", "100"],
    );
    let ts = first_set(&sets);
    step(
        "vm delete",
        &["vm", "delete", "--vm", "100", "--snapshot", &ts],
    );
    next_second();
    env.run(&["vm", "create", "--vm", "102"]);
    let sets = env
        .run(&["--output", "json", "vm", "list", "--vm", "102"])
        .1;
    step(
        "vm restore --yes (stopped VM)",
        &[
            "vm",
            "restore",
            "--vm",
            "102",
            "--snapshot",
            &first_set(&sets),
            "--yes",
        ],
    );
    step(
        "vm prune --keep-last 1",
        &["vm", "prune", "--vm", "100", "--keep-last", "1"],
    );
    step(
        "status (3 storages, ONTAP read once per volume)",
        &["status"],
    );
    step("status --offline (journal only)", &["status", "--offline"]);
}

fn last_snapshot(list_json: &str) -> String {
    let v: Value = serde_json::from_str(list_json).expect("list JSON");
    let rows = v.as_array().cloned().unwrap_or_default();
    rows.iter()
        .filter_map(|r| r["name"].as_str())
        .max()
        .expect("a snapshot in the list")
        .to_string()
}

fn first_set(list_json: &str) -> String {
    let v: Value = serde_json::from_str(list_json).expect("vm list JSON");
    v.as_array()
        .and_then(|a| a.first())
        .and_then(|s| s["timestamp"].as_str())
        .expect("a snapshot set")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// 3. Pause window of `vm create --suspend` / `--freeze` by disk count and latency.

/// The default scenario as JSON, changed by `edit`, read back.
fn scenario_with(edit: impl FnOnce(&mut Value)) -> Scenario {
    let mut v = serde_json::to_value(Scenario::default()).expect("scenario to JSON");
    edit(&mut v);
    serde_json::from_value(v).expect("edited scenario")
}

/// Add files to volume ONTAP01 of a scenario JSON.
fn add_files(v: &mut Value, paths: &[String]) {
    let vols = v["ontap"]["volumes"].as_array_mut().expect("volumes");
    let vol = vols
        .iter_mut()
        .find(|vol| vol["name"] == "ONTAP01")
        .expect("ONTAP01 in the default scenario");
    let files = vol["files"].as_array_mut().expect("files");
    for p in paths {
        files.push(json!({"path": p, "size": 4u64 << 30}));
    }
}

fn add_guest(v: &mut Value, guest: Value) {
    v["pve"]["guests"]
        .as_array_mut()
        .expect("guests")
        .push(guest);
}

/// The default scenario plus running VMs 301, 304, 316 with 1, 4 and 16 raw disks on ONTAP01.
fn many_disk_scenario() -> Scenario {
    scenario_with(|v| {
        for disks in [1u32, 4, 16] {
            let vmid = 300 + disks;
            let mut config =
                json!({"name": format!("disks{disks}"), "agent": "1", "memory": "2048"});
            let mut files = Vec::new();
            for i in 0..disks {
                let file = format!("vm-{vmid}-disk-{i}.raw");
                config[format!("scsi{i}")] = json!(format!("ONTAP01:{vmid}/{file},size=4G"));
                files.push(format!("images/{vmid}/{file}"));
            }
            add_files(v, &files);
            add_guest(
                v,
                json!({"vmid": vmid, "type": "qemu", "node": "pve1", "status": "running",
                       "config": config, "agent": {"responding": true}}),
            );
        }
    })
}

fn log_time(entry: &RequestLogEntry) -> OffsetDateTime {
    OffsetDateTime::parse(&entry.time, &Rfc3339).expect("RFC 3339 log time")
}

/// From the start of the pause/freeze request to the start of the resume/thaw request.
fn window(reqs: &[RequestLogEntry], start: &str, end: &str) -> Option<f64> {
    let a = reqs
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with(start))?;
    let b = reqs
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with(end))?;
    Some(ms((log_time(b) - log_time(a)).unsigned_abs()))
}

/// The shortest window the simulator's timings allow (the default scenario): `--suspend` = the
/// Proxmox pause task + one ONTAP clone job + two round trips (the task poll that sees the pause
/// end, the clone request answered when its job ends); `--freeze` = the clone job + two round
/// trips (the synchronous freeze call, the clone request).
fn window_limit(mode: &str, latency: u64) -> f64 {
    let s = Scenario::default();
    let job = s.ontap.job_duration_ms;
    let limit = match mode {
        "--suspend" => s.pve.timing.task_ms + job + 2 * latency,
        _ => job + 2 * latency,
    };
    limit as f64
}

fn pause_windows(report: &mut Report) {
    for latency in [0u64, 20] {
        let env = Env::new(many_disk_scenario(), latency, true, "");
        for (mode, start, end) in [
            ("--suspend", "/status/suspend", "/status/resume"),
            ("--freeze", "/agent/fsfreeze-freeze", "/agent/fsfreeze-thaw"),
        ] {
            let mut base = None;
            for disks in [1usize, 4, 16] {
                let vmid = (300 + disks).to_string();
                let mut windows = Vec::new();
                let mut requests = 0;
                for _ in 0..5 {
                    next_second();
                    env.clear_log();
                    env.run(&["vm", "create", "--vm", &vmid, mode]);
                    let reqs = env.requests();
                    requests = reqs.len();
                    windows.push(window(&reqs, start, end).expect("pause and resume in the log"));
                }
                let w = median(windows);
                let base_w = *base.get_or_insert(w);
                let limit = window_limit(mode, latency);
                report.row(
                    "Pause window of vm create (median of 5; suspend/freeze request to resume/thaw request)",
                    json!({"what": format!("{mode}, {disks} disk(s), {latency} ms latency"),
                           "window ms": w, "vs 1 disk": w / base_w.max(0.001), "requests": requests,
                           "limit ms": limit, "vs limit": w / limit}),
                );
            }
        }
    }
}

/// The number in `... <what> in <N> ms ...` of the tool's debug log.
fn logged_ms(stderr: &str, what: &str) -> f64 {
    stderr
        .lines()
        .find_map(|l| {
            let rest = &l[l.find(what)? + what.len()..];
            rest.trim_start().split(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no '{what}' in the debug log:\n{stderr}"))
}

/// What the guardian of a window costs: it is armed before the pause/freeze request and released
/// after the resume/thaw request, so the window (measured as in `pause_windows`, from the
/// simulator's log) holds none of it; the wall time holds both. Arm and release times are the
/// tool's own debug-log figures of the same runs. With `BENCH_BASELINE_TOOL=<binary>` (a build
/// without the guardian, e.g. of the previous release), the same runs of that binary are measured
/// too, next to this build's.
fn guardian_cost(report: &mut Report) {
    let env = Env::new(Scenario::default(), 20, true, "");
    let mut tools = vec![("this build", PathBuf::from(TOOL))];
    if let Some(baseline) = std::env::var_os("BENCH_BASELINE_TOOL") {
        tools.push(("baseline", PathBuf::from(baseline)));
    }
    for (mode, start, end) in [
        ("--suspend", "/status/suspend", "/status/resume"),
        ("--freeze", "/agent/fsfreeze-freeze", "/agent/fsfreeze-thaw"),
    ] {
        for (build, tool) in &tools {
            let (mut windows, mut walls, mut arms, mut releases) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..7 {
                next_second();
                env.clear_log();
                let (took, stderr) = env.run_stderr(
                    tool,
                    &["--log-level", "debug", "vm", "create", "--vm", "100", mode],
                );
                let reqs = env.requests();
                windows.push(window(&reqs, start, end).expect("pause and resume in the log"));
                walls.push(ms(took));
                if *build == "this build" {
                    arms.push(logged_ms(&stderr, "guardian armed in"));
                    releases.push(logged_ms(&stderr, "guardian released in"));
                }
            }
            let mut row = json!({"what": format!("{mode} ({build})"),
                   "window ms": median(windows),
                   "wall ms": median(walls)});
            if !arms.is_empty() {
                row["guardian arm ms"] = json!(median(arms));
                row["guardian release ms"] = json!(median(releases));
            }
            report.row(
                "Guardian of the window: vm create, VM 100 (4 disks), 20 ms latency (median of 7)",
                row,
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. A volume with 1000 snapshots.

fn thousand_snapshots(report: &mut Report) {
    let start = OffsetDateTime::now_utc() - Duration::from_secs(1000 * 3600);
    let scenario = scenario_with(|v| {
        let vols = v["ontap"]["volumes"].as_array_mut().expect("volumes");
        let vol = vols
            .iter_mut()
            .find(|vol| vol["name"] == "ONTAP01")
            .expect("ONTAP01");
        let snaps = vol["snapshots"].as_array_mut().expect("snapshots");
        for i in 0..1000u64 {
            let at = start + Duration::from_secs(i * 3600);
            let name = format!(
                "proxmox_snapshot_{}",
                at.format(time::macros::format_description!(
                    "[year]-[month]-[day]_[hour]:[minute]:[second]+0000"
                ))
                .expect("format")
            );
            snaps.push(
                json!({"name": name, "create_time": at.format(&Rfc3339).expect("rfc3339"),
                              "comment": "bench"}),
            );
        }
    });
    // The default volume already has two snapshots: stay below ONTAP's limit of 1023.
    let env = Env::new(scenario, 0, true, "");
    // Past the capacity guard's limit, so `status` would exit 1: it writes a textfile instead.
    let prom = env.dir.join("status.prom").display().to_string();
    for (what, args) in [
        (
            "storage list (1000 snapshots)",
            vec!["storage", "list", "--storage", "ONTAP01"],
        ),
        (
            "status (1000 snapshots)",
            vec![
                "status",
                "--storage",
                "ONTAP01",
                "--format",
                "prometheus",
                "--textfile",
                &prom,
            ],
        ),
        (
            "storage prune --keep-last 10 (990 deleted)",
            vec![
                "storage",
                "prune",
                "--storage",
                "ONTAP01",
                "--keep-last",
                "10",
            ],
        ),
    ] {
        env.clear_log();
        let (took, _) = env.run(&args);
        let (all, pve, ontap) = count(&env.requests());
        report.row(
            "A volume with 1000 snapshots",
            json!({"what": what, "wall ms": ms(took), "requests": all, "Proxmox": pve, "ONTAP": ontap}),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Twenty concurrent post-stop hooks on one storage.

fn concurrent_hooks(report: &mut Report) {
    let scenario = scenario_with(|v| {
        for vmid in 400..420u32 {
            add_files(v, &[format!("images/{vmid}/vm-{vmid}-disk-0.raw")]);
            add_guest(
                v,
                json!({"vmid": vmid, "type": "qemu", "node": "pve1", "status": "stopped",
                       "config": {"scsi0": format!("ONTAP01:{vmid}/vm-{vmid}-disk-0.raw,size=4G")}}),
            );
        }
    });
    let env = Env::new(
        scenario,
        20,
        true,
        "\n[hook]\npost-stop = storage-snapshot\npost-stop.label = poststop\n",
    );
    let before = snapshot_count(&env);
    env.clear_log();
    let start = Instant::now();
    let children: Vec<_> = (0..20u32)
        .map(|i| {
            let mut c = env.cmd(&["hook", &(400 + i).to_string(), "post-stop"]);
            c.stdout(Stdio::null()).stderr(Stdio::null());
            c.spawn().expect("spawn hook")
        })
        .collect();
    let mut ok = 0;
    for mut child in children {
        if child.wait().map(|s| s.success()).unwrap_or(false) {
            ok += 1;
        }
    }
    let took = start.elapsed();
    let created = snapshot_count(&env) - before;
    report.row(
        "Twenty concurrent post-stop hooks on one storage (20 ms latency)",
        json!({"what": "20 × hook <vmid> post-stop, storage-snapshot", "wall ms": ms(took),
               "exit 0": ok, "ONTAP snapshots created": created, "requests": env.requests().len()}),
    );
}

fn snapshot_count(env: &Env) -> usize {
    let out = env
        .run(&[
            "--output",
            "json",
            "storage",
            "list",
            "--storage",
            "ONTAP01",
            "--all",
        ])
        .1;
    serde_json::from_str::<Value>(&out)
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// 6. End-to-end wall time at 20 ms latency.

fn end_to_end(report: &mut Report) {
    let env = Env::new(Scenario::default(), 20, true, "");
    let mut times = |what: &str, f: &dyn Fn() -> Duration| {
        let v: Vec<f64> = (0..5).map(|_| ms(f())).collect();
        report.row(
            "End-to-end wall time at 20 ms simulated latency (median of 5)",
            json!({"what": what, "wall ms": median(v)}),
        );
    };
    times("storage create", &|| {
        // Two creates within one second would wait for the next one (names are per second).
        next_second();
        env.run(&["storage", "create", "--storage", "ONTAP02"]).0
    });
    times("storage mount + unmount", &|| {
        let list = env
            .run(&[
                "--output",
                "json",
                "storage",
                "list",
                "--storage",
                "ONTAP02",
            ])
            .1;
        let snap = last_snapshot(&list);
        let a = env
            .run(&[
                "storage",
                "mount",
                "--storage",
                "ONTAP02",
                "--snapshot",
                &snap,
            ])
            .0;
        let b = env
            .run(&["storage", "unmount", "--storage", "ONTAP02-CLONE"])
            .0;
        a + b
    });
    times("vm create --freeze (VM 100, 4 disks)", &|| {
        next_second();
        env.run(&["vm", "create", "--vm", "100", "--freeze"]).0
    });
}
