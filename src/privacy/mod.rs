//! The privacy boundary: [`Beacon`] + transport facts in, [`AnonHit`] out.
//!
//! This is the only module that sees a client IP or a User-Agent. In order, for
//! every hit:
//! 1. the site must be configured and the page host allowed (else: refused); a
//!    relative URL's host is the request's `Origin` (else `Referer`);
//! 2. **consent first** — the level is decided from the opt-out flag, `Sec-GPC`,
//!    `DNT`, the beacon's or cookie's categories and the site's policy; at level
//!    `none` only the decision counter is kept;
//! 3. bots are recognised from the User-Agent and only counted;
//! 4. the IP becomes a country and region, then is dropped;
//! 5. the User-Agent becomes browser / OS / device labels, then is dropped;
//! 6. a visitor hash is made with the day's salt (analytics level and up);
//! 7. the URL becomes a path plus UTM keys, the referrer its host (only if it is a
//!    DNS name); every kept string passes [`text::clean`] (no control or bidi
//!    characters, a bounded length).
//!
//! [`AnonHit`] has no field that can carry an IP, a User-Agent, a query string or a
//! cookie: what crosses this boundary is anonymous by construction.

use std::net::IpAddr;
use std::sync::Arc;

pub mod agent;
pub mod client_ip;
pub mod consent;
pub mod geo;
pub mod referrer;
pub mod salt;
pub mod text;
pub mod url;

use crate::beacon::{Beacon, Engagement, Revenue};
use crate::clock::{hour_of, Clock};
use crate::config::{Config, LimitsConfig};
use agent::signals::{self, HeaderSignals};
use agent::{Agent, AgentParser, DeviceClass};
use client_ip::TrustedProxies;
use consent::{ConsentPolicy, DataGroup, Decision, Level, Signals};
use geo::{Country, GeoDb};
use salt::SaltKeeper;

/// A configured site, resolved for the request path.
#[derive(Debug)]
pub struct Site {
    /// Identifier (as sent by beacons and stored in ClickHouse).
    pub id: String,
    /// Allowed page hostnames (patterns).
    pub hostnames: Vec<String>,
    /// Consent policy.
    pub consent: ConsentPolicy,
    /// Prop keys that are marketing data.
    pub marketing_props: Vec<String>,
    /// Fragment routes (`#/route`) are pages.
    pub hash_routing: bool,
    /// Pairs, goals, funnels and the currencies revenue is stored in, compiled
    /// once per configuration generation (the window takes the site's from here).
    pub conv: Arc<crate::model::Conversions>,
    /// Index of the site's time zone in the salt keeper: its salt.
    pub zone: usize,
    /// The site's time zone: its days and hours.
    pub tz: Arc<crate::clock::zone::Zone>,
}

impl Site {
    fn allows_host(&self, host: &str) -> bool {
        if host.is_empty() {
            // A relative URL sent without `Origin` or `Referer` (a server-side
            // sender): nothing says it is another site's page, and a forger could
            // as well send an absolute URL of an allowed host.
            return true;
        }
        if self.hostnames.is_empty() {
            return url::host_matches(host, &self.id);
        }
        self.hostnames.iter().any(|p| url::host_matches(host, p))
    }
}

/// Transport facts of one request: everything that is personal data lives here and
/// goes no further than [`Privacy::process`].
#[derive(Clone, Copy, Debug)]
pub struct Transport<'a> {
    /// Socket peer address.
    pub peer: IpAddr,
    /// `X-Forwarded-For`, every line joined by `,` ([`client_ip::joined_lines`]);
    /// believed only from trusted proxies.
    pub x_forwarded_for: Option<&'a str>,
    /// `Forwarded`, every line joined by `,`; believed only from trusted proxies.
    pub forwarded: Option<&'a str>,
    /// `User-Agent`.
    pub user_agent: &'a str,
    /// `Sec-GPC: 1`.
    pub gpc: bool,
    /// `DNT: 1`.
    pub dnt: bool,
    /// `Cookie` header (only the opt-out and consent cookies are read from it).
    pub cookie: Option<&'a str>,
    /// `Accept-Language`, reduced to its first primary subtag.
    pub accept_language: Option<&'a str>,
    /// Whether `Sec-Fetch-Mode` was sent (fetch metadata: one of the header
    /// signals of a scripted client, `agent::signals`).
    pub sec_fetch: bool,
    /// `Origin`: only its host is read, to hold a relative page URL to the
    /// site's hostnames.
    pub origin: Option<&'a str>,
    /// `Referer`: as `origin`, when there is no `Origin`.
    pub referer: Option<&'a str>,
}

