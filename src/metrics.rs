//! Process counters, rendered as Prometheus text at `/metrics`.
//!
//! Plain atomics: a counter update on the request path is one relaxed add. Names are
//! constants here so that dashboards and the README agree with the code.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($field:ident => $name:literal, $help:literal;)*) => {
        /// All counters of the process.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $(#[doc = $help] pub $field: AtomicU64,)*
        }

        impl Metrics {
            /// Prometheus text exposition (counters and gauges given by the caller).
            pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
                let mut out = String::with_capacity(4096);
                $(
                    let _ = writeln!(out, "# HELP {} {}\n# TYPE {} counter\n{} {}",
                        $name, $help, $name, $name, self.$field.load(Ordering::Relaxed));
                )*
                for (name, help, value) in gauges {
                    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
                }
                out
            }
        }
    };
}

counters! {
    requests => "veil_requests_total", "HTTP requests received.";
    beacons_accepted => "veil_beacons_accepted_total", "Beacons that passed decoding and the site check.";
    beacons_recorded => "veil_beacons_recorded_total", "Beacons aggregated (any level above none).";
    beacons_count_only => "veil_beacons_count_only_total", "Beacons reduced to a decision counter (no consent, opt-out, bot).";
    rejected_bad_request => "veil_rejected_bad_request_total", "Requests refused with 400.";
    rejected_unknown_site => "veil_rejected_unknown_site_total", "Beacons for a site that is not configured.";
    rejected_host => "veil_rejected_host_total", "Beacons whose page host is not allowed for the site.";
    rejected_too_large => "veil_rejected_too_large_total", "Requests refused with 413.";
    rate_limited => "veil_rate_limited_total", "Beacons refused by a rate limit (answered 429 or the GIF, not stored).";
    rejected_media_type => "veil_rejected_media_type_total", "Requests refused with 415.";
    batches_inserted => "veil_batches_inserted_total", "Batches written to ClickHouse.";
    rows_inserted => "veil_rows_inserted_total", "Aggregate rows written to ClickHouse.";
    insert_retries => "veil_insert_retries_total", "Insert attempts that failed and were retried.";
    batches_already_stored => "veil_batches_already_stored_total", "Retried batches found already stored (not written twice).";
    batches_spooled => "veil_batches_spooled_total", "Batches written to the disk spool while ClickHouse was unavailable.";
    batches_replayed => "veil_batches_replayed_total", "Spooled batches stored in ClickHouse after it came back.";
    rejected_spool_full => "veil_rejected_spool_full_total", "Hits refused because the spool is full (503 on JSON).";
    batches_dropped => "veil_batches_dropped_total", "Batches ClickHouse refused as malformed, or left at shutdown.";
    geo_reloads => "veil_geo_reloads_total", "Successful geo database reloads.";
    config_reloads_failed => "veil_config_reloads_failed_total", "Configuration reloads refused (the file did not load or validate); the running configuration stayed.";
    visits_evicted => "veil_visits_evicted_total", "Visits closed early because live visits or their strings reached their bound (mirrored from the sessions at each scrape).";
    values_folded => "veil_values_folded_total", "Hits whose value the cardinality guard counted in (other) (mirrored from the window at each scrape).";
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
