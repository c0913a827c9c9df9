//! Visits: an in-memory sessionizer keyed by the daily visitor hash.
//!
//! A visit starts with a visitor's first analytics-level hit and ends after
//! `pipeline.visit_timeout_secs` without a hit, when its day's salt is wiped, when
//! the visitor withdraws consent, when memory is short (`pipeline.max_live_visits`
//! or `pipeline.max_interned_bytes`: the least recently active visits are closed
//! early and counted), or at shutdown.
//! A closed visit becomes visits / bounces / duration / entry and exit counts in the
//! hourly aggregates of the hour it started; nothing of it is kept afterwards.
//!
//! Memory matters (one entry per live visitor): strings are interned once and a
//! visit holds 4-byte ids, so an entry is a few dozen bytes; the interner is
//! reference-counted, so strings leave memory with the last visit holding them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::model::Conversions;
use crate::privacy::agent::DeviceClass;
use crate::privacy::consent::Level;
use crate::privacy::geo::Country;
use crate::privacy::AnonHit;

/// Interned strings, reference-counted: id 0 is "none". Each live visit holds a
/// reference on every id it stores, and closing (or dropping) the visit releases
/// them; a string no visit holds is forgotten at once and its id reused. So the
/// interner holds only what live visits need and shrinks back after a flood of
/// unique referrers or pages: no cap that stops admitting, no `(other)` until
/// restart. Its size is bounded through the visits: at most ten strings per live
/// visit, and `Sessions` closes the least recently active visits early when the
/// strings' bytes pass `pipeline.max_interned_bytes`.
pub struct Interner {
    inner: RwLock<Interned>,
    /// Bytes of the distinct strings held (their text, not the table overhead).
    bytes: AtomicUsize,
}

/// Whether a table holds over four times the room its `len` entries need (and
/// more than a few thousand spare): then it is shrunk, since a map or vector
/// never gives capacity back by itself.
fn too_roomy(capacity: usize, len: usize) -> bool {
    capacity > len.saturating_mul(4).max(4_096)
}

/// Ids by string, the slots by id, and the free ids.
struct Interned {
    ids: HashMap<Arc<str>, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
}

/// One interned string and the visits holding it. The count is atomic so that
/// taking a reference on a known string needs only the read lock.
struct Slot {
    text: Option<Arc<str>>,
    refs: AtomicU32,
}

impl Interner {
    fn new() -> Interner {
        Interner {
            inner: RwLock::new(Interned {
                ids: HashMap::new(),
                slots: vec![Slot {
                    text: None,
                    refs: AtomicU32::new(0),
                }],
                free: Vec::new(),
            }),
            bytes: AtomicUsize::new(0),
        }
    }

    /// The id of `s`, with one more reference on it (0 for none or empty, which
    /// holds nothing). Every id taken must be given back with [`Self::release`].
    fn acquire(&self, s: Option<&str>) -> u32 {
        self.acquire_n(s, 1)
    }

    /// [`Self::acquire`] with `n` references at once (a new visit's entry and
    /// exit page are one lookup).
    fn acquire_n(&self, s: Option<&str>, n: u32) -> u32 {
        let Some(s) = s.filter(|s| !s.is_empty()) else {
            return 0;
        };
        {
            let r = self.inner.read();
            if let Some(&id) = r.ids.get(s) {
                r.slots[id as usize].refs.fetch_add(n, Ordering::Relaxed);
                return id;
            }
        }
        let mut w = self.inner.write();
        if let Some(&id) = w.ids.get(s) {
            w.slots[id as usize].refs.fetch_add(n, Ordering::Relaxed);
            return id;
        }
        let text: Arc<str> = Arc::from(s);
        let slot = Slot {
            text: Some(text.clone()),
            refs: AtomicU32::new(n),
        };
        let id = match w.free.pop() {
            Some(id) => {
                w.slots[id as usize] = slot;
                id
            }
            None => {
                w.slots.push(slot);
                (w.slots.len() - 1) as u32
            }
        };
        w.ids.insert(text, id);
        self.bytes.fetch_add(s.len(), Ordering::Relaxed);
        id
    }

