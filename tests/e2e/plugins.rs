//! Connector plugins: loading, failures, misbehaving plugins, a plugin in C, secrets, crashes.

use cxm_proto::v1::{
    CreateConnectorRequest, DeleteConnectorRequest, Granularity, ListPluginsRequest, PluginKind, SyncConnectorRequest,
};
use tonic::Code;

use crate::support::Cxmd;
use crate::support::plugins::PluginDir;
use crate::support::reference::Case;

const TOKEN: &str = "tok-3141592653-secret";

fn connector(name: &str, plugin: &str, config: &[(&str, &str)]) -> CreateConnectorRequest {
    CreateConnectorRequest {
        name: name.into(),
        plugin: plugin.into(),
        config: config.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        sync_interval_seconds: 0,
        pull_timeout_seconds: 0,
    }
}

fn fixture_responses(from: &str, to: &str) -> Case<'static> {
    let _ = (from, to);
    Case {
        metric: "response_count",
        from: "2026-01-01T00:00:00Z",
        to: "2026-02-01T00:00:00Z",
        granularity: Granularity::Unspecified,
        zone: "",
        filters: vec![],
        group_by: "",
    }
}

async fn stored(server: &Cxmd) -> u64 {
    server.query(fixture_responses("", "").request()).await.series[0].points[0].count
}

fn start(dir: &std::path::Path, plugins: &PluginDir) -> Cxmd {
    Cxmd::start_with(dir, &plugins.flag(), &[])
}

#[tokio::test]
async fn plugins_load_and_failures_are_listed_with_their_reasons() {
    let plugins = PluginDir::new()
        .fixture("misbehaving", "misbehaving")
        .fixture("garbage", "junk")
        .fixture("wrong-abi", "future")
        .fixture("no-entry", "no_entry")
        .not_a_library("text")
        .c_fixture("null_pull", "null_pull")
        .c_fixture("crash_on_info", "crash_on_info");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let list = server.connector_client().await.list_plugins(ListPluginsRequest {}).await.unwrap().into_inner();
    let names: Vec<_> = list.plugins.iter().map(|p| p.name.as_str()).collect();
    assert!(names.contains(&"misbehaving") && names.contains(&"garbage"), "{names:?}");
    let misbehaving = list.plugins.iter().find(|p| p.name == "misbehaving").unwrap();
    assert_eq!((misbehaving.kind, misbehaving.abi_version.as_str()), (PluginKind::Survey as i32, "1.0"));
    assert!(misbehaving.config_keys.iter().any(|k| k.name == "token" && k.secret));
    let reason = |file: &str| {
        list.failures
            .iter()
            .find(|f| f.path.ends_with(file))
            .unwrap_or_else(|| panic!("{file} not among failures {:?}", list.failures))
            .reason
            .clone()
    };
    let future = reason("libcxm_plugin_future.so");
    assert!(future.contains("99.0") && future.contains("1.0"), "{future}");
    assert!(reason("libcxm_plugin_no_entry.so").contains("cxm_plugin_entry_v1"));
    // The dynamic loader's own words (dlerror) are in the reason.
    let text = reason("libcxm_plugin_text.so");
    assert!(
        text.contains("not a loadable library") && text.contains("libcxm_plugin_text.so: file too short"),
        "{text}"
    );
    let null = reason("libcxm_plugin_null_pull.so");
    assert!(null.contains("NULL for open, pull, close, free_buf"), "{null}");
    let crash = reason("libcxm_plugin_crash_on_info.so");
    assert!(crash.contains("crashed (SIGSEGV) while being loaded"), "{crash}");
    // Every failure is logged, and a file named unlike its plugin is pointed out.
    let log = server.log();
    for file in ["future", "no_entry", "text", "null_pull", "crash_on_info"] {
        assert!(
            log.contains(&format!("libcxm_plugin_{file}.so")) && log.contains("plugin not loaded"),
            "{file}: {log}"
        );
    }
    let renamed = log.lines().find(|l| l.contains("does not match the plugin's name")).unwrap_or_default();
    assert!(renamed.contains("libcxm_plugin_junk.so") && renamed.contains("garbage"), "{log}");
    // The server serves regardless.
    assert_eq!(stored(&server).await, 0);
}

