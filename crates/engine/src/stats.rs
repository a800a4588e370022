//! Confidence intervals (95%): Wilson (z = 1.96), the adjusted-Wald interval of NPS, and the
//! Student-t interval of a mean, with the t quantile computed here.

/// The z value of a two-sided 95% interval.
pub(crate) const Z: f64 = 1.96;

/// The 0.975 quantile of the standard normal distribution, the limit of [`t_975`].
const Z_975: f64 = 1.959_963_984_540_054;

/// Above this many degrees of freedom, [`t_975`] uses the Cornish-Fisher expansion (its error
/// there is far below 1e-12).
const EXPANSION_DF: u64 = 1_000;

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error about 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let sum = C.iter().enumerate().skip(1).fold(C[0], |sum, (i, c)| sum + c / (x + i as f64));
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The continued fraction of the incomplete beta function (modified Lentz).
fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    d = if d.abs() < TINY { TINY } else { d };
    d = 1.0 / d;
    let mut h = d;
    for m in 1..10_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for numerator in [m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))]
        {
            d = 1.0 + numerator * d;
            d = if d.abs() < TINY { TINY } else { d };
            c = 1.0 + numerator / c;
            c = if c.abs() < TINY { TINY } else { c };
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b).
fn incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_fraction(1.0 - x, b, a) / b
    }
}

/// P(|T| > t) for Student's t with `df` degrees of freedom.
fn t_two_sided_tail(t: f64, df: f64) -> f64 {
    incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
}

/// The density of Student's t with `df` degrees of freedom at `t`.
fn t_density(t: f64, df: f64) -> f64 {
    let ln = ln_gamma((df + 1.0) / 2.0)
        - ln_gamma(df / 2.0)
        - 0.5 * (df * std::f64::consts::PI).ln()
        - (df + 1.0) / 2.0 * (1.0 + t * t / df).ln();
    ln.exp()
}

/// The 0.975 quantile of Student's t with `df` ≥ 1 degrees of freedom: the factor of a
/// two-sided 95% interval (12.706 at 1, 2.262 at 9, 1.960 in the limit). Exact forms for 1
/// and 2 degrees of freedom, Newton's method on the exact distribution (kept inside a
/// bracket) up to 1,000 degrees of freedom, the Cornish-Fisher expansion beyond.
pub(crate) fn t_975(df: u64) -> f64 {
    match df {
        0 => f64::NAN,
        1 => (0.475 * std::f64::consts::PI).tan(),
        2 => 0.95 / (2.0 * 0.975 * 0.025_f64).sqrt(),
        df if df > EXPANSION_DF => {
            let (z, v) = (Z_975, df as f64);
            let z2 = z * z;
            let g1 = (z2 + 1.0) * z / 4.0;
            let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
            let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
            let g4 = ((((79.0 * z2 + 776.0) * z2 + 1_482.0) * z2 - 1_920.0) * z2 - 945.0) * z / 92_160.0;
            z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
        }
        df => {
            let v = df as f64;
            let (mut low, mut high) = (Z_975, 4.31);
            let mut t = Z_975 + (Z_975.powi(3) + Z_975) / (4.0 * v);
            for _ in 0..100 {
                let excess = t_two_sided_tail(t, v) - 0.05;
                if excess > 0.0 {
                    low = t
                } else {
                    high = t
                }
                let mut next = t + excess / (2.0 * t_density(t, v));
                if !(low..=high).contains(&next) {
                    next = (low + high) / 2.0;
                }
                if (next - t).abs() <= 1e-15 * t {
                    return next;
                }
                t = next;
            }
            t
        }
    }
}

/// The Wilson score interval of `k` successes in `n` trials, as a proportion; `None` when n = 0.
pub(crate) fn wilson(k: u64, n: u64) -> Option<(f64, f64)> {
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

/// The Wilson score interval of `k` successes in `n` trials, in percent; `None` when n = 0.
pub(crate) fn percent_interval(k: u64, n: u64) -> Option<(f64, f64)> {
    wilson(k, n).map(|(low, high)| (100.0 * low, 100.0 * high))
}

/// The standard error of a proportion `k`/`n` in percent, 100·√(p(1 − p)/n); `None` when n = 0.
pub(crate) fn percent_se(k: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| {
        let p = k as f64 / n as f64;
        100.0 * (p * (1.0 - p) / n as f64).sqrt()
    })
}

/// The standard error of NPS in points, 100·√((p_P + p_D − (p_P − p_D)²)/N); `None` when n = 0.
pub(crate) fn nps_se(promoters: u64, detractors: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| {
        let (p, d) = (promoters as f64 / n as f64, detractors as f64 / n as f64);
        100.0 * ((p + d - (p - d).powi(2)).max(0.0) / n as f64).sqrt()
    })
}

/// The standard error of a mean, sd/√n with the sample sd, from the count, sum and sum of
/// squares; `None` when n < 2.
pub(crate) fn mean_se(n: u64, sum: f64, sum_squares: f64) -> Option<f64> {
    if n < 2 {
        return None;
    }
    let count = n as f64;
    let mean = sum / count;
    let variance = ((sum_squares - count * mean * mean) / (count - 1.0)).max(0.0);
    Some((variance / count).sqrt())
}

/// The complementary error function erfc(x) = 1 − erf(x), to about 1e-15 relative: the
/// series erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1)/(1·3·…·(2n+1)) below 3, the continued
/// fraction erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))) from 3 on.
pub(crate) fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    let scale = (-x * x).exp() / std::f64::consts::PI.sqrt();
    if x < 3.0 {
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= 2.0 * x * x / (2 * n + 1) as f64;
            sum += term;
            if term < 1e-17 * sum {
                break;
            }
        }
        1.0 - 2.0 * scale * sum
    } else {
        let mut f = x;
        for k in (1..=80).rev() {
            f = x + f64::from(k) / 2.0 / f;
        }
        scale / f
    }
}

