//! The options a mapping is made of — the same keys in `cxm ingest --set KEY=VALUE` and in the
//! file plugin's config — and how their text values are read. A preset is nothing but a set of
//! these options; options given by the user replace the preset's, option by option (for
//! `mapping` and `constants`, field by field).

use chrono_tz::Tz;

use crate::error::{MappingError, Result};
use crate::fields::{EventType, Field, Shape, Target};
use crate::keys::KEYS;
use crate::presets;
use crate::time::{TimeReader, parse_zone};

/// Where an option value came from: a preset's mapped columns other than required fields may be
/// absent from a file; the user's may not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Preset,
    User,
}

/// A mapped column.
#[derive(Clone, Debug)]
pub(crate) struct ColumnRule {
    pub(crate) target: Target,
    pub(crate) spec: String,
    pub(crate) optional: bool,
}

/// A row filter: the column's value must (or, negated, must not) be one of `values`.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub(crate) column: String,
    pub(crate) negate: bool,
    pub(crate) values: Vec<String>,
}

impl Filter {
    /// Whether a (trimmed) cell passes, ignoring case.
    pub(crate) fn passes(&self, cell: &str) -> bool {
        let cell = cell.trim();
        self.values.iter().any(|v| v.eq_ignore_ascii_case(cell)) != self.negate
    }

    /// How it reads, for messages: `Deal Stage = Closed won|closedwon`.
    pub(crate) fn describe(&self) -> String {
        format!("{} {} {}", self.column, if self.negate { "!=" } else { "=" }, self.values.join("|"))
    }
}

/// A time field read as a duration after another.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offset {
    pub(crate) field: Field,
    pub(crate) base: Field,
    pub(crate) seconds_per_unit: i64,
}

/// A mapping's options, checked.
#[derive(Clone, Debug)]
pub struct Options {
    /// What every row becomes.
    pub event_type: EventType,
    /// The `source` of every event.
    pub source: String,
    /// The preset the options started from.
    pub preset: Option<&'static str>,
    pub(crate) columns: Vec<ColumnRule>,
    pub(crate) constants: Vec<(Target, String)>,
    pub(crate) time: TimeReader,
    pub(crate) time_zone_row: Option<usize>,
    pub(crate) score_labels: Vec<(String, i64)>,
    pub(crate) scale: Vec<(Field, i64)>,
    pub(crate) durations: Vec<Offset>,
    pub(crate) filters: Vec<Filter>,
    pub(crate) header_rows: usize,
    pub(crate) lowercase_dimensions: bool,
    pub(crate) lowercase: Vec<Target>,
    pub(crate) tag_separator: String,
    pub(crate) currency: Option<String>,
}

fn invalid(key: &str, message: impl std::fmt::Display) -> MappingError {
    MappingError::Option(format!("option `{key}`: {message}"))
}

/// Splits `a=b` pieces separated by `;` or newlines (blank pieces ignored).
fn pieces(text: &str) -> impl Iterator<Item = &str> {
    text.split([';', '\n']).map(str::trim).filter(|p| !p.is_empty())
}

fn pair<'a>(key: &str, piece: &'a str) -> Result<(&'a str, &'a str)> {
    let (a, b) = piece.split_once('=').ok_or_else(|| invalid(key, format!("`{piece}` is not a `name=value` pair")))?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() || b.is_empty() {
        return Err(invalid(key, format!("`{piece}` needs a name and a value")));
    }
    Ok((a, b))
}

impl Options {
    /// The options without a preset, for events of type `event_type`.
    pub fn plain(event_type: EventType) -> Self {
        Self {
            event_type,
            source: "file".into(),
            preset: None,
            columns: Vec::new(),
            constants: Vec::new(),
            time: TimeReader { formats: Vec::new(), zone: Some(Tz::UTC) },
            time_zone_row: None,
            score_labels: Vec::new(),
            scale: Vec::new(),
            durations: Vec::new(),
            filters: Vec::new(),
            header_rows: 1,
            lowercase_dimensions: false,
            lowercase: Vec::new(),
            tag_separator: ",".into(),
            currency: None,
        }
    }

