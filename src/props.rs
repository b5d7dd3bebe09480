//! Strategies shared by the property tests (`#[cfg(test)] mod props` blocks of the parsers):
//! arbitrary JSON values, API answers and text. Built only for tests.

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::http::Response;

/// Any JSON value (integers, strings with any characters, nesting up to a few levels).
pub(crate) fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z0-9 _.:-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Object keys: mostly the names the decoders look for, sometimes anything.
pub(crate) fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "data", "message", "errors", "error", "code", "target", "job", "uuid", "state",
            "status", "exitstatus", "records", "_links", "next", "href", "name", "svm", "nas",
            "path", "version", "generation", "major", "minor", "size", "owners", "create_time",
        ])
        .prop_map(str::to_string),
        1 => any::<String>(),
    ]
}

/// JSON without floats (serde_json round-trips these exactly).
pub(crate) fn exact_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An answer body: arbitrary bytes, arbitrary text, or serialised JSON.
pub(crate) fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        any::<String>().prop_map(String::into_bytes),
        json().prop_map(|v| v.to_string().into_bytes()),
    ]
}

/// Any answer: status 100..=599, any reason, any body.
pub(crate) fn response() -> impl Strategy<Value = Response> {
    (100u16..600, any::<String>(), body()).prop_map(|(status, reason, body)| Response {
        status,
        reason,
        headers: Vec::new(),
        body,
    })
}

/// An answer with this status, reason and JSON body.
pub(crate) fn answer(status: u16, reason: &str, body: &Value) -> Response {
    Response {
        status,
        reason: reason.to_string(),
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
    }
}

/// One line of visible text with no surrounding whitespace (a message, a reason phrase).
pub(crate) fn line() -> impl Strategy<Value = String> {
    "[!-~\u{a1}-\u{167f}]([ -~\u{a1}-\u{167f}]{0,40}[!-~\u{a1}-\u{167f}])?"
}
