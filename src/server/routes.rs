//! Request routing and the beacon handlers.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::pages;
use super::tracker;
use crate::beacon::{self, Beacon, DecodeError};
use crate::http::response::{self, Body};
use crate::http::{body, header_str, media_type, HttpError};
use crate::metrics::Metrics;
use crate::pipeline::Rejected;
use crate::privacy::{client_ip, Transport};
use crate::AppState;

/// Dispatches one request; every answer leaves through [`response::finish`].
pub async fn handle(state: &AppState, peer: IpAddr, req: Request<Incoming>) -> Response<Body> {
    Metrics::inc(&state.metrics.requests);
    response::finish(route(state, peer, req).await)
}

async fn route(state: &AppState, peer: IpAddr, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET | &Method::HEAD, "/p.gif") => pixel(state, peer, &req),
        (&Method::GET | &Method::HEAD, "/t.js") => tracker::script(req.headers()),
        (&Method::POST, "/api/collect") => response::with_cors(collect(state, peer, req).await),
        (&Method::POST, "/api/event") => response::with_cors(plausible(state, peer, req).await),
        (&Method::POST, "/api/send") => response::with_cors(umami(state, peer, req).await),
        (&Method::OPTIONS, "/api/collect" | "/api/event" | "/api/send") => {
            response::with_cors(response::empty(StatusCode::NO_CONTENT))
        }
        (&Method::GET, "/health") => response::text(StatusCode::OK, "text/plain", "ok\n".into()),
        (&Method::GET, "/ready") => ready(state, peer, req.headers()),
        (&Method::GET | &Method::HEAD, "/privacy") => {
            pages::privacy(state, req.uri().query(), req.headers())
        }
        (&Method::GET | &Method::HEAD, "/privacy.json") => {
            pages::privacy_json(state, req.uri().query())
        }
        (&Method::GET | &Method::HEAD, "/optout") => {
            pages::optout_page(state, req.uri().query(), req.headers())
        }
        (&Method::POST, "/optout") => {
            let (parts, body) = req.into_parts();
            pages::optout_post(state, &parts.headers, body).await
        }
        (&Method::GET, "/metrics") => metrics(state, peer, req.headers()),
        (_, p) if crate::stats::owns(p) => {
            let client = with_transport(peer, req.headers(), |t| {
                state.pipeline.rules().privacy.client_ip(t)
            });
            crate::stats::handle(state, client, req).await
        }
        // Every known path with another method: 405 and what it does answer.
        (_, "/p.gif" | "/t.js" | "/privacy" | "/privacy.json") => {
            HttpError::MethodNotAllowed("GET, HEAD").to_json()
        }
        (_, "/api/collect" | "/api/event" | "/api/send") => {
            HttpError::MethodNotAllowed("POST, OPTIONS").to_json()
        }
        (_, "/health" | "/ready" | "/metrics") => HttpError::MethodNotAllowed("GET").to_json(),
        (_, "/optout") => HttpError::MethodNotAllowed("GET, HEAD, POST").to_json(),
        _ => HttpError::NotFound("not found".into()).to_json(),
    }
}

/// Runs `f` with the transport facts of a request: the forwarding headers with
/// every line joined (a proxy appends its own line after the client's).
fn with_transport<R>(peer: IpAddr, h: &HeaderMap, f: impl FnOnce(&Transport<'_>) -> R) -> R {
    let x_forwarded_for = client_ip::joined_lines(h.get_all("x-forwarded-for").iter());
    let forwarded = client_ip::joined_lines(h.get_all(header::FORWARDED).iter());
    f(&Transport {
        peer,
        x_forwarded_for: x_forwarded_for.as_deref(),
        forwarded: forwarded.as_deref(),
        user_agent: header_str(h, header::USER_AGENT).unwrap_or(""),
        gpc: h.get("sec-gpc").is_some_and(|v| v.as_bytes() == b"1"),
        dnt: h.get(header::DNT).is_some_and(|v| v.as_bytes() == b"1"),
        cookie: header_str(h, header::COOKIE),
        accept_language: header_str(h, header::ACCEPT_LANGUAGE),
        sec_fetch: h.contains_key("sec-fetch-mode"),
        origin: header_str(h, header::ORIGIN),
        referer: header_str(h, header::REFERER),
    })
}

/// `GET /p.gif`: always the GIF, whatever happened, so a page never shows a broken
/// image; the outcome is only visible in the counters.
fn pixel(state: &AppState, peer: IpAddr, req: &Request<Incoming>) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    let referer = header_str(req.headers(), header::REFERER);
    match beacon::pixel::decode(query, referer) {
        Ok(b) => {
            let _ = with_transport(peer, req.headers(), |t| state.pipeline.ingest(&b, t));
        }
        Err(_) => Metrics::inc(&state.metrics.rejected_bad_request),
    }
    response::gif()
}

