//! Decoding MaxMind's own GeoIP2/GeoLite2 City and Country record layout
//! ([`Schema::Official`](super::Schema::Official)).

use std::fmt;

use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{Country, Location};

/// The two fields veil needs from the GeoIP2/GeoLite2 layout, borrowed from
/// the file buffer; everything else in the record is skipped undecoded.
#[derive(Deserialize)]
pub(super) struct OfficialRecord<'a> {
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
    pub(super) fn into_location(self) -> Option<Location> {
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

#[cfg(test)]
mod tests {
    use maxminddb::WithinOptions;

    use super::super::load::Reader;
    use super::super::test_mmdb::{self as mmdb, ip, loc, open, Case, TempDir, Val};
    use super::super::test_mmdb::{OFFICIAL_CITY, OFFICIAL_CITY_GEOIP2, OFFICIAL_COUNTRY};
    use super::super::{format_date, GeoDb, Schema};
    use super::*;

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
}
