//! Request counters and latency histograms (Prometheus text format), and the usage buffer that is
//! flushed to the store's durable indicators in batches.

use annuaire_store::{Store, SubjectBatch, UsageKey};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters since the process started: one short lock per request, no allocation once a client is known (the
/// claims path calls it thousands of times a second).
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
    /// Claims read from the disk on a blocking thread because their entry was not in the page cache.
    claims_disk_reads: AtomicU64,
}

#[derive(Default)]
struct Counters {
    /// Requests by client, then by (endpoint, outcome).
    requests: BTreeMap<String, BTreeMap<(&'static str, &'static str), u64>>,
    latency: BTreeMap<&'static str, Histogram>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    /// Count one request.
    pub fn observe(&self, client: &str, endpoint: &'static str, outcome: &'static str, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut g = lock(&self.inner);
        let by_client = match g.requests.get_mut(client) {
            Some(m) => m,
            None => g.requests.entry(client.to_string()).or_default(),
        };
        *by_client.entry((endpoint, outcome)).or_default() += 1;
        let h = g.latency.entry(endpoint).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Count a claims lookup whose entry was not in the page cache.
    pub fn claims_disk_read(&self) {
        self.claims_disk_reads.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with extra gauges appended.
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP annuaire_requests_total API requests by client, endpoint and outcome.\n");
        out.push_str("# TYPE annuaire_requests_total counter\n");
        let g = lock(&self.inner);
        for (client, by_client) in &g.requests {
            for ((endpoint, outcome), n) in by_client {
                let _ = writeln!(
                    out,
                    "annuaire_requests_total{{client=\"{}\",endpoint=\"{endpoint}\",outcome=\"{}\"}} {n}",
                    escape(client),
                    escape(outcome)
                );
            }
        }
        out.push_str("# HELP annuaire_request_duration_seconds API request latency by endpoint.\n");
        out.push_str("# TYPE annuaire_request_duration_seconds histogram\n");
        for (endpoint, h) in &g.latency {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "annuaire_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "annuaire_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "annuaire_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}", h.sum);
            let _ = writeln!(out, "annuaire_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {}", h.count);
        }
        drop(g);
        out.push_str("# HELP annuaire_claims_disk_reads_total Claims lookups that waited on the disk (on a blocking thread: the entry was not in the page cache).\n");
        out.push_str("# TYPE annuaire_claims_disk_reads_total counter\n");
        let _ = writeln!(out, "annuaire_claims_disk_reads_total {}", self.claims_disk_reads.load(Ordering::Relaxed));
        for (name, help, value) in gauges {
            let base = name.split('{').next().unwrap_or(name);
            let _ = writeln!(out, "# HELP {base} {help}\n# TYPE {base} gauge\n{name} {value}");
        }
        out
    }
}

/// Calls counted since the last flush, by client, endpoint and outcome; and the hashes of the professionals asked
/// about, by client.
#[derive(Default)]
struct Pending {
    calls: HashMap<String, HashMap<(&'static str, &'static str), i64>>,
    subjects: HashMap<String, Vec<u64>>,
}

/// Usage waiting to be written. Counting a call is a hash-map lookup and a push under a short lock (no allocation
/// once a client is known); the day is the one of the flush (every 2 s), and sorting and encoding happen off the
/// request path.
#[derive(Default)]
pub struct UsageBuffer {
    inner: Mutex<Pending>,
}

impl UsageBuffer {
    /// Count a call (and the professional it was about).
    pub fn record(&self, client: &str, endpoint: &'static str, outcome: &'static str, subject: Option<&str>) {
        let hash = subject.map(annuaire_store::subject_hash);
        let mut g = lock(&self.inner);
        if let Some(h) = hash {
            match g.subjects.get_mut(client) {
                Some(v) => v.push(h),
                None => {
                    g.subjects.insert(client.to_string(), vec![h]);
                }
            }
        }
        let calls = match g.calls.get_mut(client) {
            Some(c) => c,
            None => g.calls.entry(client.to_string()).or_default(),
        };
        *calls.entry((endpoint, outcome)).or_default() += 1;
    }

