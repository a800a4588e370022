//! What one survey response adds to a rollup, and the totals a query reads metrics from.

use cxm_proto::v1::{SurveyKind, SurveyResponse};

use crate::rollup::Cell;

/// The aggregate of some survey responses, per kind. CES scores are kept doubled after
/// rescaling to 1..7 (2·s' is a whole number on 5- and 7-point scales), so every sum is exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SurveyCell {
    promoters: u64,
    passives: u64,
    detractors: u64,
    csat: u64,
    satisfied: u64,
    ces: u64,
    easy: u64,
    ces_doubled_sum: u64,
    ces_doubled_squares: u64,
}

/// [`SurveyCell`]s summed over a bucket, in wide integers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SurveyTotals {
    /// NPS responses scoring 9 or 10.
    pub(crate) promoters: u64,
    /// NPS responses scoring 7 or 8.
    pub(crate) passives: u64,
    /// NPS responses scoring 0 to 6.
    pub(crate) detractors: u64,
    /// CSAT responses.
    pub(crate) csat: u64,
    /// CSAT responses in the top box(es) of their scale.
    pub(crate) satisfied: u64,
    /// CES responses.
    pub(crate) ces: u64,
    /// CES responses whose rescaled score is 5 or more.
    pub(crate) easy: u64,
    /// Σ 2·s' over CES responses.
    pub(crate) ces_doubled_sum: u64,
    /// Σ (2·s')² over CES responses.
    pub(crate) ces_doubled_squares: u64,
}

impl SurveyTotals {
    /// NPS responses.
    pub(crate) fn nps(&self) -> u64 {
        self.promoters + self.passives + self.detractors
    }

    /// Responses of every kind.
    pub(crate) fn responses(&self) -> u64 {
        self.nps() + self.csat + self.ces
    }
}

/// How many top boxes count as satisfied on a CSAT scale of `scale` points.
pub(crate) fn csat_top_boxes(scale: u32) -> u32 {
    match scale {
        3 => 1,
        10 => 3,
        _ => 2,
    }
}

impl SurveyCell {
    /// The cell of one (valid, normalised) response.
    pub(crate) fn of(response: &SurveyResponse) -> Self {
        let mut cell = Self::default();
        let score = u32::try_from(response.score).unwrap_or(0);
        let scale = response.scale_max.max(2);
        match SurveyKind::try_from(response.kind) {
            Ok(SurveyKind::Nps) if score >= 9 => cell.promoters = 1,
            Ok(SurveyKind::Nps) if score >= 7 => cell.passives = 1,
            Ok(SurveyKind::Nps) => cell.detractors = 1,
            Ok(SurveyKind::Csat) => {
                cell.csat = 1;
                cell.satisfied = u64::from(score > scale - csat_top_boxes(scale));
            }
            Ok(SurveyKind::Ces) => {
                let doubled = 2 + score.saturating_sub(1) * 12 / (scale - 1);
                cell.ces = 1;
                cell.easy = u64::from(doubled >= 10);
                cell.ces_doubled_sum = u64::from(doubled);
                cell.ces_doubled_squares = u64::from(doubled * doubled);
            }
            _ => {}
        }
        cell
    }

    fn fields(&self) -> [u64; 9] {
        [
            self.promoters,
            self.passives,
            self.detractors,
            self.csat,
            self.satisfied,
            self.ces,
            self.easy,
            self.ces_doubled_sum,
            self.ces_doubled_squares,
        ]
    }

    fn from_fields(f: [u64; 9]) -> Self {
        Self {
            promoters: f[0],
            passives: f[1],
            detractors: f[2],
            csat: f[3],
            satisfied: f[4],
            ces: f[5],
            easy: f[6],
            ces_doubled_sum: f[7],
            ces_doubled_squares: f[8],
        }
    }
}

impl Cell for SurveyCell {
    type Total = SurveyTotals;
    type Narrow = [u16; 9];

    fn narrow(&self) -> Option<[u16; 9]> {
        crate::rollup::narrow_counts(self.fields())
    }

    fn widen(narrow: &[u16; 9]) -> Self {
        Self::from_fields(crate::rollup::widen_counts(narrow))
    }

    fn add(&mut self, other: &Self) {
        let (a, b) = (self.fields(), other.fields());
        *self = Self::from_fields(std::array::from_fn(|i| a[i].wrapping_add(b[i])));
    }

    fn sub(&mut self, other: &Self) {
        let (a, b) = (self.fields(), other.fields());
        *self = Self::from_fields(std::array::from_fn(|i| a[i].wrapping_sub(b[i])));
    }

    fn is_empty(&self) -> bool {
        self.fields() == [0; 9]
    }

    fn add_to(&self, t: &mut SurveyTotals) {
        t.promoters += self.promoters;
        t.passives += self.passives;
        t.detractors += self.detractors;
        t.csat += self.csat;
        t.satisfied += self.satisfied;
        t.ces += self.ces;
        t.easy += self.easy;
        t.ces_doubled_sum += self.ces_doubled_sum;
        t.ces_doubled_squares += self.ces_doubled_squares;
    }
}

impl SurveyTotals {
    /// `self - other`, field by field (used to derive the "" group from the total).
    pub(crate) fn minus(&self, other: &Self) -> Self {
        Self {
            promoters: self.promoters.saturating_sub(other.promoters),
            passives: self.passives.saturating_sub(other.passives),
            detractors: self.detractors.saturating_sub(other.detractors),
            csat: self.csat.saturating_sub(other.csat),
            satisfied: self.satisfied.saturating_sub(other.satisfied),
            ces: self.ces.saturating_sub(other.ces),
            easy: self.easy.saturating_sub(other.easy),
            ces_doubled_sum: self.ces_doubled_sum.saturating_sub(other.ces_doubled_sum),
            ces_doubled_squares: self.ces_doubled_squares.saturating_sub(other.ces_doubled_squares),
        }
    }

    /// Adds another total.
    pub(crate) fn merge(&mut self, other: &Self) {
        self.promoters += other.promoters;
        self.passives += other.passives;
        self.detractors += other.detractors;
        self.csat += other.csat;
        self.satisfied += other.satisfied;
        self.ces += other.ces;
        self.easy += other.easy;
        self.ces_doubled_sum += other.ces_doubled_sum;
        self.ces_doubled_squares += other.ces_doubled_squares;
    }
}

/// The built-in dimensions of survey metrics.
pub(crate) const DIMENSIONS: [&str; 5] = cxm_proto::dimensions::SURVEY_RESPONSE;

/// The value of `dimension` on a response ("" when it has none).
pub(crate) fn dimension<'a>(response: &'a SurveyResponse, dimension: &str) -> &'a str {
    match dimension {
        "source" => &response.source,
        "touchpoint" => &response.touchpoint,
        "channel" => &response.channel,
        "account_id" => &response.account_id,
        "kind" => match SurveyKind::try_from(response.kind) {
            Ok(SurveyKind::Nps) => "nps",
            Ok(SurveyKind::Csat) => "csat",
            Ok(SurveyKind::Ces) => "ces",
            _ => "",
        },
        key => response.attributes.get(key).map_or("", String::as_str),
    }
}
