//! The option keys, with their defaults and descriptions (the file plugin's config keys too).

/// One option: its key, its default without a preset, and what it does.
#[derive(Debug, Clone, Copy)]
pub struct OptionKey {
    /// The key, e.g. `time_zone`.
    pub name: &'static str,
    /// The default when no preset sets it (empty: none).
    pub default: &'static str,
    /// What it does, for `describe()` and `--help`.
    pub description: &'static str,
}

/// Every option, in the order the docs list them.
pub const KEYS: &[OptionKey] = &[
    OptionKey {
        name: "preset",
        default: "",
        description: "A vendor export layout: qualtrics, surveymonkey, typeform, delighted, zendesk or \
                      hubspot-deals. Sets the options below; any option given as well replaces the preset's.",
    },
    OptionKey {
        name: "event_type",
        default: "survey_response",
        description: "What each row is: survey_response, ticket, subscription or account.",
    },
    OptionKey {
        name: "source",
        default: "file",
        description: "The `source` of every event (with a preset: the preset's name), e.g. typeform.",
    },
    OptionKey {
        name: "mapping",
        default: "",
        description: "Which column feeds which field: `field=Column` pairs separated by `;` or newlines \
                      (`A|B` tries columns in order, `*` is a wildcard, `{*}_NPS_GROUP` the column named by \
                      the `*`; `field=none` drops a preset's column). A field left out is read from a \
                      column named like it.",
    },
    OptionKey {
        name: "constants",
        default: "",
        description: "Fixed values for fields the file lacks or leaves empty, e.g. `kind=nps;touchpoint=support` \
                      (`kind=auto`: from the score column's question).",
    },
    OptionKey {
        name: "time_formats",
        default: "",
        description: "strftime formats tried in order before the built-in ones, separated by `;`, e.g. \
                      `%d/%m/%Y %H:%M`.",
    },
    OptionKey {
        name: "time_zone",
        default: "UTC",
        description: "The IANA zone of times without a UTC offset, e.g. America/New_York (`none`: refuse them). \
                      Presets whose exports carry no zone leave it unset, so such times are refused until it is set.",
    },
    OptionKey {
        name: "time_zone_row",
        default: "",
        description: "A header row (1 = the first line) whose cells are JSON naming each time column's \
                      `timeZone`, as Qualtrics' third row does.",
    },
    OptionKey {
        name: "score_labels",
        default: "",
        description: "Answer labels to scores, e.g. `Very satisfied=5;Satisfied=4` (case and spaces ignored).",
    },
    OptionKey {
        name: "scale",
        default: "",
        description: "Whole-number fields read as decimals times a factor, e.g. `mrr_minor=100` for amounts \
                      in major units (dollars → cents); a result with a fraction left is refused.",
    },
    OptionKey {
        name: "durations",
        default: "",
        description: "Time fields whose column is a duration after another time field, e.g. \
                      `first_reply_at=created_at+minutes` (units: seconds, minutes, hours, days).",
    },
    OptionKey {
        name: "filters",
        default: "",
        description: "Only rows whose column equals one of the values are imported; others are skipped \
                      (counted, not rejected). `Deal Stage=Closed won|closedwon`, `Status!=1|Survey Preview`; \
                      several separated by `;` must all hold; `none` removes a preset's filters.",
    },
    OptionKey {
        name: "header_rows",
        default: "1",
        description: "How many lines the CSV header takes; the first names the columns, the others are \
                      skipped (Qualtrics 3, SurveyMonkey 2).",
    },
    OptionKey {
        name: "lowercase",
        default: "",
        description: "Fields lower-cased (after trimming, which applies to every cell): `dimensions` \
                      (touchpoint, channel, priority, tags and every attribute) and/or field names, \
                      e.g. `channel,attributes.region`; `none` for no field.",
    },
    OptionKey {
        name: "tag_separator",
        default: ",",
        description: "What separates ticket tags within one cell (`space` and `tab` name those).",
    },
    OptionKey {
        name: "currency",
        default: "",
        description: "The ISO 4217 currency of amounts; a row whose currency column says another is rejected.",
    },
];
