//! User-Agent → coarse labels (browser, major version, OS, device class, bot flag).
//!
//! Why this module exists: veil must never store a User-Agent string (it is a high-entropy
//! fingerprinting input), yet aggregates per browser / OS / device are the point of analytics.
//! So the UA is reduced here, once per request, to a handful of low-cardinality labels
//! ([`Agent`]) and then dropped.
//!
//! How:
//! - [`woothee`] does the heavy lifting (browser, version, OS, category). It is regex-based and
//!   costs a few µs per string, so [`AgentParser`] puts a bounded, sharded cache in front of it.
//! - A thin layer on top fixes what woothee gets wrong or does not know about for today's
//!   traffic: in-app browsers (Facebook, Instagram, TikTok, ...), Samsung Internet's name,
//!   Android WebView's version, iPadOS, Opera Mini, Silk, headless Chrome.
//! - Bot detection is a hand-written rule set plus one-pass token scan, not a third-party list
//!   (see `looks_like_bot` in `rules.rs` and `BOT_TOKENS` in `tokens.rs` for the rules and
//!   why).
//!
//! Known limits of the UA itself (not of this parser), worth knowing when reading the numbers:
//! - Windows 11 sends "Windows NT 10.0": both report as Windows "10".
//! - Chrome's reduced UA (Chrome ≥ 110) sends "Android 10; K" on every Android ≥ 10, so Chrome on
//!   Android reports os_version "10" (read: "10 or later"). Firefox and Samsung Internet still
//!   send the real Android version.
//! - Every macOS browser sends "Mac OS X 10_15_7" / "10.15" since macOS 11: "10.15" means
//!   "10.15 or later".
//! - Safari 26 freezes iOS at "18_6" in the UA; for Safari we take the OS version from Safari's
//!   own version instead (Safari on iOS ships with, and is versioned like, the OS).
//! - iPadOS Safari sends a Mac UA by default; [`Agent::device_with_width`] can undo that with
//!   the screen width the beacon reports.
//!
//! Where things are: this file holds the public API ([`Agent`], [`DeviceClass`],
//! [`AgentParser`]); `cache.rs` the parser's sharded CLOCK cache; `tokens.rs` the token tables
//! and the one-pass matcher that finds them in a UA; `rules.rs` the rules that turn woothee's
//! answer and the token hits into labels.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use parking_lot::Mutex;

mod cache;
mod rules;
pub mod signals;
mod tokens;

use cache::Shard;
use rules::{classify, is_blank};
use tokens::Matcher;

/// The device class analytics reports: deliberately only four buckets, because finer device
/// data (models, screen sizes) adds fingerprinting entropy without helping a site owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeviceClass {
    /// Desktop and laptop computers (Windows, macOS, Linux, ChromeOS).
    Desktop,
    /// Phones.
    Mobile,
    /// Tablets (iPad, Android tablets, Kindle Fire).
    Tablet,
    /// TVs, consoles, and anything we cannot place, including most bots.
    Other,
}

impl DeviceClass {
    /// Stable lowercase label, used as the stored value (so renaming a variant never changes
    /// the data already written).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceClass::Desktop => "desktop",
            DeviceClass::Mobile => "mobile",
            DeviceClass::Tablet => "tablet",
            DeviceClass::Other => "other",
        }
    }
}

/// What veil keeps of a User-Agent: coarse labels only; the string itself is dropped.
///
/// Every field has a small, bounded set of values (major versions, not full ones) so that
/// the labels cannot single out a visitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// "Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet", in-app browsers
    /// ("Facebook", "Instagram", ...), a crawler's name for known crawlers; "Unknown" otherwise.
    pub browser: Box<str>,
    /// Major version only ("131"); "" when unknown.
    pub browser_version: Box<str>,
    /// "Windows", "macOS", "iOS", "iPadOS", "Android", "Linux", "ChromeOS", ...; "Unknown".
    pub os: Box<str>,
    /// Coarse OS version: "10" for Windows 10/11, "14" for Android 14, "17" for iOS 17.4,
    /// "10.15" for macOS (frozen by browsers); "" when unknown.
    pub os_version: Box<str>,
    /// Device class judged from the UA alone; see [`Agent::device_with_width`] for the
    /// refined one.
    pub device: DeviceClass,
    /// Crawlers, link-preview fetchers, monitors, headless browsers, HTTP libraries, empty or
    /// implausible UAs. Such hits are counted apart (or dropped), never as visitors.
    pub is_bot: bool,
}

/// Screen width (CSS px) from which a phone-class device is called a tablet. 600 is Android's
/// own phone/tablet line ("sw600dp"); phones are 320–480 CSS px wide in portrait.
pub const TABLET_MIN_WIDTH: u32 = 600;

