//! The manifest follows the configuration: change a key, and the JSON and both
//! disclosures change with it.

use super::doc::{Block, Inline};
use super::*;
use crate::config::Config;
use crate::model::DataClass;
use crate::privacy::consent::Level;

const PRESETS: [&str; 3] = ["eu-strict", "eu-exempt-audience", "us-opt-out"];

fn config(site_toml: &str, top: &str) -> Config {
    let text = format!("{top}\n[[sites]]\nid = \"shop.example\"\n{site_toml}\n");
    Config::from_toml_str(&text, std::path::Path::new("test.toml"), Vec::new())
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn preset(p: &str) -> Config {
    config(&format!("consent = {{ preset = \"{p}\" }}"), "")
}

fn manifest(c: &Config) -> Manifest {
    Manifest::for_site(c, "shop.example").unwrap()
}

fn md(c: &Config, lang: Lang) -> String {
    render(c, Some("shop.example"), Format::Md, lang).unwrap()
}

fn json(c: &Config) -> serde_json::Value {
    serde_json::from_str(&render(c, Some("shop.example"), Format::Json, Lang::En).unwrap()).unwrap()
}

fn geo_top() -> String {
    format!(
        "[geo]\npaths = [\"{}/geo/testdata/GeoLite2-City-Test.mmdb\"]\n",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Prose of a document: our sentences and configured values, not literals
/// (cookie names, `utm_*`, `(other)`) which are the same in every language.
fn prose(blocks: &[Block]) -> String {
    let mut out = String::new();
    for block in blocks {
        let lines: Vec<&Vec<Inline>> = match block {
            Block::Heading(_, i) | Block::Para(i) => vec![i],
            Block::List(items) => items.iter().collect(),
        };
        for line in lines {
            for i in line {
                match i {
                    Inline::Text(s) | Inline::Strong(s) => out.push_str(s),
                    Inline::Code(_) | Inline::Link { .. } => out.push(' '),
                }
            }
            out.push('\n');
        }
    }
    out
}

/// The lines of a Markdown document between a heading containing `from` and the next
/// heading of the same or a higher level.
fn section<'a>(md: &'a str, from: &str) -> &'a str {
    let start = md
        .find(&format!("### {from}"))
        .unwrap_or_else(|| panic!("no section {from}"));
    let rest = &md[start + 4..];
    let end = rest.find("\n### ").map_or(rest.len(), |i| i + 1);
    &rest[..end]
}

#[test]
fn presets_resolve_to_their_levels_and_legal_bases() {
    let m = manifest(&preset("eu-strict"));
    assert_eq!(m.consent.preset, "eu-strict");
    assert_eq!(
        (
            m.consent.without_consent,
            m.consent.gpc_cap,
            m.consent.dnt_cap
        ),
        (Level::Count, Level::None, Level::None)
    );
    let count = m.level(Level::Count).unwrap();
    assert_eq!(count.applies_when, vec![Trigger::NoChoice]);
    assert_eq!(count.legal_basis, LegalBasis::LegitimateInterest);
    let analytics = m.level(Level::Analytics).unwrap();
    assert_eq!(analytics.applies_when, vec![Trigger::Consent]);
    assert_eq!(analytics.legal_basis, LegalBasis::Consent);
    assert_eq!(analytics.gdpr_article, "6(1)(a)");
    assert!(m.rights.consent_withdrawable);
    assert_eq!(
        m.refusal.applies_when,
        vec![
            Trigger::Refused,
            Trigger::OptOut,
            Trigger::Gpc,
            Trigger::Dnt
        ]
    );

    let m = manifest(&preset("eu-exempt-audience"));
    assert!(
        !m.level(Level::Count).unwrap().reachable(),
        "no anonymous-only level"
    );
    let analytics = m.level(Level::Analytics).unwrap();
    assert_eq!(
        analytics.applies_when,
        vec![Trigger::NoChoice, Trigger::Consent]
    );
    assert_eq!(analytics.legal_basis, LegalBasis::LegitimateInterest);
    assert_eq!(
        m.level(Level::Marketing).unwrap().legal_basis,
        LegalBasis::Consent
    );
    assert_eq!(m.rights.objection, vec!["opt-out-page", "gpc", "dnt"]);

    let m = manifest(&preset("us-opt-out"));
    assert_eq!(
        m.level(Level::Analytics).unwrap().applies_when,
        vec![Trigger::Consent, Trigger::Gpc]
    );
    let marketing = m.level(Level::Marketing).unwrap();
    assert_eq!(
        marketing.applies_when,
        vec![Trigger::NoChoice, Trigger::Consent]
    );
    assert_eq!(marketing.legal_basis, LegalBasis::LegitimateInterest);
    assert!(!m.rights.consent_withdrawable, "nothing waits for consent");
    assert_eq!(
        m.rights.objection,
        vec!["opt-out-page"],
        "GPC only lowers, DNT is ignored"
    );
}

#[test]
fn overrides_are_named_and_change_the_manifest() {
    let c = config("consent = { preset = \"eu-strict\", default = \"none\", dnt = \"marketing\", cookie = \"cmp\" }", "");
    let m = manifest(&c);
    assert_eq!(m.consent.overrides, vec!["default", "dnt"]);
    assert!(!m.level(Level::Count).unwrap().reachable());
    assert_eq!(m.refusal.applies_when[0], Trigger::NoChoice);
    assert_eq!(m.consent.consent_cookie.as_deref(), Some("cmp"));
    assert!(!m.rights.objection.contains(&"dnt"));
    let en = md(&c, Lang::En);
    assert!(
        en.contains("Until you make a choice in our consent banner, nothing is recorded"),
        "{en}"
    );
    assert!(en.contains("The Do Not Track (DNT) signal does not change what is measured."));
    assert!(en.contains("`cmp`"));
    assert!(md(&c, Lang::Pl).contains("Sygnał Do Not Track (DNT) nie zmienia zakresu pomiaru."));
}

#[test]
fn count_level_stores_page_views_only() {
    let m = manifest(&preset("eu-strict"));
    let count = m.level(Level::Count).unwrap();
    let dims: Vec<&str> = count.stored.iter().map(|s| s.dim).collect();
    assert_eq!(dims, vec!["total", "page"]);
    assert!(!count.visitor_hash && !count.uses_ip);
    assert_eq!(count.uses_user_agent, AgentUse::BotCheck);
    let analytics = m.level(Level::Analytics).unwrap();
    assert!(analytics.visitor_hash && analytics.uses_ip);
    let dims: Vec<&str> = analytics.stored.iter().map(|s| s.dim).collect();
    // Every audience dimension but the undeclared goals and funnels, and of the
    // default pairs those whose parts exist (no goal is declared).
    let mut expected: Vec<&str> = DataClass::Audience
        .dims()
        .into_iter()
        .filter(|d| !d.contains('*') && !matches!(*d, "goal" | "funnel"))
        .collect();
    expected.extend([
        "page*source",
        "page*country",
        "entry_page*source",
        "source*country",
        "event*currency",
        "source*currency",
    ]);
    assert_eq!(dims, expected);
    assert!(!dims.iter().any(|d| d.starts_with("utm_")));
    assert_eq!(
        m.refusal.stored.iter().map(|s| s.dim).collect::<Vec<_>>(),
        vec!["decision"]
    );
    assert_eq!(m.refusal.purposes, vec![Purpose::Accountability]);
}

#[test]
fn retention_days_appear_everywhere() {
    let c = config(
        "consent = { preset = \"eu-strict\" }\nretention = { audience_days = 14, marketing_days = 60, consent_days = 3650 }",
        "",
    );
    let j = json(&c);
    assert_eq!(j["retention"]["audience_days"], 14);
    assert_eq!(j["retention"]["marketing_days"], 60);
    assert_eq!(j["retention"]["consent_days"], 3650);
    let utm = &j["levels"][2]["stored"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["dim"] == "utm_source")
        .cloned()
        .unwrap();
    assert_eq!(utm["retention_days"], 60);
    let en = md(&c, Lang::En);
    let r = section(&en, "How long we keep the data");
    assert!(
        r.contains("14 days") && r.contains("60 days") && r.contains("3650 days"),
        "{r}"
    );
    let pl = md(&c, Lang::Pl);
    let r = section(&pl, "Okres przechowywania danych");
    assert!(
        r.contains("14 dni") && r.contains("60 dni") && r.contains("3650 dni"),
        "{r}"
    );
    assert!(r.contains("co godzinę"), "{r}");

    let c = config(
        "consent = { preset = \"eu-strict\" }",
        "[retention]\nenabled = false\n",
    );
    assert!(md(&c, Lang::En).contains("Automatic erasure of expired data is switched off"));
    assert!(md(&c, Lang::Pl).contains("Automatyczne usuwanie danych po upływie okresu przechowywania jest w tej konfiguracji wyłączone"));
    assert_eq!(json(&c)["retention"]["job_enabled"], false);
}

#[test]
fn marketing_props_are_listed_only_under_marketing() {
    let none = manifest(&preset("eu-strict"));
    assert!(none
        .levels
        .iter()
        .all(|l| l.stored.iter().all(|s| s.dim != "marketing_prop")));

    let c = config(
        "consent = { preset = \"eu-strict\" }\nmarketing_props = [\"coupon_code\"]",
        "",
    );
    let m = manifest(&c);
    for l in &m.levels {
        let has = l.stored.iter().any(|s| s.dim == "marketing_prop");
        assert_eq!(has, l.level == Level::Marketing, "{:?}", l.level);
        assert_eq!(l.marketing_props.is_empty(), l.level != Level::Marketing);
    }
    for lang in [Lang::En, Lang::Pl] {
        let text = md(&c, lang);
        let stored = section(
            &text,
            if lang == Lang::En {
                "What we store"
            } else {
                "Jakie dane zapisujemy"
            },
        );
        let marketing_at = stored.find("**Marketing:**").unwrap();
        let prop_at = stored.find("`coupon_code`").unwrap();
        assert!(
            prop_at > marketing_at,
            "the prop is listed under marketing:\n{stored}"
        );
        assert_eq!(text.matches("`coupon_code`").count(), 1, "{text}");
    }
}

#[test]
fn gpc_text_differs_between_eu_strict_and_us_opt_out() {
    let gpc_line = |p: &str, lang: Lang| {
        md(&preset(p), lang)
            .lines()
            .find(|l| l.contains("Global Privacy Control (GPC)"))
            .unwrap()
            .to_string()
    };
    let strict = gpc_line("eu-strict", Lang::En);
    let us = gpc_line("us-opt-out", Lang::En);
    assert_ne!(strict, us);
    assert!(strict.contains("we treat it as an objection"), "{strict}");
    assert!(
        us.contains("no marketing (campaign) data is recorded"),
        "{us}"
    );
    let strict = gpc_line("eu-strict", Lang::Pl);
    let us = gpc_line("us-opt-out", Lang::Pl);
    assert!(strict.contains("traktujemy go jako sprzeciw"), "{strict}");
    assert!(us.contains("nie zapisujemy danych marketingowych"), "{us}");
    assert_eq!(json(&preset("eu-strict"))["consent"]["gpc_cap"], "none");
    assert_eq!(
        json(&preset("us-opt-out"))["consent"]["gpc_cap"],
        "analytics"
    );
}

#[test]
fn a_salt_state_file_changes_the_memory_only_statement() {
    let memory = preset("eu-strict");
    let file = config(
        "consent = { preset = \"eu-strict\" }",
        "[salt]\nstate_file = \"/var/lib/veil/salt.json\"\ngrace_secs = 7200\n",
    );
    assert_eq!(
        manifest(&memory).processing.visitor_hash.salt_storage,
        "memory"
    );
    assert_eq!(
        manifest(&file).processing.visitor_hash.salt_storage,
        "memory-and-state-file"
    );
    let (en_mem, en_file) = (md(&memory, Lang::En), md(&file, Lang::En));
    assert!(en_mem.contains("only in the server’s memory."));
    assert!(!en_file.contains("only in the server’s memory"));
    assert!(en_file.contains("(mode 0600)"));
    assert!(en_mem.contains("destroyed 1 hour after the midnight that ends its day"));
    assert!(en_file.contains("destroyed 2 hours after the midnight that ends its day"));
    assert!(en_mem.contains("the site’s day, in the UTC time zone"));
    assert!(en_mem.contains("not even a hashed form of the identifier is kept"));
    let (pl_mem, pl_file) = (md(&memory, Lang::Pl), md(&file, Lang::Pl));
    assert!(pl_mem.contains("wyłącznie w pamięci operacyjnej serwera."));
    assert!(!pl_file.contains("wyłącznie w pamięci operacyjnej"));
    assert!(pl_file.contains("(uprawnienia 0600)"));
    assert!(pl_file.contains("po upływie 2 godzin od północy kończącej jej dobę"));
    assert!(pl_mem.contains("według strefy czasowej UTC"));
    // The path of the state file is not published.
    assert!(!render(&file, None, Format::Json, Lang::En)
        .unwrap()
        .contains("/var/lib/veil"));
}

#[test]
fn geo_decides_whether_region_statistics_come_from_the_ip() {
    let with = config("consent = { preset = \"eu-exempt-audience\" }", &geo_top());
    let without = preset("eu-exempt-audience");
    assert_eq!(
        manifest(&with).processing.ip.used_for,
        vec!["country", "region", "visitor-hash"]
    );
    assert_eq!(
        manifest(&without).processing.ip.used_for,
        vec!["visitor-hash"]
    );
    assert!(md(&with, Lang::En).contains("used to find the country and region"));
    assert!(md(&with, Lang::Pl).contains("służy do ustalenia kraju i regionu"));
    assert!(md(&with, Lang::Pl)
        .contains("kraj i region (np. województwo), ustalane na podstawie adresu IP"));
    assert!(md(&without, Lang::Pl).contains("lokalizacji nie ustalamy"));
    assert!(md(&without, Lang::En).contains("no location is determined"));
}

#[test]
fn controller_contact_and_k_are_stated() {
    let c = config(
        "consent = { preset = \"eu-strict\" }\ncontroller = \"Sklep Sp. z o.o.\"\ncontact = \"iod@shop.example\"\nk = 10",
        "",
    );
    let en = md(&c, Lang::En);
    assert!(
        en.contains("measurement is Sklep Sp. z o.o. For any"),
        "one full stop only: {en}"
    );
    assert!(en.contains("fewer than 10 unique visitors"));
    let pl = md(&c, Lang::Pl);
    assert!(pl.contains("Administratorem danych osobowych przetwarzanych w związku z pomiarem ruchu jest Sklep Sp. z o.o. W sprawach"));
    assert!(pl.contains("iod@shop.example."));
    assert!(pl.contains("mniej niż 10 unikalnych odwiedzających"));
    let c = config("consent = { preset = \"eu-strict\" }\nk = 0", "");
    assert!(md(&c, Lang::En).contains("Reports do not hide small groups"));
    assert!(md(&c, Lang::Pl).contains("Raporty nie ukrywają małych grup"));
    assert!(md(&preset("eu-strict"), Lang::Pl).contains("właściciel serwisu shop.example."));
}

#[test]
fn differential_privacy_is_stated_in_both_languages_only_when_on() {
    let off = preset("eu-strict");
    assert!(json(&off).get("differential_privacy").is_none());
    assert!(!md(&off, Lang::En).contains("differential privacy"));
    assert!(!md(&off, Lang::Pl).contains("prywatność różnicowa"));
    let secret = "p".repeat(40);
    let on = config(
        &format!("consent = {{ preset = \"eu-strict\" }}\ndp_epsilon_per_day = 0.5\ndp_secret = \"{secret}\""),
        "",
    );
    assert_eq!(json(&on)["differential_privacy"]["epsilon_per_day"], 0.5);
    let en = md(&on, Lang::En);
    assert!(en.contains("differential privacy, ε = 0.5 per day"), "{en}");
    assert!(en.contains("noised number of visitors reaches the minimum"));
    let pl = md(&on, Lang::Pl);
    assert!(
        pl.contains("prywatność różnicowa, ε = 0,5 na dzień"),
        "{pl}"
    );
    for rendered in [&en, &pl, &json(&on).to_string()] {
        assert!(!rendered.contains(&secret), "the secret is never disclosed");
    }
}

// Words that would betray an untranslated sentence in the Polish prose.
const ENGLISH: [&str; 22] = [
    "consent",
    "visitor",
    "retention",
    "purpose",
    "controller",
    "legitimate",
    "recipient",
    "profiling",
    "objection",
    "object ",
    "rights",
    " days",
    " day ",
    " hour",
    " the ",
    " and ",
    " of ",
    " is ",
    " we ",
    "statistics",
    "analytics",
    "never",
];

#[test]
fn both_languages_render_for_every_preset_and_polish_has_no_english_left() {
    for p in PRESETS {
        for geo in [true, false] {
            let top = if geo { geo_top() } else { String::new() };
            let c = config(
                &format!("consent = {{ preset = \"{p}\", cookie = \"cmp\" }}\nmarketing_props = [\"promo\"]"),
                &top,
            );
            let m = manifest(&c);
            let en = prose(&text_en::disclosure(&m));
            let pl = prose(&text_pl::disclosure(&m));
            assert!(
                en.contains("What we store") && en.contains("Your rights"),
                "{en}"
            );
            for section in [
                "Administrator danych",
                "Kiedy i w jakim zakresie prowadzimy pomiar",
                "Jakie dane zapisujemy",
                "Jak powstają te dane",
                "Czego nie zbieramy",
                "Cele i podstawy prawne przetwarzania",
                "Okres przechowywania danych",
                "Odbiorcy danych",
                "Profilowanie i zautomatyzowane podejmowanie decyzji",
                "Twoje prawa",
                "Plik cookie sprzeciwu",
            ] {
                assert!(pl.contains(section), "{p}: missing {section}");
            }
            let lower = pl.to_lowercase();
            for word in ENGLISH {
                assert!(
                    !lower.contains(word),
                    "{p}: English `{word}` in the Polish text:\n{pl}"
                );
            }
            let opt = text_pl::opt_out(&m);
            let opt_prose = format!(
                "{}{}{}{}{}{}",
                prose(&opt.summary),
                opt.objected,
                opt.not_objected,
                opt.object_button,
                opt.undo_button,
                opt.cookie_note
            )
            .to_lowercase();
            for word in ENGLISH {
                assert!(
                    !opt_prose.contains(word),
                    "{p}: English `{word}` on the Polish opt-out page:\n{opt_prose}"
                );
            }
            // Legal bases in Polish terms.
            assert!(pl.contains("art. 6 ust. 1 lit."), "{pl}");
            for lang in [Lang::En, Lang::Pl] {
                let html = render(&c, Some("shop.example"), Format::Html, lang).unwrap();
                assert!(html.contains(&format!("lang=\"{}\"", lang.as_str())));
            }
        }
    }
    let strict = prose(&text_pl::disclosure(&manifest(&preset("eu-strict"))));
    assert!(strict.contains("Twoja zgoda (art. 6 ust. 1 lit. a RODO)"));
    assert!(strict.contains("Zgodę możesz wycofać w dowolnym momencie"));
    let exempt = prose(&text_pl::disclosure(&manifest(&preset(
        "eu-exempt-audience",
    ))));
    assert!(exempt.contains("Statystyka odwiedzin, służąca utrzymaniu i rozwojowi serwisu — podstawą jest prawnie uzasadniony interes administratora"));
    assert!(exempt.contains("art. 6 ust. 1 lit. f RODO"));
}

#[test]
fn html_and_markdown_escape_configured_text() {
    let c = config(
        "consent = { preset = \"eu-strict\", cookie = \"c<b>\" }\ncontroller = \"<img src=x onerror=alert(1)>\"\ncontact = \"[x](javascript:alert(1))\"\nmarketing_props = [\"a*b\"]",
        "",
    );
    for lang in [Lang::En, Lang::Pl] {
        let html = render(&c, Some("shop.example"), Format::Html, lang).unwrap();
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("<code>c&lt;b&gt;</code>"));
        assert!(!html.contains("href=\"javascript"));
        let md = md(&c, lang);
        assert!(md.contains("\\<img src=x onerror=alert(1)\\>"), "{md}");
        assert!(md.contains("\\[x\\](javascript:alert(1))"), "{md}");
        assert!(md.contains("`a*b`"));
    }
}

