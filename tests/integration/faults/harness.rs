//! The fault-matrix machinery: a bench per thread (simulator + temp dir + config with short
//! timeouts), clean runs that record each workflow's requests, and one cell per request × fault.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use pve_ontap_sim::faults::glob_match;
use pve_ontap_sim::http::percent_decode;
use serde_json::{json, Value};

use super::state::{self, Change};
use crate::util::{
    run_command, Api, FaultRule, Output, RequestLogEntry, SimOptions, TestEnv, TEST_ROOT_ENV,
};

/// Request timeout written into the config (`proxmox_timeout`, `timeout`), in seconds.
pub const TIMEOUT_SECS: u64 = 2;
/// A "slow" answer comes this long after the server did the work: well past the timeout.
pub const SLOW_MS: u64 = TIMEOUT_SECS * 1000 + 1000;
/// A run of the binary still going after this long is a hang (and a failed cell).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// What one workflow run needs: its arguments and extra environment.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Start from an empty environment, as vzdump runs its hook script.
    pub wipe_env: bool,
}

impl Invocation {
    pub fn args(args: &[&str]) -> Invocation {
        Invocation {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            wipe_env: false,
        }
    }

    pub fn wiped(mut self) -> Invocation {
        self.wipe_env = true;
        self
    }

    pub fn with_env(mut self, env: &[(&str, &str)]) -> Invocation {
        self.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self
    }
}

/// How a failure must show in the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A command line: a failure exits 1.
    Cli,
    /// A hook with `on-error = continue`: a failure is logged, the exit code stays 0.
    HookContinue,
}

/// One workflow of the matrix.
pub struct Workflow {
    pub name: &'static str,
    pub mode: Mode,
    /// Bring the fresh simulator to the workflow's starting point (runs of the binary that must
    /// succeed) and say how to invoke the workflow.
    pub prepare: fn(&Bench) -> Invocation,
    /// Fact lines (`*` patterns) a failed run may add although the clean run's end state lacks
    /// them: intermediate results that are complete and harmless (e.g. a safety snapshot).
    pub may_add: &'static [&'static str],
}

/// The kinds of single faults injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// An error status with the API's own error body (ONTAP 500/409, Proxmox 500).
    ApiError,
    /// The connection closes without an answer.
    Drop,
    /// The request is carried out, its answer comes after the configured timeout.
    Slow,
    /// The request's ONTAP job or Proxmox task fails.
    FailJob,
    /// 401: credentials refused.
    Unauthorized,
}

impl FaultKind {
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ApiError => "api-error",
            FaultKind::Drop => "drop",
            FaultKind::Slow => "slow",
            FaultKind::FailJob => "fail-job",
            FaultKind::Unauthorized => "401",
        }
    }
}

/// The test's world for one thread: a simulator over the matrix scenario and a config with short
/// timeouts and the hook policies.
pub struct Bench {
    pub env: TestEnv,
}

impl Bench {
    pub fn new(options: SimOptions, policy: &str) -> Bench {
        let env = TestEnv::with_options(options);
        let config = with_timeouts(&env.default_config(), TIMEOUT_SECS) + policy;
        env.write_config(&config);
        Bench { env }
    }

    /// Back to the scenario: world, faults, request log, lock directories.
    pub fn reset(&self) {
        self.env.sim().reset();
        for dir in ["run/lock/pve-ontap-snapshot", "etc/pve/priv/lock"] {
            let path = self.env.path(dir);
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("recreating a lock dir");
        }
    }

