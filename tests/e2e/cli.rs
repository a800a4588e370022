//! `cxm`, the command-line client: the real binary against a real `cxmd`.

use cxm_proto::v1::{Filter, Granularity, QueryRequest, SurveyKind};

use crate::support::cli::{Run, cxm, cxm_with};
use crate::support::plugins::PluginDir;
use crate::support::{Cxmd, event, response, ts};

fn http(server: &Cxmd) -> String {
    format!("http://{}", server.addr)
}

/// A failure is one plain sentence on stderr, nothing on stdout.
fn assert_one_sentence(run: &Run, code: i32) {
    assert_eq!(run.code, code, "{run:?}");
    assert_eq!(run.stderr.trim().lines().count(), 1, "{run:?}");
    assert!(run.stderr.starts_with("error: "), "{run:?}");
    assert!(!run.stderr.contains('\x1b'), "no colour when not a terminal: {run:?}");
}

/// NPS responses in Q1 2026 over two touchpoints, with a region attribute.
async fn nps_server() -> Cxmd {
    let server = Cxmd::start();
    let data = [
        ("2026-01-05T10:00:00Z", "onboarding", "emea", 10),
        ("2026-01-20T10:00:00Z", "onboarding", "apac", 9),
        ("2026-01-25T10:00:00Z", "onboarding", "emea", 3),
        ("2026-01-31T23:30:00Z", "support", "emea", 9), // February 1st in Paris
        ("2026-02-10T10:00:00Z", "support", "emea", 6),
        ("2026-03-03T10:00:00Z", "support", "apac", 8),
        ("2026-03-04T10:00:00Z", "onboarding", "emea", 10),
    ];
    let events = data
        .iter()
        .enumerate()
        .map(|(i, (at, touchpoint, region, score))| {
            let mut r = response(&format!("r{i}"), SurveyKind::Nps, *score, ts(at));
            r.touchpoint = (*touchpoint).into();
            r.attributes.insert("region".into(), (*region).into());
            event(r)
        })
        .collect();
    assert_eq!(server.ingest(events).await.accepted, 7);
    server
}

#[tokio::test]
async fn query_table_json_and_csv_show_the_servers_numbers() {
    let server = nps_server().await;
    let args = [
        "query",
        "nps",
        "--from",
        "2026-01-01",
        "--to",
        "2026-04-01",
        "--every",
        "month",
        "--tz",
        "Europe/Paris",
        "--by",
        "touchpoint",
        "--where",
        "region=emea,apac",
    ];
    let expected = server
        .query(QueryRequest {
            metric: "nps".into(),
            from: Some(ts("2025-12-31T23:00:00Z")),
            to: Some(ts("2026-03-31T22:00:00Z")),
            granularity: Granularity::Month as i32,
            time_zone: "Europe/Paris".into(),
            filters: vec![Filter { dimension: "region".into(), values: vec!["emea".into(), "apac".into()] }],
            group_by: "touchpoint".into(),
            ..QueryRequest::default()
        })
        .await;
    // Hand-computed: onboarding in January (Paris) is 10, 9, 3 → (2 − 1) / 3.
    let onboarding_january = expected.series[0].points[0].value.unwrap();
    assert!((onboarding_january - 100.0 / 3.0).abs() < 1e-9);

    let json_run = cxm(&http(&server), &[&args[..], &["--format", "json"]].concat());
    assert_eq!(json_run.code, 0, "{json_run:?}");
    let json: serde_json::Value = serde_json::from_str(&json_run.stdout).expect("cxm prints JSON");
    assert_eq!(json["metric"], "nps");
    assert_eq!(json["definition_version"].as_str(), Some(expected.definition_version.as_str()));
    let series = json["series"].as_array().unwrap();
    assert_eq!(series.len(), expected.series.len());
    for (got, want) in series.iter().zip(&expected.series) {
        assert_eq!(got["group"].as_str(), Some(want.group.as_str()));
        let points = got["points"].as_array().unwrap();
        assert_eq!(points.len(), want.points.len());
        for (p, w) in points.iter().zip(&want.points) {
            assert_eq!(p["count"].as_u64(), Some(w.count));
            assert_eq!(p["value"].as_f64(), w.value);
            assert_eq!(p["ci_low"].as_f64(), w.ci_low);
            assert_eq!(p["ci_high"].as_f64(), w.ci_high);
            for (name, value) in &w.components {
                assert_eq!(p["components"][name.as_str()].as_f64(), Some(*value));
            }
            let start: chrono::DateTime<chrono::FixedOffset> = p["start"].as_str().unwrap().parse().unwrap();
            assert_eq!(start.timestamp(), w.start.as_ref().unwrap().seconds);
        }
    }
    assert_eq!(series[0]["points"][0]["start"], "2026-01-01T00:00:00+01:00");

    let table = cxm(&http(&server), &args);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(
        table.stdout.contains("touchpoint = onboarding") && table.stdout.contains("touchpoint = support"),
        "{}",
        table.stdout
    );
    let january = table.stdout.lines().find(|l| l.trim_start().starts_with("2026-01")).expect("a January row");
    let cells: Vec<&str> = january.split_whitespace().collect();
    // NPS keeps one decimal throughout the table, its CI too.
    assert_eq!(&cells[..3], ["2026-01", "33.3", "3"], "{january}");
    assert!(january.contains(&format!("[{:.1}, ", expected.series[0].points[0].ci_low.unwrap())), "{january}");
    assert!(table.stdout.contains('▁') || table.stdout.contains('█'), "a sparkline per series:\n{}", table.stdout);

    let csv = cxm(&http(&server), &[&args[..], &["--format", "csv"]].concat());
    assert_eq!(csv.code, 0, "{csv:?}");
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert!(lines[0].starts_with("group,start,value,count,ci_low,ci_high"), "{}", lines[0]);
    assert_eq!(lines.len(), 1 + expected.series.iter().map(|s| s.points.len()).sum::<usize>());
    assert!(lines[1].starts_with("onboarding,2026-01-01T00:00:00+01:00,33.33"), "{}", lines[1]);
}