#[test]
fn all_sites_render_and_json_is_language_independent() {
    let c = Config::from_toml_str(
        "[[sites]]\nid = \"a.example\"\n[[sites]]\nid = \"b.example\"\nlanguage = \"pl\"\nconsent = { preset = \"us-opt-out\" }\n",
        std::path::Path::new("t.toml"),
        Vec::new(),
    )
    .unwrap();
    let all: serde_json::Value =
        serde_json::from_str(&render(&c, None, Format::Json, Lang::En).unwrap()).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[1]["consent"]["preset"], "us-opt-out");
    assert_eq!(all[1]["language"], "pl");
    assert_eq!(
        render(&c, None, Format::Json, Lang::En).unwrap(),
        render(&c, None, Format::Json, Lang::Pl).unwrap()
    );
    let md = render(&c, None, Format::Md, Lang::Pl).unwrap();
    assert_eq!(md.matches("\n---\n").count(), 1);
    assert!(
        md.contains("## Statystyki odwiedzin serwisu a.example")
            && md.contains("## Statystyki odwiedzin serwisu b.example")
    );
    let html = render(&c, None, Format::Html, Lang::En).unwrap();
    assert_eq!(
        html.matches("<section class=\"veil-disclosure\"").count(),
        2
    );
    assert_eq!(Lang::of_site(&c.sites[1]), Lang::Pl);
}

