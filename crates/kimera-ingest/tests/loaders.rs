//! Every format, good and bad input, through the public API.

use std::path::{Path, PathBuf};

use kimera_ingest::{Format, IngestOptions, IngestSummary, SkipReason, ingest_paths, read_pairs};
use kimera_store::Store;

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn ingest(store: &mut Store, paths: &[PathBuf], opts: &IngestOptions) -> IngestSummary {
    ingest_paths(store, paths, opts, &|_, _, _| {}).unwrap()
}

fn texts(store: &Store) -> Vec<String> {
    store
        .geoids_after(0, 1_000_000)
        .unwrap()
        .into_iter()
        .map(|g| g.text)
        .collect()
}

#[test]
fn statements_csv_with_quotes_and_unicode() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "s.csv",
        "text,lang\n\"The cat sat, quietly, on the mat.\",en\nLe chat est assis.,fr\nالأرض مسطحة.,ar\n\"He said \"\"no\"\".\",en\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[p], &IngestOptions::default());
    assert_eq!((r.rows, r.geoids.inserted, r.bad_rows), (4, 4, 0));
    assert_eq!(r.files[0].format, Some(Format::Statements));
    assert_eq!(
        texts(&s),
        vec![
            "The cat sat, quietly, on the mat.",
            "Le chat est assis.",
            "الأرض مسطحة.",
            "He said \"no\"."
        ]
    );
    let langs: Vec<String> = s
        .geoids_after(0, 10)
        .unwrap()
        .into_iter()
        .map(|g| g.lang)
        .collect();
    assert_eq!(langs, vec!["en", "fr", "ar", "en"]);
    let src = &s.geoids_after(0, 10).unwrap()[1].source;
    assert!(src.ends_with("s.csv:3"), "{src}");
}

#[test]
fn linked_statements_keep_ids_and_become_contradiction_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "l.csv",
        "id,lang,text,label_contradict_id\nx1,en,London is the capital of England.,x2\nx2,en,London is the capital of France.,x1\nx3,en,Snow is white.,\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, std::slice::from_ref(&p), &IngestOptions::default());
    assert_eq!(
        (r.geoids.inserted, r.pairs.inserted),
        (3, 1),
        "the two-sided link is one pair"
    );
    let pairs = s.labelled_pairs(0).unwrap();
    assert_eq!((pairs[0].a.as_str(), pairs[0].b.as_str()), ("x1", "x2"));
    assert_eq!(pairs[0].gold.as_deref(), Some("contradiction"));
    let g = s.geoid(&"x3".into()).unwrap().unwrap();
    assert_eq!((g.external_id.as_deref(), g.label), (Some("x3"), None));
    let file = read_pairs(&p, None).unwrap();
    assert_eq!(file.pairs.len(), 1);
    assert_eq!(file.pairs[0].text_b, "London is the capital of France.");
}

#[test]
fn kimera_pairs_and_sick_become_geoids_and_labelled_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let k = write(
        dir.path(),
        "k.csv",
        "pair_id,text1,text2,label,lang,type\n5,Snow is white,Snow is black,True,en,contradiction\n14,Trees have leaves,Computers process data,False,en,neutral\n",
    );
    let sick = write(
        dir.path(),
        "s.txt",
        "pair_ID\tsentence_A\tsentence_B\tentailment_label\trelatedness_score\tSemEval_set\n4\tThe boy is playing \"outdoors\"\tThere is no boy playing outdoors\tCONTRADICTION\t3.6\tTRIAL\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[k, sick.clone()], &IngestOptions::default());
    assert_eq!((r.geoids.inserted, r.pairs.inserted, r.bad_rows), (6, 3, 0));
    assert_eq!(r.files[1].format, Some(Format::Sick));
    let pairs = s.labelled_pairs(0).unwrap();
    let golds: Vec<_> = pairs.iter().map(|p| p.gold.clone().unwrap()).collect();
    assert_eq!(golds, vec!["contradiction", "neutral", "contradiction"]);
    assert_eq!(
        pairs[2].text_a, "The boy is playing \"outdoors\"",
        "SICK quotes are text, not CSV quoting"
    );
    assert_eq!(pairs[0].pair_id.as_deref(), Some("5"));
    assert_eq!(read_pairs(&sick, None).unwrap().pairs[0].lang, "en");
}

