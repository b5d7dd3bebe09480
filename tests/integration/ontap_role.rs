//! The README's least-privilege ONTAP REST role as a test: with exactly that role every README
//! command and hook action works; without any one entry exactly the runs that need it break, and
//! the error names the user and the API path. (The Proxmox side stays root.)

use std::collections::BTreeSet;

use pve_ontap_sim::{Api, Scenario, SimOptions};
use serde_json::{json, Value};

use crate::readme;
use crate::util::{Output, TestEnv};

const README: &str = include_str!("../../README.md");
const USER: &str = "pve-snapshot";
const PASS: &str = "Le4st-Pr1v;#\"\\=x";
/// The default scenario's oldest snapshot of ONTAP01 (the README's mount example uses it).
const OLDEST_SNAPSHOT: &str = "proxmox_snapshot_2024-03-13_14:42:47+0000";

/// One line of the README's role block.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// `security login rest-role create ... -api PATH -access LEVEL`
    Rest { api: String, access: String },
    /// `security login role create ... -cmddirname "DIR" -access LEVEL`
    Command { dir: String, access: String },
}

impl Entry {
    fn to_json(&self) -> Value {
        match self {
            Entry::Rest { api, access } => json!({"path": api, "access": access}),
            Entry::Command { dir, access } => json!({"command": dir, "access": access}),
        }
    }

    /// What an error must name when this entry is missing.
    fn names(&self) -> String {
        match self {
            Entry::Rest { api, .. } => api.clone(),
            Entry::Command { dir, .. } => format!("/api/private/cli/{}", dir.replace(' ', "/")),
        }
    }
}

fn option<'a>(words: &[&'a str], flag: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| *w == flag)
        .and_then(|i| words.get(i + 1).copied())
}

/// The entries of the README's ONTAP role, in order.
fn readme_role() -> Vec<Entry> {
    let section = README
        .split("### A least-privilege ONTAP REST role")
        .nth(1)
        .expect("README has the ONTAP role section");
    let block = section.split("```").nth(1).expect("a code block");
    let mut out = Vec::new();
    for line in block.lines() {
        let quoted: Vec<&str> = line.split('"').collect();
        let words: Vec<&str> = line.split_whitespace().collect();
        let access = option(&words, "-access").map(str::to_string);
        if line.starts_with("security login rest-role create") {
            let api = option(&words, "-api").expect("-api").to_string();
            out.push(Entry::Rest {
                api,
                access: access.expect("-access"),
            });
        } else if line.starts_with("security login role create") {
            let dir = quoted.get(1).expect("-cmddirname \"...\"").to_string();
            out.push(Entry::Command {
                dir,
                access: access.expect("-access"),
            });
        }
    }
    assert!(out.len() >= 4, "role block not understood: {out:?}");
    out
}

/// The simulator's default world plus the account with a role of these entries.
/// Whether the release `version` ("9.11.1") is older than `than`.
fn version_before(version: &str, than: (u32, u32, u32)) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let v = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    v < than
}

fn env_with(version: &str, entries: &[Entry]) -> TestEnv {
    let privileges: Vec<Value> = entries
        .iter()
        .filter(|e| matches!(e, Entry::Rest { .. }))
        .map(Entry::to_json)
        .collect();
    let commands: Vec<Value> = entries
        .iter()
        .filter(|e| matches!(e, Entry::Command { .. }))
        .map(Entry::to_json)
        .collect();
    let scenario: Scenario = serde_json::from_value(json!({"ontap": {
        "version": version,
        "accounts": [
            {"name": "admin", "password": "Ontap-Pa55;#\"\\=x", "role": "admin"},
            {"name": USER, "password": PASS, "role": "pve-ontap-snapshot"},
        ],
        "rest_roles": [{"name": "pve-ontap-snapshot", "privileges": privileges, "commands": commands}],
    }}))
    .expect("scenario");
    // Snapshot locking needs 9.12.1: releases before it have no volume with it enabled.
    let mut scenario = scenario;
    if version_before(version, (9, 12, 1)) {
        for v in &mut scenario.ontap.volumes {
            v.snapshot_locking_enabled = false;
        }
    }
    let problems = scenario.ontap.validate();
    assert!(
        problems.is_empty(),
        "ONTAP {version} refuses the role: {problems:?}"
    );
    let env = TestEnv::with_options(SimOptions {
        scenario,
        ..SimOptions::default()
    });
    // The ONTAP sections log in as the role's user, with a request timeout short enough that every
    // job is followed through /api/cluster/jobs (return_timeout 0).
    let (admin, admin_pass) = env.world(|w| w.ontap.admin_credentials());
    let config = env
        .default_config()
        .replace(&format!("user = {admin}\n"), &format!("user = {USER}\n"))
        .replace(
            &format!("pass = {admin_pass}\n"),
            &format!("pass = {PASS}\ntimeout = 2\n"),
        );
    assert!(config.contains(&format!("user = {USER}")), "{config}");
    env.write_config(&format!(
        "{config}\n{}\n{}",
        readme::schedule_blocks(),
        readme::hook_blocks()
    ));
    env
}

