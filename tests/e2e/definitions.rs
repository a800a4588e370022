//! Definition version 2 (SPEC §8) over the wire: attribute keys that clash with built-in
//! dimensions are rejected with the field, and small-N intervals follow the version 2 formulas.

use cxm_proto::v1::{Event, Granularity, ListMetricsRequest, SurveyKind, Ticket, event::Payload};

use crate::support::reference::{Case, nps_adjusted_wald, request, student_t_975};
use crate::support::{Cxmd, event, response, ts};

fn ticket(id: &str, attributes: &[(&str, &str)]) -> Event {
    Event {
        payload: Some(Payload::Ticket(Ticket {
            id: id.into(),
            source: "desk".into(),
            channel: "email".into(),
            created_at: Some(ts("2026-02-01T10:00:00Z")),
            attributes: attributes.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            ..Ticket::default()
        })),
    }
}

#[tokio::test]
async fn attributes_named_like_built_in_dimensions_are_rejected_and_never_double_count() {
    let server = Cxmd::start();
    let at = ts("2026-02-01T10:00:00Z");
    let mut events = Vec::new();
    for (i, key) in ["source", "channel", "account_id", "touchpoint", "kind"].iter().enumerate() {
        let mut r = response(&format!("bad{i}"), SurveyKind::Nps, 10, at);
        r.channel = "web".into();
        r.attributes.insert((*key).into(), "web".into());
        events.push(event(r));
    }
    let mut good = response("good", SurveyKind::Nps, 0, at);
    good.channel = "web".into();
    good.attributes.insert("region".into(), "emea".into());
    events.push(event(good));
    for (i, key) in ["source", "channel", "priority", "tag", "account_id"].iter().enumerate() {
        events.push(ticket(&format!("t{i}"), &[(key, "email")]));
    }
    // `touchpoint` and `kind` are not ticket dimensions: fine as ticket attributes.
    events.push(ticket("t-ok", &[("touchpoint", "x"), ("kind", "y")]));
    let ack = server.ingest(events).await;
    assert_eq!(ack.accepted, 2, "{ack:?}");
    let got: Vec<(u32, &str)> = ack.rejections.iter().map(|r| (r.index, r.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (0, "survey_response.attributes.source"),
            (1, "survey_response.attributes.channel"),
            (2, "survey_response.attributes.account_id"),
            (3, "survey_response.attributes.touchpoint"),
            (4, "survey_response.attributes.kind"),
            (6, "ticket.attributes.source"),
            (7, "ticket.attributes.channel"),
            (8, "ticket.attributes.priority"),
            (9, "ticket.attributes.tag"),
            (10, "ticket.attributes.account_id"),
        ]
    );
    for rejection in &ack.rejections {
        assert!(rejection.reason.contains("built-in dimension"), "{rejection:?}");
    }
    // One response counted once, whichever way the question is asked (rollup or scan).
    let month = ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
    for (filters, group_by) in [
        (vec![], "channel"),
        (vec![("channel", vec!["web"])], ""),
        (vec![("channel", vec!["web"]), ("region", vec!["emea"])], ""),
        (vec![("region", vec!["emea"])], "channel"),
    ] {
        let answer = server.query(request("nps", month, Granularity::Unspecified, "", &filters, group_by)).await;
        let counts: Vec<u64> = answer.series.iter().map(|s| s.points[0].count).collect();
        assert_eq!(counts, [1], "{filters:?} by {group_by:?}");
    }
    let tickets = server.query(request("ticket_volume", month, Granularity::Unspecified, "", &[], "channel")).await;
    assert_eq!(tickets.series.iter().map(|s| s.points[0].value).collect::<Vec<_>>(), [Some(1.0)]);
}

