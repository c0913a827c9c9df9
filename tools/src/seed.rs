//! `veil-bench seed`: realistic synthetic aggregates written through veil's own
//! storage path — window rows into `aggregates_in`, then veil's day close for
//! every past day — so what a benchmark reads is what production stores (closed
//! days as counters, today as sketches). For demos, the dashboard test and
//! latency measurements at volume (30 days × 1 M pageviews a day take minutes,
//! not a month of traffic).
//!
//! The generator builds the same cells [`veil::aggregate::Aggregator`] writes:
//! per hour, visits of visitors from a daily pool (so a visitor's hash is stable
//! within a day and unrelated across days, as with daily salts), a daily traffic
//! curve and quieter weekends, Zipf-distributed pages, weighted sources,
//! countries, regions, browsers, OS, devices, screens and languages, a few custom
//! events with props, and consent-decision counters. Visitor ids are random
//! 64-bit hashes. Memory is bounded by generating and inserting one hour at a
//! time. It is deterministic for a given `rng_seed`.
//!
//! It also writes what a site's declarations make the ingest write, for the
//! declarations of [`SITE_DECLARATIONS`] (the dashboard test puts them in its
//! configuration; `veil-bench seed` warns when the site's differ):
//!
//! * the default pairs ([`veil::model::DEFAULT_PAIRS`]): `page*source`,
//!   `page*country` and `source*country` on every pageview and event,
//!   `entry_page*source` and `source*country` with each visit, so every pair
//!   sums to its single dimensions (a visit's pages and its source, …);
//! * goals `Signup` (event `signup`), `Pricing` (pageviews of `/pricing`) and
//!   `Purchase` (event `purchase`): completions (`hits`) and converting visitors
//!   under `goal`, credited to the visit's source, campaign, entry page, country
//!   and device (`source*goal`, `utm_campaign*goal`, `entry_page*goal`,
//!   `country*goal`, `device*goal`);
//! * the funnel `Checkout`: `/pricing` → event `signup` → event `purchase`, each
//!   step a visit that reached it in order (`funnel` values `Checkout\u{1f}01` …);
//! * a `purchase` event after some signups (more often for paid plans), with its
//!   revenue in EUR under `currency`, `event*currency`, `goal*currency` and
//!   `source*currency` (in thousandths of a euro, as veil stores it);
//! * engagement reports on most pageviews (`engagements`, `engaged_ms`,
//!   `scroll_depth` on `total` and `page`, without visitors, as veil writes them).
//!
//! These are hashed from the visit, never drawn from the generator, so every
//! cell of the other dimensions keeps the numbers it had before they were added
//! — except what the `purchase` events add: events (on `total`, the exit page
//! and `event`) and the hits of the consent decisions.
//!
//! With [`SeedOptions::raw_events`] it also writes the *same* traffic the way a
//! raw-event analytics store keeps it (one row per pageview or event, Plausible
//! style; the table is `benches/raw_events.sql`), so `scripts/stats-bench.sh` can
//! compare veil's storage with the raw design on identical visits. The raw rows
//! come from the draws the aggregates already make; what they need beyond that
//! (session ids, timestamps within the hour) is hashed, never drawn, so the
//! aggregate rows are identical with or without them.

use std::collections::HashMap;

use clickhouse::Client;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use clickhouse::insert::Insert;
use serde::Serialize;
use veil::clock::zone::Zone;
use veil::clock::HOUR_SECS;

use veil::config::{FunnelConfig, GoalConfig, StepConfig};
use veil::model::goals::funnel_value;
use veil::model::{Counters, Dim, DIRECT, PROP_SEP};
use veil::sink::close::{close_due, CloseTiming, Zones};
use veil::sink::row::{new_batch_id, AggRow};
use veil::sink::SinkError;

/// The declarations the generated goals, funnel and pairs belong to, as a
/// site's configuration (`[[sites]]` keys) spells them: the pairs are the
/// default ones and EUR is among the default currencies.
pub const SITE_DECLARATIONS: &str = r#"goals = [
  { name = "Signup", event = "signup" },
  { name = "Pricing", page = "/pricing" },
  { name = "Purchase", event = "purchase" },
]
funnels = [
  { name = "Checkout", steps = [{ page = "/pricing" }, { event = "signup" }, { event = "purchase" }] },
]
"#;

