//! Small dense linear algebra for the analyses: dot products and updates of long vectors (the
//! compiler vectorises them for the machine's widest units), orthonormalisation, and the
//! eigenvalues of a small symmetric matrix.

use multiversion::multiversion;

/// Independent partial sums in [`dot`]: enough to keep vector units busy, and a fixed order so
/// the result does not depend on the machine.
const LANES: usize = 8;

/// `Σ a_i b_i`, summed in [`LANES`] interleaved partial sums.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f64>() + tail
}

/// `y += a·x`.
#[multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2+fma", "aarch64+neon"))]
pub fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    for (v, w) in y.iter_mut().zip(x) {
        *v += a * w;
    }
}

/// A matrix view of a slice: `rows × cols`, element `(i, j)` at `i·row_stride + j·col_stride`
/// (a row-major matrix has strides `(cols, 1)`, its transpose `(1, cols)`).
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f64],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f64], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element the view addresses lies in `data`.
    fn in_bounds(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1)
                .checked_mul(self.row_stride)
                .zip((self.cols - 1).checked_mul(self.col_stride))
                .and_then(|(a, b)| a.checked_add(b))
                .is_some_and(|last| last < self.data.len())
    }
}

/// `C = A B` into the row-major `c` (`a.rows × b.cols`), by `matrixmultiply`'s blocked SIMD
/// kernels.
pub fn product(a: View, b: View, c: &mut [f64]) {
    gemm(a, b, 0.0, c);
}

/// `C += A B` (see [`product`]).
pub fn add_product(a: View, b: View, c: &mut [f64]) {
    gemm(a, b, 1.0, c);
}

/// `C = A B + beta C`.
fn gemm(a: View, b: View, beta: f64, c: &mut [f64]) {
    assert!(a.cols == b.rows && c.len() == a.rows * b.cols && a.in_bounds() && b.in_bounds());
    if a.rows == 0 || b.cols == 0 {
        return;
    }
    if a.cols == 0 {
        c.iter_mut().for_each(|x| *x *= beta);
        return;
    }
    // SAFETY: every element the shapes and strides address lies inside its slice (asserted
    // above), `c` holds exactly `a.rows × b.cols` elements, and `c` is a `&mut` so it does not
    // alias `a` or `b`.
    unsafe {
        matrixmultiply::dgemm(
            a.rows,
            a.cols,
            b.cols,
            1.0,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.as_mut_ptr(),
            b.cols as isize,
            1,
        );
    }
}

/// Orthonormalises `columns` (each of the same length) by modified Gram–Schmidt, twice for
/// stability. A column that vanishes against the earlier ones (the span has lower rank) is
/// dropped. Returns the orthonormal columns and, for each, the index of the input column it
/// came from.
pub fn orthonormal_columns(columns: Vec<Vec<f64>>) -> (Vec<Vec<f64>>, Vec<usize>) {
    let scale = columns.iter().map(|c| dot(c, c)).sum::<f64>().sqrt();
    let mut q: Vec<Vec<f64>> = Vec::new();
    let mut kept = Vec::new();
    for (j, mut v) in columns.into_iter().enumerate() {
        for _ in 0..2 {
            for u in &q {
                let c = dot(u, &v);
                axpy(&mut v, -c, u);
            }
        }
        let norm = dot(&v, &v).sqrt();
        // A column this small relative to the whole set is rounding noise of a lower rank.
        if norm > 1e-12 * scale.max(f64::MIN_POSITIVE) {
            v.iter_mut().for_each(|x| *x /= norm);
            q.push(v);
            kept.push(j);
        }
    }
    (q, kept)
}

/// Eigenvalues (unordered) of the symmetric `n × n` matrix `a` (row-major; overwritten):
/// Householder reduction to tridiagonal form, then the implicit QL method with Wilkinson shifts.
/// About `4n³/3` operations.
pub fn symmetric_eigenvalues(a: &mut [f64], n: usize) -> Vec<f64> {
    let (mut d, mut e) = tridiagonalise(a, n);
    tridiagonal_eigenvalues(&mut d, &mut e);
    d
}

