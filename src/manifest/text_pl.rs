//! Polska klauzula informacyjna i teksty strony sprzeciwu.
//!
//! Written as a Polish data-protection officer would write it (RODO terminology:
//! administrator danych, cel i podstawa prawna przetwarzania, okres przechowywania,
//! odbiorcy, prawo sprzeciwu, wycofanie zgody, profilowanie), not translated
//! sentence by sentence from the English text. Past-tense forms that would need a
//! grammatical gender are avoided, so the text addresses every reader alike.

use super::doc::{b, code, link, t, Block, Inline};
use super::{
    combinations, group_in_pairs, level_has, listed_dims, revenue_breakdowns, statistics_extras,
    DimGroup, Extra, LegalBasis, LevelManifest, Manifest, OptOutTexts, OPT_OUT_MAX_AGE_SECS,
};
use crate::model::{DataClass, Dim};
use crate::privacy::consent::{DataGroup, Level};

mod words;
use words::*;

fn marketing_props(m: &Manifest) -> &[String] {
    m.level(Level::Marketing)
        .map_or(&[][..], |l| l.marketing_props.as_slice())
}

fn opt_out_link(m: &Manifest) -> Inline {
    link(m.rights.opt_out_page.clone(), m.rights.opt_out_page.clone())
}

/// Names the declared goals: they are the stored values, so a reader sees
/// exactly what can be counted. "Cele konwersji", never bare "cele": in a
/// privacy notice "cele" are the purposes of processing.
fn goal_item(m: &Manifest) -> Vec<Inline> {
    let mut v = vec![t("zdefiniowane przez nas cele konwersji (")];
    v.extend(code_list(m.conversions.goals.iter().map(String::as_str)));
    v.push(t(") — cel uznajemy za zrealizowany przy odsłonie wskazanej strony albo przy wskazanym zdarzeniu; dla każdego celu zapisujemy tylko, ile razy go zrealizowano i ilu odwiedzających to zrobiło, bez informacji o tym, kogo to dotyczy"));
    v
}

/// Says where funnel progress lives (the live visit, in memory): that, and
/// storing counts only, is what keeps a funnel from following a person.
fn funnel_item(m: &Manifest) -> Vec<Inline> {
    let mut v = vec![t("zdefiniowane przez nas lejki (")];
    v.extend(code_list(
        m.conversions.funnels.iter().map(|f| f.name.as_str()),
    ));
    v.push(t("), czyli ciągi kolejnych kroków, np. strona produktu, koszyk i płatność: dla każdego kroku liczba wizyt, które do niego dotarły po przejściu kroków poprzednich — postęp w lejku śledzimy wyłącznie w trakcie jednej wizyty, w pamięci operacyjnej serwera, i odrzucamy go po jej zakończeniu, nie wiążemy go więc z innymi wizytami ani dniami i zapisujemy jedynie liczby"));
    v
}

/// Revenue sounds like orders: the item says it is sums per currency (and per
/// what the site pairs it with), never an order or a buyer.
fn revenue_item(m: &Manifest, dims: &[Dim]) -> Vec<Inline> {
    let mut v = vec![t(
        "przychód zgłaszany przez nasze strony przy zakupach, zapisywany wyłącznie jako suma kwot w każdej walucie (",
    )];
    v.extend(code_list(
        m.conversions.currencies.iter().map(String::as_str),
    ));
    v.push(t(")"));
    let per: Vec<String> = revenue_breakdowns(dims)
        .into_iter()
        .map(|d| dim_name(d).1.to_string())
        .collect();
    if !per.is_empty() {
        v.push(t(format!(", także w podziale na {}", join_i(&per))));
    }
    v.push(t(
        " — nie zapisujemy kwot pojedynczych zamówień, niczego w odniesieniu do pojedynczych odwiedzających ani kwot w innych walutach",
    ));
    v
}

/// A pair adds no new attribute, only the count of two known ones together;
/// the item lists the site's pairs by name and says small groups stay hidden.
fn pairs_item(m: &Manifest, dims: &[Dim]) -> Vec<Inline> {
    let names: Vec<String> = combinations(dims)
        .into_iter()
        .map(|(a, b)| format!("{} i {}", dim_name(a).0, dim_name(b).0))
        .collect();
    let mut s = format!(
        "zestawienia dwóch opisanych wyżej cech, liczone łącznie, aby jedną z nich można było pokazać w podziale na drugą: {} — to takie same sumy godzinowe jak pozostałe dane",
        names.join("; ")
    );
    if m.k_anonymity.k > 1 {
        s.push_str("; opisany niżej próg minimalnej liczby odwiedzających dotyczy każdego zestawienia jako całości");
    }
    vec![t(s)]
}

