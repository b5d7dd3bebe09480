//! The live ONTAP cluster: SVMs, LIFs, volumes with file trees and snapshots, FlexClone relations,
//! the volume recovery queue and jobs (held as data, run by `runner`); plus the shared lookups.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use time::{OffsetDateTime, UtcOffset};

use super::clock::{self, Clock};
use super::job::{Action, Job};
use super::rbac::{self, RestRole};
use super::scenario::{Account, Conditions, FileSpec, Role, Scenario};
use super::tree::{self, Tree};
use crate::job_fault::JobFault;

/// The cluster version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub generation: u32,
    pub major: u32,
    pub minor: u32,
    /// `NetApp Release 9.14.1: ...`
    pub full: String,
}

impl Version {
    /// Parse `9.14.1` or `9.14.1P3` (unparsable parts become 0).
    pub fn parse(s: &str) -> Version {
        let mut nums = s.split('.').map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse::<u32>()
                .unwrap_or(0)
        });
        let generation = nums.next().unwrap_or(9);
        let major = nums.next().unwrap_or(0);
        let minor = nums.next().unwrap_or(0);
        Version {
            generation,
            major,
            minor,
            full: format!("NetApp Release {s}: Mon Jan 08 10:15:32 UTC 2024"),
        }
    }

    pub fn at_least(&self, generation: u32, major: u32) -> bool {
        (self.generation, self.major) >= (generation, major)
    }
}

#[derive(Debug, Clone)]
pub struct ExportPolicy {
    pub name: String,
    pub id: u64,
}

#[derive(Debug, Clone)]
pub struct Svm {
    pub name: String,
    pub uuid: String,
    pub export_policies: Vec<ExportPolicy>,
}

#[derive(Debug, Clone)]
pub struct Lif {
    pub name: String,
    pub uuid: String,
    pub ip: String,
    pub svm: String,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub uuid: String,
    pub name: String,
    pub create_time: OffsetDateTime,
    pub comment: Option<String>,
    pub snapmirror_label: Option<String>,
    pub expiry_time: Option<OffsetDateTime>,
    /// Locked until then (snapshot locking; measured by the compliance clock).
    pub snaplock_expiry_time: Option<OffsetDateTime>,
    /// Owners given by the scenario (e.g. `snapmirror`); `volume_clone` is derived.
    pub static_owners: Vec<String>,
    /// The file tree captured at creation.
    pub tree: Tree,
}

/// What a FlexClone was made from.
#[derive(Debug, Clone)]
pub struct CloneOf {
    pub parent_uuid: String,
    pub parent_name: String,
    pub parent_svm: String,
    pub snapshot_uuid: String,
    pub snapshot_name: String,
}

#[derive(Debug, Clone)]
pub struct Volume {
    pub uuid: String,
    pub name: String,
    pub svm: String,
    /// Junction path; None when unmounted.
    pub junction: Option<String>,
    pub export_policy: String,
    pub size: u64,
    pub comment: Option<String>,
    pub create_time: OffsetDateTime,
    /// `rw` or `dp`.
    pub vol_type: String,
    pub clone: Option<CloneOf>,
    pub tree: Tree,
    /// Oldest first.
    pub snapshots: Vec<Snapshot>,
    /// `snapshot_locking_enabled` (ONTAP 9.12.1+).
    pub snapshot_locking_enabled: bool,
}

impl Volume {
    pub fn snapshot(&self, uuid: &str) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.uuid == uuid)
    }

    pub fn snapshot_by_name(&self, name: &str) -> Option<&Snapshot> {
        self.snapshots.iter().find(|s| s.name == name)
    }
}

/// A volume deleted without `force`: hidden from the REST API, still holding its parent snapshot.
#[derive(Debug, Clone)]
pub struct QueuedVolume {
    pub volume: Volume,
    /// The name in the queue: `<name>_<dsid>`.
    pub queued_name: String,
    pub deleted_at: OffsetDateTime,
}

