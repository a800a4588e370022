//! Bounded echoes of client input in messages: an error never repeats more than a few hundred
//! bytes of what a client sent, and never lists more than [`MAX_NAMES`] names.

/// Most characters of client input quoted in a message.
pub const MAX_QUOTED_CHARS: usize = 64;

/// Most names one message lists.
pub const MAX_NAMES: usize = 20;

/// `text` quoted as Rust debug text (`"..."`), cut to its first [`MAX_QUOTED_CHARS`]
/// characters with the full length in bytes when longer: `"aaaa…" (1048576 bytes)`. Escapes
/// can at most multiply the quoted part by ten, so the result stays under 700 bytes.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => format!("{text:?}"),
        Some((cut, _)) => {
            let quoted = format!("{:?}", &text[..cut]);
            format!("{}…\" ({} bytes)", &quoted[..quoted.len() - 1], text.len())
        }
    }
}

/// At most [`MAX_NAMES`] of `names`, comma-separated, each cut like [`quote`] (but unquoted
/// when short and plain), then how many more there are: `a, b, c, … and 980 more`.
pub fn names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let mut shown = Vec::new();
    let mut more = 0_usize;
    for name in names {
        if shown.len() == MAX_NAMES {
            more += 1;
            continue;
        }
        let name = name.as_ref();
        let plain = name.len() <= MAX_QUOTED_CHARS
            && !name.is_empty()
            && name.chars().all(|c| c.is_alphanumeric() || "_-./:".contains(c));
        shown.push(if plain { name.to_owned() } else { quote(name) });
    }
    let mut out = shown.join(", ");
    if more > 0 {
        out.push_str(&format!(", … and {more} more"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_input_is_cut_with_its_length() {
        assert_eq!(quote("Europe/Paris"), "\"Europe/Paris\"");
        let long = "é".repeat(500_000);
        let quoted = quote(&long);
        assert!(quoted.len() < 200, "{quoted}");
        assert!(quoted.ends_with("…\" (1000000 bytes)"), "{quoted}");
        let control = "\u{1}".repeat(10_000);
        assert!(quote(&control).len() < 700);
    }

    #[test]
    fn lists_stop_at_twenty_names() {
        let many: Vec<String> = (0..1_000).map(|i| format!("k{i}")).collect();
        let listed = names(&many);
        assert!(listed.starts_with("k0, k1, "), "{listed}");
        assert!(listed.contains("k19, … and 980 more") && !listed.contains("k20"), "{listed}");
        assert_eq!(names(["a b", "c"]), "\"a b\", c");
    }
}