impl Transport<'_> {
    /// The host of the page the request came from, as the browser states it
    /// (`Origin`, else `Referer`); `None` when neither names one (`Origin: null`,
    /// a server-side sender).
    fn page_host(&self) -> Option<String> {
        [self.origin, self.referer]
            .into_iter()
            .flatten()
            .find_map(url::header_host)
    }
}

/// A beacon past step 1 of the boundary: its site is configured and its page
/// host one the site allows ([`Privacy::admit`]).
#[derive(Debug)]
pub struct Admitted {
    /// Index of the site in the configuration.
    pub site: u32,
    now: u64,
    hour: u32,
    page: url::Page,
    /// The host of a relative page URL, from `Origin`/`Referer`.
    page_host: Option<String>,
}

/// What the aggregates may learn from one hit.
#[derive(Clone, Debug, PartialEq)]
pub struct AnonHit {
    /// Index of the site in the configuration.
    pub site: u32,
    /// Start of the site's local hour (Unix seconds; the UTC hour in whole-hour
    /// zones).
    pub hour: u32,
    /// Time of the hit (Unix seconds), for visit durations.
    pub secs: u32,
    /// Collection level (never `None`: such hits are only counted).
    pub level: Level,
    /// The decision counted for this hit.
    pub decision: Decision,
    /// Custom event name; `None` for a pageview.
    pub event: Option<Box<str>>,
    /// Normalised page path.
    pub path: Box<str>,
    /// Daily-salted visitor hash (analytics level and up).
    pub visitor: Option<u64>,
    /// Referrer host; `None` for direct traffic and self-referrals.
    pub referrer: Option<Box<str>>,
    /// Traffic source channel (from the referrer host and UTM medium/source).
    pub channel: Option<referrer::Channel>,
    /// UTM values (marketing level only).
    pub utm: [Option<Box<str>>; 5],
    /// Country.
    pub country: Option<Country>,
    /// Region (ISO 3166-2 code or the database's region name).
    pub region: Option<Box<str>>,
    /// Browser / OS labels.
    pub agent: Option<Arc<Agent>>,
    /// Device class (agent refined by screen width).
    pub device: Option<DeviceClass>,
    /// Screen-size bucket.
    pub screen: Option<&'static str>,
    /// Primary language subtag (`pl`, `en`).
    pub language: Option<Box<str>>,
    /// Event props, bounded by the limits.
    pub props: Vec<(Box<str>, Box<str>)>,
    /// Props the site marks as marketing data (marketing level only).
    pub marketing_props: Vec<(Box<str>, Box<str>)>,
    /// Data groups ([`DataGroup::bit`]) the visitor's consent does not cover:
    /// their dimensions are not written at all.
    pub withheld: u16,
    /// Revenue of the custom event, in a currency the site accepts.
    pub revenue: Option<Revenue>,
    /// An engagement report: the hit is neither a pageview nor a custom event.
    pub engagement: Option<Engagement>,
}

impl AnonHit {
    /// A hit of a UTC site at `secs` (tests and tools); see [`AnonHit::at`].
    pub fn new(site: u32, secs: u64, level: Level, decision: Decision, path: Box<str>) -> AnonHit {
        AnonHit::at(site, secs, hour_of(secs), level, decision, path)
    }

    /// A hit of `site` at `secs` in the local hour starting at `hour`, with only
    /// the fields every level has; the boundary fills in the rest as the level
    /// allows.
    pub fn at(
        site: u32,
        secs: u64,
        hour: u32,
        level: Level,
        decision: Decision,
        path: Box<str>,
    ) -> AnonHit {
        AnonHit {
            site,
            hour,
            secs: secs as u32,
            level,
            decision,
            event: None,
            path,
            visitor: None,
            referrer: None,
            channel: None,
            utm: Default::default(),
            country: None,
            region: None,
            agent: None,
            device: None,
            screen: None,
            language: None,
            props: Vec::new(),
            marketing_props: Vec::new(),
            withheld: 0,
            revenue: None,
            engagement: None,
        }
    }

