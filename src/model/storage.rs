//! Proxmox storage ids and the one naming rule of clone storages (`<ID>-CLONE`, `<ID>-CLONE-<n>`).
//! Pure functions: the config maps a clone back to its parent's section, `storage mount` names new ones.

/// `X-CLONE` → `X`, `X-CLONE-3` → `X`; None for any other name.
pub fn clone_parent(storage: &str) -> Option<&str> {
    if let Some(parent) = storage.strip_suffix("-CLONE") {
        return (!parent.is_empty()).then_some(parent);
    }
    let (head, n) = storage.rsplit_once('-')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parent = head.strip_suffix("-CLONE")?;
    (!parent.is_empty()).then_some(parent)
}

/// A Proxmox storage id: `^[a-z][a-z0-9\-_.]*[a-z0-9]$`, case-insensitive (`pve-storage-id`).
pub fn valid_storage_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// The id `storage mount` gives a clone of `parent`: `<ID>-CLONE`, else `<ID>-CLONE-2`,
/// `<ID>-CLONE-3`, ... (the first one not taken). `clone_parent` reverses it.
pub fn clone_storage_id(parent: &str, taken: impl Fn(&str) -> bool) -> String {
    let first = format!("{parent}-CLONE");
    if !taken(&first) {
        return first;
    }
    (2u32..)
        .map(|n| format!("{parent}-CLONE-{n}"))
        .find(|id| !taken(id))
        .unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_storage_ids_count_up_when_taken() {
        assert_eq!(clone_storage_id("ONTAP01", |_| false), "ONTAP01-CLONE");
        let taken = ["ONTAP01-CLONE", "ONTAP01-CLONE-2"];
        assert_eq!(
            clone_storage_id("ONTAP01", |id| taken.contains(&id)),
            "ONTAP01-CLONE-3"
        );
    }

    #[test]
    fn clone_ids_map_back_to_their_parent() {
        for n in ["ONTAP01", "nfs-a"] {
            let first = clone_storage_id(n, |_| false);
            assert_eq!(clone_parent(&first), Some(n));
            let third = clone_storage_id(n, |id| id == first || id.ends_with("-2"));
            assert_eq!(clone_parent(&third), Some(n));
        }
        assert_eq!(clone_parent("ONTAP01-CLONEX"), None);
        assert!(valid_storage_id("ONTAP01-CLONE-2"));
    }
}
