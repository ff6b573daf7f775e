//! The stored record of a person: how a [`Person`] is written in `person_version.record` and read back. Every
//! reader of stored records goes through [`decode`].

use crate::{Error, Result};
use annuaire_schemas::Person;

/// A stored record as a [`Person`].
pub fn decode(record: &str) -> Result<Person> {
    serde_json::from_str(record).map_err(|e| Error::Record(e.to_string()))
}