#[tokio::test]
async fn ingest_reports_counts_and_the_lines_of_bad_rows() {
    let server = Cxmd::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.csv");
    std::fs::write(
        &file,
        "id,kind,score,responded_at,touchpoint,comment,attributes.region\n\
         a1,nps,9,2026-03-01 10:00:00,onboarding,\"fast,\nfriendly\",emea\n\
         a2,nps,7,2026-03-01T11:30:00+01:00,onboarding,,apac\n\
         a3,nps,12,1772359200,support,,emea\n\
         a4,nps,lots,2026-03-02,support,,emea\n\
         \n\
         a5,csat,5,2026-03-02,support,,emea\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // Batches of 2, each on a stream of its own: the rejected row is the first event of the
    // second stream, so its index must be counted across streams to find its line.
    let run = cxm(&http(&server), &["ingest", "--batch", "2", "--stream-window-ms", "0", path]);
    assert_eq!(run.code, 1, "rows not stored make the exit code 1: {run:?}");
    assert!(
        run.stdout.contains("accepted 3 · updated 0 · duplicates 0 · stale 0 · rejected 2 · skipped 0"),
        "{}",
        run.stdout
    );
    let rejected = run.stdout.lines().find(|l| l.contains("survey_response.score")).expect("the rejection");
    assert!(rejected.trim_start().starts_with(&format!("{path}:5 ")), "{rejected}");
    let unreadable = run.stdout.lines().find(|l| l.contains("lots")).expect("the unreadable row");
    assert!(unreadable.trim_start().starts_with(&format!("{path}:6 ")), "{unreadable}");
    assert_one_sentence(&run, 1);

    let stored = |metric: &str| QueryRequest {
        metric: metric.into(),
        from: Some(ts("2026-03-01T00:00:00Z")),
        to: Some(ts("2026-04-01T00:00:00Z")),
        ..QueryRequest::default()
    };
    let answer = server.query(stored("response_count")).await;
    assert_eq!(answer.series[0].points[0].count, 3);
    let onboarding = server.query(QueryRequest { group_by: "region".into(), ..stored("nps") }).await;
    assert_eq!(onboarding.series.iter().map(|s| s.group.as_str()).collect::<Vec<_>>(), ["apac", "emea"]);

    let again = cxm(&http(&server), &["ingest", path]);
    assert!(again.stdout.contains("accepted 0 · updated 0 · duplicates 3"), "{}", again.stdout);

    let clean = dir.path().join("tickets.jsonl");
    std::fs::write(
        &clean,
        "{\"id\": 101, \"source\": \"zendesk\", \"created_at\": \"2026-03-01T09:00:00Z\", \"tags\": [\"billing\"]}\n",
    )
    .unwrap();
    let tickets = cxm(&http(&server), &["ingest", "--type", "ticket", clean.to_str().unwrap()]);
    assert_eq!(tickets.code, 0, "{tickets:?}");
    assert!(tickets.stdout.contains("accepted 1 ·"), "{}", tickets.stdout);
    assert_eq!(server.query(stored("ticket_volume")).await.series[0].points[0].count, 1);
}

#[tokio::test]
async fn connectors_are_created_listed_and_synced_from_the_cli() {
    let plugins = PluginDir::new().fixture("misbehaving", "misbehaving");
    let data = tempfile::tempdir().unwrap();
    let server = Cxmd::start_with(data.path(), &plugins.flag(), &[]);
    let addr = http(&server);

    let listed = cxm(&addr, &["plugins"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    assert!(listed.stdout.contains("misbehaving") && listed.stdout.contains("--set token=…"), "{}", listed.stdout);

    let created = cxm(&addr, &["connectors", "create", "pulse", "--plugin", "misbehaving", "--set", "pages=3"]);
    assert_eq!(created.code, 0, "{created:?}");
    let synced = cxm(&addr, &["connectors", "sync", "pulse"]);
    assert_eq!(synced.code, 0, "{synced:?}");
    assert!(synced.stdout.contains("pages 3 · accepted 6 · updated 0 · duplicates 0"), "{}", synced.stdout);
    let shown = cxm(&addr, &["connectors", "show", "pulse"]);
    assert!(shown.stdout.contains("pulse  ok · plugin misbehaving · on demand · 6 events"), "{}", shown.stdout);

    let secret = "tok-2718281828";
    let token = format!("token={secret}");
    let args =
        ["connectors", "create", "flaky", "--plugin", "misbehaving", "--set", "mode=error", "--set", "fail_at=2"];
    let created = cxm(&addr, &[&args[..], &["--set", &token]].concat());
    assert_eq!(created.code, 0, "{created:?}");
    assert!(created.stdout.contains("token = <redacted>") && !created.stdout.contains(secret), "{}", created.stdout);
    let failed = cxm(&addr, &["connectors", "sync", "flaky"]);
    assert_one_sentence(&failed, 1);
    assert!(
        failed.stderr.contains("the sync of flaky failed") && failed.stderr.contains("upstream refused"),
        "{failed:?}"
    );
    assert!(!failed.stderr.contains(secret), "{failed:?}");
    // Its first page holds the events `pulse` already brought in.
    assert!(failed.stdout.contains("pages 1 · accepted 0 · updated 0 · duplicates 2"), "{failed:?}");

    let list = cxm(&addr, &["connectors", "list"]);
    assert!(list.stdout.contains("flaky  failed") && list.stdout.contains("pulse  ok"), "{}", list.stdout);
    assert_eq!(cxm(&addr, &["connectors", "delete", "flaky"]).code, 0);
    let gone = cxm(&addr, &["connectors", "show", "flaky"]);
    assert_one_sentence(&gone, 1);
    assert!(gone.stderr.contains("not found"), "{gone:?}");
}

#[tokio::test]
async fn health_metrics_and_completions() {
    let server = Cxmd::start();
    let health = cxm(&server.addr, &["health"]); // host:port without a scheme
    assert_eq!(health.code, 0, "{health:?}");
    assert!(health.stdout.contains("SERVING"), "{health:?}");
    let metrics = cxm(&http(&server), &["metrics"]);
    assert_eq!(metrics.code, 0, "{metrics:?}");
    for name in ["nps", "csat", "ces", "response_count", "backlog", "clv"] {
        assert!(metrics.stdout.lines().any(|l| l.starts_with(name)), "{name} in:\n{}", metrics.stdout);
    }
    // Wrapped at the width (80 without a terminal or COLUMNS), between words only.
    assert!(metrics.stdout.lines().all(|l| l.chars().count() <= 80), "{}", metrics.stdout);
    let flat = metrics.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("promoters, passives, detractors"), "{}", metrics.stdout);
    let completions = cxm(&http(&server), &["completions", "bash"]);
    assert_eq!(completions.code, 0, "{completions:?}");
    assert!(completions.stdout.contains("connectors"), "completions name the commands");
}

#[tokio::test]
async fn errors_are_one_sentence_with_a_hint_and_a_non_zero_exit() {
    // A closed port: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let down = cxm(&format!("127.0.0.1:{port}"), &["metrics"]);
    assert_one_sentence(&down, 1);
    assert!(down.stderr.contains(&format!("cannot reach cxmd at 127.0.0.1:{port}")), "{down:?}");
    assert!(down.stderr.contains("cargo run -p cxmd"), "{down:?}");
    let health = cxm(&format!("127.0.0.1:{port}"), &["health"]);
    assert_eq!(health.code, 1, "{health:?}");

    let server = Cxmd::start();
    let unknown = cxm(&http(&server), &["query", "promoter_score", "--from", "2026-01-01", "--to", "2026-02-01"]);
    assert_one_sentence(&unknown, 1);
    assert!(unknown.stderr.contains("promoter_score") && unknown.stderr.contains("nps"), "{unknown:?}");
    assert!(unknown.stdout.is_empty(), "{unknown:?}");

    let usage = cxm(&http(&server), &["query", "nps", "--from", "last tuesday", "--to", "2026-02-01"]);
    assert_one_sentence(&usage, 2);
    assert!(usage.stderr.contains("--from"), "{usage:?}");
    let zone =
        cxm(&http(&server), &["query", "nps", "--from", "2026-01-01", "--to", "2026-02-01", "--tz", "Mars/Olympus"]);
    assert_one_sentence(&zone, 2);
    let no_command = cxm(&http(&server), &["querry"]);
    assert_eq!(no_command.code, 2, "{no_command:?}");
}

/// Runs `cxmd keys create` on `data_dir` and returns the secret.
fn offline_key(data_dir: &std::path::Path, role: &str, name: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cxmd"))
        .args(["keys", "create", "--role", role, "--name", name, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines().find_map(|l| l.rsplit_once(": ").map(|(_, s)| s.to_owned())).unwrap()
}

#[tokio::test]
async fn api_keys_are_sent_managed_and_refused_with_a_hint() {
    let data = tempfile::tempdir().unwrap();
    let admin = offline_key(data.path(), "admin", "ops");
    let server = Cxmd::start_in(data.path());
    let addr = http(&server);

    let missing = cxm(&addr, &["keys", "list"]);
    assert_one_sentence(&missing, 1);
    assert!(missing.stderr.contains("set CXM_API_KEY"), "{missing:?}");
    let wrong = cxm(&addr, &["--api-key", "cxm_not-a-key", "metrics"]);
    assert_one_sentence(&wrong, 1);
    assert!(wrong.stderr.contains("did not accept the API key") && wrong.stderr.contains("CXM_API_KEY"), "{wrong:?}");

    let as_admin = [("CXM_API_KEY", admin.as_str())];
    let created = cxm_with(&addr, &["keys", "create", "--role", "read", "--name", "dashboard"], &as_admin);
    assert_eq!(created.code, 0, "{created:?}");
    let id = created.stdout.split_whitespace().nth(2).unwrap().to_owned();
    let read = created.stdout.lines().find_map(|l| l.strip_prefix("secret: ")).unwrap().trim().to_owned();
    let listed = cxm_with(&addr, &["keys", "list"], &as_admin);
    assert!(
        listed.stdout.lines().any(|l| l.starts_with(&id) && l.contains("read") && l.ends_with("dashboard")),
        "{listed:?}"
    );

    let query = ["query", "response_count", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "csv"];
    let allowed = cxm(&addr, &[&["--api-key", read.as_str()][..], &query].concat());
    assert_eq!(allowed.code, 0, "{allowed:?}");
    let denied = cxm(&addr, &["--api-key", &read, "connectors", "delete", "anything"]);
    assert_one_sentence(&denied, 1);
    assert!(denied.stderr.contains("may not do this"), "{denied:?}");

    assert_eq!(cxm_with(&addr, &["keys", "revoke", &id], &as_admin).code, 0);
    let revoked = cxm(&addr, &[&["--api-key", read.as_str()][..], &query].concat());
    assert_one_sentence(&revoked, 1);
    assert!(revoked.stderr.contains("CXM_API_KEY"), "{revoked:?}");
}

#[tokio::test]
async fn tls_with_a_ca_and_a_client_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert =
        CertificateParams::new(vec!["localhost".into()]).unwrap().signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client_cert = CertificateParams::new(vec!["client".into()]).unwrap().signed_by(&client_key, &issuer).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (cert, key, ca) =
        (file("s.pem", &server_cert.pem()), file("s.key", &server_key.serialize_pem()), file("ca.pem", &ca.pem()));
    let (client, client_key) = (file("c.pem", &client_cert.pem()), file("c.key", &client_key.serialize_pem()));
    let tls = ["--tls-client-ca", &ca, "--tls-cert", &cert, "--tls-key", &key];
    let server = Cxmd::start_with(&dir.path().join("data"), &tls, &[]);

    // host:port with --tls-ca means https; the certificate is for localhost.
    let trusted = ["--tls-ca", ca.as_str(), "--tls-server-name", "localhost", "health"];
    let with_cert = cxm(&server.addr, &[&trusted[..], &["--tls-cert", &client, "--tls-key", &client_key]].concat());
    assert_eq!(with_cert.code, 0, "{with_cert:?}");
    let without_cert = cxm(&server.addr, &trusted);
    assert_one_sentence(&without_cert, 1);
    let untrusted = cxm(&format!("https://{}", server.addr), &["health"]);
    assert_one_sentence(&untrusted, 1);
}
