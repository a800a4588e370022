//! The metric catalog: every metric cxm answers, with its definition.

use cxm_proto::v1::{EventType, MetricInfo};

/// The version of the metric definitions (SPEC §4, changed by §8), returned on every answer.
pub const DEFINITION_VERSION: &str = "2";

/// The family a metric belongs to (which events and index feed it), with the metric itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Fed by survey responses.
    Survey(SurveyMetric),
    /// Fed by subscriptions, segmented by accounts.
    Revenue(RevenueMetric),
    /// Fed by support tickets.
    Support(SupportMetric),
}

/// The support metrics (SPEC §4 "Support metrics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportMetric {
    /// Tickets created in the bucket.
    TicketVolume,
    /// Median minutes from creation to first reply, of tickets first replied to in the bucket.
    FirstReplyTime,
    /// Median minutes from creation to solve, of tickets solved in the bucket.
    FullResolutionTime,
    /// Share of the tickets solved in the bucket with at most one agent reply.
    OneTouchRate,
    /// Share of the tickets solved in the bucket that were reopened.
    ReopenRate,
    /// Share of GOOD among the GOOD or BAD ratings of tickets solved in the bucket.
    TicketCsat,
    /// Tickets open at the end of the bucket.
    Backlog,
}

/// The revenue metrics (SPEC §4 "Revenue metrics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevenueMetric {
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

/// The survey metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyMetric {
    /// Net Promoter Score.
    Nps,
    /// Customer satisfaction, top-box percentage.
    Csat,
    /// Customer effort score, mean on 1..7.
    Ces,
    /// Survey responses of every kind.
    ResponseCount,
}

/// One catalog entry.
#[derive(Debug)]
pub struct MetricDef {
    /// Its query name.
    pub name: &'static str,
    /// Its family and computation.
    pub family: Family,
    /// What the value means.
    pub description: &'static str,
    /// Unit of the value.
    pub unit: &'static str,
    /// The event type that feeds it.
    pub event_type: EventType,
    /// Names of the components it fills.
    pub components: &'static [&'static str],
    /// Whether it has a 95% interval.
    pub has_ci: bool,
    /// Parameters it reads.
    pub params: &'static [&'static str],
    /// Built-in dimensions.
    pub dimensions: &'static [&'static str],
}

const SURVEY_DIMENSIONS: &[&str] = &crate::survey::DIMENSIONS;
const REVENUE_DIMENSIONS: &[&str] = &crate::revenue::DIMENSIONS;
const SUPPORT_DIMENSIONS: &[&str] = &crate::support::DIMENSIONS;

/// A support metric's catalog entry (every support metric takes no params).
const fn support(
    name: &'static str,
    metric: SupportMetric,
    description: &'static str,
    unit: &'static str,
    components: &'static [&'static str],
    has_ci: bool,
) -> MetricDef {
    MetricDef {
        name,
        family: Family::Support(metric),
        description,
        unit,
        event_type: EventType::Ticket,
        components,
        has_ci,
        params: &[],
        dimensions: SUPPORT_DIMENSIONS,
    }
}

