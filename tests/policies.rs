//! The example configurations in `examples/policies/` keep the promises of the
//! privacy policies they were written for, and their generated Polish disclosures
//! (`NAME.pl.md`) match what `veil manifest` prints today, byte for byte.
//!
//! No ClickHouse needed: this only loads configuration and renders manifests.

use std::path::{Path, PathBuf};

use serde_json::Value;
use veil::config::Config;
use veil::manifest::{render, Format, Lang, Manifest};
use veil::privacy::consent::Level;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dir() -> PathBuf {
    repo().join("examples/policies")
}

/// The test stand-in for the production GeoLite2 file the examples name.
fn test_geo() -> String {
    repo()
        .join("geo/testdata/GeoLite2-City-Test.mmdb")
        .display()
        .to_string()
}

/// Every example: (file stem, site id).
const EXAMPLES: [(&str, &str); 5] = [
    ("events-platform", "events-platform.example"),
    ("saas-vendor", "saas-vendor.example"),
    ("optician-shop", "optician-shop.example"),
    ("ecommerce-shop", "ecommerce-shop.example"),
    ("software-vendor", "software-vendor.example"),
];

struct Example {
    name: &'static str,
    site: &'static str,
    config: Config,
    manifest: Manifest,
    json: Value,
    pl: String,
}

fn load(name: &'static str) -> Example {
    let site = EXAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap();
    let path = dir().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("# veil for "),
        "{name}: the header comment maps the policy's promises to keys"
    );
    // The file itself configures a geo database (the region promise); the test only
    // swaps in the small test database for the production path.
    let raw: toml::Table = toml::from_str(&text).unwrap();
    let paths = raw["geo"]["paths"].as_array().unwrap();
    assert!(!paths.is_empty(), "{name}: geo.paths must be set");
    let config = Config::load(Some(&path), [("VEIL_GEO__PATHS".to_string(), test_geo())])
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(config.sites.len(), 1, "{name}: one site per example");
    let manifest = Manifest::for_site(&config, site).unwrap();
    let json: Value =
        serde_json::from_str(&render(&config, Some(site), Format::Json, Lang::En).unwrap())
            .unwrap();
    let pl = render(&config, Some(site), Format::Md, Lang::Pl).unwrap();
    Example {
        name,
        site,
        config,
        manifest,
        json,
        pl,
    }
}

fn dims(m: &Manifest, level: Level) -> Vec<&'static str> {
    m.level(level)
        .unwrap()
        .stored
        .iter()
        .map(|s| s.dim)
        .collect()
}

/// What every example promises: regional statistics come from the IP, the IP is not
/// kept, marketing data need marketing consent, data are erased, nothing is passed on.
fn common_promises(e: &Example) {
    let (m, j, name) = (&e.manifest, &e.json, e.name);
    assert_eq!(m.site, e.site);
    assert_eq!(m.language, "pl", "{name}: Polish sites");
    assert!(m.controller.is_some() && m.contact.is_some(), "{name}");

    // Region statistics from the IP; the IP is neither stored nor logged.
    assert_eq!(
        m.processing.ip.used_for,
        vec!["country", "region", "visitor-hash"],
        "{name}"
    );
    assert_eq!(j["processing"]["ip"]["stored"], false);
    assert_eq!(j["processing"]["ip"]["logged"], false);
    assert!(j["never_collected"]
        .as_array()
        .unwrap()
        .contains(&Value::from("ip-address")));
    assert!(dims(m, Level::Analytics).contains(&"region"), "{name}");
    assert!(
        e.pl.contains("Adres IP Twojego urządzenia służy do ustalenia kraju i regionu")
            && e.pl
                .contains("jako skrót z kluczem istniejącym tylko w działającym programie"),
        "{name}"
    );
    assert!(
        e.pl.contains("Następnie adres jest odrzucany: nie trafia ani do bazy danych, ani do dzienników systemowych (logów)."),
        "{name}"
    );

    // Campaign data only with marketing consent; never before the marketing level.
    let marketing = m.level(Level::Marketing).unwrap();
    assert_eq!(marketing.consent_categories, vec!["analytics", "marketing"]);
    assert_eq!(
        marketing.gdpr_article, "6(1)(a)",
        "{name}: marketing needs consent"
    );
    assert!(m.consent.without_consent < Level::Marketing, "{name}");
    for level in [Level::Count, Level::Analytics] {
        assert!(
            dims(m, level)
                .iter()
                .all(|d| !d.starts_with("utm_") && *d != "marketing_prop"),
            "{name}: {level:?}"
        );
    }
    assert!(dims(m, Level::Marketing).contains(&"utm_campaign"));

    // Erasure by destruction, no recipients, no profiling, the opt-out page.
    assert!(e.config.retention.enabled, "{name}: the retention job runs");
    assert!(e.pl.contains("Usunięcie polega na zniszczeniu danych"));
    assert_eq!(j["recipients"]["third_parties"], Value::Array(Vec::new()));
    assert_eq!(j["recipients"]["sold"], false);
    assert_eq!(j["profiling"]["profiling"], false);
    assert_eq!(j["profiling"]["automated_decisions"], false);
    assert!(m.rights.objection.contains(&"opt-out-page"));
    assert!(e
        .pl
        .contains(&format!("[/optout?site={0}](/optout?site={0})", e.site)));
    assert!(e.pl.contains("art. 11 RODO"));
}

