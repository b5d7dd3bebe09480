//! `/api/storage/volumes/{uuid}/files[/{path}]`: directory listings (with `.` and `..`, the
//! read-only `.snapshot` tree, `return_metadata`) and file/directory DELETE.
//! `{path}` is one URL segment (`/` as `%2F`), already decoded by the server.

use serde_json::{json, Value};
use time::OffsetDateTime;

use super::collection;
use super::errors::ApiError;
use super::fields::Schema;
use super::job::Action;
use super::reply::Ctx;
use super::reply::{self, Reply, Started};
use super::state::{OntapState, Snapshot, Volume};
use super::tree::{self, Node, Tree};
use crate::http::Response;

pub fn schema(state: &OntapState) -> Schema {
    let mut leaves = vec![
        "name",
        "path",
        "type",
        "size",
        "bytes_used",
        "creation_time",
        "modified_time",
        "changed_time",
        "accessed_time",
        "inode_number",
        "unix_permissions",
        "owner_id",
        "group_id",
        "hard_links_count",
        "is_junction",
        "is_empty",
        "volume.name",
        "volume.uuid",
    ];
    if state.version.at_least(9, 8) {
        leaves.extend(["unique_bytes", "is_snapshot"]);
    }
    Schema {
        leaves,
        expensive: vec![],
        // netapp-ontap's documented listing without `fields`: name, path, type (file_info.py).
        defaults: vec!["name", "path", "type"],
        key: "name",
        keys: vec!["name", "path"],
    }
}

/// Encode a volume-relative path as one URL segment (`/` → `%2F`, `.` → `%2E`).
pub fn encode_segment(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'~' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where a path points.
enum Loc<'a> {
    /// A path in the active file system (may not exist).
    Active(&'a Tree, String),
    /// `.snapshot` itself.
    SnapshotDir,
    /// A path inside one snapshot's tree.
    InSnapshot(&'a Snapshot, String),
}

fn not_found(path: &str) -> ApiError {
    ApiError::new(
        404,
        6684674,
        format!("No such file or directory: \"{path}\"."),
    )
    .with_target("path")
}

fn locate<'a>(v: &'a Volume, path: &str) -> Result<Loc<'a>, ApiError> {
    let norm = tree::normalize(path).ok_or_else(|| not_found(path))?;
    let mut parts = norm.splitn(3, '/');
    if parts.next() != Some(".snapshot") {
        return Ok(Loc::Active(&v.tree, norm));
    }
    match parts.next() {
        None => Ok(Loc::SnapshotDir),
        Some(name) => {
            let snap = v.snapshot_by_name(name).ok_or_else(|| not_found(path))?;
            Ok(Loc::InSnapshot(
                snap,
                parts.next().unwrap_or("").to_string(),
            ))
        }
    }
}

/// One listed entry.
struct Entry {
    name: String,
    path: String,
    dir: bool,
    size: u64,
    inode: u64,
    created: OffsetDateTime,
    modified: OffsetDateTime,
    snapshot: bool,
    empty: Option<bool>,
}

fn entry_json(state: &OntapState, v: &Volume, e: &Entry) -> Value {
    let href = format!(
        "/api/storage/volumes/{}/files/{}",
        v.uuid,
        encode_segment(&e.path)
    );
    let mut j = json!({
        "volume": {"name": v.name, "uuid": v.uuid},
        "name": e.name,
        "path": if e.path.is_empty() { "/".to_string() } else { e.path.clone() },
        "type": if e.dir { "directory" } else { "file" },
        "size": e.size,
        "bytes_used": e.size,
        "creation_time": state.fmt_time(e.created),
        "modified_time": state.fmt_time(e.modified),
        "changed_time": state.fmt_time(e.modified),
        "accessed_time": state.fmt_time(e.modified),
        "inode_number": e.inode,
        "unix_permissions": if e.dir { 755 } else { 644 },
        "owner_id": 0,
        "group_id": 0,
        "hard_links_count": if e.dir { 2 } else { 1 },
        "is_junction": false,
        "_links": {"metadata": {"href": format!("{href}?return_metadata=true")}},
    });
    if e.dir {
        j["_links"]["self"] = json!({"href": href});
        if let Some(empty) = e.empty {
            j["is_empty"] = json!(empty);
        }
    }
    if state.version.at_least(9, 8) {
        j["unique_bytes"] = json!(if e.snapshot { 0 } else { e.size });
        j["is_snapshot"] = json!(e.snapshot);
    }
    j
}