/// The two-sided p-value of a standard normal statistic `z`: P(|Z| ≥ |z|) = erfc(|z|/√2).
pub(crate) fn two_sided_p(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// The adjusted-Wald 95% interval of NPS (Rocks 2016), in NPS points, of `promoters` and
/// `detractors` among `n` > 0 responses: N' = N + 3, p'P = (P + ¾)/N', p'D = (D + ¾)/N',
/// 100·(p'P − p'D) ± 196·√((p'P + p'D − (p'P − p'D)²)/N'), clamped to [−100, 100]. Its
/// width never collapses to zero (version 1's did at N = 1).
pub(crate) fn nps_adjusted_wald(promoters: u64, detractors: u64, n: u64) -> (f64, f64) {
    let adjusted = n as f64 + 3.0;
    let p = (promoters as f64 + 0.75) / adjusted;
    let d = (detractors as f64 + 0.75) / adjusted;
    let center = 100.0 * (p - d);
    let half = 196.0 * ((p + d - (p - d).powi(2)).max(0.0) / adjusted).sqrt();
    ((center - half).max(-100.0), (center + half).min(100.0))
}

/// The mean and its 95% interval (mean ± t·sd/√n with the sample sd and the 0.975 quantile of
/// Student's t with n − 1 degrees of freedom) from the count, sum and sum of squares; the
/// interval is `None` when n < 2.
pub(crate) fn mean_interval(n: u64, sum: f64, sum_squares: f64) -> Option<(f64, Option<(f64, f64)>)> {
    if n == 0 {
        return None;
    }
    let count = n as f64;
    let mean = sum / count;
    if n < 2 {
        return Some((mean, None));
    }
    let variance = ((sum_squares - count * mean * mean) / (count - 1.0)).max(0.0);
    let half = t_975(n - 1) * variance.sqrt() / count.sqrt();
    Some((mean, Some((mean - half, mean + half))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        // Abramowitz & Stegun table 7.1 and the normal table: erfc(0.5) = 0.4795001222,
        // erfc(2) = 0.004677734981, P(|Z| ≥ 1.96) = 0.04999579, P(|Z| ≥ 5) = 5.733e-7.
        assert!((erfc(0.5) - 0.479_500_122_2).abs() < 1e-10);
        assert!((erfc(2.0) - 0.004_677_734_981).abs() < 1e-12);
        assert!((two_sided_p(1.96) - 0.049_995_790_3).abs() < 1e-9);
        assert!((two_sided_p(-5.0) / 5.733_031_4e-7 - 1.0).abs() < 1e-6);
        assert!((erfc(3.0) - 2.209_049_699_858_544e-5).abs() < 1e-18);
        assert_eq!(two_sided_p(0.0), 1.0);
    }

    #[test]
    fn wilson_matches_a_worked_example() {
        // 8 of 10: the textbook Wilson interval is (0.4902, 0.9433).
        let (low, high) = wilson(8, 10).unwrap();
        assert!((low - 0.4902).abs() < 1e-4 && (high - 0.9433).abs() < 1e-4, "{low} {high}");
        assert_eq!(wilson(0, 0), None);
    }

    #[test]
    fn nps_interval_is_adjusted_wald() {
        // One promoter: N' = 4, p'P = 1.75/4, p'D = 0.75/4, centre 25, half-width
        // 196·√((0.4375 + 0.1875 − 0.0625)/4) = 196·0.375 = 73.5.
        let (low, high) = nps_adjusted_wald(1, 0, 1);
        assert!((low - -48.5).abs() < 1e-9 && (high - 98.5).abs() < 1e-9, "{low} {high}");
        // Everyone a promoter at large N: clamped at 100.
        assert_eq!(nps_adjusted_wald(10_000, 0, 10_000).1, 100.0);
    }

    #[test]
    fn t_quantiles_match_the_table() {
        // Two-sided 95% values of any t table (three decimals).
        for (df, table) in
            [(1, 12.706), (2, 4.303), (3, 3.182), (5, 2.571), (9, 2.262), (29, 2.045), (120, 1.980), (1_000, 1.962)]
        {
            assert!((t_975(df) - table).abs() < 5e-4, "t(0.975, {df}) = {}, table {table}", t_975(df));
        }
        // More digits (mpmath, the root of its regularized incomplete beta at 30 digits).
        for (df, exact) in [
            (3, 3.182_446_305_283_709_6),
            (9, 2.262_157_162_798_205_5),
            (29, 2.045_229_642_132_704_3),
            (1_000, 1.962_339_080_826_408_5),
            (1_001, 1.962_336_705_280_88),
            (5_000, 1.960_438_551_706_508),
        ] {
            assert!((t_975(df) - exact).abs() < 1e-12, "t(0.975, {df}) = {}, exactly {exact}", t_975(df));
        }
        assert!((t_975(u64::MAX) - Z_975).abs() < 1e-12);
    }

    #[test]
    fn mean_interval_uses_the_sample_sd() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample sd 2.138.
        let xs = [2.0_f64, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let (mean, ci) = mean_interval(8, xs.iter().sum(), xs.iter().map(|x| x * x).sum()).unwrap();
        let (low, _) = ci.unwrap();
        assert!((mean - 5.0).abs() < 1e-12);
        assert!((mean - low - t_975(7) * 2.138_089_935 / 8f64.sqrt()).abs() < 1e-6);
        assert_eq!(mean_interval(1, 3.0, 9.0), Some((3.0, None)));
    }
}
