//! A tiny document model for disclosures, rendered as Markdown or HTML.
//!
//! The texts build [`Block`]s of [`Inline`]s instead of strings so escaping happens
//! in one place: every inline — our own sentences and, above all, values taken from
//! the configuration (site ids, controller names, cookie names) — is escaped for the
//! output format. Nothing in a configuration can inject markup into a privacy page.

use super::Lang;

/// A piece of running text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inline {
    /// Plain text.
    Text(String),
    /// Emphasised text.
    Strong(String),
    /// A literal (cookie name, path, key).
    Code(String),
    /// A link (target is a path on the veil server or a URL from the texts).
    Link {
        /// Link text.
        text: String,
        /// Target.
        href: String,
    },
}

/// A block of the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Block {
    /// Heading; level 2 is the document title, 3 a section.
    Heading(u8, Vec<Inline>),
    /// Paragraph.
    Para(Vec<Inline>),
    /// Bulleted list.
    List(Vec<Vec<Inline>>),
}

/// Plain text.
pub(crate) fn t(s: impl Into<String>) -> Inline {
    Inline::Text(s.into())
}

/// Emphasis.
pub(crate) fn b(s: impl Into<String>) -> Inline {
    Inline::Strong(s.into())
}

/// A literal.
pub(crate) fn code(s: impl Into<String>) -> Inline {
    Inline::Code(s.into())
}

/// A link.
pub(crate) fn link(text: impl Into<String>, href: impl Into<String>) -> Inline {
    Inline::Link {
        text: text.into(),
        href: href.into(),
    }
}

/// The text of a run of inlines without markup (page titles).
pub(crate) fn plain_text(inlines: &[Inline]) -> String {
    inlines
        .iter()
        .map(|i| match i {
            Inline::Text(s) | Inline::Strong(s) | Inline::Code(s) => s.as_str(),
            Inline::Link { text, .. } => text.as_str(),
        })
        .collect()
}

// ---- Markdown ------------------------------------------------------------------

/// Backslash-escapes the characters Markdown could read as markup. `&` and `!`
/// only where they could start an entity or an image; line starts are guarded by
/// [`md_line`].
fn md_escape(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let escape = match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' => true,
            '&' => next.is_some_and(|n| n.is_ascii_alphanumeric() || n == '#'),
            '!' => next == Some('['),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        if c == '\n' || c == '\r' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
}

/// Renders inlines as one line that cannot start a heading, list or quote.
fn md_line(inlines: &[Inline], out: &mut String) {
    let start = out.len();
    md_inlines(inlines, out);
    let line = &out[start..];
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if line.starts_with(['#', '-', '+', '=']) {
        out.insert(start, '\\');
    } else if digits > 0 && matches!(line.as_bytes().get(digits), Some(b'.' | b')')) {
        out.insert(start + digits, '\\');
    }
}

/// A code span whose fence is longer than any backtick run inside it.
fn md_code(s: &str, out: &mut String) {
    let s = s.replace(['\n', '\r'], " ");
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    out.push_str(&fence);
    out.push_str(pad);
    out.push_str(&s);
    out.push_str(pad);
    out.push_str(&fence);
}

fn md_inlines(inlines: &[Inline], out: &mut String) {
    for i in inlines {
        match i {
            Inline::Text(s) => md_escape(s, out),
            Inline::Strong(s) => {
                out.push_str("**");
                md_escape(s, out);
                out.push_str("**");
            }
            Inline::Code(s) => md_code(s, out),
            Inline::Link { text, href } => {
                out.push('[');
                md_escape(text, out);
                out.push_str("](");
                // Parentheses and spaces would end the destination early.
                for c in href.chars() {
                    match c {
                        '(' => out.push_str("%28"),
                        ')' => out.push_str("%29"),
                        ' ' => out.push_str("%20"),
                        '<' => out.push_str("%3C"),
                        '>' => out.push_str("%3E"),
                        c => out.push(c),
                    }
                }
                out.push(')');
            }
        }
    }
}

