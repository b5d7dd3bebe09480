//! Collection GETs: field filters, `order_by`, `max_records` paging with `_links.next`
//! (`start.<key>` continuation), `return_records=false` counts, and the `records` envelope.

use std::cmp::Ordering;

use serde_json::{json, Value};

use super::clock::parse_time;
use super::errors::ApiError;
use super::fields::{self, get_path, Schema};
use super::filter;
use super::params::Query;

/// Percent-encode a query component (keeps unreserved characters and `*,/:!`).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~*,/:!".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k=v&...` from decoded pairs.
pub fn href(path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let q: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{path}?{}", q.join("&"))
}

fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => match (parse_time(x), parse_time(y)) {
            (Some(tx), Some(ty)) => tx.cmp(&ty),
            _ => x.cmp(y),
        },
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

fn key_text(r: &Value, key: &str) -> Option<String> {
    match get_path(r, key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_order_by(schema: &Schema, spec: &str) -> Result<Vec<(String, bool)>, ApiError> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let mut parts = item.split_whitespace();
            let field = parts.next().unwrap_or_default();
            let desc = match parts.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                Some(other) => {
                    return Err(ApiError::invalid_value("order_by", other, "asc or desc"));
                }
            };
            if !schema.leaves.contains(&field) {
                return Err(ApiError::invalid_value(
                    "order_by",
                    field,
                    "not a field of this collection",
                )
                .with_target("order_by"));
            }
            Ok((field.to_string(), desc))
        })
        .collect()
}

/// Apply what is left of an instance GET's query to its record: every other parameter must be a
/// field of the resource and acts as a filter, and a record that does not match is not found
/// (`404`, code `4`), as on a collection. netapp-ontap relies on it: `post(hydrate=True)` reads
/// the new record with the query of the `Location` header (`?name=X`) added to `fields=*`
/// (resource.py `_set_keys_from_location` keeps it in `_required_queries`, `_get` sends it).
pub fn instance(q: &mut Query, schema: &Schema, record: &Value) -> Result<(), ApiError> {
    for (k, v) in q.remaining() {
        if !schema.leaves.contains(&k.as_str()) {
            return Err(ApiError::unexpected_argument(&k));
        }
        if !filter::matches(&filter::parse(&v), get_path(record, &k)) {
            return Err(ApiError::entry_not_found());
        }
    }
    q.take_all();
    Ok(())
}

/// Serve a collection GET over full records (every field present). The caller has already taken
/// its endpoint-specific query parameters; every other parameter must be a standard one or a
/// field filter.
pub fn collection(
    q: &mut Query,
    schema: &Schema,
    base: &str,
    records: Vec<Value>,
) -> Result<Value, ApiError> {
    let all_pairs = q.all().to_vec();
    let start_param = format!("start.{}", schema.key);
    let fields_spec = q.take("fields");
    let selection = fields::select(schema, fields_spec.as_deref(), false)?;
    let max_records = q.take_u64("max_records", 1, u64::MAX)?;
    let return_records = q.take_bool("return_records")?.unwrap_or(true);
    q.take_u64("return_timeout", 0, 120)?;
    let order_by = q
        .take("order_by")
        .map(|s| parse_order_by(schema, &s))
        .transpose()?
        .unwrap_or_default();
    let start = q.take(&start_param);

    let mut filters = Vec::new();
    for (k, v) in q.remaining() {
        if !schema.leaves.contains(&k.as_str()) {
            return Err(ApiError::unexpected_argument(&k));
        }
        filters.push((k, filter::parse(&v)));
    }
    q.take_all();

    let mut records: Vec<Value> = records
        .into_iter()
        .filter(|r| {
            filters
                .iter()
                .all(|(k, alts)| filter::matches(alts, get_path(r, k)))
        })
        .collect();
    for (field, desc) in order_by.iter().rev() {
        records.sort_by(|a, b| {
            let o = cmp_values(get_path(a, field), get_path(b, field));
            if *desc {
                o.reverse()
            } else {
                o
            }
        });
    }

    let self_link = json!({"self": {"href": href(base, &all_pairs)}});
    if !return_records {
        return Ok(json!({"num_records": records.len(), "_links": self_link}));
    }

    let begin = match &start {
        None => 0,
        Some(token) => records
            .iter()
            .position(|r| key_text(r, schema.key).as_deref() == Some(token.as_str()))
            .unwrap_or(records.len()),
    };
    let end = match max_records {
        Some(n) => begin
            .saturating_add(usize::try_from(n).unwrap_or(usize::MAX))
            .min(records.len()),
        None => records.len(),
    };
    let mut links = self_link;
    if end < records.len() {
        if let Some(next_key) = key_text(&records[end], schema.key) {
            let mut pairs: Vec<(String, String)> = all_pairs
                .iter()
                .filter(|(k, _)| *k != start_param)
                .cloned()
                .collect();
            pairs.push((start_param.clone(), next_key));
            links["next"] = json!({"href": href(base, &pairs)});
        }
    }
    let page: Vec<Value> = records[begin..end]
        .iter()
        .map(|r| fields::project(r, &selection))
        .collect();
    Ok(json!({"records": page, "num_records": end - begin, "_links": links}))
}
