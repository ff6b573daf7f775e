//! `annuaire`: keeps the national directory of health professionals in sync and answers who a
//! professional is, in Pro Santé Connect's shape.
//!
//! Exit statuses: 0 success (promoted, unchanged); 1 failure or unknown id; 2 bad usage; 3 sync held by
//! the safety gate (nothing changed in what is served).

mod api;
mod config;
mod prepare;
mod progress;
mod record;
mod search;
mod serve;
mod snapshot;

use annuaire_claims::{Profile, user_info};
use annuaire_ingest::{RunOptions, run_once};
use annuaire_schemas::Person;
use annuaire_store::{RunStatus, Store};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The ingest allocates and frees millions of small strings: mimalloc is markedly faster at it than the
/// system allocator (profiled: malloc and free were a fifth of the national load's CPU).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status of a sync held by the safety gate.
const EXIT_HELD: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "annuaire",
    version,
    about = "Sync the Annuaire Santé extract and serve Pro Santé Connect claims from it"
)]
struct Cli {
    /// Data directory: the embedded SQLite store, search indexes and downloads. With `--database-url`, only
    /// what stays local to this process (search indexes, downloads).
    #[arg(long, global = true, env = "ANNUAIRE_DATA_DIR", default_value = "./annuaire-data")]
    data_dir: PathBuf,
    /// Keep the store in PostgreSQL (`postgres://USER[:PASSWORD]@HOST:PORT/DB`) instead of the embedded SQLite
    /// file; several servers may share it.
    #[arg(long, global = true, env = "ANNUAIRE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Configuration file (TOML): client services' policies, API clients, `ca_file`.
    #[arg(long, global = true, env = "ANNUAIRE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum SearchFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
enum ExportFormatArg {
    Parquet,
    Csv,
}

/// The filters shared by search, stats and export.
#[derive(Debug, Clone, clap::Args)]
struct Filters {
    /// Profession code.
    #[arg(long)]
    profession: Option<String>,
    /// Authority kind (ordre, ars, local, unknown) or name (CNOM, ONI, ARS ...).
    #[arg(long)]
    authority: Option<String>,
    /// Department code.
    #[arg(long)]
    department: Option<String>,
    /// INSEE commune code.
    #[arg(long)]
    commune: Option<String>,
    /// Savoir-faire code.
    #[arg(long)]
    savoir_faire: Option<String>,
    /// Only persons holding (true) or not holding (false) a CPS/CPF card valid on the day the generation was indexed.
    #[arg(long)]
    valid_card: Option<bool>,
    /// Only persons with (true) or without (false) an MSSanté mailbox.
    #[arg(long)]
    mailbox: Option<bool>,
}

impl Filters {
    fn request(self) -> annuaire_search::SearchRequest {
        annuaire_search::SearchRequest {
            profession: self.profession,
            authority: self.authority,
            department: self.department,
            commune: self.commune,
            savoir_faire: self.savoir_faire,
            valid_card: self.valid_card,
            mailbox: self.mailbox,
            ..Default::default()
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Ingest an extract and promote it as the served generation (or hold it when too much changes).
    Sync {
        /// The extract: an http(s) URL, a PS_LibreAcces zip, a folder with its .txt files, or one
        /// Personne_activite .txt. Default: the official ANS download address.
        #[arg(long, default_value = annuaire_ingest::fetch::OFFICIAL_URL)]
        source: String,
        /// Another extract read with the main one, recognised by name: Porteurs_CPS_CPF (cards) or
        /// Extraction_Correspondance_MSSante (mailboxes); an http(s) URL (downloaded with conditional GET, e.g.
        /// ANS's Porteurs_CPS_CPF address), a zip, a folder or a .txt file. Repeatable. A folder or
        /// zip given as --source may hold them too.
        #[arg(long = "with", value_name = "URL|PATH")]
        with: Vec<String>,
        /// Extra trusted root certificates (PEM), e.g. the IGC-Santé root the ANS host chains to.
        #[arg(long, env = "ANNUAIRE_CA_FILE")]
        ca_file: Option<PathBuf>,
        /// Download attempts after the first one (exponential backoff from 5 s).
        #[arg(long, default_value_t = 4)]
        retries: u32,
        /// Connect timeout, in seconds.
        #[arg(long, default_value_t = 20)]
        connect_timeout: u64,
        /// Longest silence while downloading, in seconds.
        #[arg(long, default_value_t = 120)]
        read_timeout: u64,
        /// Refuse a download larger than this many MiB.
        #[arg(long, default_value_t = 4096)]
        max_download_mib: u64,
        /// Fail when more than this percentage of lines is rejected.
        #[arg(long, default_value_t = 1.0)]
        max_error_rate: f64,
        /// Hold the generation when deletions pass this percentage of an id type's persons.
        #[arg(long, default_value_t = 1.0)]
        max_delete_rate: f64,
        /// Hold the generation when updates pass this percentage of an id type's persons.
        #[arg(long, default_value_t = 5.0)]
        max_update_rate: f64,
        /// Deletions or updates per id group that never hold the generation, whatever their share (default 20;
        /// config `[sync] gate_floor`).
        #[arg(long)]
        gate_floor: Option<u64>,
        /// Longest line of an extract in bytes (default 65536; config `[sync] max_line_bytes`): a longer line is a
        /// located row error, read in bounded memory.
        #[arg(long)]
        max_line_bytes: Option<usize>,
        /// Most MiB one archive member may inflate to (default 16384; config `[sync] max_inflate_mib`).
        #[arg(long)]
        max_inflate_mib: Option<u64>,
        /// Most an archive member may inflate relative to its compressed size (default 100; config
        /// `[sync] max_inflate_ratio`).
        #[arg(long)]
        max_inflate_ratio: Option<u64>,
        /// Download plain http:// URLs from hosts other than this machine (default: https only).
        #[arg(long)]
        allow_http: bool,
        /// Ingest even if the extract is byte-identical to the one served.
        #[arg(long)]
        force: bool,
        /// Output format of the summary.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run the long-lived process: the HTTP API (with --listen) and the sync on a cron schedule.
    Serve {
        /// Serve the HTTP API on this address (e.g. 127.0.0.1:8080; port 0 takes a free one, see --port-file).
        #[arg(long)]
        listen: Option<String>,
        /// Once listening, write the address bound (`127.0.0.1:PORT`) to this file: with `--listen HOST:0`, how a
        /// supervisor or a test learns the port.
        #[arg(long, requires = "listen")]
        port_file: Option<PathBuf>,
        /// Do not run the scheduled sync (an API-only server).
        #[arg(long)]
        no_sync: bool,
        /// Extract to sync: URL or path (default: the official ANS address).
        #[arg(long, default_value = annuaire_ingest::fetch::OFFICIAL_URL)]
        source: String,
        /// Another extract read with the main one at each sync (see `sync --with`). Repeatable.
        #[arg(long = "with", value_name = "URL|PATH")]
        with: Vec<String>,
        /// Cron expression with seconds: `sec min hour day month weekday`. Default: every night at 02:00.
        #[arg(long, default_value = "0 0 2 * * *")]
        schedule: String,
        /// Also run the sync at these times (cron, repeatable), e.g. soon after the card holders' extract is
        /// published: each extract is fetched with conditional GET, so only what changed is read again.
        #[arg(long = "also-at", value_name = "CRON")]
        also_at: Vec<String>,
        /// Time zone of the schedule.
        #[arg(long, default_value = "Europe/Paris")]
        timezone: String,
        /// Attempts after a failed nightly run.
        #[arg(long, default_value_t = 3)]
        retry_attempts: u32,
        /// Seconds before the first retry (doubled at each one).
        #[arg(long, default_value_t = 900)]
        retry_backoff: u64,
        /// Also sync once at start-up.
        #[arg(long)]
        run_now: bool,
        /// Extra trusted root certificates (PEM) for the download.
        #[arg(long, env = "ANNUAIRE_CA_FILE")]
        ca_file: Option<PathBuf>,
    },
    /// Print the PSC UserInfo claims of a professional (idNat, bare RPPS or bare ADELI).
    Claims {
        /// The identifier.
        id: String,
        /// Claim shape: psc-2021 or psc-2023.
        #[arg(long, default_value = "psc-2023")]
        profile: String,
    },
    /// Print the whole record of a professional as stored (JSON).
    Show {
        /// The identifier.
        id: String,
    },
    /// Decide whether a professional is eligible for a client service (policy from the config file).
    Eligible {
        /// The identifier.
        id: String,
        /// The service's name (`[services.NAME]` in the config file).
        #[arg(long)]
        service: String,
    },
    /// Usage indicators per client service, from the durable record of API calls.
    Usage {
        /// First day counted (YYYY-MM-DD); default: everything.
        #[arg(long)]
        since: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Search professionals by name (accents, case, prefixes and one typo forgiven) and filters.
    Search {
        /// Words of the names to look for.
        text: Vec<String>,
        #[command(flatten)]
        filters: Filters,
        /// Hits per page (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Hits skipped.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
        format: SearchFormat,
    },
    /// Count distinct professionals per group (comma-separated: profession, authority, authority_kind,
    /// department, savoir_faire, mode, sector), with the search filters.
    Stats {
        /// Group columns, e.g. `profession,authority_kind`.
        #[arg(long, default_value = "profession")]
        by: String,
        #[command(flatten)]
        filters: Filters,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
        format: SearchFormat,
    },
    /// Write the served generation's flattened rows (person x exercice x activity, codes and labels).
    Export {
        /// parquet or csv.
        #[arg(long, value_enum)]
        format: ExportFormatArg,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        filters: Filters,
    },
    /// List the ingest runs, oldest first.
    Runs {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Promote a generation held by the safety gate, optionally without one or more kinds of change.
    Approve {
        /// The held generation (see `annuaire runs`).
        generation: i64,
        /// Leave out these changes: `delete` keeps the removed persons served, `update` keeps old records,
        /// `create` leaves new persons out. Repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
    },
    /// List the changes made by promoted generations after GEN (stable order: generation, idNat).
    Changes {
        /// Generation to start after (0 for everything).
        #[arg(long)]
        since: i64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Logs to stderr: colours only on a terminal; `ANNUAIRE_LOG_FORMAT=json` gives one JSON object per line.
fn init_logs() {
    use std::io::IsTerminal;
    let filter = || tracing_subscriber::EnvFilter::try_from_env("ANNUAIRE_LOG").unwrap_or_else(|_| "warn".into());
    if std::env::var("ANNUAIRE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt().json().with_env_filter(filter()).with_writer(std::io::stderr).init();
    } else {
        tracing_subscriber::fmt()
            .with_ansi(std::io::stderr().is_terminal())
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    }
}

/// The data directory 0700 and the SQLite files 0600, whatever they were created with: the store holds usage records
/// and, with the restricted extract, birth dates, phones and e-mail addresses. Every file this process creates is
/// 0600 already (umask 077, set first thing in `main`).
fn secure_data_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private (0700)", dir.display()))?;
    for name in ["annuaire.db", "annuaire.db-wal", "annuaire.db-shm"] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private (0600)", path.display()))?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // Private files whatever the umask: the store, downloads, snapshots, indexes and exports hold personal data.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    init_logs();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS // `annuaire search ... | head`: the reader left, nothing to report
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let config = match &cli.config {
        Some(path) => config::Config::load(path)?,
        None => config::Config::default(),
    };
    secure_data_dir(&cli.data_dir)?;
    let store =
        Store::connect(&cli.data_dir, cli.database_url.as_deref()).await.with_context(|| match &cli.database_url {
            Some(url) => format!("cannot open the store in {}", annuaire_store::redact(url)),
            None => format!("cannot open the store in {}", cli.data_dir.display()),
        })?;
    match cli.command {
        Command::Sync {
            source,
            with,
            ca_file,
            retries,
            connect_timeout,
            read_timeout,
            max_download_mib,
            max_error_rate,
            max_delete_rate,
            max_update_rate,
            gate_floor,
            max_line_bytes,
            max_inflate_mib,
            max_inflate_ratio,
            allow_http,
            force,
            format,
        } => {
            let mut opts = RunOptions::new(&source);
            opts.with = with.iter().map(|w| annuaire_ingest::run::Origin::parse(w)).collect();
            opts.fetch = annuaire_ingest::fetch::FetchOptions {
                ca_file: ca_file.or(config.ca_file.clone()),
                retries,
                connect_timeout: std::time::Duration::from_secs(connect_timeout),
                read_timeout: std::time::Duration::from_secs(read_timeout),
                max_bytes: max_download_mib << 20,
                ..Default::default()
            };
            let limits = config::SyncLimits {
                max_line_bytes: max_line_bytes.or(config.sync.max_line_bytes),
                max_inflate_mib: max_inflate_mib.or(config.sync.max_inflate_mib),
                max_inflate_ratio: max_inflate_ratio.or(config.sync.max_inflate_ratio),
                gate_floor: gate_floor.or(config.sync.gate_floor),
                allow_http: Some(allow_http || config.sync.allow_http.unwrap_or(false)),
            };
            limits.apply(&mut opts);
            opts.max_error_rate = max_error_rate;
            opts.max_delete_rate = max_delete_rate;
            opts.max_update_rate = max_update_rate;
            opts.force = force;
            let bars = progress::Bars::new();
            opts.progress = bars.callback();
            let outcome = run_once(&store, &opts).await;
            bars.finish();
            let outcome =
                outcome.with_context(|| format!("sync of {source} failed; the served generation is unchanged"))?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&outcome)?),
                Format::Table => print_outcome(&outcome),
            }
            Ok(if outcome.status == RunStatus::Held { ExitCode::from(EXIT_HELD) } else { ExitCode::SUCCESS })
        }
        Command::Serve {
            listen,
            port_file,
            no_sync,
            source,
            with,
            schedule,
            also_at,
            timezone,
            retry_attempts,
            retry_backoff,
            run_now,
            ca_file,
        } => {
            let timezone: chrono_tz::Tz =
                timezone.parse().map_err(|e| anyhow::anyhow!("unknown time zone {timezone:?}: {e}"))?;
            let mut opts = RunOptions::new(&source);
            opts.with = with.iter().map(|w| annuaire_ingest::run::Origin::parse(w)).collect();
            opts.fetch.ca_file = ca_file.or(config.ca_file.clone());
            config.sync.apply(&mut opts);
            let cfg = serve::ScheduleConfig {
                schedule,
                also_at,
                timezone,
                retry_attempts,
                retry_backoff: std::time::Duration::from_secs(retry_backoff),
                usage_days: config.retention.usage_days,
            };
            let listener = match &listen {
                Some(addr) => Some(
                    tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?,
                ),
                None => None,
            };
            if let (Some(path), Some(l)) = (&port_file, &listener) {
                // Written aside and renamed: a reader never sees half an address.
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, l.local_addr()?.to_string())
                    .and_then(|()| std::fs::rename(&tmp, path))
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            serve::serve(store, opts, cfg, run_now, !no_sync, listener, std::sync::Arc::new(config)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Claims { id, profile } => {
            let profile = Profile::parse_named(&profile).map_err(|e| anyhow::anyhow!(e))?;
            let Some((person, _)) = lookup(&store, &id).await? else {
                eprintln!("error: no professional {id} in the served generation");
                return Ok(ExitCode::FAILURE);
            };
            println!("{}", serde_json::to_string_pretty(&user_info(&person, profile))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { id } => {
            let Some((person, generation)) = lookup(&store, &id).await? else {
                eprintln!("error: no professional {id} in the served generation");
                return Ok(ExitCode::FAILURE);
            };
            let v = record::native(&store, &person, generation).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Eligible { id, service } => {
            let Some(policy) = config.services.get(&service) else {
                let known: Vec<&String> = config.services.keys().collect();
                bail!("no policy for service {service:?} in the config file (known: {known:?})");
            };
            let Some((person, generation)) = lookup(&store, &id).await? else {
                eprintln!("error: no professional {id} in the served generation");
                return Ok(ExitCode::FAILURE);
            };
            let body = record::eligibility_body(&policy.decide(&person), generation, &person, &service);
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Usage { since, format } => {
            let since = since.unwrap_or_else(|| "0000-00-00".to_string());
            let report = store.usage_since(&since).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
                Format::Table => {
                    println!(
                        "{:<20} {:>10} {:>14} {:>10} {:>10}",
                        "client", "calls", "professionals", "eligible", "refused"
                    );
                    for r in report {
                        println!(
                            "{:<20} {:>10} {:>14} {:>10} {:>10}",
                            r.client, r.calls, r.distinct_professionals, r.eligible, r.refused
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { text, filters, limit, offset, format } => {
            let req = annuaire_search::SearchRequest {
                text: (!text.is_empty()).then(|| text.join(" ")),
                limit,
                offset,
                ..filters.request()
            };
            if let Err(e) = req.validate() {
                eprintln!("error: {e}");
                return Ok(ExitCode::from(2));
            }
            let (generation, index) = search::served_index(&store).await?;
            let r = index.search(&req)?;
            match format {
                SearchFormat::Json => {
                    let mut v = serde_json::to_value(&r)?;
                    v["generation"] = generation.into();
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                SearchFormat::Csv => {
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "idnat,family_name,given_name,professions,authorities,place")?;
                    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                    for h in &r.hits {
                        writeln!(
                            out,
                            "{},{},{},{},{},{}",
                            h.idnat,
                            q(&h.family_name),
                            q(&h.given_name),
                            q(&h.professions.join(" ")),
                            q(&h.authorities.join(" ")),
                            q(&h.place)
                        )?;
                    }
                }
                SearchFormat::Table => {
                    let mut out = std::io::stdout().lock();
                    writeln!(
                        out,
                        "{} professionals (generation {generation}); showing {} from {}",
                        r.total,
                        r.hits.len(),
                        req.offset
                    )?;
                    for h in &r.hits {
                        writeln!(
                            out,
                            "{:<13} {:<28} {:<20} {:<8} {:<10} {}",
                            h.idnat,
                            h.family_name,
                            h.given_name,
                            h.professions.join(","),
                            h.authorities.join(","),
                            h.place
                        )?;
                    }
                    for (facet, counts) in &r.facets {
                        let mut top: Vec<(&String, &u64)> = counts.iter().collect();
                        top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                        let shown: Vec<String> = top.iter().take(8).map(|(k, v)| format!("{k}: {v}")).collect();
                        writeln!(out, "  {facet}: {}", shown.join(", "))?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats { by, filters, format } => {
            let (generation, groups) = search::stats(&store, &by, filters.request(), ()).await?;
            match format {
                SearchFormat::Json => println!("{}", serde_json::to_string_pretty(&groups)?),
                SearchFormat::Csv | SearchFormat::Table => {
                    let keys: Vec<String> =
                        by.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                    let sep = if format == SearchFormat::Csv { "," } else { "\t" };
                    let mut out = std::io::stdout().lock();
                    if format == SearchFormat::Table {
                        writeln!(out, "generation {generation}")?;
                    }
                    writeln!(out, "{}{sep}persons", keys.join(sep))?;
                    for g in &groups {
                        let vals: Vec<String> = keys.iter().map(|k| g[k].as_str().unwrap_or("").to_string()).collect();
                        writeln!(out, "{}{sep}{}", vals.join(sep), g["persons"])?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { format, out, filters } => {
            let mut table = annuaire_search::analytics::ExportTable::new(filters.request());
            let generation = search::for_each_served_person(&store, |p| table.push(p)).await?;
            let f = match format {
                ExportFormatArg::Parquet => annuaire_search::analytics::ExportFormat::Parquet,
                ExportFormatArg::Csv => annuaire_search::analytics::ExportFormat::Csv,
            };
            let rows = table.write(&out, f)?;
            eprintln!("wrote {rows} rows of generation {generation} to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Runs { format } => {
            let runs = store.runs().await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&runs)?),
                Format::Table => {
                    let mut out = std::io::stdout().lock();
                    writeln!(
                        out,
                        "{:>4} {:>4} {:<9} {:<24} {:>8} {:>8} {:>8} {:>8}  source / reason",
                        "run", "gen", "status", "started", "persons", "created", "updated", "deleted"
                    )?;
                    for r in runs {
                        let n = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
                        writeln!(
                            out,
                            "{:>4} {:>4} {:<9} {:<24} {:>8} {:>8} {:>8} {:>8}  {}{}",
                            r.run,
                            n(r.generation),
                            r.status.as_str(),
                            r.started_at,
                            n(r.persons),
                            n(r.created),
                            n(r.updated),
                            n(r.deleted),
                            r.source,
                            r.reason.map(|x| format!(" — {x}")).unwrap_or_default()
                        )?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Approve { generation, exclude } => {
            let mut kinds = Vec::new();
            for e in &exclude {
                match annuaire_store::ChangeKind::parse(e) {
                    Some(k) => kinds.push(k),
                    None => bail!("--exclude takes delete, update or create, not {e:?}"),
                }
            }
            let lock = store.lock_sync(&format!("approve {generation}")).await?;
            let result = store.approve(generation, &kinds).await;
            if result.is_ok()
                && let Err(e) = annuaire_ingest::index::build_index(&store, generation).await
            {
                eprintln!(
                    "warning: the search index of generation {generation} could not be built ({e}); searches will build it"
                );
            }
            lock.release().await?;
            let kept = result?;
            let n = |k| kept.get(&k).copied().unwrap_or(0);
            use annuaire_store::ChangeKind::{Create, Delete, Update};
            println!(
                "promoted generation {generation}: {} created, {} updated, {} deleted{}",
                n(Create),
                n(Update),
                n(Delete),
                if exclude.is_empty() { String::new() } else { format!(" (left out: {})", exclude.join(", ")) }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Changes { since, format } => {
            let changes = store.changes_since(since).await?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&changes)?),
                Format::Table => {
                    let mut out = std::io::stdout().lock();
                    for c in changes {
                        writeln!(out, "{:>4} {:<7} {}", c.generation, c.change.as_str(), c.id)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Find a professional in the served generation by idNat, bare RPPS or bare ADELI.
async fn lookup(store: &Store, id: &str) -> Result<Option<(Person, i64)>> {
    let Some(served) = store.served().await? else {
        bail!("nothing is served yet: run `annuaire sync --source ...` first");
    };
    Ok(record::lookup(store, id, served.generation).await?.map(|p| (p, served.generation)))
}

fn print_outcome(o: &annuaire_ingest::RunOutcome) {
    let status = match o.status {
        RunStatus::Promoted => format!("promoted generation {}", o.generation.unwrap_or_default()),
        RunStatus::Held => {
            format!("HELD generation {} (not served; `annuaire runs` says why)", o.generation.unwrap_or_default())
        }
        RunStatus::Unchanged => "unchanged: this extract is already served".to_string(),
        other => other.as_str().to_string(),
    };
    println!("run {}: {status}", o.run);
    println!("  served generation: {}", o.served.map_or("none".into(), |g| g.to_string()));
    println!("  sha256: {}", o.sha256);
    for f in &o.report.files {
        println!(
            "  {}: {} columns, {} lines, {} rejected{}{}",
            f.name,
            f.columns,
            f.rows,
            f.rejected,
            if f.latin1_lines > 0 {
                format!(
                    ", {} lines not UTF-8 (read as Windows-1252, first at line {})",
                    f.latin1_lines,
                    f.first_latin1_line.unwrap_or(0)
                )
            } else {
                String::new()
            },
            if f.bom { ", UTF-8 BOM" } else { "" }
        );
    }
    if o.status != RunStatus::Unchanged {
        let t = o.diff.total();
        println!("  persons: {} (exact duplicate lines dropped: {})", o.report.persons, o.report.group.duplicate_rows);
        println!(
            "  changes: {} created, {} updated, {} deleted, {} unchanged, {} kept as served after a rejected line",
            t.created, t.updated, t.deleted, t.unchanged, t.kept_on_error
        );
        for (group, g) in &o.diff.groups {
            println!("    {group}: reference {}, +{} ~{} -{}", g.reference, g.created, g.updated, g.deleted);
        }
    }
    for e in o.report.group.first_errors.iter().take(10) {
        println!("  rejected: {e}");
    }
    if !o.report.group.warnings_by_kind.is_empty() {
        let w: Vec<String> = o.report.group.warnings_by_kind.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("  warnings: {}", w.join(", "));
    }
    for (kind, codes) in &o.report.group.unknown_codes {
        let c: Vec<String> = codes.iter().take(10).map(|(k, v)| format!("{k} ({v})")).collect();
        println!("  unknown {kind} codes (kept as given): {}", c.join(", "));
    }
    if let Some(r) = &o.reason {
        println!("  {r}");
    }
}