    /// Whether the dimensions of `group` may be written for this hit.
    pub fn allows(&self, group: DataGroup) -> bool {
        self.withheld & group.bit() == 0
    }
}

/// The result of one hit that passed the site check.
#[derive(Debug)]
pub enum Outcome {
    /// Aggregate this.
    Record(Box<AnonHit>),
    /// Nothing to store and no decision to count: an engagement report the
    /// visitor's consent does not cover (it follows a pageview already counted).
    Dropped,
    /// Only count the decision for the site and hour.
    CountOnly {
        /// Site index.
        site: u32,
        /// Hour.
        hour: u32,
        /// Why nothing else is kept.
        decision: Decision,
        /// The visitor hash whose live visit must be dropped (consent refused or
        /// withdrawn): used for that lookup only, never stored.
        forget: Option<u64>,
    },
}

/// Why a hit was refused before consent was even looked at.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// The site is not configured.
    #[error("unknown site")]
    UnknownSite,
    /// The page's host is not one of the site's hostnames (counted as invalid).
    #[error("page host not allowed for this site")]
    HostNotAllowed {
        /// Site index, for the invalid counter.
        site: u32,
        /// Hour, for the invalid counter.
        hour: u32,
    },
}

/// Everything the boundary needs, built from one loaded configuration.
///
/// A configuration reload builds the next one with [`Privacy::next`]: the geo
/// database, the User-Agent cache, the salts and the clock are shared, and a site
/// keeps its index for the life of the process (visits, window cells and
/// realtime rings are kept by index). A site removed from the file keeps its slot,
/// out of the index, so beacons for it are refused as unknown.
pub struct Privacy {
    sites: Vec<Arc<Site>>,
    site_index: std::collections::HashMap<String, u32>,
    geo: Option<Arc<GeoDb>>,
    agents: Arc<AgentParser>,
    salts: Arc<SaltKeeper>,
    /// The salt keeper's first zone: the zone of an index no site has.
    first_zone: Arc<crate::clock::zone::Zone>,
    proxies: TrustedProxies,
    limits: LimitsConfig,
    /// `pipeline.bot_header_signals`: also take a browser UA for a bot when the
    /// headers give a script away.
    bot_header_signals: bool,
    clock: Arc<dyn Clock>,
}

/// The opt-out cookie set by the `/optout` page.
pub const OPT_OUT_COOKIE: &str = "veil_optout";

impl Privacy {
    /// Builds the boundary from validated configuration.
    pub fn new(
        config: &Config,
        geo: Option<Arc<GeoDb>>,
        salts: Arc<SaltKeeper>,
        clock: Arc<dyn Clock>,
    ) -> Result<Privacy, crate::config::ConfigError> {
        let agents = Arc::new(AgentParser::new(config.pipeline.ua_cache_entries));
        Privacy::build(config, &[], geo, agents, salts, clock)
    }

    /// The boundary for a reloaded configuration: the same shared parts, every
    /// site where it was (new sites after the others).
    pub fn next(&self, config: &Config) -> Result<Privacy, crate::config::ConfigError> {
        Privacy::build(
            config,
            &self.sites,
            self.geo.clone(),
            self.agents.clone(),
            self.salts.clone(),
            self.clock.clone(),
        )
    }