#[test]
fn bad_names_get_clear_errors() {
    let e = "xml".parse::<Format>().unwrap_err();
    assert_eq!(e.to_string(), "unknown format `xml`: use json, md or html");
    let e = "de".parse::<Lang>().unwrap_err();
    assert_eq!(e.to_string(), "unknown language `de`: use en or pl");
    assert_eq!("Markdown".parse::<Format>().unwrap(), Format::Md);
    assert_eq!(" PL ".parse::<Lang>().unwrap(), Lang::Pl);
    let e = render(
        &preset("eu-strict"),
        Some("nope.example"),
        Format::Json,
        Lang::En,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown site `nope.example`: it is not configured"
    );
}

#[test]
fn the_opt_out_cookie_and_page_are_described() {
    let j = json(&preset("eu-strict"));
    assert_eq!(j["opt_out_cookie"]["name"], "veil_optout");
    assert_eq!(j["opt_out_cookie"]["value"], "1");
    assert_eq!(j["opt_out_cookie"]["max_age_secs"], 157_680_000);
    assert_eq!(j["rights"]["opt_out_page"], "/optout?site=shop.example");
    assert_eq!(
        j["recipients"]["third_parties"].as_array().unwrap().len(),
        0
    );
    assert_eq!(j["profiling"]["profiling"], false);
    assert_eq!(opt_out_path("a b&c/é"), "/optout?site=a%20b%26c%2F%C3%A9");
    let en = md(&preset("eu-strict"), Lang::En);
    assert!(en.contains("`veil_optout` with the value 1, and only when you object"));
    assert!(en.contains("lasts 5 years"));
    assert!(md(&preset("eu-strict"), Lang::Pl).contains("jest ważny przez 5 lat"));
}

