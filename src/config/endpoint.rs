//! Endpoints: the Proxmox and ONTAP API addresses, TLS modes, timeouts and logins of the config,
//! turned into the clients' own connection settings (`pve::Connection`, `ontap::Connection`).
//! Parses `host`/`host:port`/`https://…`, SHA-256 fingerprints, CA files and API tokens.

use super::values::Values;
use crate::error::Result;
use crate::http::{Endpoint, Timeouts, TlsMode};
use crate::pve;
use crate::secret::Secret;

pub(super) const PVE_DEFAULT_PORT: u16 = 8006;
pub(super) const ONTAP_DEFAULT_PORT: u16 = 443;

impl Values<'_> {
    /// An endpoint from `<prefix>host`, `<prefix>verify`, `<prefix>fingerprint`, `<prefix>ca`,
    /// `<prefix>connect_timeout`, `<prefix>timeout`.
    pub(super) fn endpoint(&self, prefix: &str, default_port: u16, what: &str) -> Result<Endpoint> {
        let host_key = format!("{prefix}host");
        let host = self.required(&host_key, what)?;
        let base_url = parse_host(host, default_port).map_err(|m| self.error(&host_key, m))?;
        let tls = self.tls(prefix)?;
        let mut timeouts = Timeouts::default();
        if let Some(t) = self.seconds(&format!("{prefix}connect_timeout"))? {
            timeouts.connect = t;
        }
        if let Some(t) = self.seconds(&format!("{prefix}timeout"))? {
            timeouts.request = t;
        }
        Ok(Endpoint {
            base_url,
            tls,
            timeouts,
        })
    }

    fn tls(&self, prefix: &str) -> Result<TlsMode> {
        let verify_key = format!("{prefix}verify");
        let fp_key = format!("{prefix}fingerprint");
        let ca_key = format!("{prefix}ca");
        let verify = self.bool(&verify_key)?;
        let fingerprint = self.non_empty(&fp_key)?;
        let ca = self.path(&ca_key)?;
        if fingerprint.is_some() && ca.is_some() {
            return Err(self.error(
                &fp_key,
                format!("give either {fp_key} or {ca_key}, not both"),
            ));
        }
        if verify == Some(false) && (fingerprint.is_some() || ca.is_some()) {
            let other = if fingerprint.is_some() {
                &fp_key
            } else {
                &ca_key
            };
            return Err(self.error(
                &verify_key,
                format!("'false' turns certificate checks off, which contradicts {other}; remove one of them"),
            ));
        }
        if let Some(fp) = fingerprint {
            let bytes = parse_fingerprint(fp).ok_or_else(|| {
                self.error(
                    &fp_key,
                    "not a SHA-256 fingerprint (32 hex bytes, colons optional, as \
                     'pvenode cert info' or 'openssl x509 -fingerprint -sha256' print it)",
                )
            })?;
            return Ok(TlsMode::Fingerprint(bytes));
        }
        if let Some(ca) = ca {
            if let Err(e) = std::fs::metadata(&ca) {
                return Err(self.error(
                    &ca_key,
                    format!("CA file '{}' is not readable: {e}", ca.display()),
                ));
            }
            return Ok(TlsMode::CaFile(ca));
        }
        Ok(match verify {
            Some(false) => TlsMode::Insecure,
            _ => TlsMode::Verify,
        })
    }
}

