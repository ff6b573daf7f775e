//! Downloading an extract over HTTP(S), the way a nightly job must: bounded in time and size, resumable,
//! and polite (conditional GET, so an unchanged extract is neither fetched nor ingested again).
//!
//! - `ETag` / `Last-Modified` of the last *ingested* extract are sent back (`If-None-Match`,
//!   `If-Modified-Since`); **304** and **503** (ANS's « no new file available ») mean "no new extract",
//!   a normal outcome.
//! - The body streams to `DIR/<name>.part` while its sha256 is computed; a broken transfer is resumed with
//!   `Range` (+ `If-Range`), a server that ignores the range restarts it from zero.
//! - Connect and read timeouts, a maximum size, retries with exponential backoff for network errors and
//!   5xx answers other than 503.
//! - The file name comes from `Content-Disposition` (`PS_LibreAcces_202611280900.zip`), else the URL.
//! - An extra CA bundle can be trusted: the ANS host chains to the IGC-Santé root that public stores lack.

use crate::ProgressFn;
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The official PS_LibreAcces download address (extract-format.md §1.1).
pub const OFFICIAL_URL: &str =
    "https://service.annuaire.sante.fr/annuaire-sante-webservices/V300/services/extraction/PS_LibreAcces";
/// The official Porteurs_CPS_CPF (card holders) download address (extract-format.md §1.1).
pub const CARDS_URL: &str =
    "https://service.annuaire.sante.fr/annuaire-sante-webservices/V300/services/extraction/Porteurs_CPS_CPF";
/// The official MSSanté mailboxes download address (extract-format.md §1.1).
pub const MSSANTE_URL: &str = "https://service.annuaire.sante.fr/annuaire-sante-webservices/V300/services/extraction/Extraction_Correspondance_MSSante";

/// How to download.
#[derive(Clone)]
pub struct FetchOptions {
    /// PEM bundle of extra trusted roots.
    pub ca_file: Option<PathBuf>,
    /// TCP + TLS connect timeout.
    pub connect_timeout: Duration,
    /// Longest silence while reading the body.
    pub read_timeout: Duration,
    /// Attempts after the first one.
    pub retries: u32,
    /// First backoff; doubled at each retry.
    pub backoff: Duration,
    /// Refuse bodies larger than this.
    pub max_bytes: u64,
    /// Download plain `http://` from hosts other than loopback (off: https only).
    pub allow_http: bool,
    /// Redirects followed at most (never from https to http).
    pub max_redirects: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            ca_file: None,
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(120),
            retries: 4,
            backoff: Duration::from_secs(5),
            max_bytes: 4 << 30,
            allow_http: false,
            max_redirects: 5,
        }
    }
}

/// Validators to send (from the last ingested extract of this URL).
#[derive(Debug, Clone, Default)]
pub struct Validators {
    /// Last `ETag`.
    pub etag: Option<String>,
    /// Last `Last-Modified`.
    pub last_modified: Option<String>,
}

/// What a fetch gave.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// Nothing new: 304, or 503 « no new file ».
    NoNewExtract {
        /// The status.
        status: u16,
    },
    /// A complete file.
    File {
        /// Where it is.
        path: PathBuf,
        /// Its name.
        file_name: String,
        /// sha256 of its bytes.
        sha256: String,
        /// Its size.
        bytes: u64,
        /// `ETag` of the response.
        etag: Option<String>,
        /// `Last-Modified` of the response.
        last_modified: Option<String>,
    },
}

fn http_err(url: &str, message: impl Into<String>) -> Error {
    Error::Download { url: url.to_string(), message: message.into() }
}

/// Whether a URL names this machine (`localhost`, `127.0.0.0/8`, `::1`): plain http is allowed there.
fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Why a URL may not be downloaded from, or `None`: https, or http on loopback (or anywhere with `allow_http`).
pub fn url_problem(url: &reqwest::Url, allow_http: bool) -> Option<String> {
    match url.scheme() {
        "https" => None,
        "http" if allow_http || is_loopback(url) => None,
        "http" => Some(
            "plain http to a host other than this machine is refused (https only; --allow-http to allow it)".into(),
        ),
        other => Some(format!("the {other:?} scheme is not downloaded (https only)")),
    }
}