#[test]
fn custom_category_requirements_are_disclosed() {
    let c = config(
        "consent = { preset = \"eu-strict\", categories = [\"functional\"], requires = { geo = \"functional\" } }\n",
        "",
    );
    let j = json(&c);
    assert_eq!(j["consent"]["extra_requirements"][0][0], "geo");
    assert_eq!(j["consent"]["extra_requirements"][0][1], "functional");
    assert!(
        md(&c, Lang::En).contains("only if your choice also includes the category `functional`")
    );
    assert!(md(&c, Lang::Pl).contains("obejmuje także kategorię `functional`"));
    let plain = preset("eu-strict");
    assert!(!md(&plain, Lang::En).contains("also includes the category"));
}

/// A site declaring goals, funnels and its own pairs (one with a campaign part,
/// one with a goal, one with revenue), keeping the default currencies.
const CONVERSIONS_SITE: &str = r#"consent = { preset = "eu-strict", categories = ["functional"], requires = { conversions = "functional", engagement = "functional" } }
marketing_props = ["coupon"]
pairs = ["page*source", "country*device", "source*goal", "page*utm_campaign", "goal*currency"]
goals = [{ name = "Signup", event = "signup" }, { name = "Pricing", page = "/pricing*" }]
funnels = [{ name = "Buy", steps = [{ page = "/pricing" }, { event = "signup" }, { page = "/thanks" }] }]"#;

