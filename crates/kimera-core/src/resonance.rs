//! Resonance: the original Kimera similarity between two geoids.

use std::collections::HashMap;

use crate::{GeoidId, cosine};

/// Mean scar weight per geoid, the input to [`resonance`].
///
/// A scar between `a` and `b` with score `w` counts once for `a` and once for `b`.
#[derive(Debug, Default, Clone)]
pub struct ScarWeights {
    sum_count: HashMap<GeoidId, (f64, u32)>,
}

impl ScarWeights {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a scar of weight `w` between `a` and `b`.
    pub fn add(&mut self, a: &GeoidId, b: &GeoidId, w: f32) {
        for g in [a, b] {
            let e = self.sum_count.entry(g.clone()).or_insert((0.0, 0));
            e.0 += f64::from(w);
            e.1 += 1;
        }
    }

    /// Mean weight of the scars touching `a` or `b` (each scar counted once, even if it
    /// joins `a` and `b`), 0 when there are none.
    pub fn mean_touching(&self, a: &GeoidId, b: &GeoidId, shared: Option<f32>) -> f32 {
        let (sa, ca) = self.sum_count.get(a).copied().unwrap_or((0.0, 0));
        let (sb, cb) = self.sum_count.get(b).copied().unwrap_or((0.0, 0));
        let (mut s, mut c) = (sa + sb, ca + cb);
        if let Some(w) = shared {
            // the scar a–b was counted for both ends; count it once
            s -= f64::from(w);
            c -= 1;
        }
        if c == 0 {
            0.0
        } else {
            (s / f64::from(c)) as f32
        }
    }
}

/// `resonance(a, b) = cos(a, b) * (1 - mean weight of scars touching a or b)`.
///
/// `mean_scar_weight` is clamped to 0..=1, so resonance stays within the cosine's range
/// and a fully scarred pair has resonance 0.
pub fn resonance(a: &[f32], b: &[f32], mean_scar_weight: f32) -> f32 {
    cosine(a, b) * (1.0 - mean_scar_weight.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resonance_is_cosine_without_scars_and_damped_with_them() {
        let (a, b) = ([1.0, 0.0], [1.0, 1.0]);
        let c = cosine(&a, &b);
        assert!((resonance(&a, &b, 0.0) - c).abs() < 1e-7);
        assert!((resonance(&a, &b, 0.5) - c * 0.5).abs() < 1e-7);
        assert_eq!(resonance(&a, &b, 3.0), 0.0);
    }

    #[test]
    fn mean_scar_weight_counts_each_scar_once() {
        let (a, b, c) = (GeoidId::from("a"), GeoidId::from("b"), GeoidId::from("c"));
        let mut w = ScarWeights::new();
        w.add(&a, &b, 1.0);
        w.add(&b, &c, 0.5);
        // scars touching a or b: a–b (1.0) and b–c (0.5)
        assert!((w.mean_touching(&a, &b, Some(1.0)) - 0.75).abs() < 1e-6);
        // touching a or c: a–b and b–c
        assert!((w.mean_touching(&a, &c, None) - 0.75).abs() < 1e-6);
        assert_eq!(
            w.mean_touching(&GeoidId::from("x"), &GeoidId::from("y"), None),
            0.0
        );
    }
}
