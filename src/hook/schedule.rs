//! Scheduled snapshots: `pve-ontap-snapshot run NAME` runs a `[schedule:NAME]` section (volume
//! snapshots of storages and/or disk snapshots of guests, each pruned per label), e.g. from a timer.
//!
//! The timer runs on every node of a cluster; the work is done once per period for the cluster:
//! a storage by the first node that holds its cluster lock (the others find its snapshot of the
//! period and skip), a guest by the node it runs on (and not again when it migrated within the
//! period). A node without quorum does nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hook::engine::{self, Connect, Ctx, Ops, SnapshotSpec, Start};
use crate::hook::period::{self, Period};
use crate::model::outcome::Trigger;
use crate::model::policy::Schedule;
use crate::ops::quiesce::Consistency;
use crate::ops::rescan::RescanMode;

/// Run the schedule `name`; exit code 0 when every snapshot was made, 1 when any failed (each
/// failure is logged; the others are still made). A missing schedule is a config error (exit 2).
/// The config is searched like every other command's (a timer runs it from `/`).
pub fn run_schedule(config: Option<&Path>, name: &str, connect: &Connect) -> Result<u8> {
    let start = Start::now();
    let config = Config::load(config)?;
    run(&config, name, start, &|c: &Config| {
        engine::live_ops(c, connect)
    })
}

pub(crate) fn run(
    config: &Config,
    name: &str,
    start: Start,
    make_ops: &dyn Fn(&Config) -> Result<Arc<dyn Ops>>,
) -> Result<u8> {
    let Some(schedule) = config.policy.schedule(name) else {
        let known: Vec<&str> = config.policy.schedules().map(|s| s.name.as_str()).collect();
        return Err(Error::Config {
            file: config.file.clone(),
            section: Some(format!("schedule:{name}")),
            key: None,
            message: if known.is_empty() {
                "no such section; the config defines no schedules".to_string()
            } else {
                format!("no such section; schedules: {}", known.join(", "))
            },
        });
    };
    let who = format!("schedule name={name}");
    if config.paths.site.quorate() == Some(false) {
        log::warn!(
            "{who} result=skipped: this node is not in the cluster's quorum ('{}' is read-only), \
             so it takes no snapshot; the nodes with quorum do",
            config.paths.site.pve_dir.display()
        );
        return Ok(0);
    }
    let ctx = Ctx::new(config, make_ops(config)?, start, who.clone()).recording(
        Trigger::Schedule,
        name,
        None,
    );
    let period = Period::of(SystemTime::now(), schedule.period);
    // On a Proxmox node each guest is snapshotted by the node it runs on.
    let local_node = config
        .paths
        .pve_node_marker
        .exists()
        .then(|| config.paths.site.node_name());
    let mut failed = 0usize;
    for storage in &schedule.storages {
        let spec = SnapshotSpec {
            label: schedule.label.clone(),
            freeze: schedule.freeze,
            retention: schedule.retention(),
            expiry: schedule.expiry,
            coalesce: false,
            lock_deadline: Instant::now() + schedule.lock_timeout,
            lock: schedule.lock,
            max_pause: schedule.max_pause,
            period: Some(period),
        };
        if let Err(e) = engine::storage_snapshot(&ctx, storage, &spec) {
            log::error!("{who} action=storage-snapshot storage={storage} result=failed: {e}");
            failed += 1;
        }
    }
    let consistency = if schedule.freeze {
        Consistency::Freeze
    } else {
        Consistency::None
    };
    for &vmid in &schedule.guests {
        match guest_is_due(&ctx, schedule, vmid, local_node.as_deref(), &period) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                log::error!("{who} action=vm-snapshot vmid={vmid} result=failed: {e}");
                failed += 1;
                continue;
            }
        }
        let r = engine::vm_snapshot(
            &ctx,
            vmid,
            consistency,
            &schedule.label,
            schedule.retention(),
            (RescanMode::Auto, schedule.max_pause),
        );
        if let Err(e) = r {
            log::error!("{who} action=vm-snapshot vmid={vmid} result=failed: {e}");
            failed += 1;
        }
    }
    let total = schedule.storages.len() + schedule.guests.len();
    if failed > 0 {
        log::error!("{who} result=failed: {failed} of {total} snapshots failed");
        Ok(1)
    } else {
        log::info!("{who} result=ok: {total} snapshots");
        Ok(0)
    }
}

/// Whether this node snapshots guest `vmid` now: it runs here (or this is no Proxmox node) and no
/// set of the schedule's label was taken in this period. Logs why not.
fn guest_is_due(
    ctx: &Ctx,
    schedule: &Schedule,
    vmid: u32,
    local_node: Option<&str>,
    period: &Period,
) -> Result<bool> {
    let who = &ctx.who;
    if let Some(local) = local_node {
        let node = ctx.ops.guest_node(vmid)?;
        if node != local {
            log::info!(
                "{who} action=vm-snapshot vmid={vmid} result=skipped: the guest runs on node \
                 {node}, whose timer snapshots it"
            );
            return Ok(false);
        }
    }
    let sets = ctx.ops.vm_sets(vmid)?;
    if let Some(set) = period::disk_set_of(&sets, &schedule.label, period) {
        log::info!(
            "{who} action=vm-snapshot vmid={vmid} result=skipped: set {} was taken in this period \
             ({}) already",
            set.timestamp,
            period.show()
        );
        return Ok(false);
    }
    Ok(true)
}
