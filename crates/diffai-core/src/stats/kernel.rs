//! Mergeable accumulators, the masked (NaN/Inf-aware) block kernels, and the entry points that
//! try the fused fast path ([`super::fused`]) first.

use super::fused;

/// Elements decoded and accumulated at a time (8 KiB of f64: stays in L1).
pub const BLOCK: usize = 1024;

/// Count, mean and sum of squared deviations, merged with Chan et al.'s formula.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    pub fn merge(self, other: Moments) -> Moments {
        if self.n == 0 {
            return other;
        }
        if other.n == 0 {
            return self;
        }
        let n = self.n + other.n;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        let delta = other.mean - self.mean;
        Moments {
            n,
            mean: self.mean + delta * (nb / nf),
            m2: self.m2 + other.m2 + delta * delta * (na * nb / nf),
        }
    }
}

/// One side's statistics over the finite values, plus counts of the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SideAcc {
    pub moments: Moments,
    pub min: f64,
    pub max: f64,
    pub nan: u64,
    pub inf: u64,
    pub zero: u64,
}

impl Default for SideAcc {
    fn default() -> Self {
        SideAcc {
            moments: Moments::default(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            nan: 0,
            inf: 0,
            zero: 0,
        }
    }
}

impl SideAcc {
    pub fn merge(self, o: SideAcc) -> SideAcc {
        SideAcc {
            moments: self.moments.merge(o.moments),
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            nan: self.nan + o.nan,
            inf: self.inf + o.inf,
            zero: self.zero + o.zero,
        }
    }
}

/// Pairwise sums over positions where both sides are finite, and the changed count over all.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairAcc {
    pub n: u64,
    pub sum_abs: f64,
    pub max_abs: f64,
    pub sum_d2: f64,
    pub sum_o2: f64,
    pub sum_n2: f64,
    /// `Σ d·(o+n) = ‖n‖² - ‖o‖²`, accumulated directly so the gap between the norms keeps its
    /// precision when they are nearly equal (see `finish_pair`).
    pub sum_dx: f64,
    pub changed: u64,
}

impl PairAcc {
    pub fn merge(self, o: PairAcc) -> PairAcc {
        PairAcc {
            n: self.n + o.n,
            sum_abs: self.sum_abs + o.sum_abs,
            max_abs: self.max_abs.max(o.max_abs),
            sum_d2: self.sum_d2 + o.sum_d2,
            sum_o2: self.sum_o2 + o.sum_o2,
            sum_n2: self.sum_n2 + o.sum_n2,
            sum_dx: self.sum_dx + o.sum_dx,
            changed: self.changed + o.changed,
        }
    }
}

/// Element-wise tolerance: a position is unchanged when `|n - o| <= epsilon + rtol * |o|`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tolerance {
    pub epsilon: f64,
    pub rtol: f64,
}

/// Statistics of one block of values: the fused fast path, or the masked path when the block
/// holds a NaN or Inf.
pub fn side_block(x: &[f64]) -> SideAcc {
    fused::side_f64(fused::f64_bytes(x)).unwrap_or_else(|| side_masked(x))
}

/// Pairwise sums of one block (`o` and `n` have equal length).
pub fn pair_block(o: &[f64], n: &[f64], tol: Tolerance) -> PairAcc {
    match fused::pair_f64(fused::f64_bytes(o), fused::f64_bytes(n), tol) {
        Some((_, _, p)) => p,
        None => pair_masked(o, n, tol),
    }
}

/// Side statistics skipping NaN and Inf (counted instead).
pub fn side_masked(x: &[f64]) -> SideAcc {
    let mut acc = SideAcc::default();
    let (mut n, mut sum) = (0u64, 0.0f64);
    for &v in x {
        if v.is_nan() {
            acc.nan += 1;
        } else if v.is_infinite() {
            acc.inf += 1;
        } else {
            n += 1;
            sum += v;
            acc.min = acc.min.min(v);
            acc.max = acc.max.max(v);
            acc.zero += (v == 0.0) as u64;
        }
    }
    if n > 0 {
        let mean = sum / n as f64;
        let m2 = x
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| (v - mean) * (v - mean))
            .sum();
        acc.moments = Moments { n, mean, m2 };
    }
    acc
}

