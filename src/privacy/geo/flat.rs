//! Decoding the flat record layout of the `@ip-location-db/*-mmdb` npm
//! packages ([`Schema::Flat`](super::Schema::Flat)), which ship IPv4 and IPv6
//! as two files.

use serde::Deserialize;

use super::{Country, Location};

/// The two fields veil needs from the flat ip-location-db layout.
#[derive(Deserialize)]
pub(super) struct FlatRecord<'a> {
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    state1: Option<&'a str>,
}

impl FlatRecord<'_> {
    pub(super) fn into_location(self) -> Option<Location> {
        let country = Country::parse(self.country_code?)?;
        // The flat files write "" for "no region".
        let region = self.state1.filter(|s| !s.is_empty()).map(str::to_owned);
        Some(Location {
            country: Some(country),
            region,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_mmdb::{flat_v4, flat_v6, ip, loc, Case, TempDir};
    use super::super::{GeoDb, Schema};
    use super::*;

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
}