/// Words of the new items that would betray an untranslated Polish sentence.
const ENGLISH_NEW: [&str; 10] = [
    "goal",
    "funnel",
    "revenue",
    "currency",
    "scroll",
    "time on page",
    "combination",
    "pair",
    "per ",
    "order",
];

fn level_dims(m: &Manifest, level: Level) -> Vec<&'static str> {
    m.level(level)
        .unwrap()
        .stored
        .iter()
        .map(|s| s.dim)
        .collect()
}

#[test]
fn declared_goals_funnels_pairs_and_currencies_are_stored_at_their_levels() {
    let m = manifest(&config(CONVERSIONS_SITE, ""));
    let count = level_dims(&m, Level::Count);
    assert_eq!(
        count,
        vec!["total", "page"],
        "no conversions when only counting"
    );
    assert!(m.level(Level::Count).unwrap().engagement.is_none());

    let analytics = level_dims(&m, Level::Analytics);
    for d in [
        "goal",
        "funnel",
        "currency",
        "page*source",
        "country*device",
    ] {
        assert!(analytics.contains(&d), "{d}: {analytics:?}");
    }
    assert!(analytics.contains(&"source*goal") && analytics.contains(&"goal*currency"));
    assert!(
        !analytics.contains(&"page*utm_campaign"),
        "a pair with a campaign part waits for marketing"
    );
    assert!(!analytics.contains(&"page*country"), "an undeclared pair");
    let marketing = level_dims(&m, Level::Marketing);
    assert!(marketing.contains(&"page*utm_campaign") && marketing.contains(&"goal"));
    let pairs: Vec<&str> = marketing
        .iter()
        .copied()
        .filter(|d| d.contains('*'))
        .collect();
    assert_eq!(pairs.len(), 5, "every declared pair, once: {pairs:?}");

    let j = json(&config(CONVERSIONS_SITE, ""));
    let stored = |level: usize, dim: &str| {
        j["levels"][level]["stored"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["dim"] == dim)
            .cloned()
            .unwrap_or_else(|| panic!("{dim} at level {level}"))
    };
    let campaign_pair = stored(2, "page*utm_campaign");
    assert_eq!(campaign_pair["class"], "marketing");
    assert_eq!(campaign_pair["retention_days"], 365);
    assert_eq!(campaign_pair["groups"], serde_json::json!(["campaigns"]));
    assert_eq!(
        stored(1, "source*goal")["groups"],
        serde_json::json!(["referrers", "conversions"]),
        "a pair belongs to both parts' groups"
    );
    assert_eq!(
        stored(1, "funnel")["groups"],
        serde_json::json!(["conversions"])
    );
    assert_eq!(stored(1, "page")["groups"], serde_json::json!([]));
    assert_eq!(stored(1, "goal")["retention_days"], 730);
    assert_eq!(
        j["conversions"]["goals"],
        serde_json::json!(["Signup", "Pricing"])
    );
    assert_eq!(j["conversions"]["funnels"][0]["steps"], 3);
    assert_eq!(j["conversions"]["currencies"].as_array().unwrap().len(), 12);
    let engagement = &j["levels"][1]["engagement"];
    assert_eq!(
        engagement["stored_with"],
        serde_json::json!(["total", "page"])
    );
    assert_eq!(engagement["group"], "engagement");
    assert!(j["levels"][0]["engagement"].is_null());
}

