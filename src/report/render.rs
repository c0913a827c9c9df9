//! A report's message: subject, plain text and HTML, in English or Polish.
//!
//! Both bodies are written from one list of blocks (headings, paragraphs,
//! tables), so they always say the same thing; every value in the HTML goes
//! through the one escaper ([`html_escape`]). Tables put the numbers first and
//! the value (a page path, which can be long) last, and no sentence depends on
//! a number's grammatical form (Polish has three plural forms).

use crate::clock::civil_from_days;
use crate::config::Every;
use crate::http::escape::html_escape;
use crate::stats::params::DateRange;
use crate::stats::query::Metrics;

use super::content::{Content, GoalLine, Line};

/// The language of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Polish.
    Pl,
}

impl Lang {
    /// `en` or `pl` (anything else is English).
    pub fn of(code: &str) -> Lang {
        if code == "pl" {
            Lang::Pl
        } else {
            Lang::En
        }
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pl => "pl",
        }
    }

    fn pick(self, en: &'static str, pl: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Pl => pl,
        }
    }
}

/// A rendered report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The text/plain body.
    pub text: String,
    /// The text/html body.
    pub html: String,
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// Polish month names: nominative ("listopad 2026").
const MONTHS_PL: [&str; 12] = [
    "styczeń",
    "luty",
    "marzec",
    "kwiecień",
    "maj",
    "czerwiec",
    "lipiec",
    "sierpień",
    "wrzesień",
    "październik",
    "listopad",
    "grudzień",
];
/// Genitive, after a day ("16 listopada 2026").
const MONTHS_PL_GEN: [&str; 12] = [
    "stycznia",
    "lutego",
    "marca",
    "kwietnia",
    "maja",
    "czerwca",
    "lipca",
    "sierpnia",
    "września",
    "października",
    "listopada",
    "grudnia",
];
/// Instrumental, after "w porównaniu z" ("z październikiem 2026").
const MONTHS_PL_INS: [&str; 12] = [
    "styczniem",
    "lutym",
    "marcem",
    "kwietniem",
    "majem",
    "czerwcem",
    "lipcem",
    "sierpniem",
    "wrześniem",
    "październikiem",
    "listopadem",
    "grudniem",
];

fn ymd(day: u32) -> (i64, usize, u32) {
    let (y, m, d) = civil_from_days(i64::from(day));
    (y, m as usize - 1, d)
}

/// `16–22 November 2026`, `30 November – 6 December 2026`,
/// `29 December 2025 – 4 January 2026` (Polish months in the genitive).
pub fn days(r: DateRange, lang: Lang) -> String {
    let months = match lang {
        Lang::En => &MONTHS_EN,
        Lang::Pl => &MONTHS_PL_GEN,
    };
    let (y1, m1, d1) = ymd(r.from);
    let (y2, m2, d2) = ymd(r.to);
    if y1 != y2 {
        format!("{d1} {} {y1} – {d2} {} {y2}", months[m1], months[m2])
    } else if m1 != m2 {
        format!("{d1} {} – {d2} {} {y2}", months[m1], months[m2])
    } else {
        format!("{d1}–{d2} {} {y2}", months[m2])
    }
}

/// `November 2026` / `listopad 2026`.
fn month(r: DateRange, lang: Lang) -> String {
    let (y, m, _) = ymd(r.from);
    match lang {
        Lang::En => format!("{} {y}", MONTHS_EN[m]),
        Lang::Pl => format!("{} {y}", MONTHS_PL[m]),
    }
}

/// A count: `1,234` in English; in Polish digits are grouped by a no-break
/// space from five digits on (`1234`, `12 345`).
pub fn int(n: u64, lang: Lang) -> String {
    let digits = n.to_string();
    let (sep, from) = match lang {
        Lang::En => (",", 1_000),
        Lang::Pl => ("\u{a0}", 10_000),
    };
    if n < from {
        return digits;
    }
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push_str(sep);
        }
        out.push(c);
    }
    out
}

