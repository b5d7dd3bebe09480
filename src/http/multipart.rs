//! `multipart/form-data` bodies (RFC 7578) for ONTAP's file data calls: one form with named parts
//! to send, and the parts of an answer taken apart by name.

use std::collections::BTreeMap;

/// A form ready to send: the body and the `Content-Type` naming its boundary.
pub struct Form {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Build a form from `(name, bytes)` parts. The boundary is chosen so that it occurs in no part.
pub fn form(parts: &[(&str, &[u8])]) -> Form {
    let mut n: u64 = 0x5a17_0e11_9f3b_c0de;
    let boundary = loop {
        let b = format!("----pve-ontap-snapshot-{n:016x}");
        if !parts.iter().any(|(_, data)| contains(data, b.as_bytes())) {
            break b;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    };
    let mut body = Vec::new();
    for (name, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    Form {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle, 0).is_some()
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

/// The boundary of a `multipart/...; boundary=X` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("boundary")).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of a multipart body by their `name`; None when the body does not parse.
pub fn parse(body: &[u8], boundary: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut out = BTreeMap::new();
    let mut pos = find(body, delim, 0)? + delim.len();
    loop {
        if body[pos..].starts_with(b"--") {
            return Some(out);
        }
        // Skip the line break after the delimiter.
        pos += if body[pos..].starts_with(b"\r\n") {
            2
        } else {
            1
        };
        let headers_end = find(body, b"\r\n\r\n", pos)?;
        let headers = std::str::from_utf8(&body[pos..headers_end]).ok()?;
        let next = find(body, delim, headers_end + 4)?;
        // The part's data ends before the CRLF that precedes the next delimiter.
        let mut end = next;
        if end >= 2 && &body[end - 2..end] == b"\r\n" {
            end -= 2;
        }
        let data = body[headers_end + 4..end].to_vec();
        let name = headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            if !k.trim().eq_ignore_ascii_case("content-disposition") {
                return None;
            }
            v.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == "name").then(|| v.trim().trim_matches('"').to_string())
            })
        })?;
        out.insert(name, data);
        pos = next + delim.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_parses_back_and_its_boundary_avoids_the_data() {
        let tricky = b"x\r\n------pve-ontap-snapshot-5a170e119f3bc0de\r\ny".to_vec();
        let f = form(&[("data", &tricky), ("bytes_read", b"3")]);
        let b = boundary(&f.content_type).unwrap();
        assert!(!contains(&tricky, b.as_bytes()));
        let parts = parse(&f.body, &b).unwrap();
        assert_eq!(parts["data"], tricky);
        assert_eq!(parts["bytes_read"], b"3");
    }

    #[test]
    fn content_types_and_broken_bodies() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"abc\"").as_deref(),
            Some("abc")
        );
        assert_eq!(boundary("application/json"), None);
        assert_eq!(parse(b"no delimiter", "abc"), None);
        assert_eq!(parse(b"--abc\r\nbroken", "abc"), None);
        let empty = parse(b"--abc--\r\n", "abc").unwrap();
        assert!(empty.is_empty());
    }
}
