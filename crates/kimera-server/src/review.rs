//! The review page: open conflicts strongest first, the two statements side by side with
//! their sources and the evidence in plain words, buttons and keys to settle each; and a
//! statement's page with its history. Server-rendered HTML with a little plain
//! JavaScript (inline, no build step); without JavaScript the buttons are forms that
//! post and come back.
//!
//! Access is the API's: with tokens configured, a browser opens `/?token=TOKEN` once;
//! the server answers with an `HttpOnly`, `SameSite=Strict` cookie holding the token
//! and a redirect to the same page without it, and every later request (the page and
//! the API calls its script makes) is authenticated by the cookie. `SameSite=Strict`
//! keeps other sites' forms from posting with it.

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use crate::api::{ConflictOut, ConflictsIn, ResolveIn, StatementDetail};
use crate::auth::Scope;
use crate::http::AppState;

/// The cookie a browser keeps its token in.
pub const COOKIE: &str = "kimera_token";

/// `/`, `/statements/{id}` and the form posts, behind [`ui_access`].
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/statements/{id}", get(statement_page))
        .route("/ui/conflicts/{id}/{action}", post(form_post))
        .route_layer(middleware::from_fn_with_state(state, ui_access))
}

/// The token a request presents: `Authorization: Bearer`, else the cookie.
pub fn presented_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((scheme, token)) = v.split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
    {
        return Some(token.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
}

/// The page's access: a `token` query parameter is checked, set as the cookie and
/// dropped from the address (a redirect); otherwise the API's rule (bearer or cookie).
async fn ui_access(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let tokens = &s.config().tokens;
    if tokens.is_empty() {
        req.extensions_mut().insert(Scope::ReadWrite);
        return next.run(req).await;
    }
    let query = req.uri().query().unwrap_or("");
    let given: Option<String> = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    if let Some(token) = given {
        if tokens.scope_of(&token).is_none() {
            return login_page(
                StatusCode::UNAUTHORIZED,
                "That token is not one of this server's.",
            );
        }
        let rest: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k != "token"))
            .finish();
        let to = if rest.is_empty() {
            req.uri().path().to_string()
        } else {
            format!("{}?{rest}", req.uri().path())
        };
        let mut resp = Redirect::to(&to).into_response();
        let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().insert(header::SET_COOKIE, v);
        }
        return resp;
    }
    match presented_token(req.headers()).and_then(|t| tokens.scope_of(t)) {
        Some(scope) => {
            req.extensions_mut().insert(scope);
            next.run(req).await
        }
        None => login_page(
            StatusCode::UNAUTHORIZED,
            "This server needs a token: open this page once as /?token=YOUR_TOKEN (it is kept in a cookie).",
        ),
    }
}

fn login_page(status: StatusCode, why: &str) -> Response {
    let body = layout(
        "kimera — sign in",
        &format!("<main><p class=notice>{}</p></main>", esc(why)),
        "",
    );
    (status, Html(body)).into_response()
}

/// HTML-escapes `s` (text and attribute values).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A query value as a URL component.
fn url(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    detector: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    token: Option<String>,
}