    /// The id of `s` in place of `old` (a visit's new exit page): one read lock
    /// and no count change when the string is the same, as on a reload.
    fn replace(&self, old: u32, s: &str) -> u32 {
        {
            let r = self.inner.read();
            if let Some(&id) = r.ids.get(s) {
                if id == old {
                    return id;
                }
                r.slots[id as usize].refs.fetch_add(1, Ordering::Relaxed);
                let last = r
                    .slots
                    .get(old as usize)
                    .is_some_and(|o| old != 0 && o.refs.fetch_sub(1, Ordering::Relaxed) == 1);
                drop(r);
                if last {
                    self.forget_if_unused(old);
                }
                return id;
            }
        }
        let id = self.acquire(Some(s));
        self.release(old);
        id
    }

    /// Gives back one reference; the string is forgotten when none is left.
    fn release(&self, id: u32) {
        if id == 0 {
            return;
        }
        {
            let r = self.inner.read();
            let Some(slot) = r.slots.get(id as usize) else {
                return;
            };
            if slot.refs.fetch_sub(1, Ordering::Relaxed) != 1 {
                return;
            }
        }
        self.forget_if_unused(id);
    }

    /// Drops the string of `id` if its count is (still) zero: another visit may
    /// have taken it again before the write lock, so this looks once more.
    fn forget_if_unused(&self, id: u32) {
        let mut w = self.inner.write();
        let Interned { ids, slots, free } = &mut *w;
        let slot = &mut slots[id as usize];
        if slot.refs.load(Ordering::Relaxed) != 0 {
            return;
        }
        if let Some(text) = slot.text.take() {
            ids.remove(&text);
            free.push(id);
            self.bytes.fetch_sub(text.len(), Ordering::Relaxed);
        }
    }

    /// Gives the tables' spare capacity back after a flood: a map keeps its
    /// capacity when entries leave, so without this the interner would hold a
    /// flood's worth of empty slots. Once nothing is interned the slot table
    /// starts over.
    fn compact(&self) {
        let mut w = self.inner.write();
        let Interned { ids, slots, free } = &mut *w;
        if ids.is_empty() && slots.len() > 1 {
            slots.truncate(1);
            free.clear();
        }
        if too_roomy(ids.capacity(), ids.len()) {
            ids.shrink_to_fit();
        }
        if too_roomy(slots.capacity(), slots.len()) {
            slots.shrink_to_fit();
        }
        if too_roomy(free.capacity(), free.len()) {
            free.shrink_to_fit();
        }
    }

    fn get(&self, id: u32) -> Option<Arc<str>> {
        (id != 0)
            .then(|| {
                self.inner
                    .read()
                    .slots
                    .get(id as usize)
                    .and_then(|s| s.text.clone())
            })
            .flatten()
    }

    /// Distinct strings held.
    pub fn len(&self) -> usize {
        self.inner.read().ids.len()
    }

    /// Whether no string is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the distinct strings held.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// One live visit (kept small: ids instead of strings).
#[derive(Clone, Debug)]
struct Visit {
    site: u32,
    /// Start of the local hour of the first hit: the cells the visit counts in.
    hour: u32,
    start: u32,
    last: u32,
    entry: u32,
    exit: u32,
    referrer: u32,
    channel: u32,
    utm: [u32; 3],
    region: u32,
    browser: u32,
    os: u32,
    pageviews: u16,
    events: u16,
    country: Option<Country>,
    device: Option<DeviceClass>,
    level: Level,
    withheld: u16,
    /// Progress through the site's funnels, 4 bits each (`model::goals`).
    funnels: u32,
}

/// A finished visit, with its strings resolved, ready to aggregate.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedVisit {
    /// Site index.
    pub site: u32,
    /// Start of the hour the visit began in.
    pub hour: u32,
    /// The visitor hash (folded into the visitor sketches of the visit's cells).
    pub visitor: u64,
    /// First page.
    pub entry: Arc<str>,
    /// Last page.
    pub exit: Arc<str>,
    /// Referrer host of the first hit.
    pub referrer: Option<Arc<str>>,
    /// Traffic source channel of the first hit.
    pub channel: Option<Arc<str>>,
    /// utm_source, utm_medium, utm_campaign of the first hit.
    pub utm: [Option<Arc<str>>; 3],
    /// Country.
    pub country: Option<Country>,
    /// Region.
    pub region: Option<Arc<str>>,
    /// Device class.
    pub device: Option<DeviceClass>,
    /// Browser name.
    pub browser: Option<Arc<str>>,
    /// OS name.
    pub os: Option<Arc<str>>,
    /// Pageviews in the visit.
    pub pageviews: u32,
    /// Seconds from first to last hit.
    pub duration: u32,
    /// One pageview and no engagement event.
    pub bounce: bool,
    /// Data groups the visitor's consent does not cover (not written).
    pub withheld: u16,
}

