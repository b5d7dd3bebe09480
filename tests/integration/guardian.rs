//! The guardian of every pause, freeze and shutdown window (issue 17), with the real binary and the
//! simulator: the tool SIGKILLed at every request boundary inside its window (the matrix is made
//! from each workflow's clean run, like the fault matrix), a tool that is stuck past its bound, and
//! no guardian process left after normal runs.
//!
//! A boundary: request N of the clean run has taken effect and the tool waits for its answer (the
//! simulator holds the answer back); the tool is killed with SIGKILL there, so no code of it runs.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pve_ontap_sim::faults::glob_match;
use pve_ontap_sim::http::percent_decode;
use serde_json::Value;

use crate::faults::harness::Workflow;
use crate::faults::harness::{fault_rule, observe, parallel, Bench, FaultKind, Invocation, Mode};
use crate::faults::{options, POLICY, VZDUMP_ENV};
use crate::secrets::SyslogSink;
use crate::util::{FaultRule, RequestLogEntry, RunStatus, TestEnv, TEST_ROOT_ENV};

/// Threads running cells (each with its own simulator).
const THREADS: usize = 3;
/// How soon after the kill every guest must be back and the guardian gone.
const BACK_WITHIN: Duration = Duration::from_secs(5);

/// One workflow with a window: how it is run and which requests open and close its window.
struct Case {
    workflow: Workflow,
    /// Path pattern of the request that opens the window (its first match) ...
    enter: &'static str,
    /// ... and of the one that closes it (its last match).
    undo: &'static str,
    /// The guest whose disk sets the run makes (none for a storage snapshot).
    sets_of: Option<u32>,
}

fn cases() -> Vec<Case> {
    let cli = |name, prepare| Workflow {
        name,
        mode: Mode::Cli,
        may_add: &[],
        prepare,
    };
    vec![
        Case {
            workflow: cli("vm create --suspend", |_| {
                Invocation::args(&["vm", "create", "--vm", "100", "--suspend"])
            }),
            enter: "*/status/suspend",
            undo: "*/status/resume",
            sets_of: Some(100),
        },
        Case {
            workflow: cli("vm create --freeze", |_| {
                Invocation::args(&["vm", "create", "--vm", "103", "--freeze"])
            }),
            enter: "*/agent/fsfreeze-freeze",
            undo: "*/agent/fsfreeze-thaw",
            sets_of: Some(103),
        },
        Case {
            workflow: cli("vm create --shutdown", |_| {
                Invocation::args(&["vm", "create", "--vm", "101", "--shutdown"])
            }),
            enter: "*/status/shutdown",
            undo: "*/status/start",
            sets_of: Some(101),
        },
        Case {
            workflow: cli("storage create --freeze", |_| {
                Invocation::args(&["storage", "create", "--storage", "ONTAP02", "--freeze"])
            }),
            enter: "*/agent/fsfreeze-freeze",
            undo: "*/agent/fsfreeze-thaw",
            sets_of: None,
        },
        Case {
            // `[vzdump:103] backup-start = vm-snapshot, freeze = yes` (the matrix's policy).
            workflow: Workflow {
                name: "vzdump hook with freeze = yes",
                mode: Mode::HookContinue,
                may_add: &[],
                prepare: |_| {
                    Invocation::args(&["vzdump", "backup-start", "snapshot", "103"])
                        .with_env(VZDUMP_ENV)
                        .wiped()
                },
            },
            enter: "*/agent/fsfreeze-freeze",
            undo: "*/agent/fsfreeze-thaw",
            sets_of: Some(103),
        },
    ]
}

fn path_of(e: &RequestLogEntry) -> String {
    percent_decode(&e.path, false)
}

