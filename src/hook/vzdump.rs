//! The vzdump hook: vzdump runs `<script> <phase>` (job phases) or `<script> <phase> <mode> <vmid>`
//! (guest phases) with a wiped environment (pve-manager `PVE/VZDump.pm` `run_hook_script`: no PATH,
//! no HOME); only its own variables are read.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hook::engine::{self, Connect, Ctx, Ops, PhaseRun, Start};
use crate::model::outcome::Trigger;
use crate::model::policy::Phase;
use crate::ops::rescan::RescanMode;

/// The variables vzdump sets for its hook (all optional; which are set depends on the phase).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VzdumpEnv {
    /// Target storage of the backup.
    pub storeid: Option<String>,
    /// Dump directory (file storages).
    pub dumpdir: Option<String>,
    /// `qemu` or `lxc` (guest phases).
    pub vmtype: Option<String>,
    /// The guest's name (not the node's).
    pub hostname: Option<String>,
    /// The archive being written.
    pub target: Option<String>,
    /// The backup log file.
    pub logfile: Option<String>,
}

impl VzdumpEnv {
    /// Read `STOREID`, `DUMPDIR`, `VMTYPE`, `HOSTNAME`, `TARGET` and `LOGFILE` from this process.
    pub fn from_process() -> VzdumpEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        VzdumpEnv {
            storeid: var("STOREID"),
            dumpdir: var("DUMPDIR"),
            vmtype: var("VMTYPE"),
            hostname: var("HOSTNAME"),
            target: var("TARGET"),
            logfile: var("LOGFILE"),
        }
    }
}

/// `pve-ontap-snapshot vzdump <phase> [<mode> <vmid>]`: run the `[vzdump]` policy of a phase and
/// return the exit code for vzdump (non-zero only for a failure with `on-error = abort`).
pub fn run_vzdump(
    config: Option<&Path>,
    phase: &str,
    mode: Option<&str>,
    vmid: Option<u32>,
    env: &VzdumpEnv,
    connect: &Connect,
) -> Result<u8> {
    let start = Start::now();
    run(
        Call {
            phase,
            mode,
            vmid,
            env,
            vzdump_pid: std::os::unix::process::parent_id(),
        },
        start,
        || Config::load_for_hook(config),
        &|c: &Config| engine::live_ops(c, connect),
    )
}

/// What vzdump passed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub phase: &'a str,
    pub mode: Option<&'a str>,
    pub vmid: Option<u32>,
    pub env: &'a VzdumpEnv,
    /// The vzdump process (our parent): deferred work waits until it has exited.
    pub vzdump_pid: u32,
}

pub(crate) fn run(
    call: Call<'_>,
    start: Start,
    load: impl FnOnce() -> Result<Config>,
    make_ops: &dyn Fn(&Config) -> Result<Arc<dyn Ops>>,
) -> Result<u8> {
    let mut who = format!("vzdump phase={}", call.phase);
    if let Some(mode) = call.mode {
        who.push_str(&format!(" mode={mode}"));
    }
    if let Some(vmid) = call.vmid {
        who.push_str(&format!(" vmid={vmid}"));
    }
    let Some(phase) = Phase::vzdump(call.phase) else {
        log::debug!("{who} result=ignored (not a vzdump phase this tool acts on)");
        return Ok(0);
    };
    let vmid = match (phase.is_job(), call.mode, call.vmid) {
        (true, None, None) => None,
        (false, Some(_), Some(vmid)) => Some(vmid),
        (true, ..) => {
            return Err(Error::Usage(format!(
                "vzdump phase {phase} is a job phase and takes no <mode> <vmid>"
            )))
        }
        (false, ..) => {
            return Err(Error::Usage(format!(
                "vzdump phase {phase} needs <mode> <vmid> (vzdump calls '<script> {phase} \
                 snapshot 100')"
            )))
        }
    };
    let env = call.env;
    log::debug!(
        "{who} storeid={} vmtype={} hostname={} target={}",
        env.storeid.as_deref().unwrap_or("-"),
        env.vmtype.as_deref().unwrap_or("-"),
        env.hostname.as_deref().unwrap_or("-"),
        env.target.as_deref().unwrap_or("-"),
    );
    let config = match load() {
        Ok(c) => c,
        Err(e) => {
            log::error!(
                "{who} result=failed (the configuration could not be loaded; exit 0 so that the \
                 backup goes on; check it with 'pve-ontap-snapshot check'): {e}"
            );
            return Ok(0);
        }
    };
    let Some(policy) = config.policy.vzdump(phase, vmid) else {
        log::debug!("{who} action=none");
        return Ok(0);
    };
    let consequence = match vmid {
        Some(vmid) => format!("failing the backup of guest {vmid}"),
        None => "aborting the backup job".to_string(),
    };
    let ops = match make_ops(&config) {
        Ok(ops) => ops,
        Err(e) => {
            engine::record_early_failure(
                &config,
                Trigger::Vzdump,
                policy.phase.name(),
                vmid,
                policy.action,
                &e,
            );
            return Ok(engine::finish(&who, &policy, Err(e), &consequence));
        }
    };
    let ctx =
        Ctx::new(&config, ops, start, who).recording(Trigger::Vzdump, policy.phase.name(), vmid);
    Ok(engine::run_phase(
        ctx,
        PhaseRun {
            policy,
            vmid,
            rescan: RescanMode::Deferred {
                vzdump_pid: Some(call.vzdump_pid),
            },
            consequence,
        },
    ))
}
