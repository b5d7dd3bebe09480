//! Authentication: `POST /access/ticket` (password or ticket renewal), ticket cookies with CSRF
//! tokens for non-GET calls, and `PVEAPIToken=USER@REALM!ID=SECRET` API tokens.

use ring::hmac;
use serde_json::{json, Value};

use super::access::normalize_path;
use super::call::Call;
use super::envelope::{PveError, Reply};
use super::params::{opt, req, Kind};
use super::state::{unix_now, PveState};
use crate::http::{percent_decode, Request};

/// Tickets issued in the future by up to this much are accepted (Proxmox `$auth_graceperiod`).
const GRACE_SECS: i64 = 300;

/// Who is calling.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    /// `root@pam`, or the token id `root@pam!snap`.
    pub user: String,
}

/// `extract_auth_value`: `(?:^|\s)KEY(?:=| )([^;]*)`, then URI-unescaped.
fn extract_auth_value(header: Option<&str>, key: &str) -> Option<String> {
    let header = header?;
    let mut search = 0;
    while let Some(pos) = header[search..].find(key) {
        let start = search + pos;
        let at_boundary = start == 0
            || header[..start]
                .chars()
                .next_back()
                .is_some_and(char::is_whitespace);
        let rest = &header[start + key.len()..];
        if at_boundary && (rest.starts_with('=') || rest.starts_with(' ')) {
            let value = rest[1..].split(';').next().unwrap_or("");
            return (!value.is_empty()).then(|| percent_decode(value, false));
        }
        search = start + key.len();
    }
    None
}

/// Authenticate a request to `rel_uri` (`/access/ticket` and `/access/domains` need nothing).
pub(crate) fn authenticate(
    state: &PveState,
    req: &Request,
    rel_uri: &str,
) -> Result<Option<Auth>, PveError> {
    let method = req.method.as_str();
    let open = (rel_uri == "/access/domains" && method == "GET")
        || (rel_uri == "/access/ticket" && (method == "GET" || method == "POST"));
    if open {
        return Ok(None);
    }
    let ticket = extract_auth_value(req.header("cookie"), "PVEAuthCookie")
        .or_else(|| extract_auth_value(req.header("authorization"), "PVEAuthCookie"));
    if let Some(ticket) = ticket {
        let user = verify_ticket(state, &ticket)
            .ok_or_else(|| PveError::unauthorized("Authentication failed!"))?;
        if method != "GET" {
            let token = req.header("csrfpreventiontoken").unwrap_or("");
            if !verify_csrf(state, &user, token) {
                return Err(PveError::unauthorized(
                    "Permission denied - invalid csrf token",
                ));
            }
        }
        return Ok(Some(Auth { user }));
    }
    if let Some(token) = extract_auth_value(req.header("authorization"), "PVEAPIToken") {
        let user = verify_token(state, &token)
            .ok_or_else(|| PveError::unauthorized("Authentication failed!"))?;
        return Ok(Some(Auth { user }));
    }
    Err(PveError::unauthorized("No ticket"))
}

fn user_enabled(state: &PveState, userid: &str) -> bool {
    state.users.iter().any(|u| u.userid == userid && u.enabled)
}

/// `USER@REALM!TOKENID=SECRET` (split on the last `=`) → the token id.
fn verify_token(state: &PveState, value: &str) -> Option<String> {
    let (tokenid, secret) = value.rsplit_once('=')?;
    let (userid, name) = tokenid.split_once('!')?;
    let user = state
        .users
        .iter()
        .find(|u| u.userid == userid && u.enabled)?;
    let token = user.tokens.iter().find(|t| t.name == name)?;
    let expired = token.expire > 0 && token.expire < unix_now();
    (!expired && token.secret == secret).then(|| tokenid.to_string())
}

fn sign(state: &PveState, purpose: &str, data: &str) -> Vec<u8> {
    let mut material = state.secret.clone();
    material.extend_from_slice(purpose.as_bytes());
    let key = hmac::Key::new(hmac::HMAC_SHA256, &material);
    hmac::sign(&key, data.as_bytes()).as_ref().to_vec()
}

/// A new ticket `PVE:<user>:<8 HEX>::<signature>`.
pub(crate) fn create_ticket(state: &PveState, user: &str) -> String {
    let plain = format!("PVE:{}:{:08X}", user.replace(':', "%3A"), unix_now());
    let sig = base64(&sign(state, "ticket", &plain), true);
    format!("{plain}::{sig}")
}

/// The user of a valid, unexpired ticket.
pub(crate) fn verify_ticket(state: &PveState, ticket: &str) -> Option<String> {
    let (plain, sig) = ticket.rsplit_once("::")?;
    if sig.is_empty() || sig.contains([':', ' ']) || plain.contains(char::is_whitespace) {
        return None;
    }
    if base64(&sign(state, "ticket", plain), true) != sig {
        return None;
    }
    let rest = plain.strip_prefix("PVE:")?;
    let (user, stamp) = rest.rsplit_once(':')?;
    let issued = i64::from_str_radix(stamp, 16).ok()?;
    if !valid_age(state, issued) {
        return None;
    }
    let user = percent_decode(user, false);
    user_enabled(state, &user).then_some(user)
}

fn valid_age(state: &PveState, issued: i64) -> bool {
    let age = unix_now() - issued;
    age > -GRACE_SECS && age < state.timing.ticket_lifetime_secs as i64
}