/// Time on page is not a dimension but counters on the page rows: the item says
/// where it comes from and that only sums are kept.
fn engagement_item() -> Vec<Inline> {
    vec![t("czas na stronie i głębokość przewinięcia, czyli jak długo strona była widoczna i jak daleko ją przewinięto — przekazuje je nasza strona, gdy ją opuszczasz lub przechodzisz do innej karty; zapisujemy je wyłącznie jako sumy dla poszczególnych stron i całego serwisu, wraz z liczbą takich zgłoszeń")]
}

/// The list of what a level stores: its groups, time on page after the pages,
/// and unique visitors last.
fn level_items(m: &Manifest, l: &LevelManifest) -> Vec<Vec<Inline>> {
    let dims = listed_dims(l);
    let mut list = Vec::new();
    for g in DimGroup::list(&dims) {
        list.push(group_item(m, l.level, &dims, g));
        if g == DimGroup::Page && l.engagement.is_some() {
            list.push(engagement_item());
        }
    }
    if l.visitor_hash && l.level != Level::Marketing {
        list.push(vec![t("liczba unikalnych odwiedzających, szacowana na podstawie jednodniowego identyfikatora opisanego niżej")]);
    }
    list
}

/// A data group a site ties to one of its own categories (`consent.requires`).
fn requirement_item(m: &Manifest, group: &str, category: &str) -> Vec<Inline> {
    let mut about = DataGroup::parse(group).map_or(String::new(), |g| group_name(g).to_string());
    if group_in_pairs(m, group) {
        about.push_str(", także w zestawieniach z innymi cechami");
    }
    if !about.is_empty() {
        about.push_str("; ");
    }
    vec![
        t("Dane z grupy "),
        code(group),
        t(format!(" ({about}zob. lista poniżej) zapisujemy tylko wtedy, gdy Twój wybór obejmuje także kategorię ")),
        code(category),
        t("; w przeciwnym razie nie są ani ustalane, ani przechowywane."),
    ]
}

/// One list item per stored group of a level; `dims` are the dimensions the
/// level's list explains.
pub(super) fn group_item(m: &Manifest, level: Level, dims: &[Dim], g: DimGroup) -> Vec<Inline> {
    let geo = m.processing.ip.geo_database;
    match g {
        DimGroup::Total if level == Level::Count => vec![t("łączna liczba odsłon serwisu")],
        DimGroup::Total => vec![t("łączna liczba odsłon, zdarzeń i unikalnych odwiedzających w serwisie")],
        DimGroup::Page if level == Level::Count => vec![t(
            "liczba odsłon poszczególnych stron — zapisujemy samą ścieżkę adresu (np. /kontakt), bez jakichkolwiek parametrów",
        )],
        DimGroup::Page => vec![t(
            "ścieżka każdej odwiedzonej strony (np. /kontakt), bez parametrów zapytania",
        )],
        DimGroup::Visit => vec![t(
            "wizyty: ich liczba, pierwsza i ostatnia odwiedzona strona, czas trwania (od pierwszej do ostatniej odsłony; przerwa dłuższa niż ustawiony limit bezczynności rozpoczyna nową wizytę) oraz to, czy obejrzano tylko jedną stronę",
        )],
        DimGroup::Source => vec![t(
            "rodzaj źródła ruchu wizyty (wyszukiwarka, serwis społecznościowy, e-mail, płatna kampania, inna strona albo wejście bezpośrednie), ustalany na podstawie domeny odsyłającej i oznaczeń kampanii",
        )],
        DimGroup::Referrer => vec![t(
            "domena strony odsyłającej (np. www.google.com) albo informacja, że wejście nastąpiło bezpośrednio",
        )],
        DimGroup::Campaign => vec![
            t("oznaczenia kampanii zawarte w adresie strony: "),
            code("utm_source"),
            t(", "),
            code("utm_medium"),
            t(", "),
            code("utm_campaign"),
            t(", "),
            code("utm_term"),
            t(" i "),
            code("utm_content"),
        ],
        DimGroup::Location if geo => vec![t(
            "kraj i region (np. województwo), ustalane na podstawie adresu IP",
        )],
        DimGroup::Location => vec![t(
            "kraj i region — nie są ustalane (veil działa bez bazy geolokalizacyjnej), dlatego zawsze zapisujemy je jako nieznane",
        )],
        DimGroup::Browser => vec![t("nazwa przeglądarki i jej główna wersja")],
        DimGroup::Os => vec![t("system operacyjny i jego wersja")],
        DimGroup::Device => vec![t("rodzaj urządzenia (komputer, telefon, tablet lub inne)")],
        DimGroup::Screen => vec![t(
            "przedział szerokości ekranu (np. 1200–1439 px), jeżeli przekazuje ją nasza strona",
        )],
        DimGroup::Language => vec![t("preferowany język przeglądarki (np. pl)")],
        DimGroup::Event => vec![t(
            "nazwy zdarzeń zgłaszanych przez nasze strony (np. wysłanie formularza)",
        )],
        DimGroup::Prop if m.marketing_reachable() && !marketing_props(m).is_empty() => vec![t(
            "właściwości tych zdarzeń przekazywane przez nasze strony, z wyjątkiem wymienionych niżej właściwości marketingowych",
        )],
        DimGroup::Prop => vec![t("właściwości tych zdarzeń przekazywane przez nasze strony")],
        DimGroup::MarketingProp => {
            let mut v = vec![t("właściwości zdarzeń, które traktujemy jako dane marketingowe: ")];
            v.extend(code_list(marketing_props(m).iter().map(String::as_str)));
            v
        }
        DimGroup::Decision => vec![t("godzinowe liczniki decyzji dotyczących zgody")],
        DimGroup::Goal => goal_item(m),
        DimGroup::Funnel => funnel_item(m),
        DimGroup::Revenue => revenue_item(m, dims),
        DimGroup::Pairs => pairs_item(m, dims),
    }
}