#[test]
fn goals_funnels_revenue_pairs_and_engagement_are_explained_in_both_languages() {
    let c = config(CONVERSIONS_SITE, "");
    let en = md(&c, Lang::En);
    let stored = section(&en, "What we store");
    for phrase in [
        "goals we have defined (`Signup`, `Pricing`)",
        "by how many visitors, not who reached it",
        "funnels we have defined (`Buy`)",
        "progress is followed only within one visit, in the server’s memory",
        "never linked across visits or days and only the counts are stored",
        "the sum of the amounts in each currency (`EUR`, `USD`",
        ", also per goal —",
        "never the amount of a single order, nothing per visitor",
        "combinations of two of the attributes above",
        "page and traffic source; country and device type; traffic source and goal —",
        "applies to each combination as a whole",
        "page and campaign name (utm\\_campaign) —",
        "(time on page and scroll depth)",
    ] {
        assert!(stored.contains(phrase), "missing `{phrase}`:\n{stored}");
    }
    let marketing = &stored[stored.find("**Marketing:**").unwrap()..];
    assert!(marketing.contains("page and campaign name"));
    assert!(
        !marketing.contains("traffic source and goal"),
        "listed once, under statistics"
    );
    assert!(en.contains("Data of the group `conversions` (goals, funnels and revenue, also where combined with other attributes; see the list below)"));
    assert!(en.contains(
        "Data of the group `engagement` (time on page and scroll depth; see the list below)"
    ));
    assert!(section(&en, "How long we keep the data").contains(
        "events, time on page, goals, funnels, revenue, combinations of these): 730 days"
    ));

    let pl = md(&c, Lang::Pl);
    let stored = section(&pl, "Jakie dane zapisujemy");
    for phrase in [
        "zdefiniowane przez nas cele konwersji (`Signup`, `Pricing`)",
        "ile razy go zrealizowano i ilu odwiedzających to zrobiło",
        "zdefiniowane przez nas lejki (`Buy`)",
        "postęp w lejku śledzimy wyłącznie w trakcie jednej wizyty, w pamięci operacyjnej serwera",
        "nie wiążemy go więc z innymi wizytami ani dniami i zapisujemy jedynie liczby",
        "suma kwot w każdej walucie (`EUR`, `USD`",
        ", także w podziale na cele konwersji —",
        "nie zapisujemy kwot pojedynczych zamówień, niczego w odniesieniu do pojedynczych odwiedzających",
        "zestawienia dwóch opisanych wyżej cech",
        "strona i źródło ruchu; kraj i rodzaj urządzenia; źródło ruchu i cel konwersji —",
        "dotyczy każdego zestawienia jako całości",
        "strona i nazwa kampanii (utm\\_campaign) —",
        "czas na stronie i głębokość przewinięcia",
    ] {
        assert!(stored.contains(phrase), "missing `{phrase}`:\n{stored}");
    }
    assert!(pl.contains("Dane z grupy `conversions` (cele konwersji, lejki i przychody, także w zestawieniach z innymi cechami; zob. lista poniżej)"));
    assert!(pl.contains(
        "Dane z grupy `engagement` (czas na stronie i głębokość przewinięcia; zob. lista poniżej)"
    ));
    assert!(section(&pl, "Okres przechowywania danych").contains(
        "zdarzenia, czas na stronie, cele konwersji, lejki, przychody, zestawienia tych danych): 730 dni;"
    ));
}

