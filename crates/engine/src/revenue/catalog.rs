//! The revenue metrics and their catalog entries.

use cxm_proto::v1::EventType;

use super::{DIMENSIONS, GROSS_MARGIN};
use crate::describe::Description;

/// The revenue metrics (SPEC §4 "Revenue metrics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RevenueMetric {
    /// Customers (accounts with MRR above 0) at the end of the bucket.
    ActiveCustomers,
    /// Monthly recurring revenue at the end of the bucket.
    Mrr,
    /// Share of the customers at the start who have no MRR at the end.
    CustomerChurnRate,
    /// Revenue kept from the starting customers, expansion not counted.
    GrossRevenueRetention,
    /// Revenue kept from the starting customers, expansion counted.
    NetRevenueRetention,
    /// Average revenue per account at the end of the bucket.
    Arpa,
    /// Customer lifetime value.
    Clv,
}

/// A revenue metric's entry.
const fn revenue(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    components: &'static [&'static str],
    has_ci: bool,
    params: &'static [&'static str],
) -> Description {
    Description {
        name,
        description,
        unit,
        event_type: EventType::Subscription,
        components,
        has_ci,
        params,
        dimensions: &DIMENSIONS,
    }
}

/// Every revenue metric with its entry.
pub(crate) const METRICS: &[(RevenueMetric, Description)] = &[
    (
        RevenueMetric::ActiveCustomers,
        revenue(
            "active_customers",
            "Customers at the end e of the bucket: accounts whose MRR (the sum of \
             mrr_minor of their subscriptions with started_at ≤ e < ended_at) is above 0.",
            "count",
            &[],
            false,
            &[],
        ),
    ),
    (
        RevenueMetric::Arpa,
        revenue(
            "arpa",
            "Average revenue per account: MRR at the end e of the bucket divided by the \
             customers at e, in major units of the reporting currency. Component `mrr`.",
            "reporting currency per account",
            &["mrr"],
            false,
            &[],
        ),
    ),
    (
        RevenueMetric::Clv,
        revenue(
            "clv",
            "Customer lifetime value: arpa × gross_margin ÷ m, m = 1 − (1 − churn)^(30.4375 \
             ÷ bucket days) the bucket's customer churn as a monthly rate; no value when \
             nothing churned. Param gross_margin (0..1, default 1). Components `arpa`, \
             `monthly_churn_rate` (100·m).",
            "reporting currency",
            &["arpa", "monthly_churn_rate"],
            false,
            &[GROSS_MARGIN],
        ),
    ),
    (
        RevenueMetric::CustomerChurnRate,
        revenue(
            "customer_churn_rate",
            "100·churned/|C|: of the customers C at the start s of the bucket, those with \
             no MRR at its end e. CI: Wilson ×100. Component `churned`.",
            "percent",
            &["churned"],
            true,
            &[],
        ),
    ),
    (
        RevenueMetric::GrossRevenueRetention,
        revenue(
            "gross_revenue_retention",
            "100·Σ min(MRR at e, MRR at s) / Σ MRR at s over the customers C at the start \
             s of the bucket: revenue kept, expansion not counted. Components \
             `starting_mrr`, `retained_mrr`.",
            "percent",
            &["starting_mrr", "retained_mrr"],
            false,
            &[],
        ),
    ),
    (
        RevenueMetric::Mrr,
        revenue(
            "mrr",
            "Monthly recurring revenue at the end e of the bucket: Σ mrr_minor of the \
             subscriptions with started_at ≤ e < ended_at, in major units of the \
             reporting currency. Count: customers at e.",
            "reporting currency",
            &[],
            false,
            &[],
        ),
    ),
    (
        RevenueMetric::NetRevenueRetention,
        revenue(
            "net_revenue_retention",
            "100·Σ MRR at e / Σ MRR at s over the customers C at the start s of the \
             bucket: revenue kept, expansion counted. Components `starting_mrr`, \
             `ending_mrr`.",
            "percent",
            &["starting_mrr", "ending_mrr"],
            false,
            &[],
        ),
    ),
];
