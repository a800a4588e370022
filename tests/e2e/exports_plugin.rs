//! The file plugin with `preset = …` gives the same events as `cxm ingest --preset …` on the same
//! export: one cxmd loaded by the CLI, another by the plugin, and the same queries answered alike.

use cxm_proto::v1::{CreateConnectorRequest, Granularity, QueryRequest};

use crate::exports::fixture;
use crate::support::cli::cxm;
use crate::support::reference::request;
use crate::support::{Cxmd, plugins};

/// A preset, its fixture, and the options it needs besides the preset.
type Export = (&'static str, &'static str, &'static [(&'static str, &'static str)]);

const EXPORTS: [Export; 6] = [
    ("qualtrics", "qualtrics_nps.csv", &[]),
    ("surveymonkey", "surveymonkey_csat.csv", &[("time_zone", "America/New_York")]),
    ("typeform", "typeform_nps.csv", &[]),
    ("delighted", "delighted_nps.csv", &[]),
    ("zendesk", "zendesk_tickets.csv", &[]),
    ("hubspot-deals", "hubspot_deals.csv", &[("time_zone", "America/New_York")]),
];

fn queries() -> Vec<QueryRequest> {
    let month = |metric: &str, group_by: &str| {
        request(
            metric,
            ("2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            Granularity::Month,
            "Europe/Paris",
            &[],
            group_by,
        )
    };
    vec![
        month("nps", "source"),
        month("nps", "channel"),
        month("response_count", "source"),
        month("csat", ""),
        month("ticket_volume", "priority"),
        month("first_reply_time", "tag"),
        month("full_resolution_time", ""),
        month("ticket_csat", ""),
        month("mrr", ""),
        month("mrr", "source"),
    ]
}

#[tokio::test]
async fn the_plugin_preset_and_the_cli_preset_store_the_same_events() {
    plugins::build();
    let by_cli = Cxmd::start();
    let by_plugin = Cxmd::start();
    for (preset, file, extra) in EXPORTS {
        let path = fixture(file);
        let mut args = vec!["ingest".to_owned(), "--preset".to_owned(), preset.to_owned()];
        for (key, value) in extra {
            args.extend(["--set".to_owned(), format!("{key}={value}")]);
        }
        args.push(path.clone());
        let run = cxm(&format!("http://{}", by_cli.addr), &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(run.code, 0, "{preset}: {run:?}");

        let mut config: Vec<(String, String)> = vec![("path".into(), path), ("preset".into(), preset.into())];
        config.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let create = CreateConnectorRequest {
            name: format!("{preset}-export"),
            plugin: "file".into(),
            config: config.into_iter().collect(),
            ..CreateConnectorRequest::default()
        };
        by_plugin.connector_client().await.create_connector(create).await.unwrap();
        let progress = by_plugin.sync(&format!("{preset}-export")).await;
        let last = progress.last().unwrap();
        assert_eq!((last.rejected, last.error.as_str()), (0, ""), "{preset}: {progress:?}");
        let counted = run.stdout.contains(&format!("accepted {} ·", last.accepted));
        assert!(counted, "{preset}: the CLI and the plugin store as many events: {} vs {progress:?}", run.stdout);
        // Rows a filter skips are named "skipped" in sync progress as in the CLI.
        if run.stdout.contains("skipped 2") {
            let messages: String = progress.iter().map(|p| p.message.clone()).collect();
            assert!(messages.contains("2 rows skipped (row filter"), "{preset}: {messages}");
        }
    }
    for query in queries() {
        let (cli, plugin) = (by_cli.query(query.clone()).await, by_plugin.query(query.clone()).await);
        assert!(cli.series.iter().any(|s| s.points.iter().any(|p| p.count > 0)), "{query:?} is not empty: {cli:?}");
        assert_eq!(cli.series, plugin.series, "{} by {:?}", query.metric, query.group_by);
    }
}

#[tokio::test]
async fn a_connector_whose_file_does_not_fit_fails_its_sync_with_the_header_and_stores_nothing() {
    plugins::build();
    let server = Cxmd::start();
    let dir = tempfile::tempdir().unwrap();
    let dotted = std::fs::read_to_string(fixture("typeform_nps.csv")).unwrap().replace("2026-", "2026/");
    let path = dir.path().join("dotted.csv");
    std::fs::write(&path, dotted).unwrap();
    let create = CreateConnectorRequest {
        name: "typeform-export".into(),
        plugin: "file".into(),
        config: [("path".to_owned(), path.display().to_string()), ("preset".to_owned(), "typeform".to_owned())]
            .into_iter()
            .collect(),
        ..CreateConnectorRequest::default()
    };
    server.connector_client().await.create_connector(create).await.unwrap();
    for _ in 0..2 {
        let progress = server.sync("typeform-export").await;
        let last = progress.last().unwrap();
        assert!(
            last.error.contains("time_formats") && last.error.contains("Submit Date (UTC), Network ID"),
            "{progress:?}"
        );
        assert_eq!(last.accepted, 0, "{progress:?}");
    }
    assert_eq!(server.responses_between("2026-01-01T00:00:00Z", "2027-06-01T00:00:00Z").await, 0);
}
