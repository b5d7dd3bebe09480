//! `storage create`: one ONTAP snapshot of the storage's volume, optionally with the running QEMU
//! guests on the storage fs-frozen through their agents for exactly the snapshot call.

use crate::error::{Error, Result, ResultExt};
use crate::ops::clock::Clock;
use crate::ops::manifest::{self, Record};
use crate::ops::quiesce;
use crate::ops::resolve::resolve;
use crate::ops::Backends;
use crate::pve::GuestType;

use super::{
    agent_enabled, guard, guests_on_storages, lock_support, row, storages_on_volume, take_snapshot,
    validate_label, CreateOptions, SnapshotRow,
};

/// Requests without `--freeze`: the resolution (storage, LIF, volume) and the snapshot POST (plus
/// the client's job wait and its read-back of the new snapshot). With `--freeze`, before the
/// snapshot: the guest list and the config of each running QEMU guest; then the agent calls.
///
/// With `record`, the configurations of the guests on the storage are written into the volume
/// first (`ops::manifest`): the guest list, one config read per guest, one listing, one write
/// per recorded guest.
pub(super) fn create(
    b: &dyn Backends,
    storage: &str,
    opts: &CreateOptions,
    clock: &dyn Clock,
    record: Record,
) -> Result<SnapshotRow> {
    if let Some(label) = &opts.label {
        validate_label(label)?;
    }
    let r = resolve(b, storage)?;
    if opts.lock.is_some() {
        let version = r.ontap.version().step("read the ONTAP version")?;
        lock_support(&r, version).map_err(Error::Refused)?;
    }
    let warning = guard(&r, &opts.capacity)?;
    let comment = format!("pve-ontap-snapshot: storage {storage}");
    let label = opts.label.as_deref();
    let mut notes = Vec::new();

    if !opts.freeze && record == Record::Nothing {
        let snap = take_snapshot(&r, &comment, label, opts.expiry, opts.lock, clock)?;
        let mut out = row(&r, &snap, Vec::new());
        out.notes.extend(warning);
        return Ok(out);
    }

    // Every lookup happens before anything is frozen.
    let pve = b.pve()?;
    let storages = storages_on_volume(pve.as_ref(), &r)?;
    let all = guests_on_storages(pve.as_ref(), &storages, |g| match record {
        Record::All | Record::AllOrWarn => true,
        Record::Guest(vmid) => g.vmid == vmid || (opts.freeze && g.status == "running"),
        Record::Nothing => g.guest_type == GuestType::Qemu && g.status == "running",
    })?;
    let recorded: Vec<(crate::pve::Guest, crate::pve::GuestConfig)> = all
        .iter()
        .filter(|g| match record {
            Record::All | Record::AllOrWarn => true,
            Record::Guest(vmid) => g.guest.vmid == vmid,
            Record::Nothing => false,
        })
        .map(|g| (g.guest.clone(), g.config.clone()))
        .collect();
    let written = manifest::write_all(&r, &recorded);
    match record {
        // Asked for on the command line: no snapshot without the configurations.
        Record::All if !written.failed.is_empty() => {
            manifest::remove_new(&r, &written);
            return Err(Error::Refused(format!(
                "could not record the configurations of the guests on storage '{storage}' in \
                 the volume ({}); no snapshot was taken ('--no-configs' takes it without them)",
                written.failed.join("; ")
            )));
        }
        _ => notes.extend(written.failed.iter().map(|f| {
            let note = format!("configuration not recorded with the snapshot: {f}");
            log::warn!("{note}");
            note
        })),
    }
    if !opts.freeze {
        let snap = take_snapshot(&r, &comment, label, opts.expiry, opts.lock, clock).inspect_err(
            |_| {
                manifest::remove_new(&r, &written);
            },
        )?;
        let mut out = row(&r, &snap, Vec::new());
        out.notes = notes;
        out.notes.extend(warning);
        return Ok(out);
    }
    let on_storage: Vec<_> = all
        .into_iter()
        .filter(|g| g.guest.guest_type == GuestType::Qemu && g.guest.status == "running")
        .collect();
    let mut to_freeze = Vec::new();
    for g in on_storage {
        if agent_enabled(&g.config) {
            to_freeze.push(g);
        } else {
            let note = format!(
                "guest {} has no guest agent enabled; its disks ({}) are crash-consistent only",
                g.label(),
                g.disks.join(", ")
            );
            log::warn!("{note}");
            notes.push(note);
        }
    }
    let snap = if to_freeze.is_empty() {
        notes.push("no running guest with an agent on this storage: nothing was frozen".into());
        take_snapshot(&r, &comment, label, opts.expiry, opts.lock, clock)
            .inspect_err(|_| manifest::remove_new(&r, &written))?
    } else {
        let guests: Vec<_> = to_freeze.iter().map(|g| g.guest.clone()).collect();
        let labels: Vec<_> = to_freeze.iter().map(|g| g.label()).collect();
        log::info!(
            "fs-freezing guests {} around the snapshot",
            labels.join(", ")
        );
        let guard = b.guard()?;
        let frozen = quiesce::with_frozen_report(
            (pve.as_ref(), guard.as_ref()),
            &guests,
            opts.max_pause,
            || take_snapshot(&r, &comment, label, opts.expiry, opts.lock, clock),
            // Taken after the bound: the guests were thawed before it, so it is not consistent.
            |snap| {
                r.ontap
                    .delete_snapshot(&r.volume.uuid, &snap.uuid)
                    .step_with(|| format!("delete snapshot '{}'", snap.name))
            },
        )
        .inspect_err(|_| manifest::remove_new(&r, &written))?;
        let mut done = Vec::new();
        for g in &to_freeze {
            match frozen
                .not_frozen
                .iter()
                .find(|(vmid, _)| *vmid == g.guest.vmid)
            {
                Some((_, why)) => notes.push(format!(
                    "guest {} could not be frozen, its disks are crash-consistent only: {why}",
                    g.label()
                )),
                None => done.push(g.label()),
            }
        }
        if !done.is_empty() {
            notes.push(format!(
                "guests {} were fs-frozen for the snapshot and thawed",
                done.join(", ")
            ));
        }
        frozen.value
    };
    let mut out = row(&r, &snap, Vec::new());
    out.notes = notes;
    out.notes.extend(warning);
    Ok(out)
}