/// One decimal, with the language's decimal mark.
fn decimal(x: f64, lang: Lang) -> String {
    let s = format!("{x:.1}");
    match lang {
        Lang::En => s,
        Lang::Pl => s.replace('.', ","),
    }
}

/// A signed number with a real minus sign; `0.0` when it rounds to zero.
fn signed(x: f64, lang: Lang) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r > 0.0 {
        format!("+{}", decimal(r, lang))
    } else if r < 0.0 {
        format!("\u{2212}{}", decimal(-r, lang))
    } else {
        decimal(0.0, lang)
    }
}

fn na(lang: Lang) -> String {
    lang.pick("n/a", "b.d.").to_string()
}

/// A share as a percentage: `42.9%` / `42,9%`.
pub fn percent(ratio: Option<f64>, lang: Lang) -> String {
    match ratio {
        Some(r) => format!("{}%", decimal(r * 100.0, lang)),
        None => na(lang),
    }
}

/// Relative change: `+12.5%`, `−3.1%`; `n/a` when there is nothing before.
pub fn change(now: u64, before: u64, lang: Lang) -> String {
    if before == 0 {
        return na(lang);
    }
    let pct = (now as f64 - before as f64) / before as f64 * 100.0;
    format!("{}%", signed(pct, lang))
}

/// Change of a rate in percentage points: `−3.1 pp` / `−3,1 p.p.`.
fn points(now: Option<f64>, before: Option<f64>, lang: Lang) -> String {
    match (now, before) {
        (Some(a), Some(b)) => format!(
            "{} {}",
            signed((a - b) * 100.0, lang),
            lang.pick("pp", "p.p.")
        ),
        _ => na(lang),
    }
}

fn rate(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// A table: header, rows, and which columns are numbers (right-aligned).
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    numeric: Vec<bool>,
}

enum Block {
    Heading(String),
    Para(String),
    Table(Table),
    /// Small print.
    Note(String),
}

struct Doc {
    title: String,
    blocks: Vec<Block>,
}

/// One "top" list of a report: heading, lines, column heads, and the two counts
/// shown before the value.
type TopList<'a> = (&'a str, &'a [Line], [&'a str; 3], Count, Count);

/// A count of a report line.
type Count = fn(&Line) -> u64;

fn lines_table(
    lines: &[Line],
    head: [&str; 3],
    first: impl Fn(&Line) -> u64,
    second: impl Fn(&Line) -> u64,
    lang: Lang,
) -> Table {
    Table {
        head: head.iter().map(|h| h.to_string()).collect(),
        rows: lines
            .iter()
            .map(|l| vec![int(first(l), lang), int(second(l), lang), l.value.clone()])
            .collect(),
        numeric: vec![true, true, false],
    }
}