#[test]
fn jsonl_statements_and_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "a.jsonl",
        concat!(
            "{\"text\": \"Fire is hot\", \"lang\": \"en\", \"id\": \"f1\"}\n",
            "\n",
            "{\"text1\": \"Ice is cold\", \"text2\": \"Ice is hot\", \"label\": true}\n",
            "{\"text\": \"Un énoncé 🔥\", \"lang\": \"fr\"}\n",
        ),
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[p], &IngestOptions::default());
    assert_eq!(
        (r.rows, r.geoids.inserted, r.pairs.inserted, r.bad_rows),
        (3, 4, 1, 0)
    );
    assert!(s.geoid(&"f1".into()).unwrap().is_some());
    assert!(texts(&s).contains(&"Un énoncé 🔥".to_string()));
}

#[test]
fn text_and_markdown_are_split_into_sentences() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(
        dir.path(),
        "notes.txt",
        "Mr. Smith lives in Paris. He is a baker.\n\nThe shop\nopens at 8.\n",
    );
    let m = write(
        dir.path(),
        "notes.md",
        "# Facts\n\n- The Nile is long.\n\n```\ncode here.\n```\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let opts = IngestOptions {
        default_lang: "en".into(),
        ..Default::default()
    };
    let r = ingest(&mut s, &[t.clone(), m.clone()], &opts);
    assert_eq!(r.bad_rows, 0);
    assert_eq!(
        texts(&s),
        vec![
            "Mr. Smith lives in Paris.",
            "He is a baker.",
            "The shop opens at 8.",
            "The Nile is long."
        ]
    );
    // the heading and the code are not claims: counted per reason, per file and in total
    assert_eq!(r.skipped.get(SkipReason::Heading), 1);
    assert_eq!(r.skipped.get(SkipReason::Code), 3);
    assert_eq!(r.skipped_total, 4);
    assert_eq!(r.files[0].skipped.total(), 0);
    assert_eq!(r.files[1].skipped.total(), 4);
    assert_eq!(r.rows, 4);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["skipped"]["heading"], 1);
    assert_eq!(json["files"][1]["skipped"]["code"], 3);
    let rows = s.geoids_after(0, 10).unwrap();
    assert!(
        rows[2].source.ends_with("notes.txt:3"),
        "{}",
        rows[2].source
    );
    assert_eq!(rows[0].lang, "en");
}

#[test]
fn keep_all_keeps_every_sentence_and_a_file_of_debris_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(
        dir.path(),
        "notes.md",
        "# Facts\n\n- The Nile is long.\n- No dependencies\n",
    );
    let debris = write(
        dir.path(),
        "toc.md",
        "## Contents\n\n- [Install](#install)\n- [Usage](#usage)\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let opts = IngestOptions {
        keep_all: true,
        ..Default::default()
    };
    let r = ingest(&mut s, std::slice::from_ref(&m), &opts);
    assert_eq!(
        texts(&s),
        vec!["Facts", "The Nile is long.", "No dependencies"]
    );
    assert_eq!(r.skipped_total, 0);

    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[m, debris], &IngestOptions::default());
    assert_eq!(texts(&s), vec!["The Nile is long."]);
    assert_eq!(r.failed_files, 0, "{:?}", r.files[1].failed);
    assert_eq!(r.files[1].rows, 0);
    assert_eq!(r.files[1].skipped.get(SkipReason::Heading), 1);
    assert_eq!(r.files[1].skipped.get(SkipReason::LinkOnly), 2);
    assert_eq!(r.skipped.get(SkipReason::NoVerb), 1);
}

#[test]
fn strict_mode_does_not_count_skipped_candidates_as_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let m = write(dir.path(), "a.md", "# Title\n\nSnow is white.\n");
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(
        &mut s,
        &[m],
        &IngestOptions {
            strict: true,
            ..Default::default()
        },
    );
    assert_eq!((r.failed_files, r.bad_rows), (0, 0));
    assert_eq!(texts(&s), vec!["Snow is white."]);
    assert_eq!(r.skipped.get(SkipReason::Heading), 1);
}

#[test]
fn directories_are_walked_in_order_skipping_docs_and_unknown_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    write(dir.path(), "b.csv", "text,lang\nB statement,en\n");
    write(
        &dir.path().join("sub"),
        "a.txt",
        "The sub folder is read.\n",
    );
    write(dir.path(), "README.md", "Not data.\n");
    write(dir.path(), "image.png", [0u8, 159, 146, 150]);
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(
        &mut s,
        &[dir.path().to_path_buf()],
        &IngestOptions::default(),
    );
    assert_eq!(r.files.len(), 2);
    assert_eq!(texts(&s), vec!["B statement", "The sub folder is read."]);
}

