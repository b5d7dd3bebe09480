//! The generated scale scenario (`--scale nodes=16,guests=500,...`): many nodes, guests, ONTAP
//! storages on several SVMs and snapshots, built from a seed so every run gets the same cluster.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::macros::{datetime, format_description};
use time::{Duration, OffsetDateTime};

use crate::ontap::{self, FileSpec, LifSpec, Size, SnapshotSpec, SvmSpec, VolumeSpec};
use crate::pve::{self, AgentSpec, GuestSpec, GuestType, NodeSpec, RunStatus, StorageSpec};
use crate::world::Scenario;

/// ONTAP's limit of snapshots per volume.
const MAX_SNAPSHOTS: u32 = 1023;
/// Disks per guest at most (QEMU `scsi0`-`scsi15`, LXC `rootfs` + `mp0`-`mp14`).
const MAX_DISKS: u32 = 16;
/// First vmid of the generated guests.
const FIRST_VMID: u32 = 100;
/// Every guest whose index is a multiple of this also has a disk another guest owns attached.
const BORROWER_EVERY: u32 = 25;
/// The hourly snapshots end at this time (fixed, so the scenario does not depend on the clock).
const SNAPSHOTS_END: OffsetDateTime = datetime!(2026-06-01 00:00:00 UTC);

const GIB: u64 = 1 << 30;

/// What to generate. Text form: `key=value` pairs separated by commas, every key optional
/// (`nodes=16,guests=500,storages=20,svms=4,snapshots=2,first-volume-snapshots=1000,seed=1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScaleSpec {
    /// Proxmox nodes `pve1`..`pveN`.
    pub nodes: u32,
    /// Guests (vmid 100 upwards), QEMU and LXC, 1 to 16 disks each.
    pub guests: u32,
    /// ONTAP-backed nfs storages `ONTAP01`.. (one FlexVol each).
    pub storages: u32,
    /// SVMs the volumes are spread over (round robin), each with one data LIF.
    pub svms: u32,
    /// Snapshots (`proxmox_snapshot_<time>`, hourly) on every volume.
    pub snapshots: u32,
    /// Snapshots on the first volume (`ONTAP01`) instead of `snapshots`.
    pub first_volume_snapshots: u32,
    /// Seed of the pseudo-random choices (types, nodes, disk counts, storages, run states).
    pub seed: u64,
}

impl Default for ScaleSpec {
    fn default() -> ScaleSpec {
        ScaleSpec {
            nodes: 16,
            guests: 500,
            storages: 20,
            svms: 4,
            snapshots: 2,
            first_volume_snapshots: 2,
            seed: 1,
        }
    }
}

impl ScaleSpec {
    /// The problems of a spec, empty when it can be generated.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let ranges = [
            ("nodes", self.nodes, 1, 1000),
            ("guests", self.guests, 0, 100_000),
            ("storages", self.storages, 1, 99),
            ("svms", self.svms, 1, 200),
            ("snapshots", self.snapshots, 0, MAX_SNAPSHOTS),
            (
                "first-volume-snapshots",
                self.first_volume_snapshots,
                0,
                MAX_SNAPSHOTS,
            ),
        ];
        for (key, value, min, max) in ranges {
            if value < min || value > max {
                out.push(format!("{key}={value} is out of range ({min} to {max})"));
            }
        }
        out
    }
}

impl fmt::Display for ScaleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "nodes={},guests={},storages={},svms={},snapshots={},first-volume-snapshots={},seed={}",
            self.nodes,
            self.guests,
            self.storages,
            self.svms,
            self.snapshots,
            self.first_volume_snapshots,
            self.seed
        )
    }
}

impl FromStr for ScaleSpec {
    type Err = String;

