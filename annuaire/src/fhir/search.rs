//! Running a FHIR search on one generation: the index finds the persons (in idNat order after the cursor), the
//! store gives their records, `annuaire_claims::fhir` their resources; a PractitionerRole or Organization search
//! then keeps the activities that match the per-role filters themselves.

use super::params::ResourceType;
use super::query::{Cursor, Search};
use super::{FhirError, Found, Promotions, find, links, roles};
use annuaire_claims::fhir as res;
use annuaire_search::fhir::{FhirIndex, FhirPage, FhirQuery};
use annuaire_store::Store;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Most persons an Organization search reads (their structures are gathered from their records): past it, the
/// search is refused as `too-costly` and a narrower filter is asked for.
pub const MAX_ORGANIZATION_PERSONS: u64 = 5_000;
/// A PractitionerRole search with per-role filters counts its total exactly up to this many persons (it reads
/// them); past it, `total` is left out, as FHIR allows.
pub const MAX_ROLE_TOTAL_PERSONS: u64 = 200;
/// Batches of persons a PractitionerRole page reads before it returns what it has (a short page, with `next`).
const MAX_ROLE_BATCHES: usize = 20;

/// What a search reads: one generation's index and the store.
pub struct Ctx<'a> {
    /// The store.
    pub store: &'a Store,
    /// The index of `generation`.
    pub index: Arc<FhirIndex>,
    /// The generation read.
    pub generation: i64,
    /// Promotion instants.
    pub promotions: &'a Promotions,
    /// The FHIR base URL of `fullUrl` and links (`fhir`, or an absolute one).
    pub base: &'a str,
}

