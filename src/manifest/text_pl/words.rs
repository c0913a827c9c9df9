//! Słowa polskiej klauzuli: nazwy poziomów i wymiarów, okresy, odmiana liczebników, listy.

use super::super::doc::{code, t, Inline};
use crate::model::Dim;
use crate::privacy::consent::{DataGroup, Level};

pub(super) fn level_name(level: Level) -> &'static str {
    match level {
        Level::None => "brak pomiaru",
        Level::Count => "liczenie odsłon",
        Level::Analytics => "statystyka",
        Level::Marketing => "marketing",
    }
}

/// 2, 3, 4, 22, 23, 24, … take the "few" form; 12–14 do not.
pub(super) fn few(n: u64) -> bool {
    (2..=4).contains(&(n % 10)) && !(12..=14).contains(&(n % 100))
}

/// `n` with the right noun form: `forms` = (one, few, many).
pub(super) fn count(n: u64, forms: (&str, &str, &str)) -> String {
    if n == 1 {
        format!("1 {}", forms.0)
    } else if few(n) {
        format!("{n} {}", forms.1)
    } else {
        format!("{n} {}", forms.2)
    }
}

/// A full stop after a configured value, unless it already ends with one.
pub(super) fn full_stop(value: &str) -> &'static str {
    if value.ends_with('.') {
        ""
    } else {
        "."
    }
}

/// Days in the nominative/accusative: "1 dzień", "14 dni".
pub(super) fn days(n: u32) -> String {
    count(u64::from(n), ("dzień", "dni", "dni"))
}

/// A duration after "co" (accusative): "co godzinę", "co 6 godzin", "co 2 dni".
pub(super) fn every(secs: u64) -> String {
    let (n, forms) = if secs > 0 && secs.is_multiple_of(86_400) {
        (secs / 86_400, ("dzień", "dni", "dni"))
    } else if secs > 0 && secs.is_multiple_of(3_600) {
        (secs / 3_600, ("godzinę", "godziny", "godzin"))
    } else if secs > 0 && secs.is_multiple_of(60) {
        (secs / 60, ("minutę", "minuty", "minut"))
    } else {
        (secs, ("sekundę", "sekundy", "sekund"))
    };
    if n == 1 {
        format!("co {}", forms.0)
    } else {
        format!("co {}", count(n, forms))
    }
}

/// A duration after "po upływie" (genitive): "godziny", "2 godzin", "90 sekund".
pub(super) fn after(secs: u64) -> String {
    let (n, one, many) = if secs.is_multiple_of(86_400) {
        (secs / 86_400, "doby", "dób")
    } else if secs.is_multiple_of(3_600) {
        (secs / 3_600, "godziny", "godzin")
    } else if secs.is_multiple_of(60) {
        (secs / 60, "minuty", "minut")
    } else {
        (secs, "sekundy", "sekund")
    };
    if n == 1 {
        one.to_string()
    } else {
        format!("{n} {many}")
    }
}

/// Years after "przez" (accusative): "5 lat", "2 lata", "1 rok".
pub(super) fn years_or_days(secs: u64) -> String {
    let year = 365 * 86_400;
    if secs.is_multiple_of(year) {
        count(secs / year, ("rok", "lata", "lat"))
    } else {
        count(secs / 86_400, ("dzień", "dni", "dni"))
    }
}

pub(super) fn join_i(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} i {last}", init.join(", ")),
    }
}

/// A dimension as a reader names it, in the nominative singular (the
/// combinations: "strona i źródło ruchu") and plural (what revenue is summed by,
/// after "w podziale na", where these non-personal plurals equal the nominative).
pub(super) fn dim_name(d: Dim) -> (&'static str, &'static str) {
    match d {
        Dim::Total => ("całość serwisu", "całość serwisu"),
        Dim::Page => ("strona", "strony"),
        Dim::EntryPage => ("strona wejścia", "strony wejścia"),
        Dim::ExitPage => ("strona wyjścia", "strony wyjścia"),
        Dim::Source => ("źródło ruchu", "źródła ruchu"),
        Dim::Referrer => ("domena odsyłająca", "domeny odsyłające"),
        Dim::Utm(0) => (
            "źródło kampanii (utm_source)",
            "źródła kampanii (utm_source)",
        ),
        Dim::Utm(1) => (
            "medium kampanii (utm_medium)",
            "media kampanii (utm_medium)",
        ),
        Dim::Utm(2) => (
            "nazwa kampanii (utm_campaign)",
            "nazwy kampanii (utm_campaign)",
        ),
        Dim::Utm(3) => (
            "słowo kluczowe kampanii (utm_term)",
            "słowa kluczowe kampanii (utm_term)",
        ),
        Dim::Utm(_) => (
            "wariant treści kampanii (utm_content)",
            "warianty treści kampanii (utm_content)",
        ),
        Dim::Country => ("kraj", "kraje"),
        Dim::Region => ("region", "regiony"),
        Dim::Browser => ("przeglądarka", "przeglądarki"),
        Dim::BrowserVersion => ("wersja przeglądarki", "wersje przeglądarek"),
        Dim::Os => ("system operacyjny", "systemy operacyjne"),
        Dim::OsVersion => (
            "wersja systemu operacyjnego",
            "wersje systemów operacyjnych",
        ),
        Dim::Device => ("rodzaj urządzenia", "rodzaje urządzeń"),
        Dim::Screen => ("szerokość ekranu", "szerokości ekranu"),
        Dim::Language => ("język", "języki"),
        Dim::Event => ("zdarzenie", "zdarzenia"),
        Dim::Prop => ("właściwość zdarzenia", "właściwości zdarzeń"),
        Dim::MarketingProp => ("właściwość marketingowa", "właściwości marketingowe"),
        Dim::Decision => ("decyzja dotycząca zgody", "decyzje dotyczące zgody"),
        Dim::Goal => ("cel konwersji", "cele konwersji"),
        Dim::Funnel => ("krok lejka", "kroki lejków"),
        Dim::Currency => ("waluta", "waluty"),
        Dim::Pair(_) => ("zestawienie", "zestawienia"),
    }
}

/// What a consent data group (`consent.requires`) covers, for the sentence that
/// ties it to a category: the key alone tells a reader nothing.
pub(super) fn group_name(g: DataGroup) -> &'static str {
    match g {
        DataGroup::Visits => "unikalni odwiedzający i wizyty",
        DataGroup::Geo => "kraj i region",
        DataGroup::Agent => "przeglądarka, system operacyjny i rodzaj urządzenia",
        DataGroup::Referrers => "domeny odsyłające i źródła ruchu",
        DataGroup::Campaigns => "oznaczenia kampanii",
        DataGroup::Screen => "szerokość ekranu",
        DataGroup::Language => "język przeglądarki",
        DataGroup::Events => "zdarzenia i ich właściwości",
        DataGroup::Conversions => "cele konwersji, lejki i przychody",
        DataGroup::Engagement => "czas na stronie i głębokość przewinięcia",
    }
}

/// Configured names as literals, comma-separated.
pub(super) fn code_list<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Inline> {
    let mut v = Vec::new();
    for (i, n) in names.into_iter().enumerate() {
        if i > 0 {
            v.push(t(", "));
        }
        v.push(code(n));
    }
    v
}