fn signal_sentence(name: &str, cap: Level) -> String {
    match cap {
        Level::None => format!(
            "Jeżeli Twoja przeglądarka wysyła sygnał {name}, traktujemy go jako sprzeciw: nie zapisujemy niczego poza liczbą takich odsłon, nawet jeśli wcześniej udzielono zgody."
        ),
        Level::Count => format!(
            "Jeżeli Twoja przeglądarka wysyła sygnał {name}, ograniczamy pomiar do anonimowego liczenia odsłon."
        ),
        Level::Analytics => format!(
            "Jeżeli Twoja przeglądarka wysyła sygnał {name}, nie zapisujemy danych marketingowych (dotyczących kampanii); statystykę odwiedzin prowadzimy bez zmian."
        ),
        Level::Marketing => format!("Sygnał {name} nie zmienia zakresu pomiaru."),
    }
}

fn when_no_choice(default: Level) -> &'static str {
    match default {
        Level::None => {
            "Dopóki nie dokonasz wyboru w banerze zgód, nie zapisujemy niczego poza liczbą takich odsłon."
        }
        Level::Count => {
            "Dopóki nie wyrazisz zgody, jedynie anonimowo liczymy odsłony stron (poziom „liczenie odsłon”, opisany niżej)."
        }
        Level::Analytics => {
            "Bez pytania o zgodę prowadzimy pomiar w zakresie poziomu „statystyka”, opisanego niżej, na podstawie naszego prawnie uzasadnionego interesu; w każdej chwili możesz się temu sprzeciwić."
        }
        Level::Marketing => {
            "Bez pytania o zgodę prowadzimy pomiar w zakresie poziomu „marketing”, opisanego niżej, łącznie z danymi kampanii, na podstawie naszego prawnie uzasadnionego interesu; w każdej chwili możesz się temu sprzeciwić."
        }
    }
}

fn when_consent(default: Level) -> &'static str {
    match default {
        Level::None | Level::Count => {
            "Jeżeli wyrazisz zgodę na cele statystyczne, prowadzimy pomiar na poziomie „statystyka”; jeżeli zgodzisz się także na cele marketingowe — na poziomie „marketing”."
        }
        Level::Analytics => {
            "Jeżeli wyrazisz zgodę zarówno na cele statystyczne, jak i marketingowe, prowadzimy pomiar na poziomie „marketing”."
        }
        Level::Marketing => {
            "Jeżeli Twój wybór obejmuje cele statystyczne, ale nie marketingowe, prowadzimy pomiar na poziomie „statystyka”, bez danych kampanii."
        }
    }
}

