//! What a site declares beyond the fixed dimensions — pairs, goals, funnels and
//! the currencies of revenue — compiled once at start-up for the hot path.
//!
//! A goal is a custom event name or a pageview path pattern. A funnel is an
//! ordered list of such steps; a visit's progress through each of the site's
//! funnels is 4 bits of one `u32` kept in the live visit (so at most
//! [`MAX_FUNNELS`] funnels of at most [`MAX_STEPS`] steps), and nothing of it
//! outlives the visit.

use crate::config::{GoalConfig, SiteConfig, StepConfig};
use crate::model::{Dim, DEFAULT_PAIRS, PAIRS, PROP_SEP};

/// Funnels per site (4 bits of progress each in a `u32`).
pub const MAX_FUNNELS: usize = 8;
/// Steps per funnel.
pub const MAX_STEPS: usize = 8;
/// Goals per site: every goal is a stored value, so the list stays short.
pub const MAX_GOALS: usize = 64;

/// A path pattern: `*` stands for any characters (including `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern {
    /// The literal pieces between the stars.
    pieces: Vec<Box<str>>,
    /// The pattern starts with `*`.
    open_start: bool,
    /// The pattern ends with `*`.
    open_end: bool,
}

impl PathPattern {
    /// Compiles `/blog/*`-style patterns.
    pub fn new(pattern: &str) -> PathPattern {
        PathPattern {
            pieces: pattern
                .split('*')
                .filter(|p| !p.is_empty())
                .map(Box::from)
                .collect(),
            open_start: pattern.starts_with('*'),
            open_end: pattern.ends_with('*'),
        }
    }

    /// Whether `path` matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        let mut rest = path;
        let n = self.pieces.len();
        if n == 0 {
            return self.open_start || rest.is_empty();
        }
        for (i, piece) in self.pieces.iter().enumerate() {
            let first = i == 0;
            let last = i == n - 1;
            if first && !self.open_start {
                match rest.strip_prefix(&**piece) {
                    Some(r) => rest = r,
                    None => return false,
                }
                if last && !self.open_end {
                    return rest.is_empty();
                }
                continue;
            }
            if last && !self.open_end {
                return rest.len() >= piece.len() && rest.ends_with(&**piece);
            }
            match rest.find(&**piece) {
                Some(at) => rest = &rest[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

/// What completes a goal or a funnel step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matcher {
    /// A custom event of this name.
    Event(Box<str>),
    /// A pageview of a matching path.
    Page(PathPattern),
}

impl Matcher {
    fn compile(event: &Option<String>, page: &Option<String>) -> Result<Matcher, String> {
        match (event.as_deref(), page.as_deref()) {
            (Some(e), None) if !e.trim().is_empty() => Ok(Matcher::Event(e.trim().into())),
            (None, Some(p)) if p.starts_with('/') || p.starts_with('*') => {
                Ok(Matcher::Page(PathPattern::new(p)))
            }
            (None, Some(p)) => Err(format!(
                "`{p}` is not a path pattern; it starts with `/` (`/signup/*`)"
            )),
            _ => Err(
                "needs exactly one of `event` (a custom event name) and `page` (a path pattern)"
                    .into(),
            ),
        }
    }

    /// Whether a hit (a custom event `event`, or a pageview of `path`) matches.
    pub fn matches(&self, event: Option<&str>, path: &str) -> bool {
        match (self, event) {
            (Matcher::Event(name), Some(e)) => **name == *e.trim(),
            (Matcher::Page(p), None) => p.matches(path),
            _ => false,
        }
    }

    /// How the step or goal reads in answers: the event name or the pattern.
    pub fn label(c: &StepConfig) -> String {
        c.event
            .clone()
            .or_else(|| c.page.clone())
            .unwrap_or_default()
    }
}

/// A declared goal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Goal {
    /// Its name (the stored `goal` value).
    pub name: Box<str>,
    /// What completes it.
    pub matcher: Matcher,
}

/// A declared funnel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Funnel {
    /// Its name.
    pub name: Box<str>,
    /// The steps, in order.
    pub steps: Vec<Matcher>,
}

/// The declared pairs of a site, one bit per [`PAIRS`] entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PairSet(u64);

impl PairSet {
    /// Whether `dim` is a pair this site stores.
    pub fn contains(self, dim: Dim) -> bool {
        matches!(dim, Dim::Pair(i) if self.0 & (1 << i) != 0)
    }