    /// Write what is buffered to the store, dated today.
    pub async fn flush(&self, store: &Store) -> anyhow::Result<()> {
        let pending = std::mem::take(&mut *lock(&self.inner));
        if pending.calls.is_empty() && pending.subjects.is_empty() {
            return Ok(());
        }
        let day = annuaire_schemas::clock::today();
        let Pending { calls, subjects } = pending;
        // A few counters per client: converted here.
        let counts: Vec<(UsageKey, i64)> = calls
            .iter()
            .flat_map(|(client, m)| {
                let day = &day;
                m.iter().map(move |((endpoint, outcome), n)| {
                    let key = UsageKey {
                        day: day.clone(),
                        client: client.clone(),
                        endpoint: endpoint.to_string(),
                        outcome: outcome.to_string(),
                    };
                    (key, *n)
                })
            })
            .collect();
        // Sorting and encoding tens of thousands of hashes is CPU work: not on the runtime's threads.
        let subjects: Vec<SubjectBatch> = tokio::task::spawn_blocking(move || {
            subjects.into_iter().map(|(client, hashes)| SubjectBatch::new(day.clone(), client, hashes)).collect()
        })
        .await?;
        if let Err(e) = store.record_usage(&counts, &subjects).await {
            // Put them back: usage is a durable record, not best effort.
            let mut g = lock(&self.inner);
            for (client, m) in calls {
                let to = g.calls.entry(client).or_default();
                for (k, n) in m {
                    *to.entry(k).or_default() += n;
                }
            }
            for b in subjects {
                g.subjects.entry(b.client.clone()).or_default().extend(b.hashes());
            }
            return Err(e.into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_by_client_endpoint_and_outcome_with_cumulative_buckets() {
        let m = Metrics::default();
        m.observe("idp", "claims", "ok", Duration::from_micros(80));
        m.observe("idp", "claims", "ok", Duration::from_micros(300));
        m.observe("idp", "claims", "not_found", Duration::from_millis(3));
        m.observe("analyst \"a\"", "search", "ok", Duration::from_secs(2));
        let text = m.render(&[("annuaire_generation", "The served generation.", 7.0)]);
        let requests: Vec<&str> = text.lines().filter(|l| l.starts_with("annuaire_requests_total")).collect();
        assert_eq!(
            requests,
            [
                r#"annuaire_requests_total{client="analyst \"a\"",endpoint="search",outcome="ok"} 1"#,
                r#"annuaire_requests_total{client="idp",endpoint="claims",outcome="not_found"} 1"#,
                r#"annuaire_requests_total{client="idp",endpoint="claims",outcome="ok"} 2"#,
            ]
        );
        let bucket = |endpoint: &str, le: &str| {
            let prefix = format!("annuaire_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{le}\"}} ");
            text.lines().find_map(|l| l.strip_prefix(prefix.as_str())).map(|n| n.parse::<u64>().unwrap())
        };
        // Cumulative: each bucket counts the requests at or under its bound.
        assert_eq!(bucket("claims", "0.0001"), Some(1));
        assert_eq!(bucket("claims", "0.0005"), Some(2));
        assert_eq!(bucket("claims", "0.005"), Some(3));
        assert_eq!(bucket("claims", "+Inf"), Some(3));
        assert_eq!(bucket("search", "1"), Some(0));
        assert_eq!(bucket("search", "+Inf"), Some(1));
        assert!(text.contains("annuaire_request_duration_seconds_count{endpoint=\"claims\"} 3\n"));
        m.claims_disk_read();
        assert!(m.render(&[]).contains("\nannuaire_claims_disk_reads_total 1\n"));
        assert!(text.contains("\nannuaire_claims_disk_reads_total 0\n"));
        assert!(text.ends_with("# TYPE annuaire_generation gauge\nannuaire_generation 7\n"));
    }
}