/// The evidence of one verdict in plain words.
fn plain(detector: &str, ev: &serde_json::Value) -> String {
    let s = |k: &str| ev.get(k).and_then(|v| v.as_str());
    let tokens = || -> Vec<String> {
        match ev.get("tokens") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|t| match t {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(x) => x
                        .iter()
                        .map(|y| y.as_str().map_or_else(|| y.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        }
    };
    let pair = || {
        let t = tokens();
        match t.as_slice() {
            [x, y] => format!("“{x}” against “{y}”"),
            [] => String::new(),
            more => more.join(", "),
        }
    };
    match s("rule").unwrap_or("") {
        "negation" => format!("one side negates the other: {}", tokens().join(", ")),
        "antonym" => format!("opposite words: {}", pair()),
        "exclusive" => format!(
            "two members of one category{}: {}",
            s("group").map(|g| format!(" ({g})")).unwrap_or_default(),
            pair()
        ),
        "numbers" => format!("different numbers in the same place: {}", pair()),
        "entity_swap" => format!("a swapped entity: {}", pair()),
        "attribute" | "opposite" | "order" => format!("the concept graph holds both: {}", ev),
        "model" => {
            let p = ev
                .get("probability")
                .and_then(|p| p.as_f64())
                .unwrap_or(0.0);
            let route = s("route").unwrap_or("?");
            let mut out =
                format!("the model says contradiction with probability {p:.2} (route {route})");
            // `negated` names the side in the detector's own order, which need not be
            // the conflict's A/B: say the words, not the side
            if s("negated").is_some() {
                out.push_str(&format!("; one side adds “{}”", tokens().join(" ")));
            } else if !tokens().is_empty() {
                out.push_str(&format!("; {}", pair()));
            }
            out
        }
        "low_resonance" => "low resonance between the two statements".into(),
        _ => match s("reasoning") {
            Some(r) => format!("the LLM judge: {r}"),
            None => format!("{detector}: {ev}"),
        },
    }
}

fn conflict_card(c: &ConflictOut, first: bool) -> String {
    let side = |label: &str, id: &str, text: &str, source: &str| {
        format!(
            "<div class=side><div class=label>{label}</div><p class=text>{}</p>\
             <div class=source><a href=\"/statements/{}\">{}</a></div></div>",
            esc(text),
            url(id),
            esc(source)
        )
    };
    let evidence: String = c
        .verdicts
        .iter()
        .map(|v| {
            format!(
                "<li><b>{}</b> <span class=score>{:.2}</span> — {}</li>",
                esc(&v.detector),
                v.score,
                esc(&plain(&v.detector, &v.evidence))
            )
        })
        .collect();
    let button = |keep: &str, label: &str, key: &str| {
        format!(
            "<button name=keep value={keep} data-keep={keep} title=\"key {key}\">{label} <kbd>{key}</kbd></button>"
        )
    };
    format!(
        "<article class=\"conflict{}\" id=c{id} data-id={id} tabindex=-1>\
         <header><span class=kind>{kind}</span> <span class=score>{score:.2}</span> \
         <span class=muted>#{id}</span></header>\
         <div class=pair>{a}{b}</div><ul class=evidence>{evidence}</ul>\
         <form method=post action=\"/ui/conflicts/{id}/resolve\" class=actions>{ka}{kb}{both}{dismiss}</form>\
         <div class=done hidden></div></article>",
        if first { " current" } else { "" },
        id = c.id,
        kind = esc(&c.kind),
        score = c.score,
        a = side("A", &c.a, &c.text_a, &c.source_a),
        b = side("B", &c.b, &c.text_b, &c.source_b),
        ka = button("a", "Keep A", "a"),
        kb = button("b", "Keep B", "b"),
        both = button("both", "Both valid", "2"),
        dismiss = button("neither", "Not a contradiction", "d"),
    )
}

/// `GET /`: the open conflicts, strongest first, a page at a time.
async fn page(State(s): State<AppState>, Query(q): Query<PageQuery>) -> Response {
    let engine = match s.ready() {
        Ok(e) => e.clone(),
        Err(e) => {
            return (
                e.status,
                Html(layout(
                    "kimera",
                    &format!("<main><p class=notice>{}</p></main>", esc(&e.message)),
                    "",
                )),
            )
                .into_response();
        }
    };
    let _ = q.token;
    let req = ConflictsIn {
        status: Some("open".into()),
        kind: q.kind.clone().filter(|s| !s.is_empty()),
        detector: q.detector.clone().filter(|s| !s.is_empty()),
        source: q.source.clone().filter(|s| !s.is_empty()),
        limit: Some(q.limit.unwrap_or(50).clamp(1, 200)),
        cursor: q.cursor.clone().filter(|s| !s.is_empty()),
    };
    let out = match engine.conflicts(req).await {
        Ok(o) => o,
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            return (
                e.status,
                Html(layout(
                    "kimera",
                    &format!("<main><p class=notice>{}</p></main>", esc(&e.message)),
                    "",
                )),
            )
                .into_response();
        }
    };
    let kinds: String = std::iter::once(String::from("<option value=\"\">any type</option>"))
        .chain(kimera_core::settle::ConflictKind::ALL.iter().map(|k| {
            let sel = if q.kind.as_deref() == Some(k.as_str()) {
                " selected"
            } else {
                ""
            };
            format!("<option{sel}>{k}</option>")
        }))
        .collect();
    let filters = format!(
        "<form class=filters method=get action=\"/\"><select name=type aria-label=type>{kinds}</select>\
         <input name=detector placeholder=detector value=\"{}\" aria-label=detector>\
         <input name=source placeholder=\"source (file or folder)\" value=\"{}\" aria-label=source>\
         <button>Filter</button></form>",
        esc(q.detector.as_deref().unwrap_or("")),
        esc(q.source.as_deref().unwrap_or(""))
    );
    let cards: String = out
        .conflicts
        .iter()
        .enumerate()
        .map(|(i, c)| conflict_card(c, i == 0))
        .collect();
    let empty = if out.conflicts.is_empty() {
        "<p class=notice>Nothing to review: no open conflict matches.</p>"
    } else {
        ""
    };
    let next = out.next_cursor.as_deref().map_or(String::new(), |c| {
        let mut qs = format!("cursor={}", url(c));
        for (k, v) in [
            ("type", &q.kind),
            ("detector", &q.detector),
            ("source", &q.source),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                qs.push_str(&format!("&{k}={}", url(v)));
            }
        }
        format!("<p class=more><a href=\"/?{qs}\">Next page →</a></p>")
    });
    let body = format!(
        "<header class=top><h1>kimera <span class=muted>review</span></h1>\
         <p><b id=open-count>{}</b> open conflicts, strongest first</p>{filters}</header>\
         <main id=list>{empty}{cards}{next}</main>\
         <div id=toast role=status hidden></div>\
         <footer class=help>Keys: <kbd>j</kbd>/<kbd>k</kbd> move, <kbd>a</kbd> keep A, <kbd>b</kbd> keep B, \
         <kbd>2</kbd> both valid, <kbd>d</kbd> not a contradiction, <kbd>u</kbd> undo the last.</footer>",
        out.open
    );
    Html(layout("kimera review", &body, SCRIPT)).into_response()
}

