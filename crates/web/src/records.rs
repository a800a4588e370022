//! `GET /records`: the events behind one point of a trend, from `MetricsService.Records`, paged
//! with its page token. Every point of a trend chart (and every count of its data table) links
//! here with the point's bucket (cut to the chart's range), group and filters.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::DateTime;
use chrono_tz::Tz;
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::{RecordsRequest, RecordsResponse};
use serde::Deserialize;
use tonic::Request;

use crate::Dashboard;
use crate::access::admit;
use crate::error::Invalid;
use crate::html::{escape, page};
use crate::pages::{html, path_of, problem, status_code, within};
use crate::question::{api_filters, encode, filters_text, parse_filters};

/// Keys listed per page.
const PAGE_SIZE: u32 = 100;

/// The page's query string, as sent.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Fields {
    metric: Option<String>,
    from: Option<String>,
    to: Option<String>,
    tz: Option<String>,
    group_by: Option<String>,
    group: Option<String>,
    filters: Option<String>,
    page_token: Option<String>,
}

/// A checked drill-down question.
#[derive(Debug)]
struct Point {
    metric: String,
    from: i64,
    to: i64,
    zone: Tz,
    group_by: String,
    group: String,
    filters: Vec<(String, Vec<String>)>,
}

fn instant(field: &'static str, text: Option<&str>) -> Result<i64, Invalid> {
    let text = text.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| Invalid::field(field, "is required"))?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .map_err(|_| Invalid::field(field, format!("{text:?} is not an RFC 3339 time like 2026-03-01T00:00:00Z")))
}

impl Point {
    fn from_fields(fields: &Fields) -> Result<Self, Invalid> {
        let zone_name = fields.tz.as_deref().map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC");
        let zone: Tz = zone_name.parse().map_err(|_| {
            Invalid::field("tz", format!("{zone_name:?} is not an IANA time zone such as Europe/Paris"))
        })?;
        Ok(Self {
            metric: fields.metric.as_deref().unwrap_or_default().trim().to_owned(),
            from: instant("from", fields.from.as_deref())?,
            to: instant("to", fields.to.as_deref())?,
            zone,
            group_by: fields.group_by.as_deref().unwrap_or_default().trim().to_owned(),
            group: fields.group.clone().unwrap_or_default(),
            filters: parse_filters(fields.filters.as_deref().unwrap_or(""))?,
        })
    }

    fn request(&self, page_token: &str) -> RecordsRequest {
        RecordsRequest {
            metric: self.metric.clone(),
            from: Some(Timestamp { seconds: self.from, nanos: 0 }),
            to: Some(Timestamp { seconds: self.to, nanos: 0 }),
            time_zone: self.zone.name().to_owned(),
            filters: api_filters(&self.filters),
            group_by: self.group_by.clone(),
            group: self.group.clone(),
            page_size: PAGE_SIZE,
            page_token: page_token.to_owned(),
        }
    }

    /// The local time of `seconds` in the point's zone.
    fn local(&self, seconds: i64) -> String {
        DateTime::from_timestamp(seconds, 0)
            .map_or_else(String::new, |t| t.with_timezone(&self.zone).format("%Y-%m-%d %H:%M").to_string())
    }

    fn href(&self, page_token: &str) -> String {
        let fields = [
            ("metric", self.metric.clone()),
            ("from", crate::pages::rfc3339(self.from)),
            ("to", crate::pages::rfc3339(self.to)),
            ("tz", self.zone.name().to_owned()),
            ("group_by", self.group_by.clone()),
            ("group", self.group.clone()),
            ("filters", filters_text(&self.filters)),
            ("page_token", page_token.to_owned()),
        ];
        let query: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        format!("/records?{}", query.join("&"))
    }

    /// What the point is, in words.
    fn summary(&self) -> String {
        let mut out = format!(
            r##"<dl class="definition"><dt>Metric</dt><dd><a href="/definitions#{0}">{0}</a></dd><dt>From</dt><dd>{1}</dd><dt>To (exclusive)</dt><dd>{2} ({3})</dd>"##,
            escape(&self.metric),
            self.local(self.from),
            self.local(self.to),
            escape(self.zone.name()),
        );
        if !self.group_by.is_empty() {
            let group = if self.group.is_empty() { "(no value)" } else { &self.group };
            let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(&self.group_by), escape(group));
        }
        let filters = filters_text(&self.filters);
        let _ = write!(
            out,
            "<dt>Filters</dt><dd>{}</dd></dl>",
            if filters.is_empty() { "none".to_owned() } else { escape(&filters) }
        );
        out
    }
}

