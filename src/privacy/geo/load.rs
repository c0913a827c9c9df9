//! Reading the database files: opening and checking each one, detecting its
//! record layout, and watching the files so a replaced database is reloaded
//! in place.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use maxminddb::WithinOptions;
use serde::de::IgnoredAny;
use serde::Deserialize;

use super::{GeoDb, GeoError, Schema};

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
pub(super) type Reader = maxminddb::Reader<Vec<u8>>;

/// How many leading records [`detect_schema`] looks at before giving up.
const PROBE_RECORDS: usize = 64;

/// Tokio's interval panics on a zero period; polling faster than this only
/// burns `stat` calls.
const MIN_POLL: Duration = Duration::from_millis(10);

/// One opened file and the routing facts derived from it.
pub(super) struct DbFile {
    pub(super) path: PathBuf,
    pub(super) reader: Reader,
    pub(super) schema: Schema,
    pub(super) serves_v4: bool,
    pub(super) serves_v6: bool,
}

/// Everything a reload replaces at once.
pub(super) struct Loaded {
    pub(super) files: Vec<DbFile>,
    /// Newest mtime of the files, taken just before they were read.
    pub(super) modified: Option<SystemTime>,
    /// [`fingerprint`] of the files, taken at the same moment.
    pub(super) fingerprint: Option<u64>,
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// Opens every file of `paths` into one [`Loaded`]. One failing file fails
/// the whole set, so a reload is all or nothing and never serves half an update.
pub(super) fn load(paths: &[PathBuf]) -> Result<Loaded, GeoError> {
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

/// Newest mtime of the files that can be `stat`ed, for [`GeoDb::files_modified`].
pub(super) fn newest_mtime(paths: &[PathBuf]) -> Option<SystemTime> {
    paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max()
}

// ---------------------------------------------------------------------------
// Watching
// ---------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::super::test_mmdb::OFFICIAL_COUNTRY;
    use super::super::test_mmdb::{self as mmdb, flat_v4, ip, loc, open, TempDir, Val};
    use super::*;

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
}