fn node_entry(
    t: &Tree,
    name: &str,
    full: String,
    tree_path: &str,
    n: &Node,
    snapshot: bool,
) -> Entry {
    Entry {
        name: name.to_string(),
        path: full,
        dir: n.is_dir(),
        size: n.size(),
        inode: n.inode,
        created: n.created,
        modified: n.modified,
        snapshot,
        empty: n.is_dir().then(|| t.children(tree_path).next().is_none()),
    }
}

fn dir_entry(
    name: &str,
    path: &str,
    t: OffsetDateTime,
    inode: u64,
    snapshot: bool,
    empty: bool,
) -> Entry {
    Entry {
        name: name.into(),
        path: path.into(),
        dir: true,
        size: 4096,
        inode,
        created: t,
        modified: t,
        snapshot,
        empty: Some(empty),
    }
}

/// Listing of a directory in a tree (`prefix`: how paths in this tree appear from the root).
fn list_tree(
    t: &Tree,
    dir: &str,
    prefix: &str,
    shown: &str,
    snapshot: bool,
    when: OffsetDateTime,
) -> Vec<Entry> {
    let node = t.get(dir);
    let (inode, created) = node.map(|n| (n.inode, n.created)).unwrap_or((64, when));
    let empty = t.children(dir).next().is_none();
    let mut out = vec![
        dir_entry(".", shown, created, inode, snapshot, empty),
        dir_entry(
            "..",
            shown,
            created,
            inode.saturating_sub(1).max(64),
            snapshot,
            false,
        ),
    ];
    for (path, n) in t.children(dir) {
        let full = format!("{prefix}{path}");
        out.push(node_entry(
            t,
            tree::base_name(path),
            full,
            path,
            n,
            snapshot,
        ));
    }
    out
}

fn join(prefix: &str, path: &str) -> String {
    if path.is_empty() {
        prefix.trim_end_matches('/').to_string()
    } else {
        format!("{prefix}{path}")
    }
}

/// The entries a GET returns for `path` (a listing, or the path itself with `metadata`).
fn entries(v: &Volume, path: &str, metadata: bool) -> Result<Vec<Entry>, ApiError> {
    match locate(v, path)? {
        Loc::Active(t, p) => {
            if p.is_empty() {
                let root = dir_entry(
                    ".",
                    "",
                    v.create_time,
                    64,
                    false,
                    t.children("").next().is_none(),
                );
                return Ok(if metadata {
                    vec![root]
                } else {
                    list_tree(t, "", "", "", false, v.create_time)
                });
            }
            let n = t.get(&p).ok_or_else(|| not_found(path))?;
            if metadata || !n.is_dir() {
                return Ok(vec![node_entry(
                    t,
                    tree::base_name(&p),
                    p.clone(),
                    &p,
                    n,
                    false,
                )]);
            }
            Ok(list_tree(t, &p, "", &p, false, v.create_time))
        }
        Loc::SnapshotDir => {
            let me = dir_entry(
                ".snapshot",
                ".snapshot",
                v.create_time,
                64,
                true,
                v.snapshots.is_empty(),
            );
            if metadata {
                return Ok(vec![me]);
            }
            let mut out = vec![
                dir_entry(
                    ".",
                    ".snapshot",
                    v.create_time,
                    64,
                    true,
                    v.snapshots.is_empty(),
                ),
                dir_entry("..", ".snapshot", v.create_time, 64, true, false),
            ];
            out.extend(v.snapshots.iter().enumerate().map(|(i, s)| {
                dir_entry(
                    &s.name,
                    &format!(".snapshot/{}", s.name),
                    s.create_time,
                    64 + i as u64,
                    true,
                    false,
                )
            }));
            Ok(out)
        }
        Loc::InSnapshot(s, p) => {
            let prefix = format!(".snapshot/{}/", s.name);
            let shown = join(&prefix, &p);
            if p.is_empty() {
                let root = dir_entry(&s.name, &shown, s.create_time, 64, true, false);
                return Ok(if metadata {
                    vec![root]
                } else {
                    list_tree(&s.tree, "", &prefix, &shown, true, s.create_time)
                });
            }
            let n = s.tree.get(&p).ok_or_else(|| not_found(path))?;
            if metadata || !n.is_dir() {
                return Ok(vec![node_entry(
                    &s.tree,
                    tree::base_name(&p),
                    shown,
                    &p,
                    n,
                    true,
                )]);
            }
            Ok(list_tree(&s.tree, &p, &prefix, &shown, true, s.create_time))
        }
    }
}

