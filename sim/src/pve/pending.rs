//! Applying a validated config update to a guest: `unusedN` deletions act at once, new values go
//! to the pending section and are applied only while the guest is stopped (not hot-pluggable).

use super::params::split_list;
use super::state::{Guest, PveState};
use super::task::ConfigUpdate;

/// Apply a validated update: deletions of `unusedN` act at once; new `unusedN` values go to the
/// pending section and are applied right away only when the guest is stopped (they are not
/// hot-pluggable).
pub(crate) fn apply(
    state: &mut PveState,
    vmid: u32,
    update: &ConfigUpdate,
) -> Result<Vec<String>, String> {
    let guest = state
        .guests
        .get_mut(&vmid)
        .ok_or_else(|| format!("Configuration file of guest {vmid} does not exist\n"))?;
    let mut log = Vec::new();
    let mut summary: Vec<String> = update
        .delete
        .iter()
        .map(|k| format!("-delete {k}"))
        .collect();
    summary.extend(update.set.iter().map(|(k, v)| format!("-{k} {v}")));
    log.push(format!(
        "update {} {vmid}: {}",
        guest.label(),
        summary.join(" ")
    ));
    for key in &update.delete {
        let pending_value = guest.pending.remove(key);
        let current = guest.config.remove(key);
        if pending_value.is_none() && current.is_none() {
            log.push(format!(
                "cannot delete '{key}' - not set in current configuration!"
            ));
        }
        remove_pending_delete(guest, key);
    }
    for (key, volid) in &update.set {
        guest.pending.insert(key.clone(), volid.clone());
        remove_pending_delete(guest, key);
    }
    // cleanup_pending: drop pending values equal to the current ones.
    let unchanged: Vec<String> = guest
        .pending
        .iter()
        .filter(|(k, v)| k.as_str() != "delete" && guest.config.get(*k) == Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    for k in unchanged {
        guest.pending.remove(&k);
    }
    if !guest.is_running() {
        guest.apply_pending();
    }
    Ok(log)
}

fn remove_pending_delete(guest: &mut Guest, key: &str) {
    let Some(list) = guest.pending.get("delete") else {
        return;
    };
    let rest: Vec<String> = split_list(list)
        .into_iter()
        .filter(|k| k.trim_start_matches('!') != key)
        .collect();
    if rest.is_empty() {
        guest.pending.remove("delete");
    } else {
        guest.pending.insert("delete".into(), rest.join(","));
    }
}