fn goals_table(goals: &[GoalLine], k: u32, lang: Lang) -> Table {
    let hidden = match lang {
        Lang::En => format!("fewer than {k} visitors: not shown"),
        Lang::Pl => format!("mniej niż {k} odwiedzających — nie pokazano"),
    };
    let rows = goals
        .iter()
        .map(|g| match g.now {
            Some(n) => {
                let ch = match g.before {
                    Some(b) => change(n.completions, b.completions, lang),
                    None => na(lang),
                };
                vec![
                    int(n.completions, lang),
                    percent(n.rate, lang),
                    ch,
                    g.name.clone(),
                ]
            }
            None => vec![
                "–".into(),
                "–".into(),
                "–".into(),
                format!("{} ({hidden})", g.name),
            ],
        })
        .collect();
    Table {
        head: [
            lang.pick("Completions", "Realizacje"),
            lang.pick("Conversion rate", "Współczynnik konwersji"),
            lang.pick("Change", "Zmiana"),
            lang.pick("Goal", "Cel"),
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows,
        numeric: vec![true, true, true, false],
    }
}

fn totals_table(now: &Metrics, before: &Metrics, lang: Lang) -> Table {
    let bounce_now = rate(now.bounces, now.visits);
    let bounce_before = rate(before.bounces, before.visits);
    let row = |name: &str, a: u64, b: u64| {
        vec![
            name.to_string(),
            int(a, lang),
            int(b, lang),
            change(a, b, lang),
        ]
    };
    Table {
        head: vec![
            String::new(),
            lang.pick("Period", "Okres").into(),
            lang.pick("Previous", "Poprzedni").into(),
            lang.pick("Change", "Zmiana").into(),
        ],
        rows: vec![
            row(
                lang.pick("Visitors", "Odwiedzający"),
                now.visitors,
                before.visitors,
            ),
            row(
                lang.pick("Pageviews", "Odsłony"),
                now.pageviews,
                before.pageviews,
            ),
            row(lang.pick("Visits", "Wizyty"), now.visits, before.visits),
            vec![
                lang.pick("Bounce rate", "Współczynnik odrzuceń").into(),
                percent(bounce_now, lang),
                percent(bounce_before, lang),
                points(bounce_now, bounce_before, lang),
            ],
        ],
        numeric: vec![false, true, true, true],
    }
}

fn subject_and_intro(c: &Content, lang: Lang) -> (String, String, String) {
    let p = c.period;
    let tz = &c.timezone;
    match (p.every, lang) {
        (Every::Week, Lang::En) => {
            let when = days(p.range, lang);
            (
                format!("Weekly report for {}: {when}", c.site),
                format!("Weekly report for {}", c.site),
                format!(
                    "Monday to Sunday, {when} (time zone {tz}), compared with the week before, {}.",
                    days(p.previous, lang)
                ),
            )
        }
        (Every::Week, Lang::Pl) => {
            let when = days(p.range, lang);
            (
                format!("Raport tygodniowy dla {}: {when}", c.site),
                format!("Raport tygodniowy dla {}", c.site),
                format!(
                    "Od poniedziałku do niedzieli, {when} (strefa czasowa {tz}), w porównaniu z poprzednim tygodniem, {}.",
                    days(p.previous, lang)
                ),
            )
        }
        (Every::Month, Lang::En) => {
            let when = month(p.range, lang);
            (
                format!("Monthly report for {}: {when}", c.site),
                format!("Monthly report for {}", c.site),
                format!(
                    "{when} (time zone {tz}), compared with {}.",
                    month(p.previous, lang)
                ),
            )
        }
        (Every::Month, Lang::Pl) => {
            let when = month(p.range, lang);
            let (y, m, _) = ymd(p.previous.from);
            let mut capital = when.clone();
            if let Some(first) = when.chars().next() {
                capital = first.to_uppercase().collect::<String>() + &when[first.len_utf8()..];
            }
            (
                format!("Raport miesięczny dla {}: {when}", c.site),
                format!("Raport miesięczny dla {}", c.site),
                format!(
                    "{capital} (strefa czasowa {tz}), w porównaniu z {} {y}.",
                    MONTHS_PL_INS[m]
                ),
            )
        }
    }
}

fn document(c: &Content, lang: Lang) -> (String, Doc) {
    let (subject, title, intro) = subject_and_intro(c, lang);
    let k = c.k;
    let empty = || {
        Block::Para(if k > 0 {
            match lang {
                Lang::En => format!("None with at least {k} visitors in this period."),
                Lang::Pl => {
                    format!("Brak wartości z co najmniej {k} odwiedzającymi w tym okresie.")
                }
            }
        } else {
            lang.pick("No data in this period.", "Brak danych w tym okresie.")
                .into()
        })
    };
    let mut blocks = vec![
        Block::Para(intro),
        Block::Table(totals_table(&c.now, &c.before, lang)),
    ];
    let visitors = lang.pick("Visitors", "Odwiedzający");
    let visits = lang.pick("Visits", "Wizyty");
    let lists: [TopList<'_>; 3] = [
        (
            lang.pick("Top pages", "Najpopularniejsze strony"),
            &c.pages,
            [
                lang.pick("Pageviews", "Odsłony"),
                visitors,
                lang.pick("Page", "Strona"),
            ],
            |l| l.pageviews,
            |l| l.visitors,
        ),
        (
            lang.pick("Top channels", "Najważniejsze kanały"),
            &c.channels,
            [visitors, visits, lang.pick("Channel", "Kanał")],
            |l| l.visitors,
            |l| l.visits,
        ),
        (
            lang.pick("Top referrers", "Najważniejsze strony odsyłające"),
            &c.referrers,
            [visitors, visits, lang.pick("Referrer", "Strona odsyłająca")],
            |l| l.visitors,
            |l| l.visits,
        ),
    ];
    for (heading, lines, head, first, second) in lists {
        blocks.push(Block::Heading(heading.into()));
        blocks.push(if lines.is_empty() {
            empty()
        } else {
            Block::Table(lines_table(lines, head, first, second, lang))
        });
    }
    if !c.goals.is_empty() {
        blocks.push(Block::Heading(lang.pick("Goals", "Cele").into()));
        blocks.push(Block::Table(goals_table(&c.goals, k, lang)));
    }
    let mut note = String::new();
    if k > 0 {
        note.push_str(&match lang {
            Lang::En => format!(
                "Pages, channels, referrers and goals with fewer than {k} visitors in the period are not named, so that nobody can be singled out. "
            ),
            Lang::Pl => format!(
                "Strony, kanały, strony odsyłające i cele, które w tym okresie miały mniej niż {k} odwiedzających, nie są wymieniane, aby nikogo nie dało się wyróżnić. "
            ),
        });
    }
    note.push_str(lang.pick(
        "Visitors are counted per day: one person on two days counts as two visitors. Bounce rate: visits with one pageview and no engagement.",
        "Odwiedzający są liczeni osobno każdego dnia: ta sama osoba w dwa dni to dwóch odwiedzających. Współczynnik odrzuceń: wizyty z jedną odsłoną i bez zaangażowania.",
    ));
    blocks.push(Block::Note(note));
    blocks.push(Block::Note(match (c.period.every, lang) {
        (Every::Week, Lang::En) => {
            "Sent by veil to the recipients of this site’s weekly report.".into()
        }
        (Every::Month, Lang::En) => {
            "Sent by veil to the recipients of this site’s monthly report.".into()
        }
        (Every::Week, Lang::Pl) => {
            "Wysłane przez veil do odbiorców tygodniowego raportu tej witryny.".into()
        }
        (Every::Month, Lang::Pl) => {
            "Wysłane przez veil do odbiorców miesięcznego raportu tej witryny.".into()
        }
    }));
    (subject, Doc { title, blocks })
}

/// Wraps a paragraph at `width` characters (words longer than that stay whole).
fn wrap(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        let n = word.chars().count();
        if len > 0 && len + 1 + n > width {
            out.push('\n');
            len = 0;
        } else if len > 0 {
            out.push(' ');
            len += 1;
        }
        out.push_str(word);
        len += n;
    }
    out
}

