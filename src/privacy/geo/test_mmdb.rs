//! Test support for the geo module: paths of the MaxMind test databases in
//! `geo/testdata`, a minimal MMDB writer for the layouts and odd records those
//! files lack, and helpers to install files and state expected answers.
//!
//! Compiled only for tests: nothing outside the geo unit tests uses it (the
//! integration tests in `tests/` and the benches use the shipped files).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use super::{Country, GeoDb, Location};

// MaxMind's own test databases (official schema), shipped in the repository.
pub(super) const OFFICIAL_CITY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/geo/testdata/GeoLite2-City-Test.mmdb"
);
pub(super) const OFFICIAL_CITY_GEOIP2: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/geo/testdata/GeoIP2-City-Test.mmdb"
);
pub(super) const OFFICIAL_COUNTRY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/geo/testdata/GeoLite2-Country-Test.mmdb"
);

/// An address and the expected (country, region), or `None` for no location.
pub(super) type Case = (&'static str, Option<(&'static str, Option<&'static str>)>);

/// Parses a test address (the tests only write valid ones).
pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The expected location for a country code and an optional region.
pub(super) fn loc(country: &str, region: Option<&str>) -> Location {
    Location {
        country: Some(Country::parse(country).unwrap()),
        region: region.map(str::to_owned),
    }
}

/// Opens files that must open.
pub(super) fn open(paths: &[&str]) -> GeoDb {
    let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
    GeoDb::open(&paths).unwrap()
}

/// A directory under the system temp dir, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> TempDir {
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

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes `bytes` to `name` the way updaters should: temp file +
    /// rename, with an mtime that differs from any earlier version.
    pub(super) fn replace(&self, name: &str, bytes: &[u8], mtime_offset_secs: u64) {
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

// ---------------------------------------------------------------------------
// A minimal MaxMind DB writer, so the flat layout, the two-file routing and
// odd records are tested without the (large, unshipped) npm files.
// ---------------------------------------------------------------------------

/// A value of the MMDB data section (only the types the tests need).
pub(super) enum Val {
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

fn encode(out: &mut Vec<u8>, v: &Val) {
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
pub(super) fn build(
    ip_version: u16,
    database_type: &'static str,
    entries: Vec<(&str, Val)>,
) -> Vec<u8> {
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
    let mut data = Vec::new();
    for (cidr, value) in entries {
        let (addr, len) = cidr.split_once('/').unwrap();
        let len: usize = len.parse().unwrap();
        let (bits, depth): (u128, usize) = match (addr.parse::<IpAddr>().unwrap(), ip_version) {
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
pub(super) fn flat(country: &'static str, state1: &'static str) -> Val {
    Val::Map(vec![
        ("city", Val::Str("Somewhere")),
        ("country_code", Val::Str(country)),
        ("state1", Val::Str(state1)),
        ("state2", Val::Str("")),
        ("timezone", Val::Str("Europe/Warsaw")),
    ])
}

/// A flat IPv4 file: Poland in `pl_region` plus records that exercise odd
/// country codes and empty regions.
pub(super) fn flat_v4(pl_region: &'static str) -> Vec<u8> {
    build(
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

/// A flat IPv6 file with two networks and no IPv4 subtree, like the npm one.
pub(super) fn flat_v6() -> Vec<u8> {
    build(
        6,
        "city ipv6",
        vec![
            ("2001:67c:2e8::/48", flat("NL", "North Holland")),
            ("2a00:1450::/32", flat("DE", "Hesse")),
        ],
    )
}
