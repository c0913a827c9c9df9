//! The one rule for text that reaches memory or storage: no control characters
//! and no invisible direction marks, and a bounded length.
//!
//! Why: a page, campaign value, event name or prop comes from the visitor's
//! browser (or from anyone with `curl`). CR/LF and NUL break CSV exports, log
//! readers and e-mail reports; bidi controls (U+202E "right-to-left override"
//! and friends) make a dashboard row read differently from what it is. Such
//! characters are removed — never escaped — before anything is kept, and every
//! string is cut to a documented number of bytes on a character boundary.

use std::borrow::Cow;

/// Whether `c` is never kept: Unicode `Cc` (C0, DEL, C1), the bidi controls
/// (U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the byte-order mark
/// U+FEFF.
#[inline]
pub fn is_removed(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` without the characters [`is_removed`] names, cut to at most `max` bytes
/// on a character boundary. Borrows when nothing is removed (the usual case:
/// no allocation on the hot path).
pub fn clean(s: &str, max: usize) -> Cow<'_, str> {
    if !s.chars().any(is_removed) {
        return Cow::Borrowed(truncate(s, max));
    }
    let kept: String = s.chars().filter(|c| !is_removed(*c)).collect();
    Cow::Owned(truncate(&kept, max).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_marks_are_removed_and_lengths_cut_on_a_boundary() {
        assert!(matches!(clean("/pricing", 64), Cow::Borrowed("/pricing")));
        assert_eq!(clean("a\r\nb\0c\u{7f}\u{85}", 64), "abc");
        for mark in [
            '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}',
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{FEFF}', '\u{1f}',
        ] {
            assert_eq!(clean(&format!("ab{mark}c"), 64), "abc", "{:?}", mark);
        }
        assert_eq!(clean("zażółć", 4), "za\u{17c}");
        assert_eq!(clean("\u{202E}héllo", 2), "h");
        assert_eq!(clean("cafè ☕", 64), "cafè ☕", "other text is kept");
        assert_eq!(truncate("héllo", 2), "h");
    }
}