    /// The declared pairs, in [`PAIRS`] order.
    pub fn iter(self) -> impl Iterator<Item = Dim> {
        (0..PAIRS.len() as u8)
            .filter(move |i| self.0 & (1 << i) != 0)
            .map(Dim::Pair)
    }

    /// The declared pair of `a` and `b`, in either order.
    pub fn of(self, a: Dim, b: Dim) -> Option<Dim> {
        Dim::pair_of(a, b).filter(|p| self.contains(*p))
    }

    /// Whether no pair is declared.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// The counting steps of the window, by what each knows: a step writes a
/// declared pair only when it knows both parts. The query side reads the same
/// table to say which metrics a pair has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A visit's start or end (`visits`, `bounces`, `duration`).
    Visit,
    /// A pageview.
    Pageview,
    /// A custom event, credited to its visit's origin.
    Event,
    /// A goal completion, credited to its visit's origin (goal pairs only).
    Goal,
}

impl Step {
    /// Every step, in [`Conversions::plans`] order.
    pub const ALL: [Step; 4] = [Step::Visit, Step::Pageview, Step::Event, Step::Goal];

    /// Whether the step knows the value of `d`.
    pub fn knows(self, d: Dim) -> bool {
        let origin = matches!(
            d,
            Dim::Source
                | Dim::Referrer
                | Dim::Utm(0..=2)
                | Dim::Country
                | Dim::Region
                | Dim::Device
                | Dim::Browser
                | Dim::Os
        );
        origin
            || match self {
                Step::Visit => d == Dim::EntryPage,
                Step::Pageview => matches!(d, Dim::Page | Dim::Utm(_)),
                Step::Event => {
                    matches!(d, Dim::Page | Dim::EntryPage | Dim::Event | Dim::Currency)
                }
                Step::Goal => matches!(d, Dim::Page | Dim::EntryPage | Dim::Goal | Dim::Currency),
            }
    }

    /// Whether the step writes the pair of `a` and `b` (a goal's step writes only
    /// goal pairs, so the event's own pairs are not counted twice).
    pub fn writes(self, a: Dim, b: Dim) -> bool {
        self.knows(a) && self.knows(b) && (self != Step::Goal || a == Dim::Goal || b == Dim::Goal)
    }
}

/// A declared pair a step writes, with its parts resolved once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlannedPair {
    /// The pair.
    pub dim: Dim,
    /// Its first part.
    pub first: Dim,
    /// Its second part.
    pub second: Dim,
    /// A part is the currency: the cell gets the revenue.
    pub money: bool,
}

/// A site's pairs, goals, funnels and currencies, compiled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversions {
    /// Declared pairs.
    pub pairs: PairSet,
    /// The declared pairs each [`Step`] writes, in [`Step::ALL`] order, so the hot
    /// path walks only what it writes.
    pub plans: [Vec<PlannedPair>; 4],
    /// Goals.
    pub goals: Vec<Goal>,
    /// Funnels.
    pub funnels: Vec<Funnel>,
    /// Accepted currencies (upper-case ISO 4217).
    pub currencies: Vec<[u8; 3]>,
}

/// A configuration problem: the key below `sites[i]` and what is wrong.
pub type KeyError = (String, String);

