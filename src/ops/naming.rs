//! Names the tool gives and recognises: volume snapshots `proxmox_snapshot_<ts>`, disk snapshot files
//! `<stem>-snapshot-<ts>.<ext>`, with `<ts>` = `YYYY-mm-dd_HH:MM:SS+0000` in UTC (the original tool's format).

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Prefix of every volume snapshot this tool (and the original) makes.
pub const STORAGE_SNAPSHOT_PREFIX: &str = "proxmox_snapshot_";
/// Separator between a disk's stem and the timestamp in a disk snapshot file name.
pub const DISK_SNAPSHOT_MARKER: &str = "-snapshot-";

const TS_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]_[hour]:[minute]:[second]+0000");

/// `2024-03-13_14:42:47+0000` for a UTC time.
pub fn timestamp(at: OffsetDateTime) -> String {
    let utc = at.to_offset(UtcOffset::UTC);
    // The format has only numeric fields, so formatting a valid date cannot fail.
    utc.format(TS_FORMAT).unwrap_or_default()
}

/// Parse a `timestamp()` string back to a UTC time.
pub fn parse_timestamp(ts: &str) -> Option<OffsetDateTime> {
    PrimitiveDateTime::parse(ts, TS_FORMAT)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// `proxmox_snapshot_<ts>`.
pub fn storage_snapshot_name(at: OffsetDateTime) -> String {
    format!("{STORAGE_SNAPSHOT_PREFIX}{}", timestamp(at))
}

/// The creation time encoded in a name this tool made; None for any other snapshot.
pub fn parse_storage_snapshot_name(name: &str) -> Option<OffsetDateTime> {
    name.strip_prefix(STORAGE_SNAPSHOT_PREFIX)
        .and_then(parse_timestamp)
}

/// `vm-100-disk-0.qcow2` + ts → `vm-100-disk-0-snapshot-<ts>.qcow2`.
pub fn disk_snapshot_file(disk_file: &str, ts: &str) -> String {
    match disk_file.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}{DISK_SNAPSHOT_MARKER}{ts}.{ext}"),
        None => format!("{disk_file}{DISK_SNAPSHOT_MARKER}{ts}"),
    }
}

/// `vm-100-disk-0-snapshot-<ts>.qcow2` → (`vm-100-disk-0.qcow2`, `<ts>`); None if not a snapshot file.
pub fn parse_disk_snapshot_file(file: &str) -> Option<(String, String)> {
    let (stem, rest) = file.rsplit_once(DISK_SNAPSHOT_MARKER)?;
    let (ts, ext) = match rest.rsplit_once('.') {
        Some((ts, ext)) if parse_timestamp(ts).is_some() => (ts, Some(ext)),
        _ if parse_timestamp(rest).is_some() => (rest, None),
        _ => return None,
    };
    let source = match ext {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_string(),
    };
    Some((source, ts.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_match_the_original_tool() {
        let at = datetime!(2024-03-13 14:42:47 UTC);
        assert_eq!(
            storage_snapshot_name(at),
            "proxmox_snapshot_2024-03-13_14:42:47+0000"
        );
        assert_eq!(
            parse_storage_snapshot_name("proxmox_snapshot_2024-03-13_14:42:47+0000"),
            Some(at)
        );
        assert_eq!(parse_storage_snapshot_name("hourly.2024-03-13_1405"), None);
    }

    #[test]
    fn timestamps_are_utc() {
        let at = datetime!(2024-03-13 16:42:47 +02:00);
        assert_eq!(timestamp(at), "2024-03-13_14:42:47+0000");
    }

    #[test]
    fn disk_snapshot_files_round_trip() {
        let f = disk_snapshot_file("vm-100-disk-0.qcow2", "2024-03-13_14:42:47+0000");
        assert_eq!(f, "vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.qcow2");
        assert_eq!(
            parse_disk_snapshot_file(&f),
            Some((
                "vm-100-disk-0.qcow2".into(),
                "2024-03-13_14:42:47+0000".into()
            ))
        );
        assert_eq!(parse_disk_snapshot_file("vm-100-disk-0.qcow2"), None);
        assert_eq!(parse_disk_snapshot_file("a-snapshot-notatime.raw"), None);
    }
}