/// The goals and funnels of [`SITE_DECLARATIONS`].
pub fn declarations() -> (Vec<GoalConfig>, Vec<FunnelConfig>) {
    let event = |e: &str| StepConfig {
        event: Some(e.into()),
        page: None,
    };
    let page = |p: &str| StepConfig {
        event: None,
        page: Some(p.into()),
    };
    let goal = |name: &str, s: StepConfig| GoalConfig {
        name: name.into(),
        event: s.event,
        page: s.page,
    };
    let goals = vec![
        goal("Signup", event("signup")),
        goal("Pricing", page("/pricing")),
        goal("Purchase", event("purchase")),
    ];
    let funnels = vec![FunnelConfig {
        name: "Checkout".into(),
        steps: vec![page("/pricing"), event("signup"), event("purchase")],
    }];
    (goals, funnels)
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct SeedOptions {
    /// Site id.
    pub site: String,
    /// Days, ending with the day of `end_secs`.
    pub days: u32,
    /// Average pageviews per day (weekdays a little more, weekends less).
    pub pageviews_per_day: u64,
    /// Seed of the generator.
    pub rng_seed: u64,
    /// Unix time of the last hour generated (usually now).
    pub end_secs: u64,
    /// The site's time zone: days and hours are the site's local ones, as in
    /// production.
    pub zone: std::sync::Arc<Zone>,
    /// Also write one raw row per pageview and event into this table (of the
    /// shape of `benches/raw_events.sql`, created beforehand), for comparisons
    /// with a raw-event store.
    pub raw_events: Option<String>,
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Hours generated.
    pub hours: u64,
    /// Rows inserted.
    pub rows: u64,
    /// Pageviews in those rows.
    pub pageviews: u64,
    /// Past days closed (their sketches finalised), as veil's day close does.
    pub days_closed: u64,
    /// Raw event rows written (0 without [`SeedOptions::raw_events`]).
    pub raw_rows: u64,
}

/// Weighted choices.
struct Weighted<T> {
    items: Vec<T>,
    cdf: Vec<f64>,
}

impl<T> Weighted<T> {
    fn new(pairs: Vec<(T, f64)>) -> Weighted<T> {
        let mut acc = 0.0;
        let mut items = Vec::with_capacity(pairs.len());
        let mut cdf = Vec::with_capacity(pairs.len());
        for (item, w) in pairs {
            acc += w;
            items.push(item);
            cdf.push(acc);
        }
        Weighted { items, cdf }
    }

    /// The item at quantile `u` in [0, 1).
    fn at(&self, u: f64) -> &T {
        let total = self.cdf.last().copied().unwrap_or(1.0);
        let i = self.cdf.partition_point(|c| *c <= u * total);
        &self.items[i.min(self.items.len() - 1)]
    }

    fn pick(&self, rng: &mut impl Rng) -> &T {
        self.at(rng.random::<f64>())
    }
}

/// A visitor's fixed traits (derived from its hash, so stable within the day).
#[derive(Clone, Copy)]
struct Traits {
    country: u32,
    region: u32,
    browser: u32,
    browser_version: u32,
    os: u32,
    os_version: u32,
    device: u32,
    screen: u32,
    language: u32,
}

/// The vocabulary: every value string once; cells refer to values by index.
struct Vocab {
    strings: Vec<String>,
    index: HashMap<String, u32>,
}

impl Vocab {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

struct Model {
    vocab: Vocab,
    pages: Weighted<u32>,
    countries: Weighted<(u32, Vec<u32>)>,
    agents: Weighted<[u32; 5]>,
    screens_desktop: Weighted<u32>,
    screens_mobile: Weighted<u32>,
    languages: Weighted<u32>,
    /// (channel, referrer, utm source/medium/campaign/term/content)
    sources: Weighted<(u32, u32, [Option<u32>; 5])>,
    events: Weighted<EventDef>,
    empty: u32,
    home: u32,
    /// The goals, funnel and currency of [`SITE_DECLARATIONS`], by vocabulary index.
    conv: ConvIds,
    /// The pairs written (every one of [`DEFAULT_PAIRS`]).
    pairs: PairDims,
}

/// A custom event the visits may end with.
struct EventDef {
    name: u32,
    /// Prop entries (`event\u{1f}key\u{1f}value`).
    props: Vec<u32>,
    /// Share of the visits ending with this event that go on to a `purchase`.
    purchase: f64,
    /// The purchase's amount in thousandths of a euro.
    price_milli: u64,
}

/// Vocabulary indexes of what the site declares.
struct ConvIds {
    pricing: u32,
    signup: u32,
    purchase: u32,
    eur: u32,
    goal_signup: u32,
    goal_pricing: u32,
    goal_purchase: u32,
    /// `Checkout\u{1f}01` … `03`.
    steps: [u32; 3],
}

/// The declared pairs the generator writes (veil's [`DEFAULT_PAIRS`]).
struct PairDims {
    page_source: Dim,
    page_country: Dim,
    entry_source: Dim,
    source_country: Dim,
    source_goal: Dim,
    campaign_goal: Dim,
    entry_goal: Dim,
    country_goal: Dim,
    device_goal: Dim,
    event_currency: Dim,
    goal_currency: Dim,
    source_currency: Dim,
}

impl PairDims {
    fn new() -> PairDims {
        let p = |name: &str| Dim::pair_named(name).unwrap_or_else(|| panic!("pair {name}"));
        PairDims {
            page_source: p("page*source"),
            page_country: p("page*country"),
            entry_source: p("entry_page*source"),
            source_country: p("source*country"),
            source_goal: p("source*goal"),
            campaign_goal: p("utm_campaign*goal"),
            entry_goal: p("entry_page*goal"),
            country_goal: p("country*goal"),
            device_goal: p("device*goal"),
            event_currency: p("event*currency"),
            goal_currency: p("goal*currency"),
            source_currency: p("source*currency"),
        }
    }
}

fn build_model() -> Model {
    let mut v = Vocab {
        strings: Vec::new(),
        index: HashMap::new(),
    };
    let empty = v.id("");
    // Pages: a home page, product pages, a blog with a long tail (Zipf, s = 1.05).
    let mut pages = vec![
        "/".to_string(),
        "/pricing".into(),
        "/features".into(),
        "/signup".into(),
        "/docs".into(),
        "/about".into(),
        "/contact".into(),
    ];
    pages.extend((1..=60).map(|i| format!("/docs/guide-{i}")));
    pages.extend((1..=1_400).map(|i| format!("/blog/post-{i}")));
    let home = v.id("/");
    let pages = Weighted::new(
        pages
            .iter()
            .enumerate()
            .map(|(rank, p)| (v.id(p), 1.0 / ((rank + 1) as f64).powf(1.05)))
            .collect(),
    );
    let country_table: [(&str, f64, &[&str]); 20] = [
        ("PL", 30.0, &["PL-14", "PL-12", "PL-30", "PL-02", "PL-22"]),
        ("DE", 15.0, &["DE-BE", "DE-BY", "DE-NW"]),
        ("US", 14.0, &["US-CA", "US-NY", "US-TX", "US-WA"]),
        ("GB", 8.0, &["GB-ENG", "GB-SCT"]),
        ("FR", 6.0, &["FR-IDF", "FR-ARA"]),
        ("NL", 3.0, &["NL-NH"]),
        ("CZ", 3.0, &["CZ-10"]),
        ("UA", 3.0, &["UA-30"]),
        ("IT", 3.0, &["IT-25", "IT-62"]),
        ("ES", 3.0, &["ES-MD"]),
        ("SE", 2.0, &["SE-AB"]),
        ("CA", 2.0, &["CA-ON"]),
        ("IN", 2.0, &["IN-KA"]),
        ("BR", 2.0, &["BR-SP"]),
        ("JP", 1.0, &["JP-13"]),
        ("AU", 1.0, &["AU-NSW"]),
        ("IS", 0.05, &["IS-1"]),
        ("LI", 0.01, &["LI-11"]),
        ("MC", 0.005, &["(unknown)"]),
        ("VA", 0.001, &["(unknown)"]),
    ];
    let countries = Weighted::new(
        country_table
            .iter()
            .map(|(c, w, regions)| ((v.id(c), regions.iter().map(|r| v.id(r)).collect()), *w))
            .collect(),
    );
    // (browser, version, os, os version, device)
    let agent_table: [(&str, &str, &str, &str, &str, f64); 10] = [
        (
            "Chrome",
            "Chrome 131",
            "Windows",
            "Windows 10",
            "desktop",
            28.0,
        ),
        (
            "Chrome",
            "Chrome 130",
            "Windows",
            "Windows 10",
            "desktop",
            6.0,
        ),
        (
            "Chrome",
            "Chrome 131",
            "Android",
            "Android 14",
            "mobile",
            24.0,
        ),
        ("Safari", "Safari 18", "iOS", "iOS 18", "mobile", 15.0),
        (
            "Safari",
            "Safari 17",
            "Mac OS X",
            "Mac OS X 10.15",
            "desktop",
            7.0,
        ),
        ("Safari", "Safari 18", "iOS", "iOS 18", "tablet", 3.0),
        (
            "Firefox",
            "Firefox 133",
            "Windows",
            "Windows 10",
            "desktop",
            5.0,
        ),
        ("Firefox", "Firefox 133", "Linux", "Linux", "desktop", 3.0),
        ("Edge", "Edge 131", "Windows", "Windows 10", "desktop", 7.0),
        (
            "Samsung Internet",
            "Samsung Internet 26",
            "Android",
            "Android 14",
            "mobile",
            2.0,
        ),
    ];
    let agents = Weighted::new(
        agent_table
            .iter()
            .map(|(b, bv, o, ov, d, w)| ([v.id(b), v.id(bv), v.id(o), v.id(ov), v.id(d)], *w))
            .collect(),
    );
    let mut screens =
        |pairs: &[(&str, f64)]| Weighted::new(pairs.iter().map(|(s, w)| (v.id(s), *w)).collect());
    let screens_desktop = screens(&[
        ("1200-1439", 25.0),
        ("1440-1919", 40.0),
        (">=1920", 30.0),
        ("992-1199", 5.0),
    ]);
    let screens_mobile = screens(&[("<576", 80.0), ("576-767", 12.0), ("768-991", 8.0)]);
    let languages = Weighted::new(
        [
            ("pl", 40.0),
            ("en", 35.0),
            ("de", 12.0),
            ("fr", 5.0),
            ("uk", 3.0),
            ("es", 3.0),
            ("it", 2.0),
        ]
        .iter()
        .map(|(l, w)| (v.id(l), *w))
        .collect(),
    );
    let mut src = |channel: &str, referrer: &str, utm: [Option<&str>; 5], w: f64| {
        let utm = utm.map(|u| u.map(|s| v.id(s)));
        ((v.id(channel), v.id(referrer), utm), w)
    };
    let (direct, google, bing, ddg) = (DIRECT, "google.com", "bing.com", "duckduckgo.com");
    let (facebook, linkedin) = ("facebook.com", "linkedin.com");
    let (news, wykop) = ("news.ycombinator.com", "wykop.pl");
    let sources = Weighted::new(vec![
        src("direct", direct, [None; 5], 35.0),
        src("search", google, [None; 5], 24.0),
        src("search", bing, [None; 5], 3.0),
        src("search", ddg, [None; 5], 2.0),
        src("social", facebook, [None; 5], 6.0),
        src(
            "social",
            linkedin,
            [Some("linkedin"), Some("social"), Some("launch"), None, None],
            4.0,
        ),
        src("referral", news, [None; 5], 5.0),
        src("referral", wykop, [None; 5], 3.0),
        src(
            "email",
            direct,
            [
                Some("newsletter"),
                Some("email"),
                Some("november"),
                None,
                Some("header-link"),
            ],
            5.0,
        ),
        src(
            "paid",
            google,
            [
                Some("google"),
                Some("cpc"),
                Some("brand"),
                Some("analytics"),
                None,
            ],
            6.0,
        ),
        src(
            "paid",
            facebook,
            [
                Some("facebook"),
                Some("paid-social"),
                Some("retargeting"),
                None,
                Some("video"),
            ],
            2.0,
        ),
    ]);
    let mut event =
        |name: &str, props: &[(&str, &str)], w: f64, purchase: f64, price_milli: u64| {
            let props = props
                .iter()
                .map(|(k, val)| v.id(&format!("{name}{PROP_SEP}{k}{PROP_SEP}{val}")))
                .collect();
            let name = v.id(name);
            let e = EventDef {
                name,
                props,
                purchase,
                price_milli,
            };
            (e, w)
        };
    // Signups go on to buy within the visit now and then: the upgrade of a free
    // plan, the pro plan, an enterprise plan (prices in thousandths of a euro).
    let events = Weighted::new(vec![
        event("signup", &[("plan", "free")], 6.0, 0.12, 19_990),
        event("signup", &[("plan", "pro")], 2.0, 0.55, 49_000),
        event("signup", &[("plan", "enterprise")], 0.05, 0.8, 490_000),
        event("download", &[("file", "whitepaper.pdf")], 3.0, 0.0, 0),
        event("outbound", &[("url", "github.com")], 4.0, 0.0, 0),
    ]);
    let conv = ConvIds {
        pricing: v.id("/pricing"),
        signup: v.id("signup"),
        purchase: v.id("purchase"),
        eur: v.id("EUR"),
        goal_signup: v.id("Signup"),
        goal_pricing: v.id("Pricing"),
        goal_purchase: v.id("Purchase"),
        steps: [1, 2, 3].map(|i| v.id(&funnel_value("Checkout", i))),
    };
    Model {
        vocab: v,
        pages,
        countries,
        agents,
        screens_desktop,
        screens_mobile,
        languages,
        sources,
        events,
        empty,
        home,
        conv,
        pairs: PairDims::new(),
    }
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A uniform [0, 1) from 53 bits of `h`.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

impl Model {
    fn traits(&self, visitor: u64) -> Traits {
        let h = |i: u64| unit(mix(visitor ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D)));
        let (country, regions) = self.countries.at(h(1));
        let region = regions[(mix(visitor ^ 7) % regions.len() as u64) as usize];
        let a = self.agents.at(h(2));
        let mobile = self.vocab.strings[a[4] as usize] != "desktop";
        let screen = if mobile {
            self.screens_mobile.at(h(3))
        } else {
            self.screens_desktop.at(h(3))
        };
        Traits {
            country: *country,
            region,
            browser: a[0],
            browser_version: a[1],
            os: a[2],
            os_version: a[3],
            device: a[4],
            screen: *screen,
            language: *self.languages.at(h(4)),
        }
    }
}

#[derive(Default)]
struct Cell {
    c: Counters,
    visitors: Vec<u64>,
}

/// No second value: the cell is of a single dimension.
const SINGLE: u32 = u32::MAX;

#[derive(Default)]
struct Hour {
    /// (dimension, value, second value of a pair or [`SINGLE`]).
    cells: HashMap<(Dim, u32, u32), Cell>,
}

impl Hour {
    fn add(&mut self, dim: Dim, value: u32, c: Counters, visitor: Option<u64>) {
        self.add_cell((dim, value, SINGLE), c, visitor);
    }

    /// A pair's cell: `first\u{1f}second`.
    fn pair(&mut self, dim: Dim, first: u32, second: u32, c: Counters, visitor: Option<u64>) {
        self.add_cell((dim, first, second), c, visitor);
    }

    fn add_cell(&mut self, key: (Dim, u32, u32), c: Counters, visitor: Option<u64>) {
        let cell = self.cells.entry(key).or_default();
        cell.c.add(&c);
        if let Some(v) = visitor {
            cell.visitors.push(v);
        }
    }
}

/// What a visit's goals and funnel steps are credited to (its first hit), by
/// vocabulary index, as veil credits them.
#[derive(Clone, Copy)]
struct Origin {
    channel: u32,
    /// `utm_campaign`, when the visit has one and marketing consent.
    campaign: Option<u32>,
    entry: u32,
    country: u32,
    device: u32,
}

impl Hour {
    /// One completion of `goal` (`hits`, the converting visitor) under the goal
    /// and its pairs; `revenue` goes to `goal*currency`.
    fn goal(&mut self, m: &Model, goal: u32, o: &Origin, revenue: Option<u64>, v: Option<u64>) {
        let done = Counters {
            hits: 1,
            ..Default::default()
        };
        let p = &m.pairs;
        self.add(Dim::Goal, goal, done, v);
        self.pair(p.source_goal, o.channel, goal, done, v);
        if let Some(c) = o.campaign {
            self.pair(p.campaign_goal, c, goal, done, v);
        }
        self.pair(p.entry_goal, o.entry, goal, done, v);
        self.pair(p.country_goal, o.country, goal, done, v);
        self.pair(p.device_goal, o.device, goal, done, v);
        if let Some(milli) = revenue {
            let money = Counters {
                revenue: milli,
                ..done
            };
            self.pair(p.goal_currency, goal, m.conv.eur, money, v);
        }
    }

    /// A custom event `name` on `page` (with the revenue of a purchase): the
    /// event's cells and the pairs veil writes for an event.
    fn event(
        &mut self,
        m: &Model,
        name: u32,
        page: u32,
        o: &Origin,
        revenue: Option<u64>,
        v: Option<u64>,
    ) {
        let ev = Counters {
            events: 1,
            ..Default::default()
        };
        let p = &m.pairs;
        self.add(Dim::Total, m.empty, ev, v);
        self.add(Dim::Page, page, ev, v);
        self.add(Dim::Event, name, ev, v);
        self.pair(p.page_source, page, o.channel, ev, v);
        self.pair(p.page_country, page, o.country, ev, v);
        self.pair(p.entry_source, o.entry, o.channel, ev, v);
        self.pair(p.source_country, o.channel, o.country, ev, v);
        if let Some(milli) = revenue {
            let money = Counters {
                revenue: milli,
                ..ev
            };
            self.add(Dim::Currency, m.conv.eur, money, v);
            self.pair(p.event_currency, name, m.conv.eur, money, v);
            self.pair(p.source_currency, o.channel, m.conv.eur, money, v);
        }
    }
}

/// An engagement report of a pageview (hashed, never drawn): `None` when the
/// page was left before one was sent. Time on page is longer on docs and blog
/// posts; scroll depth is in percent.
fn engagement(m: &Model, page: u32, h: u64) -> Option<Counters> {
    if unit(h) >= 0.8 {
        return None;
    }
    let path = &m.vocab.strings[page as usize];
    let reading = path.starts_with("/blog/") || path.starts_with("/docs");
    // Each page has its own typical time (half to one and a half times its kind's).
    let page_factor = 0.5 + unit(mix(u64::from(page) ^ 0xE6A6_E3E7));
    let base = page_factor * if reading { 45_000.0 } else { 12_000.0 };
    // Long-tailed: most views are short, a few are read for minutes.
    let u = unit(mix(h ^ 0x71DE)).max(1e-6);
    let time_ms = (base * -u.ln()).min(1_800_000.0) as u64 + 500;
    let scroll = if reading {
        20 + mix(h ^ 0x5C20) % 81
    } else {
        10 + mix(h ^ 0x5C20) % 71
    };
    Some(Counters {
        engagements: 1,
        engaged_ms: time_ms,
        scroll_depth: scroll,
        ..Default::default()
    })
}

/// One raw event (a pageview, or a custom event when `event` is set), by
/// vocabulary index: turned into a [`RawRow`] only while it is written.
struct RawHit<'m> {
    ts: u32,
    user: u64,
    session: u64,
    page: u32,
    /// Event name and its prop entries (`event\u{1f}key\u{1f}value`).
    event: Option<(u32, &'m [u32])>,
    channel: u32,
    referrer: u32,
    utm: [Option<u32>; 5],
    t: Traits,
}

/// A row of the raw-event table (`benches/raw_events.sql`). Column names follow
/// Plausible's `events_v2` where it has the column; props are its `meta` Nested
/// (two parallel arrays).
#[derive(clickhouse::Row, Serialize)]
struct RawRow<'a> {
    site: &'a str,
    timestamp: u32,
    name: &'a str,
    user_id: u64,
    session_id: u64,
    pathname: &'a str,
    referrer: &'a str,
    referrer_source: &'a str,
    channel: &'a str,
    utm_source: &'a str,
    utm_medium: &'a str,
    utm_campaign: &'a str,
    utm_term: &'a str,
    utm_content: &'a str,
    country: &'a str,
    region: &'a str,
    browser: &'a str,
    browser_version: &'a str,
    os: &'a str,
    os_version: &'a str,
    device: &'a str,
    screen_size: &'a str,
    language: &'a str,
    #[serde(rename = "meta.key")]
    meta_key: Vec<&'a str>,
    #[serde(rename = "meta.value")]
    meta_value: Vec<&'a str>,
}

/// Rows per raw `INSERT`: large blocks, as a raw store's ingest buffer would
/// write them, so the table is not judged by a flood of tiny parts.
const RAW_BATCH_ROWS: u64 = 1_000_000;

/// Session id and hit timestamps of one visit, hashed from the seed, the hour and
/// the visit's number in it (never drawn from the generator's RNG). The hits lie
/// inside the visit's hour, the first at its start and the last `duration`
/// seconds later (shortened only when the visit would not fit in the hour, or to
/// keep hits at least a second apart), so the raw table's per-hour counts and
/// its max − min per session match the aggregates' counters.
fn visit_times(seed: u64, hour: u64, visit: u64, hits: u64, duration: u64) -> (u64, Vec<u32>) {
    let session = mix(mix(seed ^ 0x5E55_1011) ^ hour.wrapping_mul(0x9E37_79B9) ^ visit);
    let h = mix(session ^ 0x7153);
    let span = if hits <= 1 {
        0
    } else {
        duration.clamp(hits - 1, HOUR_SECS - 1)
    };
    let start = hour + h % (HOUR_SECS - span);
    let times = (0..hits)
        .map(|i| (start + if hits > 1 { span * i / (hits - 1) } else { 0 }) as u32)
        .collect();
    (session, times)
}

/// Relative traffic of a UTC hour of the day (a curve peaking mid-afternoon in Europe).
fn hour_weight(hour_of_day: u32) -> f64 {
    let x = (f64::from(hour_of_day) - 13.0) / 24.0 * std::f64::consts::TAU;
    0.25 + (1.0 + x.cos()) * 0.75
}

fn day_factor(day: u64) -> f64 {
    // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    if (day + 3) % 7 >= 5 {
        0.75
    } else {
        1.07
    }
}

