//! The ONTAP part of a scenario file (serde JSON) and the built-in default cluster.
//! Every field is optional in a file; missing ones take the built-in default's value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::rbac::RestRole;

/// The ONTAP part of a scenario (`"ontap": {...}` in a scenario file).
///
/// Example: `{"version": "9.11.1", "job_duration_ms": 50, "job_retention_ms": 2000}` is the default
/// cluster on ONTAP 9.11.1 with faster jobs that are forgotten two seconds after they end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Cluster name (`GET /api/cluster` `name`). Default `sim-cluster`.
    pub cluster_name: String,
    /// Cluster uuid; derived from the name when absent.
    pub cluster_uuid: Option<String>,
    /// ONTAP release `generation.major.minor`, optionally with a patch suffix (`9.14.1P3`, shown
    /// only in `version.full`). Version-dependent behaviour follows it: `snapmirror_label` and
    /// `overwrite_destination` from 9.8, snapshot `size` and job `error` from 9.9,
    /// `snapshot_count` from 9.10, volume DELETE `force` from 9.12. Default `9.14.1`.
    pub version: String,
    /// REST accounts (HTTP basic auth). Default: `admin` with password `Ontap-Pa55;#"\=x`.
    pub accounts: Vec<Account>,
    /// Custom REST roles (`security login rest-role create`) that accounts may name. Default none.
    pub rest_roles: Vec<RestRole>,
    /// SVMs with their data LIFs and export policies.
    pub svms: Vec<SvmSpec>,
    /// FlexVol volumes with their file trees and snapshots, in creation order.
    pub volumes: Vec<VolumeSpec>,
    /// Total run time of every job: it is `queued` for the first quarter, then `running`, then
    /// ends (`success`/`failure`); its effect applies when it ends. Default 150.
    pub job_duration_ms: u64,
    /// How long a job stays visible at `/api/cluster/jobs/{uuid}` after it ended (then 404).
    /// Default 300000 (300 s, as ONTAP).
    pub job_retention_ms: u64,
    /// The cluster's UTC offset used in every timestamp it reports (`+00:00`, `-04:00`).
    /// Default `+00:00`.
    pub utc_offset: String,
    /// Simulated time at start (RFC 3339); the clock then advances in real time.
    /// Default: the real time.
    pub start_time: Option<String>,
    /// Whether the SnapLock compliance clock runs (initialised): snapshot locking can only be
    /// enabled on a volume with it, and locks expire by it (the simulation clock). Default true.
    pub compliance_clock: bool,
    /// Real-system conditions (licence, busy node, block sharing). Default: none of them.
    pub conditions: Conditions,
}

/// `"conditions": {...}` in the ONTAP scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conditions {
    /// The cluster has a FlexClone licence (ONTAP One includes it; clusters before it may not).
    /// Default true.
    pub flexclone_license: bool,
    /// The next N file clones fail with EBUSY: the node's split load is exhausted.
    pub file_clone_busy: u32,
    /// The next N volume snapshot creates fail: clone block sharing is still running.
    pub snapshot_block_sharing: u32,
}

impl Default for Conditions {
    fn default() -> Conditions {
        Conditions {
            flexclone_license: true,
            file_clone_busy: 0,
            snapshot_block_sharing: 0,
        }
    }
}

/// What an account may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    #[default]
    Admin,
    /// GET only; every other method answers 403 (code 6).
    Readonly,
    /// An SVM-scoped administrator: everything except `/api/cluster` and
    /// `/api/network/ip/interfaces`, which answer 403 (code 6).
    Vsadmin,
    /// The name of a role in `rest_roles`.
    #[serde(untagged)]
    Rest(String),
}

/// A REST account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// User name (UTF-8).
    pub name: String,
    /// Password (UTF-8, compared literally).
    pub password: String,
    /// Default `admin`.
    #[serde(default)]
    pub role: Role,
}

/// An SVM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SvmSpec {
    pub name: String,
    /// Derived from the name when absent.
    #[serde(default)]
    pub uuid: Option<String>,
    /// NFS export policy names (`default` is added when missing).
    #[serde(default)]
    pub export_policies: Vec<String>,
    /// Data LIFs of the SVM.
    #[serde(default)]
    pub lifs: Vec<LifSpec>,
}

/// A data LIF (an address string only; nothing ever connects to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifSpec {
    pub name: String,
    /// The IP address (`ip.address`).
    pub ip: String,
    /// Derived from the name when absent.
    #[serde(default)]
    pub uuid: Option<String>,
}