    fn build(
        config: &Config,
        before: &[Arc<Site>],
        geo: Option<Arc<GeoDb>>,
        agents: Arc<AgentParser>,
        salts: Arc<SaltKeeper>,
        clock: Arc<dyn Clock>,
    ) -> Result<Privacy, crate::config::ConfigError> {
        let mut sites: Vec<Arc<Site>> = before.to_vec();
        // Where each site already has its slot (removed ones included, so a site
        // put back gets its old one).
        let slots: std::collections::HashMap<&str, usize> = before
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let mut site_index = std::collections::HashMap::new();
        for (i, s) in config.sites.iter().enumerate() {
            let zone =
                salts
                    .add_zone(&s.timezone)
                    .map_err(|e| crate::config::ConfigError::Key {
                        key: format!("sites[{i}].timezone"),
                        message: e.to_string(),
                    })?;
            let site = Arc::new(Site {
                id: s.id.clone(),
                hostnames: s.hostnames.clone(),
                consent: ConsentPolicy::from(&s.consent),
                marketing_props: s.marketing_props.clone(),
                hash_routing: s.hash_routing,
                // Validated with the configuration: compiling cannot fail here.
                conv: Arc::new(crate::model::Conversions::compile(s).unwrap_or_default()),
                zone,
                tz: salts.zone(zone),
            });
            let index = match slots.get(s.id.as_str()).copied() {
                Some(at) => {
                    if sites[at].zone != zone {
                        return Err(crate::config::ConfigError::Key {
                            key: format!("sites[{i}].timezone"),
                            message: "a site's time zone cannot change while veil runs (its open day would split); restart to change it".into(),
                        });
                    }
                    sites[at] = site;
                    at
                }
                None => {
                    sites.push(site);
                    sites.len() - 1
                }
            };
            site_index.insert(s.id.clone(), index as u32);
        }
        Ok(Privacy {
            sites,
            site_index,
            geo,
            agents,
            first_zone: salts.zone(0),
            salts,
            proxies: TrustedProxies::new(config.trusted_proxies()?),
            limits: config.limits.clone(),
            bot_header_signals: config.pipeline.bot_header_signals,
            clock,
        })
    }

    /// Every site by index, those a reload removed included (they are no
    /// longer in [`Privacy::site_index`]).
    pub fn sites(&self) -> &[Arc<Site>] {
        &self.sites
    }

    /// The salt keeper (for the rotation task).
    pub fn salts(&self) -> &Arc<SaltKeeper> {
        &self.salts
    }

    /// The geo database, if configured.
    pub fn geo(&self) -> Option<&Arc<GeoDb>> {
        self.geo.as_ref()
    }

    /// Index of a site id.
    pub fn site_index(&self, id: &str) -> Option<u32> {
        self.site_index.get(id).copied()
    }

    /// The site a Plausible `d` value names: a site id, or else a site whose
    /// hostnames match; a comma list resolves to the first configured one.
    pub fn site_for_domain(&self, domains: &str) -> Option<&str> {
        let names = || domains.split(',').map(str::trim).filter(|d| !d.is_empty());
        names()
            .find_map(|d| self.site_index(d))
            .or_else(|| {
                names().find_map(|d| {
                    self.sites
                        .iter()
                        .position(|s| {
                            self.site_index.contains_key(&s.id)
                                && s.hostnames.iter().any(|p| url::host_matches(d, p))
                        })
                        .map(|i| i as u32)
                })
            })
            .map(|i| self.sites[i as usize].id.as_str())
    }

    /// The time zone of a site (its day, its hours, its salt).
    pub fn zone(&self, site: u32) -> &crate::clock::zone::Zone {
        self.sites
            .get(site as usize)
            .map_or(&self.first_zone, |s| &s.tz)
    }

    /// The salt keeper's index of a site's zone (0 for an unknown site index).
    fn zone_index(&self, site: u32) -> usize {
        self.sites.get(site as usize).map_or(0, |s| s.zone)
    }

    /// The start of the site's current local hour.
    pub fn current_hour(&self, site: u32) -> u32 {
        self.zone(site).hour_of(self.clock.now_secs())
    }

    /// Whether the salt a visit of `site` that started at `start` was hashed
    /// under is still in memory (visits never outlive their salt).
    pub fn holds_visit_salt(&self, site: u32, start: u32) -> bool {
        self.salts
            .holds_time(self.zone_index(site), u64::from(start))
    }

    /// The visitor's address as veil believes it (trusted proxies applied); only
    /// for rate limiting, which keys it by a process-local hash.
    pub fn client_ip(&self, t: &Transport<'_>) -> IpAddr {
        self.proxies
            .client_ip(t.peer, t.x_forwarded_for, t.forwarded)
    }

    /// The clock hits are timed with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Turns one beacon into an [`Outcome`], or refuses it.
    pub fn process(&self, beacon: &Beacon<'_>, t: &Transport<'_>) -> Result<Outcome, Refusal> {
        let admitted = self.admit(beacon, t)?;
        Ok(self.process_admitted(beacon, t, admitted))
    }