    /// Run the binary (with `--config`); used by `prepare` for set-up steps.
    pub fn run(&self, inv: &Invocation) -> Output {
        let args: Vec<&str> = inv.args.iter().map(String::as_str).collect();
        let mut cmd = self.env.command(&args);
        if inv.wipe_env {
            cmd.env_clear();
        }
        cmd.env("PVE_ONTAP_SNAPSHOT_SYSLOG_SOCKET", "none")
            .env(TEST_ROOT_ENV, self.env.dir());
        cmd.envs(inv.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        run_command(cmd, None, RUN_LIMIT)
    }

    /// A set-up step that must succeed.
    #[track_caller]
    pub fn setup(&self, args: &[&str]) -> Output {
        let out = self.run(&Invocation::args(args));
        out.assert_ok();
        out
    }

    fn dump(&self) -> Value {
        self.env.state()
    }

    fn lock_entries(&self) -> BTreeSet<String> {
        state::lock_entries(
            &self.env.path("run/lock/pve-ontap-snapshot"),
            &self.env.path("etc/pve/priv/lock"),
        )
    }

    fn locks(&self) -> Vec<String> {
        state::held_locks(
            &self.env.path("run/lock/pve-ontap-snapshot"),
            &self.env.path("etc/pve/priv/lock"),
        )
    }
}

/// Add `proxmox_timeout` to `[proxmox]` and `timeout` to every storage section.
pub fn with_timeouts(config: &str, secs: u64) -> String {
    let mut out = String::new();
    for line in config.lines() {
        out.push_str(line);
        out.push('\n');
        let t = line.trim();
        if t == "[proxmox]" || t == "[DEFAULT]" {
            out.push_str(&format!("proxmox_timeout = {secs}\n"));
        } else if t.starts_with('[') && t.ends_with(']') {
            out.push_str(&format!("timeout = {secs}\n"));
        }
    }
    out
}

/// Everything observed about one run of a workflow.
#[derive(Debug)]
pub struct Observed {
    pub out: Output,
    pub before: Value,
    pub after: Value,
    pub requests: Vec<RequestLogEntry>,
    pub fault_applied: bool,
    pub locks: Vec<String>,
    /// Lock files and directories right before and after the run.
    pub lock_entries: (BTreeSet<String>, BTreeSet<String>),
}

/// Reset, prepare, arm `fault`, run, observe.
pub fn observe(bench: &Bench, wf: &Workflow, fault: Option<FaultRule>) -> Observed {
    bench.reset();
    let inv = (wf.prepare)(bench);
    bench.env.sim().clear_requests();
    let before = bench.dump();
    let entries_before = bench.lock_entries();
    if let Some(rule) = fault {
        bench.env.add_fault(rule);
    }
    let out = bench.run(&inv);
    let entries_after = bench.lock_entries();
    let fault_applied = bench.env.sim().faults().iter().any(|f| f.applied > 0);
    let requests = bench.env.requests();
    let after = bench.dump();
    Observed {
        out,
        before,
        after,
        requests,
        fault_applied,
        locks: bench.locks(),
        lock_entries: (entries_before, entries_after),
    }
}

/// The clean run of a workflow: what it sends and what it changes.
pub struct Clean {
    pub requests: Vec<RequestLogEntry>,
    pub change: Change,
    pub before: BTreeSet<String>,
    pub after: BTreeSet<String>,
}

impl Clean {
    pub fn new(obs: &Observed) -> Clean {
        let before = state::facts(&obs.before);
        let after = state::facts(&obs.after);
        Clean {
            requests: obs.requests.clone(),
            change: Change::between(&before, &after),
            before,
            after,
        }
    }

    /// Whether a line a failed run added is partial progress towards the clean run's result:
    /// a count between the counts before and after the clean run (or above, by at most the
    /// elements the clean run adds), or a line of an object the
    /// clean run creates or removes as a whole.
    fn partial_progress(&self, line: &str) -> bool {
        if let Some((path, n)) = line.split_once(".len = ") {
            let count = |set: &BTreeSet<String>| {
                set.iter().find_map(|l| {
                    l.strip_prefix(path)?
                        .strip_prefix(".len = ")?
                        .parse::<u64>()
                        .ok()
                })
            };
            let elements = |set: &BTreeSet<String>| -> BTreeSet<String> {
                set.iter()
                    .filter_map(|l| l.strip_prefix(path)?.strip_prefix('['))
                    .filter_map(|rest| objects(&format!("[{rest}")).first().cloned())
                    .collect()
            };
            if let (Ok(n), Some(b), Some(a)) =
                (n.parse::<u64>(), count(&self.before), count(&self.after))
            {
                // Up to the count with every element the clean run adds and none it removes.
                let added = elements(&self.after)
                    .difference(&elements(&self.before))
                    .count() as u64;
                return (b.min(a)..=b.max(a) + added).contains(&n);
            }
        }
        objects(line).iter().any(|object| {
            let under = |set: &BTreeSet<String>| set.iter().any(|l| l.starts_with(object.as_str()));
            under(&self.before) != under(&self.after)
        })
    }
}

/// The array elements a fact line belongs to, outermost first: `a.b[x].c[y].d = 1` →
/// `a.b[x].`, `a.b[x].c[y].`.
fn objects(line: &str) -> Vec<String> {
    let path = line.split(" = ").next().unwrap_or(line);
    let mut out = Vec::new();
    let mut depth = 0;
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    out.push(format!("{}.", &path[..=i]));
                }
            }
            _ => {}
        }
    }
    out
}