/// Every metric. `infos()` sorts them by name.
pub const METRICS: &[MetricDef] = &[
    support(
        "ticket_volume",
        SupportMetric::TicketVolume,
        "Tickets created in the bucket (bucket of created_at); DELETED tickets never count.",
        "count",
        &[],
        false,
    ),
    support(
        "first_reply_time",
        SupportMetric::FirstReplyTime,
        "Median calendar minutes from created_at to first_reply_at, over tickets first replied \
         to in the bucket (bucket of first_reply_at); nearest rank, from a sketch within 1%. \
         Components `p90` (nearest rank, within 1%) and `mean` (exact).",
        "minutes",
        &["p90", "mean"],
        false,
    ),
    support(
        "full_resolution_time",
        SupportMetric::FullResolutionTime,
        "Median calendar minutes from created_at to solved_at, over tickets solved in the \
         bucket (bucket of solved_at); nearest rank, from a sketch within 1%. Components `p90` \
         (nearest rank, within 1%) and `mean` (exact).",
        "minutes",
        &["p90", "mean"],
        false,
    ),
    support(
        "one_touch_rate",
        SupportMetric::OneTouchRate,
        "100·(tickets with agent_replies ≤ 1)/N over the N tickets solved in the bucket \
         (bucket of solved_at). CI: Wilson ×100. Component `one_touch`.",
        "percent",
        &["one_touch"],
        true,
    ),
    support(
        "reopen_rate",
        SupportMetric::ReopenRate,
        "100·(tickets with reopens > 0)/N over the N tickets solved in the bucket (bucket of \
         solved_at). CI: Wilson ×100. Component `reopened`.",
        "percent",
        &["reopened"],
        true,
    ),
    support(
        "ticket_csat",
        SupportMetric::TicketCsat,
        "100·good/(good+bad) over the tickets solved in the bucket (bucket of solved_at) and \
         rated GOOD or BAD. CI: Wilson ×100. Components `good`, `bad`.",
        "percent",
        &["good", "bad"],
        true,
    ),
    support(
        "backlog",
        SupportMetric::Backlog,
        "Tickets open at the end e of the bucket's effective interval: created before e and \
         not solved before e (solved_at unset or ≥ e).",
        "count",
        &[],
        false,
    ),
    MetricDef {
        name: "ces",
        family: Family::Survey(SurveyMetric::Ces),
        description: "Customer effort score: the mean CES score after rescaling each to 1..7 \
                      (s' = 1 + (s-1)*6/(scale_max-1)); higher is easier. CI: mean ± t·sd/√N \
                      (sample sd, t the 0.975 quantile of Student's t with N − 1 degrees of \
                      freedom, N ≥ 2). Component `easy`: responses with s' ≥ 5.",
        unit: "score (1-7)",
        event_type: EventType::SurveyResponse,
        components: &["easy"],
        has_ci: true,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
    MetricDef {
        name: "csat",
        family: Family::Survey(SurveyMetric::Csat),
        description: "Customer satisfaction: 100·satisfied/N over CSAT responses, satisfied being the \
                      top box of a 3-point scale, the top 2 of 4- to 7-point scales, the top 3 of a \
                      10-point scale. CI: Wilson ×100.",
        unit: "percent",
        event_type: EventType::SurveyResponse,
        components: &["satisfied"],
        has_ci: true,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
    MetricDef {
        name: "nps",
        family: Family::Survey(SurveyMetric::Nps),
        description: "Net Promoter Score: 100·(P−D)/N over NPS responses, promoters P scoring 9-10, \
                      detractors D 0-6. CI: adjusted Wald (Rocks 2016): N' = N + 3, \
                      p'P = (P + ¾)/N', p'D = (D + ¾)/N', 100·(p'P − p'D) ± \
                      196·√((p'P + p'D − (p'P − p'D)²)/N'), clamped to [−100, 100].",
        unit: "score (-100..100)",
        event_type: EventType::SurveyResponse,
        components: &["promoters", "passives", "detractors"],
        has_ci: true,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
    MetricDef {
        name: "response_count",
        family: Family::Survey(SurveyMetric::ResponseCount),
        description: "Survey responses of every kind, counted in the bucket of responded_at.",
        unit: "count",
        event_type: EventType::SurveyResponse,
        components: &[],
        has_ci: false,
        params: &[],
        dimensions: SURVEY_DIMENSIONS,
    },
    MetricDef {
        name: "active_customers",
        family: Family::Revenue(RevenueMetric::ActiveCustomers),
        description: "Customers at the end e of the bucket: accounts whose MRR (the sum of \
                      mrr_minor of their subscriptions with started_at ≤ e < ended_at) is above 0.",
        unit: "count",
        event_type: EventType::Subscription,
        components: &[],
        has_ci: false,
        params: &[],
        dimensions: REVENUE_DIMENSIONS,
    },
    MetricDef {
        name: "arpa",
        family: Family::Revenue(RevenueMetric::Arpa),
        description: "Average revenue per account: MRR at the end e of the bucket divided by the \
                      customers at e, in major units of the reporting currency. Component `mrr`.",
        unit: "reporting currency per account",
        event_type: EventType::Subscription,
        components: &["mrr"],
        has_ci: false,
        params: &[],
        dimensions: REVENUE_DIMENSIONS,
    },
    MetricDef {
        name: "clv",
        family: Family::Revenue(RevenueMetric::Clv),
        description: "Customer lifetime value: arpa × gross_margin ÷ m, m = 1 − (1 − churn)^(30.4375 \
                      ÷ bucket days) the bucket's customer churn as a monthly rate; no value when \
                      nothing churned. Param gross_margin (0..1, default 1). Components `arpa`, \
                      `monthly_churn_rate` (100·m).",
        unit: "reporting currency",
        event_type: EventType::Subscription,
        components: &["arpa", "monthly_churn_rate"],
        has_ci: false,
        params: &[crate::revenue::GROSS_MARGIN],
        dimensions: REVENUE_DIMENSIONS,
    },
    MetricDef {
        name: "customer_churn_rate",
        family: Family::Revenue(RevenueMetric::CustomerChurnRate),
        description: "100·churned/|C|: of the customers C at the start s of the bucket, those with \
                      no MRR at its end e. CI: Wilson ×100. Component `churned`.",
        unit: "percent",
        event_type: EventType::Subscription,
        components: &["churned"],
        has_ci: true,
        params: &[],
        dimensions: REVENUE_DIMENSIONS,
    },
    MetricDef {
        name: "gross_revenue_retention",
        family: Family::Revenue(RevenueMetric::GrossRevenueRetention),
        description: "100·Σ min(MRR at e, MRR at s) / Σ MRR at s over the customers C at the start \
                      s of the bucket: revenue kept, expansion not counted. Components \
                      `starting_mrr`, `retained_mrr`.",
        unit: "percent",
        event_type: EventType::Subscription,
        components: &["starting_mrr", "retained_mrr"],
        has_ci: false,
        params: &[],
        dimensions: REVENUE_DIMENSIONS,
    },
    MetricDef {
        name: "mrr",
        family: Family::Revenue(RevenueMetric::Mrr),
        description: "Monthly recurring revenue at the end e of the bucket: Σ mrr_minor of the \
                      subscriptions with started_at ≤ e < ended_at, in major units of the \
                      reporting currency. Count: customers at e.",
        unit: "reporting currency",
        event_type: EventType::Subscription,
        components: &[],
        has_ci: false,
        params: &[],
        dimensions: REVENUE_DIMENSIONS,
    },
    MetricDef {
        name: "net_revenue_retention",
        family: Family::Revenue(RevenueMetric::NetRevenueRetention),
        description: "100·Σ MRR at e / Σ MRR at s over the customers C at the start s of the \
                      bucket: revenue kept, expansion counted. Components `starting_mrr`, \
                      `ending_mrr`.",
        unit: "percent",
        event_type: EventType::Subscription,
        components: &["starting_mrr", "ending_mrr"],
        has_ci: false,
        params: &[],
        dimensions: REVENUE_DIMENSIONS,
    },
];

/// Looks a metric up by name; the error lists the known names.
pub fn find(name: &str) -> crate::Result<&'static MetricDef> {
    METRICS.iter().find(|m| m.name == name).ok_or_else(|| {
        let mut known: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        known.sort_unstable();
        crate::Error::invalid(
            "metric",
            format!(
                "unknown metric {}; known metrics: {}",
                cxm_proto::clip::quote(name),
                cxm_proto::clip::names(known)
            ),
        )
    })
}

/// The catalog as the API returns it.
pub fn infos() -> Vec<MetricInfo> {
    let mut metrics: Vec<&MetricDef> = METRICS.iter().collect();
    metrics.sort_by_key(|m| m.name);
    metrics
        .into_iter()
        .map(|m| MetricInfo {
            name: m.name.to_owned(),
            description: m.description.to_owned(),
            unit: m.unit.to_owned(),
            definition_version: DEFINITION_VERSION.to_owned(),
            event_type: m.event_type as i32,
            dimensions: m.dimensions.iter().map(|d| (*d).to_owned()).collect(),
            components: m.components.iter().map(|c| (*c).to_owned()).collect(),
            has_confidence_interval: m.has_ci,
            params: m.params.iter().map(|p| (*p).to_owned()).collect(),
        })
        .collect()
}