/// The rows of one hour (`hour` = Unix seconds of its start); with `raw`, also
/// its raw events, appended there. Collecting them draws nothing from `rng`.
fn hour_rows<'m>(
    model: &'m Model,
    opts: &SeedOptions,
    hour: u64,
    rng: &mut StdRng,
    mut raw: Option<&mut Vec<RawHit<'m>>>,
) -> Vec<AggRow> {
    let day = u64::from(opts.zone.day_of(hour));
    let hour_of_day = (hour.saturating_sub(opts.zone.day_start(day as u32)) / HOUR_SECS).min(23);
    let curve_total: f64 = (0..24).map(hour_weight).sum();
    let expected = opts.pageviews_per_day as f64 * hour_weight(hour_of_day as u32) / curve_total
        * day_factor(day)
        * rng.random_range(0.9..1.1);
    let target = expected.round() as u64;
    let pool = (opts.pageviews_per_day / 3).max(1);
    let mut h = Hour::default();
    let mut pageviews = 0u64;
    let mut recorded_hits = 0u64;
    let mut marketing_hits = 0u64;
    let pv = Counters {
        pageviews: 1,
        ..Default::default()
    };
    let ev = Counters {
        events: 1,
        ..Default::default()
    };
    let step = Counters {
        visits: 1,
        ..Default::default()
    };
    let mut pages = Vec::with_capacity(30);
    let mut visit_no = 0u64;
    let (conv, pairs) = (&model.conv, &model.pairs);
    while pageviews < target {
        let visitor = mix(opts.rng_seed ^ (day << 32) ^ rng.random_range(0..pool));
        let t = model.traits(visitor);
        let v = Some(visitor);
        let (channel, referrer, utm) = model.sources.pick(rng);
        let marketing = utm.iter().any(Option::is_some) || rng.random_bool(0.3);
        // What the declarations add (goals, funnel steps, purchases, engagement)
        // is hashed from the visit, never drawn, so every other cell is the same
        // as without them.
        let vh = mix(mix(opts.rng_seed ^ 0xC0_4E45) ^ hour.wrapping_mul(0x9E37_79B9) ^ visit_no);
        // Pages per visit: geometric with mean 2.5, at most 30.
        let mut n = 1u64;
        while n < 30 && rng.random_bool(0.6) {
            n += 1;
        }
        let n = n.min(target - pageviews).max(1);
        let mut entry = 0;
        let mut exit = 0;
        // Steps of the Checkout funnel this visit reached.
        let mut funnel = 0usize;
        pages.clear();
        for i in 0..n {
            let page = if i == 0 && rng.random_bool(0.35) {
                model.home
            } else {
                *model.pages.pick(rng)
            };
            if i == 0 {
                entry = page;
            }
            exit = page;
            pages.push(page);
            h.add(Dim::Total, model.empty, pv, v);
            h.add(Dim::Page, page, pv, v);
            h.add(Dim::Referrer, *referrer, pv, v);
            h.add(Dim::Source, *channel, pv, v);
            if marketing {
                for (j, u) in utm.iter().enumerate() {
                    if let Some(u) = u {
                        h.add(Dim::Utm(j as u8), *u, pv, v);
                    }
                }
            }
            h.add(Dim::Country, t.country, pv, v);
            h.add(Dim::Region, t.region, pv, v);
            h.add(Dim::Browser, t.browser, pv, v);
            h.add(Dim::BrowserVersion, t.browser_version, pv, v);
            h.add(Dim::Os, t.os, pv, v);
            h.add(Dim::OsVersion, t.os_version, pv, v);
            h.add(Dim::Device, t.device, pv, v);
            h.add(Dim::Screen, t.screen, pv, v);
            h.add(Dim::Language, t.language, pv, v);
            h.pair(pairs.page_source, page, *channel, pv, v);
            h.pair(pairs.page_country, page, t.country, pv, v);
            h.pair(pairs.source_country, *channel, t.country, pv, v);
            if let Some(e) = engagement(model, page, mix(vh ^ (i + 1))) {
                h.add(Dim::Total, model.empty, e, None);
                h.add(Dim::Page, page, e, None);
            }
            if page == conv.pricing {
                let origin = Origin {
                    channel: *channel,
                    campaign: utm[2].filter(|_| marketing),
                    entry,
                    country: t.country,
                    device: t.device,
                };
                h.goal(model, conv.goal_pricing, &origin, None, v);
                if funnel == 0 {
                    funnel = 1;
                    h.add(Dim::Funnel, conv.steps[0], step, v);
                }
            }
        }
        pageviews += n;
        let origin = Origin {
            channel: *channel,
            campaign: utm[2].filter(|_| marketing),
            entry,
            country: t.country,
            device: t.device,
        };
        let mut events = 0;
        let mut event = None;
        let mut purchase = None;
        if rng.random_bool(0.12) {
            let e = model.events.pick(rng);
            event = Some((e.name, e.props.as_slice()));
            h.event(model, e.name, exit, &origin, None, v);
            for p in &e.props {
                h.add(Dim::Prop, *p, ev, v);
            }
            events = 1;
            if e.name == conv.signup {
                h.goal(model, conv.goal_signup, &origin, None, v);
                if funnel == 1 {
                    funnel = 2;
                    h.add(Dim::Funnel, conv.steps[1], step, v);
                }
            }
            if unit(mix(vh ^ 0xB0_0C)) < e.purchase {
                // A purchase after the signup, on the same page, with its revenue.
                let milli = e.price_milli;
                purchase = Some(milli);
                h.event(model, conv.purchase, exit, &origin, Some(milli), v);
                h.goal(model, conv.goal_purchase, &origin, Some(milli), v);
                if funnel == 2 {
                    h.add(Dim::Funnel, conv.steps[2], step, v);
                }
                events = 2;
            }
        }
        recorded_hits += n + events;
        if marketing {
            marketing_hits += n + events;
        }
        let duration = if n == 1 && events == 0 {
            0
        } else {
            (n as f64 * rng.random_range(20.0..150.0)) as u64
        };
        if let Some(raw) = raw.as_deref_mut() {
            let (session, times) = visit_times(opts.rng_seed, hour, visit_no, n + events, duration);
            let hit = |ts: u32, page: u32, event| RawHit {
                ts,
                user: visitor,
                session,
                page,
                event,
                channel: *channel,
                referrer: *referrer,
                utm: *utm,
                t,
            };
            raw.extend(pages.iter().zip(&times).map(|(p, ts)| hit(*ts, *p, None)));
            let mut after = times.iter().skip(pages.len());
            if let (Some(e), Some(ts)) = (event, after.next()) {
                raw.push(hit(*ts, exit, Some(e)));
            }
            if let (Some(_), Some(ts)) = (purchase, after.next()) {
                raw.push(hit(*ts, exit, Some((conv.purchase, &[][..]))));
            }
        }
        visit_no += 1;
        let visit = Counters {
            visits: 1,
            bounces: u64::from(n == 1 && events == 0),
            duration,
            ..Default::default()
        };
        h.add(Dim::Total, model.empty, visit, v);
        h.add(Dim::EntryPage, entry, visit, v);
        h.add(Dim::ExitPage, exit, visit, v);
        h.add(Dim::Source, *channel, visit, v);
        h.add(Dim::Referrer, *referrer, visit, v);
        if marketing {
            for (j, u) in utm.iter().take(3).enumerate() {
                if let Some(u) = u {
                    h.add(Dim::Utm(j as u8), *u, visit, v);
                }
            }
        }
        h.add(Dim::Country, t.country, visit, v);
        h.add(Dim::Region, t.region, visit, v);
        h.add(Dim::Device, t.device, visit, v);
        h.add(Dim::Browser, t.browser, visit, v);
        h.add(Dim::Os, t.os, visit, v);
        h.pair(pairs.entry_source, entry, *channel, visit, v);
        h.pair(pairs.source_country, *channel, t.country, visit, v);
    }
    // Consent decisions: what was recorded, and what was not.
    let hits = |share: f64| Counters {
        hits: (recorded_hits as f64 * share).round() as u64,
        ..Default::default()
    };
    let decisions: [(&str, Counters); 10] = [
        (
            "marketing",
            Counters {
                hits: marketing_hits,
                ..Default::default()
            },
        ),
        (
            "analytics",
            Counters {
                hits: recorded_hits - marketing_hits,
                ..Default::default()
            },
        ),
        ("anonymous", hits(0.06)),
        ("denied", hits(0.04)),
        ("gpc", hits(0.02)),
        ("dnt", hits(0.01)),
        ("optout", hits(0.002)),
        ("bot", hits(0.08)),
        ("rate_limited", hits(0.001)),
        ("invalid", hits(0.003)),
    ];
    let site = &opts.site;
    let mut rows: Vec<AggRow> = decisions
        .iter()
        .filter(|(_, c)| c.hits > 0)
        .map(|(d, c)| {
            AggRow::new(
                &opts.zone,
                hour as u32,
                site.clone(),
                Dim::Decision,
                (*d).into(),
                c,
                Vec::new(),
            )
        })
        .collect();
    let strings = &model.vocab.strings;
    for ((dim, value, second), mut cell) in h.cells {
        cell.visitors.sort_unstable();
        cell.visitors.dedup();
        let mut value = strings[value as usize].clone();
        if second != SINGLE {
            value.push(PROP_SEP);
            value.push_str(&strings[second as usize]);
        }
        rows.push(AggRow::new(
            &opts.zone,
            hour as u32,
            site.clone(),
            dim,
            value,
            &cell.c,
            cell.visitors,
        ));
    }
    rows.sort_by(|a, b| (&a.dim, &a.value).cmp(&(&b.dim, &b.value)));
    rows
}

