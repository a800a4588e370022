//! The page frame (head, navigation, main landmark), HTML escaping and the stylesheet.

use std::fmt::Write as _;

/// Escapes text for HTML content and double-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The sections of the navigation, by path.
pub(crate) const SECTIONS: [(&str, &str); 6] = [
    ("/", "Trends"),
    ("/definitions", "Definitions"),
    ("/goals", "Goals"),
    ("/drivers", "Drivers"),
    ("/records", "Records"),
    ("/alerts", "Alerts"),
];

/// A whole page: `active` is the path of its navigation section (none for sign-in pages);
/// `signed_in` adds the sign-out button (the key is kept in a cookie).
pub(crate) fn page(title: &str, active: Option<&str>, signed_in: bool, main: &str) -> String {
    let mut nav = String::new();
    if active.is_some() {
        nav.push_str(r#"<nav aria-label="Sections"><ul>"#);
        for (path, name) in SECTIONS {
            let current = if Some(path) == active { r#" aria-current="page""# } else { "" };
            let _ = write!(nav, r#"<li><a href="{path}"{current}>{name}</a></li>"#);
        }
        nav.push_str("</ul>");
        if signed_in {
            nav.push_str(r#"<form method="post" action="/logout" class="signout"><button type="submit">Sign out</button></form>"#);
        }
        nav.push_str("</nav>");
    }
    format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · cxm</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="/">cxm <span>dashboard</span></a>{nav}</header>
<main id="main">
{main}
</main>
<footer>Numbers from the <code>cx.v1</code> services (metrics, goals, insights, alerts), the same calls the gRPC API answers. Bands are 95% confidence intervals.</footer>
</body>
</html>
"##,
        title = escape(title),
    )
}

/// The stylesheet (served at `/assets/style.css`).
pub(crate) const STYLE: &str = r#"
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #f6f8fa; --accent: #0b5cad; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; border-radius: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; }
.skip:focus { left: .5rem; }
header { display: flex; align-items: center; gap: 1.5rem; padding: .6rem 1.5rem; background: #14202e; color: #fff; }
header a { color: #fff; }
.brand { font-weight: 700; font-size: 1.1rem; text-decoration: none; }
.brand span { font-weight: 400; opacity: .8; }
nav { display: flex; align-items: center; flex: 1; }
nav ul { display: flex; gap: .25rem; list-style: none; margin: 0; padding: 0; flex: 1; }
nav a { display: block; padding: .35rem .7rem; border-radius: 6px; text-decoration: none; }
nav a:hover { background: #24364b; }
nav a[aria-current="page"] { background: #2e4a69; font-weight: 600; text-decoration: underline; text-underline-offset: 4px; }
.signout button { background: transparent; color: #fff; border: 1px solid #8aa; border-radius: 6px; padding: .3rem .7rem; cursor: pointer; }
main { max-width: 1180px; margin: 0 auto; padding: 1.2rem 1.5rem 2rem; }
h1 { font-size: 1.5rem; margin: .2rem 0 .2rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .5rem; }
.lede { color: var(--muted); margin: 0 0 1rem; max-width: 70ch; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 1rem 1.2rem; margin-bottom: 1rem; }
form.controls { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem 1rem; align-items: end; }
form.controls .wide { grid-column: span 2; }
label { display: block; font-size: .8rem; font-weight: 600; color: var(--muted); margin-bottom: .2rem; }
input, select, button { font: inherit; }
input, select { width: 100%; padding: .35rem .45rem; border: 1px solid #8c959f; border-radius: 6px; background: #fff; }
button.primary { padding: .4rem 1.1rem; border: 0; border-radius: 6px; background: var(--accent); color: #fff; font-weight: 600; cursor: pointer; }
.hint { font-size: .78rem; color: var(--muted); margin: .15rem 0 0; }
.error { border-left: 5px solid #b42318; background: #fff3f2; padding: .7rem 1rem; border-radius: 6px; }
.notice { border-left: 5px solid #9a6700; background: #fff8e5; padding: .8rem 1rem; border-radius: 6px; }
.totals h2 { font-size: .95rem; margin: 0 0 .4rem; color: var(--muted); }
.totals ul { display: flex; flex-wrap: wrap; gap: .6rem; list-style: none; padding: 0; margin: 0 0 1rem; }
.totals li { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: .5rem .9rem; min-width: 150px; display: flex; flex-direction: column; }
.totals .name { font-size: .82rem; font-weight: 600; color: var(--muted); }
.totals .value { font-size: 1.45rem; font-weight: 700; font-variant-numeric: tabular-nums; }
figure { margin: 0; }
figcaption { font-weight: 600; margin-bottom: .4rem; }
svg.chart { width: 100%; height: auto; display: block; }
.legend { display: flex; flex-wrap: wrap; gap: .4rem 1.2rem; list-style: none; padding: 0; margin: .4rem 0 0; }
.legend li { display: flex; align-items: center; gap: .4rem; }
.legend svg { width: 44px; height: 16px; }
.notes { font-size: .85rem; color: var(--muted); margin: .5rem 0 0; }
details { margin-top: .8rem; }
summary { cursor: pointer; font-weight: 600; color: var(--accent); }
table { border-collapse: collapse; margin-top: .5rem; font-size: .88rem; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .7rem; text-align: right; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
thead th { background: var(--bg); }
dl.definition { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: .5rem 0 0; }
dl.definition dt { font-weight: 600; color: var(--muted); }
dl.definition dd { margin: 0; }
.metric-list { list-style: none; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 1rem; }
.metric-list .card { margin: 0; }
.card h2 { margin-top: 0; }
.card:target { outline: 3px solid var(--accent); }
input.key { max-width: 36rem; }
table.goals th[scope="row"], table.drivers th[scope="row"] { text-align: left; font-weight: 600; }
svg.spark { display: block; margin-bottom: .2rem; }
caption { text-align: left; font-size: .85rem; color: var(--muted); margin-bottom: .4rem; }
.state { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-weight: 600; white-space: nowrap; border: 1px solid; }
.state-MET, .state-ACHIEVED, .state-ON_TRACK { color: #1a7f37; background: #eefbf1; }
.state-OFF_TRACK, .state-MISSED { color: #b42318; background: #fff3f2; }
.state-NO_DATA, .state-UNSPECIFIED { color: var(--muted); background: var(--bg); }
ol.alerts { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: .6rem 1.2rem .6rem 3.2rem; }
ol.alerts li { padding: .3rem 0; border-bottom: 1px solid var(--bg); }
ol.alerts .kind { font-weight: 700; }
ol.alerts li.new { background: #fff8e5; }
ol.alerts li.new::after { content: " new"; font-size: .75rem; font-weight: 700; color: #9a6700; }
#live-status { font-size: .9rem; color: var(--muted); }
nav.pages { margin-top: .8rem; display: flex; gap: 1rem; }
svg.chart a.point:focus-visible { outline: none; }
svg.chart a.point:focus-visible > * { stroke: #f0a000; stroke-width: 4; }
footer { max-width: 1180px; margin: 0 auto; padding: 0 1.5rem 2rem; color: var(--muted); font-size: .8rem; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_the_section_marked() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let html = page("<nps>", Some("/goals"), true, "<p>hi</p>");
        assert!(html.contains("<title>&lt;nps&gt; · cxm</title>"));
        assert!(html.contains(r#"<a href="/goals" aria-current="page">Goals</a>"#));
        assert!(html.contains(r#"action="/logout""#));
        assert!(!page("Sign in", None, false, "").contains("<nav"));
    }
}
