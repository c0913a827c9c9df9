//! The English disclosure and opt-out page texts.

use super::doc::{b, code, link, t, Block, Inline};
use super::{
    combinations, group_in_pairs, level_has, listed_dims, revenue_breakdowns, statistics_extras,
    DimGroup, Extra, LegalBasis, LevelManifest, Manifest, OptOutTexts, OPT_OUT_MAX_AGE_SECS,
};
use crate::model::{DataClass, Dim};
use crate::privacy::consent::{DataGroup, Level};

mod words;
use words::*;

/// Names the declared goals: they are the stored values, so a reader sees
/// exactly what can be counted.
fn goal_item(m: &Manifest) -> Vec<Inline> {
    let mut v = vec![t("goals we have defined (")];
    v.extend(code_list(m.conversions.goals.iter().map(String::as_str)));
    v.push(t("), each reached with a view of a given page or with a given event: per goal, only how many times it was reached and by how many visitors, not who reached it"));
    v
}

/// Says where funnel progress lives (the live visit, in memory): that, and
/// storing counts only, is what keeps a funnel from following a person.
fn funnel_item(m: &Manifest) -> Vec<Inline> {
    let mut v = vec![t("funnels we have defined (")];
    v.extend(code_list(
        m.conversions.funnels.iter().map(|f| f.name.as_str()),
    ));
    v.push(t("), each a series of steps such as product page, cart and payment: per step, how many visits reached it after the steps before it — progress is followed only within one visit, in the server’s memory, and discarded when the visit ends, so it is never linked across visits or days and only the counts are stored"));
    v
}

/// Revenue sounds like orders: the item says it is sums per currency (and per
/// what the site pairs it with), never an order or a buyer.
fn revenue_item(m: &Manifest, dims: &[Dim]) -> Vec<Inline> {
    let mut v = vec![t(
        "revenue our pages report with purchases, stored only as the sum of the amounts in each currency (",
    )];
    v.extend(code_list(
        m.conversions.currencies.iter().map(String::as_str),
    ));
    v.push(t(")"));
    let per: Vec<String> = revenue_breakdowns(dims)
        .into_iter()
        .map(|d| dim_name(d).to_string())
        .collect();
    if !per.is_empty() {
        v.push(t(format!(", also per {}", join_and(&per))));
    }
    v.push(t(
        " — never the amount of a single order, nothing per visitor and nothing in other currencies",
    ));
    v
}

/// A pair adds no new attribute, only the count of two known ones together;
/// the item lists the site's pairs by name and says small groups stay hidden.
fn pairs_item(m: &Manifest, dims: &[Dim]) -> Vec<Inline> {
    let names: Vec<String> = combinations(dims)
        .into_iter()
        .map(|(a, b)| format!("{} and {}", dim_name(a), dim_name(b)))
        .collect();
    let mut s = format!(
        "combinations of two of the attributes above, counted together so that one can be broken down by the other: {} — hourly totals like the rest",
        names.join("; ")
    );
    if m.k_anonymity.k > 1 {
        s.push_str(
            "; the minimum group size described below applies to each combination as a whole",
        );
    }
    vec![t(s)]
}

/// Time on page is not a dimension but counters on the page rows: the item says
/// where it comes from and that only sums are kept.
fn engagement_item() -> Vec<Inline> {
    vec![t("how long each page was visible and how far down it was scrolled (time on page and scroll depth), which our page reports when you leave it or switch to another tab — only as sums per page and for the whole site, with the number of such reports")]
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
        list.push(vec![t(
            "the number of unique visitors, estimated from the one-day identifier described below",
        )]);
    }
    list
}

/// A data group a site ties to one of its own categories (`consent.requires`).
fn requirement_item(m: &Manifest, group: &str, category: &str) -> Vec<Inline> {
    let mut about = DataGroup::parse(group).map_or(String::new(), |g| group_name(g).to_string());
    if group_in_pairs(m, group) {
        about.push_str(", also where combined with other attributes");
    }
    if !about.is_empty() {
        about.push_str("; ");
    }
    vec![
        t("Data of the group "),
        code(group),
        t(format!(" ({about}see the list below) is recorded only if your choice also includes the category ")),
        code(category),
        t("; otherwise it is neither computed nor stored."),
    ]
}

