//! The README's least-privilege Proxmox API token, proved against the simulator: a scenario made
//! from the README's own `pveum` lines (Proxmox VE 8 and 9), every command and hook action the
//! README promises run with that token, and each privilege of the role removed in turn breaks
//! exactly the commands that need it, with an error that names the privilege and the ACL path.
//! ONTAP keeps its admin account here.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use crate::util::{run_command, Output, SimOptions, TestEnv, RUN_TIMEOUT};

/// The README as shipped.
const README: &str = include_str!("../../README.md");
const TOKEN_SECRET: &str = "0d6f3b0e-8c1a-4d2e-9f47-3a5b6c7d8e9f";

/// What the README's `pveum` lines set up.
#[derive(Debug, Clone)]
struct Recipe {
    role: String,
    privs: Vec<String>,
    user: String,
    token: String,
    privsep: bool,
    acl_path: String,
}

/// Shell words of one line (double quotes group, no escapes needed by the README).
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// The recipe for Proxmox VE `major`, read from the README section's `pveum` lines: a
/// `# Proxmox VE <N>` comment line makes the next `role add` apply to release N only.
fn readme_recipe(major: u32) -> Recipe {
    let section = README
        .split("### A least-privilege Proxmox API token")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("README section 'A least-privilege Proxmox API token'");
    let mut recipe = Recipe {
        role: String::new(),
        privs: Vec::new(),
        user: String::new(),
        token: String::new(),
        privsep: true,
        acl_path: String::new(),
    };
    let mut release: Option<u32> = None;
    for line in section.lines().map(str::trim) {
        if let Some(n) = line.strip_prefix("# Proxmox VE ") {
            release = n
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|d| d.parse().ok());
            continue;
        }
        let w = words(line);
        if w.first().map(String::as_str) != Some("pveum") {
            continue;
        }
        let w: Vec<String> = w[1..].to_vec();
        match w.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["role", "add", role, ..] => {
                if release.is_none_or(|r| r == major) {
                    recipe.role = role.to_string();
                    recipe.privs = option(&w, "--privs")
                        .expect("--privs")
                        .split_whitespace()
                        .map(str::to_string)
                        .collect();
                }
                release = None;
            }
            ["user", "add", user, ..] => recipe.user = user.to_string(),
            ["acl", "modify", path, ..] | ["aclmod", path, ..] => {
                recipe.acl_path = path.to_string();
                assert_eq!(option(&w, "--users").as_deref(), Some(recipe.user.as_str()));
                assert_eq!(option(&w, "--roles").as_deref(), Some(recipe.role.as_str()));
            }
            ["user", "token", "add", user, token, ..] => {
                assert_eq!(*user, recipe.user);
                recipe.token = token.to_string();
                recipe.privsep = option(&w, "--privsep").is_none_or(|v| v != "0");
            }
            other => panic!("unexpected pveum line in the README recipe: {other:?}"),
        }
    }
    assert!(
        !recipe.privs.is_empty() && !recipe.token.is_empty() && !recipe.acl_path.is_empty(),
        "incomplete README recipe for Proxmox VE {major}: {recipe:?}"
    );
    recipe
}

/// The default scenario on Proxmox VE `major` with the recipe's user, token and role (minus
/// `without`); root@pam keeps its password for the setup steps.
fn scenario(major: u32, recipe: &Recipe, without: Option<&str>) -> pve_ontap_sim::Scenario {
    let mut s = pve_ontap_sim::Scenario::default();
    s.pve.version = if major >= 9 { "9.1.2" } else { "8.4.1" }.into();
    s.pve.release = String::new();
    let privs: Vec<&str> = recipe
        .privs
        .iter()
        .map(String::as_str)
        .filter(|p| Some(*p) != without)
        .collect();
    let mut users: Vec<pve_ontap_sim::pve::UserSpec> = serde_json::from_value(serde_json::json!([{
        "userid": recipe.user,
        "tokens": [{"name": recipe.token, "secret": TOKEN_SECRET, "privsep": recipe.privsep}]
    }]))
    .expect("recipe user");
    users.append(&mut s.pve.users);
    s.pve.users = users;
    s.pve.access = serde_json::from_value(serde_json::json!({
        "roles": [{"roleid": recipe.role, "privs": privs.join(" ")}],
        "acl": [{"path": recipe.acl_path, "roles": recipe.role, "users": recipe.user}]
    }))
    .expect("recipe access");
    s
}

/// The policy sections the checks below use (the README's hook, vzdump and schedule examples).
const POLICY: &str = "
[hook]
post-stop = storage-snapshot
post-stop.label = poststop
keep = 48