/// Largest screen width (CSS px) at which a macOS UA is taken for an iPad in desktop mode.
/// iPadOS reports the portrait width whatever the orientation: 744 (mini) to 1024 (12.9" Pro)
/// and 1032 (13" M4 Pro). Macs report 1280 or more at default scaling (MacBook Air 11" was
/// 1366), so 1032 separates them; 1366 would misfile real Macs.
pub const IPAD_MAX_WIDTH: u32 = 1032;

impl Agent {
    /// Device class refined with the screen width the beacon reported (`screen.width`, CSS
    /// px), because the UA alone misfiles two large groups:
    /// - iPads running iPadOS ≥ 13 send a Mac UA ("Desktop"),
    /// - Android tablets and phones are told apart only by the "Mobile" token, which in-app
    ///   browsers and "desktop site" modes drop or fake.
    ///
    /// The rules (width `None` or 0 means unknown and leaves the UA's class unchanged):
    /// - Mobile or Tablet UA: width ≥ [`TABLET_MIN_WIDTH`] → Tablet, else Mobile.
    /// - Desktop macOS UA: width < [`TABLET_MIN_WIDTH`] → Mobile (iPhone "request desktop
    ///   site"), width ≤ [`IPAD_MAX_WIDTH`] → Tablet (iPad), else Desktop.
    /// - Other Desktop UA: width < [`TABLET_MIN_WIDTH`] → Mobile (Android "desktop site" sends
    ///   a Linux UA; no desktop screen is that narrow), else Desktop.
    /// - Other stays Other (TVs, consoles, bots).
    ///
    /// Caveat: on Android `screen.width` follows the orientation, so a phone held in landscape
    /// reports ≥ 600 and counts as a tablet; a beacon sending `min(screen.width,
    /// screen.height)` avoids that.
    pub fn device_with_width(&self, screen_width: Option<u32>) -> DeviceClass {
        let width = match screen_width {
            Some(w) if w > 0 => w,
            _ => return self.device,
        };
        match self.device {
            DeviceClass::Mobile | DeviceClass::Tablet => {
                if width >= TABLET_MIN_WIDTH {
                    DeviceClass::Tablet
                } else {
                    DeviceClass::Mobile
                }
            }
            DeviceClass::Desktop if width < TABLET_MIN_WIDTH => DeviceClass::Mobile,
            DeviceClass::Desktop if &*self.os == "macOS" && width <= IPAD_MAX_WIDTH => {
                DeviceClass::Tablet
            }
            other => other,
        }
    }

    /// The label set for an empty or absent UA: no browser sends one, so it is a bot.
    fn empty_bot() -> Agent {
        Agent {
            browser: UNKNOWN.into(),
            browser_version: "".into(),
            os: UNKNOWN.into(),
            os_version: "".into(),
            device: DeviceClass::Other,
            is_bot: true,
        }
    }
}

/// Default number of cached agents: a busy site sees a few thousand distinct UAs a day, and an
/// entry costs roughly 150 bytes, so this is ~2.5 MB at most.
pub const DEFAULT_CACHE_ENTRIES: usize = 16_384;

/// Bytes of a UA that are parsed. Real UAs are < 500 bytes (in-app browsers are the longest);
/// parsing more only lets a client make us burn CPU. A longer UA is flagged as a bot.
pub const MAX_PARSED_LEN: usize = 1024;

/// Upper bound on the number of shards; 16 locks make contention negligible on the few cores
/// veil runs on, and the lock is held only for a hash-map probe.
const MAX_SHARDS: usize = 16;

const UNKNOWN: &str = "Unknown";

/// Parses User-Agents with a bounded, sharded cache (UA strings repeat heavily; a woothee
/// parse costs ~2-3 µs, a cache hit ~60 ns).
///
/// Cache design, and why:
/// - Key: a 64-bit SipHash-1-3 of the UA bytes with per-process random keys (std's
///   `RandomState`). The cache never holds the UA itself. The hash is keyed so that a client
///   cannot craft a UA whose hash collides with a popular browser's and so poison its labels
///   (e.g. get every Chrome visitor counted as a bot); with an unkeyed fast hash
///   (FxHash, ...) that attack is easy.
/// - Shards: up to 16 `Mutex<Shard>` picked by the hash's high bits, so concurrent requests
///   rarely share a lock. The lock is never held while parsing.
/// - Bound: total entries ≤ `cache_entries` (each shard holds `cache_entries / shards`).
/// - Eviction: CLOCK (second chance). A full shard evicts the first entry not used since the
///   hand last passed it, so popular UAs survive a flood of one-off UAs (a scanner rotating
///   random UAs); clearing the whole shard would drop them too.
pub struct AgentParser {
    shards: Box<[Mutex<Shard>]>,
    /// log2 of the shard count (0..=4).
    shard_bits: u32,
    /// Capacity of each shard; 0 disables caching.
    per_shard: usize,
    hash_keys: RandomState,
    woothee: woothee::parser::Parser,
    matcher: Matcher,
    empty: Arc<Agent>,
}