/// One list item per stored group of a level; `dims` are the dimensions the
/// level's list explains.
pub(super) fn group_item(m: &Manifest, level: Level, dims: &[Dim], g: DimGroup) -> Vec<Inline> {
    let geo = m.processing.ip.geo_database;
    match g {
        DimGroup::Total if level == Level::Count => {
            vec![t("the total number of page views of the site")]
        }
        DimGroup::Total => vec![t(
            "the total numbers of page views, events and unique visitors of the site",
        )],
        DimGroup::Page if level == Level::Count => vec![t(
            "the number of views of each page, identified by the path of its address only (e.g. /contact), without any parameters",
        )],
        DimGroup::Page => vec![t(
            "the path of each page viewed (e.g. /contact), without the query string",
        )],
        DimGroup::Visit => vec![t(
            "visits: how many there were, their first and last page, how long they lasted (time between the first and last page view; a pause longer than the configured visit timeout starts a new visit) and whether only one page was seen",
        )],
        DimGroup::Source => vec![t(
            "the kind of traffic source of a visit (search engine, social network, e-mail, paid campaign, other site, or direct), derived from the referring domain and campaign tags",
        )],
        DimGroup::Referrer => vec![t(
            "the domain of the page that linked to ours (e.g. www.google.com), or the fact that there was none",
        )],
        DimGroup::Campaign => vec![
            t("campaign tags in the page address: "),
            code("utm_source"),
            t(", "),
            code("utm_medium"),
            t(", "),
            code("utm_campaign"),
            t(", "),
            code("utm_term"),
            t(" and "),
            code("utm_content"),
        ],
        DimGroup::Location if geo => vec![t(
            "the country and region (e.g. a voivodeship or a state), derived from the IP address",
        )],
        DimGroup::Location => vec![t(
            "country and region: not determined (no geolocation database is configured), so always recorded as unknown",
        )],
        DimGroup::Browser => vec![t("the browser name and its major version")],
        DimGroup::Os => vec![t("the operating system and its version")],
        DimGroup::Device => vec![t("the device type (desktop, mobile, tablet or other)")],
        DimGroup::Screen => vec![t(
            "the screen width range (e.g. 1200–1439 px), when our page sends the width",
        )],
        DimGroup::Language => vec![t("the browser’s preferred language (e.g. pl)")],
        DimGroup::Event => vec![t(
            "the names of events our pages report (e.g. a submitted form)",
        )],
        DimGroup::Prop if m.marketing_reachable() && !marketing_props(m).is_empty() => vec![t(
            "the properties our pages send with those events, except the marketing properties listed below",
        )],
        DimGroup::Prop => vec![t("the properties our pages send with those events")],
        DimGroup::MarketingProp => {
            let mut v = vec![t("event properties we treat as marketing data: ")];
            v.extend(code_list(marketing_props(m).iter().map(String::as_str)));
            v
        }
        DimGroup::Decision => vec![t("hourly counts of consent decisions")],
        DimGroup::Goal => goal_item(m),
        DimGroup::Funnel => funnel_item(m),
        DimGroup::Revenue => revenue_item(m, dims),
        DimGroup::Pairs => pairs_item(m, dims),
    }
}

fn marketing_props(m: &Manifest) -> &[String] {
    m.level(Level::Marketing)
        .map_or(&[][..], |l| l.marketing_props.as_slice())
}

fn opt_out_link(m: &Manifest) -> Inline {
    link(m.rights.opt_out_page.clone(), m.rights.opt_out_page.clone())
}

