//! The command line: clap's definitions of every command, its flags and their defaults (the README's tables).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "annuaire",
    version,
    about = "Sync the Annuaire Santé extract and serve Pro Santé Connect claims from it"
)]
pub(crate) struct Cli {
    /// Data directory: the embedded SQLite store, search indexes and downloads. With `--database-url`, only
    /// what stays local to this process (search indexes, downloads).
    #[arg(long, global = true, env = "ANNUAIRE_DATA_DIR", default_value = "./annuaire-data")]
    pub(crate) data_dir: PathBuf,
    /// Keep the store in PostgreSQL (`postgres://USER[:PASSWORD]@HOST:PORT/DB`) instead of the embedded SQLite
    /// file; several servers may share it.
    #[arg(long, global = true, env = "ANNUAIRE_DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Configuration file (TOML): client services' policies, API clients, `ca_file`.
    #[arg(long, global = true, env = "ANNUAIRE_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum SearchFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub(crate) enum ExportFormatArg {
    Parquet,
    Csv,
    /// FHIR resources, one ndjson file per type in the folder `--out` (as `GET /fhir/$export`).
    FhirNdjson,
}

/// The filters shared by search, stats and export.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Filters {
    /// Profession code.
    #[arg(long)]
    pub(crate) profession: Option<String>,
    /// Authority kind (ordre, ars, local, unknown) or name (CNOM, ONI, ARS ...).
    #[arg(long)]
    pub(crate) authority: Option<String>,
    /// Department code.
    #[arg(long)]
    pub(crate) department: Option<String>,
    /// INSEE commune code.
    #[arg(long)]
    pub(crate) commune: Option<String>,
    /// Savoir-faire code.
    #[arg(long)]
    pub(crate) savoir_faire: Option<String>,
    /// Only persons holding (true) or not holding (false) a CPS/CPF card valid on the day the generation was indexed.
    #[arg(long)]
    pub(crate) valid_card: Option<bool>,
    /// Only persons with (true) or without (false) an MSSanté mailbox.
    #[arg(long)]
    pub(crate) mailbox: Option<bool>,
}

