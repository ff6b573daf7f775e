//! The native record of a professional, as `annuaire show` prints it and `GET /v1/professionals/{id}` answers:
//! the stored record (identifiers, exercices with every savoir-faire, activities and structures, diplomas, cards,
//! mailboxes) with what is derived from it and from the store's history.

use annuaire_claims::Decision;
use annuaire_schemas::Person;
use annuaire_store::{ChangeKind, HistoryRow, Store};

/// A stored record (the store's JSON) as a [`Person`]: every reader goes through here.
pub fn parse(record: &str) -> anyhow::Result<Person> {
    use anyhow::Context;
    serde_json::from_str(record).context("a stored record cannot be read")
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
    serde_json::json!({
        "eligible": d.eligible, "reasons": d.reasons, "exercice": d.exercice, "generation": generation,
        "subject": person.idnat.as_str(), "service": service,
    })
}

/// The record of `person` as served in `generation`, with:
/// - `generation`: the generation it is read from;
/// - `valid_cards`: numbers of the cards valid today (Paris time), and `has_valid_card`;
/// - `has_mailbox`: at least one MSSanté mailbox;
/// - `activated_at` / `deactivated_at`: promotion times of the generations that last created and deleted the
///   person (`null` when unknown), and `history`, every change in order.
pub async fn native(store: &Store, person: &Person, generation: i64) -> anyhow::Result<serde_json::Value> {
    let history = store.history_of(person.idnat.as_str()).await?;
    Ok(render(person, generation, &history, &annuaire_claims::eligibility::today()))
}

/// [`native`] without the store: the pieces given.
pub fn render(person: &Person, generation: i64, history: &[HistoryRow], day: &str) -> serde_json::Value {
    let mut v = serde_json::to_value(person).unwrap_or_default();
    let valid: Vec<&str> = person.valid_cards(day).map(|c| c.number.as_str()).collect();
    let last = |kind: ChangeKind| history.iter().rev().find(|h| h.change == kind).map(|h| h.promoted_at.clone());
    if let Some(o) = v.as_object_mut() {
        o.insert("generation".into(), generation.into());
        o.insert("has_valid_card".into(), (!valid.is_empty()).into());
        o.insert("valid_cards".into(), valid.into());
        o.insert("has_mailbox".into(), (!person.mailboxes.is_empty()).into());
        o.insert("activated_at".into(), last(ChangeKind::Create).into());
        o.insert("deactivated_at".into(), last(ChangeKind::Delete).into());
        o.insert("history".into(), serde_json::to_value(history).unwrap_or_default());
    }
    v
}