fn signal_sentence(name: &str, cap: Level) -> String {
    match cap {
        Level::None => format!(
            "If your browser sends the {name} signal, we treat it as an objection: nothing is recorded except a count of such page views, even if consent was given earlier."
        ),
        Level::Count => format!(
            "If your browser sends the {name} signal, we only count page views anonymously."
        ),
        Level::Analytics => format!(
            "If your browser sends the {name} signal, no marketing (campaign) data is recorded; statistics are measured as usual."
        ),
        Level::Marketing => format!("The {name} signal does not change what is measured."),
    }
}

fn when_no_choice(default: Level) -> &'static str {
    match default {
        Level::None => {
            "Until you make a choice in our consent banner, nothing is recorded except a count of such page views."
        }
        Level::Count => {
            "Until you give consent, we only count page views anonymously (the “anonymous count” level below)."
        }
        Level::Analytics => {
            "Without asking for consent, we measure at the “statistics” level below, on the basis of our legitimate interest; you can object at any time."
        }
        Level::Marketing => {
            "Without asking for consent, we measure at the “marketing” level below, campaign data included, on the basis of our legitimate interest; you can object at any time."
        }
    }
}

fn when_consent(default: Level) -> &'static str {
    match default {
        Level::None | Level::Count => {
            "If you agree to statistics, we measure at the “statistics” level; if you also agree to marketing, at the “marketing” level."
        }
        Level::Analytics => {
            "If you agree to both statistics and marketing, we measure at the “marketing” level."
        }
        Level::Marketing => {
            "If your choice covers statistics but not marketing, we measure at the “statistics” level, without campaign data."
        }
    }
}