/// A volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    pub name: String,
    /// Derived from SVM and name when absent.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Owning SVM name.
    pub svm: String,
    /// Junction path (`nas.path`); absent: not mounted.
    #[serde(default)]
    pub junction: Option<String>,
    /// Export policy name; default `default`.
    #[serde(default)]
    pub export_policy: Option<String>,
    /// Size in bytes, or a string with a binary suffix (`500GiB`, `1T`, `528K`).
    #[serde(default = "default_volume_size")]
    pub size: Size,
    #[serde(default)]
    pub comment: Option<String>,
    /// Creation time (RFC 3339); default: the start of the simulation.
    #[serde(default)]
    pub create_time: Option<String>,
    /// Files (parent directories are created as needed).
    #[serde(default)]
    pub files: Vec<FileSpec>,
    /// Extra (possibly empty) directories.
    #[serde(default)]
    pub directories: Vec<String>,
    /// Snapshots, oldest first.
    #[serde(default)]
    pub snapshots: Vec<SnapshotSpec>,
    /// `snapshot_locking_enabled` (tamperproof snapshots; ONTAP 9.12.1+). Default false.
    #[serde(default)]
    pub snapshot_locking_enabled: bool,
}

/// A file in a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Volume-relative path.
    pub path: String,
    /// Bytes, or a string with a binary suffix.
    pub size: Size,
    /// Content generation; default 1.
    #[serde(default = "one")]
    pub generation: u64,
}

/// A snapshot that exists at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotSpec {
    pub name: String,
    /// Derived from volume and name when absent.
    #[serde(default)]
    pub uuid: Option<String>,
    /// RFC 3339; default: the start of the simulation.
    #[serde(default)]
    pub create_time: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub snapmirror_label: Option<String>,
    #[serde(default)]
    pub expiry_time: Option<String>,
    /// Locked until then (RFC 3339; the volume needs snapshot locking).
    #[serde(default)]
    pub snaplock_expiry_time: Option<String>,
    /// Extra owners (e.g. `snapmirror`); `volume_clone` is added by FlexClones automatically.
    #[serde(default)]
    pub owners: Vec<String>,
    /// The captured files; default: the volume's `files`.
    #[serde(default)]
    pub files: Option<Vec<FileSpec>>,
}

/// A byte count; in a scenario either a number or a string with a binary suffix
/// (`K`/`KB`/`KiB`, `M`, `G`, `T`, `P`, all powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Size(pub u64);

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// Parse `32G`, `528KiB`, `1TB`, `4096` (binary units).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => KIB,
        "M" | "MB" | "MIB" => MIB,
        "G" | "GB" | "GIB" => GIB,
        "T" | "TB" | "TIB" => TIB,
        "P" | "PB" | "PIB" => 1024 * TIB,
        _ => return None,
    };
    n.checked_mul(mult)
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Size, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Size(n)),
            Raw::S(s) => parse_size(&s)
                .map(Size)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid size \"{s}\""))),
        }
    }
}

fn one() -> u64 {
    1
}

fn default_volume_size() -> Size {
    Size(100 * GIB)
}

fn file(path: &str, size: u64) -> FileSpec {
    FileSpec {
        path: path.to_string(),
        size: Size(size),
        generation: 1,
    }
}

fn volume(name: &str, svm: &str, junction: &str, policy: &str, size: u64) -> VolumeSpec {
    VolumeSpec {
        name: name.to_string(),
        uuid: None,
        svm: svm.to_string(),
        junction: Some(junction.to_string()),
        export_policy: Some(policy.to_string()),
        size: Size(size),
        comment: None,
        create_time: Some("2024-01-15T09:30:00Z".to_string()),
        files: Vec::new(),
        directories: Vec::new(),
        snapshots: Vec::new(),
        snapshot_locking_enabled: false,
    }
}

fn snapshot(name: &str, create_time: &str, comment: Option<&str>) -> SnapshotSpec {
    SnapshotSpec {
        name: name.to_string(),
        uuid: None,
        create_time: Some(create_time.to_string()),
        comment: comment.map(str::to_string),
        snapmirror_label: None,
        expiry_time: None,
        snaplock_expiry_time: None,
        owners: Vec::new(),
        files: None,
    }
}