#[test]
fn concurrency_does_not_change_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for f in 0..6 {
        let mut c = String::from("text,lang\n");
        for i in 0..50 {
            c.push_str(&format!("file {f} statement {i},en\n"));
        }
        c.push_str("shared statement,en\n");
        paths.push(write(dir.path(), &format!("f{f}.csv"), c));
    }
    let dump = |max_concurrent: usize, batch_size: usize| {
        let mut s = Store::open_in_memory().unwrap();
        let opts = IngestOptions {
            max_concurrent,
            batch_size,
            ..Default::default()
        };
        let r = ingest(&mut s, &paths, &opts);
        let rows: Vec<(i64, String, String)> = s
            .geoids_after(0, 10_000)
            .unwrap()
            .into_iter()
            .map(|g| (g.seq, g.id.0, g.source))
            .collect();
        (rows, r.geoids)
    };
    let base = dump(1, 10_000);
    assert_eq!(base.1.inserted, 301);
    assert_eq!(base.1.duplicates, 5);
    for (c, b) in [(2, 7), (4, 1), (8, 50)] {
        assert_eq!(dump(c, b), base, "max_concurrent {c}, batch {b}");
    }
}

// ---------- bad input ----------

#[test]
fn malformed_rows_name_file_line_and_field_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(70 * 1024);
    let content = format!(
        "text,lang\nGood one,en\n,en\nBad lang,english!!\n\"{big}\",en\nOnly text\nGood two,en\n"
    );
    let p = write(dir.path(), "bad.csv", content);
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[p], &IngestOptions::default());
    assert_eq!(texts(&s), vec!["Good one", "Good two"]);
    assert_eq!(r.bad_rows, 4);
    let errs: Vec<String> = r.files[0].errors.iter().map(|e| e.to_string()).collect();
    assert!(
        errs[0].contains("bad.csv:3: field `text`: empty text"),
        "{errs:?}"
    );
    assert!(errs[1].contains("bad.csv:4: field `lang`"), "{errs:?}");
    assert!(
        errs[2].contains("bad.csv:5: field `text`") && errs[2].contains("byte limit"),
        "{errs:?}"
    );
    assert!(
        errs[3].contains("bad.csv:6: field `lang`: missing: the row has 1 field(s), the header 2"),
        "{errs:?}"
    );
}

/// A row with more fields than the header is malformed (an unquoted comma inside a
/// text): storing the named fields would keep half a sentence. Reported, skipped, and
/// under --strict the file is refused.
#[test]
fn a_row_with_more_fields_than_the_header_is_reported_not_cut() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "extra.csv",
        "text,lang\nextra,en,field\nGood,en\n\"Quoted, comma\",en\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, std::slice::from_ref(&p), &IngestOptions::default());
    assert_eq!(texts(&s), vec!["Good", "Quoted, comma"]);
    assert_eq!((r.rows, r.bad_rows), (3, 1));
    let e = r.files[0].errors[0].to_string();
    assert!(
        e.contains("extra.csv:2: the row has 3 fields, the header 2")
            && e.contains("unquoted comma"),
        "{e}"
    );
    let mut s = Store::open_in_memory().unwrap();
    let strict = IngestOptions {
        strict: true,
        ..Default::default()
    };
    let r = ingest(&mut s, &[p], &strict);
    assert_eq!((r.failed_files, s.counts().unwrap().geoids), (1, 0));
    // the same for SICK (tab-separated) and for the pairs format
    let sick = write(
        dir.path(),
        "s.tsv",
        "pair_ID\tsentence_A\tsentence_B\tentailment_label\n1\tA dog runs\tA dog\tsleeps\tNEUTRAL\n",
    );
    let pairs = write(
        dir.path(),
        "p.csv",
        "pair_id,text1,text2,label,lang,type\n1,A,B,True,en,contradiction,oops\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[sick, pairs], &IngestOptions::default());
    assert_eq!((r.bad_rows, s.counts().unwrap().geoids), (2, 0));
    assert!(
        r.files[0].errors[0]
            .to_string()
            .contains("s.tsv:2: the row has 5 fields, the header 4")
    );
    assert!(
        r.files[1].errors[0]
            .to_string()
            .contains("p.csv:2: the row has 7 fields, the header 6")
    );
}

