//! The ONTAP REST client: implements every `Ontap` call as requests to `/api` (which endpoint,
//! fields, body, and how to check the outcome); `request.rs` does the talking.

use std::time::Instant;

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::http::{percent_encode, Endpoint};
use crate::secret::Secret;

use super::bulk;
use super::errors::is_not_found;
use super::fields;
use super::request::{protocol_error, target, Mutation, Requester};
use super::Connection;
use super::{
    FileInfo, NewFlexClone, NewSnapshot, Ontap, OntapVersion, Snapshot, SnapshotBatch,
    SnapshotDeletes, Svm, Volume,
};

pub(crate) use super::request::literal;

/// A volume-relative path as ONE URL segment (`/` → `%2F`, `.` → `%2E`); `None` for the root.
pub(crate) fn file_segment(path: &str) -> Result<Option<String>> {
    let p = path.trim_matches('/');
    if p.is_empty() {
        return Ok(None);
    }
    if p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err(Error::Refused(format!(
            "invalid path '{path}' inside an ONTAP volume (empty, '.' or '..' component)"
        )));
    }
    Ok(Some(percent_encode(p).replace('.', "%2E")))
}

/// Parent directory and name of a volume-relative path.
fn split_parent(path: &str) -> (&str, &str) {
    let p = path.trim_matches('/');
    match p.rsplit_once('/') {
        Some((dir, name)) => (dir, name),
        None => ("", p),
    }
}

/// Sort key for `create_time` (RFC 3339 with any offset).
fn create_time_key(s: &Snapshot) -> (i128, String) {
    let parsed = time::OffsetDateTime::parse(
        &s.create_time,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| t.unix_timestamp_nanos())
    .unwrap_or(i128::MAX);
    (parsed, s.name.clone())
}

/// Talks to one ONTAP cluster (or SVM) management endpoint.
pub struct OntapClient {
    pub(super) req: Requester,
}

impl std::fmt::Debug for OntapClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OntapClient")
            .field("req", &self.req)
            .finish()
    }
}

impl OntapClient {
    /// Builds the transport (TLS per config); no connection is opened until the first call.
    pub fn new(connection: &Connection) -> Result<OntapClient> {
        OntapClient::with_endpoint(&connection.endpoint, &connection.user, &connection.password)
    }

    pub fn with_endpoint(
        endpoint: &Endpoint,
        user: &str,
        password: &Secret,
    ) -> Result<OntapClient> {
        Ok(OntapClient {
            req: Requester::new(endpoint, user, password)?,
        })
    }

    /// Ask for at most `n` records per page (ONTAP's default is up to 10,000).
    pub fn with_page_size(mut self, n: u32) -> OntapClient {
        self.req.set_page_size(n);
        self
    }

    /// Tell the client the release (when the caller knows it without `version()`).
    pub fn set_version(&self, version: OntapVersion) {
        self.req.set_version(version);
    }

    /// The snapshot with this name, if any.
    fn find_snapshot(&self, volume_uuid: &str, name: &str) -> Result<Option<Snapshot>> {
        let path = format!(
            "/api/storage/volumes/{}/snapshots",
            percent_encode(volume_uuid)
        );
        let records =
            self.req
                .get_fields(&path, &[("name", literal(name))], &fields::SNAPSHOT, true)?;
        Ok(records
            .iter()
            .map(fields::snapshot)
            .find(|s| s.name == name))
    }

