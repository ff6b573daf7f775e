//! Bulk export (FHIR Bulk Data's `$export`, and `annuaire export --format fhir-ndjson`): one ndjson file per
//! resource type of one generation, optionally only what changed since an instant (`_since`) and one territory or
//! profession (`_typeFilter`). Records are read from the store a page at a time and turned into resources off the
//! async threads, so a national export streams in bounded memory (a few pages, the open files' buffers, and the set
//! of Organization ids already written). Reading, rendering and writing run at once, a page apart ([`write()`]).

use super::params::ResourceType;
use super::query::MAX_VALUES;
use super::roles;
use super::{FhirError, Promotions};
use annuaire_claims::fhir as res;
use annuaire_schemas::Person;
use annuaire_search::fhir::{Clause, Param};
use annuaire_store::Store;
use serde::Serialize;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Records read per page.
const PAGE: i64 = 2000;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The types (default: all three).
    pub types: Vec<ResourceType>,
    /// Only persons whose version was written after this instant.
    pub since: Option<String>,
    /// Filters every person must pass (from `_typeFilter`, or the CLI's `--department` and `--profession`).
    pub filters: Vec<Clause>,
}

/// The parameters `_typeFilter` accepts (and the CLI's filters become).
pub const TYPE_FILTER_PARAMS: &[(&str, Param)] = &[
    ("department", Param::Department),
    ("qualification-code", Param::Qualification),
    ("address-postalcode", Param::PostalCode),
    ("data-registration-authority", Param::Authority),
    ("organization", Param::Organization),
];

impl ExportRequest {
    /// From `$export`'s `_type`, `_since` and `_typeFilter` (`Practitioner?department=75&qualification-code=10`:
    /// the filters of every `_typeFilter` apply to the persons whatever the type).
    pub fn parse(
        types: Option<&str>,
        since: Option<&str>,
        type_filters: &[String],
    ) -> Result<ExportRequest, FhirError> {
        let types = match types {
            None => ResourceType::ALL.to_vec(),
            Some(list) => list
                .split(',')
                .map(|t| {
                    ResourceType::parse(t.trim())
                        .ok_or_else(|| FhirError::NotSupported(format!("_type: {t:?} is not exported")))
                })
                .collect::<Result<_, _>>()?,
        };
        let mut filters = Vec::new();
        for tf in type_filters {
            let (t, query) = tf
                .split_once('?')
                .ok_or_else(|| FhirError::Invalid(format!("_typeFilter: {tf:?} is not Type?query")))?;
            if ResourceType::parse(t).is_none() {
                return Err(FhirError::NotSupported(format!("_typeFilter: {t:?} is not exported")));
            }
            for pair in query.split('&') {
                let (k, v) =
                    pair.split_once('=').ok_or_else(|| FhirError::Invalid(format!("_typeFilter: {pair:?}")))?;
                filters.push(filter(k, v)?);
            }
        }
        if let Some(s) = since {
            super::instant_range(s)?;
        }
        Ok(ExportRequest { types, since: since.map(str::to_string), filters })
    }
}

/// One `_typeFilter` (or CLI) filter.
pub fn filter(name: &str, value: &str) -> Result<Clause, FhirError> {
    let param = TYPE_FILTER_PARAMS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p).ok_or_else(|| {
        let served: Vec<&str> = TYPE_FILTER_PARAMS.iter().map(|(n, _)| *n).collect();
        FhirError::NotSupported(format!("_typeFilter: {name:?} is not served (served: {})", served.join(", ")))
    })?;
    let values: Vec<String> = value.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
    if values.is_empty() || values.len() > MAX_VALUES {
        return Err(FhirError::Invalid(format!("_typeFilter: {name} needs 1 to {MAX_VALUES} values")));
    }
    Ok(Clause { param, values })
}

fn person_matches(p: &Person, filters: &[Clause]) -> bool {
    filters.iter().all(|c| match c.param {
        Param::Qualification => c.values.iter().any(|v| {
            p.exercices.iter().any(|e| {
                e.profession.code == *v || e.category.code == *v || e.savoir_faire.iter().any(|s| s.code.code == *v)
            })
        }),
        _ => roles::of(p).iter().any(|r| roles::matches(r, &[c])),
    })
}

/// One file of the export, as the Bulk Data manifest lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// The resource type.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// The file name in the export folder.
    pub file: String,
    /// Resources in it.
    pub count: u64,
    /// Its size.
    pub bytes: u64,
}

struct Files {
    out: Vec<(ResourceType, std::io::BufWriter<std::fs::File>, Output)>,
    seen_organizations: HashSet<String>,
}

impl Files {
    fn write(&mut self, t: ResourceType, resource: &serde_json::Value) -> std::io::Result<()> {
        let line = serde_json::to_vec(resource)?;
        self.line(t, &line)
    }

    fn wants(&self, t: ResourceType) -> bool {
        self.out.iter().any(|(ft, _, _)| *ft == t)
    }

    fn line(&mut self, t: ResourceType, line: &[u8]) -> std::io::Result<()> {
        for (ft, w, o) in &mut self.out {
            if *ft == t {
                w.write_all(line)?;
                w.write_all(b"\n")?;
                o.count += 1;
                o.bytes += line.len() as u64 + 1;
            }
        }
        Ok(())
    }