/// Checks the content type and reads the body of a JSON beacon: the common gate of
/// every POST endpoint (415, 413, 408, 400 with a short reason).
async fn json_request(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Bytes), Response<Body>> {
    let m = &state.metrics;
    let mime = media_type(req.headers());
    // sendBeacon with a string sends text/plain; fetch/XHR send JSON.
    if !(mime.eq_ignore_ascii_case("application/json")
        || mime.eq_ignore_ascii_case("text/plain")
        || mime.is_empty())
    {
        Metrics::inc(&m.rejected_media_type);
        return Err(HttpError::UnsupportedMediaType(
            "content type must be application/json or text/plain",
        )
        .to_json());
    }
    let (parts, body) = req.into_parts();
    match body::read(
        body,
        &parts.headers,
        state.max_body_bytes,
        state.body_read_timeout,
    )
    .await
    {
        Ok(b) => Ok((parts, b)),
        Err(e) => {
            Metrics::inc(&m.rejected_too_large);
            Err(e.to_json())
        }
    }
}

/// `400` for a body that did not decode.
fn bad_beacon(state: &AppState, e: &DecodeError) -> Response<Body> {
    Metrics::inc(&state.metrics.rejected_bad_request);
    let reason = match e {
        DecodeError::Json(_) => "malformed JSON".to_string(),
        other => other.to_string(),
    };
    HttpError::BadRequest(reason.into()).to_json()
}

/// Ingests a decoded beacon and answers `ok` on success, `400` with the refusal.
fn answer(
    state: &AppState,
    beacon: &Beacon<'_>,
    peer: IpAddr,
    headers: &HeaderMap,
    ok: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    match with_transport(peer, headers, |t| state.pipeline.ingest(beacon, t)) {
        Ok(()) => ok(),
        Err(rejected) => {
            if let Rejected::Refused(_) = rejected {
                Metrics::inc(&state.metrics.rejected_bad_request);
            }
            HttpError::from(rejected).to_json()
        }
    }
}

/// `POST /api/collect`: `202` when accepted (whatever the consent level), a short
/// reason otherwise.
async fn collect(state: &AppState, peer: IpAddr, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = match json_request(state, req).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    match beacon::json::decode(&body) {
        Ok(b) => answer(state, &b, peer, &parts.headers, || {
            response::empty(StatusCode::ACCEPTED)
        }),
        Err(e) => bad_beacon(state, &e),
    }
}

/// `POST /api/event`: Plausible's event API; `d` names the site.
async fn plausible(state: &AppState, peer: IpAddr, req: Request<Incoming>) -> Response<Body> {
    use beacon::plausible::PlausibleEvent;
    let (parts, body) = match json_request(state, req).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let accepted = || response::text(StatusCode::ACCEPTED, "text/plain", "ok".into());
    match beacon::plausible::decode(&body) {
        Ok(PlausibleEvent::Hit(mut b)) => {
            if let Some(site) = state.pipeline.rules().privacy.site_for_domain(&b.site) {
                b.site = std::borrow::Cow::Owned(site.to_string());
            }
            answer(state, &b, peer, &parts.headers, accepted)
        }
        Err(e) => bad_beacon(state, &e),
    }
}

