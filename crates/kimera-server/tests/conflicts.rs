//! Conflicts through the API on a real server: list, resolve, undo, errors, a
//! superseded statement left out of `check` and `similar` until `as_of` looks back or
//! the resolution is undone, and a resolution that survives a restart. The hash encoder
//! and the lexical rules stand in for the model (the behaviour under test is the
//! store's and the server's, not the model's).

mod common;

use common::*;
use kimera_core::{Geoid, Scar, Source};
use kimera_store::Store;
use serde_json::{Value, json};

/// 2020-01-01T00:00:00Z: when the statements were recorded.
const T2020: i64 = 1_577_836_800;

/// A store with two statements in conflict (two detectors) and a bystander, embedded.
fn store(db: &std::path::Path) -> (Geoid, Geoid) {
    let models = light_models();
    let mut g = [
        Geoid::new("The bridge is 300 m long.", "en", Source::Api),
        Geoid::new("The bridge is 450 m long.", "en", Source::Api),
        Geoid::new("Water boils at 100 degrees.", "en", Source::Api),
    ];
    for x in &mut g {
        x.created_at = T2020;
    }
    if g[0].id > g[1].id {
        g.swap(0, 1); // name them as the conflict does (a < b)
    }
    let mut s = Store::open(db).unwrap();
    s.insert_geoids(&g).unwrap();
    kimera_embed::embed_store(&mut s, models.encoder.as_ref(), 16, &|_, _| {}).unwrap();
    s.insert_scars(
        &[
            Scar::new(
                g[0].id.clone(),
                g[1].id.clone(),
                0.9,
                "lexical",
                json!({"rule": "numbers", "tokens": ["300", "450"]}),
            ),
            Scar::new(
                g[0].id.clone(),
                g[1].id.clone(),
                0.8,
                "model",
                json!({"rule": "model", "route": "head", "probability": 0.8}),
            ),
        ],
        None,
    )
    .unwrap();
    (g[0].clone(), g[1].clone())
}

