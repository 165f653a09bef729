//! L2-regularised logistic regression, fitted by Newton's method (IRLS): the small
//! calibrated model that turns a pair's signals into one probability.
//!
//! A few dozen features and a few thousand rows: exact Newton steps converge in ~10
//! iterations, deterministically (fixed summation order, no random start), so the same
//! rows give the same weights bit for bit.

use serde::{Deserialize, Serialize};

/// A fitted model: `P(y) = σ(b + Σ wᵢ·(xᵢ − meanᵢ)/stdᵢ)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    /// Feature names, in order (for the evidence and for checking a saved model).
    pub names: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub weights: Vec<f64>,
    pub bias: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    /// Fits on rows `x` (all of one length, `names.len()`) and labels `y`, with L2
    /// penalty `l2` on the standardised weights (not on the bias).
    // Matrix code reads best with indices: the Hessian is filled and mirrored by row and column.
    #[allow(clippy::needless_range_loop)]
    pub fn fit(names: &[&str], x: &[Vec<f64>], y: &[bool], l2: f64) -> Logistic {
        let d = names.len();
        let n = x.len().max(1) as f64;
        let mut mean = vec![0.0; d];
        for r in x {
            for (m, v) in mean.iter_mut().zip(r) {
                *m += v / n;
            }
        }
        let mut std = vec![0.0; d];
        for r in x {
            for ((s, v), m) in std.iter_mut().zip(r).zip(&mean) {
                *s += (v - m).powi(2) / n;
            }
        }
        let std: Vec<f64> = std.iter().map(|s| s.sqrt().max(1e-6)).collect();
        let z: Vec<Vec<f64>> = x
            .iter()
            .map(|r| {
                std::iter::once(1.0)
                    .chain(r.iter().zip(&mean).zip(&std).map(|((v, m), s)| (v - m) / s))
                    .collect()
            })
            .collect();
        let mut beta = vec![0.0; d + 1];
        for _ in 0..50 {
            // gradient and Hessian of the penalised negative log-likelihood
            let mut g = vec![0.0; d + 1];
            let mut h = vec![vec![0.0; d + 1]; d + 1];
            for (r, &t) in z.iter().zip(y) {
                let p = sigmoid(r.iter().zip(&beta).map(|(a, b)| a * b).sum());
                let err = p - if t { 1.0 } else { 0.0 };
                let wgt = (p * (1.0 - p)).max(1e-9);
                for i in 0..=d {
                    g[i] += err * r[i];
                    for j in 0..=i {
                        h[i][j] += wgt * r[i] * r[j];
                    }
                }
            }
            for i in 0..=d {
                for j in 0..i {
                    h[j][i] = h[i][j];
                }
                if i > 0 {
                    g[i] += l2 * beta[i];
                    h[i][i] += l2;
                }
            }
            let step = solve(h, g);
            let mut moved = 0.0f64;
            for (b, s) in beta.iter_mut().zip(&step) {
                *b -= s;
                moved = moved.max(s.abs());
            }
            if moved < 1e-10 {
                break;
            }
        }
        Logistic {
            names: names.iter().map(|s| s.to_string()).collect(),
            mean,
            std,
            weights: beta[1..].to_vec(),
            bias: beta[0],
        }
    }

    /// P(y) for one row of features.
    pub fn prob(&self, x: &[f64]) -> f64 {
        let z: f64 = self.bias
            + x.iter()
                .zip(&self.mean)
                .zip(&self.std)
                .zip(&self.weights)
                .map(|(((v, m), s), w)| w * (v - m) / s)
                .sum::<f64>();
        sigmoid(z)
    }

    /// Each feature's share of the decision for `x`: `wᵢ·(xᵢ − meanᵢ)/stdᵢ` by name,
    /// largest magnitude first (the evidence of a verdict).
    pub fn contributions(&self, x: &[f64]) -> Vec<(&str, f64)> {
        let mut out: Vec<(&str, f64)> = self
            .names
            .iter()
            .zip(x)
            .zip(&self.mean)
            .zip(&self.std)
            .zip(&self.weights)
            .map(|((((n, v), m), s), w)| (n.as_str(), w * (v - m) / s))
            .collect();
        out.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(b.0)));
        out
    }
}

/// Solves `h · x = g` for a symmetric positive definite `h` (Gaussian elimination with
/// partial pivoting; the systems here are a few dozen unknowns).
#[allow(clippy::needless_range_loop)]
fn solve(mut h: Vec<Vec<f64>>, mut g: Vec<f64>) -> Vec<f64> {
    let n = g.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| h[i][c].abs().total_cmp(&h[j][c].abs()))
            .unwrap_or(c);
        h.swap(c, p);
        g.swap(c, p);
        let d = h[c][c];
        if d.abs() < 1e-300 {
            continue;
        }
        for r in c + 1..n {
            let f = h[r][c] / d;
            if f == 0.0 {
                continue;
            }
            for k in c..n {
                h[r][k] -= f * h[c][k];
            }
            g[r] -= f * g[c];
        }
    }
    let mut x = vec![0.0; n];
    for c in (0..n).rev() {
        let s: f64 = (c + 1..n).map(|k| h[c][k] * x[k]).sum();
        x[c] = if h[c][c].abs() < 1e-300 {
            0.0
        } else {
            (g[c] - s) / h[c][c]
        };
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_separable_signal_and_ignores_noise() {
        // y = x0 > 0.5; x1 is noise
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let a = (i % 100) as f64 / 100.0;
            let noise = ((i * 37) % 11) as f64;
            x.push(vec![a, noise]);
            y.push(a > 0.5);
        }
        let m = Logistic::fit(&["signal", "noise"], &x, &y, 1.0);
        assert!(m.weights[0] > 5.0 * m.weights[1].abs(), "{m:?}");
        assert!(m.prob(&[0.9, 3.0]) > 0.9);
        assert!(m.prob(&[0.1, 3.0]) < 0.1);
        assert_eq!(m.contributions(&[0.9, 3.0])[0].0, "signal");
        // deterministic
        assert_eq!(m, Logistic::fit(&["signal", "noise"], &x, &y, 1.0));
    }

    #[test]
    fn matches_scikit_learn_on_a_small_problem() {
        // from sklearn.linear_model import LogisticRegression
        // from sklearn.preprocessing import StandardScaler
        // Z = StandardScaler().fit_transform([[0], [1], [2], [3]])
        // LogisticRegression(C=1.0, tol=1e-10).fit(Z, [0, 0, 1, 1])
        //   → coef_ [[0.94407308]], intercept_ [-6.8e-17]   (C = 1 / l2)
        let x: Vec<Vec<f64>> = (0..4).map(|i| vec![i as f64]).collect();
        let y = [false, false, true, true];
        let m = Logistic::fit(&["x"], &x, &y, 1.0);
        assert!(m.bias.abs() < 1e-9, "{m:?}");
        assert!((m.weights[0] - 0.944_073_08).abs() < 1e-6, "{m:?}");
    }

    #[test]
    fn solves_linear_systems() {
        let x = solve(vec![vec![4.0, 1.0], vec![1.0, 3.0]], vec![1.0, 2.0]);
        assert!((x[0] - 1.0 / 11.0).abs() < 1e-12 && (x[1] - 7.0 / 11.0).abs() < 1e-12);
    }
}