/// The fault-rule path pattern of a logged request: decoded, with times, UUIDs and the
/// per-run fields of a Proxmox task id (pid, start, time: `UPID:node:0000ABCD:...`) as `*`.
pub fn pattern_of(entry: &RequestLogEntry) -> String {
    let path = state::normalize(&percent_decode(&entry.path, false))
        .replace("<TS>", "*")
        .replace("<UUID>", "*")
        .replace('?', "*");
    let Some(at) = path.find("UPID:") else {
        return path;
    };
    let (head, upid) = path.split_at(at);
    let fields: Vec<&str> = upid
        .split(':')
        .map(|f| {
            let hex = f.len() == 8 && f.bytes().all(|b| b.is_ascii_hexdigit());
            if hex {
                "*"
            } else {
                f
            }
        })
        .collect();
    format!("{head}{}", fields.join(":"))
}

fn same_request(pattern: &str, a: &RequestLogEntry, b: &RequestLogEntry) -> bool {
    a.api == b.api
        && a.method.eq_ignore_ascii_case(&b.method)
        && glob_match(pattern, &percent_decode(&b.path, false))
}

/// Whether the request starts an ONTAP job or a Proxmox task (so `fail_job` can bite).
fn starts_job(entry: &RequestLogEntry) -> bool {
    match entry.api {
        Api::Ontap => entry.status == 202,
        Api::Pve => {
            let path = percent_decode(&entry.path, false);
            entry.method == "POST"
                && (glob_match("*/status/*", &path) || glob_match("*/config", &path))
        }
    }
}

/// The fault rule for `kind` on request `index` of the clean run.
pub fn fault_rule(requests: &[RequestLogEntry], index: usize, kind: FaultKind) -> FaultRule {
    let entry = &requests[index];
    let pattern = pattern_of(entry);
    let skip = requests[..index]
        .iter()
        .filter(|e| same_request(&pattern, entry, e))
        .count();
    let rule = FaultRule::new(&entry.method, &pattern)
        .api(entry.api)
        .skip(u32::try_from(skip).unwrap_or(u32::MAX))
        .count(1);
    let mutation = entry.method != "GET";
    match (kind, entry.api) {
        (FaultKind::ApiError, Api::Ontap) if mutation => rule.status(409).body(json!({
            "error": {"message": "Another operation is in progress on this volume: it cannot be changed now.", "code": "917531"}
        })),
        (FaultKind::ApiError, Api::Ontap) => rule.status(500).body(json!({
            "error": {"message": "Internal error. Failed to query the records (simulated).", "code": "262179"}
        })),
        (FaultKind::ApiError, Api::Pve) => rule
            .status(500)
            .reason("simulated failure: cfs-lock 'storage' error: got lock request timeout")
            .body(json!({"data": null, "message": "simulated failure: cfs-lock 'storage' error: got lock request timeout\n"})),
        (FaultKind::Drop, _) => rule.drop_connection(),
        (FaultKind::Slow, _) => rule.answer_delay_ms(SLOW_MS),
        (FaultKind::FailJob, _) => rule.fail_job(13565952, "simulated job failure: the operation failed on the node"),
        (FaultKind::Unauthorized, Api::Ontap) => rule.status(401).body(json!({
            "error": {"message": "not authorized for that command", "code": "6"}
        })),
        (FaultKind::Unauthorized, Api::Pve) => rule
            .status(401)
            .reason("authentication failure")
            .body(json!({"data": null})),
    }
}

/// The faults that make sense for one request.
pub fn kinds_for(entry: &RequestLogEntry) -> Vec<FaultKind> {
    let mut kinds = vec![
        FaultKind::ApiError,
        FaultKind::Drop,
        FaultKind::Slow,
        FaultKind::Unauthorized,
    ];
    if starts_job(entry) {
        kinds.push(FaultKind::FailJob);
    }
    kinds
}

/// One cell: a workflow, a request index of its clean run, a fault kind.
#[derive(Debug, Clone)]
pub struct Cell {
    pub workflow: usize,
    pub index: usize,
    pub kind: FaultKind,
}

/// How a cell ended.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub label: String,
    pub failed_run: bool,
    pub fault_applied: bool,
    pub problems: Vec<String>,
}

