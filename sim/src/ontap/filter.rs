//! ONTAP query filter values (`name=vol*`, `a|b`, `!x`, `null`, `<5`, `1..9`, `"lit*"`, `{a|b}`)
//! and how a record field matches them (strings case-insensitively, sizes and times by value).

use std::cmp::Ordering;

use serde_json::Value;

use super::clock::parse_time;
use super::scenario::parse_size;

#[derive(Debug, Clone, PartialEq)]
enum Pat {
    Null,
    Eq(String),
    Wild(String),
    Cmp(Ordering, bool, String),
    Range(String, String),
}

/// One alternative of an OR list.
#[derive(Debug, Clone, PartialEq)]
pub struct Alt {
    negate: bool,
    pat: Pat,
}

/// Split on `|` outside double quotes and braces.
fn split_alternatives(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut braces) = (false, 0usize);
    for c in raw.chars() {
        match c {
            '"' if braces == 0 => quoted = !quoted,
            '{' if !quoted => braces += 1,
            '}' if !quoted && braces > 0 => braces -= 1,
            '|' if !quoted && braces == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn parse_alt(s: &str) -> Alt {
    let (negate, s) = match s.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let quoted = s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('{') && s.ends_with('}')));
    let pat = if quoted {
        Pat::Eq(s[1..s.len() - 1].to_string())
    } else if s.eq_ignore_ascii_case("null") {
        Pat::Null
    } else if let Some(v) = s.strip_prefix("<=") {
        Pat::Cmp(Ordering::Less, true, v.to_string())
    } else if let Some(v) = s.strip_prefix(">=") {
        Pat::Cmp(Ordering::Greater, true, v.to_string())
    } else if let Some(v) = s.strip_prefix('<') {
        Pat::Cmp(Ordering::Less, false, v.to_string())
    } else if let Some(v) = s.strip_prefix('>') {
        Pat::Cmp(Ordering::Greater, false, v.to_string())
    } else if let Some((a, b)) = s
        .split_once("..")
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
    {
        Pat::Range(a.to_string(), b.to_string())
    } else if s.contains('*') {
        Pat::Wild(s.to_string())
    } else {
        Pat::Eq(s.to_string())
    };
    Alt { negate, pat }
}

/// Parse a filter value into its alternatives.
pub fn parse(raw: &str) -> Vec<Alt> {
    split_alternatives(raw)
        .iter()
        .map(|s| parse_alt(s))
        .collect()
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn glob(pat: &str, text: &str) -> bool {
    let pat: Vec<char> = pat.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pat.len() && pat[p] != '*' && pat[p] == text[t] {
            p += 1;
            t += 1;
        } else if p < pat.len() && pat[p] == '*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    pat[p..].iter().all(|c| *c == '*')
}

/// Compare a record value with a filter operand: numbers (and sizes with suffixes), times,
/// then case-insensitive text.
fn compare(v: &Value, operand: &str) -> Option<Ordering> {
    if let Value::Number(n) = v {
        let rhs = parse_size(operand)
            .map(|x| x as f64)
            .or_else(|| operand.parse::<f64>().ok())?;
        return n.as_f64()?.partial_cmp(&rhs);
    }
    let text = scalar_text(v)?;
    if let (Some(a), Some(b)) = (parse_time(&text), parse_time(operand)) {
        return Some(a.cmp(&b));
    }
    Some(text.to_lowercase().cmp(&operand.to_lowercase()))
}

fn scalar_matches(pat: &Pat, v: &Value) -> bool {
    match pat {
        Pat::Null => false,
        Pat::Eq(s) => compare(v, s) == Some(Ordering::Equal),
        Pat::Wild(p) => scalar_text(v).is_some_and(|t| glob(p, &t)),
        Pat::Cmp(ord, or_equal, s) => match compare(v, s) {
            Some(Ordering::Equal) => *or_equal,
            Some(o) => o == *ord,
            None => false,
        },
        Pat::Range(a, b) => {
            matches!(compare(v, a), Some(Ordering::Greater | Ordering::Equal))
                && matches!(compare(v, b), Some(Ordering::Less | Ordering::Equal))
        }
    }
}

fn alt_matches(alt: &Alt, v: Option<&Value>) -> bool {
    let positive = match v {
        None | Some(Value::Null) => alt.pat == Pat::Null,
        Some(Value::Array(items)) if items.is_empty() => alt.pat == Pat::Null,
        Some(Value::Array(items)) => items.iter().any(|i| scalar_matches(&alt.pat, i)),
        Some(v) => scalar_matches(&alt.pat, v),
    };
    positive != alt.negate
}

/// Whether a field value (None: unset) matches any alternative.
pub fn matches(alts: &[Alt], v: Option<&Value>) -> bool {
    alts.iter().any(|a| alt_matches(a, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(filter: &str, v: Value) -> bool {
        matches(&parse(filter), Some(&v))
    }

    #[test]
    fn operators() {
        assert!(m("ONTAP*", json!("ontap01")));
        assert!(m("*store2", json!("pve_vmstore2")));
        assert!(!m("*store2", json!("pve_nested")));
        assert!(m("a|b|pve_nested", json!("pve_nested")));
        assert!(m("!a", json!("b")));
        assert!(!m("!b", json!("b")));
        assert!(m("\"joe*\"", json!("joe*")));
        assert!(!m("\"joe*\"", json!("joey")));
        assert!(m("{a|b}", json!("a|b")));
        assert!(m("true", json!(true)));
        assert!(m(">1GB", json!(2u64 << 30)));
        assert!(m("<=10", json!(10)));
        assert!(m("5..9", json!(7)));
        assert!(!m("5..9", json!(10)));
        assert!(m(
            ">2024-01-01T00:00:00Z",
            json!("2024-03-13T14:42:47+00:00")
        ));
        assert!(m("volume_clone", json!(["snapmirror", "volume_clone"])));
        assert!(m("!volume_clone", json!(["snapmirror"])));
        assert!(matches(&parse("null"), None));
        assert!(!matches(&parse("!null"), None));
        assert!(!matches(&parse("/x"), None));
        assert!(m("/ONTAP01", json!("/ontap01")));
    }
}
