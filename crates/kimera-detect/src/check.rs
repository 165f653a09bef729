//! Checking new statements against the store (`kimera check`, the server's `POST
//! /v1/check` and its check-on-write): each statement's nearest stored statements, then
//! the detector cascade on each (statement, neighbour) pair. Contradictions are about
//! the same subject, so they are among the neighbours.
//!
//! [`check_vectors`] is the one path all of them take; [`Checker`] wraps it for a store
//! whose vectors are loaded once (the CLI), the server calls it with its own live index.

use std::collections::{HashMap, HashSet};

use kimera_embed::{Encoder, VectorIndex};
use kimera_reactor::{Detector, PairInput};
use kimera_store::{Store, Visibility};
use serde::Serialize;

use crate::Result;

/// One stored statement that the checked text contradicts, per detector that fired.
#[derive(Debug, Clone, Serialize)]
pub struct CheckHit {
    pub id: String,
    pub text: String,
    pub lang: String,
    pub cosine: f32,
    pub detector: String,
    pub score: f32,
    pub evidence: serde_json::Value,
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Neighbours examined (0: the store has no vectors for the encoder's model).
    pub examined: usize,
    /// Strongest first.
    pub contradictions: Vec<CheckHit>,
}

/// A statement a query may be compared with besides the index: one not (yet) in it,
/// e.g. an earlier statement of the same write.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub id: &'a str,
    pub text: &'a str,
    pub lang: &'a str,
    pub vector: &'a [f32],
}

/// One statement to check, with its vector already computed.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub text: &'a str,
    pub lang: &'a str,
    pub vector: &'a [f32],
    /// A stored id never to count as a neighbour: the statement itself, when it is
    /// stored (a statement does not contradict itself, and would take a neighbour's place).
    pub exclude: Option<&'a str>,
    /// Candidates outside the index, ranked with the index's rows (ties go to the index).
    pub also: &'a [Candidate<'a>],
    /// Stored ids this read must not see (superseded statements, or with `as_of` the
    /// statements of another time): an index loaded with every statement serves every
    /// read time this way.
    pub hidden: Option<&'a HashSet<String>>,
}

impl<'a> Query<'a> {
    /// A statement checked against the index alone.
    pub fn new(text: &'a str, lang: &'a str, vector: &'a [f32]) -> Query<'a> {
        Query {
            text,
            lang,
            vector,
            exclude: None,
            also: &[],
            hidden: None,
        }
    }
}

/// A neighbour of one query: where its vector lives, its id, text, language and cosine.
struct Neighbour<'a> {
    vector: &'a [f32],
    id: String,
    text: String,
    lang: String,
    cosine: f32,
}

/// The `k` nearest neighbours of each query among the index (by its rows, best first,
/// ties to the earlier row) and its `also`, without its `exclude`: one pass over the
/// index for all queries ([`VectorIndex::nearest_many`]), then each stored neighbour's
/// text read once however many queries found it.
fn neighbours<'a>(
    index: &'a VectorIndex,
    store: &Store,
    queries: &[Query<'a>],
    k: usize,
) -> Result<Vec<Vec<Neighbour<'a>>>> {
    // ask for as many more as could be left out, so that k remain
    let asks: Vec<(&[f32], usize)> = queries
        .iter()
        .map(|q| {
            let want = k + usize::from(q.exclude.is_some()) + q.hidden.map_or(0, HashSet::len);
            (q.vector, want)
        })
        .collect();
    let found = index
        .nearest_many(&asks)
        .map_err(crate::DetectError::Embed)?;
    // (cosine, rank among equals: index rows first in row order, then `also` in order)
    type Ranked<'a, 'b> = (f32, usize, Option<usize>, Option<&'b Candidate<'a>>);
    let mut per_query: Vec<Vec<Ranked<'a, '_>>> = Vec::with_capacity(queries.len());
    for (q, rows) in queries.iter().zip(found) {
        let hidden = |id: &str| q.hidden.is_some_and(|h| h.contains(id));
        let mut ranked: Vec<Ranked<'a, '_>> = rows
            .into_iter()
            .filter(|&(row, _)| Some(index.id(row)) != q.exclude && !hidden(index.id(row)))
            .map(|(row, cosine)| (cosine, row, Some(row), None))
            .collect();
        for (i, c) in q.also.iter().enumerate() {
            if Some(c.id) != q.exclude && c.vector.len() == q.vector.len() {
                let cosine = kimera_core::dot(q.vector, c.vector);
                ranked.push((cosine, index.len() + i, None, Some(c)));
            }
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.truncate(k);
        per_query.push(ranked);
    }
    // each stored neighbour's text and language, read once
    let mut rows: HashMap<usize, Option<(String, String)>> = HashMap::new();
    for ranked in &per_query {
        for &(_, _, row, _) in ranked {
            if let Some(row) = row
                && !rows.contains_key(&row)
            {
                let id = kimera_core::GeoidId(index.id(row).to_string());
                let g = store
                    .geoid(&id)
                    .map_err(|e| crate::DetectError::Embed(e.into()))?;
                rows.insert(row, g.map(|g| (g.text, g.lang)));
            }
        }
    }
    Ok(per_query
        .into_iter()
        .map(|ranked| {
            let mut out = Vec::with_capacity(ranked.len());
            for (cosine, _, row, cand) in ranked {
                match (row, cand) {
                    (Some(row), _) => {
                        if let Some((text, lang)) = &rows[&row] {
                            out.push(Neighbour {
                                vector: index.vector(row),
                                id: index.id(row).to_string(),
                                text: text.clone(),
                                lang: lang.clone(),
                                cosine,
                            });
                        }
                    }
                    (None, Some(c)) => out.push(Neighbour {
                        vector: c.vector,
                        id: c.id.to_string(),
                        text: c.text.to_string(),
                        lang: c.lang.to_string(),
                        cosine,
                    }),
                    (None, None) => unreachable!("a ranked neighbour is a row or a candidate"),
                }
            }
            out
        })
        .collect())
}

