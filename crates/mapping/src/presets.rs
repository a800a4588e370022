//! Vendor export layouts as sets of options. Each is documented in docs/mapping.md with the vendor
//! documentation it follows; any option given by the user replaces the preset's.

use crate::fields::EventType;

/// A vendor export layout.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name given to `preset`, e.g. `qualtrics`.
    pub name: &'static str,
    /// What the export's rows are.
    pub event_type: EventType,
    /// One line on what it reads.
    pub description: &'static str,
    /// Its options, as `key=value` texts in the option syntax.
    pub options: &'static [(&'static str, &'static str)],
}

const SATISFACTION_LABELS: &str = "Very satisfied=5; Satisfied=4; Somewhat satisfied=4; \
     Neither satisfied nor dissatisfied=3; Neutral=3; Somewhat dissatisfied=2; Dissatisfied=2; \
     Very dissatisfied=1";

/// Every preset.
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "qualtrics",
        event_type: EventType::SurveyResponse,
        description: "Qualtrics Data & Analysis CSV export (numeric values, three header rows): the NPS \
                      question next to its _NPS_GROUP column; times in the zone the third header row names.",
        options: &[
            ("header_rows", "3"),
            ("time_zone_row", "3"),
            (
                "mapping",
                "id=ResponseId; responded_at=RecordedDate; score={*}_NPS_GROUP; \
                 respondent_id=ExternalReference; channel=DistributionChannel; attributes.language=UserLanguage",
            ),
            ("constants", "kind=nps"),
            // An export with "Use choice text" writes the end points with their labels.
            ("score_labels", "0 - Not at all likely=0; 10 - Extremely likely=10"),
            (
                "filters",
                "Finished=1|True; Status!=1|2|8|9|12|17|Survey Preview|Survey Test|Spam|\
                 Survey Preview Spam|Imported Spam|Offline Survey Preview",
            ),
            ("lowercase", "dimensions"),
        ],
    },
    Preset {
        name: "surveymonkey",
        event_type: EventType::SurveyResponse,
        description: "SurveyMonkey \"All individual responses\" CSV export (two header rows, actual answer \
                      text): the NPS, satisfaction or ease question, answer labels mapped to scores; times \
                      carry no zone, so `time_zone` must be set.",
        options: &[
            ("header_rows", "2"),
            (
                "mapping",
                "id=Respondent ID; responded_at=End Date; \
                 score=How likely*recommend*|*satisf*|*easy*|*effort*; attributes.collector=Collector ID",
            ),
            ("constants", "kind=auto"),
            ("score_labels", SATISFACTION_LABELS),
            ("lowercase", "dimensions"),
        ],
    },
    Preset {
        name: "typeform",
        event_type: EventType::SurveyResponse,
        description: "Typeform Results → Download CSV: the `#` response id, the NPS / satisfaction / ease \
                      question by its title, `Submit Date (UTC)`.",
        options: &[
            ("mapping", "id=#|Response ID; responded_at=Submit Date (UTC); score=*recommend*|*satisf*|*easy*|*effort*"),
            ("constants", "kind=auto"),
            ("time_zone", "UTC"),
            ("lowercase", "dimensions"),
        ],
    },
    Preset {
        name: "delighted",
        event_type: EventType::SurveyResponse,
        description: "Delighted People → Export CSV of responses: score, comment, the response time with its \
                      UTC offset, the survey type (NPS when absent).",
        options: &[
            (
                "mapping",
                "id=Response ID; score=Score; comment=Comment; responded_at=Response Timestamp; \
                 kind=Survey Type; respondent_id=Person ID; updated_at=Last Updated Timestamp",
            ),
            ("constants", "kind=nps"),
            ("lowercase", "dimensions"),
        ],
    },
    Preset {
        name: "zendesk",
        event_type: EventType::Ticket,
        description: "Zendesk Admin Center → Reports → Export CSV of tickets: reply and resolution times in \
                      minutes after `Created at`, space-separated tags.",
        options: &[
            (
                "mapping",
                "id=Id; created_at=Created at; updated_at=Updated at; \
                 first_reply_at=First reply time in minutes; solved_at=Full resolution time in minutes; \
                 status=Status; priority=Priority; channel=Via; tags=Tags; requester_id=Requester id; \
                 account_id=Organization; agent_replies=Replies; reopens=Reopens; \
                 satisfaction=Satisfaction Score; attributes.group=Group; attributes.ticket_type=Ticket type",
            ),
            ("durations", "first_reply_at=created_at+minutes; solved_at=created_at+minutes"),
            ("tag_separator", "space"),
            ("lowercase", "dimensions"),
        ],
    },
    Preset {
        name: "hubspot-deals",
        event_type: EventType::Subscription,
        description: "HubSpot CRM → Deals → Export (CSV): won deals only, `Amount` in major units as the \
                      monthly amount (×100 to minor units), `Close Date` as the start; times carry no zone, \
                      so `time_zone` must be set.",
        options: &[
            (
                "mapping",
                "id=Record ID; mrr_minor=Amount; started_at=Close Date; account_id=Associated Company|Associated Company (Primary); \
                 currency=Currency; attributes.pipeline=Pipeline",
            ),
            ("scale", "mrr_minor=100"),
            ("filters", "Deal Stage=Closed won|closedwon"),
            ("currency", "USD"),
            ("lowercase", "dimensions"),
        ],
    },
];

/// The preset called `name` (any case).
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name.eq_ignore_ascii_case(name.trim()))
}

/// The names of every preset.
pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;

    #[test]
    fn every_preset_is_valid_options() {
        for preset in PRESETS {
            let options = Options::from_pairs([("preset", preset.name)]);
            assert!(options.is_ok(), "{}: {options:?}", preset.name);
        }
    }
}
