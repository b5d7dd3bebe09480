//! The guest hookscript: Proxmox runs `<snippet> <vmid> <phase>` while holding the guest's config lock
//! (qemu-server `vm_start`/`vm_stop`, pve-container likewise), as root, with an arbitrary cwd and
//! no timeout. Unknown phases and phases without action return at once.

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use crate::error::Result;
use crate::hook::engine::{self, Connect, Ctx, Ops, PhaseRun, Start};
use crate::model::outcome::Trigger;
use crate::model::policy::Phase;
use crate::ops::rescan::RescanMode;

/// `pve-ontap-snapshot hook <vmid> <phase>`: run the policy of a guest hookscript phase and return
/// the exit code for Proxmox (non-zero only for a failure with `on-error = abort` in pre-start).
pub fn run_hookscript(
    config: Option<&Path>,
    vmid: u32,
    phase: &str,
    connect: &Connect,
) -> Result<u8> {
    let start = Start::now();
    let migrated_from = std::env::var("PVE_MIGRATED_FROM").ok();
    run(
        Call {
            vmid,
            phase,
            migrated_from: migrated_from.as_deref(),
        },
        start,
        || Config::load_for_hook(config),
        &|c: &Config| engine::live_ops(c, connect),
    )
}

/// What Proxmox passed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Call<'a> {
    pub vmid: u32,
    pub phase: &'a str,
    /// `PVE_MIGRATED_FROM`: set (non-empty) on the target node of a live migration.
    pub migrated_from: Option<&'a str>,
}

pub(crate) fn run(
    call: Call<'_>,
    start: Start,
    load: impl FnOnce() -> Result<Config>,
    make_ops: &dyn Fn(&Config) -> Result<Arc<dyn Ops>>,
) -> Result<u8> {
    let vmid = call.vmid;
    let who = format!("hook vmid={vmid} phase={}", call.phase);
    let Some(phase) = Phase::hookscript(call.phase) else {
        log::debug!("{who} result=ignored (not a hookscript phase this tool acts on)");
        return Ok(0);
    };
    let config = match load() {
        Ok(c) => c,
        Err(e) => {
            log::error!(
                "{who} result=failed (the configuration could not be loaded; exit 0 so that \
                 Proxmox carries on; check it with 'pve-ontap-snapshot check'): {e}"
            );
            return Ok(0);
        }
    };
    let Some(policy) = config.policy.hook(vmid, phase) else {
        log::debug!("{who} action=none");
        return Ok(0);
    };
    if let Some(node) = call.migrated_from.filter(|n| !n.is_empty()) {
        if matches!(phase, Phase::PreStart | Phase::PostStart) {
            log::info!(
                "{who} action={} result=skipped: incoming live migration from node {node} (the \
                 guest is running there, so this is no point to snapshot)",
                policy.action
            );
            return Ok(0);
        }
    }
    let consequence = format!("aborting the start of guest {vmid}");
    let ops = match make_ops(&config) {
        Ok(ops) => ops,
        Err(e) => {
            engine::record_early_failure(
                &config,
                Trigger::Hook,
                policy.phase.name(),
                Some(vmid),
                policy.action,
                &e,
            );
            return Ok(engine::finish(&who, &policy, Err(e), &consequence));
        }
    };
    let ctx = Ctx::new(&config, ops, start, who).recording(
        Trigger::Hook,
        policy.phase.name(),
        Some(vmid),
    );
    Ok(engine::run_phase(
        ctx,
        PhaseRun {
            policy,
            vmid: Some(vmid),
            rescan: RescanMode::Deferred { vzdump_pid: None },
            consequence,
        },
    ))
}
