//! `cxm metrics`: the metric catalog, each definition wrapped at the terminal's width.

use cxm_proto::v1::{EventType, ListMetricsRequest, MetricInfo};

use crate::connection::{CliError, Connection};
use crate::render::OutputFormat;
use crate::style::{self, Style};

fn event_type_name(value: i32) -> &'static str {
    match EventType::try_from(value) {
        Ok(EventType::SurveyResponse) => "survey responses",
        Ok(EventType::Ticket) => "tickets",
        Ok(EventType::Subscription) => "subscriptions",
        Ok(EventType::Account) => "accounts",
        _ => "events",
    }
}

/// Runs `cxm metrics`: every metric with its definition.
pub(crate) async fn run(connection: &Connection, format: OutputFormat) -> Result<(), CliError> {
    let answer = connection
        .metrics()
        .list_metrics(ListMetricsRequest {})
        .await
        .map_err(|s| connection.explain(&s))?
        .into_inner();
    if format == OutputFormat::Json {
        let metrics: Vec<_> = answer
            .metrics
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name, "description": m.description, "unit": m.unit,
                    "definition_version": m.definition_version, "event_type": event_type_name(m.event_type),
                    "dimensions": m.dimensions, "components": m.components,
                    "has_confidence_interval": m.has_confidence_interval, "params": m.params,
                })
            })
            .collect();
        style::emit(&format!("{}\n", serde_json::to_string_pretty(&metrics).unwrap_or_default()));
        return Ok(());
    }
    style::emit(&text(&answer.metrics, style::terminal_width(), Style::stdout()));
    Ok(())
}

/// The readable catalog: each name, then its unit, description and details indented under it,
/// wrapped at `width` columns between words.
fn text(metrics: &[MetricInfo], width: usize, style: Style) -> String {
    let name_width = metrics.iter().map(|m| m.name.chars().count()).max().unwrap_or(0);
    let pad = " ".repeat(name_width + 2);
    let room = width.saturating_sub(name_width + 2).max(20);
    let mut out = String::new();
    for m in metrics {
        let summary =
            format!("{} · from {} · definition {}", m.unit, event_type_name(m.event_type), m.definition_version);
        let mut details = vec![format!("dimensions: {} and attribute keys", m.dimensions.join(", "))];
        if !m.components.is_empty() {
            details.push(format!("components: {}", m.components.join(", ")));
        }
        if m.has_confidence_interval {
            details.push("95% CI".to_owned());
        }
        if !m.params.is_empty() {
            details.push(format!("params: {}", m.params.join(", ")));
        }
        let name = format!("{:<name_width$}", m.name);
        for (i, line) in style::wrap(&summary, room).iter().enumerate() {
            let lead = if i == 0 { style.bold(&name) } else { " ".repeat(name_width) };
            out.push_str(&format!("{lead}  {}\n", style.dim(line)));
        }
        for line in style::wrap(&m.description, room) {
            out.push_str(&format!("{pad}{line}\n"));
        }
        for line in style::wrap(&details.join(" · "), room) {
            out.push_str(&format!("{pad}{}\n", style.dim(&line)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_fits_the_width_and_no_word_is_split() {
        let metric = MetricInfo {
            name: "first_reply_time".into(),
            description: "Median calendar minutes from created_at to first_reply_at, over tickets first replied to \
                          in the bucket (bucket of first_reply_at); nearest rank, from a sketch within 1%."
                .into(),
            unit: "minutes".into(),
            definition_version: "1".into(),
            dimensions: vec!["source".into(), "channel".into(), "priority".into(), "tag".into()],
            ..MetricInfo::default()
        };
        let text = text(std::slice::from_ref(&metric), 60, Style::plain());
        for line in text.lines() {
            assert!(line.chars().count() <= 60, "{line:?} is over 60 columns");
        }
        let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let description_words = words(&metric.description);
        let shown = words(&text);
        assert!(
            shown.windows(description_words.len()).any(|w| w == description_words.as_slice()),
            "every word of the description, whole and in order:\n{text}"
        );
    }
}
