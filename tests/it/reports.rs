//! Scheduled e-mail reports against a real SMTP server and a real ClickHouse.
//!
//! The server is `scripts/smtp-sink.py` (the PyPI package aiosmtpd), started per
//! test on a free loopback port; it writes every message it accepts to a
//! directory, with its headers and text/HTML parts decoded. The python is
//! `$VEIL_PYTHON` (what `scripts/test.sh` installs aiosmtpd into) or `python3`;
//! when neither has aiosmtpd the tests say so and skip — except under `CI=true`,
//! where they fail. The report job runs with a manual clock, so the tests choose
//! the week, jump weeks ahead, restart the job and run two at once.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use veil::clock::zone::Zone;
use veil::clock::ManualClock;
use veil::config::{Config, Every, GoalConfig, ReportConfig, SmtpTls};
use veil::model::{Counters, Dim};
use veil::report::{ledger, Outcome, Reports};
use veil::sink::row::AggRow;
use veil::stats::params::days_from_civil;

use crate::harness::*;

// ---- the SMTP server -------------------------------------------------------

/// A python that can import aiosmtpd: `$VEIL_PYTHON`, else `python3`.
fn python() -> Option<String> {
    let mut candidates: Vec<String> = std::env::var("VEIL_PYTHON").into_iter().collect();
    candidates.push("python3".into());
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn missing(what: &str) {
    missing_tool(what, "e-mail report", "ensure_aiosmtpd");
}

/// `scripts/smtp-sink.py` running on a port of its own.
struct Sink {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Sink {
    fn start(tag: &str, extra: &[&str]) -> Option<Sink> {
        let Some(py) = python() else {
            missing("neither $VEIL_PYTHON nor python3 can import aiosmtpd");
            return None;
        };
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("veil-smtp-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // The server's own log (TLS handshakes the tests make fail on purpose).
        let log = dir.with_extension("log");
        let stderr = std::fs::File::create(&log).expect("smtp-sink log");
        let mut child = Command::new(py)
            .arg(repo().join("scripts/smtp-sink.py"))
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start scripts/smtp-sink.py");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let ready = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        assert_eq!(
            ready.trim(),
            "ready",
            "smtp-sink.py did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Some(Sink { child, dir, port })
    }

    /// Every message received so far, in order.
    fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        files
            .iter()
            .map(|p| {
                serde_json::from_slice(&std::fs::read(p).expect("read message"))
                    .expect("message json")
            })
            .collect()
    }

    fn subjects(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn with_subject(&self, subject: &str) -> Value {
        self.messages()
            .into_iter()
            .find(|m| m["subject"] == subject)
            .unwrap_or_else(|| panic!("no message `{subject}`; got {:?}", self.subjects()))
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_file(self.dir.with_extension("log"));
    }
}

// ---- data ----------------------------------------------------------------------

const SITE: &str = "example.com";
const TZ: &str = "Europe/Warsaw";

/// Unix seconds of a UTC date and hour.
fn at(y: i64, m: u32, d: u32, hour: u64) -> u64 {
    days_from_civil(y, m, d) as u64 * 86_400 + hour * 3_600
}

struct Cell {
    date: (i64, u32, u32),
    dim: Dim,
    value: &'static str,
    c: Counters,
    visitors: Vec<u64>,
}

fn cell(
    date: (i64, u32, u32),
    dim: Dim,
    value: &'static str,
    [pageviews, visits, bounces, hits]: [u64; 4],
    visitors: impl IntoIterator<Item = u64>,
) -> Cell {
    Cell {
        date,
        dim,
        value,
        c: Counters {
            pageviews,
            visits,
            bounces,
            hits,
            ..Counters::default()
        },
        visitors: visitors.into_iter().collect(),
    }
}

/// Writes the cells as veil's window would (noon UTC: the same local date in
/// Warsaw).
async fn seed(db: &TestDb, cells: &[Cell]) {
    let zone = Zone::new(TZ).expect("zone");
    let mut ins = db
        .client
        .insert::<AggRow>("aggregates_in")
        .await
        .expect("insert");
    for c in cells {
        let (y, m, d) = c.date;
        let mut row = AggRow::new(
            &zone,
            at(y, m, d, 12) as u32,
            SITE.into(),
            c.dim,
            c.value.into(),
            &c.c,
            c.visitors.clone(),
        );
        row.batch = 1;
        ins.write(&row).await.expect("write row");
    }
    ins.end().await.expect("insert rows");
}

/// The week of 2026-11-16..22 and the one before, October and September:
/// numbers chosen so every line of the reports is known (k = 3).
fn known_cells() -> Vec<Cell> {
    let (mon, wed, prev, oct, sep) = (
        (2026, 11, 16),
        (2026, 11, 18),
        (2026, 11, 10),
        (2026, 10, 14),
        (2026, 9, 16),
    );
    vec![
        // This week: 6 + 4 visitors, 25 pageviews, 10 visits, 4 bounces.
        cell(mon, Dim::Total, "", [10, 6, 3, 0], 1..=6),
        cell(wed, Dim::Total, "", [15, 4, 1, 0], 11..=14),
        cell(mon, Dim::Page, "/", [6, 0, 0, 0], 1..=5),
        cell(wed, Dim::Page, "/", [4, 0, 0, 0], [11, 12]),
        cell(mon, Dim::Page, "/pricing", [3, 0, 0, 0], 1..=3),
        cell(wed, Dim::Page, "/pricing", [8, 0, 0, 0], 11..=14),
        cell(mon, Dim::Page, "/secret-small", [1, 0, 0, 0], [6]),
        cell(wed, Dim::Page, "/blog/<b>&", [3, 0, 0, 0], [11, 12, 13]),
        cell(mon, Dim::Source, "search", [4, 4, 1, 0], 1..=4),
        cell(mon, Dim::Source, "direct", [2, 2, 2, 0], [5, 6]),
        cell(wed, Dim::Source, "social", [4, 4, 1, 0], 11..=14),
        cell(mon, Dim::Referrer, "www.google.com", [4, 4, 1, 0], 1..=4),
        cell(mon, Dim::Referrer, "(direct)", [2, 2, 2, 0], [5, 6]),
        cell(wed, Dim::Referrer, "t.co", [4, 4, 1, 0], 11..=14),
        cell(mon, Dim::Goal, "Signup", [0, 0, 0, 3], 1..=3),
        cell(wed, Dim::Goal, "Signup", [0, 0, 0, 2], [11, 12]),
        cell(wed, Dim::Goal, "Rare", [0, 0, 0, 1], [13]),
        // The week before: 8 visitors, 20 pageviews, 9 visits, 4 bounces.
        cell(prev, Dim::Total, "", [20, 9, 4, 0], 21..=28),
        cell(prev, Dim::Goal, "Signup", [0, 0, 0, 4], 21..=24),
        // October (and September to compare with).
        cell(oct, Dim::Total, "", [12_345, 30, 12, 0], 31..=40),
        cell(sep, Dim::Total, "", [10_000, 20, 10, 0], 41..=45),
    ]
}

/// Runs of spaces and line breaks as one space (tables and wrapped lines
/// compare by their words), no-break spaces kept.
fn squash(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c == '\n' || c == '\r' { ' ' } else { c };
        if c == ' ' && out.ends_with(' ') {
            continue;
        }
        out.push(c);
    }
    out
}

fn text_of(m: &Value) -> String {
    squash(m["text"].as_str().expect("a text/plain part"))
}

fn html_of(m: &Value) -> String {
    m["html"]
        .as_str()
        .expect("a text/html part")
        .replace("\r\n", "\n")
}

fn report(every: Every, to: &[&str], language: Option<&str>) -> ReportConfig {
    ReportConfig {
        every,
        to: to.iter().map(|s| s.to_string()).collect(),
        language: language.map(str::to_string),
    }
}

/// A configuration whose reports go to `sink` (plain SMTP; k = 3, Warsaw).
fn report_config(db: &TestDb, sink: &Sink, reports: Vec<ReportConfig>) -> Config {
    let mut c = config(db);
    c.salt.grace_secs = 0;
    c.reports.claim_settle_ms = 2_000;
    c.smtp.host = "127.0.0.1".into();
    c.smtp.port = sink.port;
    c.smtp.tls = SmtpTls::None;
    c.smtp.from = "veil reports <reports@veil.test>".into();
    c.smtp.timeout_secs = 10;
    let site = &mut c.sites[0];
    site.timezone = TZ.into();
    site.k = 3;
    site.goals = vec![
        GoalConfig {
            name: "Signup".into(),
            event: Some("signup".into()),
            page: None,
        },
        GoalConfig {
            name: "Rare".into(),
            event: None,
            page: Some("/rare".into()),
        },
    ];
    site.reports = reports;
    c.validate().expect("a valid configuration");
    c
}

fn job(config: &Config, clock: &Arc<ManualClock>) -> Reports {
    Reports::new(config, clock.clone())
        .expect("the report job")
        .expect("some site has reports")
}

fn outcomes(done: &[veil::report::Done]) -> Vec<Outcome> {
    done.iter().map(|d| d.outcome.clone()).collect()
}

// ---- tests ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_say_what_the_api_shows_in_english_and_polish_and_go_out_once() {
    let Some(sink) = Sink::start("content", &[]) else {
        return;
    };
    init_logs();
    let db = TestDb::new("reports").await;
    seed(&db, &known_cells()).await;
    // Wednesday 2026-11-25: the week of 16–22 November and October are due.
    let now = at(2026, 11, 25, 12);
    db.close_days(now).await;
    let config = report_config(
        &db,
        &sink,
        vec![
            report(Every::Week, &["a@example.com", "B <b@example.com>"], None),
            report(Every::Week, &["zespol@example.pl"], Some("pl")),
            report(Every::Month, &["zespol@example.pl"], Some("pl")),
        ],
    );
    let clock = Arc::new(ManualClock::at_ms(now * 1000));
    let first = job(&config, &clock);
    assert_eq!(outcomes(&first.run_once().await), vec![Outcome::Sent; 3]);
    assert_eq!(sink.messages().len(), 3, "{:?}", sink.subjects());

    // English, weekly: headers.
    let en = sink.with_subject("Weekly report for example.com: 16–22 November 2026");
    assert_eq!(en["from"], "veil reports <reports@veil.test>");
    assert_eq!(en["to"], "a@example.com, B <b@example.com>");
    assert_eq!(en["mail_from"], "reports@veil.test");
    assert_eq!(
        en["rcpt_tos"],
        serde_json::json!(["a@example.com", "b@example.com"])
    );
    assert_eq!(en["content_type"], "multipart/alternative");
    assert_eq!(
        en["parts"],
        serde_json::json!(["multipart/alternative", "text/plain", "text/html"])
    );
    assert_eq!(en["auto_submitted"], "auto-generated");
    let id = en["message_id"].as_str().unwrap();
    assert!(
        id.starts_with("<veil-report.week.20261116.") && id.ends_with("@veil.test>"),
        "{id}"
    );
    assert!(
        en["date"].as_str().unwrap().contains("25 Nov 2026"),
        "{}",
        en["date"]
    );
    assert_eq!(en["tls"], false);

    // English, weekly: every number, and nothing under k.
    let text = text_of(&en);
    for line in [
        "Weekly report for example.com ====",
        "Monday to Sunday, 16–22 November 2026 (time zone Europe/Warsaw), compared with the week before, 9–15 November 2026.",
        "Period Previous Change Visitors 10 8 +25.0% Pageviews 25 20 +25.0% Visits 10 9 +11.1% Bounce rate 40.0% 44.4% \u{2212}4.4 pp",
        "Top pages --------- Pageviews Visitors Page 11 7 /pricing 10 7 / 3 3 /blog/<b>& Top channels",
        "Visitors Visits Channel 4 4 search 4 4 social Top referrers",
        "Visitors Visits Referrer 4 4 t.co 4 4 www.google.com Goals",
        "Completions Conversion rate Change Goal 5 50.0% +25.0% Signup – – – Rare (fewer than 3 visitors: not shown)",
        "fewer than 3 visitors in the period are not named",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{}", en["text"]);
    }
    for hidden in ["/secret-small", "direct"] {
        assert!(
            !text.contains(hidden),
            "`{hidden}` has fewer than k visitors"
        );
    }
    let html = html_of(&en);
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
    assert!(html.contains(">/blog/&lt;b&gt;&amp;</td>"), "{html}");
    assert!(html.contains(">Bounce rate</td>") && html.contains(">\u{2212}4.4 pp</td>"));
    assert!(html.contains(">50.0%</td>") && html.contains(">Signup</td>"));
    for hidden in ["/secret-small", "direct", "<b>&"] {
        assert!(!html.contains(hidden), "`{hidden}` in the HTML");
    }

    // Polish, weekly and monthly.
    let pl = sink.with_subject("Raport tygodniowy dla example.com: 16–22 listopada 2026");
    assert_eq!(pl["to"], "zespol@example.pl");
    let text = text_of(&pl);
    for line in [
        "Od poniedziałku do niedzieli, 16–22 listopada 2026 (strefa czasowa Europe/Warsaw), w porównaniu z poprzednim tygodniem, 9–15 listopada 2026.",
        "Okres Poprzedni Zmiana Odwiedzający 10 8 +25,0% Odsłony 25 20 +25,0% Wizyty 10 9 +11,1% Współczynnik odrzuceń 40,0% 44,4% \u{2212}4,4 p.p.",
        "Najpopularniejsze strony ------------------------ Odsłony Odwiedzający Strona 11 7 /pricing 10 7 / 3 3 /blog/<b>&",
        "Odwiedzający Wizyty Kanał 4 4 search 4 4 social",
        "Realizacje Współczynnik konwersji Zmiana Cel 5 50,0% +25,0% Signup – – – Rare (mniej niż 3 odwiedzających — nie pokazano)",
        "Odwiedzający są liczeni osobno każdego dnia",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{}", pl["text"]);
    }
    assert!(html_of(&pl).starts_with("<!DOCTYPE html>\n<html lang=\"pl\">"));
    let month = sink.with_subject("Raport miesięczny dla example.com: październik 2026");
    let text = text_of(&month);
    for line in [
        "Październik 2026 (strefa czasowa Europe/Warsaw), w porównaniu z wrześniem 2026.",
        "Odwiedzający 10 5 +100,0% Odsłony 12\u{a0}345 10\u{a0}000 +23,5% Wizyty 30 20 +50,0% Współczynnik odrzuceń 40,0% 50,0% \u{2212}10,0 p.p.",
        "Brak wartości z co najmniej 3 odwiedzającymi w tym okresie.",
        "Wysłane przez veil do odbiorców miesięcznego raportu tej witryny.",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{}", month["text"]);
    }
    assert!(
        month["message_id"]
            .as_str()
            .unwrap()
            .starts_with("<veil-report.month.20261001."),
        "{}",
        month["message_id"]
    );

    // Again, after a restart, and a day later: nothing more.
    assert_eq!(
        outcomes(&first.run_once().await),
        vec![Outcome::AlreadySent; 3]
    );
    let restarted = job(&config, &clock);
    assert_eq!(
        outcomes(&restarted.run_once().await),
        vec![Outcome::AlreadySent; 3]
    );
    clock.advance_ms(86_400_000);
    assert_eq!(
        outcomes(&restarted.run_once().await),
        vec![Outcome::AlreadySent; 3]
    );
    assert_eq!(sink.messages().len(), 3);

    // Down for three weeks: only the latest week (and November) goes out, once.
    clock.set_ms(at(2026, 12, 16, 12) * 1000);
    let after = job(&config, &clock);
    assert_eq!(outcomes(&after.run_once().await), vec![Outcome::Sent; 3]);
    assert_eq!(
        outcomes(&after.run_once().await),
        vec![Outcome::AlreadySent; 3]
    );
    let mut subjects = sink.subjects();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Raport miesięczny dla example.com: listopad 2026",
            "Raport miesięczny dla example.com: październik 2026",
            "Raport tygodniowy dla example.com: 16–22 listopada 2026",
            "Raport tygodniowy dla example.com: 7–13 grudnia 2026",
            "Weekly report for example.com: 16–22 November 2026",
            "Weekly report for example.com: 7–13 December 2026",
        ]
    );
    // November compared with October: the week's numbers and October's.
    let nov = text_of(&sink.with_subject("Raport miesięczny dla example.com: listopad 2026"));
    assert!(
        nov.contains("Odwiedzający 18 10 +80,0% Odsłony 45 12\u{a0}345 \u{2212}99,6%"),
        "{nov}"
    );
    db.drop().await;
}