/// The whole simulated ONTAP cluster.
#[derive(Debug)]
pub struct OntapState {
    pub cluster_name: String,
    pub cluster_uuid: String,
    pub version: Version,
    pub accounts: Vec<Account>,
    /// Custom REST roles the accounts may name.
    pub rest_roles: Vec<RestRole>,
    /// Conditions switched on by the scenario (counters go down as they strike).
    pub conditions: Conditions,
    pub svms: Vec<Svm>,
    pub lifs: Vec<Lif>,
    pub volumes: Vec<Volume>,
    pub recovery_queue: Vec<QueuedVolume>,
    pub jobs: Vec<Job>,
    pub job_duration: Duration,
    pub job_retention: Duration,
    pub clock: Clock,
    pub offset: UtcOffset,
    /// The SnapLock compliance clock runs (it reads the simulation clock).
    pub compliance_clock: bool,
    next_dsid: u64,
    /// Contents of files written through the files API, by content generation.
    pub file_data: super::blobs::FileData,
}

/// A random (v4) uuid.
pub fn new_uuid() -> String {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut b).is_err() {
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos();
        return stable_uuid(&format!("fallback:{nanos}"));
    }
    format_uuid(b)
}

/// A uuid derived from a seed (stable across restarts and resets).
pub fn stable_uuid(seed: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    format_uuid(b)
}

fn format_uuid(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn build_tree(files: &[FileSpec], dirs: &[String], now: OffsetDateTime) -> Tree {
    let mut t = Tree::new();
    for f in files {
        if let Some(p) = tree::normalize(&f.path).filter(|p| !p.is_empty()) {
            t.put_file(&p, f.size.0, f.generation, now);
        }
    }
    for d in dirs {
        if let Some(p) = tree::normalize(d) {
            t.mkdir_all(&p, now);
        }
    }
    t
}

impl Scenario {
    /// Problems that `OntapState::new` would silently work around (bad times, unknown SVMs,
    /// duplicate names); empty when the scenario is sound.
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        if clock::parse_offset(&self.utc_offset).is_none() {
            out.push(format!(
                "ontap.utc_offset \"{}\" is not +HH:MM",
                self.utc_offset
            ));
        }
        let times = self
            .start_time
            .iter()
            .map(|t| ("ontap.start_time".to_string(), t));
        let vol_times = self.volumes.iter().flat_map(|v| {
            v.create_time
                .iter()
                .map(move |t| (format!("volume {} create_time", v.name), t))
                .chain(v.snapshots.iter().flat_map(move |s| {
                    s.create_time
                        .iter()
                        .map(move |t| (format!("snapshot {}/{} create_time", v.name, s.name), t))
                        .chain(s.expiry_time.iter().map(move |t| {
                            (format!("snapshot {}/{} expiry_time", v.name, s.name), t)
                        }))
                        .chain(s.snaplock_expiry_time.iter().map(move |t| {
                            (
                                format!("snapshot {}/{} snaplock_expiry_time", v.name, s.name),
                                t,
                            )
                        }))
                }))
        });
        for (what, t) in times.chain(vol_times) {
            if clock::parse_time(t).is_none() {
                out.push(format!("{what} \"{t}\" is not an RFC 3339 time"));
            }
        }
        let version = Version::parse(&self.version);
        for v in &self.volumes {
            // Snapshot locking: ONTAP 9.12.1+, and only with a running compliance clock
            // (NetApp docs snaplock/snapshot-lock-concept.adoc).
            if v.snapshot_locking_enabled
                && !super::snaplock::supported(version.generation, version.major, version.minor)
            {
                out.push(format!(
                    "volume {} has snapshot_locking_enabled, which needs ONTAP 9.12.1 or later (version {})",
                    v.name, self.version
                ));
            }
            if v.snapshot_locking_enabled && !self.compliance_clock {
                out.push(format!(
                    "volume {} has snapshot_locking_enabled, which needs compliance_clock = true",
                    v.name
                ));
            }
            let locked = v.snapshots.iter().any(|s| s.snaplock_expiry_time.is_some());
            if locked && !v.snapshot_locking_enabled {
                out.push(format!(
                    "volume {} has locked snapshots but no snapshot_locking_enabled",
                    v.name
                ));
            }
            match self.svms.iter().find(|s| s.name == v.svm) {
                None => out.push(format!("volume {} names unknown SVM {}", v.name, v.svm)),
                Some(svm) => {
                    if let Some(p) = &v.export_policy {
                        if p != "default" && !svm.export_policies.contains(p) {
                            out.push(format!("volume {} names unknown export policy {p}", v.name));
                        }
                    }
                }
            }
            if self
                .volumes
                .iter()
                .filter(|o| o.svm == v.svm && o.name == v.name)
                .count()
                > 1
            {
                out.push(format!("volume {} appears twice on SVM {}", v.name, v.svm));
            }
        }
        out.extend(self.validate_roles());
        out
    }

    /// Accounts name roles that exist; each REST role is one ONTAP would create on this release.
    fn validate_roles(&self) -> Vec<String> {
        let version = Version::parse(&self.version);
        let at_least = |g: u32, m: u32| version.at_least(g, m);
        let svms: Vec<&str> = self.svms.iter().map(|s| s.name.as_str()).collect();
        let mut out: Vec<String> = self
            .rest_roles
            .iter()
            .flat_map(|r| rbac::validate(r, &svms, &at_least))
            .collect();
        for a in &self.accounts {
            if let Role::Rest(name) = &a.role {
                if !self.rest_roles.iter().any(|r| &r.name == name) {
                    out.push(format!(
                        "account {} names role {name}, which is neither built in (admin, readonly, vsadmin) nor in rest_roles",
                        a.name
                    ));
                }
            }
        }
        out
    }
}