[hook:100]
pre-start = vm-snapshot
pre-stop = vm-snapshot
pre-stop.freeze = yes

[vzdump]
job-start = storage-snapshot
job-start.storages = ONTAP01, ONTAP02
label = vzdump
keep = 14

[schedule:hourly]
storages = ONTAP01, ONTAP02
label = hourly
keep = 24
";

/// One test world: the simulator with the recipe, the token config (used by the commands under
/// test) and a root config (used to prepare what a command needs).
struct Env {
    env: TestEnv,
    root_config: PathBuf,
}

impl Env {
    fn new(major: u32, recipe: &Recipe, without: Option<&str>) -> Env {
        let env = TestEnv::with_options(SimOptions {
            scenario: scenario(major, recipe, without),
            ..SimOptions::default()
        });
        let token = env.token_config();
        assert!(
            token.contains(&format!("{}!{}", recipe.user, recipe.token)),
            "the token config uses the recipe token:\n{token}"
        );
        env.write_config(&format!("{token}\n{POLICY}"));
        let root_config = env.path("root.ini");
        pve_ontap_sim::config_ini::write_private(
            &root_config,
            &format!("{}\n{POLICY}", env.default_config()),
        )
        .expect("writing root.ini");
        Env { env, root_config }
    }

    /// Run as the recipe's token.
    fn token(&self, args: &[&str]) -> Output {
        self.env.run(args)
    }

    /// Run as root@pam (preparation).
    #[track_caller]
    fn root(&self, args: &[&str]) -> Output {
        let mut cmd = self.env.command_without_config(&[]);
        cmd.arg("--config").arg(&self.root_config).args(args);
        let out = run_command(cmd, None, RUN_TIMEOUT);
        out.assert_ok();
        out
    }

    /// A new storage snapshot made as root; its name.
    fn root_snapshot(&self, storage: &str, label: &str) -> String {
        let out = self.root(&[
            "--output",
            "json",
            "storage",
            "create",
            "--storage",
            storage,
            "--label",
            label,
        ]);
        out.json()["name"]
            .as_str()
            .unwrap_or_else(|| panic!("snapshot name in {}", out.stdout))
            .to_string()
    }

    /// A new VM snapshot set made as root; its timestamp.
    fn root_vm_set(&self, vmid: &str) -> String {
        let out = self.root(&["--output", "json", "vm", "create", "--vm", vmid]);
        out.json()["timestamp"]
            .as_str()
            .unwrap_or_else(|| panic!("set timestamp in {}", out.stdout))
            .to_string()
    }

    /// Requests `method` on `pattern` that Proxmox answered with 200 (a refused freeze is no
    /// freeze).
    fn done(&self, method: &str, pattern: &str) -> usize {
        self.env
            .requests_matching(None, method, pattern)
            .iter()
            .filter(|r| r.status == 200)
            .count()
    }

    fn snapshots(&self, volume: &str, label: &str) -> usize {
        self.env.with_volume(volume, |v| {
            v.snapshots
                .iter()
                .filter(|s| s.snapmirror_label == Some(label))
                .count()
        })
    }

    fn disk_snapshots(&self, vmid: u32) -> usize {
        let dir = format!("images/{vmid}/");
        self.env
            .volume_names()
            .iter()
            .map(|v| {
                self.env
                    .files(v)
                    .into_keys()
                    .filter(|p| p.starts_with(&dir) && p.contains("-snapshot-"))
                    .count()
            })
            .sum()
    }

    /// A hook call as Proxmox makes it (`hook <vmid> <phase>`, `vzdump <phase> ...`) as the token.
    fn hook(&self, argv: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut cmd: Command = self.env.command(argv);
        cmd.envs(vars.iter().copied());
        run_command(cmd, None, RUN_TIMEOUT)
    }
}

/// Wait for the next wall-clock second (snapshot and set names are made of seconds).
fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    std::thread::sleep(std::time::Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 10_000_000,
    ));
}

/// What a check found: whether the command did its job, and what it printed.
struct Outcome {
    worked: bool,
    out: Output,
}

fn outcome(out: Output, effect: bool) -> Outcome {
    Outcome {
        worked: out.code == 0 && effect,
        out,
    }
}

