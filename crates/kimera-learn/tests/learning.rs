//! learn_batch: parallel equals sequential, error and panic isolation, idempotency,
//! persistence, queries and the conflict finder.

use kimera_core::GeoidId;
use kimera_learn::{
    ExtractError, Extraction, Graph, LearnOptions, Learner, Relation, Statement, concept_view,
    embedding_neighbours, extract, fact_conflicts, find_conflicts, paths, related, synth,
};
use kimera_store::Store;
use proptest::prelude::*;

fn learner(workers: usize, chunk: usize) -> Learner {
    Learner::new(LearnOptions {
        workers,
        chunk,
        parallel_threshold: 1,
    })
    .unwrap()
}

fn learn(workers: usize, chunk: usize, batch: &[Statement]) -> Graph {
    let mut g = Graph::new();
    learner(workers, chunk).learn_batch(&mut g, batch, |_| {});
    g
}

fn s(id: &str, text: &str) -> Statement {
    Statement {
        id: GeoidId(id.into()),
        text: text.into(),
        lang: "en".into(),
        seen_at: 7,
    }
}

#[test]
fn parallel_equals_sequential_on_generated_statements() {
    let batch = synth::statements(5_000, 300, 1);
    let seq = learn(1, 1024, &batch);
    for (workers, chunk) in [(2, 1024), (2, 7), (3, 100), (4, 5000)] {
        let par = learn(workers, chunk, &batch);
        assert!(par == seq, "workers {workers} chunk {chunk}");
        // adjacency (built off the merging thread in parallel) in creation order
        for c in 0..seq.counts().concepts as u32 {
            assert_eq!(par.edges(c), seq.edges(c), "concept {c}");
        }
    }
    let c = seq.counts();
    assert_eq!(c.statements, 5_000);
    assert!(c.concepts > 300 && c.associations > 5_000, "{c:?}");
}

#[test]
fn a_learner_on_the_calling_thread_learns_as_the_others() {
    let batch = synth::statements(3_000, 200, 3);
    let seq = learn(1, 256, &batch);
    let opts = LearnOptions {
        workers: 2,
        chunk: 256,
        parallel_threshold: 1,
    };
    // a thread of its own: the test harness's threads are not made pool workers
    let (first, second, elsewhere) = std::thread::spawn(move || {
        let run = |l: &Learner| {
            let mut g = Graph::new();
            let r = l.learn_batch(&mut g, &batch, |_| {});
            assert!(r.parallel && r.errors.is_empty(), "{r:?}");
            g
        };
        let l = Learner::on_current_thread(opts).unwrap();
        assert_eq!(l.workers(), 2);
        // this thread is now one of `l`'s workers: another such learner gets a pool of
        // its own
        let again = Learner::on_current_thread(opts).unwrap();
        assert_eq!(again.workers(), 2);
        let (first, second) = (run(&l), run(&again));
        // used from another thread, the pool still learns (one worker fewer)
        let elsewhere = std::thread::scope(|sc| sc.spawn(|| run(&l)).join().unwrap());
        (first, second, elsewhere)
    })
    .join()
    .unwrap();
    assert!(first == seq);
    assert!(second == seq);
    assert!(elsewhere == seq);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn parallel_equals_sequential_for_any_batch_and_workers(
        n in 0usize..400, seed in 0u64..1000, workers in 2usize..5, chunk in 1usize..64,
        dup in 0usize..20,
    ) {
        let mut batch = synth::statements(n, 40, seed);
        // repeated statements inside a batch must be learned once either way
        let extra: Vec<Statement> = batch.iter().take(dup).cloned().collect();
        batch.extend(extra);
        let seq = learn(1, chunk, &batch);
        let par = learn(workers, chunk, &batch);
        prop_assert!(par == seq);
        for c in 0..seq.counts().concepts as u32 {
            prop_assert_eq!(par.edges(c), seq.edges(c));
        }
        // every association is found by its key (the parallel path enters the keys
        // in the id map a chunk late)
        for (id, a) in par.associations().iter().enumerate() {
            prop_assert_eq!(par.association_id(a.src, a.rel, a.attr, a.dst), Some(id as u32));
        }
    }

    /// The parallel merge looks ids up in the graph as it was before each chunk
    /// (resolve), assigns new ones on one thread and applies evidence by id range:
    /// learning a batch on top of an existing graph, then a second one overlapping it,
    /// must give the same graph *and* the same rows to write as the sequential path.
    #[test]
    fn parallel_merge_on_a_grown_graph_writes_the_same_rows(
        n in 1usize..300, seed in 0u64..1000, workers in 2usize..5, chunk in 1usize..80,
        vocab in 5usize..200,
    ) {
        let first = synth::statements(n, vocab, seed);
        let mut second = synth::statements(n, vocab, seed + 1);
        for s in &mut second {
            s.id = GeoidId(format!("b{}", s.id.0));
        }
        second.extend(first.iter().take(n / 3).cloned());
        let run = |w: usize| {
            let l = Learner::new(LearnOptions {
                workers: w,
                chunk,
                parallel_threshold: 1,
            })
            .unwrap();
            let mut g = Graph::new();
            l.learn_batch(&mut g, &first, |_| {});
            let d1 = g.take_delta();
            l.learn_batch(&mut g, &second, |_| {});
            (g.take_delta(), d1, g)
        };
        let (seq2, seq1, seq) = run(1);
        let (par2, par1, par) = run(workers);
        prop_assert!(par == seq);
        for c in 0..seq.counts().concepts as u32 {
            prop_assert_eq!(par.edges(c), seq.edges(c));
        }
        prop_assert_eq!(par1, seq1);
        prop_assert_eq!(par2, seq2);
    }
}

