//! Tests through the `Plugin` trait, on temporary files.

mod bad_rows;
mod cursor;
mod events;
mod survey;

use std::io::Write;
use std::path::{Path, PathBuf};

use cxm_plugin::{Logger, Plugin};
use cxm_proto::prost_types::Timestamp;
use cxm_proto::v1::event::Payload;
use cxm_proto::v1::{
    Event, PluginConfig, PluginError, PullRequest, PullResponse, Subscription, SurveyResponse, Ticket,
};

use crate::FilePlugin;

/// A temporary directory holding one file.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Fixture {
    fn new(name: &str, content: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        Self { _dir: dir, path }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    fn append(&self, text: &str) {
        append(&self.path, text);
    }

    /// Opens the plugin on this file with more config pairs.
    fn open(&self, pairs: &[(&str, &str)]) -> FilePlugin {
        open(self.path(), pairs).unwrap()
    }
}

fn append(path: &Path, text: &str) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn open(path: &str, pairs: &[(&str, &str)]) -> Result<FilePlugin, PluginError> {
    let mut values: std::collections::BTreeMap<String, String> =
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    values.insert("path".into(), path.into());
    let config = PluginConfig { connector: "test".into(), values };
    FilePlugin::open(&config, Logger::discard())
}

fn pull(plugin: &mut FilePlugin, cursor: &str, max_events: u32) -> PullResponse {
    plugin.pull(&PullRequest { cursor: cursor.into(), max_events }).unwrap()
}

fn at(text: &str) -> Option<Timestamp> {
    let utc = cxm_mapping::TimeReader { formats: Vec::new(), zone: Some(cxm_mapping::parse_zone("UTC").unwrap()) };
    Some(utc.read(text, None).unwrap())
}

fn survey(event: &Event) -> &SurveyResponse {
    match &event.payload {
        Some(Payload::SurveyResponse(r)) => r,
        other => panic!("not a survey response: {other:?}"),
    }
}

fn ticket(event: &Event) -> &Ticket {
    match &event.payload {
        Some(Payload::Ticket(t)) => t,
        other => panic!("not a ticket: {other:?}"),
    }
}

fn subscription(event: &Event) -> &Subscription {
    match &event.payload {
        Some(Payload::Subscription(s)) => s,
        other => panic!("not a subscription: {other:?}"),
    }
}

fn ids(page: &PullResponse) -> Vec<String> {
    page.events
        .iter()
        .map(|e| match &e.payload {
            Some(Payload::SurveyResponse(r)) => r.id.clone(),
            Some(Payload::Ticket(t)) => t.id.clone(),
            Some(Payload::Subscription(s)) => s.id.clone(),
            Some(Payload::Account(a)) => a.id.clone(),
            None => String::new(),
        })
        .collect()
}

fn problems(page: &PullResponse) -> Vec<(String, String)> {
    page.problems.iter().map(|p| (p.location.clone(), p.reason.clone())).collect()
}
