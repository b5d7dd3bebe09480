//! Integration tests: the real `pve-ontap-snapshot` binary against the in-process simulator.
//! `util` holds the environment (simulator, temp dir, config, runner); one module per feature.

mod bulk;
mod cluster;
mod config;
mod faults;
mod guardian;
mod hooks;
mod ontap_role;
mod props;
mod readme;
mod real_ontap;
mod recipe;
mod recover;
mod scale;
mod secrets;
mod soak;
mod status;
mod storage;
mod util;
mod vm;

use util::TestEnv;

#[test]
fn binary_runs_in_a_fresh_environment() {
    let env = TestEnv::new();
    let out = env.run(&["--help"]);
    out.assert_ok();
    assert!(!out.stderr.contains("error"), "{}", out.stderr);
}
