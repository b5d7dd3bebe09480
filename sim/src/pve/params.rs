//! Request parameters the Proxmox way: form or JSON body merged with the query string, path
//! parameters, and schema checks with Proxmox's messages (`property is missing ...`, type checks).

use std::collections::BTreeMap;

use serde_json::Value;

use super::envelope::PveError;
use crate::http::{parse_query, Request};

/// The type of one parameter.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    /// `1`/`0` in forms; `true`/`false`/1/0 in JSON.
    Bool,
    Int,
    Enum(&'static [&'static str]),
    /// A string with a format check (`Err` is the die text, ending in a newline).
    Fmt(fn(&str) -> Result<(), String>),
}

/// One schema property.
#[derive(Clone, Copy)]
pub(crate) struct Prop {
    pub name: &'static str,
    pub kind: Kind,
    pub optional: bool,
}

pub(crate) const fn req(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        optional: false,
    }
}

pub(crate) const fn opt(name: &'static str, kind: Kind) -> Prop {
    Prop {
        name,
        kind,
        optional: true,
    }
}

/// The standard path properties.
pub(crate) const NODE: Prop = req("node", Kind::Fmt(verify_node));
pub(crate) const VMID: Prop = req("vmid", Kind::Fmt(verify_vmid));
pub(crate) const STORAGE: Prop = req("storage", Kind::Fmt(verify_storage_id));

/// All parameters of one call, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    map: BTreeMap<String, Value>,
}

impl Params {
    /// Body (POST/PUT only; JSON when the content type is `application/json`, else form) merged
    /// with the query string, which wins.
    pub fn from_request(req: &Request) -> Result<Params, PveError> {
        let mut map = BTreeMap::new();
        if req.method == "POST" || req.method == "PUT" {
            let media = req
                .header("content-type")
                .and_then(|ct| ct.split(';').next())
                .map(|ct| ct.trim().to_ascii_lowercase());
            if media.as_deref() == Some("application/json") {
                match serde_json::from_slice::<Value>(&req.body) {
                    Ok(Value::Object(obj)) => map.extend(obj),
                    Ok(_) if req.body.iter().all(u8::is_ascii_whitespace) => {}
                    Ok(other) => {
                        return Err(body_error(format!(
                            "expected a JSON object as request body, got {other}"
                        )))
                    }
                    Err(_) if req.body.iter().all(u8::is_ascii_whitespace) => {}
                    Err(e) => return Err(body_error(format!("malformed JSON string: {e}"))),
                }
            } else {
                for (k, v) in parse_query(&String::from_utf8_lossy(&req.body)) {
                    map.insert(k, Value::String(v));
                }
            }
        }
        for (k, v) in &req.query {
            map.insert(k.clone(), Value::String(v.clone()));
        }
        Ok(Params { map })
    }

    /// Add a parameter taken from the URL path; a different value in the body is an error.
    pub fn insert_path(&mut self, name: &str, value: &str) -> Result<(), PveError> {
        if let Some(existing) = self.map.get(name) {
            if as_text(existing).as_deref() != Some(value) {
                return Err(PveError::param(
                    name,
                    "duplicate parameter (already defined in URI) with conflicting values!",
                ));
            }
        }
        self.map
            .insert(name.to_string(), Value::String(value.to_string()));
        Ok(())
    }

    /// Check against a closed schema (additional properties are refused).
    pub fn check(&self, schema: &[Prop]) -> Result<(), PveError> {
        self.check_with(schema, |_| None)
    }

