//! The review page in a real browser: Debian's headless chromium driven through
//! WebDriver (chromium-driver + fantoccini). It opens `/`, settles one conflict with a
//! click and another with a key, undoes with `u`, and checks the store through the API
//! each time. Without chromium the test skips with a notice; under CI (`CI=true`) a
//! missing chromium is a failure (`.ci/run` installs it).

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{ClientBuilder, Locator};
use kimera_core::{Geoid, Scar, Source};
use kimera_store::Store;
use serde_json::{Value, json};

/// chromedriver, or `None` (skip) outside CI.
fn chromedriver() -> Option<&'static str> {
    let found = Command::new("chromedriver")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("chromium")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if found {
        return Some("chromedriver");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("chromium and chromium-driver are missing under CI: .ci/run installs them");
    }
    eprintln!("notice: chromium / chromedriver not installed; skipping the browser test");
    None
}

/// A running chromedriver, killed on drop.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver(bin: &str) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let d = Driver(child, port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let c = client();
    while c
        .get(format!("http://127.0.0.1:{port}/status"))
        .send()
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(Instant::now() < deadline, "chromedriver never answered");
        std::thread::yield_now();
    }
    d
}

/// Polls `cond` until true (30 s at most): the page's script calls the API
/// asynchronously after a click or a key.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::task::yield_now().await;
    }
}

/// Polls the page until it shows conflict `id` settled. The page's script marks the card,
/// records it for undo and moves the selection when its own request returns, which can be
/// after the API already shows the resolution: a key sent before that goes to the card
/// that was current.
async fn until_page_settled(browser: &fantoccini::Client, id: i64) {
    let css = format!("article.conflict.settled[data-id=\"{id}\"]");
    let deadline = Instant::now() + Duration::from_secs(30);
    while browser
        .find_all(Locator::Css(&css))
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the page to show conflict {id} settled"
        );
        tokio::task::yield_now().await;
    }
}

#[test]
fn a_click_and_a_key_settle_conflicts_and_u_undoes() {
    let Some(bin) = chromedriver() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    {
        let models = light_models();
        let g: Vec<Geoid> = [
            "The bridge is 300 m long.",
            "The bridge is 450 m long.",
            "The tower is 90 m tall.",
            "The tower is 120 m tall.",
        ]
        .iter()
        .map(|t| Geoid::new(*t, "en", Source::Api))
        .collect();
        let mut s = Store::open(&db).unwrap();
        s.insert_geoids(&g).unwrap();
        kimera_embed::embed_store(&mut s, models.encoder.as_ref(), 16, &|_, _| {}).unwrap();
        let ev = json!({"rule": "numbers", "tokens": ["a", "b"]});
        s.insert_scars(
            &[
                Scar::new(g[0].id.clone(), g[1].id.clone(), 0.9, "lexical", ev.clone()),
                Scar::new(g[2].id.clone(), g[3].id.clone(), 0.8, "lexical", ev),
            ],
            None,
        )
        .unwrap();
    }
    let server = TestServer::start(None, db, light_models(), |_| {});
    let driver = start_driver(bin);
    // the blocking HTTP client may not run on the async runtime's thread: a thread each
    let api = |path: String| -> Value {
        let url = server.url(&path);
        std::thread::spawn(move || get(&url).1).join().unwrap()
    };
    let conflict = |id: i64| -> Value { api(format!("/v1/conflicts/{id}")) };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]}),
        );
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.1))
            .await
            .expect("a WebDriver session");
        browser.goto(&server.url("/")).await.unwrap();
        let cards = browser
            .find_all(Locator::Css("article.conflict"))
            .await
            .unwrap();
        assert_eq!(cards.len(), 2, "two open conflicts on the page");
        let first: i64 = cards[0]
            .attr("data-id")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        let second: i64 = cards[1]
            .attr("data-id")
            .await
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        let open_count = browser.find(Locator::Id("open-count")).await.unwrap();
        assert_eq!(open_count.text().await.unwrap(), "2");

        // a click on "Keep A" of the strongest conflict
        cards[0]
            .find(Locator::Css("button[data-keep=a]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        until("the click's resolution", || {
            conflict(first)["resolution"] == "keep_a"
        })
        .await;
        until_page_settled(&browser, first).await;

        // the key `b` settles the next one (the selection moved to it)
        let keys = |c: char| {
            KeyActions::new("keyboard".into())
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c })
        };
        browser.perform_actions(keys('b')).await.unwrap();
        until("the key's resolution", || {
            conflict(second)["resolution"] == "keep_b"
        })
        .await;
        until_page_settled(&browser, second).await;
        assert_eq!(api("/v1/conflicts".into())["open"], 0);

        // `u` undoes the last one
        browser.perform_actions(keys('u')).await.unwrap();
        until("the undo", || conflict(second)["status"] == "open").await;
        assert_eq!(
            conflict(first)["resolution"],
            "keep_a",
            "only the last is undone"
        );
        browser.close().await.unwrap();
    });
}