    fn rendered(&mut self, r: Rendered) -> Result<(), FhirError> {
        if let Some(p) = &r.practitioner {
            self.line(P, p)?;
        }
        for role in &r.roles {
            self.line(R, role)?;
        }
        if let Some(p) = &r.person {
            for a in roles::of(p) {
                if let Some(id) = a.activity.structure.fhir_id()
                    && self.seen_organizations.insert(id)
                    && let Some(o) = res::organization(a.activity, &r.meta)
                {
                    self.write(O, &o)?;
                }
            }
        }
        Ok(())
    }
}

/// One person's lines, rendered off the writer.
struct Rendered {
    /// The record, when Organizations are exported (they are deduplicated by the writer).
    person: Option<Person>,
    /// The person's version.
    meta: res::Meta,
    practitioner: Option<Vec<u8>>,
    roles: Vec<Vec<u8>>,
}

use ResourceType::{Organization as O, Practitioner as P, PractitionerRole as R};

/// Rendered pages waiting for the writer: with the page being rendered and the one being written, at most four pages
/// of resources are in memory (about 8 MB each at national size).
const PAGES_AHEAD: usize = 2;

/// Write the export of generation `g` into `dir` (created; files `<Type>.ndjson`, private), calling `progress` with
/// the persons read so far. Returns the files, in the order of the request's types.
///
/// Three stages run at once, a page apart: the store reads the next page, the rayon pool renders the current one, and
/// a thread of its own writes the one before (in idNat order; Organizations, deduplicated, as it writes). One after
/// the other they left a core idle most of the time: the writing alone (the kernel copying 6.6 GB into the page
/// cache at national size) was a fifth of the samples, on one thread.
pub async fn write(
    store: &Store,
    promotions: &Promotions,
    g: i64,
    req: &ExportRequest,
    dir: &Path,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<Vec<Output>, FhirError> {
    std::fs::create_dir_all(dir)?;
    let since_generation = match &req.since {
        Some(s) => Some(promotions.before(s)?),
        None => None,
    };
    let mut out = Vec::new();
    for t in &req.types {
        let file = format!("{}.ndjson", t.name());
        let path: PathBuf = dir.join(&file);
        let f = private_file(&path)?;
        let o = Output { resource_type: t.name().to_string(), file, count: 0, bytes: 0 };
        out.push((*t, std::io::BufWriter::with_capacity(1 << 20, f), o));
    }
    let files = Files { out, seen_organizations: HashSet::new() };
    let wants = (files.wants(P), files.wants(R), files.wants(O));
    let (pages, written) = std::sync::mpsc::sync_channel::<Vec<Rendered>>(PAGES_AHEAD);
    let writer = tokio::task::spawn_blocking(move || -> Result<Files, FhirError> {
        let mut files = files;
        for page in written {
            for r in page {
                files.rendered(r)?;
            }
        }
        Ok(files)
    });
    let read_all = async {
        let mut read = 0u64;
        let mut page = store.versions_page_at(g, "", PAGE).await?;
        while let Some(last) = page.last() {
            let after = last.0.clone();
            read += page.len() as u64;
            let metas: Vec<res::Meta> = page.iter().map(|(_, _, since)| promotions.meta(*since, None)).collect();
            let (filters, pages) = (req.filters.clone(), pages.clone());
            let render = tokio::task::spawn_blocking(move || -> Result<bool, FhirError> {
                let rendered = render_page(&page, &metas, since_generation, &filters, wants)?;
                // Waits while the writer is `PAGES_AHEAD` pages behind; `false` when it has stopped (its error is
                // the one to report).
                Ok(pages.send(rendered).is_ok())
            });
            let (rendered, next) = tokio::join!(render, store.versions_page_at(g, &after, PAGE));
            if !rendered.map_err(|e| FhirError::Internal(e.into()))?? {
                break;
            }
            page = next?;
            progress(read);
        }
        Ok::<_, FhirError>(())
    };
    let read = read_all.await;
    drop(pages);
    let files = writer.await.map_err(|e| FhirError::Internal(e.into()))?;
    read?;
    let mut outputs = Vec::new();
    for (_, mut w, o) in files?.out {
        w.flush()?;
        outputs.push(o);
    }
    Ok(outputs)
}

/// Parse, filter and render one page of records in parallel, in the page's order.
fn render_page(
    page: &[(String, String, i64)],
    metas: &[res::Meta],
    since_generation: Option<i64>,
    filters: &[Clause],
    (wp, wr, wo): (bool, bool, bool),
) -> Result<Vec<Rendered>, FhirError> {
    use rayon::prelude::*;
    let rendered: Vec<Option<Rendered>> = page
        .par_iter()
        .zip(metas.par_iter())
        .map(|((_, record, since), meta)| -> Result<Option<Rendered>, FhirError> {
            if since_generation.is_some_and(|s| *since <= s) {
                return Ok(None);
            }
            let p = crate::record::parse(record)?;
            if !person_matches(&p, filters) {
                return Ok(None);
            }
            let practitioner = if wp { Some(serde_json::to_vec(&res::practitioner(&p, meta))?) } else { None };
            let roles = if wr {
                res::practitioner_roles(&p, meta).iter().map(serde_json::to_vec).collect::<Result<_, _>>()?
            } else {
                Vec::new()
            };
            Ok(Some(Rendered { person: wo.then_some(p), meta: meta.clone(), practitioner, roles }))
        })
        .collect::<Result<_, _>>()?;
    Ok(rendered.into_iter().flatten().collect())
}

/// A new file readable by its owner only (exports hold MSSanté addresses and card numbers).
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}
