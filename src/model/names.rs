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

/// Parse a `timestamp()` string back to a UTC time (exactly that form: no sign, no padding).
pub fn parse_timestamp(ts: &str) -> Option<OffsetDateTime> {
    if ts.len() != TS_LEN || !ts.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
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
    disk_snapshot_file_labeled(disk_file, ts, None)
}

/// With a label: `vm-100-disk-0.qcow2` + ts + `daily` → `vm-100-disk-0-snapshot-daily-<ts>.qcow2`.
///
/// Why the label sits in the name: ONTAP files carry no comment, and a side file would be one more
/// thing to lose. Before the timestamp, so that a name still ends in `-<ts>.<ext>` and sorts by
/// stem; the timestamp has a fixed length, so a label may contain `-` and stays unambiguous
/// (`label_is_valid` keeps out `snapshot` and characters Proxmox or shells dislike). Unlabelled
/// names are exactly the original tool's, so its sets are found too.
pub fn disk_snapshot_file_labeled(disk_file: &str, ts: &str, label: Option<&str>) -> String {
    let tag = match label {
        Some(label) => format!("{label}-{ts}"),
        None => ts.to_string(),
    };
    match disk_file.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}{DISK_SNAPSHOT_MARKER}{tag}.{ext}"),
        None => format!("{disk_file}{DISK_SNAPSHOT_MARKER}{tag}"),
    }
}

/// A disk snapshot file name taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSnapshotName {
    /// The disk file it was cloned from, e.g. `vm-100-disk-0.qcow2`.
    pub source: String,
    /// `YYYY-mm-dd_HH:MM:SS+0000`.
    pub timestamp: String,
    pub label: Option<String>,
}

/// `vm-100-disk-0[-snapshot-[<label>-]<ts>].qcow2` → its parts; None if not a disk snapshot file.
pub fn parse_disk_snapshot_name(file: &str) -> Option<DiskSnapshotName> {
    let (stem, rest) = file.rsplit_once(DISK_SNAPSHOT_MARKER)?;
    // `rest` is `[<label>-]<ts>[.<ext>]`; the timestamp holds no `.`, so the extension is what
    // follows the last dot, if the part before it ends in a timestamp.
    let (tag, ext) = match rest.rsplit_once('.') {
        Some((tag, ext)) if split_tag(tag).is_some() => (tag, Some(ext)),
        _ => (rest, None),
    };
    let (label, ts) = split_tag(tag)?;
    let source = match ext {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_string(),
    };
    Some(DiskSnapshotName {
        source,
        timestamp: ts.to_string(),
        label: label.map(str::to_string),
    })
}

/// `[<label>-]<ts>` → (label, ts).
fn split_tag(tag: &str) -> Option<(Option<&str>, &str)> {
    if parse_timestamp(tag).is_some() {
        return Some((None, tag));
    }
    let split = tag.len().checked_sub(TS_LEN + 1)?;
    let (label, ts) = (tag.get(..split)?, tag.get(split + 1..)?);
    (tag.as_bytes()[split] == b'-' && label_is_valid(label) && parse_timestamp(ts).is_some())
        .then_some((Some(label), ts))
}

/// Length of a `timestamp()` string.
const TS_LEN: usize = "2024-03-13_14:42:47+0000".len();

/// `vm-100-disk-0-snapshot-<ts>.qcow2` → (`vm-100-disk-0.qcow2`, `<ts>`); None if not a snapshot file.
/// Labelled names (`disk_snapshot_file_labeled`) are recognised too; the label is dropped.
pub fn parse_disk_snapshot_file(file: &str) -> Option<(String, String)> {
    parse_disk_snapshot_name(file).map(|n| (n.source, n.timestamp))
}

/// Longest label accepted for disk snapshots.
pub const MAX_LABEL_LEN: usize = 31;

/// A disk snapshot label (ONTAP's `snapmirror_label` limit): 1–31 of `[A-Za-z0-9_.-]`, starting with a letter or digit, not
/// containing `snapshot` (which would make the file name ambiguous).
pub fn label_is_valid(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= MAX_LABEL_LEN
        && label.as_bytes()[0].is_ascii_alphanumeric()
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !label.to_ascii_lowercase().contains("snapshot")
}

