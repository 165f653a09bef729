//! End-to-end: report files, resume after an interruption, bad input, real data.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use kimera_bench::{
    BenchError, BootstrapOptions, DetectorOutput, Outcome, PairMeta, ReportOptions, ResultsWriter,
    files, read_results, read_summary, resume, run_report,
};

fn opts() -> ReportOptions {
    ReportOptions {
        dataset: Some("synthetic".into()),
        bootstrap: BootstrapOptions {
            resamples: 1000,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn synthetic(n: usize) -> Vec<DetectorOutput> {
    common::outputs(&common::pairs(n, 11), 12)
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn report_files_exist_and_parse() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = synthetic(300);
    let summary = run_report(&outputs, dir.path(), &opts()).unwrap();

    // summary.json holds exactly the returned summary.
    assert_eq!(
        read_summary(dir.path().join(files::SUMMARY)).unwrap(),
        summary
    );
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join(files::SUMMARY)).unwrap())
            .unwrap();
    assert_eq!(json["n_pairs"], 300);
    assert_eq!(json["detectors"][0]["name"], "baseline");

    // results.csv holds every row, one per (pair, detector).
    let rows = read_results(dir.path().join(files::RESULTS)).unwrap();
    assert_eq!(rows.len(), outputs.len());
    let text = fs::read_to_string(dir.path().join(files::RESULTS)).unwrap();
    assert_eq!(text.lines().count(), outputs.len() + 1);

    // The summary is what the rows say.
    let names: Vec<&str> = summary.detectors.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, common::DETECTORS);
    assert_eq!(summary.n_pairs, 300);
    assert_eq!(summary.comparisons.len(), 6);
    let llm = &summary.detectors[3];
    let failed = outputs
        .iter()
        .filter(|o| o.detector == "llm" && matches!(o.outcome, Outcome::Failed { .. }))
        .count();
    assert!(failed > 0);
    assert_eq!(
        (llm.n_errors, llm.n_scored, llm.n_missing),
        (failed, 300 - failed, 0)
    );
    assert_eq!(llm.latency_ms.unwrap().n, 300);
    let ci = llm.ci.as_ref().unwrap();
    assert!(ci.f1.low <= llm.f1 && llm.f1 <= ci.f1.high);
    assert!(llm.auc.unwrap() > summary.detectors[0].auc.unwrap());

    // report.md has the tables a person reads first.
    let md = fs::read_to_string(dir.path().join(files::REPORT)).unwrap();
    for heading in [
        "# Contradiction benchmark: synthetic",
        "## Detectors",
        "## Which detector is better?",
        "## Confusion matrices",
        "### By length",
        "### By language",
        "### By pair type",
        "## Latency per pair",
    ] {
        assert!(md.contains(heading), "report.md lacks {heading}");
    }
    let main_table: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("| detector | scored"))
        .take(6)
        .collect();
    assert_eq!(main_table.len(), 6);
    assert!(main_table[5].starts_with("| llm | "));
    assert!(main_table[5].contains(&format!(
        "{:.3} [{:.3}, {:.3}]",
        llm.f1, ci.f1.low, ci.f1.high
    )));

    // Every plot is a real PNG of a sensible size.
    for name in files::PLOTS {
        let (w, h) = png_size(&dir.path().join(name));
        assert!(w >= 600 && h >= 400, "{name} is {w}x{h}");
        assert!(
            md.contains(&format!("]({name})")),
            "report.md does not show {name}"
        );
    }
    // No temporary files are left behind.
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn resume_after_interruption_gives_the_same_summary() {
    let outputs = synthetic(200);
    let one_shot = tempfile::tempdir().unwrap();
    let want = run_report(&outputs, one_shot.path(), &opts()).unwrap();

    // A run that is killed after 40% of the rows, in the middle of writing a line.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join(files::RESULTS);
    let cut = outputs.len() * 2 / 5;
    let mut w = ResultsWriter::create(&csv).unwrap();
    for out in &outputs[..cut] {
        w.write(out).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let mut f = fs::OpenOptions::new().append(true).open(&csv).unwrap();
    f.write_all(b"pair-00199,llm,false,en,neutral,3").unwrap();
    drop(f);

    // The resumed run skips what is done and appends the rest.
    let (mut w, done) = ResultsWriter::resume(&csv).unwrap();
    assert!(done.torn_tail);
    assert_eq!(done.done_count(), cut);
    let mut redone = 0;
    for out in &outputs {
        if !done.is_done(&out.pair.key, &out.detector) {
            w.write(out).unwrap();
            redone += 1;
        }
    }
    w.flush().unwrap();
    drop(w);
    assert_eq!(redone, outputs.len() - cut);

    let rows = read_results(&csv).unwrap();
    assert_eq!(rows.len(), outputs.len());
    let got = run_report(&rows, dir.path(), &opts()).unwrap();
    assert_eq!(got, want);
    for name in [files::RESULTS, files::SUMMARY, files::REPORT] {
        assert_eq!(
            fs::read(dir.path().join(name)).unwrap(),
            fs::read(one_shot.path().join(name)).unwrap(),
            "{name} differs"
        );
    }
}

#[test]
fn retried_failures_replace_the_failed_rows() {
    let outputs = synthetic(120);
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join(files::RESULTS);
    let mut w = ResultsWriter::create(&csv).unwrap();
    for out in &outputs {
        w.write(out).unwrap();
    }
    drop(w);
    let (mut w, done) = ResultsWriter::resume(&csv).unwrap();
    let failed = done.failed();
    assert!(!failed.is_empty());
    for out in &outputs {
        if !done.is_scored(&out.pair.key, &out.detector) {
            let retried = DetectorOutput::scored(out.pair.clone(), &out.detector, 0.5, true, 900.0);
            w.write(&retried).unwrap();
        }
    }
    drop(w);
    let rows = read_results(&csv).unwrap();
    assert_eq!(rows.len(), outputs.len() + failed.len());
    assert!(resume(&csv).unwrap().failed().is_empty());
    let s = run_report(&rows, dir.path(), &opts()).unwrap();
    assert_eq!(s.replaced_rows, failed.len());
    assert_eq!(s.detectors[3].n_errors, 0);
    assert_eq!(s.detectors[3].n_scored, 120);
    // The rewritten results.csv keeps only the latest row of each (pair, detector).
    assert_eq!(read_results(&csv).unwrap().len(), outputs.len());
}

#[test]
fn summary_does_not_depend_on_threads_or_row_order() {
    let outputs = synthetic(150);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let o = ReportOptions {
        plots: false,
        ..opts()
    };
    let a = one
        .install(|| kimera_bench::summarize(&outputs, &o))
        .unwrap();
    let mut reversed = outputs.clone();
    reversed.reverse();
    let b = three
        .install(|| kimera_bench::summarize(&reversed, &o))
        .unwrap();
    assert_eq!(a, b);
}

fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn bad_input_is_refused_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let outputs = synthetic(60);
    run_report(
        &outputs,
        dir.path(),
        &ReportOptions {
            plots: false,
            ..opts()
        },
    )
    .unwrap();
    let before = files_in(dir.path());

    // The same pair with two gold labels.
    let mut bad = outputs.clone();
    bad[5].pair.gold = !bad[5].pair.gold;
    let err = run_report(&bad, dir.path(), &opts()).unwrap_err();
    assert!(
        matches!(err, BenchError::InconsistentPair { ref field, .. } if field == "gold"),
        "{err}"
    );
    assert!(err.to_string().contains(&bad[5].pair.key), "{err}");

    // A score out of range.
    let mut bad = outputs.clone();
    bad[7].outcome = Outcome::Scored {
        score: 1.2,
        verdict: true,
    };
    let err = run_report(&bad, dir.path(), &opts())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("score") && err.contains(&bad[7].pair.key) && err.contains(&bad[7].detector),
        "{err}"
    );

    // Too few resamples for a 95% interval.
    let few = ReportOptions {
        bootstrap: BootstrapOptions {
            resamples: 10,
            ..Default::default()
        },
        ..opts()
    };
    let err = run_report(&outputs, dir.path(), &few).unwrap_err();
    assert!(matches!(err, BenchError::InvalidOption { .. }), "{err}");

    assert_eq!(
        files_in(dir.path()),
        before,
        "a refused report changed files"
    );

    // An output directory that cannot be created names the path.
    let blocker = dir.path().join("a-file");
    fs::write(&blocker, "x").unwrap();
    let err = run_report(&outputs, blocker.join("sub"), &opts())
        .unwrap_err()
        .to_string();
    assert!(err.contains("a-file"), "{err}");
}