/// Raw error texts that carry no step name (the message must say which step failed).
const BARE_PREFIXES: &[&str] = &[
    "ONTAP ",
    "Proxmox VE ",
    "Proxmox task",
    "timed out",
    "interrupted",
];

/// The `error:` lines of a run's stderr (the text after `pve-ontap-snapshot: error: `).
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("pve-ontap-snapshot: error: "))
        .collect()
}

/// Check a run against the invariants; `clean` is None for the clean run itself.
pub fn judge(label: String, wf: &Workflow, obs: &Observed, clean: Option<&Clean>) -> Verdict {
    let mut problems = Vec::new();
    let out = &obs.out;
    let errors = error_lines(&out.stderr);
    let failed_run = out.code != 0 || !errors.is_empty();
    let before = state::facts(&obs.before);
    let after = state::facts(&obs.after);
    let change = Change::between(&before, &after);

    if out.code == -1 || out.code == 101 || out.stderr.contains("panicked") {
        problems.push(format!("the run hung or panicked (exit {})", out.code));
    }
    match (wf.mode, failed_run) {
        (Mode::Cli, true) if out.code != 1 => {
            problems.push(format!("a failed run must exit 1, not {}", out.code))
        }
        (Mode::HookContinue, _) if out.code != 0 => problems.push(format!(
            "a hook with on-error=continue must exit 0, not {}",
            out.code
        )),
        _ => {}
    }
    if failed_run {
        match errors.last() {
            None => problems.push("the run failed without an 'error:' line on stderr".into()),
            Some(line) => {
                if BARE_PREFIXES.iter().any(|p| line.starts_with(p)) || !line.contains(": ") {
                    problems.push(format!("the error does not name the failed step: {line}"));
                }
            }
        }
    }
    // Every guest stays as it was; a guest a run makes (`vm clone`) is an artefact: a failed run
    // must not leave it, a successful one must make what the clean run made.
    let guests_before = state::guest_states(&obs.before);
    let guests_after = state::guest_states(&obs.after);
    for (vmid, b) in &guests_before {
        match guests_after.iter().find(|(v, _)| v == vmid) {
            Some((_, a)) if a != b => {
                problems.push(format!("guest {vmid} was '{b}', is now '{a}'"));
            }
            Some(_) => {}
            None => problems.push(format!("guest {vmid} is gone")),
        }
    }
    for lock in &obs.locks {
        problems.push(format!("lock held after the run: {lock}"));
    }
    let (entries_before, entries_after) = &obs.lock_entries;
    if entries_before != entries_after {
        problems.push(format!(
            "lock files and directories changed: added {:?}, removed {:?}",
            entries_after.difference(entries_before).collect::<Vec<_>>(),
            entries_before.difference(entries_after).collect::<Vec<_>>()
        ));
    }
    match clean {
        None => {
            if failed_run {
                problems.push("the clean run failed".into());
            } else if change.is_empty() {
                problems.push("the clean run changed nothing".into());
            }
        }
        Some(clean) if !failed_run => {
            let mut diff = change.beyond(&clean.change);
            let mut missing = clean.change.beyond(&change);
            // A hook's or a schedule's storage snapshot is taken even when a guest's
            // configuration could not be recorded with it (the run warns): then those files, and
            // so the file counts, may differ; every other file still shows by its own lines.
            if out
                .stderr
                .contains("configuration not recorded with the snapshot")
            {
                let config_line = |l: &String| {
                    l.contains("[.pve-ontap-snapshot/guests/") || l.contains("].files.len = ")
                };
                for c in [&mut diff, &mut missing] {
                    c.added.retain(|l| !config_line(l));
                    c.removed.retain(|l| !config_line(l));
                }
            }
            if !diff.is_empty() || !missing.is_empty() {
                problems.push(format!(
                    "succeeded, but the result differs from the clean run's:{}{}",
                    diff.describe(6),
                    missing
                        .describe(6)
                        .replace("\n      +", "\n      missing +")
                        .replace("\n      -", "\n      missing -")
                ));
            }
        }
        Some(clean) => {
            let mut beyond = change.beyond(&clean.change);
            let progress: BTreeSet<String> = beyond
                .added
                .iter()
                .filter(|line| {
                    clean.partial_progress(line) || wf.may_add.iter().any(|p| glob_match(p, line))
                })
                .cloned()
                .collect();
            beyond.added.retain(|line| !progress.contains(line));
            // The old count of a list whose new count is partial progress.
            beyond.removed.retain(|line| {
                !line.split_once(".len = ").is_some_and(|(path, _)| {
                    progress.iter().any(|p| {
                        p.strip_prefix(path)
                            .is_some_and(|r| r.starts_with(".len = "))
                    })
                })
            });
            if !beyond.is_empty() {
                problems.push(format!(
                    "the failed run changed state outside the workflow's intended change:{}",
                    beyond.describe(6)
                ));
            }
            // A guest's configuration recorded with a snapshot the run made before it failed
            // (a hook's prune, say) belongs to that snapshot.
            let snapshot_made = change.added.iter().any(|l| l.contains("].snapshots["));
            let left: Vec<String> = state::artefacts(&obs.after)
                .difference(&state::artefacts(&obs.before))
                .filter(|a| !(snapshot_made && a.contains("/.pve-ontap-snapshot/guests/")))
                .cloned()
                .collect();
            if !left.is_empty() {
                problems.push(format!("the failed run left new objects behind: {left:?}"));
            }
        }
    }
    if !problems.is_empty() {
        problems.push(format!(
            "exit {}; stderr:\n{}",
            out.code,
            tail(&out.stderr, 12)
        ));
    }
    Verdict {
        label,
        failed_run,
        fault_applied: obs.fault_applied,
        problems,
    }
}