/// A CSRF prevention token `<8 HEX>:<signature>` bound to the user.
pub(crate) fn create_csrf(state: &PveState, user: &str) -> String {
    let stamp = format!("{:08X}", unix_now());
    let sig = base64(&sign(state, "csrf", &format!("{stamp}:{user}")), false);
    format!("{stamp}:{sig}")
}

fn verify_csrf(state: &PveState, user: &str, token: &str) -> bool {
    let Some((stamp, sig)) = token.split_once(':') else {
        return false;
    };
    let Ok(issued) = i64::from_str_radix(stamp, 16) else {
        return false;
    };
    stamp.len() == 8
        && base64(&sign(state, "csrf", &format!("{stamp}:{user}")), false) == sig
        && valid_age(state, issued)
}

/// Standard base64 (with or without `=` padding).
fn base64(data: &[u8], pad: bool) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// The `cap` of a ticket response: the user's privileges sorted by area, each `1`
/// (pve-access-control `src/PVE/RPCEnvironment.pm` `compute_api_permission`).
fn capabilities(state: &PveState, user: &str) -> Value {
    Value::Object(
        state
            .access
            .capabilities(user)
            .into_iter()
            .map(|(area, privs)| {
                let privs = privs.into_iter().map(|p| (p, json!(1))).collect();
                (area, Value::Object(privs))
            })
            .collect(),
    )
}

/// `GET /access/ticket`: a dummy returning null.
pub(crate) fn get_ticket(_state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[])?;
    Ok(Value::Null.into())
}

/// `POST /access/ticket`: log in with a password (or renew with a valid ticket as password).
pub(crate) fn create(state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[
        req("username", Kind::Fmt(max_64)),
        req("password", Kind::Str),
        opt("realm", Kind::Str),
        opt("otp", Kind::Str),
        opt("path", Kind::Fmt(max_64)),
        opt("privs", Kind::Fmt(max_64)),
        opt("new-format", Kind::Bool),
        opt("tfa-challenge", Kind::Str),
    ])?;
    let p = &call.params;
    let mut username = p.str("username").unwrap_or_default();
    if let Some(realm) = p.str("realm") {
        username = format!("{username}@{realm}");
    }
    let password = p.str("password").unwrap_or_default();
    let ok = user_enabled(state, &username)
        && if password.starts_with("PVE:") {
            verify_ticket(state, &password).as_deref() == Some(username.as_str())
        } else {
            state
                .users
                .iter()
                .any(|u| u.userid == username && u.password.as_deref() == Some(password.as_str()))
        };
    if !ok {
        return Err(PveError::status(401, "authentication failure"));
    }
    // pve-access-control `src/PVE/API2/AccessControl.pm` `create_ticket`: with `path` and
    // `privs` it only verifies that the user has every one of them there (`verify_auth`, any
    // failure is the same 401); the `cap` and the cluster name (only with Sys.Audit on `/`) come
    // with both answers.
    let mut reply = match (p.str("path"), p.str("privs")) {
        (Some(path), Some(privs)) => {
            let privs = super::params::split_list(&privs);
            let privs: Vec<&str> = privs.iter().map(String::as_str).collect();
            let granted = normalize_path(&path).is_some_and(|path| {
                !privs.is_empty() && state.access.check(&username, &path, &privs).is_ok()
            });
            if !granted {
                return Err(PveError::status(401, "authentication failure"));
            }
            json!({"username": username})
        }
        _ => json!({
            "username": username,
            "ticket": create_ticket(state, &username),
            "CSRFPreventionToken": create_csrf(state, &username),
        }),
    };
    reply["cap"] = capabilities(state, &username);
    if state.may(&username, "/", "Sys.Audit") {
        reply["clustername"] = json!(state.cluster_name);
    }
    Ok(reply.into())
}

fn max_64(value: &str) -> Result<(), String> {
    if value.chars().count() > 64 {
        Err("value may only be 64 characters long\n".into())
    } else {
        Ok(())
    }
}

/// `GET /access/domains`: the realms.
pub(crate) fn domains(_state: &mut PveState, call: &Call) -> Result<Reply, PveError> {
    call.params.check(&[])?;
    Ok(json!([
        {"realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication"},
        {"realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server"},
    ])
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_reference_vectors() {
        assert_eq!(base64(b"", true), "");
        assert_eq!(base64(b"f", true), "Zg==");
        assert_eq!(base64(b"fo", true), "Zm8=");
        assert_eq!(base64(b"foo", true), "Zm9v");
        assert_eq!(base64(b"foob", false), "Zm9vYg");
    }

    #[test]
    fn auth_values_from_headers() {
        assert_eq!(
            extract_auth_value(
                Some("a=b; PVEAuthCookie=PVE%3Aroot@pam%3A1::x"),
                "PVEAuthCookie"
            ),
            Some("PVE:root@pam:1::x".to_string())
        );
        assert_eq!(
            extract_auth_value(Some("PVEAPIToken=root@pam!snap=s-e=c"), "PVEAPIToken"),
            Some("root@pam!snap=s-e=c".to_string())
        );
        assert_eq!(
            extract_auth_value(Some("XPVEAPIToken=x"), "PVEAPIToken"),
            None
        );
        assert_eq!(extract_auth_value(None, "PVEAPIToken"), None);
    }
}
