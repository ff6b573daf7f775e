//! Domain types of `annuaire`: what a health professional *is* in the Annuaire Santé,
//! independent of how it is read, stored or served.
//!
//! This crate owns:
//! - [`id`]: the national identifiers (RPPS, ADELI, FINESS, SIRET, SIREN, idNat) with their check digits;
//! - [`codes`]: the ANS nomenclatures (TRE_*) shipped as data, with labels;
//! - [`authority`]: the registration authority of an exercice (ordre, ARS, local);
//! - [`model`]: the professional record (person → exercices → savoir-faire and activities → structure);
//! - [`clock`]: today, for every crate, settable by tests.
//!
//! **Architecture invariant:** no I/O, no async, no database, no HTTP. Everything here is a pure
//! function of its inputs (but [`clock::today`], which reads the clock), so that the ingest, the store, the claims
//! and the search agree on one model.
#![warn(missing_docs)]

pub mod authority;
pub mod clock;
pub mod codes;
pub mod departments;
pub mod id;
pub mod model;
pub mod text;

pub use authority::{Authority, AuthorityKind, RegistrationField};
pub use id::{IdNat, IdType};
pub use model::{Activity, Card, CivilStatus, Diploma, Exercice, Mailbox, Person, SavoirFaire, Structure};
pub use text::Text;
