//! History, which the national API loses: `GET /fhir/{type}/{id}/_history` (one version per generation that changed
//! the person, the one that removed them included, newest first, as FHIR asks) and `GET /fhir/{type}/_history?
//! _since=…` (what promoted generations changed after an instant, in the order they were applied, so that a client
//! can replay them; removals are entries whose `request.method` is `DELETE`, a role removed from a person who stays
//! included). Read from the store's change log and
//! versions, which every promoted generation keeps.

use super::params::ResourceType;
use super::query::Cursor;
use super::{FhirError, Promotions, links};
use annuaire_claims::fhir as res;
use annuaire_store::{ChangeKind, Store};
use serde_json::{Value, json};

/// Largest page of a type's history.
pub const MAX_HISTORY_COUNT: i64 = 1000;

fn entry(base: &str, t: &str, id: &str, change: ChangeKind, resource: Option<Value>, at: &str, g: i64) -> Value {
    let (method, url, status) = match change {
        ChangeKind::Create => ("POST", t.to_string(), "201 Created"),
        ChangeKind::Update => ("PUT", format!("{t}/{id}"), "200 OK"),
        ChangeKind::Delete => ("DELETE", format!("{t}/{id}"), "204 No Content"),
    };
    let mut e = json!({
        "fullUrl": format!("{base}/{t}/{id}"),
        "request": {"method": method, "url": url},
        "response": {"status": status, "etag": format!("W/\"{g}\""), "lastModified": at},
    });
    if let Some(r) = resource {
        e["resource"] = r;
    }
    e
}

/// The resources of type `t` a version of a person gives, by id (a Practitioner, or its roles).
fn resources_of(t: ResourceType, p: &annuaire_schemas::Person, meta: &res::Meta) -> Vec<(String, Value)> {
    let all = match t {
        ResourceType::Practitioner => vec![res::practitioner(p, meta)],
        _ => res::practitioner_roles(p, meta),
    };
    all.into_iter().map(|r| (r["id"].as_str().unwrap_or("").to_string(), r)).collect()
}

/// `GET /fhir/{t}/{id}/_history` as a reader of generation `g` sees it.
pub async fn instance(
    store: &Store,
    promotions: &Promotions,
    base: &str,
    t: ResourceType,
    id: &str,
    g: i64,
) -> Result<Value, FhirError> {
    if t == ResourceType::Organization {
        return Err(FhirError::NotSupported("the history of an Organization is not served".into()));
    }
    let person_id = match t {
        ResourceType::PractitionerRole => id.split_once('-').map_or(id, |(p, _)| p),
        _ => id,
    };
    let mut idnat = None;
    for c in annuaire_schemas::id::candidates(person_id) {
        if store.version_at(&c, g).await?.is_some() {
            idnat = Some(c);
            break;
        }
    }
    let idnat = idnat.ok_or_else(|| FhirError::NotFound(format!("no {} {id}", t.name())))?;
    let resource_id = if t == ResourceType::Practitioner { idnat.clone() } else { id.to_string() };
    let mut entries = Vec::new();
    let mut present = false;
    for row in store.history_of(&idnat).await?.into_iter().filter(|r| r.generation <= g) {
        let found = match row.change {
            ChangeKind::Delete => None,
            _ => match store.person_at(&idnat, row.generation).await? {
                Some(v) => {
                    let p = crate::record::parse(&v.record)?;
                    let meta = promotions.meta(row.generation, None);
                    resources_of(t, &p, &meta).into_iter().find(|(rid, _)| *rid == resource_id).map(|(_, r)| r)
                }
                None => None,
            },
        };
        match (found, present) {
            (Some(r), was) => {
                let change = if was { ChangeKind::Update } else { ChangeKind::Create };
                entries.push(entry(base, t.name(), &resource_id, change, Some(r), &row.promoted_at, row.generation));
                present = true;
            }
            (None, true) => {
                entries.push(entry(
                    base,
                    t.name(),
                    &resource_id,
                    ChangeKind::Delete,
                    None,
                    &row.promoted_at,
                    row.generation,
                ));
                present = false;
            }
            (None, false) => {}
        }
    }
    if entries.is_empty() {
        return Err(FhirError::NotFound(format!("no {} {id}", t.name())));
    }
    entries.reverse();
    Ok(json!({"resourceType": "Bundle", "type": "history", "total": entries.len(), "entry": entries}))
}