/// Markdown: `##` title, `###` sections, `-` lists; ends with one newline.
pub(crate) fn to_markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        match block {
            Block::Heading(level, inlines) => {
                out.push_str(&"#".repeat(usize::from(*level)));
                out.push(' ');
                md_inlines(inlines, &mut out);
                out.push_str("\n\n");
            }
            Block::Para(inlines) => {
                md_line(inlines, &mut out);
                out.push_str("\n\n");
            }
            Block::List(items) => {
                for item in items {
                    out.push_str("- ");
                    md_line(item, &mut out);
                    out.push('\n');
                }
                out.push('\n');
            }
        }
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

// ---- HTML ------------------------------------------------------------------------

pub(crate) use crate::http::escape::html_escape_into as html_escape;

fn html_inlines(inlines: &[Inline], out: &mut String) {
    for i in inlines {
        match i {
            Inline::Text(s) => html_escape(s, out),
            Inline::Strong(s) => {
                out.push_str("<strong>");
                html_escape(s, out);
                out.push_str("</strong>");
            }
            Inline::Code(s) => {
                out.push_str("<code>");
                html_escape(s, out);
                out.push_str("</code>");
            }
            Inline::Link { text, href } => {
                // Only relative paths and http(s) URLs become links.
                let safe = href.starts_with('/') && !href.starts_with("//")
                    || href.starts_with("https://")
                    || href.starts_with("http://");
                if safe {
                    out.push_str("<a href=\"");
                    html_escape(href, out);
                    out.push_str("\">");
                    html_escape(text, out);
                    out.push_str("</a>");
                } else {
                    html_escape(text, out);
                }
            }
        }
    }
}

/// The blocks as HTML elements, without a wrapper.
pub(crate) fn html_blocks(blocks: &[Block], out: &mut String) {
    for block in blocks {
        match block {
            Block::Heading(level, inlines) => {
                let level = (*level).clamp(1, 6);
                out.push_str(&format!("<h{level}>"));
                html_inlines(inlines, out);
                out.push_str(&format!("</h{level}>\n"));
            }
            Block::Para(inlines) => {
                out.push_str("<p>");
                html_inlines(inlines, out);
                out.push_str("</p>\n");
            }
            Block::List(items) => {
                out.push_str("<ul>\n");
                for item in items {
                    out.push_str("<li>");
                    html_inlines(item, out);
                    out.push_str("</li>\n");
                }
                out.push_str("</ul>\n");
            }
        }
    }
}

/// An HTML fragment: one `<section>` in the given language.
pub(crate) fn to_html(blocks: &[Block], lang: Lang) -> String {
    let mut out = format!(
        "<section class=\"veil-disclosure\" lang=\"{}\">\n",
        lang.as_str()
    );
    html_blocks(blocks, &mut out);
    out.push_str("</section>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escapes_markup_and_fences_code() {
        let doc = vec![
            Block::Heading(2, vec![t("a *b* [c](d)")]),
            Block::Para(vec![t("x_y"), code("a`b"), code("plain")]),
            Block::List(vec![vec![link("go", "/optout?site=a (b)")]]),
            Block::Para(vec![t("# not a heading, Smith & Co! &amp; ![x]")]),
            Block::List(vec![vec![t("- not nested")], vec![t("2024. not numbered")]]),
        ];
        let md = to_markdown(&doc);
        assert_eq!(
            md,
            "## a \\*b\\* \\[c\\](d)\n\nx\\_y``a`b```plain`\n\n- [go](/optout?site=a%20%28b%29)\n\n\\# not a heading, Smith & Co! \\&amp; \\!\\[x\\]\n\n- \\- not nested\n- 2024\\. not numbered\n"
        );
    }

    #[test]
    fn html_escapes_everything_and_refuses_odd_links() {
        let doc = vec![Block::Para(vec![
            t("<script>alert('x')</script>"),
            b("\"&\""),
            link("js", "javascript:alert(1)"),
            link("ok", "/privacy?site=a&lang=pl"),
        ])];
        let html = to_html(&doc, Lang::Pl);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("<strong>&quot;&amp;&quot;</strong>"));
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("<a href=\"/privacy?site=a&amp;lang=pl\">ok</a>"));
        assert!(html.starts_with("<section class=\"veil-disclosure\" lang=\"pl\">"));
    }
}
