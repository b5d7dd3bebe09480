//! Byte encodings the clients need on the wire: percent-encoding (paths, queries, forms) and base64
//! for the HTTP Basic `Authorization` header (UTF-8 user and password).

/// Percent-encodes everything except the RFC 3986 unreserved characters `A-Z a-z 0-9 - . _ ~`
/// (so `/`, `:`, `+`, `=`, `&`, `%`, `.`-free segments are all safe inside one path segment or value).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = match *chunk {
            [a, b, c] => (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c),
            [a, b] => (u32::from(a) << 16) | (u32::from(b) << 8),
            [a] => u32::from(a) << 16,
            _ => 0,
        };
        let sextet = |shift: u32| ALPHABET[((n >> shift) & 0x3F) as usize] as char;
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// `Basic base64(user:password)` from the UTF-8 bytes (not Latin-1).
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
        assert_eq!(base64(&[0xFB, 0xFF, 0xBF]), "+/+/");
    }

    #[test]
    fn basic_auth_uses_utf8_and_keeps_special_characters() {
        // The simulator's ONTAP password, literally.
        assert_eq!(
            basic_auth("admin", "Ontap-Pa55;#\"\\=x"),
            "Basic YWRtaW46T250YXAtUGE1NTsjIlw9eA=="
        );
        // "ü" is two bytes in UTF-8 (Latin-1 would give one).
        assert_eq!(basic_auth("jürgen", "pw"), "Basic asO8cmdlbjpwdw==");
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(
            percent_encode("images/100/vm-100.raw"),
            "images%2F100%2Fvm-100.raw"
        );
        assert_eq!(
            percent_encode("proxmox_snapshot_2024-03-13_14:42:47+0000"),
            "proxmox_snapshot_2024-03-13_14%3A42%3A47%2B0000"
        );
        assert_eq!(
            percent_encode("UPID:pve1:00001234:root@pam!x:"),
            "UPID%3Apve1%3A00001234%3Aroot%40pam%21x%3A"
        );
        assert_eq!(percent_encode("a b&c=d%"), "a%20b%26c%3Dd%25");
        assert_eq!(percent_encode("ü"), "%C3%BC");
    }
}
