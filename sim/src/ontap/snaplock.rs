//! Snapshot locking (tamperproof snapshots, ONTAP 9.12.1+): which requests ONTAP refuses because
//! of a lock, with its codes and messages. Pure rules; the handlers apply them to their state.
//!
//! Sources (see sim/README.md for the guesses):
//! - NetApp docs `snaplock/snapshot-lock-concept.adoc`: locking is a volume setting
//!   (`snapshot-locking-enabled`, 9.12.1 CLI), needs the SnapLock licence and an initialised
//!   compliance clock; a locked snapshot cannot be deleted before `snaplock_expiry_time` as measured
//!   by the compliance clock; "If there are any unexpired snapshots later than the one being
//!   restored, the snapshot restore operation fails"; volume and file clones may be made from a
//!   locked snapshot.
//! - ONTAP REST snapshot DELETE error `1638555` "The specified snapshot has not expired or is
//!   locked." (swagger bindings `snapshot_delete` responses, as Trident vendors them; Trident's job
//!   failure example shows the CLI wording used below).
//! - ONTAP REST volume PATCH error `9437886` "Volume snapshot restore failed because there are
//!   newer unexpired locked snapshots in the volume." (bindings `volume_modify` responses).
//! - Enabling without a running compliance clock: the CLI's "Cannot perform this operation because
//!   the compliance clock is not running." (ONTAP 9.12.1 transcript); the REST code is a guess.
//! - `snaplock_expiry_time` on a volume without locking: the docs say the setting "is ignored";
//!   the simulator ignores it too (no REST code is documented).

use time::OffsetDateTime;

use super::errors::ApiError;

/// First release with snapshot locking on ordinary volumes (9.12.1).
pub const SINCE: (u32, u32, u32) = (9, 12, 1);

/// Whether a release has snapshot locking (`snapshot_locking_enabled` on volumes).
pub fn supported(generation: u32, major: u32, minor: u32) -> bool {
    (generation, major, minor) >= SINCE
}

/// Whether a snapshot is locked now: its `snaplock_expiry_time` lies after the compliance clock.
pub fn locked(expiry: Option<OffsetDateTime>, compliance_clock: OffsetDateTime) -> bool {
    expiry.is_some_and(|t| t > compliance_clock)
}

/// The volume PATCH `snapshot_locking_enabled = true` without a running compliance clock.
pub fn enable_refusal(volume: &str, svm: &str, clock_running: bool) -> Option<ApiError> {
    (!clock_running).then(|| {
        ApiError::new(
            400,
            13001,
            format!(
                "Unable to set volume attribute \"snapshot-locking-enabled\" for volume \
                 \"{volume}\" on Vserver \"{svm}\". Reason: Cannot perform this operation because \
                 the compliance clock is not running."
            ),
        )
        .with_target("snapshot_locking_enabled")
    })
}

/// Turning locking off again while locked snapshots remain (a guess: ONTAP documents no code;
/// the docs say locked snapshots stay locked, so the simulator refuses).
pub fn disable_refusal(volume: &str, locked_snapshots: usize) -> Option<ApiError> {
    (locked_snapshots > 0).then(|| {
        ApiError::new(
            400,
            13001,
            format!(
                "Unable to disable snapshot locking on volume \"{volume}\": it has \
                 {locked_snapshots} unexpired locked snapshots."
            ),
        )
        .with_target("snapshot_locking_enabled")
    })
}

/// A `snaplock_expiry_time` that is not after the compliance clock (a guess: ONTAP documents no
/// code; a lock in the past would be no lock).
pub fn expiry_refusal(
    expiry: OffsetDateTime,
    compliance_clock: OffsetDateTime,
    text: &str,
) -> Option<ApiError> {
    (expiry <= compliance_clock).then(|| {
        ApiError::invalid_value(
            "snaplock_expiry_time",
            text,
            "must be later than the compliance clock",
        )
    })
}

/// DELETE of a snapshot still locked: `1638555`, in the job's failure wording.
pub fn delete_refusal(
    snapshot: &str,
    volume: &str,
    svm: &str,
    expiry: Option<OffsetDateTime>,
    compliance_clock: OffsetDateTime,
    shown_expiry: &str,
) -> Option<ApiError> {
    locked(expiry, compliance_clock).then(|| {
        ApiError::new(
            409,
            1638555,
            format!(
                "Snapshot copy \"{snapshot}\" of volume \"{volume}\" on Vserver \"{svm}\" has not \
                 expired or is locked (snaplock_expiry_time {shown_expiry}). Use the \"snapshot \
                 show -fields owners, expiry-time\" command to view the expiry and lock status of \
                 the Snapshot copy."
            ),
        )
    })
}

/// A volume SnapRestore that would discard a newer snapshot that is still locked: `9437886`.
/// `newer` are the (name, snaplock_expiry_time) of the snapshots newer than the restored one.
pub fn restore_refusal(
    newer: &[(&str, Option<OffsetDateTime>)],
    compliance_clock: OffsetDateTime,
) -> Option<ApiError> {
    newer
        .iter()
        .any(|(_, t)| locked(*t, compliance_clock))
        .then(|| {
            ApiError::new(
                409,
                9437886,
                "Volume snapshot restore failed because there are newer unexpired locked \
                 snapshots in the volume.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const CLOCK: OffsetDateTime = datetime!(2026-12-01 12:00:00 UTC);

    #[test]
    fn releases_before_9_12_1_have_no_locking() {
        assert!(!supported(9, 11, 1));
        assert!(!supported(9, 12, 0));
        assert!(supported(9, 12, 1));
        assert!(supported(9, 16, 0));
    }

    #[test]
    fn a_lock_holds_until_the_compliance_clock_passes_it() {
        let until = datetime!(2026-12-02 12:00:00 UTC);
        assert!(locked(Some(until), CLOCK));
        assert!(!locked(Some(until), until));
        assert!(!locked(None, CLOCK));
        let e = delete_refusal(
            "s1",
            "vol1",
            "svm1",
            Some(until),
            CLOCK,
            "2026-12-02T12:00:00Z",
        )
        .expect("locked snapshots are not deleted");
        assert_eq!((e.status, e.code), (409, 1638555));
        assert!(e.message.contains("has not expired or is locked"));
        assert!(
            delete_refusal("s1", "vol1", "svm1", Some(CLOCK), CLOCK, "").is_none(),
            "an expired lock no longer protects"
        );
    }

    #[test]
    fn restore_cannot_discard_a_locked_newer_snapshot() {
        let until = datetime!(2027-01-01 00:00:00 UTC);
        let e = restore_refusal(&[("a", None), ("b", Some(until))], CLOCK).unwrap();
        assert_eq!(e.code, 9437886);
        assert!(restore_refusal(&[("a", None)], CLOCK).is_none());
    }

    #[test]
    fn enabling_needs_the_compliance_clock_and_expiry_must_be_ahead() {
        let e = enable_refusal("vol1", "svm1", false).unwrap();
        assert!(e.message.contains("compliance clock is not running"));
        assert!(enable_refusal("vol1", "svm1", true).is_none());
        assert!(disable_refusal("vol1", 2).is_some());
        assert!(disable_refusal("vol1", 0).is_none());
        assert_eq!(
            expiry_refusal(CLOCK, CLOCK, "2026-12-01T12:00:00Z")
                .unwrap()
                .target
                .as_deref(),
            Some("snaplock_expiry_time")
        );
        assert!(expiry_refusal(datetime!(2026-12-01 12:00:01 UTC), CLOCK, "").is_none());
    }
}
