//! Finding a professional and rendering their record, for the CLI and the API alike: `annuaire show` prints what
//! `GET /v1/professionals/{id}` answers, `annuaire eligible` what `POST /v1/eligibility` answers (the wire types of
//! `crate::api::wire`, keys in byte order).

use crate::api::wire;
use annuaire_claims::Decision;
use annuaire_schemas::Person;
use annuaire_store::Store;

/// A stored record as a [`Person`]: every reader goes through the store's decoding.
pub fn parse(record: &str) -> anyhow::Result<Person> {
    Ok(annuaire_store::record::decode(record)?)
}

/// A professional of `generation` by what a user typed (idNat, bare RPPS, bare ADELI:
/// [`annuaire_schemas::id::candidates`]); the CLI and the API both find persons this way.
pub async fn lookup(store: &Store, id: &str, generation: i64) -> anyhow::Result<Option<Person>> {
    for candidate in annuaire_schemas::id::candidates(id) {
        if let Some(stored) = store.person_at(&candidate, generation).await? {
            return parse(&stored.record).map(Some);
        }
    }
    Ok(None)
}

/// The eligibility answer, as `annuaire eligible` prints it and `POST /v1/eligibility` returns it.
pub fn eligibility_body(d: &Decision, generation: i64, person: &Person, service: &str) -> serde_json::Value {
    wire::sorted(&wire::EligibilityResponse::new(d, generation, person, service))
}

/// The native record of `person` as served in `generation` ([`wire::Professional`]), judged today (Paris time),
/// with the store's history of the person.
pub async fn native(store: &Store, person: &Person, generation: i64) -> anyhow::Result<serde_json::Value> {
    let history = store.history_of(person.idnat.as_str()).await?;
    let day = annuaire_schemas::clock::today();
    Ok(wire::sorted(&wire::Professional::new(person, generation, &history, &day)))
}