impl AgentParser {
    /// A parser caching up to `cache_entries` agents; 0 disables caching (every call parses).
    pub fn new(cache_entries: usize) -> AgentParser {
        // Largest power of two ≤ min(MAX_SHARDS, cache_entries), at least 1, so that every
        // shard has room for at least one entry and the total never exceeds the bound.
        let shards = cache_entries.clamp(1, MAX_SHARDS);
        let shard_bits = usize::BITS - 1 - shards.leading_zeros();
        let shards = 1usize << shard_bits;
        let per_shard = cache_entries / shards;
        AgentParser {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            shard_bits,
            per_shard,
            hash_keys: RandomState::new(),
            woothee: woothee::parser::Parser::new(),
            matcher: Matcher::new(),
            empty: Arc::new(Agent::empty_bot()),
        }
    }

    /// Labels for `user_agent`, from the cache when possible. Never panics; an empty UA is a
    /// bot. The same UA returns the same `Arc` while it stays cached, so callers can compare
    /// or keep agents cheaply.
    pub fn parse(&self, user_agent: &str) -> Arc<Agent> {
        if is_blank(user_agent) {
            return Arc::clone(&self.empty);
        }
        if self.per_shard == 0 {
            return Arc::new(self.parse_uncached(user_agent));
        }
        let key = self.hash(user_agent);
        let shard = &self.shards[self.shard_index(key)];
        if let Some(agent) = shard.lock().get(key) {
            return agent;
        }
        let agent = Arc::new(self.parse_uncached(user_agent));
        shard.lock().insert(key, agent, self.per_shard)
    }

    /// Labels for `user_agent` without touching the cache (benchmarks, one-off tools).
    pub fn parse_uncached(&self, user_agent: &str) -> Agent {
        classify(&self.woothee, &self.matcher, user_agent)
    }

    /// Number of agents currently cached (sums the shards; takes each lock briefly).
    pub fn cache_len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }

    /// The most agents the cache will ever hold (≤ the `cache_entries` given to [`new`]).
    ///
    /// [`new`]: AgentParser::new
    pub fn cache_capacity(&self) -> usize {
        self.per_shard * self.shards.len()
    }

    fn hash(&self, user_agent: &str) -> u64 {
        let mut h = self.hash_keys.build_hasher();
        h.write(user_agent.as_bytes());
        h.finish()
    }

    fn shard_index(&self, key: u64) -> usize {
        // High bits; two shifts so that shard_bits == 0 never shifts by 64.
        ((key >> 32) >> (32 - self.shard_bits)) as usize
    }
}

impl Default for AgentParser {
    /// A parser with [`DEFAULT_CACHE_ENTRIES`].
    fn default() -> Self {
        AgentParser::new(DEFAULT_CACHE_ENTRIES)
    }
}