fn retention(e: &Example) -> (u32, u32, u32) {
    let r = &e.manifest.retention;
    (r.audience_days, r.marketing_days, r.consent_days)
}

#[test]
fn events_platform_region_statistics_on_consent() {
    let e = load("events-platform");
    common_promises(&e);
    let m = &e.manifest;
    assert_eq!(m.consent.preset, "eu-strict");
    assert_eq!(m.consent.consent_cookie.as_deref(), Some("cookie_consent"));
    // Consent is the basis for everything personal; without it only anonymous counts.
    assert_eq!(m.level(Level::Analytics).unwrap().gdpr_article, "6(1)(a)");
    assert_eq!(dims(m, Level::Count), vec!["total", "page"]);
    assert!(!m.level(Level::Count).unwrap().uses_ip);
    assert!(m.rights.consent_withdrawable);
    assert_eq!(retention(&e), (730, 365, 1095));
    assert!(e.pl.contains("Twoja zgoda (art. 6 ust. 1 lit. a RODO)"));
}

#[test]
fn saas_vendor_measures_automatically_without_identifying() {
    let e = load("saas-vendor");
    common_promises(&e);
    let m = &e.manifest;
    assert_eq!(m.consent.preset, "eu-exempt-audience");
    let analytics = m.level(Level::Analytics).unwrap();
    assert!(
        analytics
            .applies_when
            .contains(&veil::manifest::Trigger::NoChoice),
        "collected on each visit"
    );
    assert_eq!(analytics.gdpr_article, "6(1)(f)");
    // Domain name (referrer host), browser type, operating system.
    for d in ["referrer", "browser", "os"] {
        assert!(dims(m, Level::Analytics).contains(&d), "{d}");
    }
    assert!(
        m.k_anonymity.k >= 5,
        "anonymous statistics hide small groups"
    );
    assert_eq!(m.processing.visitor_hash.salt_storage, "memory");
    assert_eq!(retention(&e), (730, 180, 730));
    assert!(e.pl.contains("nie sprzedaje danych"));
    assert!(e.pl.contains("wyłącznie w pamięci operacyjnej serwera"));
}

#[test]
fn optician_shop_keeps_non_personal_statistics_and_honours_objection() {
    let e = load("optician-shop");
    common_promises(&e);
    let m = &e.manifest;
    assert_eq!(m.consent.preset, "eu-exempt-audience");
    for d in ["referrer", "browser"] {
        assert!(dims(m, Level::Analytics).contains(&d), "{d}");
    }
    // Objection, also to statistical processing: the page, GPC and DNT.
    assert_eq!(m.rights.objection, vec!["opt-out-page", "gpc", "dnt"]);
    assert_eq!(m.consent.gpc_cap, Level::None);
    assert_eq!(m.consent.dnt_cap, Level::None);
    assert!(e
        .pl
        .contains("także wobec przetwarzania w celach statystycznych"));
    assert_eq!(m.k_anonymity.k, 10);
    assert_eq!(retention(&e), (395, 90, 730));
    // The default pairs and currencies add revenue and combinations; time on page
    // comes with the pages of the statistics level.
    assert!(e.pl.contains("statystyki odwiedzin (odsłony, odwiedzający, strony, źródła wejść, lokalizacja, przeglądarki, urządzenia, zdarzenia, czas na stronie, przychody, zestawienia tych danych): 395 dni;"));
}