/// One run: what was run, its output, and the ONTAP requests it made.
struct Run {
    what: String,
    out: Output,
    requests: Vec<(String, String)>,
    /// Whether ONTAP answered one of them 403.
    refused: bool,
}

impl Run {
    /// Failed, or its result reports a refusal it went on without (a purge that was not allowed),
    /// or a hook action failed (with `on-error = continue` the hook still exits 0 and logs
    /// `result=failed`). A documented fallback only logs a warning and is not broken.
    fn broken(&self) -> bool {
        // `status` reports the journal's history (earlier runs' failures, their messages
        // included) and exits 1 on a problem: what the role decides is whether ONTAP refused
        // one of its own reads.
        if self.what.contains(" status") {
            return self.refused;
        }
        self.out.code != 0
            || self.out.stdout.contains("not authorized")
            || self.out.stderr.contains("result=failed")
    }
}

/// Every README example in order, then the README's hook actions, then a SnapMirror restore.
/// What only prepares a run (finding a snapshot set, making a snapshot) runs as the cluster admin.
fn run_everything(env: &TestEnv, version: &str) -> Vec<Run> {
    let admin_config = env.path("admin.ini");
    pve_ontap_sim::config_ini::write_private(&admin_config, &env.default_config()).unwrap();
    let admin = |args: &[&str]| env.run_with_config(&admin_config, args);
    // An example that names a VM snapshot set needs one, even when the role could not make it.
    let find_set = |args: &[&str]| {
        let out = admin(args);
        // `vm list` also lists volume snapshots: a set is an entry with a time stamp.
        let empty = out.code == 0
            && !out
                .json()
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s["timestamp"].is_string()));
        match (empty, args.last()) {
            (true, Some(vmid)) => {
                // Sets are named by the second: a failed create of this second may have left files.
                std::thread::sleep(std::time::Duration::from_millis(1100));
                admin(&["vm", "create", "--vm", vmid]).assert_ok();
                admin(args)
            }
            _ => out,
        }
    };
    let mut runs = Vec::new();
    let mut record = |what: String, f: &dyn Fn() -> Output| {
        env.clear_requests();
        let out = f();
        let log: Vec<_> = env
            .requests()
            .into_iter()
            .filter(|r| r.api == Api::Ontap)
            .collect();
        let refused = log.iter().any(|r| r.status == 403);
        let requests = log.into_iter().map(|r| (r.method, r.path)).collect();
        runs.push(Run {
            what,
            out,
            requests,
            refused,
        });
    };
    for example in readme::examples() {
        // Snapshot locking (`--lock`, and the `daily` schedule's `lock` key) needs ONTAP
        // 9.12.1: on older releases those examples fail by design, whatever the role.
        let locks = example.contains("--lock ") || example.ends_with(" run daily");
        if locks && version_before(version, (9, 12, 1)) {
            continue;
        }
        let args = readme::example_args(env, &example, &find_set);
        // An unmount needs the clone storage the mount example makes, even when the role could not.
        if let ["storage", "unmount", "--storage", clone] = args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            if !env.storage_ids().iter().any(|s| s == clone) {
                let parent = clone.trim_end_matches("-CLONE");
                let snapshot = OLDEST_SNAPSHOT;
                // Clone volumes are named by the second: a failed mount of this second may have
                // left its volume behind under the name this one would get.
                std::thread::sleep(std::time::Duration::from_millis(1100));
                admin(&[
                    "storage",
                    "mount",
                    "--storage",
                    parent,
                    "--snapshot",
                    snapshot,
                ])
                .assert_ok();
            }
        }
        record(example, &|| readme::run_example(env, &args));
    }
    for (vmid, phase) in [("100", "pre-start"), ("101", "post-stop")] {
        record(format!("hook {vmid} {phase}"), &|| {
            env.run(&["hook", vmid, phase])
        });
    }
    // A newer snapshot that SnapMirror uses as its reference.
    let made = admin(&[
        "--output",
        "json",
        "storage",
        "create",
        "--storage",
        "ONTAP01",
    ]);
    made.assert_ok();
    let newer = made.json()["name"].as_str().unwrap().to_string();
    env.world_mut(|w| {
        let v = w
            .ontap
            .volumes
            .iter_mut()
            .find(|v| v.name == "ONTAP01")
            .unwrap();
        v.snapshots
            .iter_mut()
            .find(|s| s.name == newer)
            .unwrap()
            .static_owners = vec!["snapmirror".into()];
    });
    // Any other snapshot is older: everything else was made before.
    let list = admin(&[
        "--output",
        "json",
        "storage",
        "list",
        "--storage",
        "ONTAP01",
        "--all",
    ]);
    list.assert_ok();
    let target = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .find(|n| *n != newer)
        .expect("an older snapshot of ONTAP01")
        .to_string();
    record(
        "storage restore --discard-snapmirror-references".into(),
        &|| {
            env.run(&[
                "storage",
                "restore",
                "--storage",
                "ONTAP01",
                "--snapshot",
                &target,
                "--yes",
                "--force",
                "--discard-snapmirror-references",
            ])
        },
    );
    runs
}

