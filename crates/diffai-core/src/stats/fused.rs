//! The fast path: both sides' statistics and the pairwise sums of one block in a single sweep
//! over the stored bytes (no intermediate buffer for f32, bf16 and f64), assuming every value is
//! finite. A non-finite sum reveals a NaN or Inf and the caller redoes the block on the masked
//! path. Variance comes from sums shifted by the block's first value; when that shift was far
//! from the mean (see [`CANCELLATION_GUARD`]) a second pass over the block, still in L1, sums
//! squared deviations from the mean, so precision holds even when the mean dwarfs the spread.
//!
//! The arithmetic is written once, generic over [`Simd`]: eight f64 lanes as one AVX-512
//! register, two AVX2 registers, or a plain array. Lanes combine in one fixed order and products
//! are added with IEEE fused multiply-add everywhere (`f64::mul_add` on the portable path), so
//! every CPU and every thread count gives bit-identical results.

use super::kernel::{Moments, PairAcc, SideAcc, Tolerance};

/// Logical lanes of every accumulator.
const L: usize = 8;

/// Eight f64 lanes and the operations the kernels need. Every method is a pure lane-wise IEEE
/// operation, so all implementations agree bit for bit.
///
/// # Safety
/// Implementations may use CPU instructions that must be present: call only through the entry
/// points below, which check.
trait Simd {
    type V: Copy;
    unsafe fn splat(x: f64) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b + c` rounded once (IEEE fused multiply-add).
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `x < acc ? x : acc` per lane.
    unsafe fn min(acc: Self::V, x: Self::V) -> Self::V;
    /// `x > acc ? x : acc` per lane.
    unsafe fn max(acc: Self::V, x: Self::V) -> Self::V;
    unsafe fn abs(x: Self::V) -> Self::V;
    /// `acc + (x == y ? 1 : 0)` per lane.
    unsafe fn count_eq(acc: Self::V, x: Self::V, y: Self::V) -> Self::V;
    /// `acc + (x > y ? 1 : 0)` per lane.
    unsafe fn count_gt(acc: Self::V, x: Self::V, y: Self::V) -> Self::V;
    unsafe fn to_array(v: Self::V) -> [f64; L];
    unsafe fn load_f32(b: &[u8; 32]) -> Self::V;
    unsafe fn load_bf16(b: &[u8; 16]) -> Self::V;
    unsafe fn load_f64(b: &[u8; 64]) -> Self::V;
}

/// A stored element type the fast path reads directly.
trait Load {
    /// Bytes per element.
    const SIZE: usize;
    unsafe fn load<S: Simd>(b: &[u8]) -> S::V;
    /// One element, for the tail of a block.
    fn one(b: &[u8]) -> f64;
}

struct F32;
struct BF16;
struct F64;

impl Load for F32 {
    const SIZE: usize = 4;
    #[inline(always)]
    unsafe fn load<S: Simd>(b: &[u8]) -> S::V {
        S::load_f32(b.try_into().expect("8 f32"))
    }
    #[inline(always)]
    fn one(b: &[u8]) -> f64 {
        f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64
    }
}

impl Load for BF16 {
    const SIZE: usize = 2;
    #[inline(always)]
    unsafe fn load<S: Simd>(b: &[u8]) -> S::V {
        S::load_bf16(b.try_into().expect("8 bf16"))
    }
    #[inline(always)]
    fn one(b: &[u8]) -> f64 {
        f32::from_bits((u16::from_le_bytes(b.try_into().expect("2 bytes")) as u32) << 16) as f64
    }
}

impl Load for F64 {
    const SIZE: usize = 8;
    #[inline(always)]
    unsafe fn load<S: Simd>(b: &[u8]) -> S::V {
        S::load_f64(b.try_into().expect("8 f64"))
    }
    #[inline(always)]
    fn one(b: &[u8]) -> f64 {
        f64::from_le_bytes(b.try_into().expect("8 bytes"))
    }
}

/// Plain arrays: the reference semantics, used where no SIMD extension is available.
struct Portable;

impl Simd for Portable {
    type V = [f64; L];
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self::V {
        [x; L]
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] - b[i])
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        std::array::from_fn(|i| a[i].mul_add(b[i], c[i]))
    }
    #[inline(always)]
    unsafe fn min(acc: Self::V, x: Self::V) -> Self::V {
        std::array::from_fn(|i| if x[i] < acc[i] { x[i] } else { acc[i] })
    }
    #[inline(always)]
    unsafe fn max(acc: Self::V, x: Self::V) -> Self::V {
        std::array::from_fn(|i| if x[i] > acc[i] { x[i] } else { acc[i] })
    }
    #[inline(always)]
    unsafe fn abs(x: Self::V) -> Self::V {
        std::array::from_fn(|i| x[i].abs())
    }
    #[inline(always)]
    unsafe fn count_eq(acc: Self::V, x: Self::V, y: Self::V) -> Self::V {
        std::array::from_fn(|i| acc[i] + if x[i] == y[i] { 1.0 } else { 0.0 })
    }
    #[inline(always)]
    unsafe fn count_gt(acc: Self::V, x: Self::V, y: Self::V) -> Self::V {
        std::array::from_fn(|i| acc[i] + if x[i] > y[i] { 1.0 } else { 0.0 })
    }
    #[inline(always)]
    unsafe fn to_array(v: Self::V) -> [f64; L] {
        v
    }
    #[inline(always)]
    unsafe fn load_f32(b: &[u8; 32]) -> Self::V {
        std::array::from_fn(|i| F32::one(&b[4 * i..4 * i + 4]))
    }
    #[inline(always)]
    unsafe fn load_bf16(b: &[u8; 16]) -> Self::V {
        std::array::from_fn(|i| BF16::one(&b[2 * i..2 * i + 2]))
    }
    #[inline(always)]
    unsafe fn load_f64(b: &[u8; 64]) -> Self::V {
        std::array::from_fn(|i| F64::one(&b[8 * i..8 * i + 8]))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Simd, L};
    use std::arch::x86_64::*;

    /// One 512-bit register of eight f64.
    pub struct Avx512;

    impl Simd for Avx512 {
        type V = __m512d;
        #[inline(always)]
        unsafe fn splat(x: f64) -> __m512d {
            _mm512_set1_pd(x)
        }
        #[inline(always)]
        unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
            _mm512_add_pd(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m512d, b: __m512d) -> __m512d {
            _mm512_sub_pd(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
            _mm512_mul_pd(a, b)
        }
        #[inline(always)]
        unsafe fn fma(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
            _mm512_fmadd_pd(a, b, c)
        }
        #[inline(always)]
        unsafe fn min(acc: __m512d, x: __m512d) -> __m512d {
            // vminpd(x, acc) returns acc unless x < acc: the portable semantics.
            _mm512_min_pd(x, acc)
        }
        #[inline(always)]
        unsafe fn max(acc: __m512d, x: __m512d) -> __m512d {
            _mm512_max_pd(x, acc)
        }
        #[inline(always)]
        unsafe fn abs(x: __m512d) -> __m512d {
            _mm512_abs_pd(x)
        }
        #[inline(always)]
        unsafe fn count_eq(acc: __m512d, x: __m512d, y: __m512d) -> __m512d {
            count512::<_CMP_EQ_OQ>(acc, x, y)
        }
        #[inline(always)]
        unsafe fn count_gt(acc: __m512d, x: __m512d, y: __m512d) -> __m512d {
            count512::<_CMP_GT_OQ>(acc, x, y)
        }
        #[inline(always)]
        unsafe fn to_array(v: __m512d) -> [f64; L] {
            let mut a = [0.0; L];
            _mm512_storeu_pd(a.as_mut_ptr(), v);
            a
        }
        #[inline(always)]
        unsafe fn load_f32(b: &[u8; 32]) -> __m512d {
            _mm512_cvtps_pd(_mm256_loadu_ps(b.as_ptr().cast()))
        }
        #[inline(always)]
        unsafe fn load_bf16(b: &[u8; 16]) -> __m512d {
            let halves = _mm_loadu_si128(b.as_ptr().cast());
            let words = _mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(halves));
            _mm512_cvtps_pd(_mm256_castsi256_ps(words))
        }
        #[inline(always)]
        unsafe fn load_f64(b: &[u8; 64]) -> __m512d {
            _mm512_loadu_pd(b.as_ptr().cast())
        }
    }

    /// `acc + (x CMP y ? 1 : 0)` on four lanes.
    #[inline(always)]
    unsafe fn count256<const CMP: i32>(acc: __m256d, x: __m256d, y: __m256d) -> __m256d {
        _mm256_add_pd(
            acc,
            _mm256_and_pd(_mm256_cmp_pd::<CMP>(x, y), _mm256_set1_pd(1.0)),
        )
    }

    /// `acc + (x CMP y ? 1 : 0)` on eight lanes.
    #[inline(always)]
    unsafe fn count512<const CMP: i32>(acc: __m512d, x: __m512d, y: __m512d) -> __m512d {
        let m = _mm512_cmp_pd_mask::<CMP>(x, y);
        _mm512_mask_add_pd(acc, m, acc, _mm512_set1_pd(1.0))
    }

    /// Two 256-bit registers of four f64: lanes 0–3 and 4–7.
    pub struct Avx2;

    impl Simd for Avx2 {
        type V = (__m256d, __m256d);
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self::V {
            (_mm256_set1_pd(x), _mm256_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
            (_mm256_add_pd(a.0, b.0), _mm256_add_pd(a.1, b.1))
        }
        #[inline(always)]
        unsafe fn sub(a: Self::V, b: Self::V) -> Self::V {
            (_mm256_sub_pd(a.0, b.0), _mm256_sub_pd(a.1, b.1))
        }
        #[inline(always)]
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
            (_mm256_mul_pd(a.0, b.0), _mm256_mul_pd(a.1, b.1))
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            (
                _mm256_fmadd_pd(a.0, b.0, c.0),
                _mm256_fmadd_pd(a.1, b.1, c.1),
            )
        }
        #[inline(always)]
        unsafe fn min(acc: Self::V, x: Self::V) -> Self::V {
            (_mm256_min_pd(x.0, acc.0), _mm256_min_pd(x.1, acc.1))
        }
        #[inline(always)]
        unsafe fn max(acc: Self::V, x: Self::V) -> Self::V {
            (_mm256_max_pd(x.0, acc.0), _mm256_max_pd(x.1, acc.1))
        }
        #[inline(always)]
        unsafe fn abs(x: Self::V) -> Self::V {
            let sign = _mm256_set1_pd(-0.0);
            (_mm256_andnot_pd(sign, x.0), _mm256_andnot_pd(sign, x.1))
        }
        #[inline(always)]
        unsafe fn count_eq(acc: Self::V, x: Self::V, y: Self::V) -> Self::V {
            (
                count256::<_CMP_EQ_OQ>(acc.0, x.0, y.0),
                count256::<_CMP_EQ_OQ>(acc.1, x.1, y.1),
            )
        }
        #[inline(always)]
        unsafe fn count_gt(acc: Self::V, x: Self::V, y: Self::V) -> Self::V {
            (
                count256::<_CMP_GT_OQ>(acc.0, x.0, y.0),
                count256::<_CMP_GT_OQ>(acc.1, x.1, y.1),
            )
        }
        #[inline(always)]
        unsafe fn to_array(v: Self::V) -> [f64; L] {
            let mut a = [0.0; L];
            _mm256_storeu_pd(a.as_mut_ptr(), v.0);
            _mm256_storeu_pd(a.as_mut_ptr().add(4), v.1);
            a
        }
        #[inline(always)]
        unsafe fn load_f32(b: &[u8; 32]) -> Self::V {
            let p = b.as_ptr().cast::<f32>();
            (
                _mm256_cvtps_pd(_mm_loadu_ps(p)),
                _mm256_cvtps_pd(_mm_loadu_ps(p.add(4))),
            )
        }
        #[inline(always)]
        unsafe fn load_bf16(b: &[u8; 16]) -> Self::V {
            let halves = _mm_loadu_si128(b.as_ptr().cast());
            let words = _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(halves)));
            (
                _mm256_cvtps_pd(_mm256_castps256_ps128(words)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(words)),
            )
        }
        #[inline(always)]
        unsafe fn load_f64(b: &[u8; 64]) -> Self::V {
            let p = b.as_ptr().cast::<f64>();
            (_mm256_loadu_pd(p), _mm256_loadu_pd(p.add(4)))
        }
    }
}

/// Sums the lanes in a fixed pairwise order.
#[inline(always)]
fn total(v: &[f64; L]) -> f64 {
    ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
}

fn fold_min(v: &[f64; L]) -> f64 {
    v.iter()
        .fold(f64::INFINITY, |a, &b| if b < a { b } else { a })
}

fn fold_max(v: &[f64; L]) -> f64 {
    v.iter()
        .fold(f64::NEG_INFINITY, |a, &b| if b > a { b } else { a })
}

/// Accumulators of one side: sums of `x - shift` and of its square (shift = the block's first
/// value), min, max and the zero count.
struct Side1<S: Simd> {
    shift: f64,
    shift_v: S::V,
    s1: S::V,
    s2: S::V,
    min: S::V,
    max: S::V,
    zero: S::V,
}

/// Lane arrays of a finished [`Side1`].
struct SideLanes {
    shift: f64,
    s1: [f64; L],
    s2: [f64; L],
    min: [f64; L],
    max: [f64; L],
    zero: [f64; L],
}

impl<S: Simd> Side1<S> {
    #[inline(always)]
    unsafe fn new(shift: f64) -> Self {
        Side1 {
            shift,
            shift_v: S::splat(shift),
            s1: S::splat(0.0),
            s2: S::splat(0.0),
            min: S::splat(f64::INFINITY),
            max: S::splat(f64::NEG_INFINITY),
            zero: S::splat(0.0),
        }
    }

    #[inline(always)]
    unsafe fn add(&mut self, x: S::V, zero: S::V) {
        let a = S::sub(x, self.shift_v);
        self.s1 = S::add(self.s1, a);
        self.s2 = S::fma(a, a, self.s2);
        self.min = S::min(self.min, x);
        self.max = S::max(self.max, x);
        self.zero = S::count_eq(self.zero, x, zero);
    }

    /// Lanes as arrays, with the block's tail (fewer than eight values) added lane by lane
    /// exactly as the vector code would.
    #[inline(always)]
    unsafe fn finish(self, tail: &[f64]) -> SideLanes {
        let mut f = SideLanes {
            shift: self.shift,
            s1: S::to_array(self.s1),
            s2: S::to_array(self.s2),
            min: S::to_array(self.min),
            max: S::to_array(self.max),
            zero: S::to_array(self.zero),
        };
        for (l, &x) in tail.iter().enumerate() {
            let a = x - f.shift;
            f.s1[l] += a;
            f.s2[l] = a.mul_add(a, f.s2[l]);
            f.min[l] = if x < f.min[l] { x } else { f.min[l] };
            f.max[l] = if x > f.max[l] { x } else { f.max[l] };
            f.zero[l] += if x == 0.0 { 1.0 } else { 0.0 };
        }
        f
    }
}

/// When the shifted sums lose more than this share of `Σ(x-shift)²` to the mean's own offset
/// (the shift was far from the mean), the block's squared deviations are summed again from the
/// mean: the shifted result keeps at least 20 bits of the 53, far beyond the 1e-9 promised.
const CANCELLATION_GUARD: f64 = 1.0 / (1u64 << 20) as f64;

/// Mean and M2 of one side of a block, or `None` when the block holds a NaN or Inf.
#[inline(always)]
unsafe fn moments<S: Simd, E: Load>(f: &SideLanes, n: usize, bytes: &[u8]) -> Option<(f64, f64)> {
    let (s1, s2) = (total(&f.s1), total(&f.s2));
    if !(s1.is_finite() && s2.is_finite()) {
        return None;
    }
    let nf = n as f64;
    let mean = f.shift + s1 / nf;
    let m2 = s2 - s1 * s1 / nf;
    if m2 >= s2 * CANCELLATION_GUARD {
        return Some((mean, m2));
    }
    let m2 = squared_deviations::<S, E>(bytes, mean);
    m2.is_finite().then_some((mean, m2))
}

/// Σ (x - mean)² over a block.
#[inline(always)]
unsafe fn squared_deviations<S: Simd, E: Load>(bytes: &[u8], mean: f64) -> f64 {
    let m = S::splat(mean);
    let mut acc = S::splat(0.0);
    let chunks = bytes.chunks_exact(L * E::SIZE);
    let rest = chunks.remainder();
    for c in chunks {
        let a = S::sub(E::load::<S>(c), m);
        acc = S::fma(a, a, acc);
    }
    let mut acc = S::to_array(acc);
    for (l, b) in rest.chunks_exact(E::SIZE).enumerate() {
        let a = E::one(b) - mean;
        acc[l] = a.mul_add(a, acc[l]);
    }
    total(&acc)
}

fn side_acc(n: usize, (mean, m2): (f64, f64), f: &SideLanes) -> SideAcc {
    SideAcc {
        moments: Moments {
            n: n as u64,
            mean,
            m2,
        },
        min: fold_min(&f.min),
        max: fold_max(&f.max),
        nan: 0,
        inf: 0,
        zero: total(&f.zero) as u64,
    }
}

/// The last fewer-than-eight values of a block, and how many there are.
fn tail<E: Load>(rest: &[u8]) -> ([f64; L], usize) {
    let mut t = [0.0; L];
    let mut k = 0;
    for (slot, b) in t.iter_mut().zip(rest.chunks_exact(E::SIZE)) {
        *slot = E::one(b);
        k += 1;
    }
    (t, k)
}

#[inline(always)]
unsafe fn side_kernel<S: Simd, E: Load>(bytes: &[u8]) -> Option<SideAcc> {
    let n = bytes.len() / E::SIZE;
    if n == 0 {
        return Some(SideAcc::default());
    }
    let zero = S::splat(0.0);
    let mut s = Side1::<S>::new(E::one(&bytes[..E::SIZE]));
    let chunks = bytes.chunks_exact(L * E::SIZE);
    let rest = chunks.remainder();
    for c in chunks {
        s.add(E::load::<S>(c), zero);
    }
    let (t, k) = tail::<E>(rest);
    let f = s.finish(&t[..k]);
    moments::<S, E>(&f, n, bytes).map(|m| side_acc(n, m, &f))
}

#[inline(always)]
unsafe fn pair_kernel<S: Simd, E: Load, const REL: bool>(
    o: &[u8],
    n: &[u8],
    tol: Tolerance,
) -> Option<(SideAcc, SideAcc, PairAcc)> {
    let count = o.len() / E::SIZE;
    if count == 0 || n.len() != o.len() {
        return (count == 0).then(Default::default);
    }
    let (zero, eps, rtol) = (S::splat(0.0), S::splat(tol.epsilon), S::splat(tol.rtol));
    let (mut so, mut sn) = (
        Side1::<S>::new(E::one(&o[..E::SIZE])),
        Side1::<S>::new(E::one(&n[..E::SIZE])),
    );
    let (mut sum_abs, mut max_abs, mut sum_d2, mut sum_dx, mut changed) =
        (zero, zero, zero, zero, zero);
    let oc = o.chunks_exact(L * E::SIZE);
    let nc = n.chunks_exact(L * E::SIZE);
    let (orest, nrest) = (oc.remainder(), nc.remainder());
    for (a, b) in oc.zip(nc) {
        let (x, y) = (E::load::<S>(a), E::load::<S>(b));
        so.add(x, zero);
        sn.add(y, zero);
        let d = S::sub(y, x);
        let ad = S::abs(d);
        sum_abs = S::add(sum_abs, ad);
        max_abs = S::max(max_abs, ad);
        sum_d2 = S::fma(d, d, sum_d2);
        sum_dx = S::fma(d, S::add(x, y), sum_dx);
        let limit = if REL {
            S::add(eps, S::mul(rtol, S::abs(x)))
        } else {
            eps
        };
        changed = S::count_gt(changed, ad, limit);
    }
    let ((ot, k), (nt, _)) = (tail::<E>(orest), tail::<E>(nrest));
    let (ot, nt) = (&ot[..k], &nt[..k]);
    let (fo, fn_) = (so.finish(ot), sn.finish(nt));
    let (mut sum_abs, mut max_abs, mut sum_d2, mut sum_dx, mut changed) = (
        S::to_array(sum_abs),
        S::to_array(max_abs),
        S::to_array(sum_d2),
        S::to_array(sum_dx),
        S::to_array(changed),
    );
    for (l, (&x, &y)) in ot.iter().zip(nt).enumerate() {
        let d = y - x;
        let ad = d.abs();
        sum_abs[l] += ad;
        max_abs[l] = if ad > max_abs[l] { ad } else { max_abs[l] };
        sum_d2[l] = d.mul_add(d, sum_d2[l]);
        sum_dx[l] = d.mul_add(x + y, sum_dx[l]);
        let limit = if REL {
            tol.epsilon + tol.rtol * x.abs()
        } else {
            tol.epsilon
        };
        changed[l] += if ad > limit { 1.0 } else { 0.0 };
    }
    let (sum_d2, sum_dx) = (total(&sum_d2), total(&sum_dx));
    if !(sum_d2.is_finite() && sum_dx.is_finite()) {
        return None;
    }
    let (o_mean, o_m2) = moments::<S, E>(&fo, count, o)?;
    let (n_mean, n_m2) = moments::<S, E>(&fn_, count, n)?;
    let nf = count as f64;
    let pair = PairAcc {
        n: count as u64,
        sum_abs: total(&sum_abs),
        max_abs: fold_max(&max_abs),
        sum_d2,
        // Over a block of finite values the pairwise norms are the sides' norms.
        sum_o2: o_m2 + nf * o_mean * o_mean,
        sum_n2: n_m2 + nf * n_mean * n_mean,
        sum_dx,
        changed: total(&changed) as u64,
    };
    Some((
        side_acc(count, (o_mean, o_m2), &fo),
        side_acc(count, (n_mean, n_m2), &fn_),
        pair,
    ))
}

/// Which instruction set the kernels run on, detected once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Isa {
    Avx512,
    Avx2,
    Portable,
}

/// The best instruction set this CPU has (`DIFFAI_ISA=portable|avx2` lowers it, for tests).
pub fn isa() -> Isa {
    use std::sync::OnceLock;
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = detect();
        match std::env::var("DIFFAI_ISA").as_deref() {
            Ok("portable") => Isa::Portable,
            Ok("avx2") if best != Isa::Portable => Isa::Avx2,
            _ => best,
        }
    })
}

#[cfg(target_arch = "x86_64")]
fn detect() -> Isa {
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    if avx2 && is_x86_feature_detected!("avx512f") {
        Isa::Avx512
    } else if avx2 {
        Isa::Avx2
    } else {
        Isa::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> Isa {
    Isa::Portable
}

macro_rules! entry_points {
    ($side:ident, $pair:ident, $load:ty) => {
        /// One block of one side; `None` when it holds a NaN or Inf.
        pub fn $side(bytes: &[u8]) -> Option<SideAcc> {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512(b: &[u8]) -> Option<SideAcc> {
                    side_kernel::<x86::Avx512, $load>(b)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2(b: &[u8]) -> Option<SideAcc> {
                    side_kernel::<x86::Avx2, $load>(b)
                }
                // SAFETY: `isa()` reports only instruction sets the CPU has.
                match isa() {
                    Isa::Avx512 => return unsafe { avx512(bytes) },
                    Isa::Avx2 => return unsafe { avx2(bytes) },
                    Isa::Portable => {}
                }
            }
            // SAFETY: the portable implementation uses no special instructions.
            unsafe { side_kernel::<Portable, $load>(bytes) }
        }

        /// One block of a pair (equal lengths); `None` when either holds a NaN or Inf.
        pub fn $pair(o: &[u8], n: &[u8], tol: Tolerance) -> Option<(SideAcc, SideAcc, PairAcc)> {
            let rel = tol.rtol != 0.0;
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512(
                    o: &[u8],
                    n: &[u8],
                    t: Tolerance,
                    rel: bool,
                ) -> Option<(SideAcc, SideAcc, PairAcc)> {
                    if rel {
                        pair_kernel::<x86::Avx512, $load, true>(o, n, t)
                    } else {
                        pair_kernel::<x86::Avx512, $load, false>(o, n, t)
                    }
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2(
                    o: &[u8],
                    n: &[u8],
                    t: Tolerance,
                    rel: bool,
                ) -> Option<(SideAcc, SideAcc, PairAcc)> {
                    if rel {
                        pair_kernel::<x86::Avx2, $load, true>(o, n, t)
                    } else {
                        pair_kernel::<x86::Avx2, $load, false>(o, n, t)
                    }
                }
                // SAFETY: `isa()` reports only instruction sets the CPU has.
                match isa() {
                    Isa::Avx512 => return unsafe { avx512(o, n, tol, rel) },
                    Isa::Avx2 => return unsafe { avx2(o, n, tol, rel) },
                    Isa::Portable => {}
                }
            }
            // SAFETY: the portable implementation uses no special instructions.
            unsafe {
                if rel {
                    pair_kernel::<Portable, $load, true>(o, n, tol)
                } else {
                    pair_kernel::<Portable, $load, false>(o, n, tol)
                }
            }
        }
    };
}

entry_points!(side_f32, pair_f32, F32);
entry_points!(side_bf16, pair_bf16, BF16);
entry_points!(side_f64, pair_f64, F64);

/// The bytes of decoded values, for the f64 fast path.
pub fn f64_bytes(x: &[f64]) -> &[u8] {
    // SAFETY: any initialised f64 memory is valid u8 memory of eight times the length, and u8
    // has no alignment requirement.
    unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<u8>(), std::mem::size_of_val(x)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction set gives the portable result bit for bit.
    #[test]
    fn instruction_sets_agree_bit_for_bit() {
        let o: Vec<f32> = (0..1021)
            .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.4)
            .collect();
        let n: Vec<f32> = o
            .iter()
            .enumerate()
            .map(|(i, v)| if i % 3 == 0 { v + 1e-4 } else { *v })
            .collect();
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (ob, nb) = (bytes(&o), bytes(&n));
        let tol = Tolerance {
            epsilon: 1e-5,
            rtol: 1e-3,
        };
        let portable = unsafe { pair_kernel::<Portable, F32, true>(&ob, &nb, tol) };
        let side = unsafe { side_kernel::<Portable, F32>(&ob) };
        assert!(portable.is_some());
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn run(
                    o: &[u8],
                    n: &[u8],
                    t: Tolerance,
                ) -> (Option<(SideAcc, SideAcc, PairAcc)>, Option<SideAcc>) {
                    (
                        pair_kernel::<x86::Avx2, F32, true>(o, n, t),
                        side_kernel::<x86::Avx2, F32>(o),
                    )
                }
                let (p, s) = unsafe { run(&ob, &nb, tol) };
                assert_eq!(p, portable);
                assert_eq!(s, side);
            }
            if is_x86_feature_detected!("avx512f") {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn run(
                    o: &[u8],
                    n: &[u8],
                    t: Tolerance,
                ) -> (Option<(SideAcc, SideAcc, PairAcc)>, Option<SideAcc>) {
                    (
                        pair_kernel::<x86::Avx512, F32, true>(o, n, t),
                        side_kernel::<x86::Avx512, F32>(o),
                    )
                }
                let (p, s) = unsafe { run(&ob, &nb, tol) };
                assert_eq!(p, portable);
                assert_eq!(s, side);
            }
        }
    }

    /// A first value far from the mean (the shift) must not cost precision.
    #[test]
    fn an_outlier_shift_keeps_the_variance_exact() {
        let mut x: Vec<f64> = (0..1000)
            .map(|i| 1.0 + ((i * 37) % 101) as f64 * 1e-6)
            .collect();
        x[0] = 1e9;
        let fast = side_f64(f64_bytes(&x)).expect("finite");
        let exact = crate::stats::kernel::side_masked(&x);
        let rel = (fast.moments.m2 - exact.moments.m2).abs() / exact.moments.m2;
        assert!(rel < 1e-12, "m2 relative error {rel:e}");
        let rest = side_f64(f64_bytes(&x[1..])).unwrap();
        let exact_rest = crate::stats::kernel::side_masked(&x[1..]);
        let rel = (rest.moments.m2 - exact_rest.moments.m2).abs() / exact_rest.moments.m2;
        assert!(
            rel < 1e-10,
            "tiny spread around 1.0: relative error {rel:e}"
        );
    }

    #[test]
    fn non_finite_blocks_are_refused() {
        let v = [1.0f64, f64::NAN, 2.0];
        assert!(side_f64(f64_bytes(&v)).is_none());
        let w = [1.0f64, 2.0, f64::INFINITY];
        assert!(pair_f64(f64_bytes(&v[..2]), f64_bytes(&w[..2]), Tolerance::default()).is_none());
        assert!(pair_f64(f64_bytes(&w), f64_bytes(&w), Tolerance::default()).is_none());
    }
}
