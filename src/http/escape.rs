//! HTML escaping for the pages, the dashboard and the generated disclosures: one
//! escaper, so a page and a disclosure can never disagree on what is safe.

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// [`html_escape_into`] into a new string.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    html_escape_into(s, &mut out);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_the_five_characters_and_keeps_the_rest() {
        assert_eq!(
            super::html_escape(r#"<a href="x">Tom & 'Jerry' ł</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39; ł&lt;/a&gt;"
        );
    }
}
