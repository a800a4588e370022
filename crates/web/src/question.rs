//! The question a trend page asks: its form fields, checked, and the `QueryRequest` they make.

use chrono::{Days, NaiveDate};
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{Filter, Granularity, QueryRequest};
use serde::Deserialize;

use crate::error::Invalid;
use crate::time::{GRANULARITIES, date_of, granularity_name, midnight};

/// How many days the default range covers, ending today.
const DEFAULT_DAYS: u64 = 182;

/// The trend page's form fields, as sent (every one optional).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Fields {
    metric: Option<String>,
    from: Option<String>,
    to: Option<String>,
    granularity: Option<String>,
    tz: Option<String>,
    group_by: Option<String>,
    filters: Option<String>,
    params: Option<String>,
}

/// A checked question.
#[derive(Debug, Clone)]
pub(crate) struct Question {
    pub(crate) metric: String,
    /// First day of the range, in `zone`.
    pub(crate) from: NaiveDate,
    /// Last day of the range (inclusive), in `zone`.
    pub(crate) through: NaiveDate,
    pub(crate) granularity: Granularity,
    pub(crate) zone: Tz,
    pub(crate) group_by: String,
    pub(crate) filters: Vec<(String, Vec<String>)>,
    pub(crate) params: Vec<(String, String)>,
}

/// `key=value` pairs separated by `;`.
fn pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split(';').map(str::trim).filter(|p| !p.is_empty()).map(|pair| match pair.split_once('=') {
        Some((key, value)) => (key.trim().to_owned(), value.trim().to_owned()),
        None => (pair.to_owned(), String::new()),
    })
}

/// Filters as typed in a form (`region=emea,apac; plan=pro`), checked.
pub(crate) fn parse_filters(text: &str) -> Result<Vec<(String, Vec<String>)>, Invalid> {
    let mut filters = Vec::new();
    for (dimension, values) in pairs(text) {
        if dimension.is_empty() {
            return Err(Invalid::field("filters", "write each filter as dimension=value1,value2"));
        }
        filters.push((dimension, values.split(',').map(|v| v.trim().to_owned()).collect()));
    }
    Ok(filters)
}

/// Filters as a form shows them (`region=emea,apac; plan=pro`).
pub(crate) fn filters_text(filters: &[(String, Vec<String>)]) -> String {
    filters.iter().map(|(d, v)| format!("{d}={}", v.join(","))).collect::<Vec<_>>().join("; ")
}

/// Filters as the API takes them.
pub(crate) fn api_filters(filters: &[(String, Vec<String>)]) -> Vec<Filter> {
    filters.iter().map(|(dimension, values)| Filter { dimension: dimension.clone(), values: values.clone() }).collect()
}

fn date(field: &'static str, text: Option<&str>, default: NaiveDate) -> Result<NaiveDate, Invalid> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| Invalid::field(field, format!("{text:?} is not a date like 2026-03-01"))),
    }
}

