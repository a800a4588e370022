//! Finding a column by the name an option gives: exact, then ignoring case; `A|B` tries each in
//! order; `*` is a wildcard (`How likely*recommend*`); `{*}_NPS_GROUP` names the column whose name
//! is the `*` part of a column matching `*_NPS_GROUP` (Qualtrics writes `Q1_NPS_GROUP` next to the
//! NPS question `Q1`, whatever it is called).

/// The index of the column `spec` names in `names`, if any.
pub(crate) fn find(spec: &str, names: &[String]) -> Option<usize> {
    spec.split('|').map(str::trim).filter(|a| !a.is_empty()).find_map(|alternative| one(alternative, names))
}

fn one(spec: &str, names: &[String]) -> Option<usize> {
    if let Some((before, after)) = spec.split_once("{*}") {
        return names.iter().find_map(|name| {
            let captured = capture(name, before, after)?;
            exact(captured, names)
        });
    }
    if spec.contains('*') {
        return names.iter().position(|name| glob(&name.to_lowercase(), &spec.to_lowercase()));
    }
    exact(spec, names)
}

fn exact(name: &str, names: &[String]) -> Option<usize> {
    names.iter().position(|n| n == name).or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(name)))
}

/// The part of `name` between `before` and `after` (ignoring ASCII case), if non-empty.
fn capture<'a>(name: &'a str, before: &str, after: &str) -> Option<&'a str> {
    let n = name.len();
    if n <= before.len() + after.len()
        || !name.is_char_boundary(before.len())
        || !name.is_char_boundary(n - after.len())
        || !name[..before.len()].eq_ignore_ascii_case(before)
        || !name[n - after.len()..].eq_ignore_ascii_case(after)
    {
        return None;
    }
    Some(&name[before.len()..n - after.len()])
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
pub(crate) fn glob(text: &str, pattern: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_then_case_then_alternatives() {
        let header = names(&["Response ID", "score", "Score"]);
        assert_eq!(find("Score", &header), Some(2));
        assert_eq!(find("response id", &header), Some(0));
        assert_eq!(find("Missing|Response ID", &header), Some(0));
        assert_eq!(find("Missing", &header), None);
    }

    #[test]
    fn wildcards_and_siblings() {
        let header = names(&["StartDate", "Q7", "Q7_NPS_GROUP", "How likely are you to recommend us?"]);
        assert_eq!(find("How likely*recommend*", &header), Some(3));
        assert_eq!(find("*likely*RECOMMEND*", &header), Some(3));
        assert_eq!(find("{*}_NPS_GROUP", &header), Some(1));
        assert_eq!(find("{*}_CSAT", &header), None);
        assert!(glob("abc", "a*c") && glob("abc", "*") && !glob("abc", "a*d") && glob("aXbXc", "a*b*c"));
    }
}