    /// Parse `key=value,...`; unknown keys, bad numbers and out-of-range values are errors naming
    /// the key. `snapshots` also sets the first volume's count unless `first-volume-snapshots` is given.
    fn from_str(s: &str) -> Result<ScaleSpec, String> {
        let mut spec = ScaleSpec::default();
        let mut first = None;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("'{part}' is not key=value"))?;
            let number = |max: u64| -> Result<u64, String> {
                value
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| format!("invalid value '{value}' for {key}: expected a number"))
            };
            let small = || number(u64::from(u32::MAX)).map(|n| n as u32);
            match key.trim() {
                "nodes" => spec.nodes = small()?,
                "guests" => spec.guests = small()?,
                "storages" => spec.storages = small()?,
                "svms" => spec.svms = small()?,
                "snapshots" => spec.snapshots = small()?,
                "first-volume-snapshots" => first = Some(small()?),
                "seed" => spec.seed = number(u64::MAX)?,
                other => {
                    return Err(format!(
                        "unknown key '{other}' (known: nodes, guests, storages, svms, snapshots, \
                         first-volume-snapshots, seed)"
                    ))
                }
            }
        }
        spec.first_volume_snapshots = first.unwrap_or(spec.snapshots);
        let problems = spec.problems();
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(problems.join("; "))
        }
    }
}

/// splitmix64: a small, well-mixed sequence from any seed (the same seed, the same scenario).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n.max(1))) as u32
    }

    /// True with `percent` % chance.
    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
}

/// Storage id of the i-th ONTAP storage (0-based): `ONTAP01`, `ONTAP02`, ...
pub fn storage_id(i: u32) -> String {
    format!("ONTAP{:02}", i + 1)
}

/// Volume name behind the i-th storage: `pve_ds01`, ...
pub fn volume_name(i: u32) -> String {
    format!("pve_ds{:02}", i + 1)
}

fn svm_name(k: u32) -> String {
    format!("svm{}", k + 1)
}

/// Data LIF address of the k-th SVM (0-based): `127.1.<k+1>.1` (a string; nothing connects to it).
fn lif_ip(k: u32) -> String {
    format!("127.1.{}.1", k + 1)
}

/// One generated disk: where its file is and how the config names it.
struct Disk {
    storage: u32,
    owner: u32,
    file: String,
    size_gib: u64,
}

impl Disk {
    fn volid(&self) -> String {
        format!("{}:{}/{}", storage_id(self.storage), self.owner, self.file)
    }
}

/// One generated guest before it becomes a `GuestSpec`.
struct Planned {
    vmid: u32,
    guest_type: GuestType,
    node: u32,
    status: RunStatus,
    agent: bool,
    disks: Vec<Disk>,
}

fn plan_guests(spec: &ScaleSpec, rng: &mut Rng) -> Vec<Planned> {
    let mut out = Vec::new();
    for i in 0..spec.guests {
        let vmid = FIRST_VMID + i;
        let guest_type = if rng.chance(25) {
            GuestType::Lxc
        } else {
            GuestType::Qemu
        };
        let node = rng.below(spec.nodes);
        let status = if rng.chance(70) {
            RunStatus::Running
        } else {
            RunStatus::Stopped
        };
        let agent = guest_type == GuestType::Qemu && rng.chance(80);
        let home = rng.below(spec.storages);
        let count = 1 + rng.below(MAX_DISKS);
        let disks = (0..count)
            .map(|d| {
                let storage = if rng.chance(80) {
                    home
                } else {
                    rng.below(spec.storages)
                };
                let ext = if guest_type == GuestType::Qemu && d % 3 == 1 {
                    "qcow2"
                } else {
                    "raw"
                };
                Disk {
                    storage,
                    owner: vmid,
                    file: format!("vm-{vmid}-disk-{d}.{ext}"),
                    size_gib: [4, 8, 16, 32][rng.below(4) as usize],
                }
            })
            .collect();
        out.push(Planned {
            vmid,
            guest_type,
            node,
            status,
            agent,
            disks,
        });
    }
    out
}

