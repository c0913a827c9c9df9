//! Request routing and the beacon handlers.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::pages;
use super::response::{self, Body};
use super::tracker;
use crate::beacon::{self, Beacon, DecodeError};
use crate::metrics::Metrics;
use crate::privacy::{Outcome, Refusal, Transport};
use crate::AppState;

/// Dispatches one request.
pub async fn handle(state: &AppState, peer: IpAddr, req: Request<Incoming>) -> Response<Body> {
    Metrics::inc(&state.metrics.requests);
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
        (&Method::GET, "/ready") => ready(state),
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
        (&Method::GET, "/metrics") => response::text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            state.metrics.render(&[
                (
                    "veil_window_cells",
                    "Cells in the in-memory aggregation window.",
                    state.aggregator.cells() as u64,
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
                    state.spool.as_ref().map_or(0, |s| s.len() as u64),
                ),
                (
                    "veil_spool_bytes",
                    "Bytes in the disk spool.",
                    state.spool.as_ref().map_or(0, |s| s.bytes()),
                ),
                (
                    "veil_spool_oldest_age_seconds",
                    "Age of the oldest spooled batch.",
                    state.spool.as_ref().map_or(0, |s| s.oldest_age_secs()),
                ),
            ]),
        ),
        (_, p) if crate::stats::owns(p) => crate::stats::handle(state, req).await,
        (
            _,
            "/p.gif" | "/t.js" | "/api/collect" | "/api/event" | "/api/send" | "/health" | "/ready"
            | "/metrics" | "/privacy" | "/privacy.json" | "/optout",
        ) => response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn transport<'a>(peer: IpAddr, h: &'a HeaderMap) -> Transport<'a> {
    Transport {
        peer,
        x_forwarded_for: h.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
        forwarded: header_str(h, header::FORWARDED),
        user_agent: header_str(h, header::USER_AGENT).unwrap_or(""),
        gpc: h.get("sec-gpc").is_some_and(|v| v.as_bytes() == b"1"),
        dnt: h.get(header::DNT).is_some_and(|v| v.as_bytes() == b"1"),
        cookie: header_str(h, header::COOKIE),
        accept_language: header_str(h, header::ACCEPT_LANGUAGE),
    }
}

/// Why a beacon was not ingested.
enum NotIngested {
    Refused(Refusal),
    RateLimited,
    SpoolFull,
}

/// Runs a decoded beacon through the rate limits and the privacy boundary into
/// the window.
fn ingest(state: &AppState, beacon: &Beacon<'_>, t: &Transport<'_>) -> Result<(), NotIngested> {
    let m = &state.metrics;
    if state.spool_full() {
        // Memory and disk are both at their bound: refuse rather than lose.
        Metrics::inc(&m.rejected_spool_full);
        return Err(NotIngested::SpoolFull);
    }
    if let Some(site) = state.privacy.site_index(beacon.site.trim()) {
        if !state.limits.allow(site, state.privacy.client_ip(t)) {
            Metrics::inc(&m.rate_limited);
            let hour = state.privacy.current_hour();
            state.aggregator.count_decision(
                site,
                hour,
                crate::privacy::consent::Decision::RateLimited,
            );
            return Err(NotIngested::RateLimited);
        }
    }
    match state.privacy.process(beacon, t) {
        Ok(Outcome::Record(hit)) => {
            Metrics::inc(&m.beacons_accepted);
            Metrics::inc(&m.beacons_recorded);
            let channel = hit.channel.map(|c| c.as_str());
            let (visit, closed) = state.sessions.touch(&hit, hit.secs, channel);
            state.stats.record(&hit);
            state.aggregator.record(&hit, visit.as_ref());
            for c in &closed {
                state.aggregator.record_visit(c);
            }
            Ok(())
        }
        Ok(Outcome::CountOnly {
            site,
            hour,
            decision,
            forget,
        }) => {
            Metrics::inc(&m.beacons_accepted);
            Metrics::inc(&m.beacons_count_only);
            state.aggregator.count_decision(site, hour, decision);
            if let Some(visitor) = forget {
                state.sessions.forget(visitor);
            }
            Ok(())
        }
        Err(Refusal::UnknownSite) => {
            Metrics::inc(&m.rejected_unknown_site);
            Err(NotIngested::Refused(Refusal::UnknownSite))
        }
        Err(Refusal::HostNotAllowed { site, hour }) => {
            Metrics::inc(&m.rejected_host);
            state
                .aggregator
                .count_decision(site, hour, crate::privacy::consent::Decision::Invalid);
            Err(NotIngested::Refused(Refusal::HostNotAllowed { site, hour }))
        }
    }
}