#[test]
fn ecommerce_shop_separates_purposes_and_keeps_its_periods() {
    let e = load("ecommerce-shop");
    common_promises(&e);
    let m = &e.manifest;
    assert_eq!(m.consent.preset, "eu-strict");
    assert_eq!(m.consent.consent_cookie.as_deref(), Some("cookie_consent"));
    // Visit analysis and marketing are separate consents.
    assert_eq!(
        m.level(Level::Analytics).unwrap().consent_categories,
        vec!["analytics"]
    );
    assert_eq!(
        m.level(Level::Marketing).unwrap().marketing_props,
        vec!["coupon", "campaign_id"]
    );
    assert!(m
        .level(Level::Analytics)
        .unwrap()
        .marketing_props
        .is_empty());
    // Three years of visit statistics, two months of campaign data, ten years of
    // consent records.
    assert_eq!(retention(&e), (1095, 60, 3650));
    let utm = e.json["levels"][2]["stored"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dim"] == "utm_source")
        .cloned()
        .unwrap();
    assert_eq!(utm["retention_days"], 60);
    assert!(e.pl.contains("1095 dni;") && e.pl.contains("60 dni;") && e.pl.contains("3650 dni."));
    assert!(m.rights.consent_withdrawable);
}

#[test]
fn software_vendor_consent_is_withdrawable_at_any_time() {
    let e = load("software-vendor");
    common_promises(&e);
    let m = &e.manifest;
    assert_eq!(m.consent.preset, "eu-strict");
    // Statistical analysis under legitimate interest is the anonymous count only.
    let count = m.level(Level::Count).unwrap();
    assert_eq!(count.gdpr_article, "6(1)(f)");
    assert!(!count.visitor_hash && !count.uses_ip);
    assert_eq!(m.level(Level::Analytics).unwrap().gdpr_article, "6(1)(a)");
    assert!(m.rights.consent_withdrawable);
    assert_eq!(m.rights.takes_effect, "from the next hit");
    assert!(e.pl.contains("Zgodę możesz wycofać w dowolnym momencie"));
    assert!(e.pl.contains("art. 7 ust. 3 RODO"));
    assert!(e.pl.contains("Nie profilujemy odwiedzających"));
    assert_eq!(
        m.processing.visitor_hash.salt_storage,
        "memory-and-state-file"
    );
    assert!(e.pl.contains("(uprawnienia 0600)"));
    assert_eq!(retention(&e), (365, 180, 1095));
}

/// `NAME.pl.md` is exactly what `veil manifest --format md --lang pl` prints.
#[test]
fn generated_polish_disclosures_match_byte_for_byte() {
    let mut stale = Vec::new();
    for (name, site) in EXAMPLES {
        let e = load(name);
        let golden = dir().join(format!("{name}.pl.md"));
        let current = std::fs::read_to_string(&golden).unwrap_or_default();
        if current == e.pl {
            continue;
        }
        if std::env::var_os("VEIL_UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &e.pl).unwrap();
            continue;
        }
        stale.push(format!(
            "  VEIL_GEO__PATHS=geo/testdata/GeoLite2-City-Test.mmdb cargo run -q -- manifest \
             -c examples/policies/{name}.toml --site {site} --format md --lang pl \
             > examples/policies/{name}.pl.md"
        ));
    }
    assert!(
        stale.is_empty(),
        "generated disclosures are out of date; regenerate them from the repository root with\n{}\n\
         (or run this test with VEIL_UPDATE_GOLDEN=1) and review the diff",
        stale.join("\n")
    );
}

/// Every example in the folder is tested, and has its disclosure beside it.
#[test]
fn every_example_is_covered() {
    let mut found: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    found.sort();
    let mut known: Vec<String> = EXAMPLES.iter().map(|(n, _)| n.to_string()).collect();
    known.sort();
    assert_eq!(found, known);
    for (name, _) in EXAMPLES {
        assert!(
            Path::new(&dir().join(format!("{name}.pl.md"))).is_file(),
            "{name}"
        );
    }
}
