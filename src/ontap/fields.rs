//! The `fields=` the client asks for (never `*`), version-gated where ONTAP added a field later,
//! and the decoding of records into `Volume`, `Snapshot`, `FileInfo` and `Svm`.

use serde_json::Value;

use super::errors::code_text;
use super::{FileInfo, OntapVersion, Snapshot, Svm, Volume};

/// A field list: fields every supported release (9.8+) has, plus later ones with their release.
pub(crate) struct FieldSet {
    pub base: &'static [&'static str],
    pub newer: &'static [(&'static str, OntapVersion)],
}

impl FieldSet {
    /// The `fields=` value: newer fields only when the release is unknown or has them, and never
    /// after ONTAP refused them once (`legacy`).
    pub fn list(&self, version: Option<OntapVersion>, legacy: bool) -> String {
        let mut out: Vec<&str> = self.base.to_vec();
        if !legacy {
            for (field, since) in self.newer {
                if version.is_none_or(|v| v >= *since) {
                    out.push(field);
                }
            }
        }
        out.join(",")
    }

    pub fn has_newer(&self) -> bool {
        !self.newer.is_empty()
    }
}

pub(crate) const VOLUME: FieldSet = FieldSet {
    base: &[
        "name",
        "uuid",
        "svm.name",
        "svm.uuid",
        "nas.path",
        "nas.export_policy.name",
        "clone.is_flexclone",
        "clone.parent_volume.name",
        "clone.parent_snapshot.name",
        "state",
        "style",
        "space.size",
        "space.used",
        "space.available",
        "space.snapshot.used",
        "comment",
    ],
    newer: &[
        ("snapshot_count", OntapVersion::new(9, 10, 0)),
        ("snapshot_locking_enabled", OntapVersion::new(9, 12, 1)),
    ],
};

pub(crate) const SNAPSHOT: FieldSet = FieldSet {
    base: &[
        "name",
        "uuid",
        "create_time",
        "comment",
        "expiry_time",
        "snaplock_expiry_time",
        "snapmirror_label",
        "owners",
    ],
    newer: &[("size", OntapVersion::new(9, 9, 0))],
};

pub(crate) const JOB: FieldSet = FieldSet {
    base: &["state", "message", "code", "description"],
    newer: &[("error", OntapVersion::new(9, 9, 0))],
};

pub(crate) const FILE: &str = "name,type,size";
pub(crate) const LIF_SVM: &str = "svm.name,svm.uuid";
pub(crate) const CLUSTER_VERSION: &str = "version";