impl Conversions {
    /// Compiles and checks a site's declarations.
    pub fn compile(site: &SiteConfig) -> Result<Conversions, KeyError> {
        let mut pairs = 0u64;
        let names: Vec<&str> = match &site.pairs {
            Some(list) => list.iter().map(String::as_str).collect(),
            None => DEFAULT_PAIRS.to_vec(),
        };
        for (j, name) in names.iter().enumerate() {
            let Some(Dim::Pair(i)) = Dim::pair_named(name) else {
                return Err((
                    format!("pairs[{j}]"),
                    format!(
                        "`{name}` is not a pair veil can store; use one of {}",
                        PAIRS.map(|p| p.name).join(", ")
                    ),
                ));
            };
            pairs |= 1 << i;
        }
        if site.goals.len() > MAX_GOALS {
            return Err((
                "goals".into(),
                format!("at most {MAX_GOALS} goals per site"),
            ));
        }
        let mut goals: Vec<Goal> = Vec::new();
        for (j, g) in site.goals.iter().enumerate() {
            let key = |k: &str| format!("goals[{j}].{k}");
            check_name(&g.name).map_err(|m| (key("name"), m))?;
            if goals.iter().any(|o| *o.name == *g.name) {
                return Err((key("name"), format!("`{}` is declared twice", g.name)));
            }
            let GoalConfig { event, page, .. } = g;
            let matcher = Matcher::compile(event, page).map_err(|m| (format!("goals[{j}]"), m))?;
            goals.push(Goal {
                name: g.name.as_str().into(),
                matcher,
            });
        }
        if site.funnels.len() > MAX_FUNNELS {
            return Err((
                "funnels".into(),
                format!("at most {MAX_FUNNELS} funnels per site"),
            ));
        }
        let mut funnels: Vec<Funnel> = Vec::new();
        for (j, f) in site.funnels.iter().enumerate() {
            check_name(&f.name).map_err(|m| (format!("funnels[{j}].name"), m))?;
            if funnels.iter().any(|o| *o.name == *f.name) {
                return Err((
                    format!("funnels[{j}].name"),
                    format!("`{}` is declared twice", f.name),
                ));
            }
            if !(2..=MAX_STEPS).contains(&f.steps.len()) {
                return Err((
                    format!("funnels[{j}].steps"),
                    format!("a funnel has 2 to {MAX_STEPS} steps"),
                ));
            }
            let steps = f
                .steps
                .iter()
                .enumerate()
                .map(|(s, step)| {
                    Matcher::compile(&step.event, &step.page)
                        .map_err(|m| (format!("funnels[{j}].steps[{s}]"), m))
                })
                .collect::<Result<Vec<_>, _>>()?;
            funnels.push(Funnel {
                name: f.name.as_str().into(),
                steps,
            });
        }
        let mut currencies = Vec::new();
        for (j, c) in site.currencies.iter().enumerate() {
            match currency_code(c) {
                Some(code) => currencies.push(code),
                None => {
                    return Err((
                        format!("currencies[{j}]"),
                        format!("`{c}` is not an ISO 4217 code of three letters (`EUR`)"),
                    ))
                }
            }
        }
        let pairs = PairSet(pairs);
        Ok(Conversions {
            plans: Step::ALL.map(|step| plan(pairs, step)),
            pairs,
            goals,
            funnels,
            currencies,
        })
    }

    /// The declared pairs `step` writes.
    pub fn plan(&self, step: Step) -> &[PlannedPair] {
        &self.plans[step as usize]
    }

    /// Goals completed by a hit (a custom event `event`, or a pageview of `path`).
    pub fn goals_hit<'a>(
        &'a self,
        event: Option<&'a str>,
        path: &'a str,
    ) -> impl Iterator<Item = &'a Goal> + 'a {
        self.goals
            .iter()
            .filter(move |g| g.matcher.matches(event, path))
    }

    /// A visit's funnel progress after a hit: each funnel whose next step the hit
    /// matches moves one step on (4 bits per funnel).
    pub fn advance(&self, progress: u32, event: Option<&str>, path: &str) -> u32 {
        let mut out = progress;
        for (i, f) in self.funnels.iter().enumerate() {
            let done = funnel_step(progress, i);
            if let Some(next) = f.steps.get(done as usize) {
                if next.matches(event, path) {
                    out = (out & !(0xF << (4 * i))) | ((done + 1) << (4 * i));
                }
            }
        }
        out
    }

    /// Whether `code` (upper case) is an accepted currency.
    pub fn accepts(&self, code: [u8; 3]) -> bool {
        self.currencies.contains(&code)
    }
}

fn plan(pairs: PairSet, step: Step) -> Vec<PlannedPair> {
    pairs
        .iter()
        .filter_map(|dim| {
            let (first, second) = dim.parts()?;
            step.writes(first, second).then_some(PlannedPair {
                dim,
                first,
                second,
                money: first == Dim::Currency || second == Dim::Currency,
            })
        })
        .collect()
}

/// The steps of funnel `i` a visit has completed, from its progress word.
pub fn funnel_step(progress: u32, i: usize) -> u32 {
    (progress >> (4 * i)) & 0xF
}

/// The stored `funnel` value of step `step` (from 1) of funnel `name`.
pub fn funnel_value(name: &str, step: u32) -> String {
    format!("{name}{PROP_SEP}{step:02}")
}