/// What the aggregator learns about a hit's visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VisitInfo {
    /// The hit started a new visit.
    pub new: bool,
    /// Source channel of the visit's first hit.
    pub channel: Option<Arc<str>>,
    /// Where the visit came from, for hits credited to it (custom events and
    /// goal completions); `None` for other hits, which need no lookups.
    pub origin: Option<Origin>,
    /// The visit's funnel progress before and after this hit.
    pub funnels: (u32, u32),
}

/// The first-hit attributes of a visit that events and goals are credited to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Entry page.
    pub entry: Arc<str>,
    /// Referrer host.
    pub referrer: Option<Arc<str>>,
    /// utm_source, utm_medium, utm_campaign.
    pub utm: [Option<Arc<str>>; 3],
}

/// The sharded visit table.
pub struct Sessions {
    shards: Box<[Mutex<HashMap<u64, Visit>>]>,
    interner: Interner,
    timeout_secs: u32,
    max_live: usize,
    max_interned_bytes: usize,
    live: AtomicUsize,
    /// Visits closed early because `max_live` or `max_interned_bytes` was reached.
    pub evicted: AtomicU64,
    /// Visits dropped because the visitor withdrew consent.
    pub withdrawn: AtomicU64,
}

impl Sessions {
    /// A table of at most `max_live` visits in `shards` shards, whose strings
    /// take at most about `max_interned_bytes` (past it the least recently active
    /// visits are closed early, like past `max_live`).
    pub fn new(
        shards: usize,
        timeout_secs: u32,
        max_live: usize,
        max_interned_bytes: usize,
    ) -> Sessions {
        Sessions {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            interner: Interner::new(),
            timeout_secs: timeout_secs.max(1),
            max_live: max_live.max(1),
            max_interned_bytes: max_interned_bytes.max(1),
            live: AtomicUsize::new(0),
            evicted: AtomicU64::new(0),
            withdrawn: AtomicU64::new(0),
        }
    }

    fn shard(&self, visitor: u64) -> &Mutex<HashMap<u64, Visit>> {
        &self.shards[(visitor % self.shards.len() as u64) as usize]
    }