/// Klauzula informacyjna.
pub(super) fn disclosure(m: &Manifest) -> Vec<Block> {
    let mut d = Vec::new();
    d.push(Block::Heading(
        2,
        vec![t("Statystyki odwiedzin serwisu "), t(m.site.as_str())],
    ));
    d.push(Block::Para(vec![
        t("Ruch w serwisie "),
        t(m.site.as_str()),
        t(" mierzymy za pomocą narzędzia veil, zaprojektowanego z myślą o ochronie prywatności. Zapisuje ono wyłącznie zbiorcze dane godzinowe — nigdy zapisu pojedynczej wizyty ani informacji o tym, co oglądała konkretna osoba — i nie umieszcza w tym celu w Twojej przeglądarce plików cookies ani innych identyfikatorów. Poniższe informacje odpowiadają konfiguracji, z którą veil faktycznie działa."),
    ]));

    // Administrator.
    d.push(Block::Heading(3, vec![t("Administrator danych")]));
    let mut p = match &m.controller {
        Some(c) => vec![
            t("Administratorem danych osobowych przetwarzanych w związku z pomiarem ruchu jest "),
            t(c.as_str()),
            t(full_stop(c)),
        ],
        None => vec![
            t("Administratorem danych osobowych przetwarzanych w związku z pomiarem ruchu jest właściciel serwisu "),
            t(m.site.as_str()),
            t("."),
        ],
    };
    if let Some(contact) = &m.contact {
        p.extend([
            t(" W sprawach dotyczących ochrony danych możesz się z nami skontaktować: "),
            t(contact.as_str()),
            t(full_stop(contact)),
        ]);
    }
    d.push(Block::Para(p));

    // Zgoda.
    let c = &m.consent;
    d.push(Block::Heading(
        3,
        vec![t("Kiedy i w jakim zakresie prowadzimy pomiar")],
    ));
    d.push(Block::Para(vec![t(
        "Zakres pomiaru zależy od Twojego wyboru:",
    )]));
    let mut items = vec![
        vec![t(when_no_choice(c.without_consent))],
        vec![t(when_consent(c.without_consent))],
        vec![t("Jeżeli Twój wybór nie obejmuje celów statystycznych, nie zapisujemy niczego poza liczbą odmów.")],
    ];
    let mut how = vec![t(
        "O Twoim wyborze veil dowiaduje się z zapytania wysyłanego przez naszą stronę",
    )];
    if let Some(cookie) = &c.consent_cookie {
        how.extend([
            t(" albo z pliku cookie "),
            code(cookie.as_str()),
            t(", który zapisuje nasz baner zgód — veil wyłącznie go odczytuje"),
        ]);
    }
    how.push(t("."));
    items.push(how);
    for (group, category) in &c.extra_requirements {
        items.push(requirement_item(m, group, category));
    }
    items.push(vec![t(signal_sentence(
        "Global Privacy Control (GPC)",
        c.gpc_cap,
    ))]);
    items.push(vec![t(signal_sentence("Do Not Track (DNT)", c.dnt_cap))]);
    items.push(vec![
        t("Niezależnie od dokonanego wyboru możesz w każdej chwili zgłosić sprzeciw na stronie "),
        opt_out_link(m),
        t("; od tego momentu zapisujemy wyłącznie liczbę sprzeciwów."),
    ]);
    d.push(Block::List(items));

    // Zakres danych.
    d.push(Block::Heading(3, vec![t("Jakie dane zapisujemy")]));
    d.push(Block::Para(vec![t(
        "Zapisujemy wyłącznie sumy za poszczególne godziny. Ich zakres zależy od poziomu pomiaru:",
    )]));
    for l in m.levels.iter().filter(|l| l.reachable()) {
        let heading = match l.level {
            Level::Marketing => vec![
                b("Marketing:"),
                t(" wszystko, co na poziomie „statystyka”, a ponadto"),
            ],
            level => {
                let name = level_name(level);
                let mut chars = name.chars();
                let title: String = chars
                    .next()
                    .map(|f| f.to_uppercase().chain(chars).collect())
                    .unwrap_or_default();
                vec![b(format!("{title}:"))]
            }
        };
        d.push(Block::Para(heading));
        d.push(Block::List(level_items(m, l)));
        if l.level == Level::Count {
            d.push(Block::Para(vec![t("Na tym poziomie adres IP służy wyłącznie ochronie przed nadużyciami opisanej niżej, a nagłówek User-Agent sprawdzamy wyłącznie po to, by pominąć ruch automatów (botów).")]));
        }
    }
    d.push(Block::Para(vec![t("Dla każdej godziny zapisujemy też liczniki decyzji: ile odsłon zapisano na danym poziomie, a ile pominięto (brak zgody, sprzeciw, sygnał GPC lub DNT, ruch automatów, błędne zapytania). Liczniki te nie są danymi osobowymi — pozwalają wykazać, że respektujemy Twoje wybory.")]));

    // Sposób przetwarzania.
    d.push(Block::Heading(3, vec![t("Jak powstają te dane")]));
    let hash = &m.processing.visitor_hash;
    let mut list = Vec::new();
    list.push(vec![t(if m.processing.ip.geo_database {
        "Adres IP Twojego urządzenia służy do ustalenia kraju i regionu — na podstawie lokalnej bazy geolokalizacyjnej (w formacie MaxMind GeoLite2), bez odpytywania jakichkolwiek usług zewnętrznych — oraz do obliczenia jednodniowego identyfikatora opisanego niżej. Następnie adres jest odrzucany: nie trafia ani do bazy danych, ani do dzienników systemowych (logów)."
    } else {
        "Adres IP Twojego urządzenia służy do obliczenia jednodniowego identyfikatora opisanego niżej; lokalizacji nie ustalamy. Następnie adres jest odrzucany: nie trafia ani do bazy danych, ani do dzienników systemowych (logów)."
    })]);
    if let Some(n) = m.processing.ip.rate_limit_per_sec {
        list.push(vec![t(format!("Aby chronić serwis przed nadużyciami, jedno urządzenie — lub jedna sieć, w przypadku IPv6 blok adresów, domyślnie /64, jaki otrzymuje gospodarstwo domowe lub telefon — może wysłać najwyżej {n} zapytań na sekundę (krótkie serie są dopuszczalne) i utrzymywać jednocześnie tylko kilka połączeń. W tym celu adres (lub jego sieć) jest przez kilka minut przechowywany wyłącznie w pamięci, jako skrót z kluczem istniejącym tylko w działającym programie; nie jest nigdzie zapisywany ani logowany."))]);
    }
    list.push(vec![t("Nagłówek User-Agent przesyłany przez przeglądarkę zamieniamy na nazwę przeglądarki, system operacyjny, rodzaj urządzenia oraz informację, czy zapytanie wysłał automat. Sam nagłówek jest następnie odrzucany i nigdzie go nie zapisujemy. Aby odróżnić automaty, veil sprawdza też, czy zapytanie zawiera nagłówki wysyłane przez każdą przeglądarkę (preferowane języki oraz metadane pobierania dodawane przez nowoczesne przeglądarki); z nich zapisać możemy wyłącznie preferowany język, jeśli ten dokument go wymienia.")]);
    let mut h = vec![t(format!("Aby policzyć unikalnych odwiedzających bez użycia plików cookies, veil oblicza skrót kryptograficzny BLAKE3 z kluczem, obejmujący nazwę serwisu, adres IP i nagłówek User-Agent. Kluczem jest losowa sól tworzona na każdą dobę — dobę serwisu, według strefy czasowej {} — i przechowywana ", hash.timezone))];
    if hash.salt_storage == "memory" {
        h.push(t("wyłącznie w pamięci operacyjnej serwera."));
    } else {
        h.push(t("w pamięci operacyjnej serwera oraz — aby ponowne uruchomienie serwera nie zmieniało identyfikatorów w ciągu dnia — w pliku dostępnym wyłącznie dla konta, na którym działa veil (uprawnienia 0600), nadpisywanym przy każdej zmianie soli."));
    }
    let grace = hash.salt_destroyed_secs_after_midnight;
    if grace == 0 {
        h.push(t(" Sól jest niszczona o północy kończącej jej dobę."));
    } else {
        h.push(t(format!(
            " Sól jest niszczona po upływie {} od północy kończącej jej dobę.",
            after(grace)
        )));
    }
    h.push(t(" Od tej chwili nikt — także my — nie może ponownie obliczyć identyfikatorów z tamtego dnia, a ta sama osoba następnego dnia otrzymuje nowy identyfikator, niepowiązany z poprzednim. Identyfikator trafia do bazy wyłącznie jako składnik zbiorczej struktury służącej do szacowania liczby unikalnych odwiedzających w poszczególnych godzinach bieżącej doby. Po zakończeniu doby struktury te zastępujemy zwykłymi liczbami (ilu było unikalnych odwiedzających) i usuwamy, więc dla minionych dni nie przechowujemy identyfikatora w żadnej postaci, także jako skrótu. Nie powstaje żaden zapis dotyczący pojedynczej osoby."));
    list.push(h);
    list.push(vec![
        t("Z adresu odwiedzanej strony zachowujemy tylko ścieżkę. Parametry zapytania (część adresu po znaku „?”) i fragment (po znaku „#”) odrzucamy — z wyjątkiem oznaczeń kampanii "),
        code("utm_*"),
        t(", które zapisujemy tylko na poziomie „marketing”. Z adresu strony odsyłającej zachowujemy jedynie domenę."),
    ]);
    list.push(vec![t("Zapytania automatów (robotów wyszukiwarek, przeglądarek bez interfejsu graficznego, bibliotek HTTP) liczymy łącznie i nie zapisujemy ich jako odwiedzin.")]);
    let k = m.k_anonymity.k;
    if k > 1 {
        list.push(vec![
            t(format!("W raportach grupy liczące mniej niż {k} unikalnych odwiedzających (np. rzadko spotykany region lub przeglądarka) pokazujemy wyłącznie łącznie, jako pozycję ")),
            code("(other)"),
            t(" (pozostałe)."),
        ]);
    } else {
        list.push(vec![t("Raporty nie ukrywają małych grup: nie ustalono minimalnej liczby odwiedzających w grupie.")]);
    }
    if let Some(dp) = &m.differential_privacy {
        let eps = dp.epsilon_per_day.to_string().replace('.', ",");
        let mut s = format!("Liczby w raportach zawierają też losowy szum (prywatność różnicowa, ε = {eps} na dzień): każda liczba odwiedzających, odsłon, wizyt, zdarzeń i realizacji celów danego dnia i grupy jest przesunięta o niewielką losową wartość, stałą dla tego dnia i tej grupy, tak aby opublikowana liczba nie pozwalała ustalić, czy konkretna osoba odwiedziła stronę — nawet gdy ktoś wysyła fałszywe odwiedziny, by sztucznie powiększyć grupę. Przychody i średnie czasy nie są zaszumiane.");
        if k > 1 {
            s.push_str(" Grupę pokazujemy tylko wtedy, gdy jej liczba odwiedzających po dodaniu szumu osiąga opisany wyżej próg.");
        }
        list.push(vec![t(s)]);
    }
    d.push(Block::List(list));

    // Czego nie zbieramy.
    d.push(Block::Heading(3, vec![t("Czego nie zbieramy")]));
    d.push(Block::Para(vec![t("veil nie zbiera i nie zapisuje:")]));
    let mut cookies = vec![
        t("wartości plików cookies — z wyjątkiem pliku "),
        code(m.opt_out_cookie.name),
    ];
    if let Some(cookie) = &c.consent_cookie {
        cookies.extend([
            t(" oraz pliku "),
            code(cookie.as_str()),
            t(", który wyłącznie odczytuje"),
        ]);
    }
    cookies.push(t(";"));
    d.push(Block::List(vec![
        vec![t("adresu IP — w żadnej postaci;")],
        vec![t("pełnej treści nagłówka User-Agent;")],
        vec![
            t("parametrów zapytania w adresie strony (z wyjątkiem oznaczeń kampanii "),
            code("utm_*"),
            t(" na poziomie „marketing”);"),
        ],
        vec![t("fragmentu adresu po znaku „#”;")],
        vec![t("ścieżki i parametrów adresu strony odsyłającej — zachowuje tylko domenę;")],
        cookies,
        vec![t("żadnych plików cookies, danych w pamięci przeglądarki ani innych trwałych identyfikatorów służących statystyce;")],
        vec![t("żadnych zapisów dotyczących pojedynczych wizyt lub pojedynczych osób.")],
    ]));

    // Cele i podstawy prawne.
    d.push(Block::Heading(
        3,
        vec![t("Cele i podstawy prawne przetwarzania")],
    ));
    let mut list = Vec::new();
    for l in m.levels.iter().filter(|l| l.reachable()) {
        let basis = |interest: &str| {
            if l.legal_basis == LegalBasis::Consent {
                "Twoja zgoda (art. 6 ust. 1 lit. a RODO)".to_string()
            } else {
                format!("prawnie uzasadniony interes administratora, polegający na {interest} (art. 6 ust. 1 lit. f RODO)")
            }
        };
        let item = match l.level {
            Level::Count => "Anonimowe liczenie odsłon stron — prawnie uzasadniony interes administratora, polegający na poznaniu popularności publikowanych treści (art. 6 ust. 1 lit. f RODO); zapisywane liczby nie są danymi osobowymi.".to_string(),
            Level::Analytics => format!("Statystyka odwiedzin, służąca utrzymaniu i rozwojowi serwisu — podstawą jest {}.", basis("analizie ruchu w serwisie")),
            Level::Marketing => format!("Ocena skuteczności kampanii marketingowych (ustalenie, które kampanie przyciągają odwiedzających) — podstawą jest {}.", basis("ocenie skuteczności własnych kampanii")),
            Level::None => continue,
        };
        list.push(vec![t(item)]);
    }
    list.push(vec![t("Wykazanie, że respektujemy wybory odwiedzających (zasada rozliczalności, art. 5 ust. 2 RODO) — służą temu anonimowe liczniki decyzji.")]);
    d.push(Block::List(list));

    // Okres przechowywania.
    let r = &m.retention;
    d.push(Block::Heading(3, vec![t("Okres przechowywania danych")]));
    let mut list = vec![vec![t(format!(
        "statystyki odwiedzin ({}): {};",
        audience_kinds(m),
        days(r.audience_days)
    ))]];
    if m.marketing_reachable() {
        list.push(vec![
            t("dane kampanii (oznaczenia "),
            code("utm_*"),
            t(format!(
                "{}: {};",
                campaign_kinds(m),
                days(r.marketing_days)
            )),
        ]);
    }
    list.push(vec![t(format!(
        "liczniki decyzji dotyczących zgody: {}.",
        days(r.consent_days)
    ))]);
    d.push(Block::List(list));
    d.push(Block::Para(vec![t(if r.job_enabled {
        format!("Po upływie tych okresów dane są trwale usuwane przez zadanie porządkowe veil, uruchamiane {}: usuwa ono całe dni danych, gdy minie najdłuższy z tych okresów, a dane kategorii przechowywanych krócej kasuje odpowiednio wcześniej. Usunięcie polega na zniszczeniu danych; nie są one nigdzie przenoszone.", every(r.job_interval_secs))
    } else {
        "Automatyczne usuwanie danych po upływie okresu przechowywania jest w tej konfiguracji wyłączone; administrator usuwa je samodzielnie po upływie powyższych okresów.".to_string()
    })]));

    // Odbiorcy.
    d.push(Block::Heading(3, vec![t("Odbiorcy danych")]));
    d.push(Block::Para(vec![t("Statystyki trafiają wyłącznie do naszej własnej bazy danych (ClickHouse). veil nie przekazuje danych żadnym podmiotom trzecim ani do państw trzecich, nie korzysta z zewnętrznych usług analitycznych ani reklamowych i nie sprzedaje danych.")]));

    // Profilowanie.
    d.push(Block::Heading(
        3,
        vec![t("Profilowanie i zautomatyzowane podejmowanie decyzji")],
    ));
    d.push(Block::Para(vec![t("Nie profilujemy odwiedzających i nie podejmujemy wobec nikogo decyzji opartych wyłącznie na zautomatyzowanym przetwarzaniu (art. 22 RODO). veil nie tworzy profili ani zapisów dotyczących pojedynczych osób — przechowuje jedynie sumy godzinowe.")]));

    // Prawa.
    d.push(Block::Heading(3, vec![t("Twoje prawa")]));
    let mut list = vec![vec![t("Zapisane statystyki są anonimowe: nie zawierają adresu IP ani trwałego identyfikatora, a jednodniowych identyfikatorów nie da się odtworzyć po zniszczeniu soli. Nie jesteśmy więc w stanie ustalić, które dane dotyczą konkretnej osoby, ani wyodrębnić ich ze statystyk, dlatego prawo dostępu do danych, ich sprostowania, usunięcia, ograniczenia przetwarzania i przenoszenia nie znajduje do nich zastosowania (art. 11 RODO). Nie przechowujemy też dodatkowych informacji, które by to umożliwiały.")]];
    let mut objection = vec![
        t("Prawo sprzeciwu (art. 21 RODO), także wobec przetwarzania w celach statystycznych, wykonasz bez podawania uzasadnienia — na stronie "),
        opt_out_link(m),
    ];
    let signals: Vec<String> = m
        .rights
        .objection
        .iter()
        .filter_map(|o| match *o {
            "gpc" => Some("sygnał Global Privacy Control".to_string()),
            "dnt" => Some("sygnał Do Not Track".to_string()),
            _ => None,
        })
        .collect();
    if !signals.is_empty() {
        let joined = match signals.as_slice() {
            [a, b] => format!("{a} lub {b}"),
            other => join_i(other),
        };
        objection.push(t(format!(" albo włączając w przeglądarce {joined}")));
    }
    objection.push(t(". Sprzeciw działa od następnej odsłony."));
    list.push(objection);
    if m.rights.consent_withdrawable {
        list.push(vec![t("Zgodę możesz wycofać w dowolnym momencie, zmieniając wybór w banerze zgód. Wycofanie zgody działa od następnej odsłony i nie wpływa na zgodność z prawem przetwarzania, którego dokonano przed jej wycofaniem (art. 7 ust. 3 RODO).")]);
    }
    list.push(vec![t(
        "Przysługuje Ci także prawo wniesienia skargi do Prezesa Urzędu Ochrony Danych Osobowych.",
    )]);
    d.push(Block::List(list));

    // Plik cookie sprzeciwu.
    d.push(Block::Heading(3, vec![t("Plik cookie sprzeciwu")]));
    d.push(Block::Para(vec![
        t("veil zapisuje w przeglądarce tylko jeden plik cookie — "),
        code(m.opt_out_cookie.name),
        t(format!(
            " o wartości 1 — i wyłącznie wtedy, gdy zgłosisz sprzeciw. Plik ten jest niezbędny do uszanowania Twojego wyboru, dlatego nie wymaga zgody; nie zawiera żadnego identyfikatora i jest ważny przez {}. Jeżeli go usuniesz albo cofniesz sprzeciw na stronie sprzeciwu, pomiar będzie znów prowadzony na zasadach opisanych powyżej.",
            years_or_days(m.opt_out_cookie.max_age_secs)
        )),
    ]));
    d
}

