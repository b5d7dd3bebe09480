//! File data through the files API (ONTAP 9.8+): write a small file (`POST .../files/{path}` with
//! a `multipart/form-data` part `data`), read it back (`GET` with `byte_offset`/`length` and
//! `Accept: multipart/form-data`), and create a directory (`POST` with `{"type":"directory"}`).
//!
//! A write is one `POST ?overwrite=true&byte_offset=0`: it creates the file or writes over its
//! start. A longer old file keeps its tail, so what is written must say where it ends (the
//! configuration files are one JSON value; their reader stops after it). One request, and a lost
//! answer leaves either the old or the new bytes in front, never a missing file.

use serde_json::json;

use super::client::{file_segment, OntapClient};
use super::errors::is_not_found;
use crate::error::{Error, Result};
use crate::http::multipart;
use crate::http::{percent_encode, Body};

/// Largest read or write ONTAP serves in one request (netapp-ontap `FileInfo` docs: 1 MB).
pub const MAX_IO: usize = 1 << 20;

impl OntapClient {
    fn file_target(volume_uuid: &str, path: &str) -> Result<String> {
        let segment = file_segment(path)?.ok_or_else(|| {
            Error::Refused(format!(
                "the root of ONTAP volume {volume_uuid} is not a file"
            ))
        })?;
        Ok(format!(
            "/api/storage/volumes/{}/files/{segment}",
            percent_encode(volume_uuid)
        ))
    }

    /// Create one directory (its parent must exist); an existing directory is fine.
    pub(super) fn post_directory(&self, volume_uuid: &str, path: &str) -> Result<()> {
        let target = Self::file_target(volume_uuid, path)?;
        let body = serde_json::to_vec(&json!({"type": "directory", "unix_permissions": 755}))
            .unwrap_or_default();
        match self.req.send_raw(
            "POST",
            &target,
            "application/json",
            Some(Body {
                content_type: "application/json",
                bytes: &body,
            }),
        ) {
            Ok(_) => Ok(()),
            Err(e) if e.api().is_some_and(|a| a.status == 409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Create a directory and its missing parents (each level one request, only where missing).
    pub(super) fn make_dirs(&self, volume_uuid: &str, path: &str) -> Result<()> {
        let mut done = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !done.is_empty() {
                done.push('/');
            }
            done.push_str(part);
            self.post_directory(volume_uuid, &done)?;
        }
        Ok(())
    }

    /// Write `data` (at most 1 MB) from the start of a file, creating it (and its directories
    /// when missing).
    pub(super) fn put_file_data(&self, volume_uuid: &str, path: &str, data: &[u8]) -> Result<()> {
        if data.len() > MAX_IO {
            return Err(Error::Refused(format!(
                "'{path}' would be {} bytes; ONTAP's files API writes at most {MAX_IO}",
                data.len()
            )));
        }
        let target = Self::file_target(volume_uuid, path)?;
        let form = multipart::form(&[("data", data)]);
        let post = || {
            self.req.send_raw(
                "POST",
                &format!("{target}?overwrite=true&byte_offset=0"),
                "application/json",
                Some(Body {
                    content_type: &form.content_type,
                    bytes: &form.body,
                }),
            )
        };
        match post() {
            Ok(_) => Ok(()),
            // The directory is missing: make it, then write once more.
            Err(e) if is_not_found(&e) => {
                let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
                self.make_dirs(volume_uuid, dir)?;
                post().map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Read a whole file of at most `max` bytes; `Error::NotFound` when it does not exist.
    pub(super) fn get_file_data(
        &self,
        volume_uuid: &str,
        path: &str,
        max: usize,
    ) -> Result<Vec<u8>> {
        let target = Self::file_target(volume_uuid, path)?;
        let length = max.clamp(1, MAX_IO);
        let full = format!("{target}?byte_offset=0&length={length}");
        let response = match self.req.send_raw("GET", &full, "multipart/form-data", None) {
            Ok(r) => r,
            Err(e) if is_not_found(&e) => {
                return Err(Error::NotFound {
                    what: format!("file '{path}' in ONTAP volume {volume_uuid}"),
                })
            }
            Err(e) => return Err(e),
        };
        let bad = |why: &str| {
            Error::Refused(format!(
                "ONTAP answered GET {full} with {why}; expected multipart/form-data with a 'data' part"
            ))
        };
        let boundary = response
            .header("content-type")
            .and_then(multipart::boundary)
            .ok_or_else(|| bad("another content type"))?;
        let mut parts =
            multipart::parse(&response.body, &boundary).ok_or_else(|| bad("a broken body"))?;
        parts.remove("data").ok_or_else(|| bad("no data part"))
    }
}