/// Checks each query against the statements of `index` (texts read from `store`) and
/// its own `also` candidates: its `k` nearest, then every detector of the cascade on each
/// (query, neighbour) pair. The query is pair side `a`, the stored statement side `b`.
///
/// The pairs of all queries go to each detector in one batch (a detector's verdict on a
/// pair does not depend on the batch), so checking many statements at once gives each
/// the report it would get alone.
pub fn check_vectors(
    index: &VectorIndex,
    store: &Store,
    detectors: &[Box<dyn Detector>],
    queries: &[Query<'_>],
    k: usize,
) -> Result<Vec<CheckReport>> {
    let found = neighbours(index, store, queries, k)?;
    let mut pairs: Vec<PairInput<'_>> = Vec::new();
    let mut owner: Vec<(usize, usize)> = Vec::new();
    for (qi, (q, ns)) in queries.iter().zip(&found).enumerate() {
        for (ni, n) in ns.iter().enumerate() {
            pairs.push(PairInput {
                a_id: "query",
                b_id: &n.id,
                a_text: q.text,
                b_text: &n.text,
                a_lang: q.lang,
                b_lang: &n.lang,
                a_vec: q.vector,
                b_vec: n.vector,
                cosine: n.cosine,
                resonance: n.cosine,
                // the query comes from no stored document
                a_doc: "",
                b_doc: "",
            });
            owner.push((qi, ni));
        }
    }
    let mut hits: Vec<Vec<CheckHit>> = vec![Vec::new(); queries.len()];
    if !pairs.is_empty() {
        for d in detectors {
            for (&(qi, ni), v) in owner.iter().zip(d.score_batch(&pairs)) {
                if v.contradiction {
                    let n = &found[qi][ni];
                    hits[qi].push(CheckHit {
                        id: n.id.clone(),
                        text: n.text.clone(),
                        lang: n.lang.clone(),
                        cosine: n.cosine,
                        detector: d.name().to_string(),
                        score: v.score,
                        evidence: v.evidence,
                    });
                }
            }
        }
    }
    Ok(hits
        .into_iter()
        .zip(&found)
        .map(|(mut hits, ns)| {
            hits.sort_by(|a, b| {
                b.score
                    .total_cmp(&a.score)
                    .then(a.id.cmp(&b.id))
                    .then(a.detector.cmp(&b.detector))
            });
            CheckReport {
                examined: ns.len(),
                contradictions: hits,
            }
        })
        .collect())
}

/// Embeds `texts` (all in language `lang`) and checks them with [`check_vectors`]: what
/// `kimera check` does for each statement it is given. `hidden`: see [`Query::hidden`].
#[allow(clippy::too_many_arguments)]
pub fn check_texts(
    index: &VectorIndex,
    store: &Store,
    enc: &dyn Encoder,
    detectors: &[Box<dyn Detector>],
    texts: &[&str],
    lang: &str,
    k: usize,
    hidden: Option<&HashSet<String>>,
) -> Result<Vec<CheckReport>> {
    if index.is_empty() || texts.is_empty() {
        return Ok(texts
            .iter()
            .map(|_| CheckReport {
                examined: 0,
                contradictions: Vec::new(),
            })
            .collect());
    }
    let vectors = enc.encode(texts)?;
    if vectors.len() != texts.len() {
        return Err(crate::DetectError::Model(format!(
            "encoder returned {} vectors for {} texts",
            vectors.len(),
            texts.len()
        )));
    }
    let queries: Vec<Query<'_>> = texts
        .iter()
        .zip(&vectors)
        .map(|(t, v)| Query {
            hidden,
            ..Query::new(t, lang, v)
        })
        .collect();
    check_vectors(index, store, detectors, &queries, k)
}

/// A store's vectors loaded once, for checking many statements against it: each check
/// embeds the statement, scans the in-memory vectors for its `k` nearest stored
/// statements, and runs the detectors on those pairs. The neighbours' vectors are at
/// hand, so the `model` detector's fast head can rule pairs out before its
/// cross-encoder.
pub struct Checker<'a> {
    store: &'a Store,
    enc: &'a dyn Encoder,
    index: VectorIndex,
}

