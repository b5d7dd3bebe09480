//! File data through `/api/storage/volumes/{uuid}/files/{path}` (ONTAP 9.8+): `POST` creates a
//! file from the `data` part of a `multipart/form-data` body (or a directory from a JSON body
//! `{"type": "directory"}`), `GET` with `byte_offset`/`length` reads bytes back as a multipart
//! answer. Contents are kept by content generation (`blobs`), so snapshots and file clones (which
//! copy the generation) see the bytes of the moment they captured.
//!
//! Sources: the REST reference "Create a new file with the supplied data" (`POST
//! /storage/volumes/{volume.uuid}/files/{path}`: query `byte_offset` — "Use -1 to append
//! (default)", `overwrite` — "If false, and the file exists, the write will fail. Default is
//! false", form field `data`; answer 201) and "Write to an existing file" (PATCH, same query);
//! netapp-ontap `FileInfo` docs (writes of at most 1 MB, reads with `byte_offset` and `length`).
//! The exact shape of a read answer (parts `bytes_read` and `data`) and the error codes of a
//! write into a missing directory or over an existing file are guesses (sim/README.md).

use serde_json::json;

use super::errors::ApiError;
use super::state::OntapState;
use super::tree::{self, Kind};
use crate::http::{Request, Response};

/// Largest write or read ONTAP serves in one request (1 MB, netapp-ontap `FileInfo` docs).
pub const MAX_IO: u64 = 1 << 20;

fn not_found(path: &str) -> ApiError {
    ApiError::new(
        404,
        6684674,
        format!("No such file or directory: \"{path}\"."),
    )
    .with_target("path")
}

fn read_only(path: &str) -> ApiError {
    ApiError::new(
        400,
        131102,
        format!("Read-only file system: \"{path}\" is inside a snapshot."),
    )
    .with_target("path")
}

/// The boundary of a multipart content type.
fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() || from > hay.len() - needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// The `data` part of a multipart body.
fn data_part(body: &[u8], boundary: &str) -> Option<Vec<u8>> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim, 0)? + delim.len();
    loop {
        if body.get(pos..pos + 2) == Some(b"--") {
            return None;
        }
        pos += 2;
        let head_end = find(body, b"\r\n\r\n", pos)?;
        let headers = String::from_utf8_lossy(&body[pos..head_end]).to_ascii_lowercase();
        let next = find(body, delim, head_end + 4)?;
        let end = if next >= 2 && &body[next - 2..next] == b"\r\n" {
            next - 2
        } else {
            next
        };
        if headers.contains("name=\"data\"") {
            return Some(body[head_end + 4..end].to_vec());
        }
        pos = next + delim.len();
    }
}

/// `POST .../files/{path}`: a new file with data, or a new directory.
pub fn post(
    state: &mut OntapState,
    req: &Request,
    query: &mut super::params::Query,
    vol: &str,
    path: &str,
) -> Result<Response, ApiError> {
    let overwrite = query.take_bool("overwrite")?.unwrap_or(false);
    let offset = match query.take("byte_offset") {
        None => -1i64,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= -1)
            .ok_or_else(|| ApiError::invalid_value("byte_offset", &v, "an offset or -1"))?,
    };
    query.take("stream_name");
    query.finish()?;
    let norm = tree::normalize(path)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| not_found(path))?;
    if norm == ".snapshot" || norm.starts_with(".snapshot/") {
        return Err(read_only(path));
    }
    let now = state.now();
    let v = state
        .volume(vol)
        .ok_or_else(|| ApiError::volume_not_found(vol))?;
    let parent = tree::parent(&norm).to_string();
    if !v.tree.is_dir(&parent) {
        return Err(not_found(&parent));
    }
    let content_type = req.header("content-type").unwrap_or("").to_string();
    let Some(b) = boundary(&content_type) else {
        // JSON: only `type: directory` (with optional permissions) is modelled.
        let body = req
            .json_body()
            .map_err(|e| ApiError::invalid_json(&e))?
            .unwrap_or_else(|| json!({}));
        let kind = body.get("type").and_then(|t| t.as_str()).unwrap_or("");
        if kind != "directory" {
            return Err(ApiError::invalid_value(
                "type",
                kind,
                "\"directory\" (file data is sent as multipart/form-data)",
            ));
        }
        if v.tree.get(&norm).is_some() {
            return Err(
                ApiError::new(409, 6488110, format!("File exists: \"{path}\"."))
                    .with_target("path"),
            );
        }
        if let Some(v) = state.volume_mut(vol) {
            v.tree.mkdir_all(&norm, now);
        }
        return Ok(Response::json(201, &json!({})));
    };
    let data = data_part(&req.body, &b).ok_or_else(|| ApiError::missing_value("data"))?;
    if data.len() as u64 > MAX_IO {
        return Err(ApiError::invalid_value(
            "data",
            &format!("{} bytes", data.len()),
            "at most 1 MB per request",
        ));
    }
    let old = match v.tree.get(&norm).map(|n| &n.kind) {
        Some(Kind::Directory) => {
            return Err(
                ApiError::new(400, 6488110, format!("Is a directory: \"{path}\"."))
                    .with_target("path"),
            )
        }
        Some(Kind::File { size, generation }) if overwrite => {
            let mut bytes = state.file_data.get(*generation).to_vec();
            bytes.resize(*size as usize, 0);
            Some(bytes)
        }
        Some(_) => {
            return Err(ApiError::new(
                409,
                6488110,
                format!("File exists: \"{path}\". Use overwrite=true to write to it."),
            )
            .with_target("path"))
        }
        None => None,
    };
    let mut bytes = old.unwrap_or_default();
    let at = if offset < 0 {
        bytes.len()
    } else {
        offset as usize
    };
    if bytes.len() < at + data.len() {
        bytes.resize(at + data.len(), 0);
    }
    bytes[at..at + data.len()].copy_from_slice(&data);
    let size = bytes.len() as u64;
    let generation = state.file_data.store(bytes);
    if let Some(v) = state.volume_mut(vol) {
        v.tree.put_file(&norm, size, generation, now);
    }
    Ok(Response::json(201, &json!({})))
}