#[test]
fn empty_and_one_class_runs_still_report() {
    let dir = tempfile::tempdir().unwrap();
    let s = run_report(&[], dir.path(), &opts()).unwrap();
    assert_eq!((s.n_pairs, s.detectors.len()), (0, 0));
    for name in files::PLOTS {
        png_size(&dir.path().join(name));
    }

    // Only non-contradictions: no AUC, no AP, no best threshold, but a report.
    let pairs: Vec<PairMeta> = common::pairs(40, 3)
        .into_iter()
        .map(|p| PairMeta { gold: false, ..p })
        .collect();
    let outputs = common::outputs(&pairs, 4);
    let s = run_report(&outputs, dir.path(), &opts()).unwrap();
    assert_eq!(s.n_positive, 0);
    assert!(
        s.detectors
            .iter()
            .all(|d| d.auc.is_none() && d.average_precision.is_none() && d.best_f1.is_none())
    );
    let md = fs::read_to_string(dir.path().join(files::REPORT)).unwrap();
    assert!(md.contains("| baseline | 40 | 0 |"), "{md}");
}

/// `../../../shared/data` from the crate directory: the `shared` folder beside the repo.
fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("shared data missing at {} while CI=true", dir.display());
    }
    eprintln!("skipped: shared data not found at {}", dir.display());
    None
}