/// One promised command or hook action: prepare as root, run as the token, check the effect.
struct Case {
    name: &'static str,
    run: fn(&Env) -> Outcome,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "check",
            run: |e| outcome(e.token(&["check"]), true),
        },
        Case {
            name: "storage list",
            run: |e| {
                e.root_snapshot("ONTAP01", "daily");
                let out = e.token(&[
                    "--output",
                    "json",
                    "storage",
                    "list",
                    "--storage",
                    "ONTAP01",
                ]);
                let listed = out.code == 0 && out.json().as_array().is_some_and(|a| !a.is_empty());
                outcome(out, listed)
            },
        },
        Case {
            name: "storage show",
            run: |e| outcome(e.token(&["storage", "show", "--storage", "ONTAP02"]), true),
        },
        Case {
            name: "storage create",
            run: |e| {
                let out = e.token(&[
                    "storage",
                    "create",
                    "--storage",
                    "ONTAP01",
                    "--label",
                    "daily",
                ]);
                let made = e.snapshots("ONTAP01", "daily") == 1;
                outcome(out, made)
            },
        },
        Case {
            name: "storage create --freeze",
            run: |e| {
                let out = e.token(&[
                    "storage",
                    "create",
                    "--storage",
                    "ONTAP01",
                    "--label",
                    "f",
                    "--freeze",
                ]);
                let frozen = e.done("POST", "*/agent/fsfreeze-freeze") > 0;
                let thawed = e.done("POST", "*/agent/fsfreeze-thaw")
                    == e.done("POST", "*/agent/fsfreeze-freeze");
                let made = e.snapshots("ONTAP01", "f") == 1;
                outcome(out, frozen && thawed && made)
            },
        },
        Case {
            name: "storage mount",
            run: |e| {
                let snap = e.root_snapshot("ONTAP01", "m");
                let out = e.token(&[
                    "storage",
                    "mount",
                    "--storage",
                    "ONTAP01",
                    "--snapshot",
                    &snap,
                ]);
                let mounted = e.env.storage("ONTAP01-CLONE").is_some();
                outcome(out, mounted)
            },
        },
        Case {
            name: "storage unmount",
            run: |e| {
                let snap = e.root_snapshot("ONTAP01", "m");
                e.root(&[
                    "storage",
                    "mount",
                    "--storage",
                    "ONTAP01",
                    "--snapshot",
                    &snap,
                ]);
                let out = e.token(&["storage", "unmount", "--storage", "ONTAP01-CLONE"]);
                let gone = e.env.storage("ONTAP01-CLONE").is_none();
                outcome(out, gone)
            },
        },
        Case {
            name: "storage prune",
            run: |e| {
                e.root_snapshot("ONTAP01", "p");
                next_second();
                e.root_snapshot("ONTAP01", "p");
                let out = e.token(&[
                    "storage",
                    "prune",
                    "--storage",
                    "ONTAP01",
                    "--keep-last",
                    "1",
                    "--label",
                    "p",
                ]);
                let pruned = e.snapshots("ONTAP01", "p") == 1;
                outcome(out, pruned)
            },
        },
        Case {
            name: "storage restore",
            run: |e| {
                let snap = e.root_snapshot("ONTAP02", "r");
                let out = e.token(&[
                    "storage",
                    "restore",
                    "--storage",
                    "ONTAP02",
                    "--snapshot",
                    &snap,
                    "--yes",
                    "--force",
                ]);
                outcome(out, true)
            },
        },
        Case {
            name: "storage delete",
            run: |e| {
                let snap = e.root_snapshot("ONTAP01", "d");
                let out = e.token(&[
                    "storage",
                    "delete",
                    "--storage",
                    "ONTAP01",
                    "--snapshot",
                    &snap,
                ]);
                let gone = e.snapshots("ONTAP01", "d") == 0;
                outcome(out, gone)
            },
        },
        Case {
            name: "vm create --freeze",
            run: |e| {
                let out = e.token(&["vm", "create", "--vm", "100", "--freeze"]);
                let frozen = e.done("POST", "*/agent/fsfreeze-freeze") == 1;
                outcome(out, frozen && e.disk_snapshots(100) > 0)
            },
        },
        Case {
            name: "vm create --suspend",
            run: |e| {
                let out = e.token(&["vm", "create", "--vm", "101", "--suspend"]);
                let paused = e.done("POST", "*/qemu/101/status/suspend") == 1;
                outcome(out, paused && e.disk_snapshots(101) > 0)
            },
        },
        Case {
            name: "vm create --shutdown",
            run: |e| {
                let out = e.token(&["vm", "create", "--vm", "101", "--shutdown"]);
                let cycled = e.done("POST", "*/qemu/101/status/start") == 1;
                outcome(out, cycled && e.disk_snapshots(101) > 0)
            },
        },
        Case {
            name: "vm create (stopped VM)",
            run: |e| {
                let out = e.token(&["vm", "create", "--vm", "102"]);
                outcome(out, e.disk_snapshots(102) > 0)
            },
        },
        Case {
            name: "vm create (container)",
            run: |e| {
                let out = e.token(&["vm", "create", "--vm", "200"]);
                outcome(out, e.disk_snapshots(200) > 0)
            },
        },
        Case {
            name: "vm list",
            run: |e| {
                e.root_vm_set("100");
                let out = e.token(&["--output", "json", "vm", "list", "--vm", "100"]);
                let listed = out.code == 0 && out.json().as_array().is_some_and(|a| !a.is_empty());
                outcome(out, listed)
            },
        },
        Case {
            name: "vm restore",
            run: |e| {
                let set = e.root_vm_set("102");
                let out = e.token(&["vm", "restore", "--vm", "102", "--snapshot", &set, "--yes"]);
                outcome(out, true)
            },
        },
        Case {
            name: "vm delete",
            run: |e| {
                let set = e.root_vm_set("102");
                let out = e.token(&["vm", "delete", "--vm", "102", "--snapshot", &set]);
                outcome(out, e.disk_snapshots(102) == 0)
            },
        },
        Case {
            name: "vm prune",
            run: |e| {
                e.root_vm_set("102");
                next_second();
                e.root_vm_set("102");
                let before = e.disk_snapshots(102);
                let out = e.token(&["vm", "prune", "--vm", "102", "--keep-last", "1"]);
                outcome(out, e.disk_snapshots(102) * 2 == before)
            },
        },
        Case {
            name: "hook post-stop storage-snapshot",
            run: |e| {
                let out = e.hook(&["hook", "102", "post-stop"], &[]);
                outcome(out, e.snapshots("ONTAP01", "poststop") == 1)
            },
        },
        Case {
            name: "hook pre-start vm-snapshot",
            run: |e| {
                let out = e.hook(&["hook", "100", "pre-start"], &[]);
                outcome(out, e.disk_snapshots(100) > 0)
            },
        },
        Case {
            name: "hook pre-stop vm-snapshot with freeze",
            run: |e| {
                let out = e.hook(&["hook", "100", "pre-stop"], &[]);
                let frozen = e.done("POST", "*/agent/fsfreeze-freeze") == 1;
                outcome(out, frozen && e.disk_snapshots(100) > 0)
            },
        },
        Case {
            name: "vzdump job-start storage-snapshot",
            run: |e| {
                let out = e.hook(
                    &["vzdump", "job-start"],
                    &[("STOREID", "local"), ("DUMPDIR", "/var/lib/vz/dump")],
                );
                let made = e.snapshots("ONTAP01", "vzdump") == 1
                    && e.snapshots("pve_vmstore2", "vzdump") == 1;
                outcome(out, made)
            },
        },
        Case {
            name: "run (schedule)",
            run: |e| {
                let out = e.token(&["run", "hourly"]);
                let made = e.snapshots("ONTAP01", "hourly") == 1
                    && e.snapshots("pve_vmstore2", "hourly") == 1;
                outcome(out, made)
            },
        },
    ]
}