/// An [`Extra`] in the retention list, and on the opt-out page (`None`: not
/// named there, where combinations of what it lists add nothing new).
fn extra_name(e: Extra) -> (&'static str, Option<&'static str>) {
    match e {
        Extra::Engagement => (
            "czas na stronie",
            Some("czas na stronie i głębokość przewinięcia"),
        ),
        Extra::Goals => ("cele konwersji", Some("zrealizowane cele konwersji")),
        Extra::Funnels => (
            "lejki",
            Some("kroki lejków, do których dotarto w trakcie wizyty"),
        ),
        Extra::Revenue => (
            "przychody",
            Some("sumy przychodów w poszczególnych walutach"),
        ),
        Extra::Combinations => ("zestawienia tych danych", None),
    }
}

/// What the audience retention period covers.
fn audience_kinds(m: &Manifest) -> String {
    let mut kinds = vec![
        "odsłony",
        "odwiedzający",
        "strony",
        "źródła wejść",
        "lokalizacja",
        "przeglądarki",
        "urządzenia",
        "zdarzenia",
    ];
    kinds.extend(statistics_extras(m).into_iter().map(|e| extra_name(e).0));
    kinds.join(", ")
}

/// What the marketing retention period covers, after "`utm_*`".
fn campaign_kinds(m: &Manifest) -> String {
    let mut s = String::new();
    if !marketing_props(m).is_empty() {
        s.push_str(" i właściwości marketingowe");
    }
    let paired = |d: Dim| d.parts().is_some() && d.class() == DataClass::Marketing;
    if level_has(m, Level::Marketing, paired) {
        s.push_str(", także w zestawieniach z innymi cechami");
    }
    s.push(')');
    s
}