/// Indices of the clean run's requests from the one opening the window to the one closing it.
fn window(case: &Case, requests: &[RequestLogEntry]) -> std::ops::RangeInclusive<usize> {
    let first = requests
        .iter()
        .position(|e| e.method == "POST" && glob_match(case.enter, &path_of(e)))
        .unwrap_or_else(|| panic!("{}: no request opens the window", case.workflow.name));
    let last = requests
        .iter()
        .rposition(|e| e.method == "POST" && glob_match(case.undo, &path_of(e)))
        .unwrap_or_else(|| panic!("{}: no request closes the window", case.workflow.name));
    assert!(
        first < last,
        "{}: window {first}..{last}",
        case.workflow.name
    );
    first..=last
}

/// The tool as `Bench::run` starts it, but not waited for: stdout discarded, stderr to `log`.
fn spawn(bench: &Bench, inv: &Invocation, log: &std::path::Path) -> Child {
    let args: Vec<&str> = inv.args.iter().map(String::as_str).collect();
    let mut cmd = bench.env.command(&args);
    if inv.wipe_env {
        cmd.env_clear();
    }
    cmd.env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none")
        .env(TEST_ROOT_ENV, bench.env.dir())
        .envs(inv.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(log).expect("creating the stderr file"));
    cmd.spawn().expect("starting the tool")
}

/// Live guardian processes started by the tool with this pid (a zombie has no command line).
pub fn guardians_of(tool_pid: u32) -> Vec<u32> {
    let wanted = ["internal-guardian", "--for", &tool_pid.to_string()].join("\0");
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&wanted))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What is wrong with the guests now: a guest that ran before and does not run now, or runs
/// paused, or any guest whose filesystems are frozen.
fn guests_not_back(env: &TestEnv, running_before: &[u32]) -> Vec<String> {
    env.world(|w| {
        let mut wrong = Vec::new();
        for (vmid, g) in &w.pve.guests {
            if running_before.contains(vmid) && g.run != RunStatus::Running {
                wrong.push(format!("guest {vmid} is {:?}", g.run));
            }
            if g.agent.frozen {
                wrong.push(format!("guest {vmid} is frozen"));
            }
        }
        wrong
    })
}

fn running(env: &TestEnv) -> Vec<u32> {
    env.world(|w| {
        w.pve
            .guests
            .iter()
            .filter(|(_, g)| g.run == RunStatus::Running)
            .map(|(v, _)| *v)
            .collect()
    })
}

/// Disk sets of the guest as `vm list --output json` shows them.
fn disk_sets(bench: &Bench, vmid: u32) -> Result<Vec<Value>, String> {
    let out = bench.run(&Invocation::args(&[
        "--output",
        "json",
        "vm",
        "list",
        "--vm",
        &vmid.to_string(),
    ]));
    if out.code != 0 {
        return Err(format!("vm list failed: {}", out.stderr));
    }
    let list: Value = serde_json::from_str(&out.stdout).map_err(|e| format!("{e}"))?;
    Ok(list
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["kind"] == "disk set")
                .cloned()
                .collect()
        })
        .unwrap_or_default())
}

/// Where the tool is killed: while request N is held before its handler runs (it takes effect
/// only after the kill, as a request the server finishes for a client that went away), or after
/// it took effect, while its answer is held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Before,
    After,
}

