//! Request routing and the beacon handlers.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

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
        (&Method::OPTIONS, "/api/collect") => {
            response::with_cors(response::empty(StatusCode::NO_CONTENT))
        }
        (&Method::GET, "/health") => response::text(StatusCode::OK, "text/plain", "ok\n".into()),
        (&Method::GET, "/ready") => ready(state),
        (&Method::GET, "/metrics") => response::text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            state.metrics.render(&[
                ("veil_window_cells", "Cells in the in-memory aggregation window.", state.aggregator.cells() as u64),
                ("veil_queue_batches", "Batches waiting for ClickHouse.", state.queue_depth() as u64),
                ("veil_clickhouse_up", "1 when the last ClickHouse probe succeeded.", u64::from(state.clickhouse_up.load(Ordering::Relaxed))),
            ]),
        ),
        (_, "/p.gif" | "/t.js" | "/api/collect" | "/health" | "/ready" | "/metrics") => {
            response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn header_str<'a>(h: &'a HeaderMap, name: header::HeaderName) -> Option<&'a str> {
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

/// Runs a decoded beacon through the privacy boundary into the window.
fn ingest(state: &AppState, beacon: &Beacon<'_>, t: &Transport<'_>) -> Result<(), Refusal> {
    let m = &state.metrics;
    match state.privacy.process(beacon, t) {
        Ok(Outcome::Record(hit)) => {
            Metrics::inc(&m.beacons_accepted);
            Metrics::inc(&m.beacons_recorded);
            state.aggregator.record(&hit);
            Ok(())
        }
        Ok(Outcome::CountOnly { site, hour, decision }) => {
            Metrics::inc(&m.beacons_accepted);
            Metrics::inc(&m.beacons_count_only);
            state.aggregator.count_decision(site, hour, decision);
            Ok(())
        }
        Err(Refusal::UnknownSite) => {
            Metrics::inc(&m.rejected_unknown_site);
            Err(Refusal::UnknownSite)
        }
        Err(Refusal::HostNotAllowed { site, hour }) => {
            Metrics::inc(&m.rejected_host);
            state
                .aggregator
                .count_decision(site, hour, crate::privacy::consent::Decision::Invalid);
            Err(Refusal::HostNotAllowed { site, hour })
        }
    }
}

/// `GET /p.gif`: always the GIF, whatever happened, so a page never shows a broken
/// image; the outcome is only visible in the counters.
fn pixel(state: &AppState, peer: IpAddr, req: &Request<Incoming>) -> Response<Body> {
    let query = req.uri().query().unwrap_or("");
    match beacon::pixel::decode(query) {
        Ok(b) => {
            let _ = ingest(state, &b, &transport(peer, req.headers()));
        }
        Err(_) => Metrics::inc(&state.metrics.rejected_bad_request),
    }
    response::gif()
}

/// `POST /api/collect`: `202` when accepted (whatever the consent level), a short
/// reason otherwise.
async fn collect(state: &AppState, peer: IpAddr, req: Request<Incoming>) -> Response<Body> {
    let m = &state.metrics;
    let content_type = header_str(req.headers(), header::CONTENT_TYPE).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    // sendBeacon with a string sends text/plain; fetch/XHR send JSON.
    if !(mime.eq_ignore_ascii_case("application/json") || mime.eq_ignore_ascii_case("text/plain") || mime.is_empty()) {
        Metrics::inc(&m.rejected_media_type);
        return response::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content type must be application/json or text/plain",
        );
    }
    let (parts, body) = req.into_parts();
    let body = match read_body(body, state.max_body_bytes, &parts.headers).await {
        Ok(b) => b,
        Err(resp) => {
            Metrics::inc(&m.rejected_too_large);
            return resp;
        }
    };
    let beacon = match beacon::json::decode(&body) {
        Ok(b) => b,
        Err(e) => {
            Metrics::inc(&m.rejected_bad_request);
            let reason = match &e {
                DecodeError::Json(_) => "malformed JSON".to_string(),
                other => other.to_string(),
            };
            return response::error(StatusCode::BAD_REQUEST, &reason);
        }
    };
    match ingest(state, &beacon, &transport(peer, &parts.headers)) {
        Ok(()) => response::empty(StatusCode::ACCEPTED),
        Err(e) => {
            Metrics::inc(&m.rejected_bad_request);
            response::error(StatusCode::BAD_REQUEST, &e.to_string())
        }
    }
}

/// Reads at most `max` bytes of body; `413` beyond.
async fn read_body(body: Incoming, max: usize, headers: &HeaderMap) -> Result<Bytes, Response<Body>> {
    let too_large = || response::error(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    let declared = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match Limited::new(body, max).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(response::error(StatusCode::BAD_REQUEST, "body could not be read")),
    }
}

/// `GET /ready`: ClickHouse reachable and, when configured, the geo database loaded.
fn ready(state: &AppState) -> Response<Body> {
    let clickhouse = state.clickhouse_up.load(Ordering::Relaxed);
    let geo = state.privacy.geo().is_some() || !state.geo_required;
    let body = serde_json::json!({
        "ready": clickhouse && geo,
        "clickhouse": clickhouse,
        "geo": geo,
    })
    .to_string();
    let status = if clickhouse && geo { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    response::json_body(status, body)
}