/// An ISO 4217-shaped code (three ASCII letters), upper-cased.
pub fn currency_code(s: &str) -> Option<[u8; 3]> {
    let b = s.trim().as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    Some([
        b[0].to_ascii_uppercase(),
        b[1].to_ascii_uppercase(),
        b[2].to_ascii_uppercase(),
    ])
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.len() > 100 {
        return Err("must be 1 to 100 characters".into());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FunnelConfig;

    #[test]
    fn path_patterns_match_whole_paths() {
        let m = |p: &str, path: &str| PathPattern::new(p).matches(path);
        assert!(m("/pricing", "/pricing") && !m("/pricing", "/pricing/x"));
        assert!(m("/blog/*", "/blog/a/b") && !m("/blog/*", "/blo"));
        assert!(m("*/done", "/signup/done") && !m("*/done", "/signup/done/x"));
        assert!(m("/a*c", "/abc") && m("/a*c", "/ac") && !m("/a*c", "/abd"));
        assert!(m("/a*b*c", "/a-b-c") && !m("/a*b*c", "/a-c-b"));
        assert!(m("*", "/anything"));
        assert!(!m("/ab*ab", "/ab"), "pieces may not overlap");
    }

    fn site() -> SiteConfig {
        let mut s: SiteConfig = toml::from_str("id = \"example.com\"").unwrap();
        s.goals = vec![
            GoalConfig {
                name: "Signup".into(),
                event: Some("signup".into()),
                page: None,
            },
            GoalConfig {
                name: "Pricing".into(),
                event: None,
                page: Some("/pricing*".into()),
            },
        ];
        s.funnels = vec![FunnelConfig {
            name: "Buy".into(),
            steps: vec![
                StepConfig {
                    page: Some("/pricing".into()),
                    event: None,
                },
                StepConfig {
                    event: Some("signup".into()),
                    page: None,
                },
                StepConfig {
                    page: Some("/welcome".into()),
                    event: None,
                },
            ],
        }];
        s
    }

    #[test]
    fn goals_match_events_and_pages() {
        let c = Conversions::compile(&site()).unwrap();
        let names = |e: Option<&str>, p: &str| -> Vec<String> {
            c.goals_hit(e, p).map(|g| g.name.to_string()).collect()
        };
        assert_eq!(names(Some("signup"), "/x"), ["Signup"]);
        assert_eq!(names(None, "/pricing/team"), ["Pricing"]);
        assert!(names(Some("pricing"), "/pricing").is_empty());
        assert_eq!(c.pairs.iter().count(), DEFAULT_PAIRS.len());
        assert!(c.pairs.of(Dim::Source, Dim::Page).is_some());
        assert!(c.accepts(*b"EUR") && !c.accepts(*b"XYZ"));
    }

    #[test]
    fn funnels_advance_one_step_at_a_time_in_order() {
        let c = Conversions::compile(&site()).unwrap();
        let mut p = 0;
        p = c.advance(p, Some("signup"), "/x");
        assert_eq!(funnel_step(p, 0), 0, "step 2 before step 1 does nothing");
        p = c.advance(p, None, "/pricing");
        p = c.advance(p, None, "/pricing");
        assert_eq!(funnel_step(p, 0), 1);
        p = c.advance(p, None, "/other");
        p = c.advance(p, Some("signup"), "/pricing");
        p = c.advance(p, None, "/welcome");
        assert_eq!(funnel_step(p, 0), 3);
        assert_eq!(c.advance(p, None, "/welcome"), p, "a finished funnel stays");
        assert_eq!(funnel_value("Buy", 2), "Buy\u{1f}02");
    }

    #[test]
    fn bad_declarations_name_their_key() {
        let mut s = site();
        s.pairs = Some(vec!["page*nothing".into()]);
        assert_eq!(Conversions::compile(&s).unwrap_err().0, "pairs[0]");
        let mut s = site();
        s.goals[1].event = Some("x".into());
        assert_eq!(Conversions::compile(&s).unwrap_err().0, "goals[1]");
        let mut s = site();
        s.funnels[0].steps.truncate(1);
        assert_eq!(Conversions::compile(&s).unwrap_err().0, "funnels[0].steps");
        let mut s = site();
        s.currencies = vec!["EURO".into()];
        assert_eq!(Conversions::compile(&s).unwrap_err().0, "currencies[0]");
        let mut s = site();
        s.goals[1].name = "Signup".into();
        assert_eq!(Conversions::compile(&s).unwrap_err().0, "goals[1].name");
    }
}