fn campaign_extra(m: &Manifest) -> &'static str {
    if marketing_props(m).is_empty() {
        "oznaczenia kampanii (utm_*)"
    } else {
        "oznaczenia kampanii (utm_*) i marketingowe właściwości zdarzeń"
    }
}

/// A one-line account of what a level records, for the opt-out page.
fn short(m: &Manifest, level: Level) -> String {
    match level {
        Level::None => "nic poza liczbą takich odsłon".into(),
        Level::Count => "wyłącznie anonimowa liczba odsłon poszczególnych stron".into(),
        Level::Analytics | Level::Marketing => {
            let mut parts = vec!["odwiedzane strony", "źródła wejść"];
            if m.processing.ip.geo_database {
                parts.push("kraj i region");
            }
            parts.extend([
                "przeglądarka",
                "system operacyjny",
                "rodzaj urządzenia",
                "szerokość ekranu",
                "język",
                "zdarzenia",
            ]);
            parts.extend(
                statistics_extras(m)
                    .into_iter()
                    .filter_map(|e| extra_name(e).1),
            );
            parts.push("liczba unikalnych odwiedzających (na podstawie identyfikatora ważnego przez jedną dobę)");
            if level == Level::Marketing {
                parts.push(campaign_extra(m));
            }
            let parts: Vec<String> = parts.into_iter().map(String::from).collect();
            join_i(&parts)
        }
    }
}