#[test]
fn a_failing_or_panicking_statement_costs_only_itself() {
    let batch: Vec<Statement> = (0..200)
        .map(|i| {
            let t = match i {
                13 => "PANIC here".to_string(),
                77 => "ERROR here".to_string(),
                _ => format!("Thing{i} is a widget."),
            };
            s(&format!("id{i}"), &t)
        })
        .collect();
    let picky = |text: &str, lang: &str| -> Result<Extraction, ExtractError> {
        if text.starts_with("PANIC") {
            panic!("boom on {text}");
        }
        if text.starts_with("ERROR") {
            return Err(ExtractError::TooLong(text.len()));
        }
        extract(text, lang)
    };
    let mut results = Vec::new();
    for workers in [1, 2] {
        let mut g = Graph::new();
        let mut last = None;
        let r = learner(workers, 16).learn_batch_with(&mut g, &batch, &picky, |p| last = Some(*p));
        assert_eq!(r.learned, 198);
        assert_eq!(r.errors.len(), 2);
        assert_eq!((r.errors[0].id.as_str(), r.errors[0].index), ("id13", 13));
        assert!(
            r.errors[0].message.contains("panicked: boom on PANIC here"),
            "{}",
            r.errors[0].message
        );
        assert_eq!(r.errors[1].id.as_str(), "id77");
        assert!(r.errors[1].message.contains("over the limit"));
        let last = last.unwrap();
        assert_eq!((last.done, last.total, last.errors), (200, 200, 2));
        assert!(
            !g.is_learned(&GeoidId("id13".into())),
            "a failed statement can be retried"
        );
        results.push(g);
    }
    assert!(results[0] == results[1]);
}

#[test]
fn parallel_learning_skips_what_it_learned_and_retries_a_repeat_whose_first_failed() {
    let mut batch = synth::statements(500, 60, 4);
    // the same id twice: the first copy fails, the second must be learned
    batch.insert(10, s("twice", "ERROR first copy"));
    batch.insert(300, s("twice", "Zorbl is a widget."));
    let picky = |text: &str, lang: &str| -> Result<Extraction, ExtractError> {
        if text.starts_with("ERROR") {
            return Err(ExtractError::TooLong(text.len()));
        }
        extract(text, lang)
    };
    let mut graphs = Vec::new();
    for workers in [1, 2, 3] {
        let l = learner(workers, 32);
        let mut g = Graph::new();
        let r = l.learn_batch_with(&mut g, &batch, &picky, |_| {});
        assert_eq!((r.errors.len(), r.errors[0].index), (1, 10));
        assert!(g.is_learned(&GeoidId("twice".into())));
        assert!(batch.iter().skip(11).all(|x| g.is_learned(&x.id)));
        let snapshot = g.clone();
        let again = l.learn_batch_with(&mut g, &batch, &picky, |_| {});
        // "twice" is learned now: neither copy is extracted again
        assert_eq!(
            (again.learned, again.errors.len()),
            (0, 0),
            "workers {workers}"
        );
        assert!(g == snapshot);
        graphs.push(g);
    }
    assert!(graphs[0] == graphs[1] && graphs[0] == graphs[2]);
}