#[tokio::test]
async fn a_panicking_plugin_fails_its_sync_keeps_earlier_pages_and_the_server_serves() {
    let plugins = PluginDir::new().fixture("misbehaving", "misbehaving");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let mut client = server.connector_client().await;
    client
        .create_connector(connector("boom", "misbehaving", &[("mode", "panic"), ("pages", "5"), ("fail_at", "3")]))
        .await
        .unwrap();
    let progress = server.sync("boom").await;
    let last = progress.last().unwrap();
    assert!(last.done);
    assert!(last.error.contains("panicked") && last.error.contains("page 3 exploded"), "{}", last.error);
    assert!(last.error.contains("the cursor did not move"), "{}", last.error);
    assert_eq!((last.pages, last.accepted), (2, 4));
    let state =
        client.get_connector(cxm_proto::v1::GetConnectorRequest { name: "boom".into() }).await.unwrap().into_inner();
    assert_eq!(state.events, 4);
    assert!(state.last_error.contains("panicked"));
    assert!(state.last_success.is_none() && state.last_sync_end.is_some());
    assert_eq!(stored(&server).await, 4, "pages 1 and 2 stored, nothing from page 3");
    // Syncing again fails at the same page: the cursor stayed after page 2.
    let again = server.sync("boom").await;
    assert_eq!(again.last().unwrap().pages, 0);
    assert_eq!(stored(&server).await, 4);
}

#[tokio::test]
async fn bytes_that_do_not_decode_fail_the_sync_and_store_nothing() {
    let plugins = PluginDir::new().fixture("garbage", "garbage");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    server.connector_client().await.create_connector(connector("junk", "garbage", &[])).await.unwrap();
    let last = server.sync("junk").await.pop().unwrap();
    assert!(last.error.contains("do not decode"), "{}", last.error);
    assert_eq!(last.pages, 0);
    assert_eq!(stored(&server).await, 0);
}