/// Whether a GET asks for data rather than a listing.
pub fn is_read(query: &super::params::Query) -> bool {
    query
        .all()
        .iter()
        .any(|(k, _)| k == "byte_offset" || k == "length")
}

/// `GET .../files/{path}?byte_offset=&length=` with `Accept: multipart/form-data`.
pub fn read(
    state: &OntapState,
    req: &Request,
    query: &mut super::params::Query,
    vol: &str,
    path: &str,
) -> Result<Response, ApiError> {
    let offset = query.take_u64("byte_offset", 0, u64::MAX)?.unwrap_or(0);
    let length = query
        .take_u64("length", 1, MAX_IO)?
        .ok_or_else(|| ApiError::missing_value("length"))?;
    query.finish()?;
    let accept = req.header("accept").unwrap_or("");
    if !accept.to_ascii_lowercase().contains("multipart/form-data") {
        return Err(ApiError::invalid_value(
            "Accept",
            accept,
            "multipart/form-data when reading file data",
        ));
    }
    let v = state
        .volume(vol)
        .ok_or_else(|| ApiError::volume_not_found(vol))?;
    let norm = tree::normalize(path).ok_or_else(|| not_found(path))?;
    let (t, p) = match norm.strip_prefix(".snapshot/") {
        Some(rest) => {
            let (snap, p) = rest.split_once('/').unwrap_or((rest, ""));
            let s = v.snapshot_by_name(snap).ok_or_else(|| not_found(path))?;
            (&s.tree, p.to_string())
        }
        None => (&v.tree, norm.clone()),
    };
    let (size, generation) = match t.get(&p).map(|n| &n.kind) {
        Some(Kind::File { size, generation }) => (*size, *generation),
        Some(Kind::Directory) => {
            return Err(
                ApiError::new(400, 6488110, format!("Is a directory: \"{path}\"."))
                    .with_target("path"),
            )
        }
        None => return Err(not_found(path)),
    };
    let mut bytes = state.file_data.get(generation).to_vec();
    bytes.resize(size as usize, 0);
    let start = (offset.min(size)) as usize;
    let end = (offset.saturating_add(length).min(size)) as usize;
    let chunk = &bytes[start..end];
    let boundary = "sim-file-data-boundary-7d3f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"bytes_read\"\r\n\r\n{}\r\n",
            chunk.len()
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(chunk);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut r = Response::json(200, &json!({}));
    r.body = body;
    r.headers = vec![(
        "Content-Type".into(),
        format!("multipart/form-data; boundary={boundary}"),
    )];
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_part_is_found_among_others() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nhello\r\nworld\r\n--b--\r\n";
        assert_eq!(data_part(body, "b").unwrap(), b"hello\r\nworld");
        assert_eq!(data_part(b"--b--\r\n", "b"), None);
        assert_eq!(
            boundary("multipart/form-data; boundary=\"b\"").as_deref(),
            Some("b")
        );
        assert_eq!(boundary("application/json"), None);
    }
}
