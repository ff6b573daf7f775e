//! The configuration file (`--config FILE`, env `ANNUAIRE_CONFIG`): client services' policies, API clients
//! and their scopes, download settings. See `config/annuaire.example.toml`.

use annuaire_claims::Policy;
use anyhow::{Context, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What an API client may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Claims, eligibility, subject resolution, services.
    Claims,
    /// Search and statistics.
    Search,
    /// Metrics, changes, usage.
    Admin,
}

/// An API client: its name, the sha256 of its bearer token (never the token), its scopes.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Name used in metrics and usage indicators.
    pub name: String,
    /// Lower-case hex sha256 of the bearer token.
    pub token_sha256: String,
    /// Scopes granted.
    pub scopes: Vec<Scope>,
    /// Optional rate limit: requests per second (bursts up to the same number); past it, 429 with `Retry-After`.
    #[serde(default)]
    pub max_requests_per_second: Option<u32>,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("name", &self.name)
            .field("token_sha256", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("max_requests_per_second", &self.max_requests_per_second)
            .finish()
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version of this file.
    #[serde(default)]
    pub version: Option<u32>,
    /// Extra trusted roots (PEM) for downloads.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Client services' eligibility policies, by name (`[services.si-dep]`).
    #[serde(default)]
    pub services: BTreeMap<String, Policy>,
    /// API clients (`[[clients]]`).
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
    /// Connection and request limits of `serve` (`[server]`).
    #[serde(default)]
    pub server: ServerLimits,
    /// How long personal records are kept (`[retention]`).
    #[serde(default)]
    pub retention: Retention,
    /// Bounds of the scheduled sync (`[sync]`); `sync`'s flags override them.
    #[serde(default)]
    pub sync: SyncLimits,
    /// Webhooks told of sync runs (`[[alerts]]`).
    #[serde(default)]
    pub alerts: Vec<AlertConfig>,
}

/// A webhook told of sync runs: a JSON POST per run whose event it wants (see `crate::alerts`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// Where to POST: https, or http on this machine.
    pub url: String,
    /// `held`, `failed`, `promoted`, `quality` (default: held and failed).
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Sent as `Authorization: Bearer …` when given.
    #[serde(default)]
    pub bearer_token: Option<String>,
}

fn default_events() -> Vec<String> {
    vec!["held".into(), "failed".into()]
}

impl AlertConfig {
    /// The events an alert can ask for.
    pub const EVENTS: [&str; 4] = ["held", "failed", "promoted", "quality"];

    /// True when this webhook wants `event`.
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

/// Connection and request limits of the HTTP server. Every value has a default; see the README's "Limits and
/// protections".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerLimits {
    /// A request's head must arrive within this many seconds, counted from the connection's start or from the end of
    /// the previous response: it is also how long an idle keep-alive connection stays open.
    pub header_read_timeout_secs: u64,
    /// A request is answered within this many seconds, body included, or gets a 503 `timeout`.
    pub request_timeout_secs: u64,
    /// Largest request head (request line and headers), in bytes: past it, 431.
    pub max_header_bytes: usize,
    /// Open connections at most (kept below the process's file limit); past it a connection gets a 503 and is closed.
    pub max_connections: usize,
    /// Identity provider's requests (claims, batch, eligibility, resolve, records, services) in flight at most.
    pub claims_concurrency: usize,
    /// Analysts' requests (search, stats) in flight at most; `0` means the number of cores. Past it: 503 at once.
    pub analysts_concurrency: usize,
    /// Operators' requests (changes, metrics) in flight at most.
    pub admin_concurrency: usize,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            header_read_timeout_secs: 10,
            request_timeout_secs: 30,
            max_header_bytes: 64 * 1024,
            max_connections: 4096,
            claims_concurrency: 1024,
            analysts_concurrency: 0,
            admin_concurrency: 4,
        }
    }
}

/// Retention of personal records.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days of usage records (client, professional, day) kept; older days are purged by the nightly job and at
    /// start-up.
    pub usage_days: u32,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { usage_days: 365 }
    }
}

impl SyncLimits {
    /// Put the bounds given into a run's options (the others keep their defaults).
    pub fn apply(&self, opts: &mut annuaire_ingest::RunOptions) {
        if let Some(v) = self.max_line_bytes {
            opts.limits.max_line_bytes = v;
        }
        if let Some(v) = self.max_inflate_mib {
            opts.limits.max_member_bytes = v.saturating_mul(1 << 20);
        }
        if let Some(v) = self.max_inflate_ratio {
            opts.limits.max_inflate_ratio = v;
        }
        if let Some(v) = self.gate_floor {
            opts.gate_floor = v;
        }
        let g = &mut opts.segment_gate;
        g.min_persons = self.segment_min_persons.unwrap_or(g.min_persons);
        g.max_loss_rate = self.segment_max_loss_rate.unwrap_or(g.max_loss_rate);
        g.max_update_rate = self.segment_max_update_rate.unwrap_or(g.max_update_rate);
        g.floor = self.segment_floor.unwrap_or(g.floor);
        if let Some(v) = self.allow_http {
            opts.fetch.allow_http = v;
        }
    }
}