/// `GET /fhir/{t}/{id}/_history/{vid}` (vread) as a reader of generation `g` sees it: the version its instance
/// history lists with that `versionId` (the generation that wrote it). A version that is a removal is a 410; a
/// version the history does not list, a 404.
#[allow(clippy::too_many_arguments)]
pub async fn version(
    store: &Store,
    promotions: &Promotions,
    base: &str,
    t: ResourceType,
    id: &str,
    vid: &str,
    g: i64,
) -> Result<Value, FhirError> {
    let missing = || FhirError::NotFound(format!("no version {vid:?} of {} {id}", t.name()));
    let wanted: i64 = vid.parse().ok().filter(|v| *v > 0).ok_or_else(missing)?;
    let history = instance(store, promotions, base, t, id, g).await?;
    let etag = format!("W/\"{wanted}\"");
    let entry = history["entry"].as_array().and_then(|es| es.iter().find(|e| e["response"]["etag"] == etag.as_str()));
    match entry {
        Some(e) if e["request"]["method"] == "DELETE" => {
            Err(FhirError::Gone(format!("{} {id} was removed in version {wanted}", t.name())))
        }
        Some(e) => Ok(e["resource"].clone()),
        None => Err(missing()),
    }
}

/// `GET /fhir/{t}/_history?_since=…&_count=…`: the changes of promoted generations after `_since` up to `g`, in the
/// order they were applied, one page from the cursor on.
#[allow(clippy::too_many_arguments)]
pub async fn since(
    store: &Store,
    promotions: &Promotions,
    base: &str,
    t: ResourceType,
    since: &str,
    count: i64,
    cursor: Option<Cursor>,
    g: i64,
) -> Result<Value, FhirError> {
    if t == ResourceType::Organization {
        return Err(FhirError::NotSupported("the history of Organizations is not served".into()));
    }
    let (g, offset) = match &cursor {
        Some(c) => (
            c.generation,
            c.after.parse::<i64>().map_err(|_| FhirError::Invalid("_cursor: not a history cursor".into()))?,
        ),
        None => (g, 0),
    };
    let from = promotions.before(since)?;
    let (rows, _) = store.changes_page(from, count + 1, offset).await?;
    let rows: Vec<_> = rows.into_iter().filter(|r| r.generation <= g).collect();
    let more = rows.len() as i64 > count;
    let mut entries = Vec::new();
    for row in rows.iter().take(usize::try_from(count).unwrap_or(0)) {
        let at = promotions.at(row.generation);
        match row.change {
            ChangeKind::Delete => {
                // What the person was before they were removed: a Practitioner, or each of their roles.
                let before = store.person_at(&row.id, row.generation - 1).await?;
                let ids = match (t, before) {
                    (ResourceType::Practitioner, _) => vec![row.id.clone()],
                    (_, Some(v)) => res::role_ids(&crate::record::parse(&v.record)?),
                    (_, None) => Vec::new(),
                };
                for id in ids {
                    entries.push(entry(base, t.name(), &id, ChangeKind::Delete, None, at, row.generation));
                }
            }
            change => {
                // A role of an updated person is created, updated or removed with the work site it names.
                let before: Vec<String> = match (t, change) {
                    (ResourceType::PractitionerRole, ChangeKind::Update) => {
                        match store.person_at(&row.id, row.generation - 1).await? {
                            Some(v) => res::role_ids(&crate::record::parse(&v.record)?),
                            None => Vec::new(),
                        }
                    }
                    _ => Vec::new(),
                };
                if let Some(v) = store.person_at(&row.id, row.generation).await? {
                    let p = crate::record::parse(&v.record)?;
                    let now = resources_of(t, &p, &promotions.meta(row.generation, None));
                    for (id, r) in &now {
                        let kind = if t == ResourceType::PractitionerRole && !before.contains(id) {
                            ChangeKind::Create
                        } else {
                            change
                        };
                        entries.push(entry(base, t.name(), id, kind, Some(r.clone()), at, row.generation));
                    }
                    for id in before.iter().filter(|id| !now.iter().any(|(n, _)| n == *id)) {
                        entries.push(entry(base, t.name(), id, ChangeKind::Delete, None, at, row.generation));
                    }
                }
            }
        }
    }
    let next = more.then(|| Cursor { generation: g, after: (offset + count).to_string(), role: 0 }.token());
    let pairs = vec![("_since".to_string(), since.to_string()), ("_count".to_string(), count.to_string())];
    Ok(json!({
        "resourceType": "Bundle",
        "type": "history",
        "link": links(base, &format!("{}/_history", t.name()), &pairs, next),
        "entry": entries,
    }))
}
