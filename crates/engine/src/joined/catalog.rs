//! The metrics joining survey sentiment to account revenue, and their catalog entries.

use cxm_proto::v1::EventType;

use crate::describe::Description;
use crate::survey::DIMENSIONS;

/// The metrics joining NPS responses to the MRR of their accounts (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinedMetric {
    /// NPS with each response weighted by its account's MRR at the bucket's end.
    NpsRevenueWeighted,
    /// Twelve times the MRR of the accounts whose NPS responses are mostly detractors.
    ArrAtRisk,
}

/// Every joined metric with its entry.
pub(crate) const METRICS: &[(JoinedMetric, Description)] = &[
    (
        JoinedMetric::ArrAtRisk,
        Description {
            name: "arr_at_risk",
            description: "Annual recurring revenue at risk: 12·Σ MRR(a, e) over the accounts at risk in \
                          the bucket, e its effective end. An account is at risk when more than half \
                          of its NPS responses in the bucket (after filters, within the group) are \
                          detractors (0-6); only responses with an account_id count. In major units \
                          of the reporting currency; an empty bucket reports 0. Count: accounts at \
                          risk (MRR 0 included). Component `accounts_responding`: accounts with an \
                          NPS response in the bucket.",
            unit: "reporting currency",
            event_type: EventType::SurveyResponse,
            components: &["accounts_responding"],
            has_ci: false,
            params: &[],
            dimensions: &DIMENSIONS,
        },
    ),
    (
        JoinedMetric::NpsRevenueWeighted,
        Description {
            name: "nps_revenue_weighted",
            description: "Revenue-weighted NPS: 100·(W_P − W_D)/W over NPS responses with an account_id, \
                          each weighted by its account's MRR at the bucket's effective end e; \
                          responses whose weight is 0 are left out. Count: responses with weight \
                          above 0. Components `promoters_mrr`, `passives_mrr`, `detractors_mrr`: \
                          W_P, the passives' weight and W_D, in major units of the reporting currency.",
            unit: "score (-100..100)",
            event_type: EventType::SurveyResponse,
            components: &["promoters_mrr", "passives_mrr", "detractors_mrr"],
            has_ci: false,
            params: &[],
            dimensions: &DIMENSIONS,
        },
    ),
];