impl Default for Scenario {
    /// The built-in default cluster `sim-cluster` (ONTAP 9.14.1): SVM `svm1` (LIF 127.0.10.1,
    /// policies `default`, `pve_hosts`) with volumes `ONTAP01` (`/ONTAP01`), `pve_vmstore2`
    /// (`/vmstore2`, snapshot locking enabled) and `pve_nested` (`/nested`); SVM `svm2` (LIF
    /// 127.0.20.1) with volume `vmstore2` (`/vmstore2`); account `admin`; compliance clock running.
    fn default() -> Scenario {
        let mut ontap01 = volume("ONTAP01", "svm1", "/ONTAP01", "pve_hosts", TIB);
        ontap01.files = vec![
            file("images/100/vm-100-disk-0.qcow2", 32 * GIB),
            file("images/100/vm-100-disk-1.raw", 8 * GIB),
            file("images/100/vm-100-disk-2.raw", 528 * KIB),
            file("images/100/vm-100-disk-3.raw", 4 * MIB),
            file("images/100/vm-100-cloudinit.qcow2", 4 * MIB),
            file("images/100/vm-100-disk-9.raw", GIB),
            file("images/101/vm-101-disk-0.raw", 16 * GIB),
            file("images/102/vm-102-disk-0.qcow2", 20 * GIB),
            file("images/104/vm-104-disk-0.raw", 4 * GIB),
            file("images/200/vm-200-disk-1.raw", 8 * GIB),
        ];
        ontap01.directories = vec!["snippets".into(), "template/iso".into()];
        ontap01.snapshots = vec![
            snapshot(
                "proxmox_snapshot_2024-03-13_14:42:47+0000",
                "2024-03-13T14:42:47Z",
                Some("made by the original tool"),
            ),
            snapshot("hourly.2026-11-01_0105", "2026-11-01T01:05:00Z", None),
        ];

        let mut vmstore2 = volume("pve_vmstore2", "svm1", "/vmstore2", "pve_hosts", 500 * GIB);
        vmstore2.files = vec![
            file("images/103/vm-103-disk-0.raw", 10 * GIB),
            file("images/200/vm-200-disk-0.raw", 8 * GIB),
        ];
        vmstore2.snapshot_locking_enabled = true;

        let mut trap = volume("vmstore2", "svm2", "/vmstore2", "default", 100 * GIB);
        trap.files = vec![file("images/999/vm-999-disk-0.raw", GIB)];

        let mut nested = volume("pve_nested", "svm1", "/nested", "pve_hosts", 200 * GIB);
        nested.files = vec![file("pve/images/105/vm-105-disk-0.raw", 2 * GIB)];

        Scenario {
            cluster_name: "sim-cluster".into(),
            cluster_uuid: None,
            version: "9.14.1".into(),
            accounts: vec![Account {
                name: "admin".into(),
                password: "Ontap-Pa55;#\"\\=x".into(),
                role: Role::Admin,
            }],
            rest_roles: Vec::new(),
            svms: vec![
                SvmSpec {
                    name: "svm1".into(),
                    uuid: None,
                    export_policies: vec!["default".into(), "pve_hosts".into()],
                    lifs: vec![LifSpec {
                        name: "lif_svm1_nfs".into(),
                        ip: "127.0.10.1".into(),
                        uuid: None,
                    }],
                },
                SvmSpec {
                    name: "svm2".into(),
                    uuid: None,
                    export_policies: vec!["default".into()],
                    lifs: vec![LifSpec {
                        name: "lif_svm2_nfs".into(),
                        ip: "127.0.20.1".into(),
                        uuid: None,
                    }],
                },
            ],
            volumes: vec![ontap01, vmstore2, trap, nested],
            job_duration_ms: 150,
            job_retention_ms: 300_000,
            utc_offset: "+00:00".into(),
            start_time: None,
            conditions: Conditions::default(),
            compliance_clock: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_partial_files() {
        assert_eq!(parse_size("528KiB"), Some(528 * 1024));
        assert_eq!(parse_size("1T"), Some(TIB));
        assert_eq!(parse_size("12 GB"), Some(12 * GIB));
        assert_eq!(parse_size("7"), Some(7));
        assert_eq!(parse_size("3X"), None);
        let s: Scenario = serde_json::from_str(r#"{"version":"9.8.0"}"#).unwrap();
        assert_eq!(s.version, "9.8.0");
        assert_eq!(s.volumes.len(), 4);
        assert_eq!(s.accounts[0].password.chars().count(), 16);
        let v: VolumeSpec = serde_json::from_str(
            r#"{"name":"v","svm":"svm1","size":"1GiB","files":[{"path":"a","size":"4K"}]}"#,
        )
        .unwrap();
        assert_eq!(v.size, Size(GIB));
        assert_eq!(v.files[0].generation, 1);
        assert!(serde_json::from_str::<Scenario>(r#"{"versoin":"9.8.0"}"#).is_err());
        let round: Scenario =
            serde_json::from_value(serde_json::to_value(Scenario::default()).unwrap()).unwrap();
        assert_eq!(round, Scenario::default());
    }
}
