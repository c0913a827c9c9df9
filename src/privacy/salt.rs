//! Daily salts of the visitor hash, one per site time zone.
//!
//! A salt is 32 random bytes that exists only for its local day (the site's day)
//! plus a grace period. One task ([`run_rotation`]) rotates each zone's salt at its
//! local midnight and wipes yesterday's after the grace, so once it is gone no one
//! — not veil, not a database reader — can recompute a hash of that day, and the
//! same visitor on two days gets two unrelated hashes. Sites in the same zone share
//! a salt; the hash includes the site id, so their hashes are unrelated anyway. The
//! salt is never written to ClickHouse or a log; the optional state file (mode
//! 0600) only lets a restart keep today's hashes stable.
//!
//! A day is `[local midnight, next local midnight)` ([`crate::clock::zone`]): 23 or
//! 25 hours on daylight-saving days, and offset by 30 or 45 minutes from UTC hours
//! in zones such as Asia/Kolkata or Asia/Kathmandu.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::clock::zone::{UnknownZone, Zone};
use crate::clock::{Clock, DAY_SECS};

/// Errors reading or writing the salt state file (never contains a salt).
#[derive(Debug, thiserror::Error)]
pub enum SaltError {
    /// The state file could not be written.
    #[error("cannot write salt state file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A site's time zone is not in the time zone database.
    #[error(transparent)]
    Zone(UnknownZone),
}

/// One day's key, wiped from memory when dropped.
#[derive(Clone)]
struct DaySalt {
    day: u32,
    key: [u8; 32],
}

