//! The trend chart: an inline SVG of each series with its 95% interval band, its text
//! alternative (title, description, legend) and the table of the numbers it draws.
//!
//! Meaning never rests on colour alone: every series has its own dash pattern and marker shape
//! and is labelled at its end; partial buckets are hatched, labelled and drawn with hollow
//! markers; buckets without a value are gaps in the line (never zeros) and "no data" in the table.

use std::fmt::Write as _;

use cxm_proto::v1::{Point, Series};

use crate::html::escape;

/// Whether a bucket covers its whole calendar period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cover {
    /// The whole period is in the range and in the past.
    Whole,
    /// The range covers only part of the period.
    Partial,
    /// The period is still running: its numbers will change.
    ToDate,
}

impl Cover {
    fn note(self) -> &'static str {
        match self {
            Cover::Whole => "",
            Cover::Partial => "partial",
            Cover::ToDate => "to date",
        }
    }
}

/// One bucket on the time axis.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    /// Its start as the API gives it (RFC 3339, UTC).
    pub(crate) start: String,
    /// Its first day in the query's time zone (ISO date).
    pub(crate) day: String,
    /// Its short axis label.
    pub(crate) label: String,
    pub(crate) cover: Cover,
    /// The part of it the question covers, [from, to) in Unix seconds (what its records are).
    pub(crate) span: (i64, i64),
}

/// The address of the records behind a point of a series in a bucket.
pub(crate) type Drill<'a> = &'a dyn Fn(&Series, &Bucket) -> String;

/// What to draw.
pub(crate) struct Chart<'a> {
    /// One sentence naming the metric, bucketing, range and grouping.
    pub(crate) title: String,
    /// The metric's unit.
    pub(crate) unit: String,
    /// The group-by dimension ("" when not grouped).
    pub(crate) group_by: &'a str,
    pub(crate) buckets: Vec<Bucket>,
    pub(crate) series: &'a [Series],
    /// Links each point with events to its records (none: points are not links).
    pub(crate) drill: Option<Drill<'a>>,
}

/// Above this many buckets markers would overlap: only points without neighbours keep theirs.
const MOST_MARKED: usize = 120;

/// Above this many buckets "no data" labels would overlap: gaps are left to speak for themselves.
const MOST_NAMED_GAPS: usize = 60;

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 56.0;

/// Colour (Okabe–Ito, safe for colour-blind readers), dash pattern and marker of each series.
const STYLES: [(&str, &str, Marker); 8] = [
    ("#0072B2", "", Marker::Circle),
    ("#D55E00", "8 4", Marker::Square),
    ("#009E73", "2 3", Marker::Triangle),
    ("#CC79A7", "10 3 2 3", Marker::Diamond),
    ("#8a6d00", "4 2", Marker::Circle),
    ("#56B4E9", "12 4", Marker::Square),
    ("#333333", "1 2", Marker::Triangle),
    ("#7f3c8d", "6 2 2 2", Marker::Diamond),
];

#[derive(Debug, Clone, Copy)]
enum Marker {
    Circle,
    Square,
    Triangle,
    Diamond,
}