    /// Reads options from `key=value` pairs (empty values are unset): the `preset` first, then
    /// `event_type`, then every other key over them. Unknown keys are an error.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self> {
        let pairs: Vec<(&str, &str)> =
            pairs.into_iter().map(|(k, v)| (k.trim(), v.trim())).filter(|(_, v)| !v.is_empty()).collect();
        for (key, _) in &pairs {
            if !KEYS.iter().any(|k| k.name == *key) {
                let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
                return Err(MappingError::Option(format!("unknown option `{key}`; options: {}", names.join(", "))));
            }
        }
        let get = |name: &str| pairs.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v);
        let event_type = get("event_type")
            .map(|t| {
                EventType::parse(t).ok_or_else(|| {
                    invalid("event_type", format!("`{t}` is not survey_response, ticket, subscription or account"))
                })
            })
            .transpose()?;
        let mut options = match get("preset") {
            Some(name) => {
                let preset = presets::find(name).ok_or_else(|| {
                    invalid("preset", format!("unknown preset `{name}`; presets: {}", presets::names().join(", ")))
                })?;
                let mut options = Self::plain(preset.event_type);
                options.source = preset.name.to_owned();
                options.preset = Some(preset.name);
                options.time.zone = None;
                for (key, value) in preset.options {
                    options.apply(key, value, Origin::Preset)?;
                }
                if let Some(t) = event_type.filter(|t| *t != preset.event_type) {
                    return Err(invalid(
                        "event_type",
                        format!("the {} preset reads {} rows, not {}", preset.name, preset.event_type.name(), t.name()),
                    ));
                }
                options
            }
            None => Self::plain(event_type.unwrap_or(EventType::SurveyResponse)),
        };
        for (key, value) in &pairs {
            if !matches!(*key, "preset" | "event_type") {
                options.apply(key, value, Origin::User)?;
            }
        }
        Ok(options)
    }

    /// Sets one option from its text.
    pub(crate) fn apply(&mut self, key: &str, value: &str, origin: Origin) -> Result<()> {
        let ty = self.event_type;
        let target = |name: &str| Target::parse(name, ty).map_err(|e| invalid(key, e));
        let field = |name: &str| match target(name)? {
            Target::Field(f) => Ok(f),
            Target::Attribute(_) => Err(invalid(key, format!("`{name}` is not a field"))),
        };
        match key {
            "source" => self.source = value.to_owned(),
            "mapping" => {
                let mut seen = Vec::new();
                for piece in pieces(value) {
                    let (name, spec) = pair(key, piece)?;
                    let target = target(name)?;
                    if seen.contains(&target) {
                        return Err(invalid(key, format!("`{}` is given twice", target.name())));
                    }
                    seen.push(target.clone());
                    self.columns.retain(|c| c.target != target);
                    if !spec.eq_ignore_ascii_case("none") {
                        let required = matches!(&target, Target::Field(f) if ty.required().contains(f));
                        let optional = origin == Origin::Preset && !required;
                        self.columns.push(ColumnRule { target, spec: spec.to_owned(), optional });
                    }
                }
            }
            "constants" => {
                let mut seen = Vec::new();
                for piece in pieces(value) {
                    let (name, constant) = pair(key, piece)?;
                    let target = target(name)?;
                    if seen.contains(&target) {
                        return Err(invalid(key, format!("`{}` is given twice", target.name())));
                    }
                    seen.push(target.clone());
                    self.constants.retain(|(t, _)| *t != target);
                    self.constants.push((target, constant.to_owned()));
                }
            }
            "time_formats" => self.time.formats = pieces(value).map(str::to_owned).collect(),
            "time_zone" if value.eq_ignore_ascii_case("none") => self.time.zone = None,
            "time_zone" => self.time.zone = Some(parse_zone(value).map_err(|e| invalid(key, e))?),
            "time_zone_row" | "header_rows" => {
                let n: usize = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=20).contains(n))
                    .ok_or_else(|| invalid(key, format!("`{value}` is not a row count from 1 to 20")))?;
                if key == "header_rows" {
                    self.header_rows = n;
                } else {
                    self.time_zone_row = Some(n);
                }
            }
            "score_labels" => {
                self.score_labels = Vec::new();
                for piece in pieces(value) {
                    let (label, score) = piece
                        .rsplit_once('=')
                        .map(|(l, s)| (l.trim(), s.trim()))
                        .ok_or_else(|| invalid(key, format!("`{piece}` is not a `Label=score` pair")))?;
                    let score = crate::numbers::whole(score).map_err(|e| invalid(key, e))?;
                    self.score_labels.push((label.to_owned(), score));
                }
            }
            "scale" => {
                self.scale = Vec::new();
                for piece in pieces(value) {
                    let (name, factor) = pair(key, piece)?;
                    let f = field(name)?;
                    if f.shape() != Shape::Whole {
                        return Err(invalid(key, format!("`{name}` is not a whole-number field")));
                    }
                    let factor: i64 = factor
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| invalid(key, format!("`{factor}` is not a positive whole factor")))?;
                    self.scale.push((f, factor));
                }
            }
            "durations" => {
                self.durations = Vec::new();
                for piece in pieces(value) {
                    let (name, rule) = pair(key, piece)?;
                    let (base, unit) = rule
                        .split_once('+')
                        .ok_or_else(|| invalid(key, format!("`{rule}` is not `base_field+unit`")))?;
                    let (f, base) = (field(name)?, field(base.trim())?);
                    if f.shape() != Shape::Time || base.shape() != Shape::Time || f == base {
                        return Err(invalid(key, format!("`{piece}` needs two different time fields")));
                    }
                    let seconds_per_unit = match unit.trim().to_ascii_lowercase().as_str() {
                        "seconds" | "second" | "s" => 1,
                        "minutes" | "minute" | "min" => 60,
                        "hours" | "hour" | "h" => 3600,
                        "days" | "day" | "d" => 86_400,
                        other => {
                            return Err(invalid(
                                key,
                                format!("unknown unit `{other}` (seconds, minutes, hours, days)"),
                            ));
                        }
                    };
                    self.durations.push(Offset { field: f, base, seconds_per_unit });
                }
            }
            "filters" => {
                self.filters = Vec::new();
                if value.eq_ignore_ascii_case("none") {
                    return Ok(());
                }
                for piece in pieces(value) {
                    let (column, negate, values) = match piece.split_once("!=") {
                        Some((c, v)) => (c, true, v),
                        None => {
                            let (c, v) = piece
                                .split_once('=')
                                .ok_or_else(|| invalid(key, format!("`{piece}` is not `Column=value`")))?;
                            (c, false, v)
                        }
                    };
                    let values: Vec<String> = values.split('|').map(|v| v.trim().to_owned()).collect();
                    if column.trim().is_empty() {
                        return Err(invalid(key, format!("`{piece}` names no column")));
                    }
                    self.filters.push(Filter { column: column.trim().to_owned(), negate, values });
                }
            }
            "lowercase" => {
                self.lowercase_dimensions = false;
                self.lowercase = Vec::new();
                for name in value.split([',', ';']).map(str::trim).filter(|n| !n.is_empty()) {
                    match name {
                        "none" => {}
                        "dimensions" => self.lowercase_dimensions = true,
                        name => self.lowercase.push(target(name)?),
                    }
                }
            }
            "tag_separator" => {
                self.tag_separator = match value.to_ascii_lowercase().as_str() {
                    "space" => " ".to_owned(),
                    "tab" => "\t".to_owned(),
                    _ => value.to_owned(),
                }
            }
            "currency" => {
                if value.len() != 3 || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(invalid(key, format!("`{value}` is not an ISO 4217 code such as USD")));
                }
                self.currency = Some(value.to_ascii_uppercase());
            }
            other => return Err(MappingError::Option(format!("unknown option `{other}`"))),
        }
        Ok(())
    }

    /// Whether `target`'s values are lower-cased.
    pub(crate) fn lowercases(&self, target: &Target) -> bool {
        self.lowercase.contains(target)
            || (self.lowercase_dimensions
                && match target {
                    Target::Attribute(_) => true,
                    Target::Field(f) => f.is_dimension(),
                })
    }

    /// How many lines the CSV header takes.
    pub fn header_rows(&self) -> usize {
        self.header_rows
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Result<Options> {
        Options::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn malformed_values_are_refused_with_the_option_named() {
        for (bad, key) in [
            (vec![("event_type", "deal")], "event_type"),
            (vec![("mapping", "score")], "mapping"),
            (vec![("mapping", "scor=Score")], "mapping"),
            (vec![("mapping", "score=A;score=B")], "mapping"),
            (vec![("mapping", "tags=Tags")], "mapping"),
            (vec![("time_zone", "Mars/Base")], "time_zone"),
            (vec![("header_rows", "0")], "header_rows"),
            (vec![("scale", "comment=100")], "scale"),
            (vec![("scale", "score=-1")], "scale"),
            (vec![("durations", "responded_at=score+minutes")], "durations"),
            (vec![("event_type", "ticket"), ("durations", "solved_at=created_at+fortnights")], "durations"),
            (vec![("filters", "=x")], "filters"),
            (vec![("currency", "dollars")], "currency"),
            (vec![("preset", "salesforce")], "preset"),
            (vec![("preset", "zendesk"), ("event_type", "account")], "event_type"),
        ] {
            let e = options(&bad).unwrap_err().to_string();
            assert!(e.contains(&format!("`{key}`")), "{bad:?}: {e}");
        }
        assert!(options(&[("colour", "red")]).unwrap_err().to_string().contains("unknown option `colour`"));
    }

    #[test]
    fn user_options_replace_the_presets_one_by_one() {
        let preset = options(&[("preset", "hubspot-deals")]).unwrap();
        assert_eq!(preset.source, "hubspot-deals");
        assert_eq!(preset.event_type, EventType::Subscription);
        let amount = preset.columns.iter().find(|c| c.target == Target::Field(Field::MrrMinor)).unwrap();
        assert_eq!(amount.spec, "Amount");
        let changed =
            options(&[("preset", "hubspot-deals"), ("mapping", "mrr_minor=MRR; account_id=none"), ("source", "crm")])
                .unwrap();
        let amount = changed.columns.iter().find(|c| c.target == Target::Field(Field::MrrMinor)).unwrap();
        assert_eq!((amount.spec.as_str(), amount.optional), ("MRR", false));
        assert!(!changed.columns.iter().any(|c| c.target == Target::Field(Field::AccountId)));
        // Other preset columns and options stay.
        assert!(changed.columns.iter().any(|c| c.target == Target::Field(Field::StartedAt)));
        assert_eq!(changed.filters.len(), 1);
        assert_eq!(changed.source, "crm");
        let unfiltered = options(&[("preset", "hubspot-deals"), ("filters", "none")]).unwrap();
        assert!(unfiltered.filters.is_empty());
    }

    #[test]
    fn without_a_preset_times_default_to_utc_and_with_one_to_none() {
        assert_eq!(options(&[]).unwrap().time.zone, Some(Tz::UTC));
        assert_eq!(options(&[("time_zone", "none")]).unwrap().time.zone, None);
        assert_eq!(options(&[("preset", "surveymonkey")]).unwrap().time.zone, None);
        assert_eq!(options(&[("preset", "typeform")]).unwrap().time.zone, Some(Tz::UTC));
    }

    #[test]
    fn filters_lowercase_and_labels_parse() {
        let o = options(&[
            ("filters", "Deal Stage=Closed won|closedwon; Status!=1"),
            ("lowercase", "dimensions, attributes.Region"),
            ("score_labels", "Very satisfied=5; A = B=4"),
        ])
        .unwrap();
        assert!(o.filters[0].passes(" closed WON ") && !o.filters[0].passes("Closed lost"));
        assert!(o.filters[1].passes("0") && !o.filters[1].passes("1"));
        assert!(o.lowercases(&Target::Field(Field::Channel)) && o.lowercases(&Target::Attribute("x".into())));
        assert!(!o.lowercases(&Target::Field(Field::Comment)));
        assert_eq!(o.score_labels, [("Very satisfied".to_owned(), 5), ("A = B".to_owned(), 4)]);
    }
}