/// Teksty strony sprzeciwu.
pub(super) fn opt_out(m: &Manifest) -> OptOutTexts {
    let r = &m.retention;
    let list = vec![
        vec![t(format!(
            "Bez wyboru w banerze zgód: {}.",
            short(m, m.consent.without_consent)
        ))],
        vec![t(format!(
            "Gdy Twój wybór obejmuje cele statystyczne: {}.",
            short(m, Level::Analytics)
        ))],
        vec![t(format!(
            "Gdy obejmuje także cele marketingowe: dodatkowo {}.",
            campaign_extra(m)
        ))],
        vec![t(if m.marketing_reachable() {
            format!(
                "Okres przechowywania: statystyki — {}, dane kampanii — {}.",
                days(r.audience_days),
                days(r.marketing_days)
            )
        } else {
            format!("Okres przechowywania statystyk: {}.", days(r.audience_days))
        })],
    ];
    OptOutTexts {
        title: format!("Statystyki odwiedzin: {}", m.site),
        summary: vec![
            Block::Para(vec![
                t("Serwis "),
                t(m.site.as_str()),
                t(" mierzy ruch za pomocą narzędzia veil. Zapisywane są wyłącznie sumy godzinowe — nigdy Twój adres IP, pełny nagłówek User-Agent ani zapis Twojej wizyty."),
            ]),
            Block::List(list),
        ],
        objected: "Sprzeciw został zgłoszony: od teraz z Twoich odsłon w tej przeglądarce zapisujemy wyłącznie anonimową liczbę sprzeciwów.",
        not_objected: "Sprzeciw nie został zgłoszony. Po jego zgłoszeniu z Twoich odsłon w tej przeglądarce będziemy zapisywać wyłącznie anonimową liczbę sprzeciwów.",
        object_button: "Zgłaszam sprzeciw wobec pomiaru",
        undo_button: "Cofam sprzeciw",
        cookie_note: format!(
            "Twój wybór zapisujemy w pliku cookie {} (wartość 1, ważny przez {}) dla tego serwera statystyk i tylko w tej przeglądarce. Usunięcie plików cookies usuwa również ten wybór.",
            m.opt_out_cookie.name,
            years_or_days(OPT_OUT_MAX_AGE_SECS)
        ),
        full_disclosure: "Pełna informacja o przetwarzaniu danych",
        other_language: "English",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polish_numerals_agree() {
        assert_eq!(days(1), "1 dzień");
        assert_eq!(days(14), "14 dni");
        assert_eq!(every(3_600), "co godzinę");
        assert_eq!(every(7_200), "co 2 godziny");
        assert_eq!(every(6 * 3_600), "co 6 godzin");
        assert_eq!(every(22 * 3_600), "co 22 godziny");
        assert_eq!(every(12 * 3_600), "co 12 godzin");
        assert_eq!(every(86_400), "co dzień");
        assert_eq!(after(3_600), "godziny");
        assert_eq!(after(7_200), "2 godzin");
        assert_eq!(after(90), "90 sekund");
        assert_eq!(after(60), "minuty");
        assert_eq!(years_or_days(OPT_OUT_MAX_AGE_SECS), "5 lat");
        assert_eq!(years_or_days(2 * 365 * 86_400), "2 lata");
        assert_eq!(years_or_days(365 * 86_400), "1 rok");
        assert_eq!(join_i(&["a".into(), "b".into(), "c".into()]), "a, b i c");
    }
}