/// `GET /statements/{id}`: a statement, what superseded it and what it superseded.
async fn statement_page(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let engine = match s.ready() {
        Ok(e) => e.clone(),
        Err(e) => return (e.status, e.message).into_response(),
    };
    let d: StatementDetail = match engine.statement(id).await {
        Ok(d) => d,
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            return (
                e.status,
                Html(layout(
                    "kimera",
                    &format!("<main><p class=notice>{}</p></main>", esc(&e.message)),
                    "",
                )),
            )
                .into_response();
        }
    };
    let time = |t: Option<i64>| t.map_or("—".to_string(), kimera_core::format_time);
    let status = match &d.superseded_by {
        Some(by) => format!(
            "<p class=superseded>Superseded by <a href=\"/statements/{}\">{}</a> at {}</p>",
            url(by),
            esc(by),
            time(d.superseded_at)
        ),
        None => "<p class=current-note>Current</p>".to_string(),
    };
    let history: String = d
        .history
        .iter()
        .map(|h| {
            let link = |id: &Option<String>, text: &Option<String>| match id {
                Some(i) => format!(
                    "<a href=\"/statements/{}\">{}</a>",
                    url(i),
                    esc(text.as_deref().unwrap_or(i))
                ),
                None => "—".into(),
            };
            let what = match (&h.superseded, &h.superseded_by) {
                (Some(_), Some(_)) => format!(
                    "{} superseded {}",
                    link(&h.superseded_by, &h.superseded_by_text),
                    link(&h.superseded, &h.superseded_text)
                ),
                _ => format!("conflict #{} settled as {}", h.conflict, esc(&h.resolution)),
            };
            format!(
                "<li{}>{} — {what} by {}{}{}</li>",
                if h.undone_at.is_some() {
                    " class=undone"
                } else {
                    ""
                },
                time(Some(h.decided_at)),
                esc(&h.decided_by),
                h.note
                    .as_deref()
                    .map(|n| format!(" (“{}”)", esc(n)))
                    .unwrap_or_default(),
                h.undone_at
                    .map(|t| format!(" — undone {}", time(Some(t))))
                    .unwrap_or_default()
            )
        })
        .collect();
    let body = format!(
        "<header class=top><h1><a href=\"/\">kimera</a> <span class=muted>statement</span></h1></header>\
         <main><article class=statement><p class=text>{}</p>\
         <dl><dt>source</dt><dd>{}</dd><dt>recorded</dt><dd>{}</dd>\
         <dt>valid</dt><dd>{} → {}</dd><dt>id</dt><dd>{}</dd></dl>{status}</article>\
         <h2>History</h2><ul class=history>{}</ul>\
         <h2>Contradictions found</h2><ul class=evidence>{}</ul></main>",
        esc(&d.statement.text),
        esc(&d.statement.source),
        time(Some(d.statement.created_at)),
        time(d.valid_from),
        time(d.valid_to),
        esc(&d.statement.id),
        if history.is_empty() { "<li class=muted>No resolution yet.</li>".to_string() } else { history },
        d.scars
            .iter()
            .map(|s| {
                let other = if s.a == d.statement.id { (&s.b, &s.text_b) } else { (&s.a, &s.text_a) };
                format!(
                    "<li><b>{}</b> <span class=score>{:.2}</span> <a href=\"/statements/{}\">{}</a> — {}</li>",
                    esc(&s.detector),
                    s.score,
                    url(other.0),
                    esc(other.1),
                    esc(&plain(&s.detector, &s.evidence))
                )
            })
            .collect::<String>()
    );
    Html(layout("kimera statement", &body, "")).into_response()
}

