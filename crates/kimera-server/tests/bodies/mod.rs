//! Request bodies for the fuzz tests (`tests/fuzz.rs`, over HTTP) and the long run of the
//! parsers (`examples/fuzz_bodies.rs`): the same generators for both.

use proptest::prelude::*;
use serde_json::{Value, json};

/// Any JSON value, a few levels deep.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A statement object with each field sometimes right, sometimes anything.
pub fn statement() -> impl Strategy<Value = Value> {
    (
        prop_oneof![".{0,80}".prop_map(Value::String), any_json()],
        prop::option::of(prop_oneof![
            "[a-zA-Z-]{0,20}".prop_map(Value::String),
            any_json()
        ]),
        prop::option::of(prop_oneof![".{0,30}".prop_map(Value::String), any_json()]),
        prop::option::of(("[a-z]{1,8}", any_json())),
    )
        .prop_map(|(text, lang, id, extra)| {
            let mut o = serde_json::Map::new();
            o.insert("text".into(), text);
            if let Some(l) = lang {
                o.insert("lang".into(), l);
            }
            if let Some(i) = id {
                o.insert("id".into(), i);
            }
            if let Some((k, v)) = extra {
                o.insert(k, v);
            }
            Value::Object(o)
        })
}

pub fn statements_body() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            prop::collection::vec(statement(), 0..4).prop_map(Value::Array),
            any_json()
        ],
        prop::option::of(prop_oneof![any::<bool>().prop_map(Value::Bool), any_json()]),
        prop::option::of(prop_oneof![
            (0usize..200).prop_map(|k| json!(k)),
            any_json()
        ]),
    )
        .prop_map(|(st, check, k)| {
            let mut o = serde_json::Map::new();
            o.insert("statements".into(), st);
            if let Some(c) = check {
                o.insert("check".into(), c);
            }
            if let Some(k) = k {
                o.insert("k".into(), k);
            }
            Value::Object(o)
        })
}

pub fn check_body() -> impl Strategy<Value = Value> {
    (
        prop::option::of(prop_oneof![".{0,60}".prop_map(Value::String), any_json()]),
        prop::option::of(prop_oneof![
            prop::collection::vec(".{0,30}".prop_map(Value::String), 0..4).prop_map(Value::Array),
            any_json()
        ]),
        prop::option::of(prop_oneof![
            (0usize..200).prop_map(|k| json!(k)),
            any_json()
        ]),
    )
        .prop_map(|(text, texts, k)| {
            let mut o = serde_json::Map::new();
            for (name, v) in [("text", text), ("texts", texts), ("k", k)] {
                if let Some(v) = v {
                    o.insert(name.into(), v);
                }
            }
            Value::Object(o)
        })
}