    /// Step 1 alone: the site must be configured and the page host allowed. The
    /// pipeline spends the site's rate budget only on beacons that pass it.
    pub fn admit(&self, beacon: &Beacon<'_>, t: &Transport<'_>) -> Result<Admitted, Refusal> {
        let site_idx = self
            .site_index(beacon.site.trim())
            .ok_or(Refusal::UnknownSite)?;
        let site = &self.sites[site_idx as usize];
        let now = self.clock.now_secs();
        let hour = site.tz.hour_of(now);
        let page = url::parse_page(&beacon.url, self.limits.max_path, site.hash_routing);
        // A relative URL names no host: the page is where the browser says the
        // request came from, held to the same hostnames as an absolute URL.
        let page_host = match page.host.is_empty() {
            true => t.page_host(),
            false => None,
        };
        if !site.allows_host(page_host.as_deref().unwrap_or(&page.host)) {
            return Err(Refusal::HostNotAllowed {
                site: site_idx,
                hour,
            });
        }
        Ok(Admitted {
            site: site_idx,
            now,
            hour,
            page,
            page_host,
        })
    }

    /// Steps 2 to 7 for a beacon [`Privacy::admit`] let through.
    pub fn process_admitted(
        &self,
        beacon: &Beacon<'_>,
        t: &Transport<'_>,
        admitted: Admitted,
    ) -> Outcome {
        let Admitted {
            site: site_idx,
            now,
            hour,
            page,
            page_host,
        } = admitted;
        let site = &self.sites[site_idx as usize];

        // 2. Consent before anything else is looked at.
        let signals = Signals {
            opt_out: beacon.opt_out || cookie_value(t.cookie, OPT_OUT_COOKIE) == Some("1"),
            gpc: t.gpc,
            dnt: t.dnt,
            beacon: beacon.consent.as_deref().map(|c| site.consent.parse(c)),
            cookie: site
                .consent
                .cookie
                .as_deref()
                .and_then(|name| cookie_value(t.cookie, name))
                .map(|v| site.consent.parse(&url::percent_decode(v, false))),
        };
        let (level, decision) = site.consent.decide(&signals);
        // Data groups the site ties to a category this visitor did not grant.
        let withheld = site.consent.withheld(site.consent.granted(&signals, level));
        let allowed = |g: DataGroup| withheld & g.bit() == 0;
        // An engagement report follows a pageview whose decision was counted:
        // when nothing may be stored it counts nothing either.
        let engagement_only = beacon.engagement.is_some();
        if level == Level::None {
            // Withdrawal takes effect at once: the visitor's live visit (if any) is
            // found by today's hash and dropped.
            let ip = self
                .proxies
                .client_ip(t.peer, t.x_forwarded_for, t.forwarded);
            if engagement_only {
                return Outcome::Dropped;
            }
            return Outcome::CountOnly {
                site: site_idx,
                hour,
                decision,
                forget: Some(
                    self.salts
                        .visitor_hash(site.zone, &site.id, ip, t.user_agent),
                ),
            };
        }

        // 3. Bots are counted, never stored as visits.
        let agent = self.agents.parse(t.user_agent);
        let betrayed = self.bot_header_signals
            && !agent.is_bot
            && signals::betray_bot(
                &agent.browser,
                &agent.browser_version,
                &HeaderSignals {
                    accept_language: t.accept_language,
                    sec_fetch: t.sec_fetch,
                    page_is_https: beacon.url.starts_with("https://"),
                },
            );
        if agent.is_bot || betrayed {
            if engagement_only {
                return Outcome::Dropped;
            }
            return Outcome::CountOnly {
                site: site_idx,
                hour,
                decision: Decision::Bot,
                forget: None,
            };
        }

        if beacon.engagement.is_some() && (level == Level::Count || !allowed(DataGroup::Engagement))
        {
            return Outcome::Dropped;
        }
        if beacon.event.is_some() && !allowed(DataGroup::Events) {
            return Outcome::CountOnly {
                site: site_idx,
                hour,
                decision,
                forget: None,
            };
        }
        let event = beacon
            .event
            .as_deref()
            .map(|e| Box::from(text::clean(e.trim(), self.limits.max_event_name)));
        let mut hit = AnonHit {
            event,
            withheld,
            engagement: beacon.engagement,
            ..AnonHit::at(
                site_idx,
                now,
                hour,
                level,
                decision,
                page.path.into_boxed_str(),
            )
        };
        if level == Level::Count {
            return Outcome::Record(Box::new(hit));
        }

        // 4.–6. IP → region and visitor hash; UA → labels. Both are dropped here.
        let ip = self
            .proxies
            .client_ip(t.peer, t.x_forwarded_for, t.forwarded);
        if let (Some(geo), true) = (&self.geo, allowed(DataGroup::Geo)) {
            let loc = geo.lookup(ip);
            hit.country = loc.country;
            hit.region = loc.region.map(String::into_boxed_str);
        }
        if allowed(DataGroup::Visits) {
            hit.visitor = Some(
                self.salts
                    .visitor_hash(site.zone, &site.id, ip, t.user_agent),
            );
        }
        if allowed(DataGroup::Agent) {
            hit.device = Some(agent.device_with_width(beacon.width));
            hit.agent = Some(agent);
        }
        if allowed(DataGroup::Screen) {
            hit.screen = beacon.width.map(screen_bucket);
        }
        if allowed(DataGroup::Language) {
            hit.language = t.accept_language.and_then(primary_language);
        }

        // 7. Referrer host; self-referrals are direct traffic.
        hit.referrer = beacon
            .referrer
            .as_deref()
            .filter(|_| allowed(DataGroup::Referrers))
            .and_then(url::referrer_host)
            .filter(|h| {
                let own = page_host.as_deref().unwrap_or(&page.host);
                let own_page = !own.is_empty() && url::host_matches(h, own);
                !own_page && !site.allows_host(h)
            })
            .map(String::into_boxed_str);
        hit.channel = allowed(DataGroup::Referrers).then(|| {
            referrer::Referrers::embedded().channel(
                hit.referrer.as_deref(),
                page.utm[1].as_deref(),
                page.utm[0].as_deref(),
            )
        });
        if level == Level::Marketing && allowed(DataGroup::Campaigns) {
            hit.utm = page.utm.map(|u| u.map(String::into_boxed_str));
        }
        // Revenue only on events, in a listed currency: sums never mix currencies.
        hit.revenue = beacon.revenue.filter(|r| {
            hit.event.is_some()
                && allowed(DataGroup::Conversions)
                && site.conv.currencies.contains(&r.currency)
        });
        let props = beacon
            .props
            .iter()
            .filter(|(k, _)| !text::clean(k.trim(), 1).is_empty())
            .take(self.limits.max_props)
            .map(|(k, v)| {
                (
                    Box::<str>::from(text::clean(k.trim(), self.limits.max_prop_key)),
                    Box::<str>::from(text::clean(v, self.limits.max_prop_value)),
                )
            });
        for (k, v) in props {
            if site.marketing_props.iter().any(|m| **m == *k) {
                if level == Level::Marketing {
                    hit.marketing_props.push((k, v));
                }
            } else {
                hit.props.push((k, v));
            }
        }
        Outcome::Record(Box::new(hit))
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie_value<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// Screen-width buckets (CSS px), matching common layout breakpoints.
pub fn screen_bucket(width: u32) -> &'static str {
    match width {
        0..=575 => "<576",
        576..=767 => "576-767",
        768..=991 => "768-991",
        992..=1199 => "992-1199",
        1200..=1439 => "1200-1439",
        1440..=1919 => "1440-1919",
        _ => ">=1920",
    }
}

/// `pl-PL,pl;q=0.9,en;q=0.8` → `pl`. Only 2–3 ASCII letters pass.
pub fn primary_language(accept_language: &str) -> Option<Box<str>> {
    let first = accept_language.split(',').next()?.split(';').next()?.trim();
    let primary = first.split(['-', '_']).next()?;
    (2..=3)
        .contains(&primary.len())
        .then_some(())
        .filter(|_| primary.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|_| primary.to_ascii_lowercase().into_boxed_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_languages_screens() {
        assert_eq!(
            cookie_value(Some("a=1; veil_optout=1"), "veil_optout"),
            Some("1")
        );
        assert_eq!(cookie_value(Some("xveil_optout=1"), "veil_optout"), None);
        assert_eq!(cookie_value(None, "a"), None);
        assert_eq!(primary_language("pl-PL,pl;q=0.9").as_deref(), Some("pl"));
        assert_eq!(primary_language("*"), None);
        assert_eq!(primary_language("x-klingon"), None);
        assert_eq!(screen_bucket(1280), "1200-1439");
        assert_eq!(screen_bucket(390), "<576");
    }
}
