//! A disk spool of aggregate batches for when ClickHouse is down.
//!
//! Only [`Batch`]es of aggregate rows are spooled — never raw hits — one file per
//! batch, named by a sequence number so replay keeps the order. A file is written
//! to a temporary name, `fsync`ed, renamed into place and the directory `fsync`ed:
//! once [`Spool::push`] returns, the batch survives a crash or power loss. Replay
//! deletes a file only after ClickHouse stored the batch (or `batches` shows an
//! earlier attempt already did), so a batch is never lost and never counted twice.
//! The spool is bounded in bytes; when full, veil refuses new JSON hits with `503`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

use super::row::AggRow;
use super::Batch;

/// Errors of the spool (paths only; batches hold no personal data).
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Filesystem error.
    #[error("spool {path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A spool file does not decode (moved aside to `rejected/`).
    #[error("spool file {path} is corrupt: {message}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Decoder message.
        message: String,
    },
    /// Over the configured size.
    #[error("spool is full ({bytes} bytes of {max})")]
    Full {
        /// Bytes held.
        bytes: u64,
        /// Limit.
        max: u64,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    bytes: u64,
}

/// The spool directory and its index.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: Mutex<Vec<Entry>>,
    bytes: AtomicU64,
    next_seq: AtomicU64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct File {
    id: u64,
    rows: Vec<AggRow>,
}