/// Build the HTTP client: redirects bounded, never from https to http, never to a refused URL.
pub fn client(opts: &FetchOptions) -> Result<reqwest::Client> {
    let (max, allow_http) = (opts.max_redirects, opts.allow_http);
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            return attempt.error(format!("more than {max} redirects"));
        }
        let from_https = attempt.previous().last().is_some_and(|u| u.scheme() == "https");
        if from_https && attempt.url().scheme() != "https" {
            return attempt.error("a redirect from https to another scheme is refused".to_string());
        }
        if let Some(problem) = url_problem(attempt.url(), allow_http) {
            let message = format!("redirect to {}: {problem}", attempt.url());
            return attempt.error(message);
        }
        attempt.follow()
    });
    let mut b = reqwest::Client::builder()
        .redirect(policy)
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.read_timeout)
        .user_agent(concat!("annuaire/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &opts.ca_file {
        let pem = std::fs::read(ca).map_err(|e| Error::io(ca, e))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::Source { path: ca.clone(), message: format!("not a PEM certificate bundle: {e}") })?;
        b = b.tls_certs_merge(certs);
    }
    b.build().map_err(|e| http_err("(client)", format!("cannot build the HTTP client: {e}")))
}

/// The file name in a `Content-Disposition` header (`attachment; filename=PS_LibreAcces_201808011050.zip`).
///
/// ```
/// use annuaire_ingest::fetch::disposition_file_name;
/// assert_eq!(disposition_file_name("attachment; filename=PS_LibreAcces_201808011050.zip").as_deref(), Some("PS_LibreAcces_201808011050.zip"));
/// assert_eq!(disposition_file_name("attachment; filename=\"a b.zip\"").as_deref(), Some("a b.zip"));
/// assert_eq!(disposition_file_name("attachment; filename=../../etc/passwd").as_deref(), Some("passwd"));
/// assert_eq!(disposition_file_name("inline"), None);
/// ```
pub fn disposition_file_name(value: &str) -> Option<String> {
    let part = value.split(';').map(str::trim).find(|p| p.to_ascii_lowercase().starts_with("filename="))?;
    let name = part["filename=".len()..].trim().trim_matches('"');
    let base = name.rsplit(['/', '\\']).next()?.trim();
    (!base.is_empty() && base != "." && base != "..").then(|| base.to_string())
}

fn url_file_name(url: &str) -> String {
    let last = url.split(['?', '#']).next().unwrap_or(url).rsplit('/').find(|s| !s.is_empty()).unwrap_or("extract");
    let base: String = last.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).collect();
    if base.contains('.') { base } else { format!("{base}.zip") }
}

fn header(resp: &reqwest::Response, name: reqwest::header::HeaderName) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

type ResponseMeta = (String, Option<String>, Option<String>, Option<u64>);