/// `https://HOST/` per vocabulary entry, the full referrer a raw store keeps
/// beside its source (empty for direct visits).
fn referrer_urls(model: &Model) -> Vec<String> {
    model
        .vocab
        .strings
        .iter()
        .map(|s| {
            if s == DIRECT || s.is_empty() {
                String::new()
            } else {
                format!("https://{s}/")
            }
        })
        .collect()
}

/// The table row of a raw hit (strings borrowed from the model's vocabulary).
fn raw_row<'a>(model: &'a Model, urls: &'a [String], site: &'a str, h: &RawHit<'a>) -> RawRow<'a> {
    let s = |i: u32| model.vocab.strings[i as usize].as_str();
    let utm = |j: usize| h.utm[j].map_or("", s);
    let referrer = if s(h.referrer) == DIRECT {
        ""
    } else {
        s(h.referrer)
    };
    let (name, props) = h.event.map_or(("pageview", &[][..]), |(n, p)| (s(n), p));
    let mut meta_key = Vec::with_capacity(props.len());
    let mut meta_value = Vec::with_capacity(props.len());
    for p in props {
        let mut it = s(*p).splitn(3, PROP_SEP).skip(1);
        meta_key.push(it.next().unwrap_or(""));
        meta_value.push(it.next().unwrap_or(""));
    }
    RawRow {
        site,
        timestamp: h.ts,
        name,
        user_id: h.user,
        session_id: h.session,
        pathname: s(h.page),
        referrer: urls[h.referrer as usize].as_str(),
        referrer_source: referrer,
        channel: s(h.channel),
        utm_source: utm(0),
        utm_medium: utm(1),
        utm_campaign: utm(2),
        utm_term: utm(3),
        utm_content: utm(4),
        country: s(h.t.country),
        region: s(h.t.region),
        browser: s(h.t.browser),
        browser_version: s(h.t.browser_version),
        os: s(h.t.os),
        os_version: s(h.t.os_version),
        device: s(h.t.device),
        screen_size: s(h.t.screen),
        language: s(h.t.language),
        meta_key,
        meta_value,
    }
}