#[test]
fn learning_twice_is_idempotent_but_new_sources_strengthen() {
    let batch = vec![s("a", "A cat is a mammal."), s("b", "Cats are mammals.")];
    let l = learner(1, 8);
    let mut g = Graph::new();
    l.learn_batch(&mut g, &batch, |_| {});
    let (cat, mammal) = (
        g.concept_id("cat").unwrap(),
        g.concept_id("mammal").unwrap(),
    );
    let id = g.association_id(cat, Relation::IsA, None, mammal).unwrap();
    let before = g.association(id).clone();
    assert_eq!(before.count, 2);
    assert!(
        (before.strength - (1.0 - 0.1 * 0.4)).abs() < 1e-6,
        "noisy-or of 0.9 and 0.6"
    );

    let snapshot = g.clone();
    let r = l.learn_batch(&mut g, &batch, |_| {});
    assert_eq!((r.learned, r.already_known), (0, 2));
    assert!(g == snapshot, "nothing changed");

    // the same text from another source is new evidence
    l.learn_batch(&mut g, &[s("c", "A cat is a mammal.")], |_| {});
    let after = g.association(id);
    assert_eq!(after.count, 3);
    assert!(after.strength > before.strength);
    assert_eq!(g.association_sources(id).len(), 3);
}

#[test]
fn graph_persists_in_batches_and_resumes_identically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let batch = synth::statements(3_000, 200, 9);
    let whole = learn(1, 512, &batch);

    // learn in three batches, saving after each, reopening the store in between
    for part in batch.chunks(1_000) {
        let mut store = Store::open(&path).unwrap();
        let mut g = Graph::load(&store, true).unwrap();
        learner(2, 128).learn_batch(&mut g, part, |_| {});
        g.save(&mut store).unwrap();
    }
    let store = Store::open(&path).unwrap();
    let loaded = Graph::load(&store, true).unwrap();
    assert!(loaded == whole, "saved in batches == learned at once");
    store.check_graph().unwrap();
    let c = store.counts().unwrap();
    assert_eq!(c.associations, whole.counts().associations);

    // re-learning everything against the stored graph writes nothing new
    let mut store = Store::open(&path).unwrap();
    let mut g = Graph::load(&store, true).unwrap();
    let r = learner(2, 128).learn_batch(&mut g, &batch, |_| {});
    assert_eq!(r.already_known, 3_000);
    assert!(g.take_delta().is_empty());
    g.save(&mut store).unwrap();
    assert!(Graph::load(&store, true).unwrap() == whole);
}

/// What `kimera learn` does per page with a bounded graph: skip what the store has
/// learned, learn the rest, write the delta.
fn learn_page(store: &mut Store, g: &mut Graph, l: &Learner, page: &[Statement]) -> u64 {
    let known = store.learned_flags(page.iter().map(|s| &s.id)).unwrap();
    let fresh: Vec<Statement> = page
        .iter()
        .zip(known)
        .filter(|(_, k)| !k)
        .map(|(s, _)| s.clone())
        .collect();
    let r = l.learn_batch(g, &fresh, |_| {});
    let delta = g.take_delta();
    // provenance in the store's key order (the order read_graph gives it back in)
    assert!(delta.sources.is_sorted());
    store.write_graph(&delta).unwrap();
    r.learned
}