/// Pairwise sums over positions where both sides are finite; every position counts for
/// `changed` (NaN equals NaN, Inf equals the same Inf).
pub fn pair_masked(o: &[f64], n: &[f64], tol: Tolerance) -> PairAcc {
    let mut acc = PairAcc::default();
    for (&x, &y) in o.iter().zip(n) {
        if x.is_finite() && y.is_finite() {
            let d = y - x;
            acc.n += 1;
            acc.sum_abs += d.abs();
            acc.max_abs = acc.max_abs.max(d.abs());
            acc.sum_d2 += d * d;
            acc.sum_o2 += x * x;
            acc.sum_n2 += y * y;
            acc.sum_dx += d * (x + y);
            acc.changed += (d.abs() > tol.epsilon + tol.rtol * x.abs()) as u64;
        } else {
            acc.changed += !((x.is_nan() && y.is_nan()) || x == y) as u64;
        }
    }
    acc
}

/// Pairwise sums of one block of complex values (moduli of differences, complex norms).
pub fn pair_block_complex(
    (ore, oim): (&[f64], &[f64]),
    (nre, nim): (&[f64], &[f64]),
    tol: Tolerance,
) -> PairAcc {
    let mut acc = PairAcc::default();
    for i in 0..ore.len() {
        let (a, b, c, d) = (ore[i], oim[i], nre[i], nim[i]);
        let old_finite = a.is_finite() && b.is_finite();
        let new_finite = c.is_finite() && d.is_finite();
        if old_finite && new_finite {
            let (dr, di) = (c - a, d - b);
            let d2 = dr * dr + di * di;
            let ad = dr.hypot(di);
            acc.n += 1;
            acc.sum_abs += ad;
            acc.max_abs = acc.max_abs.max(ad);
            acc.sum_d2 += d2;
            acc.sum_o2 += a * a + b * b;
            acc.sum_n2 += c * c + d * d;
            // Re(conj(d)·(o+n)) = |n|² - |o|²
            acc.sum_dx += dr * (a + c) + di * (b + d);
            acc.changed += (ad > tol.epsilon + tol.rtol * a.hypot(b)) as u64;
        } else {
            let both_nan = (a.is_nan() || b.is_nan()) && (c.is_nan() || d.is_nan());
            acc.changed += !(both_nan || (a == c && b == d)) as u64;
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_masked_paths_agree_on_finite_data() {
        let x: Vec<f64> = (0..1000)
            .map(|i| ((i * 37) % 101) as f64 * 0.01 - 0.3)
            .collect();
        let (f, s) = (side_block(&x), side_masked(&x));
        assert_eq!(f.min, s.min);
        assert_eq!(f.max, s.max);
        assert_eq!(f.zero, s.zero);
        assert!((f.moments.mean - s.moments.mean).abs() < 1e-15);
        assert!((f.moments.m2 - s.moments.m2).abs() < 1e-12 * s.moments.m2);
    }

    #[test]
    fn non_finite_values_take_the_slow_path() {
        let x = [1.0, f64::NAN, 3.0, f64::INFINITY, 0.0];
        let s = side_block(&x);
        assert_eq!((s.nan, s.inf, s.zero, s.moments.n), (1, 1, 1, 3));
        assert_eq!((s.min, s.max), (0.0, 3.0));
        let p = pair_block(
            &[1.0, f64::NAN, 2.0],
            &[1.0, f64::NAN, f64::NAN],
            Tolerance::default(),
        );
        assert_eq!((p.n, p.changed), (1, 1));
    }

    #[test]
    fn chan_merge_matches_direct() {
        let x: Vec<f64> = (0..777).map(|i| (i as f64).sin() + 5.0).collect();
        let whole = side_masked(&x).moments;
        let parts = x
            .chunks(100)
            .map(|c| side_block(c).moments)
            .fold(Moments::default(), Moments::merge);
        assert!((whole.mean - parts.mean).abs() < 1e-14);
        assert!((whole.m2 - parts.m2).abs() < 1e-11 * whole.m2);
    }
}