/// Two simple detectors on SICK trial: the harness on real labels and real text lengths.
#[test]
fn sick_trial_report_with_simple_rules() {
    let Some(data) = shared_data() else { return };
    let text = fs::read_to_string(data.join("sick/sick_trial.tsv")).unwrap();
    let mut outputs = Vec::new();
    let mut contradictions = 0;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (a, b, label) = (f[1], f[2], f[3]);
        let gold = label == "CONTRADICTION";
        contradictions += usize::from(gold);
        let pair = PairMeta {
            key: format!("sick-{}", f[0]),
            gold,
            lang: Some("en".into()),
            kind: Some(label.to_lowercase()),
            len_a: a.chars().count() as u32,
            len_b: b.chars().count() as u32,
        };
        let words = |s: &str| {
            s.to_lowercase()
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let (wa, wb) = (words(a), words(b));
        let neg = |w: &[String]| {
            w.iter()
                .filter(|t| {
                    ["no", "not", "nobody", "none", "never", "isn't", "aren't"]
                        .contains(&t.as_str())
                })
                .count()
        };
        let negation = if neg(&wa) != neg(&wb) { 0.9 } else { 0.1 };
        outputs.push(DetectorOutput::scored(
            pair.clone(),
            "lexical",
            negation,
            negation >= 0.5,
            0.01,
        ));
        let overlap =
            wa.iter().filter(|w| wb.contains(w)).count() as f64 / wa.len().max(wb.len()) as f64;
        outputs.push(DetectorOutput::scored(
            pair,
            "baseline",
            1.0 - overlap,
            overlap < 0.3,
            0.01,
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let s = run_report(&outputs, dir.path(), &opts()).unwrap();
    assert_eq!(s.n_pairs, 495);
    assert_eq!(s.n_positive, contradictions);
    let lexical = &s.detectors[1];
    assert_eq!(lexical.name, "lexical");
    // Negation mismatch is the classic SICK contradiction cue: far better than chance.
    assert!(lexical.auc.unwrap() > 0.75, "{:?}", lexical.auc);
    assert!(s.comparisons[0].mcnemar.p_value < 0.05);
    assert_eq!(lexical.by_kind.len(), 3);
}
