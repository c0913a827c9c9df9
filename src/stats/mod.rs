//! The query side: what marketers may see of the aggregates.
//!
//! - [`params`]: query-string parameters → validated types (400 names the parameter).
//! - [`query`]: the parameterised SQL (`?` binds only) against `aggregates`.
//! - [`handlers`]: the JSON endpoints, and the k-anonymity design (read its
//!   documentation before changing what a breakdown returns).
//! - [`kanon`]: folding of groups below k visitors into `(other)`.
//! - [`noise`], [`released`]: a site's optional differential-privacy mode — the
//!   noise, and the numbers as released (exact, or noised per day and cell).
//! - [`auth`]: hashed per-site API keys, public dashboards, CORS allow-list.
//! - [`limits`]: the throttle on refused credentials and the query slots per site.
//! - [`export`]: the CSV rendering of the table endpoints' answers
//!   (`format=csv` or `Accept: text/csv`).
//! - [`share`]: signed, expiring, read-only share links and what they may see.
//! - [`openapi`]: the OpenAPI 3 document of `/api/v1`.
//! - [`dashboard`]: the self-contained dashboard page built on the API.
//!
//! Everything shown goes through [`kanon`], so no small group of visitors is ever
//! singled out.

use std::net::IpAddr;
use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::config::Config;
use crate::http::response::{self, Body};
use crate::reload::Loaded;
use crate::AppState;

pub mod auth;
pub mod breakdown;
pub mod conversions;
pub mod dashboard;
pub mod error;
pub mod export;
pub mod handlers;
pub mod kanon;
pub mod limits;
pub mod noise;
pub mod openapi;
pub mod params;
pub mod query;
pub mod released;
pub mod share;

use crate::http::HttpError;
use params::Params;

/// State of the query side, built once at start.
pub struct Stats {
    /// ClickHouse client for reads, with the query time limit
    /// (`max_execution_time` = `stats.query_timeout_secs`). A client of its own, so
    /// the setting never reaches the writer's inserts.
    pub client: clickhouse::Client,
    /// API key hashes and public flags per site.
    pub keys: auth::Keys,
    /// The throttle on refused credentials and the query slots per site.
    pub limits: limits::Limits,
    /// The longest a request may take in all: the query limit, the wait for a
    /// slot, and some slack for ClickHouse to report the timeout itself.
    deadline: Duration,
}

impl Stats {
    /// Builds the query side from validated configuration.
    pub fn new(config: &Config) -> Stats {
        Stats::build(config, |ids| limits::Limits::new(&config.stats, ids))
    }

    /// The query side of a reloaded configuration: new keys, the same throttle
    /// and query slots where their settings did not change.
    pub fn next(&self, config: &Config) -> Stats {
        Stats::build(config, |ids| self.limits.next(&config.stats, ids))
    }

    fn build(config: &Config, limits: impl FnOnce(&[&str]) -> limits::Limits) -> Stats {
        let timeout = config.stats.query_timeout_secs;
        let ids: Vec<&str> = config.sites.iter().map(|s| s.id.as_str()).collect();
        Stats {
            client: crate::sink::schema::client(&config.clickhouse)
                .with_setting("max_execution_time", timeout.to_string()),
            keys: auth::Keys::new(config),
            limits: limits(&ids),
            deadline: Duration::from_secs(timeout + 5) + limits::SLOT_WAIT,
        }
    }
}

/// The methods every `/api/v1/…` path answers (`Allow` of its `405` and `OPTIONS`).
pub const API_METHODS: &str = "GET, HEAD, OPTIONS";
/// The methods `/dashboard/…` answers.
pub const DASHBOARD_METHODS: &str = "GET, HEAD";

/// Whether `path` belongs to this module (`/api/v1/…`, `/dashboard/…`).
pub fn owns(path: &str) -> bool {
    path.starts_with("/api/v1/") || path == "/dashboard" || path.starts_with("/dashboard/")
}