    /// Check against a schema plus dynamic properties (`extra(name)` gives the kind of a name
    /// outside `schema`, e.g. guest config keys).
    pub fn check_with(
        &self,
        schema: &[Prop],
        extra: impl Fn(&str) -> Option<Kind>,
    ) -> Result<(), PveError> {
        let mut errors = BTreeMap::new();
        for prop in schema {
            match self.map.get(prop.name).filter(|v| !v.is_null()) {
                None if !prop.optional => {
                    errors.insert(
                        prop.name.to_string(),
                        "property is missing and it is not optional".to_string(),
                    );
                }
                None => {}
                Some(value) => {
                    if let Err(e) = check_kind(prop.kind, value) {
                        errors.insert(prop.name.to_string(), e);
                    }
                }
            }
        }
        for (name, value) in &self.map {
            if schema.iter().any(|p| p.name == name) || value.is_null() {
                continue;
            }
            match extra(name) {
                Some(kind) => {
                    if let Err(e) = check_kind(kind, value) {
                        errors.insert(name.clone(), e);
                    }
                }
                None => {
                    errors.insert(
                        name.clone(),
                        "property is not defined in schema and the schema does not allow \
                         additional properties"
                            .to_string(),
                    );
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(PveError::Param(errors))
        }
    }

    /// A parameter as text (numbers converted).
    pub fn str(&self, name: &str) -> Option<String> {
        self.map.get(name).and_then(as_text)
    }

    /// A checked boolean (absent: false).
    pub fn flag(&self, name: &str) -> bool {
        match self.map.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(v) => as_text(v).as_deref() == Some("1"),
            None => false,
        }
    }

    /// A checked integer.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.str(name)
            .and_then(|s| s.trim_start_matches('+').parse().ok())
    }

    /// Every parameter name except those of `schema` (guest config keys of a config update).
    pub fn names_outside(&self, schema: &[Prop]) -> Vec<String> {
        self.map
            .iter()
            .filter(|(k, v)| !v.is_null() && !schema.iter().any(|p| p.name == k.as_str()))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// An undecodable body: Proxmox answers 500 with the error as plain text.
fn body_error(message: String) -> PveError {
    PveError::Bare {
        status: 500,
        reason: message.clone(),
        body: message,
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        _ => None,
    }
}

/// Perl's name for a JSON value that is not a plain scalar.
fn perl_ref(value: &Value) -> Option<&'static str> {
    match value {
        Value::Bool(_) => Some("JSON::PP::Boolean"),
        Value::Array(_) => Some("ARRAY"),
        Value::Object(_) => Some("HASH"),
        _ => None,
    }
}

fn check_kind(kind: Kind, value: &Value) -> Result<(), String> {
    let type_name = match kind {
        Kind::Bool => "boolean",
        Kind::Int => "integer",
        _ => "string",
    };
    if let Value::Bool(_) = value {
        if matches!(kind, Kind::Bool) {
            return Ok(());
        }
    }
    if let Some(r) = perl_ref(value) {
        return Err(format!("type check ('{type_name}') failed - got {r}"));
    }
    let text = as_text(value).unwrap_or_default();
    match kind {
        Kind::Str => Ok(()),
        Kind::Bool => match text.as_str() {
            "1" | "0" => Ok(()),
            _ => Err(format!("type check ('boolean') failed - got '{text}'")),
        },
        Kind::Int => {
            let digits = text.strip_prefix(['+', '-']).unwrap_or(&text);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(format!("type check ('integer') failed - got '{text}'"))
            }
        }
        Kind::Enum(values) => {
            if values.contains(&text.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "value '{text}' does not have a value in the enumeration '{}'",
                    values.join(", ")
                ))
            }
        }
        Kind::Fmt(verify) => verify(&text).map_err(|e| format!("invalid format - {e}")),
    }
}

/// `pve-node`.
pub(crate) fn verify_node(node: &str) -> Result<(), String> {
    let b = node.as_bytes();
    let ok = !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err("value does not look like a valid node name\n".into())
    }
}

/// `pve-vmid`: 100 - 999999999.
pub(crate) fn verify_vmid(vmid: &str) -> Result<(), String> {
    let b = vmid.as_bytes();
    let ok = (3..=9).contains(&b.len()) && b[0] != b'0' && b.iter().all(u8::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err("value does not look like a valid VM ID\n".into())
    }
}

/// `pve-storage-id` (`parse_id`): `^[a-z][a-z0-9\-_.]*[a-z0-9]$`, case-insensitive, 2+ chars.
pub(crate) fn verify_storage_id(id: &str) -> Result<(), String> {
    if id.chars().count() < 2 {
        return Err(format!(
            "storage ID '{id}' cannot be shorter than 2 characters\n"
        ));
    }
    if !is_config_id(id) {
        return Err(format!("storage ID '{id}' contains illegal characters\n"));
    }
    Ok(())
}