#[derive(Debug, Deserialize)]
pub struct FormKeep {
    #[serde(default)]
    keep: Option<String>,
}

/// The buttons without JavaScript: `POST /ui/conflicts/{id}/resolve|undo`, then back.
async fn form_post(
    State(s): State<AppState>,
    axum::Extension(scope): axum::Extension<Scope>,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<FormKeep>,
) -> Response {
    if scope != Scope::ReadWrite {
        return login_page(
            StatusCode::FORBIDDEN,
            "This token may read but not settle conflicts.",
        );
    }
    let engine = match s.ready() {
        Ok(e) => e.clone(),
        Err(e) => return (e.status, e.message).into_response(),
    };
    let req = match action.as_str() {
        "resolve" => Some(ResolveIn {
            keep: f.keep.unwrap_or_default(),
            note: None,
        }),
        "undo" => None,
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    match engine.settle(id, req, "review").await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => {
            let e = crate::error::ApiError::from(e);
            (
                e.status,
                Html(layout(
                    "kimera",
                    &format!(
                        "<main><p class=notice>{}</p><p><a href=\"/\">Back</a></p></main>",
                        esc(&e.message)
                    ),
                    "",
                )),
            )
                .into_response()
        }
    }
}

fn layout(title: &str, body: &str, script: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>{body}{}</body></html>",
        esc(title),
        if script.is_empty() {
            String::new()
        } else {
            format!("<script>{script}</script>")
        }
    )
}