/// Why a label cannot be used for disk snapshots, for a usage error.
pub fn check_label(label: &str) -> Result<(), String> {
    if label_is_valid(label) {
        Ok(())
    } else {
        Err(format!(
            "invalid label '{label}': use 1-{MAX_LABEL_LEN} letters, digits, '_', '.' or '-', \
             starting with a letter or digit and not containing 'snapshot' \
             (the label becomes part of the disk snapshot file name)"
        ))
    }
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
        assert_eq!(parse_timestamp("-2024-03-13_14:42:47+0000"), None);
        assert_eq!(parse_timestamp("+2024-03-13_14:42:47+0000"), None);
        assert_eq!(parse_timestamp("12024-03-13_14:42:47+0000"), None);
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

    #[test]
    fn labelled_names_round_trip() {
        let ts = "2024-03-13_14:42:47+0000";
        let f = disk_snapshot_file_labeled("vm-100-disk-0.qcow2", ts, Some("daily"));
        assert_eq!(
            f,
            "vm-100-disk-0-snapshot-daily-2024-03-13_14:42:47+0000.qcow2"
        );
        assert_eq!(
            parse_disk_snapshot_name(&f),
            Some(DiskSnapshotName {
                source: "vm-100-disk-0.qcow2".into(),
                timestamp: ts.into(),
                label: Some("daily".into()),
            })
        );
        // Labels with dashes and dots stay unambiguous: the timestamp has a fixed length.
        let f = disk_snapshot_file_labeled("vm-100-disk-1.raw", ts, Some("pre-upgrade.v2"));
        let n = parse_disk_snapshot_name(&f).unwrap();
        assert_eq!(n.source, "vm-100-disk-1.raw");
        assert_eq!(n.label.as_deref(), Some("pre-upgrade.v2"));
        assert_eq!(
            parse_disk_snapshot_file(&f),
            Some(("vm-100-disk-1.raw".into(), ts.into()))
        );
    }

    #[test]
    fn original_names_have_no_label() {
        let n = parse_disk_snapshot_name("vm-100-disk-0-snapshot-2024-03-13_14:42:47+0000.qcow2")
            .unwrap();
        assert_eq!(n.label, None);
        assert_eq!(n.source, "vm-100-disk-0.qcow2");
        // No extension at all.
        let n = parse_disk_snapshot_name("disk-snapshot-2024-03-13_14:42:47+0000").unwrap();
        assert_eq!(n.source, "disk");
        assert_eq!(n.label, None);
    }

    #[test]
    fn stems_containing_the_marker_keep_it() {
        let f = disk_snapshot_file_labeled("a-snapshot-b.raw", "2024-03-13_14:42:47+0000", None);
        assert_eq!(
            parse_disk_snapshot_file(&f),
            Some(("a-snapshot-b.raw".into(), "2024-03-13_14:42:47+0000".into()))
        );
    }

    #[test]
    fn not_snapshot_files() {
        for name in [
            "vm-100-disk-0.qcow2",
            "vm-100-disk-0-snapshot-.qcow2",
            "vm-100-disk-0-snapshot-daily.qcow2",
            "vm-100-disk-0-snapshot-x2024-03-13_14:42:47+0000.qcow2",
            "vm-100-disk-0-snapshot--2024-03-13_14:42:47+0000.qcow2",
            "vm-100-disk-0-snapshot-bad label-2024-03-13_14:42:47+0000.qcow2",
            "vm-100-disk-0-snapshot-2024-13-13_14:42:47+0000.qcow2",
        ] {
            assert_eq!(parse_disk_snapshot_name(name), None, "{name}");
        }
    }

    #[test]
    fn labels_are_checked() {
        for ok in ["daily", "pre-upgrade", "v1.2", "a_b", "7d"] {
            assert!(label_is_valid(ok), "{ok}");
        }
        let long = "x".repeat(MAX_LABEL_LEN + 1);
        for bad in [
            "",
            "-x",
            ".x",
            "a b",
            "a/b",
            "a:b",
            "my-snapshot",
            "a,b",
            long.as_str(),
        ] {
            assert!(!label_is_valid(bad), "{bad}");
        }
        assert!(check_label("a b")
            .unwrap_err()
            .contains("invalid label 'a b'"));
    }
}