/// `POST /api/send`: Umami's collection API; the website id maps to a site through
/// `umami_website_id`.
async fn umami(state: &AppState, peer: IpAddr, req: Request<Incoming>) -> Response<Body> {
    use beacon::umami::UmamiEvent;
    let (parts, body) = match json_request(state, req).await {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    // Umami's script reads a JSON answer; `{}` keeps it sending.
    let accepted = || response::json_body(StatusCode::OK, "{}".into());
    match beacon::umami::decode(&body) {
        Ok(UmamiEvent::Ignored) => accepted(),
        Ok(UmamiEvent::Hit(mut b)) => {
            let config = state.config();
            let site = config
                .sites
                .iter()
                .find(|s| s.umami_website_id.as_deref() == Some(b.site.trim()));
            match site {
                Some(s) => b.site = std::borrow::Cow::Owned(s.id.clone()),
                None => b.site = std::borrow::Cow::Borrowed(""),
            }
            answer(state, &b, peer, &parts.headers, accepted)
        }
        Err(e) => bad_beacon(state, &e),
    }
}

/// `GET /metrics`: the counters in Prometheus' text format, for the operator
/// only ([`super::operator`]).
fn metrics(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> Response<Body> {
    let loaded = state.loaded();
    if let Err(e) = loaded.operator.check(peer, headers) {
        return e.to_text();
    }
    response::text(
        StatusCode::OK,
        "text/plain; version=0.0.4",
        state.pipeline.sync_metrics().render(&[
            (
                "veil_config_generation",
                "The loaded configuration: 1 at start, one more per reload that changed it.",
                loaded.generation,
            ),
            (
                "veil_live_visits",
                "Live visits held in memory.",
                state.pipeline.sessions.live() as u64,
            ),
            (
                "veil_interned_strings",
                "Distinct strings (pages, referrers, campaigns) live visits hold.",
                state.pipeline.sessions.interner().len() as u64,
            ),
            (
                "veil_interned_bytes",
                "Bytes of the strings live visits hold.",
                state.pipeline.sessions.interner().bytes() as u64,
            ),
            (
                "veil_guard_named_values",
                "Values with a named cell in the cardinality guard's open hours.",
                state.pipeline.aggregator.guard_sizes().0 as u64,
            ),
            (
                "veil_guard_pending_values",
                "First sightings waiting for a second visitor in the cardinality guard.",
                state.pipeline.aggregator.guard_sizes().1 as u64,
            ),
            (
                "veil_window_cells",
                "Cells in the in-memory aggregation window.",
                state.pipeline.aggregator.cells() as u64,
            ),
            (
                "veil_queue_batches",
                "Batches waiting for ClickHouse.",
                state.queue_depth() as u64,
            ),
            (
                "veil_clickhouse_up",
                "1 when the last ClickHouse probe succeeded.",
                u64::from(state.clickhouse_up.load(Ordering::Relaxed)),
            ),
            (
                "veil_spool_batches",
                "Batches waiting in the disk spool.",
                state.pipeline.spool.as_ref().map_or(0, |s| s.len() as u64),
            ),
            (
                "veil_spool_bytes",
                "Bytes in the disk spool.",
                state.pipeline.spool.as_ref().map_or(0, |s| s.bytes()),
            ),
            (
                "veil_spool_oldest_age_seconds",
                "Age of the oldest spooled batch.",
                state
                    .pipeline
                    .spool
                    .as_ref()
                    .map_or(0, |s| s.oldest_age_secs()),
            ),
        ]),
    )
}

/// `GET /ready`: able to accept hits — ClickHouse reachable or room in the spool —
/// and, when configured, the geo database loaded. `degraded` while ClickHouse is
/// down or batches wait in the spool. Anyone gets the status code and that one
/// word; only the operator ([`super::operator`]) the JSON detail.
fn ready(state: &AppState, peer: IpAddr, headers: &HeaderMap) -> Response<Body> {
    let clickhouse = state.clickhouse_up.load(Ordering::Relaxed);
    let geo = state.pipeline.geo().is_some() || !state.geo_required;
    let spooled = state.pipeline.spool.as_ref().map_or(0, |s| s.len());
    let can_store = clickhouse || (state.pipeline.spool.is_some() && !state.spool_full());
    let ready = can_store && geo;
    let status = match (ready, clickhouse && spooled == 0) {
        (false, _) => "unavailable",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if state.loaded().operator.check(peer, headers).is_err() {
        return response::text(code, "text/plain; charset=utf-8", format!("{status}\n"));
    }
    let body = serde_json::json!({
        "ready": ready,
        "status": status,
        "clickhouse": clickhouse,
        "geo": geo,
        "spooled_batches": spooled,
        "spool_full": state.spool_full(),
    })
    .to_string();
    response::json_body(code, body)
}
