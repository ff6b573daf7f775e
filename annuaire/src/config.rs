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
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("name", &self.name)
            .field("token_sha256", &"<redacted>")
            .field("scopes", &self.scopes)
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
            if !names.insert(c.name.clone()) {
                bail!("{}: client {:?} is declared twice", path.display(), c.name);
            }
        }
        Ok(config)
    }
}