/// The disclosure.
pub(super) fn disclosure(m: &Manifest) -> Vec<Block> {
    let mut d = Vec::new();
    d.push(Block::Heading(
        2,
        vec![t("Audience measurement on "), t(m.site.as_str())],
    ));
    d.push(Block::Para(vec![
        t("We measure traffic on "),
        t(m.site.as_str()),
        t(" with veil, an analytics tool built for privacy. It stores only totals per hour — never a record of a single visit or of what one person viewed — and it places no cookies or other identifiers in your browser to do so. This notice describes the configuration veil actually runs with."),
    ]));

    // Controller.
    d.push(Block::Heading(3, vec![t("Controller")]));
    let mut p = match &m.controller {
        Some(c) => vec![
            t("The controller of the personal data processed for this measurement is "),
            t(c.as_str()),
            t(full_stop(c)),
        ],
        None => vec![
            t("The controller of the personal data processed for this measurement is the operator of "),
            t(m.site.as_str()),
            t("."),
        ],
    };
    if let Some(contact) = &m.contact {
        p.extend([
            t(" For any question about your data, contact us at "),
            t(contact.as_str()),
            t(full_stop(contact)),
        ]);
    }
    d.push(Block::Para(p));

    // Consent.
    let c = &m.consent;
    d.push(Block::Heading(3, vec![t("When we measure, and how much")]));
    d.push(Block::Para(vec![t(
        "What is recorded depends on your choice:",
    )]));
    let mut items = vec![
        vec![t(when_no_choice(c.without_consent))],
        vec![t(when_consent(c.without_consent))],
        vec![t("If your choice does not include statistics, nothing is recorded except a count of refusals.")],
    ];
    let mut how = vec![t("veil learns your choice from the request our page sends")];
    if let Some(cookie) = &c.consent_cookie {
        how.extend([
            t(", or from the cookie "),
            code(cookie.as_str()),
            t(" set by our consent banner, which veil only reads"),
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
        t("Whatever you chose, you can object at any time on the opt-out page "),
        opt_out_link(m),
        t("; from then on we keep only a count of objections."),
    ]);
    d.push(Block::List(items));

    // What is stored.
    d.push(Block::Heading(3, vec![t("What we store")]));
    d.push(Block::Para(vec![t(
        "We store only totals for each hour. What they cover depends on the level of measurement:",
    )]));
    for l in m.levels.iter().filter(|l| l.reachable()) {
        let heading = match l.level {
            Level::Marketing => vec![
                b("Marketing:"),
                t(" everything listed under “statistics”, and"),
            ],
            level => vec![b(format!(
                "{}{}:",
                level_name(level)[..1].to_uppercase(),
                &level_name(level)[1..]
            ))],
        };
        d.push(Block::Para(heading));
        d.push(Block::List(level_items(m, l)));
        if l.level == Level::Count {
            d.push(Block::Para(vec![t("At this level your IP address is used for nothing but the abuse protection described below, and the User-Agent header is only checked to leave out automated traffic (bots).")]));
        }
    }
    d.push(Block::Para(vec![t("For every hour we also count decisions: how many page views were recorded at each level and how many were left out (no consent, objection, GPC or DNT, bots, invalid requests). These counters are not personal data; they show that your choices are respected.")]));

    // Processing.
    d.push(Block::Heading(
        3,
        vec![t("How these statistics are produced")],
    ));
    let hash = &m.processing.visitor_hash;
    let mut list = Vec::new();
    list.push(vec![t(if m.processing.ip.geo_database {
        "The IP address of your device is used to find the country and region — in a local geolocation database (MaxMind GeoLite2 format), without asking any outside service — and to compute the one-day identifier described below. The address is then discarded: it is never written to the database or to any log."
    } else {
        "The IP address of your device is used to compute the one-day identifier described below; no location is determined. The address is then discarded: it is never written to the database or to any log."
    })]);
    if let Some(n) = m.processing.ip.rate_limit_per_sec {
        list.push(vec![t(format!("To protect the service against abuse, one device — or one network, for IPv6 a block of addresses, by default the /64 a household or phone gets — may send at most {n} requests per second (short bursts are allowed) and hold only a few connections open at once. For this the address (or its network) is kept, for a few minutes and in memory only, as a hash under a key that exists only in the running program; it is never stored or logged."))]);
    }
    list.push(vec![t("The User-Agent header your browser sends is reduced to the browser name, operating system, device type and whether the request came from a robot. The header itself is then discarded and never stored. To tell robots apart, veil also looks at whether the request carries headers every browser sends (the preferred languages, and the fetch metadata modern browsers add); of these only the preferred language may be stored, where this document lists it.")]);
    let mut h = vec![t(format!("To count unique visitors without cookies, veil computes a keyed BLAKE3 hash of the site name, the IP address and the User-Agent header. The key is a random salt created for each day — the site’s day, in the {} time zone — and kept ", hash.timezone))];
    if hash.salt_storage == "memory" {
        h.push(t("only in the server’s memory."));
    } else {
        h.push(t("in the server’s memory and — so that a restart does not change the day’s identifiers — in a file readable only by the account veil runs under (mode 0600), overwritten whenever the salt changes."));
    }
    let grace = hash.salt_destroyed_secs_after_midnight;
    if grace == 0 {
        h.push(t(
            " The salt is destroyed at the midnight that ends its day.",
        ));
    } else {
        h.push(t(format!(
            " The salt is destroyed {} after the midnight that ends its day.",
            duration(grace)
        )));
    }
    h.push(t(" From then on nobody — us included — can compute that day’s identifiers again, and the same person gets a new, unrelated identifier the next day. The identifier reaches the database only inside an aggregate structure that estimates the number of unique visitors per hour of the current day. Once the day is over, these structures are replaced by plain numbers (how many unique visitors there were) and deleted, so for past days not even a hashed form of the identifier is kept. No record about an individual is ever created."));
    list.push(h);
    list.push(vec![
        t("Of the page address we keep only the path. The query string (after “?”) and the fragment (after “#”) are dropped — except the "),
        code("utm_*"),
        t(" campaign tags, which are kept at the “marketing” level only. Of the referring page we keep only its domain."),
    ]);
    list.push(vec![t("Requests from robots (search engine crawlers, headless browsers, HTTP libraries) are counted as a total and never stored as visits.")]);
    let k = m.k_anonymity.k;
    if k > 1 {
        list.push(vec![
            t(format!("In reports, groups with fewer than {k} unique visitors (e.g. a rare region or browser) are shown only together, as ")),
            code("(other)"),
            t("."),
        ]);
    } else {
        list.push(vec![t("Reports do not hide small groups: no minimum number of visitors per group is configured.")]);
    }
    if let Some(dp) = &m.differential_privacy {
        let mut s = format!("The numbers in reports also carry random noise (differential privacy, ε = {} per day): each count of visitors, pageviews, visits, events and goal completions of each day and group is moved by a small random amount, fixed for that day and group, so that a published number does not show whether any one person visited — not even when someone sends fake visits to make a group look large. Revenue and average durations are not noised.", dp.epsilon_per_day);
        if k > 1 {
            s.push_str(" A group is shown only when its noised number of visitors reaches the minimum above.");
        }
        list.push(vec![t(s)]);
    }
    d.push(Block::List(list));

    // Never collected.
    d.push(Block::Heading(3, vec![t("What we never collect")]));
    let mut cookies = vec![
        t("the values of your cookies, except "),
        code(m.opt_out_cookie.name),
    ];
    if let Some(cookie) = &c.consent_cookie {
        cookies.extend([
            t(" and "),
            code(cookie.as_str()),
            t(", which veil only reads"),
        ]);
    }
    d.push(Block::List(vec![
        vec![t("your IP address, in any form")],
        vec![t("the full User-Agent header")],
        vec![
            t("the query string of the page address (except the "),
            code("utm_*"),
            t(" campaign tags at the “marketing” level)"),
        ],
        vec![t("the part of the address after “#”")],
        vec![t(
            "the path and query of the referring page; only its domain is kept",
        )],
        cookies,
        vec![t(
            "any cookie, browser storage or other lasting identifier for statistics",
        )],
        vec![t("any record of a single visit or a single person")],
    ]));

    // Purposes and legal bases.
    d.push(Block::Heading(3, vec![t("Purposes and legal bases")]));
    let mut list = Vec::new();
    for l in m.levels.iter().filter(|l| l.reachable()) {
        let basis = |interest: &str| {
            if l.legal_basis == LegalBasis::Consent {
                "your consent (Art. 6(1)(a) GDPR)".to_string()
            } else {
                format!("our legitimate interest in {interest} (Art. 6(1)(f) GDPR)")
            }
        };
        let item = match l.level {
            Level::Count => "Anonymous page-view counts — our legitimate interest in knowing which content is read (Art. 6(1)(f) GDPR); the stored numbers are not personal data.".to_string(),
            Level::Analytics => format!("Audience statistics, to run and improve the site — {}.", basis("analysing traffic on our site")),
            Level::Marketing => format!("Measuring the effect of marketing campaigns (which campaigns bring visitors) — {}.", basis("assessing our own campaigns")),
            Level::None => continue,
        };
        list.push(vec![t(item)]);
    }
    list.push(vec![t("Showing that visitors’ choices are respected (accountability, Art. 5(2) GDPR) — through the anonymous decision counters.")]);
    d.push(Block::List(list));

    // Retention.
    let r = &m.retention;
    d.push(Block::Heading(3, vec![t("How long we keep the data")]));
    let mut list = vec![vec![t(format!(
        "audience statistics ({}): {}",
        audience_kinds(m),
        days(r.audience_days)
    ))]];
    if m.marketing_reachable() {
        list.push(vec![
            t("campaign data ("),
            code("utm_*"),
            t(format!("{}: {}", campaign_kinds(m), days(r.marketing_days))),
        ]);
    }
    list.push(vec![t(format!(
        "consent decision counters: {}",
        days(r.consent_days)
    ))]);
    d.push(Block::List(list));
    d.push(Block::Para(vec![t(if r.job_enabled {
        format!("When these periods end, the data are erased for good by veil’s retention job, which runs every {}: it drops whole days of data once the longest of these periods has passed, and deletes the data of classes kept for a shorter time correspondingly earlier. Erasure means destruction; the data are not moved elsewhere.", duration(r.job_interval_secs))
    } else {
        "Automatic erasure of expired data is switched off in this configuration; the controller erases the data itself when the periods above end.".to_string()
    })]));

    // Recipients.
    d.push(Block::Heading(3, vec![t("Recipients")]));
    d.push(Block::Para(vec![t("The statistics are written only to our own database (ClickHouse). veil passes no data to third parties, transfers nothing to third countries, uses no outside analytics or advertising service and never sells data.")]));

    // Profiling.
    d.push(Block::Heading(
        3,
        vec![t("Profiling and automated decisions")],
    ));
    d.push(Block::Para(vec![t("We do not profile visitors and take no decisions based solely on automated processing (Art. 22 GDPR). veil creates no profiles and no records about individuals; it keeps hourly totals only.")]));

    // Rights.
    d.push(Block::Heading(3, vec![t("Your rights")]));
    let mut list = vec![vec![t("The stored statistics are anonymous: they contain no IP address and no lasting identifier, and the one-day identifiers cannot be recomputed once the salt is destroyed. We therefore cannot tell which data concern a given person or single them out, so the rights of access, rectification, erasure, restriction and portability cannot be applied to these data (Art. 11 GDPR); nor do we keep extra information that would make it possible.")]];
    let mut objection = vec![
        t("You may object (Art. 21 GDPR), including to processing for statistical purposes, without giving reasons: on the opt-out page "),
        opt_out_link(m),
    ];
    let signals: Vec<String> = m
        .rights
        .objection
        .iter()
        .filter_map(|o| match *o {
            "gpc" => Some("the Global Privacy Control signal".to_string()),
            "dnt" => Some("the Do Not Track signal".to_string()),
            _ => None,
        })
        .collect();
    if !signals.is_empty() {
        objection.push(t(format!(
            ", or by turning on {} in your browser",
            join_and(&signals)
        )));
    }
    objection.push(t(". An objection takes effect from your next page view."));
    list.push(objection);
    if m.rights.consent_withdrawable {
        list.push(vec![t("You can withdraw your consent at any time by changing your choice in our consent banner. Withdrawal takes effect from your next page view and does not affect the lawfulness of processing before it (Art. 7(3) GDPR).")]);
    }
    list.push(vec![t("You also have the right to lodge a complaint with a data protection supervisory authority.")]);
    d.push(Block::List(list));

    // Opt-out cookie.
    d.push(Block::Heading(3, vec![t("The opt-out cookie")]));
    d.push(Block::Para(vec![
        t("veil sets a single cookie, "),
        code(m.opt_out_cookie.name),
        t(format!(
            " with the value 1, and only when you object. It is strictly necessary to respect your choice, so it needs no consent; it contains no identifier and lasts {}. If you delete it, or withdraw your objection on the opt-out page, measurement resumes as described above.",
            years_or_days(m.opt_out_cookie.max_age_secs)
        )),
    ]));
    d
}

/// An [`Extra`] in the retention list, and on the opt-out page (`None`: not
/// named there, where combinations of what it lists add nothing new).
fn extra_name(e: Extra) -> (&'static str, Option<&'static str>) {
    match e {
        Extra::Engagement => ("time on page", Some("time on page and scroll depth")),
        Extra::Goals => ("goals", Some("goals reached")),
        Extra::Funnels => ("funnels", Some("funnel steps reached within a visit")),
        Extra::Revenue => ("revenue", Some("revenue totals per currency")),
        Extra::Combinations => ("combinations of these", None),
    }
}

/// What the audience retention period covers.
fn audience_kinds(m: &Manifest) -> String {
    let mut kinds = vec![
        "page views",
        "visitors",
        "pages",
        "sources",
        "location",
        "browsers",
        "devices",
        "events",
    ];
    kinds.extend(statistics_extras(m).into_iter().map(|e| extra_name(e).0));
    kinds.join(", ")
}

/// What the marketing retention period covers, after "`utm_*`".
fn campaign_kinds(m: &Manifest) -> String {
    let mut s = String::from(" tags");
    if !marketing_props(m).is_empty() {
        s.push_str(" and marketing properties");
    }
    let paired = |d: Dim| d.parts().is_some() && d.class() == DataClass::Marketing;
    if level_has(m, Level::Marketing, paired) {
        s.push_str(", also combined with other attributes");
    }
    s.push(')');
    s
}

fn campaign_extra(m: &Manifest) -> &'static str {
    if marketing_props(m).is_empty() {
        "campaign tags (utm_*)"
    } else {
        "campaign tags (utm_*) and marketing event properties"
    }
}