/// The config of a planned guest: its own disks, plus (for a borrower) a disk of another guest.
fn config(p: &Planned, borrowed: Option<&Disk>) -> BTreeMap<String, String> {
    let mut c = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        c.insert(k.to_string(), v);
    };
    let disks = p.disks.iter().chain(borrowed);
    match p.guest_type {
        GuestType::Qemu => {
            set("name", format!("vm{}", p.vmid));
            set("memory", "2048".into());
            set("cores", "2".into());
            set("ostype", "l26".into());
            set("scsihw", "virtio-scsi-single".into());
            set("boot", "order=scsi0".into());
            set(
                "net0",
                format!(
                    "virtio=BC:24:11:{:02X}:{:02X}:{:02X},bridge=vmbr0",
                    (p.vmid >> 16) & 0xff,
                    (p.vmid >> 8) & 0xff,
                    p.vmid & 0xff
                ),
            );
            if p.agent {
                set("agent", "1".into());
            }
            for (i, d) in disks.enumerate() {
                set(
                    &format!("scsi{i}"),
                    format!("{},iothread=1,size={}G", d.volid(), d.size_gib),
                );
            }
        }
        GuestType::Lxc => {
            set("arch", "amd64".into());
            set("hostname", format!("ct{}", p.vmid));
            set("memory", "1024".into());
            set("cores", "1".into());
            set("ostype", "debian".into());
            set("unprivileged", "1".into());
            for (i, d) in disks.enumerate() {
                if i == 0 {
                    set("rootfs", format!("{},size={}G", d.volid(), d.size_gib));
                } else {
                    set(
                        &format!("mp{}", i - 1),
                        format!("{},mp=/mnt/data{},size={}G", d.volid(), i - 1, d.size_gib),
                    );
                }
            }
        }
    }
    c
}

fn snapshot_name(at: OffsetDateTime) -> String {
    let f = format_description!("[year]-[month]-[day]_[hour]:[minute]:[second]+0000");
    format!(
        "proxmox_snapshot_{}",
        at.format(f)
            .unwrap_or_else(|_| at.unix_timestamp().to_string())
    )
}

/// `count` hourly snapshots ending at `SNAPSHOTS_END`, oldest first.
fn snapshots(count: u32) -> Vec<SnapshotSpec> {
    (0..count)
        .map(|i| {
            let at = SNAPSHOTS_END - Duration::hours(i64::from(count - i));
            SnapshotSpec {
                name: snapshot_name(at),
                uuid: None,
                create_time: at.format(&Rfc3339).ok(),
                comment: Some("scale scenario".into()),
                snapmirror_label: None,
                expiry_time: None,
                snaplock_expiry_time: None,
                owners: Vec::new(),
                files: None,
            }
        })
        .collect()
}

