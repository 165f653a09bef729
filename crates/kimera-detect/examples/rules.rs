//! Precision of the rules that decide alone on a labelled file (training data: this is
//! how `RULES_ALONE` earns its place; see weights/PROVENANCE.md).
//!
//! cargo run --release -p kimera-detect --example rules -- ../shared/data/sick/sick_train.tsv

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: rules <labelled pairs file>")?;
    let set = kimera_detect::load_examples(std::path::Path::new(&path))?;
    let mut counts: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut gated = [0usize; 2];
    for e in &set {
        if kimera_detect::decision::not_a_claim(&e.a, &e.lang).is_some()
            || kimera_detect::decision::not_a_claim(&e.b, &e.lang).is_some()
        {
            gated[usize::from(e.is_contradiction())] += 1;
            if std::env::var_os("SHOW").is_some() {
                println!("  not a claim: {} | {}", e.a, e.b);
            }
            continue;
        }
        let name = match kimera_detect::decision::rule_alone(&e.a, &e.b) {
            Some("substitution") => format!(
                "substitution/{}",
                kimera_detect::decision::substitution(&e.a, &e.b).unwrap_or("?")
            ),
            Some(r) => r.to_string(),
            None => continue,
        };
        let c = counts.entry(name).or_default();
        c.0 += 1;
        if e.is_contradiction() {
            c.1 += 1;
        } else if std::env::var_os("SHOW").is_some() {
            println!("  not a contradiction: {} | {}", e.a, e.b);
        }
    }
    println!("{} pairs of {path}", set.len());
    println!(
        "not a claim on one side (the decision abstains): {} pairs, {} of them contradictions",
        gated[0] + gated[1],
        gated[1]
    );
    for (rule, (fired, right)) in counts {
        println!("{rule}: {right} of {fired} are contradictions");
    }
    // the content gate (decision::MIN_CONTENT_COVERAGE): how many contradictions each
    // floor would leave unjudged
    let contradictions: Vec<f64> = set
        .iter()
        .filter(|e| e.is_contradiction())
        .map(|e| kimera_detect::decision::content_coverage(&e.a, &e.b))
        .collect();
    for floor in [0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35] {
        let below = contradictions.iter().filter(|&&c| c < floor).count();
        let others = set
            .iter()
            .filter(|e| {
                !e.is_contradiction()
                    && kimera_detect::decision::content_coverage(&e.a, &e.b) < floor
            })
            .count();
        println!(
            "content coverage < {floor:.2}: {below} of {} contradictions, {others} other pairs",
            contradictions.len()
        );
    }
    Ok(())
}
