//! Minor units of ISO 4217 currencies: how many decimal places separate `mrr_minor` from the
//! major unit a revenue metric is reported in (USD 2: cents; JPY 0; BHD 3).

/// Currencies whose minor unit is not the usual two decimals. Codes with no minor unit in
/// ISO 4217 (precious metals, special drawing rights, test and "no currency" codes) are counted
/// in whole units: exponent 0.
const EXCEPTIONS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("XAG", 0),
    ("XAU", 0),
    ("XBA", 0),
    ("XBB", 0),
    ("XBC", 0),
    ("XBD", 0),
    ("XDR", 0),
    ("XPD", 0),
    ("XPT", 0),
    ("XSU", 0),
    ("XTS", 0),
    ("XUA", 0),
    ("XXX", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// The active ISO 4217 codes with two decimals.
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CNY", "COP", "COU",
    "CRC", "CUC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL",
    "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS",
    "KHR", "KPW", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP",
    "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS",
    "UAH", "USD", "USN", "UYU", "UZS", "VED", "VES", "WST", "XCD", "XCG", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
];

/// Decimal places assumed for a code ISO 4217 does not list.
pub(crate) const DEFAULT_EXPONENT: u32 = 2;

/// The ISO 4217 exponent of `code`, or `None` when the code is not a known currency.
pub(crate) fn known_exponent(code: &str) -> Option<u32> {
    EXCEPTIONS.iter().find(|(c, _)| *c == code).map(|(_, e)| *e).or_else(|| TWO_DECIMALS.contains(&code).then_some(2))
}

/// The exponent money in `code` is reported with: ISO 4217's, else [`DEFAULT_EXPONENT`].
pub(crate) fn exponent(code: &str) -> u32 {
    known_exponent(code).unwrap_or(DEFAULT_EXPONENT)
}

/// Converts an amount in minor units into major units (`12345` cents → `123.45`).
pub(crate) fn to_major(minor: i128, exponent: u32) -> f64 {
    minor as f64 / 10_f64.powi(exponent as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(exponent("USD"), 2);
        assert_eq!(exponent("EUR"), 2);
        assert_eq!(exponent("JPY"), 0);
        assert_eq!(exponent("KRW"), 0);
        assert_eq!(exponent("BHD"), 3);
        assert_eq!(exponent("KWD"), 3);
        assert_eq!(exponent("CLF"), 4);
        assert_eq!(known_exponent("ABC"), None);
        assert_eq!(exponent("ABC"), DEFAULT_EXPONENT);
    }

    #[test]
    fn minor_units_become_major_units() {
        assert_eq!(to_major(12_345, 2), 123.45);
        assert_eq!(to_major(5_000, 0), 5_000.0);
        assert_eq!(to_major(1_500, 3), 1.5);
    }
}
