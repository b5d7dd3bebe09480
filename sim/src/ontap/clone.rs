//! `POST /api/storage/file/clone`: FlexClone files inside one volume (relative paths; sources
//! may be read from `.snapshot/<name>/...`); the clone takes the source's size and content
//! generation. Request checks happen at once, file-system checks when the job runs.

use super::conditions;
use super::errors::ApiError;
use super::job::{Action, FileClone};
use super::reply::Ctx;
use super::reply::{self, Reply, Started};
use super::state::OntapState;
use super::tree::{self, Kind};

fn relative(field: &str, path: &str) -> Result<String, ApiError> {
    if path.starts_with('/') {
        return Err(ApiError::new(
            400,
            917812,
            format!("A relative path must be used for {field} when a volume is specified."),
        )
        .with_target(field));
    }
    tree::normalize(path)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::invalid_value(field, path, "a path relative to the volume root"))
}

/// `POST /api/storage/file/clone`.
pub fn post(state: &mut OntapState, ctx: &mut Ctx) -> Result<Reply, ApiError> {
    ctx.query.take_bool("return_records")?;
    let return_timeout = ctx.query.return_timeout()?;
    ctx.query.finish()?;
    let mut body = ctx.body()?;
    let vol_name = body.take_str("volume.name")?;
    let vol_uuid = body.take_str("volume.uuid")?;
    let source = body.take_str("source_path")?;
    let destination = body.take_str("destination_path")?;
    let v98 = state.version.at_least(9, 8);
    let overwrite = if v98 {
        body.take_bool("overwrite_destination")?.unwrap_or(false)
    } else {
        false
    };
    if v98 {
        body.take_bool("is_backup")?;
    }
    body.take_bool("autodelete")?;
    if state.version.at_least(9, 10) {
        body.take_str("token_uuid")?;
    }
    body.finish()?;

    // volume.uuid is always required; volume.name too before 9.16.
    let uuid = vol_uuid.ok_or_else(|| ApiError::missing_value("volume.uuid"))?;
    if vol_name.is_none() && !state.version.at_least(9, 16) {
        return Err(ApiError::missing_value("volume.name"));
    }
    let v = state
        .volume(&uuid)
        .ok_or_else(|| ApiError::volume_not_found(&uuid))?;
    if let Some(n) = &vol_name {
        if *n != v.name {
            return Err(ApiError::new(
                400,
                918236,
                format!(
                    "The specified \"volume.name\" (\"{n}\") and \"volume.uuid\" (\"{uuid}\") refer to different volumes."
                ),
            )
            .with_target("volume.name"));
        }
    }
    let source = relative(
        "source_path",
        &source.ok_or_else(|| ApiError::missing_value("source_path"))?,
    )?;
    let destination = relative(
        "destination_path",
        &destination.ok_or_else(|| ApiError::missing_value("destination_path"))?,
    )?;
    let msg = format!(
        "Cloning \"{source}\" to \"{destination}\" in volume \"{}\"",
        v.name
    );
    let action = Action::FileClone(FileClone {
        volume: uuid,
        source,
        destination,
        overwrite,
    });
    let job = state.submit_job(action, ctx.description(), msg, ctx.fault);
    Ok(reply::started(
        Started {
            job,
            created: true,
            ..Default::default()
        },
        return_timeout,
    ))
}

fn start_failed(reason: String) -> ApiError {
    ApiError::new(
        400,
        13565952,
        format!("Clone start failed. Reason: {reason}"),
    )
}

/// The effect: the destination becomes a file with the source's size and generation.
pub fn apply(state: &mut OntapState, c: FileClone) -> Result<(), ApiError> {
    conditions::file_clone(state)?;
    let now = state.now();
    let v = state
        .volume(&c.volume)
        .ok_or_else(|| ApiError::volume_not_found(&c.volume))?;
    let (src_tree, src_path) = match c.source.strip_prefix(".snapshot/") {
        Some(rest) => {
            let (snap, path) = rest.split_once('/').unwrap_or((rest, ""));
            let s = v.snapshot_by_name(snap).ok_or_else(|| {
                ApiError::new(
                    400,
                    917864,
                    format!("Failed to get the file handle. Snapshot \"{snap}\" does not exist on volume \"{}\".", v.name),
                )
                .with_target("source_path")
            })?;
            (&s.tree, path.to_string())
        }
        None => (&v.tree, c.source.clone()),
    };
    let (size, generation) = match src_tree.get(&src_path).map(|n| &n.kind) {
        Some(Kind::File { size, generation }) => (*size, *generation),
        Some(Kind::Directory) => {
            return Err(start_failed(format!(
                "source \"{}\" is a directory.",
                c.source
            )))
        }
        None => {
            return Err(ApiError::new(
                400,
                917864,
                format!(
                    "Failed to get the file handle. \"{}\" does not exist in volume \"{}\".",
                    c.source, v.name
                ),
            )
            .with_target("source_path"))
        }
    };
    if c.destination == ".snapshot" || c.destination.starts_with(".snapshot/") {
        return Err(start_failed(format!(
            "destination \"{}\" is on a read-only file system.",
            c.destination
        )));
    }
    let dir = tree::parent(&c.destination);
    if !v.tree.is_dir(dir) {
        return Err(start_failed(format!(
            "destination directory \"{dir}\" does not exist in volume \"{}\".",
            v.name
        )));
    }
    match v.tree.get(&c.destination) {
        Some(n) if n.is_dir() => {
            return Err(start_failed(format!(
                "destination \"{}\" is a directory.",
                c.destination
            )))
        }
        Some(_) if !c.overwrite => {
            return Err(start_failed(format!(
                "destination file \"{}\" already exists.",
                c.destination
            )))
        }
        _ => {}
    }
    if let Some(v) = state.volume_mut(&c.volume) {
        v.tree.put_file(&c.destination, size, generation, now);
    }
    Ok(())
}