impl OntapState {
    /// The release has snapshot locking (`snapshot_locking_enabled`, 9.12.1+).
    pub fn locking_supported(&self) -> bool {
        super::snaplock::supported(
            self.version.generation,
            self.version.major,
            self.version.minor,
        )
    }

    pub fn new(scenario: &Scenario) -> OntapState {
        let offset = clock::parse_offset(&scenario.utc_offset).unwrap_or(UtcOffset::UTC);
        let start = scenario.start_time.as_deref().and_then(clock::parse_time);
        let clock = Clock::new(start, offset);
        let now = clock.now();
        let time_or_now =
            |t: &Option<String>| t.as_deref().and_then(clock::parse_time).unwrap_or(now);

        let mut policy_id = 8_589_934_592u64;
        let svms = scenario
            .svms
            .iter()
            .map(|s| {
                let mut names = vec!["default".to_string()];
                for p in &s.export_policies {
                    if !names.contains(p) {
                        names.push(p.clone());
                    }
                }
                Svm {
                    name: s.name.clone(),
                    uuid: s
                        .uuid
                        .clone()
                        .unwrap_or_else(|| stable_uuid(&format!("svm:{}", s.name))),
                    export_policies: names
                        .into_iter()
                        .map(|name| {
                            policy_id += 1;
                            ExportPolicy {
                                name,
                                id: policy_id,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        let lifs = scenario
            .svms
            .iter()
            .flat_map(|s| {
                s.lifs.iter().map(move |l| Lif {
                    name: l.name.clone(),
                    uuid: l
                        .uuid
                        .clone()
                        .unwrap_or_else(|| stable_uuid(&format!("lif:{}", l.name))),
                    ip: l.ip.clone(),
                    svm: s.name.clone(),
                })
            })
            .collect();
        let volumes = scenario
            .volumes
            .iter()
            .map(|v| {
                let created = time_or_now(&v.create_time);
                let uuid = v
                    .uuid
                    .clone()
                    .unwrap_or_else(|| stable_uuid(&format!("volume:{}:{}", v.svm, v.name)));
                let snapshots = v
                    .snapshots
                    .iter()
                    .map(|s| {
                        let t = time_or_now(&s.create_time);
                        Snapshot {
                            uuid: s.uuid.clone().unwrap_or_else(|| {
                                stable_uuid(&format!("snapshot:{uuid}:{}", s.name))
                            }),
                            name: s.name.clone(),
                            create_time: t,
                            comment: s.comment.clone(),
                            snapmirror_label: s.snapmirror_label.clone(),
                            expiry_time: s.expiry_time.as_deref().and_then(clock::parse_time),
                            snaplock_expiry_time: s
                                .snaplock_expiry_time
                                .as_deref()
                                .and_then(clock::parse_time),
                            static_owners: s.owners.clone(),
                            tree: build_tree(
                                s.files.as_ref().unwrap_or(&v.files),
                                &v.directories,
                                created,
                            ),
                        }
                    })
                    .collect();
                Volume {
                    uuid,
                    name: v.name.clone(),
                    svm: v.svm.clone(),
                    junction: v.junction.clone().filter(|j| !j.is_empty()),
                    export_policy: v.export_policy.clone().unwrap_or_else(|| "default".into()),
                    size: v.size.0,
                    comment: v.comment.clone(),
                    create_time: created,
                    vol_type: "rw".into(),
                    clone: None,
                    tree: build_tree(&v.files, &v.directories, created),
                    snapshots,
                    snapshot_locking_enabled: v.snapshot_locking_enabled,
                }
            })
            .collect();
        OntapState {
            cluster_name: scenario.cluster_name.clone(),
            cluster_uuid: scenario
                .cluster_uuid
                .clone()
                .unwrap_or_else(|| stable_uuid(&format!("cluster:{}", scenario.cluster_name))),
            version: Version::parse(&scenario.version),
            accounts: scenario.accounts.clone(),
            rest_roles: scenario.rest_roles.clone(),
            conditions: scenario.conditions.clone(),
            svms,
            lifs,
            volumes,
            recovery_queue: Vec::new(),
            jobs: Vec::new(),
            job_duration: clock::ms(scenario.job_duration_ms),
            job_retention: clock::ms(scenario.job_retention_ms),
            clock,
            offset,
            compliance_clock: scenario.compliance_clock,
            next_dsid: 1100,
            file_data: Default::default(),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A timestamp as this cluster reports it.
    pub fn fmt_time(&self, t: OffsetDateTime) -> String {
        self.clock.format(t)
    }

    pub fn next_dsid(&mut self) -> u64 {
        self.next_dsid += 1;
        self.next_dsid
    }

    pub fn svm(&self, name: &str) -> Option<&Svm> {
        self.svms.iter().find(|s| s.name == name)
    }

    pub fn svm_by_uuid(&self, uuid: &str) -> Option<&Svm> {
        self.svms.iter().find(|s| s.uuid == uuid)
    }

    pub fn volume(&self, uuid: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.uuid == uuid)
    }

    pub fn volume_mut(&mut self, uuid: &str) -> Option<&mut Volume> {
        self.volumes.iter_mut().find(|v| v.uuid == uuid)
    }

    pub fn volume_by_name(&self, svm: &str, name: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.svm == svm && v.name == name)
    }

    /// Every FlexClone (live or in the recovery queue) made from this volume.
    pub fn clones_of(&self, uuid: &str) -> Vec<&Volume> {
        self.volumes
            .iter()
            .chain(self.recovery_queue.iter().map(|q| &q.volume))
            .filter(|v| v.clone.as_ref().is_some_and(|c| c.parent_uuid == uuid))
            .collect()
    }

    /// The snapshot's owners: its static ones plus `volume_clone` while a FlexClone (live or
    /// queued for recovery) depends on it.
    pub fn snapshot_owners(&self, snapshot: &Snapshot) -> Vec<String> {
        let mut owners = snapshot.static_owners.clone();
        let cloned = self
            .volumes
            .iter()
            .chain(self.recovery_queue.iter().map(|q| &q.volume))
            .any(|v| {
                v.clone
                    .as_ref()
                    .is_some_and(|c| c.snapshot_uuid == snapshot.uuid)
            });
        if cloned && !owners.iter().any(|o| o == "volume_clone") {
            owners.push("volume_clone".into());
        }
        owners
    }

    /// The volume that serves `export` through the data LIF `server`, with the directory inside
    /// it (longest junction prefix, component-wise, case-insensitive).
    pub fn resolve_export(&self, server: &str, export: &str) -> Option<(&Volume, String)> {
        let lif = self
            .lifs
            .iter()
            .find(|l| l.ip == server || l.name == server)?;
        let export = tree::normalize(export)?;
        let mut best: Option<(&Volume, String, usize)> = None;
        for v in self.volumes.iter().filter(|v| v.svm == lif.svm) {
            let Some(j) = v.junction.as_deref().and_then(tree::normalize) else {
                continue;
            };
            let rest = if j.is_empty() {
                Some(export.clone())
            } else if export.eq_ignore_ascii_case(&j) {
                Some(String::new())
            } else if export.len() > j.len()
                && export.is_char_boundary(j.len())
                && export[..j.len()].eq_ignore_ascii_case(&j)
                && export.as_bytes()[j.len()] == b'/'
            {
                Some(export[j.len() + 1..].to_string())
            } else {
                None
            };
            if let Some(rest) = rest {
                let depth = j.len();
                if best.as_ref().is_none_or(|(_, _, d)| depth > *d) {
                    best = Some((v, rest, depth));
                }
            }
        }
        best.map(|(v, rest, _)| (v, rest))
    }

    /// The cluster admin account of the scenario: (user, password).
    pub fn admin_credentials(&self) -> (String, String) {
        self.accounts
            .iter()
            .find(|a| a.role == Role::Admin)
            .or(self.accounts.first())
            .map(|a| (a.name.clone(), a.password.clone()))
            .unwrap_or_default()
    }

    /// A JSON dump of the whole cluster state (for `GET /_sim/state`).
    pub fn dump(&self) -> Value {
        let time = |t| self.fmt_time(self.clock.at(t));
        let with_error = self.version.at_least(9, 9);
        let files = |t: &Tree| -> Vec<Value> {
            t.files()
                .map(|(p, size, generation)| json!({"path": p, "size": size, "generation": generation}))
                .collect()
        };
        let volume = |v: &Volume| -> Value {
            json!({
                "uuid": v.uuid,
                "name": v.name,
                "svm": v.svm,
                "junction": v.junction,
                "export_policy": v.export_policy,
                "size": v.size,
                "type": v.vol_type,
                "comment": v.comment,
                "create_time": self.fmt_time(v.create_time),
                "clone": v.clone.as_ref().map(|c| json!({
                    "parent_volume": c.parent_name,
                    "parent_volume_uuid": c.parent_uuid,
                    "parent_snapshot": c.snapshot_name,
                    "parent_snapshot_uuid": c.snapshot_uuid,
                })),
                "files": files(&v.tree),
                "snapshots": v.snapshots.iter().map(|s| json!({
                    "uuid": s.uuid,
                    "name": s.name,
                    "create_time": self.fmt_time(s.create_time),
                    "comment": s.comment,
                    "snapmirror_label": s.snapmirror_label,
                    "expiry_time": s.expiry_time.map(|t| self.fmt_time(t)),
                    "snaplock_expiry_time": s.snaplock_expiry_time.map(|t| self.fmt_time(t)),
                    "owners": self.snapshot_owners(s),
                    "files": files(&s.tree),
                })).collect::<Vec<_>>(),
            })
        };
        json!({
            "cluster": {
                "name": self.cluster_name,
                "uuid": self.cluster_uuid,
                "version": format!("{}.{}.{}", self.version.generation, self.version.major, self.version.minor),
            },
            "svms": self.svms.iter().map(|s| json!({
                "name": s.name,
                "uuid": s.uuid,
                "export_policies": s.export_policies.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
                "lifs": self.lifs.iter().filter(|l| l.svm == s.name)
                    .map(|l| json!({"name": l.name, "uuid": l.uuid, "ip": l.ip})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "volumes": self.volumes.iter().map(volume).collect::<Vec<_>>(),
            "recovery_queue": self.recovery_queue.iter().map(|q| json!({
                "name": q.queued_name,
                "deleted_at": self.fmt_time(q.deleted_at),
                "volume": volume(&q.volume),
            })).collect::<Vec<_>>(),
            "jobs": self.jobs.iter().map(|j| j.summary(&time, with_error)).collect::<Vec<_>>(),
        })
    }
}

impl OntapState {
    /// Start a job; returns its uuid. With a fault, the job fails with it and has no effect.
    pub fn submit_job(
        &mut self,
        action: Action,
        description: String,
        running_message: String,
        fault: Option<&JobFault>,
    ) -> String {
        let now = Instant::now();
        let uuid = new_uuid();
        self.jobs.push(Job {
            uuid: uuid.clone(),
            description,
            running_message,
            action,
            fault: fault.cloned(),
            starts_at: now + self.job_duration / 4,
            ends_at: now + self.job_duration,
            outcome: None,
            results: None,
        });
        uuid
    }

    pub fn job(&self, uuid: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.uuid == uuid)
    }
}