#[test]
fn a_bounded_graph_learning_page_by_page_writes_the_same_store() {
    let mut batch = synth::statements(3_000, 200, 11);
    // repeats inside a page and across pages
    let again: Vec<Statement> = batch[100..400].to_vec();
    batch.splice(1_500..1_500, again);
    batch.extend(batch[2_000..2_100].to_vec());

    // reference: one in-memory graph that keeps its provenance, saved once
    let mut whole = learn(1, 512, &batch);
    let mut reference = Store::open_in_memory().unwrap();
    whole.save(&mut reference).unwrap();
    let want = reference.read_graph(true).unwrap();
    assert_eq!(want.learned.len(), 3_000);

    for (workers, page) in [(1, 1_000), (2, 777), (2, 3_400), (3, 64)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let l = learner(workers, 128);
        let mut learned = 0;
        // each part a separate "invocation": the store is reopened, the graph reloaded
        for part in batch.chunks(1_300) {
            let mut store = Store::open(&path).unwrap();
            let mut g = Graph::load_bounded(&store).unwrap();
            for p in part.chunks(page) {
                learned += learn_page(&mut store, &mut g, &l, p);
                // nothing of the input stays in memory between pages
                assert!(g.sources().is_empty());
                let n = g.associations().len() as u32;
                assert!((0..n).all(|a| g.association_sources(a).is_empty()));
            }
            assert_eq!(g.counts().statements, store.learned_count().unwrap() as u64);
        }
        assert_eq!(learned, 3_000, "workers {workers} page {page}");
        let mut store = Store::open(&path).unwrap();
        assert_eq!(
            store.read_graph(true).unwrap(),
            want,
            "workers {workers} page {page}"
        );
        store.check_graph().unwrap();

        // learning everything again writes nothing
        let mut g = Graph::load_bounded(&store).unwrap();
        assert_eq!(learn_page(&mut store, &mut g, &l, &batch), 0);
        assert_eq!(store.read_graph(true).unwrap(), want);
        let c = g.counts();
        let w = whole.counts();
        assert_eq!(c, w, "counts of a bounded graph equal those of a full one");
    }
}

#[test]
fn bounded_and_full_graphs_give_the_same_deltas() {
    let batch = synth::statements(2_000, 150, 5);
    for workers in [1, 2] {
        let l = learner(workers, 100);
        let (mut full, mut bounded) = (Graph::new(), Graph::bounded());
        for part in batch.chunks(600) {
            l.learn_batch(&mut full, part, |_| {});
            l.learn_batch(&mut bounded, part, |_| {});
            assert_eq!(bounded.take_delta(), full.take_delta());
        }
        assert_eq!(bounded.concepts(), full.concepts());
        for (id, (b, f)) in bounded
            .associations()
            .iter()
            .zip(full.associations())
            .enumerate()
        {
            assert_eq!(
                (b.strength.to_bits(), b.count),
                (f.strength.to_bits(), f.count)
            );
            assert_eq!(bounded.association_sources(id as u32).len(), 0);
            assert_eq!(full.association_sources(id as u32).len() as u32, f.count);
        }
        assert_eq!(bounded.counts(), full.counts());
        assert!(full.keeps_sources() && !bounded.keeps_sources());
    }
}

/// A store holding the graph of one learned fact, then damaged by `sql`.
fn stored_graph_damaged_by(sql: &str) -> Store {
    let mut store = Store::open_in_memory().unwrap();
    let mut g = learn(1, 8, &[s("a", "A cat is a mammal.")]);
    g.save(&mut store).unwrap();
    store.conn().execute(sql, []).unwrap();
    store
}

#[test]
fn a_stored_graph_with_a_gap_in_its_statement_ids_is_refused() {
    let store = stored_graph_damaged_by("INSERT INTO learned (id, geoid) VALUES (5, 'gx')");
    let err = Graph::load_bounded(&store).unwrap_err().to_string();
    assert!(err.contains("2 rows but its ids run to 6"), "{err}");
}

#[test]
fn corrupt_stored_graph_is_refused_with_the_row() {
    let store = stored_graph_damaged_by("UPDATE associations SET kind = 'loves' WHERE id = 0");
    let err = Graph::load(&store, true).unwrap_err().to_string();
    assert!(err.contains("associations.kind \"loves\""), "{err}");
}