/// A row after blank lines is reported on its own line (the csv crate's position is
/// where its search began: found by fuzzing), with `\n`, `\r\n` and no final break.
#[test]
fn rows_after_blank_lines_are_reported_on_their_own_line() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, line) in [
        ("a.csv", "text,lang\nA,en\n\nB,xx!\n", 4),
        ("b.csv", "text,lang\nA,en\n\n\nB,xx!", 5),
        ("c.csv", "text,lang\r\nA,\"e\nn\"\r\n\r\n\nB,xx!\r\n", 6),
        (
            "d.tsv",
            "pair_ID\tsentence_A\tsentence_B\tentailment_label\n1\tA\tB\tNEUTRAL\n\n2\tC\tD\tBAD\n",
            4,
        ),
    ] {
        let p = write(dir.path(), name, content);
        let mut s = Store::open_in_memory().unwrap();
        let r = ingest(&mut s, &[p], &IngestOptions::default());
        assert_eq!(
            r.files[0].errors.last().unwrap().line,
            line,
            "{name}: {:?}",
            r.files[0].errors
        );
    }
}

#[test]
fn missing_required_field_in_a_pairs_row_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "p.csv",
        "pair_id,text1,text2,label,lang,type\n1,A,B,True,en,contradiction\n2,Only one text\n3,C,D,Perhaps,en,x\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[p], &IngestOptions::default());
    assert_eq!((r.pairs.inserted, r.bad_rows), (1, 2));
    let e = r.files[0]
        .errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>();
    assert!(e[0].contains(":3: field `text2`"), "{e:?}");
    assert!(
        e[1].contains(":4: field `label`: unknown label `Perhaps`"),
        "{e:?}"
    );
}

#[test]
fn strict_refuses_the_whole_file_and_writes_nothing_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "a.csv", "text,lang\nFine,en\n");
    let bad = write(dir.path(), "b.csv", "text,lang\nAlso fine,en\n,en\n");
    let mut s = Store::open_in_memory().unwrap();
    let opts = IngestOptions {
        strict: true,
        ..Default::default()
    };
    let r = ingest(&mut s, &[good, bad], &opts);
    assert_eq!(texts(&s), vec!["Fine"]);
    assert_eq!(r.failed_files, 1);
    let why = r.files[1].failed.clone().unwrap();
    assert!(why.contains("refused") && why.contains("b.csv:3"), "{why}");
}

#[test]
fn non_utf8_empty_and_headerless_files_get_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let latin1 = write(dir.path(), "l.csv", b"text,lang\ncaf\xe9,fr\nok,en\n");
    let empty = write(dir.path(), "e.csv", "");
    let cols = write(dir.path(), "c.csv", "id,lang,label_contradict_id\n1,en,2\n");
    let txt = write(
        dir.path(),
        "t.txt",
        b"This line is fine.\n\xff\xfe broken\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(
        &mut s,
        &[latin1, empty, cols.clone(), txt],
        &IngestOptions::default(),
    );
    assert_eq!(texts(&s), vec!["ok", "This line is fine."]);
    let f = &r.files;
    assert!(
        f[0].errors[0]
            .to_string()
            .contains("l.csv:2: field `text`: not valid UTF-8"),
        "{:?}",
        f[0].errors
    );
    assert!(f[1].failed.as_ref().unwrap().contains("empty"));
    let e = kimera_ingest::ingest_paths(
        &mut s,
        &[cols],
        &IngestOptions {
            format: Some(Format::Linked),
            ..Default::default()
        },
        &|_, _, _| {},
    )
    .unwrap();
    assert!(
        e.files[0]
            .failed
            .as_ref()
            .unwrap()
            .contains("missing column(s) text"),
        "{:?}",
        e.files[0].failed
    );
    assert!(
        f[2].failed
            .as_ref()
            .unwrap()
            .contains("cannot tell the format")
    );
    assert!(
        f[3].errors[0]
            .to_string()
            .contains("t.txt:2: not valid UTF-8")
    );
}