impl Filters {
    pub(crate) fn request(self) -> annuaire_search::SearchRequest {
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
pub(crate) enum Command {
    /// Ingest an extract and promote it as the served generation (or hold it when too much changes).
    Sync(SyncArgs),
    /// Run the long-lived process: the HTTP API (with --listen) and the sync on a cron schedule.
    Serve(ServeArgs),
    /// Print the PSC UserInfo claims of a professional (idNat, bare RPPS or bare ADELI).
    Claims(ClaimsArgs),
    /// Print the whole record of a professional as stored (JSON).
    Show(ShowArgs),
    /// Decide whether a professional is eligible for a client service (policy from the config file).
    Eligible(EligibleArgs),
    /// Usage indicators per client service, from the durable record of API calls.
    Usage(UsageArgs),
    /// Search professionals by name (accents, case, prefixes and one typo forgiven) and filters.
    Search(SearchArgs),
    /// Count distinct professionals per group (comma-separated: profession, authority, authority_kind,
    /// department, savoir_faire, mode, sector), with the search filters.
    Stats(StatsArgs),
    /// Write the served generation's flattened rows (person x exercice x activity, codes and labels).
    Export(ExportArgs),
    /// List the ingest runs, oldest first.
    Runs(RunsArgs),
    /// The quality report of a generation (default: the newest): mis-encoded text, unknown codes, shared SIRETs and
    /// FINESS, persons without activity, row errors, what moved most, warnings.
    Quality(QualityArgs),
    /// Promote a generation held by the safety gate, optionally without one or more kinds of change.
    Approve(ApproveArgs),
    /// List the changes made by promoted generations after GEN (stable order: generation, idNat).
    Changes(ChangesArgs),
    /// Rewrite the records an older binary stored as text (before encoding 2) packed, about ten times smaller; hashes
    /// and answers do not change, and a server may serve meanwhile. Takes the sync lock.
    Repack(RepackArgs),
}

/// The arguments of `annuaire sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct SyncArgs {
    /// The extract: an http(s) URL, a PS_LibreAcces zip, a folder with its .txt files, one
    /// Personne_activite .txt, or `datagouv[:DATASET_ID]` (the newest files ANS publishes on data.gouv.fr). Default:
    /// the official ANS download address.
    #[arg(long, default_value = annuaire_ingest::fetch::OFFICIAL_URL)]
    pub(crate) source: String,
    /// data.gouv.fr's API, for `--source datagouv`.
    #[arg(long, env = "ANNUAIRE_DATAGOUV_API", default_value = annuaire_ingest::datagouv::DEFAULT_API)]
    pub(crate) datagouv_api: String,
    /// Another extract read with the main one, recognised by name: Porteurs_CPS_CPF (cards) or
    /// Extraction_Correspondance_MSSante (mailboxes); an http(s) URL (downloaded with conditional GET, e.g.
    /// ANS's Porteurs_CPS_CPF address), a zip, a folder or a .txt file. Repeatable. A folder or
    /// zip given as --source may hold them too.
    #[arg(long = "with", value_name = "URL|PATH")]
    pub(crate) with: Vec<String>,
    /// Extra trusted root certificates (PEM), e.g. the IGC-Santé root the ANS host chains to.
    #[arg(long, env = "ANNUAIRE_CA_FILE")]
    pub(crate) ca_file: Option<PathBuf>,
    /// Download attempts after the first one (exponential backoff from 5 s).
    #[arg(long, default_value_t = 4)]
    pub(crate) retries: u32,
    /// Connect timeout, in seconds.
    #[arg(long, default_value_t = 20)]
    pub(crate) connect_timeout: u64,
    /// Longest silence while downloading, in seconds.
    #[arg(long, default_value_t = 120)]
    pub(crate) read_timeout: u64,
    /// Refuse a download larger than this many MiB.
    #[arg(long, default_value_t = 4096)]
    pub(crate) max_download_mib: u64,
    /// Fail when more than this percentage of lines is rejected.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) max_error_rate: f64,
    /// Hold the generation when deletions pass this percentage of an id type's persons.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) max_delete_rate: f64,
    /// Hold the generation when updates pass this percentage of an id type's persons.
    #[arg(long, default_value_t = 5.0)]
    pub(crate) max_update_rate: f64,
    /// Deletions or updates per id group that never hold the generation, whatever their share (default 20;
    /// config `[sync] gate_floor`).
    #[arg(long)]
    pub(crate) gate_floor: Option<u64>,
    /// Departments and professions with fewer served persons are not judged by the gate by segment (default 200;
    /// config `[sync] segment_min_persons`).
    #[arg(long)]
    pub(crate) segment_min_persons: Option<u64>,
    /// Hold when a department or a profession loses more than this % of its persons (default 5; config
    /// `[sync] segment_max_loss_rate`).
    #[arg(long)]
    pub(crate) segment_max_loss_rate: Option<f64>,
    /// Hold when more than this % of a department's or a profession's persons changed (default 25; config
    /// `[sync] segment_max_update_rate`).
    #[arg(long)]
    pub(crate) segment_max_update_rate: Option<f64>,
    /// Persons lost or changed in one segment that never hold, whatever their share (default 20; config
    /// `[sync] segment_floor`).
    #[arg(long)]
    pub(crate) segment_floor: Option<u64>,
    /// Longest line of an extract in bytes (default 65536; config `[sync] max_line_bytes`): a longer line is a
    /// located row error, read in bounded memory.
    #[arg(long)]
    pub(crate) max_line_bytes: Option<usize>,
    /// Most MiB one archive member may inflate to (default 16384; config `[sync] max_inflate_mib`).
    #[arg(long)]
    pub(crate) max_inflate_mib: Option<u64>,
    /// Most an archive member may inflate relative to its compressed size (default 100; config
    /// `[sync] max_inflate_ratio`).
    #[arg(long)]
    pub(crate) max_inflate_ratio: Option<u64>,
    /// Download plain http:// URLs from hosts other than this machine (default: https only).
    #[arg(long)]
    pub(crate) allow_http: bool,
    /// Ingest even if the extract is byte-identical to the one served.
    #[arg(long)]
    pub(crate) force: bool,
    /// Parse every person again, even those whose lines did not change since their served record (by default they
    /// are counted from the memo of their lines, without being parsed).
    #[arg(long)]
    pub(crate) reparse: bool,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// The arguments of `annuaire serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve the HTTP API on this address (e.g. 127.0.0.1:8080; port 0 takes a free one, see --port-file).
    #[arg(long)]
    pub(crate) listen: Option<String>,
    /// Once listening, write the address bound (`127.0.0.1:PORT`) to this file: with `--listen HOST:0`, how a
    /// supervisor or a test learns the port.
    #[arg(long, requires = "listen")]
    pub(crate) port_file: Option<PathBuf>,
    /// Do not run the scheduled sync (an API-only server).
    #[arg(long)]
    pub(crate) no_sync: bool,
    /// Extract to sync: URL, path or `datagouv[:DATASET_ID]` (default: the official ANS address).
    #[arg(long, default_value = annuaire_ingest::fetch::OFFICIAL_URL)]
    pub(crate) source: String,
    /// data.gouv.fr's API, for `--source datagouv`.
    #[arg(long, env = "ANNUAIRE_DATAGOUV_API", default_value = annuaire_ingest::datagouv::DEFAULT_API)]
    pub(crate) datagouv_api: String,
    /// Another extract read with the main one at each sync (see `sync --with`). Repeatable.
    #[arg(long = "with", value_name = "URL|PATH")]
    pub(crate) with: Vec<String>,
    /// Cron expression with seconds: `sec min hour day month weekday`. Default: every night at 02:00.
    #[arg(long, default_value = "0 0 2 * * *")]
    pub(crate) schedule: String,
    /// Also run the sync at these times (cron, repeatable), e.g. soon after the card holders' extract is
    /// published: each extract is fetched with conditional GET, so only what changed is read again.
    #[arg(long = "also-at", value_name = "CRON")]
    pub(crate) also_at: Vec<String>,
    /// Time zone of the schedule.
    #[arg(long, default_value = "Europe/Paris")]
    pub(crate) timezone: String,
    /// Attempts after a failed nightly run.
    #[arg(long, default_value_t = 3)]
    pub(crate) retry_attempts: u32,
    /// Seconds before the first retry (doubled at each one).
    #[arg(long, default_value_t = 900)]
    pub(crate) retry_backoff: u64,
    /// Also sync once at start-up.
    #[arg(long)]
    pub(crate) run_now: bool,
    /// Extra trusted root certificates (PEM) for the download.
    #[arg(long, env = "ANNUAIRE_CA_FILE")]
    pub(crate) ca_file: Option<PathBuf>,
}

/// The arguments of `annuaire claims`.
#[derive(Debug, clap::Args)]
pub(crate) struct ClaimsArgs {
    /// The identifier.
    pub(crate) id: String,
    /// Claim shape: psc-2021 or psc-2023.
    #[arg(long, default_value = "psc-2023")]
    pub(crate) profile: String,
}

/// The arguments of `annuaire show`.
#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    /// The identifier.
    pub(crate) id: String,
}

