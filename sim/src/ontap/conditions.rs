//! Real-system conditions a scenario can switch on: no FlexClone licence, a node whose FlexClone
//! split load is exhausted (EBUSY), volume snapshots while clone block sharing runs, and a volume
//! without space for a snapshot. Each check runs when a job takes effect.

use super::errors::ApiError;
use super::snapshot_store::sizes;
use super::state::OntapState;

/// Without a FlexClone licence FlexClone volumes and files cannot be made (docs:
/// volumes/create-flexclone-file-flexclone-lun-task.adoc, "FlexClone license"). The REST code is
/// not documented; this uses the ZAPI errno `14956` (`ESIS_CLONE_NOT_LICENSED`, OpenStack Cinder
/// NetApp driver) with the ZAPI-era text "Clone operation failed to start: SIS clone license
/// expired." (rcbops/ansible-lxc-rpc#169) — a guess, see sim/README.md.
fn not_licensed(what: &str) -> ApiError {
    ApiError::new(
        400,
        14956,
        format!("{what}: Clone operation failed to start: SIS clone license expired."),
    )
}

/// Before a FlexClone volume takes effect.
pub fn volume_clone(state: &OntapState) -> Result<(), ApiError> {
    if !state.conditions.flexclone_license {
        return Err(not_licensed("Failed to create the FlexClone volume"));
    }
    Ok(())
}

/// Before a file clone takes effect: the licence, then the node's split load. "the node
/// temporarily stops accepting requests to create FlexClone files and FlexClone LUNs and issues an
/// EBUSY error message" (docs: volumes/create-flexclone-file-flexclone-lun-task.adoc); it arrives in
/// `13565952` "Clone start failed." (ONTAP swagger file clone create table). The wording after
/// "Reason:" is a guess.
pub fn file_clone(state: &mut OntapState) -> Result<(), ApiError> {
    if !state.conditions.flexclone_license {
        return Err(not_licensed("Clone start failed"));
    }
    if state.conditions.file_clone_busy > 0 {
        state.conditions.file_clone_busy -= 1;
        return Err(ApiError::new(
            400,
            13565952,
            "Clone start failed. Reason: EBUSY: the FlexClone split load of the node is exhausted; retry the operation later.",
        ));
    }
    Ok(())
}

/// Before a volume snapshot takes effect: block sharing of new clones ("you cannot create a volume
/// snapshot until the block sharing is finished", docs:
/// san-admin/flexclone-luns-protect-your-data-concept.adoc) answers `1520351` "Snapshot operation is
/// not allowed." (swagger snapshot create table; which code ONTAP uses here is a guess), and a
/// volume whose files and snapshots fill it answers `524479` "The specified volume is not online
/// or does not have enough space to create a snapshot." (swagger snapshot create table).
pub fn snapshot_create(state: &mut OntapState, volume: &str) -> Result<(), ApiError> {
    if state.conditions.snapshot_block_sharing > 0 {
        state.conditions.snapshot_block_sharing -= 1;
        return Err(ApiError::new(
            409,
            1520351,
            "Snapshot operation is not allowed.",
        ));
    }
    if let Some(v) = state.volume(volume) {
        let used = v.tree.used_bytes() + sizes(v).iter().sum::<u64>();
        if used >= v.size {
            return Err(ApiError::new(
                400,
                524479,
                "The specified volume is not online or does not have enough space to create a snapshot.",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::scenario::Conditions;

    #[test]
    fn a_scenario_without_conditions_has_a_licence_and_no_busy_node() {
        let c: Conditions = serde_json::from_str("{}").unwrap();
        assert_eq!(c, Conditions::default());
        assert!(c.flexclone_license);
        assert!(serde_json::from_str::<Conditions>(r#"{"licence": false}"#).is_err());
    }
}
