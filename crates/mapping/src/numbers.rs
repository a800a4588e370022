//! Reading numbers exactly: whole numbers, decimals scaled to whole units (major → minor units),
//! and durations. No floating point, no thousands separators: `1,500` is refused rather than
//! guessed (it is 1.5 in half the world).

/// A decimal read exactly: `units × 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    /// Reads `-12`, `12.50`, `+3`, `.5`; at most 18 fractional digits.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let v = text.trim();
        let bad = || format!("`{v}` is not a number (digits with an optional `.` fraction; no thousands separators)");
        let (negative, digits) = match v.as_bytes().first() {
            Some(b'-') => (true, &v[1..]),
            Some(b'+') => (false, &v[1..]),
            _ => (false, v),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || frac.len() > 18
            || int.len() > 20
        {
            return Err(bad());
        }
        let joined = format!("{int}{frac}");
        let units: i128 = if joined.is_empty() { 0 } else { joined.parse().map_err(|_| bad())? };
        Ok(Self { units: if negative { -units } else { units }, scale: frac.len() as u32 })
    }

    /// `self × factor` as a whole number, refused when it has a fraction left.
    pub(crate) fn times(self, factor: i64, what: &str) -> Result<i64, String> {
        let product = self.units.checked_mul(i128::from(factor)).ok_or_else(|| format!("{what} is out of range"))?;
        let divisor = 10i128.pow(self.scale);
        if product % divisor != 0 {
            return Err(format!("{what} is not a whole number after scaling by {factor}"));
        }
        i64::try_from(product / divisor).map_err(|_| format!("{what} is out of range"))
    }
}

/// A whole number; `9.0` as spreadsheets write it is 9, `9.5` is refused.
pub(crate) fn whole(text: &str) -> Result<i64, String> {
    Decimal::parse(text)?.times(1, &format!("`{}`", text.trim()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn whole_numbers_accept_spreadsheet_decimals_only_when_whole() {
        assert_eq!(whole("9"), Ok(9));
        assert_eq!(whole("9.0"), Ok(9));
        assert_eq!(whole("-3"), Ok(-3));
        assert!(whole("9.5").is_err());
        assert!(whole("nine").is_err());
        assert!(whole("1,500").is_err());
        assert!(whole("").is_err());
    }

    #[test]
    fn major_units_scale_exactly_to_minor_units() {
        let cents = |t: &str| Decimal::parse(t).unwrap().times(100, "amount");
        assert_eq!(cents("1500"), Ok(150_000));
        assert_eq!(cents("1499.99"), Ok(149_999));
        assert_eq!(cents("0.1"), Ok(10));
        assert!(cents("12.345").unwrap_err().contains("whole"));
        // Minutes to seconds.
        assert_eq!(Decimal::parse("90.5").unwrap().times(60, "minutes"), Ok(5430));
    }
}