/// Writes a CA and a certificate for 127.0.0.1 signed by it into `dir`; `None`
/// without openssl.
fn certificates(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).expect("cert dir");
    let ssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .expect("write leaf.ext");
    let ok = ssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=veil test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]) && ssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
    ]) && ssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ]);
    ok.then(|| {
        (
            dir.join("ca.pem"),
            dir.join("leaf.pem"),
            dir.join("leaf.key"),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_go_over_starttls_with_auth_and_a_refused_login_sends_nothing() {
    let certs = std::env::temp_dir().join(format!("veil-smtp-certs-{}", std::process::id()));
    let Some((ca, cert, key)) = certificates(&certs) else {
        missing("openssl cannot make the test certificates");
        return;
    };
    let Some(sink) = Sink::start(
        "starttls",
        &[
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--auth",
            "veil:s3cret-pass",
        ],
    ) else {
        return;
    };
    init_logs();
    let db = TestDb::new("reports_tls").await;
    seed(&db, &known_cells()).await;
    let now = at(2026, 11, 25, 12);
    let mut config = report_config(
        &db,
        &sink,
        vec![report(Every::Week, &["a@example.com"], None)],
    );
    config.smtp.tls = SmtpTls::Starttls;
    config.smtp.ca_file = ca.clone();
    config.smtp.user = "veil".into();
    config.smtp.password = "wrong-pass-9d1e".into();
    config.validate().expect("valid");
    let clock = Arc::new(ManualClock::at_ms(now * 1000));

    // A refused login: nothing sent, the claim stays until it times out.
    let done = job(&config, &clock).run_once().await;
    assert!(
        matches!(&done[0].outcome, Outcome::Failed(e) if e.contains("SMTP")),
        "{done:?}"
    );
    assert!(sink.messages().is_empty());
    assert!(
        !logs().contains("wrong-pass-9d1e"),
        "the password is never logged"
    );
    config.smtp.password = "s3cret-pass".into();
    assert_eq!(
        outcomes(&job(&config, &clock).run_once().await),
        vec![Outcome::InFlight]
    );

    // The next week: STARTTLS, then AUTH, then the message.
    clock.set_ms(at(2026, 12, 2, 12) * 1000);
    assert_eq!(
        outcomes(&job(&config, &clock).run_once().await),
        vec![Outcome::Sent]
    );
    let m = sink.with_subject("Weekly report for example.com: 23–29 November 2026");
    assert_eq!(m["tls"], true);
    assert_eq!(m["auth"], "veil");
    assert!(
        text_of(&m).contains("Visitors 0 10 \u{2212}100.0%"),
        "{}",
        m["text"]
    );

    // Without the CA the server's certificate is not trusted: nothing is sent.
    config.smtp.ca_file = PathBuf::new();
    clock.set_ms(at(2026, 12, 9, 12) * 1000);
    let done = job(&config, &clock).run_once().await;
    assert!(matches!(&done[0].outcome, Outcome::Failed(_)), "{done:?}");
    assert_eq!(sink.messages().len(), 1);
    let _ = std::fs::remove_dir_all(&certs);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_each_report_once_and_a_timed_out_claim_is_taken_again() {
    let Some(sink) = Sink::start("nodes", &[]) else {
        return;
    };
    init_logs();
    let db = TestDb::new("reports_nodes").await;
    seed(&db, &known_cells()).await;
    let config = report_config(
        &db,
        &sink,
        vec![
            report(Every::Week, &["a@example.com"], None),
            report(Every::Month, &["m@example.com"], None),
        ],
    );
    let clock = Arc::new(ManualClock::at_ms(at(2026, 11, 4, 12) * 1000));
    let (a, b) = (job(&config, &clock), job(&config, &clock));
    let mut weeks = Vec::new();
    for week in 0..3 {
        let (da, db_) = tokio::join!(a.run_once(), b.run_once());
        for i in 0..2 {
            let pair = [&da[i].outcome, &db_[i].outcome];
            let sent = pair.iter().filter(|o| ***o == Outcome::Sent).count();
            let expected = if week == 0 || i == 0 { 1 } else { 0 };
            assert_eq!(sent, expected, "week {week}, report {i}: {pair:?}");
            assert!(
                pair.iter().all(|o| !matches!(o, Outcome::Failed(_))),
                "{pair:?}"
            );
        }
        weeks.push(veil::clock::format_day(da[0].period.from));
        clock.advance_ms(7 * 86_400_000);
    }
    assert_eq!(weeks, ["2026-10-26", "2026-11-02", "2026-11-09"]);
    let mut subjects = sink.subjects();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Monthly report for example.com: October 2026",
            "Weekly report for example.com: 26 October – 1 November 2026",
            "Weekly report for example.com: 2–8 November 2026",
            "Weekly report for example.com: 9–15 November 2026",
        ]
    );

    // A week later (Wednesday 2 December): a node crashed after claiming the
    // week of 23–29 November an hour ago, and another claimed November's
    // report a moment ago (it is sending).
    let week = ledger::recipients_hash(&["a@example.com".into()]);
    let month = ledger::recipients_hash(&["m@example.com".into()]);
    for (kind, period, hash, age) in [
        ("week", "2026-11-23", &week, 3_600),
        ("month", "2026-11-01", &month, 10),
    ] {
        db.client
            .query(
                "INSERT INTO report_ledger (site, kind, period, recipients, round, token, state, at, sent_at) \
                 SELECT ?, ?, toDate(?), ?, toUInt32(0), toUInt64(1), toUInt8(1), now() - ?, toDateTime(0, 'UTC')",
            )
            .bind(SITE)
            .bind(kind)
            .bind(period)
            .bind(hash.as_str())
            .bind(age)
            .execute()
            .await
            .expect("insert a foreign claim");
    }
    clock.set_ms(at(2026, 12, 2, 12) * 1000);
    let done = a.run_once().await;
    assert_eq!(outcomes(&done), vec![Outcome::Sent, Outcome::InFlight]);
    assert_eq!(veil::clock::format_day(done[0].period.from), "2026-11-23");
    assert_eq!(sink.messages().len(), 5);
    assert_eq!(
        outcomes(&b.run_once().await),
        vec![Outcome::AlreadySent, Outcome::InFlight]
    );
    // The retaken report was claimed in round 1 and marked sent there.
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Round {
        round: u32,
        state: u8,
    }
    let rounds = db
        .client
        .query(
            "SELECT round, toUInt8(max(state)) AS state FROM report_ledger \
             WHERE kind = 'week' AND period = toDate('2026-11-23') GROUP BY round ORDER BY round",
        )
        .fetch_all::<Round>()
        .await
        .expect("ledger rounds");
    assert_eq!(
        rounds
            .iter()
            .map(|r| (r.round, r.state))
            .collect::<Vec<_>>(),
        [(0, ledger::CLAIMED), (1, ledger::SENT)]
    );
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veil_serve_sends_the_due_report_at_start() {
    let Some(sink) = Sink::start("serve", &[]) else {
        return;
    };
    let db = TestDb::new("reports_serve").await;
    seed(&db, &known_cells()).await;
    let config = report_config(
        &db,
        &sink,
        vec![report(Every::Week, &["a@example.com"], None)],
    );
    let clock = Arc::new(ManualClock::at_ms(at(2026, 11, 25, 12) * 1000));
    let veil = TestVeil::start_with_clock(config.clone(), clock.clone()).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sink.messages().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    veil.stop().await;
    assert_eq!(
        sink.subjects(),
        ["Weekly report for example.com: 16–22 November 2026"]
    );
    // Started again: the week is in the ledger, nothing more is sent.
    let again = TestVeil::start_with_clock(config, clock).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    again.stop().await;
    assert_eq!(sink.messages().len(), 1);
    db.drop().await;
}
