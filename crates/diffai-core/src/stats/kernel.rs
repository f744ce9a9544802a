//! Mergeable accumulators and the block kernels that fill them.
//!
//! A block is at most [`BLOCK`] decoded f64 values held in L1. Each kernel first runs a fast
//! path that assumes every value is finite (no masking, `LANES` independent accumulators so the
//! compiler vectorises it); a non-finite sum reveals a NaN/Inf and the block is redone on the
//! masked scalar path. Lane structure is fixed, so results are bit-identical on every CPU and at
//! every thread count.

use multiversion::multiversion;

/// Elements decoded and accumulated at a time (8 KiB of f64: stays in L1).
pub const BLOCK: usize = 1024;

/// Independent accumulator lanes (one AVX-512 register of f64, two AVX2 registers).
const LANES: usize = 8;

/// Count, mean and sum of squared deviations, merged with Chan et al.'s formula.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// From sums of `x - shift` and `(x - shift)^2` over `n` values.
    fn from_shifted(n: u64, shift: f64, s1: f64, s2: f64) -> Moments {
        if n == 0 {
            return Moments::default();
        }
        let nf = n as f64;
        Moments {
            n,
            mean: shift + s1 / nf,
            m2: (s2 - s1 * s1 / nf).max(0.0),
        }
    }

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

/// Statistics of one block of values.
pub fn side_block(x: &[f64]) -> SideAcc {
    let fast = side_fast(x);
    if fast.moments.mean.is_finite() && fast.moments.m2.is_finite() {
        fast
    } else {
        side_slow(x)
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn side_fast(x: &[f64]) -> SideAcc {
    let Some(&shift) = x.first() else {
        return SideAcc::default();
    };
    let mut s1 = [0.0f64; LANES];
    let mut s2 = [0.0f64; LANES];
    let mut mn = [f64::INFINITY; LANES];
    let mut mx = [f64::NEG_INFINITY; LANES];
    let mut zero = [0u64; LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let v = c[l];
            let a = v - shift;
            s1[l] += a;
            s2[l] += a * a;
            mn[l] = if v < mn[l] { v } else { mn[l] };
            mx[l] = if v > mx[l] { v } else { mx[l] };
            zero[l] += (v == 0.0) as u64;
        }
    }
    for (l, &v) in rest.iter().enumerate() {
        let a = v - shift;
        s1[l] += a;
        s2[l] += a * a;
        mn[l] = if v < mn[l] { v } else { mn[l] };
        mx[l] = if v > mx[l] { v } else { mx[l] };
        zero[l] += (v == 0.0) as u64;
    }
    SideAcc {
        moments: Moments::from_shifted(x.len() as u64, shift, sum_lanes(&s1), sum_lanes(&s2)),
        min: mn.iter().fold(f64::INFINITY, |a, &b| a.min(b)),
        max: mx.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b)),
        nan: 0,
        inf: 0,
        zero: zero.iter().sum(),
    }
}

fn side_slow(x: &[f64]) -> SideAcc {
    let shift = x.iter().copied().find(|v| v.is_finite()).unwrap_or(0.0);
    let (mut n, mut s1, mut s2) = (0u64, 0.0f64, 0.0f64);
    let mut acc = SideAcc::default();
    for &v in x {
        if v.is_nan() {
            acc.nan += 1;
        } else if v.is_infinite() {
            acc.inf += 1;
        } else {
            n += 1;
            let a = v - shift;
            s1 += a;
            s2 += a * a;
            acc.min = acc.min.min(v);
            acc.max = acc.max.max(v);
            acc.zero += (v == 0.0) as u64;
        }
    }
    acc.moments = Moments::from_shifted(n, shift, s1, s2);
    acc
}

/// Pairwise sums of one block (`o` and `n` have equal length).
pub fn pair_block(o: &[f64], n: &[f64], tol: Tolerance) -> PairAcc {
    let fast = pair_fast(o, n, tol);
    if (fast.sum_d2 + fast.sum_o2 + fast.sum_n2).is_finite() {
        fast
    } else {
        pair_slow(o, n, tol)
    }
}

#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
fn pair_fast(o: &[f64], n: &[f64], tol: Tolerance) -> PairAcc {
    let mut sabs = [0.0f64; LANES];
    let mut mabs = [0.0f64; LANES];
    let mut sd2 = [0.0f64; LANES];
    let mut so2 = [0.0f64; LANES];
    let mut sn2 = [0.0f64; LANES];
    let mut sdx = [0.0f64; LANES];
    let mut changed = [0u64; LANES];
    let len = o.len().min(n.len());
    let (o, n) = (&o[..len], &n[..len]);
    let oc = o.chunks_exact(LANES);
    let nc = n.chunks_exact(LANES);
    let (orest, nrest) = (oc.remainder(), nc.remainder());
    let (eps, rtol) = (tol.epsilon, tol.rtol);
    for (a, b) in oc.zip(nc) {
        for l in 0..LANES {
            let (x, y) = (a[l], b[l]);
            let d = y - x;
            let ad = d.abs();
            sabs[l] += ad;
            mabs[l] = if ad > mabs[l] { ad } else { mabs[l] };
            sd2[l] += d * d;
            so2[l] += x * x;
            sn2[l] += y * y;
            sdx[l] += d * (x + y);
            changed[l] += (ad > eps + rtol * x.abs()) as u64;
        }
    }
    for (l, (&x, &y)) in orest.iter().zip(nrest).enumerate() {
        let d = y - x;
        let ad = d.abs();
        sabs[l] += ad;
        mabs[l] = if ad > mabs[l] { ad } else { mabs[l] };
        sd2[l] += d * d;
        so2[l] += x * x;
        sn2[l] += y * y;
        sdx[l] += d * (x + y);
        changed[l] += (ad > eps + rtol * x.abs()) as u64;
    }
    PairAcc {
        n: len as u64,
        sum_abs: sum_lanes(&sabs),
        max_abs: mabs.iter().fold(0.0, |a, &b| a.max(b)),
        sum_d2: sum_lanes(&sd2),
        sum_o2: sum_lanes(&so2),
        sum_n2: sum_lanes(&sn2),
        sum_dx: sum_lanes(&sdx),
        changed: changed.iter().sum(),
    }
}

fn pair_slow(o: &[f64], n: &[f64], tol: Tolerance) -> PairAcc {
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

/// Sums lanes pairwise (fixed order, so the result never depends on the CPU).
fn sum_lanes(l: &[f64; LANES]) -> f64 {
    ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_and_slow_paths_agree_on_finite_data() {
        let x: Vec<f64> = (0..1000)
            .map(|i| ((i * 37) % 101) as f64 * 0.01 - 0.3)
            .collect();
        let (f, s) = (side_fast(&x), side_slow(&x));
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
        let whole = side_slow(&x).moments;
        let parts = x
            .chunks(100)
            .map(|c| side_block(c).moments)
            .fold(Moments::default(), Moments::merge);
        assert!((whole.mean - parts.mean).abs() < 1e-14);
        assert!((whole.m2 - parts.m2).abs() < 1e-11 * whole.m2);
    }
}