#[test]
fn bad_jsonl_lines_are_reported_by_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "b.jsonl",
        "{\"text\": \"ok\"}\n{not json}\n[1,2]\n{\"text\": 5}\n{\"lang\": \"en\"}\n{\"text1\": \"a\"}\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[p], &IngestOptions::default());
    assert_eq!((r.geoids.inserted, r.bad_rows), (1, 5));
    let e: Vec<String> = r.files[0].errors.iter().map(|e| e.to_string()).collect();
    assert!(e[0].contains(":2: invalid JSON"), "{e:?}");
    assert!(e[1].contains(":3: expected a JSON object"), "{e:?}");
    assert!(
        e[2].contains(":4: field `text`: expected a string, found a number"),
        "{e:?}"
    );
    assert!(e[3].contains(":5: field `text`: missing"), "{e:?}");
    assert!(e[4].contains(":6: field `text2`: missing"), "{e:?}");
}

#[test]
fn a_missing_path_is_an_error_and_a_pairs_file_without_pairs_too() {
    let mut s = Store::open_in_memory().unwrap();
    let e = ingest_paths(
        &mut s,
        &[PathBuf::from("/nonexistent/x.csv")],
        &IngestOptions::default(),
        &|_, _, _| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("/nonexistent/x.csv"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.csv", "text,lang\nhello,en\n");
    assert!(
        read_pairs(&p, None)
            .unwrap_err()
            .to_string()
            .contains("no labelled pairs")
    );
}

// ---------- idempotency ----------

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    #[test]
    fn ingesting_the_same_file_twice_changes_nothing(
        rows in proptest::collection::vec(("[a-zA-Z éà]{0,20}", proptest::sample::select(vec!["en", "fr", "ar", ""])), 0..40)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = String::from("text,lang\n");
        for (t, l) in &rows {
            c.push_str(&format!("\"{t}\",{l}\n"));
        }
        let p = write(dir.path(), "s.csv", c);
        let mut s = Store::open_in_memory().unwrap();
        let first = ingest(&mut s, std::slice::from_ref(&p), &IngestOptions::default());
        let before: Vec<_> = s.geoids_after(0, 10_000).unwrap();
        let second = ingest(&mut s, &[p], &IngestOptions::default());
        let after: Vec<_> = s.geoids_after(0, 10_000).unwrap();
        proptest::prop_assert_eq!(before, after);
        proptest::prop_assert_eq!(second.geoids.inserted, 0);
        proptest::prop_assert_eq!(second.geoids.duplicates, first.geoids.inserted + first.geoids.duplicates);
    }
}

// ---------- the original datasets ----------

/// `../shared/data` beside the repository: present on developer machines and CI, absent
/// in a user's clone.
fn shared_data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if p.is_dir() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("../shared/data is missing under CI");
    }
    eprintln!("notice: ../shared/data not found; skipping the shared-data test");
    None
}

#[test]
fn every_original_dataset_loads_without_bad_rows() {
    let Some(data) = shared_data() else { return };
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(
        &mut s,
        &[data.join("kimera"), data.join("sick")],
        &IngestOptions::default(),
    );
    assert_eq!(
        r.failed_files,
        0,
        "{:?}",
        r.files.iter().map(|f| &f.failed).collect::<Vec<_>>()
    );
    assert_eq!(
        r.bad_rows,
        0,
        "{:?}",
        r.files
            .iter()
            .flat_map(|f| &f.errors)
            .take(5)
            .collect::<Vec<_>>()
    );
    let c = s.counts().unwrap();
    // sick_train 4,439 + sick_trial 495 + mixed_5k and mixed_quick pairs + the linked pairs
    assert!(c.pairs > 4_439 + 495 + 4_000, "{}", c.pairs);
    let p = read_pairs(&data.join("sick/sick_trial.tsv"), None).unwrap();
    assert_eq!(p.pairs.len(), 495);
    assert_eq!(
        p.pairs
            .iter()
            .filter(|p| p.gold.unwrap().is_contradiction())
            .count(),
        71
    );
}