#[test]
fn the_polish_text_of_the_new_items_has_no_english_left() {
    let m = manifest(&config(CONVERSIONS_SITE, ""));
    let opt = text_pl::opt_out(&m);
    let texts = [prose(&text_pl::disclosure(&m)), prose(&opt.summary)];
    for text in texts {
        let lower = text.to_lowercase();
        for word in ENGLISH.iter().chain(&ENGLISH_NEW) {
            assert!(!lower.contains(word), "English `{word}` in Polish:\n{text}");
        }
    }
    let en_opt = prose(&text_en::opt_out(&m).summary);
    assert!(en_opt.contains("time on page and scroll depth, goals reached, funnel steps reached within a visit, revenue totals per currency"), "{en_opt}");
    assert!(prose(&opt.summary).contains("zrealizowane cele konwersji"));
}

#[test]
fn sites_without_goals_or_funnels_do_not_mention_them() {
    let plain = preset("eu-exempt-audience");
    let m = manifest(&plain);
    let all: Vec<&str> = m
        .levels
        .iter()
        .flat_map(|l| l.stored.iter().map(|s| s.dim))
        .collect();
    assert!(
        !all.iter()
            .any(|d| d.contains("goal") || d.contains("funnel")),
        "default goal pairs need goals: {all:?}"
    );
    let en = md(&plain, Lang::En).to_lowercase();
    let pl = md(&plain, Lang::Pl).to_lowercase();
    for word in ["goal", "funnel"] {
        assert!(!en.contains(word), "{word}:\n{en}");
    }
    for word in ["cel konwersji", "cele konwersji", "lejk"] {
        assert!(!pl.contains(word), "{word}:\n{pl}");
    }
    // The default pairs and currencies are still described.
    assert!(
        en.contains("page and traffic source") && en.contains("also per event and traffic source")
    );
    assert!(
        pl.contains("strona i źródło ruchu")
            && pl.contains("w podziale na zdarzenia i źródła ruchu")
    );

    // No currencies and no pairs: neither revenue nor combinations.
    let bare = config(
        "consent = { preset = \"eu-exempt-audience\" }\ncurrencies = []\npairs = []\nk = 0",
        "",
    );
    let m = manifest(&bare);
    assert!(m
        .levels
        .iter()
        .all(|l| l.stored.iter().all(|s| s.dim != "currency")));
    let en = md(&bare, Lang::En);
    assert!(
        !en.contains("revenue") && !en.contains("combinations"),
        "{en}"
    );
    let pl = md(&bare, Lang::Pl);
    assert!(!pl.contains("przych") && !pl.contains("zestawieni"), "{pl}");
    // Time on page is stored with the pages of every collecting level above count.
    assert!(en.contains("(time on page and scroll depth)"));
}

