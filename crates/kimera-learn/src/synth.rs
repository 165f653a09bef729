//! Generated statements for benchmarks and tests: a seeded mix of every pattern the
//! extractor knows plus plain sentences, over a vocabulary of made-up names, so that
//! the graph grows like a real one (a bounded vocabulary seen many times).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::learn::Statement;

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ten", "vo", "si", "dar", "pel", "nu", "qua", "bri", "zo", "fen", "ul",
    "mar", "tis", "gor", "ena", "phi",
];

const CLASSES: &[&str] = &[
    "city",
    "river",
    "mammal",
    "bird",
    "metal",
    "gas",
    "planet",
    "tree",
    "disease",
    "language",
    "instrument",
    "vehicle",
    "mineral",
    "protein",
    "festival",
];

const PROPS: &[&str] = &[
    "hot",
    "cold",
    "red",
    "large",
    "small",
    "dangerous",
    "safe",
    "ancient",
    "rare",
    "common",
    "heavy",
    "light",
    "toxic",
    "edible",
];

fn name(rng: &mut ChaCha8Rng, vocab: usize) -> String {
    let mut n = rng.random_range(0..vocab);
    let mut s = String::new();
    loop {
        s.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
        if n == 0 {
            break;
        }
    }
    s
}

/// `n` statements generated from `seed` over `vocab` entity names (English), with
/// ids `s0`, `s1`... and `seen_at` = index.
pub fn statements(n: usize, vocab: usize, seed: u64) -> Vec<Statement> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let x = name(&mut rng, vocab);
            let y = name(&mut rng, vocab);
            let c = CLASSES[rng.random_range(0..CLASSES.len())];
            let p = PROPS[rng.random_range(0..PROPS.len())];
            let text = match rng.random_range(0..14) {
                0 => format!("The capital of {x} is {y}."),
                1 => format!("{x} is a {c}."),
                2 => format!("{x} causes {y} in most {c}s."),
                3 => format!("The {x} is part of the {y} {c}."),
                4 => format!(
                    "{x} has a population of {}.{} million.",
                    rng.random_range(1..40),
                    rng.random_range(0..10)
                ),
                5 => format!("{x} was founded in {}.", rng.random_range(1000..2024)),
                6 => format!("The {x} happened before the {y} festival."),
                7 => format!("{x} is made of {y} and {c}."),
                8 => format!("{x} is located in {y}, near the old {c}."),
                9 => format!("A {x} is used for cleaning {y} tools."),
                10 => format!(
                    "Most {c}s in {x} are {p} and {}.",
                    PROPS[rng.random_range(0..PROPS.len())]
                ),
                11 => format!("{x} is {p}."),
                12 => format!("Researchers in {x} observed that {y} {c}s migrate every winter."),
                _ => format!("{x} is the opposite of {y}."),
            };
            Statement {
                id: kimera_core::GeoidId(format!("s{i}")),
                text,
                lang: "en".into(),
                seen_at: i as i64,
            }
        })
        .collect()
}
