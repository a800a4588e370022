//! Confidence intervals (95%, z = 1.96).

/// The z value of a two-sided 95% interval.
pub const Z: f64 = 1.96;

/// The Wilson score interval of `k` successes in `n` trials, as a proportion; `None` when n = 0.
pub fn wilson(k: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z * Z;
    let denominator = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denominator;
    let half = Z / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(((center - half).max(0.0), (center + half).min(1.0)))
}

/// The mean and its 95% interval (mean ± z·sd/√n with the sample sd) from the count, sum and
/// sum of squares; the interval is `None` when n < 2.
pub fn mean_interval(n: u64, sum: f64, sum_squares: f64) -> Option<(f64, Option<(f64, f64)>)> {
    if n == 0 {
        return None;
    }
    let count = n as f64;
    let mean = sum / count;
    if n < 2 {
        return Some((mean, None));
    }
    let variance = ((sum_squares - count * mean * mean) / (count - 1.0)).max(0.0);
    let half = Z * variance.sqrt() / count.sqrt();
    Some((mean, Some((mean - half, mean + half))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn wilson_matches_a_worked_example() {
        // 8 of 10: the textbook Wilson interval is (0.4902, 0.9433).
        let (low, high) = wilson(8, 10).unwrap();
        assert!((low - 0.4902).abs() < 1e-4 && (high - 0.9433).abs() < 1e-4, "{low} {high}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn mean_interval_uses_the_sample_sd() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample sd 2.138.
        let xs = [2.0_f64, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let (mean, ci) = mean_interval(8, xs.iter().sum(), xs.iter().map(|x| x * x).sum()).unwrap();
        let (low, _) = ci.unwrap();
        assert!((mean - 5.0).abs() < 1e-12);
        assert!((mean - low - 1.96 * 2.138_089_935 / 8f64.sqrt()).abs() < 1e-6);
        assert_eq!(mean_interval(1, 3.0, 9.0), Some((3.0, None)));
    }
}