/// Kill the tool at boundary `index` of the clean run; the problems found (empty: fine).
fn kill_cell(
    bench: &Bench,
    case: &Case,
    clean: &[RequestLogEntry],
    (index, held): (usize, Held),
) -> Vec<String> {
    bench.reset();
    let _ = std::fs::remove_dir_all(bench.env.path("var/lib/pve-ontap-snapshot"));
    let inv = (case.workflow.prepare)(bench);
    let running_before = running(&bench.env);
    let sets_before = case
        .sets_of
        .map(|v| disk_sets(bench, v).map(|s| s.len()).unwrap_or(0));
    let mut rule: FaultRule = fault_rule(clean, index, FaultKind::Slow);
    match held {
        // Within the tool's request timeout (2 s in the bench's config): the guardian lingers
        // that long after the tool died and catches the late effect.
        Held::Before => {
            rule.answer_delay_ms = 0;
            rule.delay_ms = 1000;
        }
        Held::After => rule.answer_delay_ms = 10_000,
    }
    bench.env.add_fault(rule);
    let log = bench.env.path("tool.stderr");
    let mut child = spawn(bench, &inv, &log);
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut problems = Vec::new();
    loop {
        if bench.env.sim().faults().iter().any(|f| f.applied > 0) {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            return vec![format!("the run ended ({status}) before the boundary")];
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return vec!["the boundary was never reached".into()];
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let applied = Instant::now();
    // The request is held (before or after its handler). SIGKILL: no code of the tool runs.
    std::thread::sleep(Duration::from_millis(30));
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let killed = Instant::now();
    // A request held before its handler takes effect when its delay ends, after the kill: the
    // guests are judged once it has (and within this cell, not the next one's world).
    if held == Held::Before {
        std::thread::sleep(Duration::from_millis(1500).saturating_sub(applied.elapsed()));
    }
    loop {
        let wrong = guests_not_back(&bench.env, &running_before);
        let guardians = guardians_of(pid);
        if wrong.is_empty() && guardians.is_empty() {
            break;
        }
        if killed.elapsed() > BACK_WITHIN {
            problems.extend(wrong);
            if !guardians.is_empty() {
                problems.push(format!("guardian processes still run: {guardians:?}"));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    if !stderr.contains(&format!(
        "guardian of pid {pid}: the tool ended inside its window"
    )) {
        problems.push(format!("the guardian did not log what it did:\n{stderr}"));
    }
    if let (Some(vmid), Some(before)) = (case.sets_of, sets_before) {
        // Let any clone job of the dead run end before the sets are read.
        bench.env.sim().clear_faults();
        match disk_sets(bench, vmid) {
            Ok(sets) => {
                for set in sets.iter().skip(before) {
                    if !set["partial"]
                        .as_str()
                        .is_some_and(|p| p.starts_with("incomplete"))
                    {
                        problems.push(format!("a set of the killed run is not incomplete: {set}"));
                    }
                }
            }
            Err(e) => problems.push(e),
        }
    }
    problems
}

/// SIGKILL at every request boundary inside the window of each workflow: within a few seconds
/// every guest runs again and is thawed, no guardian is left, and what the run made is reported
/// as incomplete.
#[test]
fn a_killed_tool_never_leaves_a_guest_paused_frozen_or_stopped() {
    let started = Instant::now();
    let cases = cases();
    let make_bench = || Bench::new(options(), POLICY);
    let cleans: Vec<Vec<RequestLogEntry>> = parallel(
        (0..cases.len()).collect(),
        THREADS,
        &make_bench,
        &|bench, c| {
            let obs = observe(bench, &cases[c].workflow, None);
            assert_eq!(
                obs.out.code, 0,
                "{}: clean run failed: {}",
                cases[c].workflow.name, obs.out.stderr
            );
            obs.requests
        },
    );
    // Every request of the window after it took effect; the mutations also before (a GET held
    // before its handler is the boundary after the request before it).
    let mut cells = Vec::new();
    for (c, clean) in cleans.iter().enumerate() {
        for index in window(&cases[c], clean) {
            cells.push((c, index, Held::After));
            if clean[index].method != "GET" {
                cells.push((c, index, Held::Before));
            }
        }
    }
    let count = cells.len();
    let verdicts = parallel(cells, THREADS, &make_bench, &|bench, (c, index, held)| {
        let problems = kill_cell(bench, &cases[c], &cleans[c], (index, held));
        let e = &cleans[c][index];
        let when = match held {
            Held::Before => "before",
            Held::After => "after",
        };
        (
            format!(
                "{} | killed {when} request #{index} {} {} took effect",
                cases[c].workflow.name,
                e.method,
                path_of(e)
            ),
            problems,
        )
    });
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(label, p)| format!("{label}:\n    {}", p.join("\n    ")))
        .collect();
    println!(
        "kill matrix: {count} kill points in {} workflows, {:.1}s",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(count >= 5 * 4, "too few kill points: {count}");
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

fn stop(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("running kill")
        .success();
    assert!(ok, "kill {signal} {pid}");
}

/// A stuck tool: its clone job is held past --max-pause and the tool itself is stopped (SIGSTOP).
/// The guardian resumes the guest at the bound; the tool, continued, fails naming the bound and
/// deletes the clones of the run.
#[test]
fn a_stuck_tool_gets_its_guest_back_at_the_bound_and_throws_the_run_away() {
    let env = TestEnv::new();
    env.add_fault(FaultRule::new("POST", "/api/storage/file/clone").delay_ms(4000));
    let mut cmd = env.command(&[
        "vm",
        "create",
        "--vm",
        "100",
        "--suspend",
        "--max-pause",
        "2s",
    ]);
    let log = env.path("tool.stderr");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    // Wait until the guest is paused, then stop the tool: it can do nothing from here.
    let deadline = Instant::now() + Duration::from_secs(20);
    while env.guest_status(100) != Some(RunStatus::Paused) {
        assert!(Instant::now() < deadline, "the guest was never paused");
        std::thread::sleep(Duration::from_millis(5));
    }
    let paused = Instant::now();
    stop(pid, "-STOP");
    // One guardian watches, and the Proxmox password reached it through no argv or environment.
    let guardians = guardians_of(pid);
    assert_eq!(guardians.len(), 1, "{guardians:?}");
    let password = std::fs::read_to_string(env.config_path())
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("proxmox_pass = ").map(str::to_string))
        .expect("a password in the config");
    assert!(password.len() >= 6, "{password}");
    for what in ["cmdline", "environ"] {
        let text = std::fs::read(format!("/proc/{}/{what}", guardians[0])).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains(&password),
            "the secret is in the guardian's {what}"
        );
    }
    while env.guest_status(100) == Some(RunStatus::Paused) {
        assert!(
            paused.elapsed() < Duration::from_secs(4),
            "the guest is still paused {:?} after the pause",
            paused.elapsed()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let resumed = paused.elapsed();
    // Only the guardian can have resumed it (the tool is stopped), and only at the bound.
    assert!(
        resumed >= Duration::from_millis(1000),
        "resumed after {resumed:?}"
    );
    assert_eq!(env.guest_status(100), Some(RunStatus::Running));
    stop(pid, "-CONT");
    let status = child.wait().unwrap();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("reached its bound (--max-pause 2s)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("clones made in this run were deleted"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "guardian of pid {pid}: the window over guests 100 reached its bound"
        )),
        "{stderr}"
    );
    let clones: Vec<String> = env
        .files("ONTAP01")
        .into_keys()
        .filter(|f| f.starts_with("images/100/") && f.contains("-snapshot-"))
        .collect();
    assert!(clones.is_empty(), "{clones:?}");
    assert_eq!(env.guest_status(100), Some(RunStatus::Running));
    assert!(guardians_of(pid).is_empty());
}

/// A tool that is slow but not stopped closes the window itself at the bound: same outcome.
#[test]
fn a_clone_job_held_past_the_bound_fails_the_run_and_names_the_bound() {
    let env = TestEnv::new();
    let sink = SyslogSink::bind(env.path("syslog.sock"));
    env.add_fault(FaultRule::new("POST", "/api/storage/file/clone").delay_ms(3000));
    let socket = env.path("syslog.sock").display().to_string();
    let out = env.run_with_env(
        &[
            "vm",
            "create",
            "--vm",
            "103",
            "--freeze",
            "--max-pause",
            "1s",
        ],
        &[("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", socket.as_str())],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("reached its bound (--max-pause 1s)"),
        "{}",
        out.stderr
    );
    // The guardian said what it did, in the task log (stderr) and in syslog.
    let said = "the window over guests 103 reached its bound (--max-pause 1s)";
    assert!(out.stderr.contains(said), "{}", out.stderr);
    let syslog = sink.drain();
    assert!(
        syslog.iter().any(|m| m.contains(said)) && syslog.iter().any(|m| m.contains("thawed")),
        "{syslog:?}"
    );
    assert!(!env.agent_frozen(103));
    let thaw = env.requests_matching(None, "POST", "*/agent/fsfreeze-thaw");
    let freeze = env.requests_matching(None, "POST", "*/agent/fsfreeze-freeze");
    assert_eq!(freeze.len(), 1);
    assert!(!thaw.is_empty());
    let clones: Vec<String> = env
        .volume_names()
        .iter()
        .flat_map(|v| env.files(v).into_keys())
        .filter(|f| f.starts_with("images/103/") && f.contains("-snapshot-"))
        .collect();
    assert!(clones.is_empty(), "{clones:?}");
}

/// Normal runs leave no guardian behind, and every window had one while it was open.
#[test]
fn normal_runs_leave_no_guardian_behind() {
    let env = TestEnv::new();
    for args in [
        &["vm", "create", "--vm", "100", "--suspend"][..],
        &["vm", "create", "--vm", "103", "--freeze"][..],
        &["vm", "create", "--vm", "101", "--shutdown"][..],
        &["storage", "create", "--storage", "ONTAP02", "--freeze"][..],
    ] {
        let mut cmd = env.command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(guardians_of(pid).is_empty(), "{args:?}");
        assert!(!stderr.contains("guardian of pid"), "{args:?}: {stderr}");
    }
}

/// Where systemd runs, the guardian gets a transient scope of its own (out of the calling
/// service's cgroup, bounded by `RuntimeMaxSec`); where `systemd-run` fails, it still gets a
/// session of its own and the window is guarded all the same.
#[test]
fn on_a_systemd_host_the_guardian_runs_in_a_scope_of_its_own() {
    use std::os::unix::fs::PermissionsExt;
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("run/systemd/system")).unwrap();
    std::fs::create_dir_all(env.path("usr/bin")).unwrap();
    let calls = env.path("systemd-run.calls");
    let fake = env.path("usr/bin/systemd-run");
    // Stands in for systemd-run --scope: note the arguments, then run the command after `--`
    // in place (as systemd-run does once the scope exists), or fail as without a system bus.
    let script = |fail: bool| {
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\n{}while [ \"$1\" != \"--\" ]; do shift; done\nshift\nexec \"$@\"\n",
            calls.display(),
            if fail {
                "echo 'Failed to connect to bus' >&2\nexit 1\n"
            } else {
                ""
            }
        )
    };
    for fail in [false, true] {
        let _ = std::fs::remove_file(&calls);
        std::fs::write(&fake, script(fail)).unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = env.command(&["vm", "create", "--vm", "100", "--suspend"]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let called = std::fs::read_to_string(&calls).unwrap();
        let args: Vec<&str> = called.trim().split(' ').collect();
        assert_eq!(args[0], "--scope", "{called}");
        assert!(
            args.contains(&format!("--unit=pve-ontap-snapshot-guardian-{pid}-0").as_str()),
            "{called}"
        );
        // The bound (60 s for a pause) plus the time every undo may take.
        assert!(args.contains(&"--property=RuntimeMaxSec=1260"), "{called}");
        let tail: Vec<&str> = args[args.iter().position(|a| *a == "--").unwrap() + 1..].to_vec();
        assert!(
            tail.ends_with(&["internal-guardian", "--for", &pid.to_string()]),
            "{called}"
        );
        assert!(!called.contains("proxmox_pass"), "{called}");
        if fail {
            assert!(
                stderr.contains("could not start the guardian (Scope"),
                "{stderr}"
            );
        } else {
            assert!(!stderr.contains("could not start the guardian"), "{stderr}");
        }
        assert_eq!(env.guest_status(100), Some(RunStatus::Running));
        assert!(guardians_of(pid).is_empty());
    }
}