/// Reduces `a` to a tridiagonal matrix with the same eigenvalues by Householder reflections
/// `H = I − 2vvᵀ` applied from both sides; returns its diagonal and sub-diagonal (`e[n−1] = 0`).
fn tridiagonalise(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut e = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        let x: Vec<f64> = (k + 1..n).map(|i| a[i * n + k]).collect();
        let norm = dot(&x, &x).sqrt();
        if norm == 0.0 {
            continue;
        }
        let alpha = if x[0] > 0.0 { -norm } else { norm };
        let mut v = x;
        v[0] -= alpha;
        let vn = dot(&v, &v).sqrt();
        if vn == 0.0 {
            continue;
        }
        v.iter_mut().for_each(|x| *x /= vn);
        // On the trailing block S: S ← S − 2(vqᵀ + qvᵀ), p = Sv, q = p − (vᵀp)v.
        let m = n - k - 1;
        let p: Vec<f64> = (0..m)
            .map(|i| dot(&a[(k + 1 + i) * n + k + 1..(k + 2 + i) * n], &v))
            .collect();
        let kk = dot(&v, &p);
        let q: Vec<f64> = p.iter().zip(&v).map(|(p, v)| p - kk * v).collect();
        for i in 0..m {
            let row = &mut a[(k + 1 + i) * n + k + 1..(k + 1 + i) * n + n];
            for (j, s) in row.iter_mut().enumerate() {
                *s -= 2.0 * (v[i] * q[j] + q[i] * v[j]);
            }
        }
        a[(k + 1) * n + k] = alpha;
        a[k * n + k + 1] = alpha;
        for i in k + 2..n {
            a[i * n + k] = 0.0;
            a[k * n + i] = 0.0;
        }
    }
    let d = (0..n).map(|i| a[i * n + i]).collect();
    for (i, ei) in e.iter_mut().enumerate().take(n.saturating_sub(1)) {
        *ei = a[(i + 1) * n + i];
    }
    (d, e)
}

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and sub-diagonal `e`
/// (`e[i]` couples `i` and `i + 1`), left in `d`: implicit QL sweeps with a Wilkinson shift,
/// deflating where a sub-diagonal element falls below rounding of its neighbours.
fn tridiagonal_eigenvalues(d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    for l in 0..n {
        for _ in 0..64 {
            let mut m = l;
            while m + 1 < n {
                let scale = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * scale {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + if g >= 0.0 { r } else { -r });
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                let r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                let t = (d[i] - g) * s + 2.0 * c * b;
                p = s * t;
                d[i + 1] = g + p;
                g = c * t - b;
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eigenvalues by cyclic Jacobi rotations: slow, simple, the reference.
    fn jacobi(a: &mut [f64], n: usize) -> Vec<f64> {
        for _ in 0..100 {
            for p in 0..n {
                for q in p + 1..n {
                    let apq = a[p * n + q];
                    if apq == 0.0 {
                        continue;
                    }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                    let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                    let c = 1.0 / (t * t + 1.0).sqrt();
                    let s = t * c;
                    for r in 0..n {
                        let (x, y) = (a[r * n + p], a[r * n + q]);
                        a[r * n + p] = c * x - s * y;
                        a[r * n + q] = s * x + c * y;
                    }
                    for r in 0..n {
                        let (x, y) = (a[p * n + r], a[q * n + r]);
                        a[p * n + r] = c * x - s * y;
                        a[q * n + r] = s * x + c * y;
                    }
                }
            }
        }
        (0..n).map(|i| a[i * n + i]).collect()
    }

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    /// Agrees with Jacobi on random symmetric matrices, a rank-deficient Gram matrix, a
    /// diagonal one and one with repeated eigenvalues.
    #[test]
    fn eigenvalues_match_jacobi() {
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut cases: Vec<(usize, Vec<f64>)> = Vec::new();
        for n in [1, 2, 3, 7, 40, 72] {
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in i..n {
                    let v = next();
                    a[i * n + j] = v;
                    a[j * n + i] = v;
                }
            }
            cases.push((n, a));
        }
        // Gram matrix of 3 vectors in R^30: rank 3.
        let x: Vec<Vec<f64>> = (0..3).map(|_| (0..30).map(|_| next()).collect()).collect();
        let n = 30;
        let mut g = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                g[i * n + j] = x.iter().map(|v| v[i] * v[j]).sum();
            }
        }
        cases.push((n, g));
        cases.push((
            4,
            vec![
                3.0, 0., 0., 0., 0., -1.0, 0., 0., 0., 0., 2.0, 0., 0., 0., 0., 0.,
            ],
        ));
        cases.push((3, vec![2.0, 1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 2.0]));
        for (n, a) in cases {
            let want = sorted(jacobi(&mut a.clone(), n));
            let got = sorted(symmetric_eigenvalues(&mut a.clone(), n));
            let scale = want.iter().map(|v| v.abs()).fold(1e-300, f64::max);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-12 * scale, "n={n}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn product_of_views() {
        // A = [[1, 2, 3], [4, 5, 6]]; A Aᵀ = [[14, 32], [32, 77]], Aᵀ A is 3 × 3
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let v = View::rows(&a, 2, 3);
        let mut c = [0.0; 4];
        product(v, v.t(), &mut c);
        assert_eq!(c, [14.0, 32.0, 32.0, 77.0]);
        let mut c = [0.0; 9];
        product(v.t(), v, &mut c);
        assert_eq!(c, [17.0, 22.0, 27.0, 22.0, 29.0, 36.0, 27.0, 36.0, 45.0]);
        // an empty inner dimension gives zeros
        let mut c = [1.0; 4];
        product(View::rows(&[], 2, 0), View::rows(&[], 0, 2), &mut c);
        assert_eq!(c, [0.0; 4]);
        // accumulated: C + A Aᵀ
        let mut c = [1.0, 0.0, 0.0, 1.0];
        add_product(v, v.t(), &mut c);
        assert_eq!(c, [15.0, 32.0, 32.0, 78.0]);
    }

    #[test]
    #[should_panic]
    fn product_refuses_a_view_past_its_slice() {
        let a = [1.0; 5];
        let mut c = [0.0; 4];
        product(View::rows(&a, 2, 3), View::rows(&a, 3, 2), &mut c);
    }

    #[test]
    fn dot_and_orthonormal_columns() {
        let a: Vec<f64> = (0..21).map(|i| i as f64).collect();
        assert_eq!(dot(&a, &a), (0..21).map(|i| (i * i) as f64).sum::<f64>());
        let cols = vec![
            vec![1.0, 1.0, 0.0],
            vec![2.0, 2.0, 0.0],
            vec![0.0, 1.0, 1.0],
        ];
        let (q, kept) = orthonormal_columns(cols);
        assert_eq!(kept, vec![0, 2]);
        assert!((dot(&q[0], &q[1])).abs() < 1e-15);
        assert!((dot(&q[1], &q[1]) - 1.0).abs() < 1e-15);
    }
}