/// `^[a-z][a-z0-9\-_.]*[a-z0-9]$` case-insensitive (storage ids, the storage part of a volid).
pub(crate) fn is_config_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// `pve-storage-path`: absolute.
pub(crate) fn verify_path(path: &str) -> Result<(), String> {
    // The Perl regex `^/[^;\(\)]+` is not anchored at the end: only the first character after
    // the slash is checked.
    let ok = path.len() > 1 && path.starts_with('/') && !path[1..].starts_with([';', '(', ')']);
    if ok {
        Ok(())
    } else {
        Err("value does not look like a valid absolute path\n".into())
    }
}

/// `pve-storage-server`: an IP address or a DNS name.
pub(crate) fn verify_server(server: &str) -> Result<(), String> {
    let is_ip = server.parse::<std::net::IpAddr>().is_ok();
    let is_dns = !server.is_empty()
        && server.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if is_ip || is_dns {
        Ok(())
    } else {
        Err("value does not look like a valid server name or IP address\n".into())
    }
}

/// `pve-storage-options`: mount options, any non-whitespace string.
pub(crate) fn verify_options(value: &str) -> Result<(), String> {
    if !value.is_empty() && !value.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(format!("invalid options '{value}'\n"))
    }
}

/// `pve-storage-content-list`.
pub(crate) fn verify_content_list(value: &str) -> Result<(), String> {
    const VALID: [&str; 9] = [
        "images", "rootdir", "vztmpl", "iso", "backup", "snippets", "none", "import", "",
    ];
    for ct in split_list(value) {
        if !VALID.contains(&ct.as_str()) {
            return Err(format!("invalid content type '{ct}'\n"));
        }
    }
    Ok(())
}

/// `pve-node-list`.
pub(crate) fn verify_node_list(value: &str) -> Result<(), String> {
    split_list(value).iter().try_for_each(|n| verify_node(n))
}

/// `PVE::Tools::split_list`: separated by commas, semicolons, whitespace or NUL.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(|c: char| c == ',' || c == ';' || c == '\0' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, Value)]) -> Params {
        Params {
            map: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn booleans_follow_perl_rules() {
        let schema = [opt("todisk", Kind::Bool)];
        assert!(params(&[("todisk", Value::String("1".into()))])
            .check(&schema)
            .is_ok());
        assert!(params(&[("todisk", Value::Bool(true))])
            .check(&schema)
            .is_ok());
        let err = params(&[("todisk", Value::String("true".into()))])
            .check(&schema)
            .unwrap_err();
        assert_eq!(
            err,
            PveError::param("todisk", "type check ('boolean') failed - got 'true'")
        );
    }

    #[test]
    fn unknown_and_missing_properties() {
        let schema = [req("storage", Kind::Fmt(verify_storage_id))];
        let err = params(&[("bogus", Value::String("x".into()))])
            .check(&schema)
            .unwrap_err();
        match err {
            PveError::Param(errors) => {
                assert_eq!(
                    errors["storage"],
                    "property is missing and it is not optional"
                );
                assert!(errors["bogus"].starts_with("property is not defined in schema"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn formats() {
        assert!(verify_storage_id("ONTAP01-CLONE").is_ok());
        assert!(verify_storage_id("a").is_err());
        assert!(verify_storage_id("1abc").is_err());
        assert!(verify_storage_id("abc-").is_err());
        assert!(verify_vmid("100").is_ok());
        assert!(verify_vmid("99").is_err());
        assert!(verify_vmid("0100").is_err());
        assert!(verify_node("pve1").is_ok());
        assert!(verify_node("pve_1").is_err());
        assert!(verify_path("/mnt/pve/x").is_ok());
        assert!(verify_path("relative").is_err());
        assert!(verify_server("127.0.10.1").is_ok());
        assert!(verify_server("nas.example.com").is_ok());
        assert!(verify_server("bad host").is_err());
    }
}