fn listing(point: &Point, answer: &RecordsResponse, token: &str) -> String {
    let mut out = format!(
        r##"<div class="card"><h2 id="records-title">{} record{} on this page</h2>"##,
        answer.records.len(),
        if answer.records.len() == 1 { "" } else { "s" }
    );
    if answer.records.is_empty() {
        out.push_str(r##"<p class="notice">No event is behind this point.</p>"##);
    } else {
        out.push_str(r##"<table class="records" aria-labelledby="records-title"><thead><tr><th scope="col">Type</th><th scope="col" class="text">Source</th><th scope="col" class="text">Id</th></tr></thead><tbody>"##);
        for key in &answer.records {
            let _ = write!(
                out,
                r##"<tr data-record-type="{0}" data-source="{1}" data-id="{2}"><td>{0}</td><td class="text">{1}</td><td class="text">{2}</td></tr>"##,
                crate::pages::type_names(key.r#type).map_or("unspecified", |(one, _)| one),
                escape(&key.source),
                escape(&key.id),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str(r##"<nav class="pages" aria-label="Pages">"##);
    if !token.is_empty() {
        let _ = write!(out, r##"<a href="{}">First page</a> "##, escape(&point.href("")));
    }
    if !answer.next_page_token.is_empty() {
        let _ = write!(out, r##"<a rel="next" href="{}">Next page</a>"##, escape(&point.href(&answer.next_page_token)));
    } else {
        out.push_str(r##"<span class="hint">Last page.</span>"##);
    }
    out.push_str("</nav></div>");
    out
}

/// `GET /records`.
pub(crate) async fn handle(
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    uri: Uri,
    Query(fields): Query<Fields>,
) -> Response {
    let visitor = match admit(&dashboard.keys, &headers, path_of(&uri)) {
        Ok(visitor) => visitor,
        Err(refused) => return *refused,
    };
    let show =
        |status: StatusCode, main: &str| html(status, page("Records", Some("/records"), visitor.signed_in, main));
    let mut main = String::from(
        r##"<h1>Records</h1><p class="lede">The events behind one point of a trend, as <code>MetricsService.Records</code> lists them: for survey and support metrics the events counted in the point's count, for revenue metrics the accounts.</p>"##,
    );
    if fields.metric.is_none() {
        main.push_str(r##"<p class="notice">Choose a point on a <a href="/">trend chart</a> (or a count in its data table) to see the records behind it.</p>"##);
        return show(StatusCode::OK, &main);
    }
    let point = match Point::from_fields(&fields) {
        Ok(point) => point,
        Err(invalid) => {
            main.push_str(&problem(&invalid.to_string()));
            return show(StatusCode::BAD_REQUEST, &main);
        }
    };
    main.push_str(&format!(r##"<div class="card">{}</div>"##, point.summary()));
    let token = fields.page_token.unwrap_or_default();
    match within(&dashboard, dashboard.metrics.records(Request::new(point.request(&token)))).await {
        Ok(answer) => {
            main.push_str(&listing(&point, &answer, &token));
            show(StatusCode::OK, &main)
        }
        Err(refused) => {
            main.push_str(&problem(refused.message()));
            show(status_code(&refused), &main)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_link_makes_the_records_request() {
        let fields = Fields {
            metric: Some("nps".into()),
            from: Some("2026-04-06T00:00:00Z".into()),
            to: Some("2026-04-13T00:00:00Z".into()),
            tz: Some("Europe/Paris".into()),
            group_by: Some("touchpoint".into()),
            group: Some("support".into()),
            filters: Some("region=emea".into()),
            page_token: None,
        };
        let point = Point::from_fields(&fields).unwrap();
        let request = point.request("t1");
        assert_eq!((request.from.unwrap().seconds, request.to.unwrap().seconds), (1_775_433_600, 1_776_038_400));
        assert_eq!((request.group.as_str(), request.page_token.as_str(), request.page_size), ("support", "t1", 100));
        assert_eq!(request.filters[0].values, vec!["emea".to_owned()]);
        assert!(point.href("n").ends_with("&filters=region%3Demea&page_token=n"));
        let bad = Fields { metric: Some("nps".into()), from: Some("yesterday".into()), ..Fields::default() };
        assert!(Point::from_fields(&bad).unwrap_err().to_string().starts_with("from: "));
    }
}