    /// Whether `name` is in directory `dir` of the volume.
    fn file_exists(&self, volume_uuid: &str, path: &str) -> Result<bool> {
        let (dir, name) = split_parent(path);
        match self.list_dir(volume_uuid, dir) {
            Ok(entries) => Ok(entries.iter().any(|e| e.name == name)),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn volume_not_found(uuid: &str) -> Error {
        Error::NotFound {
            what: format!("ONTAP volume {uuid}"),
        }
    }
}

impl Ontap for OntapClient {
    fn version(&self) -> Result<Option<OntapVersion>> {
        let deadline = Instant::now() + self.req.budget();
        let t = target(
            "/api/cluster",
            &[("fields", fields::CLUSTER_VERSION.to_string())],
        );
        match self.req.get_value(&t, deadline) {
            Ok(v) => {
                let version = fields::version(&v).ok_or_else(|| {
                    protocol_error(
                        "GET",
                        &t,
                        "the answer has no version.generation/major".into(),
                    )
                })?;
                self.set_version(version);
                Ok(Some(version))
            }
            Err(e) if e.api().is_some_and(|a| a.status == 403) => {
                log::info!("the ONTAP account may not read /api/cluster; release unknown");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn svm_by_lif(&self, ip: &str) -> Result<Option<Svm>> {
        let records = self.req.get_records(
            "/api/network/ip/interfaces",
            &[("ip.address", literal(ip))],
            fields::LIF_SVM,
        )?;
        let mut svms: Vec<Svm> = records.iter().filter_map(fields::svm).collect();
        svms.sort_by(|a, b| a.uuid.cmp(&b.uuid));
        svms.dedup_by(|a, b| a.uuid == b.uuid);
        match svms.len() {
            0 => Ok(None),
            1 => Ok(svms.pop()),
            _ => Err(Error::Refused(format!(
                "the address {ip} belongs to data LIFs of several SVMs ({}); cannot tell which one exports the storage",
                svms.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    fn volumes(&self, filters: &[(&str, &str)]) -> Result<Vec<Volume>> {
        let query: Vec<(&str, String)> = filters.iter().map(|(k, v)| (*k, v.to_string())).collect();
        let records = self
            .req
            .get_fields("/api/storage/volumes", &query, &fields::VOLUME, true)?;
        Ok(records.iter().map(fields::volume).collect())
    }

    fn volume(&self, uuid: &str) -> Result<Volume> {
        let path = format!("/api/storage/volumes/{}", percent_encode(uuid));
        match self.req.get_fields(&path, &[], &fields::VOLUME, false) {
            Ok(mut v) => Ok(fields::volume(&v.pop().unwrap_or(Value::Null))),
            Err(e) if is_not_found(&e) => Err(Self::volume_not_found(uuid)),
            Err(e) => Err(e),
        }
    }

    fn snapshots(&self, volume_uuid: &str) -> Result<Vec<Snapshot>> {
        let path = format!(
            "/api/storage/volumes/{}/snapshots",
            percent_encode(volume_uuid)
        );
        let records = match self.req.get_fields(&path, &[], &fields::SNAPSHOT, true) {
            Ok(r) => r,
            Err(e) if is_not_found(&e) => return Err(Self::volume_not_found(volume_uuid)),
            Err(e) => return Err(e),
        };
        let mut snapshots: Vec<Snapshot> = records.iter().map(fields::snapshot).collect();
        snapshots.sort_by_cached_key(create_time_key);
        Ok(snapshots)
    }

    fn snapshot(&self, volume_uuid: &str, name: &str) -> Result<Snapshot> {
        self.find_snapshot(volume_uuid, name)?
            .ok_or_else(|| Error::NotFound {
                what: format!("snapshot '{name}' of ONTAP volume {volume_uuid}"),
            })
    }

    fn create_snapshot(&self, volume_uuid: &str, snapshot: &NewSnapshot) -> Result<Snapshot> {
        let mut body = json!({ "name": snapshot.name });
        for (key, value) in [
            ("comment", &snapshot.comment),
            ("snapmirror_label", &snapshot.snapmirror_label),
            ("expiry_time", &snapshot.expiry_time),
            ("snaplock_expiry_time", &snapshot.snaplock_expiry_time),
        ] {
            if let Some(v) = value {
                body[key] = json!(v);
            }
        }
        let check = || Ok(self.find_snapshot(volume_uuid, &snapshot.name)?.is_some());
        let requested_at = time::OffsetDateTime::now_utc();
        let mut m = Mutation::new(
            "POST",
            format!(
                "/api/storage/volumes/{}/snapshots",
                percent_encode(volume_uuid)
            ),
            Some(body),
        );
        // The new record comes back in the answer: no second lookup by name where it has the uuid.
        m.query.push(("return_records", "true".into()));
        m.check = Some(&check);
        m.resend = true;
        let answer = self.req.mutate(m)?;
        if let Some(record) = answer
            .get("records")
            .and_then(|r| r.get(0))
            .filter(|r| fields::text(r, "name").as_deref() == Some(snapshot.name.as_str()))
        {
            if let Some(uuid) = fields::text(record, "uuid") {
                return Ok(Snapshot {
                    name: snapshot.name.clone(),
                    uuid,
                    // ONTAP's own time when the answer has it, else the time of the request.
                    create_time: fields::text(record, "create_time").unwrap_or_else(|| {
                        requested_at
                            .replace_nanosecond(0)
                            .unwrap_or(requested_at)
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    }),
                    comment: snapshot.comment.clone(),
                    snapmirror_label: snapshot.snapmirror_label.clone(),
                    expiry_time: snapshot.expiry_time.clone(),
                    snaplock_expiry_time: fields::text(record, "snaplock_expiry_time")
                        .or_else(|| snapshot.snaplock_expiry_time.clone()),
                    owners: Vec::new(),
                    size: None,
                });
            }
        }
        // Releases whose answer names no uuid (ONTAP 9.7's example echoes the body only).
        self.find_snapshot(volume_uuid, &snapshot.name)?
            .ok_or_else(|| Error::NotFound {
                what: format!(
                    "snapshot '{}' of ONTAP volume {volume_uuid} (just created)",
                    snapshot.name
                ),
            })
    }

    fn delete_snapshots(
        &self,
        volume_uuid: &str,
        batch: &SnapshotBatch,
    ) -> Result<Option<SnapshotDeletes>> {
        // Before 9.11.1 a query-based DELETE makes one job per record: one by one is as cheap.
        let version = match self.req.known_version() {
            Some(v) => Some(v),
            None => self.version()?,
        };
        if version.is_some_and(|v| v < bulk::BULK_SINCE) {
            return Ok(None);
        }
        bulk::delete_by_query(&self.req, volume_uuid, batch)
    }

    fn delete_snapshot(&self, volume_uuid: &str, snapshot_uuid: &str) -> Result<()> {
        let path = format!(
            "/api/storage/volumes/{}/snapshots/{}",
            percent_encode(volume_uuid),
            percent_encode(snapshot_uuid)
        );
        let deadline = Instant::now() + self.req.budget();
        let check = || {
            let t = target(&path, &[("fields", "uuid".to_string())]);
            match self.req.get_value(&t, deadline) {
                Ok(_) => Ok(false),
                Err(e) if is_not_found(&e) => Ok(true),
                Err(e) => Err(e),
            }
        };
        match self.req.mutate(Mutation {
            check: Some(&check),
            resend: true,
            gone_is_done: true,
            ..Mutation::new("DELETE", path.clone(), None)
        }) {
            Ok(_) => Ok(()),
            Err(e) if e.api().is_some_and(|a| a.status == 404) => Err(Error::NotFound {
                what: format!("snapshot {snapshot_uuid} of ONTAP volume {volume_uuid}"),
            }),
            Err(e) => Err(e),
        }
    }

    fn restore_volume(&self, volume_uuid: &str, snapshot_name: &str) -> Result<()> {
        let mut m = Mutation::new(
            "PATCH",
            format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
            Some(json!({})),
        );
        m.query
            .push(("restore_to.snapshot.name", snapshot_name.to_string()));
        self.req.mutate(m).map(|_| ())
    }

    fn create_flexclone(&self, clone: &NewFlexClone) -> Result<Volume> {
        let body = json!({
            "name": clone.name,
            "svm": { "name": clone.svm_name },
            "clone": {
                "is_flexclone": true,
                "parent_volume": { "name": clone.parent_volume },
                "parent_snapshot": { "name": clone.parent_snapshot },
            },
            "nas": { "path": clone.nas_path },
        });
        let by_name = || -> Result<Option<Volume>> {
            Ok(self
                .volumes(&[
                    ("name", &literal(&clone.name)),
                    ("svm.name", &literal(&clone.svm_name)),
                ])?
                .into_iter()
                .find(|v| v.name == clone.name))
        };
        let check = || Ok(by_name()?.is_some());
        let mut m = Mutation::new("POST", "/api/storage/volumes".into(), Some(body));
        m.query.push(("return_records", "true".into()));
        m.check = Some(&check);
        m.resend = true;
        let answer = self.req.mutate(m)?;
        let uuid = answer
            .get("records")
            .and_then(|r| r.get(0))
            .and_then(|r| fields::text(r, "uuid"));
        let mut volume = match uuid {
            Some(uuid) => self.volume(&uuid)?,
            None => by_name()?.ok_or_else(|| Error::NotFound {
                what: format!(
                    "FlexClone volume '{}' on SVM {} (just created)",
                    clone.name, clone.svm_name
                ),
            })?,
        };
        if let Some(policy) = &clone.export_policy {
            if volume.export_policy.as_deref() != Some(policy) {
                self.set_export_policy(&volume.uuid, policy)?;
                volume.export_policy = Some(policy.clone());
            }
        }
        Ok(volume)
    }

    fn set_export_policy(&self, volume_uuid: &str, policy: &str) -> Result<()> {
        let check = || Ok(self.volume(volume_uuid)?.export_policy.as_deref() == Some(policy));
        self.req
            .mutate(Mutation {
                check: Some(&check),
                resend: true,
                ..Mutation::new(
                    "PATCH",
                    format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
                    Some(json!({ "nas": { "export_policy": { "name": policy } } })),
                )
            })
            .map(|_| ())
    }

    fn unmount_volume(&self, volume_uuid: &str) -> Result<()> {
        let check = || Ok(self.volume(volume_uuid)?.nas_path.is_none());
        self.req
            .mutate(Mutation {
                check: Some(&check),
                resend: true,
                ..Mutation::new(
                    "PATCH",
                    format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
                    Some(json!({ "nas": { "path": "" } })),
                )
            })
            .map(|_| ())
    }

    fn delete_volume(&self, volume_uuid: &str, force: bool) -> Result<()> {
        let check = || match self.volume(volume_uuid) {
            Ok(_) => Ok(false),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(e) => Err(e),
        };
        let mut m = Mutation::new(
            "DELETE",
            format!("/api/storage/volumes/{}", percent_encode(volume_uuid)),
            None,
        );
        if force {
            m.query.push(("force", "true".into()));
        }
        m.check = Some(&check);
        m.resend = true;
        m.gone_is_done = true;
        match self.req.mutate(m) {
            Ok(_) => Ok(()),
            Err(e) if e.api().is_some_and(|a| a.status == 404) => {
                Err(Self::volume_not_found(volume_uuid))
            }
            Err(e) => Err(e),
        }
    }

    fn clone_file(
        &self,
        volume: &Volume,
        source: &str,
        destination: &str,
        overwrite: bool,
    ) -> Result<()> {
        let mut body = json!({
            "volume": { "name": volume.name, "uuid": volume.uuid },
            "source_path": source,
            "destination_path": destination,
        });
        if overwrite {
            body["overwrite_destination"] = json!(true);
        }
        // With overwrite the destination existed before, so only re-sending (idempotent) helps;
        // without, a destination that now exists was made by this request.
        let check = || self.file_exists(&volume.uuid, destination);
        let mut m = Mutation::new("POST", "/api/storage/file/clone".into(), Some(body));
        if !overwrite {
            m.check = Some(&check);
        }
        m.resend = true;
        self.req.mutate(m).map(|_| ())
    }

    fn list_dir(&self, volume_uuid: &str, path: &str) -> Result<Vec<FileInfo>> {
        let mut p = format!("/api/storage/volumes/{}/files", percent_encode(volume_uuid));
        if let Some(segment) = file_segment(path)? {
            p = format!("{p}/{segment}");
        }
        match self.req.get_records(&p, &[], fields::FILE) {
            Ok(records) => Ok(records
                .iter()
                .map(fields::file)
                .filter(|f| f.name != "." && f.name != "..")
                .collect()),
            Err(e) if is_not_found(&e) => Err(Error::NotFound {
                what: format!("directory '{path}' in ONTAP volume {volume_uuid}"),
            }),
            Err(e) => Err(e),
        }
    }

    fn write_file(&self, volume_uuid: &str, path: &str, data: &[u8]) -> Result<()> {
        self.put_file_data(volume_uuid, path, data)
    }

    fn read_file(&self, volume_uuid: &str, path: &str, max: usize) -> Result<Vec<u8>> {
        self.get_file_data(volume_uuid, path, max)
    }

    fn create_directory(&self, volume_uuid: &str, path: &str) -> Result<()> {
        self.make_dirs(volume_uuid, path)
    }

    fn delete_file(&self, volume_uuid: &str, path: &str) -> Result<()> {
        let segment = file_segment(path)?.ok_or_else(|| {
            Error::Refused(format!(
                "refusing to delete the root of ONTAP volume {volume_uuid}"
            ))
        })?;
        let check = || Ok(!self.file_exists(volume_uuid, path)?);
        let m = Mutation {
            check: Some(&check),
            resend: true,
            gone_is_done: true,
            ..Mutation::new(
                "DELETE",
                format!(
                    "/api/storage/volumes/{}/files/{segment}",
                    percent_encode(volume_uuid)
                ),
                None,
            )
        };
        match self.req.mutate(m) {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Err(Error::NotFound {
                what: format!("file '{path}' in ONTAP volume {volume_uuid}"),
            }),
            Err(e) => Err(e),
        }
    }

    fn restore_volume_forced(&self, svm: &str, volume_name: &str, snapshot: &str) -> Result<()> {
        // The CLI's `volume snapshot restore -force true`, through the private CLI passthrough
        // (ONTAP 9.7 swagger, "Using the private CLI passthrough": verbs are POSTed with their
        // arguments in the body). The REST PATCH has no such switch before 9.19.1 (netapp.ontap
        // na_ontap_volume.py `snapshot_restore_volume_rest`: "Rest does not have force_restore").
        self.req
            .mutate(Mutation::new(
                "POST",
                "/api/private/cli/volume/snapshot/restore".into(),
                Some(json!({
                    "vserver": svm,
                    "volume": volume_name,
                    "snapshot": snapshot,
                    "force": true,
                })),
            ))
            .map(|_| ())
    }

    fn purge_recovery_queue(&self, svm: &str, volume_name: &str) -> Result<bool> {
        // A deleted volume waits in the queue as `<name>_<dsid>` (`volume recovery-queue show`).
        // Only that exact name + "_" + digits is the deleted volume: `X_clone_1_*` would also
        // match `X_clone_1_2_1100`, and a purge cannot be undone.
        let records = self.req.get_records(
            "/api/private/cli/volume/recovery-queue",
            &[
                ("vserver", literal(svm)),
                ("volume", format!("{volume_name}_*")),
            ],
            "vserver,volume,deletion_request_time",
        )?;
        let mut queued: Vec<(String, String)> = records
            .iter()
            .filter_map(|r| {
                let name = fields::text(r, "volume")?;
                is_queued_entry_of(&name, volume_name).then(|| {
                    let at = fields::text(r, "deletion_request_time").unwrap_or_default();
                    (at, name)
                })
            })
            .collect();
        // The entry just made is the newest; older entries of the same name are earlier deletions
        // that the administrator may still want back.
        queued.sort();
        let Some((_, entry)) = queued.pop() else {
            log::info!("volume {volume_name} of SVM {svm} is not in the recovery queue");
            return Ok(true);
        };
        for (_, older) in &queued {
            log::warn!(
                "the recovery queue of SVM {svm} also holds '{older}', an earlier deletion of \
                 volume {volume_name}; it is left alone"
            );
        }
        self.req.mutate(Mutation::new(
            "POST",
            "/api/private/cli/volume/recovery-queue/purge".into(),
            Some(json!({ "vserver": svm, "volume": entry })),
        ))?;
        log::info!("purged recovery-queue entry {entry} of volume {volume_name} on SVM {svm}");
        Ok(true)
    }
}

/// Whether `queued` is the recovery-queue name of a deleted volume `volume`: `<volume>_<digits>`.
pub(crate) fn is_queued_entry_of(queued: &str, volume: &str) -> bool {
    queued
        .strip_prefix(volume)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|dsid| !dsid.is_empty() && dsid.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_paths_become_one_segment() {
        assert_eq!(file_segment("").unwrap(), None);
        assert_eq!(file_segment("/").unwrap(), None);
        assert_eq!(file_segment("images").unwrap().as_deref(), Some("images"));
        assert_eq!(
            file_segment("images/100/vm-100-disk-0.qcow2")
                .unwrap()
                .as_deref(),
            Some("images%2F100%2Fvm-100-disk-0%2Eqcow2")
        );
        assert_eq!(
            file_segment(".snapshot/proxmox_snapshot_2024-03-13_14:42:47+0000/images")
                .unwrap()
                .as_deref(),
            Some("%2Esnapshot%2Fproxmox_snapshot_2024-03-13_14%3A42%3A47%2B0000%2Fimages")
        );
        for bad in ["images/../etc", "./images", "images//100", ".."] {
            assert!(file_segment(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filter_literals_quote_operators_only() {
        assert_eq!(
            literal("proxmox_snapshot_2024-03-13_14:42:47+0000"),
            "proxmox_snapshot_2024-03-13_14:42:47+0000"
        );
        assert_eq!(literal("a*b"), "{a*b}");
        assert_eq!(literal("a..b"), "{a..b}");
        assert_eq!(literal("null"), "{null}");
    }

    #[test]
    fn queue_entries_match_the_exact_name_and_a_dsid() {
        assert!(is_queued_entry_of("X_clone_1_1101", "X_clone_1"));
        assert!(!is_queued_entry_of("X_clone_10_1102", "X_clone_1"));
        assert!(!is_queued_entry_of("X_clone_1_2_1103", "X_clone_1"));
        assert!(!is_queued_entry_of("X_clone_1_", "X_clone_1"));
        assert!(!is_queued_entry_of("X_clone_1", "X_clone_1"));
        assert!(!is_queued_entry_of("X_clone_1_12a", "X_clone_1"));
    }

    #[test]
    fn parents_split_off() {
        assert_eq!(split_parent("images/100/x.raw"), ("images/100", "x.raw"));
        assert_eq!(split_parent("x.raw"), ("", "x.raw"));
    }

    #[test]
    fn snapshots_sort_by_time_across_offsets() {
        let snap = |name: &str, t: &str| Snapshot {
            name: name.into(),
            uuid: name.into(),
            create_time: t.into(),
            comment: None,
            snapmirror_label: None,
            expiry_time: None,
            snaplock_expiry_time: None,
            owners: vec![],
            size: None,
        };
        let mut v = [
            snap("b", "2024-03-13T14:00:00+00:00"),
            snap("a", "2024-03-13T10:00:00-05:00"),
        ];
        v.sort_by_cached_key(create_time_key);
        assert_eq!(v[0].name, "b");
    }
}
