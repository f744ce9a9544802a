//! Number formatting shared by the human-readable renderers.

/// Four decimals as in the product documents (`0.0018`), switching to scientific notation
/// (`1.2340e-6`) where four decimals would hide a non-zero value or the value is beyond 1e16.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else if v == 0.0 {
        "0.0000".into()
    } else if v.abs() < 0.00005 || v.abs() >= 1e16 {
        format!("{v:.4e}")
    } else {
        format!("{v:.4}")
    }
}

/// An optional statistic: `n/a` when there was nothing to compute it over.
pub fn opt(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "n/a".into())
}

/// Sizes as the product documents show them: `0.39KB` (KB = 1024 bytes), then MB, GB.
pub fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KIB * KIB {
        format!("{:.2}KB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.2}MB", b / (KIB * KIB))
    } else {
        format!("{:.2}GB", b / (KIB * KIB * KIB))
    }
}

/// An integer with thousands separators: `11,689,512`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A percentage with two decimals: `93.75%`.
pub fn percent(fraction: f64) -> String {
    format!("{:.2}%", fraction * 100.0)
}

/// A cosine as a short label: `0.973`, or `1−5.2e-7` when three decimals would print `1.000`
/// (the cosines of a fine-tune all sit that close to 1).
pub fn cosine(c: f64) -> String {
    /// Below this distance from 1 three decimals round to `1.000`.
    const ROUNDS_TO_ONE: f64 = 5e-4;
    let gap = 1.0 - c;
    if gap > 0.0 && gap < ROUNDS_TO_ONE {
        format!("1−{gap:.1e}")
    } else {
        format!("{c:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_four_decimals_unless_that_hides_the_value() {
        assert_eq!(num(0.0018), "0.0018");
        assert_eq!(num(-0.00015), "-0.0001"); // rounds half-even on the binary value
        assert_eq!(num(-0.0), "0.0000");
        assert_eq!(num(1.234e-6), "1.2340e-6");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
        assert_eq!(num(12.5), "12.5000");
    }

    #[test]
    fn sizes_and_counts() {
        assert_eq!(size(400), "0.39KB");
        assert_eq!(size(3 * 1024 * 1024), "3.00MB");
        assert_eq!(thousands(11_689_512), "11,689,512");
        assert_eq!(thousands(999), "999");
        assert_eq!(percent(0.9375), "93.75%");
    }
}