/// Bounds of a sync, for the scheduled one (the `sync` command has the same as flags).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncLimits {
    /// Longest line of an extract, in bytes.
    pub max_line_bytes: Option<usize>,
    /// Most bytes one archive member may inflate to, in MiB.
    pub max_inflate_mib: Option<u64>,
    /// Most an archive member may inflate relative to its compressed size.
    pub max_inflate_ratio: Option<u64>,
    /// Changes per id group that never hold a generation, whatever their share.
    pub gate_floor: Option<u64>,
    /// Departments and professions with fewer served persons are not judged by the gate by segment.
    pub segment_min_persons: Option<u64>,
    /// Hold when a department or a profession loses more than this % of its persons.
    pub segment_max_loss_rate: Option<f64>,
    /// Hold when more than this % of a department's or a profession's persons changed.
    pub segment_max_update_rate: Option<f64>,
    /// Persons lost or changed in one segment that never hold, whatever their share.
    pub segment_floor: Option<u64>,
    /// Download plain http:// URLs from hosts other than loopback.
    pub allow_http: Option<bool>,
}

impl Config {
    /// Read and check a config file.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let config: Config =
            toml::from_str(&text).with_context(|| format!("{}: invalid configuration", path.display()))?;
        if let Some(v) = config.version
            && v != 1
        {
            bail!("{}: version {v} is not supported (this annuaire reads version 1)", path.display());
        }
        let mut names = std::collections::HashSet::new();
        for c in &config.clients {
            if c.token_sha256.len() != 64 || !c.token_sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "{}: client {:?}: token_sha256 must be 64 hex digits (sha256 of the token)",
                    path.display(),
                    c.name
                );
            }
            if c.max_requests_per_second == Some(0) {
                bail!("{}: client {:?}: max_requests_per_second must be at least 1", path.display(), c.name);
            }
            if !names.insert(c.name.clone()) {
                bail!("{}: client {:?} is declared twice", path.display(), c.name);
            }
        }
        for a in &config.alerts {
            let url = reqwest::Url::parse(&a.url)
                .with_context(|| format!("{}: [[alerts]] url {:?} is not a URL", path.display(), a.url))?;
            if let Some(problem) = annuaire_ingest::fetch::url_problem(&url, false) {
                bail!("{}: [[alerts]] url {:?}: {problem}", path.display(), annuaire_store::redact(&a.url));
            }
            if let Some(e) = a.events.iter().find(|e| !AlertConfig::EVENTS.contains(&e.as_str())) {
                bail!("{}: [[alerts]] event {e:?}: known events are held, failed, promoted, quality", path.display());
            }
        }
        let l = &config.server;
        if l.header_read_timeout_secs == 0 || l.request_timeout_secs == 0 {
            bail!("{}: [server] timeouts must be at least 1 second", path.display());
        }
        if l.max_connections == 0 || l.claims_concurrency == 0 || l.admin_concurrency == 0 {
            bail!("{}: [server] max_connections and the concurrency budgets must be at least 1", path.display());
        }
        if l.max_header_bytes < 8192 {
            bail!("{}: [server] max_header_bytes must be at least 8192", path.display());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text)?;
        Config::load(&path)
    }

    #[test]
    fn alerts_go_to_https_or_loopback_with_known_events() {
        let c = load("[[alerts]]\nurl = \"https://hooks.example/a\"\n").expect("valid");
        assert_eq!(c.alerts[0].events, ["held", "failed"]);
        assert!(c.alerts[0].wants("held") && !c.alerts[0].wants("promoted"));
        assert!(load("[[alerts]]\nurl = \"http://127.0.0.1:9/a\"\nevents = [\"promoted\"]\n").is_ok());
        let e = load("[[alerts]]\nurl = \"http://hooks.example/a\"\n").expect_err("plain http");
        assert!(format!("{e:#}").contains("https only"), "{e:#}");
        let e = load("[[alerts]]\nurl = \"https://hooks.example/a\"\nevents = [\"hold\"]\n").expect_err("typo");
        assert!(format!("{e:#}").contains("\"hold\""), "{e:#}");
        assert!(load("[[alerts]]\nurl = \"not a url\"\n").is_err());
    }

    #[test]
    fn the_example_file_loads_with_its_limits() {
        let c = Config::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/annuaire.example.toml"))
            .expect("example");
        assert_eq!(c.server.request_timeout_secs, 30);
        assert_eq!(c.retention.usage_days, 365);
        assert!(!c.services.is_empty());
    }

    #[test]
    fn limits_outside_their_range_are_refused_with_the_key() {
        let e = load("[server]\nmax_header_bytes = 100\n").expect_err("too small");
        assert!(format!("{e:#}").contains("max_header_bytes"), "{e:#}");
        let e = load("[server]\nrequest_timeout_secs = 0\n").expect_err("zero");
        assert!(format!("{e:#}").contains("timeouts"), "{e:#}");
        let e = load("[server]\nmax_conections = 10\n").expect_err("typo");
        assert!(format!("{e:#}").contains("max_conections"), "{e:#}");
        let c = load("[server]\nanalysts_concurrency = 3\n[sync]\ngate_floor = 5\n").expect("valid");
        assert_eq!((c.server.analysts_concurrency, c.server.max_connections, c.sync.gate_floor), (3, 4096, Some(5)));
    }
}