impl Spool {
    /// Opens (creating) the directory and indexes the batches already in it, oldest
    /// first: they are replayed before anything new.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut entries = Vec::new();
        for e in fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            let path = e.path();
            if path.extension().and_then(|x| x.to_str()) == Some("batch") {
                let bytes = e.metadata().map_err(io(&path))?.len();
                entries.push(Entry { path, bytes });
            }
        }
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        let next_seq = entries
            .last()
            .and_then(|e| {
                e.path
                    .file_stem()?
                    .to_str()?
                    .split('-')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |s| s + 1);
        let bytes = entries.iter().map(|e| e.bytes).sum();
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            entries: Mutex::new(entries),
            bytes: AtomicU64::new(bytes),
            next_seq: AtomicU64::new(next_seq),
        })
    }

    /// Batches waiting.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Whether another batch of average size would not fit: new hits are refused.
    pub fn is_full(&self) -> bool {
        self.bytes() >= self.max_bytes
    }

    /// Age of the oldest waiting batch, in seconds.
    pub fn oldest_age_secs(&self) -> u64 {
        let first = self.entries.lock().first().cloned();
        first
            .and_then(|e| fs::metadata(&e.path).ok()?.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map_or(0, |d| d.as_secs())
    }

    /// Writes a batch durably (see the module docs).
    pub fn push(&self, batch: &Batch) -> Result<(), SpoolError> {
        let bytes_now = self.bytes();
        if bytes_now >= self.max_bytes {
            return Err(SpoolError::Full {
                bytes: bytes_now,
                max: self.max_bytes,
            });
        }
        let body = serde_json::to_vec(&File {
            id: batch.id,
            rows: batch.rows.clone(),
        })
        .map_err(|e| SpoolError::Corrupt {
            path: self.dir.clone(),
            message: e.to_string(),
        })?;
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let path = self.dir.join(format!("{seq:016}-{:016x}.batch", batch.id));
        let tmp = path.with_extension("tmp");
        {
            let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&body).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
        self.entries.lock().push(Entry {
            path,
            bytes: body.len() as u64,
        });
        Ok(())
    }

    /// The oldest batch, without removing it. A corrupt file is moved to
    /// `rejected/` (kept for the operator) and reported.
    pub fn peek(&self) -> Result<Option<Batch>, SpoolError> {
        let Some(entry) = self.entries.lock().first().cloned() else {
            return Ok(None);
        };
        let body = fs::read(&entry.path).map_err(io(&entry.path))?;
        match serde_json::from_slice::<File>(&body) {
            Ok(f) => Ok(Some(Batch {
                id: f.id,
                rows: f.rows,
            })),
            Err(e) => {
                self.reject_first();
                Err(SpoolError::Corrupt {
                    path: entry.path,
                    message: e.to_string(),
                })
            }
        }
    }

    /// Deletes the oldest batch (it is stored in ClickHouse now).
    pub fn pop(&self) -> Result<(), SpoolError> {
        let mut entries = self.entries.lock();
        if entries.is_empty() {
            return Ok(());
        }
        let e = entries.remove(0);
        drop(entries);
        fs::remove_file(&e.path).map_err(io(&e.path))?;
        self.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Moves the oldest batch to `rejected/` (ClickHouse refused it as malformed).
    pub fn reject_first(&self) {
        let mut entries = self.entries.lock();
        if entries.is_empty() {
            return;
        }
        let e = entries.remove(0);
        drop(entries);
        let rejected = self.dir.join("rejected");
        let _ = fs::create_dir_all(&rejected);
        if let Some(name) = e.path.file_name() {
            let _ = fs::rename(&e.path, rejected.join(name));
        }
        self.bytes.fetch_sub(e.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(id: u64, n: usize) -> Batch {
        Batch {
            id,
            rows: (0..n)
                .map(|i| AggRow {
                    date: 20_780,
                    hour: 1_795_424_400,
                    site: "s".into(),
                    dim: "page".into(),
                    value: format!("/{i}"),
                    batch: id,
                    pageviews: 1,
                    visitors: vec![i as u64],
                    ..AggRow::default()
                })
                .collect(),
        }
    }

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("veil-spool-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn batches_survive_reopen_in_order() {
        let d = dir("order");
        let s = Spool::open(&d, 1 << 20).unwrap();
        s.push(&batch(1, 3)).unwrap();
        s.push(&batch(2, 1)).unwrap();
        drop(s);
        let s = Spool::open(&d, 1 << 20).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.peek().unwrap().unwrap(), batch(1, 3).into_eq());
        s.pop().unwrap();
        s.push(&batch(3, 1)).unwrap();
        assert_eq!(s.peek().unwrap().unwrap().id, 2);
        s.pop().unwrap();
        assert_eq!(s.peek().unwrap().unwrap().id, 3);
        s.pop().unwrap();
        assert!(s.is_empty() && s.bytes() == 0);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_full_spool_refuses_and_corrupt_files_move_aside() {
        let d = dir("full");
        let s = Spool::open(&d, 10).unwrap();
        s.push(&batch(1, 2)).unwrap();
        assert!(s.is_full());
        assert!(matches!(s.push(&batch(2, 1)), Err(SpoolError::Full { .. })));
        fs::write(&s.entries.lock()[0].path, b"garbage").unwrap();
        assert!(matches!(s.peek(), Err(SpoolError::Corrupt { .. })));
        assert!(s.is_empty());
        assert_eq!(fs::read_dir(d.join("rejected")).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    #[ignore = "measurement: cargo test --release --lib spool_throughput -- --ignored --nocapture"]
    fn spool_throughput() {
        let d = dir("throughput");
        let s = Spool::open(&d, 1 << 34).unwrap();
        let b = batch(1, 1_000);
        let n = 200;
        let t0 = std::time::Instant::now();
        for i in 0..n {
            s.push(&Batch {
                id: i,
                rows: b.rows.clone(),
            })
            .unwrap();
        }
        let push = t0.elapsed();
        let mb = s.bytes() as f64 / 1e6;
        let t1 = std::time::Instant::now();
        while let Some(got) = s.peek().unwrap() {
            assert_eq!(got.rows.len(), 1_000);
            s.pop().unwrap();
        }
        let replay = t1.elapsed();
        println!(
            "spool: {n} batches x 1000 rows, {} MB: push {:.0} batches/s ({:.0} rows/s, fsync each), read+delete {:.0} batches/s ({:.0} rows/s)",
            mb,
            n as f64 / push.as_secs_f64(),
            n as f64 * 1000.0 / push.as_secs_f64(),
            n as f64 / replay.as_secs_f64(),
            n as f64 * 1000.0 / replay.as_secs_f64()
        );
        fs::remove_dir_all(&d).unwrap();
    }

    trait IntoEq {
        fn into_eq(self) -> (u64, Vec<AggRow>);
    }
    impl IntoEq for Batch {
        fn into_eq(self) -> (u64, Vec<AggRow>) {
            (self.id, self.rows)
        }
    }
    impl PartialEq<(u64, Vec<AggRow>)> for Batch {
        fn eq(&self, o: &(u64, Vec<AggRow>)) -> bool {
            self.id == o.0 && self.rows == o.1
        }
    }
}