fn hand_made() -> Graph {
    learn(
        1,
        8,
        &[
            s("1", "Smoking causes cancer."),
            s("2", "Smoking causes cancer."),
            s("3", "Cancer is a disease."),
            s("4", "Tar is part of smoking."),
            s("5", "A disease is a condition."),
            s("6", "Tobacco contains tar."),
        ],
    )
}

#[test]
fn paths_explain_strongest_first() {
    let g = hand_made();
    let (tar, disease) = (g.find("tar").unwrap(), g.find("disease").unwrap());
    let p = paths(&g, tar, disease, 3, 5);
    assert!(!p.is_empty());
    let kinds: Vec<Relation> = p[0].steps.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [Relation::PartOf, Relation::Causes, Relation::IsA]);
    let terms: Vec<&str> = p[0].steps.iter().map(|s| s.to.as_str()).collect();
    assert_eq!(terms, ["smoking", "cancer", "disease"]);
    assert!(p.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(paths(&g, tar, disease, 2, 5).is_empty(), "needs three hops");
    let condition = g.find("condition").unwrap();
    // tobacco -> tar (contains, walked backwards) -> smoking -> cancer -> disease -> condition: 5 hops
    assert!(paths(&g, g.find("tobacco").unwrap(), condition, 4, 1).is_empty());
    let p5 = paths(&g, g.find("tobacco").unwrap(), condition, 5, 1);
    assert_eq!(p5[0].steps.len(), 5);
    assert!(
        !p5[0].steps[0].forward,
        "tar part-of tobacco, walked from tobacco"
    );
}

#[test]
fn concept_and_related_views() {
    let g = hand_made();
    let smoking = g.find("Smoking").unwrap();
    let v = concept_view(&g, smoking, 10, 5);
    let causes = v.out.iter().find(|e| e.kind == Relation::Causes).unwrap();
    assert_eq!((causes.other.as_str(), causes.count), ("cancer", 2));
    assert_eq!(
        causes.sources,
        vec![GeoidId("1".into()), GeoidId("2".into())]
    );
    assert!(
        v.inbound
            .iter()
            .any(|e| e.kind == Relation::PartOf && e.other == "tar")
    );
    let r = related(&g, smoking, 3);
    assert_eq!(r[0].term, "cancer");
    assert!(r[0].kinds.contains(&Relation::Causes));
    let one = concept_view(&g, smoking, 1, 0);
    assert!(one.out.iter().all(|e| e.sources.is_empty()));
}

#[test]
fn embedding_neighbours_rank_the_concepts_of_the_nearest_statements() {
    let g = hand_made();
    let smoking = g.find("smoking").unwrap();
    let hits = [
        ("Tar is part of smoking.", "en", 0.6f32),
        ("Smoking causes cancer.", "en", 0.9),
        ("Cancer is a disease.", "en", 0.5),
        ("Unicorns fly.", "en", 0.95),
        ("", "en", 0.99),
    ];
    let n = embedding_neighbours(&g, smoking, hits, &[], 10);
    let got: Vec<(&str, f64, &str)> = n
        .iter()
        .map(|x| (x.term.as_str(), x.score, x.example.as_deref().unwrap()))
        .collect();
    // the query concept and terms the graph does not know are left out; each concept
    // scores its nearest statement
    assert_eq!(
        got,
        vec![
            ("cancer", f64::from(0.9f32), "Smoking causes cancer."),
            ("cause", f64::from(0.9f32), "Smoking causes cancer."),
            ("part", f64::from(0.6f32), "Tar is part of smoking."),
            ("tar", f64::from(0.6f32), "Tar is part of smoking."),
            ("disease", f64::from(0.5f32), "Cancer is a disease."),
        ]
    );
    assert!(n.iter().all(|x| x.via == "embedding" && x.kinds.is_empty()));
    let skipped = embedding_neighbours(&g, smoking, hits, &["cancer", "cause"], 1);
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].term, "part");
    assert!(embedding_neighbours(&g, smoking, [], &[], 5).is_empty());
}

