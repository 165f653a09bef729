//! The reactor's `graph` detector: a pair is a contradiction when the two statements
//! assert conflicting facts about the same concept (see [`crate::fact_conflicts`]).

use kimera_reactor::{Detector, PairInput, Verdict};

use crate::conflict::extraction_conflicts;
use crate::extract::extract;
use crate::graph::Graph;

/// Flags pairs that give one concept two values of one attribute (two capitals, two
/// populations, two founding dates), that class one concept under two opposites
/// (is-a A vs is-a B, A opposite-of B), or that order two events both ways.
///
/// The facts come from the pair's own texts, so a pair is judged alone (the batching
/// contract of [`Detector`]); the learned graph adds what a pair cannot know: opposites
/// learned from other statements ("hot is the opposite of cold"), and, as evidence,
/// the associations behind each fact with their strength and how many statements
/// back them. Built without a graph ([`GraphDetector::default`]) it still knows the
/// built-in antonyms ([`crate::BUILTIN_OPPOSITES`]).
#[derive(Debug, Default)]
pub struct GraphDetector {
    graph: Graph,
}

impl GraphDetector {
    /// A detector that consults `graph` (for instance [`Graph::load`] of the store the
    /// reactor runs on; provenance is not needed).
    pub fn new(graph: Graph) -> GraphDetector {
        GraphDetector { graph }
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    fn judge(&self, p: &PairInput<'_>) -> Verdict {
        let (Ok(a), Ok(b)) = (extract(p.a_text, p.a_lang), extract(p.b_text, p.b_lang)) else {
            // a statement too long to extract asserts nothing we can check
            return Verdict::none();
        };
        match extraction_conflicts(&self.graph, &a, &b) {
            Some(c) => Verdict {
                contradiction: true,
                score: c.score,
                evidence: c.evidence,
            },
            None => Verdict::none(),
        }
    }
}

impl Detector for GraphDetector {
    fn name(&self) -> &str {
        "graph"
    }

    fn score_batch(&self, pairs: &[PairInput<'_>]) -> Vec<Verdict> {
        pairs.iter().map(|p| self.judge(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LearnOptions, Learner, Statement};

    #[test]
    fn flags_conflicting_facts_with_the_learned_associations_as_evidence() {
        let facts = [
            "The capital of Veldia is Orsk.",
            "Orsk is the capital of Veldia.",
            "The capital of Veldia is Marn.",
            "Glorp is the opposite of blim.",
            "A zarn is a glorp.",
        ];
        let batch: Vec<Statement> = facts.iter().map(|t| Statement::new(*t, "en")).collect();
        let mut g = Graph::new();
        Learner::new(LearnOptions::default())
            .unwrap()
            .learn_batch(&mut g, &batch, |_| {});
        let d = GraphDetector::new(g);
        assert_eq!(d.name(), "graph");
        let v = d.score_batch(&[
            PairInput::texts(facts[0], facts[2], 0.9),
            PairInput::texts(facts[0], facts[1], 0.9),
            PairInput::texts(facts[4], "A zarn is a blim.", 0.9),
            PairInput::texts(
                "The capital of Veldia is Orsk.",
                "The capital of Pemia is Marn.",
                0.9,
            ),
            PairInput::texts("A zarn is a glorp.", "A zarn is a mammal.", 0.9),
        ]);
        assert!(v[0].contradiction, "{:?}", v[0]);
        assert_eq!(v[0].evidence["rule"], "attribute");
        assert_eq!(v[0].evidence["values"], serde_json::json!(["orsk", "marn"]));
        // the graph's record of each side: Orsk is backed by two statements
        assert_eq!(v[0].evidence["associations"][0]["count"], 2);
        assert_eq!(v[0].evidence["associations"][1]["count"], 1);
        assert!(!v[1].contradiction, "the same fact said twice: {:?}", v[1]);
        // only the graph knows glorp and blim are opposites
        assert!(v[2].contradiction, "{:?}", v[2]);
        assert_eq!(v[2].evidence["rule"], "opposite");
        assert_eq!(v[2].evidence["opposite"]["kind"], "opposite-of");
        assert!(!v[3].contradiction && !v[4].contradiction, "{v:?}");
        assert_eq!(v[3], Verdict::none());
        // without the graph, the learned opposite is unknown
        let blank = GraphDetector::default().score_batch(&[PairInput::texts(
            facts[4],
            "A zarn is a blim.",
            0.9,
        )]);
        assert!(!blank[0].contradiction);
    }

    #[test]
    fn a_verdict_does_not_depend_on_its_batch() {
        let texts = [
            "Tumia has a population of 2.1 million.",
            "Tumia has a population of 3.4 million.",
            "The kettle is hot.",
            "The kettle is cold.",
            "",
            "Lorem ipsum.",
        ];
        let pairs: Vec<PairInput<'_>> = texts
            .iter()
            .flat_map(|a| texts.iter().map(move |b| PairInput::texts(a, b, 0.9)))
            .collect();
        let d = GraphDetector::default();
        let all = d.score_batch(&pairs);
        for (i, p) in pairs.iter().enumerate() {
            assert_eq!(d.score_batch(&[*p]), vec![all[i].clone()]);
        }
        assert!(all[1].contradiction && all[6 * 2 + 3].contradiction);
        assert_eq!(all.iter().filter(|v| v.contradiction).count(), 4);
    }
}