#[tokio::test]
async fn plugin_errors_and_logs_never_show_the_secret() {
    let plugins = PluginDir::new().fixture("misbehaving", "misbehaving");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let mut client = server.connector_client().await;
    let created = client
        .create_connector(connector("err", "misbehaving", &[("mode", "error"), ("fail_at", "1"), ("token", TOKEN)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.config["token"], "<redacted>");
    assert_eq!(created.config["mode"], "error");
    let last = server.sync("err").await.pop().unwrap();
    assert!(last.error.contains("upstream refused token <redacted>"), "{}", last.error);
    assert!(last.error.contains("unavailable"), "{}", last.error);
    let listed = client.list_connectors(cxm_proto::v1::ListConnectorsRequest {}).await.unwrap().into_inner();
    assert_eq!(listed.connectors[0].config["token"], "<redacted>");
    let got =
        client.get_connector(cxm_proto::v1::GetConnectorRequest { name: "err".into() }).await.unwrap().into_inner();
    assert_eq!(got.config["token"], "<redacted>");
    assert!(!format!("{got:?}{listed:?}{last:?}").contains(TOKEN));
    let log = server.log();
    assert!(log.contains("opening with token <redacted>") && log.contains("connector=err"), "{log}");
    assert!(!log.contains(TOKEN), "the secret reached the log");
}

#[tokio::test]
async fn connector_requests_are_checked() {
    let plugins = PluginDir::new().fixture("misbehaving", "misbehaving");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let mut client = server.connector_client().await;
    let code = |r: Result<tonic::Response<cxm_proto::v1::Connector>, tonic::Status>| {
        let status = r.unwrap_err();
        (status.code(), status.message().to_owned())
    };
    let (c, m) = code(client.create_connector(connector("a", "nope", &[])).await);
    assert_eq!(c, Code::NotFound);
    assert!(m.contains("misbehaving"), "{m}");
    let (c, m) = code(client.create_connector(connector("a", "misbehaving", &[("colour", "red")])).await);
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.contains("config.colour") && m.contains("token"), "{m}");
    let (c, m) = code(client.create_connector(connector("a", "misbehaving", &[("mode", "sideways")])).await);
    assert_eq!(c, Code::InvalidArgument);
    assert!(m.contains("sideways"), "{m}");
    let (c, _) = code(client.create_connector(connector("Bad Name", "misbehaving", &[])).await);
    assert_eq!(c, Code::InvalidArgument);
    client.create_connector(connector("a", "misbehaving", &[])).await.unwrap();
    let (c, _) = code(client.create_connector(connector("a", "misbehaving", &[])).await);
    assert_eq!(c, Code::AlreadyExists);
    let missing = client.get_connector(cxm_proto::v1::GetConnectorRequest { name: "zzz".into() }).await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let unknown = client.sync_connector(SyncConnectorRequest { name: "zzz".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn one_sync_at_a_time_state_survives_restarts_and_deleting_keeps_the_data() {
    let plugins = PluginDir::new().fixture("misbehaving", "misbehaving");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let mut client = server.connector_client().await;
    client.create_connector(connector("slow", "misbehaving", &[("pages", "4"), ("delay_ms", "150")])).await.unwrap();
    let mut first = client.sync_connector(SyncConnectorRequest { name: "slow".into() }).await.unwrap().into_inner();
    let second = client.sync_connector(SyncConnectorRequest { name: "slow".into() }).await.unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition, "{}", second.message());
    let busy = client.delete_connector(DeleteConnectorRequest { name: "slow".into() }).await.unwrap_err();
    assert_eq!(busy.code(), Code::FailedPrecondition);
    let mut last = None;
    while let Some(p) = first.message().await.unwrap() {
        last = Some(p);
    }
    let last = last.unwrap();
    assert!(last.done && last.error.is_empty(), "{last:?}");
    assert_eq!((last.pages, last.accepted), (4, 8));
    drop(server);

    let server = start(data.path(), &plugins);
    let mut client = server.connector_client().await;
    let state =
        client.get_connector(cxm_proto::v1::GetConnectorRequest { name: "slow".into() }).await.unwrap().into_inner();
    assert_eq!(state.events, 8);
    assert!(state.last_success.is_some() && state.last_error.is_empty());
    // Caught up: a new sync pulls one empty page and changes nothing.
    let again = server.sync("slow").await.pop().unwrap();
    assert_eq!((again.accepted, again.duplicates, again.error.as_str()), (0, 0, ""));
    client.delete_connector(DeleteConnectorRequest { name: "slow".into() }).await.unwrap();
    let gone = client.get_connector(cxm_proto::v1::GetConnectorRequest { name: "slow".into() }).await.unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert_eq!(stored(&server).await, 8, "the events stay");
}

#[tokio::test]
async fn scheduled_syncs_run_by_interval() {
    let plugins = PluginDir::new().fixture("misbehaving", "misbehaving");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let mut request = connector("tick", "misbehaving", &[("pages", "2")]);
    request.sync_interval_seconds = 1;
    server.connector_client().await.create_connector(request).await.unwrap();
    for _ in 0..100 {
        if stored(&server).await == 4 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no scheduled sync within 10 s");
}

#[tokio::test]
async fn sigkill_mid_sync_then_resync_equals_a_clean_sync() {
    let plugins = PluginDir::new().fixture("misbehaving", "misbehaving");
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let config = [("pages", "30"), ("delay_ms", "40")];
    server.connector_client().await.create_connector(connector("long", "misbehaving", &config)).await.unwrap();
    let mut stream = server
        .connector_client()
        .await
        .sync_connector(SyncConnectorRequest { name: "long".into() })
        .await
        .unwrap()
        .into_inner();
    // Let a few pages commit, then kill the process in the middle of the sync.
    for _ in 0..5 {
        stream.message().await.unwrap();
    }
    server.kill();

    let server = start(data.path(), &plugins);
    let partial = stored(&server).await;
    assert!((10..60).contains(&partial), "{partial} responses after the crash");
    let last = server.sync("long").await.pop().unwrap();
    assert!(last.error.is_empty(), "{}", last.error);
    assert_eq!(last.accepted + last.duplicates + partial, 60, "resumed at the last committed page or just before");
    // Every response exactly once: the same numbers as a clean single sync of 60 responses.
    let mut nps = fixture_responses("", "").request();
    nps.metric = "nps".into();
    let point = &server.query(nps).await.series[0].points[0];
    let scores: Vec<i32> = (0..60).map(|n| n % 11).collect();
    let promoters = scores.iter().filter(|s| **s >= 9).count() as f64;
    let detractors = scores.iter().filter(|s| **s <= 6).count() as f64;
    assert_eq!(point.count, 60);
    assert!((point.value.unwrap() - 100.0 * (promoters - detractors) / 60.0).abs() < 1e-9);
    let state = server
        .connector_client()
        .await
        .get_connector(cxm_proto::v1::GetConnectorRequest { name: "long".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state.events, 60);
}

#[tokio::test]
async fn a_plugin_written_in_c_loads_syncs_and_logs() {
    let plugins = PluginDir::new().c_plugin();
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let mut client = server.connector_client().await;
    let list = client.list_plugins(ListPluginsRequest {}).await.unwrap().into_inner();
    assert!(list.plugins.iter().any(|p| p.name == "c_demo" && p.version == "1.0.0"), "{list:?}");
    client.create_connector(connector("from-c", "c_demo", &[])).await.unwrap();
    let last = server.sync("from-c").await.pop().unwrap();
    assert_eq!((last.accepted, last.error.as_str()), (1, ""));
    let again = server.sync("from-c").await.pop().unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 0));
    let mut nps = fixture_responses("", "").request();
    nps.metric = "nps".into();
    let point = &server.query(nps).await.series[0].points[0];
    assert_eq!((point.count, point.value), (1, Some(100.0)));
    let log = server.log();
    assert!(log.contains("hello from C: one response") && log.contains("connector=from-c"), "{log}");
}

/// NPS of scores `0..count` taken as `i % 11`, computed here from the definition.
fn nps_of(indexes: std::ops::Range<u64>) -> f64 {
    let scores: Vec<u64> = indexes.map(|i| i % 11).collect();
    let promoters = scores.iter().filter(|s| **s >= 9).count() as f64;
    let detractors = scores.iter().filter(|s| **s <= 6).count() as f64;
    100.0 * (promoters - detractors) / scores.len() as f64
}

#[tokio::test]
async fn the_protobuf_c_example_plugin_pages_resumes_and_reports_errors() {
    let plugins = PluginDir::new().c_protobuf_plugin();
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path(), &plugins);
    let mut client = server.connector_client().await;
    let list = client.list_plugins(ListPluginsRequest {}).await.unwrap().into_inner();
    let plugin = list.plugins.iter().find(|p| p.name == "c_survey").unwrap_or_else(|| panic!("{list:?}"));
    let keys: Vec<_> = plugin.config_keys.iter().map(|k| (k.name.as_str(), k.required)).collect();
    assert_eq!(keys, [("count", true), ("page_size", false), ("fail_at_page", false), ("source", false)]);

    // Its config is decoded and checked by the plugin itself.
    let refused = client.create_connector(connector("c", "c_survey", &[("count", "many")])).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("count must be a whole number"), "{}", refused.message());

    // 10 responses, 3 a page, an outage at page 3: pages 1 and 2 arrive, the cursor stays at 6.
    let config = [("count", "10"), ("page_size", "3"), ("fail_at_page", "3")];
    client.create_connector(connector("c", "c_survey", &config)).await.unwrap();
    let last = server.sync("c").await.pop().unwrap();
    assert_eq!((last.pages, last.accepted), (2, 6), "{last:?}");
    assert!(last.error.contains("the survey service is down (unavailable)"), "{}", last.error);

    // The outage is over: the next sync resumes at response 6.
    let mut request = cxm_proto::v1::UpdateConnectorRequest { name: "c".into(), ..Default::default() };
    request.config.insert("fail_at_page".into(), "0".into());
    client.update_connector(request).await.unwrap();
    let last = server.sync("c").await.pop().unwrap();
    assert_eq!((last.pages, last.accepted, last.duplicates, last.error.as_str()), (2, 4, 0, ""));

    let mut nps = fixture_responses("", "").request();
    nps.metric = "nps".into();
    let point = &server.query(nps).await.series[0].points[0];
    assert_eq!(point.count, 10);
    assert!((point.value.unwrap() - nps_of(0..10)).abs() < 1e-9, "{point:?}");
}