impl std::fmt::Debug for AgentParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentParser")
            .field("shards", &self.shards.len())
            .field("capacity", &self.cache_capacity())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/user_agents.txt"
    ));

    /// The tagged UA corpus in `benches/data/user_agents.txt`: (tag, UA) per line.
    pub(super) fn corpus() -> Vec<(&'static str, &'static str)> {
        CORPUS
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (tag, ua) = l.split_once('\t').expect("tagged line");
                (tag, ua)
            })
            .collect()
    }

    #[test]
    fn parser_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<AgentParser>();
        assert_send_sync::<Arc<Agent>>();
    }

    #[test]
    fn device_with_width_rules() {
        let p = AgentParser::new(0);
        let mac_safari = p.parse("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15");
        assert_eq!(mac_safari.device_with_width(None), DeviceClass::Desktop);
        assert_eq!(mac_safari.device_with_width(Some(0)), DeviceClass::Desktop);
        assert_eq!(
            mac_safari.device_with_width(Some(1440)),
            DeviceClass::Desktop
        );
        assert_eq!(
            mac_safari.device_with_width(Some(1280)),
            DeviceClass::Desktop
        );
        assert_eq!(
            mac_safari.device_with_width(Some(1024)),
            DeviceClass::Tablet
        );
        for ipad in [744, 820, 1032] {
            assert_eq!(
                mac_safari.device_with_width(Some(ipad)),
                DeviceClass::Tablet
            );
        }
        assert_eq!(
            mac_safari.device_with_width(Some(1033)),
            DeviceClass::Desktop
        );
        assert_eq!(mac_safari.device_with_width(Some(390)), DeviceClass::Mobile);

        let android_phone = p.parse("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36");
        assert_eq!(
            android_phone.device_with_width(Some(412)),
            DeviceClass::Mobile
        );
        assert_eq!(
            android_phone.device_with_width(Some(800)),
            DeviceClass::Tablet
        );
        assert_eq!(android_phone.device_with_width(None), DeviceClass::Mobile);

        let android_tablet = p.parse("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
        assert_eq!(
            android_tablet.device_with_width(Some(800)),
            DeviceClass::Tablet
        );
        assert_eq!(
            android_tablet.device_with_width(Some(360)),
            DeviceClass::Mobile
        );

        let windows = p.parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36");
        assert_eq!(windows.device_with_width(Some(1024)), DeviceClass::Desktop);
        assert_eq!(windows.device_with_width(Some(1920)), DeviceClass::Desktop);
        assert_eq!(windows.device_with_width(Some(412)), DeviceClass::Mobile);

        let tv = p.parse("Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.128 Safari/537.36 WebAppManager");
        assert_eq!(tv.device_with_width(Some(1920)), DeviceClass::Other);
        assert_eq!(tv.device_with_width(Some(400)), DeviceClass::Other);
    }

    #[test]
    fn device_class_labels() {
        assert_eq!(DeviceClass::Desktop.as_str(), "desktop");
        assert_eq!(DeviceClass::Mobile.as_str(), "mobile");
        assert_eq!(DeviceClass::Tablet.as_str(), "tablet");
        assert_eq!(DeviceClass::Other.as_str(), "other");
    }

    /// Release-mode timings: `cargo test --release -- --ignored --nocapture bench_`.
    /// Each figure is the best of 40 short runs (the build machine is shared and noisy).
    #[test]
    #[ignore]
    fn bench_parse() {
        use std::hint::black_box;
        use std::time::Instant;
        fn best(label: &str, ops: usize, mut f: impl FnMut()) {
            let mut best = f64::MAX;
            for _ in 0..40 {
                let t = Instant::now();
                f();
                best = best.min(t.elapsed().as_nanos() as f64 / ops as f64);
            }
            println!("{label:<34} {best:>7.0} ns/op");
        }
        let lines: Vec<&str> = corpus().into_iter().map(|(_, ua)| ua).collect();
        let n = lines.len();
        let p = AgentParser::new(0);
        let w = woothee::parser::Parser::new();
        let rounds = 3;
        best("woothee parse alone", rounds * n, || {
            for _ in 0..rounds {
                for ua in &lines {
                    black_box(w.parse(black_box(ua)));
                }
            }
        });
        best("token scan alone", rounds * n, || {
            for _ in 0..rounds {
                for ua in &lines {
                    black_box(p.matcher.scan(black_box(ua.as_bytes())));
                }
            }
        });
        best("cold parse (parse_uncached)", rounds * n, || {
            for _ in 0..rounds {
                for ua in &lines {
                    black_box(p.parse_uncached(black_box(ua)));
                }
            }
        });
        best("cold parse, cache 0 (new Arc)", rounds * n, || {
            for _ in 0..rounds {
                for ua in &lines {
                    black_box(p.parse(black_box(ua)));
                }
            }
        });
        let c = AgentParser::new(DEFAULT_CACHE_ENTRIES);
        for ua in &lines {
            black_box(c.parse(ua));
        }
        let rounds = 50;
        best("cached parse (hit)", rounds * n, || {
            for _ in 0..rounds {
                for ua in &lines {
                    black_box(c.parse(black_box(ua)));
                }
            }
        });
        best("  of which key hash (SipHash-1-3)", rounds * n, || {
            for _ in 0..rounds {
                for ua in &lines {
                    black_box(c.hash(black_box(ua)));
                }
            }
        });
        // For comparison only: an unkeyed FxHash-style hash (what we chose not to use).
        fn fx(bytes: &[u8]) -> u64 {
            let mut h = 0u64;
            let mut chunks = bytes.chunks_exact(8);
            for c in &mut chunks {
                let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
                h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
            }
            for &b in chunks.remainder() {
                h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
            }
            h
        }
        best("  (unkeyed FxHash, for comparison)", rounds * n, || {
            for _ in 0..rounds {
                for ua in &lines {
                    black_box(fx(black_box(ua.as_bytes())));
                }
            }
        });
        let c = Arc::new(c);
        best("cached parse, 2 threads (per op)", 2 * rounds * n, || {
            std::thread::scope(|s| {
                for _ in 0..2 {
                    let (c, lines) = (Arc::clone(&c), &lines);
                    s.spawn(move || {
                        for _ in 0..rounds {
                            for ua in lines {
                                black_box(c.parse(black_box(ua)));
                            }
                        }
                    });
                }
            });
        });
    }
}
