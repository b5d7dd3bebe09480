//! Request inputs as handlers consume them: query parameters and JSON bodies (nested or dotted
//! keys) taken one by one, so whatever is left over is rejected as an unexpected argument (262179).

use std::collections::BTreeMap;

use serde_json::Value;

use super::errors::ApiError;
use crate::http::Request;

/// Query parameters, each taken at most once; the rest are unknown.
#[derive(Debug, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
    used: Vec<bool>,
}

pub fn parse_bool(name: &str, v: &str) -> Result<bool, ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid_value(name, v, "expected true or false")),
    }
}

impl Query {
    /// The request's parameters; repeated `fields=` parameters are one list (`requests` encodes a
    /// list value as `fields=a&fields=b`, and the netapp.ontap Ansible collection passes `fields`
    /// as a list: netapp.py `get_ontap_version_using_rest`). How ONTAP combines them is not
    /// documented: taking the union is a guess (sim/README.md).
    pub fn new(req: &Request) -> Query {
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(req.query.len());
        for (k, v) in &req.query {
            match pairs
                .iter_mut()
                .find(|(pk, _)| pk == "fields" && k == "fields")
            {
                Some((_, joined)) => {
                    joined.push(',');
                    joined.push_str(v);
                }
                None => pairs.push((k.clone(), v.clone())),
            }
        }
        Query {
            used: vec![false; pairs.len()],
            pairs,
        }
    }

    /// Take a parameter (the last one wins when repeated).
    pub fn take(&mut self, name: &str) -> Option<String> {
        let mut out = None;
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if k == name {
                self.used[i] = true;
                out = Some(v.clone());
            }
        }
        out
    }

    /// Add a filter the server imposes (an SVM-scoped account's own SVM).
    pub fn push(&mut self, name: &str, value: &str) {
        self.pairs.push((name.to_string(), value.to_string()));
        self.used.push(false);
    }

    pub fn take_bool(&mut self, name: &str) -> Result<Option<bool>, ApiError> {
        self.take(name).map(|v| parse_bool(name, &v)).transpose()
    }

    pub fn take_u64(&mut self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        let Some(v) = self.take(name) else {
            return Ok(None);
        };
        match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::invalid_value(
                name,
                &v,
                &format!("an integer from {min} to {max}"),
            )),
        }
    }

    /// `return_timeout` (0..120 s; default 0).
    pub fn return_timeout(&mut self) -> Result<u64, ApiError> {
        Ok(self.take_u64("return_timeout", 0, 120)?.unwrap_or(0))
    }

    /// Parameters not taken yet, in order.
    pub fn remaining(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Mark every remaining parameter as taken.
    pub fn take_all(&mut self) {
        self.used.iter_mut().for_each(|u| *u = true);
    }

    /// Every pair as received (for `_links.next`).
    pub fn all(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Fail on the first parameter nobody took.
    pub fn finish(&self) -> Result<(), ApiError> {
        match self.remaining().first() {
            Some((k, _)) => Err(ApiError::unexpected_argument(k)),
            None => Ok(()),
        }
    }
}

/// A JSON object body flattened to dotted leaf keys (`{"nas":{"path":"/x"}}` and
/// `{"nas.path":"/x"}` are the same); arrays and nulls are leaves.
#[derive(Debug, Clone, Default)]
pub struct Body {
    fields: BTreeMap<String, Value>,
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Body {
    /// Parse the request body (empty: no fields). Not JSON or not an object → 262199.
    pub fn parse(req: &Request) -> Result<Body, ApiError> {
        match req.json_body() {
            Ok(None) => Ok(Body::default()),
            Ok(Some(v @ Value::Object(_))) => {
                let mut fields = BTreeMap::new();
                flatten("", &v, &mut fields);
                Ok(Body { fields })
            }
            Ok(Some(_)) => Err(ApiError::invalid_json("the body must be a JSON object")),
            Err(e) => Err(ApiError::invalid_json(&e)),
        }
    }

    #[cfg(test)]
    pub fn from_value(v: &Value) -> Body {
        let mut fields = BTreeMap::new();
        flatten("", v, &mut fields);
        Body { fields }
    }

    pub fn keys(&self) -> Vec<String> {
        self.fields.keys().cloned().collect()
    }

    pub fn take(&mut self, key: &str) -> Option<Value> {
        self.fields.remove(key)
    }

    /// A string field (null counts as absent).
    pub fn take_str(&mut self, key: &str) -> Result<Option<String>, ApiError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(ApiError::invalid_value(
                key,
                &describe(&v),
                "expected a string",
            )),
        }
    }

    /// A string field where null means "clear": `None` absent, `Some(None)` null.
    pub fn take_nullable_str(&mut self, key: &str) -> Result<Option<Option<String>>, ApiError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(v) => Err(ApiError::invalid_value(
                key,
                &describe(&v),
                "expected a string",
            )),
        }
    }

    /// A boolean field (`true`/`false`, also as strings).
    pub fn take_bool(&mut self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.take(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::String(s)) => parse_bool(key, &s).map(Some),
            Some(v) => Err(ApiError::invalid_value(
                key,
                &describe(&v),
                "expected true or false",
            )),
        }
    }

    /// Fail on the first field nobody took.
    pub fn finish(&self) -> Result<(), ApiError> {
        match self.fields.keys().next() {
            Some(k) => Err(ApiError::unexpected_argument(k)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_dotted_keys_are_the_same() {
        let mut b =
            Body::from_value(&json!({"nas": {"path": "/x"}, "restore_to.snapshot.name": "s"}));
        assert_eq!(b.take_str("nas.path").unwrap().as_deref(), Some("/x"));
        assert_eq!(
            b.take_str("restore_to.snapshot.name").unwrap().as_deref(),
            Some("s")
        );
        assert!(b.finish().is_ok());
        let b = Body::from_value(&json!({"bogus": {"x": 1}}));
        assert_eq!(b.finish().unwrap_err().target.as_deref(), Some("bogus.x"));
    }

    #[test]
    fn repeated_fields_are_one_list() {
        let req = Request {
            query: vec![
                ("fields".into(), "name".into()),
                ("name".into(), "a".into()),
                ("fields".into(), "owners".into()),
            ],
            ..Default::default()
        };
        let mut q = Query::new(&req);
        assert_eq!(q.take("fields").as_deref(), Some("name,owners"));
        assert_eq!(q.take("name").as_deref(), Some("a"));
        assert!(q.finish().is_ok());
    }

    #[test]
    fn query_leftovers_are_rejected() {
        let req = Request {
            query: vec![
                ("fields".into(), "name".into()),
                ("frobnicate".into(), "1".into()),
            ],
            ..Default::default()
        };
        let mut q = Query::new(&req);
        assert_eq!(q.take("fields").as_deref(), Some("name"));
        let e = q.finish().unwrap_err();
        assert_eq!((e.status, e.code), (400, 262179));
        assert!(e.message.contains("frobnicate"));
    }
}