/// The commands that need `privilege` (the README's promise, checked below). Every command reads
/// a storage definition (`GET /storage/{id}`, Datastore.Allocate).
fn needs(privilege: &str) -> BTreeSet<&'static str> {
    let all: BTreeSet<&'static str> = cases().iter().map(|c| c.name).collect();
    let freezes = [
        "storage create --freeze",
        "vm create --freeze",
        "hook pre-stop vm-snapshot with freeze",
    ];
    let guest_commands = [
        "vm create --freeze",
        "vm create --suspend",
        "vm create --shutdown",
        "vm create (stopped VM)",
        "vm create (container)",
        "vm list",
        "vm restore",
        "vm delete",
        "vm prune",
        "hook post-stop storage-snapshot",
        "hook pre-start vm-snapshot",
        "hook pre-stop vm-snapshot with freeze",
    ];
    let set: BTreeSet<&'static str> = match privilege {
        "Datastore.Allocate" => return all,
        "VM.PowerMgmt" => ["vm create --suspend", "vm create --shutdown"].into(),
        "VM.GuestAgent.FileSystemMgmt" | "VM.Monitor" => freezes.into(),
        // The agent ping before a VM's freeze; `storage create --freeze` freezes without one.
        "VM.GuestAgent.Audit" => [
            "vm create --freeze",
            "hook pre-stop vm-snapshot with freeze",
        ]
        .into(),
        "VM.Audit" => guest_commands.into(),
        "Datastore.Audit" => [
            "vm create --freeze",
            "vm create --suspend",
            "vm create --shutdown",
            "vm create (stopped VM)",
            "vm create (container)",
            "vm list",
            "vm restore",
            "vm delete",
            "vm prune",
            "hook pre-start vm-snapshot",
            "hook pre-stop vm-snapshot with freeze",
        ]
        .into(),
        other => panic!("the README recipe lists {other}; say here which commands need it"),
    };
    set
}