    /// Live visits.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// Live visits of a site active since `since` (Unix seconds): realtime visitors.
    pub fn active_since(&self, site: u32, since: u32) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .values()
                    .filter(|v| v.site == site && v.last >= since)
                    .count()
            })
            .sum()
    }

    /// Adds a hit to its visitor's visit. `channel` is the traffic source of the
    /// hit (used when it starts a visit). Returns what the aggregator needs, and
    /// visits closed by this call (a timed-out or consent-lowered visit of the same
    /// visitor, or early closes when full).
    ///
    /// `conv` holds the site's goals and funnels: the visit's funnel progress moves
    /// on here, and hits that complete a goal (or are custom events) learn the
    /// visit's origin.
    pub fn touch(
        &self,
        hit: &AnonHit,
        now: u32,
        channel: Option<&str>,
        conv: &Conversions,
    ) -> (Option<VisitInfo>, Vec<ClosedVisit>) {
        let Some(visitor) = hit.visitor else {
            return (None, Vec::new());
        };
        let mut closed = Vec::new();
        let page = (hit.event.is_none()).then_some(&*hit.path);
        let event = hit.event.as_deref();
        let credited = event.is_some() || conv.goals_hit(None, &hit.path).next().is_some();
        let mut shard = self.shard(visitor).lock();
        if let Some(v) = shard.get_mut(&visitor) {
            let expired = now.saturating_sub(v.last) >= self.timeout_secs;
            // Fewer categories than before (a lower level, or a newly withheld
            // group) drops the visit's state.
            let consent_lowered =
                hit.level < v.level || hit.withheld & !v.withheld != 0 || v.site != hit.site;
            if !expired && !consent_lowered {
                v.last = now.max(v.last);
                match page {
                    Some(p) => {
                        v.pageviews = v.pageviews.saturating_add(1);
                        v.exit = self.interner.replace(v.exit, p);
                    }
                    None => v.events = v.events.saturating_add(1),
                }
                let before = v.funnels;
                v.funnels = conv.advance(before, event, &hit.path);
                let info = VisitInfo {
                    new: false,
                    channel: self.interner.get(v.channel),
                    origin: credited.then(|| Origin {
                        entry: self.interner.get(v.entry).unwrap_or_else(|| Arc::from("/")),
                        referrer: self.interner.get(v.referrer),
                        utm: v.utm.map(|id| self.interner.get(id)),
                    }),
                    funnels: (before, v.funnels),
                };
                return (Some(info), closed);
            }
            if let Some(old) = shard.remove(&visitor) {
                self.live.fetch_sub(1, Ordering::Relaxed);
                if consent_lowered {
                    // Withdrawal drops the state: nothing more is derived from it.
                    self.withdrawn.fetch_add(1, Ordering::Relaxed);
                    self.release(&old);
                } else {
                    closed.push(self.close(visitor, old));
                }
            }
        }
        let i = &self.interner;
        let path = i.acquire_n(Some(&hit.path), 2);
        let visit = Visit {
            site: hit.site,
            hour: hit.hour,
            start: now,
            last: now,
            entry: path,
            exit: path,
            referrer: i.acquire(hit.referrer.as_deref()),
            channel: i.acquire(channel),
            utm: [0, 1, 2].map(|u| i.acquire(hit.utm[u].as_deref())),
            region: i.acquire(hit.region.as_deref()),
            browser: i.acquire(hit.agent.as_ref().map(|a| &*a.browser)),
            os: i.acquire(hit.agent.as_ref().map(|a| &*a.os)),
            pageviews: u16::from(page.is_some()),
            events: u16::from(page.is_none()),
            country: hit.country,
            device: hit.device,
            level: hit.level,
            withheld: hit.withheld,
            funnels: conv.advance(0, event, &hit.path),
        };
        let funnels = (0, visit.funnels);
        shard.insert(visitor, visit);
        drop(shard);
        let full = self.live.fetch_add(1, Ordering::Relaxed) + 1 > self.max_live;
        if full || self.interner.bytes() > self.max_interned_bytes {
            closed.extend(self.evict_oldest());
        }
        let info = VisitInfo {
            new: true,
            channel: channel.map(Arc::from),
            origin: credited.then(|| Origin {
                entry: Arc::from(&*hit.path),
                referrer: hit.referrer.as_deref().map(Arc::from),
                utm: [0, 1, 2].map(|i| hit.utm[i].as_deref().map(Arc::from)),
            }),
            funnels,
        };
        (Some(info), closed)
    }

    /// Drops a visitor's visit without recording it (consent withdrawn).
    pub fn forget(&self, visitor: u64) -> bool {
        let removed = self.shard(visitor).lock().remove(&visitor);
        if let Some(v) = &removed {
            self.live.fetch_sub(1, Ordering::Relaxed);
            self.withdrawn.fetch_add(1, Ordering::Relaxed);
            self.release(v);
        }
        removed.is_some()
    }

    /// Closes visits idle for the timeout, and visits whose salt is gone
    /// (`holds_salt(site, start)` is false), so no visit outlives its salt.
    pub fn sweep(&self, now: u32, holds_salt: impl Fn(u32, u32) -> bool) -> Vec<ClosedVisit> {
        let mut closed = Vec::new();
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            let before = s.len();
            let mut ended = Vec::new();
            s.retain(|k, v| {
                let keep =
                    now.saturating_sub(v.last) < self.timeout_secs && holds_salt(v.site, v.start);
                if !keep {
                    ended.push((*k, v.clone()));
                }
                keep
            });
            self.live.fetch_sub(before - s.len(), Ordering::Relaxed);
            if too_roomy(s.capacity(), s.len()) {
                s.shrink_to_fit();
            }
            drop(s);
            closed.extend(ended.into_iter().map(|(k, v)| self.close(k, v)));
        }
        if !closed.is_empty() {
            self.interner.compact();
        }
        closed
    }

    /// Closes every visit (shutdown).
    pub fn close_all(&self) -> Vec<ClosedVisit> {
        self.sweep(0, |_, _| false)
    }

    /// Closes the least recently active eighth of the fullest shard.
    fn evict_oldest(&self) -> Vec<ClosedVisit> {
        let Some(shard) = self.shards.iter().max_by_key(|s| s.lock().len()) else {
            return Vec::new();
        };
        let mut s = shard.lock();
        let mut lasts: Vec<u32> = s.values().map(|v| v.last).collect();
        if lasts.is_empty() {
            return Vec::new();
        }
        let k = (lasts.len() / 8).max(1);
        let (_, cutoff, _) = lasts.select_nth_unstable(k - 1);
        let cutoff = *cutoff;
        let mut ended = Vec::new();
        s.retain(|key, v| {
            let keep = v.last > cutoff || ended.len() >= k;
            if !keep {
                ended.push((*key, v.clone()));
            }
            keep
        });
        drop(s);
        self.live.fetch_sub(ended.len(), Ordering::Relaxed);
        self.evicted
            .fetch_add(ended.len() as u64, Ordering::Relaxed);
        ended.into_iter().map(|(k, v)| self.close(k, v)).collect()
    }

    /// Gives back the interned strings of a visit that is gone.
    fn release(&self, v: &Visit) {
        let ids = [
            v.entry, v.exit, v.referrer, v.channel, v.region, v.browser, v.os,
        ];
        for id in ids.into_iter().chain(v.utm) {
            self.interner.release(id);
        }
    }

    /// Resolves a removed visit's strings, then releases them.
    fn close(&self, visitor: u64, v: Visit) -> ClosedVisit {
        let closed = ClosedVisit {
            site: v.site,
            hour: v.hour,
            visitor,
            entry: self.interner.get(v.entry).unwrap_or_else(|| Arc::from("/")),
            exit: self.interner.get(v.exit).unwrap_or_else(|| Arc::from("/")),
            referrer: self.interner.get(v.referrer),
            channel: self.interner.get(v.channel),
            utm: v.utm.map(|id| self.interner.get(id)),
            country: v.country,
            region: self.interner.get(v.region),
            device: v.device,
            browser: self.interner.get(v.browser),
            os: self.interner.get(v.os),
            pageviews: u32::from(v.pageviews),
            duration: v.last - v.start,
            bounce: v.pageviews <= 1 && v.events == 0,
            withheld: v.withheld,
        };
        self.release(&v);
        closed
    }

    /// The interned strings live visits hold (for metrics).
    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// Approximate bytes held per live visit (table entries; the interner is shared).
    pub fn bytes_per_entry() -> usize {
        std::mem::size_of::<(u64, Visit)>() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::consent::Decision;

    fn hit(visitor: u64, path: &str, event: Option<&str>) -> AnonHit {
        AnonHit {
            event: event.map(Box::from),
            visitor: Some(visitor),
            referrer: Some("google.com".into()),
            country: Country::parse("PL"),
            device: Some(DeviceClass::Desktop),
            ..AnonHit::new(0, 0, Level::Analytics, Decision::Analytics, path.into())
        }
    }

    #[test]
    fn a_visit_tracks_entry_exit_duration_and_bounce() {
        let s = Sessions::new(4, 1800, 1000, 1 << 30);
        let (info, closed) = s.touch(
            &hit(7, "/a", None),
            100,
            Some("search"),
            &Conversions::default(),
        );
        assert!(info.unwrap().new && closed.is_empty());
        let (info, _) = s.touch(&hit(7, "/b", None), 160, None, &Conversions::default());
        assert_eq!(info.unwrap().channel.as_deref(), Some("search"));
        s.touch(&hit(8, "/c", None), 100, None, &Conversions::default());
        assert_eq!(s.live(), 2);
        let mut closed = s.sweep(100 + 1800 + 60, |_, _| true);
        closed.sort_by_key(|c| c.visitor);
        assert_eq!(closed.len(), 2);
        assert_eq!((&*closed[0].entry, &*closed[0].exit), ("/a", "/b"));
        assert_eq!((closed[0].duration, closed[0].bounce), (60, false));
        assert!(closed[1].bounce);
        assert_eq!(s.live(), 0);
    }

    #[test]
    fn an_event_is_engagement_and_timeouts_start_new_visits() {
        let s = Sessions::new(2, 1800, 1000, 1 << 30);
        s.touch(&hit(1, "/a", None), 0, None, &Conversions::default());
        s.touch(
            &hit(1, "/a", Some("signup")),
            10,
            None,
            &Conversions::default(),
        );
        let (info, closed) = s.touch(&hit(1, "/a", None), 5000, None, &Conversions::default());
        assert!(info.unwrap().new);
        assert_eq!(closed.len(), 1);
        assert!(!closed[0].bounce);
    }

    #[test]
    fn withdrawal_and_lowered_consent_drop_the_visit_unrecorded() {
        let s = Sessions::new(2, 1800, 1000, 1 << 30);
        let mut h = hit(3, "/a", None);
        h.level = Level::Marketing;
        s.touch(&h, 0, None, &Conversions::default());
        let (_, closed) = s.touch(&hit(3, "/b", None), 10, None, &Conversions::default());
        assert!(
            closed.is_empty(),
            "marketing → analytics drops the old visit"
        );
        assert_eq!(s.withdrawn.load(Ordering::Relaxed), 1);
        assert!(s.forget(3));
        assert_eq!(s.live(), 0);
    }

    #[test]
    fn memory_is_bounded_by_early_closes() {
        let s = Sessions::new(4, 1800, 100, 1 << 30);
        let mut closed = 0;
        for v in 0..1000u64 {
            closed += s
                .touch(&hit(v, "/", None), v as u32, None, &Conversions::default())
                .1
                .len();
        }
        assert!(s.live() <= 100, "live {}", s.live());
        assert_eq!(closed + s.live(), 1000);
        assert_eq!(s.evicted.load(Ordering::Relaxed) as usize, closed);
    }

    #[test]
    fn strings_are_given_back_when_their_visits_end() {
        let s = Sessions::new(4, 1800, 10_000, 1 << 30);
        let long = "x".repeat(30_000);
        for v in 0..200u64 {
            let mut h = hit(v, &format!("/entry/{v}/{long}"), None);
            h.referrer = Some(format!("r{v}.example").into());
            h.utm[0] = Some(format!("source-{v}").into());
            s.touch(&h, 10, None, &Conversions::default());
            s.touch(
                &hit(v, &format!("/exit/{v}"), None),
                20,
                None,
                &Conversions::default(),
            );
        }
        assert!(s.interner().len() >= 600 && s.interner().bytes() > 200 * 30_000);
        // Withdrawal and the timeout both give everything back.
        assert!(s.forget(0));
        let closed = s.sweep(20 + 1800, |_, _| true);
        assert_eq!(closed.len(), 199);
        assert!(closed.iter().all(|c| c.exit.starts_with("/exit/")));
        assert_eq!(
            (s.live(), s.interner().len(), s.interner().bytes()),
            (0, 0, 0)
        );
        // The table does not keep a flood's worth of empty slots.
        for v in 0..200u64 {
            s.touch(
                &hit(v, &format!("/again/{v}"), None),
                4000,
                None,
                &Conversions::default(),
            );
        }
        // The table started over once it was empty: only the new strings (one
        // page per visit, entry and exit alike, and the label they share) hold
        // slots, not the 800 of before.
        assert_eq!(s.interner().inner.read().slots.len(), 1 + 200 + 1);
        assert_eq!(s.close_all().len(), 200);
        assert!(s.interner().is_empty());
    }

    #[test]
    fn too_many_string_bytes_close_the_oldest_visits() {
        let s = Sessions::new(1, 1800, 1_000_000, 1 << 20);
        let long = "y".repeat(16_000);
        let mut closed = 0;
        for v in 0..1_000u64 {
            let h = hit(v, &format!("/{v}/{long}"), None);
            closed += s.touch(&h, v as u32, None, &Conversions::default()).1.len();
        }
        assert!(
            s.interner().bytes() <= (1 << 20) + 16_100,
            "{}",
            s.interner().bytes()
        );
        assert_eq!(s.evicted.load(Ordering::Relaxed) as usize, closed);
        assert_eq!(closed + s.live(), 1_000);
    }

    #[test]
    fn visits_do_not_outlive_their_salt() {
        let s = Sessions::new(2, 1800, 100, 1 << 30);
        s.touch(&hit(1, "/", None), 10, None, &Conversions::default());
        assert_eq!(s.sweep(20, |_, _| true).len(), 0);
        assert_eq!(s.sweep(20, |_, _| false).len(), 1);
    }

    #[test]
    #[ignore = "measurement: cargo test --release -- --ignored --nocapture bytes_per_live_visit"]
    fn bytes_per_live_visit() {
        fn rss_kb() -> usize {
            std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                .unwrap()
        }
        let n = 1_000_000u64;
        let paths: Vec<String> = (0..500).map(|i| format!("/page/{i}")).collect();
        let before = rss_kb();
        let s = Sessions::new(16, 1800, 2_000_000, 1 << 30);
        for v in 0..n {
            let h = hit(
                v.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                &paths[(v % 500) as usize],
                None,
            );
            s.touch(&h, 0, Some("search"), &Conversions::default());
        }
        let after = rss_kb();
        println!(
            "{} live visits: {} bytes per visit (RSS delta), entry size {} bytes",
            s.live(),
            (after - before) * 1024 / n as usize,
            Sessions::bytes_per_entry()
        );
    }
}