/// Serves `/api/v1/*` and `/dashboard/*`; `client` is the requester's address
/// (trusted proxies applied), which the throttle of [`limits`] is keyed by.
pub async fn handle(state: &AppState, client: IpAddr, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if path == "/dashboard" || path.starts_with("/dashboard/") {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return HttpError::MethodNotAllowed(DASHBOARD_METHODS).to_json();
        }
        return dashboard::serve(state, &req);
    }
    let live = state.loaded();
    let origin = auth::allowed_origin(&live.config, req.headers()).cloned();
    let resp = match *req.method() {
        Method::OPTIONS => {
            let mut r = response::empty(StatusCode::NO_CONTENT);
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(API_METHODS));
            r
        }
        Method::GET | Method::HEAD => {
            let query = req.uri().query().unwrap_or("");
            let endpoint = path.trim_start_matches("/api/v1/");
            let work = api(state, &live, client, endpoint, query, req.headers());
            match tokio::time::timeout(live.stats.deadline, work).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => e.to_json(),
                Err(_) => HttpError::unavailable("ClickHouse did not answer in time").to_json(),
            }
        }
        _ => HttpError::MethodNotAllowed(API_METHODS).to_json(),
    };
    let mut resp = auth::with_cors(resp, origin.as_ref());
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The answer's format may follow `Accept` (see [`export::negotiate`]).
    h.append(header::VARY, HeaderValue::from_static("Accept"));
    resp
}

/// The endpoints of `/api/v1` that answer for a site (besides `openapi.json`).
pub const ENDPOINTS: [&str; 8] = [
    "aggregate",
    "timeseries",
    "breakdown",
    "goals",
    "funnels",
    "realtime",
    "consent",
    "site",
];

/// The endpoints of `/api/v1`, checked in order: endpoint, the client's throttle,
/// site and key (an unknown site is refused exactly like a known one without a
/// key, so site ids cannot be probed), a query slot, parameters (the format
/// first: [`export::negotiate`]). A table endpoint answers CSV rendered from the
/// same final JSON answer; errors are always JSON.
async fn api(
    state: &AppState,
    live: &Loaded,
    client: IpAddr,
    endpoint: &str,
    query: &str,
    headers: &HeaderMap,
) -> Result<Response<Body>, HttpError> {
    let mut params = Params::parse(query);
    if endpoint == "openapi.json" {
        export::negotiate(endpoint, &params, headers)?;
        return Ok(openapi::document());
    }
    if !ENDPOINTS.contains(&endpoint) {
        return Err(HttpError::NotFound(
            "unknown endpoint; the API is described at /api/v1/openapi.json".into(),
        ));
    }
    let site_id = params.required("site")?.to_string();
    let limits = &live.stats.limits;
    limits.admit(client)?;
    let idx = live.config.sites.iter().position(|s| s.id == site_id);
    let admitted = match idx {
        Some(idx) => share::admit(state, live, idx, endpoint, headers, &mut params).await,
        None => Err(live.stats.keys.refuse_unknown(headers, params.get("share"))),
    };
    let grant = match admitted {
        Err(e @ (HttpError::Unauthorized | HttpError::ShareLink(_))) => {
            return Err(limits.refused(client).unwrap_or(e))
        }
        other => other?,
    };
    let Some(idx) = idx else {
        return Err(HttpError::Unauthorized);
    };
    let _slot = limits.slot(idx).await?;
    let format = export::negotiate(endpoint, &params, headers)?;
    let ctx = handlers::Ctx {
        state,
        live,
        idx,
        site: &live.config.sites[idx],
        params: &params,
        conv: &live.conv[idx],
    };
    let mut body = match endpoint {
        "aggregate" => handlers::aggregate(&ctx).await?,
        "timeseries" => handlers::timeseries(&ctx).await?,
        "breakdown" => handlers::breakdown(&ctx).await?,
        "goals" => conversions::goals(&ctx).await?,
        "funnels" => conversions::funnels(&ctx).await?,
        "realtime" => handlers::realtime(&ctx),
        "consent" => handlers::consent(&ctx).await?,
        _ => handlers::site(&ctx).await?,
    };
    share::finish(&grant, endpoint, &mut body);
    match format {
        export::Format::Json => Ok(response::json_body(StatusCode::OK, body.to_string())),
        export::Format::Csv => export::response(endpoint, &body),
    }
}