/// The arguments of `annuaire eligible`.
#[derive(Debug, clap::Args)]
pub(crate) struct EligibleArgs {
    /// The identifier.
    pub(crate) id: String,
    /// The service's name (`[services.NAME]` in the config file).
    #[arg(long)]
    pub(crate) service: String,
}

/// The arguments of `annuaire usage`.
#[derive(Debug, clap::Args)]
pub(crate) struct UsageArgs {
    /// First day counted (YYYY-MM-DD); default: everything.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// The arguments of `annuaire search`.
#[derive(Debug, clap::Args)]
pub(crate) struct SearchArgs {
    /// Words of the names to look for.
    pub(crate) text: Vec<String>,
    #[command(flatten)]
    pub(crate) filters: Filters,
    /// Hits per page (1 to 1000).
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    /// Hits skipped.
    #[arg(long, default_value_t = 0)]
    pub(crate) offset: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
    pub(crate) format: SearchFormat,
}

/// The arguments of `annuaire stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct StatsArgs {
    /// Group columns, e.g. `profession,authority_kind`.
    #[arg(long, default_value = "profession")]
    pub(crate) by: String,
    #[command(flatten)]
    pub(crate) filters: Filters,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
    pub(crate) format: SearchFormat,
    /// Also draw the groups into FILE.svg or FILE.png: a bar chart (largest first, whole labels, counts), or the tile
    /// map of France with `--by department`.
    #[arg(long, value_name = "FILE")]
    pub(crate) chart: Option<std::path::PathBuf>,
}

/// The arguments of `annuaire export`.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// parquet, csv, or fhir-ndjson.
    #[arg(long, value_enum)]
    pub(crate) format: ExportFormatArg,
    /// The file to write (the folder, for fhir-ndjson).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// fhir-ndjson: only versions written after this instant or date (FHIR `_since`).
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// fhir-ndjson: the resource types, comma-separated (default Practitioner,PractitionerRole,Organization).
    #[arg(long = "type")]
    pub(crate) types: Option<String>,
    #[command(flatten)]
    pub(crate) filters: Filters,
}

/// The arguments of `annuaire quality`.
#[derive(Debug, clap::Args)]
pub(crate) struct QualityArgs {
    /// The generation (default: the newest with a report).
    pub(crate) generation: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// The arguments of `annuaire runs`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// The arguments of `annuaire repack`.
#[derive(Debug, clap::Args)]
pub(crate) struct RepackArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// The arguments of `annuaire approve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApproveArgs {
    /// The held generation (see `annuaire runs`).
    pub(crate) generation: i64,
    /// Leave out these changes: `delete` keeps the removed persons served, `update` keeps old records,
    /// `create` leaves new persons out. Repeat or separate with commas.
    #[arg(long, value_delimiter = ',')]
    pub(crate) exclude: Vec<String>,
}

/// The arguments of `annuaire changes`.
#[derive(Debug, clap::Args)]
pub(crate) struct ChangesArgs {
    /// Generation to start after (0 for everything).
    #[arg(long)]
    pub(crate) since: i64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}