#[test]
fn planted_conflicting_facts_are_found_with_evidence() {
    let mut batch = synth::statements(2_000, 500, 3);
    // remove the generator's own accidental conflicts from the picture by using
    // entities it never produces
    batch.extend([
        s("cap1", "The capital of Zedland is Paris."),
        s("cap2", "Lyon is the capital of Zedland."),
        s("pop1", "Yorkton has a population of 2.1 million."),
        s("pop2", "The population of Yorkton is 3,400,000."),
        s("pop3", "Yorkton has population 2,100,000."),
        s("opp0", "Alive is the opposite of dead."),
        s("opp1", "Schrodingercat is alive."),
        s("opp2", "Schrodingercat is dead."),
        s("ord1", "The flood happened before the famine."),
        s("ord2", "The famine happened before the flood."),
    ]);
    let g = learn(2, 256, &batch);
    let found = find_conflicts(&g);
    let has = |a: &str, b: &str| {
        found
            .iter()
            .find(|(x, y, _)| x.as_str() == a && y.as_str() == b)
            .map(|t| t.2.clone())
    };
    let c = has("cap1", "cap2").expect("two capitals");
    assert_eq!(c.evidence["rule"], "attribute");
    assert_eq!(c.evidence["attribute"], "capital");
    assert!(has("pop1", "pop2").is_some() && has("pop2", "pop3").is_some());
    assert!(has("pop1", "pop3").is_none(), "2.1 million == 2,100,000");
    let o = has("opp1", "opp2").expect("alive vs dead");
    assert_eq!(o.evidence["rule"], "opposite");
    assert_eq!(
        o.evidence["opposite"]["kind"], "opposite-of",
        "learned, not built in"
    );
    assert_eq!(has("ord1", "ord2").unwrap().evidence["rule"], "order");
    assert!(
        found
            .iter()
            .all(|(a, b, c)| a < b && c.score > 0.0 && c.score <= 1.0)
    );

    // pairwise API agrees, and is silent on agreeing or unrelated statements
    let st = |id: &str| batch.iter().find(|x| x.id.as_str() == id).unwrap();
    let c = fact_conflicts(&g, st("pop1"), st("pop2")).unwrap();
    assert_eq!(
        c.evidence["values"],
        serde_json::json!(["2100000", "3400000"])
    );
    assert_eq!(
        c.evidence["associations"][0]["count"], 2,
        "pop1 and pop3 agree"
    );
    assert!(fact_conflicts(&g, st("pop1"), st("pop3")).is_none());
    assert!(fact_conflicts(&g, st("cap1"), st("ord1")).is_none());
    assert!(fact_conflicts(&g, st("opp1"), st("opp2")).is_some());
    // built-in antonyms work without a learned opposite-of
    let empty = Graph::new();
    let hot = s("h", "The soup is hot.");
    let cold = s("c", "The soup is cold.");
    let c = fact_conflicts(&empty, &hot, &cold).unwrap();
    assert_eq!(
        c.evidence["opposite"]["builtin"],
        serde_json::json!(["hot", "cold"])
    );
    assert!(fact_conflicts(&empty, &hot, &s("w", "The soup is warm.")).is_none());
}

/// The `shared/data` folder beside the repository, or `None` (with a notice) when it
/// is missing outside CI; missing under CI=true is a failure.
fn shared_data() -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{} is missing and CI=true", p.display());
    }
    println!("skipped: {} is missing", p.display());
    None
}

#[test]
fn real_sick_sentences_learn_identically_in_parallel() {
    let Some(data) = shared_data() else { return };
    let tsv = std::fs::read_to_string(data.join("sick/sick_trial.tsv")).unwrap();
    let mut batch = Vec::new();
    for (i, line) in tsv.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        for (j, text) in cols.iter().skip(1).take(2).enumerate() {
            batch.push(Statement {
                id: GeoidId(format!("sick:{i}:{j}")),
                text: text.to_string(),
                lang: "en".into(),
                seen_at: i as i64,
            });
        }
    }
    assert!(batch.len() > 900);
    let seq = learn(1, 1024, &batch);
    let par = learn(2, 64, &batch);
    assert!(par == seq);
    assert_eq!(seq.counts().statements as usize, batch.len());
    // SICK is about people doing things: "man" must be a well-connected concept
    let man = seq.find("man").unwrap();
    assert!(seq.edges(man).len() > 50);
    assert!(seq.concept(man).count > 100);
}
