//! Property tests of the decoders and normalisers that face the internet: they never
//! panic, and what they produce keeps its invariants whatever the input.
//! (Coverage-guided fuzzing of the same functions: `fuzz/`, `scripts/fuzz.sh`.)

use proptest::prelude::*;

use veil::beacon::{json, pixel, plausible, umami};
use veil::privacy::consent::{Categories, Level};
use veil::privacy::url::{parse_page, percent_decode, referrer_host, truncate};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn pixel_decoding_never_panics(q in ".{0,300}") {
        let _ = pixel::decode(&q, None);
    }

    #[test]
    fn pixel_roundtrips_site_and_width(site in "[a-z0-9.-]{1,40}", w in 0u32..100_000) {
        let q = format!("s={site}&u=%2Fp&w={w}");
        let b = pixel::decode(&q, None).unwrap();
        prop_assert_eq!(b.site.as_ref(), site.as_str());
        prop_assert_eq!(b.width, Some(w));
    }

    #[test]
    fn json_decoders_never_panic(body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = json::decode(&body);
        let _ = plausible::decode(&body);
        let _ = umami::decode(&body);
    }

    #[test]
    fn json_decoders_never_panic_on_json_shapes(
        site in ".{0,20}", url in ".{0,60}", w in any::<f64>(), key in ".{0,10}", val in ".{0,20}"
    ) {
        let body = serde_json::json!({"site": site, "url": url, "width": w, "props": {key.clone(): val.clone()}, "consent": [val.clone()]}).to_string();
        let _ = json::decode(body.as_bytes());
        let body = serde_json::json!({"n": "pageview", "u": url, "d": site, "w": w, "p": {key: val}}).to_string();
        let _ = plausible::decode(body.as_bytes());
    }

    #[test]
    fn pages_are_normalised(url in ".{0,300}", max in 1usize..600, hash in any::<bool>()) {
        let p = parse_page(&url, max, hash);
        prop_assert!(p.path.starts_with('/'));
        prop_assert!(!p.path.contains('?'));
        prop_assert!(hash || !p.path.contains('#'));
        prop_assert!(!p.path.contains("//"));
        prop_assert!(p.host.chars().all(|c| !c.is_ascii_uppercase()));
        for u in p.utm.iter().flatten() {
            prop_assert!(u.len() <= 128);
        }
    }

    #[test]
    fn referrers_keep_only_a_host(r in ".{0,200}") {
        if let Some(h) = referrer_host(&r) {
            prop_assert!(!h.contains('/') && !h.contains('?') && !h.contains('#'));
            prop_assert!(!h.starts_with("www."));
        }
    }

    #[test]
    fn consent_lists_never_grant_what_they_do_not_name(list in "[a-z, +|]{0,60}") {
        let c = Categories::parse_list(&list);
        if !list.contains("analytics") && !list.contains("statistics") {
            prop_assert_eq!(c.level(), Level::None);
        }
    }

    #[test]
    fn percent_decoding_and_truncation_are_total(s in ".{0,200}", max in 0usize..300) {
        let d = percent_decode(&s, true);
        prop_assert!(d.len() <= s.len() * 3 + 3);
        let t = truncate(&s, max);
        prop_assert!(t.len() <= max && s.starts_with(t));
    }
}