/// A string at a dotted path (`"nas.export_policy.name"`).
pub(crate) fn text(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A non-negative number at a dotted path (also from a numeric string).
pub(crate) fn number(v: &Value, path: &str) -> Option<u64> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    match cur {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn flag(v: &Value, path: &str) -> bool {
    let mut cur = v;
    for part in path.split('.') {
        match cur.get(part) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    matches!(cur, Value::Bool(true)) || cur.as_str() == Some("true")
}

pub(crate) fn volume(v: &Value) -> Volume {
    Volume {
        name: text(v, "name").unwrap_or_default(),
        uuid: text(v, "uuid").unwrap_or_default(),
        svm_name: text(v, "svm.name").unwrap_or_default(),
        svm_uuid: text(v, "svm.uuid").unwrap_or_default(),
        nas_path: text(v, "nas.path").filter(|p| !p.is_empty()),
        export_policy: text(v, "nas.export_policy.name"),
        is_flexclone: flag(v, "clone.is_flexclone"),
        parent_volume: text(v, "clone.parent_volume.name"),
        parent_snapshot: text(v, "clone.parent_snapshot.name"),
        state: text(v, "state"),
        style: text(v, "style"),
        size: number(v, "space.size"),
        used: number(v, "space.used"),
        available: number(v, "space.available"),
        snapshot_count: number(v, "snapshot_count"),
        comment: text(v, "comment").filter(|c| !c.is_empty()),
        snapshot_used: number(v, "space.snapshot.used"),
        snapshot_locking_enabled: v.get("snapshot_locking_enabled").and_then(Value::as_bool),
    }
}

pub(crate) fn snapshot(v: &Value) -> Snapshot {
    Snapshot {
        name: text(v, "name").unwrap_or_default(),
        uuid: text(v, "uuid").unwrap_or_default(),
        create_time: text(v, "create_time").unwrap_or_default(),
        comment: text(v, "comment").filter(|c| !c.is_empty()),
        snapmirror_label: text(v, "snapmirror_label").filter(|c| !c.is_empty()),
        expiry_time: text(v, "expiry_time").filter(|c| !c.is_empty()),
        snaplock_expiry_time: text(v, "snaplock_expiry_time").filter(|c| !c.is_empty()),
        owners: v
            .get("owners")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|o| o.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        size: number(v, "size"),
    }
}

pub(crate) fn file(v: &Value) -> FileInfo {
    FileInfo {
        name: text(v, "name").unwrap_or_default(),
        file_type: text(v, "type").unwrap_or_default(),
        size: number(v, "size"),
    }
}

pub(crate) fn svm(v: &Value) -> Option<Svm> {
    Some(Svm {
        name: text(v, "svm.name")?,
        uuid: text(v, "svm.uuid")?,
    })
}

pub(crate) fn version(v: &Value) -> Option<OntapVersion> {
    let n = |f: &str| number(v, &format!("version.{f}")).and_then(|x| u32::try_from(x).ok());
    Some(OntapVersion::new(
        n("generation")?,
        n("major")?,
        n("minor").unwrap_or(0),
    ))
}

/// A job's result code: `error.code` (9.9+) before the top-level `code`.
pub(crate) fn job_code(job: &Value) -> Option<String> {
    job.get("error")
        .and_then(|e| e.get("code"))
        .and_then(code_text)
        .or_else(|| job.get("code").and_then(code_text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn newer_fields_follow_the_release() {
        assert!(VOLUME
            .list(None, false)
            .ends_with(",comment,snapshot_count,snapshot_locking_enabled"));
        assert!(VOLUME
            .list(Some(OntapVersion::new(9, 14, 1)), false)
            .contains("snapshot_count"));
        assert!(!VOLUME
            .list(Some(OntapVersion::new(9, 8, 0)), false)
            .contains("snapshot_count"));
        assert!(!VOLUME.list(None, true).contains("snapshot_count"));
        assert!(SNAPSHOT
            .list(Some(OntapVersion::new(9, 9, 0)), false)
            .ends_with(",size"));
        assert_eq!(
            JOB.list(Some(OntapVersion::new(9, 8, 0)), false),
            "state,message,code,description"
        );
        for set in [&VOLUME, &SNAPSHOT, &JOB] {
            assert!(!set.list(None, false).contains('*'));
        }
    }

    #[test]
    fn volumes_decode_every_field() {
        let v = volume(&json!({
            "name": "ONTAP01_clone", "uuid": "u1", "svm": {"name": "svm1", "uuid": "s1"},
            "nas": {"path": "/ONTAP01_clone", "export_policy": {"name": "pve_hosts"}},
            "clone": {"is_flexclone": true, "parent_volume": {"name": "ONTAP01"},
                      "parent_snapshot": {"name": "snap"}},
            "state": "online", "style": "flexvol",
            "space": {"size": 1099511627776u64, "used": 10, "available": 20},
            "snapshot_count": 2, "comment": ""
        }));
        assert_eq!(v.svm_name, "svm1");
        assert_eq!(v.nas_path.as_deref(), Some("/ONTAP01_clone"));
        assert_eq!(v.export_policy.as_deref(), Some("pve_hosts"));
        assert!(v.is_flexclone);
        assert_eq!(v.parent_snapshot.as_deref(), Some("snap"));
        assert_eq!(v.size, Some(1 << 40));
        assert_eq!(v.snapshot_count, Some(2));
        assert_eq!(v.comment, None);
        let unmounted = volume(&json!({"name": "x", "uuid": "u", "nas": {"path": ""}}));
        assert_eq!(unmounted.nas_path, None);
        assert!(!unmounted.is_flexclone);
    }

    #[test]
    fn snapshots_files_svms_and_versions_decode() {
        let s = snapshot(
            &json!({"name": "n", "uuid": "u", "create_time": "2024-03-13T14:42:47+00:00",
            "owners": ["volume_clone"], "size": "4096", "snapmirror_label": "daily"}),
        );
        assert_eq!(s.owners, vec!["volume_clone".to_string()]);
        assert_eq!(s.size, Some(4096));
        assert_eq!(s.snapmirror_label.as_deref(), Some("daily"));
        let f =
            file(&json!({"name": "vm-100-disk-0.qcow2", "type": "file", "size": 34359738368u64}));
        assert_eq!(f.file_type, "file");
        assert_eq!(
            svm(&json!({"svm": {"name": "svm1", "uuid": "s"}}))
                .unwrap()
                .name,
            "svm1"
        );
        assert!(svm(&json!({"name": "cluster_mgmt"})).is_none());
        assert_eq!(
            version(
                &json!({"version": {"full": "NetApp Release 9.14.1", "generation": 9, "major": 14, "minor": 1}})
            ),
            Some(OntapVersion::new(9, 14, 1))
        );
    }

    #[test]
    fn job_codes_prefer_the_error_object() {
        assert_eq!(
            job_code(&json!({"code": 460770, "error": {"code": "13565952", "message": "x"}})),
            Some("13565952".into())
        );
        assert_eq!(job_code(&json!({"code": 524486})), Some("524486".into()));
        assert_eq!(job_code(&json!({})), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::props::json;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #[test]
        fn any_record_decodes_without_panic(v in json()) {
            let _ = (volume(&v), snapshot(&v), file(&v), svm(&v), version(&v), job_code(&v));
            let _ = (text(&v, "svm.name"), number(&v, "space.size"));
        }

        #[test]
        fn records_round_trip(
            name in any::<String>(),
            svm_name in any::<String>(),
            size in any::<u64>(),
            as_string in any::<bool>(),
            owners in proptest::collection::vec(any::<String>(), 0..4),
        ) {
            let size_json = if as_string { json!(size.to_string()) } else { json!(size) };
            let v = volume(&json!({"name": name.clone(), "svm": {"name": svm_name.clone()}, "space": {"size": size_json.clone()}}));
            prop_assert_eq!(&v.name, &name);
            prop_assert_eq!(&v.svm_name, &svm_name);
            prop_assert_eq!(v.size, Some(size));
            let s = snapshot(&json!({"name": name.clone(), "owners": owners.clone(), "size": size_json}));
            prop_assert_eq!(s.name, name);
            prop_assert_eq!(s.owners, owners);
            prop_assert_eq!(s.size, Some(size));
        }

        #[test]
        fn versions_round_trip(g in any::<u32>(), major in any::<u32>(), minor in any::<u32>()) {
            let v = json!({"version": {"full": "NetApp Release", "generation": g, "major": major, "minor": minor}});
            prop_assert_eq!(version(&v), Some(OntapVersion::new(g, major, minor)));
        }
    }
}