fn text_table(t: &Table) -> String {
    let cols = t.head.len();
    let mut widths = vec![0; cols];
    for row in std::iter::once(&t.head).chain(&t.rows) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |row: &Vec<String>| {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = widths[i] - cell.chars().count();
                if t.numeric[i] {
                    format!("{}{cell}", " ".repeat(pad))
                } else if i + 1 == cols {
                    cell.clone()
                } else {
                    format!("{cell}{}", " ".repeat(pad))
                }
            })
            .collect();
        format!("  {}", cells.join("  ")).trim_end().to_string()
    };
    let mut out = line(&t.head);
    for row in &t.rows {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}

fn text(doc: &Doc) -> String {
    let mut out = format!("{}\n{}\n", doc.title, "=".repeat(doc.title.chars().count()));
    let mut after_heading = false;
    for b in &doc.blocks {
        if !after_heading {
            out.push('\n');
        }
        after_heading = matches!(b, Block::Heading(_));
        match b {
            Block::Heading(h) => {
                out.push_str(h);
                out.push('\n');
                out.push_str(&"-".repeat(h.chars().count()));
            }
            Block::Para(p) | Block::Note(p) => out.push_str(&wrap(p, 72)),
            Block::Table(t) => out.push_str(&text_table(t)),
        }
        out.push('\n');
    }
    out
}

