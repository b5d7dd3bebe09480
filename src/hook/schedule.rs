//! Scheduled snapshots: `pve-ontap-snapshot run NAME` runs a `[schedule:NAME]` section (volume
//! snapshots of storages and/or disk snapshots of guests, each pruned per label), e.g. from a timer.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hook::engine::{self, Connect, Ctx, Ops, SnapshotSpec, Start};
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
    let ctx = Ctx::new(config, make_ops(config)?, start, who.clone());
    let mut failed = 0usize;
    for storage in &schedule.storages {
        let spec = SnapshotSpec {
            label: schedule.label.clone(),
            freeze: schedule.freeze,
            retention: schedule.retention(),
            expiry: schedule.expiry,
            coalesce: false,
            lock_deadline: Instant::now() + schedule.lock_timeout,
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
        let r = engine::vm_snapshot(
            &ctx,
            vmid,
            consistency,
            &schedule.label,
            schedule.retention(),
            RescanMode::Auto,
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
