//! Request metrics in the Prometheus text format, served on a separate listener.
//!
//! Per route template (`/api/v1/verify`, `/v/{token}`) and status: a request counter
//! and a latency histogram. Also counters of check-ins by presence and of code
//! verifications by outcome.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), Histogram>,
    events: BTreeMap<(&'static str, String), u64>,
}

/// The service's metrics.
#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a request to `route` answered with `status` after `elapsed`.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut inner = self.inner();
        let h = inner
            .requests
            .entry((route.to_owned(), status))
            .or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    /// Counts an event (`checkins` by presence, `code_verifications` by outcome,
    /// `code_views` by how a view was made: `derived` from the evidence, or shown
    /// `again` from the last one's basis; `code_view_checks` by what said a view
    /// shown again was unchanged: the ledger's follower (`followed`) or the store).
    pub fn event(&self, name: &'static str, label: &str) {
        *self
            .inner()
            .events
            .entry((name, label.to_owned()))
            .or_default() += 1;
    }

    /// How many times `event` was counted with `label`.
    pub fn event_count(&self, name: &'static str, label: &str) -> u64 {
        self.inner()
            .events
            .get(&(name, label.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner();
        let mut out = String::new();
        out.push_str("# HELP mingma_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE mingma_http_requests_total counter\n");
        for ((route, status), h) in &inner.requests {
            let _ = writeln!(
                out,
                "mingma_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP mingma_http_request_seconds Latency of HTTP requests.\n");
        out.push_str("# TYPE mingma_http_request_seconds histogram\n");
        for ((route, status), h) in &inner.requests {
            let labels = format!("route=\"{route}\",status=\"{status}\"");
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "mingma_http_request_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "mingma_http_request_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "mingma_http_request_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(
                out,
                "mingma_http_request_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let mut last = "";
        for ((name, label), n) in &inner.events {
            if *name != last {
                let _ = writeln!(out, "# TYPE mingma_{name}_total counter");
                last = name;
            }
            let _ = writeln!(out, "mingma_{name}_total{{kind=\"{label}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("/healthz", 200, Duration::from_millis(3));
        m.request("/healthz", 200, Duration::from_millis(30));
        m.event("checkins", "rotating");
        let text = m.render();
        assert!(
            text.contains("mingma_http_requests_total{route=\"/healthz\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2"), "{text}");
        assert!(
            text.contains("mingma_checkins_total{kind=\"rotating\"} 1"),
            "{text}"
        );
    }
}