fn ids(v: &Value, list: &str, field: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn resolve_supersedes_for_check_and_similar_as_of_looks_back_undo_restores_and_it_survives_a_restart()
 {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let (a, b) = store(&db);
    let s = TestServer::start(None, db.clone(), light_models(), |_| {});

    let (status, page) = get(&s.url("/v1/conflicts"));
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["open"], 1);
    let c = &page["conflicts"][0];
    assert_eq!(
        (c["type"].as_str(), c["status"].as_str()),
        (Some("number"), Some("open"))
    );
    assert_eq!(
        c["verdicts"].as_array().unwrap().len(),
        2,
        "both detectors: {c}"
    );
    let id = c["id"].as_i64().unwrap();
    assert_eq!(
        get(&s.url(&format!("/v1/conflicts/{id}"))).1["a"],
        a.id.as_str()
    );

    let similar = |extra: &str| {
        let (st, v) = get(&s.url(&format!("/v1/similar?text=bridge%20length&k=3{extra}")));
        assert_eq!(st, 200, "{v}");
        ids(&v, "results", "id")
    };
    let check = |body: Value| {
        let (st, v) = post(&s.url("/v1/check"), &body);
        assert_eq!(st, 200, "{v}");
        ids(&v["results"][0], "contradictions", "id")
    };
    let asks = json!({"text": "The bridge is 700 m long.", "lang": "en"});
    assert!(similar("").contains(&a.id.0));
    assert!(
        check(asks.clone()).contains(&a.id.0),
        "the numbers rule finds both"
    );

    // bad requests first: nothing changes
    assert_error(
        &post(
            &s.url(&format!("/v1/conflicts/{id}/resolve")),
            &json!({"keep": "c"}),
        ),
        422,
        "invalid_field",
        Some("keep"),
    );
    assert_error(
        &post(&s.url("/v1/conflicts/999/resolve"), &json!({"keep": "a"})),
        404,
        "not_found",
        None,
    );
    assert_error(
        &post(&s.url(&format!("/v1/conflicts/{id}/undo")), &json!({})),
        409,
        "conflict",
        None,
    );
    assert_error(
        &get(&s.url("/v1/conflicts?type=numbr")),
        422,
        "invalid_field",
        Some("type"),
    );

    // keep b: a is superseded
    let (st, r) = post(
        &s.url(&format!("/v1/conflicts/{id}/resolve")),
        &json!({"keep": "b", "note": "newer survey"}),
    );
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (
            r["resolution"].as_str(),
            r["decided_by"].as_str(),
            r["note"].as_str()
        ),
        (Some("keep_b"), Some("api"), Some("newer survey"))
    );
    assert_error(
        &post(
            &s.url(&format!("/v1/conflicts/{id}/resolve")),
            &json!({"keep": "a"}),
        ),
        409,
        "conflict",
        None,
    );
    assert_eq!(get(&s.url("/v1/conflicts")).1["open"], 0);
    assert_eq!(
        get(&s.url("/v1/conflicts?status=resolved")).1["conflicts"][0]["id"],
        id
    );
    assert!(!similar("").contains(&a.id.0));
    assert_eq!(
        similar("").len(),
        2,
        "k = 3 with one hidden leaves the other two"
    );
    assert!(!check(asks.clone()).contains(&a.id.0));
    assert!(similar("&as_of=2021-01-01").contains(&a.id.0));
    let mut back = asks.clone();
    back["as_of"] = json!("2021-01-01");
    assert!(check(back).contains(&a.id.0));
    assert_error(
        &get(&s.url("/v1/similar?text=x&as_of=someday")),
        422,
        "invalid_field",
        Some("as_of"),
    );
    // the statement's page: superseded by b, and the history on both sides
    let (_, detail) = get(&s.url(&format!("/v1/statements/{}", a.id)));
    assert_eq!(detail["superseded_by"], b.id.as_str());
    assert_eq!(detail["history"][0]["resolution"], "keep_b");
    let (_, winner) = get(&s.url(&format!("/v1/statements/{}", b.id)));
    assert_eq!(winner["history"][0]["superseded"], a.id.as_str());

    // a restart reads the resolution back from the store
    let (ran, _) = s.stop();
    ran.unwrap();
    let s = TestServer::start(None, db.clone(), light_models(), |_| {});
    let similar = |extra: &str| {
        let (st, v) = get(&s.url(&format!("/v1/similar?text=bridge%20length&k=3{extra}")));
        assert_eq!(st, 200, "{v}");
        ids(&v, "results", "id")
    };
    assert!(
        !similar("").contains(&a.id.0),
        "still superseded after a restart"
    );
    assert_eq!(
        get(&s.url(&format!("/v1/conflicts/{id}"))).1["resolution"],
        "keep_b"
    );

    // undo: open again, a is found again
    let (st, r) = post(&s.url(&format!("/v1/conflicts/{id}/undo")), &json!({}));
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        (r["status"].as_str(), r["resolution"].as_str()),
        (Some("open"), None)
    );
    assert!(similar("").contains(&a.id.0));
    let (_, detail) = get(&s.url(&format!("/v1/statements/{}", a.id)));
    assert!(detail["superseded_by"].is_null());
    assert!(detail["history"][0]["undone_at"].is_i64());
}

