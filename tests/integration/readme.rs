//! The README's command examples, run in order against the simulator's default scenario: every
//! `pve-ontap-snapshot ...` line of a ```sh block must succeed (the README promises they run).

use crate::util::{Output, TestEnv};

/// The README as shipped.
const README: &str = include_str!("../../README.md");

/// Every example line, in order: the shell blocks' lines that start with the tool's name.
pub(crate) fn examples() -> Vec<String> {
    let mut out = Vec::new();
    let mut in_sh = false;
    for line in README.lines() {
        let t = line.trim();
        if t.starts_with("```") {
            in_sh = t == "```sh";
            continue;
        }
        if in_sh && t.starts_with("pve-ontap-snapshot ") {
            // Drop comments and shell redirections; the test captures the output itself.
            let cmd = t.split(" #").next().unwrap_or(t);
            let cmd = cmd.split(" >").next().unwrap_or(cmd);
            out.push(cmd.trim().to_string());
        }
    }
    out
}

/// The README's `[schedule:NAME]` blocks (its `run NAME` example needs them in the config).
pub(crate) fn schedule_blocks() -> String {
    ini_blocks("[schedule:")
}

/// The README's `[hook]` and `[hook:VMID]` blocks.
pub(crate) fn hook_blocks() -> String {
    ini_blocks("[hook")
}

/// The README's ```ini blocks that start with `prefix`.
fn ini_blocks(prefix: &str) -> String {
    let mut out = String::new();
    let mut block: Option<String> = None;
    for line in README.lines() {
        let t = line.trim();
        match &mut block {
            None if t == "```ini" => block = Some(String::new()),
            None => {}
            Some(b) if t.starts_with("```") => {
                if b.trim_start().starts_with(prefix) {
                    out.push_str(b);
                }
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
        }
    }
    out
}

/// A `YYYY-mm-dd_HH:MM:SS+0000` token (a VM snapshot set in an example).
fn is_timestamp(word: &str) -> bool {
    let b = word.as_bytes();
    word.len() == 24
        && word.ends_with("+0000")
        && b[4] == b'-'
        && b[10] == b'_'
        && b[13] == b':'
        && b.iter().filter(|c| c.is_ascii_digit()).count() == 18
}

#[test]
fn every_readme_example_runs_against_the_simulator() {
    let env = TestEnv::new();
    let schedules = schedule_blocks();
    assert!(schedules.contains("[schedule:hourly]"), "{schedules}");
    env.write_config(&format!("{}\n{schedules}", env.default_config()));
    let examples = examples();
    assert!(
        examples.len() >= 15,
        "README examples not found: {examples:?}"
    );
    for example in &examples {
        let args = example_args(&env, example, &|a| env.run(a));
        let out = run_example(&env, &args);
        assert_eq!(
            out.code, 0,
            "README example failed: `{example}`\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        );
    }
}

/// The arguments of an example line for this environment: its config file for the original's
/// `-config config.ini`, the guest's newest snapshot set for a timestamp (listed with `list`).
pub(crate) fn example_args(
    env: &TestEnv,
    example: &str,
    list: &dyn Fn(&[&str]) -> Output,
) -> Vec<String> {
    let config = env.config_path().to_string_lossy().into_owned();
    let mut args: Vec<String> = example
        .split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect();
    for arg in args.iter_mut().filter(|a| *a == "config.ini") {
        *arg = config.clone();
    }
    // A volume snapshot of this tool that the example cannot know by name: the newest one
    // of ONTAP01 (names that exist, like the original tool's, stay as written).
    for arg in args.iter_mut() {
        let Some(ts) = arg.strip_prefix("proxmox_snapshot_") else {
            continue;
        };
        let names = env.snapshot_names("ONTAP01");
        if !is_timestamp(ts) || names.contains(arg) {
            continue;
        }
        *arg = names
            .iter()
            .filter(|n| n.starts_with("proxmox_snapshot_"))
            .max()
            .unwrap_or_else(|| panic!("no snapshot of this tool on ONTAP01 for `{example}`"))
            .clone();
    }
    if let Some(pos) = args.iter().position(|a| is_timestamp(a)) {
        let vm_pos = args
            .iter()
            .position(|a| a == "--vm")
            .expect("--vm with a set");
        let vmid = args[vm_pos + 1].clone();
        let listed = list(&["--output", "json", "vm", "list", "--vm", &vmid]);
        listed.assert_ok();
        let sets = listed.json();
        let newest = sets
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["timestamp"].as_str())
            .max()
            .unwrap_or_else(|| panic!("no snapshot set of VM {vmid} for `{example}`"))
            .to_string();
        args[pos] = newest;
    }
    args
}

/// Run an example's arguments (without `--config` when it names its own).
pub(crate) fn run_example(env: &TestEnv, args: &[String]) -> Output {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    if args.iter().any(|a| a == "-config") {
        env.run_without_config(&argv, &[])
    } else {
        env.run(&argv)
    }
}