/// The hours to generate: `days` whole local days ending with the day of
/// `end_secs`, up to and including the local hour of `end_secs`.
pub fn hours(opts: &SeedOptions) -> impl Iterator<Item = u64> {
    let last = u64::from(opts.zone.hour_of(opts.end_secs));
    let first_day = opts
        .zone
        .day_of(opts.end_secs)
        .saturating_sub(opts.days.max(1) - 1);
    (opts.zone.day_start(first_day)..=last).step_by(HOUR_SECS as usize)
}

/// Generates and inserts every hour; `progress(done, total)` after each.
pub async fn seed(
    client: &Client,
    opts: &SeedOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<SeedReport, SinkError> {
    let model = build_model();
    let mut rng = StdRng::seed_from_u64(opts.rng_seed);
    let total = hours(opts).count() as u64;
    let mut report = SeedReport::default();
    let urls = referrer_urls(&model);
    let mut raw_hits = Vec::new();
    let mut raw_insert: Option<Insert<RawRow<'static>>> = None;
    let mut raw_pending = 0u64;
    for hour in hours(opts) {
        raw_hits.clear();
        let raw = opts.raw_events.is_some().then_some(&mut raw_hits);
        let rows = hour_rows(&model, opts, hour, &mut rng, raw);
        let batch = new_batch_id();
        let mut insert = client.insert::<AggRow>("aggregates_in").await?;
        for mut row in rows {
            row.batch = batch;
            report.rows += 1;
            report.pageviews += if row.dim == "total" { row.pageviews } else { 0 };
            insert.write(&row).await?;
        }
        insert.end().await?;
        if let Some(table) = &opts.raw_events {
            let ins = match raw_insert.as_mut() {
                Some(ins) => ins,
                None => raw_insert.insert(client.insert::<RawRow<'_>>(table).await?),
            };
            for hit in &raw_hits {
                ins.write(&raw_row(&model, &urls, &opts.site, hit)).await?;
            }
            raw_pending += raw_hits.len() as u64;
            report.raw_rows += raw_hits.len() as u64;
            if raw_pending >= RAW_BATCH_ROWS {
                if let Some(ins) = raw_insert.take() {
                    ins.end().await?;
                }
                raw_pending = 0;
            }
        }
        report.hours += 1;
        progress(report.hours, total);
    }
    if let Some(ins) = raw_insert.take() {
        ins.end().await?;
    }
    // Past days are closed as veil would close them: sketches → counters.
    let clock = veil::clock::ManualClock::at_ms(opts.end_secs * 1000);
    let timing = CloseTiming {
        grace_secs: 0,
        settle: std::time::Duration::ZERO,
    };
    let closed = close_due(client, &clock, timing, &mut Zones::default()).await?;
    report.days_closed = closed.len() as u64;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_hour_is_consistent_and_deterministic() {
        let model = build_model();
        let opts = SeedOptions {
            site: "s".into(),
            days: 1,
            pageviews_per_day: 24_000,
            rng_seed: 7,
            end_secs: 1_795_424_400,
            zone: std::sync::Arc::new(Zone::new("UTC").unwrap()),
            raw_events: None,
        };
        let hour = 1_795_424_400 + 13 * 3_600 - 1_795_424_400 % 86_400;
        let rows = hour_rows(&model, &opts, hour, &mut StdRng::seed_from_u64(1), None);
        let again = hour_rows(&model, &opts, hour, &mut StdRng::seed_from_u64(1), None);
        assert!(rows == again, "same seed, same rows");
        let sum = |dim: &str, f: fn(&AggRow) -> u64| {
            rows.iter().filter(|r| r.dim == dim).map(f).sum::<u64>()
        };
        let total = sum("total", |r| r.pageviews);
        assert!(
            (1_500..3_000).contains(&total),
            "{total} pageviews at the peak hour"
        );
        for dim in [
            "page", "country", "browser", "device", "screen", "language", "source",
        ] {
            assert_eq!(sum(dim, |r| r.pageviews), total, "{dim}");
        }
        for dim in ["entry_page", "exit_page", "country", "source"] {
            assert_eq!(sum(dim, |r| r.visits), sum("total", |r| r.visits), "{dim}");
        }
        assert!(rows
            .iter()
            .all(|r| r.visitors.windows(2).all(|w| w[0] < w[1])));
        assert!(rows
            .iter()
            .any(|r| r.dim == "prop" && r.value == "signup\u{1f}plan\u{1f}free"));
        assert_eq!(hours(&opts).count(), 10, "today up to the hour of end_secs");
    }

    /// The rows of a peak hour (the one of `an_hour_is_consistent…`).
    fn peak_hour() -> Vec<AggRow> {
        let model = build_model();
        let opts = SeedOptions {
            site: "s".into(),
            days: 1,
            pageviews_per_day: 24_000,
            rng_seed: 7,
            end_secs: 1_795_424_400,
            zone: std::sync::Arc::new(Zone::new("UTC").unwrap()),
            raw_events: None,
        };
        let hour = 1_795_424_400 + 13 * 3_600 - 1_795_424_400 % 86_400;
        hour_rows(&model, &opts, hour, &mut StdRng::seed_from_u64(1), None)
    }

    fn sum_of(
        rows: &[AggRow],
        dim: &str,
        pick: impl Fn(&str) -> bool,
        f: fn(&AggRow) -> u64,
    ) -> u64 {
        rows.iter()
            .filter(|r| r.dim == dim && pick(&r.value))
            .map(f)
            .sum()
    }

    #[test]
    fn pairs_add_up_to_their_single_dimensions() {
        let rows = peak_hour();
        let all = |_: &str| true;
        let one =
            |dim: &str, value: &str, f: fn(&AggRow) -> u64| sum_of(&rows, dim, |v| v == value, f);
        let pageviews = |r: &AggRow| r.pageviews;
        let visits = |r: &AggRow| r.visits;
        let events = |r: &AggRow| r.events;
        let total = one("total", "", pageviews);
        for pair in ["page*source", "page*country", "source*country"] {
            assert_eq!(sum_of(&rows, pair, all, pageviews), total, "{pair}");
            assert_eq!(
                sum_of(&rows, pair, all, events),
                one("total", "", events),
                "{pair}"
            );
        }
        for pair in ["entry_page*source", "source*country"] {
            assert_eq!(
                sum_of(&rows, pair, all, visits),
                one("total", "", visits),
                "{pair}"
            );
            let bounces = |r: &AggRow| r.bounces;
            assert_eq!(
                sum_of(&rows, pair, all, bounces),
                one("total", "", bounces),
                "{pair}"
            );
        }
        // Per value: a source's pages are its pageviews, a page's sources its own.
        for source in ["search", "direct", "social", "email", "paid", "referral"] {
            let of = |v: &str| v.ends_with(&format!("\u{1f}{source}"));
            assert_eq!(
                sum_of(&rows, "page*source", of, pageviews),
                one("source", source, pageviews)
            );
            assert_eq!(
                sum_of(&rows, "entry_page*source", of, visits),
                one("source", source, visits)
            );
            let first = |v: &str| v.starts_with(&format!("{source}\u{1f}"));
            assert_eq!(
                sum_of(&rows, "source*country", first, pageviews),
                one("source", source, pageviews)
            );
        }
        let home = |v: &str| v.starts_with("/\u{1f}");
        assert_eq!(
            sum_of(&rows, "page*source", home, pageviews),
            one("page", "/", pageviews)
        );
        assert_eq!(
            sum_of(&rows, "page*country", home, pageviews),
            one("page", "/", pageviews)
        );
        let pl = |v: &str| v.ends_with("\u{1f}PL");
        assert_eq!(
            sum_of(&rows, "page*country", pl, pageviews),
            one("country", "PL", pageviews)
        );
        let row = rows.iter().find(|r| r.dim == "page*source").unwrap();
        assert!(!row.visitors.is_empty() && row.value.split('\u{1f}').count() == 2);
    }

    #[test]
    fn goals_funnel_revenue_and_engagement_follow_the_declarations() {
        let rows = peak_hour();
        let one =
            |dim: &str, value: &str, f: fn(&AggRow) -> u64| sum_of(&rows, dim, |v| v == value, f);
        let hits = |r: &AggRow| r.hits;
        let events = |r: &AggRow| r.events;
        let visits = |r: &AggRow| r.visits;
        let revenue = |r: &AggRow| r.revenue;
        // Goals: one completion per signup event, /pricing view, purchase event.
        let signup = one("goal", "Signup", hits);
        assert_eq!(signup, one("event", "signup", events));
        assert_eq!(
            one("goal", "Pricing", hits),
            one("page", "/pricing", |r| r.pageviews)
        );
        let purchases = one("goal", "Purchase", hits);
        assert_eq!(purchases, one("event", "purchase", events));
        assert!(
            signup > 20 && purchases > 3 && purchases < signup,
            "{signup} signups, {purchases} purchases"
        );
        for goal in ["Signup", "Pricing", "Purchase"] {
            let of = |v: &str| v.ends_with(&format!("\u{1f}{goal}"));
            let completions = one("goal", goal, hits);
            for pair in [
                "source*goal",
                "entry_page*goal",
                "country*goal",
                "device*goal",
            ] {
                assert_eq!(sum_of(&rows, pair, of, hits), completions, "{pair} {goal}");
            }
            assert!(sum_of(&rows, "utm_campaign*goal", of, hits) <= completions);
            let converters = rows
                .iter()
                .find(|r| r.dim == "goal" && r.value == goal)
                .unwrap();
            assert!(converters.visitors.len() as u64 <= completions);
        }
        // The funnel: fewer visits at each step, the first at most the visits
        // that viewed /pricing, the last at most the purchases.
        let steps: Vec<u64> = (1..=3)
            .map(|i| one("funnel", &funnel_value("Checkout", i), visits))
            .collect();
        assert!(
            steps[0] > steps[1] && steps[1] > steps[2] && steps[2] > 0,
            "{steps:?}"
        );
        assert!(steps[0] <= one("page", "/pricing", |r| r.visitors.len() as u64) * 3);
        assert!(steps[1] <= signup && steps[2] <= purchases);
        // Revenue: the same euros under every currency cell, none elsewhere.
        let eur = one("currency", "EUR", revenue);
        assert!(eur >= purchases * 19_990, "{eur}");
        assert_eq!(one("event*currency", "purchase\u{1f}EUR", revenue), eur);
        assert_eq!(one("goal*currency", "Purchase\u{1f}EUR", revenue), eur);
        assert_eq!(sum_of(&rows, "source*currency", |_| true, revenue), eur);
        assert_eq!(one("goal*currency", "Purchase\u{1f}EUR", hits), purchases);
        let with_revenue: Vec<&str> = rows
            .iter()
            .filter(|r| r.revenue > 0)
            .map(|r| r.dim.as_str())
            .collect();
        assert!(with_revenue.iter().all(|d| [
            "currency",
            "event*currency",
            "goal*currency",
            "source*currency"
        ]
        .contains(d)));
        // Engagement: on most pageviews, as many on pages as in total.
        let engagements = one("total", "", |r| r.engagements);
        let pageviews = one("total", "", |r| r.pageviews);
        assert!(engagements * 10 > pageviews * 6 && engagements < pageviews);
        assert_eq!(
            sum_of(&rows, "page", |_| true, |r| r.engagements),
            engagements
        );
        assert_eq!(
            sum_of(&rows, "page", |_| true, |r| r.engaged_ms),
            one("total", "", |r| r.engaged_ms)
        );
        let scroll = one("total", "", |r| r.scroll_depth);
        assert!(scroll > engagements * 10 && scroll <= engagements * 100);
    }

    #[test]
    fn the_declarations_are_a_valid_site_configuration() {
        let text = format!("[[sites]]\nid = \"s\"\n{SITE_DECLARATIONS}");
        let config = veil::config::Config::from_toml_str(
            &text,
            std::path::Path::new("seed"),
            std::iter::empty(),
        )
        .expect("the declarations are a valid configuration");
        let site = &config.sites[0];
        let (goals, funnels) = declarations();
        assert_eq!(site.goals, goals);
        assert_eq!(site.funnels, funnels);
        assert!(site.pairs.is_none() && site.currencies.iter().any(|c| c == "EUR"));
        let conv = veil::model::Conversions::compile(site).unwrap();
        // Every pair the generator writes is declared (by default).
        let rows = peak_hour();
        let declared: Vec<&str> = conv.pairs.iter().map(|d| d.as_str()).collect();
        for r in rows.iter().filter(|r| r.dim.contains('*')) {
            assert!(
                declared.contains(&r.dim.as_str()),
                "{} is not declared",
                r.dim
            );
        }
        assert_eq!(declared.len(), veil::model::DEFAULT_PAIRS.len());
        for pair in veil::model::DEFAULT_PAIRS {
            assert!(
                rows.iter().any(|r| r.dim == pair),
                "{pair} is not generated"
            );
        }
    }

    #[test]
    fn raw_events_are_the_same_traffic_and_change_no_aggregate() {
        let model = build_model();
        let opts = SeedOptions {
            site: "s".into(),
            days: 1,
            pageviews_per_day: 24_000,
            rng_seed: 7,
            end_secs: 1_795_424_400,
            zone: std::sync::Arc::new(Zone::new("UTC").unwrap()),
            raw_events: Some("events_raw".into()),
        };
        let hour = 1_795_424_400 + 13 * 3_600 - 1_795_424_400 % 86_400;
        let mut raw = Vec::new();
        let plain = hour_rows(&model, &opts, hour, &mut StdRng::seed_from_u64(3), None);
        let with_raw = hour_rows(
            &model,
            &opts,
            hour,
            &mut StdRng::seed_from_u64(3),
            Some(&mut raw),
        );
        assert!(
            plain == with_raw,
            "collecting raw rows changes no aggregate row"
        );

        let urls = referrer_urls(&model);
        let rows: Vec<RawRow<'_>> = raw.iter().map(|h| raw_row(&model, &urls, "s", h)).collect();
        let agg = |dim: &str, value: &str, f: fn(&AggRow) -> u64| {
            plain
                .iter()
                .filter(|r| r.dim == dim && r.value == value)
                .map(f)
                .sum::<u64>()
        };
        let pageviews = rows.iter().filter(|r| r.name == "pageview").count() as u64;
        assert_eq!(pageviews, agg("total", "", |r| r.pageviews));
        let events = rows.iter().filter(|r| r.name != "pageview").count() as u64;
        assert_eq!(events, agg("total", "", |r| r.events));
        let home = rows
            .iter()
            .filter(|r| r.name == "pageview" && r.pathname == "/")
            .count() as u64;
        assert_eq!(home, agg("page", "/", |r| r.pageviews));

        // Sessions: one per visit, inside the hour; bounces are one-hit sessions.
        let mut sessions: HashMap<u64, (u32, u32, u64)> = HashMap::new();
        for r in &rows {
            assert!((hour..hour + HOUR_SECS).contains(&u64::from(r.timestamp)));
            let s = sessions.entry(r.session_id).or_insert((u32::MAX, 0, 0));
            s.0 = s.0.min(r.timestamp);
            s.1 = s.1.max(r.timestamp);
            s.2 += 1;
        }
        assert_eq!(sessions.len() as u64, agg("total", "", |r| r.visits));
        let bounces = sessions.values().filter(|s| s.2 == 1).count() as u64;
        assert_eq!(bounces, agg("total", "", |r| r.bounces));
        let duration: u64 = sessions.values().map(|s| u64::from(s.1 - s.0)).sum();
        let expected = agg("total", "", |r| r.duration);
        assert!(
            duration <= expected && duration * 100 >= expected * 95,
            "raw durations {duration} vs {expected} (only visits longer than the hour are cut)"
        );
        let mut visitors: Vec<u64> = rows.iter().map(|r| r.user_id).collect();
        visitors.sort_unstable();
        visitors.dedup();
        let total = plain
            .iter()
            .find(|r| r.dim == "total")
            .map(|r| r.visitors.len());
        assert_eq!(Some(visitors.len()), total);
        let signup_pro = rows
            .iter()
            .filter(|r| r.name == "signup" && r.meta_value == ["pro"] && r.meta_key == ["plan"])
            .count() as u64;
        assert_eq!(
            signup_pro,
            agg("prop", "signup\u{1f}plan\u{1f}pro", |r| r.events)
        );
    }
}
