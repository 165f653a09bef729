//! Synthetic stores for tests and benchmarks: geoids with seeded random unit vectors.
//!
//! Uniformly random unit vectors have no neighbourhood structure at all (in 384-d every
//! pair has cosine ≈ 0 ± 0.05), which is the worst case for any ANN index and nothing like
//! sentence embeddings. So the generator can also draw points around topic centres, and
//! plants a negated twin ("… is false") next to some statements, so that the lexical
//! detector has real work to do.

use kimera_core::{Geoid, Source, text_hash};
use kimera_store::Store;
use rand::{Rng, SeedableRng};

/// A standard normal draw (Box–Muller), so no extra crate is needed.
fn normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn unit(rng: &mut impl Rng, dim: usize) -> Vec<f32> {
    let mut v: Vec<f32> = (0..dim).map(|_| normal(rng)).collect();
    kimera_core::l2_normalise(&mut v);
    v
}

/// Size of the made-up vocabulary of synthetic statements.
const VOCAB: u32 = 4096;

/// The `j`-th made-up word ("kaboru", "temisa"...): random statements share almost no
/// words, as unrelated real statements do, so the lexical rules stay quiet on them.
fn word(j: u32) -> String {
    const C: &[u8] = b"bdfgklmnprstvz";
    const V: &[u8] = b"aeiou";
    let mut w = String::new();
    let mut x = j + 1;
    while x > 0 {
        w.push(C[(x % 14) as usize] as char);
        x /= 14;
        w.push(V[(x % 5) as usize] as char);
        x /= 5;
    }
    w
}

/// `n × dim` unit vectors, row-major. With `clusters == 0` they are uniform on the
/// sphere; otherwise each is `centre + spread · noise` (noise of unit expected norm)
/// around one of `clusters` random centres, normalised.
pub fn clustered_vectors(
    n: usize,
    dim: usize,
    clusters: usize,
    spread: f32,
    seed: u64,
) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..clusters).map(|_| unit(&mut rng, dim)).collect();
    let mut out = Vec::with_capacity(n * dim);
    let scale = spread / (dim as f32).sqrt();
    for _ in 0..n {
        if centres.is_empty() {
            out.extend(unit(&mut rng, dim));
        } else {
            let c = &centres[rng.random_range(0..centres.len())];
            let mut v: Vec<f32> = c.iter().map(|&x| x + scale * normal(&mut rng)).collect();
            kimera_core::l2_normalise(&mut v);
            out.extend(v);
        }
    }
    out
}

/// What [`fill_store`] generates.
#[derive(Debug, Clone)]
pub struct SynthSpec {
    pub n: usize,
    pub dim: usize,
    /// 0 = uniform random vectors.
    pub clusters: usize,
    pub spread: f32,
    /// Every `twin_every`-th geoid is the negation of the one before, with a nearby
    /// vector (0 = none).
    pub twin_every: usize,
    pub seed: u64,
    pub model_id: String,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            n: 1000,
            dim: 384,
            clusters: 0,
            spread: 1.0,
            twin_every: 20,
            seed: 42,
            model_id: "synthetic".into(),
        }
    }
}

/// Fills `store` with `spec.n` synthetic geoids and their vectors under
/// `spec.model_id`, in batches of 10,000 (one transaction each). `progress` gets the
/// number written so far.
pub fn fill_store(
    store: &mut Store,
    spec: &SynthSpec,
    mut progress: impl FnMut(usize),
) -> kimera_store::Result<()> {
    const BATCH: usize = 10_000;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    let centres: Vec<Vec<f32>> = (0..spec.clusters)
        .map(|_| unit(&mut rng, spec.dim))
        .collect();
    let scale = spec.spread / (spec.dim as f32).sqrt();
    let mut prev: Option<(String, Vec<f32>)> = None;
    let mut done = 0;
    while done < spec.n {
        let m = BATCH.min(spec.n - done);
        let mut geoids = Vec::with_capacity(m);
        let mut vecs = Vec::with_capacity(m);
        for i in done..done + m {
            let twin = spec.twin_every > 0 && i % spec.twin_every == spec.twin_every - 1;
            let (text, v) = match (&prev, twin) {
                (Some((t, pv)), true) => {
                    let mut v: Vec<f32> = pv
                        .iter()
                        .map(|&x| x + 0.2 * scale * normal(&mut rng))
                        .collect();
                    kimera_core::l2_normalise(&mut v);
                    (format!("{} is false", t.trim_end_matches('.')), v)
                }
                _ => {
                    let v = if centres.is_empty() {
                        unit(&mut rng, spec.dim)
                    } else {
                        let c = &centres[rng.random_range(0..centres.len())];
                        let mut v: Vec<f32> =
                            c.iter().map(|&x| x + scale * normal(&mut rng)).collect();
                        kimera_core::l2_normalise(&mut v);
                        v
                    };
                    let words: Vec<String> =
                        (0..6).map(|_| word(rng.random_range(0..VOCAB))).collect();
                    let t = format!("Record {i} {}.", words.join(" "));
                    (t, v)
                }
            };
            prev = Some((text.clone(), v.clone()));
            geoids.push(Geoid::new(text, "en", Source::Api));
            vecs.push(v);
        }
        let items: Vec<([u8; 32], &[f32])> = geoids
            .iter()
            .zip(&vecs)
            .map(|(g, v)| (text_hash(&g.text), v.as_slice()))
            .collect();
        store.insert_geoids(&geoids)?;
        store.put_embeddings(&spec.model_id, &items)?;
        done += m;
        progress(done);
    }
    Ok(())
}