/// The scenario for `spec`: the built-in accounts, users and timings, with the generated nodes,
/// storages (plus `local` and `local-lvm`), guests, SVMs and volumes.
pub fn scenario(spec: &ScaleSpec) -> Scenario {
    let mut rng = Rng(spec.seed);
    let guests = plan_guests(spec, &mut rng);

    let svms: Vec<SvmSpec> = (0..spec.svms)
        .map(|k| SvmSpec {
            name: svm_name(k),
            uuid: None,
            export_policies: vec!["default".into(), "pve_hosts".into()],
            lifs: vec![LifSpec {
                name: format!("lif_{}_nfs", svm_name(k)),
                ip: lif_ip(k),
                uuid: None,
            }],
        })
        .collect();

    let mut volumes: Vec<VolumeSpec> = (0..spec.storages)
        .map(|i| VolumeSpec {
            name: volume_name(i),
            uuid: None,
            svm: svm_name(i % spec.svms),
            junction: Some(format!("/{}", volume_name(i))),
            export_policy: Some("pve_hosts".into()),
            size: Size(16 << 40),
            comment: None,
            create_time: Some("2025-01-15T09:30:00Z".into()),
            files: Vec::new(),
            directories: vec!["images".into()],
            snapshot_locking_enabled: false,
            snapshots: snapshots(if i == 0 {
                spec.first_volume_snapshots
            } else {
                spec.snapshots
            }),
        })
        .collect();
    for g in &guests {
        for d in &g.disks {
            volumes[d.storage as usize].files.push(FileSpec {
                path: format!("images/{}/{}", d.owner, d.file),
                size: Size(d.size_gib * GIB),
                generation: 1,
            });
        }
    }

    let guest_specs: Vec<GuestSpec> = guests
        .iter()
        .enumerate()
        .map(|(i, p)| {
            // A borrower also uses the first disk of the guest before it (same or other storage):
            // ownership by vmid alone does not tell which guests use a volume.
            let borrowed = (i > 0 && (i as u32).is_multiple_of(BORROWER_EVERY))
                .then(|| &guests[i - 1].disks[0])
                .map(|d| Disk {
                    storage: d.storage,
                    owner: d.owner,
                    file: d.file.clone(),
                    size_gib: d.size_gib,
                });
            GuestSpec {
                vmid: p.vmid,
                guest_type: p.guest_type,
                node: format!("pve{}", p.node + 1),
                status: p.status,
                config: config(p, borrowed.as_ref()),
                pending: BTreeMap::new(),
                agent: AgentSpec::default(),
                ignores_shutdown: false,
            }
        })
        .collect();

    let nodes: Vec<NodeSpec> = (0..spec.nodes)
        .map(|n| NodeSpec {
            name: format!("pve{}", n + 1),
            ip: format!("127.2.{}.{}", n / 250, n % 250 + 1),
            ..NodeSpec::default()
        })
        .collect();

    let base = Scenario::default();
    let mut storages: Vec<StorageSpec> = base
        .pve
        .storages
        .iter()
        .filter(|s| s.storage_type != "nfs")
        .cloned()
        .collect();
    for i in 0..spec.storages {
        let id = storage_id(i);
        let options = [
            ("server", lif_ip(i % spec.svms)),
            ("export", format!("/{}", volume_name(i))),
            ("path", format!("/mnt/pve/{id}")),
            ("content", "images,rootdir".into()),
            ("options", "vers=4.2,nconnect=16".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
        .collect();
        storages.push(StorageSpec {
            storage: id,
            storage_type: "nfs".into(),
            files: Vec::new(),
            total: Some(16 << 40),
            options,
        });
    }

    Scenario {
        ontap: ontap::Scenario {
            svms,
            volumes,
            ..base.ontap
        },
        pve: pve::Scenario {
            local_node: None,
            nodes,
            storages,
            guests: guest_specs,
            ..base.pve
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    fn small() -> ScaleSpec {
        "nodes=3,guests=60,storages=4,svms=2,snapshots=3,first-volume-snapshots=10,seed=7"
            .parse()
            .unwrap()
    }

    #[test]
    fn specs_parse_with_defaults_and_refuse_bad_keys_and_values() {
        assert_eq!("".parse::<ScaleSpec>().unwrap(), ScaleSpec::default());
        let s: ScaleSpec = "guests=5, snapshots=7".parse().unwrap();
        assert_eq!((s.guests, s.snapshots, s.first_volume_snapshots), (5, 7, 7));
        assert_eq!(s.nodes, 16);
        let s = small();
        assert_eq!(s.first_volume_snapshots, 10);
        assert_eq!(s.to_string().parse::<ScaleSpec>().unwrap(), s);
        let err = |t: &str| t.parse::<ScaleSpec>().unwrap_err();
        assert!(err("guestz=1").contains("unknown key 'guestz'"));
        assert!(err("guests").contains("'guests' is not key=value"));
        assert!(err("guests=x").contains("invalid value 'x' for guests"));
        assert!(err("snapshots=1024").contains("snapshots=1024 is out of range (0 to 1023)"));
        assert!(err("nodes=0").contains("nodes=0 is out of range"));
    }

    #[test]
    fn the_same_seed_gives_the_same_scenario_and_another_seed_another() {
        let a = serde_json::to_value(scenario(&small())).unwrap();
        let b = serde_json::to_value(scenario(&small())).unwrap();
        assert_eq!(a, b);
        let other = ScaleSpec { seed: 8, ..small() };
        assert_ne!(a, serde_json::to_value(scenario(&other)).unwrap());
    }

    #[test]
    fn counts_match_the_spec_and_guests_spread_over_types_nodes_and_storages() {
        let spec = small();
        let s = scenario(&spec);
        assert_eq!(s.pve.nodes.len(), 3);
        assert_eq!(s.pve.guests.len(), 60);
        assert_eq!(s.ontap.svms.len(), 2);
        assert_eq!(s.ontap.volumes.len(), 4);
        let nfs: Vec<_> = s
            .pve
            .storages
            .iter()
            .filter(|st| st.storage_type == "nfs")
            .collect();
        assert_eq!(nfs.len(), 4);
        assert_eq!(s.ontap.volumes[0].snapshots.len(), 10);
        assert!(s.ontap.volumes[1..].iter().all(|v| v.snapshots.len() == 3));
        // Volumes alternate between the SVMs; each storage points at its SVM's LIF.
        assert_eq!(s.ontap.volumes[1].svm, "svm2");
        assert_eq!(nfs[1].options["server"], "127.1.2.1");
        assert_eq!(nfs[1].options["export"], "/pve_ds02");

        let lxc = s
            .pve
            .guests
            .iter()
            .filter(|g| g.guest_type == GuestType::Lxc)
            .count();
        assert!((5..30).contains(&lxc), "{lxc} containers of 60");
        let nodes: std::collections::BTreeSet<_> = s.pve.guests.iter().map(|g| &g.node).collect();
        assert_eq!(nodes.len(), 3);
        for g in &s.pve.guests {
            let disks = g
                .config
                .iter()
                .filter(|(k, _)| {
                    k.starts_with("scsi") && k.as_str() != "scsihw"
                        || k.as_str() == "rootfs"
                        || k.starts_with("mp")
                })
                .count();
            assert!(
                (1..=17).contains(&disks),
                "guest {} has {disks} disks",
                g.vmid
            );
        }
        // Every storage holds disk files, and every disk file in a config exists on its volume.
        for (i, v) in s.ontap.volumes.iter().enumerate() {
            assert!(!v.files.is_empty(), "volume {i} is empty");
        }
        for g in &s.pve.guests {
            for value in g.config.values() {
                let Some((storage, rest)) = value.split(',').next().and_then(|v| v.split_once(':'))
                else {
                    continue;
                };
                let Some(n) = storage.strip_prefix("ONTAP") else {
                    continue;
                };
                let idx: usize = n.parse::<usize>().unwrap() - 1;
                let path = format!("images/{rest}");
                assert!(
                    s.ontap.volumes[idx].files.iter().any(|f| f.path == path),
                    "{value} of guest {} has no file",
                    g.vmid
                );
            }
        }
    }

    #[test]
    fn some_guests_use_a_volume_another_guest_owns() {
        let s = scenario(&small());
        let borrower = &s.pve.guests[BORROWER_EVERY as usize];
        let owner = borrower.vmid - 1;
        assert!(
            borrower
                .config
                .values()
                .any(|v| v.contains(&format!(":{owner}/vm-{owner}-disk-0."))),
            "{:?}",
            borrower.config
        );
    }

    #[test]
    fn the_generated_scenario_loads_and_is_valid() {
        let s = scenario(&small());
        assert!(s.ontap.validate().is_empty(), "{:?}", s.ontap.validate());
        let text = serde_json::to_string(&s).unwrap();
        let back: Scenario = serde_json::from_str(&text).unwrap();
        let mut world = World::new(&back);
        let dump = world.dump();
        assert_eq!(dump["pve"]["guests"].as_array().map(Vec::len), Some(60));
    }
}