/// `GET .../files[/{path}]`.
pub fn get(state: &OntapState, ctx: &mut Ctx, vol: &str, path: &str) -> Result<Reply, ApiError> {
    if super::filedata::is_read(&ctx.query) {
        return super::filedata::read(state, ctx.req, &mut ctx.query, vol, path).map(Into::into);
    }
    let metadata = if state.version.at_least(9, 8) {
        ctx.query.take_bool("return_metadata")?.unwrap_or(false)
    } else {
        false
    };
    let v = state
        .volume(vol)
        .ok_or_else(|| ApiError::volume_not_found(vol))?;
    let entries = entries(v, path, metadata)?;
    // In a listing every entry's `path` is the listed directory (netapp-ontap's documented
    // example "Retrieving the list of files in a directory": `"path": "d1/d2/d3"` for `.`, `..`,
    // `f1` and `d5` alike); the self links still name each entry.
    let listed = (!metadata)
        .then(|| entries.iter().find(|e| e.name == "."))
        .flatten()
        .map(|dot| {
            if dot.path.is_empty() {
                "/".to_string()
            } else {
                dot.path.clone()
            }
        });
    let records = entries
        .iter()
        .map(|e| {
            let mut j = entry_json(state, v, e);
            if let Some(dir) = &listed {
                j["path"] = json!(dir);
            }
            j
        })
        .collect();
    let base = if path.is_empty() {
        format!("/api/storage/volumes/{vol}/files")
    } else {
        format!("/api/storage/volumes/{vol}/files/{}", encode_segment(path))
    };
    let body = collection::collection(&mut ctx.query, &schema(state), &base, records)?;
    Ok(Response::json(200, &body).into())
}

/// `DELETE .../files/{path}` (synchronous 200; `recurse=true` for non-empty directories).
pub fn delete(
    state: &mut OntapState,
    ctx: &mut Ctx,
    vol: &str,
    path: &str,
) -> Result<Reply, ApiError> {
    let recurse = ctx.query.take_bool("recurse")?.unwrap_or(false);
    ctx.query.take_u64("throttle_deletion", 10, 100_000)?;
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let v = state
        .volume(vol)
        .ok_or_else(|| ApiError::volume_not_found(vol))?;
    let p = match locate(v, path)? {
        Loc::Active(_, p) => p,
        Loc::SnapshotDir | Loc::InSnapshot(..) => {
            return Err(ApiError::new(
                400,
                131102,
                format!("Read-only file system: \"{path}\" is inside a snapshot."),
            )
            .with_target("path"))
        }
    };
    if p.is_empty() {
        return Err(ApiError::invalid_value(
            "path",
            path,
            "the volume root cannot be deleted",
        ));
    }
    let node = v.tree.get(&p).ok_or_else(|| not_found(path))?;
    if node.is_dir() && !recurse && v.tree.children(&p).next().is_some() {
        return Err(ApiError::new(
            400,
            131138,
            format!(
                "Directory not empty: \"{path}\". Use recurse=true to delete it with its contents."
            ),
        )
        .with_target("path"));
    }
    if ctx.fault.is_some() {
        let msg = format!("Deleting \"{path}\" in volume \"{}\"", v.name);
        let job = state.submit_job(Action::Noop, ctx.description(), msg, ctx.fault);
        return Ok(reply::started(
            Started {
                job,
                ..Default::default()
            },
            return_timeout,
        ));
    }
    let now = state.now();
    if let Some(v) = state.volume_mut(vol) {
        v.tree.remove_all(&p, now);
    }
    Ok(Response::json(200, &json!({})).into())
}
