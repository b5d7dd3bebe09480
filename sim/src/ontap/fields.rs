//! Which fields a resource has (per ONTAP version), which `fields=` selection a request asks for,
//! and cutting a full record down to that selection (`*`, `**`, object names, `!exclusions`).

use serde_json::{Map, Value};

use super::errors::ApiError;

/// The fields of one resource type.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Every leaf field (dotted), already limited to the cluster's version.
    pub leaves: Vec<&'static str>,
    /// Prefixes of the leaves that `fields=*` leaves out (ONTAP's "expensive" ones, e.g. `nas.`).
    pub expensive: Vec<&'static str>,
    /// What a collection GET returns without `fields=` (besides `_links`).
    pub defaults: Vec<&'static str>,
    /// The identifying field used for paging (`start.<key>`).
    pub key: &'static str,
    /// Identifying fields returned whatever `fields=` asks for (clients such as netapp-ontap
    /// rely on them to address the record afterwards).
    pub keys: Vec<&'static str>,
}

impl Schema {
    /// A leaf, or an object containing leaves.
    pub fn knows(&self, path: &str) -> bool {
        self.leaves.iter().any(|l| {
            *l == path || (l.starts_with(path) && l.as_bytes().get(path.len()) == Some(&b'.'))
        })
    }

    fn is_expensive(&self, leaf: &str) -> bool {
        self.expensive.iter().any(|e| leaf.starts_with(e))
    }
}

/// The fields a request selected.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    include: Vec<String>,
    exclude: Vec<String>,
}

/// Parse `fields=` (None: the collection default, or every standard field when `all_by_default`).
pub fn select(
    schema: &Schema,
    spec: Option<&str>,
    all_by_default: bool,
) -> Result<Selection, ApiError> {
    let mut sel = Selection {
        include: schema.keys.iter().map(|k| k.to_string()).collect(),
        exclude: Vec::new(),
    };
    let spec = match spec {
        Some(s) => s.to_string(),
        None if all_by_default => "*".to_string(),
        None => schema.defaults.join(","),
    };
    for f in spec.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        match f {
            "*" => sel.include.extend(
                schema
                    .leaves
                    .iter()
                    .filter(|l| !schema.is_expensive(l))
                    .map(|l| l.to_string()),
            ),
            "**" => sel
                .include
                .extend(schema.leaves.iter().map(|l| l.to_string())),
            "_links" => {}
            _ => {
                let (exclude, name) = match f.strip_prefix('!') {
                    Some(n) => (true, n),
                    None => (false, f),
                };
                if !schema.knows(name) {
                    return Err(ApiError::new(
                        400,
                        262179,
                        format!("Unexpected argument \"{name}\" in \"fields\"."),
                    )
                    .with_target("fields"));
                }
                if exclude {
                    sel.exclude.push(name.to_string());
                } else {
                    sel.include.push(name.to_string());
                }
            }
        }
    }
    Ok(sel)
}

/// The value at a dotted path.
pub fn get_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, part| cur.get(part))
}

fn set_path(out: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            out.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            let entry = out
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(m) = entry {
                set_path(m, rest, v);
            }
        }
    }
}

fn remove_path(out: &mut Map<String, Value>, path: &str) {
    match path.split_once('.') {
        None => {
            out.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Value::Object(m)) = out.get_mut(head) {
                remove_path(m, rest);
                if m.is_empty() {
                    out.remove(head);
                }
            }
        }
    }
}

/// Cut a full record down to the selection (plus its `_links`).
pub fn project(full: &Value, sel: &Selection) -> Value {
    let mut out = Map::new();
    for path in &sel.include {
        if let Some(v) = get_path(full, path) {
            set_path(&mut out, path, v.clone());
        }
    }
    for path in &sel.exclude {
        remove_path(&mut out, path);
    }
    if let Some(links) = full.get("_links") {
        out.insert("_links".into(), links.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema {
            leaves: vec![
                "name",
                "uuid",
                "nas.path",
                "nas.export_policy.name",
                "space.size",
            ],
            expensive: vec!["nas."],
            defaults: vec!["name", "uuid"],
            key: "uuid",
            keys: vec!["uuid"],
        }
    }

    #[test]
    fn selects_and_projects() {
        let full = json!({"name": "v", "uuid": "u", "nas": {"path": "/v", "export_policy": {"name": "p"}},
                          "space": {"size": 5}, "_links": {"self": {"href": "/x"}}});
        let s = schema();
        let p = project(&full, &select(&s, None, false).unwrap());
        assert_eq!(
            p,
            json!({"name": "v", "uuid": "u", "_links": {"self": {"href": "/x"}}})
        );
        let p = project(&full, &select(&s, Some("nas.path,space"), false).unwrap());
        assert_eq!(p["nas"], json!({"path": "/v"}));
        assert_eq!(p["space"]["size"], 5);
        assert_eq!(p["uuid"], "u", "keys always come back");
        assert!(p.get("name").is_none());
        let p = project(&full, &select(&s, Some("*"), false).unwrap());
        assert!(p.get("nas").is_none());
        let p = project(&full, &select(&s, Some("**,!nas.path"), false).unwrap());
        assert_eq!(p["nas"], json!({"export_policy": {"name": "p"}}));
        let e = select(&s, Some("name,bogus"), false).unwrap_err();
        assert_eq!((e.status, e.code), (400, 262179));
        assert!(e.message.contains("bogus"));
        assert!(select(&s, Some("nas"), false).is_ok());
        assert!(select(&s, Some("na"), false).is_err());
    }
}