/// An independent reading of ONTAP's rule: the longest REST path prefix decides; private CLI
/// calls go by the longest command directory. Whether `entries` allow `method` on `path`.
fn allows(entries: &[Entry], method: &str, path: &str) -> bool {
    let methods = |access: &str| match access {
        "all" => "GET POST PATCH DELETE",
        "readonly" => "GET",
        "read_create" => "GET POST",
        "read_modify" => "GET PATCH",
        "read_create_modify" => "GET POST PATCH",
        _ => "",
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let ["api", "private", "cli", words @ ..] = segs.as_slice() {
        let best = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Command { dir, access } => {
                    let d: Vec<&str> = dir.split(' ').collect();
                    words.starts_with(&d).then_some((d.len(), access))
                }
                Entry::Rest { .. } => None,
            })
            .max_by_key(|(n, _)| *n);
        return best.is_some_and(|(_, a)| methods(a).split(' ').any(|m| m == method));
    }
    let best = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Rest { api, access } => {
                let p: Vec<&str> = api.split('/').filter(|s| !s.is_empty()).collect();
                segs.starts_with(&p).then_some((p.len(), access))
            }
            Entry::Command { .. } => None,
        })
        .max_by_key(|(n, _)| *n);
    best.is_some_and(|(_, a)| methods(a).split(' ').any(|m| m == method))
}

fn check_full_role(version: &str) -> Vec<Run> {
    let role = readme_role();
    let env = env_with(version, &role);
    let runs = run_everything(&env, version);
    for r in &runs {
        assert!(
            !r.broken(),
            "ONTAP {version}, README role: `{}` failed\n--- stdout\n{}\n--- stderr\n{}",
            r.what,
            r.out.stdout,
            r.out.stderr
        );
        for (m, p) in &r.requests {
            assert!(allows(&role, m, p), "`{}` made {m} {p}", r.what);
        }
    }
    runs
}

#[test]
fn the_readme_role_runs_every_command_and_hook_on_9_14() {
    let runs = check_full_role("9.14.1");
    assert!(runs.len() >= 18, "{}", runs.len());
    // The SnapMirror restore went through the private CLI, as the role's command directory says.
    let restore = runs.last().unwrap();
    assert!(
        restore
            .requests
            .iter()
            .any(|(m, p)| m == "POST" && p == "/api/private/cli/volume/snapshot/restore"),
        "{:?}",
        restore.requests
    );
}

#[test]
fn the_readme_role_runs_every_command_and_hook_on_9_11() {
    let runs = check_full_role("9.11.1");
    // Before 9.12 unmount purges the clone from the recovery queue through the private CLI.
    assert!(runs.iter().any(|r| r
        .requests
        .iter()
        .any(|(m, p)| m == "POST" && p.ends_with("/recovery-queue/purge"))));
}

