//! `--show-distribution`: how each changed tensor's value distribution moved. Per shared
//! same-shape tensor: quantiles p1…p99 of both sides (numpy's default linear interpolation), a
//! histogram over shared bins, the two-sample Kolmogorov–Smirnov statistic
//! `max |F_old(x) − F_new(x)|` and the Wasserstein-1 distance `∫ |F_old − F_new| dx`, all exact
//! from the sorted finite values.

use super::tensors::{entries, Entry, Match};
use super::{Analysis, Field, Finding, Input, Row};
use rayon::prelude::*;

use crate::stats::{par_ranges, random_access, visit_f64, visit_range_f64};

pub struct Distribution;

/// Largest tensor whose values are sorted for exact numbers (64 Ki elements: sorting costs
/// ~25 ns an element, 20 times a histogram pass, so a 1 GB model's 1024×1024 matrices would take
/// seconds); larger tensors are summarised through a fine histogram instead ([`FINE_BINS`] bins over
/// both sides' range, streaming passes), and their rows say `method=histogram`.
pub const MAX_SORTED: u64 = 1 << 16;
/// Bins of the histogram large tensors are summarised with: quantiles, KS and W1 are then exact
/// to within one bin width, (max − min) / 65536.
pub const FINE_BINS: usize = 1 << 16;
/// Bins of the shared histogram.
pub const BINS: usize = 20;
pub const QUANTILES: [(&str, f64); 7] = [
    ("p1", 0.01),
    ("p5", 0.05),
    ("p25", 0.25),
    ("p50", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
    ("p99", 0.99),
];

impl Analysis for Distribution {
    fn name(&self) -> &'static str {
        "show_distribution"
    }

    fn flag(&self) -> &'static str {
        "show-distribution"
    }

    fn help(&self) -> &'static str {
        "per changed tensor: quantiles p1..p99, shared-bin histogram, Kolmogorov-Smirnov statistic, Wasserstein-1 distance"
    }

    fn run(&self, input: &Input) -> Finding {
        let all = entries(input);
        let changed: Vec<&Entry> = all.iter().filter(|e| e.kind == Match::Changed).collect();
        // min/max of both sides from the diff's statistics: the histogram then needs one pass.
        let ranges: std::collections::HashMap<&str, (f64, f64)> = input
            .report
            .changes
            .iter()
            .filter_map(|c| {
                let (a, b) = (c.old.as_ref()?.stats()?, c.new.as_ref()?.stats()?);
                Some((c.path.as_str(), (a.min?.min(b.min?), a.max?.max(b.max?))))
            })
            .collect();
        let computed: Vec<(Row, Option<f64>)> = changed
            .par_iter()
            .map(|e| one(e, ranges.get(e.path.as_str()).copied()))
            .collect();
        let mut worst: Option<(f64, &str)> = None;
        for (e, (_, ks)) in changed.iter().zip(&computed) {
            if let Some(ks) = ks {
                if worst.is_none_or(|(k, _)| *ks > k) {
                    worst = Some((*ks, e.path.as_str()));
                }
            }
        }
        let rows: Vec<_> = computed.into_iter().map(|(r, _)| r).collect();
        Finding {
            rows,
            ..Finding::default()
        }
        .field("tensors", changed.len())
        .field(
            "max_ks",
            worst.map_or(Field::Missing("no changed tensor".into()), |(k, _)| {
                Field::Num(k)
            }),
        )
        .field(
            "max_ks_path",
            worst.map_or(Field::Missing("no changed tensor".into()), |(_, p)| {
                Field::from(p)
            }),
        )
    }
}

/// One tensor's row, and its KS statistic when computed.
fn one(e: &Entry, range: Option<(f64, f64)>) -> (Row, Option<f64>) {
    let mut row = vec![("path", Field::Text(e.path.clone()))];
    let (o, n) = (e.old.expect("shared"), e.new.expect("shared"));
    if o.numel() > MAX_SORTED {
        return approximate(o, n, range, row);
    }
    let (a, b) = match rayon::join(|| sorted(o), || sorted(n)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => {
            row.push((
                "ks",
                Field::Missing("values not decodable as real numbers".into()),
            ));
            return (row, None);
        }
    };
    if a.is_empty() || b.is_empty() {
        row.push(("ks", Field::Missing("no finite values".into())));
        return (row, None);
    }
    let (ks, w1) = ks_w1(&a, &b);
    row.push(("ks", Field::Num(ks)));
    row.push(("wasserstein", Field::Num(w1)));
    for (name, q) in QUANTILES {
        row.push((
            name,
            Field::Text(format!("{}->{}", quantile(&a, q), quantile(&b, q))),
        ));
    }
    let (lo, hi) = (a[0].min(b[0]), a[a.len() - 1].max(b[b.len() - 1]));
    row.push(("hist_range", Field::Text(format!("[{lo}, {hi}]"))));
    row.push((
        "hist_old",
        Field::List(histogram(&a, lo, hi).iter().map(u64::to_string).collect()),
    ));
    row.push((
        "hist_new",
        Field::List(histogram(&b, lo, hi).iter().map(u64::to_string).collect()),
    ));
    (row, Some(ks))
}