#[tokio::test]
async fn small_samples_get_the_version_2_intervals() {
    let server = Cxmd::start();
    let day = |d: u32| format!("2026-04-{d:02}T12:00:00Z");
    let mut events = vec![
        // 1 April: one promoter.
        event(response("n1", SurveyKind::Nps, 10, ts(&day(1)))),
        // 2 April: one promoter and one detractor.
        event(response("n2", SurveyKind::Nps, 9, ts(&day(2)))),
        event(response("n3", SurveyKind::Nps, 2, ts(&day(2)))),
        // 3 April: CES 3 and 6 on 7 points.
        event(response("c1", SurveyKind::Ces, 3, ts(&day(3)))),
        event(response("c2", SurveyKind::Ces, 6, ts(&day(3)))),
    ];
    // 4 April: CES 2, 4, 5 on a 5-point scale (rescaled 1 + (s − 1)·6/4: 2.5, 5.5, 7).
    for (i, score) in [2, 4, 5].into_iter().enumerate() {
        let mut r = response(&format!("c5-{i}"), SurveyKind::Ces, score, ts(&day(4)));
        r.scale_max = 5;
        events.push(event(r));
    }
    assert_eq!(server.ingest(events).await.accepted, 8);
    let span = ("2026-04-01T00:00:00Z", "2026-04-05T00:00:00Z");
    let nps = server.query(request("nps", span, Granularity::Day, "UTC", &[], "")).await;
    assert_eq!(nps.definition_version, "2");
    let points = &nps.series[0].points;
    // Worked by hand: N = 1 promoter → N' = 4, p'P = 1.75/4 = 0.4375, p'D = 0.75/4 = 0.1875,
    // centre 100·0.25 = 25, half-width 196·√((0.4375 + 0.1875 − 0.0625)/4) = 196·0.375 = 73.5:
    // [−48.5, 98.5] around a value of 100 (version 1 gave the empty interval [100, 100]).
    assert_eq!(points[0].value, Some(100.0));
    assert!((points[0].ci_low.unwrap() - -48.5).abs() < 1e-9, "{:?}", points[0]);
    assert!((points[0].ci_high.unwrap() - 98.5).abs() < 1e-9, "{:?}", points[0]);
    // N = 2, one promoter and one detractor: value 0, interval symmetric around 0.
    let (low, high) = nps_adjusted_wald(1.0, 1.0, 2.0);
    assert!((low + high).abs() < 1e-9);
    assert_eq!(points[1].value, Some(0.0));
    assert!((points[1].ci_low.unwrap() - low).abs() < 1e-9 && (points[1].ci_high.unwrap() - high).abs() < 1e-9);

    let ces = server.query(request("ces", span, Granularity::Day, "UTC", &[], "")).await;
    let points = &ces.series[0].points;
    // 3 April: s' = 3 and 6, mean 4.5, sd = √4.5, t(0.975, 1) = 12.706: 4.5 ± 12.706·√4.5/√2 =
    // 4.5 ± 19.059 (by hand), where version 1 said 4.5 ± 2.94.
    let half = student_t_975(1.0) * 4.5_f64.sqrt() / 2.0_f64.sqrt();
    assert!((half - 19.059).abs() < 1e-3, "{half}");
    assert_eq!(points[2].value, Some(4.5));
    assert!((points[2].ci_low.unwrap() - (4.5 - half)).abs() < 1e-9, "{:?}", points[2]);
    assert!((points[2].ci_high.unwrap() - (4.5 + half)).abs() < 1e-9, "{:?}", points[2]);
    // 4 April: 5-point scores 2, 4, 5 → s' = 2.5, 5.5, 7; two degrees of freedom.
    let rescaled = [2.5_f64, 5.5, 7.0];
    let mean = rescaled.iter().sum::<f64>() / 3.0;
    let sd = (rescaled.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
    let half = student_t_975(2.0) * sd / 3.0_f64.sqrt();
    assert!((student_t_975(2.0) - 4.303).abs() < 1e-3);
    assert!((points[3].value.unwrap() - mean).abs() < 1e-12);
    assert!((points[3].ci_low.unwrap() - (mean - half)).abs() < 1e-9, "{:?}", points[3]);
    // The reference's t quantiles match a printed table.
    for (df, table) in [(9.0, 2.262), (29.0, 2.045)] {
        assert!((student_t_975(df) - table).abs() < 1e-3, "t(0.975, {df})");
    }
    // Every metric says version 2, in the catalog too.
    let metrics = server.metrics_client().await.list_metrics(ListMetricsRequest {}).await.unwrap().into_inner();
    assert!(metrics.metrics.iter().all(|m| m.definition_version == "2"));
    let whole = Case {
        metric: "response_count",
        from: span.0,
        to: span.1,
        granularity: Granularity::Unspecified,
        zone: "",
        filters: vec![],
        group_by: "",
    };
    assert_eq!(server.query(whole.request()).await.definition_version, "2");
}