/// `GET /p.gif`: always the GIF, whatever happened, so a page never shows a broken
/// image; the outcome is only visible in the counters.
fn pixel(state: &AppState, peer: IpAddr, req: &Request<Incoming>) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    let referer = header_str(req.headers(), header::REFERER);
    match beacon::pixel::decode(query, referer) {
        Ok(b) => {
            let _ = ingest(state, &b, &transport(peer, req.headers()));
        }
        Err(_) => Metrics::inc(&state.metrics.rejected_bad_request),
    }
    response::gif()
}

/// Checks the content type and reads the body of a JSON beacon: the common gate of
/// every POST endpoint (415, 413, 400 with a short reason).
async fn json_request(
    state: &AppState,
    req: Request<Incoming>,
) -> Result<(http::request::Parts, Bytes), Response<Body>> {
    let m = &state.metrics;
    let content_type = header_str(req.headers(), header::CONTENT_TYPE).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    // sendBeacon with a string sends text/plain; fetch/XHR send JSON.
    if !(mime.eq_ignore_ascii_case("application/json")
        || mime.eq_ignore_ascii_case("text/plain")
        || mime.is_empty())
    {
        Metrics::inc(&m.rejected_media_type);
        return Err(response::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type must be application/json or text/plain",
        ));
    }
    let (parts, body) = req.into_parts();
    match read_body(body, state.max_body_bytes, &parts.headers).await {
        Ok(b) => Ok((parts, b)),
        Err(resp) => {
            Metrics::inc(&m.rejected_too_large);
            Err(resp)
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
    response::error(StatusCode::BAD_REQUEST, &reason)
}

/// Ingests a decoded beacon and answers `ok` on success, `400` with the refusal.
fn answer(
    state: &AppState,
    beacon: &Beacon<'_>,
    peer: IpAddr,
    headers: &HeaderMap,
    ok: impl FnOnce() -> Response<Body>,
) -> Response<Body> {
    match ingest(state, beacon, &transport(peer, headers)) {
        Ok(()) => ok(),
        Err(NotIngested::SpoolFull) => {
            let mut r = response::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage unavailable; retry later",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from_static("30"));
            r
        }
        Err(NotIngested::RateLimited) => {
            let mut r = response::error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            r.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from_static("1"));
            r
        }
        Err(NotIngested::Refused(e)) => {
            Metrics::inc(&state.metrics.rejected_bad_request);
            response::error(StatusCode::BAD_REQUEST, &e.to_string())
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
        Ok(PlausibleEvent::Engagement) => accepted(),
        Ok(PlausibleEvent::Hit(mut b)) => {
            if let Some(site) = state.privacy.site_for_domain(&b.site) {
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
            let site = state
                .config
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

/// Longest time a client may take to send a beacon body.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads at most `max` bytes of body; `413` beyond, `408` when too slow.
async fn read_body(
    body: Incoming,
    max: usize,
    headers: &HeaderMap,
) -> Result<Bytes, Response<Body>> {
    let too_large = || response::error(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    let declared = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    // A body trickled in byte by byte would hold a connection slot: bound the time.
    let read = tokio::time::timeout(BODY_READ_TIMEOUT, Limited::new(body, max).collect());
    let Ok(collected) = read.await else {
        return Err(response::error(
            StatusCode::REQUEST_TIMEOUT,
            "body not received in time",
        ));
    };
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(response::error(
            StatusCode::BAD_REQUEST,
            "body could not be read",
        )),
    }
}

/// `GET /ready`: able to accept hits — ClickHouse reachable or room in the spool —
/// and, when configured, the geo database loaded. `degraded` while ClickHouse is
/// down or batches wait in the spool.
fn ready(state: &AppState) -> Response<Body> {
    let clickhouse = state.clickhouse_up.load(Ordering::Relaxed);
    let geo = state.privacy.geo().is_some() || !state.geo_required;
    let spooled = state.spool.as_ref().map_or(0, |s| s.len());
    let can_store = clickhouse || (state.spool.is_some() && !state.spool_full());
    let ready = can_store && geo;
    let status = match (ready, clickhouse && spooled == 0) {
        (false, _) => "unavailable",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    let body = serde_json::json!({
        "ready": ready,
        "status": status,
        "clickhouse": clickhouse,
        "geo": geo,
        "spooled_batches": spooled,
        "spool_full": state.spool_full(),
    })
    .to_string();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    response::json_body(code, body)
}