#[test]
fn patterns_blank_what_differs_between_runs() {
    let entry = |path: &str| RequestLogEntry {
        seq: 1,
        time: String::new(),
        api: Api::Pve,
        method: "GET".into(),
        path: path.into(),
        query: String::new(),
        status: 200,
        duration_ms: 0,
    };
    assert_eq!(
        pattern_of(&entry(
            "/api2/json/nodes/pve1/tasks/UPID%3Apve1%3A00001006%3A00100009%3A6B0831C7%3Aqmpause%3A100%3Aroot%40pam%3A/status"
        )),
        "/api2/json/nodes/pve1/tasks/UPID:pve1:*:*:*:qmpause:100:root@pam:/status"
    );
    assert_eq!(
        pattern_of(&entry(
            "/api/storage/volumes/0f3a2b1c-aaaa-4bbb-8ccc-0123456789ab"
        )),
        "/api/storage/volumes/*"
    );
}

#[test]
fn partial_progress_is_told_from_other_changes() {
    let set = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<BTreeSet<_>>();
    let clean = Clean {
        requests: Vec::new(),
        change: Change::default(),
        before: set(&[
            "v[a].snapshots.len = 6",
            "v[c].name = \"c\"",
            "v[a].name = \"a\"",
        ]),
        after: set(&[
            "v[a].snapshots.len = 3",
            "v[b].name = \"b\"",
            "v[a].name = \"a\"",
        ]),
    };
    assert!(clean.partial_progress("v[a].snapshots.len = 5"));
    assert!(clean.partial_progress("v[a].snapshots.len = 3"));
    assert!(!clean.partial_progress("v[a].snapshots.len = 7"));
    assert!(clean.partial_progress("v[b].junction = null"));
    assert!(clean.partial_progress("v[c].junction = null"));
    assert!(!clean.partial_progress("v[a].junction = null"));
    assert!(!clean.partial_progress("v[d].name = \"d\""));
    let adds_one = Clean {
        before: set(&[
            "v[a].snapshots.len = 2",
            "v[a].snapshots[x].n = 1",
            "v[a].snapshots[y].n = 1",
        ]),
        after: set(&[
            "v[a].snapshots.len = 2",
            "v[a].snapshots[y].n = 1",
            "v[a].snapshots[z].n = 1",
        ]),
        ..clean
    };
    assert!(adds_one.partial_progress("v[a].snapshots.len = 3"));
    assert!(!adds_one.partial_progress("v[a].snapshots.len = 4"));
    assert!(!adds_one.partial_progress("v[a].snapshots.len = 1"));
    assert_eq!(
        objects("a.b[x].c[y[z]].d = 1"),
        ["a.b[x].", "a.b[x].c[y[z]]."]
    );
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("      | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Run `jobs` on `threads` threads, each with its own state (e.g. a bench) made by `make`;
/// results in the order of `jobs`.
pub fn parallel<S, J: Send, R: Send>(
    jobs: Vec<J>,
    threads: usize,
    make: &(dyn Fn() -> S + Sync),
    work: &(dyn Fn(&S, J) -> R + Sync),
) -> Vec<R> {
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let state = make();
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((i, job)) = next else { break };
                    let r = work(&state, job);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