#[test]
fn validity_columns_and_fields_are_read_and_a_bad_time_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "v.csv",
        "text,lang,valid_from,valid_to\nAnn is the mayor.,en,2019-01-01,2024-01-01\nBob is the mayor.,en,2024-01-01,\nCid is the mayor.,en,someday,\nDan is the mayor.,en,2024,2020\n",
    );
    let jsonl = write(
        dir.path(),
        "v.jsonl",
        "{\"text\": \"Eve is the mayor.\", \"valid_from\": \"2030-06-01T12:00:00Z\"}\n",
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[csv, jsonl], &IngestOptions::default());
    assert_eq!((r.geoids.inserted, r.bad_rows), (3, 2), "{r:?}");
    let errors = format!("{:?}", r.files);
    assert!(
        errors.contains("valid_from") && errors.contains("someday"),
        "{errors}"
    );
    assert!(
        errors.contains("valid_to") && errors.contains("not after valid_from"),
        "{errors}"
    );
    let state = |text: &str| {
        let id = s
            .geoids_after(0, 10)
            .unwrap()
            .into_iter()
            .find(|g| g.text == text)
            .unwrap()
            .id;
        let st = s.statement_state(&id).unwrap().unwrap();
        (st.valid_from, st.valid_to)
    };
    let t = |x: &str| kimera_core::parse_time(x);
    assert_eq!(
        state("Ann is the mayor."),
        (t("2019-01-01"), t("2024-01-01"))
    );
    assert_eq!(state("Bob is the mayor."), (t("2024-01-01"), None));
    assert_eq!(
        state("Eve is the mayor."),
        (t("2030-06-01T12:00:00Z"), None)
    );
}

#[test]
fn pairs_files_carry_validity_per_statement_and_a_bad_time_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "p.csv",
        concat!(
            "pair_id,text1,text2,label,lang,valid_from,valid_from1,valid_to1,valid_from2,valid_to2\n",
            "1,Ann is the mayor.,Bob is the mayor.,contradiction,en,,2019-01-01,2024-01-01,2024-01-01,\n",
            "2,The shop opens at 9.,The shop opens at 10.,contradiction,en,2022-05-01,,,,2023-01-01\n",
            "3,Cid is the mayor.,Dan is the mayor.,contradiction,en,,,,someday,\n",
            "4,Eve is the mayor.,Fay is the mayor.,contradiction,en,,2024,2020,,\n",
        ),
    );
    let jsonl = write(
        dir.path(),
        "p.jsonl",
        concat!(
            "{\"text1\": \"Gil is the mayor.\", \"text2\": \"Hal is the mayor.\", \"label\": \"contradiction\", \"valid_to1\": \"2020-01-01\", \"valid_from2\": 1577836800}\n",
            "{\"text1\": \"Ivy is the mayor.\", \"text2\": \"Jon is the mayor.\", \"valid_from1\": \"soon\"}\n",
        ),
    );
    let mut s = Store::open_in_memory().unwrap();
    let r = ingest(&mut s, &[csv.clone(), jsonl], &IngestOptions::default());
    assert_eq!((r.pairs.inserted, r.bad_rows), (3, 3), "{r:?}");
    let errors: Vec<String> = r
        .files
        .iter()
        .flat_map(|f| f.errors.iter().map(|e| e.to_string()))
        .collect();
    let named = |file: &str, line: u64, field: &str, what: &str| {
        let at = format!("{file}:{line}: field `{field}`: ");
        assert!(
            errors.iter().any(|e| e.contains(&at) && e.contains(what)),
            "no error at {at}({what}) in {errors:#?}"
        );
    };
    named("p.csv", 4, "valid_from2", "someday");
    named("p.csv", 5, "valid_to1", "not after valid_from1");
    named("p.jsonl", 2, "valid_from1", "soon");
    let state = |text: &str| {
        let id = s
            .geoids_after(0, 100)
            .unwrap()
            .into_iter()
            .find(|g| g.text == text)
            .unwrap_or_else(|| panic!("{text} not stored"))
            .id;
        let st = s.statement_state(&id).unwrap().unwrap();
        (st.valid_from, st.valid_to)
    };
    let t = |x: &str| kimera_core::parse_time(x);
    assert_eq!(
        state("Ann is the mayor."),
        (t("2019-01-01"), t("2024-01-01"))
    );
    assert_eq!(state("Bob is the mayor."), (t("2024-01-01"), None));
    // the shared columns for both, a side's own column over it
    assert_eq!(state("The shop opens at 9."), (t("2022-05-01"), None));
    assert_eq!(
        state("The shop opens at 10."),
        (t("2022-05-01"), t("2023-01-01"))
    );
    assert_eq!(state("Gil is the mayor."), (None, t("2020-01-01")));
    assert_eq!(state("Hal is the mayor."), (Some(1_577_836_800), None));
    // the pairs reader for the judge and the benchmark reads the same rows
    let file = read_pairs(&csv, None).unwrap();
    assert_eq!((file.pairs.len(), file.errors.len()), (2, 2));
}