#[test]
fn every_stored_dimension_is_explained_by_its_own_item() {
    let m = manifest(&config(CONVERSIONS_SITE, ""));
    let dims: Vec<crate::model::Dim> = crate::model::Dim::ALL.to_vec();
    let mut groups = DimGroup::list(&dims);
    // Every group a stored dimension of this site falls in is among them.
    for l in &m.levels {
        for s in &l.stored {
            assert!(groups.contains(&DimGroup::of(s.kind)), "{}", s.dim);
        }
    }
    groups.retain(|g| *g != DimGroup::Event);
    for d in [
        crate::model::Dim::Goal,
        crate::model::Dim::Funnel,
        crate::model::Dim::Currency,
    ] {
        assert_ne!(DimGroup::of(d), DimGroup::Event, "{d:?} has its own text");
    }
    for text in [
        |m: &Manifest, d: &[crate::model::Dim], g| {
            prose(&[Block::Para(text_en::group_item(m, Level::Analytics, d, g))])
        },
        |m: &Manifest, d: &[crate::model::Dim], g| {
            prose(&[Block::Para(text_pl::group_item(m, Level::Analytics, d, g))])
        },
    ] {
        let event = text(&m, &dims, DimGroup::Event);
        let mut seen: Vec<String> = vec![event];
        for g in &groups {
            let item = text(&m, &dims, *g);
            assert!(item.trim().len() > 10, "{g:?}: {item}");
            assert!(!seen.contains(&item), "{g:?} repeats another item: {item}");
            seen.push(item);
        }
    }
}

#[test]
fn a_site_whose_declarations_do_not_compile_gets_no_manifest() {
    let mut c = preset("eu-strict");
    c.sites[0].pairs = Some(vec!["page*nothing".into()]);
    let e = Manifest::for_site(&c, "shop.example").unwrap_err();
    assert!(
        e.to_string().starts_with("site `shop.example`: `pairs[0]`"),
        "{e}"
    );
}