#[test]
fn a_read_only_token_may_list_but_not_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    store(&db);
    let s = TestServer::start(None, db, light_models(), |cfg| {
        let mut t = kimera_server::Tokens::default();
        t.add("reader-token-0123456789", kimera_server::Scope::ReadOnly)
            .unwrap();
        cfg.tokens = t;
    });
    let c = client();
    let list = c
        .get(s.url("/v1/conflicts"))
        .bearer_auth("reader-token-0123456789")
        .send()
        .unwrap();
    assert_eq!(list.status(), 200);
    let id = list.json::<Value>().unwrap()["conflicts"][0]["id"]
        .as_i64()
        .unwrap();
    let r = c
        .post(s.url(&format!("/v1/conflicts/{id}/resolve")))
        .bearer_auth("reader-token-0123456789")
        .json(&json!({"keep": "a"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let auto = c
        .post(s.url("/v1/conflicts/resolve-auto"))
        .bearer_auth("reader-token-0123456789")
        .json(&json!({"strategy": "recency"}))
        .send()
        .unwrap();
    assert_eq!(auto.status(), 403);
    let auto = c
        .post(s.url("/v1/conflicts/resolve-auto"))
        .json(&json!({"strategy": "recency"}))
        .send()
        .unwrap();
    assert_eq!(auto.status(), 401);
    assert_eq!(
        Store::open(&s.db).unwrap().count_conflicts(None).unwrap(),
        Store::open(&s.db)
            .unwrap()
            .count_conflicts(Some(kimera_store::ConflictStatus::Open))
            .unwrap(),
        "nothing was settled"
    );
    let anonymous = c.get(s.url("/v1/conflicts")).send().unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// `POST /v1/conflicts/resolve-auto`: the server's strategy unless the request names
/// one, a dry run that writes nothing, the decisions as `kimera resolve --auto --json`
/// gives them, and the loser left out of reads at once.
#[test]
fn resolve_auto_settles_by_the_server_s_strategy_or_the_request_s() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let (a, b) = store(&db);
    // b recorded a day later: recency keeps b
    Store::open(&db)
        .unwrap()
        .conn()
        .execute(
            "UPDATE geoids SET created_at = ?2 WHERE id = ?1",
            rusqlite::params![b.id.as_str(), T2020 + 86_400],
        )
        .unwrap();
    let s = TestServer::start(None, db.clone(), light_models(), |cfg| {
        cfg.resolve =
            kimera_core::settle::StrategyConfig::new(kimera_core::settle::Strategy::Recency);
    });
    let url = s.url("/v1/conflicts/resolve-auto");
    let similar = || {
        let (st, v) = get(&s.url("/v1/similar?text=bridge%20length&k=3"));
        assert_eq!(st, 200, "{v}");
        ids(&v, "results", "id")
    };
    assert!(similar().contains(&a.id.0));

    assert_error(
        &post(&url, &json!({"strategy": "recncy"})),
        422,
        "invalid_field",
        Some("strategy"),
    );
    assert_error(
        &post(&url, &json!({"dry_run": "yes"})),
        422,
        "invalid_field",
        Some("dry_run"),
    );
    let (st, manual) = post(&url, &json!({"strategy": "manual"}));
    assert_eq!(st, 200, "{manual}");
    assert_eq!(
        (manual["examined"].as_u64(), manual["resolved"].as_u64()),
        (Some(1), Some(0))
    );
    // the server's strategy (recency), as a dry run: decided, not written
    let (st, dry) = post(&url, &json!({"dry_run": true}));
    assert_eq!(st, 200, "{dry}");
    assert_eq!(
        (
            dry["strategy"].as_str(),
            dry["dry_run"].as_bool(),
            dry["resolved"].as_u64(),
            dry["left_open"].as_u64()
        ),
        (Some("recency"), Some(true), Some(1), Some(0))
    );
    assert_eq!(dry["by_resolution"], json!({"keep_b": 1}));
    assert_eq!(dry["sample"][0]["resolution"], "keep_b");
    assert!(dry["sample"][0]["why"].as_str().unwrap().contains("later"));
    assert_eq!(get(&s.url("/v1/conflicts")).1["open"], 1);
    // the same answer the library (and so `kimera resolve --auto --json`) gives
    let lib = serde_json::to_value(
        Store::open(&db)
            .unwrap()
            .auto_resolve(
                &kimera_core::settle::StrategyConfig::new(kimera_core::settle::Strategy::Recency),
                true,
                0,
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(dry, lib);

    // for real: settled, durable, and a is out of default reads at once
    let (st, done) = post(&url, &json!({}));
    assert_eq!(st, 200, "{done}");
    assert_eq!(
        (done["dry_run"].as_bool(), done["resolved"].as_u64()),
        (Some(false), Some(1))
    );
    let (_, resolved) = get(&s.url("/v1/conflicts?status=resolved"));
    let c = &resolved["conflicts"][0];
    assert_eq!(
        (c["resolution"].as_str(), c["decided_by"].as_str()),
        (Some("keep_b"), Some("strategy:recency"))
    );
    assert!(c["inputs"]["why"].is_string(), "{c}");
    assert!(!similar().contains(&a.id.0));
    let state = Store::open(&db)
        .unwrap()
        .statement_state(&a.id)
        .unwrap()
        .unwrap();
    assert_eq!(state.superseded_by.as_ref(), Some(&b.id));
    // nothing left to settle
    let (_, again) = post(&url, &json!({}));
    assert_eq!(
        (again["examined"].as_u64(), again["resolved"].as_u64()),
        (Some(0), Some(0))
    );
}