/// A large tensor pair through [`FINE_BINS`]-bin histograms over both sides' finite range
/// (`known`: from the diff's statistics, else found in a first pass).
fn approximate(
    o: &crate::tensor::Tensor,
    n: &crate::tensor::Tensor,
    known: Option<(f64, f64)>,
    mut row: Row,
) -> (Row, Option<f64>) {
    let range = |t: &crate::tensor::Tensor| {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        visit_f64(t, |b| {
            for &v in b.iter().filter(|v| v.is_finite()) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        })
        .map(|_| (lo, hi))
    };
    let (lo, hi) = match known {
        Some(r) => r,
        None => {
            let (Ok((lo1, hi1)), Ok((lo2, hi2))) = rayon::join(|| range(o), || range(n)) else {
                row.push((
                    "ks",
                    Field::Missing("values not decodable as real numbers".into()),
                ));
                return (row, None);
            };
            (lo1.min(lo2), hi1.max(hi2))
        }
    };
    if lo > hi {
        row.push(("ks", Field::Missing("no finite values".into())));
        return (row, None);
    }
    let width = (hi - lo) / FINE_BINS as f64;
    let per_width = if width > 0.0 { 1.0 / width } else { 0.0 };
    // Ranges binned in parallel (u32 counts: a range holds far fewer than 2^32 elements).
    let hist = |t: &crate::tensor::Tensor| {
        par_ranges(
            t.numel(),
            8,
            random_access(t),
            vec![0u64; FINE_BINS],
            |start, end| {
                let mut h = vec![0u32; FINE_BINS];
                visit_range_f64(t, start, end, |b| {
                    for &v in b.iter().filter(|v| v.is_finite()) {
                        // `as` saturates: a value at `lo` or a NaN-free rounding below is bin 0.
                        h[(((v - lo) * per_width) as usize).min(FINE_BINS - 1)] += 1;
                    }
                })?;
                Ok(h)
            },
            |h, part| h.iter_mut().zip(part).for_each(|(a, b)| *a += b as u64),
        )
        .unwrap_or_default()
    };
    let (ha, hb) = rayon::join(|| hist(o), || hist(n));
    let (na, nb) = (ha.iter().sum::<u64>() as f64, hb.iter().sum::<u64>() as f64);
    let (mut ca, mut cb, mut ks, mut w1) = (0.0, 0.0, 0.0f64, 0.0);
    for (x, y) in ha.iter().zip(&hb) {
        ca += *x as f64 / na;
        cb += *y as f64 / nb;
        ks = ks.max((ca - cb).abs());
        w1 += (ca - cb).abs() * width;
    }
    let quantile = |h: &[u64], total: f64, q: f64| {
        let target = q * total;
        let mut acc = 0.0;
        for (k, c) in h.iter().enumerate() {
            let next = acc + *c as f64;
            if next >= target && *c > 0 {
                return lo + width * (k as f64 + (target - acc) / *c as f64);
            }
            acc = next;
        }
        hi
    };
    row.push((
        "method",
        Field::from("histogram (65536 bins; within one bin width)"),
    ));
    row.push(("ks", Field::Num(ks)));
    row.push(("wasserstein", Field::Num(w1)));
    for (name, q) in QUANTILES {
        row.push((
            name,
            Field::Text(format!(
                "{}->{}",
                quantile(&ha, na, q),
                quantile(&hb, nb, q)
            )),
        ));
    }
    let coarse = |h: &[u64]| -> Vec<String> {
        let mut c = [0u64; BINS];
        for (k, n) in h.iter().enumerate() {
            c[k * BINS / FINE_BINS] += n;
        }
        c.iter().map(u64::to_string).collect()
    };
    row.push(("hist_range", Field::Text(format!("[{lo}, {hi}]"))));
    row.push(("hist_old", Field::List(coarse(&ha))));
    row.push(("hist_new", Field::List(coarse(&hb))));
    (row, Some(ks))
}