/// The ACL path a missing privilege is reported on (the first one the commands touch).
fn acl_path(privilege: &str) -> &'static str {
    match privilege {
        "Datastore.Allocate" | "Datastore.Audit" => "/storage/",
        _ => "/vms/",
    }
}

/// Commands that carry on without `privilege` but silently do less (exit 0, effect missing);
/// the README says so. Anything else that loses its effect must fail with a naming error.
fn degrades(privilege: &str) -> BTreeSet<&'static str> {
    match privilege {
        // The guest list hides the VMs, so there is nothing to freeze.
        "VM.Audit" => ["storage create --freeze"].into(),
        _ => BTreeSet::new(),
    }
}

fn run_cases(major: u32, recipe: &Recipe, without: Option<&str>) -> Vec<(&'static str, Outcome)> {
    cases()
        .into_iter()
        .map(|case| {
            let env = Env::new(major, recipe, without);
            (case.name, (case.run)(&env))
        })
        .collect()
}

fn describe(name: &str, o: &Outcome) -> String {
    format!(
        "{name}: exit {}\n--- stdout\n{}\n--- stderr\n{}",
        o.out.code, o.out.stdout, o.out.stderr
    )
}

fn everything_works(major: u32) {
    let recipe = readme_recipe(major);
    let failed: Vec<String> = run_cases(major, &recipe, None)
        .iter()
        .filter(|(_, o)| !o.worked)
        .map(|(name, o)| describe(name, o))
        .collect();
    assert!(
        failed.is_empty(),
        "with the README's token on Proxmox VE {major}, these failed:\n{}",
        failed.join("\n")
    );
}

fn each_privilege_is_needed(major: u32) {
    let recipe = readme_recipe(major);
    let mut problems = Vec::new();
    for privilege in &recipe.privs {
        let expected = needs(privilege);
        let silent = degrades(privilege);
        for (name, o) in run_cases(major, &recipe, Some(privilege)) {
            if silent.contains(name) {
                if o.out.code != 0 || o.worked {
                    problems.push(format!(
                        "without {privilege}, `{name}` should exit 0 without its effect\n{}",
                        describe(name, &o)
                    ));
                }
                continue;
            }
            let should_fail = expected.contains(name);
            if o.worked == should_fail {
                problems.push(format!(
                    "without {privilege}, `{name}` {}\n{}",
                    if o.worked {
                        "still worked"
                    } else {
                        "failed unexpectedly"
                    },
                    describe(name, &o)
                ));
            } else if should_fail {
                let text = format!("{}{}", o.out.stdout, o.out.stderr);
                if !(text.contains(privilege.as_str()) && text.contains(acl_path(privilege))) {
                    problems.push(format!(
                        "without {privilege}, `{name}` failed without naming {privilege} on {}\n{}",
                        acl_path(privilege),
                        describe(name, &o)
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_readme_recipe_for_proxmox_9_runs_every_command() {
    everything_works(9);
}

#[test]
fn the_readme_recipe_for_proxmox_8_runs_every_command() {
    everything_works(8);
}

#[test]
fn each_privilege_of_the_proxmox_9_recipe_is_needed() {
    each_privilege_is_needed(9);
}

#[test]
fn each_privilege_of_the_proxmox_8_recipe_is_needed() {
    each_privilege_is_needed(8);
}

#[test]
fn the_readme_recipe_names_the_release_specific_privileges() {
    let nine = readme_recipe(9);
    let eight = readme_recipe(8);
    assert!(nine
        .privs
        .iter()
        .any(|p| p == "VM.GuestAgent.FileSystemMgmt"));
    assert!(!nine.privs.iter().any(|p| p == "VM.Monitor"));
    assert!(eight.privs.iter().any(|p| p == "VM.Monitor"));
    assert!(!eight.privs.iter().any(|p| p.starts_with("VM.GuestAgent.")));
    assert!(!nine.privsep && nine.acl_path == "/");
}