impl Ctx<'_> {
    async fn page(&self, q: FhirQuery) -> Result<FhirPage, FhirError> {
        let index = self.index.clone();
        Ok(tokio::task::spawn_blocking(move || index.fhir_search(&q)).await??)
    }

    async fn person(&self, idnat: &str) -> Result<Found, FhirError> {
        find(self.store, self.promotions, idnat, self.generation).await?.ok_or_else(|| {
            FhirError::Internal(anyhow::anyhow!("{idnat} is in the index of {} but not in the store", self.generation))
        })
    }

    /// The persons of a page, in its order, in one read of the store (a FHIR page is up to 1,000 persons).
    async fn persons(&self, idnats: &[String]) -> Result<Vec<Found>, FhirError> {
        let mut by_id: std::collections::HashMap<String, annuaire_store::Version> =
            self.store.versions_at(idnats, self.generation).await?.into_iter().collect();
        let records: Vec<(String, annuaire_store::Version)> = idnats
            .iter()
            .map(|id| {
                by_id.remove(id).map(|v| (id.clone(), v)).ok_or_else(|| {
                    FhirError::Internal(anyhow::anyhow!(
                        "{id} is in the index of {} but not in the store",
                        self.generation
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let promotions = self.promotions.clone();
        // Parsing the records is the page's CPU work: off the async threads, in parallel.
        Ok(tokio::task::spawn_blocking(move || {
            use rayon::prelude::*;
            records
                .into_par_iter()
                .map(|(_, v)| {
                    let person = crate::record::parse(&v.record)?;
                    Ok(Found { person, meta: promotions.meta(v.since_generation, v.deleted_by) })
                })
                .collect::<anyhow::Result<Vec<Found>>>()
        })
        .await??)
    }

    fn bundle(&self, s: &Search, total: Option<u64>, entries: Vec<Value>, next: Option<Cursor>) -> Value {
        let mut b = json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "meta": {"tag": [{"system": "https://annuaire.sante.fr/generation", "code": self.generation.to_string()}]},
            "link": links(self.base, s.t.name(), &s.pairs, next.map(|c| c.token())),
            "entry": entries,
        });
        if let Some(t) = total {
            b["total"] = json!(t);
        }
        b
    }
}

/// Run a search and return its `searchset` Bundle.
pub async fn run(ctx: &Ctx<'_>, s: &Search) -> Result<Value, FhirError> {
    match s.t {
        ResourceType::Practitioner if s.active == Some(false) => removed(ctx, s).await,
        ResourceType::Practitioner => practitioners(ctx, s).await,
        ResourceType::PractitionerRole => practitioner_roles(ctx, s).await,
        ResourceType::Organization => organizations(ctx, s).await,
    }
}

fn after(s: &Search) -> Option<String> {
    s.cursor.as_ref().map(|c| c.after.clone())
}

async fn practitioners(ctx: &Ctx<'_>, s: &Search) -> Result<Value, FhirError> {
    let page = ctx.page(FhirQuery { after: after(s), count: s.count + 1, ..s.index_query() }).await?;
    let more = page.hits.len() > s.count;
    let mut entries = Vec::new();
    let mut last = None;
    let ids: Vec<String> = page.hits.iter().take(s.count).map(|h| h.idnat.clone()).collect();
    for (hit, f) in page.hits.iter().zip(ctx.persons(&ids).await?) {
        entries.push(res::entry(ctx.base, res::practitioner(&f.person, &f.meta), "match"));
        if !s.revinclude.is_empty() {
            for r in res::practitioner_roles(&f.person, &f.meta) {
                entries.push(res::entry(ctx.base, r, "include"));
            }
        }
        last = Some(hit.idnat.clone());
    }
    let next = last.filter(|_| more).map(|after| Cursor { generation: ctx.generation, after, role: 0 });
    Ok(ctx.bundle(s, Some(page.total), entries, next))
}

async fn removed(ctx: &Ctx<'_>, s: &Search) -> Result<Value, FhirError> {
    let cursor = after(s).unwrap_or_default();
    let (ids, total) =
        ctx.store.removed_page(ctx.generation, s.versions, &cursor, i64::try_from(s.count + 1).unwrap_or(1001)).await?;
    let more = ids.len() > s.count;
    let mut entries = Vec::new();
    let page: Vec<String> = ids.iter().take(s.count).cloned().collect();
    for f in ctx.persons(&page).await? {
        entries.push(res::entry(ctx.base, res::practitioner(&f.person, &f.meta), "match"));
    }
    let next = ids.get(s.count.wrapping_sub(1)).filter(|_| more).map(|after| Cursor {
        generation: ctx.generation,
        after: after.clone(),
        role: 0,
    });
    Ok(ctx.bundle(s, Some(u64::try_from(total).unwrap_or(0)), entries, next))
}

async fn practitioner_roles(ctx: &Ctx<'_>, s: &Search) -> Result<Value, FhirError> {
    let filters = s.per_role_filters();
    let mut matched: Vec<(Found, usize)> = Vec::new();
    let mut next = None;
    let mut total = None;
    let (mut after_id, mut after_role) = match &s.cursor {
        Some(c) => (Some(c.after.clone()), c.role),
        None => (None, 0),
    };
    // The cursor's person first: their roles after the one already given.
    if after_role > 0
        && let Some(id) = after_id.clone()
    {
        let f = ctx.person(&id).await?;
        take_roles(&f, after_role, &filters, s.count, &mut matched, &mut next, ctx.generation);
        after_role = 0;
    }
    let batch = s.count.clamp(50, 1000);
    let mut exhausted = false;
    for _ in 0..MAX_ROLE_BATCHES {
        let page = ctx.page(FhirQuery { after: after_id.clone(), count: batch, ..s.index_query() }).await?;
        if total.is_none() {
            total = Some(if filters.is_empty() {
                Some(page.roles)
            } else if page.total <= MAX_ROLE_TOTAL_PERSONS {
                Some(count_roles(ctx, s, &filters).await?)
            } else {
                None
            });
        }
        if next.is_some() || s.count == 0 {
            exhausted = true;
            break;
        }
        let ids: Vec<String> = page.hits.iter().map(|h| h.idnat.clone()).collect();
        for (hit, f) in page.hits.iter().zip(ctx.persons(&ids).await?) {
            take_roles(&f, 0, &filters, s.count, &mut matched, &mut next, ctx.generation);
            if next.is_some() {
                break;
            }
            after_id = Some(hit.idnat.clone());
        }
        if next.is_some() || page.hits.len() < batch {
            exhausted = true;
            break;
        }
    }
    debug_assert_eq!(after_role, 0);
    if !exhausted && let Some(id) = &after_id {
        // A short page after the batches (selective role filters): go on from the last person read.
        next = Some(Cursor { generation: ctx.generation, after: id.clone(), role: 0 });
    }
    let mut entries = Vec::new();
    let mut practitioners = BTreeMap::new();
    let mut organizations = BTreeMap::new();
    for (f, n) in &matched {
        let role = res::practitioner_roles(&f.person, &f.meta).into_iter().nth(n - 1).unwrap_or(Value::Null);
        entries.push(res::entry(ctx.base, role, "match"));
        if s.include.iter().any(|i| i == "PractitionerRole:practitioner") {
            practitioners
                .entry(f.person.idnat.as_str().to_string())
                .or_insert_with(|| res::practitioner(&f.person, &f.meta));
        }
        if s.include.iter().any(|i| i == "PractitionerRole:organization")
            && let Some(r) = roles::of(&f.person).into_iter().nth(n - 1)
            && let Some(o) = res::organization(r.activity, &f.meta)
        {
            organizations.entry(o["id"].as_str().unwrap_or("").to_string()).or_insert(o);
        }
    }
    entries.extend(
        practitioners.into_values().chain(organizations.into_values()).map(|r| res::entry(ctx.base, r, "include")),
    );
    Ok(ctx.bundle(s, total.flatten(), entries, next))
}

/// Add a person's roles after `from` that match, up to `count` in all; when the page fills before their last
/// role, the cursor points after the last one given.
fn take_roles(
    f: &Found,
    from: usize,
    filters: &[&annuaire_search::fhir::Clause],
    count: usize,
    matched: &mut Vec<(Found, usize)>,
    next: &mut Option<Cursor>,
    generation: i64,
) {
    for r in roles::of(&f.person).into_iter().filter(|r| r.n > from) {
        if !roles::matches(&r, filters) {
            continue;
        }
        if matched.len() == count {
            *next = matched.last().map(|(p, n)| Cursor {
                generation,
                after: p.person.idnat.as_str().to_string(),
                role: *n,
            });
            return;
        }
        matched.push((Found { person: f.person.clone(), meta: f.meta.clone() }, r.n));
    }
}

async fn count_roles(ctx: &Ctx<'_>, s: &Search, filters: &[&annuaire_search::fhir::Clause]) -> Result<u64, FhirError> {
    let page = ctx
        .page(FhirQuery { count: usize::try_from(MAX_ROLE_TOTAL_PERSONS).unwrap_or(200), ..s.index_query() })
        .await?;
    let mut n = 0;
    let ids: Vec<String> = page.hits.iter().map(|h| h.idnat.clone()).collect();
    for f in ctx.persons(&ids).await? {
        n += roles::of(&f.person).iter().filter(|r| roles::matches(r, filters)).count() as u64;
    }
    Ok(n)
}

async fn organizations(ctx: &Ctx<'_>, s: &Search) -> Result<Value, FhirError> {
    let count = usize::try_from(MAX_ORGANIZATION_PERSONS).unwrap_or(5000);
    let page = ctx.page(FhirQuery { count, ..s.index_query() }).await?;
    if page.total > MAX_ORGANIZATION_PERSONS {
        return Err(FhirError::TooCostly(format!(
            "this Organization search matches the structures of {} professionals: narrow it (identifier, name, \
             address-postalcode, address-city, department) to at most {MAX_ORGANIZATION_PERSONS}",
            page.total
        )));
    }
    let filters = s.per_role_filters();
    let mut orgs: BTreeMap<String, Value> = BTreeMap::new();
    let mut members: BTreeMap<String, BTreeSet<(String, usize)>> = BTreeMap::new();
    let mut persons = BTreeMap::new();
    let ids: Vec<String> = page.hits.iter().map(|h| h.idnat.clone()).collect();
    for (hit, f) in page.hits.iter().zip(ctx.persons(&ids).await?) {
        for r in roles::of(&f.person) {
            let Some(id) = r.activity.structure.fhir_id() else { continue };
            if !roles::matches(&r, &filters) {
                continue;
            }
            if !orgs.contains_key(&id)
                && let Some(o) = res::organization(r.activity, &f.meta)
            {
                orgs.insert(id.clone(), o);
            }
            members.entry(id).or_default().insert((hit.idnat.clone(), r.n));
        }
        persons.insert(hit.idnat.clone(), f);
    }
    let total = orgs.len() as u64;
    let start = after(s);
    let mut selected: Vec<(String, Value)> =
        orgs.into_iter().filter(|(id, _)| start.as_ref().is_none_or(|a| id > a)).take(s.count + 1).collect();
    let more = selected.len() > s.count;
    selected.truncate(s.count);
    let next = selected.last().filter(|_| more).map(|(id, _)| Cursor {
        generation: ctx.generation,
        after: id.clone(),
        role: 0,
    });
    let mut entries = Vec::new();
    let mut included = Vec::new();
    for (id, o) in selected {
        entries.push(res::entry(ctx.base, o, "match"));
        if !s.revinclude.is_empty() {
            for (idnat, n) in members.get(&id).into_iter().flatten() {
                if let Some(f) = persons.get(idnat)
                    && let Some(role) = res::practitioner_roles(&f.person, &f.meta).into_iter().nth(n - 1)
                {
                    included.push(res::entry(ctx.base, role, "include"));
                }
            }
        }
    }
    entries.extend(included);
    Ok(ctx.bundle(s, Some(total), entries, next))
}