/// A one-line account of what a level records, for the opt-out page.
fn short(m: &Manifest, level: Level) -> String {
    match level {
        Level::None => "nothing but a count of such page views".into(),
        Level::Count => "only an anonymous count of views per page".into(),
        Level::Analytics | Level::Marketing => {
            let mut parts = vec!["pages", "referring sites"];
            if m.processing.ip.geo_database {
                parts.push("country and region");
            }
            parts.extend([
                "browser",
                "operating system",
                "device type",
                "screen width",
                "language",
                "events",
            ]);
            parts.extend(
                statistics_extras(m)
                    .into_iter()
                    .filter_map(|e| extra_name(e).1),
            );
            parts.push("the number of unique visitors (from an identifier valid for one day)");
            if level == Level::Marketing {
                parts.push(campaign_extra(m));
            }
            let parts: Vec<String> = parts.into_iter().map(String::from).collect();
            join_and(&parts)
        }
    }
}

/// Texts of the opt-out page.
pub(super) fn opt_out(m: &Manifest) -> OptOutTexts {
    let r = &m.retention;
    let mut list = vec![
        vec![t(format!(
            "With no choice in the consent banner: {}.",
            short(m, m.consent.without_consent)
        ))],
        vec![t(format!(
            "When your choice includes statistics: {}.",
            short(m, Level::Analytics)
        ))],
        vec![t(format!(
            "When it includes marketing too: {} as well.",
            campaign_extra(m)
        ))],
    ];
    let mut kept = format!("Kept for {} (statistics)", days(r.audience_days));
    if m.marketing_reachable() {
        kept.push_str(&format!(" and {} (campaign data)", days(r.marketing_days)));
    }
    kept.push('.');
    list.push(vec![t(kept)]);
    OptOutTexts {
        title: format!("Audience measurement on {}", m.site),
        summary: vec![
            Block::Para(vec![
                t(m.site.as_str()),
                t(" measures its audience with veil. Only hourly totals are stored — never your IP address, your browser’s full User-Agent header or a record of your visit."),
            ]),
            Block::List(list),
        ],
        objected: "You have objected: from now on nothing about your page views in this browser is recorded except an anonymous count of objections.",
        not_objected: "You have not objected. If you do, nothing about your page views in this browser will be recorded except an anonymous count of objections.",
        object_button: "I object to audience measurement",
        undo_button: "Withdraw my objection",
        cookie_note: format!(
            "Your choice is kept in the cookie {} (value 1, valid for {}) for this statistics server, in this browser only. Deleting your cookies removes it too.",
            m.opt_out_cookie.name,
            years_or_days(OPT_OUT_MAX_AGE_SECS)
        ),
        full_disclosure: "Full information about this measurement",
        other_language: "Polski",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(3_600), "1 hour");
        assert_eq!(duration(7_200), "2 hours");
        assert_eq!(duration(86_400), "1 day");
        assert_eq!(duration(90), "90 seconds");
        assert_eq!(duration(600), "10 minutes");
        assert_eq!(years_or_days(OPT_OUT_MAX_AGE_SECS), "5 years");
        assert_eq!(days(1), "1 day");
        assert_eq!(
            join_and(&["a".into(), "b".into(), "c".into()]),
            "a, b and c"
        );
    }
}