pub(super) fn build_proxmox(values: &Values) -> Result<pve::Connection> {
    let endpoint = values.endpoint(
        "proxmox_",
        PVE_DEFAULT_PORT,
        "the Proxmox VE API address (host, host:port or https://host:port)",
    )?;
    let token = values.non_empty("proxmox_token")?;
    let user = values.get("proxmox_user");
    let pass = values.get("proxmox_pass");
    let auth = match token {
        Some(token) => {
            if let Some(key) = [("proxmox_user", user), ("proxmox_pass", pass)]
                .iter()
                .find_map(|(k, v)| v.map(|_| *k))
            {
                return Err(values.error(
                    key,
                    "proxmox_token replaces proxmox_user and proxmox_pass; remove one of the two ways to log in",
                ));
            }
            parse_token(token).map_err(|m| values.error("proxmox_token", m))?
        }
        None => {
            let user = values.required(
                "proxmox_user",
                "the Proxmox user (e.g. root@pam), or use proxmox_token",
            )?;
            if !user.contains('@') || user.starts_with('@') || user.ends_with('@') {
                return Err(values.error(
                    "proxmox_user",
                    format!("'{user}' has no realm; write it as USER@REALM, e.g. root@pam"),
                ));
            }
            let password = values.required("proxmox_pass", "the Proxmox password")?;
            pve::Login::Password {
                user: user.to_string(),
                password: Secret::new(password),
            }
        }
    };
    Ok(pve::Connection { endpoint, auth })
}

/// `USER@REALM!TOKENID=SECRET` (the form `pveum user token add` documents).
fn parse_token(token: &str) -> std::result::Result<pve::Login, String> {
    let shape = "expected USER@REALM!TOKENID=SECRET, e.g. root@pam!snap=5ec2e7a0-...";
    let Some((token_id, secret)) = token.split_once('=') else {
        return Err(format!("no '=' before the secret; {shape}"));
    };
    let Some((user, id)) = token_id.split_once('!') else {
        return Err(format!("no '!' before the token id; {shape}"));
    };
    let realm_ok = user
        .split_once('@')
        .is_some_and(|(u, r)| !u.is_empty() && !r.is_empty());
    if !realm_ok || id.is_empty() || secret.is_empty() {
        return Err(shape.to_string());
    }
    Ok(pve::Login::Token {
        token_id: token_id.to_string(),
        secret: Secret::new(secret),
    })
}

/// SHA-256 fingerprint: 32 bytes of hex, with or without colons, any case, optional `sha256:`.
pub fn parse_fingerprint(v: &str) -> Option<[u8; 32]> {
    let v = v.trim();
    let v = v
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("sha256:"))
        .map_or(v, |_| &v[7..]);
    let hex: Vec<u8> = if v.contains(':') {
        let parts: Vec<&str> = v.split(':').collect();
        if parts.iter().any(|p| p.len() != 2) {
            return None;
        }
        parts.concat().into_bytes()
    } else {
        v.as_bytes().to_vec()
    };
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// `host`, `host:port`, `[v6]:port`, bare IPv6, `https://host[:port][/]` → `https://host:port`.
pub(super) fn parse_host(value: &str, default_port: u16) -> std::result::Result<String, String> {
    let forms = "give host, host:port or https://host:port";
    let mut rest = value.trim();
    if let Some((scheme, after)) = rest.split_once("://") {
        if !scheme.eq_ignore_ascii_case("https") {
            return Err(format!(
                "scheme '{scheme}' is not supported, the API is reached over https; {forms}"
            ));
        }
        rest = after;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains('/') {
        return Err(format!("'{value}' contains a path; {forms}"));
    }
    if rest.contains('@') {
        return Err(format!(
            "'{value}' contains a user name; put it in the user key; {forms}"
        ));
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err(format!("'{value}': missing ']' after an IPv6 address"));
        };
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("'{addr}' is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("'{value}': expected ':port' after ']'"))?,
            ),
        };
        (format!("[{addr}]"), port)
    } else if rest.matches(':').count() > 1 {
        if rest.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "'{value}' is not a host name or IPv6 address; write IPv6 with a port as [addr]:port"
            ));
        }
        (format!("[{rest}]"), None)
    } else {
        let (h, p) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let valid = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return Err(format!("'{h}' is not a host name or IP address; {forms}"));
        }
        (h.to_string(), p)
    };
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("'{p}' is not a port number (1-65535)"))?,
    };
    Ok(format!("https://{host}:{port}"))
}