const CSS: &str = r#"
:root{--fg:#1d2330;--muted:#667085;--line:#d9dee7;--bg:#f6f7f9;--card:#fff;--accent:#2f5bd3;--a:#0b7a53;--b:#9b3b0f}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
.top{padding:12px 16px;background:var(--card);border-bottom:1px solid var(--line);position:sticky;top:0;z-index:2}
.top h1{margin:0;font-size:20px}.top p{margin:4px 0}
.muted{color:var(--muted);font-weight:normal}
.filters{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}
.filters input,.filters select,.filters button{font:inherit;padding:6px 8px;border:1px solid var(--line);border-radius:6px;background:#fff}
main{max-width:1100px;margin:0 auto;padding:12px}
.conflict{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px;margin:0 0 12px}
.conflict.current{outline:3px solid var(--accent);outline-offset:1px}
.conflict header{font-size:14px;margin-bottom:8px}
.kind{display:inline-block;padding:1px 8px;border-radius:999px;background:#eef2ff;color:#2d3a8c;font-weight:600}
.score{font-variant-numeric:tabular-nums;color:var(--muted)}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:10px}
.side{border:1px solid var(--line);border-radius:8px;padding:8px 10px}
.side .label{font-weight:700;font-size:13px}
.side:first-child .label{color:var(--a)}.side:last-child .label{color:var(--b)}
.text{margin:4px 0;font-size:17px}
.source{font-size:13px;color:var(--muted);word-break:break-all}
.evidence{margin:8px 0;padding-left:18px;font-size:14px}
.actions{display:flex;flex-wrap:wrap;gap:6px}
.actions button{font:inherit;font-size:14px;padding:8px 10px;border-radius:8px;border:1px solid var(--line);background:#fff;cursor:pointer;min-height:40px}
.actions button[data-keep=a]{border-color:var(--a)}.actions button[data-keep=b]{border-color:var(--b)}
kbd{font:12px ui-monospace,monospace;border:1px solid var(--line);border-bottom-width:2px;border-radius:4px;padding:0 4px;background:#f3f4f6}
.conflict.settled .pair,.conflict.settled .evidence,.conflict.settled .actions{display:none}
.done{font-size:14px}
#toast{position:fixed;left:50%;bottom:16px;transform:translateX(-50%);background:#1d2330;color:#fff;padding:8px 14px;border-radius:8px;font-size:14px}
#toast button{margin-left:8px}
.help{max-width:1100px;margin:0 auto;padding:8px 16px 24px;color:var(--muted);font-size:13px}
.notice{padding:12px;background:#fff7e6;border:1px solid #f5d08a;border-radius:8px}
.statement dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:14px}
.statement dt{color:var(--muted)}.superseded{color:var(--b);font-weight:600}.current-note{color:var(--a)}
.history .undone{text-decoration:line-through;color:var(--muted)}
@media (max-width:700px){.pair{grid-template-columns:1fr}.top{position:static}.actions button{flex:1 1 45%}body{font-size:15px}.actions kbd,.help{display:none}}
"#;

/// Keys and buttons through the JSON API (same cookie), with an undo stack.
const SCRIPT: &str = r#"
(function(){
  var cards=function(){return Array.prototype.slice.call(document.querySelectorAll('.conflict'))};
  var cur=0, undo=[];
  function open(){return cards().filter(function(c){return !c.classList.contains('settled')})}
  function select(i){var cs=cards(); if(!cs.length) return; cur=Math.max(0,Math.min(i,cs.length-1));
    cs.forEach(function(c,j){c.classList.toggle('current',j===cur)}); cs[cur].scrollIntoView({block:'nearest'});}
  function toast(msg,withUndo){var t=document.getElementById('toast'); t.hidden=false; t.textContent=msg;
    if(withUndo){var b=document.createElement('button'); b.textContent='Undo (u)'; b.onclick=doUndo; t.appendChild(b)}}
  function count(d){var n=document.getElementById('open-count'); n.textContent=String(Math.max(0,parseInt(n.textContent,10)+d))}
  function settle(card,keep){ if(!card||card.classList.contains('settled')) return;
    var id=card.dataset.id;
    fetch('/v1/conflicts/'+id+'/resolve',{method:'POST',credentials:'same-origin',headers:{'Content-Type':'application/json'},body:JSON.stringify({keep:keep})})
    .then(function(r){return r.json().then(function(j){return [r.ok,j]})})
    .then(function(x){ if(!x[0]){toast('Not settled: '+x[1].error.message); return}
      card.classList.add('settled'); var d=card.querySelector('.done'); d.hidden=false;
      d.textContent='Settled: '+x[1].resolution.replace(/_/g,' '); undo.push(card); count(-1);
      toast('Conflict #'+id+' settled as '+x[1].resolution.replace(/_/g,' '),true);
      var cs=cards(), i=cs.indexOf(card); for(var j=i+1;j<cs.length;j++){ if(!cs[j].classList.contains('settled')){select(j);return} } select(i);
    });
  }
  function doUndo(){var card=undo.pop(); if(!card) return; var id=card.dataset.id;
    fetch('/v1/conflicts/'+id+'/undo',{method:'POST',credentials:'same-origin',headers:{'Content-Type':'application/json'},body:'{}'})
    .then(function(r){ if(!r.ok){toast('Undo failed'); return}
      card.classList.remove('settled'); card.querySelector('.done').hidden=true; count(1); select(cards().indexOf(card)); toast('Conflict #'+id+' is open again',false)});
  }
  document.addEventListener('click',function(e){var b=e.target.closest('button[data-keep]'); if(!b) return;
    e.preventDefault(); var card=b.closest('.conflict'); select(cards().indexOf(card)); settle(card,b.dataset.keep)});
  document.addEventListener('keydown',function(e){ if(e.ctrlKey||e.metaKey||e.altKey) return;
    var t=e.target.tagName; if(t==='INPUT'||t==='SELECT'||t==='TEXTAREA') return;
    var card=cards()[cur]; var k=e.key;
    if(k==='j'){select(cur+1)} else if(k==='k'){select(cur-1)}
    else if(k==='a'){settle(card,'a')} else if(k==='b'){settle(card,'b')}
    else if(k==='2'){settle(card,'both')} else if(k==='d'){settle(card,'neither')}
    else if(k==='u'){doUndo()} else return; e.preventDefault();});
  select(0);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_tokens_come_from_header_or_cookie() {
        assert_eq!(esc("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; kimera_token=abc; z=2"),
        );
        assert_eq!(presented_token(&h), Some("abc"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer xyz"),
        );
        assert_eq!(presented_token(&h), Some("xyz"));
        assert_eq!(presented_token(&axum::http::HeaderMap::new()), None);
    }

    #[test]
    fn evidence_reads_plainly() {
        let ev = serde_json::json!({"rule": "numbers", "tokens": ["300", "450"]});
        assert_eq!(
            plain("lexical", &ev),
            "different numbers in the same place: “300” against “450”"
        );
        let m = serde_json::json!({"rule": "model", "route": "negation", "probability": 1.0, "negated": "b", "tokens": ["not"]});
        assert_eq!(
            plain("model", &m),
            "the model says contradiction with probability 1.00 (route negation); one side adds “not”"
        );
    }
}