impl Marker {
    fn name(self) -> &'static str {
        match self {
            Marker::Circle => "circles",
            Marker::Square => "squares",
            Marker::Triangle => "triangles",
            Marker::Diamond => "diamonds",
        }
    }

    fn svg(self, x: f64, y: f64, colour: &str, hollow: bool) -> String {
        let fill = if hollow { "#fff" } else { colour };
        let shape = match self {
            Marker::Circle => format!(r##"<circle cx="{x:.1}" cy="{y:.1}" r="4""##),
            Marker::Square => format!(r##"<rect x="{:.1}" y="{:.1}" width="7.5" height="7.5""##, x - 3.75, y - 3.75),
            Marker::Triangle => {
                format!(
                    r##"<path d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z""##,
                    y - 5.0,
                    x + 4.8,
                    y + 3.8,
                    x - 4.8,
                    y + 3.8
                )
            }
            Marker::Diamond => {
                format!(
                    r##"<path d="M{x:.1},{:.1} L{:.1},{y:.1} L{x:.1},{:.1} L{:.1},{y:.1} Z""##,
                    y - 5.2,
                    x + 5.2,
                    y + 5.2,
                    x - 5.2
                )
            }
        };
        format!(r##"{shape} fill="{fill}" stroke="{colour}" stroke-width="2"/>"##)
    }
}

fn style(index: usize) -> (&'static str, &'static str, Marker) {
    STYLES[index % STYLES.len()]
}

/// A number as shown: fewer decimals as it grows.
pub(crate) fn shown(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// The series' display name.
pub(crate) fn group_name(series: &Series) -> &str {
    if series.group.is_empty() { "(no value)" } else { &series.group }
}

/// A tick label: as many decimals as the step between ticks needs.
fn tick_text(value: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10().floor()) as usize + usize::from(step * 10f64.powf(-step.log10().floor()) % 1.0 > 1e-9)
    };
    format!("{value:.decimals$}")
}

/// Tick positions covering `[lo, hi]`, about five of them, at round steps.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo, hi) = if (hi - lo).abs() < 1e-9 { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (lo / step).floor() as i64;
    let last = (hi / step).ceil() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

impl Chart<'_> {
    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.series.iter().flat_map(|s| s.points.iter()).flat_map(|p| [p.value, p.ci_low, p.ci_high]).flatten()
    }

    fn x(&self, index: usize) -> f64 {
        let plot = WIDTH - LEFT - RIGHT;
        LEFT + (index as f64 + 0.5) * plot / self.buckets.len().max(1) as f64
    }

    /// The SVG, or `None` when no bucket has a value.
    pub(crate) fn svg(&self) -> Option<String> {
        let (lo, hi) = self.values().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
        if !lo.is_finite() {
            return None;
        }
        let ticks = ticks(lo, hi);
        let (bottom, top) = (ticks[0], ticks[ticks.len() - 1]);
        let y = |v: f64| TOP + (top - v) / (top - bottom) * (HEIGHT - TOP - BOTTOM);
        let column = (WIDTH - LEFT - RIGHT) / self.buckets.len().max(1) as f64;
        let mut svg = format!(
            r##"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc"><title id="chart-title">{}</title><desc id="chart-desc">{}</desc><defs><pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="8" stroke="#9aa4ae" stroke-width="2"/></pattern></defs>"##,
            escape(&self.title),
            escape(&self.description()),
        );
        // Partial buckets: hatched columns, labelled.
        for (i, bucket) in self.buckets.iter().enumerate().filter(|(_, b)| b.cover != Cover::Whole) {
            let _ = write!(
                svg,
                r##"<rect class="partial" x="{:.1}" y="{TOP}" width="{column:.1}" height="{:.1}" fill="url(#hatch)" opacity="0.35"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#57606a">{}</text>"##,
                self.x(i) - column / 2.0,
                HEIGHT - TOP - BOTTOM,
                self.x(i),
                TOP - 4.0 + 12.0,
                bucket.cover.note(),
            );
        }
        // Buckets where no series has a value: a gap, said in words.
        for (i, _) in self.buckets.iter().enumerate().filter(|_| self.buckets.len() <= MOST_NAMED_GAPS) {
            if self.series.iter().all(|s| s.points.get(i).is_none_or(|p| p.value.is_none())) {
                let _ = write!(
                    svg,
                    r##"<text class="empty" x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle" fill="#57606a">no data</text>"##,
                    self.x(i),
                    HEIGHT - BOTTOM - 6.0
                );
            }
        }
        // Grid and value axis.
        for tick in &ticks {
            let weight = if tick.abs() < 1e-9 { "#8c959f" } else { "#e1e4e8" };
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="{weight}"/><text x="{:.1}" y="{:.1}" font-size="12" text-anchor="end" fill="#57606a">{}</text>"##,
                WIDTH - RIGHT,
                y(*tick),
                y(*tick),
                LEFT - 8.0,
                y(*tick) + 4.0,
                tick_text(*tick, ticks[1] - ticks[0]),
            );
        }
        let _ = write!(
            svg,
            r##"<text x="14" y="{:.1}" font-size="12" fill="#57606a" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"##,
            TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
            TOP + (HEIGHT - TOP - BOTTOM) / 2.0,
            escape(&self.unit),
        );
        // Time axis: every k-th label so they do not collide.
        let every = self.buckets.len().div_ceil(10).max(1);
        for (i, bucket) in self.buckets.iter().enumerate() {
            let x = self.x(i);
            let _ = write!(
                svg,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{:.1}" stroke="#8c959f"/>"##,
                HEIGHT - BOTTOM,
                HEIGHT - BOTTOM + 4.0
            );
            if i % every == 0 || i + 1 == self.buckets.len() && every == 1 {
                let _ = write!(
                    svg,
                    r##"<text x="{x:.1}" y="{:.1}" font-size="12" text-anchor="middle" fill="#57606a">{}</text>"##,
                    HEIGHT - BOTTOM + 18.0,
                    escape(&bucket.label)
                );
            }
        }
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#8c959f"/>"##,
            WIDTH - RIGHT,
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM
        );
        // Bands under every line, then lines and markers.
        for (index, series) in self.series.iter().enumerate() {
            svg.push_str(&self.band(series, style(index).0, &y));
        }
        let mut ends = Vec::new();
        for (index, series) in self.series.iter().enumerate() {
            let (colour, dash, marker) = style(index);
            let mut path = String::new();
            let mut pen_down = false;
            for (i, point) in series.points.iter().enumerate() {
                match point.value {
                    Some(v) => {
                        let _ = write!(path, "{}{:.1},{:.1} ", if pen_down { "L" } else { "M" }, self.x(i), y(v));
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            let _ = write!(
                svg,
                r##"<path d="{}" fill="none" stroke="{colour}" stroke-width="2.2" stroke-dasharray="{dash}" stroke-linejoin="round"/>"##,
                path.trim_end()
            );
            for (i, point) in series.points.iter().enumerate() {
                let Some(v) = point.value else { continue };
                let isolated =
                    |j: Option<usize>| j.and_then(|j| series.points.get(j)).is_none_or(|p| p.value.is_none());
                if self.buckets.len() > MOST_MARKED && !(isolated(i.checked_sub(1)) && isolated(Some(i + 1))) {
                    continue;
                }
                let hollow = self.buckets.get(i).is_some_and(|b| b.cover != Cover::Whole);
                let shape = marker.svg(self.x(i), y(v), colour, hollow);
                let label = self.buckets.get(i).map_or("", |b| b.day.as_str());
                let text = escape(&format!("{} {label}: {}", group_name(series), point_text(point)));
                match (self.drill, self.buckets.get(i)) {
                    (Some(drill), Some(bucket)) if point.count > 0 => {
                        let _ = write!(
                            svg,
                            r##"<a class="point" href="{}" data-group="{}" data-start="{}" aria-label="{text}. Show its records"><title>{text}</title>{shape}</a>"##,
                            escape(&drill(series, bucket)),
                            escape(&series.group),
                            escape(&bucket.start),
                        );
                    }
                    _ => {
                        let _ = write!(svg, "<g><title>{text}</title>{shape}</g>");
                    }
                }
            }
            if let Some((i, v)) = series.points.iter().enumerate().rev().find_map(|(i, p)| p.value.map(|v| (i, v))) {
                ends.push((y(v), i, index));
            }
        }
        // End labels, pushed apart so they stay readable.
        ends.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut last = f64::NEG_INFINITY;
        for (label_y, i, index) in ends {
            let placed = label_y.max(last + 14.0);
            last = placed;
            let series = &self.series[index];
            let name = if self.group_by.is_empty() { String::new() } else { group_name(series).to_owned() };
            let value = series.points[i].value.map(shown).unwrap_or_default();
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" font-size="12" fill="{}" font-weight="600">{} {}</text>"##,
                self.x(i) + 10.0,
                placed + 4.0,
                style(index).0,
                escape(&name),
                value
            );
        }
        svg.push_str("</svg>");
        Some(svg)
    }

    /// The 95% band of one series: a shape per run of buckets with an interval, a bar for a
    /// bucket alone.
    fn band(&self, series: &Series, colour: &str, y: &impl Fn(f64) -> f64) -> String {
        let mut out = String::new();
        let mut run: Vec<(usize, f64, f64)> = Vec::new();
        let points = series.points.iter().map(|p| p.ci_low.zip(p.ci_high)).chain(std::iter::once(None));
        for (i, interval) in points.enumerate() {
            match interval {
                Some((low, high)) => run.push((i, low, high)),
                None if run.len() == 1 => {
                    let (i, low, high) = run[0];
                    let _ = write!(
                        out,
                        r##"<rect x="{:.1}" y="{:.1}" width="8" height="{:.1}" fill="{colour}" opacity="0.16"/>"##,
                        self.x(i) - 4.0,
                        y(high),
                        y(low) - y(high)
                    );
                    run.clear();
                }
                None if !run.is_empty() => {
                    let upper = run.iter().map(|(i, _, high)| format!("{:.1},{:.1}", self.x(*i), y(*high)));
                    let lower = run.iter().rev().map(|(i, low, _)| format!("{:.1},{:.1}", self.x(*i), y(*low)));
                    let points: Vec<String> = upper.chain(lower).collect();
                    let _ = write!(
                        out,
                        r##"<polygon class="band" points="{}" fill="{colour}" opacity="0.13"/>"##,
                        points.join(" ")
                    );
                    run.clear();
                }
                None => {}
            }
        }
        out
    }

    /// The chart in words, for its `<desc>`.
    fn description(&self) -> String {
        let mut text = format!("{} buckets.", self.buckets.len());
        let latest: Vec<String> = self
            .series
            .iter()
            .filter_map(|s| {
                let (i, v) = s.points.iter().enumerate().rev().find_map(|(i, p)| p.value.map(|v| (i, v)))?;
                let day = self.buckets.get(i).map_or("", |b| b.day.as_str());
                Some(if self.group_by.is_empty() {
                    format!("{} on {day}", shown(v))
                } else {
                    format!("{} {} on {day}", group_name(s), shown(v))
                })
            })
            .collect();
        if !latest.is_empty() {
            let _ = write!(text, " Latest values: {}.", latest.join("; "));
        }
        text.push_str(" Shaded bands are 95% confidence intervals; hatched columns and hollow markers are partial buckets; gaps are buckets without data. The table below the chart lists every number.");
        text
    }

    /// The legend: each series' line, marker and name.
    pub(crate) fn legend(&self, only: impl Fn(&Series) -> String) -> String {
        let mut out = String::from(r##"<ul class="legend" aria-label="Series">"##);
        for (index, series) in self.series.iter().enumerate() {
            let (colour, dash, marker) = style(index);
            let name = if self.group_by.is_empty() { "value".to_owned() } else { group_name(series).to_owned() };
            let link = if self.group_by.is_empty() {
                escape(&name)
            } else {
                format!(r##"<a href="{}" title="Only {}">{}</a>"##, escape(&only(series)), escape(&name), escape(&name))
            };
            let _ = write!(
                out,
                r##"<li><svg viewBox="0 0 44 16" aria-hidden="true"><line x1="2" x2="42" y1="8" y2="8" stroke="{colour}" stroke-width="2.2" stroke-dasharray="{dash}"/>{}</svg>{link} <span class="hint">({}, {})</span></li>"##,
                marker.svg(22.0, 8.0, colour, false),
                if dash.is_empty() { "solid line" } else { "dashed line" },
                marker.name(),
            );
        }
        out.push_str("</ul>");
        out
    }

    /// Every number of the chart, one row per bucket and series.
    pub(crate) fn table(&self) -> String {
        let grouped = !self.group_by.is_empty();
        let mut out = String::from(r##"<table class="data"><thead><tr><th scope="col">Bucket</th>"##);
        if grouped {
            let _ = write!(out, r##"<th scope="col" class="text">{}</th>"##, escape(self.group_by));
        }
        out.push_str(r##"<th scope="col">Value</th><th scope="col">95% CI low</th><th scope="col">95% CI high</th><th scope="col">Count</th><th scope="col" class="text">Note</th></tr></thead><tbody>"##);
        for series in self.series {
            for (i, point) in series.points.iter().enumerate() {
                let bucket = self.buckets.get(i);
                let attr = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
                let _ = write!(
                    out,
                    r##"<tr data-group="{}" data-start="{}" data-value="{}" data-ci-low="{}" data-ci-high="{}" data-count="{}"><td>{}</td>"##,
                    escape(&series.group),
                    escape(bucket.map_or("", |b| b.start.as_str())),
                    attr(point.value),
                    attr(point.ci_low),
                    attr(point.ci_high),
                    point.count,
                    escape(bucket.map_or("", |b| b.day.as_str())),
                );
                if grouped {
                    let _ = write!(out, r##"<td class="text">{}</td>"##, escape(group_name(series)));
                }
                let cell = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), shown);
                let mut note = bucket.map_or("", |b| b.cover.note()).to_owned();
                if point.value.is_none() {
                    note = if note.is_empty() { "no data".to_owned() } else { format!("{note}, no data") };
                }
                let count = match (self.drill, bucket) {
                    (Some(drill), Some(bucket)) if point.count > 0 => format!(
                        r##"<a href="{}" title="Records behind this point">{}</a>"##,
                        escape(&drill(series, bucket)),
                        point.count
                    ),
                    _ => point.count.to_string(),
                };
                let _ = write!(
                    out,
                    r##"<td>{}</td><td>{}</td><td>{}</td><td>{count}</td><td class="text">{}</td></tr>"##,
                    cell(point.value),
                    cell(point.ci_low),
                    cell(point.ci_high),
                    note
                );
            }
        }
        out.push_str("</tbody></table>");
        out
    }
}

/// A point in words (marker tooltips).
fn point_text(point: &Point) -> String {
    let mut text = point.value.map_or_else(|| "no data".to_owned(), shown);
    if let (Some(low), Some(high)) = (point.ci_low, point.ci_high) {
        let _ = write!(text, " (95% CI {} to {})", shown(low), shown(high));
    }
    let _ = write!(text, ", count {}", point.count);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(value: Option<f64>, ci: Option<(f64, f64)>, count: u64) -> Point {
        Point { value, count, ci_low: ci.map(|c| c.0), ci_high: ci.map(|c| c.1), ..Point::default() }
    }

    fn bucket(day: &str, cover: Cover) -> Bucket {
        Bucket { start: format!("{day}T00:00:00Z"), day: day.to_owned(), label: day.to_owned(), cover, span: (0, 1) }
    }

    #[test]
    fn gaps_bands_partial_buckets_and_text_alternatives() {
        let series = [Series {
            group: "support".to_owned(),
            points: vec![
                point(Some(10.0), Some((0.0, 20.0)), 30),
                point(None, None, 0),
                point(Some(-20.5), Some((-40.0, -1.0)), 12),
                point(Some(-25.0), Some((-50.0, 0.0)), 8),
            ],
        }];
        let chart = Chart {
            title: "NPS by week".to_owned(),
            unit: "score".to_owned(),
            group_by: "touchpoint",
            buckets: vec![
                bucket("2026-01-05", Cover::Partial),
                bucket("2026-01-12", Cover::Whole),
                bucket("2026-01-19", Cover::Whole),
                bucket("2026-01-26", Cover::ToDate),
            ],
            series: &series,
            drill: Some(&|s: &Series, b: &Bucket| format!("/records?group={}&from={}", s.group, b.day)),
        };
        let svg = chart.svg().unwrap();
        assert!(svg.contains(r##"<title id="chart-title">NPS by week</title>"##));
        // Points with events link to their records, in the chart and in the table; empty ones do not.
        assert_eq!(svg.matches(r##"<a class="point" href="/records?group=support&amp;from="##).count(), 3);
        assert!(svg.contains(r##"href="/records?group=support&amp;from=2026-01-19" data-group="support" data-start="2026-01-19T00:00:00Z" aria-label="support 2026-01-19: -20.5 (95% CI -40.0 to -1.00), count 12. Show its records">"##), "{svg}");
        assert!(svg.contains("Latest values: support -25.0 on 2026-01-26."), "{svg}");
        // The empty bucket breaks the line in two (two M commands), never drawn as zero.
        let line = svg.split("<path d=\"").nth(1).unwrap();
        assert_eq!(line.split('"').next().unwrap().matches('M').count(), 2);
        // A lone interval is a bar, a run a band; partial and running buckets are hatched and named.
        assert_eq!(svg.matches("class=\"band\"").count(), 1);
        assert_eq!(svg.matches("opacity=\"0.16\"").count(), 1);
        assert_eq!(svg.matches("class=\"partial\"").count(), 2);
        assert!(svg.contains(">partial</text>") && svg.contains(">to date</text>"));
        assert_eq!(svg.matches(">no data</text>").count(), 1, "the empty bucket is named on the chart");
        assert_eq!(svg.matches("fill=\"#fff\"").count(), 2, "hollow markers on the partial buckets");
        let table = chart.table();
        assert!(table.contains(r##"data-group="support" data-start="2026-01-19T00:00:00Z" data-value="-20.5" data-ci-low="-40" data-ci-high="-1" data-count="12""##));
        assert!(table.contains(r##"<td>—</td><td>—</td><td>—</td><td>0</td><td class="text">no data</td>"##));
        assert!(table.contains(
            r##"<td><a href="/records?group=support&amp;from=2026-01-26" title="Records behind this point">8</a></td>"##
        ));
        assert!(table.contains(">partial</td>") && table.contains(">to date</td>"));
        let legend = chart.legend(|s| format!("/?only={}", s.group));
        assert!(legend.contains(r##"<a href="/?only=support" title="Only support">support</a>"##));
        assert!(legend.contains("solid line, circles"));
    }

    #[test]
    fn long_series_keep_markers_only_on_lone_points() {
        let mut points: Vec<Point> = (0..200).map(|i| point(Some(f64::from(i % 7)), None, 1)).collect();
        points[100] = point(None, None, 0);
        points[102] = point(None, None, 0);
        let series = [Series { group: String::new(), points }];
        let buckets = (0..200).map(|i| bucket(&format!("day-{i}"), Cover::Whole)).collect();
        let chart =
            Chart { title: String::new(), unit: String::new(), group_by: "", buckets, series: &series, drill: None };
        let svg = chart.svg().unwrap();
        assert_eq!(svg.matches("<circle").count(), 1, "only the point between two gaps keeps its marker");
        assert!(!svg.contains(">no data</text>"), "gaps are not labelled when there are many buckets");
    }

    #[test]
    fn nothing_to_draw_without_values() {
        let series = [Series { group: String::new(), points: vec![point(None, None, 0)] }];
        let chart = Chart {
            title: String::new(),
            unit: String::new(),
            group_by: "",
            buckets: vec![bucket("2026-01-05", Cover::Whole)],
            series: &series,
            drill: None,
        };
        assert!(chart.svg().is_none());
        assert_eq!(ticks(-33.0, 41.0), vec![-40.0, -20.0, 0.0, 20.0, 40.0, 60.0]);
        assert_eq!(
            (tick_text(-40.0, 20.0), tick_text(4.5, 0.5), tick_text(4.25, 0.25)),
            ("-40".to_owned(), "4.5".to_owned(), "4.25".to_owned())
        );
        assert_eq!(
            (shown(-33.333), shown(4.567), shown(1234.4)),
            ("-33.3".to_owned(), "4.57".to_owned(), "1234".to_owned())
        );
    }
}