impl std::fmt::Debug for Checker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("model", &self.enc.model_id())
            .field("vectors", &self.index.len())
            .finish()
    }
}

impl<'a> Checker<'a> {
    /// Loads the vectors the store holds for `enc`'s model, of current statements
    /// (superseded ones are left out).
    pub fn new(store: &'a Store, enc: &'a dyn Encoder) -> Result<Checker<'a>> {
        Self::at(store, enc, Visibility::Current)
    }

    /// [`Checker::new`] over the statements visible to `v` (`AsOf`: the store as it was).
    pub fn at(store: &'a Store, enc: &'a dyn Encoder, v: Visibility) -> Result<Checker<'a>> {
        let index = VectorIndex::load_at(store, enc.model_id(), v)?;
        Ok(Checker { store, enc, index })
    }

    /// Stored statements with a vector (the ones a check can find).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The stored statements among `text`'s `k` nearest that a detector of `detectors`
    /// finds contradicting it ([`check_texts`] for one text).
    pub fn check(
        &self,
        detectors: &[Box<dyn Detector>],
        text: &str,
        lang: &str,
        k: usize,
    ) -> Result<CheckReport> {
        check_texts(
            &self.index,
            self.store,
            self.enc,
            detectors,
            &[text],
            lang,
            k,
            None,
        )?
        .pop()
        .ok_or_else(|| crate::DetectError::Model("no report for the statement".into()))
    }
}

/// One check without keeping the loaded vectors (see [`Checker`] for many).
pub fn check_text(
    store: &Store,
    enc: &dyn Encoder,
    detectors: &[Box<dyn Detector>],
    text: &str,
    lang: &str,
    k: usize,
) -> Result<CheckReport> {
    Checker::new(store, enc)?.check(detectors, text, lang, k)
}

#[cfg(test)]
mod tests {
    use kimera_core::{Geoid, Source};
    use kimera_embed::HashEncoder;
    use kimera_reactor::LexicalDetector;

    use super::*;

    const STORED: &[&str] = &[
        "Fire is hot.",
        "The sky is blue.",
        "Paris is the capital of France.",
        "Water boils at 100 degrees.",
        "The sky is green.",
        "Ice is cold.",
    ];

    fn store() -> (Store, HashEncoder) {
        let enc = HashEncoder::new();
        let mut s = Store::open_in_memory().unwrap();
        let g: Vec<Geoid> = STORED
            .iter()
            .map(|t| Geoid::new(*t, "en", Source::Api))
            .collect();
        s.insert_geoids(&g).unwrap();
        kimera_embed::embed_store(&mut s, &enc, 4, &|_, _| {}).unwrap();
        (s, enc)
    }

    fn summary(r: &CheckReport) -> (usize, Vec<(String, String)>) {
        (
            r.examined,
            r.contradictions
                .iter()
                .map(|h| (h.text.clone(), h.detector.clone()))
                .collect(),
        )
    }

    #[test]
    fn many_statements_at_once_get_the_reports_each_gets_alone() {
        let (store, enc) = store();
        let index = VectorIndex::load(&store, enc.model_id()).unwrap();
        let detectors: Vec<Box<dyn Detector>> = vec![Box::new(LexicalDetector::default())];
        let texts = ["Fire is cold.", "The sky is not blue.", "Paris is lovely."];
        let together =
            check_texts(&index, &store, &enc, &detectors, &texts, "en", 3, None).unwrap();
        assert_eq!(together.len(), 3);
        for (t, r) in texts.iter().zip(&together) {
            let alone = check_texts(&index, &store, &enc, &detectors, &[t], "en", 3, None).unwrap();
            assert_eq!(summary(r), summary(&alone[0]), "{t}");
        }
        assert!(
            together[1]
                .contradictions
                .iter()
                .any(|h| h.text == "The sky is blue."),
            "{together:#?}"
        );
        let checker = Checker::new(&store, &enc).unwrap();
        let one = checker.check(&detectors, texts[1], "en", 3).unwrap();
        assert_eq!(summary(&one), summary(&together[1]));
    }