impl Question {
    /// Checks the form; `now` (Unix seconds) anchors the default range. A request without any
    /// field is the landing page: NPS by week over the last six months, one line per touchpoint.
    pub(crate) fn from_fields(fields: &Fields, now: i64) -> Result<Self, Invalid> {
        let landing = fields.metric.is_none();
        let zone_name = fields.tz.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC");
        let zone: Tz = zone_name.parse().map_err(|_| {
            Invalid::field("tz", format!("{zone_name:?} is not an IANA time zone such as Europe/Paris"))
        })?;
        let today = date_of(now, zone);
        let through = date("to", fields.to.as_deref(), today)?;
        let from = date(
            "from",
            fields.from.as_deref(),
            through.checked_sub_days(Days::new(DEFAULT_DAYS - 1)).unwrap_or(through),
        )?;
        if from > through {
            return Err(Invalid::field("from", "the range starts after it ends"));
        }
        let granularity = match fields.granularity.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
            None => Granularity::Week,
            Some(name) => GRANULARITIES.into_iter().find(|g| granularity_name(*g) == name).ok_or_else(|| {
                Invalid::field("granularity", format!("{name:?} is not day, week, month, quarter, year or none"))
            })?,
        };
        let filters = parse_filters(fields.filters.as_deref().unwrap_or(""))?;
        let params = pairs(fields.params.as_deref().unwrap_or("")).collect();
        let group_by = match &fields.group_by {
            Some(group_by) => group_by.trim().to_owned(),
            None if landing => "touchpoint".to_owned(),
            None => String::new(),
        };
        Ok(Self {
            metric: fields.metric.as_deref().map_or("nps", str::trim).to_owned(),
            from,
            through,
            granularity,
            zone,
            group_by,
            filters,
            params,
        })
    }

    /// Start of the range (inclusive), Unix seconds.
    pub(crate) fn start(&self) -> i64 {
        midnight(self.from, self.zone)
    }

    /// End of the range (exclusive): midnight after the last day.
    pub(crate) fn end(&self) -> i64 {
        midnight(self.through.checked_add_days(Days::new(1)).unwrap_or(self.through), self.zone)
    }

    /// The API request that answers the question.
    pub(crate) fn request(&self) -> QueryRequest {
        QueryRequest {
            metric: self.metric.clone(),
            from: Some(Timestamp { seconds: self.start(), nanos: 0 }),
            to: Some(Timestamp { seconds: self.end(), nanos: 0 }),
            granularity: self.granularity as i32,
            time_zone: self.zone.name().to_owned(),
            filters: api_filters(&self.filters),
            group_by: self.group_by.clone(),
            params: self.params.iter().cloned().collect(),
        }
    }

    /// The filters as typed in the form (`region=emea,apac; plan=pro`).
    pub(crate) fn filters_text(&self) -> String {
        filters_text(&self.filters)
    }

    /// The parameters as typed in the form.
    pub(crate) fn params_text(&self) -> String {
        self.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// The page's own address for this question.
    pub(crate) fn href(&self) -> String {
        let fields = [
            ("metric", self.metric.clone()),
            ("from", self.from.to_string()),
            ("to", self.through.to_string()),
            ("granularity", granularity_name(self.granularity).to_owned()),
            ("tz", self.zone.name().to_owned()),
            ("group_by", self.group_by.clone()),
            ("filters", self.filters_text()),
            ("params", self.params_text()),
        ];
        let query: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        format!("/?{}", query.join("&"))
    }

    /// The address of the records behind one point: the events of group `group` in
    /// [`from`, `to`) (Unix seconds: the point's bucket, cut to the range).
    pub(crate) fn records_href(&self, group: &str, from: i64, to: i64) -> String {
        let stamp = |seconds: i64| crate::pages::rfc3339(seconds);
        let fields = [
            ("metric", self.metric.clone()),
            ("from", stamp(from)),
            ("to", stamp(to)),
            ("tz", self.zone.name().to_owned()),
            ("group_by", self.group_by.clone()),
            ("group", group.to_owned()),
            ("filters", self.filters_text()),
        ];
        let query: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        format!("/records?{}", query.join("&"))
    }

    /// The same question narrowed to one group: filtered by the group's value, no longer grouped.
    pub(crate) fn only(&self, group: &str) -> Self {
        let mut narrowed = self.clone();
        narrowed.filters.retain(|(d, _)| *d != self.group_by);
        narrowed.filters.push((self.group_by.clone(), vec![group.to_owned()]));
        narrowed.group_by = String::new();
        narrowed
    }
}

/// Percent-encodes a query-string value (everything but unreserved characters).
pub(crate) fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_makes_the_api_request() {
        let fields = Fields {
            metric: Some("csat".to_owned()),
            from: Some("2026-03-01".to_owned()),
            to: Some("2026-03-31".to_owned()),
            granularity: Some("month".to_owned()),
            tz: Some("Europe/Paris".to_owned()),
            group_by: Some(String::new()),
            filters: Some(" region = emea, apac ; plan=pro".to_owned()),
            params: None,
        };
        let question = Question::from_fields(&fields, 0).unwrap();
        let request = question.request();
        assert_eq!(request.from.unwrap().seconds, 1_772_319_600, "2026-03-01T00:00+01:00");
        assert_eq!(request.to.unwrap().seconds, 1_774_994_400, "2026-04-01T00:00+02:00");
        assert_eq!(request.granularity, Granularity::Month as i32);
        assert_eq!(
            request.filters[0],
            Filter { dimension: "region".into(), values: vec!["emea".into(), "apac".into()] }
        );
        assert_eq!(question.filters_text(), "region=emea,apac; plan=pro");
        assert!(question.href().contains("filters=region%3Demea%2Capac%3B%20plan%3Dpro"));
        let only = question.only("emea");
        assert_eq!(only.filters.last().unwrap(), &(String::new(), vec!["emea".to_owned()]));
    }

    #[test]
    fn the_landing_page_groups_nps_by_touchpoint() {
        let question = Question::from_fields(&Fields::default(), 1_780_000_000).unwrap();
        assert_eq!((question.metric.as_str(), question.group_by.as_str()), ("nps", "touchpoint"));
        assert_eq!((question.through - question.from).num_days(), 181);
        assert!(Question::from_fields(&Fields { tz: Some("Mars/Base".into()), ..Fields::default() }, 0).is_err());
    }
}