const CELL: &str = "padding:2px 12px 2px 0;text-align:left";
const NUM: &str = "padding:2px 12px 2px 0;text-align:right;font-variant-numeric:tabular-nums";

fn html(doc: &Doc, subject: &str, lang: Lang) -> String {
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title></head>\n\
         <body style=\"font-family:-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#1f2328;max-width:640px;margin:0 auto;padding:16px\">\n\
         <h1 style=\"font-size:20px\">{}</h1>\n",
        lang.code(),
        html_escape(subject),
        html_escape(&doc.title)
    );
    for b in &doc.blocks {
        match b {
            Block::Heading(h) => {
                out.push_str(&format!(
                    "<h2 style=\"font-size:16px;margin-top:24px\">{}</h2>\n",
                    html_escape(h)
                ));
            }
            Block::Para(p) => out.push_str(&format!("<p>{}</p>\n", html_escape(p))),
            Block::Note(p) => out.push_str(&format!(
                "<p style=\"color:#59636e;font-size:12px\">{}</p>\n",
                html_escape(p)
            )),
            Block::Table(t) => {
                out.push_str("<table style=\"border-collapse:collapse\">\n<tr>");
                for (i, h) in t.head.iter().enumerate() {
                    let style = if t.numeric[i] { NUM } else { CELL };
                    out.push_str(&format!(
                        "<th style=\"{style};border-bottom:1px solid #d1d9e0\">{}</th>",
                        html_escape(h)
                    ));
                }
                out.push_str("</tr>\n");
                for row in &t.rows {
                    out.push_str("<tr>");
                    for (i, cell) in row.iter().enumerate() {
                        let style = if t.numeric[i] { NUM } else { CELL };
                        out.push_str(&format!("<td style=\"{style}\">{}</td>", html_escape(cell)));
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</table>\n");
            }
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// The message of a report in `lang`.
pub fn render(c: &Content, lang: Lang) -> Rendered {
    let (subject, doc) = document(c, lang);
    Rendered {
        text: text(&doc),
        html: html(&doc, &subject, lang),
        subject,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::content::GoalNumbers;
    use crate::report::period::Period;
    use crate::stats::params::days_from_civil;

    fn d(y: i64, m: u32, day: u32) -> u32 {
        days_from_civil(y, m, day) as u32
    }

    fn content(every: Every) -> Content {
        let today = d(2026, 12, 2);
        Content {
            site: "ex<am>ple.com".into(),
            timezone: "Europe/Warsaw".into(),
            k: 5,
            period: Period::last_complete(every, today),
            now: Metrics {
                visitors: 12_345,
                pageviews: 2_000,
                visits: 100,
                bounces: 40,
                ..Metrics::default()
            },
            before: Metrics {
                visitors: 10_000,
                pageviews: 2_500,
                visits: 80,
                bounces: 40,
                ..Metrics::default()
            },
            pages: vec![Line {
                value: "/a&b<script>".into(),
                visitors: 30,
                pageviews: 1_500,
                visits: 0,
            }],
            channels: vec![],
            referrers: vec![],
            goals: vec![
                GoalLine {
                    name: "Signup".into(),
                    now: Some(GoalNumbers {
                        completions: 12,
                        visitors: 10,
                        rate: Some(10.0 / 12_345.0),
                    }),
                    before: Some(GoalNumbers {
                        completions: 8,
                        visitors: 8,
                        rate: None,
                    }),
                },
                GoalLine {
                    name: "Rare".into(),
                    now: None,
                    before: None,
                },
            ],
        }
    }

    #[test]
    fn numbers_follow_the_language() {
        assert_eq!(int(999, Lang::En), "999");
        assert_eq!(int(1_234, Lang::En), "1,234");
        assert_eq!(int(1_234_567, Lang::En), "1,234,567");
        assert_eq!(int(1_234, Lang::Pl), "1234");
        assert_eq!(int(12_345, Lang::Pl), "12\u{a0}345");
        assert_eq!(percent(Some(0.4286), Lang::En), "42.9%");
        assert_eq!(percent(Some(0.4286), Lang::Pl), "42,9%");
        assert_eq!(percent(None, Lang::Pl), "b.d.");
        assert_eq!(change(150, 100, Lang::En), "+50.0%");
        assert_eq!(change(80, 100, Lang::Pl), "\u{2212}20,0%");
        assert_eq!(change(100, 100, Lang::En), "0.0%");
        assert_eq!(change(5, 0, Lang::En), "n/a");
        assert_eq!(points(Some(0.4), Some(0.5), Lang::En), "\u{2212}10.0 pp");
        assert_eq!(points(Some(0.5), Some(0.4), Lang::Pl), "+10,0 p.p.");
    }

    #[test]
    fn date_ranges_read_naturally() {
        let r = |a, b| DateRange { from: a, to: b };
        assert_eq!(
            days(r(d(2026, 11, 16), d(2026, 11, 22)), Lang::En),
            "16–22 November 2026"
        );
        assert_eq!(
            days(r(d(2026, 11, 30), d(2026, 12, 6)), Lang::Pl),
            "30 listopada – 6 grudnia 2026"
        );
        assert_eq!(
            days(r(d(2025, 12, 29), d(2026, 1, 4)), Lang::En),
            "29 December 2025 – 4 January 2026"
        );
    }

    #[test]
    fn subjects_and_bodies_in_both_languages() {
        let en = render(&content(Every::Week), Lang::En);
        assert_eq!(
            en.subject,
            "Weekly report for ex<am>ple.com: 23–29 November 2026"
        );
        assert!(
            en.text.contains(
                "(time zone Europe/Warsaw),\ncompared with the week before, 16–22 November 2026.\n"
            ),
            "{}",
            en.text
        );
        assert!(
            en.text
                .contains("\n  Visitors     12,345    10,000    +23.5%\n"),
            "{}",
            en.text
        );
        assert!(
            en.text
                .contains("\n  Bounce rate   40.0%     50.0%  \u{2212}10.0 pp\n"),
            "{}",
            en.text
        );
        assert!(
            en.text
                .contains("Top pages\n---------\n  Pageviews  Visitors  Page\n"),
            "{}",
            en.text
        );
        assert!(
            en.text.contains("      1,500        30  /a&b<script>"),
            "{}",
            en.text
        );
        assert!(en
            .text
            .contains("None with at least 5 visitors in this period."));
        assert!(
            en.text
                .contains("           12             0.1%  +50.0%  Signup"),
            "{}",
            en.text
        );
        assert!(en.text.contains("Rare (fewer than 5 visitors: not shown)"));
        assert!(en.html.contains(
            "<td style=\"padding:2px 12px 2px 0;text-align:left\">/a&amp;b&lt;script&gt;</td>"
        ));
        assert!(en
            .html
            .contains("<title>Weekly report for ex&lt;am&gt;ple.com: 23–29 November 2026</title>"));
        assert!(!en.html.contains("<script>") && !en.html.contains("ex<am>"));

        let pl = render(&content(Every::Month), Lang::Pl);
        assert_eq!(
            pl.subject,
            "Raport miesięczny dla ex<am>ple.com: listopad 2026"
        );
        assert!(pl.text.starts_with("Raport miesięczny dla ex<am>ple.com\n"));
        assert!(pl.text.contains("Listopad 2026 (strefa czasowa Europe/Warsaw), w porównaniu z\npaździernikiem 2026."), "{}", pl.text);
        assert!(
            pl.text
                .contains("\n  Odwiedzający           12\u{a0}345     10\u{a0}000      +23,5%\n"),
            "{}",
            pl.text
        );
        assert!(pl
            .text
            .contains("\n  Współczynnik odrzuceń   40,0%      50,0%  \u{2212}10,0 p.p.\n"));
        assert!(pl
            .text
            .contains("Rare (mniej niż 5 odwiedzających — nie pokazano)"));
        assert!(pl.html.starts_with("<!DOCTYPE html>\n<html lang=\"pl\">"));
        let week = render(&content(Every::Week), Lang::Pl);
        assert_eq!(
            week.subject,
            "Raport tygodniowy dla ex<am>ple.com: 23–29 listopada 2026"
        );
    }
}