/// Fetch `url` into `dir`. Returns [`Fetched::NoNewExtract`] on 304 or 503.
pub async fn fetch(
    url: &str,
    dir: &Path,
    validators: &Validators,
    opts: &FetchOptions,
    progress: Option<&ProgressFn>,
) -> Result<Fetched> {
    let parsed = reqwest::Url::parse(url).map_err(|e| http_err(url, format!("not a URL: {e}")))?;
    if let Some(problem) = url_problem(&parsed, opts.allow_http) {
        return Err(http_err(url, problem));
    }
    tokio::fs::create_dir_all(dir).await.map_err(|e| Error::io(dir, e))?;
    let client = client(opts)?;
    let part = dir.join(format!("{}.part", url_file_name(url)));
    // A `.part` left by an earlier, interrupted process is not trusted: start clean.
    let _ = tokio::fs::remove_file(&part).await;
    let mut written: u64 = 0;
    let mut hasher = Sha256::new();
    let mut resume_etag: Option<String> = None;
    let mut last_error = String::new();
    // (file name, ETag, Last-Modified, Content-Length) of the full response being downloaded.
    let mut meta: Option<ResponseMeta> = None;

    for attempt in 0..=opts.retries {
        if attempt > 0 {
            let wait = opts.backoff * 2u32.saturating_pow(attempt - 1);
            tracing::warn!(%url, attempt, ?wait, error = %last_error, "download failed, retrying");
            tokio::time::sleep(wait).await;
        }
        let mut req = client.get(url);
        if written == 0 {
            if let Some(e) = &validators.etag {
                req = req.header(reqwest::header::IF_NONE_MATCH, e);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(reqwest::header::IF_MODIFIED_SINCE, lm);
            }
        } else {
            req = req.header(reqwest::header::RANGE, format!("bytes={written}-"));
            if let Some(e) = &resume_etag {
                req = req.header(reqwest::header::IF_RANGE, e);
            }
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_redirect() => {
                return Err(http_err(url, format!("refused: {}", error_chain(&e))));
            }
            Err(e) => {
                last_error = format!("request failed: {}", error_chain(&e));
                continue;
            }
        };
        let status = resp.status().as_u16();
        match status {
            304 | 503 if written == 0 => return Ok(Fetched::NoNewExtract { status }),
            200 | 206 => {}
            s if s >= 500 => {
                last_error = format!("HTTP {s}");
                continue;
            }
            s => return Err(http_err(url, format!("HTTP {s}"))),
        }
        let mut file = if status == 206 && written > 0 {
            tokio::fs::OpenOptions::new().append(true).open(&part).await.map_err(|e| Error::io(&part, e))?
        } else {
            // A full body (first attempt, or a server that ignored the range): start over.
            written = 0;
            hasher = Sha256::new();
            let name = header(&resp, reqwest::header::CONTENT_DISPOSITION)
                .and_then(|d| disposition_file_name(&d))
                .unwrap_or_else(|| url_file_name(url));
            let etag = header(&resp, reqwest::header::ETAG);
            let total = resp.content_length();
            meta = Some((name, etag.clone(), header(&resp, reqwest::header::LAST_MODIFIED), total));
            resume_etag = etag;
            tokio::fs::File::create(&part).await.map_err(|e| Error::io(&part, e))?
        };
        let total = meta.as_ref().and_then(|m| m.3);
        if total.is_some_and(|t| t > opts.max_bytes) {
            return Err(http_err(url, format!("the extract is larger than the {} bytes allowed", opts.max_bytes)));
        }
        let body = loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    written += chunk.len() as u64;
                    if written > opts.max_bytes {
                        break Err(http_err(
                            url,
                            format!("the extract is larger than the {} bytes allowed", opts.max_bytes),
                        ));
                    }
                    hasher.update(&chunk);
                    if let Err(e) = file.write_all(&chunk).await {
                        break Err(Error::io(&part, e));
                    }
                    if let Some(p) = progress {
                        p("download", written, total.unwrap_or(0));
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(http_err(url, format!("transfer broken after {written} bytes: {e}"))),
            }
        };
        file.flush().await.map_err(|e| Error::io(&part, e))?;
        match body {
            Err(e @ Error::Download { .. }) if !e.to_string().contains("larger than") => {
                last_error = e.to_string();
                continue;
            }
            Err(e) => return Err(e),
            Ok(()) => {}
        }
        if let Some(t) = total
            && written < t
        {
            last_error = format!("transfer ended after {written} of {t} bytes");
            continue;
        }
        let (file_name, etag, last_modified, _) = meta.clone().unwrap_or((url_file_name(url), None, None, None));
        let path = dir.join(&file_name);
        tokio::fs::rename(&part, &path).await.map_err(|e| Error::io(&path, e))?;
        let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        return Ok(Fetched::File { path, file_name, sha256, bytes: written, etag, last_modified });
    }
    let _ = tokio::fs::remove_file(&part).await;
    Err(http_err(url, format!("gave up after {} attempts: {last_error}", opts.retries + 1)))
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