impl Drop for DaySalt {
    fn drop(&mut self) {
        // Volatile writes so the compiler cannot elide the wipe of a dead value.
        for b in self.key.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference into `self.key`.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// One zone's salts: today's, and yesterday's during the grace period.
struct State {
    current: DaySalt,
    previous: Option<DaySalt>,
}

/// The zone at `index` (indices out of range wrap: there is always one zone).
fn at(zones: &[Arc<ZoneSalts>], index: usize) -> &ZoneSalts {
    &zones[index % zones.len()]
}

/// One time zone and its salts.
struct ZoneSalts {
    zone: Arc<Zone>,
    state: RwLock<State>,
}

/// The salts in memory, per time zone.
pub struct SaltKeeper {
    clock: Arc<dyn Clock>,
    grace_secs: u64,
    state_file: Option<PathBuf>,
    /// By zone index. Only grows ([`SaltKeeper::add_zone`], a configuration
    /// reload bringing a site in a new zone), so an index never changes meaning.
    zones: ArcSwap<Vec<Arc<ZoneSalts>>>,
    /// Held while a zone is added (two reloads at once add it once).
    adding: parking_lot::Mutex<()>,
    /// Held while the state file is written, so each write holds every zone the
    /// last one did (a rotation and an added zone at once).
    writing: parking_lot::Mutex<()>,
}

/// One zone's entry in the state file.
#[derive(Serialize, Deserialize)]
struct ZoneFile {
    current_day: u32,
    current: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous_day: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    previous: Option<String>,
}

/// The state file: zone name → salts. (A file of the single-UTC-salt format of
/// schema v1 does not parse and is replaced: today's hashes change once at upgrade.)
#[derive(Serialize, Deserialize, Default)]
struct StateFile {
    zones: std::collections::BTreeMap<String, ZoneFile>,
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

fn hex(key: &[u8; 32]) -> String {
    key.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// A zone's salts at start: today's and (within the grace) yesterday's from the
/// state file when still valid, else a fresh salt for today.
fn restore(zone: &Zone, now: u64, grace_secs: u64, saved: Option<&ZoneFile>) -> State {
    let today = zone.day_of(now);
    let in_grace = now < zone.day_start(today) + grace_secs;
    let fresh = || DaySalt {
        day: today,
        key: random_key(),
    };
    match saved {
        Some(f) if f.current_day == today => {
            let previous = match (f.previous_day, f.previous.as_deref().and_then(unhex)) {
                (Some(day), Some(key)) if day + 1 == today && in_grace => {
                    Some(DaySalt { day, key })
                }
                _ => None,
            };
            match unhex(&f.current) {
                Some(key) => State {
                    current: DaySalt { day: today, key },
                    previous,
                },
                None => State {
                    current: fresh(),
                    previous: None,
                },
            }
        }
        Some(f) if f.current_day + 1 == today && in_grace => State {
            current: fresh(),
            previous: unhex(&f.current).map(|key| DaySalt {
                day: f.current_day,
                key,
            }),
        },
        _ => State {
            current: fresh(),
            previous: None,
        },
    }
}

impl SaltKeeper {
    /// Creates today's salt of every zone in `zones` (IANA names; duplicates
    /// share one salt), or takes it (and yesterday's, within grace) from the state
    /// file when one is configured and still valid.
    pub fn new(
        clock: Arc<dyn Clock>,
        grace_secs: u64,
        state_file: Option<PathBuf>,
        zones: &[&str],
    ) -> Result<SaltKeeper, SaltError> {
        let now = clock.now_secs();
        let saved = state_file
            .as_deref()
            .and_then(read_state_file)
            .unwrap_or_default();
        let mut names: Vec<&str> = zones.to_vec();
        if names.is_empty() {
            names.push("UTC");
        }
        names.sort_unstable();
        names.dedup();
        let zones: Vec<Arc<ZoneSalts>> = names
            .iter()
            .map(|n| {
                let zone = Zone::new(n).map_err(SaltError::Zone)?;
                let state = restore(&zone, now, grace_secs, saved.zones.get(zone.name()));
                Ok(Arc::new(ZoneSalts {
                    zone: Arc::new(zone),
                    state: RwLock::new(state),
                }))
            })
            .collect::<Result<_, SaltError>>()?;
        let keeper = SaltKeeper {
            clock,
            grace_secs,
            state_file,
            zones: ArcSwap::from_pointee(zones),
            adding: parking_lot::Mutex::new(()),
            writing: parking_lot::Mutex::new(()),
        };
        keeper.persist()?;
        Ok(keeper)
    }

    /// The index of a zone name, for [`SaltKeeper::visitor_hash`] and friends.
    pub fn zone_index(&self, name: &str) -> Option<usize> {
        self.zones.load().iter().position(|z| z.zone.name() == name)
    }

    /// The index of zone `name`, adding it (today's salt, or the one the state
    /// file still holds for it) when no site had it yet: a configuration reload
    /// that brings a site in a new time zone.
    pub fn add_zone(&self, name: &str) -> Result<usize, SaltError> {
        let _one = self.adding.lock();
        if let Some(i) = self.zone_index(name) {
            return Ok(i);
        }
        let zone = Zone::new(name).map_err(SaltError::Zone)?;
        let saved = self
            .state_file
            .as_deref()
            .and_then(read_state_file)
            .unwrap_or_default();
        let state = restore(
            &zone,
            self.clock.now_secs(),
            self.grace_secs,
            saved.zones.get(name),
        );
        let mut zones = Vec::clone(&self.zones.load());
        zones.push(Arc::new(ZoneSalts {
            zone: Arc::new(zone),
            state: RwLock::new(state),
        }));
        let index = zones.len() - 1;
        self.zones.store(Arc::new(zones));
        self.persist()?;
        Ok(index)
    }

    /// The zone at `index`.
    pub fn zone(&self, index: usize) -> Arc<Zone> {
        at(&self.zones.load(), index).zone.clone()
    }

    /// The visitor hash of (site, IP, User-Agent) under today's salt of zone
    /// `zone`: a keyed BLAKE3 over length-prefixed fields (so `("ab","c")` and
    /// `("a","bc")` differ), cut to 64 bits, which is plenty for counting and too
    /// short to be worth reversing.
    pub fn visitor_hash(&self, zone: usize, site: &str, ip: IpAddr, user_agent: &str) -> u64 {
        let zones = self.zones.load();
        let state = at(&zones, zone).state.read();
        visitor_hash_with(&state.current.key, site, ip, user_agent)
    }

    /// Rotates and wipes as the clock says: a new salt in every zone whose day
    /// changed, and yesterday's dropped once the grace has passed. Returns whether
    /// anything changed.
    pub fn tick(&self) -> Result<bool, SaltError> {
        let now = self.clock.now_secs();
        let mut changed = false;
        for z in self.zones.load().iter() {
            let zone = &z.zone;
            let today = zone.day_of(now);
            let mut state = z.state.write();
            if state.current.day != today {
                let fresh = DaySalt {
                    day: today,
                    key: random_key(),
                };
                let old = std::mem::replace(&mut state.current, fresh);
                state.previous = (old.day + 1 == today).then_some(old);
                changed = true;
            }
            let expired = state
                .previous
                .as_ref()
                .is_some_and(|p| now >= zone.day_start(p.day + 1) + self.grace_secs);
            if expired {
                state.previous = None;
                changed = true;
            }
        }
        if changed {
            self.persist()?;
        }
        Ok(changed)
    }

    /// Seconds until the next rotation or wipe is due in any zone.
    pub fn secs_until_next_event(&self) -> u64 {
        let now = self.clock.now_secs();
        self.zones
            .load()
            .iter()
            .map(|z| {
                let zone = &z.zone;
                let next_midnight = zone.day_start(zone.day_of(now) + 1);
                let wipe = z
                    .state
                    .read()
                    .previous
                    .as_ref()
                    .map(|p| zone.day_start(p.day + 1) + self.grace_secs);
                wipe.map_or(next_midnight, |w| w.min(next_midnight))
            })
            .min()
            .unwrap_or(now + DAY_SECS)
            .saturating_sub(now)
    }

    /// The local days whose salts are in memory, per zone name (for logs and tests).
    pub fn days_in_memory(&self) -> Vec<(String, Vec<u32>)> {
        self.zones
            .load()
            .iter()
            .map(|z| {
                let s = z.state.read();
                let days = std::iter::once(s.current.day)
                    .chain(s.previous.as_ref().map(|p| p.day))
                    .collect();
                (z.zone.name().to_string(), days)
            })
            .collect()
    }

    /// Whether the salt of zone `zone`'s local day `day` is still in memory.
    pub fn holds_day(&self, zone: usize, day: u32) -> bool {
        let zones = self.zones.load();
        let s = at(&zones, zone).state.read();
        s.current.day == day || s.previous.as_ref().is_some_and(|p| p.day == day)
    }

    /// Whether the salt under which a visit that started at `start` (Unix
    /// seconds) was hashed is still in memory.
    pub fn holds_time(&self, zone: usize, start: u64) -> bool {
        let day = self.zone(zone).day_of(start);
        self.holds_day(zone, day)
    }

    /// The state file, if configured.
    pub fn state_file(&self) -> Option<&Path> {
        self.state_file.as_deref()
    }

    fn persist(&self) -> Result<(), SaltError> {
        let Some(path) = &self.state_file else {
            return Ok(());
        };
        let _one = self.writing.lock();
        let mut body = StateFile::default();
        for z in self.zones.load().iter() {
            let state = z.state.read();
            body.zones.insert(
                z.zone.name().to_string(),
                ZoneFile {
                    current_day: state.current.day,
                    current: hex(&state.current.key),
                    previous_day: state.previous.as_ref().map(|p| p.day),
                    previous: state.previous.as_ref().map(|p| hex(&p.key)),
                },
            );
        }
        write_state_file(path, &body).map_err(|source| SaltError::Write {
            path: path.clone(),
            source,
        })
    }
}

/// The keyed hash, without any state: the bench and tests use it directly.
fn visitor_hash_with(key: &[u8; 32], site: &str, ip: IpAddr, user_agent: &str) -> u64 {
    let mut h = blake3::Hasher::new_keyed(key);
    h.update(&(site.len() as u32).to_le_bytes());
    h.update(site.as_bytes());
    let ip16 = match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    h.update(&ip16);
    h.update(&(user_agent.len() as u32).to_le_bytes());
    h.update(user_agent.as_bytes());
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out.as_bytes()[..8]);
    // 0 is reserved for "no visitor" in tests and tools.
    u64::from_le_bytes(first).max(1)
}

fn read_state_file(path: &Path) -> Option<StateFile> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_state_file(path: &Path, body: &StateFile) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        let json = serde_json::to_vec(body).map_err(std::io::Error::other)?;
        f.write_all(&json)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

/// The single task that rotates salts: sleeps until the next midnight or wipe, ticks,
/// and ends when `stop` resolves.
pub async fn run_rotation(keeper: Arc<SaltKeeper>, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    loop {
        let wait = Duration::from_secs(keeper.secs_until_next_event().clamp(1, 60));
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match keeper.tick() {
            Ok(true) => tracing::info!(days = ?keeper.days_in_memory(), "salt rotated or wiped"),
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "salt state file not updated"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    const MIDNIGHT: u64 = 20_780 * DAY_SECS; // 2026-11-23T00:00:00Z

    fn keeper(clock: &Arc<ManualClock>, file: Option<PathBuf>) -> SaltKeeper {
        SaltKeeper::new(clock.clone(), 3_600, file, &["UTC"]).unwrap()
    }

    #[test]
    fn same_visitor_gets_unrelated_hashes_on_two_days() {
        let clock = Arc::new(ManualClock::at_ms((MIDNIGHT - 10) * 1000));
        let k = keeper(&clock, None);
        let ip: IpAddr = "81.2.69.142".parse().unwrap();
        let before = k.visitor_hash(0, "example.com", ip, "UA");
        assert_eq!(before, k.visitor_hash(0, "example.com", ip, "UA"));
        clock.advance_ms(20_000);
        assert!(k.tick().unwrap());
        let after = k.visitor_hash(0, "example.com", ip, "UA");
        assert_ne!(before, after);
    }

    #[test]
    fn fields_are_length_prefixed() {
        let key = [7u8; 32];
        let ip: IpAddr = "::1".parse().unwrap();
        assert_ne!(
            visitor_hash_with(&key, "ab", ip, "c"),
            visitor_hash_with(&key, "a", ip, "bc")
        );
        let v4: IpAddr = "81.2.69.142".parse().unwrap();
        let mapped: IpAddr = "::ffff:81.2.69.142".parse().unwrap();
        assert_eq!(
            visitor_hash_with(&key, "s", v4, "u"),
            visitor_hash_with(&key, "s", mapped, "u")
        );
    }

    #[test]
    fn yesterdays_salt_is_wiped_after_grace_from_memory_and_file() {
        let dir = std::env::temp_dir().join(format!("veil-salt-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("salt.json");
        let clock = Arc::new(ManualClock::at_ms((MIDNIGHT - 60) * 1000));
        let k = keeper(&clock, Some(file.clone()));
        let yesterday = crate::clock::day_of(MIDNIGHT - 60);
        let old_text = std::fs::read_to_string(&file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let old: StateFile = serde_json::from_str(&old_text).unwrap();

        clock.set_ms((MIDNIGHT + 5) * 1000);
        k.tick().unwrap();
        assert!(k.holds_day(0, yesterday), "kept during grace");
        clock.set_ms((MIDNIGHT + 3_600) * 1000);
        k.tick().unwrap();
        assert!(!k.holds_day(0, yesterday), "wiped after grace");
        assert_eq!(
            k.days_in_memory(),
            vec![("UTC".to_string(), vec![yesterday + 1])]
        );
        let new_text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !new_text.contains(&old.zones["UTC"].current),
            "old salt left in the file"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn restart_keeps_todays_salt_from_the_state_file() {
        let dir = std::env::temp_dir().join(format!("veil-salt2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("salt.json");
        let clock = Arc::new(ManualClock::at_ms((MIDNIGHT + 7_200) * 1000));
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let a = keeper(&clock, Some(file.clone())).visitor_hash(0, "s", ip, "u");
        let b = keeper(&clock, Some(file.clone())).visitor_hash(0, "s", ip, "u");
        assert_eq!(a, b);
        clock.advance_ms(DAY_SECS * 1000);
        let c = keeper(&clock, Some(file.clone())).visitor_hash(0, "s", ip, "u");
        assert_ne!(
            a, c,
            "a state file from yesterday must not give today's salt"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn next_event_is_midnight_or_the_wipe() {
        let clock = Arc::new(ManualClock::at_ms((MIDNIGHT - 100) * 1000));
        let k = keeper(&clock, None);
        assert_eq!(k.secs_until_next_event(), 100);
        clock.set_ms((MIDNIGHT + 100) * 1000);
        k.tick().unwrap();
        assert_eq!(k.secs_until_next_event(), 3_500);
    }

    #[test]
    fn an_added_zone_gets_its_own_salt_and_comes_back_from_the_state_file() {
        let clock = Arc::new(ManualClock::at_ms((MIDNIGHT + 3_600) * 1000));
        let dir = std::env::temp_dir().join(format!("veil-salt3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("salt.json");
        let _ = std::fs::remove_file(&file);
        let k = keeper(&clock, Some(file.clone()));
        let ip: IpAddr = "81.2.69.142".parse().unwrap();
        let tokyo = k.add_zone("Asia/Tokyo").unwrap();
        assert_eq!(
            (tokyo, k.add_zone("Asia/Tokyo").unwrap()),
            (1, 1),
            "added once"
        );
        assert_eq!(
            k.add_zone("UTC").unwrap(),
            0,
            "a known zone keeps its index"
        );
        assert!(k.add_zone("Mars/Olympus").is_err());
        let hash = k.visitor_hash(tokyo, "a", ip, "ua");
        assert_ne!(
            hash,
            k.visitor_hash(0, "a", ip, "ua"),
            "zones share nothing"
        );
        assert_eq!(k.zone(tokyo).name(), "Asia/Tokyo");

        // A restart with the reloaded file: the zone's salt comes back.
        let again = SaltKeeper::new(
            clock.clone(),
            3_600,
            Some(file.clone()),
            &["UTC", "Asia/Tokyo"],
        )
        .unwrap();
        let i = again.zone_index("Asia/Tokyo").unwrap();
        assert_eq!(again.visitor_hash(i, "a", ip, "ua"), hash);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn each_zone_rotates_at_its_own_midnight_and_zones_share_nothing() {
        // 2026-11-23 00:00 in Warsaw is 2026-11-22 23:00 UTC.
        let clock = Arc::new(ManualClock::at_ms((MIDNIGHT - 3_700) * 1000));
        let k =
            SaltKeeper::new(clock.clone(), 3_600, None, &["UTC", "Europe/Warsaw", "UTC"]).unwrap();
        assert_eq!(k.days_in_memory().len(), 2, "one salt per distinct zone");
        let (utc, waw) = (
            k.zone_index("UTC").unwrap(),
            k.zone_index("Europe/Warsaw").unwrap(),
        );
        let ip: IpAddr = "81.2.69.142".parse().unwrap();
        let (u0, w0) = (
            k.visitor_hash(utc, "s", ip, "u"),
            k.visitor_hash(waw, "s", ip, "u"),
        );
        assert_ne!(u0, w0);
        clock.set_ms((MIDNIGHT - 3_500) * 1000);
        assert!(k.tick().unwrap());
        assert_eq!(k.visitor_hash(utc, "s", ip, "u"), u0, "UTC day goes on");
        assert_ne!(
            k.visitor_hash(waw, "s", ip, "u"),
            w0,
            "Warsaw's day changed"
        );
        assert_eq!(k.secs_until_next_event(), 3_500, "next: UTC midnight");
        assert!(
            k.holds_time(waw, MIDNIGHT - 3_700),
            "yesterday's Warsaw salt kept in grace"
        );
    }
}
