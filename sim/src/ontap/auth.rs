//! HTTP basic authentication against the scenario's accounts (UTF-8 user and password) and the
//! role checks (built-in admin/readonly/vsadmin, custom REST roles with their SVM scope).

use super::errors::ApiError;
use super::rbac::{self, RestRole};
use super::scenario::Role;
use super::state::OntapState;
use crate::http::Request;

/// Decode standard base64 (padding optional); None on invalid input.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The role of the account named by the `Authorization: Basic` header, or 401.
pub fn authenticate(state: &OntapState, req: &Request) -> Result<Role, ApiError> {
    let header = req
        .header("authorization")
        .ok_or_else(ApiError::unauthorized)?;
    let (scheme, cred) = header
        .trim()
        .split_once(' ')
        .ok_or_else(ApiError::unauthorized)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(ApiError::unauthorized());
    }
    let raw = base64_decode(cred).ok_or_else(ApiError::unauthorized)?;
    let text = String::from_utf8(raw).map_err(|_| ApiError::unauthorized())?;
    let (user, pass) = text.split_once(':').ok_or_else(ApiError::unauthorized)?;
    state
        .accounts
        .iter()
        .find(|a| a.name == user && a.password == pass)
        .map(|a| a.role.clone())
        .ok_or_else(ApiError::unauthorized)
}

/// The custom REST role an account's role names (None for the built-in roles).
pub fn rest_role<'a>(state: &'a OntapState, role: &Role) -> Option<&'a RestRole> {
    match role {
        Role::Rest(name) => state.rest_roles.iter().find(|r| &r.name == name),
        _ => None,
    }
}

/// Whether the role may make this call (`segments` without the leading `api`).
pub fn permits(state: &OntapState, role: &Role, method: &str, segments: &[&str]) -> bool {
    match role {
        Role::Admin => true,
        Role::Readonly => method == "GET" || method == "HEAD" || method == "OPTIONS",
        Role::Vsadmin => !matches!(segments, ["cluster"] | ["network", "ip", "interfaces", ..]),
        Role::Rest(_) => {
            let Some(r) = rest_role(state, role) else {
                return false;
            };
            // An SVM-scoped account never reaches the cluster itself (netapp.ontap netapp.py
            // `get_ontap_version_from_params`: "ONTAP does not currently allow access to
            // /api/cluster"; 403 code 6 observed, ansible-collections/netapp.ontap#139).
            if r.svm.is_some() && segments == ["cluster"] {
                return false;
            }
            let mut full = vec!["api"];
            full.extend_from_slice(segments);
            rbac::permits(r, method, &full, &|g, m| state.version.at_least(g, m))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64() {
        assert_eq!(base64_decode("YWRtaW46cHc=").unwrap(), b"admin:pw");
        assert_eq!(base64_decode("YQ").unwrap(), b"a");
        assert_eq!(base64_decode("w6RiYzrDvA==").unwrap(), "äbc:ü".as_bytes());
        assert!(base64_decode("a b").is_none());
    }
}