    #[test]
    fn a_superseded_statement_is_not_found_until_the_read_looks_back_or_it_is_undone() {
        let (mut store, enc) = store();
        let detectors: Vec<Box<dyn Detector>> = vec![Box::new(LexicalDetector::default())];
        let blue = Geoid::new("The sky is blue.", "en", Source::Api).id;
        let green = Geoid::new("The sky is green.", "en", Source::Api).id;
        let finds_blue = |r: &CheckReport| r.contradictions.iter().any(|h| h.id == blue.0);
        let query = "The sky is not blue.";
        assert!(finds_blue(
            &Checker::new(&store, &enc)
                .unwrap()
                .check(&detectors, query, "en", 3)
                .unwrap()
        ));
        // "blue" loses a conflict with "green" at time t
        let scar = kimera_core::Scar::new(
            blue.clone(),
            green.clone(),
            0.9,
            "lexical",
            serde_json::json!({"rule": "exclusive"}),
        );
        store.insert_scars(&[scar], None).unwrap();
        let c = store
            .conflicts(&kimera_store::ConflictFilter::open())
            .unwrap()
            .remove(0);
        let keep_green = if c.a == green {
            kimera_core::settle::Resolution::KeepA
        } else {
            kimera_core::settle::Resolution::KeepB
        };
        let t = kimera_core::unix_now() + 100;
        store
            .resolve_conflict(c.id, keep_green, "user", None, None, t)
            .unwrap();
        // the CLI's loaded index leaves it out...
        let now = Checker::new(&store, &enc).unwrap();
        assert_eq!(now.len(), STORED.len() - 1);
        assert!(!finds_blue(&now.check(&detectors, query, "en", 3).unwrap()));
        // ...the past sees it...
        let then = Checker::at(&store, &enc, Visibility::AsOf(t - 1)).unwrap();
        assert!(finds_blue(&then.check(&detectors, query, "en", 3).unwrap()));
        // ...and a server's full index hides it per read, still examining k others
        let all = VectorIndex::load_at(&store, enc.model_id(), Visibility::Everything).unwrap();
        let hidden = store.hidden_ids(Visibility::Current).unwrap();
        let r = check_texts(
            &all,
            &store,
            &enc,
            &detectors,
            &[query],
            "en",
            3,
            Some(&hidden),
        )
        .unwrap();
        assert_eq!(r[0].examined, 3);
        assert!(!finds_blue(&r[0]));
        let r = check_texts(&all, &store, &enc, &detectors, &[query], "en", 3, None).unwrap();
        assert!(finds_blue(&r[0]));
        // similar (nearest) likewise
        let near = |v| kimera_embed::nearest_at(&store, &enc, "The sky is blue.", 6, v).unwrap();
        assert!(!near(Visibility::Current).iter().any(|n| n.id == blue.0));
        assert!(near(Visibility::AsOf(t - 1)).iter().any(|n| n.id == blue.0));
        // undo brings it back
        store.undo_conflict(c.id, "user", t + 1).unwrap();
        assert!(finds_blue(
            &Checker::new(&store, &enc)
                .unwrap()
                .check(&detectors, query, "en", 3)
                .unwrap()
        ));
    }

    #[test]
    fn a_query_skips_itself_and_ranks_extra_candidates_with_the_index() {
        let (store, enc) = store();
        let index = VectorIndex::load(&store, enc.model_id()).unwrap();
        let detectors: Vec<Box<dyn Detector>> = vec![Box::new(LexicalDetector::default())];
        let text = "The sky is blue.";
        let v = enc.encode(&[text]).unwrap().pop().unwrap();
        let own_id = Geoid::new(text, "en", Source::Api).id;
        // the statement itself, stored: without `exclude` it is its own nearest neighbour
        let plain =
            check_vectors(&index, &store, &detectors, &[Query::new(text, "en", &v)], 2).unwrap();
        assert_eq!(plain[0].examined, 2);
        let mut q = Query::new(text, "en", &v);
        q.exclude = Some(own_id.as_str());
        let excluded = check_vectors(&index, &store, &detectors, &[q], 2).unwrap();
        assert!(
            excluded[0]
                .contradictions
                .iter()
                .any(|h| h.text == "The sky is green."),
            "{excluded:#?}"
        );
        // a candidate outside the index: found, and contradicting
        let other = "The sky is not blue.";
        let ov = enc.encode(&[other]).unwrap().pop().unwrap();
        let also = [Candidate {
            id: "pending",
            text: other,
            lang: "en",
            vector: &ov,
        }];
        let mut q = Query::new(text, "en", &v);
        q.exclude = Some(own_id.as_str());
        q.also = &also;
        let r = check_vectors(&index, &store, &detectors, &[q], 6).unwrap();
        assert_eq!(r[0].examined, 6, "five stored others and the candidate");
        assert!(
            r[0].contradictions
                .iter()
                .any(|h| h.id == "pending" && h.text == other),
            "{r:#?}"
        );
        assert!(r[0].contradictions.iter().all(|h| h.id != own_id.as_str()));
    }
}