fn sorted(t: &crate::tensor::Tensor) -> Result<Vec<f64>, String> {
    let mut v = Vec::with_capacity(t.numel() as usize);
    visit_f64(t, |b| v.extend(b.iter().filter(|x| x.is_finite())))?;
    v.sort_unstable_by(f64::total_cmp);
    Ok(v)
}

/// numpy's default (`linear`) quantile of sorted values.
fn quantile(s: &[f64], q: f64) -> f64 {
    let h = (s.len() - 1) as f64 * q;
    let (i, frac) = (h.floor() as usize, h - h.floor());
    if i + 1 < s.len() {
        s[i] + (s[i + 1] - s[i]) * frac
    } else {
        s[i]
    }
}

/// KS statistic and Wasserstein-1 distance of two sorted samples (empirical CDFs).
fn ks_w1(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut ks, mut w1) = (0.0f64, 0.0f64);
    let mut x = a[0].min(b[0]);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(&p), Some(&q)) => p.min(q),
            (Some(&p), None) => p,
            (None, Some(&q)) => q,
            (None, None) => break,
        };
        let gap = (i as f64 / na - j as f64 / nb).abs();
        w1 += gap * (next - x);
        while i < a.len() && a[i] == next {
            i += 1;
        }
        while j < b.len() && b[j] == next {
            j += 1;
        }
        ks = ks.max((i as f64 / na - j as f64 / nb).abs());
        x = next;
    }
    (ks, w1)
}

/// Counts in [`BINS`] equal bins over `[lo, hi]` (the last bin closed).
fn histogram(s: &[f64], lo: f64, hi: f64) -> [u64; BINS] {
    let mut h = [0u64; BINS];
    let width = (hi - lo) / BINS as f64;
    for &v in s {
        let k = if width > 0.0 {
            (((v - lo) / width) as usize).min(BINS - 1)
        } else {
            0
        };
        h[k] += 1;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::{ByteSource, DType, Tensor};

    fn tensor(v: &[f64]) -> Tensor {
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Tensor::dense(DType::F64, vec![v.len() as u64], ByteSource::owned(bytes))
    }

    /// The histogram path agrees with the exact one to within a bin width (KS within the mass of
    /// one bin), on skewed data.
    #[test]
    fn histogram_summary_matches_the_exact_one() {
        let a: Vec<f64> = (0..20_000)
            .map(|i| ((i * 7919) % 20_000) as f64 / 1000.0)
            .collect();
        let b: Vec<f64> = a.iter().map(|x| x * x / 20.0 + 0.1).collect();
        let (ta, tb) = (tensor(&a), tensor(&b));
        let (row, ks) = approximate(&ta, &tb, None, Vec::new());
        let get = |k: &str| {
            row.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, f)| f.clone())
                .unwrap()
        };
        let (mut sa, mut sb) = (a.clone(), b.clone());
        sa.sort_by(f64::total_cmp);
        sb.sort_by(f64::total_cmp);
        let (eks, ew1) = ks_w1(&sa, &sb);
        let width =
            (sa[0].min(sb[0]) - sa[sa.len() - 1].max(sb[sb.len() - 1])).abs() / FINE_BINS as f64;
        assert!((ks.unwrap() - eks).abs() < 0.01, "{ks:?} vs {eks}");
        let Field::Num(w1) = get("wasserstein") else {
            panic!()
        };
        assert!((w1 - ew1).abs() <= 2.0 * width, "{w1} vs {ew1}");
        let Field::Text(p50) = get("p50") else {
            panic!()
        };
        let (x, y) = p50.split_once("->").unwrap();
        assert!((x.parse::<f64>().unwrap() - quantile(&sa, 0.5)).abs() <= 2.0 * width);
        assert!((y.parse::<f64>().unwrap() - quantile(&sb, 0.5)).abs() <= 2.0 * width);
        let Field::List(h) = get("hist_old") else {
            panic!()
        };
        assert_eq!(h.len(), BINS);
        assert_eq!(
            h.iter().map(|c| c.parse::<u64>().unwrap()).sum::<u64>(),
            20_000
        );
    }
}