/// Remove each entry in turn: the runs that break are exactly those that made a request the
/// smaller role does not allow, each names the user and the missing path, and every entry is
/// needed by something (or is a documented fallback that only changes how the tool finds things).
fn each_entry_is_needed(version: &str) {
    let role = readme_role();
    let full = check_full_role(version);
    // Documented fallbacks: without these reads the tool finds things another way.
    let fallback_reads = [
        ("GET", "/api/cluster"),
        ("GET", "/api/network/ip/interfaces"),
    ];
    let needs = |r: &Run, role: &[Entry]| {
        r.requests.iter().any(|(m, p)| {
            !fallback_reads.contains(&(m.as_str(), p.as_str())) && !allows(role, m, p)
        })
    };
    let mut unneeded = Vec::new();
    for (i, entry) in role.iter().enumerate() {
        let mut smaller = role.clone();
        smaller.remove(i);
        let env = env_with(version, &smaller);
        let runs = run_everything(&env, version);
        let broken: BTreeSet<String> = runs
            .iter()
            .filter(|r| r.broken())
            .map(|r| r.what.clone())
            .collect();
        let names = entry.names();
        // At least the runs that need the entry outright break; a run that needed only a
        // fallback read may break too (the original's rule does not find every volume: the
        // default scenario's ONTAP02 exports a volume whose name exists on two SVMs).
        let expected: BTreeSet<String> = full
            .iter()
            .filter(|r| needs(r, &smaller))
            .map(|r| r.what.clone())
            .collect();
        // Documented consequences (README): a clone volume that could not be purged from the
        // recovery queue keeps its parent snapshot until the entry expires, so deleting that
        // snapshot fails too.
        let consequences: &[(&str, &str)] = &[(
            "/api/private/cli/volume/recovery-queue",
            "pve-ontap-snapshot storage delete ",
        )];
        // Runs that work on what an earlier example made: a disk that `vm attach` could not
        // clone is not there for `vm detach` to remove, and a storage snapshot this tool could
        // not take recorded no configuration for `vm show-config` to print (the newest
        // snapshot of ONTAP01 is then one the scenario made without configurations).
        let follows: &[(&str, &str)] = &[
            (" vm attach ", " vm detach "),
            (" storage create --storage ONTAP01 ", " vm show-config "),
        ];
        let knock_on = |r: &Run| {
            follows.iter().any(|(before, after)| {
                r.what.contains(after) && broken.iter().any(|b| b.contains(before))
            })
        };
        let at_most: BTreeSet<String> = full
            .iter()
            .filter(|r| {
                r.requests.iter().any(|(m, p)| !allows(&smaller, m, p))
                    || consequences
                        .iter()
                        .any(|(e, run)| *e == names && r.what.starts_with(run))
                    || knock_on(r)
            })
            .map(|r| r.what.clone())
            .collect();
        let unexpected: Vec<String> = runs
            .iter()
            .filter(|r| r.broken() && !at_most.contains(&r.what))
            .map(|r| format!("`{}`:\n{}{}", r.what, r.out.stdout, r.out.stderr))
            .collect();
        assert!(
            expected.is_subset(&broken) && unexpected.is_empty(),
            "ONTAP {version}, without {entry:?}: broken runs {broken:?}, needed {expected:?}, \
             at most {at_most:?}; broken beyond that:\n{}",
            unexpected.join("\n")
        );
        let is_fallback = fallback_reads.iter().any(|(_, p)| *p == names);
        if expected.is_empty() && !is_fallback {
            unneeded.push(format!("{entry:?}"));
        }
        // A run that was refused says who lacks what (a later run may instead trip over what an
        // earlier broken run left behind, e.g. a clone volume it could not follow to the end).
        let mut named = 0;
        // Prometheus metrics carry no messages (a storage that could not be read is
        // `storage_up 0`), so only the other runs are read for the name.
        for r in runs
            .iter()
            .filter(|r| r.refused && r.broken() && !r.what.contains("--format prometheus"))
        {
            let text = format!("{}{}", r.out.stdout, r.out.stderr);
            assert!(
                text.contains(&names) && text.contains(&format!("user '{USER}'")),
                "without {entry:?}, `{}` does not name {names} and the user:\n{text}",
                r.what
            );
            named += 1;
        }
        assert!(
            expected.is_empty() || named > 0,
            "without {entry:?}: no refused run named it"
        );
    }
    // Entries only needed on the other release are allowed to be idle here.
    let idle_here: &[&str] = if version.starts_with("9.14") {
        &["volume recovery-queue"]
    } else {
        &[]
    };
    unneeded.retain(|e| !idle_here.iter().any(|i| e.contains(i)));
    assert!(
        unneeded.is_empty(),
        "ONTAP {version}: entries no run needs: {unneeded:?}"
    );
}

#[test]
fn without_any_readme_entry_exactly_the_commands_that_need_it_break_on_9_14() {
    each_entry_is_needed("9.14.1");
}

#[test]
fn without_any_readme_entry_exactly_the_commands_that_need_it_break_on_9_11() {
    each_entry_is_needed("9.11.1");
}
