//! The lexical detector on the original Kimera datasets (../shared/data/kimera).

use std::collections::HashMap;
use std::path::PathBuf;

use kimera_reactor::LexicalDetector;

/// The shared data folder, or `None` (with a notice) when it is missing outside CI.
fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/kimera");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is missing (required under CI=true)",
        dir.display()
    );
    eprintln!("skipping: {} not found", dir.display());
    None
}

/// Every statement of contradictions_2k.csv with the one it contradicts
/// (`label_contradict_id`): the lexical rules must find nearly all of them (the
/// contradiction appends "is false"/"is incorrect"), and must stay quiet on pairs of
/// different statements.
#[test]
fn planted_contradictions_of_kimera_2k_are_found() {
    let Some(dir) = data_dir() else { return };
    let path = dir.join("contradictions_2k.csv");
    let mut rdr = csv::Reader::from_path(&path).unwrap();
    let mut text: HashMap<String, String> = HashMap::new();
    let mut links = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 2));
        text.insert(rec[0].to_string(), rec[2].to_string());
        links.push((rec[0].to_string(), rec[3].to_string()));
    }
    let d = LexicalDetector::default();
    let (mut pairs, mut found) = (0, 0);
    for (a, b) in &links {
        if a.ends_with("_orig") {
            if let (Some(x), Some(y)) = (text.get(a), text.get(b)) {
                pairs += 1;
                let v = d.judge(x, y, 0.9);
                if !v.contradiction && std::env::var("SHOW_MISSES").is_ok() {
                    eprintln!("MISS {x} // {y}");
                }
                if v.contradiction {
                    found += 1;
                    assert_eq!(v.evidence["rule"], "negation", "{x} / {y}");
                }
            }
        }
    }
    assert!(pairs > 1900, "{pairs} pairs read");
    let recall = found as f64 / pairs as f64;
    assert!(recall > 0.97, "found {found} of {pairs}");

    // different statements, even similar-looking ones, are not contradictions
    let origs: Vec<&String> = links
        .iter()
        .filter(|(a, _)| a.ends_with("_orig"))
        .map(|(a, _)| &text[a])
        .collect();
    let false_pos = origs
        .windows(2)
        .filter(|w| d.judge(w[0], w[1], 0.9).contradiction)
        .count();
    assert!(
        false_pos * 100 < origs.len(),
        "{false_pos} false positives of {}",
        origs.len()
    );
}
